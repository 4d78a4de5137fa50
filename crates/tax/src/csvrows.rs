//! The CSV dialect of the tax tables (rates, calendar, trade remedies, purchase histories), read
//! with the `csv` crate so that a quoted field (`"X Co., Ltd."`) is one field: rows of trimmed
//! fields with their 1-based line numbers; blank lines, lines starting with `#` and header rows
//! (first field equal to the header's first column name) skipped; a UTF-8 byte-order mark at
//! the start ignored. Each table checks its own columns and reports bad rows by line.

use crate::rates::RowError;

/// One data row: its 1-based line in the file and its trimmed fields.
pub(crate) struct Row {
    pub line: usize,
    pub fields: csv::StringRecord,
}

impl Row {
    /// The field at `i`, or `""` where the row is shorter.
    pub fn get(&self, i: usize) -> &str {
        self.fields.get(i).unwrap_or("")
    }
}

/// The data rows of `text`, or a row error where a line cannot be read as CSV. `header` is the
/// name of the first column; a row whose first field is that name (ASCII case-insensitive) and
/// that has more fields is a header row and skipped.
///
/// Each line is one record, read by the `csv` crate (quotes, doubled quotes, commas inside
/// quotes): the tables never need a field spanning lines, and reading line by line keeps every
/// reported line number exact (the reader's own positions count skipped comment and blank
/// lines into the next record).
pub(crate) fn rows<'a>(
    text: &'a str,
    header: &'static str,
) -> impl Iterator<Item = Result<Row, RowError>> + 'a {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines().enumerate().filter_map(move |(index, raw)| {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return None;
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(raw.as_bytes());
        let mut fields = csv::StringRecord::new();
        match reader.read_record(&mut fields) {
            Ok(true) => {}
            Ok(false) => return None,
            Err(e) => {
                return Some(Err(RowError {
                    line,
                    message: format!("not readable as CSV: {e}"),
                }))
            }
        }
        let header_row = fields.len() > 1
            && fields
                .get(0)
                .is_some_and(|first| first.eq_ignore_ascii_case(header));
        (!header_row).then_some(Ok(Row { line, fields }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<(usize, Vec<String>)> {
        rows(text, "name")
            .map(|r| {
                let r = r.expect("readable");
                (r.line, r.fields.iter().map(str::to_owned).collect())
            })
            .collect()
    }

    #[test]
    fn a_quoted_field_with_a_comma_is_one_field() {
        let text = "\u{feff}name,city\n# a comment, with a comma\n\n\"X Co., Ltd.\" , Shanghai\n  # indented comment\nY,\"Su\"\"zhou\"\n";
        assert_eq!(
            read(text),
            vec![
                (4, vec!["X Co., Ltd.".to_owned(), "Shanghai".to_owned()]),
                (6, vec!["Y".to_owned(), "Su\"zhou".to_owned()]),
            ]
        );
    }

    #[test]
    fn header_rows_are_skipped_only_when_they_have_more_columns() {
        assert_eq!(read("NAME,x\nname\n"), vec![(2, vec!["name".to_owned()])]);
    }
}
