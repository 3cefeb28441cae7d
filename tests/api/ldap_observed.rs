//! What an operator sees of LDAP: requests counted by operation and result code and open
//! connections in the metrics, and every bind in the log with its key id, never its secret.

use std::net::SocketAddr;
use std::time::Duration;

use ldap3_proto::proto::{
    LdapDerefAliases, LdapFilter, LdapOp, LdapResultCode, LdapSearchRequest, LdapSearchScope,
};
use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{cli_in, serve_binary_until};
use crate::ldap::{Client, Directory, directory_configured};

/// The text of `/metrics`.
async fn metrics(dir: &Directory) -> String {
    let response = dir
        .app
        .client
        .get(dir.app.url("/metrics"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.expect("text")
}

/// Waits until `/metrics` has every line of `expected`; returns the text.
async fn metrics_with(dir: &Directory, expected: &[String]) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = metrics(dir).await;
        let missing: Vec<&String> = expected
            .iter()
            .filter(|line| !text.lines().any(|l| l == line.as_str()))
            .collect();
        if missing.is_empty() {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "missing {missing:?} in\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn operations(operation: &str, result: &str, count: u32) -> String {
    let labels = format!("operation=\"{operation}\",result=\"{result}\"");
    format!("scim_appliance_ldap_operations_total{{{labels}}} {count}")
}

fn search(base: &str, sizelimit: i32) -> LdapOp {
    LdapOp::SearchRequest(LdapSearchRequest {
        base: base.to_owned(),
        scope: LdapSearchScope::Subtree,
        aliases: LdapDerefAliases::Never,
        sizelimit,
        timelimit: 0,
        typesonly: false,
        filter: LdapFilter::Present("objectClass".to_owned()),
        attrs: vec!["1.1".to_owned()],
    })
}

/// The result code of a request's last reply.
fn code(replies: &[ldap3_proto::proto::LdapMsg]) -> LdapResultCode {
    match replies.last().map(|m| &m.op) {
        Some(LdapOp::SearchResultDone(res) | LdapOp::DelResponse(res)) => res.code.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn metrics_count_ldap_requests_by_operation_and_result_and_open_connections() {
    let dir = directory_configured(|config| config.metrics = true).await;
    let mut wrong = Client::connect(dir.ldap).await;
    let refused = wrong.bind(&dir.service_dn(), &dir.wrong_key()).await;
    assert_eq!(refused.code, LdapResultCode::InvalidCredentials);

    let mut client = dir.bound().await;
    assert_eq!(client.dns(&dir.base, "(uid=ann)").await.len(), 1);
    assert_eq!(
        code(&client.request(search(&dir.base, 1), Vec::new()).await),
        LdapResultCode::SizeLimitExceeded
    );
    assert_eq!(
        code(&client.request(search("dc=elsewhere", 0), Vec::new()).await),
        LdapResultCode::NoSuchObject
    );
    assert!(!client.whoami().await.is_empty());
    let delete = LdapOp::DelRequest(dir.user_dn("ann"));
    assert_eq!(
        code(&client.request(delete, Vec::new()).await),
        LdapResultCode::UnwillingToPerform
    );
    metrics_with(
        &dir,
        &["scim_appliance_ldap_connections{listener=\"ldap\"} 2".to_owned()],
    )
    .await;

    client.unbind().await;
    drop(wrong);
    let text = metrics_with(
        &dir,
        &[
            operations("bind", "success", 1),
            operations("bind", "invalidCredentials", 1),
            operations("search", "success", 1),
            operations("search", "sizeLimitExceeded", 1),
            operations("search", "noSuchObject", 1),
            operations("whoami", "success", 1),
            operations("delete", "unwillingToPerform", 1),
            operations("unbind", "success", 1),
            "scim_appliance_ldap_connections{listener=\"ldap\"} 0".to_owned(),
        ],
    )
    .await;
    assert!(
        text.contains("# TYPE scim_appliance_ldap_operations counter"),
        "{text}"
    );
    assert!(!text.contains(&dir.base), "no DN becomes a label");
}

#[test]
fn every_bind_is_logged_with_its_key_id_and_never_the_secret() {
    let data = TempDir::new().expect("temp dir");
    let out = cli_in(data.path(), &["org", "create", "Acme", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let org: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let org_id = org["id"].as_str().expect("id").to_owned();
    let provision_key = org["api_key"].as_str().expect("api_key").to_owned();
    let out = cli_in(
        data.path(),
        &[
            "org", "key", "add", &org_id, "--name", "ldap", "--scope", "read", "--json",
        ],
    );
    assert!(out.status.success(), "{out:?}");
    let added: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let read_key = added["api_key"].as_str().expect("api_key").to_owned();
    let key_id = added["key"]["key_id"].as_str().expect("key_id").to_owned();
    let out = cli_in(data.path(), &["org", "list", "--json"]);
    let orgs: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let base = orgs
        .as_array()
        .and_then(|orgs| orgs.first())
        .and_then(|org| org["ldap_base_dn"].as_str())
        .expect("a base DN")
        .to_owned();
    let provision_id = scim_appliance::auth::api_key::key_id_of(&provision_key).expect("a key id");
    let wrong = format!("{read_key}0");

    let (mut server, addr, log) = serve_binary_until(
        data.path(),
        &["--ldap-listen", "127.0.0.1:0"],
        "LDAP listening on ldap://",
    );
    let addr: SocketAddr = addr.trim().parse().expect("an address in the log line");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let codes = runtime.block_on(async {
        let mut client = Client::connect(addr).await;
        let dn = format!("cn={key_id},{base}");
        vec![
            client.bind(&dn, &read_key).await.code,
            client.bind(&dn, &wrong).await.code,
            client
                .bind(&format!("cn={provision_id},{base}"), &provision_key)
                .await
                .code,
            // The secret typed in the DN field.
            client.bind(&read_key, "x").await.code,
        ]
    });
    let _ = server.kill();
    let _ = server.wait();
    let lines = log.join().expect("log");
    assert_eq!(
        codes,
        [
            LdapResultCode::Success,
            LdapResultCode::InvalidCredentials,
            LdapResultCode::InvalidCredentials,
            LdapResultCode::InvalidCredentials,
        ]
    );
    let binds: Vec<&String> = lines.iter().filter(|l| l.contains("LDAP bind")).collect();
    assert_eq!(binds.len(), 4, "{lines:#?}");
    assert!(binds[0].contains("LDAP bind succeeded") && binds[0].contains(&key_id));
    assert!(binds[1].contains("LDAP bind refused") && binds[1].contains(&key_id));
    assert!(binds[2].contains("LDAP bind refused") && binds[2].contains(provision_id));
    assert!(binds[3].contains("(not a DN)"), "{}", binds[3]);
    for secret in [&read_key, &wrong, &provision_key] {
        let secret_part = secret.rsplit('_').next().unwrap_or_default();
        assert!(
            lines.iter().all(|l| !l.contains(secret_part)),
            "a secret in the log: {lines:#?}"
        );
    }
}
