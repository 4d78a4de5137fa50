//! Crash test: the real `jinguan serve` under a load of submissions, killed with SIGKILL at
//! (seeded) random moments several times and restarted on the same data folder. Afterwards:
//! every submission that got a 2xx is there exactly once, a retry of its client sequence
//! number returns the same pre-entry number, no serial is used twice, the audit chain verifies.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

const EXE: &str = env!("CARGO_BIN_EXE_jinguan");
const USCC: &str = "91310115MA1K4Q7B4Y";
const PASSWORD: &str = "crash-test-pw";
const KILLS: usize = 5;
const CLIENTS: usize = 6;

struct Server {
    child: Child,
    base: String,
}

fn start(dir: &Path) -> Server {
    let mut child = Command::new(EXE)
        .args(["--data-dir"])
        .arg(dir)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
    Server {
        child,
        base: line.trim().trim_end_matches('/').to_owned(),
    }
}

fn body(seq: u64) -> String {
    let mut v: Value =
        serde_json::from_str(include_str!("../../../examples/import-laptops.json")).unwrap();
    v["contract_no"] = format!("CRASH-{seq}").into();
    // `jinguan serve` matches an air or sea import naming a bill against the manifests
    // (docs/CARGO.md); this test is about the filings' durability, so they name no bill.
    v.as_object_mut().unwrap().remove("bill_no");
    v.to_string()
}

/// Submit; `Some(pre_entry_no)` on a 2xx, `None` when the server was not there to answer.
fn submit(
    client: &reqwest::blocking::Client,
    base: &str,
    token: &str,
    seq: u64,
) -> Option<(String, bool)> {
    let resp = client
        .post(format!("{base}/api/declarations"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("client-seq-no", format!("crash-{seq}"))
        .body(body(seq))
        .send()
        .ok()?;
    let status = resp.status();
    let v: Value = resp.json().ok()?;
    assert!(
        status.is_success(),
        "a live server refused a valid filing: {status} {v}"
    );
    Some((
        v["pre_entry_no"].as_str()?.to_owned(),
        v["replayed"].as_bool()?,
    ))
}

#[test]
fn sigkill_during_submissions_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut add = Command::new(EXE)
        .args(["--data-dir"])
        .arg(dir.path())
        .args([
            "user",
            "add",
            "--login",
            "ent",
            "--role",
            "enterprise",
            "--uscc",
            USCC,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    writeln!(add.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    assert!(add.wait().unwrap().success());

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    // Acknowledged filings: client sequence number → pre-entry number.
    let acked: Arc<Mutex<BTreeMap<u64, String>>> = Arc::default();
    // Filings sent but not answered: retried after the restart, as a real client would.
    let unanswered: Arc<Mutex<Vec<u64>>> = Arc::default();
    let next_seq = Arc::new(AtomicU64::new(1));
    let mut token = String::new();
    let mut rng = domain::rng::Rng::new(0x9E37_79B9_7F4A_7C15);

    for round in 0..=KILLS {
        let mut server = start(dir.path());
        if token.is_empty() {
            let r: Value = client
                .post(format!("{}/api/session", server.base))
                .json(&serde_json::json!({"login": "ent", "password": PASSWORD}))
                .send()
                .unwrap()
                .json()
                .unwrap();
            token = r["token"].as_str().unwrap().to_owned();
        }
        let stop = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            for _ in 0..CLIENTS {
                let (client, base, token) = (&client, &server.base, &token);
                let (acked, unanswered, next_seq, stop) = (&acked, &unanswered, &next_seq, &stop);
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let retry = unanswered.lock().unwrap().pop();
                        let seq = retry.unwrap_or_else(|| next_seq.fetch_add(1, Ordering::Relaxed));
                        match submit(client, base, token, seq) {
                            Some((pre, _)) => {
                                let mut a = acked.lock().unwrap();
                                if let Some(first) = a.get(&seq) {
                                    assert_eq!(first, &pre, "a retry of {seq} got another number");
                                }
                                a.insert(seq, pre);
                            }
                            None => {
                                unanswered.lock().unwrap().push(seq);
                                std::thread::sleep(Duration::from_millis(20));
                            }
                        }
                    }
                });
            }
            // Kill at a seeded random moment (the last round ends gracefully).
            let wait_ms = rng.range(150, 749);
            std::thread::sleep(Duration::from_millis(wait_ms));
            if round < KILLS {
                server.child.kill().unwrap(); // SIGKILL
            }
            stop.store(true, Ordering::Relaxed);
        });
        if round == KILLS {
            // Retry every unanswered filing and a sample of acknowledged ones on the last server.
            for seq in unanswered.lock().unwrap().drain(..) {
                let (pre, _) = submit(&client, &server.base, &token, seq).expect("server is up");
                acked.lock().unwrap().insert(seq, pre);
            }
            let sample: Vec<(u64, String)> = acked
                .lock()
                .unwrap()
                .iter()
                .step_by(7)
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            for (seq, pre) in sample {
                let (again, replayed) =
                    submit(&client, &server.base, &token, seq).expect("server is up");
                assert_eq!((again, replayed), (pre, true), "retry of crash-{seq}");
            }
            // Everything the server holds, newest first, page by page.
            let mut listed = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut url = format!("{}/api/declarations?limit=500", server.base);
                if let Some(c) = &cursor {
                    url.push_str(&format!("&cursor={c}"));
                }
                let page: Value = client
                    .get(url)
                    .bearer_auth(&token)
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                listed.extend(page["items"].as_array().unwrap().iter().cloned());
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            let pre_entry: Vec<&str> = listed
                .iter()
                .map(|d| d["pre_entry_no"].as_str().unwrap())
                .collect();
            let numbers: Vec<&str> = listed
                .iter()
                .filter_map(|d| d["declaration_no"].as_str())
                .collect();
            assert_eq!(
                pre_entry.iter().collect::<HashSet<_>>().len(),
                pre_entry.len(),
                "duplicate pre-entry serials"
            );
            assert_eq!(
                numbers.iter().collect::<HashSet<_>>().len(),
                numbers.len(),
                "duplicate declaration serials"
            );
            let acked = acked.lock().unwrap();
            for (seq, pre) in acked.iter() {
                assert_eq!(
                    pre_entry.iter().filter(|p| **p == pre).count(),
                    1,
                    "crash-{seq} ({pre}) not there exactly once"
                );
            }
            // Every stored filing came from a sequence number that was sent, and each was
            // stored once (all were acknowledged in the end).
            assert_eq!(listed.len(), acked.len());
            assert!(acked.len() > 20, "the load did something: {}", acked.len());
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(server.child.id().to_string())
                .status();
            server.child.wait().unwrap();
        }
    }

    let out = Command::new(EXE)
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("intact"), "{text}");
}
