//! An organization's tree as LDAP entries, rendered from the same stored documents SCIM
//! renders: the base, `ou=people` and `ou=groups`, one entry per active member and one per
//! group. Revoked members (`active` false) are not loaded at all, so they appear nowhere: not
//! as entries, not in `member`, `uniqueMember` or `memberUid`. Members and groups with a POSIX
//! id (`Store::posix_ids`) are also `posixAccount`/`posixGroup`; groups sharing a displayName
//! get distinct DNs ([`group_names`]). Members' DNs cannot collide: userNames are unique
//! case-insensitively, as DNs compare.
//!
//! This first slice loads an organization's entries ([`MAX_LOADED`] members and as many groups
//! at most) and the search evaluates the LDAP filter on them in memory, within the size limit;
//! compiling indexed attributes to SQL is the next slice.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::dn::escape_value;
use crate::directory::{StoredGroup, StoredUser, member_email};
use crate::scim::filter;
use crate::scim::list::ListQuery;
use crate::scim::schema::ENTERPRISE_USER_URN;
use crate::store::{PosixIds, Store, StoreError};

/// Most members, and most groups, loaded for one search.
pub const MAX_LOADED: u64 = 10_000;

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

    /// Every entry of the tree: the base, the two units, the active members and the groups.
    pub fn load(&self, store: &Store, org_id: &str) -> Result<Vec<Entry>, StoreError> {
        let active = filter::parse("active eq true")
            .map_err(|e| StoreError::InvalidFilter(e.to_string()))?;
        let users = store
            .list_users(
                org_id,
                &ListQuery {
                    filter: Some(active),
                    start_index: 1,
                    count: MAX_LOADED,
                    ..ListQuery::default()
                },
            )?
            .items;
        let groups = store
            .list_groups(
                org_id,
                &ListQuery {
                    start_index: 1,
                    count: MAX_LOADED,
                    ..ListQuery::default()
                },
                true,
            )?
            .items;
        let posix = store.posix_ids(org_id)?;
        Ok(self.render(&users, &groups, &posix))
    }

    /// Renders the tree from active members and groups.
    pub fn render(
        &self,
        users: &[StoredUser],
        groups: &[StoredGroup],
        posix: &PosixIds,
    ) -> Vec<Entry> {
        let user_names: HashMap<&str, &str> = users
            .iter()
            .map(|u| {
                (
                    u.id.as_str(),
                    text(&u.attrs, "userName").unwrap_or_default(),
                )
            })
            .collect();
        let group_names = group_names(groups);
        let group_dns: HashMap<&str, String> = group_names
            .iter()
            .map(|(id, name)| (*id, self.group_dn(name)))
            .collect();
        let mut entries = vec![self.base_entry(), self.unit("people"), self.unit("groups")];
        entries.extend(
            users
                .iter()
                .map(|u| self.user_entry(u, &group_dns, posix.users.get(&u.id).copied())),
        );
        entries.extend(groups.iter().map(|g| {
            let name = group_names.get(g.id.as_str()).map_or("", String::as_str);
            let posix_id = posix.groups.get(&g.id).copied();
            self.group_entry(g, name, &user_names, posix_id)
        }));
        entries
    }

    fn base_entry(&self) -> Entry {
        let mut entry = Entry::new(self.base.clone());
        let first = super::dn::Dn::parse(&self.base)
            .ok()
            .and_then(|dn| dn.0.first().and_then(|rdn| rdn.first()).cloned());
        let mut classes = vec!["top".to_owned()];
        if let Some((attr, _)) = &first {
            match attr.as_str() {
                "dc" => classes.extend(["dcObject".to_owned(), "organization".to_owned()]),
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

    fn unit(&self, name: &str) -> Entry {
        let mut entry = Entry::new(format!("ou={name},{}", self.base));
        entry.add("objectClass", strings(&["top", "organizationalUnit"]));
        entry.add("ou", vec![name.to_owned()]);
        entry
    }

    /// A member; with a POSIX id also a `posixAccount` whose `gidNumber` is its `uidNumber`
    /// (the user-private-group convention), home `/home/<uid>` and shell `/bin/bash`.
    fn user_entry(
        &self,
        user: &StoredUser,
        group_dns: &HashMap<&str, String>,
        posix_id: Option<i64>,
    ) -> Entry {
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
            user.groups
                .iter()
                .filter_map(|g| group_dns.get(g.id.as_str()).cloned())
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

    /// A group named `rdn_name` (its displayName, or the disambiguated name of
    /// [`group_names`]); with a POSIX id also a `posixGroup`.
    fn group_entry(
        &self,
        group: &StoredGroup,
        rdn_name: &str,
        user_names: &HashMap<&str, &str>,
        posix_id: Option<i64>,
    ) -> Entry {
        let doc = &group.attrs;
        let cn = text(doc, "displayName").unwrap_or_default();
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
        let member_names: Vec<&str> = group
            .members
            .iter()
            .flatten()
            .filter_map(|m| user_names.get(m.user_id.as_str()).copied())
            .collect();
        let member_dns: Vec<String> = member_names.iter().map(|n| self.user_dn(n)).collect();
        entry.add("member", member_dns.clone());
        entry.add("uniqueMember", member_dns);
        entry.add(
            "memberUid",
            member_names.iter().map(|n| (*n).to_owned()).collect(),
        );
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

/// Each group's RDN name: its displayName, except that when several groups share one
/// (compared case-insensitively, as DNs are), only the oldest keeps it and each later one is
/// `<displayName> (<SCIM id>)` — stable, and unique because ids are. `groups` is in creation
/// order.
fn group_names(groups: &[StoredGroup]) -> HashMap<&str, String> {
    let mut taken = std::collections::HashSet::new();
    groups
        .iter()
        .map(|g| {
            let name = text(&g.attrs, "displayName").unwrap_or_default();
            let rdn = if taken.insert(name.to_lowercase()) {
                name.to_owned()
            } else {
                format!("{name} ({})", g.id)
            };
            (g.id.as_str(), rdn)
        })
        .collect()
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
    use crate::directory::GroupRef;
    use serde_json::json;

    fn user(id: &str, doc: Value, groups: Vec<GroupRef>) -> StoredUser {
        StoredUser {
            id: id.to_owned(),
            attrs: doc.as_object().cloned().unwrap_or_default(),
            version: 1,
            created_at: "2026-11-23T07:22:18.123Z".to_owned(),
            updated_at: "2026-11-24T07:22:18.123Z".to_owned(),
            groups,
        }
    }

    #[test]
    fn a_member_renders_as_an_inet_org_person() {
        let tree = Tree {
            base: "o=acme".to_owned(),
        };
        let ann = user(
            "u1",
            json!({"userName": "Ann, Jr", "name": {"givenName": "Ann", "familyName": "Lee"},
                   "emails": [{"value": "a2@x.io"}, {"value": "ann@x.io", "primary": true}],
                   ENTERPRISE_USER_URN: {"employeeNumber": "7", "department": "R&D"}}),
            vec![GroupRef {
                id: "g1".to_owned(),
                display: "Ops".to_owned(),
            }],
        );
        let group = StoredGroup {
            id: "g1".to_owned(),
            attrs: json!({"displayName": "Ops"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            version: 1,
            created_at: "2026-11-23T07:22:18.123Z".to_owned(),
            updated_at: "2026-11-23T07:22:18.123Z".to_owned(),
            members: Some(vec![crate::directory::Member {
                user_id: "u1".to_owned(),
                display: "Ann".to_owned(),
            }]),
        };
        let posix = PosixIds {
            users: [("u1".to_owned(), 10000)].into(),
            groups: [("g1".to_owned(), 10001)].into(),
        };
        let entries = tree.render(&[ann], &[group], &posix);
        let ann = &entries[3];
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
        assert_eq!(
            ann.values("homeDirectory"),
            Some(&["/home/Ann, Jr".to_owned()][..])
        );
        let ops = &entries[4];
        assert_eq!(ops.values("gidNumber"), Some(&["10001".to_owned()][..]));
        assert_eq!(ops.values("member"), Some(&[ann.dn.clone()][..]));
        assert_eq!(ops.values("memberUid"), Some(&["Ann, Jr".to_owned()][..]));
    }

    fn group(id: &str, name: &str, members: &[&str]) -> StoredGroup {
        StoredGroup {
            id: id.to_owned(),
            attrs: json!({"displayName": name})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            version: 1,
            created_at: "2026-11-23T07:22:18.123Z".to_owned(),
            updated_at: "2026-11-23T07:22:18.123Z".to_owned(),
            members: Some(
                members
                    .iter()
                    .map(|m| crate::directory::Member {
                        user_id: (*m).to_owned(),
                        display: String::new(),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn groups_sharing_a_name_get_distinct_stable_dns() {
        let tree = Tree {
            base: "dc=acme".to_owned(),
        };
        let ann = user(
            "u1",
            json!({"userName": "ann"}),
            vec![GroupRef {
                id: "g2".to_owned(),
                display: "ops".to_owned(),
            }],
        );
        let groups = [group("g1", "Ops", &[]), group("g2", "ops", &["u1"])];
        let entries = tree.render(&[ann], &groups, &PosixIds::default());
        assert_eq!(entries[4].dn, "cn=Ops,ou=groups,dc=acme");
        assert_eq!(entries[5].dn, "cn=ops (g2),ou=groups,dc=acme");
        assert_eq!(
            entries[5].values("cn"),
            Some(&["ops (g2)".to_owned(), "ops".to_owned()][..])
        );
        assert_eq!(
            entries[3].values("memberOf"),
            Some(&[entries[5].dn.clone()][..])
        );
        assert!(
            !entries[3]
                .values("objectClass")
                .unwrap_or_default()
                .contains(&"posixAccount".to_owned())
        );
    }
}
