//! The duties and taxes engine of Jinguan (docs/DOMAIN.md §4): a valid declaration in, the exact
//! taxes due out, with a breakdown an officer and an enterprise can both check line by line.
//!
//! - [`assess`] with a [`TaxContext`]: customs value from every transaction term, duty by origin
//!   (MFN, provisional, agreement, general; ad valorem, specific, compound), trade remedies,
//!   consumption tax (with tiers), import VAT, reliefs, the e-commerce regime, the de minimis rule
//!   → an [`Assessment`] with one [`PaymentNotice`] per tax kind, as JSON or
//!   [`Assessment::render_text`].
//! - [`rates`]: [`RateTable`] and the rule picking the rate date (the data directory's table is
//!   read and written by `refdata::rates`).
//! - [`calendar`]: [`TradingCalendar`] of holidays and make-up working days.
//! - [`remedies`]: anti-dumping, countervailing and safeguard duties by commodity, origin and producer.
//! - [`fees`]: late declaration fee and late payment surcharge.
//! - [`collection`]: the dated policy table of periods, surcharges and refund interest, and
//!   re-assessment of a new version (补征, 追征, refunds).
//! - [`payment`]: the amount due on a notice at payment and the bank confirmation that settles it.
//! - [`guarantee`]: the guarantee ledger (保函, 总担保) as a pure state machine.
//! - [`postal`]: personal postal articles and baggage.
//! - [`policy`]: [`TaxPolicy`], every open rule as a named setting (docs/TAX.md).
//!
//! Pure: no clock, no IO. Tables are parsed from text the caller supplies (`clippy.toml` forbids
//! the clock and `std::fs` here).
//! Money is `Fen` when rounded and `Decimal` inside; no floating point.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod assessment;
pub mod calendar;
pub mod collection;
mod csvrows;
pub mod ecommerce;
mod engine;
pub mod error;
pub mod fees;
pub mod guarantee;
pub mod payment;
pub mod policy;
pub mod postal;
pub mod rates;
pub mod remedies;

pub use assessment::{Assessment, ItemAssessment, ItemTax, PaymentNotice, Regime, Step, TaxKind};
pub use calendar::{DayKind, TradingCalendar};
pub use ecommerce::{EcommerceBuyer, EcommerceHistory, Purchase};
pub use engine::{assess, TaxContext, AMOUNT_MAX_YUAN};
pub use error::TaxError;
pub use policy::{Relief, TaxPolicy};
pub use postal::{assess_postal, PostalArticle};
pub use rates::{RateTable, RowError};
pub use remedies::TradeRemedyTable;
