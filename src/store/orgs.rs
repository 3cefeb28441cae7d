//! Organizations: their settings and, as listed, facts about their keys and directories. The
//! keys themselves are `keys.rs`.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::keys::{DEFAULT_KEY_NAME, IssuedKey, KeyScope, NewKey};
use super::{Actor, EventType, NewEvent, Store, StoreError};
use crate::timestamp;

/// Longest organization name accepted.
pub const MAX_ORG_NAME_CHARS: usize = 200;

/// An organization: one directory with its own SCIM base URL and key.
#[derive(Clone, Debug, Serialize)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub scim_enabled: bool,
    /// Maximum number of active members; `None` means unlimited.
    pub seat_limit: Option<u32>,
    pub created_at: String,
    pub updated_at: String,
}

/// An organization as listed: its settings, facts about its keys, and directory counts.
#[derive(Clone, Debug, Serialize)]
pub struct OrgSummary {
    #[serde(flatten)]
    pub org: Organization,
    /// Public id of the newest provision key, if there is one.
    pub key_id: Option<String>,
    /// When the newest provision key was issued.
    pub key_created_at: Option<String>,
    /// How many API keys the organization has, of any scope (expired ones included).
    pub keys: u64,
    pub members: u64,
    pub active_members: u64,
    pub groups: u64,
    /// Time of the newest change made through SCIM.
    pub last_activity_at: Option<String>,
}

/// Changes to an organization's settings, applied together; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct OrgChanges {
    pub name: Option<String>,
    pub scim_enabled: Option<bool>,
    /// `Some(None)` removes the seat limit.
    pub seat_limit: Option<Option<u32>>,
}

const ORG_COLUMNS: &str = "id, name, scim_enabled, seat_limit, created_at, updated_at";

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization {
        id: r.get(0)?,
        name: r.get(1)?,
        scim_enabled: r.get(2)?,
        seat_limit: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
    })
}

/// Trims and checks an organization name: non-empty, at most `MAX_ORG_NAME_CHARS`
/// characters, no control characters.
pub fn parse_org_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid(
            "the organization name must not be empty".into(),
        ));
    }
    if name.chars().count() > MAX_ORG_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "the organization name must be at most {MAX_ORG_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "the organization name must not contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

impl Store {
    /// Creates an organization. With a key (a provision key named `default`), SCIM is enabled
    /// and the key works at once (the command line's one-step setup); without, SCIM starts disabled and no key exists yet (the
    /// admin page's flow, as in Bitwarden: enable SCIM and generate a key when ready).
    pub fn create_org(
        &self,
        name: &str,
        key: Option<IssuedKey<'_>>,
        actor: Actor,
    ) -> Result<Organization, StoreError> {
        let name = parse_org_name(name)?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = timestamp::now();
        let scim_enabled = key.is_some();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO organizations (id, name, scim_enabled, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![id, name, scim_enabled, now],
            )?;
            let state = if scim_enabled { "enabled" } else { "disabled" };
            NewEvent::by_operator(
                actor,
                EventType::OrganizationCreated,
                format!("Organization \"{name}\" created with SCIM {state}"),
            )
            .insert(tx, &id)?;
            if let Some(key) = key {
                NewKey {
                    key,
                    name: DEFAULT_KEY_NAME,
                    scope: KeyScope::Provision,
                    expires_at: None,
                }
                .insert(tx, &id, actor, &now)?;
            }
            Ok(Organization {
                id: id.clone(),
                name,
                scim_enabled,
                seat_limit: None,
                created_at: now.clone(),
                updated_at: now.clone(),
            })
        })
    }

    /// The organization with this exact id.
    pub fn get_org(&self, org_id: &str) -> Result<Organization, StoreError> {
        self.read(|c| load_org(c, org_id))
    }

    /// All organizations with their counts, by name.
    pub fn list_orgs(&self) -> Result<Vec<OrgSummary>, StoreError> {
        self.read(|c| summaries(c, None))
    }

    /// One organization with its counts.
    pub fn org_summary(&self, org_id: &str) -> Result<OrgSummary, StoreError> {
        self.read(|c| summaries(c, Some(org_id)))?
            .pop()
            .ok_or_else(|| not_found(org_id))
    }

    /// Finds an organization by id, or else by its exact name when that is unique.
    pub fn resolve_org(&self, reference: &str) -> Result<Organization, StoreError> {
        let reference = reference.trim();
        self.read(|c| {
            let by_id = c
                .query_row(
                    &format!("SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1"),
                    [reference.to_ascii_lowercase()],
                    org_from_row,
                )
                .optional()?;
            if let Some(org) = by_id {
                return Ok(org);
            }
            let mut stmt = c.prepare(&format!(
                "SELECT {ORG_COLUMNS} FROM organizations WHERE name = ?1 LIMIT 2"
            ))?;
            let mut named = stmt
                .query_map([reference], org_from_row)?
                .collect::<Result<Vec<_>, _>>()?;
            match named.len() {
                0 => Err(StoreError::NotFound(format!(
                    "no organization has the id or name \"{reference}\""
                ))),
                1 => Ok(named.remove(0)),
                _ => Err(StoreError::Invalid(format!(
                    "several organizations are named \"{reference}\"; use the id"
                ))),
            }
        })
    }

    /// Applies `changes` in one transaction, logging one event per field that really changed,
    /// and returns the organization as it is now.
    pub fn update_org(
        &self,
        org_id: &str,
        changes: &OrgChanges,
        actor: Actor,
    ) -> Result<Organization, StoreError> {
        let name = changes.name.as_deref().map(parse_org_name).transpose()?;
        let now = timestamp::now();
        self.write(|tx| {
            let before = load_org(tx, org_id)?;
            let mut after = before.clone();
            let mut events = Vec::new();
            if let Some(name) = name.filter(|n| *n != before.name) {
                events.push((
                    EventType::OrganizationRenamed,
                    format!(
                        "Organization renamed from \"{}\" to \"{name}\"",
                        before.name
                    ),
                ));
                after.name = name;
            }
            if let Some(enabled) = changes.scim_enabled.filter(|e| *e != before.scim_enabled) {
                events.push(if enabled {
                    (
                        EventType::OrganizationScimEnabled,
                        "SCIM provisioning enabled".to_owned(),
                    )
                } else {
                    (
                        EventType::OrganizationScimDisabled,
                        "SCIM provisioning disabled".to_owned(),
                    )
                });
                after.scim_enabled = enabled;
            }
            if let Some(limit) = changes.seat_limit.filter(|l| *l != before.seat_limit) {
                events.push((
                    EventType::OrganizationSeatLimitChanged,
                    match limit {
                        Some(n) => format!("Seat limit set to {n} active members"),
                        None => "Seat limit removed".to_owned(),
                    },
                ));
                after.seat_limit = limit;
            }
            if events.is_empty() {
                return Ok(before);
            }
            after.updated_at = now.clone();
            tx.execute(
                "UPDATE organizations SET name = ?2, scim_enabled = ?3, seat_limit = ?4,
                 updated_at = ?5 WHERE id = ?1",
                params![
                    org_id,
                    after.name,
                    after.scim_enabled,
                    after.seat_limit,
                    now
                ],
            )?;
            for (event_type, summary) in events {
                NewEvent::by_operator(actor, event_type, summary).insert(tx, org_id)?;
            }
            Ok(after)
        })
    }

    /// Deletes an organization with everything in it (key, members, groups, events).
    pub fn delete_org(&self, org_id: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            require_org(tx, org_id)?;
            tx.execute("DELETE FROM organizations WHERE id = ?1", [org_id])?;
            Ok(())
        })
    }
}

pub(super) fn require_org(conn: &Connection, org_id: &str) -> Result<(), StoreError> {
    load_org(conn, org_id).map(drop)
}

fn load_org(conn: &Connection, org_id: &str) -> Result<Organization, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {ORG_COLUMNS} FROM organizations WHERE id = ?1"
    ))?
    .query_row([org_id], org_from_row)
    .optional()?
    .ok_or_else(|| not_found(org_id))
}

fn not_found(org_id: &str) -> StoreError {
    StoreError::NotFound(format!("no organization has the id \"{org_id}\""))
}

/// Summaries of every organization, or of the one with id `only`: one row each, with the
/// newest provision key beside it. The counts use the `(org_id, …)` indexes of users, groups,
/// events and keys.
fn summaries(c: &Connection, only: Option<&str>) -> Result<Vec<OrgSummary>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT o.id, o.name, o.scim_enabled, o.seat_limit, o.created_at, o.updated_at,
                k.key_id, k.created_at,
                (SELECT count(*) FROM users u WHERE u.org_id = o.id),
                (SELECT count(*) FROM users u WHERE u.org_id = o.id AND u.active = 1),
                (SELECT count(*) FROM groups g WHERE g.org_id = o.id),
                (SELECT max(at) FROM events e WHERE e.org_id = o.id AND e.actor = ?2),
                (SELECT count(*) FROM api_keys a WHERE a.org_id = o.id)
         FROM organizations o
         LEFT JOIN api_keys k ON k.rowid =
             (SELECT p.rowid FROM api_keys p WHERE p.org_id = o.id AND p.scope = 'provision'
              ORDER BY p.created_at DESC, p.rowid DESC LIMIT 1)
         WHERE ?1 IS NULL OR o.id = ?1
         ORDER BY o.name, o.id",
    )?;
    let rows = stmt.query_map(params![only, Actor::Scim.name()], |r| {
        Ok(OrgSummary {
            org: org_from_row(r)?,
            key_id: r.get(6)?,
            key_created_at: r.get(7)?,
            members: r.get::<_, i64>(8)? as u64,
            active_members: r.get::<_, i64>(9)? as u64,
            groups: r.get::<_, i64>(10)? as u64,
            last_activity_at: r.get(11)?,
            keys: r.get::<_, i64>(12)? as u64,
        })
    })?;
    rows.collect::<Result<_, _>>().map_err(StoreError::from)
}
