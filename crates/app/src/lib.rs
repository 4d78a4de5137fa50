//! The clearance service of Jinguan: the use cases, with no HTTP.
//!
//! A small core and feature services around it. [`Clearance`] (in [`service`]) is only the
//! composition root: it owns the state and hands out the services, each a borrowed view that
//! owns its use cases and reaches nothing but the core and the services below it.
//!
//! ```text
//!   layer 4   portal ──────────► filing (read-only: what review would report)
//!   layer 3   filing ──────────► cargo_desk, eport_desk, risk_desk, assessment, attorney,
//!                                registration
//!             steps ───────────► cargo_desk, exchange_desk, risk_desk, assessment, attorney
//!             finance ─────────► cargo_desk, exchange_desk, assessment
//!             inbound_desk ────► eport_desk, finance, exchange_desk
//!   layer 2   cargo_desk ──────► exchange_desk, risk_desk, assessment
//!             stats ───────────► exchange_desk, warehouse (the trait cli fills)
//!             case_desk ───────► risk_desk
//!             aeo_desk ────────► risk_desk, notices
//!             registration ────► users
//!   layer 1   risk_desk, exchange_desk, eport_desk, assessment, users, attorney
//!   layer 0   kernel ───────────► access (the one matrix), clock, error; anchor
//!
//!   every service also uses kernel (the core); an edge only ever points to a lower layer
//!   service::Clearance (the composition root) builds them all
//! ```
//!
//! `tests/module_dag.rs` checks the sources against this graph (every `crate::` path a module
//! names is an edge below, the graph has no cycle, no module is named after a crate).
//!
//! In words, each service and what it may use (no other edge exists, so there is no cycle; the
//! core is the module `kernel`, so as not to shadow the `core` crate):
//! - [`kernel`]: the store, the reference data, the tax tables, the injected [`Clock`], the
//!   settings, and [`kernel::Core::authorize`], which returns [`kernel::Allowed`] — proof of what
//!   was allowed, holding the principal's office scope computed once. Uses [`access`] (the one
//!   access matrix), [`clock`], [`error`].
//! - [`assessment`]: the tax engine on a declaration (notices, customs value, fen at the
//!   customs rate). Uses core.
//! - [`risk_desk`]: risk analysts' use cases, and risk's contributions (the lane at filing, an
//!   examination's feedback and the release count at a step). Uses core.
//! - [`exchange_desk`]: an agency's feed, and the outbox rows a step sends. Uses core.
//! - [`eport_desk`]: licences and registry, and the licence check at filing. Uses core.
//! - [`cargo_desk`]: manifests, transits, postal items, and cargo's contributions (the bill
//!   match at filing, the write-off at a step). Uses core, assessment, risk_desk (watch lists),
//!   exchange_desk (the messages of exports an exit confirmation closes).
//! - [`finance`]: refund claims, bank records, the foreign-exchange match. Uses core,
//!   assessment, exchange_desk (the `export_closed.v1` record claims are matched against),
//!   cargo_desk (the manifest that proves a claimed export's exit).
//! - [`inbound_desk`]: the agencies' own records as signed messages to customs (licences,
//!   registry entries, bank records): verified, applied once as the sending agency through the
//!   use cases of eport_desk and finance, the message's id recorded with the effect. Uses core,
//!   eport_desk, finance, exchange_desk (agency codes).
//! - [`stats`]: the HQ dashboard. Uses core, exchange_desk (the feed's key), [`warehouse`]
//!   (the statistics warehouse's trait: trade values by month, chapter, partner, mode,
//!   district; the bulletin; filled by `cli` with crates/stats, so no engine is built here).
//! - [`users`]: sign-in, sessions, accounts (password change and reset, disable and enable),
//!   the audit chain and its anchors. Uses core, [`auth`] and [`anchor`] (the node's key
//!   over the chain head, no other module).
//! - [`portal`]: checking a declaration without filing it, code lookups. Uses core, filing
//!   (what automatic review and the features' checks would report, read without writing).
//! - [`attorney`]: powers of attorney of consignees to customs brokers, the broker's authority
//!   at filing and on steps. Uses core.
//! - [`case_desk`]: the anti-smuggling case register; a penalty's credit downgrade reaches the
//!   risk engine's classes. Uses core, risk_desk.
//! - [`aeo_desk`]: AEO certification (applications, audits against the standards, decisions,
//!   re-assessment), the credit class with its history (officers' recorded decisions, overdue
//!   notices) and the mutual-recognition partners. Uses core, risk_desk (the class the next
//!   filing is sampled at), notices (the due date of a notice).
//! - [`registration`]: customs registration (self-service sign-up, review, change,
//!   cancellation) and an enterprise administrator's users and roles. Uses core, users.
//! - [`filing`]: submission, the path of one declaration top to bottom. Uses core, assessment,
//!   risk_desk, eport_desk, cargo_desk, attorney, registration (a registration not in force
//!   files nothing).
//! - [`steps`]: steps on a declaration and the queries on declarations. Uses core,
//!   assessment, risk_desk, exchange_desk, cargo_desk, versions.
//! - [`versions`]: versions of a declaration, their re-assessment and refunds (checks and
//!   records; the steps write them). Uses core, assessment.
//! - [`notifications`]: the notifications inbox, read from the audit chain and the events of
//!   the declarations one may see, narrowed for officers to what their duties cover; each
//!   user's read marker. Uses core, steps (what one may see), access (the duties).
//! - [`drafts`]: drafts of forms kept by the server, each its owner's alone. Uses core, steps.
//! - [`webhooks`]: enterprises' webhook subscriptions (the URL checked, the secret made, the
//!   owner's replay and enabling; the delivery is the server's). Uses core.
//!
//! Module names do not shadow crate names (`risk`, `exchange`, `eport`, `cargo_control`, `tax`,
//! `clearance`): the services are `*_desk`, `filing`, `steps`, `assessment`.
//!
//! Invariants, as absences: no clock read except through [`Clock`] (`clippy.toml` forbids
//! `Utc::now`, `Local::now` and `SystemTime::now` in this crate); no store call in a use case
//! before `authorize`; no `unreachable!` after it (what the matrix allows is carried by the
//! proof, and a contradiction is a typed refusal); no password or token in the store, the audit
//! log or a log line.

pub mod access;
pub mod aeo_desk;
pub mod anchor;
pub mod assessment;
pub mod attachments;
pub mod attorney;
pub mod auth;
pub mod cargo_desk;
pub mod case_desk;
pub mod clock;
pub mod copy;
pub mod demo;
pub mod drafts;
pub mod eport_desk;
pub mod error;
pub mod exchange_desk;
pub mod filing;
pub mod finance;
pub mod guarantee_desk;
pub mod inbound_desk;
pub mod kernel;
pub mod notices;
pub mod notifications;
pub mod payments;
pub mod portal;
pub mod postal_screen;
pub mod registration;
pub mod risk_desk;
pub mod service;
pub mod stats;
pub mod steps;
pub mod users;
pub mod versions;
pub mod warehouse;
pub mod webhooks;

pub use access::{
    authorize, authorize_cargo, decide, Ask, CargoOperation, CargoResource, Denied, Duty,
    Operation, Principal, Resource, Role,
};
pub use clock::{Clock, ManualClock, PinnableClock, SystemClock};
pub use error::{AppError, FieldProblem};
pub use filing::Filing;
pub use kernel::{Allowed, Core, Scope, Settings, TaxTables};
pub use portal::{CodeLookup, CodeRow};
pub use risk_desk::{EnterpriseRegistry, StaticRegistry};
pub use service::Clearance;
pub use stats::{StatsQuery, StatsSummary};
pub use steps::{DeclarationDetail, ListQuery, ReceiptSources, Step, StepDone, VersionView};
pub use users::{NewUserRequest, SessionToken, UserView};
