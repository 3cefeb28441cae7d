//! The LDAP front door: a read-only LDAPv3 directory of each organization, for the
//! applications that read LDAP rather than receive SCIM.
//!
//! The protocol (BER codec, messages, filters, controls) is kanidm's `ldap3_proto`; this module
//! is only the directory logic. It takes what it needs from [`AppState`], checks binds through
//! [`crate::auth`] ([`bind`]), narrows each filter to the SCIM filter the store reads with
//! ([`narrow`]), renders entries from the same stored documents SCIM renders ([`entries`]),
//! evaluates the filter on them ([`filter`]), answers searches ([`search`]; a compare is a
//! search with an equality filter) and runs the listeners, plain and TLS, and each
//! connection's session ([`server`]); [`dn`] escapes and compares DNs; [`observe`] names
//! requests and results for the metrics. It writes nothing: add, modify, delete, modify DN
//! and password modify are refused with `unwillingToPerform`, because the identity provider
//! is the source of truth.
//!
//! The listeners run on their own thread with its own runtime (as the webhook worker does), so
//! LDAP clients never hold an HTTP worker; they stop when their [`LdapServer`] is dropped.

pub mod ber;
pub mod bind;
pub mod dn;
pub mod entries;
pub mod filter;
pub mod narrow;
pub mod observe;
pub mod search;
pub mod server;

use dn::Dn;
use entries::Tree;
pub use server::{LdapServer, Listeners, start};

use crate::state::AppState;
use crate::store::StoreError;

/// The Simple Paged Results control (RFC 2696).
pub const OID_PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// The "Who am I?" extended operation (RFC 4532).
pub const OID_WHOAMI: &str = ldap3_proto::proto::OID_WHOAMI;
/// The StartTLS extended operation (RFC 4511 §4.14), which is not offered (LDAPS is).
pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";

/// Why the directory could not be read for a request (logged; the client gets `unavailable`).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the directory read was interrupted")]
    Interrupted,
}

/// Runs a store call off the runtime's thread.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ReadError> {
    Ok(tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ReadError::Interrupted)??)
}

/// The organization whose base DN is `base`, with its tree.
async fn org_by_base(state: &AppState, base: &Dn) -> Result<Option<(String, Tree)>, ReadError> {
    if base.0.is_empty() {
        return Ok(None);
    }
    let (store, base) = (state.store.clone(), base.to_string());
    let org = blocking(move || store.org_by_ldap_base(&base)).await?;
    Ok(org.map(|org| {
        let tree = Tree {
            base: org.ldap_base_dn,
        };
        (org.id, tree)
    }))
}
