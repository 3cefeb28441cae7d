//! What admin API requests must pass and handlers take from them: the signed-in session
//! (with the CSRF and Origin checks for state-changing methods) and a bounded JSON body.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use serde::de::DeserializeOwned;

use super::AdminError;
use crate::auth::session::{self, ActiveSession, SESSION_COOKIE};
use crate::state::AppState;
use crate::state::ServedHosts;

/// Largest admin API request body.
pub const MAX_BODY: usize = 64 * 1024;
/// The header the page echoes the session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Guards every admin endpoint but session, setup and sign-in: runs before routing and body
/// extraction, so an anonymous request learns nothing (not even whether its body was valid).
/// For methods that change state, the `Origin` and the CSRF token are checked too. The
/// session is left in the request's extensions for [`Admin`]. A refusal is a response, not an
/// error, so that the outer middleware (request id, security headers, log, metrics) sees it.
pub async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match admitted(&req).await {
        Ok(session) => {
            req.extensions_mut().insert(session);
            Ok(next.call(req).await?.map_into_left_body())
        }
        Err(refusal) => Ok(req
            .into_response(refusal.error_response())
            .map_into_right_body()),
    }
}

/// The session of a request [`require_admin`] lets through.
async fn admitted(req: &ServiceRequest) -> Result<ActiveSession, AdminError> {
    let state = app_state(req.request())?;
    let session = current_session(req.request(), &state)
        .await?
        .ok_or(AdminError::Unauthenticated)?;
    if changes_state(req.method()) {
        check_origin(req.request(), &state)?;
        let presented = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if !session::csrf_matches(&session, presented) {
            return Err(AdminError::Csrf(
                "the X-CSRF-Token header is missing or wrong; reload the page".into(),
            ));
        }
    }
    Ok(session)
}

/// The signed-in administrator's session, as [`require_admin`] found it.
pub struct Admin(pub ActiveSession);

impl FromRequest for Admin {
    type Error = AdminError;
    type Future = Ready<Result<Admin, AdminError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            req.extensions()
                .get::<ActiveSession>()
                .cloned()
                .map(Admin)
                .ok_or(AdminError::Unauthenticated),
        )
    }
}

/// The session the request's cookie stands for, if it is valid.
pub async fn current_session(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<Option<ActiveSession>, AdminError> {
    let Some(cookie) = req.cookie(SESSION_COOKIE) else {
        return Ok(None);
    };
    let (store, value) = (state.store.clone(), cookie.value().to_owned());
    Ok(web::block(move || session::check_session(&store, &value)).await??)
}

/// Refuses a request whose `Origin` is not this server's (see [`origin_is_ours`]). A request
/// without `Origin` (not a browser, or a same-origin GET) passes; `Origin: null` does not.
pub fn check_origin(req: &HttpRequest, state: &AppState) -> Result<(), AdminError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return Ok(());
    };
    let origin = origin.to_str().unwrap_or("null").trim_end_matches('/');
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    if origin_is_ours(origin, host, &state.public_url, &state.served_hosts) {
        Ok(())
    } else {
        Err(AdminError::Csrf(format!(
            "requests from {origin} are not accepted; use the page at {}/",
            state.public_url
        )))
    }
}

/// Whether `origin` is this server's: its host is one the server answers for, and it is the
/// public URL's origin or the origin of the `Host` the request was sent to (the page opened by
/// an address or `localhost`).
fn origin_is_ours(
    origin: &str,
    host: Option<&str>,
    public_url: &str,
    served: &ServedHosts,
) -> bool {
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    let same_host = host.is_some_and(|h| h.eq_ignore_ascii_case(authority));
    served.allows(authority) && (origin.eq_ignore_ascii_case(origin_of(public_url)) || same_host)
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

pub fn app_state(req: &HttpRequest) -> Result<web::Data<AppState>, AdminError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AdminError::Internal("application state is not configured".into()))
}

/// A JSON request body of at most [`MAX_BODY`] bytes, sent as `application/json`, parsed into
/// `T` (whose unknown fields are refused by `#[serde(deny_unknown_fields)]`).
pub struct AdminJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for AdminJson<T> {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<AdminJson<T>, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let body = read_body(req, payload);
        Box::pin(async move {
            if !is_json {
                return Err(AdminError::UnsupportedMediaType);
            }
            parse_json(&body.await?).map(AdminJson)
        })
    }
}

/// Like [`AdminJson`] for endpoints whose body may be left out: no body (or only whitespace)
/// is `None`, whatever the content type; a body must be JSON like any other.
pub struct OptionalAdminJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalAdminJson<T> {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<OptionalAdminJson<T>, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_json = is_json(req);
        let body = read_body(req, payload);
        Box::pin(async move {
            let body = body.await?;
            if body.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalAdminJson(None));
            }
            if !is_json {
                return Err(AdminError::UnsupportedMediaType);
            }
            parse_json(&body).map(|v| OptionalAdminJson(Some(v)))
        })
    }
}

/// Whether the request says its body is `application/json`.
fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The whole body, within the size limit and the body deadline.
fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<web::Bytes, AdminError>> + 'static {
    let bytes = web::Bytes::from_request(req, payload);
    async move {
        bytes.await.map_err(|e| {
            if crate::http::limits::body::timed_out(&e) {
                AdminError::RequestTimeout
            } else if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                AdminError::TooLarge(MAX_BODY)
            } else {
                AdminError::Invalid(format!("the request body could not be read: {e}"))
            }
        })
    }
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body)
        .map_err(|e| AdminError::Invalid(format!("the request body is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::{ServedHosts, origin_is_ours, origin_of};

    #[test]
    fn an_origin_is_ours_when_its_host_is_served_and_it_is_the_public_or_the_requested_one() {
        let served = ServedHosts::new(
            "https://scim.example.com",
            "127.0.0.1:8080".parse().unwrap(),
        );
        let ours = |origin, host| origin_is_ours(origin, host, "https://scim.example.com", &served);
        assert!(ours("https://scim.example.com", Some("127.0.0.1:8080")));
        assert!(ours("https://SCIM.example.com", None));
        assert!(ours("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(ours("http://localhost:8080", Some("localhost:8080")));
        // The Host a rebound name sends matches its own origin, but the name is not served.
        assert!(!ours(
            "http://rebind.example:8080",
            Some("rebind.example:8080")
        ));
        assert!(!ours("https://evil.example", Some("127.0.0.1:8080")));
        assert!(!ours("http://localhost:8080", Some("127.0.0.1:8080")));
        assert!(!ours("null", Some("127.0.0.1:8080")));
    }

    #[test]
    fn origin_is_scheme_host_and_port() {
        assert_eq!(
            origin_of("https://scim.example.com"),
            "https://scim.example.com"
        );
        assert_eq!(
            origin_of("http://10.0.0.2:8080/scim"),
            "http://10.0.0.2:8080"
        );
    }
}
