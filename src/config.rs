//! Settings: the validated [`ServeConfig`] that `serve` runs with, kept apart from the raw
//! command-line arguments in `cli`, and the [`Layers`] they are picked from — a flag, else its
//! `SCIM_*` environment variable, else the TOML file of `--config`, else the default — with
//! the source of each value remembered for `scim-appliance config show`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::SyncMode;

/// Smallest request body limit accepted for `--max-body`.
const MIN_BODY_LIMIT: usize = 1024;

/// Everything `serve` needs, already checked.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// Address to bind, e.g. `127.0.0.1:8080` (port 0 picks a free port).
    pub listen: String,
    /// Directory holding `scim-appliance.db`.
    pub data_dir: PathBuf,
    /// Base URL clients reach us at, without a trailing slash; `None` means
    /// `http(s)://<bound address>`.
    pub public_url: Option<String>,
    pub sync: SyncMode,
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Delete events older than this many days; `None` keeps them forever.
    pub event_retention_days: Option<u32>,
    /// Take a backup into `<data-dir>/backups` this often; `None` for none.
    pub backup_every: Option<std::time::Duration>,
    /// Scheduled backups to keep.
    pub backup_keep: u32,
    /// Disable a webhook endpoint that has failed for this long.
    pub webhook_disable_after: std::time::Duration,
    /// The admin password to set at start when none is set yet (for unattended installs).
    pub initial_admin_password: Option<Secret>,
    /// Serve Prometheus metrics at `/metrics`.
    pub metrics: bool,
    /// Bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Secret>,
    /// PEM certificate chain and private key, to serve HTTPS directly.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How long a request body may take to arrive, from when the request reached the app.
    pub body_timeout: std::time::Duration,
    /// Most connections served at once.
    pub max_connections: usize,
    /// Most connections one client (address, IPv6 /64) may hold; trusted proxies are exempt.
    pub max_connections_per_client: usize,
    /// Address to serve read-only LDAP on (plain LDAP, e.g. `127.0.0.1:3890`); `None` serves
    /// none.
    pub ldap_listen: Option<String>,
    /// Address to serve LDAP over TLS on (LDAPS, e.g. `0.0.0.0:636`) with the certificate of
    /// [`ServeConfig::tls`]; `None` serves none.
    pub ldaps_listen: Option<String>,
    /// How often the API keys' "last used" times are written. Not a flag: a minute keeps the
    /// writes rare; tests shorten it.
    pub key_usage_flush_every: std::time::Duration,
}

/// A secret value: usable, but never printed by `Debug` (configs get logged).
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Default `--event-retention-days`.
pub const DEFAULT_EVENT_RETENTION_DAYS: u32 = 365;
/// Default `--max-body`: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;
/// Default `--backup-keep`.
pub const DEFAULT_BACKUP_KEEP: u32 = 7;
/// How long a webhook endpoint may keep failing before it is disabled.
pub const DEFAULT_WEBHOOK_DISABLE_AFTER: std::time::Duration =
    std::time::Duration::from_secs(5 * 24 * 60 * 60);
/// Default `--body-timeout`: a 1 MiB body in 10 s needs 100 KB/s, far below any IdP's link.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Default `--max-connections`: far above what identity providers and one admin use, far
/// below the file descriptors a default 65536 `LimitNOFILE` allows.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default `--max-connections-per-client`: an IdP syncing in parallel uses a handful; one
/// address cannot take more than a sixteenth of the default total.
pub const DEFAULT_MAX_CONNECTIONS_PER_CLIENT: usize = 64;
/// How often a running server writes when API keys were last used: a key's time is written at
/// most once a minute.
pub const DEFAULT_KEY_USAGE_FLUSH: std::time::Duration = std::time::Duration::from_secs(60);

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ServeConfig {
    /// Checks the raw values and builds a config.
    pub fn new(
        listen: String,
        data_dir: PathBuf,
        public_url: Option<&str>,
        sync: SyncMode,
        max_body: usize,
    ) -> Result<ServeConfig, ConfigError> {
        if max_body < MIN_BODY_LIMIT {
            return Err(ConfigError(format!(
                "--max-body must be at least {MIN_BODY_LIMIT} bytes"
            )));
        }
        Ok(ServeConfig {
            listen,
            data_dir,
            public_url: public_url.map(parse_public_url).transpose()?,
            sync,
            max_body,
            event_retention_days: Some(DEFAULT_EVENT_RETENTION_DAYS),
            backup_every: None,
            backup_keep: DEFAULT_BACKUP_KEEP,
            webhook_disable_after: DEFAULT_WEBHOOK_DISABLE_AFTER,
            initial_admin_password: None,
            metrics: false,
            metrics_token: None,
            tls: None,
            trusted_proxies: Vec::new(),
            body_timeout: DEFAULT_BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_client: DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
            ldap_listen: None,
            ldaps_listen: None,
            key_usage_flush_every: DEFAULT_KEY_USAGE_FLUSH,
        })
    }

    /// Checks the settings that depend on each other: LDAPS needs the certificate HTTPS uses.
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.ldaps_listen.is_some() && self.tls.is_none() {
            return Err(ConfigError(
                "--ldaps-listen needs --tls-cert and --tls-key: LDAPS serves the HTTPS certificate"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

/// Accepts `http(s)://host[:port][/prefix]`, without query or fragment; drops trailing slashes.
pub fn parse_public_url(raw: &str) -> Result<String, ConfigError> {
    let url = raw.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            ConfigError(format!(
                "the public URL \"{raw}\" must start with http:// or https://"
            ))
        })?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(ConfigError(format!(
            "the public URL \"{raw}\" must be a plain base URL such as https://scim.example.com"
        )));
    }
    Ok(url.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Layers: flags > SCIM_* environment > the TOML file of --config > defaults

/// Where a setting's value came from, for `config show`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A command-line flag, e.g. `--listen`.
    Flag(String),
    /// An environment variable, e.g. `SCIM_LISTEN`.
    Env(String),
    /// The TOML file given with `--config`.
    File(PathBuf),
    /// A secret read from a file named by `*_file` / `SCIM_*_FILE` (itself from `from`).
    SecretFile {
        path: PathBuf,
        from: Box<Source>,
    },
    Default,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Env(var) => write!(f, "environment {var}"),
            Source::File(path) => write!(f, "config file {}", path.display()),
            Source::SecretFile { path, from } => {
                write!(f, "file {} (named by {from})", path.display())
            }
            Source::Default => f.write_str("default"),
        }
    }
}

/// A value given on the command line or in the environment, with which of the two.
#[derive(Clone, Debug)]
pub struct Given<T> {
    pub value: Option<T>,
    pub source: Source,
}

/// One line of `config show`.
#[derive(Clone, Debug, Serialize)]
pub struct Shown {
    pub name: &'static str,
    /// The value as text; secrets are shown as `<redacted>`, unset values as `null`.
    pub value: Option<String>,
    pub source: String,
}

/// Picks each setting from its layers and remembers where it came from. `F` holds the keys of
/// the TOML file (declared with the flags, in `cli`); each is taken out when its setting is
/// picked.
pub struct Layers<F> {
    file: F,
    file_path: Option<PathBuf>,
    shown: Vec<Shown>,
}

impl<F: DeserializeOwned + Default> Layers<F> {
    /// The layers over the TOML file at `path`, if any; a missing file, bad TOML or an unknown
    /// key is an error naming it.
    pub fn read(path: Option<&Path>) -> Result<Layers<F>, ConfigError> {
        let file = match path {
            Some(path) => read_file(path)?,
            None => F::default(),
        };
        Ok(Layers {
            file,
            file_path: path.map(Path::to_path_buf),
            shown: Vec::new(),
        })
    }
}

impl<F> Layers<F> {
    /// The settings picked so far, for `config show`.
    pub fn shown(&self) -> &[Shown] {
        &self.shown
    }

    /// The value of an optional setting: given (flag or environment), else the file's
    /// (parsed by `file`), else unset.
    pub fn pick<T: ShowValue>(
        &mut self,
        name: &'static str,
        given: Given<T>,
        file: impl FnOnce(&mut F) -> Option<Result<T, String>>,
    ) -> Result<Option<T>, ConfigError> {
        let (value, source) = match self.layered(name, given, file)? {
            Some((value, source)) => (Some(value), source),
            None => (None, Source::Default),
        };
        self.record(name, value.as_ref().map(ShowValue::show), source);
        Ok(value)
    }

    /// Like [`Layers::pick`], for a setting that falls back to `default`.
    pub fn pick_or<T: ShowValue>(
        &mut self,
        name: &'static str,
        given: Given<T>,
        file: impl FnOnce(&mut F) -> Option<Result<T, String>>,
        default: T,
    ) -> Result<T, ConfigError> {
        let (value, source) = self
            .layered(name, given, file)?
            .unwrap_or((default, Source::Default));
        self.record(name, Some(value.show()), source);
        Ok(value)
    }

    /// The given value, else the file's, with its source; `None` when neither layer has one.
    fn layered<T>(
        &mut self,
        name: &'static str,
        given: Given<T>,
        file: impl FnOnce(&mut F) -> Option<Result<T, String>>,
    ) -> Result<Option<(T, Source)>, ConfigError> {
        if let Some(value) = given.value {
            return Ok(Some((value, given.source)));
        }
        match file(&mut self.file) {
            Some(Ok(value)) => Ok(Some((value, self.file_source()))),
            Some(Err(e)) => Err(ConfigError(format!("{name} in the config file: {e}"))),
            None => Ok(None),
        }
    }

    fn record(&mut self, name: &'static str, value: Option<String>, source: Source) {
        self.shown.push(Shown {
            name,
            value,
            source: source.to_string(),
        });
    }

    /// A secret: given directly (flag, environment, file key), or read from the file named by
    /// its `_file` variant (whose first line is the secret). Shown redacted.
    pub fn secret(
        &mut self,
        name: &'static str,
        given: Given<String>,
        given_file: Given<PathBuf>,
        file: impl FnOnce(&mut F) -> (Option<String>, Option<PathBuf>),
    ) -> Result<Option<String>, ConfigError> {
        let (in_file, in_file_path) = file(&mut self.file);
        let (value, source) = if let Some(v) = given.value {
            (Some(v), given.source)
        } else if let Some(path) = given_file.value {
            (
                Some(read_secret(&path)?),
                Source::SecretFile {
                    path,
                    from: Box::new(given_file.source),
                },
            )
        } else if let Some(v) = in_file {
            (Some(v), self.file_source())
        } else if let Some(path) = in_file_path {
            (
                Some(read_secret(&path)?),
                Source::SecretFile {
                    path,
                    from: Box::new(self.file_source()),
                },
            )
        } else {
            (None, Source::Default)
        };
        self.record(
            name,
            value.as_ref().map(|_| "<redacted>".to_owned()),
            source,
        );
        Ok(value)
    }

    fn file_source(&self) -> Source {
        Source::File(self.file_path.clone().unwrap_or_default())
    }
}

/// How a setting's value is printed by `config show`.
pub trait ShowValue {
    fn show(&self) -> String;
}

impl ShowValue for String {
    fn show(&self) -> String {
        self.clone()
    }
}

impl ShowValue for PathBuf {
    fn show(&self) -> String {
        self.display().to_string()
    }
}

impl ShowValue for bool {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ShowValue for u32 {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ShowValue for usize {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ShowValue for std::time::Duration {
    fn show(&self) -> String {
        humantime::format_duration(*self).to_string()
    }
}

impl ShowValue for LogFormat {
    fn show(&self) -> String {
        self.to_string()
    }
}

/// Reads and parses the TOML file of `--config`, naming it in any error.
fn read_file<F: DeserializeOwned>(path: &Path) -> Result<F, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        ConfigError(format!(
            "the config file {} is not valid: {e}",
            path.display()
        ))
    })
}

/// The first line of a secret file (trailing newline and spaces dropped).
fn read_secret(path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the secret file {}: {e}",
            path.display()
        ))
    })?;
    let secret = text
        .lines()
        .next()
        .unwrap_or_default()
        .trim_end()
        .to_owned();
    if secret.is_empty() {
        return Err(ConfigError(format!(
            "the secret file {} is empty",
            path.display()
        )));
    }
    Ok(secret)
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        })
    }
}

/// Parses a clap value enum from a config-file string.
pub fn parse_enum<T: clap::ValueEnum>(text: &str) -> Result<T, String> {
    T::from_str(text, true).map_err(|_| {
        let names: Vec<String> = T::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        format!("\"{text}\" is not one of {}", names.join(", "))
    })
}

/// Addresses or networks (`127.0.0.1`, `10.0.0.0/8`, `::1`), comma-separated.
pub fn parse_networks(text: &str) -> Result<Vec<ipnet::IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| {
            part.parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("\"{part}\" is not an IP address or network"))
        })
        .collect()
}

/// Networks as `config show` prints them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Networks(pub Vec<ipnet::IpNet>);

impl ShowValue for Networks {
    fn show(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        parts.join(",")
    }
}

/// A backup interval of at least a minute, in humantime form (`24h`, `90m`, `7d`).
pub fn parse_interval(text: &str) -> Result<std::time::Duration, String> {
    let every = humantime::parse_duration(text).map_err(|e| format!("{e} (try 24h or 30m)"))?;
    if every < std::time::Duration::from_secs(60) {
        return Err("the interval must be at least 1m".into());
    }
    Ok(every)
}

/// A body timeout of at least a second, in humantime form (`10s`, `1m`).
pub fn parse_body_timeout(text: &str) -> Result<std::time::Duration, String> {
    let timeout = humantime::parse_duration(text).map_err(|e| format!("{e} (try 10s)"))?;
    if timeout < std::time::Duration::from_secs(1) {
        return Err("the body timeout must be at least 1s".into());
    }
    Ok(timeout)
}

/// A connection count: a whole number of at least 1.
pub fn parse_connection_count(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("\"{text}\" is not a whole number"))
        .and_then(connection_count)
}

/// Refuses a connection cap of 0, which would serve nobody.
pub fn connection_count(count: usize) -> Result<usize, String> {
    if count == 0 {
        return Err("a connection cap must be at least 1".into());
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::parse_public_url;

    #[test]
    fn public_urls_are_normalised_or_refused() {
        assert_eq!(
            parse_public_url("https://scim.example.com/").unwrap(),
            "https://scim.example.com"
        );
        assert_eq!(
            parse_public_url("http://10.0.0.2:8080/scim").unwrap(),
            "http://10.0.0.2:8080/scim"
        );
        for bad in [
            "scim.example.com",
            "ftp://x",
            "https://",
            "https://x/?a=b",
            "https://x/#f",
        ] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }
}
