//! The SCIM front door: `/v2/{org_id}/…` over HTTP, with Bitwarden's URL shape.
//!
//! Every handler authenticates through the [`ScimCaller`] extractor, parses its input with the
//! protocol domain ([`crate::scim`]), makes one store call on the blocking pool, and renders;
//! none builds SQL. Users and Groups share one set of handlers (`resources.rs`).

mod body;
mod bulk;
mod caller;
mod discovery;
mod error;
mod etag;
mod groups;
mod resources;
mod routing;
mod search;
mod users;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};

pub use routing::{canonical_path, route_template};

use crate::auth::ScimCaller;
use crate::scim::ScimError;
use crate::scim::etag::etag;
use crate::scim::list::QueryParams;
use crate::scim::projection::Projection;
use crate::state::AppState;
use crate::store::Store;
use resources::{Groups, Users};

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
            .service(resources::collection::<Users>())
            .service(resources::item::<Users>())
            .service(resources::collection::<Groups>())
            .service(resources::item::<Groups>())
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

/// A resource answering one method; every other method gets 405 with an Error body.
pub(crate) fn one_method(
    path: &str,
    allow: &'static str,
    route: actix_web::Route,
) -> actix_web::Resource {
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

    /// Runs a read: like [`Ctx::run`], except that a read whose cost is `bounded` runs at once
    /// on this thread when a reader is idle (see [`Store::read_now`]).
    pub async fn run_read<T, F>(self, bounded: bool, op: F) -> Result<T, ScimError>
    where
        T: Send + 'static,
        F: FnOnce(&Ctx) -> Result<T, ScimError> + Send + 'static,
    {
        if !bounded {
            return self.run(op).await;
        }
        let store = self.store.clone();
        match store.read_now(move || op(&self)) {
            Ok(done) => done,
            Err(op) => web::block(op).await?,
        }
    }
}

/// Answers a list or search: runs `op` (a ListResponse builder) with the parameters.
pub(crate) async fn list_response_of(
    state: &AppState,
    caller: &ScimCaller,
    params: QueryParams,
    bounded: bool,
    op: fn(&Ctx, &QueryParams) -> Result<serde_json::Value, ScimError>,
) -> Result<HttpResponse, ScimError> {
    let page = Ctx::new(state, caller)
        .run_read(bounded, move |ctx| op(ctx, &params))
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
        .content_type(crate::scim::SCIM_CONTENT_TYPE)
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
pub(crate) async fn method_not_allowed(
    req: actix_web::HttpRequest,
    allow: &'static str,
) -> HttpResponse {
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
