//! The command line: raw arguments (clap; every option also from an `SCIM_…` variable) and
//! the dispatch to library code. Exit codes: 0 success, 1 failure, 2 usage (clap's own).
//!
//! `run` picks the shared settings and hands each command's parsed arguments to one function
//! in its group's file: `serve.rs` (serve, config show, healthcheck, completions, manpage),
//! `org.rs`, `admin.rs`, `data.rs` (backup, restore, check, export, import) and `events.rs`.
//! Each function parses, makes one library call and prints through small functions beside it.
//! `settings.rs` declares every setting once (how to add one is written there).

mod admin;
mod data;
mod events;
mod org;
mod serve;
mod settings;
mod webhook;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::{Layers, LogFormat, parse_public_url};
use crate::store::Store;
use crate::transfer::Format;

use self::admin::AdminCommand;
use self::org::OrgCommand;
use self::serve::ConfigCommand;
use self::settings::{CommonArgs, FileConfig, ServeArgs};
use self::webhook::WebhookCommand;

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
    #[command(flatten)]
    common: CommonArgs,
    /// A TOML file with settings (the flags' names in snake_case); flags and SCIM_* variables
    /// override it.
    #[arg(long, env = "SCIM_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

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
    /// Manage an organization's webhook endpoints (Standard Webhooks), their deliveries and
    /// signing secrets.
    #[command(subcommand)]
    Webhook(WebhookCommand),
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

/// Picks the settings every command shares, then runs the command.
fn run(cli: Cli, matches: &ArgMatches) -> CliResult {
    let mut layers = Layers::<FileConfig>::read(cli.config.as_deref())?;
    let levels = match_levels(matches);
    let common = cli.common.pick(&mut layers, &levels)?;
    if !matches!(cli.command, Command::Serve(_)) {
        init_logging("warn", LogFormat::Text);
    }
    match cli.command {
        Command::Serve(args) => serve::serve(args.pick(&mut layers, &levels)?, &common),
        Command::Config(ConfigCommand::Show { json, serve }) => {
            let settings = serve.pick(&mut layers, &levels)?;
            serve::config_show(settings, &common, layers.shown(), json)
        }
        Command::Healthcheck { listen, tls_cert } => {
            serve::healthcheck(&listen, tls_cert.is_some())
        }
        Command::Completions { shell } => serve::completions(shell),
        Command::Manpage => serve::manpage(),
        Command::Org(command) => org::run(command, &common),
        Command::Webhook(command) => webhook::run(command, &common),
        Command::Admin(AdminCommand::SetPassword { password_stdin }) => {
            admin::set_password(&common, password_stdin)
        }
        Command::Backup { file, keep } => data::backup(&common, file, keep),
        Command::Restore { file, yes } => data::restore(&common, &file, yes),
        Command::Check { json } => data::check(&common, json),
        Command::Export {
            org,
            format,
            output,
        } => data::export(&common, &org, format, output.as_deref()),
        Command::Import {
            org,
            file,
            format,
            dry_run,
            json,
        } => data::import(&common, &org, &file, format, dry_run, json),
        Command::Events { org, json, limit } => events::show(&common, &org, json, limit),
    }
}

/// The matches of the program and of each subcommand down to the one that runs (`org key
/// add`): global flags may be given before or after any of them.
fn match_levels(matches: &ArgMatches) -> Vec<Option<&ArgMatches>> {
    std::iter::successors(Some(matches), |m| m.subcommand().map(|(_, sub)| sub))
        .map(Some)
        .collect()
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

/// Logs to standard error, filtered by `SCIM_LOG` if set, else by `default_filter`. By default
/// the LDAP protocol crate is silent: it logs each malformed message or unknown control a
/// client sends, which any stranger could turn into a flood; the LDAP front door logs what
/// an operator needs itself.
fn init_logging(default_filter: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SCIM_LOG")
        .or_else(|_| {
            tracing_subscriber::EnvFilter::try_new(format!("{default_filter},ldap3_proto=off"))
        })
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
