//! Export tax refund (出口退税) of the tax agency (docs/EPORT.md "Export tax refund"). Pure.
//!
//! Customs publishes every closed export declaration to the tax agency (`export_closed.v1`);
//! an enterprise's refund claim names one item of one of them and says what it exported:
//! commodity, quantity, FOB value in fen. [`check_claim`] matches the claim against the
//! customs record ([`ExportRecord`]) and lists every problem, or answers the matched values
//! that the tax agency records as a verified claim ([`RefundClaim`]).
//!
//! - **Tolerance.** Quantity and commodity must be exactly those declared; the FOB value may
//!   differ by at most [`FOB_TOLERANCE_FEN`] (one fen), because the claimant may convert the
//!   declared FOB value to yuan with its own rounding step.
//! - **Whose.** A declaration of another enterprise answers like one that does not exist
//!   (`declaration_not_found`): a claimant learns nothing of others' declarations.
//! - **Once.** A declaration item is claimed once; the store enforces it with a unique key
//!   (`(declaration_no, item_no)`), so that racing claims cannot both be recorded.

use chrono::{DateTime, NaiveDate, Utc};
use domain::codes::{CurrencyCode, DeclarationNo, Direction, HsCode, UnitCode, Uscc};
use domain::money::Fen;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Refusal;

/// The FOB value of a claim may differ from the customs record by at most this many fen.
pub const FOB_TOLERANCE_FEN: i64 = 1;

/// What customs knows of a declaration, as the tax agency receives it: the body of
/// `export_closed.v1` plus the facts that decide whether it was published at all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    pub declaration_no: DeclarationNo,
    /// The enterprise the declaration is of (its declarant).
    pub declarant: Uscc,
    pub direction: Direction,
    /// Exit confirmed (结关): the declaration is closed.
    pub closed: bool,
    /// The departed export manifest and bill that prove the exit (`MANIFEST/BILL`): the
    /// recorded exit confirmation resolved on the manifest ledger. `None`: the declaration was
    /// closed without such a proof (free text, before exits were bound to manifests), and no
    /// claim on it is verified.
    #[serde(default)]
    pub exit_proof: Option<String>,
    /// The declaration's currency; `None` when its items are in several.
    pub currency: Option<CurrencyCode>,
    pub items: Vec<ExportRecordItem>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecordItem {
    pub item_no: u32,
    pub hs_code: HsCode,
    pub quantity: Decimal,
    pub unit: UnitCode,
    /// FOB value in the declaration's currency.
    pub fob_value: Decimal,
    /// The FOB value in fen at the customs rate; `None` when it is not exactly known (terms
    /// other than FOB, or no rate): such an item cannot be claimed.
    pub fob_value_fen: Option<Fen>,
}

/// An enterprise's refund claim, as filed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimRequest {
    pub declaration_no: DeclarationNo,
    /// 1-based item number on the declaration.
    pub item_no: u32,
    /// The commodity exported (10-digit HS code).
    pub hs_code: HsCode,
    /// In the declared unit of the item.
    pub quantity: Decimal,
    /// The FOB value in yuan, as fen.
    pub fob_value_fen: Fen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Matched against the closed export declaration; recorded once.
    Verified,
    /// The tax agency paid the refund ([`RefundPayment`]): once, on a verified claim.
    Paid,
}

impl ClaimStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimStatus::Verified => "verified",
            ClaimStatus::Paid => "paid",
        }
    }
}

/// A verified refund claim, as the tax agency keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundClaim {
    pub declaration_no: DeclarationNo,
    pub item_no: u32,
    pub claimant: Uscc,
    pub hs_code: HsCode,
    pub quantity: Decimal,
    pub unit: UnitCode,
    /// What the enterprise claimed.
    pub fob_value_fen: Fen,
    /// What customs recorded.
    pub customs_fob_value_fen: Fen,
    pub currency: CurrencyCode,
    /// The FOB value in the declaration's currency, as declared.
    pub fob_value: Decimal,
    pub status: ClaimStatus,
    pub claimed_at: DateTime<Utc>,
    /// The tax agency's payment of the refund, once paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<RefundPayment>,
}

/// At most this many characters in a bank reference of a refund payment.
pub const BANK_REFERENCE_CHARS_MAX: usize = 64;

/// The tax agency's payment of a verified claim (退税款已退付): what it paid, when, through
/// which bank transfer, and the ceiling the amount was checked against.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundPayment {
    /// In yuan, as fen; above zero, at most [`RefundPayment::ceiling_fen`].
    pub amount_fen: Fen,
    /// The day the refund was paid (the agency's record).
    pub paid_on: NaiveDate,
    /// The treasury's or bank's reference of the transfer.
    pub bank_reference: String,
    /// The agency that paid (`tax`).
    pub paid_by: String,
    /// When customs recorded it.
    pub recorded_at: DateTime<Utc>,
    /// What the claim allows ([`refund_ceiling_fen`]).
    pub ceiling_fen: Fen,
}

/// The most a claim's refund may be: its customs FOB value in fen times `vat_rate`, the VAT
/// rate of the claimed commodity, rounded down to the fen. An export refund rate (退税率) is
/// never above the levy rate (征税率), and the refund rates per commodity are not modelled
/// (docs/EPORT.md "Refund paid").
pub fn refund_ceiling_fen(customs_fob_value_fen: Fen, vat_rate: Decimal) -> Fen {
    let ceiling = (Decimal::from(customs_fob_value_fen.0) * vat_rate).floor();
    Fen(i64::try_from(ceiling).unwrap_or(0).max(0))
}

/// Decide the payment of the claim on `(declaration_no, item_no)` as the ledger holds it
/// (`None`: no such verified claim): the amount above zero and at most the ceiling, a bank
/// reference, paid on or after the day the claim was verified and not after the day it is
/// recorded (China dates), and the claim not paid before. The refusal's code:
/// `refund_claim_not_found`, `refund_already_paid`, `refund_over_ceiling`,
/// `amount_not_positive`, `bad_bank_reference`, `paid_before_claim`, `paid_in_future`.
pub fn pay(
    claim: Option<&RefundClaim>,
    declaration_no: DeclarationNo,
    item_no: u32,
    p: &RefundPayment,
) -> Result<(), Refusal> {
    if p.amount_fen.0 <= 0 {
        return Err(Refusal::new(
            "amount_fen",
            "amount_not_positive",
            "退税金额须大于零".into(),
            "the refund amount must be above zero".into(),
        ));
    }
    let r = p.bank_reference.trim();
    if r.is_empty()
        || r != p.bank_reference
        || r.chars().count() > BANK_REFERENCE_CHARS_MAX
        || r.chars().any(char::is_control)
    {
        return Err(Refusal::new(
            "bank_reference",
            "bad_bank_reference",
            format!("银行流水号须为 1 至 {BANK_REFERENCE_CHARS_MAX} 个可见字符"),
            format!("the bank reference has 1 to {BANK_REFERENCE_CHARS_MAX} visible characters"),
        ));
    }
    let Some(c) = claim else {
        return Err(Refusal::new(
            "declaration_no",
            "refund_claim_not_found",
            format!("报关单 {declaration_no} 第 {item_no} 项没有已核准的退税申报"),
            format!("no verified refund claim for item {item_no} of declaration {declaration_no}"),
        ));
    };
    if let Some(before) = &c.payment {
        return Err(Refusal::new(
            "declaration_no",
            "refund_already_paid",
            format!(
                "报关单 {declaration_no} 第 {item_no} 项的退税已于 {} 支付（{} 元，流水号 {}），不能再次支付",
                before.paid_on, before.amount_fen, before.bank_reference
            ),
            format!(
                "the refund of item {item_no} of declaration {declaration_no} was paid on {} ({} yuan, reference {}); it is paid once",
                before.paid_on, before.amount_fen, before.bank_reference
            ),
        ));
    }
    if p.amount_fen > p.ceiling_fen {
        return Err(Refusal::new(
            "amount_fen",
            "refund_over_ceiling",
            format!(
                "退税金额 {} 元超过该项可退上限 {} 元（离岸价 {} 元 × 商品增值税税率）",
                p.amount_fen, p.ceiling_fen, c.customs_fob_value_fen
            ),
            format!(
                "the refund of {} yuan is above what the claim allows, {} yuan (FOB value {} yuan × the commodity's VAT rate)",
                p.amount_fen, p.ceiling_fen, c.customs_fob_value_fen
            ),
        ));
    }
    let claimed_on = domain::time::china_date(c.claimed_at);
    if p.paid_on < claimed_on {
        return Err(Refusal::new(
            "paid_on",
            "paid_before_claim",
            format!("支付日期 {} 早于退税申报核准日 {claimed_on}", p.paid_on),
            format!(
                "paid on {}, before the claim was verified on {claimed_on}",
                p.paid_on
            ),
        ));
    }
    let today = domain::time::china_date(p.recorded_at);
    if p.paid_on > today {
        return Err(Refusal::new(
            "paid_on",
            "paid_in_future",
            format!("支付日期 {} 晚于今天 {today}", p.paid_on),
            format!("paid on {}, after today {today}", p.paid_on),
        ));
    }
    Ok(())
}

/// Why a declaration with a paid refund cannot be amended or cancelled: changing it needs the
/// tax authority's certificate first (出口退税证明; docs/EPORT.md "Refund paid").
pub fn paid_refund_refusal(c: &RefundClaim) -> Option<Refusal> {
    let p = c.payment.as_ref()?;
    let (no, item) = (c.declaration_no, c.item_no);
    Some(Refusal::new(
        "declaration_no",
        "refund_paid",
        format!(
            "报关单 {no} 第 {item} 项的出口退税已于 {} 支付（{} 元，流水号 {}）：修改或撤销此报关单须先取得税务机关出具的证明",
            p.paid_on, p.amount_fen, p.bank_reference
        ),
        format!(
            "the export tax refund of item {item} of declaration {no} was paid on {} ({} yuan, reference {}): amending or cancelling this declaration needs the tax authority's certificate first",
            p.paid_on, p.amount_fen, p.bank_reference
        ),
    ))
}

impl RefundClaim {
    /// Whether the claim is well formed (the store's assertion before writing).
    pub fn validate(&self) -> Result<(), String> {
        if self.item_no == 0 {
            return Err("item numbers start at 1".into());
        }
        if self.quantity <= Decimal::ZERO || self.fob_value_fen.0 <= 0 {
            return Err("quantity and FOB value are above zero".into());
        }
        // abs_diff: the difference of two user amounts cannot overflow.
        if self.fob_value_fen.0.abs_diff(self.customs_fob_value_fen.0)
            > FOB_TOLERANCE_FEN.unsigned_abs()
        {
            return Err("the FOB value does not match the customs record".into());
        }
        Ok(())
    }
}

/// The customs values a matched claim is recorded with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Matched {
    pub unit: UnitCode,
    pub customs_fob_value_fen: Fen,
    pub currency: CurrencyCode,
    pub fob_value: Decimal,
}

impl Matched {
    /// The verified claim of `claimant` made at `at`.
    pub fn claim(self, req: &ClaimRequest, claimant: Uscc, at: DateTime<Utc>) -> RefundClaim {
        RefundClaim {
            declaration_no: req.declaration_no,
            item_no: req.item_no,
            claimant,
            hs_code: req.hs_code,
            quantity: req.quantity,
            unit: self.unit,
            fob_value_fen: req.fob_value_fen,
            customs_fob_value_fen: self.customs_fob_value_fen,
            currency: self.currency,
            fob_value: self.fob_value,
            status: ClaimStatus::Verified,
            claimed_at: at,
            payment: None,
        }
    }
}

/// Match a claim of `claimant` against the customs record of the declaration it names
/// (`None`: customs has no declaration of that number). Every problem is listed; a claim
/// that matches answers the customs values to record it with.
pub fn check_claim(
    req: &ClaimRequest,
    claimant: &Uscc,
    record: Option<&ExportRecord>,
) -> Result<Matched, Vec<Refusal>> {
    let no = req.declaration_no;
    let item = req.item_no;
    let mut refusals = Vec::new();
    if req.quantity <= Decimal::ZERO {
        refusals.push(Refusal::new(
            "quantity",
            "quantity_not_positive",
            "数量须大于零".into(),
            "the quantity must be above zero".into(),
        ));
    }
    if req.fob_value_fen.0 <= 0 {
        refusals.push(Refusal::new(
            "fob_value_fen",
            "fob_value_not_positive",
            "离岸价须大于零".into(),
            "the FOB value must be above zero".into(),
        ));
    }
    // Another enterprise's declaration answers like a missing one.
    let Some(r) = record.filter(|r| r.declarant == *claimant) else {
        refusals.push(Refusal::new(
            "declaration_no",
            "declaration_not_found",
            format!("没有本企业的报关单 {no}"),
            format!("no declaration {no} of this enterprise"),
        ));
        return Err(refusals);
    };
    if r.direction != Direction::Export {
        refusals.push(Refusal::new(
            "declaration_no",
            "not_an_export",
            format!("报关单 {no} 不是出口报关单"),
            format!("declaration {no} is not an export"),
        ));
        return Err(refusals);
    }
    if !r.closed {
        refusals.push(Refusal::new(
            "declaration_no",
            "export_not_closed",
            format!("出口报关单 {no} 尚未结关"),
            format!("export declaration {no} is not closed (exit not confirmed)"),
        ));
        return Err(refusals);
    }
    if r.exit_proof.is_none() {
        refusals.push(Refusal::new(
            "declaration_no",
            "exit_not_proven",
            format!("出口报关单 {no} 的离境未经已离境的出口舱单确认，不予核准退税"),
            format!(
                "the exit of export declaration {no} is not confirmed by a departed export manifest listing its bill; no refund claim is verified on it"
            ),
        ));
        return Err(refusals);
    }
    let Some(it) = r.items.iter().find(|i| i.item_no == item) else {
        refusals.push(Refusal::new(
            "item_no",
            "item_not_found",
            format!("报关单 {no} 没有第 {item} 项"),
            format!("declaration {no} has no item {item}"),
        ));
        return Err(refusals);
    };
    if it.hs_code != req.hs_code {
        refusals.push(Refusal::new(
            "hs_code",
            "commodity_mismatch",
            format!(
                "第 {item} 项申报的商品编码为 {}，不是 {}",
                it.hs_code, req.hs_code
            ),
            format!(
                "item {item} was declared as {}, not {}",
                it.hs_code, req.hs_code
            ),
        ));
    }
    if it.quantity != req.quantity {
        refusals.push(Refusal::new(
            "quantity",
            "quantity_mismatch",
            format!(
                "第 {item} 项申报数量为 {} (单位 {})，不是 {}",
                it.quantity, it.unit, req.quantity
            ),
            format!(
                "item {item} was declared with quantity {} (unit {}), not {}",
                it.quantity, it.unit, req.quantity
            ),
        ));
    }
    let currency = r.currency;
    match (it.fob_value_fen, currency) {
        (Some(fen), Some(currency)) => {
            if fen.0.abs_diff(req.fob_value_fen.0) > FOB_TOLERANCE_FEN.unsigned_abs() {
                refusals.push(Refusal::new(
                    "fob_value_fen",
                    "fob_value_mismatch",
                    format!(
                        "第 {item} 项离岸价为 {fen} 元，申报退税 {} 元，相差超过 {FOB_TOLERANCE_FEN} 分",
                        req.fob_value_fen
                    ),
                    format!(
                        "item {item} has an FOB value of {fen} yuan, the claim says {} yuan (more than {FOB_TOLERANCE_FEN} fen apart)",
                        req.fob_value_fen
                    ),
                ));
            }
            if refusals.is_empty() {
                return Ok(Matched {
                    unit: it.unit,
                    customs_fob_value_fen: fen,
                    currency,
                    fob_value: it.fob_value,
                });
            }
        }
        _ => refusals.push(Refusal::new(
            "fob_value_fen",
            "fob_value_unknown",
            format!("报关单 {no} 第 {item} 项没有确定的离岸价（非 FOB 成交或无汇率）"),
            format!(
                "item {item} of declaration {no} has no exact FOB value (terms other than FOB, or no exchange rate)"
            ),
        )),
    }
    Err(refusals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn a() -> Uscc {
        Uscc::parse("91440300MA5FT3XKX8").unwrap()
    }
    fn b() -> Uscc {
        Uscc::parse("91310115MA1K4Q7B4Y").unwrap()
    }
    fn no() -> DeclarationNo {
        DeclarationNo::parse("530420250000000045").unwrap()
    }
    fn shoes() -> HsCode {
        HsCode::parse("6403990000").unwrap()
    }

    fn record() -> ExportRecord {
        ExportRecord {
            declaration_no: no(),
            declarant: a(),
            direction: Direction::Export,
            closed: true,
            exit_proof: Some("MF-1/COSU6123456780".into()),
            currency: Some(CurrencyCode::parse("USD").unwrap()),
            items: vec![ExportRecordItem {
                item_no: 1,
                hs_code: shoes(),
                quantity: dec!(4000),
                unit: UnitCode::parse("025").unwrap(),
                fob_value: dec!(74000.00),
                fob_value_fen: Some(Fen(53_228_980)),
            }],
        }
    }

    fn claim() -> ClaimRequest {
        ClaimRequest {
            declaration_no: no(),
            item_no: 1,
            hs_code: shoes(),
            quantity: dec!(4000),
            fob_value_fen: Fen(53_228_980),
        }
    }

    fn codes(r: Result<Matched, Vec<Refusal>>) -> Vec<String> {
        r.err().unwrap().into_iter().map(|r| r.code).collect()
    }

    #[test]
    fn a_matching_claim_is_verified_with_the_customs_values() {
        let m = check_claim(&claim(), &a(), Some(&record())).unwrap();
        assert_eq!(m.customs_fob_value_fen, Fen(53_228_980));
        let c = m.claim(&claim(), a(), DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(c.status, ClaimStatus::Verified);
        assert!(c.validate().is_ok());
    }

    fn payment(amount: i64, paid_on: &str) -> RefundPayment {
        RefundPayment {
            amount_fen: Fen(amount),
            paid_on: paid_on.parse().unwrap(),
            bank_reference: "TR-2026-0001".into(),
            paid_by: "tax".into(),
            recorded_at: "2026-06-10T02:00:00Z".parse().unwrap(),
            // 13 % of 532,289.80 yuan, rounded down to the fen.
            ceiling_fen: refund_ceiling_fen(Fen(53_228_980), dec!(0.13)),
        }
    }

    #[test]
    fn a_verified_claim_is_paid_once_within_its_ceiling() {
        assert_eq!(
            refund_ceiling_fen(Fen(53_228_980), dec!(0.13)),
            Fen(6_919_767)
        );
        let verified = check_claim(&claim(), &a(), Some(&record())).unwrap().claim(
            &claim(),
            a(),
            "2026-06-01T02:00:00Z".parse().unwrap(),
        );
        let code =
            |c: Option<&RefundClaim>, p: &RefundPayment| pay(c, no(), 1, p).unwrap_err().code;
        assert!(pay(Some(&verified), no(), 1, &payment(6_919_767, "2026-06-09")).is_ok());
        assert_eq!(
            code(Some(&verified), &payment(6_919_768, "2026-06-09")),
            "refund_over_ceiling"
        );
        assert_eq!(
            code(Some(&verified), &payment(0, "2026-06-09")),
            "amount_not_positive"
        );
        assert_eq!(
            code(Some(&verified), &payment(100, "2026-05-31")),
            "paid_before_claim"
        );
        assert_eq!(
            code(Some(&verified), &payment(100, "2026-06-11")),
            "paid_in_future"
        );
        assert_eq!(
            code(None, &payment(100, "2026-06-09")),
            "refund_claim_not_found"
        );
        let mut blank = payment(100, "2026-06-09");
        blank.bank_reference = String::new();
        assert_eq!(code(Some(&verified), &blank), "bad_bank_reference");
        let paid = RefundClaim {
            status: ClaimStatus::Paid,
            payment: Some(payment(100, "2026-06-09")),
            ..verified.clone()
        };
        assert_eq!(
            code(Some(&paid), &payment(100, "2026-06-09")),
            "refund_already_paid"
        );
        assert!(paid_refund_refusal(&verified).is_none());
        let r = paid_refund_refusal(&paid).unwrap();
        assert_eq!(r.code, "refund_paid");
        assert!(r.message_zh.contains("税务机关") && r.message_en.contains("tax authority"));
        assert!(r.message_en.contains("TR-2026-0001"));
    }

    #[test]
    fn one_fen_apart_is_within_the_tolerance_two_is_not() {
        let mut c = claim();
        c.fob_value_fen = Fen(53_228_981);
        assert!(check_claim(&c, &a(), Some(&record())).is_ok());
        c.fob_value_fen = Fen(53_228_978);
        assert_eq!(
            codes(check_claim(&c, &a(), Some(&record()))),
            ["fob_value_mismatch"]
        );
    }

    #[test]
    fn every_mismatch_is_listed_with_field_and_both_languages() {
        let mut c = claim();
        c.hs_code = HsCode::parse("6403190000").unwrap();
        c.quantity = dec!(3999);
        c.fob_value_fen = Fen(1);
        let r = check_claim(&c, &a(), Some(&record())).unwrap_err();
        let fields: Vec<(&str, &str)> = r
            .iter()
            .map(|r| (r.field.as_str(), r.code.as_str()))
            .collect();
        assert_eq!(
            fields,
            [
                ("hs_code", "commodity_mismatch"),
                ("quantity", "quantity_mismatch"),
                ("fob_value_fen", "fob_value_mismatch")
            ]
        );
        assert!(r
            .iter()
            .all(|r| !r.message_zh.is_empty() && !r.message_en.is_empty()));
    }

    #[test]
    fn another_enterprises_declaration_looks_missing() {
        assert_eq!(
            codes(check_claim(&claim(), &b(), Some(&record()))),
            ["declaration_not_found"]
        );
        assert_eq!(
            codes(check_claim(&claim(), &a(), None)),
            ["declaration_not_found"]
        );
    }

    #[test]
    fn only_exits_a_manifest_proves_can_be_claimed() {
        let mut r = record();
        r.exit_proof = None;
        assert_eq!(
            codes(check_claim(&claim(), &a(), Some(&r))),
            ["exit_not_proven"]
        );
    }

    #[test]
    fn only_closed_exports_with_the_item_can_be_claimed() {
        let mut r = record();
        r.closed = false;
        assert_eq!(
            codes(check_claim(&claim(), &a(), Some(&r))),
            ["export_not_closed"]
        );
        r.direction = Direction::Import;
        assert_eq!(
            codes(check_claim(&claim(), &a(), Some(&r))),
            ["not_an_export"]
        );
        let mut c = claim();
        c.item_no = 2;
        assert_eq!(
            codes(check_claim(&c, &a(), Some(&record()))),
            ["item_not_found"]
        );
        let mut r = record();
        r.items[0].fob_value_fen = None;
        assert_eq!(
            codes(check_claim(&claim(), &a(), Some(&r))),
            ["fob_value_unknown"]
        );
    }

    proptest! {
        /// A claim is verified exactly when it names the item with its commodity and quantity
        /// and an FOB value within the tolerance.
        #[test]
        fn verified_iff_within_tolerance(delta in -5i64..=5, qty_delta in -2i64..=2) {
            let mut c = claim();
            c.fob_value_fen = Fen(53_228_980 + delta);
            c.quantity = dec!(4000) + Decimal::from(qty_delta);
            let ok = check_claim(&c, &a(), Some(&record())).is_ok();
            prop_assert_eq!(ok, delta.abs() <= FOB_TOLERANCE_FEN && qty_delta == 0);
        }

        /// Refusals are never empty, and a verified claim always passes the store's check.
        #[test]
        fn refusals_are_never_empty(fen in -10i64..100_000_000, item in 0u32..4) {
            let mut c = claim();
            c.fob_value_fen = Fen(fen);
            c.item_no = item;
            match check_claim(&c, &a(), Some(&record())) {
                Ok(m) => prop_assert!(m.claim(&c, a(), DateTime::<Utc>::UNIX_EPOCH).validate().is_ok()),
                Err(r) => prop_assert!(!r.is_empty()),
            }
        }
    }
}
