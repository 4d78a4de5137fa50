//! Bank payments on SQLite (store::finance "Bank payments"): the notice's payment columns and
//! the bank's confirmation row, written by the append of a `NoticePaid` event that carries a
//! bank's confirmation, in the append's savepoint. `(bank, reference)` is the primary key and
//! the notice is unique: a second use of either is `Duplicate`.

use chrono::NaiveDate;
use rusqlite::{params, Connection, OptionalExtension};

use super::*;
use store::finance::BankPaymentRow;

/// One self-contained migration: the notice's payment columns and the confirmations.
pub(super) const MIGRATION: &str = r#"
    ALTER TABLE payment_notices ADD COLUMN bank TEXT;
    ALTER TABLE payment_notices ADD COLUMN paid_on TEXT;
    ALTER TABLE payment_notices ADD COLUMN payment TEXT;
    CREATE INDEX payment_notices_bank_day ON payment_notices (bank, paid_on) WHERE bank IS NOT NULL;

    CREATE TABLE bank_payments (
        bank       TEXT NOT NULL,
        reference  TEXT NOT NULL,
        notice_no  TEXT NOT NULL UNIQUE,
        paid_on    TEXT NOT NULL,
        row        TEXT NOT NULL,
        PRIMARY KEY (bank, reference)
    ) WITHOUT ROWID;
    CREATE INDEX bank_payments_day ON bank_payments (bank, paid_on);
"#;

/// Record a notice paid through a bank: its payment columns, and the bank's confirmation.
pub(super) fn record(
    c: &Connection,
    id: i64,
    notice_no: &str,
    payment: &clearance::BankPayment,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(payment).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let updated = c
        .prepare_cached(
            "UPDATE payment_notices SET bank = ?3, paid_on = ?4, payment = ?5 WHERE notice_no = ?1 AND declaration_id = ?2",
        )
        .map_err(backend)?
        .execute(params![
            notice_no,
            id,
            payment.bank,
            payment.paid_on.to_string(),
            json
        ])
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
    c.prepare_cached(
        "INSERT INTO bank_payments (bank, reference, notice_no, paid_on, row) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(backend)?
    .execute(params![
        row.bank,
        row.reference,
        row.notice_no,
        row.paid_on.to_string(),
        row_json
    ])
    .map_err(|err| match err {
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Duplicate(format!(
                "bank reference {}/{} or payment of notice {notice_no}",
                row.bank, row.reference
            ))
        }
        other => backend(other),
    })?;
    Ok(())
}

fn parse_row(s: &str) -> Result<BankPaymentRow, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("bank payment: {e}")))
}

pub(super) fn bank_payment(
    c: &Connection,
    bank: &str,
    reference: &str,
) -> Result<Option<BankPaymentRow>, StoreError> {
    let row: Option<String> = c
        .prepare_cached("SELECT row FROM bank_payments WHERE bank = ?1 AND reference = ?2")
        .map_err(backend)?
        .query_row(params![bank, reference], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    row.as_deref().map(parse_row).transpose()
}

pub(super) fn bank_payments_on(
    c: &Connection,
    bank: &str,
    on: NaiveDate,
) -> Result<Vec<BankPaymentRow>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT row FROM bank_payments WHERE bank = ?1 AND paid_on = ?2 ORDER BY reference LIMIT {}",
            store::finance::BANK_RECORDS_READ_MAX
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![bank, on.to_string()], |r| r.get::<_, String>(0))
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(parse_row(&r.map_err(backend)?)?);
    }
    Ok(out)
}

pub(super) fn notices_paid_through(
    c: &Connection,
    bank: &str,
    on: NaiveDate,
) -> Result<Vec<BankPaymentRow>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT notice_no, declaration_id, payment, paid_at_ms FROM payment_notices WHERE bank = ?1 AND paid_on = ?2 ORDER BY notice_no LIMIT {}",
            store::finance::BANK_RECORDS_READ_MAX
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![bank, on.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<i64>>(3)?,
            ))
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        let (notice_no, id, payment, paid_at) = r.map_err(backend)?;
        let p: clearance::BankPayment =
            serde_json::from_str(&payment).map_err(|e| corrupt(format!("notice payment: {e}")))?;
        out.push(BankPaymentRow {
            bank: p.bank,
            reference: p.reference,
            notice_no,
            declaration_id: DeclarationId(id),
            amount_fen: p.paid_fen,
            paid_on: p.paid_on,
            paid_at: from_ms(paid_at.ok_or_else(|| corrupt("paid notice without paid_at"))?)?,
        });
    }
    Ok(out)
}
