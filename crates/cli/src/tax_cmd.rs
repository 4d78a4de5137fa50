//! `jinguan tax FILE` and `jinguan rates import FILE`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use domain::validate::{validate_json, DOCUMENT_BYTES_MAX};
use tax::{RateTable, TaxContext, TaxPolicy, TradeRemedyTable, TradingCalendar};

#[derive(clap::Args)]
pub struct Args {
    /// A declaration in Jinguan's JSON form.
    file: PathBuf,
    /// Assess as on this date (YYYY-MM-DD): its tariff lines and exchange rates. Defaults to
    /// the declaration date.
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Print the assessment as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
pub enum RatesCommand {
    /// Import exchange rates (CSV `currency,date,rate[,units]`, see docs/TAX.md). Every row is
    /// checked first; a file with any bad row changes nothing.
    Import { file: PathBuf },
}

/// The exchange rates in force: those imported into the data folder, else the shipped sample.
fn rate_table(data_dir: &Path) -> anyhow::Result<(RateTable, &'static str)> {
    Ok(
        match tax::rates::load(data_dir).context("failed to load imported exchange rates")? {
            Some(t) => (t, "imported"),
            None => (
                RateTable::sample(),
                "the shipped SAMPLE table (import official rates with `jinguan rates import`)",
            ),
        },
    )
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let reference = crate::load_reference(data_dir)?;
    let mut bytes = Vec::new();
    File::open(&args.file)
        .and_then(|f| {
            f.take(DOCUMENT_BYTES_MAX as u64 + 1)
                .read_to_end(&mut bytes)
        })
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let declaration = match validate_json(&bytes, &reference) {
        Ok(d) => d,
        Err(problems) => {
            eprintln!(
                "{}: invalid 无效 — fix these first 请先更正:",
                args.file.display()
            );
            eprint!("{problems}");
            return Ok(ExitCode::from(1));
        }
    };
    let (rates, rates_source) = rate_table(data_dir)?;
    let calendar = TradingCalendar::china();
    let remedies = TradeRemedyTable::sample();
    let policy = TaxPolicy::default();
    let ctx = TaxContext {
        reference: &reference,
        rates: &rates,
        calendar: &calendar,
        remedies: &remedies,
        policy: &policy,
        tax_date: args.date,
        ecommerce_buyer: None,
    };
    match tax::assess(&declaration, &ctx) {
        Ok(assessment) => {
            if args.json {
                println!("{}", assessment.to_json());
            } else {
                print!("{}", assessment.render_text());
                println!("exchange rates: {rates_source}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("jinguan: cannot assess 无法计税: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

pub fn run_rates(data_dir: &Path, cmd: RatesCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RatesCommand::Import { file } => match tax::rates::import(data_dir, &file) {
            Ok(s) => {
                println!(
                    "imported 已导入 {} rows ({} new, {} replaced); {} rates in force in {}",
                    s.rows_read,
                    s.added,
                    s.replaced,
                    s.total,
                    s.path.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("jinguan: {e}");
                eprintln!("nothing was changed 未做任何更改");
                Ok(ExitCode::from(1))
            }
        },
    }
}
