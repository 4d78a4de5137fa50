//! [`OutboxStore`] on PostgreSQL: the same semantics as the SQLite backend (contract
//! `store_contract::outbox_contract`). Writes go to the one writer (`writer::outbox`); reads through
//! the pool.

use std::collections::BTreeMap;

use store::outbox::*;
use store::StoreError;
use tokio_postgres::Row;

use crate::PostgresStore;

pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE outbox (
        seq          bigint PRIMARY KEY,
        kind         text NOT NULL,
        recipients   text[] NOT NULL,
        created_at   timestamptz NOT NULL,
        payload      bytea NOT NULL,
        published_at timestamptz
    );
    CREATE INDEX outbox_unpublished ON outbox (seq) WHERE published_at IS NULL;
    CREATE TABLE outbox_recipients (
        agency text NOT NULL,
        seq    bigint NOT NULL REFERENCES outbox (seq),
        PRIMARY KEY (agency, seq)
    );
    CREATE TABLE outbox_feed_acks (
        agency text PRIMARY KEY,
        cursor bigint NOT NULL,
        at     timestamptz NOT NULL
    );
"#;

const COLUMNS: &str = "o.seq, o.kind, o.recipients, o.created_at, o.payload, o.published_at";

fn row_of(r: &Row) -> OutboxRow {
    OutboxRow {
        seq: r.get::<_, i64>(0) as u64,
        message: OutboxMessage {
            kind: r.get(1),
            recipients: r.get(2),
            created_at: r.get(3),
            payload: r.get(4),
        },
        published_at: r.get(5),
    }
}

impl OutboxStore for PostgresStore {
    fn fetch_unpublished(&self, after: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        let limit = limit.clamp(1, OUTBOX_READ_MAX) as i64;
        let rows = self.query_owned(
            format!(
                "SELECT {COLUMNS} FROM outbox o WHERE o.published_at IS NULL AND o.seq > $1 ORDER BY o.seq LIMIT $2"
            ),
            vec![Box::new(after as i64), Box::new(limit)],
        )?;
        Ok(rows.iter().map(row_of).collect())
    }

    fn read_for(
        &self,
        recipient: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let limit = limit.clamp(1, OUTBOX_READ_MAX) as i64;
        let rows = self.query_owned(
            format!(
                "SELECT {COLUMNS} FROM outbox_recipients r JOIN outbox o ON o.seq = r.seq \
                 WHERE r.agency = $1 AND r.seq > $2 ORDER BY r.seq LIMIT $3"
            ),
            vec![
                Box::new(recipient.to_owned()),
                Box::new(after as i64),
                Box::new(limit),
            ],
        )?;
        Ok(rows.iter().map(row_of).collect())
    }

    fn recent_cursor(&self, recipient: &str, n: usize) -> Result<u64, StoreError> {
        let n = n.min(OUTBOX_READ_MAX) as i64;
        let rows = self.query_owned(
            "SELECT seq FROM outbox_recipients WHERE agency = $1 \
             ORDER BY seq DESC LIMIT 1 OFFSET $2"
                .to_owned(),
            vec![Box::new(recipient.to_owned()), Box::new(n)],
        )?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    fn counts(&self) -> Result<BTreeMap<String, RecipientCounts>, StoreError> {
        let rows = self.query(
            "SELECT r.agency, count(*), \
                count(*) FILTER (WHERE o.published_at IS NULL), \
                min(o.created_at) FILTER (WHERE o.published_at IS NULL), \
                count(*) FILTER (WHERE r.seq <= coalesce(a.cursor, 0)), \
                coalesce(max(a.cursor), 0) \
             FROM outbox_recipients r JOIN outbox o ON o.seq = r.seq \
             LEFT JOIN outbox_feed_acks a ON a.agency = r.agency \
             GROUP BY r.agency",
            Vec::new(),
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, String>(0),
                    RecipientCounts {
                        total: r.get::<_, i64>(1) as u64,
                        unpublished: r.get::<_, i64>(2) as u64,
                        oldest_unpublished_at: r.get(3),
                        acked: r.get::<_, i64>(4) as u64,
                        acked_cursor: r.get::<_, i64>(5) as u64,
                    },
                )
            })
            .collect())
    }
}

/// Migration 23 (issue 18 item 6): the inbound log (store::inbound).
pub(crate) const INBOUND_MIGRATION: &str = r#"
    CREATE TABLE exchange_inbound (
        message_id  text PRIMARY KEY,
        sender      text NOT NULL,
        kind        text NOT NULL,
        created_at  timestamptz NOT NULL,
        received_at timestamptz NOT NULL,
        outcome     text NOT NULL CHECK (outcome IN ('applied', 'refused')),
        problems    text
    );
    CREATE INDEX exchange_inbound_received ON exchange_inbound (received_at, outcome);
"#;

const INBOUND_COLUMNS: &str =
    "message_id, sender, kind, created_at, received_at, outcome, problems";

fn inbound_of(r: &Row) -> Result<store::inbound::InboundRow, StoreError> {
    Ok(store::inbound::InboundRow {
        tag: store::inbound::InboundTag {
            message_id: r.get(0),
            sender: r.get(1),
            kind: r.get(2),
            created_at: r.get(3),
            received_at: r.get(4),
        },
        outcome: store::inbound::InboundOutcome::parse(r.get::<_, &str>(5))?,
        problems: r.get(6),
    })
}

impl store::inbound::InboundLog for PostgresStore {
    fn inbound(&self, message_id: &str) -> Result<Option<store::inbound::InboundRow>, StoreError> {
        let rows = self.query_owned(
            format!("SELECT {INBOUND_COLUMNS} FROM exchange_inbound WHERE message_id = $1"),
            vec![Box::new(message_id.to_owned())],
        )?;
        rows.first().map(inbound_of).transpose()
    }

    fn inbound_rows(
        &self,
        refused_only: bool,
        limit: usize,
    ) -> Result<Vec<store::inbound::InboundRow>, StoreError> {
        let limit = limit.clamp(1, store::inbound::INBOUND_READ_MAX) as i64;
        let rows = self.query_owned(
            format!(
                "SELECT {INBOUND_COLUMNS} FROM exchange_inbound \
                 WHERE (NOT $1 OR outcome = 'refused') \
                 ORDER BY received_at DESC, message_id DESC LIMIT $2"
            ),
            vec![Box::new(refused_only), Box::new(limit)],
        )?;
        rows.iter().map(inbound_of).collect()
    }
}
