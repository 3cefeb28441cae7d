//! `POST …/.search` (RFC 7644 §3.4.3): the query parameters of a list, sent as a
//! SearchRequest body so that filters stay out of URLs and logs. `/Users/.search` and
//! `/Groups/.search` answer exactly like the matching GET; `/.search` at the organization root
//! searches users, then groups, paging across both.

use actix_web::{HttpResponse, web};
use serde_json::Value;

use super::body::ScimBody;
use super::resources::{Endpoint, Groups, Users};
use super::{Ctx, list_response_of};
use crate::auth::ScimCaller;
use crate::scim::ScimError;
use crate::scim::list::{QueryParams, list_response};
use crate::state::AppState;

/// `POST /Users/.search`.
pub async fn users(
    caller: ScimCaller,
    state: web::Data<AppState>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    search(caller, state, body, Users::list).await
}

/// `POST /Groups/.search`.
pub async fn groups(
    caller: ScimCaller,
    state: web::Data<AppState>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    search(caller, state, body, Groups::list).await
}

/// `POST /.search`: users first, then groups. A filter naming an attribute only one type has
/// (`userName`) simply finds nothing of the other type; it is an error only if it fits
/// neither. `sortBy` orders within each type.
pub async fn all(
    caller: ScimCaller,
    state: web::Data<AppState>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    search(caller, state, body, search_all).await
}

/// Answers a SearchRequest with `op`, exactly as the matching GET would.
async fn search(
    caller: ScimCaller,
    state: web::Data<AppState>,
    body: ScimBody,
    op: fn(&Ctx, &QueryParams) -> Result<Value, ScimError>,
) -> Result<HttpResponse, ScimError> {
    let params = QueryParams::from_search_request(&body.json().await?)?;
    list_response_of(&state, &caller, params, false, op).await
}

fn search_all(ctx: &Ctx, params: &QueryParams) -> Result<Value, ScimError> {
    let (start, count) = params.paging()?;
    let users = Users::list(ctx, params);
    let user_total = users.as_ref().map_or(0, total);
    // The groups' part of the page starts where the users ran out.
    let group_params = QueryParams {
        start_index: Some(start.saturating_sub(user_total).max(1).to_string()),
        count: Some(
            count
                .saturating_sub(users.as_ref().map_or(0, |p| resources(p).len() as u64))
                .to_string(),
        ),
        ..params.clone()
    };
    let groups = Groups::list(ctx, &group_params);
    let (users, groups) = match (users, groups) {
        (Err(e), Err(_)) => return Err(e),
        (users, groups) => (users.ok(), groups.ok()),
    };
    let mut all = Vec::new();
    let mut sum = 0;
    for page in [users, groups].into_iter().flatten() {
        sum += total(&page);
        all.extend(resources(&page).iter().cloned());
    }
    Ok(list_response(sum, start, all))
}

fn total(page: &Value) -> u64 {
    page["totalResults"].as_u64().unwrap_or(0)
}

fn resources(page: &Value) -> &[Value] {
    page["Resources"].as_array().map_or(&[], Vec::as_slice)
}
