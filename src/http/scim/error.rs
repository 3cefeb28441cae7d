//! How a [`ScimError`] becomes an HTTP response: its status, the SCIM Error body, and the
//! headers some statuses carry (`WWW-Authenticate`, `Retry-After`, `Connection: close`); and how
//! the errors of the layers below (store, authentication, the blocking pool) become
//! [`ScimError`]s. The one place SCIM errors meet HTTP.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

use crate::auth::AuthError;
use crate::scim::{SCIM_CONTENT_TYPE, ScimError, ScimType};
use crate::store::StoreError;

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

impl From<AuthError> for ScimError {
    fn from(e: AuthError) -> Self {
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
        StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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
