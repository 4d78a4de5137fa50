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
    /// For a cross-border e-commerce retail import (9610, 1210): the buyer's earlier purchases,
    /// whose total in the year counts against the annual limit. CSV `person_id,date,value`:
    /// person_id as `resident_id:NUMBER` or `passport:NUMBER`, date YYYY-MM-DD, value in yuan
    /// (at most 2 decimals); a header row and `#` lines are skipped; an empty file means none.
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

/// Read a purchase history file (see `Args::history`); every bad row is reported by line.
fn read_history(path: &Path) -> anyhow::Result<tax::EcommerceHistory> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the purchase history {}", path.display()))?;
    tax::EcommerceHistory::parse_csv(&text).map_err(|errors| {
        anyhow::anyhow!(
            "purchase history {} has {} bad row(s):\n{}",
            path.display(),
            errors.len(),
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}

#[derive(clap::Subcommand)]
pub enum RatesCommand {
    /// Import exchange rates (CSV `currency,date,rate[,units]`, see docs/TAX.md). Every row is
    /// checked first; a file with any bad row changes nothing.
    Import { file: PathBuf },
}

/// The exchange rates in force: those imported into the data folder, else the shipped sample.
pub(crate) fn rate_table(data_dir: &Path) -> anyhow::Result<(RateTable, &'static str)> {
    Ok(
        match refdata::rates::load(data_dir).context("failed to load imported exchange rates")? {
            Some(t) => (t, "imported"),
            None => (
                RateTable::sample(),
                "the shipped SAMPLE table (import official rates with `jinguan rates import`)",
            ),
        },
    )
}

/// The tax engine's tables in force for `jinguan tax` and `jinguan serve`: each imported one
/// (`jinguan rates import`, `jinguan refdata import calendar|trade_remedies`) when the data
/// folder has it, else the shipped one. (The general-rate origins and the tariff-quota rates
/// are reference tables, read with the rest of `RefData`.)
pub fn tax_tables(data_dir: &Path) -> anyhow::Result<(app::TaxTables, &'static str)> {
    let (rates, rates_source) = rate_table(data_dir)?;
    let calendar = refdata::tax_tables::load_calendar(data_dir)
        .context("failed to load the imported calendar")?
        .unwrap_or_else(TradingCalendar::china);
    let remedies = refdata::tax_tables::load_trade_remedies(data_dir)
        .context("failed to load the imported trade remedies")?
        .unwrap_or_else(TradeRemedyTable::sample);
    Ok((
        app::TaxTables {
            rates,
            calendar,
            remedies,
            policy: TaxPolicy::default(),
        },
        rates_source,
    ))
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
    let ecommerce = declaration.direction == domain::codes::Direction::Import
        && declaration.trade_mode.is_cross_border_ecommerce_retail();
    let history = match (&args.history, ecommerce) {
        (Some(path), true) => Some(read_history(path)?),
        (Some(_), false) => {
            eprintln!("jinguan: --history applies only to cross-border e-commerce retail imports (9610, 1210); this declaration is trade mode {}", declaration.trade_mode);
            return Ok(ExitCode::from(2));
        }
        (None, true) => {
            eprintln!("jinguan: cannot assess 无法计税: a cross-border e-commerce retail import (trade mode {}) is limited per buyer and year: give the buyer's earlier purchases with --history FILE (an empty file if there are none) / 跨境电商零售进口需提供订购人本年度的历史交易（--history）", declaration.trade_mode);
            return Ok(ExitCode::from(1));
        }
        (None, false) => None,
    };
    let person_id = declaration
        .buyer
        .as_ref()
        .map(domain::declaration::Buyer::person_id);
    let ecommerce_buyer = match (&history, &person_id) {
        (Some(history), Some(person_id)) => Some(tax::EcommerceBuyer { person_id, history }),
        _ => None,
    };
    let (tables, rates_source) = tax_tables(data_dir)?;
    let app::TaxTables {
        rates,
        calendar,
        remedies,
        policy,
    } = tables;
    let ctx = TaxContext {
        reference: &reference,
        rates: &rates,
        calendar: &calendar,
        remedies: &remedies,
        policy: &policy,
        tax_date: args.date,
        ecommerce_buyer,
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
        RatesCommand::Import { file } => match refdata::rates::import(data_dir, &file) {
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
