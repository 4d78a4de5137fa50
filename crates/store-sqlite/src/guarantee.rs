//! [`GuaranteeStore`] on SQLite (store::guarantee): a row per guarantee (its terms as JSON) and
//! a row per reservation with its state. Every change is decided on the guarantee as read by
//! the one writer inside its transaction, so racing reservations are serialized and the balance
//! never goes below zero; each has its audit record in the same savepoint.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};
use tax::guarantee::{GuaranteeCommand, GuaranteeEvent, GuaranteeTerms, Reservation};

use super::*;
use store::guarantee::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE guarantees (
        id               TEXT PRIMARY KEY,
        bank             TEXT NOT NULL,
        holder           TEXT NOT NULL,
        terms            TEXT NOT NULL,
        registered_at_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX guarantees_bank ON guarantees (bank, id);
    CREATE INDEX guarantees_holder ON guarantees (holder, id);

    CREATE TABLE guarantee_reservations (
        guarantee_id   TEXT NOT NULL REFERENCES guarantees (id),
        reference      TEXT NOT NULL,
        declaration_id INTEGER REFERENCES declarations (id),
        transit_no     TEXT,
        reservation    TEXT NOT NULL,
        due_on         TEXT NOT NULL,
        state          TEXT NOT NULL,
        reserved_at_ms INTEGER NOT NULL,
        settled_at_ms  INTEGER,
        PRIMARY KEY (guarantee_id, reference)
    );
    CREATE INDEX guarantee_reservations_due ON guarantee_reservations (state, due_on);
    CREATE INDEX guarantee_reservations_declaration ON guarantee_reservations (declaration_id)
        WHERE declaration_id IS NOT NULL;
"#;

const RESERVATION_COLUMNS: &str = "guarantee_id, reference, declaration_id, transit_no, reservation, state, reserved_at_ms, settled_at_ms";

fn read_reservation(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawReservation> {
    Ok(RawReservation {
        guarantee_id: r.get(0)?,
        reference: r.get(1)?,
        declaration_id: r.get(2)?,
        transit_no: r.get(3)?,
        reservation: r.get(4)?,
        state: r.get(5)?,
        reserved_at_ms: r.get(6)?,
        settled_at_ms: r.get(7)?,
    })
}

struct RawReservation {
    guarantee_id: String,
    reference: String,
    declaration_id: Option<i64>,
    transit_no: Option<String>,
    reservation: String,
    state: String,
    reserved_at_ms: i64,
    settled_at_ms: Option<i64>,
}

impl RawReservation {
    fn typed(self) -> Result<StoredReservation, StoreError> {
        let reservation: Reservation = serde_json::from_str(&self.reservation)
            .map_err(|e| corrupt(format!("reservation {}: {e}", self.reference)))?;
        Ok(StoredReservation {
            guarantee_id: self.guarantee_id,
            reference: self.reference,
            declaration_id: self.declaration_id.map(DeclarationId),
            transit_no: self.transit_no,
            reservation,
            state: ReservationState::parse(&self.state)
                .ok_or_else(|| corrupt(format!("reservation state {}", self.state)))?,
            reserved_at: from_ms(self.reserved_at_ms)?,
            settled_at: self.settled_at_ms.map(from_ms).transpose()?,
        })
    }
}

fn reservations(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredReservation>, StoreError> {
    let raw: Vec<RawReservation> = c
        .prepare_cached(sql)
        .map_err(backend)?
        .query_map(params, read_reservation)
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    raw.into_iter().map(RawReservation::typed).collect()
}

/// One guarantee with every reservation, read on `c` (the writer's connection inside its
/// transaction, or a reader).
fn load(c: &Connection, id: &str) -> Result<Option<StoredGuarantee>, StoreError> {
    let row: Option<(String, i64)> = c
        .prepare_cached("SELECT terms, registered_at_ms FROM guarantees WHERE id = ?1")
        .map_err(backend)?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)?;
    let Some((terms, at)) = row else {
        return Ok(None);
    };
    let terms: GuaranteeTerms =
        serde_json::from_str(&terms).map_err(|e| corrupt(format!("guarantee {id}: {e}")))?;
    let rs = reservations(
        c,
        &format!("SELECT {RESERVATION_COLUMNS} FROM guarantee_reservations WHERE guarantee_id = ?1 ORDER BY reserved_at_ms, reference"),
        [id],
    )?;
    Ok(Some(StoredGuarantee::new(terms, from_ms(at)?, rs)))
}

fn list(c: &Connection, sql: &str, key: String) -> Result<Vec<StoredGuarantee>, StoreError> {
    let ids: Vec<String> = c
        .prepare_cached(sql)
        .map_err(backend)?
        .query_map([key], |r| r.get(0))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    ids.iter()
        .map(|id| load(c, id)?.ok_or_else(|| corrupt(format!("guarantee {id} vanished"))))
        .collect()
}

/// Write what the ledger decided, with its audit record.
#[allow(clippy::too_many_arguments)]
fn write_event(
    c: &Connection,
    head: &mut ChainHead,
    event: &GuaranteeEvent,
    declaration_id: Option<DeclarationId>,
    transit_no: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    match event {
        GuaranteeEvent::Registered { terms } => {
            c.prepare_cached("INSERT INTO guarantees (id, bank, holder, terms, registered_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(backend)?
                .execute(params![
                    terms.id,
                    terms.bank,
                    terms.holder.to_string(),
                    serde_json::to_string(terms).map_err(corrupt)?,
                    to_ms(now)
                ])
                .map_err(backend)?;
        }
        GuaranteeEvent::Reserved {
            id,
            reference,
            reservation,
        } => {
            c.prepare_cached("INSERT INTO guarantee_reservations (guarantee_id, reference, declaration_id, transit_no, reservation, due_on, state, reserved_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', ?7)")
                .map_err(backend)?
                .execute(params![
                    id,
                    reference,
                    declaration_id.map(|d| d.0),
                    transit_no,
                    serde_json::to_string(reservation).map_err(corrupt)?,
                    reservation.due_on.to_string(),
                    to_ms(now)
                ])
                .map_err(|e| match e {
                    rusqlite::Error::SqliteFailure(f, _)
                        if f.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        StoreError::Duplicate(format!("reservation {reference} on guarantee {id}"))
                    }
                    other => backend(other),
                })?;
        }
        GuaranteeEvent::Released { id, reference, .. }
        | GuaranteeEvent::Claimed { id, reference, .. } => {
            let state = match event {
                GuaranteeEvent::Released { .. } => ReservationState::Released,
                _ => ReservationState::Claimed,
            };
            let n = c
                .prepare_cached("UPDATE guarantee_reservations SET state = ?3, settled_at_ms = ?4 WHERE guarantee_id = ?1 AND reference = ?2 AND state = 'open'")
                .map_err(backend)?
                .execute(params![id, reference, state.as_str(), to_ms(now)])
                .map_err(backend)?;
            if n != 1 {
                return Err(corrupt(format!(
                    "reservation {reference} on guarantee {id} is not open"
                )));
            }
        }
    }
    let id = match event {
        GuaranteeEvent::Registered { terms } => &terms.id,
        GuaranteeEvent::Reserved { id, .. }
        | GuaranteeEvent::Released { id, .. }
        | GuaranteeEvent::Claimed { id, .. } => id,
    };
    let (action, detail) = audit_of(event);
    audit(c, head, now, actor, action, &subject(id), detail)
}

/// Decide a reservation or release on the guarantee as it stands and write it. A release of
/// a reservation that is no longer open (claimed meanwhile) writes nothing.
fn run_draw(
    c: &Connection,
    head: &mut ChainHead,
    draw: Draw,
    declaration_id: Option<DeclarationId>,
    transit_no: Option<&str>,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let (id, command) = match draw {
        Draw::Reserve(cmd) => match &cmd {
            GuaranteeCommand::Reserve { id, .. } => (id.clone(), cmd),
            _ => unreachable!("a reserve draw holds a Reserve command"),
        },
        Draw::Release { id, reference } => {
            let cmd = GuaranteeCommand::Release {
                id: id.clone(),
                reference,
            };
            (id, cmd)
        }
        Draw::Claim { id, reference, on } => {
            let cmd = GuaranteeCommand::Claim {
                id: id.clone(),
                reference,
                on,
            };
            (id, cmd)
        }
    };
    let stored = load(c, &id)?;
    let event =
        match decide(stored.as_ref(), &command) {
            Ok(e) => e,
            Err(StoreError::Guarantee(tax::guarantee::GuaranteeRefusal::NoReservation {
                ..
            })) if matches!(command, GuaranteeCommand::Release { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
    write_event(c, head, &event, declaration_id, transit_no, actor, now)
}

/// The guarantee part of a declaration's append (called by `write_events`, the common path of
/// every step): nothing unless the step releases against a guarantee or pays a declaration
/// released against one.
pub(super) fn settle_declaration(
    c: &Connection,
    head: &mut ChainHead,
    id: DeclarationId,
    after: &DeclarationState,
    events: &[clearance::Event],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let issued_on = || -> Result<Option<NaiveDate>, StoreError> {
        let first: Option<i64> = c
            .prepare_cached("SELECT MIN(issued_at_ms) FROM payment_notices WHERE declaration_id = ?1 AND paid_at_ms IS NULL")
            .map_err(backend)?
            .query_row([id.0], |r| r.get(0))
            .map_err(backend)?;
        Ok(first
            .map(from_ms)
            .transpose()?
            .map(domain::time::china_date))
    };
    match declaration_draw(after, events, issued_on)? {
        Some(draw) => run_draw(c, head, draw, Some(id), None, actor, now),
        None => Ok(()),
    }
}

/// The guarantee part of a transit's write.
pub(super) fn settle_transit(
    c: &Connection,
    head: &mut ChainHead,
    before: Option<cargo_control::TransitStatus>,
    after: &cargo_control::TransitState,
    events: &[cargo_control::TransitEvent],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(draw) = transit_draw(before, after, events) else {
        return Ok(());
    };
    let actor = events.last().map(|e| e.actor.label()).unwrap_or_default();
    let no = after.declaration.as_ref().map(|d| d.transit_no.to_string());
    run_draw(c, head, draw, None, no.as_deref(), &actor, now)
}

pub(super) fn register(
    c: &Connection,
    head: &mut ChainHead,
    (write, actor, now): &(RegisterWrite, Actor, DateTime<Utc>),
) -> Result<StoredGuarantee, StoreError> {
    let command = GuaranteeCommand::Register {
        by_bank: write.by_bank.clone(),
        terms: write.terms.clone(),
    };
    let event = decide(load(c, &write.terms.id)?.as_ref(), &command)?;
    write_event(c, head, &event, None, None, &actor.label(), *now)?;
    load(c, &write.terms.id)?.ok_or_else(|| corrupt("registered guarantee not found"))
}

pub(super) fn claim(
    c: &Connection,
    head: &mut ChainHead,
    (claim, actor, now): &(ClaimWrite, Actor, DateTime<Utc>),
) -> Result<Fen, StoreError> {
    let command = GuaranteeCommand::Claim {
        id: claim.guarantee_id.clone(),
        reference: claim.reference.clone(),
        on: claim.on,
    };
    let event = decide(load(c, &claim.guarantee_id)?.as_ref(), &command)?;
    write_event(c, head, &event, None, None, &actor.label(), *now)?;
    super::outbox::insert_rows(c, &claim.outbox)?;
    match event {
        GuaranteeEvent::Claimed { amount_fen, .. } => Ok(amount_fen),
        _ => Err(corrupt("a claim decided something else")),
    }
}

impl GuaranteeStore for SqliteStore {
    fn guarantee(&self, id: &str) -> Result<Option<StoredGuarantee>, StoreError> {
        self.read(|c| load(c, id))
    }

    fn guarantees_of_bank(&self, bank: &str) -> Result<Vec<StoredGuarantee>, StoreError> {
        self.read(|c| {
            list(
                c,
                &format!(
                    "SELECT id FROM guarantees WHERE bank = ?1 ORDER BY id LIMIT {GUARANTEES_MAX}"
                ),
                bank.to_owned(),
            )
        })
    }

    fn guarantees_of_holder(&self, holder: &Uscc) -> Result<Vec<StoredGuarantee>, StoreError> {
        self.read(|c| {
            list(
                c,
                &format!("SELECT id FROM guarantees WHERE holder = ?1 ORDER BY id LIMIT {GUARANTEES_MAX}"),
                holder.to_string(),
            )
        })
    }

    fn reservations_due(&self, on: NaiveDate) -> Result<Vec<StoredReservation>, StoreError> {
        self.read(|c| {
            reservations(
                c,
                &format!("SELECT {RESERVATION_COLUMNS} FROM guarantee_reservations WHERE state = 'open' AND due_on < ?1 ORDER BY due_on, guarantee_id, reference LIMIT {DUE_READ_MAX}"),
                [on.to_string()],
            )
        })
    }

    fn reservations_of_declaration(
        &self,
        id: DeclarationId,
    ) -> Result<Vec<StoredReservation>, StoreError> {
        self.read(|c| {
            reservations(
                c,
                &format!("SELECT {RESERVATION_COLUMNS} FROM guarantee_reservations WHERE declaration_id = ?1 ORDER BY reserved_at_ms, guarantee_id"),
                [id.0],
            )
        })
    }
}
