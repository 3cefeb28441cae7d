//! Simple binds. The one identity that can bind is a service account: the DN
//! `cn=<key id>,<base>` with a `read`-scoped API key of the organization whose base it is as
//! the password, checked by the same [`Authenticator`](crate::auth::Authenticator) as SCIM
//! requests (key lookup, token cache, argon2 through the process's gate, throttling per client
//! address). An anonymous bind may read the root DSE only; members have no password yet, so
//! their binds are refused. Every outcome is logged with the key id (or, when the DN names
//! no service account, the DN), never the password.

use std::net::IpAddr;

use ldap3_proto::proto::{LdapBindCred, LdapResultCode};

use super::dn::Dn;
use super::entries::Tree;
use super::org_by_base;
use crate::auth::AuthError;
use crate::state::AppState;
use crate::store::KeyScope;

/// Who a connection is, after its last bind.
#[derive(Clone, Debug)]
pub enum Identity {
    Anonymous,
    /// Bound with a read key: sees its organization's tree, and nothing else.
    Service {
        org_id: String,
        key_id: String,
        /// The tree it bound to (its base DN then: searches read the current one).
        tree: Tree,
    },
}

impl Identity {
    /// The authorization identity WhoAmI reports (RFC 4532): `dn:<bind DN>` or empty.
    pub fn authz_id(&self) -> String {
        match self {
            Identity::Anonymous => String::new(),
            Identity::Service { key_id, tree, .. } => format!("dn:cn={key_id},{}", tree.base),
        }
    }
}

/// A refused bind: the result code and the diagnostic message sent back.
#[derive(Debug)]
pub struct Refusal {
    pub code: LdapResultCode,
    pub message: String,
}

fn refuse(code: LdapResultCode, message: &str) -> Refusal {
    Refusal {
        code,
        message: message.to_owned(),
    }
}

/// A bind DN as it may be logged: a string that is not a DN may be a password typed in the
/// wrong field, and is not written down.
fn loggable(dn: &str) -> &str {
    if Dn::parse(dn).is_ok() {
        dn
    } else {
        "(not a DN)"
    }
}

const MEMBERS_CANNOT_BIND: &str = "members cannot bind yet (no member has a password)";

/// Checks a bind request and says who the connection is now.
pub async fn bind(
    state: &AppState,
    client: IpAddr,
    dn: &str,
    cred: &LdapBindCred,
) -> Result<Identity, Refusal> {
    let LdapBindCred::Simple(password) = cred else {
        tracing::warn!(%client, dn = loggable(dn), "LDAP bind refused: not a simple bind");
        return Err(refuse(
            LdapResultCode::AuthMethodNotSupported,
            "only simple binds are supported",
        ));
    };
    if dn.is_empty() && password.is_empty() {
        return Ok(Identity::Anonymous);
    }
    if password.is_empty() {
        // An "unauthenticated bind" (RFC 4513 §5.1.2) would otherwise pass for a login.
        tracing::warn!(%client, dn = loggable(dn), "LDAP bind refused: a DN without a password");
        return Err(refuse(
            LdapResultCode::UnwillingToPerform,
            "unauthenticated binds (a DN without a password) are refused",
        ));
    }
    let parsed = Dn::parse(dn).map_err(|_| {
        tracing::warn!(%client, dn = loggable(dn), "LDAP bind refused: the bind DN is not a DN");
        refuse(LdapResultCode::InvalidCredentials, MEMBERS_CANNOT_BIND)
    })?;
    let org = match (
        parsed.leaf_value("cn"),
        org_by_base(state, &parsed.parent()).await,
    ) {
        (Some(key_id), Ok(Some(org))) => Some((key_id.to_owned(), org)),
        (_, Err(e)) => {
            tracing::error!(error = %crate::error::error_chain(&e), "LDAP bind: could not read the organization");
            return Err(refuse(
                LdapResultCode::Unavailable,
                "the directory could not be read",
            ));
        }
        _ => None,
    };
    let Some((key_id, (org_id, tree))) = org else {
        tracing::warn!(%client, dn, "LDAP bind refused: not a service account DN");
        return Err(refuse(
            LdapResultCode::InvalidCredentials,
            MEMBERS_CANNOT_BIND,
        ));
    };
    let caller = state
        .auth
        .authenticate(&state.store, &org_id, Some(password), Some(client))
        .await;
    let refusal = match caller {
        Ok(caller) if !caller.key_id.eq_ignore_ascii_case(&key_id) => refuse(
            LdapResultCode::InvalidCredentials,
            "the password is not this key",
        ),
        Ok(caller) if caller.scope != KeyScope::Read => refuse(
            LdapResultCode::InvalidCredentials,
            "LDAP binds need a read key; this key provisions",
        ),
        Ok(caller) => {
            tracing::info!(%client, org_id, key_id = caller.key_id, "LDAP bind succeeded");
            return Ok(Identity::Service {
                org_id,
                key_id: caller.key_id,
                tree,
            });
        }
        Err(AuthError::Throttled { retry_after }) => Refusal {
            code: LdapResultCode::UnwillingToPerform,
            message: format!(
                "too many failed binds from this address; retry in {retry_after} seconds"
            ),
        },
        Err(AuthError::Busy(_)) => refuse(LdapResultCode::Busy, "too many credential checks"),
        Err(AuthError::Store(_) | AuthError::Interrupted) => {
            refuse(LdapResultCode::Unavailable, "the key could not be checked")
        }
        Err(AuthError::Missing | AuthError::InvalidKey | AuthError::Disabled) => {
            refuse(LdapResultCode::InvalidCredentials, "invalid credentials")
        }
    };
    tracing::warn!(%client, org_id, key_id, reason = refusal.message, "LDAP bind refused");
    Err(refusal)
}
