//! Users (RFC 7643 §4.1 with the enterprise extension): reading a request body into the
//! canonical document, the rule every stored user meets, and the SCIM representation.
//! Bitwarden's membership semantics (`active: false` revokes, uniqueness of userName,
//! externalId and member email) are applied by the store on the documents made here.

use serde_json::{Map, Value, json};

use super::ScimError;
use super::etag::etag;
use super::resource::{invalid, read_resource};
use super::schema::{ENTERPRISE_USER_URN, USER, USER_URN};
use crate::directory::StoredUser;

/// Reads a POST/PUT body into a user document and checks the user rules.
pub(crate) fn read_user(body: &Value) -> Result<Map<String, Value>, ScimError> {
    let mut attrs = read_resource(body, &USER)?;
    attrs.entry("active").or_insert(Value::Bool(true));
    check_user(attrs)
}

/// The rule every stored user meets: a non-blank string `userName`. (`active` may be
/// unassigned after a PATCH removes it; the member then stays active.)
pub(crate) fn check_user(attrs: Map<String, Value>) -> Result<Map<String, Value>, ScimError> {
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
