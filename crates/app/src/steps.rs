//! Steps on a filed declaration (officers and the enterprise) and the queries on declarations,
//! top to bottom: load what the principal may see, authorize the step, decide with the pure
//! lifecycle, then the one write, assembled from what each feature contributes:
//!
//! 1. **risk** ([`crate::risk_desk`]): an examination's result goes to the feedback log;
//! 2. **exchange** ([`crate::exchange_desk`]): the outbox rows the change sends;
//! 3. **cargo** ([`crate::cargo_desk`]): the write-off of the bill at release, or its freeing at
//!    cancellation or withdrawal;
//! 4. the store writes the events with all of it in one transaction (optimistic concurrency: a
//!    concurrent change is decided again, a few times at most); a release counts towards the
//!    next refresh of the reference prices.

use chrono::{DateTime, Utc};
use clearance::{
    decide, Action, Actor, Command, DeclarationState, Event, EventKind, ExaminationResult,
    FieldChange, Lane, Status,
};
use domain::codes::{OfficeCode, Uscc};
use domain::declaration::Declaration;
use serde::Serialize;
use store::outbox::OutboxMessage;
use store::{
    AppendRequest, Appended, DeclarationId, DeclarationKey, DeclarationSummary, ListFilter, Page,
    PageRequest, StoreError, StoredDeclaration, StoredEvent, StoredNotice,
};

use crate::access::{Operation, Principal, Resource};
use crate::assessment;
use crate::attorney::AttorneyService;
use crate::cargo_desk::CargoService;
use crate::error::AppError;
use crate::exchange_desk::ExchangeService;
use crate::kernel::{internal, Allowed, Core, Scope, CONFLICT_RETRIES};
use crate::risk_desk::RiskService;

/// A step on an existing declaration, as an officer or the enterprise asks for it. There is no
/// withdrawal: a filing is reviewed when it is filed and never rests before acceptance, so the
/// lifecycle's `withdraw` (kept, with `withdrawn`, so that stored events stay readable) has no
/// state to act in; after acceptance the enterprise asks for a cancellation (docs/DOMAIN.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    RequestAmendment {
        reason: String,
        changes: Vec<FieldChange>,
    },
    RequestCancellation {
        reason: String,
    },
    /// The declarant names the bank it pays a notice through (docs/TAX.md "Payment through
    /// the bank"); the bank user then confirms the payment ([`crate::payments`]).
    InitiatePayment {
        notice_no: String,
        bank: String,
    },
    RecordReview {
        result: ExaminationResult,
    },
    OrderInspection {
        reason: String,
    },
    RecordInspection {
        result: ExaminationResult,
    },
    /// Compute the taxes with the engine and issue the notices.
    Assess,
    Release,
    ReleaseAgainstGuarantee {
        guarantee_no: String,
    },
    Close,
    ConfirmExit {
        manifest_ref: String,
    },
    ApproveRequest {
        reason: String,
    },
    RefuseRequest {
        reason: String,
    },
    Suspend {
        reason: String,
        case_no: String,
    },
    Unsuspend {
        reason: String,
    },
    /// An officer's correction from a review or inspection finding: a new version, re-assessed
    /// (`taxpayer_breach`: the finding is the taxpayer's breach, so a shortfall is recovered
    /// (追征) rather than levied (补征)).
    Correct {
        kind: clearance::version::CorrectionKind,
        reason: String,
        changes: Vec<FieldChange>,
        taxpayer_breach: bool,
    },
    /// The enterprise asks for a refund re-assessment found.
    RequestRefund {
        refund_no: String,
    },
    /// A tax officer approves or refuses a refund.
    DecideRefund {
        refund_no: String,
        approve: bool,
        reason: String,
    },
}

impl Step {
    pub fn operation(&self) -> Operation {
        match self {
            Step::RequestAmendment { .. } => Operation::RequestAmendment,
            Step::RequestCancellation { .. } => Operation::RequestCancellation,
            Step::InitiatePayment { .. } => Operation::Pay,
            Step::RecordReview { .. } => Operation::RecordReview,
            Step::OrderInspection { .. } => Operation::OrderInspection,
            Step::RecordInspection { .. } => Operation::RecordInspection,
            Step::Assess => Operation::Assess,
            Step::Release => Operation::Release,
            Step::ReleaseAgainstGuarantee { .. } => Operation::ReleaseAgainstGuarantee,
            Step::Close | Step::ConfirmExit { .. } => Operation::Close,
            Step::ApproveRequest { .. } | Step::RefuseRequest { .. } => Operation::DecideRequest,
            Step::Suspend { .. } | Step::Unsuspend { .. } => Operation::Suspend,
            Step::Correct { .. } => Operation::Correct,
            Step::RequestRefund { .. } => Operation::RequestRefund,
            Step::DecideRefund { .. } => Operation::DecideRefund,
        }
    }
}

/// The answer to a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepDone {
    pub id: DeclarationId,
    pub status: Status,
    pub version: u64,
}

/// What a declaration's receipts are made of ([`StepService::receipt_sources`]).
pub struct ReceiptSources {
    pub events: Vec<store::StoredEvent>,
    pub ie_date: Option<String>,
    pub declaration_date: Option<String>,
}

/// One declaration with everything known about it.
#[derive(Clone, Debug, Serialize)]
pub struct DeclarationDetail {
    pub id: DeclarationId,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub state: DeclarationState,
    /// The declaration as filed (typed form; the wire form for rejected filings). Read-only:
    /// the typed form is not the filing form (its charges are `{kind, …}`); use `form`.
    pub declaration: serde_json::Value,
    /// The same declaration in the filing form (`domain::form_of`; the body as filed for one
    /// that automatic review rejected): `POST /api/declarations` files it again as it is.
    pub form: serde_json::Value,
    pub events: Vec<StoredEvent>,
    pub notices: Vec<StoredNotice>,
    /// Each notice as of today: issued, due, the late payment surcharge so far and the amount
    /// due (docs/TAX.md "Late payment surcharge").
    pub notice_views: Vec<crate::notices::NoticeView>,
    /// The tax breakdown, every step shown; `None` for rejected filings or when the engine
    /// cannot assess (an exchange rate missing, for instance).
    pub tax: Option<tax::Assessment>,
    /// An export by an advanced-certified enterprise to a country whose customs recognises
    /// China's AEO programme: the partner (docs/PARTIES.md "Mutual recognition").
    pub mutual_recognition: Option<store::aeo::MraPartner>,
}

/// One version as listed: the filing (no record) or a new version with its record.
#[derive(Clone, Debug, Serialize)]
pub struct VersionView {
    pub version: u32,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub record: Option<Box<clearance::version::VersionRecord>>,
}

/// Filters of a listing, as a caller gives them; the service adds the caller's scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub lane: Option<Lane>,
    pub office: Option<OfficeCode>,
    pub declarant: Option<Uscc>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_to: Option<DateTime<Utc>>,
}

/// Steps on declarations and the queries on them.
#[derive(Clone, Copy)]
pub struct StepService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) attorney: AttorneyService<'a>,
    pub(crate) risk: RiskService<'a>,
    pub(crate) exchange: ExchangeService<'a>,
    pub(crate) cargo: CargoService<'a>,
}

impl StepService<'_> {
    /// Take a step on a declaration: authorize, decide on the current state, append
    /// (optimistic concurrency; a concurrent change is decided again, a few times at most).
    pub fn step(
        &self,
        principal: &Principal,
        key: DeclarationKey,
        step: Step,
    ) -> Result<StepDone, AppError> {
        let op = step.operation();
        for _ in 0..CONFLICT_RETRIES {
            let d = self.load_visible(principal, key)?;
            let header =
                d.state.header.clone().ok_or_else(|| {
                    AppError::Internal(format!("declaration {} has no header", d.id))
                })?;
            let resource = self.attorney.resource_for(principal, &header)?;
            let allowed = self.core.authorize(principal, (op, resource))?;
            if let Step::Suspend { case_no, .. } = &step {
                self.open_case_for_suspension(&allowed, case_no)?;
            }
            // Release against a guarantee is a facility of the credit class (docs/PARTIES.md
            // "What the class binds"): not for a discredited declarant.
            if matches!(step, Step::ReleaseAgainstGuarantee { .. })
                && self.risk.class_of(&header.declarant) == clearance::CreditClass::Discredited
            {
                return Err(AppError::Conflict {
                    code: "discredited",
                    message_en: format!(
                        "{} is a discredited enterprise: no release against a guarantee",
                        header.declarant
                    ),
                    message_zh: format!("{} 为失信企业，不适用担保放行", header.declarant),
                });
            }
            // A declaration whose export tax refund was paid is not amended or cancelled
            // (docs/EPORT.md "Refund paid"): said here, before the lifecycle, so that the
            // answer names the payment; the store checks it again in the step's transaction.
            if matches!(
                step,
                Step::RequestAmendment { .. }
                    | Step::RequestCancellation { .. }
                    | Step::ApproveRequest { .. }
                    | Step::Correct { .. }
            ) {
                self.no_paid_refund(&d)?;
            }
            let actor = self.actor_for(&allowed, op, &header)?;
            let now = self.core.now();
            // Versions and refunds (issue 14): decided here, with the version built from the
            // stored declaration; everything else below.
            if let Some(events) = self.version_events(&d, &header, &actor, &step, now)? {
                match self.write(&allowed, &d, None, events) {
                    Ok(a) => {
                        return Ok(StepDone {
                            id: d.id,
                            status: a.status,
                            version: a.version,
                        })
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
            let action = match step.clone() {
                Step::RequestAmendment { reason, changes } => {
                    Action::RequestAmendment { reason, changes }
                }
                Step::RequestCancellation { reason } => Action::RequestCancellation { reason },
                Step::InitiatePayment { notice_no, bank } => {
                    Action::InitiatePayment { notice_no, bank }
                }
                Step::RecordReview { result } => Action::RecordReview { result },
                Step::OrderInspection { reason } => Action::OrderInspection { reason },
                Step::RecordInspection { result } => Action::RecordInspection { result },
                Step::Assess => {
                    // The engine runs on the declaration as filed; numbers follow the store's
                    // rule so that notices are the same however they were assessed.
                    let Some(declaration_no) = d.state.declaration_no else {
                        return Err(AppError::Refused(clearance::Refusal::NotAllowedInStatus {
                            status: d.state.status,
                            action: "assess",
                        }));
                    };
                    let decl: Declaration = serde_json::from_str(&d.body_json).map_err(|e| {
                        AppError::Internal(format!("declaration {} body: {e}", d.id))
                    })?;
                    let mut amounts = assessment::assess_amounts(self.core, &decl, Some(d.id))?;
                    if let Some(fee) = self.cargo.late_fee_at_assessment(&d, &decl) {
                        amounts.push((clearance::TaxKind::LateDeclarationFee, fee));
                    }
                    Action::Assess {
                        notices: amounts
                            .into_iter()
                            .map(|(tax, amount_fen)| clearance::PaymentNotice {
                                notice_no: store::notice_no(declaration_no, tax),
                                tax,
                                amount_fen,
                            })
                            .collect(),
                    }
                }
                Step::Release => Action::Release,
                Step::ReleaseAgainstGuarantee { guarantee_no } => {
                    Action::ReleaseAgainstGuarantee { guarantee_no }
                }
                Step::Close => Action::Close,
                Step::ConfirmExit { manifest_ref } => Action::ConfirmExit { manifest_ref },
                Step::ApproveRequest { reason } => Action::ApproveRequest { reason },
                Step::RefuseRequest { reason } => Action::RefuseRequest { reason },
                Step::Suspend { reason, case_no } => Action::Suspend { reason, case_no },
                Step::Unsuspend { reason } => Action::Unsuspend { reason },
                Step::Correct { .. } | Step::RequestRefund { .. } | Step::DecideRefund { .. } => {
                    return Err(AppError::Internal(
                        "a version step reached the plain path".into(),
                    ))
                }
            };
            let mut events =
                decide(&d.state, &Command { actor, action }, now).map_err(AppError::Refused)?;
            // Cargo: an exit is confirmed only by a departed export manifest listing the
            // declaration's bill, decided on the live manifest ledger; the event records the
            // proof's reference, `MANIFEST/BILL` (`cargo_desk::exits`).
            if let Step::ConfirmExit { manifest_ref } = &step {
                let proof = self.cargo.prove_exit(&d, manifest_ref)?;
                for e in &mut events {
                    if let EventKind::ExitConfirmed { manifest_ref } = &mut e.kind {
                        *manifest_ref = proof.manifest_ref();
                    }
                }
            }
            let examined = match &step {
                Step::RecordReview { result } | Step::RecordInspection { result } => Some(result),
                _ => None,
            };
            match self.write(&allowed, &d, examined, events) {
                Ok(a) => {
                    return Ok(StepDone {
                        id: d.id,
                        status: a.status,
                        version: a.version,
                    })
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict {
            code: "version_conflict",
            message_en: "the declaration keeps changing; try again".into(),
            message_zh: "报关单正被频繁更新，请稍后重试".into(),
        })
    }

    /// The events of a step that makes a version or acts on a refund; `None` for other steps.
    /// An amendment request is checked against the current version's fields here too.
    fn version_events(
        &self,
        d: &StoredDeclaration,
        header: &clearance::Header,
        actor: &Actor,
        step: &Step,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Event>>, AppError> {
        use clearance::version::{RefundOrigin, VersionSource};
        use tax::collection::ShortLevyCause;
        let decide_one = |state: &DeclarationState, action: Action| {
            decide(
                state,
                &Command {
                    actor: actor.clone(),
                    action,
                },
                now,
            )
            .map_err(AppError::Refused)
        };
        let versionable = |state: &DeclarationState| {
            if matches!(
                state.status,
                Status::Accepted
                    | Status::DocumentReview
                    | Status::Inspection
                    | Status::AwaitingAssessment
                    | Status::Assessed
                    | Status::Paid
                    | Status::Released
            ) {
                Ok(())
            } else {
                Err(AppError::Refused(clearance::Refusal::NotAllowedInStatus {
                    status: state.status,
                    action: "record_version",
                }))
            }
        };
        let refund = |refund_no: &str| {
            d.state
                .refunds
                .iter()
                .find(|r| r.record.refund_no == refund_no)
                .map(|r| r.record.clone())
        };
        let today = domain::time::china_date(now);
        Ok(Some(match step {
            Step::RequestAmendment { changes, .. } => {
                // The lifecycle says first whether an amendment may be asked for at all.
                decide_one(
                    &d.state,
                    Action::RequestAmendment {
                        reason: "check".into(),
                        changes: changes.clone(),
                    },
                )
                .or_else(|e| match e {
                    // Its own text checks come with the real request below.
                    AppError::Refused(
                        clearance::Refusal::Missing { .. }
                        | clearance::Refusal::TooLong { .. }
                        | clearance::Refusal::TooMany { .. },
                    ) => Ok(Vec::new()),
                    other => Err(other),
                })?;
                crate::versions::check_request(self.core, d, changes, now)?;
                return Ok(None);
            }
            Step::ApproveRequest { reason } => {
                let Some(pending) = d
                    .state
                    .pending_request
                    .as_ref()
                    .filter(|p| p.kind == clearance::RequestKind::Amendment)
                else {
                    return Ok(None);
                };
                let mut events = decide_one(
                    &d.state,
                    Action::ApproveRequest {
                        reason: reason.clone(),
                    },
                )?;
                let after = events.iter().fold(d.state.clone(), clearance::apply);
                versionable(&after)?;
                let mut record = crate::versions::build(
                    self.core,
                    d,
                    &after,
                    &pending.changes,
                    VersionSource::Amendment {
                        requested_by: Actor::Enterprise {
                            uscc: header.declarant,
                        },
                        approved_by: actor.clone(),
                        reason: pending.reason.clone(),
                    },
                    crate::versions::Cause {
                        short_levy: ShortLevyCause::NoBreach,
                        refund: RefundOrigin::Taxpayer,
                    },
                    now,
                )?;
                self.reevaluate(&mut record, &after, &header.declarant);
                events.extend(decide_one(
                    &after,
                    Action::RecordVersion {
                        record: Box::new(record),
                    },
                )?);
                events
            }
            Step::Correct {
                kind,
                reason,
                changes,
                taxpayer_breach,
            } => {
                versionable(&d.state)?;
                let mut record = crate::versions::build(
                    self.core,
                    d,
                    &d.state,
                    changes,
                    VersionSource::OfficerCorrection {
                        officer: actor.clone(),
                        kind: *kind,
                        reason: reason.clone(),
                    },
                    crate::versions::Cause {
                        short_levy: if *taxpayer_breach {
                            ShortLevyCause::TaxpayerBreach
                        } else {
                            ShortLevyCause::NoBreach
                        },
                        refund: RefundOrigin::CustomsFound,
                    },
                    now,
                )?;
                self.reevaluate(&mut record, &d.state, &header.declarant);
                decide_one(
                    &d.state,
                    Action::RecordVersion {
                        record: Box::new(record),
                    },
                )?
            }
            Step::RequestRefund { refund_no } => {
                let events = decide_one(
                    &d.state,
                    Action::RequestRefund {
                        refund_no: refund_no.clone(),
                    },
                )?;
                if let Some(r) = refund(refund_no) {
                    crate::versions::refund_period(&r, today)?;
                }
                events
            }
            Step::DecideRefund {
                refund_no,
                approve,
                reason,
            } => {
                let (interest_days, interest_fen) = match refund(refund_no) {
                    Some(r) if *approve => crate::versions::refund_interest(&r, today)?,
                    _ => (0, domain::money::Fen::ZERO),
                };
                decide_one(
                    &d.state,
                    Action::DecideRefund {
                        refund_no: refund_no.clone(),
                        approve: *approve,
                        reason: reason.clone(),
                        interest_days,
                        interest_fen,
                    },
                )?
            }
            _ => return Ok(None),
        }))
    }

    /// Risk's re-evaluation of a new version whose changes touch what the rules select on
    /// (`RISK_RELEVANT_FIELDS`), after the lane was chosen: the lane, reasons and hold the
    /// engine (or the configured lane policy) would give this version now, recorded on the
    /// version for officers only. The declaration keeps its lane and place in the flow; before
    /// a lane is chosen there is nothing to record (the lane will be chosen on this version).
    fn reevaluate(
        &self,
        record: &mut clearance::version::VersionRecord,
        state: &DeclarationState,
        declarant: &Uscc,
    ) {
        let (true, Some(no), Some(_)) = (record.risk_relevant, state.declaration_no, state.lane)
        else {
            return;
        };
        let Ok(decl) = serde_json::from_value::<Declaration>(record.declaration.clone()) else {
            return;
        };
        let store::AutomaticReview::AcceptRisk { choose } =
            self.risk.accepting_review(&decl, declarant, None)
        else {
            return;
        };
        let chosen = choose.choose(&no);
        record.risk = Some(serde_json::json!({
            "lane": chosen.lane,
            "reasons": chosen.reasons,
            "inspection": chosen.inspection,
            "hold": chosen.hold.map(|h| h.reason),
            "explanation": chosen.explanation,
        }));
    }

    /// Every version of a declaration, oldest first: the filing, then each amendment or
    /// correction with who, when, why, its differences and its re-assessment. Officers see
    /// risk's re-evaluation; enterprises do not.
    pub fn versions(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<Vec<VersionView>, AppError> {
        let d = self.load_visible(principal, key)?;
        let events = self.core.store.events(d.id)?;
        let officer = !matches!(principal, Principal::Enterprise { .. });
        let mut out = Vec::new();
        for e in events {
            match e.event.kind {
                EventKind::Submitted { .. } => out.push(VersionView {
                    version: 1,
                    at: e.event.at,
                    actor: e.event.actor.clone(),
                    record: None,
                }),
                EventKind::Versioned { mut record } => {
                    if !officer {
                        record.risk = None;
                    }
                    out.push(VersionView {
                        version: record.version,
                        at: e.event.at,
                        actor: e.event.actor.clone(),
                        record: Some(record),
                    })
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The actor the lifecycle sees. An officer of a parent office (or HQ) acts on behalf of
    /// the office of declaration, which is what the event's office records; the login says who.
    fn actor_for(
        &self,
        allowed: &Allowed<'_>,
        op: Operation,
        header: &clearance::Header,
    ) -> Result<Actor, AppError> {
        Ok(match allowed.principal() {
            p @ Principal::Enterprise { uscc, .. } => AttorneyService::broker_actor(p, header)
                .unwrap_or(Actor::Enterprise { uscc: *uscc }),
            Principal::Officer { login, office, .. } => {
                let acting = if *office == header.declaration_office
                    || *office == header.entry_exit_office
                {
                    *office
                } else {
                    header.declaration_office
                };
                officer_actor(login, acting, op)
            }
            Principal::Hq { login, .. } => officer_actor(login, header.declaration_office, op),
            Principal::Agency { .. }
            | Principal::Admin { .. }
            | Principal::Carrier { .. }
            | Principal::PostalOperator { .. } => return Err(allowed.denied()),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Queries

    /// Load a declaration the principal may see; one they may not see is "not found", so that
    /// numbers cannot be probed.
    /// [`Self::load_visible`], for the other features of a declaration (its documents).
    pub(crate) fn load_visible_pub(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<store::StoredDeclaration, AppError> {
        self.load_visible(principal, key)
    }

    fn load_visible(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<store::StoredDeclaration, AppError> {
        let not_found = || AppError::NotFound("declaration".into());
        let d = self.core.store.load(key)?.ok_or_else(not_found)?;
        let header = d.state.header.as_ref().ok_or_else(not_found)?;
        let resource = self.attorney.resource_for(principal, header)?;
        self.core
            .authorize(principal, (Operation::View, resource))
            .map_err(|_| not_found())?;
        Ok(d)
    }

    /// A suspension names an open anti-smuggling case of the officer's offices (docs/PARTIES.md):
    /// a case number that does not exist, is closed, or belongs to an office out of scope is
    /// refused with the reason.
    fn open_case_for_suspension(
        &self,
        allowed: &Allowed<'_>,
        case_no: &str,
    ) -> Result<(), AppError> {
        let case = match self.core.store.parties_store() {
            Some(p) => p.case_by_no(case_no.trim())?,
            None => None,
        };
        let refuse = |code: &'static str, zh: String, en: String| {
            Err(AppError::invalid("case_no", code, zh, en))
        };
        match case {
            None => refuse(
                "no_such_case",
                format!("缉私案件“{case_no}”不存在：中止报关单须先立案"),
                format!("no anti-smuggling case \"{case_no}\": open a case before suspending a declaration"),
            ),
            Some(c) if c.status != store::cases::CaseStatus::Open => refuse(
                "case_closed",
                format!("缉私案件 {} 已结案", c.case_no),
                format!("anti-smuggling case {} is closed", c.case_no),
            ),
            Some(c) if !allowed.covers(c.office) => refuse(
                "case_out_of_scope",
                format!("缉私案件 {} 不属于本关区", c.case_no),
                format!("anti-smuggling case {} belongs to an office outside yours", c.case_no),
            ),
            Some(_) => Ok(()),
        }
    }

    /// A declaration's events as `principal` may see them (an enterprise does not see risk's
    /// reasons).
    fn visible_events(
        &self,
        principal: &Principal,
        id: DeclarationId,
    ) -> Result<Vec<store::StoredEvent>, AppError> {
        let mut events = self.core.store.events(id)?;
        if matches!(principal, Principal::Enterprise { .. }) {
            crate::risk_desk::redact_for_enterprise(&mut events);
            // Risk's re-evaluation of a version is for officers.
            for e in events.iter_mut() {
                if let EventKind::Versioned { record } = &mut e.event.kind {
                    record.risk = None;
                }
            }
        }
        Ok(events)
    }

    /// What a declaration's single-window receipts are made of (docs/FORMATS.md "Receipts"):
    /// its events as `principal` may see them, and the body's import/export date and
    /// declaration date (text, when the body has them). The same access as [`Self::get`],
    /// without the rest of the detail (taxes, notices, the form), which the receipts do not
    /// use.
    pub fn receipt_sources(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<ReceiptSources, AppError> {
        #[derive(serde::Deserialize)]
        struct Dates {
            ie_date: Option<serde_json::Value>,
            declaration_date: Option<serde_json::Value>,
        }
        let d = self.load_visible(principal, key)?;
        let events = self.visible_events(principal, d.id)?;
        let dates: Dates = serde_json::from_str(&d.body_json).map_err(internal)?;
        let text = |v: Option<serde_json::Value>| v.and_then(|v| v.as_str().map(str::to_owned));
        Ok(ReceiptSources {
            events,
            ie_date: text(dates.ie_date),
            declaration_date: text(dates.declaration_date),
        })
    }

    pub fn get(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<DeclarationDetail, AppError> {
        let d = self.load_visible(principal, key)?;
        let events = self.visible_events(principal, d.id)?;
        let notices = self.core.store.payment_notices(d.id)?;
        let notice_views = crate::notices::views(self.core, &d)?;
        let typed: Option<Declaration> = match d.state.status {
            Status::Rejected => None,
            _ => serde_json::from_str(&d.body_json).ok(),
        };
        let tax = typed
            .as_ref()
            .and_then(|decl| assessment::assess(self.core, decl, Some(d.id)).ok());
        let declaration = serde_json::from_str(&d.body_json).map_err(internal)?;
        let form = form_value(typed.as_ref(), &d.body_json)?;
        // The class is the credit workflow's, as the risk engine reads it.
        let mutual_recognition = typed
            .as_ref()
            .filter(|decl| decl.direction == domain::codes::Direction::Export)
            .and_then(|decl| {
                store::aeo::mutual_recognition(
                    self.risk.class_of(&decl.trader.uscc),
                    decl.dispatch_country,
                )
            })
            .cloned();
        Ok(DeclarationDetail {
            id: d.id,
            version: d.version,
            updated_at: d.updated_at,
            state: d.state,
            declaration,
            form,
            events,
            notices,
            notice_views,
            tax,
            mutual_recognition,
        })
    }

    /// Newest first, narrowed to what the principal may see.
    pub fn list(
        &self,
        principal: &Principal,
        query: ListQuery,
        page: PageRequest,
    ) -> Result<Page<DeclarationSummary>, AppError> {
        let allowed = self
            .core
            .authorize(principal, (Operation::List, Resource::Listing))?;
        let filter = scoped_filter(&allowed, query)?;
        if page.limit == 0 || page.limit > store::PAGE_MAX {
            return Err(AppError::invalid(
                "limit",
                "out_of_range",
                format!("每页条数须为 1 至 {}", store::PAGE_MAX),
                format!("limit must be 1 to {}", store::PAGE_MAX),
            ));
        }
        self.core.store.list(&filter, &page).map_err(|e| match e {
            StoreError::Invalid(why) => AppError::invalid("cursor", "invalid", why.clone(), why),
            other => other.into(),
        })
    }

    /// A page of the declarations the principal may see that match, by number, sorted, with
    /// the total (the web interface's lists and their export). The bounds are the caller's to
    /// check ([`store::search::SearchRequest::check`]); a refusal of the store's is `invalid`.
    pub fn search(
        &self,
        principal: &Principal,
        query: ListQuery,
        mut req: store::search::SearchRequest,
    ) -> Result<store::search::Counted<DeclarationSummary>, AppError> {
        let allowed = self
            .core
            .authorize(principal, (Operation::List, Resource::Listing))?;
        req.filter = scoped_filter(&allowed, query)?;
        self.core.store.search(&req).map_err(|e| match e {
            StoreError::Invalid(why) => AppError::invalid("query", "invalid", why.clone(), why),
            other => other.into(),
        })
    }

    /// Decide `action` by `actor` on the declaration as loaded, and write it through the one
    /// write (the bank's confirmation of a payment, [`crate::payments`]). `Conflict` when the
    /// declaration changed since it was loaded.
    pub(crate) fn decide_and_write(
        &self,
        allowed: &Allowed<'_>,
        d: &StoredDeclaration,
        actor: Actor,
        action: Action,
    ) -> Result<Appended, AppError> {
        let events = decide(&d.state, &Command { actor, action }, self.core.now())
            .map_err(AppError::Refused)?;
        Ok(self.write(allowed, d, None, events)?)
    }

    /// Refuse a change of a declaration whose export tax refund was paid (409 `refund_paid`,
    /// naming the payment).
    fn no_paid_refund(&self, d: &StoredDeclaration) -> Result<(), AppError> {
        let (Some(no), Some(f)) = (d.state.declaration_no, self.core.store.finance_store()) else {
            return Ok(());
        };
        Ok(store::finance::check_change(&f.refund_claims_on(&no)?)?)
    }

    /// The step's one write: each feature's contribution, then the store. Only with the proof
    /// that the principal may take the step.
    fn write(
        &self,
        _allowed: &Allowed<'_>,
        d: &StoredDeclaration,
        examined: Option<&ExaminationResult>,
        events: Vec<Event>,
    ) -> Result<Appended, StoreError> {
        let released = events.iter().any(|e| matches!(e.kind, EventKind::Released));
        let append = AppendRequest {
            id: d.id,
            expected_version: d.version,
            events,
        };
        // Risk: an examination's result goes to the feedback log with the events.
        let appended = if let Some((rs, examination)) = self.risk.examination(d, examined) {
            rs.append_examined(append, examination)?
        } else {
            // Exchange: the messages the step sends (a release; an export closed; a refund).
            let mut outbox = self.exchange.outbox_messages(d, &append.events);
            outbox.extend(crate::versions::refund_messages(
                self.core,
                d,
                &append.events,
            ));
            // Cargo: a release writes the bill off, a cancellation or withdrawal frees it, in
            // the step's transaction.
            match self.cargo.bill_change(d, &append)? {
                Some(change) => change.write(append, outbox)?,
                None => self.append_with_outbox(append, outbox)?,
            }
        };
        // Risk: releases count towards the next refresh of the reference prices.
        if released {
            self.risk.count_release();
        }
        Ok(appended)
    }

    /// Append, with the step's outbox messages in the same transaction when there are any.
    fn append_with_outbox(
        &self,
        append: AppendRequest,
        outbox: Vec<OutboxMessage>,
    ) -> Result<Appended, StoreError> {
        match self.core.store.outbox_store() {
            Some(o) if !outbox.is_empty() => o.append_with_outbox(append, outbox),
            _ => self.core.store.append(append),
        }
    }
}

fn officer_actor(login: &str, office: OfficeCode, op: Operation) -> Actor {
    if op == Operation::Suspend {
        Actor::AntiSmuggling {
            login: login.to_owned(),
            office,
        }
    } else {
        Actor::Officer {
            login: login.to_owned(),
            office,
        }
    }
}

/// The filter of a listing: the caller's, narrowed to what the principal may see (an
/// enterprise its own, an officer those of their offices, HQ all).
fn scoped_filter(allowed: &Allowed<'_>, query: ListQuery) -> Result<ListFilter, AppError> {
    let mut filter = ListFilter {
        status: query.status,
        lane: query.lane,
        declaration_office: query.office,
        declarant: query.declarant,
        submitted_from: query.submitted_from,
        submitted_to: query.submitted_to,
        offices: None,
    };
    // An enterprise its own, an officer those of their offices, HQ all.
    match allowed.scope() {
        Scope::Own(uscc) => {
            if query.declarant.is_some_and(|d| d != *uscc) {
                return Err(allowed.denied());
            }
            filter.declarant = Some(*uscc);
        }
        Scope::Offices(_, within) => match query.office {
            Some(o) if !allowed.covers(o) => return Err(allowed.denied()),
            Some(_) => {}
            None => filter.offices = Some(within.to_vec()),
        },
        Scope::Everywhere => {}
        Scope::Agency(_) | Scope::System => return Err(allowed.denied()),
    }
    Ok(filter)
}

/// The filing form of a stored body: that of its typed declaration, or the body itself (a
/// filing rejected by automatic review is stored as filed).
pub(crate) fn form_value(
    typed: Option<&Declaration>,
    body_json: &str,
) -> Result<serde_json::Value, AppError> {
    match typed {
        Some(decl) => {
            let form: domain::declaration::DeclarationForm = domain::form_of::form_of(decl);
            serde_json::to_value(form).map_err(internal)
        }
        None => serde_json::from_str(body_json).map_err(internal),
    }
}
