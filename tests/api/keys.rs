//! Named, scoped API keys: read keys only read, keys stay in their organization, revocation,
//! expiry and rotation (with and without grace) take effect on a running server, last use is
//! recorded in the background, every change is an event, and no token is stored in clear.

use std::time::Duration;

use reqwest::Method;
use scim_appliance::auth::api_key;
use scim_appliance::store::{Actor, IssuedKey, KeyScope, KeySpec};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{
    AdminClient, TestApp, TestOrg, assert_scim_error, spawn_app, spawn_app_configured,
};

const READ_ONLY: &str =
    "This API key may only read (scope \"read\"); use a provision key to change the directory.";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

fn json_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

/// `org key add ORG ARGS… --json` through the binary: the organization with the new key.
fn add_key(app: &TestApp, org: &TestOrg, args: &[&str]) -> (TestOrg, Value) {
    let mut all = vec!["org", "key", "add", org.id.as_str()];
    all.extend_from_slice(args);
    all.push("--json");
    let added = json_of(&app.cli(&all));
    let keyed = TestOrg {
        id: org.id.clone(),
        key: added["api_key"].as_str().expect("api_key").to_owned(),
        scim_url: org.scim_url.clone(),
    };
    (keyed, added)
}

/// The organization's keys through `org key list --json`.
fn list_keys(app: &TestApp, org: &TestOrg) -> Vec<Value> {
    json_of(&app.cli(&["org", "key", "list", &org.id, "--json"]))
        .as_array()
        .expect("array")
        .clone()
}

/// The same organization reached with another token.
fn with_key(org: &TestOrg, key: &str) -> TestOrg {
    TestOrg {
        id: org.id.clone(),
        key: key.to_owned(),
        scim_url: org.scim_url.clone(),
    }
}

async fn status_of(app: &TestApp, org: &TestOrg) -> u16 {
    app.scim(org, Method::GET, "ServiceProviderConfig", None)
        .await
        .status()
        .as_u16()
}

/// An organization with one member in one group: (org, member id, group id).
async fn org_with_a_member_in_a_group(app: &TestApp) -> (TestOrg, String, String) {
    let org = app.create_org("Acme");
    let user = app
        .create_user(&org, json!({"userName": "ann@example.com"}))
        .await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let (_, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName": "Eng", "members": [{"value": user_id}]})),
        )
        .await;
    let group_id = group["id"].as_str().unwrap().to_owned();
    (org, user_id, group_id)
}

/// Everything a provision key sees of the organization: users, groups and the event log.
async fn directory(app: &TestApp, org: &TestOrg) -> (Value, Value, usize) {
    let (_, users) = app.call(org, Method::GET, "Users", None).await;
    let (_, groups) = app.call(org, Method::GET, "Groups", None).await;
    (users, groups, app.events(org).len())
}

#[tokio::test]
async fn a_read_key_gets_403_on_every_write_route_and_changes_nothing() {
    let app = spawn_app().await;
    let (org, user_id, group_id) = org_with_a_member_in_a_group(&app).await;
    let (user_id, group_id) = (user_id.as_str(), group_id.as_str());
    let (reader, _) = add_key(&app, &org, &["--name", "wiki sync", "--scope", "read"]);
    let before = directory(&app, &org).await;

    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let writes = [
        (
            Method::POST,
            "Users".to_owned(),
            json!({"userName": "bob@example.com"}),
        ),
        (
            Method::POST,
            "Groups".to_owned(),
            json!({"displayName": "Ops"}),
        ),
        (
            Method::PUT,
            format!("Users/{user_id}"),
            json!({"userName": "ann@example.com", "active": false}),
        ),
        (
            Method::PUT,
            format!("Groups/{group_id}"),
            json!({"displayName": "Renamed"}),
        ),
        (Method::PATCH, format!("Users/{user_id}"), patch.clone()),
        (
            Method::PATCH,
            format!("Groups/{group_id}"),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "remove", "path": "members"}]}),
        ),
        (Method::DELETE, format!("Users/{user_id}"), Value::Null),
        (Method::DELETE, format!("Groups/{group_id}"), Value::Null),
        (
            Method::POST,
            "Bulk".to_owned(),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                   "Operations": [{"method": "DELETE", "path": format!("/Users/{user_id}")}]}),
        ),
    ];
    for (method, path, body) in writes {
        let body = (!body.is_null()).then_some(body);
        let response = app.scim(&reader, method.clone(), &path, body).await;
        let error = assert_scim_error(response, 403).await;
        assert_eq!(
            error,
            json!({"schemas": [ERROR_SCHEMA], "status": "403", "detail": READ_ONLY}),
            "{method} {path}"
        );
    }

    assert_eq!(
        directory(&app, &org).await,
        before,
        "nothing changed, nothing logged"
    );
}

#[tokio::test]
async fn a_read_key_is_refused_without_waiting_for_the_body() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let (reader, _) = add_key(&app, &org, &["--scope", "read"]);
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // A body announced but never sent: only a refusal that does not read it answers in time
    // (the body deadline is 10 s).
    let head = format!(
        "POST /v2/{}/Users HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 100000\r\n\r\n{{\"userName\"",
        org.id, reader.key
    );
    stream.write_all(head.as_bytes()).await.unwrap();

    let mut answer = Vec::new();
    let read = async {
        let mut chunk = [0; 4096];
        while !String::from_utf8_lossy(&answer).contains("may only read") {
            let n = stream.read(&mut chunk).await.unwrap();
            if n == 0 {
                break;
            }
            answer.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .expect("answered before the body arrived");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(answer.contains("may only read"), "{answer}");
}

#[tokio::test]
async fn a_read_key_reads_everything() {
    let app = spawn_app().await;
    let (org, user_id, group_id) = org_with_a_member_in_a_group(&app).await;
    let (user_id, group_id) = (user_id.as_str(), group_id.as_str());
    let (reader, added) = add_key(&app, &org, &["--name", "reader", "--scope", "read"]);
    assert_eq!(added["key"]["scope"], "read");

    let reads = [
        "Users".to_owned(),
        format!("Users/{user_id}"),
        "Users?filter=userName%20eq%20%22ann@example.com%22".to_owned(),
        "Groups".to_owned(),
        format!("Groups/{group_id}"),
        "Groups?filter=displayName%20eq%20%22Eng%22".to_owned(),
        "ServiceProviderConfig".to_owned(),
        "Schemas".to_owned(),
        "Schemas/urn:ietf:params:scim:schemas:core:2.0:User".to_owned(),
        "ResourceTypes".to_owned(),
        "ResourceTypes/User".to_owned(),
    ];
    for path in &reads {
        let (status, body) = app.call(&reader, Method::GET, path, None).await;
        let (_, expected) = app.call(&org, Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(
            body, expected,
            "{path}: the same answer as a provision key's"
        );
    }
    let searches = [
        ("Users/.search", Some("userName eq \"ann@example.com\""), 1),
        ("Groups/.search", Some("displayName eq \"Eng\""), 1),
        (".search", None, 2),
    ];
    for (path, filter, found) in searches {
        let mut search =
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]});
        if let Some(filter) = filter {
            search["filter"] = json!(filter);
        }
        let (status, body) = app.call(&reader, Method::POST, path, Some(search)).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(body["totalResults"], found, "{path}: {body}");
    }
}

#[tokio::test]
async fn keys_of_one_organization_never_work_on_another() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme");
    let globex = app.create_org("Globex");
    let (acme_reader, _) = add_key(&app, &acme, &["--scope", "read"]);
    let (acme_second, _) = add_key(&app, &acme, &["--name", "second"]);

    for key in [&acme_reader.key, &acme_second.key, &acme.key] {
        let foreign = with_key(&globex, key);
        let response = app.scim(&foreign, Method::GET, "Users", None).await;
        assert_scim_error(response, 401).await;
        assert_eq!(status_of(&app, &with_key(&acme, key)).await, 200);
    }
    let out = app.cli(&[
        "org",
        "key",
        "revoke",
        &globex.id,
        acme_second.key.split('_').nth(1).unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "another organization's key id");
    assert_eq!(status_of(&app, &acme_second).await, 200);
}

/// An organization made through the admin API, with SCIM enabled and no key yet.
async fn admin_org(admin: &AdminClient, name: &str) -> String {
    let (status, org) = admin
        .send(Method::POST, "/orgs", Some(json!({ "name": name })))
        .await;
    assert_eq!(status, 201);
    let id = org["id"].as_str().unwrap().to_owned();
    let (status, _) = admin
        .send(
            Method::PATCH,
            &format!("/orgs/{id}"),
            Some(json!({"scim_enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    id
}

#[tokio::test]
async fn the_admin_api_adds_lists_and_revokes_keys_and_revocation_is_immediate() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = admin_org(&admin, "Acme").await;
    let other = admin_org(&admin, "Globex").await;

    let (status, added) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys"),
            Some(json!({"name": "  wiki sync ", "scope": "read", "expires_in_days": 90})),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let token = added["api_key"].as_str().unwrap().to_owned();
    let key = &added["key"];
    let key_id = key["key_id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("scim_{key_id}_")));
    assert_eq!(added["scim_url"], app.url(&format!("/v2/{id}")));
    let mut fields: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "created_at",
            "created_by",
            "expired",
            "expires_at",
            "key_id",
            "last_used_at",
            "name",
            "scope"
        ]
    );
    assert_eq!(key["name"], "wiki sync");
    assert_eq!(key["scope"], "read");
    assert_eq!(key["created_by"], "admin");
    assert_eq!(key["expired"], false);
    assert_eq!(key["last_used_at"], Value::Null);
    let expires = key["expires_at"].as_str().unwrap();
    let in_89_days = scim_appliance::timestamp::format(
        time::OffsetDateTime::now_utc() + time::Duration::days(89),
    );
    assert!(expires > in_89_days.as_str(), "{expires}");

    let (status, provision) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys"),
            Some(json!({"name": "Entra ID"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(provision["key"]["scope"], "provision");
    assert_eq!(provision["key"]["expires_at"], Value::Null);

    let (status, listed) = admin.get(&format!("/orgs/{id}/keys")).await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["keys"],
        json!([added["key"], provision["key"]]),
        "oldest first"
    );
    assert!(!listed.to_string().contains(&token), "never the secret");
    let (_, detail) = admin.get(&format!("/orgs/{id}")).await;
    assert_eq!(detail["keys"], 2);
    assert_eq!(detail["key_id"], provision["key"]["key_id"]);
    assert_eq!(detail["key_created_at"], provision["key"]["created_at"]);
    let (_, orgs) = admin.get("/orgs").await;
    assert_eq!(orgs["organizations"][0]["keys"], 2);

    let reader = TestOrg {
        id: id.clone(),
        key: token,
        scim_url: app.url(&format!("/v2/{id}")),
    };
    assert_eq!(status_of(&app, &reader).await, 200, "proven and cached");
    let (status, body) = admin
        .send(
            Method::DELETE,
            &format!("/orgs/{other}/keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    assert_eq!(
        status_of(&app, &reader).await,
        200,
        "another org cannot revoke it"
    );

    let (status, body) = admin
        .send(Method::DELETE, &format!("/orgs/{id}/keys/{key_id}"), None)
        .await;
    assert_eq!((status, body), (204, Value::Null));

    let refused = app.scim(&reader, Method::GET, "Users", None).await;
    assert_scim_error(refused, 401).await;
    let (status, _) = admin
        .send(Method::DELETE, &format!("/orgs/{id}/keys/{key_id}"), None)
        .await;
    assert_eq!(status, 404, "already gone");
    let (_, listed) = admin.get(&format!("/orgs/{id}/keys")).await;
    assert_eq!(listed["keys"], json!([provision["key"]]));
}

#[tokio::test]
async fn the_admin_api_refuses_bad_key_input_and_writes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = admin_org(&admin, "Acme").await;
    let (_, first) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys"),
            Some(json!({"name": "one"})),
        )
        .await;
    let key_id = first["key"]["key_id"].as_str().unwrap();
    let events_before = app.cli(&["events", &id, "--json"]).stdout;

    for body in [
        json!({"name": ""}),
        json!({"name": "   "}),
        json!({"name": "x".repeat(101)}),
        json!({"name": "tab\there"}),
        json!({"name": "ok", "scope": "write"}),
        json!({"name": "ok", "expires_in_days": 0}),
        json!({"name": "ok", "expires_in_days": 3651}),
        json!({"name": "ok", "expires_in_days": -1}),
        json!({"name": "ok", "colour": "red"}),
        json!({"scope": "read"}),
    ] {
        let (status, error) = admin
            .send(
                Method::POST,
                &format!("/orgs/{id}/keys"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (status, error["error"].as_str()),
            (400, Some("invalid")),
            "{body}"
        );
    }
    let (status, _) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys/{key_id}/rotate"),
            Some(json!({"grace_seconds": 2_592_001})),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _) = admin
        .send(
            Method::POST,
            "/orgs/00000000-0000-4000-8000-000000000000/keys",
            Some(json!({"name": "ok"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = admin
        .get("/orgs/00000000-0000-4000-8000-000000000000/keys")
        .await;
    assert_eq!(status, 404);
    let (status, _) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys/nosuchkey123/rotate"),
            None,
        )
        .await;
    assert_eq!(status, 404);

    let (_, listed) = admin.get(&format!("/orgs/{id}/keys")).await;
    assert_eq!(listed["keys"], json!([first["key"]]));
    assert_eq!(app.cli(&["events", &id, "--json"]).stdout, events_before);
    let name_100 = "é".repeat(100);
    let (status, added) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys"),
            Some(json!({"name": name_100, "expires_in_days": null})),
        )
        .await;
    assert_eq!(status, 201, "100 characters are allowed: {added}");
}

#[tokio::test]
async fn revoking_through_the_cli_stops_a_key_at_once_on_a_running_server() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let (second, added) = add_key(&app, &org, &["--name", "second"]);
    assert_eq!(status_of(&app, &second).await, 200, "proven and cached");

    let key_id = added["key"]["key_id"].as_str().unwrap();
    let out = app.cli(&["org", "key", "revoke", "Acme", key_id]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Revoked API key \"second\""));

    assert_scim_error(app.scim(&second, Method::GET, "Users", None).await, 401).await;
    assert_eq!(
        status_of(&app, &org).await,
        200,
        "the other key still works"
    );
    let unknown = app.cli(&["org", "key", "revoke", "Acme", key_id]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains(key_id));
}

/// Adds a key straight through the store, expiring at `expires_at`; returns its token.
fn key_expiring(app: &TestApp, org: &TestOrg, expires_at: time::OffsetDateTime) -> String {
    let key = api_key::generate().unwrap();
    let issued = IssuedKey {
        key_id: &key.key_id,
        phc: &key.phc,
    };
    let spec = KeySpec {
        name: "short-lived",
        scope: KeyScope::Provision,
        expires_at: Some(expires_at),
    };
    app.state
        .store
        .add_api_key(&org.id, issued, &spec, Actor::Cli)
        .unwrap();
    key.token
}

#[tokio::test]
async fn an_expired_key_is_refused_like_an_unknown_one_without_argon2() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let past = time::OffsetDateTime::now_utc() - time::Duration::minutes(1);
    let expired = with_key(&org, &key_expiring(&app, &org, past));
    let unknown = with_key(&org, &format!("scim_zzzzzzzzzzzz_{}", "a".repeat(40)));

    let refused =
        assert_scim_error(app.scim(&expired, Method::GET, "Users", None).await, 401).await;
    let as_unknown =
        assert_scim_error(app.scim(&unknown, Method::GET, "Users", None).await, 401).await;
    assert_eq!(refused, as_unknown);
    assert_eq!(app.argon2_runs(), 0, "an expired key costs no argon2");
    let listed = list_keys(&app, &org);
    assert_eq!(listed[1]["expired"], true);
    assert!(
        String::from_utf8_lossy(&app.cli(&["org", "key", "list", &org.id]).stdout)
            .contains("(expired)")
    );
}

#[tokio::test]
async fn a_key_stops_at_its_expiry_on_a_running_server_even_when_cached() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let soon = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(1500);
    let expiring = with_key(&org, &key_expiring(&app, &org, soon));
    assert_eq!(status_of(&app, &expiring).await, 200, "proven and cached");

    let left = soon - time::OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(left.whole_milliseconds()).unwrap_or(0) + 100,
    ))
    .await;

    assert_scim_error(app.scim(&expiring, Method::GET, "Users", None).await, 401).await;
    assert_eq!(status_of(&app, &org).await, 200);
}

#[tokio::test]
async fn rotating_with_grace_keeps_both_keys_and_without_it_the_old_one_stops() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let id = admin_org(&admin, "Acme").await;
    let (_, first) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys"),
            Some(json!({"name": "wiki sync", "scope": "read"})),
        )
        .await;
    let org = TestOrg {
        id: id.clone(),
        key: first["api_key"].as_str().unwrap().to_owned(),
        scim_url: app.url(&format!("/v2/{id}")),
    };
    let first_id = first["key"]["key_id"].as_str().unwrap();
    assert_eq!(status_of(&app, &org).await, 200);

    let (status, graced) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys/{first_id}/rotate"),
            Some(json!({"grace_seconds": 3600})),
        )
        .await;
    assert_eq!(status, 201, "{graced}");
    assert_eq!(graced["key"]["name"], "wiki sync");
    assert_eq!(graced["key"]["scope"], "read");
    assert_eq!(graced["replaced"]["key_id"], first_id);
    let until = graced["replaced"]["expires_at"].as_str().unwrap();
    let in_59_minutes = scim_appliance::timestamp::format(
        time::OffsetDateTime::now_utc() + time::Duration::minutes(59),
    );
    assert!(until > in_59_minutes.as_str(), "{until}");
    let second = with_key(&org, graced["api_key"].as_str().unwrap());
    assert_eq!(
        status_of(&app, &org).await,
        200,
        "the old key works during grace"
    );
    assert_eq!(status_of(&app, &second).await, 200);
    let (_, listed) = admin.get(&format!("/orgs/{id}/keys")).await;
    assert_eq!(listed["keys"][0]["expires_at"], until);
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2);

    let second_id = graced["key"]["key_id"].as_str().unwrap();
    let (status, immediate) = admin
        .send(
            Method::POST,
            &format!("/orgs/{id}/keys/{second_id}/rotate"),
            None,
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        immediate["replaced"],
        json!({"key_id": second_id, "expires_at": null})
    );
    let third = with_key(&org, immediate["api_key"].as_str().unwrap());
    assert_scim_error(app.scim(&second, Method::GET, "Users", None).await, 401).await;
    assert_eq!(status_of(&app, &third).await, 200);
    assert_eq!(
        status_of(&app, &org).await,
        200,
        "the first is still in grace"
    );
}

#[tokio::test]
async fn the_old_api_key_endpoint_and_rotate_key_replace_the_one_provision_key() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = app.create_org("Acme");
    let (reader, _) = add_key(&app, &org, &["--name", "reader", "--scope", "read"]);

    let (status, rotated) = admin
        .send(Method::POST, &format!("/orgs/{}/api-key", org.id), None)
        .await;
    assert_eq!(status, 201, "{rotated}");
    let provision = with_key(&org, rotated["api_key"].as_str().unwrap());
    assert_scim_error(app.scim(&org, Method::GET, "Users", None).await, 401).await;
    assert_eq!(status_of(&app, &provision).await, 200);
    assert_eq!(
        status_of(&app, &reader).await,
        200,
        "the read key is left alone"
    );

    add_key(&app, &org, &["--name", "Okta"]);
    let before = list_keys(&app, &org);
    let (status, error) = admin
        .send(Method::POST, &format!("/orgs/{}/api-key", org.id), None)
        .await;
    assert_eq!((status, error["error"].as_str()), (409, Some("conflict")));
    let out = app.cli(&["org", "rotate-key", &org.id]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("2 provision keys") && stderr.contains("--key"),
        "{stderr}"
    );
    assert_eq!(list_keys(&app, &org), before, "nothing was written");

    let empty = app.create_org("Globex");
    let key_id = empty.key.split('_').nth(1).unwrap();
    assert!(
        app.cli(&["org", "key", "revoke", &empty.id, key_id])
            .status
            .success()
    );
    let out = json_of(&app.cli(&["org", "rotate-key", &empty.id, "--json"]));
    assert_eq!(out["key"]["name"], "default");
    assert_eq!(out["replaced"], Value::Null, "a first key was issued");
    assert_eq!(
        status_of(&app, &with_key(&empty, out["api_key"].as_str().unwrap())).await,
        200
    );
}

#[tokio::test]
async fn a_keys_last_use_is_written_by_the_background_flush() {
    let app = spawn_app_configured(tempfile::TempDir::new().unwrap(), None, |config| {
        config.key_usage_flush_every = Duration::from_millis(100);
    })
    .await;
    let org = app.create_org("Acme");
    let (reader, _) = add_key(&app, &org, &["--name", "reader", "--scope", "read"]);
    assert_eq!(list_keys(&app, &org)[0]["last_used_at"], Value::Null);

    let before = scim_appliance::timestamp::now();
    assert_eq!(status_of(&app, &reader).await, 200);

    let mut last_used = Value::Null;
    for _ in 0..50 {
        let keys = app.state.store.list_api_keys(&org.id).unwrap();
        if let Some(at) = &keys[1].last_used_at {
            last_used = json!(at);
            assert_eq!(keys[0].last_used_at, None, "only the key used");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at = last_used.as_str().expect("written within 5 s");
    assert!(at >= before.as_str(), "{at} >= {before}");
}

#[tokio::test]
async fn a_keys_last_use_is_not_written_on_the_request_but_when_the_server_stops() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    assert_eq!(status_of(&app, &org).await, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        app.state.store.list_api_keys(&org.id).unwrap()[0].last_used_at,
        None,
        "no database write on the request path"
    );

    let dir = app.stop().await;
    let listed = crate::helpers::cli_in(dir.path(), &["org", "key", "list", &org.id, "--json"]);
    let listed = json_of(&listed);
    assert!(listed[0]["last_used_at"].is_string(), "{listed}");
}

#[tokio::test]
async fn every_key_change_is_an_event_naming_the_key_never_the_secret() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = app.create_org("Acme");
    let first_id = org.key.split('_').nth(1).unwrap().to_owned();
    let (reader, added) = add_key(&app, &org, &["--name", "wiki sync", "--scope", "read"]);
    let reader_id = added["key"]["key_id"].as_str().unwrap().to_owned();
    let rotated = json_of(&app.cli(&[
        "org",
        "rotate-key",
        &org.id,
        "--key",
        &reader_id,
        "--grace",
        "1h",
        "--json",
    ]));
    let rotated_id = rotated["key"]["key_id"].as_str().unwrap().to_owned();
    let (status, _) = admin
        .send(
            Method::DELETE,
            &format!("/orgs/{}/keys/{rotated_id}", org.id),
            None,
        )
        .await;
    assert_eq!(status, 204);

    let events = app.events(&org);
    let seen: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap(),
                e["actor"].as_str().unwrap(),
                e["key_id"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("Organization_ApiKeyRevoked", "admin", rotated_id.as_str()),
            ("Organization_ApiKeyRotated", "cli", rotated_id.as_str()),
            ("Organization_ApiKeyAdded", "cli", reader_id.as_str()),
            ("Organization_ApiKeyAdded", "cli", first_id.as_str()),
            ("Organization_Created", "cli", ""),
        ]
    );
    assert_eq!(
        events[2]["summary"],
        format!("API key \"wiki sync\" (read) added; key id {reader_id}")
    );
    let rotation = events[1]["summary"].as_str().unwrap();
    assert!(
        rotation.contains(&rotated_id) && rotation.contains(&reader_id),
        "{rotation}"
    );
    assert!(rotation.contains("stays valid until"), "{rotation}");
    assert!(events[0]["summary"].as_str().unwrap().contains(&rotated_id));
    let all = serde_json::to_string(&events).unwrap();
    for token in [&org.key, &reader.key, rotated["api_key"].as_str().unwrap()] {
        assert!(!all.contains(token.rsplit('_').next().unwrap()));
    }
}

#[tokio::test]
async fn the_database_holds_no_token_of_any_key_in_clear_text() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = app.create_org("Acme");
    let (reader, added) = add_key(&app, &org, &["--scope", "read", "--expires", "30d"]);
    let rotated = json_of(&app.cli(&[
        "org",
        "rotate-key",
        &org.id,
        "--key",
        added["key"]["key_id"].as_str().unwrap(),
        "--grace",
        "10m",
        "--json",
    ]));
    let (_, from_page) = admin
        .send(
            Method::POST,
            &format!("/orgs/{}/keys", org.id),
            Some(json!({"name": "page"})),
        )
        .await;
    let tokens = [
        org.key.clone(),
        reader.key.clone(),
        rotated["api_key"].as_str().unwrap().to_owned(),
        from_page["api_key"].as_str().unwrap().to_owned(),
    ];
    for token in &tokens {
        assert_eq!(status_of(&app, &with_key(&org, token)).await, 200);
    }
    let dir = app.stop().await;

    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = dir
            .path()
            .join(format!("{}{suffix}", scim_appliance::store::DB_FILE_NAME));
        if let Ok(content) = std::fs::read(file) {
            bytes.extend(content);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("$argon2id$"));
    for token in &tokens {
        assert!(!text.contains(token.as_str()));
        assert!(!text.contains(token.rsplit('_').next().unwrap()));
    }
}

#[tokio::test]
async fn a_key_changes_webhook_message_carries_the_key_object_never_the_secret() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    // Nobody listens there: the messages stay in the outbox, where the test reads them.
    let out = app.cli(&[
        "webhook",
        "add",
        &org.id,
        "http://127.0.0.1:9/hook",
        "--events",
        "organization.key_added,organization.key_rotated,organization.key_revoked",
        "--json",
    ]);
    assert!(out.status.success(), "{out:?}");
    let (reader, added) = add_key(&app, &org, &["--name", "wiki sync", "--scope", "read"]);
    let key_id = added["key"]["key_id"].as_str().unwrap();
    let rotated = json_of(&app.cli(&[
        "org",
        "rotate-key",
        &org.id,
        "--key",
        key_id,
        "--grace",
        "1h",
        "--json",
    ]));
    let new_id = rotated["key"]["key_id"].as_str().unwrap();
    assert!(
        app.cli(&["org", "key", "revoke", &org.id, new_id])
            .status
            .success()
    );

    let path = app
        .data_dir
        .path()
        .join(scim_appliance::store::DB_FILE_NAME);
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT type, body FROM webhook_messages WHERE org_id = ?1 ORDER BY id")
        .unwrap();
    let messages: Vec<(String, Value)> = stmt
        .query_map([&org.id], |r| {
            let body: String = r.get(1)?;
            Ok((r.get(0)?, serde_json::from_str(&body).unwrap()))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let kinds: Vec<&str> = messages.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "organization.key_added",
            "organization.key_rotated",
            "organization.key_revoked"
        ]
    );
    assert_eq!(messages[0].1["data"]["key"], added["key"]);
    assert_eq!(messages[0].1["data"]["event"]["key_id"], key_id);
    assert_eq!(messages[1].1["data"]["key"], rotated["key"]);
    assert_eq!(messages[2].1["data"]["key"]["key_id"], new_id);
    let all = serde_json::to_string(&messages.iter().map(|m| &m.1).collect::<Vec<_>>()).unwrap();
    for token in [&reader.key, rotated["api_key"].as_str().unwrap()] {
        assert!(!all.contains(token.rsplit('_').next().unwrap()));
    }
}

#[tokio::test]
async fn rotate_key_with_grace_keeps_the_one_provision_key_working_for_that_long() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let old_id = org.key.split('_').nth(1).unwrap().to_owned();
    assert_eq!(status_of(&app, &org).await, 200, "proven and cached");

    let out = json_of(&app.cli(&["org", "rotate-key", &org.id, "--grace", "1h", "--json"]));
    assert_eq!(out["key"]["name"], "default");
    assert_eq!(out["key"]["scope"], "provision");
    assert_eq!(out["replaced"]["key_id"], old_id.as_str());
    let until = out["replaced"]["expires_at"].as_str().unwrap();
    let in_59_minutes = scim_appliance::timestamp::format(
        time::OffsetDateTime::now_utc() + time::Duration::minutes(59),
    );
    assert!(until > in_59_minutes.as_str(), "{until}");
    let new = with_key(&org, out["api_key"].as_str().unwrap());
    assert_eq!(
        status_of(&app, &org).await,
        200,
        "the old key works during grace"
    );
    assert_eq!(status_of(&app, &new).await, 200);
    let listed = list_keys(&app, &org);
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["key_id"], old_id.as_str());
    assert_eq!(listed[0]["expires_at"], until);
}
