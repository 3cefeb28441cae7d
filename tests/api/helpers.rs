//! The test harness: every test gets its own data directory and a real server on port 0.

use std::path::Path;
use std::process::{Command, Output};

use scim_appliance::config::ServeConfig;
use scim_appliance::startup::{AppState, Application};
use scim_appliance::store::SyncMode;
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_scim-appliance");

/// A running server with its own temporary data directory.
pub struct TestApp {
    pub address: String,
    pub data_dir: TempDir,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    handle: actix_web::dev::ServerHandle,
}

/// An organization created through the CLI, with its one-time key.
pub struct TestOrg {
    pub id: String,
    pub key: String,
    pub scim_url: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_in(TempDir::new().expect("temp dir")).await
}

/// Starts a server on an existing data directory (to test restarts).
pub async fn spawn_app_in(data_dir: TempDir) -> TestApp {
    let config = ServeConfig::new(
        "127.0.0.1:0".into(),
        data_dir.path().to_owned(),
        None,
        SyncMode::Normal,
        1024 * 1024,
    )
    .expect("config");
    let app = Application::build(config).expect("server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        data_dir,
        client: reqwest::Client::new(),
        state,
        handle,
    }
}

impl TestApp {
    /// Stops the server gracefully and hands back the data directory.
    pub async fn stop(self) -> TempDir {
        self.handle.stop(true).await;
        self.data_dir
    }

    /// Runs the real binary against this app's data directory.
    pub fn cli(&self, args: &[&str]) -> Output {
        cli_in(self.data_dir.path(), args)
    }

    /// `org create NAME --json` through the binary.
    pub fn create_org(&self, name: &str) -> TestOrg {
        let out = self.cli(&["org", "create", name, "--json"]);
        assert!(out.status.success(), "org create failed: {out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
        TestOrg {
            id: v["id"].as_str().expect("id").to_owned(),
            key: v["api_key"].as_str().expect("api_key").to_owned(),
            scim_url: v["scim_url"].as_str().expect("scim_url").to_owned(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET /v2/{org}/{path}` with `Authorization: Bearer {key}`.
    pub async fn scim_get(&self, org: &str, path: &str, key: &str) -> reqwest::Response {
        self.client
            .get(self.url(&format!("/v2/{org}/{path}")))
            .bearer_auth(key)
            .send()
            .await
            .expect("request")
    }

    /// A SCIM request to `org` with its key; `path` is relative to the org's base URL.
    pub async fn scim(
        &self,
        org: &TestOrg,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(
                method,
                format!("{}/{}", org.scim_url, path.trim_start_matches('/')),
            )
            .bearer_auth(&org.key);
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/scim+json")
                .body(body.to_string());
        }
        request.send().await.expect("request")
    }

    /// POSTs a user and returns the created resource, asserting 201.
    pub async fn create_user(&self, org: &TestOrg, body: Value) -> Value {
        let response = self
            .scim(org, reqwest::Method::POST, "Users", Some(body))
            .await;
        assert_eq!(response.status().as_u16(), 201, "create user");
        response.json().await.expect("JSON")
    }

    /// Sends a request and returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        org: &TestOrg,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let response = self.scim(org, method, path, body).await;
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, json)
    }

    /// The organization's events, newest first, through the CLI.
    pub fn events(&self, org: &TestOrg) -> Vec<Value> {
        let out = self.cli(&["events", &org.id, "--json", "--limit", "1000"]);
        assert!(out.status.success(), "{out:?}");
        let events: Value = serde_json::from_slice(&out.stdout).expect("JSON events");
        events.as_array().cloned().unwrap_or_default()
    }

    /// Event types of the organization, oldest first, without the organization's own events.
    pub fn event_types(&self, org: &TestOrg) -> Vec<String> {
        let mut types: Vec<String> = self
            .events(org)
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_owned())
            .filter(|t| !t.starts_with("Organization_"))
            .collect();
        types.reverse();
        types
    }

    pub fn argon2_runs(&self) -> u64 {
        self.state.auth.argon2_runs()
    }
}

pub fn cli_in(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SCIM_PUBLIC_URL")
        .output()
        .expect("binary runs")
}

/// Asserts a SCIM Error response and returns its body.
pub async fn assert_scim_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/scim+json"
    );
    let body: Value = response.json().await.expect("JSON error body");
    assert_eq!(
        body["schemas"],
        serde_json::json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    assert_eq!(body["status"], Value::String(status.to_string()));
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "detail present: {body}"
    );
    body
}
