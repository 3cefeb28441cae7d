//! SCIM API keys: any number per organization, each with a name, a scope and an optional
//! expiry. The store keeps only an argon2id hash of each token (the token never reaches it);
//! every change is an event naming the key id, never the secret.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, params};
use serde::Serialize;
use time::OffsetDateTime;

use super::orgs::require_org;
use super::{Actor, EventType, NewEvent, Store, StoreError};
use crate::timestamp;

/// Longest key name accepted.
pub const MAX_KEY_NAME_CHARS: usize = 100;
/// The name of a key issued without one (and of every key migrated from schema version 3).
pub const DEFAULT_KEY_NAME: &str = "default";

/// What a key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyScope {
    /// Everything SCIM allows: what an identity provider uses.
    Provision,
    /// Reading and searching the directory only.
    Read,
}

impl KeyScope {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Provision => "provision",
            KeyScope::Read => "read",
        }
    }

    /// The scope named `text` (`provision` or `read`).
    pub fn parse(text: &str) -> Result<KeyScope, StoreError> {
        match text.trim() {
            "provision" => Ok(KeyScope::Provision),
            "read" => Ok(KeyScope::Read),
            other => Err(StoreError::Invalid(format!(
                "the scope must be \"provision\" or \"read\", not \"{other}\""
            ))),
        }
    }
}

/// A new key to store (the token itself is never passed to the store).
#[derive(Clone, Copy, Debug)]
pub struct IssuedKey<'a> {
    pub key_id: &'a str,
    pub phc: &'a str,
}

/// What a new key is for: its name (checked by [`parse_key_name`]), scope and expiry.
#[derive(Clone, Debug)]
pub struct KeySpec<'a> {
    pub name: &'a str,
    pub scope: KeyScope,
    /// When the key stops working; `None`: never.
    pub expires_at: Option<OffsetDateTime>,
}

/// An API key as listed: everything about it but its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    /// The public id, also inside the token.
    pub key_id: String,
    pub name: String,
    pub scope: KeyScope,
    pub created_at: String,
    /// `cli`, `admin`, or `unknown` for a key made before keys recorded it.
    pub created_by: String,
    pub expires_at: Option<String>,
    /// Coarse: the server writes it at most once a minute per key.
    pub last_used_at: Option<String>,
    /// Whether `expires_at` has passed (the key is refused like an unknown one).
    pub expired: bool,
}

/// What authentication needs to know about a presented key id, read in one indexed query.
#[derive(Clone, Debug)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub phc: String,
    pub scim_enabled: bool,
    pub scope: KeyScope,
    pub expires_at: Option<String>,
}

impl ApiKeyRecord {
    /// Whether the key has expired by `now` (a stored timestamp).
    pub fn expired_at(&self, now: &str) -> bool {
        self.expires_at.as_deref().is_some_and(|at| at <= now)
    }
}

/// Which key a rotation replaces.
#[derive(Clone, Copy, Debug)]
pub enum RotationTarget<'a> {
    /// The key with this id.
    Key(&'a str),
    /// The organization's one current provision key (what `org rotate-key` and the admin API's
    /// `api-key` endpoint have always replaced); a first one named `default` when there is none,
    /// and a conflict when there are several.
    OnlyProvisionKey,
}

/// A rotation's outcome: the new key, and what became of the one it replaces.
#[derive(Clone, Debug)]
pub struct Rotation {
    pub key: ApiKey,
    /// `None` when there was nothing to replace (a first key was issued).
    pub replaced: Option<ReplacedKey>,
}

/// The key a rotation replaced.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplacedKey {
    pub key_id: String,
    /// Until when it still works; `None`: it was removed at once.
    pub expires_at: Option<String>,
}

/// Trims and checks a key name: non-empty, at most [`MAX_KEY_NAME_CHARS`] characters, no
/// control characters.
pub fn parse_key_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(StoreError::Invalid("the key name must not be empty".into()));
    }
    if name.chars().count() > MAX_KEY_NAME_CHARS {
        return Err(StoreError::Invalid(format!(
            "the key name must be at most {MAX_KEY_NAME_CHARS} characters"
        )));
    }
    if name.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "the key name must not contain control characters".into(),
        ));
    }
    Ok(name.to_owned())
}

const KEY_COLUMNS: &str = "key_id, name, scope, created_at, created_by, expires_at, last_used_at";

fn key_from_row(r: &Row<'_>, now: &str) -> rusqlite::Result<ApiKey> {
    let scope: String = r.get(2)?;
    let expires_at: Option<String> = r.get(5)?;
    Ok(ApiKey {
        key_id: r.get(0)?,
        name: r.get(1)?,
        // The table's CHECK constraint allows only the two names.
        scope: KeyScope::parse(&scope).unwrap_or(KeyScope::Read),
        created_at: r.get(3)?,
        created_by: r.get(4)?,
        expired: expires_at.as_deref().is_some_and(|at| at <= now),
        expires_at,
        last_used_at: r.get(6)?,
    })
}

impl Store {
    /// Adds a key to the organization; it works at once.
    pub fn add_api_key(
        &self,
        org_id: &str,
        key: IssuedKey<'_>,
        spec: &KeySpec<'_>,
        actor: Actor,
    ) -> Result<ApiKey, StoreError> {
        let name = parse_key_name(spec.name)?;
        let expires_at = spec.expires_at.map(timestamp::format);
        let now = timestamp::now();
        self.write(|tx| {
            require_org(tx, org_id)?;
            NewKey {
                key,
                name: &name,
                scope: spec.scope,
                expires_at: expires_at.as_deref(),
            }
            .insert(tx, org_id, actor, &now)
        })
    }

    /// The organization's keys, oldest first.
    pub fn list_api_keys(&self, org_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let now = timestamp::now();
        self.read(|c| {
            require_org(c, org_id)?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = ?1 ORDER BY created_at, rowid"
            ))?;
            let rows = stmt.query_map([org_id], |r| key_from_row(r, &now))?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })
    }

    /// Deletes a key of the organization; it stops working on the next request. Returns it as
    /// it was.
    pub fn revoke_api_key(
        &self,
        org_id: &str,
        key_id: &str,
        actor: Actor,
    ) -> Result<ApiKey, StoreError> {
        let now = timestamp::now();
        self.write(|tx| {
            require_org(tx, org_id)?;
            let key = load_key(tx, org_id, key_id, &now)?;
            tx.execute(
                "DELETE FROM api_keys WHERE org_id = ?1 AND key_id = ?2",
                params![org_id, key_id],
            )?;
            NewEvent::by_operator(
                actor,
                EventType::OrganizationApiKeyRevoked,
                format!(
                    "API key \"{}\" ({}) revoked; key id {}",
                    key.name,
                    key.scope.as_str(),
                    key.key_id
                ),
            )
            .key(key_id)
            .detail(key_detail(&key))
            .insert(tx, org_id)?;
            Ok(key)
        })
    }

    /// Replaces a key with `new`, of the same name and scope (and no expiry). Without `grace` (or with zero) the
    /// old key is deleted and stops on the next request; with it, the old key keeps working
    /// until now + `grace` (or its own expiry, if sooner), so a client can be switched over
    /// without a gap.
    pub fn rotate_api_key(
        &self,
        org_id: &str,
        target: RotationTarget<'_>,
        new: IssuedKey<'_>,
        grace: Option<Duration>,
        actor: Actor,
    ) -> Result<Rotation, StoreError> {
        let now_at = OffsetDateTime::now_utc();
        let now = timestamp::format(now_at);
        let grace_until = grace
            .filter(|g| !g.is_zero())
            .map(|g| timestamp::format(now_at + g));
        self.write(|tx| {
            require_org(tx, org_id)?;
            let old = match target {
                RotationTarget::Key(key_id) => load_key(tx, org_id, key_id, &now)?,
                RotationTarget::OnlyProvisionKey => match only_provision_key(tx, org_id, &now)? {
                    Some(old) => old,
                    None => {
                        let key = NewKey {
                            key: new,
                            name: DEFAULT_KEY_NAME,
                            scope: KeyScope::Provision,
                            expires_at: None,
                        }
                        .insert(tx, org_id, actor, &now)?;
                        return Ok(Rotation {
                            key,
                            replaced: None,
                        });
                    }
                },
            };
            // The old key may keep working for the grace period, never longer than it would have.
            let keep_until = match (grace_until.as_deref(), old.expires_at.as_deref()) {
                (Some(grace), Some(own)) => Some(grace.min(own)),
                (grace, _) => grace,
            }
            .filter(|until| *until > now.as_str())
            .map(str::to_owned);
            match &keep_until {
                Some(until) => tx.execute(
                    "UPDATE api_keys SET expires_at = ?3 WHERE org_id = ?1 AND key_id = ?2",
                    params![org_id, old.key_id, until],
                )?,
                None => tx.execute(
                    "DELETE FROM api_keys WHERE org_id = ?1 AND key_id = ?2",
                    params![org_id, old.key_id],
                )?,
            };
            // The replacement keeps the key's lifetime: a 90-day key is replaced by a key valid
            // for 90 days from now.
            let lifetime = old
                .expires_at
                .as_deref()
                .and_then(timestamp::parse)
                .zip(timestamp::parse(&old.created_at))
                .map(|(expires, created)| expires - created)
                .filter(|d| d.is_positive());
            let expires_at = lifetime.map(|d| timestamp::format(now_at + d));
            tx.execute(
                "INSERT INTO api_keys (key_id, org_id, name, scope, phc, created_at, created_by,
                                       expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    new.key_id,
                    org_id,
                    old.name,
                    old.scope.as_str(),
                    new.phc,
                    now,
                    actor.name(),
                    expires_at,
                ],
            )?;
            let key = load_key(tx, org_id, new.key_id, &now)?;
            let fate = match &keep_until {
                Some(until) => format!("stays valid until {until}"),
                None => "stops at once".to_owned(),
            };
            NewEvent::by_operator(
                actor,
                EventType::OrganizationApiKeyRotated,
                format!(
                    "API key \"{}\" ({}) rotated; new key id {}; the old key id {} {fate}",
                    old.name,
                    old.scope.as_str(),
                    new.key_id,
                    old.key_id
                ),
            )
            .key(new.key_id)
            .detail(key_detail(&key))
            .insert(tx, org_id)?;
            Ok(Rotation {
                key,
                replaced: Some(ReplacedKey {
                    key_id: old.key_id,
                    expires_at: keep_until,
                }),
            })
        })
    }

    /// The key row for `key_id` if it belongs to `org_id`: the one indexed read every
    /// authenticated request makes, so rotation, revocation, expiry and disabling apply
    /// immediately.
    pub fn api_key_for(
        &self,
        org_id: &str,
        key_id: &str,
    ) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.read(|c| {
            c.prepare_cached(
                "SELECT k.key_id, k.phc, o.scim_enabled, k.scope, k.expires_at
                 FROM api_keys k JOIN organizations o ON o.id = k.org_id
                 WHERE k.key_id = ?1 AND k.org_id = ?2",
            )?
            .query_row(params![key_id, org_id], |r| {
                let scope: String = r.get(3)?;
                Ok(ApiKeyRecord {
                    key_id: r.get(0)?,
                    phc: r.get(1)?,
                    scim_enabled: r.get(2)?,
                    scope: KeyScope::parse(&scope).unwrap_or(KeyScope::Read),
                    expires_at: r.get(4)?,
                })
            })
            .optional()
            .map_err(StoreError::from)
        })
    }

    /// Records when keys were last used (`(key id, stored timestamp)` pairs, gathered in memory
    /// by the server), in one transaction; a time never moves backwards, and keys deleted
    /// meanwhile are skipped.
    pub fn record_key_use(&self, uses: &[(String, String)]) -> Result<(), StoreError> {
        if uses.is_empty() {
            return Ok(());
        }
        self.write(|tx| {
            let mut stmt = tx.prepare_cached(
                "UPDATE api_keys SET last_used_at = ?2
                 WHERE key_id = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
            )?;
            for (key_id, at) in uses {
                stmt.execute(params![key_id, at])?;
            }
            Ok(())
        })
    }
}

/// A key about to be inserted, with its event.
pub(super) struct NewKey<'a> {
    pub key: IssuedKey<'a>,
    pub name: &'a str,
    pub scope: KeyScope,
    pub expires_at: Option<&'a str>,
}

impl NewKey<'_> {
    /// Inserts the key and its `Organization_ApiKeyAdded` event inside the caller's
    /// transaction; returns the key as listed.
    pub fn insert(
        &self,
        conn: &Connection,
        org_id: &str,
        actor: Actor,
        now: &str,
    ) -> Result<ApiKey, StoreError> {
        conn.execute(
            "INSERT INTO api_keys (key_id, org_id, name, scope, phc, created_at, created_by,
                                   expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                self.key.key_id,
                org_id,
                self.name,
                self.scope.as_str(),
                self.key.phc,
                now,
                actor.name(),
                self.expires_at,
            ],
        )?;
        let key = load_key(conn, org_id, self.key.key_id, now)?;
        let until = match self.expires_at {
            Some(at) => format!(", valid until {at}"),
            None => String::new(),
        };
        NewEvent::by_operator(
            actor,
            EventType::OrganizationApiKeyAdded,
            format!(
                "API key \"{}\" ({}) added; key id {}{until}",
                self.name,
                self.scope.as_str(),
                self.key.key_id
            ),
        )
        .key(self.key.key_id)
        .detail(key_detail(&key))
        .insert(conn, org_id)?;
        Ok(key)
    }
}

/// What a key event's webhook message says about the key (`data.key`): the key as listed,
/// never its secret.
fn key_detail(key: &ApiKey) -> serde_json::Value {
    // A struct of strings, options and booleans: serializing it cannot fail.
    serde_json::to_value(key).unwrap_or_default()
}

fn load_key(
    conn: &Connection,
    org_id: &str,
    key_id: &str,
    now: &str,
) -> Result<ApiKey, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE org_id = ?1 AND key_id = ?2"
    ))?
    .query_row(params![org_id, key_id], |r| key_from_row(r, now))
    .optional()?
    .ok_or_else(|| {
        StoreError::NotFound(format!(
            "the organization has no API key with the id \"{key_id}\""
        ))
    })
}

/// The organization's one provision key that has not expired, if any; a conflict when there
/// are several (the caller must say which).
fn only_provision_key(
    conn: &Connection,
    org_id: &str,
    now: &str,
) -> Result<Option<ApiKey>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys
         WHERE org_id = ?1 AND scope = 'provision' AND (expires_at IS NULL OR expires_at > ?2)
         ORDER BY created_at, rowid"
    ))?;
    let mut keys = stmt
        .query_map(params![org_id, now], |r| key_from_row(r, now))?
        .collect::<Result<Vec<_>, _>>()?;
    if keys.len() > 1 {
        let ids: Vec<&str> = keys.iter().map(|k| k.key_id.as_str()).collect();
        return Err(StoreError::Conflict(format!(
            "the organization has {} provision keys ({}); say which one to rotate",
            keys.len(),
            ids.join(", ")
        )));
    }
    Ok(keys.pop())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SyncMode;

    fn store_with_org() -> (tempfile::TempDir, Store, String) {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let key = IssuedKey {
            key_id: "first",
            phc: "x",
        };
        let org = store
            .create_org("Acme", Some(key), Actor::Cli)
            .expect("org")
            .id;
        (dir, store, org)
    }

    fn add(store: &Store, org: &str, key_id: &str, scope: KeyScope, expires_in: Option<i64>) {
        let spec = KeySpec {
            name: key_id,
            scope,
            expires_at: expires_in.map(|m| OffsetDateTime::now_utc() + time::Duration::minutes(m)),
        };
        let key = IssuedKey { key_id, phc: "x" };
        store
            .add_api_key(org, key, &spec, Actor::Admin)
            .expect("added");
    }

    #[test]
    fn key_names_are_trimmed_and_bounded() {
        assert_eq!(parse_key_name("  wiki sync ").expect("name"), "wiki sync");
        assert!(parse_key_name(&"é".repeat(100)).is_ok());
        for bad in ["", "   ", "line\nbreak", "nul\0"] {
            assert!(parse_key_name(bad).is_err(), "{bad:?}");
        }
        assert!(parse_key_name(&"x".repeat(101)).is_err());
    }

    #[test]
    fn a_grace_never_extends_a_keys_own_expiry() {
        let (_dir, store, org) = store_with_org();
        add(&store, &org, "soon", KeyScope::Read, Some(10));
        let own = store.list_api_keys(&org).expect("keys")[1]
            .expires_at
            .clone();
        let new = IssuedKey {
            key_id: "next",
            phc: "y",
        };
        let hour = Some(Duration::from_secs(3600));
        let rotation = store
            .rotate_api_key(&org, RotationTarget::Key("soon"), new, hour, Actor::Cli)
            .expect("rotated");
        assert_eq!(rotation.replaced.expect("replaced").expires_at, own);
        assert_eq!(rotation.key.name, "soon");
        assert_eq!(rotation.key.scope, KeyScope::Read);
        // The replacement lives as long as the key did: 10 minutes from now.
        let expires = rotation
            .key
            .expires_at
            .as_deref()
            .and_then(timestamp::parse);
        let left = expires.expect("an expiry") - OffsetDateTime::now_utc();
        assert!((9..=10).contains(&left.whole_minutes()), "{left}");
    }

    #[test]
    fn a_key_without_expiry_is_replaced_by_one_without() {
        let (_dir, store, org) = store_with_org();
        let new = IssuedKey {
            key_id: "next",
            phc: "y",
        };
        let rotation = store
            .rotate_api_key(&org, RotationTarget::Key("first"), new, None, Actor::Cli)
            .expect("rotated");
        assert_eq!(rotation.key.expires_at, None);
    }

    #[test]
    fn the_only_provision_key_ignores_read_and_expired_keys_and_refuses_several() {
        let (_dir, store, org) = store_with_org();
        add(&store, &org, "reader", KeyScope::Read, None);
        add(&store, &org, "old", KeyScope::Provision, Some(-1));
        let rotate = |key_id| {
            let new = IssuedKey { key_id, phc: "y" };
            store.rotate_api_key(
                &org,
                RotationTarget::OnlyProvisionKey,
                new,
                None,
                Actor::Cli,
            )
        };
        let rotation = rotate("second").expect("one current provision key");
        assert_eq!(rotation.replaced.expect("replaced").key_id, "first");

        add(&store, &org, "third", KeyScope::Provision, None);
        assert!(matches!(rotate("fourth"), Err(StoreError::Conflict(_))));
        let ids: Vec<String> = store
            .list_api_keys(&org)
            .expect("keys")
            .into_iter()
            .map(|k| k.key_id)
            .collect();
        assert_eq!(ids, ["reader", "old", "second", "third"]);
    }

    #[test]
    fn an_organization_with_many_keys_is_listed_once_with_its_newest_provision_key() {
        let (_dir, store, org) = store_with_org();
        add(&store, &org, "reader", KeyScope::Read, None);
        add(&store, &org, "newest", KeyScope::Provision, None);
        add(&store, &org, "later reader", KeyScope::Read, None);

        let listed = store.list_orgs().expect("orgs");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].keys, 4);
        assert_eq!(listed[0].key_id.as_deref(), Some("newest"));
        let summary = store.org_summary(&org).expect("summary");
        assert_eq!(summary.key_id.as_deref(), Some("newest"));
    }
}
