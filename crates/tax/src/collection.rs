//! Collection after the first assessment: the dated policy table of periods, surcharges and
//! refund interest ([`CollectionPolicy`], `data/collection_periods.csv`), and re-assessment
//! ([`reassess`]): the paid assessment against the assessment of a new version, per tax kind,
//! becomes a supplementary levy 补征, a recovery 追征 (with its surcharge), a refund 退税 (with
//! interest where the taxpayer asked for it), or nothing when the period has run out.
//!
//! Pure: the caller reads the table (text) and gives every date. docs/TAX.md "Collection after
//! assessment" states the rules and which figures are verified.
//!
//! CSV: `rule,valid_from,valid_to,period,daily_rate,interest,basis_zh,basis_en,source,verified`;
//! `rule` = `late_payment` | `supplementary` | `recovery` | `refund_request`; dates `YYYY-MM-DD`,
//! empty = open; `period` = `<n>d` or `<n>y`; `daily_rate` a decimal (`0.0005`) or empty;
//! `interest` = `none` | `demand_deposit`; `verified` = `yes` | `no`.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Duration, Months, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Serialize;

use domain::money::Fen;

use crate::assessment::{Assessment, TaxKind};
use crate::csvrows;
use crate::policy::TaxPolicy;
use crate::rates::RowError;

/// The table shipped with Jinguan (`data/collection_periods.csv`). The app may load another.
pub const COLLECTION_PERIODS_CSV: &str = include_str!("../../../data/collection_periods.csv");

/// Which rule a row of the table gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// 缴纳期限 and 滞纳金: the days to pay a notice, the surcharge per day after.
    LatePayment,
    /// 补征: customs levies tax short-levied without the taxpayer's breach.
    Supplementary,
    /// 追征: tax short-levied through the taxpayer's breach, with a surcharge per day.
    Recovery,
    /// 退还多缴税款: the taxpayer's request for tax paid in excess, with interest.
    RefundRequest,
}

impl Rule {
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::LatePayment => "late_payment",
            Rule::Supplementary => "supplementary",
            Rule::Recovery => "recovery",
            Rule::RefundRequest => "refund_request",
        }
    }
    fn parse(s: &str) -> Option<Rule> {
        [
            Rule::LatePayment,
            Rule::Supplementary,
            Rule::Recovery,
            Rule::RefundRequest,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A period: so many days or so many years from its start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    Days(u32),
    Years(u32),
}

impl Period {
    /// The last day of the period starting on `start` (the start day itself not counted, so one
    /// year from 2024-03-05 ends on 2025-03-05; from 29 February, on 28 February).
    pub fn last_day(self, start: NaiveDate) -> NaiveDate {
        match self {
            Period::Days(d) => start + Duration::days(i64::from(d)),
            Period::Years(y) => start
                .checked_add_months(Months::new(y * 12))
                .unwrap_or(NaiveDate::MAX),
        }
    }
}

/// What interest a refund carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interest {
    None,
    /// 银行同期活期存款利息: the demand-deposit rate, which the caller supplies.
    DemandDeposit,
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyRow {
    pub rule: Rule,
    pub valid_from: Option<NaiveDate>,
    /// Inclusive.
    pub valid_to: Option<NaiveDate>,
    pub period: Period,
    pub daily_rate: Option<Decimal>,
    pub interest: Interest,
    pub basis_zh: String,
    pub basis_en: String,
    pub source: String,
    /// Whether the figures were checked against the legal text; `false` rows are flagged.
    pub verified: bool,
}

impl PolicyRow {
    pub fn in_force(&self, on: NaiveDate) -> bool {
        self.valid_from.is_none_or(|f| f <= on) && self.valid_to.is_none_or(|t| on <= t)
    }
}

/// The dated policy table.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CollectionPolicy {
    rows: Vec<PolicyRow>,
}

fn date(s: &str, what: &str) -> Result<Option<NaiveDate>, String> {
    if s.is_empty() {
        return Ok(None);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("{what} `{s}` is not a date YYYY-MM-DD"))
}

fn period(s: &str) -> Result<Period, String> {
    let bad = || format!("period `{s}` is not `<n>d` or `<n>y`");
    // The unit is the last character, which need not be one byte (fuzzing found `3中`).
    let unit_len = s.chars().next_back().map_or(0, char::len_utf8);
    let (n, unit) = s.split_at(s.len() - unit_len);
    let n: u32 = n.parse().map_err(|_| bad())?;
    match unit {
        "d" => Ok(Period::Days(n)),
        "y" if n <= 100 => Ok(Period::Years(n)),
        _ => Err(bad()),
    }
}

impl CollectionPolicy {
    /// The shipped table.
    pub fn shipped() -> CollectionPolicy {
        CollectionPolicy::parse_csv(COLLECTION_PERIODS_CSV).expect("the shipped table parses")
    }

    /// Parse the CSV; every bad row is reported with its line. Two rows of one rule in force on
    /// the same day are an error.
    pub fn parse_csv(text: &str) -> Result<CollectionPolicy, Vec<RowError>> {
        let mut rows: Vec<PolicyRow> = Vec::new();
        let mut errors = Vec::new();
        for row in csvrows::rows(text, "rule") {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let line = row.line;
            let parsed = (|| -> Result<PolicyRow, String> {
                if row.fields.len() != 10 {
                    return Err(format!("expected 10 fields, found {}", row.fields.len()));
                }
                let rule = Rule::parse(row.get(0))
                    .ok_or_else(|| format!("unknown rule `{}`", row.get(0)))?;
                let valid_from = date(row.get(1), "valid_from")?;
                let valid_to = date(row.get(2), "valid_to")?;
                if let (Some(f), Some(t)) = (valid_from, valid_to) {
                    if t < f {
                        return Err(format!("valid_to {t} is before valid_from {f}"));
                    }
                }
                let period = period(row.get(3))?;
                let daily_rate = match row.get(4) {
                    "" => None,
                    s => {
                        let r = Decimal::from_str(s)
                            .map_err(|_| format!("daily_rate `{s}` is not a decimal"))?;
                        if r.is_sign_negative() || r >= Decimal::ONE {
                            return Err(format!("daily_rate `{s}` is not in [0, 1)"));
                        }
                        Some(r)
                    }
                };
                let interest = match row.get(5) {
                    "none" => Interest::None,
                    "demand_deposit" => Interest::DemandDeposit,
                    s => return Err(format!("interest `{s}` is not none or demand_deposit")),
                };
                let verified = match row.get(9) {
                    "yes" => true,
                    "no" => false,
                    s => return Err(format!("verified `{s}` is not yes or no")),
                };
                if row.get(6).is_empty() || row.get(7).is_empty() || row.get(8).is_empty() {
                    return Err("basis_zh, basis_en and source are required".into());
                }
                Ok(PolicyRow {
                    rule,
                    valid_from,
                    valid_to,
                    period,
                    daily_rate,
                    interest,
                    basis_zh: row.get(6).to_owned(),
                    basis_en: row.get(7).to_owned(),
                    source: row.get(8).to_owned(),
                    verified,
                })
            })();
            match parsed {
                Ok(new) => {
                    let overlap = rows.iter().any(|old| {
                        old.rule == new.rule
                            && old
                                .valid_from
                                .is_none_or(|f| new.valid_to.is_none_or(|t| f <= t))
                            && new
                                .valid_from
                                .is_none_or(|f| old.valid_to.is_none_or(|t| f <= t))
                    });
                    if overlap {
                        errors.push(RowError {
                            line,
                            message: format!(
                                "rule {} overlaps an earlier row's dates",
                                new.rule.as_str()
                            ),
                        });
                    } else {
                        rows.push(new);
                    }
                }
                Err(message) => errors.push(RowError { line, message }),
            }
        }
        if errors.is_empty() {
            Ok(CollectionPolicy { rows })
        } else {
            Err(errors)
        }
    }

    pub fn rows(&self) -> &[PolicyRow] {
        &self.rows
    }

    /// The row of `rule` in force on `on`.
    pub fn rule(&self, rule: Rule, on: NaiveDate) -> Result<&PolicyRow, CollectionError> {
        self.rows
            .iter()
            .find(|r| r.rule == rule && r.in_force(on))
            .ok_or(CollectionError::NoRule { rule, on })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum CollectionError {
    #[error("no {} rule in the collection policy on {on}", rule.as_str())]
    NoRule { rule: Rule, on: NaiveDate },
    #[error("an amount is beyond the range of the engine ({0})")]
    Overflow(&'static str),
    #[error("the date {later} is before {earlier}")]
    DateOrder {
        earlier: NaiveDate,
        later: NaiveDate,
    },
}

impl CollectionError {
    pub fn message_zh(&self) -> String {
        match self {
            CollectionError::NoRule { rule, on } => {
                format!("征收政策表中没有 {on} 适用的 {} 规则", rule.as_str())
            }
            CollectionError::Overflow(what) => format!("金额超出引擎范围（{what}）"),
            CollectionError::DateOrder { earlier, later } => {
                format!("日期 {later} 早于 {earlier}")
            }
        }
    }
}

/// Why the tax was short-levied: decides 补征 (no breach) or 追征 (breach).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortLevyCause {
    /// 非因纳税人违反规定 (customs' error, a later finding without breach).
    NoBreach,
    /// 因纳税人违反规定 (false declaration, undervaluation found at inspection …).
    TaxpayerBreach,
}

/// Who found the excess payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundOrigin {
    /// 海关发现多征: customs refunds at once; no period, no interest.
    CustomsFound,
    /// 纳税人发现多缴: the taxpayer's written request, within the period, with interest.
    TaxpayerRequest { requested_on: NaiveDate },
}

/// The facts of one re-assessment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReassessFacts {
    /// The day the tax was paid, or the goods released where that came first (补征/追征 run
    /// from 缴纳税款或者货物放行之日); refund periods run from the payment.
    pub paid_on: NaiveDate,
    /// The day customs decides (the new version's assessment), which must be within the period.
    pub decided_on: NaiveDate,
    pub cause: ShortLevyCause,
    pub refund_origin: RefundOrigin,
    /// The annual demand-deposit rate (e.g. `0.0035`) for refund interest; the caller's table.
    pub demand_deposit_annual_rate: Decimal,
}

/// What one tax kind's difference becomes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Consequence {
    /// Paid = due.
    NoChange,
    /// 补征: a supplementary notice of `amount_fen`.
    Supplementary { amount_fen: Fen },
    /// 追征: a notice of `amount_fen` plus the surcharge from `paid_on` to `decided_on`
    /// (recomputed at payment).
    Recovery {
        amount_fen: Fen,
        surcharge_days: i64,
        surcharge_exact: Decimal,
        /// Zero under the fee floor (`TaxPolicy::fee_floor_fen`).
        surcharge_fen: Fen,
    },
    /// A refund of `amount_fen` with `interest_fen`.
    Refund {
        amount_fen: Fen,
        interest_days: i64,
        interest_fen: Fen,
    },
    /// The period ran out on `last_day`: nothing is levied or refunded.
    TimeBarred {
        difference_fen: i64,
        last_day: NaiveDate,
    },
}

/// One tax kind of a re-assessment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReassessLine {
    pub tax: TaxKind,
    pub paid_fen: Fen,
    pub due_fen: Fen,
    /// due − paid: positive = short-levied, negative = paid in excess.
    pub difference_fen: i64,
    pub consequence: Consequence,
    /// The rule applied, with its legal basis; `None` for no change and customs-found refunds.
    pub rule: Option<PolicyRow>,
    /// The period's last day, where a period applies.
    pub last_day: Option<NaiveDate>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reassessment {
    pub lines: Vec<ReassessLine>,
}

impl Reassessment {
    /// The lines that lead to a notice or a refund.
    pub fn actionable(&self) -> impl Iterator<Item = &ReassessLine> {
        self.lines.iter().filter(|l| {
            matches!(
                l.consequence,
                Consequence::Supplementary { .. }
                    | Consequence::Recovery { .. }
                    | Consequence::Refund { .. }
            )
        })
    }
}

fn payable_by_kind(a: &Assessment) -> Vec<(TaxKind, Fen)> {
    a.notices.iter().map(|n| (n.kind, n.payable_fen)).collect()
}

fn round_fen(exact: Decimal) -> Result<Fen, CollectionError> {
    Fen::round_yuan(exact.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
        .ok_or(CollectionError::Overflow("rounding"))
}

/// Compare the paid assessment with the new version's, per tax kind (payable amounts, after the
/// de minimis rule of each), and say what each difference becomes under the rule in force on
/// the period's start (`paid_on`).
pub fn reassess(
    paid: &Assessment,
    new: &Assessment,
    facts: &ReassessFacts,
    table: &CollectionPolicy,
    policy: &TaxPolicy,
) -> Result<Reassessment, CollectionError> {
    reassess_amounts(
        &payable_by_kind(paid),
        &payable_by_kind(new),
        facts,
        table,
        policy,
    )
}

/// [`reassess`] on the payable amounts per tax kind (a kind missing on one side is zero there;
/// a kind listed twice is summed).
pub fn reassess_amounts(
    paid: &[(TaxKind, Fen)],
    due: &[(TaxKind, Fen)],
    facts: &ReassessFacts,
    table: &CollectionPolicy,
    policy: &TaxPolicy,
) -> Result<Reassessment, CollectionError> {
    let by_kind = |list: &[(TaxKind, Fen)]| -> Result<BTreeMap<TaxKind, Fen>, CollectionError> {
        let mut out: BTreeMap<TaxKind, Fen> = BTreeMap::new();
        for &(kind, fen) in list {
            let sum = out.entry(kind).or_insert(Fen::ZERO);
            sum.0 = sum
                .0
                .checked_add(fen.0)
                .ok_or(CollectionError::Overflow("sum"))?;
        }
        Ok(out)
    };
    if facts.decided_on < facts.paid_on {
        return Err(CollectionError::DateOrder {
            earlier: facts.paid_on,
            later: facts.decided_on,
        });
    }
    let before = by_kind(paid)?;
    let after = by_kind(due)?;
    let mut kinds: Vec<TaxKind> = before.keys().chain(after.keys()).copied().collect();
    kinds.sort();
    kinds.dedup();
    let mut lines = Vec::new();
    for tax in kinds {
        let paid_fen = before.get(&tax).copied().unwrap_or(Fen::ZERO);
        let due_fen = after.get(&tax).copied().unwrap_or(Fen::ZERO);
        let difference_fen = due_fen
            .0
            .checked_sub(paid_fen.0)
            .ok_or(CollectionError::Overflow("difference"))?;
        let (consequence, rule, last_day) = if difference_fen == 0 {
            (Consequence::NoChange, None, None)
        } else if difference_fen > 0 {
            short_levy(difference_fen, facts, table, policy)?
        } else {
            excess(-difference_fen, facts, table)?
        };
        lines.push(ReassessLine {
            tax,
            paid_fen,
            due_fen,
            difference_fen,
            consequence,
            rule,
            last_day,
        });
    }
    Ok(Reassessment { lines })
}

type Outcome = (Consequence, Option<PolicyRow>, Option<NaiveDate>);

fn short_levy(
    difference: i64,
    facts: &ReassessFacts,
    table: &CollectionPolicy,
    policy: &TaxPolicy,
) -> Result<Outcome, CollectionError> {
    let rule = match facts.cause {
        ShortLevyCause::NoBreach => Rule::Supplementary,
        ShortLevyCause::TaxpayerBreach => Rule::Recovery,
    };
    let row = table.rule(rule, facts.paid_on)?;
    let last_day = row.period.last_day(facts.paid_on);
    if facts.decided_on > last_day {
        return Ok((
            Consequence::TimeBarred {
                difference_fen: difference,
                last_day,
            },
            Some(row.clone()),
            Some(last_day),
        ));
    }
    let amount_fen = Fen(difference);
    let consequence = match (rule, row.daily_rate) {
        (Rule::Recovery, Some(rate)) => {
            let (days, exact, fen) =
                recovery_surcharge(amount_fen, rate, facts.paid_on, facts.decided_on, policy)?;
            Consequence::Recovery {
                amount_fen,
                surcharge_days: days,
                surcharge_exact: exact,
                surcharge_fen: fen,
            }
        }
        (Rule::Recovery, None) => Consequence::Recovery {
            amount_fen,
            surcharge_days: 0,
            surcharge_exact: Decimal::ZERO,
            surcharge_fen: Fen::ZERO,
        },
        _ => Consequence::Supplementary { amount_fen },
    };
    Ok((consequence, Some(row.clone()), Some(last_day)))
}

/// The 追征 surcharge: `amount × rate` for each day after `from` up to `to` (both the last day
/// counted, the start day not), rounded to the fen half up; zero under the fee floor. Call it
/// again with the payment date at payment.
pub fn recovery_surcharge(
    amount_fen: Fen,
    daily_rate: Decimal,
    from: NaiveDate,
    to: NaiveDate,
    policy: &TaxPolicy,
) -> Result<(i64, Decimal, Fen), CollectionError> {
    let days = (to - from).num_days().max(0);
    let exact = amount_fen
        .to_yuan()
        .checked_mul(daily_rate)
        .and_then(|x| x.checked_mul(Decimal::from(days)))
        .ok_or(CollectionError::Overflow("surcharge"))?;
    let rounded = round_fen(exact)?;
    let fen = if rounded < policy.fee_floor_fen {
        Fen::ZERO
    } else {
        rounded
    };
    Ok((days, exact, fen))
}

/// Refund interest: `amount × annual rate × days ÷ 360` (the bank's day basis for demand
/// deposits), days from the payment to the decision (start day not counted), fen half up.
pub fn refund_interest(
    amount_fen: Fen,
    annual_rate: Decimal,
    paid_on: NaiveDate,
    refunded_on: NaiveDate,
) -> Result<(i64, Fen), CollectionError> {
    let days = (refunded_on - paid_on).num_days().max(0);
    let exact = amount_fen
        .to_yuan()
        .checked_mul(annual_rate)
        .and_then(|x| x.checked_mul(Decimal::from(days)))
        .and_then(|x| x.checked_div(Decimal::from(360)))
        .ok_or(CollectionError::Overflow("interest"))?;
    Ok((days, round_fen(exact)?))
}

fn excess(
    amount: i64,
    facts: &ReassessFacts,
    table: &CollectionPolicy,
) -> Result<Outcome, CollectionError> {
    let amount_fen = Fen(amount);
    match facts.refund_origin {
        RefundOrigin::CustomsFound => Ok((
            Consequence::Refund {
                amount_fen,
                interest_days: 0,
                interest_fen: Fen::ZERO,
            },
            None,
            None,
        )),
        RefundOrigin::TaxpayerRequest { requested_on } => {
            let row = table.rule(Rule::RefundRequest, facts.paid_on)?;
            let last_day = row.period.last_day(facts.paid_on);
            if requested_on > last_day || requested_on < facts.paid_on {
                return Ok((
                    Consequence::TimeBarred {
                        difference_fen: -amount,
                        last_day,
                    },
                    Some(row.clone()),
                    Some(last_day),
                ));
            }
            let (interest_days, interest_fen) = match row.interest {
                Interest::DemandDeposit => refund_interest(
                    amount_fen,
                    facts.demand_deposit_annual_rate,
                    facts.paid_on,
                    facts.decided_on,
                )?,
                Interest::None => (0, Fen::ZERO),
            };
            Ok((
                Consequence::Refund {
                    amount_fen,
                    interest_days,
                    interest_fen,
                },
                Some(row.clone()),
                Some(last_day),
            ))
        }
    }
}

/// The shipped dated table of the annual demand-deposit rate (`data/demand_deposit_rates.csv`:
/// `valid_from,annual_rate,source,verified`), for refund interest.
pub const DEMAND_DEPOSIT_RATES_CSV: &str = include_str!("../../../data/demand_deposit_rates.csv");

/// The annual demand-deposit rate in force on `on`: the row with the latest `valid_from` not
/// after it. `None` before the first row or when the table does not read.
pub fn demand_deposit_rate(table: &str, on: NaiveDate) -> Option<Decimal> {
    let mut best: Option<(NaiveDate, Decimal)> = None;
    for row in csvrows::rows(table, "valid_from") {
        let row = row.ok()?;
        let from = NaiveDate::parse_from_str(row.get(0), "%Y-%m-%d").ok()?;
        let rate = Decimal::from_str(row.get(1)).ok()?;
        if from <= on && best.is_none_or(|(f, _)| f < from) {
            best = Some((from, rate));
        }
    }
    best.map(|(_, r)| r)
}

#[cfg(test)]
mod deposit_rate_tests {
    use super::*;

    #[test]
    fn a_period_ending_in_a_multibyte_character_is_an_error_not_a_panic() {
        // Found by the parser fuzz harness (crates/fuzz, tax_csv).
        for p in ["3中", "中", "", "d", "1ÿ"] {
            assert!(period(p).is_err(), "{p:?}");
        }
        assert!(matches!(period("15d"), Ok(Period::Days(15))));
    }

    #[test]
    fn the_shipped_demand_deposit_rate_is_dated() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            demand_deposit_rate(DEMAND_DEPOSIT_RATES_CSV, d("2025-03-10")),
            Some(Decimal::new(35, 4))
        );
        assert_eq!(
            demand_deposit_rate(DEMAND_DEPOSIT_RATES_CSV, d("2015-10-23")),
            None
        );
    }
}
