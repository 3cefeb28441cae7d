//! The admin API's webhook endpoints (`/api/admin/orgs/{id}/webhooks…`, documented in
//! `docs/admin-api.md`): each parses its input, makes one call into [`crate::admin`] or the
//! store (or sends a test message), and renders JSON.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::AdminError;
use super::api::{Reply, State, blocking, ok_json, present};
use super::extract::{Admin, AdminJson};
use crate::admin;
use crate::store::{Actor, NewWebhook, WebhookChanges};
use crate::webhook;

pub async fn list(_admin: Admin, state: State, path: web::Path<String>) -> Reply {
    let org_id = path.into_inner();
    let webhooks = blocking(&state, move |s| {
        s.get_org(&org_id)?;
        Ok(s.list_webhooks(&org_id)?)
    })
    .await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({ "webhooks": webhooks, "event_types": webhook::EVENT_TYPES }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddBody {
    url: String,
    #[serde(default)]
    description: String,
    event_types: Option<Vec<String>>,
}

pub async fn add(
    _admin: Admin,
    state: State,
    path: web::Path<String>,
    body: AdminJson<AddBody>,
) -> Reply {
    let org_id = path.into_inner();
    let AddBody {
        url,
        description,
        event_types,
    } = body.0;
    let (endpoint, secret) = blocking(&state, move |s| {
        let new = NewWebhook {
            url: &url,
            description: &description,
            event_types: event_types.as_deref(),
        };
        Ok(admin::add_webhook(s, &org_id, new, Actor::Admin)?)
    })
    .await?;
    Ok(ok_json(
        StatusCode::CREATED,
        json!({ "webhook": endpoint, "secret": secret }),
    ))
}

pub async fn get(_admin: Admin, state: State, path: web::Path<(String, String)>) -> Reply {
    let (org_id, id) = path.into_inner();
    let endpoint = blocking(&state, move |s| Ok(s.get_webhook(&org_id, &id)?)).await?;
    Ok(ok_json(StatusCode::OK, json!(endpoint)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchBody {
    url: Option<String>,
    description: Option<String>,
    /// `null` subscribes to every type.
    #[serde(default, deserialize_with = "present")]
    event_types: Option<Option<Vec<String>>>,
    enabled: Option<bool>,
}

pub async fn patch(
    _admin: Admin,
    state: State,
    path: web::Path<(String, String)>,
    body: AdminJson<PatchBody>,
) -> Reply {
    let (org_id, id) = path.into_inner();
    let PatchBody {
        url,
        description,
        event_types,
        enabled,
    } = body.0;
    let changes = WebhookChanges {
        url,
        description,
        event_types,
        enabled,
    };
    let endpoint = blocking(&state, move |s| {
        Ok(s.update_webhook(&org_id, &id, &changes, Actor::Admin)?)
    })
    .await?;
    Ok(ok_json(StatusCode::OK, json!(endpoint)))
}

pub async fn remove(_admin: Admin, state: State, path: web::Path<(String, String)>) -> Reply {
    let (org_id, id) = path.into_inner();
    blocking(&state, move |s| {
        Ok(s.remove_webhook(&org_id, &id, Actor::Admin)?)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn rotate_secret(
    _admin: Admin,
    state: State,
    path: web::Path<(String, String)>,
) -> Reply {
    let (org_id, id) = path.into_inner();
    let (secret, until) = blocking(&state, move |s| {
        Ok(admin::rotate_webhook_secret(s, &org_id, &id, Actor::Admin)?)
    })
    .await?;
    Ok(ok_json(
        StatusCode::OK,
        json!({ "secret": secret, "previous_valid_until": until }),
    ))
}

/// Sends a `webhook.test` message at once and answers with the attempt (a receiver's failure
/// is a result to show, not an error of this request).
pub async fn test(_admin: Admin, state: State, path: web::Path<(String, String)>) -> Reply {
    let (org_id, id) = path.into_inner();
    let (message, report) = state
        .webhooks
        .send_test(&state.store, &org_id, &id)
        .await
        .map_err(|e| match e {
            crate::delivery::TestError::Store(e) => AdminError::from(e),
            other => AdminError::Internal(crate::error::error_chain(&other)),
        })?;
    Ok(ok_json(
        StatusCode::OK,
        json!({ "attempt": {
            "msg_id": message.msg_id,
            "type": message.msg_type,
            "attempt": 1,
            "outcome": report.outcome.name(),
            "status": report.status,
            "duration_ms": report.duration_ms,
            "detail": report.detail,
        }}),
    ))
}

pub async fn deliveries(_admin: Admin, state: State, path: web::Path<(String, String)>) -> Reply {
    let (org_id, id) = path.into_inner();
    let view = blocking(&state, move |s| Ok(s.webhook_deliveries(&org_id, &id)?)).await?;
    Ok(ok_json(StatusCode::OK, json!(view)))
}

/// `{}` retries every failed message and the head of the queue.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryBody {
    msg_id: Option<String>,
}

pub async fn retry(
    _admin: Admin,
    state: State,
    path: web::Path<(String, String)>,
    body: AdminJson<RetryBody>,
) -> Reply {
    let (org_id, id) = path.into_inner();
    let msg_id = body.0.msg_id;
    let retried = blocking(&state, move |s| {
        Ok(s.retry_webhook(&org_id, &id, msg_id.as_deref())?)
    })
    .await?;
    Ok(ok_json(StatusCode::OK, json!({ "retried": retried })))
}
