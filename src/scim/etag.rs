//! Versions as weak entity tags (RFC 7644 §3.14): `meta.version` and the `ETag` header are
//! `W/"<version>"`; `If-None-Match` on a read answers 304, and a mismatched `If-Match` on a
//! write answers 412 and writes nothing (checked inside the write transaction).

use super::ScimError;

/// The weak entity tag of a resource version.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The tags listed by every value of an `If-Match` or `If-None-Match` header, weakness ignored
/// (`W/"3"` and `"3"` both mean 3); `None` when the header is absent.
pub fn listed<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<Vec<String>> {
    let values: Vec<&str> = values.into_iter().collect();
    (!values.is_empty()).then(|| {
        values
            .iter()
            .flat_map(|v| v.split(','))
            .map(|tag| normalize(tag).to_owned())
            .filter(|tag| !tag.is_empty())
            .collect()
    })
}

fn normalize(tag: &str) -> &str {
    let tag = tag.trim();
    tag.strip_prefix("W/").unwrap_or(tag).trim()
}

fn matches(tags: &[String], version: i64) -> bool {
    let current = etag(version);
    let current = normalize(&current);
    tags.iter().any(|t| t == "*" || t == current)
}

/// An `If-Match` precondition (also a bulk operation's `version`).
#[derive(Clone, Debug, Default)]
pub struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    /// The precondition of an `If-Match` header's tags ([`listed`]).
    pub fn from_tags(tags: Option<Vec<String>>) -> IfMatch {
        IfMatch(tags)
    }

    /// A bulk operation's `version` field.
    pub fn from_version(version: Option<&str>) -> IfMatch {
        IfMatch(version.map(|v| vec![normalize(v).to_owned()]))
    }

    /// 412 unless the precondition is absent or names the current version.
    pub fn check(&self, version: i64) -> Result<(), ScimError> {
        match &self.0 {
            Some(tags) if !matches(tags, version) => Err(ScimError::PreconditionFailed(format!(
                "The resource is at version {}, not the one given in If-Match.",
                etag(version)
            ))),
            _ => Ok(()),
        }
    }
}

/// Whether a read may answer 304: the `If-None-Match` tags name the current version (or `*`).
pub fn not_modified(if_none_match: Option<&[String]>, version: i64) -> bool {
    if_none_match.is_some_and(|tags| matches(tags, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_and_strong_forms_and_lists_match() {
        let pre = IfMatch::from_tags(listed(["\"1\", W/\"3\""]));
        assert!(pre.check(3).is_ok());
        assert!(pre.check(1).is_ok());
        assert!(pre.check(2).is_err());
        assert!(IfMatch::default().check(9).is_ok());
        assert!(IfMatch::from_version(Some("*")).check(9).is_ok());
        assert!(IfMatch::from_version(Some("W/\"8\"")).check(9).is_err());
        let tags = listed(["W/\"4\""]);
        assert!(not_modified(tags.as_deref(), 4));
        assert!(!not_modified(tags.as_deref(), 5));
        assert!(!not_modified(None, 4));
        assert_eq!(listed([]), None);
    }
}
