//! `jinguan bench stats`: what `GET /api/stats/summary` costs as the ledger grows (issue 16,
//! item 4). A SQLite store is filled (the store's own `submit_reviewed` of the benchmark's
//! filing, as `bench growth` fills it) to each size asked, and at each size the summary is
//! timed the way the server computes it (`StatsService::summary` and its JSON) beside, in the
//! same run on the same store, the path it replaced: the exact counts by `GROUP BY` over the
//! period's rows (`Store::declaration_counts`) plus the newest 20,000 declarations of the
//! period read one by one for clearance times and top commodities and partners.
//!
//! `jinguan bench stats --declarations 100000,1000000 [--store-dir DIR] [--fill-seconds 1800]`;
//! 10 M: `--declarations 10000000 --fill-seconds 7200 --store-dir /big/disk/stats` (~2 h of
//! filling on 2 cores, ~70 GB).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use app::{Clearance, Duty, Principal, StatsQuery, SystemClock};
use store::{CountQuery, DeclarationKey, ListFilter, PageRequest, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

/// How many declarations the replaced path read one by one, at most.
const OLD_SCAN_MAX: usize = 20_000;

pub fn run(
    data_dir: &Path,
    sizes: Vec<u64>,
    fill_seconds: u64,
    repeats: usize,
    store_dir: Option<PathBuf>,
    json: Option<PathBuf>,
) -> anyhow::Result<ExitCode> {
    if sizes.is_empty() || sizes.iter().any(|n| !(1..=100_000_000).contains(n)) {
        bail!("--declarations: sizes in 1..=100,000,000");
    }
    if !(1..=100).contains(&repeats) {
        bail!("--repeats 1..=100");
    }
    let mut sizes = sizes;
    sizes.sort_unstable();
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let body = app::demo::IMPORT_TEMPLATE.as_bytes().to_vec();
    let temp = tempfile::tempdir()?;
    let dir = store_dir.unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir)?;
    let cpu = crate::bench_cmd::cpu_model();
    let hq = Principal::Hq {
        user_id: 1,
        login: "bench-hq".into(),
        duties: [Duty::Statistician].into_iter().collect(),
    };
    println!("jinguan bench stats — SQLite WAL synchronous=FULL; CPU: {cpu}");
    println!(
        "{:>12} {:>14} {:>14} {:>14} {:>14}  load average",
        "stored", "summary ms", "(p50 of n)", "old path ms", "old/new"
    );
    let mut figures = Vec::new();
    for n in sizes {
        let stored = crate::bench_cmd::bulk_fill(
            &dir,
            refdata.clone(),
            &body,
            n,
            Duration::from_secs(fill_seconds),
        )?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir, SqliteOptions::default())?);
        let svc = Clearance::new(store.clone(), refdata.clone(), Arc::new(SystemClock));
        // The whole history: every stored declaration is in the period.
        let q = StatsQuery {
            office: None,
            from: Some(chrono::Utc::now() - chrono::Duration::days(400)),
            to: None,
        };
        let mut new_ms = Vec::new();
        let mut old_ms = Vec::new();
        let mut declarations = 0;
        for _ in 0..repeats {
            let t = Instant::now();
            let s = svc.stats().summary(&hq, q.clone())?;
            let json = serde_json::to_vec(&s)?;
            new_ms.push(t.elapsed().as_secs_f64() * 1000.0);
            declarations = s.period.declarations;
            std::hint::black_box(json);
            let t = Instant::now();
            std::hint::black_box(old_path(store.as_ref(), &q)?);
            old_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (new, old) = (median(&mut new_ms), median(&mut old_ms));
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!(
            "{:>12} {:>14.2} {:>14} {:>14.1} {:>14.0}  {}",
            stored,
            new,
            format!("n={repeats}"),
            old,
            old / new.max(1e-9),
            load.join(" ")
        );
        anyhow::ensure!(
            declarations == stored,
            "the summary counted {declarations} of {stored} stored"
        );
        figures.push(serde_json::json!({
            "stored": stored, "summary_ms": new, "old_path_ms": old, "repeats": repeats,
            "loadavg": load.join(" "),
        }));
    }
    let figures = serde_json::json!({"cpu": cpu, "runs": figures});
    println!("{figures}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary's reads before the daily aggregates: counts by `GROUP BY` over the period's
/// rows (three periods: today, month, the period asked; here one, the cheapest case) and the
/// newest 20,000 declarations of the period loaded for clearance times, commodities, partners.
fn old_path(store: &dyn Store, q: &StatsQuery) -> anyhow::Result<(u64, usize, usize)> {
    let from = q.from.expect("set");
    let to = chrono::Utc::now() + chrono::Duration::seconds(1);
    let counts = store.declaration_counts(&CountQuery {
        from,
        to,
        offices: None,
    })?;
    let total: u64 = counts.iter().map(|r| r.count).sum();
    let filter = ListFilter {
        submitted_from: Some(from),
        submitted_to: Some(to),
        ..ListFilter::default()
    };
    let mut page = PageRequest {
        after: None,
        limit: store::PAGE_MAX,
    };
    let mut scanned = 0;
    let mut times = Vec::new();
    let mut commodities: HashMap<String, u64> = HashMap::new();
    'scan: loop {
        let got = store.list(&filter, &page)?;
        for d in &got.items {
            if scanned >= OLD_SCAN_MAX {
                break 'scan;
            }
            scanned += 1;
            if d.declaration_no.is_none() {
                continue;
            }
            let Some(full) = store.load(DeclarationKey::Id(d.id))? else {
                continue;
            };
            if let (Some(sub), Some(rel)) = (full.state.submitted_at, full.state.released_at) {
                times.push((rel - sub).num_seconds());
            }
            if let Ok(body) = serde_json::from_str::<serde_json::Value>(&full.body_json) {
                for item in body["items"].as_array().into_iter().flatten() {
                    if let Some(code) = item["commodity_code"].as_str() {
                        *commodities.entry(code.to_owned()).or_default() += 1;
                    }
                }
            }
        }
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    times.sort_unstable();
    Ok((total, scanned, commodities.len()))
}
