//! The agencies' records received by customs over the exchange (docs/EXCHANGE.md "The reverse
//! direction"): the inbound log `exchange_inbound`, one row per message id, and the write that
//! carries one.
//!
//! A message from an agency is applied through the same use case as the HTTP API (a licence
//! issued, a registry entry, a bank record), whose write goes to the writer as usual. When the
//! use case runs inside [`carrying`], its first write is wrapped as [`crate::writer::Request::Inbound`]:
//! the backend inserts the message's row (`outcome = 'applied'`) in the same savepoint as the
//! write itself, so the effect and the record of its id commit together or not at all. A row
//! already there (the message applied or refused before, even by a racing delivery) fails the
//! write with [`StoreError::Duplicate`] naming the id ([`DUPLICATE_PREFIX`]) and writes nothing.
//! A message the use case refuses is recorded on its own ([`InboundLog::record_inbound_refused`],
//! `outcome = 'refused'` with its problems), so that it is not applied on a later delivery
//! either; a store that cannot write records nothing, and the message comes again.
//!
//! The wrapper is generic: any write of the use-case traits can carry a message id, and no
//! request type knows about the exchange.

use std::cell::RefCell;

use chrono::{DateTime, Utc};

use crate::writer::{Queued, Request};
use crate::StoreError;

/// At most this many rows in one read of the inbound log.
pub const INBOUND_READ_MAX: usize = 1000;
/// The text a duplicate message's write fails with starts with this (then the message id).
pub const DUPLICATE_PREFIX: &str = "exchange message ";

/// The message a write carries: its id (`SENDER-SEQ`), sender, kind and signed time, and when
/// customs received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundTag {
    pub message_id: String,
    pub sender: String,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
}

/// What became of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundOutcome {
    Applied,
    Refused,
}

impl InboundOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            InboundOutcome::Applied => "applied",
            InboundOutcome::Refused => "refused",
        }
    }
    pub fn parse(s: &str) -> Result<InboundOutcome, StoreError> {
        match s {
            "applied" => Ok(InboundOutcome::Applied),
            "refused" => Ok(InboundOutcome::Refused),
            other => Err(StoreError::Corrupt(format!("inbound outcome {other}"))),
        }
    }
}

/// A row of the inbound log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundRow {
    pub tag: InboundTag,
    pub outcome: InboundOutcome,
    /// A refused message's problems, as the JSON array the API shows
    /// (`[{field, code, message_zh, message_en}]`); `None` when applied.
    pub problems: Option<String>,
}

/// A refused message to record: its tag and its problems (JSON array).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundRefusal {
    pub tag: InboundTag,
    pub problems: String,
}

/// A write carrying an inbound message: the backend records the tag (applied) and runs the
/// request in one savepoint; see the module documentation.
pub struct InboundWrite {
    pub tag: InboundTag,
    pub request: Request,
}

/// The error a write fails with when its message id is already in the log.
pub fn duplicate(message_id: &str) -> StoreError {
    StoreError::Duplicate(format!("{DUPLICATE_PREFIX}{message_id}"))
}

thread_local! {
    /// The tag the next write of this thread carries (set by [`carrying`]).
    static CARRIED: RefCell<Option<InboundTag>> = const { RefCell::new(None) };
}

/// Run `f` (a use case, synchronous on this thread) so that its first write to the store
/// carries `tag`. Returns `f`'s result and whether a write took the tag; a use case that
/// refused before writing leaves it untaken, and it is dropped here.
pub fn carrying<T>(tag: InboundTag, f: impl FnOnce() -> T) -> (T, bool) {
    /// Clears the tag however `f` ends (a panic too), so no later write of this thread
    /// carries it.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            CARRIED.with(|c| c.borrow_mut().take());
        }
    }
    CARRIED.with(|c| *c.borrow_mut() = Some(tag));
    let clear = Clear;
    let out = f();
    let left = CARRIED.with(|c| c.borrow_mut().take());
    drop(clear);
    (out, left.is_none())
}

/// The tag the next write of this thread carries, taken (by [`crate::writer::Queue::call`]).
pub(crate) fn take_carried() -> Option<InboundTag> {
    CARRIED.with(|c| c.borrow_mut().take())
}

/// The inbound log: what customs asks of it. Part of the exchange's storage (a backend with an
/// outbox keeps it too: migration 23).
pub trait InboundLog: Queued + Send + Sync {
    /// The row of a message id, if it was applied or refused.
    fn inbound(&self, message_id: &str) -> Result<Option<InboundRow>, StoreError>;

    /// The newest rows first, at most `limit` (1..=[`INBOUND_READ_MAX`]); only the refused
    /// ones when `refused_only`.
    fn inbound_rows(&self, refused_only: bool, limit: usize)
        -> Result<Vec<InboundRow>, StoreError>;

    /// Record a refused message. `Ok(false)` when its id is in the log already (applied or
    /// refused before): nothing is changed.
    fn record_inbound_refused(&self, refusal: InboundRefusal) -> Result<bool, StoreError> {
        self.queue()
            .call(|r| Request::RecordInboundRefused(refusal, r))
    }
}
