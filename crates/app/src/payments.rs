//! Payment of notices through the bank (docs/TAX.md "Late payment surcharge" and "Payment
//! through the bank"; issue 14 items 3 and 4):
//!
//! 1. the declarant **initiates** the payment of a notice through a bank (a bank user's code);
//!    the `PaymentInitiated` event records it, and the answer says what is due today;
//! 2. that bank's user **confirms** it with its own reference and the amount it collected: the
//!    notice is paid only when the amount is exactly the tax plus the late payment surcharge
//!    due on the confirmation's China day ([`tax::payment::settle`]); the `NoticePaid` event
//!    carries the bank, the reference, the surcharge and the amount paid, and the store writes
//!    it with the notice's payment columns, the bank's confirmation row (unique per bank and
//!    reference, and per notice), the audit record and the `duty_paid.v1` message to the tax
//!    agency in one transaction. The same confirmation again answers the same receipt and
//!    writes nothing; the same reference for another notice or amount is 409;
//! 3. the **daily reconciliation** per bank compares the notices recorded paid through it that
//!    day with its confirmations ([`tax::payment::reconcile`]).
//!
//! The surcharge applies to duties and taxes (customs duty, import VAT, consumption tax,
//! anti-dumping, countervailing and safeguard duties), not to fees: the late declaration fee
//! (滞报金) attracts none ([`surcharge_kind`]).

use chrono::{DateTime, NaiveDate, Utc};
use clearance::{Action, Actor, BankPayment, NoticeState, TaxKind};
use domain::codes::DeclarationNo;
use domain::money::Fen;
use serde::{Deserialize, Serialize};
use store::finance::{BankPaymentRow, FinanceStore};
use store::{DeclarationKey, Role, StoredDeclaration};
use tax::payment::{BankConfirmation, BankLine, Mismatch, PaidNotice, PaymentRefusal};

use crate::access::{Operation, Principal, Resource};
use crate::error::{AppError, FieldProblem};
use crate::kernel::{Core, CONFLICT_RETRIES};
pub use crate::notices::NoticeView;
use crate::notices::{china_day, surcharge_kind, view_of};
use crate::steps::{Step, StepService};

/// At most this many characters in a bank reference or a bank code.
pub const REFERENCE_MAX: usize = 64;

/// What a bank user confirms.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmPayment {
    pub notice_no: String,
    /// The bank's own reference (unique per bank).
    pub reference: String,
    /// The amount collected, in fen: tax plus surcharge due on the day.
    pub amount_fen: Fen,
}

/// The answer to a confirmation, the same when the confirmation is repeated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentReceipt {
    pub notice_no: String,
    pub declaration_id: store::DeclarationId,
    pub declaration_no: Option<DeclarationNo>,
    pub tax: TaxKind,
    pub tax_fen: Fen,
    pub bank: String,
    pub reference: String,
    pub surcharge_fen: Fen,
    pub paid_fen: Fen,
    pub paid_on: NaiveDate,
}

/// One bank's reconciliation of one day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reconciliation {
    pub bank: String,
    pub day: NaiveDate,
    /// The notices recorded paid through the bank that day (from the notices).
    pub paid: Vec<PaidNotice>,
    /// The bank's confirmations of that day.
    pub confirmations: Vec<BankLine>,
    pub paid_fen: Fen,
    pub confirmed_fen: Fen,
    /// Every disagreement; empty when the two agree.
    pub mismatches: Vec<Mismatch>,
    pub balanced: bool,
}

/// Payments through the bank.
#[derive(Clone, Copy)]
pub struct PaymentService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) steps: StepService<'a>,
}

fn not_found_notice(notice_no: &str) -> AppError {
    AppError::NotFound(format!("payment notice {notice_no}"))
}

impl PaymentService<'_> {
    fn finance(&self) -> Result<&dyn FinanceStore, AppError> {
        self.core
            .store
            .finance_store()
            .ok_or_else(|| AppError::Internal("this store keeps no bank payments".into()))
    }

    /// The declaration a notice number belongs to (its number is `<declaration no>-<kind>`)
    /// and the notice in it.
    fn load_notice(&self, notice_no: &str) -> Result<(StoredDeclaration, NoticeState), AppError> {
        let no = notice_no
            .split_once('-')
            .and_then(|(d, _)| DeclarationNo::parse(d).ok())
            .ok_or_else(|| not_found_notice(notice_no))?;
        let d = self
            .core
            .store
            .load(DeclarationKey::DeclarationNo(no))?
            .ok_or_else(|| not_found_notice(notice_no))?;
        let n = d
            .state
            .notices
            .iter()
            .find(|n| n.notice.notice_no == notice_no)
            .cloned()
            .ok_or_else(|| not_found_notice(notice_no))?;
        Ok((d, n))
    }

    fn issued_at(&self, d: &StoredDeclaration, notice_no: &str) -> Result<DateTime<Utc>, AppError> {
        self.core
            .store
            .payment_notices(d.id)?
            .into_iter()
            .find(|n| n.notice_no == notice_no)
            .map(|n| n.issued_at)
            .ok_or_else(|| AppError::Internal(format!("notice {notice_no} is not stored")))
    }

    /// One notice, to the declarant, officers who may see the declaration, and the bank it
    /// was initiated through or paid by; anyone else is told it does not exist.
    pub fn notice(&self, by: &Principal, notice_no: &str) -> Result<NoticeView, AppError> {
        let (d, n) = self.load_notice(notice_no)?;
        let header = d
            .state
            .header
            .as_ref()
            .ok_or_else(|| not_found_notice(notice_no))?;
        let as_bank = self
            .core
            .authorize(
                by,
                (Operation::RecordFunds, Resource::Eport { holder: None }),
            )
            .is_ok()
            && (n.initiated_bank.as_deref() == Some(by.login())
                || n.payment.as_ref().is_some_and(|p| p.bank == by.login()));
        let as_viewer = self
            .core
            .authorize(
                by,
                (
                    Operation::View,
                    Resource::Declaration {
                        declarant: header.declarant,
                        office: header.declaration_office,
                    },
                ),
            )
            .is_ok();
        if !as_bank && !as_viewer {
            return Err(not_found_notice(notice_no));
        }
        let issued_at = self.issued_at(&d, notice_no)?;
        view_of(self.core, &d, &n, issued_at, china_day(self.core.now()))
    }

    /// The declarant initiates the payment of a notice through `bank` (a bank user's code).
    /// 422 when the bank is not a bank user; the lifecycle's refusals otherwise (another's
    /// declaration: 404; a paid notice: 409).
    pub fn initiate(
        &self,
        by: &Principal,
        notice_no: &str,
        bank: &str,
    ) -> Result<NoticeView, AppError> {
        let bank = bank.trim();
        let is_bank = !bank.is_empty()
            && bank.chars().count() <= REFERENCE_MAX
            && self
                .core
                .store
                .user_by_login(bank)?
                .is_some_and(|u| u.role == Role::Bank);
        if !is_bank {
            return Err(AppError::Invalid(vec![FieldProblem::new(
                "bank",
                "unknown_bank",
                format!("“{bank}”不是登记的银行"),
                format!("“{bank}” is not a registered bank"),
            )]));
        }
        let (d, _) = self.load_notice(notice_no)?;
        self.steps.step(
            by,
            DeclarationKey::Id(d.id),
            Step::InitiatePayment {
                notice_no: notice_no.to_owned(),
                bank: bank.to_owned(),
            },
        )?;
        let (d, n) = self.load_notice(notice_no)?;
        let issued_at = self.issued_at(&d, notice_no)?;
        view_of(self.core, &d, &n, issued_at, china_day(self.core.now()))
    }

    /// A bank user confirms the payment of a notice initiated through its bank. See the
    /// module's documentation for the rules; 422 (with the amount due) for a wrong amount,
    /// 409 for a reference already used otherwise or a notice already paid, 404 for a notice
    /// not initiated through this bank.
    pub fn confirm(&self, by: &Principal, req: ConfirmPayment) -> Result<PaymentReceipt, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::RecordFunds, Resource::Eport { holder: None }),
        )?;
        let bank = by.login().to_owned();
        let mut problems = Vec::new();
        let reference = req.reference.trim().to_owned();
        if reference.is_empty() || reference.chars().count() > REFERENCE_MAX {
            problems.push(FieldProblem::new(
                "reference",
                "invalid",
                format!("银行流水号不能为空，且不超过 {REFERENCE_MAX} 个字符"),
                format!("the bank reference is required, at most {REFERENCE_MAX} characters"),
            ));
        }
        if req.amount_fen.0 <= 0 {
            problems.push(FieldProblem::new(
                "amount_fen",
                "not_positive",
                "金额须大于零",
                "the amount must be positive",
            ));
        }
        if req.notice_no.trim().is_empty() {
            problems.push(FieldProblem::new(
                "notice_no",
                "missing",
                "缴款书号不能为空",
                "the notice number is required",
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let finance = self.finance()?;
        for _ in 0..CONFLICT_RETRIES {
            // The same reference again: the same answer, or a conflict.
            if let Some(row) = finance.bank_payment(&bank, &reference)? {
                return self.repeated(&row, &req);
            }
            let (d, n) = self.load_notice(&req.notice_no)?;
            if let Some(p) = &n.payment {
                if p.bank == bank && p.reference == reference && p.paid_fen == req.amount_fen {
                    return Ok(receipt(&d, &n, p));
                }
                return Err(AppError::Refused(clearance::Refusal::NoticeAlreadyPaid {
                    notice_no: req.notice_no.clone(),
                }));
            }
            if n.initiated_bank.as_deref() != Some(bank.as_str()) {
                // Not initiated through this bank: as if it did not exist (no probing).
                return Err(not_found_notice(&req.notice_no));
            }
            let issued_on = china_day(self.issued_at(&d, &req.notice_no)?);
            let today = china_day(self.core.now());
            let confirmation = BankConfirmation {
                bank: bank.clone(),
                reference: reference.clone(),
                amount_fen: req.amount_fen,
                paid_on: today,
            };
            let payment = match surcharge_kind(n.notice.tax) {
                Some(kind) => tax::payment::settle(
                    kind,
                    n.notice.amount_fen,
                    issued_on,
                    &confirmation,
                    &self.core.tax.calendar,
                    &self.core.tax.policy,
                )
                .map(|s| s.due.surcharge.payable_fen),
                // A fee: exactly its amount, no surcharge.
                None if req.amount_fen == n.notice.amount_fen => Ok(Fen::ZERO),
                None => Err(PaymentRefusal::WrongAmount {
                    due_fen: n.notice.amount_fen,
                    confirmed_fen: req.amount_fen,
                }),
            }
            .map_err(refusal)?;
            let payment = BankPayment {
                bank: bank.clone(),
                reference: reference.clone(),
                surcharge_fen: payment,
                paid_fen: req.amount_fen,
                paid_on: today,
                guarantee_claim: None,
            };
            let action = Action::Pay {
                notice_no: req.notice_no.clone(),
                payment: payment.clone(),
            };
            let actor = Actor::Bank { code: bank.clone() };
            match self.steps.decide_and_write(&allowed, &d, actor, action) {
                Ok(_) => return Ok(receipt(&d, &n, &payment)),
                // Someone wrote first (another confirmation, another step): look again.
                Err(AppError::Conflict {
                    code: "version_conflict" | "duplicate",
                    ..
                }) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(AppError::Conflict {
            code: "version_conflict",
            message_en: "the declaration keeps changing; try again".into(),
            message_zh: "报关单正被频繁更新，请稍后重试".into(),
        })
    }

    /// A confirmation whose reference the bank has used: the same receipt when it is the same
    /// confirmation, else 409.
    fn repeated(
        &self,
        row: &BankPaymentRow,
        req: &ConfirmPayment,
    ) -> Result<PaymentReceipt, AppError> {
        if row.notice_no != req.notice_no || row.amount_fen != req.amount_fen {
            return Err(AppError::Conflict {
                code: "reference_used",
                message_en: format!(
                    "bank reference {} was already used for notice {} ({})",
                    row.reference, row.notice_no, row.amount_fen
                ),
                message_zh: format!(
                    "银行流水号 {} 已用于缴款书 {}（{}元）",
                    row.reference, row.notice_no, row.amount_fen
                ),
            });
        }
        let (d, n) = self.load_notice(&row.notice_no)?;
        let p = n.payment.as_ref().ok_or_else(|| {
            AppError::Internal(format!("notice {} lost its payment", row.notice_no))
        })?;
        Ok(receipt(&d, &n, p))
    }

    /// The reconciliation of `bank` (a bank user: its own, the default; tax officers: any) on
    /// `day` (default: today, China time).
    pub fn reconcile(
        &self,
        by: &Principal,
        bank: Option<&str>,
        day: Option<NaiveDate>,
    ) -> Result<Reconciliation, AppError> {
        let allowed = self.core.authorize(
            by,
            (
                Operation::ReconcilePayments,
                Resource::Eport { holder: None },
            ),
        )?;
        let is_bank = matches!(by, Principal::Agency { .. });
        let bank = match (is_bank, bank) {
            (true, None) => by.login().to_owned(),
            (true, Some(b)) if b == by.login() => b.to_owned(),
            (true, Some(_)) => return Err(allowed.denied()),
            (false, Some(b)) if !b.trim().is_empty() => b.trim().to_owned(),
            (false, _) => {
                return Err(AppError::Invalid(vec![FieldProblem::new(
                    "bank",
                    "missing",
                    "请指定银行",
                    "name the bank to reconcile",
                )]))
            }
        };
        let day = day.unwrap_or_else(|| china_day(self.core.now()));
        let finance = self.finance()?;
        let paid: Vec<PaidNotice> = finance
            .notices_paid_through(&bank, day)?
            .into_iter()
            .map(|r| PaidNotice {
                notice_no: r.notice_no,
                reference: r.reference,
                amount_fen: r.amount_fen,
            })
            .collect();
        let confirmations: Vec<BankLine> = finance
            .bank_payments_on(&bank, day)?
            .into_iter()
            .map(|r| BankLine {
                reference: r.reference,
                notice_no: r.notice_no,
                amount_fen: r.amount_fen,
            })
            .collect();
        let mismatches = tax::payment::reconcile(&paid, &confirmations);
        let sum = |it: &mut dyn Iterator<Item = Fen>| Fen(it.map(|f| f.0).sum());
        Ok(Reconciliation {
            paid_fen: sum(&mut paid.iter().map(|p| p.amount_fen)),
            confirmed_fen: sum(&mut confirmations.iter().map(|c| c.amount_fen)),
            balanced: mismatches.is_empty(),
            bank,
            day,
            paid,
            confirmations,
            mismatches,
        })
    }
}

impl PaymentService<'_> {
    /// The whole payment as the demo, the simulator and tests make it, through the same two
    /// services as over HTTP (no other path): the declarant initiates through `bank`'s user,
    /// which confirms, with `reference`, exactly the amount due today.
    pub fn initiate_and_confirm(
        &self,
        declarant: &Principal,
        bank: &Principal,
        notice_no: &str,
        reference: &str,
    ) -> Result<PaymentReceipt, AppError> {
        let view = self.initiate(declarant, notice_no, bank.login())?;
        self.confirm(
            bank,
            ConfirmPayment {
                notice_no: notice_no.to_owned(),
                reference: reference.to_owned(),
                amount_fen: view.amount_due_fen,
            },
        )
    }
}

fn receipt(d: &StoredDeclaration, n: &NoticeState, p: &BankPayment) -> PaymentReceipt {
    PaymentReceipt {
        notice_no: n.notice.notice_no.clone(),
        declaration_id: d.id,
        declaration_no: d.state.declaration_no,
        tax: n.notice.tax,
        tax_fen: n.notice.amount_fen,
        bank: p.bank.clone(),
        reference: p.reference.clone(),
        surcharge_fen: p.surcharge_fen,
        paid_fen: p.paid_fen,
        paid_on: p.paid_on,
    }
}

/// A confirmation that does not settle the notice: 422 with the reason (and the amount due).
fn refusal(r: PaymentRefusal) -> AppError {
    let field = match r {
        PaymentRefusal::WrongAmount { .. } | PaymentRefusal::Overflow => "amount_fen",
        PaymentRefusal::BeforeIssue { .. } => "paid_on",
        PaymentRefusal::MissingReference => "reference",
    };
    AppError::Invalid(vec![FieldProblem::new(
        field,
        r.code(),
        r.message_zh(),
        r.message_en(),
    )])
}
