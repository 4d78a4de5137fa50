//! The guarantee ledger as a service (docs/TAX.md "Guarantees"): banks register the guarantees
//! they issue, banks and holders read their own, officers and HQ look any up, tax officers
//! enforce what fell due unpaid. The rules are `tax::guarantee`'s; the ledger is stored through
//! [`store::guarantee::GuaranteeStore`], whose writer decides every change on the guarantee as
//! it stands in the write's transaction.
//!
//! Reservations are not made here: a release against a guarantee and a transit with a
//! guarantee reserve in their own write, and the last payment releases in its own, whatever
//! use case wrote the step (store::guarantee). This service only registers, reads and claims.
//!
//! - **Access** ([`crate::authorize`]): bank users register and read guarantees they issued
//!   (the issuing bank is the bank user's login); an enterprise reads those securing it;
//!   officers and HQ read any; officers with the tax duty (and HQ) enforce.
//! - **Enforcement** ([`GuaranteeService::enforce`]): every open reservation whose due date is
//!   before today (China time) is claimed against its bank, once, with a
//!   `guarantee_enforced.v1` message to the banks and the tax agency in the claim's
//!   transaction. Run by a tax officer (`POST /api/guarantees/enforce`) or by the daily sweep
//!   of `jinguan serve` ([`GuaranteeService::sweep`]).

use chrono::{DateTime, NaiveDate, Utc};
use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use domain::time::china_date;
use exchange::message::GuaranteeEnforcedV1;
use serde::{Deserialize, Serialize};
use store::guarantee::{ClaimWrite, GuaranteeStore, RegisterWrite, StoredGuarantee};
use store::outbox::OutboxMessage;
use store::StoreError;
use tax::guarantee::{GuaranteeKind, GuaranteeRefusal, GuaranteeTerms, Purpose};

use crate::access::{Operation, Principal, Resource};
use crate::error::{AppError, FieldProblem};
use crate::kernel::Core;

/// The longest guarantee number.
pub const GUARANTEE_ID_MAX: usize = 64;
/// At most this many offices in a guarantee's scope.
pub const OFFICES_MAX: usize = 64;

/// A guarantee as its bank registers it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuaranteeRequest {
    /// The bank's number of the guarantee (保函编号), unique.
    pub id: String,
    /// `bank_guarantee` (保函) or `general` (总担保).
    pub kind: GuaranteeKind,
    /// The enterprise it secures (USCC).
    pub holder: Uscc,
    /// In fen, above zero.
    pub amount_fen: Fen,
    pub valid_from: NaiveDate,
    /// Inclusive.
    pub valid_to: NaiveDate,
    /// The offices where it may be used (each covers the offices below it; `0000`: all).
    pub offices: Vec<OfficeCode>,
    /// `release` (release against a guarantee), `transit`.
    pub purposes: Vec<Purpose>,
}

/// One claim made by an enforcement run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Claimed {
    pub guarantee_id: String,
    pub reference: String,
    pub bank: String,
    pub amount_fen: Fen,
    pub due_on: NaiveDate,
}

/// What an enforcement run claimed, on which day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnforceReport {
    pub on: NaiveDate,
    pub claimed: Vec<Claimed>,
    /// Due reservations not claimed automatically: what the declaration owes is no longer
    /// what was reserved at its release (a later version changed its notices). Claiming the
    /// reservation would either settle notices for more than the bank pays or leave the
    /// reserved part payable twice; an officer decides (docs/TAX.md "Guarantees").
    pub held: Vec<Held>,
}

/// A due reservation held for an officer, with what was reserved and what is owed now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Held {
    pub guarantee_id: String,
    pub reference: String,
    pub reserved_fen: Fen,
    pub owed_fen: Fen,
    pub reason_zh: String,
    pub reason_en: String,
}

#[derive(Clone, Copy)]
pub struct GuaranteeService<'a> {
    pub(crate) core: &'a Core,
    /// The messages a declaration's step sends (a claim records its notices paid).
    pub(crate) exchange: crate::exchange_desk::ExchangeService<'a>,
}

fn problem(field: &str, code: &str, zh: String, en: String) -> FieldProblem {
    FieldProblem::new(field, code, zh, en)
}

/// Every problem of a registration at once.
fn check(req: &GuaranteeRequest) -> Vec<FieldProblem> {
    let mut out = Vec::new();
    let id = req.id.trim();
    if id.is_empty() || id != req.id || req.id.chars().count() > GUARANTEE_ID_MAX {
        out.push(problem(
            "id",
            "invalid",
            format!("担保编号须为 1 至 {GUARANTEE_ID_MAX} 个字符，首尾不得有空格"),
            format!("the guarantee number must be 1 to {GUARANTEE_ID_MAX} characters, without surrounding spaces"),
        ));
    }
    if req.amount_fen <= Fen::ZERO {
        out.push(problem(
            "amount_fen",
            "out_of_range",
            "担保金额必须大于零".into(),
            "the amount must be positive".into(),
        ));
    }
    if req.valid_to < req.valid_from {
        out.push(problem(
            "valid_to",
            "out_of_range",
            "有效期止日早于起日".into(),
            "the validity ends before it starts".into(),
        ));
    }
    if req.offices.is_empty() || req.offices.len() > OFFICES_MAX {
        out.push(problem(
            "offices",
            "invalid",
            format!("须列明 1 至 {OFFICES_MAX} 个适用关区"),
            format!("name 1 to {OFFICES_MAX} offices"),
        ));
    }
    if req.purposes.is_empty() {
        out.push(problem(
            "purposes",
            "missing",
            "须列明适用用途（release 担保放行、transit 转关）".into(),
            "name the purposes (release, transit)".into(),
        ));
    }
    out
}

pub use crate::error::guarantee_refused as refused;

impl GuaranteeService<'_> {
    fn ledger(&self) -> Result<&dyn GuaranteeStore, AppError> {
        self.core
            .store
            .guarantee_store()
            .ok_or_else(|| AppError::NotFound("guarantee ledger".into()))
    }

    /// A bank user registers a guarantee it issues (the bank is the user's login).
    pub fn register(
        &self,
        by: &Principal,
        req: GuaranteeRequest,
    ) -> Result<StoredGuarantee, AppError> {
        let allowed = self.core.authorize(
            by,
            (
                Operation::RegisterGuarantee,
                Resource::Eport { holder: None },
            ),
        )?;
        let problems = check(&req);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let bank = by.login().to_owned();
        let mut purposes = req.purposes;
        purposes.sort();
        purposes.dedup();
        let terms = GuaranteeTerms {
            id: req.id,
            kind: req.kind,
            bank: bank.clone(),
            holder: req.holder,
            amount_fen: req.amount_fen,
            valid_from: req.valid_from,
            valid_to: req.valid_to,
            offices: req.offices,
            purposes,
        };
        self.ledger()?
            .register_guarantee(
                RegisterWrite {
                    by_bank: bank,
                    terms,
                },
                &allowed.audit_actor(),
                self.core.now(),
            )
            .map_err(store_error)
    }

    /// The guarantees the principal may list: a bank those it issued, an enterprise those
    /// securing it.
    pub fn list(&self, by: &Principal) -> Result<Vec<StoredGuarantee>, AppError> {
        match by {
            Principal::Enterprise { uscc, .. } => {
                self.core.authorize(
                    by,
                    (
                        Operation::ViewGuarantees,
                        Resource::Eport {
                            holder: Some(*uscc),
                        },
                    ),
                )?;
                Ok(self.ledger()?.guarantees_of_holder(uscc)?)
            }
            _ => {
                let allowed = self.core.authorize(
                    by,
                    (Operation::ViewGuarantees, Resource::Eport { holder: None }),
                )?;
                match by {
                    Principal::Agency { login, .. } => {
                        Ok(self.ledger()?.guarantees_of_bank(login)?)
                    }
                    // Officers and HQ look guarantees up one by one.
                    _ => Err(allowed.denied()),
                }
            }
        }
    }

    /// One guarantee with its reservations: its bank, its holder, officers and HQ; anyone
    /// else is answered "not found".
    pub fn get(&self, by: &Principal, id: &str) -> Result<StoredGuarantee, AppError> {
        let not_found = || AppError::NotFound(format!("guarantee {id}"));
        let g = self.ledger()?.guarantee(id)?.ok_or_else(not_found)?;
        let visible = match by {
            Principal::Enterprise { uscc, .. } => *uscc == g.terms.holder,
            Principal::Agency { login, .. } => *login == g.terms.bank,
            _ => true,
        };
        if !visible {
            return Err(not_found());
        }
        let holder = match by {
            Principal::Enterprise { .. } => Some(g.terms.holder),
            _ => None,
        };
        self.core
            .authorize(by, (Operation::ViewGuarantees, Resource::Eport { holder }))
            .map_err(|_| not_found())?;
        Ok(g)
    }

    /// A tax officer (or HQ) enforces every reservation due before today against its bank.
    pub fn enforce(&self, by: &Principal) -> Result<EnforceReport, AppError> {
        let allowed = self.core.authorize(
            by,
            (
                Operation::EnforceGuarantees,
                Resource::Eport { holder: None },
            ),
        )?;
        self.claim_due(&allowed.audit_actor())
    }

    /// The daily sweep of `jinguan serve`: the same as [`GuaranteeService::enforce`], by the
    /// system.
    pub fn sweep(&self) -> Result<EnforceReport, AppError> {
        self.claim_due(&Actor::System {
            component: "guarantee-sweep".into(),
        })
    }

    fn claim_due(&self, actor: &Actor) -> Result<EnforceReport, AppError> {
        let ledger = self.ledger()?;
        let now = self.core.now();
        let on = china_date(now);
        let mut claimed = Vec::new();
        let mut held = Vec::new();
        for r in ledger.reservations_due(on)? {
            // The store keeps the nominal due date (issue + 15 days); the last day to pay moves
            // past a weekend or statutory holiday (the calendar, as the notices' due date in
            // `crate::notices`): not enforced before that day has passed.
            if on
                <= self
                    .core
                    .tax
                    .calendar
                    .working_day_on_or_after(r.reservation.due_on)
            {
                continue;
            }
            let Some(g) = ledger.guarantee(&r.guarantee_id)? else {
                continue;
            };
            if let Some(id) = r.declaration_id {
                let owed = self.owed_fen(id)?;
                if !owed.is_zero() && owed != r.reservation.amount_fen {
                    held.push(Held {
                        guarantee_id: r.guarantee_id.clone(),
                        reference: r.reference.clone(),
                        reserved_fen: r.reservation.amount_fen,
                        owed_fen: owed,
                        reason_zh: format!(
                            "放行时担保金额为 {}，该报关单现欠缴 {}（其后的新版本改变了税款），不自动索赔，须由关员处理",
                            r.reservation.amount_fen, owed
                        ),
                        reason_en: format!(
                            "{} was reserved at release but the declaration now owes {} (a later version changed its notices): not claimed automatically, an officer decides",
                            r.reservation.amount_fen, owed
                        ),
                    });
                    continue;
                }
            }
            let outbox = enforced_message(&g, &r, now);
            let written = match r.declaration_id {
                // A declaration's notices are settled by the claim, in its transaction.
                Some(id) => self.claim_declaration(&g, id, on, outbox),
                None => ledger.claim_guarantee(
                    ClaimWrite {
                        guarantee_id: r.guarantee_id.clone(),
                        reference: r.reference.clone(),
                        on,
                        outbox,
                    },
                    actor,
                    now,
                ),
            };
            match written {
                Ok(amount_fen) => claimed.push(Claimed {
                    guarantee_id: r.guarantee_id,
                    reference: r.reference,
                    bank: g.terms.bank,
                    amount_fen,
                    due_on: r.reservation.due_on,
                }),
                // Paid or claimed meanwhile (a concurrent run): nothing to claim.
                Err(StoreError::Guarantee(
                    GuaranteeRefusal::NoReservation { .. } | GuaranteeRefusal::NotYetDue { .. },
                ))
                | Err(StoreError::Conflict { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(EnforceReport { on, claimed, held })
    }

    /// What a declaration still owes: its outstanding notices.
    fn owed_fen(&self, id: store::DeclarationId) -> Result<Fen, AppError> {
        let d = self
            .core
            .store
            .load(store::DeclarationKey::Id(id))?
            .ok_or_else(|| AppError::Internal(format!("declaration {id:?} of a reservation")))?;
        Ok(d.state.outstanding_fen())
    }
}

impl GuaranteeService<'_> {
    /// Enforce a declaration's reservation: every notice it still owes is recorded paid by
    /// the guarantee's bank (reference `GCLAIM-<notice>`, the claim's day, no surcharge:
    /// docs/TAX.md "Guarantees"), and the store's common event-writing path claims the
    /// reservation in the same transaction (refused, nothing written, unless it is open and
    /// due). Answers the amount claimed.
    fn claim_declaration(
        &self,
        g: &StoredGuarantee,
        id: store::DeclarationId,
        on: NaiveDate,
        mut outbox: Vec<OutboxMessage>,
    ) -> Result<Fen, StoreError> {
        let now = self.core.now();
        let d = self
            .core
            .store
            .load(store::DeclarationKey::Id(id))?
            .ok_or_else(|| StoreError::Corrupt(format!("declaration {id:?} of a reservation")))?;
        let mut state = d.state.clone();
        let mut events = Vec::new();
        let owed: Vec<(String, Fen)> = d
            .state
            .outstanding_notices()
            .map(|n| (n.notice.notice_no.clone(), n.notice.amount_fen))
            .collect();
        if owed.is_empty() {
            // Nothing owed any more: nothing to claim from the bank.
            return Err(StoreError::Guarantee(GuaranteeRefusal::NoReservation {
                reference: d
                    .state
                    .declaration_no
                    .map(|n| n.to_string())
                    .unwrap_or_default(),
            }));
        }
        for (notice_no, amount_fen) in owed {
            let command = clearance::Command {
                actor: Actor::Bank {
                    code: g.terms.bank.clone(),
                },
                action: clearance::Action::Pay {
                    payment: clearance::BankPayment {
                        bank: g.terms.bank.clone(),
                        reference: format!("GCLAIM-{notice_no}"),
                        surcharge_fen: Fen::ZERO,
                        paid_fen: amount_fen,
                        paid_on: on,
                        guarantee_claim: Some(g.terms.id.clone()),
                    },
                    notice_no,
                },
            };
            let step = clearance::decide(&state, &command, now)
                .map_err(|r| StoreError::Invalid(format!("guarantee claim refused: {r:?}")))?;
            state = step.iter().fold(state, clearance::apply);
            events.extend(step);
        }
        let mut messages = self.exchange.outbox_messages(&d, &events);
        messages.append(&mut outbox);
        let append = store::AppendRequest {
            id,
            expected_version: d.version,
            events,
        };
        match self.core.store.outbox_store() {
            Some(o) => o.append_with_outbox(append, messages)?,
            None => self.core.store.append(append)?,
        };
        Ok(state
            .notices
            .iter()
            .filter_map(|n| n.payment.as_ref())
            .filter(|p| p.guarantee_claim.as_deref() == Some(g.terms.id.as_str()))
            .map(|p| p.paid_fen)
            .sum())
    }
}

/// The `guarantee_enforced.v1` message of a claim: to the banks and the tax agency.
fn enforced_message(
    g: &StoredGuarantee,
    r: &store::guarantee::StoredReservation,
    at: DateTime<Utc>,
) -> Vec<OutboxMessage> {
    let payload = GuaranteeEnforcedV1 {
        guarantee_id: g.terms.id.clone(),
        bank: g.terms.bank.clone(),
        holder: g.terms.holder,
        reference: r.reference.clone(),
        purpose: r.reservation.purpose.as_str().to_owned(),
        amount_fen: r.reservation.amount_fen,
        due_on: r.reservation.due_on,
        enforced_at: exchange::message::to_millis(at),
    };
    let mut out = Vec::new();
    crate::exchange_desk::push(&mut out, &payload, &["BANK", "TAX"], at);
    out
}

fn store_error(e: StoreError) -> AppError {
    match e {
        StoreError::Guarantee(r) => refused(r),
        other => other.into(),
    }
}
