//! What the audit log's Merkle tree costs on a long log (docs/OPERATIONS.md "Audit anchors"):
//! `JINGUAN_AUDIT_TREE_RECORDS` records (default 50,000; the figures in docs/OPERATIONS.md are
//! of 300,000) written straight into the table, then
//! the first anchor (which reads every stored hash once to build the tree's right edge), a
//! second anchor after 1,000 more records (which reads those 1,000 only), and one inclusion
//! proof over the whole tree (O(n) reads and hashes, on demand). The roots are checked against
//! the tree computed independently; the times are printed, not asserted.

use std::sync::Arc;
use std::time::Instant;

use rusqlite::{params, Connection};
use store::audit::{AnchorRequest, ChainHead, HeadSigner, HeadVerifier};
use store::audit_tree::{check_inclusion, leaf_hash, root, RecordJson, TreeCache};
use store::Store;
use store_sqlite::{SqliteOptions, SqliteStore, DB_FILE};

struct Key;

impl HeadSigner for Key {
    fn key_name(&self) -> String {
        "TEST CUSTOMS cost-1".into()
    }
    /// Not a signature: the store only carries it (the real keys are tested in `app::anchor`).
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        [b"k".as_slice(), message].concat()
    }
}

impl HeadVerifier for Key {
    fn verify(&self, _key: &str, message: &[u8], signature: &[u8]) -> Result<(), String> {
        (self.sign(message) == signature)
            .then_some(())
            .ok_or_else(|| "bad signature".into())
    }
}

/// Append `n` records to the table after `head`, in one transaction.
fn write_records(db: &std::path::Path, head: &mut ChainHead, n: usize) {
    let mut c = Connection::open(db).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut stmt = tx
            .prepare("INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
            .unwrap();
        for i in 0..n {
            let r = head.next(
                1_700_000_000_000 + i as i64,
                "system:cost",
                "append",
                &format!("declaration:{i}"),
                format!("{{\"i\":{i}}}"),
            );
            stmt.execute(params![
                r.id,
                r.at_ms,
                r.actor,
                r.action,
                r.subject,
                r.detail,
                &r.prev_hash[..],
                &r.hash[..]
            ])
            .unwrap();
        }
    }
    tx.commit().unwrap();
}

#[test]
fn anchoring_a_long_log_reads_each_record_hash_once() {
    let n: usize = std::env::var("JINGUAN_AUDIT_TREE_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let dir = tempfile::tempdir().unwrap();
    // Create the schema, then write the log as a long-running node would have.
    drop(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
    let db = dir.path().join(DB_FILE);
    let mut head = ChainHead::EMPTY;
    let t = Instant::now();
    write_records(&db, &mut head, n);
    println!("{n} records written in {:?}", t.elapsed());

    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    let tree = Arc::new(TreeCache::new());
    let request = |unless_at| AnchorRequest {
        signer: Arc::new(Key),
        unless_at,
        actor: clearance::Actor::System {
            component: "anchor".into(),
        },
        now: chrono::DateTime::from_timestamp_millis(1_800_000_000_000).unwrap(),
        tree: tree.clone(),
        publish_to: vec![],
    };
    let t = Instant::now();
    let first = store.anchor_audit(request(0)).unwrap().unwrap();
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(first.seq, n as i64 + 1);
    drop(store);

    let mut head = current_head(&db);
    write_records(&db, &mut head, 1_000);
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    let t = Instant::now();
    let second = store.anchor_audit(request(first.seq)).unwrap().unwrap();
    let second_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(second.seq, first.seq + 1_001);

    let t = Instant::now();
    let hashes = store.audit_hashes(1, second.seq).unwrap();
    let read_ms = t.elapsed().as_secs_f64() * 1e3;
    let leaves: Vec<_> = hashes.iter().map(|h| leaf_hash(h)).collect();
    assert_eq!(
        second.root.as_deref(),
        Some(store::audit::hex(&root(&leaves)).as_str())
    );
    assert_eq!(
        first.root.as_deref(),
        Some(store::audit::hex(&root(&leaves[..first.seq as usize])).as_str())
    );

    let t = Instant::now();
    let (record, proof) = store.audit_proof(12_345, second.seq).unwrap().unwrap();
    let proof_ms = t.elapsed().as_secs_f64() * 1e3;
    check_inclusion(&second, &RecordJson::from(&record), &proof, &Key).unwrap();
    assert_eq!(tree.get().size() as i64, second.seq);

    let t = Instant::now();
    let report = store
        .verify_audit_with(&store::VerifyOptions {
            heads: vec![second.clone()],
            verifier: Some(Arc::new(Key)),
        })
        .unwrap();
    let verify_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.tree, tree.get(), "the verifier builds the same tree");

    // A node that verified its chain at start hands the tree to its writer (`jinguan serve`):
    // its first anchor reads the records since only.
    drop(store);
    let started = Arc::new(TreeCache::new());
    started.set(report.tree.clone());
    let mut head = current_head(&db);
    write_records(&db, &mut head, 1_000);
    let store = SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap();
    let mut req = request(second.seq);
    req.tree = started.clone();
    let t = Instant::now();
    let third = store.anchor_audit(req).unwrap().unwrap();
    let third_ms = t.elapsed().as_secs_f64() * 1e3;
    let hashes = store.audit_hashes(1, third.seq).unwrap();
    let leaves: Vec<_> = hashes.iter().map(|h| leaf_hash(h)).collect();
    assert_eq!(third.root, Some(store::audit::hex(&root(&leaves))));
    let report = store
        .verify_audit_with(&store::VerifyOptions {
            heads: vec![third.clone()],
            verifier: Some(Arc::new(Key)),
        })
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
    println!(
        "audit tree of {} records: first anchor without a cached tree (reads every hash) \
         {first_ms:.0} ms; anchor after 1,000 more (reads those) {second_ms:.1} ms; first anchor \
         after a start that verified the chain, 1,000 more {third_ms:.1} ms; reading every hash \
         {read_ms:.0} ms; one inclusion proof {proof_ms:.0} ms; verifying the chain with its \
         roots {verify_ms:.0} ms",
        second.seq
    );
}

/// The chain head as stored (after the first anchor record).
fn current_head(db: &std::path::Path) -> ChainHead {
    let c = Connection::open(db).unwrap();
    let (id, hash): (i64, Vec<u8>) = c
        .query_row(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    ChainHead {
        last_id: id,
        last_hash: hash.try_into().unwrap(),
    }
}
