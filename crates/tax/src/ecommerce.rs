//! Cross-border e-commerce retail imports (9610, 1210): the buyer's purchase history, from which
//! the annual total is looked up. The limits and the 70 % factor are in [`crate::TaxPolicy`];
//! the engine applies them (see `engine.rs`).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use domain::money::Fen;
use rust_decimal::Decimal;

use crate::csvrows::{self, Row};
use crate::engine::AMOUNT_MAX_YUAN;
use crate::rates::RowError;

/// One earlier purchase of a person under the e-commerce retail regime.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// The buyer's identity (ID card number or passport) as the platform reports it.
    pub person_id: String,
    pub date: NaiveDate,
    /// The transaction value that counted against the annual limit.
    pub value_fen: Fen,
}

/// Purchases supplied by the caller (the store, or a file). Must not contain the declaration
/// being assessed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EcommerceHistory {
    pub purchases: Vec<Purchase>,
}

impl EcommerceHistory {
    /// A purchase history as CSV `person_id,date,value`: person_id as `resident_id:NUMBER` or
    /// `passport:NUMBER` (the number is upper-cased, as the engine looks it up), date
    /// YYYY-MM-DD, value in yuan with at most 2 decimals; a header row and `#` lines are
    /// skipped; an empty text means no purchases. Every bad row is reported with its line.
    pub fn parse_csv(text: &str) -> Result<EcommerceHistory, Vec<RowError>> {
        let mut purchases = Vec::new();
        let mut errors = Vec::new();
        for row in csvrows::rows(text, "person_id") {
            match row.and_then(|row| {
                parse_purchase(&row).map_err(|message| RowError {
                    line: row.line,
                    message,
                })
            }) {
                Ok(p) => purchases.push(p),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(EcommerceHistory { purchases })
        } else {
            Err(errors)
        }
    }

    /// The person's purchases in the calendar year `year`, dated on or before `on`. The sum
    /// saturates rather than overflows: a history that large is far beyond any annual limit,
    /// which is all the total is used for.
    pub fn annual_total(&self, person_id: &str, year: i32, on: NaiveDate) -> Fen {
        Fen(self
            .purchases
            .iter()
            .filter(|p| p.person_id == person_id && p.date.year() == year && p.date <= on)
            .fold(0i64, |sum, p| sum.saturating_add(p.value_fen.0)))
    }
}

fn parse_purchase(row: &Row) -> Result<Purchase, String> {
    let fields: Vec<&str> = row.fields.iter().collect();
    let [person_id, date, value] = fields[..] else {
        return Err(format!(
            "expected person_id,date,value, found {} fields",
            fields.len()
        ));
    };
    // The key the engine looks up (`Buyer::person_id`): the number as filed, upper case.
    let person_id = match person_id.split_once(':') {
        Some((kind @ ("resident_id" | "passport"), number)) if !number.is_empty() => {
            format!("{kind}:{}", number.to_uppercase())
        }
        _ => {
            return Err(format!(
                "person_id {person_id:?} is resident_id:NUMBER or passport:NUMBER"
            ))
        }
    };
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d")
        .map_err(|_| format!("date {date:?} is not YYYY-MM-DD"))?;
    let value: Decimal = value
        .parse()
        .map_err(|_| format!("value {value:?} is not a number"))?;
    if value.is_sign_negative()
        || value.normalize().scale() > 2
        || value > Decimal::from(AMOUNT_MAX_YUAN)
    {
        return Err(format!(
            "value {value} must be 0 to {AMOUNT_MAX_YUAN} yuan with at most 2 decimals"
        ));
    }
    let value_fen =
        Fen::round_yuan(value).ok_or_else(|| format!("value {value} is out of range"))?;
    Ok(Purchase {
        person_id,
        date,
        value_fen,
    })
}

/// The buyer of an e-commerce declaration. The declaration has no buyer field (the domain type
/// carries only enterprises), so the caller names the buyer here.
#[derive(Clone, Copy, Debug)]
pub struct EcommerceBuyer<'a> {
    pub person_id: &'a str,
    pub history: &'a EcommerceHistory,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(person_id: &str, date: &str, value_fen: i64) -> Purchase {
        Purchase {
            person_id: person_id.into(),
            date: date.parse().unwrap(),
            value_fen: Fen(value_fen),
        }
    }

    #[test]
    fn a_history_csv_reads_quoted_fields_and_reports_bad_rows_by_line() {
        let h = EcommerceHistory::parse_csv(
            "person_id,date,value\n\"passport:e1\",2025-01-02,\"1,000.5\"\npassport:E1,2025-01-03,20\n",
        );
        // "1,000.5" is one field (quoted), and not a number: the row is refused, not split.
        let errors = h.unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(errors[0].message.contains("1,000.5"), "{errors:?}");
        let h = EcommerceHistory::parse_csv(
            "\"passport:e1\" , 2025-01-02 , 1000.50\n# note, with comma\n",
        )
        .expect("good rows");
        assert_eq!(
            h.purchases,
            vec![purchase("passport:E1", "2025-01-02", 100_050)]
        );
    }

    #[test]
    fn annual_total_counts_the_person_year_and_dates_up_to_the_day() {
        let history = EcommerceHistory {
            purchases: vec![
                purchase("passport:A1", "2025-01-01", 100),
                purchase("passport:A1", "2025-06-30", 20),
                purchase("passport:A1", "2025-07-01", 4_000),
                purchase("passport:A1", "2024-12-31", 300),
                purchase("passport:B2", "2025-03-01", 5_000),
            ],
        };
        let on = "2025-06-30".parse().unwrap();
        assert_eq!(history.annual_total("passport:A1", 2025, on), Fen(120));
        assert_eq!(history.annual_total("passport:B2", 2025, on), Fen(5_000));
        assert_eq!(history.annual_total("passport:C3", 2025, on), Fen::ZERO);
    }

    #[test]
    fn a_huge_history_saturates_instead_of_overflowing() {
        let history = EcommerceHistory {
            purchases: vec![purchase("passport:A1", "2025-01-01", i64::MAX / 2 + 1); 3],
        };
        let on = "2025-06-30".parse().unwrap();
        assert_eq!(history.annual_total("passport:A1", 2025, on), Fen(i64::MAX));
    }
}
