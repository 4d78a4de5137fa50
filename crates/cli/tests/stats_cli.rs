#![cfg(feature = "stats")]
//! `jinguan stats` as a user runs it: an extraction killed with SIGKILL part-way resumes and
//! counts every declaration exactly once; a bad month or query is refused in both languages
//! with exit status 2; the bulletin is written as CSV and Excel.

#[path = "../../stats/tests/common/mod.rs"]
mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{at, export, import, line, Ledger};

fn jinguan(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .output()
        .unwrap()
}

/// A ledger of `n` released imports and `n / 4` closed exports in October 2026.
fn ledger(data_dir: &Path, n: u32) -> (i64, i64) {
    let mut l = Ledger::open(data_dir);
    let (mut items, mut fen) = (0, 0);
    for i in 0..n {
        let day = 1 + i % 28;
        let id = l.file(
            &import(vec![
                line("8471300000", "1000.00", "CNY", "USA"),
                line("8517130000", "250.50", "CNY", "KOR"),
            ]),
            at(2026, 10, day),
        );
        l.release(id, at(2026, 10, day));
        items += 2;
        fen += 125_050;
        if i % 4 == 0 {
            let e = l.file(
                &export(vec![line("6403990000", "300.00", "CNY", "DEU")]),
                at(2026, 10, day),
            );
            l.close_export(e, at(2026, 10, day), at(2026, 10, day));
            items += 1;
            fen += 30_000;
        }
    }
    (items, fen)
}

fn totals(data_dir: &Path, wh: &Path) -> String {
    let out = jinguan(
        &[
            "stats",
            "query",
            "SELECT CAST(SUM(items) AS BIGINT) AS items, SUM(value_cny_fen) AS fen, COUNT(DISTINCT declaration_id) AS declarations FROM items",
            "--format",
            "csv",
            "--warehouse",
            wh.to_str().unwrap(),
        ],
        data_dir,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_killed_extraction_resumes_without_counting_twice() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (items, fen) = ledger(&data, 120);
    let wh = dir.path().join("wh");
    // Small batches: many files and many state writes to be killed between.
    let mut child = Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .arg("--data-dir")
        .arg(&data)
        .args(["stats", "extract", "--quiet", "--batch", "3", "--warehouse"])
        .arg(&wh)
        .spawn()
        .unwrap();
    // Kill it once it has committed a few batches, mid-run.
    let started = Instant::now();
    let mut killed_mid_run = false;
    loop {
        let runs = std::fs::read(wh.join("state.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|s| s["next_run"].as_i64())
            .unwrap_or(0);
        if runs >= 4 {
            killed_mid_run = child.try_wait().unwrap().is_none();
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            break;
        }
        if child.try_wait().unwrap().is_some() || started.elapsed() > Duration::from_secs(120) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        killed_mid_run,
        "the extraction was killed part-way (make the ledger bigger if not)"
    );
    // Resume: the rest is extracted, nothing twice.
    let out = jinguan(
        &[
            "stats",
            "extract",
            "--quiet",
            "--warehouse",
            wh.to_str().unwrap(),
        ],
        &data,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want = format!("items,fen,declarations\n{items},{fen},150\n");
    assert_eq!(totals(&data, &wh), want);
    // The same as one extraction from scratch.
    let fresh = dir.path().join("fresh");
    let out = jinguan(
        &[
            "stats",
            "extract",
            "--quiet",
            "--warehouse",
            fresh.to_str().unwrap(),
        ],
        &data,
    );
    assert!(out.status.success());
    assert_eq!(totals(&data, &fresh), want);
    // And no row of a declaration twice.
    let out = jinguan(
        &[
            "stats",
            "query",
            "SELECT COUNT(*) AS n FROM (SELECT declaration_id, item_no FROM items GROUP BY declaration_id, item_no HAVING SUM(items) <> 1)",
            "--format",
            "csv",
            "--warehouse",
            wh.to_str().unwrap(),
        ],
        &data,
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "n\n0\n");
}

#[test]
fn bad_month_and_bad_query_are_refused_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    ledger(&data, 2);
    let wh = dir.path().join("wh");
    let whs = wh.to_str().unwrap();
    assert!(
        jinguan(&["stats", "extract", "--quiet", "--warehouse", whs], &data)
            .status
            .success()
    );
    for (args, code) in [
        (
            vec![
                "stats",
                "bulletin",
                "--month",
                "2026-13",
                "--warehouse",
                whs,
            ],
            "bad_month",
        ),
        (
            vec![
                "stats",
                "bulletin",
                "--month",
                "October",
                "--warehouse",
                whs,
            ],
            "bad_month",
        ),
        (
            vec!["stats", "query", "SELEC * FROM items", "--warehouse", whs],
            "bad_query",
        ),
        (
            vec![
                "stats",
                "query",
                "SELECT nope FROM items",
                "--warehouse",
                whs,
            ],
            "bad_query",
        ),
        (
            vec!["stats", "query", "DROP TABLE items", "--warehouse", whs],
            "",
        ),
    ] {
        let out = jinguan(&args, &data);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("错误 error ["), "{err}");
        assert!(err.contains(code), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // The bulletin in both formats.
    let csv = dir.path().join("b.csv");
    let out = jinguan(
        &[
            "stats",
            "bulletin",
            "--month",
            "2026-10",
            "--warehouse",
            whs,
            "--out",
            csv.to_str().unwrap(),
        ],
        &data,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.contains("total,TOTAL,总值,Total,"), "{text}");
    let xlsx = dir.path().join("b.xlsx");
    let out = jinguan(
        &[
            "stats",
            "bulletin",
            "--month",
            "2026-10",
            "--format",
            "xlsx",
            "--warehouse",
            whs,
            "--out",
            xlsx.to_str().unwrap(),
        ],
        &data,
    );
    assert!(out.status.success());
    assert_eq!(&std::fs::read(&xlsx).unwrap()[..2], b"PK");
}
