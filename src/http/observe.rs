//! What happens to every request and response, whatever the route: one log line with the
//! route template (never the raw path with ids or query), status, latency, organization and a
//! request id that is also sent back as `X-Request-Id`; the request metrics; and the security
//! headers. Headers (`Authorization`) and bodies are never logged.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web;

use super::scim;
use crate::state::AppState;

/// Headers added to every response: a strict CSP (no inline script or style, nothing from other
/// origins, no framing), and the classic hardening headers.
pub const SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    ),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ),
    (
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ),
    (
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ),
];

/// The header a request id travels in (accepted from a proxy when it looks like one).
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id a proxy sent, when it is short and plain, else a new one.
fn request_id(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Wraps everything but path canonicalisation, so that it sees every response, middleware
/// errors included: one log line per request with the route template (never the raw path with
/// ids or query), status, latency, organization and a request id that is also sent back as
/// X-Request-Id; the request metrics; and the security headers. Headers (Authorization) and
/// bodies are never logged.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let seen = Seen {
        started: Instant::now(),
        method: req.method().clone(),
        request_id: request_id(req.headers()),
        route: scim::route_template(req.path()).or_else(|| req.match_pattern()),
        state: req.app_data::<web::Data<AppState>>().cloned(),
    };
    match next.call(req).await {
        Ok(mut res) => {
            let org = res
                .request()
                .match_info()
                .get("org_id")
                .filter(|id| uuid::Uuid::try_parse(id).is_ok())
                .map(str::to_owned);
            let status = res.status();
            seen.record(status, org.as_deref(), res.headers_mut());
            Ok(res)
        }
        // An error has no request left to make a `ServiceResponse` of: its response is
        // rendered here, marked, and handed on for actix to send.
        Err(error) => {
            let mut response = error.error_response();
            let status = response.status();
            seen.record(status, None, response.headers_mut());
            Err(InternalError::from_response(error, response).into())
        }
    }
}

/// What [`observe`] notes of a request before it is handled.
struct Seen {
    started: Instant,
    method: Method,
    request_id: String,
    route: Option<String>,
    state: Option<web::Data<AppState>>,
}

impl Seen {
    /// Logs and counts the answer, and gives it the request id and security headers.
    fn record(self, status: StatusCode, org: Option<&str>, headers: &mut HeaderMap) {
        let route = self.route.as_deref().unwrap_or("(unmatched)");
        let elapsed = self.started.elapsed();
        if let Some(metrics) = self.state.as_ref().and_then(|s| s.metrics.as_ref()) {
            metrics.observe(
                self.method.as_str(),
                route,
                status.as_u16(),
                elapsed.as_secs_f64(),
                org,
            );
        }
        tracing::info!(
            method = %self.method,
            route,
            status = status.as_u16(),
            micros = elapsed.as_micros() as u64,
            org = org.unwrap_or("-"),
            request_id = %self.request_id,
            "request"
        );
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID.clone(), value);
        }
        for (name, value) in SECURITY_HEADERS {
            if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }
}
