//! Delivering webhook messages from the outbox ([`crate::store`]'s `webhook_deliveries`) to
//! the endpoints, signed per the Standard Webhooks specification ([`crate::webhook`]).
//!
//! The worker runs on its own thread with its own small async runtime, so a slow or dead
//! receiver never holds an HTTP worker, and a SCIM request never waits for a delivery: it only
//! commits the message with its change, then the store wakes the worker
//! ([`Store::outbox_ready`]). The worker sends the head of each endpoint's queue, one message
//! per endpoint at a time (so each endpoint sees its messages in order) and at most
//! [`MAX_IN_FLIGHT`] in all, and records every attempt before moving on. Whatever was not
//! recorded as delivered — because the receiver failed, or the process died mid-attempt — is
//! sent again: delivery is at least once, and receivers deduplicate by `webhook-id`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::error_chain;
use crate::metrics::DeliveryMetrics;
use crate::store::{
    AttemptReport, DeliveryTarget, DueDelivery, QueuedMessage, RetryPolicy, Store, StoreError,
};
use crate::webhook::{self, Outcome};

/// Deliveries under way at once, over all endpoints.
const MAX_IN_FLIGHT: usize = 8;
/// How often the queues are looked at without a wake-up (for retries coming due).
const POLL: Duration = Duration::from_secs(1);
/// After a commit's wake-up, how long to let more commits gather before looking: under a burst
/// of SCIM writes the queues are read a few dozen times a second, not once per write.
const GATHER: Duration = Duration::from_millis(20);
/// Time to establish a connection (TCP and TLS).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Time for a whole attempt, response included.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(15);
/// Most response bytes read; the rest is not awaited.
const MAX_RESPONSE_BYTES: usize = 4096;

/// What the worker needs to know from `serve`'s settings.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// Disable an endpoint whose attempts have failed for this long.
    pub disable_after: Duration,
}

/// Sends messages and records the attempts; shared by the worker and by "send test event".
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    metrics: Option<DeliveryMetrics>,
}

/// Why a sender could not be built (the TLS roots could not be loaded).
#[derive(Debug, thiserror::Error)]
#[error("could not set up the webhook HTTP client")]
pub struct SenderError(#[from] reqwest::Error);

impl Sender {
    /// A sender that follows no redirects, gives up on slow receivers, and counts attempts in
    /// `metrics` when given.
    pub fn new(metrics: Option<DeliveryMetrics>) -> Result<Sender, SenderError> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .pool_max_idle_per_host(2)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("scim-appliance/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { client, metrics })
    }

    /// One attempt: POST the body with the Standard Webhooks headers, signed now.
    pub async fn send(&self, target: &DeliveryTarget, message: &QueuedMessage) -> AttemptReport {
        let started = Instant::now();
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let secrets: Vec<&str> = target.secrets.iter().map(String::as_str).collect();
        let signature =
            webhook::signature_header(&secrets, &message.msg_id, timestamp, &message.body);
        let request = self
            .client
            .post(&target.url)
            .header("webhook-id", &message.msg_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(message.body.clone());
        let report = match request.send().await {
            Ok(response) => answered(response).await,
            Err(e) => AttemptReport {
                outcome: Outcome::Failed,
                status: None,
                duration_ms: 0,
                detail: Some(describe(&e)),
            },
        };
        let report = AttemptReport {
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            ..report
        };
        if let Some(metrics) = &self.metrics {
            metrics.attempt(report.outcome.name());
        }
        report
    }

    /// Sends an organization's endpoint a `webhook.test` message at once (not queued) and logs
    /// the attempt.
    pub async fn send_test(
        &self,
        store: &Store,
        org_id: &str,
        endpoint_id: &str,
    ) -> Result<(QueuedMessage, AttemptReport), TestError> {
        let (target, message) = {
            let (store, org_id, id) = (store.clone(), org_id.to_owned(), endpoint_id.to_owned());
            blocking(move || store.webhook_test(&org_id, &id))
                .await
                .map_err(|_| TestError::Interrupted)??
        };
        let report = self.send(&target, &message).await;
        let (store, saved, sent) = (store.clone(), report.clone(), message.clone());
        blocking(move || {
            store.record_attempt(
                &target,
                &sent,
                &saved,
                RetryPolicy {
                    next_delay: None,
                    disable_after: Duration::MAX,
                },
            )
        })
        .await
        .map_err(|_| TestError::Interrupted)??;
        Ok((message, report))
    }
}

/// Why a test message could not be sent (a receiver's failure is a report, not an error).
#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the test was interrupted")]
    Interrupted,
}

/// The running worker; dropping it stops the worker (attempts under way are abandoned and
/// sent again by the next run).
pub struct DeliveryWorker {
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for DeliveryWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the worker thread.
pub fn start(
    store: Store,
    sender: Sender,
    settings: DeliverySettings,
) -> std::io::Result<DeliveryWorker> {
    let (stop, stopped) = watch::channel(false);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let thread = std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || runtime.block_on(run(store, sender, settings, stopped)))?;
    Ok(DeliveryWorker {
        stop,
        thread: Some(thread),
    })
}

async fn run(
    store: Store,
    sender: Sender,
    settings: DeliverySettings,
    mut stopped: watch::Receiver<bool>,
) {
    let ready = store.outbox_ready();
    let mut busy: HashSet<String> = HashSet::new();
    let mut under_way: JoinSet<String> = JoinSet::new();
    loop {
        let free = MAX_IN_FLIGHT.saturating_sub(under_way.len());
        if free > 0 {
            let (s, taken) = (store.clone(), busy.clone());
            match blocking(move || s.due_deliveries(&taken, free)).await {
                Ok(Ok(due)) => {
                    for delivery in due {
                        busy.insert(delivery.target.endpoint_id.clone());
                        under_way.spawn(deliver(
                            store.clone(),
                            sender.clone(),
                            settings.clone(),
                            delivery,
                        ));
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %error_chain(&e), "could not read the webhook queues")
                }
                Err(_) => return,
            }
        }
        tokio::select! {
            _ = stopped.changed() => return,
            Some(done) = under_way.join_next(), if !under_way.is_empty() => {
                if let Ok(endpoint) = done {
                    busy.remove(&endpoint);
                }
            }
            () = ready.notified() => tokio::time::sleep(GATHER).await,
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

/// One attempt at the head of an endpoint's queue, recorded; returns the endpoint's id.
async fn deliver(
    store: Store,
    sender: Sender,
    settings: DeliverySettings,
    delivery: DueDelivery,
) -> String {
    let DueDelivery { target, message } = delivery;
    let report = sender.send(&target, &message).await;
    if report.outcome != Outcome::Delivered {
        tracing::info!(
            webhook = %target.endpoint_id,
            msg_id = %message.msg_id,
            attempt = message.attempts + 1,
            outcome = report.outcome.name(),
            status = report.status,
            detail = report.detail.as_deref().unwrap_or_default(),
            "webhook delivery attempt failed"
        );
    }
    let policy = RetryPolicy {
        next_delay: webhook::retry_delay(message.attempts + 1, jitter()),
        disable_after: settings.disable_after,
    };
    let endpoint = target.endpoint_id.clone();
    let recorded = blocking(move || store.record_attempt(&target, &message, &report, policy)).await;
    match recorded {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %error_chain(&e), webhook = %endpoint, "could not record a webhook attempt")
        }
        Err(_) => {}
    }
    endpoint
}

/// What an answer means: 2xx delivered, 410 gone, anything else failed; keeps the start of
/// the body (read up to [`MAX_RESPONSE_BYTES`]) as the detail.
async fn answered(mut response: reqwest::Response) -> AttemptReport {
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < MAX_RESPONSE_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    body.truncate(MAX_RESPONSE_BYTES);
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let detail = if status.is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .unwrap_or("?");
        Some(format!("redirect to {to} not followed"))
    } else {
        (!text.is_empty()).then_some(text)
    };
    AttemptReport {
        outcome: Outcome::of_status(status.as_u16()),
        status: Some(status.as_u16()),
        duration_ms: 0,
        detail,
    }
}

/// A short description of a failed request (no secrets: the URL is the admin's own).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out (limit {} s)", TOTAL_TIMEOUT.as_secs())
    } else if e.is_connect() {
        format!("could not connect: {}", error_chain(e))
    } else {
        error_chain(e)
    }
}

fn jitter() -> u32 {
    let mut bytes = [0u8; 4];
    // A failed random source only loses the spread, not the retry.
    let _ = getrandom::fill(&mut bytes);
    u32::from_le_bytes(bytes)
}

/// Runs blocking store work off the async thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    tokio::task::spawn_blocking(f).await
}
