//! The page and the admin API answer only for this server's own host names (DNS rebinding);
//! SCIM and the health endpoints answer for any.

use serde_json::Value;
use tempfile::TempDir;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

/// `GET path` sent with `Host: host`: status and body.
async fn get_with_host(app: &TestApp, path: &str, host: &str, key: Option<&str>) -> (u16, String) {
    let mut request = app.client.get(app.url(path)).header("Host", host);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_foreign_host_gets_421_from_the_page_and_admin_api_but_not_from_scim_or_health() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    let foreign = format!("rebind.example:{port}");

    for path in ["/", "/setup", "/assets/app.js"] {
        let (status, body) = get_with_host(&app, path, &foreign, None).await;
        assert_eq!(status, 421, "{path}");
        assert!(body.contains("host name"), "{path}: {body}");
    }
    for path in ["/api/admin/session", "/api/admin/orgs"] {
        let (status, body) = get_with_host(&app, path, &foreign, None).await;
        assert_eq!(status, 421, "{path}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], 421);
        assert_eq!(body["error"], "misdirected");
    }
    let login = app
        .client
        .post(app.url("/api/admin/login"))
        .header("Host", &foreign)
        .json(&serde_json::json!({"password": "whatever it is"}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 421);

    assert_eq!(get_with_host(&app, "/alive", &foreign, None).await.0, 200);
    assert_eq!(get_with_host(&app, "/version", &foreign, None).await.0, 200);
    let (status, _) = get_with_host(
        &app,
        &format!("/v2/{}/Users", org.id),
        &foreign,
        Some(&org.key),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_public_url_host_localhost_and_loopback_are_served_in_any_case() {
    let app = spawn_app_with(TempDir::new().unwrap(), Some("https://scim.example.com")).await;
    let port = app.address.rsplit(':').next().unwrap().to_owned();
    for host in [
        "scim.example.com".to_owned(),
        "SCIM.Example.com:443".to_owned(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        for path in ["/", "/assets/app.js", "/api/admin/session"] {
            let (status, body) = get_with_host(&app, path, &host, None).await;
            assert_eq!(status, 200, "{host} {path}: {body}");
        }
    }
}
