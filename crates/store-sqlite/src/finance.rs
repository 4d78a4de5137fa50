//! [`FinanceStore`] on SQLite: refund claims and bank records. Writes go through the one
//! writer thread (each in its savepoint with its audit record); the primary keys
//! `(declaration_no, item_no)` and `(bank, bank_ref)` make a second write of the same key a
//! `Duplicate`, whatever the order racing requests arrive in.

use ::eport::forex::BankRecord;
use ::eport::refund::RefundClaim;
use chrono::NaiveDate;
use rusqlite::{params, Connection};

use super::*;
use store::finance::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE eport_refund_claims (
        declaration_no TEXT NOT NULL,
        item_no        INTEGER NOT NULL,
        claimant       TEXT NOT NULL,
        claimed_at_ms  INTEGER NOT NULL,
        claim          TEXT NOT NULL,
        PRIMARY KEY (declaration_no, item_no)
    ) WITHOUT ROWID;
    CREATE INDEX eport_refund_claims_claimant ON eport_refund_claims (claimant, claimed_at_ms);
    CREATE INDEX eport_refund_claims_time ON eport_refund_claims (claimed_at_ms);

    CREATE TABLE eport_bank_records (
        bank       TEXT NOT NULL,
        bank_ref   TEXT NOT NULL,
        uscc       TEXT NOT NULL,
        value_date TEXT NOT NULL,
        record     TEXT NOT NULL,
        PRIMARY KEY (bank, bank_ref)
    ) WITHOUT ROWID;
    CREATE INDEX eport_bank_records_date ON eport_bank_records (value_date);
    CREATE INDEX eport_bank_records_uscc ON eport_bank_records (uscc, value_date);
"#;

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(super) fn record_refund_claim(
    c: &Connection,
    head: &mut ChainHead,
    (claim, actor, now): &(Box<RefundClaim>, Actor, DateTime<Utc>),
) -> Result<(), StoreError> {
    let body = json(&**claim)?;
    let inserted = c
                .prepare_cached(
                    "INSERT INTO eport_refund_claims (declaration_no, item_no, claimant, claimed_at_ms, claim) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )
                .map_err(backend)?
                .execute(params![
                    claim.declaration_no.to_string(),
                    claim.item_no,
                    claim.claimant.to_string(),
                    to_ms(claim.claimed_at),
                    body
                ])
                .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!(
            "refund claim for item {} of declaration {}",
            claim.item_no, claim.declaration_no
        )));
    }
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "eport.refund_claim",
        &claim_subject(claim),
        store::detail::body_sha256(&body),
    )?;
    Ok(())
}

/// The claims on one declaration, by item (few: one per item), as this transaction sees them.
pub(super) fn claims_on(
    c: &Connection,
    no: &domain::codes::DeclarationNo,
) -> Result<Vec<RefundClaim>, StoreError> {
    rows(
        c,
        "SELECT claim FROM eport_refund_claims WHERE declaration_no = ?1 ORDER BY item_no",
        [no.to_string()],
    )
}

/// The tax agency's payment of a verified claim: decided on the claim as the writer reads it
/// (`store::finance::payment`: once, within its ceiling), written into the claim's JSON.
pub(super) fn pay_refund(
    c: &Connection,
    head: &mut ChainHead,
    w: &RefundPaymentWrite,
) -> Result<RefundClaim, StoreError> {
    let current: Vec<RefundClaim> = rows(
        c,
        "SELECT claim FROM eport_refund_claims WHERE declaration_no = ?1 AND item_no = ?2",
        params![w.declaration_no.to_string(), w.item_no],
    )?;
    let paid = store::finance::payment(current.into_iter().next(), w)?;
    let body = json(&paid)?;
    c.prepare_cached(
        "UPDATE eport_refund_claims SET claim = ?3 WHERE declaration_no = ?1 AND item_no = ?2",
    )
    .map_err(backend)?
    .execute(params![w.declaration_no.to_string(), w.item_no, body])
    .map_err(backend)?;
    audit(
        c,
        head,
        w.now,
        &w.actor.label(),
        "eport.refund_paid",
        &claim_subject(&paid),
        json(&w.payment)?,
    )?;
    Ok(paid)
}

pub(super) fn record_bank_record(
    c: &Connection,
    head: &mut ChainHead,
    (record, actor, now): &(Box<BankRecord>, Actor, DateTime<Utc>),
) -> Result<(), StoreError> {
    let body = json(&**record)?;
    let inserted = c
        .prepare_cached(
            "INSERT INTO eport_bank_records (bank, bank_ref, uscc, value_date, record) \
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
        )
        .map_err(backend)?
        .execute(params![
            record.bank,
            record.bank_ref,
            record.uscc.to_string(),
            record.value_date.to_string(),
            body
        ])
        .map_err(backend)?;
    if inserted == 0 {
        return Err(StoreError::Duplicate(format!(
            "bank reference {} of {}",
            record.bank_ref, record.bank
        )));
    }
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "eport.bank_record",
        &bank_record_subject(record),
        store::detail::body_sha256(&body),
    )?;
    Ok(())
}

fn rows<T: serde::de::DeserializeOwned>(
    c: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<T>, StoreError> {
    let bodies: Vec<String> = c
        .prepare_cached(sql)
        .map_err(backend)?
        .query_map(params, |r| r.get(0))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    bodies
        .iter()
        .map(|b| serde_json::from_str(b).map_err(|e| corrupt(format!("finance row: {e}"))))
        .collect()
}

impl FinanceStore for SqliteStore {
    fn refund_claims_of(&self, claimant: &Uscc) -> Result<Vec<RefundClaim>, StoreError> {
        self.read(|c| {
            rows(
                c,
                &format!("SELECT claim FROM eport_refund_claims WHERE claimant = ?1 ORDER BY claimed_at_ms DESC, declaration_no DESC, item_no DESC LIMIT {FINANCE_LIST_MAX}"),
                [claimant.to_string()],
            )
        })
    }

    fn refund_claims_on(
        &self,
        declaration_no: &domain::codes::DeclarationNo,
    ) -> Result<Vec<RefundClaim>, StoreError> {
        self.read(|c| claims_on(c, declaration_no))
    }

    fn refund_claims(&self, limit: u32) -> Result<Vec<RefundClaim>, StoreError> {
        let limit = limit.min(FINANCE_LIST_MAX);
        self.read(|c| {
            rows(
                c,
                "SELECT claim FROM eport_refund_claims ORDER BY claimed_at_ms DESC, declaration_no DESC, item_no DESC LIMIT ?1",
                [limit],
            )
        })
    }

    fn bank_records_of(&self, bank: &str) -> Result<Vec<BankRecord>, StoreError> {
        self.read(|c| {
            rows(
                c,
                &format!("SELECT record FROM eport_bank_records WHERE bank = ?1 ORDER BY value_date DESC, bank_ref DESC LIMIT {FINANCE_LIST_MAX}"),
                [bank],
            )
        })
    }

    fn bank_records_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        uscc: Option<&Uscc>,
    ) -> Result<Vec<BankRecord>, StoreError> {
        let cap = BANK_RECORDS_READ_MAX + 1;
        let (from, to) = (from.to_string(), to.to_string());
        let out: Vec<BankRecord> = self.read(|c| match uscc {
            Some(u) => rows(
                c,
                &format!("SELECT record FROM eport_bank_records WHERE uscc = ?1 AND value_date BETWEEN ?2 AND ?3 ORDER BY value_date, bank, bank_ref LIMIT {cap}"),
                params![u.to_string(), from, to],
            ),
            None => rows(
                c,
                &format!("SELECT record FROM eport_bank_records WHERE value_date BETWEEN ?1 AND ?2 ORDER BY value_date, bank, bank_ref LIMIT {cap}"),
                params![from, to],
            ),
        })?;
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
        self.read(|c| super::payments::bank_payment(c, bank, reference))
    }

    fn bank_payments_on(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError> {
        self.read(|c| super::payments::bank_payments_on(c, bank, on))
    }

    fn notices_paid_through(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError> {
        self.read(|c| super::payments::notices_paid_through(c, bank, on))
    }
}
