//! The admin API's one error type and its JSON body `{"status", "error", "detail"}`.
//! Internal causes are logged with their chain and answered with a bare 500.

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::store::StoreError;

/// Every way an admin API request can fail.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("sign in first; the session is missing or has expired")]
    Unauthenticated,
    #[error("the password is wrong")]
    WrongPassword,
    #[error("{0}")]
    Csrf(String),
    #[error(
        "the setup link is wrong or was already used; set the password with `scim-appliance admin set-password`, or restart the server for a new link"
    )]
    InvalidSetupToken,
    #[error("{0}")]
    NotFound(String),
    #[error("an admin password is already set; sign in instead")]
    AlreadySetUp,
    /// The request is ambiguous in the current state (e.g. several keys could be meant).
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    #[error("the request body must be JSON, sent with Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("too many failed attempts from this address; try again in {retry_after} seconds")]
    TooManyAttempts { retry_after: u64 },
    #[error("the server is busy checking passwords; try again in {retry_after} seconds")]
    Busy { retry_after: u64 },
    #[error("{method} is not supported here; this endpoint allows {allow}")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("the admin API is not served under this host name")]
    Misdirected,
    #[error("internal error")]
    Internal(String),
}

impl AdminError {
    fn code(&self) -> &'static str {
        match self {
            AdminError::Invalid(_) => "invalid",
            AdminError::Unauthenticated => "unauthenticated",
            AdminError::WrongPassword => "wrong_password",
            AdminError::Csrf(_) => "csrf",
            AdminError::InvalidSetupToken => "invalid_setup_token",
            AdminError::NotFound(_) => "not_found",
            AdminError::AlreadySetUp => "already_set_up",
            AdminError::Conflict(_) => "conflict",
            AdminError::TooLarge(_) => "too_large",
            AdminError::RequestTimeout => "request_timeout",
            AdminError::UnsupportedMediaType => "unsupported_media_type",
            AdminError::TooManyAttempts { .. } => "too_many_attempts",
            AdminError::Busy { .. } => "busy",
            AdminError::MethodNotAllowed { .. } => "method_not_allowed",
            AdminError::Misdirected => "misdirected",
            AdminError::Internal(_) => "internal",
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => AdminError::NotFound(m),
            StoreError::Invalid(m) | StoreError::InvalidFilter(m) => AdminError::Invalid(m),
            StoreError::Conflict(m) => AdminError::Conflict(m),
            StoreError::SeatLimit => AdminError::Invalid(e.to_string()),
            other => AdminError::Internal(crate::error::error_chain(&other)),
        }
    }
}

impl From<crate::admin::ActionError> for AdminError {
    fn from(e: crate::admin::ActionError) -> Self {
        use crate::admin::ActionError;
        match e {
            ActionError::InvalidPassword(m) | ActionError::Invalid(m) => AdminError::Invalid(m),
            ActionError::Store(e) => e.into(),
            other => AdminError::Internal(crate::error::error_chain(&other)),
        }
    }
}

impl From<crate::auth::session::SessionError> for AdminError {
    fn from(e: crate::auth::session::SessionError) -> Self {
        use crate::auth::session::SessionError;
        match e {
            SessionError::Store(e) => e.into(),
            other => AdminError::Internal(crate::error::error_chain(&other)),
        }
    }
}

impl From<crate::auth::gate::Busy> for AdminError {
    fn from(busy: crate::auth::gate::Busy) -> Self {
        AdminError::Busy {
            retry_after: busy.retry_after,
        }
    }
}

impl From<actix_web::error::BlockingError> for AdminError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AdminError::Internal(format!("blocking task failed: {e}"))
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
            AdminError::Unauthenticated | AdminError::WrongPassword => StatusCode::UNAUTHORIZED,
            AdminError::Csrf(_) | AdminError::InvalidSetupToken => StatusCode::FORBIDDEN,
            AdminError::NotFound(_) => StatusCode::NOT_FOUND,
            AdminError::AlreadySetUp | AdminError::Conflict(_) => StatusCode::CONFLICT,
            AdminError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AdminError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AdminError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AdminError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            AdminError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AdminError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            AdminError::Misdirected => StatusCode::MISDIRECTED_REQUEST,
            AdminError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            AdminError::Internal(cause) => tracing::error!(%cause, "admin API request failed"),
            AdminError::TooManyAttempts { retry_after } | AdminError::Busy { retry_after } => {
                response.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            AdminError::RequestTimeout => {
                response.force_close();
            }
            AdminError::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        response.json(json!({
            "status": status.as_u16(),
            "error": self.code(),
            "detail": self.to_string(),
        }))
    }
}
