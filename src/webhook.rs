//! Webhooks as a domain, following the Standard Webhooks specification
//! (<https://www.standardwebhooks.com>, `spec/standard-webhooks.md`): the message types an
//! organization's changes produce, signing secrets (`whsec_<base64>`), the `webhook-signature`
//! header (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`), message ids, the retry
//! schedule and the checks on an endpoint's settings. No HTTP and no SQL: the store writes
//! messages ([`crate::store`]), the delivery worker ([`crate::delivery`]) sends them.
//!
//! Following the specification rather than an invented format means a receiver verifies our
//! deliveries with the specification's own libraries (Python, JavaScript, Go, Rust, …).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Every message type, in the order the page lists them (`webhook.test` is not subscribable:
/// it goes only to the endpoint a test is sent to).
pub const EVENT_TYPES: [&str; 18] = [
    "member.created",
    "member.updated",
    "member.revoked",
    "member.restored",
    "member.deleted",
    "group.created",
    "group.updated",
    "group.deleted",
    "group.members_changed",
    "organization.created",
    "organization.updated",
    "organization.key_added",
    "organization.key_rotated",
    "organization.key_revoked",
    "webhook.added",
    "webhook.updated",
    "webhook.disabled",
    "webhook.removed",
];

/// The type of the message "send test event" sends.
pub const TEST_TYPE: &str = "webhook.test";

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2000;
/// Longest endpoint description accepted, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 500;
/// How long a rotated-out secret keeps signing beside the new one.
pub const PREVIOUS_SECRET_VALID: Duration = Duration::from_secs(24 * 60 * 60);
/// Most user ids one `group.members_changed` message lists (added and removed together);
/// a bigger change is split into several messages, in order.
pub const MAX_IDS_PER_MESSAGE: usize = 1000;

const SECRET_PREFIX: &str = "whsec_";
/// 24 random bytes: the specification asks for 24 to 64.
const SECRET_BYTES: usize = 24;

/// Waits after the 1st, 2nd, … failed attempt before the next one (Standard Webhooks'
/// suggested schedule; about 28 hours in all). After the last, the message is given up.
const RETRY_SCHEDULE: [Duration; 7] = [
    Duration::from_secs(5),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 60 * 60),
    Duration::from_secs(5 * 60 * 60),
    Duration::from_secs(10 * 60 * 60),
    Duration::from_secs(10 * 60 * 60),
];

/// Why a webhook setting or secret is refused; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("{0}")]
    Invalid(String),
    #[error("the operating system's random source failed")]
    Random,
}

/// How one delivery attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Anything else but 410: retried on the schedule.
    Failed,
    /// `410 Gone`: the receiver asks for no more deliveries; the endpoint is disabled.
    Gone,
}

impl Outcome {
    /// The outcome of an HTTP answer with `status`.
    pub fn of_status(status: u16) -> Outcome {
        match status {
            200..=299 => Outcome::Delivered,
            410 => Outcome::Gone,
            _ => Outcome::Failed,
        }
    }

    /// The name stored, shown and used as a metric label.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Failed => "failed",
            Outcome::Gone => "gone",
        }
    }
}

/// A new signing secret, `whsec_` and 24 random bytes in base64.
pub fn generate_secret() -> Result<String, WebhookError> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|_| WebhookError::Random)?;
    Ok(format!("{SECRET_PREFIX}{}", BASE64.encode(bytes)))
}

/// A new message id (`webhook-id`): `msg_` and 128 random bits.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::new_v4().simple())
}

/// A new endpoint id: `ep_` and 64 random bits in hex, short enough to type.
pub fn new_endpoint_id() -> String {
    format!("ep_{}", &uuid::Uuid::new_v4().simple().to_string()[..16])
}

/// The `webhook-signature` header for a message signed with each of `secrets` (the current
/// one, and a rotated-out one while it is still valid), space-separated as the specification
/// allows. Secrets that do not decode are skipped.
pub fn signature_header(secrets: &[&str], msg_id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|s| secret_key(s))
        .map(|key| sign(&key, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One signature: `v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`.
fn sign(key: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// The key bytes of a `whsec_…` secret.
fn secret_key(secret: &str) -> Option<Vec<u8>> {
    BASE64
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()
}

/// How long to wait before attempt `attempts + 1`, after `attempts` failed ones; `None` when
/// the schedule is exhausted. `jitter` (any u32, e.g. random) spreads the wait by ±20 % so that
/// endpoints that failed together do not retry together.
pub fn retry_delay(attempts: u32, jitter: u32) -> Option<Duration> {
    let base = RETRY_SCHEDULE.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    // A factor between 0.8 and 1.2.
    let factor = 0.8 + 0.4 * (f64::from(jitter) / f64::from(u32::MAX));
    Some(base.mul_f64(factor))
}

/// Checks an endpoint URL: absolute `http` or `https` with a host, no credentials (they would
/// show on the page and in logs), no fragment, at most [`MAX_URL_LEN`] bytes. Private and
/// loopback addresses are allowed: a homelab's receivers live there, and only the admin
/// configures endpoints.
pub fn parse_url(url: &str) -> Result<String, WebhookError> {
    let invalid = |why: &str| WebhookError::Invalid(format!("the webhook URL {why}"));
    let url = url.trim();
    if url.len() > MAX_URL_LEN {
        return Err(invalid(&format!(
            "must be at most {MAX_URL_LEN} characters"
        )));
    }
    let parsed = url::Url::parse(url).map_err(|e| invalid(&format!("is not valid ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid("must start with http:// or https://"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("must name a host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "must not contain a user name or password; the signature authenticates deliveries",
        ));
    }
    if parsed.fragment().is_some() {
        return Err(invalid("must not contain a #fragment"));
    }
    Ok(parsed.to_string())
}

/// Checks a description: at most [`MAX_DESCRIPTION_CHARS`] characters, no control characters.
pub fn parse_description(description: &str) -> Result<String, WebhookError> {
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(WebhookError::Invalid(format!(
            "the description must be at most {MAX_DESCRIPTION_CHARS} characters"
        )));
    }
    if description.chars().any(char::is_control) {
        return Err(WebhookError::Invalid(
            "the description must not contain control characters".into(),
        ));
    }
    Ok(description.to_owned())
}

/// Checks a subscription: `None` means every type; otherwise known types, deduplicated, in
/// [`EVENT_TYPES`] order, at least one.
pub fn parse_event_types<S: AsRef<str>>(
    types: Option<&[S]>,
) -> Result<Option<Vec<String>>, WebhookError> {
    let Some(types) = types else {
        return Ok(None);
    };
    if let Some(unknown) = types
        .iter()
        .map(|t| t.as_ref().trim())
        .find(|t| !EVENT_TYPES.contains(t))
    {
        return Err(WebhookError::Invalid(format!(
            "unknown event type \"{unknown}\"; known types: {}",
            EVENT_TYPES.join(", ")
        )));
    }
    let chosen: Vec<String> = EVENT_TYPES
        .iter()
        .filter(|known| types.iter().any(|t| t.as_ref().trim() == **known))
        .map(|t| (*t).to_owned())
        .collect();
    if chosen.is_empty() {
        return Err(WebhookError::Invalid(
            "choose at least one event type, or all of them".into(),
        ));
    }
    Ok(Some(chosen))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference implementations (Python and JavaScript
    /// test suites): this secret, id, timestamp and body give this signature.
    #[test]
    fn signature_matches_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let header = signature_header(
            &[secret],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let a = generate_secret().expect("secret");
        let b = generate_secret().expect("secret");
        let header = signature_header(&[&a, &b], "msg_1", 1, "{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], signature_header(&[&a], "msg_1", 1, "{}"));
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
    }

    #[test]
    fn secrets_are_24_random_bytes() {
        let s = generate_secret().expect("secret");
        assert!(s.starts_with("whsec_"));
        assert_eq!(secret_key(&s).expect("decodes").len(), 24);
        assert_ne!(s, generate_secret().expect("secret"));
    }

    #[test]
    fn retries_follow_the_schedule_with_bounded_jitter() {
        assert_eq!(retry_delay(0, 0), None);
        assert_eq!(retry_delay(1, u32::MAX / 2).map(|d| d.as_secs()), Some(5));
        let low = retry_delay(2, 0).expect("second");
        let high = retry_delay(2, u32::MAX).expect("second");
        assert_eq!((low.as_secs(), high.as_secs()), (240, 360));
        assert!(retry_delay(7, 0).is_some());
        assert_eq!(retry_delay(8, 0), None);
        let total: Duration = RETRY_SCHEDULE.iter().sum();
        assert!((24..=30).contains(&(total.as_secs() / 3600)), "{total:?}");
    }

    #[test]
    fn urls_are_checked() {
        assert_eq!(
            parse_url(" http://192.168.1.5:8080/hook ").expect("lan"),
            "http://192.168.1.5:8080/hook"
        );
        assert!(parse_url("https://hooks.example.com/x?y=1").is_ok());
        for bad in [
            "",
            "ftp://example.com/",
            "example.com/hook",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "javascript:alert(1)",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
        assert!(parse_url(&format!("https://e.com/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn event_types_are_known_and_deduplicated() {
        assert_eq!(parse_event_types::<&str>(None).expect("all"), None);
        assert_eq!(
            parse_event_types(Some(&[
                "member.revoked",
                "member.created",
                "member.revoked"
            ]))
            .expect("types"),
            Some(vec![
                "member.created".to_owned(),
                "member.revoked".to_owned()
            ])
        );
        assert!(parse_event_types(Some(&["member.exploded"])).is_err());
        assert!(parse_event_types::<&str>(Some(&[])).is_err());
        assert!(parse_event_types(Some(&[TEST_TYPE])).is_err());
    }

    #[test]
    fn outcomes_follow_the_status() {
        assert_eq!(Outcome::of_status(204), Outcome::Delivered);
        assert_eq!(Outcome::of_status(410), Outcome::Gone);
        assert_eq!(Outcome::of_status(301), Outcome::Failed);
        assert_eq!(Outcome::of_status(500), Outcome::Failed);
    }
}
