//! The embedded backend: one SQLite file (`jinguan.db`) in a data directory (default
//! `./jinguan-data/`).
//!
//! - Durability: WAL journal, `synchronous=FULL` (each commit fsyncs the WAL before answering).
//! - Writes: ONE writer thread owns the only write connection. Callers send a request with a
//!   reply channel through a bounded queue; the writer takes the first waiting request and then
//!   every other one already queued (at most `batch_max`), runs each inside its own SAVEPOINT of
//!   a single `BEGIN IMMEDIATE` transaction, commits once, and only then answers all of them.
//!   A request that fails (refusal, conflict) rolls back to its savepoint and does not spoil the
//!   others. No timer: while one batch is being fsynced, the next one gathers by itself. The
//!   queue, the batch loop and the typed requests are `store::writer`'s (shared with
//!   PostgreSQL); the rules applied inside the transaction are `store::plan`'s.
//! - Reads: separate connections (`query_only`), kept in a small pool, never blocked by the
//!   writer thanks to WAL.
//! - Schema: versioned migrations recorded in `PRAGMA user_version`.
//!
//! A crate of its own beside `store-postgres`, so that neither backend carries the other's
//! driver and the core (`store`) carries neither. It passes the contract suites of
//! `store-contract` (tests/sqlite_*.rs).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clearance::{customs_year, Actor, DeclarationState, EventKind, Lane, Status};
use domain::codes::{DeclarationNo, Direction, OfficeCode, PreEntryNo, Uscc};
use domain::money::Fen;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use store::audit::{AuditRecord, AuditReport, ChainHead};
use store::writer::{Answer, Queue, Request};
use store::*;

mod aeo;
mod attachments;
pub mod backup;
mod cargo;
mod daily;
mod drafts;
mod eport;
mod finance;
mod guarantee;
mod outbox;
mod parties;
mod payments;
mod registration;
mod risk;
mod search;
mod versions;
mod webhooks;

pub const DEFAULT_DIR: &str = "./jinguan-data";
pub const DB_FILE: &str = "jinguan.db";

/// Tuning, all bounded.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// Most requests committed in one transaction.
    pub batch_max: usize,
    /// Most requests waiting for the writer; senders block beyond it (back-pressure).
    pub queue_max: usize,
    /// Idle reader connections kept open.
    pub readers_max: usize,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            batch_max: 256,
            queue_max: 4096,
            // As many as requests read at once under load (64 clients): a reader beyond the
            // pool is opened and closed per read, paying the schema's parse each time.
            readers_max: 32,
        }
    }
}

pub use store::writer::WriterStats;

/// The migrations, in order; `user_version` is the number applied.
const MIGRATIONS: &[&str] = &[
    // 1: the ledger.
    r#"
    CREATE TABLE declarations (
        id                 INTEGER PRIMARY KEY,
        pre_entry_no       TEXT NOT NULL UNIQUE,
        declaration_no     TEXT UNIQUE,
        declarant          TEXT NOT NULL,
        client_seq_no      TEXT NOT NULL,
        direction          TEXT NOT NULL,
        declaration_office TEXT NOT NULL,
        status             TEXT NOT NULL,
        lane               TEXT,
        submitted_at_ms    INTEGER NOT NULL,
        updated_at_ms      INTEGER NOT NULL,
        version            INTEGER NOT NULL,
        state              TEXT NOT NULL,
        body               TEXT NOT NULL
    );
    -- The idempotency key of submission.
    CREATE UNIQUE INDEX declarations_client_seq ON declarations (declarant, client_seq_no);
    CREATE INDEX declarations_status ON declarations (status, id);
    CREATE INDEX declarations_office ON declarations (declaration_office, id);
    CREATE INDEX declarations_declarant ON declarations (declarant, id);

    CREATE TABLE events (
        declaration_id INTEGER NOT NULL REFERENCES declarations (id),
        seq            INTEGER NOT NULL,
        type           TEXT NOT NULL,
        at_ms          INTEGER NOT NULL,
        body           TEXT NOT NULL,
        PRIMARY KEY (declaration_id, seq)
    ) WITHOUT ROWID;

    CREATE TABLE payment_notices (
        notice_no      TEXT PRIMARY KEY,
        declaration_id INTEGER NOT NULL REFERENCES declarations (id),
        tax            TEXT NOT NULL,
        amount_fen     INTEGER NOT NULL,
        issued_at_ms   INTEGER NOT NULL,
        paid_at_ms     INTEGER
    );
    CREATE INDEX payment_notices_declaration ON payment_notices (declaration_id);

    -- Serial counters: kind `pre_entry` or `declaration`, per office, customs year, direction.
    CREATE TABLE serials (
        kind      TEXT NOT NULL,
        office    TEXT NOT NULL,
        year      INTEGER NOT NULL,
        direction TEXT NOT NULL,
        last      INTEGER NOT NULL,
        PRIMARY KEY (kind, office, year, direction)
    ) WITHOUT ROWID;

    CREATE TABLE offices (
        code   TEXT PRIMARY KEY,
        name   TEXT NOT NULL,
        parent TEXT
    );

    CREATE TABLE users (
        id     INTEGER PRIMARY KEY,
        login  TEXT NOT NULL UNIQUE,
        role   TEXT NOT NULL,
        office TEXT,
        uscc   TEXT
    );

    CREATE TABLE audit_log (
        id        INTEGER PRIMARY KEY,
        at_ms     INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        subject   TEXT NOT NULL,
        detail    TEXT NOT NULL,
        prev_hash BLOB NOT NULL,
        hash      BLOB NOT NULL
    );
    "#,
    // 2: sign-in (duties, password hashes, sessions) and the lane filter.
    r#"
    ALTER TABLE users ADD COLUMN duties TEXT NOT NULL DEFAULT '';
    ALTER TABLE users ADD COLUMN agency TEXT;
    ALTER TABLE users ADD COLUMN password_hash TEXT;

    CREATE TABLE sessions (
        token_hash    TEXT PRIMARY KEY,
        user_id       INTEGER NOT NULL REFERENCES users (id),
        created_at_ms INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
    );
    CREATE INDEX sessions_user ON sessions (user_id);
    CREATE INDEX declarations_lane ON declarations (lane, id);
    "#,
    // 3: transport and cargo control (store::cargo): manifest event log, transits, postal items.
    cargo::MIGRATION,
    // 4: the risk engine (store::risk): rule set versions, credit classes, watch list, feedback.
    risk::MIGRATION,
    // 5: the exchange outbox (store::outbox): rows written with the change they report.
    outbox::MIGRATION,
    // 6: the E-Port ledgers (store::eport): licences, their uses, the enterprise registry.
    eport::MIGRATION,
    // 7: export tax refund claims and banks' receipts and payments (store::finance).
    finance::MIGRATION,
    // 8: cross-border e-commerce retail purchases: the buyer and the value counted against
    // their limits (Store::purchases); the goods' value for the foreign-exchange match
    // (Store::goods_totals).
    r#"
    ALTER TABLE declarations ADD COLUMN buyer TEXT;
    ALTER TABLE declarations ADD COLUMN purchase_fen INTEGER;
    ALTER TABLE declarations ADD COLUMN goods_value_fen INTEGER;
    CREATE INDEX declarations_buyer ON declarations (buyer, submitted_at_ms) WHERE buyer IS NOT NULL;
    "#,
    // 9: the risk policy's versions: sampling seed and rates per credit class, price-check
    // thresholds (store::risk::RiskStore::put_risk_policy).
    risk::POLICY_MIGRATION,
    // 10: the dashboard's counts (Store::declaration_counts) read a period's declarations from
    // this index alone, not from the wide rows. It leads with an expression that only that
    // query names: on `submitted_at_ms` itself SQLite would also take it for `Store::list`'s
    // date filters and sort the whole period for each page, instead of walking the primary key
    // newest first.
    r#"
    CREATE INDEX declarations_counted ON declarations
        (submitted_at_ms + 0, submitted_at_ms, declaration_office, status, lane, declaration_no);
    "#,
    // 11: the guarantee ledger (store::guarantee): guarantees and their reservations.
    guarantee::MIGRATION,
    // 12: versions of a declaration (issue 14): notices a re-assessment replaced.
    versions::MIGRATION,
    // 13: payments through the bank: the notice's payment columns and the banks'
    // confirmations, unique per (bank, reference) and per notice (issue 14).
    payments::MIGRATION,
    // 14: the dashboard's daily aggregates (store::daily), kept by triggers, backfilled here.
    daily::MIGRATION,
    // 15: account lifecycle (issue 15): an administrator disables an account or resets its
    // password, which must then be changed at the next sign-in.
    r#"
    ALTER TABLE users ADD COLUMN disabled_at_ms INTEGER;
    ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;
    "#,
    // 16: powers of attorney, brokers' filings, the case register and credit history
    // (store::parties, store::cases; issue 19).
    parties::MIGRATION,
    // 17: customs registration of enterprises (store::registration; issue 19).
    registration::MIGRATION,
    // 18: the web interface's lists and documents (issue 20): the search text of each
    // declaration, kept by triggers (store::search), and documents attached to declarations
    // (store::attachments).
    search::MIGRATION,
    // 19 (issue 16): the writer counts new declaration rows in the daily aggregates once per
    // batch (`daily::write_delta`); the triggers keep counting updates only.
    "DROP TRIGGER stats_insert;",
    // 20 (issue 19): AEO certification (store::aeo), and a registration refused or cancelled
    // no longer blocks a new one for the same USCC.
    aeo::MIGRATION,
    // 21 (issue 20): drafts of forms kept by the server, and each user's notifications read
    // marker (store::drafts).
    drafts::MIGRATION,
    // 22 (issue 18 item 4): webhook subscriptions, their cursors and delivery log
    // (store::webhooks).
    webhooks::MIGRATION,
    // 23 (issue 18 item 6): the agencies' messages customs applied or refused, each id once
    // (store::inbound).
    outbox::INBOUND_MIGRATION,
    // 24 (issue 15): the filing's check that its manifest did not change under it reads only the
    // events that change a manifest (a partial index), not every match since it read the ledger.
    cargo::CHANGES_MIGRATION,
    // 25 (issue 18 item 6): a licence's withdrawal by its issuer (store::eport); a refund
    // claim's payment is written into the claim's own JSON, no column.
    eport::WITHDRAWAL_MIGRATION,
];

/// Apply the pending migrations in one transaction. Public so that the benchmark's raw
/// reference writes into exactly the same schema.
/// The offices of a filter as numbered parameters (`?3,?4,…`, appended to `args`), for an
/// `IN (…)`; `None` when the list is empty (nothing can match). At most [`OFFICES_MAX`].
fn office_params(
    offices: &[OfficeCode],
    args: &mut Vec<rusqlite::types::Value>,
) -> Result<Option<String>, StoreError> {
    if offices.len() > OFFICES_MAX {
        return Err(StoreError::Invalid(format!(
            "at most {OFFICES_MAX} offices in a filter"
        )));
    }
    let mut list = String::new();
    for o in offices {
        args.push(rusqlite::types::Value::Text(o.to_string()));
        if !list.is_empty() {
            list.push(',');
        }
        list.push_str(&format!("?{}", args.len()));
    }
    Ok((!list.is_empty()).then_some(list))
}

pub fn migrate(conn: &mut Connection) -> Result<u32, StoreError> {
    let current: u32 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    let known = MIGRATIONS.len() as u32;
    if current > known {
        return Err(StoreError::Invalid(format!(
            "database schema version {current} is newer than this program ({known})"
        )));
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(backend)?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", (i + 1) as u32)
            .map_err(backend)?;
    }
    tx.commit().map_err(backend)?;
    Ok(known)
}

/// Open a write connection with the durability settings of the project.
pub fn open_write_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(backend)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Invalid(format!(
            "could not switch to WAL (got {mode})"
        )));
    }
    // temp_store=MEMORY keeps each request's savepoint journal in memory: by default SQLite
    // spills it to a temporary file past 64 KiB, and a group of filings wrote and read it
    // back (~15 % of the writer's samples in `subjournalPageIfRequired`). 16 MiB of page cache
    // keeps a group's hot pages (the declarations' nine indexes, events, audit) at hand.
    conn.execute_batch(
        "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;",
    )
    .map_err(backend)?;
    conn.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
    // The writer runs ~160 distinct statements; a filing's group alone a few dozen.
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// Walk the audit chain of the database behind `c` (the store's or a backup's).
fn verify_audit_chain(
    c: &Connection,
    options: &store::VerifyOptions,
) -> Result<AuditReport, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE id > ?1 ORDER BY id LIMIT ?2",
        )
        .map_err(backend)?;
    store::audit::verify_in_chunks(options, |after, limit| {
        let mut rows = stmt.query(params![after, limit]).map_err(backend)?;
        let mut chunk = Vec::new();
        while let Some(r) = rows.next().map_err(backend)? {
            chunk.push((r.get(0).map_err(backend)?, read_audit_row(r)));
        }
        Ok(chunk)
    })
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn corrupt(what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// The SQLite [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    queue: Queue,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<Checkpointer>,
    readers: Mutex<Vec<Connection>>,
    readers_max: usize,
    stats: std::sync::Arc<Mutex<WriterStats>>,
}

impl SqliteStore {
    /// Open (creating if needed) the store in `dir`, migrate it, and start the writer.
    pub fn open(dir: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        assert!(
            options.batch_max >= 1 && options.queue_max >= 1,
            "bounds must be positive"
        );
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let path = dir.join(DB_FILE);
        let mut conn = open_write_connection(&path)?;
        migrate(&mut conn)?;
        let head = read_chain_head(&conn)?;
        // The WAL is copied back into the database by a thread of its own, not by the writer
        // at the commit that crosses 1,000 pages (SQLite's default): the writer is what limits
        // filings per second, and the copy with its fsync was ~5 % of its time.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(backend)?;
        let checkpointer = Checkpointer::start(&path)?;

        let (queue, rx) = Queue::bounded(options.queue_max);
        let stats = std::sync::Arc::new(Mutex::new(WriterStats::default()));
        let writer_stats = stats.clone();
        let batch_max = options.batch_max;
        let writer = std::thread::Builder::new()
            .name("jinguan-sqlite-writer".into())
            .spawn(move || {
                let mut writer = Writer { conn, head };
                store::writer::run(rx, batch_max, &writer_stats, |batch| {
                    writer.commit_batch(batch)
                })
            })
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(SqliteStore {
            path,
            queue,
            writer: Some(writer),
            checkpointer: Some(checkpointer),
            readers: Mutex::new(Vec::new()),
            readers_max: options.readers_max,
            stats,
        })
    }

    /// Open the default data directory `./jinguan-data/`.
    pub fn open_default() -> Result<SqliteStore, StoreError> {
        Self::open(Path::new(DEFAULT_DIR), SqliteOptions::default())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn writer_stats(&self) -> WriterStats {
        *self.stats.lock().expect("stats lock")
    }

    fn read<R>(
        &self,
        f: impl FnOnce(&Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let conn = self.readers.lock().expect("reader pool lock").pop();
        let conn = match conn {
            Some(c) => c,
            None => {
                let c = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(backend)?;
                c.busy_timeout(Duration::from_secs(5)).map_err(backend)?;
                // 1 MiB of page cache each (the OS caches the file too); statements kept.
                c.execute_batch("PRAGMA query_only=ON; PRAGMA cache_size=-1024;")
                    .map_err(backend)?;
                c.set_prepared_statement_cache_capacity(64);
                c
            }
        };
        let result = f(&conn);
        let mut pool = self.readers.lock().expect("reader pool lock");
        if pool.len() < self.readers_max {
            pool.push(conn);
        }
        result
    }
}

impl Drop for SqliteStore {
    /// Closing the queue lets the writer finish what is queued and stop.
    fn drop(&mut self) {
        self.queue.close();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        // After the writer: a last checkpoint of everything it committed.
        if let Some(c) = self.checkpointer.take() {
            c.stop();
        }
    }
}

/// The thread that checkpoints the WAL (copies committed pages back into the database file)
/// every [`CHECKPOINT_EVERY`], on a connection of its own, in SQLite's `PASSIVE` mode: it
/// never blocks the writer or a reader, and copies what no reader still needs. The writer
/// starts the WAL over once everything in it was copied, so it stays about as large as what
/// is committed between two checkpoints.
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// How often the WAL is checkpointed.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

impl Checkpointer {
    fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = open_write_connection(path)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(backend)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("jinguan-sqlite-checkpoint".into())
            .spawn(move || {
                // A failure (a full disk) is logged when it starts and when it ends, not at
                // every attempt.
                let mut failing = false;
                let mut checkpoint = || match conn.query_row(
                    "PRAGMA wal_checkpoint(PASSIVE)",
                    [],
                    |_| Ok(()),
                ) {
                    Err(e) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "WAL checkpoint failed; retried every 250 ms");
                    }
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!("WAL checkpoint works again");
                    }
                    _ => {}
                };
                loop {
                    match stopped.recv_timeout(CHECKPOINT_EVERY) {
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => checkpoint(),
                        _ => {
                            checkpoint();
                            return;
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Backend(Box::new(e)))?;
        Ok(Checkpointer { stop, thread })
    }

    fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

impl store::writer::Queued for SqliteStore {
    fn queue(&self) -> &Queue {
        &self.queue
    }
}

impl Store for SqliteStore {
    fn writer_stats(&self) -> Option<WriterStats> {
        Some(SqliteStore::writer_stats(self))
    }

    store::provide_sub_stores!();

    fn goods_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        declarant: Option<&Uscc>,
    ) -> Result<Vec<GoodsTotal>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT declarant, direction, date(submitted_at_ms / 1000 + ?5, 'unixepoch') AS day,
                            COALESCE(SUM(goods_value_fen), 0), COUNT(*), COUNT(*) - COUNT(goods_value_fen)
                     FROM declarations
                     WHERE status IN ('released', 'closed') AND submitted_at_ms >= ?1 AND submitted_at_ms < ?2
                       AND (?3 IS NULL OR declarant = ?3)
                     GROUP BY declarant, direction, day ORDER BY declarant, direction, day LIMIT ?4",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(
                    params![
                        to_ms(from),
                        to_ms(to),
                        declarant.map(|u| u.to_string()),
                        GOODS_TOTALS_MAX + 1,
                        // The China day (domain::time), the one definition of the offset.
                        domain::time::CHINA_OFFSET_SECONDS
                    ],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                            r.get::<_, i64>(5)?,
                        ))
                    },
                )
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (declarant, direction, day, value, n, unvalued) = row.map_err(backend)?;
                out.push(GoodsTotal {
                    declarant: Uscc::parse(&declarant).map_err(corrupt)?,
                    direction: parse_direction(&direction)?,
                    day: chrono::NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(corrupt)?,
                    value_fen: Fen(value),
                    declarations: n as u64,
                    unvalued: unvalued as u64,
                });
            }
            goods_totals_bounded(out)
        })
    }

    fn purchases(
        &self,
        buyer: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredPurchase>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, submitted_at_ms, purchase_fen, status FROM declarations
                     WHERE buyer = ?1 AND submitted_at_ms >= ?2 ORDER BY submitted_at_ms, id LIMIT ?3",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![buyer, to_ms(since), PURCHASES_MAX], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, at, value, status) = row.map_err(backend)?;
                out.push(StoredPurchase {
                    id: DeclarationId(id),
                    submitted_at: from_ms(at)?,
                    value_fen: Fen(value),
                    status: Status::parse(&status)
                        .ok_or_else(|| corrupt(format!("declaration {id}: status {status:?}")))?,
                });
            }
            Ok(out)
        })
    }

    fn load(&self, key: DeclarationKey) -> Result<Option<StoredDeclaration>, StoreError> {
        self.read(|c| {
            let (sql, value) = match key {
                DeclarationKey::Id(id) => ("SELECT id, version, state, body, updated_at_ms FROM declarations WHERE id = ?1", rusqlite::types::Value::Integer(id.0)),
                DeclarationKey::PreEntryNo(n) => ("SELECT id, version, state, body, updated_at_ms FROM declarations WHERE pre_entry_no = ?1", rusqlite::types::Value::Text(n.to_string())),
                DeclarationKey::DeclarationNo(n) => ("SELECT id, version, state, body, updated_at_ms FROM declarations WHERE declaration_no = ?1", rusqlite::types::Value::Text(n.to_string())),
            };
            let row = c
                .prepare_cached(sql)
                .map_err(backend)?
                .query_row([value], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, i64>(4)?))
                })
                .optional()
                .map_err(backend)?;
            let Some((id, version, state, body, updated_at_ms)) = row else { return Ok(None) };
            Ok(Some(StoredDeclaration {
                id: DeclarationId(id),
                version: version as u64,
                state: serde_json::from_str(&state).map_err(|e| corrupt(format!("state of declaration {id}: {e}")))?,
                body_json: body,
                updated_at: from_ms(updated_at_ms)?,
            }))
        })
    }

    fn events(&self, id: DeclarationId) -> Result<Vec<StoredEvent>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, body FROM events WHERE declaration_id = ?1 ORDER BY seq",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([id.0], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, body) = row.map_err(backend)?;
                let event = serde_json::from_str(&body)
                    .map_err(|e| corrupt(format!("event {id}/{seq}: {e}")))?;
                out.push(StoredEvent {
                    seq: seq as u64,
                    event,
                });
            }
            Ok(out)
        })
    }

    fn list(
        &self,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<DeclarationSummary>, StoreError> {
        if page.limit == 0 || page.limit > PAGE_MAX {
            return Err(StoreError::Invalid(format!(
                "page limit must be 1 to {PAGE_MAX}"
            )));
        }
        let after = page.after.as_ref().map(Cursor::id).transpose()?;
        let mut sql = String::from(
            "SELECT id, pre_entry_no, declaration_no, declarant, direction, declaration_office, status, lane, submitted_at_ms, version FROM declarations WHERE 1=1",
        );
        let mut args: Vec<rusqlite::types::Value> = Vec::new();
        let mut push = |clause: &str, v: rusqlite::types::Value| {
            args.push(v);
            sql.push_str(&format!(" AND {clause} ?{}", args.len()));
        };
        use rusqlite::types::Value::{Integer, Text};
        if let Some(s) = filter.status {
            push("status =", Text(s.as_str().into()));
        }
        if let Some(l) = filter.lane {
            push("lane =", Text(l.as_str().into()));
        }
        if let Some(o) = filter.declaration_office {
            push("declaration_office =", Text(o.to_string()));
        }
        if let Some(u) = filter.declarant {
            push("declarant =", Text(u.to_string()));
        }
        if let Some(t) = filter.submitted_from {
            push("submitted_at_ms >=", Integer(to_ms(t)));
        }
        if let Some(t) = filter.submitted_to {
            push("submitted_at_ms <", Integer(to_ms(t)));
        }
        if let Some(offices) = &filter.offices {
            let Some(list) = office_params(offices, &mut args)? else {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            };
            sql.push_str(&format!(" AND declaration_office IN ({list})"));
        }
        if let Some(id) = after {
            args.push(Integer(id.0));
            sql.push_str(&format!(" AND id < ?{}", args.len()));
        }
        // One more than asked, to know whether there is a next page.
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", page.limit + 1));
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, i64>(9)?,
                    ))
                })
                .map_err(backend)?;
            let mut items = Vec::new();
            for row in rows {
                let (id, pre, dno, declarant, direction, office, status, lane, submitted, version) =
                    row.map_err(backend)?;
                items.push(DeclarationSummary {
                    id: DeclarationId(id),
                    pre_entry_no: PreEntryNo::parse(&pre).map_err(corrupt)?,
                    declaration_no: dno
                        .as_deref()
                        .map(DeclarationNo::parse)
                        .transpose()
                        .map_err(corrupt)?,
                    declarant: Uscc::parse(&declarant).map_err(corrupt)?,
                    direction: parse_direction(&direction)?,
                    declaration_office: OfficeCode::parse(&office).map_err(corrupt)?,
                    status: Status::parse(&status)
                        .ok_or_else(|| corrupt(format!("status {status}")))?,
                    lane: lane
                        .as_deref()
                        .map(|l| Lane::parse(l).ok_or_else(|| corrupt(format!("lane {l}"))))
                        .transpose()?,
                    submitted_at: from_ms(submitted)?,
                    version: version as u64,
                });
            }
            let next = if items.len() > page.limit as usize {
                items.truncate(page.limit as usize);
                items.last().map(|s| Cursor::from_id(s.id))
            } else {
                None
            };
            Ok(Page { items, next })
        })
    }

    fn search(
        &self,
        req: &store::search::SearchRequest,
    ) -> Result<store::search::Counted<DeclarationSummary>, StoreError> {
        self.read(|c| search::search(c, req))
    }

    fn attachments(
        &self,
        id: DeclarationId,
    ) -> Result<Vec<store::attachments::StoredAttachment>, StoreError> {
        self.read(|c| attachments::list(c, id))
    }

    fn attachment(
        &self,
        id: DeclarationId,
        attachment_id: i64,
    ) -> Result<Option<(store::attachments::StoredAttachment, Vec<u8>)>, StoreError> {
        self.read(|c| attachments::one(c, id, attachment_id))
    }

    fn daily_stats(
        &self,
        q: &store::daily::DayQuery,
    ) -> Result<store::daily::DailyStats, StoreError> {
        self.read(|c| daily::read(c, q))
    }

    fn drafts(
        &self,
        owner: &store::drafts::DraftOwner,
    ) -> Result<Vec<store::drafts::DraftSummary>, StoreError> {
        self.read(|c| drafts::list(c, owner))
    }

    fn draft(
        &self,
        owner: &store::drafts::DraftOwner,
        id: i64,
    ) -> Result<Option<store::drafts::StoredDraft>, StoreError> {
        self.read(|c| drafts::one(c, owner, id))
    }

    fn notifications_read(&self, user_id: i64) -> Result<Option<i64>, StoreError> {
        self.read(|c| drafts::read_marker(c, user_id))
    }

    fn changed_declarations(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<store::ChangedDeclarations, StoreError> {
        store::check_changes_limit(limit)?;
        self.read(|c| {
            // One snapshot: the head and the records are read in one transaction.
            c.execute_batch("BEGIN").map_err(backend)?;
            let result = (|| {
                let head: i64 = c
                    .query_row("SELECT COALESCE(MAX(id), 0) FROM audit_log", [], |r| {
                        r.get(0)
                    })
                    .map_err(backend)?;
                let mut stmt = c
                    .prepare_cached(
                        "SELECT id, subject FROM audit_log
                         WHERE id > ?1 AND subject LIKE 'declaration:%' ORDER BY id LIMIT ?2",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![after, limit], |r| Ok((r.get(0)?, r.get(1)?)))
                    .map_err(backend)?
                    .collect::<Result<Vec<(i64, String)>, _>>()
                    .map_err(backend)?;
                store::changed_from_rows(after, head, rows)
            })();
            c.execute_batch("COMMIT").map_err(backend)?;
            result
        })
    }

    fn declaration_records(
        &self,
        range: store::activity::RecordRange,
        limit: u32,
    ) -> Result<store::activity::DeclarationRecords, StoreError> {
        use store::activity::RecordRange;
        store::activity::check_limit(limit)?;
        let (sql, bound) = match range {
            RecordRange::After(after) => (
                "SELECT id, at_ms, actor, action, subject, detail FROM audit_log
                 WHERE id > ?1 AND subject LIKE 'declaration:%' ORDER BY id LIMIT ?2",
                after,
            ),
            RecordRange::Before(before) => (
                "SELECT id, at_ms, actor, action, subject, detail FROM audit_log
                 WHERE id < ?1 AND subject LIKE 'declaration:%' ORDER BY id DESC LIMIT ?2",
                before,
            ),
        };
        self.read(|c| {
            // One snapshot: the head and the records are read in one transaction.
            c.execute_batch("BEGIN").map_err(backend)?;
            let result = (|| {
                let head: i64 = c
                    .query_row("SELECT COALESCE(MAX(id), 0) FROM audit_log", [], |r| {
                        r.get(0)
                    })
                    .map_err(backend)?;
                let mut stmt = c.prepare_cached(sql).map_err(backend)?;
                let rows = stmt
                    .query_map(params![bound, limit], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, i64>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, String>(3)?,
                            r.get::<_, String>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    })
                    .map_err(backend)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend)?;
                let mut records = rows
                    .into_iter()
                    .map(|(id, at, actor, action, subject, detail)| {
                        store::activity::record_from_row(id, at, actor, action, &subject, &detail)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                if matches!(range, RecordRange::Before(_)) {
                    records.reverse();
                }
                Ok(store::activity::DeclarationRecords { records, head })
            })();
            c.execute_batch("COMMIT").map_err(backend)?;
            result
        })
    }

    fn declaration_counts(&self, q: &CountQuery) -> Result<Vec<CountRow>, StoreError> {
        use rusqlite::types::Value::Integer;
        let mut args = vec![Integer(to_ms(q.from)), Integer(to_ms(q.to))];
        let mut sql = String::from(
            "SELECT declaration_office, status, lane, declaration_no IS NOT NULL AS numbered, COUNT(*)
             FROM declarations WHERE submitted_at_ms + 0 >= ?1 AND submitted_at_ms + 0 < ?2",
        );
        if let Some(offices) = &q.offices {
            let Some(list) = office_params(offices, &mut args)? else {
                return Ok(Vec::new());
            };
            // `+`: not through `declarations_office` (a table read per row of the office, of
            // every period) but the period's range of the covering `declarations_counted`.
            sql.push_str(&format!(" AND +declaration_office IN ({list})"));
        }
        sql.push_str(" GROUP BY declaration_office, status, lane, numbered");
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, bool>(3)?,
                        r.get::<_, i64>(4)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (office, status, lane, numbered, count) = row.map_err(backend)?;
                out.push(CountRow {
                    office: OfficeCode::parse(&office).map_err(corrupt)?,
                    status: Status::parse(&status)
                        .ok_or_else(|| corrupt(format!("status {status}")))?,
                    lane: lane
                        .as_deref()
                        .map(|l| Lane::parse(l).ok_or_else(|| corrupt(format!("lane {l}"))))
                        .transpose()?,
                    numbered,
                    count: count as u64,
                });
            }
            Ok(out)
        })
    }

    fn payment_notices(&self, id: DeclarationId) -> Result<Vec<StoredNotice>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT notice_no, tax, amount_fen, issued_at_ms, paid_at_ms, superseded_at_ms, payment FROM payment_notices WHERE declaration_id = ?1 ORDER BY notice_no",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([id.0], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?, r.get::<_, Option<i64>>(4)?, r.get::<_, Option<i64>>(5)?, r.get::<_, Option<String>>(6)?))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (notice_no, tax, amount, issued, paid, superseded, payment) = row.map_err(backend)?;
                out.push(StoredNotice {
                    notice_no,
                    declaration_id: id,
                    tax: serde_json::from_value(serde_json::Value::String(tax.clone())).map_err(|_| corrupt(format!("tax {tax}")))?,
                    amount_fen: Fen(amount),
                    issued_at: from_ms(issued)?,
                    paid_at: paid.map(from_ms).transpose()?,
                    superseded_at: superseded.map(from_ms).transpose()?,
                    payment: payment
                        .map(|p| serde_json::from_str(&p).map_err(|e| corrupt(format!("notice payment: {e}"))))
                        .transpose()?,
                });
            }
            Ok(out)
        })
    }

    fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        self.read(|c| {
            let row = c
                .prepare_cached("SELECT id, login, role, office, uscc FROM users WHERE login = ?1")
                .map_err(backend)?
                .query_row([login], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .optional()
                .map_err(backend)?;
            let Some((id, login, role, office, uscc)) = row else {
                return Ok(None);
            };
            Ok(Some(User {
                id,
                login,
                role: Role::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
                office: office
                    .as_deref()
                    .map(OfficeCode::parse)
                    .transpose()
                    .map_err(corrupt)?,
                uscc: uscc
                    .as_deref()
                    .map(Uscc::parse)
                    .transpose()
                    .map_err(corrupt)?,
            }))
        })
    }

    fn verify_audit_with(&self, options: &store::VerifyOptions) -> Result<AuditReport, StoreError> {
        self.read(|c| verify_audit_chain(c, options))
    }

    fn audit_hashes(&self, from: i64, upto: i64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.read(|c| read_audit_hashes(c, from, upto))
    }

    fn audit_record(&self, id: i64) -> Result<Option<AuditRecord>, StoreError> {
        self.read(|c| {
            let row = c
                .prepare_cached(
                    "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE id = ?1",
                )
                .map_err(backend)?
                .query_row(params![id], |r| Ok(read_audit_row(r)))
                .optional()
                .map_err(backend)?;
            row.transpose()
                .map_err(|why| corrupt(format!("audit record {id}: {why}")))
        })
    }

    fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        self.read(|c| {
            read_account(
                c,
                "SELECT id, login, role, office, uscc, duties, agency, password_hash, disabled_at_ms IS NOT NULL, must_change_password FROM users WHERE login = ?1",
                rusqlite::types::Value::Text(login.to_owned()),
            )
        })
    }

    fn account_by_id(&self, user_id: i64) -> Result<Option<Account>, StoreError> {
        self.read(|c| {
            read_account(
                c,
                "SELECT id, login, role, office, uscc, duties, agency, password_hash, disabled_at_ms IS NOT NULL, must_change_password FROM users WHERE id = ?1",
                rusqlite::types::Value::Integer(user_id),
            )
        })
    }

    fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.read(|c| {
            let row = c
                .prepare_cached("SELECT user_id, created_at_ms, expires_at_ms, revoked_at_ms FROM sessions WHERE token_hash = ?1")
                .map_err(backend)?
                .query_row([token_hash], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?, r.get::<_, Option<i64>>(3)?))
                })
                .optional()
                .map_err(backend)?;
            let Some((user_id, created, expires, revoked)) = row else {
                return Ok(None);
            };
            let account = read_account(
                c,
                "SELECT id, login, role, office, uscc, duties, agency, password_hash, disabled_at_ms IS NOT NULL, must_change_password FROM users WHERE id = ?1",
                rusqlite::types::Value::Integer(user_id),
            )?
            .ok_or_else(|| corrupt(format!("session of missing user {user_id}")))?;
            Ok(Some(SessionRecord {
                token_hash: token_hash.to_owned(),
                account,
                created_at: from_ms(created)?,
                expires_at: from_ms(expires)?,
                revoked_at: revoked.map(from_ms).transpose()?,
            }))
        })
    }
}

fn read_account(
    c: &Connection,
    sql: &str,
    key: rusqlite::types::Value,
) -> Result<Option<Account>, StoreError> {
    type Row = (
        i64,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        bool,
        bool,
    );
    let row: Option<Row> = c
        .prepare_cached(sql)
        .map_err(backend)?
        .query_row([key], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .optional()
        .map_err(backend)?;
    let Some((
        id,
        login,
        role,
        office,
        uscc,
        duties,
        agency,
        password_hash,
        disabled,
        must_change_password,
    )) = row
    else {
        return Ok(None);
    };
    let duties = duties
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| Duty::parse(d).ok_or_else(|| corrupt(format!("duty {d} of user {id}"))))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Account {
        user: User {
            id,
            login,
            role: Role::parse(&role).ok_or_else(|| corrupt(format!("role {role}")))?,
            office: office
                .as_deref()
                .map(OfficeCode::parse)
                .transpose()
                .map_err(corrupt)?,
            uscc: uscc
                .as_deref()
                .map(Uscc::parse)
                .transpose()
                .map_err(corrupt)?,
        },
        duties,
        agency,
        password_hash,
        disabled,
        must_change_password,
    }))
}

fn read_audit_row(r: &rusqlite::Row<'_>) -> Result<AuditRecord, String> {
    let e = |e: rusqlite::Error| e.to_string();
    AuditRecord::from_columns(
        r.get(0).map_err(e)?,
        r.get(1).map_err(e)?,
        r.get(2).map_err(e)?,
        r.get(3).map_err(e)?,
        r.get(4).map_err(e)?,
        r.get(5).map_err(e)?,
        r.get(6).map_err(e)?,
        r.get(7).map_err(e)?,
    )
}

/// `/ready`'s write: the schema version set to the value it has, which rewrites the database's
/// header page, so the batch's commit appends to the WAL and syncs it like any other.
fn probe_write(c: &Connection) -> Result<(), StoreError> {
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(backend)?;
    c.pragma_update(None, "user_version", version)
        .map_err(backend)
}

/// The chain hashes of audit records `from..=upto`, by id.
fn read_audit_hashes(c: &Connection, from: i64, upto: i64) -> Result<Vec<[u8; 32]>, StoreError> {
    let mut stmt = c
        .prepare_cached("SELECT id, hash FROM audit_log WHERE id >= ?1 AND id <= ?2 ORDER BY id")
        .map_err(backend)?;
    let mut rows = stmt.query(params![from, upto]).map_err(backend)?;
    let mut out = Vec::with_capacity(usize::try_from(upto - from + 1).unwrap_or(0).min(1 << 20));
    while let Some(r) = rows.next().map_err(backend)? {
        let id: i64 = r.get(0).map_err(backend)?;
        let hash: Vec<u8> = r.get(1).map_err(backend)?;
        out.push(
            hash.try_into()
                .map_err(|_| corrupt(format!("audit record {id}: hash is not 32 bytes")))?,
        );
    }
    Ok(out)
}

fn read_chain_head(conn: &Connection) -> Result<ChainHead, StoreError> {
    let row = conn
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)),
        )
        .optional()
        .map_err(backend)?;
    match row {
        None => Ok(ChainHead::EMPTY),
        Some((id, hash)) => Ok(ChainHead {
            last_id: id,
            last_hash: hash
                .try_into()
                .map_err(|_| corrupt(format!("audit record {id}: hash is not 32 bytes")))?,
        }),
    }
}

fn parse_direction(s: &str) -> Result<Direction, StoreError> {
    match s {
        "import" => Ok(Direction::Import),
        "export" => Ok(Direction::Export),
        other => Err(corrupt(format!("direction {other}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// The writer thread

struct Writer {
    conn: Connection,
    head: ChainHead,
}

impl Writer {
    /// One transaction for the whole batch, one savepoint per request. Answers are returned
    /// only after COMMIT (and its fsync) succeeded; if it failed, every request fails.
    /// One transaction for the whole batch, one savepoint per request. The answers go out
    /// only after COMMIT (and its fsync) succeeded; if it failed, every request fails.
    fn commit_batch(&mut self, batch: &[Request]) -> Result<Vec<Answer>, String> {
        let head_before = self.head;
        daily::take_batch();
        let mut tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| e.to_string())?;
        let answers = batch
            .iter()
            .map(|req| execute(&mut tx, &mut self.head, req))
            .collect();
        // The new rows of the batch in the daily aggregates: one upsert per distinct key.
        if let Err(e) = daily::write_delta(&tx, &daily::take_batch()) {
            self.head = head_before;
            return Err(e.to_string());
        }
        tx.commit().map_err(|e| {
            self.head = head_before;
            e.to_string()
        })?;
        Ok(answers)
    }
}

/// Run `f` in a savepoint of its own: a failure undoes it alone, and the chain head goes back
/// with it.
fn in_savepoint<T>(
    tx: &mut rusqlite::Transaction<'_>,
    head: &mut ChainHead,
    f: impl FnOnce(&Connection, &mut ChainHead) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let at_start = *head;
    let result = (|| {
        let sp = tx.savepoint().map_err(backend)?;
        let value = f(&sp, head)?;
        sp.commit().map_err(backend)?;
        Ok(value)
    })();
    if result.is_err() {
        // The savepoint rolled back on drop.
        *head = at_start;
    }
    // The request's rows count in the aggregates only if its savepoint stays.
    daily::end_request(result.is_ok());
    result
}

/// One request inside its savepoint, answered on its own channel.
fn execute(tx: &mut rusqlite::Transaction<'_>, head: &mut ChainHead, req: &Request) -> Answer {
    macro_rules! run {
        ($reply:expr, $f:expr) => {
            Answer::new($reply, in_savepoint(tx, head, $f))
        };
    }
    match req {
        Request::Submit(r, reply) => run!(reply, |c, h| submit(c, h, r)),
        Request::Accept(r, reply) => run!(reply, |c, h| accept(c, h, r)),
        Request::Append(r, reply) => run!(reply, |c, h| append(c, h, r)),
        Request::SubmitReviewed((r, review), reply) => {
            run!(reply, |c, h| submit_reviewed(c, h, r, review))
        }
        Request::PutOffice(x, reply) => run!(reply, |c, h| put_office(c, h, x)),
        Request::PutUser(x, reply) => run!(reply, |c, h| put_user(c, h, x)),
        Request::CreateAccount(x, reply) => run!(reply, |c, h| create_account(c, h, x)),
        Request::CreateSession(x, reply) => run!(reply, |c, h| create_session(c, h, x)),
        Request::RevokeSession(x, reply) => run!(reply, |c, h| revoke_session(c, h, x)),
        Request::RevokeSessionsOf(x, reply) => run!(reply, |c, h| revoke_sessions_of(c, h, x)),
        Request::SetPassword(x, reply) => run!(reply, |c, h| set_password(c, h, x)),
        Request::SetAccountEnabled(x, reply) => run!(reply, |c, h| set_account_enabled(c, h, x)),
        Request::RecordSecurityEvent((e, actor, now), reply) => run!(reply, |c, h| audit(
            c,
            h,
            *now,
            &actor.label(),
            &e.action,
            &e.subject,
            e.detail.clone()
        )),
        Request::AnchorAudit(x, reply) => run!(reply, |c, h| anchor_audit(c, h, x)),
        Request::RecordManifest(x, reply) => run!(reply, |c, h| cargo::record_manifest(c, h, x)),
        Request::SubmitMatched(x, reply) => run!(reply, |c, h| cargo::submit_matched(c, h, x)),
        Request::RecordTransit(x, reply) => run!(reply, |c, h| cargo::record_transit(c, h, x)),
        Request::RecordPostal(x, reply) => run!(reply, |c, h| cargo::record_postal(c, h, x)),
        Request::PutRules(x, reply) => run!(reply, |c, h| risk::put_rules(c, h, x)),
        Request::PutPolicy(x, reply) => run!(reply, |c, h| risk::put_policy(c, h, x)),
        Request::SetCreditClass(x, reply) => run!(reply, |c, h| risk::set_credit_class(c, h, x)),
        Request::AddWatch(x, reply) => run!(reply, |c, h| risk::add_watch(c, h, x)),
        Request::RemoveWatch(x, reply) => run!(reply, |c, h| risk::remove_watch(c, h, x)),
        Request::RecordDecision(x, reply) => {
            run!(reply, |c, h| risk::record_decision_as(c, h, x))
        }
        Request::AppendExamined(x, reply) => run!(reply, |c, h| risk::append_examined(c, h, x)),
        Request::IssueLicence(x, reply) => run!(reply, |c, h| eport::issue_licence(c, h, x)),
        Request::PutRegistry(x, reply) => run!(reply, |c, h| eport::put_registry(c, h, x)),
        Request::WithdrawLicence(x, reply) => {
            run!(reply, |c, h| eport::withdraw_licence(c, h, x))
        }
        Request::EportFile(x, reply) => run!(reply, |c, h| eport::file(c, h, x)),
        Request::AppendWithOutbox(x, reply) => {
            run!(reply, |c, h| outbox::append_with_outbox(c, h, x))
        }
        Request::MarkPublished(x, reply) => run!(reply, |c, _| outbox::mark_published(c, x)),
        Request::AckFeed(x, reply) => run!(reply, |c, _| outbox::ack_feed(c, x)),
        Request::ProbeWrite(_, reply) => run!(reply, |c, _| probe_write(c)),
        Request::RecordRefundClaim(x, reply) => {
            run!(reply, |c, h| finance::record_refund_claim(c, h, x))
        }
        Request::RecordBankRecord(x, reply) => {
            run!(reply, |c, h| finance::record_bank_record(c, h, x))
        }
        Request::PayRefund(x, reply) => run!(reply, |c, h| finance::pay_refund(c, h, x)),
        Request::RegisterGuarantee(x, reply) => run!(reply, |c, h| guarantee::register(c, h, x)),
        Request::ClaimGuarantee(x, reply) => run!(reply, |c, h| guarantee::claim(c, h, x)),
        Request::GrantAuthority(x, reply) => run!(reply, |c, h| parties::grant(c, h, x)),
        Request::RevokeAuthority(x, reply) => run!(reply, |c, h| parties::revoke(c, h, x)),
        Request::CaseStep(x, reply) => run!(reply, |c, h| parties::case_step(c, h, x)),
        Request::Aeo(x, reply) => run!(reply, |c, h| aeo::step(c, h, x)),
        Request::CreditDecision(x, reply) => run!(reply, |c, h| aeo::credit_decision(c, h, x)),
        Request::OverdueReview(x, reply) => run!(reply, |c, h| aeo::overdue_review(c, h, x)),
        Request::Registration(x, reply) => run!(reply, |c, h| registration::step(c, h, x)),
        Request::SetRoles(x, reply) => run!(reply, |c, h| registration::set_roles(c, h, x)),
        Request::AddAttachment(x, reply) => run!(reply, |c, h| attachments::add(c, h, x)),
        Request::Webhook(x, reply) => run!(reply, |c, h| webhooks::write(c, h, x)),
        Request::SaveDraft(x, reply) => run!(reply, |c, _| drafts::save(c, x)),
        Request::DeleteDraft((owner, id), reply) => {
            run!(reply, |c, _| drafts::delete(c, owner, *id))
        }
        Request::MarkNotificationsRead(x, reply) => run!(reply, |c, _| drafts::mark_read(c, x)),
        Request::RecordInboundRefused(x, reply) => {
            run!(reply, |c, _| outbox::record_inbound_refused(c, x))
        }
        Request::Inbound(w) => outbox::inbound_write(tx, head, w),
    }
}

/// Append events decided on the state at `expected_version`.
fn append(
    c: &Connection,
    head: &mut ChainHead,
    req: &AppendRequest,
) -> Result<Appended, StoreError> {
    let row = load_for_write(c, req.id)?;
    store::plan::check_version(req.expected_version, row.version)?;
    let now = req.events.last().map(|e| e.at).expect("append has events");
    let actor = req
        .events
        .last()
        .map(|e| e.actor.label())
        .expect("append has events");
    write_events(c, head, req.id, row, &req.events, now, &actor, "append")
}

fn create_account(
    c: &Connection,
    head: &mut ChainHead,
    (account, actor, now): &(NewAccount, Actor, DateTime<Utc>),
) -> Result<i64, StoreError> {
    let user = &account.user;
    let duties: Vec<&str> = account.duties.iter().map(|d| d.as_str()).collect();
    let inserted = c
                .prepare_cached("INSERT INTO users (login, role, office, uscc, duties, agency, password_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (login) DO NOTHING")
                .map_err(backend)?
                .execute(params![user.login, user.role.as_str(), user.office.map(|o| o.to_string()), user.uscc.map(|u| u.to_string()), duties.join(","), account.agency, account.password_hash])
                .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!("login {}", user.login)));
    }
    let id = c.last_insert_rowid();
    // The hash stays out of the audit log.
    let detail = serde_json::json!({
        "login": user.login, "role": user.role, "office": user.office, "uscc": user.uscc,
        "duties": account.duties, "agency": account.agency,
    })
    .to_string();
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "create_account",
        &format!("user:{id}"),
        detail,
    )?;
    Ok(id)
}

fn create_session(
    c: &Connection,
    head: &mut ChainHead,
    (session, actor, now): &(NewSession, Actor, DateTime<Utc>),
) -> Result<(), StoreError> {
    let inserted = c
                .prepare_cached("INSERT INTO sessions (token_hash, user_id, created_at_ms, expires_at_ms) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (token_hash) DO NOTHING")
                .map_err(backend)?
                .execute(params![session.token_hash, session.user_id, to_ms(session.created_at), to_ms(session.expires_at)])
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
                        StoreError::NotFound(format!("user {}", session.user_id))
                    }
                    other => backend(other),
                })?;
    if inserted == 0 {
        return Err(StoreError::Duplicate("session".into()));
    }
    let detail = store::detail::sign_in(session.expires_at);
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "sign_in",
        &format!("user:{}", session.user_id),
        detail,
    )?;
    Ok(())
}

fn revoke_session(
    c: &Connection,
    head: &mut ChainHead,
    (token_hash, actor, now): &(String, Actor, DateTime<Utc>),
) -> Result<bool, StoreError> {
    let user_id: Option<i64> = c
                .prepare_cached("UPDATE sessions SET revoked_at_ms = ?2 WHERE token_hash = ?1 AND revoked_at_ms IS NULL RETURNING user_id")
                .map_err(backend)?
                .query_row(params![token_hash, to_ms(*now)], |r| r.get(0))
                .optional()
                .map_err(backend)?;
    let Some(user_id) = user_id else {
        return Ok(false);
    };
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "sign_out",
        &format!("user:{user_id}"),
        store::detail::empty(),
    )?;
    Ok(true)
}

fn revoke_sessions_of(
    c: &Connection,
    head: &mut ChainHead,
    (user_id, actor, now): &(i64, Actor, DateTime<Utc>),
) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE sessions SET revoked_at_ms = ?2 WHERE user_id = ?1 AND revoked_at_ms IS NULL",
        )
        .map_err(backend)?
        .execute(params![user_id, to_ms(*now)])
        .map_err(backend)?;
    let detail = store::detail::sessions_revoked(n as u64);
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "revoke_sessions",
        &format!("user:{user_id}"),
        detail,
    )?;
    Ok(n as u64)
}

fn set_password(
    c: &Connection,
    head: &mut ChainHead,
    (w, actor, now): &(PasswordWrite, Actor, DateTime<Utc>),
) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE users SET password_hash = ?2, must_change_password = ?3 WHERE id = ?1 AND password_hash IS NOT NULL",
        )
        .map_err(backend)?
        .execute(params![w.user_id, w.password_hash, w.reset])
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {}", w.user_id)));
    }
    let ended = c
        .prepare_cached(
            "UPDATE sessions SET revoked_at_ms = ?2 WHERE user_id = ?1 AND revoked_at_ms IS NULL AND token_hash IS NOT ?3",
        )
        .map_err(backend)?
        .execute(params![w.user_id, to_ms(*now), w.keep_session])
        .map_err(backend)? as u64;
    audit(
        c,
        head,
        *now,
        &actor.label(),
        store::detail::password_action(w.reset),
        &format!("user:{}", w.user_id),
        store::detail::password_set(w.reset, ended),
    )?;
    Ok(ended)
}

fn set_account_enabled(
    c: &Connection,
    head: &mut ChainHead,
    (user_id, enabled, actor, now): &(i64, bool, Actor, DateTime<Utc>),
) -> Result<u64, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE users SET disabled_at_ms = CASE WHEN ?2 THEN NULL ELSE coalesce(disabled_at_ms, ?3) END WHERE id = ?1",
        )
        .map_err(backend)?
        .execute(params![user_id, enabled, to_ms(*now)])
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("user {user_id}")));
    }
    let ended = if *enabled {
        0
    } else {
        c.prepare_cached(
            "UPDATE sessions SET revoked_at_ms = ?2 WHERE user_id = ?1 AND revoked_at_ms IS NULL",
        )
        .map_err(backend)?
        .execute(params![user_id, to_ms(*now)])
        .map_err(backend)? as u64
    };
    audit(
        c,
        head,
        *now,
        &actor.label(),
        store::detail::account_action(*enabled),
        &format!("user:{user_id}"),
        store::detail::account_state(ended),
    )?;
    Ok(ended)
}

/// An anchor record signing the head as it is, and the head to keep outside (store::audit).
fn anchor_audit(
    c: &Connection,
    head: &mut ChainHead,
    req: &store::audit::AnchorRequest,
) -> Result<Option<store::SignedHead>, StoreError> {
    if !store::audit::anchor_due(head, req) {
        return Ok(None);
    }
    // The Merkle tree's right edge, brought up to the head with the records since the last
    // anchor (all of them after a start, or when the cache is no longer the store's).
    let (mut tree, need) = store::audit_tree::catchup(&req.tree.get(), head.last_id);
    let mut from = need.from;
    if let Some((id, hash)) = need.check {
        if read_audit_hashes(c, id, id)?.first() != Some(&hash) {
            tree = store::audit_tree::Frontier::new();
            from = 1;
        }
    }
    let hashes = read_audit_hashes(c, from, need.upto)?;
    if hashes.len() as i64 != need.upto - from + 1 {
        return Err(corrupt(format!(
            "audit records {from} to {}: {} found (a gap in the chain)",
            need.upto,
            hashes.len()
        )));
    }
    for h in &hashes {
        tree.push_record(h);
    }
    let Some((subject, detail)) = store::audit::anchor_record(head, req, &tree) else {
        return Ok(None);
    };
    audit(
        c,
        head,
        req.now,
        &req.actor.label(),
        store::audit::ANCHOR_ACTION,
        &subject,
        detail,
    )?;
    let (signed, message) = store::audit::anchored(head, req, tree);
    if let Some(m) = message {
        outbox::insert_rows(c, &[m])?;
    }
    Ok(Some(signed))
}

fn put_office(
    c: &Connection,
    head: &mut ChainHead,
    (office, actor, now): &(Office, Actor, DateTime<Utc>),
) -> Result<(), StoreError> {
    c.prepare_cached(
                "INSERT INTO offices (code, name, parent) VALUES (?1, ?2, ?3) ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent",
            )
            .map_err(backend)?
            .execute(params![office.code.to_string(), office.name, office.parent.map(|p| p.to_string())])
            .map_err(backend)?;
    let detail = serde_json::to_string(office).expect("office serializes");
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "put_office",
        &format!("office:{}", office.code),
        detail,
    )?;
    Ok(())
}

fn put_user(
    c: &Connection,
    head: &mut ChainHead,
    (user, actor, now): &(NewUser, Actor, DateTime<Utc>),
) -> Result<i64, StoreError> {
    let inserted = c
                .prepare_cached("INSERT INTO users (login, role, office, uscc) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (login) DO NOTHING")
                .map_err(backend)?
                .execute(params![user.login, user.role.as_str(), user.office.map(|o| o.to_string()), user.uscc.map(|u| u.to_string())])
                .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!("login {}", user.login)));
    }
    let id = c.last_insert_rowid();
    let detail = serde_json::to_string(user).expect("user serializes");
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "put_user",
        &format!("user:{id}"),
        detail,
    )?;
    Ok(id)
}

/// The first result of an earlier submission with the same key, if any; a different body
/// under the same key is refused.
fn replay_of(c: &Connection, req: &SubmitRequest) -> Result<Option<Submitted>, StoreError> {
    let existing = c
        .prepare_cached("SELECT id, pre_entry_no, version, body FROM declarations WHERE declarant = ?1 AND client_seq_no = ?2")
        .map_err(backend)?
        .query_row(params![req.declarant.to_string(), req.client_seq_no], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, String>(3)?))
        })
        .optional()
        .map_err(backend)?;
    let Some((id, pre, version, body)) = existing else {
        return Ok(None);
    };
    let first = store::plan::OnRecord {
        id: DeclarationId(id),
        pre_entry_no: PreEntryNo::parse(&pre).map_err(corrupt)?,
        version: version as u64,
        body_json: &body,
    };
    store::plan::replay(req, first).map(Some)
}

fn submit(
    c: &Connection,
    head: &mut ChainHead,
    req: &SubmitRequest,
) -> Result<Submitted, StoreError> {
    file(c, head, req, None).map(|(submitted, _)| submitted)
}

fn submit_reviewed(
    c: &Connection,
    head: &mut ChainHead,
    req: &SubmitRequest,
    review: &AutomaticReview,
) -> Result<Filed, StoreError> {
    let (s, state) = file(c, head, req, Some(review))?;
    Ok(Filed {
        id: s.id,
        pre_entry_no: s.pre_entry_no,
        declaration_no: state.declaration_no,
        status: state.status,
        lane: state.lane,
        version: s.version,
        replayed: s.replayed,
    })
}

/// A filing, with its automatic review when given, in one savepoint (`store::plan::filing`):
/// the row inserted once, already in its final state (as on PostgreSQL), its events, its
/// payment notices, one audit record for the submission and one for the review (the same
/// records as a submission followed by an append), then the decision's feedback row. A retry
/// of the same idempotency key returns the current state and writes nothing.
fn file(
    c: &Connection,
    head: &mut ChainHead,
    req: &SubmitRequest,
    review: Option<&AutomaticReview>,
) -> Result<(Submitted, DeclarationState), StoreError> {
    // A broker's filing: its power of attorney as it stands in this transaction (a retry too:
    // after a revocation nothing more goes under it).
    if let Some(agent) = &req.agent {
        parties::admit_filing(c, req, agent)?;
    }
    // The declarant's registration, and the acting broker's, in force as they stand in this
    // transaction: a cancellation that committed first refuses the filing.
    for uscc in store::registration::filers(req) {
        let r = registration::newest_in(c, uscc)?;
        store::registration::in_force(uscc, r.as_ref()).map_err(StoreError::Registration)?;
    }
    if let Some(first) = replay_of(c, req)? {
        let row = load_for_write(c, first.id)?;
        let version = row.version;
        return Ok((Submitted { version, ..first }, row.state));
    }
    let (office, year, direction) = (req.declaration_office, customs_year(req.now), req.direction);
    let serial = next_serial(c, "pre_entry", office, year, direction)?;
    let pre_entry_no = store::plan::pre_entry_no(office, year, direction, serial)?;
    // An accepting review takes its number here, in the filing's transaction.
    let declaration_no = match review {
        Some(r) if store::plan::review_takes_number(r) => {
            let serial = next_serial(c, "declaration", office, year, direction)?;
            Some(store::plan::declaration_no(
                office, year, direction, serial,
            )?)
        }
        _ => None,
    };
    let plan = store::plan::filing(req, pre_entry_no, review, declaration_no)?;
    let state = &plan.state;
    c.prepare_cached(
        "INSERT INTO declarations (pre_entry_no, declarant, client_seq_no, direction, declaration_office, status, lane, declaration_no, submitted_at_ms, updated_at_ms, version, state, body, buyer, purchase_fen, goods_value_fen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .map_err(backend)?
    .execute(params![
        pre_entry_no.to_string(),
        req.declarant.to_string(),
        req.client_seq_no,
        req.direction.to_string(),
        req.declaration_office.to_string(),
        state.status.as_str(),
        state.lane.map(|l| l.as_str()),
        state.declaration_no.map(|n| n.to_string()),
        to_ms(req.now),
        plan.version as i64,
        serde_json::to_string(state).expect("state serializes"),
        req.body_json,
        req.purchase.as_ref().map(|p| p.buyer.as_str()),
        req.purchase.as_ref().map(|p| p.value_fen.0),
        req.goods_value_fen.map(|v| v.0),
    ])
    .map_err(backend)?;
    let id = c.last_insert_rowid();
    daily::count_new_row(req.declaration_office, req.now, state, &req.body_json);
    let subject = format!("declaration:{id}");
    insert_serialized_events(c, id, 0, &plan.events, &plan.events_json)?;
    insert_notices(c, id, plan.review_events())?;
    audit(
        c,
        head,
        req.now,
        &req.actor.label(),
        "submit",
        &subject,
        plan.submit_detail,
    )?;
    if let Some(detail) = plan.review_detail {
        audit(
            c,
            head,
            req.now,
            "system:automatic_review",
            "automatic_review",
            &subject,
            detail,
        )?;
    }
    // The decision's feedback row, in the same savepoint (after the review's audit record).
    if let Some(f) = &plan.feedback {
        risk::record_decision(c, head, f, "system:risk", req.now)?;
    }
    if let Some(agent) = &req.agent {
        parties::record_filing(c, head, id, req, agent, state.status)?;
    }
    let submitted = Submitted {
        id: DeclarationId(id),
        pre_entry_no,
        version: plan.version,
        replayed: false,
    };
    Ok((submitted, plan.state))
}

fn accept(
    c: &Connection,
    head: &mut ChainHead,
    req: &AcceptRequest,
) -> Result<Accepted, StoreError> {
    let row = load_for_write(c, req.id)?;
    store::plan::check_version(req.expected_version, row.version)?;
    let (office, year, direction) = store::plan::accept_key(&row.state, req.now)?;
    let serial = next_serial(c, "declaration", office, year, direction)?;
    let declaration_no = store::plan::declaration_no(office, year, direction, serial)?;
    let events = store::plan::acceptance(&row.state, req, declaration_no)?;
    let appended = write_events(
        c,
        head,
        req.id,
        row,
        &events,
        req.now,
        &req.actor.label(),
        "accept",
    )?;
    Ok(Accepted {
        declaration_no,
        version: appended.version,
    })
}

struct RowForWrite {
    version: u64,
    state: DeclarationState,
}

fn load_for_write(c: &Connection, id: DeclarationId) -> Result<RowForWrite, StoreError> {
    let (version, state) = c
        .prepare_cached("SELECT version, state FROM declarations WHERE id = ?1")
        .map_err(backend)?
        .query_row([id.0], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .optional()
        .map_err(backend)?
        .ok_or_else(|| StoreError::NotFound(format!("declaration {id}")))?;
    let state = serde_json::from_str(&state)
        .map_err(|e| corrupt(format!("state of declaration {id}: {e}")))?;
    Ok(RowForWrite {
        version: version as u64,
        state,
    })
}

/// Apply events to the row, keep the narrow columns and payment notices in step, record the
/// events and one audit record.
#[allow(clippy::too_many_arguments)]
fn write_events(
    c: &Connection,
    head: &mut ChainHead,
    id: DeclarationId,
    row: RowForWrite,
    events: &[clearance::Event],
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
) -> Result<Appended, StoreError> {
    // A declaration whose export tax refund was paid is not amended or cancelled: checked on
    // its claims as they are in this transaction, before anything else (docs/EPORT.md).
    if store::finance::changes_declaration(events) {
        if let Some(no) = &row.state.declaration_no {
            store::finance::check_change(&finance::claims_on(c, no)?)?;
        }
    }
    let plan = store::plan::events(id, row.state, row.version, events)?;
    // A suspension stands on a case open as it is in this transaction: a case closed before
    // the suspension reaches the writer refuses it (docs/PARTIES.md).
    for case_no in store::cases::suspension_cases(events) {
        let case = parties::case_by_no_in(c, case_no)?;
        store::cases::check_suspension(case_no, case.as_ref()).map_err(StoreError::Case)?;
    }
    let (state, version) = (&plan.state, plan.version);
    let state_json = serde_json::to_string(&state).expect("state serializes");
    c.prepare_cached(
        "UPDATE declarations SET status = ?2, lane = ?3, declaration_no = ?4, updated_at_ms = ?5, version = ?6, state = ?7 WHERE id = ?1 AND version = ?8",
    )
    .map_err(backend)?
    .execute(params![
        id.0,
        state.status.as_str(),
        state.lane.map(|l| l.as_str()),
        state.declaration_no.map(|n| n.to_string()),
        to_ms(now),
        version as i64,
        state_json,
        row.version as i64,
    ])
    .map_err(backend)?;
    insert_events(c, id.0, row.version, events)?;
    insert_notices(c, id.0, events)?;
    versions::write(c, id.0, events)?;
    audit(
        c,
        head,
        now,
        actor,
        action,
        &format!("declaration:{id}"),
        plan.detail,
    )?;
    // The E-Port licence uses settle with the step that releases or ends the declaration.
    if let Some(status) = plan.status_changed {
        eport::settle(c, head, id, status, actor, now)?;
    }
    // The guarantee ledger: a release against a guarantee reserves, the last payment releases.
    guarantee::settle_declaration(c, head, id, state, events, actor, now)?;
    Ok(Appended {
        version,
        status: state.status,
    })
}

/// The payment notices issued and paid by `events`.
fn insert_notices(c: &Connection, id: i64, events: &[clearance::Event]) -> Result<(), StoreError> {
    for e in events {
        match &e.kind {
            EventKind::Assessed { notices } => {
                let mut stmt = c
                    .prepare_cached(
                        "INSERT INTO payment_notices (notice_no, declaration_id, tax, amount_fen, issued_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )
                    .map_err(backend)?;
                for n in notices {
                    stmt.execute(params![
                        n.notice_no,
                        id,
                        n.tax.as_str(),
                        n.amount_fen.0,
                        to_ms(e.at)
                    ])
                    .map_err(|err| match err {
                        rusqlite::Error::SqliteFailure(f, _)
                            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                        {
                            StoreError::Duplicate(format!("payment notice {}", n.notice_no))
                        }
                        other => backend(other),
                    })?;
                }
            }
            EventKind::NoticePaid { notice_no, payment } => {
                c.prepare_cached("UPDATE payment_notices SET paid_at_ms = ?3 WHERE notice_no = ?1 AND declaration_id = ?2")
                    .map_err(backend)?
                    .execute(params![notice_no, id, to_ms(e.at)])
                    .map_err(backend)?;
                if let Some(p) = payment {
                    payments::record(c, id, notice_no, p, e.at)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn insert_events(
    c: &Connection,
    id: i64,
    from_version: u64,
    events: &[clearance::Event],
) -> Result<(), StoreError> {
    let json: Vec<String> = events.iter().map(store::detail::event_json).collect();
    insert_serialized_events(c, id, from_version, events, &json)
}

/// [`insert_events`] for events serialized already (`json`, one per event, in order).
fn insert_serialized_events(
    c: &Connection,
    id: i64,
    from_version: u64,
    events: &[clearance::Event],
    json: &[String],
) -> Result<(), StoreError> {
    let mut stmt = c
        .prepare_cached("INSERT INTO events (declaration_id, seq, type, at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)")
        .map_err(backend)?;
    for (i, (e, body)) in events.iter().zip(json).enumerate() {
        let seq = from_version + 1 + i as u64;
        stmt.execute(params![id, seq as i64, e.kind.name(), to_ms(e.at), body])
            .map_err(backend)?;
    }
    Ok(())
}

fn next_serial(
    c: &Connection,
    kind: &str,
    office: OfficeCode,
    year: u16,
    direction: Direction,
) -> Result<u32, StoreError> {
    let last: i64 = c
        .prepare_cached(
            "INSERT INTO serials (kind, office, year, direction, last) VALUES (?1, ?2, ?3, ?4, 1)
             ON CONFLICT (kind, office, year, direction) DO UPDATE SET last = last + 1 RETURNING last",
        )
        .map_err(backend)?
        .query_row(params![kind, office.to_string(), year, direction.to_string()], |r| r.get(0))
        .map_err(backend)?;
    store::plan::serial(kind, office, year, direction, last)
}

fn audit(
    c: &Connection,
    head: &mut ChainHead,
    now: DateTime<Utc>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: String,
) -> Result<(), StoreError> {
    let rec = head.next(to_ms(now), actor, action, subject, detail);
    c.prepare_cached(
        "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(backend)?
    .execute(params![rec.id, rec.at_ms, rec.actor, rec.action, rec.subject, rec.detail, &rec.prev_hash[..], &rec.hash[..]])
    .map_err(backend)?;
    Ok(())
}
