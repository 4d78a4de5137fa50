//! PostgreSQL really stopped under load (issue 15, "Must show"): a private PostgreSQL server
//! (its own `initdb` cluster in a temporary folder, on its own port) is stopped with
//! `pg_ctl stop -m immediate` while 8 clients file, kept down for 4 s and started again. While it
//! is down, filings are answered 503 `store_unavailable` with `Retry-After` and `/ready` fails;
//! once it is back both recover without restarting the server, every refused filing retried with
//! its `Client-Seq-No` is recorded once, and every acknowledged filing is there.
//!
//! `store_outage.rs` cuts this server's connections on the shared PostgreSQL; this one stops a
//! whole server, which the shared one must never be. Needs `JINGUAN_TEST_POSTGRES_URL` (which
//! says PostgreSQL is installed) and PostgreSQL's `initdb` and `pg_ctl` on the PATH (or in
//! `JINGUAN_TEST_PG_BIN`); run as root, the cluster belongs to the `postgres` user.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

const A: &str = "91310115MA1K4Q7B4Y";
const FILERS: u32 = 8;

fn declaration(variant: u32) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = A.into();
    v["owner"]["uscc"] = A.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    v["contract_no"] = format!("S-{variant}").into();
    v.to_string()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// The folder holding `initdb` and `pg_ctl`, if any.
fn pg_bin() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("JINGUAN_TEST_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A PostgreSQL server of the test's own, stopped and deleted when dropped.
struct PrivatePostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        cmd.args(args).current_dir(&self.dir);
        cmd.output().unwrap_or_else(|e| panic!("run {tool}: {e}"))
    }

    fn init(bin: PathBuf) -> PrivatePostgres {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = std::env::temp_dir().join(format!("jg-pgstop-{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let as_postgres = is_root();
        if as_postgres {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let pg = PrivatePostgres {
            bin,
            dir,
            port,
            as_postgres,
        };
        let data = pg.data();
        let out = pg.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg
    }

    fn start(&self) {
        let data = self.data();
        let log = self.dir.join("postgres.log");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=40",
            self.port,
            self.dir.display()
        );
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &opts,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `immediate`: the server's processes quit at once, as in a crash; it recovers from its
    /// WAL when started again.
    fn stop(&self) {
        let data = self.data();
        let out = self.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl stop failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn running(&self) -> bool {
        self.run("pg_ctl", &["-D", self.data().to_str().unwrap(), "status"])
            .status
            .success()
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D",
                    self.data().to_str().unwrap(),
                    "-m",
                    "immediate",
                    "stop",
                ],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dir_exists(p: &Path) -> bool {
    p.is_dir()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_postgres_gives_503s_and_ready_fails_until_it_returns_then_both_recover() {
    if std::env::var("JINGUAN_TEST_POSTGRES_URL").is_err() {
        eprintln!("JINGUAN_TEST_POSTGRES_URL not set: skipped");
        return;
    }
    let Some(bin) = pg_bin() else {
        if in_ci() {
            panic!("CI skips no test: PostgreSQL's initdb and pg_ctl are not on the PATH (set JINGUAN_TEST_PG_BIN)");
        }
        eprintln!("initdb/pg_ctl not found (set JINGUAN_TEST_PG_BIN): skipped");
        return;
    };
    let pg = Arc::new(
        tokio::task::spawn_blocking(move || PrivatePostgres::init(bin))
            .await
            .unwrap(),
    );
    assert!(dir_exists(&pg.data()));
    {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.start())
            .await
            .unwrap();
    }

    let served = common::serve_on_postgres(pg.url(), None, A).await;
    let (base, client, token) = (served.base, served.client, served.token);

    // Each filer files one declaration after another; a 503 is retried with the same
    // Client-Seq-No (as the message asks) until it is acknowledged. Anything else fails.
    let stop_filing = Arc::new(AtomicBool::new(false));
    // seq → (declaration id, how many 503s it met before it was acknowledged)
    let acknowledged: Arc<Mutex<BTreeMap<String, (String, u32)>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut filers = Vec::new();
    for f in 0..FILERS {
        let client = client.clone();
        let base = base.clone();
        let token = token.clone();
        let stop = stop_filing.clone();
        let acknowledged = acknowledged.clone();
        let unexpected = unexpected.clone();
        filers.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                n += 1;
                let seq = format!("f{f}-{n}");
                let variant = f * 100_000 + n;
                let mut refused = 0u32;
                loop {
                    let r = client
                        .post(format!("{base}/api/declarations"))
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .header("client-seq-no", &seq)
                        .body(declaration(variant))
                        .send()
                        .await;
                    let r = match r {
                        Ok(r) => r,
                        Err(e) => {
                            unexpected.lock().unwrap().push(format!("{seq}: {e}"));
                            return;
                        }
                    };
                    let status = r.status();
                    let retry_after = r.headers().get("retry-after").is_some();
                    let body: Value = r.json().await.unwrap_or(Value::Null);
                    match status {
                        StatusCode::CREATED | StatusCode::OK => {
                            let id = body["id"]
                                .as_i64()
                                .map(|i| i.to_string())
                                .unwrap_or_default();
                            acknowledged
                                .lock()
                                .unwrap()
                                .insert(seq.clone(), (id, refused));
                            break;
                        }
                        StatusCode::SERVICE_UNAVAILABLE
                            if retry_after && body["error"]["code"] == "store_unavailable" =>
                        {
                            refused += 1;
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        other => {
                            unexpected
                                .lock()
                                .unwrap()
                                .push(format!("{seq}: {other} {body}"));
                            return;
                        }
                    }
                }
            }
        }));
    }

    let ready = |client: reqwest::Client, base: String| async move {
        let r = client.get(format!("{base}/ready")).send().await.unwrap();
        let status = r.status();
        let has_retry_after = r.headers().contains_key("retry-after");
        let body: Value = r.json().await.unwrap_or(Value::Null);
        (status, has_retry_after, body)
    };

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = acknowledged.lock().unwrap().len();
    assert!(before > 0, "nothing was filed before the stop");
    let (s, _, _) = ready(client.clone(), base.clone()).await;
    assert_eq!(s, StatusCode::OK);

    // Stop the server, as in a crash.
    {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.stop())
            .await
            .unwrap();
    }
    let stopped_at = Instant::now();
    let at_stop = acknowledged.lock().unwrap().len();
    let mut ready_failed = 0;
    let mut ready_polls = 0;
    while stopped_at.elapsed() < Duration::from_secs(4) {
        let (s, retry_after, body) = ready(client.clone(), base.clone()).await;
        ready_polls += 1;
        if s == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry_after, "503 from /ready without Retry-After");
            assert_eq!(
                body,
                json!({"status": "unavailable", "store": "unavailable"})
            );
            ready_failed += 1;
        } else {
            // The first poll may still race the stop; later ones must not pass.
            assert!(
                ready_polls <= 1,
                "/ready answered {s} while PostgreSQL was stopped"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        ready_failed >= 10,
        "/ready failed only {ready_failed} of {ready_polls} polls"
    );
    let during = acknowledged.lock().unwrap().len();
    // Nothing can be acknowledged while the database is down, except a filing whose commit
    // ended before the stop and whose answer came after: at most one per filer.
    assert!(
        during <= at_stop + FILERS as usize,
        "{} filings acknowledged with PostgreSQL stopped",
        during - at_stop
    );

    {
        let pg = pg.clone();
        tokio::task::spawn_blocking(move || pg.start())
            .await
            .unwrap();
    }
    let started_at = Instant::now();
    // /ready recovers without a restart of jinguan.
    let mut recovered = None;
    while started_at.elapsed() < Duration::from_secs(30) {
        let (s, _, _) = ready(client.clone(), base.clone()).await;
        if s == StatusCode::OK {
            recovered = Some(started_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("/ready did not recover within 30 s of PostgreSQL's start");
    // And filing goes on: wait for more acknowledgements than before the restart.
    let resumed_at = acknowledged.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acknowledged.lock().unwrap().len() < resumed_at + 4 * FILERS as usize {
        assert!(
            Instant::now() < deadline,
            "filing did not resume after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop_filing.store(true, Ordering::SeqCst);
    for f in filers {
        f.await.unwrap();
    }
    let unexpected = unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "answers other than 201/200/503: {unexpected:?}"
    );

    let acknowledged = acknowledged.lock().unwrap().clone();
    let refused_total: u32 = acknowledged.values().map(|v| v.1).sum();
    let met_the_outage = acknowledged.values().filter(|v| v.1 > 0).count();
    assert!(
        met_the_outage > 0 && refused_total > 0,
        "no filing met the outage: the test did not test"
    );
    // Every acknowledged filing is there, each once: the ledger holds exactly the acknowledged
    // ones (a filing is only abandoned after an acknowledgement, so there are no others).
    let ids: BTreeSet<String> = acknowledged.values().map(|v| v.0.clone()).collect();
    assert_eq!(
        ids.len(),
        acknowledged.len(),
        "two Client-Seq-Nos gave one id"
    );
    let r = client
        .get(format!("{base}/api/declarations?page=1&limit=20"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page: Value = r.json().await.unwrap();
    assert_eq!(
        page["total"].as_u64(),
        Some(acknowledged.len() as u64),
        "the ledger holds {} declarations, {} were acknowledged",
        page["total"],
        acknowledged.len()
    );
    for id in ids.iter().step_by((ids.len() / 50).max(1)) {
        let r = client
            .get(format!("{base}/api/declarations/{id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "acknowledged {id} is missing");
    }
    eprintln!(
        "{} filings acknowledged ({} before the stop); {} met the outage with {} 503s \
         ; /ready failed {ready_failed} of {ready_polls} polls and \
         recovered {:.1} s after PostgreSQL's start",
        acknowledged.len(),
        before,
        met_the_outage,
        refused_total,
        recovered.as_secs_f64()
    );
}
