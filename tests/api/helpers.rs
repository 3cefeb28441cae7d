//! The test harness: every test gets its own data directory and a real server on port 0.

use std::path::Path;
use std::process::{Command, Output};

use scim_appliance::config::ServeConfig;
use scim_appliance::startup::Application;
use scim_appliance::state::AppState;
use scim_appliance::store::SyncMode;
use serde_json::Value;
use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_scim-appliance");

/// A running server with its own temporary data directory.
pub struct TestApp {
    pub address: String,
    /// The one-time admin setup link `serve` would print, while no admin password is set.
    pub setup_link: Option<String>,
    pub data_dir: TempDir,
    pub client: reqwest::Client,
    pub state: actix_web::web::Data<AppState>,
    /// Where LDAP is served, when the configuration asked for it.
    pub ldap_addr: Option<std::net::SocketAddr>,
    /// Where LDAPS is served, likewise.
    pub ldaps_addr: Option<std::net::SocketAddr>,
    handle: actix_web::dev::ServerHandle,
    /// The task running the server; it owns the data-directory lock until it ends.
    running: tokio::task::JoinHandle<std::io::Result<()>>,
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
    spawn_app_with(data_dir, None).await
}

/// Starts a server with an explicit `--public-url`.
pub async fn spawn_app_with(data_dir: TempDir, public_url: Option<&str>) -> TestApp {
    spawn_app_configured(data_dir, public_url, |_| {}).await
}

/// Starts a server whose configuration `adjust` changes first.
pub async fn spawn_app_configured(
    data_dir: TempDir,
    public_url: Option<&str>,
    adjust: impl FnOnce(&mut ServeConfig),
) -> TestApp {
    let mut config = ServeConfig::new(
        "127.0.0.1:0".into(),
        data_dir.path().to_owned(),
        public_url,
        SyncMode::Normal,
        1024 * 1024,
    )
    .expect("config");
    adjust(&mut config);
    // With TLS on, SCIM URLs say https: the client trusts the server's certificate.
    let mut client = reqwest::Client::builder();
    if let Some((cert, _)) = &config.tls {
        let pem = std::fs::read(cert).expect("the certificate");
        for cert in reqwest::Certificate::from_pem_bundle(&pem).expect("PEM") {
            client = client.add_root_certificate(cert);
        }
    }
    let app = Application::build(config).expect("server builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state();
    let ldap_addr = app.ldap_addr();
    let ldaps_addr = app.ldaps_addr();
    let handle = app.handle();
    let setup_link = app.setup_link().map(str::to_owned);
    let running = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        setup_link,
        data_dir,
        client: client.build().expect("client"),
        state,
        ldap_addr,
        ldaps_addr,
        handle,
        running,
    }
}

impl TestApp {
    /// Stops the server gracefully and hands back the data directory.
    pub async fn stop(self) -> TempDir {
        self.handle.stop(true).await;
        // Wait until the server (and with it the data-directory lock) is gone, so that the
        // directory can be served again at once.
        let _ = self.running.await;
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
        status_and_json(self.scim(org, method, path, body).await).await
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
        self.state.argon2.runs()
    }
}

/// The admin password the helpers set.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// A browser-like client of the admin API: its own cookie jar and the session's CSRF token.
pub struct AdminClient {
    pub client: reqwest::Client,
    pub csrf: String,
    pub base: String,
}

impl TestApp {
    /// The setup token of [`TestApp::setup_link`].
    pub fn setup_token(&self) -> String {
        let link = self.setup_link.as_deref().expect("no admin password yet");
        link.split_once("#token=")
            .expect("token in link")
            .1
            .to_owned()
    }

    /// A client with its own cookie jar that has not signed in.
    pub fn browser(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .cookie_store(true)
            .build()
            .expect("client")
    }

    /// Completes the first-run setup with [`ADMIN_PASSWORD`] and returns the signed-in client.
    pub async fn admin(&self) -> AdminClient {
        let client = self.browser();
        let response = client
            .post(self.url("/api/admin/setup"))
            .json(&serde_json::json!({"token": self.setup_token(), "password": ADMIN_PASSWORD}))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 200, "setup");
        let session: Value = response.json().await.expect("JSON");
        AdminClient {
            client,
            csrf: session["csrf_token"].as_str().expect("csrf").to_owned(),
            base: self.url("/api/admin"),
        }
    }

    /// Signs in a new client with `password`.
    pub async fn sign_in(&self, password: &str) -> (u16, Option<AdminClient>) {
        let client = self.browser();
        let response = client
            .post(self.url("/api/admin/login"))
            .json(&serde_json::json!({ "password": password }))
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("JSON");
        let admin = body["csrf_token"].as_str().map(|csrf| AdminClient {
            client,
            csrf: csrf.to_owned(),
            base: self.url("/api/admin"),
        });
        (status, admin)
    }
}

impl AdminClient {
    /// `GET /api/admin{path}`: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request");
        status_and_json(response).await
    }

    /// A state-changing request with the CSRF token and, when given, a JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .header("X-CSRF-Token", &self.csrf);
        if let Some(body) = body {
            request = request.json(&body);
        }
        status_and_json(request.send().await.expect("request")).await
    }
}

/// Status and JSON body (Null when empty).
pub async fn status_and_json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, json)
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

/// Starts the real binary's `serve` on port 0; returns it, its address, and a thread that
/// collects its log lines until it exits.
pub fn serve_binary(
    data_dir: &Path,
    extra: &[&str],
) -> (
    std::process::Child,
    String,
    std::thread::JoinHandle<Vec<String>>,
) {
    serve_binary_until(data_dir, extra, "listening on http://")
}

/// [`serve_binary`], returning what follows `marker` on the first log line that has it (up to
/// a `;`) instead of the HTTP address.
pub fn serve_binary_until(
    data_dir: &Path,
    extra: &[&str],
    marker: &str,
) -> (
    std::process::Child,
    String,
    std::thread::JoinHandle<Vec<String>>,
) {
    use std::io::BufRead;

    let mut server = std::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env_remove("SCIM_LOG")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let log = server.stderr.take().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let marker = marker.to_owned();
    let log_reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in std::io::BufReader::new(log).lines().map_while(Result::ok) {
            if let Some(rest) = line.split(marker.as_str()).nth(1) {
                let addr = rest.split(';').next().unwrap_or_default().to_owned();
                let _ = addr_tx.send(addr);
            }
            lines.push(line);
        }
        lines
    });
    let addr = addr_rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .unwrap();
    (server, addr, log_reader)
}

/// A server certificate for `127.0.0.1` and `localhost` issued by a test CA, in PEM files.
pub struct TestCertificate {
    /// The server's certificate chain: its own certificate, then the CA's.
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
    /// The CA's certificate alone, for clients that read trust from a file.
    pub ca: std::path::PathBuf,
    /// The CA's certificate's PEM, for clients to trust.
    pub pem: String,
}

/// Writes a new [`TestCertificate`] into `dir`: a CA and a server certificate it issued, as a
/// real deployment has, so that every client (rustls, reqwest, OpenLDAP's GnuTLS) trusts the
/// CA the usual way.
pub fn test_certificate(dir: &Path) -> TestCertificate {
    let mut ca_params = rcgen::CertificateParams::new(Vec::new()).expect("CA parameters");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "scim-appliance test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = rcgen::KeyPair::generate().expect("a key");
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
            .expect("parameters");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "localhost");
    params.use_authority_key_identifier_extension = true;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = rcgen::KeyPair::generate().expect("a key");
    let leaf = params
        .signed_by(&key, &issuer)
        .expect("the server certificate");
    let paths = (
        dir.join("cert.pem"),
        dir.join("key.pem"),
        dir.join("ca.pem"),
    );
    std::fs::write(&paths.0, format!("{}{}", leaf.pem(), ca.pem())).expect("written");
    std::fs::write(&paths.1, key.serialize_pem()).expect("written");
    std::fs::write(&paths.2, ca.pem()).expect("written");
    TestCertificate {
        cert: paths.0,
        key: paths.1,
        ca: paths.2,
        pem: ca.pem(),
    }
}

/// What `config show --json` says of setting `name` (its value and where it came from), run
/// with `args`, the configuration file `file` and the environment variable `variable` set to
/// `env` (or unset).
pub fn config_shown(
    name: &str,
    variable: &str,
    args: &[&str],
    env: Option<&str>,
    file: &str,
) -> (Value, String) {
    let dir = TempDir::new().expect("temp dir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, file).expect("written");
    let mut command = Command::new(BIN);
    command
        .args(["config", "show", "--json", "--config"])
        .arg(&config)
        .args(args)
        .env_remove(variable);
    if let Some(value) = env {
        command.env(variable, value);
    }
    let out = command.output().expect("runs");
    assert!(out.status.success(), "{out:?}");
    let settings: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON");
    let setting = settings
        .into_iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed"));
    (
        setting["value"].clone(),
        setting["source"].as_str().unwrap_or_default().to_owned(),
    )
}
