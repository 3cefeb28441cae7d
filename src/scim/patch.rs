//! PATCH (RFC 7644 §3.5.2) applied to a canonical resource document in memory.
//!
//! The caller runs [`PatchRequest::apply`] inside the store's write transaction on the current
//! document, so a request's operations land together or not at all. Every form identity
//! providers send is understood (`shared/reference/idp-quirks.md`): op names in any case;
//! paths to attributes, sub-attributes, URN-qualified extension attributes and value filters
//! (`emails[type eq "work"].value`); no-path operations whose value object uses dotted or URN
//! keys; `id`, `meta`, `schemas` and `groups` inside values are ignored.
//!
//! A value-filtered `add`/`replace` that matches nothing, with a filter made only of `eq`
//! comparisons joined by `and` (Entra's `emails[type eq "work"].value`), creates the element
//! the filter describes instead of failing: that is what the client means.

use serde_json::{Map, Value};

use super::filter::{self, CompValue, CompareOp, Filter};
use super::resource::{canonical_order, get_ci, invalid, read_value, set_value};
use super::schema::{AttrRef, AttrType, Attribute, Mutability, ResourceType, Schema};
use super::{ScimError, ScimType};

/// Most operations one PATCH request may carry.
pub const MAX_OPERATIONS: usize = 1000;

/// The three PATCH operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// One operation as sent.
#[derive(Clone, Debug)]
pub struct PatchOp {
    pub kind: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// A parsed PatchOp request body.
#[derive(Clone, Debug)]
pub struct PatchRequest {
    pub operations: Vec<PatchOp>,
}

impl PatchRequest {
    /// Parses `{"schemas":[…PatchOp], "Operations":[{op, path, value}, …]}`; member names are
    /// case-insensitive and unknown members of an operation (Microsoft sends `name`) ignored.
    pub fn parse(body: &Value) -> Result<PatchRequest, ScimError> {
        let Some(object) = body.as_object() else {
            return Err(syntax("The PATCH body must be a JSON object."));
        };
        let operations = get_ci(object, "Operations")
            .ok_or_else(|| syntax("The PATCH body needs an \"Operations\" list."))?;
        let Some(operations) = operations.as_array() else {
            return Err(syntax("\"Operations\" must be a list."));
        };
        if operations.is_empty() {
            return Err(syntax("\"Operations\" must not be empty."));
        }
        if operations.len() > MAX_OPERATIONS {
            return Err(syntax(format!(
                "A PATCH request may carry at most {MAX_OPERATIONS} operations, not {}.",
                operations.len()
            )));
        }
        let operations = operations
            .iter()
            .enumerate()
            .map(|(i, op)| parse_op(i + 1, op))
            .collect::<Result<_, _>>()?;
        Ok(PatchRequest { operations })
    }

    /// Applies every operation in order to `doc` and returns the result in canonical order.
    pub fn apply(
        &self,
        rt: &'static ResourceType,
        mut doc: Map<String, Value>,
    ) -> Result<Map<String, Value>, ScimError> {
        for (i, op) in self.operations.iter().enumerate() {
            apply_op(rt, &mut doc, op).map_err(|e| number_error(i + 1, e))?;
        }
        Ok(canonical_order(rt, doc))
    }
}

fn parse_op(n: usize, op: &Value) -> Result<PatchOp, ScimError> {
    let Some(op) = op.as_object() else {
        return Err(syntax(format!("Operation {n} must be a JSON object.")));
    };
    let kind = match get_ci(op, "op").and_then(Value::as_str) {
        Some(k) if k.eq_ignore_ascii_case("add") => OpKind::Add,
        Some(k) if k.eq_ignore_ascii_case("remove") => OpKind::Remove,
        Some(k) if k.eq_ignore_ascii_case("replace") => OpKind::Replace,
        Some(k) => {
            return Err(syntax(format!(
                "Operation {n} has the unknown op \"{k}\"; use add, remove or replace."
            )));
        }
        None => return Err(syntax(format!("Operation {n} needs an \"op\" string."))),
    };
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.trim().is_empty() => None,
        Some(Value::String(p)) => Some(p.trim().to_owned()),
        Some(_) => {
            return Err(ScimError::bad_request(
                ScimType::InvalidPath,
                format!("Operation {n}: \"path\" must be a string."),
            ));
        }
    };
    let value = get_ci(op, "value").cloned();
    // Bitwarden adds one member with `{"op":"add","path":"members[value eq \"<id>\"]"}` and no
    // value: a value path that describes its element needs none.
    let describes_element =
        kind == OpKind::Add && path.as_deref().is_some_and(|p| p.ends_with(']'));
    if kind != OpKind::Remove && value.is_none() && !describes_element {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("Operation {n} ({}) needs a \"value\".", kind.name()),
        ));
    }
    Ok(PatchOp { kind, path, value })
}

/// Where an operation's path points.
pub enum Target {
    /// A whole extension object, e.g. `urn:…:enterprise:2.0:User`.
    Extension(&'static Schema),
    /// An attribute or sub-attribute, e.g. `name.givenName`.
    Attr(AttrRef),
    /// Elements of a multi-valued complex attribute selected by a filter, optionally one of
    /// their sub-attributes: `emails[type eq "work"].value`.
    Filtered {
        at: AttrRef,
        filter: Filter,
        sub: Option<&'static Attribute>,
    },
}

/// Parses a PATCH path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`).
pub fn parse_path(rt: &'static ResourceType, path: &str) -> Result<Target, ScimError> {
    if let Some(ext) = rt.extension(path) {
        return Ok(Target::Extension(ext));
    }
    let bad = |why: &str| {
        ScimError::bad_request(ScimType::InvalidPath, format!("The path \"{path}\" {why}."))
    };
    let Some(open) = path.find('[') else {
        return rt
            .resolve(path)
            .map(Target::Attr)
            .ok_or_else(|| bad("names no attribute of this resource"));
    };
    let close = path
        .rfind(']')
        .filter(|&c| c > open)
        .ok_or_else(|| bad("has an unclosed \"[\""))?;
    let at = rt
        .resolve(&path[..open])
        .filter(|a| a.sub.is_none())
        .ok_or_else(|| bad("names no attribute of this resource"))?;
    if !(at.attr.multi_valued && at.attr.kind == AttrType::Complex) {
        return Err(bad(
            "filters an attribute that is not a list of complex values",
        ));
    }
    let filter = filter::parse(&path[open + 1..close]).map_err(|e| {
        ScimError::bad_request(
            ScimType::InvalidPath,
            format!("The path \"{path}\" has a bad filter: {}", e.0),
        )
    })?;
    let sub = match &path[close + 1..] {
        "" => None,
        rest => {
            let name = rest
                .strip_prefix('.')
                .ok_or_else(|| bad("has text after \"]\""))?;
            Some(
                at.attr
                    .sub(name)
                    .ok_or_else(|| bad("names an unknown sub-attribute"))?,
            )
        }
    };
    Ok(Target::Filtered { at, filter, sub })
}

fn apply_op(
    rt: &'static ResourceType,
    doc: &mut Map<String, Value>,
    op: &PatchOp,
) -> Result<(), ScimError> {
    let Some(path) = &op.path else {
        return apply_without_path(rt, doc, op);
    };
    let target = parse_path(rt, path)?;
    match target {
        Target::Extension(ext) => match op.kind {
            OpKind::Remove => {
                doc.remove(ext.id);
                Ok(())
            }
            OpKind::Add | OpKind::Replace => {
                let value = op.value.as_ref().unwrap_or(&Value::Null);
                let Some(fields) = value.as_object() else {
                    return Err(invalid(format!(
                        "The value for \"{path}\" must be a JSON object."
                    )));
                };
                for (key, v) in fields {
                    if key.eq_ignore_ascii_case("schemas") {
                        continue;
                    }
                    set_value(doc, rt, &format!("{}:{key}", ext.id), v)?;
                }
                Ok(())
            }
        },
        Target::Attr(at) => apply_to_attr(rt, doc, op.kind, op.value.as_ref(), path, at),
        Target::Filtered { at, filter, sub } => apply_filtered(rt, doc, op, path, at, &filter, sub),
    }
}

/// No path: the value is an object of attributes (dotted and URN keys allowed) to add or
/// replace; `remove` needs a path.
fn apply_without_path(
    rt: &'static ResourceType,
    doc: &mut Map<String, Value>,
    op: &PatchOp,
) -> Result<(), ScimError> {
    if op.kind == OpKind::Remove {
        return Err(ScimError::bad_request(
            ScimType::NoTarget,
            "A remove operation needs a \"path\".",
        ));
    }
    let Some(fields) = op.value.as_ref().and_then(Value::as_object) else {
        return Err(invalid(
            "Without a \"path\", the value must be a JSON object of attributes.".into(),
        ));
    };
    for (key, value) in fields {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = rt.extension(key) {
            let patch = PatchOp {
                kind: op.kind,
                path: Some(ext.id.to_owned()),
                value: Some(value.clone()),
            };
            apply_op(rt, doc, &patch)?;
            continue;
        }
        match rt.resolve(key) {
            // id, meta, groups and unknown keys inside a value are ignored (Okta sends id).
            None => continue,
            Some(at) if at.is_common() && at.attr.name != "externalId" => continue,
            Some(at) if !writable(at.attr) || !writable(at.leaf()) => continue,
            Some(at) => apply_to_attr(rt, doc, op.kind, Some(value), key, at)?,
        }
    }
    Ok(())
}

fn apply_to_attr(
    rt: &'static ResourceType,
    doc: &mut Map<String, Value>,
    kind: OpKind,
    value: Option<&Value>,
    path: &str,
    at: AttrRef,
) -> Result<(), ScimError> {
    if at.leaf().mutability == Mutability::WriteOnly || at.attr.mutability == Mutability::WriteOnly
    {
        return Ok(()); // a password: accepted, never stored
    }
    if at.is_common() && at.attr.name != "externalId" || !writable(at.attr) || !writable(at.leaf())
    {
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            format!("\"{path}\" is read-only."),
        ));
    }
    let container = container_mut(rt, doc, &at)?;
    let name = at.attr.name;
    match (kind, at.sub) {
        (OpKind::Remove, None) => {
            match (value, at.attr.multi_valued) {
                // Entra and JumpCloud: remove the listed values from a list.
                (Some(listed), true) if !listed.is_null() => {
                    let listed = read_value(at.attr, listed, path)?.unwrap_or(Value::Array(vec![]));
                    let listed = listed.as_array().cloned().unwrap_or_default();
                    if let Some(Value::Array(items)) = container.get_mut(name) {
                        items.retain(|item| !listed.iter().any(|l| same_element(l, item)));
                        if items.is_empty() {
                            container.remove(name);
                        }
                    }
                }
                _ => {
                    container.remove(name);
                }
            }
        }
        (OpKind::Remove, Some(sub)) => match container.get_mut(name) {
            Some(Value::Object(fields)) => {
                fields.remove(sub.name);
                if fields.is_empty() {
                    container.remove(name);
                }
            }
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(fields) = item {
                        fields.remove(sub.name);
                    }
                }
                items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
                if items.is_empty() {
                    container.remove(name);
                }
            }
            _ => {}
        },
        (_, Some(sub)) => {
            if at.attr.multi_valued {
                return Err(ScimError::bad_request(
                    ScimType::InvalidPath,
                    format!(
                        "\"{path}\" is inside a list; select the element with a filter such as {name}[type eq \"work\"].{}.",
                        sub.name
                    ),
                ));
            }
            let value = value.unwrap_or(&Value::Null);
            let read = read_value(sub, value, path)?;
            let parent = container
                .entry(name)
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(fields) = parent {
                match read {
                    Some(v) => {
                        fields.insert(sub.name.to_owned(), v);
                    }
                    None => {
                        fields.remove(sub.name);
                    }
                }
                if fields.is_empty() {
                    container.remove(name);
                }
            }
        }
        (kind, None) => {
            let value = value.unwrap_or(&Value::Null);
            let read = read_value(at.attr, value, path)?;
            let Some(read) = read else {
                container.remove(name);
                return Ok(());
            };
            if at.attr.multi_valued && kind == OpKind::Add {
                let mut items = match container.remove(name) {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                for new in read.as_array().cloned().unwrap_or_default() {
                    if new.get("primary") == Some(&Value::Bool(true)) {
                        clear_primary(&mut items);
                    }
                    if !items.iter().any(|i| i == &new) {
                        items.push(new);
                    }
                }
                container.insert(name.to_owned(), Value::Array(items));
            } else if at.attr.kind == AttrType::Complex && !at.attr.multi_valued {
                // Sub-attributes not given are left unchanged (RFC 7644 §3.5.2.1, §3.5.2.3).
                let merged = match (container.remove(name), read) {
                    (Some(Value::Object(mut old)), Value::Object(new)) => {
                        old.extend(new);
                        Value::Object(old)
                    }
                    (_, new) => new,
                };
                container.insert(name.to_owned(), merged);
            } else {
                container.insert(name.to_owned(), read);
            }
        }
    }
    Ok(())
}

fn apply_filtered(
    rt: &'static ResourceType,
    doc: &mut Map<String, Value>,
    op: &PatchOp,
    path: &str,
    at: AttrRef,
    filter: &Filter,
    sub: Option<&'static Attribute>,
) -> Result<(), ScimError> {
    if !writable(at.attr) || sub.is_some_and(|s| !writable(s)) {
        return Err(ScimError::bad_request(
            ScimType::Mutability,
            format!("\"{path}\" is read-only."),
        ));
    }
    let container = container_mut(rt, doc, &at)?;
    let name = at.attr.name;
    let mut items = match container.remove(name) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let mut matched = Vec::with_capacity(items.len());
    for item in &items {
        matched.push(filter::matches_element(filter, at.attr, item).map_err(|e| {
            ScimError::bad_request(
                ScimType::InvalidPath,
                format!("The path \"{path}\" has a bad filter: {}", e.0),
            )
        })?);
    }
    let any = matched.iter().any(|&m| m);
    match op.kind {
        OpKind::Remove => match sub {
            None => {
                let mut keep = matched.iter().map(|m| !m);
                items.retain(|_| keep.next().unwrap_or(true));
            }
            Some(sub) => {
                for (item, _) in items.iter_mut().zip(&matched).filter(|(_, m)| **m) {
                    if let Value::Object(fields) = item {
                        fields.remove(sub.name);
                    }
                }
                items.retain(|i| i.as_object().is_some_and(|o| !o.is_empty()));
            }
        },
        OpKind::Add | OpKind::Replace => {
            let value = op.value.as_ref().unwrap_or(&Value::Null);
            let new_value = match sub {
                Some(sub) => read_value(sub, value, path)?,
                None => read_value(at.attr, value, path)?
                    .and_then(|v| v.as_array().and_then(|a| a.first().cloned())),
            };
            if any {
                for (item, _) in items.iter_mut().zip(&matched).filter(|(_, m)| **m) {
                    match (sub, &new_value) {
                        (Some(sub), Some(v)) => {
                            if let Value::Object(fields) = item {
                                fields.insert(sub.name.to_owned(), v.clone());
                            }
                        }
                        (Some(sub), None) => {
                            if let Value::Object(fields) = item {
                                fields.remove(sub.name);
                            }
                        }
                        (None, Some(Value::Object(new))) => {
                            if let Value::Object(fields) = item {
                                if op.kind == OpKind::Replace {
                                    fields.clear();
                                }
                                fields.extend(new.clone());
                            }
                        }
                        (None, _) => {}
                    }
                }
            } else if let Some(new_value) = new_value {
                let Some(mut element) = element_described_by(filter, at.attr) else {
                    return Err(ScimError::bad_request(
                        ScimType::NoTarget,
                        format!("No value of \"{name}\" matches the filter in \"{path}\"."),
                    ));
                };
                match (sub, new_value) {
                    (Some(sub), v) => {
                        element.insert(sub.name.to_owned(), v);
                    }
                    (None, Value::Object(new)) => element.extend(new),
                    (None, _) => {}
                }
                items.push(Value::Object(element));
            }
            let newest_primary = items
                .iter()
                .rposition(|i| i.get("primary") == Some(&Value::Bool(true)));
            if let Some(keep) = newest_primary {
                for (idx, item) in items.iter_mut().enumerate() {
                    if idx != keep
                        && let Value::Object(fields) = item
                        && fields.get("primary") == Some(&Value::Bool(true))
                    {
                        fields.insert("primary".into(), Value::Bool(false));
                    }
                }
            }
        }
    }
    items.retain(|i| !i.as_object().is_some_and(Map::is_empty));
    if !items.is_empty() {
        container.insert(name.to_owned(), Value::Array(items));
    }
    Ok(())
}

/// The element a filter of `eq` comparisons joined by `and` describes
/// (`type eq "work"` → `{"type": "work"}`), or `None` for any other filter.
fn element_described_by(filter: &Filter, attr: &Attribute) -> Option<Map<String, Value>> {
    let mut element = Map::new();
    let mut stack = vec![filter];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.sub.is_none() && path.urn.is_none() => {
                let sub = attr.sub(&path.attr)?;
                let v = match value {
                    CompValue::String(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    _ => return None,
                };
                element.insert(sub.name.to_owned(), read_value(sub, &v, sub.name).ok()??);
            }
            _ => return None,
        }
    }
    Some(element)
}

/// The object holding the attribute: the document, or the extension object inside it.
fn container_mut<'d>(
    rt: &'static ResourceType,
    doc: &'d mut Map<String, Value>,
    at: &AttrRef,
) -> Result<&'d mut Map<String, Value>, ScimError> {
    match at.extension(rt) {
        None => Ok(doc),
        Some(ext) => doc
            .entry(ext.id)
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or_else(|| invalid(format!("The extension \"{}\" is not an object.", ext.id))),
    }
}

/// Whether a value listed for removal designates this element: by `value` when both have one,
/// else by equality.
fn same_element(listed: &Value, item: &Value) -> bool {
    match (listed.get("value"), item.get("value")) {
        (Some(a), Some(b)) => a == b,
        _ => listed == item,
    }
}

fn clear_primary(items: &mut [Value]) {
    for item in items {
        if let Value::Object(fields) = item
            && fields.get("primary") == Some(&Value::Bool(true))
        {
            fields.insert("primary".into(), Value::Bool(false));
        }
    }
}

fn writable(attr: &Attribute) -> bool {
    !matches!(attr.mutability, Mutability::ReadOnly)
}

fn syntax(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

/// Prefixes an operation's error with its number (once), so clients know which one failed.
pub(crate) fn number_error(n: usize, e: ScimError) -> ScimError {
    match e {
        ScimError::BadRequest { scim_type, detail } if !detail.starts_with("Operation ") => {
            ScimError::BadRequest {
                scim_type,
                detail: format!("Operation {n}: {detail}"),
            }
        }
        other => other,
    }
}
