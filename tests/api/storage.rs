//! The data file: creation, permissions, secrets at rest, schema versions.

use scim_appliance::config::ServeConfig;
use scim_appliance::startup::Application;
use scim_appliance::store::{DB_FILE_NAME, SCHEMA_VERSION, SyncMode};
use serde_json::Value;

use crate::helpers::{cli_in, spawn_app};

#[tokio::test]
async fn a_fresh_start_creates_a_private_database_at_the_current_schema() {
    let app = spawn_app().await;
    let path = app.data_dir.path().join(DB_FILE_NAME);

    assert!(path.is_file());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION as i64);
    let journal: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "wal");
}

#[tokio::test]
async fn the_database_holds_no_api_key_in_clear_text() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let rotated = app.cli(&["org", "rotate-key", &org.id, "--json"]);
    let rotated: serde_json::Value = serde_json::from_slice(&rotated.stdout).unwrap();
    let keys = [org.key.as_str(), rotated["api_key"].as_str().unwrap()];

    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let file = app.data_dir.path().join(format!("{DB_FILE_NAME}{suffix}"));
        if let Ok(content) = std::fs::read(file) {
            bytes.extend(content);
        }
    }
    let text = String::from_utf8_lossy(&bytes);
    for key in keys {
        let secret = key.rsplit('_').next().unwrap();
        assert!(!text.contains(key));
        assert!(!text.contains(secret));
    }
    assert!(
        text.contains("$argon2id$"),
        "keys are stored as argon2id hashes"
    );
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused_and_left_untouched() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = cli_in(dir.path(), &["org", "create", "Acme", "--json"]);
    assert!(out.status.success());
    let path = dir.path().join(DB_FILE_NAME);
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION as i64 + 1)
            .unwrap();
        conn.pragma_update(None, "wal_checkpoint", "TRUNCATE").ok();
    }
    let before = std::fs::read(&path).unwrap();

    let config = ServeConfig::new(
        "127.0.0.1:0".into(),
        dir.path().to_owned(),
        None,
        SyncMode::Normal,
        1 << 20,
    )
    .unwrap();
    let error = Application::build(config).err().expect("refused");
    assert!(error.to_string().contains("newer"), "{error}");

    let out = cli_in(dir.path(), &["serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("schema version"), "{stderr}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "file untouched");
}

/// A database written by the first landed release (schema version 2, commit 847f851), with
/// members, a revoked member, a deleted member, a group and events: served by this binary, it is
/// migrated after a backup, and everything the old server showed is still there.
#[tokio::test]
async fn a_database_from_the_first_release_is_upgraded_without_losing_anything() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v2");
    let expected: Value =
        serde_json::from_slice(&std::fs::read(fixture.join("expected.json")).unwrap()).unwrap();
    let dir = tempfile::TempDir::new().unwrap();
    std::fs::copy(
        fixture.join("scim-appliance.db"),
        dir.path().join("scim-appliance.db"),
    )
    .unwrap();

    let app = crate::helpers::spawn_app_in(dir).await;
    let org = crate::helpers::TestOrg {
        id: expected["org_id"].as_str().unwrap().to_owned(),
        key: expected["api_key"].as_str().unwrap().to_owned(),
        scim_url: app.url(&format!("/v2/{}", expected["org_id"].as_str().unwrap())),
    };
    let without_location = |mut v: Value| {
        v["meta"].as_object_mut().unwrap().remove("location");
        if let Some(list) = v.get_mut("groups").and_then(Value::as_array_mut) {
            for g in list {
                g.as_object_mut().unwrap().remove("$ref");
            }
        }
        if let Some(list) = v.get_mut("members").and_then(Value::as_array_mut) {
            for m in list {
                m.as_object_mut().unwrap().remove("$ref");
            }
        }
        v
    };
    let (status, users) = app
        .call(&org, reqwest::Method::GET, "Users?sortBy=userName", None)
        .await;
    assert_eq!(status, 200, "the old key still works");
    let stripped = |list: &Value| -> Vec<Value> {
        let items = list.as_array().unwrap().iter().cloned();
        items.map(without_location).collect()
    };
    assert_eq!(stripped(&users["Resources"]), stripped(&expected["users"]));
    let (_, groups) = app.call(&org, reqwest::Method::GET, "Groups", None).await;
    assert_eq!(
        stripped(&groups["Resources"]),
        stripped(&expected["groups"])
    );
    let events = app.events(&org);
    assert_eq!(&Value::Array(events), &expected["events"]);
    let (status, _) = app
        .call(
            &org,
            reqwest::Method::GET,
            &format!("Users/{}", expected["carol_deleted"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(status, 404, "the deleted member stays deleted");

    let backups: Vec<String> = std::fs::read_dir(app.data_dir.path().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        backups.len() == 1
            && backups[0].starts_with(&format!("pre-migration-v2-to-v{SCHEMA_VERSION}-")),
        "{backups:?}"
    );
    assert!(
        app.setup_link.is_some(),
        "the admin page asks for a password on an upgraded install"
    );
    let out = app.cli(&["check", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["schema_version"],
        scim_appliance::store::SCHEMA_VERSION
    );
    assert_eq!(report["ok"], true);
}

/// A database of schema version 3 (one key per organization, without name or scope), served by
/// this binary: the key keeps working, as a provision key named `default`.
#[tokio::test]
async fn a_version_3_databases_key_keeps_working_as_the_default_provision_key() {
    let dir = tempfile::TempDir::new().unwrap();
    let key = scim_appliance::auth::api_key::generate().unwrap();
    let org_id = "6a1c3ccb-6d7a-42c7-8602-8f208c28620b";
    {
        let conn = rusqlite::Connection::open(dir.path().join(DB_FILE_NAME)).unwrap();
        conn.execute_batch(include_str!("../../sql/0001_foundation.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../../sql/0002_directory.sql"))
            .unwrap();
        conn.execute_batch(include_str!("../../sql/0003_admin.sql"))
            .unwrap();
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute(
            "INSERT INTO organizations (id, name, scim_enabled, created_at, updated_at)
             VALUES (?1, 'Acme', 1, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
            [org_id],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO api_keys (key_id, org_id, phc, created_at)
             VALUES (?1, ?2, ?3, '2026-01-02T00:00:00.000Z')",
            [&key.key_id, org_id, &key.phc],
        )
        .unwrap();
    }

    let app = crate::helpers::spawn_app_in(dir).await;
    let response = app.scim_get(org_id, "Users", &key.token).await;
    assert_eq!(response.status().as_u16(), 200, "the old key still works");
    let org = crate::helpers::TestOrg {
        id: org_id.to_owned(),
        key: key.token.clone(),
        scim_url: app.url(&format!("/v2/{org_id}")),
    };
    let created = app
        .create_user(&org, serde_json::json!({"userName": "ann@example.com"}))
        .await;
    assert_eq!(created["userName"], "ann@example.com", "and may provision");

    let listed = cli_in(
        app.data_dir.path(),
        &["org", "key", "list", org_id, "--json"],
    );
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(
        listed,
        serde_json::json!([{
            "key_id": key.key_id, "name": "default", "scope": "provision",
            "created_at": "2026-01-02T00:00:00.000Z", "created_by": "unknown",
            "expires_at": null, "last_used_at": null, "expired": false,
        }])
    );
}
