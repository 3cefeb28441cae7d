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
//! 3. otherwise argon2 verifies it through the process's [`gate::Argon2Gate`], single-flight per
//!    token, and a success is cached. Because step 1 reads the row on every request, rotation,
//!    revocation, expiry and disabling take effect immediately even for cached tokens; an
//!    expired key is refused at step 1, exactly like an unknown one.
//!
//! A key's "last used" time is kept in memory here and written by the server's background
//! thread ([`Authenticator::flush_key_usage`], at most once per interval per key), never on
//! the request path.
//!
//! Failures are throttled per client address *and* key ([`throttle`]): a stranger's bad tokens
//! from an address an identity provider shares (Entra ID and Okta send from addresses shared by
//! many tenants) cannot lock another organization's key out, and a cached key is never
//! throttled. Tokens that name no key of the organization cost no argon2 and are throttled per
//! address only.

pub mod api_key;
pub mod gate;
pub mod password;
pub mod session;
pub mod throttle;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::store::{ApiKeyRecord, KeyScope, Store, StoreError};
use crate::timestamp;
use gate::Argon2Gate;
use throttle::{ClientKey, Throttle};

/// Verified tokens remembered at most; the cache is emptied when it fills (keys are few).
const MAX_CACHED_TOKENS: usize = 4096;
/// Failed attempts per client address and key (or, for tokens naming no key, per address) and
/// window before 429.
const MAX_FAILURES: u32 = 20;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Why a request's API key was refused; the HTTP layer maps each to its status and body.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// 401: no `Authorization` header (or several, or one that is not text).
    #[error("Missing Authorization header; send `Authorization: Bearer <API key>`.")]
    Missing,
    /// 401: the token is not a current key of the organization in the URL (unknown, revoked,
    /// replaced or expired).
    #[error("The API key is not valid for this organization.")]
    InvalidKey,
    /// 401: the key is valid but the organization has SCIM provisioning turned off.
    #[error("SCIM provisioning is disabled for this organization.")]
    Disabled,
    /// 429: too many failures from this client (for this key).
    #[error(
        "too many failed authentication attempts from this address; retry in {retry_after} seconds"
    )]
    Throttled { retry_after: u64 },
    /// 503: too many credential checks are queued ([`gate::Busy`]).
    #[error(transparent)]
    Busy(#[from] gate::Busy),
    /// The key could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lookup was cut short (the runtime is shutting down).
    #[error("the API key could not be checked")]
    Interrupted,
}

type TokenDigest = [u8; 32];

/// A request that presented a valid, current key for the organization in its URL.
#[derive(Clone, Debug)]
pub struct ScimCaller {
    /// The organization the key belongs to (lower-case UUID).
    pub org_id: String,
    /// Public id of the key used, recorded with every change.
    pub key_id: String,
    /// What the key may do; the front door refuses what a `read` key may not.
    pub scope: KeyScope,
}

/// Checks API keys; one per process, shared by all workers.
pub struct Authenticator {
    /// SHA-256 of a verified token → the key row it was verified against.
    verified: Mutex<HashMap<TokenDigest, CachedKey>>,
    /// One lock per token being verified, so concurrent first requests run argon2 once. Async,
    /// so that requests waiting for it hold no thread.
    in_flight: InFlightMap,
    /// Failures for keys that exist: argon2 ran (or would have).
    key_failures: Throttle<(ClientKey, String)>,
    /// Failures for tokens that name no key of the organization (no argon2 involved).
    unknown_failures: Throttle<ClientKey>,
    argon2: Arc<Argon2Gate>,
    /// Key id → when it last authenticated a request, since the last flush to the database
    /// (a few entries: only keys that exist get here).
    last_used: Mutex<HashMap<String, String>>,
}

#[derive(Clone, PartialEq, Eq)]
struct CachedKey {
    key_id: String,
    phc: String,
}

impl Authenticator {
    /// An authenticator whose argon2 runs go through `argon2` (shared with every other check
    /// of the process).
    pub fn new(argon2: Arc<Argon2Gate>) -> Authenticator {
        Authenticator {
            verified: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            key_failures: Throttle::new(MAX_FAILURES, FAILURE_WINDOW),
            unknown_failures: Throttle::new(MAX_FAILURES, FAILURE_WINDOW),
            argon2,
            last_used: Mutex::new(HashMap::new()),
        }
    }

    /// Authenticates a request for `org_id` carrying the `Authorization` header value `header`.
    pub async fn authenticate(
        self: &Arc<Self>,
        store: &Store,
        org_id: &str,
        header: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<ScimCaller, AuthError> {
        let Some(header) = header else {
            return Err(AuthError::Missing);
        };
        let token = strip_bearer(header);
        let client = ClientKey::of(client);

        let org_id = uuid::Uuid::try_parse(org_id).ok().map(|u| u.to_string());
        let key_id = api_key::key_id_of(token).map(str::to_owned);
        let (Some(org_id), Some(key_id)) = (org_id, key_id) else {
            return Err(self.unknown_key(client));
        };

        // A lookup of one row in a small table: at once when a reader is idle.
        let lookup = {
            let (store, org_id, key_id) = (store.clone(), org_id.clone(), key_id.clone());
            move || store.api_key_for(&org_id, &key_id)
        };
        let record = match store.read_now(lookup) {
            Ok(record) => record?,
            Err(lookup) => tokio::task::spawn_blocking(lookup)
                .await
                .map_err(|_| AuthError::Interrupted)??,
        };
        let now = timestamp::now();
        let Some(record) = record.filter(|r| !r.expired_at(&now)) else {
            return Err(self.unknown_key(client));
        };

        let digest: TokenDigest = Sha256::digest(token.as_bytes()).into();
        if !self.is_cached(&digest, &record) {
            self.verify_once(digest, token, &record, client).await?;
        }
        if !record.scim_enabled {
            return Err(AuthError::Disabled);
        }
        self.lock_last_used().insert(record.key_id.clone(), now);
        Ok(ScimCaller {
            org_id,
            key_id: record.key_id,
            scope: record.scope,
        })
    }

    /// Writes the keys' "last used" times gathered since the last flush, in one transaction.
    /// When the write fails, the times are kept for the next flush.
    pub fn flush_key_usage(&self, store: &Store) -> Result<(), StoreError> {
        let uses: Vec<(String, String)> = self.lock_last_used().drain().collect();
        if let Err(e) = store.record_key_use(&uses) {
            let mut pending = self.lock_last_used();
            for (key_id, at) in uses {
                // A newer use recorded meanwhile wins.
                pending.entry(key_id).or_insert(at);
            }
            return Err(e);
        }
        Ok(())
    }

    fn lock_last_used(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.last_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A token that names no key of the organization: 401, or 429 once the address has sent
    /// too many.
    fn unknown_key(&self, client: ClientKey) -> AuthError {
        match self.unknown_failures.reserve(client) {
            Ok(_counted) => AuthError::InvalidKey,
            Err(retry_after) => AuthError::Throttled { retry_after },
        }
    }

    fn is_cached(&self, digest: &TokenDigest, record: &ApiKeyRecord) -> bool {
        let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        verified
            .get(digest)
            .is_some_and(|c| c.key_id == record.key_id && c.phc == record.phc)
    }

    /// Proves `token` against `record` with argon2, unless a concurrent request for the same
    /// token already did. The attempt is reserved against the throttle before argon2 runs.
    async fn verify_once(
        &self,
        digest: TokenDigest,
        token: &str,
        record: &ApiKeyRecord,
        client: ClientKey,
    ) -> Result<(), AuthError> {
        let turn = InFlight::join(&self.in_flight, digest);
        let _turn = turn.slot.lock().await;
        if self.is_cached(&digest, record) {
            return Ok(());
        }
        let attempt = self
            .key_failures
            .reserve((client, record.key_id.clone()))
            .map_err(|retry_after| AuthError::Throttled { retry_after })?;
        let (token, phc) = (token.to_owned(), record.phc.clone());
        let valid = match self.argon2.run(move || api_key::verify(&token, &phc)).await {
            Ok(valid) => valid,
            Err(busy) => {
                attempt.not_checked();
                return Err(busy.into());
            }
        };
        if !valid {
            return Err(AuthError::InvalidKey);
        }
        attempt.succeeded();
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
        Ok(())
    }
}

type InFlightMap = Mutex<HashMap<TokenDigest, Arc<tokio::sync::Mutex<()>>>>;

/// A request's place among those verifying the same token; the map entry goes with the last
/// one, also when a request is abandoned midway.
struct InFlight<'a> {
    map: &'a InFlightMap,
    digest: TokenDigest,
    slot: Arc<tokio::sync::Mutex<()>>,
}

impl<'a> InFlight<'a> {
    fn join(map: &'a InFlightMap, digest: TokenDigest) -> InFlight<'a> {
        let mut entries = map.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = Arc::clone(entries.entry(digest).or_default());
        InFlight { map, digest, slot }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut entries = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the map and this request hold the slot: nobody else is waiting for it.
        if Arc::strong_count(&self.slot) == 2 {
            entries.remove(&self.digest);
        }
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
