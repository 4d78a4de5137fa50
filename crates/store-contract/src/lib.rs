//! The contract suites every storage backend must pass, one per use-case trait of `store`
//! (ripgrep's shared test suite idea): each suite is a set of public functions taking a
//! harness that opens a fresh store, and a macro that turns them into `#[test]`s.
//!
//! This crate is only ever a `[dev-dependencies]` entry (of `store-sqlite` and
//! `store-postgres`): the suites, and what they need (the `tax` crate for postal items), stay
//! out of the shipped library.
//!
//! - [`contract`]: [`store::Store`] (filings, lifecycle, listing, accounts, audit chain);
//! - [`cargo_contract`], [`eport_contract`], [`finance_contract`], [`outbox_contract`],
//!   [`risk_contract`]: the sub-stores;
//! - [`versions_contract`]: declaration versions and their re-assessment (issue 14);
//! - [`parties_contract`]: powers of attorney and the case register (issue 19);
//! - [`search_contract`]: searching declarations for the web interface's lists (issue 20);
//! - [`webhooks_contract`]: webhook subscriptions, their cursors and delivery log (issue 18).
//! - [`drafts_contract`]: drafts kept by the server and the notifications read marker (issue 20).

pub mod bench;
pub mod cargo_contract;
pub mod contract;
pub mod daily_contract;
pub mod drafts_contract;
pub mod eport_contract;
pub mod finance_contract;
pub mod guarantee_contract;
pub mod outbox_contract;
pub mod parties_contract;
pub mod risk_contract;
pub mod search_contract;
pub mod versions_contract;
pub mod webhooks_contract;
