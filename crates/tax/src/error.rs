//! Typed errors of the tax engine. Each names what the caller must supply to go on.

use chrono::NaiveDate;
use domain::codes::{CurrencyCode, HsCode, UnitCode};

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    /// No exchange rate for the currency on the date the rule picks.
    #[error(
        "no exchange rate for {currency} on {rate_date} (needed for a declaration dated {declaration_date}; {rule})"
    )]
    MissingRate {
        currency: CurrencyCode,
        rate_date: NaiveDate,
        declaration_date: NaiveDate,
        rule: &'static str,
    },
    /// The holiday calendar does not cover the day the exchange-rate rule must look at.
    #[error(
        "the holiday calendar does not cover {date} ({needed}; it covers {covered}), so the exchange-rate date of a declaration dated {declaration_date} cannot be decided: import a calendar that covers it"
    )]
    CalendarNotCovered {
        date: NaiveDate,
        declaration_date: NaiveDate,
        needed: &'static str,
        covered: String,
    },
    #[error("item {item_no}: no tariff line for commodity code {code} in force on {date}")]
    MissingTariffLine {
        item_no: u16,
        code: HsCode,
        date: NaiveDate,
    },
    /// A specific rate is per a unit that the item does not declare a quantity in.
    #[error(
        "item {item_no}: the {measure} rate is per unit {rate_unit}, but the item declares legal quantities in {first_unit}{second}",
        second = .second_unit.map(|u| format!(" and {u}")).unwrap_or_default()
    )]
    UnitMismatch {
        item_no: u16,
        measure: &'static str,
        rate_unit: UnitCode,
        first_unit: UnitCode,
        second_unit: Option<UnitCode>,
    },
    #[error(
        "item {item_no}: duty treatment {treatment} has no relief configured in the tax policy"
    )]
    UnsupportedDutyTreatment { item_no: u16, treatment: String },
    #[error("item {item_no}: duty treatment 5 follows levy nature {levy_nature}, which the tax policy does not list")]
    UnsupportedLevyNature { item_no: u16, levy_nature: String },
    #[error("the {charge} charge cannot be given per unit (only freight can)")]
    PerUnitChargeNotAllowed { charge: &'static str },
    #[error("{terms} terms need the {charge} to be declared")]
    MissingCharge {
        charge: &'static str,
        terms: &'static str,
    },
    #[error("the declaration has no goods value to apportion charges by")]
    ZeroGoodsValue,
    #[error("item {item_no}: a consumption tax rate of 100 % or more has no composite base")]
    ConsumptionTaxRateTooHigh { item_no: u16 },
    #[error("postal article {index}: category {category} has no rate in the tax policy")]
    UnknownPostalCategory { index: usize, category: u8 },
    #[error("a cross-border e-commerce declaration needs the buyer and their purchase history")]
    MissingEcommerceBuyer,
    #[error("an amount is beyond the range of the engine ({what})")]
    Overflow { what: &'static str },
    #[error("{what}: {value} must not be negative")]
    Negative { what: &'static str, value: String },
    #[error("the customs value after charges is negative")]
    NegativeValue,
    #[error(
        "the export FOB value of item {item_no} is negative after deducting freight and insurance"
    )]
    NegativeExportValue { item_no: u16 },
}
