//! [`PartiesStore`] on PostgreSQL: the same semantics as the SQLite backend (contract
//! `store_contract::parties_contract`). Writes are requests to the one writer
//! (`writer::parties`); a filing under a power of attorney leaves the writer's runs of filings
//! and is written alone, its authority read under a row lock (`FOR UPDATE`) in the filing's
//! transaction, so a revocation that committed first refuses it. Reads go through the pool.

use domain::codes::Uscc;
use domain::money::Fen;
use store::cases::{CaseFilter, CreditChange, StoredCase, CASES_MAX};
use store::parties::*;
use store::{DeclarationId, StoreError};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::{corrupt, PostgresStore};

pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE authorities (
        id                bigserial PRIMARY KEY,
        grantor           text NOT NULL,
        broker            text NOT NULL,
        scope             text NOT NULL,
        granted_at        timestamptz NOT NULL,
        granted_by        text NOT NULL,
        revoked_at        timestamptz,
        revoked_by        text,
        used_declarations bigint NOT NULL DEFAULT 0,
        used_value_fen    bigint NOT NULL DEFAULT 0
    );
    CREATE INDEX authorities_grantor ON authorities (grantor, id);
    CREATE INDEX authorities_broker ON authorities (broker, id);

    CREATE TABLE agent_filings (
        declaration_id bigint PRIMARY KEY REFERENCES declarations (id),
        authority_id   bigint NOT NULL REFERENCES authorities (id),
        broker         text NOT NULL,
        login          text NOT NULL
    );
    CREATE INDEX agent_filings_broker ON agent_filings (broker, declaration_id);

    CREATE TABLE cases (
        id      bigint PRIMARY KEY,
        case_no text NOT NULL UNIQUE,
        office  text NOT NULL,
        year    integer NOT NULL,
        status  text NOT NULL,
        version bigint NOT NULL,
        body    text NOT NULL
    );
    CREATE INDEX cases_office ON cases (office, year);

    CREATE TABLE credit_history (
        id     bigserial PRIMARY KEY,
        uscc   text NOT NULL,
        change text NOT NULL
    );
    CREATE INDEX credit_history_uscc ON credit_history (uscc, id);
"#;

pub(crate) const AUTHORITY_COLUMNS: &str = "id, grantor, broker, scope, granted_at, granted_by, revoked_at, revoked_by, used_declarations, used_value_fen";

pub(crate) fn read_authority(r: &Row) -> Result<StoredAuthority, StoreError> {
    let id: i64 = r.get(0);
    Ok(StoredAuthority {
        id,
        grantor: Uscc::parse(r.get(1)).map_err(corrupt)?,
        broker: Uscc::parse(r.get(2)).map_err(corrupt)?,
        scope: serde_json::from_str(r.get(3))
            .map_err(|e| corrupt(format!("authority {id} scope: {e}")))?,
        granted_at: r.get(4),
        granted_by: r.get(5),
        revoked_at: r.get(6),
        revoked_by: r.get(7),
        used_declarations: r.get::<_, i64>(8) as u64,
        used_value_fen: Fen(r.get(9)),
    })
}

pub(crate) fn read_case(body: &str) -> Result<StoredCase, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(format!("case: {e}")))
}

impl PartiesStore for PostgresStore {
    fn authority(&self, id: i64) -> Result<Option<StoredAuthority>, StoreError> {
        let rows = self.query_owned(
            format!("SELECT {AUTHORITY_COLUMNS} FROM authorities WHERE id = $1"),
            vec![Box::new(id)],
        )?;
        rows.first().map(read_authority).transpose()
    }

    fn authorities(&self, filter: AuthorityFilter) -> Result<Vec<StoredAuthority>, StoreError> {
        let (clause, args): (&str, Vec<Box<dyn ToSql + Send + Sync>>) = match filter {
            AuthorityFilter::Grantor(g) => ("grantor = $1", vec![Box::new(g.to_string())]),
            AuthorityFilter::Broker(b) => ("broker = $1", vec![Box::new(b.to_string())]),
            AuthorityFilter::Between { grantor, broker } => (
                "grantor = $1 AND broker = $2",
                vec![Box::new(grantor.to_string()), Box::new(broker.to_string())],
            ),
        };
        let rows = self.query_owned(
            format!(
                "SELECT {AUTHORITY_COLUMNS} FROM authorities WHERE {clause} ORDER BY id DESC LIMIT {AUTHORITIES_MAX}"
            ),
            args,
        )?;
        rows.iter().map(read_authority).collect()
    }

    fn agent_declarations(
        &self,
        broker: Uscc,
        limit: u32,
    ) -> Result<Vec<DeclarationId>, StoreError> {
        let rows = self.query(
            "SELECT declaration_id FROM agent_filings WHERE broker = $1 ORDER BY declaration_id DESC LIMIT $2",
            vec![Box::new(broker.to_string()), Box::new(i64::from(limit))],
        )?;
        Ok(rows.iter().map(|r| DeclarationId(r.get(0))).collect())
    }

    fn case(&self, id: i64) -> Result<Option<StoredCase>, StoreError> {
        let rows = self.query("SELECT body FROM cases WHERE id = $1", vec![Box::new(id)])?;
        rows.first().map(|r| read_case(r.get(0))).transpose()
    }

    fn case_by_no(&self, case_no: &str) -> Result<Option<StoredCase>, StoreError> {
        let rows = self.query(
            "SELECT body FROM cases WHERE case_no = $1",
            vec![Box::new(case_no.to_owned())],
        )?;
        rows.first().map(|r| read_case(r.get(0))).transpose()
    }

    fn cases(&self, filter: &CaseFilter) -> Result<Vec<StoredCase>, StoreError> {
        let mut sql = String::from("SELECT body FROM cases WHERE true");
        let mut args: Vec<Box<dyn ToSql + Send + Sync>> = Vec::new();
        if let Some(s) = filter.status {
            args.push(Box::new(s.as_str()));
            sql.push_str(&format!(" AND status = ${}", args.len()));
        }
        if let Some(offices) = &filter.offices {
            if offices.is_empty() {
                return Ok(Vec::new());
            }
            let codes: Vec<String> = offices.iter().map(|o| o.to_string()).collect();
            args.push(Box::new(codes));
            sql.push_str(&format!(" AND office = ANY(${})", args.len()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {CASES_MAX}"));
        let rows = self.query_owned(sql, args)?;
        rows.iter().map(|r| read_case(r.get(0))).collect()
    }

    fn certification(
        &self,
        id: i64,
    ) -> Result<Option<store::aeo::StoredCertification>, StoreError> {
        self.certification_by_id(id)
    }

    fn certifications(
        &self,
        filter: &store::aeo::AeoFilter,
    ) -> Result<Vec<store::aeo::StoredCertification>, StoreError> {
        self.certification_list(filter)
    }

    fn credit_history(&self, uscc: Uscc) -> Result<Vec<CreditChange>, StoreError> {
        let rows = self.query(
            "SELECT change FROM credit_history WHERE uscc = $1 ORDER BY id",
            vec![Box::new(uscc.to_string())],
        )?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(r.get(0)).map_err(|e| corrupt(format!("credit change: {e}")))
            })
            .collect()
    }

    fn registration(
        &self,
        id: i64,
    ) -> Result<Option<store::registration::StoredRegistration>, StoreError> {
        self.registration_by_id(id)
    }

    fn registration_by_uscc(
        &self,
        uscc: Uscc,
    ) -> Result<Option<store::registration::StoredRegistration>, StoreError> {
        self.registration_of(uscc)
    }

    fn registrations(
        &self,
        filter: &store::registration::RegistrationFilter,
    ) -> Result<Vec<store::registration::StoredRegistration>, StoreError> {
        self.registration_list(filter)
    }

    fn enterprise_accounts(&self, uscc: Uscc) -> Result<Vec<store::Account>, StoreError> {
        self.accounts_of(uscc)
    }
}
