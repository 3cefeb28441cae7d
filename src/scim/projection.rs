//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5), applied to rendered resources.
//!
//! Each requested path resolves against the schema to the JSON keys it occupies
//! (`name.givenName` → `name`/`givenName`; an extension attribute → `<urn>`/`attr`), forming a
//! small tree that is kept (attributes) or cut (excludedAttributes). `schemas` and `id` are
//! always returned. Unknown attribute names are ignored, and a value filter inside the list
//! (`emails[type eq "work"]`, sent by Microsoft's test collection) selects the whole attribute.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::schema::ResourceType;

/// A tree of JSON keys; a node with `all` selects everything below it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Node {
    all: bool,
    children: BTreeMap<String, Node>,
}

/// What a request asked to see.
#[derive(Debug, Default, Clone)]
pub struct Projection {
    include: Option<Node>,
    exclude: Node,
}

impl Projection {
    /// Parses the raw comma-separated query values.
    pub fn new(rt: &ResourceType, attributes: Option<&str>, excluded: Option<&str>) -> Projection {
        let tree = |list: &str| {
            let mut root = Node::default();
            for path in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                if let Some(keys) = json_keys(rt, path) {
                    root.insert(&keys);
                }
            }
            root
        };
        let include = attributes.map(tree).filter(|n| !n.children.is_empty());
        Projection {
            include,
            exclude: excluded.map(tree).unwrap_or_default(),
        }
    }

    /// Whether the response will leave out the top-level attribute `name` entirely (so the
    /// caller need not load it, e.g. a group's members).
    pub fn omits(&self, name: &str) -> bool {
        let excluded = self.exclude.children.get(name).is_some_and(|n| n.all);
        let not_included = self
            .include
            .as_ref()
            .is_some_and(|n| !n.children.contains_key(name));
        excluded || not_included
    }

    /// Applies the projection to a rendered resource.
    pub fn apply(&self, resource: Value) -> Value {
        let Value::Object(mut fields) = resource else {
            return resource;
        };
        let always: Vec<(String, Value)> = ["schemas", "id"]
            .into_iter()
            .filter_map(|k| fields.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect();
        if let Some(include) = &self.include {
            fields = keep(fields, include);
        }
        cut(&mut fields, &self.exclude);
        let mut out = Map::new();
        for (k, v) in always {
            out.insert(k, v);
        }
        for (k, v) in fields {
            out.entry(k).or_insert(v);
        }
        Value::Object(out)
    }
}

impl Node {
    fn insert(&mut self, keys: &[String]) {
        let Some((first, rest)) = keys.split_first() else {
            return;
        };
        let child = self.children.entry(first.clone()).or_default();
        if rest.is_empty() {
            // The whole attribute wins over any part of it.
            child.all = true;
            child.children.clear();
        } else if !child.all {
            child.insert(rest);
        }
    }
}

fn json_keys(rt: &ResourceType, path: &str) -> Option<Vec<String>> {
    // `emails[type eq "work"].value` → `emails.value`; the filter itself is not applied.
    let path = match (path.find('['), path.rfind(']')) {
        (Some(open), Some(close)) if open < close => {
            format!("{}{}", &path[..open], &path[close + 1..])
        }
        _ => path.to_owned(),
    };
    if let Some(ext) = rt.extension(&path) {
        return Some(vec![ext.id.to_owned()]);
    }
    let target = rt.resolve(&path)?;
    let mut keys = Vec::with_capacity(3);
    if let Some(ext) = target.extension(rt) {
        keys.push(ext.id.to_owned());
    }
    keys.push(target.attr.name.to_owned());
    if let Some(sub) = target.sub {
        keys.push(sub.name.to_owned());
    }
    Some(keys)
}

fn keep(fields: Map<String, Value>, node: &Node) -> Map<String, Value> {
    fields
        .into_iter()
        .filter_map(|(k, v)| {
            let child = node.children.get(&k)?;
            if child.all {
                return Some((k, v));
            }
            keep_value(v, child).map(|v| (k, v))
        })
        .collect()
}

fn keep_value(value: Value, node: &Node) -> Option<Value> {
    match value {
        Value::Object(fields) => {
            let kept = keep(fields, node);
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .into_iter()
                .filter_map(|v| keep_value(v, node))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

fn cut(fields: &mut Map<String, Value>, node: &Node) {
    for (key, child) in &node.children {
        if key == "id" || key == "schemas" {
            continue;
        }
        if child.all {
            fields.remove(key);
            continue;
        }
        match fields.get_mut(key) {
            Some(Value::Object(inner)) => cut(inner, child),
            Some(Value::Array(items)) => {
                for item in items.iter_mut() {
                    if let Value::Object(inner) = item {
                        cut(inner, child);
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::USER;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "1",
            "userName": "bob",
            "name": {"givenName": "Bob", "familyName": "Jones"},
            "emails": [{"value": "b@x.org", "type": "work"}, {"value": "h@x.org", "type": "home"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops", "division": "D"},
            "meta": {"resourceType": "User", "created": "t"}
        })
    }

    #[test]
    fn attributes_keep_only_what_was_asked_plus_id_and_schemas() {
        let p = Projection::new(
            &USER,
            Some(
                "UserName, name.familyName,emails[type eq \"work\"].value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ),
            None,
        );
        assert_eq!(
            p.apply(user()),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "1",
                "userName": "bob",
                "name": {"familyName": "Jones"},
                "emails": [{"value": "b@x.org"}, {"value": "h@x.org"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Ops"}
            })
        );
    }

    #[test]
    fn excluded_attributes_are_cut_but_never_id() {
        let p = Projection::new(&USER, None, Some("emails,name.givenName,id,meta,nosuch"));
        let out = p.apply(user());
        assert!(out.get("emails").is_none() && out.get("meta").is_none());
        assert_eq!(out["name"], json!({"familyName": "Jones"}));
        assert_eq!(out["id"], "1");
        assert!(p.omits("emails") && !p.omits("userName"));
    }

    #[test]
    fn a_whole_attribute_wins_over_its_parts() {
        let p = Projection::new(&USER, Some("name.givenName,name"), None);
        assert_eq!(
            p.apply(user())["name"],
            json!({"givenName": "Bob", "familyName": "Jones"})
        );
        let p = Projection::new(&USER, Some("name,name.givenName"), None);
        assert_eq!(
            p.apply(user())["name"],
            json!({"givenName": "Bob", "familyName": "Jones"})
        );
    }
}
