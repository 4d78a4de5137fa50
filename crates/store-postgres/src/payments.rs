//! Bank payments on PostgreSQL: the same semantics as the SQLite backend (store::finance "Bank
//! payments", contract `store_contract::payments_contract`). The notice's payment columns and
//! the bank's confirmation row are written by the append of a `NoticePaid` event that carries
//! a bank's confirmation, in that append's savepoint; `(bank, reference)` is the primary key and
//! the notice is unique, so a second use of either is `Duplicate`.

use chrono::{DateTime, NaiveDate, Utc};
use store::finance::{BankPaymentRow, BANK_RECORDS_READ_MAX};
use store::{DeclarationId, StoreError};
use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

use crate::{backend, corrupt, PostgresStore};

/// One self-contained migration: the notice's payment columns and the confirmations.
pub(crate) const MIGRATION: &str = r#"
    ALTER TABLE payment_notices ADD COLUMN bank text;
    ALTER TABLE payment_notices ADD COLUMN paid_on date;
    ALTER TABLE payment_notices ADD COLUMN payment text;
    CREATE INDEX payment_notices_bank_day ON payment_notices (bank, paid_on) WHERE bank IS NOT NULL;

    CREATE TABLE bank_payments (
        bank       text NOT NULL,
        reference  text NOT NULL,
        notice_no  text NOT NULL UNIQUE,
        paid_on    date NOT NULL,
        row        text NOT NULL,
        PRIMARY KEY (bank, reference)
    );
    CREATE INDEX bank_payments_day ON bank_payments (bank, paid_on);
"#;

/// Record a notice paid through a bank: its payment columns, and the bank's confirmation.
pub(crate) async fn record(
    c: &Client,
    id: i64,
    notice_no: &str,
    payment: &clearance::BankPayment,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(payment).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let updated = c
        .execute(
            "UPDATE payment_notices SET bank = $3, paid_on = $4, payment = $5 WHERE notice_no = $1 AND declaration_id = $2",
            &[&notice_no, &id, &payment.bank, &payment.paid_on, &json],
        )
        .await
        .map_err(backend)?;
    if updated != 1 {
        return Err(StoreError::NotFound(format!("payment notice {notice_no}")));
    }
    let row = BankPaymentRow {
        bank: payment.bank.clone(),
        reference: payment.reference.clone(),
        notice_no: notice_no.to_owned(),
        declaration_id: DeclarationId(id),
        amount_fen: payment.paid_fen,
        paid_on: payment.paid_on,
        paid_at: at,
    };
    let row_json = serde_json::to_string(&row).map_err(|e| StoreError::Invalid(e.to_string()))?;
    c.execute(
        "INSERT INTO bank_payments (bank, reference, notice_no, paid_on, row) VALUES ($1, $2, $3, $4, $5)",
        &[&row.bank, &row.reference, &row.notice_no, &row.paid_on, &row_json],
    )
    .await
    .map_err(|e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StoreError::Duplicate(format!(
                "bank reference {}/{} or payment of notice {notice_no}",
                row.bank, row.reference
            ))
        } else {
            backend(e)
        }
    })?;
    Ok(())
}

fn parse_row(s: &str) -> Result<BankPaymentRow, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("bank payment: {e}")))
}

impl PostgresStore {
    pub(crate) fn pg_bank_payment(
        &self,
        bank: &str,
        reference: &str,
    ) -> Result<Option<BankPaymentRow>, StoreError> {
        let rows = self.query(
            "SELECT row FROM bank_payments WHERE bank = $1 AND reference = $2",
            vec![Box::new(bank.to_owned()), Box::new(reference.to_owned())],
        )?;
        rows.first()
            .map(|r| parse_row(&r.get::<_, String>(0)))
            .transpose()
    }

    pub(crate) fn pg_bank_payments_on(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError> {
        let rows = self.query(
            "SELECT row FROM bank_payments WHERE bank = $1 AND paid_on = $2 ORDER BY reference LIMIT $3",
            vec![
                Box::new(bank.to_owned()),
                Box::new(on),
                Box::new(i64::from(BANK_RECORDS_READ_MAX)),
            ],
        )?;
        rows.iter()
            .map(|r| parse_row(&r.get::<_, String>(0)))
            .collect()
    }

    pub(crate) fn pg_notices_paid_through(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError> {
        let rows = self.query(
            "SELECT notice_no, declaration_id, payment, paid_at FROM payment_notices WHERE bank = $1 AND paid_on = $2 ORDER BY notice_no LIMIT $3",
            vec![
                Box::new(bank.to_owned()),
                Box::new(on),
                Box::new(i64::from(BANK_RECORDS_READ_MAX)),
            ],
        )?;
        rows.iter()
            .map(|r| {
                let payment: String = r.get(2);
                let p: clearance::BankPayment = serde_json::from_str(&payment)
                    .map_err(|e| corrupt(format!("notice payment: {e}")))?;
                let paid_at: Option<DateTime<Utc>> = r.get(3);
                Ok(BankPaymentRow {
                    bank: p.bank,
                    reference: p.reference,
                    notice_no: r.get(0),
                    declaration_id: DeclarationId(r.get(1)),
                    amount_fen: p.paid_fen,
                    paid_on: p.paid_on,
                    paid_at: paid_at.ok_or_else(|| corrupt("paid notice without paid_at"))?,
                })
            })
            .collect()
    }
}
