//! Organizations and their SCIM API keys.

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;

use super::{EventType, NewEvent, Store, StoreError};
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

/// An organization as listed, with facts about its key.
#[derive(Clone, Debug, Serialize)]
pub struct OrgSummary {
    #[serde(flatten)]
    pub org: Organization,
    /// When the current API key was issued.
    pub key_created_at: Option<String>,
}

/// A new key to store (the token itself is never passed to the store).
#[derive(Clone, Copy, Debug)]
pub struct IssuedKey<'a> {
    pub key_id: &'a str,
    pub phc: &'a str,
}

/// What authentication needs to know about a presented key id, read in one indexed query.
#[derive(Clone, Debug)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub phc: String,
    pub scim_enabled: bool,
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

/// Trims and checks an organization name: non-empty, at most [`MAX_ORG_NAME_CHARS`]
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
    /// Creates an organization with SCIM enabled and its first API key.
    pub fn create_org(&self, name: &str, key: IssuedKey<'_>) -> Result<Organization, StoreError> {
        let name = parse_org_name(name)?;
        let id = uuid::Uuid::new_v4().to_string();
        let now = timestamp::now();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO organizations (id, name, scim_enabled, created_at, updated_at)
                 VALUES (?1, ?2, 1, ?3, ?3)",
                params![id, name, now],
            )?;
            insert_key(tx, &id, key, &now)?;
            NewEvent::by_cli(
                EventType::OrganizationCreated,
                format!("Organization \"{name}\" created with SCIM enabled"),
            )
            .insert(tx, &id)?;
            Ok(Organization {
                id: id.clone(),
                name,
                scim_enabled: true,
                seat_limit: None,
                created_at: now.clone(),
                updated_at: now.clone(),
            })
        })
    }

    /// All organizations, by name.
    pub fn list_orgs(&self) -> Result<Vec<OrgSummary>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT o.id, o.name, o.scim_enabled, o.seat_limit, o.created_at, o.updated_at,
                        k.created_at
                 FROM organizations o LEFT JOIN api_keys k ON k.org_id = o.id
                 ORDER BY o.name, o.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(OrgSummary {
                    org: org_from_row(r)?,
                    key_created_at: r.get(6)?,
                })
            })?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })
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

    /// Replaces the organization's API key; the old key stops working on the next request.
    pub fn replace_api_key(&self, org_id: &str, key: IssuedKey<'_>) -> Result<(), StoreError> {
        let now = timestamp::now();
        self.write(|tx| {
            require_org(tx, org_id)?;
            tx.execute("DELETE FROM api_keys WHERE org_id = ?1", [org_id])?;
            insert_key(tx, org_id, key, &now)?;
            NewEvent::by_cli(
                EventType::OrganizationApiKeyRotated,
                format!("API key rotated; the new key id is {}", key.key_id),
            )
            .insert(tx, org_id)?;
            Ok(())
        })
    }

    /// Turns SCIM provisioning on or off; returns whether anything changed.
    pub fn set_scim_enabled(&self, org_id: &str, enabled: bool) -> Result<bool, StoreError> {
        let now = timestamp::now();
        self.write(|tx| {
            require_org(tx, org_id)?;
            let changed = tx.execute(
                "UPDATE organizations SET scim_enabled = ?2, updated_at = ?3
                 WHERE id = ?1 AND scim_enabled <> ?2",
                params![org_id, enabled, now],
            )? > 0;
            if changed {
                let (event_type, summary) = if enabled {
                    (
                        EventType::OrganizationScimEnabled,
                        "SCIM provisioning enabled",
                    )
                } else {
                    (
                        EventType::OrganizationScimDisabled,
                        "SCIM provisioning disabled",
                    )
                };
                NewEvent::by_cli(event_type, summary.into()).insert(tx, org_id)?;
            }
            Ok(changed)
        })
    }

    /// Sets or clears (`None`) the maximum number of active members.
    pub fn set_seat_limit(&self, org_id: &str, limit: Option<u32>) -> Result<(), StoreError> {
        let now = timestamp::now();
        self.write(|tx| {
            require_org(tx, org_id)?;
            tx.execute(
                "UPDATE organizations SET seat_limit = ?2, updated_at = ?3 WHERE id = ?1",
                params![org_id, limit, now],
            )?;
            let summary = match limit {
                Some(n) => format!("Seat limit set to {n} active members"),
                None => "Seat limit removed".to_owned(),
            };
            NewEvent::by_cli(EventType::OrganizationSeatLimitChanged, summary)
                .insert(tx, org_id)?;
            Ok(())
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

    /// The key row for `key_id` if it belongs to `org_id`: the one indexed read every
    /// authenticated request makes, so rotation and disabling apply immediately.
    pub fn api_key_for(
        &self,
        org_id: &str,
        key_id: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT k.key_id, k.phc, o.scim_enabled
                 FROM api_keys k JOIN organizations o ON o.id = k.org_id
                 WHERE k.key_id = ?1 AND k.org_id = ?2",
            )?
            .query_row(params![key_id, org_id], |r| {
                Ok(ApiKeyRecord {
                    key_id: r.get(0)?,
                    phc: r.get(1)?,
                    scim_enabled: r.get(2)?,
                })
            })
            .optional()
            .map_err(StoreError::from)
        })
    }
}

fn insert_key(
    conn: &Connection,
    org_id: &str,
    key: IssuedKey<'_>,
    now: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO api_keys (key_id, org_id, phc, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![key.key_id, org_id, key.phc, now],
    )?;
    Ok(())
}

fn require_org(conn: &Connection, org_id: &str) -> Result<(), StoreError> {
    let exists = conn
        .query_row(
            "SELECT 1 FROM organizations WHERE id = ?1",
            [org_id],
            |_| Ok(()),
        )
        .optional()?;
    exists.ok_or_else(|| StoreError::NotFound(format!("no organization has the id \"{org_id}\"")))
}
