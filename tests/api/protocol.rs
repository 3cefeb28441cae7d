//! RFC 7644 protocol features: discovery, ETags and preconditions, `.search`, `/Bulk`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestOrg, assert_scim_error, spawn_app};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SEARCH: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
const BULK: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

async fn setup() -> (TestApp, TestOrg) {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    (app, org)
}

#[tokio::test]
async fn discovery_publishes_the_schemas_and_resource_types_served() {
    let (app, org) = setup().await;

    let (status, schemas) = app.call(&org, Method::GET, "Schemas", None).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = schemas["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ENTERPRISE,
            "urn:ietf:params:scim:schemas:core:2.0:Group"
        ]
    );
    assert_eq!(schemas["totalResults"], 3);

    let (status, user) = app
        .call(
            &org,
            Method::GET,
            "Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            None,
        )
        .await;
    assert_eq!(status, 200);
    let password = user["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap();
    assert_eq!(password["returned"], "never");
    assert_eq!(password["mutability"], "writeOnly");

    let (status, types) = app.call(&org, Method::GET, "ResourceTypes", None).await;
    assert_eq!(status, 200);
    assert_eq!(types["Resources"][0]["endpoint"], "/Users");
    assert_eq!(
        types["Resources"][0]["schemaExtensions"][0]["schema"],
        ENTERPRISE
    );
    let (status, group) = app
        .call(&org, Method::GET, "ResourceTypes/group", None)
        .await;
    assert_eq!((status, &group["endpoint"]), (200, &json!("/Groups")));

    let (_, config) = app
        .call(&org, Method::GET, "ServiceProviderConfig", None)
        .await;
    for feature in ["patch", "bulk", "filter", "sort", "etag"] {
        assert_eq!(config[feature]["supported"], true, "{feature}");
    }
    assert_eq!(config["changePassword"]["supported"], false);
    assert_eq!(config["bulk"]["maxOperations"], 1000);
    assert_eq!(config["bulk"]["maxPayloadSize"], 1024 * 1024);
}

#[tokio::test]
async fn discovery_refuses_writes_unknown_ids_and_unknown_paths() {
    let (app, org) = setup().await;
    for path in [
        "Schemas/urn:nope",
        "ResourceTypes/Printer",
        "no-such-endpoint",
    ] {
        let response = app.scim(&org, Method::GET, path, None).await;
        assert_scim_error(response, 404).await;
    }
    for path in ["ServiceProviderConfig", "Schemas", "ResourceTypes"] {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let response = app.scim(&org, method.clone(), path, None).await;
            assert_eq!(response.headers()["allow"], "GET");
            assert_scim_error(response, 405).await;
        }
    }
    for (path, method, allow) in [
        ("Users", Method::DELETE, "GET, POST"),
        ("Groups", Method::PUT, "GET, POST"),
        ("Users/x", Method::POST, "GET, PUT, PATCH, DELETE"),
        ("Bulk", Method::GET, "POST"),
    ] {
        let response = app.scim(&org, method, path, None).await;
        assert_eq!(response.headers()["allow"], allow, "{path}");
        assert_scim_error(response, 405).await;
    }
    // Without a key, nothing is revealed.
    let response = app
        .client
        .get(format!("{}/Schemas", org.scim_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn etags_answer_304_and_412() {
    let (app, org) = setup().await;
    let response = app
        .scim(
            &org,
            Method::POST,
            "Users",
            Some(json!({"userName": "etag@example.com"})),
        )
        .await;
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let user: Value = response.json().await.unwrap();
    assert_eq!(etag, "W/\"1\"");
    assert_eq!(user["meta"]["version"], etag);
    let path = format!("{}/Users/{}", org.scim_url, user["id"].as_str().unwrap());
    let send = |method: Method, header: (&'static str, &str), body: Option<Value>| {
        let mut request = app
            .client
            .request(method, &path)
            .bearer_auth(&org.key)
            .header(header.0, header.1);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        request.send()
    };

    let unchanged = send(Method::GET, ("If-None-Match", &etag), None)
        .await
        .unwrap();
    assert_eq!(unchanged.status(), 304);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());
    let changed = send(Method::GET, ("If-None-Match", "W/\"0\""), None)
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);

    let patch = json!({"schemas": [PATCH_OP],
        "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]});
    let stale = send(Method::PATCH, ("If-Match", "W/\"7\""), Some(patch.clone()))
        .await
        .unwrap();
    assert_scim_error(stale, 412).await;
    let stale_put = send(
        Method::PUT,
        ("If-Match", "W/\"7\""),
        Some(json!({"userName": "etag@example.com", "title": "x"})),
    )
    .await
    .unwrap();
    assert_scim_error(stale_put, 412).await;
    let stale_delete = send(Method::DELETE, ("If-Match", "\"7\""), None)
        .await
        .unwrap();
    assert_scim_error(stale_delete, 412).await;
    let (_, still) = app
        .call(
            &org,
            Method::GET,
            &format!("Users/{}", user["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert!(still.get("title").is_none(), "412 wrote nothing");
    assert_eq!(still["meta"]["version"], "W/\"1\"");

    let fresh = send(Method::PATCH, ("If-Match", &etag), Some(patch))
        .await
        .unwrap();
    assert_eq!(fresh.status(), 200);
    assert_eq!(fresh.headers()["etag"], "W/\"2\"");
    let gone = send(Method::DELETE, ("If-Match", "*"), None).await.unwrap();
    assert_eq!(gone.status(), 204);
}

#[tokio::test]
async fn search_posts_the_query_in_the_body() {
    let (app, org) = setup().await;
    for name in ["ann", "bob", "cat"] {
        app.create_user(&org, json!({"userName": format!("{name}@example.com")}))
            .await;
    }
    let (_, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName": "ann's team"})),
        )
        .await;

    let (status, page) = app
        .call(
            &org,
            Method::POST,
            "Users/.search",
            Some(
                json!({"schemas": [SEARCH], "filter": "userName sw \"b\" or userName sw \"c\"",
                        "attributes": ["userName"], "sortBy": "userName",
                        "sortOrder": "descending", "count": 5}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["totalResults"], 2);
    assert_eq!(page["Resources"][0]["userName"], "cat@example.com");
    assert!(page["Resources"][0].get("meta").is_none());

    let (_, groups) = app
        .call(
            &org,
            Method::POST,
            "Groups/.search",
            Some(json!({"schemas": [SEARCH], "filter": "displayName co \"team\""})),
        )
        .await;
    assert_eq!(groups["Resources"][0]["id"], group["id"]);

    // The root search pages across users, then groups; a filter for one type's attribute
    // finds nothing of the other.
    let (_, all) = app
        .call(
            &org,
            Method::POST,
            ".search",
            Some(json!({"schemas": [SEARCH], "startIndex": 3, "count": 2})),
        )
        .await;
    assert_eq!(all["totalResults"], 4);
    assert_eq!(all["Resources"][0]["userName"], "cat@example.com");
    assert_eq!(all["Resources"][1]["displayName"], "ann's team");
    let (_, users_only) = app
        .call(
            &org,
            Method::POST,
            ".search",
            Some(json!({"schemas": [SEARCH], "filter": "userName eq \"ann@example.com\""})),
        )
        .await;
    assert_eq!(users_only["totalResults"], 1);

    let bad = app
        .scim(
            &org,
            Method::POST,
            "Users/.search",
            Some(json!({"schemas": [SEARCH], "filter": "userName eq"})),
        )
        .await;
    let error = assert_scim_error(bad, 400).await;
    assert_eq!(error["scimType"], "invalidFilter");
    let wrong_method = app.scim(&org, Method::GET, "Users/.search", None).await;
    assert_scim_error(wrong_method, 405).await;
}

#[tokio::test]
async fn bulk_runs_each_operation_on_its_own_and_resolves_bulk_ids() {
    let (app, org) = setup().await;
    let existing = app
        .create_user(&org, json!({"userName": "taken@example.com"}))
        .await;
    let existing_id = existing["id"].as_str().unwrap();

    let (status, response) = app
        .call(
            &org,
            Method::POST,
            "Bulk",
            Some(json!({"schemas": [BULK], "Operations": [
                // A forward reference: the group names a user created later in the request.
                {"method": "POST", "path": "/Groups", "bulkId": "g",
                 "data": {"displayName": "Team", "members": [{"value": "bulkId:u"}]}},
                {"method": "POST", "path": "/Users", "bulkId": "u",
                 "data": {"userName": "new@example.com"}},
                {"method": "POST", "path": "/Users", "bulkId": "dup",
                 "data": {"userName": "TAKEN@example.com"}},
                {"method": "PATCH", "path": format!("/Users/{existing_id}"),
                 "data": {"schemas": [PATCH_OP], "Operations": [
                     {"op": "replace", "path": "title", "value": "Lead"}]}},
                {"method": "PATCH", "path": "/Users/bulkId:dup",
                 "data": {"schemas": [PATCH_OP], "Operations": [
                     {"op": "replace", "path": "title", "value": "x"}]}},
                {"method": "DELETE", "path": "/Users/nope"},
                {"method": "PUT", "path": "/Users/bulkId:nowhere", "data": {"userName": "z"}}
            ]})),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(
        response["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = response["Operations"].as_array().unwrap();
    let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["201", "201", "409", "200", "409", "404", "409"]);
    assert_eq!(ops[2]["response"]["scimType"], "uniqueness");
    assert_eq!(ops[4]["response"]["scimType"], "invalidValue");
    let group_location = ops[0]["location"].as_str().unwrap();
    let user_location = ops[1]["location"].as_str().unwrap();
    assert_eq!(ops[1]["version"], "W/\"1\"");

    let group: Value = app
        .client
        .get(group_location)
        .bearer_auth(&org.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let user_id = user_location.rsplit('/').next().unwrap();
    assert_eq!(group["members"][0]["value"], user_id);
    let (_, patched) = app
        .call(&org, Method::GET, &format!("Users/{existing_id}"), None)
        .await;
    assert_eq!(patched["title"], "Lead");
}

#[tokio::test]
async fn bulk_stops_after_fail_on_errors_and_bounds_its_input() {
    let (app, org) = setup().await;
    let (_, response) = app
        .call(
            &org,
            Method::POST,
            "Bulk",
            Some(json!({"schemas": [BULK], "failOnErrors": 1, "Operations": [
                {"method": "DELETE", "path": "/Users/nope"},
                {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a"}}
            ]})),
        )
        .await;
    assert_eq!(response["Operations"].as_array().unwrap().len(), 1);
    let (_, list) = app.call(&org, Method::GET, "Users", None).await;
    assert_eq!(list["totalResults"], 0, "the second operation never ran");

    // A cycle of references fails every operation in it.
    let (_, cycle) = app
        .call(
            &org,
            Method::POST,
            "Bulk",
            Some(json!({"schemas": [BULK], "Operations": [
                {"method": "POST", "path": "/Groups", "bulkId": "x",
                 "data": {"displayName": "X", "externalId": "bulkId:y"}},
                {"method": "POST", "path": "/Groups", "bulkId": "y",
                 "data": {"displayName": "Y", "externalId": "bulkId:x"}}
            ]})),
        )
        .await;
    let statuses: Vec<&str> = cycle["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["409", "409"]);

    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
        .collect();
    let response = app
        .scim(
            &org,
            Method::POST,
            "Bulk",
            Some(json!({"schemas": [BULK], "Operations": too_many})),
        )
        .await;
    assert_scim_error(response, 413).await;
    for bad in [
        json!({"schemas": [BULK]}),
        json!({"schemas": [BULK], "Operations": [{"method": "GET", "path": "/Users"}]}),
        json!({"schemas": [BULK], "Operations": [{"method": "POST", "path": "/Users", "data": {}}]}),
        json!({"schemas": [BULK], "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "a"}},
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"userName": "b"}}]}),
    ] {
        let response = app
            .scim(&org, Method::POST, "Bulk", Some(bad.clone()))
            .await;
        assert_scim_error(response, 400).await;
    }
    let (_, list) = app.call(&org, Method::GET, "Users", None).await;
    assert_eq!(list["totalResults"], 0, "rejected requests ran nothing");
}

#[tokio::test]
async fn a_password_sent_in_any_form_is_never_stored_or_returned() {
    let (app, org) = setup().await;
    let user = app
        .create_user(
            &org,
            json!({"userName": "pw@example.com", "password": "hunter2"}),
        )
        .await;
    let id = user["id"].as_str().unwrap();
    for operations in [
        json!([{"op": "add", "path": "password", "value": "hunter3"}]),
        json!([{"op": "replace", "value": {"password": "hunter4"}}]),
    ] {
        let (status, patched) = app
            .call(
                &org,
                Method::PATCH,
                &format!("Users/{id}"),
                Some(json!({"schemas": [PATCH_OP], "Operations": operations})),
            )
            .await;
        assert_eq!(status, 200);
        assert!(patched.get("password").is_none(), "{patched}");
    }
    let (_, read) = app
        .call(&org, Method::GET, &format!("Users/{id}"), None)
        .await;
    assert!(read.get("password").is_none());
    let db = std::fs::read(app.data_dir.path().join("scim-appliance.db")).unwrap();
    let wal = std::fs::read(app.data_dir.path().join("scim-appliance.db-wal")).unwrap_or_default();
    for secret in ["hunter2", "hunter3", "hunter4"] {
        let needle = secret.as_bytes();
        assert!(
            !db.windows(needle.len()).any(|w| w == needle)
                && !wal.windows(needle.len()).any(|w| w == needle),
            "{secret} reached the database"
        );
    }
}

#[tokio::test]
async fn removing_active_leaves_it_unassigned_and_the_member_active() {
    let (app, org) = setup().await;
    let user = app
        .create_user(&org, json!({"userName": "act@example.com"}))
        .await;
    let id = user["id"].as_str().unwrap();
    let (status, patched) = app
        .call(
            &org,
            Method::PATCH,
            &format!("Users/{id}"),
            Some(
                json!({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": "active"}]}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    assert!(patched.get("active").is_none());
    let (_, active) = app
        .call(&org, Method::GET, "Users?filter=active eq true", None)
        .await;
    assert_eq!(active["totalResults"], 1, "still an active member");
    let (_, present) = app
        .call(&org, Method::GET, "Users?filter=active pr", None)
        .await;
    assert_eq!(
        present["totalResults"], 0,
        "but the attribute is not present"
    );
    assert!(
        !app.event_types(&org)
            .contains(&"OrganizationUser_Revoked".to_owned())
    );
}

#[tokio::test]
async fn membership_changes_give_both_sides_a_new_version() {
    let (app, org) = setup().await;
    let user = app
        .create_user(&org, json!({"userName": "m@example.com"}))
        .await;
    let uid = user["id"].as_str().unwrap();
    let version = |path: String| {
        let app = &app;
        let org = &org;
        async move {
            let (_, v) = app.call(org, Method::GET, &path, None).await;
            v["meta"]["version"].as_str().unwrap().to_owned()
        }
    };
    let user_path = format!("Users/{uid}");
    let v1 = version(user_path.clone()).await;

    let (_, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName": "G", "members": [{"value": uid}]})),
        )
        .await;
    let group_path = format!("Groups/{}", group["id"].as_str().unwrap());
    let v2 = version(user_path.clone()).await;
    assert_ne!(v1, v2, "joining a group changes the user's groups");

    let g1 = version(group_path.clone()).await;
    app.call(
        &org,
        Method::PATCH,
        &user_path,
        Some(json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Em"}]})),
    )
    .await;
    let g2 = version(group_path.clone()).await;
    assert_ne!(g1, g2, "the member's display changed");

    app.call(
        &org,
        Method::PATCH,
        &group_path,
        Some(json!({"schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "H"}]})),
    )
    .await;
    let v3 = version(user_path.clone()).await;
    assert_ne!(v2, v3, "the group's display in the user's groups changed");

    app.call(&org, Method::DELETE, &group_path, None).await;
    let v4 = version(user_path).await;
    assert_ne!(
        v3, v4,
        "leaving by group deletion changes the user's groups"
    );
}
