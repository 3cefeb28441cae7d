//! `/Users`: the resource, membership semantics, lists, bad input, events.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestOrg, assert_scim_error, spawn_app};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A user with every writable attribute of the core and enterprise schemas set.
fn full_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "ext-bjensen",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara",
            "middleName": "Jane", "honorificPrefix": "Ms.", "honorificSuffix": "III"
        },
        "displayName": "Babs Jensen",
        "nickName": "Babs",
        "profileUrl": "https://login.example.com/bjensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "preferredLanguage": "en-US",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "display": "Work mail", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-5555", "type": "work"}, {"value": "555-555-4444", "type": "mobile"}],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "photos": [{"value": "https://photos.example.com/profilephoto/72930000000Ccne/F", "type": "photo"}],
        "addresses": [{
            "type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood",
            "region": "CA", "postalCode": "91608", "country": "USA",
            "formatted": "100 Universal City Plaza\nHollywood, CA 91608 USA", "primary": true
        }],
        "entitlements": [{"value": "admin-console", "display": "Admin console", "primary": true}],
        "roles": [{"value": "guide", "type": "staff"}],
        "x509Certificates": [{"value": "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"}],
        ENTERPRISE: {
            "employeeNumber": "701984", "costCenter": "4130", "organization": "Universal Studios",
            "division": "Theme Park", "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d",
                        "$ref": "https://example.com/v2/o/Users/26118915-6090-4610-87e4-49d8ca9f808d",
                        "displayName": "John Smith"}
        }
    })
}

async fn setup() -> (TestApp, TestOrg) {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    (app, org)
}

#[tokio::test]
async fn post_returns_201_with_every_attribute_as_sent_and_location_equal_to_meta() {
    let (app, org) = setup().await;
    let sent = full_user();
    let mut with_password = sent.clone();
    with_password["password"] = json!("t1meMa$heen");

    let response = app
        .scim(&org, Method::POST, "Users", Some(with_password))
        .await;

    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(response.headers()["content-type"], "application/scim+json");
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let user: Value = response.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    assert_eq!(location, format!("{}/Users/{id}", org.scim_url));
    assert_eq!(user["meta"]["location"], location.as_str());
    assert_eq!(user["meta"]["version"], etag.as_str());
    assert_eq!(user["meta"]["resourceType"], "User");
    assert!(user["meta"]["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(user["meta"]["created"], user["meta"]["lastModified"]);
    assert!(user.get("password").is_none(), "password is never returned");
    for (key, value) in sent.as_object().unwrap() {
        assert_eq!(&user[key], value, "attribute {key} round-trips");
    }
    let fetched = app
        .call(&org, Method::GET, &format!("Users/{id}"), None)
        .await;
    assert_eq!(fetched, (200, user));
}

#[tokio::test]
async fn the_password_is_not_stored_anywhere() {
    let (app, org) = setup().await;
    app.create_user(
        &org,
        json!({
            "userName": "pw@example.com",
            "displayName": "Stored Marker 7f3a",
            "password": "Sup3rSecretPassw0rd!"
        }),
    )
    .await;

    // Every file of the data directory (the database, its WAL, anything else).
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(app.data_dir.path()).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            bytes.extend(std::fs::read(&path).expect("readable"));
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("Stored Marker 7f3a"),
        "the files read hold the user ({} bytes)",
        bytes.len()
    );
    assert!(!text.contains("Sup3rSecretPassw0rd!"));
}

#[tokio::test]
async fn attribute_names_are_case_insensitive_and_output_uses_the_schema_spelling() {
    let (app, org) = setup().await;

    let user = app
        .create_user(
            &org,
            json!({
                "UserName": "Case@Example.com",
                "EMAILS": [{"Value": "case@example.com", "Primary": true, "Type": "work"}],
                "Name": {"GivenName": "Case", "FAMILYNAME": "Study"},
                ENTERPRISE.to_uppercase(): {"Department": "Ops", "Manager": {"Value": "m-1"}}
            }),
        )
        .await;

    assert_eq!(user["userName"], "Case@Example.com");
    assert_eq!(
        user["emails"],
        json!([{"value": "case@example.com", "type": "work", "primary": true}])
    );
    assert_eq!(
        user["name"],
        json!({"familyName": "Study", "givenName": "Case"})
    );
    assert_eq!(
        user[ENTERPRISE],
        json!({"department": "Ops", "manager": {"value": "m-1"}})
    );
    assert_eq!(user["schemas"][1], ENTERPRISE);
}

#[tokio::test]
async fn tolerant_reading_of_what_real_identity_providers_send() {
    let (app, org) = setup().await;

    // OneLogin: legacy schema URNs, emails as one object, no primary flag, plain JSON type.
    let response = app
        .client
        .post(format!("{}/Users", org.scim_url))
        .bearer_auth(&org.key)
        .header("Content-Type", "application/json")
        .body(json!({
            "schemas": ["urn:scim:schemas:core:2.0", "urn:scim:schemas:extension:enterprise:2.0"],
            "userName": "onelogin@example.com",
            "emails": {"value": "onelogin@example.com"},
            "active": "True",
            "title": null,
            "urn:scim:schemas:extension:enterprise:2.0": {"department": "Sales"},
            "meta": {"resourceType": "User"}, "id": "client-id", "groups": [], "roles": []
        }).to_string())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 201);
    let user: Value = response.json().await.unwrap();
    assert_ne!(user["id"], "client-id");
    assert_eq!(user["active"], true);
    assert_eq!(user["emails"], json!([{"value": "onelogin@example.com"}]));
    assert!(user.get("title").is_none() && user.get("roles").is_none());
    assert_eq!(user[ENTERPRISE]["department"], "Sales");
}

#[tokio::test]
async fn a_user_without_active_is_created_active_and_with_active_false_revoked() {
    let (app, org) = setup().await;

    let active = app
        .create_user(&org, json!({"userName": "a@example.com"}))
        .await;
    let revoked = app
        .create_user(&org, json!({"userName": "r@example.com", "active": false}))
        .await;

    assert_eq!(active["active"], true);
    assert_eq!(revoked["active"], false);
    let (_, list) = app
        .call(&org, Method::GET, "Users?filter=active eq false", None)
        .await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["id"], revoked["id"]);
}

#[tokio::test]
async fn users_without_any_email_are_accepted() {
    let (app, org) = setup().await;

    let a = app
        .create_user(&org, json!({"userName": "6f1a2b3c-uuid-like"}))
        .await;
    let b = app
        .create_user(&org, json!({"userName": "another-non-email"}))
        .await;

    assert_ne!(a["id"], b["id"]);
    assert!(a.get("emails").is_none());
}

#[tokio::test]
async fn duplicate_user_name_email_or_external_id_get_409_whatever_the_status() {
    let (app, org) = setup().await;
    app.create_user(
        &org,
        json!({
            "userName": "Taken@Example.com", "externalId": "ext-1", "active": false,
            "emails": [{"value": "first@example.com", "primary": true}]
        }),
    )
    .await;

    for (body, needle) in [
        (json!({"userName": "taken@EXAMPLE.com"}), "userName"),
        (
            json!({"userName": "other", "externalId": "ext-1"}),
            "externalId",
        ),
        (
            json!({"userName": "other2", "emails": [{"value": "FIRST@example.com"}]}),
            "email",
        ),
    ] {
        let response = app.scim(&org, Method::POST, "Users", Some(body)).await;
        let error = assert_scim_error(response, 409).await;
        assert_eq!(error["scimType"], "uniqueness");
        assert!(
            error["detail"].as_str().unwrap().contains(needle),
            "{error}"
        );
    }
    let (_, list) = app.call(&org, Method::GET, "Users", None).await;
    assert_eq!(list["totalResults"], 1, "nothing written");
    assert_eq!(app.event_types(&org), ["OrganizationUser_Invited"]);
}

#[tokio::test]
async fn external_ids_are_unique_case_sensitively() {
    let (app, org) = setup().await;
    app.create_user(&org, json!({"userName": "a", "externalId": "ABC"}))
        .await;

    let other_case = app
        .scim(
            &org,
            Method::POST,
            "Users",
            Some(json!({"userName": "b", "externalId": "abc"})),
        )
        .await;

    assert_eq!(other_case.status().as_u16(), 201);
}

#[tokio::test]
async fn the_member_email_falls_back_to_user_name_for_uniqueness() {
    let (app, org) = setup().await;
    app.create_user(&org, json!({"userName": "person@example.com"}))
        .await;

    let response = app
        .scim(
            &org,
            Method::POST,
            "Users",
            Some(json!({
                "userName": "someone-else",
                "emails": [{"value": "Person@Example.com", "type": "work"}]
            })),
        )
        .await;

    assert_scim_error(response, 409).await;
}

#[tokio::test]
async fn unknown_and_foreign_ids_get_404() {
    let (app, org) = setup().await;
    let other = app.create_org("Globex");
    let foreign = app
        .create_user(&other, json!({"userName": "x@globex.com"}))
        .await;
    let foreign_id = foreign["id"].as_str().unwrap();

    for id in [
        "010101001010101011001010101011",
        foreign_id,
        "00919288221112222",
    ] {
        for method in [Method::GET, Method::DELETE] {
            let response = app.scim(&org, method, &format!("Users/{id}"), None).await;
            let error = assert_scim_error(response, 404).await;
            assert!(!error.to_string().contains("globex"));
        }
        let put = app
            .scim(
                &org,
                Method::PUT,
                &format!("Users/{id}"),
                Some(json!({"userName": "z"})),
            )
            .await;
        assert_scim_error(put, 404).await;
    }
    let (status, still) = app
        .call(&other, Method::GET, &format!("Users/{foreign_id}"), None)
        .await;
    assert_eq!(
        (status, still["userName"].clone()),
        (200, json!("x@globex.com"))
    );
}

#[tokio::test]
async fn put_replaces_every_attribute_and_ignores_read_only_ones() {
    let (app, org) = setup().await;
    let created = app.create_user(&org, full_user()).await;
    let id = created["id"].as_str().unwrap();

    let (status, replaced) = app
        .call(
            &org,
            Method::PUT,
            &format!("Users/{id}"),
            Some(json!({
                "id": id, "meta": created["meta"], "groups": [], "password": "x",
                "userName": "bjensen@example.com", "displayName": "Barbara",
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
                "name": {"givenName": "Barbara", "middleName": ""}
            })),
        )
        .await;

    assert_eq!(status, 200);
    assert_eq!(replaced["displayName"], "Barbara");
    assert_eq!(
        replaced["name"],
        json!({"givenName": "Barbara", "middleName": ""})
    );
    assert!(replaced.get("nickName").is_none() && replaced.get(ENTERPRISE).is_none());
    assert!(
        replaced.get("externalId").is_none(),
        "PUT without externalId clears it"
    );
    assert_eq!(replaced["active"], true);
    assert_eq!(replaced["meta"]["created"], created["meta"]["created"]);
    assert_ne!(replaced["meta"]["version"], created["meta"]["version"]);
    assert_eq!(
        app.event_types(&org),
        ["OrganizationUser_Invited", "OrganizationUser_Updated"]
    );
}

#[tokio::test]
async fn put_with_active_false_revokes_and_true_restores() {
    let (app, org) = setup().await;
    let created = app
        .create_user(&org, json!({"userName": "p@example.com"}))
        .await;
    let path = format!("Users/{}", created["id"].as_str().unwrap());

    let (_, revoked) = app
        .call(
            &org,
            Method::PUT,
            &path,
            Some(json!({"userName": "p@example.com", "active": false})),
        )
        .await;
    let (_, restored) = app
        .call(
            &org,
            Method::PUT,
            &path,
            Some(json!({"userName": "p@example.com", "active": "True"})),
        )
        .await;

    assert_eq!(revoked["active"], false);
    assert_eq!(restored["active"], true);
    assert_eq!(
        app.event_types(&org),
        [
            "OrganizationUser_Invited",
            "OrganizationUser_Revoked",
            "OrganizationUser_Restored"
        ]
    );
}

#[tokio::test]
async fn an_unchanged_put_writes_nothing_and_logs_nothing() {
    let (app, org) = setup().await;
    let created = app
        .create_user(
            &org,
            json!({"userName": "same@example.com", "displayName": "Same"}),
        )
        .await;
    let path = format!("Users/{}", created["id"].as_str().unwrap());

    let (status, again) = app
        .call(&org, Method::PUT, &path, Some(created.clone()))
        .await;

    assert_eq!(status, 200);
    assert_eq!(again["meta"]["version"], created["meta"]["version"]);
    assert_eq!(app.event_types(&org), ["OrganizationUser_Invited"]);
}

#[tokio::test]
async fn put_to_a_taken_user_name_gets_409_and_changes_nothing() {
    let (app, org) = setup().await;
    app.create_user(&org, json!({"userName": "one@example.com"}))
        .await;
    let two = app
        .create_user(&org, json!({"userName": "two@example.com"}))
        .await;
    let path = format!("Users/{}", two["id"].as_str().unwrap());

    let response = app
        .scim(
            &org,
            Method::PUT,
            &path,
            Some(json!({"userName": "ONE@example.com"})),
        )
        .await;

    assert_scim_error(response, 409).await;
    let (_, unchanged) = app.call(&org, Method::GET, &path, None).await;
    assert_eq!(unchanged, two);
}

#[tokio::test]
async fn delete_removes_the_member_and_posting_again_creates_a_new_one() {
    let (app, org) = setup().await;
    let created = app
        .create_user(&org, json!({"userName": "gone@example.com"}))
        .await;
    let path = format!("Users/{}", created["id"].as_str().unwrap());

    let response = app.scim(&org, Method::DELETE, &path, None).await;
    assert_eq!(response.status().as_u16(), 204);
    assert!(response.text().await.unwrap().is_empty());
    assert_scim_error(app.scim(&org, Method::GET, &path, None).await, 404).await;
    assert_scim_error(app.scim(&org, Method::DELETE, &path, None).await, 404).await;

    let again = app
        .create_user(&org, json!({"userName": "gone@example.com"}))
        .await;
    assert_ne!(again["id"], created["id"]);
    assert_eq!(
        app.event_types(&org),
        [
            "OrganizationUser_Invited",
            "OrganizationUser_Removed",
            "OrganizationUser_Invited"
        ]
    );
}

#[tokio::test]
async fn events_record_the_key_member_and_a_summary() {
    let (app, org) = setup().await;
    let user = app
        .create_user(&org, json!({"userName": "ev@example.com"}))
        .await;

    let events = app.events(&org);

    let invited = &events[0];
    assert_eq!(invited["type"], "OrganizationUser_Invited");
    assert_eq!(invited["actor"], "SCIM");
    assert_eq!(invited["member_id"], user["id"]);
    let key_id = org.key.split('_').nth(1).unwrap();
    assert_eq!(invited["key_id"], key_id);
    assert!(
        invited["summary"]
            .as_str()
            .unwrap()
            .contains("ev@example.com")
    );
}

#[tokio::test]
async fn seat_limit_counts_active_members_only() {
    let (app, org) = setup().await;
    assert!(
        app.cli(&["org", "set-seats", &org.id, "1"])
            .status
            .success()
    );
    app.create_user(&org, json!({"userName": "one@example.com"}))
        .await;

    let over = app
        .scim(
            &org,
            Method::POST,
            "Users",
            Some(json!({"userName": "two@example.com"})),
        )
        .await;
    let error = assert_scim_error(over, 400).await;
    assert_eq!(error["detail"], "Seat limit has been reached.");

    let revoked = app
        .create_user(
            &org,
            json!({"userName": "three@example.com", "active": false}),
        )
        .await;
    let restore = app
        .scim(
            &org,
            Method::PATCH,
            &format!("Users/{}", revoked["id"].as_str().unwrap()),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": true}]
            })),
        )
        .await;
    assert_scim_error(restore, 400).await;

    assert!(
        app.cli(&["org", "set-seats", &org.id, "none"])
            .status
            .success()
    );
    let (status, _) = app
        .call(
            &org,
            Method::POST,
            "Users",
            Some(json!({"userName": "two@example.com"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        app.event_types(&org),
        [
            "OrganizationUser_Invited",
            "OrganizationUser_Invited",
            "OrganizationUser_Invited"
        ]
    );
}

#[tokio::test]
async fn bad_bodies_get_400_with_a_scim_type_and_write_nothing() {
    let (app, org) = setup().await;

    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({"userName": 5}), "invalidValue", "userName"),
        (
            json!({"displayName": "no user name"}),
            "invalidValue",
            "userName",
        ),
        (json!({"userName": "   "}), "invalidValue", "userName"),
        (
            json!({"not": "a scim resource"}),
            "invalidValue",
            "userName",
        ),
        (
            json!({"userName": "u", "active": "maybe"}),
            "invalidValue",
            "active",
        ),
        (
            json!({"userName": "u", "emails": [{"value": 7, "type": ["work"]}]}),
            "invalidValue",
            "emails.value",
        ),
        (json!(["an", "array"]), "invalidSyntax", "object"),
    ];
    for (body, scim_type, needle) in cases {
        let response = app
            .scim(&org, Method::POST, "Users", Some(body.clone()))
            .await;
        let error = assert_scim_error(response, 400).await;
        assert_eq!(error["scimType"], scim_type, "{body}");
        assert!(
            error["detail"].as_str().unwrap().contains(needle),
            "{body}: {error}"
        );
    }

    let invalid_json = app
        .client
        .post(format!("{}/Users", org.scim_url))
        .bearer_auth(&org.key)
        .header("Content-Type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    let error = assert_scim_error(invalid_json, 400).await;
    assert_eq!(error["scimType"], "invalidSyntax");

    let (_, list) = app.call(&org, Method::GET, "Users", None).await;
    assert_eq!(list["totalResults"], 0);
    assert!(app.event_types(&org).is_empty());
}

#[tokio::test]
async fn a_body_over_the_limit_gets_413() {
    let (app, org) = setup().await;
    let huge = json!({"userName": "big", "displayName": "x".repeat(2 * 1024 * 1024)});

    let response = app.scim(&org, Method::POST, "Users", Some(huge)).await;

    assert_scim_error(response, 413).await;
}

#[tokio::test]
async fn list_filters_identity_providers_send_use_the_right_matches() {
    let (app, org) = setup().await;
    let bjensen = app.create_user(&org, full_user()).await;
    let other = app
        .create_user(
            &org,
            json!({"userName": "other@example.com", "displayName": "Other",
                                  "emails": [{"value": "other@example.com", "type": "home"}]}),
        )
        .await;
    let bid = bjensen["id"].as_str().unwrap();

    for (filter, expected) in [
        ("userName eq \"BJENSEN@example.com\"", vec![bid]),
        ("userName+eq+%22bjensen%40example.com%22", vec![bid]),
        ("externalId eq \"ext-bjensen\"", vec![bid]),
        ("externalId eq \"EXT-BJENSEN\"", vec![]),
        ("emails.value eq \"babs@jensen.org\"", vec![bid]),
        (
            "emails[type eq \"work\"].value eq \"bjensen@example.com\"",
            vec![bid],
        ),
        (
            "emails[type eq \"work\"].value eq \"other@example.com\"",
            vec![],
        ),
        ("displayName eq \"babs jensen\"", vec![bid]),
        (&format!("id eq \"{bid}\""), vec![bid]),
        ("userName eq \"nobody@example.com\"", vec![]),
    ] {
        let (status, list) = app
            .call(&org, Method::GET, &format!("Users?filter={filter}&"), None)
            .await;
        assert_eq!(status, 200, "{filter}: {list}");
        let ids: Vec<&str> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, expected, "{filter}");
        assert_eq!(list["totalResults"], expected.len(), "{filter}");
    }
    let _ = other;
}

#[tokio::test]
async fn lists_page_in_a_stable_order_with_integer_counts() {
    let (app, org) = setup().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let u = app
            .create_user(&org, json!({"userName": format!("user{i}@example.com")}))
            .await;
        ids.push(u["id"].as_str().unwrap().to_owned());
    }

    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let (_, page) = app
            .call(
                &org,
                Method::GET,
                &format!("Users?startIndex={start}&count=2"),
                None,
            )
            .await;
        assert_eq!(
            page["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        assert_eq!(page["totalResults"], 5);
        assert_eq!(page["startIndex"], start);
        assert!(page["itemsPerPage"].is_u64());
        for u in page["Resources"].as_array().unwrap() {
            seen.push(u["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(seen, ids);

    let (_, none) = app.call(&org, Method::GET, "Users?count=0", None).await;
    assert_eq!(none["totalResults"], 5);
    assert_eq!(none["Resources"], json!([]));
    assert_eq!(none["itemsPerPage"], 0);
}

#[tokio::test]
async fn attributes_and_excluded_attributes_shape_responses() {
    let (app, org) = setup().await;
    let created = app
        .scim(
            &org,
            Method::POST,
            "Users?attributes=userName",
            Some(full_user()),
        )
        .await;
    let created: Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        created.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["schemas", "id", "userName"]
    );

    let (_, trimmed) = app
        .call(
            &org,
            Method::GET,
            &format!("Users/{id}?excludedAttributes=emails,name.givenName,meta"),
            None,
        )
        .await;
    assert!(trimmed.get("emails").is_none() && trimmed.get("meta").is_none());
    assert_eq!(trimmed["name"]["familyName"], "Jensen");
    assert!(trimmed["name"].get("givenName").is_none());

    let (_, listed) = app
        .call(
            &org,
            Method::GET,
            "Users?attributes=emails[type eq \"work\"]",
            None,
        )
        .await;
    assert_eq!(
        listed["Resources"][0]["emails"][0]["value"],
        "bjensen@example.com"
    );
}

#[tokio::test]
async fn a_bad_filter_gets_400_invalid_filter() {
    let (app, org) = setup().await;

    for filter in [
        "userName eq",
        "nosuchattribute eq \"x\"",
        "userName zz \"x\"",
        "(userName eq \"x\"",
    ] {
        let response = app
            .scim(&org, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        let error = assert_scim_error(response, 400).await;
        assert_eq!(error["scimType"], "invalidFilter", "{filter}");
    }
}

#[tokio::test]
async fn filters_up_to_the_documented_bounds_answer_and_one_past_them_is_invalid_filter() {
    let (app, org) = setup().await;
    let mut ids = Vec::new();
    for (user_name, title) in [
        ("a@example.com", Some("Senior x5")),
        ("b@example.com", Some("X71")),
        ("c@example.com", Some("y")),
        ("d@example.com", None),
    ] {
        let mut body = json!({ "userName": user_name });
        if let Some(title) = title {
            body["title"] = json!(title);
        }
        let user = app.create_user(&org, body).await;
        ids.push(user["id"].as_str().unwrap().to_owned());
    }
    let titles = |n: usize| {
        (0..n)
            .map(|i| format!("title co \"x{i}\""))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let negated = |depth: usize| {
        format!(
            "{}title co \"x5\" or title eq \"y\"{}",
            "not (".repeat(depth),
            ")".repeat(depth)
        )
    };

    for (filter, expected) in [
        (titles(34), [&ids[0], &ids[1]]),
        (titles(100), [&ids[0], &ids[1]]),
        (negated(32), [&ids[0], &ids[2]]),
    ] {
        let (status, list) = app
            .call(&org, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        assert_eq!(status, 200, "{filter}: {list}");
        let found: Vec<&str> = list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(found, expected, "{filter}");
        assert_eq!(list["totalResults"], 2, "{filter}");
    }

    for filter in [titles(101), negated(33)] {
        let response = app
            .scim(&org, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        let error = assert_scim_error(response, 400).await;
        assert_eq!(error["scimType"], "invalidFilter", "{filter}");
    }
}

#[tokio::test]
async fn any_attribute_filters_combine_with_indexed_ones_and_sort() {
    let (app, org) = setup().await;
    let bjensen = app.create_user(&org, full_user()).await;
    let bid = bjensen["id"].as_str().unwrap();
    let other = app
        .create_user(
            &org,
            json!({"userName": "zed@example.com", "name": {"familyName": "Adams"}, "active": false,
                   "emails": [{"value": "zed@example.com", "type": "home"}]}),
        )
        .await;
    let oid = other["id"].as_str().unwrap();
    let ids = |list: &Value| -> Vec<String> {
        list["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_owned())
            .collect()
    };

    for (filter, expected) in [
        ("name.givenName sw \"bar\"", vec![bid]),
        (
            "name.familyName eq \"ADAMS\" and active eq false",
            vec![oid],
        ),
        (
            &format!("{ENTERPRISE}:department co \"operations\""),
            vec![bid],
        ),
        (
            &format!("{ENTERPRISE}:manager.displayName eq \"John Smith\""),
            vec![bid],
        ),
        ("title pr", vec![bid]),
        ("not (title pr)", vec![oid]),
        ("title eq null", vec![oid]),
        (
            "emails[type eq \"home\" and value ew \"example.com\"]",
            vec![oid],
        ),
        ("emails[primary eq true]", vec![bid]),
        ("emails.type ne \"home\"", vec![]),
        (
            "emails.type eq \"WORK\" or userName sw \"zed\"",
            vec![bid, oid],
        ),
        ("userName co \"@EXAMPLE\"", vec![bid, oid]),
        ("userName ew \".com\" and not (externalId pr)", vec![oid]),
        ("meta.created gt \"2000-01-01T00:00:00Z\"", vec![bid, oid]),
        (
            "meta.lastModified lt \"2000-01-01T00:00:00%2B01:00\"",
            vec![],
        ),
        ("meta.resourceType eq \"User\"", vec![bid, oid]),
        (
            "phoneNumbers[type eq \"mobile\"].value eq \"555-555-4444\"",
            vec![bid],
        ),
        ("x509Certificates pr", vec![bid]),
    ] {
        let (status, list) = app
            .call(&org, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        assert_eq!(status, 200, "{filter}: {list}");
        assert_eq!(ids(&list), expected, "{filter}");
        assert_eq!(list["totalResults"], expected.len(), "{filter}");
    }

    let (_, sorted) = app
        .call(&org, Method::GET, "Users?sortBy=name.familyName", None)
        .await;
    assert_eq!(ids(&sorted), [oid, bid]);
    let (_, sorted) = app
        .call(
            &org,
            Method::GET,
            "Users?sortBy=userName&sortOrder=descending",
            None,
        )
        .await;
    assert_eq!(ids(&sorted), [oid, bid]);
    let response = app
        .scim(&org, Method::GET, "Users?sortBy=nosuch", None)
        .await;
    assert_scim_error(response, 400).await;
}

#[tokio::test]
async fn filters_never_reach_other_organizations() {
    let app = spawn_app().await;
    let a = app.create_org("a");
    let b = app.create_org("b");
    app.create_user(&a, json!({"userName": "shared@example.com", "title": "x"}))
        .await;

    for filter in [
        "userName eq \"shared@example.com\"",
        "title pr",
        "userName pr or title pr",
        "not (userName eq \"nobody\")",
    ] {
        let (status, list) = app
            .call(&b, Method::GET, &format!("Users?filter={filter}"), None)
            .await;
        assert_eq!(status, 200);
        assert_eq!(list["totalResults"], 0, "{filter}");
    }
}

#[tokio::test]
async fn overlong_strings_are_refused_with_invalid_value_and_change_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let long_name = format!("{}@example.com", "a".repeat(1100));
    for body in [
        json!({"userName": long_name}),
        json!({"userName": "ok@example.com", "emails": [{"value": long_name}]}),
        json!({"userName": "ok@example.com", "title": "t".repeat(17_000)}),
    ] {
        let (status, error) = app.call(&org, Method::POST, "Users", Some(body)).await;
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["scimType"], "invalidValue");
        assert!(
            error["detail"].as_str().unwrap().contains("at most"),
            "{error}"
        );
    }
    let fits = format!("{}@example.com", "a".repeat(1000));
    let user = app.create_user(&org, json!({ "userName": fits })).await;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "d".repeat(1025)}]});
    let id = user["id"].as_str().unwrap();
    let (status, _) = app
        .call(&org, Method::PATCH, &format!("Users/{id}"), Some(patch))
        .await;
    assert_eq!(status, 400);
    let (_, after) = app
        .call(&org, Method::GET, &format!("Users/{id}"), None)
        .await;
    assert_eq!(after["meta"]["version"], user["meta"]["version"]);
    let (status, _) = app
        .call(
            &org,
            Method::POST,
            "Groups",
            Some(json!({"displayName": "g".repeat(1025)})),
        )
        .await;
    assert_eq!(status, 400);
}
