//! [`FinanceStore`] on PostgreSQL: the same semantics as the SQLite backend (contract
//! `store_contract::finance_contract`). Writes are requests to the one writer
//! (`writer::finance`), like every other write, each in its savepoint with its audit record;
//! the primary keys make a racing second claim of the same item (or a second record of the
//! same bank reference) a `Duplicate`.
//!
//! - `eport_refund_claims`: one row per verified claim, key `(declaration_no, item_no)`.
//! - `eport_bank_records`: one row per receipt or payment, key `(bank, bank_ref)`.

use chrono::NaiveDate;
use domain::codes::Uscc;
use eport::forex::BankRecord;
use eport::refund::RefundClaim;
use store::finance::*;
use store::StoreError;
use tokio_postgres::types::ToSql;

use crate::{corrupt, PostgresStore};

pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE eport_refund_claims (
        declaration_no text NOT NULL,
        item_no        bigint NOT NULL,
        claimant       text NOT NULL,
        claimed_at     timestamptz NOT NULL,
        claim          text NOT NULL,
        PRIMARY KEY (declaration_no, item_no)
    );
    CREATE INDEX eport_refund_claims_claimant ON eport_refund_claims (claimant, claimed_at);
    CREATE INDEX eport_refund_claims_time ON eport_refund_claims (claimed_at);

    CREATE TABLE eport_bank_records (
        bank       text NOT NULL,
        bank_ref   text NOT NULL,
        uscc       text NOT NULL,
        value_date date NOT NULL,
        record     text NOT NULL,
        PRIMARY KEY (bank, bank_ref)
    );
    CREATE INDEX eport_bank_records_date ON eport_bank_records (value_date);
    CREATE INDEX eport_bank_records_uscc ON eport_bank_records (uscc, value_date);
"#;

type Params = Vec<Box<dyn ToSql + Send + Sync>>;

impl PostgresStore {
    fn finance_rows<T>(
        &self,
        sql: &'static str,
        params: Params,
        parse: fn(&str) -> serde_json::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        self.query(sql, params)?
            .iter()
            .map(|r| {
                let body: String = r.get(0);
                parse(&body).map_err(|e| corrupt(format!("finance row: {e}")))
            })
            .collect()
    }
}

impl FinanceStore for PostgresStore {
    fn refund_claims_of(&self, claimant: &Uscc) -> Result<Vec<RefundClaim>, StoreError> {
        self.finance_rows(
            "SELECT claim FROM eport_refund_claims WHERE claimant = $1 \
             ORDER BY claimed_at DESC, declaration_no DESC, item_no DESC LIMIT 10000",
            vec![Box::new(claimant.to_string())],
            |s| serde_json::from_str::<RefundClaim>(s),
        )
    }

    fn refund_claims_on(
        &self,
        declaration_no: &domain::codes::DeclarationNo,
    ) -> Result<Vec<RefundClaim>, StoreError> {
        self.finance_rows(
            "SELECT claim FROM eport_refund_claims WHERE declaration_no = $1 ORDER BY item_no",
            vec![Box::new(declaration_no.to_string())],
            |s| serde_json::from_str::<RefundClaim>(s),
        )
    }

    fn refund_claims(&self, limit: u32) -> Result<Vec<RefundClaim>, StoreError> {
        self.finance_rows(
            "SELECT claim FROM eport_refund_claims \
             ORDER BY claimed_at DESC, declaration_no DESC, item_no DESC LIMIT $1",
            vec![Box::new(i64::from(limit.min(FINANCE_LIST_MAX)))],
            |s| serde_json::from_str::<RefundClaim>(s),
        )
    }

    fn bank_records_of(&self, bank: &str) -> Result<Vec<BankRecord>, StoreError> {
        self.finance_rows(
            "SELECT record FROM eport_bank_records WHERE bank = $1 \
             ORDER BY value_date DESC, bank_ref DESC LIMIT 10000",
            vec![Box::new(bank.to_owned())],
            |s| serde_json::from_str::<BankRecord>(s),
        )
    }

    fn bank_records_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        uscc: Option<&Uscc>,
    ) -> Result<Vec<BankRecord>, StoreError> {
        let out: Vec<BankRecord> = self.finance_rows(
            "SELECT record FROM eport_bank_records \
             WHERE value_date BETWEEN $1 AND $2 AND ($3::text IS NULL OR uscc = $3) \
             ORDER BY value_date, bank, bank_ref LIMIT $4",
            vec![
                Box::new(from),
                Box::new(to),
                Box::new(uscc.map(|u| u.to_string())),
                Box::new(i64::from(BANK_RECORDS_READ_MAX) + 1),
            ],
            |s| serde_json::from_str::<BankRecord>(s),
        )?;
        if out.len() > BANK_RECORDS_READ_MAX as usize {
            return Err(StoreError::Invalid(format!(
                "more than {BANK_RECORDS_READ_MAX} bank records in the period: ask for a shorter one"
            )));
        }
        Ok(out)
    }

    fn bank_payment(
        &self,
        bank: &str,
        reference: &str,
    ) -> Result<Option<BankPaymentRow>, StoreError> {
        self.pg_bank_payment(bank, reference)
    }

    fn bank_payments_on(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError> {
        self.pg_bank_payments_on(bank, on)
    }

    fn notices_paid_through(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError> {
        self.pg_notices_paid_through(bank, on)
    }
}
