//! `/Groups`: the resource, every membership PATCH form, the membership probe, cascades,
//! atomicity and events.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestOrg, assert_scim_error, spawn_app};

const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Fixture {
    app: TestApp,
    org: TestOrg,
    users: Vec<String>,
}

/// An organization with three users.
async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let mut users = Vec::new();
    for name in ["ann", "bob", "cat"] {
        let user = app
            .create_user(
                &org,
                json!({"userName": format!("{name}@example.com"), "displayName": name}),
            )
            .await;
        users.push(user["id"].as_str().unwrap().to_owned());
    }
    Fixture { app, org, users }
}

impl Fixture {
    async fn create_group(&self, body: Value) -> Value {
        let (status, group) = self
            .app
            .call(&self.org, Method::POST, "Groups", Some(body))
            .await;
        assert_eq!(status, 201, "{group}");
        group
    }

    async fn patch(&self, group: &Value, operations: Value) -> (u16, Value) {
        let path = format!("Groups/{}", group["id"].as_str().unwrap());
        self.app
            .call(
                &self.org,
                Method::PATCH,
                &path,
                Some(json!({"schemas": [PATCH_OP], "Operations": operations})),
            )
            .await
    }

    async fn member_ids(&self, group: &Value) -> Vec<String> {
        let path = format!("Groups/{}", group["id"].as_str().unwrap());
        let (_, g) = self.app.call(&self.org, Method::GET, &path, None).await;
        let mut ids: Vec<String> = g["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|m| m["value"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn sorted(&self, idx: &[usize]) -> Vec<String> {
        let mut ids: Vec<String> = idx.iter().map(|&i| self.users[i].clone()).collect();
        ids.sort();
        ids
    }
}

#[tokio::test]
async fn post_creates_a_group_with_members_location_and_event() {
    let f = fixture().await;

    let response = f
        .app
        .scim(&f.org, Method::POST, "Groups", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0", "displayName": "Engineering",
            "meta": {"resourceType": "Group"},
            "members": [{"value": f.users[0], "display": "Ann A."}, {"value": "no-such-user"}]
        })))
        .await;

    assert_eq!(response.status().as_u16(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let group: Value = response.json().await.unwrap();
    assert_eq!(group["meta"]["location"], location.as_str());
    assert_eq!(group["displayName"], "Engineering");
    assert_eq!(group["externalId"], "8aa1a0c0");
    assert_eq!(
        group["members"],
        json!([{"value": f.users[0], "$ref": format!("{}/Users/{}", f.org.scim_url, f.users[0]),
                "display": "Ann A.", "type": "User"}])
    );
    let types = f.app.event_types(&f.org);
    assert_eq!(
        &types[3..],
        ["Group_Created", "OrganizationUser_UpdatedGroups"]
    );
}

#[tokio::test]
async fn get_returns_members_unless_excluded_and_users_list_their_groups() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "Ops", "members": [{"value": f.users[1]}]}))
        .await;
    let path = format!("Groups/{}", group["id"].as_str().unwrap());

    let (_, full) = f.app.call(&f.org, Method::GET, &path, None).await;
    assert_eq!(
        full["members"][0]["display"], "bob",
        "display falls back to the user's displayName"
    );
    let (_, lean) = f
        .app
        .call(
            &f.org,
            Method::GET,
            &format!("{path}?excludedAttributes=members"),
            None,
        )
        .await;
    assert!(lean.get("members").is_none());
    assert_eq!(lean["displayName"], "Ops");

    let (_, user) = f
        .app
        .call(&f.org, Method::GET, &format!("Users/{}", f.users[1]), None)
        .await;
    assert_eq!(
        user["groups"],
        json!([{"value": group["id"], "$ref": format!("{}/Groups/{}", f.org.scim_url, group["id"].as_str().unwrap()),
                "display": "Ops", "type": "direct"}])
    );
}

#[tokio::test]
async fn a_list_page_shows_each_members_own_groups_in_name_order() {
    let f = fixture().await;
    let [ann, bob] = [&f.users[0], &f.users[1]];
    // Six groups created in reverse name order (their ids are random): ann is in all of them,
    // bob in one.
    let mut ids = std::collections::BTreeMap::new();
    for n in (0..6).rev() {
        let mut members = vec![json!({"value": ann})];
        if n == 3 {
            members.push(json!({"value": bob}));
        }
        let group = f
            .create_group(json!({"displayName": format!("G{n}"), "members": members}))
            .await;
        ids.insert(format!("G{n}"), group["id"].as_str().unwrap().to_owned());
    }
    let (status, page) = f
        .app
        .call(&f.org, Method::GET, "Users?sortBy=userName&count=10", None)
        .await;
    assert_eq!(status, 200, "{page}");
    let groups_of = |i: usize| -> Vec<(String, String)> {
        page["Resources"][i]["groups"]
            .as_array()
            .map(|groups| {
                groups
                    .iter()
                    .map(|g| {
                        let field = |name: &str| g[name].as_str().unwrap().to_owned();
                        (field("display"), field("value"))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(page["Resources"][0]["id"], ann.as_str());
    assert_eq!(groups_of(0), ids.clone().into_iter().collect::<Vec<_>>());
    assert_eq!(page["Resources"][1]["id"], bob.as_str());
    assert_eq!(groups_of(1), [("G3".to_owned(), ids["G3"].clone())]);
    assert_eq!(page["Resources"][2]["id"], f.users[2].as_str());
    assert!(groups_of(2).is_empty(), "cat is in no group: {page}");
}

#[tokio::test]
async fn every_membership_patch_form_identity_providers_send() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "All", "members": []}))
        .await;
    let [a, b, c] = [&f.users[0], &f.users[1], &f.users[2]];

    // Entra: add with $ref null; JumpCloud: value only; Okta: value + display.
    let (status, _) = f
        .patch(&group, json!([
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}]},
            {"op": "add", "path": "members", "value": [{"value": b}, {"value": c, "display": "Cat"}]}
        ]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.member_ids(&group).await, f.sorted(&[0, 1, 2]));

    // Adding an existing member is a no-op.
    let (status, _) = f
        .patch(
            &group,
            json!([{"op": "add", "path": "members", "value": [{"value": a}]}]),
        )
        .await;
    assert_eq!(status, 200);

    // Okta / Entra compliant: remove by filter.
    f.patch(
        &group,
        json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}]),
    )
    .await;
    assert_eq!(f.member_ids(&group).await, f.sorted(&[1, 2]));

    // Entra default / JumpCloud: remove with a value list.
    f.patch(
        &group,
        json!([{"op": "Remove", "path": "members", "value": [{"value": b}]}]),
    )
    .await;
    assert_eq!(f.member_ids(&group).await, f.sorted(&[2]));

    // Replace with a list.
    f.patch(
        &group,
        json!([{"op": "replace", "path": "members", "value": [{"value": a}, {"value": b}]}]),
    )
    .await;
    assert_eq!(f.member_ids(&group).await, f.sorted(&[0, 1]));

    // Remove all.
    let (_, emptied) = f
        .patch(&group, json!([{"op": "remove", "path": "members"}]))
        .await;
    assert!(emptied.get("members").is_none());
    assert!(f.member_ids(&group).await.is_empty());
}

#[tokio::test]
async fn okta_push_renames_with_id_in_the_value_and_swaps_members_in_one_request() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "Test SCIMv2", "members": [{"value": f.users[0]}]}))
        .await;

    let (status, patched) = f
        .patch(&group, json!([
            {"op": "replace", "value": {"id": group["id"], "displayName": "Renamed"}},
            {"op": "remove", "path": format!("members[value eq \"{}\"]", f.users[0])},
            {"op": "add", "path": "members", "value": [{"value": f.users[1], "display": "bob@example.com"}]}
        ]))
        .await;

    assert_eq!(status, 200);
    assert_eq!(patched["displayName"], "Renamed");
    assert_eq!(f.member_ids(&group).await, f.sorted(&[1]));
}

#[tokio::test]
async fn entra_rename_and_external_id_with_paths() {
    let f = fixture().await;
    let group = f.create_group(json!({"displayName": "Old"})).await;

    let (_, patched) = f
        .patch(
            &group,
            json!([
                {"op": "Replace", "path": "displayName", "value": "New"},
                {"op": "Add", "path": "externalId", "value": "ext-9"}
            ]),
        )
        .await;

    assert_eq!(patched["displayName"], "New");
    assert_eq!(patched["externalId"], "ext-9");
    let (_, found) = f
        .app
        .call(
            &f.org,
            Method::GET,
            "Groups?filter=displayName eq \"new\"",
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1);
}

#[tokio::test]
async fn bare_string_members_and_unknown_ids_are_accepted_and_ignored() {
    let f = fixture().await;
    let group = f.create_group(json!({"displayName": "G"})).await;

    let (status, _) = f
        .patch(
            &group,
            json!([{"op": "add", "path": "members", "value": "string id 1"}]),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = f
        .patch(
            &group,
            json!([{"op": "add", "path": "members", "value": [{"value": "fake-member-id"}]}]),
        )
        .await;
    assert_eq!(status, 200);

    assert!(f.member_ids(&group).await.is_empty());
}

#[tokio::test]
async fn put_replaces_members_when_listed_and_keeps_them_when_absent() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "P", "members": [{"value": f.users[0]}]}))
        .await;
    let path = format!("Groups/{}", group["id"].as_str().unwrap());

    let (status, _) = f
        .app
        .call(
            &f.org,
            Method::PUT,
            &path,
            Some(json!({"displayName": "P2"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(f.member_ids(&group).await, f.sorted(&[0]));

    let (_, put) = f
        .app
        .call(
            &f.org,
            Method::PUT,
            &path,
            Some(json!({"displayName": "P2", "members": [{"value": f.users[2]}]})),
        )
        .await;
    assert_eq!(put["displayName"], "P2");
    assert_eq!(f.member_ids(&group).await, f.sorted(&[2]));

    f.app
        .call(
            &f.org,
            Method::PUT,
            &path,
            Some(json!({"displayName": "P2", "members": []})),
        )
        .await;
    assert!(f.member_ids(&group).await.is_empty());
}

#[tokio::test]
async fn the_entra_membership_probe_answers_one_or_zero() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "Probe", "members": [{"value": f.users[0]}]}))
        .await;
    let gid = group["id"].as_str().unwrap();

    for (user, expected) in [(&f.users[0], 1), (&f.users[1], 0)] {
        let filter = format!("id eq \"{gid}\" and members[value eq \"{user}\"]");
        let (status, list) = f
            .app
            .call(
                &f.org,
                Method::GET,
                &format!("Groups?excludedAttributes=members&filter={filter}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["totalResults"], expected);
        if expected == 1 {
            assert!(list["Resources"][0].get("members").is_none());
        }
    }
}

#[tokio::test]
async fn group_filters_by_display_name_external_id_and_id() {
    let f = fixture().await;
    let g1 = f
        .create_group(json!({"displayName": "Sales", "externalId": "e-1"}))
        .await;
    f.create_group(json!({"displayName": "Sales"})).await;
    let g3 = f
        .create_group(json!({"displayName": "Support", "members": [
            {"value": f.users[0]}, {"value": f.users[1]}
        ]}))
        .await;

    for (filter, expected) in [
        ("displayName eq \"Sales\"", 2),
        ("externalId eq \"e-1\"", 1),
        (&format!("id eq \"{}\"", g3["id"].as_str().unwrap()), 1),
        ("displayName eq \"nothing\"", 0),
        ("displayName sw \"SU\"", 1),
        ("members pr", 1),
        ("not (members pr)", 2),
        (&format!("members.value eq \"{}\"", f.users[1]), 1),
        (&format!("members.value ne \"{}\"", f.users[1]), 2),
        ("members[display eq \"ANN\" or display eq \"bob\"]", 1),
        ("members[type eq \"User\" and not (display co \"a\")]", 1),
        ("members[display eq \"cat\"]", 0),
    ] {
        let (_, list) = f
            .app
            .call(
                &f.org,
                Method::GET,
                &format!("Groups?filter={filter}"),
                None,
            )
            .await;
        assert_eq!(list["totalResults"], expected, "{filter}");
    }
    let response = f
        .app
        .scim(&f.org, Method::GET, "Groups?filter=members.$ref pr", None)
        .await;
    assert_scim_error(response, 400).await;

    // And from the users' side: their read-only `groups` attribute.
    let g3_id = g3["id"].as_str().unwrap();
    for (filter, expected) in [
        (format!("groups.value eq \"{g3_id}\""), 2),
        (
            format!("groups[value eq \"{g3_id}\" and display eq \"support\"]"),
            2,
        ),
        ("groups pr".to_owned(), 2),
        ("not (groups pr)".to_owned(), 1),
        (
            format!("groups.value ne \"{}\"", g1["id"].as_str().unwrap()),
            3,
        ),
    ] {
        let (_, list) = f
            .app
            .call(&f.org, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        assert_eq!(list["totalResults"], expected, "{filter}");
    }
}

#[tokio::test]
async fn duplicate_external_id_gets_409_but_duplicate_display_name_is_allowed() {
    let f = fixture().await;
    f.create_group(json!({"displayName": "Dup", "externalId": "x"}))
        .await;

    f.create_group(json!({"displayName": "Dup"})).await;
    let response = f
        .app
        .scim(
            &f.org,
            Method::POST,
            "Groups",
            Some(json!({"displayName": "Other", "externalId": "x"})),
        )
        .await;

    let error = assert_scim_error(response, 409).await;
    assert_eq!(error["scimType"], "uniqueness");
}

#[tokio::test]
async fn deleting_a_user_removes_it_from_every_group() {
    let f = fixture().await;
    let g1 = f.create_group(json!({"displayName": "One", "members": [{"value": f.users[0]}, {"value": f.users[1]}]})).await;
    let g2 = f
        .create_group(json!({"displayName": "Two", "members": [{"value": f.users[0]}]}))
        .await;

    let (status, _) = f
        .app
        .call(
            &f.org,
            Method::DELETE,
            &format!("Users/{}", f.users[0]),
            None,
        )
        .await;
    assert_eq!(status, 204);

    assert_eq!(f.member_ids(&g1).await, f.sorted(&[1]));
    assert!(f.member_ids(&g2).await.is_empty());
}

#[tokio::test]
async fn deleting_a_group_keeps_its_users() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "Gone", "members": [{"value": f.users[0]}]}))
        .await;
    let path = format!("Groups/{}", group["id"].as_str().unwrap());

    let response = f.app.scim(&f.org, Method::DELETE, &path, None).await;
    assert_eq!(response.status().as_u16(), 204);

    assert_scim_error(f.app.scim(&f.org, Method::GET, &path, None).await, 404).await;
    let (status, user) = f
        .app
        .call(&f.org, Method::GET, &format!("Users/{}", f.users[0]), None)
        .await;
    assert_eq!(status, 200);
    assert!(user.get("groups").is_none());
    assert_eq!(f.app.event_types(&f.org).last().unwrap(), "Group_Deleted");
}

#[tokio::test]
async fn group_patch_is_atomic() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "Atomic", "members": [{"value": f.users[0]}]}))
        .await;
    let events_before = f.app.events(&f.org).len();

    let (status, error) = f
        .patch(
            &group,
            json!([
                {"op": "add", "path": "members", "value": [{"value": f.users[1]}]},
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "replace", "path": "nosuch", "value": "x"}
            ]),
        )
        .await;

    assert_eq!(status, 400, "{error}");
    assert_eq!(error["scimType"], "invalidPath");
    let (_, current) = f
        .app
        .call(
            &f.org,
            Method::GET,
            &format!("Groups/{}", group["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(current["displayName"], "Atomic");
    assert_eq!(f.member_ids(&group).await, f.sorted(&[0]));
    assert_eq!(f.app.events(&f.org).len(), events_before);
}

#[tokio::test]
async fn bad_group_input_gets_400_and_writes_nothing() {
    let f = fixture().await;
    let group = f.create_group(json!({"displayName": "Valid"})).await;

    for body in [
        json!({"externalId": "no-name"}),
        json!({"displayName": " "}),
        json!({"displayName": 7}),
        json!({"displayName": "x", "members": [{"display": "no value"}]}),
        json!({"displayName": "x", "members": [{"value": 5}]}),
    ] {
        let response = f
            .app
            .scim(&f.org, Method::POST, "Groups", Some(body.clone()))
            .await;
        let error = assert_scim_error(response, 400).await;
        assert_eq!(error["scimType"], "invalidValue", "{body}");
    }
    for operations in [
        json!([{"op": "replace", "path": "displayName", "value": ""}]),
        json!([{"op": "add", "path": "members.display", "value": "x"}]),
        json!([{"op": "add", "path": "members", "value": [{"display": "no value"}]}]),
    ] {
        let (status, _) = f.patch(&group, operations.clone()).await;
        assert_eq!(status, 400, "{operations}");
    }
    let (_, list) = f.app.call(&f.org, Method::GET, "Groups", None).await;
    assert_eq!(list["totalResults"], 1);
}

#[tokio::test]
async fn membership_changes_log_one_event_per_member_with_the_group() {
    let f = fixture().await;
    let group = f.create_group(json!({"displayName": "Ev"})).await;

    f.patch(&group, json!([{"op": "add", "path": "members", "value": [{"value": f.users[0]}, {"value": f.users[1]}]}])).await;

    let events = f.app.events(&f.org);
    let membership: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "OrganizationUser_UpdatedGroups")
        .collect();
    assert_eq!(membership.len(), 2);
    for e in membership {
        assert_eq!(e["group_id"], group["id"]);
        assert_eq!(e["actor"], "SCIM");
        assert!(e["summary"].as_str().unwrap().contains("Ev"));
    }
}

#[tokio::test]
async fn large_responses_are_gzipped_when_the_client_asks() {
    let f = fixture().await;
    let members: Vec<Value> = f.users.iter().map(|id| json!({"value": id})).collect();
    let group = f
        .create_group(json!({"displayName": "All", "members": members}))
        .await;
    let url = format!(
        "{}/Groups/{}",
        f.org.scim_url,
        group["id"].as_str().unwrap()
    );

    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&f.org.key)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
}

#[tokio::test]
async fn bitwardens_single_member_add_needs_no_value() {
    let f = fixture().await;
    let group = f.create_group(json!({"displayName": "BW"})).await;

    let (status, body) = f
        .patch(
            &group,
            json!([{"op": "add", "path": format!("members[value eq \"{}\"]", f.users[2])}]),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(f.member_ids(&group).await, vec![f.users[2].clone()]);
}

#[tokio::test]
async fn urn_qualified_members_paths_add_filter_and_remove_members() {
    let f = fixture().await;
    let group = f
        .create_group(json!({"displayName": "All", "members": []}))
        .await;
    let [a, b] = [&f.users[0], &f.users[1]];
    let urn = "urn:ietf:params:scim:schemas:core:2.0:Group";

    let (status, body) = f
        .patch(&group, json!([
            {"op": "add", "path": format!("{urn}:members"), "value": [{"value": a}, {"value": b}]}
        ]))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(f.member_ids(&group).await, f.sorted(&[0, 1]));

    let (status, body) = f
        .patch(
            &group,
            json!([{"op": "remove", "path": format!("{urn}:members[value eq \"{a}\"]")}]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(f.member_ids(&group).await, f.sorted(&[1]));

    let (status, body) = f
        .patch(
            &group,
            json!([{"op": "remove", "path": format!("{}:MEMBERS", urn.to_uppercase())}]),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(f.member_ids(&group).await.is_empty());
}
