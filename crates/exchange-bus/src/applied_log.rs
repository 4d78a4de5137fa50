//! The durable applied-once log of a receiving agency: SQLite (WAL, `synchronous=FULL`), one
//! transaction per batch, the record of each message id committed with its effect. It
//! implements [`exchange::Apply`]; the receiver that verifies before applying is the pure
//! [`exchange::Receiver`].

use std::path::Path;
use std::sync::Mutex;

use chrono::Utc;
use exchange::apply::{Apply, ApplyError, Outcome, Refusal, Verified};
use exchange::message::{timestamp_text, MessageId};
use rusqlite::{params, Connection, OptionalExtension};

/// `ApplyError` is the pure crate's; a SQLite failure becomes its `Storage` case.
fn storage(e: rusqlite::Error) -> ApplyError {
    ApplyError::Storage(e.to_string())
}

/// An effect applied in the same transaction as the record of the message id.
pub type Effect = dyn Fn(&rusqlite::Transaction<'_>, &Verified) -> Result<(), String> + Send + Sync;

/// A durable applied-once log in SQLite (WAL, `synchronous=FULL`): one transaction per batch,
/// one savepoint per message when there is an effect, so a failing effect spoils no other.
pub struct SqliteAppliedLog {
    conn: Mutex<Connection>,
    effect: Option<Box<Effect>>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS exchange_applied (
    message_id TEXT PRIMARY KEY,
    sender     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    applied_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS exchange_refused (
    id          INTEGER PRIMARY KEY,
    message_id  TEXT,
    sender      TEXT,
    reason      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    size_bytes  INTEGER NOT NULL,
    refused_at  TEXT NOT NULL
);
";

/// Counts read from a [`SqliteAppliedLog`] file.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LogCounts {
    pub applied: u64,
    pub refused: u64,
}

impl SqliteAppliedLog {
    pub fn open(path: &Path) -> Result<SqliteAppliedLog, ApplyError> {
        SqliteAppliedLog::open_with_effect(path, None)
    }

    pub fn open_with_effect(
        path: &Path,
        effect: Option<Box<Effect>>,
    ) -> Result<SqliteAppliedLog, ApplyError> {
        let conn = open_durable(path).map_err(storage)?;
        Ok(SqliteAppliedLog {
            conn: Mutex::new(conn),
            effect,
        })
    }

    pub fn counts(&self) -> Result<LogCounts, ApplyError> {
        counts_of(&self.conn.lock().expect("log lock")).map_err(storage)
    }

    /// Whether this id was applied.
    pub fn contains(&self, id: &MessageId) -> Result<bool, ApplyError> {
        let conn = self.conn.lock().expect("log lock");
        Ok(conn
            .query_row(
                "SELECT 1 FROM exchange_applied WHERE message_id = ?1",
                [id.to_string()],
                |_| Ok(()),
            )
            .optional()
            .map_err(storage)?
            .is_some())
    }
}

/// Open (creating if need be) a log file: WAL, `synchronous=FULL`, the schema.
fn open_durable(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // An agency's outbox (crate::agency_outbox) writes to the same file from its own
    // connection: wait for it rather than failing the batch.
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

fn counts_of(conn: &Connection) -> rusqlite::Result<LogCounts> {
    let applied: i64 = conn.query_row("SELECT count(*) FROM exchange_applied", [], |r| r.get(0))?;
    let refused: i64 = conn.query_row("SELECT count(*) FROM exchange_refused", [], |r| r.get(0))?;
    Ok(LogCounts {
        applied: applied as u64,
        refused: refused as u64,
    })
}

/// Read the counts of an applied log file without creating it (for `jinguan exchange status`).
pub fn read_log_counts(path: &Path) -> Result<LogCounts, ApplyError> {
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(storage)?;
    counts_of(&conn).map_err(storage)
}

impl Apply for SqliteAppliedLog {
    fn apply_batch(&self, messages: &[Verified]) -> Result<Vec<Outcome>, ApplyError> {
        self.apply_batch_sql(messages).map_err(storage)
    }

    fn record_refused(&self, refusals: &[Refusal]) -> Result<(), ApplyError> {
        self.record_refused_sql(refusals).map_err(storage)
    }
}

impl SqliteAppliedLog {
    fn apply_batch_sql(&self, messages: &[Verified]) -> rusqlite::Result<Vec<Outcome>> {
        let mut conn = self.conn.lock().expect("log lock");
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let now = timestamp_text(&Utc::now());
        let mut outcomes = Vec::with_capacity(messages.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO exchange_applied
                 (message_id, sender, kind, created_at, applied_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for m in messages {
                let e = m.envelope();
                let mut record = || {
                    insert.execute(params![
                        e.id.to_string(),
                        e.sender.as_str(),
                        e.kind.as_str(),
                        timestamp_text(&e.created_at),
                        now
                    ])
                };
                // Without an effect there is nothing to undo: the insert alone is the message's
                // whole change, so it needs no savepoint of its own.
                let Some(effect) = self.effect.as_ref() else {
                    outcomes.push(if record()? == 0 {
                        Outcome::Duplicate
                    } else {
                        Outcome::Applied
                    });
                    continue;
                };
                tx.execute_batch("SAVEPOINT one")?;
                if record()? == 0 {
                    tx.execute_batch("RELEASE one")?;
                    outcomes.push(Outcome::Duplicate);
                    continue;
                }
                match effect(&tx, m) {
                    Ok(()) => {
                        tx.execute_batch("RELEASE one")?;
                        outcomes.push(Outcome::Applied);
                    }
                    Err(why) => {
                        tx.execute_batch("ROLLBACK TO one; RELEASE one")?;
                        outcomes.push(Outcome::Failed(why));
                    }
                }
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    fn record_refused_sql(&self, refusals: &[Refusal]) -> rusqlite::Result<()> {
        let mut conn = self.conn.lock().expect("log lock");
        let tx = conn.transaction()?;
        let now = timestamp_text(&Utc::now());
        for r in refusals {
            tx.execute(
                "INSERT INTO exchange_refused
                 (message_id, sender, reason, detail, size_bytes, refused_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    r.message_id,
                    r.sender,
                    r.reason,
                    r.detail,
                    r.size_bytes as i64,
                    now
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }
}
