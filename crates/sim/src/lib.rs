//! Jinguan's simulator: a seeded national trade day with planted smuggling and its ground
//! truth, driven through the real code, and a report of what the system caught.
//!
//! - [`rng`]: SplitMix64 streams, one per declaration (integer arithmetic only: a seed gives the
//!   same day everywhere).
//! - [`world`]: [`World`], enterprises, overseas parties, carriers, commodities with their
//!   normal prices and weights, licences, swap pairs, exchange rates.
//! - [`gen`]: [`generate`] one declaration (JSON wire form) with its [`Planted`] violation.
//! - [`rules`]: the analysts' rule set, watch lists and price references.
//! - [`pipeline`]: [`Pipeline`], parse + validate + risk + tax in memory.
//! - [`report`]: [`Tally`] and the text and JSON report.
//! - [`run_pipeline`] (in memory, on every core) and [`run_store`] (the clearance service on the
//!   durable SQLite store, as many submitters as clients): the day's drivers; [`http`] (feature
//!   `http`): the day against a running `jinguan serve` over its HTTP API.
//!
//! Invariants, as absences: no clock read (times are simulated from the seed), no IO outside
//! [`run_store`]'s store and [`http`]'s client, no randomness but [`rng`].

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod gen;
#[cfg(feature = "http")]
pub mod http;
pub mod pipeline;
pub mod report;
/// The simulator draws from the workspace's one seeded generator (`domain::rng`); the path
/// `sim::rng` is kept for its users.
pub use domain::rng;
pub mod rules;
#[cfg(feature = "service")]
mod service;
pub mod world;
#[cfg(feature = "service")]
pub use service::{run_store, SimClock};

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use refdata::RefData;

pub use gen::{generate, Planted, Rates, SimDeclaration, Violation};
pub use pipeline::{Outcome, Pipeline};
pub use report::Tally;
pub use world::{World, WorldConfig};

/// The simulated day: 18 June 2025, a Wednesday (and the "618" online shopping festival).
pub fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 18).expect("a valid date")
}

/// Everything a run is made from.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub declarations: u64,
    pub rates: Rates,
    pub rules: usize,
    /// Declarations of the warm-up slice the price references are built from.
    pub warmup: u64,
    pub enterprises: usize,
    /// Force this many items per declaration (the benchmark's 5), or the day's mix.
    pub items: Option<usize>,
    pub threads: usize,
}

impl Config {
    pub fn new(seed: u64, declarations: u64) -> Config {
        Config {
            seed,
            declarations,
            rates: Rates::default(),
            rules: 1_000,
            warmup: 50_000,
            enterprises: 20_000,
            items: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }

    pub fn world(&self, refdata: &RefData) -> World {
        World::generate(
            self.seed,
            day(),
            refdata,
            &WorldConfig {
                enterprises: self.enterprises,
                overseas_parties: (self.enterprises * 2 / 5).max(200),
                carriers: (self.enterprises / 10).max(100),
            },
        )
    }
}

/// Timings of a run (wall clock; not part of the report's fingerprints).
#[derive(Clone, Debug, Default)]
pub struct Timings {
    pub setup: Duration,
    pub wall: Duration,
    /// Summed over threads: time inside the pipeline (parse to tax), without generation.
    pub pipeline: Duration,
}

/// The day in memory, on `cfg.threads` threads; `progress` is called with the number of
/// declarations done so far (about every thousand).
pub fn run_pipeline(
    cfg: &Config,
    refdata: Arc<RefData>,
    progress: &(dyn Fn(u64) + Sync),
) -> (Tally, Timings, Pipeline) {
    let t0 = Instant::now();
    let world = cfg.world(&refdata);
    let pipe = Pipeline::new(&world, &cfg.rates, refdata, cfg.rules, cfg.warmup);
    let setup = t0.elapsed();
    let t1 = Instant::now();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    const CHUNK: u64 = 1_000;
    let results: Vec<(Tally, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..cfg.threads.max(1))
            .map(|_| {
                let (world, pipe, next, done) = (&world, &pipe, &next, &done);
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let mut inside = Duration::ZERO;
                    loop {
                        let start = next.fetch_add(CHUNK, Ordering::Relaxed);
                        if start >= cfg.declarations {
                            break;
                        }
                        let end = (start + CHUNK).min(cfg.declarations);
                        for i in start..end {
                            let d = generate(world, &cfg.rates, i, cfg.items);
                            let t = Instant::now();
                            let o = pipe.process(&d.json, (i + 1) as u32);
                            inside += t.elapsed();
                            tally.add(world.seed, &d, &o);
                        }
                        progress(done.fetch_add(end - start, Ordering::Relaxed) + end - start);
                    }
                    (tally, inside)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a worker panicked"))
            .collect()
    });
    let mut tally = Tally::default();
    let mut inside = Duration::ZERO;
    for (t, d) in results {
        tally.merge(t);
        inside += d;
    }
    (
        tally,
        Timings {
            setup,
            wall: t1.elapsed(),
            pipeline: inside,
        },
        pipe,
    )
}
