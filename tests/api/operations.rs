//! Operating the appliance: backup while serving, restore, and checking the data file.

use std::path::Path;
use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::{cli_in, serve_binary, spawn_app, spawn_app_in};

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A data directory holding a copy of `backup` as its database (restored by the real binary).
fn restored_dir(backup: &Path) -> TempDir {
    let dir = TempDir::new().unwrap();
    let out = cli_in(dir.path(), &["restore", backup.to_str().unwrap(), "--yes"]);
    assert!(out.status.success(), "{out:?}");
    dir
}

#[tokio::test]
async fn a_backup_taken_under_writes_holds_every_write_acknowledged_before_it() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (client, url, key) = (app.client.clone(), org.scim_url.clone(), org.key.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client
                    .post(format!("{url}/Users"))
                    .bearer_auth(&key)
                    .json(&json!({"userName": format!("user{i}@example.com")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 201);
                let user: Value = response.json().await.unwrap();
                acknowledged
                    .lock()
                    .unwrap()
                    .push(user["id"].as_str().unwrap().to_owned());
                i += 1;
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 20 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let target = app.data_dir.path().join("snapshot.db");
    let out = app.cli(&["backup", target.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).contains("Backed up to"));
    let after_backup = acknowledged.lock().unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.await.unwrap();
    assert!(
        acknowledged.lock().unwrap().len() > after_backup || after_backup > before.len(),
        "the writer kept going while the backup ran"
    );

    let report = scim_appliance::store::maintenance::inspect(&target).unwrap();
    assert!(report.faults().is_empty(), "{:?}", report.faults());
    let copy = spawn_app_in(restored_dir(&target)).await;
    for id in &before {
        let response = copy
            .scim_get(&org.id, &format!("Users/{id}"), &org.key)
            .await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "user {id} acknowledged before the backup"
        );
    }
    let (_, list) = copy.call(&org, Method::GET, "Users?count=0", None).await;
    let total = list["totalResults"].as_u64().unwrap() as usize;
    assert!(total >= before.len() && total <= acknowledged.lock().unwrap().len());
}

#[tokio::test]
async fn backup_names_files_by_time_and_keeps_the_newest() {
    let app = spawn_app().await;
    app.create_org("Acme");
    let backups = app.data_dir.path().join("backups");
    for _ in 0..3 {
        let out = app.cli(&["backup", "--keep", "2"]);
        assert!(out.status.success(), "{out:?}");
        // Names have one-second resolution.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    }
    let mut names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        assert!(
            name.starts_with("scim-appliance-2") && name.ends_with("Z.db"),
            "{name}"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(backups.join(&names[0]))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "backups are private: {mode:o}");
    }
    let existing = backups.join(&names[0]);
    let out = app.cli(&["backup", existing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("exists already"));
}

#[tokio::test]
async fn restore_brings_back_the_backup_and_keeps_the_replaced_file() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    let user = app
        .create_user(&org, json!({"userName": "kept@example.com"}))
        .await;
    let id = user["id"].as_str().unwrap().to_owned();
    let backup = app.data_dir.path().join("before.db");
    assert!(
        app.cli(&["backup", backup.to_str().unwrap()])
            .status
            .success()
    );
    let (status, _) = app
        .call(&org, Method::DELETE, &format!("Users/{id}"), None)
        .await;
    assert_eq!(status, 204);

    let out = app.cli(&["restore", backup.to_str().unwrap(), "--yes"]);
    assert_eq!(out.status.code(), Some(1), "refused while serving");
    assert!(stderr(&out).contains("server is using"), "{}", stderr(&out));

    let dir = app.stop().await;
    let out = cli_in(dir.path(), &["restore", backup.to_str().unwrap(), "--yes"]);
    assert!(out.status.success(), "{out:?}");
    let aside: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("scim-appliance.db.before-restore-"))
        .collect();
    assert!(!aside.is_empty(), "the replaced database is kept");

    let app = spawn_app_in(dir).await;
    let response = app
        .scim_get(&org.id, &format!("Users/{id}"), &org.key)
        .await;
    assert_eq!(response.status().as_u16(), 200, "the deleted user is back");
}

/// Overwrites the middle of a database file with garbage.
fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    assert!(bytes.len() > 3 * 4096, "a few pages");
    for b in &mut bytes[4096 + 100..2 * 4096 + 3000] {
        *b = 0xA5;
    }
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn check_reports_counts_and_detects_a_corrupted_file() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    for i in 0..30 {
        app.create_user(&org, json!({"userName": format!("u{i}@example.com")}))
            .await;
    }
    let out = app.cli(&["check", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["organizations"][0]["members"], 30);
    assert_eq!(
        report["schema_version"],
        scim_appliance::store::SCHEMA_VERSION
    );
    assert!(stdout(&app.cli(&["check"])).contains("integrity: ok"));

    let backup = app.data_dir.path().join("copy.db");
    assert!(
        app.cli(&["backup", backup.to_str().unwrap()])
            .status
            .success()
    );
    corrupt(&backup);
    let broken = TempDir::new().unwrap();
    std::fs::copy(&backup, broken.path().join("scim-appliance.db")).unwrap();
    let out = cli_in(broken.path(), &["check"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stdout(&out).contains("PROBLEM"), "{}", stdout(&out));

    // Restore refuses it and changes nothing.
    let out = cli_in(
        app.data_dir.path(),
        &["restore", backup.to_str().unwrap(), "--yes"],
    );
    assert_eq!(out.status.code(), Some(1));
    let not_a_db = app.data_dir.path().join("notes.txt");
    std::fs::write(&not_a_db, "hello").unwrap();
    let dir = app.stop().await;
    for bad in [&backup, &not_a_db] {
        let out = cli_in(dir.path(), &["restore", bad.to_str().unwrap(), "--yes"]);
        assert_eq!(out.status.code(), Some(1), "{}", bad.display());
        assert!(
            stderr(&out).contains("cannot be restored"),
            "{}",
            stderr(&out)
        );
    }
    let out = cli_in(dir.path(), &["check", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["organizations"][0]["members"], 30,
        "the live file is untouched"
    );
}

#[tokio::test]
async fn healthcheck_exits_zero_only_when_the_server_answers() {
    let app = spawn_app().await;
    let listen = app.address.trim_start_matches("http://").to_owned();
    // Off the test's runtime: the probe blocks until the server answers.
    let healthcheck = |listen: String| {
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(crate::helpers::BIN)
                .args(["healthcheck", "--listen", &listen])
                .output()
                .unwrap()
        })
    };
    let out = healthcheck(listen.clone()).await.unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), "ok");
    app.stop().await;
    let out = healthcheck(listen).await.unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
}

#[tokio::test]
async fn serve_takes_a_scheduled_backup_at_start_and_keeps_the_rhythm_after_a_restart() {
    let configure = |c: &mut scim_appliance::config::ServeConfig| {
        c.backup_every = Some(std::time::Duration::from_secs(3600));
        c.backup_keep = 2;
    };
    let app = crate::helpers::spawn_app_configured(TempDir::new().unwrap(), None, configure).await;
    let org = app.create_org("Acme");
    let backups = app.data_dir.path().join("backups");
    let count = |dir: &Path| std::fs::read_dir(dir).map_or(0, |d| d.count());
    let mut waited = 0;
    while count(&backups) == 0 {
        assert!(waited < 100, "a first backup within 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    let dir = app.stop().await;
    let app = crate::helpers::spawn_app_configured(dir, None, configure).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        count(&backups),
        1,
        "the last backup is less than an hour old"
    );
    let name = std::fs::read_dir(&backups)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report = scim_appliance::store::maintenance::inspect(&name).unwrap();
    assert!(report.faults().is_empty());
    assert_eq!(
        app.scim_get(&org.id, "Users", &org.key)
            .await
            .status()
            .as_u16(),
        200
    );
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_loses_nothing_acknowledged() {
    let dir = TempDir::new().unwrap();
    let out = cli_in(dir.path(), &["org", "create", "Acme", "--json"]);
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (org_id, key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["api_key"].as_str().unwrap().to_owned(),
    );
    let (mut server, addr, log_reader) = serve_binary(dir.path(), &[]);
    let base = format!("http://{addr}/v2/{org_id}");

    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (base, key, acknowledged) = (base.clone(), key.clone(), acknowledged.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                for i in 0.. {
                    let sent = client
                        .post(format!("{base}/Users"))
                        .bearer_auth(&key)
                        .json(&json!({"userName": format!("w{w}-{i}@example.com")}))
                        .send()
                        .await;
                    let Ok(response) = sent else { break };
                    if response.status().as_u16() != 201 {
                        break;
                    }
                    let Ok(user) = response.json::<Value>().await else {
                        break;
                    };
                    acknowledged
                        .lock()
                        .unwrap()
                        .push(user["id"].as_str().unwrap().to_owned());
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    for writer in writers {
        writer.await.unwrap();
    }
    let status = tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let log = log_reader.join().unwrap();
    assert!(log.iter().any(|l| l.contains("stopped")), "{log:?}");
    let wal = dir.path().join("scim-appliance.db-wal");
    assert_eq!(
        std::fs::metadata(&wal).map_or(0, |m| m.len()),
        0,
        "WAL checkpointed"
    );

    let acknowledged = acknowledged.lock().unwrap().clone();
    let app = spawn_app_in(dir).await;
    for id in &acknowledged {
        let response = app.scim_get(&org_id, &format!("Users/{id}"), &key).await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "acknowledged user {id} is kept"
        );
    }
}

/// Members and groups as the SCIM API shows them, without ids and timestamps, by userName.
async fn directory_of(app: &crate::helpers::TestApp, org: &crate::helpers::TestOrg) -> Value {
    let (_, users) = app
        .call(org, Method::GET, "Users?sortBy=userName", None)
        .await;
    let (_, groups) = app
        .call(org, Method::GET, "Groups?sortBy=displayName", None)
        .await;
    let names: std::collections::HashMap<String, String> = users["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["id"].as_str().unwrap().to_owned(),
                u["userName"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let strip = |mut v: Value| {
        let o = v.as_object_mut().unwrap();
        for k in ["id", "meta", "groups"] {
            o.remove(k);
        }
        if let Some(members) = o.remove("members") {
            let mut member_names: Vec<&str> = members
                .as_array()
                .unwrap()
                .iter()
                .map(|m| names[m["value"].as_str().unwrap()].as_str())
                .collect();
            member_names.sort();
            o.insert("members".into(), json!(member_names));
        }
        v
    };
    json!({
        "users": users["Resources"].as_array().unwrap().iter().cloned().map(strip).collect::<Vec<_>>(),
        "groups": groups["Resources"].as_array().unwrap().iter().cloned().map(strip).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn export_then_import_into_a_new_org_reproduces_the_directory() {
    let app = spawn_app().await;
    let source = app.create_org("Source");
    for (name, active) in [("alice", true), ("bob", false), ("carol", true)] {
        app.create_user(
            &source,
            json!({"userName": format!("{name}@example.com"), "active": active,
                   "name": {"givenName": name, "familyName": "Example"},
                   "emails": [{"value": format!("{name}@work.example"), "type": "work", "primary": true}],
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"},
                   "title": "Engineer"}),
        )
        .await;
    }
    let (_, users) = app
        .call(&source, Method::GET, "Users?sortBy=userName", None)
        .await;
    let ids: Vec<&str> = users["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    for (group, members) in [("Engineering", vec![ids[0], ids[1]]), ("Empty", vec![])] {
        let members: Vec<Value> = members.iter().map(|id| json!({"value": id})).collect();
        let (status, _) = app
            .call(&source, Method::POST, "Groups", Some(json!({"displayName": group, "externalId": format!("ext-{group}"), "members": members})))
            .await;
        assert_eq!(status, 201);
    }

    let export = app.data_dir.path().join("source.json");
    let out = app.cli(&["export", &source.id, "-o", export.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let target = app.create_org("Target");
    let dry = app.cli(&[
        "import",
        "Target",
        export.to_str().unwrap(),
        "--dry-run",
        "--json",
    ]);
    assert!(dry.status.success(), "{dry:?}");
    let report: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(
        (
            report["members_created"].as_u64(),
            report["groups_created"].as_u64()
        ),
        (Some(3), Some(2))
    );
    assert_eq!(report["dry_run"], true);
    let (_, empty) = app.call(&target, Method::GET, "Users?count=0", None).await;
    assert_eq!(empty["totalResults"], 0, "a dry run changes nothing");

    let out = app.cli(&["import", "Target", export.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout(&out).contains("Members: 3 created"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        directory_of(&app, &source).await,
        directory_of(&app, &target).await
    );

    // Importing the same file again changes nothing.
    let again = app.cli(&["import", "Target", export.to_str().unwrap(), "--json"]);
    let report: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        (
            report["members_unchanged"].as_u64(),
            report["groups_unchanged"].as_u64()
        ),
        (Some(3), Some(2))
    );

    // CSV: a round trip through a spreadsheet keeps the fields it has.
    let csv = app.cli(&["export", "Source", "--format", "csv"]);
    let text = stdout(&csv);
    assert!(
        text.starts_with(
            "userName,email,displayName,givenName,familyName,externalId,active,groups\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("bob@example.com,bob@work.example,,bob,Example,,false,Engineering"),
        "{text}"
    );
    let csv_file = app.data_dir.path().join("people.csv");
    std::fs::write(&csv_file, text).unwrap();
    let third = app.create_org("Third");
    assert!(
        app.cli(&["import", "Third", csv_file.to_str().unwrap()])
            .status
            .success()
    );
    let (_, bob) = app
        .call(
            &third,
            Method::GET,
            "Users?filter=userName%20eq%20%22bob@example.com%22",
            None,
        )
        .await;
    assert_eq!(bob["Resources"][0]["active"], false);
    assert_eq!(bob["Resources"][0]["name"]["givenName"], "bob");
    let (_, eng) = app
        .call(
            &third,
            Method::GET,
            "Groups?filter=displayName%20eq%20%22Engineering%22",
            None,
        )
        .await;
    assert_eq!(eng["Resources"][0]["members"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_import_that_fails_anywhere_writes_nothing() {
    let app = spawn_app().await;
    let org = app.create_org("Acme");
    app.create_user(
        &org,
        json!({"userName": "taken@example.com", "externalId": "E1"}),
    )
    .await;
    let file = app.data_dir.path().join("bad.json");
    std::fs::write(
        &file,
        json!({"members": [
            {"userName": "new1@example.com"},
            {"userName": "new2@example.com", "externalId": "E1"}
        ], "groups": [{"displayName": "G", "members": ["new1@example.com"]}]})
        .to_string(),
    )
    .unwrap();
    let events_before = app.events(&org).len();
    let out = app.cli(&["import", &org.id, file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("externalId"), "{}", stderr(&out));
    let (_, users) = app.call(&org, Method::GET, "Users?count=0", None).await;
    assert_eq!(users["totalResults"], 1, "new1 was rolled back too");
    assert_eq!(app.events(&org).len(), events_before);

    std::fs::write(&file, "userName,active\nx@example.com,perhaps\n").unwrap();
    let out = app.cli(&["import", &org.id, file.to_str().unwrap(), "--format", "csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("line 2"), "{}", stderr(&out));
}

#[tokio::test]
async fn configuration_comes_from_flags_then_environment_then_file_then_defaults() {
    let dir = TempDir::new().unwrap();
    let secret = dir.path().join("admin-password");
    std::fs::write(&secret, "a secret from a file\n").unwrap();
    let config = dir.path().join("scim.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"0.0.0.0:7000\"\nsync = \"normal\"\nbackup_every = \"12h\"\n\
             log_format = \"json\"\nadmin_password_file = \"{}\"\nbody_timeout = \"30s\"\n",
            secret.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(crate::helpers::BIN)
        .args([
            "config",
            "show",
            "--json",
            "--listen",
            "127.0.0.1:9999",
            "--config",
        ])
        .arg(&config)
        .env("SCIM_SYNC", "full")
        .env("SCIM_BACKUP_KEEP", "3")
        .env("SCIM_MAX_CONNECTIONS", "500")
        .env_remove("SCIM_LISTEN")
        .env_remove("SCIM_DATA_DIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!stdout(&out).contains("a secret from a file"));
    let shown: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let setting = |name: &str| {
        let s = shown
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("{name}"));
        (s["value"].clone(), s["source"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        setting("listen"),
        (json!("127.0.0.1:9999"), "flag --listen".into())
    );
    assert_eq!(
        setting("sync"),
        (json!("full"), "environment SCIM_SYNC".into())
    );
    assert_eq!(
        setting("backup_keep"),
        (json!("3"), "environment SCIM_BACKUP_KEEP".into())
    );
    let (every, source) = setting("backup_every");
    assert_eq!(every, "12h");
    assert!(source.starts_with("config file"), "{source}");
    assert_eq!(setting("log_format").0, "json");
    assert_eq!(setting("max_body"), (json!("1048576"), "default".into()));
    assert_eq!(setting("data_dir"), (json!("./data"), "default".into()));
    let (timeout, source) = setting("body_timeout");
    assert_eq!(timeout, "30s");
    assert!(source.starts_with("config file"), "{source}");
    assert_eq!(
        setting("max_connections"),
        (json!("500"), "environment SCIM_MAX_CONNECTIONS".into())
    );
    assert_eq!(
        setting("max_connections_per_client"),
        (json!("64"), "default".into())
    );
    let (password, source) = setting("admin_password");
    assert_eq!(password, "<redacted>");
    assert!(source.contains(secret.to_str().unwrap()), "{source}");

    std::fs::write(&config, "listen = \"x\"\ncolour = \"red\"\n").unwrap();
    let out = std::process::Command::new(crate::helpers::BIN)
        .args(["config", "show", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("colour"), "{}", stderr(&out));
}

#[tokio::test]
async fn an_admin_password_from_the_configuration_replaces_the_setup_link() {
    let app = crate::helpers::spawn_app_configured(TempDir::new().unwrap(), None, |c| {
        c.initial_admin_password = Some(scim_appliance::config::Secret(
            "set by the installer".into(),
        ));
    })
    .await;
    assert!(app.setup_link.is_none());
    assert_eq!(app.sign_in("set by the installer").await.0, 200);
    // A password changed later is not overwritten by the next start.
    let admin = app.sign_in("set by the installer").await.1.unwrap();
    let (status, _) = admin
        .send(
            Method::POST,
            "/password",
            Some(json!({"current_password": "set by the installer", "new_password": "changed on the page"})),
        )
        .await;
    assert_eq!(status, 200);
    let dir = app.stop().await;
    let app = crate::helpers::spawn_app_configured(dir, None, |c| {
        c.initial_admin_password = Some(scim_appliance::config::Secret(
            "set by the installer".into(),
        ));
    })
    .await;
    assert_eq!(app.sign_in("changed on the page").await.0, 200);
}

#[tokio::test]
async fn the_log_has_one_json_line_per_request_and_never_a_key_or_password() {
    let dir = TempDir::new().unwrap();
    let (mut server, addr, log_reader) = serve_binary(
        dir.path(),
        &["--log-format", "json", "--log-level", "debug"],
    );
    let base = format!("http://{addr}");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    // The password is set from the CLI here (the setup link in the log works too).
    let password = "a password nobody should log";
    let mut child = std::process::Command::new(crate::helpers::BIN)
        .args(["admin", "set-password", "--password-stdin", "--data-dir"])
        .arg(dir.path())
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{password}\n").as_bytes(),
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let login = client
        .post(format!("{base}/api/admin/login"))
        .json(&json!({ "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200);
    let csrf = login.json::<Value>().await.unwrap()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = |method: Method, path: &str| {
        client
            .request(method, format!("{base}/api/admin{path}"))
            .header("X-CSRF-Token", &csrf)
    };
    let org: Value = admin(Method::POST, "/orgs")
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let org_id = org["id"].as_str().unwrap().to_owned();
    admin(Method::PATCH, &format!("/orgs/{org_id}"))
        .json(&json!({"scim_enabled": true}))
        .send()
        .await
        .unwrap();
    let key: Value = admin(Method::POST, &format!("/orgs/{org_id}/api-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["api_key"].as_str().unwrap().to_owned();
    let created = client
        .post(format!("{base}/v2/{org_id}/Users"))
        .bearer_auth(&key)
        .header("X-Request-Id", "trace-123")
        .json(&json!({"userName": "alice@example.com", "password": "user password in a body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    assert_eq!(created.headers()["x-request-id"], "trace-123");
    let wrong = client
        .get(format!("{base}/v2/{org_id}/Users"))
        .bearer_auth(format!("{key}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);

    std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    let log = log_reader.join().unwrap();
    let text = log.join("\n");
    for secret in [key.as_str(), password, "user password in a body", &key[5..]] {
        assert!(!text.contains(secret), "the log holds a secret: {secret}");
    }
    let requests: Vec<Value> = log
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect();
    assert!(requests.len() >= 6, "{log:?}");
    let create = requests
        .iter()
        .find(|r| r["request_id"] == "trace-123")
        .expect("the POST /Users line");
    assert_eq!(create["method"], "POST");
    assert_eq!(create["route"], "/v2/{org_id}/Users");
    assert_eq!(create["status"], 201);
    assert_eq!(create["org"], org_id.as_str());
    assert!(create["micros"].as_u64().is_some());
    assert!(
        requests
            .iter()
            .all(|r| r["request_id"].as_str().is_some_and(|id| !id.is_empty()))
    );
}

#[tokio::test]
async fn the_admin_guards_refusals_carry_request_id_and_security_headers_and_are_logged_and_counted()
 {
    let dir = TempDir::new().unwrap();
    let password = "correct horse battery staple";
    let (mut server, addr, log_reader) = serve_binary(
        dir.path(),
        &[
            "--log-format",
            "json",
            "--metrics",
            "--admin-password",
            password,
        ],
    );
    let base = format!("http://{addr}");
    let anonymous = reqwest::Client::new()
        .get(format!("{base}/api/admin/orgs"))
        .send()
        .await;
    let signed_in = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = signed_in
        .post(format!("{base}/api/admin/login"))
        .json(&json!({ "password": password }))
        .send()
        .await;
    let without_csrf = signed_in
        .post(format!("{base}/api/admin/orgs"))
        .json(&json!({"name": "Acme"}))
        .send()
        .await;
    let metrics = reqwest::get(format!("{base}/metrics")).await;
    // Stopped before any assertion, so that a failing one leaves no server behind.
    std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    tokio::task::spawn_blocking(move || server.wait().unwrap())
        .await
        .unwrap();
    let log = log_reader.join().unwrap();

    assert_eq!(login.unwrap().status().as_u16(), 200);
    let mut refusals = Vec::new();
    for (response, status, error) in [
        (anonymous.unwrap(), 401, "unauthenticated"),
        (without_csrf.unwrap(), 403, "csrf"),
    ] {
        assert_eq!(response.status().as_u16(), status);
        for (name, value) in scim_appliance::http::observe::SECURITY_HEADERS {
            let (name, value): (&str, &[u8]) = (name.as_ref(), value.as_ref());
            assert_eq!(
                response.headers().get(name).map(|v| v.to_str().unwrap()),
                Some(String::from_utf8_lossy(value).as_ref()),
                "{status} {name}"
            );
        }
        let request_id = response
            .headers()
            .get("x-request-id")
            .unwrap_or_else(|| panic!("{status} has an X-Request-Id"))
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error);
        refusals.push((request_id, status));
    }
    let metrics = metrics.unwrap().text().await.unwrap();
    for (method, status) in [("GET", 401), ("POST", 403)] {
        let series = format!(
            "scim_appliance_http_requests_total{{method=\"{method}\",route=\"/api/admin/orgs\",status=\"{status}\"}} 1"
        );
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    for (request_id, status) in refusals {
        let line = log
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|v| v["message"] == "request" && v["request_id"] == request_id.as_str())
            .unwrap_or_else(|| panic!("no request line for {request_id} in {log:?}"));
        assert_eq!(line["status"], status);
        assert_eq!(line["route"], "/api/admin/orgs");
        assert_eq!(line["method"], if status == 401 { "GET" } else { "POST" });
    }
}

#[tokio::test]
async fn metrics_are_off_by_default_and_behind_the_token_when_on() {
    let app = spawn_app().await;
    assert_eq!(
        app.client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    let app = crate::helpers::spawn_app_configured(TempDir::new().unwrap(), None, |c| {
        c.metrics = true;
        c.metrics_token = Some(scim_appliance::config::Secret("scrape-token".into()));
    })
    .await;
    let org = app.create_org("Acme");
    let user = app
        .create_user(&org, json!({"userName": "a@example.com"}))
        .await;
    let id = user["id"].as_str().unwrap();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert_eq!(
        app.call(&org, Method::PATCH, &format!("Users/{id}"), Some(patch))
            .await
            .0,
        200
    );
    assert_eq!(app.call(&org, Method::GET, "Users", None).await.0, 200);

    let scrape = |token: Option<&str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(scrape(None).await.unwrap().status().as_u16(), 401);
    assert_eq!(scrape(Some("wrong")).await.unwrap().status().as_u16(), 401);
    let response = scrape(Some("scrape-token")).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let org_label = format!("org=\"{}\"", org.id);
    for expected in [
        "scim_appliance_http_requests_total{method=\"POST\",route=\"/v2/{org_id}/Users\",status=\"201\"} 1".to_owned(),
        "scim_appliance_http_request_duration_seconds_bucket{le=".to_owned(),
        format!("scim_appliance_provisioning_operations_total{{{org_label},resource=\"Users\",operation=\"create\"}} 1"),
        format!("scim_appliance_provisioning_operations_total{{{org_label},resource=\"Users\",operation=\"patch\"}} 1"),
        format!("scim_appliance_members{{{org_label}}} 1"),
        format!("scim_appliance_active_members{{{org_label}}} 0"),
        "scim_appliance_database_bytes ".to_owned(),
    ] {
        assert!(text.contains(&expected), "missing {expected} in\n{text}");
    }
    assert!(!text.contains(id), "raw ids never become labels");
}

#[tokio::test]
async fn serve_speaks_https_with_a_certificate_and_healthcheck_follows() {
    let dir = TempDir::new().unwrap();
    let certified = crate::helpers::test_certificate(dir.path());
    let (cert, key) = (certified.cert.clone(), certified.key.clone());
    let tls = (cert.clone(), key.clone());
    let app = crate::helpers::spawn_app_configured(TempDir::new().unwrap(), None, move |c| {
        c.tls = Some(tls);
    })
    .await;
    let https = app.address.replace("http://", "https://");
    assert_eq!(
        app.state.public_url, https,
        "the default public URL says https"
    );
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(certified.pem.as_bytes()).unwrap())
        .build()
        .unwrap();
    let alive = client.get(format!("{https}/alive")).send().await.unwrap();
    assert_eq!(alive.status().as_u16(), 200);
    assert!(
        app.client.get(app.url("/alive")).send().await.is_err(),
        "no plain HTTP"
    );

    let listen = app.address.trim_start_matches("http://").to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::helpers::BIN)
            .args(["healthcheck", "--listen", &listen, "--tls-cert"])
            .arg(&cert)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(out.status.success(), "{out:?}");

    // A key that does not match the certificate is refused at start.
    let other = rcgen::generate_simple_self_signed(vec!["x".into()]).unwrap();
    std::fs::write(&key, other.signing_key.serialize_pem()).unwrap();
    let mut config = scim_appliance::config::ServeConfig::new(
        "127.0.0.1:0".into(),
        TempDir::new().unwrap().path().to_owned(),
        None,
        scim_appliance::store::SyncMode::Normal,
        1024 * 1024,
    )
    .unwrap();
    config.tls = Some((dir.path().join("cert.pem"), key));
    let error = scim_appliance::startup::Application::build(config)
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("do not work together"),
        "{error}"
    );
}
