//! Okta, replayed from its documentation (`idp-quirks.md` §1) and SPEC test: lookup with
//! `count=100`, create with `password` and `groups: []`, PUT of the whole object as returned,
//! no-path `active` PATCH, Push Groups with `{id, displayName}` renames, imports by paging.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[tokio::test]
async fn okta_provisions_updates_deactivates_and_pushes_groups() {
    let app = spawn_app().await;
    let org = app.create_org("Okta");

    // Connection test and lookup before create.
    let (status, probe) = app
        .call(&org, Method::GET, "Users?startIndex=1&count=2", None)
        .await;
    assert_eq!((status, probe["totalResults"].clone()), (200, json!(0)));
    let lookup = "Users?filter=userName%20eq%20%22test.user%40okta.local%22&startIndex=1&count=100";
    let (_, found) = app.call(&org, Method::GET, lookup, None).await;
    assert_eq!(found["totalResults"], 0);

    let (status, user) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName":"test.user@okta.local",
                "name":{"givenName":"Test","familyName":"User"},
                "emails":[{"primary":true,"value":"test.user@okta.local","type":"work"}],
                "displayName":"Test User","locale":"en-US","externalId":"00ujl29u0le5T6Aj10h7",
                "groups":[],"password":"1mz050nq","active":true}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    assert!(user.get("password").is_none());
    let id = user["id"].as_str().unwrap().to_owned();
    let (_, found) = app.call(&org, Method::GET, lookup, None).await;
    assert_eq!(found["Resources"][0]["id"], id.as_str());

    // Creating the same person again stops Okta's job with 409.
    let (status, _) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(json!({"userName":"TEST.USER@okta.local","active":true})),
        )
        .await;
    assert_eq!(status, 409);

    // Update: GET, modify, PUT the whole thing back (id, meta, groups, empty strings).
    let (_, mut current) = app
        .call(&org, Method::GET, &format!("Users/{id}"), None)
        .await;
    current["name"]["middleName"] = json!("");
    current["title"] = json!("Engineer");
    current["groups"] = json!([]);
    let (status, updated) = app
        .call(&org, Method::PUT, &format!("Users/{id}"), Some(current))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["title"], "Engineer");
    assert_eq!(updated["id"], id.as_str());

    // Deactivate and reactivate with a no-path PATCH.
    for active in [false, true] {
        let (status, patched) = app
            .call(
                &org,
                Method::PATCH,
                &format!("Users/{id}"),
                Some(json!({"schemas":[PATCH_OP],
                    "Operations":[{"op":"replace","value":{"active":active}}]})),
            )
            .await;
        assert_eq!((status, patched["active"].clone()), (200, json!(active)));
    }

    // Push Groups.
    let (status, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName":"Test SCIMv2","members":[]}),
            ),
        )
        .await;
    assert_eq!(status, 201);
    let gid = group["id"].as_str().unwrap().to_owned();
    let (_, by_name) = app
        .call(
            &org,
            Method::GET,
            "Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100",
            None,
        )
        .await;
    assert_eq!(by_name["Resources"][0]["id"], gid.as_str());
    let group_path = format!("Groups/{gid}");
    let patch = |ops: Value| {
        app.call(
            &org,
            Method::PATCH,
            &group_path,
            Some(json!({"schemas":[PATCH_OP],"Operations":ops})),
        )
    };
    let (status, _) =
        patch(json!([{"op":"replace","value":{"id":gid,"displayName":"Renamed"}}])).await;
    assert_eq!(status, 200);
    let (status, pushed) = patch(json!([
        {"op":"remove","path":"members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
        {"op":"add","path":"members","value":[{"value":id,"display":"test.user@okta.local"},
                                              {"value":"unknown-okta-id","display":"gone"}]}
    ]))
    .await;
    assert_eq!(
        status, 200,
        "an unknown member never fails the push: {pushed}"
    );
    assert_eq!(pushed["displayName"], "Renamed");
    assert_eq!(pushed["members"].as_array().unwrap().len(), 1);
    let (status, full) = patch(json!([{"op":"replace","path":"members","value":[]}])).await;
    assert_eq!(status, 200);
    assert!(full.get("members").is_none());

    // Import: page through users with integer counts in a stable order.
    let (_, page) = app
        .call(&org, Method::GET, "Users?startIndex=1&count=100", None)
        .await;
    assert!(page["totalResults"].is_u64() && page["itemsPerPage"].is_u64());
    assert!(page["startIndex"].is_u64());
}
