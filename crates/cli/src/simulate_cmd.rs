//! `jinguan simulate`: a seeded national trade day with planted violations, driven through the
//! in-memory pipeline (parse, validate, risk, tax), the clearance service on a durable SQLite
//! store, or a running `jinguan serve` over HTTP (`--url`), and its report (volumes, lanes,
//! simulated clearance times, detection, revenue).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// In memory on every core: parse + validate + risk + tax, no storage.
    Pipeline,
    /// Through `app::Clearance::submit` on a SQLite store (WAL, synchronous=FULL).
    Store,
}

#[derive(clap::Args)]
#[command(after_help = "\
With --url, the day goes to a running server over its HTTP API (sim::http). It signs in as the \
users of `jinguan serve --demo` (password --password): admin (creates one enterprise user \
sim<seed>-e<n> per filing enterprise, password jinguan-sim-password), hq-analyst (puts the \
simulator's rule set and watch list, reads back each lane decision), sh-chief (credit classes), \
mofcom (issues the world's licences), samr (registers the enterprises) and carrier (files arrived manifests for the sea and air \
imports); with --officer-steps, admin also creates one officer per declaration office \
(sim<seed>-o<office>) who takes each accepted filing on to release. So run it against `jinguan serve --demo` on a fresh data folder: \
`jinguan --data-dir DIR serve --demo` then `jinguan simulate --url http://127.0.0.1:8080 \
--declarations 10000 --enterprises 1000 --clients 16`. Setup costs two password hashes per \
enterprise user (argon2id): fewer --enterprises set up faster. Reference prices are the \
server's own and sampling hashes the server's numbers, so lanes differ from the in-memory day; \
refusals at filing (licence ledger, cargo control) are reported by code.")]
pub struct Args {
    /// The seed: the same seed gives the same day.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Declarations in the day.
    #[arg(long, default_value_t = 100_000)]
    declarations: u64,
    #[arg(long, value_enum, default_value_t = Mode::Pipeline)]
    mode: Mode,
    /// Active risk rules.
    #[arg(long, default_value_t = 1_000)]
    rules: usize,
    /// Declarations of the warm-up slice the price references come from.
    #[arg(long, default_value_t = 50_000)]
    warmup: u64,
    /// Enterprises in the world.
    #[arg(long, default_value_t = 20_000)]
    enterprises: usize,
    /// Worker threads (pipeline mode); default: the cores.
    #[arg(long)]
    threads: Option<usize>,
    /// Submitter threads (store mode) or concurrent HTTP clients (--url).
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Drive a running server over HTTP instead (`http://HOST:PORT`); see below.
    #[arg(long, conflicts_with = "mode")]
    url: Option<String>,
    /// With --url: declarations per second (default: as fast as the server answers).
    #[arg(long, requires = "url")]
    rate: Option<f64>,
    /// With --url: take every accepted filing on to release (review or inspection recorded as
    /// conform, assessment, notices paid, release), as officers created per office.
    #[arg(long, requires = "url")]
    officer_steps: bool,
    /// With --url: the password of the demo users (admin, hq-analyst, sh-chief, mofcom, samr,
    /// carrier).
    #[arg(
        long,
        env = "JINGUAN_SIM_PASSWORD",
        default_value = "jinguan-demo",
        hide_env_values = true
    )]
    password: String,
    /// Store folder (store mode); default: a temporary folder removed at the end.
    #[arg(long)]
    store_dir: Option<PathBuf>,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    if !(1..=100_000_000).contains(&args.declarations) {
        bail!("--declarations 1..=100,000,000");
    }
    if !(1..=100_000).contains(&args.rules) || !(100..=1_000_000).contains(&args.enterprises) {
        bail!("--rules 1..=100,000 and --enterprises 100..=1,000,000");
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let mut cfg = sim::Config::new(args.seed, args.declarations);
    cfg.rules = args.rules;
    cfg.warmup = args.warmup;
    cfg.enterprises = args.enterprises;
    if let Some(t) = args.threads {
        cfg.threads = t.clamp(1, 256);
    }
    let bar = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(args.declarations)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} declarations, {per_sec}, eta {eta}",
        )
        .context("progress template")?
        .progress_chars("=> "),
    );
    let progress = |done: u64| bar.set_position(done);
    let started = chrono::Utc::now();
    let mut http_notes = None;
    let (tally, timings, mode_note) = match (args.mode, &args.url) {
        (_, Some(url)) => {
            let now = chrono::Utc::now();
            let opts = sim::http::HttpOptions {
                url: url.clone(),
                clients: args.clients.clamp(1, 1024),
                rate_per_s: args.rate.filter(|r| *r > 0.0),
                password: args.password.clone(),
                today: now.date_naive(),
                arrived_at: now - chrono::Duration::hours(1),
                officer_steps: args.officer_steps,
            };
            let (t, tm, notes) = sim::http::run_http(&cfg, &refdata, &opts, &progress)
                .map_err(|e| anyhow::anyhow!(e))
                .with_context(|| format!("failed to run the day against {url}"))?;
            http_notes = Some(notes);
            let rate = args
                .rate
                .map_or("as fast as answered".to_owned(), |r| format!("{r}/s"));
            (
                t,
                tm,
                format!("http ({url}, {} clients, {rate})", opts.clients),
            )
        }
        (Mode::Pipeline, None) => {
            let (t, tm, _) = sim::run_pipeline(&cfg, refdata, &progress);
            (
                t,
                tm,
                format!("pipeline (in memory, {} threads)", cfg.threads),
            )
        }
        (Mode::Store, None) => {
            let tmp;
            let dir = match &args.store_dir {
                Some(d) => d.clone(),
                None => {
                    tmp = tempfile::tempdir().context("temporary folder")?;
                    tmp.path().to_owned()
                }
            };
            let (t, tm) =
                sim::run_store(&cfg, refdata, &dir, args.clients.clamp(1, 1024), &progress)
                    .map_err(|e| anyhow::anyhow!(e))?;
            (
                t,
                tm,
                format!(
                    "store (Clearance::submit on SQLite WAL synchronous=FULL, {} submitters)",
                    args.clients
                ),
            )
        }
    };
    bar.finish_and_clear();
    let wall = timings.wall.as_secs_f64();
    let meta = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "started_at": started.to_rfc3339(),
        "seed": args.seed, "declarations": args.declarations, "mode": mode_note,
        "rules": args.rules, "warmup": args.warmup, "enterprises": args.enterprises,
        "setup_s": timings.setup.as_secs_f64(), "wall_s": wall,
        "declarations_per_s": args.declarations as f64 / wall.max(1e-9),
        "pipeline_cpu_s": timings.pipeline.as_secs_f64(),
        "pipeline_per_s_per_thread": if timings.pipeline.is_zero() { 0.0 } else { args.declarations as f64 / timings.pipeline.as_secs_f64() },
        "rates_ppm": cfg.rates,
    });
    let mut report = sim::report::to_json(&tally, meta);
    if let Some(notes) = &http_notes {
        report["http"] = serde_json::to_value(notes)?;
    }
    println!(
        "jinguan simulate — seed {}, {} declarations, mode {mode_note}",
        args.seed, args.declarations
    );
    let per_thread = report["meta"]["pipeline_per_s_per_thread"]
        .as_f64()
        .unwrap_or(0.0);
    println!(
        "time: setup {:.1} s, day {:.1} s ({:.0} declarations/s{})",
        timings.setup.as_secs_f64(),
        wall,
        report["meta"]["declarations_per_s"].as_f64().unwrap_or(0.0),
        if per_thread > 0.0 {
            format!("; pipeline alone {per_thread:.0}/s per thread")
        } else {
            String::new()
        },
    );
    print!("{}", sim::report::to_text(&report));
    if let Some(n) = &http_notes {
        println!(
            "http setup: {} enterprise users, {} credit classes, {} licences issued, {} watch-list entries, {} rules, {} manifests ({} bills) in {:.1} s",
            n.enterprise_users, n.credit_classes, n.licences, n.watch_entries, n.rules, n.manifests, n.bills, n.setup_s
        );
        println!(
            "http refusals at filing (first problem's code): {:?}",
            n.refusals
        );
        println!(
            "http statuses of accepted filings: {:?}; sent again after a version conflict: {}",
            n.statuses, n.conflicts_retried
        );
        if args.officer_steps {
            println!(
                "http officer steps: {} officers, {} steps taken, refused: {:?}",
                n.officers, n.steps, n.step_refusals
            );
        }
        println!("(price references are the server's own and sampling hashes its numbers: lanes differ from the in-memory day)");
    }
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
