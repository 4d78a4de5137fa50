//! [`StatsError`]: what the warehouse refuses or fails at, each with a stable code and a message
//! in Chinese and English (`message_zh`, `message_en`), so the command line and the API print
//! the same clear error and never panic on an analyst's SQL or a month typed wrong.

use store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The month is not `YYYY-MM`.
    #[error("bad month {0:?}: expected YYYY-MM, e.g. 2026-10")]
    BadMonth(String),
    /// The SQL did not parse, names an unknown table or column, or does not type-check.
    #[error("query refused: {0}")]
    BadQuery(String),
    /// Only one read-only statement (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) is run.
    #[error("only one read-only statement is allowed: {0}")]
    NotReadOnly(String),
    #[error("query timed out after {0} s")]
    Timeout(u64),
    /// The answer would have more rows than the caller allows.
    #[error("query answered more than {0} rows: add a LIMIT or aggregate")]
    TooManyRows(usize),
    #[error("no statistical exchange rate for {currency} in {month}")]
    NoRate { currency: String, month: String },
    #[error("a value overflowed 64-bit minor units")]
    Overflow,
    /// The warehouse folder holds something the extractor did not write.
    #[error("warehouse {0}")]
    Corrupt(String),
    #[error("a bad argument: {0}")]
    Invalid(String),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    #[error("engine: {0}")]
    Engine(String),
}

impl StatsError {
    pub fn code(&self) -> &'static str {
        match self {
            StatsError::BadMonth(_) => "bad_month",
            StatsError::BadQuery(_) => "bad_query",
            StatsError::NotReadOnly(_) => "not_read_only",
            StatsError::Timeout(_) => "query_timeout",
            StatsError::TooManyRows(_) => "too_many_rows",
            StatsError::NoRate { .. } => "no_rate",
            StatsError::Overflow => "overflow",
            StatsError::Corrupt(_) => "warehouse_corrupt",
            StatsError::Invalid(_) => "invalid",
            StatsError::Store(_) => "store",
            StatsError::Io(_) => "io",
            StatsError::Engine(_) => "engine",
        }
    }

    /// The caller's mistake (bad month, bad SQL, too long a query), not the warehouse's.
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            StatsError::BadMonth(_)
                | StatsError::BadQuery(_)
                | StatsError::NotReadOnly(_)
                | StatsError::Timeout(_)
                | StatsError::TooManyRows(_)
                | StatsError::Invalid(_)
        )
    }

    pub fn message_zh(&self) -> String {
        match self {
            StatsError::BadMonth(m) => format!("月份“{m}”格式错误：应为 YYYY-MM，例如 2026-10"),
            StatsError::BadQuery(e) => format!("查询语句有误：{e}"),
            StatsError::NotReadOnly(e) => {
                format!("只允许一条只读语句（SELECT、WITH、EXPLAIN、SHOW、DESCRIBE）：{e}")
            }
            StatsError::Timeout(s) => format!("查询超时（{s} 秒）"),
            StatsError::TooManyRows(n) => format!("查询结果超过 {n} 行：请加 LIMIT 或汇总"),
            StatsError::NoRate { currency, month } => {
                format!("缺少 {month} 月 {currency} 的统计汇率")
            }
            StatsError::Overflow => "金额超出 64 位整数范围".to_owned(),
            StatsError::Corrupt(e) => format!("统计仓库数据异常：{e}"),
            StatsError::Invalid(e) => format!("参数有误：{e}"),
            StatsError::Store(e) => format!("读取业务库失败：{e}"),
            StatsError::Io(e) => format!("读写文件失败：{e}"),
            StatsError::Engine(e) => format!("查询引擎错误：{e}"),
        }
    }

    pub fn message_en(&self) -> String {
        self.to_string()
    }
}

impl From<datafusion::error::DataFusionError> for StatsError {
    fn from(e: datafusion::error::DataFusionError) -> StatsError {
        use datafusion::error::DataFusionError as E;
        match e {
            E::SQL(..) | E::Plan(_) | E::SchemaError(..) | E::NotImplemented(_) => {
                StatsError::BadQuery(first_line(&e))
            }
            E::Context(_, inner) | E::Diagnostic(_, inner) => StatsError::from(*inner),
            E::Shared(inner) => StatsError::BadQuery(first_line(&inner)),
            E::Collection(mut errors) if !errors.is_empty() => StatsError::from(errors.remove(0)),
            E::IoError(io) => StatsError::Io(io),
            other => StatsError::Engine(first_line(&other)),
        }
    }
}

impl From<datafusion::arrow::error::ArrowError> for StatsError {
    fn from(e: datafusion::arrow::error::ArrowError) -> StatsError {
        StatsError::Engine(e.to_string())
    }
}

impl From<datafusion::parquet::errors::ParquetError> for StatsError {
    fn from(e: datafusion::parquet::errors::ParquetError) -> StatsError {
        StatsError::Engine(e.to_string())
    }
}

fn first_line(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or_default().to_owned()
}
