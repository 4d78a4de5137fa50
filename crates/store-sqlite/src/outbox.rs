//! [`OutboxStore`] on SQLite: outbox rows are written by the writer thread in the savepoint of
//! the append they report, so they commit with it or not at all.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::*;
use store::outbox::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE outbox (
        seq             INTEGER PRIMARY KEY,
        kind            TEXT NOT NULL,
        recipients      TEXT NOT NULL,
        created_at_ms   INTEGER NOT NULL,
        payload         BLOB NOT NULL,
        published_at_ms INTEGER
    );
    CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at_ms IS NULL;
    CREATE TABLE outbox_recipients (
        agency TEXT NOT NULL,
        seq    INTEGER NOT NULL REFERENCES outbox (seq),
        PRIMARY KEY (agency, seq)
    ) WITHOUT ROWID;
    CREATE TABLE outbox_feed_acks (
        agency    TEXT PRIMARY KEY,
        cursor    INTEGER NOT NULL,
        at_ms     INTEGER NOT NULL
    ) WITHOUT ROWID;
"#;

pub(super) fn append_with_outbox(
    c: &Connection,
    head: &mut ChainHead,
    (req, messages): &(AppendRequest, Vec<OutboxMessage>),
) -> Result<Appended, StoreError> {
    check_messages(messages)?;
    let appended = super::append(c, head, req)?;
    insert_rows(c, messages)?;
    Ok(appended)
}

pub(super) fn mark_published(
    c: &Connection,
    (seqs, at): &(Vec<u64>, DateTime<Utc>),
) -> Result<(), StoreError> {
    let mut stmt = c
        .prepare_cached(
            "UPDATE outbox SET published_at_ms = ?2 WHERE seq = ?1 AND published_at_ms IS NULL",
        )
        .map_err(backend)?;
    for s in seqs {
        stmt.execute(params![*s as i64, to_ms(*at)])
            .map_err(backend)?;
    }
    Ok(())
}

pub(super) fn ack_feed(
    c: &Connection,
    (agency, cursor, at): &(String, u64, DateTime<Utc>),
) -> Result<(), StoreError> {
    c.prepare_cached(
                "INSERT INTO outbox_feed_acks (agency, cursor, at_ms) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (agency) DO UPDATE SET cursor = MAX(cursor, excluded.cursor), at_ms = excluded.at_ms",
            )
            .map_err(backend)?
            .execute(params![agency, *cursor as i64, to_ms(*at)])
            .map_err(backend)?;
    Ok(())
}

/// Write outbox rows in the current savepoint.
pub(super) fn insert_rows(c: &Connection, messages: &[OutboxMessage]) -> Result<(), StoreError> {
    check_messages(messages)?;
    let mut row = c
        .prepare_cached(
            "INSERT INTO outbox (kind, recipients, created_at_ms, payload) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(backend)?;
    let mut to = c
        .prepare_cached("INSERT INTO outbox_recipients (agency, seq) VALUES (?1, ?2)")
        .map_err(backend)?;
    for m in messages {
        row.execute(params![
            m.kind,
            m.recipients.join(","),
            to_ms(m.created_at),
            m.payload
        ])
        .map_err(backend)?;
        let seq = c.last_insert_rowid();
        for r in &m.recipients {
            to.execute(params![r, seq]).map_err(backend)?;
        }
    }
    Ok(())
}

type RawRow = (i64, String, String, i64, Vec<u8>, Option<i64>);

fn raw(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn row_of(
    (seq, kind, recipients, created_at_ms, payload, published): RawRow,
) -> Result<OutboxRow, StoreError> {
    Ok(OutboxRow {
        seq: u64::try_from(seq).map_err(|_| corrupt(format!("outbox seq {seq}")))?,
        message: OutboxMessage {
            kind,
            recipients: recipients.split(',').map(str::to_owned).collect(),
            created_at: from_ms(created_at_ms)?,
            payload,
        },
        published_at: published.map(from_ms).transpose()?,
    })
}

fn rows(c: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let raw: Vec<RawRow> = stmt
        .query_map(p, raw)
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    raw.into_iter().map(row_of).collect()
}

impl OutboxStore for SqliteStore {
    fn fetch_unpublished(&self, after: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let limit = limit.clamp(1, OUTBOX_READ_MAX) as i64;
        self.read(|c| {
            rows(
                c,
                "SELECT seq, kind, recipients, created_at_ms, payload, published_at_ms FROM outbox \
                 WHERE published_at_ms IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
                params![after as i64, limit],
            )
        })
    }

    fn read_for(
        &self,
        recipient: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let limit = limit.clamp(1, OUTBOX_READ_MAX) as i64;
        self.read(|c| {
            rows(
                c,
                "SELECT o.seq, o.kind, o.recipients, o.created_at_ms, o.payload, o.published_at_ms \
                 FROM outbox_recipients r JOIN outbox o ON o.seq = r.seq \
                 WHERE r.agency = ?1 AND r.seq > ?2 ORDER BY r.seq LIMIT ?3",
                params![recipient, after as i64, limit],
            )
        })
    }

    fn recent_cursor(&self, recipient: &str, n: usize) -> Result<u64, StoreError> {
        let n = n.min(OUTBOX_READ_MAX) as i64;
        self.read(|c| {
            let seq: Option<i64> = c
                .prepare_cached(
                    "SELECT seq FROM outbox_recipients WHERE agency = ?1 \
                     ORDER BY seq DESC LIMIT 1 OFFSET ?2",
                )
                .map_err(backend)?
                .query_row(params![recipient, n], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            Ok(seq.map_or(0, |s| s as u64))
        })
    }

    fn counts(&self) -> Result<BTreeMap<String, RecipientCounts>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT r.agency, COUNT(*), \
                        SUM(o.published_at_ms IS NULL), \
                        MIN(CASE WHEN o.published_at_ms IS NULL THEN o.created_at_ms END), \
                        SUM(r.seq <= COALESCE(a.cursor, 0)), COALESCE(a.cursor, 0) \
                     FROM outbox_recipients r JOIN outbox o ON o.seq = r.seq \
                     LEFT JOIN outbox_feed_acks a ON a.agency = r.agency \
                     GROUP BY r.agency",
                )
                .map_err(backend)?;
            let raw: Vec<(String, i64, i64, Option<i64>, i64, i64)> = stmt
                .query_map([], |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                    ))
                })
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            let mut out = BTreeMap::new();
            for (agency, total, unpublished, oldest, acked, cursor) in raw {
                out.insert(
                    agency,
                    RecipientCounts {
                        total: total as u64,
                        unpublished: unpublished as u64,
                        oldest_unpublished_at: oldest.map(from_ms).transpose()?,
                        acked: acked as u64,
                        acked_cursor: cursor as u64,
                    },
                );
            }
            Ok(out)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The inbound log (store::inbound): the agencies' messages customs applied or refused.

pub(super) const INBOUND_MIGRATION: &str = r#"
    CREATE TABLE exchange_inbound (
        message_id     TEXT PRIMARY KEY,
        sender         TEXT NOT NULL,
        kind           TEXT NOT NULL,
        created_at_ms  INTEGER NOT NULL,
        received_at_ms INTEGER NOT NULL,
        outcome        TEXT NOT NULL CHECK (outcome IN ('applied', 'refused')),
        problems       TEXT
    ) WITHOUT ROWID;
    CREATE INDEX exchange_inbound_received ON exchange_inbound (received_at_ms, outcome);
"#;

/// Insert a message's row; `false` when its id is there already (nothing changed).
fn insert_inbound(
    c: &Connection,
    tag: &store::inbound::InboundTag,
    outcome: store::inbound::InboundOutcome,
    problems: Option<&str>,
) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "INSERT INTO exchange_inbound \
             (message_id, sender, kind, created_at_ms, received_at_ms, outcome, problems) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (message_id) DO NOTHING",
        )
        .map_err(backend)?
        .execute(params![
            tag.message_id,
            tag.sender,
            tag.kind,
            to_ms(tag.created_at),
            to_ms(tag.received_at),
            outcome.as_str(),
            problems
        ])
        .map_err(backend)?;
    Ok(n == 1)
}

pub(super) fn record_inbound_refused(
    c: &Connection,
    r: &store::inbound::InboundRefusal,
) -> Result<bool, StoreError> {
    insert_inbound(
        c,
        &r.tag,
        store::inbound::InboundOutcome::Refused,
        Some(&r.problems),
    )
}

/// A write carrying an agency's message: the message's row and the write in one savepoint
/// (`SAVEPOINT inbound`, around the write's own), so they commit together or not at all. A
/// message id in the log already runs nothing and answers the write with the duplicate error.
pub(super) fn inbound_write(
    tx: &mut rusqlite::Transaction<'_>,
    head: &mut ChainHead,
    w: &store::inbound::InboundWrite,
) -> Answer {
    let begin = tx.execute_batch("SAVEPOINT inbound").map_err(backend);
    if let Err(e) = begin {
        return w.request.refuse(e);
    }
    let undo = |tx: &rusqlite::Transaction<'_>| {
        // Failing to roll back leaves the batch's transaction unusable: its COMMIT fails and
        // every request of the batch with it, so nothing half-done is kept.
        let _ = tx.execute_batch("ROLLBACK TO inbound; RELEASE inbound");
    };
    match insert_inbound(tx, &w.tag, store::inbound::InboundOutcome::Applied, None) {
        Err(e) => {
            undo(tx);
            return w.request.refuse(e);
        }
        Ok(false) => {
            undo(tx);
            return w
                .request
                .refuse(store::inbound::duplicate(&w.tag.message_id));
        }
        Ok(true) => {}
    }
    let answer = super::execute(tx, head, &w.request);
    if answer.is_err() {
        undo(tx);
    } else if let Err(e) = tx.execute_batch("RELEASE inbound") {
        undo(tx);
        // The write itself succeeded but cannot be kept with its record: fail the batch.
        return w.request.refuse(backend(e));
    }
    answer
}

type RawInbound = (String, String, String, i64, i64, String, Option<String>);

fn inbound_of(
    (message_id, sender, kind, created, received, outcome, problems): RawInbound,
) -> Result<store::inbound::InboundRow, StoreError> {
    Ok(store::inbound::InboundRow {
        tag: store::inbound::InboundTag {
            message_id,
            sender,
            kind,
            created_at: from_ms(created)?,
            received_at: from_ms(received)?,
        },
        outcome: store::inbound::InboundOutcome::parse(&outcome)?,
        problems,
    })
}

const INBOUND_COLUMNS: &str =
    "message_id, sender, kind, created_at_ms, received_at_ms, outcome, problems";

fn raw_inbound(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawInbound> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

impl store::inbound::InboundLog for SqliteStore {
    fn inbound(&self, message_id: &str) -> Result<Option<store::inbound::InboundRow>, StoreError> {
        self.read(|c| {
            let raw = c
                .prepare_cached(&format!(
                    "SELECT {INBOUND_COLUMNS} FROM exchange_inbound WHERE message_id = ?1"
                ))
                .map_err(backend)?
                .query_row([message_id], raw_inbound)
                .optional()
                .map_err(backend)?;
            raw.map(inbound_of).transpose()
        })
    }

    fn inbound_rows(
        &self,
        refused_only: bool,
        limit: usize,
    ) -> Result<Vec<store::inbound::InboundRow>, StoreError> {
        let limit = limit.clamp(1, store::inbound::INBOUND_READ_MAX) as i64;
        self.read(|c| {
            let raw: Vec<RawInbound> = c
                .prepare_cached(&format!(
                    "SELECT {INBOUND_COLUMNS} FROM exchange_inbound \
                     WHERE (?1 = 0 OR outcome = 'refused') \
                     ORDER BY received_at_ms DESC, message_id DESC LIMIT ?2"
                ))
                .map_err(backend)?
                .query_map(params![i64::from(refused_only), limit], raw_inbound)
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            raw.into_iter().map(inbound_of).collect()
        })
    }
}
