//! The duties and taxes engine of Jinguan (DOMAIN.md §4): a valid declaration in, the exact taxes
//! due out, with a breakdown an officer and an enterprise can both check line by line.
//!
//! - [`assess`] with a [`TaxContext`]: customs value from every transaction term, duty by origin
//!   (MFN, provisional, agreement, general; ad valorem, specific, compound), trade remedies,
//!   consumption tax (with tiers), import VAT, reliefs, the e-commerce regime, the de minimis rule
//!   → an [`Assessment`] with one [`PaymentNotice`] per tax kind, as JSON or
//!   [`Assessment::render_text`].
//! - [`rates`]: [`RateTable`] and the rule picking the rate date; [`rates::import`] writes the
//!   data directory's table atomically.
//! - [`calendar`]: [`TradingCalendar`] of holidays and make-up working days.
//! - [`remedies`]: anti-dumping and countervailing duties by commodity, origin and producer.
//! - [`fees`]: late declaration fee and late payment surcharge.
//! - [`postal`]: personal postal articles and baggage.
//! - [`policy`]: [`TaxPolicy`], every open rule as a named setting (docs/TAX.md).
//!
//! Pure: no clock, no IO (only [`rates::import`] and [`rates::load`] touch files, for the CLI).
//! Money is `Fen` when rounded and `Decimal` inside; no floating point.

pub mod assessment;
pub mod calendar;
pub mod ecommerce;
mod engine;
pub mod error;
pub mod fees;
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
