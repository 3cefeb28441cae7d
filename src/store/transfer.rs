//! A whole directory in and out: reading every member and group for an export, and applying
//! an import in one transaction (or a dry run of it that is rolled back).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde::Serialize;
use serde_json::{Map, Value};

use super::groups::{apply_change, insert_group, load_group};
use super::users::{find_user_by_user_name, insert_user, save_changed_user};
use super::{Actor, Origin, Store, StoreError};
use crate::directory::{GroupChange, MemberEdit, MemberRef, StoredGroup, StoredUser};
use crate::scim::list::ListQuery;

/// Users read per page while exporting.
const EXPORT_PAGE: u64 = 1000;

/// Everything an export holds.
#[derive(Debug)]
pub struct DirectoryExport {
    pub members: Vec<StoredUser>,
    pub groups: Vec<ExportedGroup>,
}

/// A group as exported: its attributes and its members' userNames (ids do not travel between
/// organizations or installations; userNames are unique within one).
#[derive(Debug)]
pub struct ExportedGroup {
    pub attrs: Map<String, Value>,
    pub member_user_names: Vec<String>,
}

/// A group to import: canonical attributes (`displayName`, `externalId`) and the userNames of
/// its members.
#[derive(Debug, Clone)]
pub struct ImportGroup {
    pub attrs: Map<String, Value>,
    pub member_user_names: Vec<String>,
}

/// What an import changed (or, in a dry run, would change).
#[derive(Debug, Default, Serialize)]
pub struct ImportReport {
    pub dry_run: bool,
    pub members_created: u64,
    pub members_updated: u64,
    pub members_unchanged: u64,
    pub groups_created: u64,
    pub groups_updated: u64,
    pub groups_unchanged: u64,
    /// userNames that groups refer to but that are neither in the file nor in the organization.
    pub unknown_members: Vec<String>,
}

impl Store {
    /// Every member and group of the organization, members by userName.
    pub fn export_directory(&self, org_id: &str) -> Result<DirectoryExport, StoreError> {
        self.get_org(org_id)?;
        let mut members = Vec::new();
        loop {
            let query = ListQuery {
                sort_by: Some("userName".into()),
                start_index: members.len() as u64 + 1,
                count: EXPORT_PAGE,
                ..ListQuery::default()
            };
            let page = self.list_users(org_id, &query)?;
            let done = (page.items.len() as u64) < EXPORT_PAGE;
            members.extend(page.items);
            if done {
                break;
            }
        }
        let groups = self.read(|c| exported_groups(c, org_id))?;
        Ok(DirectoryExport { members, groups })
    }

    /// Applies `members` (canonical user documents) and `groups` in one transaction: a member
    /// is matched by userName (updated when different, else created), a group by externalId,
    /// else by display name (its membership becomes exactly the listed members). Members and
    /// groups that are not in the import are left alone. Any failure (a uniqueness conflict,
    /// the seat limit) writes nothing. With `merge`, an existing member keeps the attributes the
    /// import does not mention. With `dry_run`, the same work runs and is rolled back.
    /// `progress` is told after each item.
    pub fn import_directory(
        &self,
        org_id: &str,
        members: impl IntoIterator<Item = Result<Map<String, Value>, StoreError>>,
        groups: Vec<ImportGroup>,
        merge: bool,
        dry_run: bool,
        progress: &dyn Fn(),
    ) -> Result<ImportReport, StoreError> {
        self.get_org(org_id)?;
        let origin = Origin::Operator(Actor::Cli);
        self.write_or_discard(!dry_run, super::Size::Large, |tx| {
            let mut report = ImportReport {
                dry_run,
                ..ImportReport::default()
            };
            let mut ids: HashMap<String, String> = HashMap::new();
            for attrs in members {
                let attrs = attrs?;
                let user_name = attrs
                    .get("userName")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let current = find_user_by_user_name(tx, org_id, &user_name)?;
                let attrs = match &current {
                    Some(current) if merge => {
                        let mut merged = current.attrs.clone();
                        merged.extend(attrs);
                        merged
                    }
                    _ => attrs,
                };
                let user = match current {
                    Some(current) if current.attrs == attrs => {
                        report.members_unchanged += 1;
                        current
                    }
                    Some(current) => {
                        report.members_updated += 1;
                        save_changed_user(tx, org_id, origin, current, attrs)?
                    }
                    None => {
                        report.members_created += 1;
                        insert_user(tx, org_id, origin, attrs)?
                    }
                };
                ids.insert(user_name.to_lowercase(), user.id);
                progress();
            }
            for group in groups {
                let mut refs = Vec::new();
                for name in &group.member_user_names {
                    let key = name.to_lowercase();
                    let id = match ids.get(&key) {
                        Some(id) => Some(id.clone()),
                        None => find_user_by_user_name(tx, org_id, name)?.map(|u| u.id),
                    };
                    match id {
                        Some(id) => refs.push(MemberRef {
                            value: id,
                            display: None,
                        }),
                        None => report.unknown_members.push(name.clone()),
                    }
                }
                match find_group(tx, org_id, &group.attrs)? {
                    Some(current) => {
                        let version = current.version;
                        let change = GroupChange {
                            attrs: group.attrs,
                            members: vec![MemberEdit::Replace(refs)],
                        };
                        let after = apply_change(tx, org_id, origin, current, change, false)?;
                        if after.version == version {
                            report.groups_unchanged += 1;
                        } else {
                            report.groups_updated += 1;
                        }
                    }
                    None => {
                        insert_group(tx, org_id, origin, group.attrs, &refs, false)?;
                        report.groups_created += 1;
                    }
                }
                progress();
            }
            report.unknown_members.sort();
            report.unknown_members.dedup();
            Ok(report)
        })
    }
}

/// The group an imported one stands for: same externalId, or (without one) the first with the
/// same display name.
fn find_group(
    tx: &Transaction<'_>,
    org_id: &str,
    attrs: &Map<String, Value>,
) -> Result<Option<StoredGroup>, StoreError> {
    let external_id = attrs.get("externalId").and_then(Value::as_str);
    let name = attrs
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_lowercase();
    let id: Option<String> = match external_id {
        Some(external_id) => tx
            .prepare_cached("SELECT id FROM groups WHERE org_id = ?1 AND external_id = ?2")?
            .query_row(params![org_id, external_id], |r| r.get(0))
            .optional()?,
        None => tx
            .prepare_cached(
                "SELECT id FROM groups WHERE org_id = ?1 AND display_name_key = ?2
                 ORDER BY rowid LIMIT 1",
            )?
            .query_row(params![org_id, name], |r| r.get(0))
            .optional()?,
    };
    id.map(|id| load_group(tx, org_id, &id, false)).transpose()
}

fn exported_groups(c: &Connection, org_id: &str) -> Result<Vec<ExportedGroup>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT g.id, g.attrs FROM groups g WHERE g.org_id = ?1 ORDER BY g.display_name_key, g.rowid",
    )?;
    let groups: Vec<(String, String)> = stmt
        .query_map([org_id], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut members = c.prepare_cached(
        "SELECT u.user_name FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = ?1 ORDER BY u.user_name_key",
    )?;
    groups
        .into_iter()
        .map(|(id, attrs)| {
            let member_user_names = members
                .query_map([&id], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ExportedGroup {
                attrs: super::users::attrs_from_json(&attrs),
                member_user_names,
            })
        })
        .collect()
}
