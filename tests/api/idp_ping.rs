//! Ping Identity, replayed from `idp-quirks.md` §7: `userName`/`externalId` filters in other
//! letter cases, updates as full PUTs (no user PATCH), disabled users provisioned with
//! `active: false`, groups found by paging all of `/Groups`, membership set by PUT.

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn ping_matches_in_any_case_and_updates_by_put() {
    let app = spawn_app().await;
    let org = app.create_org("Ping");

    let (status, user) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName":"pat@example.com","externalId":"ping-1","active":false,
                "emails":[{"value":"pat@example.com","type":"work"}]}),
            ),
        )
        .await;
    assert_eq!((status, user["active"].clone()), (201, json!(false)));
    let id = user["id"].as_str().unwrap();
    for filter in [
        "username eq \"PAT@example.com\"",
        "USERNAME EQ \"pat@example.com\"",
        "externalid eq \"ping-1\"",
        "ExternalId Eq \"ping-1\"",
    ] {
        let (status, found) = app
            .call(&org, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        assert_eq!(status, 200, "{filter}");
        assert_eq!(found["Resources"][0]["id"], id, "{filter}");
    }

    let (status, updated) = app
        .call(
            &org,
            Method::PUT,
            &format!("Users/{id}"),
            Some(
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName":"pat@example.com","externalId":"ping-1","active":true,
                "title":"Ops","emails":[{"value":"pat@example.com","type":"work"}]}),
            ),
        )
        .await;
    assert_eq!(
        (status, updated["active"].clone(), updated["title"].clone()),
        (200, json!(true), json!("Ops"))
    );

    // Groups: Ping lists all groups and matches by name, then sets membership with PUT.
    for i in 0..3 {
        app.call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName": format!("g{i}")})),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let (_, page) = app
            .call(
                &org,
                Method::GET,
                &format!("Groups?startIndex={start}&count=2"),
                None,
            )
            .await;
        let items = page["Resources"].as_array().unwrap().clone();
        if items.is_empty() {
            break;
        }
        start += items.len();
        seen.extend(items);
    }
    assert_eq!(seen.len(), 3);
    let target = seen.iter().find(|g| g["displayName"] == "g1").unwrap();
    let gid = target["id"].as_str().unwrap();
    let (status, group) = app
        .call(
            &org,
            Method::PUT,
            &format!("Groups/{gid}"),
            Some(json!({"displayName":"g1","members":[{"value":id}]})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(group["members"][0]["value"], id);
    let (status, renamed) = app
        .call(
            &org,
            Method::PATCH,
            &format!("Groups/{gid}"),
            Some(
                json!({"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations":[{"op":"replace","path":"displayName","value":"g1-renamed"}]}),
            ),
        )
        .await;
    assert_eq!(
        (status, renamed["members"][0]["value"].clone()),
        (200, json!(id))
    );
}
