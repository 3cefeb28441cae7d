//! Webhook endpoints and their delivery queues.
//!
//! Each endpoint's queue is its rows in `webhook_deliveries`, in message order: the worker
//! sends only the oldest pending one ([`Store::due_deliveries`]), so a failing message holds
//! back the later ones of that endpoint only. A delivered row is deleted (and its message with
//! the last of them); a row whose retries are exhausted stays as `failed` until retried or
//! removed by retention, which counts what it removes ([`Store::prune_webhooks_before`]).

use std::collections::HashSet;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Row, Transaction, params};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Actor, EventType, NewEvent, Store, StoreError, outbox};
use crate::timestamp;
use crate::webhook::{self, Outcome, WebhookError};

/// Attempts kept per endpoint for the deliveries view.
const ATTEMPTS_KEPT: i64 = 100;
/// Most rows of each kind a deliveries view returns.
const VIEW_LIMIT: u32 = 100;
/// Longest error or response excerpt kept with an attempt, in characters.
const MAX_DETAIL_CHARS: usize = 256;

/// An endpoint as listed (never with its secret).
#[derive(Clone, Debug, Serialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub description: String,
    /// `None`: every type.
    pub event_types: Option<Vec<String>>,
    pub enabled: bool,
    /// Why the endpoint was disabled automatically (410, or failing too long).
    pub disabled_reason: Option<String>,
    /// Start of the current run of failed attempts.
    pub failing_since: Option<String>,
    /// Messages waiting to be delivered.
    pub backlog: u64,
    pub oldest_pending_at: Option<String>,
    /// Messages given up on after every retry (retry them by hand).
    pub failed: u64,
    /// Undelivered messages removed by event retention.
    pub expired: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// A new endpoint's settings, checked by [`Store::create_webhook`].
#[derive(Clone, Copy, Debug)]
pub struct NewWebhook<'a> {
    pub url: &'a str,
    pub description: &'a str,
    /// `None`: every type.
    pub event_types: Option<&'a [String]>,
}

/// Changes to an endpoint; `None` leaves a setting alone.
#[derive(Clone, Debug, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    /// `Some(None)`: every type.
    pub event_types: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
}

/// Where a message goes and the secrets that sign it.
#[derive(Clone, Debug)]
pub struct DeliveryTarget {
    pub endpoint_id: String,
    pub org_id: String,
    pub url: String,
    /// The current secret, and a rotated-out one while it still signs.
    pub secrets: Vec<String>,
}

/// The head of an endpoint's queue, due now.
#[derive(Clone, Debug)]
pub struct DueDelivery {
    pub target: DeliveryTarget,
    pub message: QueuedMessage,
}

/// A message to send, with what the attempt log needs.
#[derive(Clone, Debug)]
pub struct QueuedMessage {
    /// Row id (`None` for a test message, which is not queued).
    pub row: Option<i64>,
    /// The `webhook-id`.
    pub msg_id: String,
    pub msg_type: String,
    pub body: String,
    /// Attempts already made.
    pub attempts: u32,
}

/// How an attempt went, as the worker saw it.
#[derive(Clone, Debug)]
pub struct AttemptReport {
    pub outcome: Outcome,
    pub status: Option<u16>,
    pub duration_ms: u64,
    /// The error, or the first bytes of the response.
    pub detail: Option<String>,
}

/// What to do after a failure: the wait before the next attempt (`None`: give the message
/// up), and how long an endpoint may fail before it is disabled.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub next_delay: Option<Duration>,
    pub disable_after: Duration,
}

/// One attempt, as listed.
#[derive(Clone, Debug, Serialize)]
pub struct Attempt {
    pub id: i64,
    pub at: String,
    pub msg_id: String,
    #[serde(rename = "type")]
    pub msg_type: String,
    pub attempt: u32,
    pub outcome: String,
    pub status: Option<u16>,
    pub duration_ms: u64,
    pub detail: Option<String>,
}

/// A message an endpoint has not received yet.
#[derive(Clone, Debug, Serialize)]
pub struct Undelivered {
    pub msg_id: String,
    #[serde(rename = "type")]
    pub msg_type: String,
    pub created_at: String,
    /// `pending` or `failed`.
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
}

/// An endpoint's recent attempts (newest first) and undelivered messages (oldest first).
#[derive(Clone, Debug, Serialize)]
pub struct DeliveriesView {
    pub attempts: Vec<Attempt>,
    pub undelivered: Vec<Undelivered>,
}

/// An endpoint's backlog, for metrics.
#[derive(Clone, Debug)]
pub struct Backlog {
    pub org_id: String,
    pub endpoint_id: String,
    pub pending: u64,
}

const ENDPOINT_COLUMNS: &str = "e.id, e.url, e.description, e.event_types, e.enabled,
    e.disabled_reason, e.failing_since, e.expired, e.created_at, e.updated_at,
    (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'pending'),
    (SELECT m.created_at FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
      WHERE d.endpoint_id = e.id AND d.state = 'pending' ORDER BY d.message_id LIMIT 1),
    (SELECT count(*) FROM webhook_deliveries d WHERE d.endpoint_id = e.id AND d.state = 'failed')";

fn endpoint_from_row(r: &Row<'_>) -> rusqlite::Result<WebhookEndpoint> {
    let types: Option<String> = r.get(3)?;
    Ok(WebhookEndpoint {
        id: r.get(0)?,
        url: r.get(1)?,
        description: r.get(2)?,
        event_types: types.and_then(|t| serde_json::from_str(&t).ok()),
        enabled: r.get(4)?,
        disabled_reason: r.get(5)?,
        failing_since: r.get(6)?,
        expired: r.get::<_, i64>(7)? as u64,
        created_at: r.get(8)?,
        updated_at: r.get(9)?,
        backlog: r.get::<_, i64>(10)? as u64,
        oldest_pending_at: r.get(11)?,
        failed: r.get::<_, i64>(12)? as u64,
    })
}

impl From<WebhookError> for StoreError {
    fn from(e: WebhookError) -> StoreError {
        match e {
            WebhookError::Invalid(why) => StoreError::Invalid(why),
            WebhookError::Random => StoreError::Invalid(e.to_string()),
        }
    }
}

impl Store {
    /// Adds an endpoint signing with `secret`; it receives the changes made from now on.
    pub fn create_webhook(
        &self,
        org_id: &str,
        new: NewWebhook<'_>,
        secret: &str,
        actor: Actor,
    ) -> Result<WebhookEndpoint, StoreError> {
        let url = webhook::parse_url(new.url)?;
        let description = webhook::parse_description(new.description)?;
        let types = webhook::parse_event_types(new.event_types)?;
        let id = webhook::new_endpoint_id();
        let now = timestamp::now();
        self.write(|tx| {
            outbox::organization(tx, org_id)?;
            // Logged first, so that the new endpoint's first message is a change of the
            // directory, not the news of its own creation.
            NewEvent::by_operator(
                actor,
                EventType::WebhookAdded,
                format!("Webhook {id} added for {}", display_url(&url)),
            )
            .detail(detail(&id, &url, true))
            .insert(tx, org_id)?;
            tx.execute(
                "INSERT INTO webhook_endpoints (id, org_id, url, description, event_types,
                                                enabled, secret, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7, ?7)",
                params![
                    id,
                    org_id,
                    url,
                    description,
                    types_json(&types),
                    secret,
                    now
                ],
            )?;
            load_endpoint(tx, org_id, &id)
        })
    }

    /// The organization's endpoints, oldest first.
    pub fn list_webhooks(&self, org_id: &str) -> Result<Vec<WebhookEndpoint>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e
                 WHERE e.org_id = ?1 ORDER BY e.created_at, e.id"
            ))?;
            let rows = stmt.query_map([org_id], endpoint_from_row)?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })
    }

    /// One endpoint of the organization.
    pub fn get_webhook(&self, org_id: &str, id: &str) -> Result<WebhookEndpoint, StoreError> {
        self.read(|c| load_endpoint(c, org_id, id))
    }

    /// Applies `changes` and logs what changed. Enabling clears the reason it was disabled and
    /// its failure streak; its backlog is then delivered in order.
    pub fn update_webhook(
        &self,
        org_id: &str,
        id: &str,
        changes: &WebhookChanges,
        actor: Actor,
    ) -> Result<WebhookEndpoint, StoreError> {
        let url = changes.url.as_deref().map(webhook::parse_url).transpose()?;
        let description = changes
            .description
            .as_deref()
            .map(webhook::parse_description)
            .transpose()?;
        let types = changes
            .event_types
            .as_ref()
            .map(|t| webhook::parse_event_types(t.as_deref()))
            .transpose()?;
        self.write(|tx| {
            let before = load_endpoint(tx, org_id, id)?;
            let mut what = Vec::new();
            if let Some(url) = url.as_ref().filter(|u| **u != before.url) {
                what.push(format!("URL set to {}", display_url(url)));
            }
            if description
                .as_ref()
                .is_some_and(|d| *d != before.description)
            {
                what.push("description changed".to_owned());
            }
            if types.as_ref().is_some_and(|t| *t != before.event_types) {
                what.push("event types changed".to_owned());
            }
            let enabled = changes.enabled.filter(|e| *e != before.enabled);
            match enabled {
                Some(true) => what.push("enabled".to_owned()),
                Some(false) => what.push("disabled".to_owned()),
                None => {}
            }
            if what.is_empty() {
                return Ok(before);
            }
            let url = url.unwrap_or(before.url);
            let enabled = enabled.unwrap_or(before.enabled);
            tx.execute(
                "UPDATE webhook_endpoints SET url = ?3, description = ?4, event_types = ?5,
                    enabled = ?6, updated_at = ?7,
                    disabled_reason = CASE WHEN ?6 THEN NULL ELSE disabled_reason END,
                    failing_since = CASE WHEN ?6 AND NOT enabled THEN NULL ELSE failing_since END
                 WHERE id = ?1 AND org_id = ?2",
                params![
                    id,
                    org_id,
                    url,
                    description.unwrap_or(before.description),
                    types_json(&types.unwrap_or(before.event_types)),
                    enabled,
                    timestamp::now()
                ],
            )?;
            NewEvent::by_operator(
                actor,
                EventType::WebhookUpdated,
                format!("Webhook {id}: {}", what.join(", ")),
            )
            .detail(detail(id, &url, enabled))
            .insert(tx, org_id)?;
            load_endpoint(tx, org_id, id)
        })
    }

    /// Removes an endpoint with its backlog and attempt log.
    pub fn remove_webhook(&self, org_id: &str, id: &str, actor: Actor) -> Result<(), StoreError> {
        self.write(|tx| {
            let endpoint = load_endpoint(tx, org_id, id)?;
            tx.execute("DELETE FROM webhook_endpoints WHERE id = ?1", [id])?;
            // Messages no other endpoint still waits for.
            tx.execute(
                "DELETE FROM webhook_messages WHERE org_id = ?1 AND NOT EXISTS
                   (SELECT 1 FROM webhook_deliveries d WHERE d.message_id = webhook_messages.id)",
                [org_id],
            )?;
            NewEvent::by_operator(
                actor,
                EventType::WebhookRemoved,
                format!("Webhook {id} for {} removed", display_url(&endpoint.url)),
            )
            .detail(detail(id, &endpoint.url, false))
            .insert(tx, org_id)?;
            Ok(())
        })
    }

    /// Replaces the signing secret; the old one keeps signing beside it for
    /// [`webhook::PREVIOUS_SECRET_VALID`], so receivers can switch without rejecting anything.
    /// Returns until when the old secret signs.
    pub fn rotate_webhook_secret(
        &self,
        org_id: &str,
        id: &str,
        secret: &str,
        actor: Actor,
    ) -> Result<String, StoreError> {
        let until =
            timestamp::format(time::OffsetDateTime::now_utc() + webhook::PREVIOUS_SECRET_VALID);
        self.write(|tx| {
            let endpoint = load_endpoint(tx, org_id, id)?;
            tx.execute(
                "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = ?2,
                    secret = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, until, secret, timestamp::now()],
            )?;
            NewEvent::by_operator(
                actor,
                EventType::WebhookSecretRotated,
                format!("Webhook {id}: signing secret rotated; the old one signs until {until}"),
            )
            .detail(detail(id, &endpoint.url, endpoint.enabled))
            .insert(tx, org_id)?;
            Ok(until.clone())
        })
    }

    /// The endpoint as a destination, with a `webhook.test` message for it (not queued: a test
    /// is sent at once and only logged).
    pub fn webhook_test(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<(DeliveryTarget, QueuedMessage), StoreError> {
        self.read(|c| {
            let target = load_target(c, org_id, id)?.ok_or_else(|| not_found(id))?;
            let body = json!({
                "type": webhook::TEST_TYPE,
                "timestamp": timestamp::now(),
                "data": {
                    "organization": outbox::organization(c, org_id)?,
                    "message": "A test event from scim-appliance: this endpoint is reachable and \
                                verifies signatures.",
                },
            });
            Ok((
                target,
                QueuedMessage {
                    row: None,
                    msg_id: webhook::new_message_id(),
                    msg_type: webhook::TEST_TYPE.to_owned(),
                    body: body.to_string(),
                    attempts: 0,
                },
            ))
        })
    }

    /// The head of every enabled endpoint's queue that is due now, except for the endpoints in
    /// `busy` (one delivery in flight per endpoint keeps each queue in order), at most `limit`.
    pub fn due_deliveries(
        &self,
        busy: &HashSet<String>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError> {
        let now = timestamp::now();
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.id, e.org_id, e.url, e.secret, e.previous_secret, e.previous_until,
                        d.message_id, d.attempts, m.msg_id, m.type, m.body
                 FROM webhook_endpoints e
                 JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.message_id =
                   (SELECT x.message_id FROM webhook_deliveries x
                     WHERE x.endpoint_id = e.id AND x.state = 'pending'
                     ORDER BY x.message_id LIMIT 1)
                 JOIN webhook_messages m ON m.id = d.message_id
                 WHERE e.enabled = 1 AND d.next_attempt_at <= ?1",
            )?;
            let rows = stmt.query_map([&now], |r| {
                Ok(DueDelivery {
                    target: target_from_row(r, &now)?,
                    message: QueuedMessage {
                        row: Some(r.get(6)?),
                        attempts: r.get(7)?,
                        msg_id: r.get(8)?,
                        msg_type: r.get(9)?,
                        body: r.get(10)?,
                    },
                })
            })?;
            let mut due = Vec::new();
            for row in rows {
                let row = row?;
                if !busy.contains(&row.target.endpoint_id) {
                    due.push(row);
                }
                if due.len() >= limit {
                    break;
                }
            }
            Ok(due)
        })
    }

    /// Logs an attempt and moves the queue on: a delivered message leaves it; a failed one
    /// waits `policy.next_delay` or, with none left, is given up (`failed`); `410 Gone`, or
    /// failing for longer than `policy.disable_after`, disables the endpoint (its backlog
    /// stays). A test message is only logged (a 410 still disables).
    pub fn record_attempt(
        &self,
        target: &DeliveryTarget,
        message: &QueuedMessage,
        report: &AttemptReport,
        policy: RetryPolicy,
    ) -> Result<(), StoreError> {
        let now = time::OffsetDateTime::now_utc();
        let now_text = timestamp::format(now);
        let detail_text = report.detail.as_deref().map(truncate_detail);
        self.write(|tx| {
            let endpoint = tx
                .prepare_cached("SELECT url, failing_since FROM webhook_endpoints WHERE id = ?1")?
                .query_row([&target.endpoint_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?))
                })
                .optional()?;
            let Some((url, failing_since)) = endpoint else {
                return Ok(()); // removed meanwhile
            };
            log_attempt(
                tx,
                target,
                message,
                report,
                &now_text,
                detail_text.as_deref(),
            )?;
            let id = target.endpoint_id.as_str();
            if report.outcome == Outcome::Gone {
                disable(
                    tx,
                    target,
                    &url,
                    "the receiver answered 410 Gone".to_owned(),
                )?;
            }
            let Some(row) = message.row else {
                return Ok(());
            };
            if report.outcome == Outcome::Delivered {
                tx.prepare_cached(
                    "DELETE FROM webhook_deliveries WHERE endpoint_id = ?1 AND message_id = ?2",
                )?
                .execute(params![id, row])?;
                tx.prepare_cached(
                    "DELETE FROM webhook_messages WHERE id = ?1 AND NOT EXISTS
                       (SELECT 1 FROM webhook_deliveries WHERE message_id = ?1)",
                )?
                .execute([row])?;
                tx.prepare_cached(
                    "UPDATE webhook_endpoints SET failing_since = NULL
                     WHERE id = ?1 AND failing_since IS NOT NULL",
                )?
                .execute([id])?;
                return Ok(());
            }
            let (state, next) = match (report.outcome, policy.next_delay) {
                (Outcome::Gone, _) => ("pending", now_text.clone()),
                (_, Some(wait)) => ("pending", timestamp::format(now + wait)),
                (_, None) => ("failed", now_text.clone()),
            };
            tx.prepare_cached(
                "UPDATE webhook_deliveries SET state = ?3, attempts = attempts + 1,
                    next_attempt_at = ?4, last_error = ?5
                 WHERE endpoint_id = ?1 AND message_id = ?2",
            )?
            .execute(params![id, row, state, next, detail_text])?;
            let since = failing_since.unwrap_or_else(|| now_text.clone());
            tx.prepare_cached(
                "UPDATE webhook_endpoints SET failing_since = ?2
                 WHERE id = ?1 AND failing_since IS NULL",
            )?
            .execute(params![id, since])?;
            let cutoff = timestamp::format(now - policy.disable_after);
            if report.outcome == Outcome::Failed && since <= cutoff {
                let why = format!(
                    "failing since {since} (last error: {})",
                    detail_text.as_deref().unwrap_or("none")
                );
                disable(tx, target, &url, why)?;
            }
            Ok(())
        })
    }

    /// An endpoint's recent attempts and what it has not received.
    pub fn webhook_deliveries(&self, org_id: &str, id: &str) -> Result<DeliveriesView, StoreError> {
        self.read(|c| {
            load_endpoint(c, org_id, id)?;
            let attempts = c
                .prepare_cached(
                    "SELECT id, at, msg_id, type, attempt, outcome, status, duration_ms, detail
                     FROM webhook_attempts WHERE endpoint_id = ?1 ORDER BY id DESC LIMIT ?2",
                )?
                .query_map(params![id, VIEW_LIMIT], |r| {
                    Ok(Attempt {
                        id: r.get(0)?,
                        at: r.get(1)?,
                        msg_id: r.get(2)?,
                        msg_type: r.get(3)?,
                        attempt: r.get(4)?,
                        outcome: r.get(5)?,
                        status: r.get(6)?,
                        duration_ms: r.get::<_, i64>(7)? as u64,
                        detail: r.get(8)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            let undelivered = c
                .prepare_cached(
                    "SELECT m.msg_id, m.type, m.created_at, d.state, d.attempts,
                            d.next_attempt_at, d.last_error
                     FROM webhook_deliveries d JOIN webhook_messages m ON m.id = d.message_id
                     WHERE d.endpoint_id = ?1 ORDER BY d.message_id LIMIT ?2",
                )?
                .query_map(params![id, VIEW_LIMIT], |r| {
                    Ok(Undelivered {
                        msg_id: r.get(0)?,
                        msg_type: r.get(1)?,
                        created_at: r.get(2)?,
                        state: r.get(3)?,
                        attempts: r.get(4)?,
                        next_attempt_at: r.get(5)?,
                        last_error: r.get(6)?,
                    })
                })?
                .collect::<Result<_, _>>()?;
            Ok(DeliveriesView {
                attempts,
                undelivered,
            })
        })
    }

    /// Sends messages again now: the one with `msg_id`, or every failed one and the head of the
    /// queue. Retried messages keep their place in the queue (message order) and their
    /// `webhook-id`. Returns how many were rescheduled.
    pub fn retry_webhook(
        &self,
        org_id: &str,
        id: &str,
        msg_id: Option<&str>,
    ) -> Result<u64, StoreError> {
        let now = timestamp::now();
        self.write(|tx| {
            load_endpoint(tx, org_id, id)?;
            let n = match msg_id {
                Some(msg_id) => {
                    let n = tx.execute(
                        "UPDATE webhook_deliveries SET state = 'pending', attempts = 0,
                            next_attempt_at = ?3
                         WHERE endpoint_id = ?1 AND message_id =
                           (SELECT id FROM webhook_messages WHERE msg_id = ?2 AND org_id = ?4)",
                        params![id, msg_id, now, org_id],
                    )?;
                    if n == 0 {
                        return Err(StoreError::NotFound(format!(
                            "webhook {id} has no undelivered message \"{msg_id}\""
                        )));
                    }
                    n
                }
                None => tx.execute(
                    "UPDATE webhook_deliveries SET state = 'pending', attempts = 0,
                        next_attempt_at = ?2
                     WHERE endpoint_id = ?1 AND (state = 'failed' OR message_id =
                       (SELECT message_id FROM webhook_deliveries
                         WHERE endpoint_id = ?1 AND state = 'pending'
                         ORDER BY message_id LIMIT 1))",
                    params![id, now],
                )?,
            };
            Ok(n as u64)
        })
    }

    /// Removes messages (and attempts) older than `cutoff` with event retention, counting
    /// the undelivered ones per endpoint (`expired`) so that nothing disappears unseen.
    /// Returns how many undelivered deliveries were removed.
    pub fn prune_webhooks_before(&self, cutoff: &str) -> Result<u64, StoreError> {
        self.write(|tx| {
            let expired = tx.execute(
                "UPDATE webhook_endpoints SET expired = expired +
                   (SELECT count(*) FROM webhook_deliveries d
                     JOIN webhook_messages m ON m.id = d.message_id
                     WHERE d.endpoint_id = webhook_endpoints.id AND m.created_at < ?1)
                 WHERE id IN (SELECT d.endpoint_id FROM webhook_deliveries d
                   JOIN webhook_messages m ON m.id = d.message_id WHERE m.created_at < ?1)",
                [cutoff],
            )?;
            let removed: i64 = if expired > 0 {
                tx.query_row(
                    "SELECT count(*) FROM webhook_deliveries d
                     JOIN webhook_messages m ON m.id = d.message_id WHERE m.created_at < ?1",
                    [cutoff],
                    |r| r.get(0),
                )?
            } else {
                0
            };
            tx.execute(
                "DELETE FROM webhook_messages WHERE created_at < ?1",
                [cutoff],
            )?;
            tx.execute("DELETE FROM webhook_attempts WHERE at < ?1", [cutoff])?;
            Ok(removed as u64)
        })
    }

    /// Every endpoint's pending messages, for the backlog metric.
    pub fn webhook_backlogs(&self) -> Result<Vec<Backlog>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT e.org_id, e.id, (SELECT count(*) FROM webhook_deliveries d
                   WHERE d.endpoint_id = e.id AND d.state = 'pending')
                 FROM webhook_endpoints e ORDER BY e.org_id, e.id",
            )?;
            let rows = stmt.query_map([], |r| {
                Ok(Backlog {
                    org_id: r.get(0)?,
                    endpoint_id: r.get(1)?,
                    pending: r.get::<_, i64>(2)? as u64,
                })
            })?;
            rows.collect::<Result<_, _>>().map_err(StoreError::from)
        })
    }
}

fn load_endpoint(c: &Connection, org_id: &str, id: &str) -> Result<WebhookEndpoint, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints e WHERE e.id = ?1 AND e.org_id = ?2"
    ))?
    .query_row(params![id, org_id], endpoint_from_row)
    .optional()?
    .ok_or_else(|| not_found(id))
}

fn load_target(
    c: &Connection,
    org_id: &str,
    id: &str,
) -> Result<Option<DeliveryTarget>, StoreError> {
    let now = timestamp::now();
    Ok(c.prepare_cached(
        "SELECT id, org_id, url, secret, previous_secret, previous_until
             FROM webhook_endpoints WHERE id = ?1 AND org_id = ?2",
    )?
    .query_row(params![id, org_id], |r| target_from_row(r, &now))
    .optional()?)
}

/// A target from columns 0–5: id, org_id, url, secret, previous_secret, previous_until.
fn target_from_row(r: &Row<'_>, now: &str) -> rusqlite::Result<DeliveryTarget> {
    let mut secrets = vec![r.get::<_, String>(3)?];
    let previous: Option<String> = r.get(4)?;
    let until: Option<String> = r.get(5)?;
    if let (Some(previous), Some(until)) = (previous, until)
        && until.as_str() > now
    {
        secrets.push(previous);
    }
    Ok(DeliveryTarget {
        endpoint_id: r.get(0)?,
        org_id: r.get(1)?,
        url: r.get(2)?,
        secrets,
    })
}

fn log_attempt(
    tx: &Transaction<'_>,
    target: &DeliveryTarget,
    message: &QueuedMessage,
    report: &AttemptReport,
    now: &str,
    detail: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO webhook_attempts (endpoint_id, msg_id, type, at, attempt, outcome, status,
                                       duration_ms, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        target.endpoint_id,
        message.msg_id,
        message.msg_type,
        now,
        message.attempts + 1,
        report.outcome.name(),
        report.status,
        i64::try_from(report.duration_ms).unwrap_or(i64::MAX),
        detail,
    ])?;
    // Keep the newest ATTEMPTS_KEPT of this endpoint.
    tx.prepare_cached(
        "DELETE FROM webhook_attempts WHERE endpoint_id = ?1 AND id <=
           (SELECT id FROM webhook_attempts WHERE endpoint_id = ?1
             ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )?
    .execute(params![target.endpoint_id, ATTEMPTS_KEPT])?;
    Ok(())
}

/// Disables an endpoint automatically, saying why, and logs it.
fn disable(
    tx: &Transaction<'_>,
    target: &DeliveryTarget,
    url: &str,
    why: String,
) -> Result<(), StoreError> {
    let id = target.endpoint_id.as_str();
    let changed = tx.execute(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = ?2, updated_at = ?3
         WHERE id = ?1 AND enabled = 1",
        params![id, why, timestamp::now()],
    )?;
    if changed > 0 {
        tracing::warn!(webhook = id, org = %target.org_id, reason = %why, "webhook endpoint disabled");
        NewEvent::by_operator(
            Actor::System,
            EventType::WebhookDisabled,
            format!("Webhook {id} disabled: {why}"),
        )
        .detail(detail(id, url, false))
        .insert(tx, &target.org_id)?;
    }
    Ok(())
}

/// What webhook messages say about an endpoint.
fn detail(id: &str, url: &str, enabled: bool) -> Value {
    json!({ "id": id, "url": display_url(url), "enabled": enabled })
}

/// A URL without its query, which may carry a receiver's token: for events and messages.
fn display_url(url: &str) -> String {
    match url.split_once('?') {
        Some((base, _)) => format!("{base}?…"),
        None => url.to_owned(),
    }
}

fn types_json(types: &Option<Vec<String>>) -> Option<String> {
    types
        .as_ref()
        .map(|t| serde_json::to_string(t).unwrap_or_default())
}

fn truncate_detail(text: &str) -> String {
    let text = text.trim();
    match text.char_indices().nth(MAX_DETAIL_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("this organization has no webhook \"{id}\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SyncMode;

    fn setup() -> (tempfile::TempDir, Store, String, WebhookEndpoint) {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let org = store.create_org("Acme", None, Actor::Cli).expect("org").id;
        let endpoint = store
            .create_webhook(
                &org,
                NewWebhook {
                    url: "http://127.0.0.1:9/hook",
                    description: "",
                    event_types: None,
                },
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                Actor::Cli,
            )
            .expect("endpoint");
        (dir, store, org, endpoint)
    }

    fn add_member(store: &Store, org: &str, name: &str) {
        let attrs = serde_json::json!({ "userName": name, "active": true });
        let attrs = attrs.as_object().expect("object").clone();
        store.create_user(org, "k", attrs).expect("user");
    }

    fn failed(detail: &str) -> AttemptReport {
        AttemptReport {
            outcome: Outcome::Failed,
            status: Some(503),
            duration_ms: 3,
            detail: Some(detail.to_owned()),
        }
    }

    fn head(store: &Store) -> Option<DueDelivery> {
        store
            .due_deliveries(&HashSet::new(), 10)
            .expect("due")
            .into_iter()
            .next()
    }

    #[test]
    fn an_exhausted_message_is_failed_and_the_next_one_goes() {
        let (_dir, store, org, endpoint) = setup();
        add_member(&store, &org, "a@example.com");
        add_member(&store, &org, "b@example.com");
        let first = head(&store).expect("first is due");
        assert!(first.message.body.contains("a@example.com"));
        let give_up = RetryPolicy {
            next_delay: None,
            disable_after: Duration::from_secs(3600),
        };
        store
            .record_attempt(&first.target, &first.message, &failed("boom"), give_up)
            .expect("recorded");
        let second = head(&store).expect("second is due");
        assert!(second.message.body.contains("b@example.com"));
        let listed = store.get_webhook(&org, &endpoint.id).expect("endpoint");
        assert_eq!((listed.failed, listed.backlog), (1, 1));
        assert!(listed.enabled && listed.failing_since.is_some());

        // A retry puts the failed one back at the head, before the second.
        assert_eq!(
            store
                .retry_webhook(&org, &endpoint.id, None)
                .expect("retry"),
            2
        );
        let again = head(&store).expect("due");
        assert_eq!(again.message.msg_id, first.message.msg_id);
        assert_eq!(again.message.attempts, 0);
    }

    #[test]
    fn a_later_retry_waits_and_failing_too_long_disables() {
        let (_dir, store, org, endpoint) = setup();
        add_member(&store, &org, "a@example.com");
        let due = head(&store).expect("due");
        let later = RetryPolicy {
            next_delay: Some(Duration::from_secs(300)),
            disable_after: Duration::from_secs(3600),
        };
        store
            .record_attempt(&due.target, &due.message, &failed("first"), later)
            .expect("recorded");
        assert!(head(&store).is_none(), "not due for 5 minutes");
        store
            .retry_webhook(&org, &endpoint.id, None)
            .expect("retry");
        let due = head(&store).expect("due after a manual retry");
        let impatient = RetryPolicy {
            next_delay: Some(Duration::from_secs(300)),
            disable_after: Duration::ZERO,
        };
        store
            .record_attempt(&due.target, &due.message, &failed("second"), impatient)
            .expect("recorded");
        let listed = store.get_webhook(&org, &endpoint.id).expect("endpoint");
        assert!(!listed.enabled);
        let reason = listed.disabled_reason.expect("reason");
        assert!(
            reason.contains("failing since") && reason.contains("second"),
            "{reason}"
        );
        assert_eq!(listed.backlog, 1, "the backlog is kept");
    }

    #[test]
    fn retention_counts_what_it_removes_undelivered() {
        let (_dir, store, org, endpoint) = setup();
        add_member(&store, &org, "a@example.com");
        add_member(&store, &org, "b@example.com");
        let future = timestamp::format(time::OffsetDateTime::now_utc() + time::Duration::hours(1));
        assert_eq!(store.prune_webhooks_before(&future).expect("pruned"), 2);
        let listed = store.get_webhook(&org, &endpoint.id).expect("endpoint");
        assert_eq!((listed.backlog, listed.expired), (0, 2));
        assert!(head(&store).is_none());
        assert_eq!(store.prune_webhooks_before(&future).expect("again"), 0);
    }
}
