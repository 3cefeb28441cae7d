//! Microsoft Entra ID, replayed from `idp-quirks.md` §2–3: connection test with a random
//! GUID, the default mode (capitalised ops, `"False"` strings, three member-removal forms,
//! `excludedAttributes=members`, the membership probe) and `aadOptscim062020` (no-path
//! replaces with dotted and URN keys, filtered member removal).

use reqwest::Method;
use serde_json::json;

use crate::helpers::spawn_app;

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[tokio::test]
async fn entra_default_and_compliant_modes_provision_the_same_directory() {
    let app = spawn_app().await;
    let org = app.create_org("Entra");

    // Test Connection: a random user that does not exist, and the flag in the query.
    let (status, none) = app
        .call(
            &org,
            Method::GET,
            "Users?filter=userName eq \"8c7e2b0a-5c4e-4a0e-9a43-1d2b3c4d5e6f\"&aadOptscim062020",
            None,
        )
        .await;
    assert_eq!((status, none["totalResults"].clone()), (200, json!(0)));

    let (status, user) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "externalId":"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                "userName":"Test_User_00aa00aa@contoso.onmicrosoft.com","active":true,
                "emails":[{"primary":true,"type":"work","value":"Test_User_11bb11bb@testuser.com"}],
                "meta":{"resourceType":"User"},
                "name":{"formatted":"givenName familyName","familyName":"familyName","givenName":"givenName"},
                "roles":[], "title": null, "addresses": null})),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let id = user["id"].as_str().unwrap().to_owned();
    for filter in [
        "externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\"",
        "emails[type eq \"work\"].value eq \"test_user_11bb11bb@testuser.com\"",
    ] {
        let (_, found) = app
            .call(&org, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        assert_eq!(found["Resources"][0]["id"], id.as_str(), "{filter}");
    }

    // Default mode PATCH: capitalised ops, filtered and URN paths, "False" as a string.
    let user_path = format!("Users/{id}");
    let patch_user = |ops: serde_json::Value| {
        app.call(
            &org,
            Method::PATCH,
            &user_path,
            Some(json!({"schemas":[PATCH_OP],"Operations":ops})),
        )
    };
    let (status, patched) = patch_user(json!([
        {"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
        {"op":"Replace","path":"name.familyName","value":"updatedFamilyName"},
        {"op":"Replace","path":format!("{ENTERPRISE}:employeeNumber"),"value":"Eqpj"},
        {"op":"Add","path":"nickName","value":"Babs"}
    ]))
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["emails"][0]["value"], "updatedEmail@microsoft.com");
    assert_eq!(patched[ENTERPRISE]["employeeNumber"], "Eqpj");
    let (_, disabled) = patch_user(json!([{"op":"Replace","path":"active","value":"False"}])).await;
    assert_eq!(disabled["active"], false);
    let (_, still_listed) = app
        .call(
            &org,
            Method::GET,
            &format!("Users?filter=id eq \"{id}\""),
            None,
        )
        .await;
    assert_eq!(
        still_listed["totalResults"], 1,
        "disabled users are still returned"
    );

    // aadOptscim062020: one no-path op with dotted and URN keys.
    let (status, compliant) = patch_user(json!([
        {"op":"replace","path":"active","value":true},
        {"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom",
            "name.familyName":"Unua", format!("{ENTERPRISE}:employeeNumber"):"Aklq"}}
    ]))
    .await;
    assert_eq!(status, 200);
    assert_eq!(compliant["name"]["givenName"], "Kkom");
    assert_eq!(compliant[ENTERPRISE]["employeeNumber"], "Aklq");
    assert_eq!(compliant["active"], true);

    // Groups: ADSCIM schema URN, created without members, probed, members in three forms.
    let (status, group) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(
                json!({"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group",
                "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
                "externalId":"8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159","displayName":"displayName",
                "meta":{"resourceType":"Group"}}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    let gid = group["id"].as_str().unwrap().to_owned();
    let probe = format!(
        "Groups?excludedAttributes=members&filter=id eq \"{gid}\" and members[value eq \"{id}\"]"
    );
    let group_path = format!("Groups/{gid}?excludedAttributes=members");
    let patch_group = |ops: serde_json::Value| {
        app.call(
            &org,
            Method::PATCH,
            &group_path,
            Some(json!({"schemas":[PATCH_OP],"Operations":ops})),
        )
    };
    let is_member = || async {
        let (_, page) = app.call(&org, Method::GET, &probe, None).await;
        assert!(page["Resources"][0].get("members").is_none());
        page["totalResults"] == 1
    };
    let add = json!([{"op":"Add","path":"members","value":[{"$ref":null,"value":id}]}]);
    for removal in [
        json!([{"op":"Remove","path":"members","value":[{"value":id}]}]),
        json!([{"op":"remove","path":format!("members[value eq \"{id}\"]")}]),
        json!([{"op":"remove","path":"members"}]),
    ] {
        let (status, response) = patch_group(add.clone()).await;
        assert_eq!(status, 200);
        assert!(response.get("members").is_none());
        assert!(is_member().await);
        // Entra re-adds existing members: a no-op.
        assert_eq!(patch_group(add.clone()).await.0, 200);
        assert_eq!(patch_group(removal.clone()).await.0, 200);
        assert!(!is_member().await, "{removal}");
    }
    let (status, renamed) =
        patch_group(json!([{"op":"Replace","path":"displayName","value":"Renamed"}])).await;
    assert_eq!(
        (status, renamed["displayName"].clone()),
        (200, json!("Renamed"))
    );

    let (status, _) = app
        .call(&org, Method::DELETE, &format!("Users/{id}"), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .call(&org, Method::GET, &format!("Users/{id}"), None)
        .await;
    assert_eq!(status, 404);
    // Entra reads /Schemas when a gallery app is saved.
    assert_eq!(app.call(&org, Method::GET, "Schemas", None).await.0, 200);
}
