//! Evaluating an LDAP filter (RFC 4511 §4.5.1.7) on a rendered entry, with LDAP's three-valued
//! logic: a test on an attribute the entry lacks is false, an extensible match (which this
//! server does not support) is undefined, and `not` of undefined stays undefined.
//!
//! Values compare case-insensitively, DN-valued attributes as DNs, `uidNumber`/`gidNumber` as
//! numbers; approximate matching is equality. This is the in-memory evaluator of the first
//! slice: compiling indexed attributes to the store's SQL is the next.

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};

use super::dn::same_dn;
use super::entries::Entry;

/// Attributes whose values are DNs.
const DN_VALUED: [&str; 3] = ["member", "uniqueMember", "memberOf"];
/// Attributes whose values are integers.
const NUMERIC: [&str; 2] = ["uidNumber", "gidNumber"];

/// Whether `filter` holds for `entry` (undefined counts as not matching).
pub fn matches(filter: &LdapFilter, entry: &Entry) -> bool {
    evaluate(filter, entry) == Some(true)
}

fn evaluate(filter: &LdapFilter, entry: &Entry) -> Option<bool> {
    match filter {
        LdapFilter::And(all) => {
            let mut result = Some(true);
            for f in all {
                match evaluate(f, entry) {
                    Some(false) => return Some(false),
                    None => result = None,
                    Some(true) => {}
                }
            }
            result
        }
        LdapFilter::Or(any) => {
            let mut result = Some(false);
            for f in any {
                match evaluate(f, entry) {
                    Some(true) => return Some(true),
                    None => result = None,
                    Some(false) => {}
                }
            }
            result
        }
        LdapFilter::Not(inner) => evaluate(inner, entry).map(|b| !b),
        LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => {
            Some(any_value(entry, attr, |v| equal(attr, v, value)))
        }
        LdapFilter::Present(attr) => {
            Some(attr.eq_ignore_ascii_case("objectClass") || entry.values(attr).is_some())
        }
        LdapFilter::Substring(attr, parts) => Some(any_value(entry, attr, |v| substring(v, parts))),
        LdapFilter::GreaterOrEqual(attr, value) => Some(any_value(entry, attr, |v| {
            order(attr, v, value).is_some_and(std::cmp::Ordering::is_ge)
        })),
        LdapFilter::LessOrEqual(attr, value) => Some(any_value(entry, attr, |v| {
            order(attr, v, value).is_some_and(std::cmp::Ordering::is_le)
        })),
        LdapFilter::Extensible(_) => None,
    }
}

fn any_value(entry: &Entry, attr: &str, test: impl Fn(&str) -> bool) -> bool {
    entry
        .values(attr)
        .is_some_and(|values| values.iter().any(|v| test(v)))
}

fn is_one_of(attr: &str, names: &[&str]) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(attr))
}

fn equal(attr: &str, stored: &str, asserted: &str) -> bool {
    if is_one_of(attr, &DN_VALUED) {
        same_dn(stored, asserted)
    } else if is_one_of(attr, &NUMERIC) {
        order(attr, stored, asserted) == Some(std::cmp::Ordering::Equal)
    } else {
        stored.to_lowercase() == asserted.to_lowercase()
    }
}

fn order(attr: &str, stored: &str, asserted: &str) -> Option<std::cmp::Ordering> {
    if is_one_of(attr, &NUMERIC) {
        let (a, b) = (
            stored.parse::<i64>().ok()?,
            asserted.trim().parse::<i64>().ok()?,
        );
        Some(a.cmp(&b))
    } else {
        Some(stored.to_lowercase().cmp(&asserted.to_lowercase()))
    }
}

fn substring(stored: &str, parts: &LdapSubstringFilter) -> bool {
    let value = stored.to_lowercase();
    let mut rest = value.as_str();
    if let Some(initial) = &parts.initial {
        match rest.strip_prefix(initial.to_lowercase().as_str()) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    for any in &parts.any {
        let any = any.to_lowercase();
        match rest.find(any.as_str()) {
            Some(at) => rest = &rest[at + any.len()..],
            None => return false,
        }
    }
    match &parts.final_ {
        Some(last) => rest.ends_with(last.to_lowercase().as_str()),
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::parse_ldap_filter_str;

    fn ann() -> Entry {
        Entry {
            dn: "uid=ann,ou=people,o=x".to_owned(),
            attrs: vec![
                (
                    "objectClass".to_owned(),
                    vec!["top".into(), "inetOrgPerson".into()],
                ),
                ("uid".to_owned(), vec!["ann".into()]),
                ("mail".to_owned(), vec!["Ann@Example.com".into()]),
                ("uidNumber".to_owned(), vec!["10001".into()]),
                ("memberOf".to_owned(), vec!["cn=Ops,ou=groups,o=x".into()]),
            ],
        }
    }

    fn holds(filter: &str) -> bool {
        let filter = parse_ldap_filter_str(filter).expect("a valid filter");
        matches(&filter, &ann())
    }

    #[test]
    fn equality_ignores_case() {
        assert!(holds("(uid=ANN)"));
        assert!(holds("(MAIL=ann@example.com)"));
        assert!(!holds("(uid=bob)"));
        assert!(holds("(objectclass=inetorgperson)"));
    }

    #[test]
    fn dn_values_compare_as_dns() {
        // (The filter-string parser refuses `=` in values; clients send BER anyway.)
        let member_of = |dn: &str| LdapFilter::Equality("memberOf".to_owned(), dn.to_owned());
        assert!(matches(&member_of("CN=ops, OU=Groups,O=X"), &ann()));
        assert!(!matches(&member_of("cn=dev,ou=groups,o=x"), &ann()));
    }

    #[test]
    fn boolean_operators_combine() {
        assert!(holds("(&(objectClass=inetOrgPerson)(|(uid=bob)(uid=ann)))"));
        assert!(!holds("(&(objectClass=inetOrgPerson)(uid=bob))"));
        assert!(holds("(!(uid=bob))"));
    }

    #[test]
    fn presence_substring_and_ordering() {
        assert!(holds("(mail=*)"));
        assert!(!holds("(telephoneNumber=*)"));
        assert!(holds("(mail=ann@*)"));
        assert!(holds("(mail=*@example.*)"));
        assert!(holds("(mail=*.COM)"));
        assert!(!holds("(mail=*@other.*)"));
        assert!(holds("(uidNumber>=9999)"));
        assert!(!holds("(uidNumber<=9999)"));
        assert!(holds("(uid~=ANN)"));
    }

    #[test]
    fn a_missing_attribute_is_false_and_its_negation_true() {
        assert!(!holds("(title=boss)"));
        assert!(holds("(!(title=boss))"));
    }
}
