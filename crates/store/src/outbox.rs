//! The exchange outbox on the store's side (docs/EXCHANGE.md): rows written in the same
//! transaction as the state change they report, read by the relay and the HTTP feed.
//!
//! The store does not know the exchange's types (`exchange::Kind`, `exchange::Agency`): a row
//! is a kind, recipients, a time and canonical payload bytes, checked by the exchange before it
//! is written and parsed again when it is read. `app::exchange::StoreOutbox` adapts
//! [`OutboxStore`] to `exchange::Outbox`. The store holds no keys: rows are not signed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::writer::Request;
use crate::{AppendRequest, Appended, StoreError};

/// At most this many rows in one read.
pub const OUTBOX_READ_MAX: usize = 4096;
/// At most this many messages written with one change.
pub const OUTBOX_WRITE_MAX: usize = 16;

/// A message to write with a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    /// `declaration_released.v1`.
    pub kind: String,
    /// Sorted, distinct agency codes.
    pub recipients: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Canonical JSON.
    pub payload: Vec<u8>,
}

/// A row of the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    /// 1, 2, 3, … in commit order, never reused.
    pub seq: u64,
    pub message: OutboxMessage,
    pub published_at: Option<DateTime<Utc>>,
}

/// Per recipient: what the outbox holds for it and what the agency acknowledged on the feed.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RecipientCounts {
    pub total: u64,
    pub unpublished: u64,
    pub oldest_unpublished_at: Option<DateTime<Utc>>,
    /// Rows up to and including the agency's acknowledged feed cursor.
    pub acked: u64,
    /// The agency's acknowledged feed cursor (0: none).
    pub acked_cursor: u64,
}

/// What the exchange needs from the store's outbox. The rows themselves are written by
/// [`OutboxStore::append_with_outbox`], in the transaction of the change.
pub trait OutboxStore: crate::writer::Queued + Send + Sync {
    /// [`crate::Store::append`] and, in the same transaction, the outbox rows; returns the
    /// append's answer. Nothing is written when either part fails.
    fn append_with_outbox(
        &self,
        req: AppendRequest,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Appended, StoreError> {
        crate::check_append(&req)?;
        check_messages(&outbox)?;
        self.queue()
            .call(|r| Request::AppendWithOutbox((req, outbox), r))
    }

    /// Rows not yet published with `seq > after`, in `seq` order, at most `limit`.
    fn fetch_unpublished(&self, after: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError>;

    /// Mark rows published (acknowledged by the bus for every recipient). Idempotent: a row
    /// keeps its first time.
    fn mark_published(&self, seqs: &[u64], at: DateTime<Utc>) -> Result<(), StoreError> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.queue()
            .call(|r| Request::MarkPublished((seqs.to_vec(), at), r))
    }

    /// Rows addressed to `recipient` with `seq > after`, published or not, in `seq` order.
    fn read_for(
        &self,
        recipient: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// The cursor after which lie the `n` newest rows addressed to `recipient`: the `seq` of
    /// the row just before them, 0 when there are `n` or fewer. Reading from it shows an agency
    /// what it received last without acknowledging anything.
    fn recent_cursor(&self, recipient: &str, n: usize) -> Result<u64, StoreError>;

    /// Record that `recipient` read its feed up to `cursor` (never moves backwards).
    fn ack_feed(&self, recipient: &str, cursor: u64, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.queue()
            .call(|r| Request::AckFeed((recipient.to_owned(), cursor, at), r))
    }

    /// Per recipient counts, for `jinguan exchange status`.
    fn counts(&self) -> Result<BTreeMap<String, RecipientCounts>, StoreError>;
}

/// Checks before writing (the exchange checks the content; this is the store's own limit).
pub fn check_messages(outbox: &[OutboxMessage]) -> Result<(), StoreError> {
    if outbox.len() > OUTBOX_WRITE_MAX {
        return Err(StoreError::Invalid(format!(
            "at most {OUTBOX_WRITE_MAX} outbox messages per change"
        )));
    }
    for m in outbox {
        let mut r = m.recipients.clone();
        r.sort();
        r.dedup();
        if r.is_empty() || r != m.recipients || m.kind.is_empty() {
            return Err(StoreError::Invalid(
                "outbox message: recipients must be sorted, distinct, non-empty".into(),
            ));
        }
    }
    Ok(())
}
