//! Limits how often a client may fail to authenticate.
//!
//! Attempts are counted per bucket (a client address, or an address and a key) in a fixed
//! window. An attempt is *reserved* before the expensive check runs and only given back when
//! the check succeeds, so a burst of concurrent attempts is limited exactly like a sequence:
//! with a limit of 10, at most 10 checks run, however many requests arrive at once.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Buckets tracked at most; beyond this, expired windows are dropped first, then the oldest.
const MAX_TRACKED: usize = 10_000;

/// A client address as throttling sees it: IPv4 as is, IPv6 by its /64 (one subscriber's
/// network, which an attacker can otherwise walk address by address).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct ClientKey(Option<IpAddr>);

impl ClientKey {
    /// The bucket of a client address (`None`: the peer address is unknown).
    pub fn of(client: Option<IpAddr>) -> ClientKey {
        ClientKey(client.map(client_network))
    }
}

/// The unit one client is counted in, by throttles and connection caps alike: its IPv4 address
/// (also when written IPv4-mapped), or its IPv6 /64 (one subscriber's network; a single host
/// can use any address in it).
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        v4 => v4,
    }
}

/// Open connections per client ([`client_network`]), for the connection caps of the HTTP and
/// LDAP listeners.
#[derive(Default)]
pub struct OpenConnections(Mutex<HashMap<IpAddr, usize>>);

/// One connection counted against its client until dropped.
pub struct CountedConnection {
    open: Arc<OpenConnections>,
    client: IpAddr,
    /// The client's connections that were already open when this one was counted.
    pub others: usize,
}

impl OpenConnections {
    /// Counts a connection from `peer`; the caller compares [`CountedConnection::others`] with
    /// its cap.
    pub fn count(self: &Arc<Self>, peer: IpAddr) -> CountedConnection {
        let client = client_network(peer);
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(client).or_insert(0);
        let others = *count;
        *count += 1;
        CountedConnection {
            open: Arc::clone(self),
            client,
            others,
        }
    }
}

impl Drop for CountedConnection {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// Attempts per bucket and window; see the module documentation.
pub struct Throttle<K> {
    max_attempts: u32,
    window: Duration,
    windows: Mutex<HashMap<K, Window>>,
}

struct Window {
    started: Instant,
    /// Failed attempts plus those still being checked.
    attempts: u32,
}

/// One reserved attempt. Dropping it counts it as failed (also when the request was abandoned
/// midway, so hanging up cannot be used to dodge the count); [`Attempt::succeeded`] gives it
/// back.
#[must_use = "an attempt counts as failed unless it is settled"]
pub struct Attempt<'a, K: Hash + Eq + Clone> {
    throttle: &'a Throttle<K>,
    key: Option<K>,
    window_started: Instant,
}

impl<K: Hash + Eq + Clone> Attempt<'_, K> {
    /// The check passed: the attempt does not count.
    pub fn succeeded(mut self) {
        self.give_back();
    }

    /// The check could not run (the server was busy): the attempt does not count either.
    pub fn not_checked(mut self) {
        self.give_back();
    }

    fn give_back(&mut self) {
        let Some(key) = self.key.take() else { return };
        let mut windows = self.throttle.lock();
        if let Some(w) = windows.get_mut(&key)
            && w.started == self.window_started
        {
            w.attempts = w.attempts.saturating_sub(1);
        }
    }
}

impl<K: Hash + Eq + Clone> Throttle<K> {
    /// At most `max_attempts` failed (or still running) attempts per bucket and `window`.
    pub fn new(max_attempts: u32, window: Duration) -> Throttle<K> {
        Throttle {
            max_attempts,
            window,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Reserves one attempt for `key`, or says how many seconds to wait when the bucket has
    /// used up its attempts for this window.
    pub fn reserve(&self, key: K) -> Result<Attempt<'_, K>, u64> {
        let mut windows = self.lock();
        let now = Instant::now();
        if windows.len() >= MAX_TRACKED && !windows.contains_key(&key) {
            self.make_room(&mut windows, now);
        }
        let w = windows.entry(key.clone()).or_insert(Window {
            started: now,
            attempts: 0,
        });
        if now.duration_since(w.started) >= self.window {
            *w = Window {
                started: now,
                attempts: 0,
            };
        }
        if w.attempts >= self.max_attempts {
            let left = self.window.saturating_sub(now.duration_since(w.started));
            return Err(left.as_secs().max(1));
        }
        w.attempts += 1;
        Ok(Attempt {
            throttle: self,
            key: Some(key),
            window_started: w.started,
        })
    }

    /// Drops expired windows, then, if still full, the oldest half: a flood of new buckets
    /// costs bounded memory and never clears every bucket at once.
    fn make_room(&self, windows: &mut HashMap<K, Window>, now: Instant) {
        windows.retain(|_, w| now.duration_since(w.started) < self.window);
        if windows.len() >= MAX_TRACKED {
            let mut starts: Vec<Instant> = windows.values().map(|w| w.started).collect();
            starts.sort_unstable();
            let cutoff = starts[starts.len() / 2];
            windows.retain(|_, w| w.started > cutoff);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, Window>> {
        self.windows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "a";
    const B: &str = "b";

    #[test]
    fn blocks_after_the_limit_per_bucket() {
        let t = Throttle::new(3, Duration::from_secs(60));
        for _ in 0..3 {
            drop(t.reserve(A).expect("allowed"));
        }
        let wait = t.reserve(A).err().expect("blocked");
        assert!((1..=60).contains(&wait));
        assert!(t.reserve(B).is_ok(), "other buckets are not affected");
    }

    #[test]
    fn concurrent_reservations_are_limited_like_a_sequence() {
        let t = Throttle::new(10, Duration::from_secs(60));
        let held: Vec<_> = (0..200).filter_map(|_| t.reserve(A).ok()).collect();
        assert_eq!(held.len(), 10, "only the limit may be checked at once");
        drop(held);
        assert!(t.reserve(A).is_err(), "failed attempts stay counted");
    }

    #[test]
    fn successes_and_unchecked_attempts_are_given_back() {
        let t = Throttle::new(2, Duration::from_secs(60));
        for _ in 0..10 {
            t.reserve(A).expect("allowed").succeeded();
            t.reserve(A).expect("allowed").not_checked();
        }
        drop(t.reserve(A).expect("allowed"));
        drop(t.reserve(A).expect("allowed"));
        assert!(t.reserve(A).is_err());
    }

    #[test]
    fn the_block_ends_with_the_window() {
        let t = Throttle::new(1, Duration::from_millis(20));
        drop(t.reserve(A).expect("allowed"));
        assert!(t.reserve(A).is_err());
        std::thread::sleep(Duration::from_millis(30));
        let fresh = t.reserve(A).expect("a new window counts afresh");
        drop(fresh);
        assert!(t.reserve(A).is_err());
    }

    #[test]
    fn a_flood_of_buckets_stays_bounded_without_forgetting_recent_blocks() {
        let t = Throttle::new(1, Duration::from_secs(60));
        drop(t.reserve(0usize).expect("allowed"));
        for k in 1..MAX_TRACKED + 10 {
            drop(t.reserve(k).expect("allowed"));
        }
        assert!(t.lock().len() <= MAX_TRACKED);
        assert!(
            t.reserve(MAX_TRACKED + 5).is_err(),
            "recent blocks are kept"
        );
    }

    #[test]
    fn clients_are_their_ipv4_address_or_their_ipv6_64_bit_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ClientKey::of(Some(a)), ClientKey::of(Some(b)));
        assert_ne!(ClientKey::of(Some(a)), ClientKey::of(Some(c)));
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(ClientKey::of(Some(v4)), ClientKey(Some(v4)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ClientKey::of(Some(mapped)), ClientKey(Some(v4)));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert_ne!(ClientKey::of(Some(v4)), ClientKey::of(Some(other)));
    }
}
