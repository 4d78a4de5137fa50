//! Storage ceiling on PostgreSQL: durable submissions through the `Store` (one writer, group
//! commit) from 64 concurrent submitter threads, beside the reference: the same rows (one
//! declaration, its event and its audit record per declaration) inserted straight with
//! tokio-postgres as multi-row statements, one transaction per batch of the mean size the
//! store's writer formed. Both with `synchronous_commit=on` (the server's fsync on).
//! A third row files through `Store::submit_reviewed` (the service's filing path: submission and
//! automatic review, accepted in the green lane with two notices), for information.
//!
//! `JINGUAN_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test cargo bench -p
//! store-postgres` (bounded: at most `DURATION_S` seconds per half). Each half writes into a
//! schema of its own, dropped at the end. Prints a table and a JSON line; without the variable
//! it says it skipped.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use clearance::{Lane, LaneReason, TaxKind};
use domain::money::Fen;
use store::{AutomaticReview, Store};
use store_contract::contract::{sample_body, submit_request};
use store_postgres::{PostgresOptions, PostgresStore};
use tokio_postgres::{Client, NoTls};

const SUBMITTERS: usize = 64;
const DECLARATIONS_MAX: u64 = 200_000;
const DURATION_S: u64 = 4;

fn main() {
    let Some(url) = std::env::var("JINGUAN_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("skipped: JINGUAN_TEST_POSTGRES_URL not set");
        return;
    };
    let pid = std::process::id();
    let store_schema = format!("jinguan_bench_store_{pid}");
    let raw_schema = format!("jinguan_bench_raw_{pid}");
    let reviewed_schema = format!("jinguan_bench_reviewed_{pid}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let admin = rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, NoTls).await.expect("connect");
        tokio::spawn(connection);
        client
    });

    // --- through the Store -------------------------------------------------------------------
    let bodies: Vec<String> = (0..1024).map(sample_body).collect();
    let body_bytes = bodies.iter().map(String::len).sum::<usize>() / bodies.len();
    let plain = through_store(&url, &store_schema, &bodies, false);
    let (done, store_rate, batch_mean) = (plain.done, plain.rate, plain.batch_mean);
    // The filing path of the service: submission and automatic review (accepted, green lane,
    // two notices) in one request: one row, four events, two audit records, two notices.
    let reviewed = through_store(&url, &reviewed_schema, &bodies, true);

    // --- the reference: plain batched inserts into the same schema ------------------------------
    let batch = batch_mean.round().max(1.0) as u64;
    let (raw_rows, raw_elapsed) = rt.block_on(async {
        // The store creates the schema; opening it again on the raw schema gives the same tables.
        drop(
            PostgresStore::open(
                &url,
                PostgresOptions {
                    schema: Some(raw_schema.clone()),
                    ..PostgresOptions::default()
                },
            )
            .expect("create raw schema"),
        );
        admin
            .batch_execute(&format!(
                "SET search_path = {raw_schema}; SET synchronous_commit = on"
            ))
            .await
            .expect("search path");
        raw_inserts(&admin, &bodies, batch, done.max(batch)).await
    });
    let raw_rate = raw_rows as f64 / raw_elapsed.as_secs_f64();
    rt.block_on(async {
        admin
            .batch_execute(&format!(
                "DROP SCHEMA {store_schema} CASCADE; DROP SCHEMA {raw_schema} CASCADE; DROP SCHEMA {reviewed_schema} CASCADE"
            ))
            .await
            .expect("drop bench schemas");
    });

    println!(
        "storage ceiling, PostgreSQL synchronous_commit=on, {SUBMITTERS} submitters, body ~{body_bytes} B"
    );
    println!(
        "{:<38} {:>14} {:>9} {:>9}",
        "what", "declarations/s", "p50 ms", "p99 ms"
    );
    println!(
        "{:<38} {:>14.0} {:>9.2} {:>9.2}",
        "Store::submit (group commit)", store_rate, plain.p50_ms, plain.p99_ms
    );
    println!(
        "{:<38} {:>14.0} {:>9.2} {:>9.2}",
        "Store::submit_reviewed (green, 2 tax)", reviewed.rate, reviewed.p50_ms, reviewed.p99_ms
    );
    println!(
        "{:<38} {:>14.0} {:>9} {:>9}",
        format!("plain batched insert, batches of {batch}"),
        raw_rate,
        "-",
        "-"
    );
    println!("ratio store / plain: {:.2}", store_rate / raw_rate);
    println!(
        "store: {done} declarations in {:.2} s, {} commits, mean batch {:.1}; reviewed: {} in {:.2} s, mean batch {:.1}; plain: {raw_rows} rows in {:.2} s",
        plain.elapsed_s,
        plain.batches,
        batch_mean,
        reviewed.done,
        reviewed.elapsed_s,
        reviewed.batch_mean,
        raw_elapsed.as_secs_f64()
    );
    println!(
        "{{\"bench\":\"store_ceiling_postgres\",\"submitters\":{SUBMITTERS},\"declarations\":{done},\"store_per_s\":{store_rate:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"mean_batch\":{batch_mean:.1},\"raw_per_s\":{raw_rate:.0},\"raw_batch\":{batch},\"ratio\":{:.3},\"reviewed_per_s\":{:.0},\"reviewed_p99_ms\":{:.3}}}",
        plain.p50_ms,
        plain.p99_ms,
        store_rate / raw_rate,
        reviewed.rate,
        reviewed.p99_ms
    );
}

struct Run {
    done: u64,
    elapsed_s: f64,
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    batches: u64,
    batch_mean: f64,
}

/// `SUBMITTERS` threads filing through a fresh store in `schema` for `DURATION_S` seconds.
fn through_store(url: &str, schema: &str, bodies: &[String], reviewed: bool) -> Run {
    let store = PostgresStore::open(
        url,
        PostgresOptions {
            schema: Some(schema.to_owned()),
            ..PostgresOptions::default()
        },
    )
    .expect("open store");
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
                let (store, issued, stop, review) = (&store, &issued, &stop, &review);
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
    let stats = store.writer_stats();
    let report = store.verify_audit().expect("verify");
    assert!(report.is_intact(), "audit chain intact after the run");
    let records_per_filing = if reviewed { 2 } else { 1 };
    assert_eq!(
        report.records_checked,
        latencies_us.len() as u64 * records_per_filing
    );
    drop(store);
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

/// Declaration row + event row + audit row per declaration, `batch` declarations per
/// transaction as three multi-row inserts, until `rows` are written or the time is up.
async fn raw_inserts(c: &Client, bodies: &[String], batch: u64, rows: u64) -> (u64, Duration) {
    let state = r#"{"status":"submitted","header":{"pre_entry_no":"220020251000000001","client_seq_no":"b0-0","declarant":"91110000600037341L","direction":"import","declaration_office":"2200","entry_exit_office":"2201"},"declaration_no":null,"lane":null,"findings":[],"notices":[],"guarantee_no":null,"pending_request":null,"suspended_from":null,"amendments":0,"submitted_at":"2025-03-10T01:00:00Z","accepted_at":null,"released_at":null,"closed_at":null}"#;
    let event = r#"{"at":"2025-03-10T01:00:00Z","actor":{"kind":"enterprise","uscc":"91110000600037341L"},"kind":{"type":"submitted","pre_entry_no":"220020251000000001","client_seq_no":"b0-0","declarant":"91110000600037341L","direction":"import","declaration_office":"2200","entry_exit_office":"2201"}}"#;
    let at = Utc.with_ymd_and_hms(2025, 3, 10, 1, 0, 0).unwrap();
    let decl = c
        .prepare(
            "INSERT INTO declarations (id, pre_entry_no, declarant, client_seq_no, direction, declaration_office, status, submitted_at, updated_at, version, state, body)
             SELECT id, pre, '91110000600037341L', seq, 'import', '2200', 'submitted', $3, $3, 1, $4::text::jsonb, body::json
             FROM unnest($1::int8[], $2::text[], $5::text[], $6::text[]) AS t (id, pre, seq, body)",
        )
        .await
        .expect("prepare");
    let events = c
        .prepare(
            "INSERT INTO events (declaration_id, seq, type, at, body)
             SELECT id, 1, 'submitted', $2, $3::text::json FROM unnest($1::int8[]) AS t (id)",
        )
        .await
        .expect("prepare");
    let audit = c
        .prepare(
            "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash)
             SELECT id, $2, 'enterprise:91110000600037341L', 'submit', subject, detail, $4, $4
             FROM unnest($1::int8[], $3::text[], $5::text[]) AS t (id, subject, detail)",
        )
        .await
        .expect("prepare");
    let hash = vec![7u8; 32];
    let started = Instant::now();
    let deadline = started + Duration::from_secs(DURATION_S);
    let mut written = 0u64;
    while written < rows && Instant::now() < deadline {
        let ids: Vec<i64> = (written..written + batch).map(|i| i as i64 + 1).collect();
        let pres: Vec<String> = (written..written + batch)
            .map(|i| format!("2200202510{i:08}"))
            .collect();
        let seqs: Vec<String> = (written..written + batch)
            .map(|i| format!("r-{i}"))
            .collect();
        let bs: Vec<&str> = (written..written + batch)
            .map(|i| bodies[i as usize % bodies.len()].as_str())
            .collect();
        let subjects: Vec<String> = ids.iter().map(|id| format!("declaration:{id}")).collect();
        let details: Vec<String> = pres
            .iter()
            .zip(&seqs)
            .map(|(p, s)| {
                format!(
                    r#"{{"pre_entry_no":"{p}","client_seq_no":"{s}","body_sha256":"{}","version":1}}"#,
                    "0".repeat(64)
                )
            })
            .collect();
        c.batch_execute("BEGIN").await.expect("begin");
        c.execute(&decl, &[&ids, &pres, &at, &state, &seqs, &bs])
            .await
            .expect("insert declarations");
        c.execute(&events, &[&ids, &at, &event])
            .await
            .expect("insert events");
        c.execute(
            &audit,
            &[&ids, &at.timestamp_millis(), &subjects, &hash, &details],
        )
        .await
        .expect("insert audit");
        c.batch_execute("COMMIT").await.expect("commit");
        written += batch;
    }
    (written, started.elapsed())
}
