//! The engine: a valid declaration in, an [`Assessment`] out. Pure: every input is an argument.
//!
//! Order of work (docs/DOMAIN.md §4): exchange rates → customs value per item (charges apportioned
//! by goods value) → duty (tariff measure chosen by origin, plus trade remedies) → consumption tax
//! → import VAT → reliefs (duty treatment, levy nature, e-commerce) → one notice per tax kind
//! with the de minimis rule. Each tax is rounded to the fen half up and the rounded amount is
//! used in later bases.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

use domain::codes::{CurrencyCode, Direction, TransactionTerms};
use domain::declaration::{Charge, Declaration, Item};
use domain::money::Fen;
use domain::reference::{ConsumptionTaxRate, DutyRate, PerUnit, Reference, TariffLine};

use crate::assessment::{
    Assessment, Formula, ItemAssessment, ItemTax, MeasureApplied, Part, PaymentNotice, Regime,
    Step, TaxKind,
};
use crate::calendar::TradingCalendar;
use crate::ecommerce::EcommerceBuyer;
use crate::error::TaxError;
use crate::policy::{PerUnitFreightBasis, Relief, TaxPolicy, TierPrice};
use crate::rates::{RateTable, RateUsed};
use crate::remedies::{RemedyKind, TradeRemedyTable};

/// Everything the engine needs besides the declaration.
#[derive(Clone, Copy)]
pub struct TaxContext<'a> {
    pub reference: &'a dyn Reference,
    pub rates: &'a RateTable,
    pub calendar: &'a TradingCalendar,
    pub remedies: &'a TradeRemedyTable,
    pub policy: &'a TaxPolicy,
    /// The date whose tariff lines and exchange rates apply (`jinguan tax --date D`); `None`
    /// means the declaration date.
    pub tax_date: Option<NaiveDate>,
    /// The buyer of a cross-border e-commerce retail import and their purchase history.
    pub ecommerce_buyer: Option<EcommerceBuyer<'a>>,
}

/// The largest amount, in yuan, that the engine takes as a goods value, a charge or a rounded
/// tax: ten trillion yuan (10^13), about China's imports of a whole year. Anything larger is
/// [`TaxError::Overflow`], never a panic: with every amount at most this, the products and sums
/// inside stay within `Decimal` (apportionment multiplies two such amounts by 100, 10^28 <
/// 7.9 × 10^28), and sums of fen over any number of items stay far inside `i64`.
pub const AMOUNT_MAX_YUAN: i64 = 10_000_000_000_000;

/// `v`, if it is within ±[`AMOUNT_MAX_YUAN`].
pub(crate) fn bounded(v: Decimal, what: &'static str) -> Result<Decimal, TaxError> {
    if v.abs() > Decimal::from(AMOUNT_MAX_YUAN) {
        Err(TaxError::Overflow { what })
    } else {
        Ok(v)
    }
}

/// `a × b`, or [`TaxError::Overflow`] beyond `Decimal`'s range.
pub(crate) fn mul(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, TaxError> {
    a.checked_mul(b).ok_or(TaxError::Overflow { what })
}

/// `a ÷ b` (b not zero), or [`TaxError::Overflow`] beyond `Decimal`'s range.
fn div(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, TaxError> {
    a.checked_div(b).ok_or(TaxError::Overflow { what })
}

/// Round an exact yuan amount to the fen, half up; beyond ±[`AMOUNT_MAX_YUAN`] it is
/// [`TaxError::Overflow`].
pub(crate) fn round(yuan: Decimal, what: &'static str) -> Result<Fen, TaxError> {
    Fen::round_yuan(bounded(yuan, what)?).ok_or(TaxError::Overflow { what })
}

fn percent(r: Decimal) -> String {
    format!("{}%", (r * Decimal::ONE_HUNDRED).normalize())
}

/// A number for a formula: normalized, and at most 6 decimal places (marked `≈` when cut; the
/// step's `exact` field keeps every digit).
fn n(d: Decimal) -> String {
    let short = d.round_dp(6);
    if short == d {
        d.normalize().to_string()
    } else {
        format!("≈{}", short.normalize())
    }
}

/// Parts of a [`Formula`]: a number as formulas show it ([`n`]).
#[allow(non_snake_case)]
fn N(d: Decimal) -> Part {
    Part::Num(d)
}

/// A rate as a percentage ([`percent`]).
#[allow(non_snake_case)]
fn P(r: Decimal) -> Part {
    Part::Percent(r)
}

/// A decimal as it is (`Display`).
#[allow(non_snake_case)]
fn D(d: Decimal) -> Part {
    Part::Plain(d)
}

/// An amount in fen.
#[allow(non_snake_case)]
fn F(f: Fen) -> Part {
    Part::Fen(f)
}

/// Literal text.
#[allow(non_snake_case)]
fn L(s: &'static str) -> Part {
    Part::Lit(s)
}

/// A formula from its parts; the text is written only when it is displayed.
macro_rules! formula {
    ($($p:expr),* $(,)?) => {
        Formula(vec![$($p),*])
    };
}

pub(crate) fn step(
    rule: &'static str,
    label_zh: &'static str,
    label_en: &'static str,
    formula: impl Into<Formula>,
    exact: Decimal,
    rounded_fen: Option<Fen>,
) -> Step {
    Step {
        rule,
        label_zh,
        label_en,
        formula: formula.into(),
        exact,
        rounded_fen,
    }
}

/// Assess the duties and taxes of a valid declaration.
pub fn assess(decl: &Declaration, ctx: &TaxContext<'_>) -> Result<Assessment, TaxError> {
    let policy = ctx.policy;
    let tax_date = ctx.tax_date.unwrap_or(decl.declaration_date);
    let mut notes = Vec::new();

    // Exchange rates for every currency the declaration uses, in order of first use.
    let mut rates: Vec<RateUsed> = Vec::new();
    let mut rate_of = |currency: CurrencyCode| -> Result<Decimal, TaxError> {
        if currency == CurrencyCode::CNY {
            return Ok(Decimal::ONE);
        }
        if let Some(r) = rates.iter().find(|r| r.currency == currency) {
            return Ok(r.yuan_per_unit);
        }
        let used = ctx
            .rates
            .rate_used(currency, tax_date, ctx.calendar, policy)?;
        let per_unit = used.yuan_per_unit;
        rates.push(used);
        Ok(per_unit)
    };

    // Goods value of each item in yuan (exact).
    let mut header_steps = Vec::new();
    let mut goods_yuan = Vec::with_capacity(decl.items.len());
    let mut item_steps: Vec<Vec<Step>> = vec![Vec::new(); decl.items.len()];
    for (i, item) in decl.items.iter().enumerate() {
        if item.total_price.is_sign_negative() {
            return Err(TaxError::Negative {
                what: "total price",
                value: item.total_price.to_string(),
            });
        }
        let rate = rate_of(item.currency)?;
        let yuan = bounded(mul(item.total_price, rate, "goods price")?, "goods price")?;
        item_steps[i].push(step(
            "value.goods",
            "货价",
            "goods price",
            formula![
                Part::Currency(item.currency),
                L(" "),
                N(item.total_price),
                L(" × "),
                D(rate),
                L(" = "),
                N(yuan)
            ],
            yuan,
            None,
        ));
        goods_yuan.push(yuan);
    }
    let goods_total: Decimal = goods_yuan.iter().copied().sum();

    let charge_yuan = |charge: &Charge,
                       base: Decimal,
                       what: &'static str,
                       rate_of: &mut dyn FnMut(CurrencyCode) -> Result<Decimal, TaxError>|
     -> Result<(Decimal, Formula), TaxError> {
        Ok(match *charge {
            Charge::Rate { percent: p } => {
                let v = bounded(mul(base, p, what)? / Decimal::ONE_HUNDRED, what)?;
                (v, formula![N(base), L(" × "), N(p), L("% = "), N(v)])
            }
            Charge::Total { amount, currency } => {
                let r = rate_of(currency)?;
                let v = bounded(mul(amount, r, what)?, what)?;
                (
                    v,
                    formula![
                        Part::Currency(currency),
                        L(" "),
                        N(amount),
                        L(" × "),
                        D(r),
                        L(" = "),
                        N(v)
                    ],
                )
            }
            Charge::PerUnit { amount, currency } => {
                if what != "freight" {
                    return Err(TaxError::PerUnitChargeNotAllowed { charge: what });
                }
                let r = rate_of(currency)?;
                let (units, basis) = match policy.per_unit_freight_basis {
                    PerUnitFreightBasis::GrossTonne => {
                        (decl.gross_weight_kg / Decimal::ONE_THOUSAND, "t gross")
                    }
                    PerUnitFreightBasis::DeclaredQuantity => (
                        decl.items.iter().map(|i| i.declared_quantity).sum(),
                        "declared units",
                    ),
                };
                let v = bounded(mul(mul(amount, units, what)?, r, what)?, what)?;
                (
                    v,
                    formula![
                        Part::Currency(currency),
                        L(" "),
                        N(amount),
                        L(" × "),
                        N(units),
                        L(" "),
                        L(basis),
                        L(" × "),
                        D(r),
                        L(" = "),
                        N(v)
                    ],
                )
            }
        })
    };

    let terms = decl.transaction_terms;
    let (mut freight, mut insurance, mut other) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    let needs_freight = matches!(terms, TransactionTerms::Fob | TransactionTerms::Exw);
    let needs_insurance = matches!(
        terms,
        TransactionTerms::Fob | TransactionTerms::Cfr | TransactionTerms::Exw
    );
    let includes_insurance = matches!(terms, TransactionTerms::Cif | TransactionTerms::Ci);
    header_steps.push(step(
        "value.goods_total",
        "货价合计",
        "goods price, all items",
        formula![
            Part::Count(decl.items.len()),
            L(" item(s) = "),
            N(goods_total)
        ],
        goods_total,
        None,
    ));

    let unknown_rate = policy.unknown_insurance_rate;
    match decl.direction {
        Direction::Import => {
            if needs_freight {
                if let Some(c) = &decl.freight {
                    let (v, f) = charge_yuan(c, goods_total, "freight", &mut rate_of)?;
                    freight = v;
                    header_steps.push(step("value.freight", "运费", "freight (added)", f, v, None));
                } else {
                    return Err(TaxError::MissingCharge {
                        charge: "freight",
                        terms: terms.name(),
                    });
                }
            } else if decl.freight.is_some() {
                notes.push(format!(
                    "freight declared with {} terms is already in the price: not added / 运费已含在{}价格中，不另计",
                    terms.name(),
                    terms.name()
                ));
            }
            if needs_insurance {
                let base = goods_total + freight;
                match &decl.insurance {
                    Some(c) => {
                        let (v, f) = charge_yuan(c, base, "insurance", &mut rate_of)?;
                        insurance = v;
                        header_steps.push(step(
                            "value.insurance",
                            "保险费",
                            "insurance (added)",
                            f,
                            v,
                            None,
                        ));
                    }
                    None => {
                        insurance = bounded(mul(base, unknown_rate, "insurance")?, "insurance")?;
                        header_steps.push(step(
                            "value.insurance_unknown",
                            "保险费未知，按3‰计",
                            "insurance unknown: (goods + freight) × 3‰",
                            formula![
                                L("("),
                                N(goods_total),
                                L(" + "),
                                N(freight),
                                L(") × "),
                                N(unknown_rate),
                                L(" = "),
                                N(insurance)
                            ],
                            insurance,
                            None,
                        ));
                    }
                }
            } else if decl.insurance.is_some() && includes_insurance {
                notes.push(format!(
                    "insurance declared with {} terms is already in the price: not added / 保险费已含在价格中，不另计",
                    terms.name()
                ));
            }
            if matches!(terms, TransactionTerms::Ci) {
                match &decl.freight {
                    Some(c) => {
                        let (v, f) = charge_yuan(c, goods_total, "freight", &mut rate_of)?;
                        freight = v;
                        header_steps.push(step(
                            "value.freight",
                            "运费",
                            "freight (added to C&I)",
                            f,
                            v,
                            None,
                        ));
                    }
                    None => {
                        return Err(TaxError::MissingCharge {
                            charge: "freight",
                            terms: terms.name(),
                        })
                    }
                }
            }
            if matches!(
                terms,
                TransactionTerms::MarketPrice | TransactionTerms::Dianchang
            ) {
                notes.push(format!(
                    "{} terms: the declared price is taken as the value at the place of import / 以申报价格为完税价格基础",
                    terms.name()
                ));
            }
        }
        Direction::Export => {
            // Export value is FOB: deduct what the price includes beyond the place of export.
            let deducts_freight = matches!(terms, TransactionTerms::Cif | TransactionTerms::Cfr);
            if deducts_freight {
                match &decl.freight {
                    Some(c) => {
                        let (v, f) = charge_yuan(c, goods_total, "freight", &mut rate_of)?;
                        freight = -v;
                        header_steps.push(step(
                            "value.freight",
                            "运费",
                            "freight (deducted)",
                            f,
                            v,
                            None,
                        ));
                    }
                    None => {
                        return Err(TaxError::MissingCharge {
                            charge: "freight",
                            terms: terms.name(),
                        })
                    }
                }
            }
            if includes_insurance {
                // price = (FOB + freight) × (1 + r), so the insurance in it is price × r ÷ (1 + r).
                let r = match &decl.insurance {
                    Some(Charge::Rate { percent: p }) => *p / Decimal::ONE_HUNDRED,
                    Some(c) => {
                        let (v, f) = charge_yuan(c, goods_total, "insurance", &mut rate_of)?;
                        insurance = -v;
                        header_steps.push(step(
                            "value.insurance",
                            "保险费",
                            "insurance (deducted)",
                            f,
                            v,
                            None,
                        ));
                        Decimal::ZERO
                    }
                    None => unknown_rate,
                };
                if !r.is_zero() {
                    let v = div(
                        mul(goods_total, r, "insurance")?,
                        Decimal::ONE + r,
                        "insurance",
                    )?;
                    insurance = -v;
                    header_steps.push(step(
                        "value.insurance_in_price",
                        "价格内含保险费",
                        "insurance in the price: price × r ÷ (1 + r) (deducted)",
                        formula![
                            N(goods_total),
                            L(" × "),
                            N(r),
                            L(" ÷ "),
                            N(Decimal::ONE + r),
                            L(" = "),
                            N(v)
                        ],
                        v,
                        None,
                    ));
                }
            }
        }
    }
    if let Some(c) = &decl.other_charges {
        let (v, f) = charge_yuan(c, goods_total, "other charges", &mut rate_of)?;
        other = v;
        header_steps.push(step(
            "value.other_charges",
            "杂费",
            "other charges up to the place of import/export (negative: deducted)",
            f,
            v,
            None,
        ));
    }
    let total_exact = goods_total + freight + insurance + other;
    if total_exact.is_sign_negative() {
        return Err(TaxError::NegativeValue);
    }
    let total_fen = round(total_exact, "customs value")?;
    header_steps.push(step(
        "value.total",
        if decl.direction == Direction::Import {
            "完税价格合计"
        } else {
            "FOB价格合计"
        },
        if decl.direction == Direction::Import {
            "customs value (CIF), all items"
        } else {
            "FOB value, all items"
        },
        formula![
            N(goods_total),
            L(" + "),
            N(freight),
            L(" + "),
            N(insurance),
            L(" + "),
            N(other),
            L(" = "),
            N(total_exact)
        ],
        total_exact,
        Some(total_fen),
    ));

    // Apportion by goods value; remainder fen by largest remainder (ties: lower item number).
    let values_fen = apportion(total_fen, &goods_yuan, total_exact, goods_total)?;
    if decl.items.len() > 1 && total_exact != goods_total {
        header_steps.push(step(
            "value.apportionment",
            "按货价分摊运保杂费",
            "charges apportioned to items by goods value; each item floored to the fen, leftover fen to the largest remainders",
            formula![
                Part::Count(decl.items.len()),
                L(" items, Σ = "),
                F(total_fen)
            ],
            total_exact,
            Some(total_fen),
        ));
    }

    // Regime.
    let mut regime = Regime::General;
    let mut ecommerce_within = false;
    if decl.direction == Direction::Import && decl.trade_mode.is_cross_border_ecommerce_retail() {
        let buyer = ctx.ecommerce_buyer.ok_or(TaxError::MissingEcommerceBuyer)?;
        let year = tax_date.year();
        let annual_before = buyer.history.annual_total(buyer.person_id, year, tax_date);
        let limit_tx = policy.ecommerce_transaction_limit_yuan;
        let limit_year = policy.ecommerce_annual_limit_yuan;
        let tx = total_fen.to_yuan();
        let (within, reason) = if tx > limit_tx {
            (
                false,
                format!(
                    "transaction {} > {} / 单次交易超过限值",
                    total_fen,
                    n(limit_tx)
                ),
            )
        } else if annual_before.to_yuan() + tx > limit_year {
            (
                false,
                format!(
                    "{} + {} > annual limit {} / 超过年度限值",
                    annual_before,
                    total_fen,
                    n(limit_year)
                ),
            )
        } else {
            (
                true,
                format!(
                    "{} ≤ {} and {} + {} ≤ {}",
                    total_fen,
                    n(limit_tx),
                    annual_before,
                    total_fen,
                    n(limit_year)
                ),
            )
        };
        ecommerce_within = within;
        regime = Regime::CrossBorderEcommerce {
            person_id: buyer.person_id.to_string(),
            transaction_value_fen: total_fen,
            annual_before_fen: annual_before,
            within_limits: within,
            reason,
        };
    }

    let mut items = Vec::with_capacity(decl.items.len());
    for ((i, item), steps) in decl.items.iter().enumerate().zip(item_steps) {
        let line = ctx
            .reference
            .tariff_line(item.commodity_code, tax_date)
            .ok_or(TaxError::MissingTariffLine {
                item_no: item.item_no,
                code: item.commodity_code,
                date: tax_date,
            })?;
        let relief = relief_for(decl, item, policy)?;
        let mut a = ItemAssessment {
            item_no: item.item_no,
            commodity_code: Some(item.commodity_code),
            name: item.name.clone(),
            origin: Some(item.origin_country.to_string()),
            duty_treatment: Some(item.duty_treatment.to_string()),
            customs_value_fen: values_fen[i],
            measures: Vec::new(),
            steps,
            taxes: Vec::new(),
        };
        match decl.direction {
            Direction::Import => assess_import_item(
                item,
                line,
                values_fen[i],
                relief,
                &regime,
                ecommerce_within,
                tax_date,
                ctx,
                &mut a,
            )?,
            Direction::Export => assess_export_item(item, line, values_fen[i], relief, &mut a)?,
        }
        items.push(a);
    }

    let de_minimis_applies = match regime {
        Regime::CrossBorderEcommerce {
            within_limits: true,
            ..
        } => policy.de_minimis_applies_to_ecommerce,
        _ => true,
    };
    let notices = notices(&items, policy.de_minimis_fen, de_minimis_applies)?;
    let total_payable_fen = sum_fen(notices.iter().map(|n| n.payable_fen), "total payable")?;
    let customs_value_total_fen = sum_fen(
        items.iter().map(|i| i.customs_value_fen),
        "total customs value",
    )?;
    let assessment = Assessment {
        direction: decl.direction,
        regime,
        declaration_date: decl.declaration_date,
        tax_date,
        transaction_terms: Some(format!("{} ({})", terms.name(), terms.code())),
        exchange_rates: rates,
        header_steps,
        customs_value_total_fen,
        items,
        notices,
        total_payable_fen,
        notes,
    };
    check_invariants(&assessment);
    Ok(assessment)
}

/// Internal invariants, asserted: they can only break through a bug, never through input.
pub(crate) fn check_invariants(a: &Assessment) {
    let total: Fen = a.notices.iter().map(|n| n.payable_fen).sum();
    assert_eq!(
        total, a.total_payable_fen,
        "total equals the sum of the notices"
    );
    for notice in &a.notices {
        let items: Fen = a.items.iter().map(|i| i.payable(notice.kind)).sum();
        assert_eq!(
            items, notice.assessed_fen,
            "a notice equals the sum of its items"
        );
        assert!(notice.payable_fen.0 >= 0, "no negative tax");
    }
}

/// Split `total_fen` over items in proportion to `weights` (exact), flooring each to the fen and
/// giving the leftover fen one by one to the largest remainders (ties: the earlier item).
fn apportion(
    total_fen: Fen,
    weights: &[Decimal],
    total_exact: Decimal,
    weight_sum: Decimal,
) -> Result<Vec<Fen>, TaxError> {
    if weights.is_empty() {
        return Ok(Vec::new());
    }
    if weight_sum.is_zero() {
        if total_fen.is_zero() {
            return Ok(vec![Fen::ZERO; weights.len()]);
        }
        return Err(TaxError::ZeroGoodsValue);
    }
    let mut shares = Vec::with_capacity(weights.len());
    let mut floor_sum = 0i64;
    for (i, w) in weights.iter().enumerate() {
        let exact_fen = total_exact * Decimal::ONE_HUNDRED * *w / weight_sum;
        let floor = exact_fen.floor();
        let floor_i = i64::try_from(floor).map_err(|_| TaxError::Overflow {
            what: "apportionment",
        })?;
        floor_sum += floor_i;
        shares.push((i, floor_i, exact_fen - floor));
    }
    let mut leftover = total_fen.0 - floor_sum;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| shares[b].2.cmp(&shares[a].2).then(a.cmp(&b)));
    let mut out: Vec<Fen> = shares.iter().map(|s| Fen(s.1)).collect();
    let mut k = 0;
    while leftover > 0 {
        out[order[k % order.len()]].0 += 1;
        leftover -= 1;
        k += 1;
    }
    while leftover < 0 {
        // Only when decimal precision made the floors sum above the rounded total.
        let j = order[order.len() - 1 - (k % order.len())];
        out[j].0 -= 1;
        leftover += 1;
        k += 1;
    }
    Ok(out)
}

fn relief_for(decl: &Declaration, item: &Item, policy: &TaxPolicy) -> Result<Relief, TaxError> {
    let code = item.duty_treatment.as_str();
    if code == "5" {
        return policy
            .levy_natures
            .get(decl.levy_nature.as_str())
            .copied()
            .ok_or_else(|| TaxError::UnsupportedLevyNature {
                item_no: item.item_no,
                levy_nature: decl.levy_nature.to_string(),
            });
    }
    policy
        .duty_treatments
        .get(code)
        .copied()
        .ok_or_else(|| TaxError::UnsupportedDutyTreatment {
            item_no: item.item_no,
            treatment: code.to_string(),
        })
}

/// The quantity of an item in a rate's unit (first or second legal unit).
fn quantity_in(item: &Item, per: &PerUnit, measure: &'static str) -> Result<Decimal, TaxError> {
    if per.unit == item.first_unit {
        return Ok(item.first_quantity);
    }
    if item.second_unit == Some(per.unit) {
        if let Some(q) = item.second_quantity {
            return Ok(q);
        }
    }
    Err(TaxError::UnitMismatch {
        item_no: item.item_no,
        measure,
        rate_unit: per.unit,
        first_unit: item.first_unit,
        second_unit: item.second_unit,
    })
}

/// The exact amount of a duty rate on a value and an item's quantities, and the formula.
fn duty_amount(rate: &DutyRate, value: Decimal, item: &Item) -> Result<Decimal, TaxError> {
    let mut amount = mul(value, rate.ad_valorem(), "duty")?;
    if let Some(per) = rate.specific() {
        let specific = mul(quantity_in(item, &per, "duty")?, per.yuan, "duty")?;
        amount = bounded(amount, "duty")? + bounded(specific, "duty")?;
    }
    Ok(amount)
}

/// The formula of [`duty_amount`], written only for the chosen rate.
fn duty_formula(
    rate: &DutyRate,
    value: Decimal,
    item: &Item,
    amount: Decimal,
) -> Result<Formula, TaxError> {
    let mut f = Formula(Vec::with_capacity(9));
    match (rate, rate.specific()) {
        (DutyRate::Specific(_), Some(per)) => {
            let q = quantity_in(item, &per, "duty")?;
            f.0.extend([N(q), L(" "), Part::Unit(per.unit), L(" × "), N(per.yuan)]);
        }
        (_, Some(per)) => {
            let q = quantity_in(item, &per, "duty")?;
            f.0.extend([
                N(value),
                L(" × "),
                P(rate.ad_valorem()),
                L(" + "),
                N(q),
                L(" "),
                Part::Unit(per.unit),
                L(" × "),
                N(per.yuan),
            ]);
        }
        (_, None) => f.0.extend([N(value), L(" × "), P(rate.ad_valorem())]),
    }
    f.0.extend([L(" = "), N(amount)]);
    Ok(f)
}

#[allow(clippy::too_many_arguments)]
fn assess_import_item(
    item: &Item,
    line: &TariffLine,
    value_fen: Fen,
    relief: Relief,
    regime: &Regime,
    ecommerce_within: bool,
    on: NaiveDate,
    ctx: &TaxContext<'_>,
    a: &mut ItemAssessment,
) -> Result<(), TaxError> {
    let policy = ctx.policy;
    let value = value_fen.to_yuan();
    a.steps.push(step(
        "value.item",
        "完税价格",
        "customs value of the item",
        formula![L("goods + apportioned charges = "), F(value_fen)],
        value,
        Some(value_fen),
    ));

    // Duty rate chosen by origin, or the in-quota rate.
    let origin = item.origin_country;
    let quota = ctx.reference.tariff_quota(item.commodity_code, on);
    let duty_fen = if ecommerce_within {
        a.measures.push(MeasureApplied {
            kind: TaxKind::Duty,
            measure: "ecommerce_zero_duty".into(),
            rate: "0%".into(),
            reason: "cross-border e-commerce retail within the limits: duty rate 0 / 跨境电商零售进口限值内关税税率为0".into(),
        });
        Fen::ZERO
    } else if let (Some(q), Some(cert)) = (quota, item.quota_certificate_no.as_deref()) {
        // Import and Export Duties Regulations art. 11 (tariff quotas; carried into the Customs
        // Tariff Law): imports within the quota take the in-quota rate, whatever the origin.
        // The certificate's balance was checked and reserved by the E-Port ledger in the
        // filing's transaction (a filing over it is rejected there).
        let exact = duty_amount(&q.in_quota, value, item)?;
        let formula = duty_formula(&q.in_quota, value, item, exact)?;
        a.measures.push(MeasureApplied {
            kind: TaxKind::Duty,
            measure: "in_quota".into(),
            rate: q.in_quota.to_string(),
            reason: format!(
                "{} within the tariff quota under certificate {cert}: in-quota rate (duties regulations art. 11; out-of-quota {}) / 关税配额内，适用关税配额税率（关税配额证明 {cert}）",
                q.commodity.as_str(),
                q.out_of_quota
            ),
        });
        let fen = round(exact, "duty")?;
        a.steps
            .push(step("duty", "关税", "duty", formula, exact, Some(fen)));
        fen
    } else {
        let general = ctx.reference.general_rate_origin(origin, on)
            || policy
                .general_rate_origins
                .iter()
                .any(|o| o == origin.as_str());
        // Import and Export Duties Regulations art. 11, carried into the Customs Tariff Law
        // (art. 13): goods under the MFN rate that have a provisional rate take the provisional
        // rate, even when it is higher; goods under an agreement (conventional) or special
        // preferential rate that also have a provisional rate take the lower of the two; with
        // no provisional rate and an MFN rate below the agreement rate, the MFN rate; goods
        // under the general rate never take a provisional rate. "Lower" is decided on this
        // item's amounts, so rates of different forms (ad valorem, specific, compound) compare.
        let mut candidates: Vec<(String, DutyRate)> = Vec::new();
        let mut considered: Vec<(String, DutyRate)> = Vec::new();
        if general {
            candidates.push(("general".into(), line.general));
        } else {
            let mfn_applied = match line.provisional {
                Some(p) => ("provisional".to_owned(), p),
                None => ("mfn".to_owned(), line.mfn),
            };
            considered.push(("mfn".into(), line.mfn));
            if let Some(p) = line.provisional {
                considered.push(("provisional".into(), p));
            }
            candidates.push(mfn_applied);
            for ag in &line.agreements {
                if !ag.origins.contains(&origin) {
                    continue;
                }
                // Preference needs proof (Customs Tariff Law art. 12; the agreements' rules of
                // origin): a certificate of origin or origin declaration for this agreement and
                // direct transport. Without it the goods are MFN goods.
                let proven = item
                    .origin_proof
                    .as_ref()
                    .is_some_and(|p| p.agreement == ag.agreement && p.direct_transport);
                if !proven {
                    considered.push((
                        format!("agreement:{} not claimed (no origin proof for it, or not direct transport)", ag.agreement),
                        ag.rate,
                    ));
                    continue;
                }
                let name = format!("agreement:{}", ag.agreement);
                considered.push((name.clone(), ag.rate));
                let agreement_amount = duty_amount(&ag.rate, value, item)?;
                let other = match line.provisional {
                    Some(p) => ("provisional".to_owned(), p),
                    None => ("mfn".to_owned(), line.mfn),
                };
                let other_amount = duty_amount(&other.1, value, item)?;
                candidates.push(if other_amount < agreement_amount {
                    other
                } else {
                    (name, ag.rate)
                });
            }
        }
        let mut best: Option<(usize, Decimal)> = None;
        for (k, (_, rate)) in candidates.iter().enumerate() {
            let amount = duty_amount(rate, value, item)?;
            if best.is_none_or(|b| amount < b.1) {
                best = Some((k, amount));
            }
        }
        let (k, exact) = best.expect("there is at least one candidate");
        let formula = duty_formula(&candidates[k].1, value, item, exact)?;
        let compared = || {
            considered
                .iter()
                .map(|(m, r)| format!("{m} {r}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let reason = if general {
            format!(
                "origin {origin} is listed for the general rate; no provisional rate applies to it / 适用普通税率，不适用暂定税率"
            )
        } else if considered.len() == 1 {
            format!("origin {origin}: MFN, no provisional or agreement rate / 最惠国税率")
        } else if candidates.len() == 1 && line.provisional.is_some() {
            format!(
                "origin {origin}: MFN goods with a provisional rate take the provisional rate (duties regulations art. 11; {}) / 适用最惠国税率的进口货物有暂定税率的，适用暂定税率",
                compared()
            )
        } else if candidates.len() == 1 {
            format!(
                "origin {origin}: MFN ({}) / 最惠国税率（未提供原产地证明的不适用协定税率）",
                compared()
            )
        } else {
            format!(
                "origin {origin}: agreement goods take the lower of the agreement and the provisional rate, by amount (duties regulations art. 11; {}) / 适用协定税率的进口货物有暂定税率的，从低适用税率",
                compared()
            )
        };
        let reason = match quota {
            // Beyond the quota (no certificate named), art. 11 sends the goods to the rates of
            // arts. 10 and 11, as any other goods.
            Some(q) => format!(
                "{} under a tariff quota, no tariff-quota certificate: out-of-quota, {reason} / 关税配额外",
                q.commodity.as_str()
            ),
            None => reason,
        };
        a.measures.push(MeasureApplied {
            kind: TaxKind::Duty,
            measure: candidates[k].0.clone(),
            rate: candidates[k].1.to_string(),
            reason,
        });
        let fen = round(exact, "duty")?;
        a.steps
            .push(step("duty", "关税", "duty", formula, exact, Some(fen)));
        fen
    };
    push_tax(a, TaxKind::Duty, duty_fen, relief.duty_factor, "duty")?;

    // Trade remedies count as duty.
    let mut remedies_fen = Fen::ZERO;
    if !ecommerce_within {
        for r in ctx
            .remedies
            .applicable(item.commodity_code, origin, item.producer.as_deref(), on)
        {
            let kind = match r.kind {
                RemedyKind::AntiDumping => TaxKind::AntiDumpingDuty,
                RemedyKind::Countervailing => TaxKind::CountervailingDuty,
                RemedyKind::Safeguard => TaxKind::SafeguardDuty,
            };
            let exact = mul(value, r.rate, "trade remedy")?;
            let fen = round(exact, "trade remedy")?;
            let producer = r.producer.as_deref().unwrap_or("*");
            a.measures.push(MeasureApplied {
                kind,
                measure: match r.kind {
                    RemedyKind::AntiDumping => "anti_dumping".into(),
                    RemedyKind::Countervailing => "countervailing".into(),
                    RemedyKind::Safeguard => "safeguard".into(),
                },
                rate: percent(r.rate),
                reason: format!(
                    "{}* from {} by producer {producer}",
                    r.code_prefix, r.origin
                ),
            });
            let (zh, en) = match r.kind {
                RemedyKind::AntiDumping => ("反倾销税", "anti-dumping duty"),
                RemedyKind::Countervailing => ("反补贴税", "countervailing duty"),
                RemedyKind::Safeguard => ("保障措施关税", "safeguard duty"),
            };
            a.steps.push(step(
                "duty.trade_remedy",
                zh,
                en,
                formula![N(value), L(" × "), P(r.rate), L(" = "), N(exact)],
                exact,
                Some(fen),
            ));
            remedies_fen = remedies_fen.checked_add(fen).ok_or(TaxError::Overflow {
                what: "trade remedies",
            })?;
            push_tax(a, kind, fen, relief.duty_factor, "trade remedy")?;
        }
    }
    let duty_all = duty_fen
        .checked_add(remedies_fen)
        .ok_or(TaxError::Overflow {
            what: "duty and trade remedies",
        })?;

    // Consumption tax.
    let mut ct_fen = Fen::ZERO;
    if let Some(ct) = &line.consumption_tax {
        let rate = match ct {
            ConsumptionTaxRate::Flat(r) => *r,
            ConsumptionTaxRate::Tiered {
                threshold_yuan,
                at_or_above,
                below,
            } => {
                // A tier of purely specific amounts (beer: 250 or 220 yuan a tonne) is chosen on
                // the goods' price without the tax, (value + duty) per unit: a specific tax has
                // no composite base (组成计税价格), which exists only for an ad valorem part
                // (Consumption Tax Regulations art. 9 / implementing rules art. 10 read with the
                // beer tiers of 财税〔2001〕84号; docs/TAX.md "Tiered consumption tax").
                let how = if below.ad_valorem().is_zero() && at_or_above.ad_valorem().is_zero() {
                    TierPrice::ValuePlusDutyPerUnit
                } else {
                    policy.consumption_tax_tier_price
                };
                let (price, formula) = tier_price(item, below, value, duty_all, how)?;
                let chosen = if price >= *threshold_yuan {
                    *at_or_above
                } else {
                    *below
                };
                a.steps.push(step(
                    "consumption_tax.tier",
                    "消费税税率档次",
                    "consumption tax tier by unit price",
                    {
                        let mut f = formula;
                        f.0.extend([
                            L("; "),
                            N(price),
                            L(" ≥ "),
                            N(*threshold_yuan),
                            L("? → "),
                            Part::Text(chosen.to_string()),
                        ]);
                        f
                    },
                    price,
                    None,
                ));
                chosen
            }
        };
        let t = rate.ad_valorem();
        if t >= Decimal::ONE {
            return Err(TaxError::ConsumptionTaxRateTooHigh {
                item_no: item.item_no,
            });
        }
        let (specific, spec_text): (Decimal, [Part; 5]) = match rate.specific() {
            Some(per) => {
                let q = quantity_in(item, &per, "consumption tax")?;
                (
                    bounded(mul(q, per.yuan, "consumption tax")?, "consumption tax")?,
                    [N(q), L(" "), Part::Unit(per.unit), L(" × "), N(per.yuan)],
                )
            }
            None => (Decimal::ZERO, [L(""), L(""), L(""), L(""), L("")]),
        };
        let duty_yuan = duty_all.to_yuan();
        let exact = if t.is_zero() {
            a.steps.push(step(
                "consumption_tax.specific",
                "从量消费税",
                "specific consumption tax: quantity × amount",
                {
                    let mut f = Formula(spec_text.to_vec());
                    f.0.extend([L(" = "), N(specific)]);
                    f
                },
                specific,
                None,
            ));
            specific
        } else {
            let base = div(
                value + duty_yuan + specific,
                Decimal::ONE - t,
                "consumption tax",
            )?;
            let (rule, zh, en, base_formula) = if specific.is_zero() {
                (
                    "consumption_tax.ad_valorem",
                    "从价消费税组成计税价格",
                    "ad valorem consumption tax base: (value + duty) ÷ (1 − t)",
                    formula![
                        L("("),
                        N(value),
                        L(" + "),
                        F(duty_all),
                        L(") ÷ (1 − "),
                        P(t),
                        L(")")
                    ],
                )
            } else {
                (
                    "consumption_tax.compound",
                    "复合计税组成计税价格",
                    "compound consumption tax base: (value + duty + quantity × amount) ÷ (1 − t)",
                    {
                        let mut f = formula![L("("), N(value), L(" + "), F(duty_all), L(" + ")];
                        f.0.extend(spec_text.iter().cloned());
                        f.0.extend([L(") ÷ (1 − "), P(t), L(")")]);
                        f
                    },
                )
            };
            a.steps.push(step(
                rule,
                zh,
                en,
                {
                    let mut f = base_formula;
                    f.0.extend([L(" = "), N(base)]);
                    f
                },
                base,
                None,
            ));
            let tax = bounded(mul(base, t, "consumption tax")?, "consumption tax")? + specific;
            let formula = if specific.is_zero() {
                formula![N(base), L(" × "), P(t), L(" = "), N(tax)]
            } else {
                formula![
                    N(base),
                    L(" × "),
                    P(t),
                    L(" + "),
                    N(specific),
                    L(" = "),
                    N(tax)
                ]
            };
            a.steps.push(step(
                "consumption_tax.amount",
                "消费税",
                "consumption tax",
                formula,
                tax,
                None,
            ));
            tax
        };
        ct_fen = round(exact, "consumption tax")?;
        a.steps.push(step(
            "consumption_tax.rounded",
            "消费税（分位四舍五入）",
            "consumption tax, rounded to the fen half up",
            formula![N(exact)],
            exact,
            Some(ct_fen),
        ));
        a.measures.push(MeasureApplied {
            kind: TaxKind::ConsumptionTax,
            measure: "consumption_tax".into(),
            rate: rate.to_string(),
            reason: format!("tariff line consumption tax {ct}"),
        });
        let factor = relief.consumption_tax_factor * ecommerce_factor(regime, policy);
        push_tax(
            a,
            TaxKind::ConsumptionTax,
            ct_fen,
            factor,
            "consumption tax",
        )?;
    }

    // Import VAT on value + duty (incl. trade remedies) + consumption tax, rounded amounts.
    let base = value + duty_all.to_yuan() + ct_fen.to_yuan();
    let exact = base * line.vat_rate;
    let vat_fen = round(exact, "VAT")?;
    a.steps.push(step(
        "vat",
        "进口环节增值税",
        "import VAT: (value + duty + consumption tax) × rate",
        formula![
            L("("),
            F(value_fen),
            L(" + "),
            F(duty_all),
            L(" + "),
            F(ct_fen),
            L(") × "),
            P(line.vat_rate),
            L(" = "),
            N(base),
            L(" × "),
            P(line.vat_rate),
            L(" = "),
            N(exact)
        ],
        exact,
        Some(vat_fen),
    ));
    a.measures.push(MeasureApplied {
        kind: TaxKind::ImportVat,
        measure: "vat".into(),
        rate: percent(line.vat_rate),
        reason: "tariff line VAT rate".into(),
    });
    let factor = relief.vat_factor * ecommerce_factor(regime, policy);
    push_tax(a, TaxKind::ImportVat, vat_fen, factor, "VAT")?;
    Ok(())
}

fn ecommerce_factor(regime: &Regime, policy: &TaxPolicy) -> Decimal {
    match regime {
        Regime::CrossBorderEcommerce {
            within_limits: true,
            ..
        } => policy.ecommerce_tax_factor,
        _ => Decimal::ONE,
    }
}

/// The price per legal first unit that chooses a consumption tax tier.
fn tier_price(
    item: &Item,
    below: &DutyRate,
    value: Decimal,
    duty: Fen,
    how: TierPrice,
) -> Result<(Decimal, Formula), TaxError> {
    if item.first_quantity.is_zero() {
        return Ok((Decimal::ZERO, formula![L("first quantity 0")]));
    }
    Ok(match how {
        TierPrice::ValuePlusDutyPerUnit => {
            let p = div(
                value + duty.to_yuan(),
                item.first_quantity,
                "consumption tax tier price",
            )?;
            (
                p,
                formula![
                    L("("),
                    N(value),
                    L(" + "),
                    F(duty),
                    L(") ÷ "),
                    N(item.first_quantity),
                    L(" = "),
                    N(p)
                ],
            )
        }
        TierPrice::CustomsValuePerUnit => {
            let p = div(value, item.first_quantity, "consumption tax tier price")?;
            (
                p,
                formula![N(value), L(" ÷ "), N(item.first_quantity), L(" = "), N(p)],
            )
        }
        TierPrice::CompositeBaseAtLowerRate => {
            let t = below.ad_valorem();
            let specific = match below.specific() {
                Some(per) => bounded(
                    mul(
                        quantity_in(item, &per, "consumption tax")?,
                        per.yuan,
                        "consumption tax",
                    )?,
                    "consumption tax",
                )?,
                None => Decimal::ZERO,
            };
            if t >= Decimal::ONE {
                return Err(TaxError::ConsumptionTaxRateTooHigh {
                    item_no: item.item_no,
                });
            }
            let p = div(
                div(
                    value + duty.to_yuan() + specific,
                    Decimal::ONE - t,
                    "consumption tax tier price",
                )?,
                item.first_quantity,
                "consumption tax tier price",
            )?;
            (
                p,
                formula![
                    L("("),
                    N(value),
                    L(" + "),
                    F(duty),
                    L(" + "),
                    N(specific),
                    L(") ÷ (1 − "),
                    P(t),
                    L(") ÷ "),
                    N(item.first_quantity),
                    L(" = "),
                    N(p)
                ],
            )
        }
    })
}

/// Record a tax of an item: statutory amount and the payable amount after a relief factor.
fn push_tax(
    a: &mut ItemAssessment,
    kind: TaxKind,
    statutory: Fen,
    factor: Decimal,
    what: &'static str,
) -> Result<(), TaxError> {
    let payable = if factor == Decimal::ONE {
        statutory
    } else {
        let exact = statutory.to_yuan() * factor;
        let fen = round(exact, what)?;
        a.steps.push(step(
            "relief",
            "减免",
            "relief: statutory amount × payable share",
            formula![
                L(kind.name_en()),
                L(" "),
                F(statutory),
                L(" × "),
                N(factor),
                L(" = "),
                N(exact)
            ],
            exact,
            Some(fen),
        ));
        fen
    };
    a.taxes.push(ItemTax {
        kind,
        statutory_fen: statutory,
        payable_fen: payable,
    });
    Ok(())
}

fn assess_export_item(
    item: &Item,
    line: &TariffLine,
    fob_fen: Fen,
    relief: Relief,
    a: &mut ItemAssessment,
) -> Result<(), TaxError> {
    if fob_fen.0 < 0 {
        return Err(TaxError::NegativeExportValue {
            item_no: item.item_no,
        });
    }
    let rate = line.export_duty.unwrap_or(Decimal::ZERO);
    let fob = fob_fen.to_yuan();
    a.steps.push(step(
        "value.fob_item",
        "FOB价格",
        "FOB value of the item",
        formula![F(fob_fen)],
        fob,
        Some(fob_fen),
    ));
    let value_exact = fob / (Decimal::ONE + rate);
    let value_fen = round(value_exact, "export value")?;
    a.customs_value_fen = value_fen;
    a.steps.push(step(
        "export.value",
        "出口完税价格",
        "export customs value: FOB ÷ (1 + export duty rate)",
        formula![
            F(fob_fen),
            L(" ÷ (1 + "),
            P(rate),
            L(") = "),
            N(value_exact)
        ],
        value_exact,
        Some(value_fen),
    ));
    if rate.is_zero() {
        return Ok(());
    }
    let exact = value_fen.to_yuan() * rate;
    let fen = round(exact, "export duty")?;
    a.steps.push(step(
        "export.duty",
        "出口关税",
        "export duty: export customs value × rate",
        formula![F(value_fen), L(" × "), P(rate), L(" = "), N(exact)],
        exact,
        Some(fen),
    ));
    a.measures.push(MeasureApplied {
        kind: TaxKind::ExportDuty,
        measure: "export_duty".into(),
        rate: percent(rate),
        reason: "tariff line export duty".into(),
    });
    push_tax(
        a,
        TaxKind::ExportDuty,
        fen,
        relief.duty_factor,
        "export duty",
    )
}

/// The sum of amounts that come from a declaration, or [`TaxError::Overflow`] beyond `i64` fen
/// (unreachable while every amount is bounded by [`AMOUNT_MAX_YUAN`] and a declaration has at
/// most `ITEMS_MAX` items, but checked rather than assumed).
pub(crate) fn sum_fen(
    amounts: impl IntoIterator<Item = Fen>,
    what: &'static str,
) -> Result<Fen, TaxError> {
    Fen::checked_sum(amounts).ok_or(TaxError::Overflow { what })
}

/// One notice per tax kind with a non-zero amount, with the de minimis rule applied per kind.
pub(crate) fn notices(
    items: &[ItemAssessment],
    de_minimis: Fen,
    applies: bool,
) -> Result<Vec<PaymentNotice>, TaxError> {
    let mut by_kind: BTreeMap<TaxKind, Vec<(u16, Fen)>> = BTreeMap::new();
    for item in items {
        for t in &item.taxes {
            if !t.payable_fen.is_zero() {
                by_kind
                    .entry(t.kind)
                    .or_default()
                    .push((item.item_no, t.payable_fen));
            }
        }
    }
    by_kind
        .into_iter()
        .map(|(kind, items)| {
            let assessed = sum_fen(items.iter().map(|(_, f)| *f), "a payment notice")?;
            let waived = (applies && !assessed.is_zero() && assessed <= de_minimis).then(|| {
                format!(
                    "de minimis: {assessed} ≤ {de_minimis} / 一票一税种{de_minimis}元及以下免征"
                )
            });
            Ok(PaymentNotice {
                kind,
                label_zh: kind.name_zh(),
                label_en: kind.name_en(),
                assessed_fen: assessed,
                payable_fen: if waived.is_some() {
                    Fen::ZERO
                } else {
                    assessed
                },
                waived,
                items,
            })
        })
        .filter(|n| n.as_ref().map_or(true, |n| !n.assessed_fen.is_zero()))
        .collect()
}
