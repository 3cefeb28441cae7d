//! The command line: raw arguments (clap; every option also from an `SCIM_…` variable) and
//! the dispatch to library code. Exit codes: 0 success, 1 failure, 2 usage (clap's own).

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use serde_json::json;

use crate::admin;
use crate::config::{
    DEFAULT_BACKUP_KEEP, DEFAULT_BODY_TIMEOUT, DEFAULT_EVENT_RETENTION_DAYS, DEFAULT_MAX_BODY,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT, FileConfig, Given, Layers,
    LogFormat, Networks, Secret, ServeConfig, ShowValue, Source, connection_count,
    parse_body_timeout, parse_connection_count, parse_enum, parse_interval, parse_networks,
    parse_public_url,
};
use crate::startup::Application;
use crate::store::maintenance;
use crate::store::{Actor, OrgChanges, Organization, Store, SyncMode};
use crate::timestamp;
use crate::transfer::{self, Format};

/// Default `--public-url` for CLI output when neither the flag nor a previous `serve` set one.
const DEFAULT_PUBLIC_URL: &str = "http://127.0.0.1:8080";

#[derive(Debug, Parser)]
#[command(
    name = "scim-appliance",
    version,
    about = "A SCIM 2.0 service provider on one SQLite file",
    long_about = "A SCIM 2.0 service provider on one SQLite file. Identity providers push users \
                  and groups into per-organization directories at <public-url>/v2/<org-id>."
)]
pub struct Cli {
    /// Directory holding the database file scim-appliance.db [default: ./data]
    #[arg(long, env = "SCIM_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Base URL identity providers reach this server at (shown in SCIM URLs and meta.location).
    /// `serve` defaults to http://<listen>; other commands to what `serve` last used.
    #[arg(long, env = "SCIM_PUBLIC_URL", global = true)]
    public_url: Option<String>,
    /// A TOML file with settings (the flags' names in snake_case); flags and SCIM_* variables
    /// override it.
    #[arg(long, env = "SCIM_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Default `--data-dir`.
const DEFAULT_DATA_DIR: &str = "./data";
/// Default `--listen`.
const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the SCIM server and health endpoints.
    Serve(ServeArgs),
    /// Manage organizations and their SCIM API keys.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage the administrator of the web configuration page.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a consistent copy of the database, also while `serve` is running. Default file:
    /// <data-dir>/backups/scim-appliance-<UTC timestamp>.db
    Backup {
        /// Where to write the copy (must not exist).
        file: Option<PathBuf>,
        /// Afterwards keep only the newest N default-named backups in that directory.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        keep: Option<u32>,
    },
    /// Replace the database with a backup after verifying it (integrity, known schema). The
    /// replaced files are kept beside it. Refused while a server uses the data directory.
    Restore {
        /// The backup file.
        file: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Verify the database: integrity, schema version, counts per organization. Exits 1 on
    /// any problem.
    Check {
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Write an organization's members (with their attributes and status) and groups (with
    /// their members) as JSON (lossless) or CSV (one row per member).
    Export {
        /// Organization id or unique name.
        org: String,
        #[arg(long, value_enum, default_value = "json")]
        format: Format,
        /// Write to this file (created private) instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Add or update members and groups from an export (JSON or CSV) in one transaction: all
    /// or nothing. Members match by userName, groups by externalId or name.
    Import {
        /// Organization id or unique name.
        org: String,
        /// The file to read.
        file: PathBuf,
        /// Default: from the file name (.csv is CSV, anything else JSON).
        #[arg(long, value_enum)]
        format: Option<Format>,
        /// Check everything and report what would change, without changing anything.
        #[arg(long)]
        dry_run: bool,
        /// Print the report as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script, e.g. `scim-appliance completions bash >
    /// /etc/bash_completion.d/scim-appliance`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), e.g. `scim-appliance manpage > scim-appliance.1`.
    Manpage,
    /// Exit 0 when the server at --listen answers /alive with 200 within 5 seconds, else 1
    /// (for container HEALTHCHECK and monitoring).
    Healthcheck {
        /// The server's listen address.
        #[arg(long, env = "SCIM_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// The server's certificate, when it serves TLS itself (then the probe uses TLS; the
        /// certificate is not verified: only liveness is asked).
        #[arg(long, env = "SCIM_TLS_CERT")]
        tls_cert: Option<PathBuf>,
    },
    /// Show an organization's event log, newest first.
    Events {
        /// Organization id or unique name.
        org: String,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
        /// How many events to show.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        limit: u32,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
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

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print the configuration `serve` would run with (given the same flags and environment),
    /// where each value comes from, with secrets redacted.
    Show {
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        serve: ServeArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Set the admin password of the web page (at least 12 characters); signs out every
    /// session. Asks twice on the terminal unless --password-stdin.
    SetPassword {
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organization with SCIM enabled and print its SCIM URL and API key (shown once).
    Create {
        /// A name for people to recognise it by.
        name: String,
        /// Print exactly one JSON object: {"id", "name", "scim_url", "api_key"}.
        #[arg(long)]
        json: bool,
    },
    /// List organizations.
    List {
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Replace the API key; the old key stops working at once, also on a running server.
    RotateKey {
        /// Organization id or unique name.
        org: String,
        /// Print exactly one JSON object: {"id", "name", "scim_url", "api_key"}.
        #[arg(long)]
        json: bool,
    },
    /// Give the organization a new name.
    Rename {
        /// Organization id or unique name.
        org: String,
        /// The new name.
        name: String,
    },
    /// Allow SCIM requests for the organization.
    EnableScim {
        /// Organization id or unique name.
        org: String,
    },
    /// Refuse SCIM requests for the organization (401) without deleting anything.
    DisableScim {
        /// Organization id or unique name.
        org: String,
    },
    /// Limit how many active members the organization may have (revoked members hold no seat).
    SetSeats {
        /// Organization id or unique name.
        org: String,
        /// A number of seats, or `none` for no limit.
        seats: SeatLimit,
    },
    /// Delete the organization with all its members, groups and events.
    Delete {
        /// Organization id or unique name.
        org: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
}

/// `N` or `none`, for `org set-seats`.
#[derive(Clone, Copy, Debug)]
struct SeatLimit(Option<u32>);

impl std::str::FromStr for SeatLimit {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("none") {
            return Ok(SeatLimit(None));
        }
        s.parse()
            .map(|n| SeatLimit(Some(n)))
            .map_err(|_| format!("expected a number of seats or `none`, got \"{s}\""))
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

/// Parses the command line, runs it, and turns the outcome into an exit code.
pub fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match run(cli, &matches) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", crate::error::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
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
struct Common {
    data_dir: PathBuf,
    public_url: Option<String>,
}

fn run(cli: Cli, matches: &ArgMatches) -> CliResult {
    let file = match &cli.config {
        Some(path) => Some((path.clone(), FileConfig::read(path)?)),
        None => None,
    };
    let mut layers = Layers::new(file);
    // Global flags may be given before or after the subcommand.
    let (name, sub) = matches
        .subcommand()
        .map_or(("", None), |(n, m)| (n, Some(m)));
    let leaf = sub.and_then(|m| m.subcommand().map(|(_, m)| m));
    let all = [Some(matches), sub, leaf];
    let common = Common {
        data_dir: layers.pick_or(
            "data_dir",
            given(&all, "data_dir", cli.data_dir.clone()),
            |f| f.data_dir.clone().map(Ok),
            PathBuf::from(DEFAULT_DATA_DIR),
        )?,
        public_url: layers.pick(
            "public_url",
            given(&all, "public_url", cli.public_url.clone()),
            |f| f.public_url.clone().map(Ok),
        )?,
    };
    let public_url = common.public_url.as_deref();
    if name != "serve" {
        init_logging("warn", LogFormat::Text);
    }
    match cli.command {
        Command::Serve(args) => {
            let (config, log_level, log_format) = serve_config(&mut layers, args, &all, &common)?;
            init_logging(&log_level, log_format);
            serve(config)
        }
        Command::Config(ConfigCommand::Show { json, serve }) => {
            serve_config(&mut layers, serve, &all, &common)?;
            let shown = layers.shown();
            if json {
                println!("{}", serde_json::to_string_pretty(shown)?);
            } else {
                for s in shown {
                    let value = s.value.as_deref().unwrap_or("(not set)");
                    println!("{:<22} {:<40} {}", s.name, value, s.source);
                }
            }
            Ok(())
        }
        Command::Org(command) => {
            let store = Store::open(&common.data_dir, SyncMode::Full)?;
            let public_url = configured_public_url(&store, public_url)?;
            org_command(&store, &public_url, command)
        }
        Command::Admin(AdminCommand::SetPassword { password_stdin }) => {
            let password = if password_stdin {
                read_password_line()?
            } else {
                prompt_new_password()?
            };
            let store = Store::open(&common.data_dir, SyncMode::Full)?;
            admin::set_admin_password(&store, &password, false)?;
            println!(
                "The admin password is set; every earlier session is signed out. Sign in at {}/",
                configured_public_url(&store, public_url)?
            );
            Ok(())
        }
        Command::Export {
            org,
            format,
            output,
        } => {
            let store = Store::open(&common.data_dir, SyncMode::Full)?;
            let org = store.resolve_org(&org)?;
            let base_url = format!(
                "{}/v2/{}",
                configured_public_url(&store, public_url)?,
                org.id
            );
            let (members, groups) = match &output {
                Some(path) => {
                    let mut file = private_file(path)?;
                    let counts = transfer::export(&store, &org.id, &base_url, format, &mut file)?;
                    file.flush()?;
                    counts
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut out = stdout.lock();
                    transfer::export(&store, &org.id, &base_url, format, &mut out)?
                }
            };
            eprintln!(
                "Exported {members} members and {groups} groups of \"{}\".",
                org.name
            );
            Ok(())
        }
        Command::Import {
            org,
            file,
            format,
            dry_run,
            json,
        } => {
            let store = Store::open(&common.data_dir, SyncMode::Full)?;
            let org = store.resolve_org(&org)?;
            let bytes =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let format = format.unwrap_or_else(|| Format::from_file_name(&file));
            let parsed = transfer::parse(format, &bytes)?;
            let bar =
                indicatif::ProgressBar::new((parsed.members.len() + parsed.groups.len()) as u64)
                    .with_style(
                        indicatif::ProgressStyle::with_template(
                            "{msg} {wide_bar} {pos}/{len} ({eta} left)",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    )
                    .with_message(if dry_run { "checking" } else { "importing" });
            let report = store.import_directory(
                &org.id,
                parsed.members,
                parsed.groups,
                parsed.merge,
                dry_run,
                &|| bar.inc(1),
            )?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let would = if dry_run { "would be " } else { "" };
                println!(
                    "Members: {} {would}created, {} {would}updated, {} unchanged.",
                    report.members_created, report.members_updated, report.members_unchanged
                );
                println!(
                    "Groups: {} {would}created, {} {would}updated, {} unchanged.",
                    report.groups_created, report.groups_updated, report.groups_unchanged
                );
                if !report.unknown_members.is_empty() {
                    println!(
                        "Group members not found (left out): {}",
                        report.unknown_members.join(", ")
                    );
                }
                if dry_run {
                    println!("Dry run: nothing was changed.");
                }
            }
            Ok(())
        }
        Command::Completions { shell } => {
            let mut command = Cli::command();
            clap_complete::generate(
                shell,
                &mut command,
                "scim-appliance",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Manpage => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        Command::Healthcheck { listen, tls_cert } => {
            let timeout = std::time::Duration::from_secs(5);
            crate::healthcheck::probe(&listen, tls_cert.is_some(), timeout)?;
            println!("ok");
            Ok(())
        }
        Command::Backup { file, keep } => {
            let (target, bytes) = maintenance::back_up(&common.data_dir, file)?;
            println!("Backed up to {} ({bytes} bytes).", target.display());
            if let Some(keep) = keep {
                let dir = target.parent().unwrap_or(Path::new("."));
                for pruned in maintenance::prune_backups(dir, keep as usize)? {
                    println!("Deleted the older backup {}.", pruned.display());
                }
            }
            Ok(())
        }
        Command::Restore { file, yes } => {
            let live = maintenance::database_path(&common.data_dir);
            if !yes
                && live.exists()
                && !confirm(&format!(
                    "Replace {} with {}? The current files are kept beside it. [y/N] ",
                    live.display(),
                    file.display()
                ))?
            {
                return Err(
                    "not confirmed; nothing was changed (pass --yes to skip the question)".into(),
                );
            }
            let stamp = timestamp::compact(time::OffsetDateTime::now_utc());
            let aside = maintenance::restore(&common.data_dir, &file, &stamp)?;
            println!("Restored {} from {}.", live.display(), file.display());
            if let Some(aside) = aside {
                println!("The replaced database is kept as {}.", aside.display());
            }
            Ok(())
        }
        Command::Check { json } => {
            let report = maintenance::inspect(&maintenance::database_path(&common.data_dir))?;
            let faults = report.faults();
            if json {
                let mut value = serde_json::to_value(&report)?;
                value["ok"] = json!(faults.is_empty());
                value["faults"] = json!(faults);
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("{}", report.path.display());
                println!(
                    "  schema version {} (this binary: {})",
                    report.schema_version,
                    crate::store::SCHEMA_VERSION
                );
                for o in &report.organizations {
                    println!(
                        "  {}  {:<30} {} members ({} active), {} groups, {} events",
                        o.id, o.name, o.members, o.active_members, o.groups, o.events
                    );
                }
                for fault in &faults {
                    println!("  PROBLEM: {fault}");
                }
                if faults.is_empty() {
                    println!("  integrity: ok");
                }
            }
            if faults.is_empty() {
                Ok(())
            } else {
                Err(format!("{} problem(s) found", faults.len()).into())
            }
        }
        Command::Events { org, json, limit } => {
            let store = Store::open(&common.data_dir, SyncMode::Full)?;
            let org = store.resolve_org(&org)?;
            let events = store.list_events(&org.id, limit)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&events)?);
            } else {
                for e in events {
                    let actor = match e.key_id {
                        Some(key) => format!("{} (key {key})", e.actor),
                        None => e.actor,
                    };
                    println!("{}  {:<34} {:<24} {}", e.at, e.event_type, actor, e.summary);
                }
            }
            Ok(())
        }
    }
}

/// `serve`'s configuration from its layers, with the log level and format.
fn serve_config(
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

fn serve(config: ServeConfig) -> CliResult {
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config)?;
        let state = app.state();
        tracing::info!(
            "scim-appliance {} listening on {}://{}; data in {}; SCIM base URL per organization: \
             {}/v2/<org-id>; create an organization with `scim-appliance org create NAME`",
            env!("CARGO_PKG_VERSION"),
            if app.serves_tls() { "https" } else { "http" },
            app.local_addr(),
            state.store.path().display(),
            state.public_url,
        );
        if let Some(link) = app.setup_link() {
            tracing::warn!(
                "no admin password is set: open {link} to choose one (the link works once, \
                 until this server stops), or run `scim-appliance admin set-password`"
            );
        } else {
            tracing::info!("admin page: {}/", state.public_url);
        }
        app.run_until_stopped().await?;
        // In-flight requests have finished; fold the WAL into the file for a clean stop.
        if let Err(e) = state.store.checkpoint() {
            tracing::warn!(error = %crate::error::error_chain(&e), "final WAL checkpoint failed");
        }
        tracing::info!("stopped");
        Ok(())
    })
}

fn org_command(store: &Store, public_url: &str, command: OrgCommand) -> CliResult {
    let scim_url = |org: &Organization| format!("{public_url}/v2/{}", org.id);
    match command {
        OrgCommand::Create { name, json } => {
            let (org, key) = admin::create_org(store, &name, true, Actor::Cli)?;
            let token = key.map(|k| k.token).unwrap_or_default();
            print_key(&org, &scim_url(&org), &token, json, "Created organization");
        }
        OrgCommand::List { json } => {
            let orgs = store.list_orgs()?;
            if json {
                let list: Vec<_> = orgs
                    .iter()
                    .map(|o| {
                        json!({
                            "id": o.org.id,
                            "name": o.org.name,
                            "scim_enabled": o.org.scim_enabled,
                            "seat_limit": o.org.seat_limit,
                            "scim_url": scim_url(&o.org),
                            "created_at": o.org.created_at,
                            "key_created_at": o.key_created_at,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if orgs.is_empty() {
                println!("No organizations yet; create one with `scim-appliance org create NAME`.");
            } else {
                println!("{:<36}  {:<5}  {:<30}  SCIM URL", "ID", "SCIM", "NAME");
                for o in &orgs {
                    let scim = if o.org.scim_enabled { "on" } else { "off" };
                    println!(
                        "{:<36}  {:<5}  {:<30}  {}",
                        o.org.id,
                        scim,
                        o.org.name,
                        scim_url(&o.org)
                    );
                }
            }
        }
        OrgCommand::RotateKey { org, json } => {
            let org = store.resolve_org(&org)?;
            let key = admin::issue_api_key(store, &org.id, Actor::Cli)?;
            print_key(
                &org,
                &scim_url(&org),
                &key.token,
                json,
                "Rotated the API key of",
            );
        }
        OrgCommand::SetSeats { org, seats } => {
            let org = store.resolve_org(&org)?;
            let changes = OrgChanges {
                seat_limit: Some(seats.0),
                ..OrgChanges::default()
            };
            store.update_org(&org.id, &changes, Actor::Cli)?;
            match seats.0 {
                Some(n) => println!("\"{}\" may now have at most {n} active members.", org.name),
                None => println!("\"{}\" has no seat limit now.", org.name),
            }
        }
        OrgCommand::Rename { org, name } => {
            let before = store.resolve_org(&org)?;
            let changes = OrgChanges {
                name: Some(name),
                ..OrgChanges::default()
            };
            let after = store.update_org(&before.id, &changes, Actor::Cli)?;
            println!(
                "Renamed \"{}\" to \"{}\" ({}).",
                before.name, after.name, after.id
            );
        }
        OrgCommand::EnableScim { org } => set_scim(store, &org, true)?,
        OrgCommand::DisableScim { org } => set_scim(store, &org, false)?,
        OrgCommand::Delete { org, yes } => {
            let org = store.resolve_org(&org)?;
            if !yes
                && !confirm(&format!(
                    "Delete organization \"{}\" ({}) with all its members, groups and events? [y/N] ",
                    org.name, org.id
                ))?
            {
                return Err(
                    "not confirmed; nothing was deleted (pass --yes to skip the question)".into(),
                );
            }
            store.delete_org(&org.id)?;
            println!("Deleted organization \"{}\" ({}).", org.name, org.id);
        }
    }
    Ok(())
}

fn set_scim(store: &Store, org: &str, enabled: bool) -> CliResult {
    let org = store.resolve_org(org)?;
    let changes = OrgChanges {
        scim_enabled: Some(enabled),
        ..OrgChanges::default()
    };
    store.update_org(&org.id, &changes, Actor::Cli)?;
    let state = if enabled { "enabled" } else { "disabled" };
    let already = if org.scim_enabled == enabled {
        "already "
    } else {
        ""
    };
    println!(
        "SCIM is {already}{state} for \"{}\" ({}).",
        org.name, org.id
    );
    Ok(())
}

fn print_key(org: &Organization, scim_url: &str, token: &str, json: bool, what: &str) {
    if json {
        println!(
            "{}",
            json!({ "id": org.id, "name": org.name, "scim_url": scim_url, "api_key": token })
        );
        return;
    }
    println!("{what} \"{}\"", org.name);
    println!("  id:       {}", org.id);
    println!("  SCIM URL: {scim_url}");
    println!("  API key:  {token}");
    println!();
    println!(
        "The API key is shown only this once. Paste the SCIM URL and the key into your identity \
         provider; anyone holding the key can manage this organization's members."
    );
}

/// `--public-url` if given, else what `serve` last ran with, else the default.
fn configured_public_url(
    store: &Store,
    public_url: Option<&str>,
) -> Result<String, Box<dyn std::error::Error>> {
    Ok(match public_url {
        Some(url) => parse_public_url(url)?,
        None => store
            .public_url()?
            .unwrap_or_else(|| DEFAULT_PUBLIC_URL.to_owned()),
    })
}

/// Creates `path` for writing, readable only by its owner (exports hold personal data).
fn private_file(path: &Path) -> Result<std::fs::File, Box<dyn std::error::Error>> {
    Ok(crate::store::private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?)
}

/// The first line of standard input, without its line ending.
fn read_password_line() -> Result<String, Box<dyn std::error::Error>> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err("no password on standard input".into());
    }
    Ok(password)
}

/// Asks for a new password twice on the terminal, without echo.
fn prompt_new_password() -> Result<String, Box<dyn std::error::Error>> {
    if !std::io::stdin().is_terminal() {
        return Err("standard input is not a terminal; use --password-stdin".into());
    }
    let password = rpassword::prompt_password("New admin password (at least 12 characters): ")?;
    let again = rpassword::prompt_password("Repeat it: ")?;
    if password != again {
        return Err("the two passwords differ; nothing was changed".into());
    }
    Ok(password)
}

/// Asks a yes/no question on stderr and reads the answer from stdin (a pipe works too);
/// no answer means no.
fn confirm(question: &str) -> Result<bool, std::io::Error> {
    let stdin = std::io::stdin();
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// Logs to standard error, filtered by `SCIM_LOG` if set, else by `default_filter`.
fn init_logging(default_filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIM_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
