//! The SCIM 2.0 API under `/v2/{org_id}` (RFC 7643/7644), with Bitwarden's URL shape.
//!
//! Handlers authenticate through the [`ScimCaller`](crate::auth::ScimCaller) extractor, parse
//! input into domain types, make one store call and render; they never build SQL.

mod discovery;
mod error;
mod routing;
pub mod schema;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};

pub use error::{SCIM_CONTENT_TYPE, ScimError, ScimType, error_chain};
pub use routing::canonical_path;

use crate::auth::ScimCaller;

/// Registers the SCIM routes on the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v2/{org_id}")
            .service(
                web::resource("/ServiceProviderConfig")
                    .route(web::get().to(discovery::service_provider_config))
                    .default_service(web::to(method_not_allowed)),
            )
            .default_service(web::to(unknown_path)),
    );
}

/// A SCIM JSON response.
pub(crate) fn scim_json(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .content_type(SCIM_CONTENT_TYPE)
        .body(body.to_string())
}

async fn method_not_allowed(req: actix_web::HttpRequest) -> Result<HttpResponse, ScimError> {
    Err(ScimError::MethodNotAllowed(format!(
        "{} is not supported on this endpoint",
        req.method()
    )))
}

/// Any other path under an organization: authenticated first, so paths cannot be probed
/// without a key, then 404.
async fn unknown_path(
    _caller: ScimCaller,
    req: actix_web::HttpRequest,
) -> Result<HttpResponse, ScimError> {
    Err(ScimError::NotFound(format!(
        "no SCIM endpoint at {}",
        req.path()
    )))
}
