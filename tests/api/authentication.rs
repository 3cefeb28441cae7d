//! API-key authentication of SCIM requests.

use crate::helpers::{assert_scim_error, spawn_app, spawn_app_in};

#[tokio::test]
async fn a_new_organizations_key_reads_its_service_provider_config() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    let response = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/scim+json"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
    );
    assert_eq!(body["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(
        body["meta"]["location"],
        format!("{}/v2/{}/ServiceProviderConfig", app.address, org.id)
    );
    assert_eq!(org.scim_url, format!("{}/v2/{}", app.address, org.id));
}

#[tokio::test]
async fn a_wrong_key_gets_401_with_a_scim_error_and_bearer_challenge() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let mut wrong = org.key.clone();
    wrong.replace_range(wrong.len() - 4.., "zzzz");

    let response = app.scim_get(&org.id, "ServiceProviderConfig", &wrong).await;

    assert_eq!(
        response.headers()["www-authenticate"].to_str().unwrap(),
        "Bearer realm=\"SCIM\""
    );
    assert_scim_error(response, 401).await;
}

#[tokio::test]
async fn a_missing_authorization_header_gets_401() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    let response = app
        .client
        .get(app.url(&format!("/v2/{}/ServiceProviderConfig", org.id)))
        .send()
        .await
        .unwrap();

    let body = assert_scim_error(response, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("Authorization"));
}

#[tokio::test]
async fn a_key_never_works_on_another_organizations_url() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme");
    let globex = app.create_org("Globex");

    let response = app
        .scim_get(&globex.id, "ServiceProviderConfig", &acme.key)
        .await;

    let body = assert_scim_error(response, 401).await;
    assert!(
        !body.to_string().contains(&globex.id),
        "no foreign ids in errors"
    );
    let own = app
        .scim_get(&acme.id, "ServiceProviderConfig", &acme.key)
        .await;
    assert_eq!(own.status().as_u16(), 200);
}

#[tokio::test]
async fn unknown_or_malformed_organization_ids_get_401() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    for bad_org in [
        "00000000-0000-4000-8000-000000000000",
        "not-a-uuid",
        "%27%20OR%201=1",
    ] {
        let response = app
            .scim_get(bad_org, "ServiceProviderConfig", &org.key)
            .await;
        assert_scim_error(response, 401).await;
    }
}

#[tokio::test]
async fn malformed_tokens_get_401_without_running_argon2() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let unknown_id = format!("scim_zzzzzzzzzzzz_{}", "a".repeat(40));

    for token in ["", "x", "scim_", unknown_id.as_str(), &"A".repeat(5000)] {
        let response = app.scim_get(&org.id, "ServiceProviderConfig", token).await;
        assert_scim_error(response, 401).await;
    }
    assert_eq!(app.argon2_runs(), 0, "unknown key ids never reach argon2");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_a_bare_key_works() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let url = app.url(&format!("/v2/{}/ServiceProviderConfig", org.id));

    for header in [
        format!("Bearer {}", org.key),
        format!("bearer {}", org.key),
        format!("BEARER {}", org.key),
        org.key.clone(),
    ] {
        let response = app
            .client
            .get(&url)
            .header("Authorization", &header)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{header}");
    }
}

#[tokio::test]
async fn argon2_runs_once_per_key_however_many_requests_arrive() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let url = app.url(&format!("/v2/{}/ServiceProviderConfig", org.id));

    let concurrent: Vec<_> = (0..16)
        .map(|_| tokio::spawn(app.client.get(&url).bearer_auth(&org.key).send()))
        .collect();
    for request in concurrent {
        assert_eq!(request.await.unwrap().unwrap().status().as_u16(), 200);
    }
    for _ in 0..16 {
        let response = app
            .scim_get(&org.id, "ServiceProviderConfig", &org.key)
            .await;
        assert_eq!(response.status().as_u16(), 200);
    }

    assert_eq!(app.argon2_runs(), 1);
}

#[tokio::test]
async fn a_rotated_key_stops_working_at_once_on_a_running_server() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let before = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;
    assert_eq!(before.status().as_u16(), 200, "old key proven and cached");

    let out = app.cli(&["org", "rotate-key", &org.id, "--json"]);
    assert!(out.status.success(), "{out:?}");
    let rotated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new_key = rotated["api_key"].as_str().unwrap();

    let old = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;
    assert_scim_error(old, 401).await;
    let new = app
        .scim_get(&org.id, "ServiceProviderConfig", new_key)
        .await;
    assert_eq!(new.status().as_u16(), 200);
    assert_ne!(new_key, org.key);
    assert_eq!(rotated["id"], org.id.as_str());
}

#[tokio::test]
async fn disabling_scim_refuses_a_valid_key_until_enabled_again() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    assert_eq!(
        app.scim_get(&org.id, "ServiceProviderConfig", &org.key)
            .await
            .status()
            .as_u16(),
        200
    );

    assert!(app.cli(&["org", "disable-scim", &org.id]).status.success());
    let refused = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;
    let body = assert_scim_error(refused, 401).await;
    assert!(body["detail"].as_str().unwrap().contains("disabled"));

    assert!(app.cli(&["org", "enable-scim", &org.id]).status.success());
    let allowed = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;
    assert_eq!(allowed.status().as_u16(), 200);
}

#[tokio::test]
async fn keys_stay_valid_across_a_restart() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let data_dir = app.stop().await;

    let app = spawn_app_in(data_dir).await;
    let response = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;

    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn repeated_failures_from_one_address_get_429_but_a_proven_key_still_works() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    assert_eq!(
        app.scim_get(&org.id, "ServiceProviderConfig", &org.key)
            .await
            .status()
            .as_u16(),
        200
    );
    let mut wrong = org.key.clone();
    wrong.replace_range(wrong.len() - 4.., "zzzz");

    let mut statuses = Vec::new();
    for _ in 0..25 {
        let response = app.scim_get(&org.id, "ServiceProviderConfig", &wrong).await;
        statuses.push(response.status().as_u16());
        if response.status().as_u16() == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&retry));
            assert_scim_error(response, 429).await;
        }
    }

    assert!(statuses.starts_with(&[401; 20]), "{statuses:?}");
    assert!(statuses[20..].iter().all(|&s| s == 429), "{statuses:?}");
    assert!(app.argon2_runs() <= 21, "blocked attempts run no argon2");
    let proven = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;
    assert_eq!(proven.status().as_u16(), 200);
}

#[tokio::test]
async fn endpoint_names_are_case_insensitive_and_allow_a_trailing_slash() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    for path in [
        "serviceproviderconfig",
        "SERVICEPROVIDERCONFIG",
        "ServiceProviderConfig/",
        "serviceConfiguration",
    ] {
        let response = app.scim_get(&org.id, path, &org.key).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
}

#[tokio::test]
async fn unknown_paths_need_a_key_and_then_get_404() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    let anonymous = app
        .client
        .get(app.url(&format!("/v2/{}/NoSuchThing", org.id)))
        .send()
        .await
        .unwrap();
    assert_scim_error(anonymous, 401).await;

    let authenticated = app.scim_get(&org.id, "NoSuchThing", &org.key).await;
    assert_scim_error(authenticated, 404).await;
}

#[tokio::test]
async fn writes_to_service_provider_config_get_405() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let response = app
            .client
            .request(
                method.clone(),
                app.url(&format!("/v2/{}/ServiceProviderConfig", org.id)),
            )
            .bearer_auth(&org.key)
            .send()
            .await
            .unwrap();
        assert_scim_error(response, 405).await;
    }
}
