//! Storage of the E-Port ledgers (docs/EPORT.md): the commerce agency's licences with their
//! reservations and write-offs, and the market-regulation registry, behind a use-case-shaped
//! trait of its own, [`EportStore`], so that the main [`crate::Store`] does not grow. A backend
//! that has it answers [`crate::Store::eport_store`].
//!
//! - **Race-free reservation.** [`EportStore::file_checked`] runs the licence and registry
//!   checks ([`eport::check_licences`], [`eport::check_registry`]) on the ledger as it stands
//!   inside the filing's own transaction (the SQLite single writer; on PostgreSQL under a row
//!   lock of each licence), turns a failed check into a rejection, and reserves the quantities
//!   of an accepted filing in the same transaction. However many filings race for a licence,
//!   the reserved and written-off quantities never exceed it.
//! - **Write-off.** Every step that changes a declaration's status settles its reservations
//!   in the step's own transaction (the backends' common event-writing path, whatever use case
//!   wrote the step): released (or closed) writes them off, cancelled or withdrawn gives them
//!   back.
//! - **Withdrawal.** [`EportStore::withdraw_licence`] records the issuer's withdrawal, decided
//!   by [`withdrawal`] on the licence as it stands in the writer's transaction (only its
//!   issuer, once). From then on the filing check refuses it (`licence_withdrawn`, the standing
//!   carries the withdrawal), and a step that would write off a use of it (a release) fails in
//!   its own transaction ([`check_write_off`]); uses given back still are, and what was written
//!   off before stays.
//! - Every write has its audit record in the same transaction.

use ::eport::{Licence, Need, RegistryEntry, Standing, Withdrawal};
use chrono::{DateTime, NaiveDate, Utc};
use clearance::Actor;
use domain::codes::Uscc;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::cargo::{PendingMatch, SubmittedMatched};
use crate::writer::Request;
use crate::{AutomaticReview, DeclarationId, Filed, StoreError, SubmitRequest};

/// A refusal of the E-Port ledgers inside a write ([`StoreError::Eport`]): code, field and both
/// languages, as the other ledgers' refusals.
pub type EportRefusal = crate::cases::CaseRefusal;

/// The codes the E-Port ledgers refuse a write with, as `'static` text (the store's error
/// codes are): the refusals of `eport::withdraw`, `eport::write_off_refusal`,
/// `eport::refund::pay` and `eport::refund::paid_refund_refusal`.
const EPORT_CODES: &[&str] = &[
    "licence_not_found",
    "not_issuer",
    "licence_already_withdrawn",
    "bad_reason",
    "licence_withdrawn",
    "refund_claim_not_found",
    "refund_already_paid",
    "refund_over_ceiling",
    "amount_not_positive",
    "bad_bank_reference",
    "paid_before_claim",
    "paid_in_future",
    "refund_paid",
];

/// An E-Port refusal as the store's error.
pub fn refused(r: ::eport::Refusal) -> StoreError {
    let code = EPORT_CODES
        .iter()
        .copied()
        .find(|c| *c == r.code)
        .unwrap_or("eport_refused");
    StoreError::Eport(EportRefusal {
        code,
        field: r.field,
        message_zh: r.message_zh,
        message_en: r.message_en,
    })
}

/// A licence's withdrawal as the writer decides it on the licence read in its transaction: the
/// standing with the withdrawal, or the refusal ([`::eport::withdraw`]).
pub fn withdrawal(
    standing: Option<Standing>,
    licence_no: &str,
    w: &Withdrawal,
) -> Result<Standing, StoreError> {
    ::eport::withdraw(standing.as_ref(), licence_no, w).map_err(refused)?;
    let mut s = standing.expect("withdraw refuses a missing licence");
    s.withdrawn = Some(w.clone());
    Ok(s)
}

/// Whether a use of the licence may settle to `to`: never written off once the licence is
/// withdrawn (the release is refused); given back always.
pub fn check_write_off(to: UseState, s: &Standing) -> Result<(), StoreError> {
    if to != UseState::WrittenOff {
        return Ok(());
    }
    match ::eport::write_off_refusal(s) {
        Some(r) => Err(refused(r)),
        None => Ok(()),
    }
}

/// At most this many licences in one listing.
pub const LICENCES_MAX: u32 = 10_000;

/// What [`EportStore::file_checked`] checks, computed by the service from the typed
/// declaration and the tariff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilingCheck {
    /// The trader (收发货人): the licence holder and the registry entry checked.
    pub trader: Uscc,
    /// The date the licences must be valid on (China time).
    pub date: NaiveDate,
    /// The items that need a licence, and those that name a tariff-quota certificate (kind
    /// [`::eport::LicenceKind::TariffQuota`], [`::eport::quota_needs`]): both kinds are checked
    /// and reserved on the same ledger.
    pub needs: Vec<Need>,
}

/// What one declaration took from one licence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LicenceUse {
    pub declaration_id: DeclarationId,
    pub licence_no: String,
    pub quantity: Decimal,
    pub state: UseState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UseState {
    Reserved,
    WrittenOff,
    Released,
}

impl UseState {
    pub fn as_str(self) -> &'static str {
        match self {
            UseState::Reserved => "reserved",
            UseState::WrittenOff => "written_off",
            UseState::Released => "released",
        }
    }
    pub fn parse(s: &str) -> Option<UseState> {
        match s {
            "reserved" => Some(UseState::Reserved),
            "written_off" => Some(UseState::WrittenOff),
            "released" => Some(UseState::Released),
            _ => None,
        }
    }
}

pub trait EportStore: crate::writer::Queued + Send + Sync {
    /// Record a new licence (checked with [`Licence::validate`]). `Duplicate` if the number
    /// exists.
    fn issue_licence(
        &self,
        licence: Licence,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Standing, StoreError> {
        licence.validate().map_err(StoreError::Invalid)?;
        self.queue()
            .call(|r| Request::IssueLicence((licence, actor.clone(), now), r))
    }

    fn licence(&self, licence_no: &str) -> Result<Option<Standing>, StoreError>;

    /// Record the withdrawal of a licence by its issuer (`w.withdrawn_by`), decided by
    /// [`withdrawal`] inside the writer's transaction: `Eport` refusals `licence_not_found`,
    /// `not_issuer`, `licence_already_withdrawn`, `bad_reason`. Audited
    /// (`eport.withdraw_licence`).
    fn withdraw_licence(
        &self,
        licence_no: &str,
        w: Withdrawal,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<Standing, StoreError> {
        if let Some(p) = w.problems().into_iter().next() {
            return Err(refused(p));
        }
        let no = licence_no.to_owned();
        self.queue()
            .call(|r| Request::WithdrawLicence((no, w, actor.clone(), now), r))
    }

    /// The licences held by an enterprise, by number.
    fn licences_held_by(&self, holder: &Uscc) -> Result<Vec<Standing>, StoreError>;

    /// The licences issued by an agency, by number.
    fn licences_issued_by(&self, issuer: &str) -> Result<Vec<Standing>, StoreError>;

    /// Record or change an enterprise in the registry.
    fn put_registry(
        &self,
        entry: RegistryEntry,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        entry.validate().map_err(StoreError::Invalid)?;
        self.queue()
            .call(|r| Request::PutRegistry((entry, actor.clone(), now), r))
    }

    fn registry_entry(&self, uscc: &Uscc) -> Result<Option<RegistryEntry>, StoreError>;

    /// File a declaration like [`crate::Store::submit_reviewed`], with the licence and
    /// registry checks run in the same transaction: a failed check rejects (its refusals join
    /// the review's problems), an accepted filing reserves its quantities. The registry check
    /// applies once the registry has an entry. A retry returns the current state and reserves
    /// nothing.
    fn file_checked(
        &self,
        req: SubmitRequest,
        review: AutomaticReview,
        check: FilingCheck,
    ) -> Result<Filed, StoreError> {
        crate::check_body(&req)?;
        self.queue()
            .call(|r| Request::EportFile(Box::new((req, review, check, None)), r))
            .map(|f| f.filed)
    }

    /// [`EportStore::file_checked`] for a filing matched to its bill of lading: the checks,
    /// then [`crate::cargo::CargoStore::submit_matched`], then the reservation, in one
    /// transaction.
    fn file_checked_matched(
        &self,
        req: SubmitRequest,
        review: AutomaticReview,
        check: FilingCheck,
        matched: Option<PendingMatch>,
    ) -> Result<SubmittedMatched, StoreError> {
        crate::check_body(&req)?;
        self.queue()
            .call(|r| Request::EportFile(Box::new((req, review, check, Some(matched))), r))
    }

    /// What a declaration took from licences.
    fn uses(&self, id: DeclarationId) -> Result<Vec<LicenceUse>, StoreError>;
}

/// The automatic review with the E-Port's refusals (registry, licences) added, and the
/// licence quantities to reserve when it stands.
pub fn checked_review(
    review: &AutomaticReview,
    check: &FilingCheck,
    entry: Option<&RegistryEntry>,
    enforced: bool,
    mut standing: impl FnMut(&str) -> Option<Standing>,
) -> (AutomaticReview, Vec<::eport::Claim>) {
    let mut refusals: Vec<::eport::Refusal> =
        ::eport::check_registry(&check.trader, entry, enforced)
            .into_iter()
            .collect();
    let (quotas, licences): (Vec<Need>, Vec<Need>) = check
        .needs
        .iter()
        .cloned()
        .partition(|n| n.kind == ::eport::LicenceKind::TariffQuota);
    let mut claims = Vec::new();
    match ::eport::check_licences(&licences, &check.trader, check.date, &mut standing) {
        Ok(c) => claims.extend(c),
        Err(r) => refusals.extend(r),
    }
    if !quotas.is_empty() {
        match ::eport::check_quota_certificates(&quotas, &check.trader, check.date, &mut standing) {
            Ok(c) => claims.extend(c),
            Err(r) => refusals.extend(r),
        }
    }
    if refusals.is_empty() {
        return (review.clone(), claims);
    }
    // Nothing is reserved for a rejected filing.
    let claims = Vec::new();
    let mut problems = match review {
        AutomaticReview::Reject { problems } => problems.clone(),
        _ => Vec::new(),
    };
    problems.extend(refusals.into_iter().map(|r| clearance::ReviewProblem {
        field: r.field,
        code: r.code,
        message_zh: r.message_zh,
        message_en: r.message_en,
    }));
    problems.truncate(clearance::PROBLEMS_MAX);
    (AutomaticReview::Reject { problems }, claims)
}
