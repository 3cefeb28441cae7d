//! Whole-file operations on the database: consistent backups while `serve` keeps writing,
//! inspection of any database file (integrity, schema version, counts), restore, and the
//! data-directory lock that keeps a restore from pulling the file from under a running server.
//!
//! None of these go through [`Store::open`](super::Store::open): a backup or check must not
//! migrate the file it reads.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use serde::Serialize;

use super::{DB_FILE_NAME, SCHEMA_VERSION, StoreError};

/// Name of the lock file `serve` holds in the data directory.
const LOCK_FILE_NAME: &str = "scim-appliance.lock";
/// Prefix and suffix of backup files made with a default name, so `--keep` prunes only those.
const BACKUP_PREFIX: &str = "scim-appliance-";
/// The folder of default-named backups inside the data directory.
const BACKUPS_DIR_NAME: &str = "backups";
const BACKUP_SUFFIX: &str = ".db";

/// What a database file holds, and whatever is wrong with it.
#[derive(Debug, Serialize)]
pub struct FileReport {
    pub path: PathBuf,
    /// `PRAGMA integrity_check` findings; empty when the file is sound.
    pub problems: Vec<String>,
    /// `user_version`: the number of migrations applied (0 for a file that is not ours).
    pub schema_version: usize,
    pub organizations: Vec<OrgCounts>,
}

/// Sizes of one organization's directory.
#[derive(Debug, Serialize)]
pub struct OrgCounts {
    pub id: String,
    pub name: String,
    pub members: u64,
    pub active_members: u64,
    pub groups: u64,
    pub events: u64,
}

impl FileReport {
    /// Every reason this file cannot be used by this binary, as sentences.
    pub fn faults(&self) -> Vec<String> {
        let mut faults = self.problems.clone();
        if self.schema_version == 0 {
            faults.push("the file has no scim-appliance schema".into());
        } else if self.schema_version > SCHEMA_VERSION {
            faults.push(format!(
                "the schema version is {}, newer than this binary supports ({SCHEMA_VERSION})",
                self.schema_version
            ));
        }
        faults
    }
}

/// Holds the data directory for one `serve`; released when dropped (or the process ends,
/// however it ends: it is an OS advisory lock).
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
}

/// Takes the data directory's lock, or says that a server holds it.
pub fn lock_data_dir(data_dir: &Path) -> Result<DataDirLock, StoreError> {
    super::create_private_dir(data_dir)?;
    let path = data_dir.join(LOCK_FILE_NAME);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(DataDirLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Invalid(format!(
            "a scim-appliance server is using {}; stop it first",
            data_dir.display()
        ))),
        Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Io { path, source }),
    }
}

/// Writes a consistent copy of the database at `source` to `target` with `VACUUM INTO`: one
/// read transaction, so it sees exactly the commits made before it started and never blocks
/// writers. The copy is written beside `target`, checked, flushed and then renamed, so
/// `target` is either absent or complete. Returns its size in bytes.
pub fn backup_file(source: &Path, target: &Path) -> Result<u64, StoreError> {
    if !source.is_file() {
        return Err(StoreError::NotFound(format!(
            "there is no database at {}",
            source.display()
        )));
    }
    if target.exists() {
        return Err(StoreError::Invalid(format!(
            "{} exists already; choose another file name",
            target.display()
        )));
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let partial = partial_path(target);
    let _ = std::fs::remove_file(&partial);
    private_empty_file(&partial)?;
    let written = (|| {
        let conn = open(source, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        let partial_text = partial.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("{} is not a UTF-8 path", partial.display()))
        })?;
        conn.execute("VACUUM INTO ?1", [partial_text])?;
        drop(conn);
        let report = inspect(&partial)?;
        if let Some(fault) = report.faults().into_iter().next() {
            return Err(StoreError::Invalid(format!(
                "the copy is not sound: {fault}"
            )));
        }
        File::open(&partial)
            .and_then(|f| f.sync_all())
            .map_err(io(&partial))?;
        std::fs::rename(&partial, target).map_err(io(target))?;
        sync_dir(target);
        std::fs::metadata(target)
            .map(|m| m.len())
            .map_err(io(target))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The database file of a data directory.
pub fn database_path(data_dir: &Path) -> PathBuf {
    data_dir.join(DB_FILE_NAME)
}

/// Where default-named backups of a data directory go: scheduled ones, `backup` without a
/// file name, and the automatic copy before a schema upgrade.
pub fn backups_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(BACKUPS_DIR_NAME)
}

/// Backs up the data directory's database to `target`, or to a new default-named file in its
/// backups folder; returns the file and its size in bytes.
pub fn back_up(data_dir: &Path, target: Option<PathBuf>) -> Result<(PathBuf, u64), StoreError> {
    let target = target.unwrap_or_else(|| default_backup_path(&backups_dir(data_dir)));
    let bytes = backup_file(&database_path(data_dir), &target)?;
    Ok((target, bytes))
}

/// A default-named backup of the data directory, then pruning its backups folder to the
/// newest `keep` (scheduled backups).
pub fn scheduled_backup(data_dir: &Path, keep: usize) -> Result<PathBuf, StoreError> {
    let (target, _) = back_up(data_dir, None)?;
    prune_backups(&backups_dir(data_dir), keep)?;
    Ok(target)
}

/// When the newest default-named backup of the data directory was written, so a restarted
/// server keeps the rhythm of scheduled backups instead of starting the interval over.
pub fn newest_backup_time(data_dir: &Path) -> Option<std::time::SystemTime> {
    let newest = default_backups(&backups_dir(data_dir)).ok()?.pop()?;
    std::fs::metadata(newest).ok()?.modified().ok()
}

/// A default-named backup file in `dir` for now: `scim-appliance-<UTC timestamp>.db`.
pub fn default_backup_path(dir: &Path) -> PathBuf {
    dir.join(format!(
        "{BACKUP_PREFIX}{}{BACKUP_SUFFIX}",
        crate::timestamp::compact(time::OffsetDateTime::now_utc())
    ))
}

/// The default-named backups in `dir`, oldest first (names carry a UTC timestamp, so name
/// order is age order).
pub fn default_backups(dir: &Path) -> Result<Vec<PathBuf>, StoreError> {
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| StoreError::Io {
            path: dir.to_owned(),
            source,
        })?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(BACKUP_PREFIX) && n.ends_with(BACKUP_SUFFIX))
        })
        .collect();
    backups.sort();
    Ok(backups)
}

/// Deletes the oldest default-named backups in `dir` beyond the newest `keep`; returns the
/// deleted files.
pub fn prune_backups(dir: &Path, keep: usize) -> Result<Vec<PathBuf>, StoreError> {
    let backups = default_backups(dir)?;
    let excess = backups.len().saturating_sub(keep);
    let doomed: Vec<PathBuf> = backups.into_iter().take(excess).collect();
    for path in &doomed {
        std::fs::remove_file(path).map_err(|source| StoreError::Io {
            path: path.clone(),
            source,
        })?;
    }
    Ok(doomed)
}

/// Opens any database file read-only and reports its integrity, schema version and counts.
pub fn inspect(path: &Path) -> Result<FileReport, StoreError> {
    if !path.is_file() {
        return Err(StoreError::NotFound(format!(
            "there is no file at {}",
            path.display()
        )));
    }
    let conn = open(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let problems = match integrity_problems(&conn) {
        Ok(problems) => problems,
        // A file that is not a database at all fails before any check can run.
        Err(e) => vec![format!("not a readable SQLite database: {e}")],
    };
    if !problems.is_empty() {
        return Ok(FileReport {
            path: path.to_owned(),
            problems,
            schema_version: 0,
            organizations: Vec::new(),
        });
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let has = |table: &str| -> Result<bool, StoreError> {
        Ok(conn
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    };
    let schema_version = if has("organizations")? {
        usize::try_from(version).unwrap_or(0)
    } else {
        0
    };
    let organizations = if schema_version >= 2 {
        org_counts(&conn)?
    } else {
        Vec::new()
    };
    Ok(FileReport {
        path: path.to_owned(),
        problems,
        schema_version,
        organizations,
    })
}

/// Replaces the data directory's database with `backup` after checking it, and returns where
/// the replaced files were moved (`None` when there was no database). Refuses while a server
/// holds the directory. A backup with an older schema is migrated by the next start.
pub fn restore(data_dir: &Path, backup: &Path, stamp: &str) -> Result<Option<PathBuf>, StoreError> {
    let _lock = lock_data_dir(data_dir)?;
    let report = inspect(backup)?;
    if let Some(fault) = report.faults().into_iter().next() {
        return Err(StoreError::Invalid(format!(
            "{} cannot be restored: {fault}; nothing was changed",
            backup.display()
        )));
    }
    let live = database_path(data_dir);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    let partial = partial_path(&live);
    let _ = std::fs::remove_file(&partial);
    std::fs::copy(backup, &partial).map_err(io(&partial))?;
    #[cfg(unix)]
    std::fs::set_permissions(
        &partial,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .map_err(io(&partial))?;
    File::open(&partial)
        .and_then(|f| f.sync_all())
        .map_err(io(&partial))?;

    let aside = if live.exists() {
        // Fold the WAL into the main file first, so the file set aside is complete on its own.
        if let Ok(conn) = open(&live, OpenFlags::SQLITE_OPEN_READ_WRITE) {
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
        let aside = data_dir.join(format!("{DB_FILE_NAME}.before-restore-{stamp}"));
        std::fs::rename(&live, &aside).map_err(io(&live))?;
        for suffix in ["-wal", "-shm"] {
            let companion = data_dir.join(format!("{DB_FILE_NAME}{suffix}"));
            if companion.exists() {
                let moved = PathBuf::from(format!("{}{suffix}", aside.display()));
                std::fs::rename(&companion, &moved).map_err(io(&companion))?;
            }
        }
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&partial, &live).map_err(io(&live))?;
    sync_dir(&live);
    Ok(aside)
}

fn integrity_problems(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let findings = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(findings.into_iter().filter(|f| f != "ok").collect())
}

fn org_counts(conn: &Connection) -> Result<Vec<OrgCounts>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT o.id, o.name,
                (SELECT count(*) FROM users u WHERE u.org_id = o.id),
                (SELECT count(*) FROM users u WHERE u.org_id = o.id AND u.active = 1),
                (SELECT count(*) FROM groups g WHERE g.org_id = o.id),
                (SELECT count(*) FROM events e WHERE e.org_id = o.id)
         FROM organizations o ORDER BY o.name, o.id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(OrgCounts {
            id: r.get(0)?,
            name: r.get(1)?,
            members: r.get::<_, i64>(2)? as u64,
            active_members: r.get::<_, i64>(3)? as u64,
            groups: r.get::<_, i64>(4)? as u64,
            events: r.get::<_, i64>(5)? as u64,
        })
    })?;
    rows.collect::<Result<_, _>>().map_err(StoreError::from)
}

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

fn partial_path(target: &Path) -> PathBuf {
    PathBuf::from(format!("{}.partial", target.display()))
}

/// An empty file only the owner can read, for SQLite to fill.
fn private_empty_file(path: &Path) -> Result<(), StoreError> {
    super::private_options()
        .write(true)
        .create_new(true)
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Flushes a directory entry (a rename) to disk where the platform allows it.
fn sync_dir(file: &Path) {
    if let Some(dir) = file.parent()
        && let Ok(d) = File::open(dir)
    {
        let _ = d.sync_all();
    }
}
