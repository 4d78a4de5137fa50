//! The meaning of each table's columns: every field is parsed with the domain's newtypes and rate
//! parsers, references to earlier tables are checked, duplicate keys refused. Each parser reads
//! the whole file and returns every problem, or the table.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;

use chrono::NaiveDate;
use domain::codes::{
    CountryCode, CurrencyCode, DutyTreatment, LevyNature, OfficeCode, PackageType, TradeMode,
    TransactionTerms, TransportMode, UnitCode,
};
use domain::reference::{Office, OfficeLevel, TradeModeEntry};
use rust_decimal::Decimal;

use crate::csvfile::{CsvFile, Record};
use crate::error::{RowProblem, TableError};
use crate::table::Table;
use crate::{tariff, CodeEntry, Country, Currency, RefData, Unit};

/// Problems found so far in one file.
#[derive(Default)]
pub(crate) struct Problems(pub Vec<RowProblem>);

impl Problems {
    pub fn add(&mut self, line: u64, field: &str, reason: impl Into<String>) {
        self.0.push(RowProblem::new(line, field, reason));
    }

    /// Parses a required field with `parse`, recording the problem and returning `None` on failure.
    pub fn field<T, E: std::fmt::Display>(
        &mut self,
        r: &Record<'_>,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let text = r.get(column);
        if text.is_empty() {
            self.add(r.line, column, "required");
            return None;
        }
        match parse(text) {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(r.line, column, format!("{text:?}: {e}"));
                None
            }
        }
    }

    /// Like [`Problems::field`] for an optional field: `Some(None)` when empty.
    pub fn optional<T, E: std::fmt::Display>(
        &mut self,
        r: &Record<'_>,
        column: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<Option<T>> {
        if r.get(column).is_empty() {
            return Some(None);
        }
        self.field(r, column, parse).map(Some)
    }

    /// A required Chinese name (any text) or an English name that may be empty.
    pub fn name(&mut self, r: &Record<'_>, column: &str, required: bool) -> String {
        let text = r.get(column);
        if required && text.is_empty() {
            self.add(r.line, column, "required");
        }
        if text.chars().any(char::is_control) {
            self.add(r.line, column, "contains control characters");
        }
        text.to_string()
    }

    /// Records a duplicate key; returns whether the key is new.
    pub fn unique<K: std::hash::Hash + Eq>(
        &mut self,
        seen: &mut HashMap<K, u64>,
        key: K,
        line: u64,
        column: &str,
        shown: &str,
    ) -> bool {
        if let Some(first) = seen.get(&key) {
            self.add(line, column, format!("{shown} repeats line {first}"));
            false
        } else {
            seen.insert(key, line);
            true
        }
    }

    fn finish(mut self) -> Result<(), TableError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            // Checks across rows (repeats, overlaps, parents) run after the row checks; an
            // administrator reads the file top to bottom, so list in line order (stable: a
            // line's problems keep the order they were found in).
            self.0.sort_by_key(|p| p.line);
            Err(TableError::Rows { problems: self.0 })
        }
    }
}

fn digits(n: usize) -> impl Fn(&str) -> Result<String, String> {
    move |s: &str| {
        if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(s.to_string())
        } else {
            Err(format!("must be {n} digits"))
        }
    }
}

pub(crate) fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| "a date is YYYY-MM-DD".to_string())
}

/// Parses `bytes` as `table`, checking references against the tables already in `data` (those
/// before it in [`Table::ALL`]); on success replaces the table in `data` and returns its row count.
pub(crate) fn parse_into(
    data: &mut RefData,
    table: Table,
    bytes: &[u8],
) -> Result<usize, TableError> {
    let mut p = Problems::default();
    let file = CsvFile::parse(table, bytes, &mut p.0)?;
    let rows = file.len();
    match table {
        Table::Units => {
            let t = units(&file, &mut p);
            p.finish()?;
            data.units = t;
        }
        Table::Countries => {
            let t = countries(&file, &mut p);
            p.finish()?;
            data.set_countries(t);
        }
        Table::Currencies => {
            let t = currencies(&file, &mut p);
            p.finish()?;
            data.set_currencies(t);
        }
        Table::LevyNatures => simple(data, table, &file, p, |s| LevyNature::parse(s).map(|_| ()))?,
        Table::StatsTradeModes => simple(data, table, &file, p, |s| digits(2)(s).map(|_| ()))?,
        Table::DutyTreatments => simple(data, table, &file, p, |s| {
            DutyTreatment::parse(s).map(|_| ())
        })?,
        Table::TransportModes => simple(data, table, &file, p, |s| {
            TransportMode::parse(s).map(|_| ())
        })?,
        Table::TransactionTerms => simple(data, table, &file, p, |s| {
            TransactionTerms::parse(s).map(|_| ())
        })?,
        Table::PackageTypes => {
            simple(data, table, &file, p, |s| PackageType::parse(s).map(|_| ()))?
        }
        Table::Provinces => simple(data, table, &file, p, |s| digits(2)(s).map(|_| ()))?,
        Table::Offices => {
            let t = offices(&file, &mut p);
            p.finish()?;
            data.offices = t;
        }
        Table::TradeModes => {
            let t = trade_modes(data, &file, &mut p);
            p.finish()?;
            data.trade_modes = t;
        }
        Table::Tariff => {
            let t = tariff::parse(data, &file, &mut p);
            p.finish()?;
            data.tariff = t;
        }
        Table::GeneralRateOrigins => {
            let t = general_rate_origins(data, &file, &mut p);
            p.finish()?;
            data.general_rate_origins = t;
        }
        Table::TariffQuotas => {
            let t = tariff_quotas(&file, &mut p);
            p.finish()?;
            data.tariff_quotas = t;
        }
    }
    Ok(rows)
}

/// Origins under the general rate, in dated periods (Customs Tariff Law art. 12: goods from
/// origins with no MFN, agreement or special preferential treatment take the general rate).
/// Periods of one origin may not overlap; every origin must be in the countries table.
fn general_rate_origins(
    data: &RefData,
    file: &CsvFile,
    p: &mut Problems,
) -> Vec<crate::GeneralRateOrigin> {
    let mut out: Vec<crate::GeneralRateOrigin> = Vec::new();
    for r in file.records() {
        let origin = p.field(&r, "origin", |s| {
            let c = CountryCode::parse(s).map_err(|e| e.to_string())?;
            if data.country_by_alpha.contains_key(&c) {
                Ok(c)
            } else {
                Err("not in the countries table".to_string())
            }
        });
        let valid_from = p.field(&r, "valid_from", parse_date);
        let valid_to = p.optional(&r, "valid_to", parse_date);
        let source = r.get("source").trim().to_string();
        if source.is_empty() {
            p.add(r.line, "source", "name the decision that lists the origin");
        }
        let (Some(origin), Some(valid_from), Some(valid_to)) = (origin, valid_from, valid_to)
        else {
            continue;
        };
        if valid_to.is_some_and(|to| to < valid_from) {
            p.add(r.line, "valid_to", "before valid_from");
            continue;
        }
        let row = crate::GeneralRateOrigin {
            origin,
            valid_from,
            valid_to,
            source,
        };
        if let Some(other) = out.iter().find(|o| o.origin == origin && o.overlaps(&row)) {
            p.add(
                r.line,
                "valid_from",
                format!(
                    "overlaps the period of {} from {}",
                    origin, other.valid_from
                ),
            );
            continue;
        }
        out.push(row);
    }
    out
}

/// The tariff-quota rates (关税配额税率; Import and Export Duties Regulations art. 11: in-quota
/// imports take the in-quota rate, the rest the rates of arts. 10 and 11). One row a commodity
/// code and dated period, never overlapping. Rows are not tied to the tariff table at load, so
/// that a new tariff and a new quota table can be imported in either order: the out-of-quota
/// rate is the source's statement (the engine charges the tariff line's own rates beyond the
/// quota), and a test holds the shipped sample's two tables in agreement.
fn tariff_quotas(
    file: &CsvFile,
    p: &mut Problems,
) -> BTreeMap<domain::codes::HsCode, Vec<domain::reference::TariffQuota>> {
    use domain::codes::HsCode;
    use domain::reference::{DutyRate, QuotaCommodity, TariffQuota};
    let mut out: BTreeMap<HsCode, Vec<TariffQuota>> = BTreeMap::new();
    for r in file.records() {
        let code = p.field(&r, "commodity_code", HsCode::parse);
        let commodity = p.field(&r, "commodity", |s| {
            QuotaCommodity::parse(s).ok_or_else(|| {
                "one of wheat, maize, rice, sugar, wool, wool_tops, cotton".to_string()
            })
        });
        let in_quota = p.field(&r, "in_quota_rate", DutyRate::from_str);
        let out_of_quota = p.field(&r, "out_of_quota_rate", DutyRate::from_str);
        let valid_from = p.field(&r, "valid_from", parse_date);
        let valid_to = p.optional(&r, "valid_to", parse_date);
        if r.get("source").trim().is_empty() {
            p.add(r.line, "source", "name where the rates come from");
        }
        if !matches!(r.get("verified"), "yes" | "no") {
            p.add(r.line, "verified", "yes (checked against the source) or no");
        }
        let (
            Some(code),
            Some(commodity),
            Some(in_quota),
            Some(out_of_quota),
            Some(valid_from),
            Some(valid_to),
        ) = (
            code,
            commodity,
            in_quota,
            out_of_quota,
            valid_from,
            valid_to,
        )
        else {
            continue;
        };
        if valid_to.is_some_and(|to| to < valid_from) {
            p.add(r.line, "valid_to", "before valid_from");
            continue;
        }
        let row = TariffQuota {
            commodity_code: code,
            commodity,
            in_quota,
            out_of_quota,
            valid_from,
            valid_to,
        };
        let versions = out.entry(code).or_default();
        let overlaps = |a: &TariffQuota, b: &TariffQuota| {
            let before =
                |x: &TariffQuota, y: &TariffQuota| x.valid_to.is_some_and(|to| to < y.valid_from);
            !before(a, b) && !before(b, a)
        };
        if let Some(other) = versions.iter().find(|o| overlaps(o, &row)) {
            p.add(
                r.line,
                "valid_from",
                format!("overlaps the period of {code} from {}", other.valid_from),
            );
            continue;
        }
        versions.push(row);
    }
    out
}

fn simple<E: std::fmt::Display>(
    data: &mut RefData,
    table: Table,
    file: &CsvFile,
    mut p: Problems,
    check: impl Fn(&str) -> Result<(), E>,
) -> Result<(), TableError> {
    let mut out = BTreeMap::new();
    let mut seen = HashMap::new();
    for r in file.records() {
        let code = p.field(&r, "code", |s| check(s).map(|_| s.to_string()));
        let name_zh = p.name(&r, "name_zh", true);
        let name_en = p.name(&r, "name_en", false);
        if let Some(code) = code {
            if p.unique(&mut seen, code.clone(), r.line, "code", &code) {
                out.insert(
                    code.clone(),
                    CodeEntry {
                        code,
                        name_zh,
                        name_en,
                    },
                );
            }
        }
    }
    p.finish()?;
    data.simple.insert(table, out);
    Ok(())
}

fn units(file: &CsvFile, p: &mut Problems) -> BTreeMap<UnitCode, Unit> {
    let mut out = BTreeMap::new();
    let mut seen = HashMap::new();
    let mut bases = Vec::new();
    for r in file.records() {
        let code = p.field(&r, "code", UnitCode::parse);
        let name_zh = p.name(&r, "name_zh", true);
        let name_en = p.name(&r, "name_en", false);
        let base_unit = p.optional(&r, "base_unit", UnitCode::parse);
        let base_ratio = p.optional(&r, "base_ratio", |s| match Decimal::from_str(s) {
            Ok(d) if d > Decimal::ZERO => Ok(d),
            _ => Err("must be a number above 0"),
        });
        let base = match (base_unit, base_ratio) {
            (Some(Some(u)), Some(Some(q))) => {
                bases.push((r.line, u));
                Some((u, q))
            }
            (Some(None), Some(None)) => None,
            (Some(Some(_)), Some(None)) => {
                p.add(r.line, "base_ratio", "required when base_unit is given");
                None
            }
            (Some(None), Some(Some(_))) => {
                p.add(r.line, "base_unit", "required when base_ratio is given");
                None
            }
            _ => None,
        };
        if let Some(code) = code {
            if p.unique(&mut seen, code, r.line, "code", code.as_str()) {
                out.insert(
                    code,
                    Unit {
                        code,
                        name_zh,
                        name_en,
                        base,
                    },
                );
            }
        }
    }
    for (line, base) in bases {
        if !out.contains_key(&base) {
            p.add(
                line,
                "base_unit",
                format!("{base} is not in this units table"),
            );
        }
    }
    out
}

fn countries(file: &CsvFile, p: &mut Problems) -> Vec<Country> {
    let mut out = Vec::new();
    let (mut seen_legacy, mut seen_alpha) = (HashMap::new(), HashMap::new());
    for r in file.records() {
        let legacy = p.field(&r, "legacy_code", digits(3));
        let alpha = p.field(&r, "alpha3", CountryCode::parse);
        let name_zh = p.name(&r, "name_zh", true);
        let name_en = p.name(&r, "name_en", false);
        let (Some(legacy_code), Some(alpha3)) = (legacy, alpha) else {
            continue;
        };
        let new_legacy = p.unique(
            &mut seen_legacy,
            legacy_code.clone(),
            r.line,
            "legacy_code",
            &legacy_code,
        );
        let new_alpha = p.unique(&mut seen_alpha, alpha3, r.line, "alpha3", alpha3.as_str());
        if new_legacy && new_alpha {
            out.push(Country {
                legacy_code,
                alpha3,
                name_zh,
                name_en,
            });
        }
    }
    out
}

fn currencies(file: &CsvFile, p: &mut Problems) -> Vec<Currency> {
    let mut out = Vec::new();
    let (mut seen_legacy, mut seen_alpha) = (HashMap::new(), HashMap::new());
    for r in file.records() {
        let legacy = p.field(&r, "legacy_code", digits(3));
        let alpha = p.field(&r, "alpha", CurrencyCode::parse);
        let name_zh = p.name(&r, "name_zh", true);
        let name_en = p.name(&r, "name_en", false);
        let (Some(legacy_code), Some(alpha)) = (legacy, alpha) else {
            continue;
        };
        let new_legacy = p.unique(
            &mut seen_legacy,
            legacy_code.clone(),
            r.line,
            "legacy_code",
            &legacy_code,
        );
        let new_alpha = p.unique(&mut seen_alpha, alpha, r.line, "alpha", alpha.as_str());
        if new_legacy && new_alpha {
            out.push(Currency {
                legacy_code,
                alpha,
                name_zh,
                name_en,
            });
        }
    }
    out
}

fn level(s: &str) -> Result<OfficeLevel, &'static str> {
    match s {
        "hq" => Ok(OfficeLevel::Hq),
        "direct" => Ok(OfficeLevel::Direct),
        "subordinate" => Ok(OfficeLevel::Subordinate),
        _ => Err("level is hq, direct or subordinate"),
    }
}

fn offices(file: &CsvFile, p: &mut Problems) -> BTreeMap<OfficeCode, Office> {
    let mut out = BTreeMap::new();
    let mut seen = HashMap::new();
    let mut lines = HashMap::new();
    for r in file.records() {
        let code = p.field(&r, "code", OfficeCode::parse);
        let name_zh = p.name(&r, "name_zh", true);
        let name_en = p.name(&r, "name_en", false);
        let level = p.field(&r, "level", level);
        let parent = p.optional(&r, "parent", OfficeCode::parse);
        let (Some(code), Some(level), Some(parent)) = (code, level, parent) else {
            continue;
        };
        match (level, parent) {
            (OfficeLevel::Hq, Some(_)) => p.add(r.line, "parent", "HQ has no parent"),
            (OfficeLevel::Hq, None) if code != OfficeCode::HQ => {
                p.add(r.line, "level", "only 0000 is HQ")
            }
            (OfficeLevel::Direct, Some(parent)) if parent != OfficeCode::HQ => p.add(
                r.line,
                "parent",
                "a directly-affiliated customs has parent 0000",
            ),
            (OfficeLevel::Direct | OfficeLevel::Subordinate, None) => {
                p.add(r.line, "parent", "required")
            }
            _ => {}
        }
        if p.unique(&mut seen, code, r.line, "code", code.as_str()) {
            lines.insert(code, r.line);
            out.insert(
                code,
                Office {
                    code,
                    name_zh,
                    name_en,
                    level,
                    parent,
                },
            );
        }
    }
    if !out.is_empty() && !out.contains_key(&OfficeCode::HQ) {
        p.add(1, "code", "the table has no HQ row 0000");
    }
    for office in out.values() {
        if office.level != OfficeLevel::Subordinate {
            continue;
        }
        let Some(parent) = office.parent else {
            continue;
        };
        let line = lines[&office.code];
        match out.get(&parent) {
            None => p.add(line, "parent", format!("{parent} is not in the table")),
            Some(up) if up.level != OfficeLevel::Direct => p.add(
                line,
                "parent",
                format!("{parent} is not a directly-affiliated customs"),
            ),
            Some(_) => {}
        }
    }
    out
}

fn trade_modes(
    data: &RefData,
    file: &CsvFile,
    p: &mut Problems,
) -> BTreeMap<TradeMode, TradeModeEntry> {
    let mut out = BTreeMap::new();
    let mut seen = HashMap::new();
    let stats = data.simple.get(&Table::StatsTradeModes);
    let levies = data.simple.get(&Table::LevyNatures);
    for r in file.records() {
        let code = p.field(&r, "code", TradeMode::parse);
        let name_zh = p.name(&r, "name_zh", true);
        let name_en = p.name(&r, "name_en", false);
        let stats_code = p.optional(&r, "stats_code", |s| {
            let s = digits(2)(s)?;
            if stats.is_some_and(|t| t.contains_key(&s)) {
                Ok(s)
            } else {
                Err("not in the stats_trade_modes table".to_string())
            }
        });
        let mut levy_natures = Vec::new();
        let mut distinct = HashSet::new();
        for text in r.get("levy_natures").split_whitespace() {
            match LevyNature::parse(text) {
                Ok(l) if !levies.is_some_and(|t| t.contains_key(text)) => p.add(
                    r.line,
                    "levy_natures",
                    format!("{l} is not in the levy_natures table"),
                ),
                Ok(l) if !distinct.insert(l) => {
                    p.add(r.line, "levy_natures", format!("{l} is listed twice"))
                }
                Ok(l) => levy_natures.push(l),
                Err(e) => p.add(r.line, "levy_natures", format!("{text:?}: {e}")),
            }
        }
        let (Some(code), Some(stats_code)) = (code, stats_code) else {
            continue;
        };
        if p.unique(&mut seen, code, r.line, "code", code.as_str()) {
            out.insert(
                code,
                TradeModeEntry {
                    code,
                    name_zh,
                    name_en,
                    stats_code,
                    levy_natures,
                },
            );
        }
    }
    out
}
