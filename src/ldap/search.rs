//! Searches: the root DSE for anyone, and for a bound service account its organization's tree,
//! whatever base it asks for (a base outside it does not exist). Scope, filter, the size limit
//! (the client's, capped by [`MAX_SIZE`]), the Simple Paged Results control (RFC 2696) and the
//! attribute selection (`*`, `+`, `1.1`, names in any case) are applied here, to entries the
//! store reads in creation order through the filter's narrowing ([`super::narrow`]) and
//! [`Tree`] renders.

use std::time::Instant;

use ldap3_proto::proto::{
    LdapFilter, LdapPartialAttribute, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry,
    LdapSearchScope,
};

use super::dn::Dn;
use super::entries::{Entry, OPERATIONAL, Tree, split_group_rdn};
use super::filter::matches;
use super::narrow::{Kind, Reference, Selection as NarrowedTo, mentions, narrow};
use super::{OID_PAGED_RESULTS, OID_WHOAMI};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::store::{LdapReader, LdapScan, StoreError};

/// Most entries one search (or one page) returns.
pub const MAX_SIZE: usize = 5000;
/// Largest answer one search (or one page) gathers, in bytes of DNs and values: past it a
/// paged search ends its page early and another gets `adminLimitExceeded`.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

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
    /// An answer with no entries.
    pub fn failed(code: LdapResultCode, message: &str) -> Answer {
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
/// its organization's naming context (its base DN now).
pub fn root_dse(naming_context: Option<String>, request: &LdapSearchRequest) -> Answer {
    let mut dse = Entry {
        dn: String::new(),
        attrs: vec![("objectClass".to_owned(), vec!["top".to_owned()])],
    };
    if let Some(base) = naming_context {
        dse.attrs.push(("namingContexts".to_owned(), vec![base]));
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

/// Where a search continues: after the first `after` of the fixed entries (the base and the
/// two units), or after a member or group position (creation order). A paged-results cookie
/// holds one, so each page starts where the last ended with an indexed seek, whatever
/// was added or removed between pages: every entry present throughout comes exactly once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Position {
    Fixed(i64),
    Users(i64),
    Groups(i64),
}

impl Position {
    const START: Position = Position::Fixed(0);

    fn cookie(self) -> Vec<u8> {
        let (phase, after) = match self {
            Position::Fixed(n) => ('f', n),
            Position::Users(n) => ('u', n),
            Position::Groups(n) => ('g', n),
        };
        format!("{phase}{after}").into_bytes()
    }

    fn from_cookie(cookie: &[u8]) -> Option<Position> {
        if cookie.is_empty() {
            return Some(Position::START);
        }
        let text = std::str::from_utf8(cookie).ok()?;
        let (phase, after) = text.split_at_checked(1)?;
        let after: i64 = after.parse().ok().filter(|n| *n >= 0)?;
        match phase {
            "f" => Some(Position::Fixed(after)),
            "u" => Some(Position::Users(after)),
            "g" => Some(Position::Groups(after)),
            _ => None,
        }
    }
}

/// Which entries a search's base and scope cover.
#[derive(Debug, Default)]
struct Plan {
    /// Fixed entries (base, `ou=people`, `ou=groups`), in tree order.
    fixed: Vec<Entry>,
    /// Members: `None` for none, `Some(None)` for all, `Some(Some(id))` for one.
    users: Option<Option<String>>,
    groups: Option<Option<String>>,
}

/// The entry a search's base names.
enum Target {
    Root,
    People,
    Groups,
    User(String),
    Group(String),
}

/// Searches organization `reader`'s tree `tree` for a bound service account: whatever base it
/// asks for, only this tree exists. Members and groups are read in creation order through
/// the narrowing of the filter ([`narrow`]), each rendered and tested against the whole
/// filter; the search stops at the size limit (the client's, capped by [`MAX_SIZE`]), the
/// page size, or `deadline`.
pub fn search_org(
    reader: &LdapReader<'_>,
    tree: &Tree,
    request: &LdapSearchRequest,
    page: Option<PageRequest>,
    deadline: Instant,
) -> Result<Answer, StoreError> {
    search_within(reader, tree, request, page, deadline, MAX_ANSWER_BYTES)
}

/// [`search_org`] with an answer of at most `budget` bytes.
fn search_within(
    reader: &LdapReader<'_>,
    tree: &Tree,
    request: &LdapSearchRequest,
    page: Option<PageRequest>,
    deadline: Instant,
    budget: usize,
) -> Result<Answer, StoreError> {
    let Ok(base) = Dn::parse(&request.base) else {
        return Ok(Answer::failed(
            LdapResultCode::InvalidDNSyntax,
            "the base is not a DN",
        ));
    };
    let Ok(org) = Dn::parse(&tree.base) else {
        return Ok(Answer::failed(
            LdapResultCode::Unavailable,
            "the organization's base DN is not a DN",
        ));
    };
    let target = match locate(reader, tree, &org, &base)? {
        Ok(target) => target,
        Err(matched_dn) => {
            return Ok(Answer {
                matched_dn,
                ..Answer::failed(LdapResultCode::NoSuchObject, "no such entry")
            });
        }
    };
    let plan = plan(tree, target, &request.scope);

    let client_limit = usize::try_from(request.sizelimit)
        .ok()
        .filter(|l| *l > 0)
        .unwrap_or(MAX_SIZE);
    let limit = client_limit.min(MAX_SIZE);
    let (start, wanted) = match &page {
        Some(page) => {
            let Some(start) = Position::from_cookie(&page.cookie) else {
                return Ok(Answer::failed(
                    LdapResultCode::UnwillingToPerform,
                    "unknown paging cookie",
                ));
            };
            if page.size == 0 {
                // A page size of zero abandons the paged search (RFC 2696 §3).
                return Ok(Answer {
                    next_page: Some(Vec::new()),
                    ..Answer::failed(LdapResultCode::Success, "")
                });
            }
            (start, page.size.min(limit))
        }
        None => (Position::START, limit),
    };

    let selection = Selection::of(&request.attrs);
    let mut scan = Scan {
        request,
        selection: &selection,
        // One more than asked: whether there is a next page, or the size limit was exceeded.
        room: wanted + 1,
        found: Vec::new(),
        bytes: 0,
        budget,
        deadline,
        timed_out: false,
    };
    scan.fixed(&plan.fixed, start);
    for kind in [Kind::Users, Kind::Groups] {
        // The attributes that take a second read per entry: only when shown or tested.
        let (pin, phase, related) = match kind {
            Kind::Users => (&plan.users, Position::Users(0), &["memberOf"][..]),
            Kind::Groups => (
                &plan.groups,
                Position::Groups(0),
                &["member", "uniqueMember", "memberUid"][..],
            ),
        };
        let (Some(pin), Some(after)) = (pin, scan.continues(start, phase)) else {
            continue;
        };
        let Some(filter) = narrow_for(reader, &org, &request.filter, kind, pin)? else {
            continue;
        };
        let read = LdapScan {
            filter: filter.as_ref(),
            after,
            with_relations: related
                .iter()
                .any(|a| selection.includes(a) || mentions(&request.filter, a)),
        };
        match kind {
            Kind::Users => reader.scan_users(read, |user| {
                scan.offer(Position::Users(user.position), || tree.user_entry(&user))
            })?,
            Kind::Groups => reader.scan_groups(read, |group| {
                scan.offer(Position::Groups(group.position), || {
                    tree.group_entry(&group)
                })
            })?,
        }
    }

    let too_large = scan.bytes > budget;
    let Scan {
        mut found,
        timed_out,
        ..
    } = scan;
    let more = found.len() > wanted || too_large;
    found.truncate(wanted);
    let next_page = page.map(|_| match found.last() {
        Some((position, _)) if more && !timed_out => position.cookie(),
        _ => Vec::new(),
    });
    let (code, message) = if timed_out {
        (LdapResultCode::TimeLimitExceeded, "")
    } else if too_large && next_page.is_none() {
        (
            LdapResultCode::AdminLimitExceeded,
            "the answer is too large: ask for fewer attributes or use paged results",
        )
    } else if more && next_page.is_none() {
        (LdapResultCode::SizeLimitExceeded, "")
    } else {
        (LdapResultCode::Success, "")
    };
    Ok(Answer {
        entries: found.into_iter().map(|(_, e)| e).collect(),
        code,
        message: message.to_owned(),
        matched_dn: String::new(),
        next_page,
    })
}

/// What a search has found so far, and how much more it wants.
struct Scan<'r> {
    request: &'r LdapSearchRequest,
    selection: &'r Selection<'r>,
    room: usize,
    /// Each entry found, as sent, with the position a search continues from after it.
    found: Vec<(Position, LdapSearchResultEntry)>,
    /// The size of the entries found (their DNs and values), and the most it may reach.
    bytes: usize,
    budget: usize,
    deadline: Instant,
    timed_out: bool,
}

impl Scan<'_> {
    fn fixed(&mut self, entries: &[Entry], start: Position) {
        for (at, entry) in (1..).zip(entries) {
            let position = Position::Fixed(at);
            if position > start && !self.offer(position, || entry.clone()) {
                return;
            }
        }
    }

    /// Where a phase starting at `phase` begins for a search continuing from `start`; `None`
    /// when the search is already past it, or full.
    fn continues(&self, start: Position, phase: Position) -> Option<i64> {
        if self.found.len() >= self.room || self.timed_out {
            return None;
        }
        match (start, phase) {
            (Position::Users(n), Position::Users(_))
            | (Position::Groups(n), Position::Groups(_)) => Some(n),
            _ if start < phase => Some(0),
            _ => None,
        }
    }

    /// Renders an entry the store read and keeps it if it matches; false once the search has
    /// what it wants, its time is up or its answer has grown past its budget (one
    /// entry is always sent, however large, so that every entry can be read).
    fn offer(&mut self, position: Position, entry: impl FnOnce() -> Entry) -> bool {
        if Instant::now() >= self.deadline {
            self.timed_out = true;
            return false;
        }
        let entry = entry();
        if matches(&self.request.filter, &entry) {
            let sent = render(
                &entry,
                |name| self.selection.includes(name),
                self.request.typesonly,
            );
            self.bytes += sent.dn.len()
                + sent
                    .attributes
                    .iter()
                    .map(|a| a.atype.len() + a.vals.iter().map(Vec::len).sum::<usize>())
                    .sum::<usize>();
            self.found.push((position, sent));
        }
        self.found.len() < self.room && self.bytes <= self.budget
    }
}

/// Finds the entry `base` names in the organization; `Err` with the DN of the closest entry
/// that exists (RFC 4511's matchedDN) when there is none.
fn locate(
    reader: &LdapReader<'_>,
    tree: &Tree,
    org: &Dn,
    base: &Dn,
) -> Result<Result<Target, String>, StoreError> {
    if !base.is_within(org) {
        return Ok(Err(String::new()));
    }
    if base == org {
        return Ok(Ok(Target::Root));
    }
    let under = |unit: &str| {
        base.0.get(base.0.len() - org.0.len() - 1).is_some_and(
            |rdn| matches!(rdn.as_slice(), [(attr, value)] if attr == "ou" && value == unit),
        )
    };
    let depth = base.0.len() - org.0.len();
    Ok(match (depth, under("people"), under("groups")) {
        (1, true, _) => Ok(Target::People),
        (1, _, true) => Ok(Target::Groups),
        (2, true, _) => match base.leaf_value("uid") {
            Some(name) => reader.active_user_named(name)?.map(Target::User),
            None => None,
        }
        .ok_or_else(|| tree.people()),
        (2, _, true) => match base.leaf_value("cn") {
            Some(name) => group_named(reader, name)?.map(Target::Group),
            None => None,
        }
        .ok_or_else(|| tree.groups()),
        (_, true, _) => Err(tree.people()),
        (_, _, true) => Err(tree.groups()),
        _ => Err(tree.base.clone()),
    })
}

/// The id of the group whose RDN value is `rdn` ([`group_rdn`](super::entries::group_rdn)):
/// the oldest group with that displayName, or `<displayName> (<id>)` of a later one.
fn group_named(reader: &LdapReader<'_>, rdn: &str) -> Result<Option<String>, StoreError> {
    if let Some(id) = reader.oldest_group_named(rdn)? {
        return Ok(Some(id));
    }
    let Some((name, id)) = split_group_rdn(rdn) else {
        return Ok(None);
    };
    Ok(reader.group_name(id)?.and_then(|group| {
        (group.shares_name_with_older && group.display_name.to_lowercase() == name)
            .then_some(group.id)
    }))
}

fn plan(tree: &Tree, target: Target, scope: &LdapSearchScope) -> Plan {
    use LdapSearchScope::{Base, Children, Subtree};
    let itself_too = matches!(scope, Base | Subtree);
    let below = !matches!(scope, Base);
    match target {
        Target::Root => {
            let mut fixed = Vec::new();
            if itself_too {
                fixed.push(tree.base_entry());
            }
            if below {
                fixed.extend([tree.unit("people"), tree.unit("groups")]);
            }
            let all = matches!(scope, Subtree | Children).then_some(None);
            Plan {
                fixed,
                users: all.clone(),
                groups: all,
            }
        }
        Target::People | Target::Groups => {
            let people = matches!(target, Target::People);
            let unit = tree.unit(if people { "people" } else { "groups" });
            let all = below.then_some(None);
            Plan {
                fixed: if itself_too { vec![unit] } else { Vec::new() },
                users: if people { all.clone() } else { None },
                groups: if people { None } else { all },
            }
        }
        Target::User(id) => Plan {
            users: itself_too.then_some(Some(id)),
            ..Plan::default()
        },
        Target::Group(id) => Plan {
            groups: itself_too.then_some(Some(id)),
            ..Plan::default()
        },
    }
}

/// The SCIM filter a scan of `kind` reads with (`Some(None)` for all, `None` for none): the
/// narrowing of `filter`, and `id eq` of the one entry the base names when it names one.
fn narrow_for(
    reader: &LdapReader<'_>,
    org: &Dn,
    filter: &LdapFilter,
    kind: Kind,
    pin: &Option<String>,
) -> Result<Option<Option<Filter>>, StoreError> {
    let mut lookup = |reference: Reference<'_>| resolve(reader, org, reference);
    let narrowed = match narrow(filter, kind, &mut lookup)? {
        NarrowedTo::Nothing => return Ok(None),
        NarrowedTo::Everything => None,
        NarrowedTo::Matching(f) => Some(f),
    };
    let pinned = pin.as_ref().map(|id| Filter::Compare {
        path: AttrPath {
            urn: None,
            attr: "id".to_owned(),
            sub: None,
        },
        op: CompareOp::Eq,
        value: CompValue::String(id.clone()),
    });
    Ok(Some(match (pinned, narrowed) {
        (Some(a), Some(b)) => Some(Filter::And(Box::new(a), Box::new(b))),
        (a, b) => a.or(b),
    }))
}

/// The SCIM id of the entry a filter value names, if it is in this organization's tree.
fn resolve(
    reader: &LdapReader<'_>,
    org: &Dn,
    reference: Reference<'_>,
) -> Result<Option<String>, StoreError> {
    let leaf = |dn: &str, unit: &str, attr: &str| -> Option<String> {
        let dn = Dn::parse(dn).ok()?;
        let mut parent = org.clone();
        parent.0.insert(0, vec![("ou".to_owned(), unit.to_owned())]);
        (dn.is_child_of(&parent))
            .then(|| dn.leaf_value(attr).map(str::to_owned))
            .flatten()
    };
    match reference {
        Reference::UserDn(dn) => match leaf(dn, "people", "uid") {
            Some(name) => reader.active_user_named(&name),
            None => Ok(None),
        },
        Reference::UserName(name) => reader.active_user_named(name),
        Reference::UserNumber(n) => reader.active_user_numbered(n),
        Reference::GroupDn(dn) => match leaf(dn, "groups", "cn") {
            Some(name) => group_named(reader, &name),
            None => Ok(None),
        },
        Reference::GroupNumber(n) => reader.group_numbered(n),
    }
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
    use std::time::Duration;

    use ldap3_proto::proto::{LdapDerefAliases, LdapFilter};
    use serde_json::json;

    use super::*;
    use crate::directory::MemberRef;
    use crate::store::{Actor, Store, SyncMode};

    /// An organization `dc=x` with members ann, bob (revoked) and cy, and groups ops (ann, bob)
    /// and Ops (cy), the second sharing the first's name.
    struct Fixture {
        _dir: tempfile::TempDir,
        store: Store,
        org: String,
        ids: std::collections::HashMap<&'static str, String>,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let org = store.create_org("x", None, Actor::Cli).expect("org").id;
        let mut ids = std::collections::HashMap::new();
        for (name, active) in [("ann", true), ("bob", false), ("cy", true)] {
            let attrs = json!({"userName": name, "active": active,
                               "emails": [{"value": format!("{name}@x.io")}]});
            let user = store
                .create_user(&org, "k", attrs.as_object().cloned().unwrap_or_default())
                .expect("user");
            ids.insert(name, user.id);
        }
        for (key, name, members) in [("ops", "ops", ["ann", "bob"]), ("Ops", "Ops", ["cy", "cy"])] {
            let members = members
                .iter()
                .map(|m| MemberRef {
                    value: ids[m].clone(),
                    display: None,
                })
                .collect();
            let attrs = json!({"displayName": name});
            let group = store
                .create_group(
                    &org,
                    "k",
                    attrs.as_object().cloned().unwrap_or_default(),
                    members,
                    false,
                )
                .expect("group");
            ids.insert(key, group.id);
        }
        Fixture {
            _dir: dir,
            store,
            org,
            ids,
        }
    }

    fn request(base: &str, scope: LdapSearchScope, filter: LdapFilter) -> LdapSearchRequest {
        LdapSearchRequest {
            base: base.to_owned(),
            scope,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: Vec::new(),
        }
    }

    fn any() -> LdapFilter {
        LdapFilter::Present("objectClass".to_owned())
    }

    fn eq(attr: &str, value: &str) -> LdapFilter {
        LdapFilter::Equality(attr.to_owned(), value.to_owned())
    }

    impl Fixture {
        fn search_paged(&self, request: &LdapSearchRequest, page: Option<PageRequest>) -> Answer {
            let deadline = Instant::now() + Duration::from_secs(10);
            self.store
                .ldap_read(&self.org, |reader| {
                    let tree = Tree {
                        base: "dc=x".to_owned(),
                    };
                    search_org(reader, &tree, request, page, deadline)
                })
                .expect("search")
        }

        fn search(&self, request: &LdapSearchRequest) -> Answer {
            self.search_paged(request, None)
        }

        fn dns(&self, base: &str, scope: LdapSearchScope, filter: LdapFilter) -> Vec<String> {
            let answer = self.search(&request(base, scope, filter));
            assert_eq!(answer.code, LdapResultCode::Success, "{}", answer.message);
            answer.entries.into_iter().map(|e| e.dn).collect()
        }
    }

    #[test]
    fn scopes_select_the_base_its_children_or_its_subtree() {
        let f = fixture();
        let later_ops = format!("cn=Ops ({}),ou=groups,dc=x", f.ids["Ops"]);
        let count = |base, scope| f.dns(base, scope, any()).len();
        assert_eq!(count("ou=people,dc=x", LdapSearchScope::Base), 1);
        assert_eq!(count("ou=people,dc=x", LdapSearchScope::OneLevel), 2);
        assert_eq!(count("dc=x", LdapSearchScope::OneLevel), 2);
        assert_eq!(
            count("uid=ann,ou=people,dc=x", LdapSearchScope::OneLevel),
            0
        );
        assert_eq!(
            f.dns("DC=X", LdapSearchScope::Subtree, any()),
            [
                "dc=x",
                "ou=people,dc=x",
                "ou=groups,dc=x",
                "uid=ann,ou=people,dc=x",
                "uid=cy,ou=people,dc=x",
                "cn=ops,ou=groups,dc=x",
                later_ops.as_str(),
            ]
        );
        assert_eq!(count("dc=x", LdapSearchScope::Children), 6);
        assert_eq!(
            f.dns(&later_ops, LdapSearchScope::Base, any()),
            std::slice::from_ref(&later_ops)
        );
    }

    #[test]
    fn indexed_filters_find_exactly_their_entries() {
        let f = fixture();
        let people = "ou=people,dc=x";
        let sub = LdapSearchScope::Subtree;
        let ann = "uid=ann,ou=people,dc=x";
        assert_eq!(f.dns("dc=x", sub.clone(), eq("UID", "ANN")), [ann]);
        assert_eq!(
            f.dns("dc=x", sub.clone(), eq("mail", "cy@X.io")),
            ["uid=cy,ou=people,dc=x"]
        );
        assert_eq!(
            f.dns("dc=x", sub.clone(), eq("uid", "bob")),
            Vec::<String>::new()
        );
        assert_eq!(
            f.dns("dc=x", sub.clone(), eq("memberOf", "cn=ops,ou=groups,dc=x")),
            [ann]
        );
        assert_eq!(
            f.dns("dc=x", sub.clone(), eq("member", ann)),
            ["cn=ops,ou=groups,dc=x"]
        );
        assert_eq!(
            f.dns("dc=x", sub.clone(), eq("member", "uid=bob,ou=people,dc=x")),
            Vec::<String>::new(),
            "a revoked member is nobody's member"
        );
        assert_eq!(f.dns("dc=x", sub.clone(), eq("memberUid", "cy")).len(), 1);
        assert_eq!(
            f.dns(
                people,
                sub.clone(),
                LdapFilter::Not(Box::new(eq("uid", "ann")))
            ),
            ["ou=people,dc=x", "uid=cy,ou=people,dc=x"]
        );
        let not_sn = LdapFilter::Not(Box::new(eq("sn", "ann")));
        assert_eq!(
            f.dns(people, LdapSearchScope::OneLevel, not_sn),
            ["uid=cy,ou=people,dc=x"]
        );
        let both = LdapFilter::And(vec![
            eq("objectClass", "posixAccount"),
            eq("uidNumber", "10000"),
        ]);
        assert_eq!(f.dns("dc=x", sub.clone(), both), [ann]);
        assert_eq!(
            f.dns(
                "dc=x",
                sub.clone(),
                eq("cn", &format!("ops ({})", f.ids["Ops"]))
            ),
            [format!("cn=Ops ({}),ou=groups,dc=x", f.ids["Ops"])]
        );
        let starts = LdapFilter::Substring(
            "uid".to_owned(),
            ldap3_proto::proto::LdapSubstringFilter {
                initial: Some("a".to_owned()),
                any: Vec::new(),
                final_: None,
            },
        );
        assert_eq!(f.dns("dc=x", sub, starts), [ann]);
    }

    #[test]
    fn the_size_limit_cuts_the_answer_and_says_so() {
        let f = fixture();
        let mut limited = request("dc=x", LdapSearchScope::Subtree, any());
        limited.sizelimit = 4;
        let answer = f.search(&limited);
        assert_eq!(answer.entries.len(), 4);
        assert_eq!(answer.code, LdapResultCode::SizeLimitExceeded);
    }

    #[test]
    fn pages_continue_where_the_last_ended_and_the_last_says_so() {
        let f = fixture();
        let all = request("dc=x", LdapSearchScope::Subtree, any());
        let mut cookie = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..10 {
            let answer = f.search_paged(&all, Some(PageRequest { size: 2, cookie }));
            assert_eq!(answer.code, LdapResultCode::Success);
            seen.extend(answer.entries.into_iter().map(|e| e.dn));
            cookie = answer.next_page.expect("a paged answer has a cookie");
            if cookie.is_empty() {
                break;
            }
        }
        assert_eq!(seen, f.dns("dc=x", LdapSearchScope::Subtree, any()));
        let bad = PageRequest {
            size: 2,
            cookie: b"x1".to_vec(),
        };
        assert_eq!(
            f.search_paged(&all, Some(bad)).code,
            LdapResultCode::UnwillingToPerform
        );
    }

    #[test]
    fn an_answer_stops_growing_at_its_byte_budget() {
        let f = fixture();
        let all = request("ou=people,dc=x", LdapSearchScope::OneLevel, any());
        let within = |page: Option<PageRequest>| {
            f.store
                .ldap_read(&f.org, |reader| {
                    let tree = Tree {
                        base: "dc=x".to_owned(),
                    };
                    let deadline = Instant::now() + Duration::from_secs(10);
                    search_within(reader, &tree, &all, page, deadline, 10)
                })
                .expect("search")
        };
        let answer = within(None);
        assert_eq!(answer.code, LdapResultCode::AdminLimitExceeded);
        assert_eq!(answer.entries.len(), 1, "one entry is always sent");
        let first = within(Some(PageRequest {
            size: 100,
            cookie: Vec::new(),
        }));
        assert_eq!(first.code, LdapResultCode::Success);
        assert_eq!(first.entries.len(), 1);
        let cookie = first.next_page.expect("a cookie");
        assert!(!cookie.is_empty(), "the page ended early, not the search");
        let second = within(Some(PageRequest { size: 100, cookie }));
        assert_eq!(second.entries[0].dn, "uid=cy,ou=people,dc=x");
    }

    #[test]
    fn bases_outside_the_tree_do_not_exist() {
        let f = fixture();
        for (base, matched) in [
            ("dc=y", ""),
            ("uid=bob,ou=people,dc=x", "ou=people,dc=x"),
            ("cn=nobody,ou=groups,dc=x", "ou=groups,dc=x"),
            ("ou=elsewhere,dc=x", "dc=x"),
            ("", ""),
        ] {
            let answer = f.search(&request(base, LdapSearchScope::Subtree, any()));
            assert_eq!(answer.code, LdapResultCode::NoSuchObject, "{base}");
            assert_eq!(answer.matched_dn, matched, "{base}");
            assert!(answer.entries.is_empty());
        }
        let answer = f.search(&request("not a dn", LdapSearchScope::Subtree, any()));
        assert_eq!(answer.code, LdapResultCode::InvalidDNSyntax);
    }

    #[test]
    fn attribute_selection_follows_star_plus_and_one_one() {
        let f = fixture();
        let names = |attrs: &[&str]| -> Vec<String> {
            let mut one = request("uid=ann,ou=people,dc=x", LdapSearchScope::Base, any());
            one.attrs = attrs.iter().map(|a| (*a).to_owned()).collect();
            f.search(&one).entries[0]
                .attributes
                .iter()
                .map(|a| a.atype.clone())
                .collect()
        };
        assert!(names(&[]).contains(&"uid".to_owned()));
        assert!(!names(&[]).contains(&"memberOf".to_owned()));
        assert_eq!(
            names(&["+"]),
            [
                "entryUUID",
                "memberOf",
                "createTimestamp",
                "modifyTimestamp"
            ]
        );
        assert_eq!(names(&["MEMBEROF"]), ["memberOf"]);
        assert!(names(&["1.1"]).is_empty());
    }

    /// Every entry of the fixture's tree, read without narrowing, in search order.
    fn everything(f: &Fixture) -> Vec<Entry> {
        let tree = Tree {
            base: "dc=x".to_owned(),
        };
        let mut entries = vec![tree.base_entry(), tree.unit("people"), tree.unit("groups")];
        f.store
            .ldap_read(&f.org, |reader| {
                let all = LdapScan {
                    filter: None,
                    after: 0,
                    with_relations: true,
                };
                reader.scan_users(all, |u| {
                    entries.push(tree.user_entry(&u));
                    true
                })?;
                reader.scan_groups(all, |g| {
                    entries.push(tree.group_entry(&g));
                    true
                })
            })
            .expect("read");
        entries
    }

    /// Comparisons that hold for some entries of the fixture, and some that hold for none.
    fn leaf() -> impl proptest::strategy::Strategy<Value = LdapFilter> {
        use proptest::prelude::*;
        let pairs = prop::sample::select(vec![
            ("uid", "ann"),
            ("UID", "BOB"),
            ("uid", "cy"),
            ("cn", "ops"),
            ("cn", "cy"),
            ("mail", "ann@x.io"),
            ("mail", "BOB@x.io"),
            ("objectClass", "person"),
            ("objectClass", "posixGroup"),
            ("objectclass", "groupOfNames"),
            ("objectClass", "organizationalUnit"),
            ("objectClass", "domain"),
            ("memberOf", "cn=ops,ou=groups,dc=x"),
            ("memberOf", "cn=ops,ou=groups,dc=y"),
            ("member", "uid=ann,ou=people,dc=x"),
            ("uniqueMember", "uid=cy,ou=people,dc=x"),
            ("member", "uid=bob,ou=people,dc=x"),
            ("memberUid", "cy"),
            ("memberUid", "bob"),
            ("uidNumber", "10000"),
            ("gidNumber", "10002"),
            ("gidNumber", "10004"),
            ("gidNumber", "x"),
            ("sn", "ann"),
            ("displayName", "ann"),
            ("description", "x"),
            ("ou", "people"),
            ("dc", "x"),
            ("nothing", "x"),
        ]);
        let names = prop::sample::select(vec![
            "uid",
            "cn",
            "mail",
            "memberOf",
            "member",
            "memberUid",
            "gidNumber",
            "sn",
            "displayName",
            "description",
            "ou",
            "nothing",
        ]);
        prop_oneof![
            pairs.clone().prop_map(|(a, v)| eq(a, v)),
            names.prop_map(|a| LdapFilter::Present(a.to_owned())),
            pairs.prop_map(|(a, v)| {
                LdapFilter::Substring(
                    a.to_owned(),
                    ldap3_proto::proto::LdapSubstringFilter {
                        initial: Some(v.chars().take(1).collect()),
                        any: Vec::new(),
                        final_: None,
                    },
                )
            }),
        ]
    }

    fn filter() -> impl proptest::strategy::Strategy<Value = LdapFilter> {
        use proptest::prelude::*;
        leaf().prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(LdapFilter::And),
                prop::collection::vec(inner.clone(), 0..3).prop_map(LdapFilter::Or),
                inner.prop_map(|f| LdapFilter::Not(Box::new(f))),
            ]
        })
    }

    /// The narrowing only ever saves work: whatever the filter, a search finds exactly the
    /// entries that evaluating the filter on every entry of the tree finds.
    #[test]
    fn a_search_finds_what_evaluating_every_entry_finds() {
        use proptest::prelude::*;
        let f = fixture();
        let all = everything(&f);
        let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
            cases: 1000,
            ..ProptestConfig::default()
        });
        runner
            .run(&filter(), |filter| {
                let expected: Vec<String> = all
                    .iter()
                    .filter(|e| matches(&filter, e))
                    .map(|e| e.dn.clone())
                    .collect();
                let found = f.dns("dc=x", LdapSearchScope::Subtree, filter.clone());
                prop_assert_eq!(found, expected, "{:?}", filter);
                Ok(())
            })
            .expect("every filter");
    }
}
