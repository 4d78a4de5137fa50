//! [`CargoStore`] on PostgreSQL: the same tables and semantics as the SQLite backend
//! (`store-sqlite/src/cargo.rs`, contract `store_contract::cargo_contract`). Writes are requests to the
//! one writer (`writer::cargo`), so each commits with its audit records in the batch's
//! transaction, and a write touching a manifest and declarations commits both together; reads
//! go through the pool.
//!
//! - `manifest_events`: one global sequence (gapless, taken under the writers' lock), the event
//!   as JSON text, the manifest and event type as narrow columns.
//! - `transits`: a row per transit (state as JSON text, narrow columns) with `transit_events`.
//! - `postal_items`: a row per parcel or baggage declaration, the decision as JSON text.

use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use store::cargo::*;
use store::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::writer::cargo::{read_state, read_transit_no};
use crate::{corrupt, PostgresStore};

pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE manifest_events (
        seq         bigint PRIMARY KEY,
        manifest_id text NOT NULL,
        type        text NOT NULL,
        at          timestamptz NOT NULL,
        body        text NOT NULL
    );
    CREATE INDEX manifest_events_manifest ON manifest_events (manifest_id, seq);

    CREATE TABLE transits (
        transit_no         text PRIMARY KEY,
        declarant          text NOT NULL,
        entry_office       text NOT NULL,
        destination_office text NOT NULL,
        status             text NOT NULL,
        version            bigint NOT NULL,
        updated_at         timestamptz NOT NULL,
        state              text NOT NULL
    );
    CREATE INDEX transits_status ON transits (status);

    CREATE TABLE transit_events (
        transit_no text NOT NULL REFERENCES transits (transit_no),
        seq        bigint NOT NULL,
        type       text NOT NULL,
        at         timestamptz NOT NULL,
        body       text NOT NULL,
        PRIMARY KEY (transit_no, seq)
    );

    CREATE TABLE postal_items (
        id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind        text NOT NULL,
        reference   text NOT NULL,
        list_no     text,
        operator    text,
        office      text NOT NULL,
        outcome     text NOT NULL,
        value_fen   bigint NOT NULL,
        payable_fen bigint NOT NULL,
        decided_at  timestamptz NOT NULL,
        decision    text NOT NULL
    );
    CREATE INDEX postal_items_operator ON postal_items (operator, id);
    CREATE INDEX postal_items_office ON postal_items (office, id);
"#;

type Params = Vec<Box<dyn ToSql + Send + Sync>>;

fn read_transit(r: &Row) -> Result<StoredTransit, StoreError> {
    let no: &str = r.get(0);
    let version: i64 = r.get(1);
    let state: &str = r.get(3);
    Ok(StoredTransit {
        transit_no: read_transit_no(no)?,
        version: version as u64,
        updated_at: r.get(2),
        state: read_state(no, state)?,
    })
}

impl CargoStore for PostgresStore {
    fn manifest_events(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<StoredManifestEvent>, StoreError> {
        check_limit(limit)?;
        let rows = self.query(
            "SELECT seq, body FROM manifest_events WHERE seq > $1 ORDER BY seq LIMIT $2",
            vec![Box::new(after_seq as i64), Box::new(i64::from(limit))],
        )?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                let body: &str = r.get(1);
                Ok(StoredManifestEvent {
                    seq: seq as u64,
                    event: serde_json::from_str(body)
                        .map_err(|e| corrupt(format!("manifest event {seq}: {e}")))?,
                })
            })
            .collect()
    }

    fn load_transit(
        &self,
        transit_no: &cargo_control::TransitNo,
    ) -> Result<Option<StoredTransit>, StoreError> {
        self.query(
            "SELECT transit_no, version, updated_at, state FROM transits WHERE transit_no = $1",
            vec![Box::new(transit_no.to_string())],
        )?
        .first()
        .map(read_transit)
        .transpose()
    }

    fn transits(&self, filter: &TransitFilter) -> Result<Vec<StoredTransit>, StoreError> {
        check_limit(filter.limit)?;
        let mut sql =
            String::from("SELECT transit_no, version, updated_at, state FROM transits WHERE true");
        let mut params: Params = Vec::new();
        if let Some(s) = &filter.statuses {
            if s.is_empty() {
                return Ok(Vec::new());
            }
            params.push(Box::new(
                s.iter().map(|s| s.as_str().to_owned()).collect::<Vec<_>>(),
            ));
            sql += &format!(" AND status = ANY(${})", params.len());
        }
        if let Some(d) = &filter.declarant {
            params.push(Box::new(d.to_string()));
            sql += &format!(" AND declarant = ${}", params.len());
        }
        if let Some(o) = &filter.offices {
            if o.is_empty() {
                return Ok(Vec::new());
            }
            params.push(Box::new(
                o.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
            ));
            let n = params.len();
            sql += &format!(" AND (entry_office = ANY(${n}) OR destination_office = ANY(${n}))");
        }
        if let Some(after) = &filter.after {
            params.push(Box::new(after.to_string()));
            sql += &format!(" AND transit_no > ${}", params.len());
        }
        sql += &format!(" ORDER BY transit_no LIMIT {}", filter.limit);
        self.query_owned(sql, params)?
            .iter()
            .map(read_transit)
            .collect()
    }

    fn postal_outcomes(&self, filter: &PostalFilter) -> Result<Vec<StoredPostal>, StoreError> {
        check_limit(filter.limit)?;
        let mut sql = String::from(
            "SELECT id, kind, reference, list_no, operator, office, outcome, value_fen, payable_fen, decided_at, decision FROM postal_items WHERE true",
        );
        let mut params: Params = Vec::new();
        if let Some(o) = &filter.operator {
            params.push(Box::new(o.to_string()));
            sql += &format!(" AND operator = ${}", params.len());
        }
        if let Some(l) = &filter.list_no {
            params.push(Box::new(l.clone()));
            sql += &format!(" AND list_no = ${}", params.len());
        }
        if let Some(o) = &filter.offices {
            if o.is_empty() {
                return Ok(Vec::new());
            }
            params.push(Box::new(
                o.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
            ));
            sql += &format!(" AND office = ANY(${})", params.len());
        }
        if filter.held_only {
            sql += " AND outcome = 'held'";
        }
        sql += &format!(" ORDER BY id DESC LIMIT {}", filter.limit);
        self.query_owned(sql, params)?
            .iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let operator: Option<&str> = r.get(4);
                let office: &str = r.get(5);
                let decision: &str = r.get(10);
                Ok(StoredPostal {
                    id,
                    kind: r.get(1),
                    reference: r.get(2),
                    list_no: r.get(3),
                    operator: operator
                        .map(|u| Uscc::parse(u).map_err(|e| corrupt(format!("postal {id}: {e}"))))
                        .transpose()?,
                    office: OfficeCode::parse(office)
                        .map_err(|e| corrupt(format!("postal {id}: {e}")))?,
                    outcome: r.get(6),
                    value_fen: Fen(r.get(7)),
                    payable_fen: Fen(r.get(8)),
                    decided_at: r.get(9),
                    decision: serde_json::from_str(decision)
                        .map_err(|e| corrupt(format!("postal {id}: {e}")))?,
                })
            })
            .collect()
    }
}
