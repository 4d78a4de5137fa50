//! `jinguan tax FILE` and `jinguan rates import FILE`: wired when the tax engine lands.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    file: PathBuf,
    /// Declaration date to assess at (YYYY-MM-DD); defaults to the declaration's own date.
    #[arg(long)]
    date: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
pub enum RatesCommand {
    /// Import exchange rates from CSV.
    Import { file: PathBuf },
}

pub fn run(_data_dir: &Path, _args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("tax assessment is not wired yet")
}

pub fn run_rates(_data_dir: &Path, _cmd: RatesCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("rates import is not wired yet")
}
