//! The command line, through the real binary.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::{BIN, assert_scim_error, cli_in, spawn_app};

fn json_of(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
}

#[tokio::test]
async fn org_create_json_prints_exactly_the_id_name_url_and_key() {
    let app = spawn_app().await;

    let created = json_of(&app.cli(&["org", "create", "  Acme Corp ", "--json"]));

    let keys: Vec<_> = created.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["id", "name", "scim_url", "api_key"]);
    assert_eq!(created["name"], "Acme Corp");
    assert_eq!(
        created["scim_url"],
        format!("{}/v2/{}", app.address, created["id"].as_str().unwrap()),
        "the CLI shows the URL of the server running on this data dir"
    );
}

#[tokio::test]
async fn org_create_without_json_shows_the_key_once_with_a_warning() {
    let app = spawn_app().await;

    let out = app.cli(&["org", "create", "Acme"]);

    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("API key:  scim_"), "{stdout}");
    assert!(stdout.contains("shown only this once"), "{stdout}");
    assert!(stdout.contains("can manage this organization"), "{stdout}");

    // A read key's warning says what it can do: read, not manage.
    let out = app.cli(&[
        "org", "key", "add", "Acme", "--name", "wiki", "--scope", "read",
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("change nothing"), "{stdout}");
    assert!(!stdout.contains("can manage"), "{stdout}");
}

#[tokio::test]
async fn org_list_shows_every_organization() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme");
    app.create_org("Globex");
    assert!(app.cli(&["org", "disable-scim", "Globex"]).status.success());

    let list = json_of(&app.cli(&["org", "list", "--json"]));

    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], acme.id.as_str());
    assert_eq!(list[0]["scim_enabled"], true);
    assert_eq!(list[1]["name"], "Globex");
    assert_eq!(list[1]["scim_enabled"], false);
    let human = String::from_utf8_lossy(&app.cli(&["org", "list"]).stdout).to_string();
    assert!(human.contains("Acme") && human.contains("Globex") && human.contains("off"));
}

#[tokio::test]
async fn org_delete_asks_and_refuses_without_an_answer() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    let out = Command::new(BIN)
        .args(["org", "delete", &org.id, "--data-dir"])
        .arg(app.data_dir.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();

    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was deleted"));
    assert_eq!(
        json_of(&app.cli(&["org", "list", "--json"]))
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn org_delete_with_yes_removes_it_and_its_key_stops_working() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let before = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;
    assert_eq!(before.status().as_u16(), 200);

    let out = app.cli(&["org", "delete", "Acme", "--yes"]);

    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        json_of(&app.cli(&["org", "list", "--json"])),
        Value::Array(vec![])
    );
    let after = app
        .scim_get(&org.id, "ServiceProviderConfig", &org.key)
        .await;
    assert_scim_error(after, 401).await;
}

#[tokio::test]
async fn usage_errors_exit_2_and_failures_exit_1() {
    let dir = tempfile::TempDir::new().unwrap();

    assert_eq!(
        cli_in(dir.path(), &["org", "frobnicate"]).status.code(),
        Some(2)
    );
    assert_eq!(
        cli_in(dir.path(), &["org", "create"]).status.code(),
        Some(2)
    );

    let unknown = cli_in(dir.path(), &["org", "rotate-key", "no-such-org"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no-such-org"));
    let empty_name = cli_in(dir.path(), &["org", "create", "   "]);
    assert_eq!(empty_name.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty_name.stderr).contains("must not be empty"));
}

#[tokio::test]
async fn options_can_come_from_scim_environment_variables() {
    let dir = tempfile::TempDir::new().unwrap();

    let out = Command::new(BIN)
        .args(["org", "create", "Acme", "--json"])
        .env("SCIM_DATA_DIR", dir.path())
        .env("SCIM_PUBLIC_URL", "https://scim.example.com/")
        .output()
        .unwrap();

    let created = json_of(&out);
    assert_eq!(
        created["scim_url"],
        format!(
            "https://scim.example.com/v2/{}",
            created["id"].as_str().unwrap()
        )
    );
    assert!(dir.path().join("scim-appliance.db").is_file());
}

#[tokio::test]
async fn org_changes_land_in_the_event_log_newest_first() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    assert!(app.cli(&["org", "rotate-key", &org.id]).status.success());
    assert!(app.cli(&["org", "disable-scim", &org.id]).status.success());

    let events = json_of(&app.cli(&["events", &org.id, "--json"]));

    let types: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "Organization_ScimDisabled",
            "Organization_ApiKeyRotated",
            "Organization_ApiKeyAdded",
            "Organization_Created"
        ]
    );
    assert!(events[0]["actor"] == "cli");
}

#[tokio::test]
async fn org_rename_changes_the_name_the_page_shows_and_logs_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let out = app.cli(&["org", "rename", "Acme", "Acme Inc"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("Renamed \"Acme\" to \"Acme Inc\""));
    let admin = app.admin().await;
    let (_, detail) = admin.get(&format!("/orgs/{}", org.id)).await;
    assert_eq!(detail["name"], "Acme Inc");
    let newest = &app.events(&org)[0];
    assert_eq!(newest["type"], "Organization_Renamed");
    assert_eq!(newest["actor"], "cli");

    let out = app.cli(&["org", "rename", &org.id, " "]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must not be empty"));
}

#[test]
fn completions_and_the_man_page_come_from_the_command_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}: {out:?}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(
            script.contains("scim-appliance") && script.contains("rotate-key"),
            "{shell}"
        );
    }
    let out = Command::new(BIN).arg("manpage").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH scim-appliance 1"), "{page}");
    assert!(page.contains("healthcheck") && page.contains("backup"));
}

#[tokio::test]
async fn org_key_add_list_rotate_with_grace_and_revoke_speak_json() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");

    let added = json_of(&app.cli(&[
        "org",
        "key",
        "add",
        "Acme",
        "--name",
        "wiki sync",
        "--scope",
        "read",
        "--expires",
        "90d",
        "--json",
    ]));
    let keys: Vec<_> = added.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys, ["id", "name", "scim_url", "api_key", "key"]);
    assert_eq!(added["id"], org.id.as_str());
    let key = &added["key"];
    assert_eq!(
        (
            &key["name"],
            &key["scope"],
            &key["created_by"],
            &key["expired"]
        ),
        (
            &json!("wiki sync"),
            &json!("read"),
            &json!("cli"),
            &json!(false)
        )
    );
    assert!(key["expires_at"].is_string());
    let key_id = key["key_id"].as_str().unwrap();
    let token = added["api_key"].as_str().unwrap();
    assert!(token.starts_with(&format!("scim_{key_id}_")));

    let listed = json_of(&app.cli(&["org", "key", "list", "Acme", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    assert_eq!(listed[0]["name"], "default");
    assert_eq!(listed[0]["scope"], "provision");
    assert_eq!(&listed[1], key);
    assert!(!listed.to_string().contains(token));
    let table =
        String::from_utf8_lossy(&app.cli(&["org", "key", "list", "Acme"]).stdout).to_string();
    for column in [
        "ID",
        "NAME",
        "SCOPE",
        "CREATED",
        "CREATED BY",
        "LAST USED",
        "EXPIRES",
    ] {
        assert!(table.contains(column), "{table}");
    }
    assert!(
        table.contains("wiki sync") && table.contains(key_id),
        "{table}"
    );

    let rotated = json_of(&app.cli(&[
        "org",
        "rotate-key",
        "Acme",
        "--key",
        key_id,
        "--grace",
        "1h",
        "--json",
    ]));
    assert_eq!(rotated["key"]["name"], "wiki sync");
    assert_eq!(rotated["key"]["scope"], "read");
    assert_eq!(rotated["replaced"]["key_id"], key_id);
    assert!(rotated["replaced"]["expires_at"].is_string());
    let new_token = rotated["api_key"].as_str().unwrap();
    for token in [token, new_token] {
        let response = app.scim_get(&org.id, "Users", token).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "both work during the grace period"
        );
    }

    let out = app.cli(&["org", "key", "revoke", "Acme", key_id]);
    assert!(out.status.success(), "{out:?}");
    assert_scim_error(app.scim_get(&org.id, "Users", token).await, 401).await;
    assert_eq!(
        app.scim_get(&org.id, "Users", new_token)
            .await
            .status()
            .as_u16(),
        200
    );
    let listed = json_of(&app.cli(&["org", "key", "list", "Acme", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let list = json_of(&app.cli(&["org", "list", "--json"]));
    assert_eq!(list[0]["keys"], 2);
}

#[tokio::test]
async fn org_key_commands_refuse_bad_input_and_write_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let keys_before = app.cli(&["org", "key", "list", "Acme", "--json"]).stdout;
    let events_before = app.events(&org);

    for (args, code, says) in [
        (vec!["--scope", "write"], 2, "write"),
        (vec!["--expires", "soon"], 2, "soon"),
        (vec!["--expires", "0s"], 2, "between 1s and 10y"),
        (vec!["--expires", "11y"], 2, "between 1s and 10y"),
        (vec!["--name", "  "], 1, "must not be empty"),
        (vec!["--name", &"x".repeat(101)], 1, "at most 100"),
    ] {
        let mut all = vec!["org", "key", "add", "Acme"];
        all.extend(args.iter().copied());
        let out = app.cli(&all);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{args:?}: {out:?}"
        );
    }
    let grace = app.cli(&["org", "rotate-key", "Acme", "--grace", "31d"]);
    assert_eq!(grace.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&grace.stderr).contains("at most 30d"));
    let unknown = app.cli(&["org", "rotate-key", "Acme", "--key", "nosuchkey123"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nosuchkey123"));
    let unknown_org = app.cli(&["org", "key", "list", "no-such-org"]);
    assert_eq!(unknown_org.status.code(), Some(1));

    assert_eq!(
        app.cli(&["org", "key", "list", "Acme", "--json"]).stdout,
        keys_before
    );
    assert_eq!(app.events(&org), events_before);
    assert_eq!(
        app.scim_get(&org.id, "Users", &org.key)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn org_set_ldap_base_is_checked_unique_and_listed() {
    let app = spawn_app().await;
    let acme = app.create_org("Acme");
    app.create_org("Globex");
    let list = json_of(&app.cli(&["org", "list", "--json"]));
    assert_eq!(
        list[0]["ldap_base_dn"], "dc=acme",
        "a default from the name"
    );

    let out = app.cli(&["org", "set-ldap-base", "Acme", "DC=Example, dc=com"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("dc=Example,dc=com"));
    let list = json_of(&app.cli(&["org", "list", "--json"]));
    assert_eq!(list[0]["ldap_base_dn"], "dc=Example,dc=com");

    for (org, dn) in [("Globex", "dc=example,dc=COM"), ("Globex", "not a dn")] {
        let out = app.cli(&["org", "set-ldap-base", org, dn]);
        assert_eq!(out.status.code(), Some(1), "{dn}: {out:?}");
        assert!(!out.stderr.is_empty());
    }
    let list = json_of(&app.cli(&["org", "list", "--json"]));
    assert_eq!(list[1]["ldap_base_dn"], "dc=globex", "nothing written");

    let admin = app.admin().await;
    let path = format!("/orgs/{}", acme.id);
    let (status, org) = admin
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(serde_json::json!({"ldap_base_dn": "o=acme"})),
        )
        .await;
    assert_eq!(
        (status, org["ldap_base_dn"].as_str()),
        (200, Some("o=acme"))
    );
    let (status, _) = admin
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(serde_json::json!({"ldap_base_dn": "dc=globex"})),
        )
        .await;
    assert_eq!(status, 409);
    let (status, _) = admin
        .send(
            reqwest::Method::PATCH,
            &path,
            Some(serde_json::json!({"ldap_base_dn": "o=a\\,b"})),
        )
        .await;
    assert_eq!(status, 400);
}
