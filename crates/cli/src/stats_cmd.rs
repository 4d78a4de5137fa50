//! `jinguan stats`: the customs statistics warehouse (crates/stats, docs/STATISTICS.md) —
//! extract from the ledger, query with SQL, write the monthly bulletin, generate rows at scale,
//! and the bulletin's benchmark beside DuckDB.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use stats::{StatsError, Warehouse};

use crate::serve_cmd::{open_store, StoreArgs};

#[derive(clap::Subcommand)]
pub enum StatsCommand {
    /// Bring the warehouse up to date with the ledger (only what changed since the last run;
    /// resumable after a crash; amendments become revisions of their month).
    Extract {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        warehouse: WarehouseArg,
        /// Audit records read per batch (each batch is written whole, then the cursor).
        #[arg(long, default_value_t = stats::extract::BATCH_RECORDS)]
        batch: u32,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Run one read-only SQL statement over the documented tables (items, revisions,
    /// hs_sections, countries, partner_groups, stats_trade_modes, transport_modes, districts,
    /// offices, regions, enterprise_types; docs/STATISTICS.md).
    Query {
        /// The statement, e.g. "SELECT hs2, SUM(value_usd_cents) FROM items GROUP BY hs2".
        sql: String,
        #[command(flatten)]
        warehouse: WarehouseArg,
        /// Seconds before the query is stopped.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Rows at most in the answer.
        #[arg(long, default_value_t = stats::warehouse::QUERY_ROWS_MAX)]
        max_rows: usize,
        #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
        format: QueryFormat,
    },
    /// Write the monthly bulletin (month and year to date, growth on the previous year).
    Bulletin {
        /// The month, YYYY-MM.
        #[arg(long)]
        month: String,
        #[command(flatten)]
        warehouse: WarehouseArg,
        #[arg(long, value_enum, default_value_t = BulletinFormat::Csv)]
        format: BulletinFormat,
        /// The file to write; default bulletin-YYYY-MM.csv|xlsx in the current folder; `-`
        /// writes CSV to standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The bulletin as of this extraction batch (an earlier revision).
        #[arg(long)]
        as_of_run: Option<i64>,
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
    /// Generate statistics rows at national scale into a new warehouse folder (benchmarks).
    Generate {
        /// Item rows to write.
        #[arg(long)]
        rows: u64,
        #[command(flatten)]
        warehouse: WarehouseArg,
        /// First month, YYYY-MM.
        #[arg(long, default_value = "2025-01")]
        from: String,
        /// Last month, YYYY-MM.
        #[arg(long, default_value = "2026-10")]
        to: String,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Writer threads; default: the cores.
        #[arg(long)]
        threads: Option<usize>,
        #[arg(long)]
        quiet: bool,
    },
    /// Benchmark: the bulletin on this warehouse with DataFusion, and the same SQL on the same
    /// files with DuckDB (`python3 -c 'import duckdb'` must work), in the same run.
    Bench {
        #[command(flatten)]
        warehouse: WarehouseArg,
        #[arg(long, default_value = "2026-10")]
        month: String,
        /// Timed runs of each engine (the best is reported), after one warm-up run each.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// The Python with the duckdb wheel.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Also write the figures as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

#[derive(clap::Args, Clone, Debug)]
pub struct WarehouseArg {
    /// The warehouse folder; default <data-dir>/warehouse.
    #[arg(long)]
    warehouse: Option<PathBuf>,
}

impl WarehouseArg {
    fn dir(&self, data_dir: &Path) -> PathBuf {
        self.warehouse
            .clone()
            .unwrap_or_else(|| data_dir.join("warehouse"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum QueryFormat {
    Table,
    Json,
    Csv,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BulletinFormat {
    Csv,
    Xlsx,
}

/// A warehouse error: bad input prints both languages and exits 2; anything else is an error
/// with context.
fn fail(e: StatsError) -> anyhow::Result<ExitCode> {
    if e.is_bad_input() {
        eprintln!(
            "错误 error [{}]: {}\n{}",
            e.code(),
            e.message_zh(),
            e.message_en()
        );
        Ok(ExitCode::from(2))
    } else {
        Err(anyhow::anyhow!("{} / {}", e.message_zh(), e.message_en()))
    }
}

fn open(data_dir: &Path, w: &WarehouseArg) -> anyhow::Result<Warehouse> {
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let dir = w.dir(data_dir);
    Warehouse::open(&dir, refdata)
        .map_err(|e| anyhow::anyhow!("{} / {}", e.message_zh(), e.message_en()))
        .with_context(|| format!("failed to open the warehouse {}", dir.display()))
}

pub fn run(data_dir: &Path, cmd: StatsCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        StatsCommand::Extract {
            store,
            warehouse,
            batch,
            quiet,
        } => {
            let wh = open(data_dir, &warehouse)?;
            let store = open_store(&store.backend(data_dir)?)?;
            let rates = stats::rows::MonthRates::new(&crate::tax_cmd::rate_table(data_dir)?.0);
            let bar = if quiet {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new(0)
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] audit record {pos}/{len}, {msg}",
                )
                .context("progress template")?
                .progress_chars("=> "),
            );
            let report = stats::extract::extract(store.as_ref(), &wh, &rates, batch, &mut |p| {
                bar.set_length((p.audit_head - p.audit_from).max(0) as u64);
                bar.set_position((p.audit_at - p.audit_from).max(0) as u64);
                bar.set_message(format!(
                    "{} declarations, +{} rows, -{} reversed",
                    p.declarations, p.rows_added, p.rows_reversed
                ));
            });
            bar.finish_and_clear();
            let report = match report {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let p = &report.progress;
            println!(
                "extracted 已抽取: {} declarations read, {} rows added, {} reversed, in {} batches; cursor at audit record {}",
                p.declarations, p.rows_added, p.rows_reversed, p.batches, p.audit_at
            );
            for (month, rev) in &report.months {
                println!("  {month}: revision 修订 {rev}");
            }
            Ok(ExitCode::SUCCESS)
        }
        StatsCommand::Query {
            sql,
            warehouse,
            timeout,
            max_rows,
            format,
        } => {
            let wh = open(data_dir, &warehouse)?;
            let answer = match wh.query(&sql, Duration::from_secs(timeout.max(1)), max_rows) {
                Ok(a) => a,
                Err(e) => return fail(e),
            };
            let mut out = std::io::stdout().lock();
            match format {
                QueryFormat::Table => writeln!(out, "{}", answer.pretty()?)?,
                QueryFormat::Json => {
                    let rows = answer.json_rows()?;
                    writeln!(out, "{}", serde_json::to_string_pretty(&rows)?)?;
                }
                QueryFormat::Csv => {
                    let mut w = stats::datafusion::arrow::csv::Writer::new(&mut out);
                    for b in &answer.batches {
                        w.write(b)?;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        StatsCommand::Bulletin {
            month,
            warehouse,
            format,
            out,
            as_of_run,
            timeout,
        } => {
            if let Err(e) = stats::bulletin::parse_month(&month) {
                return fail(e);
            }
            let wh = open(data_dir, &warehouse)?;
            let started = Instant::now();
            let b = match stats::bulletin::bulletin(
                &wh,
                &month,
                as_of_run,
                Duration::from_secs(timeout.max(1)),
            ) {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            let bytes = match format {
                BulletinFormat::Csv => b.to_csv(),
                BulletinFormat::Xlsx => b.to_xlsx(),
            };
            let bytes = match bytes {
                Ok(b) => b,
                Err(e) => return fail(e),
            };
            let ext = match format {
                BulletinFormat::Csv => "csv",
                BulletinFormat::Xlsx => "xlsx",
            };
            let path =
                out.unwrap_or_else(|| PathBuf::from(format!("bulletin-{}.{ext}", b.label())));
            if path.as_os_str() == "-" {
                std::io::stdout().lock().write_all(&bytes)?;
            } else {
                std::fs::write(&path, &bytes)
                    .with_context(|| format!("failed to write {}", path.display()))?;
                eprintln!(
                    "bulletin 统计快报 {} written to {} in {:.2} s",
                    b.label(),
                    path.display(),
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        StatsCommand::Generate {
            rows,
            warehouse,
            from,
            to,
            seed,
            threads,
            quiet,
        } => {
            let (from, to) = match (
                stats::bulletin::parse_month(&from),
                stats::bulletin::parse_month(&to),
            ) {
                (Ok(f), Ok(t)) => (f, t),
                (Err(e), _) | (_, Err(e)) => return fail(e),
            };
            let wh = open(data_dir, &warehouse)?;
            let bar = if quiet {
                indicatif::ProgressBar::hidden()
            } else {
                indicatif::ProgressBar::new(rows)
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:40}] {pos}/{len} rows, {per_sec}, eta {eta}",
                )
                .context("progress template")?
                .progress_chars("=> "),
            );
            let threads = threads
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
            let started = Instant::now();
            let r = stats::generate::generate(&wh, rows, from, to, seed, threads, &|n| {
                bar.set_position(n)
            });
            bar.finish_and_clear();
            if let Err(e) = r {
                return fail(e);
            }
            println!(
                "generated 已生成 {rows} rows in {:.1} s; {} bytes of Parquet under {}",
                started.elapsed().as_secs_f64(),
                wh.size_bytes().map_err(|e| anyhow::anyhow!("{e}"))?,
                wh.items_dir().display()
            );
            Ok(ExitCode::SUCCESS)
        }
        StatsCommand::Bench {
            warehouse,
            month,
            runs,
            python,
            json,
        } => crate::stats_bench::run(&open(data_dir, &warehouse)?, &month, runs, &python, json),
    }
}

/// The warehouse as the server asks it (`app::warehouse::Warehouse`), for `serve --warehouse`.
#[derive(Clone)]
pub struct ServedWarehouse(Arc<Warehouse>);

/// Seconds a dashboard question may take.
const SERVED_TIMEOUT: Duration = Duration::from_secs(30);

impl ServedWarehouse {
    pub fn open(data_dir: &Path, dir: &Path) -> anyhow::Result<Arc<ServedWarehouse>> {
        let arg = WarehouseArg {
            warehouse: Some(dir.to_owned()),
        };
        Ok(Arc::new(ServedWarehouse(Arc::new(open(data_dir, &arg)?))))
    }

    /// Extract what the ledger holds now (the demo's declarations); the rows added.
    pub fn extract(&self, data_dir: &Path, store: &dyn store::Store) -> anyhow::Result<u64> {
        let rates = stats::rows::MonthRates::new(&crate::tax_cmd::rate_table(data_dir)?.0);
        let r = stats::extract::extract(
            store,
            &self.0,
            &rates,
            stats::extract::BATCH_RECORDS,
            &mut |_| {},
        )
        .map_err(|e| anyhow::anyhow!("{} / {}", e.message_zh(), e.message_en()))?;
        Ok(r.progress.rows_added)
    }
}

fn warehouse_error(e: StatsError) -> app::warehouse::WarehouseError {
    if e.is_bad_input() {
        let field = match &e {
            StatsError::BadMonth(_) => "month",
            _ => "query",
        };
        app::warehouse::WarehouseError::Invalid {
            field: field.to_owned(),
            code: e.code().to_owned(),
            message_zh: e.message_zh(),
            message_en: e.message_en(),
        }
    } else {
        app::warehouse::WarehouseError::Failed(e.message_en())
    }
}

impl app::warehouse::Warehouse for ServedWarehouse {
    fn breakdown(
        &self,
        q: &app::warehouse::Breakdown,
    ) -> Result<app::warehouse::BreakdownAnswer, app::warehouse::WarehouseError> {
        let filters: Vec<(String, String)> = q
            .filters
            .iter()
            .map(|(d, c)| (d.as_str().to_owned(), c.clone()))
            .collect();
        let spec = stats::breakdown::Spec {
            by: q.by.as_str(),
            from: &q.from,
            to: &q.to,
            filters: &filters,
            offices: q.offices.as_deref(),
            limit: q.limit,
        };
        let (groups, truncated) =
            stats::breakdown::breakdown(&self.0, &spec, SERVED_TIMEOUT).map_err(warehouse_error)?;
        Ok(app::warehouse::BreakdownAnswer {
            by: q.by.as_str(),
            from: q.from.clone(),
            to: q.to.clone(),
            truncated,
            rows: groups
                .into_iter()
                .map(|g| app::warehouse::BreakdownRow {
                    code: g.code,
                    name_zh: g.name_zh,
                    name_en: g.name_en,
                    items: g.items,
                    export_cny_fen: g.export_cny_fen,
                    import_cny_fen: g.import_cny_fen,
                    export_usd_cents: g.export_usd_cents,
                    import_usd_cents: g.import_usd_cents,
                })
                .collect(),
        })
    }

    fn bulletin(
        &self,
        month: &str,
        format: app::warehouse::BulletinFormat,
    ) -> Result<Vec<u8>, app::warehouse::WarehouseError> {
        let b = stats::bulletin::bulletin(&self.0, month, None, SERVED_TIMEOUT)
            .map_err(warehouse_error)?;
        match format {
            app::warehouse::BulletinFormat::Csv => b.to_csv(),
            app::warehouse::BulletinFormat::Xlsx => b.to_xlsx(),
        }
        .map_err(warehouse_error)
    }
}
