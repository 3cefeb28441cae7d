//! What the LDAP view needs beyond the directory itself: POSIX ids (`uidNumber`,
//! `gidNumber`), allocated from one counter per organization that only grows, so that a number
//! is given once and never reused — a file owned by a departed member never passes to a new one.
//! (The base DN of each organization's tree lives with the organization, `orgs.rs`.)

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::{Store, StoreError};

/// The POSIX ids of an organization's members and groups, by SCIM id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PosixIds {
    pub users: HashMap<String, i64>,
    pub groups: HashMap<String, i64>,
}

/// The next POSIX id of the organization, taken (inside the caller's transaction).
pub(super) fn allocate_posix_id(c: &Connection, org_id: &str) -> Result<i64, StoreError> {
    Ok(c.prepare_cached(
        "UPDATE organizations SET next_posix_id = next_posix_id + 1 WHERE id = ?1
             RETURNING next_posix_id - 1",
    )?
    .query_row([org_id], |r| r.get(0))?)
}

impl Store {
    /// Every member's and group's POSIX id in the organization.
    pub fn posix_ids(&self, org_id: &str) -> Result<PosixIds, StoreError> {
        self.read(|c| {
            Ok(PosixIds {
                users: ids_of(
                    c,
                    "SELECT id, posix_id FROM users WHERE org_id = ?1 AND posix_id IS NOT NULL",
                    org_id,
                )?,
                groups: ids_of(
                    c,
                    "SELECT id, posix_id FROM groups WHERE org_id = ?1 AND posix_id IS NOT NULL",
                    org_id,
                )?,
            })
        })
    }
}

fn ids_of(c: &Connection, sql: &str, org_id: &str) -> Result<HashMap<String, i64>, StoreError> {
    let mut stmt = c.prepare_cached(sql)?;
    let rows = stmt.query_map(params![org_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::store::{Actor, Store, StoreError, SyncMode, parse_ldap_base};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        (dir, store)
    }

    #[test]
    fn base_dns_are_checked_and_tidied() {
        assert_eq!(
            parse_ldap_base(" DC=Example , dc=com ").expect("dn"),
            "dc=Example,dc=com"
        );
        assert_eq!(
            parse_ldap_base("o=acme-co.lan").expect("dn"),
            "o=acme-co.lan"
        );
        for bad in [
            "", "example", "dc=", "=x", "dc=a,", "dc=a+b", "dc=a\\,b", "1dc=a", "dc=é",
        ] {
            assert!(parse_ldap_base(bad).is_err(), "{bad}");
        }
        assert!(parse_ldap_base(&format!("dc={}", "a".repeat(200))).is_err());
    }

    #[test]
    fn organizations_get_a_unique_default_base_and_can_change_it() {
        let (_dir, store) = store();
        let a = store
            .create_org("Acme & Co", None, Actor::Cli)
            .expect("org");
        let b = store.create_org("ACME co", None, Actor::Cli).expect("org");
        let c = store.create_org("!!!", None, Actor::Cli).expect("org");
        assert_eq!(a.ldap_base_dn, "dc=acme-co");
        assert_eq!(b.ldap_base_dn, "dc=acme-co-2");
        assert_eq!(c.ldap_base_dn, "dc=org");

        let changed = store
            .set_ldap_base(&b.id, "dc=Globex, dc=com", Actor::Admin)
            .expect("set");
        assert_eq!(changed.ldap_base_dn, "dc=Globex,dc=com");
        let found = store.org_by_ldap_base("DC=globex,DC=COM").expect("lookup");
        assert_eq!(found.map(|o| o.id), Some(b.id.clone()));
        assert!(
            store
                .org_by_ldap_base("dc=nobody")
                .expect("lookup")
                .is_none()
        );
        assert!(
            store
                .org_by_ldap_base("not a dn")
                .expect("lookup")
                .is_none()
        );
        assert!(matches!(
            store.set_ldap_base(&a.id, "DC=GLOBEX,dc=com", Actor::Admin),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.set_ldap_base(&a.id, "nonsense", Actor::Admin),
            Err(StoreError::Invalid(_))
        ));
        let events = store.list_events(&b.id, 10).expect("events");
        assert!(
            events
                .iter()
                .any(|e| e.event_type == "Organization_LdapBaseChanged")
        );
    }

    #[test]
    fn posix_ids_are_allocated_once_and_never_reused() {
        let (_dir, store) = store();
        let org = store.create_org("Acme", None, Actor::Cli).expect("org").id;
        let user = |name: &str| {
            let attrs = json!({ "userName": name })
                .as_object()
                .expect("object")
                .clone();
            store.create_user(&org, "k", attrs).expect("user").id
        };
        let (a, b) = (user("a@example.com"), user("b@example.com"));
        let ids = store.posix_ids(&org).expect("ids");
        assert_eq!((ids.users[&a], ids.users[&b]), (10000, 10001));
        store
            .delete_user(&org, &b, "k", |_| Ok::<(), StoreError>(()))
            .expect("deleted");
        let c = user("c@example.com");
        let ids = store.posix_ids(&org).expect("ids");
        assert_eq!(ids.users[&c], 10002, "b's number is not given again");
        assert!(!ids.users.contains_key(&b));
        assert!(ids.groups.is_empty());
    }
}
