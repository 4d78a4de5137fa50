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
