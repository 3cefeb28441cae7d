//! `POST /Bulk` (RFC 7644 §3.7): many operations in one request, each applied atomically on
//! its own (one transaction each, exactly as if sent alone).
//!
//! `bulkId` lets an operation refer to a resource created earlier in the same request
//! (`"bulkId:qwerty"` in a path or anywhere in `data`, e.g. a group's member `value`). Forward
//! references are resolved by running an operation once everything it refers to has been
//! created; an operation whose reference cannot be resolved (unknown, failed, or circular)
//! fails with 409. `failOnErrors` stops processing after that many errors; operations not
//! reached are left out of the response.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::body::ScimBody;
use super::resources::{Endpoint, Groups, Users};
use super::{Ctx, Rendered, scim_json};
use crate::auth::ScimCaller;
use crate::scim::etag::{IfMatch, etag};
use crate::scim::patch::number_error;
use crate::scim::resource::{check_message_schema, get_ci, invalid};
use crate::scim::{ScimError, ScimType};
use crate::state::AppState;

/// Most operations in one bulk request (advertised as `bulk.maxOperations`).
pub const MAX_OPERATIONS: usize = 1000;

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
const PREFIX: &str = "bulkId:";

/// The largest bulk body accepted (advertised as `bulk.maxPayloadSize`): the body limit.
pub fn max_payload(state: &AppState) -> usize {
    state.max_body
}

/// `POST /Bulk`.
pub async fn bulk(
    caller: ScimCaller,
    state: web::Data<AppState>,
    body: ScimBody,
) -> Result<HttpResponse, ScimError> {
    let request = BulkRequest::parse(&body.json().await?)?;
    let results = Ctx::new(&state, &caller)
        .run(move |ctx| Ok(request.run(ctx)))
        .await?;
    Ok(scim_json(
        StatusCode::OK,
        &json!({ "schemas": [BULK_RESPONSE], "Operations": results }),
    ))
}

#[derive(Debug)]
struct BulkOp {
    method: Method,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Value,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug)]
struct BulkRequest {
    fail_on_errors: Option<u64>,
    operations: Vec<BulkOp>,
}

/// What became of one `bulkId` so far.
enum Created {
    Id(String),
    Failed,
}

impl BulkRequest {
    fn parse(body: &Value) -> Result<BulkRequest, ScimError> {
        let Some(fields) = body.as_object() else {
            return Err(invalid("A BulkRequest must be a JSON object.".into()));
        };
        let get = |name: &str| get_ci(fields, name);
        check_message_schema(get("schemas"), BULK_REQUEST, "A BulkRequest")?;
        let fail_on_errors = match get("failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
                invalid(format!("failOnErrors must be a positive integer, not {v}."))
            })?),
        };
        let Some(Value::Array(items)) = get("Operations") else {
            return Err(invalid(
                "A BulkRequest needs an \"Operations\" list.".into(),
            ));
        };
        if items.len() > MAX_OPERATIONS {
            return Err(ScimError::PayloadTooLarge(format!(
                "The bulk request has {} operations; at most {MAX_OPERATIONS} are accepted.",
                items.len()
            )));
        }
        let operations = items
            .iter()
            .enumerate()
            .map(|(i, item)| BulkOp::parse(item).map_err(|e| number_error(i + 1, e)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut seen = HashMap::new();
        for (i, op) in operations.iter().enumerate() {
            if let Some(id) = &op.bulk_id
                && seen.insert(id.as_str(), i).is_some()
            {
                return Err(invalid(format!(
                    "Operation {}: bulkId \"{id}\" is used twice.",
                    i + 1
                )));
            }
        }
        Ok(BulkRequest {
            fail_on_errors,
            operations,
        })
    }

    /// Runs the operations (each in its own transaction) and returns their results in
    /// request order.
    fn run(self, ctx: &Ctx) -> Vec<Value> {
        let defined: HashMap<&str, Method> = self
            .operations
            .iter()
            .filter_map(|op| op.bulk_id.as_deref().map(|id| (id, op.method)))
            .collect();
        let mut created: HashMap<String, Created> = HashMap::new();
        let mut results: Vec<Option<Value>> = vec![None; self.operations.len()];
        let mut pending: Vec<usize> = (0..self.operations.len()).collect();
        let mut errors = 0u64;
        let limit_reached = |errors: u64| self.fail_on_errors.is_some_and(|n| errors >= n);

        'rounds: while !pending.is_empty() {
            let mut deferred = Vec::new();
            let mut progressed = false;
            for &i in &pending {
                if limit_reached(errors) {
                    break 'rounds;
                }
                let op = &self.operations[i];
                let result = match resolve(op, &created, &defined) {
                    Resolution::Wait => {
                        deferred.push(i);
                        continue;
                    }
                    Resolution::Fail(e) => Err(e),
                    Resolution::Ready(path, data) => execute(ctx, op, &path, &data),
                };
                progressed = true;
                if let Some(id) = &op.bulk_id {
                    let outcome = match &result {
                        Ok((_, Some(r))) => r.resource["id"]
                            .as_str()
                            .map_or(Created::Failed, |id| Created::Id(id.to_owned())),
                        _ => Created::Failed,
                    };
                    created.insert(id.clone(), outcome);
                }
                if result.is_err() {
                    errors += 1;
                }
                results[i] = Some(response_entry(op, result));
            }
            if !progressed {
                // Every remaining operation waits on another remaining one: a cycle.
                for &i in &deferred {
                    if limit_reached(errors) {
                        break;
                    }
                    errors += 1;
                    results[i] = Some(response_entry(
                        &self.operations[i],
                        Err(conflict("its bulkId references form a cycle")),
                    ));
                }
                break;
            }
            pending = deferred;
        }
        results.into_iter().flatten().collect()
    }
}

impl BulkOp {
    fn parse(item: &Value) -> Result<BulkOp, ScimError> {
        let Some(fields) = item.as_object() else {
            return Err(invalid("an operation must be a JSON object.".into()));
        };
        let get = |name: &str| get_ci(fields, name).filter(|v| !v.is_null());
        let text = |name: &str| -> Result<Option<String>, ScimError> {
            match get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(v) => Err(invalid(format!("\"{name}\" must be a string, not {v}."))),
            }
        };
        let method = match text("method")?.map(|m| m.to_ascii_uppercase()).as_deref() {
            Some("POST") => Method::Post,
            Some("PUT") => Method::Put,
            Some("PATCH") => Method::Patch,
            Some("DELETE") => Method::Delete,
            Some(other) => {
                return Err(invalid(format!(
                    "method \"{other}\" is not one of POST, PUT, PATCH, DELETE."
                )));
            }
            None => return Err(invalid("\"method\" is required.".into())),
        };
        let path = text("path")?.ok_or_else(|| invalid("\"path\" is required.".into()))?;
        let bulk_id = text("bulkId")?;
        if method == Method::Post && bulk_id.as_deref().is_none_or(str::is_empty) {
            return Err(invalid("a POST needs a \"bulkId\".".into()));
        }
        let data = get("data").cloned().unwrap_or(Value::Null);
        if method != Method::Delete && !data.is_object() {
            return Err(invalid(format!(
                "a {} needs \"data\" (a JSON object).",
                method.as_str()
            )));
        }
        Ok(BulkOp {
            method,
            bulk_id,
            version: text("version")?,
            path,
            data,
        })
    }
}

enum Resolution {
    /// Refers to a bulkId whose operation has not run yet.
    Wait,
    Fail(ScimError),
    /// Path and data with every reference replaced by the created id.
    Ready(String, Value),
}

fn resolve(
    op: &BulkOp,
    created: &HashMap<String, Created>,
    defined: &HashMap<&str, Method>,
) -> Resolution {
    let mut wait = false;
    let mut failure = None;
    let mut substitute = |text: &str| -> Option<String> {
        let id = text.strip_prefix(PREFIX)?;
        match created.get(id) {
            Some(Created::Id(real)) => Some(real.clone()),
            Some(Created::Failed) => {
                failure.get_or_insert_with(|| {
                    conflict(&format!(
                        "bulkId \"{id}\" refers to an operation that failed"
                    ))
                });
                None
            }
            None if defined.get(id) == Some(&Method::Post) => {
                wait = true;
                None
            }
            None => {
                failure.get_or_insert_with(|| {
                    conflict(&format!(
                        "bulkId \"{id}\" is not created by any POST in this request"
                    ))
                });
                None
            }
        }
    };
    let path = op
        .path
        .split('/')
        .map(|segment| substitute(segment).unwrap_or_else(|| segment.to_owned()))
        .collect::<Vec<_>>()
        .join("/");
    let data = substitute_in(&op.data, &mut substitute);
    if let Some(e) = failure {
        Resolution::Fail(e)
    } else if wait {
        Resolution::Wait
    } else {
        Resolution::Ready(path, data)
    }
}

fn substitute_in(value: &Value, f: &mut impl FnMut(&str) -> Option<String>) -> Value {
    match value {
        Value::String(s) => f(s).map_or_else(|| value.clone(), Value::String),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute_in(v, f)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), substitute_in(v, f)))
                .collect::<Map<_, _>>(),
        ),
        _ => value.clone(),
    }
}

/// Runs one operation: its status, and the resource when there is one.
fn execute(
    ctx: &Ctx,
    op: &BulkOp,
    path: &str,
    data: &Value,
) -> Result<(StatusCode, Option<Rendered>), ScimError> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let if_match = IfMatch::from_version(op.version.as_deref());
    let endpoint = segments[0].to_ascii_lowercase();
    let bad_path = || {
        ScimError::bad_request(
            ScimType::InvalidPath,
            format!(
                "A bulk {} path must be {}, not \"{path}\".",
                op.method.as_str(),
                if op.method == Method::Post {
                    "/Users or /Groups"
                } else {
                    "/Users/{id} or /Groups/{id}"
                }
            ),
        )
    };
    match (op.method, endpoint.as_str(), &segments[1..]) {
        (Method::Post, "users", []) => {
            Ok((StatusCode::CREATED, Some(Users::create(ctx, data, false)?)))
        }
        (Method::Post, "groups", []) => {
            Ok((StatusCode::CREATED, Some(Groups::create(ctx, data, false)?)))
        }
        (Method::Put, "users", [id]) => Ok((
            StatusCode::OK,
            Some(Users::replace(ctx, id, data, &if_match, false)?),
        )),
        (Method::Put, "groups", [id]) => Ok((
            StatusCode::OK,
            Some(Groups::replace(ctx, id, data, &if_match, false)?),
        )),
        (Method::Patch, "users", [id]) => Ok((
            StatusCode::OK,
            Some(Users::patch(ctx, id, data, &if_match, false)?),
        )),
        (Method::Patch, "groups", [id]) => Ok((
            StatusCode::OK,
            Some(Groups::patch(ctx, id, data, &if_match, false)?),
        )),
        (Method::Delete, "users", [id]) => {
            Users::delete(ctx, id, &if_match)?;
            Ok((StatusCode::NO_CONTENT, None))
        }
        (Method::Delete, "groups", [id]) => {
            Groups::delete(ctx, id, &if_match)?;
            Ok((StatusCode::NO_CONTENT, None))
        }
        _ => Err(bad_path()),
    }
}

fn response_entry(op: &BulkOp, result: Result<(StatusCode, Option<Rendered>), ScimError>) -> Value {
    let mut entry = Map::new();
    entry.insert("method".into(), op.method.as_str().into());
    if let Some(id) = &op.bulk_id {
        entry.insert("bulkId".into(), id.clone().into());
    }
    match result {
        Ok((status, rendered)) => {
            if let Some(r) = rendered {
                if let Some(location) = r.resource["meta"]["location"].as_str() {
                    entry.insert("location".into(), location.into());
                }
                entry.insert("version".into(), etag(r.version).into());
            }
            entry.insert("status".into(), status.as_str().into());
        }
        Err(e) => {
            entry.insert("status".into(), e_status(&e).into());
            entry.insert("response".into(), e.body());
        }
    }
    Value::Object(entry)
}

fn e_status(e: &ScimError) -> String {
    use actix_web::ResponseError;
    e.status_code().as_str().to_owned()
}

fn conflict(why: &str) -> ScimError {
    ScimError::UnresolvedReference(format!("The operation cannot run: {why}."))
}
