//! The view of a payment notice (docs/TAX.md "Late payment surcharge"): issued, due (15 days
//! after issue, moved past a weekend or statutory holiday), the late payment surcharge so far
//! and the amount due on a day; which kinds of notice attract the surcharge. Pure computation
//! over the stored notice with the tax tables; no writes.

use chrono::{DateTime, NaiveDate, Utc};
use clearance::{BankPayment, NoticeState, TaxKind};
use domain::codes::DeclarationNo;
use domain::money::Fen;
use serde::Serialize;
use store::StoredDeclaration;

use crate::error::AppError;
use crate::kernel::Core;

/// The tax kind the late payment surcharge is computed on, or `None` for a kind that attracts
/// none: fees (the late declaration fee 滞报金) are not duties or taxes. Exhaustive on purpose:
/// a new kind of notice must say whether it attracts the surcharge (a surcharge or recovery
/// surcharge itself does not).
pub fn surcharge_kind(kind: TaxKind) -> Option<tax::TaxKind> {
    match kind {
        TaxKind::Duty => Some(tax::TaxKind::Duty),
        TaxKind::Vat => Some(tax::TaxKind::ImportVat),
        TaxKind::ConsumptionTax => Some(tax::TaxKind::ConsumptionTax),
        TaxKind::AntiDumpingDuty => Some(tax::TaxKind::AntiDumpingDuty),
        TaxKind::CountervailingDuty => Some(tax::TaxKind::CountervailingDuty),
        TaxKind::SafeguardDuty => Some(tax::TaxKind::SafeguardDuty),
        // A fee, and the 追征 surcharge of a re-assessment (no surcharge on a surcharge).
        TaxKind::LateDeclarationFee | TaxKind::RecoverySurcharge => None,
    }
}

/// A notice as the declarant, its bank and officers see it: issued, due, the surcharge so far
/// and the amount due today (or what was paid).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NoticeView {
    pub notice_no: String,
    pub declaration_id: store::DeclarationId,
    pub declaration_no: Option<DeclarationNo>,
    pub tax: TaxKind,
    pub tax_fen: Fen,
    /// The China day the notice was issued.
    pub issued_on: NaiveDate,
    /// The last day to pay without a surcharge: issued + 15 days, moved to the next working
    /// day past a weekend or statutory holiday.
    pub due_on: NaiveDate,
    pub due_shifted: bool,
    /// Whether the late payment surcharge applies to this kind at all.
    pub surcharge_applies: bool,
    /// The day the amounts below are for (today, China time; the payment day once paid).
    pub on: NaiveDate,
    pub surcharge_days: i64,
    /// The surcharge so far (zero on time and under the ¥50 floor).
    pub surcharge_fen: Fen,
    /// How the surcharge was computed (days, rate, floor).
    pub surcharge_formula: Option<String>,
    /// Tax plus surcharge: what a bank must confirm to pay it on `on`.
    pub amount_due_fen: Fen,
    /// The bank the declarant initiated the payment through.
    pub initiated_bank: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    /// When a re-assessment replaced this unpaid notice: nothing is due on it any more.
    pub superseded_at: Option<DateTime<Utc>>,
    /// The bank's confirmation that paid it.
    pub payment: Option<BankPayment>,
}

pub(crate) fn china_day(t: DateTime<Utc>) -> NaiveDate {
    domain::time::china_date(t)
}

/// The last day to pay a notice issued on `issued_on`: the payment period's last day, moved to
/// the next working day.
pub fn due_on(core: &Core, issued_on: NaiveDate) -> NaiveDate {
    let (calendar, policy) = (&core.tax.calendar, &core.tax.policy);
    calendar.working_day_on_or_after(issued_on + chrono::Duration::days(policy.payment_days))
}

/// The instant before which every notice issued is past its due date on `today` (the start of
/// the day after the latest issue day whose due date is before `today`), for the credit
/// workflow's overdue review (`crate::aeo_desk`).
pub fn overdue_cutoff(core: &Core, today: NaiveDate) -> Option<DateTime<Utc>> {
    // The due date grows with the issue day; a holiday run is far shorter than 60 days.
    let mut day = today - chrono::Duration::days(core.tax.policy.payment_days);
    for _ in 0..60 {
        if due_on(core, day) < today {
            return domain::time::china_midnight(day + chrono::Duration::days(1));
        }
        day -= chrono::Duration::days(1);
    }
    None
}

/// The view of a notice on the day `on`.
pub fn view_of(
    core: &Core,
    d: &StoredDeclaration,
    n: &NoticeState,
    issued_at: DateTime<Utc>,
    on: NaiveDate,
) -> Result<NoticeView, AppError> {
    let issued_on = china_day(issued_at);
    let (calendar, policy) = (&core.tax.calendar, &core.tax.policy);
    let due_nominal = issued_on + chrono::Duration::days(policy.payment_days);
    let due_on = calendar.working_day_on_or_after(due_nominal);
    let on = n.payment.as_ref().map_or(on, |p| p.paid_on);
    let tax_fen = n.notice.amount_fen;
    let mut view = NoticeView {
        notice_no: n.notice.notice_no.clone(),
        declaration_id: d.id,
        declaration_no: d.state.declaration_no,
        tax: n.notice.tax,
        tax_fen,
        issued_on,
        due_on,
        due_shifted: due_on != due_nominal,
        surcharge_applies: surcharge_kind(n.notice.tax).is_some(),
        on,
        surcharge_days: 0,
        surcharge_fen: Fen::ZERO,
        surcharge_formula: None,
        amount_due_fen: tax_fen,
        initiated_bank: n.initiated_bank.clone(),
        paid_at: n.paid_at,
        superseded_at: n.superseded_at,
        payment: n.payment.clone(),
    };
    if let Some(p) = &n.payment {
        view.surcharge_fen = p.surcharge_fen;
        view.amount_due_fen = p.paid_fen;
        return Ok(view);
    }
    if n.superseded_at.is_some() {
        // Its amount (and the surcharge it was running) lives on in the replacement.
        view.amount_due_fen = Fen::ZERO;
        return Ok(view);
    }
    if let Some(kind) = surcharge_kind(n.notice.tax) {
        let due = tax::payment::amount_due(kind, tax_fen, issued_on, on, calendar, policy)
            .ok_or_else(|| AppError::Internal("amount due overflows".into()))?;
        view.surcharge_days = due.surcharge.days;
        view.surcharge_fen = due.surcharge.payable_fen;
        view.surcharge_formula = Some(due.surcharge.formula.clone());
        view.amount_due_fen = due.total_fen;
    }
    Ok(view)
}

/// Every notice of a declaration, as of now (the declaration detail's `notice_views`).
pub(crate) fn views(core: &Core, d: &StoredDeclaration) -> Result<Vec<NoticeView>, AppError> {
    let stored = core.store.payment_notices(d.id)?;
    let today = china_day(core.now());
    d.state
        .notices
        .iter()
        .filter_map(|n| {
            stored
                .iter()
                .find(|s| s.notice_no == n.notice.notice_no)
                .map(|s| view_of(core, d, n, s.issued_at, today))
        })
        .collect()
}
