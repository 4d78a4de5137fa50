//! The storage ceiling benchmark's common half, run by each backend's `benches/ceiling.rs`:
//! durable filings through a [`Store`] from [`SUBMITTERS`] concurrent threads, for at most
//! [`DURATION_S`] seconds, and the report. Each backend's bench adds only its reference: the
//! same rows written straight into plain SQLite or plain PostgreSQL (the machine's ceiling),
//! with no code of ours in between.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clearance::{Lane, LaneReason, TaxKind};
use domain::money::Fen;
use store::writer::WriterStats;
use store::{AutomaticReview, Store};

use crate::contract::{sample_body, submit_request};

pub const SUBMITTERS: usize = 64;
pub const DECLARATIONS_MAX: u64 = 200_000;
pub const DURATION_S: u64 = 4;

/// The bodies filed, about 1.2 KB each, and their mean size in bytes.
pub fn bodies() -> (Vec<String>, usize) {
    let bodies: Vec<String> = (0..1024).map(sample_body).collect();
    let mean = bodies.iter().map(String::len).sum::<usize>() / bodies.len();
    (bodies, mean)
}

/// One half's result.
pub struct Run {
    pub done: u64,
    pub elapsed_s: f64,
    pub rate: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub batches: u64,
    pub batch_mean: f64,
}

impl Run {
    /// The reference's batch size: the mean the store's writer formed.
    pub fn batch(&self) -> u64 {
        self.batch_mean.round().max(1.0) as u64
    }
}

/// `SUBMITTERS` threads filing through `store` until `DURATION_S` seconds or
/// `DECLARATIONS_MAX` filings: `Store::submit`, or with `reviewed` `Store::submit_reviewed`
/// (the service's filing path: accepted in the green lane with two notices). The audit chain is
/// verified after.
pub fn through_store(
    store: &dyn Store,
    writer_stats: &dyn Fn() -> WriterStats,
    bodies: &[String],
    reviewed: bool,
) -> Run {
    let review = AutomaticReview::Accept {
        lane: Lane::Green,
        reasons: vec![LaneReason {
            code: "default_green".into(),
            message_zh: "默认".into(),
            message_en: "default".into(),
        }],
        assessment: Some(vec![
            (TaxKind::Duty, Fen(12_345)),
            (TaxKind::Vat, Fen(67_890)),
        ]),
    };
    let issued = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(DURATION_S);
    let mut latencies_us: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..SUBMITTERS)
            .map(|t| {
                let (issued, stop, review) = (&issued, &stop, &review);
                s.spawn(move || {
                    let mut lat = Vec::new();
                    loop {
                        let i = issued.fetch_add(1, Ordering::Relaxed);
                        if i >= DECLARATIONS_MAX || stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if Instant::now() >= deadline {
                            stop.store(true, Ordering::Relaxed);
                            break;
                        }
                        let req = submit_request(
                            &format!("b{t}-{i}"),
                            bodies[i as usize % bodies.len()].clone(),
                        );
                        let t0 = Instant::now();
                        if reviewed {
                            store
                                .submit_reviewed(req, review.clone())
                                .expect("submit_reviewed");
                        } else {
                            store.submit(req).expect("submit");
                        }
                        lat.push(t0.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                    lat
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("submitter"))
            .collect()
    });
    let elapsed = started.elapsed();
    let stats = writer_stats();
    let report = store.verify_audit().expect("verify");
    assert!(report.is_intact(), "audit chain intact after the run");
    let records_per_filing = if reviewed { 2 } else { 1 };
    assert_eq!(
        report.records_checked,
        latencies_us.len() as u64 * records_per_filing
    );
    latencies_us.sort_unstable();
    let pct =
        |p: f64| latencies_us[((latencies_us.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    let done = latencies_us.len() as u64;
    Run {
        done,
        elapsed_s: elapsed.as_secs_f64(),
        rate: done as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        batches: stats.batches,
        batch_mean: stats.requests as f64 / stats.batches.max(1) as f64,
    }
}

/// The declaration state every reference row carries (as the store writes a submission's).
pub const REFERENCE_STATE: &str = r#"{"status":"submitted","header":{"pre_entry_no":"220020251000000001","client_seq_no":"b0-0","declarant":"91110000600037341L","direction":"import","declaration_office":"2200","entry_exit_office":"2201"},"declaration_no":null,"lane":null,"findings":[],"notices":[],"guarantee_no":null,"pending_request":null,"suspended_from":null,"amendments":0,"submitted_at":"2025-03-10T01:00:00Z","accepted_at":null,"released_at":null,"closed_at":null}"#;

/// The event every reference row carries.
pub const REFERENCE_EVENT: &str = r#"{"at":"2025-03-10T01:00:00Z","actor":{"kind":"enterprise","uscc":"91110000600037341L"},"kind":{"type":"submitted","pre_entry_no":"220020251000000001","client_seq_no":"b0-0","declarant":"91110000600037341L","direction":"import","declaration_office":"2200","entry_exit_office":"2201"}}"#;

/// The varying columns of reference row `i`: pre-entry number, idempotency key, audit
/// subject and detail.
pub struct ReferenceRow {
    pub pre_entry_no: String,
    pub client_seq_no: String,
    pub subject: String,
    pub detail: String,
}

pub fn reference_row(i: u64) -> ReferenceRow {
    let pre_entry_no = format!("2200202510{i:08}");
    let client_seq_no = format!("r-{i}");
    ReferenceRow {
        detail: store::detail::submit(&pre_entry_no, &client_seq_no, "", 1),
        subject: format!("declaration:{}", i + 1),
        pre_entry_no,
        client_seq_no,
    }
}

/// The table and the JSON line. `rows`: what, rate, and the latencies where measured.
pub fn report(title: &str, rows: &[(String, f64, Option<(f64, f64)>)], json: &str) {
    println!("{title}");
    println!(
        "{:<38} {:>14} {:>9} {:>9}",
        "what", "declarations/s", "p50 ms", "p99 ms"
    );
    for (what, rate, latency) in rows {
        match latency {
            Some((p50, p99)) => println!("{what:<38} {rate:>14.0} {p50:>9.2} {p99:>9.2}"),
            None => println!("{what:<38} {rate:>14.0} {:>9} {:>9}", "-", "-"),
        }
    }
    println!("{json}");
}
