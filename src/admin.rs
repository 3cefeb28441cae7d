//! What an operator does to the appliance — organizations, their API keys, webhook endpoints,
//! the admin password —
//! written once and called by both the command line (`cli`) and the admin API (`web`), so the
//! two cannot drift apart. Each function is synchronous (argon2, SQLite); the web layer runs it
//! on the blocking pool.

use std::time::Duration;

use crate::auth::{api_key, password};
use crate::store::{
    Actor, ApiKey, IssuedKey, KeyScope, KeySpec, NewWebhook, Organization, ReplacedKey,
    RotationTarget, Store, StoreError, WebhookEndpoint, parse_key_name,
};
use crate::webhook::{self, WebhookError};

/// The longest an API key may be made to last: ten years (humantime's `10y`).
pub const MAX_KEY_LIFETIME: Duration = Duration::from_secs(315_576_000);
/// The longest a rotation may keep the replaced key working: 30 days.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Why an operator action failed: the input, a new key, the password hash, or the store.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The new admin password breaks a rule; the message says which.
    #[error("{0}")]
    InvalidPassword(String),
    /// Another input breaks a rule (a key's lifetime, a grace period); the message says which.
    #[error("{0}")]
    Invalid(String),
    /// A new API key could not be made (random source or hashing).
    #[error("could not make a new API key")]
    Key(#[from] api_key::KeyError),
    #[error("could not hash the admin password")]
    PasswordHash,
    /// A webhook signing secret could not be made.
    #[error("could not make a webhook signing secret")]
    WebhookSecret(#[from] WebhookError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A freshly issued API key: shown once, never stored in clear.
#[derive(Debug)]
pub struct IssuedApiKey {
    /// The whole token, to paste into the identity provider.
    pub token: String,
    /// Its public lookup id (also inside the token), shown beside the key from then on.
    pub key_id: String,
    /// When it was issued.
    pub created_at: String,
}

/// Creates an organization. `with_key` gives the command line's one-step setup (SCIM enabled,
/// a key issued and returned); without, the organization starts with SCIM disabled and no key.
pub fn create_org(
    store: &Store,
    name: &str,
    with_key: bool,
    actor: Actor,
) -> Result<(Organization, Option<IssuedApiKey>), ActionError> {
    if !with_key {
        return Ok((store.create_org(name, None, actor)?, None));
    }
    let key = api_key::generate()?;
    let org = store.create_org(name, Some(issued(&key)), actor)?;
    let created_at = org.created_at.clone();
    Ok((org, Some(issued_api_key(key, created_at))))
}

/// A key just added or rotated in: its token, shown once, and the key as listed from now on.
#[derive(Debug)]
pub struct NewApiKey {
    /// The whole token, to paste into the client.
    pub token: String,
    pub key: ApiKey,
    /// After a rotation, the key it replaced.
    pub replaced: Option<ReplacedKey>,
}

/// Adds an API key to the organization: `expires_in` from now (at most [`MAX_KEY_LIFETIME`]),
/// or never.
pub fn add_api_key(
    store: &Store,
    org_id: &str,
    name: &str,
    scope: KeyScope,
    expires_in: Option<Duration>,
    actor: Actor,
) -> Result<NewApiKey, ActionError> {
    let name = parse_key_name(name)?;
    if let Some(lifetime) = expires_in
        && (lifetime < Duration::from_secs(1) || lifetime > MAX_KEY_LIFETIME)
    {
        return Err(ActionError::Invalid(
            "a key's lifetime must be between 1 second and 10 years".into(),
        ));
    }
    let spec = KeySpec {
        name: &name,
        scope,
        expires_at: expires_in.map(|d| time::OffsetDateTime::now_utc() + d),
    };
    let key = api_key::generate()?;
    let added = store.add_api_key(org_id, issued(&key), &spec, actor)?;
    Ok(NewApiKey {
        token: key.token,
        key: added,
        replaced: None,
    })
}

/// Replaces a key with a new one of the same name and scope: the key `key_id`, or without it
/// the organization's one provision key (a first one named `default` when there is none; an
/// error when there are several). The old key stops at once, or after `grace` (at most
/// [`MAX_ROTATION_GRACE`]).
pub fn rotate_api_key(
    store: &Store,
    org_id: &str,
    key_id: Option<&str>,
    grace: Option<Duration>,
    actor: Actor,
) -> Result<NewApiKey, ActionError> {
    if grace.is_some_and(|g| g > MAX_ROTATION_GRACE) {
        return Err(ActionError::Invalid(
            "the grace period must be at most 30 days".into(),
        ));
    }
    let target = match key_id {
        Some(key_id) => RotationTarget::Key(key_id),
        None => RotationTarget::OnlyProvisionKey,
    };
    let key = api_key::generate()?;
    let rotation = store.rotate_api_key(org_id, target, issued(&key), grace, actor)?;
    Ok(NewApiKey {
        token: key.token,
        key: rotation.key,
        replaced: rotation.replaced,
    })
}

/// Deletes a key of the organization; it stops working on the next request.
pub fn revoke_api_key(
    store: &Store,
    org_id: &str,
    key_id: &str,
    actor: Actor,
) -> Result<ApiKey, ActionError> {
    Ok(store.revoke_api_key(org_id, key_id, actor)?)
}

/// Sets the admin password (after checking its length) and signs out every session. With
/// `only_if_unset` (the one-time setup), returns `false` without changing anything when a
/// password already exists.
pub fn set_admin_password(
    store: &Store,
    new_password: &str,
    only_if_unset: bool,
) -> Result<bool, ActionError> {
    password::check_admin_password(new_password).map_err(ActionError::InvalidPassword)?;
    let phc = password::hash(new_password.as_bytes()).ok_or(ActionError::PasswordHash)?;
    Ok(store.set_admin_password_phc(&phc, only_if_unset)?)
}

/// Adds a webhook endpoint with a new signing secret, returned once (it is stored, in clear,
/// because every delivery is signed with it).
pub fn add_webhook(
    store: &Store,
    org_id: &str,
    new: NewWebhook<'_>,
    actor: Actor,
) -> Result<(WebhookEndpoint, String), ActionError> {
    let secret = webhook::generate_secret()?;
    let endpoint = store.create_webhook(org_id, new, &secret, actor)?;
    Ok((endpoint, secret))
}

/// Gives an endpoint a new signing secret; returns it and until when the old one also signs.
pub fn rotate_webhook_secret(
    store: &Store,
    org_id: &str,
    endpoint_id: &str,
    actor: Actor,
) -> Result<(String, String), ActionError> {
    let secret = webhook::generate_secret()?;
    let until = store.rotate_webhook_secret(org_id, endpoint_id, &secret, actor)?;
    Ok((secret, until))
}

fn issued(key: &api_key::GeneratedKey) -> IssuedKey<'_> {
    IssuedKey {
        key_id: &key.key_id,
        phc: &key.phc,
    }
}

fn issued_api_key(key: api_key::GeneratedKey, created_at: String) -> IssuedApiKey {
    IssuedApiKey {
        token: key.token,
        key_id: key.key_id,
        created_at,
    }
}
