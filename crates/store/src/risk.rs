//! Storage of the risk engine (docs/RISK.md): rule sets with their versions, credit classes of
//! enterprises, watch-list entries and inspection feedback, behind a use-case-shaped trait of
//! its own, [`RiskStore`], so that the main [`crate::Store`] does not grow. A backend that has
//! it answers [`crate::Store::risk_store`].
//!
//! - **Rule sets** are stored whole, as the JSON form of `risk::RuleSet`, one row per version
//!   with who and when; a write names the version it replaces ([`RulesWrite::expected_version`])
//!   and a store that moved on answers `Conflict`.
//! - **Lane choice at acceptance.** Random sampling hashes the declaration number, which the
//!   store gives inside the filing's transaction. So the service hands the store a [`LaneHook`]
//!   ([`crate::AutomaticReview::AcceptRisk`]) that the store calls with the number it took; the
//!   lane, its explanation, the assessment and the hold are then written in the same
//!   transaction as the filing ([`ChosenLane::steps`]).
//! - **Feedback** is one row per decided declaration ([`FeedbackRow`]), written with the filing
//!   ([`ChosenLane::feedback`]); the examination result is recorded with the examination's
//!   events in one transaction ([`RiskStore::append_examined`]).
//! - **The risk policy** (sampling seed and rates per credit class, price-check thresholds) is
//!   stored like rule sets: whole, as the JSON form of `risk::RiskPolicy`, one row per version
//!   with who and when, a write naming the version it replaces ([`RiskPolicyWrite`]).
//! - Price references are computed by the service from released declarations
//!   ([`RiskStore::released_bodies`]), off the hot path.
//!
//! Every write has its audit record in the same transaction. This crate does not know the risk
//! engine: rules and watch entries are kept as the engine's JSON, checked by the service.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use clearance::{
    Action, Actor, CreditClass, FindingKind, Lane, LaneReason, PaymentNotice, TaxKind,
};
use domain::codes::{DeclarationNo, OfficeCode, Uscc};
use domain::money::Fen;
use serde::{Deserialize, Serialize};

use crate::writer::Request;
use crate::{notice_no, AppendRequest, Appended, DeclarationId, StoreError};

/// At most this many bytes in one rule set (JSON).
pub const RULES_BYTES_MAX: usize = 8 * 1024 * 1024;
/// At most this many bytes in one risk policy (JSON).
pub const POLICY_BYTES_MAX: usize = 64 * 1024;
/// At most this many rows in one read of history, feedback or released declarations.
pub const RISK_PAGE_MAX: u32 = 100_000;

/// What the engine decided for one declaration, given its number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChosenLane {
    pub lane: Lane,
    pub reasons: Vec<LaneReason>,
    pub inspection: Option<String>,
    /// Officer-only; recorded in the `LaneChosen` event.
    pub explanation: Option<serde_json::Value>,
    /// Payable amounts to assess at once (green and blue lanes, not held).
    pub assessment: Option<Vec<(TaxKind, Fen)>>,
    /// Hold for anti-smuggling: `Suspend` by the risk engine after the lane.
    pub hold: Option<Hold>,
    /// The decision's feedback row (its `declaration_no` the number given to the hook): a
    /// backend with a [`RiskStore`] writes it in the filing's transaction, with its audit
    /// record, so that every decided declaration has its row for the examination's result.
    pub feedback: Option<FeedbackRow>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hold {
    pub reason: String,
    pub case_no: String,
}

impl ChosenLane {
    /// The lifecycle steps that record the decision, in order: `ChooseLane`, then `Assess`
    /// when an assessment is given, then `Suspend` when held. Both backends run exactly these.
    pub fn steps(&self, declaration_no: DeclarationNo) -> Vec<(Actor, Action)> {
        let system = |c: &str| Actor::System {
            component: c.to_owned(),
        };
        let mut steps = vec![(
            system("risk"),
            Action::ChooseLane {
                lane: self.lane,
                reasons: self.reasons.clone(),
                inspection: self.inspection.clone(),
                explanation: self.explanation.clone(),
            },
        )];
        if let Some(amounts) = &self.assessment {
            let notices = amounts
                .iter()
                .map(|(tax, amount_fen)| PaymentNotice {
                    notice_no: notice_no(declaration_no, *tax),
                    tax: *tax,
                    amount_fen: *amount_fen,
                })
                .collect();
            steps.push((system("tax"), Action::Assess { notices }));
        }
        if let Some(h) = &self.hold {
            steps.push((
                system("risk"),
                Action::Suspend {
                    reason: h.reason.clone(),
                    case_no: h.case_no.clone(),
                },
            ));
        }
        steps
    }
}

/// Chooses the lane once the declaration number is known. Called on the store's writer, inside
/// the filing's transaction: it must be quick, pure and must not call the store. It may be
/// called more than once for one filing (a group retried alone); the answer for the number
/// finally written is the one recorded.
#[derive(Clone)]
pub struct LaneHook(pub Arc<dyn Fn(&DeclarationNo) -> ChosenLane + Send + Sync>);

impl LaneHook {
    pub fn choose(&self, declaration_no: &DeclarationNo) -> ChosenLane {
        (self.0)(declaration_no)
    }
}

impl fmt::Debug for LaneHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LaneHook(..)")
    }
}

impl PartialEq for LaneHook {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for LaneHook {}

/// A new version of the whole rule set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesWrite {
    /// The version this one replaces (0: none yet).
    pub expected_version: u64,
    /// The JSON form of the rule set (`risk::RuleSet::to_json`), checked by the caller.
    pub rules_json: String,
    pub fingerprint: String,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredRules {
    pub version: u64,
    pub rules_json: String,
    pub fingerprint: String,
    /// Who wrote it (`Actor::label`).
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// A new version of the risk policy: the sampling seed and rates, the price-check thresholds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RiskPolicyWrite {
    /// The version this one replaces (0: none yet, the engine's default in force).
    pub expected_version: u64,
    /// The JSON form of `risk::RiskPolicy`, checked by the caller.
    pub policy_json: String,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredRiskPolicy {
    pub version: u64,
    pub policy_json: String,
    /// Who wrote it (`Actor::label`).
    pub actor: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredCreditClass {
    pub uscc: Uscc,
    pub class: CreditClass,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// A watch-list entry as `risk::WatchEntry` has it (the kind as its snake_case name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRow {
    pub kind: String,
    pub value: String,
    pub lane: Lane,
    pub suspend: bool,
    pub case: String,
    pub office: OfficeCode,
    pub until: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredWatchEntry {
    pub id: i64,
    pub entry: WatchRow,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// One decision and, once known, what its examination found (`risk::FeedbackRecord`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackRow {
    pub declaration_no: DeclarationNo,
    pub lane: Lane,
    /// Rules that fired, as `id@version`.
    pub rules: Vec<String>,
    pub sampled: bool,
    pub price_flagged: bool,
    pub watch_hit: bool,
    pub found: Option<bool>,
    pub findings: Vec<FindingKind>,
}

/// The result of document review or inspection, for the feedback row of a declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Examination {
    pub declaration_no: DeclarationNo,
    pub found: bool,
    pub findings: Vec<FindingKind>,
}

/// What the risk service asks of durable storage.
pub trait RiskStore: crate::writer::Queued + Send + Sync {
    /// Store a new version of the rule set; `Conflict` if `expected_version` is not the
    /// current one.
    fn put_rules(&self, write: RulesWrite) -> Result<StoredRules, StoreError> {
        check_rules(&write)?;
        self.queue().call(|r| Request::PutRules(write, r))
    }

    /// The rule set in force (the newest version), if any.
    fn rules(&self) -> Result<Option<StoredRules>, StoreError>;

    /// Versions, newest first.
    fn rules_history(&self, limit: u32) -> Result<Vec<StoredRules>, StoreError>;

    /// Store a new version of the risk policy, with its audit record in the same transaction;
    /// `Conflict` if `expected_version` is not the current one.
    fn put_risk_policy(&self, write: RiskPolicyWrite) -> Result<StoredRiskPolicy, StoreError> {
        check_policy_write(&write)?;
        self.queue().call(|r| Request::PutPolicy(write, r))
    }

    /// The risk policy in force (the newest version), if one was ever stored.
    fn risk_policy(&self) -> Result<Option<StoredRiskPolicy>, StoreError>;

    /// Policy versions, newest first.
    fn risk_policy_history(&self, limit: u32) -> Result<Vec<StoredRiskPolicy>, StoreError>;

    fn set_credit_class(
        &self,
        uscc: Uscc,
        class: CreditClass,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue()
            .call(|r| Request::SetCreditClass((uscc, class, actor.clone(), now), r))
    }

    /// Every class set by an officer, by USCC.
    fn credit_classes(&self) -> Result<Vec<StoredCreditClass>, StoreError>;

    fn add_watch_entry(
        &self,
        entry: WatchRow,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        check_watch_row(&entry)?;
        self.queue()
            .call(|r| Request::AddWatch((entry, actor.clone(), now), r))
    }

    /// `false` if there was no such entry (or it was removed before).
    fn remove_watch_entry(
        &self,
        id: i64,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.queue()
            .call(|r| Request::RemoveWatch((id, actor.clone(), now), r))
    }

    /// The entries in force (not removed), oldest first.
    fn watch_entries(&self) -> Result<Vec<StoredWatchEntry>, StoreError>;

    /// Record a decision for feedback (replaces an earlier row of the same declaration).
    fn record_decision(
        &self,
        row: FeedbackRow,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue()
            .call(|r| Request::RecordDecision((row, actor.clone(), now), r))
    }

    /// Append examination events and record the result on the declaration's feedback row (if
    /// it has one), in one transaction.
    fn append_examined(
        &self,
        req: AppendRequest,
        exam: Examination,
    ) -> Result<Appended, StoreError> {
        crate::check_append(&req)?;
        self.queue()
            .call(|r| Request::AppendExamined((req, exam), r))
    }

    /// Feedback rows in the order written, at most `limit`.
    fn feedback(&self, limit: u32) -> Result<Vec<FeedbackRow>, StoreError>;

    /// Released (or closed) declarations' bodies after `after`, by id, at most `limit`: the
    /// source of reference prices.
    fn released_bodies(
        &self,
        after: Option<DeclarationId>,
        limit: u32,
    ) -> Result<Vec<(DeclarationId, String)>, StoreError>;
}

/// Snake-case name of a credit class, as stored.
pub fn credit_class_name(c: CreditClass) -> &'static str {
    match c {
        CreditClass::AdvancedCertified => "advanced_certified",
        CreditClass::GeneralCertified => "general_certified",
        CreditClass::General => "general",
        CreditClass::Discredited => "discredited",
    }
}

pub fn parse_credit_class(s: &str) -> Option<CreditClass> {
    [
        CreditClass::AdvancedCertified,
        CreditClass::GeneralCertified,
        CreditClass::General,
        CreditClass::Discredited,
    ]
    .into_iter()
    .find(|c| credit_class_name(*c) == s)
}

pub(crate) fn check_rules_write(w: &RulesWrite) -> Result<(), StoreError> {
    if w.rules_json.len() > RULES_BYTES_MAX {
        return Err(StoreError::Invalid(format!(
            "a rule set is at most {RULES_BYTES_MAX} bytes"
        )));
    }
    if w.fingerprint.is_empty() || w.fingerprint.len() > 128 {
        return Err(StoreError::Invalid("fingerprint of 1 to 128 bytes".into()));
    }
    Ok(())
}

pub(crate) fn check_limit(limit: u32) -> Result<(), StoreError> {
    if limit == 0 || limit > RISK_PAGE_MAX {
        return Err(StoreError::Invalid(format!(
            "limit must be 1 to {RISK_PAGE_MAX}"
        )));
    }
    Ok(())
}

/// Checks shared by the backends before writing (so every backend refuses the same inputs).
pub fn check_watch_row(e: &WatchRow) -> Result<(), StoreError> {
    if e.value.trim().is_empty() || e.value.len() > 200 || e.case.len() > 64 {
        return Err(StoreError::Invalid(
            "watch entry: value of 1 to 200 bytes, case of at most 64".into(),
        ));
    }
    if !matches!(
        e.kind.as_str(),
        "enterprise" | "overseas_party" | "vessel" | "bill"
    ) {
        return Err(StoreError::Invalid(format!(
            "watch entry: unknown kind {}",
            e.kind
        )));
    }
    Ok(())
}

/// Checks shared by the backends before a policy is written: a JSON object of at most
/// [`POLICY_BYTES_MAX`] bytes (its meaning is the service's to check).
pub fn check_policy_write(w: &RiskPolicyWrite) -> Result<(), StoreError> {
    if w.policy_json.len() > POLICY_BYTES_MAX {
        return Err(StoreError::Invalid(format!(
            "a risk policy is at most {POLICY_BYTES_MAX} bytes"
        )));
    }
    match serde_json::from_str::<serde_json::Value>(&w.policy_json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        _ => Err(StoreError::Invalid("a risk policy is a JSON object".into())),
    }
}

/// Validation re-exported for the PostgreSQL backend.
pub fn check_rules(w: &RulesWrite) -> Result<(), StoreError> {
    check_rules_write(w)
}

pub fn check_page(limit: u32) -> Result<(), StoreError> {
    check_limit(limit)
}
