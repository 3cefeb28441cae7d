//! The admin API behind the configuration page: first-run setup, sign-in, sessions, CSRF,
//! organizations and keys, and the read-only directory and event views.

use std::io::Write;
use std::process::Stdio;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_PASSWORD, BIN, TestApp, TestOrg, spawn_app, spawn_app_with, status_and_json,
};

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .expect("text")
        .to_owned()
}

#[tokio::test]
async fn the_setup_link_sets_the_password_once_and_signs_in() {
    let app = spawn_app().await;
    let browser = app.browser();
    let (status, session) = status_and_json(
        browser
            .get(app.url("/api/admin/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(session["setup_required"], true);
    assert_eq!(session["signed_in"], false);
    assert_eq!(session["csrf_token"], Value::Null);

    let setup = |token: String, password: &str| {
        browser
            .post(app.url("/api/admin/setup"))
            .json(&json!({"token": token, "password": password}))
            .send()
    };
    let (status, body) =
        status_and_json(setup("wrong".into(), ADMIN_PASSWORD).await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("invalid_setup_token"))
    );
    let (status, body) = status_and_json(setup(app.setup_token(), "short").await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid")));
    assert!(body["detail"].as_str().unwrap().contains("12 characters"));

    // A refused password does not use up the token.
    let response = setup(app.setup_token(), ADMIN_PASSWORD).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie = set_cookie(&response);
    assert!(cookie.starts_with("scim_admin_session="), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Strict"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["signed_in"], true);
    assert!(
        session["csrf_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 40)
    );

    let (_, now) = status_and_json(
        browser
            .get(app.url("/api/admin/session"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(now["signed_in"], true);
    assert_eq!(now["setup_required"], false);
    assert_eq!(now["csrf_token"], session["csrf_token"]);

    let (status, body) =
        status_and_json(setup(app.setup_token(), "another password!").await.unwrap()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("already_set_up"))
    );
    let (status, _) = app.sign_in(ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "the first password stays");
}

#[tokio::test]
async fn the_session_cookie_is_secure_behind_an_https_public_url() {
    let app = spawn_app_with(
        tempfile::TempDir::new().unwrap(),
        Some("https://scim.example.com"),
    )
    .await;
    assert!(
        app.setup_link
            .as_deref()
            .unwrap()
            .starts_with("https://scim.example.com/setup#token=")
    );
    let response = app
        .browser()
        .post(app.url("/api/admin/setup"))
        .header("Origin", "https://scim.example.com")
        .json(&json!({"token": app.setup_token(), "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(set_cookie(&response).contains("Secure"));
}

#[tokio::test]
async fn sign_in_checks_the_password_and_is_rate_limited() {
    let app = spawn_app().await;
    app.admin().await;
    for _ in 0..10 {
        let (status, admin) = app.sign_in("not the password").await;
        assert_eq!(status, 401);
        assert!(admin.is_none());
    }
    let response = app
        .browser()
        .post(app.url("/api/admin/login"))
        .json(&json!({"password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        429,
        "even the right password waits"
    );
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    let (_, body) = status_and_json(response).await;
    assert_eq!(body["error"], "too_many_attempts");
}

#[tokio::test]
async fn sign_in_before_any_password_is_set_fails_like_a_wrong_password() {
    let app = spawn_app().await;
    let (status, admin) = app.sign_in(ADMIN_PASSWORD).await;
    assert_eq!(status, 401);
    assert!(admin.is_none());
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    assert_eq!(admin.get("/orgs").await.0, 200);
    let (status, _) = admin.send(Method::POST, "/logout", None).await;
    assert_eq!(status, 204);
    let (status, body) = admin.get("/orgs").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthenticated"))
    );
    let (_, session) = admin.get("/session").await;
    assert_eq!(session["signed_in"], false);
}

#[tokio::test]
async fn changing_the_password_signs_out_every_other_session() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (_, other) = app.sign_in(ADMIN_PASSWORD).await;
    let other = other.expect("second session");

    let (status, body) = admin
        .send(
            Method::POST,
            "/password",
            Some(json!({"current_password": "wrong one here", "new_password": "a new password!"})),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("wrong_password"))
    );
    let (status, session) = admin
        .send(
            Method::POST,
            "/password",
            Some(json!({"current_password": ADMIN_PASSWORD, "new_password": "a new password!"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(other.get("/orgs").await.0, 401, "other session signed out");
    // This browser got a fresh session (new cookie and CSRF token).
    let fresh = crate::helpers::AdminClient {
        csrf: session["csrf_token"].as_str().unwrap().to_owned(),
        ..admin
    };
    assert_eq!(fresh.get("/orgs").await.0, 200);
    assert_eq!(app.sign_in(ADMIN_PASSWORD).await.0, 401);
    assert_eq!(app.sign_in("a new password!").await.0, 200);
}

#[tokio::test]
async fn the_cli_sets_the_password_and_signs_out_sessions() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let set_password = |password: &str| {
        let mut child = std::process::Command::new(BIN)
            .args(["admin", "set-password", "--password-stdin", "--data-dir"])
            .arg(app.data_dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = set_password("too short");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 12 characters"));
    assert_eq!(admin.get("/orgs").await.0, 200, "nothing changed");

    let out = set_password("set from the terminal");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(admin.get("/orgs").await.0, 401);
    assert_eq!(app.sign_in("set from the terminal").await.0, 200);
    assert_eq!(app.sign_in(ADMIN_PASSWORD).await.0, 401);
    // The database holds a hash, never the password.
    let db = std::fs::read(app.data_dir.path().join("scim-appliance.db")).unwrap();
    let wal = std::fs::read(app.data_dir.path().join("scim-appliance.db-wal")).unwrap_or_default();
    for bytes in [db, wal] {
        assert!(!bytes.windows(21).any(|w| w == b"set from the terminal"));
    }
}

#[tokio::test]
async fn state_changes_need_the_csrf_token_and_a_same_origin() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let post = |csrf: Option<&str>, origin: Option<&str>| {
        let mut request = admin
            .client
            .post(app.url("/api/admin/orgs"))
            .json(&json!({"name": "Acme"}));
        if let Some(csrf) = csrf {
            request = request.header("X-CSRF-Token", csrf);
        }
        if let Some(origin) = origin {
            request = request.header("Origin", origin);
        }
        request.send()
    };
    for (csrf, origin) in [
        (None, None),
        (Some("forged"), None),
        (Some(admin.csrf.as_str()), Some("https://evil.example")),
        (Some(admin.csrf.as_str()), Some("null")),
    ] {
        let (status, body) = status_and_json(post(csrf, origin).await.unwrap()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (403, Some("csrf")),
            "{csrf:?} {origin:?}"
        );
    }
    let (_, orgs) = admin.get("/orgs").await;
    assert_eq!(orgs["organizations"], json!([]), "nothing was created");
    let (status, _) =
        status_and_json(post(Some(&admin.csrf), Some(&app.address)).await.unwrap()).await;
    assert_eq!(status, 201);

    // Sign-in has no session yet: the Origin check still applies.
    let response = app
        .browser()
        .post(app.url("/api/admin/login"))
        .header("Origin", "https://evil.example")
        .json(&json!({"password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn bodies_must_be_small_json_without_unknown_fields() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let raw = |content_type: &'static str, body: String| {
        admin
            .client
            .post(app.url("/api/admin/orgs"))
            .header("X-CSRF-Token", &admin.csrf)
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let form = raw("application/x-www-form-urlencoded", "name=Acme".into())
        .await
        .unwrap();
    assert_eq!(form.status().as_u16(), 415);
    let large = raw(
        "application/json",
        format!("{{\"name\":\"{}\"}}", "x".repeat(70_000)),
    )
    .await
    .unwrap();
    assert_eq!(large.status().as_u16(), 413);
    let (status, body) = admin
        .send(
            Method::POST,
            "/orgs",
            Some(json!({"name": "Acme", "admin": true})),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"].as_str().unwrap().contains("unknown field"),
        "{body}"
    );
    let (status, body) = status_and_json(raw("application/json", "{".into()).await.unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid")));
    let (status, body) = admin
        .send(Method::POST, "/orgs", Some(json!({"name": "  "})))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("must not be empty")
    );
    let (_, orgs) = admin.get("/orgs").await;
    assert_eq!(orgs["organizations"], json!([]));
}

#[tokio::test]
async fn every_admin_endpoint_needs_a_session() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let anonymous = app.browser();
    for (method, path) in [
        (Method::GET, "/orgs".to_owned()),
        (Method::POST, "/orgs".to_owned()),
        (Method::GET, format!("/orgs/{}", org.id)),
        (Method::PATCH, format!("/orgs/{}", org.id)),
        (Method::DELETE, format!("/orgs/{}", org.id)),
        (Method::POST, format!("/orgs/{}/api-key", org.id)),
        (Method::GET, format!("/orgs/{}/members", org.id)),
        (Method::GET, format!("/orgs/{}/groups", org.id)),
        (Method::GET, format!("/orgs/{}/events", org.id)),
        (Method::POST, "/logout".to_owned()),
        (Method::POST, "/password".to_owned()),
    ] {
        let response = anonymous
            .request(method.clone(), app.url(&format!("/api/admin{path}")))
            .header("Cookie", "scim_admin_session=forged")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401, "{method} {path}");
    }
    let probe = anonymous
        .get(app.url("/api/admin/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        probe.status().as_u16(),
        401,
        "paths cannot be probed without a session"
    );
    let admin = app.admin().await;
    let (status, body) = admin.get("/nothing").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
}

/// Creates an organization through the admin API, enables SCIM and issues a key.
async fn org_with_key(app: &TestApp, admin: &crate::helpers::AdminClient, name: &str) -> TestOrg {
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
    let (status, key) = admin
        .send(Method::POST, &format!("/orgs/{id}/api-key"), None)
        .await;
    assert_eq!(status, 201);
    assert_eq!(key["scim_url"], format!("{}/v2/{id}", app.address).as_str());
    TestOrg {
        scim_url: key["scim_url"].as_str().unwrap().to_owned(),
        key: key["api_key"].as_str().unwrap().to_owned(),
        id,
    }
}

#[tokio::test]
async fn an_organization_from_the_page_starts_without_scim_until_enabled_and_keyed() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (status, org) = admin
        .send(Method::POST, "/orgs", Some(json!({"name": " Acme "})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(org["name"], "Acme");
    assert_eq!(org["scim_enabled"], false);
    assert_eq!(org["api_key"], Value::Null);
    assert_eq!(org["activity"].as_array().unwrap().len(), 30);
    let id = org["id"].as_str().unwrap().to_owned();
    let scim_url = format!("{}/v2/{id}", app.address);
    assert_eq!(org["scim_url"], scim_url.as_str());

    let (status, key) = admin
        .send(Method::POST, &format!("/orgs/{id}/api-key"), None)
        .await;
    assert_eq!(status, 201);
    let token = key["api_key"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("scim_{}_", key["key_id"].as_str().unwrap())));
    let users = || {
        app.client
            .get(format!("{scim_url}/Users"))
            .bearer_auth(&token)
            .send()
    };
    assert_eq!(
        users().await.unwrap().status().as_u16(),
        401,
        "SCIM still disabled"
    );

    let (status, detail) = admin
        .send(
            Method::PATCH,
            &format!("/orgs/{id}"),
            Some(json!({"scim_enabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(detail["scim_enabled"], true);
    assert_eq!(detail["api_key"]["key_id"], key["key_id"]);
    assert!(
        !detail.to_string().contains(&token),
        "the key is never shown again"
    );
    assert_eq!(users().await.unwrap().status().as_u16(), 200);

    let (_, rotated) = admin
        .send(Method::POST, &format!("/orgs/{id}/api-key"), None)
        .await;
    let new_token = rotated["api_key"].as_str().unwrap();
    assert_ne!(new_token, token);
    assert_eq!(
        users().await.unwrap().status().as_u16(),
        401,
        "old key stops at once"
    );
    let new = app
        .client
        .get(format!("{scim_url}/Users"))
        .bearer_auth(new_token)
        .send();
    assert_eq!(new.await.unwrap().status().as_u16(), 200);

    let out = app.cli(&["events", &id, "--json"]);
    let events: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("Organization_ApiKeyRotated", "admin"),
            ("Organization_ScimEnabled", "admin"),
            ("Organization_ApiKeyAdded", "admin"),
            ("Organization_Created", "admin"),
        ]
    );
    assert!(
        events[3]["summary"]
            .as_str()
            .unwrap()
            .contains("SCIM disabled")
    );
    assert!(events[2]["summary"].as_str().unwrap().contains("added"));
    assert!(events[0]["summary"].as_str().unwrap().contains("rotated"));
}

#[tokio::test]
async fn patch_changes_name_scim_and_seats_together_and_refuses_bad_values() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = org_with_key(&app, &admin, "Acme").await;
    let path = format!("/orgs/{}", org.id);
    let (status, detail) = admin
        .send(
            Method::PATCH,
            &path,
            Some(json!({"name": "Acme Inc", "scim_enabled": false, "seat_limit": 2})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (detail["name"].as_str(), detail["scim_enabled"].as_bool()),
        (Some("Acme Inc"), Some(false))
    );
    assert_eq!(detail["seat_limit"], 2);
    let (_, detail) = admin
        .send(Method::PATCH, &path, Some(json!({"seat_limit": null})))
        .await;
    assert_eq!(detail["seat_limit"], Value::Null);
    assert_eq!(detail["name"], "Acme Inc", "absent fields stay");

    for bad in [
        json!({"seat_limit": -1}),
        json!({"seat_limit": "ten"}),
        json!({"name": ""}),
        json!({"name": "x".repeat(201)}),
        json!({"scim_enabled": "yes"}),
        json!({"colour": "red"}),
    ] {
        let (status, body) = admin.send(Method::PATCH, &path, Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (_, after) = admin.get(&path).await;
    assert_eq!(
        (after["name"].as_str(), after["seat_limit"].as_u64()),
        (Some("Acme Inc"), None)
    );
    let (status, _) = admin
        .send(
            Method::PATCH,
            "/orgs/00000000-0000-4000-8000-000000000000",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn deleting_an_organization_removes_it_and_its_key() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = org_with_key(&app, &admin, "Acme").await;
    app.create_user(&org, json!({"userName": "a@example.com"}))
        .await;
    let (status, _) = admin
        .send(Method::DELETE, &format!("/orgs/{}", org.id), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(admin.get(&format!("/orgs/{}", org.id)).await.0, 404);
    assert_eq!(admin.get(&format!("/orgs/{}/members", org.id)).await.0, 404);
    assert_eq!(
        app.scim_get(&org.id, "Users", &org.key)
            .await
            .status()
            .as_u16(),
        401
    );
    let (_, orgs) = admin.get("/orgs").await;
    assert_eq!(orgs["organizations"], json!([]));
}

#[tokio::test]
async fn the_directory_views_show_what_scim_provisioned() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = org_with_key(&app, &admin, "Acme").await;
    let mut ids = Vec::new();
    for (i, name) in ["carol", "alice", "bob"].iter().enumerate() {
        let user = app
            .create_user(
                &org,
                json!({"userName": format!("{name}@example.com"), "externalId": format!("ext-{i}"),
                       "displayName": format!("{} Example", name.to_uppercase()),
                       "emails": [{"value": format!("{name}@work.example"), "type": "work"}]}),
            )
            .await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    let (status, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName": "Engineering", "members": [{"value": ids[1]}, {"value": ids[2]}]})),
        )
        .await;
    assert_eq!(status, 201);
    let group_id = group["id"].as_str().unwrap();
    let (status, _) = app
        .call(
            &org,
            Method::PATCH,
            &format!("Users/{}", ids[2]),
            Some(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "replace", "path": "active", "value": false}]}),
            ),
        )
        .await;
    assert_eq!(status, 200);

    let base = format!("/orgs/{}", org.id);
    let (status, page) = admin.get(&format!("{base}/members")).await;
    assert_eq!(status, 200);
    assert_eq!(page["total"], 3);
    let names: Vec<&str> = page["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["alice@example.com", "bob@example.com", "carol@example.com"],
        "by userName"
    );
    let bob = &page["members"][1];
    assert_eq!(bob["email"], "bob@work.example");
    assert_eq!(bob["active"], false);
    assert_eq!(bob["external_id"], "ext-2");
    assert_eq!(bob["display_name"], "BOB Example");
    assert_eq!(
        bob["groups"],
        json!([{"id": group_id, "display_name": "Engineering"}])
    );

    let total =
        async |q: &str| admin.get(&format!("{base}/members?q={q}")).await.1["total"].clone();
    assert_eq!(total("ALICE").await, 1, "userName, case-insensitive");
    assert_eq!(total("work.example").await, 3, "emails");
    assert_eq!(total("carol%20ex").await, 1, "display name");
    assert_eq!(total("ext-1").await, 1, "externalId");
    assert_eq!(total("%22%29%20or%20true").await, 0, "text, not a filter");
    let (_, revoked) = admin.get(&format!("{base}/members?status=revoked")).await;
    assert_eq!(revoked["members"][0]["id"], ids[2].as_str());
    assert_eq!(revoked["total"], 1);
    let (_, active) = admin
        .get(&format!("{base}/members?status=active&q=example"))
        .await;
    assert_eq!(active["total"], 2);
    let (_, second) = admin
        .get(&format!("{base}/members?per_page=2&page=2"))
        .await;
    assert_eq!(
        (
            second["total"].as_u64(),
            second["members"].as_array().unwrap().len()
        ),
        (Some(3), 1)
    );
    assert_eq!(second["members"][0]["user_name"], "carol@example.com");
    assert_eq!(
        admin.get(&format!("{base}/members?status=gone")).await.0,
        400
    );
    assert_eq!(
        admin
            .get(&format!("{base}/members?q={}", "x".repeat(201)))
            .await
            .0,
        400
    );

    let (status, detail) = admin.get(&format!("{base}/members/{}", ids[2])).await;
    assert_eq!(status, 200);
    let scim: Value = app
        .scim_get(&org.id, &format!("Users/{}", ids[2]), &org.key)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        detail["resource"], scim,
        "the resource exactly as SCIM shows it"
    );
    assert_eq!(detail["member"]["active"], false);

    let (_, groups) = admin.get(&format!("{base}/groups?q=engin")).await;
    assert_eq!(groups["total"], 1);
    assert_eq!(groups["groups"][0]["member_count"], 2);
    assert_eq!(groups["groups"][0]["display_name"], "Engineering");
    let (_, detail) = admin
        .get(&format!("{base}/groups/{group_id}?per_page=1"))
        .await;
    assert_eq!(detail["total"], 2);
    assert_eq!(
        detail["members"],
        json!([{"id": ids[1], "user_name": "alice@example.com",
        "email": "alice@work.example", "display_name": "ALICE Example", "active": true}])
    );

    let (_, events) = admin
        .get(&format!("{base}/events?type=OrganizationUser_Revoked"))
        .await;
    assert_eq!(events["events"].as_array().unwrap().len(), 1);
    assert_eq!(events["events"][0]["member_id"], ids[2].as_str());
    assert_eq!(events["events"][0]["actor"], "SCIM");
    let (_, by_email) = admin
        .get(&format!("{base}/events?member=BOB@work.example"))
        .await;
    let (_, by_id) = admin.get(&format!("{base}/events?member={}", ids[2])).await;
    assert_eq!(by_email["events"], by_id["events"]);
    let types: Vec<&str> = by_id["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        [
            "OrganizationUser_Revoked",
            "OrganizationUser_UpdatedGroups",
            "OrganizationUser_Invited"
        ]
    );
    assert!(
        by_id["types"]
            .as_array()
            .unwrap()
            .contains(&json!("Group_Created"))
    );
    assert_eq!(admin.get(&format!("{base}/events?type=Nope")).await.0, 400);

    // Paging newest first: every event once, in descending id order.
    let mut seen = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("{base}/events?limit=2&before={b}"),
            None => format!("{base}/events?limit=2"),
        };
        let (_, page) = admin.get(&path).await;
        seen.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next_before"].as_i64() {
            Some(b) => before = Some(b),
            None => break,
        }
    }
    let all = app
        .events(&org)
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect::<Vec<_>>();
    assert_eq!(seen, all);

    let (_, overview) = admin.get(&base).await;
    assert_eq!(
        (
            overview["members"].as_u64(),
            overview["active_members"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(
        (
            overview["revoked_members"].as_u64(),
            overview["groups"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let today = overview["activity"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    // 3 invitations, the group, 2 memberships, 1 revocation: the SCIM changes of today.
    assert_eq!(today["events"], 7, "{today}");
    assert!(overview["last_activity_at"].as_str().is_some());
    let (_, list) = admin.get("/orgs").await;
    assert_eq!(list["organizations"][0]["members"], 3);
}

#[tokio::test]
async fn one_organizations_members_and_groups_are_not_found_under_another() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let acme = org_with_key(&app, &admin, "Acme").await;
    let globex = org_with_key(&app, &admin, "Globex").await;
    let user = app
        .create_user(&acme, json!({"userName": "a@example.com"}))
        .await;
    let (_, group) = app
        .call(
            &acme,
            Method::POST,
            "Groups",
            Some(json!({"displayName": "G"})),
        )
        .await;
    let other = format!("/orgs/{}", globex.id);
    assert_eq!(
        admin
            .get(&format!("{other}/members/{}", user["id"].as_str().unwrap()))
            .await
            .0,
        404
    );
    assert_eq!(
        admin
            .get(&format!("{other}/groups/{}", group["id"].as_str().unwrap()))
            .await
            .0,
        404
    );
    assert_eq!(admin.get(&format!("{other}/members")).await.1["total"], 0);
    let (_, events) = admin
        .get(&format!("{other}/events?member=a@example.com"))
        .await;
    assert_eq!(events["events"], json!([]));
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_with_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/setup"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
        let html = response.text().await.unwrap();
        assert!(html.contains("/assets/app.js"));
        assert!(!html.contains("<script>"), "no inline script");
    }
    let js = app
        .client
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status().as_u16(), 200);
    assert_eq!(
        js.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = js.headers()["etag"].to_str().unwrap().to_owned();
    let again = app
        .client
        .get(app.url("/assets/app.js"))
        .header("If-None-Match", &etag)
        .send();
    assert_eq!(again.await.unwrap().status().as_u16(), 304);
    let css = app
        .client
        .get(app.url("/assets/app.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    for missing in ["/assets/nothing.js", "/assets/..%2FCargo.toml"] {
        assert_eq!(
            app.client
                .get(app.url(missing))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16(),
            404
        );
    }
    // SCIM answers carry the hardening headers too.
    let alive = app.client.get(app.url("/alive")).send().await.unwrap();
    assert_eq!(alive.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn behind_a_trusted_proxy_throttling_keys_on_the_forwarded_client() {
    let login = |app: &TestApp, forwarded_for: &'static str| {
        app.browser()
            .post(app.url("/api/admin/login"))
            .header("X-Forwarded-For", forwarded_for)
            .json(&json!({"password": "wrong password!"}))
            .send()
    };
    let app = crate::helpers::spawn_app_configured(tempfile::TempDir::new().unwrap(), None, |c| {
        c.trusted_proxies = scim_appliance::config::parse_networks("127.0.0.1, ::1").unwrap();
    })
    .await;
    app.admin().await;
    for _ in 0..10 {
        assert_eq!(
            login(&app, "203.0.113.5").await.unwrap().status().as_u16(),
            401
        );
    }
    assert_eq!(
        login(&app, "203.0.113.5").await.unwrap().status().as_u16(),
        429
    );
    assert_eq!(
        login(&app, "198.51.100.7, 203.0.113.9")
            .await
            .unwrap()
            .status()
            .as_u16(),
        401,
        "another client behind the same proxy is not blocked"
    );

    // Without trusted proxies the header is ignored: it cannot be used to dodge the limit.
    let app = spawn_app().await;
    app.admin().await;
    for i in 0..10 {
        let spoofed: &'static str = ["192.0.2.1", "192.0.2.2"][i % 2];
        assert_eq!(login(&app, spoofed).await.unwrap().status().as_u16(), 401);
    }
    assert_eq!(
        login(&app, "192.0.2.3").await.unwrap().status().as_u16(),
        429
    );
}

#[tokio::test]
async fn the_detail_says_how_to_bind_and_where_ldap_listens() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (status, detail) = admin
        .send(Method::POST, "/orgs", Some(json!({"name": "Acme"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        detail["ldap"],
        json!({
            "base_dn": "dc=acme",
            "people_dn": "ou=people,dc=acme",
            "groups_dn": "ou=groups,dc=acme",
            "bind_dn_format": "cn=<key id>,dc=acme",
            "listen": null, "url": null, "ldaps_listen": null, "ldaps_url": null,
        }),
        "LDAP is off"
    );
    let path = format!("/orgs/{}", detail["id"].as_str().expect("id"));
    let (_, detail) = admin
        .send(
            Method::PATCH,
            &path,
            Some(json!({"ldap_base_dn": "dc=acme,dc=test"})),
        )
        .await;
    assert_eq!(
        detail["ldap"]["bind_dn_format"],
        "cn=<key id>,dc=acme,dc=test"
    );

    // Listening on every address, clients are sent to the public URL's host.
    let app = crate::helpers::spawn_app_configured(
        tempfile::TempDir::new().expect("temp dir"),
        Some("https://scim.example.com"),
        |config| config.ldap_listen = Some("0.0.0.0:0".to_owned()),
    )
    .await;
    let admin = app.admin().await;
    let (_, detail) = admin
        .send(Method::POST, "/orgs", Some(json!({"name": "Acme"})))
        .await;
    let port = app.ldap_addr.expect("LDAP listens").port();
    assert_eq!(detail["ldap"]["listen"], format!("0.0.0.0:{port}"));
    assert_eq!(
        detail["ldap"]["url"],
        format!("ldap://scim.example.com:{port}")
    );
    assert_eq!(detail["ldap"]["ldaps_url"], Value::Null);
    let (_, same) = admin
        .get(&format!("/orgs/{}", detail["id"].as_str().expect("id")))
        .await;
    assert_eq!(same["ldap"], detail["ldap"], "GET says the same");
}
