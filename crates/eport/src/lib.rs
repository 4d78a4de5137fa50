//! The E-Port ledgers of partner agencies (docs/DOMAIN.md §7, docs/EPORT.md), and the checks that
//! automatic review runs against them. Pure: no IO, no clock; the store keeps the ledgers and
//! runs [`check_licences`] inside its single writer, so that the remaining quantity it reads is
//! the one it reserves.
//!
//! - **Licences** (许可证) of the commerce agency: number, kind (import, export), holder (USCC),
//!   commodity (an HS code or a prefix of one), unit, quantity, validity, issuer.
//! - **Reservation and write-off** (核销): a declaration accepted by automatic review reserves
//!   its quantities; release writes them off; cancellation or withdrawal gives them back. The
//!   remaining quantity is `quantity − reserved − written off`, never below zero.
//! - **Registry** of the market-regulation agency: USCC, name, status (active, deregistered).
//! - **Export tax refund** of the tax agency ([`refund`]): a claim matched against the closed
//!   export declaration it names.
//! - **Foreign exchange** ([`forex`]): banks' receipts and payments matched to goods per
//!   enterprise, classes A, B, C by a named policy ([`forex::FOREX_POLICY`]).
//!
//! Refusals carry stable codes ([`Refusal::code`]) and messages in Chinese and English.

// Panics in library code only with a stated reason: `.expect("why this cannot fail")` or an
// error, never a bare `.unwrap()` (tests may unwrap).
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

use chrono::NaiveDate;
use domain::codes::{Direction, HsCode, Uscc};
use domain::declaration::Declaration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

pub mod forex;
pub mod refund;

/// At most this many characters in a licence number.
pub const LICENCE_NO_CHARS_MAX: usize = 32;
/// At most this many characters in an enterprise name or an issuer.
pub const NAME_CHARS_MAX: usize = 200;

/// The field refusals about licences are reported on.
pub const LICENCE_FIELD: &str = "licence_no";
/// The field refusals about the registry are reported on.
pub const TRADER_FIELD: &str = "trader.uscc";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceKind {
    Import,
    Export,
}

impl LicenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceKind::Import => "import",
            LicenceKind::Export => "export",
        }
    }
    pub fn parse(s: &str) -> Option<LicenceKind> {
        match s {
            "import" => Some(LicenceKind::Import),
            "export" => Some(LicenceKind::Export),
            _ => None,
        }
    }
    /// The kind a declaration of this direction needs.
    pub fn for_direction(d: Direction) -> LicenceKind {
        match d {
            Direction::Import => LicenceKind::Import,
            Direction::Export => LicenceKind::Export,
        }
    }
    /// The tariff's licence document codes (监管证件代码) this kind of licence stands for:
    /// `1` import licence and `7` automatic import licence; `4` export licence.
    pub fn document_codes(self) -> &'static [char] {
        match self {
            LicenceKind::Import => &['1', '7'],
            LicenceKind::Export => &['4'],
        }
    }
}

/// A licence issued by the commerce agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    pub licence_no: String,
    pub kind: LicenceKind,
    pub holder: Uscc,
    /// An HS code or a prefix of one (2 to 10 digits): the commodities it covers.
    pub commodity: String,
    /// The unit of measure of [`Licence::quantity`] (3-digit unit code, `003` sets).
    pub unit: String,
    pub quantity: Decimal,
    pub valid_from: NaiveDate,
    /// The last day of validity.
    pub valid_to: NaiveDate,
    /// The issuing agency (`commerce`).
    pub issued_by: String,
}

impl Licence {
    /// Whether the licence is well formed; the problem in English otherwise.
    pub fn validate(&self) -> Result<(), String> {
        let no = self.licence_no.trim();
        if no.is_empty()
            || no != self.licence_no
            || no.chars().count() > LICENCE_NO_CHARS_MAX
            || no.chars().any(char::is_control)
        {
            return Err(format!(
                "a licence number has 1 to {LICENCE_NO_CHARS_MAX} visible characters"
            ));
        }
        if !(2..=10).contains(&self.commodity.len())
            || !self.commodity.bytes().all(|b| b.is_ascii_digit())
        {
            return Err("the commodity is an HS code or a prefix of 2 to 10 digits".into());
        }
        if self.unit.len() != 3 || !self.unit.bytes().all(|b| b.is_ascii_digit()) {
            return Err("the unit is a 3-digit unit code".into());
        }
        if self.quantity <= Decimal::ZERO {
            return Err("the quantity is above zero".into());
        }
        if self.valid_to < self.valid_from {
            return Err("valid_to is on or after valid_from".into());
        }
        if self.issued_by.trim().is_empty() || self.issued_by.chars().count() > NAME_CHARS_MAX {
            return Err("the issuer is named".into());
        }
        Ok(())
    }

    pub fn covers(&self, code: &HsCode) -> bool {
        code.to_string().starts_with(&self.commodity)
    }
}

/// A licence with what has been taken from it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    pub licence: Licence,
    /// Held by accepted declarations not yet released.
    pub reserved: Decimal,
    /// Written off by released declarations.
    pub written_off: Decimal,
}

impl Standing {
    pub fn remaining(&self) -> Decimal {
        (self.licence.quantity - self.reserved - self.written_off).max(Decimal::ZERO)
    }
}

/// One item of a declaration that needs a licence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    pub item_no: u16,
    pub commodity: HsCode,
    /// The kind the declaration's direction needs.
    pub kind: LicenceKind,
    /// The licence named (`licence_no`, or an attached document of a licence code); `None`:
    /// none named.
    pub licence_no: Option<String>,
    /// The item's quantities by unit (declared, first, second).
    pub quantities: Vec<(String, Decimal)>,
}

/// The items of a declaration that need a licence: those whose tariff line lists a licence
/// document code of the declaration's kind. `codes_of` gives the tariff line's codes.
pub fn needs(decl: &Declaration, codes_of: impl Fn(HsCode) -> Option<String>) -> Vec<Need> {
    let kind = LicenceKind::for_direction(decl.direction);
    let wanted = kind.document_codes();
    let mut out = Vec::new();
    for it in &decl.items {
        let Some(codes) = codes_of(it.commodity_code) else {
            continue;
        };
        if !codes.chars().any(|c| wanted.contains(&c)) {
            continue;
        }
        let licence_no = decl.licence_no.clone().or_else(|| {
            decl.documents
                .iter()
                .find(|d| {
                    d.code.chars().count() == 1 && d.code.chars().all(|c| wanted.contains(&c))
                })
                .map(|d| d.number.clone())
        });
        let mut quantities = vec![
            (it.declared_unit.to_string(), it.declared_quantity),
            (it.first_unit.to_string(), it.first_quantity),
        ];
        if let (Some(u), Some(q)) = (it.second_unit, it.second_quantity) {
            quantities.push((u.to_string(), q));
        }
        out.push(Need {
            item_no: it.item_no,
            commodity: it.commodity_code,
            kind,
            licence_no,
            quantities,
        });
    }
    out
}

/// A quantity to reserve on a licence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub licence_no: String,
    pub quantity: Decimal,
}

/// Why review refused: a stable code, the field, and messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub field: String,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

impl Refusal {
    fn new(field: &str, code: &str, zh: String, en: String) -> Refusal {
        Refusal {
            field: field.to_owned(),
            code: code.to_owned(),
            message_zh: zh,
            message_en: en,
        }
    }
    pub fn code(&self) -> &str {
        &self.code
    }
}

/// Check the items that need a licence against the ledger on `date`: the licence exists, is of
/// the kind, held by the trader, covers the commodity, is valid on the date, counts in a unit
/// of the item, and has enough left for all items together. `standing` reads the ledger.
/// Every refusal is listed; no claim is made unless all pass.
pub fn check_licences(
    needs: &[Need],
    trader: &Uscc,
    date: NaiveDate,
    mut standing: impl FnMut(&str) -> Option<Standing>,
) -> Result<Vec<Claim>, Vec<Refusal>> {
    let f = LICENCE_FIELD;
    let mut refusals = Vec::new();
    // Per licence: the standing and the total asked.
    let mut asked: Vec<(Standing, Decimal)> = Vec::new();
    for n in needs {
        let item = n.item_no;
        let Some(no) = n.licence_no.as_deref() else {
            refusals.push(Refusal::new(
                f,
                "licence_missing",
                format!("第 {item} 项商品 {} 需要许可证", n.commodity),
                format!("item {item} ({}) needs a licence", n.commodity),
            ));
            continue;
        };
        let found = asked
            .iter()
            .map(|(s, _)| s.clone())
            .find(|s| s.licence.licence_no == no)
            .or_else(|| standing(no));
        let Some(s) = found else {
            refusals.push(Refusal::new(
                f,
                "licence_not_found",
                format!("许可证 {no} 不存在"),
                format!("licence {no} does not exist"),
            ));
            continue;
        };
        let l = &s.licence;
        let before = refusals.len();
        if l.kind != n.kind {
            refusals.push(Refusal::new(
                f,
                "licence_kind_mismatch",
                format!(
                    "许可证 {no} 不是{}许可证",
                    if n.kind == LicenceKind::Import {
                        "进口"
                    } else {
                        "出口"
                    }
                ),
                format!("licence {no} is not an {} licence", n.kind.as_str()),
            ));
        }
        if &l.holder != trader {
            refusals.push(Refusal::new(
                f,
                "licence_holder_mismatch",
                format!("许可证 {no} 的持证人不是收发货人 {trader}"),
                format!("licence {no} is not held by the trader {trader}"),
            ));
        }
        if !l.covers(&n.commodity) {
            refusals.push(Refusal::new(
                f,
                "licence_commodity_mismatch",
                format!("许可证 {no} 不包括第 {item} 项商品 {}", n.commodity),
                format!("licence {no} does not cover item {item} ({})", n.commodity),
            ));
        }
        if date < l.valid_from {
            refusals.push(Refusal::new(
                f,
                "licence_not_yet_valid",
                format!("许可证 {no} 自 {} 起有效", l.valid_from),
                format!("licence {no} is valid from {}", l.valid_from),
            ));
        }
        if date > l.valid_to {
            refusals.push(Refusal::new(
                f,
                "licence_expired",
                format!("许可证 {no} 已于 {} 到期", l.valid_to),
                format!("licence {no} expired on {}", l.valid_to),
            ));
        }
        let qty = n
            .quantities
            .iter()
            .find(|(u, _)| *u == l.unit)
            .map(|(_, q)| *q);
        let Some(qty) = qty else {
            refusals.push(Refusal::new(
                f,
                "licence_unit_mismatch",
                format!("第 {item} 项没有许可证 {no} 的计量单位 {}", l.unit),
                format!(
                    "item {item} has no quantity in the unit {} of licence {no}",
                    l.unit
                ),
            ));
            continue;
        };
        if refusals.len() > before {
            continue;
        }
        match asked.iter_mut().find(|(s, _)| s.licence.licence_no == no) {
            Some((_, total)) => *total += qty,
            None => asked.push((s, qty)),
        }
    }
    for (s, total) in &asked {
        let remaining = s.remaining();
        if *total > remaining {
            let no = &s.licence.licence_no;
            refusals.push(Refusal::new(
                f,
                "licence_exhausted",
                format!("许可证 {no} 余量 {remaining} 不足申报数量 {total}"),
                format!("licence {no} has {remaining} left, less than the {total} declared"),
            ));
        }
    }
    if refusals.is_empty() {
        Ok(asked
            .into_iter()
            .map(|(s, quantity)| Claim {
                licence_no: s.licence.licence_no,
                quantity,
            })
            .collect())
    } else {
        Err(refusals)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistryStatus {
    Active,
    Deregistered,
}

impl RegistryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistryStatus::Active => "active",
            RegistryStatus::Deregistered => "deregistered",
        }
    }
    pub fn parse(s: &str) -> Option<RegistryStatus> {
        match s {
            "active" => Some(RegistryStatus::Active),
            "deregistered" => Some(RegistryStatus::Deregistered),
            _ => None,
        }
    }
}

/// An enterprise in the market-regulation registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryEntry {
    pub uscc: Uscc,
    pub name: String,
    pub status: RegistryStatus,
}

impl RegistryEntry {
    pub fn validate(&self) -> Result<(), String> {
        if self.name.trim().is_empty() || self.name.chars().count() > NAME_CHARS_MAX {
            return Err(format!("a name has 1 to {NAME_CHARS_MAX} characters"));
        }
        Ok(())
    }
}

/// The registry check of automatic review. `enforced`: the registry is in use (has entries);
/// an empty registry checks nothing (docs/EPORT.md).
pub fn check_registry(
    trader: &Uscc,
    entry: Option<&RegistryEntry>,
    enforced: bool,
) -> Option<Refusal> {
    if !enforced {
        return None;
    }
    match entry.map(|e| e.status) {
        Some(RegistryStatus::Active) => None,
        Some(RegistryStatus::Deregistered) => Some(Refusal::new(
            TRADER_FIELD,
            "enterprise_deregistered",
            format!("企业 {trader} 已注销"),
            format!("enterprise {trader} is deregistered"),
        )),
        None => Some(Refusal::new(
            TRADER_FIELD,
            "enterprise_not_registered",
            format!("企业 {trader} 未在市场监管登记"),
            format!("enterprise {trader} is not in the market-regulation registry"),
        )),
    }
}

#[cfg(test)]
mod tests;
