//! JumpCloud, replayed from `idp-quirks.md` §4: a connection test that creates and deletes a
//! test user and group, one PATCH op per attribute, `{value}`-only members and Entra-style
//! member removal.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn jumpcloud_tests_the_connection_then_provisions() {
    let app = spawn_app().await;
    let org = app.create_org("JumpCloud");

    // Test Connection / Activate: list (200 even when empty), create and delete a test user
    // and a test group.
    assert_eq!(app.call(&org, Method::GET, "Users", None).await.0, 200);
    let (status, test_user) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName":"jc-test@example.com","emails":[{"value":"jc-test@example.com"}]}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    let (status, test_group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName":"jc-test-group"})),
        )
        .await;
    assert_eq!(status, 201);
    for path in [
        format!("Users/{}", test_user["id"].as_str().unwrap()),
        format!("Groups/{}", test_group["id"].as_str().unwrap()),
    ] {
        assert_eq!(app.call(&org, Method::DELETE, &path, None).await.0, 204);
    }

    let (_, user) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName":"john@example.com","name":{"givenName":"J","familyName":"Doe"},
                "emails":[{"value":"john@example.com","type":"work","primary":true}],"active":true})),
        )
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (status, patched) = app
        .call(
            &org,
            Method::PATCH,
            &format!("Users/{id}"),
            Some(json!({"schemas":[PATCH_OP],"Operations":[
                {"op":"replace","path":"name.givenName","value":"John"},
                {"op":"replace","path":"name.familyName","value":"Doe"},
                {"op":"replace","path":"active","value":false}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            patched["name"]["givenName"].clone(),
            patched["active"].clone()
        ),
        (json!("John"), json!(false))
    );

    let (_, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName":"Engineering"})),
        )
        .await;
    let gid = group["id"].as_str().unwrap();
    let group_path = format!("Groups/{gid}");
    let (status, added) = app
        .call(
            &org,
            Method::PATCH,
            &group_path,
            Some(json!({"schemas":[PATCH_OP],
                "Operations":[{"op":"add","path":"members","value":[{"value":id}]}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(added["members"][0]["value"], id.as_str());
    let (status, removed) = app
        .call(
            &org,
            Method::PATCH,
            &group_path,
            Some(json!({"schemas":[PATCH_OP],
                "Operations":[{"op":"remove","path":"members","value":[{"value":id}]}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert!(removed.get("members").is_none());
}
