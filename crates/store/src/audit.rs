//! The audit log as a hash chain, the same for every backend.
//!
//! Each record stores `hash = SHA-256(prev_hash ‖ canonical(record))`, where `prev_hash` is the
//! hash of the record before it (32 zero bytes for the first) and `canonical` is a fixed,
//! length-prefixed encoding of the record's fields. A record is written in the same transaction
//! as the change it describes, so the log and the data cannot disagree about what committed.
//!
//! SHA-256 rather than SM3: both give 32 bytes and the chain does not depend on which; SHA-256
//! comes from the widely used `sha2` crate. Switching to SM3 (the `sm3` crate) for a national
//! deployment means a new `hash_alg` and a chain that starts over from a record naming it.
//!
//! What the chain proves: a record changed, removed or inserted in the middle breaks it at that
//! point. What it cannot prove alone: that the newest records were not cut off; for that, the
//! head hash ([`AuditReport::head_hash_hex`]) must be published somewhere else from time to time.

use serde::Serialize;
use sha2::{Digest, Sha256};

pub const GENESIS: [u8; 32] = [0; 32];

/// One audit record as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// 1, 2, 3, ... with no gaps.
    pub id: i64,
    pub at_ms: i64,
    /// `Actor::label()` of who made the change.
    pub actor: String,
    /// `submit`, `accept`, `append`, `put_office`, `put_user`.
    pub action: String,
    /// What changed: `declaration:42`, `office:2200`, `user:wang`.
    pub subject: String,
    /// Compact JSON: numbers, versions, and SHA-256 digests of the bodies written.
    pub detail: String,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The bytes that are hashed: each field in order, integers as 8 bytes big-endian, text as a
/// 4-byte big-endian length followed by the UTF-8 bytes. Unambiguous, and independent of any
/// JSON or database formatting.
pub fn canonical_bytes(
    id: i64,
    at_ms: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(16 + 16 + actor.len() + action.len() + subject.len() + detail.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&at_ms.to_be_bytes());
    for text in [actor, action, subject, detail] {
        let len = u32::try_from(text.len()).expect("audit fields are bounded far below 4 GiB");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

pub fn chain_hash(prev_hash: &[u8; 32], canonical: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical);
    h.finalize().into()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The head of the chain, kept by the writer: the next record links to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainHead {
    pub last_id: i64,
    pub last_hash: [u8; 32],
}

impl ChainHead {
    pub const EMPTY: ChainHead = ChainHead {
        last_id: 0,
        last_hash: GENESIS,
    };

    /// Build the next record and advance the head.
    pub fn next(
        &mut self,
        at_ms: i64,
        actor: &str,
        action: &str,
        subject: &str,
        detail: String,
    ) -> AuditRecord {
        let id = self.last_id + 1;
        let hash = chain_hash(
            &self.last_hash,
            &canonical_bytes(id, at_ms, actor, action, subject, &detail),
        );
        let rec = AuditRecord {
            id,
            at_ms,
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject: subject.to_owned(),
            detail,
            prev_hash: self.last_hash,
            hash,
        };
        *self = ChainHead {
            last_id: id,
            last_hash: hash,
        };
        rec
    }
}

/// Why a link is broken.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum BrokenReason {
    /// Records are missing before this one (a deletion).
    Gap { expected_id: i64 },
    /// The stored `prev_hash` is not the hash of the record before.
    PrevHashMismatch,
    /// The record's content does not hash to its stored hash: it was altered.
    HashMismatch,
    /// A stored hash is not 32 bytes, or a field cannot be read.
    Unreadable { why: String },
}

impl BrokenReason {
    pub fn describe(&self) -> String {
        match self {
            BrokenReason::Gap { expected_id } => {
                format!("records missing: expected id {expected_id}")
            }
            BrokenReason::PrevHashMismatch => {
                "previous-hash link does not match the record before".into()
            }
            BrokenReason::HashMismatch => "content does not match its hash (altered)".into(),
            BrokenReason::Unreadable { why } => format!("unreadable: {why}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub record_id: i64,
    #[serde(flatten)]
    pub reason: BrokenReason,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    /// Records checked, up to and including a broken one.
    pub records_checked: u64,
    /// Hash of the last good record (hex), to compare with a published anchor.
    pub head_hash_hex: String,
    pub first_broken: Option<BrokenLink>,
}

impl AuditReport {
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Verify the whole chain, read in chunks of [`VERIFY_CHUNK`] records so that memory stays
/// flat however long the log is. `read(after, limit)` returns the records with an id above
/// `after`, by id, at most `limit`: each with its id, read or the reason it could not be.
pub fn verify_in_chunks(
    mut read: impl FnMut(i64, i64) -> Result<Vec<(i64, Result<AuditRecord, String>)>, crate::StoreError>,
) -> Result<AuditReport, crate::StoreError> {
    let mut verifier = ChainVerifier::default();
    let mut after = 0i64;
    loop {
        let chunk = read(after, VERIFY_CHUNK)?;
        let n = chunk.len() as i64;
        for (id, rec) in chunk {
            after = id;
            match rec {
                Ok(rec) => {
                    if !verifier.check(&rec) {
                        return Ok(verifier.finish());
                    }
                }
                Err(why) => {
                    verifier.unreadable(id, why);
                    return Ok(verifier.finish());
                }
            }
        }
        if n < VERIFY_CHUNK {
            return Ok(verifier.finish());
        }
    }
}

/// Records per read of [`verify_in_chunks`].
pub const VERIFY_CHUNK: i64 = 10_000;

impl AuditRecord {
    /// A record from its stored columns; `Err` when a hash is not 32 bytes.
    #[allow(clippy::too_many_arguments)]
    pub fn from_columns(
        id: i64,
        at_ms: i64,
        actor: String,
        action: String,
        subject: String,
        detail: String,
        prev_hash: Vec<u8>,
        hash: Vec<u8>,
    ) -> Result<AuditRecord, String> {
        let hash32 = |v: Vec<u8>| -> Result<[u8; 32], String> {
            v.try_into()
                .map_err(|v: Vec<u8>| format!("hash of {} bytes", v.len()))
        };
        Ok(AuditRecord {
            id,
            at_ms,
            actor,
            action,
            subject,
            detail,
            prev_hash: hash32(prev_hash)?,
            hash: hash32(hash)?,
        })
    }
}

/// Walks records in id order; stops at the first broken link.
#[derive(Debug)]
pub struct ChainVerifier {
    head: ChainHead,
    checked: u64,
    broken: Option<BrokenLink>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier {
            head: ChainHead::EMPTY,
            checked: 0,
            broken: None,
        }
    }
}

impl ChainVerifier {
    /// Check the next record; returns `false` once a link is broken (stop reading).
    pub fn check(&mut self, rec: &AuditRecord) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        let expected_id = self.head.last_id + 1;
        let reason = if rec.id != expected_id {
            Some(BrokenReason::Gap { expected_id })
        } else if rec.prev_hash != self.head.last_hash {
            Some(BrokenReason::PrevHashMismatch)
        } else {
            let canonical = canonical_bytes(
                rec.id,
                rec.at_ms,
                &rec.actor,
                &rec.action,
                &rec.subject,
                &rec.detail,
            );
            (chain_hash(&rec.prev_hash, &canonical) != rec.hash)
                .then_some(BrokenReason::HashMismatch)
        };
        match reason {
            Some(reason) => {
                self.broken = Some(BrokenLink {
                    record_id: rec.id,
                    reason,
                });
                false
            }
            None => {
                self.head = ChainHead {
                    last_id: rec.id,
                    last_hash: rec.hash,
                };
                true
            }
        }
    }

    /// Record a row that could not even be read.
    pub fn unreadable(&mut self, record_id: i64, why: String) {
        if self.broken.is_none() {
            self.checked += 1;
            self.broken = Some(BrokenLink {
                record_id,
                reason: BrokenReason::Unreadable { why },
            });
        }
    }

    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    pub fn finish(self) -> AuditReport {
        AuditReport {
            records_checked: self.checked,
            head_hash_hex: hex(&self.head.last_hash),
            first_broken: self.broken,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: usize) -> Vec<AuditRecord> {
        let mut head = ChainHead::EMPTY;
        (0..n)
            .map(|i| {
                head.next(
                    i as i64,
                    "system:test",
                    "append",
                    "declaration:1",
                    format!("{{\"i\":{i}}}"),
                )
            })
            .collect()
    }

    fn verify(records: &[AuditRecord]) -> AuditReport {
        let mut v = ChainVerifier::default();
        for r in records {
            if !v.check(r) {
                break;
            }
        }
        v.finish()
    }

    #[test]
    fn an_intact_chain_verifies() {
        let r = verify(&chain(5));
        assert_eq!((r.records_checked, r.first_broken), (5, None));
        assert_eq!(r.head_hash_hex.len(), 64);
    }

    #[test]
    fn altered_deleted_and_relinked_records_are_found() {
        let mut c = chain(5);
        c[2].detail = "{\"i\":99}".into();
        assert_eq!(
            verify(&c).first_broken,
            Some(BrokenLink {
                record_id: 3,
                reason: BrokenReason::HashMismatch
            })
        );

        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c).first_broken,
            Some(BrokenLink {
                record_id: 3,
                reason: BrokenReason::Gap { expected_id: 2 }
            })
        );

        // Rewriting a record and its own hash breaks the next link instead.
        let mut c = chain(5);
        c[2].detail = "{\"i\":99}".into();
        let canonical = canonical_bytes(
            c[2].id,
            c[2].at_ms,
            &c[2].actor,
            &c[2].action,
            &c[2].subject,
            &c[2].detail,
        );
        c[2].hash = chain_hash(&c[2].prev_hash, &canonical);
        assert_eq!(
            verify(&c).first_broken,
            Some(BrokenLink {
                record_id: 4,
                reason: BrokenReason::PrevHashMismatch
            })
        );
    }

    #[test]
    fn canonical_bytes_are_unambiguous() {
        // Moving a character from one field to the next changes the bytes.
        assert_ne!(
            canonical_bytes(1, 2, "ab", "c", "", ""),
            canonical_bytes(1, 2, "a", "bc", "", "")
        );
    }
}
