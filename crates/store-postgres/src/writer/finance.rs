//! The finance ledgers' writes (refund claims, banks' records) in the writer's transaction, each
//! in its savepoint with its audit record, as on SQLite. The primary keys make a second write of
//! the same key a `Duplicate`, whatever the order racing requests arrive in.

use ::eport::forex::BankRecord;
use ::eport::refund::RefundClaim;
use chrono::{DateTime, Utc};
use clearance::Actor;
use store::audit::ChainHead;
use store::finance::{bank_record_subject, claim_subject};
use store::StoreError;

use super::Tx;
use crate::{backend, ms};

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
