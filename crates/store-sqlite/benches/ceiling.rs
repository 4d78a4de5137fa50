//! Storage ceiling: durable submissions through the `Store` (SQLite backend, group commit) from
//! 64 concurrent submitter threads, beside the raw ceiling: the same declaration row (~1.2 KB
//! body) plus an audit row, inserted straight with rusqlite into the same schema in batches of
//! the size the store's writer actually formed, `synchronous=FULL`.
//!
//! `cargo bench -p store` (bounded: at most `DURATION_S` seconds per half). Prints a table and a
//! JSON line. Durability on in both halves: WAL, `synchronous=FULL`, fsync before the answer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rusqlite::{params, Connection};
use store::Store;
use store_contract::contract::{sample_body, submit_request};
use store_sqlite::{migrate, open_write_connection, SqliteOptions, SqliteStore, DB_FILE};

const SUBMITTERS: usize = 64;
const DECLARATIONS_MAX: u64 = 200_000;
const DURATION_S: u64 = 4;

fn main() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("bench directory");

    // --- through the Store ---------------------------------------------------------------
    let dir = tempfile::tempdir_in(base).expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    let bodies: Vec<String> = (0..1024).map(sample_body).collect();
    let body_bytes = bodies.iter().map(String::len).sum::<usize>() / bodies.len();
    let issued = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(DURATION_S);
    let mut latencies_us: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..SUBMITTERS)
            .map(|t| {
                let (store, bodies, issued, stop) = (&store, &bodies, &issued, &stop);
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
                        store.submit(req).expect("submit");
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
    let store_elapsed = started.elapsed();
    let stats = store.writer_stats();
    let report = store.verify_audit().expect("verify");
    assert!(report.is_intact(), "audit chain intact after the run");
    drop(store);
    let done = latencies_us.len() as u64;
    latencies_us.sort_unstable();
    let pct =
        |p: f64| latencies_us[((latencies_us.len() as f64 - 1.0) * p) as usize] as f64 / 1000.0;
    let store_rate = done as f64 / store_elapsed.as_secs_f64();
    let batch_mean = stats.requests as f64 / stats.batches.max(1) as f64;

    // --- the raw ceiling --------------------------------------------------------------------
    let raw_dir = tempfile::tempdir_in(base).expect("temporary directory");
    let path = raw_dir.path().join(DB_FILE);
    let mut conn = open_write_connection(&path).expect("open raw");
    migrate(&mut conn).expect("migrate raw");
    let batch = batch_mean.round().max(1.0) as u64;
    let (raw_rows, raw_elapsed) = raw_inserts(&mut conn, &bodies, batch, done.max(batch));
    let raw_rate = raw_rows as f64 / raw_elapsed.as_secs_f64();

    println!("storage ceiling, SQLite WAL synchronous=FULL, {SUBMITTERS} submitters, body ~{body_bytes} B");
    println!(
        "{:<34} {:>14} {:>9} {:>9}",
        "what", "declarations/s", "p50 ms", "p99 ms"
    );
    println!(
        "{:<34} {:>14.0} {:>9.2} {:>9.2}",
        "Store::submit (group commit)",
        store_rate,
        pct(0.50),
        pct(0.99)
    );
    println!(
        "{:<34} {:>14.0} {:>9} {:>9}",
        format!("raw rusqlite, batches of {batch}"),
        raw_rate,
        "-",
        "-"
    );
    println!("ratio store / raw: {:.2}", store_rate / raw_rate);
    println!(
        "store: {done} declarations in {:.2} s, {} commits, mean batch {:.1}; raw: {raw_rows} rows in {:.2} s",
        store_elapsed.as_secs_f64(),
        stats.batches,
        batch_mean,
        raw_elapsed.as_secs_f64()
    );
    println!(
        "{{\"bench\":\"store_ceiling\",\"submitters\":{SUBMITTERS},\"declarations\":{done},\"store_per_s\":{store_rate:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"mean_batch\":{batch_mean:.1},\"raw_per_s\":{raw_rate:.0},\"raw_batch\":{batch},\"ratio\":{:.3}}}",
        pct(0.50),
        pct(0.99),
        store_rate / raw_rate
    );
}

/// Declaration row + audit row per declaration, `batch` declarations per transaction, until
/// `rows` are written or the time is up.
fn raw_inserts(conn: &mut Connection, bodies: &[String], batch: u64, rows: u64) -> (u64, Duration) {
    let state = r#"{"status":"submitted","header":{"pre_entry_no":"220020251000000001","client_seq_no":"b0-0","declarant":"91110000600037341L","direction":"import","declaration_office":"2200","entry_exit_office":"2201"},"declaration_no":null,"lane":null,"findings":[],"notices":[],"guarantee_no":null,"pending_request":null,"suspended_from":null,"amendments":0,"submitted_at":"2025-03-10T01:00:00Z","accepted_at":null,"released_at":null,"closed_at":null}"#;
    let at_ms = Utc
        .with_ymd_and_hms(2025, 3, 10, 1, 0, 0)
        .unwrap()
        .timestamp_millis();
    let hash = [7u8; 32];
    let started = Instant::now();
    let deadline = started + Duration::from_secs(DURATION_S);
    let mut written = 0u64;
    while written < rows && Instant::now() < deadline {
        let tx = conn.transaction().expect("begin");
        {
            let mut decl = tx
                .prepare_cached(
                    "INSERT INTO declarations (pre_entry_no, declarant, client_seq_no, direction, declaration_office, status, lane, submitted_at_ms, updated_at_ms, version, state, body)
                     VALUES (?1, '91110000600037341L', ?2, 'import', '2200', 'submitted', NULL, ?3, ?3, 1, ?4, ?5)",
                )
                .expect("prepare");
            let mut audit = tx
                .prepare_cached(
                    "INSERT INTO audit_log (at_ms, actor, action, subject, detail, prev_hash, hash) VALUES (?1, 'enterprise:91110000600037341L', 'submit', ?2, ?3, ?4, ?4)",
                )
                .expect("prepare");
            for _ in 0..batch {
                let i = written;
                decl.execute(params![
                    format!("2200202510{i:08}"),
                    format!("r-{i}"),
                    at_ms,
                    state,
                    bodies[i as usize % bodies.len()]
                ])
                .expect("insert declaration");
                let detail = format!(
                    r#"{{"pre_entry_no":"2200202510{i:08}","client_seq_no":"r-{i}","body_sha256":"{}","version":1}}"#,
                    "0".repeat(64)
                );
                audit
                    .execute(params![
                        at_ms,
                        format!("declaration:{}", i + 1),
                        detail,
                        &hash[..]
                    ])
                    .expect("insert audit");
                written += 1;
            }
        }
        tx.commit().expect("commit");
    }
    (written, started.elapsed())
}
