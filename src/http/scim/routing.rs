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

#[cfg(test)]
mod tests {
    use super::canonical_path;

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
