//! The exchange-rate table of a data directory, `<data_dir>/rates/exchange_rates.csv`: [`load`]
//! it, or [`import`] a CSV into it (`jinguan rates import FILE.csv`). The format and the rules
//! are `tax::rates`' (pure); this module only reads and writes the files, as the rest of this
//! crate does for the code tables.

use std::path::{Path, PathBuf};

use serde::Serialize;
use tax::rates::{RateTable, RowError};

use crate::import::write_atomically;

/// Why an import failed. A failed import changes nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} has {} bad rows:\n{}", .errors.len(), .errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Rows {
        path: PathBuf,
        errors: Vec<RowError>,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub path: PathBuf,
    pub rows_read: usize,
    pub added: usize,
    pub replaced: usize,
    pub total: usize,
}

/// Where the imported table lives under a data directory.
pub fn table_path(data_dir: &Path) -> PathBuf {
    data_dir.join("rates").join("exchange_rates.csv")
}

/// Load the imported table of a data directory, or `None` when nothing was imported yet.
pub fn load(data_dir: &Path) -> Result<Option<RateTable>, ImportError> {
    let path = table_path(data_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ImportError::Read { path, source }),
    };
    RateTable::parse_csv(&text)
        .map(Some)
        .map_err(|errors| ImportError::Rows { path, errors })
}

/// `jinguan rates import FILE.csv`: validate every row of `csv_path`, merge it into the table of
/// `<data_dir>/rates/exchange_rates.csv` (new rows replace old ones of the same currency and
/// date), and write the result atomically (temporary file, fsync, rename, fsync of the
/// directory). A file with any bad row changes nothing.
pub fn import(data_dir: &Path, csv_path: &Path) -> Result<ImportSummary, ImportError> {
    let text = std::fs::read_to_string(csv_path).map_err(|source| ImportError::Read {
        path: csv_path.to_path_buf(),
        source,
    })?;
    let new = RateTable::parse_csv(&text).map_err(|errors| ImportError::Rows {
        path: csv_path.to_path_buf(),
        errors,
    })?;
    let mut table = load(data_dir)?.unwrap_or_default();
    let (added, replaced) = table.merge(&new);
    let path = table_path(data_dir);
    let dir = data_dir.join("rates");
    write_atomically(&dir, &path, table.to_csv().as_bytes()).map_err(|source| {
        ImportError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(ImportSummary {
        path,
        rows_read: new.len(),
        added,
        replaced,
        total: table.len(),
    })
}
