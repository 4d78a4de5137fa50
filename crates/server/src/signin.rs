//! Sign-in under attack: a small dedicated pool for password checks, and rate limiting with
//! back-off and temporary lockout, per login and per client address.
//!
//! - **Pool.** Every sign-in (store lookup, argon2id check, session) runs on one of
//!   [`SignInPolicy::workers`] threads of its own (default: the number of cores), never on the
//!   unbounded blocking pool. An argon2id check allocates 19 MiB; with `workers` threads at
//!   most `workers` checks hold memory at once, and only those threads' allocator arenas keep
//!   it. At most [`SignInPolicy::queue`] sign-ins wait; beyond that the answer is 503 with
//!   `Retry-After`.
//! - **Same work for unknown logins.** `UserService::login` verifies against a dummy hash of
//!   the same parameters when the login does not exist.
//! - **Rate limits.** Failures are counted per login and per client address. The first
//!   `login_free` (resp. `address_free`) failures cost nothing; each further failure locks
//!   the key for `2^(n-1)` seconds (n = failures beyond the free ones), at most
//!   `lockout_max`. A locked key is answered 429 with `Retry-After` before any password is
//!   checked. A success clears the login's count; a key forgets its failures after
//!   `forget_after` without one. An administrator can clear a login's lock
//!   (`DELETE /api/sign-in-locks/{login}`). Lockouts are logged (`target: "security"`, the key
//!   written with `Debug`, so control characters are escaped).
//! - **Reserved before queued.** [`SignInGuard::reserve`] counts an attempt as pending
//!   against its keys before its password check is queued, and the check's outcome is
//!   counted when it ends, in the same lock. While failures plus pending attempts exceed the
//!   free ones, a key allows one attempt in flight: so concurrent wrong sign-ins for one
//!   login run at most `login_free + 1` checks before the lock (docs/SECURITY.md, F1).
//! - **Bounded keys.** The server answers a login that no user can have (`login_format_ok`)
//!   before it reaches the guard, so a key is at most 70 bytes. Beyond [`KEYS_MAX`] keys,
//!   forgotten keys are swept, then the older half of the keys neither locked nor pending;
//!   a lock in force is never dropped (F3). Locked keys are bounded by the pool's rate of
//!   checks times `lockout_max`.
//! - **Behind a reverse proxy** every client has the proxy's address: the per-address limit
//!   then counts everyone together; raise `address_free` or rely on the proxy's limits.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The tunable limits of sign-in.
#[derive(Clone, Debug)]
pub struct SignInPolicy {
    /// Password checks run at once (threads of the sign-in pool).
    pub workers: usize,
    /// Sign-ins waiting for a worker before new ones are answered 503.
    pub queue: usize,
    /// Failures of one login before back-off starts.
    pub login_free: u32,
    /// Failures from one client address before back-off starts.
    pub address_free: u32,
    /// Longest lockout.
    pub lockout_max: Duration,
    /// A key without a failure for this long starts over.
    pub forget_after: Duration,
}

impl Default for SignInPolicy {
    fn default() -> Self {
        SignInPolicy {
            workers: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .clamp(1, 8),
            queue: 256,
            login_free: 5,
            address_free: 50,
            lockout_max: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(15 * 60),
        }
    }
}

/// Keys tracked at most; beyond it forgotten keys are swept, then the oldest half dropped.
pub const KEYS_MAX: usize = 100_000;

struct Failures {
    count: u32,
    /// Attempts reserved and not yet ended.
    pending: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

impl Failures {
    fn new(now: Instant) -> Failures {
        Failures {
            count: 0,
            pending: 0,
            last: now,
            locked_until: None,
        }
    }

    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|u| u > now)
    }
}

/// What ended an attempt.
enum Outcome {
    Failed,
    Succeeded,
    /// Not checked, or checked with an error that is not a wrong password.
    Abandoned,
}

/// A sign-in allowed to run ([`SignInGuard::reserve`]): it holds a place against the free
/// failures of its login and address until [`Attempt::failed`] or [`Attempt::succeeded`],
/// or until it is dropped.
pub struct Attempt {
    guard: Arc<SignInGuard>,
    login: String,
    address: Option<String>,
    ended: bool,
}

/// A lock that began with a failure: for the audit chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lockout {
    /// `login:…` (lower case) or `address:…`.
    pub key: String,
    pub failures: u32,
    pub lock_seconds: u64,
}

impl Attempt {
    /// The password was wrong (or the login unknown): count a failure. Returns the locks this
    /// failure began (none, the login's, the address's or both), to be audited.
    pub fn failed(mut self) -> Vec<Lockout> {
        self.end(Outcome::Failed)
    }

    /// Signed in: the login starts over.
    pub fn succeeded(mut self) {
        self.end(Outcome::Succeeded);
    }

    fn end(&mut self, outcome: Outcome) -> Vec<Lockout> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        self.guard
            .end(&self.login, self.address.as_deref(), outcome)
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.end(Outcome::Abandoned);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The sign-in pool and the failure counts. One per server.
pub struct SignInGuard {
    policy: SignInPolicy,
    jobs: Mutex<Option<mpsc::SyncSender<Job>>>,
    active: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
    failures: Mutex<HashMap<String, Failures>>,
    lockouts: AtomicUsize,
    rate_limited: AtomicUsize,
    failures_total: AtomicUsize,
}

/// Why a sign-in was not attempted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Locked: retry after this many seconds.
    Locked(u64),
    /// The pool's queue is full.
    Busy,
}

impl SignInGuard {
    pub fn new(policy: SignInPolicy) -> Arc<SignInGuard> {
        let workers = policy.workers.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(policy.queue);
        let rx = Arc::new(Mutex::new(rx));
        let active = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for i in 0..workers {
            let rx = rx.clone();
            let active = active.clone();
            let peak = peak.clone();
            std::thread::Builder::new()
                .name(format!("sign-in-{i}"))
                .spawn(move || loop {
                    let job = match rx.lock().map(|r| r.recv()) {
                        Ok(Ok(job)) => job,
                        _ => return,
                    };
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    job();
                    active.fetch_sub(1, Ordering::SeqCst);
                })
                .expect("spawn a sign-in worker");
        }
        Arc::new(SignInGuard {
            policy,
            jobs: Mutex::new(Some(tx)),
            active,
            peak,
            failures: Mutex::new(HashMap::new()),
            lockouts: AtomicUsize::new(0),
            rate_limited: AtomicUsize::new(0),
            failures_total: AtomicUsize::new(0),
        })
    }

    /// The most password checks that ever ran at once.
    pub fn peak_concurrency(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// Password checks running now.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// Failed sign-ins since start.
    pub fn failures(&self) -> usize {
        self.failures_total.load(Ordering::SeqCst)
    }

    /// Lockouts begun since start.
    pub fn lockouts(&self) -> usize {
        self.lockouts.load(Ordering::SeqCst)
    }

    /// Sign-ins answered 429 since start.
    pub fn rate_limited(&self) -> usize {
        self.rate_limited.load(Ordering::SeqCst)
    }

    pub fn policy(&self) -> &SignInPolicy {
        &self.policy
    }

    /// Run `f` on the pool; `Busy` when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Refused> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        {
            let jobs = self.jobs.lock().expect("sign-in queue lock");
            let Some(jobs) = jobs.as_ref() else {
                return Err(Refused::Busy);
            };
            if jobs.try_send(job).is_err() {
                return Err(Refused::Busy);
            }
        }
        rx.await.map_err(|_| Refused::Busy)
    }

    fn keys(login: &str, address: Option<&str>) -> Vec<(String, bool)> {
        let mut keys = vec![(format!("login:{}", login.to_lowercase()), true)];
        if let Some(a) = address {
            keys.push((format!("addr:{a}"), false));
        }
        keys
    }

    fn free(&self, is_login: bool) -> u32 {
        if is_login {
            self.policy.login_free
        } else {
            self.policy.address_free
        }
    }

    /// The back-off after `beyond` failures beyond the free ones (`beyond` ≥ 1).
    fn lock_for(&self, beyond: u32) -> Duration {
        let n = beyond.saturating_sub(1).min(20);
        Duration::from_secs(1u64 << n).min(self.policy.lockout_max)
    }

    /// How long a new attempt on these keys must wait: zero when it may run. A key refuses
    /// while its lock is in force, and while its failures and pending attempts already exceed
    /// its free failures with an attempt in flight (that attempt may bring the lock).
    fn wait(
        &self,
        map: &HashMap<String, Failures>,
        keys: &[(String, bool)],
        now: Instant,
    ) -> Duration {
        let mut wait = Duration::ZERO;
        for (key, is_login) in keys {
            let Some(f) = map.get(key) else { continue };
            if let Some(until) = f.locked_until.filter(|u| *u > now) {
                wait = wait.max(until - now);
                continue;
            }
            let count = if now.duration_since(f.last) >= self.policy.forget_after {
                0
            } else {
                f.count
            };
            let free = self.free(*is_login);
            if f.pending > 0 && count + f.pending > free {
                wait = wait.max(self.lock_for(count + f.pending - free));
            }
        }
        wait
    }

    fn refuse(&self, wait: Duration) -> Result<(), Refused> {
        if wait.is_zero() {
            Ok(())
        } else {
            self.rate_limited.fetch_add(1, Ordering::SeqCst);
            Err(Refused::Locked(wait.as_secs_f64().ceil().max(1.0) as u64))
        }
    }

    /// Whether a sign-in for `login` from `address` may be attempted now, without reserving
    /// a place: [`SignInGuard::reserve`] is what the server calls.
    pub fn check(&self, login: &str, address: Option<&str>) -> Result<(), Refused> {
        let now = Instant::now();
        let map = self.failures.lock().expect("sign-in failures lock");
        self.refuse(self.wait(&map, &Self::keys(login, address), now))
    }

    /// Reserve an attempt for `login` from `address`: `Locked` when it may not run now.
    /// The attempt counts as pending until it ends.
    pub fn reserve(
        self: &Arc<Self>,
        login: &str,
        address: Option<&str>,
    ) -> Result<Attempt, Refused> {
        let now = Instant::now();
        let keys = Self::keys(login, address);
        let mut map = self.failures.lock().expect("sign-in failures lock");
        self.refuse(self.wait(&map, &keys, now))?;
        self.make_room(&mut map, now);
        for (key, _) in keys {
            map.entry(key).or_insert_with(|| Failures::new(now)).pending += 1;
        }
        Ok(Attempt {
            guard: self.clone(),
            login: login.to_owned(),
            address: address.map(str::to_owned),
            ended: false,
        })
    }

    /// Keys tracked now (failures, locks and pending attempts).
    pub fn tracked_keys(&self) -> usize {
        self.failures.lock().expect("sign-in failures lock").len()
    }

    /// At [`KEYS_MAX`] keys: sweep forgotten keys, then drop the older half of those neither
    /// locked nor pending. A lock in force is never dropped; if every key holds one, the map
    /// grows (bounded by the pool's checks per `lockout_max`).
    fn make_room(&self, map: &mut HashMap<String, Failures>, now: Instant) {
        if map.len() < KEYS_MAX {
            return;
        }
        let forget = self.policy.forget_after;
        let keep = |f: &Failures| f.locked(now) || f.pending > 0;
        map.retain(|_, f| keep(f) || now.duration_since(f.last) < forget);
        if map.len() >= KEYS_MAX {
            let mut lasts: Vec<Instant> =
                map.values().filter(|f| !keep(f)).map(|f| f.last).collect();
            if lasts.is_empty() {
                return;
            }
            lasts.sort();
            let cut = lasts[lasts.len() / 2];
            map.retain(|_, f| keep(f) || f.last > cut);
        }
    }

    /// Count a failed sign-in (not reserved; an ended [`Attempt`] counts itself). Returns
    /// the locks it began.
    pub fn failed(&self, login: &str, address: Option<&str>) -> Vec<Lockout> {
        let now = Instant::now();
        let mut map = self.failures.lock().expect("sign-in failures lock");
        self.make_room(&mut map, now);
        self.count_failure(&mut map, login, address, now)
    }

    fn count_failure(
        &self,
        map: &mut HashMap<String, Failures>,
        login: &str,
        address: Option<&str>,
        now: Instant,
    ) -> Vec<Lockout> {
        let mut began = Vec::new();
        self.failures_total.fetch_add(1, Ordering::SeqCst);
        for (key, is_login) in Self::keys(login, address) {
            let f = map.entry(key.clone()).or_insert_with(|| Failures::new(now));
            if now.duration_since(f.last) >= self.policy.forget_after {
                f.count = 0;
                f.locked_until = None;
            }
            f.count += 1;
            f.last = now;
            let free = self.free(is_login);
            if f.count > free {
                let lock = self.lock_for(f.count - free);
                f.locked_until = Some(now + lock);
                self.lockouts.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(target: "security", key = ?key, failures = f.count,
                    lock_seconds = lock.as_secs(), "sign-in locked after repeated failures");
                began.push(Lockout {
                    key: key.clone(),
                    failures: f.count,
                    lock_seconds: lock.as_secs(),
                });
            }
        }
        began
    }

    /// End a reserved attempt: release its places and count its outcome, in one lock.
    fn end(&self, login: &str, address: Option<&str>, outcome: Outcome) -> Vec<Lockout> {
        let now = Instant::now();
        let keys = Self::keys(login, address);
        let mut map = self.failures.lock().expect("sign-in failures lock");
        for (key, _) in &keys {
            if let Some(f) = map.get_mut(key) {
                f.pending = f.pending.saturating_sub(1);
            }
        }
        let mut began = Vec::new();
        match outcome {
            Outcome::Failed => began = self.count_failure(&mut map, login, address, now),
            Outcome::Succeeded => {
                if let Some(f) = map.get_mut(&keys[0].0) {
                    f.count = 0;
                    f.locked_until = None;
                }
            }
            Outcome::Abandoned => {}
        }
        for (key, _) in &keys {
            if map
                .get(key)
                .is_some_and(|f| f.count == 0 && f.pending == 0 && f.locked_until.is_none())
            {
                map.remove(key);
            }
        }
        began
    }

    /// Count a successful sign-in that was not reserved: the login starts over.
    pub fn succeeded(&self, login: &str) {
        let key = format!("login:{}", login.to_lowercase());
        let mut map = self.failures.lock().expect("sign-in failures lock");
        if let Some(f) = map.get_mut(&key) {
            f.count = 0;
            f.locked_until = None;
            if f.pending == 0 {
                map.remove(&key);
            }
        }
    }

    /// Clear a login's failures and lock (an administrator's unlock). Whether it was locked.
    pub fn unlock(&self, login: &str) -> bool {
        let key = format!("login:{}", login.to_lowercase());
        let now = Instant::now();
        let mut map = self.failures.lock().expect("sign-in failures lock");
        let Some(f) = map.get_mut(&key) else {
            return false;
        };
        let was_locked = f.locked(now);
        f.count = 0;
        f.locked_until = None;
        if f.pending == 0 {
            map.remove(&key);
        }
        was_locked
    }
}

impl Drop for SignInGuard {
    fn drop(&mut self) {
        // Closing the queue ends the workers.
        if let Ok(mut j) = self.jobs.lock() {
            j.take();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_then_lockout_then_unlock() {
        let g = SignInGuard::new(SignInPolicy {
            login_free: 2,
            address_free: 100,
            ..SignInPolicy::default()
        });
        for _ in 0..2 {
            assert_eq!(g.check("Ann", Some("1.2.3.4")), Ok(()));
            g.failed("Ann", Some("1.2.3.4"));
        }
        assert_eq!(g.check("ann", Some("1.2.3.4")), Ok(()));
        g.failed("ann", Some("1.2.3.4"));
        assert_eq!(g.check("ANN", Some("5.6.7.8")), Err(Refused::Locked(1)));
        assert_eq!(
            g.check("bob", Some("1.2.3.4")),
            Ok(()),
            "the address is not locked"
        );
        assert!(g.unlock("ann"));
        assert_eq!(g.check("ann", None), Ok(()));
        assert_eq!(g.lockouts(), 1);
        assert_eq!(g.rate_limited(), 1);
    }

    /// F1: attempts are counted as pending before they are queued, so no more than
    /// `login_free + 1` run for one login before the lock; their places are freed when they
    /// end, also when dropped unchecked.
    #[test]
    fn reserved_attempts_bound_the_checks_before_the_lock() {
        let g = SignInGuard::new(SignInPolicy {
            login_free: 5,
            address_free: 100,
            ..SignInPolicy::default()
        });
        let mut running = Vec::new();
        for _ in 0..6 {
            running.push(
                g.reserve("victim", Some("1.2.3.4"))
                    .expect("within the quota"),
            );
        }
        for _ in 0..10 {
            assert!(
                matches!(g.reserve("Victim", Some("5.6.7.8")), Err(Refused::Locked(n)) if n >= 1),
                "a seventh attempt in flight is refused"
            );
        }
        assert!(g.check("victim", None).is_err());
        // Another login is not held up.
        drop(g.reserve("other", Some("1.2.3.4")).unwrap());
        for a in running {
            a.failed();
        }
        assert_eq!(g.failures(), 6);
        assert_eq!(g.lockouts(), 1);
        assert!(matches!(g.reserve("victim", None), Err(Refused::Locked(_))));
        // An attempt dropped unchecked frees its place; a success clears the login.
        let g = SignInGuard::new(SignInPolicy {
            login_free: 0,
            ..SignInPolicy::default()
        });
        drop(g.reserve("ann", Some("1.2.3.4")).unwrap());
        let a = g.reserve("ann", Some("1.2.3.4")).unwrap();
        assert!(g.reserve("ann", Some("1.2.3.4")).is_err(), "one in flight");
        a.succeeded();
        assert_eq!(g.tracked_keys(), 0, "nothing kept after a success");
        assert_eq!(g.failures(), 0);
    }

    /// F3: when the keys are full, eviction drops old keys but never a lock in force.
    #[test]
    fn eviction_never_drops_a_lock_in_force() {
        let g = SignInGuard::new(SignInPolicy {
            login_free: 3,
            address_free: 1_000_000,
            ..SignInPolicy::default()
        });
        // Locked for the longest lock: the oldest key of all.
        for _ in 0..14 {
            g.failed("victim", None);
        }
        assert!(matches!(g.check("victim", None), Err(Refused::Locked(s)) if s > 800));
        // Fresh keys from elsewhere fill the map and force an eviction.
        for i in 0..KEYS_MAX + 10 {
            g.failed(&format!("filler-{i}"), None);
        }
        assert!(g.tracked_keys() < KEYS_MAX, "the older half was dropped");
        assert!(
            matches!(g.check("victim", None), Err(Refused::Locked(s)) if s > 800),
            "the lock survives the eviction"
        );
    }
}
