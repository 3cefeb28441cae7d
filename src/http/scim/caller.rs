//! The [`ScimCaller`] extractor: every SCIM handler takes one, so nothing under `/v2/{org_id}`
//! runs before the request's API key is proven for that organization (by
//! [`crate::auth::Authenticator`]).

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::ScimCaller;
use crate::http::client::client_ip;
use crate::scim::ScimError;
use crate::state::AppState;

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
        Box::pin(async move {
            let state = state
                .ok_or_else(|| ScimError::Internal("application state is not configured".into()))?;
            Ok(state
                .auth
                .authenticate(&state.store, &org_id, header.as_deref(), client)
                .await?)
        })
    }
}
