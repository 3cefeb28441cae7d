//! `org …`: organizations and their SCIM API keys (`org key …`, `org rotate-key`).

use std::time::Duration;

use clap::Subcommand;
use serde_json::json;

use super::settings::Common;
use super::{CliResult, configured_public_url, confirm};
use crate::admin::{self, MAX_KEY_LIFETIME, MAX_ROTATION_GRACE, NewApiKey};
use crate::store::{
    Actor, ApiKey, DEFAULT_KEY_NAME, KeyScope, OrgChanges, OrgSummary, Organization, Store,
    StoreError, SyncMode,
};

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
    /// Add, list or revoke the organization's API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Replace an API key with a new one of the same name and scope; the old key stops working
    /// at once (also on a running server), or after --grace.
    RotateKey {
        /// Organization id or unique name.
        org: String,
        /// The id of the key to replace; without it, the organization's one provision key (a
        /// first one is issued when there is none).
        #[arg(long)]
        key: Option<String>,
        /// Keep the old key working this long (at most 30d), e.g. `1h`, so the client can be
        /// switched over without a gap.
        #[arg(long, value_parser = parse_grace)]
        grace: Option<Duration>,
        /// Print exactly one JSON object: {"id", "name", "scim_url", "api_key", "key", "replaced"}.
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
    /// Set the base DN of the organization's LDAP tree, e.g. "dc=example,dc=com" (unique
    /// across the appliance; LDAP clients see the new tree at once).
    SetLdapBase {
        /// Organization id or unique name.
        org: String,
        /// The base DN: `attribute=value` components separated by commas.
        dn: String,
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

#[derive(Debug, Subcommand)]
pub(super) enum KeyCommand {
    /// Add an API key and print it (shown only this once).
    Add {
        /// Organization id or unique name.
        org: String,
        /// What the key is for, e.g. "Entra ID" or "wiki sync" (1 to 100 characters).
        #[arg(long, default_value = DEFAULT_KEY_NAME)]
        name: String,
        /// What the key may do.
        #[arg(long, value_enum, default_value = "provision")]
        scope: ScopeArg,
        /// Let the key stop working after this long, e.g. `90d` (at most 10y); default: never.
        #[arg(long, value_parser = parse_lifetime)]
        expires: Option<Duration>,
        /// Print exactly one JSON object: {"id", "name", "scim_url", "api_key", "key"}.
        #[arg(long)]
        json: bool,
    },
    /// List the organization's API keys (never their secrets).
    List {
        /// Organization id or unique name.
        org: String,
        /// Print one JSON array of keys.
        #[arg(long)]
        json: bool,
    },
    /// Delete an API key; it stops working at once, also on a running server.
    Revoke {
        /// Organization id or unique name.
        org: String,
        /// The key's id (see `org key list`).
        key_id: String,
    },
}

/// `--scope`'s values: the command line's names for [`KeyScope`], so the store needs no clap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(super) enum ScopeArg {
    /// Everything SCIM allows: for an identity provider.
    Provision,
    /// GET and POST …/.search only: for scripts and apps that read the directory.
    Read,
}

impl From<ScopeArg> for KeyScope {
    fn from(scope: ScopeArg) -> KeyScope {
        match scope {
            ScopeArg::Provision => KeyScope::Provision,
            ScopeArg::Read => KeyScope::Read,
        }
    }
}

/// `--expires`: a humantime duration from 1 second to 10 years.
fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let lifetime = humantime::parse_duration(text).map_err(|e| format!("{e} (try 90d)"))?;
    if lifetime < Duration::from_secs(1) || lifetime > MAX_KEY_LIFETIME {
        return Err("a key's lifetime must be between 1s and 10y".into());
    }
    Ok(lifetime)
}

/// `--grace`: a humantime duration of at most 30 days (`0s`: none).
fn parse_grace(text: &str) -> Result<Duration, String> {
    let grace = humantime::parse_duration(text).map_err(|e| format!("{e} (try 1h)"))?;
    if grace > MAX_ROTATION_GRACE {
        return Err("the grace period must be at most 30d".into());
    }
    Ok(grace)
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
        OrgCommand::Key(KeyCommand::Add {
            org,
            name,
            scope,
            expires,
            json,
        }) => add_key(
            &store,
            &public_url,
            &org,
            &name,
            scope.into(),
            expires,
            json,
        ),
        OrgCommand::Key(KeyCommand::List { org, json }) => list_keys(&store, &org, json),
        OrgCommand::Key(KeyCommand::Revoke { org, key_id }) => revoke_key(&store, &org, &key_id),
        OrgCommand::RotateKey {
            org,
            key,
            grace,
            json,
        } => rotate_key(&store, &public_url, &org, key.as_deref(), grace, json),
        OrgCommand::SetSeats { org, seats } => set_seats(&store, &org, seats),
        OrgCommand::SetLdapBase { org, dn } => {
            let org = store.resolve_org(&org)?;
            let after = store.set_ldap_base(&org.id, &dn, Actor::Cli)?;
            println!(
                "The LDAP tree of \"{}\" is now under {} (people in ou=people, groups in ou=groups).",
                after.name, after.ldap_base_dn
            );
            Ok(())
        }
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
        KeyScope::Provision,
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
                "ldap_base_dn": o.org.ldap_base_dn,
                "created_at": o.org.created_at,
                "key_created_at": o.key_created_at,
                "keys": o.keys,
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

fn rotate_key(
    store: &Store,
    public_url: &str,
    org: &str,
    key_id: Option<&str>,
    grace: Option<Duration>,
    json: bool,
) -> CliResult {
    let org = store.resolve_org(org)?;
    let new = match admin::rotate_api_key(store, &org.id, key_id, grace, Actor::Cli) {
        Err(admin::ActionError::Store(StoreError::Conflict(several))) => {
            return Err(format!("{several} with --key KEY_ID (see `org key list`)").into());
        }
        result => result?,
    };
    let scim_url = scim_url(public_url, &org);
    if json {
        println!(
            "{}",
            json!({
                "id": org.id, "name": org.name, "scim_url": scim_url, "api_key": new.token,
                "key": new.key, "replaced": new.replaced,
            })
        );
        return Ok(());
    }
    let what = match &new.replaced {
        Some(_) => "Rotated an API key of",
        None => "Issued the first API key of",
    };
    print_key(&org, &scim_url, &new.token, new.key.scope, false, what);
    print_key_facts(&new);
    Ok(())
}

fn add_key(
    store: &Store,
    public_url: &str,
    org: &str,
    name: &str,
    scope: KeyScope,
    expires: Option<Duration>,
    json: bool,
) -> CliResult {
    let org = store.resolve_org(org)?;
    let new = admin::add_api_key(store, &org.id, name, scope, expires, Actor::Cli)?;
    let scim_url = scim_url(public_url, &org);
    if json {
        println!(
            "{}",
            json!({
                "id": org.id, "name": org.name, "scim_url": scim_url, "api_key": new.token,
                "key": new.key,
            })
        );
        return Ok(());
    }
    print_key(
        &org,
        &scim_url,
        &new.token,
        new.key.scope,
        false,
        "Added an API key to",
    );
    print_key_facts(&new);
    Ok(())
}

/// What the operator should know about a key just printed: its name, scope and lifetime, and
/// what became of the key it replaced.
fn print_key_facts(new: &NewApiKey) {
    let key = &new.key;
    println!();
    println!(
        "Key \"{}\" ({}), id {}; {}.",
        key.name,
        key.scope.as_str(),
        key.key_id,
        match &key.expires_at {
            Some(at) => format!("valid until {at}"),
            None => "it does not expire".to_owned(),
        }
    );
    if let Some(replaced) = &new.replaced {
        match &replaced.expires_at {
            Some(until) => println!(
                "The old key {} keeps working until {until}.",
                replaced.key_id
            ),
            None => println!("The old key {} has stopped working.", replaced.key_id),
        }
    }
}

fn list_keys(store: &Store, org: &str, json: bool) -> CliResult {
    let org = store.resolve_org(org)?;
    let keys = store.list_api_keys(&org.id)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&keys)?);
    } else {
        print_key_table(&org, &keys);
    }
    Ok(())
}

fn print_key_table(org: &Organization, keys: &[ApiKey]) {
    if keys.is_empty() {
        println!(
            "\"{}\" has no API keys; add one with `scim-appliance org key add {}`.",
            org.name, org.id
        );
        return;
    }
    println!(
        "{:<12}  {:<24}  {:<9}  {:<24}  {:<10}  {:<24}  EXPIRES",
        "ID", "NAME", "SCOPE", "CREATED", "CREATED BY", "LAST USED"
    );
    for key in keys {
        let expires = match (&key.expires_at, key.expired) {
            (Some(at), true) => format!("{at} (expired)"),
            (Some(at), false) => at.clone(),
            (None, _) => "never".to_owned(),
        };
        println!(
            "{:<12}  {:<24}  {:<9}  {:<24}  {:<10}  {:<24}  {expires}",
            key.key_id,
            key.name,
            key.scope.as_str(),
            key.created_at,
            key.created_by,
            key.last_used_at.as_deref().unwrap_or("never"),
        );
    }
}

fn revoke_key(store: &Store, org: &str, key_id: &str) -> CliResult {
    let org = store.resolve_org(org)?;
    let key = admin::revoke_api_key(store, &org.id, key_id, Actor::Cli)?;
    println!(
        "Revoked API key \"{}\" ({}) of \"{}\"; it stops working at once.",
        key.name, key.key_id, org.name
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
fn print_key(
    org: &Organization,
    scim_url: &str,
    token: &str,
    scope: KeyScope,
    json: bool,
    what: &str,
) {
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
        "{}",
        match scope {
            KeyScope::Provision => {
                "The API key is shown only this once. Paste the SCIM URL and the key into your \
                 identity provider; anyone holding the key can manage this organization's members."
            }
            KeyScope::Read => {
                "The API key is shown only this once. It can read this organization's members \
                 and groups (SCIM GET and .search) and change nothing: give it to the app or \
                 script that reads the directory."
            }
        }
    );
}
