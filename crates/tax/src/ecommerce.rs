//! Cross-border e-commerce retail imports (9610, 1210): the buyer's purchase history, from which
//! the annual total is looked up. The limits and the 70 % factor are in [`crate::TaxPolicy`];
//! the engine applies them (see `engine.rs`).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use domain::money::Fen;

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
