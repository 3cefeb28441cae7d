//! Case-insensitive SCIM resource names.
//!
//! IdPs spell endpoints `/Users`, `/users` or `/Users/`; Microsoft's test collection asks for
//! `/serviceConfiguration`. Rather than register every spelling, an app-level middleware
//! rewrites the one segment that names the endpoint to its canonical form before routing.
//! Ids and everything after them are left exactly as sent.

/// Canonical endpoint names, matched case-insensitively.
const ENDPOINTS: &[(&str, &str)] = &[
    ("users", "Users"),
    ("groups", "Groups"),
    ("serviceproviderconfig", "ServiceProviderConfig"),
    ("serviceconfiguration", "ServiceProviderConfig"),
    ("schemas", "Schemas"),
    ("resourcetypes", "ResourceTypes"),
    ("bulk", "Bulk"),
    ("me", "Me"),
    (".search", ".search"),
];

/// The canonical form of `path` when it differs: `/v2/{org}/{endpoint}…` with the endpoint
/// name canonical and trailing slashes removed.
pub fn canonical_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    let (org, rest) = rest.split_once('/')?;
    let trimmed = rest.trim_end_matches('/');
    let (endpoint, tail) = match trimmed.split_once('/') {
        Some((endpoint, tail)) => (endpoint, Some(tail)),
        None => (trimmed, None),
    };
    let canonical = ENDPOINTS
        .iter()
        .find(|(lower, _)| endpoint.eq_ignore_ascii_case(lower))
        .map_or(endpoint, |(_, canonical)| canonical);
    let mut out = format!("/v2/{org}/{canonical}");
    if let Some(tail) = tail {
        out.push('/');
        out.push_str(tail);
    }
    (out != path).then_some(out)
}

/// Endpoints whose path has no id.
const FIXED: &[&str] = &[
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "Schemas",
    "ResourceTypes",
    "Bulk",
    ".search",
    "Users/.search",
    "Groups/.search",
];

/// Endpoints followed by one id segment.
const WITH_ID: &[&str] = &["Users", "Groups", "Schemas", "ResourceTypes"];

/// The route template of a canonical SCIM path (`/v2/{org_id}/Users/{id}`), as the router
/// would report it, for the paths it serves; `None` for any other path. Working it out here
/// spares the request log a second walk of the router's patterns (regular expressions),
/// which was a tenth of a small read's time.
pub fn route_template(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/v2/")?;
    let (org, tail) = rest.split_once('/')?;
    if org.is_empty() {
        return None;
    }
    if FIXED.contains(&tail) {
        return Some(format!("/v2/{{org_id}}/{tail}"));
    }
    let (endpoint, id) = tail.split_once('/')?;
    (WITH_ID.contains(&endpoint) && !id.is_empty() && !id.contains('/'))
        .then(|| format!("/v2/{{org_id}}/{endpoint}/{{id}}"))
}

#[cfg(test)]
mod tests {
    use super::{canonical_path, route_template};

    #[test]
    fn route_templates_of_scim_paths() {
        let t = |p| route_template(p);
        assert_eq!(t("/v2/o/Users").as_deref(), Some("/v2/{org_id}/Users"));
        assert_eq!(
            t("/v2/o/Users/u1").as_deref(),
            Some("/v2/{org_id}/Users/{id}")
        );
        assert_eq!(
            t("/v2/o/Groups/g").as_deref(),
            Some("/v2/{org_id}/Groups/{id}")
        );
        assert_eq!(
            t("/v2/o/Users/.search").as_deref(),
            Some("/v2/{org_id}/Users/.search")
        );
        assert_eq!(t("/v2/o/.search").as_deref(), Some("/v2/{org_id}/.search"));
        assert_eq!(t("/v2/o/Bulk").as_deref(), Some("/v2/{org_id}/Bulk"));
        assert_eq!(
            t("/v2/o/Schemas/urn:x").as_deref(),
            Some("/v2/{org_id}/Schemas/{id}")
        );
        assert_eq!(
            t("/v2/o/ServiceProviderConfig").as_deref(),
            Some("/v2/{org_id}/ServiceProviderConfig")
        );
        for other in [
            "/v2/o/Users/a/b",
            "/v2/o/Bulk/x",
            "/v2/o/Nope",
            "/v2/o",
            "/v2//Users",
            "/alive",
            "/v2/o/ServiceProviderConfig/x",
        ] {
            assert_eq!(t(other), None, "{other}");
        }
    }

    #[test]
    fn endpoint_names_become_canonical() {
        assert_eq!(
            canonical_path("/v2/o/users").as_deref(),
            Some("/v2/o/Users")
        );
        assert_eq!(
            canonical_path("/v2/o/USERS/abc").as_deref(),
            Some("/v2/o/Users/abc")
        );
        assert_eq!(
            canonical_path("/v2/o/Users/").as_deref(),
            Some("/v2/o/Users")
        );
        assert_eq!(
            canonical_path("/v2/o/serviceConfiguration").as_deref(),
            Some("/v2/o/ServiceProviderConfig")
        );
        assert_eq!(
            canonical_path("/v2/o/users/.SEARCH").as_deref(),
            Some("/v2/o/Users/.SEARCH"),
            "only the endpoint segment is rewritten"
        );
    }

    #[test]
    fn canonical_and_foreign_paths_are_left_alone() {
        assert_eq!(canonical_path("/v2/o/Users"), None);
        assert_eq!(canonical_path("/v2/o/Users/AbC"), None);
        assert_eq!(canonical_path("/alive"), None);
        assert_eq!(canonical_path("/v2/o"), None);
        assert_eq!(canonical_path("/v2/o/unknown"), None);
    }
}
