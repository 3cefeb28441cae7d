//! The event log: one row per change, written in the same transaction as the change itself.

use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError, outbox};
use crate::timestamp;

/// Kinds of events. SCIM-originated ones keep Bitwarden's event names so that people who know
/// Bitwarden's event log recognise them; the organization ones are the appliance's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    OrganizationCreated,
    OrganizationRenamed,
    OrganizationApiKeyAdded,
    OrganizationApiKeyRotated,
    OrganizationApiKeyRevoked,
    OrganizationScimEnabled,
    OrganizationScimDisabled,
    OrganizationSeatLimitChanged,
    OrganizationLdapBaseChanged,
    OrganizationUserInvited,
    OrganizationUserUpdated,
    OrganizationUserRevoked,
    OrganizationUserRestored,
    OrganizationUserRemoved,
    OrganizationUserUpdatedGroups,
    GroupCreated,
    GroupUpdated,
    GroupDeleted,
    WebhookAdded,
    WebhookUpdated,
    WebhookSecretRotated,
    WebhookDisabled,
    WebhookRemoved,
}

impl EventType {
    /// Every type, in the order a filter menu shows them.
    pub const ALL: [EventType; 23] = [
        EventType::OrganizationUserInvited,
        EventType::OrganizationUserUpdated,
        EventType::OrganizationUserRevoked,
        EventType::OrganizationUserRestored,
        EventType::OrganizationUserRemoved,
        EventType::OrganizationUserUpdatedGroups,
        EventType::GroupCreated,
        EventType::GroupUpdated,
        EventType::GroupDeleted,
        EventType::OrganizationCreated,
        EventType::OrganizationRenamed,
        EventType::OrganizationApiKeyAdded,
        EventType::OrganizationApiKeyRotated,
        EventType::OrganizationApiKeyRevoked,
        EventType::OrganizationScimEnabled,
        EventType::OrganizationScimDisabled,
        EventType::OrganizationSeatLimitChanged,
        EventType::OrganizationLdapBaseChanged,
        EventType::WebhookAdded,
        EventType::WebhookUpdated,
        EventType::WebhookSecretRotated,
        EventType::WebhookDisabled,
        EventType::WebhookRemoved,
    ];

    /// The type stored under `name`, if any.
    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            EventType::OrganizationCreated => "Organization_Created",
            EventType::OrganizationRenamed => "Organization_Renamed",
            EventType::OrganizationApiKeyAdded => "Organization_ApiKeyAdded",
            EventType::OrganizationApiKeyRotated => "Organization_ApiKeyRotated",
            EventType::OrganizationApiKeyRevoked => "Organization_ApiKeyRevoked",
            EventType::OrganizationScimEnabled => "Organization_ScimEnabled",
            EventType::OrganizationScimDisabled => "Organization_ScimDisabled",
            EventType::OrganizationSeatLimitChanged => "Organization_SeatLimitChanged",
            EventType::OrganizationLdapBaseChanged => "Organization_LdapBaseChanged",
            EventType::OrganizationUserInvited => "OrganizationUser_Invited",
            EventType::OrganizationUserUpdated => "OrganizationUser_Updated",
            EventType::OrganizationUserRevoked => "OrganizationUser_Revoked",
            EventType::OrganizationUserRestored => "OrganizationUser_Restored",
            EventType::OrganizationUserRemoved => "OrganizationUser_Removed",
            EventType::OrganizationUserUpdatedGroups => "OrganizationUser_UpdatedGroups",
            EventType::GroupCreated => "Group_Created",
            EventType::GroupUpdated => "Group_Updated",
            EventType::GroupDeleted => "Group_Deleted",
            EventType::WebhookAdded => "Webhook_Added",
            EventType::WebhookUpdated => "Webhook_Updated",
            EventType::WebhookSecretRotated => "Webhook_SecretRotated",
            EventType::WebhookDisabled => "Webhook_Disabled",
            EventType::WebhookRemoved => "Webhook_Removed",
        }
    }
}

/// Who made a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// An identity provider, through the SCIM API (the key used is recorded beside it).
    Scim,
    /// An operator, through the command line.
    Cli,
    /// The administrator, through the admin page or its API.
    Admin,
    /// The appliance itself (e.g. disabling a webhook endpoint that keeps failing).
    System,
}

impl Actor {
    /// The name stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            Actor::Scim => "SCIM",
            Actor::Cli => "cli",
            Actor::Admin => "admin",
            Actor::System => "system",
        }
    }
}

/// Where a change came from: a SCIM request (with the API key that authenticated it) or an
/// operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin<'a> {
    /// A SCIM request authenticated with the key of this lookup id.
    Scim(&'a str),
    /// The command line or the admin page.
    Operator(Actor),
}

/// An event about to be written.
#[derive(Debug)]
pub struct NewEvent<'a> {
    pub event_type: EventType,
    pub actor: Actor,
    /// Lookup id of the API key that authenticated the change (SCIM changes), or of the key a
    /// key change is about.
    pub key_id: Option<&'a str>,
    pub member_id: Option<&'a str>,
    pub group_id: Option<&'a str>,
    /// One human-readable line: what changed.
    pub summary: String,
    /// What the event's webhook message says about the key or endpoint changed (never a
    /// secret); not stored in the event log.
    pub detail: Option<Value>,
}

impl<'a> NewEvent<'a> {
    /// An event by an operator (command line or admin page) about the organization itself.
    pub fn by_operator(actor: Actor, event_type: EventType, summary: String) -> NewEvent<'a> {
        NewEvent {
            event_type,
            actor,
            key_id: None,
            member_id: None,
            group_id: None,
            summary,
            detail: None,
        }
    }

    /// An event caused by a change from `origin`.
    pub fn by(origin: Origin<'a>, event_type: EventType, summary: String) -> NewEvent<'a> {
        let (actor, key_id) = match origin {
            Origin::Scim(key_id) => (Actor::Scim, Some(key_id)),
            Origin::Operator(actor) => (actor, None),
        };
        NewEvent {
            event_type,
            actor,
            key_id,
            member_id: None,
            group_id: None,
            summary,
            detail: None,
        }
    }

    pub fn member(mut self, member_id: &'a str) -> Self {
        self.member_id = Some(member_id);
        self
    }

    pub fn group(mut self, group_id: &'a str) -> Self {
        self.group_id = Some(group_id);
        self
    }

    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = Some(detail);
        self
    }

    /// The API key an operator's key change is about.
    pub fn key(mut self, key_id: &'a str) -> Self {
        self.key_id = Some(key_id);
        self
    }

    /// Appends this event inside the caller's transaction, with the webhook message it makes
    /// for the organization's endpoints ([`outbox`]); returns the event's id.
    pub fn insert(&self, conn: &Connection, org_id: &str) -> Result<i64, StoreError> {
        conn.prepare_cached(
            "INSERT INTO events (org_id, at, type, actor, key_id, member_id, group_id, summary)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            org_id,
            timestamp::now(),
            self.event_type.name(),
            self.actor.name(),
            self.key_id,
            self.member_id,
            self.group_id,
            self.summary,
        ])?;
        let id = conn.last_insert_rowid();
        outbox::enqueue_event(conn, org_id, id, self)?;
        Ok(id)
    }
}

/// A stored event, as listed.
#[derive(Debug, Serialize)]
pub struct Event {
    pub id: i64,
    pub at: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub actor: String,
    pub key_id: Option<String>,
    pub member_id: Option<String>,
    pub group_id: Option<String>,
    pub summary: String,
}

/// Which events to list: newest first, optionally of one type or one member, older than an id.
#[derive(Debug, Default)]
pub struct EventQuery<'a> {
    pub event_type: Option<EventType>,
    pub member_id: Option<&'a str>,
    /// Only events with a smaller id (the previous page's last id).
    pub before: Option<i64>,
    pub limit: u32,
}

/// Provisioning changes on one UTC day.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct DayCount {
    /// `YYYY-MM-DD`
    pub date: String,
    pub events: u64,
}

const EVENT_COLUMNS: &str = "id, at, type, actor, key_id, member_id, group_id, summary";

fn event_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Event> {
    Ok(Event {
        id: r.get(0)?,
        at: r.get(1)?,
        event_type: r.get(2)?,
        actor: r.get(3)?,
        key_id: r.get(4)?,
        member_id: r.get(5)?,
        group_id: r.get(6)?,
        summary: r.get(7)?,
    })
}

impl Store {
    /// Events of an organization matching `query`, newest first. Each filter combination is
    /// served by one of the `events_by_org*` indexes.
    pub fn query_events(
        &self,
        org_id: &str,
        query: &EventQuery<'_>,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events
                 WHERE org_id = ?1 AND (?2 IS NULL OR type = ?2) AND (?3 IS NULL OR member_id = ?3)
                   AND id < ?4
                 ORDER BY id DESC LIMIT ?5"
            ))?;
            let rows = stmt.query_map(
                params![
                    org_id,
                    query.event_type.map(EventType::name),
                    query.member_id,
                    query.before.unwrap_or(i64::MAX),
                    query.limit
                ],
                event_from_row,
            )?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })
    }

    /// Deletes events older than `cutoff` (a stored timestamp), in batches so that SCIM writes
    /// never wait long behind it; returns how many were deleted.
    pub fn prune_events_before(&self, cutoff: &str) -> Result<u64, StoreError> {
        const BATCH: u32 = 5_000;
        let mut deleted = 0;
        loop {
            let n = self.write(|tx| {
                tx.prepare_cached(
                    "DELETE FROM events WHERE id IN
                       (SELECT id FROM events WHERE at < ?1 ORDER BY at LIMIT ?2)",
                )?
                .execute(params![cutoff, BATCH])
                .map_err(StoreError::from)
            })?;
            deleted += n as u64;
            if n < BATCH as usize {
                return Ok(deleted);
            }
        }
    }

    /// Changes made through SCIM per UTC day, for the `days` days ending with `today`
    /// (`YYYY-MM-DD`), oldest first, with zero for quiet days.
    pub fn scim_activity(
        &self,
        org_id: &str,
        today: time::Date,
        days: u16,
    ) -> Result<Vec<DayCount>, StoreError> {
        let first = today - time::Duration::days(i64::from(days.saturating_sub(1)));
        let dates: Vec<String> = (0..days)
            .map(|i| timestamp::date(first + time::Duration::days(i64::from(i))))
            .collect();
        let counts: std::collections::HashMap<String, u64> = self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT substr(at, 1, 10), count(*) FROM events
                 WHERE org_id = ?1 AND actor = ?2 AND at >= ?3
                 GROUP BY 1",
            )?;
            let rows = stmt.query_map(params![org_id, Actor::Scim.name(), dates.first()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })?;
        Ok(dates
            .into_iter()
            .map(|date| DayCount {
                events: counts.get(&date).copied().unwrap_or(0),
                date,
            })
            .collect())
    }

    /// The newest `limit` events of an organization, newest first.
    pub fn list_events(&self, org_id: &str, limit: u32) -> Result<Vec<Event>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM events WHERE org_id = ?1 ORDER BY id DESC LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![org_id, limit], event_from_row)?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{IssuedKey, SyncMode};

    #[test]
    fn pruning_deletes_only_events_older_than_the_cutoff() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let key = IssuedKey {
            key_id: "k",
            phc: "x",
        };
        let org = store
            .create_org("Acme", Some(key), Actor::Cli)
            .expect("org")
            .id;
        store
            .write(|tx| {
                for (i, at) in ["2024-01-01T00:00:00.000Z", "2025-06-01T00:00:00.000Z"]
                    .iter()
                    .enumerate()
                {
                    tx.execute(
                        "INSERT INTO events (org_id, at, type, actor, summary)
                         VALUES (?1, ?2, 'OrganizationUser_Invited', 'SCIM', ?3)",
                        params![org, at, format!("old {i}")],
                    )?;
                }
                Ok::<_, StoreError>(())
            })
            .expect("old events");
        // Organization_Created and Organization_ApiKeyAdded, and the two old ones.
        assert_eq!(store.list_events(&org, 10).expect("events").len(), 4);
        let deleted = store
            .prune_events_before("2025-01-01T00:00:00.000Z")
            .expect("prune");
        assert_eq!(deleted, 1);
        let left: Vec<String> = store
            .list_events(&org, 10)
            .expect("events")
            .into_iter()
            .map(|e| e.summary)
            .collect();
        assert_eq!(left.len(), 3);
        assert!(left.contains(&"old 1".to_owned()));
        assert!(!left.contains(&"old 0".to_owned()));
    }
}
