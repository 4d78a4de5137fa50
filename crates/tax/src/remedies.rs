//! Trade remedies: anti-dumping, countervailing and safeguard duties by commodity, origin and producer
//! ([`TradeRemedyTable`]).
//!
//! CSV format: `code_prefix,origin,producer,kind,rate,valid_from,valid_to` with `code_prefix` 2–10
//! digits of the commodity code, `origin` ISO alpha-3, `producer` a name or `*` (all other
//! producers), `kind` `anti_dumping`, `countervailing` or `safeguard`, `rate` a percentage (`23.5%`),
//! `valid_to` inclusive or empty while in force. Header and `#` lines are allowed.
//!
//! Choice: for each kind, among the rows in force whose prefix and origin match, a row naming the
//! item's producer (trimmed, ASCII case-insensitive) wins over `*`; among equals the longest
//! prefix wins.

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use domain::codes::{CountryCode, HsCode};

use crate::csvrows::{self, Row};
use crate::rates::RowError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemedyKind {
    AntiDumping,
    Countervailing,
    /// Safeguard measure (保障措施), an additional duty on imports of a product whatever the
    /// producer (Regulations on Safeguards 保障措施条例 art. 2, 20): usually every origin
    /// except those the announcement excludes, so the table lists it per origin like the others.
    Safeguard,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TradeRemedy {
    pub code_prefix: String,
    pub origin: CountryCode,
    /// `None` for `*`: every producer not named in another row.
    pub producer: Option<String>,
    pub kind: RemedyKind,
    /// Ad valorem fraction (0.235 for 23.5 %).
    pub rate: Decimal,
    pub valid_from: NaiveDate,
    pub valid_to: Option<NaiveDate>,
}

impl TradeRemedy {
    fn in_force(&self, on: NaiveDate) -> bool {
        self.valid_from <= on && self.valid_to.is_none_or(|to| on <= to)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeRemedyTable {
    pub remedies: Vec<TradeRemedy>,
}

/// The SAMPLE table shipped for tests and demos (illustrative cases, not the measures in force).
pub const SAMPLE_REMEDIES_CSV: &str = include_str!("../../../data/trade_remedies_sample.csv");

impl TradeRemedyTable {
    pub fn sample() -> TradeRemedyTable {
        TradeRemedyTable::parse_csv(SAMPLE_REMEDIES_CSV).expect("the sample remedy table parses")
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        self.remedies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.remedies.is_empty()
    }

    pub fn parse_csv(text: &str) -> Result<TradeRemedyTable, Vec<RowError>> {
        let mut remedies = Vec::new();
        let mut errors = Vec::new();
        for row in csvrows::rows(text, "code_prefix") {
            match row.and_then(|row| {
                parse_row(&row).map_err(|message| RowError {
                    line: row.line,
                    message,
                })
            }) {
                Ok(remedy) => remedies.push(remedy),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(TradeRemedyTable { remedies })
        } else {
            Err(errors)
        }
    }

    /// The remedies that apply to one item, at most one per kind, sorted by kind.
    pub fn applicable(
        &self,
        code: HsCode,
        origin: CountryCode,
        producer: Option<&str>,
        on: NaiveDate,
    ) -> Vec<&TradeRemedy> {
        let producer = producer.map(str::trim);
        let mut chosen: Vec<&TradeRemedy> = Vec::new();
        for kind in [
            RemedyKind::AntiDumping,
            RemedyKind::Countervailing,
            RemedyKind::Safeguard,
        ] {
            let best = self
                .remedies
                .iter()
                .filter(|r| r.kind == kind && r.origin == origin && r.in_force(on))
                .filter(|r| code.as_str().starts_with(&r.code_prefix))
                .filter(|r| match &r.producer {
                    None => true,
                    Some(p) => producer.is_some_and(|q| q.eq_ignore_ascii_case(p.trim())),
                })
                .max_by_key(|r| (r.producer.is_some(), r.code_prefix.len()));
            chosen.extend(best);
        }
        chosen
    }
}

fn parse_row(row: &Row) -> Result<TradeRemedy, String> {
    let f: Vec<&str> = row.fields.iter().collect();
    if f.len() != 7 {
        return Err(format!(
            "expected code_prefix,origin,producer,kind,rate,valid_from,valid_to, found {} fields",
            f.len()
        ));
    }
    let prefix = f[0];
    if !(2..=10).contains(&prefix.len()) || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("code prefix {prefix:?} must be 2 to 10 digits"));
    }
    let origin = CountryCode::parse(f[1]).map_err(|e| format!("origin {:?}: {e}", f[1]))?;
    let producer = match f[2] {
        "" => return Err("producer is empty: use * for all producers".into()),
        "*" => None,
        p => Some(p.to_string()),
    };
    let kind = match f[3] {
        "anti_dumping" => RemedyKind::AntiDumping,
        "countervailing" => RemedyKind::Countervailing,
        "safeguard" => RemedyKind::Safeguard,
        other => {
            return Err(format!(
                "kind {other:?} must be anti_dumping, countervailing or safeguard"
            ))
        }
    };
    let rate = f[4]
        .strip_suffix('%')
        .and_then(|p| Decimal::from_str(p.trim()).ok())
        .filter(|p| !p.is_sign_negative() && *p <= Decimal::from(1000))
        .map(|p| p / Decimal::ONE_HUNDRED)
        .ok_or_else(|| format!("rate {:?} must be a percentage between 0% and 1000%", f[4]))?;
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| format!("date {s:?} is not YYYY-MM-DD"))
    };
    let valid_from = date(f[5])?;
    let valid_to = if f[6].is_empty() {
        None
    } else {
        Some(date(f[6])?)
    };
    if valid_to.is_some_and(|to| to < valid_from) {
        return Err("valid_to is before valid_from".into());
    }
    Ok(TradeRemedy {
        code_prefix: prefix.to_string(),
        origin,
        producer,
        kind,
        rate,
        valid_from,
        valid_to,
    })
}
