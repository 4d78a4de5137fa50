//! The audit chain's anchors (`store::audit`): the node signs chain heads with customs'
//! exchange key ([`KeySigner`], SM2 with SM3 or Ed25519), and checks them with the public keys
//! it knows ([`RingVerifier`]). [`Anchoring`] holds both, the newest head kept outside the
//! store, the Merkle tree's cached right edge (`store::audit_tree::TreeCache`) and when heads
//! are next published to the agencies over the exchange ([`PUBLISH_TO`]); the edge (`jinguan
//! serve`) asks for an anchor every second, writes each head to the head file of the data
//! folder, and verifies the chain against it at start.

use std::sync::{Arc, Mutex};

use exchange::{Agency, Algorithm, KeyId, KeyRing, SigningKey};
use store::audit::{HeadSigner, HeadVerifier};
use store::{SignedHead, VerifyOptions};

/// Signs heads with an exchange signing key; its name is `ALGORITHM AGENCY KEY_ID`.
pub struct KeySigner(pub Arc<SigningKey>);

impl HeadSigner for KeySigner {
    fn key_name(&self) -> String {
        format!(
            "{} {} {}",
            self.0.algorithm(),
            self.0.agency(),
            self.0.key_id()
        )
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.0.sign_bytes(message)
    }
}

/// Checks heads with the public keys of a key ring (the node's own key, and older keys kept
/// after a rotation). A key must belong to the agency its name says.
pub struct RingVerifier(pub KeyRing);

impl HeadVerifier for RingVerifier {
    fn verify(&self, key_name: &str, message: &[u8], signature: &[u8]) -> Result<(), String> {
        let mut parts = key_name.split(' ');
        let (Some(alg), Some(agency), Some(key_id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("malformed key name {key_name:?}"));
        };
        let algorithm =
            Algorithm::parse(alg).ok_or_else(|| format!("unknown algorithm {alg:?}"))?;
        let agency = Agency::parse(agency).map_err(|e| format!("key {key_name:?}: {e}"))?;
        let key_id = KeyId::parse(key_id).map_err(|e| format!("key {key_name:?}: {e}"))?;
        let (owner, key) = self
            .0
            .get(&key_id)
            .ok_or_else(|| format!("unknown key {key_id}"))?;
        if owner != &agency || key.algorithm() != algorithm {
            return Err(format!("key {key_id} is not a {algorithm} key of {agency}"));
        }
        key.verify_bytes(message, signature)
            .map_err(|e| format!("key {key_id}: {e}"))
    }
}

/// The agencies a signed head is published to over the exchange (every agency that receives
/// messages from customs: docs/EXCHANGE.md "Messages", `audit_head_published.v1`).
pub const PUBLISH_TO: [&str; 4] = ["BANK", "COMMERCE", "FOREX", "TAX"];

/// The node's anchoring: its key, the keys it verifies with, and the newest signed head kept
/// outside the store (what `jinguan serve` last wrote to the head file).
pub struct Anchoring {
    pub signer: Arc<dyn HeadSigner>,
    pub verifier: Arc<dyn HeadVerifier>,
    latest: Mutex<Option<SignedHead>>,
    /// The Merkle tree's right edge between anchors.
    pub tree: Arc<store::audit_tree::TreeCache>,
    /// Publish a head over the exchange at most this often (ms); `None`: never.
    publish_every_ms: Option<i64>,
    /// When a head was last published (ms since the epoch).
    last_published_ms: Mutex<Option<i64>>,
}

impl Anchoring {
    /// Anchoring with `key`, verifying with `key` and the older public keys of `ring`.
    pub fn new(key: Arc<SigningKey>, mut ring: KeyRing, latest: Option<SignedHead>) -> Anchoring {
        ring.insert(key.agency().clone(), key.key_id().clone(), key.public_key());
        Anchoring {
            signer: Arc::new(KeySigner(key)),
            verifier: Arc::new(RingVerifier(ring)),
            latest: Mutex::new(latest),
            tree: Arc::new(store::audit_tree::TreeCache::new()),
            publish_every_ms: None,
            last_published_ms: Mutex::new(None),
        }
    }

    /// Publish a signed head to the agencies ([`PUBLISH_TO`]) over the exchange with the first
    /// anchor, then with the first anchor at least `every_ms` after the last one published.
    pub fn publishing_every(mut self, every_ms: i64) -> Anchoring {
        self.publish_every_ms = Some(every_ms.max(0));
        self
    }

    /// The agencies to publish the next head to, at `now_ms` (empty: not now).
    pub fn publish_to(&self, now_ms: i64) -> Vec<String> {
        let Some(every) = self.publish_every_ms else {
            return Vec::new();
        };
        let last = *self.last_published_ms.lock().expect("anchor lock");
        if last.is_some_and(|l| now_ms - l < every) {
            return Vec::new();
        }
        PUBLISH_TO.iter().map(|a| (*a).to_owned()).collect()
    }

    /// A head was published at `at_ms` (its anchor committed).
    pub fn published(&self, at_ms: i64) {
        *self.last_published_ms.lock().expect("anchor lock") = Some(at_ms);
    }

    /// The newest head kept outside the store.
    pub fn latest(&self) -> Option<SignedHead> {
        self.latest.lock().expect("anchor lock").clone()
    }

    /// Keep a newer head (an older one is ignored: heads only move forward).
    pub fn keep(&self, head: SignedHead) {
        let mut latest = self.latest.lock().expect("anchor lock");
        if latest.as_ref().is_none_or(|l| l.seq < head.seq) {
            *latest = Some(head);
        }
    }

    /// What to verify the chain with: the signatures, and the newest head kept outside.
    pub fn verify_options(&self) -> VerifyOptions {
        VerifyOptions {
            heads: self.latest().into_iter().collect(),
            verifier: Some(self.verifier.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(alg: Algorithm, id: &str) -> Arc<SigningKey> {
        Arc::new(
            SigningKey::generate(
                alg,
                Agency::parse("CUSTOMS").unwrap(),
                KeyId::parse(id).unwrap(),
            )
            .unwrap(),
        )
    }

    #[test]
    fn heads_signed_with_sm2_and_ed25519_verify_and_forgeries_do_not() {
        for alg in [Algorithm::Sm2Sm3, Algorithm::Ed25519] {
            let k = key(alg, "customs-1");
            let a = Anchoring::new(k.clone(), KeyRing::new(), None);
            let head = SignedHead::sign(42, &[9; 32], Some(&[3; 32]), 1_000, a.signer.as_ref());
            assert!(head.key.starts_with(alg.as_str()), "{}", head.key);
            head.check(a.verifier.as_ref()).unwrap();
            // Another record number, hash or time under the same signature: refused.
            for forged in [
                SignedHead {
                    seq: 41,
                    ..head.clone()
                },
                SignedHead {
                    hash: store::audit::hex(&[8; 32]),
                    ..head.clone()
                },
                SignedHead {
                    at_ms: 1_001,
                    ..head.clone()
                },
                SignedHead {
                    root: Some(store::audit::hex(&[4; 32])),
                    ..head.clone()
                },
                SignedHead {
                    root: None,
                    ..head.clone()
                },
            ] {
                assert!(forged.check(a.verifier.as_ref()).is_err());
            }
            // Signed by another key of the same name: refused.
            let other = Anchoring::new(key(alg, "customs-1"), KeyRing::new(), None);
            let by_other =
                SignedHead::sign(42, &[9; 32], Some(&[3; 32]), 1_000, other.signer.as_ref());
            assert!(by_other.check(a.verifier.as_ref()).is_err());
            // An unknown key: refused, named.
            let unknown = Anchoring::new(key(alg, "customs-2"), KeyRing::new(), None);
            let by_unknown =
                SignedHead::sign(42, &[9; 32], Some(&[3; 32]), 1_000, unknown.signer.as_ref());
            let why = by_unknown.check(a.verifier.as_ref()).unwrap_err();
            assert!(why.contains("unknown key customs-2"), "{why}");
        }
    }

    #[test]
    fn heads_only_move_forward() {
        let a = Anchoring::new(key(Algorithm::Ed25519, "k"), KeyRing::new(), None);
        let h = |seq| SignedHead::sign(seq, &[1; 32], None, 0, a.signer.as_ref());
        a.keep(h(10));
        a.keep(h(5));
        assert_eq!(a.latest().map(|h| h.seq), Some(10));
        assert_eq!(a.verify_options().heads.len(), 1);
    }

    #[test]
    fn heads_are_published_at_most_once_a_period() {
        let k = key(Algorithm::Ed25519, "k");
        let never = Anchoring::new(k.clone(), KeyRing::new(), None);
        assert!(never.publish_to(0).is_empty());
        let a = Anchoring::new(k, KeyRing::new(), None).publishing_every(60_000);
        assert_eq!(a.publish_to(1_000), PUBLISH_TO);
        // Not yet committed: asked again, still due.
        assert_eq!(a.publish_to(2_000), PUBLISH_TO);
        a.published(2_000);
        assert!(a.publish_to(61_999).is_empty());
        assert_eq!(a.publish_to(62_000), PUBLISH_TO);
        let mut sorted = PUBLISH_TO;
        sorted.sort_unstable();
        assert_eq!(
            sorted, PUBLISH_TO,
            "recipients are sorted, as the outbox requires"
        );
    }
}
