//! The outbox: what the relay and the feed need from storage, as a trait a store implements.
//!
//! The store writes an [`OutboxRecord`] (kind, recipients, canonical payload, time) in the same
//! transaction as the state change it reports, and gives it the next sequence number of its
//! outbox. Nothing else is needed at write time: the message id is `SENDER-SEQ`, and the
//! signature is added when the message leaves (the relay of `exchange_bus`, [`crate::feed`]),
//! by the exchange, which holds the key: [`envelope_of`] and [`envelopes_of`] build and sign
//! the envelopes of rows. The relay and the feed sign the rows they read together, one
//! signature per batch (envelope version 2); a row re-sent in another batch carries another
//! proof and signature, but the same message id, so de-duplication and apply-once hold.
//!
//! A store implements [`Outbox`] over a table like this (SQLite dialect):
//!
//! ```sql
//! CREATE TABLE exchange_outbox (
//!     seq          INTEGER PRIMARY KEY,      -- assigned in the writing transaction, never reused
//!     kind         TEXT NOT NULL,            -- 'declaration_released.v1'
//!     recipients   TEXT NOT NULL,            -- 'COMMERCE,TAX' (sorted, distinct)
//!     created_at   TEXT NOT NULL,            -- RFC 3339, milliseconds, Z
//!     payload      BLOB NOT NULL,            -- canonical JSON
//!     published_at TEXT                      -- NULL until the relay saw every recipient's ack
//! );
//! CREATE INDEX exchange_outbox_unpublished ON exchange_outbox(seq) WHERE published_at IS NULL;
//! ```
//!
//! [`MemoryOutbox`] is the in-memory implementation for tests and benchmarks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::message::{
    to_millis, Agency, Envelope, Kind, MessageError, MessageId, PAYLOAD_BYTES_MAX, RECIPIENTS_MAX,
};
use crate::sign::{sign, sign_batch, SigningKey};

/// At most this many rows in one read of the outbox.
pub const OUTBOX_READ_MAX: usize = 4096;

/// One row of the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRecord {
    /// 1, 2, 3, ... in commit order; never reused.
    pub seq: u64,
    pub kind: Kind,
    /// Sorted, distinct, 1..=[`RECIPIENTS_MAX`].
    pub recipients: Vec<Agency>,
    pub created_at: DateTime<Utc>,
    /// Canonical JSON ([`crate::message::encode_payload`]).
    pub payload: Vec<u8>,
}

/// Per recipient: what the outbox holds for it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct OutboxCounts {
    pub total: u64,
    /// Not yet acknowledged by the bus.
    pub unpublished: u64,
    pub oldest_unpublished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox storage: {0}")]
    Storage(String),
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// What the exchange asks of the store's outbox. Synchronous like `store::Store` (the relay
/// calls it through `spawn_blocking`), `Send + Sync`, object-safe.
pub trait Outbox: Send + Sync {
    /// Rows not yet published with `seq > after`, in `seq` order, at most `limit`
    /// (1..=[`OUTBOX_READ_MAX`]).
    fn fetch_unpublished(&self, after: u64, limit: usize)
        -> Result<Vec<OutboxRecord>, OutboxError>;

    /// Record that these rows were acknowledged by the bus for every recipient. Marking a row
    /// twice is harmless.
    fn mark_published(&self, seqs: &[u64], at: DateTime<Utc>) -> Result<(), OutboxError>;

    /// Rows addressed to `recipient` with `seq > after`, published or not, in `seq` order, at
    /// most `limit`: the HTTP feed's read.
    fn read_for(
        &self,
        recipient: &Agency,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError>;

    /// Per recipient counts, for `jinguan exchange status`.
    fn counts(&self) -> Result<BTreeMap<Agency, OutboxCounts>, OutboxError>;
}

/// Check a row's invariants (asserted by every implementation before writing).
pub fn check_record(recipients: &[Agency], payload: &[u8]) -> Result<(), MessageError> {
    let mut r = recipients.to_vec();
    r.sort();
    r.dedup();
    if r.is_empty() || r.len() > RECIPIENTS_MAX || r.len() != recipients.len() {
        return Err(MessageError::Recipients);
    }
    if payload.len() > PAYLOAD_BYTES_MAX {
        return Err(MessageError::PayloadTooLarge(payload.len()));
    }
    Ok(())
}

/// The unsigned envelope of an outbox row, sent as `sender`.
pub fn unsigned_envelope(sender: &Agency, record: &OutboxRecord) -> Result<Envelope, MessageError> {
    Envelope::new(
        MessageId::new(sender.clone(), record.seq),
        record.kind.clone(),
        record.recipients.clone(),
        record.created_at,
        record.payload.clone(),
    )
}

/// Build and sign the envelope of one outbox row on its own (envelope version 1).
pub fn envelope_of(
    sender: &Agency,
    record: &OutboxRecord,
    key: &SigningKey,
) -> Result<Envelope, MessageError> {
    let mut e = unsigned_envelope(sender, record)?;
    sign(&mut e, key);
    Ok(e)
}

/// Build the envelopes of outbox rows and sign them as one batch (envelope version 2):
/// 1..=[`crate::batch::BATCH_LEAVES_MAX`] rows, or none.
pub fn envelopes_of(
    sender: &Agency,
    records: &[OutboxRecord],
    key: &SigningKey,
) -> Result<Vec<Envelope>, MessageError> {
    let mut envelopes = records
        .iter()
        .map(|r| unsigned_envelope(sender, r))
        .collect::<Result<Vec<_>, _>>()?;
    if !envelopes.is_empty() {
        sign_batch(&mut envelopes, key);
    }
    Ok(envelopes)
}

#[derive(Default)]
struct Rows {
    /// Index `i` holds seq `i + 1`.
    rows: Vec<(OutboxRecord, Option<DateTime<Utc>>)>,
    /// Every seq below this one is published: where `fetch_unpublished` starts looking.
    first_unpublished: u64,
}

/// An outbox in memory: for tests, benchmarks and examples. Appends stand in for the store's
/// transaction.
#[derive(Clone, Default)]
pub struct MemoryOutbox {
    inner: Arc<Mutex<Rows>>,
}

impl MemoryOutbox {
    pub fn new() -> MemoryOutbox {
        MemoryOutbox::default()
    }

    /// Append a row, as a store would in the transaction of the change; returns its seq.
    pub fn append(
        &self,
        kind: Kind,
        mut recipients: Vec<Agency>,
        created_at: DateTime<Utc>,
        payload: Vec<u8>,
    ) -> Result<u64, OutboxError> {
        recipients.sort();
        check_record(&recipients, &payload)?;
        let mut g = self.inner.lock().expect("outbox lock");
        let seq = g.rows.len() as u64 + 1;
        g.rows.push((
            OutboxRecord {
                seq,
                kind,
                recipients,
                created_at: to_millis(created_at),
                payload,
            },
            None,
        ));
        Ok(seq)
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("outbox lock").rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Outbox for MemoryOutbox {
    fn fetch_unpublished(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError> {
        let limit = limit.clamp(1, OUTBOX_READ_MAX);
        let g = self.inner.lock().expect("outbox lock");
        let start = after.max(g.first_unpublished) as usize;
        Ok(g.rows[start.min(g.rows.len())..]
            .iter()
            .filter(|(_, published)| published.is_none())
            .take(limit)
            .map(|(r, _)| r.clone())
            .collect())
    }

    fn mark_published(&self, seqs: &[u64], at: DateTime<Utc>) -> Result<(), OutboxError> {
        let mut g = self.inner.lock().expect("outbox lock");
        for &seq in seqs {
            let i = usize::try_from(seq).ok().and_then(|s| s.checked_sub(1));
            let row = i
                .and_then(|i| g.rows.get_mut(i))
                .ok_or_else(|| OutboxError::Storage(format!("no outbox row {seq}")))?;
            assert_eq!(row.0.seq, seq);
            row.1.get_or_insert(at);
        }
        while let Some((_, Some(_))) = g.rows.get(g.first_unpublished as usize) {
            g.first_unpublished += 1;
        }
        Ok(())
    }

    fn read_for(
        &self,
        recipient: &Agency,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError> {
        let limit = limit.clamp(1, OUTBOX_READ_MAX);
        let g = self.inner.lock().expect("outbox lock");
        let start = (after as usize).min(g.rows.len());
        Ok(g.rows[start..]
            .iter()
            .filter(|(r, _)| r.recipients.contains(recipient))
            .take(limit)
            .map(|(r, _)| r.clone())
            .collect())
    }

    fn counts(&self) -> Result<BTreeMap<Agency, OutboxCounts>, OutboxError> {
        let g = self.inner.lock().expect("outbox lock");
        let mut out: BTreeMap<Agency, OutboxCounts> = BTreeMap::new();
        for (r, published) in &g.rows {
            for a in &r.recipients {
                let c = out.entry(a.clone()).or_default();
                c.total += 1;
                if published.is_none() {
                    c.unpublished += 1;
                    if c.oldest_unpublished_at.is_none() {
                        c.oldest_unpublished_at = Some(r.created_at);
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_skips_published_and_counts_per_recipient() {
        let o = MemoryOutbox::new();
        let k = Kind::parse("export_closed.v1").unwrap();
        let tax = Agency::parse("TAX").unwrap();
        let forex = Agency::parse("FOREX").unwrap();
        // Any time will do; a fixed one keeps the test off the clock (clippy.toml).
        let now = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 12, 7, 8, 0, 0).unwrap();
        for i in 0..5 {
            let to = if i % 2 == 0 {
                vec![tax.clone(), forex.clone()]
            } else {
                vec![tax.clone()]
            };
            assert_eq!(o.append(k.clone(), to, now, b"{}".to_vec()).unwrap(), i + 1);
        }
        o.mark_published(&[1, 2, 4], now).unwrap();
        let seqs: Vec<u64> = o
            .fetch_unpublished(0, 10)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, [3, 5]);
        let seqs: Vec<u64> = o
            .fetch_unpublished(3, 10)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, [5]);
        let seqs: Vec<u64> = o
            .read_for(&forex, 1, 10)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        assert_eq!(seqs, [3, 5]);
        let c = o.counts().unwrap();
        assert_eq!((c[&tax].total, c[&tax].unpublished), (5, 2));
        assert_eq!((c[&forex].total, c[&forex].unpublished), (3, 2));
        assert!(o.append(k.clone(), vec![], now, b"{}".to_vec()).is_err());
        assert!(o
            .append(k, vec![tax.clone(), tax], now, b"{}".to_vec())
            .is_err());
    }
}
