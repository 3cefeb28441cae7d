//! The [`ScimCaller`] extractor: every SCIM handler takes one, so nothing under `/v2/{org_id}`
//! runs before the request's API key is proven for that organization (by
//! [`crate::auth::Authenticator`]) and allowed to do what the request asks: a `read` key may
//! only `GET`, `HEAD` and `POST …/.search`; anything else is refused with 403 here, before the
//! handler runs, so its body is never read and nothing is written.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::ScimCaller;
use crate::http::client::client_ip;
use crate::scim::ScimError;
use crate::state::AppState;
use crate::store::KeyScope;

/// The detail of the 403 a `read` key gets for anything but reading.
pub const READ_ONLY_DETAIL: &str =
    "This API key may only read (scope \"read\"); use a provision key to change the directory.";

impl FromRequest for ScimCaller {
    type Error = ScimError;
    type Future = Pin<Box<dyn Future<Output = Result<ScimCaller, Self::Error>>>>;

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
        let client = state.as_ref().and_then(|s| client_ip(s, req));
        let reads = only_reads(req.method(), req.path());
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ScimError::Internal("application state is not configured".into()))?;
            let caller = state
                .auth
                .authenticate(&state.store, &org_id, header.as_deref(), client)
                .await?;
            if caller.scope == KeyScope::Read && !reads {
                return Err(ScimError::Forbidden(READ_ONLY_DETAIL.to_owned()));
            }
            Ok(caller)
        })
    }
}

/// Whether a request only reads the directory: `GET` and `HEAD` anything, and `POST` a
/// SearchRequest to `…/.search`.
fn only_reads(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD => true,
        Method::POST => path.ends_with("/.search"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_is_get_head_and_posting_a_search() {
        assert!(only_reads(&Method::GET, "/v2/o/Users"));
        assert!(only_reads(&Method::HEAD, "/v2/o/Groups/g"));
        assert!(only_reads(&Method::POST, "/v2/o/Users/.search"));
        assert!(only_reads(&Method::POST, "/v2/o/.search"));
        assert!(!only_reads(&Method::POST, "/v2/o/Users"));
        assert!(!only_reads(&Method::POST, "/v2/o/Bulk"));
        assert!(!only_reads(&Method::POST, "/v2/o/Users/x.search"));
        assert!(!only_reads(&Method::PUT, "/v2/o/Users/u"));
        assert!(!only_reads(&Method::PATCH, "/v2/o/Groups/g"));
        assert!(!only_reads(&Method::DELETE, "/v2/o/Users/u"));
        assert!(!only_reads(&Method::OPTIONS, "/v2/o/Users"));
    }
}
