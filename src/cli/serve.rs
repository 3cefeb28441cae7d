//! `serve` and the commands about a server: `config show`, `healthcheck`, and the shell
//! completions and man page generated from the command definitions.

use clap::{CommandFactory, Subcommand};

use super::settings::{Common, ServeArgs, ServeSettings, serve_config};
use super::{Cli, CliResult, init_logging};
use crate::config::{ServeConfig, Shown};
use crate::startup::Application;

#[derive(Debug, Subcommand)]
pub(super) enum ConfigCommand {
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

/// `serve`: runs the server until it is stopped.
pub(super) fn serve(settings: ServeSettings, common: &Common) -> CliResult {
    let (config, log_level, log_format) = serve_config(settings, common)?;
    init_logging(&log_level, log_format);
    run_server(config)
}

fn run_server(config: ServeConfig) -> CliResult {
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

/// `config show`: checks the configuration as `serve` would, then prints every setting as it
/// was picked, with its source.
pub(super) fn config_show(
    settings: ServeSettings,
    common: &Common,
    shown: &[Shown],
    json: bool,
) -> CliResult {
    serve_config(settings, common)?;
    print_settings(shown, json)
}

fn print_settings(shown: &[Shown], json: bool) -> CliResult {
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

/// `healthcheck`: asks the server at `listen` whether it is alive.
pub(super) fn healthcheck(listen: &str, tls: bool) -> CliResult {
    let timeout = std::time::Duration::from_secs(5);
    crate::healthcheck::probe(listen, tls, timeout)?;
    println!("ok");
    Ok(())
}

/// `completions`: the shell completion script for `shell`.
pub(super) fn completions(shell: clap_complete::Shell) -> CliResult {
    let mut command = Cli::command();
    clap_complete::generate(
        shell,
        &mut command,
        "scim-appliance",
        &mut std::io::stdout(),
    );
    Ok(())
}

/// `manpage`: the man page in roff.
pub(super) fn manpage() -> CliResult {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(())
}
