//! Builds the HTTP application: opens the store, binds the listener (port 0 allowed, the real
//! port is read back) and wires routes, middleware and shared state.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, Service, ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode, Uri};
use actix_web::middleware::{self, Next};
use actix_web::{App, HttpServer, web};

use crate::auth::Authenticator;
use crate::auth::gate::Argon2Gate;
use crate::auth::session::AdminAuth;
use crate::config::{Secret, ServeConfig};
use crate::housekeeping::{self, Housekeeper, Schedule};
use crate::limits::{self, connections::ClientConnections};
use crate::method_not_allowed::{GET, only};
use crate::metrics::Metrics;
use crate::store::maintenance::{self, DataDirLock};
use crate::store::{Store, StoreError};
use crate::{health, scim, web as admin_web};

/// How long an idle keep-alive connection is kept: long enough for an identity provider's
/// back-to-back requests, short enough that idle connections do not pile up.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a new connection may take to send its first request head (slow-header clients).
/// actix-http times only a connection's first head; later ones are bounded by `KEEP_ALIVE`
/// until their first byte arrives.
const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a TLS handshake may take.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection is held after its last response while the client still sends or has
/// not read everything (a lingering close), before it is dropped.
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a stop waits for requests in flight before dropping them (systemd's
/// `TimeoutStopSec` is longer).
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);

/// The header a request id travels in (accepted from a proxy when it looks like one).
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id a proxy sent, when it is short and plain, else a new one.
fn request_id(headers: &actix_web::http::header::HeaderMap) -> String {
    headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string())
}

/// Wraps everything but path canonicalisation, so that it sees every response, middleware
/// errors included: one log line per request with the route template (never the raw path with
/// ids or query), status, latency, organization and a request id that is also sent back as
/// X-Request-Id; the request metrics; and the security headers. Headers (Authorization) and
/// bodies are never logged.
async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let seen = Seen {
        started: Instant::now(),
        method: req.method().clone(),
        request_id: request_id(req.headers()),
        route: req.match_pattern(),
        state: req.app_data::<web::Data<AppState>>().cloned(),
    };
    match next.call(req).await {
        Ok(mut res) => {
            let org = res
                .request()
                .match_info()
                .get("org_id")
                .filter(|id| uuid::Uuid::try_parse(id).is_ok())
                .map(str::to_owned);
            let status = res.status();
            seen.record(status, org.as_deref(), res.headers_mut());
            Ok(res)
        }
        // An error has no request left to make a `ServiceResponse` of: its response is
        // rendered here, marked, and handed on for actix to send.
        Err(error) => {
            let mut response = error.error_response();
            let status = response.status();
            seen.record(status, None, response.headers_mut());
            Err(InternalError::from_response(error, response).into())
        }
    }
}

/// What [`observe`] notes of a request before it is handled.
struct Seen {
    started: Instant,
    method: Method,
    request_id: String,
    route: Option<String>,
    state: Option<web::Data<AppState>>,
}

impl Seen {
    /// Logs and counts the answer, and gives it the request id and security headers.
    fn record(self, status: StatusCode, org: Option<&str>, headers: &mut HeaderMap) {
        let route = self.route.as_deref().unwrap_or("(unmatched)");
        let elapsed = self.started.elapsed();
        if let Some(metrics) = self.state.as_ref().and_then(|s| s.metrics.as_ref()) {
            metrics.observe(
                self.method.as_str(),
                route,
                status.as_u16(),
                elapsed.as_secs_f64(),
                org,
            );
        }
        tracing::info!(
            method = %self.method,
            route,
            status = status.as_u16(),
            micros = elapsed.as_micros() as u64,
            org = org.unwrap_or("-"),
            request_id = %self.request_id,
            "request"
        );
        if let Ok(value) = HeaderValue::from_str(&self.request_id) {
            headers.insert(REQUEST_ID.clone(), value);
        }
        for (name, value) in admin_web::SECURITY_HEADERS {
            if !headers.contains_key(&name) {
                headers.insert(name, value);
            }
        }
    }
}

/// State shared by every worker.
pub struct AppState {
    pub store: Store,
    pub auth: Arc<Authenticator>,
    /// The bound on argon2 work every password and key check goes through.
    pub argon2: Arc<Argon2Gate>,
    /// Base URL for `meta.location` and `Location` headers, without a trailing slash.
    pub public_url: String,
    /// Largest request body accepted, in bytes (`--max-body`).
    pub max_body: usize,
    /// Admin sign-in: setup token and rate limit.
    pub admin_auth: AdminAuth,
    /// Whether the session cookie gets `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Prometheus metrics, when `--metrics` is on.
    pub metrics: Option<Metrics>,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Secret>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`--trusted-proxies`); also exempt
    /// from the per-client connection cap.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a request body may take to arrive (`--body-timeout`).
    pub body_timeout: Duration,
    /// The host names the page and the admin API answer for.
    pub served_hosts: admin_web::ServedHosts,
}

impl AppState {
    /// The client's address: the peer, or — when the peer is a trusted proxy — the nearest
    /// address in `X-Forwarded-For` that is not itself a trusted proxy. Used for sign-in and
    /// API-key throttling and in logs.
    pub fn client_ip(&self, req: &actix_web::HttpRequest) -> Option<std::net::IpAddr> {
        let peer = req.peer_addr()?.ip();
        let trusted = |ip: &std::net::IpAddr| self.trusted_proxies.iter().any(|n| n.contains(ip));
        if !trusted(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<std::net::IpAddr> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| part.trim().parse().ok())
            .collect();
        Some(
            forwarded
                .into_iter()
                .rev()
                .find(|ip| !trusted(ip))
                .unwrap_or(peer),
        )
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("could not listen on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    local_addr: SocketAddr,
    state: web::Data<AppState>,
    setup_link: Option<String>,
    serves_tls: bool,
    /// Held while the server runs: `restore` refuses to replace the database under it.
    _data_dir_lock: DataDirLock,
    /// Event retention and scheduled backups; stops with the server.
    _housekeeper: Housekeeper,
}

impl Application {
    pub fn build(config: ServeConfig) -> Result<Application, StartupError> {
        // First, so that a restore cannot swap the file while this server opens it.
        let data_dir_lock = maintenance::lock_data_dir(&config.data_dir)?;
        let store = Store::open(&config.data_dir, config.sync)?;
        let bind_error = |source| StartupError::Bind {
            addr: config.listen.clone(),
            source,
        };
        let listener = TcpListener::bind(&config.listen).map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let tls = config
            .tls
            .as_ref()
            .map(|(cert, key)| crate::tls::server_config(cert, key))
            .transpose()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{local_addr}"));
        store.set_public_url(&public_url)?;

        let housekeeper = housekeeping::start(
            store.clone(),
            Schedule {
                event_retention_days: config.event_retention_days,
                backup_every: config.backup_every,
                backup_keep: config.backup_keep,
                data_dir: config.data_dir.clone(),
            },
        )
        .map_err(|source| StoreError::Io {
            path: config.data_dir.clone(),
            source,
        })?;

        if let Some(password) = &config.initial_admin_password
            && crate::admin::set_admin_password(&store, &password.0, true)?
        {
            tracing::info!("the admin password was set from the configuration");
        }
        let admin_auth = AdminAuth::default();
        let setup_link = match store.admin_password_phc()? {
            Some(_) => None,
            None => Some(format!(
                "{public_url}/setup#token={}",
                admin_auth.issue_setup_token()?
            )),
        };
        let argon2 = Arc::new(Argon2Gate::for_this_machine());
        let served_hosts = admin_web::ServedHosts::new(&public_url, local_addr);
        let state = web::Data::new(AppState {
            store,
            auth: Arc::new(Authenticator::new(Arc::clone(&argon2))),
            argon2,
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            max_body: config.max_body,
            admin_auth,
            metrics: config.metrics.then(Metrics::default),
            metrics_token: config.metrics_token.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            body_timeout: config.body_timeout,
            served_hosts,
        });
        let app_state = state.clone();
        let max_body = config.max_body;
        // Explicit, because actix's connection cap applies per worker.
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let max_connections = limits::connections::fit_to_file_limit(config.max_connections);
        let per_client = ClientConnections::new(config.max_connections_per_client);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(max_body))
                .configure(scim::configure)
                .service(only("/alive", GET, web::get().to(health::alive)))
                .service(only("/now", GET, web::get().to(health::alive)))
                .service(only("/version", GET, web::get().to(health::version)))
                .service(only(
                    "/metrics",
                    GET,
                    web::get().to(crate::metrics::endpoint),
                ))
                .configure(admin_web::configure)
                // gzip when the client asks: a 50,000-member group is ~10 MB of JSON, ~1 MB gzipped.
                .wrap(middleware::Compress::default())
                // Inside the body deadline, which closes connections answered before their
                // body arrived.
                .wrap(middleware::from_fn(limits::connections::refuse_over_cap))
                .wrap(middleware::from_fn(limits::body::deadline))
                .wrap_fn(|mut req, srv| {
                    // Runs before routing. HEAD is answered as GET: the HTTP layer decided
                    // from the original method that no body is sent (RFC 9110 §9.3.2).
                    if req.method() == Method::HEAD {
                        req.head_mut().method = Method::GET;
                    }
                    srv.call(req)
                })
                .wrap(middleware::from_fn(observe))
                .wrap_fn(|mut req, srv| {
                    // Canonical SCIM endpoint names (see scim::routing), before `observe` reads
                    // the route template.
                    if let Some(path) = scim::canonical_path(req.path()) {
                        let uri = match req.query_string() {
                            "" => path,
                            query => format!("{path}?{query}"),
                        };
                        if let Ok(uri) = uri.parse::<Uri>() {
                            req.match_info_mut().get_mut().update(&uri);
                            req.head_mut().uri = uri;
                        }
                    }
                    srv.call(req)
                })
        })
        .workers(workers)
        .max_connections((max_connections / workers).max(1))
        .keep_alive(KEEP_ALIVE)
        .client_request_timeout(HEAD_TIMEOUT)
        .tls_handshake_timeout(TLS_HANDSHAKE_TIMEOUT)
        .client_disconnect_timeout(DISCONNECT_TIMEOUT)
        .shutdown_timeout(SHUTDOWN_TIMEOUT.as_secs())
        .on_connect(move |connection, data| per_client.on_connect(connection, data));
        let serves_tls = tls.is_some();
        let server = match tls {
            Some(tls) => server.listen_rustls_0_23(listener, tls),
            None => server.listen(listener),
        }
        .map_err(bind_error)?
        .run();
        Ok(Application {
            server,
            local_addr,
            state,
            setup_link,
            serves_tls,
            _data_dir_lock: data_dir_lock,
            _housekeeper: housekeeper,
        })
    }

    /// The one-time link that lets the first visitor choose the admin password, while none is
    /// set (printed in the log by `serve`).
    pub fn setup_link(&self) -> Option<&str> {
        self.setup_link.as_deref()
    }

    /// Whether the server speaks HTTPS itself.
    pub fn serves_tls(&self) -> bool {
        self.serves_tls
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.local_addr.port()
    }

    /// The shared state (for tests and embedding).
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// A handle that stops the server gracefully.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM or the handle).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
