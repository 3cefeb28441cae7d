//! Users (organization members): create, read, update, delete and list, each in one
//! transaction together with its uniqueness and seat checks and its event.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use serde_json::{Map, Value};

use super::{EventType, NewEvent, Origin, Store, StoreError};
use crate::directory::{GroupRef, StoredUser, UserFields};
use crate::scim::list::ListQuery;
use crate::scim::schema::USER;
use crate::timestamp;

/// One page of results and how many match in all.
#[derive(Debug)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

pub(super) const USER_COLUMNS: &str = "u.id, u.attrs, u.version, u.created_at, u.updated_at";

impl Store {
    /// Creates a member; 409 on a taken userName, externalId or email, 400 over the seat limit.
    pub fn create_user(
        &self,
        org_id: &str,
        key_id: &str,
        attrs: Map<String, Value>,
    ) -> Result<StoredUser, StoreError> {
        self.write(|tx| insert_user(tx, org_id, Origin::Scim(key_id), attrs))
    }

    /// One member of the organization; `NotFound` for unknown ids and other organizations' ids.
    pub fn get_user(&self, org_id: &str, id: &str) -> Result<StoredUser, StoreError> {
        // One snapshot for the member and its groups, which also takes the WAL's read lock
        // once instead of once per statement.
        self.read(|c| {
            let snapshot = c.unchecked_transaction()?;
            load_user(&snapshot, org_id, id)
        })
    }

    /// Reads a member, lets `change` compute its new attributes, and writes them, all in one
    /// transaction: an error from `change` (or a uniqueness or seat check) writes nothing.
    /// Logs `Revoked`/`Restored` when `active` flips and `Updated` when anything else changed;
    /// an unchanged document is not written at all.
    pub fn update_user<E>(
        &self,
        org_id: &str,
        id: &str,
        key_id: &str,
        change: impl FnOnce(&StoredUser) -> Result<Map<String, Value>, E>,
    ) -> Result<StoredUser, E>
    where
        E: From<StoreError>,
    {
        self.write(|tx| {
            let current = load_user(tx, org_id, id)?;
            let attrs = change(&current)?;
            if attrs == current.attrs {
                return Ok(current);
            }
            Ok(save_changed_user(
                tx,
                org_id,
                Origin::Scim(key_id),
                current,
                attrs,
            )?)
        })
    }

    /// Removes a member; its group memberships go with it.
    /// `check` sees the member first and may refuse (an `If-Match` precondition).
    pub fn delete_user<E>(
        &self,
        org_id: &str,
        id: &str,
        key_id: &str,
        check: impl FnOnce(&StoredUser) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<StoreError>,
    {
        self.write(|tx| {
            let user = load_user(tx, org_id, id)?;
            check(&user)?;
            Ok(remove_user(tx, org_id, &user, Origin::Scim(key_id))?)
        })
    }

    /// A page of the organization's members in a stable order (`sortBy` first, then creation).
    pub fn list_users(
        &self,
        org_id: &str,
        query: &ListQuery,
    ) -> Result<Page<StoredUser>, StoreError> {
        self.read(|c| {
            let mut page = self
                .lists
                .page(c, &USER, USER_COLUMNS, org_id, query, user_from_row)?;
            let ids: Vec<&str> = page.items.iter().map(|u| u.id.as_str()).collect();
            let mut groups = groups_of_many(c, &ids)?;
            for user in &mut page.items {
                user.groups = groups.remove(&user.id).unwrap_or_default();
            }
            Ok(page)
        })
    }
}

/// A stored `attrs` JSON document (always an object when written by this store).
pub(super) fn attrs_from_json(text: &str) -> Map<String, Value> {
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// Inserts a member inside the caller's transaction, with its uniqueness and seat checks and its
/// `Invited` event.
pub(super) fn insert_user(
    tx: &Transaction<'_>,
    org_id: &str,
    origin: Origin<'_>,
    attrs: Map<String, Value>,
) -> Result<StoredUser, StoreError> {
    let fields = UserFields::from_doc(&attrs);
    let id = uuid::Uuid::new_v4().to_string();
    let now = timestamp::now();
    check_unique(tx, org_id, &id, &fields)?;
    if fields.active {
        check_seat(tx, org_id, &id)?;
    }
    let posix_id = super::ldap::allocate_posix_id(tx, org_id)?;
    tx.prepare_cached(
        "INSERT INTO users (id, org_id, user_name, user_name_key, external_id, email_key,
                            display_name, display_name_key, active, attrs, version,
                            created_at, updated_at, posix_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 1, ?11, ?11, ?12)",
    )?
    .execute(params![
        id,
        org_id,
        fields.user_name,
        fields.user_name_key,
        fields.external_id,
        fields.email_key,
        fields.display_name,
        fields.display_name.as_deref().map(str::to_lowercase),
        fields.active,
        Value::Object(attrs.clone()).to_string(),
        now,
        posix_id,
    ])?;
    write_emails(tx, &id, &fields)?;
    let state = if fields.active { "" } else { " (revoked)" };
    NewEvent::by(
        origin,
        EventType::OrganizationUserInvited,
        format!("Invited {}{state}", fields.label()),
    )
    .member(&id)
    .insert(tx, org_id)?;
    Ok(StoredUser {
        id,
        attrs,
        version: 1,
        created_at: now.clone(),
        updated_at: now,
        groups: Vec::new(),
    })
}

/// The member whose userName is `user_name` (case-insensitively), if any.
pub(super) fn find_user_by_user_name(
    c: &Connection,
    org_id: &str,
    user_name: &str,
) -> Result<Option<StoredUser>, StoreError> {
    let id: Option<String> = c
        .prepare_cached("SELECT id FROM users WHERE org_id = ?1 AND user_name_key = ?2")?
        .query_row(params![org_id, user_name.to_lowercase()], |r| r.get(0))
        .optional()?;
    id.map(|id| load_user(c, org_id, &id)).transpose()
}

/// A new version for every group the user is a member of: their `members` (or a member's
/// `display`) are about to change, and their ETags must say so.
fn touch_groups_of(tx: &Connection, user_id: &str, now: &str) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE groups SET version = version + 1, updated_at = ?2
         WHERE id IN (SELECT group_id FROM group_members WHERE user_id = ?1)",
    )?
    .execute(params![user_id, now])
}

fn remove_user(
    tx: &Transaction<'_>,
    org_id: &str,
    user: &StoredUser,
    origin: Origin<'_>,
) -> Result<(), StoreError> {
    let fields = UserFields::from_doc(&user.attrs);
    touch_groups_of(tx, &user.id, &timestamp::now())?;
    tx.execute("DELETE FROM users WHERE id = ?1", [&user.id])?;
    NewEvent::by(
        origin,
        EventType::OrganizationUserRemoved,
        format!("Removed {}", fields.label()),
    )
    .member(&user.id)
    .insert(tx, org_id)?;
    Ok(())
}

pub(super) fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredUser> {
    let attrs = attrs_from_json(&r.get::<_, String>(1)?);
    Ok(StoredUser {
        id: r.get(0)?,
        attrs,
        version: r.get(2)?,
        created_at: r.get(3)?,
        updated_at: r.get(4)?,
        groups: Vec::new(),
    })
}

pub(super) fn load_user(c: &Connection, org_id: &str, id: &str) -> Result<StoredUser, StoreError> {
    let user = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1 AND u.org_id = ?2"
        ))?
        .query_row(params![id, org_id], user_from_row)
        .optional()?;
    let mut user = user.ok_or_else(|| StoreError::NotFound(format!("User {id} not found.")))?;
    user.groups = groups_of(c, id)?;
    Ok(user)
}

fn groups_of(c: &Connection, user_id: &str) -> Result<Vec<GroupRef>, StoreError> {
    Ok(groups_of_many(c, &[user_id])?
        .remove(user_id)
        .unwrap_or_default())
}

/// The groups of several members (a list page's) in one query, each member's sorted by
/// displayName then id (in Rust: SQL would build a temporary b-tree for a few rows); members
/// in no group are absent from the map.
fn groups_of_many(
    c: &Connection,
    user_ids: &[&str],
) -> Result<HashMap<String, Vec<GroupRef>>, StoreError> {
    let mut by_user: HashMap<String, Vec<GroupRef>> = HashMap::new();
    if user_ids.is_empty() {
        return Ok(by_user);
    }
    // One bound parameter, a JSON array of the ids, whatever the page size.
    let ids = Value::from(user_ids.to_vec()).to_string();
    let mut stmt = c.prepare_cached(
        "SELECT m.user_id, g.id, g.display_name
         FROM json_each(?1) AS page
         JOIN group_members m ON m.user_id = page.value
         JOIN groups g ON g.id = m.group_id",
    )?;
    let mut rows = stmt.query([ids])?;
    while let Some(r) = rows.next()? {
        by_user.entry(r.get(0)?).or_default().push(GroupRef {
            id: r.get(1)?,
            display: r.get(2)?,
        });
    }
    for groups in by_user.values_mut() {
        sort_groups(groups);
    }
    Ok(by_user)
}

fn sort_groups(groups: &mut [GroupRef]) {
    groups.sort_unstable_by(|a, b| (&a.display, &a.id).cmp(&(&b.display, &b.id)));
}

pub(super) fn save_changed_user(
    tx: &Transaction<'_>,
    org_id: &str,
    origin: Origin<'_>,
    current: StoredUser,
    attrs: Map<String, Value>,
) -> Result<StoredUser, StoreError> {
    let old = UserFields::from_doc(&current.attrs);
    let new = UserFields::from_doc(&attrs);
    check_unique(tx, org_id, &current.id, &new)?;
    if new.active && !old.active {
        check_seat(tx, org_id, &current.id)?;
    }
    let now = timestamp::now();
    let version = current.version + 1;
    tx.prepare_cached(
        "UPDATE users SET user_name = ?2, user_name_key = ?3, external_id = ?4, email_key = ?5,
                          display_name = ?6, display_name_key = ?7, active = ?8, attrs = ?9,
                          version = ?10, updated_at = ?11
         WHERE id = ?1",
    )?
    .execute(params![
        current.id,
        new.user_name,
        new.user_name_key,
        new.external_id,
        new.email_key,
        new.display_name,
        new.display_name.as_deref().map(str::to_lowercase),
        new.active,
        Value::Object(attrs.clone()).to_string(),
        version,
        now,
    ])?;
    tx.prepare_cached("DELETE FROM user_emails WHERE user_id = ?1")?
        .execute([&current.id])?;
    write_emails(tx, &current.id, &new)?;
    if new.display_name != old.display_name || new.user_name != old.user_name {
        // The member's `display` in its groups may change with them.
        touch_groups_of(tx, &current.id, &now)?;
    }

    let event = |event_type, summary| {
        NewEvent::by(origin, event_type, summary)
            .member(&current.id)
            .insert(tx, org_id)
    };
    if new.active != old.active {
        let (kind, verb) = if new.active {
            (EventType::OrganizationUserRestored, "Restored")
        } else {
            (EventType::OrganizationUserRevoked, "Revoked")
        };
        event(kind, format!("{verb} {}", new.label()))?;
    }
    let without_active = |m: &Map<String, Value>| {
        let mut m = m.clone();
        m.remove("active");
        m
    };
    if without_active(&attrs) != without_active(&current.attrs) {
        event(
            EventType::OrganizationUserUpdated,
            format!("Updated {}", new.label()),
        )?;
    }
    Ok(StoredUser {
        attrs,
        version,
        updated_at: now,
        ..current
    })
}

fn write_emails(tx: &Connection, user_id: &str, fields: &UserFields) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO user_emails (value_key, user_id, type_key) VALUES (?1, ?2, ?3)",
    )?;
    for (value, kind) in &fields.emails {
        stmt.execute(params![value, user_id, kind])?;
    }
    Ok(())
}

/// Refuses a userName, externalId or member email already used by another member of the
/// organization, whatever that member's status.
fn check_unique(
    c: &Connection,
    org_id: &str,
    id: &str,
    fields: &UserFields,
) -> Result<(), StoreError> {
    let taken = |sql: &str, value: &str| -> Result<bool, StoreError> {
        Ok(c.prepare_cached(sql)?
            .query_row(params![org_id, value, id], |_| Ok(()))
            .optional()?
            .is_some())
    };
    if taken(
        "SELECT 1 FROM users WHERE org_id = ?1 AND user_name_key = ?2 AND id <> ?3",
        &fields.user_name_key,
    )? {
        return Err(StoreError::Conflict(format!(
            "A member with userName \"{}\" already exists.",
            fields.user_name
        )));
    }
    if let Some(external_id) = &fields.external_id
        && taken(
            "SELECT 1 FROM users WHERE org_id = ?1 AND external_id = ?2 AND id <> ?3",
            external_id,
        )?
    {
        return Err(StoreError::Conflict(format!(
            "A member with externalId \"{external_id}\" already exists."
        )));
    }
    if let Some(email) = &fields.email_key
        && taken(
            "SELECT 1 FROM users WHERE org_id = ?1 AND email_key = ?2 AND id <> ?3",
            email,
        )?
    {
        return Err(StoreError::Conflict(format!(
            "A member with the email \"{email}\" already exists."
        )));
    }
    Ok(())
}

/// Refuses one more active member when the organization's seat limit is reached.
fn check_seat(c: &Connection, org_id: &str, id: &str) -> Result<(), StoreError> {
    let limit: Option<i64> = c
        .prepare_cached("SELECT seat_limit FROM organizations WHERE id = ?1")?
        .query_row([org_id], |r| r.get(0))?;
    let Some(limit) = limit else {
        return Ok(());
    };
    let active: i64 = c
        .prepare_cached("SELECT count(*) FROM users WHERE org_id = ?1 AND active = 1 AND id <> ?2")?
        .query_row(params![org_id, id], |r| r.get(0))?;
    if active >= limit {
        return Err(StoreError::SeatLimit);
    }
    Ok(())
}
