//! Rows of a table for people: `jinguan codes TABLE [QUERY]`.

use std::fmt;

use domain::reference::{OfficeLevel, TariffLine};

use crate::table::Table;
use crate::tariff::format_agreements;
use crate::RefData;

/// One row as shown to a user: the code, the names, and what else the table says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// Other columns, as `key value` pairs separated by `; ` (may be empty).
    pub extra: String,
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\t{}\t{}", self.code, self.name_zh, self.name_en)?;
        if !self.extra.is_empty() {
            write!(f, "\t{}", self.extra)?;
        }
        Ok(())
    }
}

fn row(code: impl Into<String>, zh: &str, en: &str, extra: String) -> Row {
    Row {
        code: code.into(),
        name_zh: zh.to_string(),
        name_en: en.to_string(),
        extra,
    }
}

fn tariff_extra(l: &TariffLine) -> String {
    let mut parts = vec![format!("unit {}", l.first_unit)];
    if let Some(u) = l.second_unit {
        parts.push(format!("second unit {u}"));
    }
    parts.push(format!("mfn {}", l.mfn));
    parts.push(format!("general {}", l.general));
    if let Some(p) = &l.provisional {
        parts.push(format!("provisional {p}"));
    }
    if !l.agreements.is_empty() {
        parts.push(format!("agreements {}", format_agreements(&l.agreements)));
    }
    parts.push(format!(
        "vat {}%",
        (l.vat_rate * rust_decimal::Decimal::ONE_HUNDRED).normalize()
    ));
    if let Some(c) = &l.consumption_tax {
        parts.push(format!("consumption tax {c}"));
    }
    if let Some(e) = l.export_duty {
        parts.push(format!(
            "export duty {}%",
            (e * rust_decimal::Decimal::ONE_HUNDRED).normalize()
        ));
    }
    if let Some(d) = &l.licence {
        parts.push(format!("licence {d}"));
    }
    let to = l.valid_to.map(|d| d.to_string()).unwrap_or_default();
    parts.push(format!("valid {}..{to}", l.valid_from));
    parts.join("; ")
}

impl RefData {
    /// Every row of `table`, in code order.
    pub fn rows(&self, table: Table) -> Vec<Row> {
        match table {
            Table::Units => self
                .units
                .values()
                .map(|u| {
                    let extra = u
                        .base
                        .map(|(b, q)| format!("= {} x {b}", q.normalize()))
                        .unwrap_or_default();
                    row(u.code.as_str(), &u.name_zh, &u.name_en, extra)
                })
                .collect(),
            Table::Countries => self
                .countries
                .iter()
                .map(|c| {
                    row(
                        c.alpha3.as_str(),
                        &c.name_zh,
                        &c.name_en,
                        format!("legacy {}", c.legacy_code),
                    )
                })
                .collect(),
            Table::Currencies => self
                .currencies
                .iter()
                .map(|c| {
                    row(
                        c.alpha.as_str(),
                        &c.name_zh,
                        &c.name_en,
                        format!("legacy {}", c.legacy_code),
                    )
                })
                .collect(),
            Table::Offices => self
                .offices
                .values()
                .map(|o| {
                    let level = match o.level {
                        OfficeLevel::Hq => "hq",
                        OfficeLevel::Direct => "direct",
                        OfficeLevel::Subordinate => "subordinate",
                    };
                    let extra = match o.parent {
                        Some(p) => format!("{level}; parent {p}"),
                        None => level.to_string(),
                    };
                    row(o.code.as_str(), &o.name_zh, &o.name_en, extra)
                })
                .collect(),
            Table::TradeModes => self
                .trade_modes
                .values()
                .map(|m| {
                    let mut parts = Vec::new();
                    if let Some(s) = &m.stats_code {
                        parts.push(format!("stats {s}"));
                    }
                    if !m.levy_natures.is_empty() {
                        let l: Vec<&str> = m.levy_natures.iter().map(|l| l.as_str()).collect();
                        parts.push(format!("levy natures {}", l.join(" ")));
                    }
                    row(m.code.as_str(), &m.name_zh, &m.name_en, parts.join("; "))
                })
                .collect(),
            Table::Tariff => self
                .tariff_lines()
                .map(|l| {
                    row(
                        l.commodity_code.as_str(),
                        &l.description_zh,
                        &l.description_en,
                        tariff_extra(l),
                    )
                })
                .collect(),
            Table::GeneralRateOrigins => self
                .general_rate_origins
                .iter()
                .map(|o| {
                    let to = o.valid_to.map_or(String::new(), |d| d.to_string());
                    row(
                        o.origin.as_str(),
                        "",
                        "",
                        format!("{} to {to}; {}", o.valid_from, o.source),
                    )
                })
                .collect(),
            Table::TariffQuotas => self
                .tariff_quotas()
                .map(|q| {
                    let to = q.valid_to.map_or(String::new(), |d| d.to_string());
                    row(
                        q.commodity_code.to_string(),
                        q.commodity.name_zh(),
                        q.commodity.as_str(),
                        format!(
                            "in quota {}, out of quota {}; {} to {to}; certificates: {}",
                            q.in_quota,
                            q.out_of_quota,
                            q.valid_from,
                            q.commodity.agency()
                        ),
                    )
                })
                .collect(),
            Table::LevyNatures
            | Table::StatsTradeModes
            | Table::DutyTreatments
            | Table::TransportModes
            | Table::TransactionTerms
            | Table::PackageTypes
            | Table::Provinces => self
                .simple
                .get(&table)
                .map(|t| {
                    t.values()
                        .map(|e| row(e.code.as_str(), &e.name_zh, &e.name_en, String::new()))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Rows of `table` whose code starts with `query`, or whose Chinese or English name contains
    /// it, ignoring case; countries and currencies also match on their legacy code. An empty or
    /// missing query gives every row.
    pub fn lookup(&self, table: Table, query: Option<&str>) -> Vec<Row> {
        let query = query.map(str::trim).unwrap_or("");
        let rows = self.rows(table);
        if query.is_empty() {
            return rows;
        }
        let upper = query.to_uppercase();
        let lower = query.to_lowercase();
        rows.into_iter()
            .filter(|r| {
                r.code.to_uppercase().starts_with(&upper)
                    || r.name_zh.to_lowercase().contains(&lower)
                    || r.name_en.to_lowercase().contains(&lower)
                    || (matches!(table, Table::Countries | Table::Currencies)
                        && r.extra
                            .strip_prefix("legacy ")
                            .is_some_and(|l| l.starts_with(query)))
            })
            .collect()
    }
}
