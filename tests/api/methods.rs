//! A known path asked with a method it does not answer gets 405 with `Allow`, not 404.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app;

/// Status, `Allow` and body of `method path` sent with `client`.
async fn ask(
    client: &reqwest::Client,
    method: Method,
    url: String,
    csrf: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut request = client.request(method, url);
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    let response = request.send().await.unwrap();
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status().as_u16(),
        allow,
        response.text().await.unwrap(),
    )
}

#[tokio::test]
async fn wrong_methods_on_health_page_and_sign_in_paths_get_405_with_allow() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (Method::POST, "/alive", "GET, HEAD"),
        (Method::DELETE, "/now", "GET, HEAD"),
        (Method::DELETE, "/version", "GET, HEAD"),
        (Method::PUT, "/metrics", "GET, HEAD"),
        (Method::PUT, "/", "GET, HEAD"),
        (Method::POST, "/setup", "GET, HEAD"),
        (Method::POST, "/assets/app.js", "GET, HEAD"),
    ] {
        let (status, allowed, body) = ask(&app.client, method.clone(), app.url(path), None).await;
        assert_eq!(
            (status, allowed.as_deref()),
            (405, Some(allow)),
            "{method} {path}"
        );
        assert!(
            body.contains(&format!("{method} is not supported")),
            "{body}"
        );
    }
    for (method, path, allow) in [
        (Method::POST, "/api/admin/session", "GET, HEAD"),
        (Method::GET, "/api/admin/setup", "POST"),
        (Method::GET, "/api/admin/login", "POST"),
        (Method::DELETE, "/api/admin/login", "POST"),
    ] {
        let (status, allowed, body) = ask(&app.client, method.clone(), app.url(path), None).await;
        assert_eq!(
            (status, allowed.as_deref()),
            (405, Some(allow)),
            "{method} {path}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["status"], 405);
        assert_eq!(body["error"], "method_not_allowed");
    }
}

#[tokio::test]
async fn signed_in_admin_paths_answer_a_wrong_method_with_405_only_to_a_session() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let org = app.create_org("Acme");
    let orgs = app.url("/api/admin/orgs");
    let events = app.url(&format!("/api/admin/orgs/{}/events", org.id));
    let logout = app.url("/api/admin/logout");

    // Without a session: 401, whatever the method.
    let anonymous = reqwest::Client::new();
    for (method, url) in [
        (Method::PUT, &orgs),
        (Method::DELETE, &events),
        (Method::GET, &logout),
    ] {
        let (status, allowed, _) = ask(&anonymous, method.clone(), url.clone(), None).await;
        assert_eq!((status, allowed), (401, None), "{method} {url}");
    }
    // With a session, a state-changing method still needs the CSRF token first.
    let (status, _, _) = ask(&admin.client, Method::PUT, orgs.clone(), None).await;
    assert_eq!(status, 403);

    for (method, url, allow) in [
        (Method::PUT, &orgs, "GET, HEAD, POST"),
        (Method::POST, &events, "GET, HEAD"),
        (Method::GET, &logout, "POST"),
        (
            Method::PUT,
            &app.url(&format!("/api/admin/orgs/{}", org.id)),
            "GET, HEAD, PATCH, DELETE",
        ),
    ] {
        let (status, allowed, body) = ask(
            &admin.client,
            method.clone(),
            url.clone(),
            Some(&admin.csrf),
        )
        .await;
        assert_eq!(
            (status, allowed.as_deref()),
            (405, Some(allow)),
            "{method} {url}"
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["error"], "method_not_allowed");
    }
    // The paths still work with their own methods.
    let (status, _, _) = ask(&admin.client, Method::GET, events, None).await;
    assert_eq!(status, 200);
}
