//! The rules every backend applies inside its write transaction, as pure functions (like
//! [`crate::review`]): a backend reads the rows, asks a plan what to write, and runs the SQL.
//! None of them does IO or reads the clock, so both backends cannot drift apart, and each rule
//! is tested once here.
//!
//! - Optimistic concurrency: [`check_version`].
//! - Idempotency of filing: [`replay`].
//! - Numbering: [`serial`], [`pre_entry_no`], [`declaration_no`], and the submission's and the
//!   acceptance's events ([`submission`], [`accept_key`], [`acceptance`]).
//! - Appending events to a declaration, with the terminal-state guard: [`events`].
//! - Folding a transit's events: [`transit`].
//! - Settling the E-Port licence uses with the step that ends a declaration: [`settlement`],
//!   [`settle_use`].

use chrono::{DateTime, Utc};
use clearance::{apply, decide, Action, Command, DeclarationState, Event, Status};
use domain::codes::{DeclarationNo, Direction, EntryNumber, OfficeCode, PreEntryNo};
use rust_decimal::Decimal;

use crate::cargo::{StoredTransit, TransitWrite};
use crate::eport::UseState;
use crate::*;

/// `Conflict` unless the row is still at the version the write was decided on.
pub fn check_version(expected: u64, actual: u64) -> Result<(), StoreError> {
    if expected != actual {
        return Err(StoreError::Conflict { expected, actual });
    }
    Ok(())
}

/// A filing already on record under the same idempotency key `(declarant, client_seq_no)`.
pub struct OnRecord<'a> {
    pub id: DeclarationId,
    pub pre_entry_no: PreEntryNo,
    pub version: u64,
    pub body_json: &'a str,
}

/// A retry returns the first result and writes nothing; the same key with another body is
/// refused.
pub fn replay(req: &SubmitRequest, first: OnRecord<'_>) -> Result<Submitted, StoreError> {
    if first.body_json != req.body_json {
        return Err(StoreError::IdempotencyMismatch {
            client_seq_no: req.client_seq_no.clone(),
            pre_entry_no: first.pre_entry_no,
        });
    }
    Ok(Submitted {
        id: first.id,
        pre_entry_no: first.pre_entry_no,
        version: first.version,
        replayed: true,
    })
}

/// The serial a counter gave (`last`, after taking it), if it is still a valid one.
pub fn serial(
    kind: &str,
    office: OfficeCode,
    year: u16,
    direction: Direction,
    last: i64,
) -> Result<u32, StoreError> {
    u32::try_from(last)
        .ok()
        .filter(|s| *s <= EntryNumber::SERIAL_MAX)
        .ok_or_else(|| StoreError::SerialExhausted(format!("{kind} {office} {year} {direction}")))
}

pub fn pre_entry_no(
    office: OfficeCode,
    year: u16,
    direction: Direction,
    serial: u32,
) -> Result<PreEntryNo, StoreError> {
    PreEntryNo::new(office, year, direction, serial).ok_or_else(|| {
        StoreError::SerialExhausted(format!("pre-entry {office} {year} {direction}"))
    })
}

pub fn declaration_no(
    office: OfficeCode,
    year: u16,
    direction: Direction,
    serial: u32,
) -> Result<DeclarationNo, StoreError> {
    DeclarationNo::new(office, year, direction, serial).ok_or_else(|| {
        StoreError::SerialExhausted(format!("declaration {office} {year} {direction}"))
    })
}

/// The submission's events, once its pre-entry number is taken.
pub fn submission(req: &SubmitRequest, pre_entry_no: PreEntryNo) -> Result<Vec<Event>, StoreError> {
    let cmd = Command {
        actor: req.actor.clone(),
        action: Action::Submit {
            pre_entry_no,
            client_seq_no: req.client_seq_no.clone(),
            declarant: req.declarant,
            direction: req.direction,
            declaration_office: req.declaration_office,
            entry_exit_office: req.entry_exit_office,
        },
    };
    decide(&DeclarationState::default(), &cmd, req.now).map_err(StoreError::Refused)
}

/// An automatic review that accepts the filing takes a declaration number in the filing's
/// transaction; a rejection takes none.
pub fn review_takes_number(review: &AutomaticReview) -> bool {
    match review {
        AutomaticReview::Reject { .. } => false,
        AutomaticReview::Accept { .. } | AutomaticReview::AcceptRisk { .. } => true,
    }
}

/// What a filing writes: one declaration row in its final state, its events (the
/// submission's, then the automatic review's), and its audit records.
pub struct FilingPlan {
    pub events: Vec<Event>,
    /// Each event as stored ([`crate::detail::event_json`]), serialized once for its row and
    /// the review's audit hash.
    pub events_json: Vec<String>,
    /// The state after every event (the row's narrow columns come from it).
    pub state: DeclarationState,
    /// The version after the submission alone; the review's events follow it.
    pub submitted_version: u64,
    /// The version after every event.
    pub version: u64,
    /// The submission's audit detail ([`crate::detail::submit`]).
    pub submit_detail: String,
    /// The automatic review's audit detail ([`crate::detail::events`]), when reviewed.
    pub review_detail: Option<String>,
    /// The risk engine's feedback row of the decision, recorded after the review.
    pub feedback: Option<crate::risk::FeedbackRow>,
}

impl FilingPlan {
    /// The automatic review's events (they issue the payment notices).
    pub fn review_events(&self) -> &[Event] {
        &self.events[self.submitted_version as usize..]
    }
}

/// Plan a filing once its numbers are taken: the pre-entry number, and the declaration number
/// when `review` takes one ([`review_takes_number`]).
pub fn filing(
    req: &SubmitRequest,
    pre_entry_no: PreEntryNo,
    review: Option<&AutomaticReview>,
    declaration_no: Option<DeclarationNo>,
) -> Result<FilingPlan, StoreError> {
    let mut events = submission(req, pre_entry_no)?;
    let mut state = events.iter().fold(DeclarationState::default(), apply);
    let submitted_version = events.len() as u64;
    let mut events_json: Vec<String> = events.iter().map(crate::detail::event_json).collect();
    let submit_detail = crate::detail::submit(
        pre_entry_no,
        &req.client_seq_no,
        &req.body_json,
        submitted_version,
    );
    let (mut review_detail, mut feedback) = (None, None);
    if let Some(review) = review {
        let (review_events, decision) =
            crate::review::review_steps(&mut state, review, declaration_no, req.now)?;
        let version = submitted_version + review_events.len() as u64;
        let review_json: Vec<String> = review_events
            .iter()
            .map(crate::detail::event_json)
            .collect();
        review_detail = Some(crate::detail::events_serialized(
            submitted_version,
            version,
            &review_events,
            &review_json,
        ));
        feedback = decision;
        events.extend(review_events);
        events_json.extend(review_json);
    }
    Ok(FilingPlan {
        version: events.len() as u64,
        events,
        events_json,
        state,
        submitted_version,
        submit_detail,
        review_detail,
        feedback,
    })
}

/// The counter an acceptance numbers from: the declaration's office, customs year and
/// direction. Refused before a serial is taken, so that a refused acceptance leaves no gap.
pub fn accept_key(
    state: &DeclarationState,
    now: DateTime<Utc>,
) -> Result<(OfficeCode, u16, Direction), StoreError> {
    let not_allowed = || {
        StoreError::Refused(clearance::Refusal::NotAllowedInStatus {
            status: state.status,
            action: "accept",
        })
    };
    let header = state.header.as_ref().ok_or_else(not_allowed)?;
    if state.status != Status::Submitted {
        return Err(not_allowed());
    }
    Ok((
        header.declaration_office,
        clearance::customs_year(now),
        header.direction,
    ))
}

/// The acceptance's events, once its number is taken.
pub fn acceptance(
    state: &DeclarationState,
    req: &AcceptRequest,
    declaration_no: DeclarationNo,
) -> Result<Vec<Event>, StoreError> {
    let cmd = Command {
        actor: req.actor.clone(),
        action: Action::Accept { declaration_no },
    };
    decide(state, &cmd, req.now).map_err(StoreError::Refused)
}

/// A manifest write decided on the log at `expected` may go on when the log still ends there,
/// or past it holds only match events (`others`: the other events after `expected`, counted
/// only when the log is past it): a caller reserves its matches in its ledger before writing
/// them, so matches of filings in flight are already counted there (docs/CARGO.md "Wiring").
/// Returns the log's last sequence number.
pub fn manifest_seq(expected: u64, last: u64, others: i64) -> Result<u64, StoreError> {
    if last == expected || (last > expected && others == 0) {
        return Ok(last);
    }
    Err(StoreError::Conflict {
        expected,
        actual: last,
    })
}

/// What appending events to a declaration writes.
pub struct EventsPlan {
    /// The declaration's state after the events (its narrow columns come from it).
    pub state: DeclarationState,
    /// The version after the events.
    pub version: u64,
    /// The audit record's detail ([`crate::detail::events`]).
    pub detail: String,
    /// The new status when the events changed it: the E-Port licence uses settle with it
    /// ([`settlement`]).
    pub status_changed: Option<Status>,
}

/// Apply `events` to a declaration at `version` in `state`. A terminal declaration never
/// changes: the lifecycle refuses first, and this guards the store against events decided
/// elsewhere on a wrong state.
pub fn events(
    id: DeclarationId,
    state: DeclarationState,
    version: u64,
    events: &[Event],
) -> Result<EventsPlan, StoreError> {
    let before = state.status;
    if before.is_terminal() {
        return Err(StoreError::Invalid(format!(
            "declaration {id} is {before} and cannot change"
        )));
    }
    let state = events.iter().fold(state, apply);
    let to_version = version + events.len() as u64;
    Ok(EventsPlan {
        status_changed: (state.status != before).then_some(state.status),
        detail: crate::detail::events(version, to_version, events),
        version: to_version,
        state,
    })
}

/// Fold a transit write onto the transit on record (`None`: a new one): `Conflict` unless it
/// is at the expected version, `Invalid` unless the transit starts with its declaration.
pub fn transit(
    req: &TransitWrite,
    on_record: Option<(u64, cargo_control::TransitState)>,
) -> Result<StoredTransit, StoreError> {
    crate::cargo::check_transit_write(req)?;
    let (version, mut state) = on_record.unwrap_or_default();
    check_version(req.expected_version, version)?;
    for e in &req.events {
        cargo_control::transit::apply(&mut state, e);
    }
    if state.declaration.is_none() {
        return Err(StoreError::Invalid(
            "a transit starts with its declaration".into(),
        ));
    }
    let updated_at = req.events.last().expect("checked non-empty").at;
    Ok(StoredTransit {
        transit_no: req.transit_no,
        version: version + req.events.len() as u64,
        state,
        updated_at,
    })
}

/// What becomes of a declaration's reserved licence uses when it reaches `status`: written off
/// when released or closed, given back when cancelled, withdrawn or rejected; otherwise kept.
pub fn settlement(status: Status) -> Option<UseState> {
    match status {
        Status::Released | Status::Closed => Some(UseState::WrittenOff),
        Status::Cancelled | Status::Withdrawn | Status::Rejected => Some(UseState::Released),
        _ => None,
    }
}

/// A licence's totals after one use settles, and the audit record of it.
pub struct SettledUse {
    pub reserved: Decimal,
    pub written_off: Decimal,
    pub action: &'static str,
    pub detail: String,
}

pub fn settle_use(
    to: UseState,
    standing: &::eport::Standing,
    declaration: DeclarationId,
    quantity: Decimal,
) -> SettledUse {
    let written_off = if to == UseState::WrittenOff {
        standing.written_off + quantity
    } else {
        standing.written_off
    };
    SettledUse {
        reserved: standing.reserved - quantity,
        written_off,
        action: match to {
            UseState::WrittenOff => "eport.write_off",
            _ => "eport.release_reservation",
        },
        detail: crate::detail::licence_use(declaration, quantity),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_conflict_names_both() {
        assert!(check_version(3, 3).is_ok());
        match check_version(3, 4) {
            Err(StoreError::Conflict { expected, actual }) => {
                assert_eq!((expected, actual), (3, 4))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn serials_stay_in_range() {
        let office = OfficeCode::parse("2201").unwrap();
        assert_eq!(
            serial("pre_entry", office, 2026, Direction::Import, 1).unwrap(),
            1
        );
        for bad in [-1, i64::from(EntryNumber::SERIAL_MAX) + 1] {
            assert!(matches!(
                serial("pre_entry", office, 2026, Direction::Import, bad),
                Err(StoreError::SerialExhausted(_))
            ));
        }
    }

    #[test]
    fn manifest_log_admits_only_matches_past_the_expected_end() {
        assert_eq!(manifest_seq(5, 5, 0).unwrap(), 5);
        assert_eq!(manifest_seq(5, 7, 0).unwrap(), 7);
        assert!(manifest_seq(5, 7, 1).is_err());
        assert!(manifest_seq(5, 4, 0).is_err());
    }

    #[test]
    fn terminal_declarations_never_change() {
        let state = DeclarationState {
            status: Status::Closed,
            ..DeclarationState::default()
        };
        assert!(matches!(
            events(DeclarationId(1), state, 5, &[]),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn settlement_by_status() {
        assert_eq!(settlement(Status::Released), Some(UseState::WrittenOff));
        assert_eq!(settlement(Status::Rejected), Some(UseState::Released));
        assert_eq!(settlement(Status::Submitted), None);
    }
}
