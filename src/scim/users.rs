//! `/v2/{org_id}/Users`: members of an organization (RFC 7643 §4.1 with the enterprise
//! extension), with Bitwarden's membership semantics: `active: false` revokes, `active: true`
//! restores, DELETE removes, and userName, externalId and member email are unique per
//! organization.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::ScimBody;
use super::list::{QueryParams, list_response};
use super::patch::PatchRequest;
use super::resource::{invalid, read_resource};
use super::schema::{ENTERPRISE_USER_URN, USER, USER_URN};
use super::{ScimError, base_url, etag, resource_response, scim_json};
use crate::auth::ScimCaller;
use crate::startup::AppState;
use crate::store::StoredUser;

/// `GET /Users`: filter, sort and page the organization's members.
pub async fn list(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ScimError> {
    let params = QueryParams::parse(req.query_string())?;
    let query = params.list_query(&USER)?;
    let start_index = query.start_index;
    let store = state.store.clone();
    let org_id = caller.org_id.clone();
    let page = web::block(move || store.list_users(&org_id, &query)).await??;
    let projection = params.projection(&USER);
    let base = base_url(&state, &caller);
    let resources = page
        .items
        .iter()
        .map(|u| projection.apply(render(u, &base)))
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &list_response(page.total, start_index, resources),
    ))
}

/// `POST /Users`: creates a member (active unless the body says `active: false`).
pub async fn create(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let attrs = read_user(&body.0)?;
    let store = state.store.clone();
    let (org_id, key_id) = (caller.org_id.clone(), caller.key_id.clone());
    let user = web::block(move || store.create_user(&org_id, &key_id, attrs)).await??;
    Ok(resource_response(
        StatusCode::CREATED,
        render(&user, &base_url(&state, &caller)),
        user.version,
        &projection,
    ))
}

/// `GET /Users/{id}`.
pub async fn get(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let id = path.into_inner().1;
    let store = state.store.clone();
    let org_id = caller.org_id.clone();
    let user = web::block(move || store.get_user(&org_id, &id)).await??;
    Ok(resource_response(
        StatusCode::OK,
        render(&user, &base_url(&state, &caller)),
        user.version,
        &projection,
    ))
}

/// `PUT /Users/{id}`: replaces every writable attribute (RFC 7644 §3.5.1); read-only ones
/// (`id`, `meta`, `groups`) in the body are ignored. A body without `active` leaves the
/// member active, as on create.
pub async fn replace(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let attrs = read_user(&body.0)?;
    let id = path.into_inner().1;
    let store = state.store.clone();
    let (org_id, key_id) = (caller.org_id.clone(), caller.key_id.clone());
    let user =
        web::block(move || store.update_user(&org_id, &id, &key_id, |_| Ok::<_, ScimError>(attrs)))
            .await??;
    Ok(resource_response(
        StatusCode::OK,
        render(&user, &base_url(&state, &caller)),
        user.version,
        &projection,
    ))
}

/// `PATCH /Users/{id}`: all operations apply in one transaction, or none do.
pub async fn patch(
    caller: ScimCaller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let projection = QueryParams::parse(req.query_string())?.projection(&USER);
    let request = PatchRequest::parse(&body.0)?;
    let id = path.into_inner().1;
    let store = state.store.clone();
    let (org_id, key_id) = (caller.org_id.clone(), caller.key_id.clone());
    let user = web::block(move || {
        store.update_user(&org_id, &id, &key_id, |current| {
            let attrs = request.apply(&USER, current.attrs.clone())?;
            check_user(attrs)
        })
    })
    .await??;
    Ok(resource_response(
        StatusCode::OK,
        render(&user, &base_url(&state, &caller)),
        user.version,
        &projection,
    ))
}

/// `DELETE /Users/{id}`: removes the member and its group memberships.
pub async fn delete(
    caller: ScimCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let id = path.into_inner().1;
    let store = state.store.clone();
    let (org_id, key_id) = (caller.org_id, caller.key_id);
    web::block(move || store.delete_user(&org_id, &id, &key_id)).await??;
    Ok(HttpResponse::NoContent().finish())
}

/// Reads a POST/PUT body into a user document and checks the user rules.
fn read_user(body: &Value) -> Result<Map<String, Value>, ScimError> {
    let mut attrs = read_resource(body, &USER)?;
    attrs.entry("active").or_insert(Value::Bool(true));
    check_user(attrs)
}

/// Rules every stored user meets: a non-blank string `userName`, and `active` present.
fn check_user(mut attrs: Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
    match attrs.get("userName") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        Some(Value::String(_)) => return Err(invalid("userName must not be blank.".into())),
        _ => return Err(invalid("userName is required.".into())),
    }
    attrs.entry("active").or_insert(Value::Bool(true));
    Ok(attrs)
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
