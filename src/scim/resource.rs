//! Reading SCIM resources from clients into canonical documents, and rendering them back.
//!
//! Reading is tolerant in the ways real identity providers need (see
//! `shared/reference/idp-quirks.md` §9) and strict about everything else:
//! attribute names match case-insensitively and are stored with the schema's spelling;
//! `"True"`/`"false"` strings are booleans; `null` means unassigned; a single object where a
//! list is expected is a one-element list; `id`, `meta`, `groups` and other read-only
//! attributes are ignored; `password` is accepted and dropped; unknown attributes and legacy
//! schema URNs are ignored. Wrong types are 400 `invalidValue` naming the attribute.

use serde_json::{Map, Value};

use super::schema::{AttrType, Attribute, Mutability, ResourceType, Schema};
use super::{ScimError, ScimType};

/// Most values one multi-valued attribute may hold in a request (groups' `members` excepted).
pub const MAX_MULTI_VALUES: usize = 100;

/// Most members one group request may carry.
pub const MAX_MEMBERS_PER_REQUEST: usize = 50_000;

/// Longest identifier-like string accepted (`userName`, `externalId`, `displayName`, email
/// values), in characters: they are indexed, compared and shown in lists.
pub const MAX_NAME_CHARS: usize = 1024;
/// Longest value of any other string attribute, in bytes (room for a certificate or a photo URL).
pub const MAX_STRING_BYTES: usize = 16 * 1024;

/// Extension URNs some clients send in place of the real one.
const ENTERPRISE_ALIASES: &[&str] = &[
    "urn:scim:schemas:extension:enterprise:2.0",
    "urn:scim:schemas:extension:enterprise:1.0",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0User",
];

/// Reads a full resource body (POST, PUT) into a canonical document: core attributes and
/// `externalId` at the top level in schema order, extension attributes under their URN.
/// Required attributes are checked by the caller's resource-specific rules.
pub fn read_resource(
    body: &Value,
    rt: &'static ResourceType,
) -> Result<Map<String, Value>, ScimError> {
    let Some(object) = body.as_object() else {
        return Err(ScimError::bad_request(
            ScimType::InvalidSyntax,
            "The request body must be a JSON object.",
        ));
    };
    let mut doc = Map::new();
    for (key, value) in object {
        if let Some(ext) = extension_for_key(rt, key) {
            let ext_doc = match value {
                Value::Null => None,
                Value::Object(fields) => read_attributes(ext, fields, ext.id)?,
                _ => {
                    return Err(invalid(format!(
                        "The extension \"{}\" must be a JSON object.",
                        ext.id
                    )));
                }
            };
            if let Some(ext_doc) = ext_doc {
                doc.insert(ext.id.to_owned(), Value::Object(ext_doc));
            }
            continue;
        }
        let Some(target) = rt.resolve(key) else {
            continue; // unknown attributes are ignored (RFC 7644 §3.3 allows it; clients rely on it)
        };
        if target.sub.is_some() || target.extension(rt).is_some() {
            // A flat `name.givenName` or URN-qualified key in a body: honour it.
            set_value(&mut doc, rt, key, value)?;
            continue;
        }
        if target.is_common() && target.attr.name != "externalId" || !writable(target.attr) {
            continue; // id, meta, groups: read-only; password: write-only, never stored
        }
        if let Some(v) = read_value(target.attr, value, target.attr.name)? {
            doc.insert(target.attr.name.to_owned(), v);
        } else {
            doc.remove(target.attr.name);
        }
    }
    Ok(canonical_order(rt, doc))
}

/// Sets one attribute given by a path such as `name.givenName` or
/// `urn:…:enterprise:2.0:User:department` (PATCH with dotted or URN keys, Entra's
/// `aadOptscim062020` mode). Read-only and unknown paths are ignored, like in bodies.
pub fn set_value(
    doc: &mut Map<String, Value>,
    rt: &'static ResourceType,
    path: &str,
    value: &Value,
) -> Result<(), ScimError> {
    let Some(target) = rt.resolve(path) else {
        return Ok(());
    };
    if target.is_common() && target.attr.name != "externalId" {
        return Ok(());
    }
    let container = match target.extension(rt) {
        Some(ext) => doc
            .entry(ext.id)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| invalid(format!("The extension \"{}\" is not an object.", ext.id)))?,
        None => doc,
    };
    let leaf = target.leaf();
    if !writable(leaf) || !writable(target.attr) {
        return Ok(());
    }
    let read = read_value(leaf, value, path)?;
    match target.sub {
        None => match read {
            Some(v) => {
                container.insert(target.attr.name.to_owned(), v);
            }
            None => {
                container.remove(target.attr.name);
            }
        },
        Some(sub) => {
            let parent = container
                .entry(target.attr.name)
                .or_insert_with(|| Value::Object(Map::new()));
            let Some(parent) = parent.as_object_mut() else {
                return Err(invalid(format!(
                    "\"{path}\" cannot be set: \"{}\" is multi-valued; use a value filter.",
                    target.attr.name
                )));
            };
            match read {
                Some(v) => {
                    parent.insert(sub.name.to_owned(), v);
                }
                None => {
                    parent.remove(sub.name);
                }
            }
            if parent.is_empty() {
                container.remove(target.attr.name);
            }
        }
    }
    Ok(())
}

/// Re-orders a document's attributes in schema order (stable, readable output) and drops
/// empty extension objects.
pub fn canonical_order(
    rt: &'static ResourceType,
    mut doc: Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(v) = doc.remove("externalId") {
        out.insert("externalId".to_owned(), v);
    }
    for attr in rt.schema.attributes {
        if let Some(v) = doc.remove(attr.name) {
            out.insert(attr.name.to_owned(), order_value(attr, v));
        }
    }
    for ext in rt.extensions {
        if let Some(Value::Object(fields)) = doc.remove(ext.id) {
            let mut ordered = Map::new();
            let mut fields = fields;
            for attr in ext.attributes {
                if let Some(v) = fields.remove(attr.name) {
                    ordered.insert(attr.name.to_owned(), order_value(attr, v));
                }
            }
            if !ordered.is_empty() {
                out.insert(ext.id.to_owned(), Value::Object(ordered));
            }
        }
    }
    out
}

fn order_value(attr: &Attribute, value: Value) -> Value {
    if attr.kind != AttrType::Complex {
        return value;
    }
    let order_object = |v: Value| match v {
        Value::Object(mut fields) => {
            let mut ordered = Map::new();
            for sub in attr.sub_attributes {
                if let Some(x) = fields.remove(sub.name) {
                    ordered.insert(sub.name.to_owned(), x);
                }
            }
            Value::Object(ordered)
        }
        other => other,
    };
    match value {
        Value::Array(items) => Value::Array(items.into_iter().map(order_object).collect()),
        other => order_object(other),
    }
}

fn extension_for_key(rt: &'static ResourceType, key: &str) -> Option<&'static Schema> {
    rt.extension(key).or_else(|| {
        ENTERPRISE_ALIASES
            .iter()
            .any(|alias| alias.eq_ignore_ascii_case(key))
            .then(|| rt.extension(super::schema::ENTERPRISE_USER_URN))
            .flatten()
    })
}

/// Reads the attributes of one schema from a JSON object (an extension's body).
fn read_attributes(
    schema: &'static Schema,
    fields: &Map<String, Value>,
    context: &str,
) -> Result<Option<Map<String, Value>>, ScimError> {
    let mut out = Map::new();
    for (key, value) in fields {
        let Some(attr) = schema.attribute(key) else {
            continue;
        };
        if !writable(attr) {
            continue;
        }
        let path = format!("{context}:{}", attr.name);
        match read_value(attr, value, &path)? {
            Some(v) => {
                out.insert(attr.name.to_owned(), v);
            }
            None => {
                out.remove(attr.name);
            }
        }
    }
    Ok((!out.is_empty()).then_some(out))
}

fn writable(attr: &Attribute) -> bool {
    !matches!(
        attr.mutability,
        Mutability::ReadOnly | Mutability::WriteOnly
    )
}

/// Reads one attribute value; `None` means unassigned (null, empty list, empty object).
pub fn read_value(attr: &Attribute, value: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        if items.len() > MAX_MULTI_VALUES && attr.name != "members" {
            return Err(invalid(format!(
                "\"{path}\" has {} values; at most {MAX_MULTI_VALUES} are accepted.",
                items.len()
            )));
        }
        if items.len() > MAX_MEMBERS_PER_REQUEST {
            return Err(invalid(format!(
                "\"{path}\" has {} values; at most {MAX_MEMBERS_PER_REQUEST} are accepted.",
                items.len()
            )));
        }
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = read_single(attr, item, path)? {
                out.push(v);
            }
        }
        if attr.kind == AttrType::Complex {
            let primaries = out
                .iter()
                .filter(|v| v.get("primary") == Some(&Value::Bool(true)))
                .count();
            if primaries > 1 {
                return Err(invalid(format!(
                    "\"{path}\" has {primaries} values marked primary; at most one may be."
                )));
            }
        }
        return Ok((!out.is_empty()).then_some(Value::Array(out)));
    }
    if value.is_array() {
        return Err(invalid(format!(
            "\"{path}\" takes a single value, not a list."
        )));
    }
    read_single(attr, value, path)
}

/// Reads one (non-list) value of `attr`.
fn read_single(attr: &Attribute, value: &Value, path: &str) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    match attr.kind {
        AttrType::Complex => {
            let fields = match value {
                Value::Object(fields) => fields,
                // Entra sends the enterprise manager as a plain id; a bare member id is a member.
                Value::String(_) if attr.sub("value").is_some() => {
                    return read_single(attr, &serde_json::json!({ "value": value }), path);
                }
                _ => {
                    return Err(invalid(format!("\"{path}\" must be a JSON object.")));
                }
            };
            let mut out = Map::new();
            for (key, v) in fields {
                let Some(sub) = attr.sub(key) else {
                    continue;
                };
                if sub.mutability == Mutability::ReadOnly && attr.mutability != Mutability::ReadOnly
                {
                    continue;
                }
                let sub_path = format!("{path}.{}", sub.name);
                if let Some(v) = read_single(sub, v, &sub_path)? {
                    out.insert(sub.name.to_owned(), v);
                }
            }
            Ok((!out.is_empty()).then_some(Value::Object(out)))
        }
        AttrType::Boolean => match value {
            Value::Bool(b) => Ok(Some(Value::Bool(*b))),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Value::Bool(true))),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Value::Bool(false))),
            _ => Err(invalid(format!(
                "\"{path}\" must be a boolean (true or false), not {value}."
            ))),
        },
        AttrType::Integer => match value.as_i64() {
            Some(n) => Ok(Some(Value::from(n))),
            None => Err(invalid(format!("\"{path}\" must be an integer."))),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            _ => Err(invalid(format!("\"{path}\" must be a number."))),
        },
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime => {
            match value {
                Value::String(s) => {
                    check_length(path, s)?;
                    Ok(Some(Value::String(s.clone())))
                }
                _ => Err(invalid(format!(
                    "\"{path}\" must be a string, not {}.",
                    kind_of(value)
                ))),
            }
        }
    }
}

/// Refuses strings longer than the limits above; `path` names the attribute as sent.
fn check_length(path: &str, s: &str) -> Result<(), ScimError> {
    let leaf = path.rsplit(['.', ':']).next().unwrap_or(path);
    let name_like = ["userName", "externalId", "displayName"]
        .iter()
        .any(|n| n.eq_ignore_ascii_case(path))
        || (path.to_ascii_lowercase().starts_with("emails") && leaf.eq_ignore_ascii_case("value"));
    if name_like && s.chars().count() > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "\"{path}\" is {} characters long; at most {MAX_NAME_CHARS} are accepted.",
            s.chars().count()
        )));
    }
    if s.len() > MAX_STRING_BYTES {
        return Err(invalid(format!(
            "\"{path}\" is {} bytes long; at most {MAX_STRING_BYTES} are accepted.",
            s.len()
        )));
    }
    Ok(())
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A case-insensitive lookup of a member of a JSON object (exact spelling first).
pub(crate) fn get_ci<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A protocol message's `schemas`, when it is a list, must name the message's URN
/// (`what` is the message, e.g. "A BulkRequest").
pub(crate) fn check_message_schema(
    schemas: Option<&Value>,
    urn: &str,
    what: &str,
) -> Result<(), ScimError> {
    match schemas.and_then(Value::as_array) {
        Some(list)
            if !list
                .iter()
                .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn))) =>
        {
            Err(invalid(format!("{what}'s schemas must include \"{urn}\".")))
        }
        _ => Ok(()),
    }
}

pub(crate) fn invalid(detail: String) -> ScimError {
    ScimError::bad_request(ScimType::InvalidValue, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;
    use serde_json::json;

    fn read(body: Value) -> Result<Value, ScimError> {
        read_resource(&body, &USER).map(Value::Object)
    }

    #[test]
    fn names_are_canonicalised_and_read_only_attributes_dropped() {
        let doc = read(json!({
            "schemas": ["urn:scim:schemas:core:1.0"],
            "id": "client-chosen", "meta": {"resourceType": "User"}, "groups": [],
            "UserName": "Bob", "password": "secret", "adreses": "typo",
            "Emails": [{"Value": "b@x.org", "Primary": "True", "TYPE": "work"}],
            "name": {"GivenName": "Bob", "familyName": ""},
            "externalID": "ext-1",
        }))
        .unwrap();
        assert_eq!(
            doc,
            json!({
                "externalId": "ext-1",
                "userName": "Bob",
                "name": {"familyName": "", "givenName": "Bob"},
                "emails": [{"value": "b@x.org", "type": "work", "primary": true}],
            })
        );
    }

    #[test]
    fn tolerated_shapes_are_read() {
        let doc = read(json!({
            "userName": "u", "active": "False",
            "emails": {"value": "one@x.org"},
            "addresses": null,
            "urn:scim:schemas:extension:enterprise:2.0": {"Department": "Ops", "manager": "123"},
        }))
        .unwrap();
        assert_eq!(doc["active"], false);
        assert_eq!(doc["emails"], json!([{"value": "one@x.org"}]));
        assert!(doc.get("addresses").is_none());
        let ext = &doc["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(
            ext,
            &json!({"department": "Ops", "manager": {"value": "123"}})
        );
    }

    #[test]
    fn wrong_types_are_invalid_values_naming_the_attribute() {
        for (body, needle) in [
            (json!({"userName": "u", "active": 3}), "active"),
            (json!({"userName": 5}), "userName"),
            (json!({"userName": {"a": 1}}), "userName"),
            (json!({"userName": "u", "name": "Bob"}), "name"),
            (
                json!({"userName": "u", "displayName": ["a"]}),
                "displayName",
            ),
            (
                json!({"userName": "u", "emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
                "primary",
            ),
        ] {
            let err = read(body).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
            assert!(matches!(
                err,
                ScimError::BadRequest {
                    scim_type: Some(ScimType::InvalidValue),
                    ..
                }
            ));
        }
        assert!(matches!(
            read(json!([1, 2])).unwrap_err(),
            ScimError::BadRequest {
                scim_type: Some(ScimType::InvalidSyntax),
                ..
            }
        ));
    }

    #[test]
    fn dotted_and_urn_paths_set_nested_values() {
        let mut doc = Map::new();
        set_value(&mut doc, &USER, "name.givenName", &json!("Kkom")).unwrap();
        set_value(
            &mut doc,
            &USER,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            &json!("Aklq"),
        )
        .unwrap();
        set_value(&mut doc, &USER, "id", &json!("ignored")).unwrap();
        assert_eq!(
            Value::Object(doc),
            json!({
                "name": {"givenName": "Kkom"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "Aklq"}
            })
        );
    }
}
