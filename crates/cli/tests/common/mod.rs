//! What the CLI's test files share: starting `jinguan serve` and `jinguan agency` as a user
//! does, signing in, reading customs' store.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// Spawn `jinguan serve` as `cmd` describes (it must listen on port 0) and wait until it
/// listens: the first line of its output is its URL. Returns the child and the URL without a
/// trailing slash; its further output is drained, so that it never blocks on a full pipe.
pub fn spawn_serve(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("jinguan serve starts");
    let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut url = String::new();
    out.read_line(&mut url)
        .expect("jinguan serve prints its URL");
    assert!(
        url.starts_with("http://") || url.starts_with("https://"),
        "the first line is the URL: {url:?}"
    );
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, url.trim().trim_end_matches('/').to_owned())
}

/// The repository's root (where `jinguan serve` finds its data files).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process serving HTTP at `base`, killed when dropped.
pub struct Proc {
    pub child: Child,
    pub base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn `jinguan agency` as `cmd` describes (everything but `--addr`, which this adds) and
/// wait until its `/status` answers, at most `guard` (a hang guard, not a timing assertion).
pub fn spawn_agency(mut cmd: Command, name: &str, guard: Duration) -> Proc {
    let port = free_port();
    let child = cmd
        .args(["--addr", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let start = Instant::now();
    while reqwest::blocking::get(format!("{base}/status")).is_err() {
        assert!(
            start.elapsed() < guard,
            "hang guard: agency {name} does not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Proc { child, base }
}

/// Hand one record to a running `jinguan agency` (`POST /records`): 201 or the test fails.
pub fn post_record(client: &reqwest::blocking::Client, a: &Proc, kind: &str, payload: Value) {
    let r = client
        .post(format!("{}/records", a.base))
        .json(&json!({"kind": kind, "payload": payload}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().unwrap());
}

/// Sign in as a demo user; the session's token.
pub fn login(client: &reqwest::blocking::Client, base: &str, who: &str) -> String {
    let r = client
        .post(format!("{base}/api/session"))
        .json(&json!({"login": who, "password": "jinguan-demo"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "sign-in of {who}");
    r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Customs' SQLite store in `data`, read-only.
pub fn db(data: &Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open_with_flags(
        data.join("jinguan.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    c
}

/// One count.
pub fn count(c: &rusqlite::Connection, sql: &str) -> i64 {
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}
