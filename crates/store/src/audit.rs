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
//! What the chain proves alone: a record changed, removed or inserted in the middle breaks it at
//! that point. What it cannot prove alone, since the links use no key: that the newest records
//! were not cut off, or that a record was not rewritten with every later hash recomputed.
//!
//! **Anchors** close both holes. The node signs the chain head with its key ([`HeadSigner`]:
//! customs' exchange key, SM2 or Ed25519) from time to time ([`AnchorRequest`], every second
//! while records come in): the signed head ([`SignedHead`]: record number, its hash, the time,
//! the key's name) is written as an audit record of its own ([`ANCHOR_ACTION`], signing the
//! record before it), and a second signature over that anchor record itself is handed back for
//! keeping outside the store (the head file of the data folder, an agency's copy). The verifier
//! ([`VerifyOptions`]) then checks every anchor record against the chain (its record number and
//! hash, and its signature when given the public keys), and the chain against heads kept outside:
//! a rewrite with recomputed hashes no longer matches the next anchor's signed hash; records cut
//! off leave the chain shorter than a head kept outside. Records written after the newest head
//! kept outside (at most one anchor period) are protected by the chain alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
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
    /// An anchor record does not sign the chain as it now is: a record after the last good
    /// anchor (`from_id` to `to_id`) was rewritten with the later hashes recomputed, or the
    /// anchor itself was altered.
    AnchorMismatch { from_id: i64, to_id: i64 },
    /// A signed head kept outside the store names this record with another hash: a record from
    /// `from_id` on (after the last good anchor) was rewritten and the later hashes recomputed.
    HeadMismatch { from_id: i64, signed_seq: i64 },
    /// A signature of an anchor (or of a head kept outside) does not verify with the known keys.
    BadSignature { why: String },
    /// A head signed at `signed_at_ms` and kept outside the store covers record `signed_seq`,
    /// but the chain ends before it: records were cut off from here on.
    Truncated { signed_seq: i64, signed_at_ms: i64 },
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
            BrokenReason::AnchorMismatch { from_id, to_id } => format!(
                "the signed anchor does not match the chain: a record from {from_id} to {to_id} was rewritten (later hashes recomputed) or the anchor altered"
            ),
            BrokenReason::HeadMismatch { from_id, signed_seq } => format!(
                "the head signed at record {signed_seq} does not match the chain: a record from {from_id} to {signed_seq} was rewritten (later hashes recomputed)"
            ),
            BrokenReason::BadSignature { why } => format!("signature does not verify: {why}"),
            BrokenReason::Truncated { signed_seq, signed_at_ms } => format!(
                "records cut off: a head signed at {} covers record {signed_seq}, the chain ends before it",
                chrono::DateTime::from_timestamp_millis(*signed_at_ms)
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| signed_at_ms.to_string())
            ),
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
    /// Anchor records found in the chain and checked against it.
    pub anchors_checked: u64,
    /// Whether the anchors' signatures were checked (public keys given).
    pub signatures_checked: bool,
    /// The highest record number a verified signature covers (an anchor or a head kept
    /// outside); records after it rest on the chain alone.
    pub anchored_through: i64,
    /// The Merkle tree's right edge over the records checked (when intact: all of them), so
    /// that a node verifying its chain at start hands its writer the tree instead of having the
    /// first anchor read every record hash again ([`crate::audit_tree::TreeCache`]).
    #[serde(skip)]
    pub tree: crate::audit_tree::Frontier,
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
    options: &VerifyOptions,
    mut read: impl FnMut(i64, i64) -> Result<Vec<(i64, Result<AuditRecord, String>)>, crate::StoreError>,
) -> Result<AuditReport, crate::StoreError> {
    let mut verifier = ChainVerifier::with(options);
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
pub struct ChainVerifier {
    head: ChainHead,
    checked: u64,
    broken: Option<BrokenLink>,
    verifier: Option<Arc<dyn HeadVerifier>>,
    /// Heads kept outside the store, by the record they sign.
    outside: BTreeMap<i64, SignedHead>,
    anchors: u64,
    /// The last record a good signature covers (0: none).
    anchored_through: i64,
    /// The last record an anchor consistent with the chain names (signature checked or not).
    last_anchor_seq: i64,
    /// The Merkle tree over the records checked so far, for the roots heads sign.
    tree: crate::audit_tree::Frontier,
}

impl std::fmt::Debug for ChainVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainVerifier")
            .field("head", &self.head)
            .field("checked", &self.checked)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Default for ChainVerifier {
    fn default() -> Self {
        ChainVerifier::with(&VerifyOptions::default())
    }
}

impl ChainVerifier {
    /// A verifier that also checks anchors and the heads kept outside the store.
    pub fn with(options: &VerifyOptions) -> ChainVerifier {
        let mut outside = BTreeMap::new();
        for h in &options.heads {
            // Of two heads for one record, keep both checks: the first one that fails reports.
            outside.entry(h.seq).or_insert_with(|| h.clone());
        }
        ChainVerifier {
            head: ChainHead::EMPTY,
            checked: 0,
            broken: None,
            verifier: options.verifier.clone(),
            outside,
            anchors: 0,
            anchored_through: 0,
            last_anchor_seq: 0,
            tree: crate::audit_tree::Frontier::new(),
        }
    }

    /// Whether a head's Merkle root (if it carries one) is the root of the tree as checked so
    /// far.
    fn root_matches(&self, signed: &SignedHead) -> bool {
        match signed.root_bytes() {
            Ok(None) => true,
            Ok(Some(root)) => root == self.tree.root(),
            Err(_) => false,
        }
    }

    /// What is wrong with an anchor record, if anything (its links are already checked).
    fn check_anchor(&mut self, rec: &AuditRecord) -> Option<BrokenReason> {
        let from_id = self.last_anchor_seq + 1;
        let mismatch = BrokenReason::AnchorMismatch {
            from_id,
            to_id: rec.id - 1,
        };
        let Ok(signed) = serde_json::from_str::<SignedHead>(&rec.detail) else {
            return Some(mismatch);
        };
        if signed.seq != rec.id - 1
            || !signed.hash.eq_ignore_ascii_case(&hex(&rec.prev_hash))
            || !self.root_matches(&signed)
        {
            return Some(mismatch);
        }
        if let Some(v) = &self.verifier {
            if let Err(why) = signed.check(v.as_ref()) {
                return Some(BrokenReason::BadSignature {
                    why: format!("anchor of record {}: {why}", signed.seq),
                });
            }
            self.anchored_through = signed.seq;
        }
        self.last_anchor_seq = signed.seq;
        self.anchors += 1;
        None
    }

    /// What is wrong with a record that a head kept outside signs, if anything.
    fn check_outside(&mut self, rec: &AuditRecord) -> Option<BrokenReason> {
        let signed = self.outside.remove(&rec.id)?;
        if !signed.hash.eq_ignore_ascii_case(&hex(&rec.hash)) || !self.root_matches(&signed) {
            return Some(BrokenReason::HeadMismatch {
                from_id: self.last_anchor_seq + 1,
                signed_seq: signed.seq,
            });
        }
        if let Some(v) = &self.verifier {
            if let Err(why) = signed.check(v.as_ref()) {
                return Some(BrokenReason::BadSignature {
                    why: format!("head of record {} kept outside: {why}", signed.seq),
                });
            }
            self.anchored_through = rec.id;
        }
        self.last_anchor_seq = rec.id;
        None
    }

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
        let reason = reason
            .or_else(|| {
                (rec.action == ANCHOR_ACTION)
                    .then(|| self.check_anchor(rec))
                    .flatten()
            })
            .or_else(|| {
                // The anchor signs the tree before this record; a head kept outside, the tree
                // with it.
                self.tree.push_record(&rec.hash);
                self.check_outside(rec)
            });
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

    pub fn finish(mut self) -> AuditReport {
        if self.broken.is_none() {
            // A head kept outside beyond the end of the chain: records were cut off.
            if let Some((_, signed)) = self.outside.pop_last() {
                self.broken = Some(BrokenLink {
                    record_id: self.head.last_id + 1,
                    reason: BrokenReason::Truncated {
                        signed_seq: signed.seq,
                        signed_at_ms: signed.at_ms,
                    },
                });
            }
        }
        AuditReport {
            records_checked: self.checked,
            head_hash_hex: hex(&self.head.last_hash),
            first_broken: self.broken,
            anchors_checked: self.anchors,
            signatures_checked: self.verifier.is_some(),
            anchored_through: self.anchored_through,
            tree: self.tree,
        }
    }
}

/// The action of an anchor record: its detail is the [`SignedHead`] of the record before it.
pub const ANCHOR_ACTION: &str = "anchor_head";

/// The domain separator that opens the signed bytes of a head.
pub const HEAD_CONTEXT: &[u8] = b"jinguan.audit-head.v1";
/// … of a head that also signs the Merkle root of the records it covers.
pub const HEAD_CONTEXT_V2: &[u8] = b"jinguan.audit-head.v2";

/// Signs chain heads with the node's key. Implemented at the edge (`app::anchor`, over the
/// exchange's SM2 or Ed25519 keys), so the store holds no key material of its own.
pub trait HeadSigner: Send + Sync {
    /// The key's name, `ALGORITHM AGENCY KEY_ID` (e.g. `SM2-SM3 CUSTOMS customs-2026-1`).
    fn key_name(&self) -> String;
    fn sign(&self, message: &[u8]) -> Vec<u8>;
}

/// Checks a head's signature with the public key its name gives; `Err(why)` when it does not
/// verify or the key is unknown.
pub trait HeadVerifier: Send + Sync {
    fn verify(&self, key_name: &str, message: &[u8], signature: &[u8]) -> Result<(), String>;
}

/// A signed chain head: record `seq` has hash `hash`. The JSON of an anchor record's detail and
/// of the head file kept outside the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedHead {
    pub seq: i64,
    /// The record's hash, hex.
    pub hash: String,
    pub at_ms: i64,
    /// `ALGORITHM AGENCY KEY_ID`.
    pub key: String,
    /// Hex.
    pub signature: String,
    /// The root (hex) of the Merkle tree over records 1..=`seq` ([`crate::audit_tree`]): the
    /// tree size is `seq`. Absent in heads signed before roots were added; when present it is
    /// signed too ([`HEAD_CONTEXT_V2`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

impl SignedHead {
    /// The bytes signed: the context, then `seq`, `hash` (32 bytes), `at_ms` and the key's name,
    /// length-prefixed like [`canonical_bytes`].
    ///
    /// With a Merkle root (a head of tree size `seq`), the context is [`HEAD_CONTEXT_V2`] and
    /// the 32 bytes of the root follow the key's name.
    pub fn message(
        seq: i64,
        hash: &[u8; 32],
        at_ms: i64,
        key: &str,
        root: Option<&[u8; 32]>,
    ) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEAD_CONTEXT_V2.len() + 88 + key.len());
        out.extend_from_slice(if root.is_some() {
            HEAD_CONTEXT_V2
        } else {
            HEAD_CONTEXT
        });
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(hash);
        out.extend_from_slice(&at_ms.to_be_bytes());
        let len = u32::try_from(key.len()).expect("a key name is short");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(key.as_bytes());
        if let Some(root) = root {
            out.extend_from_slice(root);
        }
        out
    }

    /// Sign record `seq`'s hash and, given one, the Merkle root of records 1..=`seq`.
    pub fn sign(
        seq: i64,
        hash: &[u8; 32],
        root: Option<&[u8; 32]>,
        at_ms: i64,
        signer: &dyn HeadSigner,
    ) -> SignedHead {
        let key = signer.key_name();
        let signature = signer.sign(&SignedHead::message(seq, hash, at_ms, &key, root));
        SignedHead {
            seq,
            hash: hex(hash),
            at_ms,
            key,
            signature: hex(&signature),
            root: root.map(|r| hex(r)),
        }
    }

    /// The Merkle root, if the head carries one; `Err` when it is not 32 bytes of hex.
    pub fn root_bytes(&self) -> Result<Option<[u8; 32]>, String> {
        self.root
            .as_deref()
            .map(|r| {
                unhex(r)
                    .and_then(|h| h.try_into().ok())
                    .ok_or_else(|| "the root is not 32 bytes of hex".to_owned())
            })
            .transpose()
    }

    /// Check the signature with `verifier`.
    pub fn check(&self, verifier: &dyn HeadVerifier) -> Result<(), String> {
        let hash: [u8; 32] = unhex(&self.hash)
            .and_then(|h| h.try_into().ok())
            .ok_or("the hash is not 32 bytes of hex")?;
        let root = self.root_bytes()?;
        let signature = unhex(&self.signature).ok_or("the signature is not hex")?;
        verifier.verify(
            &self.key,
            &SignedHead::message(self.seq, &hash, self.at_ms, &self.key, root.as_ref()),
            &signature,
        )
    }
}

/// Bytes of a lower-case or upper-case hex string; `None` if it is not one.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// What to check beyond the links: the heads kept outside the store and, given the public
/// keys, every signature.
#[derive(Clone, Default)]
pub struct VerifyOptions {
    pub heads: Vec<SignedHead>,
    pub verifier: Option<Arc<dyn HeadVerifier>>,
}

/// Sign the chain head in the writer (an anchor record), unless nothing was written since the
/// record `unless_at` (the caller's last anchor) or the chain is empty.
#[derive(Clone)]
pub struct AnchorRequest {
    pub signer: Arc<dyn HeadSigner>,
    pub unless_at: i64,
    pub actor: clearance::Actor,
    pub now: chrono::DateTime<chrono::Utc>,
    /// The Merkle tree's right edge kept between anchors ([`crate::audit_tree::TreeCache`]): the
    /// writer extends it with the records since, so that signing a root costs the new records
    /// only, not the whole log.
    pub tree: Arc<crate::audit_tree::TreeCache>,
    /// Agencies (sorted, distinct codes) to send the new head to over the exchange, as an
    /// [`AUDIT_HEAD_KIND`] outbox row written with the anchor; empty: not this time.
    pub publish_to: Vec<String>,
}

/// The exchange message kind of a published head (`exchange::message::AuditHeadPublishedV1`).
pub const AUDIT_HEAD_KIND: &str = "audit_head_published.v1";

/// Whether there is something new to sign (the chain is not empty, and grew since `unless_at`).
pub fn anchor_due(head: &ChainHead, req: &AnchorRequest) -> bool {
    head.last_id != 0 && head.last_id != req.unless_at
}

/// The anchor record to write for `head`, as (subject, detail), signing the head's hash and the
/// root of `tree` (the frontier over records 1..=`head.last_id`); `None` when there is nothing
/// new to sign. Both backends write it with their `audit` and then call [`anchored`].
pub fn anchor_record(
    head: &ChainHead,
    req: &AnchorRequest,
    tree: &crate::audit_tree::Frontier,
) -> Option<(String, String)> {
    if !anchor_due(head, req) {
        return None;
    }
    assert_eq!(
        tree.size() as i64,
        head.last_id,
        "the Merkle frontier covers the chain"
    );
    let signed = SignedHead::sign(
        head.last_id,
        &head.last_hash,
        Some(&tree.root()),
        crate::to_ms(req.now),
        req.signer.as_ref(),
    );
    Some((
        format!("audit:{}", head.last_id),
        serde_json::to_string(&signed).expect("a signed head serializes"),
    ))
}

/// Once the anchor record is written (`head` now ends with it): the head to keep outside the
/// store, a signature over the anchor record itself and the root including it, so that cutting
/// it off is seen too; and the outbox row that publishes it when `req.publish_to` names
/// agencies. The extended frontier is kept in `req.tree` for the next anchor.
pub fn anchored(
    head: &ChainHead,
    req: &AnchorRequest,
    mut tree: crate::audit_tree::Frontier,
) -> (SignedHead, Option<crate::outbox::OutboxMessage>) {
    tree.push_record(&head.last_hash);
    assert_eq!(
        tree.size() as i64,
        head.last_id,
        "the anchor record is the last leaf"
    );
    let signed = SignedHead::sign(
        head.last_id,
        &head.last_hash,
        Some(&tree.root()),
        crate::to_ms(req.now),
        req.signer.as_ref(),
    );
    req.tree.set(tree);
    let message = (!req.publish_to.is_empty()).then(|| crate::outbox::OutboxMessage {
        kind: AUDIT_HEAD_KIND.to_owned(),
        recipients: req.publish_to.clone(),
        created_at: req.now,
        payload: serde_json::to_vec(&signed).expect("a signed head serializes"),
    });
    (signed, message)
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

    /// A keyed SHA-256 standing in for the node's key: the store only needs a signature that
    /// someone without the key cannot make (the real keys are `exchange`'s, tested there).
    struct TestKey(&'static [u8]);

    impl HeadSigner for TestKey {
        fn key_name(&self) -> String {
            "TEST CUSTOMS test-1".into()
        }
        fn sign(&self, message: &[u8]) -> Vec<u8> {
            let mut h = Sha256::new();
            h.update(self.0);
            h.update(message);
            h.finalize().to_vec()
        }
    }

    impl HeadVerifier for TestKey {
        fn verify(&self, key: &str, message: &[u8], signature: &[u8]) -> Result<(), String> {
            if key != self.key_name() {
                return Err(format!("unknown key {key}"));
            }
            (self.sign(message) == signature)
                .then_some(())
                .ok_or_else(|| "bad signature".to_owned())
        }
    }

    const KEY: TestKey = TestKey(b"the node's secret");

    fn anchor_req(unless_at: i64) -> AnchorRequest {
        AnchorRequest {
            signer: Arc::new(KEY),
            unless_at,
            actor: clearance::Actor::System {
                component: "anchor".into(),
            },
            now: chrono::DateTime::from_timestamp_millis(1_700_000_000_000).unwrap(),
            tree: Arc::new(crate::audit_tree::TreeCache::new()),
            publish_to: vec![],
        }
    }

    /// `n` records with an anchor after every 10th; the head kept outside after the last anchor.
    fn anchored_chain(n: usize) -> (Vec<AuditRecord>, SignedHead) {
        let mut head = ChainHead::EMPTY;
        let mut tree = crate::audit_tree::Frontier::new();
        let mut out = Vec::new();
        let mut outside = None;
        for i in 0..n {
            let rec = head.next(
                i as i64,
                "system:test",
                "append",
                "declaration:1",
                format!("{{\"i\":{i}}}"),
            );
            tree.push_record(&rec.hash);
            out.push(rec);
            if (i + 1) % 10 == 0 || i + 1 == n {
                let req = anchor_req(0);
                let (subject, detail) = anchor_record(&head, &req, &tree).unwrap();
                let before = tree.clone();
                let rec = head.next(0, "system", ANCHOR_ACTION, &subject, detail);
                tree.push_record(&rec.hash);
                out.push(rec);
                let (signed, message) = anchored(&head, &req, before);
                assert_eq!(message, None, "nothing to publish to");
                assert_eq!(
                    req.tree.get(),
                    tree,
                    "the cache holds the tree with the anchor"
                );
                outside = Some(signed);
            }
        }
        (out, outside.unwrap())
    }

    fn frontier_of(records: &[AuditRecord]) -> crate::audit_tree::Frontier {
        let mut f = crate::audit_tree::Frontier::new();
        for r in records {
            f.push_record(&r.hash);
        }
        f
    }

    #[test]
    fn heads_sign_the_merkle_root_of_the_records_they_cover() {
        let (c, head) = anchored_chain(25);
        let leaves: Vec<_> = c
            .iter()
            .map(|r| crate::audit_tree::leaf_hash(&r.hash))
            .collect();
        assert_eq!(
            head.root,
            Some(hex(&crate::audit_tree::root(&leaves))),
            "the outside head: the root of every record, its anchor's included"
        );
        for r in c.iter().filter(|r| r.action == ANCHOR_ACTION) {
            let signed: SignedHead = serde_json::from_str(&r.detail).unwrap();
            let n = signed.seq as usize;
            assert_eq!(
                signed.root,
                Some(hex(&crate::audit_tree::root(&leaves[..n])))
            );
        }
        // A root that is not the tree's, even with the right record hash, breaks the anchor.
        let mut forged = c.clone();
        let at = forged
            .iter()
            .position(|r| r.action == ANCHOR_ACTION)
            .unwrap();
        let mut signed: SignedHead = serde_json::from_str(&forged[at].detail).unwrap();
        signed.root = Some(hex(&[7; 32]));
        let id = forged[at].id;
        rewrite(&mut forged, id, &serde_json::to_string(&signed).unwrap());
        let r = verify_with(&forged, vec![]);
        assert_eq!(
            r.first_broken,
            Some(BrokenLink {
                record_id: id,
                reason: BrokenReason::AnchorMismatch {
                    from_id: 1,
                    to_id: id - 1
                }
            })
        );
        // Heads without a root (signed before roots) still verify.
        let old = SignedHead::sign(3, &c[2].hash, None, 0, &KEY);
        assert_eq!(old.root, None);
        assert!(!serde_json::to_string(&old).unwrap().contains("root"));
        assert!(verify_with(&c, vec![old]).is_intact());
        // … and a root cannot be added to one after signing.
        let mut grafted = SignedHead::sign(3, &c[2].hash, None, 0, &KEY);
        grafted.root = Some(hex(&crate::audit_tree::root(&leaves[..3])));
        assert!(grafted.check(&KEY).is_err());
    }

    #[test]
    fn a_published_head_is_an_outbox_row_to_the_agencies_named() {
        let (c, _) = anchored_chain(5);
        let head = ChainHead {
            last_id: c.len() as i64,
            last_hash: c[c.len() - 1].hash,
        };
        let mut req = anchor_req(0);
        req.publish_to = vec!["FOREX".into(), "TAX".into()];
        let (signed, message) = anchored(&head, &req, frontier_of(&c[..c.len() - 1]));
        let m = message.unwrap();
        assert_eq!(m.kind, AUDIT_HEAD_KIND);
        assert_eq!(m.recipients, ["FOREX", "TAX"]);
        let sent: SignedHead = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(sent, signed);
        sent.check(&KEY).unwrap();
    }

    fn verify_with(records: &[AuditRecord], heads: Vec<SignedHead>) -> AuditReport {
        let options = VerifyOptions {
            heads,
            verifier: Some(Arc::new(KEY)),
        };
        let mut v = ChainVerifier::with(&options);
        for r in records {
            if !v.check(r) {
                break;
            }
        }
        v.finish()
    }

    /// Rewrite record `id` and recompute every later hash, as someone with write access to the
    /// table but without the key would.
    fn rewrite(records: &mut [AuditRecord], id: i64, detail: &str) {
        let mut prev = GENESIS;
        for r in records.iter_mut() {
            if r.id == id {
                r.detail = detail.into();
            }
            r.prev_hash = prev;
            r.hash = chain_hash(
                &prev,
                &canonical_bytes(r.id, r.at_ms, &r.actor, &r.action, &r.subject, &r.detail),
            );
            prev = r.hash;
        }
    }

    #[test]
    fn an_anchored_chain_verifies_against_its_head() {
        let (c, head) = anchored_chain(95);
        assert_eq!(c.len(), 95 + 10);
        let r = verify_with(&c, vec![head.clone()]);
        assert!(r.is_intact(), "{r:?}");
        assert_eq!((r.anchors_checked, r.anchored_through), (10, 105));
        assert!(r.signatures_checked);
        assert_eq!(head.seq, 105);
    }

    #[test]
    fn cutting_off_the_last_1_50_or_all_records_is_found_against_the_head() {
        let (c, head) = anchored_chain(95);
        for cut in [1, 50, c.len()] {
            let kept = &c[..c.len() - cut];
            let r = verify_with(kept, vec![head.clone()]);
            assert_eq!(
                r.first_broken,
                Some(BrokenLink {
                    record_id: (c.len() - cut) as i64 + 1,
                    reason: BrokenReason::Truncated {
                        signed_seq: 105,
                        signed_at_ms: 1_700_000_000_000
                    }
                }),
                "cut {cut}"
            );
            // Without the head kept outside, the chain alone cannot see it (why anchors exist).
            assert!(verify(kept).is_intact());
        }
    }

    #[test]
    fn a_rewrite_with_recomputed_hashes_is_found_at_the_next_anchor() {
        let (mut c, head) = anchored_chain(95);
        // Record 500's analogue: record 25 (between the anchors at 23 and 34).
        rewrite(&mut c, 25, "{\"i\":\"forged\"}");
        let r = verify_with(&c, vec![head.clone()]);
        let b = r.first_broken.unwrap();
        assert_eq!(b.record_id, 33, "the anchor after the rewritten record");
        assert_eq!(
            b.reason,
            BrokenReason::AnchorMismatch {
                from_id: 22,
                to_id: 32
            }
        );
        // The links alone, anchors ignored, are fooled: that is the hole anchors close.
        let plain: Vec<AuditRecord> = c
            .iter()
            .cloned()
            .map(|mut r| {
                r.action = "append".into();
                r
            })
            .collect();
        let mut relinked = plain;
        rewrite(&mut relinked, 25, "{\"i\":\"forged\"}");
        assert!(verify(&relinked).is_intact());

        // Re-signing the anchors with another key does not help.
        let (mut c, _) = anchored_chain(95);
        let forger = TestKey(b"someone else");
        for r in c.iter_mut() {
            if r.action == ANCHOR_ACTION {
                r.detail = "x".into(); // replaced below
            }
        }
        // Recompute the chain, re-signing every anchor over the recomputed hashes.
        let mut prev = GENESIS;
        for r in c.iter_mut() {
            if r.id == 25 {
                r.detail = "{\"i\":\"forged\"}".into();
            }
            if r.action == ANCHOR_ACTION {
                let s = SignedHead::sign(r.id - 1, &prev, None, 0, &forger);
                r.detail = serde_json::to_string(&s).unwrap();
            }
            r.prev_hash = prev;
            r.hash = chain_hash(
                &prev,
                &canonical_bytes(r.id, r.at_ms, &r.actor, &r.action, &r.subject, &r.detail),
            );
            prev = r.hash;
        }
        let r = verify_with(&c, vec![]);
        let b = r.first_broken.unwrap();
        assert_eq!(b.record_id, 11, "the first re-signed anchor");
        assert!(
            matches!(b.reason, BrokenReason::BadSignature { .. }),
            "{b:?}"
        );
        // … and the head kept outside names another hash for its record anyway.
        let r = verify_with(&c, vec![head]);
        assert!(!r.is_intact());
    }

    #[test]
    fn the_head_kept_outside_catches_a_rewrite_after_the_last_anchor_in_the_store() {
        let (mut c, head) = anchored_chain(95);
        // Rewrite the last anchor record itself (and so its hash): only the outside head sees it.
        let last = c.len() as i64;
        let altered = c[c.len() - 1]
            .detail
            .replace("\"at_ms\":1700000000000", "\"at_ms\":1700000000000 ");
        rewrite(&mut c, last, &altered);
        let r = verify_with(&c, vec![head]);
        assert_eq!(
            r.first_broken.map(|b| b.reason),
            Some(BrokenReason::HeadMismatch {
                from_id: 105,
                signed_seq: 105
            })
        );
    }

    #[test]
    fn an_anchor_is_written_only_when_something_new_is_there_to_sign() {
        let empty = crate::audit_tree::Frontier::new();
        assert_eq!(
            anchor_record(&ChainHead::EMPTY, &anchor_req(0), &empty),
            None
        );
        let (c, _) = anchored_chain(5);
        let head = ChainHead {
            last_id: c.len() as i64,
            last_hash: c[c.len() - 1].hash,
        };
        let tree = frontier_of(&c);
        assert_eq!(anchor_record(&head, &anchor_req(head.last_id), &tree), None);
        assert!(anchor_record(&head, &anchor_req(head.last_id - 1), &tree).is_some());
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
