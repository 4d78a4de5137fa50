//! `jinguan codes TABLE [QUERY]` and `jinguan refdata import TABLE FILE`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use refdata::Table;
use serde_json::json;

#[derive(clap::Args)]
pub struct Args {
    /// Table name: offices, countries, currencies, units, trade_modes, levy_natures,
    /// duty_treatments, transport_modes, transaction_terms, package_types, provinces,
    /// stats_trade_modes, tariff, general_rate_origins, tariff_quotas. Without one, lists the
    /// tables.
    table: Option<String>,
    /// Code prefix, or part of a Chinese or English name (case-insensitive).
    query: Option<String>,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
pub enum RefdataCommand {
    /// Replace a shipped table with an official one (CSV, UTF-8, with a header row): a code
    /// table, `tariff`, `general_rate_origins`, `tariff_quotas`, or the tax engine's
    /// `trade_remedies` or `calendar` (used by `jinguan tax` and `jinguan serve`).
    ///
    /// Every row is checked first; if any is bad, each is listed by line number and nothing
    /// changes. Otherwise the table is written atomically to DATA_DIR/refdata/TABLE.csv.
    Import { table: String, file: PathBuf },
    /// List the tables, where each is loaded from, and its row count.
    List,
}

fn list_tables(reference: &refdata::RefData) {
    for t in Table::ALL {
        println!(
            "{:<18} {:>6} rows  {}",
            t.name(),
            reference.row_count(t),
            t.description()
        );
    }
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let reference = crate::load_reference(data_dir)?;
    let Some(name) = args.table else {
        list_tables(&reference);
        return Ok(ExitCode::SUCCESS);
    };
    let Some(table) = Table::from_name(&name) else {
        eprintln!("jinguan: unknown table {name:?}; tables are:");
        list_tables(&reference);
        return Ok(ExitCode::from(2));
    };
    let rows = reference.lookup(table, args.query.as_deref());
    if args.json {
        let rows: Vec<_> = rows
            .iter()
            .map(|r| json!({"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "extra": r.extra}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        for r in &rows {
            println!("{r}");
        }
        if rows.is_empty() {
            eprintln!("no rows match 没有匹配的代码");
        }
    }
    Ok(if rows.is_empty() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn run_refdata(data_dir: &Path, cmd: RefdataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        RefdataCommand::List => {
            list_tables(&crate::load_reference(data_dir)?);
            Ok(ExitCode::SUCCESS)
        }
        RefdataCommand::Import { table, file }
            if refdata::tax_tables::TaxTable::from_name(&table).is_some() =>
        {
            let t = refdata::tax_tables::TaxTable::from_name(&table).expect("matched above");
            match refdata::tax_tables::import(data_dir, t, &file) {
                Ok((path, rows)) => {
                    println!(
                        "imported 已导入 {rows} rows into {} ({}); it is now in force",
                        t.name(),
                        path.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("jinguan: {e}");
                    eprintln!("nothing was changed 未做任何更改");
                    Ok(ExitCode::from(1))
                }
            }
        }
        RefdataCommand::Import { table, file } => match refdata::import(data_dir, &table, &file) {
            Ok(report) => {
                println!(
                    "imported 已导入 {} rows into {} ({}); it is now in force",
                    report.rows,
                    report.table,
                    report.path.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                // The error's text already lists every bad row, one per line.
                eprintln!("jinguan: {e}");
                eprintln!("nothing was changed 未做任何更改");
                Ok(ExitCode::from(1))
            }
        },
    }
}
