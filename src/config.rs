//! Validated settings for `serve`, kept apart from the raw command-line arguments in `cli`.

use std::path::PathBuf;

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
    /// Base URL clients reach us at, without a trailing slash; `None` means `http://<bound address>`.
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
}

/// Default `--event-retention-days`.
pub const DEFAULT_EVENT_RETENTION_DAYS: u32 = 365;
/// Default `--backup-keep`.
pub const DEFAULT_BACKUP_KEEP: u32 = 7;

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
        })
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
