//! Control of transport and cargo (docs/DOMAIN.md §6): manifests and means of transport, matching
//! declarations to bills and writing them off, late declarations, transit under customs control,
//! postal parcels and baggage. The rules and policies are in docs/CARGO.md.
//!
//! - [`codes`]: [`BillNo`], [`ContainerNo`] (ISO 6346 check digit), [`ImoNumber`] (check
//!   digit), [`ManifestId`], [`TransitNo`], [`SealNo`], [`FlightNo`], [`TruckPlate`], [`TrainNo`],
//!   [`VoyageNo`].
//! - [`model`]: [`Actor`], [`MeansOfTransport`], [`Voyage`], [`ManifestKind`], [`Bill`],
//!   [`GoodsLine`], [`MatchPolicy`] (weight tolerance), [`office_covers`].
//! - [`ledger`]: [`ManifestLedger`] — `decide`/`apply` of [`ManifestCommand`] into
//!   [`ManifestEvent`]s; `match_declaration`, `balance`, `late_bills`.
//! - [`late`]: what a bill's 14 days count from ([`PeriodStart`]: the arrival at the office of
//!   entry, or for goods under transit at the office of destination) and [`LateFee`].
//! - [`transit`]: [`TransitDeclaration`] and its pure state machine (`transit::decide`,
//!   `transit::apply`, `transit::alerts`).
//! - [`postal`]: parcel lists and baggage declarations taxed with `tax::assess_postal`, the
//!   [`PostalRiskScreen`] seam, released or held.
//! - [`exit`]: the exit rule — an export closes only on a departed export manifest listing its
//!   bill ([`exit::exit_proof`]).
//! - [`Refusal`]: stable codes, messages in Chinese and English.
//!
//! Invariants, as absences: no IO, no clock (time is an argument), no id generation (ids arrive
//! in commands), no `_` arm in a transition match, no float for weights or money.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod codes;
pub mod exit;
pub mod late;
pub mod ledger;
pub mod model;
pub mod postal;
pub mod refusal;
pub mod transit;

pub use codes::{
    BillNo, ContainerNo, FlightNo, ImoNumber, ManifestId, SealNo, TrainNo, TransitNo, TruckPlate,
    VoyageNo,
};
pub use late::{LateFee, PeriodStart, TransitLeg};
pub use ledger::{
    china_date, BillBalance, BillEntry, BillPosition, DeclaredGoods, DeclaredPart, Landing,
    LateBill, ManifestAction, ManifestBalance, ManifestCommand, ManifestEvent, ManifestEventKind,
    ManifestLedger, ManifestState, ManifestStatus, ManifestVersion, Match, MovementReport,
    TallyLine, TallyReport,
};
pub use model::*;
pub use postal::{
    clear_baggage, clear_parcel, clear_parcel_list, BaggageDeclaration, HoldReason, NoScreening,
    Parcel, ParcelList, PostalDecision, PostalItem, PostalKind, PostalOutcome, PostalPolicy,
    PostalRiskScreen, Screening,
};
pub use refusal::Refusal;
pub use transit::{
    ClearingDeclaration, Guarantee, SealCheck, TransitAction, TransitAlert, TransitAlertKind,
    TransitCommand, TransitDeclaration, TransitEvent, TransitEventKind, TransitState,
    TransitStatus,
};
