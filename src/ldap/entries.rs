//! An organization's tree as LDAP entries, rendered from the same stored documents SCIM
//! renders: the base, `ou=people` and `ou=groups`, one entry per active member and one per
//! group. Revoked members (`active` false) are never read (see `store::LdapReader`), so they
//! appear nowhere: not as entries, not in `member`, `uniqueMember` or `memberUid`. Members and
//! groups with a POSIX id are also `posixAccount`/`posixGroup`; groups sharing a displayName
//! get distinct DNs ([`group_rdn`]). Members' DNs cannot collide: userNames are unique
//! case-insensitively, as DNs compare.

use serde_json::{Map, Value};

use super::dn::escape_value;
use crate::directory::member_email;
use crate::scim::schema::ENTERPRISE_USER_URN;
use crate::store::{GroupName, LdapGroup, LdapUser};

/// Attributes returned only when asked for by name or with `+`.
pub const OPERATIONAL: [&str; 4] = [
    "entryUUID",
    "createTimestamp",
    "modifyTimestamp",
    "memberOf",
];

/// One entry: its DN as rendered and its attributes in order, each with its values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub dn: String,
    pub attrs: Vec<(String, Vec<String>)>,
}

impl Entry {
    fn new(dn: String) -> Entry {
        Entry {
            dn,
            attrs: Vec::new(),
        }
    }

    /// Adds an attribute unless it has no values.
    fn add(&mut self, name: &str, values: Vec<String>) {
        if !values.is_empty() {
            self.attrs.push((name.to_owned(), values));
        }
    }

    fn add_one(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            self.add(name, vec![value.to_owned()]);
        }
    }

    /// The values of attribute `name` (case-insensitive).
    pub fn values(&self, name: &str) -> Option<&[String]> {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// The DNs of an organization's tree.
#[derive(Clone, Debug)]
pub struct Tree {
    /// The organization's base DN as rendered.
    pub base: String,
}

impl Tree {
    pub fn people(&self) -> String {
        format!("ou=people,{}", self.base)
    }

    pub fn groups(&self) -> String {
        format!("ou=groups,{}", self.base)
    }

    pub fn user_dn(&self, user_name: &str) -> String {
        format!("uid={},{}", escape_value(user_name), self.people())
    }

    pub fn group_dn(&self, display_name: &str) -> String {
        format!("cn={},{}", escape_value(display_name), self.groups())
    }

    /// The DN of a group.
    pub fn named_group_dn(&self, name: &GroupName) -> String {
        self.group_dn(&group_rdn(name))
    }

    /// The base entry: a `domain` (RFC 4524) for a `dc=` base, an `organization` for `o=`, each
    /// with the attribute its class requires (the base's first value).
    pub fn base_entry(&self) -> Entry {
        let mut entry = Entry::new(self.base.clone());
        let first = super::dn::Dn::parse(&self.base)
            .ok()
            .and_then(|dn| dn.0.first().and_then(|rdn| rdn.first()).cloned());
        let mut classes = vec!["top".to_owned()];
        if let Some((attr, _)) = &first {
            match attr.as_str() {
                "dc" => classes.push("domain".to_owned()),
                "o" => classes.push("organization".to_owned()),
                _ => classes.push("extensibleObject".to_owned()),
            }
        }
        entry.add("objectClass", classes);
        if let Some((attr, value)) = first {
            entry.add(&attr, vec![value]);
        }
        entry
    }

    /// `ou=people` or `ou=groups`.
    pub fn unit(&self, name: &str) -> Entry {
        let mut entry = Entry::new(format!("ou={name},{}", self.base));
        entry.add("objectClass", strings(&["top", "organizationalUnit"]));
        entry.add("ou", vec![name.to_owned()]);
        entry
    }

    /// A member; with a POSIX id also a `posixAccount` whose `gidNumber` is its `uidNumber`
    /// (the user-private-group convention), home `/home/<uid>` and shell `/bin/bash`.
    /// `memberOf` lists `found.groups`, read only when the search needs it.
    pub fn user_entry(&self, found: &LdapUser) -> Entry {
        let (user, posix_id) = (&found.user, found.posix_id);
        let doc = &user.attrs;
        let user_name = text(doc, "userName").unwrap_or_default();
        let name = doc.get("name").and_then(Value::as_object);
        let name_part = |key: &str| name.and_then(|n| text(n, key));
        let mut entry = Entry::new(self.user_dn(user_name));
        let mut classes = strings(&["top", "person", "organizationalPerson", "inetOrgPerson"]);
        if posix_id.is_some() {
            classes.push("posixAccount".to_owned());
        }
        entry.add("objectClass", classes);
        entry.add_one("uid", Some(user_name));
        let cn = text(doc, "displayName")
            .or_else(|| name_part("formatted"))
            .unwrap_or(user_name);
        entry.add_one("cn", Some(cn));
        // `sn` is mandatory for `person`: the family name, else the common name.
        entry.add_one("sn", Some(name_part("familyName").unwrap_or(cn)));
        entry.add_one("givenName", name_part("givenName"));
        entry.add_one("displayName", text(doc, "displayName"));
        entry.add("mail", mails(doc, user_name));
        entry.add("telephoneNumber", multi_values(doc, "phoneNumbers"));
        entry.add_one("title", text(doc, "title"));
        let enterprise = doc.get(ENTERPRISE_USER_URN).and_then(Value::as_object);
        entry.add_one(
            "employeeNumber",
            enterprise.and_then(|e| text(e, "employeeNumber")),
        );
        entry.add_one(
            "departmentNumber",
            enterprise.and_then(|e| text(e, "department")),
        );
        entry.add_one("entryUUID", Some(&user.id));
        entry.add(
            "memberOf",
            found
                .groups
                .iter()
                .map(|g| self.named_group_dn(g))
                .collect(),
        );
        entry.add_one("createTimestamp", Some(&generalized_time(&user.created_at)));
        entry.add_one("modifyTimestamp", Some(&generalized_time(&user.updated_at)));
        if let Some(id) = posix_id {
            entry.add("uidNumber", vec![id.to_string()]);
            entry.add("gidNumber", vec![id.to_string()]);
            entry.add("homeDirectory", vec![format!("/home/{user_name}")]);
            entry.add("loginShell", vec!["/bin/bash".to_owned()]);
        }
        entry
    }

    /// A group, with a POSIX id also a `posixGroup`; its `cn` values are its RDN's name
    /// ([`group_rdn`]) and, when that differs, its displayName. `member`, `uniqueMember` and
    /// `memberUid` list `found.member_names`, read only when the search needs them.
    pub fn group_entry(&self, found: &LdapGroup) -> Entry {
        let (group, posix_id) = (&found.group, found.posix_id);
        let doc = &group.attrs;
        let cn = text(doc, "displayName").unwrap_or_default();
        let rdn_name = group_rdn(&found.name);
        let rdn_name = rdn_name.as_str();
        let mut entry = Entry::new(self.group_dn(rdn_name));
        let mut classes = strings(&["top", "groupOfNames", "groupOfUniqueNames"]);
        if posix_id.is_some() {
            classes.push("posixGroup".to_owned());
        }
        entry.add("objectClass", classes);
        let mut names = vec![rdn_name.to_owned()];
        if rdn_name != cn {
            names.push(cn.to_owned());
        }
        entry.add("cn", names);
        let member_dns: Vec<String> = found.member_names.iter().map(|n| self.user_dn(n)).collect();
        entry.add("member", member_dns.clone());
        entry.add("uniqueMember", member_dns);
        entry.add("memberUid", found.member_names.clone());
        entry.add_one("description", text(doc, "description"));
        entry.add_one("entryUUID", Some(&group.id));
        entry.add_one(
            "createTimestamp",
            Some(&generalized_time(&group.created_at)),
        );
        entry.add_one(
            "modifyTimestamp",
            Some(&generalized_time(&group.updated_at)),
        );
        if let Some(id) = posix_id {
            entry.add("gidNumber", vec![id.to_string()]);
        }
        entry
    }
}

/// A group's RDN name: its displayName, except that when several groups share one (compared
/// case-insensitively, as DNs are), only the oldest keeps it and each later one is
/// `<displayName> (<SCIM id>)` — stable, and unique because ids are.
pub fn group_rdn(name: &GroupName) -> String {
    if name.shares_name_with_older {
        format!("{} ({})", name.display_name, name.id)
    } else {
        name.display_name.clone()
    }
}

/// The displayName and id a later group's RDN name (`<displayName> (<id>)`, see [`group_rdn`])
/// holds, when `rdn` has that form.
pub fn split_group_rdn(rdn: &str) -> Option<(&str, &str)> {
    rdn.strip_suffix(')')
        .and_then(|r| r.rsplit_once(" ("))
        .filter(|(_, id)| uuid::Uuid::try_parse(id).is_ok())
}

fn text<'a>(doc: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// The `value`s of a multi-valued attribute such as `phoneNumbers`, blanks skipped.
fn multi_values(doc: &Map<String, Value>, key: &str) -> Vec<String> {
    doc.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.get("value").and_then(Value::as_str))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The member email first, then every other email value (each once, case-insensitively).
fn mails(doc: &Map<String, Value>, user_name: &str) -> Vec<String> {
    let mut mails: Vec<String> = member_email(doc, user_name).into_iter().collect();
    for value in multi_values(doc, "emails") {
        if !mails.iter().any(|m| m.eq_ignore_ascii_case(&value)) {
            mails.push(value);
        }
    }
    mails
}

/// A stored timestamp (`2026-11-23T07:22:18.123Z`) as LDAP GeneralizedTime (`20261123072218Z`).
fn generalized_time(stored: &str) -> String {
    let digits: String = stored
        .chars()
        .take(19)
        .filter(char::is_ascii_digit)
        .collect();
    format!("{digits}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{StoredGroup, StoredUser};
    use serde_json::json;

    const CREATED: &str = "2026-11-23T07:22:18.123Z";

    fn doc(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn name(id: &str, display_name: &str, shares_name_with_older: bool) -> GroupName {
        GroupName {
            id: id.to_owned(),
            display_name: display_name.to_owned(),
            shares_name_with_older,
        }
    }

    fn user(id: &str, attrs: Value, groups: Vec<GroupName>, posix_id: Option<i64>) -> LdapUser {
        LdapUser {
            position: 1,
            user: StoredUser {
                id: id.to_owned(),
                attrs: doc(attrs),
                version: 1,
                created_at: CREATED.to_owned(),
                updated_at: "2026-11-24T07:22:18.123Z".to_owned(),
                groups: Vec::new(),
            },
            posix_id,
            groups,
        }
    }

    fn group(name: GroupName, members: &[&str], posix_id: Option<i64>) -> LdapGroup {
        LdapGroup {
            position: 1,
            group: StoredGroup {
                id: name.id.clone(),
                attrs: doc(json!({"displayName": name.display_name})),
                version: 1,
                created_at: CREATED.to_owned(),
                updated_at: CREATED.to_owned(),
                members: None,
            },
            name,
            posix_id,
            member_names: members.iter().map(|m| (*m).to_owned()).collect(),
        }
    }

    #[test]
    fn a_member_renders_as_an_inet_org_person() {
        let tree = Tree {
            base: "o=acme".to_owned(),
        };
        let ann = tree.user_entry(&user(
            "u1",
            json!({"userName": "Ann, Jr", "name": {"givenName": "Ann", "familyName": "Lee"},
                   "emails": [{"value": "a2@x.io"}, {"value": "ann@x.io", "primary": true}],
                   ENTERPRISE_USER_URN: {"employeeNumber": "7", "department": "R&D"}}),
            vec![name("g1", "Ops", false)],
            Some(10000),
        ));
        assert_eq!(ann.dn, "uid=Ann\\, Jr,ou=people,o=acme");
        assert_eq!(ann.values("CN"), Some(&["Ann, Jr".to_owned()][..]));
        assert_eq!(ann.values("sn"), Some(&["Lee".to_owned()][..]));
        assert_eq!(
            ann.values("mail"),
            Some(&["ann@x.io".to_owned(), "a2@x.io".to_owned()][..])
        );
        assert_eq!(
            ann.values("departmentNumber"),
            Some(&["R&D".to_owned()][..])
        );
        assert_eq!(
            ann.values("memberOf"),
            Some(&["cn=Ops,ou=groups,o=acme".to_owned()][..])
        );
        assert_eq!(
            ann.values("createTimestamp"),
            Some(&["20261123072218Z".to_owned()][..])
        );
        assert_eq!(ann.values("uidNumber"), Some(&["10000".to_owned()][..]));
        assert_eq!(ann.values("gidNumber"), Some(&["10000".to_owned()][..]));
        assert_eq!(
            ann.values("homeDirectory"),
            Some(&["/home/Ann, Jr".to_owned()][..])
        );
        let ops = tree.group_entry(&group(name("g1", "Ops", false), &["Ann, Jr"], Some(10001)));
        assert_eq!(ops.dn, "cn=Ops,ou=groups,o=acme");
        assert_eq!(ops.values("gidNumber"), Some(&["10001".to_owned()][..]));
        assert_eq!(ops.values("member"), Some(&[ann.dn.clone()][..]));
        assert_eq!(ops.values("memberUid"), Some(&["Ann, Jr".to_owned()][..]));
        assert!(
            ops.values("objectClass")
                .unwrap_or_default()
                .contains(&"posixGroup".to_owned())
        );
    }

    #[test]
    fn groups_sharing_a_name_get_distinct_stable_dns() {
        let tree = Tree {
            base: "dc=acme".to_owned(),
        };
        let later = name("g2", "ops", true);
        let ann = tree.user_entry(&user(
            "u1",
            json!({"userName": "ann"}),
            vec![later.clone()],
            None,
        ));
        let oldest = tree.group_entry(&group(name("g1", "Ops", false), &[], None));
        let later = tree.group_entry(&group(later, &["ann"], None));
        assert_eq!(oldest.dn, "cn=Ops,ou=groups,dc=acme");
        assert_eq!(later.dn, "cn=ops (g2),ou=groups,dc=acme");
        assert_eq!(
            later.values("cn"),
            Some(&["ops (g2)".to_owned(), "ops".to_owned()][..])
        );
        assert_eq!(ann.values("memberOf"), Some(&[later.dn.clone()][..]));
        assert!(
            !ann.values("objectClass")
                .unwrap_or_default()
                .contains(&"posixAccount".to_owned())
        );
    }
}
