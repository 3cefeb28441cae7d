//! PATCH on `/Users/{id}`: every form identity providers send, with read-back, atomicity and
//! errors.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestOrg, assert_scim_error, spawn_app};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

struct Fixture {
    app: TestApp,
    org: TestOrg,
    path: String,
    created: Value,
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let created = app
        .create_user(
            &org,
            json!({
                "userName": "patch@example.com",
                "externalId": "ext-0",
                "name": {"givenName": "Pat", "familyName": "Ch"},
                "displayName": "Pat Ch",
                "emails": [{"value": "patch@example.com", "type": "work", "primary": true}],
                "phoneNumbers": [{"value": "111", "type": "work"}]
            }),
        )
        .await;
    let path = format!("Users/{}", created["id"].as_str().unwrap());
    Fixture {
        app,
        org,
        path,
        created,
    }
}

impl Fixture {
    async fn patch(&self, operations: Value) -> (u16, Value) {
        self.app
            .call(
                &self.org,
                Method::PATCH,
                &self.path,
                Some(json!({"schemas": [PATCH_OP], "Operations": operations})),
            )
            .await
    }

    async fn current(&self) -> Value {
        self.app
            .call(&self.org, Method::GET, &self.path, None)
            .await
            .1
    }
}

#[tokio::test]
async fn entra_default_mode_capitalised_ops_string_false_and_filtered_paths() {
    let f = fixture().await;

    let (status, user) = f
        .patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "Eqpj"},
            {"op": "Add", "path": "nickName", "value": "Babs"},
            {"op": "Replace", "path": "active", "value": "False"}
        ]))
        .await;

    assert_eq!(status, 200);
    assert_eq!(
        user["emails"],
        json!([{"value": "updatedEmail@microsoft.com", "type": "work", "primary": true}])
    );
    assert_eq!(
        user["name"],
        json!({"familyName": "updatedFamilyName", "givenName": "Pat"})
    );
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "Eqpj");
    assert_eq!(user["nickName"], "Babs");
    assert_eq!(user["active"], false);
    assert_eq!(user, f.current().await);
    assert_eq!(
        f.app.event_types(&f.org),
        [
            "OrganizationUser_Invited",
            "OrganizationUser_Revoked",
            "OrganizationUser_Updated"
        ]
    );
}

#[tokio::test]
async fn entra_compliant_mode_no_path_replace_with_dotted_and_urn_keys() {
    let f = fixture().await;

    let (status, user) = f
        .patch(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@example.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                format!("{ENTERPRISE}:employeeNumber"): "Aklq"
            }},
            {"op": "replace", "path": "active", "value": false}
        ]))
        .await;

    assert_eq!(status, 200);
    assert_eq!(user["displayName"], "Bjfe");
    assert_eq!(
        user["name"],
        json!({"familyName": "Unua", "givenName": "Kkom"})
    );
    assert_eq!(user[ENTERPRISE], json!({"employeeNumber": "Aklq"}));
    assert_eq!(user["emails"][0]["value"], "new@example.com");
    assert_eq!(user["active"], false);
}

#[tokio::test]
async fn a_filtered_replace_with_no_match_creates_the_described_element() {
    let f = fixture().await;

    let (status, user) = f
        .patch(json!([{"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "222"}]))
        .await;

    assert_eq!(status, 200);
    assert_eq!(
        user["phoneNumbers"],
        json!([{"value": "111", "type": "work"}, {"value": "222", "type": "mobile"}])
    );
}

#[tokio::test]
async fn okta_no_path_active_false_ignoring_id_and_meta() {
    let f = fixture().await;
    let id = f.created["id"].clone();

    let (status, user) = f
        .patch(json!([{"op": "replace", "value": {"id": id, "active": false, "meta": {"x": 1}, "groups": []}}]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(user["active"], false);

    let (_, user) = f
        .patch(json!([{"op": "replace", "value": {"active": true}}]))
        .await;
    assert_eq!(user["active"], true);
    assert_eq!(
        f.app.event_types(&f.org),
        [
            "OrganizationUser_Invited",
            "OrganizationUser_Revoked",
            "OrganizationUser_Restored"
        ]
    );
}

#[tokio::test]
async fn jumpcloud_one_op_per_attribute() {
    let f = fixture().await;

    let (status, user) = f
        .patch(json!([
            {"op": "replace", "path": "name.givenName", "value": "John"},
            {"op": "replace", "path": "name.familyName", "value": "Doe"},
            {"op": "replace", "path": "title", "value": "Engineer"},
            {"op": "replace", "path": "active", "value": false}
        ]))
        .await;

    assert_eq!(status, 200);
    assert_eq!(
        user["name"],
        json!({"familyName": "Doe", "givenName": "John"})
    );
    assert_eq!(user["title"], "Engineer");
    assert_eq!(user["active"], false);
}

#[tokio::test]
async fn add_and_remove_are_honoured_on_users() {
    let f = fixture().await;

    let (_, user) = f
        .patch(json!([
            {"op": "add", "path": "emails", "value": [{"value": "home@example.com", "type": "home"}]},
            {"op": "add", "value": {"title": "Boss", "emails": [{"value": "other@example.com", "type": "other"}]}},
            {"op": "remove", "path": "phoneNumbers"},
            {"op": "remove", "path": "emails[type eq \"other\"]"},
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "externalId"}
        ]))
        .await;

    assert_eq!(
        user["emails"],
        json!([{"value": "patch@example.com", "type": "work", "primary": true},
               {"value": "home@example.com", "type": "home"}])
    );
    assert_eq!(user["title"], "Boss");
    assert!(user.get("phoneNumbers").is_none() && user.get("externalId").is_none());
    assert_eq!(user["name"], json!({"familyName": "Ch"}));
}

#[tokio::test]
async fn adding_a_primary_value_clears_the_previous_primary() {
    let f = fixture().await;

    let (_, user) = f
        .patch(json!([{"op": "add", "path": "emails", "value": [{"value": "main@example.com", "primary": true}]}]))
        .await;

    assert_eq!(user["emails"][0]["primary"], false);
    assert_eq!(
        user["emails"][1],
        json!({"value": "main@example.com", "primary": true})
    );
}

#[tokio::test]
async fn replacing_user_name_and_removing_all_emails_leaves_a_member_without_email() {
    let f = fixture().await;

    let (status, user) = f
        .patch(json!([
            {"op": "replace", "path": "userName", "value": "5d0c7a5e-not-an-email"},
            {"op": "remove", "path": "emails"}
        ]))
        .await;

    assert_eq!(status, 200);
    assert_eq!(user["userName"], "5d0c7a5e-not-an-email");
    assert!(user.get("emails").is_none());
    let (_, found) = f
        .app
        .call(
            &f.org,
            Method::GET,
            "Users?filter=userName eq \"5D0C7A5E-NOT-AN-EMAIL\"",
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1);
}

#[tokio::test]
async fn a_whole_extension_object_can_be_added_and_removed() {
    let f = fixture().await;

    let (_, user) = f
        .patch(json!([{"op": "add", "path": ENTERPRISE, "value": {
            "schemas": [ENTERPRISE], "department": "R&D", "manager": {"value": "boss-id"}
        }}]))
        .await;
    assert_eq!(
        user[ENTERPRISE],
        json!({"department": "R&D", "manager": {"value": "boss-id"}})
    );
    assert_eq!(user["schemas"][1], ENTERPRISE);

    let (_, user) = f.patch(json!([{"op": "remove", "path": ENTERPRISE}])).await;
    assert!(user.get(ENTERPRISE).is_none());
    assert_eq!(
        user["schemas"],
        json!(["urn:ietf:params:scim:schemas:core:2.0:User"])
    );
}

#[tokio::test]
async fn patch_is_atomic_a_failing_third_operation_leaves_the_first_two_unapplied() {
    let f = fixture().await;

    let (status, error) = f
        .patch(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "replace", "path": "active", "value": false},
            {"op": "replace", "path": "nosuchattribute", "value": "x"}
        ]))
        .await;

    assert_eq!(status, 400);
    assert_eq!(error["scimType"], "invalidPath");
    assert!(error["detail"].as_str().unwrap().starts_with("Operation 3"));
    assert_eq!(f.current().await, f.created);
    assert_eq!(f.app.event_types(&f.org), ["OrganizationUser_Invited"]);
}

#[tokio::test]
async fn patch_errors_carry_the_right_scim_type() {
    let f = fixture().await;

    for (operations, scim_type) in [
        (
            json!([{"op": "frobnicate", "path": "title", "value": "x"}]),
            "invalidSyntax",
        ),
        (json!([{"op": "remove"}]), "noTarget"),
        (
            json!([{"op": "replace", "path": "emails[type eq ", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "name.nosuch", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "active", "value": "perhaps"}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "userName", "value": 42.5e300}]),
            "invalidValue",
        ),
        (
            json!([{"op": "replace", "path": "id", "value": "mine"}]),
            "mutability",
        ),
        (
            json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]),
            "mutability",
        ),
        (
            json!([{"op": "replace", "path": "emails[value co \"zzz\"]", "value": {"value": "x"}}]),
            "noTarget",
        ),
        (
            json!([{"op": "remove", "path": "userName"}]),
            "invalidValue",
        ),
        (json!([]), "invalidSyntax"),
    ] {
        let (status, error) = f.patch(operations.clone()).await;
        assert_eq!(status, 400, "{operations}");
        assert_eq!(error["scimType"], scim_type, "{operations}: {error}");
    }
    let no_operations = f
        .app
        .scim(
            &f.org,
            Method::PATCH,
            &f.path,
            Some(json!({"schemas": [PATCH_OP]})),
        )
        .await;
    assert_scim_error(no_operations, 400).await;
    assert_eq!(f.current().await, f.created);
    assert_eq!(f.app.event_types(&f.org), ["OrganizationUser_Invited"]);
}

#[tokio::test]
async fn patch_to_a_taken_user_name_gets_409() {
    let f = fixture().await;
    f.app
        .create_user(&f.org, json!({"userName": "taken@example.com"}))
        .await;

    let (status, error) = f
        .patch(json!([{"op": "replace", "path": "userName", "value": "Taken@Example.com"}]))
        .await;

    assert_eq!(status, 409);
    assert_eq!(error["scimType"], "uniqueness");
}

#[tokio::test]
async fn patch_responses_honour_attributes() {
    let f = fixture().await;

    let (status, user) = f
        .app
        .call(
            &f.org,
            Method::PATCH,
            &format!("{}?attributes=active", f.path),
            Some(json!({
                "schemas": [PATCH_OP],
                "Operations": [{"op": "replace", "path": "active", "value": false}]
            })),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(
        user.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["schemas", "id", "active"]
    );
}
