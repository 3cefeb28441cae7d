//! `serve`'s settings and the settings every command shares: their flags, `SCIM_*` variables
//! and `--config` keys, picked in layers into the validated [`ServeConfig`].

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};

use crate::config::{
    ConfigError, DEFAULT_BACKUP_KEEP, DEFAULT_BODY_TIMEOUT, DEFAULT_EVENT_RETENTION_DAYS,
    DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT, Given, Layers,
    LogFormat, Networks, Secret, ServeConfig, ShowValue, Source, connection_count,
    parse_body_timeout, parse_connection_count, parse_enum, parse_interval, parse_networks,
};
use crate::store::SyncMode;

/// Default `--data-dir`.
const DEFAULT_DATA_DIR: &str = "./data";
/// Default `--listen`.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    /// Address and port to listen on [default: 127.0.0.1:8080]
    #[arg(long, env = "SCIM_LISTEN")]
    listen: Option<String>,
    /// Durability of each commit: `normal` survives a crash of the process, `full` also a power
    /// loss (one fsync per write) [default: normal]
    #[arg(long, env = "SCIM_SYNC", value_enum)]
    sync: Option<SyncSetting>,
    /// Largest request body accepted, in bytes [default: 1048576]
    #[arg(long, env = "SCIM_MAX_BODY")]
    max_body: Option<usize>,
    /// Log filter, e.g. `info`, `warn` or `scim_appliance=debug` [default: info]
    #[arg(long, env = "SCIM_LOG_LEVEL")]
    log_level: Option<String>,
    /// `text` (one readable line per event) or `json` (one object per line) [default: text]
    #[arg(long, env = "SCIM_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    /// Delete events older than this many days (checked hourly); 0 keeps them forever
    /// [default: 365]
    #[arg(long, env = "SCIM_EVENT_RETENTION_DAYS")]
    event_retention_days: Option<u32>,
    /// Take a backup into <data-dir>/backups this often, e.g. `24h`, `30m`, `7d`.
    #[arg(long, env = "SCIM_BACKUP_EVERY", value_parser = parse_interval)]
    backup_every: Option<std::time::Duration>,
    /// How many scheduled backups to keep [default: 7]
    #[arg(long, env = "SCIM_BACKUP_KEEP", value_parser = clap::value_parser!(u32).range(1..))]
    backup_keep: Option<u32>,
    /// The admin password to set at start if none is set yet (prefer the _FILE variant).
    #[arg(long, env = "SCIM_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// A file whose first line is the admin password to set at start if none is set yet.
    #[arg(long, env = "SCIM_ADMIN_PASSWORD_FILE")]
    admin_password_file: Option<PathBuf>,
    /// Serve Prometheus metrics at /metrics [default: false]
    #[arg(long, env = "SCIM_METRICS", num_args = 0..=1, default_missing_value = "true")]
    metrics: Option<bool>,
    /// Require `Authorization: Bearer <token>` on /metrics (prefer the _FILE variant).
    #[arg(long, env = "SCIM_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// A file whose first line is the /metrics bearer token.
    #[arg(long, env = "SCIM_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "SCIM_TLS_CERT")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "SCIM_TLS_KEY")]
    tls_key: Option<PathBuf>,
    /// Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For header
    /// names the real client, for throttling and logs, e.g. `127.0.0.1,::1`.
    #[arg(long, env = "SCIM_TRUSTED_PROXIES", value_parser = parse_networks_arg)]
    trusted_proxies: Option<Networks>,
    /// Longest a request body may take to arrive, e.g. `10s`; a slower one gets 408 and its
    /// connection is closed [default: 10s]
    #[arg(long, env = "SCIM_BODY_TIMEOUT", value_parser = parse_body_timeout)]
    body_timeout: Option<std::time::Duration>,
    /// Most connections served at once; lowered to fit the open-file limit [default: 1024]
    #[arg(long, env = "SCIM_MAX_CONNECTIONS", value_parser = parse_connection_count)]
    max_connections: Option<usize>,
    /// Most connections one client address (an IPv6 /64) may hold; further ones get 503.
    /// --trusted-proxies are exempt [default: 64]
    #[arg(long, env = "SCIM_MAX_CONNECTIONS_PER_CLIENT", value_parser = parse_connection_count)]
    max_connections_per_client: Option<usize>,
}

/// `--sync`'s values: the command line's names for [`SyncMode`], so the store needs no clap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SyncSetting {
    /// `synchronous=NORMAL`: in WAL mode a commit survives a crash of the process, but the last
    /// commits before a power loss or kernel crash may roll back (the file stays consistent).
    Normal,
    /// `synchronous=FULL`: every commit is fsynced before it is acknowledged; survives power
    /// loss, at the cost of one fsync per write.
    Full,
}

impl From<SyncSetting> for SyncMode {
    fn from(setting: SyncSetting) -> SyncMode {
        match setting {
            SyncSetting::Normal => SyncMode::Normal,
            SyncSetting::Full => SyncMode::Full,
        }
    }
}

impl ShowValue for SyncSetting {
    fn show(&self) -> String {
        match self {
            SyncSetting::Normal => "normal",
            SyncSetting::Full => "full",
        }
        .to_owned()
    }
}

fn parse_networks_arg(text: &str) -> Result<Networks, String> {
    parse_networks(text).map(Networks)
}

/// Where a flag's value came from: the command line or its `SCIM_*` variable.
fn given<T>(matches: &[Option<&ArgMatches>], id: &str, value: Option<T>) -> Given<T> {
    let from_env = matches
        .iter()
        .flatten()
        .find_map(|m| match m.try_get_raw(id) {
            Ok(Some(_)) => m.value_source(id),
            _ => None,
        })
        == Some(ValueSource::EnvVariable);
    let source = if from_env {
        Source::Env(format!("SCIM_{}", id.to_uppercase()))
    } else {
        Source::Flag(format!("--{}", id.replace('_', "-")))
    };
    Given { value, source }
}

/// Settings every command shares: the data directory and the public URL.
pub(super) struct Common {
    pub data_dir: PathBuf,
    pub public_url: Option<String>,
}

/// The shared settings: `--data-dir` and `--public-url`.
pub(super) fn pick_common(
    layers: &mut Layers,
    matches: &[Option<&ArgMatches>],
    data_dir: Option<PathBuf>,
    public_url: Option<String>,
) -> Result<Common, ConfigError> {
    Ok(Common {
        data_dir: layers.pick_or(
            "data_dir",
            given(matches, "data_dir", data_dir),
            |f| f.data_dir.clone().map(Ok),
            PathBuf::from(DEFAULT_DATA_DIR),
        )?,
        public_url: layers.pick(
            "public_url",
            given(matches, "public_url", public_url),
            |f| f.public_url.clone().map(Ok),
        )?,
    })
}

/// `serve`'s configuration from its layers, with the log level and format.
pub(super) fn serve_config(
    layers: &mut Layers,
    args: ServeArgs,
    matches: &[Option<&ArgMatches>],
    common: &Common,
) -> Result<(ServeConfig, String, LogFormat), Box<dyn std::error::Error>> {
    let listen = layers.pick_or(
        "listen",
        given(matches, "listen", args.listen),
        |f| f.listen.clone().map(Ok),
        DEFAULT_LISTEN.to_owned(),
    )?;
    let sync = layers.pick_or(
        "sync",
        given(matches, "sync", args.sync),
        |f| f.sync.as_deref().map(parse_enum),
        SyncSetting::Normal,
    )?;
    let max_body = layers.pick_or(
        "max_body",
        given(matches, "max_body", args.max_body),
        |f| f.max_body.map(Ok),
        DEFAULT_MAX_BODY,
    )?;
    let log_level = layers.pick_or(
        "log_level",
        given(matches, "log_level", args.log_level),
        |f| f.log_level.clone().map(Ok),
        "info".to_owned(),
    )?;
    let log_format = layers.pick_or(
        "log_format",
        given(matches, "log_format", args.log_format),
        |f| f.log_format.as_deref().map(parse_enum),
        LogFormat::Text,
    )?;
    let retention = layers.pick_or(
        "event_retention_days",
        given(matches, "event_retention_days", args.event_retention_days),
        |f| f.event_retention_days.map(Ok),
        DEFAULT_EVENT_RETENTION_DAYS,
    )?;
    let backup_every = layers.pick(
        "backup_every",
        given(matches, "backup_every", args.backup_every),
        |f| f.backup_every.as_deref().map(parse_interval),
    )?;
    let backup_keep = layers.pick_or(
        "backup_keep",
        given(matches, "backup_keep", args.backup_keep),
        |f| f.backup_keep.map(Ok),
        DEFAULT_BACKUP_KEEP,
    )?;
    let admin_password = layers.secret(
        "admin_password",
        given(matches, "admin_password", args.admin_password),
        given(matches, "admin_password_file", args.admin_password_file),
        |f| (f.admin_password.clone(), f.admin_password_file.clone()),
    )?;
    let metrics = layers.pick_or(
        "metrics",
        given(matches, "metrics", args.metrics),
        |f| f.metrics.map(Ok),
        false,
    )?;
    let metrics_token = layers.secret(
        "metrics_token",
        given(matches, "metrics_token", args.metrics_token),
        given(matches, "metrics_token_file", args.metrics_token_file),
        |f| (f.metrics_token.clone(), f.metrics_token_file.clone()),
    )?;
    let tls_cert = layers.pick("tls_cert", given(matches, "tls_cert", args.tls_cert), |f| {
        f.tls_cert.clone().map(Ok)
    })?;
    let tls_key = layers.pick("tls_key", given(matches, "tls_key", args.tls_key), |f| {
        f.tls_key.clone().map(Ok)
    })?;
    let trusted_proxies = layers.pick(
        "trusted_proxies",
        given(matches, "trusted_proxies", args.trusted_proxies),
        |f| {
            f.trusted_proxies
                .as_ref()
                .map(|list| parse_networks(&list.join(",")).map(Networks))
        },
    )?;
    let body_timeout = layers.pick_or(
        "body_timeout",
        given(matches, "body_timeout", args.body_timeout),
        |f| f.body_timeout.as_deref().map(parse_body_timeout),
        DEFAULT_BODY_TIMEOUT,
    )?;
    let max_connections = layers.pick_or(
        "max_connections",
        given(matches, "max_connections", args.max_connections),
        |f| f.max_connections.map(connection_count),
        DEFAULT_MAX_CONNECTIONS,
    )?;
    let max_connections_per_client = layers.pick_or(
        "max_connections_per_client",
        given(
            matches,
            "max_connections_per_client",
            args.max_connections_per_client,
        ),
        |f| f.max_connections_per_client.map(connection_count),
        DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    )?;
    let tls = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let mut config = ServeConfig::new(
        listen,
        common.data_dir.clone(),
        common.public_url.as_deref(),
        sync.into(),
        max_body,
    )?;
    config.event_retention_days = Some(retention).filter(|d| *d > 0);
    config.backup_every = backup_every;
    config.backup_keep = backup_keep.max(1);
    config.initial_admin_password = admin_password.map(Secret);
    config.metrics = metrics;
    config.tls = tls;
    config.trusted_proxies = trusted_proxies.map(|n| n.0).unwrap_or_default();
    config.metrics_token = metrics_token.map(Secret);
    config.body_timeout = body_timeout;
    config.max_connections = max_connections;
    config.max_connections_per_client = max_connections_per_client;
    Ok((config, log_level, log_format))
}
