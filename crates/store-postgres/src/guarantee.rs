//! [`GuaranteeStore`] on PostgreSQL: the same semantics as the SQLite backend (contract
//! `store_contract::guarantee_contract`). Writes are requests to the one writer
//! (`writer::guarantee`): each decision is taken on the guarantee read under a row lock
//! (`FOR UPDATE`) inside the writer's transaction, so racing reservations never take the
//! balance below zero; reads go through the pool.
//!
//! - `guarantees`: a row per guarantee (its terms as JSON).
//! - `guarantee_reservations`: a row per reservation, with its state (open, released, claimed).

use chrono::{DateTime, NaiveDate, Utc};
use domain::codes::Uscc;
use store::guarantee::*;
use store::{DeclarationId, StoreError};
use tax::guarantee::{GuaranteeTerms, Reservation};
use tokio_postgres::Row;

use crate::{corrupt, PostgresStore};

pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE guarantees (
        id            text PRIMARY KEY,
        bank          text NOT NULL,
        holder        text NOT NULL,
        terms         text NOT NULL,
        registered_at timestamptz NOT NULL
    );
    CREATE INDEX guarantees_bank ON guarantees (bank, id);
    CREATE INDEX guarantees_holder ON guarantees (holder, id);

    CREATE TABLE guarantee_reservations (
        guarantee_id   text NOT NULL REFERENCES guarantees (id),
        reference      text NOT NULL,
        declaration_id bigint REFERENCES declarations (id),
        transit_no     text,
        reservation    text NOT NULL,
        due_on         date NOT NULL,
        state          text NOT NULL,
        reserved_at    timestamptz NOT NULL,
        settled_at     timestamptz,
        PRIMARY KEY (guarantee_id, reference)
    );
    CREATE INDEX guarantee_reservations_due ON guarantee_reservations (state, due_on);
    CREATE INDEX guarantee_reservations_declaration ON guarantee_reservations (declaration_id)
        WHERE declaration_id IS NOT NULL;
"#;

pub(crate) const RESERVATION_COLUMNS: &str = "guarantee_id, reference, declaration_id, transit_no, reservation, state, reserved_at, settled_at";

pub(crate) fn read_reservation(r: &Row) -> Result<StoredReservation, StoreError> {
    let reference: String = r.get(1);
    let reservation: Reservation = serde_json::from_str(r.get::<_, &str>(4))
        .map_err(|e| corrupt(format!("reservation {reference}: {e}")))?;
    let state: &str = r.get(5);
    Ok(StoredReservation {
        guarantee_id: r.get(0),
        declaration_id: r.get::<_, Option<i64>>(2).map(DeclarationId),
        transit_no: r.get(3),
        reservation,
        state: ReservationState::parse(state)
            .ok_or_else(|| corrupt(format!("reservation state {state}")))?,
        reserved_at: r.get::<_, DateTime<Utc>>(6),
        settled_at: r.get::<_, Option<DateTime<Utc>>>(7),
        reference,
    })
}

/// A guarantee from its row (`terms`, `registered_at`) and its reservations' rows.
pub(crate) fn read_guarantee(
    terms: &str,
    registered_at: DateTime<Utc>,
    reservations: &[Row],
) -> Result<StoredGuarantee, StoreError> {
    let terms: GuaranteeTerms =
        serde_json::from_str(terms).map_err(|e| corrupt(format!("guarantee terms: {e}")))?;
    let rs = reservations
        .iter()
        .map(read_reservation)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StoredGuarantee::new(terms, registered_at, rs))
}

impl PostgresStore {
    fn reservation_rows(
        &self,
        sql: String,
        key: Box<dyn tokio_postgres::types::ToSql + Send + Sync>,
    ) -> Result<Vec<StoredReservation>, StoreError> {
        self.query_owned(sql, vec![key])?
            .iter()
            .map(read_reservation)
            .collect()
    }

    fn guarantees_where(
        &self,
        sql: &'static str,
        key: String,
    ) -> Result<Vec<StoredGuarantee>, StoreError> {
        let ids: Vec<String> = self
            .query(sql, vec![Box::new(key)])?
            .iter()
            .map(|r| r.get(0))
            .collect();
        ids.iter()
            .map(|id| {
                self.guarantee(id)?
                    .ok_or_else(|| corrupt(format!("guarantee {id} vanished")))
            })
            .collect()
    }
}

impl GuaranteeStore for PostgresStore {
    fn guarantee(&self, id: &str) -> Result<Option<StoredGuarantee>, StoreError> {
        let Some(row) = self
            .query(
                "SELECT terms, registered_at FROM guarantees WHERE id = $1",
                vec![Box::new(id.to_owned())],
            )?
            .pop()
        else {
            return Ok(None);
        };
        let rs = self.query_owned(
            format!("SELECT {RESERVATION_COLUMNS} FROM guarantee_reservations WHERE guarantee_id = $1 ORDER BY reserved_at, reference"),
            vec![Box::new(id.to_owned())],
        )?;
        read_guarantee(row.get(0), row.get(1), &rs).map(Some)
    }

    fn guarantees_of_bank(&self, bank: &str) -> Result<Vec<StoredGuarantee>, StoreError> {
        self.guarantees_where(
            "SELECT id FROM guarantees WHERE bank = $1 ORDER BY id LIMIT 10000",
            bank.to_owned(),
        )
    }

    fn guarantees_of_holder(&self, holder: &Uscc) -> Result<Vec<StoredGuarantee>, StoreError> {
        self.guarantees_where(
            "SELECT id FROM guarantees WHERE holder = $1 ORDER BY id LIMIT 10000",
            holder.to_string(),
        )
    }

    fn reservations_due(&self, on: NaiveDate) -> Result<Vec<StoredReservation>, StoreError> {
        self.reservation_rows(
            format!("SELECT {RESERVATION_COLUMNS} FROM guarantee_reservations WHERE state = 'open' AND due_on < $1 ORDER BY due_on, guarantee_id, reference LIMIT {DUE_READ_MAX}"),
            Box::new(on),
        )
    }

    fn reservations_of_declaration(
        &self,
        id: DeclarationId,
    ) -> Result<Vec<StoredReservation>, StoreError> {
        self.reservation_rows(
            format!("SELECT {RESERVATION_COLUMNS} FROM guarantee_reservations WHERE declaration_id = $1 ORDER BY reserved_at, guarantee_id"),
            Box::new(id.0),
        )
    }
}
