//! `/Users` and `/Groups`: one set of handlers for both, generic over the [`Endpoint`] that
//! says what each operation does for its resource type ([`Users`], [`Groups`]). `/Bulk` calls
//! the same operations.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, Resource, web};
use serde_json::Value;

use super::body::ScimBody;
use super::etag::if_match;
use super::{
    Ctx, Rendered, list_response_of, method_not_allowed, read_response, resource_response,
};
use crate::auth::ScimCaller;
use crate::scim::ScimError;
use crate::scim::etag::IfMatch;
use crate::scim::list::QueryParams;
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceType;
use crate::state::AppState;

pub use super::groups::Groups;
pub use super::users::Users;

/// The operations of one resource type, each synchronous (run on the blocking pool) and each
/// one store call. `with_members` says whether the answer shows a group's members (a group
/// read without them never loads them); users ignore it.
pub(crate) trait Endpoint: 'static {
    /// The resource type: its schema, name and endpoint path.
    const TYPE: &'static ResourceType;

    fn create(ctx: &Ctx, body: &Value, with_members: bool) -> Result<Rendered, ScimError>;
    fn get(ctx: &Ctx, id: &str, with_members: bool) -> Result<Rendered, ScimError>;
    /// PUT: replaces every writable attribute.
    fn replace(
        ctx: &Ctx,
        id: &str,
        body: &Value,
        if_match: &IfMatch,
        with_members: bool,
    ) -> Result<Rendered, ScimError>;
    /// PATCH: all operations apply in one transaction, or none do.
    fn patch(
        ctx: &Ctx,
        id: &str,
        body: &Value,
        if_match: &IfMatch,
        with_members: bool,
    ) -> Result<Rendered, ScimError>;
    fn delete(ctx: &Ctx, id: &str, if_match: &IfMatch) -> Result<(), ScimError>;
    /// A ListResponse page, projected.
    fn list(ctx: &Ctx, params: &QueryParams) -> Result<Value, ScimError>;
    /// Whether reading one resource costs the same whatever the directory's size (a group's
    /// members do not), so it may run at once ([`Ctx::run_read`]).
    fn bounded_get(with_members: bool) -> bool;
    /// Whether this list is such a read: a lookup by a unique or indexed attribute, as identity
    /// providers send before each change.
    fn bounded_list(params: &QueryParams) -> bool;
}

/// `/Users` or `/Groups`: GET lists, POST creates; other methods 405.
pub(crate) fn collection<E: Endpoint>() -> Resource {
    web::resource(E::TYPE.endpoint)
        .route(web::get().to(list::<E>))
        .route(web::post().to(create::<E>))
        .default_service(web::to(|req| method_not_allowed(req, "GET, POST")))
}

/// `/Users/{id}` or `/Groups/{id}`.
pub(crate) fn item<E: Endpoint>() -> Resource {
    web::resource(format!("{}/{{id}}", E::TYPE.endpoint))
        .route(web::get().to(get::<E>))
        .route(web::put().to(replace::<E>))
        .route(web::patch().to(patch::<E>))
        .route(web::delete().to(delete::<E>))
        .default_service(web::to(|req| {
            method_not_allowed(req, "GET, PUT, PATCH, DELETE")
        }))
}

/// The projection the query string asks for, and whether the answer shows members.
fn read_projection<E: Endpoint>(req: &HttpRequest) -> (Projection, bool) {
    let projection = QueryParams::parse(req.query_string()).projection(E::TYPE);
    let with_members = !projection.omits("members");
    (projection, with_members)
}

/// `GET /Users`, `GET /Groups`: filter, sort and page.
async fn list<E: Endpoint>(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let params = QueryParams::parse(req.query_string());
    let bounded = E::bounded_list(&params);
    list_response_of(&state, &caller, params, bounded, E::list).await
}

/// `POST`: creates the resource (201 with `Location`).
async fn create<E: Endpoint>(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let (projection, with_members) = read_projection::<E>(&req);
    let body = body.json().await?;
    let created = Ctx::new(&state, &caller)
        .run(move |ctx| E::create(ctx, &body, with_members))
        .await?;
    Ok(resource_response(StatusCode::CREATED, created, &projection))
}

/// `GET …/{id}`; 304 when `If-None-Match` names the current version.
async fn get<E: Endpoint>(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let (projection, with_members) = read_projection::<E>(&req);
    let id = path.into_inner().1;
    let found = Ctx::new(&state, &caller)
        .run_read(E::bounded_get(with_members), move |ctx| {
            E::get(ctx, &id, with_members)
        })
        .await?;
    Ok(read_response(&req, found, &projection))
}

/// `PUT …/{id}`.
async fn replace<E: Endpoint>(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    update::<E>(caller, state, req, path, body, E::replace).await
}

/// `PATCH …/{id}`.
async fn patch<E: Endpoint>(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    update::<E>(caller, state, req, path, body, E::patch).await
}

/// A change to one resource (`PUT` or `PATCH`), under the request's `If-Match`.
type Update = fn(&Ctx, &str, &Value, &IfMatch, bool) -> Result<Rendered, ScimError>;

async fn update<E: Endpoint>(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: ScimBody,
    change: Update,
) -> Result<HttpResponse, ScimError> {
    let (projection, with_members) = read_projection::<E>(&req);
    let if_match = if_match(&req);
    let id = path.into_inner().1;
    let body = body.json().await?;
    let changed = Ctx::new(&state, &caller)
        .run(move |ctx| change(ctx, &id, &body, &if_match, with_members))
        .await?;
    Ok(resource_response(StatusCode::OK, changed, &projection))
}

/// `DELETE …/{id}`: 204.
async fn delete<E: Endpoint>(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let if_match = if_match(&req);
    let id = path.into_inner().1;
    Ctx::new(&state, &caller)
        .run(move |ctx| E::delete(ctx, &id, &if_match))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
