//! Versions as weak entity tags (RFC 7644 §3.14): `meta.version` and the `ETag` header are
//! `W/"<version>"`; `If-None-Match` on a read answers 304, and a mismatched `If-Match` on a
//! write answers 412 and writes nothing (checked inside the write transaction).

use actix_web::HttpRequest;
use actix_web::http::header;

use super::ScimError;

/// The weak entity tag of a resource version.
pub(crate) fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The tags a request lists in a header, weakness ignored (`W/"3"` and `"3"` both mean 3);
/// `None` when the header is absent.
fn listed(req: &HttpRequest, name: header::HeaderName) -> Option<Vec<String>> {
    let values: Vec<&str> = req
        .headers()
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .collect();
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
pub(crate) struct IfMatch(Option<Vec<String>>);

impl IfMatch {
    pub fn from_request(req: &HttpRequest) -> IfMatch {
        IfMatch(listed(req, header::IF_MATCH))
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

/// Whether a read may answer 304: `If-None-Match` names the current version (or `*`).
pub(crate) fn not_modified(req: &HttpRequest, version: i64) -> bool {
    listed(req, header::IF_NONE_MATCH).is_some_and(|tags| matches(&tags, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn weak_and_strong_forms_and_lists_match() {
        let req = TestRequest::default()
            .insert_header((header::IF_MATCH, "\"1\", W/\"3\""))
            .to_http_request();
        let pre = IfMatch::from_request(&req);
        assert!(pre.check(3).is_ok());
        assert!(pre.check(1).is_ok());
        assert!(pre.check(2).is_err());
        assert!(IfMatch::default().check(9).is_ok());
        assert!(IfMatch::from_version(Some("*")).check(9).is_ok());
        assert!(IfMatch::from_version(Some("W/\"8\"")).check(9).is_err());
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "W/\"4\""))
            .to_http_request();
        assert!(not_modified(&req, 4));
        assert!(!not_modified(&req, 5));
    }
}
