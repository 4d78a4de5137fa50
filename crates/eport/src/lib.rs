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

use chrono::{DateTime, NaiveDate, Utc};
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

/// At most this many HS codes or prefixes in a licence's commodity.
pub const COMMODITIES_MAX: usize = 20;

/// The field refusals about licences are reported on.
pub const LICENCE_FIELD: &str = "licence_no";
/// The field refusals about the registry are reported on.
pub const TRADER_FIELD: &str = "trader.uscc";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceKind {
    Import,
    Export,
    /// A tariff-quota certificate (关税配额证明): its holder's imports of the commodities it
    /// covers take the in-quota rate, up to its quantity (docs/EPORT.md "Tariff-quota
    /// certificates"). Issued by the agency that allocates the quota.
    TariffQuota,
}

impl LicenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceKind::Import => "import",
            LicenceKind::Export => "export",
            LicenceKind::TariffQuota => "tariff_quota",
        }
    }
    pub fn parse(s: &str) -> Option<LicenceKind> {
        match s {
            "import" => Some(LicenceKind::Import),
            "export" => Some(LicenceKind::Export),
            "tariff_quota" => Some(LicenceKind::TariffQuota),
            _ => None,
        }
    }
    /// The document's name in Chinese.
    pub fn name_zh(self) -> &'static str {
        match self {
            LicenceKind::Import => "进口许可证",
            LicenceKind::Export => "出口许可证",
            LicenceKind::TariffQuota => "关税配额证明",
        }
    }
    /// The document's name in English after `a`/`an`.
    pub fn name_en_with_article(self) -> &'static str {
        match self {
            LicenceKind::Import => "an import licence",
            LicenceKind::Export => "an export licence",
            LicenceKind::TariffQuota => "a tariff-quota certificate",
        }
    }
    /// The document's name in English.
    pub fn name_en(self) -> &'static str {
        match self {
            LicenceKind::Import => "import licence",
            LicenceKind::Export => "export licence",
            LicenceKind::TariffQuota => "tariff-quota certificate",
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
    /// `1` import licence and `7` automatic import licence; `4` export licence; `t` the
    /// tariff-quota certificate (named per item, `quota_certificate_no`, never required: without
    /// it the out-of-quota rate applies).
    pub fn document_codes(self) -> &'static [char] {
        match self {
            LicenceKind::Import => &['1', '7'],
            LicenceKind::Export => &['4'],
            LicenceKind::TariffQuota => &['t'],
        }
    }
}

/// A licence issued by the commerce agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licence {
    pub licence_no: String,
    pub kind: LicenceKind,
    pub holder: Uscc,
    /// An HS code or a prefix of one (2 to 10 digits), or several separated by commas (a
    /// tariff-quota certificate for wheat covers grain and flour: `1001,1101`): the commodities
    /// it covers.
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
        let prefix_ok =
            |p: &str| (2..=10).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
        if self.commodity.split(',').count() > COMMODITIES_MAX
            || !self.commodity.split(',').all(prefix_ok)
        {
            return Err(format!(
                "the commodity is an HS code or a prefix of 2 to 10 digits, or up to {COMMODITIES_MAX} of them separated by commas"
            ));
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

    /// Whether the commodity code is under one of the licence's HS codes or prefixes.
    pub fn covers(&self, code: &HsCode) -> bool {
        let code = code.to_string();
        self.commodity.split(',').any(|p| code.starts_with(p))
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
    /// The issuing agency withdrew the licence (吊销/撤销): no filing may name it and no
    /// declaration may be released on it from then on; what was written off stays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<Withdrawal>,
}

/// At most this many characters in a withdrawal's reason.
pub const REASON_CHARS_MAX: usize = 500;

/// A licence's withdrawal by its issuing agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    /// Why, in the agency's words.
    pub reason: String,
    /// When the agency withdrew it (its own record's time).
    pub withdrawn_at: DateTime<Utc>,
    /// The agency that withdrew it: the licence's issuer (`commerce`, `ndrc`).
    pub withdrawn_by: String,
}

impl Withdrawal {
    /// Whether the withdrawal is well formed: a reason of 1 to [`REASON_CHARS_MAX`] characters,
    /// no control characters but line breaks.
    pub fn problems(&self) -> Vec<Refusal> {
        let r = self.reason.trim();
        if r.is_empty()
            || self.reason.chars().count() > REASON_CHARS_MAX
            || self.reason.chars().any(|c| c.is_control() && c != '\n')
        {
            return vec![Refusal::new(
                "reason",
                "bad_reason",
                format!("撤销原因须为 1 至 {REASON_CHARS_MAX} 个字符"),
                format!("the reason has 1 to {REASON_CHARS_MAX} characters"),
            )];
        }
        Vec::new()
    }
}

/// Decide a licence's withdrawal by `agency` on the ledger as it stands (`None`: no such
/// licence): only its issuer withdraws it, and only once. The refusal's code says which:
/// `licence_not_found`, `not_issuer`, `licence_already_withdrawn` (or a bad reason).
pub fn withdraw(standing: Option<&Standing>, no: &str, w: &Withdrawal) -> Result<(), Refusal> {
    if let Some(p) = w.problems().into_iter().next() {
        return Err(p);
    }
    let Some(s) = standing else {
        return Err(Refusal::new(
            LICENCE_FIELD,
            "licence_not_found",
            format!("许可证 {no} 不存在"),
            format!("licence {no} does not exist"),
        ));
    };
    if !s.licence.issued_by.eq_ignore_ascii_case(&w.withdrawn_by) {
        return Err(Refusal::new(
            LICENCE_FIELD,
            "not_issuer",
            format!(
                "许可证 {no} 由 {} 签发，只有签发机构可以撤销",
                s.licence.issued_by
            ),
            format!(
                "licence {no} was issued by {}: only its issuer withdraws it",
                s.licence.issued_by
            ),
        ));
    }
    if let Some(before) = &s.withdrawn {
        return Err(Refusal::new(
            LICENCE_FIELD,
            "licence_already_withdrawn",
            format!("许可证 {no} 已于 {} 撤销", before.withdrawn_at.to_rfc3339()),
            format!(
                "licence {no} was withdrawn already, at {}",
                before.withdrawn_at.to_rfc3339()
            ),
        ));
    }
    Ok(())
}

/// Why a declaration's reserved use of a withdrawn licence cannot be written off (its release
/// is refused); `None` when the licence stands.
pub fn write_off_refusal(s: &Standing) -> Option<Refusal> {
    let w = s.withdrawn.as_ref()?;
    let no = &s.licence.licence_no;
    let (zh, en) = (s.licence.kind.name_zh(), s.licence.kind.name_en());
    Some(Refusal::new(
        LICENCE_FIELD,
        "licence_withdrawn",
        format!(
            "{zh} {no} 已于 {} 被签发机构撤销（{}），报关单不能放行、不能核销",
            w.withdrawn_at.to_rfc3339(),
            w.reason
        ),
        format!(
            "{en} {no} was withdrawn by its issuer at {} ({}): the declaration cannot be released or written off against it",
            w.withdrawn_at.to_rfc3339(),
            w.reason
        ),
    ))
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

/// The items of an import declaration that name a tariff-quota certificate
/// (`quota_certificate_no`): each asks the certificate for its legal first quantity, the unit
/// quota certificates count in (the tariff's legal unit). Items without one take the
/// out-of-quota rate and ask nothing.
pub fn quota_needs(decl: &Declaration) -> Vec<Need> {
    if decl.direction != Direction::Import {
        return Vec::new();
    }
    decl.items
        .iter()
        .filter_map(|it| {
            Some(Need {
                item_no: it.item_no,
                commodity: it.commodity_code,
                kind: LicenceKind::TariffQuota,
                licence_no: Some(it.quota_certificate_no.clone()?),
                quantities: vec![(it.first_unit.to_string(), it.first_quantity)],
            })
        })
        .collect()
}

/// The field a refusal about item `item_no`'s tariff-quota certificate is reported on.
pub fn quota_field(item_no: u16) -> String {
    format!("items[{}].quota_certificate_no", item_no.saturating_sub(1))
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
    standing: impl FnMut(&str) -> Option<Standing>,
) -> Result<Vec<Claim>, Vec<Refusal>> {
    check(needs, trader, date, standing, &Words::LICENCE)
}

/// Check the items that name a tariff-quota certificate ([`quota_needs`]) the same way as
/// licences: the certificate exists and is one, is held by the trader, covers the commodity, is
/// valid on the date, counts in the item's legal unit, and has balance enough for every item
/// naming it. A filing over the balance is refused whole (code
/// `quota_certificate_exhausted`): the excess is declared as an item of its own without the
/// certificate, at the out-of-quota rate. Refusals are on `items[N].quota_certificate_no`.
pub fn check_quota_certificates(
    needs: &[Need],
    trader: &Uscc,
    date: NaiveDate,
    standing: impl FnMut(&str) -> Option<Standing>,
) -> Result<Vec<Claim>, Vec<Refusal>> {
    check(needs, trader, date, standing, &Words::QUOTA)
}

/// How refusals name the document they are about.
struct Words {
    /// The code prefix (`licence`, `quota_certificate`).
    code: &'static str,
    zh: &'static str,
    en: &'static str,
    /// Refusals on the item's own field rather than the header's `licence_no`.
    per_item: bool,
    /// What to do with the excess, said with an exhausted balance.
    excess_zh: &'static str,
    excess_en: &'static str,
}

impl Words {
    const LICENCE: Words = Words {
        code: "licence",
        zh: "许可证",
        en: "licence",
        per_item: false,
        excess_zh: "",
        excess_en: "",
    };
    const QUOTA: Words = Words {
        code: "quota_certificate",
        zh: "关税配额证明",
        en: "tariff-quota certificate",
        per_item: true,
        excess_zh: "；超出部分请另列一项、不填关税配额证明，按关税配额外税率申报",
        excess_en: "; declare the excess as an item of its own without the certificate, at the out-of-quota rate",
    };

    fn field(&self, item_no: u16) -> String {
        if self.per_item {
            quota_field(item_no)
        } else {
            LICENCE_FIELD.to_owned()
        }
    }

    fn refusal(&self, item_no: u16, code: &str, zh: String, en: String) -> Refusal {
        Refusal {
            field: self.field(item_no),
            code: format!("{}_{code}", self.code),
            message_zh: zh,
            message_en: en,
        }
    }
}

fn check(
    needs: &[Need],
    trader: &Uscc,
    date: NaiveDate,
    mut standing: impl FnMut(&str) -> Option<Standing>,
    w: &Words,
) -> Result<Vec<Claim>, Vec<Refusal>> {
    let (dz, de) = (w.zh, w.en);
    let mut refusals = Vec::new();
    // Per licence: the standing, the total asked and the first item asking.
    let mut asked: Vec<(Standing, Decimal, u16)> = Vec::new();
    for n in needs {
        let item = n.item_no;
        let Some(no) = n.licence_no.as_deref() else {
            refusals.push(w.refusal(
                item,
                "missing",
                format!("第 {item} 项商品 {} 需要{dz}", n.commodity),
                format!("item {item} ({}) needs a {de}", n.commodity),
            ));
            continue;
        };
        let found = asked
            .iter()
            .map(|(s, _, _)| s.clone())
            .find(|s| s.licence.licence_no == no)
            .or_else(|| standing(no));
        let Some(s) = found else {
            refusals.push(w.refusal(
                item,
                "not_found",
                format!("{dz} {no} 不存在"),
                format!("{de} {no} does not exist"),
            ));
            continue;
        };
        let l = &s.licence;
        let before = refusals.len();
        if let Some(wd) = &s.withdrawn {
            refusals.push(w.refusal(
                item,
                "withdrawn",
                format!(
                    "{dz} {no} 已于 {} 被签发机构撤销：{}",
                    wd.withdrawn_at.to_rfc3339(),
                    wd.reason
                ),
                format!(
                    "{de} {no} was withdrawn by its issuer at {}: {}",
                    wd.withdrawn_at.to_rfc3339(),
                    wd.reason
                ),
            ));
            continue;
        }
        if l.kind != n.kind {
            refusals.push(w.refusal(
                item,
                "kind_mismatch",
                format!("{dz} {no} 不是{}", n.kind.name_zh()),
                format!("{de} {no} is not {}", n.kind.name_en_with_article()),
            ));
        }
        if &l.holder != trader {
            refusals.push(w.refusal(
                item,
                "holder_mismatch",
                format!("{dz} {no} 的持证人不是收发货人 {trader}"),
                format!("{de} {no} is not held by the trader {trader}"),
            ));
        }
        if !l.covers(&n.commodity) {
            refusals.push(w.refusal(
                item,
                "commodity_mismatch",
                format!("{dz} {no} 不包括第 {item} 项商品 {}", n.commodity),
                format!("{de} {no} does not cover item {item} ({})", n.commodity),
            ));
        }
        if date < l.valid_from {
            refusals.push(w.refusal(
                item,
                "not_yet_valid",
                format!("{dz} {no} 自 {} 起有效", l.valid_from),
                format!("{de} {no} is valid from {}", l.valid_from),
            ));
        }
        if date > l.valid_to {
            refusals.push(w.refusal(
                item,
                "expired",
                format!("{dz} {no} 已于 {} 到期", l.valid_to),
                format!("{de} {no} expired on {}", l.valid_to),
            ));
        }
        let qty = n
            .quantities
            .iter()
            .find(|(u, _)| *u == l.unit)
            .map(|(_, q)| *q);
        let Some(qty) = qty else {
            refusals.push(w.refusal(
                item,
                "unit_mismatch",
                format!("第 {item} 项没有{dz} {no} 的计量单位 {}", l.unit),
                format!(
                    "item {item} has no quantity in the unit {} of {de} {no}",
                    l.unit
                ),
            ));
            continue;
        };
        if refusals.len() > before {
            continue;
        }
        match asked
            .iter_mut()
            .find(|(s, _, _)| s.licence.licence_no == no)
        {
            Some((_, total, _)) => *total += qty,
            None => asked.push((s, qty, item)),
        }
    }
    for (s, total, item) in &asked {
        let remaining = s.remaining();
        if *total > remaining {
            let no = &s.licence.licence_no;
            refusals.push(w.refusal(
                *item,
                "exhausted",
                format!(
                    "{dz} {no} 余量 {remaining} 不足申报数量 {total}{}",
                    w.excess_zh
                ),
                format!(
                    "{de} {no} has {remaining} left, less than the {total} declared{}",
                    w.excess_en
                ),
            ));
        }
    }
    if refusals.is_empty() {
        Ok(asked
            .into_iter()
            .map(|(s, quantity, _)| Claim {
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
