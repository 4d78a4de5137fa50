//! The store contract, run on the SQLite backend in a fresh temporary directory per test.

use std::path::PathBuf;

use rusqlite::Connection;
use store::Store;
use store_contract::contract::Harness;
use store_sqlite::{SqliteOptions, SqliteStore, DB_FILE};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl SqliteHarness {
    fn new() -> SqliteHarness {
        SqliteHarness {
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }
    fn db(&self) -> PathBuf {
        self.dir.path().join(DB_FILE)
    }
}

impl Harness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        // A small batch bound, so that concurrent tests cross batch boundaries.
        let options = SqliteOptions {
            batch_max: 8,
            ..SqliteOptions::default()
        };
        Box::new(SqliteStore::open(self.dir.path(), options).expect("open store"))
    }
    fn tamper_audit_detail(&self, record_id: i64, detail: &str) {
        let c = Connection::open(self.db()).unwrap();
        let n = c
            .execute(
                "UPDATE audit_log SET detail = ?2 WHERE id = ?1",
                (record_id, detail),
            )
            .unwrap();
        assert_eq!(n, 1, "tampered one row");
    }
    fn delete_audit_record(&self, record_id: i64) {
        let c = Connection::open(self.db()).unwrap();
        let n = c
            .execute("DELETE FROM audit_log WHERE id = ?1", [record_id])
            .unwrap();
        assert_eq!(n, 1, "deleted one row");
    }
    fn audit_rows(&self) -> Vec<store::audit::AuditRecord> {
        let c = Connection::open(self.db()).unwrap();
        let mut stmt = c
            .prepare("SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY id")
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                Ok(store::audit::AuditRecord::from_columns(
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                )
                .unwrap())
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    }
    fn set_audit_rows(&self, rows: &[store::audit::AuditRecord]) {
        let mut c = Connection::open(self.db()).unwrap();
        let tx = c.transaction().unwrap();
        tx.execute("DELETE FROM audit_log", []).unwrap();
        for r in rows {
            tx.execute(
                "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                rusqlite::params![r.id, r.at_ms, r.actor, r.action, r.subject, r.detail, &r.prev_hash[..], &r.hash[..]],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
}

store_contract::contract_tests!(SqliteHarness::new());

/// The durability settings are what the design says.
#[test]
fn sqlite_runs_in_wal_with_synchronous_full() {
    let h = SqliteHarness::new();
    let store = h.open();
    drop(store);
    let c = Connection::open(h.db()).unwrap();
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    let version: u32 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    // 1 ledger, 2 sessions, 3 cargo control, 4 risk engine, 5 exchange outbox, 6 E-Port ledgers,
    // 7 refund claims and bank records, 8 e-commerce purchases, 9 risk policy versions,
    // 10 the dashboard counts' index, 11 the guarantee ledger, 12 declaration versions (superseded
    // notices), 13 bank payments, 14 the dashboard's daily aggregates, 15 account lifecycle,
    // 16 powers of attorney and the case register, 17 customs registration, 18 the search text
    // and attachments (issue 20), 19 new rows counted by the writer, 20 AEO certification and
    // re-registration (issue 19), 21 drafts and notifications read markers (issue 20), 22 webhook
    // subscriptions and their delivery log (issue 18 item 4), 23 the agencies' messages customs
    // applied or refused (issue 18 item 6), 24 the partial index of the events that change a
    // manifest (issue 15), 25 a licence's withdrawal by its issuer (issue 18 item 6).
    assert_eq!(version, 25);
    let conn = store_sqlite::open_write_connection(&h.db()).unwrap();
    let sync: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 2, "2 = FULL");
}

/// Group commit: concurrent writers share transactions.
#[test]
fn concurrent_submissions_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    std::thread::scope(|s| {
        for t in 0..16 {
            let store = &store;
            s.spawn(move || {
                for i in 0..20 {
                    let r = store_contract::contract::submit_request(
                        &format!("g-{t}-{i}"),
                        store_contract::contract::sample_body(i),
                    );
                    store.submit(r).unwrap();
                }
            });
        }
    });
    let stats = store.writer_stats();
    assert_eq!(stats.requests, 320);
    assert!(
        stats.batches < stats.requests,
        "some requests shared a commit: {stats:?}"
    );
}

/// The WAL is checkpointed by the store's own thread, not left to grow and not at the writer's
/// commits: the database file receives the committed pages while the store runs (with
/// SQLite's automatic checkpoint off, nothing else copies them), and the WAL starts over.
#[test]
fn the_wal_is_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    let db = dir.path().join(DB_FILE);
    let wal = dir.path().join(format!("{DB_FILE}-wal"));
    let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
    let db_before = size(&db);
    // ~2 MB of filings, well past one checkpoint's worth of pages.
    for i in 0..600 {
        let r = store_contract::contract::submit_request(
            &format!("wal-{i}"),
            store_contract::contract::sample_body(i),
        );
        store.submit(r).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while size(&db) <= db_before + 256 * 1024 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        size(&db) > db_before + 256 * 1024,
        "the database file received the committed pages: {} -> {} bytes (WAL {} bytes)",
        db_before,
        size(&db),
        size(&wal)
    );
    drop(store);
    // Everything is in the database after close: a fresh read sees every filing.
    let c = Connection::open(&db).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM declarations WHERE client_seq_no LIKE 'wal-%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 600);
}
