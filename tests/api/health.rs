//! Health endpoints.

use crate::helpers::spawn_app;

#[tokio::test]
async fn alive_answers_with_the_current_time_without_authentication() {
    let app = spawn_app().await;

    for path in ["/alive", "/now"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        let time = body.as_str().expect("a JSON string");
        assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    }
}

#[tokio::test]
async fn version_is_the_package_version() {
    let app = spawn_app().await;

    let response = app.client.get(app.url("/version")).send().await.unwrap();

    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn head_is_answered_like_get_without_a_body() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    for url in [
        app.url("/alive"),
        app.url("/"),
        format!("{}/ServiceProviderConfig", org.scim_url),
    ] {
        let response = app
            .client
            .head(&url)
            .bearer_auth(&org.key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{url}");
        assert!(response.headers().contains_key("content-length"), "{url}");
        assert!(response.bytes().await.unwrap().is_empty(), "{url}");
    }
}
