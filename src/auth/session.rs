//! Admin sign-in: the one-time setup token, session cookies and the sign-in rate limit.
//!
//! A session cookie is 256 random bits; the database keeps only its SHA-256, so neither a copy
//! of the file nor a log line can be replayed. Sessions end after [`IDLE_TIMEOUT`] without
//! requests or [`ABSOLUTE_TIMEOUT`] after sign-in. Each session has its own CSRF token that the
//! page echoes in `X-CSRF-Token`.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::api_key::{KeyError, SECRET_ALPHABET, random_string};
use super::throttle::{Attempt, ClientKey, Throttle};
use crate::store::{Store, StoreError};
use crate::timestamp;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "scim_admin_session";
/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// The idle deadline is moved at most this often (one small write instead of one per request).
const TOUCH_INTERVAL: Duration = Duration::from_secs(60);
/// Failed sign-in or setup attempts per client address and window before 429.
const MAX_FAILURES: u32 = 10;
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Random characters in session, CSRF and setup tokens (62 symbols: ~256 bits).
const TOKEN_CHARS: usize = 43;

type Digest32 = [u8; 32];

/// Why a session or setup token could not be made or checked.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The operating system's random source failed.
    #[error(transparent)]
    Random(#[from] KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Admin sign-in state of one process.
pub struct AdminAuth {
    /// SHA-256 of the one-time setup token, while no password is set and it is unused.
    setup_token: Mutex<Option<Digest32>>,
    throttle: Throttle<ClientKey>,
}

/// A session just started: the cookie value to set (never stored) and what the page needs.
#[derive(Debug)]
pub struct NewSession {
    pub cookie: String,
    pub csrf_token: String,
    pub expires_at: String,
}

/// A valid session, as a request presented it.
#[derive(Clone, Debug)]
pub struct ActiveSession {
    /// SHA-256 of the cookie: the session's key in the store.
    pub token_hash: Digest32,
    pub csrf_token: String,
    /// When it ends unless used again (idle) — never later than the absolute deadline.
    pub expires_at: String,
}

impl Default for AdminAuth {
    fn default() -> Self {
        AdminAuth {
            setup_token: Mutex::new(None),
            throttle: Throttle::new(MAX_FAILURES, FAILURE_WINDOW),
        }
    }
}

impl AdminAuth {
    /// Makes a new one-time setup token (replacing any earlier one) and returns it for the log.
    pub fn issue_setup_token(&self) -> Result<String, KeyError> {
        let token = new_token()?;
        *self.lock_setup() = Some(digest(&token));
        Ok(token)
    }

    /// Whether `presented` is the current setup token (compared in constant time).
    pub fn setup_token_matches(&self, presented: &str) -> bool {
        let presented = digest(presented);
        self.lock_setup()
            .as_ref()
            .is_some_and(|expected| bool::from(expected.ct_eq(&presented)))
    }

    /// Invalidates the setup token (it was used, or a password was set another way).
    pub fn clear_setup_token(&self) {
        *self.lock_setup() = None;
    }

    /// Reserves one sign-in, setup or password-change attempt for `client`, before the
    /// password or token is checked; `Err` holds the seconds to wait when the client has failed
    /// too often. The attempt counts as failed unless it is settled as succeeded.
    pub fn reserve_attempt(&self, client: Option<IpAddr>) -> Result<Attempt<'_, ClientKey>, u64> {
        self.throttle.reserve(ClientKey::of(client))
    }

    fn lock_setup(&self) -> std::sync::MutexGuard<'_, Option<Digest32>> {
        self.setup_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Starts a session after a successful sign-in.
pub fn start_session(store: &Store) -> Result<NewSession, SessionError> {
    let cookie = new_token()?;
    let csrf_token = new_token()?;
    let now = OffsetDateTime::now_utc();
    store.create_admin_session(
        &digest(&cookie),
        &csrf_token,
        &timestamp::format(now),
        &timestamp::format(now - ABSOLUTE_TIMEOUT),
    )?;
    Ok(NewSession {
        cookie,
        csrf_token,
        expires_at: timestamp::format(now + IDLE_TIMEOUT),
    })
}

/// The session a cookie value stands for, if it exists and has not expired; an expired one is
/// deleted, a live one has its idle deadline moved.
pub fn check_session(store: &Store, cookie: &str) -> Result<Option<ActiveSession>, StoreError> {
    let token_hash = digest(cookie);
    let Some(record) = store.admin_session(&token_hash)? else {
        return Ok(None);
    };
    let now = OffsetDateTime::now_utc();
    let (Some(created), Some(last_seen)) = (
        timestamp::parse(&record.created_at),
        timestamp::parse(&record.last_seen_at),
    ) else {
        store.delete_admin_session(&token_hash)?;
        return Ok(None);
    };
    let absolute_end = created + ABSOLUTE_TIMEOUT;
    if now >= absolute_end || now >= last_seen + IDLE_TIMEOUT {
        store.delete_admin_session(&token_hash)?;
        return Ok(None);
    }
    if now - last_seen >= TOUCH_INTERVAL {
        store.touch_admin_session(&token_hash, &timestamp::format(now))?;
    }
    Ok(Some(ActiveSession {
        token_hash,
        csrf_token: record.csrf_token,
        expires_at: timestamp::format((now + IDLE_TIMEOUT).min(absolute_end)),
    }))
}

/// Whether a presented CSRF token is the session's (constant time).
pub fn csrf_matches(session: &ActiveSession, presented: &str) -> bool {
    bool::from(session.csrf_token.as_bytes().ct_eq(presented.as_bytes()))
}

fn new_token() -> Result<String, KeyError> {
    random_string(SECRET_ALPHABET, TOKEN_CHARS)
}

fn digest(token: &str) -> Digest32 {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_token_matches_once_issued_and_not_after_clearing() {
        let auth = AdminAuth::default();
        assert!(!auth.setup_token_matches(""));
        let token = auth.issue_setup_token().expect("token");
        assert_eq!(token.len(), TOKEN_CHARS);
        assert!(auth.setup_token_matches(&token));
        assert!(!auth.setup_token_matches(&token[1..]));
        auth.clear_setup_token();
        assert!(!auth.setup_token_matches(&token));
    }

    #[test]
    fn sessions_start_check_and_end() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), crate::store::SyncMode::Normal).expect("store");
        let session = start_session(&store).expect("session");
        let active = check_session(&store, &session.cookie)
            .expect("check")
            .expect("active");
        assert_eq!(active.csrf_token, session.csrf_token);
        assert!(csrf_matches(&active, &session.csrf_token));
        assert!(!csrf_matches(&active, "forged"));
        assert!(check_session(&store, "another").expect("check").is_none());
        store
            .delete_admin_session(&active.token_hash)
            .expect("delete");
        assert!(
            check_session(&store, &session.cookie)
                .expect("check")
                .is_none()
        );
    }

    /// Stores a session that started `age` ago and was last used `idle` ago.
    fn aged_session(store: &Store, cookie: &str, age: Duration, idle: Duration) {
        let now = OffsetDateTime::now_utc();
        let started = timestamp::format(now - age);
        store
            .create_admin_session(&digest(cookie), "csrf", &started, &started)
            .expect("create");
        store
            .touch_admin_session(&digest(cookie), &timestamp::format(now - idle))
            .expect("touch");
    }

    #[test]
    fn sessions_expire_when_idle_or_old_and_are_deleted() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), crate::store::SyncMode::Normal).expect("store");
        let minute = Duration::from_secs(60);
        aged_session(&store, "fresh", 2 * minute, minute);
        aged_session(&store, "idle", 3 * IDLE_TIMEOUT, IDLE_TIMEOUT + minute);
        aged_session(&store, "old", ABSOLUTE_TIMEOUT + minute, minute);
        assert!(check_session(&store, "fresh").expect("check").is_some());
        for expired in ["idle", "old"] {
            assert!(
                check_session(&store, expired).expect("check").is_none(),
                "{expired}"
            );
            let row = store.admin_session(&digest(expired)).expect("read");
            assert!(row.is_none(), "{expired} is deleted");
        }
    }

    #[test]
    fn the_expiry_never_passes_the_absolute_deadline() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), crate::store::SyncMode::Normal).expect("store");
        let minute = Duration::from_secs(60);
        aged_session(&store, "late", ABSOLUTE_TIMEOUT - 10 * minute, minute);
        let active = check_session(&store, "late")
            .expect("check")
            .expect("alive");
        let expires = timestamp::parse(&active.expires_at).expect("timestamp");
        let remaining = expires - OffsetDateTime::now_utc();
        assert!(remaining <= time::Duration::minutes(10), "{remaining}");
    }
}
