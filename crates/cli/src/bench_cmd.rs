//! `jinguan bench http`: durable submissions over HTTP against a `jinguan serve` child process,
//! beside the storage ceiling measured in the same run (the same rows, prepared by the same
//! service code, written straight to the store from as many threads, so the writer forms the
//! same batches). Also the server's start-up time and resident memory idle and under load.
//!
//! As the server runs cargo control, the bench first files arrived air manifests on the server's
//! ledger with one bill per request (a bill is written off by one declaration); each request
//! names the next bill.
//!
//! With `--database postgres://…` the server uses the PostgreSQL store (tables in a fresh schema,
//! dropped at the end) and the ceiling writes the same rows straight into another fresh schema
//! through `PostgresStore`, from as many threads.
//!
//! Beside them, the machine's plain ceiling (`plain_ceiling`): the same stored declaration row
//! plus one audit row written by one writer with no Jinguan code, 100 per transaction (SQLite
//! WAL `synchronous=FULL`, or PostgreSQL `synchronous_commit=on`), and the ratios to it; the
//! "Store direct" ceiling, our own store code, is kept for information.
//!
//! `jinguan bench growth`: the same HTTP benchmark on an empty store and on a store filled to N
//! declarations first (through the store's own `submit_reviewed`, with large batches: the same
//! schema, indexes, events, notices and audit chain as any filing), with start-up time and RSS.
//!
//! `jinguan bench pipeline`: the in-memory pipeline on one core beside parsing alone, on the
//! simulator's declarations (`sim`).
//!
//! Bounded: loopback only (127.0.0.1), a fixed number of clients and seconds, temporary data
//! folders removed at the end. Durability as shipped: SQLite WAL, `synchronous=FULL`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use app::{Clearance, NewUserRequest, Principal, Role, SystemClock};
use domain::codes::Uscc;
use store::Store;
use store_postgres::{PostgresOptions, PostgresStore};
use store_sqlite::{SqliteOptions, SqliteStore};

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
        /// Run the server on PostgreSQL (`postgres://…`) instead of SQLite; its tables go to a
        /// fresh schema, dropped at the end.
        #[arg(long)]
        database: Option<String>,
    },
    /// The HTTP benchmark on an empty SQLite store and on one filled to `--declarations` first:
    /// the slowdown, start-up time to serving and resident memory with the big store.
    Growth {
        /// Declarations stored before the second run.
        #[arg(long, default_value_t = 1_000_000)]
        declarations: u64,
        /// Stop filling after this many seconds (the figures name the count reached).
        #[arg(long, default_value_t = 600)]
        fill_seconds: u64,
        /// Concurrent clients of each HTTP run.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds of each HTTP run.
        #[arg(long, default_value_t = 4)]
        seconds: u64,
        /// Keep the filled store in this folder (reused when it already holds declarations)
        /// instead of a temporary one.
        #[arg(long)]
        store_dir: Option<PathBuf>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// `GET /api/stats/summary`'s cost at growing store sizes, beside the scan it replaced.
    Stats {
        /// Store sizes, ascending (the same store grows from one to the next).
        #[arg(long, value_delimiter = ',', default_values_t = [100_000u64, 1_000_000])]
        declarations: Vec<u64>,
        /// Stop each fill after this many seconds (the figures name the count reached).
        #[arg(long, default_value_t = 1800)]
        fill_seconds: u64,
        /// Summaries timed at each size (the median is printed).
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Keep the filled store in this folder (reused when it already holds declarations).
        #[arg(long)]
        store_dir: Option<PathBuf>,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Several `jinguan serve` processes on one PostgreSQL database (docs/STORE.md "Several
    /// processes"): durable filings over HTTP, the clients spread evenly over 1, 2, 4 …
    /// processes, each count on a fresh schema (dropped at the end).
    Processes {
        /// The PostgreSQL database (`postgres://…`).
        #[arg(long)]
        database: String,
        /// Process counts to run, one after the other.
        #[arg(long, value_delimiter = ',', default_values_t = [1usize, 2, 4])]
        processes: Vec<usize>,
        /// Concurrent clients in all.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds of load for each count.
        #[arg(long, default_value_t = 4)]
        seconds: u64,
    },
    /// Filing over HTTP while `--attackers` clients send wrong sign-ins without pause (unknown
    /// logins and the bench user's login with wrong passwords), beside the same filing without
    /// the attack, on one `jinguan serve` child: throughput, p50/p99, the server's RSS, and
    /// what the attack got (issue 15: RSS < 300 MB and filing p99 < 100 ms under 128).
    SignInAttack {
        /// Concurrent filing clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Concurrent wrong sign-ins.
        #[arg(long, default_value_t = 128)]
        attackers: usize,
        /// Seconds of each phase (quiet, then under attack).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Also write the figures as JSON to this file.
        #[arg(long)]
        json: Option<std::path::PathBuf>,
    },
    /// Filings over HTTP in each format the server reads (JSON, DecMessage XML, EDIFACT CUSDEC,
    /// WCO DM 3.6), each answered in its own format, on one `jinguan serve` child: decl/s,
    /// p50/p99 and the ratio to JSON measured in the same run (first and last).
    Formats {
        /// Concurrent clients.
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds of load per format.
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

pub(crate) const BENCH_USCC: &str = "91310115MA1K4Q7B4Y";
pub(crate) const BENCH_PASSWORD: &str = "bench-password";

pub(crate) struct Run {
    pub(crate) ok: u64,
    pub(crate) errors: u64,
    pub(crate) seconds: f64,
    pub(crate) latencies_us: Vec<u64>,
}

impl Run {
    pub(crate) fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
    pub(crate) fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        self.latencies_us[i] as f64 / 1000.0
    }
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Where a store under test keeps its ledger.
pub(crate) enum Target {
    /// SQLite in this folder.
    Sqlite(PathBuf),
    /// PostgreSQL at `url`, tables in `schema`.
    Postgres { url: String, schema: String },
}

impl Target {
    fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        Ok(match self {
            Target::Sqlite(dir) => Arc::new(SqliteStore::open(dir, SqliteOptions::default())?),
            Target::Postgres { url, schema } => Arc::new(PostgresStore::open(
                url,
                PostgresOptions {
                    schema: Some(schema.clone()),
                    ..PostgresOptions::default()
                },
            )?),
        })
    }

    /// The arguments that make `jinguan serve` use this ledger.
    fn serve_args(&self, scratch: &Path) -> Vec<std::ffi::OsString> {
        match self {
            Target::Sqlite(dir) => vec!["--data-dir".into(), dir.into()],
            Target::Postgres { url, schema } => {
                // The server opens the store with default options: the schema goes in the URL
                // as the session's search path (`options=-c search_path=…`).
                let sep = if url.contains('?') { '&' } else { '?' };
                vec![
                    "--data-dir".into(),
                    scratch.into(),
                    "--database".into(),
                    format!("{url}{sep}options=-c%20search_path%3D{schema}").into(),
                ]
            }
        }
    }
}

pub(crate) fn service(
    target: &Target,
    refdata: Arc<refdata::RefData>,
) -> anyhow::Result<Clearance> {
    Ok(Clearance::new(
        target.open()?,
        refdata,
        Arc::new(SystemClock),
    ))
}

/// Drop the bench's PostgreSQL schemas.
fn drop_schemas(url: &str, schemas: &[&str]) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        for s in schemas {
            client
                .batch_execute(&format!("DROP SCHEMA IF EXISTS {s} CASCADE"))
                .await?;
        }
        anyhow::Ok(())
    })
}

pub(crate) fn bootstrap_bench_user(svc: &Clearance) -> anyhow::Result<()> {
    svc.users()
        .bootstrap_user(NewUserRequest {
            login: "bench".into(),
            password: BENCH_PASSWORD.into(),
            role: Role::Enterprise,
            duties: vec![],
            office: None,
            uscc: Some(Uscc::parse(BENCH_USCC).expect("valid")),
            agency: None,
        })
        .map_err(|e| anyhow::anyhow!("bench user: {e}"))?;
    Ok(())
}

/// The bill of lading the example declaration names; each HTTP request names its own bill
/// instead (cargo control writes a bill off with one declaration).
pub(crate) const TEMPLATE_BILL_NO: &str = "999-12345675";
/// Bills filed for a run: enough for this many submissions per second.
pub(crate) const BILLS_PER_SECOND: u64 = 12_000;
/// Bills per manifest (a flight's worth).
const BILLS_PER_MANIFEST: usize = 500;
const CARRIER_LOGIN: &str = "bench-carrier";
const CARRIER_USCC: &str = "91310000MA1FL3CA34";

fn bench_bill(n: u64) -> String {
    format!("BENCH-{n:07}")
}

/// As `jinguan serve` runs cargo control, file (in process, through the use cases, on the
/// server's ledger) an arrived air manifest with `bills` bills matching the example declaration
/// (flight CA986, voyage 20250308, Pudong 2233, 10 packages, 260.5 kg).
pub(crate) fn file_bench_manifests(
    target: &Target,
    refdata: Arc<refdata::RefData>,
    bills: u64,
) -> anyhow::Result<()> {
    use cargo_control::{Bill, ManifestId, ManifestKind, Voyage};
    let ledgers: Arc<dyn store::cargo::Ledgers> = match target {
        Target::Sqlite(dir) => Arc::new(SqliteStore::open(dir, SqliteOptions::default())?),
        Target::Postgres { url, schema } => Arc::new(PostgresStore::open(
            url,
            PostgresOptions {
                schema: Some(schema.clone()),
                ..PostgresOptions::default()
            },
        )?),
    };
    let desk =
        app::cargo_desk::CargoDesk::open(ledgers.clone(), app::cargo_desk::CargoPolicy::default())
            .map_err(|e| anyhow::anyhow!("cargo desk: {e}"))?;
    let svc = Clearance::new(ledgers, refdata, Arc::new(SystemClock)).with_cargo(Arc::new(desk));
    svc.users()
        .bootstrap_user(NewUserRequest {
            login: CARRIER_LOGIN.into(),
            password: BENCH_PASSWORD.into(),
            role: Role::Carrier,
            duties: vec![],
            office: None,
            uscc: Some(Uscc::parse(CARRIER_USCC).expect("valid")),
            agency: None,
        })
        .map_err(|e| anyhow::anyhow!("bench carrier: {e}"))?;
    let carrier = svc
        .users()
        .login(CARRIER_LOGIN, BENCH_PASSWORD)
        .map_err(|e| anyhow::anyhow!("carrier login: {e}"))?
        .principal;
    let now = svc.now();
    let all: Vec<Bill> = (0..bills)
        .map(|n| {
            serde_json::from_value(serde_json::json!({"bill_no": bench_bill(n), "kind": {"kind": "master"}, "lines": [
                {"packages": 10, "package_type": "CT", "gross_weight_kg": "260.5", "description": "笔记本电脑 laptops"}
            ]}))
        })
        .collect::<Result<_, _>>()?;
    for (k, chunk) in all.chunks(BILLS_PER_MANIFEST).enumerate() {
        let id = ManifestId::parse(&format!("BENCH-CA986-{k}"))
            .map_err(|e| anyhow::anyhow!("manifest id: {e}"))?;
        let air: Voyage = serde_json::from_value(serde_json::json!({
            "means": {"mode": "flight", "flight_no": "CA986"},
            "voyage_no": "20250308", "direction": "import", "office": "2233"
        }))?;
        svc.cargo()
            .file_manifest(&carrier, id, ManifestKind::Original, air, chunk.to_vec())
            .map_err(|e| anyhow::anyhow!("file manifest: {e}"))?;
        svc.cargo()
            .report_arrival(&carrier, id, now - chrono::Duration::days(1))
            .map_err(|e| anyhow::anyhow!("report arrival: {e}"))?;
    }
    Ok(())
}

/// What one HTTP run against a `jinguan serve` child came to.
struct Served {
    run: Run,
    startup_ms: u128,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
}

pub(crate) struct ServerChild(pub(crate) Child);

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
            database,
        } => run_http(data_dir, clients, seconds, json, database),
        BenchCommand::Growth {
            declarations,
            fill_seconds,
            clients,
            seconds,
            store_dir,
            json,
        } => run_growth(
            data_dir,
            declarations,
            fill_seconds,
            clients,
            seconds,
            store_dir,
            json,
        ),
        BenchCommand::Processes {
            database,
            processes,
            clients,
            seconds,
        } => run_processes(data_dir, &database, &processes, clients, seconds),
        BenchCommand::SignInAttack {
            clients,
            attackers,
            seconds,
            json,
        } => crate::bench_attack::run(data_dir, clients, attackers, seconds, json),
        BenchCommand::Formats {
            clients,
            seconds,
            json,
        } => crate::bench_formats::run(data_dir, clients, seconds, json),
        BenchCommand::Pipeline {
            seconds,
            declarations,
            rules,
            json,
        } => run_pipeline(data_dir, seconds, declarations, rules, json),
        BenchCommand::Stats {
            declarations,
            fill_seconds,
            repeats,
            store_dir,
            json,
        } => crate::bench_stats::run(
            data_dir,
            declarations,
            fill_seconds,
            repeats,
            store_dir,
            json,
        ),
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
    database: Option<String>,
) -> anyhow::Result<ExitCode> {
    if !(1..=1024).contains(&clients) || !(1..=60).contains(&seconds) {
        bail!("--clients 1..=1024 and --seconds 1..=60");
    }
    if let Some(url) = &database {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            bail!("--database must be a postgres:// URL");
        }
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let body = app::demo::IMPORT_TEMPLATE.as_bytes().to_vec();
    let server_dir = tempfile::tempdir().context("temporary folder")?;
    let ceiling_dir = tempfile::tempdir().context("temporary folder")?;
    let plain_dir = tempfile::tempdir().context("temporary folder")?;
    let pid = std::process::id();
    let plain_schema = format!("jinguan_bench_plain_{pid}");
    let (server, ceiling_target) = match &database {
        None => (
            Target::Sqlite(server_dir.path().to_owned()),
            Target::Sqlite(ceiling_dir.path().to_owned()),
        ),
        Some(url) => (
            Target::Postgres {
                url: url.clone(),
                schema: format!("jinguan_bench_http_{pid}"),
            },
            Target::Postgres {
                url: url.clone(),
                schema: format!("jinguan_bench_ceiling_{pid}"),
            },
        ),
    };
    let result = (|| {
        // --- the server, a child process on a fresh ledger -----------------------------------
        bootstrap_bench_user(&service(&server, refdata.clone())?)?;
        file_bench_manifests(&server, refdata.clone(), BILLS_PER_SECOND * seconds)?;
        let served = serve_and_load(&server, server_dir.path(), &body, clients, seconds)?;

        // --- the ceiling: the same rows straight into a fresh store, same threads -------------
        let svc = service(&ceiling_target, refdata.clone())?;
        let principal = Principal::Enterprise {
            user_id: 1,
            login: "bench".into(),
            uscc: Uscc::parse(BENCH_USCC).expect("valid"),
            roles: app::access::legacy_enterprise_roles(),
        };
        let (request, review) = svc
            .filing()
            .prepare_filing(&principal, "template", &body)
            .map_err(|e| anyhow::anyhow!("prepare: {e}"))?;
        let ceiling = store_load(svc.store().clone(), request, review, clients, seconds);

        // --- the machine's ceiling: the stored row and an audit row, no Jinguan code ---------
        let row = stored_row(svc.store().as_ref())?;
        let plain = match &database {
            None => crate::plain_ceiling::sqlite(plain_dir.path(), &row, seconds)?,
            Some(url) => crate::plain_ceiling::postgres(url, &plain_schema, &row, seconds)?,
        };
        anyhow::Ok((served, ceiling, plain, row.body.len() + row.state.len()))
    })();
    if let Some(url) = &database {
        let mut schemas: Vec<&str> = [&server, &ceiling_target]
            .map(|t| match t {
                Target::Postgres { schema, .. } => schema.as_str(),
                Target::Sqlite(_) => "",
            })
            .to_vec();
        schemas.push(&plain_schema);
        if let Err(e) = drop_schemas(url, &schemas) {
            eprintln!("warning: could not drop the bench schemas {schemas:?}: {e}");
        }
    }
    let (served, ceiling, plain, row_bytes) = result?;
    let http = &served.run;

    let over = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    let ratio = over(http.rate(), ceiling.rate());
    let ratio_plain = over(http.rate(), plain.rate());
    let store_plain = over(ceiling.rate(), plain.rate());
    let storage = match &database {
        None => "SQLite WAL synchronous=FULL",
        Some(_) => "PostgreSQL synchronous_commit as configured (default on)",
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("jinguan bench http — {clients} clients, {seconds} s each, {storage}, loopback; load average {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    println!(
        "{:<34} {:>12} {:>9} {:>9} {:>8}",
        "run", "decl/s", "p50 ms", "p99 ms", "errors"
    );
    for (name, r) in [
        ("HTTP submit (server process)", http),
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
    let plain_name = match &database {
        None => "plain SQLite ceiling (no Jinguan)",
        Some(_) => "plain PostgreSQL ceiling (no Jinguan)",
    };
    println!(
        "{:<34} {:>12.0} {:>9} {:>9} {:>8}",
        plain_name,
        plain.rate(),
        "-",
        "-",
        0
    );
    println!(
        "  (one writer, {} declaration rows of {row_bytes} B body+state plus one audit row each per transaction, durable commit)",
        crate::plain_ceiling::PER_TRANSACTION
    );
    println!("ratio HTTP / plain ceiling: {ratio_plain:.2}; Store direct / plain ceiling: {store_plain:.2}");
    println!("ratio HTTP / Store direct (our own store code, for information): {ratio:.2}");
    let cpu = cpu_model();
    println!(
        "CPU: {cpu} × {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "server: start-up {} ms to healthy; RSS idle {:.1} MiB, under load peak {:.1} MiB",
        served.startup_ms,
        served.rss_idle_kib as f64 / 1024.0,
        served.rss_peak_kib as f64 / 1024.0
    );
    let figures = serde_json::json!({
        "clients": clients, "seconds": seconds,
        "storage": if database.is_some() { "postgres" } else { "sqlite" },
        "http": {"per_s": http.rate(), "p50_ms": http.percentile_ms(0.5), "p99_ms": http.percentile_ms(0.99), "ok": http.ok, "errors": http.errors},
        "ceiling": {"per_s": ceiling.rate(), "p50_ms": ceiling.percentile_ms(0.5), "p99_ms": ceiling.percentile_ms(0.99), "ok": ceiling.ok, "errors": ceiling.errors},
        "ratio": ratio,
        "plain_ceiling": {"per_s": plain.rate(), "rows": plain.rows, "per_transaction": crate::plain_ceiling::PER_TRANSACTION, "row_bytes": row_bytes},
        "ratio_http_plain": ratio_plain,
        "ratio_store_plain": store_plain,
        "cpu": cpu,
        "startup_ms": served.startup_ms as u64,
        "rss_idle_mib": served.rss_idle_kib as f64 / 1024.0,
        "rss_load_peak_mib": served.rss_peak_kib as f64 / 1024.0,
        "loadavg": load.trim(),
    });
    println!("{figures}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Start `jinguan serve` on `target` (the bench user already in it), time it to healthy, log in,
/// load it from `clients` clients for `seconds` (0: no load), sample its RSS, stop it.
fn serve_and_load(
    target: &Target,
    scratch: &Path,
    body: &[u8],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Served> {
    let exe = std::env::current_exe().context("own executable")?;
    let started = Instant::now();
    let mut child = Command::new(exe)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(target.serve_args(scratch))
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
            if started.elapsed() > Duration::from_secs(60) {
                return u128::MAX;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    if startup_ms == u128::MAX {
        bail!("the server did not answer within 60 s");
    }
    std::thread::sleep(Duration::from_millis(300));
    let rss_idle_kib = rss_kib(pid).unwrap_or(0);
    if seconds == 0 {
        // Start-up and idle memory only.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status();
        drop(child);
        return Ok(Served {
            run: Run {
                ok: 0,
                errors: 0,
                seconds: 1.0,
                latencies_us: Vec::new(),
            },
            startup_ms,
            rss_idle_kib,
            rss_peak_kib: rss_idle_kib,
        });
    }
    let token = rt.block_on(sign_in_bench(&client, &base))?;

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
    let run = rt.block_on(http_load(
        &client,
        std::slice::from_ref(&base),
        &token,
        body,
        clients,
        seconds,
        0,
    ));
    stop_sampling.store(true, Ordering::Relaxed);
    let _ = sampler.join();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    drop(child);
    Ok(Served {
        run,
        startup_ms,
        rss_idle_kib,
        rss_peak_kib: rss_peak.load(Ordering::Relaxed),
    })
}

/// Declarations a previous `bench growth` left in `dir` (noted in a file beside the store).
fn stored_declarations(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join(FILL_COUNT_FILE))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

const FILL_COUNT_FILE: &str = "bench-growth-filled.txt";

/// Fill a SQLite store to `target` declarations through `Store::submit_reviewed` with large
/// batches (many submitters, a large `batch_max`): every declaration is a real filing with its
/// events, notices and audit records. Stops at `budget`; returns the count stored.
pub(crate) fn bulk_fill(
    dir: &Path,
    refdata: Arc<refdata::RefData>,
    body: &[u8],
    target: u64,
    budget: Duration,
) -> anyhow::Result<u64> {
    const SUBMITTERS: usize = 512;
    let already = stored_declarations(dir);
    if already >= target {
        return Ok(already);
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(
        dir,
        SqliteOptions {
            batch_max: 4096,
            queue_max: 8192,
            readers_max: 4,
        },
    )?);
    let svc = Clearance::new(store.clone(), refdata, Arc::new(SystemClock));
    let principal = Principal::Enterprise {
        user_id: 1,
        login: "bench".into(),
        uscc: Uscc::parse(BENCH_USCC).expect("valid"),
        roles: app::access::legacy_enterprise_roles(),
    };
    let (request, review) = svc
        .filing()
        .prepare_filing(&principal, "template", body)
        .map_err(|e| anyhow::anyhow!("prepare: {e}"))?;
    let issued = AtomicU64::new(already);
    let done = AtomicU64::new(already);
    let started = Instant::now();
    let deadline = started + budget;
    let failed = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..SUBMITTERS {
            let (store, request, review, issued, done, failed) =
                (&store, &request, &review, &issued, &done, &failed);
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(s, move || loop {
                    if Instant::now() >= deadline || failed.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = issued.fetch_add(1, Ordering::Relaxed);
                    if i >= target {
                        break;
                    }
                    let mut r = request.clone();
                    r.client_seq_no = format!("fill-{i}");
                    if store.submit_reviewed(r, review.clone()).is_err() {
                        failed.store(true, Ordering::Relaxed);
                        break;
                    }
                    let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                    if n % 250_000 == 0 {
                        eprintln!(
                            "filled {n} declarations in {:.0} s",
                            started.elapsed().as_secs_f64()
                        );
                    }
                })
                .expect("spawn a submitter");
        }
    });
    if failed.load(Ordering::Relaxed) {
        bail!("bulk fill: a submission failed");
    }
    let n = done.load(Ordering::Relaxed);
    drop(svc);
    drop(store);
    std::fs::write(dir.join(FILL_COUNT_FILE), format!("{n}\n"))?;
    eprintln!(
        "filled {} declarations in {:.1} s ({:.0}/s)",
        n - already,
        started.elapsed().as_secs_f64(),
        (n - already) as f64 / started.elapsed().as_secs_f64()
    );
    Ok(n)
}

fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn run_growth(
    data_dir: &Path,
    declarations: u64,
    fill_seconds: u64,
    clients: usize,
    seconds: u64,
    store_dir: Option<PathBuf>,
    json: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    if !(1..=1024).contains(&clients) || !(1..=60).contains(&seconds) {
        bail!("--clients 1..=1024 and --seconds 1..=60");
    }
    if !(1..=100_000_000).contains(&declarations) {
        bail!("--declarations 1..=100,000,000");
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let body = app::demo::IMPORT_TEMPLATE.as_bytes().to_vec();
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    };

    // One measurement of a store: the durable submission run (the same prepared filing through
    // `Store::submit_reviewed` from `clients` threads, default options: group commit as the
    // server runs it), then `jinguan serve` on it: start-up to healthy and idle RSS.
    let measure = |target: &Target, dir: &Path| -> anyhow::Result<(Run, Served, String)> {
        let l = load();
        let svc = service(target, refdata.clone())?;
        let principal = Principal::Enterprise {
            user_id: 1,
            login: "bench".into(),
            uscc: Uscc::parse(BENCH_USCC).expect("valid"),
            roles: app::access::legacy_enterprise_roles(),
        };
        let (request, review) = svc
            .filing()
            .prepare_filing(&principal, "template", &body)
            .map_err(|e| anyhow::anyhow!("prepare: {e}"))?;
        let run = store_load(svc.store().clone(), request, review, clients, seconds);
        drop(svc);
        let served = serve_and_load(target, dir, &body, clients, 0)?;
        Ok((run, served, l))
    };

    // Empty store.
    let empty_dir = tempfile::tempdir().context("temporary folder")?;
    let empty_target = Target::Sqlite(empty_dir.path().to_owned());
    bootstrap_bench_user(&service(&empty_target, refdata.clone())?)?;
    let empty = measure(&empty_target, empty_dir.path())?;

    // Big store, filled first.
    let tmp_big = tempfile::tempdir().context("temporary folder")?;
    let big_dir = match &store_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => tmp_big.path().to_owned(),
    };
    let big_target = Target::Sqlite(big_dir.clone());
    {
        let svc = service(&big_target, refdata.clone())?;
        if svc
            .store()
            .user_by_login("bench")
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_none()
        {
            bootstrap_bench_user(&svc)?;
        }
    }
    let fill_started = Instant::now();
    let stored = bulk_fill(
        &big_dir,
        refdata.clone(),
        &body,
        declarations,
        Duration::from_secs(fill_seconds),
    )?;
    let fill_s = fill_started.elapsed().as_secs_f64();
    let bytes = dir_bytes(&big_dir);
    let big = measure(&big_target, &big_dir)?;
    // Empty again, to bracket the machine's drift.
    let empty2_dir = tempfile::tempdir().context("temporary folder")?;
    let empty2_target = Target::Sqlite(empty2_dir.path().to_owned());
    bootstrap_bench_user(&service(&empty2_target, refdata.clone())?)?;
    let empty2 = measure(&empty2_target, empty2_dir.path())?;

    let empty_rate = (empty.0.rate() + empty2.0.rate()) / 2.0;
    let slowdown = if empty_rate > 0.0 {
        1.0 - big.0.rate() / empty_rate
    } else {
        0.0
    };
    println!("jinguan bench growth — SQLite WAL synchronous=FULL, durable submissions (Store::submit_reviewed, group commit) from {clients} threads, {seconds} s per run; then jinguan serve on the same store");
    println!(
        "{:<14} {:>12} {:>10} {:>9} {:>9} {:>11} {:>12} {:>16}",
        "store",
        "declarations",
        "decl/s",
        "p50 ms",
        "p99 ms",
        "start-up ms",
        "RSS idle",
        "load average"
    );
    for (name, n, (r, sv, l)) in [
        ("empty", 0, &empty),
        ("filled", stored, &big),
        ("empty (again)", 0, &empty2),
    ] {
        println!(
            "{:<14} {:>12} {:>10.0} {:>9.2} {:>9.2} {:>11} {:>8.1} MiB {:>16}",
            name,
            n,
            r.rate(),
            r.percentile_ms(0.5),
            r.percentile_ms(0.99),
            sv.startup_ms,
            sv.rss_idle_kib as f64 / 1024.0,
            l
        );
    }
    println!(
        "filled {stored} declarations ({:.2} GiB on disk) in {fill_s:.0} s; slowdown at {stored} vs empty (mean of both empty runs): {:.1} % (target ≤ 20 % at 10,000,000: {}); start-up with the filled store {} ms (target ≤ 1,000 ms: {})",
        bytes as f64 / (1u64 << 30) as f64,
        slowdown * 100.0,
        if slowdown <= 0.20 { "met at this size" } else { "not met" },
        big.1.startup_ms,
        if big.1.startup_ms <= 1_000 { "met at this size" } else { "not met" },
    );
    let fig = |(r, sv, l): &(Run, Served, String)| {
        serde_json::json!({"per_s": r.rate(), "p50_ms": r.percentile_ms(0.5), "p99_ms": r.percentile_ms(0.99),
            "ok": r.ok, "errors": r.errors, "startup_ms": sv.startup_ms as u64,
            "rss_idle_mib": sv.rss_idle_kib as f64 / 1024.0, "loadavg": l})
    };
    let figures = serde_json::json!({
        "bench": "growth", "clients": clients, "seconds": seconds,
        "declarations_requested": declarations, "declarations_stored": stored,
        "fill_s": fill_s, "store_bytes": bytes,
        "empty": fig(&empty), "filled": fig(&big), "empty_again": fig(&empty2),
        "slowdown": slowdown,
    });
    println!("{figures}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `clients` clients filing for `seconds`, client `c` on server `bases[c % bases.len()]`.
pub(crate) async fn http_load(
    client: &reqwest::Client,
    bases: &[String],
    token: &str,
    body: &[u8],
    clients: usize,
    seconds: u64,
    first_bill: u64,
) -> Run {
    let payload = Payload::json(body);
    http_load_as(client, bases, token, &payload, clients, seconds, first_bill).await
}

/// What the load sends: a document naming the template's bill ([`TEMPLATE_BILL_NO`], once),
/// which each request replaces with its own, in a content type, asking for an answer type.
pub(crate) struct Payload {
    pub(crate) template: Vec<u8>,
    pub(crate) content_type: &'static str,
    pub(crate) accept: &'static str,
}

impl Payload {
    /// The JSON form (the example declaration), answered in JSON.
    pub(crate) fn json(body: &[u8]) -> Payload {
        Payload {
            template: body.to_vec(),
            content_type: "application/json",
            accept: "application/json",
        }
    }

    /// The request body naming bill `n`.
    fn body(&self, n: u64) -> Vec<u8> {
        let text = std::str::from_utf8(&self.template).expect("the template is UTF-8");
        text.replacen(TEMPLATE_BILL_NO, &bench_bill(n), 1)
            .into_bytes()
    }
}

/// Sign the bench user in on the server at `base`: its session token.
pub(crate) async fn sign_in_bench(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let r = client
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({"login": "bench", "password": BENCH_PASSWORD}))
        .send()
        .await?;
    let v: serde_json::Value = r.error_for_status()?.json().await?;
    Ok(v["token"].as_str().unwrap_or_default().to_owned())
}

/// As [`http_load`], sending `payload`.
pub(crate) async fn http_load_as(
    client: &reqwest::Client,
    bases: &[String],
    token: &str,
    payload: &Payload,
    clients: usize,
    seconds: u64,
    first_bill: u64,
) -> Run {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    let bills = first_bill + BILLS_PER_SECOND * seconds;
    let next_bill = Arc::new(AtomicU64::new(first_bill));
    for c in 0..clients {
        let client = client.clone();
        let url = format!("{}/api/declarations", bases[c % bases.len()]);
        let auth = format!("Bearer {token}");
        let payload = Payload {
            template: payload.template.clone(),
            content_type: payload.content_type,
            accept: payload.accept,
        };
        let next_bill = next_bill.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            let mut i = 0u64;
            while Instant::now() < deadline {
                let n = next_bill.fetch_add(1, Ordering::Relaxed);
                if n >= bills {
                    break;
                }
                let body = payload.body(n);
                i += 1;
                let t = Instant::now();
                let r = client
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", payload.content_type)
                    .header("accept", payload.accept)
                    .header("client-seq-no", format!("b{first_bill}-{c}-{i}"))
                    .body(body)
                    .send()
                    .await;
                match r {
                    Ok(resp) if resp.status().is_success() => {
                        let _ = resp.bytes().await;
                        ok += 1;
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                    Ok(resp) => {
                        if errors == 0 && c == 0 {
                            let status = resp.status();
                            let text = resp.text().await.unwrap_or_default();
                            eprintln!("first error of client 0: {status} {text}");
                        }
                        errors += 1;
                    }
                    Err(e) => {
                        if errors == 0 && c == 0 {
                            eprintln!("first error of client 0: {e}");
                        }
                        errors += 1;
                    }
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

/// `jinguan bench processes`.
fn run_processes(
    data_dir: &Path,
    url: &str,
    counts: &[usize],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<ExitCode> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("--database must be a postgres:// URL");
    }
    if counts.is_empty() || counts.iter().any(|n| !(1..=16).contains(n)) {
        bail!("--processes: counts from 1 to 16");
    }
    if !(1..=1024).contains(&clients) || !(1..=60).contains(&seconds) {
        bail!("--clients 1..=1024 and --seconds 1..=60");
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let body = app::demo::IMPORT_TEMPLATE.as_bytes().to_vec();
    let pid = std::process::id();
    let mut rows = Vec::new();
    for &n in counts {
        let schema = format!("jinguan_bench_procs_{pid}_{n}");
        let target = Target::Postgres {
            url: url.to_owned(),
            schema: schema.clone(),
        };
        let result = (|| {
            bootstrap_bench_user(&service(&target, refdata.clone())?)?;
            file_bench_manifests(&target, refdata.clone(), BILLS_PER_SECOND * seconds)?;
            let scratch: Vec<tempfile::TempDir> = (0..n)
                .map(|_| tempfile::tempdir().context("temporary folder"))
                .collect::<Result<_, _>>()?;
            let mut children = Vec::new();
            let mut bases = Vec::new();
            for (k, dir) in scratch.iter().enumerate() {
                // One customs key for all (as `--exchange-key` in production): each process
                // verifies the audit anchors the others signed.
                if k > 0 {
                    for f in ["exchange-customs.key", "exchange-customs.pub"] {
                        std::fs::copy(scratch[0].path().join(f), dir.path().join(f))
                            .with_context(|| format!("copying {f}"))?;
                    }
                }
                let (child, base) = start_server(&target, dir.path())?;
                children.push(child);
                bases.push(base);
            }
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(clients)
                .build()?;
            // One session, in the database: every process accepts it.
            let token = rt.block_on(sign_in_bench(&client, &bases[0]))?;
            let run = rt.block_on(http_load(
                &client, &bases, &token, &body, clients, seconds, 0,
            ));
            for c in &children {
                let _ = Command::new("kill")
                    .arg("-TERM")
                    .arg(c.0.id().to_string())
                    .status();
            }
            drop(children);
            anyhow::Ok(run)
        })();
        if let Err(e) = drop_schemas(url, &[schema.as_str()]) {
            eprintln!("warning: could not drop the bench schema {schema}: {e}");
        }
        rows.push((n, result?));
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "jinguan bench processes — {clients} clients in all, {seconds} s each, PostgreSQL synchronous_commit as configured (default on), loopback; load average {}",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!(
        "{:<12} {:>12} {:>9} {:>9} {:>8} {:>10}",
        "processes", "decl/s", "p50 ms", "p99 ms", "errors", "vs 1"
    );
    let one = rows.first().map_or(0.0, |(_, r)| r.rate());
    for (n, r) in &rows {
        println!(
            "{:<12} {:>12.0} {:>9.2} {:>9.2} {:>8} {:>10.2}",
            n,
            r.rate(),
            r.percentile_ms(0.5),
            r.percentile_ms(0.99),
            r.errors,
            if one > 0.0 { r.rate() / one } else { 0.0 }
        );
    }
    println!(
        "CPU: {} × {} (the processes, the load generator and PostgreSQL share them)",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    Ok(ExitCode::SUCCESS)
}

/// Start `jinguan serve` on `target` and wait until it answers; its base URL.
pub(crate) fn start_server(
    target: &Target,
    scratch: &Path,
) -> anyhow::Result<(ServerChild, String)> {
    let exe = std::env::current_exe().context("own executable")?;
    let mut child = Command::new(exe)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(target.serve_args(scratch))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start jinguan serve")?;
    let stdout = child.stdout.take().context("server stdout")?;
    let child = ServerChild(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .context("server did not print its URL")?;
    let base = line.trim().trim_end_matches('/').to_owned();
    if !base.starts_with("http://127.0.0.1:") {
        bail!("unexpected first line from the server: {line:?}");
    }
    let started = Instant::now();
    loop {
        let ok = std::net::TcpStream::connect(base.trim_start_matches("http://")).is_ok();
        if ok {
            return Ok((child, base));
        }
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the server did not answer within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The CPU model (`/proc/cpuinfo`), printed beside every figure.
pub(crate) fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_default()
}

/// The stored form of the benchmark's filing (the newest declaration of `store`), as the
/// plain ceilings write it.
fn stored_row(store: &dyn Store) -> anyhow::Result<crate::plain_ceiling::Row> {
    let page = store.list(
        &store::ListFilter::default(),
        &store::PageRequest {
            after: None,
            limit: 1,
        },
    )?;
    let id = page
        .items
        .first()
        .context("the ceiling run stored nothing")?
        .id;
    let d = store
        .load(store::DeclarationKey::Id(id))?
        .context("the stored declaration")?;
    Ok(crate::plain_ceiling::Row {
        body: d.body_json,
        state: serde_json::to_string(&d.state)?,
        // The size of the filing's audit detail: its numbers and the body's digest.
        audit_detail: serde_json::json!({
            "pre_entry_no": d.state.header.as_ref().map(|h| h.pre_entry_no.to_string()),
            "client_seq_no": d.state.header.as_ref().map(|h| h.client_seq_no.clone()),
            "declaration_no": d.state.declaration_no.map(|n| n.to_string()),
            "lane": d.state.lane.map(|l| l.as_str()),
            "body_sha256": "0".repeat(64),
        })
        .to_string(),
    })
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
