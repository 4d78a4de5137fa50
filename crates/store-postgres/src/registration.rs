//! Customs registration on PostgreSQL (store::registration): the same semantics as the SQLite
//! backend (contract `store_contract::parties_contract::registration`). Writes are requests to
//! the one writer (`writer::registration`); reads go through the pool.

use domain::codes::Uscc;
use store::registration::{RegistrationFilter, StoredRegistration, REGISTRATIONS_MAX};
use store::{Account, StoreError};
use tokio_postgres::types::ToSql;

use crate::{corrupt, PostgresStore};

pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE registrations (
        id           bigint PRIMARY KEY,
        uscc         text NOT NULL UNIQUE,
        customs_code text UNIQUE,
        office       text NOT NULL,
        status       text NOT NULL,
        version      bigint NOT NULL,
        body         text NOT NULL
    );
    CREATE INDEX registrations_office ON registrations (office, id);
"#;

pub(crate) fn read_registration(body: &str) -> Result<StoredRegistration, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(format!("registration: {e}")))
}

impl PostgresStore {
    pub(crate) fn registration_by_id(
        &self,
        id: i64,
    ) -> Result<Option<StoredRegistration>, StoreError> {
        let rows = self.query(
            "SELECT body FROM registrations WHERE id = $1",
            vec![Box::new(id)],
        )?;
        rows.first()
            .map(|r| read_registration(r.get(0)))
            .transpose()
    }

    pub(crate) fn registration_of(
        &self,
        uscc: Uscc,
    ) -> Result<Option<StoredRegistration>, StoreError> {
        let rows = self.query(
            "SELECT body FROM registrations WHERE uscc = $1 ORDER BY id DESC LIMIT 1",
            vec![Box::new(uscc.to_string())],
        )?;
        rows.first()
            .map(|r| read_registration(r.get(0)))
            .transpose()
    }

    pub(crate) fn registration_list(
        &self,
        filter: &RegistrationFilter,
    ) -> Result<Vec<StoredRegistration>, StoreError> {
        let mut sql = String::from("SELECT body FROM registrations WHERE true");
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
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {REGISTRATIONS_MAX}"));
        let rows = self.query_owned(sql, args)?;
        rows.iter().map(|r| read_registration(r.get(0))).collect()
    }

    pub(crate) fn accounts_of(&self, uscc: Uscc) -> Result<Vec<Account>, StoreError> {
        let rows = self.query(
            "SELECT id, login, role, office, uscc, duties, agency, password_hash, disabled_at IS NOT NULL, must_change_password FROM users WHERE uscc = $1 AND role = 'enterprise' AND password_hash IS NOT NULL ORDER BY login LIMIT 1000",
            vec![Box::new(uscc.to_string())],
        )?;
        rows.iter().map(crate::read_account).collect()
    }
}
