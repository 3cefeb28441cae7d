//! The SQLite store: the only place SQL lives besides `sql/`.
//!
//! One database file holds everything. Writes go through a single connection (an r2d2 pool
//! of size one) inside `BEGIN IMMEDIATE` transactions, so in-process writers queue on the pool
//! instead of spinning on SQLite's busy handler; other processes (the CLI while `serve` runs)
//! are serialised by `busy_timeout`. Reads use a separate pool of `query_only` connections,
//! which WAL lets run beside the writer.
//!
//! The writer never checkpoints the WAL itself: a checkpoint (copying committed pages into the
//! main file, with an `fsync`) inside a commit held the writer, and every request queued behind
//! it, for milliseconds every few dozen commits. A [`Checkpointer`] thread does it on its own
//! connection shortly after commits, beside the writer.
//!
//! Store methods are synchronous; the HTTP layer calls them from `web::block`, or, for a read
//! whose cost is bounded, on its own thread through [`Store::read_now`] when a reader is idle.

mod admin;
mod events;
mod filter_sql;
mod groups;
mod keys;
mod ldap;
mod lists;
pub mod maintenance;
mod migrations;
mod orgs;
mod outbox;
mod settings;
mod transfer;
mod users;
mod views;
mod webhooks;

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use admin::AdminSessionRecord;
pub use events::{Actor, DayCount, Event, EventQuery, EventType, NewEvent, Origin};
pub use keys::{
    ApiKey, ApiKeyRecord, DEFAULT_KEY_NAME, IssuedKey, KeyScope, KeySpec, MAX_KEY_NAME_CHARS,
    ReplacedKey, Rotation, RotationTarget, parse_key_name,
};
pub use ldap::{GroupName, LdapGroup, LdapReader, LdapScan, LdapUser};
pub use migrations::SCHEMA_VERSION;
pub use orgs::{OrgChanges, OrgSummary, Organization, parse_ldap_base, parse_org_name};
pub use transfer::{DirectoryExport, ExportedGroup, ImportGroup, ImportReport};
pub use users::Page;
pub use views::MemberSummary;
pub use webhooks::{
    AttemptReport, Backlog, DeliveriesView, DeliveryTarget, DueDelivery, NewWebhook, QueuedMessage,
    RetryPolicy, WebhookChanges, WebhookEndpoint,
};

/// The database file name inside the data directory.
pub const DB_FILE_NAME: &str = "scim-appliance.db";

/// How hard SQLite works to make a commit durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// `synchronous=NORMAL`: in WAL mode a commit survives a crash of the process, but the last
    /// commits before a power loss or kernel crash may roll back (the file stays consistent).
    Normal,
    /// `synchronous=FULL`: every commit is fsynced before it is acknowledged; survives power
    /// loss, at the cost of one fsync per write.
    Full,
}

impl SyncMode {
    fn pragma(self) -> &'static str {
        match self {
            SyncMode::Normal => "NORMAL",
            SyncMode::Full => "FULL",
        }
    }
}

/// Everything that can go wrong below the HTTP and CLI layers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("could not get a database connection")]
    Pool(#[from] r2d2::Error),
    #[error("could not read or write {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database {path} has schema version {found}, newer than this binary supports \
         ({supported}); it was written by a newer scim-appliance. Run that version (or restore \
         a backup made for this one); the file was not touched"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: usize,
        supported: usize,
    },
    #[error("could not migrate the database schema")]
    Migration(#[from] rusqlite_migration::Error),
    /// A lookup by a user-supplied reference found nothing.
    #[error("{0}")]
    NotFound(String),
    /// User-supplied input broke a rule; the message says which.
    #[error("{0}")]
    Invalid(String),
    /// A list's filter or sort names an unknown attribute or compares it the wrong way.
    #[error("{0}")]
    InvalidFilter(String),
    /// A uniqueness rule would be broken (409 `uniqueness`).
    #[error("{0}")]
    Conflict(String),
    /// Creating or restoring an active member would exceed the organization's seat limit.
    #[error("Seat limit has been reached.")]
    SeatLimit,
}

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    writer: Pool<SqliteConnectionManager>,
    readers: Pool<SqliteConnectionManager>,
    path: PathBuf,
    /// Notified after a commit that enqueued webhook messages (the delivery worker waits on it).
    outbox_ready: Arc<tokio::sync::Notify>,
    /// Totals and page ends of recent list queries, so paging through everything is linear.
    lists: Arc<lists::Lists>,
    /// Told after each commit; checkpoints the WAL in the background.
    checkpointer: Arc<Checkpointer>,
}

/// How much a write transaction changes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Size {
    /// One SCIM operation: SQLite's default page cache holds it.
    Small,
    /// An import: tens of thousands of rows and their index entries. With the default cache
    /// SQLite spilled changed pages to the WAL in the middle of the transaction and read them
    /// back, most of an import's time.
    Large,
}

/// The writer's page cache while a large transaction runs: [`LARGE_CACHE_KIB`]; when dropped,
/// the cache size it replaced is set again and the memory released, so a server's idle memory
/// stays small.
struct LargeCache<'c> {
    conn: &'c Connection,
    /// `cache_size` as it was.
    before: i64,
}

/// The writer's page cache for a large transaction, in KiB.
const LARGE_CACHE_KIB: i64 = 32 * 1024;

impl<'c> LargeCache<'c> {
    fn on(conn: &'c Connection) -> rusqlite::Result<LargeCache<'c>> {
        let before = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
        conn.pragma_update(None, "cache_size", -LARGE_CACHE_KIB)?;
        Ok(LargeCache { conn, before })
    }
}

impl Drop for LargeCache<'_> {
    fn drop(&mut self) {
        let restored = self
            .conn
            .pragma_update(None, "cache_size", self.before)
            .and_then(|()| self.conn.execute_batch("PRAGMA shrink_memory"));
        if let Err(e) = restored {
            tracing::warn!(error = %e, "could not shrink the writer's page cache");
        }
    }
}

/// Checkpoints the WAL on its own thread and connection, [`CHECKPOINT_DELAY`] after the commit
/// that asks for it (later commits meanwhile join the same checkpoint), while the writer goes
/// on. A passive checkpoint never waits for readers or the writer; what it cannot copy yet, the
/// next one does. When the last handle of the store is dropped (a CLI command ending), a
/// pending checkpoint runs at once and the drop waits for it, so no command leaves its commits
/// only in the WAL.
struct Checkpointer {
    wake: Option<std::sync::mpsc::SyncSender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How long the checkpointer lets commits gather before it checkpoints them.
const CHECKPOINT_DELAY: Duration = Duration::from_millis(200);

impl Checkpointer {
    fn start(path: &Path, sync: SyncMode) -> Result<Checkpointer, StoreError> {
        let conn = Connection::open(path)?;
        configure(&conn, sync)?;
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new()
            .name("wal-checkpoint".into())
            .spawn(move || {
                use std::sync::mpsc::RecvTimeoutError;
                // Until the store is dropped with nothing pending: wait for a commit.
                while woken.recv().is_ok() {
                    // Let more commits gather, unless the store is being dropped.
                    let due = std::time::Instant::now() + CHECKPOINT_DELAY;
                    let closing = loop {
                        let left = due.saturating_duration_since(std::time::Instant::now());
                        match woken.recv_timeout(left) {
                            Ok(()) => {}
                            Err(RecvTimeoutError::Timeout) => break false,
                            Err(RecvTimeoutError::Disconnected) => break true,
                        }
                    };
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "could not checkpoint the write-ahead log");
                    }
                    if closing {
                        break;
                    }
                }
            })
            .map_err(|source| StoreError::Io {
                path: path.to_owned(),
                source,
            })?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
        })
    }

    /// After a commit: a checkpoint soon (one already due covers it).
    fn nudge(&self) {
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `ANALYZE` while the members have no statistics yet (SQLite's `PRAGMA optimize` leaves
/// tables never analysed alone), then `PRAGMA optimize`, which analyses a table again once it
/// has grown or shrunk tenfold; both sample a bounded number of rows per index. Other
/// connections load statistics only with the schema, so when they changed, the schema is
/// touched (a table created and dropped) to make every pooled reader load them.
fn optimize(conn: &Connection) -> Result<(), StoreError> {
    let statistics = |conn: &Connection| -> Result<Option<String>, StoreError> {
        let exists: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1')",
            [],
            |r| r.get(0),
        )?;
        if !exists {
            return Ok(None);
        }
        Ok(conn.query_row(
            "SELECT group_concat(tbl || ' ' || ifnull(idx, '') || ' ' || stat, ';')
             FROM sqlite_stat1",
            [],
            |r| r.get(0),
        )?)
    };
    conn.execute_batch("PRAGMA analysis_limit = 1000")?;
    let before = statistics(conn)?;
    let users_analysed = before
        .as_deref()
        .is_some_and(|s| s.split(';').any(|row| row.starts_with("users ")));
    conn.execute_batch(if users_analysed {
        "PRAGMA optimize"
    } else {
        "ANALYZE"
    })?;
    if statistics(conn)? != before {
        conn.execute_batch(
            "BEGIN IMMEDIATE;
             CREATE TABLE statistics_reload (x);
             DROP TABLE statistics_reload;
             COMMIT;",
        )?;
    }
    Ok(())
}

impl Store {
    /// Opens (creating if needed) `<data_dir>/scim-appliance.db`, applies pending migrations and
    /// refuses a database whose schema is newer than this binary knows.
    pub fn open(data_dir: &Path, sync: SyncMode) -> Result<Store, StoreError> {
        create_private_dir(data_dir)?;
        let path = maintenance::database_path(data_dir);
        create_private_file(&path)?;

        let mut conn = Connection::open(&path)?;
        configure(&conn, sync)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        migrations::apply(&mut conn, &path)?;
        {
            let tx = conn.transaction()?;
            orgs::assign_missing_ldap_bases(&tx)?;
            tx.commit()?;
        }
        optimize(&conn)?;
        drop(conn);

        // No test on check-out: a local SQLite connection does not go stale, and the test
        // (an empty statement) was a measurable part of a small read.
        let writer = Pool::builder()
            .max_size(1)
            .connection_timeout(Duration::from_secs(30))
            .test_on_check_out(false)
            .build(manager(&path, sync, false))?;
        let readers = Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .test_on_check_out(false)
            .build(manager(&path, sync, true))?;
        let checkpointer = Arc::new(Checkpointer::start(&path, sync)?);
        Ok(Store {
            writer,
            readers,
            path,
            outbox_ready: Arc::default(),
            lists: Arc::default(),
            checkpointer,
        })
    }

    /// Refreshes the query planner's statistics where the tables changed enough to need it
    /// (`PRAGMA optimize`, bounded work): without them SQLite may scan an organization's
    /// members for a lookup an index answers, such as an email, once a directory has grown.
    /// Run at open and periodically by the housekeeping thread.
    pub fn optimize(&self) -> Result<(), StoreError> {
        optimize(&*self.writer.get()?)
    }

    /// Notified (one stored permit) after each commit that enqueued webhook messages.
    pub fn outbox_ready(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.outbox_ready)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` inside one write transaction, committed only if `f` succeeds. A SCIM operation,
    /// its side effects and its events all go through one call, so they land together or not at all.
    fn write<T, E>(&self, f: impl FnOnce(&Transaction<'_>) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        self.write_or_discard(true, Size::Small, f)
    }

    /// Like [`Store::write`], but with `commit` false the transaction is rolled back even when
    /// `f` succeeds: a dry run that does exactly the work, checks included, and keeps nothing.
    fn write_or_discard<T, E>(
        &self,
        commit: bool,
        size: Size,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let conn = self.writer.get().map_err(StoreError::from)?;
        // Dropped after the transaction ends.
        let _cache = match size {
            Size::Small => None,
            Size::Large => Some(LargeCache::on(&conn).map_err(StoreError::from)?),
        };
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)
            .map_err(StoreError::from)?;
        outbox::take_enqueued();
        let value = f(&tx);
        let enqueued = outbox::take_enqueued();
        let value = value?;
        if commit {
            tx.commit().map_err(StoreError::from)?;
            self.checkpointer.nudge();
            if enqueued {
                self.outbox_ready.notify_one();
            }
        } else {
            tx.rollback().map_err(StoreError::from)?;
        }
        Ok(value)
    }

    /// Runs `f` on a read-only connection: the one [`Store::read_now`] lent this thread, if
    /// any, else one from the pool (waiting for it if all are busy).
    fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if let Some(lent) = Lent::take(self.identity()) {
            return f(&lent);
        }
        let conn: PooledConnection<_> = self.readers.get().map_err(StoreError::from)?;
        f(&conn)
    }

    /// Runs `op` at once on this thread if a reader is idle, lending it to the store reads
    /// `op` makes; when every reader is busy, hands `op` back unrun. For reads whose cost is
    /// bounded (one member, a lookup by a unique attribute, an API key): on an async worker
    /// they cost less than the hand-off to the blocking pool and back, which was most of such
    /// a request's time, and they never wait for a reader there.
    pub fn read_now<T, F: FnOnce() -> T>(&self, op: F) -> Result<T, F> {
        let Some(conn) = self.readers.try_get() else {
            return Err(op);
        };
        let _lent = Lent::lend(self.identity(), conn);
        Ok(op())
    }

    /// What tells this store's pools from another's (clones share them).
    fn identity(&self) -> usize {
        Arc::as_ptr(&self.lists) as usize
    }

    /// Bytes on disk of the database file and its write-ahead log (for metrics).
    pub fn database_bytes(&self) -> u64 {
        let wal = {
            let mut name = self.path.clone().into_os_string();
            name.push("-wal");
            PathBuf::from(name)
        };
        [self.path.as_path(), wal.as_path()]
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Moves every commit from the WAL into the main file and empties the WAL, so the file is
    /// complete on its own (at shutdown). Waits for readers and the writer to finish.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = self.writer.get()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Confirms the database answers a query (for `/alive`).
    pub fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(StoreError::from)
        })
    }
}

thread_local! {
    /// The reader [`Store::read_now`] lent to this thread, with the identity of its store.
    static LENT: RefCell<Option<(usize, PooledConnection<SqliteConnectionManager>)>> =
        const { RefCell::new(None) };
}

/// A reader lent to this thread: taken by a read of the same store, and put back when that
/// read ends (a read nested inside it uses the pool); given back to the pool when the lending
/// [`Store::read_now`] ends, panic or not.
struct Lent {
    store: usize,
    conn: Option<PooledConnection<SqliteConnectionManager>>,
}

impl Lent {
    fn lend(store: usize, conn: PooledConnection<SqliteConnectionManager>) -> LendGuard {
        LENT.with(|slot| *slot.borrow_mut() = Some((store, conn)));
        LendGuard
    }

    fn take(store: usize) -> Option<Lent> {
        LENT.with(|slot| {
            let mut slot = slot.borrow_mut();
            match slot.take() {
                Some((owner, conn)) if owner == store => Some(Lent {
                    store,
                    conn: Some(conn),
                }),
                other => {
                    *slot = other;
                    None
                }
            }
        })
    }
}

impl std::ops::Deref for Lent {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a lent reader is held until dropped")
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            LENT.with(|slot| *slot.borrow_mut() = Some((self.store, conn)));
        }
    }
}

/// Ends a lending: the reader goes back to the pool.
struct LendGuard;

impl Drop for LendGuard {
    fn drop(&mut self) {
        LENT.with(|slot| drop(slot.borrow_mut().take()));
    }
}

fn manager(path: &Path, sync: SyncMode, query_only: bool) -> SqliteConnectionManager {
    SqliteConnectionManager::file(path)
        .with_flags(OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .with_init(move |c| {
            configure(c, sync)?;
            // Read connections are opened read-write (WAL readers need the -shm file) but
            // refuse writes, so a query that should not write cannot.
            c.pragma_update(None, "query_only", query_only)?;
            if !query_only {
                // The checkpointer's work (see the module's documentation).
                c.pragma_update(None, "wal_autocheckpoint", 0)?;
            }
            Ok(())
        })
}

/// Per-connection settings; `journal_mode=WAL` is persistent and set once in [`Store::open`].
fn configure(conn: &Connection, sync: SyncMode) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "foreign_keys", true)?;
    conn.pragma_update(None, "synchronous", sync.pragma())?;
    conn.set_prepared_statement_cache_capacity(64);
    filter_sql::register_functions(conn)
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let io_err = |source| StoreError::Io {
        path: dir.to_owned(),
        source,
    };
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(io_err)
}

/// Creates the database file with mode 0600 before SQLite opens it; SQLite gives the `-wal`
/// and `-shm` files the same permissions, so the hashes never become world-readable.
fn create_private_file(path: &Path) -> Result<(), StoreError> {
    private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::Io {
            path: path.to_owned(),
            source,
        })
}

/// Options for files only their owner may read (the database, backups, exports): new files
/// get mode 0600 on Unix.
pub fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The organizations the main database file holds on its own, without its WAL: what a
    /// checkpoint has copied there.
    fn orgs_in_main_file(data_dir: &Path) -> i64 {
        let copy = tempfile::TempDir::new().expect("dir");
        let main = copy.path().join(DB_FILE_NAME);
        std::fs::copy(data_dir.join(DB_FILE_NAME), &main).expect("copy");
        let conn = Connection::open(&main).expect("open the copy");
        conn.query_row("SELECT count(*) FROM organizations", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn commits_reach_the_main_file_in_the_background_and_when_the_store_is_dropped() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        store.create_org("First", None, Actor::Cli).expect("org");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while orgs_in_main_file(dir.path()) < 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the commit never reached the main file"
            );
            std::thread::sleep(Duration::from_millis(50));
        }

        store.create_org("Second", None, Actor::Cli).expect("org");
        drop(store);
        assert_eq!(
            orgs_in_main_file(dir.path()),
            2,
            "dropping the store checkpoints what is pending"
        );
    }

    #[test]
    fn the_writer_leaves_checkpoints_to_the_checkpointer() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let pages: i64 = store
            .writer
            .get()
            .expect("writer")
            .query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(pages, 0);
    }

    #[test]
    fn an_import_gives_the_writer_its_default_cache_back() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        let org = store.create_org("Acme", None, Actor::Cli).expect("org").id;
        let member = serde_json::json!({"userName": "ann@example.com"});
        let serde_json::Value::Object(member) = member else {
            unreachable!()
        };
        let report = store
            .import_directory(&org, [Ok(member)], Vec::new(), false, false, &|| {})
            .expect("import");
        assert_eq!(report.members_created, 1);
        let cache: i64 = store
            .writer
            .get()
            .expect("writer")
            .query_row("PRAGMA cache_size", [], |r| r.get(0))
            .expect("pragma");
        assert_eq!(cache, -2000, "SQLite's default, as the writer opened");
    }

    #[test]
    fn a_lent_reader_serves_the_reads_inside_read_now_and_returns_to_the_pool() {
        let dir = tempfile::TempDir::new().expect("dir");
        let store = Store::open(dir.path(), SyncMode::Normal).expect("store");
        // Every reader but one busy: a read inside `read_now` can only use the lent one (the
        // pool would make it wait 30 s for another).
        let mut held: Vec<_> = (0..8)
            .map(|_| store.readers.get().expect("reader"))
            .collect();
        held.pop();
        let started = std::time::Instant::now();
        store
            .read_now(|| store.ping().expect("ping"))
            .unwrap_or_else(|_| panic!("a reader was idle"));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(store.readers.state().idle_connections, 1, "given back");

        // Every reader busy: the operation is handed back unrun.
        let last = store.readers.get().expect("reader");
        assert!(store.read_now(|| ()).is_err());
        drop((held, last));
    }
}
