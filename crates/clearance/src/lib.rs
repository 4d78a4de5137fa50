//! The lifecycle of a goods declaration (docs/DOMAIN.md §3) as a pure state machine.
//!
//! ```text
//! New ─submit→ Submitted ─accept→ Accepted ─choose_lane→ green/blue → AwaitingAssessment
//!                 │ └reject→ Rejected              yellow → DocumentReview ─record_review→ AwaitingAssessment
//!                 └withdraw→ Withdrawn             red    → Inspection     ─record_inspection→ AwaitingAssessment
//!   (DocumentReview ─order_inspection→ Inspection)
//! AwaitingAssessment ─assess→ Assessed ─pay (last notice)→ Paid ─release→ Released
//!                         (no notices → Paid)   └release_against_guarantee→ Released (pay later)
//! Released ─confirm_exit (export)→ Closed      Released ─close (import, nothing owed)→ Closed
//! Accepted‥Released: request_cancellation / request_amendment → approve / refuse
//!                    (approved cancellation → Cancelled)
//! Accepted‥Paid ─suspend (anti-smuggling)→ Suspended ─unsuspend→ where it was
//! ```
//!
//! - [`model`]: [`Status`], [`Lane`], [`Actor`], [`Command`]/[`Action`], [`Event`]/[`EventKind`],
//!   [`DeclarationState`].
//! - [`decide()`]: `(state, command, now) → events | Refusal`; [`apply()`]: `(state, event) → state`.
//! - [`Refusal`]: a stable code and messages in Chinese and English.
//! - [`version`]: versions of a declaration: amendments and officers' corrections, checked
//!   against the form's field paths and validated in full.
//! - [`lane`]: the [`LanePolicy`] seam for the risk engine and its placeholder.
//!
//! Invariants, as absences: no IO, no clock (time is the `now` argument), no id generation
//! (numbers arrive in commands), no `_` arm in the transition match, no command silently ignored.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod decide;
pub mod lane;
pub mod model;
pub mod refusal;
pub mod version;

pub use decide::{apply, customs_year, decide, replay};
pub use lane::{
    CreditClass, DefaultLanePolicy, EnterpriseFacts, LaneContext, LaneDecision, LanePolicy,
};
pub use model::*;
pub use refusal::Refusal;

#[cfg(test)]
mod tests;
