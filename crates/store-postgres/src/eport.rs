//! [`EportStore`] on PostgreSQL: the same semantics as the SQLite backend (contract
//! `store_contract::eport_contract`). Writes are requests to the one writer (`writer::eport`), so each
//! commits with its audit records in the batch's transaction; reads go through the pool.
//!
//! - `eport_licences`: a row per licence (its JSON form, the running reserved and written-off
//!   totals as decimal text).
//! - `eport_licence_uses`: what each declaration took from each licence, and its state
//!   (reserved, written off, released).
//! - `eport_registry`: the market-regulation registry.

use domain::codes::Uscc;
use eport::{RegistryEntry, RegistryStatus, Standing};
use store::eport::*;
use store::{DeclarationId, StoreError};

use crate::writer::eport::{dec, read_standing};
use crate::{corrupt, PostgresStore};

pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE eport_licences (
        licence_no  text PRIMARY KEY,
        holder      text NOT NULL,
        issued_by   text NOT NULL,
        licence     text NOT NULL,
        reserved    text NOT NULL,
        written_off text NOT NULL
    );
    CREATE INDEX eport_licences_holder ON eport_licences (holder);
    CREATE INDEX eport_licences_issuer ON eport_licences (issued_by);

    CREATE TABLE eport_licence_uses (
        declaration_id bigint NOT NULL REFERENCES declarations (id),
        licence_no     text NOT NULL REFERENCES eport_licences (licence_no),
        quantity       text NOT NULL,
        state          text NOT NULL,
        PRIMARY KEY (declaration_id, licence_no)
    );

    CREATE TABLE eport_registry (
        uscc   text PRIMARY KEY,
        name   text NOT NULL,
        status text NOT NULL
    );
"#;

/// Migration 24 (issue 18 item 6): a licence's withdrawal by its issuer (JSON of
/// `eport::Withdrawal`; `NULL` while the licence stands).
pub(crate) const WITHDRAWAL_MIGRATION: &str =
    "ALTER TABLE eport_licences ADD COLUMN withdrawal text;";

impl PostgresStore {
    fn standings(&self, sql: &'static str, key: String) -> Result<Vec<Standing>, StoreError> {
        self.query(sql, vec![Box::new(key)])?
            .iter()
            .map(|r| read_standing(r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect()
    }
}

impl EportStore for PostgresStore {
    fn licence(&self, licence_no: &str) -> Result<Option<Standing>, StoreError> {
        Ok(self
            .standings(
                "SELECT licence, reserved, written_off, withdrawal FROM eport_licences WHERE licence_no = $1",
                licence_no.to_owned(),
            )?
            .pop())
    }

    fn licences_held_by(&self, holder: &Uscc) -> Result<Vec<Standing>, StoreError> {
        self.standings(
            "SELECT licence, reserved, written_off, withdrawal FROM eport_licences WHERE holder = $1 ORDER BY licence_no LIMIT 10000",
            holder.to_string(),
        )
    }

    fn licences_issued_by(&self, issuer: &str) -> Result<Vec<Standing>, StoreError> {
        self.standings(
            "SELECT licence, reserved, written_off, withdrawal FROM eport_licences WHERE issued_by = $1 ORDER BY licence_no LIMIT 10000",
            issuer.to_owned(),
        )
    }

    fn registry_entry(&self, uscc: &Uscc) -> Result<Option<RegistryEntry>, StoreError> {
        self.query(
            "SELECT name, status FROM eport_registry WHERE uscc = $1",
            vec![Box::new(uscc.to_string())],
        )?
        .first()
        .map(|r| {
            let status: String = r.get(1);
            Ok(RegistryEntry {
                uscc: *uscc,
                name: r.get(0),
                status: RegistryStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("registry status {status:?}")))?,
            })
        })
        .transpose()
    }

    fn uses(&self, id: DeclarationId) -> Result<Vec<LicenceUse>, StoreError> {
        self.query(
            "SELECT licence_no, quantity, state FROM eport_licence_uses WHERE declaration_id = $1 ORDER BY licence_no",
            vec![Box::new(id.0)],
        )?
        .iter()
        .map(|r| {
            let state: String = r.get(2);
            Ok(LicenceUse {
                declaration_id: id,
                licence_no: r.get(0),
                quantity: dec(r.get(1))?,
                state: UseState::parse(&state)
                    .ok_or_else(|| corrupt(format!("use state {state:?}")))?,
            })
        })
        .collect()
    }
}
