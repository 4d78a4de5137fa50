//! AEO certificates on PostgreSQL (store::aeo): the same semantics as the SQLite backend
//! (contract `store_contract::parties_contract::aeo_certification`). Writes go through the one
//! writer (`writer::aeo`); reads through the pool.

use store::aeo::{AeoFilter, StoredCertification, CERTIFICATES_MAX};
use store::StoreError;
use tokio_postgres::types::ToSql;

use crate::{corrupt, PostgresStore};

/// Migration 19 (issue 19): certificates, and registrations that a refused or cancelled one
/// no longer blocks (the USCC is unique among those pending or in force only).
pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE certifications (
        id      bigint PRIMARY KEY,
        uscc    text NOT NULL,
        office  text NOT NULL,
        status  text NOT NULL,
        version bigint NOT NULL,
        body    text NOT NULL
    );
    CREATE INDEX certifications_uscc ON certifications (uscc, id);
    CREATE INDEX certifications_office ON certifications (office, id);

    ALTER TABLE registrations DROP CONSTRAINT registrations_uscc_key;
    CREATE INDEX registrations_uscc ON registrations (uscc, id);
    CREATE UNIQUE INDEX registrations_live ON registrations (uscc)
        WHERE status IN ('pending_review', 'effective');
"#;

pub(crate) fn read_certification(body: &str) -> Result<StoredCertification, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(format!("certification: {e}")))
}

impl PostgresStore {
    pub(crate) fn certification_by_id(
        &self,
        id: i64,
    ) -> Result<Option<StoredCertification>, StoreError> {
        let rows = self.query(
            "SELECT body FROM certifications WHERE id = $1",
            vec![Box::new(id)],
        )?;
        rows.first()
            .map(|r| read_certification(r.get(0)))
            .transpose()
    }

    pub(crate) fn certification_list(
        &self,
        filter: &AeoFilter,
    ) -> Result<Vec<StoredCertification>, StoreError> {
        let mut sql = String::from("SELECT body FROM certifications WHERE true");
        let mut args: Vec<Box<dyn ToSql + Send + Sync>> = Vec::new();
        if let Some(s) = filter.status {
            args.push(Box::new(s.as_str()));
            sql.push_str(&format!(" AND status = ${}", args.len()));
        }
        if let Some(u) = filter.uscc {
            args.push(Box::new(u.to_string()));
            sql.push_str(&format!(" AND uscc = ${}", args.len()));
        }
        if let Some(offices) = &filter.offices {
            if offices.is_empty() {
                return Ok(Vec::new());
            }
            let codes: Vec<String> = offices.iter().map(|o| o.to_string()).collect();
            args.push(Box::new(codes));
            sql.push_str(&format!(" AND office = ANY(${})", args.len()));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {CERTIFICATES_MAX}"));
        let rows = self.query_owned(sql, args)?;
        rows.iter().map(|r| read_certification(r.get(0))).collect()
    }
}
