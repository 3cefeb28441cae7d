//! `GET /metrics`: the Prometheus text of [`crate::metrics`], when `--metrics` is on, behind
//! `--metrics-token` when one is set (compared in constant time).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use subtle::ConstantTimeEq;

use crate::state::AppState;

/// `GET /metrics`.
pub async fn endpoint(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.metrics.is_none() {
        return HttpResponse::NotFound().finish();
    }
    if let Some(token) = &state.metrics_token {
        let presented = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !bool::from(presented.as_bytes().ct_eq(token.0.as_bytes())) {
            return HttpResponse::Unauthorized()
                .insert_header((header::WWW_AUTHENTICATE, "Bearer"))
                .finish();
        }
    }
    let rendered = web::block(move || {
        let metrics = state.metrics.as_ref();
        metrics.map_or(Ok(String::new()), |m| m.render(&state.store, &state.argon2))
    })
    .await;
    match rendered {
        Ok(Ok(text)) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Ok(Err(e)) => {
            tracing::error!(error = %crate::error::error_chain(&e), "metrics failed");
            HttpResponse::InternalServerError().finish()
        }
        Err(e) => {
            tracing::error!(error = %e, "metrics failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
