//! Narrowing an LDAP filter to the members or groups the store must read: each LDAP filter
//! becomes, per kind of entry, a SCIM filter ([`crate::scim::filter::Filter`]) that selects a
//! superset of the entries it can match, compiled to SQL by the same compiler SCIM's own
//! filters use. Attributes with an index become index lookups: `uid` (userName), `mail`
//! (email values), `cn` and `displayName` (displayName), `entryUUID` (id), `memberOf`,
//! `member`/`uniqueMember`/`memberUid` (membership, after the DN or name is looked up) and
//! `uidNumber`/`gidNumber` (POSIX ids, looked up the same way); `objectClass` and attributes a
//! kind of entry lacks decide a kind wholesale. Anything else narrows nothing.
//!
//! The search still evaluates the whole LDAP filter on every rendered entry
//! ([`super::filter::matches`]), so a narrowing only has to be a superset; it also says when it
//! is exact, because only an exact narrowing may be negated (`(!(uid=ann))` reads all members
//! but one; `(!(sn=Lee))` must read them all).

use ldap3_proto::proto::{LdapFilter, LdapSubstringFilter};

use super::entries::split_group_rdn;
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter, MAX_TERMS};
use crate::store::StoreError;

/// Which kind of entry a narrowing is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Users,
    Groups,
}

/// Attributes a member entry may have (lower case).
const USER_ATTRIBUTES: [&str; 19] = [
    "objectclass",
    "uid",
    "cn",
    "sn",
    "givenname",
    "displayname",
    "mail",
    "telephonenumber",
    "title",
    "employeenumber",
    "departmentnumber",
    "entryuuid",
    "memberof",
    "createtimestamp",
    "modifytimestamp",
    "uidnumber",
    "gidnumber",
    "homedirectory",
    "loginshell",
];

/// Attributes a group entry may have (lower case).
const GROUP_ATTRIBUTES: [&str; 10] = [
    "objectclass",
    "cn",
    "member",
    "uniquemember",
    "memberuid",
    "description",
    "entryuuid",
    "createtimestamp",
    "modifytimestamp",
    "gidnumber",
];

/// Object classes every member, or every group, has (lower case).
const USER_CLASSES: [&str; 5] = [
    "top",
    "person",
    "organizationalperson",
    "inetorgperson",
    "posixaccount",
];
const GROUP_CLASSES: [&str; 4] = ["top", "groupofnames", "groupofuniquenames", "posixgroup"];

/// An entry a filter value names, to be looked up in the organization (active members only).
#[derive(Debug, PartialEq, Eq)]
pub enum Reference<'a> {
    /// A member's DN (`uid=…,ou=people,<base>`).
    UserDn(&'a str),
    /// A member's userName.
    UserName(&'a str),
    /// A member's POSIX id.
    UserNumber(i64),
    /// A group's DN (`cn=…,ou=groups,<base>`).
    GroupDn(&'a str),
    /// A group's POSIX id.
    GroupNumber(i64),
}

/// The entries of one kind a filter may match.
#[derive(Clone, Debug, PartialEq)]
pub enum Selection {
    /// None: the kind need not be read.
    Nothing,
    /// Every entry of the kind.
    Everything,
    /// Those the SCIM filter selects.
    Matching(Filter),
}

#[derive(Debug)]
struct Narrowed {
    selection: Selection,
    /// Whether `selection` is exactly the entries the LDAP filter matches.
    exact: bool,
}

impl Narrowed {
    fn exact(selection: Selection) -> Narrowed {
        Narrowed {
            selection,
            exact: true,
        }
    }

    fn superset(selection: Selection) -> Narrowed {
        Narrowed {
            selection,
            exact: false,
        }
    }
}

/// The entries of `kind` that `filter` may match; `lookup` finds the SCIM id of an entry a
/// value names. A narrowing with more than [`MAX_TERMS`] comparisons (the SCIM filter's own
/// bound) narrows nothing instead.
pub fn narrow(
    filter: &LdapFilter,
    kind: Kind,
    lookup: &mut dyn FnMut(Reference<'_>) -> Result<Option<String>, StoreError>,
) -> Result<Selection, StoreError> {
    let selection = Narrower { kind, lookup }.narrow(filter)?.selection;
    Ok(match selection {
        Selection::Matching(f) if terms(&f) > MAX_TERMS => Selection::Everything,
        other => other,
    })
}

/// Whether `filter` tests attribute `name`, so that an entry must carry it to be evaluated.
pub fn mentions(filter: &LdapFilter, name: &str) -> bool {
    match filter {
        LdapFilter::And(all) | LdapFilter::Or(all) => all.iter().any(|f| mentions(f, name)),
        LdapFilter::Not(inner) => mentions(inner, name),
        LdapFilter::Equality(attr, _)
        | LdapFilter::Approx(attr, _)
        | LdapFilter::GreaterOrEqual(attr, _)
        | LdapFilter::LessOrEqual(attr, _)
        | LdapFilter::Substring(attr, _)
        | LdapFilter::Present(attr) => attr.eq_ignore_ascii_case(name),
        LdapFilter::Extensible(_) => false,
    }
}

struct Narrower<'l> {
    kind: Kind,
    lookup: &'l mut dyn FnMut(Reference<'_>) -> Result<Option<String>, StoreError>,
}

impl Narrower<'_> {
    fn narrow(&mut self, filter: &LdapFilter) -> Result<Narrowed, StoreError> {
        Ok(match filter {
            LdapFilter::And(all) => {
                let mut exact = true;
                let mut parts = Vec::new();
                for f in all {
                    let n = self.narrow(f)?;
                    exact &= n.exact;
                    match n.selection {
                        Selection::Nothing => return Ok(Narrowed { exact, ..n }),
                        Selection::Everything => {}
                        Selection::Matching(f) => parts.push(f),
                    }
                }
                Narrowed {
                    selection: combine(parts, Filter::And, Selection::Everything),
                    exact,
                }
            }
            LdapFilter::Or(any) => {
                let mut exact = true;
                let mut parts = Vec::new();
                for f in any {
                    let n = self.narrow(f)?;
                    exact &= n.exact;
                    match n.selection {
                        Selection::Nothing => {}
                        Selection::Everything => return Ok(Narrowed { exact, ..n }),
                        Selection::Matching(f) => parts.push(f),
                    }
                }
                Narrowed {
                    selection: combine(parts, Filter::Or, Selection::Nothing),
                    exact,
                }
            }
            LdapFilter::Not(inner) => match self.narrow(inner)? {
                Narrowed {
                    selection,
                    exact: true,
                } => Narrowed::exact(match selection {
                    Selection::Nothing => Selection::Everything,
                    Selection::Everything => Selection::Nothing,
                    Selection::Matching(f) => Selection::Matching(Filter::Not(Box::new(f))),
                }),
                Narrowed { exact: false, .. } => Narrowed::superset(Selection::Everything),
            },
            // Undefined whatever the entry: matches nothing, and neither does its negation.
            LdapFilter::Extensible(_) => Narrowed::superset(Selection::Nothing),
            LdapFilter::Present(attr) => self.present(&attr.to_lowercase()),
            LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => {
                self.equality(&attr.to_lowercase(), value)?
            }
            LdapFilter::Substring(attr, parts) => self.substring(&attr.to_lowercase(), parts),
            LdapFilter::GreaterOrEqual(attr, _) | LdapFilter::LessOrEqual(attr, _) => {
                self.unindexed(&attr.to_lowercase())
            }
        })
    }

    fn has(&self, attr: &str) -> bool {
        match self.kind {
            Kind::Users => USER_ATTRIBUTES.contains(&attr),
            Kind::Groups => GROUP_ATTRIBUTES.contains(&attr),
        }
    }

    /// A test on an attribute without an index: every entry that has it may match.
    fn unindexed(&self, attr: &str) -> Narrowed {
        if self.has(attr) {
            Narrowed::superset(Selection::Everything)
        } else {
            // A test on an attribute the entry lacks is false (RFC 4511 §4.5.1.7).
            Narrowed::exact(Selection::Nothing)
        }
    }

    fn present(&self, attr: &str) -> Narrowed {
        let always = match self.kind {
            Kind::Users => ["objectclass", "uid", "cn", "sn", "entryuuid"].contains(&attr),
            Kind::Groups => ["objectclass", "cn", "entryuuid"].contains(&attr),
        };
        if always {
            Narrowed::exact(Selection::Everything)
        } else {
            self.unindexed(attr)
        }
    }

    fn equality(&mut self, attr: &str, value: &str) -> Result<Narrowed, StoreError> {
        if !self.has(attr) {
            return Ok(Narrowed::exact(Selection::Nothing));
        }
        let users = self.kind == Kind::Users;
        Ok(match attr {
            "objectclass" => {
                let classes: &[&str] = if users { &USER_CLASSES } else { &GROUP_CLASSES };
                if classes.contains(&value.to_lowercase().as_str()) {
                    Narrowed::exact(Selection::Everything)
                } else {
                    Narrowed::exact(Selection::Nothing)
                }
            }
            "uid" => Narrowed::exact(Selection::Matching(eq("userName", None, value))),
            "displayname" => Narrowed::exact(Selection::Matching(eq("displayName", None, value))),
            "mail" => {
                Narrowed::superset(Selection::Matching(mail(|path, sub| eq(path, sub, value))))
            }
            "cn" if users => Narrowed::superset(Selection::Matching(user_cn(|path, sub| {
                eq(path, sub, value)
            }))),
            "cn" => Narrowed::superset(Selection::Matching(group_cn(value))),
            "entryuuid" => {
                Narrowed::superset(Selection::Matching(eq("id", None, &value.to_lowercase())))
            }
            "memberof" => self.member_test("groups", Reference::GroupDn(value))?,
            "member" | "uniquemember" => self.member_test("members", Reference::UserDn(value))?,
            "memberuid" => self.member_test("members", Reference::UserName(value))?,
            "uidnumber" | "gidnumber" => match value.trim().parse::<i64>() {
                Ok(n) if users => self.id_of(Reference::UserNumber(n))?,
                Ok(n) => self.id_of(Reference::GroupNumber(n))?,
                Err(_) => Narrowed::exact(Selection::Nothing),
            },
            _ => Narrowed::superset(Selection::Everything),
        })
    }

    /// `<attr>.value eq <id of the referenced entry>`; nothing when it does not exist.
    fn member_test(
        &mut self,
        attr: &str,
        reference: Reference<'_>,
    ) -> Result<Narrowed, StoreError> {
        Ok(Narrowed::exact(match (self.lookup)(reference)? {
            Some(id) => Selection::Matching(eq(attr, Some("value"), &id)),
            None => Selection::Nothing,
        }))
    }

    /// `id eq <id of the referenced entry>`; nothing when it does not exist.
    fn id_of(&mut self, reference: Reference<'_>) -> Result<Narrowed, StoreError> {
        Ok(Narrowed::exact(match (self.lookup)(reference)? {
            Some(id) => Selection::Matching(eq("id", None, &id)),
            None => Selection::Nothing,
        }))
    }

    fn substring(&self, attr: &str, parts: &LdapSubstringFilter) -> Narrowed {
        if !self.has(attr) {
            return Narrowed::exact(Selection::Nothing);
        }
        let like = |path: &str, sub: Option<&str>| substring(path, sub, parts);
        Narrowed::superset(match (self.kind, attr) {
            (Kind::Users, "uid") => Selection::Matching(like("userName", None)),
            (Kind::Users, "mail") => Selection::Matching(mail(like)),
            (Kind::Users, "cn") => Selection::Matching(user_cn(like)),
            _ => Selection::Everything,
        })
    }
}

/// `parts` joined with `join`; `empty` when there are none.
fn combine(
    parts: Vec<Filter>,
    join: fn(Box<Filter>, Box<Filter>) -> Filter,
    empty: Selection,
) -> Selection {
    parts
        .into_iter()
        .reduce(|a, b| join(Box::new(a), Box::new(b)))
        .map_or(empty, Selection::Matching)
}

fn path(attr: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        urn: None,
        attr: attr.to_owned(),
        sub: sub.map(str::to_owned),
    }
}

fn compare(attr: &str, sub: Option<&str>, op: CompareOp, value: &str) -> Filter {
    Filter::Compare {
        path: path(attr, sub),
        op,
        value: CompValue::String(value.to_owned()),
    }
}

fn eq(attr: &str, sub: Option<&str>, value: &str) -> Filter {
    compare(attr, sub, CompareOp::Eq, value)
}

fn or(a: Filter, b: Filter) -> Filter {
    Filter::Or(Box::new(a), Box::new(b))
}

/// `mail` holds the member email (an email value, or the userName when it is an email and
/// there is none) and every email value.
fn mail(test: impl Fn(&str, Option<&str>) -> Filter) -> Filter {
    or(test("emails", Some("value")), test("userName", None))
}

/// A member's `cn` is its displayName, else its formatted name, else its userName.
fn user_cn(test: impl Fn(&str, Option<&str>) -> Filter) -> Filter {
    let no_display_name = Filter::Not(Box::new(Filter::Present(path("displayName", None))));
    or(
        or(test("displayName", None), test("userName", None)),
        Filter::And(
            Box::new(no_display_name),
            Box::new(test("name", Some("formatted"))),
        ),
    )
}

/// A group's `cn` is its displayName, and for a group that shares it with an older one also
/// `<displayName> (<id>)`.
fn group_cn(value: &str) -> Filter {
    let by_name = eq("displayName", None, value);
    match split_group_rdn(value) {
        Some((_, id)) => or(by_name, eq("id", None, &id.to_lowercase())),
        None => by_name,
    }
}

/// A substring assertion as `sw`, `co` and `ew` comparisons (a superset: `co` ignores the
/// order of the middle parts); presence when it has no part.
fn substring(attr: &str, sub: Option<&str>, parts: &LdapSubstringFilter) -> Filter {
    let mut tests = Vec::new();
    if let Some(initial) = parts.initial.as_deref().filter(|s| !s.is_empty()) {
        tests.push(compare(attr, sub, CompareOp::Sw, initial));
    }
    for any in parts.any.iter().filter(|s| !s.is_empty()) {
        tests.push(compare(attr, sub, CompareOp::Co, any));
    }
    if let Some(last) = parts.final_.as_deref().filter(|s| !s.is_empty()) {
        tests.push(compare(attr, sub, CompareOp::Ew, last));
    }
    tests
        .into_iter()
        .reduce(|a, b| Filter::And(Box::new(a), Box::new(b)))
        .unwrap_or_else(|| Filter::Present(path(attr, sub)))
}

/// The comparisons in a filter.
fn terms(filter: &Filter) -> usize {
    match filter {
        Filter::And(a, b) | Filter::Or(a, b) => terms(a) + terms(b),
        Filter::Not(inner) => terms(inner),
        Filter::ValuePath { filter, .. } => terms(filter),
        Filter::Compare { .. } | Filter::Present(_) => 1,
    }
}
