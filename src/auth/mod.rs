//! Authentication: SCIM requests with per-organization API keys (this module), the admin's
//! sign-in and sessions ([`session`]), and the argon2id hashing both use ([`password`]).
//!
//! The steady-state cost of a request is one SHA-256 of the token, one in-memory lookup and one
//! indexed read of the key row; argon2 runs at most once per key per process:
//!
//! 1. the key id inside the token finds the one candidate row (`api_keys` primary key, scoped to
//!    the organization in the URL); a token without a well-formed id, or whose id is unknown,
//!    is rejected without argon2;
//! 2. a token whose SHA-256 is cached with the same row (key id and PHC string) is accepted;
//! 3. otherwise argon2 verifies it on the blocking pool, single-flight per token, and a success
//!    is cached. Because step 1 reads the row on every request, rotation and disabling take
//!    effect immediately even for cached tokens.

pub mod api_key;
pub mod password;
pub mod session;
mod throttle;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use sha2::{Digest, Sha256};

use crate::scim::ScimError;
use crate::startup::AppState;
use crate::store::{ApiKeyRecord, Store};
use throttle::Throttle;

/// Verified tokens remembered at most; the cache is emptied when it fills (keys are few).
const MAX_CACHED_TOKENS: usize = 4096;
/// Failed attempts per client address and window before 429.
const MAX_FAILURES: u32 = 20;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

const INVALID_KEY: &str = "The API key is not valid for this organization.";

type TokenDigest = [u8; 32];

/// A request that presented a valid, current key for the organization in its URL.
#[derive(Clone, Debug)]
pub struct ScimCaller {
    /// The organization the key belongs to (lower-case UUID).
    pub org_id: String,
    /// Public id of the key used, recorded with every change.
    pub key_id: String,
}

/// Checks API keys; one per process, shared by all workers.
pub struct Authenticator {
    /// SHA-256 of a verified token → the key row it was verified against.
    verified: Mutex<HashMap<TokenDigest, CachedKey>>,
    /// One lock per token being verified, so concurrent first requests run argon2 once.
    in_flight: Mutex<HashMap<TokenDigest, Arc<Mutex<()>>>>,
    throttle: Throttle,
    argon2_runs: AtomicU64,
}

#[derive(Clone, PartialEq, Eq)]
struct CachedKey {
    key_id: String,
    phc: String,
}

impl Default for Authenticator {
    fn default() -> Self {
        Authenticator {
            verified: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            throttle: Throttle::new(MAX_FAILURES, FAILURE_WINDOW),
            argon2_runs: AtomicU64::new(0),
        }
    }
}

impl Authenticator {
    /// How many argon2 verifications this process has run (for tests and metrics).
    pub fn argon2_runs(&self) -> u64 {
        self.argon2_runs.load(Ordering::Relaxed)
    }

    /// Authenticates a request for `org_id` carrying the `Authorization` header value `header`.
    pub async fn authenticate(
        self: &Arc<Self>,
        store: &Store,
        org_id: &str,
        header: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<ScimCaller, ScimError> {
        let Some(header) = header else {
            return Err(ScimError::Unauthorized(
                "Missing Authorization header; send `Authorization: Bearer <API key>`.".into(),
            ));
        };
        let token = strip_bearer(header);
        let digest: TokenDigest = Sha256::digest(token.as_bytes()).into();
        let blocked = client.and_then(|ip| self.throttle.retry_after(ip));

        let org_id = uuid::Uuid::try_parse(org_id).ok().map(|u| u.to_string());
        let key_id = api_key::key_id_of(token).map(str::to_owned);
        let (Some(org_id), Some(key_id)) = (org_id, key_id) else {
            return Err(self.failure(client, blocked));
        };

        let record = {
            let (store, org_id, key_id) = (store.clone(), org_id.clone(), key_id.clone());
            web::block(move || store.api_key_for(&org_id, &key_id)).await??
        };
        let Some(record) = record else {
            return Err(self.failure(client, blocked));
        };

        if !self.is_cached(&digest, &record) {
            if let Some(retry_after) = blocked {
                return Err(ScimError::TooManyRequests { retry_after });
            }
            let this = Arc::clone(self);
            let (token, record) = (token.to_owned(), record.clone());
            if !web::block(move || this.verify_once(digest, &token, &record)).await? {
                return Err(self.failure(client, None));
            }
        }
        if !record.scim_enabled {
            return Err(ScimError::Unauthorized(
                "SCIM provisioning is disabled for this organization.".into(),
            ));
        }
        Ok(ScimCaller {
            org_id,
            key_id: record.key_id,
        })
    }

    /// Counts a failed attempt and picks the answer: 429 when already blocked, else 401.
    fn failure(&self, client: Option<IpAddr>, blocked: Option<u64>) -> ScimError {
        if let Some(retry_after) = blocked {
            return ScimError::TooManyRequests { retry_after };
        }
        if let Some(ip) = client {
            self.throttle.record_failure(ip);
        }
        ScimError::Unauthorized(INVALID_KEY.into())
    }

    fn is_cached(&self, digest: &TokenDigest, record: &ApiKeyRecord) -> bool {
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        verified
            .get(digest)
            .is_some_and(|c| c.key_id == record.key_id && c.phc == record.phc)
    }

    /// Runs argon2 for `token` unless a concurrent request for the same token already proved
    /// it; blocking, so it runs on the blocking pool.
    fn verify_once(&self, digest: TokenDigest, token: &str, record: &ApiKeyRecord) -> bool {
        let slot = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            Arc::clone(in_flight.entry(digest).or_default())
        };
        let guard = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let ok = self.is_cached(&digest, record) || {
            self.argon2_runs.fetch_add(1, Ordering::Relaxed);
            let ok = api_key::verify(token, &record.phc);
            if ok {
                let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
                if verified.len() >= MAX_CACHED_TOKENS {
                    verified.clear();
                }
                verified.insert(
                    digest,
                    CachedKey {
                        key_id: record.key_id.clone(),
                        phc: record.phc.clone(),
                    },
                );
            }
            ok
        };
        drop(guard);
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&digest);
        ok
    }
}

/// `Bearer <key>` with the scheme in any case, or (as Bitwarden accepts) the bare key.
fn strip_bearer(header: &str) -> &str {
    let header = header.trim();
    match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => header,
    }
}

impl FromRequest for ScimCaller {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<ScimCaller, ScimError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let org_id = req
            .match_info()
            .get("org_id")
            .unwrap_or_default()
            .to_owned();
        let mut values = req.headers().get_all(header::AUTHORIZATION);
        // A missing, repeated or non-text header is treated as no credentials at all.
        let header = match (values.next(), values.next()) {
            (Some(v), None) => v.to_str().ok().map(str::to_owned),
            _ => None,
        };
        let client = state.as_ref().and_then(|s| s.client_ip(req));
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ScimError::Internal("application state is not configured".into()))?;
            state
                .auth
                .authenticate(&state.store, &org_id, header.as_deref(), client)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::strip_bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive_and_optional() {
        assert_eq!(strip_bearer("Bearer abc"), "abc");
        assert_eq!(strip_bearer("bearer abc"), "abc");
        assert_eq!(strip_bearer("BEARER   abc "), "abc");
        assert_eq!(strip_bearer("abc"), "abc");
        assert_eq!(strip_bearer("Basic abc"), "Basic abc");
    }
}
