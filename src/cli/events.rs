//! `events`: an organization's event log.

use super::CliResult;
use super::settings::Common;
use crate::store::{Event, Store, SyncMode};

/// `events ORG`: the newest `limit` events, newest first.
pub(super) fn show(common: &Common, org: &str, json: bool, limit: u32) -> CliResult {
    let store = Store::open(&common.data_dir, SyncMode::Full)?;
    let org = store.resolve_org(org)?;
    let events = store.list_events(&org.id, limit)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        events.into_iter().for_each(print_event);
    }
    Ok(())
}

/// One event as a line: time, type, who (with the API key used) and what.
fn print_event(e: Event) {
    let actor = match e.key_id {
        Some(key) => format!("{} (key {key})", e.actor),
        None => e.actor,
    };
    println!("{}  {:<34} {:<24} {}", e.at, e.event_type, actor, e.summary);
}
