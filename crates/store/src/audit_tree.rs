//! The Merkle tree over the audit records (RFC 9162 §2.1, Certificate Transparency 2.0), pure.
//!
//! Leaf `i` (0-based) is audit record `i + 1`; its leaf hash is `SHA-256(0x00 ‖ record hash)`,
//! where the record hash is the chain hash [`crate::audit`] stores (it commits to the record's
//! canonical bytes and to the record before). A node is `SHA-256(0x01 ‖ left ‖ right)`, the left
//! subtree holding the largest power of two below the size. A signed head names a tree size (its
//! record number) and the root ([`crate::SignedHead::root`]); an inclusion proof
//! ([`InclusionProof`]) shows one record is leaf `index` of that tree, checkable with the record,
//! the proof and the signed head alone ([`check_inclusion`]).
//!
//! Appends stay O(1) amortised: the writer keeps the tree's right edge, a [`Frontier`] (at most
//! one subtree root per bit of the size, 64 × 32 bytes), and extends it with the records written
//! since the last signed head ([`TreeCache`]). Proofs are computed on demand over the stored
//! record hashes (O(tree size) hashes: [`inclusion_path`]).

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::audit::{canonical_bytes, chain_hash, hex, unhex, AuditRecord, HeadVerifier};

/// A tree hash.
pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ bytes)`: RFC 9162's leaf hash; for the audit tree `bytes` is the record's
/// 32-byte chain hash.
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(bytes);
    h.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The root of an empty tree: `SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

fn split(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// The root of a tree whose leaf hashes are `leaves` (MTH).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The inclusion path of leaf `index` in the tree of `leaves` (RFC 9162 §2.1.3.1), leaf to root;
/// `None` when `index` is not a leaf.
pub fn inclusion_path(leaves: &[Hash], index: u64) -> Option<Vec<Hash>> {
    if index >= leaves.len() as u64 {
        return None;
    }
    let mut path = Vec::new();
    path_into(leaves, index as usize, &mut path);
    Some(path)
}

fn path_into(leaves: &[Hash], m: usize, out: &mut Vec<Hash>) {
    if leaves.len() <= 1 {
        return;
    }
    let k = split(leaves.len() as u64) as usize;
    if m < k {
        path_into(&leaves[..k], m, out);
        out.push(root(&leaves[k..]));
    } else {
        path_into(&leaves[k..], m - k, out);
        out.push(root(&leaves[..k]));
    }
}

/// The root that leaf `leaf` at `index` of a tree of `size` leaves and its `path` lead to
/// (RFC 9162 §2.1.3.2); `None` when the path cannot belong to such a leaf (wrong length, index
/// out of range).
pub fn root_from_path(leaf: &Hash, index: u64, size: u64, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut f, mut s) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s == 0 {
            return None;
        }
        if f & 1 == 1 || f == s {
            r = node_hash(p, &r);
            while f & 1 == 0 && f != 0 {
                f >>= 1;
                s >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        f >>= 1;
        s >>= 1;
    }
    (s == 0).then_some(r)
}

/// The right edge of a tree: the roots of its complete subtrees, largest first (one per set bit
/// of the size). Pushing a leaf costs one hash per trailing one bit of the size (amortised one);
/// the root folds at most 64 of them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Subtree roots, the largest (leftmost) first.
    nodes: Vec<Hash>,
    /// The last record hash pushed (the leaf's bytes), to tell that the store still holds the
    /// records this frontier was built from (a chain hash commits to every record before it).
    last_record_hash: Option<Hash>,
}

impl Frontier {
    pub fn new() -> Frontier {
        Frontier::default()
    }

    /// Leaves pushed so far: the tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The record hash of the last leaf (`None` for an empty tree).
    pub fn last_record_hash(&self) -> Option<Hash> {
        self.last_record_hash
    }

    /// Append the next record, by its chain hash.
    pub fn push_record(&mut self, record_hash: &Hash) {
        let mut node = leaf_hash(record_hash);
        // Each trailing one bit of the old size is a complete subtree the new leaf completes.
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.nodes.pop().expect("one node per set bit");
            node = node_hash(&left, &node);
            size >>= 1;
        }
        self.nodes.push(node);
        self.size += 1;
        self.last_record_hash = Some(*record_hash);
        debug_assert_eq!(self.nodes.len() as u32, self.size.count_ones());
    }

    /// The tree's root (RFC 9162 MTH): the subtree roots folded right to left.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        let Some(last) = it.next() else {
            return empty_root();
        };
        it.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// The frontier the node keeps between two signed heads, shared by the writer's anchor requests
/// (`store::audit::AnchorRequest::tree`). The backend checks it against the records it holds
/// before using it (the record at its size must still have the same hash: a batch rolled back
/// after an anchor leaves it ahead of the store) and rebuilds it from the stored hashes if not.
#[derive(Debug, Default)]
pub struct TreeCache(Mutex<Frontier>);

impl TreeCache {
    pub fn new() -> TreeCache {
        TreeCache::default()
    }

    pub fn get(&self) -> Frontier {
        self.0.lock().expect("tree cache lock").clone()
    }

    pub fn set(&self, frontier: Frontier) {
        *self.0.lock().expect("tree cache lock") = frontier;
    }
}

/// What a backend reads to bring a cached frontier up to record `upto`: the stored hash of the
/// record at the cache's size (to check it), then the hashes after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Catchup {
    /// The record whose stored hash must equal the cache's last record hash (`None`: nothing to
    /// check, the cache is empty).
    pub check: Option<(i64, Hash)>,
    /// Read the hashes of records `from..=upto` and push them.
    pub from: i64,
    pub upto: i64,
}

/// The reads to bring `cached` to `upto` records (see [`Catchup`]); a cache beyond `upto` (the
/// chain is shorter than the cache: a restore or a rolled-back batch) starts over.
pub fn catchup(cached: &Frontier, upto: i64) -> (Frontier, Catchup) {
    let size = cached.size() as i64;
    match cached.last_record_hash() {
        Some(h) if size <= upto => (
            cached.clone(),
            Catchup {
                check: Some((size, h)),
                from: size + 1,
                upto,
            },
        ),
        _ => (
            Frontier::new(),
            Catchup {
                check: None,
                from: 1,
                upto,
            },
        ),
    }
}

/// One record's inclusion in the tree of the records 1..=`tree_size`: the JSON of
/// `GET /api/audit/proof/{seq}` and of `jinguan audit prove`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// The record's number (its leaf index is `seq - 1`).
    pub seq: i64,
    /// The tree's size: the record number the signed head names.
    pub tree_size: i64,
    /// Sibling hashes from the leaf up to the root, hex.
    pub path: Vec<String>,
}

/// An audit record as published with its proof: every field, hashes hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordJson {
    pub id: i64,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl From<&AuditRecord> for RecordJson {
    fn from(r: &AuditRecord) -> RecordJson {
        RecordJson {
            id: r.id,
            at_ms: r.at_ms,
            actor: r.actor.clone(),
            action: r.action.clone(),
            subject: r.subject.clone(),
            detail: r.detail.clone(),
            prev_hash: hex(&r.prev_hash),
            hash: hex(&r.hash),
        }
    }
}

fn hash_of(text: &str, what: &str) -> Result<Hash, String> {
    unhex(text)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| format!("{what} is not 32 bytes of hex"))
}

/// The proof for record `seq` in the tree of `leaves` (the leaf hashes of records 1..=n).
pub fn prove(leaves: &[Hash], seq: i64) -> Option<InclusionProof> {
    let index = u64::try_from(seq.checked_sub(1)?).ok()?;
    let path = inclusion_path(leaves, index)?;
    Some(InclusionProof {
        seq,
        tree_size: leaves.len() as i64,
        path: path.iter().map(|h| hex(h)).collect(),
    })
}

/// Check, with nothing but a signed head, a record and its proof, that the record is in the
/// audit log the head signs: the head's signature (with `verifier`), the record's own hash
/// (its canonical bytes and previous hash), and the path from its leaf to the head's root.
/// `Err(why)` names the first check that fails.
pub fn check_inclusion(
    head: &crate::SignedHead,
    record: &RecordJson,
    proof: &InclusionProof,
    verifier: &dyn HeadVerifier,
) -> Result<(), String> {
    head.check(verifier)
        .map_err(|why| format!("the head's signature does not verify: {why}"))?;
    let root_hex = head
        .root
        .as_deref()
        .ok_or("the head carries no Merkle root (signed before roots were added)")?;
    let root = hash_of(root_hex, "the head's root")?;
    if proof.tree_size != head.seq {
        return Err(format!(
            "the proof is for a tree of {} records, the head signs {}",
            proof.tree_size, head.seq
        ));
    }
    if proof.seq != record.id {
        return Err(format!(
            "the proof is for record {}, the record is {}",
            proof.seq, record.id
        ));
    }
    let prev = hash_of(&record.prev_hash, "the record's prev_hash")?;
    let hash = hash_of(&record.hash, "the record's hash")?;
    let canonical = canonical_bytes(
        record.id,
        record.at_ms,
        &record.actor,
        &record.action,
        &record.subject,
        &record.detail,
    );
    if chain_hash(&prev, &canonical) != hash {
        return Err("the record does not match its hash (altered)".into());
    }
    let path = proof
        .path
        .iter()
        .map(|p| hash_of(p, "a path hash"))
        .collect::<Result<Vec<_>, _>>()?;
    let (Ok(index), Ok(size)) = (u64::try_from(record.id - 1), u64::try_from(proof.tree_size))
    else {
        return Err("record number or tree size out of range".into());
    };
    match root_from_path(&leaf_hash(&hash), index, size, &path) {
        None => Err(format!(
            "the path has the wrong length for record {} of {}",
            record.id, proof.tree_size
        )),
        Some(r) if r != root => Err(format!(
            "the path leads to root {}, the head signs {}",
            hex(&r),
            root_hex
        )),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Hash {
        unhex(s).unwrap().try_into().unwrap()
    }

    /// RFC 6962 / 9162 reference data (certificate-transparency's merkle tree tests): eight
    /// leaves' input bytes, the roots of the trees of their first 1..=8, and two inclusion paths.
    const INPUTS: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn rfc_leaves() -> Vec<Hash> {
        INPUTS
            .iter()
            .map(|i| leaf_hash(&unhex(i).unwrap()))
            .collect()
    }

    #[test]
    fn roots_and_paths_match_the_rfc_test_vectors() {
        assert_eq!(
            hex(&empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let leaves = rfc_leaves();
        for n in 1..=8 {
            assert_eq!(hex(&root(&leaves[..n])), ROOTS[n - 1], "size {n}");
        }
        let path0 = [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        let path5 = [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ];
        for (index, want) in [(0u64, path0), (5, path5)] {
            let got = inclusion_path(&leaves, index).unwrap();
            assert_eq!(got, want.map(h).to_vec(), "index {index}");
            assert_eq!(
                root_from_path(&leaves[index as usize], index, 8, &got),
                Some(h(ROOTS[7]))
            );
        }
    }

    /// Leaf hashes of `n` made-up record hashes.
    fn records(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| Sha256::digest(format!("record {i}")).into())
            .collect()
    }

    #[test]
    fn the_frontier_gives_the_root_of_every_prefix() {
        let recs = records(300);
        let leaves: Vec<Hash> = recs.iter().map(|r| leaf_hash(r)).collect();
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for (i, r) in recs.iter().enumerate() {
            f.push_record(r);
            assert_eq!(f.size(), i as u64 + 1);
            assert_eq!(f.root(), root(&leaves[..=i]), "size {}", i + 1);
        }
    }

    #[test]
    fn every_leaf_of_every_tree_up_to_64_proves_and_tampering_fails() {
        let recs = records(64);
        let leaves: Vec<Hash> = recs.iter().map(|r| leaf_hash(r)).collect();
        for n in 1..=64usize {
            let tree = &leaves[..n];
            let r = root(tree);
            for i in 0..n as u64 {
                let path = inclusion_path(tree, i).unwrap();
                assert_eq!(
                    root_from_path(&tree[i as usize], i, n as u64, &path),
                    Some(r),
                    "n={n} i={i}"
                );
                // Another leaf at this place.
                let other = leaf_hash(b"forged");
                assert_ne!(root_from_path(&other, i, n as u64, &path), Some(r));
                // Another index, a flipped path bit, a shorter or longer path: not the root.
                if n > 1 {
                    let j = (i + 1) % n as u64;
                    assert_ne!(
                        root_from_path(&tree[i as usize], j, n as u64, &path),
                        Some(r)
                    );
                    let mut flipped = path.clone();
                    flipped[0][0] ^= 1;
                    assert_ne!(
                        root_from_path(&tree[i as usize], i, n as u64, &flipped),
                        Some(r)
                    );
                    assert_ne!(
                        root_from_path(&tree[i as usize], i, n as u64, &path[1..]),
                        Some(r)
                    );
                }
                let mut longer = path.clone();
                longer.push([0; 32]);
                assert_eq!(
                    root_from_path(&tree[i as usize], i, n as u64, &longer),
                    None
                );
                // An index beyond the size: no root. (A path read as one of a larger tree can
                // lead to the same root when the leaf's side is the same in both: the tree size
                // is bound by the signed head, which `check_inclusion` compares.)
                assert_eq!(root_from_path(&tree[i as usize], i, i, &path), None);
            }
            assert_eq!(inclusion_path(tree, n as u64), None);
        }
    }

    #[test]
    fn a_cache_ahead_of_the_chain_starts_over() {
        let mut f = Frontier::new();
        for r in records(10) {
            f.push_record(&r);
        }
        let (kept, c) = catchup(&f, 15);
        assert_eq!(kept.size(), 10);
        assert_eq!(c.check.map(|(id, _)| id), Some(10));
        assert_eq!((c.from, c.upto), (11, 15));
        let (fresh, c) = catchup(&f, 9);
        assert_eq!(fresh.size(), 0);
        assert_eq!((c.check, c.from, c.upto), (None, 1, 9));
    }
}
