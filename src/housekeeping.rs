//! Background work of a running server: pruning the event log (and the webhook messages of its
//! events) past its retention, refreshing the query planner's statistics and taking scheduled
//! backups ([`start`]), and writing when API
//! keys were last used ([`start_key_usage_flush`]). Each runs on its own thread (they only do
//! blocking SQLite work, and work the same under any async runtime); SQLite's WAL keeps SCIM
//! requests answering meanwhile. The threads end when their handles are dropped with the server.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use crate::auth::Authenticator;
use crate::store::Store;
use crate::store::maintenance;
use crate::timestamp;

/// How often the loop wakes up to see whether work is due.
const TICK: Duration = Duration::from_secs(60);
/// How often old events are pruned.
const RETENTION_EVERY: Duration = Duration::from_secs(60 * 60);
/// How often the query planner's statistics are refreshed where tables grew or shrank a lot
/// (an initial sync, an import): cheap when nothing changed.
const OPTIMIZE_EVERY: Duration = Duration::from_secs(5 * 60);

/// What to do in the background.
#[derive(Clone, Debug)]
pub struct Schedule {
    /// Delete events older than this many days; `None` keeps them forever.
    pub event_retention_days: Option<u32>,
    /// Take a backup this often; `None` for no scheduled backups.
    pub backup_every: Option<Duration>,
    /// Scheduled backups to keep (older default-named backups are deleted).
    pub backup_keep: u32,
    pub data_dir: PathBuf,
}

/// The running housekeeping thread; dropping it stops the thread at its next tick.
pub struct Housekeeper {
    _stop: mpsc::Sender<()>,
}

/// Starts the housekeeping thread (nothing to do gives a thread that only waits to stop).
pub fn start(store: Store, schedule: Schedule) -> std::io::Result<Housekeeper> {
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("housekeeping".into())
        .spawn(move || run(&store, &schedule, &stopped))?;
    Ok(Housekeeper { _stop: stop })
}

fn run(store: &Store, schedule: &Schedule, stopped: &mpsc::Receiver<()>) {
    let mut last_retention: Option<SystemTime> = None;
    let mut last_optimize = Some(SystemTime::now());
    let mut last_backup = maintenance::newest_backup_time(&schedule.data_dir);
    loop {
        let now = SystemTime::now();
        if let Some(days) = schedule.event_retention_days
            && due(last_retention, RETENTION_EVERY, now)
        {
            last_retention = Some(now);
            let cutoff = timestamp::format(
                time::OffsetDateTime::now_utc() - time::Duration::days(i64::from(days)),
            );
            match store.prune_events_before(&cutoff) {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, days, "pruned old events"),
                Err(e) => {
                    tracing::error!(error = %crate::error::error_chain(&e), "event pruning failed")
                }
            }
            // Webhook messages go with their events; undelivered ones are counted per endpoint.
            match store.prune_webhooks_before(&cutoff) {
                Ok(0) => {}
                Ok(n) => tracing::warn!(
                    undelivered = n,
                    days,
                    "removed webhook messages never delivered within the event retention"
                ),
                Err(e) => {
                    tracing::error!(error = %crate::error::error_chain(&e), "webhook pruning failed")
                }
            }
        }
        if due(last_optimize, OPTIMIZE_EVERY, now) {
            last_optimize = Some(now);
            if let Err(e) = store.optimize() {
                tracing::error!(error = %crate::error::error_chain(&e), "refreshing query statistics failed");
            }
        }
        if let Some(every) = schedule.backup_every
            && due(last_backup, every, now)
        {
            last_backup = Some(now);
            match maintenance::scheduled_backup(&schedule.data_dir, schedule.backup_keep as usize) {
                Ok(path) => tracing::info!(file = %path.display(), "scheduled backup written"),
                Err(e) => {
                    tracing::error!(error = %crate::error::error_chain(&e), "scheduled backup failed")
                }
            }
        }
        match stopped.recv_timeout(TICK) {
            Err(RecvTimeoutError::Timeout) => {}
            Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// The thread writing the API keys' "last used" times, which the authenticator gathers in
/// memory; dropping it writes them one last time and waits for that.
pub struct KeyUsageFlusher {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Starts writing the keys' "last used" times every `every` (a minute in a real server): at
/// most one write per key per interval, none on the request path.
pub fn start_key_usage_flush(
    auth: Arc<Authenticator>,
    store: Store,
    every: Duration,
) -> std::io::Result<KeyUsageFlusher> {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("key-usage".into())
        .spawn(move || {
            loop {
                let stopping =
                    !matches!(stopped.recv_timeout(every), Err(RecvTimeoutError::Timeout));
                if let Err(e) = auth.flush_key_usage(&store) {
                    tracing::error!(
                        error = %crate::error::error_chain(&e),
                        "could not record when API keys were last used"
                    );
                }
                if stopping {
                    return;
                }
            }
        })?;
    Ok(KeyUsageFlusher {
        stop: Some(stop),
        thread: Some(thread),
    })
}

impl Drop for KeyUsageFlusher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn due(last: Option<SystemTime>, every: Duration, now: SystemTime) -> bool {
    last.is_none_or(|t| now.duration_since(t).unwrap_or_default() >= every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_is_due_first_time_and_after_the_interval() {
        let now = SystemTime::now();
        let hour = Duration::from_secs(3600);
        assert!(due(None, hour, now));
        assert!(!due(Some(now - hour / 2), hour, now));
        assert!(due(Some(now - hour), hour, now));
    }
}
