//! Issue 15 item 6: `jinguan backup` of the SQLite store while a server files, `jinguan backup
//! verify`, `jinguan restore`, and a server started on the restored store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use serde_json::Value;

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

/// `jinguan serve` as a child process on a free port, killed when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Server {
    fn start(data_dir: &Path, demo: bool) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
        cmd.args(["serve", "--addr", "127.0.0.1:0"]);
        if demo {
            cmd.args(["--demo", "--demo-declarations", "20"]);
        }
        let (child, base) =
            common::spawn_serve(cmd.arg("--data-dir").arg(data_dir).current_dir(root()));
        Server { child, base }
    }

    fn login(&self, client: &reqwest::blocking::Client, login: &str) -> String {
        let r = client
            .post(format!("{}/api/session", self.base))
            .json(&serde_json::json!({"login": login, "password": "jinguan-demo"}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "sign-in of {login}");
        let v: Value = r.json().unwrap();
        v["token"].as_str().unwrap().to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// File the laptops example as ent-sh with `seq`; returns the answer (status 201 asserted).
fn file(client: &reqwest::blocking::Client, base: &str, token: &str, seq: &str) -> Value {
    let r = client
        .post(format!("{base}/api/declarations"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("Client-Seq-No", seq)
        .body(std::fs::read(root().join("examples/import-laptops.json")).unwrap())
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let v: Value = r.json().unwrap();
    assert_eq!(status, 201, "filing {seq}: {v}");
    v
}

#[test]
fn a_backup_taken_while_filing_verifies_and_restores_into_a_working_store() {
    let live = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let fresh_dir = fresh.path().join("restored");
    let backup_file = out.path().join("jinguan-backup.db");

    let server = Server::start(live.path(), true);
    let client = reqwest::blocking::Client::new();
    let token = server.login(&client, "ent-sh");
    let before = file(&client, &server.base, &token, "before-backup");

    // Filers keep filing while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let filed = Arc::new(AtomicUsize::new(0));
    let filers: Vec<_> = (0..4)
        .map(|t| {
            let (stop, filed) = (stop.clone(), filed.clone());
            let (base, token) = (server.base.clone(), token.clone());
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::new();
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) || i < 3 {
                    // The same document again may be refused as a duplicate: the load is what
                    // counts here, so any answer but a server error does.
                    let r = client
                        .post(format!("{base}/api/declarations"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .header("Client-Seq-No", format!("during-{t}-{i}"))
                        .body(std::fs::read(root().join("examples/import-laptops.json")).unwrap())
                        .send()
                        .unwrap();
                    assert!(
                        r.status().as_u16() < 500,
                        "filing during the backup: {}",
                        r.status()
                    );
                    filed.fetch_add(1, Ordering::Relaxed);
                    i += 1;
                }
            })
        })
        .collect();
    while filed.load(Ordering::Relaxed) < 4 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = jinguan(
        &["backup", "--to", backup_file.to_str().unwrap()],
        live.path(),
    );
    stop.store(true, Ordering::Relaxed);
    for f in filers {
        f.join().unwrap();
    }
    assert_eq!(o.status.code(), Some(0), "backup: {}", text(&o));
    assert!(backup_file.is_file());
    // No temporary file is left beside it.
    let names: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "only the backup is left: {names:?}");

    let o = jinguan(
        &["backup", "verify", backup_file.to_str().unwrap()],
        fresh.path(),
    );
    let said = text(&o);
    assert_eq!(o.status.code(), Some(0), "verify: {said}");
    assert!(said.contains("audit chain intact"), "{said}");
    assert!(said.contains("declarations 报关单: "), "{said}");

    // Restore into a fresh folder, and not over a store without --force.
    let o = jinguan(
        &["restore", "--from", backup_file.to_str().unwrap()],
        &fresh_dir,
    );
    assert_eq!(o.status.code(), Some(0), "restore: {}", text(&o));
    let o = jinguan(
        &["restore", "--from", backup_file.to_str().unwrap()],
        &fresh_dir,
    );
    assert_ne!(o.status.code(), Some(0), "restore over a store refused");
    assert!(text(&o).contains("already holds a store"), "{}", text(&o));
    let o = jinguan(
        &[
            "restore",
            "--force",
            "--from",
            backup_file.to_str().unwrap(),
        ],
        &fresh_dir,
    );
    assert_eq!(o.status.code(), Some(0), "restore --force: {}", text(&o));
    drop(server);

    // The audit chain's anchors are signed with the data folder's exchange key, which travels
    // with a restore (docs/OPERATIONS.md): without it, serve refuses the chain it cannot verify.
    let o = jinguan(&["serve", "--addr", "127.0.0.1:0"], &fresh_dir);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("signature does not verify"),
        "{}",
        text(&o)
    );
    std::fs::remove_file(fresh_dir.join("exchange-customs.key")).unwrap();
    std::fs::remove_file(fresh_dir.join("exchange-customs.pub")).unwrap();
    for f in ["exchange-customs.key", "exchange-customs.pub"] {
        std::fs::copy(live.path().join(f), fresh_dir.join(f)).unwrap();
    }

    // A server on the restored store (no demo) has the declaration acknowledged before.
    let restored = Server::start(&fresh_dir, false);
    let token = restored.login(&client, "ent-sh");
    let r = client
        .get(format!(
            "{}/api/declarations/{}",
            restored.base,
            before["id"]
                .as_str()
                .map_or(before["id"].to_string(), str::to_owned)
        ))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().unwrap();
    assert!(
        v.to_string()
            .contains(before["declaration_no"].as_str().unwrap()),
        "the restored declaration keeps its number: {v}"
    );
    let o = jinguan(&["audit", "verify"], &fresh_dir);
    drop(restored);
    assert_eq!(o.status.code(), Some(0), "audit verify: {}", text(&o));

    // A damaged backup fails verify, and restore refuses it.
    let damaged = out.path().join("damaged.db");
    let mut bytes = std::fs::read(&backup_file).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 4096] {
        *b ^= 0xA5;
    }
    std::fs::write(&damaged, bytes).unwrap();
    let o = jinguan(
        &["backup", "verify", damaged.to_str().unwrap()],
        fresh.path(),
    );
    let said = text(&o);
    assert_eq!(o.status.code(), Some(1), "damaged backup: {said}");
    assert!(said.contains("backup DAMAGED 备份已损坏"), "{said}");
    let elsewhere = fresh.path().join("from-damaged");
    let o = jinguan(
        &["restore", "--from", damaged.to_str().unwrap()],
        &elsewhere,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "restore of a damaged backup: {}",
        text(&o)
    );
    assert!(!elsewhere.join("jinguan.db").exists());
}
