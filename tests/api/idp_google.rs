//! Google Workspace, replayed from `idp-quirks.md` §6: the `count=1` setup probe, a bare first
//! sync, `userName eq` matching with `startIndex=1`, a create carrying the SCIM 1.0 URN, and
//! suspension as `active: false`.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn google_workspace_probes_matches_and_creates() {
    let app = spawn_app().await;
    let org = app.create_org("Google");

    let (status, probe) = app.call(&org, Method::GET, "Users?count=1", None).await;
    assert_eq!((status, probe["totalResults"].clone()), (200, json!(0)));
    assert_eq!(app.call(&org, Method::GET, "Users", None).await.0, 200);
    let matching = "Users?filter=userName%20eq%20%22username%40domain.com%22&startIndex=1";
    assert_eq!(
        app.call(&org, Method::GET, matching, None).await.1["totalResults"],
        0
    );
    let (status, user) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(json!({"schemas":["urn:scim:schemas:core:1.0","urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName":"username@domain.com",
                "emails":[{"primary":true,"value":"username@domain.com","type":"work"}],
                "displayName":"User Name","name":{"givenName":"User","familyName":"Name"},"active":true})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let (_, found) = app.call(&org, Method::GET, matching, None).await;
    assert_eq!(found["Resources"][0]["id"], user["id"]);
    let (_, probe) = app.call(&org, Method::GET, "Users?count=1", None).await;
    assert_eq!(probe["itemsPerPage"], 1);

    // A suspension sync sends the user back with active false; it stays listed.
    let id = user["id"].as_str().unwrap();
    let mut suspended = user.clone();
    suspended["active"] = json!(false);
    let (status, updated) = app
        .call(&org, Method::PUT, &format!("Users/{id}"), Some(suspended))
        .await;
    assert_eq!((status, updated["active"].clone()), (200, json!(false)));
    assert_eq!(
        app.call(&org, Method::GET, matching, None).await.1["totalResults"],
        1
    );
}
