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

impl Tx<'_> {
    /// Insert a message's row of the inbound log (store::inbound); `false` when its id is
    /// there already (nothing changed).
    async fn insert_inbound(
        &self,
        tag: &store::inbound::InboundTag,
        outcome: store::inbound::InboundOutcome,
        problems: Option<&str>,
    ) -> Result<bool, StoreError> {
        let n = self
            .c
            .execute(
                "INSERT INTO exchange_inbound \
                 (message_id, sender, kind, created_at, received_at, outcome, problems) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO NOTHING",
                &[
                    &tag.message_id,
                    &tag.sender,
                    &tag.kind,
                    &ms(tag.created_at),
                    &ms(tag.received_at),
                    &outcome.as_str(),
                    &problems,
                ],
            )
            .await
            .map_err(backend)?;
        Ok(n == 1)
    }

    pub(super) async fn record_inbound_refused(
        &self,
        r: &store::inbound::InboundRefusal,
    ) -> Result<bool, StoreError> {
        self.insert_inbound(
            &r.tag,
            store::inbound::InboundOutcome::Refused,
            Some(&r.problems),
        )
        .await
    }

    /// A write carrying an agency's message: the message's row, then the write, in the
    /// request's savepoint (`Tx::single`), which rolls both back when the write fails. A
    /// message id in the log already runs nothing and answers with the duplicate error.
    pub(super) async fn inbound_write(
        &self,
        head: &mut ChainHead,
        w: &store::inbound::InboundWrite,
    ) -> store::writer::Answer {
        match self
            .insert_inbound(&w.tag, store::inbound::InboundOutcome::Applied, None)
            .await
        {
            Err(e) => w.request.refuse(e),
            Ok(false) => w
                .request
                .refuse(store::inbound::duplicate(&w.tag.message_id)),
            Ok(true) => Box::pin(self.execute(head, &w.request)).await,
        }
    }
}
