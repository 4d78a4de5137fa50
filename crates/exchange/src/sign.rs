//! Signatures: every envelope is signed by its sender and verified on receipt.
//!
//! - [`Algorithm::Sm2Sm3`] (the default): SM2 digital signature with SM3 (GB/T 32918.2),
//!   the distinguishing identifier being the default `1234567812345678` of GB/T 35276 /
//!   GM/T 0009 ([`SM2_DISTID`]), signature encoded as r‖s (64 bytes, big-endian), public
//!   keys as SEC1 uncompressed points (`04‖x‖y`, 65 bytes). This is what Python's `gmssl`
//!   (`sign_with_sm3` / `verify_with_sm3`, `asn1=False`) produces and accepts.
//! - [`Algorithm::Ed25519`] (RFC 8032), verified strictly (`verify_strict`).
//!
//! What is signed is [`signing_bytes`]: every field of the envelope but the signature value,
//! length-prefixed, the algorithm and key id included so that a signature cannot be moved to
//! another algorithm or key. Two envelope versions:
//! - version 1, [`sign`]: one signature over the envelope's signing bytes;
//! - version 2, [`sign_batch`]: the signing bytes of each envelope of a batch are the leaves of
//!   a Merkle tree ([`crate::batch`]), one signature covers the root (with sender, algorithm,
//!   key id and batch size), and each envelope carries that signature and its inclusion proof.
//!   [`verify`] walks the proof to the root and checks the signature; [`verify_cached`] checks
//!   each batch signature once.
//!
//! Both algorithms sign deterministically (SM2 with RFC 6979 nonces), so signing the same
//! outbox row again (version 1), or the same batch of rows again (version 2), gives the same
//! bytes.
//!
//! Keys live in text files at the edge, one key per line: `ALGORITHM AGENCY KEY_ID HEX`
//! ([`SigningKey::from_line`], [`KeyRing::parse`]); [`SigningKey::generate`] makes new ones.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::batch::{self, BatchCache, BatchProof};
use crate::message::{
    timestamp_text, Agency, Envelope, MessageError, SignatureField, ENVELOPE_VERSION_BATCH,
    ENVELOPE_VERSION_SINGLE,
};

/// The default SM2 distinguishing identifier (ID_A), "1234567812345678", ENTL_A = 128 bits.
pub const SM2_DISTID: &str = "1234567812345678";

/// The domain separator that opens the signed bytes.
pub const SIGNING_CONTEXT: &[u8] = b"jinguan.exchange.v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    #[serde(rename = "SM2-SM3")]
    Sm2Sm3,
    #[serde(rename = "Ed25519")]
    Ed25519,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sm2Sm3 => "SM2-SM3",
            Algorithm::Ed25519 => "Ed25519",
        }
    }
    pub fn parse(s: &str) -> Option<Algorithm> {
        match s {
            "SM2-SM3" => Some(Algorithm::Sm2Sm3),
            "Ed25519" => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name of one key of an agency, `customs-2026-1`. Keys rotate: a ring holds old and new.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct KeyId(String);

impl KeyId {
    pub fn parse(s: &str) -> Result<KeyId, MessageError> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(KeyId(s.to_owned()))
        } else {
            Err(MessageError::KeyId(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}
impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        KeyId::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("line {line}: expected `ALGORITHM AGENCY KEY_ID HEX`")]
    Shape { line: usize },
    #[error("line {line}: unknown algorithm {found:?} (SM2-SM3 or Ed25519)")]
    Algorithm { line: usize, found: String },
    #[error("line {line}: {source}")]
    Field { line: usize, source: MessageError },
    #[error("line {line}: key material is not valid hex or not a valid {algorithm} key")]
    Material { line: usize, algorithm: Algorithm },
    #[error("line {line}: key id {key_id} appears twice")]
    Duplicate { line: usize, key_id: KeyId },
    #[error("line {line}: {detail} (validity is `from=RFC3339` and/or `until=RFC3339`, from before until)")]
    Validity { line: usize, detail: String },
    #[error("the system random source failed")]
    Random,
}

/// Why a message was refused. Each is logged with the message id; none is retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("unsigned")]
    Unsigned,
    #[error("unknown key {key_id}")]
    UnknownKey { key_id: KeyId },
    #[error("key {key_id} belongs to {owner}, not to the sender {sender}")]
    KeyNotSender {
        key_id: KeyId,
        owner: Agency,
        sender: Agency,
    },
    #[error("key {key_id} is {expected}, the message says {found}")]
    WrongAlgorithm {
        key_id: KeyId,
        expected: Algorithm,
        found: Algorithm,
    },
    #[error("signature value is not {0} bytes")]
    Malformed(usize),
    #[error("signature does not match (content altered or forged)")]
    BadSignature,
    #[error("batch proof: {0}")]
    BadProof(String),
    #[error("key {key_id} is not valid at the message's time {at}")]
    KeyNotValid { key_id: KeyId, at: String },
}

impl VerifyError {
    /// A stable code for logs and the refused log.
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Unsigned => "unsigned",
            VerifyError::UnknownKey { .. } => "unknown_key",
            VerifyError::KeyNotSender { .. } => "key_not_sender",
            VerifyError::WrongAlgorithm { .. } => "wrong_algorithm",
            VerifyError::Malformed(_) => "malformed_signature",
            VerifyError::BadSignature => "bad_signature",
            VerifyError::BadProof(_) => "bad_proof",
            VerifyError::KeyNotValid { .. } => "key_not_valid",
        }
    }
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    let len = u32::try_from(field.len()).expect("fields are bounded far below 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}

/// The bytes a signature covers: [`SIGNING_CONTEXT`], then each field as a 4-byte big-endian
/// length and its bytes: version (decimal), id, kind, sender, recipients (joined by `,`),
/// created_at (RFC 3339, milliseconds, `Z`), algorithm, key id, payload.
pub fn signing_bytes(envelope: &Envelope, algorithm: Algorithm, key_id: &KeyId) -> Vec<u8> {
    let mut out = Vec::with_capacity(envelope.payload.len() + 256);
    put(&mut out, SIGNING_CONTEXT);
    put(&mut out, envelope.version.to_string().as_bytes());
    put(&mut out, envelope.id.to_string().as_bytes());
    put(&mut out, envelope.kind.as_str().as_bytes());
    put(&mut out, envelope.sender.as_str().as_bytes());
    let recipients: Vec<&str> = envelope.recipients.iter().map(Agency::as_str).collect();
    put(&mut out, recipients.join(",").as_bytes());
    put(&mut out, timestamp_text(&envelope.created_at).as_bytes());
    put(&mut out, algorithm.as_str().as_bytes());
    put(&mut out, key_id.as_str().as_bytes());
    put(&mut out, &envelope.payload);
    out
}

enum Secret {
    Sm2(Box<sm2::dsa::SigningKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// An agency's private key. Its Debug shows no key material.
pub struct SigningKey {
    agency: Agency,
    key_id: KeyId,
    secret: Secret,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({} {} {})",
            self.algorithm(),
            self.agency,
            self.key_id
        )
    }
}

fn random32() -> Result<[u8; 32], KeyError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|_| KeyError::Random)?;
    Ok(b)
}

impl SigningKey {
    /// A new key from the system's random source.
    pub fn generate(
        algorithm: Algorithm,
        agency: Agency,
        key_id: KeyId,
    ) -> Result<SigningKey, KeyError> {
        loop {
            let bytes = random32()?;
            // An SM2 secret must be in [1, n-2]; a random 256-bit value misses that about
            // once in 2^32 tries, so draw again.
            if let Ok(k) = SigningKey::from_bytes(algorithm, agency.clone(), key_id.clone(), &bytes)
            {
                return Ok(k);
            }
        }
    }

    /// From the raw secret: SM2 the 32-byte big-endian scalar, Ed25519 the 32-byte seed.
    pub fn from_bytes(
        algorithm: Algorithm,
        agency: Agency,
        key_id: KeyId,
        bytes: &[u8],
    ) -> Result<SigningKey, KeyError> {
        let bad = KeyError::Material { line: 0, algorithm };
        let secret = match algorithm {
            Algorithm::Sm2Sm3 => Secret::Sm2(Box::new(
                sm2::dsa::SigningKey::from_slice(SM2_DISTID, bytes).map_err(|_| bad)?,
            )),
            Algorithm::Ed25519 => {
                let seed: [u8; 32] = bytes.try_into().map_err(|_| bad)?;
                Secret::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
        };
        Ok(SigningKey {
            agency,
            key_id,
            secret,
        })
    }

    /// From one line `ALGORITHM AGENCY KEY_ID SECRET_HEX` (the secret key file).
    pub fn from_line(text: &str) -> Result<SigningKey, KeyError> {
        let mut found = None;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if found.is_some() {
                return Err(KeyError::Shape { line: line_no });
            }
            let (algorithm, agency, key_id, material) = split_line(line, line_no)?;
            let key =
                SigningKey::from_bytes(algorithm, agency, key_id, &material).map_err(|_| {
                    KeyError::Material {
                        line: line_no,
                        algorithm,
                    }
                })?;
            found = Some(key);
        }
        found.ok_or(KeyError::Shape { line: 1 })
    }

    /// The secret key file line. Keep it out of logs.
    pub fn to_secret_line(&self) -> String {
        let secret = match &self.secret {
            Secret::Sm2(k) => hex::encode(k.to_bytes()),
            Secret::Ed25519(k) => hex::encode(k.to_bytes()),
        };
        format!(
            "{} {} {} {}",
            self.algorithm(),
            self.agency,
            self.key_id,
            secret
        )
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.secret {
            Secret::Sm2(_) => Algorithm::Sm2Sm3,
            Secret::Ed25519(_) => Algorithm::Ed25519,
        }
    }
    pub fn agency(&self) -> &Agency {
        &self.agency
    }
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    pub fn public_key(&self) -> PublicKey {
        match &self.secret {
            Secret::Sm2(k) => PublicKey::Sm2(Box::new(k.verifying_key().clone())),
            Secret::Ed25519(k) => PublicKey::Ed25519(Box::new(k.verifying_key())),
        }
    }

    /// The key ring line of the public half: `ALGORITHM AGENCY KEY_ID PUBLIC_HEX`.
    pub fn public_line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.algorithm(),
            self.agency,
            self.key_id,
            hex::encode(self.public_key().to_bytes())
        )
    }

    /// Sign arbitrary bytes (SM2: over Z_A ‖ bytes with SM3, as GB/T 32918.2 says).
    pub fn sign_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        match &self.secret {
            Secret::Sm2(k) => {
                use sm2::dsa::signature::Signer;
                let s: sm2::dsa::Signature = k.sign(bytes);
                s.to_bytes().to_vec()
            }
            Secret::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(bytes).to_bytes().to_vec()
            }
        }
    }
}

/// An agency's public key.
#[derive(Clone, Debug)]
pub enum PublicKey {
    Sm2(Box<sm2::dsa::VerifyingKey>),
    Ed25519(Box<ed25519_dalek::VerifyingKey>),
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &PublicKey) -> bool {
        self.algorithm() == other.algorithm() && self.to_bytes() == other.to_bytes()
    }
}
impl Eq for PublicKey {}

impl PublicKey {
    /// SM2: SEC1 point, uncompressed (65 bytes) or compressed (33); Ed25519: 32 bytes.
    pub fn from_bytes(algorithm: Algorithm, bytes: &[u8]) -> Option<PublicKey> {
        match algorithm {
            Algorithm::Sm2Sm3 => sm2::dsa::VerifyingKey::from_sec1_bytes(SM2_DISTID, bytes)
                .ok()
                .map(|k| PublicKey::Sm2(Box::new(k))),
            Algorithm::Ed25519 => {
                let b: [u8; 32] = bytes.try_into().ok()?;
                ed25519_dalek::VerifyingKey::from_bytes(&b)
                    .ok()
                    .map(|k| PublicKey::Ed25519(Box::new(k)))
            }
        }
    }
    pub fn algorithm(&self) -> Algorithm {
        match self {
            PublicKey::Sm2(_) => Algorithm::Sm2Sm3,
            PublicKey::Ed25519(_) => Algorithm::Ed25519,
        }
    }
    /// SM2: uncompressed SEC1 (`04‖x‖y`); Ed25519: 32 bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            PublicKey::Sm2(k) => k.to_sec1_bytes().to_vec(),
            PublicKey::Ed25519(k) => k.to_bytes().to_vec(),
        }
    }

    /// Verify a signature over arbitrary bytes.
    pub fn verify_bytes(&self, bytes: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
        if signature.len() != 64 {
            return Err(VerifyError::Malformed(64));
        }
        match self {
            PublicKey::Sm2(k) => {
                use sm2::dsa::signature::Verifier;
                let s = sm2::dsa::Signature::from_slice(signature)
                    .map_err(|_| VerifyError::BadSignature)?;
                k.verify(bytes, &s).map_err(|_| VerifyError::BadSignature)
            }
            PublicKey::Ed25519(k) => {
                let b: [u8; 64] = signature
                    .try_into()
                    .map_err(|_| VerifyError::Malformed(64))?;
                let s = ed25519_dalek::Signature::from_bytes(&b);
                k.verify_strict(bytes, &s)
                    .map_err(|_| VerifyError::BadSignature)
            }
        }
    }
}

fn split_line(line: &str, line_no: usize) -> Result<(Algorithm, Agency, KeyId, Vec<u8>), KeyError> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    let [algorithm, agency, key_id, material] = parts[..] else {
        return Err(KeyError::Shape { line: line_no });
    };
    let algorithm = Algorithm::parse(algorithm).ok_or_else(|| KeyError::Algorithm {
        line: line_no,
        found: algorithm.to_owned(),
    })?;
    let agency = Agency::parse(agency).map_err(|source| KeyError::Field {
        line: line_no,
        source,
    })?;
    let key_id = KeyId::parse(key_id).map_err(|source| KeyError::Field {
        line: line_no,
        source,
    })?;
    let material = hex::decode(material).map_err(|_| KeyError::Material {
        line: line_no,
        algorithm,
    })?;
    Ok((algorithm, agency, key_id, material))
}

/// When a key of a ring may sign: messages whose `created_at` is at or after `from` and before
/// `until` (either end open when absent).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validity {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

impl Validity {
    pub fn contains(&self, at: &DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| *at >= f) && self.until.is_none_or(|u| *at < u)
    }

    /// `from=RFC3339` and `until=RFC3339` tokens after a key ring line's four fields.
    fn parse(tokens: &[&str], line: usize) -> Result<Validity, KeyError> {
        let mut v = Validity::default();
        for t in tokens {
            let bad = |detail: String| KeyError::Validity { line, detail };
            let (name, value) = t
                .split_once('=')
                .ok_or_else(|| bad(format!("unexpected {t:?}")))?;
            let at = DateTime::parse_from_rfc3339(value)
                .map_err(|e| bad(format!("{name}: {e}")))?
                .with_timezone(&Utc);
            let slot = match name {
                "from" => &mut v.from,
                "until" => &mut v.until,
                _ => return Err(bad(format!("unknown field {name:?}"))),
            };
            if slot.replace(at).is_some() {
                return Err(bad(format!("{name} given twice")));
            }
        }
        if let (Some(f), Some(u)) = (v.from, v.until) {
            if f >= u {
                return Err(KeyError::Validity {
                    line,
                    detail: "from is not before until".into(),
                });
            }
        }
        Ok(v)
    }
}

/// The public keys a receiver trusts, each bound to the agency that owns it, each with the
/// period it may sign in (a rotation: the old key until a time, the new one from a time).
#[derive(Clone, Debug, Default)]
pub struct KeyRing {
    keys: HashMap<KeyId, (Agency, PublicKey)>,
    validity: HashMap<KeyId, Validity>,
}

impl KeyRing {
    pub fn new() -> KeyRing {
        KeyRing::default()
    }

    /// Add a key, valid at all times; a key id already present is replaced.
    pub fn insert(&mut self, agency: Agency, key_id: KeyId, key: PublicKey) {
        self.validity.remove(&key_id);
        self.keys.insert(key_id, (agency, key));
    }

    /// Add a key valid only in `validity`; a key id already present is replaced.
    pub fn insert_valid(
        &mut self,
        agency: Agency,
        key_id: KeyId,
        key: PublicKey,
        validity: Validity,
    ) {
        self.keys.insert(key_id.clone(), (agency, key));
        self.validity.insert(key_id, validity);
    }

    /// When `key_id` may sign (all times when the ring says nothing).
    pub fn validity(&self, key_id: &KeyId) -> Validity {
        self.validity.get(key_id).copied().unwrap_or_default()
    }

    /// The agency and public key of `key_id`.
    pub fn get(&self, key_id: &KeyId) -> Option<(&Agency, &PublicKey)> {
        self.keys.get(key_id).map(|(a, k)| (a, k))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Parse a key ring file: one `ALGORITHM AGENCY KEY_ID PUBLIC_HEX [from=RFC3339]
    /// [until=RFC3339]` per line, `#` comments.
    pub fn parse(text: &str) -> Result<KeyRing, KeyError> {
        let mut ring = KeyRing::new();
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let tokens: Vec<&str> = line.split_whitespace().collect();
            let (fields, rest) = tokens.split_at(tokens.len().min(4));
            let validity = Validity::parse(rest, line_no)?;
            let (algorithm, agency, key_id, material) = split_line(&fields.join(" "), line_no)?;
            let key = PublicKey::from_bytes(algorithm, &material).ok_or(KeyError::Material {
                line: line_no,
                algorithm,
            })?;
            if ring.keys.contains_key(&key_id) {
                return Err(KeyError::Duplicate {
                    line: line_no,
                    key_id,
                });
            }
            ring.insert_valid(agency, key_id, key, validity);
        }
        Ok(ring)
    }
}

/// Sign an envelope in place with the sender's key, alone (envelope version 1). The key must
/// be the sender's.
pub fn sign(envelope: &mut Envelope, key: &SigningKey) {
    assert_eq!(
        &envelope.sender, &key.agency,
        "an agency signs only its own messages"
    );
    envelope.version = ENVELOPE_VERSION_SINGLE;
    let bytes = signing_bytes(envelope, key.algorithm(), &key.key_id);
    envelope.signature = Some(SignatureField {
        algorithm: key.algorithm(),
        key_id: key.key_id.clone(),
        value: key.sign_bytes(&bytes),
        batch: None,
    });
}

/// The leaf hash of an envelope in a batch signed by `algorithm` and `key_id`.
fn leaf_of(envelope: &Envelope, algorithm: Algorithm, key_id: &KeyId) -> batch::Digest {
    batch::leaf_hash(algorithm, &signing_bytes(envelope, algorithm, key_id))
}

/// Sign envelopes in place as one batch (envelope version 2): one signature over the Merkle
/// root of their signing bytes, each envelope given the signature and its inclusion proof.
/// 1..=[`batch::BATCH_LEAVES_MAX`] envelopes, all the key's agency's.
pub fn sign_batch(envelopes: &mut [Envelope], key: &SigningKey) {
    assert!(
        !envelopes.is_empty() && envelopes.len() <= batch::BATCH_LEAVES_MAX as usize,
        "a batch holds 1..={} envelopes",
        batch::BATCH_LEAVES_MAX
    );
    let algorithm = key.algorithm();
    for e in envelopes.iter_mut() {
        assert_eq!(
            &e.sender, &key.agency,
            "an agency signs only its own messages"
        );
        e.version = ENVELOPE_VERSION_BATCH;
    }
    // Hashing the leaves is the batch's main cost once the signature is shared: two threads.
    let leaves: Vec<batch::Digest> = if envelopes.len() < 256 {
        envelopes
            .iter()
            .map(|e| leaf_of(e, algorithm, &key.key_id))
            .collect()
    } else {
        let (a, b) = envelopes.split_at(envelopes.len() / 2);
        std::thread::scope(|s| {
            let h = s.spawn(|| {
                a.iter()
                    .map(|e| leaf_of(e, algorithm, &key.key_id))
                    .collect::<Vec<_>>()
            });
            let second: Vec<_> = b
                .iter()
                .map(|e| leaf_of(e, algorithm, &key.key_id))
                .collect();
            let mut first = h.join().expect("hashing thread");
            first.extend(second);
            first
        })
    };
    let (root, proofs) = batch::tree(algorithm, &leaves);
    let size = u32::try_from(envelopes.len()).expect("bounded above");
    let value = key.sign_bytes(&batch::root_bytes(
        &key.agency,
        algorithm,
        &key.key_id,
        size,
        &root,
    ));
    for (index, (e, path)) in envelopes.iter_mut().zip(proofs).enumerate() {
        e.signature = Some(SignatureField {
            algorithm,
            key_id: key.key_id.clone(),
            value: value.clone(),
            batch: Some(BatchProof {
                size,
                index: u32::try_from(index).expect("bounded above"),
                path,
            }),
        });
    }
}

/// Check an envelope's signature against the ring: signed, by a known key of the sender, with
/// that key's algorithm, over exactly these contents (version 1), or over the root of a batch
/// that the envelope's proof shows it belongs to (version 2).
pub fn verify(envelope: &Envelope, ring: &KeyRing) -> Result<(), VerifyError> {
    verify_cached(envelope, ring, None)
}

/// [`verify`], remembering verified batch signatures in `cache`: a batch's signature is then
/// checked once, and each of its messages costs its leaf hash and proof walk. The cache must
/// belong to this ring (a receiver keeps one beside its ring).
pub fn verify_cached(
    envelope: &Envelope,
    ring: &KeyRing,
    cache: Option<&BatchCache>,
) -> Result<(), VerifyError> {
    let sig = envelope.signature.as_ref().ok_or(VerifyError::Unsigned)?;
    let (owner, key) = ring
        .keys
        .get(&sig.key_id)
        .ok_or_else(|| VerifyError::UnknownKey {
            key_id: sig.key_id.clone(),
        })?;
    if owner != &envelope.sender {
        return Err(VerifyError::KeyNotSender {
            key_id: sig.key_id.clone(),
            owner: owner.clone(),
            sender: envelope.sender.clone(),
        });
    }
    if key.algorithm() != sig.algorithm {
        return Err(VerifyError::WrongAlgorithm {
            key_id: sig.key_id.clone(),
            expected: key.algorithm(),
            found: sig.algorithm,
        });
    }
    // A rotated key signs only in its period: `created_at` is inside the signed bytes, so a
    // message cannot be moved into another key's period.
    if !ring.validity(&sig.key_id).contains(&envelope.created_at) {
        return Err(VerifyError::KeyNotValid {
            key_id: sig.key_id.clone(),
            at: timestamp_text(&envelope.created_at),
        });
    }
    match (&sig.batch, envelope.version) {
        (None, ENVELOPE_VERSION_SINGLE) => {
            let bytes = signing_bytes(envelope, sig.algorithm, &sig.key_id);
            key.verify_bytes(&bytes, &sig.value)
        }
        (Some(proof), ENVELOPE_VERSION_BATCH) => {
            let leaf = leaf_of(envelope, sig.algorithm, &sig.key_id);
            let root = batch::root_from_proof(sig.algorithm, leaf, proof)
                .map_err(|e| VerifyError::BadProof(e.to_string()))?;
            let bytes = batch::root_bytes(
                &envelope.sender,
                sig.algorithm,
                &sig.key_id,
                proof.size,
                &root,
            );
            if cache.is_some_and(|c| c.contains(&bytes, &sig.value)) {
                return Ok(());
            }
            key.verify_bytes(&bytes, &sig.value)?;
            if let Some(c) = cache {
                c.insert(&bytes, &sig.value);
            }
            Ok(())
        }
        (batch, version) => Err(VerifyError::BadProof(format!(
            "a version {version} envelope {} a batch proof",
            if batch.is_some() { "with" } else { "without" }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Kind, MessageId};
    use chrono::TimeZone;

    fn agency(s: &str) -> Agency {
        Agency::parse(s).unwrap()
    }

    fn envelope() -> Envelope {
        Envelope::new(
            MessageId::new(agency("CUSTOMS"), 7),
            Kind::parse("declaration_released.v1").unwrap(),
            vec![agency("TAX"), agency("COMMERCE")],
            chrono::Utc.with_ymd_and_hms(2026, 11, 28, 8, 0, 0).unwrap(),
            br#"{"x":1}"#.to_vec(),
        )
        .unwrap()
    }

    #[test]
    fn a_rotated_ring_accepts_each_key_only_in_its_period() {
        let old = SigningKey::generate(
            Algorithm::Sm2Sm3,
            agency("CUSTOMS"),
            KeyId::parse("customs-2026").unwrap(),
        )
        .unwrap();
        let new = SigningKey::generate(
            Algorithm::Ed25519,
            agency("CUSTOMS"),
            KeyId::parse("customs-2027").unwrap(),
        )
        .unwrap();
        // The envelope is created 2026-11-28T08:00:00Z; the rotation is at 2026-12-01.
        let text = format!(
            "# customs' keys\n{} until=2026-12-01T00:00:00Z\n{} from=2026-12-01T00:00:00Z\n",
            old.public_line(),
            new.public_line()
        );
        let ring = KeyRing::parse(&text).unwrap();
        let signed = |k: &SigningKey, days: i64| {
            let mut e = envelope();
            e.created_at += chrono::Duration::days(days);
            sign(&mut e, k);
            e
        };
        assert_eq!(verify(&signed(&old, 0), &ring), Ok(()));
        assert_eq!(verify(&signed(&new, 3), &ring), Ok(()));
        assert_eq!(verify(&signed(&new, 10), &ring), Ok(()));
        for (k, days, at) in [
            (&old, 3, "2026-12-01T08:00:00.000Z"),
            (&new, 0, "2026-11-28T08:00:00.000Z"),
        ] {
            let e = signed(k, days);
            let err = verify(&e, &ring).unwrap_err();
            assert_eq!(
                err,
                VerifyError::KeyNotValid {
                    key_id: k.key_id().clone(),
                    at: at.into()
                }
            );
            assert_eq!(err.code(), "key_not_valid");
        }
        // Batch-signed messages are held to the same periods.
        let mut batch = vec![envelope(), envelope()];
        batch[1].id = MessageId::new(agency("CUSTOMS"), 8);
        sign_batch(&mut batch, &old);
        assert_eq!(verify(&batch[1], &ring), Ok(()));
        sign_batch(&mut batch, &new);
        assert_eq!(
            verify(&batch[1], &ring).unwrap_err().code(),
            "key_not_valid"
        );
        // Without validity a key is valid at all times (the format before rotation).
        assert_eq!(
            KeyRing::parse(&new.public_line())
                .unwrap()
                .validity(new.key_id()),
            Validity::default()
        );
        for bad in [
            "until",
            "until=tomorrow",
            "since=2026-12-01T00:00:00Z",
            "from=2026-12-01T00:00:00Z until=2026-12-01T00:00:00Z",
            "from=2026-12-01T00:00:00Z from=2026-12-02T00:00:00Z",
        ] {
            let line = format!("{} {bad}", new.public_line());
            assert!(
                matches!(
                    KeyRing::parse(&line),
                    Err(KeyError::Validity { line: 1, .. })
                ),
                "{bad}"
            );
        }
    }

    fn check(algorithm: Algorithm) {
        let key = SigningKey::generate(algorithm, agency("CUSTOMS"), KeyId::parse("c1").unwrap())
            .unwrap();
        let ring = KeyRing::parse(&key.public_line()).unwrap();
        let mut e = envelope();
        assert_eq!(verify(&e, &ring), Err(VerifyError::Unsigned));
        sign(&mut e, &key);
        assert_eq!(verify(&e, &ring), Ok(()));
        // Deterministic: the same row signs to the same bytes.
        let mut again = envelope();
        sign(&mut again, &key);
        assert_eq!(again, e);
        // Through the wire and back.
        let back = Envelope::from_wire(&e.to_wire()).unwrap();
        assert_eq!(back, e);
        assert_eq!(verify(&back, &ring), Ok(()));

        let mut tampered = e.clone();
        tampered.payload = br#"{"x":2}"#.to_vec();
        assert_eq!(verify(&tampered, &ring), Err(VerifyError::BadSignature));
        let mut rerouted = e.clone();
        rerouted.recipients.pop();
        assert_eq!(verify(&rerouted, &ring), Err(VerifyError::BadSignature));
        let mut later = e.clone();
        later.created_at += chrono::Duration::milliseconds(1);
        assert_eq!(verify(&later, &ring), Err(VerifyError::BadSignature));

        let mut other_alg = e.clone();
        let other = match algorithm {
            Algorithm::Sm2Sm3 => Algorithm::Ed25519,
            Algorithm::Ed25519 => Algorithm::Sm2Sm3,
        };
        other_alg.signature.as_mut().unwrap().algorithm = other;
        assert!(matches!(
            verify(&other_alg, &ring),
            Err(VerifyError::WrongAlgorithm { .. })
        ));

        assert!(matches!(
            verify(&e, &KeyRing::new()),
            Err(VerifyError::UnknownKey { .. })
        ));

        // A key of another agency cannot vouch for a customs message.
        let mut foreign = KeyRing::new();
        foreign.insert(agency("TAX"), KeyId::parse("c1").unwrap(), key.public_key());
        assert!(matches!(
            verify(&e, &foreign),
            Err(VerifyError::KeyNotSender { .. })
        ));

        // A forger with their own key under the sender's key id fails.
        let forger =
            SigningKey::generate(algorithm, agency("CUSTOMS"), KeyId::parse("c1").unwrap())
                .unwrap();
        let mut forged = envelope();
        sign(&mut forged, &forger);
        assert_eq!(verify(&forged, &ring), Err(VerifyError::BadSignature));
    }

    #[test]
    fn sm2_signs_and_refuses_what_it_should() {
        check(Algorithm::Sm2Sm3);
    }

    #[test]
    fn ed25519_signs_and_refuses_what_it_should() {
        check(Algorithm::Ed25519);
    }

    fn batch(first: u64, n: u64) -> Vec<Envelope> {
        (first..first + n)
            .map(|seq| {
                let mut e = envelope();
                e.id = MessageId::new(agency("CUSTOMS"), seq);
                e.payload = format!(r#"{{"x":{seq}}}"#).into_bytes();
                e
            })
            .collect()
    }

    fn check_batch(algorithm: Algorithm) {
        let key = SigningKey::generate(algorithm, agency("CUSTOMS"), KeyId::parse("c1").unwrap())
            .unwrap();
        let ring = KeyRing::parse(&key.public_line()).unwrap();
        let mut b = batch(1, 5);
        assert_eq!(verify(&b[0], &ring), Err(VerifyError::Unsigned));
        sign_batch(&mut b, &key);
        let value = &b[0].signature.as_ref().unwrap().value;
        for (i, e) in b.iter().enumerate() {
            assert_eq!(e.version, ENVELOPE_VERSION_BATCH);
            let sig = e.signature.as_ref().unwrap();
            assert_eq!(&sig.value, value, "one signature for the batch");
            assert_eq!(sig.batch.as_ref().unwrap().index, i as u32);
            // Each message verifies on its own, as a receiver of only that one sees it.
            assert_eq!(verify(e, &ring), Ok(()));
            let back = Envelope::from_wire(&e.to_wire()).unwrap();
            assert_eq!(&back, e);
            assert_eq!(verify(&back, &ring), Ok(()));
        }
        // Deterministic: the same batch signs to the same bytes.
        let mut again = batch(1, 5);
        sign_batch(&mut again, &key);
        assert_eq!(again, b);

        // A receiver checks the batch signature once, then hashes per message.
        let cache = BatchCache::new();
        for e in &b {
            assert_eq!(verify_cached(e, &ring, Some(&cache)), Ok(()));
        }
        assert_eq!(cache.len(), 1);

        // Refusals, each with the warm cache and without one.
        let refused = |e: &Envelope| {
            let cold = verify(e, &ring);
            assert_eq!(
                cold,
                verify_cached(e, &ring, Some(&cache)),
                "cache changes nothing"
            );
            cold
        };
        let mut tampered = b[2].clone();
        tampered.payload = br#"{"x":99}"#.to_vec();
        assert_eq!(refused(&tampered), Err(VerifyError::BadSignature));
        let mut rerouted = b[2].clone();
        rerouted.recipients.pop();
        assert_eq!(refused(&rerouted), Err(VerifyError::BadSignature));

        // A genuine message whose signature value was altered: refused although its root is known.
        let mut altered = b[1].clone();
        altered.signature.as_mut().unwrap().value[5] ^= 1;
        assert_eq!(refused(&altered), Err(VerifyError::BadSignature));

        // A wrong inclusion proof: a sibling hash changed, or another message's index.
        let mut wrong_proof = b[1].clone();
        wrong_proof
            .signature
            .as_mut()
            .unwrap()
            .batch
            .as_mut()
            .unwrap()
            .path[0][0] ^= 1;
        assert_eq!(refused(&wrong_proof), Err(VerifyError::BadSignature));
        let mut wrong_index = b[1].clone();
        wrong_index
            .signature
            .as_mut()
            .unwrap()
            .batch
            .as_mut()
            .unwrap()
            .index = 0;
        assert_eq!(refused(&wrong_index), Err(VerifyError::BadSignature));
        let mut wrong_size = b[4].clone();
        wrong_size
            .signature
            .as_mut()
            .unwrap()
            .batch
            .as_mut()
            .unwrap()
            .size = 6;
        assert!(matches!(
            refused(&wrong_size),
            Err(VerifyError::BadSignature | VerifyError::BadProof(_))
        ));
        let mut short = b[1].clone();
        short
            .signature
            .as_mut()
            .unwrap()
            .batch
            .as_mut()
            .unwrap()
            .path
            .pop();
        assert!(matches!(refused(&short), Err(VerifyError::BadProof(_))));
        let mut out_of_range = b[1].clone();
        out_of_range
            .signature
            .as_mut()
            .unwrap()
            .batch
            .as_mut()
            .unwrap()
            .index = 5;
        assert!(matches!(
            refused(&out_of_range),
            Err(VerifyError::BadProof(_))
        ));

        // A proof and signature from another (genuine) batch.
        let mut other = batch(6, 5);
        sign_batch(&mut other, &key);
        assert_eq!(verify(&other[0], &ring), Ok(()));
        let mut moved = b[0].clone();
        moved.signature = other[0].signature.clone();
        assert_eq!(refused(&moved), Err(VerifyError::BadSignature));

        // A forged batch: a forger's key under the sender's key id.
        let forger =
            SigningKey::generate(algorithm, agency("CUSTOMS"), KeyId::parse("c1").unwrap())
                .unwrap();
        let mut forged = batch(1, 5);
        sign_batch(&mut forged, &forger);
        assert_eq!(refused(&forged[3]), Err(VerifyError::BadSignature));

        // Unsigned, or the signature's version and shape disagreeing.
        let mut unsigned = b[0].clone();
        unsigned.signature = None;
        assert_eq!(refused(&unsigned), Err(VerifyError::Unsigned));
        let mut as_single = b[0].clone();
        as_single.version = ENVELOPE_VERSION_SINGLE;
        assert!(matches!(refused(&as_single), Err(VerifyError::BadProof(_))));
        assert!(Envelope::from_wire(&as_single.to_wire()).is_err());
        let mut no_proof = b[0].clone();
        no_proof.signature.as_mut().unwrap().batch = None;
        assert!(matches!(refused(&no_proof), Err(VerifyError::BadProof(_))));
        assert!(Envelope::from_wire(&no_proof.to_wire()).is_err());

        // The root's signed bytes bind the algorithm and the key id.
        let mut other_alg = b[0].clone();
        other_alg.signature.as_mut().unwrap().algorithm = match algorithm {
            Algorithm::Sm2Sm3 => Algorithm::Ed25519,
            Algorithm::Ed25519 => Algorithm::Sm2Sm3,
        };
        assert!(matches!(
            refused(&other_alg),
            Err(VerifyError::WrongAlgorithm { .. })
        ));
        let mut two_ids = KeyRing::parse(&key.public_line()).unwrap();
        two_ids.insert(
            agency("CUSTOMS"),
            KeyId::parse("c2").unwrap(),
            key.public_key(),
        );
        let mut other_id = b[0].clone();
        other_id.signature.as_mut().unwrap().key_id = KeyId::parse("c2").unwrap();
        assert_eq!(verify(&other_id, &two_ids), Err(VerifyError::BadSignature));

        // Old single-signed envelopes still verify beside batch ones.
        let mut single = envelope();
        sign(&mut single, &key);
        assert_eq!(single.version, ENVELOPE_VERSION_SINGLE);
        assert_eq!(verify_cached(&single, &ring, Some(&cache)), Ok(()));

        // A batch of one.
        let mut one = batch(20, 1);
        sign_batch(&mut one, &key);
        assert_eq!(
            one[0]
                .signature
                .as_ref()
                .unwrap()
                .batch
                .as_ref()
                .unwrap()
                .path
                .len(),
            0
        );
        assert_eq!(verify(&one[0], &ring), Ok(()));
    }

    #[test]
    fn sm2_batches_sign_and_refuse_what_they_should() {
        check_batch(Algorithm::Sm2Sm3);
    }

    #[test]
    fn ed25519_batches_sign_and_refuse_what_they_should() {
        check_batch(Algorithm::Ed25519);
    }

    #[test]
    fn large_batches_verify_message_by_message() {
        let key = SigningKey::generate(
            Algorithm::Sm2Sm3,
            agency("CUSTOMS"),
            KeyId::parse("c1").unwrap(),
        )
        .unwrap();
        let ring = KeyRing::parse(&key.public_line()).unwrap();
        let mut b = batch(1, 1000);
        sign_batch(&mut b, &key);
        let cache = BatchCache::new();
        for e in &b {
            assert_eq!(verify_cached(e, &ring, Some(&cache)), Ok(()));
        }
        assert_eq!(verify(&b[777], &ring), Ok(()));
    }

    #[test]
    fn secret_lines_round_trip() {
        for algorithm in [Algorithm::Sm2Sm3, Algorithm::Ed25519] {
            let key = SigningKey::generate(algorithm, agency("TAX"), KeyId::parse("t-1").unwrap())
                .unwrap();
            let back = SigningKey::from_line(&key.to_secret_line()).unwrap();
            assert_eq!(back.public_line(), key.public_line());
            assert!(!format!("{back:?}").contains(&key.to_secret_line()[20..]));
        }
        assert!(matches!(
            KeyRing::parse("SM2-SM3 TAX t1 zz"),
            Err(KeyError::Material { line: 1, .. })
        ));
        assert!(matches!(
            KeyRing::parse("# c\nRSA TAX t1 00"),
            Err(KeyError::Algorithm { line: 2, .. })
        ));
    }

    /// The sm2 crate's Z_A with the default id equals the standard's: the example of
    /// GB/T 32918.2 Annex A uses another curve, so this checks against an independent
    /// computation of e = SM3(Z_A ‖ M) instead: signing the prehash ourselves must verify.
    #[test]
    fn sm2_uses_the_default_distinguishing_id() {
        use sm2::dsa::signature::hazmat::PrehashSigner;
        let key = SigningKey::generate(
            Algorithm::Sm2Sm3,
            agency("CUSTOMS"),
            KeyId::parse("c1").unwrap(),
        )
        .unwrap();
        let Secret::Sm2(sk) = &key.secret else {
            unreachable!()
        };
        let public = key.public_key().to_bytes();
        assert_eq!(public.len(), 65);
        let msg = b"message digest";
        let e = sm3_e(&public[1..], msg);
        let s: sm2::dsa::Signature = sk.sign_prehash(&e).unwrap();
        assert_eq!(key.public_key().verify_bytes(msg, &s.to_bytes()), Ok(()));
    }

    /// e = SM3(ENTL ‖ ID ‖ a ‖ b ‖ xG ‖ yG ‖ xA ‖ yA) then SM3(Z ‖ M), written out by hand.
    fn sm3_e(xy: &[u8], msg: &[u8]) -> Vec<u8> {
        use sm3::Digest;
        let a = hex::decode("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC")
            .unwrap();
        let b = hex::decode("28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93")
            .unwrap();
        let g = hex::decode(concat!(
            "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7",
            "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"
        ))
        .unwrap();
        let mut z = sm3::Sm3::new();
        z.update([0x00, 0x80]);
        z.update(SM2_DISTID.as_bytes());
        z.update(&a);
        z.update(&b);
        z.update(&g);
        z.update(xy);
        let z = z.finalize();
        let mut e = sm3::Sm3::new();
        e.update(z);
        e.update(msg);
        e.finalize().to_vec()
    }
}
