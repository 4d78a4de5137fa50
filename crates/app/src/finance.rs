//! Export tax refund and foreign-exchange matching in the service (docs/EPORT.md "Export tax
//! refund", "Foreign exchange"): the use cases of enterprises, the tax agency, banks and the
//! foreign-exchange agency. The rules are pure ([`eport::refund`], [`eport::forex`]); the
//! ledgers are stored through [`store::finance::FinanceStore`]. On with the E-Port ledgers
//! ([`crate::Clearance::with_eport`]).
//!
//! - **The customs record a claim is matched against** is the one `export_closed.v1` carries
//!   to the tax agency, built by the same function from the declaration in the store
//!   (`ExchangeService::export_closed`): FOB terms, the items' FOB values in fen at the customs
//!   rate. A declaration that is not closed, not an export, or not the claimant's is refused
//!   with its reason (another's looks like a missing one). A closed export is verified only
//!   when a departed export manifest listing its bill proves its exit (the recorded exit
//!   confirmation resolved on the live manifest ledger, `cargo_desk::exits`); one closed
//!   without such a proof is refused `exit_not_proven` and is on the unproven-exits list.
//! - **Goods** of an enterprise over a period: its declarations filed in the period (China
//!   dates) that are released or closed, each valued as the sum of its items' total prices
//!   converted to fen at the customs rate of the declaration (the tax engine's rate table and
//!   rate-date rule, rounded half up per item, as `export_closed.v1`). A declaration in a
//!   currency without a rate is left out and counted (`unvalued_declarations`).
//! - **Funds**: banks' receipts and payments with a value date in the period; each amount was
//!   converted to fen when it was recorded, at the customs rate the tax engine would pick for a
//!   declaration of the value date.
//! - **Classes** by [`eport::forex::FOREX_POLICY`].
//! - **Refund paid** ([`FinanceService::pay_refund`]): the tax agency records its payment of a
//!   verified claim (amount in fen, the day paid, the bank reference). The store decides it on
//!   the claim in its writer: once, and at most the claim's ceiling, its customs FOB value
//!   times the VAT rate of the claimed commodity ([`eport::refund::refund_ceiling_fen`]; the
//!   refund rates per commodity are not modelled, and a refund rate is never above the levy
//!   rate). A declaration whose refund was paid is not amended or cancelled (the step's own
//!   transaction refuses it, `refund_paid`).
//! - **Access** ([`crate::authorize`]): an enterprise files and follows its own claims and
//!   reads its own match; the tax agency reads every verified claim and records refunds paid;
//!   bank users record receipts and payments and read their own; the foreign-exchange agency
//!   reads the report.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clearance::Status;
use domain::codes::{CurrencyCode, DeclarationNo, Uscc};
use domain::declaration::Declaration;
use domain::money::Fen;
use domain::reference::Reference;
use eport::forex::{
    match_enterprises, BankRecord, EnterpriseClass, EnterpriseMatch, Figures, ForexPolicy,
    FundsEntry, FundsKind, GoodsEntry, FOREX_POLICY,
};
/// The claim as an enterprise files it (re-exported for the HTTP edge).
pub use eport::refund::ClaimRequest;
use eport::refund::{
    check_claim, refund_ceiling_fen, ExportRecord, ExportRecordItem, RefundClaim, RefundPayment,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::finance::FinanceStore;
use store::{DeclarationKey, StoredDeclaration};

use crate::access::{denied, Operation, Principal, Resource};
use crate::assessment;
use crate::cargo_desk::CargoService;
use crate::error::{AppError, FieldProblem};
use crate::exchange_desk::ExchangeService;
use crate::kernel::Core;

/// At most this many days in a matching period.
pub const PERIOD_DAYS_MAX: i64 = 731;
/// The period when none is asked: the last 365 days, today included.
pub const PERIOD_DAYS_DEFAULT: i64 = 365;
/// At most this many verified claims in the tax agency's listing.
pub const CLAIMS_LIST_DEFAULT: u32 = 1_000;

/// A receipt or payment as a bank sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankRecordRequest {
    /// `receipt` (export proceeds) or `payment` (import payment).
    pub kind: FundsKind,
    /// The enterprise's USCC.
    pub uscc: Uscc,
    /// In `currency`, above zero, at most 2 decimals.
    pub amount: Decimal,
    pub currency: CurrencyCode,
    pub value_date: NaiveDate,
    /// The bank's own reference, unique per bank.
    pub bank_ref: String,
    #[serde(default)]
    pub declaration_no: Option<DeclarationNo>,
}

/// The tax agency's payment of a verified refund claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundPaidRequest {
    /// In yuan, as fen: above zero, at most the claim's ceiling.
    pub amount_fen: Fen,
    /// The day it was paid (not before the claim was verified, not after today; China dates).
    pub paid_on: NaiveDate,
    /// The treasury's or bank's reference of the transfer (1 to 64 visible characters).
    pub bank_reference: String,
}

/// The VAT rate a claim's ceiling is taken at when the tariff has no line for its commodity on
/// the claim's day: the standard rate, the highest there is.
pub const STANDARD_VAT_RATE: Decimal = Decimal::from_parts(13, 0, 0, false, 2);

/// A matching period, both days included (China dates).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// An enterprise's line of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnterpriseLine {
    /// From the market-regulation registry, when it knows the enterprise.
    pub name: Option<String>,
    #[serde(flatten)]
    pub matched: EnterpriseMatch,
}

/// The foreign-exchange agency's report: enterprises by class, with the figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForexReport {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub policy: ForexPolicy,
    pub class_a: usize,
    pub class_b: usize,
    pub class_c: usize,
    /// Declarations in the period left out because their currency has no rate.
    pub unvalued_declarations: usize,
    /// The most divergent first.
    pub enterprises: Vec<EnterpriseLine>,
}

/// An enterprise's own match status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForexStatus {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub policy: ForexPolicy,
    pub unvalued_declarations: usize,
    #[serde(flatten)]
    pub matched: EnterpriseMatch,
}

use domain::time::china_date as china_day;

/// The first instant of a China day, in UTC.
fn china_midnight(d: NaiveDate) -> DateTime<Utc> {
    domain::time::china_midnight(d).expect("a customs date is within chrono's range")
}

fn problems(refusals: Vec<eport::Refusal>) -> AppError {
    AppError::Invalid(
        refusals
            .into_iter()
            .map(|r| FieldProblem::new(r.field, r.code, r.message_zh, r.message_en))
            .collect(),
    )
}

/// The E-Port's finance ledgers as a service: export tax refund claims (enterprises, the tax
/// agency), banks' receipts and payments, and the foreign-exchange match of goods and funds.
#[derive(Clone, Copy)]
pub struct FinanceService<'a> {
    pub(crate) core: &'a Core,
    /// Whether the E-Port ledgers are on (`Clearance::with_eport`).
    pub(crate) enabled: bool,
    /// The `export_closed.v1` record refund claims are matched against.
    pub(crate) exchange: ExchangeService<'a>,
    /// The manifest ledger a claim's exit must be proven on.
    pub(crate) cargo: CargoService<'a>,
}

impl FinanceService<'_> {
    fn finance(&self) -> Result<&dyn FinanceStore, AppError> {
        match (self.enabled, self.core.store.finance_store()) {
            (true, Some(f)) => Ok(f),
            _ => Err(AppError::NotFound(
                "the E-Port tax and foreign-exchange ledgers are not enabled".into(),
            )),
        }
    }

    /// What the tax agency knows of a declaration: the `export_closed.v1` record when it is a
    /// closed export, else its facts (direction, closed or not) for the refusal.
    pub(crate) fn export_record(&self, d: &StoredDeclaration) -> Option<ExportRecord> {
        let (no, header) = (d.state.declaration_no?, d.state.header.as_ref()?);
        let decl: Declaration = serde_json::from_str(&d.body_json).ok()?;
        let closed = d.state.status == Status::Closed;
        let published = closed
            .then(|| {
                self.exchange
                    .export_closed(&decl, no, header.declarant, d.updated_at)
            })
            .flatten();
        let items = decl
            .items
            .iter()
            .map(|i| ExportRecordItem {
                item_no: u32::from(i.item_no),
                hs_code: i.commodity_code,
                quantity: i.declared_quantity,
                unit: i.declared_unit,
                fob_value: i.total_price,
                fob_value_fen: published.as_ref().and_then(|p| {
                    p.items
                        .iter()
                        .find(|x| x.item_no == u32::from(i.item_no))
                        .map(|x| x.fob_value_fen)
                }),
            })
            .collect();
        let currency = decl.items.first().map(|i| i.currency);
        // The exit a departed export manifest proves (`cargo_desk::exits`): the recorded
        // confirmation resolved on the live manifest ledger.
        let exit_proof = if closed && header.direction == domain::codes::Direction::Export {
            let events = self.core.store.events(d.id).unwrap_or_default();
            self.cargo
                .recorded_exit_proof(d, &events)
                .ok()
                .map(|p| p.manifest_ref())
        } else {
            None
        };
        Some(ExportRecord {
            declaration_no: no,
            declarant: header.declarant,
            direction: header.direction,
            closed,
            exit_proof,
            currency: currency.filter(|c| decl.items.iter().all(|i| i.currency == *c)),
            items,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Export tax refund

    /// File a refund claim (an enterprise): matched against the closed export declaration it
    /// names; recorded as verified once per declaration item. 422 with every problem when it
    /// does not match; 409 when the item was claimed already (even by a racing request).
    pub fn file_refund_claim(
        &self,
        by: &Principal,
        req: ClaimRequest,
    ) -> Result<RefundClaim, AppError> {
        let Principal::Enterprise { uscc, .. } = by else {
            return Err(AppError::Forbidden(denied(by, Operation::FileRefundClaim)));
        };
        let claimant = *uscc;
        let allowed = self.core.authorize(
            by,
            (
                Operation::FileRefundClaim,
                Resource::Eport {
                    holder: Some(claimant),
                },
            ),
        )?;
        let ledger = self.finance()?;
        let stored = self
            .core
            .store
            .load(DeclarationKey::DeclarationNo(req.declaration_no))?;
        // The one access decision on the declaration itself: one the claimant may not see
        // answers like one that does not exist.
        let visible = stored.filter(|d| {
            d.state.header.as_ref().is_some_and(|h| {
                self.core
                    .authorize(
                        by,
                        (
                            Operation::View,
                            Resource::Declaration {
                                declarant: h.declarant,
                                office: h.declaration_office,
                            },
                        ),
                    )
                    .is_ok()
            })
        });
        let record = visible.as_ref().and_then(|d| self.export_record(d));
        let matched = check_claim(&req, &claimant, record.as_ref()).map_err(problems)?;
        let claim = matched.claim(&req, claimant, self.core.now());
        Ok(ledger.record_refund_claim(claim, &allowed.audit_actor(), self.core.now())?)
    }

    /// The enterprise's own claims, newest first.
    pub fn my_refund_claims(&self, by: &Principal) -> Result<Vec<RefundClaim>, AppError> {
        let Principal::Enterprise { uscc, .. } = by else {
            return Err(AppError::Forbidden(denied(by, Operation::ViewRefundClaims)));
        };
        let uscc = *uscc;
        self.core.authorize(
            by,
            (
                Operation::ViewRefundClaims,
                Resource::Eport { holder: Some(uscc) },
            ),
        )?;
        Ok(self.finance()?.refund_claims_of(&uscc)?)
    }

    /// Every verified claim, newest first (the tax agency).
    pub fn verified_refund_claims(&self, by: &Principal) -> Result<Vec<RefundClaim>, AppError> {
        self.core.authorize(
            by,
            (
                Operation::ViewRefundClaims,
                Resource::Eport { holder: None },
            ),
        )?;
        Ok(self.finance()?.refund_claims(CLAIMS_LIST_DEFAULT)?)
    }

    /// The most the refund of a claim may be: its customs FOB value times the VAT rate of its
    /// commodity on the day it was verified (docs/EPORT.md "Refund paid").
    pub fn refund_ceiling(&self, c: &RefundClaim) -> Fen {
        let rate = self
            .core
            .refdata
            .tariff_line(c.hs_code, china_day(c.claimed_at))
            .map_or(STANDARD_VAT_RATE, |l| l.vat_rate);
        refund_ceiling_fen(c.customs_fob_value_fen, rate)
    }

    /// Record the payment of the verified claim on item `item_no` of `declaration_no` (the tax
    /// agency). 404 without such a claim; 409 when it was paid already (even by a racing
    /// request); 422 with the field for an amount above the ceiling or not above zero, a bad
    /// bank reference, a day before the claim or after today.
    pub fn pay_refund(
        &self,
        by: &Principal,
        declaration_no: DeclarationNo,
        item_no: u32,
        req: RefundPaidRequest,
    ) -> Result<RefundClaim, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::PayExportRefund, Resource::Eport { holder: None }),
        )?;
        let ledger = self.finance()?;
        let agency = allowed.agency()?.to_ascii_lowercase();
        // The ceiling is the claim's, read here (a claim never changes but by its payment);
        // the store decides the rest on the claim in its writer.
        let ceiling_fen = ledger
            .refund_claims_on(&declaration_no)?
            .iter()
            .find(|c| c.item_no == item_no)
            .map_or(Fen::ZERO, |c| self.refund_ceiling(c));
        let now = self.core.now();
        let payment = RefundPayment {
            amount_fen: req.amount_fen,
            paid_on: req.paid_on,
            bank_reference: req.bank_reference,
            paid_by: agency,
            recorded_at: now,
            ceiling_fen,
        };
        Ok(ledger.pay_refund(store::finance::RefundPaymentWrite {
            declaration_no,
            item_no,
            payment,
            actor: allowed.audit_actor(),
            now,
        })?)
    }

    // -----------------------------------------------------------------------------------------
    // Foreign exchange

    /// Record a receipt or payment (a bank user); the bank is the user's login. 422 with every
    /// problem (or without a rate for the currency), 409 when the bank used the reference.
    pub fn record_bank_record(
        &self,
        by: &Principal,
        req: BankRecordRequest,
    ) -> Result<BankRecord, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::RecordFunds, Resource::Eport { holder: None }),
        )?;
        let ledger = self.finance()?;
        let amount_fen = assessment::to_fen(self.core, req.amount, req.currency, req.value_date);
        // Without a rate the amount in fen is unknown: a placeholder, refused below.
        let record = BankRecord {
            bank: by.login().to_owned(),
            bank_ref: req.bank_ref,
            kind: req.kind,
            uscc: req.uscc,
            amount: req.amount,
            currency: req.currency,
            amount_fen: amount_fen.unwrap_or(Fen(1)),
            value_date: req.value_date,
            declaration_no: req.declaration_no,
        };
        let mut refusals = record.problems();
        if amount_fen.is_none() {
            refusals.push(eport::Refusal {
                field: "currency".into(),
                code: "no_exchange_rate".into(),
                message_zh: format!("没有 {} 在 {} 适用的汇率", req.currency, req.value_date),
                message_en: format!(
                    "no exchange rate of {} applies on {}",
                    req.currency, req.value_date
                ),
            });
        }
        if !refusals.is_empty() {
            return Err(problems(refusals));
        }
        Ok(ledger.record_bank_record(record, &allowed.audit_actor(), self.core.now())?)
    }

    /// The bank user's own records, newest value date first.
    pub fn my_bank_records(&self, by: &Principal) -> Result<Vec<BankRecord>, AppError> {
        self.core.authorize(
            by,
            (Operation::RecordFunds, Resource::Eport { holder: None }),
        )?;
        Ok(self.finance()?.bank_records_of(by.login())?)
    }

    fn period(&self, q: PeriodQuery) -> Result<(NaiveDate, NaiveDate), AppError> {
        let to = q.to.unwrap_or_else(|| china_day(self.core.now()));
        let from = q
            .from
            .unwrap_or(to - Duration::days(PERIOD_DAYS_DEFAULT - 1));
        if from > to {
            return Err(AppError::invalid(
                "from",
                "bad_period",
                "起始日期须不晚于截止日期",
                "from must be on or before to",
            ));
        }
        if (to - from).num_days() >= PERIOD_DAYS_MAX {
            return Err(AppError::invalid(
                "from",
                "bad_period",
                format!("期间最长 {PERIOD_DAYS_MAX} 天"),
                format!("a period is at most {PERIOD_DAYS_MAX} days"),
            ));
        }
        Ok((from, to))
    }

    /// Goods of the period (one enterprise or all): released and closed declarations filed in
    /// it, valued in fen when they were filed ([`crate::assessment::declared_value_fen`], kept by the
    /// store), totalled per enterprise, direction and day by the store; and how many had no
    /// value (a currency without a rate).
    fn goods(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        uscc: Option<Uscc>,
    ) -> Result<(Vec<GoodsEntry>, usize), AppError> {
        let totals = self
            .core
            .store
            .goods_totals(
                china_midnight(from),
                china_midnight(to + Duration::days(1)),
                uscc.as_ref(),
            )
            .map_err(|e| match e {
                store::StoreError::Invalid(why) => AppError::invalid(
                    "from",
                    "period_too_large",
                    "期间内的数据过多，请缩短期间".to_owned(),
                    why,
                ),
                other => other.into(),
            })?;
        let unvalued = totals.iter().map(|t| t.unvalued as usize).sum();
        let goods = totals
            .into_iter()
            .filter(|t| t.declarations > t.unvalued)
            .map(|t| GoodsEntry {
                uscc: t.declarant,
                direction: t.direction,
                date: t.day,
                value_fen: t.value_fen,
            })
            .collect();
        Ok((goods, unvalued))
    }

    fn funds(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        uscc: Option<&Uscc>,
    ) -> Result<Vec<FundsEntry>, AppError> {
        Ok(self
            .finance()?
            .bank_records_between(from, to, uscc)?
            .iter()
            .map(FundsEntry::from)
            .collect())
    }

    /// Enterprises by class with their goods and funds over the period (the foreign-exchange
    /// agency).
    pub fn forex_report(&self, by: &Principal, q: PeriodQuery) -> Result<ForexReport, AppError> {
        self.core.authorize(
            by,
            (Operation::ViewForexMatch, Resource::Eport { holder: None }),
        )?;
        self.finance()?;
        let (from, to) = self.period(q)?;
        let (goods, unvalued) = self.goods(from, to, None)?;
        let funds = self.funds(from, to, None)?;
        let matched = match_enterprises(&goods, &funds, &FOREX_POLICY);
        let count = |c| matched.iter().filter(|m| m.class == c).count();
        let (class_a, class_b, class_c) = (
            count(EnterpriseClass::A),
            count(EnterpriseClass::B),
            count(EnterpriseClass::C),
        );
        let registry = self.core.store.eport_store();
        let mut enterprises = Vec::with_capacity(matched.len());
        for m in matched {
            let name = match registry {
                Some(r) => r.registry_entry(&m.uscc)?.map(|e| e.name),
                None => None,
            };
            enterprises.push(EnterpriseLine { name, matched: m });
        }
        Ok(ForexReport {
            from,
            to,
            policy: FOREX_POLICY,
            class_a,
            class_b,
            class_c,
            unvalued_declarations: unvalued,
            enterprises,
        })
    }

    /// The enterprise's own match over the period.
    pub fn my_forex_status(&self, by: &Principal, q: PeriodQuery) -> Result<ForexStatus, AppError> {
        let Principal::Enterprise { uscc, .. } = by else {
            return Err(AppError::Forbidden(denied(by, Operation::ViewForexMatch)));
        };
        let uscc = *uscc;
        self.core.authorize(
            by,
            (
                Operation::ViewForexMatch,
                Resource::Eport { holder: Some(uscc) },
            ),
        )?;
        self.finance()?;
        let (from, to) = self.period(q)?;
        let (goods, unvalued) = self.goods(from, to, Some(uscc))?;
        let funds = self.funds(from, to, Some(&uscc))?;
        let matched = match_enterprises(&goods, &funds, &FOREX_POLICY)
            .into_iter()
            .find(|m| m.uscc == uscc)
            .unwrap_or(EnterpriseMatch {
                uscc,
                figures: Figures::default(),
                gap_fen: 0,
                divergence_bp: 0,
                class: EnterpriseClass::A,
                months_diverging: 0,
                persistent: false,
            });
        Ok(ForexStatus {
            from,
            to,
            policy: FOREX_POLICY,
            unvalued_declarations: unvalued,
            matched,
        })
    }
}
