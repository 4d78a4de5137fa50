//! What a new version of a declaration writes besides its events (issue 14), the same on every
//! backend: the version's declaration becomes the current body, the re-assessment's notices
//! go into the payment notices with the ordinary ones, and the notices it replaces are marked
//! superseded. Every version stays in the event log (`EventKind::Versioned`), with who, when,
//! why, the differences and its declaration; refunds live in the declaration's state.

use chrono::{DateTime, Utc};
use clearance::{Event, EventKind, PaymentNotice};

/// The writes of one append's `Versioned` events, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct VersionWrites {
    /// The body of the last version (compact JSON of the typed declaration).
    pub body_json: Option<String>,
    /// New notices with their issue time.
    pub notices: Vec<(PaymentNotice, DateTime<Utc>)>,
    /// Notices superseded, with the time.
    pub superseded: Vec<(String, DateTime<Utc>)>,
}

/// The writes of `events` (empty for appends without a version).
pub fn writes(events: &[Event]) -> VersionWrites {
    let mut out = VersionWrites::default();
    for e in events {
        let EventKind::Versioned { record } = &e.kind else {
            continue;
        };
        out.body_json = Some(record.declaration.to_string());
        if let Some(r) = &record.reassessment {
            out.notices.extend(
                r.notices
                    .iter()
                    .map(|n| (n.notice.clone(), n.issued_at.unwrap_or(e.at))),
            );
            out.superseded
                .extend(r.superseded.iter().map(|n| (n.clone(), e.at)));
        }
    }
    out
}
