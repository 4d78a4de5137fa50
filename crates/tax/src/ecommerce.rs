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
    /// The person's purchases in the calendar year `year`, dated on or before `on`.
    pub fn annual_total(&self, person_id: &str, year: i32, on: NaiveDate) -> Fen {
        self.purchases
            .iter()
            .filter(|p| p.person_id == person_id && p.date.year() == year && p.date <= on)
            .map(|p| p.value_fen)
            .sum()
    }
}

/// The buyer of an e-commerce declaration. The declaration has no buyer field (the domain type
/// carries only enterprises), so the caller names the buyer here.
#[derive(Clone, Copy, Debug)]
pub struct EcommerceBuyer<'a> {
    pub person_id: &'a str,
    pub history: &'a EcommerceHistory,
}
