//! Bounds on logging in (`[web.login]`), so that a flood of wrong logins from outside costs bounded
//! memory and CPU and leaves the rest of the server alone.
//!
//! - Password checks (argon2, about 19 MiB each) run on `max_concurrent_hashes` threads of their own,
//!   with at most `hash_queue` logins waiting; one more is refused at once with 429 and `Retry-After`.
//!   Threads of their own, not the runtime's blocking pool: the allocator keeps a check's memory with
//!   the thread that ran it, so few threads hold it few times over.
//! - Failed logins are counted per address and per username. Past `failures_per_address` (or
//!   `failures_per_account`) failures, each further one makes the address (or the username) wait
//!   `backoff_secs`, doubled per failure up to `backoff_max_secs`; a login in its wait is refused with
//!   429 before any password is checked or audit record written. Counts are forgotten
//!   `forget_after_secs` after the last failure; a successful login clears its username's count.
//! - The failure tables hold at most [`MAX_TRACKED`] entries each: a flood of distinct names or
//!   addresses cannot grow them without bound (past it, new keys go uncounted; the address and the
//!   hash bound still hold).

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::LoginConfig;

/// Most keys each failure table holds.
pub const MAX_TRACKED: usize = 16_384;

/// Why a login was refused before its password was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The address or the username is in its wait: try again after this long.
    Throttled(Duration),
    /// Too many password checks running and waiting.
    Busy,
}

/// The failure count of one address or username.
#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last: Instant,
    until: Instant,
}

/// Failure counts by key, bounded.
struct Table<K> {
    records: HashMap<K, Record>,
    limit: u32,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(limit: u32) -> Self {
        Table {
            records: HashMap::new(),
            limit,
        }
    }

    fn wait(&self, key: &K, now: Instant) -> Option<Duration> {
        self.records
            .get(key)
            .and_then(|r| r.until.checked_duration_since(now))
            .filter(|d| !d.is_zero())
    }

    /// Counts a failure; `true` when it starts a wait.
    fn fail(&mut self, key: &K, now: Instant, c: &LoginConfig) -> bool {
        let forget = Duration::from_secs(c.forget_after_secs);
        if !self.records.contains_key(key) && self.records.len() >= MAX_TRACKED {
            self.records
                .retain(|_, r| now.saturating_duration_since(r.last) < forget || r.until > now);
            if self.records.len() >= MAX_TRACKED {
                return false;
            }
        }
        let r = self.records.entry(key.clone()).or_insert(Record {
            failures: 0,
            last: now,
            until: now,
        });
        if now.saturating_duration_since(r.last) >= forget {
            r.failures = 0;
        }
        r.failures = r.failures.saturating_add(1);
        r.last = now;
        if r.failures < self.limit.max(1) {
            return false;
        }
        let doublings = (r.failures - self.limit.max(1)).min(20);
        let wait = c
            .backoff_secs
            .saturating_mul(1 << doublings)
            .min(c.backoff_max_secs);
        r.until = now + Duration::from_secs(wait);
        wait > 0
    }

    fn clear(&mut self, key: &K) {
        self.records.remove(key);
    }
}

struct Failures {
    by_address: Table<IpAddr>,
    by_account: Table<String>,
}

/// A password check handed to the checking threads.
type Job = Box<dyn FnOnce() + Send>;

/// The login bounds of one server.
pub struct LoginGuard {
    config: LoginConfig,
    /// To the checking threads; they end when it is dropped.
    jobs: Mutex<std::sync::mpsc::Sender<Job>>,
    /// Checks running and waiting.
    admitted: Arc<AtomicUsize>,
    failures: Mutex<Failures>,
}

/// One admitted check: counted until dropped.
struct Admitted(Arc<AtomicUsize>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl LoginGuard {
    /// Bounds from `config`.
    pub fn new(config: LoginConfig) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..config.max_concurrent_hashes.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name("login-check".into())
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a thread for password checks could not be started");
            }
        }
        LoginGuard {
            jobs: Mutex::new(tx),
            admitted: Arc::new(AtomicUsize::new(0)),
            failures: Mutex::new(Failures {
                by_address: Table::new(config.failures_per_address),
                by_account: Table::new(config.failures_per_account),
            }),
            config,
        }
    }

    /// The settings.
    pub fn config(&self) -> &LoginConfig {
        &self.config
    }

    /// Whether `address` or `account` must wait before trying again.
    pub fn check(&self, address: Option<IpAddr>, account: &str) -> Result<(), Refusal> {
        let now = Instant::now();
        let Ok(f) = self.failures.lock() else {
            return Ok(());
        };
        let by_address = address.and_then(|a| f.by_address.wait(&a, now));
        let by_account = f.by_account.wait(&account.to_string(), now);
        match by_address.max(by_account) {
            Some(wait) => Err(Refusal::Throttled(wait)),
            None => Ok(()),
        }
    }

    /// Counts a failed login.
    pub fn failed(&self, address: Option<IpAddr>, account: &str) {
        let now = Instant::now();
        let Ok(mut f) = self.failures.lock() else {
            return;
        };
        if let Some(a) = address
            && f.by_address.fail(&a, now, &self.config)
        {
            tracing::warn!(address = %a, "failed logins from one address: it waits before trying again");
        }
        if f.by_account.fail(&account.to_string(), now, &self.config) {
            tracing::warn!(
                username = account,
                "failed logins for one username: it waits before trying again"
            );
        }
    }

    /// Clears the count of a username that logged in.
    pub fn succeeded(&self, account: &str) {
        if let Ok(mut f) = self.failures.lock() {
            f.by_account.clear(&account.to_string());
        }
    }

    /// Runs the password check `check` on one of the checking threads; refuses at once when the queue
    /// is full.
    pub async fn hash<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refusal> {
        let bound = self.config.max_concurrent_hashes.max(1) + self.config.hash_queue;
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= bound {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(Refusal::Busy);
        }
        let admitted = Admitted(self.admitted.clone());
        let (tx, rx) = tokio::sync::oneshot::channel();
        // The place is held by the check itself: a caller that goes away does not free it early.
        let job: Job = Box::new(move || {
            let result = check();
            // The place frees before the caller hears: once answered, its check no longer counts.
            drop(admitted);
            let _ = tx.send(result);
        });
        let sent = self.jobs.lock().map_err(|_| Refusal::Busy)?.send(job);
        sent.map_err(|_| Refusal::Busy)?;
        rx.await.map_err(|_| Refusal::Busy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LoginConfig {
        LoginConfig {
            failures_per_account: 3,
            failures_per_address: 5,
            backoff_secs: 2,
            backoff_max_secs: 10,
            ..LoginConfig::default()
        }
    }

    #[test]
    fn a_wait_starts_at_the_limit_and_doubles_up_to_the_longest() {
        let c = config();
        let mut t: Table<String> = Table::new(3);
        let now = Instant::now();
        let k = "inspector".to_string();
        assert!(!t.fail(&k, now, &c));
        assert!(!t.fail(&k, now, &c));
        assert_eq!(t.wait(&k, now), None);
        assert!(t.fail(&k, now, &c));
        assert_eq!(t.wait(&k, now), Some(Duration::from_secs(2)));
        t.fail(&k, now, &c);
        assert_eq!(t.wait(&k, now), Some(Duration::from_secs(4)));
        for _ in 0..10 {
            t.fail(&k, now, &c);
        }
        assert_eq!(t.wait(&k, now), Some(Duration::from_secs(10)));
        let later = now + Duration::from_secs(c.forget_after_secs + 1);
        assert_eq!(t.wait(&k, later), None);
        assert!(!t.fail(&k, later, &c), "forgotten after a quiet while");
        t.clear(&k);
        assert_eq!(t.wait(&k, now), None);
    }

    #[test]
    fn the_table_stays_bounded() {
        let c = config();
        let mut t: Table<String> = Table::new(3);
        let now = Instant::now();
        for i in 0..MAX_TRACKED + 100 {
            t.fail(&format!("u{i}"), now, &c);
        }
        assert_eq!(t.records.len(), MAX_TRACKED);
    }

    #[tokio::test]
    async fn checks_beyond_the_queue_are_refused_at_once() {
        let guard = Arc::new(LoginGuard::new(LoginConfig {
            max_concurrent_hashes: 1,
            hash_queue: 1,
            ..LoginConfig::default()
        }));
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Arc::new(Mutex::new(rx));
        let running = {
            let (g, rx) = (guard.clone(), rx.clone());
            tokio::spawn(async move {
                g.hash(move || rx.lock().map(|r| r.recv().is_ok()).unwrap_or(false))
                    .await
            })
        };
        let queued = {
            let g = guard.clone();
            tokio::spawn(async move { g.hash(|| true).await })
        };
        while guard.admitted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(guard.hash(|| true).await, Err(Refusal::Busy));
        tx.send(()).ok();
        assert_eq!(running.await.ok(), Some(Ok(true)));
        assert_eq!(queued.await.ok(), Some(Ok(true)));
        assert_eq!(guard.admitted.load(Ordering::Acquire), 0);
    }
}
