//! The LDAP front door, driven by LDAP clients against the real server: a small client on
//! `ldap3_proto`'s codec (always), and OpenLDAP's `ldapsearch`/`ldapwhoami` when installed.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use ldap3_proto::control::LdapControl;
use ldap3_proto::proto::{
    LdapBindCred, LdapBindRequest, LdapDerefAliases, LdapExtendedRequest, LdapFilter, LdapMsg,
    LdapOp, LdapResult, LdapResultCode, LdapSearchRequest, LdapSearchResultEntry, LdapSearchScope,
};
use ldap3_proto::{LdapCodec, parse_ldap_filter_str};
use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::codec::Framed;

use crate::helpers::{TestApp, TestOrg, spawn_app_configured};

/// A server with LDAP on, an organization with two members and a group, and a read key.
pub(crate) struct Directory {
    pub(crate) app: TestApp,
    pub(crate) org: TestOrg,
    pub(crate) base: String,
    pub(crate) read_key: String,
    pub(crate) read_key_id: String,
    ann_id: String,
    pub(crate) ldap: SocketAddr,
}

impl Directory {
    pub(crate) fn service_dn(&self) -> String {
        format!("cn={},{}", self.read_key_id, self.base)
    }

    pub(crate) fn user_dn(&self, uid: &str) -> String {
        format!("uid={uid},ou=people,{}", self.base)
    }

    /// The read key with its last character changed.
    pub(crate) fn wrong_key(&self) -> String {
        let (kept, last) = self.read_key.split_at(self.read_key.len() - 1);
        format!("{kept}{}", if last == "x" { "y" } else { "x" })
    }

    /// A connection bound as the read key's service account.
    pub(crate) async fn bound(&self) -> Client {
        let mut client = Client::connect(self.ldap).await;
        let result = client.bind(&self.service_dn(), &self.read_key).await;
        assert_eq!(result.code, LdapResultCode::Success, "{result:?}");
        client
    }

    async fn set_active(&self, id: &str, active: bool) {
        let (status, _) = self
            .app
            .call(
                &self.org,
                Method::PATCH,
                &format!("Users/{id}"),
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"active": active}}]
                })),
            )
            .await;
        assert_eq!(status, 200);
    }
}

pub(crate) fn read_key(app: &TestApp, org: &str) -> (String, String) {
    let out = app.cli(&[
        "org", "key", "add", org, "--name", "ldap", "--scope", "read", "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let added: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    (
        added["api_key"].as_str().expect("api_key").to_owned(),
        added["key"]["key_id"].as_str().expect("key_id").to_owned(),
    )
}

async fn directory() -> Directory {
    directory_configured(|_| {}).await
}

/// [`directory`] on a server whose configuration `adjust` changes too.
pub(crate) async fn directory_configured(
    adjust: impl FnOnce(&mut scim_appliance::config::ServeConfig),
) -> Directory {
    let app = spawn_app_configured(TempDir::new().expect("temp dir"), None, |config| {
        config.ldap_listen = Some("127.0.0.1:0".to_owned());
        adjust(config);
    })
    .await;
    let ldap = app.ldap_addr.expect("LDAP is listening");
    let org = app.create_org("Acme");
    let (read_key, read_key_id) = read_key(&app, &org.id);
    let base = app.state.store.get_org(&org.id).expect("org").ldap_base_dn;
    let ann = app
        .create_user(
            &org,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ann",
                "displayName": "Ann Lee",
                "name": {"givenName": "Ann", "familyName": "Lee"},
                "emails": [{"value": "ann@acme.test", "primary": true},
                           {"value": "ann.lee@home.test"}],
            }),
        )
        .await;
    app.create_user(
        &org,
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "bob",
            "emails": [{"value": "bob@acme.test"}],
        }),
    )
    .await;
    let ann_id = ann["id"].as_str().expect("id").to_owned();
    let (status, _) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Ops",
                "members": [{"value": ann_id}],
            })),
        )
        .await;
    assert_eq!(status, 201);
    Directory {
        app,
        org,
        base,
        read_key,
        read_key_id,
        ann_id,
        ldap,
    }
}

/// A minimal LDAP client: one request at a time, on `ldap3_proto`'s codec, over TCP or TLS.
pub(crate) struct Client<S = TcpStream> {
    framed: Framed<S, LdapCodec>,
    next_id: i32,
}

impl Client {
    pub(crate) async fn connect(addr: SocketAddr) -> Client {
        Client::over(TcpStream::connect(addr).await.expect("LDAP connects"))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
    /// A client on a connected stream.
    pub(crate) fn over(stream: S) -> Client<S> {
        Client {
            framed: Framed::new(stream, LdapCodec::default()),
            next_id: 1,
        }
    }

    /// Sends a request and reads its replies up to the first that is not a search entry.
    pub(crate) async fn request(&mut self, op: LdapOp, ctrl: Vec<LdapControl>) -> Vec<LdapMsg> {
        let id = self.next_id;
        self.next_id += 1;
        self.framed
            .send(LdapMsg::new_with_ctrls(id, op, ctrl))
            .await
            .expect("sent");
        let mut replies = Vec::new();
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.framed.next())
                .await
                .expect("a reply in time")
                .expect("the connection stays open")
                .expect("a valid message");
            let done = !matches!(msg.op, LdapOp::SearchResultEntry(_));
            replies.push(msg);
            if done {
                return replies;
            }
        }
    }

    /// Sends an unbind (which has no answer) and waits until the server has closed.
    pub(crate) async fn unbind(mut self) {
        let id = self.next_id;
        self.framed
            .send(LdapMsg::new(id, LdapOp::UnbindRequest))
            .await
            .expect("sent");
        let end = tokio::time::timeout(Duration::from_secs(10), self.framed.next())
            .await
            .expect("closed in time");
        assert!(end.is_none(), "no answer: {end:?}");
    }

    pub(crate) async fn bind(&mut self, dn: &str, password: &str) -> LdapResult {
        let op = LdapOp::BindRequest(LdapBindRequest {
            dn: dn.to_owned(),
            cred: LdapBindCred::Simple(password.to_owned()),
        });
        match self.request(op, Vec::new()).await.pop().map(|m| m.op) {
            Some(LdapOp::BindResponse(response)) => response.res,
            other => panic!("not a bind response: {other:?}"),
        }
    }

    async fn search_paged(
        &mut self,
        base: &str,
        scope: LdapSearchScope,
        filter: LdapFilter,
        attrs: &[&str],
        ctrl: Vec<LdapControl>,
    ) -> (Vec<LdapSearchResultEntry>, LdapResult, Vec<LdapControl>) {
        let op = LdapOp::SearchRequest(LdapSearchRequest {
            base: base.to_owned(),
            scope,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
        });
        let mut entries = Vec::new();
        for msg in self.request(op, ctrl).await {
            match msg.op {
                LdapOp::SearchResultEntry(entry) => entries.push(entry),
                LdapOp::SearchResultDone(result) => return (entries, result, msg.ctrl),
                other => panic!("unexpected reply {other:?}"),
            }
        }
        panic!("no SearchResultDone")
    }

    pub(crate) async fn search(
        &mut self,
        base: &str,
        scope: LdapSearchScope,
        filter: &str,
        attrs: &[&str],
    ) -> (Vec<LdapSearchResultEntry>, LdapResult) {
        let (entries, result, _) = self
            .search_paged(base, scope, parse(filter), attrs, Vec::new())
            .await;
        (entries, result)
    }

    /// The DNs a subtree search from `base` finds.
    pub(crate) async fn dns(&mut self, base: &str, filter: &str) -> Vec<String> {
        self.dns_where(base, parse(filter)).await
    }

    async fn dns_where(&mut self, base: &str, filter: LdapFilter) -> Vec<String> {
        let (entries, result, _) = self
            .search_paged(base, LdapSearchScope::Subtree, filter, &["1.1"], Vec::new())
            .await;
        assert_eq!(result.code, LdapResultCode::Success, "{result:?}");
        entries.into_iter().map(|e| e.dn).collect()
    }

    pub(crate) async fn whoami(&mut self) -> String {
        let op = LdapOp::ExtendedRequest(LdapExtendedRequest {
            name: "1.3.6.1.4.1.4203.1.11.3".to_owned(),
            value: None,
        });
        match self.request(op, Vec::new()).await.pop().map(|m| m.op) {
            Some(LdapOp::ExtendedResponse(response)) => {
                assert_eq!(response.res.code, LdapResultCode::Success);
                String::from_utf8(response.value.unwrap_or_default()).expect("UTF-8")
            }
            other => panic!("not an extended response: {other:?}"),
        }
    }
}

/// A filter from its string form (which cannot hold `=` in values: see [`eq`]).
fn parse(filter: &str) -> LdapFilter {
    parse_ldap_filter_str(filter).expect("a valid filter")
}

/// `(attr=value)`, for values the string form cannot hold (DNs).
fn eq(attr: &str, value: &str) -> LdapFilter {
    LdapFilter::Equality(attr.to_owned(), value.to_owned())
}

pub(crate) fn values(entry: &LdapSearchResultEntry, name: &str) -> Vec<String> {
    entry
        .attributes
        .iter()
        .filter(|a| a.atype.eq_ignore_ascii_case(name))
        .flat_map(|a| a.vals.iter())
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[tokio::test]
async fn a_read_key_binds_as_its_service_account() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    assert_eq!(client.whoami().await, format!("dn:{}", dir.service_dn()));
}

#[tokio::test]
async fn a_provision_key_is_refused_with_a_reason() {
    let dir = directory().await;
    let key_id = scim_appliance::auth::api_key::key_id_of(&dir.org.key).expect("a key id");
    let mut client = Client::connect(dir.ldap).await;
    let result = client
        .bind(&format!("cn={key_id},{}", dir.base), &dir.org.key)
        .await;
    assert_eq!(result.code, LdapResultCode::InvalidCredentials);
    assert!(result.message.contains("read key"), "{}", result.message);
    assert_eq!(client.whoami().await, "");
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let dir = directory().await;
    let mut client = Client::connect(dir.ldap).await;
    let wrong = dir.wrong_key();
    let result = client.bind(&dir.service_dn(), &wrong).await;
    assert_eq!(result.code, LdapResultCode::InvalidCredentials);
    let result = client.bind(&dir.service_dn(), "not a key").await;
    assert_eq!(result.code, LdapResultCode::InvalidCredentials);
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_as_on_http() {
    let dir = directory().await;
    let mut client = Client::connect(dir.ldap).await;
    let wrong = dir.wrong_key();
    let mut codes = Vec::new();
    for _ in 0..21 {
        codes.push(client.bind(&dir.service_dn(), &wrong).await);
    }
    assert!(
        codes[..20]
            .iter()
            .all(|r| r.code == LdapResultCode::InvalidCredentials)
    );
    assert_eq!(codes[20].code, LdapResultCode::UnwillingToPerform);
    assert!(
        codes[20].message.contains("too many"),
        "{}",
        codes[20].message
    );
}

#[tokio::test]
async fn another_organizations_key_is_refused() {
    let dir = directory().await;
    let other = dir.app.create_org("Globex");
    let (other_key, other_key_id) = read_key(&dir.app, &other.id);
    let mut client = Client::connect(dir.ldap).await;
    // The other key under this organization's base, and this key id with the other secret.
    let result = client
        .bind(&format!("cn={other_key_id},{}", dir.base), &other_key)
        .await;
    assert_eq!(result.code, LdapResultCode::InvalidCredentials);
    let result = client.bind(&dir.service_dn(), &other_key).await;
    assert_eq!(result.code, LdapResultCode::InvalidCredentials);
}

#[tokio::test]
async fn a_revoked_key_is_refused() {
    let dir = directory().await;
    let out = dir
        .app
        .cli(&["org", "key", "revoke", &dir.org.id, &dir.read_key_id]);
    assert!(out.status.success(), "{out:?}");
    let mut client = Client::connect(dir.ldap).await;
    let result = client.bind(&dir.service_dn(), &dir.read_key).await;
    assert_eq!(result.code, LdapResultCode::InvalidCredentials);
}

#[tokio::test]
async fn members_cannot_bind_yet() {
    let dir = directory().await;
    let mut client = Client::connect(dir.ldap).await;
    let result = client.bind(&dir.user_dn("ann"), "anything").await;
    assert_eq!(result.code, LdapResultCode::InvalidCredentials);
    assert_eq!(
        result.message,
        "members cannot bind yet (no member has a password)"
    );
}

#[tokio::test]
async fn the_root_dse_says_what_is_supported() {
    let dir = directory().await;
    let mut anonymous = Client::connect(dir.ldap).await;
    let (entries, result) = anonymous
        .search("", LdapSearchScope::Base, "(objectClass=*)", &[])
        .await;
    assert_eq!(result.code, LdapResultCode::Success);
    let dse = &entries[0];
    assert_eq!(values(dse, "supportedLDAPVersion"), ["3"]);
    assert_eq!(values(dse, "supportedControl"), ["1.2.840.113556.1.4.319"]);
    assert_eq!(
        values(dse, "supportedExtension"),
        ["1.3.6.1.4.1.4203.1.11.3"]
    );
    assert_eq!(values(dse, "vendorName"), ["scim-appliance"]);
    assert!(values(dse, "namingContexts").is_empty());

    let mut bound = dir.bound().await;
    let (entries, _) = bound
        .search(
            "",
            LdapSearchScope::Base,
            "(objectClass=*)",
            &["namingContexts"],
        )
        .await;
    assert_eq!(
        values(&entries[0], "namingContexts"),
        std::slice::from_ref(&dir.base)
    );
    assert_eq!(entries[0].attributes.len(), 1);
}

#[tokio::test]
async fn anonymous_connections_see_only_the_root_dse() {
    let dir = directory().await;
    let mut client = Client::connect(dir.ldap).await;
    let (entries, result) = client
        .search(&dir.base, LdapSearchScope::Subtree, "(objectClass=*)", &[])
        .await;
    assert!(entries.is_empty());
    assert_eq!(result.code, LdapResultCode::InsufficentAccessRights);
}

#[tokio::test]
async fn members_are_found_by_uid_mail_and_object_class() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let ann = dir.user_dn("ann");
    assert_eq!(
        client.dns(&dir.base, "(uid=ANN)").await,
        std::slice::from_ref(&ann)
    );
    assert_eq!(
        client.dns(&dir.base, "(mail=ann.lee@home.test)").await,
        std::slice::from_ref(&ann)
    );
    assert_eq!(
        client
            .dns(
                &dir.base,
                "(&(objectClass=inetOrgPerson)(mail=*@acme.test))"
            )
            .await,
        [ann.clone(), dir.user_dn("bob")]
    );

    let (entries, _) = client
        .search(&ann, LdapSearchScope::Base, "(objectClass=*)", &["*", "+"])
        .await;
    let entry = &entries[0];
    assert_eq!(values(entry, "cn"), ["Ann Lee"]);
    assert_eq!(values(entry, "sn"), ["Lee"]);
    assert_eq!(
        values(entry, "mail"),
        ["ann@acme.test", "ann.lee@home.test"]
    );
    assert_eq!(
        values(entry, "entryUUID"),
        std::slice::from_ref(&dir.ann_id)
    );
    assert!(values(entry, "objectClass").contains(&"posixAccount".to_owned()));
    assert_eq!(values(entry, "homeDirectory"), ["/home/ann"]);
    assert_eq!(values(entry, "uidNumber").len(), 1);
    assert_eq!(
        values(entry, "memberOf"),
        [format!("cn=Ops,ou=groups,{}", dir.base)]
    );

    // Operational attributes only when asked for.
    let (entries, _) = client
        .search(&ann, LdapSearchScope::Base, "(objectClass=*)", &[])
        .await;
    assert!(values(&entries[0], "entryUUID").is_empty());
    assert!(values(&entries[0], "memberOf").is_empty());
    let (entries, _) = client
        .search(&ann, LdapSearchScope::Base, "(objectClass=*)", &["MAIL"])
        .await;
    assert_eq!(entries[0].attributes.len(), 1);
}

#[tokio::test]
async fn groups_and_members_point_at_each_other() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let ann = dir.user_dn("ann");
    let ops = format!("cn=Ops,ou=groups,{}", dir.base);
    let group_of = |member: &str| {
        LdapFilter::And(vec![
            eq("objectClass", "groupOfNames"),
            eq("member", member),
        ])
    };
    assert_eq!(
        client.dns_where(&dir.base, group_of(&ann)).await,
        std::slice::from_ref(&ops)
    );
    assert!(
        client
            .dns_where(&dir.base, group_of(&dir.user_dn("bob")))
            .await
            .is_empty()
    );
    assert_eq!(
        client.dns_where(&dir.base, eq("memberOf", &ops)).await,
        std::slice::from_ref(&ann)
    );
    let (entries, _) = client
        .search(&ops, LdapSearchScope::Base, "(objectClass=*)", &[])
        .await;
    assert_eq!(
        values(&entries[0], "uniqueMember"),
        std::slice::from_ref(&ann)
    );
    assert_eq!(values(&entries[0], "memberUid"), ["ann"]);
    assert!(values(&entries[0], "objectClass").contains(&"posixGroup".to_owned()));
    // One level under ou=groups: the group only.
    let (entries, _) = client
        .search(
            &format!("ou=groups,{}", dir.base),
            LdapSearchScope::OneLevel,
            "(objectClass=*)",
            &["1.1"],
        )
        .await;
    assert_eq!(entries.len(), 1);
}

#[tokio::test]
async fn a_revoked_member_vanishes_and_restore_brings_it_back() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let ann = dir.user_dn("ann");
    let ops = format!("cn=Ops,ou=groups,{}", dir.base);
    dir.set_active(&dir.ann_id, false).await;
    assert!(client.dns(&dir.base, "(uid=ann)").await.is_empty());
    let (entries, _) = client
        .search(&ops, LdapSearchScope::Base, "(objectClass=*)", &["member"])
        .await;
    assert!(values(&entries[0], "member").is_empty());
    let (_, result) = client
        .search(&ann, LdapSearchScope::Base, "(objectClass=*)", &[])
        .await;
    assert_eq!(result.code, LdapResultCode::NoSuchObject);

    dir.set_active(&dir.ann_id, true).await;
    assert_eq!(
        client.dns(&dir.base, "(uid=ann)").await,
        std::slice::from_ref(&ann)
    );
    let (entries, _) = client
        .search(&ops, LdapSearchScope::Base, "(objectClass=*)", &["member"])
        .await;
    assert_eq!(values(&entries[0], "member"), [ann]);
}

#[tokio::test]
async fn a_bound_connection_stops_reading_once_its_key_is_revoked() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    assert_eq!(client.dns(&dir.base, "(uid=ann)").await.len(), 1);
    let out = dir
        .app
        .cli(&["org", "key", "revoke", &dir.org.id, &dir.read_key_id]);
    assert!(out.status.success(), "{out:?}");
    let (entries, result) = client
        .search(&dir.base, LdapSearchScope::Subtree, "(uid=ann)", &[])
        .await;
    assert!(entries.is_empty());
    assert_eq!(result.code, LdapResultCode::InsufficentAccessRights);
}

#[tokio::test]
async fn a_new_base_dn_applies_to_bound_connections_at_once() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let out = dir
        .app
        .cli(&["org", "set-ldap-base", &dir.org.id, "dc=example,dc=com"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        client.dns("dc=example,dc=com", "(uid=ann)").await,
        ["uid=ann,ou=people,dc=example,dc=com"]
    );
    let (dse, _) = client
        .search(
            "",
            LdapSearchScope::Base,
            "(objectClass=*)",
            &["namingContexts"],
        )
        .await;
    assert_eq!(values(&dse[0], "namingContexts"), ["dc=example,dc=com"]);
    let (_, result) = client
        .search(&dir.base, LdapSearchScope::Subtree, "(uid=ann)", &[])
        .await;
    assert_eq!(result.code, LdapResultCode::NoSuchObject);
}

#[tokio::test]
async fn renaming_a_member_or_a_group_changes_its_dn_everywhere() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let (status, _) = dir
        .app
        .call(
            &dir.org,
            Method::PATCH,
            &format!("Users/{}", dir.ann_id),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "userName", "value": "ann.lee"}]
            })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, groups) = dir.app.call(&dir.org, Method::GET, "Groups", None).await;
    assert_eq!(status, 200);
    let ops_id = groups["Resources"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let (status, _) = dir
        .app
        .call(
            &dir.org,
            Method::PATCH,
            &format!("Groups/{ops_id}"),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": "Platform"}]
            })),
        )
        .await;
    assert_eq!(status, 200);

    let ann = dir.user_dn("ann.lee");
    let platform = format!("cn=Platform,ou=groups,{}", dir.base);
    assert!(client.dns(&dir.base, "(uid=ann)").await.is_empty());
    let (entries, _) = client
        .search(
            &ann,
            LdapSearchScope::Base,
            "(objectClass=*)",
            &["memberOf"],
        )
        .await;
    assert_eq!(
        values(&entries[0], "memberOf"),
        std::slice::from_ref(&platform)
    );
    let (entries, _) = client
        .search(
            &platform,
            LdapSearchScope::Base,
            "(objectClass=*)",
            &["member", "memberUid"],
        )
        .await;
    assert_eq!(values(&entries[0], "member"), std::slice::from_ref(&ann));
    assert_eq!(values(&entries[0], "memberUid"), ["ann.lee"]);
    assert_eq!(
        client.dns_where(&dir.base, eq("member", &ann)).await,
        std::slice::from_ref(&platform)
    );
    assert_eq!(
        client.dns_where(&dir.base, eq("memberOf", &platform)).await,
        [ann]
    );
    let (_, result) = client
        .search(
            &format!("cn=Ops,ou=groups,{}", dir.base),
            LdapSearchScope::Base,
            "(objectClass=*)",
            &[],
        )
        .await;
    assert_eq!(result.code, LdapResultCode::NoSuchObject);
}

#[tokio::test]
async fn writes_are_refused() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let ann = dir.user_dn("ann");
    let replies = client
        .request(LdapOp::DelRequest(ann.clone()), Vec::new())
        .await;
    match &replies[0].op {
        LdapOp::DelResponse(result) => assert_eq!(result.code, LdapResultCode::UnwillingToPerform),
        other => panic!("{other:?}"),
    }
    let replies = client
        .request(
            LdapOp::ExtendedRequest(LdapExtendedRequest {
                name: "1.3.6.1.4.1.4203.1.11.1".to_owned(),
                value: None,
            }),
            Vec::new(),
        )
        .await;
    match &replies[0].op {
        LdapOp::ExtendedResponse(response) => {
            assert_eq!(response.res.code, LdapResultCode::UnwillingToPerform)
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.dns(&dir.base, "(uid=ann)").await, [ann]);
}

#[tokio::test]
async fn another_organizations_tree_does_not_exist() {
    let dir = directory().await;
    let other = dir.app.create_org("Globex");
    dir.app
        .create_user(
            &other,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "gus"}),
        )
        .await;
    let other_base = dir
        .app
        .state
        .store
        .get_org(&other.id)
        .expect("org")
        .ldap_base_dn;
    let mut client = dir.bound().await;
    for scope in [
        LdapSearchScope::Base,
        LdapSearchScope::OneLevel,
        LdapSearchScope::Subtree,
    ] {
        let (entries, result) = client
            .search(&other_base, scope, "(objectClass=*)", &[])
            .await;
        assert!(entries.is_empty());
        assert_eq!(result.code, LdapResultCode::NoSuchObject);
    }
    assert!(client.dns(&dir.base, "(uid=gus)").await.is_empty());
}

#[tokio::test]
async fn paged_results_return_every_entry_once() {
    let dir = directory().await;
    for i in 0..5 {
        dir.app
            .create_user(
                &dir.org,
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                       "userName": format!("user{i}")}),
            )
            .await;
    }
    let mut client = dir.bound().await;
    let mut seen = Vec::new();
    let mut cookie = Vec::new();
    for _ in 0..10 {
        let (entries, result, ctrl) = client
            .search_paged(
                &format!("ou=people,{}", dir.base),
                LdapSearchScope::OneLevel,
                parse("(objectClass=person)"),
                &["uid"],
                vec![LdapControl::SimplePagedResults { size: 3, cookie }],
            )
            .await;
        assert_eq!(result.code, LdapResultCode::Success);
        assert!(entries.len() <= 3);
        seen.extend(entries.into_iter().map(|e| e.dn));
        cookie = match ctrl.first() {
            Some(LdapControl::SimplePagedResults { cookie, .. }) => cookie.clone(),
            other => panic!("no paged results control: {other:?}"),
        };
        if cookie.is_empty() {
            break;
        }
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7));
}

#[tokio::test]
async fn garbage_closes_the_connection_and_the_server_goes_on() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = directory().await;
    let mut raw = TcpStream::connect(dir.ldap).await.expect("connects");
    raw.write_all(&[0x30, 0x05, 0xff, 0xff, 0xff, 0xff, 0xff])
        .await
        .expect("written");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection is closed");
    // A huge declared length is refused without waiting for the bytes.
    let mut raw = TcpStream::connect(dir.ldap).await.expect("connects");
    raw.write_all(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff])
        .await
        .expect("written");
    let read = tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the connection is closed");
    let mut client = dir.bound().await;
    assert_eq!(client.dns(&dir.base, "(uid=ann)").await.len(), 1);
}

/// A search of the people unit for `(objectClass=*)`, message id 50, with one control given
/// as `(oid, critical)`, encoded by hand: the protocol crate cannot mark a control it does not
/// know as critical.
fn search_with_control(people: &str, oid: &str, critical: bool) -> Vec<u8> {
    fn tlv(identifier: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![identifier];
        match u8::try_from(contents.len()) {
            Ok(short) if short < 0x80 => out.push(short),
            _ => {
                let length = u16::try_from(contents.len()).expect("a small test message");
                out.push(0x82);
                out.extend(length.to_be_bytes());
            }
        }
        out.extend_from_slice(contents);
        out
    }
    let mut request = tlv(0x04, people.as_bytes());
    for (id, byte) in [(0x0a, 1), (0x0a, 0), (0x02, 0), (0x02, 0), (0x01, 0)] {
        request.extend(tlv(id, &[byte]));
    }
    request.extend(tlv(0x87, b"objectClass"));
    request.extend(tlv(0x30, &[]));
    let mut control = tlv(0x04, oid.as_bytes());
    control.extend(tlv(0x01, &[if critical { 0xff } else { 0 }]));
    let mut message = tlv(0x02, &[50]);
    message.extend(tlv(0x63, &request));
    message.extend(tlv(0xa0, &tlv(0x30, &control)));
    tlv(0x30, &message)
}

#[tokio::test]
async fn a_critical_control_that_cannot_be_honoured_stops_the_operation() {
    use tokio::io::AsyncWriteExt;
    let dir = directory().await;
    let people = format!("ou=people,{}", dir.base);
    let mut client = dir.bound().await;
    let mut outcome = async |oid: &str, critical: bool| -> (usize, LdapResultCode) {
        let message = search_with_control(&people, oid, critical);
        client
            .framed
            .get_mut()
            .write_all(&message)
            .await
            .expect("written");
        let mut entries = 0;
        loop {
            let reply = tokio::time::timeout(Duration::from_secs(10), client.framed.next())
                .await
                .expect("a reply in time")
                .expect("the connection stays open")
                .expect("a valid message");
            assert_eq!(reply.msgid, 50);
            match reply.op {
                LdapOp::SearchResultEntry(_) => entries += 1,
                LdapOp::SearchResultDone(done) => return (entries, done.code),
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    let server_side_sort = "1.2.840.113556.1.4.473";
    assert_eq!(
        outcome(server_side_sort, true).await,
        (0, LdapResultCode::UnavailableCriticalExtension)
    );
    assert_eq!(
        outcome(server_side_sort, false).await,
        (2, LdapResultCode::Success),
        "a control that is not critical may be ignored"
    );
    let manage_dsa_it = "2.16.840.1.113730.3.4.2";
    assert_eq!(
        outcome(manage_dsa_it, true).await,
        (2, LdapResultCode::Success)
    );
}

#[tokio::test]
async fn one_client_cannot_take_every_connection() {
    use scim_appliance::ldap::server::MAX_CONNECTIONS_PER_CLIENT;
    let dir = directory().await;
    let mut held = Vec::new();
    for _ in 0..MAX_CONNECTIONS_PER_CLIENT {
        let mut client = Client::connect(dir.ldap).await;
        let (entries, _) = client
            .search("", LdapSearchScope::Base, "(objectClass=*)", &[])
            .await;
        assert_eq!(entries.len(), 1, "the root DSE");
        held.push(client);
    }
    let mut refused = TcpStream::connect(dir.ldap).await.expect("connects");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncReadExt::read_to_end(&mut refused, &mut rest),
    )
    .await;
    assert!(matches!(read, Ok(Ok(0))), "closed at once: {read:?}");
    held.pop();
    // Its place comes back once the server has seen the close.
    for _ in 0..50 {
        let mut client = Client::connect(dir.ldap).await;
        let id = client.next_id;
        client.next_id += 1;
        let sent = client
            .framed
            .send(LdapMsg::new(
                id,
                LdapOp::ExtendedRequest(LdapExtendedRequest {
                    name: scim_appliance::ldap::OID_WHOAMI.to_owned(),
                    value: None,
                }),
            ))
            .await;
        let reply = tokio::time::timeout(Duration::from_secs(5), client.framed.next()).await;
        if sent.is_ok() && matches!(reply, Ok(Some(Ok(_)))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the closed connection's place never came back");
}

/// Runs an OpenLDAP client tool, or says why the test is skipped.
pub(crate) fn openldap(tool: &str, args: &[&str]) -> Option<std::process::Output> {
    match std::process::Command::new(tool).args(args).output() {
        Ok(out) => Some(out),
        Err(_) => {
            eprintln!("skipped: `{tool}` is not installed (Debian: apt-get install ldap-utils)");
            None
        }
    }
}

#[tokio::test]
async fn openldap_clients_bind_and_search() {
    let dir = directory().await;
    let url = format!("ldap://{}", dir.ldap);
    let dn = dir.service_dn();
    let Some(out) = openldap(
        "ldapwhoami",
        &["-x", "-H", &url, "-D", &dn, "-w", &dir.read_key],
    ) else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("dn:{dn}")
    );

    let out = openldap(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &url,
            "-D",
            &dn,
            "-w",
            &dir.read_key,
            "-b",
            &dir.base,
            "(&(objectClass=inetOrgPerson)(uid=ann))",
            "mail",
            "memberOf",
        ],
    )
    .expect("installed");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("dn: {}", dir.user_dn("ann"))),
        "{text}"
    );
    assert!(text.contains("mail: ann@acme.test"), "{text}");
    assert!(
        text.contains(&format!("memberOf: cn=Ops,ou=groups,{}", dir.base)),
        "{text}"
    );

    // Paged, as SSSD and Nextcloud search.
    let out = openldap(
        "ldapsearch",
        &[
            "-x",
            "-LLL",
            "-H",
            &url,
            "-D",
            &dn,
            "-w",
            &dir.read_key,
            "-b",
            &dir.base,
            "-E",
            "pr=1/noprompt",
            "(objectClass=inetOrgPerson)",
            "uid",
        ],
    )
    .expect("installed");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("uid: ").count(), 2, "{text}");

    let wrong =
        openldap("ldapwhoami", &["-x", "-H", &url, "-D", &dn, "-w", "wrong"]).expect("installed");
    assert_eq!(wrong.status.code(), Some(49), "{wrong:?}");
}

/// Valid requests, encoded: the seeds the property test mutates.
fn seed_messages(dir: &Directory) -> Vec<Vec<u8>> {
    use tokio_util::codec::Encoder;
    let search = |filter: LdapFilter, attrs: &[&str]| {
        LdapOp::SearchRequest(LdapSearchRequest {
            base: dir.base.clone(),
            scope: LdapSearchScope::Subtree,
            aliases: LdapDerefAliases::Never,
            sizelimit: 0,
            timelimit: 0,
            typesonly: false,
            filter,
            attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
        })
    };
    let ops = [
        LdapOp::BindRequest(LdapBindRequest {
            dn: dir.service_dn(),
            cred: LdapBindCred::Simple(dir.read_key.clone()),
        }),
        search(
            parse("(&(objectClass=inetOrgPerson)(|(uid=a*)(mail=*b*)))"),
            &["*", "+"],
        ),
        search(parse("(!(uidNumber>=10001))"), &["1.1"]),
        search(eq("member", &dir.user_dn("ann")), &[]),
        LdapOp::ExtendedRequest(LdapExtendedRequest {
            name: "1.3.6.1.4.1.4203.1.11.3".to_owned(),
            value: None,
        }),
        LdapOp::DelRequest(dir.user_dn("ann")),
        LdapOp::CompareRequest(ldap3_proto::proto::LdapCompareRequest {
            dn: dir.user_dn("ann"),
            atype: "mail".to_owned(),
            val: b"ann@acme.test".to_vec(),
        }),
    ];
    ops.into_iter()
        .enumerate()
        .map(|(i, op)| {
            let mut buf = bytes::BytesMut::new();
            LdapCodec::default()
                .encode(
                    LdapMsg::new(i32::try_from(i).unwrap_or(1) + 1, op),
                    &mut buf,
                )
                .expect("encodes");
            buf.to_vec()
        })
        .collect()
}

#[test]
fn random_and_mutated_messages_never_panic_the_decoder_or_the_handler() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use scim_appliance::ldap::server::{BoundedCodec, MAX_MESSAGE, Session};
    use tokio_util::codec::Decoder;

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = runtime.block_on(directory());
    let seeds = seed_messages(&dir);
    let state = dir.app.state.clone();
    // One session across cases: binds from earlier cases make later searches reach the tree.
    let session = std::cell::RefCell::new(Session::new(std::net::Ipv4Addr::LOCALHOST.into()));
    let answered = std::cell::Cell::new(0);
    let mut runner = TestRunner::new(Config {
        cases: 256,
        ..Config::default()
    });
    let input = (
        0..seeds.len(),
        proptest::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        proptest::option::weighted(0.2, any::<usize>()),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::bool::weighted(0.2),
    );
    runner
        .run(&input, |(seed, flips, cut, noise, random)| {
            let mut bytes = if random { noise } else { seeds[seed].clone() };
            if !random {
                for (at, value) in flips {
                    let len = bytes.len();
                    if let Some(b) = bytes.get_mut(at % len.max(1)) {
                        *b = value;
                    }
                }
                if let Some(cut) = cut {
                    bytes.truncate(cut % (bytes.len() + 1));
                }
            }
            let mut buf = bytes::BytesMut::from(&bytes[..]);
            let mut codec = BoundedCodec::new(MAX_MESSAGE);
            while let Ok(Some(msg)) = codec.decode(&mut buf) {
                let mut session = session.borrow_mut();
                let replies = runtime.block_on(session.answer(&state, msg));
                answered.set(answered.get() + 1);
                if replies.close {
                    break;
                }
            }
            Ok(())
        })
        .expect("no input panics");
    // The handler, not only the decoder, saw many of them.
    assert!(answered.get() > 30, "{} answered", answered.get());
}

#[test]
fn config_show_lists_the_ldap_address_and_where_it_came_from() {
    let shown = |args: &[&str], env: Option<&str>, file: Option<&str>| {
        crate::helpers::config_shown(
            "ldap_listen",
            "SCIM_LDAP_LISTEN",
            args,
            env,
            file.unwrap_or_default(),
        )
    };
    assert_eq!(shown(&[], None, None).1, "default");
    assert_eq!(
        shown(&["--ldap-listen", "127.0.0.1:3890"], None, None),
        (json!("127.0.0.1:3890"), "flag --ldap-listen".to_owned())
    );
    assert_eq!(
        shown(&[], Some("0.0.0.0:389"), None),
        (
            json!("0.0.0.0:389"),
            "environment SCIM_LDAP_LISTEN".to_owned()
        )
    );
    let (value, source) = shown(&[], None, Some("ldap_listen = \"[::1]:3890\"\n"));
    assert_eq!(value, json!("[::1]:3890"));
    assert!(source.starts_with("config file"), "{source}");
}
