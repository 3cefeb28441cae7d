//! Discovery endpoints (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas`, `/ResourceTypes`.
//! They describe exactly what this server implements: the schemas are the same static data
//! that drives reading, PATCH, filters and projection, so they cannot drift apart.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::bulk::{MAX_OPERATIONS, max_payload};
use super::{base_url, scim_json};
use crate::auth::ScimCaller;
use crate::scim::ScimError;
use crate::scim::list::{MAX_RESULTS, list_response};
use crate::scim::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP, GROUP_SCHEMA, ResourceType, Schema, USER, USER_SCHEMA,
};
use crate::state::AppState;

/// Every schema published in `/Schemas`.
pub static SCHEMAS: [&Schema; 3] = [&USER_SCHEMA, &ENTERPRISE_USER_SCHEMA, &GROUP_SCHEMA];
/// Every resource type published in `/ResourceTypes`.
pub static RESOURCE_TYPES: [&ResourceType; 2] = [&USER, &GROUP];

/// `GET /ServiceProviderConfig` (RFC 7643 §5).
pub async fn service_provider_config(
    caller: ScimCaller,
    state: web::Data<AppState>,
) -> HttpResponse {
    let location = format!("{}/ServiceProviderConfig", base_url(&state, &caller));
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
            "patch": { "supported": true },
            "bulk": {
                "supported": true,
                "maxOperations": MAX_OPERATIONS,
                "maxPayloadSize": max_payload(&state),
            },
            "filter": { "supported": true, "maxResults": MAX_RESULTS },
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The organization's API key, sent as `Authorization: Bearer <key>`.",
                "primary": true
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": location }
        }),
    )
}

/// `GET /Schemas`: a ListResponse of every schema.
pub async fn schemas(caller: ScimCaller, state: web::Data<AppState>) -> HttpResponse {
    let base = base_url(&state, &caller);
    let all: Vec<Value> = SCHEMAS.iter().map(|s| s.to_json(&base)).collect();
    scim_json(StatusCode::OK, &list_response(all.len() as u64, 1, all))
}

/// `GET /Schemas/{urn}` (the URN matched case-insensitively).
pub async fn schema(
    caller: ScimCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let id = path.into_inner().1;
    let schema = SCHEMAS
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::NotFound(format!("No schema \"{id}\" is published here.")))?;
    Ok(scim_json(
        StatusCode::OK,
        &schema.to_json(&base_url(&state, &caller)),
    ))
}

/// `GET /ResourceTypes`.
pub async fn resource_types(caller: ScimCaller, state: web::Data<AppState>) -> HttpResponse {
    let base = base_url(&state, &caller);
    let all: Vec<Value> = RESOURCE_TYPES.iter().map(|t| t.to_json(&base)).collect();
    scim_json(StatusCode::OK, &list_response(all.len() as u64, 1, all))
}

/// `GET /ResourceTypes/{name}` (`User`, `Group`; case-insensitive).
pub async fn resource_type(
    caller: ScimCaller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ScimError> {
    let id = path.into_inner().1;
    let rt = RESOURCE_TYPES
        .iter()
        .find(|t| t.name.eq_ignore_ascii_case(&id))
        .ok_or_else(|| ScimError::NotFound(format!("No resource type \"{id}\" exists here.")))?;
    Ok(scim_json(
        StatusCode::OK,
        &rt.to_json(&base_url(&state, &caller)),
    ))
}
