//! [`FinanceStore`] on PostgreSQL: the same semantics as the SQLite backend (contract
//! `store::finance_contract`). These ledgers are low-volume, so a write is an ordinary
//! transaction on a pooled connection rather than a request to the group-commit writer: it
//! takes the writers' advisory lock (the same key as `writer`), reads the audit chain head,
//! inserts its row and its audit record, and commits. Under the lock no other writer can fork
//! the chain; the primary keys make a racing second claim of the same item (or a second
//! record of the same bank reference) a `Duplicate`.
//!
//! - `eport_refund_claims`: one row per verified claim, key `(declaration_no, item_no)`.
//! - `eport_bank_records`: one row per receipt or payment, key `(bank, bank_ref)`.

use chrono::{DateTime, NaiveDate, Utc};
use clearance::Actor;
use domain::codes::Uscc;
use eport::forex::BankRecord;
use eport::refund::RefundClaim;
use store::audit::ChainHead;
use store::finance::*;
use store::StoreError;
use tokio_postgres::types::ToSql;

use crate::{backend, corrupt, ms, pool_error, run_on, PostgresStore};

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

/// One row and its audit record, written in a transaction of its own.
struct Write {
    insert: &'static str,
    params: Params,
    duplicate: String,
    actor: String,
    action: &'static str,
    subject: String,
    detail: String,
    now: DateTime<Utc>,
}

fn invalid(e: serde_json::Error) -> StoreError {
    StoreError::Invalid(e.to_string())
}

fn detail(body: &str) -> String {
    format!(
        r#"{{"sha256":"{}"}}"#,
        store::audit::sha256_hex(body.as_bytes())
    )
}

impl PostgresStore {
    fn finance_write(&self, w: Write) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let runtime = self.runtime.as_ref().ok_or(StoreError::Closed)?;
        run_on(runtime, async move {
            let mut client = pool.get().await.map_err(pool_error)?;
            if client.is_closed() {
                client = pool.get().await.map_err(pool_error)?;
            }
            let tx = client.transaction().await.map_err(backend)?;
            // The writers' lock: the audit chain grows from one writer at a time.
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtext('jinguan-writer:' || coalesce(current_schema(), '')))",
                &[],
            )
            .await
            .map_err(backend)?;
            let refs: Vec<&(dyn ToSql + Sync)> = w
                .params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let inserted = tx.execute(w.insert, &refs).await.map_err(backend)?;
            if inserted == 0 {
                // Dropping the transaction rolls it back; nothing was written.
                return Err(StoreError::Duplicate(w.duplicate));
            }
            let mut head = match tx
                .query_opt(
                    "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1",
                    &[],
                )
                .await
                .map_err(backend)?
            {
                None => ChainHead::EMPTY,
                Some(r) => {
                    let hash: Vec<u8> = r.get(1);
                    ChainHead {
                        last_id: r.get(0),
                        last_hash: hash
                            .try_into()
                            .map_err(|_| corrupt("audit hash is not 32 bytes"))?,
                    }
                }
            };
            let rec = head.next(
                ms(w.now).timestamp_millis(),
                &w.actor,
                w.action,
                &w.subject,
                w.detail,
            );
            tx.execute(
                "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &rec.id,
                    &rec.at_ms,
                    &rec.actor,
                    &rec.action,
                    &rec.subject,
                    &rec.detail,
                    &rec.prev_hash.to_vec(),
                    &rec.hash.to_vec(),
                ],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)
        })?
    }

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
    fn record_refund_claim(
        &self,
        claim: RefundClaim,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<RefundClaim, StoreError> {
        check_claim(&claim)?;
        let body = serde_json::to_string(&claim).map_err(invalid)?;
        self.finance_write(Write {
            insert: "INSERT INTO eport_refund_claims (declaration_no, item_no, claimant, claimed_at, claim) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            params: vec![
                Box::new(claim.declaration_no.to_string()),
                Box::new(i64::from(claim.item_no)),
                Box::new(claim.claimant.to_string()),
                Box::new(ms(claim.claimed_at)),
                Box::new(body.clone()),
            ],
            duplicate: format!(
                "refund claim for item {} of declaration {}",
                claim.item_no, claim.declaration_no
            ),
            actor: actor.label(),
            action: "eport.refund_claim",
            subject: claim_subject(&claim),
            detail: detail(&body),
            now,
        })?;
        Ok(claim)
    }

    fn refund_claims_of(&self, claimant: &Uscc) -> Result<Vec<RefundClaim>, StoreError> {
        self.finance_rows(
            "SELECT claim FROM eport_refund_claims WHERE claimant = $1 \
             ORDER BY claimed_at DESC, declaration_no DESC, item_no DESC LIMIT 10000",
            vec![Box::new(claimant.to_string())],
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

    fn record_bank_record(
        &self,
        record: BankRecord,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<BankRecord, StoreError> {
        check_bank_record(&record)?;
        let body = serde_json::to_string(&record).map_err(invalid)?;
        self.finance_write(Write {
            insert: "INSERT INTO eport_bank_records (bank, bank_ref, uscc, value_date, record) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            params: vec![
                Box::new(record.bank.clone()),
                Box::new(record.bank_ref.clone()),
                Box::new(record.uscc.to_string()),
                Box::new(record.value_date),
                Box::new(body.clone()),
            ],
            duplicate: format!("bank reference {} of {}", record.bank_ref, record.bank),
            actor: actor.label(),
            action: "eport.bank_record",
            subject: bank_record_subject(&record),
            detail: detail(&body),
            now,
        })?;
        Ok(record)
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
}
