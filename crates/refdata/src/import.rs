//! Importing an official table: check everything, then replace the file atomically.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::csvfile::MAX_FILE_BYTES;
use crate::error::{ImportError, LoadError, Origin};
use crate::table::Table;
use crate::{source_in, RefData, Source};

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportReport {
    pub table: Table,
    /// Data rows in the imported file.
    pub rows: usize,
    /// Where the table now lives: `<data_dir>/refdata/<table>.csv`.
    pub path: PathBuf,
    /// Whether an earlier imported file was replaced (otherwise the shipped table was in force).
    pub replaced_import: bool,
}

/// Reads at most one byte more than [`MAX_FILE_BYTES`], so that an oversized file is refused
/// without reading all of it.
pub(crate) fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Imports `csv_path` as the table named `table` into `<data_dir>/refdata/<table>.csv`.
///
/// Every row is checked (code formats, rates, dates, references to the other tables in force,
/// duplicate keys, overlapping tariff versions), and so are the tables in force that refer to
/// this one. If anything is wrong, nothing is written and the error lists every bad row with its
/// line number. Otherwise the file is written to a temporary file in the same folder, synced,
/// and renamed over the old one, so a reader sees the old table or the new, never half of one.
pub fn import(data_dir: &Path, table: &str, csv_path: &Path) -> Result<ImportReport, ImportError> {
    let table =
        Table::from_name(table).ok_or_else(|| ImportError::UnknownTable(table.to_string()))?;
    let bytes = read_limited(csv_path).map_err(|source| ImportError::Read {
        path: csv_path.to_path_buf(),
        source,
    })?;

    let built = RefData::build(|t| {
        if t == table {
            Ok(Source {
                origin: Origin::File(csv_path.to_path_buf()),
                bytes: Cow::Borrowed(&bytes),
            })
        } else {
            source_in(Some(data_dir), t)
        }
    });
    // Every row of every table becomes one entry (duplicates are refused), so this is the row count.
    let rows = match built {
        Ok(data) => data.row_count(table),
        Err((failed, LoadError::Table { error, .. })) if failed == table => {
            return Err(ImportError::Invalid {
                table,
                path: csv_path.to_path_buf(),
                error,
            });
        }
        // Tables after this one in load order may refer to it.
        Err((failed, LoadError::Table { origin, error, .. })) if failed > table => {
            return Err(ImportError::BreaksDependent {
                table,
                dependent: failed,
                origin,
                error,
            });
        }
        Err((_, e)) => return Err(ImportError::Current(e)),
    };
    let dir = data_dir.join("refdata");
    let path = dir.join(table.import_file());
    let replaced_import = path.exists();
    write_atomically(&dir, &path, &bytes).map_err(|source| ImportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(ImportReport {
        table,
        rows,
        path,
        replaced_import,
    })
}

pub(crate) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::create_dir_all(dir)?;
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("table.csv");
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Makes the rename durable. Directories can be opened and synced on Unix only.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}
