//! Storage ceiling on SQLite: durable submissions through the `Store` (one writer, group
//! commit) from 64 concurrent submitter threads (`store_contract::bench`), beside the machine's
//! ceiling: the same declaration row (~1.2 KB body) and audit row, inserted with plain rusqlite
//! into plain tables of the same shape and indexes (`store_contract::bench::plain_schema`), in batches of the size the store's writer
//! formed. Durability on in both halves: WAL, `synchronous=FULL`, fsync before the answer.
//!
//! `cargo bench -p store-sqlite` (bounded: at most `DURATION_S` seconds per half). Prints a
//! table and a JSON line.

use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use rusqlite::{params, Connection};
use store_contract::bench::{self, DURATION_S, SUBMITTERS};
use store_sqlite::{SqliteOptions, SqliteStore};

/// SQLite's column types (times in milliseconds, as the store keeps them).
const SQLITE: bench::Dialect = bench::Dialect {
    id: "INTEGER PRIMARY KEY",
    int: "INTEGER",
    text: "TEXT",
    time: "INTEGER",
    state: "TEXT",
    body: "TEXT",
    bytes: "BLOB",
};

fn main() {
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(base).expect("bench directory");
    let (bodies, body_bytes) = bench::bodies();

    // --- through the Store ---------------------------------------------------------------
    let dir = tempfile::tempdir_in(base).expect("temporary directory");
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).expect("open store");
    let run = bench::through_store(&store, &|| store.writer_stats(), &bodies, false);
    drop(store);

    // --- the machine's ceiling: plain SQLite ------------------------------------------------
    let raw_dir = tempfile::tempdir_in(base).expect("temporary directory");
    let mut conn = Connection::open(raw_dir.path().join("plain.db")).expect("open plain");
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("WAL");
    assert!(mode.eq_ignore_ascii_case("wal"), "plain SQLite in WAL");
    conn.execute_batch("PRAGMA synchronous=FULL;")
        .expect("synchronous=FULL");
    conn.execute_batch(&bench::plain_schema(&SQLITE))
        .expect("plain schema");
    let batch = run.batch();
    let (raw_rows, raw_elapsed) = raw_inserts(&mut conn, &bodies, batch, run.done.max(batch));
    let raw_rate = raw_rows as f64 / raw_elapsed.as_secs_f64();

    bench::report(
        &format!("storage ceiling, SQLite WAL synchronous=FULL, {SUBMITTERS} submitters, body ~{body_bytes} B"),
        &[
            ("Store::submit (group commit)".into(), run.rate, Some((run.p50_ms, run.p99_ms))),
            (format!("plain rusqlite, batches of {batch}"), raw_rate, None),
        ],
        &format!(
            "{{\"bench\":\"store_ceiling\",\"submitters\":{SUBMITTERS},\"declarations\":{},\"store_per_s\":{:.0},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"mean_batch\":{:.1},\"raw_per_s\":{raw_rate:.0},\"raw_batch\":{batch},\"ratio\":{:.3}}}",
            run.done, run.rate, run.p50_ms, run.p99_ms, run.batch_mean, run.rate / raw_rate
        ),
    );
    println!(
        "store: {} declarations in {:.2} s, {} commits, mean batch {:.1}; plain: {raw_rows} rows in {:.2} s",
        run.done,
        run.elapsed_s,
        run.batches,
        run.batch_mean,
        raw_elapsed.as_secs_f64()
    );
}

/// Declaration row + audit row per declaration, `batch` declarations per transaction, until
/// `rows` are written or the time is up.
fn raw_inserts(conn: &mut Connection, bodies: &[String], batch: u64, rows: u64) -> (u64, Duration) {
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
                    "INSERT INTO declarations (pre_entry_no, declarant, client_seq_no, direction, declaration_office, status, lane, submitted_at, updated_at, version, state, body)
                     VALUES (?1, '91110000600037341L', ?2, 'import', '2200', 'submitted', NULL, ?3, ?3, 1, ?4, ?5)",
                )
                .expect("prepare");
            let mut audit = tx
                .prepare_cached(
                    "INSERT INTO audit_log (at_ms, actor, action, subject, detail, prev_hash, hash) VALUES (?1, 'enterprise:91110000600037341L', 'submit', ?2, ?3, ?4, ?4)",
                )
                .expect("prepare");
            for _ in 0..batch {
                let row = bench::reference_row(written);
                decl.execute(params![
                    row.pre_entry_no,
                    row.client_seq_no,
                    at_ms,
                    bench::REFERENCE_STATE,
                    bodies[written as usize % bodies.len()]
                ])
                .expect("insert declaration");
                audit
                    .execute(params![at_ms, row.subject, row.detail, &hash[..]])
                    .expect("insert audit");
                written += 1;
            }
        }
        tx.commit().expect("commit");
    }
    (written, started.elapsed())
}
