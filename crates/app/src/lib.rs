//! The clearance service of Jinguan: the use cases, with no HTTP.
//!
//! - [`Clearance`] (in [`service`]): holds `Arc<dyn Store>`, the reference data, the tax
//!   tables, a pluggable `LanePolicy` (the risk engine replaces the default), an enterprise
//!   registry and an injected [`Clock`]. Use cases: submit with automatic review, steps of
//!   officers and enterprises, queries, users and sessions.
//! - [`access`]: [`Principal`], [`Operation`], [`Resource`] and the one access decision,
//!   [`authorize`], deny by default. Every use case calls it before touching data.
//! - [`auth`]: argon2id password hashes and session tokens (random 256 bits, stored hashed).
//! - [`portal`] and [`stats`]: what the web interface asks beyond the clearance steps (checking
//!   a declaration without filing it, code lookups, the HQ dashboard's statistics).
//! - [`eport`] and [`finance`]: the E-Port ledgers (licences, registry, export tax refund
//!   claims, banks' receipts and payments matched to declarations; docs/EPORT.md).
//! - [`error`]: [`AppError`], one variant per kind of answer, mapped 1:1 to HTTP statuses by the
//!   server.
//!
//! Invariants, as absences: no clock read except through [`Clock`]; no store call before
//! `authorize`; no password or token in the store, the audit log or a log line.

pub mod access;
pub mod auth;
pub mod cargo;
pub mod clock;
pub mod demo;
pub mod eport;
pub mod error;
pub mod exchange;
pub mod finance;
pub mod portal;
pub mod postal_screen;
pub mod risk;
pub mod service;
pub mod stats;

pub use access::{
    authorize, authorize_cargo, decide, Ask, CargoOperation, CargoResource, Denied, Duty, Operation,
    Principal, Resource, Role,
};
pub use clock::{Clock, ManualClock, PinnableClock, SystemClock};
pub use error::{AppError, FieldProblem};
pub use portal::{CodeLookup, CodeRow};
pub use service::{
    Clearance, DeclarationDetail, EnterpriseRegistry, Filing, ListQuery, NewUserRequest,
    SessionToken, Settings, StaticRegistry, Step, StepDone, TaxTables, UserView,
};
pub use stats::{StatsQuery, StatsSummary};
