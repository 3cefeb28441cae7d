//! Starts the server: takes the data directory's lock, opens the store, starts housekeeping
//! and the writer of API keys' "last used" times, builds the shared [`AppState`], and binds every listener (port 0 allowed, the real port is
//! read back) with the connection-level limits. What a request meets once accepted — routes and
//! middleware — is [`crate::http`]; the LDAP listeners ([`crate::ldap`], with `--ldap-listen`
//! and `--ldaps-listen`) bind here too, and are served on their own thread.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{HttpServer, web};

use crate::auth::Authenticator;
use crate::auth::gate::Argon2Gate;
use crate::auth::session::AdminAuth;
use crate::config::ServeConfig;
use crate::delivery::{self, DeliverySettings, DeliveryWorker, Sender, SenderError};
use crate::housekeeping::{self, Housekeeper, KeyUsageFlusher, Schedule};
use crate::http::limits::connections::{self, ClientConnections};
use crate::ldap::{LdapServer, Listeners};
use crate::metrics::Metrics;
use crate::state::{AppState, ServedHosts};
use crate::store::maintenance::{self, DataDirLock};
use crate::store::{Store, StoreError};

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

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("could not set the admin password from the configuration")]
    AdminPassword(#[from] crate::admin::ActionError),
    #[error("could not make the setup link")]
    SetupToken(#[from] crate::auth::api_key::KeyError),
    #[error("could not start the housekeeping thread")]
    Housekeeping(#[source] std::io::Error),
    #[error("could not start the webhook delivery worker")]
    Deliveries(#[source] std::io::Error),
    #[error(transparent)]
    WebhookClient(#[from] SenderError),
    #[error("could not start the thread recording when API keys were used")]
    KeyUsage(#[source] std::io::Error),
    #[error("could not start the LDAP listener")]
    Ldap(#[source] std::io::Error),
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
    /// Webhook deliveries; stops with the server.
    _deliveries: DeliveryWorker,
    /// Writes when API keys were last used; writes once more when the server has stopped.
    key_usage: KeyUsageFlusher,
    /// The LDAP listeners, when `--ldap-listen` or `--ldaps-listen` is given; stop with the
    /// server.
    ldap: Option<LdapServer>,
}

impl Application {
    pub fn build(config: ServeConfig) -> Result<Application, StartupError> {
        // First, so that a restore cannot swap the file while this server opens it.
        config.check()?;
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
        let ldap_listeners = bind_ldap(&config, tls.as_ref())?;
        let ldap_addresses = ldap_listeners.addresses().map_err(StartupError::Ldap)?;
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
        .map_err(StartupError::Housekeeping)?;

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
        let served_hosts = ServedHosts::new(&public_url, local_addr);
        let metrics = config.metrics.then(Metrics::default);
        let sender = Sender::new(metrics.as_ref().map(Metrics::delivery))?;
        let deliveries = delivery::start(
            store.clone(),
            sender.clone(),
            DeliverySettings {
                disable_after: config.webhook_disable_after,
            },
        )
        .map_err(StartupError::Deliveries)?;
        let auth = Arc::new(Authenticator::new(Arc::clone(&argon2)));
        let key_usage = housekeeping::start_key_usage_flush(
            Arc::clone(&auth),
            store.clone(),
            config.key_usage_flush_every,
        )
        .map_err(StartupError::KeyUsage)?;
        let state = web::Data::new(AppState {
            store,
            auth,
            argon2,
            secure_cookies: public_url.starts_with("https://"),
            public_url,
            max_body: config.max_body,
            admin_auth,
            metrics,
            metrics_token: config.metrics_token.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            body_timeout: config.body_timeout,
            served_hosts,
            webhooks: sender,
            ldap_listeners: ldap_addresses,
        });
        let ldap = start_ldap(ldap_listeners, state.clone().into_inner())?;
        let app_state = state.clone();
        // Explicit, because actix's connection cap applies per worker.
        let workers = std::thread::available_parallelism().map_or(1, usize::from);
        let max_connections = connections::fit_to_file_limit(config.max_connections);
        let per_client = ClientConnections::new(config.max_connections_per_client);
        let server = HttpServer::new(move || crate::http::app(app_state.clone()))
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
            _deliveries: deliveries,
            key_usage,
            ldap,
        })
    }

    /// The address LDAP is served on, when it is.
    pub fn ldap_addr(&self) -> Option<SocketAddr> {
        self.ldap.as_ref().and_then(LdapServer::ldap_addr)
    }

    /// The address LDAPS is served on, when it is.
    pub fn ldaps_addr(&self) -> Option<SocketAddr> {
        self.ldap.as_ref().and_then(LdapServer::ldaps_addr)
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

    /// Serves until stopped (SIGINT/SIGTERM or the handle), then writes the keys' last uses.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application {
            server,
            key_usage,
            ldap,
            ..
        } = self;
        let served = server.await;
        drop(ldap);
        drop(key_usage);
        served
    }
}

/// Binds the LDAP listeners the configuration asks for; LDAPS with a copy of the HTTPS
/// certificate's configuration (actix sets its own ALPN protocols on the HTTPS one).
fn bind_ldap(
    config: &ServeConfig,
    tls: Option<&rustls::ServerConfig>,
) -> Result<Listeners, StartupError> {
    let bind = |addr: &str| {
        TcpListener::bind(addr).map_err(|source| StartupError::Bind {
            addr: addr.to_owned(),
            source,
        })
    };
    let ldap = config.ldap_listen.as_deref().map(bind).transpose()?;
    let ldaps = match (config.ldaps_listen.as_deref(), tls) {
        (Some(addr), Some(tls)) => Some((bind(addr)?, Arc::new(tls.clone()))),
        // `ServeConfig::check` refused LDAPS without a certificate.
        _ => None,
    };
    Ok(Listeners { ldap, ldaps })
}

/// Serves LDAP on the bound listeners, if there are any.
fn start_ldap(
    listeners: Listeners,
    state: Arc<AppState>,
) -> Result<Option<LdapServer>, StartupError> {
    if listeners.ldap.is_none() && listeners.ldaps.is_none() {
        return Ok(None);
    }
    let server = crate::ldap::start(state, listeners).map_err(StartupError::Ldap)?;
    if let Some(addr) = server.ldap_addr() {
        tracing::info!("LDAP listening on ldap://{addr}");
    }
    if let Some(addr) = server.ldaps_addr() {
        tracing::info!("LDAPS listening on ldaps://{addr}");
    }
    Ok(Some(server))
}
