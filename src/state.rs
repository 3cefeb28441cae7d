//! The state every front door shares, built once by `startup`: the store, authentication and
//! its argon2 bound, metrics, and the settings requests need. It names no protocol: the HTTP
//! layer (`http`) reads requests against it, and later front doors (an LDAP listener, a webhook
//! worker) take what they need from it the same way.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::Authenticator;
use crate::auth::gate::Argon2Gate;
use crate::auth::session::AdminAuth;
use crate::config::Secret;
use crate::delivery::Sender;
use crate::metrics::Metrics;
use crate::store::Store;

/// State shared by every worker.
pub struct AppState {
    pub store: Store,
    pub auth: Arc<Authenticator>,
    /// The bound on argon2 work every password and key check goes through.
    pub argon2: Arc<Argon2Gate>,
    /// Base URL for `meta.location` and `Location` headers, without a trailing slash.
    pub public_url: String,
    /// Largest request body accepted, in bytes (`--max-body`).
    pub max_body: usize,
    /// Admin sign-in: setup token and rate limit.
    pub admin_auth: AdminAuth,
    /// Whether the session cookie gets `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Prometheus metrics, when `--metrics` is on.
    pub metrics: Option<Metrics>,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Secret>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`--trusted-proxies`); also exempt
    /// from the per-client connection cap.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a request body may take to arrive (`--body-timeout`).
    pub body_timeout: Duration,
    /// The host names the page and the admin API answer for.
    pub served_hosts: ServedHosts,
    /// Sends webhook messages (the admin's "send test event"; the worker has its own clone).
    pub webhooks: Sender,
    /// Where LDAP and LDAPS listen (bound before the state is built), for the page.
    pub ldap_listeners: LdapListeners,
}

/// The addresses the LDAP front door is bound to; `None` where it does not listen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LdapListeners {
    /// Plain LDAP (`--ldap-listen`).
    pub ldap: Option<SocketAddr>,
    /// LDAP over TLS (`--ldaps-listen`).
    pub ldaps: Option<SocketAddr>,
}

impl AppState {
    /// Whether `ip` is one of `--trusted-proxies`: its `X-Forwarded-For` is believed, and it is
    /// exempt from the per-client connection cap.
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }
}

/// The names this server answers the page and admin API for: the public URL's host, the listen
/// address, `localhost` and loopback addresses; any IP address when listening on all of them
/// (an address cannot be re-pointed).
#[derive(Debug)]
pub struct ServedHosts {
    names: Vec<String>,
    any_ip: bool,
}

impl ServedHosts {
    pub fn new(public_url: &str, listen: SocketAddr) -> ServedHosts {
        let after_scheme = public_url.split_once("://").map_or(public_url, |(_, r)| r);
        let authority = after_scheme.split('/').next().unwrap_or_default();
        let public = host_name(authority);
        let public = public.parse::<IpAddr>().map_or(public, |ip| ip.to_string());
        let mut names = vec!["localhost".to_owned(), public];
        if !listen.ip().is_unspecified() {
            names.push(listen.ip().to_string());
        }
        ServedHosts {
            names,
            any_ip: listen.ip().is_unspecified(),
        }
    }

    /// Whether `authority` (a `Host` header, or an origin without its scheme) names this
    /// server; case and port do not matter.
    pub fn allows(&self, authority: &str) -> bool {
        let name = host_name(authority);
        match name.parse::<IpAddr>() {
            Ok(ip) => self.any_ip || ip.is_loopback() || self.names.contains(&ip.to_string()),
            Err(_) => self.names.contains(&name),
        }
    }
}

/// The host of `host[:port]` or `[v6]:port`, lower-cased, without a trailing dot or brackets.
fn host_name(authority: &str) -> String {
    let authority = authority.trim();
    let host = if let Some(bracketed) = authority.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else if authority.matches(':').count() > 1 {
        authority
    } else {
        authority.split(':').next().unwrap_or_default()
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}
