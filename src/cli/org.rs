//! `org …`: organizations and their SCIM API keys.

use clap::Subcommand;
use serde_json::json;

use super::settings::Common;
use super::{CliResult, configured_public_url, confirm};
use crate::admin;
use crate::store::{Actor, OrgChanges, OrgSummary, Organization, Store, SyncMode};

#[derive(Debug, Subcommand)]
pub(super) enum OrgCommand {
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
pub(super) struct SeatLimit(Option<u32>);

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

/// Opens the store and runs one `org` subcommand.
pub(super) fn run(command: OrgCommand, common: &Common) -> CliResult {
    let store = Store::open(&common.data_dir, SyncMode::Full)?;
    let public_url = configured_public_url(&store, common.public_url.as_deref())?;
    match command {
        OrgCommand::Create { name, json } => create(&store, &public_url, &name, json),
        OrgCommand::List { json } => list(&store, &public_url, json),
        OrgCommand::RotateKey { org, json } => rotate_key(&store, &public_url, &org, json),
        OrgCommand::SetSeats { org, seats } => set_seats(&store, &org, seats),
        OrgCommand::Rename { org, name } => rename(&store, &org, name),
        OrgCommand::EnableScim { org } => set_scim(&store, &org, true),
        OrgCommand::DisableScim { org } => set_scim(&store, &org, false),
        OrgCommand::Delete { org, yes } => delete(&store, &org, yes),
    }
}

/// The SCIM base URL identity providers are given for `org`.
fn scim_url(public_url: &str, org: &Organization) -> String {
    format!("{public_url}/v2/{}", org.id)
}

fn create(store: &Store, public_url: &str, name: &str, json: bool) -> CliResult {
    let (org, key) = admin::create_org(store, name, true, Actor::Cli)?;
    let token = key.map(|k| k.token).unwrap_or_default();
    print_key(
        &org,
        &scim_url(public_url, &org),
        &token,
        json,
        "Created organization",
    );
    Ok(())
}

fn list(store: &Store, public_url: &str, json: bool) -> CliResult {
    let orgs = store.list_orgs()?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&org_list_json(&orgs, public_url))?
        );
    } else {
        print_org_table(&orgs, public_url);
    }
    Ok(())
}

/// `org list --json`: one object per organization, without the secret parts of its key.
fn org_list_json(orgs: &[OrgSummary], public_url: &str) -> Vec<serde_json::Value> {
    orgs.iter()
        .map(|o| {
            json!({
                "id": o.org.id,
                "name": o.org.name,
                "scim_enabled": o.org.scim_enabled,
                "seat_limit": o.org.seat_limit,
                "scim_url": scim_url(public_url, &o.org),
                "created_at": o.org.created_at,
                "key_created_at": o.key_created_at,
            })
        })
        .collect()
}

fn print_org_table(orgs: &[OrgSummary], public_url: &str) {
    if orgs.is_empty() {
        println!("No organizations yet; create one with `scim-appliance org create NAME`.");
        return;
    }
    println!("{:<36}  {:<5}  {:<30}  SCIM URL", "ID", "SCIM", "NAME");
    for o in orgs {
        let scim = if o.org.scim_enabled { "on" } else { "off" };
        println!(
            "{:<36}  {:<5}  {:<30}  {}",
            o.org.id,
            scim,
            o.org.name,
            scim_url(public_url, &o.org)
        );
    }
}

fn rotate_key(store: &Store, public_url: &str, org: &str, json: bool) -> CliResult {
    let org = store.resolve_org(org)?;
    let key = admin::issue_api_key(store, &org.id, Actor::Cli)?;
    print_key(
        &org,
        &scim_url(public_url, &org),
        &key.token,
        json,
        "Rotated the API key of",
    );
    Ok(())
}

fn set_seats(store: &Store, org: &str, seats: SeatLimit) -> CliResult {
    let org = store.resolve_org(org)?;
    let changes = OrgChanges {
        seat_limit: Some(seats.0),
        ..OrgChanges::default()
    };
    store.update_org(&org.id, &changes, Actor::Cli)?;
    match seats.0 {
        Some(n) => println!("\"{}\" may now have at most {n} active members.", org.name),
        None => println!("\"{}\" has no seat limit now.", org.name),
    }
    Ok(())
}

fn rename(store: &Store, org: &str, name: String) -> CliResult {
    let before = store.resolve_org(org)?;
    let changes = OrgChanges {
        name: Some(name),
        ..OrgChanges::default()
    };
    let after = store.update_org(&before.id, &changes, Actor::Cli)?;
    println!(
        "Renamed \"{}\" to \"{}\" ({}).",
        before.name, after.name, after.id
    );
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

fn delete(store: &Store, org: &str, yes: bool) -> CliResult {
    let org = store.resolve_org(org)?;
    if !yes
        && !confirm(&format!(
            "Delete organization \"{}\" ({}) with all its members, groups and events? [y/N] ",
            org.name, org.id
        ))?
    {
        return Err("not confirmed; nothing was deleted (pass --yes to skip the question)".into());
    }
    store.delete_org(&org.id)?;
    println!("Deleted organization \"{}\" ({}).", org.name, org.id);
    Ok(())
}

/// Prints a newly issued key: one JSON object, or the key with the warning that it is shown
/// only once.
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
