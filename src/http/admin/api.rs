//! The admin API handlers (`/api/admin/…`, documented in `docs/admin-api.md`). Each parses its
//! input, makes one call into [`crate::admin`] or the store on the blocking pool, and renders
//! JSON; the page in `static/` is its only built-in client.

use std::net::SocketAddr;

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use super::AdminError;
use super::extract::{Admin, AdminJson, OptionalAdminJson, check_origin, current_session};
use crate::admin;
use crate::auth::password;
use crate::auth::session::{self, NewSession, SESSION_COOKIE};
use crate::auth::throttle::{Attempt, ClientKey};
use crate::directory::{StoredGroup, StoredUser, UserFields};
use crate::http::client::client_ip;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::list::ListQuery;
use crate::state::{AppState, LdapListeners};
use crate::store::{Actor, EventQuery, EventType, KeyScope, OrgChanges, OrgSummary, Store};
use crate::timestamp;

pub(super) type State = web::Data<AppState>;
pub(super) type Reply = Result<HttpResponse, AdminError>;

/// Days of provisioning activity on an organization's overview.
const ACTIVITY_DAYS: u16 = 30;
/// Page sizes of the directory and event views.
const DEFAULT_PER_PAGE: u32 = 25;
const MAX_PER_PAGE: u32 = 200;
const DEFAULT_EVENTS: u32 = 50;
/// Longest search text accepted (it becomes a bounded `co` filter).
const MAX_SEARCH_CHARS: usize = 200;
/// Longest lifetime a new key may be given, in days (ten years).
const MAX_KEY_DAYS: u32 = 3650;

/// Runs blocking store work off the async executor.
pub(super) async fn blocking<T: Send + 'static>(
    state: &State,
    f: impl FnOnce(&Store) -> Result<T, AdminError> + Send + 'static,
) -> Result<T, AdminError> {
    let store = state.store.clone();
    web::block(move || f(&store)).await?
}

pub(super) fn ok_json(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

// ---------------------------------------------------------------------------------------------
// Session

fn session_body(state: &AppState, session: Option<(&str, &str)>, setup_required: bool) -> Value {
    json!({
        "signed_in": session.is_some(),
        "setup_required": setup_required,
        "csrf_token": session.map(|s| s.0),
        "expires_at": session.map(|s| s.1),
        "version": env!("CARGO_PKG_VERSION"),
        "public_url": state.public_url,
    })
}

/// The answer to a successful sign-in: the session object and its cookie.
fn signed_in(state: &AppState, new: &NewSession) -> HttpResponse {
    let cookie = Cookie::build(SESSION_COOKIE, new.cookie.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .finish();
    let mut response = ok_json(
        StatusCode::OK,
        session_body(state, Some((&new.csrf_token, &new.expires_at)), false),
    );
    if let Err(e) = response.add_cookie(&cookie) {
        tracing::error!(error = %e, "could not set the session cookie");
    }
    response
}

pub async fn session(req: HttpRequest, state: State) -> Reply {
    let active = current_session(&req, &state).await?;
    let setup_required = blocking(&state, |s| Ok(s.admin_password_phc()?.is_none())).await?;
    let session = active
        .as_ref()
        .map(|a| (a.csrf_token.as_str(), a.expires_at.as_str()));
    Ok(ok_json(
        StatusCode::OK,
        session_body(&state, session, setup_required),
    ))
}

/// Reserves a sign-in attempt for the client: 429 when it has failed too often. Reserved
/// before anything is checked, so concurrent attempts are limited like consecutive ones.
fn reserve_attempt<'a>(
    req: &HttpRequest,
    state: &'a AppState,
) -> Result<Attempt<'a, ClientKey>, AdminError> {
    state
        .admin_auth
        .reserve_attempt(client_ip(state, req))
        .map_err(|retry_after| AdminError::TooManyAttempts { retry_after })
}

/// Whether `candidate` is the admin password: one argon2 run through the process's gate, also
/// when no password is set (against a dummy hash), so the answer takes the same time either
/// way. The attempt is given back when the password is right or was not checked (busy).
async fn admin_password_matches(
    state: &AppState,
    attempt: Attempt<'_, ClientKey>,
    candidate: String,
) -> Result<bool, AdminError> {
    let store = state.store.clone();
    let phc = web::block(move || store.admin_password_phc()).await??;
    let checked = state
        .argon2
        .run(move || password::verify_or_dummy(candidate.as_bytes(), phc.as_deref()))
        .await;
    match checked {
        Ok(true) => {
            attempt.succeeded();
            Ok(true)
        }
        Ok(false) => Ok(false),
        Err(busy) => {
            attempt.not_checked();
            Err(busy.into())
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    token: String,
    password: String,
}

pub async fn setup(req: HttpRequest, state: State, body: AdminJson<SetupBody>) -> Reply {
    check_origin(&req, &state)?;
    let attempt = reserve_attempt(&req, &state)?;
    let SetupBody { token, password } = body.0;
    if !state.admin_auth.setup_token_matches(&token) {
        drop(attempt);
        let already = blocking(&state, |s| Ok(s.admin_password_phc()?.is_some())).await?;
        return Err(if already {
            AdminError::AlreadySetUp
        } else {
            AdminError::InvalidSetupToken
        });
    }
    attempt.succeeded();
    let new = blocking(&state, move |s| {
        if !admin::set_admin_password(s, &password, true)? {
            return Err(AdminError::AlreadySetUp);
        }
        Ok(session::start_session(s)?)
    })
    .await?;
    state.admin_auth.clear_setup_token();
    tracing::info!("the admin password was set through the setup link");
    Ok(signed_in(&state, &new))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    password: String,
}

pub async fn login(req: HttpRequest, state: State, body: AdminJson<LoginBody>) -> Reply {
    check_origin(&req, &state)?;
    let attempt = reserve_attempt(&req, &state)?;
    if !admin_password_matches(&state, attempt, body.0.password).await? {
        tracing::warn!(client = ?client_ip(&state, &req), "failed admin sign-in");
        return Err(AdminError::WrongPassword);
    }
    let new = blocking(&state, |s| Ok(session::start_session(s)?)).await?;
    Ok(signed_in(&state, &new))
}

pub async fn logout(Admin(active): Admin, state: State) -> Reply {
    blocking(&state, move |s| {
        Ok(s.delete_admin_session(&active.token_hash)?)
    })
    .await?;
    let mut response = HttpResponse::NoContent();
    let mut removal = Cookie::build(SESSION_COOKIE, "")
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.secure_cookies)
        .finish();
    removal.make_removal();
    removal.set_max_age(CookieDuration::ZERO);
    Ok(response.cookie(removal).finish())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    current_password: String,
    new_password: String,
}

pub async fn change_password(
    req: HttpRequest,
    _admin: Admin,
    state: State,
    body: AdminJson<PasswordBody>,
) -> Reply {
    let attempt = reserve_attempt(&req, &state)?;
    let PasswordBody {
        current_password,
        new_password,
    } = body.0;
    if !admin_password_matches(&state, attempt, current_password).await? {
        return Err(AdminError::WrongPassword);
    }
    let new = blocking(&state, move |s| {
        admin::set_admin_password(s, &new_password, false)?;
        Ok(session::start_session(s)?)
    })
    .await?;
    Ok(signed_in(&state, &new))
}

// ---------------------------------------------------------------------------------------------
// Organizations

fn summary_json(s: &OrgSummary) -> Value {
    json!({
        "id": s.org.id,
        "name": s.org.name,
        "scim_enabled": s.org.scim_enabled,
        "seat_limit": s.org.seat_limit,
        "ldap_base_dn": s.org.ldap_base_dn,
        "members": s.members,
        "active_members": s.active_members,
        "revoked_members": s.members.saturating_sub(s.active_members),
        "groups": s.groups,
        "last_activity_at": s.last_activity_at,
        "key_id": s.key_id,
        "key_created_at": s.key_created_at,
        "keys": s.keys,
        "created_at": s.org.created_at,
        "updated_at": s.org.updated_at,
    })
}

/// What the detail of an organization needs from the server besides the store.
#[derive(Clone)]
struct ServerFacts {
    public_url: String,
    ldap: LdapListeners,
}

impl ServerFacts {
    fn of(state: &AppState) -> ServerFacts {
        ServerFacts {
            public_url: state.public_url.clone(),
            ldap: state.ldap_listeners,
        }
    }

    /// `scheme://host:port` of a listener: its address, or the public URL's host when it
    /// listens on every address (`0.0.0.0`, `::`).
    fn url(&self, scheme: &str, addr: SocketAddr) -> String {
        let public_host = url::Url::parse(&self.public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        match public_host {
            Some(host) if addr.ip().is_unspecified() => {
                format!("{scheme}://{host}:{}", addr.port())
            }
            _ => format!("{scheme}://{addr}"),
        }
    }

    /// The organization's LDAP facts for the page: its tree (as `ldap::entries` lays it out),
    /// the service accounts' bind DN, and where LDAP and LDAPS listen (`null` where they do
    /// not).
    fn ldap_json(&self, base: &str) -> Value {
        json!({
            "base_dn": base,
            "people_dn": format!("ou=people,{base}"),
            "groups_dn": format!("ou=groups,{base}"),
            "bind_dn_format": format!("cn=<key id>,{base}"),
            "listen": self.ldap.ldap.map(|a| a.to_string()),
            "url": self.ldap.ldap.map(|a| self.url("ldap", a)),
            "ldaps_listen": self.ldap.ldaps.map(|a| a.to_string()),
            "ldaps_url": self.ldap.ldaps.map(|a| self.url("ldaps", a)),
        })
    }
}

/// The organization's detail: summary, SCIM URL, key facts, 30 days of activity and LDAP.
fn org_detail(store: &Store, server: &ServerFacts, org_id: &str) -> Result<Value, AdminError> {
    let public_url = &server.public_url;
    let summary = store.org_summary(org_id)?;
    let activity = store.scim_activity(org_id, timestamp::today(), ACTIVITY_DAYS)?;
    let mut detail = summary_json(&summary);
    detail["scim_url"] = json!(format!("{public_url}/v2/{}", summary.org.id));
    detail["api_key"] = match (&summary.key_id, &summary.key_created_at) {
        (Some(id), Some(at)) => json!({"key_id": id, "created_at": at}),
        _ => Value::Null,
    };
    detail["activity"] = json!(activity);
    detail["ldap"] = server.ldap_json(&summary.org.ldap_base_dn);
    Ok(detail)
}

pub async fn list_orgs(_admin: Admin, state: State) -> Reply {
    let orgs = blocking(&state, |s| Ok(s.list_orgs()?)).await?;
    let list: Vec<Value> = orgs.iter().map(summary_json).collect();
    Ok(ok_json(StatusCode::OK, json!({ "organizations": list })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgBody {
    name: String,
}

pub async fn create_org(_admin: Admin, state: State, body: AdminJson<CreateOrgBody>) -> Reply {
    let server = ServerFacts::of(&state);
    let detail = blocking(&state, move |s| {
        let (org, _) = admin::create_org(s, &body.0.name, false, Actor::Admin)?;
        org_detail(s, &server, &org.id)
    })
    .await?;
    Ok(ok_json(StatusCode::CREATED, detail))
}

pub async fn get_org(_admin: Admin, state: State, path: web::Path<String>) -> Reply {
    let server = ServerFacts::of(&state);
    let org_id = path.into_inner();
    let detail = blocking(&state, move |s| org_detail(s, &server, &org_id)).await?;
    Ok(ok_json(StatusCode::OK, detail))
}

/// `Some(value)` for a present field, even `null`; a missing field stays `None` (serde's
/// default), so `seat_limit: null` can mean "remove the limit".
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchOrgBody {
    name: Option<String>,
    scim_enabled: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    seat_limit: Option<Option<u32>>,
    ldap_base_dn: Option<String>,
}

pub async fn patch_org(
    _admin: Admin,
    state: State,
    path: web::Path<String>,
    body: AdminJson<PatchOrgBody>,
) -> Reply {
    let server = ServerFacts::of(&state);
    let org_id = path.into_inner();
    let PatchOrgBody {
        name,
        scim_enabled,
        seat_limit,
        ldap_base_dn,
    } = body.0;
    let changes = OrgChanges {
        name,
        scim_enabled,
        seat_limit,
        ldap_base_dn,
    };
    let detail = blocking(&state, move |s| {
        s.update_org(&org_id, &changes, Actor::Admin)?;
        org_detail(s, &server, &org_id)
    })
    .await?;
    Ok(ok_json(StatusCode::OK, detail))
}

pub async fn delete_org(_admin: Admin, state: State, path: web::Path<String>) -> Reply {
    let org_id = path.into_inner();
    blocking(&state, move |s| Ok(s.delete_org(&org_id)?)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The old single-key endpoint: rotates the organization's one provision key (a first one named
/// `default` when there is none; 409 when there are several).
pub async fn issue_api_key(_admin: Admin, state: State, path: web::Path<String>) -> Reply {
    let scim_url = scim_url(&state, &path);
    let org_id = path.into_inner();
    let new = blocking(&state, move |s| {
        Ok(admin::rotate_api_key(s, &org_id, None, None, Actor::Admin)?)
    })
    .await?;
    Ok(ok_json(
        StatusCode::CREATED,
        json!({
            "api_key": new.token,
            "key_id": new.key.key_id,
            "created_at": new.key.created_at,
            "scim_url": scim_url,
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// API keys

fn scim_url(state: &AppState, org_id: &str) -> String {
    format!("{}/v2/{org_id}", state.public_url)
}

pub async fn list_keys(_admin: Admin, state: State, path: web::Path<String>) -> Reply {
    let org_id = path.into_inner();
    let keys = blocking(&state, move |s| Ok(s.list_api_keys(&org_id)?)).await?;
    Ok(ok_json(StatusCode::OK, json!({ "keys": keys })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddKeyBody {
    name: String,
    scope: Option<String>,
    expires_in_days: Option<u32>,
}

pub async fn add_key(
    _admin: Admin,
    state: State,
    path: web::Path<String>,
    body: AdminJson<AddKeyBody>,
) -> Reply {
    let scim_url = scim_url(&state, &path);
    let org_id = path.into_inner();
    let AddKeyBody {
        name,
        scope,
        expires_in_days,
    } = body.0;
    let scope = match scope {
        Some(scope) => KeyScope::parse(&scope)?,
        None => KeyScope::Provision,
    };
    let expires_in = match expires_in_days {
        Some(days @ 1..=MAX_KEY_DAYS) => Some(std::time::Duration::from_secs(
            u64::from(days) * 24 * 60 * 60,
        )),
        Some(_) => {
            return Err(AdminError::Invalid(format!(
                "expires_in_days must be between 1 and {MAX_KEY_DAYS}, or null for never"
            )));
        }
        None => None,
    };
    let new = blocking(&state, move |s| {
        Ok(admin::add_api_key(
            s,
            &org_id,
            &name,
            scope,
            expires_in,
            Actor::Admin,
        )?)
    })
    .await?;
    Ok(ok_json(
        StatusCode::CREATED,
        json!({"api_key": new.token, "key": new.key, "scim_url": scim_url}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeyBody {
    grace_seconds: Option<u64>,
}

pub async fn rotate_key(
    _admin: Admin,
    state: State,
    path: web::Path<(String, String)>,
    body: OptionalAdminJson<RotateKeyBody>,
) -> Reply {
    let (org_id, key_id) = path.into_inner();
    let scim_url = scim_url(&state, &org_id);
    let grace_seconds = body.0.and_then(|b| b.grace_seconds).unwrap_or(0);
    if grace_seconds > admin::MAX_ROTATION_GRACE.as_secs() {
        return Err(AdminError::Invalid(format!(
            "grace_seconds must be between 0 and {}",
            admin::MAX_ROTATION_GRACE.as_secs()
        )));
    }
    let grace = std::time::Duration::from_secs(grace_seconds);
    let new = blocking(&state, move |s| {
        Ok(admin::rotate_api_key(
            s,
            &org_id,
            Some(&key_id),
            Some(grace),
            Actor::Admin,
        )?)
    })
    .await?;
    Ok(ok_json(
        StatusCode::CREATED,
        json!({
            "api_key": new.token,
            "key": new.key,
            "replaced": new.replaced,
            "scim_url": scim_url,
        }),
    ))
}

pub async fn revoke_key(_admin: Admin, state: State, path: web::Path<(String, String)>) -> Reply {
    let (org_id, key_id) = path.into_inner();
    blocking(&state, move |s| {
        Ok(admin::revoke_api_key(s, &org_id, &key_id, Actor::Admin)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// Directory

#[derive(Deserialize)]
pub struct DirectoryQuery {
    q: Option<String>,
    status: Option<String>,
    page: Option<u64>,
    per_page: Option<u32>,
}

fn query<T: serde::de::DeserializeOwned>(req: &HttpRequest) -> Result<T, AdminError> {
    web::Query::<T>::from_query(req.query_string())
        .map(web::Query::into_inner)
        .map_err(|e| AdminError::Invalid(format!("the query string is not valid: {e}")))
}

/// `(page, per_page)` from 1-based page numbers, bounded.
fn paging(page: Option<u64>, per_page: Option<u32>) -> Result<(u64, u32), AdminError> {
    let page = page.unwrap_or(1).max(1);
    let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(AdminError::Invalid(format!(
            "per_page must be between 1 and {MAX_PER_PAGE}"
        )));
    }
    Ok((page, per_page))
}

/// One comparison on a fixed attribute path.
fn compare(attr: &str, op: CompareOp, value: CompValue) -> Result<Filter, AdminError> {
    let path = AttrPath::parse(attr).map_err(|e| AdminError::Internal(e.to_string()))?;
    Ok(Filter::Compare { path, op, value })
}

/// Rows before the 1-based `page`.
fn offset(page: u64, per_page: u32) -> u64 {
    (page - 1).saturating_mul(u64::from(per_page))
}

/// `attr1 co q or attr2 co q or …` for a search box, with an optional extra condition.
fn search_filter(
    attrs: &[&str],
    q: Option<&str>,
    and: Option<Filter>,
) -> Result<Option<Filter>, AdminError> {
    let q = q.map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS) {
        return Err(AdminError::Invalid(format!(
            "the search text must be at most {MAX_SEARCH_CHARS} characters"
        )));
    }
    let search = match q {
        Some(q) => attrs
            .iter()
            .map(|attr| compare(attr, CompareOp::Co, CompValue::String(q.to_owned())))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .reduce(|a, b| Filter::Or(Box::new(a), Box::new(b))),
        None => None,
    };
    Ok(match (search, and) {
        (Some(a), Some(b)) => Some(Filter::And(Box::new(a), Box::new(b))),
        (a, b) => a.or(b),
    })
}

fn list_query(
    search_attrs: &[&str],
    q: Option<&str>,
    and: Option<Filter>,
    sort_by: &str,
    (page, per_page): (u64, u32),
) -> Result<ListQuery, AdminError> {
    Ok(ListQuery {
        filter: search_filter(search_attrs, q, and)?,
        sort_by: Some(sort_by.to_owned()),
        descending: false,
        start_index: offset(page, per_page) + 1,
        count: u64::from(per_page),
    })
}

fn member_row(user: &StoredUser) -> Value {
    let fields = UserFields::from_doc(&user.attrs);
    let groups: Vec<Value> = user
        .groups
        .iter()
        .map(|g| json!({"id": g.id, "display_name": g.display}))
        .collect();
    json!({
        "id": user.id,
        "user_name": fields.user_name,
        "email": fields.email_key,
        "display_name": fields.display_name,
        "active": fields.active,
        "external_id": fields.external_id,
        "groups": groups,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    })
}

fn group_row(group: &StoredGroup, member_count: u64) -> Value {
    json!({
        "id": group.id,
        "display_name": group.attrs.get("displayName").and_then(Value::as_str),
        "external_id": group.attrs.get("externalId").and_then(Value::as_str),
        "member_count": member_count,
        "created_at": group.created_at,
        "updated_at": group.updated_at,
    })
}

pub async fn list_members(
    req: HttpRequest,
    _admin: Admin,
    state: State,
    path: web::Path<String>,
) -> Reply {
    let org_id = path.into_inner();
    let params: DirectoryQuery = query(&req)?;
    let paging = paging(params.page, params.per_page)?;
    let status = match params.status.as_deref().map(str::trim) {
        None | Some("") | Some("all") => None,
        Some("active") => Some(true),
        Some("revoked") => Some(false),
        Some(other) => {
            return Err(AdminError::Invalid(format!(
                "status must be \"active\" or \"revoked\", not \"{other}\""
            )));
        }
    };
    let status_filter = status
        .map(|active| compare("active", CompareOp::Eq, CompValue::Bool(active)))
        .transpose()?;
    let query = list_query(
        &["userName", "emails.value", "displayName", "externalId"],
        params.q.as_deref(),
        status_filter,
        "userName",
        paging,
    )?;
    let page = blocking(&state, move |s| {
        s.get_org(&org_id)?;
        Ok(s.list_users(&org_id, &query)?)
    })
    .await?;
    let members: Vec<Value> = page.items.iter().map(member_row).collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({"total": page.total, "page": paging.0, "per_page": paging.1, "members": members}),
    ))
}

pub async fn get_member(_admin: Admin, state: State, path: web::Path<(String, String)>) -> Reply {
    let (org_id, member_id) = path.into_inner();
    let base_url = format!("{}/v2/{org_id}", state.public_url);
    let user = blocking(&state, move |s| {
        s.get_org(&org_id)?;
        Ok(s.get_user(&org_id, &member_id)?)
    })
    .await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({"member": member_row(&user), "resource": crate::scim::users::render(&user, &base_url)}),
    ))
}

pub async fn list_groups(
    req: HttpRequest,
    _admin: Admin,
    state: State,
    path: web::Path<String>,
) -> Reply {
    let org_id = path.into_inner();
    let params: DirectoryQuery = query(&req)?;
    let paging = paging(params.page, params.per_page)?;
    let query = list_query(
        &["displayName", "externalId"],
        params.q.as_deref(),
        None,
        "displayName",
        paging,
    )?;
    let (page, counts) = blocking(&state, move |s| {
        s.get_org(&org_id)?;
        let page = s.list_groups(&org_id, &query, false)?;
        let ids: Vec<&str> = page.items.iter().map(|g| g.id.as_str()).collect();
        let counts = s.member_counts(&ids)?;
        Ok((page, counts))
    })
    .await?;
    let groups: Vec<Value> = page
        .items
        .iter()
        .zip(counts)
        .map(|(g, n)| group_row(g, n))
        .collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({"total": page.total, "page": paging.0, "per_page": paging.1, "groups": groups}),
    ))
}

pub async fn get_group(
    req: HttpRequest,
    _admin: Admin,
    state: State,
    path: web::Path<(String, String)>,
) -> Reply {
    let (org_id, group_id) = path.into_inner();
    let params: DirectoryQuery = query(&req)?;
    let (page, per_page) = paging(params.page, params.per_page)?;
    let (group, members) = blocking(&state, move |s| {
        s.get_org(&org_id)?;
        let group = s.get_group(&org_id, &group_id, false)?;
        let members = s
            .group_member_page(&org_id, &group_id, offset(page, per_page), per_page)?
            .ok_or_else(|| AdminError::NotFound(format!("no group has the id \"{group_id}\"")))?;
        Ok((group, members))
    })
    .await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({
            "group": group_row(&group, members.total),
            "total": members.total,
            "page": page,
            "per_page": per_page,
            "members": members.items,
        }),
    ))
}

#[derive(Deserialize)]
pub struct EventsQuery {
    #[serde(rename = "type")]
    event_type: Option<String>,
    member: Option<String>,
    before: Option<i64>,
    limit: Option<u32>,
}

pub async fn list_events(
    req: HttpRequest,
    _admin: Admin,
    state: State,
    path: web::Path<String>,
) -> Reply {
    let org_id = path.into_inner();
    let params: EventsQuery = query(&req)?;
    let limit = params.limit.unwrap_or(DEFAULT_EVENTS);
    if !(1..=MAX_PER_PAGE).contains(&limit) {
        return Err(AdminError::Invalid(format!(
            "limit must be between 1 and {MAX_PER_PAGE}"
        )));
    }
    let event_type = match params.event_type.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(name) => Some(
            EventType::from_name(name)
                .ok_or_else(|| AdminError::Invalid(format!("there is no event type \"{name}\"")))?,
        ),
    };
    let member = params
        .member
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    let before = params.before;
    let events = blocking(&state, move |s| {
        s.get_org(&org_id)?;
        // A member reference is an id, or the userName or email of a current member.
        let member_id = match member {
            Some(m) if uuid::Uuid::try_parse(&m).is_ok() => Some(m.to_ascii_lowercase()),
            Some(m) => Some(s.find_member_id(&org_id, &m)?.unwrap_or(m)),
            None => None,
        };
        // One more than asked tells whether an older page exists.
        let query = EventQuery {
            event_type,
            member_id: member_id.as_deref(),
            before,
            limit: limit + 1,
        };
        Ok(s.query_events(&org_id, &query)?)
    })
    .await?;
    let more = events.len() > limit as usize;
    let events: Vec<_> = events.into_iter().take(limit as usize).collect();
    let next_before = more.then(|| events.last().map(|e| e.id)).flatten();
    let types: Vec<&str> = EventType::ALL.iter().map(|t| t.name()).collect();
    Ok(ok_json(
        StatusCode::OK,
        json!({"events": events, "next_before": next_before, "types": types}),
    ))
}
