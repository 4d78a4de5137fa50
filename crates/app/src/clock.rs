//! Time, injected: the service never reads the system clock itself, so tests and simulations
//! run at the instant they choose.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock, for the binary.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one reading of the system clock in `app` (clippy.toml forbids it elsewhere).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move (tests, demo generation).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(Mutex::new(at))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = at;
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().expect("clock lock");
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// The real clock, which can be pinned to an instant for a while and then let go: `jinguan
/// serve --demo` files its demo declarations over the past hours with this, then serves in
/// real time.
#[derive(Debug, Default)]
pub struct PinnableClock(Mutex<Option<DateTime<Utc>>>);

impl PinnableClock {
    pub fn new() -> PinnableClock {
        PinnableClock::default()
    }

    /// Stand at `at` until pinned elsewhere or released.
    pub fn pin(&self, at: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = Some(at);
    }

    /// Follow the system clock again.
    pub fn release(&self) {
        *self.0.lock().expect("clock lock") = None;
    }
}

impl Clock for PinnableClock {
    // Follows the system clock when not pinned: the binary's clock, like `SystemClock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().expect("clock lock").unwrap_or_else(Utc::now)
    }
}
