//! The finance ledgers' writes (refund claims, banks' records) in the writer's transaction, each
//! in its savepoint with its audit record, as on SQLite. The primary keys make a second write of
//! the same key a `Duplicate`, whatever the order racing requests arrive in.

use ::eport::forex::BankRecord;
use ::eport::refund::RefundClaim;
use chrono::{DateTime, Utc};
use clearance::Actor;
use store::audit::ChainHead;
use store::finance::{bank_record_subject, claim_subject, RefundPaymentWrite};
use store::StoreError;

use super::Tx;
use crate::{backend, corrupt, ms};

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Invalid(e.to_string()))
}

impl Tx<'_> {
    pub(super) async fn record_refund_claim(
        &self,
        head: &mut ChainHead,
        (claim, actor, now): &(Box<RefundClaim>, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        let body = json(&**claim)?;
        let inserted = self
            .c
            .execute(
                "INSERT INTO eport_refund_claims (declaration_no, item_no, claimant, claimed_at, claim) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &claim.declaration_no.to_string(),
                    &i64::from(claim.item_no),
                    &claim.claimant.to_string(),
                    &ms(claim.claimed_at),
                    &body,
                ],
            )
            .await
            .map_err(backend)?;
        if inserted == 0 {
            return Err(StoreError::Duplicate(format!(
                "refund claim for item {} of declaration {}",
                claim.item_no, claim.declaration_no
            )));
        }
        self.audit(
            head,
            *now,
            &actor.label(),
            "eport.refund_claim",
            &claim_subject(claim),
            store::detail::body_sha256(&body),
        )
        .await
    }

    /// The claims on one declaration, by item, locked for this transaction (a payment racing
    /// the change waits for it).
    pub(super) async fn claims_on(
        &self,
        no: &domain::codes::DeclarationNo,
    ) -> Result<Vec<RefundClaim>, StoreError> {
        self.c
            .query(
                "SELECT claim FROM eport_refund_claims WHERE declaration_no = $1 ORDER BY item_no FOR SHARE",
                &[&no.to_string()],
            )
            .await
            .map_err(backend)?
            .iter()
            .map(|r| {
                serde_json::from_str(r.get(0)).map_err(|e| corrupt(format!("refund claim: {e}")))
            })
            .collect()
    }

    /// The tax agency's payment of a verified claim: decided on the claim read `FOR UPDATE`
    /// (`store::finance::payment`: once, within its ceiling), written into the claim's JSON.
    pub(super) async fn pay_refund(
        &self,
        head: &mut ChainHead,
        w: &RefundPaymentWrite,
    ) -> Result<RefundClaim, StoreError> {
        let current: Option<RefundClaim> = self
            .c
            .query_opt(
                "SELECT claim FROM eport_refund_claims WHERE declaration_no = $1 AND item_no = $2 FOR UPDATE",
                &[&w.declaration_no.to_string(), &i64::from(w.item_no)],
            )
            .await
            .map_err(backend)?
            .map(|r| {
                serde_json::from_str(r.get(0)).map_err(|e| corrupt(format!("refund claim: {e}")))
            })
            .transpose()?;
        let paid = store::finance::payment(current, w)?;
        let body = json(&paid)?;
        self.c
            .execute(
                "UPDATE eport_refund_claims SET claim = $3 WHERE declaration_no = $1 AND item_no = $2",
                &[&w.declaration_no.to_string(), &i64::from(w.item_no), &body],
            )
            .await
            .map_err(backend)?;
        self.audit(
            head,
            w.now,
            &w.actor.label(),
            "eport.refund_paid",
            &claim_subject(&paid),
            json(&w.payment)?,
        )
        .await?;
        Ok(paid)
    }

    pub(super) async fn record_bank_record(
        &self,
        head: &mut ChainHead,
        (record, actor, now): &(Box<BankRecord>, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        let body = json(&**record)?;
        let inserted = self
            .c
            .execute(
                "INSERT INTO eport_bank_records (bank, bank_ref, uscc, value_date, record) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &record.bank,
                    &record.bank_ref,
                    &record.uscc.to_string(),
                    &record.value_date,
                    &body,
                ],
            )
            .await
            .map_err(backend)?;
        if inserted == 0 {
            return Err(StoreError::Duplicate(format!(
                "bank reference {} of {}",
                record.bank_ref, record.bank
            )));
        }
        self.audit(
            head,
            *now,
            &actor.label(),
            "eport.bank_record",
            &bank_record_subject(record),
            store::detail::body_sha256(&body),
        )
        .await
    }
}
