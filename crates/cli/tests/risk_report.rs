//! `jinguan risk report` without a file reads the feedback the service stored and prints the
//! same report as `GET /api/risk/report`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};

const EXE: &str = env!("CARGO_BIN_EXE_jinguan");

fn jinguan(args: &[&str], data_dir: &Path) -> Output {
    Command::new(EXE)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("JINGUAN_DATABASE")
        .output()
        .expect("jinguan runs")
}

/// The report as the API gives it, from `jinguan serve --demo` over `dir` (stopped after).
fn api_report(dir: &Path) -> Value {
    let mut child = Command::new(EXE)
        .arg("--data-dir")
        .arg(dir)
        .args([
            "serve",
            "--demo",
            "--demo-declarations",
            "30",
            "--addr",
            "127.0.0.1:0",
        ])
        .env_remove("JINGUAN_DATABASE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    // The demo logins follow the URL: keep reading, so the server never writes to a closed pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let base = line.trim().trim_end_matches('/').to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line:?}");
    let client = reqwest::blocking::Client::new();
    let session: Value = client
        .post(format!("{base}/api/session"))
        .json(&json!({"login": "hq-analyst", "password": "jinguan-demo"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = session["token"].as_str().expect("a session").to_owned();
    let resp = client
        .get(format!("{base}/api/risk/report"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let report: Value = resp.json().unwrap();
    let _ = child.kill();
    let _ = child.wait();
    report
}

#[test]
fn report_from_the_store_is_the_api_report() {
    let dir = tempfile::tempdir().unwrap();
    let from_api = api_report(dir.path());
    assert!(
        from_api.to_string().contains("DEMO-DISCREDITED-RED@1"),
        "the demo's decisions are in the report: {from_api}"
    );

    let out = jinguan(&["risk", "report", "--json"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_cli: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(from_cli, from_api);

    let out = jinguan(&["risk", "report"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("DEMO-DISCREDITED-RED@1"), "{text}");
}

#[test]
fn report_without_a_store_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = jinguan(&["risk", "report"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no store in"), "{err}");
    // Nothing was created.
    assert!(!dir.path().join("jinguan.db").exists());
}

#[test]
fn draw_repeats_the_sampling_choice_with_the_class_rates() {
    let dir = tempfile::tempdir().unwrap();
    // The documented vector: draw 342,147 under the default seed.
    let out = jinguan(
        &[
            "risk",
            "draw",
            "--seed",
            "jinguan-sampling-2025",
            "--red-ppm",
            "300000",
            "--yellow-ppm",
            "100000",
            "020220080525641690",
            "223320251000000001",
        ],
        dir.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "020220080525641690 342147 yellow\n223320251000000001 979686 none\n"
    );
    // Without rates: the draw alone.
    let out = jinguan(
        &[
            "risk",
            "draw",
            "--seed",
            "jinguan-sampling-2025",
            "020220080525641690",
        ],
        dir.path(),
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "020220080525641690 342147\n"
    );
    // One rate without the other is a usage error.
    let out = jinguan(
        &[
            "risk",
            "draw",
            "--seed",
            "s",
            "--red-ppm",
            "1",
            "020220080525641690",
        ],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--yellow-ppm"));
}
