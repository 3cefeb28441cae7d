//! The one error type at the HTTP edge and its mapping to the SCIM Error body
//! (RFC 7644 §3.12): `{"schemas":[…Error], "status":"404", "scimType":…, "detail":"…"}`.
//!
//! Client mistakes map to 4xx with a `detail` that names the problem; internal causes are
//! logged with their whole chain and answered with a bare 500, never described to the client.

use std::fmt::Write as _;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::store::StoreError;

/// The SCIM media type, used for every SCIM response, errors included.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `scimType` values of RFC 7644 §3.12 table 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// Every way a SCIM request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// 401, with `WWW-Authenticate: Bearer`.
    #[error("{0}")]
    Unauthorized(String),
    /// 429 after repeated authentication failures, with `Retry-After`.
    #[error(
        "too many failed authentication attempts from this address; retry in {retry_after} seconds"
    )]
    TooManyRequests { retry_after: u64 },
    #[error("{0}")]
    NotFound(String),
    #[error("{detail}")]
    BadRequest {
        scim_type: Option<ScimType>,
        detail: String,
    },
    /// 409 `uniqueness`.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 408 with `Connection: close`: the body did not arrive within `--body-timeout`.
    #[error("The request body did not arrive in time.")]
    RequestTimeout,
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409 `invalidValue`: a bulk operation refers to a `bulkId` that cannot be resolved.
    #[error("{0}")]
    UnresolvedReference(String),
    /// 412: an `If-Match` precondition named another version.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 503: the service cannot answer right now (e.g. the database is unusable).
    #[error("{0}")]
    Unavailable(String),
    /// 503 with `Retry-After`: too many credential checks are queued (see `auth::gate`).
    #[error("the server is busy checking credentials; retry in {retry_after} seconds")]
    Busy { retry_after: u64 },
    /// 500; the cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

impl ScimError {
    /// A 400 with a `scimType`.
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> ScimError {
        ScimError::BadRequest {
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// The RFC 7644 §3.12 Error body (also used inside bulk responses). Internal causes are
    /// logged here, never described.
    pub fn body(&self) -> serde_json::Value {
        if let ScimError::Internal(cause) = self {
            tracing::error!(error = %error_chain(cause.as_ref()), "request failed");
        }
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status_code().as_str(),
            "detail": self.to_string(),
        });
        if let Some(scim_type) = self.scim_type() {
            body["scimType"] = scim_type.as_str().into();
        }
        body
    }

    fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimError::BadRequest { scim_type, .. } => *scim_type,
            ScimError::Conflict(_) => Some(ScimType::Uniqueness),
            ScimError::UnresolvedReference(_) => Some(ScimType::InvalidValue),
            _ => None,
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(detail) => ScimError::NotFound(detail),
            StoreError::Invalid(detail) => ScimError::bad_request(ScimType::InvalidValue, detail),
            StoreError::InvalidFilter(detail) => {
                ScimError::bad_request(ScimType::InvalidFilter, detail)
            }
            StoreError::Conflict(detail) => ScimError::Conflict(detail),
            e @ StoreError::SeatLimit => ScimError::BadRequest {
                scim_type: None,
                detail: e.to_string(),
            },
            other => ScimError::Internal(Box::new(other)),
        }
    }
}

impl From<crate::auth::AuthError> for ScimError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match e {
            AuthError::Missing | AuthError::InvalidKey | AuthError::Disabled => {
                ScimError::Unauthorized(e.to_string())
            }
            AuthError::Throttled { retry_after } => ScimError::TooManyRequests { retry_after },
            AuthError::Busy(busy) => ScimError::Busy {
                retry_after: busy.retry_after,
            },
            AuthError::Store(e) => e.into(),
            AuthError::Interrupted => ScimError::Internal(Box::new(e)),
        }
    }
}

impl From<actix_web::error::BlockingError> for ScimError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        ScimError::Internal(Box::new(e))
    }
}

impl ResponseError for ScimError {
    fn status_code(&self) -> StatusCode {
        match self {
            ScimError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ScimError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ScimError::NotFound(_) => StatusCode::NOT_FOUND,
            ScimError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ScimError::Conflict(_) => StatusCode::CONFLICT,
            ScimError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ScimError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ScimError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ScimError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ScimError::UnresolvedReference(_) => StatusCode::CONFLICT,
            ScimError::Unavailable(_) | ScimError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ScimError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let body = self.body();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        match self {
            ScimError::Unauthorized(_) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"SCIM\""),
                ));
            }
            ScimError::TooManyRequests { retry_after } | ScimError::Busy { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            ScimError::RequestTimeout => {
                response.force_close();
            }
            _ => {}
        }
        response.body(body.to_string())
    }
}

/// "outer: inner: innermost", for logs.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}
