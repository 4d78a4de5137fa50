//! Paying a notice: the amount due on a day (tax + late payment surcharge 滞纳金, computed by
//! [`crate::fees::late_payment_surcharge`]) and the rule that settles a notice: only a bank's
//! confirmation of **exactly** that amount, dated on or after the notice's issue, with the bank's
//! own reference. Pure: the uniqueness of a bank's reference and the idempotence of a repeated
//! confirmation are the store's (the caller's) part; [`settle`] says whether one confirmation
//! settles one notice.
//!
//! Rules (DOMAIN.md §4; Import and Export Duties Regulations art. 37, Customs Law art. 60): pay
//! within 15 days of the notice's issue (the last day moved to the next working day when it is a
//! weekend or holiday); after that 0.05 % per day of the unpaid tax, from the day after the last
//! day to the payment day, both counted; each tax separately; not collected under ¥50.

use chrono::NaiveDate;
use serde::Serialize;

use domain::money::Fen;

use crate::assessment::TaxKind;
use crate::calendar::TradingCalendar;
use crate::fees::{late_payment_surcharge, Fee};
use crate::policy::TaxPolicy;

/// What is due on one notice if paid on `on`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AmountDue {
    pub tax: TaxKind,
    pub tax_fen: Fen,
    pub issued_on: NaiveDate,
    pub on: NaiveDate,
    /// The surcharge's computation (days, deadline, formula); `surcharge.payable_fen` is what is
    /// added (zero on time or under the floor).
    pub surcharge: Fee,
    pub total_fen: Fen,
}

/// The amount due on a notice of `tax_fen` issued on `issued_on`, paid on `on`. `None` only if
/// the sum overflows.
pub fn amount_due(
    tax: TaxKind,
    tax_fen: Fen,
    issued_on: NaiveDate,
    on: NaiveDate,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> Option<AmountDue> {
    let surcharge = late_payment_surcharge(tax, tax_fen, issued_on, on, calendar, policy);
    let total_fen = Fen(tax_fen.0.checked_add(surcharge.payable_fen.0)?);
    Some(AmountDue {
        tax,
        tax_fen,
        issued_on,
        on,
        surcharge,
        total_fen,
    })
}

/// A bank's confirmation that it collected an amount for a notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BankConfirmation {
    /// The bank user's code (e.g. `bank-boc`).
    pub bank: String,
    /// The bank's own reference, unique per bank (the store enforces it).
    pub reference: String,
    pub amount_fen: Fen,
    /// The customs day of the payment.
    pub paid_on: NaiveDate,
}

/// Why a confirmation does not settle a notice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum PaymentRefusal {
    /// The amount differs from what is due that day.
    WrongAmount { due_fen: Fen, confirmed_fen: Fen },
    /// Paid before the notice was issued.
    BeforeIssue {
        issued_on: NaiveDate,
        paid_on: NaiveDate,
    },
    /// No bank or no reference.
    MissingReference,
    /// The amount due cannot be computed.
    Overflow,
}

impl PaymentRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            PaymentRefusal::WrongAmount { .. } => "wrong_amount",
            PaymentRefusal::BeforeIssue { .. } => "before_issue",
            PaymentRefusal::MissingReference => "missing_reference",
            PaymentRefusal::Overflow => "overflow",
        }
    }
    pub fn message_zh(&self) -> String {
        match self {
            PaymentRefusal::WrongAmount {
                due_fen,
                confirmed_fen,
            } => format!("银行确认金额 {confirmed_fen} 与应缴金额 {due_fen}（税款加滞纳金）不符"),
            PaymentRefusal::BeforeIssue { issued_on, paid_on } => {
                format!("缴款日期 {paid_on} 早于缴款书填发日期 {issued_on}")
            }
            PaymentRefusal::MissingReference => "银行确认缺少银行代码或银行流水号".into(),
            PaymentRefusal::Overflow => "应缴金额超出范围".into(),
        }
    }
    pub fn message_en(&self) -> String {
        match self {
            PaymentRefusal::WrongAmount {
                due_fen,
                confirmed_fen,
            } => format!(
                "the bank confirmed {confirmed_fen}, but {due_fen} is due (tax plus surcharge)"
            ),
            PaymentRefusal::BeforeIssue { issued_on, paid_on } => {
                format!("paid on {paid_on}, before the notice was issued on {issued_on}")
            }
            PaymentRefusal::MissingReference => {
                "the confirmation names no bank or no bank reference".into()
            }
            PaymentRefusal::Overflow => "the amount due is beyond range".into(),
        }
    }
}

/// A notice settled by a confirmation: what was paid, split into tax and surcharge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settlement {
    pub due: AmountDue,
    pub bank: String,
    pub reference: String,
}

/// Does `confirmation` settle the notice (`tax`, `tax_fen`, issued on `issued_on`)? Only if it
/// names a bank and a reference, is dated on or after the issue, and confirms exactly the tax
/// plus the surcharge due on its date.
pub fn settle(
    tax: TaxKind,
    tax_fen: Fen,
    issued_on: NaiveDate,
    confirmation: &BankConfirmation,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> Result<Settlement, PaymentRefusal> {
    if confirmation.bank.trim().is_empty() || confirmation.reference.trim().is_empty() {
        return Err(PaymentRefusal::MissingReference);
    }
    if confirmation.paid_on < issued_on {
        return Err(PaymentRefusal::BeforeIssue {
            issued_on,
            paid_on: confirmation.paid_on,
        });
    }
    let due = amount_due(
        tax,
        tax_fen,
        issued_on,
        confirmation.paid_on,
        calendar,
        policy,
    )
    .ok_or(PaymentRefusal::Overflow)?;
    if due.total_fen != confirmation.amount_fen {
        return Err(PaymentRefusal::WrongAmount {
            due_fen: due.total_fen,
            confirmed_fen: confirmation.amount_fen,
        });
    }
    Ok(Settlement {
        due,
        bank: confirmation.bank.clone(),
        reference: confirmation.reference.clone(),
    })
}

/// A notice the store marks paid through one bank on one day: what reconciliation compares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaidNotice {
    pub notice_no: String,
    /// The bank reference the payment was recorded with.
    pub reference: String,
    pub amount_fen: Fen,
}

/// A confirmation as the bank's own daily list gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BankLine {
    pub reference: String,
    pub notice_no: String,
    pub amount_fen: Fen,
}

/// One disagreement between the notices paid and the bank's confirmations.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mismatch {
    /// Marked paid with a reference the bank does not list.
    PaidWithoutConfirmation {
        notice_no: String,
        reference: String,
    },
    /// The bank lists a confirmation no paid notice carries.
    ConfirmationWithoutPayment {
        reference: String,
        notice_no: String,
    },
    /// Same reference, different notice or amount.
    Differs {
        reference: String,
        paid: PaidNotice,
        bank: BankLine,
    },
    /// A reference listed more than once on one side.
    DuplicateReference { reference: String },
}

/// The daily reconciliation of one bank: every mismatch between the notices paid through it
/// and its confirmations, matched by the bank's reference (sorted by reference). Empty when
/// the two agree.
pub fn reconcile(paid: &[PaidNotice], bank: &[BankLine]) -> Vec<Mismatch> {
    use std::collections::BTreeMap;
    let mut out = Vec::new();
    let mut by_ref_paid: BTreeMap<&str, &PaidNotice> = BTreeMap::new();
    for p in paid {
        if by_ref_paid.insert(p.reference.as_str(), p).is_some() {
            out.push(Mismatch::DuplicateReference {
                reference: p.reference.clone(),
            });
        }
    }
    let mut by_ref_bank: BTreeMap<&str, &BankLine> = BTreeMap::new();
    for b in bank {
        if by_ref_bank.insert(b.reference.as_str(), b).is_some() {
            out.push(Mismatch::DuplicateReference {
                reference: b.reference.clone(),
            });
        }
    }
    let mut refs: Vec<&str> = by_ref_paid
        .keys()
        .chain(by_ref_bank.keys())
        .copied()
        .collect();
    refs.sort_unstable();
    refs.dedup();
    for r in refs {
        match (by_ref_paid.get(r), by_ref_bank.get(r)) {
            (Some(p), Some(b)) => {
                if p.notice_no != b.notice_no || p.amount_fen != b.amount_fen {
                    out.push(Mismatch::Differs {
                        reference: r.to_owned(),
                        paid: (*p).clone(),
                        bank: (*b).clone(),
                    });
                }
            }
            (Some(p), None) => out.push(Mismatch::PaidWithoutConfirmation {
                notice_no: p.notice_no.clone(),
                reference: r.to_owned(),
            }),
            (None, Some(b)) => out.push(Mismatch::ConfirmationWithoutPayment {
                reference: r.to_owned(),
                notice_no: b.notice_no.clone(),
            }),
            (None, None) => {}
        }
    }
    out
}
