//! Storage of the tax and foreign-exchange ledgers of the E-Port (docs/EPORT.md "Export tax
//! refund", "Foreign exchange"), behind a trait of its own, [`FinanceStore`]; a backend that
//! has it answers [`crate::Store::finance_store`].
//!
//! - **Refund claims** ([`eport::refund::RefundClaim`]): verified claims, one per declaration
//!   item. The key `(declaration_no, item_no)` is unique in the database, so that of claims
//!   racing for the same item exactly one is recorded; the others are `Duplicate`.
//! - **Bank records** ([`eport::forex::BankRecord`]): receipts and payments; the key
//!   `(bank, bank_ref)` is unique.
//! - **Bank payments** ([`BankPaymentRow`]): a bank's confirmation of a payment notice, written
//!   by the append of the `NoticePaid` event that carries it (the event, the notice's payment
//!   columns, this row, the audit record and the outbox message in one transaction). The key
//!   `(bank, reference)` is unique, and so is the notice: a reference used twice, or a notice
//!   paid twice, is `Duplicate`. The reads below serve idempotence and the daily
//!   reconciliation per bank (docs/TAX.md "Payment through the bank").
//! - **Refund paid** ([`FinanceStore::pay_refund`]): the tax agency's payment of a verified
//!   claim, decided by [`payment`] on the claim read in the writer's transaction (once, within
//!   the claim's ceiling), written into the claim (`status = paid`). A declaration with a paid
//!   refund is not amended or cancelled: the backends' event-writing path runs
//!   [`check_change`] on the declaration's claims, in the step's transaction, before anything
//!   else of the step ([`changes_declaration`] says which events it looks at).
//! - Every write has its audit record in the same transaction, in the one hash chain. These
//!   ledgers are low-volume: the SQLite backend writes them through its one writer, the
//!   PostgreSQL backend in ordinary transactions under the writers' lock.

use ::eport::forex::BankRecord;
use ::eport::refund::{RefundClaim, RefundPayment};
use chrono::{DateTime, NaiveDate, Utc};
use clearance::{Actor, Event, EventKind};
use domain::codes::{DeclarationNo, Uscc};

use crate::writer::Request;
use crate::StoreError;

/// At most this many claims or bank records in one listing (newest first).
pub const FINANCE_LIST_MAX: u32 = 10_000;
/// At most this many bank records read for one match (a period of one enterprise, or all).
pub const BANK_RECORDS_READ_MAX: u32 = 100_000;

pub trait FinanceStore: crate::writer::Queued + Send + Sync {
    /// Record a verified claim (checked with [`RefundClaim::validate`]). `Duplicate` if the
    /// declaration item has a claim, even one written a moment ago by a racing request.
    fn record_refund_claim(
        &self,
        claim: RefundClaim,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<RefundClaim, StoreError> {
        check_claim(&claim)?;
        self.queue().call(|r| {
            Request::RecordRefundClaim((Box::new(claim.clone()), actor.clone(), now), r)
        })?;
        Ok(claim)
    }

    /// The claims of one enterprise, newest first.
    fn refund_claims_of(&self, claimant: &Uscc) -> Result<Vec<RefundClaim>, StoreError>;

    /// The claims on one declaration, by item.
    fn refund_claims_on(
        &self,
        declaration_no: &DeclarationNo,
    ) -> Result<Vec<RefundClaim>, StoreError>;

    /// Record the tax agency's payment of the verified claim on `(declaration_no, item_no)`,
    /// decided by [`payment`] inside the writer's transaction: `Eport` refusals
    /// `refund_claim_not_found`, `refund_already_paid` (even against a racing payment),
    /// `refund_over_ceiling`, and the payment's own problems. Audited (`eport.refund_paid`).
    fn pay_refund(&self, w: RefundPaymentWrite) -> Result<RefundClaim, StoreError> {
        self.queue().call(|r| Request::PayRefund(Box::new(w), r))
    }

    /// Every verified claim, newest first, at most `limit` (≤ [`FINANCE_LIST_MAX`]).
    fn refund_claims(&self, limit: u32) -> Result<Vec<RefundClaim>, StoreError>;

    /// Record a bank's receipt or payment (checked with [`BankRecord::problems`]).
    /// `Duplicate` if the bank has a record with the reference.
    fn record_bank_record(
        &self,
        record: BankRecord,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<BankRecord, StoreError> {
        check_bank_record(&record)?;
        self.queue().call(|r| {
            Request::RecordBankRecord((Box::new(record.clone()), actor.clone(), now), r)
        })?;
        Ok(record)
    }

    /// One bank's records, newest value date first.
    fn bank_records_of(&self, bank: &str) -> Result<Vec<BankRecord>, StoreError>;

    /// Records with a value date in `from ..= to`, of one enterprise or (`None`) all, oldest
    /// first, at most [`BANK_RECORDS_READ_MAX`] (`Invalid` beyond: ask for a shorter period).
    fn bank_records_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        uscc: Option<&Uscc>,
    ) -> Result<Vec<BankRecord>, StoreError>;

    /// The bank's confirmation with this reference, if any.
    fn bank_payment(
        &self,
        bank: &str,
        reference: &str,
    ) -> Result<Option<BankPaymentRow>, StoreError>;

    /// The bank's confirmations of the (China) day `on`, by reference; at most
    /// [`BANK_RECORDS_READ_MAX`].
    fn bank_payments_on(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError>;

    /// The payment notices recorded paid through the bank on the day `on` (the notice's own
    /// payment columns), by notice number; at most [`BANK_RECORDS_READ_MAX`].
    fn notices_paid_through(
        &self,
        bank: &str,
        on: NaiveDate,
    ) -> Result<Vec<BankPaymentRow>, StoreError>;
}

/// One payment by a bank: from its confirmations (`bank_payments`) or from a paid notice's
/// payment columns (`payment_notices`); reconciliation compares the two.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BankPaymentRow {
    pub bank: String,
    pub reference: String,
    pub notice_no: String,
    pub declaration_id: crate::DeclarationId,
    /// The amount paid (tax + surcharge), in fen.
    pub amount_fen: domain::money::Fen,
    pub paid_on: NaiveDate,
    pub paid_at: DateTime<Utc>,
}

/// Checks before writing a claim, the same in every backend.
pub fn check_claim(claim: &RefundClaim) -> Result<(), StoreError> {
    claim.validate().map_err(StoreError::Invalid)
}

/// Checks before writing a bank record, the same in every backend.
pub fn check_bank_record(record: &BankRecord) -> Result<(), StoreError> {
    match record.problems().first() {
        None => Ok(()),
        Some(p) => Err(StoreError::Invalid(p.message_en.clone())),
    }
}

/// The subject of a claim's audit record.
pub fn claim_subject(claim: &RefundClaim) -> String {
    format!("refund_claim:{}/{}", claim.declaration_no, claim.item_no)
}

/// The subject of a bank record's audit record.
pub fn bank_record_subject(record: &BankRecord) -> String {
    format!("bank_record:{}/{}", record.bank, record.bank_ref)
}

/// A payment of a verified claim to record ([`FinanceStore::pay_refund`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundPaymentWrite {
    pub declaration_no: DeclarationNo,
    pub item_no: u32,
    pub payment: RefundPayment,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// The claim after its payment, as the writer decides it on the claim read in its transaction
/// ([`::eport::refund::pay`]).
pub fn payment(
    claim: Option<RefundClaim>,
    w: &RefundPaymentWrite,
) -> Result<RefundClaim, StoreError> {
    ::eport::refund::pay(claim.as_ref(), w.declaration_no, w.item_no, &w.payment)
        .map_err(crate::eport::refused)?;
    let mut c = claim.expect("pay refuses a missing claim");
    c.status = ::eport::refund::ClaimStatus::Paid;
    c.payment = Some(w.payment.clone());
    Ok(c)
}

/// Whether these events amend or cancel the declaration (or ask for it): the steps a paid
/// refund refuses. An amendment or cancellation request, its approval, a new version.
pub fn changes_declaration(events: &[Event]) -> bool {
    events.iter().any(|e| {
        matches!(
            e.kind,
            EventKind::AmendmentRequested { .. }
                | EventKind::CancellationRequested { .. }
                | EventKind::RequestApproved { .. }
                | EventKind::Versioned { .. }
        )
    })
}

/// The refusal of a change of a declaration with these claims when one of them was paid
/// (`Eport` `refund_paid`, naming the payment).
pub fn check_change(claims: &[RefundClaim]) -> Result<(), StoreError> {
    match claims.iter().find_map(::eport::refund::paid_refund_refusal) {
        Some(r) => Err(crate::eport::refused(r)),
        None => Ok(()),
    }
}
