//! `jinguan simulate`: a seeded national trade day with planted violations, driven through the
//! in-memory pipeline (parse, validate, risk, tax) or the clearance service on a durable SQLite
//! store, and its report (volumes, lanes, simulated clearance times, detection, revenue).

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
    /// Submitter threads (store mode).
    #[arg(long, default_value_t = 64)]
    clients: usize,
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
    let (tally, timings, mode_note) = match args.mode {
        Mode::Pipeline => {
            let (t, tm, _) = sim::run_pipeline(&cfg, refdata, &progress);
            (
                t,
                tm,
                format!("pipeline (in memory, {} threads)", cfg.threads),
            )
        }
        Mode::Store => {
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
    let report = sim::report::to_json(&tally, meta);
    println!(
        "jinguan simulate — seed {}, {} declarations, mode {mode_note}",
        args.seed, args.declarations
    );
    println!(
        "time: setup {:.1} s, day {:.1} s ({:.0} declarations/s; pipeline alone {:.0}/s per thread)",
        timings.setup.as_secs_f64(),
        wall,
        report["meta"]["declarations_per_s"].as_f64().unwrap_or(0.0),
        report["meta"]["pipeline_per_s_per_thread"].as_f64().unwrap_or(0.0),
    );
    print!("{}", sim::report::to_text(&report));
    if let Some(path) = args.json {
        std::fs::write(&path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}
