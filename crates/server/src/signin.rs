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
//!   (`DELETE /api/sign-in-locks/{login}`). Lockouts are logged (`target: "security"`).
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
const KEYS_MAX: usize = 100_000;

struct Failures {
    count: u32,
    last: Instant,
    locked_until: Option<Instant>,
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

    /// Whether a sign-in for `login` from `address` may be attempted now.
    pub fn check(&self, login: &str, address: Option<&str>) -> Result<(), Refused> {
        let now = Instant::now();
        let map = self.failures.lock().expect("sign-in failures lock");
        let mut wait = Duration::ZERO;
        for (key, _) in Self::keys(login, address) {
            if let Some(until) = map.get(&key).and_then(|f| f.locked_until) {
                if until > now {
                    wait = wait.max(until - now);
                }
            }
        }
        if wait.is_zero() {
            Ok(())
        } else {
            self.rate_limited.fetch_add(1, Ordering::SeqCst);
            Err(Refused::Locked(wait.as_secs_f64().ceil().max(1.0) as u64))
        }
    }

    /// Count a failed sign-in.
    pub fn failed(&self, login: &str, address: Option<&str>) {
        self.failures_total.fetch_add(1, Ordering::SeqCst);
        let now = Instant::now();
        let mut map = self.failures.lock().expect("sign-in failures lock");
        if map.len() >= KEYS_MAX {
            let forget = self.policy.forget_after;
            map.retain(|_, f| now.duration_since(f.last) < forget);
            if map.len() >= KEYS_MAX {
                let mut lasts: Vec<Instant> = map.values().map(|f| f.last).collect();
                lasts.sort();
                let cut = lasts[lasts.len() / 2];
                map.retain(|_, f| f.last > cut);
            }
        }
        for (key, is_login) in Self::keys(login, address) {
            let f = map.entry(key.clone()).or_insert(Failures {
                count: 0,
                last: now,
                locked_until: None,
            });
            if now.duration_since(f.last) >= self.policy.forget_after {
                f.count = 0;
                f.locked_until = None;
            }
            f.count += 1;
            f.last = now;
            let free = if is_login {
                self.policy.login_free
            } else {
                self.policy.address_free
            };
            if f.count > free {
                let n = (f.count - free - 1).min(20);
                let lock = Duration::from_secs(1u64 << n).min(self.policy.lockout_max);
                f.locked_until = Some(now + lock);
                self.lockouts.fetch_add(1, Ordering::SeqCst);
                tracing::warn!(target: "security", key = %key, failures = f.count,
                    lock_seconds = lock.as_secs(), "sign-in locked after repeated failures");
            }
        }
    }

    /// Count a successful sign-in: the login starts over.
    pub fn succeeded(&self, login: &str) {
        let key = format!("login:{}", login.to_lowercase());
        self.failures
            .lock()
            .expect("sign-in failures lock")
            .remove(&key);
    }

    /// Clear a login's failures and lock (an administrator's unlock). Whether it was locked.
    pub fn unlock(&self, login: &str) -> bool {
        let key = format!("login:{}", login.to_lowercase());
        let now = Instant::now();
        self.failures
            .lock()
            .expect("sign-in failures lock")
            .remove(&key)
            .is_some_and(|f| f.locked_until.is_some_and(|u| u > now))
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
}
