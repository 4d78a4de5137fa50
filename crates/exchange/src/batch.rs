//! Batch signatures: one signature over the Merkle root of up to [`BATCH_LEAVES_MAX`] envelopes,
//! each envelope carrying that signature and its inclusion proof, so that it stays verifiable
//! on its own while the sender signs (and a receiver verifies) once per batch.
//!
//! The tree is RFC 9162's (Certificate Transparency 2.0, §2.1): leaf = H(0x00 ‖ leaf bytes),
//! node = H(0x01 ‖ left ‖ right), the left subtree of n leaves holding the largest power of two
//! below n. The leaf bytes are [`crate::sign::signing_bytes`] of the envelope (version 2,
//! algorithm and key id included); H is SM3 for SM2-SM3 batches and SHA-256 for Ed25519 ones.
//! What is signed is [`root_bytes`]: a domain separator, the sender, the algorithm, the key id,
//! the number of leaves and the root. [`BatchCache`] remembers verified (root, signature)
//! pairs, bounded, so that a receiver checks each batch signature once.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use crate::message::Agency;
use crate::sign::{Algorithm, KeyId};

/// The domain separator that opens the signed bytes of a batch root.
pub const BATCH_CONTEXT: &[u8] = b"jinguan.exchange.batch.v2";
/// At most this many envelopes under one batch signature (the relay's largest batch).
pub const BATCH_LEAVES_MAX: u32 = 4096;
/// The longest inclusion proof: the depth of a tree of [`BATCH_LEAVES_MAX`] leaves.
pub const PROOF_LEN_MAX: usize = 12;
/// Verified batch signatures a receiver remembers.
pub const BATCH_CACHE_MAX: usize = 1024;

/// A tree hash value (SM3 and SHA-256 are both 32 bytes).
pub type Digest = [u8; 32];

/// Where one envelope sits in its batch: the number of leaves, its index, and the sibling
/// hashes from the leaf up to the root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchProof {
    pub size: u32,
    pub index: u32,
    pub path: Vec<Digest>,
}

fn hash(algorithm: Algorithm, prefix: u8, parts: &[&[u8]]) -> Digest {
    match algorithm {
        Algorithm::Sm2Sm3 => {
            use sm3::Digest as _;
            let mut h = sm3::Sm3::new();
            h.update([prefix]);
            for p in parts {
                h.update(p);
            }
            h.finalize().into()
        }
        Algorithm::Ed25519 => {
            use sha2::Digest as _;
            let mut h = sha2::Sha256::new();
            h.update([prefix]);
            for p in parts {
                h.update(p);
            }
            h.finalize().into()
        }
    }
}

/// H(0x00 ‖ leaf bytes).
pub fn leaf_hash(algorithm: Algorithm, leaf_bytes: &[u8]) -> Digest {
    hash(algorithm, 0x00, &[leaf_bytes])
}

/// H(0x01 ‖ left ‖ right).
pub fn node_hash(algorithm: Algorithm, left: &Digest, right: &Digest) -> Digest {
    hash(algorithm, 0x01, &[left, right])
}

fn largest_power_of_two_below(n: usize) -> usize {
    debug_assert!(n > 1);
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// The root of the leaves and every leaf's inclusion proof (RFC 9162 PATH), leaf to root.
pub fn tree(algorithm: Algorithm, leaves: &[Digest]) -> (Digest, Vec<Vec<Digest>>) {
    assert!(
        !leaves.is_empty() && leaves.len() <= BATCH_LEAVES_MAX as usize,
        "a batch holds 1..={BATCH_LEAVES_MAX} envelopes"
    );
    let mut proofs = vec![Vec::with_capacity(PROOF_LEN_MAX); leaves.len()];
    let root = subtree(algorithm, leaves, &mut proofs);
    (root, proofs)
}

/// Hash of `leaves`; pushes each side's hash onto the proofs of the other side's leaves. The
/// recursion returns bottom-up, so each proof is built from the leaf upwards.
fn subtree(algorithm: Algorithm, leaves: &[Digest], proofs: &mut [Vec<Digest>]) -> Digest {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let k = largest_power_of_two_below(leaves.len());
    let (left_proofs, right_proofs) = proofs.split_at_mut(k);
    let left = subtree(algorithm, &leaves[..k], left_proofs);
    let right = subtree(algorithm, &leaves[k..], right_proofs);
    for p in left_proofs {
        p.push(right);
    }
    for p in right_proofs {
        p.push(left);
    }
    node_hash(algorithm, &left, &right)
}

/// Why an inclusion proof cannot be walked (a well-formed proof that leads elsewhere is not an
/// error here: the root it gives fails the signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("batch size {0} is not 1..={BATCH_LEAVES_MAX}")]
    Size(u32),
    #[error("index {index} is not below the batch size {size}")]
    Index { index: u32, size: u32 },
    #[error("the proof has the wrong length for index {index} of {size}")]
    Length { index: u32, size: u32 },
}

/// The root a leaf and its proof lead to (RFC 9162 §2.1.3.2).
pub fn root_from_proof(
    algorithm: Algorithm,
    leaf: Digest,
    proof: &BatchProof,
) -> Result<Digest, ProofError> {
    let (size, index) = (proof.size, proof.index);
    if size == 0 || size > BATCH_LEAVES_MAX {
        return Err(ProofError::Size(size));
    }
    if index >= size {
        return Err(ProofError::Index { index, size });
    }
    let length = || ProofError::Length { index, size };
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    for p in &proof.path {
        if s == 0 {
            return Err(length());
        }
        if f & 1 == 1 || f == s {
            r = node_hash(algorithm, p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(algorithm, &r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    if s != 0 {
        return Err(length());
    }
    Ok(r)
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    let len = u32::try_from(field.len()).expect("fields are short");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
}

/// The bytes a batch signature covers: each field as a 4-byte big-endian length and its
/// bytes: [`BATCH_CONTEXT`], sender, algorithm, key id, number of leaves (decimal), root.
pub fn root_bytes(
    sender: &Agency,
    algorithm: Algorithm,
    key_id: &KeyId,
    size: u32,
    root: &Digest,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    put(&mut out, BATCH_CONTEXT);
    put(&mut out, sender.as_str().as_bytes());
    put(&mut out, algorithm.as_str().as_bytes());
    put(&mut out, key_id.as_str().as_bytes());
    put(&mut out, size.to_string().as_bytes());
    put(&mut out, root);
    out
}

/// The batch signatures a receiver has verified: (root bytes, signature value) pairs, the
/// oldest forgotten first beyond [`BATCH_CACHE_MAX`]. Keyed on the exact signature too, so a
/// genuine message carrying an altered signature value is still refused.
#[derive(Default)]
pub struct BatchCache {
    inner: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    seen: HashSet<Vec<u8>>,
    order: VecDeque<Vec<u8>>,
}

fn cache_key(root_bytes: &[u8], signature: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(root_bytes.len() + signature.len());
    k.extend_from_slice(root_bytes);
    k.extend_from_slice(signature);
    k
}

impl BatchCache {
    pub fn new() -> BatchCache {
        BatchCache::default()
    }

    pub fn contains(&self, root_bytes: &[u8], signature: &[u8]) -> bool {
        self.inner
            .lock()
            .expect("batch cache lock")
            .seen
            .contains(&cache_key(root_bytes, signature))
    }

    /// Remember a pair whose signature verified.
    pub fn insert(&self, root_bytes: &[u8], signature: &[u8]) {
        let key = cache_key(root_bytes, signature);
        let mut g = self.inner.lock().expect("batch cache lock");
        if g.seen.insert(key.clone()) {
            g.order.push_back(key);
            while g.order.len() > BATCH_CACHE_MAX {
                let old = g.order.pop_front().expect("non-empty");
                g.seen.remove(&old);
            }
        }
        debug_assert_eq!(g.seen.len(), g.order.len());
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("batch cache lock").order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9162's MTH, written directly from its definition, to check `tree` against.
    fn mth(alg: Algorithm, leaves: &[Digest]) -> Digest {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = largest_power_of_two_below(leaves.len());
        node_hash(alg, &mth(alg, &leaves[..k]), &mth(alg, &leaves[k..]))
    }

    fn leaves(alg: Algorithm, n: usize) -> Vec<Digest> {
        (0..n)
            .map(|i| leaf_hash(alg, format!("m{i}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_proof_of_every_size_leads_to_the_root() {
        for alg in [Algorithm::Sm2Sm3, Algorithm::Ed25519] {
            for n in (1..=70).chain([127, 128, 129, 1000, 1024]) {
                let l = leaves(alg, n);
                let (root, proofs) = tree(alg, &l);
                assert_eq!(root, mth(alg, &l), "n={n}");
                for (i, path) in proofs.into_iter().enumerate() {
                    assert!(path.len() <= PROOF_LEN_MAX);
                    let mut proof = BatchProof {
                        size: n as u32,
                        index: i as u32,
                        path,
                    };
                    assert_eq!(root_from_proof(alg, l[i], &proof), Ok(root), "n={n} i={i}");
                    // Another leaf, another index, a shortened or lengthened path: not the root.
                    if n > 1 {
                        assert_ne!(root_from_proof(alg, l[(i + 1) % n], &proof), Ok(root));
                        proof.index = ((i + 1) % n) as u32;
                        assert_ne!(root_from_proof(alg, l[i], &proof), Ok(root));
                        proof.index = i as u32;
                        let last = proof.path.pop().unwrap();
                        assert!(root_from_proof(alg, l[i], &proof).is_err());
                        proof.path.push(last);
                    }
                    proof.path.push([7; 32]);
                    assert!(root_from_proof(alg, l[i], &proof).is_err());
                }
            }
        }
    }

    #[test]
    fn proof_shapes_out_of_bounds_are_refused() {
        let alg = Algorithm::Sm2Sm3;
        let p = |size, index| BatchProof {
            size,
            index,
            path: vec![],
        };
        assert_eq!(
            root_from_proof(alg, [0; 32], &p(0, 0)),
            Err(ProofError::Size(0))
        );
        assert_eq!(
            root_from_proof(alg, [0; 32], &p(BATCH_LEAVES_MAX + 1, 0)),
            Err(ProofError::Size(BATCH_LEAVES_MAX + 1))
        );
        assert_eq!(
            root_from_proof(alg, [0; 32], &p(4, 4)),
            Err(ProofError::Index { index: 4, size: 4 })
        );
        assert_eq!(root_from_proof(alg, [9; 32], &p(1, 0)), Ok([9; 32]));
    }

    #[test]
    fn the_cache_is_bounded_and_keyed_on_the_signature() {
        let c = BatchCache::new();
        c.insert(b"root", b"sig");
        assert!(c.contains(b"root", b"sig"));
        assert!(!c.contains(b"root", b"sig2"));
        for i in 0..BATCH_CACHE_MAX + 10 {
            c.insert(format!("r{i}").as_bytes(), b"s");
        }
        assert_eq!(c.len(), BATCH_CACHE_MAX);
        assert!(!c.contains(b"root", b"sig"), "the oldest is forgotten");
    }
}
