//! The writes of [`store::outbox::OutboxStore`] on PostgreSQL, run by the one writer: outbox
//! rows are inserted in the savepoint of the append they report, so they commit with it or
//! not at all. Sequence numbers are taken as `max(seq) + 1` under the writer's advisory lock,
//! so they are gapless and in commit order, as on SQLite (`store-sqlite/src/outbox.rs`).

use chrono::{DateTime, Utc};
use store::audit::ChainHead;
use store::outbox::{check_messages, OutboxMessage};
use store::{AppendRequest, Appended, StoreError};

use super::Tx;
use crate::{backend, ms};

impl Tx<'_> {
    pub(super) async fn append_with_outbox(
        &self,
        head: &mut ChainHead,
        (req, messages): &(AppendRequest, Vec<OutboxMessage>),
    ) -> Result<Appended, StoreError> {
        check_messages(messages)?;
        let appended = self.append(head, req).await?;
        self.insert_outbox_rows(messages).await?;
        Ok(appended)
    }

    pub(super) async fn mark_published(
        &self,
        (seqs, at): &(Vec<u64>, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        let seqs: Vec<i64> = seqs.iter().map(|&s| s as i64).collect();
        self.c
            .execute(
                "UPDATE outbox SET published_at = $2 WHERE seq = ANY($1) AND published_at IS NULL",
                &[&seqs, &ms(*at)],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    pub(super) async fn ack_feed(
        &self,
        (agency, cursor, at): &(String, u64, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        self.c
                    .execute(
                        "INSERT INTO outbox_feed_acks (agency, cursor, at) VALUES ($1, $2, $3) \
                         ON CONFLICT (agency) DO UPDATE SET cursor = greatest(outbox_feed_acks.cursor, excluded.cursor), at = excluded.at",
                        &[agency, &(*cursor as i64), &ms(*at)],
                    )
                    .await
                    .map_err(backend)?;
        Ok(())
    }

    /// Write outbox rows in the current savepoint.
    pub(super) async fn insert_outbox_rows(
        &self,
        messages: &[OutboxMessage],
    ) -> Result<(), StoreError> {
        if messages.is_empty() {
            return Ok(());
        }
        check_messages(messages)?;
        let last: i64 = self
            .c
            .query_one("SELECT coalesce(max(seq), 0) FROM outbox", &[])
            .await
            .map_err(backend)?
            .get(0);
        for (i, m) in messages.iter().enumerate() {
            let seq = last + 1 + i as i64;
            self.c
                .execute(
                    "INSERT INTO outbox (seq, kind, recipients, created_at, payload) VALUES ($1, $2, $3, $4, $5)",
                    &[&seq, &m.kind, &m.recipients, &ms(m.created_at), &m.payload],
                )
                .await
                .map_err(backend)?;
            self.c
                .execute(
                    "INSERT INTO outbox_recipients (agency, seq) SELECT unnest($1::text[]), $2",
                    &[&m.recipients, &seq],
                )
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}
