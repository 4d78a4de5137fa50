//! Issue 15 item 7: the audit chain anchored by `jinguan serve` (signed heads in the chain and
//! in `audit-head.json`). Cutting off the newest records (the last 1, the last 50, all) or
//! rewriting one with every later hash recomputed — as someone with write access to the
//! database but not the node's key would — is reported by `jinguan audit verify` naming the
//! record, and `jinguan serve` refuses to start on it unless told to, then answers `/ready` 503.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use store::audit::{canonical_bytes, chain_hash, AuditRecord, GENESIS};

mod common;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn jinguan(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(root())
        .output()
        .expect("jinguan runs")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn rows(db: &Path) -> Vec<AuditRecord> {
    let c = Connection::open(db).unwrap();
    let mut stmt = c
        .prepare("SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok(AuditRecord::from_columns(
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
        )
        .unwrap())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn set_rows(db: &Path, rows: &[AuditRecord]) {
    let mut c = Connection::open(db).unwrap();
    let tx = c.transaction().unwrap();
    tx.execute("DELETE FROM audit_log", []).unwrap();
    for r in rows {
        tx.execute(
            "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            rusqlite::params![r.id, r.at_ms, r.actor, r.action, r.subject, r.detail, &r.prev_hash[..], &r.hash[..]],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

#[test]
fn truncation_and_rewrite_are_found_and_the_server_refuses_to_start_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let db = data.join("jinguan.db");
    let head_file = data.join("audit-head.json");

    // A server with the demo data anchors its chain within a second of starting.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--demo",
        "--demo-declarations",
        "10",
    ])
    .arg("--data-dir")
    .arg(data)
    .current_dir(root());
    let (mut child, _) = common::spawn_serve(&mut cmd);
    let t = Instant::now();
    while !head_file.exists() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child.kill().unwrap();
    child.wait().unwrap();
    let head: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&head_file).unwrap()).unwrap();
    let original = rows(&db);
    let n = original.len();
    assert!(n > 120, "the demo writes records: {n}");
    assert_eq!(
        head["seq"].as_i64(),
        Some(n as i64),
        "the head covers the last record"
    );
    assert_eq!(original[n - 1].action, "anchor_head");

    let ok = jinguan(&["audit", "verify"], data);
    assert!(ok.status.success(), "{}", text(&ok));
    assert!(text(&ok).contains("signatures checked"), "{}", text(&ok));

    // Cut off the last 1, the last 50, every record.
    for cut in [1, 50, n] {
        set_rows(&db, &original[..n - cut]);
        let o = jinguan(&["audit", "verify"], data);
        assert_eq!(o.status.code(), Some(1), "cut {cut}: {}", text(&o));
        let expected = format!(
            "BROKEN 审计链断裂 at record {}: records cut off",
            n - cut + 1
        );
        assert!(text(&o).contains(&expected), "cut {cut}: {}", text(&o));
    }

    // Rewrite record 100 and recompute every later hash: the next anchor (or, with none in
    // the store after it, the head kept outside) no longer matches.
    let mut rewritten = original.clone();
    let mut prev = GENESIS;
    for r in rewritten.iter_mut() {
        if r.id == 100 {
            r.detail = r#"{"forged":true}"#.into();
        }
        r.prev_hash = prev;
        r.hash = chain_hash(
            &prev,
            &canonical_bytes(r.id, r.at_ms, &r.actor, &r.action, &r.subject, &r.detail),
        );
        prev = r.hash;
    }
    set_rows(&db, &rewritten);
    let o = jinguan(&["audit", "verify"], data);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("was rewritten"), "{}", text(&o));

    // The server refuses to start on it, naming the record …
    let o = jinguan(&["serve", "--addr", "127.0.0.1:0"], data);
    assert!(!o.status.success());
    assert!(text(&o).contains("refusing to start"), "{}", text(&o));
    assert!(
        text(&o).contains("audit chain BROKEN 审计链断裂 at record"),
        "{}",
        text(&o)
    );

    // … unless told to, and then it is not ready.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--start-despite-broken-audit",
    ])
    .arg("--data-dir")
    .arg(data)
    .current_dir(root());
    let (mut child, base) = common::spawn_serve(&mut cmd);
    let r = reqwest::blocking::get(format!("{base}/ready")).unwrap();
    assert_eq!(r.status().as_u16(), 503);
    let body: serde_json::Value = r.json().unwrap();
    assert_eq!(body["reason"], "audit_chain_broken");
    child.kill().unwrap();
    child.wait().unwrap();

    // Put back as it was: it verifies again.
    set_rows(&db, &original);
    let o = jinguan(&["audit", "verify"], data);
    assert!(o.status.success(), "{}", text(&o));
}
