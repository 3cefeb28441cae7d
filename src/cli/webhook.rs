//! `webhook …`: an organization's webhook endpoints, their deliveries and secrets. Changes
//! reach a running server at once (its worker reads the queues from the database); `test`
//! sends from this process.

use clap::Subcommand;
use serde_json::json;

use super::CliResult;
use super::settings::Common;
use crate::admin;
use crate::delivery::Sender;
use crate::store::{Actor, NewWebhook, Store, SyncMode, WebhookChanges, WebhookEndpoint};
use crate::webhook;

#[derive(Debug, Subcommand)]
pub(super) enum WebhookCommand {
    /// Add an endpoint; its signing secret is printed once.
    Add {
        /// Organization id or unique name.
        org: String,
        /// Where to POST messages (http or https; private addresses are fine).
        url: String,
        /// Comma-separated event types to send (default: all), e.g.
        /// `member.revoked,member.restored`.
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        /// A note for people, e.g. "Jellyfin sync".
        #[arg(long, default_value = "")]
        description: String,
        /// Print exactly one JSON object: {"webhook", "secret"}.
        #[arg(long)]
        json: bool,
    },
    /// List the endpoints with their state and backlog.
    List {
        /// Organization id or unique name.
        org: String,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Change an endpoint's URL, event types, description, or enable or disable it.
    Update {
        /// Organization id or unique name.
        org: String,
        /// Endpoint id (`ep_…`).
        id: String,
        #[arg(long)]
        url: Option<String>,
        /// Comma-separated event types, or `all`.
        #[arg(long, value_delimiter = ',')]
        events: Option<Vec<String>>,
        #[arg(long)]
        description: Option<String>,
        /// Enable (delivery resumes with the backlog, in order).
        #[arg(long, conflicts_with = "disable")]
        enable: bool,
        /// Disable (messages keep queueing until enabled again or event retention).
        #[arg(long)]
        disable: bool,
        /// Print the endpoint as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Remove an endpoint with its backlog.
    Remove {
        /// Organization id or unique name.
        org: String,
        /// Endpoint id (`ep_…`).
        id: String,
    },
    /// Send a `webhook.test` message now and print how the receiver answered.
    Test {
        /// Organization id or unique name.
        org: String,
        /// Endpoint id (`ep_…`).
        id: String,
        /// Print the attempt as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Show recent attempts and the messages not delivered yet.
    Deliveries {
        /// Organization id or unique name.
        org: String,
        /// Endpoint id (`ep_…`).
        id: String,
        /// Print one JSON object: {"attempts", "undelivered"}.
        #[arg(long)]
        json: bool,
    },
    /// Send again now: one message, or every failed one and the head of the queue.
    Retry {
        /// Organization id or unique name.
        org: String,
        /// Endpoint id (`ep_…`).
        id: String,
        /// The message's `webhook-id` (`msg_…`).
        message: Option<String>,
    },
    /// Give the endpoint a new signing secret (printed once); the old one keeps signing beside
    /// it for 24 hours.
    RotateSecret {
        /// Organization id or unique name.
        org: String,
        /// Endpoint id (`ep_…`).
        id: String,
        /// Print exactly one JSON object: {"secret", "previous_valid_until"}.
        #[arg(long)]
        json: bool,
    },
}

/// Opens the store and runs one `webhook` subcommand.
pub(super) fn run(command: WebhookCommand, common: &Common) -> CliResult {
    let store = Store::open(&common.data_dir, SyncMode::Full)?;
    let org_of = |org: &str| store.resolve_org(org).map(|o| o.id);
    match command {
        WebhookCommand::Add {
            org,
            url,
            events,
            description,
            json,
        } => {
            let new = NewWebhook {
                url: &url,
                description: &description,
                event_types: events.as_deref(),
            };
            let (endpoint, secret) = admin::add_webhook(&store, &org_of(&org)?, new, Actor::Cli)?;
            if json {
                println!("{}", json!({ "webhook": endpoint, "secret": secret }));
            } else {
                println!("Added webhook {} for {}", endpoint.id, endpoint.url);
                println!("  signing secret: {secret}");
                println!();
                println!(
                    "The secret is shown only this once. Give it to the receiver to verify the \
                     webhook-signature header (see docs/integrations.md)."
                );
            }
        }
        WebhookCommand::List { org, json } => {
            let endpoints = store.list_webhooks(&org_of(&org)?)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&endpoints)?);
            } else {
                print_endpoints(&endpoints);
            }
        }
        WebhookCommand::Update {
            org,
            id,
            url,
            events,
            description,
            enable,
            disable,
            json,
        } => {
            let changes = WebhookChanges {
                url,
                description,
                event_types: events.map(|e| {
                    let all = e.len() == 1 && e[0].trim().eq_ignore_ascii_case("all");
                    (!all).then_some(e)
                }),
                enabled: (enable || disable).then_some(enable),
            };
            let endpoint = store.update_webhook(&org_of(&org)?, &id, &changes, Actor::Cli)?;
            if json {
                println!("{}", json!(endpoint));
            } else {
                print_endpoints(std::slice::from_ref(&endpoint));
            }
        }
        WebhookCommand::Remove { org, id } => {
            store.remove_webhook(&org_of(&org)?, &id, Actor::Cli)?;
            println!("Removed webhook {id}.");
        }
        WebhookCommand::Test { org, id, json } => {
            let org = org_of(&org)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let sender = Sender::new(None)?;
            let (message, report) = runtime.block_on(sender.send_test(&store, &org, &id))?;
            if json {
                println!(
                    "{}",
                    json!({
                        "msg_id": message.msg_id,
                        "outcome": report.outcome.name(),
                        "status": report.status,
                        "duration_ms": report.duration_ms,
                        "detail": report.detail,
                    })
                );
            } else {
                let status = report
                    .status
                    .map_or("no answer".to_owned(), |s| s.to_string());
                println!(
                    "{}: {} ({status}) in {} ms{}",
                    message.msg_id,
                    report.outcome.name(),
                    report.duration_ms,
                    report.detail.map(|d| format!(": {d}")).unwrap_or_default()
                );
            }
            if report.outcome != webhook::Outcome::Delivered {
                return Err("the test message was not delivered".into());
            }
        }
        WebhookCommand::Deliveries { org, id, json } => {
            let view = store.webhook_deliveries(&org_of(&org)?, &id)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&view)?);
                return Ok(());
            }
            println!("Recent attempts (newest first):");
            if view.attempts.is_empty() {
                println!("  none yet");
            }
            for a in &view.attempts {
                println!(
                    "  {}  {:<22} {:<9} {:>4}  attempt {:<2} {:>6} ms  {}  {}",
                    a.at,
                    a.msg_type,
                    a.outcome,
                    a.status
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "-".into()),
                    a.attempt,
                    a.duration_ms,
                    a.msg_id,
                    a.detail.as_deref().unwrap_or_default()
                );
            }
            println!("Not delivered yet (oldest first):");
            if view.undelivered.is_empty() {
                println!("  nothing");
            }
            for u in &view.undelivered {
                println!(
                    "  {}  {:<22} {:<7} attempts {:<2} next {}  {}  {}",
                    u.created_at,
                    u.msg_type,
                    u.state,
                    u.attempts,
                    u.next_attempt_at,
                    u.msg_id,
                    u.last_error.as_deref().unwrap_or_default()
                );
            }
        }
        WebhookCommand::Retry { org, id, message } => {
            let n = store.retry_webhook(&org_of(&org)?, &id, message.as_deref())?;
            println!("{n} message(s) will be sent again now.");
        }
        WebhookCommand::RotateSecret { org, id, json } => {
            let (secret, until) =
                admin::rotate_webhook_secret(&store, &org_of(&org)?, &id, Actor::Cli)?;
            if json {
                println!(
                    "{}",
                    json!({ "secret": secret, "previous_valid_until": until })
                );
            } else {
                println!("New signing secret: {secret}");
                println!(
                    "The old secret also signs every message until {until}; switch the receiver \
                     to the new one before then. The new secret is shown only this once."
                );
            }
        }
    }
    Ok(())
}

fn print_endpoints(endpoints: &[WebhookEndpoint]) {
    if endpoints.is_empty() {
        println!("No webhooks yet; add one with `scim-appliance webhook add ORG URL`.");
        return;
    }
    for e in endpoints {
        let state = match (&e.disabled_reason, e.enabled, &e.failing_since) {
            (_, true, None) => "enabled".to_owned(),
            (_, true, Some(since)) => format!("enabled, failing since {since}"),
            (Some(why), false, _) => format!("disabled: {why}"),
            (None, false, _) => "disabled".to_owned(),
        };
        let types = e
            .event_types
            .as_ref()
            .map_or("all events".to_owned(), |t| t.join(","));
        println!("{}  {}  ({state})", e.id, e.url);
        println!(
            "    {types}; backlog {}{}, failed {}, expired {}{}",
            e.backlog,
            e.oldest_pending_at
                .as_deref()
                .map(|t| format!(" since {t}"))
                .unwrap_or_default(),
            e.failed,
            e.expired,
            if e.description.is_empty() {
                String::new()
            } else {
                format!("; {}", e.description)
            }
        );
    }
}
