//! The vocabulary of the lifecycle: [`Status`], [`Lane`], [`Actor`], the [`Command`] a caller
//! asks for, the [`Event`] that records what happened, and the [`DeclarationState`] that events
//! build up.

use std::fmt;

use chrono::{DateTime, Utc};
use domain::codes::{DeclarationNo, Direction, OfficeCode, PreEntryNo, Uscc};
use domain::money::Fen;
use serde::{Deserialize, Serialize};

/// Bounds on what one command may carry (house style: a limit on everything).
pub const REASONS_MAX: usize = 32;
pub const PROBLEMS_MAX: usize = 500;
pub const FINDINGS_MAX: usize = 100;
pub const NOTICES_MAX: usize = 16;
pub const CHANGES_MAX: usize = 100;
pub const TEXT_MAX: usize = 2000;

/// Where a declaration is in its lifecycle. Fieldless on purpose: data that goes with a status
/// (lane, notices, the status before a suspension) lives in [`DeclarationState`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Nothing filed yet: the state before `Submit`.
    #[default]
    New,
    /// Filed, has a pre-entry number, waits for automatic review.
    Submitted,
    /// Withdrawn by the filer before acceptance. Terminal.
    Withdrawn,
    /// Failed automatic review, with every problem listed. Terminal.
    Rejected,
    /// Passed review and numbered (18 digits); waits for the lane.
    Accepted,
    /// Yellow lane: an officer reviews the documents.
    DocumentReview,
    /// Red lane (or escalated from review): physical inspection.
    Inspection,
    /// Green or blue lane, or examination recorded: taxes to compute.
    AwaitingAssessment,
    /// Payment notices issued, some unpaid.
    Assessed,
    /// Every notice paid, or none was due.
    Paid,
    /// Goods may leave customs control (possibly against a guarantee with notices unpaid).
    Released,
    /// Closed (exports: exit confirmed). Terminal.
    Closed,
    /// Cancelled after an officer approved the request. Terminal.
    Cancelled,
    /// Held by anti-smuggling; `DeclarationState::suspended_from` says where it resumes.
    Suspended,
}

impl Status {
    pub const ALL: [Status; 14] = [
        Status::New,
        Status::Submitted,
        Status::Withdrawn,
        Status::Rejected,
        Status::Accepted,
        Status::DocumentReview,
        Status::Inspection,
        Status::AwaitingAssessment,
        Status::Assessed,
        Status::Paid,
        Status::Released,
        Status::Closed,
        Status::Cancelled,
        Status::Suspended,
    ];

    /// Stable snake_case name, as stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::New => "new",
            Status::Submitted => "submitted",
            Status::Withdrawn => "withdrawn",
            Status::Rejected => "rejected",
            Status::Accepted => "accepted",
            Status::DocumentReview => "document_review",
            Status::Inspection => "inspection",
            Status::AwaitingAssessment => "awaiting_assessment",
            Status::Assessed => "assessed",
            Status::Paid => "paid",
            Status::Released => "released",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
            Status::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            Status::New => "未申报",
            Status::Submitted => "已申报",
            Status::Withdrawn => "已撤单",
            Status::Rejected => "退单",
            Status::Accepted => "已接受申报",
            Status::DocumentReview => "单证审核",
            Status::Inspection => "查验",
            Status::AwaitingAssessment => "待计税",
            Status::Assessed => "已出缴款书",
            Status::Paid => "已缴款",
            Status::Released => "已放行",
            Status::Closed => "已结关",
            Status::Cancelled => "已撤销",
            Status::Suspended => "缉私挂起",
        }
    }

    /// No command changes a terminal declaration.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Withdrawn | Status::Rejected | Status::Closed | Status::Cancelled
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The risk lane (docs/DOMAIN.md §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    /// No intervention.
    Green,
    /// Document review.
    Yellow,
    /// Physical inspection.
    Red,
    /// Release now, post-clearance audit.
    Blue,
}

impl Lane {
    pub const ALL: [Lane; 4] = [Lane::Green, Lane::Yellow, Lane::Red, Lane::Blue];

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Green => "green",
            Lane::Yellow => "yellow",
            Lane::Red => "red",
            Lane::Blue => "blue",
        }
    }

    pub fn parse(s: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who asks. Authentication is not this crate's job: the caller says who it authenticated, and
/// [`crate::decide`] checks that this kind of actor may do this step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// The filer: the domestic consignee/consignor, by USCC.
    Enterprise { uscc: Uscc },
    /// A customs broker's declarant acting for the consignee/consignor `principal` under the
    /// electronic power of attorney `authority` (代理报关委托书): the broker enterprise and the
    /// login of its user who acts. The lifecycle treats it as the declarant `principal`.
    Broker {
        broker: Uscc,
        login: String,
        principal: Uscc,
        authority: i64,
    },
    /// A customs officer of an office.
    Officer { login: String, office: OfficeCode },
    /// An anti-smuggling officer (缉私).
    AntiSmuggling { login: String, office: OfficeCode },
    /// A bank on the payment link.
    Bank { code: String },
    /// An automatic component: `automatic_review`, `risk`, `tax`, `manifest`, `release`.
    System { component: String },
}

impl Actor {
    /// A short stable label for logs and the audit log (no personal data beyond the login).
    pub fn label(&self) -> String {
        match self {
            Actor::Enterprise { uscc } => format!("enterprise:{uscc}"),
            Actor::Broker {
                broker,
                login,
                principal,
                authority,
            } => format!("broker:{broker}:{login}:for:{principal}:poa:{authority}"),
            Actor::Officer { login, office } => format!("officer:{office}:{login}"),
            Actor::AntiSmuggling { login, office } => format!("anti_smuggling:{office}:{login}"),
            Actor::Bank { code } => format!("bank:{code}"),
            Actor::System { component } => format!("system:{component}"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Enterprise { .. } => "enterprise",
            Actor::Broker { .. } => "broker",
            Actor::Officer { .. } => "officer",
            Actor::AntiSmuggling { .. } => "anti_smuggling",
            Actor::Bank { .. } => "bank",
            Actor::System { .. } => "system",
        }
    }

    /// The office the actor works for, if any.
    pub fn office(&self) -> Option<OfficeCode> {
        match self {
            Actor::Officer { office, .. } | Actor::AntiSmuggling { office, .. } => Some(*office),
            Actor::Enterprise { .. }
            | Actor::Broker { .. }
            | Actor::Bank { .. }
            | Actor::System { .. } => None,
        }
    }

    /// The enterprise on whose behalf a filer acts: the enterprise itself, or a broker's
    /// principal. `None` for anyone else.
    pub fn declarant(&self) -> Option<Uscc> {
        match self {
            Actor::Enterprise { uscc } => Some(*uscc),
            Actor::Broker { principal, .. } => Some(*principal),
            _ => None,
        }
    }
}

/// One problem found by automatic review, kept in the `Rejected` event. The same shape as
/// [`domain::Problem`], owned so that it can be read back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewProblem {
    pub field: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl From<&domain::Problem> for ReviewProblem {
    fn from(p: &domain::Problem) -> Self {
        ReviewProblem {
            field: p.field.clone(),
            code: p.code.to_owned(),
            message_zh: p.message_zh.clone(),
            message_en: p.message_en.clone(),
        }
    }
}

/// Why a lane was chosen: a stable code (rule id or policy step) and a message in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneReason {
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

/// What review or inspection found wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    Misclassification,
    Undervaluation,
    Quantity,
    ProhibitedGoods,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Field path when the finding is about one field (`items[2].commodity_code`), else empty.
    pub field: String,
    pub note: String,
}

/// The result of document review or inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum ExaminationResult {
    Conform,
    Discrepancy { findings: Vec<Finding> },
}

/// The tax or fee a payment notice (缴款书) is for: one notice per kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxKind {
    Duty,
    Vat,
    ConsumptionTax,
    AntiDumpingDuty,
    CountervailingDuty,
    SafeguardDuty,
    LateDeclarationFee,
    /// The surcharge of a recovery (追征滞纳金, 0.05 % a day), on a notice of its own so that no
    /// late payment surcharge is ever charged on it (docs/TAX.md "Re-assessment").
    RecoverySurcharge,
}

impl TaxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxKind::Duty => "duty",
            TaxKind::Vat => "vat",
            TaxKind::ConsumptionTax => "consumption_tax",
            TaxKind::AntiDumpingDuty => "anti_dumping_duty",
            TaxKind::CountervailingDuty => "countervailing_duty",
            TaxKind::SafeguardDuty => "safeguard_duty",
            TaxKind::LateDeclarationFee => "late_declaration_fee",
            TaxKind::RecoverySurcharge => "recovery_surcharge",
        }
    }
}

/// A payment notice as assessed. The number is given by the caller (the store or the tax
/// service), like every new id: this crate never invents ids.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentNotice {
    pub notice_no: String,
    pub tax: TaxKind,
    pub amount_fen: Fen,
}

/// A field an amendment asks to change, with the new value as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub value: String,
}

/// The kind of request that waits for an officer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    Amendment,
    Cancellation,
}

/// A command: who asks, and what. `decide` turns it into events or refuses it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub actor: Actor,
    pub action: Action,
}

/// What a command asks for (docs/DOMAIN.md §3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// File a declaration. The pre-entry number is allocated by the caller (the store).
    Submit {
        pre_entry_no: PreEntryNo,
        client_seq_no: String,
        declarant: Uscc,
        direction: Direction,
        declaration_office: OfficeCode,
        entry_exit_office: OfficeCode,
    },
    /// The filer withdraws before acceptance (撤单).
    Withdraw {
        reason: String,
    },
    /// Automatic (or manual) review passed; the number is allocated by the caller.
    Accept {
        declaration_no: DeclarationNo,
    },
    /// Review failed, with every problem.
    Reject {
        problems: Vec<ReviewProblem>,
    },
    ChooseLane {
        lane: Lane,
        reasons: Vec<LaneReason>,
        /// The inspection kind the risk engine asks for (`document`, `physical`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inspection: Option<String>,
        /// Everything behind the decision, for officers only (never shown to enterprises).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        explanation: Option<serde_json::Value>,
    },
    /// Escalate from document review to physical inspection.
    OrderInspection {
        reason: String,
    },
    RecordReview {
        result: ExaminationResult,
    },
    RecordInspection {
        result: ExaminationResult,
    },
    /// Issue payment notices; an empty list means nothing is due.
    Assess {
        notices: Vec<PaymentNotice>,
    },
    /// A bank confirms it collected a notice's amount due (tax plus late payment surcharge).
    Pay {
        notice_no: String,
        payment: BankPayment,
    },
    /// The declarant initiates the payment of a notice through a bank; only that bank may
    /// then confirm it (the service's rule).
    InitiatePayment {
        notice_no: String,
        bank: String,
    },
    ReleaseAgainstGuarantee {
        guarantee_no: String,
    },
    Release,
    /// Exports: the manifest confirms the goods left; closes the declaration.
    ConfirmExit {
        manifest_ref: String,
    },
    /// Imports: close a released declaration with nothing left to pay.
    Close,
    RequestAmendment {
        reason: String,
        changes: Vec<FieldChange>,
    },
    RequestCancellation {
        reason: String,
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
    /// A new version of the declaration (an approved amendment or an officer's correction)
    /// with its re-assessment, built by the service ([`crate::version`]).
    RecordVersion {
        record: Box<crate::version::VersionRecord>,
    },
    /// The declarant asks for a refund re-assessment found (the period is the service's check).
    RequestRefund {
        refund_no: String,
    },
    /// A tax officer approves (with the interest the service computed) or refuses a refund.
    DecideRefund {
        refund_no: String,
        approve: bool,
        reason: String,
        interest_days: i64,
        interest_fen: Fen,
    },
}

impl Action {
    /// Stable snake_case name (the serde tag).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Submit { .. } => "submit",
            Action::Withdraw { .. } => "withdraw",
            Action::Accept { .. } => "accept",
            Action::Reject { .. } => "reject",
            Action::ChooseLane { .. } => "choose_lane",
            Action::OrderInspection { .. } => "order_inspection",
            Action::RecordReview { .. } => "record_review",
            Action::RecordInspection { .. } => "record_inspection",
            Action::Assess { .. } => "assess",
            Action::Pay { .. } => "pay",
            Action::InitiatePayment { .. } => "initiate_payment",
            Action::ReleaseAgainstGuarantee { .. } => "release_against_guarantee",
            Action::Release => "release",
            Action::ConfirmExit { .. } => "confirm_exit",
            Action::Close => "close",
            Action::RequestAmendment { .. } => "request_amendment",
            Action::RequestCancellation { .. } => "request_cancellation",
            Action::ApproveRequest { .. } => "approve_request",
            Action::RefuseRequest { .. } => "refuse_request",
            Action::Suspend { .. } => "suspend",
            Action::Unsuspend { .. } => "unsuspend",
            Action::RecordVersion { .. } => "record_version",
            Action::RequestRefund { .. } => "request_refund",
            Action::DecideRefund { .. } => "decide_refund",
        }
    }
}

/// A recorded fact: when, who, what. Events are never changed; new fields come with
/// `#[serde(default)]`, and an incompatible change adds a new variant with a `_v2` tag beside
/// the old one, which stays readable. `schema` is the envelope's own version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default = "schema_v1")]
    pub schema: u16,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// The office on whose behalf the step was taken (the officer's office), if any.
    pub office: Option<OfficeCode>,
    #[serde(flatten)]
    pub kind: EventKind,
}

fn schema_v1() -> u16 {
    1
}

impl Event {
    pub const SCHEMA: u16 = 1;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    Submitted {
        pre_entry_no: PreEntryNo,
        client_seq_no: String,
        declarant: Uscc,
        direction: Direction,
        declaration_office: OfficeCode,
        entry_exit_office: OfficeCode,
    },
    Withdrawn {
        reason: String,
    },
    Rejected {
        problems: Vec<ReviewProblem>,
    },
    Accepted {
        declaration_no: DeclarationNo,
    },
    LaneChosen {
        lane: Lane,
        reasons: Vec<LaneReason>,
        /// The inspection kind asked for (red and yellow lanes), if the policy named one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        inspection: Option<String>,
        /// Officer-only: the rules and checks that fired, with their values.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        explanation: Option<serde_json::Value>,
    },
    InspectionOrdered {
        reason: String,
    },
    DocumentReviewRecorded {
        result: ExaminationResult,
    },
    InspectionRecorded {
        result: ExaminationResult,
    },
    Assessed {
        notices: Vec<PaymentNotice>,
    },
    NoticePaid {
        notice_no: String,
        /// The bank's confirmation (absent in events recorded before payments went through a
        /// bank user: those were marked paid by the enterprise, bank `SIMBANK`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        payment: Option<BankPayment>,
    },
    PaymentInitiated {
        notice_no: String,
        bank: String,
    },
    ReleasedAgainstGuarantee {
        guarantee_no: String,
    },
    Released,
    ExitConfirmed {
        manifest_ref: String,
    },
    Closed,
    AmendmentRequested {
        reason: String,
        changes: Vec<FieldChange>,
    },
    CancellationRequested {
        reason: String,
    },
    RequestApproved {
        kind: RequestKind,
        reason: String,
    },
    RequestRefused {
        kind: RequestKind,
        reason: String,
    },
    Suspended {
        reason: String,
        case_no: String,
    },
    Unsuspended {
        reason: String,
    },
    /// A new version of the declaration: the store makes its declaration the current body in
    /// the same transaction; its re-assessment issues notices, supersedes unpaid ones and opens
    /// refunds.
    Versioned {
        record: Box<crate::version::VersionRecord>,
    },
    RefundRequested {
        refund_no: String,
    },
    RefundDecided {
        refund_no: String,
        approved: bool,
        reason: String,
        interest_days: i64,
        interest_fen: Fen,
    },
}

impl EventKind {
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Submitted { .. } => "submitted",
            EventKind::Withdrawn { .. } => "withdrawn",
            EventKind::Rejected { .. } => "rejected",
            EventKind::Accepted { .. } => "accepted",
            EventKind::LaneChosen { .. } => "lane_chosen",
            EventKind::InspectionOrdered { .. } => "inspection_ordered",
            EventKind::DocumentReviewRecorded { .. } => "document_review_recorded",
            EventKind::InspectionRecorded { .. } => "inspection_recorded",
            EventKind::Assessed { .. } => "assessed",
            EventKind::NoticePaid { .. } => "notice_paid",
            EventKind::PaymentInitiated { .. } => "payment_initiated",
            EventKind::ReleasedAgainstGuarantee { .. } => "released_against_guarantee",
            EventKind::Released => "released",
            EventKind::ExitConfirmed { .. } => "exit_confirmed",
            EventKind::Closed => "closed",
            EventKind::AmendmentRequested { .. } => "amendment_requested",
            EventKind::CancellationRequested { .. } => "cancellation_requested",
            EventKind::RequestApproved { .. } => "request_approved",
            EventKind::RequestRefused { .. } => "request_refused",
            EventKind::Suspended { .. } => "suspended",
            EventKind::Unsuspended { .. } => "unsuspended",
            EventKind::Versioned { .. } => "versioned",
            EventKind::RefundRequested { .. } => "refund_requested",
            EventKind::RefundDecided { .. } => "refund_decided",
        }
    }
}

/// What never changes after submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub pre_entry_no: PreEntryNo,
    pub client_seq_no: String,
    pub declarant: Uscc,
    pub direction: Direction,
    pub declaration_office: OfficeCode,
    pub entry_exit_office: OfficeCode,
    /// The customs broker that filed it for the declarant, with its power of attorney (from
    /// the submission's actor); `None` when the declarant filed itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<AgentRef>,
}

/// The broker that filed a declaration and the power of attorney it filed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRef {
    pub broker: Uscc,
    pub authority: i64,
}

/// A payment notice and whether it is paid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticeState {
    pub notice: PaymentNotice,
    pub paid_at: Option<DateTime<Utc>>,
    /// Set when a re-assessment replaced this unpaid notice: it can no longer be paid and is
    /// not outstanding (its amount is in the notices that replaced it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<DateTime<Utc>>,
    /// The bank the declarant initiated the payment through (the last initiation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_bank: Option<String>,
    /// The bank's confirmation that paid it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<BankPayment>,
}

/// A bank's confirmation of a payment, as recorded on the notice: the bank (its user's code),
/// its own reference (unique per bank), the surcharge and the amount paid (tax + surcharge),
/// and the customs (China) day of the payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankPayment {
    pub bank: String,
    pub reference: String,
    pub surcharge_fen: Fen,
    pub paid_fen: Fen,
    pub paid_on: chrono::NaiveDate,
    /// The guarantee whose enforcement paid the notice (docs/TAX.md "Guarantees": a claim
    /// against the bank settles the notices it secured); `None` for a payment by the declarant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guarantee_claim: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub kind: RequestKind,
    pub reason: String,
    #[serde(default)]
    pub changes: Vec<FieldChange>,
    pub requested_at: DateTime<Utc>,
}

/// Everything `decide` needs to know about one declaration, built only by [`crate::apply`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationState {
    pub status: Status,
    pub header: Option<Header>,
    pub declaration_no: Option<DeclarationNo>,
    pub lane: Option<Lane>,
    #[serde(default)]
    pub findings: Vec<Finding>,
    #[serde(default)]
    pub notices: Vec<NoticeState>,
    pub guarantee_no: Option<String>,
    pub pending_request: Option<PendingRequest>,
    /// Set while `Suspended`: the status to resume.
    pub suspended_from: Option<Status>,
    /// Amendments approved so far.
    #[serde(default)]
    pub amendments: u32,
    /// The number of the current version (0 and 1: the filing; [`crate::version`]). Not
    /// written while 0, so that an ordinary filing's stored state is as before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub version_no: u32,
    /// Refunds re-assessment found, and where each stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refunds: Vec<crate::version::RefundState>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl DeclarationState {
    /// Notices not yet paid.
    pub fn outstanding_notices(&self) -> impl Iterator<Item = &NoticeState> {
        self.notices
            .iter()
            .filter(|n| n.paid_at.is_none() && n.superseded_at.is_none())
    }

    /// The number of the current version (the filing is 1).
    pub fn current_version(&self) -> u32 {
        self.version_no.max(1)
    }

    /// Refunds not yet approved or refused.
    pub fn undecided_refunds(&self) -> impl Iterator<Item = &crate::version::RefundState> {
        self.refunds.iter().filter(|r| {
            matches!(
                r.status,
                crate::version::RefundStatus::Open | crate::version::RefundStatus::Requested
            )
        })
    }

    pub fn outstanding_fen(&self) -> Fen {
        self.outstanding_notices()
            .map(|n| n.notice.amount_fen)
            .sum()
    }
}
