//! The SCIM 2.0 API under `/v2/{org_id}` (RFC 7643/7644), with Bitwarden's URL shape.
//!
//! Handlers authenticate through the [`ScimCaller`](crate::auth::ScimCaller) extractor, parse
//! input into domain types, make one store call and render; they never build SQL.

mod body;
mod discovery;
mod error;
pub mod filter;
mod groups;
mod list;
pub mod patch;
mod projection;
pub mod resource;
mod routing;
pub mod schema;
mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

pub use error::{SCIM_CONTENT_TYPE, ScimError, ScimType, error_chain};
pub use routing::canonical_path;

use crate::auth::ScimCaller;
use crate::startup::AppState;
use projection::Projection;

/// Registers the SCIM routes on the app.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v2/{org_id}")
            .service(
                web::resource("/Users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(users::get))
                    .route(web::put().to(users::replace))
                    .route(web::patch().to(users::patch))
                    .route(web::delete().to(users::delete))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(groups::list))
                    .route(web::post().to(groups::create))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(groups::get))
                    .route(web::put().to(groups::replace))
                    .route(web::patch().to(groups::patch))
                    .route(web::delete().to(groups::delete))
                    .default_service(web::to(method_not_allowed)),
            )
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

/// The organization's SCIM base URL, `<public-url>/v2/<org-id>`.
pub(crate) fn base_url(state: &AppState, caller: &ScimCaller) -> String {
    format!("{}/v2/{}", state.public_url, caller.org_id)
}

/// The weak entity tag of a resource version, as in `meta.version` and `ETag`.
pub(crate) fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// A single-resource response: the projected representation, `ETag`, and on 201 a `Location`
/// equal to `meta.location`.
pub(crate) fn resource_response(
    status: StatusCode,
    resource: serde_json::Value,
    version: i64,
    projection: &Projection,
) -> HttpResponse {
    let location = resource["meta"]["location"].as_str().map(str::to_owned);
    let mut response = scim_json(status, &projection.apply(resource));
    let headers = response.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(Ok(v)) = location.map(|l| header::HeaderValue::from_str(&l))
    {
        headers.insert(header::LOCATION, v);
    }
    response
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
