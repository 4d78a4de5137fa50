//! The service's one error type. Each variant says what the caller did wrong (or that the
//! service failed), with a stable code, messages in both languages and, for input, every
//! problem with its field path. The HTTP edge maps variants to status codes one to one.

use clearance::Refusal;
use domain::codes::PreEntryNo;
use serde::Serialize;
use store::StoreError;
use thiserror::Error;

use crate::access::Denied;

/// One problem with the input, as the API reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl FieldProblem {
    pub fn new(
        field: impl Into<String>,
        code: impl Into<String>,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> FieldProblem {
        FieldProblem {
            field: field.into(),
            code: code.into(),
            message_zh: zh.into(),
            message_en: en.into(),
        }
    }
}

impl From<&domain::Problem> for FieldProblem {
    fn from(p: &domain::Problem) -> Self {
        FieldProblem::new(&p.field, p.code, &p.message_zh, &p.message_en)
    }
}

impl From<&clearance::ReviewProblem> for FieldProblem {
    fn from(p: &clearance::ReviewProblem) -> Self {
        FieldProblem::new(&p.field, &p.code, &p.message_zh, &p.message_en)
    }
}

#[derive(Debug, Error)]
pub enum AppError {
    /// No valid session: missing, unknown, expired or revoked token, or a wrong password.
    #[error("not signed in: {0}")]
    Unauthenticated(&'static str),
    #[error("forbidden: {0}")]
    Forbidden(Denied),
    #[error("not found: {0}")]
    NotFound(String),
    /// The input is not even a document (not JSON, empty, nested too deep).
    #[error("malformed input")]
    Malformed(Vec<FieldProblem>),
    /// The input is a document but not of the expected shape (wrong types, unknown or missing
    /// fields, values out of range).
    #[error("invalid input")]
    Invalid(Vec<FieldProblem>),
    /// Automatic review rejected the declaration; it is recorded with a pre-entry number.
    #[error("declaration {pre_entry_no} rejected by automatic review")]
    Rejected {
        pre_entry_no: PreEntryNo,
        problems: Vec<FieldProblem>,
    },
    /// The lifecycle refused the step.
    #[error("refused: {0}")]
    Refused(Refusal),
    /// Someone else changed the declaration, or a unique value exists: the request conflicts
    /// with the current state.
    #[error("conflict: {message_en}")]
    Conflict {
        code: &'static str,
        message_en: String,
        message_zh: String,
    },
    /// The service cannot answer now (the store is closed or shutting down).
    #[error("unavailable")]
    Unavailable,
    /// A broken invariant or a storage failure: logged, never shown to the caller.
    #[error("internal: {0}")]
    Internal(String),
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::Unauthenticated(_) => "unauthenticated",
            AppError::Forbidden(d) => d.code,
            AppError::NotFound(_) => "not_found",
            AppError::Malformed(_) => "malformed",
            AppError::Invalid(_) => "invalid",
            AppError::Rejected { .. } => "rejected",
            AppError::Refused(r) => r.code(),
            AppError::Conflict { code, .. } => code,
            AppError::Unavailable => "unavailable",
            AppError::Internal(_) => "internal",
        }
    }

    pub fn invalid(
        field: impl Into<String>,
        code: &str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> AppError {
        AppError::Invalid(vec![FieldProblem::new(field, code, zh, en)])
    }
}

impl From<Denied> for AppError {
    fn from(d: Denied) -> Self {
        AppError::Forbidden(d)
    }
}

/// A refusal of the guarantee ledger as the caller sees it (docs/TAX.md "Guarantees"): bad
/// terms are invalid input (422), every other refusal a conflict with the ledger's state (409).
pub fn guarantee_refused(r: tax::guarantee::GuaranteeRefusal) -> AppError {
    use tax::guarantee::GuaranteeRefusal;
    match r {
        GuaranteeRefusal::BadTerms { .. } => AppError::Invalid(vec![FieldProblem::new(
            "",
            r.code(),
            r.message_zh(),
            r.message_en(),
        )]),
        other => AppError::Conflict {
            code: other.code(),
            message_en: other.message_en(),
            message_zh: other.message_zh(),
        },
    }
}

/// A power of attorney's refusal as the caller sees it (docs/PARTIES.md): bad terms are invalid
/// input (422) with their field; a filing or step outside the authority is forbidden (403)
/// with the reason.
pub fn authority_refused(r: store::parties::AuthorityRefusal) -> AppError {
    match r.field() {
        Some(field) => AppError::Invalid(vec![FieldProblem::new(
            field,
            r.code(),
            r.message_zh(),
            r.message_en(),
        )]),
        None => AppError::Forbidden(Denied {
            code: r.code(),
            message_en: r.message_en(),
            message_zh: r.message_zh(),
        }),
    }
}

/// A case register's refusal: bad input 422 with its field, a missing case 404, anything else a
/// conflict with the case's state (409).
pub fn case_refused(r: store::cases::CaseRefusal) -> AppError {
    // A suspension's case found missing or closed inside the writer's transaction answers as
    // the service's own check does (422 on `case_no`).
    if r.field == "case_no" {
        return AppError::Invalid(vec![FieldProblem::new(
            &r.field,
            r.code,
            r.message_zh,
            r.message_en,
        )]);
    }
    match r.code {
        // A filing by or for an enterprise whose registration is not in force, found by the
        // service or inside the filing's transaction: forbidden, as docs/PARTIES.md says.
        "registration_pending" | "registration_refused" | "registration_cancelled" => {
            AppError::Forbidden(Denied {
                code: r.code,
                message_en: r.message_en,
                message_zh: r.message_zh,
            })
        }
        "missing"
        | "too_long"
        | "invalid"
        | "out_of_range"
        | "wrong_amount"
        | "not_in_checklist"
        | "decision_not_supported"
        | "audit_incomplete" => AppError::Invalid(vec![FieldProblem::new(
            &r.field,
            r.code,
            r.message_zh,
            r.message_en,
        )]),
        "not_found" => AppError::NotFound(r.message_en),
        code => AppError::Conflict {
            code,
            message_en: r.message_en,
            message_zh: r.message_zh,
        },
    }
}

/// A refusal of the E-Port ledgers inside a write (docs/EPORT.md): an unknown licence or claim
/// 404, another agency's licence 403, bad input 422 with its field, anything else a conflict
/// with the ledger's state (409: withdrawn already, a release on a withdrawn licence, paid
/// already, a change of a declaration whose refund was paid).
pub fn eport_refused(r: store::eport::EportRefusal) -> AppError {
    match r.code {
        "licence_not_found" | "refund_claim_not_found" => AppError::NotFound(r.message_en),
        "not_issuer" => AppError::Forbidden(Denied {
            code: r.code,
            message_en: r.message_en,
            message_zh: r.message_zh,
        }),
        "bad_reason"
        | "amount_not_positive"
        | "bad_bank_reference"
        | "paid_before_claim"
        | "paid_in_future"
        | "refund_over_ceiling" => AppError::Invalid(vec![FieldProblem::new(
            &r.field,
            r.code,
            r.message_zh,
            r.message_en,
        )]),
        code => AppError::Conflict {
            code,
            message_en: r.message_en,
            message_zh: r.message_zh,
        },
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Refused(r) => AppError::Refused(r),
            StoreError::Conflict { expected, actual } => AppError::Conflict {
                code: "version_conflict",
                message_en: format!(
                    "the declaration changed meanwhile (version {expected} → {actual}); reload and try again"
                ),
                message_zh: format!("报关单已被他人更新（版本 {expected} → {actual}），请刷新后重试"),
            },
            StoreError::NotFound(what) => AppError::NotFound(what),
            StoreError::IdempotencyMismatch {
                client_seq_no,
                pre_entry_no,
            } => AppError::Conflict {
                code: "idempotency_mismatch",
                message_en: format!(
                    "client sequence number {client_seq_no} was already used for another declaration ({pre_entry_no})"
                ),
                message_zh: format!(
                    "客户端序号 {client_seq_no} 已用于另一份报关单（{pre_entry_no}）"
                ),
            },
            StoreError::Duplicate(what) => AppError::Conflict {
                code: "duplicate",
                message_en: format!("already exists: {what}"),
                message_zh: format!("已存在：{what}"),
            },
            StoreError::Invalid(why) => AppError::invalid("", "invalid", why.clone(), why),
            StoreError::Closed => AppError::Unavailable,
            StoreError::Guarantee(r) => guarantee_refused(r),
            StoreError::Authority(r) => authority_refused(r),
            StoreError::Case(r) | StoreError::Registration(r) => case_refused(r),
            StoreError::Eport(r) => eport_refused(r),
            e @ (StoreError::SerialExhausted(_)
            | StoreError::Corrupt(_)
            | StoreError::Backend(_)) => AppError::Internal(e.to_string()),
        }
    }
}
