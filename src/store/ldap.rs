//! What the LDAP front door reads: one organization's directory inside one read transaction
//! ([`LdapReader`]), as lookups (a member by userName or POSIX id, a group by name or id, the
//! base DN a bound key still reads) and as scans in creation order that continue from a
//! position (keyed paging, never an offset), filtered by the SCIM filter compiler so that the
//! LDAP filters applications send on indexed attributes are index lookups.
//!
//! Also POSIX ids (`uidNumber`, `gidNumber`), allocated from one counter per organization that
//! only grows, so that a number is given once and never reused — a file owned by a departed
//! member never passes to a new one. (The base DN of each organization's tree lives with the
//! organization, `orgs.rs`.)

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::filter_sql::compile_filter;
use super::groups::{GROUP_COLUMNS, group_from_row};
use super::users::{USER_COLUMNS, user_from_row};
use super::{Store, StoreError};
use crate::directory::{StoredGroup, StoredUser};
use crate::scim::filter::Filter;
use crate::scim::schema::{GROUP, USER};
use crate::timestamp;

/// The next POSIX id of the organization, taken (inside the caller's transaction).
pub(super) fn allocate_posix_id(c: &Connection, org_id: &str) -> Result<i64, StoreError> {
    Ok(c.prepare_cached(
        "UPDATE organizations SET next_posix_id = next_posix_id + 1 WHERE id = ?1
             RETURNING next_posix_id - 1",
    )?
    .query_row([org_id], |r| r.get(0))?)
}

/// A group as the LDAP view names it: whether an older group of the organization has the same
/// displayName (compared case-insensitively) decides its DN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupName {
    pub id: String,
    pub display_name: String,
    pub shares_name_with_older: bool,
}

/// An active member, in the order of a scan, with what its entry shows.
#[derive(Debug)]
pub struct LdapUser {
    /// Where a later scan continues from (creation order).
    pub position: i64,
    pub user: StoredUser,
    pub posix_id: Option<i64>,
    /// Its groups, when asked for.
    pub groups: Vec<GroupName>,
}

/// A group, in the order of a scan, with what its entry shows.
#[derive(Debug)]
pub struct LdapGroup {
    pub position: i64,
    pub group: StoredGroup,
    pub name: GroupName,
    pub posix_id: Option<i64>,
    /// The userNames of its active members, when asked for.
    pub member_names: Vec<String>,
}

/// One scan of an organization's members or groups: those matching `filter` (compiled by the
/// same compiler SCIM filters use, so an indexed attribute is an index lookup), after
/// `position`, in creation order.
#[derive(Clone, Copy, Debug)]
pub struct LdapScan<'a> {
    pub filter: Option<&'a Filter>,
    pub after: i64,
    /// Read each member's groups, or each group's members (only when the entry needs them).
    pub with_relations: bool,
}

/// Reads one organization for one LDAP request, inside one read transaction, so that every
/// lookup and scan of the request sees the same snapshot. Revoked members are not there at
/// all: lookups, scans and member lists only ever see active members.
pub struct LdapReader<'c> {
    c: &'c Connection,
    org_id: &'c str,
}

impl Store {
    /// Runs `f` with a reader of organization `org_id`'s directory.
    pub fn ldap_read<T>(
        &self,
        org_id: &str,
        f: impl FnOnce(&LdapReader<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?;
            let value = f(&LdapReader { c: &tx, org_id })?;
            tx.finish()?;
            Ok(value)
        })
    }
}

impl LdapReader<'_> {
    /// The organization's base DN while `key_id` is still one of its read keys, unexpired;
    /// `None` once it was revoked, rotated away or expired, or SCIM was turned off, so a
    /// connection bound with it reads nothing more (checked on every search).
    pub fn base_for_key(&self, key_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .c
            .prepare_cached(
                "SELECT o.ldap_base_dn FROM api_keys k JOIN organizations o ON o.id = k.org_id
                 WHERE k.key_id = ?1 AND k.org_id = ?2 AND k.scope = 'read' AND o.scim_enabled
                   AND (k.expires_at IS NULL OR k.expires_at > ?3)",
            )?
            .query_row(params![key_id, self.org_id, timestamp::now()], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()?
            .flatten())
    }

    /// The id of the active member whose userName is `user_name` (case-insensitively).
    pub fn active_user_named(&self, user_name: &str) -> Result<Option<String>, StoreError> {
        self.one_id(
            "SELECT id FROM users WHERE org_id = ?1 AND user_name_key = ?2 AND active = 1",
            user_name.to_lowercase(),
        )
    }

    /// The id of the active member with POSIX id `posix_id`.
    pub fn active_user_numbered(&self, posix_id: i64) -> Result<Option<String>, StoreError> {
        self.one_id(
            "SELECT id FROM users WHERE org_id = ?1 AND posix_id = ?2 AND active = 1",
            posix_id,
        )
    }

    /// The id of the group with POSIX id `posix_id`.
    pub fn group_numbered(&self, posix_id: i64) -> Result<Option<String>, StoreError> {
        self.one_id(
            "SELECT id FROM groups WHERE org_id = ?1 AND posix_id = ?2",
            posix_id,
        )
    }

    /// The oldest group whose displayName is `name` (case-insensitively).
    pub fn oldest_group_named(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.one_id(
            "SELECT id FROM groups WHERE org_id = ?1 AND display_name_key = ?2
             ORDER BY rowid LIMIT 1",
            name.to_lowercase(),
        )
    }

    /// The group `id`'s name, if it is a group of the organization.
    pub fn group_name(&self, id: &str) -> Result<Option<GroupName>, StoreError> {
        Ok(self
            .c
            .prepare_cached(&format!(
                "SELECT g.id, g.display_name, {OLDER} FROM groups g
                 WHERE g.org_id = ?1 AND g.id = ?2"
            ))?
            .query_row(params![self.org_id, id], group_name_from_row)
            .optional()?)
    }

    fn one_id(&self, sql: &str, value: impl rusqlite::ToSql) -> Result<Option<String>, StoreError> {
        Ok(self
            .c
            .prepare_cached(sql)?
            .query_row(params![self.org_id, value], |r| r.get(0))
            .optional()?)
    }

    /// Calls `visit` with each active member the scan selects until it returns false.
    pub fn scan_users(
        &self,
        scan: LdapScan<'_>,
        mut visit: impl FnMut(LdapUser) -> bool,
    ) -> Result<(), StoreError> {
        let (filter_sql, params) = self.scan_params(scan, &USER)?;
        let mut stmt = self.c.prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, u.rowid, u.posix_id FROM users u
             WHERE u.org_id = ? AND u.active = 1 AND u.rowid > ?{filter_sql}
             ORDER BY u.rowid"
        ))?;
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let user = user_from_row(row)?;
            let groups = if scan.with_relations {
                self.groups_of(&user.id)?
            } else {
                Vec::new()
            };
            let found = LdapUser {
                position: row.get(5)?,
                posix_id: row.get(6)?,
                user,
                groups,
            };
            if !visit(found) {
                break;
            }
        }
        Ok(())
    }

    /// Calls `visit` with each group the scan selects until it returns false.
    pub fn scan_groups(
        &self,
        scan: LdapScan<'_>,
        mut visit: impl FnMut(LdapGroup) -> bool,
    ) -> Result<(), StoreError> {
        let (filter_sql, params) = self.scan_params(scan, &GROUP)?;
        let mut stmt = self.c.prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS}, g.rowid, g.posix_id, g.display_name, {OLDER} FROM groups g
             WHERE g.org_id = ? AND g.rowid > ?{filter_sql}
             ORDER BY g.rowid"
        ))?;
        let mut rows = stmt.query(params_from_iter(params))?;
        while let Some(row) = rows.next()? {
            let group = group_from_row(row)?;
            let member_names = if scan.with_relations {
                self.member_names(&group.id)?
            } else {
                Vec::new()
            };
            let found = LdapGroup {
                position: row.get(5)?,
                posix_id: row.get(6)?,
                name: GroupName {
                    id: group.id.clone(),
                    display_name: row.get(7)?,
                    shares_name_with_older: row.get(8)?,
                },
                group,
                member_names,
            };
            if !visit(found) {
                break;
            }
        }
        Ok(())
    }

    /// The compiled filter of a scan as ` AND (…)`, and every parameter of the scan's
    /// statement: the organization, the position, then the filter's.
    fn scan_params(
        &self,
        scan: LdapScan<'_>,
        rt: &crate::scim::schema::ResourceType,
    ) -> Result<(String, Vec<SqlValue>), StoreError> {
        let mut params = vec![
            SqlValue::Text(self.org_id.to_owned()),
            SqlValue::Integer(scan.after),
        ];
        let sql = match scan.filter {
            Some(filter) => {
                let fragment = compile_filter(filter, rt)?;
                params.extend(fragment.params);
                format!(" AND ({})", fragment.sql)
            }
            None => String::new(),
        };
        Ok((sql, params))
    }

    fn groups_of(&self, user_id: &str) -> Result<Vec<GroupName>, StoreError> {
        let mut stmt = self.c.prepare_cached(&format!(
            "SELECT g.id, g.display_name, {OLDER}
             FROM group_members m JOIN groups g ON g.id = m.group_id
             WHERE m.user_id = ?1 ORDER BY g.rowid"
        ))?;
        let names = stmt
            .query_map([user_id], group_name_from_row)?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }

    fn member_names(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.c.prepare_cached(
            "SELECT u.user_name FROM group_members m JOIN users u ON u.id = m.user_id
             WHERE m.group_id = ?1 AND u.active = 1 ORDER BY u.rowid",
        )?;
        let names = stmt
            .query_map([group_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(names)
    }
}

/// Whether an older group of the organization shares `g`'s displayName (an indexed probe).
const OLDER: &str = "EXISTS (SELECT 1 FROM groups o WHERE o.org_id = g.org_id
                      AND o.display_name_key = g.display_name_key AND o.rowid < g.rowid)";

fn group_name_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupName> {
    Ok(GroupName {
        id: r.get(0)?,
        display_name: r.get(1)?,
        shares_name_with_older: r.get(2)?,
    })
}

/// Every member's and group's POSIX id, by SCIM id (for tests of the allocation).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct PosixIds {
    pub users: std::collections::HashMap<String, i64>,
    pub groups: std::collections::HashMap<String, i64>,
}

#[cfg(test)]
impl Store {
    pub(crate) fn posix_ids(&self, org_id: &str) -> Result<PosixIds, StoreError> {
        let ids = |c: &Connection, table: &str| -> Result<_, StoreError> {
            let mut stmt = c.prepare(&format!(
                "SELECT id, posix_id FROM {table} WHERE org_id = ?1 AND posix_id IS NOT NULL"
            ))?;
            let rows = stmt.query_map([org_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        self.read(|c| {
            Ok(PosixIds {
                users: ids(c, "users")?,
                groups: ids(c, "groups")?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;
    use serde_json::json;

    use crate::store::{Actor, Store, StoreError, SyncMode, parse_ldap_base};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        (dir, store)
    }

    #[test]
    fn base_dns_are_checked_and_tidied() {
        assert_eq!(
            parse_ldap_base(" DC=Example , dc=com ").expect("dn"),
            "dc=Example,dc=com"
        );
        assert_eq!(
            parse_ldap_base("o=acme-co.lan").expect("dn"),
            "o=acme-co.lan"
        );
        for bad in [
            "", "example", "dc=", "=x", "dc=a,", "dc=a+b", "dc=a\\,b", "1dc=a", "dc=é",
        ] {
            assert!(parse_ldap_base(bad).is_err(), "{bad}");
        }
        assert!(parse_ldap_base(&format!("dc={}", "a".repeat(200))).is_err());
    }

    #[test]
    fn organizations_get_a_unique_default_base_and_can_change_it() {
        let (_dir, store) = store();
        let a = store
            .create_org("Acme & Co", None, Actor::Cli)
            .expect("org");
        let b = store.create_org("ACME co", None, Actor::Cli).expect("org");
        let c = store.create_org("!!!", None, Actor::Cli).expect("org");
        assert_eq!(a.ldap_base_dn, "dc=acme-co");
        assert_eq!(b.ldap_base_dn, "dc=acme-co-2");
        assert_eq!(c.ldap_base_dn, "dc=org");

        let changed = store
            .set_ldap_base(&b.id, "dc=Globex, dc=com", Actor::Admin)
            .expect("set");
        assert_eq!(changed.ldap_base_dn, "dc=Globex,dc=com");
        let found = store.org_by_ldap_base("DC=globex,DC=COM").expect("lookup");
        assert_eq!(found.map(|o| o.id), Some(b.id.clone()));
        assert!(
            store
                .org_by_ldap_base("dc=nobody")
                .expect("lookup")
                .is_none()
        );
        assert!(
            store
                .org_by_ldap_base("not a dn")
                .expect("lookup")
                .is_none()
        );
        assert!(matches!(
            store.set_ldap_base(&a.id, "DC=GLOBEX,dc=com", Actor::Admin),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.set_ldap_base(&a.id, "nonsense", Actor::Admin),
            Err(StoreError::Invalid(_))
        ));
        let events = store.list_events(&b.id, 10).expect("events");
        assert!(
            events
                .iter()
                .any(|e| e.event_type == "Organization_LdapBaseChanged")
        );
    }

    #[test]
    fn posix_ids_are_allocated_once_and_never_reused() {
        let (_dir, store) = store();
        let org = store.create_org("Acme", None, Actor::Cli).expect("org").id;
        let user = |name: &str| {
            let attrs = json!({ "userName": name })
                .as_object()
                .expect("object")
                .clone();
            store.create_user(&org, "k", attrs).expect("user").id
        };
        let (a, b) = (user("a@example.com"), user("b@example.com"));
        let ids = store.posix_ids(&org).expect("ids");
        assert_eq!((ids.users[&a], ids.users[&b]), (10000, 10001));
        store
            .delete_user(&org, &b, "k", |_| Ok::<(), StoreError>(()))
            .expect("deleted");
        let c = user("c@example.com");
        let ids = store.posix_ids(&org).expect("ids");
        assert_eq!(ids.users[&c], 10002, "b's number is not given again");
        assert!(!ids.users.contains_key(&b));
        assert!(ids.groups.is_empty());
    }

    #[test]
    fn statistics_let_an_email_lookup_use_its_index_in_a_grown_directory() {
        let (_dir, store) = store();
        let org = store.create_org("Acme", None, Actor::Cli).expect("org").id;
        for i in 0..300 {
            let attrs = json!({ "userName": format!("u{i}"),
                                "emails": [{"value": format!("u{i}@example.com")}] });
            store
                .create_user(&org, "k", attrs.as_object().expect("object").clone())
                .expect("user");
        }
        store.optimize().expect("optimize");
        let plan: Vec<String> = store
            .read(|c| {
                // A statement that runs notices the new schema, and loads the statistics with it
                // (EXPLAIN alone would not).
                c.query_row("SELECT count(*) FROM users", [], |r| r.get::<_, i64>(0))?;
                let mut stmt = c.prepare(
                    "EXPLAIN QUERY PLAN SELECT u.id FROM users u
                     WHERE u.org_id = ?1 AND u.active = 1 AND u.rowid > 0
                       AND (u.id IN (SELECT je.user_id FROM user_emails je WHERE je.value_key = ?2)
                            OR u.user_name_key = ?2)
                     ORDER BY u.rowid",
                )?;
                let rows = stmt.query_map(params![org, "u7@example.com"], |r| r.get(3))?;
                Ok::<_, StoreError>(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .expect("plan");
        assert!(
            !plan.iter().any(|step| step.contains("users_by_org_active")),
            "{plan:?}"
        );
    }
}
