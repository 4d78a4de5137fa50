//! Jinguan's reference data: the code tables and the tariff, in memory, behind the domain's
//! [`Reference`] trait.
//!
//! - [`RefData`]: every table, with lookups by code. [`RefData::embedded`] gives the tables
//!   shipped in the binary (the project's `data/` folder); [`RefData::load`] lets an
//!   administrator's imported tables under `<data_dir>/refdata/` replace them one by one.
//! - [`import`]: checks every row of an official table file and, only if all are good, writes it
//!   atomically to `<data_dir>/refdata/<table>.csv`.
//! - [`RefData::lookup`]: rows of a table matching a query, for `jinguan codes TABLE [QUERY]`.
//! - [`rates`]: the data directory's exchange-rate table (`tax::rates` format), loaded and
//!   imported atomically.
//! - [`Table`]: the table names; [`tariff`] documents the tariff columns and agreement syntax.
//!
//! Parsing is pure; file IO is confined to [`RefData::load`], [`import`] and [`rates`]. Nothing here uses
//! the network or reads the clock.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod csvfile;
mod error;
mod import;
mod lookup;
mod parse;
pub mod rates;
mod table;
pub mod tariff;
pub mod tax_tables;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use domain::codes::{CountryCode, CurrencyCode, HsCode, OfficeCode, TradeMode, UnitCode};
use domain::reference::{CodeTable, Office, Reference, TariffLine, TradeModeEntry};
use rust_decimal::Decimal;

pub use csvfile::MAX_FILE_BYTES;
pub use error::{ColumnsError, ImportError, LoadError, Origin, RowProblem, TableError};
pub use import::{import, ImportReport};
pub use lookup::Row;
pub use table::Table;

/// A row of a simple code table (levy natures, duty treatments, transport modes, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeEntry {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Country {
    /// The 3-digit code of customs statistics (`142` China).
    pub legacy_code: String,
    pub alpha3: CountryCode,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Currency {
    /// The 3-digit customs code (`502` USD).
    pub legacy_code: String,
    pub alpha: CurrencyCode,
    pub name_zh: String,
    pub name_en: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub code: UnitCode,
    pub name_zh: String,
    pub name_en: String,
    /// One of this unit is `ratio` of the base unit (`070` tonne = 1000 × `035` kg), when known.
    pub base: Option<(UnitCode, Decimal)>,
}

/// A dated period in which goods from `origin` take the general rate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralRateOrigin {
    pub origin: CountryCode,
    pub valid_from: NaiveDate,
    /// Inclusive; `None` while in force.
    pub valid_to: Option<NaiveDate>,
    /// The decision that lists the origin.
    pub source: String,
}

impl GeneralRateOrigin {
    pub fn in_force(&self, on: NaiveDate) -> bool {
        self.valid_from <= on && self.valid_to.is_none_or(|to| on <= to)
    }

    pub(crate) fn overlaps(&self, other: &GeneralRateOrigin) -> bool {
        let ends_before = |a: &GeneralRateOrigin, b: &GeneralRateOrigin| {
            a.valid_to.is_some_and(|to| to < b.valid_from)
        };
        !ends_before(self, other) && !ends_before(other, self)
    }
}

/// All reference tables in memory.
#[derive(Clone, Debug, Default)]
pub struct RefData {
    units: BTreeMap<UnitCode, Unit>,
    countries: Vec<Country>,
    country_by_alpha: HashMap<CountryCode, usize>,
    country_by_legacy: HashMap<String, usize>,
    currencies: Vec<Currency>,
    currency_by_alpha: HashMap<CurrencyCode, usize>,
    currency_by_legacy: HashMap<String, usize>,
    /// The tables that are only codes and names, by table.
    simple: HashMap<Table, BTreeMap<String, CodeEntry>>,
    offices: BTreeMap<OfficeCode, Office>,
    trade_modes: BTreeMap<TradeMode, TradeModeEntry>,
    /// Versions of each commodity code, by `valid_from`, never overlapping.
    tariff: BTreeMap<HsCode, Vec<TariffLine>>,
    general_rate_origins: Vec<GeneralRateOrigin>,
    /// Tariff-quota rates by commodity code, versions never overlapping.
    tariff_quotas: BTreeMap<HsCode, Vec<domain::reference::TariffQuota>>,
}

/// Where each table is read from while building a [`RefData`].
pub(crate) struct Source<'a> {
    pub origin: Origin,
    pub bytes: Cow<'a, [u8]>,
}

impl RefData {
    /// The tables shipped with Jinguan. Fails only if the shipped files are broken, which the
    /// crate's tests rule out.
    pub fn embedded() -> Result<RefData, LoadError> {
        RefData::build(|table| {
            Ok(Source {
                origin: Origin::Embedded(table.embedded_file()),
                bytes: Cow::Borrowed(table.embedded_text().as_bytes()),
            })
        })
        .map_err(|(_, e)| e)
    }

    /// `bytes` read as `table` among the shipped tables, as `jinguan codes import` checks a file
    /// before writing anything (and the parser fuzz harness, `crates/fuzz`): the table's row
    /// count, or what is wrong, naming the table that failed (the given one, or one that refers
    /// to it).
    pub fn check_table(table: Table, bytes: &[u8]) -> Result<usize, (Table, LoadError)> {
        let data = RefData::build(|t| {
            Ok(Source {
                origin: Origin::Embedded(t.embedded_file()),
                bytes: if t == table {
                    Cow::Borrowed(bytes)
                } else {
                    Cow::Borrowed(t.embedded_text().as_bytes())
                },
            })
        })?;
        Ok(data.row_count(table))
    }

    /// The shipped tables, each replaced by `<data_dir>/refdata/<table>.csv` when that file exists.
    pub fn load(data_dir: Option<&Path>) -> Result<RefData, LoadError> {
        RefData::build(|table| source_in(data_dir, table)).map_err(|(_, e)| e)
    }

    /// Builds every table in dependency order. The error names the table that failed.
    pub(crate) fn build<'a>(
        mut source: impl FnMut(Table) -> Result<Source<'a>, LoadError>,
    ) -> Result<RefData, (Table, LoadError)> {
        let mut data = RefData::default();
        for table in Table::ALL {
            let Source { origin, bytes } = source(table).map_err(|e| (table, e))?;
            parse::parse_into(&mut data, table, &bytes).map_err(|error| {
                (
                    table,
                    LoadError::Table {
                        table,
                        origin,
                        error,
                    },
                )
            })?;
        }
        Ok(data)
    }

    fn set_countries(&mut self, countries: Vec<Country>) {
        self.country_by_alpha = countries
            .iter()
            .enumerate()
            .map(|(i, c)| (c.alpha3, i))
            .collect();
        self.country_by_legacy = countries
            .iter()
            .enumerate()
            .map(|(i, c)| (c.legacy_code.clone(), i))
            .collect();
        self.countries = countries;
    }

    fn set_currencies(&mut self, currencies: Vec<Currency>) {
        self.currency_by_alpha = currencies
            .iter()
            .enumerate()
            .map(|(i, c)| (c.alpha, i))
            .collect();
        self.currency_by_legacy = currencies
            .iter()
            .enumerate()
            .map(|(i, c)| (c.legacy_code.clone(), i))
            .collect();
        self.currencies = currencies;
    }

    /// Every tariff-quota row, by commodity code and date.
    pub fn tariff_quotas(&self) -> impl Iterator<Item = &domain::reference::TariffQuota> {
        self.tariff_quotas.values().flatten()
    }

    pub fn offices(&self) -> impl Iterator<Item = &Office> {
        self.offices.values()
    }

    /// Whether `office` is `scope` or below it (HQ's scope is every office). An office missing
    /// from the table falls back to the parent its digits suggest.
    pub fn office_within(&self, office: OfficeCode, scope: OfficeCode) -> bool {
        let mut current = Some(office);
        // Three tiers; the bound guards against a cycle in a hand-edited table.
        for _ in 0..4 {
            match current {
                Some(c) if c == scope => return true,
                Some(c) => {
                    current = self
                        .offices
                        .get(&c)
                        .map_or_else(|| c.digit_parent(), |o| o.parent)
                }
                None => return false,
            }
        }
        false
    }

    pub fn countries(&self) -> &[Country] {
        &self.countries
    }

    /// The full country entry from its alpha-3 or legacy code.
    pub fn country_entry(&self, text: &str) -> Option<&Country> {
        let text = text.trim().to_ascii_uppercase();
        let index = match CountryCode::parse(&text) {
            Ok(code) => self.country_by_alpha.get(&code),
            Err(_) => self.country_by_legacy.get(&text),
        };
        index.map(|&i| &self.countries[i])
    }

    pub fn currencies(&self) -> &[Currency] {
        &self.currencies
    }

    /// The full currency entry from its ISO alpha or legacy code.
    pub fn currency_entry(&self, text: &str) -> Option<&Currency> {
        let text = text.trim().to_ascii_uppercase();
        let index = match CurrencyCode::parse(&text) {
            Ok(code) => self.currency_by_alpha.get(&code),
            Err(_) => self.currency_by_legacy.get(&text),
        };
        index.map(|&i| &self.currencies[i])
    }

    pub fn unit(&self, code: UnitCode) -> Option<&Unit> {
        self.units.get(&code)
    }

    pub fn units(&self) -> impl Iterator<Item = &Unit> {
        self.units.values()
    }

    /// A row of one of the simple code tables (levy natures, stats trade modes, duty treatments,
    /// transport modes, transaction terms, package types, provinces); `None` for other tables.
    pub fn code_entry(&self, table: Table, code: &str) -> Option<&CodeEntry> {
        self.simple.get(&table)?.get(code)
    }

    /// Every row of one of the simple code tables (see [`RefData::code_entry`]), by code; none
    /// for other tables.
    pub fn simple_entries(&self, table: Table) -> impl Iterator<Item = &CodeEntry> {
        self.simple.get(&table).into_iter().flat_map(|m| m.values())
    }

    pub fn trade_modes(&self) -> impl Iterator<Item = &TradeModeEntry> {
        self.trade_modes.values()
    }

    /// Every tariff line, every version, by commodity code then date.
    pub fn tariff_lines(&self) -> impl Iterator<Item = &TariffLine> {
        self.tariff.values().flatten()
    }

    /// All versions of one commodity code, oldest first.
    pub fn tariff_versions(&self, code: HsCode) -> &[TariffLine] {
        self.tariff.get(&code).map_or(&[], Vec::as_slice)
    }

    /// The number of rows in a table (tariff: lines counting every version).
    pub fn row_count(&self, table: Table) -> usize {
        match table {
            Table::Units => self.units.len(),
            Table::Countries => self.countries.len(),
            Table::Currencies => self.currencies.len(),
            Table::Offices => self.offices.len(),
            Table::TradeModes => self.trade_modes.len(),
            Table::Tariff => self.tariff.values().map(Vec::len).sum(),
            Table::GeneralRateOrigins => self.general_rate_origins.len(),
            Table::TariffQuotas => self.tariff_quotas.values().map(Vec::len).sum(),
            Table::LevyNatures
            | Table::StatsTradeModes
            | Table::DutyTreatments
            | Table::TransportModes
            | Table::TransactionTerms
            | Table::PackageTypes
            | Table::Provinces => self.simple.get(&table).map_or(0, BTreeMap::len),
        }
    }
}

/// The imported file for `table` if there is one, else the shipped table.
pub(crate) fn source_in(
    data_dir: Option<&Path>,
    table: Table,
) -> Result<Source<'static>, LoadError> {
    if let Some(dir) = data_dir {
        let path = dir.join("refdata").join(table.import_file());
        match import::read_limited(&path) {
            Ok(bytes) => {
                return Ok(Source {
                    origin: Origin::File(path),
                    bytes: Cow::Owned(bytes),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(LoadError::Io { path, source }),
        }
    }
    Ok(Source {
        origin: Origin::Embedded(table.embedded_file()),
        bytes: Cow::Borrowed(table.embedded_text().as_bytes()),
    })
}

impl Reference for RefData {
    fn office(&self, code: OfficeCode) -> Option<&Office> {
        self.offices.get(&code)
    }

    fn country(&self, text: &str) -> Option<CountryCode> {
        self.country_entry(text).map(|c| c.alpha3)
    }

    fn currency(&self, text: &str) -> Option<CurrencyCode> {
        self.currency_entry(text).map(|c| c.alpha)
    }

    fn contains(&self, table: CodeTable, code: &str) -> bool {
        match table {
            CodeTable::Unit => UnitCode::parse(code).is_ok_and(|u| self.units.contains_key(&u)),
            CodeTable::LevyNature => self.code_entry(Table::LevyNatures, code).is_some(),
            CodeTable::DutyTreatment => self.code_entry(Table::DutyTreatments, code).is_some(),
            CodeTable::TransportMode => self.code_entry(Table::TransportModes, code).is_some(),
            CodeTable::PackageType => self.code_entry(Table::PackageTypes, code).is_some(),
        }
    }

    fn trade_mode(&self, code: TradeMode) -> Option<&TradeModeEntry> {
        self.trade_modes.get(&code)
    }

    fn tariff_line(&self, code: HsCode, on: NaiveDate) -> Option<&TariffLine> {
        self.tariff.get(&code)?.iter().find(|l| l.in_force(on))
    }

    fn general_rate_origin(&self, origin: CountryCode, on: NaiveDate) -> bool {
        self.general_rate_origins
            .iter()
            .any(|o| o.origin == origin && o.in_force(on))
    }

    fn tariff_quota(&self, code: HsCode, on: NaiveDate) -> Option<&domain::reference::TariffQuota> {
        self.tariff_quotas
            .get(&code)?
            .iter()
            .find(|q| q.in_force(on))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parsers must answer every input with a value or an error, never a panic: feed each table
    /// truncated and corrupted versions of the shipped files.
    #[test]
    fn parsers_survive_damaged_files() {
        let base = RefData::embedded().expect("shipped data loads");
        for table in Table::ALL {
            let text = table.embedded_text().as_bytes();
            let mut rng = domain::rng::Rng::new(0x2545_f491);
            for round in 0..40 {
                let mut bytes = text[..text.len() * round / 40].to_vec();
                for _ in 0..round {
                    if !bytes.is_empty() {
                        let at = rng.below(bytes.len() as u64) as usize;
                        bytes[at] = rng.byte();
                    }
                }
                let mut data = base.clone();
                let _ = parse::parse_into(&mut data, table, &bytes);
            }
        }
    }
}
