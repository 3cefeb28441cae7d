//! Groups and their membership. Members live in the `group_members` join table, so adding or
//! removing one member is one indexed statement whatever the group's size, and a read that
//! does not need members never loads them.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Map, Value};

use super::users::{Page, attrs_from_json};
use super::{EventType, NewEvent, Origin, Store, StoreError, outbox};
use crate::directory::{GroupChange, Member, MemberEdit, MemberRef, StoredGroup};
use crate::scim::list::ListQuery;
use crate::scim::schema::GROUP;
use crate::timestamp;

pub(super) const GROUP_COLUMNS: &str = "g.id, g.attrs, g.version, g.created_at, g.updated_at";

fn display_name(attrs: &Map<String, Value>) -> String {
    attrs
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn external_id(attrs: &Map<String, Value>) -> Option<&str> {
    attrs.get("externalId").and_then(Value::as_str)
}

impl Store {
    /// Creates a group with its initial members; 409 on a taken externalId.
    pub fn create_group(
        &self,
        org_id: &str,
        key_id: &str,
        attrs: Map<String, Value>,
        members: Vec<MemberRef>,
        with_members: bool,
    ) -> Result<StoredGroup, StoreError> {
        self.write(|tx| {
            insert_group(
                tx,
                org_id,
                Origin::Scim(key_id),
                attrs,
                &members,
                with_members,
            )
        })
    }

    /// One group of the organization, with members if asked.
    pub fn get_group(
        &self,
        org_id: &str,
        id: &str,
        with_members: bool,
    ) -> Result<StoredGroup, StoreError> {
        self.read(|c| load_group(c, org_id, id, with_members))
    }

    /// Reads a group, lets `change` compute new attributes and membership edits, and applies
    /// them in one transaction (nothing is written if `change` or a check fails). The version
    /// moves and `Group_Updated` is logged when attributes change; every membership change
    /// logs `OrganizationUser_UpdatedGroups` for the member concerned.
    pub fn update_group<E>(
        &self,
        org_id: &str,
        id: &str,
        key_id: &str,
        with_members: bool,
        change: impl FnOnce(&StoredGroup) -> Result<GroupChange, E>,
    ) -> Result<StoredGroup, E>
    where
        E: From<StoreError>,
    {
        self.write(|tx| {
            let current = load_group(tx, org_id, id, false)?;
            let change = change(&current)?;
            Ok(apply_change(
                tx,
                org_id,
                Origin::Scim(key_id),
                current,
                change,
                with_members,
            )?)
        })
    }

    /// Deletes a group; its members stay members of the organization.
    /// `check` sees the group first and may refuse (an `If-Match` precondition).
    pub fn delete_group<E>(
        &self,
        org_id: &str,
        id: &str,
        key_id: &str,
        check: impl FnOnce(&StoredGroup) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<StoreError>,
    {
        self.write(|tx| {
            let group = load_group(tx, org_id, id, false)?;
            check(&group)?;
            Ok(remove_group(tx, org_id, &group, Origin::Scim(key_id))?)
        })
    }

    /// A page of the organization's groups, in a stable order.
    pub fn list_groups(
        &self,
        org_id: &str,
        query: &ListQuery,
        with_members: bool,
    ) -> Result<Page<StoredGroup>, StoreError> {
        self.read(|c| {
            let mut page =
                self.lists
                    .page(c, &GROUP, GROUP_COLUMNS, org_id, query, group_from_row)?;
            if with_members {
                for group in &mut page.items {
                    group.members = Some(load_members(c, &group.id)?);
                }
            }
            Ok(page)
        })
    }
}

/// Inserts a group with its initial members inside the caller's transaction.
pub(super) fn insert_group(
    tx: &Transaction<'_>,
    org_id: &str,
    origin: Origin<'_>,
    attrs: Map<String, Value>,
    members: &[MemberRef],
    with_members: bool,
) -> Result<StoredGroup, StoreError> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = timestamp::now();
    let name = display_name(&attrs);
    check_external_id(tx, org_id, &id, external_id(&attrs))?;
    let posix_id = super::ldap::allocate_posix_id(tx, org_id)?;
    tx.prepare_cached(
        "INSERT INTO groups (id, org_id, display_name, display_name_key, external_id,
                             attrs, version, created_at, updated_at, posix_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1, ?7, ?7, ?8)",
    )?
    .execute(params![
        id,
        org_id,
        name,
        name.to_lowercase(),
        external_id(&attrs),
        Value::Object(attrs.clone()).to_string(),
        now,
        posix_id,
    ])?;
    NewEvent::by(
        origin,
        EventType::GroupCreated,
        format!("Created group \"{name}\""),
    )
    .group(&id)
    .insert(tx, org_id)?;
    let mut log = MembershipLog::new(org_id, origin, &id, &name);
    add_members(tx, org_id, &id, members, &mut log)?;
    log.finish(tx)?;
    Ok(StoredGroup {
        members: with_members.then(|| load_members(tx, &id)).transpose()?,
        id,
        attrs,
        version: 1,
        created_at: now.clone(),
        updated_at: now,
    })
}

fn remove_group(
    tx: &Transaction<'_>,
    org_id: &str,
    group: &StoredGroup,
    origin: Origin<'_>,
) -> Result<(), StoreError> {
    let id = group.id.as_str();
    touch_members(tx, id, &timestamp::now())?;
    tx.execute("DELETE FROM groups WHERE id = ?1", [id])?;
    NewEvent::by(
        origin,
        EventType::GroupDeleted,
        format!("Deleted group \"{}\"", display_name(&group.attrs)),
    )
    .group(id)
    .insert(tx, org_id)?;
    Ok(())
}

pub(super) fn group_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredGroup> {
    let attrs = attrs_from_json(&r.get::<_, String>(1)?);
    Ok(StoredGroup {
        id: r.get(0)?,
        attrs,
        version: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        members: None,
    })
}

pub(super) fn load_group(
    c: &Connection,
    org_id: &str,
    id: &str,
    with_members: bool,
) -> Result<StoredGroup, StoreError> {
    let group = c
        .prepare_cached(&format!(
            "SELECT {GROUP_COLUMNS} FROM groups g WHERE g.id = ?1 AND g.org_id = ?2"
        ))?
        .query_row(params![id, org_id], group_from_row)
        .optional()?;
    let mut group = group.ok_or_else(|| StoreError::NotFound(format!("Group {id} not found.")))?;
    if with_members {
        group.members = Some(load_members(c, id)?);
    }
    Ok(group)
}

fn load_members(c: &Connection, group_id: &str) -> Result<Vec<Member>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT m.user_id, coalesce(m.display, u.display_name, u.user_name)
         FROM group_members m JOIN users u ON u.id = m.user_id
         WHERE m.group_id = ?1 ORDER BY m.user_id",
    )?;
    let members = stmt
        .query_map([group_id], |r| {
            Ok(Member {
                user_id: r.get(0)?,
                display: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(members)
}

pub(super) fn apply_change(
    tx: &Transaction<'_>,
    org_id: &str,
    origin: Origin<'_>,
    current: StoredGroup,
    change: GroupChange,
    with_members: bool,
) -> Result<StoredGroup, StoreError> {
    let name = display_name(&change.attrs);
    let mut log = MembershipLog::new(org_id, origin, &current.id, &name);
    for edit in &change.members {
        match edit {
            MemberEdit::Add(members) => add_members(tx, org_id, &current.id, members, &mut log)?,
            MemberEdit::Remove(ids) => remove_members(tx, &current.id, ids, &mut log)?,
            MemberEdit::RemoveWhere(matches) => {
                let ids: Vec<String> = load_members(tx, &current.id)?
                    .into_iter()
                    .filter(|m| matches(m))
                    .map(|m| m.user_id)
                    .collect();
                remove_members(tx, &current.id, &ids, &mut log)?;
            }
            MemberEdit::RemoveAll => {
                let ids = member_ids(tx, &current.id)?;
                remove_members(tx, &current.id, &ids, &mut log)?;
            }
            MemberEdit::Replace(members) => {
                let wanted: HashSet<&str> = members.iter().map(|m| m.value.as_str()).collect();
                let gone: Vec<String> = member_ids(tx, &current.id)?
                    .into_iter()
                    .filter(|id| !wanted.contains(id.as_str()))
                    .collect();
                remove_members(tx, &current.id, &gone, &mut log)?;
                add_members(tx, org_id, &current.id, members, &mut log)?;
            }
        }
    }
    let attrs_changed = change.attrs != current.attrs;
    let (version, updated_at) = if attrs_changed || log.changed {
        (current.version + 1, timestamp::now())
    } else {
        (current.version, current.updated_at.clone())
    };
    if name != display_name(&current.attrs) {
        touch_members(tx, &current.id, &updated_at)?;
    }
    if attrs_changed {
        check_external_id(tx, org_id, &current.id, external_id(&change.attrs))?;
    }
    if attrs_changed || log.changed {
        tx.prepare_cached(
            "UPDATE groups SET display_name = ?2, display_name_key = ?3, external_id = ?4,
                               attrs = ?5, version = ?6, updated_at = ?7
             WHERE id = ?1",
        )?
        .execute(params![
            current.id,
            name,
            name.to_lowercase(),
            external_id(&change.attrs),
            Value::Object(change.attrs.clone()).to_string(),
            version,
            updated_at,
        ])?;
    }
    // After the row is written: the event's webhook message carries the group as it is now.
    if attrs_changed {
        NewEvent::by(
            origin,
            EventType::GroupUpdated,
            format!("Updated group \"{name}\""),
        )
        .group(&current.id)
        .insert(tx, org_id)?;
    }
    log.finish(tx)?;
    Ok(StoredGroup {
        members: with_members
            .then(|| load_members(tx, &current.id))
            .transpose()?,
        attrs: change.attrs,
        version,
        updated_at,
        ..current
    })
}

/// A new version for every member: their `groups` (or its `display`) are about to change.
fn touch_members(tx: &Connection, group_id: &str, now: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE users SET version = version + 1, updated_at = ?2
         WHERE id IN (SELECT user_id FROM group_members WHERE group_id = ?1)",
    )?
    .execute(params![group_id, now])
}

fn member_ids(c: &Connection, group_id: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = c.prepare_cached("SELECT user_id FROM group_members WHERE group_id = ?1")?;
    let ids = stmt
        .query_map([group_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// Adds users of this organization; ids of unknown users (or other organizations' users) are
/// ignored, existing members stay as they are.
fn add_members(
    tx: &Connection,
    org_id: &str,
    group_id: &str,
    members: &[MemberRef],
    log: &mut MembershipLog<'_>,
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO group_members (group_id, user_id, display)
         SELECT ?1, u.id, ?3 FROM users u WHERE u.id = ?2 AND u.org_id = ?4
         ON CONFLICT (group_id, user_id) DO NOTHING",
    )?;
    for m in members {
        if insert.execute(params![group_id, m.value, m.display, org_id])? > 0 {
            log.record(tx, &m.value, true)?;
        }
    }
    Ok(())
}

fn remove_members(
    tx: &Connection,
    group_id: &str,
    ids: &[String],
    log: &mut MembershipLog<'_>,
) -> Result<(), StoreError> {
    let mut delete =
        tx.prepare_cached("DELETE FROM group_members WHERE group_id = ?1 AND user_id = ?2")?;
    for id in ids {
        if delete.execute(params![group_id, id])? > 0 {
            log.record(tx, id, false)?;
        }
    }
    Ok(())
}

/// Writes one `OrganizationUser_UpdatedGroups` event per member added or removed, so the
/// event log can be filtered by member, and remembers the net change for the request's one
/// `group.members_changed` webhook message ([`MembershipLog::finish`]).
struct MembershipLog<'a> {
    org_id: &'a str,
    origin: Origin<'a>,
    group_id: &'a str,
    group_name: &'a str,
    changed: bool,
    /// Net additions and removals, in the order made (a member added and removed again in
    /// one request is in neither).
    added: Vec<String>,
    removed: Vec<String>,
    touched: HashSet<String>,
    last_event: Option<i64>,
}

impl<'a> MembershipLog<'a> {
    fn new(org_id: &'a str, origin: Origin<'a>, group_id: &'a str, group_name: &'a str) -> Self {
        MembershipLog {
            org_id,
            origin,
            group_id,
            group_name,
            changed: false,
            added: Vec::new(),
            removed: Vec::new(),
            touched: HashSet::new(),
            last_event: None,
        }
    }

    fn record(&mut self, tx: &Connection, user_id: &str, added: bool) -> Result<(), StoreError> {
        self.changed = true;
        // The user's read-only `groups` changed: a new version for its ETag.
        tx.prepare_cached("UPDATE users SET version = version + 1, updated_at = ?2 WHERE id = ?1")?
            .execute(params![user_id, timestamp::now()])?;
        let summary = if added {
            format!("Added to group \"{}\"", self.group_name)
        } else {
            format!("Removed from group \"{}\"", self.group_name)
        };
        let event = self.event(summary).member(user_id);
        self.last_event = Some(event.insert(tx, self.org_id)?);
        let (this, other) = if added {
            (&mut self.added, &mut self.removed)
        } else {
            (&mut self.removed, &mut self.added)
        };
        if self.touched.insert(user_id.to_owned()) {
            this.push(user_id.to_owned());
        } else if other.iter().any(|id| id == user_id) {
            // Undoes an earlier change of this request.
            other.retain(|id| id != user_id);
            self.touched.remove(user_id);
        }
        Ok(())
    }

    fn event(&self, summary: String) -> NewEvent<'a> {
        NewEvent::by(
            self.origin,
            EventType::OrganizationUserUpdatedGroups,
            summary,
        )
        .group(self.group_id)
    }

    /// Reports the request's net membership change to the group's webhook endpoints; called
    /// once the group row is final.
    fn finish(self, tx: &Connection) -> Result<(), StoreError> {
        let Some(event_id) = self.last_event else {
            return Ok(());
        };
        let event = self.event(String::new());
        outbox::enqueue_membership(
            tx,
            self.org_id,
            self.group_id,
            (event_id, &event),
            &self.added,
            &self.removed,
        )
    }
}

fn check_external_id(
    c: &Connection,
    org_id: &str,
    id: &str,
    external_id: Option<&str>,
) -> Result<(), StoreError> {
    let Some(external_id) = external_id else {
        return Ok(());
    };
    let taken = c
        .prepare_cached("SELECT 1 FROM groups WHERE org_id = ?1 AND external_id = ?2 AND id <> ?3")?
        .query_row(params![org_id, external_id, id], |_| Ok(()))
        .optional()?
        .is_some();
    if taken {
        return Err(StoreError::Conflict(format!(
            "A group with externalId \"{external_id}\" already exists."
        )));
    }
    Ok(())
}
