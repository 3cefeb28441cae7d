//! Slows down clients that keep presenting bad API keys.
//!
//! Failures are counted per client address in a fixed window; once an address reaches the
//! limit, its requests that are not already proven good (a cached key) get 429 with
//! `Retry-After` until the window ends. Proven keys keep working, so an identity provider that
//! shares an egress address with a misbehaving client is not locked out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Addresses tracked at most; beyond this, expired windows are dropped first, then all.
const MAX_TRACKED: usize = 10_000;

pub struct Throttle {
    max_failures: u32,
    window: Duration,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

struct Window {
    started: Instant,
    failures: u32,
}

impl Throttle {
    pub fn new(max_failures: u32, window: Duration) -> Throttle {
        Throttle {
            max_failures,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `ip` may try again, when it is currently blocked.
    pub fn retry_after(&self, ip: IpAddr) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let w = windows.get(&ip)?;
        let elapsed = w.started.elapsed();
        (w.failures >= self.max_failures && elapsed < self.window)
            .then(|| (self.window - elapsed).as_secs().max(1))
    }

    /// Counts one failed attempt from `ip`.
    pub fn record_failure(&self, ip: IpAddr) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&ip) {
            let window = self.window;
            windows.retain(|_, w| w.started.elapsed() < window);
            if windows.len() >= MAX_TRACKED {
                windows.clear();
            }
        }
        let w = windows.entry(ip).or_insert(Window {
            started: Instant::now(),
            failures: 0,
        });
        if w.started.elapsed() >= self.window {
            w.started = Instant::now();
            w.failures = 0;
        }
        w.failures = w.failures.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn blocks_after_the_limit_per_address() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..2 {
            t.record_failure(A);
        }
        assert_eq!(t.retry_after(A), None);
        t.record_failure(A);
        let wait = t.retry_after(A).expect("blocked");
        assert!((1..=60).contains(&wait));
        assert_eq!(t.retry_after(B), None);
    }

    #[test]
    fn the_block_ends_with_the_window() {
        let t = Throttle::new(1, Duration::from_millis(20));
        t.record_failure(A);
        assert!(t.retry_after(A).is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(t.retry_after(A), None);
        t.record_failure(A);
        assert!(t.retry_after(A).is_some(), "a new window counts afresh");
    }
}
