//! The guarantee ledger's writes in the writer's transaction (store::guarantee), as on SQLite:
//! each decided on the guarantee read under `FOR UPDATE`, written with its audit record in the
//! request's savepoint.

use chrono::{DateTime, NaiveDate, Utc};
use clearance::{Actor, DeclarationState};
use domain::money::Fen;
use store::audit::ChainHead;
use store::guarantee::*;
use store::{DeclarationId, StoreError};
use tax::guarantee::{GuaranteeCommand, GuaranteeEvent, GuaranteeRefusal};

use super::Tx;
use crate::guarantee::{read_guarantee, RESERVATION_COLUMNS};
use crate::{backend, corrupt, ms};

impl Tx<'_> {
    /// The guarantee, locked for the rest of the transaction.
    async fn lock_guarantee(&self, id: &str) -> Result<Option<StoredGuarantee>, StoreError> {
        let Some(row) = self
            .c
            .query_opt(
                "SELECT terms, registered_at FROM guarantees WHERE id = $1 FOR UPDATE",
                &[&id],
            )
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        let rs = self
            .c
            .query(
                &format!("SELECT {RESERVATION_COLUMNS} FROM guarantee_reservations WHERE guarantee_id = $1 ORDER BY reserved_at, reference"),
                &[&id],
            )
            .await
            .map_err(backend)?;
        read_guarantee(row.get(0), row.get(1), &rs).map(Some)
    }

    async fn write_guarantee_event(
        &self,
        head: &mut ChainHead,
        event: &GuaranteeEvent,
        declaration_id: Option<DeclarationId>,
        transit_no: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let id = match event {
            GuaranteeEvent::Registered { terms } => {
                let inserted = self
                    .c
                    .execute(
                        "INSERT INTO guarantees (id, bank, holder, terms, registered_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                        &[
                            &terms.id,
                            &terms.bank,
                            &terms.holder.to_string(),
                            &serde_json::to_string(terms).map_err(corrupt)?,
                            &ms(now),
                        ],
                    )
                    .await
                    .map_err(backend)?;
                if inserted == 0 {
                    return Err(StoreError::Guarantee(GuaranteeRefusal::AlreadyRegistered {
                        id: terms.id.clone(),
                    }));
                }
                &terms.id
            }
            GuaranteeEvent::Reserved {
                id,
                reference,
                reservation,
            } => {
                let inserted = self
                    .c
                    .execute(
                        "INSERT INTO guarantee_reservations (guarantee_id, reference, declaration_id, transit_no, reservation, due_on, state, reserved_at) VALUES ($1, $2, $3, $4, $5, $6, 'open', $7) ON CONFLICT DO NOTHING",
                        &[
                            id,
                            reference,
                            &declaration_id.map(|d| d.0),
                            &transit_no,
                            &serde_json::to_string(reservation).map_err(corrupt)?,
                            &reservation.due_on,
                            &ms(now),
                        ],
                    )
                    .await
                    .map_err(backend)?;
                if inserted == 0 {
                    return Err(StoreError::Duplicate(format!(
                        "reservation {reference} on guarantee {id}"
                    )));
                }
                id
            }
            GuaranteeEvent::Released { id, reference, .. }
            | GuaranteeEvent::Claimed { id, reference, .. } => {
                let state = match event {
                    GuaranteeEvent::Released { .. } => ReservationState::Released,
                    _ => ReservationState::Claimed,
                };
                let n = self
                    .c
                    .execute(
                        "UPDATE guarantee_reservations SET state = $3, settled_at = $4 WHERE guarantee_id = $1 AND reference = $2 AND state = 'open'",
                        &[id, reference, &state.as_str(), &ms(now)],
                    )
                    .await
                    .map_err(backend)?;
                if n != 1 {
                    return Err(corrupt(format!(
                        "reservation {reference} on guarantee {id} is not open"
                    )));
                }
                id
            }
        };
        let (action, detail) = audit_of(event);
        self.audit(head, now, actor, action, &subject(id), detail)
            .await
    }

    /// Decide a reservation or release on the locked guarantee and write it; a release of a
    /// reservation no longer open (claimed meanwhile) writes nothing.
    #[allow(clippy::too_many_arguments)]
    async fn run_draw(
        &self,
        head: &mut ChainHead,
        draw: Draw,
        declaration_id: Option<DeclarationId>,
        transit_no: Option<&str>,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let command = match draw {
            Draw::Reserve(cmd) => cmd,
            Draw::Release { id, reference } => GuaranteeCommand::Release { id, reference },
            Draw::Claim { id, reference, on } => GuaranteeCommand::Claim { id, reference, on },
        };
        let id = match &command {
            GuaranteeCommand::Reserve { id, .. }
            | GuaranteeCommand::Release { id, .. }
            | GuaranteeCommand::Claim { id, .. } => id.clone(),
            _ => unreachable!("a draw reserves, releases or claims"),
        };
        let stored = self.lock_guarantee(&id).await?;
        let event = match decide(stored.as_ref(), &command) {
            Ok(e) => e,
            Err(StoreError::Guarantee(GuaranteeRefusal::NoReservation { .. }))
                if matches!(command, GuaranteeCommand::Release { .. }) =>
            {
                return Ok(())
            }
            Err(e) => return Err(e),
        };
        self.write_guarantee_event(head, &event, declaration_id, transit_no, actor, now)
            .await
    }

    /// The guarantee part of a declaration's append (the common event-writing path).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn settle_guarantee(
        &self,
        head: &mut ChainHead,
        id: DeclarationId,
        after: &DeclarationState,
        events: &[clearance::Event],
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Only a release against a guarantee asks when its notices were issued.
        let needs_issued = events.iter().any(|e| {
            matches!(
                e.kind,
                clearance::EventKind::ReleasedAgainstGuarantee { .. }
            )
        });
        let issued: Option<NaiveDate> = if needs_issued {
            let first: Option<DateTime<Utc>> = self
                .c
                .query_one(
                    "SELECT min(issued_at) FROM payment_notices WHERE declaration_id = $1 AND paid_at IS NULL",
                    &[&id.0],
                )
                .await
                .map_err(backend)?
                .get(0);
            first.map(domain::time::china_date)
        } else {
            None
        };
        if let Some(draw) = declaration_draw(after, events, || Ok(issued))? {
            self.run_draw(head, draw, Some(id), None, actor, now)
                .await?;
        }
        Ok(())
    }

    /// The guarantee part of a transit's write.
    pub(super) async fn settle_transit_guarantee(
        &self,
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
        self.run_draw(head, draw, None, no.as_deref(), &actor, now)
            .await
    }

    pub(super) async fn register_guarantee(
        &self,
        head: &mut ChainHead,
        (write, actor, now): &(RegisterWrite, Actor, DateTime<Utc>),
    ) -> Result<StoredGuarantee, StoreError> {
        let command = GuaranteeCommand::Register {
            by_bank: write.by_bank.clone(),
            terms: write.terms.clone(),
        };
        let event = decide(
            self.lock_guarantee(&write.terms.id).await?.as_ref(),
            &command,
        )?;
        self.write_guarantee_event(head, &event, None, None, &actor.label(), *now)
            .await?;
        self.lock_guarantee(&write.terms.id)
            .await?
            .ok_or_else(|| corrupt("registered guarantee not found"))
    }

    pub(super) async fn claim_guarantee(
        &self,
        head: &mut ChainHead,
        (claim, actor, now): &(ClaimWrite, Actor, DateTime<Utc>),
    ) -> Result<Fen, StoreError> {
        let command = GuaranteeCommand::Claim {
            id: claim.guarantee_id.clone(),
            reference: claim.reference.clone(),
            on: claim.on,
        };
        let event = decide(
            self.lock_guarantee(&claim.guarantee_id).await?.as_ref(),
            &command,
        )?;
        self.write_guarantee_event(head, &event, None, None, &actor.label(), *now)
            .await?;
        self.insert_outbox_rows(&claim.outbox).await?;
        match event {
            GuaranteeEvent::Claimed { amount_fen, .. } => Ok(amount_fen),
            _ => Err(corrupt("a claim decided something else")),
        }
    }
}
