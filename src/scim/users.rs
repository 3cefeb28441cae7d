//! `/v2/{org_id}/Users`: members of an organization (RFC 7643 §4.1 with the enterprise
//! extension), with Bitwarden's membership semantics: `active: false` revokes, `active: true`
//! restores, DELETE removes, and userName, externalId and member email are unique per
//! organization.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::ScimBody;
use super::etag::IfMatch;
use super::list::{QueryParams, list_response};
use super::patch::PatchRequest;
use super::resource::{invalid, read_resource};
use super::schema::{ENTERPRISE_USER_URN, USER, USER_URN};
use super::{Ctx, Rendered, ScimError, etag, list_response_of, read_response, resource_response};
use crate::auth::ScimCaller;
use crate::directory::StoredUser;
use crate::startup::AppState;

// Operations, shared by the handlers below and `/Bulk`.

pub(crate) fn create_op(ctx: &Ctx, body: &Value) -> Result<Rendered, ScimError> {
    let attrs = read_user(body)?;
    let user = ctx.store.create_user(&ctx.org_id, &ctx.key_id, attrs)?;
    Ok(rendered(ctx, &user))
}

pub(crate) fn get_op(ctx: &Ctx, id: &str) -> Result<Rendered, ScimError> {
    Ok(rendered(ctx, &ctx.store.get_user(&ctx.org_id, id)?))
}

/// PUT: replaces every writable attribute (RFC 7644 §3.5.1); read-only ones (`id`, `meta`,
/// `groups`) in the body are ignored. A body without `active` leaves the member active.
pub(crate) fn replace_op(
    ctx: &Ctx,
    id: &str,
    body: &Value,
    if_match: &IfMatch,
) -> Result<Rendered, ScimError> {
    let attrs = read_user(body)?;
    let user = ctx
        .store
        .update_user(&ctx.org_id, id, &ctx.key_id, |current| {
            if_match.check(current.version)?;
            Ok::<_, ScimError>(attrs)
        })?;
    Ok(rendered(ctx, &user))
}

/// PATCH: all operations apply in one transaction, or none do.
pub(crate) fn patch_op(
    ctx: &Ctx,
    id: &str,
    body: &Value,
    if_match: &IfMatch,
) -> Result<Rendered, ScimError> {
    let request = PatchRequest::parse(body)?;
    let user = ctx
        .store
        .update_user(&ctx.org_id, id, &ctx.key_id, |current| {
            if_match.check(current.version)?;
            check_user(request.apply(&USER, current.attrs.clone())?)
        })?;
    Ok(rendered(ctx, &user))
}

/// DELETE: removes the member and its group memberships.
pub(crate) fn delete_op(ctx: &Ctx, id: &str, if_match: &IfMatch) -> Result<(), ScimError> {
    ctx.store
        .delete_user(&ctx.org_id, id, &ctx.key_id, |current| {
            if_match.check(current.version)
        })
}

/// A ListResponse page of members, projected.
pub(crate) fn list_op(ctx: &Ctx, params: &QueryParams) -> Result<Value, ScimError> {
    let query = params.list_query()?;
    let page = ctx.store.list_users(&ctx.org_id, &query)?;
    let projection = params.projection(&USER);
    let resources = page
        .items
        .iter()
        .map(|u| projection.apply(render(u, &ctx.base_url)))
        .collect();
    Ok(list_response(page.total, query.start_index, resources))
}

fn rendered(ctx: &Ctx, user: &StoredUser) -> Rendered {
    Rendered {
        resource: render(user, &ctx.base_url),
        version: user.version,
    }
}

// Handlers.

/// `GET /Users`: filter, sort and page the organization's members.
pub async fn list(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    list_response_of(
        &state,
        &caller,
        QueryParams::parse(req.query_string())?,
        list_op,
    )
    .await
}

/// `POST /Users`: creates a member (active unless the body says `active: false`).
pub async fn create(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let user = Ctx::new(&state, &caller)
        .run(move |ctx| create_op(ctx, &body.0))
        .await?;
    Ok(resource_response(StatusCode::CREATED, user, &projection))
}

/// `GET /Users/{id}`; 304 when `If-None-Match` names the current version.
pub async fn get(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let id = path.into_inner().1;
    let user = Ctx::new(&state, &caller)
        .run(move |ctx| get_op(ctx, &id))
        .await?;
    Ok(read_response(&req, user, &projection))
}

/// `PUT /Users/{id}`.
pub async fn replace(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let if_match = IfMatch::from_request(&req);
    let id = path.into_inner().1;
    let user = Ctx::new(&state, &caller)
        .run(move |ctx| replace_op(ctx, &id, &body.0, &if_match))
        .await?;
    Ok(resource_response(StatusCode::OK, user, &projection))
}

/// `PATCH /Users/{id}`.
pub async fn patch(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let if_match = IfMatch::from_request(&req);
    let id = path.into_inner().1;
    let user = Ctx::new(&state, &caller)
        .run(move |ctx| patch_op(ctx, &id, &body.0, &if_match))
        .await?;
    Ok(resource_response(StatusCode::OK, user, &projection))
}

/// `DELETE /Users/{id}`.
pub async fn delete(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let if_match = IfMatch::from_request(&req);
    let id = path.into_inner().1;
    Ctx::new(&state, &caller)
        .run(move |ctx| delete_op(ctx, &id, &if_match))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Reads a POST/PUT body into a user document and checks the user rules.
pub(crate) fn read_user(body: &Value) -> Result<Map<String, Value>, ScimError> {
    let mut attrs = read_resource(body, &USER)?;
    attrs.entry("active").or_insert(Value::Bool(true));
    check_user(attrs)
}

/// The rule every stored user meets: a non-blank string `userName`. (`active` may be
/// unassigned after a PATCH removes it; the member then stays active.)
fn check_user(attrs: Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
    match attrs.get("userName") {
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(attrs),
        Some(Value::String(_)) => Err(invalid("userName must not be blank.".into())),
        _ => Err(invalid("userName is required.".into())),
    }
}

/// The full SCIM representation of a user.
pub fn render(user: &StoredUser, base_url: &str) -> Value {
    let mut schemas = vec![USER_URN];
    if user.attrs.contains_key(ENTERPRISE_USER_URN) {
        schemas.push(ENTERPRISE_USER_URN);
    }
    let mut out = Map::new();
    out.insert("schemas".into(), json!(schemas));
    out.insert("id".into(), json!(user.id));
    for (k, v) in &user.attrs {
        out.insert(k.clone(), v.clone());
    }
    if !user.groups.is_empty() {
        let groups: Vec<Value> = user
            .groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.id,
                    "$ref": format!("{base_url}/Groups/{}", g.id),
                    "display": g.display,
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": user.created_at,
            "lastModified": user.updated_at,
            "location": format!("{base_url}/Users/{}", user.id),
            "version": etag(user.version),
        }),
    );
    Value::Object(out)
}
