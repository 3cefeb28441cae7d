//! Discovery endpoints (RFC 7644 §4): what this server implements, stated honestly.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::json;

use super::list::MAX_RESULTS;
use super::scim_json;
use crate::auth::ScimCaller;
use crate::startup::AppState;

/// `GET /v2/{org_id}/ServiceProviderConfig` (RFC 7643 §5). Only what is implemented today is
/// advertised as supported; the flags flip as each capability lands.
pub async fn service_provider_config(
    caller: ScimCaller,
    state: web::Data<AppState>,
) -> HttpResponse {
    let location = format!(
        "{}/v2/{}/ServiceProviderConfig",
        state.public_url, caller.org_id
    );
    scim_json(
        StatusCode::OK,
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
            "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
            "filter": { "supported": true, "maxResults": MAX_RESULTS },
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": false },
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
