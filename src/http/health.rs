//! Unauthenticated health endpoints, on Bitwarden's paths so existing probes keep working.

use actix_web::{HttpResponse, web};

use crate::scim::ScimError;
use crate::state::AppState;
use crate::timestamp;

/// `GET /alive` (and `/now`): 200 with the current time as a JSON string, after a query has
/// gone through the database; 503 when the database cannot answer.
pub async fn alive(state: web::Data<AppState>) -> Result<HttpResponse, ScimError> {
    let store = state.store.clone();
    web::block(move || store.ping()).await?.map_err(|e| {
        tracing::error!(error = %crate::error::error_chain(&e), "health check failed");
        ScimError::Unavailable("The database is not available.".into())
    })?;
    Ok(HttpResponse::Ok().json(timestamp::now()))
}

/// `GET /version`: the version as a JSON string.
pub async fn version() -> HttpResponse {
    HttpResponse::Ok().json(env!("CARGO_PKG_VERSION"))
}
