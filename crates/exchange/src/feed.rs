//! The HTTP feed's read side, for when no bus is configured (the embedded default): an agency
//! asks for the messages addressed to it after a cursor and gets signed envelopes and the next
//! cursor. The server exposes this as `GET /api/exchange/feed?after=CURSOR` (agency users); the
//! agency applies what it read through [`crate::apply::Receiver`], exactly as from the bus,
//! and asks again with the cursor it got.

use std::fmt;
use std::sync::Arc;

use crate::message::{Agency, Envelope, MessageError};
use crate::outbox::{envelopes_of, Outbox, OutboxError};
use crate::sign::SigningKey;

/// At most this many messages in one page of the feed.
pub const FEED_PAGE_MAX: u32 = 1000;

/// A position in an agency's feed: the outbox seq of the last message read. Its text form is
/// `s42`; the beginning is `s0`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct FeedCursor(pub u64);

impl FeedCursor {
    pub fn parse(s: &str) -> Result<FeedCursor, FeedError> {
        s.strip_prefix('s')
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse().ok())
            .map(FeedCursor)
            .ok_or_else(|| FeedError::Cursor(s.to_owned()))
    }
}

impl fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedPage {
    pub messages: Vec<Envelope>,
    /// Ask with this next time; equal to the cursor asked with when nothing was new.
    pub next: FeedCursor,
}

#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    #[error("bad feed cursor {0:?}")]
    Cursor(String),
    #[error("page size must be 1..={FEED_PAGE_MAX}")]
    Limit,
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Message(#[from] MessageError),
}

/// Reads signed messages for one recipient from the sender's outbox.
pub struct FeedReader {
    outbox: Arc<dyn Outbox>,
    key: Arc<SigningKey>,
}

impl FeedReader {
    pub fn new(outbox: Arc<dyn Outbox>, key: Arc<SigningKey>) -> FeedReader {
        FeedReader { outbox, key }
    }

    /// The messages to `recipient` after `after`, at most `limit`, signed as one batch.
    pub fn read(
        &self,
        recipient: &Agency,
        after: FeedCursor,
        limit: u32,
    ) -> Result<FeedPage, FeedError> {
        if !(1..=FEED_PAGE_MAX).contains(&limit) {
            return Err(FeedError::Limit);
        }
        let rows = self.outbox.read_for(recipient, after.0, limit as usize)?;
        let next = rows.last().map(|r| FeedCursor(r.seq)).unwrap_or(after);
        // One signature per page (envelope version 2), each message with its proof.
        let messages = envelopes_of(self.key.agency(), &rows, &self.key)?;
        Ok(FeedPage { messages, next })
    }
}
