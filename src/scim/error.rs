//! The protocol's one error type and the SCIM Error body (RFC 7644 §3.12):
//! `{"schemas":[…Error], "status":"404", "scimType":…, "detail":"…"}`.
//!
//! Client mistakes are 4xx with a `detail` that names the problem; internal causes are logged
//! with their whole chain and answered with a bare 500, never described to the client. Which
//! HTTP response each becomes (headers included) is the HTTP layer's business
//! (`http::scim::error`).

use serde_json::json;

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
    pub fn as_str(self) -> &'static str {
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
    /// 403: the caller is authenticated but may not do this (a `read` key asking to write).
    #[error("{0}")]
    Forbidden(String),
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
            tracing::error!(error = %crate::error::error_chain(cause.as_ref()), "request failed");
        }
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status().to_string(),
            "detail": self.to_string(),
        });
        if let Some(scim_type) = self.scim_type() {
            body["scimType"] = scim_type.as_str().into();
        }
        body
    }

    /// The HTTP status this error stands for.
    pub fn status(&self) -> u16 {
        match self {
            ScimError::Unauthorized(_) => 401,
            ScimError::TooManyRequests { .. } => 429,
            ScimError::Forbidden(_) => 403,
            ScimError::NotFound(_) => 404,
            ScimError::BadRequest { .. } => 400,
            ScimError::Conflict(_) => 409,
            ScimError::PayloadTooLarge(_) => 413,
            ScimError::RequestTimeout => 408,
            ScimError::MethodNotAllowed(_) => 405,
            ScimError::PreconditionFailed(_) => 412,
            ScimError::UnresolvedReference(_) => 409,
            ScimError::Unavailable(_) | ScimError::Busy { .. } => 503,
            ScimError::Internal(_) => 500,
        }
    }

    /// The `scimType` of the Error body, if any.
    pub fn scim_type(&self) -> Option<ScimType> {
        match self {
            ScimError::BadRequest { scim_type, .. } => *scim_type,
            ScimError::Conflict(_) => Some(ScimType::Uniqueness),
            ScimError::UnresolvedReference(_) => Some(ScimType::InvalidValue),
            _ => None,
        }
    }
}
