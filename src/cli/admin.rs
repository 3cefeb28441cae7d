//! `admin …`: the administrator of the web configuration page.

use std::io::{BufRead, IsTerminal};

use clap::Subcommand;

use super::settings::Common;
use super::{CliResult, configured_public_url};
use crate::store::{Store, SyncMode};

#[derive(Debug, Subcommand)]
pub(super) enum AdminCommand {
    /// Set the admin password of the web page (at least 12 characters); signs out every
    /// session. Asks twice on the terminal unless --password-stdin.
    SetPassword {
        /// Read the password from the first line of standard input instead of asking.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `admin set-password`: asks for the password before touching the store.
pub(super) fn set_password(common: &Common, password_stdin: bool) -> CliResult {
    let password = if password_stdin {
        read_password_line()?
    } else {
        prompt_new_password()?
    };
    let store = Store::open(&common.data_dir, SyncMode::Full)?;
    crate::admin::set_admin_password(&store, &password, false)?;
    println!(
        "The admin password is set; every earlier session is signed out. Sign in at {}/",
        configured_public_url(&store, common.public_url.as_deref())?
    );
    Ok(())
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
