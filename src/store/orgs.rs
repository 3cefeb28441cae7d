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
    /// Root of the organization's LDAP tree, e.g. `dc=acme` ([`parse_ldap_base`]).
    pub ldap_base_dn: String,
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
    /// The LDAP base DN ([`parse_ldap_base`]; unique across the appliance).
    pub ldap_base_dn: Option<String>,
}

const ORG_COLUMNS: &str =
    "id, name, scim_enabled, seat_limit, created_at, updated_at, coalesce(ldap_base_dn, '')";

fn org_from_row(r: &Row<'_>) -> rusqlite::Result<Organization> {
    Ok(Organization {
        id: r.get(0)?,
        name: r.get(1)?,
        scim_enabled: r.get(2)?,
        seat_limit: r.get(3)?,
        created_at: r.get(4)?,
        updated_at: r.get(5)?,
        ldap_base_dn: r.get(6)?,
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
            let ldap_base_dn = default_ldap_base(tx, &name)?;
            tx.execute(
                "INSERT INTO organizations (id, name, scim_enabled, created_at, updated_at,
                                            ldap_base_dn, ldap_base_key)
                 VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6)",
                params![
                    id,
                    name,
                    scim_enabled,
                    now,
                    ldap_base_dn,
                    ldap_base_key(&ldap_base_dn)
                ],
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
                ldap_base_dn,
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
        let ldap_base_dn = changes
            .ldap_base_dn
            .as_deref()
            .map(parse_ldap_base)
            .transpose()?;
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
            if let Some(dn) = ldap_base_dn.filter(|dn| *dn != before.ldap_base_dn) {
                let taken = tx
                    .prepare_cached(
                        "SELECT name FROM organizations WHERE ldap_base_key = ?1 AND id <> ?2",
                    )?
                    .query_row(params![ldap_base_key(&dn), org_id], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()?;
                if let Some(other) = taken {
                    return Err(StoreError::Conflict(format!(
                        "the LDAP base DN \"{dn}\" is already the base of organization \"{other}\""
                    )));
                }
                events.push((
                    EventType::OrganizationLdapBaseChanged,
                    format!(
                        "LDAP base DN changed from \"{}\" to \"{dn}\"",
                        before.ldap_base_dn
                    ),
                ));
                after.ldap_base_dn = dn;
            }
            if events.is_empty() {
                return Ok(before);
            }
            after.updated_at = now.clone();
            tx.execute(
                "UPDATE organizations SET name = ?2, scim_enabled = ?3, seat_limit = ?4,
                 updated_at = ?5, ldap_base_dn = ?6, ldap_base_key = ?7 WHERE id = ?1",
                params![
                    org_id,
                    after.name,
                    after.scim_enabled,
                    after.seat_limit,
                    now,
                    after.ldap_base_dn,
                    ldap_base_key(&after.ldap_base_dn),
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
                coalesce(o.ldap_base_dn, ''), k.key_id, k.created_at,
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
            key_id: r.get(7)?,
            key_created_at: r.get(8)?,
            members: r.get::<_, i64>(9)? as u64,
            active_members: r.get::<_, i64>(10)? as u64,
            groups: r.get::<_, i64>(11)? as u64,
            last_activity_at: r.get(12)?,
            keys: r.get::<_, i64>(13)? as u64,
        })
    })?;
    rows.collect::<Result<_, _>>().map_err(StoreError::from)
}

/// Longest LDAP base DN accepted.
pub const MAX_LDAP_BASE_CHARS: usize = 200;

/// Checks an LDAP base DN: one or more `attribute=value` components separated by commas, the
/// attribute a name (`dc`, `o`, `ou`, …), the value letters, digits, spaces, `.`, `_` or `-`
/// (so that it needs no escaping in any client's configuration). Returns it tidied: no spaces
/// around `=` and `,`, attribute names in lower case.
pub fn parse_ldap_base(dn: &str) -> Result<String, StoreError> {
    let invalid = |why: &str| {
        StoreError::Invalid(format!(
            "the LDAP base DN {why}; write it like \"dc=example,dc=com\" or \"o=acme\""
        ))
    };
    let dn = dn.trim();
    if dn.is_empty() {
        return Err(invalid("must not be empty"));
    }
    if dn.chars().count() > MAX_LDAP_BASE_CHARS {
        return Err(invalid(&format!(
            "must be at most {MAX_LDAP_BASE_CHARS} characters"
        )));
    }
    let mut parts = Vec::new();
    for component in dn.split(',') {
        let Some((attr, value)) = component.split_once('=') else {
            return Err(invalid(&format!(
                "has a component without \"=\" (\"{component}\")"
            )));
        };
        let (attr, value) = (attr.trim(), value.trim());
        let attr_ok = attr.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && attr.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !attr_ok {
            return Err(invalid(&format!(
                "has an invalid attribute name \"{attr}\""
            )));
        }
        let value_ok = !value.is_empty()
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-'));
        if !value_ok {
            return Err(invalid(&format!(
                "has a value \"{value}\" with characters other than letters, digits, space, \
                 '.', '_' and '-'"
            )));
        }
        parts.push(format!("{}={value}", attr.to_ascii_lowercase()));
    }
    Ok(parts.join(","))
}

/// The form base DNs are compared in: attribute names and values in lower case (LDAP compares
/// `dc`, `o` and `ou` values case-insensitively).
pub(super) fn ldap_base_key(dn: &str) -> String {
    dn.to_lowercase()
}

/// A base DN for a new organization: `dc=<name in lower case, letters and digits joined by
/// ->`, with `-2`, `-3`, … when another organization has it.
fn default_ldap_base(c: &Connection, name: &str) -> Result<String, StoreError> {
    let mut slug = String::new();
    for ch in name.to_lowercase().chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug: String = slug.trim_end_matches('-').chars().take(40).collect();
    if slug.is_empty() {
        slug.push_str("org");
    }
    let mut taken = c.prepare_cached("SELECT 1 FROM organizations WHERE ldap_base_key = ?1")?;
    for n in 1.. {
        let dn = match n {
            1 => format!("dc={slug}"),
            n => format!("dc={slug}-{n}"),
        };
        if !taken.exists([ldap_base_key(&dn)])? {
            return Ok(dn);
        }
    }
    unreachable!("some suffix is free")
}

/// Gives every organization without a base DN its default (organizations created before
/// LDAP existed); run when the store opens.
pub(super) fn assign_missing_ldap_bases(tx: &Connection) -> Result<(), StoreError> {
    let missing: Vec<(String, String)> = tx
        .prepare(
            "SELECT id, name FROM organizations WHERE ldap_base_dn IS NULL ORDER BY created_at, id",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    for (id, name) in missing {
        let dn = default_ldap_base(tx, &name)?;
        tx.execute(
            "UPDATE organizations SET ldap_base_dn = ?2, ldap_base_key = ?3 WHERE id = ?1",
            params![id, dn, ldap_base_key(&dn)],
        )?;
    }
    Ok(())
}

impl Store {
    /// Sets the organization's LDAP base DN (checked by [`parse_ldap_base`], unique across the
    /// appliance); an LDAP client sees the new tree at once.
    pub fn set_ldap_base(
        &self,
        org_id: &str,
        dn: &str,
        actor: Actor,
    ) -> Result<Organization, StoreError> {
        let changes = OrgChanges {
            ldap_base_dn: Some(dn.to_owned()),
            ..OrgChanges::default()
        };
        self.update_org(org_id, &changes, actor)
    }

    /// The organization whose LDAP base DN is `dn` (compared as LDAP does: case-insensitive,
    /// spaces around separators ignored), if any.
    pub fn org_by_ldap_base(&self, dn: &str) -> Result<Option<Organization>, StoreError> {
        let Ok(dn) = parse_ldap_base(dn) else {
            return Ok(None);
        };
        self.read(|c| {
            c.prepare_cached(&format!(
                "SELECT {ORG_COLUMNS} FROM organizations WHERE ldap_base_key = ?1"
            ))?
            .query_row([ldap_base_key(&dn)], org_from_row)
            .optional()
            .map_err(StoreError::from)
        })
    }
}
