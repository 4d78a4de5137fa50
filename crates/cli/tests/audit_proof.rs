//! Issue 15 item 7, completed: the audit log's signed heads carry the RFC 9162 Merkle root of
//! the records they cover and are published to the agencies over the exchange; an agency keeps
//! the last head it received and, with nothing else,
//! - checks one record's inclusion proof (`jinguan audit check-proof`: the head's signature,
//!   the record's hash, the path to the root), and
//! - finds the log cut off or rewritten against that head (`jinguan audit verify --head FILE`),
//!   even when whoever did it also removed the node's own head file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use serde_json::Value;
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

fn sign_in(http: &reqwest::blocking::Client, base: &str, login: &str) -> String {
    let r = http
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({"login": login, "password": "jinguan-demo"}))
        .send()
        .unwrap();
    assert!(r.status().is_success(), "{login}: {}", r.status());
    let v: Value = r.json().unwrap();
    v["token"].as_str().unwrap().to_owned()
}

fn get(http: &reqwest::blocking::Client, url: &str, token: &str) -> (u16, Value) {
    let r = http.get(url).bearer_auth(token).send().unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

#[test]
fn an_agency_checks_a_record_and_the_whole_log_against_the_head_it_was_sent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("node");
    let agency = dir.path().join("agency");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::create_dir_all(&agency).unwrap();
    let db = data.join("jinguan.db");
    let head_file = data.join("audit-head.json");

    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--demo",
        "--demo-declarations",
        "10",
        "--audit-publish-seconds",
        "1",
    ])
    .arg("--data-dir")
    .arg(&data)
    .current_dir(root());
    let (mut child, base) = common::spawn_serve(&mut cmd);
    let t = Instant::now();
    while !head_file.exists() && t.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    // Quiet for a few anchor periods: the last head covers everything written.
    std::thread::sleep(Duration::from_millis(2500));
    let http = reqwest::blocking::Client::new();
    let admin = sign_in(&http, &base, "admin");

    // The head, as any signed-in user reads it, carries the root.
    let (status, head) = get(&http, &format!("{base}/api/audit/head"), &admin);
    assert_eq!(status, 200);
    let size = head["seq"].as_i64().unwrap();
    assert!(size > 100, "{head}");
    assert_eq!(head["root"].as_str().map(str::len), Some(64), "{head}");

    // The tax agency received signed heads on its feed (the exchange), each with its root.
    let sat = sign_in(&http, &base, "sat");
    let (status, feed) = get(&http, &format!("{base}/api/exchange/feed?limit=1000"), &sat);
    assert_eq!(status, 200, "{feed}");
    let heads: Vec<Value> = feed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "audit_head_published.v1")
        .map(|m| serde_json::from_str(m["payload"].as_str().expect("a payload string")).unwrap())
        .collect();
    assert!(!heads.is_empty(), "no head on the TAX feed: {feed}");
    for h in &heads {
        assert_eq!(h["root"].as_str().map(str::len), Some(64), "{h}");
    }
    // The agency keeps the newest head it was sent.
    let kept = heads.last().unwrap().clone();
    let kept_seq = kept["seq"].as_i64().unwrap();
    let agency_head = agency.join("head.json");
    std::fs::write(&agency_head, kept.to_string()).unwrap();

    // A proof of record 5 in the tree that head signs, from the node.
    let (status, proof) = get(
        &http,
        &format!("{base}/api/audit/proof/5?tree_size={kept_seq}"),
        &admin,
    );
    assert_eq!(status, 200, "{proof}");
    assert_eq!(proof["record"]["id"], 5);
    assert_eq!(proof["proof"]["tree_size"], kept_seq);
    // Bad requests are 4xx with both languages, never 500.
    for (url, want) in [
        (
            format!("{base}/api/audit/proof/0?tree_size={kept_seq}"),
            422,
        ),
        (format!("{base}/api/audit/proof/x"), 422),
        (format!("{base}/api/audit/proof/5?tree_size=99999999"), 404),
        (format!("{base}/api/audit/proof/5?size=3"), 422),
    ] {
        let (status, body) = get(&http, &url, &admin);
        assert_eq!(status, want, "{url}: {body}");
        if want == 422 {
            assert!(
                body["error"]["problems"][0]["message_zh"].is_string(),
                "{body}"
            );
        }
    }
    // Not an administrator: refused.
    let (status, _) = get(
        &http,
        &format!("{base}/api/audit/proof/5?tree_size={kept_seq}"),
        &sat,
    );
    assert_eq!(status, 403);
    child.kill().unwrap();
    child.wait().unwrap();

    // The agency checks it alone: the head, the proof, customs' public key.
    let keys = agency.join("customs.pub");
    let o = jinguan(&["audit", "public-key"], &data);
    assert!(o.status.success(), "{}", text(&o));
    std::fs::write(&keys, &o.stdout).unwrap();
    let proof_file = agency.join("proof.json");
    std::fs::write(&proof_file, proof.to_string()).unwrap();
    let check = |proof: &Path, head: &Path| {
        Command::new(env!("CARGO_BIN_EXE_jinguan"))
            .args(["audit", "check-proof", "--head"])
            .arg(head)
            .arg("--proof")
            .arg(proof)
            .arg("--keys")
            .arg(&keys)
            .current_dir(&agency)
            .output()
            .unwrap()
    };
    let o = check(&proof_file, &agency_head);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("record 5 is in the audit log"),
        "{}",
        text(&o)
    );

    // `jinguan audit prove` gives the same proof from the store.
    let o = jinguan(
        &[
            "audit",
            "prove",
            "5",
            "--head",
            agency_head.to_str().unwrap(),
        ],
        &data,
    );
    assert!(o.status.success(), "{}", text(&o));
    let proved: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(proved["proof"], proof["proof"]);
    assert_eq!(proved["record"], proof["record"]);
    assert_eq!(proved["head"], kept);

    // An altered record, an altered path, a head whose root was changed: each refused.
    let mut altered = proof.clone();
    altered["record"]["detail"] = Value::String("{\"forged\":true}".into());
    let f = agency.join("altered.json");
    std::fs::write(&f, altered.to_string()).unwrap();
    let o = check(&f, &agency_head);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("altered"), "{}", text(&o));
    let mut bad_path = proof.clone();
    let first = bad_path["proof"]["path"][0].as_str().unwrap().to_owned();
    let flipped = format!(
        "{}{}",
        if first.starts_with('0') { "1" } else { "0" },
        &first[1..]
    );
    bad_path["proof"]["path"][0] = Value::String(flipped);
    std::fs::write(&f, bad_path.to_string()).unwrap();
    let o = check(&f, &agency_head);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("leads to root"), "{}", text(&o));
    let mut forged_head = kept.clone();
    forged_head["root"] = Value::String("00".repeat(32));
    let fh = agency.join("forged-head.json");
    std::fs::write(&fh, forged_head.to_string()).unwrap();
    let o = check(&proof_file, &fh);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("signature does not verify"),
        "{}",
        text(&o)
    );

    // Whoever can write the database and the data folder cuts off the newest records and
    // removes the node's head file: the node alone no longer sees it, the agency's head does.
    let original = rows(&db);
    let n = original.len();
    assert!(n as i64 >= kept_seq);
    std::fs::remove_file(&head_file).unwrap();
    // Cut back to the last anchor before the published head's record (or to nothing when
    // there is none), so that the chain alone looks whole.
    let before_head = (kept_seq as usize).saturating_sub(1);
    let cut_to = original[..before_head]
        .iter()
        .rposition(|r| r.action == "anchor_head")
        .map_or(0, |i| i + 1);
    set_rows(&db, &original[..cut_to]);
    let o = jinguan(&["audit", "verify"], &data);
    assert!(o.status.success(), "the chain alone: {}", text(&o));
    let o = jinguan(
        &["audit", "verify", "--head", agency_head.to_str().unwrap()],
        &data,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains(&format!("at record {}: records cut off", cut_to + 1)),
        "{}",
        text(&o)
    );

    // A rewrite of the newest anchor record (the last one the agency's head covers), every
    // later hash recomputed: no anchor in the store can tell; the agency's head does.
    let mut rewritten = original[..kept_seq as usize].to_vec();
    let last = rewritten.len() - 1;
    assert_eq!(rewritten[last].action, "anchor_head");
    rewritten[last].detail = rewritten[last].detail.replacen('{', "{ ", 1);
    let mut prev = GENESIS;
    for r in rewritten.iter_mut() {
        r.prev_hash = prev;
        r.hash = chain_hash(
            &prev,
            &canonical_bytes(r.id, r.at_ms, &r.actor, &r.action, &r.subject, &r.detail),
        );
        prev = r.hash;
    }
    set_rows(&db, &rewritten);
    let o = jinguan(&["audit", "verify"], &data);
    assert!(o.status.success(), "the chain alone: {}", text(&o));
    let o = jinguan(
        &["audit", "verify", "--head", agency_head.to_str().unwrap()],
        &data,
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("was rewritten"), "{}", text(&o));

    // Put back: the agency's head verifies the log.
    set_rows(&db, &original);
    let o = jinguan(
        &["audit", "verify", "--head", agency_head.to_str().unwrap()],
        &data,
    );
    assert!(o.status.success(), "{}", text(&o));
}
