//! Receiving: verify each message, refuse and log what fails, and apply the rest once.
//!
//! - [`Receiver::receive`] takes a batch of raw envelopes as they arrived (from JetStream or the
//!   HTTP feed) and returns one [`Disposition`] per message.
//! - [`Apply`] is what an agency's ledger implements: apply a batch of [`Verified`] messages,
//!   each at most once by message id, the record of the id committed with the effect.
//! - [`MemoryAppliedLog`] (tests) implements it here; the durable log in SQLite (WAL,
//!   `synchronous=FULL`, with an optional effect run in the same transaction) is
//!   `exchange_bus::SqliteAppliedLog`, beside the IO it needs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::batch::BatchCache;
use crate::message::{Agency, Envelope, MessageId};
use crate::sign::{verify_cached, KeyRing};

/// A message whose signature was checked against the receiver's key ring and which is
/// addressed to the receiver. Only [`Receiver`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    envelope: Envelope,
}

impl Verified {
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }
    pub fn id(&self) -> &MessageId {
        &self.envelope.id
    }
}

/// The result of applying one verified message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// First time: the effect was applied and the id recorded, together.
    Applied,
    /// The id was applied before; nothing changed.
    Duplicate,
    /// The effect failed (the ledger could not write); nothing changed, the message will be
    /// delivered again.
    Failed(String),
    /// The receiver will never apply this message (a genuine message whose content its rules
    /// refuse: invalid, not allowed to its sender); the refusal was recorded under the
    /// message id, with the effect's transaction rules, so it is not delivered again.
    Rejected { reason: String, detail: String },
}

/// A refused message, as logged: never applied, never redelivered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// When the envelope could be read.
    pub message_id: Option<String>,
    pub sender: Option<String>,
    /// Stable code: `malformed`, `not_addressed`, `unsigned`, `unknown_key`, `key_not_sender`,
    /// `key_not_valid`, `wrong_algorithm`, `malformed_signature`, `bad_signature`, `bad_proof`.
    pub reason: String,
    pub detail: String,
    pub size_bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("applied log: {0}")]
    Storage(String),
}

/// What a receiving agency's ledger implements. `apply_batch` returns one outcome per message,
/// in order; a message id applied before (in an earlier batch or earlier in this one) is a
/// [`Outcome::Duplicate`]. An `Err` means nothing of the batch was applied.
pub trait Apply: Send + Sync {
    fn apply_batch(&self, messages: &[Verified]) -> Result<Vec<Outcome>, ApplyError>;
    fn record_refused(&self, refusals: &[Refusal]) -> Result<(), ApplyError>;
}

/// What happened to one received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    Applied,
    Duplicate,
    Refused(Refusal),
    /// Apply failed; deliver again later.
    Failed(String),
}

/// Check one raw envelope for `agency`: readable, addressed to it, signed by a key of its
/// sender in `keyring` ([`Receiver::check`]; also for a receiver that applies on its own, such
/// as customs' HTTP channel of the agencies' records).
pub fn check_envelope(
    agency: &Agency,
    keyring: &KeyRing,
    batches: Option<&BatchCache>,
    raw: &[u8],
) -> Result<Verified, Refusal> {
    let refusal = |e: Option<&Envelope>, reason: &str, detail: String| Refusal {
        message_id: e.map(|e| e.id.to_string()),
        sender: e.map(|e| e.sender.to_string()),
        reason: reason.to_owned(),
        detail,
        size_bytes: raw.len(),
    };
    let envelope =
        Envelope::from_wire(raw).map_err(|e| refusal(None, "malformed", e.to_string()))?;
    if !envelope.recipients.contains(agency) {
        return Err(refusal(
            Some(&envelope),
            "not_addressed",
            format!("not addressed to {agency}"),
        ));
    }
    verify_cached(&envelope, keyring, batches)
        .map_err(|e| refusal(Some(&envelope), e.code(), e.to_string()))?;
    Ok(Verified { envelope })
}

/// Verifies and applies for one agency. Batch signatures (envelope version 2) it has verified
/// are remembered (bounded, [`crate::batch::BATCH_CACHE_MAX`]), so each is checked once.
#[derive(Clone)]
pub struct Receiver {
    agency: Agency,
    keyring: Arc<KeyRing>,
    batches: Arc<BatchCache>,
    apply: Arc<dyn Apply>,
}

impl Receiver {
    pub fn new(agency: Agency, keyring: Arc<KeyRing>, apply: Arc<dyn Apply>) -> Receiver {
        Receiver {
            agency,
            keyring,
            batches: Arc::new(BatchCache::new()),
            apply,
        }
    }

    pub fn agency(&self) -> &Agency {
        &self.agency
    }

    /// Check one raw envelope: readable, addressed to us, signed by a key of its sender.
    pub fn check(&self, raw: &[u8]) -> Result<Verified, Refusal> {
        check_envelope(&self.agency, &self.keyring, Some(&self.batches), raw)
    }

    /// Check a batch, on two threads when it is large: verification is the receiver's main
    /// CPU cost. The first half of [`Receiver::receive`]; [`Receiver::apply_checked`] is the
    /// second, so a consumer can check one chunk while the previous one is being applied.
    pub fn check_all(&self, raw: &[&[u8]]) -> Vec<Result<Verified, Refusal>> {
        if raw.len() < 64 {
            return raw.iter().map(|r| self.check(r)).collect();
        }
        let (a, b) = raw.split_at(raw.len() / 2);
        std::thread::scope(|s| {
            let h = s.spawn(|| a.iter().map(|r| self.check(r)).collect::<Vec<_>>());
            let second: Vec<_> = b.iter().map(|r| self.check(r)).collect();
            let mut first = h.join().expect("verifying thread");
            first.extend(second);
            first
        })
    }

    /// Verify a batch, refuse (and log) the bad ones, apply the good ones in one call.
    /// Returns one disposition per input, in order. `Err` when the refused log or the
    /// applied log could not be written: the caller delivers the whole batch again.
    pub fn receive(&self, raw: &[&[u8]]) -> Result<Vec<Disposition>, ApplyError> {
        self.apply_checked(self.check_all(raw))
    }

    /// Log and record the refusals among checked messages and apply the rest in one call: one
    /// disposition per message, in order. `Err` as for [`Receiver::receive`].
    pub fn apply_checked(
        &self,
        checked: Vec<Result<Verified, Refusal>>,
    ) -> Result<Vec<Disposition>, ApplyError> {
        let count = checked.len();
        let mut verified = Vec::with_capacity(count);
        let mut refusals = Vec::new();
        let mut slots: Vec<Result<usize, usize>> = Vec::with_capacity(count);
        for checked in checked {
            match checked {
                Ok(v) => {
                    slots.push(Ok(verified.len()));
                    verified.push(v);
                }
                Err(refusal) => {
                    tracing::warn!(
                        agency = %self.agency,
                        message_id = refusal.message_id.as_deref().unwrap_or("?"),
                        sender = refusal.sender.as_deref().unwrap_or("?"),
                        reason = %refusal.reason,
                        "exchange message refused: {}", refusal.detail
                    );
                    slots.push(Err(refusals.len()));
                    refusals.push(refusal);
                }
            }
        }
        if !refusals.is_empty() {
            self.apply.record_refused(&refusals)?;
        }
        let outcomes = if verified.is_empty() {
            Vec::new()
        } else {
            self.apply.apply_batch(&verified)?
        };
        assert_eq!(outcomes.len(), verified.len(), "one outcome per message");
        Ok(slots
            .into_iter()
            .map(|s| match s {
                Ok(i) => match &outcomes[i] {
                    Outcome::Applied => Disposition::Applied,
                    Outcome::Duplicate => Disposition::Duplicate,
                    Outcome::Failed(why) => Disposition::Failed(why.clone()),
                    Outcome::Rejected { reason, detail } => {
                        let e = verified[i].envelope();
                        Disposition::Refused(Refusal {
                            message_id: Some(e.id.to_string()),
                            sender: Some(e.sender.to_string()),
                            reason: reason.clone(),
                            detail: detail.clone(),
                            size_bytes: e.payload.len(),
                        })
                    }
                },
                Err(i) => Disposition::Refused(refusals[i].clone()),
            })
            .collect())
    }
}

// ---------------------------------------------------------------------------------------------

#[derive(Default)]
struct MemoryState {
    applied: HashMap<MessageId, u32>,
    order: Vec<MessageId>,
    refused: Vec<Refusal>,
}

/// An applied-once log in memory; the effect is to remember the order of application.
#[derive(Clone, Default)]
pub struct MemoryAppliedLog {
    inner: Arc<Mutex<MemoryState>>,
}

impl MemoryAppliedLog {
    pub fn new() -> MemoryAppliedLog {
        MemoryAppliedLog::default()
    }
    /// Ids in the order they were applied; each appears once if applied once.
    pub fn applied(&self) -> Vec<MessageId> {
        self.inner.lock().expect("log lock").order.clone()
    }
    pub fn applied_count(&self) -> usize {
        self.inner.lock().expect("log lock").order.len()
    }
    pub fn refused(&self) -> Vec<Refusal> {
        self.inner.lock().expect("log lock").refused.clone()
    }
}

impl Apply for MemoryAppliedLog {
    fn apply_batch(&self, messages: &[Verified]) -> Result<Vec<Outcome>, ApplyError> {
        let mut g = self.inner.lock().expect("log lock");
        Ok(messages
            .iter()
            .map(|m| {
                let n = g.applied.entry(m.id().clone()).or_insert(0);
                *n += 1;
                if *n == 1 {
                    g.order.push(m.id().clone());
                    Outcome::Applied
                } else {
                    Outcome::Duplicate
                }
            })
            .collect())
    }

    fn record_refused(&self, refusals: &[Refusal]) -> Result<(), ApplyError> {
        self.inner
            .lock()
            .expect("log lock")
            .refused
            .extend_from_slice(refusals);
        Ok(())
    }
}
