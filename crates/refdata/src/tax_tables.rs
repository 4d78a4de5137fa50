//! The tax engine's own tables in a data directory: trade remedies and the holiday calendar,
//! `<data_dir>/refdata/trade_remedies.csv` and `<data_dir>/refdata/calendar.csv`. [`import`]
//! checks every row with the `tax` crate's parser and replaces the file atomically (a failed
//! import changes nothing); [`load_trade_remedies`] and [`load_calendar`] give the imported
//! table or `None` (then the shipped one is in force). The formats and their dates (remedies
//! carry `valid_from`/`valid_to`, the calendar its coverage rows) are `tax`'s; this module only
//! reads and writes files, as [`crate::rates`] does for exchange rates.

use std::path::{Path, PathBuf};

use tax::rates::RowError;
use tax::{TradeRemedyTable, TradingCalendar};

use crate::import::{read_limited, write_atomically};
use crate::rates::ImportError;

/// A table of the tax engine that an administrator may import.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaxTable {
    TradeRemedies,
    Calendar,
}

impl TaxTable {
    pub const ALL: [TaxTable; 2] = [TaxTable::TradeRemedies, TaxTable::Calendar];

    pub fn name(self) -> &'static str {
        match self {
            TaxTable::TradeRemedies => "trade_remedies",
            TaxTable::Calendar => "calendar",
        }
    }

    /// The table named `name` (case-insensitive, `-` accepted for `_`).
    pub fn from_name(name: &str) -> Option<TaxTable> {
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        TaxTable::ALL.into_iter().find(|t| t.name() == wanted)
    }

    pub fn path(self, data_dir: &Path) -> PathBuf {
        data_dir
            .join("refdata")
            .join(format!("{}.csv", self.name()))
    }

    /// Every check of the table's format; `Ok(rows)` when the text may be imported.
    fn check(self, text: &str) -> Result<usize, Vec<RowError>> {
        match self {
            TaxTable::TradeRemedies => TradeRemedyTable::parse_csv(text).map(|t| t.len()),
            TaxTable::Calendar => {
                let c = TradingCalendar::parse_csv(text)?;
                // An imported calendar must say what it covers: without coverage rows it would
                // claim every date, and a missing holiday would pass as a working day.
                match c.coverage() {
                    Some(cov) if cov.statutory.is_some() && cov.arrangements.is_some() => {
                        Ok(c.len())
                    }
                    _ => Err(vec![RowError {
                        line: 1,
                        message: "state the coverage: one covers_statutory and one covers_arrangements row (date,kind,last covered date)".into(),
                    }]),
                }
            }
        }
    }
}

fn read_text(path: &Path) -> Result<String, ImportError> {
    let bytes = read_limited(path).map_err(|source| ImportError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    text_of(path, bytes)
}

fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, ImportError> {
    if bytes.len() as u64 > crate::MAX_FILE_BYTES {
        return Err(ImportError::Rows {
            path: path.to_path_buf(),
            errors: vec![RowError {
                line: 0,
                message: format!("larger than {} bytes", crate::MAX_FILE_BYTES),
            }],
        });
    }
    String::from_utf8(bytes).map_err(|_| ImportError::Rows {
        path: path.to_path_buf(),
        errors: vec![RowError {
            line: 0,
            message: "not UTF-8".into(),
        }],
    })
}

/// `jinguan refdata import trade_remedies|calendar FILE`: check every row, then replace the
/// table of the data directory atomically. Returns the path written and the row count.
pub fn import(
    data_dir: &Path,
    table: TaxTable,
    csv_path: &Path,
) -> Result<(PathBuf, usize), ImportError> {
    let text = read_text(csv_path)?;
    let rows = table.check(&text).map_err(|errors| ImportError::Rows {
        path: csv_path.to_path_buf(),
        errors,
    })?;
    let path = table.path(data_dir);
    write_atomically(&data_dir.join("refdata"), &path, text.as_bytes()).map_err(|source| {
        ImportError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok((path, rows))
}

fn load_text(data_dir: &Path, table: TaxTable) -> Result<Option<(PathBuf, String)>, ImportError> {
    let path = table.path(data_dir);
    match read_limited(&path) {
        Ok(bytes) => text_of(&path, bytes).map(|t| Some((path, t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ImportError::Read { path, source }),
    }
}

/// The imported trade remedies, or `None` (the shipped sample is then in force).
pub fn load_trade_remedies(data_dir: &Path) -> Result<Option<TradeRemedyTable>, ImportError> {
    let Some((path, text)) = load_text(data_dir, TaxTable::TradeRemedies)? else {
        return Ok(None);
    };
    TradeRemedyTable::parse_csv(&text)
        .map(Some)
        .map_err(|errors| ImportError::Rows { path, errors })
}

/// The imported calendar, or `None` (the shipped one is then in force).
pub fn load_calendar(data_dir: &Path) -> Result<Option<TradingCalendar>, ImportError> {
    let Some((path, text)) = load_text(data_dir, TaxTable::Calendar)? else {
        return Ok(None);
    };
    TradingCalendar::parse_csv(&text)
        .map(Some)
        .map_err(|errors| ImportError::Rows { path, errors })
}
