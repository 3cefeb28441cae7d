//! The one bound on argon2 work in a process.
//!
//! Every argon2 verification a request can cause — an API key seen for the first time, an
//! admin sign-in or password change, and later LDAP binds — goes through [`Argon2Gate`]. Each
//! run costs ~7–19 MiB and ~15 ms of one core, and an unauthenticated client chooses how many
//! to ask for, so the gate
//!
//! - runs at most `slots` at once (half the cores, at least one: the other half keeps
//!   serving requests that need no argon2, such as an identity provider with a proven key);
//! - lets at most [`MAX_WAITING_PER_SLOT`] × `slots` requests wait for a slot, each at most
//!   [`MAX_WAIT`]; others are refused at once with [`Busy`], without running argon2.
//!
//! Memory for argon2 is therefore bounded by `slots` working buffers (see
//! [`super::password`]), whatever arrives.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

/// Requests allowed to queue per slot; one run takes ~15 ms, so a full queue drains in well
/// under a second.
pub const MAX_WAITING_PER_SLOT: usize = 32;
/// Longest a request waits for a slot before it is refused.
pub const MAX_WAIT: Duration = Duration::from_secs(2);
/// Seconds a refused client is told to wait.
pub const BUSY_RETRY_AFTER: u64 = 1;

/// Too much argon2 work is queued; try again in [`Busy::retry_after`] seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy checking credentials; retry in {retry_after} seconds")]
pub struct Busy {
    pub retry_after: u64,
}

/// Bounds concurrent argon2 runs; one per process, shared by every front door.
pub struct Argon2Gate {
    slots: usize,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    running: AtomicUsize,
    /// Runs finished or under way, for tests and metrics.
    runs: AtomicU64,
    /// Requests refused because the queue was full or the wait too long.
    refused: AtomicU64,
    /// The most runs seen at once (never above `slots`).
    peak_running: AtomicUsize,
}

impl Argon2Gate {
    /// A gate with `slots` concurrent runs (at least one).
    pub fn new(slots: usize) -> Argon2Gate {
        let slots = slots.max(1);
        Argon2Gate {
            slots,
            permits: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            runs: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            peak_running: AtomicUsize::new(0),
        }
    }

    /// Half this machine's cores, at least one and at most four.
    pub fn for_this_machine() -> Argon2Gate {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Argon2Gate::new((cores / 2).clamp(1, 4))
    }

    /// How many argon2 runs may happen at once.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// argon2 runs so far.
    pub fn runs(&self) -> u64 {
        self.runs.load(Ordering::Relaxed)
    }

    /// Requests refused as [`Busy`] so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The most argon2 runs that were ever under way at the same time.
    pub fn peak_running(&self) -> usize {
        self.peak_running.load(Ordering::Relaxed)
    }

    /// Runs `work` (one argon2 computation) on the blocking pool once a slot is free. The slot
    /// is held until `work` returns, even if the caller stops waiting.
    pub async fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => self.wait_for_slot().await?,
        };
        let this = Arc::clone(self);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let now = this.running.fetch_add(1, Ordering::SeqCst) + 1;
            this.peak_running.fetch_max(now, Ordering::SeqCst);
            this.runs.fetch_add(1, Ordering::Relaxed);
            let out = work();
            this.running.fetch_sub(1, Ordering::SeqCst);
            out
        });
        // A join error means `work` panicked or the runtime is shutting down: no answer.
        task.await.map_err(|_| self.refuse())
    }

    async fn wait_for_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Busy> {
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        let permit = if queued >= self.slots * MAX_WAITING_PER_SLOT {
            None
        } else {
            let acquire = Arc::clone(&self.permits).acquire_owned();
            tokio::time::timeout(MAX_WAIT, acquire)
                .await
                .ok()
                .and_then(Result::ok)
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.ok_or_else(|| self.refuse())
    }

    fn refuse(&self) -> Busy {
        self.refused.fetch_add(1, Ordering::Relaxed);
        Busy {
            retry_after: BUSY_RETRY_AFTER,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_runs_more_than_its_slots_and_refuses_beyond_the_queue() {
        let gate = Arc::new(Argon2Gate::new(1));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let first = {
            let gate = Arc::clone(&gate);
            tokio::spawn(async move {
                gate.run(move || held.recv_timeout(Duration::from_secs(5)).is_ok())
                    .await
            })
        };
        while gate.runs() == 0 {
            tokio::task::yield_now().await;
        }
        let others: Vec<_> = (0..199)
            .map(|_| {
                let gate = Arc::clone(&gate);
                tokio::spawn(async move { gate.run(|| true).await })
            })
            .collect();
        let refusals = (199 - MAX_WAITING_PER_SLOT) as u64;
        while gate.refused() < refusals {
            tokio::task::yield_now().await;
        }
        release.send(()).expect("first run waits");
        assert_eq!(first.await.expect("task"), Ok(true));
        let mut done = 0;
        for t in others {
            match t.await.expect("task") {
                Ok(_) => done += 1,
                Err(busy) => assert_eq!(busy.retry_after, BUSY_RETRY_AFTER),
            }
        }
        assert_eq!(
            done, MAX_WAITING_PER_SLOT,
            "the queue is served, the rest refused"
        );
        assert_eq!(gate.refused(), refusals);
        assert_eq!(gate.peak_running(), 1);
        assert_eq!(gate.runs(), 1 + MAX_WAITING_PER_SLOT as u64);
    }

    #[tokio::test]
    async fn a_slot_is_free_again_after_each_run() {
        let gate = Arc::new(Argon2Gate::new(1));
        for i in 0..5 {
            assert_eq!(gate.run(move || i * 2).await, Ok(i * 2));
        }
        assert_eq!(gate.runs(), 5);
    }
}
