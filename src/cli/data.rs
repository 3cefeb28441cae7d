//! The database as a whole: `backup`, `restore`, `check`, and an organization's directory as a
//! file: `export`, `import`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::settings::Common;
use super::{CliResult, configured_public_url, confirm};
use crate::store::maintenance::{self, FileReport};
use crate::store::{ImportReport, Store, SyncMode};
use crate::timestamp;
use crate::transfer::{self, Format};

/// `backup`: a consistent copy, then optionally prunes older default-named backups.
pub(super) fn backup(common: &Common, file: Option<PathBuf>, keep: Option<u32>) -> CliResult {
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

/// `restore`: asks first when a database would be replaced, unless `--yes`.
pub(super) fn restore(common: &Common, file: &Path, yes: bool) -> CliResult {
    let live = maintenance::database_path(&common.data_dir);
    if !yes
        && live.exists()
        && !confirm(&format!(
            "Replace {} with {}? The current files are kept beside it. [y/N] ",
            live.display(),
            file.display()
        ))?
    {
        return Err("not confirmed; nothing was changed (pass --yes to skip the question)".into());
    }
    let stamp = timestamp::compact(time::OffsetDateTime::now_utc());
    let aside = maintenance::restore(&common.data_dir, file, &stamp)?;
    println!("Restored {} from {}.", live.display(), file.display());
    if let Some(aside) = aside {
        println!("The replaced database is kept as {}.", aside.display());
    }
    Ok(())
}

/// `check`: prints the report; any fault makes the command fail (exit 1).
pub(super) fn check(common: &Common, json: bool) -> CliResult {
    let report = maintenance::inspect(&maintenance::database_path(&common.data_dir))?;
    let faults = report.faults();
    if json {
        print_check_json(&report, &faults)?;
    } else {
        print_check(&report, &faults);
    }
    if faults.is_empty() {
        Ok(())
    } else {
        Err(format!("{} problem(s) found", faults.len()).into())
    }
}

/// The report as one JSON object, with `ok` and `faults` added.
fn print_check_json(report: &FileReport, faults: &[String]) -> CliResult {
    let mut value = serde_json::to_value(report)?;
    value["ok"] = json!(faults.is_empty());
    value["faults"] = json!(faults);
    println!("{}", serde_json::to_string_pretty(&value)?);
    Ok(())
}

fn print_check(report: &FileReport, faults: &[String]) {
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
    for fault in faults {
        println!("  PROBLEM: {fault}");
    }
    if faults.is_empty() {
        println!("  integrity: ok");
    }
}

/// `export`: to `output` (created private: it holds personal data) or standard output; the
/// counts go to standard error so they never mix with the data.
pub(super) fn export(
    common: &Common,
    org: &str,
    format: Format,
    output: Option<&Path>,
) -> CliResult {
    let store = Store::open(&common.data_dir, SyncMode::Full)?;
    let org = store.resolve_org(org)?;
    let base_url = format!(
        "{}/v2/{}",
        configured_public_url(&store, common.public_url.as_deref())?,
        org.id
    );
    let (members, groups) = match output {
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

/// Creates `path` for writing, readable only by its owner (exports hold personal data).
fn private_file(path: &Path) -> Result<std::fs::File, Box<dyn std::error::Error>> {
    Ok(crate::store::private_options()
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?)
}

/// `import`: all or nothing, with a progress bar while it works.
pub(super) fn import(
    common: &Common,
    org: &str,
    file: &Path,
    format: Option<Format>,
    dry_run: bool,
    json: bool,
) -> CliResult {
    let store = Store::open(&common.data_dir, SyncMode::Full)?;
    let org = store.resolve_org(org)?;
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let format = format.unwrap_or_else(|| Format::from_file_name(file));
    let mut parsed = transfer::parse(format, &bytes)?;
    let groups = std::mem::take(&mut parsed.groups);
    let bar = progress_bar(parsed.member_count + groups.len(), dry_run);
    let report = store.import_directory(
        &org.id,
        parsed.members(),
        groups,
        parsed.merge,
        dry_run,
        &|| bar.inc(1),
    )?;
    bar.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_import_report(&report, dry_run);
    }
    Ok(())
}

/// A bar over the `len` members and groups to import (hidden when stderr is no terminal).
fn progress_bar(len: usize, dry_run: bool) -> indicatif::ProgressBar {
    indicatif::ProgressBar::new(len as u64)
        .with_style(
            indicatif::ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta} left)")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        )
        .with_message(if dry_run { "checking" } else { "importing" })
}

fn print_import_report(report: &ImportReport, dry_run: bool) {
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
