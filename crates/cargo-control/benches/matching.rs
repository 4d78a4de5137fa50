//! Benchmark: declarations matched per second per core against a ledger of 1,000,000 open bills,
//! beside a reference measured in the same run (bare `HashMap<BillNo, u32>` lookups of the same
//! keys in the same order) and the ratio. Also: the command path (decide `match_declaration` +
//! apply, then `write_off`), the load time and the resident memory of the million bills (from
//! /proc/self/statm, read here at the edge, never in the library).
//!
//! `cargo bench -p cargo-control` (optionally `-- --json PATH`); prints a table and writes JSON to
//! PATH or to `<target>/tmp/cargo-control-bench.json`. One thread, so figures are per core.

// A benchmark measures time and writes its results to a file: the clock and `std::fs` that
// this pure crate's clippy.toml forbids in its library are this file's job.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use cargo_control::*;
use chrono::{DateTime, Utc};
use domain::codes::{DeclarationNo, Direction, OfficeCode, Uscc};
use rust_decimal::Decimal;

const MANIFESTS: usize = 1_000;
const BILLS_PER_MANIFEST: usize = 1_000;
const LOOKUPS: usize = 1_000_000;
const COMMANDS: usize = 200_000;

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn bill_no(i: usize) -> BillNo {
    BillNo::parse(&format!("COSU{:010}", i * 7 + 1_000_000)).expect("valid bill number")
}

fn weight(i: usize) -> Decimal {
    Decimal::new((i % 5_000) as i64 * 10 + 125, 1)
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-05-06T08:00:00Z")
        .expect("valid time")
        .with_timezone(&Utc)
}

/// A reproducible shuffle (the workspace's seeded generator, `domain::rng`), so the lookups do
/// not walk the table in insertion order.
fn shuffled(n: usize) -> Vec<usize> {
    domain::rng::Rng::new(0x9E37_79B9_7F4A_7C15).permutation(n)
}

fn main() {
    let json_path = std::env::args()
        .skip_while(|a| a != "--json")
        .nth(1)
        .unwrap_or_else(|| {
            let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
            format!("{target}/tmp/cargo-control-bench.json")
        });
    let carrier = Uscc::parse("91110000600037341L").expect("valid USCC");
    let office = OfficeCode::parse("2201").expect("valid office");
    let voyage = Voyage {
        means: MeansOfTransport::Vessel {
            imo: ImoNumber::parse("9074729").expect("valid IMO"),
            name: "BENCH".into(),
        },
        voyage_no: VoyageNo::parse("001E").expect("valid voyage"),
        direction: Direction::Import,
        office,
    };
    let total = MANIFESTS * BILLS_PER_MANIFEST;

    // --- load -----------------------------------------------------------------------------------
    let rss_before = rss_bytes();
    let load_start = Instant::now();
    let mut ledger = ManifestLedger::with_capacity(MatchPolicy::default(), MANIFESTS, total);
    for m in 0..MANIFESTS {
        let id = ManifestId::parse(&format!("M{m:06}")).expect("valid id");
        let bills = (0..BILLS_PER_MANIFEST)
            .map(|b| {
                let i = m * BILLS_PER_MANIFEST + b;
                Bill {
                    bill_no: bill_no(i),
                    kind: BillKind::Master,
                    lines: vec![GoodsLine {
                        packages: (i % 97 + 1) as u32,
                        package_type: "CT".into(),
                        gross_weight_kg: weight(i),
                        description: "general cargo".into(),
                        containers: Vec::new(),
                    }],
                }
            })
            .collect();
        let file = ManifestCommand {
            actor: Actor::Carrier { uscc: carrier },
            action: ManifestAction::File {
                manifest_id: id,
                kind: ManifestKind::Original,
                voyage: voyage.clone(),
                bills,
            },
        };
        ledger.execute(&file, now()).expect("filing accepted");
        let arrive = ManifestCommand {
            actor: Actor::System {
                component: "bench".into(),
            },
            action: ManifestAction::ReportArrival {
                manifest_id: id,
                arrived_at: now(),
            },
        };
        ledger.execute(&arrive, now()).expect("arrival accepted");
    }
    let load_s = load_start.elapsed().as_secs_f64();
    let rss_after = rss_bytes();
    assert_eq!(ledger.bill_count(), total);

    // Where the bytes go: a copy of every manifest's bills as the versions hold them (goods
    // lines, texts, containers), measured like the ledger; the rest of the ledger's memory is
    // the matching index. Measured after the load, so the copy cannot reuse the ledger's blocks.
    let rss_before_copy = rss_bytes();
    let versions_copy: Vec<Vec<Bill>> = ledger
        .manifests()
        .map(|m| m.current().bills.clone())
        .collect();
    let rss_after_copy = rss_bytes();
    black_box(&versions_copy);
    drop(versions_copy);

    let order = shuffled(total);
    let keys: Vec<BillNo> = order.iter().take(LOOKUPS).map(|&i| bill_no(i)).collect();
    let declared: Vec<(u64, Decimal)> = order
        .iter()
        .take(LOOKUPS)
        .map(|&i| ((i % 97 + 1) as u64, weight(i) + Decimal::new(25, 1)))
        .collect();

    // --- reference: bare HashMap lookups of the same keys ---------------------------------------
    let mut bare: HashMap<BillNo, u32> = HashMap::with_capacity(total);
    for i in 0..total {
        bare.insert(bill_no(i), i as u32);
    }
    let reference_s = best_of(3, || {
        let mut hits = 0u64;
        for k in &keys {
            if let Some(v) = bare.get(black_box(k)) {
                hits += u64::from(*v & 1) + 1;
            }
        }
        black_box(hits);
    });
    drop(bare);

    // --- match_declaration (the query) ----------------------------------------------------------
    let policy = MatchPolicy::default();
    let match_s = best_of(3, || {
        let mut ok = 0u64;
        for (k, (p, w)) in keys.iter().zip(&declared) {
            if ledger
                .match_declaration(black_box(k), Direction::Import, *p, *w, &policy)
                .is_ok()
            {
                ok += 1;
            }
        }
        assert_eq!(
            ok as usize, LOOKUPS,
            "every declaration agrees with its bill"
        );
    });

    // --- the command path: decide + apply MatchDeclaration, then WriteOff ----------------------
    let system = Actor::System {
        component: "bench".into(),
    };
    let office_2200 = OfficeCode::parse("2200").expect("valid office");
    let commands_start = Instant::now();
    for (n, (k, (p, w))) in keys.iter().zip(&declared).take(COMMANDS).enumerate() {
        let declaration_no =
            DeclarationNo::new(office_2200, 2024, Direction::Import, n as u32 + 1).expect("valid");
        let m = ManifestCommand {
            actor: system.clone(),
            action: ManifestAction::MatchDeclaration {
                bill_no: *k,
                declaration_no,
                packages: *p,
                gross_weight_kg: *w,
            },
        };
        ledger.execute(&m, now()).expect("matched");
        let w = ManifestCommand {
            actor: system.clone(),
            action: ManifestAction::WriteOff {
                bill_no: *k,
                declaration_no,
            },
        };
        ledger.execute(&w, now()).expect("written off");
    }
    let commands_s = commands_start.elapsed().as_secs_f64();

    let reference_per_s = LOOKUPS as f64 / reference_s;
    let match_per_s = LOOKUPS as f64 / match_s;
    let commands_per_s = COMMANDS as f64 / commands_s;
    let rss_delta = match (rss_before, rss_after) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let versions_delta = match (rss_before_copy, rss_after_copy) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };

    println!("cargo-control matching benchmark (1 thread; {total} open bills on {MANIFESTS} arrived manifests)");
    println!("{:<58} {:>14}", "what", "figure");
    println!(
        "{:<58} {:>14.0}",
        "reference: bare HashMap<BillNo,u32> lookups /s", reference_per_s
    );
    println!(
        "{:<58} {:>14.0}",
        "match_declaration (query) /s", match_per_s
    );
    println!(
        "{:<58} {:>13.1}%",
        "ratio match / reference",
        100.0 * match_per_s / reference_per_s
    );
    println!(
        "{:<58} {:>14.0}",
        "match + write-off commands (decide+apply, both) /s", commands_per_s
    );
    println!(
        "{:<58} {:>13.2}s",
        "load: file + arrival of 1,000 manifests", load_s
    );
    if let Some(bytes) = rss_delta {
        println!(
            "{:<58} {:>12.0}MB",
            "resident memory of the loaded ledger",
            bytes as f64 / 1e6
        );
        println!(
            "{:<58} {:>13.0}B",
            "  per bill (index + manifest versions)",
            bytes as f64 / total as f64
        );
        if let Some(versions) = versions_delta {
            println!(
                "{:<58} {:>13.0}B",
                "    of which the bills as the versions hold them",
                versions as f64 / total as f64
            );
            println!(
                "{:<58} {:>13.0}B",
                "    of which the matching index (the rest)",
                bytes.saturating_sub(versions) as f64 / total as f64
            );
        }
    }
    let json = format!(
        "{{\"bills\":{total},\"lookups\":{LOOKUPS},\"reference_lookups_per_s\":{reference_per_s:.0},\"match_per_s\":{match_per_s:.0},\"ratio\":{:.4},\"commands_per_s\":{commands_per_s:.0},\"load_s\":{load_s:.3},\"rss_bytes\":{},\"versions_rss_bytes\":{}}}",
        match_per_s / reference_per_s,
        rss_delta.map_or("null".to_string(), |b| b.to_string()),
        versions_delta.map_or("null".to_string(), |b| b.to_string())
    );
    if let Some(dir) = std::path::Path::new(&json_path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&json_path, json) {
        Ok(()) => println!("JSON written to {json_path}"),
        Err(e) => eprintln!("could not write {json_path}: {e}"),
    }
}

/// The shortest of `runs` timed runs, in seconds (the machine is shared: the minimum is the
/// least disturbed).
fn best_of(runs: usize, mut f: impl FnMut()) -> f64 {
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}
