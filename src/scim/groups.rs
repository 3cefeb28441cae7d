//! Groups whose members are users of the same organization: reading request bodies, turning
//! membership PATCH operations into edits, and the SCIM representation.
//!
//! Membership never travels inside the stored document: requests are turned into
//! [`MemberEdit`]s applied to the join table, so a one-member change stays one statement.
//! Member ids that are not users of the organization are ignored, never an error (Okta treats
//! 400 as permanent and would drop the whole push).

use serde_json::{Map, Value, json};

use super::etag::etag;
use super::filter::{self, CompValue, CompareOp, Filter};
use super::patch::{OpKind, PatchOp, PatchRequest, number_error};
use super::resource::{invalid, read_resource, read_value};
use super::schema::{GROUP, GROUP_URN};
use super::{ScimError, ScimType};
use crate::directory::{Member, MemberEdit, MemberRef, StoredGroup};

/// A POST/PUT body read: the attributes, and the members when the body has a `members` key
/// (present but empty means "no members").
pub(crate) type GroupBody = (Map<String, Value>, Option<Vec<MemberRef>>);

/// Reads a POST/PUT body.
pub(crate) fn read_group(body: &Value) -> Result<GroupBody, ScimError> {
    let body = match body {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("members") {
                        display_name_as_display(v)
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    };
    let body = &body;
    let mut attrs = read_resource(body, &GROUP)?;
    let has_members = body
        .as_object()
        .is_some_and(|o| o.keys().any(|k| k.eq_ignore_ascii_case("members")));
    let members = attrs.remove("members");
    check_display_name(&attrs)?;
    let members = has_members
        .then(|| member_refs(members.as_ref()))
        .transpose()?;
    Ok((attrs, members))
}

pub(crate) fn check_display_name(attrs: &Map<String, Value>) -> Result<(), ScimError> {
    match attrs.get("displayName") {
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(()),
        Some(_) => Err(invalid("displayName must not be blank.".into())),
        None => Err(invalid("displayName is required.".into())),
    }
}

/// Microsoft's reference client names a member's `display` `displayName`; RFC 7643 has no
/// such member sub-attribute, so reading it as `display` loses nothing and keeps the name.
fn display_name_as_display(members: &Value) -> Value {
    let alias = |member: &Value| match member {
        Value::Object(fields) if !fields.keys().any(|k| k.eq_ignore_ascii_case("display")) => {
            Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let k = if k.eq_ignore_ascii_case("displayName") {
                            "display"
                        } else {
                            k
                        };
                        (k.to_owned(), v.clone())
                    })
                    .collect(),
            )
        }
        other => other.clone(),
    };
    match members {
        Value::Array(items) => Value::Array(items.iter().map(alias).collect()),
        other => alias(other),
    }
}

/// Member references from a read `members` value; every member needs a `value`.
fn member_refs(members: Option<&Value>) -> Result<Vec<MemberRef>, ScimError> {
    let Some(Value::Array(items)) = members else {
        return Ok(Vec::new());
    };
    items
        .iter()
        .map(|m| {
            let value = m.get("value").and_then(Value::as_str).ok_or_else(|| {
                invalid(format!(
                    "Every member needs a \"value\" (a user id); got {m}."
                ))
            })?;
            Ok(MemberRef {
                value: value.to_owned(),
                display: m.get("display").and_then(Value::as_str).map(str::to_owned),
            })
        })
        .collect()
}

/// Separates the operations that change membership from those that change attributes.
pub(crate) fn split_membership(
    request: &PatchRequest,
) -> Result<(PatchRequest, Vec<MemberEdit>), ScimError> {
    let members_attr = GROUP
        .schema
        .attribute("members")
        .ok_or_else(|| ScimError::Internal("the Group schema has no members attribute".into()))?;
    let mut attribute_ops = Vec::new();
    let mut edits = Vec::new();
    for (i, op) in request.operations.iter().enumerate() {
        let n = i + 1;
        let read_members = |value: Option<&Value>| -> Result<Vec<MemberRef>, ScimError> {
            let read = match value {
                Some(v) => read_value(members_attr, &display_name_as_display(v), "members")?,
                None => None,
            };
            member_refs(read.as_ref()).map_err(|e| number_error(n, e))
        };
        match (
            op.path.as_deref(),
            op.path.as_deref().and_then(members_path_rest),
        ) {
            (Some(path), Some(rest)) => {
                let rest = rest.trim();
                if rest.is_empty() {
                    edits.push(match op.kind {
                        OpKind::Add => MemberEdit::Add(read_members(op.value.as_ref())?),
                        OpKind::Replace => MemberEdit::Replace(read_members(op.value.as_ref())?),
                        OpKind::Remove => match op.value.as_ref().filter(|v| !v.is_null()) {
                            None => MemberEdit::RemoveAll,
                            Some(v) => MemberEdit::Remove(
                                read_members(Some(v))?
                                    .into_iter()
                                    .map(|m| m.value)
                                    .collect(),
                            ),
                        },
                    });
                } else if let Some(filter_text) =
                    rest.strip_prefix('[').and_then(|r| r.strip_suffix(']'))
                {
                    let filter = filter::parse(filter_text).map_err(|e| {
                        number_error(
                            n,
                            ScimError::bad_request(
                                ScimType::InvalidPath,
                                format!("The path \"{path}\" has a bad filter: {}", e.0),
                            ),
                        )
                    })?;
                    edits.push(
                        filtered_edit(op.kind, filter, members_attr)
                            .map_err(|e| number_error(n, e))?,
                    );
                } else {
                    return Err(number_error(
                        n,
                        ScimError::bad_request(
                            ScimType::InvalidPath,
                            format!(
                                "The path \"{path}\" is not supported; use \"members\" or members[value eq \"<id>\"]."
                            ),
                        ),
                    ));
                }
            }
            (None, _) if op.kind != OpKind::Remove => {
                // Okta: {"op":"replace","value":{"id":…,"displayName":…}}; a no-path value may
                // also carry members.
                let Some(fields) = op.value.as_ref().and_then(Value::as_object) else {
                    attribute_ops.push(op.clone());
                    continue;
                };
                let mut rest = Map::new();
                for (key, value) in fields {
                    if key.eq_ignore_ascii_case("members") {
                        let members = read_members(Some(value))?;
                        edits.push(match op.kind {
                            OpKind::Replace => MemberEdit::Replace(members),
                            _ => MemberEdit::Add(members),
                        });
                    } else {
                        rest.insert(key.clone(), value.clone());
                    }
                }
                attribute_ops.push(PatchOp {
                    value: Some(Value::Object(rest)),
                    ..op.clone()
                });
            }
            _ => attribute_ops.push(op.clone()),
        }
    }
    Ok((
        PatchRequest {
            operations: attribute_ops,
        },
        edits,
    ))
}

/// What follows `members` in a PATCH path (`members`, `members[…]`, either optionally
/// URN-qualified), or `None` when the path names another attribute.
fn members_path_rest(path: &str) -> Option<&str> {
    let path = path
        .get(..GROUP_URN.len() + 1)
        .filter(|p| p.eq_ignore_ascii_case(&format!("{GROUP_URN}:")))
        .map_or(path, |_| &path[GROUP_URN.len() + 1..]);
    let rest = path
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("members"))
        .map(|_| &path[7..])?;
    matches!(rest.as_bytes().first(), None | Some(b'[') | Some(b' ')).then_some(rest)
}

/// `members[value eq "id"]` (optionally several joined by `or`) names the ids directly; any
/// other filter is evaluated against the current members inside the transaction.
fn filtered_edit(
    kind: OpKind,
    filter: Filter,
    members_attr: &'static super::schema::Attribute,
) -> Result<MemberEdit, ScimError> {
    match (kind, member_ids_named_by(&filter)) {
        (OpKind::Remove, Some(ids)) => Ok(MemberEdit::Remove(ids)),
        (OpKind::Add | OpKind::Replace, Some(ids)) => Ok(MemberEdit::Add(
            ids.into_iter()
                .map(|value| MemberRef {
                    value,
                    display: None,
                })
                .collect(),
        )),
        (OpKind::Remove, None) => {
            // Validate the filter once against an empty member so errors surface as 400 now.
            filter::matches_element(&filter, members_attr, &json!({}))
                .map_err(|e| ScimError::bad_request(ScimType::InvalidFilter, e.0))?;
            Ok(MemberEdit::RemoveWhere(Box::new(move |m: &Member| {
                let element = json!({"value": m.user_id, "display": m.display, "type": "User"});
                filter::matches_element(&filter, members_attr, &element).unwrap_or(false)
            })))
        }
        (_, None) => Err(ScimError::bad_request(
            ScimType::InvalidPath,
            "Adding members through a filter needs members[value eq \"<id>\"].",
        )),
    }
}

fn member_ids_named_by(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(id),
        } if path.sub.is_none()
            && path.urn.is_none()
            && path.attr.eq_ignore_ascii_case("value") =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = member_ids_named_by(a)?;
            ids.extend(member_ids_named_by(b)?);
            Some(ids)
        }
        _ => None,
    }
}

/// The full SCIM representation of a group (members only when they were loaded).
pub fn render(group: &StoredGroup, base_url: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_URN]));
    out.insert("id".into(), json!(group.id));
    for (k, v) in &group.attrs {
        out.insert(k.clone(), v.clone());
    }
    if let Some(members) = &group.members
        && !members.is_empty()
    {
        let members: Vec<Value> = members
            .iter()
            .map(|m| {
                json!({
                    "value": m.user_id,
                    "$ref": format!("{base_url}/Users/{}", m.user_id),
                    "display": m.display,
                    "type": "User",
                })
            })
            .collect();
        out.insert("members".into(), Value::Array(members));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": group.created_at,
            "lastModified": group.updated_at,
            "location": format!("{base_url}/Groups/{}", group.id),
            "version": etag(group.version),
        }),
    );
    Value::Object(out)
}
