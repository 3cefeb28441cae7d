//! The settings, each declared once in the table below: its flag with the help text, its
//! `SCIM_*` variable, its `--config` key, its type and default. Each is picked from the flag,
//! else the variable, else the file, else the default; its source is kept for `config show`.
//!
//! To add a `serve` setting:
//! 1. add an entry to `ServeArgs => ServeSettings` below, modelled on a similar one;
//! 2. add its field to [`ServeConfig`] (with its default in `ServeConfig::new`);
//! 3. copy it across in [`serve_config`] (the compiler flags a picked value left unread).

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args};
use serde::Deserialize;

use crate::config::{
    ConfigError, DEFAULT_BACKUP_KEEP, DEFAULT_BODY_TIMEOUT, DEFAULT_EVENT_RETENTION_DAYS,
    DEFAULT_MAX_BODY, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    DEFAULT_WEBHOOK_DISABLE_AFTER, Given, Layers, LogFormat, Networks, Secret, ServeConfig,
    ShowValue, Source, connection_count, parse_body_timeout, parse_connection_count, parse_enum,
    parse_interval, parse_networks,
};
use crate::store::SyncMode;

/// Declares settings in sections `Args => Picked { entries }`. Each section becomes `Args`
/// (clap: an `Option` per flag, its doc comment the help) and `Picked` (a field per setting:
/// `T` when it has a default, else `Option<T>`), joined by `Args::pick`; all sections together
/// become [`FileConfig`], the keys of the `--config` file.
///
/// An entry is `name: T [= default] [, toml FileType => parser];` where the parser turns the
/// file's value into `T` (without one the file holds a `T`), or, for a secret given directly or
/// as the first line of a file, `name: String, secret, or <its _file flag>;`.
macro_rules! settings {
    ($(
        $(#[doc = $section_doc:literal])*
        $args:ident => $picked:ident {
            $(
                $(#[doc = $doc:literal])*
                #[arg($($arg:tt)*)]
                $name:ident: $ty:ty $(= $default:expr)?
                $(, toml $toml_ty:ty => $parse:expr)?
                $(, secret, or
                    $(#[doc = $file_doc:literal])*
                    #[arg($($file_arg:tt)*)]
                    $file:ident)?;
            )*
        }
    )*) => {
        $(
            #[derive(Debug, Args)]
            pub(super) struct $args {
                $(
                    $(#[doc = $doc])*
                    #[arg($($arg)*)]
                    $name: Option<$ty>,
                    $(
                        $(#[doc = $file_doc])*
                        #[arg($($file_arg)*)]
                        $file: Option<PathBuf>,
                    )?
                )*
            }

            $(#[doc = $section_doc])*
            pub(super) struct $picked {
                $(pub(super) $name: picked_type!($ty $(, $default)?),)*
            }

            impl $args {
                /// Picks each setting from its layers, in the table's order (that of
                /// `config show`).
                pub(super) fn pick(
                    self,
                    layers: &mut Layers<FileConfig>,
                    matches: &[Option<&ArgMatches>],
                ) -> Result<$picked, ConfigError> {
                    let $args { $($name, $($file,)?)* } = self;
                    Ok($picked {
                        $($name: pick!(
                            layers, matches, $name
                            [$($default)?] [$($parse)?] [$($file)?]
                        ),)*
                    })
                }
            }
        )*

        /// The keys of the `--config` TOML file, the settings' names and no others
        /// (`listen = "0.0.0.0:8080"`, `backup_every = "24h"`, `admin_password_file = "/x"`).
        #[derive(Debug, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct FileConfig {
            $($(
                $name: Option<file_type!($ty $(, $toml_ty)?)>,
                $($file: Option<PathBuf>,)?
            )*)*
        }
    };
}

/// A picked setting's type: its own with a default, else optional.
macro_rules! picked_type {
    ($ty:ty) => { Option<$ty> };
    ($ty:ty, $default:expr) => { $ty };
}

/// A setting's type in the `--config` file: its own unless the entry names another.
macro_rules! file_type {
    ($ty:ty) => {
        $ty
    };
    ($ty:ty, $toml_ty:ty) => {
        $toml_ty
    };
}

/// Picks one setting: a secret, or a value with or without a default.
macro_rules! pick {
    ($layers:ident, $matches:ident, $name:ident [] [] [$file:ident]) => {
        $layers.secret(
            stringify!($name),
            given($matches, stringify!($name), $name),
            given($matches, stringify!($file), $file),
            |f| (f.$name.take(), f.$file.take()),
        )?
    };
    ($layers:ident, $matches:ident, $name:ident [] [$($parse:expr)?] []) => {
        $layers.pick(
            stringify!($name),
            given($matches, stringify!($name), $name),
            |f| f.$name.take().map(parser!($($parse)?)),
        )?
    };
    ($layers:ident, $matches:ident, $name:ident [$default:expr] [$($parse:expr)?] []) => {
        $layers.pick_or(
            stringify!($name),
            given($matches, stringify!($name), $name),
            |f| f.$name.take().map(parser!($($parse)?)),
            $default,
        )?
    };
}

/// An entry's parser for its file value; without one the value is taken as it is.
macro_rules! parser {
    () => {
        Ok
    };
    ($parse:expr) => {
        $parse
    };
}

settings! {
    /// The settings every command shares (flags given before or after the subcommand).
    CommonArgs => Common {
        /// Directory holding the database file scim-appliance.db [default: ./data]
        #[arg(long, env = "SCIM_DATA_DIR", global = true)]
        data_dir: PathBuf = PathBuf::from(DEFAULT_DATA_DIR);

        /// Base URL identity providers reach this server at (shown in SCIM URLs and meta.location).
        /// `serve` defaults to http://<listen>; other commands to what `serve` last used.
        #[arg(long, env = "SCIM_PUBLIC_URL", global = true)]
        public_url: String;
    }

    /// `serve`'s settings, before [`serve_config`] checks and combines them.
    ServeArgs => ServeSettings {
        /// Address and port to listen on [default: 127.0.0.1:8080]
        #[arg(long, env = "SCIM_LISTEN")]
        listen: String = DEFAULT_LISTEN.to_owned();

        /// Durability of each commit: `normal` survives a crash of the process, `full` also a power
        /// loss (one fsync per write) [default: normal]
        #[arg(long, env = "SCIM_SYNC", value_enum)]
        sync: SyncSetting = SyncSetting::Normal, toml String => |s| parse_enum(&s);

        /// Largest request body accepted, in bytes [default: 1048576]
        #[arg(long, env = "SCIM_MAX_BODY")]
        max_body: usize = DEFAULT_MAX_BODY;

        /// Log filter, e.g. `info`, `warn` or `scim_appliance=debug` [default: info]
        #[arg(long, env = "SCIM_LOG_LEVEL")]
        log_level: String = "info".to_owned();

        /// `text` (one readable line per event) or `json` (one object per line) [default: text]
        #[arg(long, env = "SCIM_LOG_FORMAT", value_enum)]
        log_format: LogFormat = LogFormat::Text, toml String => |s| parse_enum(&s);

        /// Delete events older than this many days (checked hourly); 0 keeps them forever
        /// [default: 365]
        #[arg(long, env = "SCIM_EVENT_RETENTION_DAYS")]
        event_retention_days: u32 = DEFAULT_EVENT_RETENTION_DAYS;

        /// Take a backup into <data-dir>/backups this often, e.g. `24h`, `30m`, `7d`.
        #[arg(long, env = "SCIM_BACKUP_EVERY", value_parser = parse_interval)]
        backup_every: std::time::Duration, toml String => |s| parse_interval(&s);

        /// How many scheduled backups to keep [default: 7]
        #[arg(long, env = "SCIM_BACKUP_KEEP", value_parser = clap::value_parser!(u32).range(1..))]
        backup_keep: u32 = DEFAULT_BACKUP_KEEP;

        /// Disable a webhook endpoint whose deliveries have failed for this long, e.g. `5d`,
        /// `12h` (its backlog is kept) [default: 5d]
        #[arg(long, env = "SCIM_WEBHOOK_DISABLE_AFTER", value_parser = parse_interval)]
        webhook_disable_after: std::time::Duration = DEFAULT_WEBHOOK_DISABLE_AFTER,
            toml String => |s| parse_interval(&s);

        /// The admin password to set at start if none is set yet (prefer the _FILE variant).
        #[arg(long, env = "SCIM_ADMIN_PASSWORD", hide_env_values = true)]
        admin_password: String, secret, or
        /// A file whose first line is the admin password to set at start if none is set yet.
        #[arg(long, env = "SCIM_ADMIN_PASSWORD_FILE")]
        admin_password_file;

        /// Serve Prometheus metrics at /metrics [default: false]
        #[arg(long, env = "SCIM_METRICS", num_args = 0..=1, default_missing_value = "true")]
        metrics: bool = false;

        /// Require `Authorization: Bearer <token>` on /metrics (prefer the _FILE variant).
        #[arg(long, env = "SCIM_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: String, secret, or
        /// A file whose first line is the /metrics bearer token.
        #[arg(long, env = "SCIM_METRICS_TOKEN_FILE")]
        metrics_token_file;

        /// Serve HTTPS with this PEM certificate chain (with --tls-key).
        #[arg(long, env = "SCIM_TLS_CERT")]
        tls_cert: PathBuf;

        /// The PEM private key of --tls-cert.
        #[arg(long, env = "SCIM_TLS_KEY")]
        tls_key: PathBuf;

        /// Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For header
        /// names the real client, for throttling and logs, e.g. `127.0.0.1,::1`.
        #[arg(long, env = "SCIM_TRUSTED_PROXIES", value_parser = parse_networks_arg)]
        trusted_proxies: Networks,
            toml Vec<String> => |list| parse_networks(&list.join(",")).map(Networks);

        /// Longest a request body may take to arrive, e.g. `10s`; a slower one gets 408 and its
        /// connection is closed [default: 10s]
        #[arg(long, env = "SCIM_BODY_TIMEOUT", value_parser = parse_body_timeout)]
        body_timeout: std::time::Duration = DEFAULT_BODY_TIMEOUT,
            toml String => |s| parse_body_timeout(&s);

        /// Most connections served at once; lowered to fit the open-file limit [default: 1024]
        #[arg(long, env = "SCIM_MAX_CONNECTIONS", value_parser = parse_connection_count)]
        max_connections: usize = DEFAULT_MAX_CONNECTIONS, toml usize => connection_count;

        /// Most connections one client address (an IPv6 /64) may hold; further ones get 503.
        /// --trusted-proxies are exempt [default: 64]
        #[arg(long, env = "SCIM_MAX_CONNECTIONS_PER_CLIENT", value_parser = parse_connection_count)]
        max_connections_per_client: usize = DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            toml usize => connection_count;

        /// Also serve a read-only LDAP directory of each organization at this address and port,
        /// e.g. `127.0.0.1:3890` [default: off]
        #[arg(long, env = "SCIM_LDAP_LISTEN")]
        ldap_listen: String;

        /// Also serve it over TLS (LDAPS) at this address and port, e.g. `0.0.0.0:636`, with the
        /// certificate of --tls-cert and --tls-key [default: off]
        #[arg(long, env = "SCIM_LDAPS_LISTEN")]
        ldaps_listen: String;
    }
}

/// Default `--data-dir`.
const DEFAULT_DATA_DIR: &str = "./data";
/// Default `--listen`.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// `serve`'s validated configuration from its picked settings, with the log filter and format
/// (they set up logging, not the server).
pub(super) fn serve_config(
    s: ServeSettings,
    common: &Common,
) -> Result<(ServeConfig, String, LogFormat), Box<dyn std::error::Error>> {
    let tls = match (s.tls_cert, s.tls_key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    let mut config = ServeConfig::new(
        s.listen,
        common.data_dir.clone(),
        common.public_url.as_deref(),
        s.sync.into(),
        s.max_body,
    )?;
    config.event_retention_days = Some(s.event_retention_days).filter(|d| *d > 0);
    config.backup_every = s.backup_every;
    config.backup_keep = s.backup_keep.max(1);
    config.webhook_disable_after = s.webhook_disable_after;
    config.initial_admin_password = s.admin_password.map(Secret);
    config.metrics = s.metrics;
    config.tls = tls;
    config.trusted_proxies = s.trusted_proxies.map(|n| n.0).unwrap_or_default();
    config.metrics_token = s.metrics_token.map(Secret);
    config.body_timeout = s.body_timeout;
    config.max_connections = s.max_connections;
    config.max_connections_per_client = s.max_connections_per_client;
    config.ldap_listen = s.ldap_listen;
    config.ldaps_listen = s.ldaps_listen;
    config.check()?;
    Ok((config, s.log_level, s.log_format))
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

/// `--sync`'s values: the command line's names for [`SyncMode`], so the store needs no clap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum SyncSetting {
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
