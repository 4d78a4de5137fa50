//! Issue 15: scheduled backups of `jinguan serve` with retention, and `jinguan backup` killed
//! (SIGKILL) at any moment: the store and the earlier backups stay sound, and no half-written
//! backup is ever left under the final name.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

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

fn scheduled(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.retain(|p| {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("jinguan-") && n.ends_with(".db"))
    });
    v.sort();
    v
}

/// A store with the demo data, written by a server that is then stopped.
fn demo_store(data: &Path, declarations: &str) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--demo",
        "--demo-declarations",
        declarations,
    ])
    .arg("--data-dir")
    .arg(data)
    .current_dir(root());
    let (mut child, _) = common::spawn_serve(&mut cmd);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn serve_takes_verified_backups_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let backups = dir.path().join("backups");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
    cmd.args([
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--demo",
        "--demo-declarations",
        "5",
    ])
    .args(["--backup-every", "1s", "--backup-keep", "2", "--backup-dir"])
    .arg(&backups)
    .arg("--data-dir")
    .arg(&data)
    .current_dir(root());
    let (mut child, _) = common::spawn_serve(&mut cmd);
    // Wait for a third backup: the first two were then rotated through.
    let t = Instant::now();
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 3 && t.elapsed() < Duration::from_secs(60) {
        seen.extend(scheduled(&backups));
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    let kept = scheduled(&backups);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert_eq!(
        &kept[..],
        &seen.iter().cloned().collect::<Vec<_>>()[seen.len() - 2..]
    );
    for b in &kept {
        let o = jinguan(&["backup", "verify", b.to_str().unwrap()], &data);
        assert!(o.status.success(), "{}", text(&o));
    }
}

#[test]
fn a_backup_killed_midway_leaves_the_store_and_earlier_backups_sound() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("backups");
    std::fs::create_dir_all(&out).unwrap();
    demo_store(&data, "100");
    let earlier = out.join("earlier.db");
    let o = jinguan(&["backup", "--to", earlier.to_str().unwrap()], &data);
    assert!(o.status.success(), "{}", text(&o));

    let target = out.join("killed.db");
    for i in 0..12u64 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jinguan"))
            .args(["backup", "--to"])
            .arg(&target)
            .arg("--data-dir")
            .arg(&data)
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Killed at 0, 4, 8, … ms: before, during or after the copy.
        std::thread::sleep(Duration::from_millis(i * 4));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Under the final name: nothing, or a whole backup that verifies.
        if target.exists() {
            let o = jinguan(&["backup", "verify", target.to_str().unwrap()], &data);
            assert!(o.status.success(), "kill at {} ms: {}", i * 4, text(&o));
            std::fs::remove_file(&target).unwrap();
        }
    }
    // The store and the earlier backup are intact.
    let o = jinguan(&["audit", "verify"], &data);
    assert!(o.status.success(), "{}", text(&o));
    let o = jinguan(&["backup", "verify", earlier.to_str().unwrap()], &data);
    assert!(o.status.success(), "{}", text(&o));
    // Only temporary files (dot-named) may be left by the killed copies.
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        assert!(n == "earlier.db" || n.starts_with(".killed.db.tmp-"), "{n}");
    }
}
