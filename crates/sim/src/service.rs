//! The durable mode: the day through the clearance service on the SQLite store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clearance::{EnterpriseFacts, LaneContext, LaneDecision, LanePolicy};
use domain::codes::DeclarationNo;
use domain::declaration::Declaration;
use refdata::RefData;
use risk::{DecisionInput, ReferenceOffices, RiskState, Source};

use crate::{gen, generate, Config, Outcome, Pipeline, Tally, Timings};

thread_local! {
    /// The simulated instant of the filing this thread is making (see [`SimClock`]).
    static NOW_MS: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// The injected clock of the durable run: each submitter thread sets the simulated time of the
/// filing it is about to make, so every record carries the day's time, not the machine's.
pub struct SimClock;

impl app::Clock for SimClock {
    fn now(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(NOW_MS.with(|c| c.get()))
            .single()
            .unwrap_or_default()
    }
}

/// What the lane policy saw of a filing, for the report.
type Decided = HashMap<u64, Outcome>;

/// The risk engine as the service's lane policy. The sampling draw needs the declaration number
/// before the store gives one, so it is derived from the simulator's contract number (the index
/// of the declaration in the day): decisions are the same as in memory.
struct SimLanePolicy {
    state: Arc<RiskState>,
    refdata: Arc<RefData>,
    cny: HashMap<domain::codes::CurrencyCode, rust_decimal::Decimal>,
    day: NaiveDate,
    decided: Arc<Mutex<Decided>>,
}

impl LanePolicy for SimLanePolicy {
    fn choose(
        &self,
        _ctx: &LaneContext,
        declaration: &Declaration,
        facts: &EnterpriseFacts,
    ) -> LaneDecision {
        let index: u64 = declaration
            .contract_no
            .as_deref()
            .and_then(|c| c.rsplit('-').next())
            .and_then(|i| i.parse().ok())
            .unwrap_or(0);
        let no = DeclarationNo::new(
            declaration.declaration_office,
            2025,
            declaration.direction,
            (index + 1) as u32,
        )
        .expect("serials of a day fit");
        let d = self.state.decide(&DecisionInput {
            declaration,
            declaration_no: &no,
            enterprise: facts,
            today: self.day,
            offices: &ReferenceOffices(&*self.refdata),
            rates: &self.cny,
        });
        let o = Outcome {
            valid: true,
            lane: Some(d.lane),
            suspend: d.suspend,
            rules: d
                .explanation
                .rules_fired
                .iter()
                .map(|r| r.id.clone())
                .collect(),
            price_flag: d.reasons.iter().any(|r| r.source == Source::PriceCheck)
                || !d.explanation.price_findings.is_empty(),
            watch_hit: !d.explanation.watch_hits.is_empty(),
            sampled: d.sampled(),
            revenue_fen: 0,
            tax_error: false,
            refused_at_filing: false,
        };
        self.decided
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(index, o);
        d.lane_decision()
    }
}

/// The day through the clearance service (`app::Clearance::submit`: validation, lane, taxes
/// of green and blue lanes, one durable write) on a SQLite store in `dir`, from `clients`
/// submitter threads. Officer steps are not taken: clearance times are simulated as in memory.
/// Revenue is not tallied (the store keeps the notices).
pub fn run_store(
    cfg: &Config,
    refdata: Arc<RefData>,
    dir: &Path,
    clients: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Tally, Timings), String> {
    let t0 = Instant::now();
    let world = cfg.world(&refdata);
    let pipe = Pipeline::new(&world, &cfg.rates, refdata.clone(), cfg.rules, cfg.warmup);
    let store: Arc<dyn store::Store> = Arc::new(
        store_sqlite::SqliteStore::open(dir, store_sqlite::SqliteOptions::default())
            .map_err(|e| format!("open the store: {e}"))?,
    );
    let decided = Arc::new(Mutex::new(Decided::new()));
    let svc = app::Clearance::new(store, refdata.clone(), Arc::new(SimClock))
        .with_lane_policy(Box::new(SimLanePolicy {
            state: pipe.risk.clone(),
            refdata,
            cny: pipe.cny.clone(),
            day: world.day,
            decided: decided.clone(),
        }))
        .with_registry(Box::new(app::StaticRegistry(pipe.facts.clone())));
    let setup = t0.elapsed();
    let midnight_ms = Utc
        .from_utc_datetime(&world.day.and_hms_opt(0, 0, 0).expect("midnight"))
        .timestamp_millis()
        - 8 * 3_600_000;
    let t1 = Instant::now();
    let next = AtomicU64::new(0);
    let failures = AtomicU64::new(0);
    let results: Vec<Tally> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients.max(1))
            .map(|_| {
                let (world, svc, next, decided, failures) =
                    (&world, &svc, &next, &decided, &failures);
                s.spawn(move || {
                    let mut tally = Tally::default();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= cfg.declarations {
                            break;
                        }
                        let d = generate(world, &cfg.rates, i, cfg.items);
                        NOW_MS.with(|c| c.set(midnight_ms + i64::from(d.submitted_s) * 1000));
                        let principal = app::Principal::Enterprise {
                            user_id: 0,
                            login: format!("sim-{}", d.enterprise),
                            uscc: gen::filer(world, &d),
                            roles: app::access::legacy_enterprise_roles(),
                        };
                        let o = match svc
                            .filing()
                            .submit(&principal, &format!("sim-{i}"), &d.json)
                        {
                            Ok(_) => decided
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&i)
                                .unwrap_or_default(),
                            Err(app::AppError::Rejected { .. }) => Outcome::default(),
                            Err(_) => {
                                failures.fetch_add(1, Ordering::Relaxed);
                                Outcome::default()
                            }
                        };
                        tally.add(world.seed, &d, &o);
                        if i % 256 == 0 {
                            progress(i);
                        }
                    }
                    tally
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a submitter panicked"))
            .collect()
    });
    let mut tally = Tally::default();
    for t in results {
        tally.merge(t);
    }
    let failed = failures.load(Ordering::Relaxed);
    if failed > 0 {
        return Err(format!("{failed} submissions failed (not rejections)"));
    }
    Ok((
        tally,
        Timings {
            setup,
            wall: t1.elapsed(),
            pipeline: Duration::ZERO,
        },
    ))
}
