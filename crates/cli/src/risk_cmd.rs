//! `jinguan risk check|report|draw`: thin wrappers over `risk::cli`, which holds the logic and
//! its tests. This module reads the files and sets the exit code.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use risk::cli::Output;

use crate::serve_cmd::{open_store, Backend, StoreArgs};

/// A rule file larger than this is refused (100,000 rules of about 600 bytes).
const RULES_BYTES_MAX: u64 = 64 << 20;
/// A feedback file larger than this is refused (about 10 million records).
const FEEDBACK_BYTES_MAX: u64 = 2 << 30;

#[derive(clap::Subcommand)]
pub enum RiskCommand {
    /// Check a rule file (text format or JSON, docs/RISK.md) and list every error.
    ///
    /// Exit status: 0 valid, 1 invalid, 2 the file could not be read.
    Check {
        file: PathBuf,
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
    },
    /// Report each rule's hit rate and effect from a feedback file (JSON lines, docs/RISK.md),
    /// or, without a file, from the feedback the service stored (the store of --data-dir, or
    /// --database postgres://…): the same report as `GET /api/risk/report`.
    ///
    /// Exit status: 0 done, 1 some lines invalid, 2 the file or the store could not be read.
    Report {
        file: Option<PathBuf>,
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Repeat the sampling draw of declaration numbers with a published seed (for auditors);
    /// with the rates of the enterprise's credit class (`GET /api/risk/sampling`), also the lane
    /// sampling chose: red, yellow or none.
    ///
    /// Exit status: 0 done, 1 some numbers invalid or rates over 1,000,000 ppm.
    Draw {
        /// The published sampling seed.
        #[arg(long)]
        seed: String,
        /// The class's red (inspection) rate, in parts per million.
        #[arg(long, requires = "yellow_ppm")]
        red_ppm: Option<u32>,
        /// The class's yellow (document review) rate, in parts per million.
        #[arg(long, requires = "red_ppm")]
        yellow_ppm: Option<u32>,
        /// 18-digit declaration numbers.
        #[arg(required = true)]
        numbers: Vec<String>,
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
    },
}

fn read(path: &Path, max: u64) -> anyhow::Result<String> {
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .with_context(|| format!("failed to read {}", path.display()))?;
    anyhow::ensure!(
        bytes.len() as u64 <= max,
        "{} is larger than {max} bytes",
        path.display()
    );
    String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", path.display()))
}

pub fn run(data_dir: &Path, cmd: RiskCommand) -> anyhow::Result<ExitCode> {
    let out = match cmd {
        RiskCommand::Check { file, json } => {
            let text = read(&file, RULES_BYTES_MAX)?;
            risk::cli::check(&file.display().to_string(), &text, json)
        }
        RiskCommand::Report {
            file: Some(file),
            json,
            store,
        } => {
            anyhow::ensure!(
                store.database.is_none(),
                "give either a feedback file or --database, not both"
            );
            let text = read(&file, FEEDBACK_BYTES_MAX)?;
            risk::cli::report(&file.display().to_string(), &text, json)
        }
        RiskCommand::Report {
            file: None,
            json,
            store,
        } => report_from_store(data_dir, &store, json)?,
        RiskCommand::Draw {
            seed,
            red_ppm,
            yellow_ppm,
            numbers,
            json,
        } => {
            let rates = red_ppm
                .zip(yellow_ppm)
                .map(|(red_ppm, yellow_ppm)| risk::ClassRates {
                    red_ppm,
                    yellow_ppm,
                });
            risk::cli::draw_with_rates(&seed, rates, &numbers, json)
        }
    };
    print!("{}", out.stdout);
    Ok(ExitCode::from(out.exit_code))
}

/// The report of the feedback stored by the service, as the API gives it.
fn report_from_store(data_dir: &Path, args: &StoreArgs, json: bool) -> anyhow::Result<Output> {
    let backend = args.backend(data_dir)?;
    if let Backend::Sqlite(dir) = &backend {
        // Reading a report never creates a store.
        let db = dir.join(store_sqlite::DB_FILE);
        anyhow::ensure!(
            db.exists(),
            "no store in {} (give a feedback file, or the --data-dir the service runs with)",
            dir.display()
        );
    }
    let store = open_store(&backend)?;
    let rs = store
        .risk_store()
        .context("this store keeps no risk feedback")?;
    let report = app::risk_desk::report_from_store(rs)
        .map_err(|e| anyhow::anyhow!("failed to read the risk feedback: {e}"))?;
    let stdout = if json {
        serde_json::to_string_pretty(&report).expect("serialises") + "\n"
    } else {
        report.to_text()
    };
    Ok(Output {
        stdout,
        exit_code: 0,
    })
}
