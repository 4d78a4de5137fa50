//! Versions of a declaration and their consequences (issue 14 items 1 and 2), as the step
//! service needs them:
//!
//! - [`check_request`]: an amendment request names real, amendable fields of the current
//!   version (every problem at once, before anything is written);
//! - [`build`]: the next version of the stored declaration (validated in full like a filing) and,
//!   where notices were issued, its re-assessment against what was assessed, paid and unpaid,
//!   under the dated collection policy (`tax::collection`): replacement, supplementary (补征) or
//!   recovery (追征, with its surcharge on a notice of its own) notices, superseded unpaid
//!   notices, refunds, time-barred differences;
//! - [`refund_period`] and [`refund_interest`]: the period of a taxpayer's refund request and
//!   the interest of an approved one;
//! - [`refund_messages`]: `duty_refunded.v1` to the tax agency for an approved refund.
//!
//! Nothing here writes: the step service decides the events with the lifecycle and writes them
//! in one transaction (the store makes the version's declaration the current body).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use clearance::version::{
    next_version, touches, Basis, CollectedNotice, CollectionLine, DeclarationVersion, Outcome,
    Reassessment, RefundOrigin, RefundRecord, RefundStatus, VersionRecord, VersionSource,
    RISK_RELEVANT_FIELDS,
};
use clearance::{DeclarationState, EventKind, FieldChange, PaymentNotice, TaxKind};
use domain::declaration::Declaration;
use domain::form_of::form_of;
use domain::money::Fen;
use domain::time::china_date;
use store::outbox::OutboxMessage;
use store::StoredDeclaration;
use tax::collection::{
    self, CollectionPolicy, Consequence, PolicyRow, ReassessFacts, Rule, ShortLevyCause,
};

use crate::error::{AppError, FieldProblem};
use crate::kernel::{internal, Core};

/// The shipped collection policy, read once.
pub(crate) fn policy() -> &'static CollectionPolicy {
    static POLICY: OnceLock<CollectionPolicy> = OnceLock::new();
    POLICY.get_or_init(CollectionPolicy::shipped)
}

fn basis(row: &PolicyRow) -> Basis {
    Basis {
        rule: row.rule.as_str().to_owned(),
        basis_zh: row.basis_zh.clone(),
        basis_en: row.basis_en.clone(),
        source: row.source.clone(),
        verified: row.verified,
    }
}

/// Customs refunds what it finds levied in excess at once, without request or interest.
fn customs_refund_basis() -> Basis {
    Basis {
        rule: "customs_refund".into(),
        basis_zh: "《海关法》第六十三条：海关多征的税款，海关发现后应当立即退还".into(),
        basis_en: "Customs Law art. 63: tax levied in excess is refunded at once when customs finds it".into(),
        source: "Customs Law of the PRC art. 63 (text not in /work/shared; article number not verified here)".into(),
        verified: false,
    }
}

fn reissue_basis() -> Basis {
    Basis {
        rule: "reissue".into(),
        basis_zh: "新版本重新计税：未缴的缴款书作废并按新税额重新填发".into(),
        basis_en:
            "re-assessment of a new version: the unpaid notice is replaced by one of the new amount"
                .into(),
        source: "Jinguan policy (docs/TAX.md \"Re-assessment\")".into(),
        verified: true,
    }
}

fn problems(list: &domain::Problems) -> AppError {
    AppError::Invalid(list.iter().map(FieldProblem::from).collect())
}

/// The typed declaration of the current version.
fn current(d: &StoredDeclaration) -> Result<Declaration, AppError> {
    serde_json::from_str(&d.body_json).map_err(internal)
}

/// An amendment request names real fields of the current version and none that may not
/// change, with values that make a valid declaration: the would-be version is validated in
/// full as its approval would (every problem at once, 422), before anything is written.
pub(crate) fn check_request(
    core: &Core,
    d: &StoredDeclaration,
    changes: &[FieldChange],
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    if d.state.status == clearance::Status::Rejected {
        // The lifecycle refuses the step itself.
        return Ok(());
    }
    let form = form_of(&current(d)?);
    clearance::version::check_amendment(&form, changes).map_err(|p| problems(&p))?;
    let (Some(header), Some(office)) = (d.state.header.as_ref(), office_of(d)) else {
        return Ok(());
    };
    let version = DeclarationVersion {
        version: d.state.current_version(),
        form,
        source: VersionSource::Filing,
        at: now,
        changes: Vec::new(),
    };
    // Who approves is not known yet: an officer of the declaration's office stands in, and
    // only the values are judged here.
    let source = VersionSource::Amendment {
        requested_by: clearance::Actor::Enterprise {
            uscc: header.declarant,
        },
        approved_by: clearance::Actor::Officer {
            login: "approval".into(),
            office,
        },
        reason: "request".into(),
    };
    match next_version(&version, changes, source, now, &*core.refdata) {
        Ok(_) => Ok(()),
        Err(p) => Err(problems(&p)),
    }
}

/// The declaration office of the current version.
fn office_of(d: &StoredDeclaration) -> Option<domain::codes::OfficeCode> {
    current(d).ok().map(|decl| decl.declaration_office)
}

/// Why a version differs, for re-assessment: who caused a short levy, who found an excess.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cause {
    pub short_levy: ShortLevyCause,
    pub refund: RefundOrigin,
}

/// The next version of `d` (whose state, after the step's first events, is `state`) with
/// `changes` from `source`, re-assessed where notices were issued.
pub(crate) fn build(
    core: &Core,
    d: &StoredDeclaration,
    state: &DeclarationState,
    changes: &[FieldChange],
    source: VersionSource,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<VersionRecord, AppError> {
    let decl = current(d)?;
    let current = DeclarationVersion {
        version: state.current_version(),
        form: form_of(&decl),
        source: VersionSource::Filing,
        at: now,
        changes: Vec::new(),
    };
    let (version, typed) =
        next_version(&current, changes, source, now, &*core.refdata).map_err(|p| problems(&p))?;
    let risk_relevant = touches(&version.changes, RISK_RELEVANT_FIELDS);
    let reassessment = if state.notices.is_empty() {
        None
    } else {
        let due = crate::assessment::assess_amounts(core, &typed, Some(d.id))?;
        let no = state.declaration_no.ok_or_else(|| {
            AppError::Internal(format!("declaration {} has notices but no number", d.id))
        })?;
        let issued: BTreeMap<String, DateTime<Utc>> = core
            .store
            .payment_notices(d.id)?
            .into_iter()
            .map(|n| (n.notice_no, n.issued_at))
            .collect();
        Some(reassess(
            core,
            state,
            &issued,
            &due,
            no,
            version.version,
            cause,
            now,
        )?)
    };
    Ok(VersionRecord {
        version: version.version,
        source: version.source,
        changes: version.changes,
        declaration: serde_json::to_value(&typed).map_err(internal)?,
        risk_relevant,
        risk: None,
        reassessment,
    })
}

/// Kinds that are not taxes of the goods: never re-assessed from the declaration's data.
fn reassessable(kind: TaxKind) -> bool {
    !matches!(
        kind,
        TaxKind::LateDeclarationFee | TaxKind::RecoverySurcharge
    )
}

/// Re-assess per tax kind against what was assessed (docs/TAX.md "Re-assessment"):
///
/// - nothing changed: nothing;
/// - otherwise every unpaid notice and every open or requested refund of the kind is
///   superseded, and with `rest = due − (paid − approved refunds)`:
///   - nothing collected yet (nothing paid of the kind, goods not released): one replacement
///     notice of `rest` (no period applies to what was never collected);
///   - `rest` ≥ 0: a replacement of up to what was unpaid, and the rest beyond it under the
///     supplementary (补征) or recovery (追征, with a surcharge notice of its own) rule, or
///     time-barred;
///   - `rest` < 0: a refund of `−rest` (paid in excess).
///
/// So paid − approved refunds − open refunds + outstanding notices = due for every kind after
/// every version, whatever was paid or refunded before: no money is lost or counted twice
/// (a refund is approved at most once for an excess; restoring a price after a refund is a
/// shortfall, not another refund).
#[allow(clippy::too_many_arguments)]
fn reassess(
    core: &Core,
    state: &DeclarationState,
    issued: &BTreeMap<String, DateTime<Utc>>,
    due: &[(TaxKind, Fen)],
    no: domain::codes::DeclarationNo,
    version: u32,
    cause: Cause,
    now: DateTime<Utc>,
) -> Result<Reassessment, AppError> {
    let decided_on = china_date(now);
    let due: BTreeMap<TaxKind, Fen> = due.iter().copied().collect();
    let mut kinds: BTreeSet<TaxKind> = due.keys().copied().collect();
    kinds.extend(state.notices.iter().map(|n| n.notice.tax));
    let released_on = state.released_at.map(china_date);
    let mut out = Reassessment {
        decided_on,
        lines: Vec::new(),
        notices: Vec::new(),
        superseded: Vec::new(),
        refunds: Vec::new(),
        superseded_refunds: Vec::new(),
    };
    let overflow = || AppError::Internal("amount overflow in re-assessment".into());
    for kind in kinds.into_iter().filter(|k| reassessable(*k)) {
        let live = state
            .notices
            .iter()
            .filter(|n| n.notice.tax == kind && n.superseded_at.is_none());
        let (mut paid, mut unpaid, mut first_paid) = (0i64, 0i64, None::<NaiveDate>);
        let mut unpaid_nos = Vec::new();
        for n in live {
            match n.paid_at {
                Some(at) => {
                    paid = paid
                        .checked_add(n.notice.amount_fen.0)
                        .ok_or_else(overflow)?;
                    let day = china_date(at);
                    first_paid = Some(first_paid.map_or(day, |d| d.min(day)));
                }
                None => {
                    unpaid = unpaid
                        .checked_add(n.notice.amount_fen.0)
                        .ok_or_else(overflow)?;
                    unpaid_nos.push(n.notice.notice_no.clone());
                }
            }
        }
        // Refunds of the kind: approved ones are facts that reduce what was collected; open or
        // requested ones still stand against it until this version replaces them.
        let (mut refunded, mut pending) = (0i64, 0i64);
        let mut pending_nos = Vec::new();
        for r in state.refunds.iter().filter(|r| r.record.tax == kind) {
            match r.status {
                RefundStatus::Approved => {
                    refunded = refunded
                        .checked_add(r.record.amount_fen.0)
                        .ok_or_else(overflow)?;
                }
                RefundStatus::Open | RefundStatus::Requested => {
                    pending = pending
                        .checked_add(r.record.amount_fen.0)
                        .ok_or_else(overflow)?;
                    pending_nos.push(r.record.refund_no.clone());
                }
                RefundStatus::Refused | RefundStatus::Superseded => {}
            }
        }
        let due_fen = due.get(&kind).copied().unwrap_or(Fen::ZERO).0;
        let mut line = CollectionLine {
            tax: kind,
            paid_fen: Fen(paid),
            refunded_fen: Fen(refunded),
            unpaid_fen: Fen(unpaid),
            due_fen: Fen(due_fen),
            outcome: Outcome::NoChange,
            amount_fen: Fen::ZERO,
            last_day: None,
            basis: None,
        };
        // What was collected and kept: paid less the refunds approved.
        let net = paid - refunded;
        if due_fen == net - pending + unpaid {
            out.lines.push(line);
            continue;
        }
        // What superseded unpaid notices owed is carried over with their issue time (the latest
        // of them, never charging more surcharge than was owed): its due date and late
        // surcharge run on (docs/TAX.md "Re-assessment").
        let carried_at = unpaid_nos
            .iter()
            .filter_map(|n| issued.get(n))
            .max()
            .copied();
        out.superseded.extend(unpaid_nos);
        out.superseded_refunds.extend(pending_nos);
        let paid = net;
        let rest = due_fen - paid;
        let notice_no = |k: TaxKind| format!("{no}-{}-V{version}", k.as_str());
        // A notice of `carried` (up to what was unpaid, with the old issue time) and, beyond
        // it, one of the rest at the version's time.
        let issue = |out: &mut Reassessment, amount: i64, outcome, basis: Option<Basis>| {
            let carried = amount.min(unpaid);
            let mut push = |notice_no: String, amount: i64, issued_at| {
                if amount > 0 {
                    out.notices.push(CollectedNotice {
                        notice: PaymentNotice {
                            notice_no,
                            tax: kind,
                            amount_fen: Fen(amount),
                        },
                        outcome,
                        basis: basis.clone(),
                        surcharge_days: None,
                        issued_at,
                    })
                }
            };
            match carried_at {
                Some(at) if carried > 0 && amount > carried => {
                    push(format!("{}-C", notice_no(kind)), carried, Some(at));
                    push(notice_no(kind), amount - carried, None);
                }
                Some(at) => push(notice_no(kind), amount, Some(at)),
                None => push(notice_no(kind), amount, None),
            }
        };
        // The period runs from payment or release, whichever came first.
        let collected_on = match (first_paid, released_on) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        if rest < 0 {
            let amount = -rest;
            let paid_on = first_paid.unwrap_or(decided_on);
            let (last_day, b) = match cause.refund {
                RefundOrigin::CustomsFound => (None, customs_refund_basis()),
                RefundOrigin::Taxpayer => {
                    let row = policy()
                        .rule(Rule::RefundRequest, paid_on)
                        .map_err(|e| AppError::Internal(e.to_string()))?;
                    (Some(row.period.last_day(paid_on)), basis(row))
                }
            };
            out.refunds.push(RefundRecord {
                refund_no: format!("{no}-{}-R{version}", kind.as_str()),
                tax: kind,
                amount_fen: Fen(amount),
                paid_on,
                origin: cause.refund,
                last_day,
                basis: Some(b.clone()),
            });
            line.outcome = Outcome::Refund;
            line.amount_fen = Fen(amount);
            line.last_day = last_day;
            line.basis = Some(b);
            out.lines.push(line);
            continue;
        }
        let Some(collected_on) = collected_on else {
            // Never collected: a replacement of the whole amount.
            if rest > 0 {
                issue(&mut out, rest, Outcome::Reissued, Some(reissue_basis()));
            }
            line.outcome = Outcome::Reissued;
            line.amount_fen = Fen(rest);
            out.lines.push(line);
            continue;
        };
        let replacement = rest.min(unpaid);
        let extra = rest - replacement;
        if extra == 0 {
            if replacement > 0 {
                issue(
                    &mut out,
                    replacement,
                    Outcome::Reissued,
                    Some(reissue_basis()),
                );
            }
            line.outcome = Outcome::Reissued;
            line.amount_fen = Fen(replacement);
            out.lines.push(line);
            continue;
        }
        // The shortfall beyond what was already assessed: 补征 or 追征 under the rule in force
        // on the day the period started. The engine compares one kind at a time here; the
        // label it carries is not used.
        let facts = ReassessFacts {
            paid_on: collected_on,
            decided_on,
            cause: cause.short_levy,
            refund_origin: collection::RefundOrigin::CustomsFound,
            demand_deposit_annual_rate: rust_decimal::Decimal::ZERO,
        };
        let label = tax::TaxKind::Duty;
        let r = collection::reassess_amounts(
            &[(label, Fen(paid + replacement))],
            &[(label, Fen(due_fen))],
            &facts,
            policy(),
            &core.tax.policy,
        )
        .map_err(|e| AppError::Internal(e.to_string()))?;
        let l = r
            .lines
            .into_iter()
            .next()
            .ok_or_else(|| AppError::Internal("re-assessment gave no line".into()))?;
        line.last_day = l.last_day;
        line.basis = l.rule.as_ref().map(basis);
        match l.consequence {
            Consequence::Supplementary { amount_fen } => {
                issue(
                    &mut out,
                    replacement + amount_fen.0,
                    Outcome::Supplementary,
                    line.basis.clone(),
                );
                line.outcome = Outcome::Supplementary;
                line.amount_fen = amount_fen;
            }
            Consequence::Recovery {
                amount_fen,
                surcharge_days,
                surcharge_fen,
                ..
            } => {
                issue(
                    &mut out,
                    replacement + amount_fen.0,
                    Outcome::Recovery,
                    line.basis.clone(),
                );
                if surcharge_fen > Fen::ZERO {
                    let k = TaxKind::RecoverySurcharge;
                    // One surcharge notice per version: the kinds' surcharges add up.
                    match out.notices.iter_mut().find(|n| n.notice.tax == k) {
                        Some(n) => n.notice.amount_fen += surcharge_fen,
                        None => out.notices.push(CollectedNotice {
                            notice: PaymentNotice {
                                notice_no: notice_no(k),
                                tax: k,
                                amount_fen: surcharge_fen,
                            },
                            outcome: Outcome::Recovery,
                            basis: line.basis.clone(),
                            surcharge_days: Some(surcharge_days),
                            issued_at: None,
                        }),
                    }
                }
                line.outcome = Outcome::Recovery;
                line.amount_fen = amount_fen;
            }
            Consequence::TimeBarred { difference_fen, .. } => {
                if replacement > 0 {
                    issue(
                        &mut out,
                        replacement,
                        Outcome::Reissued,
                        Some(reissue_basis()),
                    );
                }
                line.outcome = Outcome::TimeBarred;
                line.amount_fen = Fen(difference_fen);
            }
            Consequence::NoChange | Consequence::Refund { .. } => {
                return Err(AppError::Internal(
                    "a shortfall re-assessed as no change or refund".into(),
                ))
            }
        }
        out.lines.push(line);
    }
    Ok(out)
}

/// A taxpayer's refund request must come within the period from payment: `Err` with the rule
/// and its last day (409), in both languages.
pub(crate) fn refund_period(record: &RefundRecord, today: NaiveDate) -> Result<(), AppError> {
    if record.origin != RefundOrigin::Taxpayer {
        return Ok(());
    }
    let row = policy()
        .rule(Rule::RefundRequest, record.paid_on)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let last_day = row.period.last_day(record.paid_on);
    if today > last_day {
        return Err(AppError::Conflict {
            code: "refund_period_over",
            message_zh: format!(
                "退税申请已超过期限：依{}，应自缴纳税款之日（{}）起申请，最后一日为 {last_day}",
                row.basis_zh, record.paid_on
            ),
            message_en: format!(
                "the refund request is out of time: under {}, it must be made from the payment on {} up to {last_day}",
                row.basis_en, record.paid_on
            ),
        });
    }
    Ok(())
}

/// The interest of an approved refund: a taxpayer's refund carries the demand-deposit rate
/// in force on the day of approval from payment to approval; customs-found refunds none.
pub(crate) fn refund_interest(
    record: &RefundRecord,
    today: NaiveDate,
) -> Result<(i64, Fen), AppError> {
    if record.origin != RefundOrigin::Taxpayer {
        return Ok((0, Fen::ZERO));
    }
    let row = policy()
        .rule(Rule::RefundRequest, record.paid_on)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if row.interest == collection::Interest::None {
        return Ok((0, Fen::ZERO));
    }
    let rate = collection::demand_deposit_rate(collection::DEMAND_DEPOSIT_RATES_CSV, today)
        .ok_or_else(|| AppError::Internal(format!("no demand-deposit rate on {today}")))?;
    collection::refund_interest(record.amount_fen, rate, record.paid_on, today)
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// `duty_refunded.v1` to the tax agency for each refund the events approve.
pub(crate) fn refund_messages(
    core: &Core,
    d: &StoredDeclaration,
    events: &[clearance::Event],
) -> Vec<OutboxMessage> {
    if core.store.outbox_store().is_none() {
        return Vec::new();
    }
    let (Some(no), Some(header)) = (d.state.declaration_no, d.state.header.as_ref()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in events {
        let EventKind::RefundDecided {
            refund_no,
            approved: true,
            interest_days,
            interest_fen,
            ..
        } = &e.kind
        else {
            continue;
        };
        let Some(r) = d
            .state
            .refunds
            .iter()
            .find(|r| &r.record.refund_no == refund_no)
        else {
            continue;
        };
        let payload = exchange::DutyRefundedV1 {
            refund_no: refund_no.clone(),
            declaration_no: no,
            declarant: header.declarant,
            tax: r.record.tax.as_str().to_owned(),
            amount_fen: r.record.amount_fen,
            interest_fen: *interest_fen,
            interest_days: *interest_days,
            origin: match r.record.origin {
                RefundOrigin::CustomsFound => "customs_found",
                RefundOrigin::Taxpayer => "taxpayer",
            }
            .to_owned(),
            approved_at: exchange::message::to_millis(e.at),
        };
        match exchange::encode_payload(&payload) {
            Ok((kind, bytes)) => out.push(OutboxMessage {
                kind: kind.to_string(),
                recipients: vec!["TAX".to_owned()],
                created_at: exchange::message::to_millis(e.at),
                payload: bytes,
            }),
            Err(e) => tracing::warn!("exchange: duty_refunded.v1 not encoded, nothing sent: {e}"),
        }
    }
    out
}
