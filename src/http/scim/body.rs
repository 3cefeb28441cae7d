//! The JSON request body of SCIM writes, bounded by `--max-body`.
//!
//! Any content type is read as JSON (IdPs send `application/scim+json`, `application/json`
//! and, occasionally, nothing); what matters is that the bytes are a JSON document. Too large
//! is 413, too slow (`--body-timeout`) 408, not JSON 400 `invalidSyntax` with serde's position,
//! never a 5xx.
//!
//! The body is read only when the handler asks ([`ScimBody::json`]): a handler runs only once
//! its [`crate::auth::ScimCaller`] is authenticated and allowed, so the body of a refused
//! request (no key, a wrong key, a `read` key asking to write) is never read.

use std::future::{Ready, ready};

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use serde_json::Value;

use crate::scim::{ScimError, ScimType};

/// A request body, not yet read.
pub struct ScimBody {
    req: HttpRequest,
    payload: Payload,
}

impl FromRequest for ScimBody {
    type Error = ScimError;
    type Future = Ready<Result<ScimBody, ScimError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(Ok(ScimBody {
            req: req.clone(),
            payload: payload.take(),
        }))
    }
}

impl ScimBody {
    /// Reads the body and parses it as one JSON document.
    pub async fn json(mut self) -> Result<Value, ScimError> {
        let limit = self
            .req
            .app_data::<web::Data<crate::state::AppState>>()
            .map(|s| s.max_body);
        let bytes = web::Bytes::from_request(&self.req, &mut self.payload)
            .await
            .map_err(|e| {
                if crate::http::limits::body::timed_out(&e) {
                    ScimError::RequestTimeout
                } else if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ScimError::PayloadTooLarge(match limit {
                        Some(n) => format!("The request body is larger than {n} bytes."),
                        None => "The request body is too large.".into(),
                    })
                } else {
                    ScimError::bad_request(
                        ScimType::InvalidSyntax,
                        format!("The request body could not be read: {e}"),
                    )
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ScimError::bad_request(
                ScimType::InvalidSyntax,
                "The request body is empty; a JSON object is required.",
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ScimError::bad_request(
                ScimType::InvalidSyntax,
                format!("The request body is not valid JSON: {e}."),
            )
        })
    }
}
