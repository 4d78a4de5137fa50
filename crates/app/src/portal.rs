//! Use cases behind the web forms: [`PortalService::check`] (validate a declaration without filing
//! it, so that a filer sees every problem beside its field before anything is recorded) and
//! [`PortalService::codes`] (code lookups for the form's pickers).
//!
//! Code tables are public reference data (they are published), so looking them up needs no
//! principal; checking a declaration is for whoever may file one: enterprises.

use domain::codes::Uscc;
use refdata::Table;
use serde::Serialize;

use crate::access::{Operation, Principal};
use crate::error::{AppError, FieldProblem};
use crate::filing::FilingService;
use crate::kernel::Core;

/// Rows one lookup returns at most.
pub const CODE_ROWS_MAX: usize = 50;
/// Longest lookup query, in characters.
pub const CODE_QUERY_CHARS_MAX: usize = 64;

/// One row of a code table, as a picker shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeRow {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Other columns as `key value; …` (the tariff's units and rates, an office's parent).
    pub extra: String,
}

/// The answer to a lookup: the first [`CODE_ROWS_MAX`] rows, and whether there were more.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CodeLookup {
    pub table: &'static str,
    pub rows: Vec<CodeRow>,
    pub truncated: bool,
}

/// What the web interface asks beyond the clearance steps: checking a declaration without filing
/// it, and code lookups.
#[derive(Clone, Copy)]
pub struct PortalService<'a> {
    pub(crate) core: &'a Core,
    /// Filing, asked (read-only) for what automatic review and its features would report.
    pub(crate) filing: FilingService<'a>,
}

impl PortalService<'_> {
    /// Problems of a declaration (JSON bytes of the wire form), as filing would report them,
    /// without writing or reserving anything. Empty: it would pass automatic review, including
    /// the features' checks a filing's write asks (cargo control's bill match, E-Port's
    /// licences and registry) against the ledgers as they now are. A trader other than the
    /// principal's own enterprise is a problem too.
    pub fn check(&self, principal: &Principal, body: &[u8]) -> Result<Vec<FieldProblem>, AppError> {
        let Principal::Enterprise { uscc, .. } = principal else {
            return Err(AppError::Forbidden(crate::access::denied(
                principal,
                Operation::Submit,
            )));
        };
        let form = match domain::validate::parse_form(body) {
            Ok(f) => f,
            Err(problems) => return Ok(problems.iter().map(FieldProblem::from).collect()),
        };
        let mut problems: Vec<FieldProblem> =
            match domain::validate::validate(&form, self.core.refdata()) {
                Ok(_) => Vec::new(),
                Err(p) => p.iter().map(FieldProblem::from).collect(),
            };
        let trader = form
            .trader
            .as_ref()
            .and_then(|t| t.uscc.as_deref())
            .and_then(|s| Uscc::parse(s).ok());
        if trader.is_some_and(|t| t != *uscc) {
            problems.push(FieldProblem::new(
                "trader.uscc",
                "not_own_enterprise",
                format!("只能以本企业（{uscc}）名义申报"),
                format!("you may file only for your own enterprise ({uscc})"),
            ));
        }
        if problems.is_empty() {
            // Format and code tables pass: what the filing's write would add.
            problems = self.filing.review_problems(principal, body)?;
        }
        Ok(problems)
    }

    /// Rows of a code table whose code starts with `query` or whose names contain it; the
    /// tariff gives each commodity code once (its latest version).
    pub fn codes(&self, table: &str, query: Option<&str>) -> Result<CodeLookup, AppError> {
        let t = Table::from_name(table)
            .ok_or_else(|| AppError::NotFound(format!("code table {table}")))?;
        if query.is_some_and(|q| q.chars().count() > CODE_QUERY_CHARS_MAX) {
            return Err(AppError::invalid(
                "q",
                "too_long",
                format!("查询词至多 {CODE_QUERY_CHARS_MAX} 个字符"),
                format!("a query has at most {CODE_QUERY_CHARS_MAX} characters"),
            ));
        }
        let mut rows = self.core.refdata().lookup(t, query);
        if t == Table::Tariff {
            // Versions of a line are in date order: keep the last of each code.
            rows.reverse();
            let mut seen = std::collections::HashSet::new();
            rows.retain(|r| seen.insert(r.code.clone()));
            rows.reverse();
        }
        let truncated = rows.len() > CODE_ROWS_MAX;
        rows.truncate(CODE_ROWS_MAX);
        Ok(CodeLookup {
            table: t.name(),
            rows: rows
                .into_iter()
                .map(|r| CodeRow {
                    code: r.code,
                    name_zh: r.name_zh,
                    name_en: r.name_en,
                    extra: r.extra,
                })
                .collect(),
            truncated,
        })
    }
}
