//! The SCIM 2.0 API under `/v2/{org_id}` (RFC 7643/7644), with Bitwarden's URL shape.
//!
//! Handlers authenticate through the [`ScimCaller`](crate::auth::ScimCaller) extractor, parse
//! input into domain types, make one store call and render; they never build SQL.

mod body;
mod bulk;
mod discovery;
mod error;
mod etag;
pub mod filter;
mod groups;
pub mod list;
pub mod patch;
mod projection;
pub mod resource;
mod routing;
pub mod schema;
mod search;
mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

pub use error::{SCIM_CONTENT_TYPE, ScimError, ScimType, error_chain};
pub(crate) use groups::read_group;
pub use routing::canonical_path;
pub(crate) use users::read_user;
pub use users::render as render_user;

use crate::auth::ScimCaller;
use crate::startup::AppState;
use crate::store::Store;
pub(crate) use etag::etag;
use projection::Projection;

/// Registers the SCIM routes on the app. `.search` routes come before `{id}` routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v2/{org_id}")
            .service(one_method(
                "/Users/.search",
                "POST",
                web::post().to(search::users),
            ))
            .service(one_method(
                "/Groups/.search",
                "POST",
                web::post().to(search::groups),
            ))
            .service(one_method("/.search", "POST", web::post().to(search::all)))
            .service(one_method("/Bulk", "POST", web::post().to(bulk::bulk)))
            .service(
                web::resource("/Users")
                    .route(web::get().to(users::list))
                    .route(web::post().to(users::create))
                    .default_service(web::to(|req| method_not_allowed(req, "GET, POST"))),
            )
            .service(
                web::resource("/Users/{id}")
                    .route(web::get().to(users::get))
                    .route(web::put().to(users::replace))
                    .route(web::patch().to(users::patch))
                    .route(web::delete().to(users::delete))
                    .default_service(web::to(|req| method_not_allowed(req, ITEM_METHODS))),
            )
            .service(
                web::resource("/Groups")
                    .route(web::get().to(groups::list))
                    .route(web::post().to(groups::create))
                    .default_service(web::to(|req| method_not_allowed(req, "GET, POST"))),
            )
            .service(
                web::resource("/Groups/{id}")
                    .route(web::get().to(groups::get))
                    .route(web::put().to(groups::replace))
                    .route(web::patch().to(groups::patch))
                    .route(web::delete().to(groups::delete))
                    .default_service(web::to(|req| method_not_allowed(req, ITEM_METHODS))),
            )
            .service(one_method(
                "/ServiceProviderConfig",
                "GET",
                web::get().to(discovery::service_provider_config),
            ))
            .service(one_method(
                "/Schemas",
                "GET",
                web::get().to(discovery::schemas),
            ))
            .service(one_method(
                "/Schemas/{id}",
                "GET",
                web::get().to(discovery::schema),
            ))
            .service(one_method(
                "/ResourceTypes",
                "GET",
                web::get().to(discovery::resource_types),
            ))
            .service(one_method(
                "/ResourceTypes/{id}",
                "GET",
                web::get().to(discovery::resource_type),
            ))
            .default_service(web::to(unknown_path)),
    );
}

/// The methods of a single user or group.
const ITEM_METHODS: &str = "GET, PUT, PATCH, DELETE";

/// A resource answering one method; every other method gets 405 with an Error body.
fn one_method(path: &str, allow: &'static str, route: actix_web::Route) -> actix_web::Resource {
    web::resource(path)
        .route(route)
        .default_service(web::to(move |req| method_not_allowed(req, allow)))
}

/// What every SCIM operation needs: the store, who is asking, and the base URL resources are
/// shown under. Operations are synchronous and run inside `web::block`; `/Bulk` runs many.
#[derive(Clone)]
pub(crate) struct Ctx {
    pub store: Store,
    pub org_id: String,
    pub key_id: String,
    pub base_url: String,
}

impl Ctx {
    pub fn new(state: &AppState, caller: &ScimCaller) -> Ctx {
        Ctx {
            store: state.store.clone(),
            org_id: caller.org_id.clone(),
            key_id: caller.key_id.clone(),
            base_url: base_url(state, caller),
        }
    }

    /// Runs a synchronous operation off the async executor.
    pub async fn run<T, F>(self, op: F) -> Result<T, ScimError>
    where
        T: Send + 'static,
        F: FnOnce(&Ctx) -> Result<T, ScimError> + Send + 'static,
    {
        web::block(move || op(&self)).await?
    }
}

/// Answers a list or search: runs `op` (a ListResponse builder) with the parameters.
pub(crate) async fn list_response_of(
    state: &AppState,
    caller: &ScimCaller,
    params: list::QueryParams,
    op: fn(&Ctx, &list::QueryParams) -> Result<serde_json::Value, ScimError>,
) -> Result<HttpResponse, ScimError> {
    let page = Ctx::new(state, caller)
        .run(move |ctx| op(ctx, &params))
        .await?;
    Ok(scim_json(StatusCode::OK, &page))
}

/// A resource as an operation returns it: full representation and version.
pub(crate) struct Rendered {
    pub resource: serde_json::Value,
    pub version: i64,
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

/// A single-resource response: the projected representation, `ETag`, and on 201 a `Location`
/// equal to `meta.location`.
pub(crate) fn resource_response(
    status: StatusCode,
    rendered: Rendered,
    projection: &Projection,
) -> HttpResponse {
    let location = rendered.resource["meta"]["location"]
        .as_str()
        .map(str::to_owned);
    let mut response = scim_json(status, &projection.apply(rendered.resource));
    let headers = response.headers_mut();
    if let Ok(v) = header::HeaderValue::from_str(&etag(rendered.version)) {
        headers.insert(header::ETAG, v);
    }
    if status == StatusCode::CREATED
        && let Some(Ok(v)) = location.map(|l| header::HeaderValue::from_str(&l))
    {
        headers.insert(header::LOCATION, v);
    }
    response
}

/// A read's response: 304 with the `ETag` when `If-None-Match` names the current version.
pub(crate) fn read_response(
    req: &actix_web::HttpRequest,
    rendered: Rendered,
    projection: &Projection,
) -> HttpResponse {
    if etag::not_modified(req, rendered.version) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(rendered.version)))
            .finish();
    }
    resource_response(StatusCode::OK, rendered, projection)
}

/// 405 with an Error body and the `Allow` header RFC 9110 asks for.
async fn method_not_allowed(req: actix_web::HttpRequest, allow: &'static str) -> HttpResponse {
    let error = ScimError::MethodNotAllowed(format!(
        "{} is not supported on this endpoint; it allows {allow}",
        req.method()
    ));
    let mut response = actix_web::ResponseError::error_response(&error);
    response
        .headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    response
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
