//! The transition function: [`decide`] turns a command into events or refuses it; [`apply`]
//! folds an event into the state.
//!
//! `decide` matches on `(status, action)` with no `_` arm: each action lists the statuses where
//! it is legal and, in one more arm, every other status by name. Adding a status therefore fails
//! to compile until every action has said what it does there.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use domain::codes::{Direction, EntryNumber};
use domain::money::Fen;

use crate::model::*;
use crate::refusal::Refusal;

/// The customs year of an instant: the calendar year in China Standard Time (UTC+8), which is
/// the year written in pre-entry and declaration numbers.
pub fn customs_year(now: DateTime<Utc>) -> u16 {
    let year = domain::time::china_year(now);
    // Years outside 0..=9999 cannot be written in a number; clamp so that the number check
    // refuses instead of wrapping.
    year.clamp(0, 9999) as u16
}

/// Decide what a command does to a declaration in `state` at `now`.
///
/// Pure: the same inputs always give the same events. New ids (pre-entry number, declaration
/// number, payment notice numbers) come in the command; the time comes in `now`.
pub fn decide(
    state: &DeclarationState,
    cmd: &Command,
    now: DateTime<Utc>,
) -> Result<Vec<Event>, Refusal> {
    use Action as A;
    use Status as S;

    let status = state.status;
    let action = cmd.action.name();
    let not_allowed = || Err(Refusal::NotAllowedInStatus { status, action });
    let actor = &cmd.actor;

    let kind: EventKind = match (status, &cmd.action) {
        // --- submission -----------------------------------------------------------------------
        (
            S::New,
            A::Submit {
                pre_entry_no,
                client_seq_no,
                declarant,
                direction,
                declaration_office,
                entry_exit_office,
            },
        ) => {
            match actor {
                Actor::Enterprise { .. } | Actor::Broker { .. }
                    if actor.declarant() == Some(*declarant) => {}
                Actor::Enterprise { .. } | Actor::Broker { .. } => {
                    return Err(Refusal::NotDeclarant { action })
                }
                other => return Err(forbidden(other, action)),
            }
            text("client_seq_no", client_seq_no, 64)?;
            check_number(
                &pre_entry_no.entry_number(),
                *declaration_office,
                *direction,
                now,
            )?;
            EventKind::Submitted {
                pre_entry_no: *pre_entry_no,
                client_seq_no: client_seq_no.clone(),
                declarant: *declarant,
                direction: *direction,
                declaration_office: *declaration_office,
                entry_exit_office: *entry_exit_office,
            }
        }
        (
            S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Submit { .. },
        ) => return not_allowed(),

        (S::Submitted, A::Withdraw { reason }) => {
            declarant(state, actor, action)?;
            text("reason", reason, TEXT_MAX)?;
            EventKind::Withdrawn {
                reason: reason.clone(),
            }
        }
        (
            S::New
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Withdraw { .. },
        ) => return not_allowed(),

        // --- automatic review -----------------------------------------------------------------
        (S::Submitted, A::Accept { declaration_no }) => {
            officer_or_system(state, actor, action)?;
            let header = header(state);
            check_number(
                &declaration_no.entry_number(),
                header.declaration_office,
                header.direction,
                now,
            )?;
            EventKind::Accepted {
                declaration_no: *declaration_no,
            }
        }
        (
            S::New
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Accept { .. },
        ) => return not_allowed(),

        (S::Submitted, A::Reject { problems }) => {
            officer_or_system(state, actor, action)?;
            bounded("problems", problems.len(), PROBLEMS_MAX)?;
            EventKind::Rejected {
                problems: problems.clone(),
            }
        }
        (
            S::New
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Reject { .. },
        ) => return not_allowed(),

        // --- risk and examination -------------------------------------------------------------
        (
            S::Accepted,
            A::ChooseLane {
                lane,
                reasons,
                inspection,
                explanation,
            },
        ) => {
            officer_or_system(state, actor, action)?;
            no_pending(state)?;
            bounded("reasons", reasons.len(), REASONS_MAX)?;
            if let Some(kind) = inspection {
                text("inspection", kind, 64)?;
            }
            EventKind::LaneChosen {
                lane: *lane,
                reasons: reasons.clone(),
                inspection: inspection.clone(),
                explanation: explanation.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::ChooseLane { .. },
        ) => return not_allowed(),

        (S::DocumentReview, A::OrderInspection { reason }) => {
            officer(state, actor, action)?;
            no_pending(state)?;
            text("reason", reason, TEXT_MAX)?;
            EventKind::InspectionOrdered {
                reason: reason.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::OrderInspection { .. },
        ) => return not_allowed(),

        (S::DocumentReview, A::RecordReview { result }) => {
            officer(state, actor, action)?;
            no_pending(state)?;
            examination(result)?;
            EventKind::DocumentReviewRecorded {
                result: result.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::RecordReview { .. },
        ) => return not_allowed(),

        (S::Inspection, A::RecordInspection { result }) => {
            officer(state, actor, action)?;
            no_pending(state)?;
            examination(result)?;
            EventKind::InspectionRecorded {
                result: result.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::RecordInspection { .. },
        ) => return not_allowed(),

        // --- assessment and payment -----------------------------------------------------------
        (S::AwaitingAssessment, A::Assess { notices }) => {
            officer_or_system(state, actor, action)?;
            no_pending(state)?;
            check_notices(notices)?;
            EventKind::Assessed {
                notices: notices.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Assess { .. },
        ) => return not_allowed(),

        // Payment comes from the bank link; after a release against a guarantee it may come
        // while the declaration is already released.
        (S::Assessed | S::Released, A::Pay { notice_no, payment }) => {
            // Only the bank that collected it, with its own reference; the amount paid is the
            // notice's tax plus the surcharge the caller computed (tax::payment::settle).
            match actor {
                Actor::Bank { code } if *code == payment.bank => {}
                other => return Err(forbidden(other, action)),
            }
            text("reference", &payment.reference, 64)?;
            let n = unpaid_notice(state, notice_no)?;
            if payment.surcharge_fen.0 < 0
                || n.notice.amount_fen.0.checked_add(payment.surcharge_fen.0)
                    != Some(payment.paid_fen.0)
            {
                return Err(Refusal::InvalidNotices {
                    why: "the amount paid is not the tax plus the surcharge",
                });
            }
            EventKind::NoticePaid {
                notice_no: notice_no.clone(),
                payment: Some(payment.clone()),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Paid
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Pay { .. },
        ) => return not_allowed(),

        // The declarant names the bank it pays a notice through.
        (S::Assessed | S::Released, A::InitiatePayment { notice_no, bank }) => {
            declarant(state, actor, action)?;
            text("bank", bank, 64)?;
            unpaid_notice(state, notice_no)?;
            EventKind::PaymentInitiated {
                notice_no: notice_no.clone(),
                bank: bank.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Paid
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::InitiatePayment { .. },
        ) => return not_allowed(),

        (S::Assessed, A::ReleaseAgainstGuarantee { guarantee_no }) => {
            officer(state, actor, action)?;
            no_pending(state)?;
            text("guarantee_no", guarantee_no, 64)?;
            EventKind::ReleasedAgainstGuarantee {
                guarantee_no: guarantee_no.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::ReleaseAgainstGuarantee { .. },
        ) => return not_allowed(),

        // --- release and closure --------------------------------------------------------------
        (S::Paid, A::Release) => {
            officer_or_system(state, actor, action)?;
            no_pending(state)?;
            EventKind::Released
        }
        // Said precisely rather than as "not allowed": what is missing is the payment.
        (S::Assessed, A::Release) => {
            return Err(Refusal::PaymentOutstanding {
                outstanding_fen: state.outstanding_fen(),
            })
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Release,
        ) => return not_allowed(),

        (S::Released, A::ConfirmExit { manifest_ref }) => {
            officer_or_system(state, actor, action)?;
            let direction = header(state).direction;
            if direction != Direction::Export {
                return Err(Refusal::WrongDirection { action, direction });
            }
            no_pending(state)?;
            nothing_outstanding(state)?;
            text("manifest_ref", manifest_ref, 64)?;
            EventKind::ExitConfirmed {
                manifest_ref: manifest_ref.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::ConfirmExit { .. },
        ) => return not_allowed(),

        (S::Released, A::Close) => {
            officer_or_system(state, actor, action)?;
            let direction = header(state).direction;
            // Exports close only when the exit is confirmed.
            if direction != Direction::Import {
                return Err(Refusal::WrongDirection { action, direction });
            }
            no_pending(state)?;
            nothing_outstanding(state)?;
            EventKind::Closed
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Close,
        ) => return not_allowed(),

        // --- requests that need an officer's decision -----------------------------------------
        // Amendment after acceptance, up to release: an approved one makes a new version,
        // re-assessed where notices were issued (docs/TAX.md "Re-assessment").
        (
            S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released,
            A::RequestAmendment { reason, changes },
        ) => {
            declarant(state, actor, action)?;
            no_pending(state)?;
            text("reason", reason, TEXT_MAX)?;
            if changes.is_empty() {
                return Err(Refusal::Missing { field: "changes" });
            }
            bounded("changes", changes.len(), CHANGES_MAX)?;
            for c in changes {
                text("changes.field", &c.field, 200)?;
                bounded_text("changes.value", &c.value, TEXT_MAX)?;
            }
            EventKind::AmendmentRequested {
                reason: reason.clone(),
                changes: changes.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::RequestAmendment { .. },
        ) => return not_allowed(),

        (
            S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released,
            A::RequestCancellation { reason },
        ) => {
            declarant(state, actor, action)?;
            no_pending(state)?;
            text("reason", reason, TEXT_MAX)?;
            EventKind::CancellationRequested {
                reason: reason.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::RequestCancellation { .. },
        ) => return not_allowed(),

        (
            S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released,
            A::ApproveRequest { reason },
        ) => {
            officer(state, actor, action)?;
            let pending = state
                .pending_request
                .as_ref()
                .ok_or(Refusal::NoRequestPending)?;
            bounded_text("reason", reason, TEXT_MAX)?;
            EventKind::RequestApproved {
                kind: pending.kind,
                reason: reason.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::ApproveRequest { .. },
        ) => return not_allowed(),

        (
            S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released,
            A::RefuseRequest { reason },
        ) => {
            officer(state, actor, action)?;
            let pending = state
                .pending_request
                .as_ref()
                .ok_or(Refusal::NoRequestPending)?;
            text("reason", reason, TEXT_MAX)?;
            EventKind::RequestRefused {
                kind: pending.kind,
                reason: reason.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::RefuseRequest { .. },
        ) => return not_allowed(),

        // --- anti-smuggling -------------------------------------------------------------------
        // Suspension holds goods still under control; after release it is a case, not a hold.
        (
            S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid,
            A::Suspend { reason, case_no },
        ) => {
            anti_smuggling_or_risk(actor, action)?;
            text("reason", reason, TEXT_MAX)?;
            text("case_no", case_no, 64)?;
            EventKind::Suspended {
                reason: reason.clone(),
                case_no: case_no.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Released
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::Suspend { .. },
        ) => return not_allowed(),

        (S::Suspended, A::Unsuspend { reason }) => {
            anti_smuggling(actor, action)?;
            text("reason", reason, TEXT_MAX)?;
            EventKind::Unsuspended {
                reason: reason.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released
            | S::Closed
            | S::Cancelled,
            A::Unsuspend { .. },
        ) => return not_allowed(),

        // --- versions and refunds (issue 14) ------------------------------------------------
        (
            S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Assessed
            | S::Paid
            | S::Released,
            A::RecordVersion { record },
        ) => {
            officer(state, actor, action)?;
            check_version_record(state, actor, record)?;
            EventKind::Versioned {
                record: record.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::RecordVersion { .. },
        ) => return not_allowed(),

        (S::Assessed | S::Paid | S::Released, A::RequestRefund { refund_no }) => {
            declarant(state, actor, action)?;
            let r = refund(state, refund_no)?;
            if r.status != crate::version::RefundStatus::Open
                || r.record.origin != crate::version::RefundOrigin::Taxpayer
            {
                return Err(Refusal::RefundNotOpen {
                    refund_no: refund_no.clone(),
                    status: r.status.as_str(),
                    action,
                });
            }
            EventKind::RefundRequested {
                refund_no: refund_no.clone(),
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::RequestRefund { .. },
        ) => return not_allowed(),

        (
            S::Assessed | S::Paid | S::Released,
            A::DecideRefund {
                refund_no,
                approve,
                reason,
                interest_days,
                interest_fen,
            },
        ) => {
            officer(state, actor, action)?;
            text("reason", reason, TEXT_MAX)?;
            let r = refund(state, refund_no)?;
            use crate::version::{RefundOrigin, RefundStatus};
            let decidable = match (r.status, r.record.origin) {
                (RefundStatus::Requested, _) => true,
                // Customs refunds what it found without waiting for a request.
                (RefundStatus::Open, RefundOrigin::CustomsFound) => true,
                _ => false,
            };
            if !decidable {
                return Err(Refusal::RefundNotOpen {
                    refund_no: refund_no.clone(),
                    status: r.status.as_str(),
                    action,
                });
            }
            if *interest_days < 0 || *interest_fen < Fen::ZERO {
                return Err(Refusal::InvalidVersion {
                    why: "negative interest",
                });
            }
            EventKind::RefundDecided {
                refund_no: refund_no.clone(),
                approved: *approve,
                reason: reason.clone(),
                interest_days: if *approve { *interest_days } else { 0 },
                interest_fen: if *approve { *interest_fen } else { Fen::ZERO },
            }
        }
        (
            S::New
            | S::Submitted
            | S::Withdrawn
            | S::Rejected
            | S::Accepted
            | S::DocumentReview
            | S::Inspection
            | S::AwaitingAssessment
            | S::Closed
            | S::Cancelled
            | S::Suspended,
            A::DecideRefund { .. },
        ) => return not_allowed(),
    };

    Ok(vec![Event {
        schema: Event::SCHEMA,
        at: now,
        actor: actor.clone(),
        office: actor.office(),
        kind,
    }])
}

/// Fold one event into the state. Total: events are facts already decided, so this never
/// refuses; it is the only code that changes a [`DeclarationState`].
pub fn apply(mut s: DeclarationState, e: &Event) -> DeclarationState {
    match &e.kind {
        EventKind::Submitted {
            pre_entry_no,
            client_seq_no,
            declarant,
            direction,
            declaration_office,
            entry_exit_office,
        } => {
            s.header = Some(Header {
                pre_entry_no: *pre_entry_no,
                client_seq_no: client_seq_no.clone(),
                declarant: *declarant,
                direction: *direction,
                declaration_office: *declaration_office,
                entry_exit_office: *entry_exit_office,
                agent: match &e.actor {
                    Actor::Broker {
                        broker, authority, ..
                    } => Some(crate::AgentRef {
                        broker: *broker,
                        authority: *authority,
                    }),
                    _ => None,
                },
            });
            s.status = Status::Submitted;
            s.submitted_at = Some(e.at);
        }
        EventKind::Withdrawn { .. } => {
            s.status = Status::Withdrawn;
            s.closed_at = Some(e.at);
        }
        EventKind::Rejected { .. } => {
            s.status = Status::Rejected;
            s.closed_at = Some(e.at);
        }
        EventKind::Accepted { declaration_no } => {
            s.declaration_no = Some(*declaration_no);
            s.status = Status::Accepted;
            s.accepted_at = Some(e.at);
        }
        EventKind::LaneChosen { lane, .. } => {
            s.lane = Some(*lane);
            s.status = match lane {
                Lane::Green | Lane::Blue => Status::AwaitingAssessment,
                Lane::Yellow => Status::DocumentReview,
                Lane::Red => Status::Inspection,
            };
        }
        EventKind::InspectionOrdered { .. } => s.status = Status::Inspection,
        EventKind::DocumentReviewRecorded { result } | EventKind::InspectionRecorded { result } => {
            match result {
                ExaminationResult::Conform => {}
                ExaminationResult::Discrepancy { findings } => {
                    s.findings.extend(findings.iter().cloned())
                }
            }
            s.status = Status::AwaitingAssessment;
        }
        EventKind::Assessed { notices } => {
            s.notices = notices
                .iter()
                .map(|n| NoticeState {
                    notice: n.clone(),
                    paid_at: None,
                    superseded_at: None,
                    initiated_bank: None,
                    payment: None,
                })
                .collect();
            s.status = if notices.is_empty() {
                Status::Paid
            } else {
                Status::Assessed
            };
        }
        EventKind::NoticePaid { notice_no, payment } => {
            if let Some(n) = s
                .notices
                .iter_mut()
                .find(|n| &n.notice.notice_no == notice_no)
            {
                n.paid_at = Some(e.at);
                n.payment = payment.clone();
            }
            if s.status == Status::Assessed && s.outstanding_notices().next().is_none() {
                s.status = Status::Paid;
            }
        }
        EventKind::PaymentInitiated { notice_no, bank } => {
            if let Some(n) = s
                .notices
                .iter_mut()
                .find(|n| &n.notice.notice_no == notice_no)
            {
                n.initiated_bank = Some(bank.clone());
            }
        }
        EventKind::ReleasedAgainstGuarantee { guarantee_no } => {
            s.guarantee_no = Some(guarantee_no.clone());
            s.status = Status::Released;
            s.released_at = Some(e.at);
        }
        EventKind::Released => {
            s.status = Status::Released;
            s.released_at = Some(e.at);
        }
        EventKind::ExitConfirmed { .. } | EventKind::Closed => {
            s.status = Status::Closed;
            s.closed_at = Some(e.at);
        }
        EventKind::AmendmentRequested { reason, changes } => {
            s.pending_request = Some(PendingRequest {
                kind: RequestKind::Amendment,
                reason: reason.clone(),
                changes: changes.clone(),
                requested_at: e.at,
            });
        }
        EventKind::CancellationRequested { reason } => {
            s.pending_request = Some(PendingRequest {
                kind: RequestKind::Cancellation,
                reason: reason.clone(),
                changes: Vec::new(),
                requested_at: e.at,
            });
        }
        EventKind::RequestApproved { kind, .. } => {
            s.pending_request = None;
            match kind {
                RequestKind::Amendment => s.amendments += 1,
                RequestKind::Cancellation => {
                    s.status = Status::Cancelled;
                    s.closed_at = Some(e.at);
                }
            }
        }
        EventKind::RequestRefused { .. } => s.pending_request = None,
        EventKind::Suspended { .. } => {
            s.suspended_from = Some(s.status);
            s.status = Status::Suspended;
        }
        EventKind::Unsuspended { .. } => {
            if let Some(from) = s.suspended_from.take() {
                s.status = from;
            }
        }
        EventKind::Versioned { record } => apply_version(&mut s, record, e.at),
        EventKind::RefundRequested { refund_no } => {
            if let Some(r) = s
                .refunds
                .iter_mut()
                .find(|r| &r.record.refund_no == refund_no)
            {
                r.status = crate::version::RefundStatus::Requested;
                r.requested_at = Some(e.at);
            }
        }
        EventKind::RefundDecided {
            refund_no,
            approved,
            reason,
            interest_days,
            interest_fen,
        } => {
            if let Some(r) = s
                .refunds
                .iter_mut()
                .find(|r| &r.record.refund_no == refund_no)
            {
                r.status = if *approved {
                    crate::version::RefundStatus::Approved
                } else {
                    crate::version::RefundStatus::Refused
                };
                r.decided_at = Some(e.at);
                r.decided_by = Some(e.actor.clone());
                r.reason = Some(reason.clone());
                r.interest_days = *interest_days;
                r.interest_fen = *interest_fen;
            }
        }
    }
    s
}

/// A new version: the version number, and its re-assessment's notices (the replaced ones
/// superseded, the new ones outstanding) and refunds. A paid declaration with a new notice is
/// assessed again; a released one stays released (and cannot close while a notice is
/// outstanding).
fn apply_version(
    s: &mut DeclarationState,
    record: &crate::version::VersionRecord,
    at: DateTime<Utc>,
) {
    s.version_no = record.version;
    let Some(r) = &record.reassessment else {
        return;
    };
    for n in s.notices.iter_mut() {
        if r.superseded.contains(&n.notice.notice_no) && n.paid_at.is_none() {
            n.superseded_at = Some(at);
        }
    }
    for x in s.refunds.iter_mut() {
        if r.superseded_refunds.contains(&x.record.refund_no)
            && matches!(
                x.status,
                crate::version::RefundStatus::Open | crate::version::RefundStatus::Requested
            )
        {
            x.status = crate::version::RefundStatus::Superseded;
            x.decided_at = Some(at);
        }
    }
    s.notices.extend(r.notices.iter().map(|n| NoticeState {
        notice: n.notice.clone(),
        paid_at: None,
        superseded_at: None,
        initiated_bank: None,
        payment: None,
    }));
    s.refunds
        .extend(r.refunds.iter().map(|x| crate::version::RefundState {
            record: x.clone(),
            status: crate::version::RefundStatus::Open,
            found_at: at,
            requested_at: None,
            decided_at: None,
            decided_by: None,
            reason: None,
            interest_days: 0,
            interest_fen: Fen::ZERO,
        }));
    let outstanding = s.outstanding_notices().next().is_some();
    match s.status {
        Status::Paid if outstanding => s.status = Status::Assessed,
        Status::Assessed if !outstanding => s.status = Status::Paid,
        _ => {}
    }
}

/// Replay a history from the empty state.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> DeclarationState {
    events.into_iter().fold(DeclarationState::default(), apply)
}

// ---------------------------------------------------------------------------------------------
// Guards

/// Every status past `New` has a header; a state without one is a broken invariant.
fn header(state: &DeclarationState) -> &Header {
    state
        .header
        .as_ref()
        .expect("a submitted declaration has a header")
}

/// The notice of this declaration numbered `notice_no`, not yet paid.
fn unpaid_notice<'s>(
    state: &'s DeclarationState,
    notice_no: &str,
) -> Result<&'s NoticeState, Refusal> {
    match state
        .notices
        .iter()
        .find(|n| n.notice.notice_no == notice_no)
    {
        None => Err(Refusal::UnknownNotice {
            notice_no: notice_no.to_owned(),
        }),
        Some(n) if n.paid_at.is_some() => Err(Refusal::NoticeAlreadyPaid {
            notice_no: notice_no.to_owned(),
        }),
        // A re-assessment replaced it: its amount is in the notices that replaced it.
        Some(n) if n.superseded_at.is_some() => Err(Refusal::NoticeSuperseded {
            notice_no: notice_no.to_owned(),
        }),
        Some(n) => Ok(n),
    }
}

fn forbidden(actor: &Actor, action: &'static str) -> Refusal {
    Refusal::ActorNotPermitted {
        actor: actor.kind(),
        action,
    }
}

fn declarant(state: &DeclarationState, actor: &Actor, action: &'static str) -> Result<(), Refusal> {
    match actor {
        Actor::Enterprise { .. } | Actor::Broker { .. }
            if actor.declarant() == Some(header(state).declarant) =>
        {
            Ok(())
        }
        Actor::Enterprise { .. } | Actor::Broker { .. } => Err(Refusal::NotDeclarant { action }),
        other => Err(forbidden(other, action)),
    }
}

/// An officer of the office of declaration or of the office of entry/exit. Whether an officer
/// of a parent office may act too needs the office table; that check belongs to the caller.
fn officer(state: &DeclarationState, actor: &Actor, action: &'static str) -> Result<(), Refusal> {
    match actor {
        Actor::Officer { office, .. } => {
            let h = header(state);
            if *office == h.declaration_office || *office == h.entry_exit_office {
                Ok(())
            } else {
                Err(Refusal::WrongOffice {
                    actor_office: office.to_string(),
                    declaration_office: h.declaration_office.to_string(),
                })
            }
        }
        other => Err(forbidden(other, action)),
    }
}

/// Steps that an automatic component may take as well as an officer.
fn officer_or_system(
    state: &DeclarationState,
    actor: &Actor,
    action: &'static str,
) -> Result<(), Refusal> {
    match actor {
        Actor::System { .. } => Ok(()),
        _ => officer(state, actor, action),
    }
}

fn anti_smuggling(actor: &Actor, action: &'static str) -> Result<(), Refusal> {
    match actor {
        Actor::AntiSmuggling { .. } => Ok(()),
        other => Err(forbidden(other, action)),
    }
}

/// Suspension: an anti-smuggling officer, or the risk engine itself when a watch list or rule
/// holds the declaration at acceptance (`System { component: "risk" }`). Resuming stays with
/// anti-smuggling officers.
fn anti_smuggling_or_risk(actor: &Actor, action: &'static str) -> Result<(), Refusal> {
    match actor {
        Actor::System { component } if component == "risk" => Ok(()),
        other => anti_smuggling(other, action),
    }
}

fn no_pending(state: &DeclarationState) -> Result<(), Refusal> {
    match &state.pending_request {
        Some(p) => Err(Refusal::RequestPending { kind: p.kind }),
        None => Ok(()),
    }
}

fn nothing_outstanding(state: &DeclarationState) -> Result<(), Refusal> {
    let outstanding_fen = state.outstanding_fen();
    if outstanding_fen != Fen::ZERO {
        return Err(Refusal::PaymentOutstanding { outstanding_fen });
    }
    // A closed declaration never changes: a refund still to decide keeps it open.
    if let Some(r) = state.undecided_refunds().next() {
        return Err(Refusal::RefundNotOpen {
            refund_no: r.record.refund_no.clone(),
            status: r.status.as_str(),
            action: "close",
        });
    }
    Ok(())
}

fn refund<'a>(
    state: &'a DeclarationState,
    refund_no: &str,
) -> Result<&'a crate::version::RefundState, Refusal> {
    state
        .refunds
        .iter()
        .find(|r| r.record.refund_no == refund_no)
        .ok_or_else(|| Refusal::UnknownRefund {
            refund_no: refund_no.to_owned(),
        })
}

/// A version record fits the declaration: the next number, an officer as its source, notice
/// numbers new and unique, superseded notices this declaration's unpaid ones, positive amounts.
fn check_version_record(
    state: &DeclarationState,
    actor: &Actor,
    record: &crate::version::VersionRecord,
) -> Result<(), Refusal> {
    use crate::version::VersionSource;
    let bad = |why| Err(Refusal::InvalidVersion { why });
    if Some(record.version) != state.current_version().checked_add(1) {
        return bad("not the next version number");
    }
    match &record.source {
        VersionSource::Filing => return bad("a filing is not a new version"),
        VersionSource::Amendment {
            approved_by,
            reason,
            ..
        } => {
            if approved_by != actor {
                return bad("the approving officer is not the actor");
            }
            bounded_text("reason", reason, TEXT_MAX)?;
        }
        VersionSource::OfficerCorrection {
            officer, reason, ..
        } => {
            if officer != actor {
                return bad("the correcting officer is not the actor");
            }
            no_pending(state)?;
            text("reason", reason, TEXT_MAX)?;
        }
    }
    if record.changes.is_empty() {
        return bad("no change");
    }
    bounded("changes", record.changes.len(), CHANGES_MAX * 4)?;
    let Some(r) = &record.reassessment else {
        return Ok(());
    };
    if r.notices.len() > NOTICES_MAX || r.refunds.len() > NOTICES_MAX {
        return Err(Refusal::TooMany {
            field: "notices",
            max: NOTICES_MAX,
        });
    }
    let mut numbers = HashSet::new();
    for n in &r.notices {
        text("notice_no", &n.notice.notice_no, 64)?;
        if n.notice.amount_fen <= Fen::ZERO {
            return bad("a notice amount is not positive");
        }
        if !numbers.insert(n.notice.notice_no.as_str())
            || state
                .notices
                .iter()
                .any(|x| x.notice.notice_no == n.notice.notice_no)
        {
            return bad("a notice number is used twice");
        }
    }
    for no in &r.superseded {
        match state.notices.iter().find(|x| &x.notice.notice_no == no) {
            Some(x) if x.paid_at.is_none() && x.superseded_at.is_none() => {}
            _ => {
                return bad("a superseded notice is not an outstanding notice of this declaration")
            }
        }
    }
    let mut refunds = HashSet::new();
    for x in &r.refunds {
        text("refund_no", &x.refund_no, 64)?;
        if x.amount_fen <= Fen::ZERO {
            return bad("a refund amount is not positive");
        }
        if !refunds.insert(x.refund_no.as_str())
            || state
                .refunds
                .iter()
                .any(|y| y.record.refund_no == x.refund_no)
        {
            return bad("a refund number is used twice");
        }
    }
    for no in &r.superseded_refunds {
        if !state.undecided_refunds().any(|x| &x.record.refund_no == no) {
            return bad("a superseded refund is not an undecided refund of this declaration");
        }
    }
    Ok(())
}

/// Non-empty after trimming, and at most `max` characters.
fn text(field: &'static str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        return Err(Refusal::Missing { field });
    }
    bounded_text(field, value, max)
}

fn bounded_text(field: &'static str, value: &str, max: usize) -> Result<(), Refusal> {
    if value.chars().count() > max {
        return Err(Refusal::TooLong { field, max });
    }
    Ok(())
}

/// Between one and `max` entries: every list a command carries says something.
fn bounded(field: &'static str, len: usize, max: usize) -> Result<(), Refusal> {
    if len == 0 {
        return Err(Refusal::Missing { field });
    }
    if len > max {
        return Err(Refusal::TooMany { field, max });
    }
    Ok(())
}

fn examination(result: &ExaminationResult) -> Result<(), Refusal> {
    match result {
        ExaminationResult::Conform => Ok(()),
        ExaminationResult::Discrepancy { findings } => {
            bounded("findings", findings.len(), FINDINGS_MAX)?;
            for f in findings {
                text("findings.note", &f.note, TEXT_MAX)?;
                bounded_text("findings.field", &f.field, 200)?;
            }
            Ok(())
        }
    }
}

/// One notice per tax kind, unique numbers, positive amounts. Amounts at or under the 50-yuan
/// threshold are the tax service's to drop before it assesses.
fn check_notices(notices: &[PaymentNotice]) -> Result<(), Refusal> {
    if notices.len() > NOTICES_MAX {
        return Err(Refusal::TooMany {
            field: "notices",
            max: NOTICES_MAX,
        });
    }
    let mut numbers = HashSet::new();
    let mut kinds = HashSet::new();
    for n in notices {
        text("notice_no", &n.notice_no, 64)?;
        if !numbers.insert(n.notice_no.as_str()) {
            return Err(Refusal::InvalidNotices {
                why: "duplicate notice number",
            });
        }
        if !kinds.insert(n.tax) {
            return Err(Refusal::InvalidNotices {
                why: "more than one notice for one tax",
            });
        }
        if n.amount_fen <= Fen::ZERO {
            return Err(Refusal::InvalidNotices {
                why: "amount must be positive",
            });
        }
    }
    Ok(())
}

/// A pre-entry or declaration number must carry the declaration's office, direction and the
/// current customs year.
fn check_number(
    n: &EntryNumber,
    office: domain::codes::OfficeCode,
    direction: Direction,
    now: DateTime<Utc>,
) -> Result<(), Refusal> {
    if n.office() != office {
        return Err(Refusal::NumberMismatch {
            what: "office",
            expected: office.to_string(),
            found: n.office().to_string(),
        });
    }
    if n.direction() != direction {
        return Err(Refusal::NumberMismatch {
            what: "direction",
            expected: direction.to_string(),
            found: n.direction().to_string(),
        });
    }
    let year = customs_year(now);
    if n.year() != year {
        return Err(Refusal::NumberMismatch {
            what: "year",
            expected: year.to_string(),
            found: n.year().to_string(),
        });
    }
    Ok(())
}
