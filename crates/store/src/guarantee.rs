//! Storage of the guarantee ledger 担保台账 (docs/TAX.md "Guarantees"): bank guarantees 保函 and
//! general guarantees 总担保 registered by the issuing bank, and the reservations that release
//! against a guarantee and transits draw on them. The rules are `tax::guarantee`'s
//! ([`GuaranteeLedger::decide`]); this module holds what both backends share: the stored
//! shapes, the trait [`GuaranteeStore`] (a backend that has it answers
//! [`crate::Store::guarantee_store`]), and the pure plans of what a declaration step or a
//! transit step does to the ledger.
//!
//! - **One write path, one transaction.** Every change is decided on the guarantee as it
//!   stands inside the writer's transaction (SQLite: the one writer; PostgreSQL: the one writer
//!   under a row lock of the guarantee), so that however many reservations race, the balance
//!   never goes below zero. Each write has its audit record in the same transaction.
//! - **With the step.** A declaration released against a guarantee reserves its unpaid notices
//!   in the release's own transaction ([`declaration_draw`], run by the backends' common
//!   event-writing path whatever use case wrote the step); the append that records its last
//!   `NoticePaid` releases the reservation in the same transaction, whoever paid. A declared
//!   transit with a guarantee reserves it; its clearance or cancellation releases it
//!   ([`transit_draw`]). A refusal fails the whole write: nothing is written.
//! - **Claims.** [`GuaranteeStore::claim_guarantee`] enforces an open reservation whose due
//!   date passed against the bank, with the outbox message in the same transaction; a
//!   reservation is claimed once (a second claim is refused `NoReservation`).

use cargo_control::{TransitEvent, TransitEventKind, TransitState, TransitStatus};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clearance::{Actor, DeclarationState, Event, EventKind};
use domain::codes::Uscc;
use domain::money::Fen;
use domain::time::china_date;
use serde::Serialize;
use tax::guarantee::{
    GuaranteeCommand, GuaranteeEvent, GuaranteeLedger, GuaranteeTerms, Purpose, Reservation,
};

use crate::outbox::OutboxMessage;
use crate::writer::Request;
use crate::{DeclarationId, StoreError};

/// At most this many guarantees in one listing.
pub const GUARANTEES_MAX: u32 = 10_000;
/// At most this many reservations read for one sweep.
pub const DUE_READ_MAX: u32 = 10_000;
/// A payment notice is due this many days after it is issued (Customs Law art. 60; the
/// holiday rule of the payments work moves the last day, see docs/TAX.md).
pub const NOTICE_DUE_DAYS: i64 = 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReservationState {
    Open,
    Released,
    Claimed,
}

impl ReservationState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationState::Open => "open",
            ReservationState::Released => "released",
            ReservationState::Claimed => "claimed",
        }
    }
    pub fn parse(s: &str) -> Option<ReservationState> {
        match s {
            "open" => Some(ReservationState::Open),
            "released" => Some(ReservationState::Released),
            "claimed" => Some(ReservationState::Claimed),
            _ => None,
        }
    }
}

/// One reservation as stored, with what drew it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredReservation {
    pub guarantee_id: String,
    /// The declaration number or the transit number.
    pub reference: String,
    pub declaration_id: Option<DeclarationId>,
    pub transit_no: Option<String>,
    #[serde(flatten)]
    pub reservation: Reservation,
    pub state: ReservationState,
    pub reserved_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
}

/// A guarantee with its reservations and balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredGuarantee {
    pub terms: GuaranteeTerms,
    pub registered_at: DateTime<Utc>,
    pub reserved_fen: Fen,
    pub claimed_fen: Fen,
    /// `amount − open reservations − claims`, never below zero.
    pub balance_fen: Fen,
    /// Every reservation, oldest first.
    pub reservations: Vec<StoredReservation>,
}

impl StoredGuarantee {
    /// Assemble from the rows; the totals come from the pure ledger.
    pub fn new(
        terms: GuaranteeTerms,
        registered_at: DateTime<Utc>,
        reservations: Vec<StoredReservation>,
    ) -> StoredGuarantee {
        let ledger = ledger_of(&terms, &reservations);
        let g = ledger
            .get(&terms.id)
            .expect("the ledger of a guarantee holds it");
        let (reserved_fen, claimed_fen, balance_fen) =
            (g.reserved_fen(), g.claimed_fen, g.balance_fen());
        StoredGuarantee {
            terms,
            registered_at,
            reserved_fen,
            claimed_fen,
            balance_fen,
            reservations,
        }
    }

    pub fn ledger(&self) -> GuaranteeLedger {
        ledger_of(&self.terms, &self.reservations)
    }
}

fn ledger_of(terms: &GuaranteeTerms, reservations: &[StoredReservation]) -> GuaranteeLedger {
    GuaranteeLedger::of_one(
        terms,
        reservations
            .iter()
            .filter(|r| r.state != ReservationState::Released)
            .map(|r| {
                (
                    r.reference.as_str(),
                    &r.reservation,
                    r.state == ReservationState::Claimed,
                )
            }),
    )
}

/// Decide a command on the guarantee as stored (`None`: not registered).
pub fn decide(
    stored: Option<&StoredGuarantee>,
    command: &GuaranteeCommand,
) -> Result<GuaranteeEvent, StoreError> {
    let ledger = match stored {
        Some(g) => g.ledger(),
        None => GuaranteeLedger::default(),
    };
    ledger.decide(command).map_err(StoreError::Guarantee)
}

/// A claim to write: the reservation, the day it is enforced on, and the message to the bank
/// and the tax agency (built by the exchange desk).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimWrite {
    pub guarantee_id: String,
    pub reference: String,
    pub on: NaiveDate,
    pub outbox: Vec<OutboxMessage>,
}

/// A registration: the acting bank user and the terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisterWrite {
    pub by_bank: String,
    pub terms: GuaranteeTerms,
}

pub trait GuaranteeStore: crate::writer::Queued + Send + Sync {
    /// Register a guarantee issued by the bank user `by_bank` (refused as
    /// [`GuaranteeRefusal`]: not the issuing bank, bad terms, number in use).
    fn register_guarantee(
        &self,
        write: RegisterWrite,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<StoredGuarantee, StoreError> {
        self.queue()
            .call(|r| Request::RegisterGuarantee((write, actor.clone(), now), r))
    }

    fn guarantee(&self, id: &str) -> Result<Option<StoredGuarantee>, StoreError>;

    /// The guarantees a bank issued, by id (at most [`GUARANTEES_MAX`]).
    fn guarantees_of_bank(&self, bank: &str) -> Result<Vec<StoredGuarantee>, StoreError>;

    /// The guarantees securing an enterprise, by id (at most [`GUARANTEES_MAX`]).
    fn guarantees_of_holder(&self, holder: &Uscc) -> Result<Vec<StoredGuarantee>, StoreError>;

    /// Open reservations due before `on` (their due date passed), oldest due first, at most
    /// [`DUE_READ_MAX`].
    fn reservations_due(&self, on: NaiveDate) -> Result<Vec<StoredReservation>, StoreError>;

    /// Every reservation a declaration drew.
    fn reservations_of_declaration(
        &self,
        id: DeclarationId,
    ) -> Result<Vec<StoredReservation>, StoreError>;

    /// Enforce an open reservation against the bank, with its outbox messages, in one
    /// transaction; answers the amount claimed. Refused `NoReservation` when it is no longer
    /// open (claimed before, or released), `NotYetDue` before its due date passed.
    fn claim_guarantee(
        &self,
        claim: ClaimWrite,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Fen, StoreError> {
        crate::outbox::check_messages(&claim.outbox)?;
        self.queue()
            .call(|r| Request::ClaimGuarantee((claim, actor.clone(), now), r))
    }
}

/// What a step does to the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Draw {
    /// Reserve: the command once the due date is known (`due_on` is filled by the backend for
    /// a declaration: from the day its unpaid notices were issued, [`due_on`]).
    Reserve(GuaranteeCommand),
    Release {
        id: String,
        reference: String,
    },
    /// Enforce the reservation against the bank: the step records the notices it secured
    /// paid by the guarantee (a `NoticePaid` whose payment names the claim).
    Claim {
        id: String,
        reference: String,
        on: NaiveDate,
    },
}

/// The due date of notices issued on `issued_on`.
pub fn due_on(issued_on: NaiveDate) -> NaiveDate {
    issued_on + Duration::days(NOTICE_DUE_DAYS)
}

/// What appending `events` (which led to `after`) does to the guarantee ledger: a release
/// against a guarantee reserves the unpaid notices (`issued_on`: the day the first unpaid
/// notice was issued, asked of the backend only then); a payment that leaves nothing unpaid
/// on a declaration released against a guarantee releases its reservation. `None` for every
/// other append, without a look at the database.
pub fn declaration_draw(
    after: &DeclarationState,
    events: &[Event],
    issued_on: impl FnOnce() -> Result<Option<NaiveDate>, StoreError>,
) -> Result<Option<Draw>, StoreError> {
    // Only a declaration released against a guarantee (the release sets `guarantee_no`) has
    // anything to do: every other append returns here.
    let (Some(_), Some(no)) = (&after.guarantee_no, after.declaration_no) else {
        return Ok(None);
    };
    for e in events {
        if let EventKind::ReleasedAgainstGuarantee { guarantee_no } = &e.kind {
            let reference = no.to_string();
            let header = after
                .header
                .as_ref()
                .ok_or_else(|| StoreError::Corrupt("declaration without header".into()))?;
            let on = china_date(e.at);
            let issued = issued_on()?.unwrap_or(on);
            return Ok(Some(Draw::Reserve(GuaranteeCommand::Reserve {
                id: guarantee_no.clone(),
                reference,
                holder: header.declarant,
                office: header.declaration_office,
                purpose: Purpose::Release,
                amount_fen: after.outstanding_fen(),
                on,
                due_on: due_on(issued),
            })));
        }
    }
    // A payment by the guarantee's enforcement: the claim in the same transaction (refused,
    // and nothing written, unless the reservation is open and due).
    let claim = events.iter().find_map(|e| match &e.kind {
        EventKind::NoticePaid {
            payment: Some(p), ..
        } => p.guarantee_claim.as_ref().map(|g| (g, p.paid_on)),
        _ => None,
    });
    if let Some((g, on)) = claim {
        if after.guarantee_no.as_ref() != Some(g) || after.outstanding_fen() != Fen::ZERO {
            return Err(StoreError::Invalid(format!(
                "a guarantee claim must settle every notice secured by guarantee {g}"
            )));
        }
        return Ok(Some(Draw::Claim {
            id: g.clone(),
            reference: no.to_string(),
            on,
        }));
    }
    // A payment, or a version that superseded what was owed (review gap 3), leaving nothing
    // owed releases the reservation.
    let settles = events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::NoticePaid { .. } | EventKind::Versioned { .. }
        )
    });
    match &after.guarantee_no {
        Some(id) if settles && after.outstanding_fen() == Fen::ZERO => Ok(Some(Draw::Release {
            id: id.clone(),
            reference: no.to_string(),
        })),
        _ => Ok(None),
    }
}

/// What a transit step does to the ledger: declaring a transit with a guarantee reserves its
/// amount at the office of entry; its clearance at destination or its cancellation releases
/// it. `before`: the status on record. Due [`NOTICE_DUE_DAYS`] after the day of its deadline
/// (the time limit counted from the declaration): goods neither cleared nor sent back by then
/// owe their duties, as a notice issued that day would.
pub fn transit_draw(
    before: Option<TransitStatus>,
    after: &TransitState,
    events: &[TransitEvent],
) -> Option<Draw> {
    let decl = after.declaration.as_ref()?;
    let g = decl.guarantee.as_ref()?;
    let reference = decl.transit_no.to_string();
    if let Some(e) = events
        .iter()
        .find(|e| matches!(e.kind, TransitEventKind::Declared { .. }))
    {
        return Some(Draw::Reserve(GuaranteeCommand::Reserve {
            id: g.guarantee_no.clone(),
            reference,
            holder: decl.declarant,
            office: decl.entry_office,
            purpose: Purpose::Transit,
            amount_fen: g.amount_fen,
            on: china_date(e.at),
            due_on: due_on(china_date(e.at + Duration::hours(decl.time_limit_hours))),
        }));
    }
    let ended = matches!(
        after.status,
        TransitStatus::Cleared | TransitStatus::Cancelled
    );
    (ended && before != Some(after.status)).then(|| Draw::Release {
        id: g.guarantee_no.clone(),
        reference,
    })
}

/// The subject of a guarantee's audit records.
pub fn subject(id: &str) -> String {
    format!("guarantee:{id}")
}

/// The audit action and detail of a ledger event.
pub fn audit_of(event: &GuaranteeEvent) -> (&'static str, String) {
    let action = match event {
        GuaranteeEvent::Registered { .. } => "guarantee.register",
        GuaranteeEvent::Reserved { .. } => "guarantee.reserve",
        GuaranteeEvent::Released { .. } => "guarantee.release",
        GuaranteeEvent::Claimed { .. } => "guarantee.claim",
    };
    (
        action,
        serde_json::to_string(event).expect("guarantee events serialize"),
    )
}
