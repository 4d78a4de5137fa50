//! `jinguan risk check|report|draw`: thin wrappers over `risk::cli`, which holds the logic and
//! its tests. This module reads the files and sets the exit code.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

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
    /// Report each rule's hit rate and effect from a feedback file (JSON lines, docs/RISK.md).
    ///
    /// Exit status: 0 done, 1 some lines invalid, 2 the file could not be read.
    Report {
        file: PathBuf,
        /// Print JSON for machines.
        #[arg(long)]
        json: bool,
    },
    /// Repeat the sampling draw of declaration numbers with a published seed (for auditors).
    ///
    /// Exit status: 0 done, 1 some numbers invalid.
    Draw {
        /// The published sampling seed.
        #[arg(long)]
        seed: String,
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

pub fn run(cmd: RiskCommand) -> anyhow::Result<ExitCode> {
    let out = match cmd {
        RiskCommand::Check { file, json } => {
            let text = read(&file, RULES_BYTES_MAX)?;
            risk::cli::check(&file.display().to_string(), &text, json)
        }
        RiskCommand::Report { file, json } => {
            let text = read(&file, FEEDBACK_BYTES_MAX)?;
            risk::cli::report(&file.display().to_string(), &text, json)
        }
        RiskCommand::Draw {
            seed,
            numbers,
            json,
        } => risk::cli::draw(&seed, &numbers, json),
    };
    print!("{}", out.stdout);
    Ok(ExitCode::from(out.exit_code))
}
