//! Searches: the root DSE for anyone, and for a bound service account its organization's tree,
//! whatever base it asks for (a base outside it does not exist). Scope, filter, the size limit
//! (the client's, capped by [`MAX_SIZE`]), the Simple Paged Results control (RFC 2696) and the
//! attribute selection (`*`, `+`, `1.1`, names in any case) are applied here to the entries
//! [`Tree::load`](super::entries::Tree::load) renders.

use ldap3_proto::proto::{
    LdapPartialAttribute, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};

use super::bind::Identity;
use super::dn::Dn;
use super::entries::{Entry, OPERATIONAL};
use super::filter::matches;
use super::{OID_PAGED_RESULTS, OID_WHOAMI};

/// Most entries one search (or one page) returns.
pub const MAX_SIZE: usize = 5000;

/// The answer to a search: its entries, its result, and the paged-results cookie to return
/// when the request was paged.
#[derive(Debug)]
pub struct Answer {
    pub entries: Vec<LdapSearchResultEntry>,
    pub code: LdapResultCode,
    pub message: String,
    pub matched_dn: String,
    /// The cookie of the next page (empty when this was the last), for a paged request.
    pub next_page: Option<Vec<u8>>,
}

impl Answer {
    fn failed(code: LdapResultCode, message: &str) -> Answer {
        Answer {
            entries: Vec::new(),
            code,
            message: message.to_owned(),
            matched_dn: String::new(),
            next_page: None,
        }
    }
}

/// A paged-results request: the page size and the client's cookie (empty for the first page).
#[derive(Debug)]
pub struct PageRequest {
    pub size: usize,
    pub cookie: Vec<u8>,
}

/// Whether a search is for the root DSE.
pub fn is_root_dse(request: &LdapSearchRequest) -> bool {
    request.base.is_empty() && request.scope == LdapSearchScope::Base
}

/// The root DSE (RFC 4512 §5.1): what this server supports and, for a bound service account,
/// its organization's naming context.
pub fn root_dse(identity: &Identity, request: &LdapSearchRequest) -> Answer {
    let mut dse = Entry {
        dn: String::new(),
        attrs: vec![("objectClass".to_owned(), vec!["top".to_owned()])],
    };
    if let Identity::Service { tree, .. } = identity {
        dse.attrs
            .push(("namingContexts".to_owned(), vec![tree.base.clone()]));
    }
    let one = |name: &str, value: &str| (name.to_owned(), vec![value.to_owned()]);
    dse.attrs.extend([
        one("supportedLDAPVersion", "3"),
        one("supportedControl", OID_PAGED_RESULTS),
        one("supportedExtension", OID_WHOAMI),
        one("vendorName", "scim-appliance"),
        one("vendorVersion", env!("CARGO_PKG_VERSION")),
    ]);
    let entries = if matches(&request.filter, &dse) {
        // Every attribute of the root DSE is operational; clients that ask for none get all,
        // as from most servers.
        let everything = request.attrs.iter().all(|a| a == "*" || a == "+");
        let wanted =
            |name: &str| everything || request.attrs.iter().any(|a| a.eq_ignore_ascii_case(name));
        vec![render(&dse, wanted, request.typesonly)]
    } else {
        Vec::new()
    };
    Answer {
        entries,
        code: LdapResultCode::Success,
        message: String::new(),
        matched_dn: String::new(),
        next_page: None,
    }
}

/// Searches `entries` (an organization's whole tree, base first) for a service account whose
/// organization's base is `org_base`.
pub fn search_tree(
    org_base: &Dn,
    entries: &[Entry],
    request: &LdapSearchRequest,
    page: Option<PageRequest>,
) -> Answer {
    let Ok(base) = Dn::parse(&request.base) else {
        return Answer::failed(LdapResultCode::InvalidDNSyntax, "the base is not a DN");
    };
    let org_dn = entries.first().map(|e| e.dn.clone()).unwrap_or_default();
    let placed: Vec<(Dn, &Entry)> = entries
        .iter()
        .filter_map(|e| Dn::parse(&e.dn).ok().map(|dn| (dn, e)))
        .collect();
    if !base.is_within(org_base) || !placed.iter().any(|(dn, _)| *dn == base) {
        return Answer {
            matched_dn: if base.is_within(org_base) {
                org_dn
            } else {
                String::new()
            },
            ..Answer::failed(LdapResultCode::NoSuchObject, "no such entry")
        };
    }
    let in_scope = |dn: &Dn| match request.scope {
        LdapSearchScope::Base => *dn == base,
        LdapSearchScope::OneLevel => dn.is_child_of(&base),
        LdapSearchScope::Subtree => dn.is_within(&base),
        LdapSearchScope::Children => dn.is_within(&base) && *dn != base,
    };
    let found: Vec<&Entry> = placed
        .iter()
        .filter(|(dn, entry)| in_scope(dn) && matches(&request.filter, entry))
        .map(|(_, entry)| *entry)
        .collect();

    let client_limit = usize::try_from(request.sizelimit)
        .ok()
        .filter(|l| *l > 0)
        .unwrap_or(MAX_SIZE);
    let limit = client_limit.min(MAX_SIZE);
    let (selected, next_page, over_limit) = match page {
        Some(page) => {
            let Some(offset) = read_cookie(&page.cookie) else {
                return Answer::failed(LdapResultCode::UnwillingToPerform, "unknown paging cookie");
            };
            let size = page.size.clamp(1, limit);
            let end = offset.saturating_add(size).min(found.len());
            let next = if end < found.len() {
                end.to_string().into_bytes()
            } else {
                Vec::new()
            };
            (
                found.get(offset..end).unwrap_or_default(),
                Some(next),
                false,
            )
        }
        None => (&found[..found.len().min(limit)], None, found.len() > limit),
    };
    let wanted = Selection::of(&request.attrs);
    Answer {
        entries: selected
            .iter()
            .map(|e| render(e, |name| wanted.includes(name), request.typesonly))
            .collect(),
        code: if over_limit {
            LdapResultCode::SizeLimitExceeded
        } else {
            LdapResultCode::Success
        },
        message: String::new(),
        matched_dn: String::new(),
        next_page,
    }
}

/// The offset a paged-results cookie holds: the index of the page's first entry, in the
/// order entries are rendered (creation order), so every entry comes exactly once as long as
/// nothing is added or removed between pages.
fn read_cookie(cookie: &[u8]) -> Option<usize> {
    if cookie.is_empty() {
        return Some(0);
    }
    std::str::from_utf8(cookie).ok()?.parse().ok()
}

/// Which attributes a search asked for.
struct Selection<'a> {
    user: bool,
    operational: bool,
    named: Vec<&'a str>,
}

impl<'a> Selection<'a> {
    fn of(attrs: &'a [String]) -> Selection<'a> {
        Selection {
            user: attrs.is_empty() || attrs.iter().any(|a| a == "*"),
            operational: attrs.iter().any(|a| a == "+"),
            named: attrs.iter().map(String::as_str).collect(),
        }
    }

    fn includes(&self, name: &str) -> bool {
        let operational = OPERATIONAL.iter().any(|o| o.eq_ignore_ascii_case(name));
        (if operational {
            self.operational
        } else {
            self.user
        }) || self.named.iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

fn render(entry: &Entry, wanted: impl Fn(&str) -> bool, types_only: bool) -> LdapSearchResultEntry {
    LdapSearchResultEntry {
        dn: entry.dn.clone(),
        attributes: entry
            .attrs
            .iter()
            .filter(|(name, _)| wanted(name))
            .map(|(name, values)| LdapPartialAttribute {
                atype: name.clone(),
                vals: if types_only {
                    Vec::new()
                } else {
                    values.iter().map(|v| v.as_bytes().to_vec()).collect()
                },
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3_proto::proto::{LdapDerefAliases, LdapFilter};

    fn entry(dn: &str) -> Entry {
        Entry {
            dn: dn.to_owned(),
            attrs: vec![
                ("objectClass".to_owned(), vec!["top".to_owned()]),
                ("entryUUID".to_owned(), vec![dn.to_owned()]),
            ],
        }
    }

    fn tree() -> Vec<Entry> {
        [
            "dc=x",
            "ou=people,dc=x",
            "uid=a,ou=people,dc=x",
            "uid=b,ou=people,dc=x",
        ]
        .into_iter()
        .map(entry)
        .collect()
    }

    fn request(
        base: &str,
        scope: LdapSearchScope,
        sizelimit: i32,
        attrs: &[&str],
    ) -> LdapSearchRequest {
        LdapSearchRequest {
            base: base.to_owned(),
            scope,
            aliases: LdapDerefAliases::Never,
            sizelimit,
            timelimit: 0,
            typesonly: false,
            filter: LdapFilter::Present("objectClass".to_owned()),
            attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
        }
    }

    fn search(request: &LdapSearchRequest) -> Answer {
        let base = Dn::parse("dc=x").unwrap_or(Dn(Vec::new()));
        search_tree(&base, &tree(), request, None)
    }

    #[test]
    fn scopes_select_the_base_its_children_or_its_subtree() {
        let count = |base, scope| search(&request(base, scope, 0, &[])).entries.len();
        assert_eq!(count("ou=people,dc=x", LdapSearchScope::Base), 1);
        assert_eq!(count("ou=people,dc=x", LdapSearchScope::OneLevel), 2);
        assert_eq!(count("DC=X", LdapSearchScope::Subtree), 4);
        assert_eq!(count("dc=x", LdapSearchScope::Children), 3);
    }

    #[test]
    fn the_size_limit_cuts_the_answer_and_says_so() {
        let answer = search(&request("dc=x", LdapSearchScope::Subtree, 2, &[]));
        assert_eq!(answer.entries.len(), 2);
        assert_eq!(answer.code, LdapResultCode::SizeLimitExceeded);
    }

    #[test]
    fn bases_outside_the_tree_do_not_exist() {
        for base in ["dc=y", "uid=c,ou=people,dc=x", ""] {
            let answer = search(&request(base, LdapSearchScope::Subtree, 0, &[]));
            assert_eq!(answer.code, LdapResultCode::NoSuchObject, "{base}");
            assert!(answer.entries.is_empty());
        }
        let answer = search(&request("not a dn", LdapSearchScope::Subtree, 0, &[]));
        assert_eq!(answer.code, LdapResultCode::InvalidDNSyntax);
    }

    #[test]
    fn attribute_selection_follows_star_plus_and_one_one() {
        let names = |attrs: &[&str]| -> Vec<String> {
            search(&request(
                "uid=a,ou=people,dc=x",
                LdapSearchScope::Base,
                0,
                attrs,
            ))
            .entries[0]
                .attributes
                .iter()
                .map(|a| a.atype.clone())
                .collect()
        };
        assert_eq!(names(&[]), ["objectClass"]);
        assert_eq!(names(&["+"]), ["entryUUID"]);
        assert_eq!(names(&["*", "+"]), ["objectClass", "entryUUID"]);
        assert_eq!(names(&["ENTRYUUID"]), ["entryUUID"]);
        assert!(names(&["1.1"]).is_empty());
    }
}
