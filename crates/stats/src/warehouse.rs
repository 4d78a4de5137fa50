//! The warehouse folder: Parquet files under `items/year=YYYY/month=M/` (Hive partitions any
//! engine reads), the extraction state `state.json` beside them, and the query side — a
//! DataFusion session with the documented tables ([`TABLES`]), read-only SQL with a timeout.
//!
//! Files are written whole: to a `.tmp` name, fsynced, renamed, the folder fsynced; the state
//! is written the same way after the files it counts. A file whose batch (`part-<run>…`) the
//! state does not count is an unfinished batch of a crashed extraction: [`Warehouse::open`]
//! removes it, so what readers see is always whole batches.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::prelude::ParquetReadOptions;
use serde::{Deserialize, Serialize};

use crate::dims;
use crate::error::StatsError;
use crate::schema::item_schema;

/// The extraction state, `state.json`: where in the ledger's audit chain the warehouse stands,
/// the next batch number, and per month the batches that wrote it (its revisions).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// The format of this file and of the folder.
    pub format: u32,
    /// The last audit record extracted (`Store::changed_declarations`' cursor).
    pub audit_after: i64,
    /// The batch number the next extraction writes; every file's batch is below it.
    pub next_run: i64,
    /// `YYYY-MM` → the batches that wrote rows of that month, oldest first: revision `n` of a
    /// month is its first `n` batches.
    pub months: BTreeMap<String, Vec<i64>>,
}

/// 2: the dimension key columns (`flow_key`, `hs2_key`, …) joined the files; a folder of format
/// 1 is refused (extract it again into a new folder).
pub const FORMAT: u32 = 2;

/// The tables a query may name, with what each holds (docs/STATISTICS.md has every column).
pub const TABLES: [(&str, &str); 11] = [
    (
        "items",
        "statistical item rows (Parquet, partitioned by year and month)",
    ),
    (
        "revisions",
        "each month's revisions: year, month, revision, run",
    ),
    ("hs_sections", "HS sections and their chapters"),
    (
        "countries",
        "countries (alpha-3, legacy statistics code, names, continent)",
    ),
    (
        "partner_groups",
        "region groups of partners (ASEAN, EU, RCEP, GCC) and their members",
    ),
    ("stats_trade_modes", "2-digit statistical trade modes"),
    ("transport_modes", "transport modes"),
    (
        "districts",
        "customs districts (directly-affiliated customs)",
    ),
    ("offices", "customs offices and their district"),
    ("regions", "domestic regions (provinces)"),
    (
        "enterprise_types",
        "enterprise types (the customs enterprise code's 6th character)",
    ),
];

/// Rows at most in one query's answer, unless the caller asks otherwise.
pub const QUERY_ROWS_MAX: usize = 100_000;

/// A warehouse folder, and the engine that reads it.
pub struct Warehouse {
    dir: PathBuf,
    runtime: tokio::runtime::Runtime,
    refdata: Arc<refdata::RefData>,
}

impl Warehouse {
    /// Open (creating) the folder; remove what a crashed extraction left unfinished.
    pub fn open(dir: &Path, refdata: Arc<refdata::RefData>) -> Result<Warehouse, StatsError> {
        fs::create_dir_all(dir.join("items"))?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("stats")
            .enable_time()
            .build()?;
        let w = Warehouse {
            dir: dir.to_owned(),
            runtime,
            refdata,
        };
        let state = w.state()?;
        w.remove_unfinished(&state)?;
        Ok(w)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn items_dir(&self) -> PathBuf {
        self.dir.join("items")
    }

    pub fn refdata(&self) -> &refdata::RefData {
        &self.refdata
    }

    /// The extraction state (the default, nothing extracted, for a new folder).
    pub fn state(&self) -> Result<State, StatsError> {
        let path = self.dir.join("state.json");
        match fs::read(&path) {
            Ok(bytes) => {
                let s: State = serde_json::from_slice(&bytes)
                    .map_err(|e| StatsError::Corrupt(format!("state.json: {e}")))?;
                if s.format != FORMAT {
                    return Err(StatsError::Corrupt(format!(
                        "state.json format {} (this version reads {FORMAT})",
                        s.format
                    )));
                }
                Ok(s)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State {
                format: FORMAT,
                ..State::default()
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Replace the state, durably (after the files it counts are durable).
    pub fn put_state(&self, state: &State) -> Result<(), StatsError> {
        let bytes = serde_json::to_vec_pretty(state).expect("state serializes");
        write_whole(&self.dir, "state.json", &bytes)
    }

    /// Remove `.tmp` files and files of batches the state does not count.
    fn remove_unfinished(&self, state: &State) -> Result<(), StatsError> {
        for file in parquet_files(&self.items_dir(), true)? {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            let unfinished =
                name.ends_with(".tmp") || run_of_file(name).is_none_or(|run| run >= state.next_run);
            if unfinished {
                fs::remove_file(&file)?;
            }
        }
        Ok(())
    }

    /// Write `batches` as the Parquet file of batch `run` in the month's partition (whole or
    /// not at all). `suffix` tells apart several files of one batch and month.
    pub fn write_partition(
        &self,
        year: i32,
        month: u32,
        run: i64,
        suffix: &str,
        batches: &[RecordBatch],
    ) -> Result<PathBuf, StatsError> {
        let dir = self
            .items_dir()
            .join(format!("year={year}"))
            // Not zero-padded: engines compare a partition's text with the filter's value
            // (`month = 9` does not match `month=09` in DataFusion's partition pruning).
            .join(format!("month={month}"));
        fs::create_dir_all(&dir)?;
        let name = format!("part-{run:010}{suffix}.parquet");
        let tmp = dir.join(format!("{name}.tmp"));
        let file = fs::File::create(&tmp)?;
        let mut writer = ArrowWriter::try_new(file, item_schema(), Some(writer_properties()))?;
        for b in batches {
            writer.write(b)?;
        }
        let file = writer.into_inner()?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, dir.join(&name))?;
        sync_dir(&dir)?;
        Ok(dir.join(name))
    }

    /// Bytes of Parquet under `items/`.
    pub fn size_bytes(&self) -> Result<u64, StatsError> {
        let mut total = 0;
        for f in parquet_files(&self.items_dir(), false)? {
            total += fs::metadata(f)?.len();
        }
        Ok(total)
    }

    /// A session with every table of [`TABLES`] registered.
    pub fn session(&self) -> Result<SessionContext, StatsError> {
        let state = self.state()?;
        self.block_on(async {
            let config = SessionConfig::new()
                .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
                .with_information_schema(true);
            let ctx = SessionContext::new_with_config(config);
            let schema = item_schema();
            let options = ParquetReadOptions::default()
                .table_partition_cols(vec![
                    ("year".to_owned(), DataType::Int32),
                    ("month".to_owned(), DataType::Int32),
                ])
                .schema(&schema);
            let items = self.items_dir();
            let url = format!("{}/", items.display());
            ctx.register_parquet("items", &url, options).await?;
            for (name, batch) in dims::tables(&self.refdata, &state)? {
                ctx.register_batch(name, batch)?;
            }
            Ok::<_, StatsError>(ctx)
        })
    }

    /// Run `f` on the warehouse's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// One read-only SQL statement, answered within `timeout` and `rows_max` rows.
    pub fn query(
        &self,
        sql: &str,
        timeout: Duration,
        rows_max: usize,
    ) -> Result<Answer, StatsError> {
        let ctx = self.session()?;
        self.query_in(&ctx, sql, timeout, rows_max)
    }

    /// [`Warehouse::query`] in a session already open.
    pub fn query_in(
        &self,
        ctx: &SessionContext,
        sql: &str,
        timeout: Duration,
        rows_max: usize,
    ) -> Result<Answer, StatsError> {
        if sql.trim().is_empty() {
            return Err(StatsError::BadQuery("empty statement".to_owned()));
        }
        self.block_on(async {
            let work = async {
                let plan = ctx.state().create_logical_plan(sql).await?;
                SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false)
                    .verify_plan(&plan)
                    .map_err(|e| StatsError::NotReadOnly(first_line(&e)))?;
                let df = ctx.execute_logical_plan(plan).await?;
                let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let mut stream = df.execute_stream().await?;
                let mut batches = Vec::new();
                let mut rows = 0;
                use futures_util::StreamExt;
                while let Some(b) = stream.next().await {
                    let b = b?;
                    rows += b.num_rows();
                    if rows > rows_max {
                        return Err(StatsError::TooManyRows(rows_max));
                    }
                    batches.push(b);
                }
                Ok::<_, StatsError>(Answer { schema, batches })
            };
            match tokio::time::timeout(timeout, work).await {
                Ok(r) => r,
                Err(_) => Err(StatsError::Timeout(timeout.as_secs().max(1))),
            }
        })
    }
}

/// A query's answer: its schema and rows.
#[derive(Clone, Debug)]
pub struct Answer {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Answer {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// A text table, as a terminal shows it.
    pub fn pretty(&self) -> Result<String, StatsError> {
        Ok(datafusion::arrow::util::pretty::pretty_format_batches(&self.batches)?.to_string())
    }

    /// Rows as JSON objects.
    pub fn json_rows(&self) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, StatsError> {
        let mut out = Vec::new();
        for b in &self.batches {
            let mut w = datafusion::arrow::json::ArrayWriter::new(Vec::new());
            w.write(b)?;
            w.finish()?;
            let bytes = w.into_inner();
            if bytes.is_empty() {
                continue;
            }
            let rows: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_slice(&bytes).map_err(|e| StatsError::Engine(e.to_string()))?;
            out.extend(rows);
        }
        Ok(out)
    }

    pub fn columns(&self) -> Vec<String> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// Parquet as any engine reads it: Snappy, dictionaries, statistics per page, row groups of
/// 1 M rows; but the two value columns plain and uncompressed (no dictionary: nearly every value
/// differs, and Snappy saves little on them), because every bulletin statement reads them and
/// decompressing them was the larger part of a scan.
pub fn writer_properties() -> WriterProperties {
    use datafusion::parquet::schema::types::ColumnPath;
    let mut b = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by("jinguan stats".to_owned());
    for c in ["value_cny_fen", "value_usd_cents"] {
        b = b
            .set_column_compression(ColumnPath::from(c), Compression::UNCOMPRESSED)
            .set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    b.build()
}

/// The batch number of a file named `part-<run>[…].parquet`.
pub fn run_of_file(name: &str) -> Option<i64> {
    let rest = name.strip_prefix("part-")?;
    rest.get(..10)?.parse().ok()
}

/// Every file under `dir` (recursively) ending in `.parquet` (and `.parquet.tmp` if `tmp`).
pub fn parquet_files(dir: &Path, tmp: bool) -> Result<Vec<PathBuf>, StatsError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e.into()),
        };
        for e in entries {
            let e = e?;
            let path = e.path();
            if e.file_type()?.is_dir() {
                stack.push(path);
            } else {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if name.ends_with(".parquet") || (tmp && name.ends_with(".parquet.tmp")) {
                    out.push(path);
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Write `name` in `dir` whole: temporary file, fsync, rename, fsync of the folder.
pub fn write_whole(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StatsError> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), StatsError> {
    fs::File::open(dir)?.sync_all()?;
    Ok(())
}
