//! The host names the page and the admin API answer for, against DNS rebinding: a site whose
//! name an attacker re-points at this server's address is same-origin for the victim's browser,
//! but sends its own name as `Host`, so such requests are refused with 421.

use std::net::{IpAddr, SocketAddr};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};

use super::AdminError;
use crate::startup::AppState;

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

/// Whether the request was sent to a host name this server answers for.
fn served(req: &ServiceRequest) -> bool {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let state = req.app_data::<web::Data<AppState>>();
    match (host, state) {
        (Some(host), Some(state)) => state.served_hosts.allows(host),
        _ => false,
    }
}

/// Guards the page and its assets: 421 with a short text for other host names.
pub async fn page_for_served_hosts(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if served(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refusal = HttpResponse::build(StatusCode::MISDIRECTED_REQUEST)
        .content_type("text/plain; charset=utf-8")
        .body("This server does not serve its page under this host name.\n");
    Ok(req.into_response(refusal).map_into_right_body())
}

/// Guards the admin API, before its session check: 421 with the admin error body for other
/// host names.
pub async fn api_for_served_hosts(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if served(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let refusal = AdminError::Misdirected.error_response();
    Ok(req.into_response(refusal).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use super::ServedHosts;

    #[test]
    fn the_public_host_localhost_and_loopback_are_served_in_any_case_and_on_any_port() {
        let hosts = ServedHosts::new(
            "https://SCIM.example.com/base",
            "10.0.0.2:8080".parse().unwrap(),
        );
        for allowed in [
            "scim.example.com",
            "Scim.Example.COM:8443",
            "scim.example.com.",
            "localhost:8080",
            "127.0.0.1",
            "127.0.0.1:9",
            "[::1]:8080",
            "10.0.0.2:8080",
        ] {
            assert!(hosts.allows(allowed), "{allowed}");
        }
        for refused in [
            "rebind.example",
            "scim.example.com.rebind.example",
            "10.0.0.3:8080",
            "[2001:db8::1]",
            "",
        ] {
            assert!(!hosts.allows(refused), "{refused}");
        }
    }

    #[test]
    fn listening_on_every_address_serves_any_ip_literal_but_no_other_name() {
        let hosts = ServedHosts::new("http://0.0.0.0:8080", "0.0.0.0:8080".parse().unwrap());
        assert!(hosts.allows("192.0.2.7:8080"));
        assert!(hosts.allows("[2001:db8::1]:8080"));
        assert!(!hosts.allows("rebind.example:8080"));
    }
}
