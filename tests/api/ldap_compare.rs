//! The compare operation (RFC 4511 §4.10): answered as the search for the entry with an
//! equality filter on the asserted value, so it agrees with what a search finds.

use ldap3_proto::proto::{LdapCompareRequest, LdapOp, LdapResult, LdapResultCode};

use crate::ldap::{Client, Directory, directory_configured, openldap};

async fn compare(client: &mut Client, dn: &str, attr: &str, value: &str) -> LdapResult {
    let op = LdapOp::CompareRequest(LdapCompareRequest {
        dn: dn.to_owned(),
        atype: attr.to_owned(),
        val: value.as_bytes().to_vec(),
    });
    match client.request(op, Vec::new()).await.pop().map(|m| m.op) {
        Some(LdapOp::CompareResult(result)) => result,
        other => panic!("not a compare result: {other:?}"),
    }
}

async fn directory() -> Directory {
    directory_configured(|config| config.metrics = true).await
}

#[tokio::test]
async fn compare_is_true_when_the_entry_has_the_value() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let ann = dir.user_dn("ann");
    for (attr, value) in [
        ("uid", "ann"),
        ("UID", "ANN"),
        ("mail", "ann.lee@home.test"),
        ("objectClass", "inetOrgPerson"),
        ("cn", "Ann Lee"),
    ] {
        let result = compare(&mut client, &ann, attr, value).await;
        assert_eq!(result.code, LdapResultCode::CompareTrue, "{attr}={value}");
    }
    let ops = format!("cn=Ops,ou=groups,{}", dir.base);
    let result = compare(&mut client, &ops, "member", &ann).await;
    assert_eq!(result.code, LdapResultCode::CompareTrue, "a DN value");
}

#[tokio::test]
async fn compare_is_false_for_another_value_or_a_missing_attribute() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let ann = dir.user_dn("ann");
    for (attr, value) in [
        ("uid", "bob"),
        ("mail", "bob@acme.test"),
        ("telephoneNumber", "555"),
    ] {
        let result = compare(&mut client, &ann, attr, value).await;
        assert_eq!(result.code, LdapResultCode::CompareFalse, "{attr}={value}");
    }
    let ops = format!("cn=Ops,ou=groups,{}", dir.base);
    let result = compare(&mut client, &ops, "member", &dir.user_dn("bob")).await;
    assert_eq!(result.code, LdapResultCode::CompareFalse);
}

#[tokio::test]
async fn compare_outside_the_tree_is_no_such_object() {
    let dir = directory().await;
    let mut client = dir.bound().await;
    let result = compare(&mut client, &dir.user_dn("nobody"), "uid", "nobody").await;
    assert_eq!(result.code, LdapResultCode::NoSuchObject);
    let other = dir.app.create_org("Globex");
    let other_base = dir
        .app
        .state
        .store
        .get_org(&other.id)
        .expect("org")
        .ldap_base_dn;
    let result = compare(&mut client, &other_base, "objectClass", "top").await;
    assert_eq!(result.code, LdapResultCode::NoSuchObject);
}

#[tokio::test]
async fn compare_needs_a_bind_and_is_counted() {
    let dir = directory().await;
    let mut anonymous = Client::connect(dir.ldap).await;
    let result = compare(&mut anonymous, &dir.user_dn("ann"), "uid", "ann").await;
    assert_eq!(result.code, LdapResultCode::InsufficentAccessRights);
    let mut client = dir.bound().await;
    let result = compare(&mut client, &dir.user_dn("ann"), "uid", "ann").await;
    assert_eq!(result.code, LdapResultCode::CompareTrue);
    let text = dir
        .app
        .client
        .get(dir.app.url("/metrics"))
        .send()
        .await
        .expect("request")
        .text()
        .await
        .expect("text");
    for line in [
        "scim_appliance_ldap_operations_total{operation=\"compare\",result=\"compareTrue\"} 1",
        "scim_appliance_ldap_operations_total{operation=\"compare\",result=\"insufficientAccessRights\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}

#[tokio::test]
async fn openldap_ldapcompare_gets_true_and_false() {
    let dir = directory().await;
    let url = format!("ldap://{}", dir.ldap);
    let dn = dir.service_dn();
    let ann = dir.user_dn("ann");
    let run = |assertion: &str| {
        openldap(
            "ldapcompare",
            &[
                "-x",
                "-H",
                &url,
                "-D",
                &dn,
                "-w",
                &dir.read_key,
                &ann,
                assertion,
            ],
        )
    };
    let Some(out) = run("mail:ann@acme.test") else {
        return;
    };
    // ldapcompare exits with the result code: 6 compareTrue, 5 compareFalse.
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "TRUE");
    let out = run("uid:bob").expect("installed");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "FALSE");
}
