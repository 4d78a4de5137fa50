//! Typed errors of loading and importing tables. Every problem with the rows of a table is
//! collected, so an administrator fixes a file in one round.

use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::table::Table;

/// One bad row: the 1-based line in the file (the header is line 1), the column, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowProblem {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl RowProblem {
    pub(crate) fn new(line: u64, field: &str, reason: impl Into<String>) -> Self {
        RowProblem {
            line,
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for RowProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, {}: {}", self.line, self.field, self.reason)
    }
}

/// Why the content of one table file was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum TableError {
    #[error("the file is empty (a header row and at least one data row are required)")]
    Empty,
    #[error("the file is {size_bytes} bytes, over the limit of {limit_bytes} bytes")]
    TooLarge { size_bytes: u64, limit_bytes: u64 },
    #[error("the file is not UTF-8: invalid bytes on line {line} (save it as UTF-8; GBK/GB2312 is not accepted)")]
    NotUtf8 { line: u64 },
    #[error("{0}")]
    Columns(Box<ColumnsError>),
    #[error("{} bad row(s):\n{}", problems.len(), problems.iter().map(|p| format!("  {p}")).collect::<Vec<_>>().join("\n"))]
    Rows { problems: Vec<RowProblem> },
}

impl TableError {
    /// The row problems, if that is what the error is.
    pub fn problems(&self) -> &[RowProblem] {
        match self {
            TableError::Rows { problems } => problems,
            _ => &[],
        }
    }
}

/// What is wrong with a header row.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("bad header row: missing columns [{}], unknown columns [{}], repeated columns [{}]; expected {}", missing.join(", "), unknown.join(", "), repeated.join(", "), expected.join(","))]
pub struct ColumnsError {
    pub missing: Vec<String>,
    pub unknown: Vec<String>,
    pub repeated: Vec<String>,
    /// The columns the table has, in the shipped order.
    pub expected: Vec<String>,
}

/// Where a table's content came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Shipped inside the binary (`data/<file>` of the source tree).
    Embedded(&'static str),
    /// An administrator's imported table, or a file being imported.
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Embedded(name) => write!(f, "shipped data/{name}"),
            Origin::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Loading the reference data failed.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("table {table} from {origin}: {error}")]
    Table {
        table: Table,
        origin: Origin,
        error: TableError,
    },
}

/// Importing a table failed; nothing was written.
#[derive(Debug, Error)]
pub enum ImportError {
    #[error("unknown table {0:?}; tables are: {tables}", tables = Table::ALL.map(Table::name).join(", "))]
    UnknownTable(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{table} table {path} refused, nothing written: {error}")]
    Invalid {
        table: Table,
        path: PathBuf,
        error: TableError,
    },
    /// The new table is valid on its own, but a table that refers to it would no longer load
    /// (for example, a units table without a unit the tariff uses).
    #[error("importing {table} would break the {dependent} table in force ({origin}), nothing written: {error}")]
    BreaksDependent {
        table: Table,
        dependent: Table,
        origin: Origin,
        error: TableError,
    },
    /// The tables already in force (before this import) do not load.
    #[error("the reference data in force does not load: {0}")]
    Current(LoadError),
}

impl ImportError {
    /// The row problems of the imported file, if the file itself was refused for its rows.
    pub fn problems(&self) -> &[RowProblem] {
        match self {
            ImportError::Invalid { error, .. } => error.problems(),
            _ => &[],
        }
    }
}
