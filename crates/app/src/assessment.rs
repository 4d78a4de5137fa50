//! The tax engine on a declaration, as the services need it: the assessment of a filing (with an
//! e-commerce buyer's purchases of the year), the payable amounts per notice, the customs value
//! (the late declaration fee), and amounts in fen at the customs rate (the value of goods, bank
//! records). Functions of the [`Core`]'s tables and store; no access decision (the callers hold
//! one).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use clearance::Status;
use domain::codes::{CurrencyCode, Direction};
use domain::declaration::Declaration;
use domain::money::Fen;
use rust_decimal::{Decimal, RoundingStrategy};
use store::DeclarationId;
use tax::TaxContext;

use crate::error::AppError;
use crate::kernel::Core;

/// The tax engine on a declaration as filed. A cross-border e-commerce retail import is
/// assessed with its buyer's purchases of the year on record, those still standing (not
/// rejected, withdrawn or cancelled) and other than `exclude` (the declaration itself once
/// it is on record). The history is read at filing: two purchases of one buyer filed at the
/// same moment do not see each other (docs/TAX.md "E-commerce buyers in the service").
pub fn assess(
    core: &Core,
    decl: &Declaration,
    exclude: Option<DeclarationId>,
) -> Result<tax::Assessment, AppError> {
    let person = decl
        .buyer
        .as_ref()
        .filter(|_| {
            decl.direction == Direction::Import
                && decl.trade_mode.is_cross_border_ecommerce_retail()
        })
        .map(|b| b.person_id());
    let history = match &person {
        Some(person) => {
            let year = chrono::Datelike::year(&decl.declaration_date);
            let since = domain::time::china_midnight(
                chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January exists"),
            )
            .expect("a customs date is within chrono's range");
            let purchases = core
                .store
                .purchases(person, since)?
                .into_iter()
                .filter(|p| {
                    Some(p.id) != exclude
                        && !matches!(
                            p.status,
                            Status::Rejected | Status::Withdrawn | Status::Cancelled
                        )
                })
                .map(|p| tax::Purchase {
                    person_id: person.clone(),
                    date: cargo_control::china_date(p.submitted_at),
                    value_fen: p.value_fen,
                })
                .collect();
            Some(tax::EcommerceHistory { purchases })
        }
        None => None,
    };
    let ctx = TaxContext {
        reference: &*core.refdata,
        rates: &core.tax.rates,
        calendar: &core.tax.calendar,
        remedies: &core.tax.remedies,
        policy: &core.tax.policy,
        tax_date: None,
        ecommerce_buyer: match (&person, &history) {
            (Some(person_id), Some(history)) => Some(tax::EcommerceBuyer { person_id, history }),
            _ => None,
        },
    };
    tax::assess(decl, &ctx).map_err(|e| {
        AppError::invalid(
            "",
            "cannot_assess",
            format!("无法计税：{e}"),
            format!("cannot assess: {e}"),
        )
    })
}

/// Payable amounts per notice kind, as the lifecycle records them.
pub fn assess_amounts(
    core: &Core,
    decl: &Declaration,
    exclude: Option<DeclarationId>,
) -> Result<Vec<(clearance::TaxKind, Fen)>, AppError> {
    Ok(notice_amounts(&assess(core, decl, exclude)?))
}

/// The customs value of a declaration (the late declaration fee is a share of it).
pub fn customs_value(core: &Core, decl: &Declaration) -> Option<Fen> {
    assess(core, decl, None)
        .ok()
        .map(|a| a.customs_value_total_fen)
}

/// `amount` of `currency` in fen at the customs rate for a declaration dated `date` (the
/// tax engine's table and rate-date rule), rounded half up; `None` without a rate.
pub fn to_fen(
    core: &Core,
    amount: Decimal,
    currency: CurrencyCode,
    date: NaiveDate,
) -> Option<Fen> {
    let per_unit = if currency.as_str() == "CNY" {
        Decimal::ONE
    } else {
        let (rate_date, _) = tax::rates::rule_date(date, &core.tax.calendar, &core.tax.policy);
        core.tax.rates.get(currency, rate_date)?.per_unit()
    };
    let fen = (amount
        .checked_mul(per_unit)?
        .checked_mul(Decimal::ONE_HUNDRED)?)
    .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(fen).ok().map(Fen)
}

/// A declaration's value in fen (its items' total prices at the customs rate of its
/// declaration date, rounded per item); `None` when a currency has no rate.
pub fn declared_value_fen(core: &Core, decl: &Declaration) -> Option<Fen> {
    let mut sum = 0i64;
    for i in &decl.items {
        sum = sum.checked_add(to_fen(core, i.total_price, i.currency, decl.declaration_date)?.0)?;
    }
    Some(Fen(sum))
}

/// The lifecycle has one notice per kind; the engine's kinds map onto them.
fn notice_kind(kind: tax::TaxKind) -> clearance::TaxKind {
    match kind {
        tax::TaxKind::Duty | tax::TaxKind::ExportDuty | tax::TaxKind::PostalArticlesTax => {
            clearance::TaxKind::Duty
        }
        tax::TaxKind::AntiDumpingDuty => clearance::TaxKind::AntiDumpingDuty,
        tax::TaxKind::CountervailingDuty => clearance::TaxKind::CountervailingDuty,
        tax::TaxKind::SafeguardDuty => clearance::TaxKind::SafeguardDuty,
        tax::TaxKind::ConsumptionTax => clearance::TaxKind::ConsumptionTax,
        tax::TaxKind::ImportVat => clearance::TaxKind::Vat,
    }
}

/// Payable amounts per notice kind, as the lifecycle records them.
pub fn notice_amounts(assessment: &tax::Assessment) -> Vec<(clearance::TaxKind, Fen)> {
    let mut by_kind: BTreeMap<clearance::TaxKind, Fen> = BTreeMap::new();
    for n in &assessment.notices {
        if n.payable_fen > Fen::ZERO {
            *by_kind.entry(notice_kind(n.kind)).or_insert(Fen::ZERO) += n.payable_fen;
        }
    }
    by_kind.into_iter().collect()
}
