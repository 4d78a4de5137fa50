//! The risk and selectivity engine of Jinguan (docs/DOMAIN.md §5): it chooses the lane of every
//! accepted declaration and records why.
//!
//! - [`rule`]: rules as analysts write them ([`Rule`], [`RuleSet::parse`], [`RuleError`]).
//! - [`expr`]: the condition language (`commodity ^= "8471" and unit_price_cny < 100`).
//! - [`field`]: the fields a condition may test.
//! - [`compile`]: [`CompiledRules`], rules indexed by the fields they test.
//! - [`facts`]: the values read from a declaration; [`CnyRates`] and [`OfficeHierarchy`],
//!   supplied by the caller.
//! - [`sampling`]: reproducible sampling by credit class ([`draw_ppm`]).
//! - [`price`]: reference prices and the undervaluation check.
//! - [`watch`]: watch lists and holds.
//! - [`engine`]: [`RiskState::decide`] → [`RiskDecision`] with its officer-only
//!   [`Explanation`]; [`RiskEngine`] swaps state without a restart; [`RiskLanePolicy`] adapts to
//!   `clearance::LanePolicy`.
//! - [`feedback`]: examination results and the report of hit rates ([`RiskReport`]).
//! - [`naive`]: the reference interpreter the compiled engine is tested against.
//! - [`cli`]: the logic of `jinguan risk`.
//!
//! Invariants, as absences: no IO, no clock (the day is an argument), no randomness other than
//! the published-seed hash, no floating point in prices.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod cli;
pub mod compile;
pub mod engine;
pub mod expr;
pub mod facts;
pub mod feedback;
pub mod field;
pub mod naive;
pub mod price;
pub mod rule;
pub mod sampling;
pub mod watch;

pub use compile::CompiledRules;
pub use engine::{
    DecisionInput, DecisionReason, Explanation, FiredRule, RiskDecision, RiskEngine,
    RiskLanePolicy, RiskPolicy, RiskState, Source,
};
pub use facts::{CnyRates, DigitOffices, NoRates, OfficeHierarchy, ReferenceOffices};
pub use feedback::{FeedbackLog, FeedbackRecord, RiskReport, RuleStats};
pub use price::{PriceCheckPolicy, PriceFinding, PriceKey, PriceReference, PriceReferences};
pub use rule::{Action, InspectionKind, Reason, Rule, RuleError, RuleSet};
pub use sampling::{draw_ppm, ClassRates, SamplingPolicy};
pub use watch::{WatchEntry, WatchHit, WatchKind, WatchLists};
