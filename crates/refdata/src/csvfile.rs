//! From bytes to checked rows: size limit, UTF-8, header columns, one record per row with its
//! line number. Knows nothing of what the columns mean.

use std::collections::HashMap;

use crate::error::{ColumnsError, RowProblem, TableError};
use crate::table::Table;

/// The largest table file accepted. The full official tariff is about 10 MB of CSV.
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The longest text accepted in any one field (descriptions are the longest).
pub(crate) const MAX_FIELD_CHARS: usize = 1000;

/// One data row: its 1-based line and its fields by column name.
pub(crate) struct Record<'a> {
    pub line: u64,
    record: &'a csv::StringRecord,
    index: &'a HashMap<&'static str, usize>,
}

impl Record<'_> {
    /// The trimmed field, or `""` for an optional column the file leaves out.
    pub fn get(&self, column: &str) -> &str {
        self.index
            .get(column)
            .and_then(|&i| self.record.get(i))
            .unwrap_or("")
    }
}

/// A parsed file: the column index and the rows (those that could be split into fields).
pub(crate) struct CsvFile {
    index: HashMap<&'static str, usize>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl CsvFile {
    /// Splits the file into rows. Rows with the wrong number of fields become problems.
    pub fn parse(
        table: Table,
        bytes: &[u8],
        problems: &mut Vec<RowProblem>,
    ) -> Result<CsvFile, TableError> {
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(TableError::TooLarge {
                size_bytes: bytes.len() as u64,
                limit_bytes: MAX_FILE_BYTES,
            });
        }
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let line = bytes[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64
                    + 1;
                return Err(TableError::NotUtf8 { line });
            }
        };
        // Spreadsheets often save UTF-8 with a byte-order mark.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(TableError::Empty);
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let header = reader.headers().map_err(|_| TableError::Empty)?.clone();
        let index = check_header(table, &header)?;
        let width = header.len();
        let mut rows = Vec::new();
        for result in reader.records() {
            match result {
                Ok(record) => {
                    let line = record.position().map_or(0, |p| p.line());
                    if record.iter().all(str::is_empty) {
                        continue; // blank line
                    }
                    if record.len() != width {
                        problems.push(RowProblem::new(
                            line,
                            "*",
                            format!("{} fields, the header has {width}", record.len()),
                        ));
                        continue;
                    }
                    if let Some((i, _)) = record
                        .iter()
                        .enumerate()
                        .find(|(_, f)| f.chars().count() > MAX_FIELD_CHARS)
                    {
                        problems.push(RowProblem::new(
                            line,
                            header.get(i).unwrap_or("*"),
                            format!("longer than {MAX_FIELD_CHARS} characters"),
                        ));
                        continue;
                    }
                    rows.push((line, record));
                }
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    problems.push(RowProblem::new(line, "*", format!("not valid CSV: {e}")));
                }
            }
        }
        if rows.is_empty() && problems.is_empty() && !table.may_be_empty() {
            return Err(TableError::Empty);
        }
        Ok(CsvFile { index, rows })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.rows.iter().map(|(line, record)| Record {
            line: *line,
            record,
            index: &self.index,
        })
    }
}

fn check_header(
    table: Table,
    header: &csv::StringRecord,
) -> Result<HashMap<&'static str, usize>, TableError> {
    let columns = table.columns();
    let mut index = HashMap::new();
    let mut unknown = Vec::new();
    let mut repeated = Vec::new();
    for (i, name) in header.iter().enumerate() {
        match columns.iter().find(|c| c.name == name) {
            Some(c) => {
                if index.insert(c.name, i).is_some() {
                    repeated.push(name.to_string());
                }
            }
            None => unknown.push(name.to_string()),
        }
    }
    let missing: Vec<String> = columns
        .iter()
        .filter(|c| c.required && !index.contains_key(c.name))
        .map(|c| c.name.to_string())
        .collect();
    if missing.is_empty() && unknown.is_empty() && repeated.is_empty() {
        Ok(index)
    } else {
        Err(TableError::Columns(Box::new(ColumnsError {
            missing,
            unknown,
            repeated,
            expected: columns.iter().map(|c| c.name.to_string()).collect(),
        })))
    }
}
