//! The host names the page and the admin API answer for, against DNS rebinding: a site whose
//! name an attacker re-points at this server's address is same-origin for the victim's browser,
//! but sends its own name as `Host`, so such requests are refused with 421.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, ResponseError, web};

use super::AdminError;
use crate::state::AppState;

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
    use crate::state::ServedHosts;

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
