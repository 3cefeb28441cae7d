//! The data file: creation, permissions, secrets at rest, schema versions.

use scim_appliance::config::ServeConfig;
use scim_appliance::startup::Application;
use scim_appliance::store::{DB_FILE_NAME, SCHEMA_VERSION, SyncMode};

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
