//! `jinguan bench http`: durable submissions over HTTP against a `jinguan serve` child process,
//! beside the storage ceiling measured in the same run (the same rows, prepared by the same
//! service code, written straight to the store from as many threads, so the writer forms the
//! same batches). Also the server's start-up time and resident memory idle and under load.
//!
//! `jinguan bench pipeline`: the in-memory pipeline on one core beside parsing alone, on the
//! simulator's declarations (`sim`).
//!
//! Bounded: loopback only (127.0.0.1), a fixed number of clients and seconds, temporary data
//! folders removed at the end. Durability as shipped: SQLite WAL, `synchronous=FULL`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use app::{Clearance, NewUserRequest, Principal, Role, SystemClock};
use domain::codes::Uscc;
use store::sqlite::{SqliteOptions, SqliteStore};
use store::Store;

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// Submissions over HTTP from concurrent clients, beside the storage ceiling.
    Http {
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds of load (each of the HTTP run and the ceiling run).
        #[arg(long, default_value_t = 4)]
        seconds: u64,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// The in-memory pipeline (parse + validate + risk with 1,000 rules + tax) on one core,
    /// beside parsing alone, on the simulator's 5-item declarations.
    Pipeline {
        /// Seconds of each run (parse-only and pipeline).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Distinct declarations cycled through.
        #[arg(long, default_value_t = 20_000)]
        declarations: u64,
        /// Active risk rules.
        #[arg(long, default_value_t = 1_000)]
        rules: usize,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
}

const BENCH_USCC: &str = "91310115MA1K4Q7B4Y";
const BENCH_PASSWORD: &str = "bench-password";

struct Run {
    ok: u64,
    errors: u64,
    seconds: f64,
    latencies_us: Vec<u64>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn service(dir: &Path, refdata: Arc<refdata::RefData>) -> anyhow::Result<Clearance> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, SqliteOptions::default())?);
    Ok(Clearance::new(store, refdata, Arc::new(SystemClock)))
}

struct ServerChild(Child);

impl Drop for ServerChild {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(data_dir: &Path, cmd: BenchCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        BenchCommand::Http {
            clients,
            seconds,
            json,
        } => run_http(data_dir, clients, seconds, json),
        BenchCommand::Pipeline {
            seconds,
            declarations,
            rules,
            json,
        } => run_pipeline(data_dir, seconds, declarations, rules, json),
    }
}

/// Calls of `f` over `inputs`, cycled, for about `seconds`: per second, on this thread.
fn rate_over(inputs: &[Vec<u8>], seconds: u64, mut f: impl FnMut(&[u8], usize)) -> f64 {
    for (i, x) in inputs.iter().enumerate().take(500) {
        f(x, i);
    }
    let budget = Duration::from_secs(seconds);
    let started = Instant::now();
    let mut n = 0usize;
    while started.elapsed() < budget {
        for _ in 0..100 {
            let k = n % inputs.len();
            f(&inputs[k], k);
            n += 1;
        }
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn run_pipeline(
    data_dir: &Path,
    seconds: u64,
    declarations: u64,
    rules: usize,
    json: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    if !(1..=120).contains(&seconds) || !(100..=1_000_000).contains(&declarations) {
        bail!("--seconds 1..=120 and --declarations 100..=1,000,000");
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let mut cfg = sim::Config::new(1, declarations);
    cfg.rules = rules;
    cfg.items = Some(5);
    let world = cfg.world(&refdata);
    let pipe = sim::Pipeline::new(&world, &cfg.rates, refdata, cfg.rules, cfg.warmup);
    let bodies: Vec<Vec<u8>> = (0..declarations)
        .map(|i| sim::generate(&world, &cfg.rates, i, Some(5)).json)
        .collect();
    let bytes_mean = bodies.iter().map(Vec::len).sum::<usize>() / bodies.len();
    let parse = rate_over(&bodies, seconds, |b, _| {
        std::hint::black_box(sim::Pipeline::parse_only(b));
    });
    let mut green = 0u64;
    let mut total = 0u64;
    let pipeline = rate_over(&bodies, seconds, |b, i| {
        let o = pipe.process(b, i as u32 + 1);
        total += 1;
        green += u64::from(o.lane == Some(clearance::Lane::Green));
        std::hint::black_box(o);
    });
    let ratio = pipeline / parse;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("jinguan bench pipeline — one thread, {declarations} distinct 5-item declarations ({bytes_mean} bytes of JSON on average), {} rules, {} price references, {} watch-list entries; load average {}",
        pipe.rules_count, pipe.price_keys, pipe.watch_entries, load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!("{:<44} {:>12} {:>10}", "run", "decl/s", "µs each");
    println!(
        "{:<44} {:>12.0} {:>10.2}",
        "parse only (reference: parse_form)",
        parse,
        1e6 / parse
    );
    println!(
        "{:<44} {:>12.0} {:>10.2}",
        "pipeline: parse+validate+risk+tax",
        pipeline,
        1e6 / pipeline
    );
    println!(
        "ratio pipeline / parse: {ratio:.3} (target ≥ 0.25: {}); per core {pipeline:.0}/s (target ≥ 50,000: {}); green {:.1} %",
        if ratio >= 0.25 { "met" } else { "not met" },
        if pipeline >= 50_000.0 { "met" } else { "not met" },
        green as f64 * 100.0 / total.max(1) as f64
    );
    let figures = serde_json::json!({
        "bench": "pipeline", "declarations": declarations, "items": 5, "bytes_mean": bytes_mean,
        "rules": pipe.rules_count, "price_references": pipe.price_keys, "watch_entries": pipe.watch_entries,
        "parse_per_s": parse, "pipeline_per_s": pipeline, "ratio": ratio,
        "target_per_s": 50_000, "target_ratio": 0.25, "loadavg": load.trim(),
    });
    println!("{figures}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn run_http(
    data_dir: &Path,
    clients: usize,
    seconds: u64,
    json: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    if !(1..=1024).contains(&clients) || !(1..=60).contains(&seconds) {
        bail!("--clients 1..=1024 and --seconds 1..=60");
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let body = app::demo::IMPORT_TEMPLATE.as_bytes().to_vec();

    // --- the server, a child process on a fresh data folder ---------------------------------
    let server_dir = tempfile::tempdir().context("temporary folder")?;
    {
        let svc = service(server_dir.path(), refdata.clone())?;
        svc.bootstrap_user(NewUserRequest {
            login: "bench".into(),
            password: BENCH_PASSWORD.into(),
            role: Role::Enterprise,
            duties: vec![],
            office: None,
            uscc: Some(Uscc::parse(BENCH_USCC).expect("valid")),
            agency: None,
        })
        .map_err(|e| anyhow::anyhow!("bench user: {e}"))?;
    }
    let exe = std::env::current_exe().context("own executable")?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["serve", "--addr", "127.0.0.1:0", "--data-dir"])
        .arg(server_dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start jinguan serve")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let pid = child.id();
    let child = ServerChild(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("server did not print its URL")?;
    let base = line.trim().trim_end_matches('/').to_owned();
    if !base.starts_with("http://127.0.0.1:") {
        bail!("unexpected first line from the server: {line:?}");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let startup_ms = rt.block_on(async {
        loop {
            if let Ok(r) = client.get(format!("{base}/api/health")).send().await {
                if r.status().is_success() {
                    return started.elapsed().as_millis();
                }
            }
            if started.elapsed() > Duration::from_secs(10) {
                return u128::MAX;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    if startup_ms == u128::MAX {
        bail!("the server did not answer within 10 s");
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss_idle_kib = rss_kib(pid).unwrap_or(0);
    let token: String = rt.block_on(async {
        let r = client
            .post(format!("{base}/api/session"))
            .json(&serde_json::json!({"login": "bench", "password": BENCH_PASSWORD}))
            .send()
            .await?;
        let v: serde_json::Value = r.error_for_status()?.json().await?;
        anyhow::Ok(v["token"].as_str().unwrap_or_default().to_owned())
    })?;

    let stop_sampling = Arc::new(AtomicBool::new(false));
    let rss_peak = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (stop, peak) = (stop_sampling.clone(), rss_peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                if let Some(r) = rss_kib(pid) {
                    peak.fetch_max(r, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    let http = rt.block_on(http_load(&client, &base, &token, &body, clients, seconds));
    stop_sampling.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    drop(child);

    // --- the ceiling: the same rows straight into a fresh store, same threads -----------------
    let ceiling_dir = tempfile::tempdir().context("temporary folder")?;
    let svc = service(ceiling_dir.path(), refdata)?;
    let principal = Principal::Enterprise {
        user_id: 1,
        login: "bench".into(),
        uscc: Uscc::parse(BENCH_USCC).expect("valid"),
    };
    let (request, review) = svc
        .prepare_filing(&principal, "template", &body)
        .map_err(|e| anyhow::anyhow!("prepare: {e}"))?;
    let ceiling = store_load(svc.store().clone(), request, review, clients, seconds);

    let ratio = if ceiling.rate() > 0.0 {
        http.rate() / ceiling.rate()
    } else {
        0.0
    };
    println!("jinguan bench http — {clients} clients, {seconds} s each, SQLite WAL synchronous=FULL, loopback");
    println!(
        "{:<34} {:>12} {:>9} {:>9} {:>8}",
        "run", "decl/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, r) in [
        ("HTTP submit (server process)", &http),
        ("storage ceiling (Store direct)", &ceiling),
    ] {
        println!(
            "{:<34} {:>12.0} {:>9.2} {:>9.2} {:>8}",
            name,
            r.rate(),
            r.percentile_ms(0.5),
            r.percentile_ms(0.99),
            r.errors
        );
    }
    println!("ratio HTTP / ceiling: {ratio:.2}");
    println!(
        "server: start-up {startup_ms} ms to healthy; RSS idle {:.1} MiB, under load peak {:.1} MiB",
        rss_idle_kib as f64 / 1024.0,
        rss_peak.load(Ordering::Relaxed) as f64 / 1024.0
    );
    let figures = serde_json::json!({
        "clients": clients, "seconds": seconds,
        "http": {"per_s": http.rate(), "p50_ms": http.percentile_ms(0.5), "p99_ms": http.percentile_ms(0.99), "ok": http.ok, "errors": http.errors},
        "ceiling": {"per_s": ceiling.rate(), "p50_ms": ceiling.percentile_ms(0.5), "p99_ms": ceiling.percentile_ms(0.99), "ok": ceiling.ok, "errors": ceiling.errors},
        "ratio": ratio,
        "startup_ms": startup_ms as u64,
        "rss_idle_mib": rss_idle_kib as f64 / 1024.0,
        "rss_load_peak_mib": rss_peak.load(Ordering::Relaxed) as f64 / 1024.0,
    });
    println!("{figures}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn http_load(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    body: &[u8],
    clients: usize,
    seconds: u64,
) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let url = format!("{base}/api/declarations");
        let auth = format!("Bearer {token}");
        let body = body.to_vec();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            let mut i = 0u64;
            while Instant::now() < deadline {
                i += 1;
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .header("client-seq-no", format!("b-{c}-{i}"))
                    .body(body.clone())
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        ok += 1;
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    _ => errors += 1,
                }
            }
            (ok, errors, lat)
        }));
    }
    let mut run = Run {
        ok: 0,
        errors: 0,
        seconds: 0.0,
        latencies_us: Vec::new(),
    };
    for t in tasks {
        if let Ok((ok, errors, lat)) = t.await {
            run.ok += ok;
            run.errors += errors;
            run.latencies_us.extend(lat);
        }
    }
    run.seconds = started.elapsed().as_secs_f64();
    run.latencies_us.sort_unstable();
    run
}

fn store_load(
    store: Arc<dyn Store>,
    request: store::SubmitRequest,
    review: store::AutomaticReview,
    clients: usize,
    seconds: u64,
) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let results: Vec<(u64, u64, Vec<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (store, request, review) = (&store, &request, &review);
                s.spawn(move || {
                    let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
                    let mut i = 0u64;
                    while Instant::now() < deadline {
                        i += 1;
                        let mut r = request.clone();
                        r.client_seq_no = format!("c-{c}-{i}");
                        let t = Instant::now();
                        match store.submit_reviewed(r, review.clone()) {
                            Ok(_) => {
                                ok += 1;
                                lat.push(t.elapsed().as_micros() as u64);
                            }
                            Err(_) => errors += 1,
                        }
                    }
                    (ok, errors, lat)
                })
            })
            .collect();
        handles.into_iter().filter_map(|h| h.join().ok()).collect()
    });
    let mut run = Run {
        ok: 0,
        errors: 0,
        seconds: started.elapsed().as_secs_f64(),
        latencies_us: Vec::new(),
    };
    for (ok, errors, lat) in results {
        run.ok += ok;
        run.errors += errors;
        run.latencies_us.extend(lat);
    }
    run.latencies_us.sort_unstable();
    run
}
