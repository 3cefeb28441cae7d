//! The webhook outbox: every event that an endpoint of its organization subscribes to becomes
//! one message, written in the same transaction as the change and its event
//! ([`NewEvent::insert`] calls [`enqueue_event`]), so a change is never acknowledged without
//! the message that reports it, and a message never reports a change that was rolled back.
//!
//! A message's body is final when written: the resource as it is right after the change, in
//! its SCIM representation (ids only for a deletion). Membership changes, logged as one event
//! per member, are reported as one `group.members_changed` per request and group with the ids
//! added and removed ([`enqueue_membership`]), so a change to a big group never sends its
//! member list.

use std::cell::Cell;

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Value, json};

use super::events::{EventType, NewEvent};
use super::{StoreError, groups, users};
use crate::{scim, timestamp, webhook};

/// Public URL for resource locations when `serve` has never run (as the command line's default).
const FALLBACK_PUBLIC_URL: &str = "http://127.0.0.1:8080";

thread_local! {
    /// Set when the current write transaction enqueued a message; [`super::Store::write`] reads
    /// it after the commit to wake the delivery worker. A write runs on one thread from start
    /// to commit, so the flag cannot mix transactions up.
    static ENQUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the transaction just run on this thread enqueued a message (and forget it).
pub(super) fn take_enqueued() -> bool {
    ENQUEUED.with(|f| f.replace(false))
}

/// The message type an event is reported as; `None` for per-member membership events, which
/// [`enqueue_membership`] reports per group.
pub(super) fn message_type(event: EventType) -> Option<&'static str> {
    Some(match event {
        EventType::OrganizationUserInvited => "member.created",
        EventType::OrganizationUserUpdated => "member.updated",
        EventType::OrganizationUserRevoked => "member.revoked",
        EventType::OrganizationUserRestored => "member.restored",
        EventType::OrganizationUserRemoved => "member.deleted",
        EventType::OrganizationUserUpdatedGroups => return None,
        EventType::GroupCreated => "group.created",
        EventType::GroupUpdated => "group.updated",
        EventType::GroupDeleted => "group.deleted",
        EventType::OrganizationCreated => "organization.created",
        EventType::OrganizationRenamed
        | EventType::OrganizationScimEnabled
        | EventType::OrganizationScimDisabled
        | EventType::OrganizationSeatLimitChanged
        | EventType::OrganizationLdapBaseChanged => "organization.updated",
        EventType::OrganizationApiKeyAdded => "organization.key_added",
        EventType::OrganizationApiKeyRotated => "organization.key_rotated",
        EventType::OrganizationApiKeyRevoked => "organization.key_revoked",
        EventType::WebhookAdded => "webhook.added",
        EventType::WebhookUpdated | EventType::WebhookSecretRotated => "webhook.updated",
        EventType::WebhookDisabled => "webhook.disabled",
        EventType::WebhookRemoved => "webhook.removed",
    })
}

/// Enqueues the message for `event` (just written as event `event_id`) to every endpoint of
/// the organization that wants it. Costs one indexed read when the organization has no
/// endpoint.
pub(super) fn enqueue_event(
    c: &Connection,
    org_id: &str,
    event_id: i64,
    event: &NewEvent<'_>,
) -> Result<(), StoreError> {
    let Some(kind) = message_type(event.event_type) else {
        return Ok(());
    };
    let mut endpoints = subscribers(c, org_id, kind)?;
    if kind.starts_with("webhook.") {
        // An endpoint is not told about itself (it could not receive its own disabling).
        let about = event.detail.as_ref().and_then(|d| d["id"].as_str());
        endpoints.retain(|e| Some(e.as_str()) != about);
    }
    if endpoints.is_empty() {
        return Ok(());
    }
    // Built by moving values in: `json!` would copy each embedded `Value` through serde.
    let mut data = object([
        ("organization", organization(c, org_id)?),
        (
            "event",
            event_json(event_id, event.event_type, event, &event.summary),
        ),
    ]);
    let base = || -> Result<String, StoreError> { base_url(c, org_id) };
    match (kind, event.member_id, event.group_id) {
        ("member.deleted", Some(id), _) => data["member"] = json!({ "id": id }),
        (_, Some(id), _) if kind.starts_with("member.") => {
            let user = users::load_user(c, org_id, id)?;
            data["member"] = scim::users::render(&user, &base()?);
        }
        ("group.deleted", _, Some(id)) => data["group"] = json!({ "id": id }),
        (_, _, Some(id)) if kind.starts_with("group.") => {
            let group = groups::load_group(c, org_id, id, false)?;
            data["group"] = scim::groups::render(&group, &base()?);
        }
        _ => {}
    }
    if let Some(detail) = &event.detail {
        let key = if kind.starts_with("webhook.") {
            "webhook"
        } else {
            "key"
        };
        data[key] = detail.clone();
    }
    insert_message(c, org_id, kind, data, &endpoints).map(drop)
}

/// One request's membership changes to a group: reported as `group.members_changed` with the
/// group (without members) and the ids added and removed, split into messages of at most
/// [`webhook::MAX_IDS_PER_MESSAGE`] ids. `last_event` is the last per-member event written.
pub(super) fn enqueue_membership(
    c: &Connection,
    org_id: &str,
    group_id: &str,
    last_event: (i64, &NewEvent<'_>),
    added: &[String],
    removed: &[String],
) -> Result<(), StoreError> {
    const KIND: &str = "group.members_changed";
    let endpoints = subscribers(c, org_id, KIND)?;
    if endpoints.is_empty() || (added.is_empty() && removed.is_empty()) {
        return Ok(());
    }
    let group = scim::groups::render(
        &groups::load_group(c, org_id, group_id, false)?,
        &base_url(c, org_id)?,
    );
    let (event_id, event) = last_event;
    let summary = format!(
        "{} added to and {} removed from group \"{}\"",
        added.len(),
        removed.len(),
        group["displayName"].as_str().unwrap_or_default()
    );
    let organization = organization(c, org_id)?;
    // Additions first, then removals, each in the order they were made.
    let changes: Vec<(bool, &String)> = added
        .iter()
        .map(|id| (true, id))
        .chain(removed.iter().map(|id| (false, id)))
        .collect();
    for chunk in changes.chunks(webhook::MAX_IDS_PER_MESSAGE) {
        let pick = |want: bool| -> Vec<&String> {
            chunk
                .iter()
                .filter(|(added, _)| *added == want)
                .map(|(_, id)| *id)
                .collect()
        };
        let data = object([
            ("organization", organization.clone()),
            (
                "event",
                event_json(
                    event_id,
                    EventType::OrganizationUserUpdatedGroups,
                    event,
                    &summary,
                ),
            ),
            ("group", group.clone()),
            ("added", json!(pick(true))),
            ("removed", json!(pick(false))),
        ]);
        insert_message(c, org_id, KIND, data, &endpoints)?;
    }
    Ok(())
}

/// Writes one message for `endpoints` (all of the organization's that want it, enabled or
/// not: a disabled endpoint keeps its backlog until it is enabled again or retention
/// removes it), due at once.
pub(super) fn insert_message(
    c: &Connection,
    org_id: &str,
    kind: &str,
    data: Value,
    endpoints: &[String],
) -> Result<i64, StoreError> {
    let now = timestamp::now();
    let body = object([
        ("type", Value::from(kind)),
        ("timestamp", Value::from(now.as_str())),
        ("data", data),
    ])
    .to_string();
    c.prepare_cached(
        "INSERT INTO webhook_messages (msg_id, org_id, type, created_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![webhook::new_message_id(), org_id, kind, now, body])?;
    let message_id = c.last_insert_rowid();
    let mut deliver = c.prepare_cached(
        "INSERT INTO webhook_deliveries (endpoint_id, message_id, state, next_attempt_at)
         VALUES (?1, ?2, 'pending', ?3)",
    )?;
    for endpoint in endpoints {
        deliver.execute(params![endpoint, message_id, now])?;
    }
    ENQUEUED.with(|f| f.set(true));
    Ok(message_id)
}

/// A JSON object of `fields`, moved in.
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// Ids of the organization's endpoints subscribed to `kind`.
fn subscribers(c: &Connection, org_id: &str, kind: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        c.prepare_cached("SELECT id, event_types FROM webhook_endpoints WHERE org_id = ?1")?;
    let rows = stmt.query_map([org_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
    })?;
    let mut ids = Vec::new();
    for row in rows {
        let (id, types) = row?;
        if wants(types.as_deref(), kind) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Whether a stored subscription (`None`: all; else a JSON array) includes `kind`.
fn wants(types: Option<&str>, kind: &str) -> bool {
    types.is_none_or(|t| {
        serde_json::from_str::<Vec<String>>(t).is_ok_and(|types| types.iter().any(|x| x == kind))
    })
}

/// The organization as messages describe it.
pub(super) fn organization(c: &Connection, org_id: &str) -> Result<Value, StoreError> {
    c.prepare_cached("SELECT name, scim_enabled, seat_limit FROM organizations WHERE id = ?1")?
        .query_row([org_id], |r| {
            Ok(json!({
                "id": org_id,
                "name": r.get::<_, String>(0)?,
                "scim_enabled": r.get::<_, bool>(1)?,
                "seat_limit": r.get::<_, Option<u32>>(2)?,
            }))
        })
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no organization has the id \"{org_id}\"")))
}

fn event_json(id: i64, event_type: EventType, event: &NewEvent<'_>, summary: &str) -> Value {
    json!({
        "id": id,
        "name": event_type.name(),
        "actor": event.actor.name(),
        "key_id": event.key_id,
        "summary": summary,
    })
}

/// The organization's SCIM base URL, from the public URL `serve` last ran with.
fn base_url(c: &Connection, org_id: &str) -> Result<String, StoreError> {
    let public: Option<String> = c
        .prepare_cached("SELECT value FROM settings WHERE key = 'public_url'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let public = public.as_deref().unwrap_or(FALLBACK_PUBLIC_URL);
    Ok(format!("{}/v2/{org_id}", public.trim_end_matches('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_but_membership_has_a_subscribable_message_type() {
        for event in EventType::ALL {
            match message_type(event) {
                Some(kind) => assert!(webhook::EVENT_TYPES.contains(&kind), "{kind}"),
                None => assert_eq!(event, EventType::OrganizationUserUpdatedGroups),
            }
        }
        for kind in webhook::EVENT_TYPES {
            let produced = EventType::ALL
                .into_iter()
                .any(|e| message_type(e) == Some(kind));
            assert!(produced || kind == "group.members_changed", "{kind}");
        }
    }

    #[test]
    fn subscriptions_match_exactly() {
        assert!(wants(None, "member.created"));
        assert!(wants(Some(r#"["member.created"]"#), "member.created"));
        assert!(!wants(Some(r#"["member.created"]"#), "member.updated"));
        assert!(!wants(Some("not json"), "member.created"));
    }
}
