//! Fees: the late declaration fee 滞报金 and the late payment surcharge 滞纳金, each with the days
//! counted. Pure: every date is an argument.
//!
//! - Late declaration fee: declare within `declaration_days` (14) days of the vehicle's arrival
//!   report; the deadline is arrival + 14, moved to the next working day when it is a weekend or
//!   holiday. From the day after the deadline to the declaration date (both counted), customs
//!   value × 0.5‰ per day; capped at the customs value; not collected below ¥50.
//! - Late payment surcharge: pay within `payment_days` (15) days of the notice (deadline = notice
//!   date + 15, moved to the next working day); from the day after the deadline to the payment
//!   date (both counted), tax × 0.5‰ per day, per tax; not collected below ¥50.

use chrono::{Duration, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use domain::money::Fen;

use crate::assessment::{Assessment, TaxKind};
use crate::calendar::TradingCalendar;
use crate::policy::{FeeRounding, TaxPolicy};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeKind {
    LateDeclarationFee,
    LatePaymentSurcharge,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Fee {
    pub kind: FeeKind,
    /// For a surcharge, the tax it is on.
    pub tax: Option<TaxKind>,
    pub base_fen: Fen,
    /// The last day without a fee (after the weekend/holiday shift).
    pub deadline: NaiveDate,
    /// Whether the deadline moved off a weekend or holiday.
    pub deadline_shifted: bool,
    /// Days counted: from the day after the deadline to the end date, both included; 0 if on time.
    pub days: i64,
    pub daily_rate: Decimal,
    /// base × rate × days, exact.
    pub exact: Decimal,
    /// Rounded as the policy says.
    pub amount_fen: Fen,
    /// Zero below the floor.
    pub payable_fen: Fen,
    pub formula: String,
}

// One private helper shared by both fees; the public functions keep short signatures.
#[allow(clippy::too_many_arguments)]
fn fee(
    kind: FeeKind,
    tax: Option<TaxKind>,
    base_fen: Fen,
    start: NaiveDate,
    period_days: i64,
    end: NaiveDate,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> Fee {
    let nominal = start + Duration::days(period_days);
    let deadline = calendar.working_day_on_or_after(nominal);
    let days = (end - deadline).num_days().max(0);
    let exact = base_fen.to_yuan() * policy.fee_daily_rate * Decimal::from(days);
    let rounded = match policy.fee_rounding {
        FeeRounding::FenHalfUp => {
            exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
        }
        FeeRounding::YuanDown => exact.trunc(),
    };
    let mut amount_fen = Fen::round_yuan(rounded).unwrap_or(Fen(i64::MAX));
    if kind == FeeKind::LateDeclarationFee && amount_fen > base_fen {
        // The late declaration fee never exceeds the customs value.
        amount_fen = base_fen;
    }
    let payable_fen = if amount_fen < policy.fee_floor_fen {
        Fen::ZERO
    } else {
        amount_fen
    };
    let formula = format!(
        "{base_fen} × {} × {days} days ({} … {}) = {} → {amount_fen}{}",
        policy.fee_daily_rate.normalize(),
        deadline + Duration::days(1),
        end,
        exact.normalize(),
        if payable_fen.is_zero() && !amount_fen.is_zero() {
            format!(
                " (below {} : not collected / 不足起征点免征)",
                policy.fee_floor_fen
            )
        } else {
            String::new()
        }
    );
    Fee {
        kind,
        tax,
        base_fen,
        deadline,
        deadline_shifted: deadline != nominal,
        days,
        daily_rate: policy.fee_daily_rate,
        exact,
        amount_fen,
        payable_fen,
        formula,
    }
}

/// 滞报金 on the customs value, for goods whose vehicle reported arrival on `arrival_date` and
/// that were declared on `declaration_date`.
pub fn late_declaration_fee(
    customs_value_fen: Fen,
    arrival_date: NaiveDate,
    declaration_date: NaiveDate,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> Fee {
    fee(
        FeeKind::LateDeclarationFee,
        None,
        customs_value_fen,
        arrival_date,
        policy.declaration_days,
        declaration_date,
        calendar,
        policy,
    )
}

/// 滞纳金 on one tax, for a notice issued on `notice_date` and paid on `payment_date`.
pub fn late_payment_surcharge(
    tax: TaxKind,
    tax_fen: Fen,
    notice_date: NaiveDate,
    payment_date: NaiveDate,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> Fee {
    fee(
        FeeKind::LatePaymentSurcharge,
        Some(tax),
        tax_fen,
        notice_date,
        policy.payment_days,
        payment_date,
        calendar,
        policy,
    )
}

/// 滞纳金 for every payable notice of an assessment, each tax separately.
pub fn late_payment_surcharges(
    assessment: &Assessment,
    notice_date: NaiveDate,
    payment_date: NaiveDate,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> Vec<Fee> {
    assessment
        .notices
        .iter()
        .filter(|n| !n.payable_fen.is_zero())
        .map(|n| {
            late_payment_surcharge(
                n.kind,
                n.payable_fen,
                notice_date,
                payment_date,
                calendar,
                policy,
            )
        })
        .collect()
}
