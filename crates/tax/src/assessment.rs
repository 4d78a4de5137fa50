//! The output of the engine: an [`Assessment`] with one [`PaymentNotice`] per tax kind and a
//! per-item breakdown of [`Step`]s, as JSON (serde) and as readable text ([`Assessment::render_text`]).

use std::fmt;
use std::fmt::Write as _;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Serialize;

use domain::codes::{Direction, HsCode};
use domain::money::Fen;

use crate::rates::RateUsed;

/// A kind of tax; one payment notice (缴款书) each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TaxKind {
    Duty,
    AntiDumpingDuty,
    CountervailingDuty,
    SafeguardDuty,
    ExportDuty,
    ConsumptionTax,
    ImportVat,
    PostalArticlesTax,
}

impl TaxKind {
    pub fn name_zh(self) -> &'static str {
        match self {
            TaxKind::Duty => "进口关税",
            TaxKind::AntiDumpingDuty => "反倾销税",
            TaxKind::CountervailingDuty => "反补贴税",
            TaxKind::SafeguardDuty => "保障措施关税",
            TaxKind::ExportDuty => "出口关税",
            TaxKind::ConsumptionTax => "进口环节消费税",
            TaxKind::ImportVat => "进口环节增值税",
            TaxKind::PostalArticlesTax => "行邮税",
        }
    }
    pub fn name_en(self) -> &'static str {
        match self {
            TaxKind::Duty => "import duty",
            TaxKind::AntiDumpingDuty => "anti-dumping duty",
            TaxKind::CountervailingDuty => "countervailing duty",
            TaxKind::SafeguardDuty => "safeguard duty",
            TaxKind::ExportDuty => "export duty",
            TaxKind::ConsumptionTax => "consumption tax",
            TaxKind::ImportVat => "import VAT",
            TaxKind::PostalArticlesTax => "postal articles tax",
        }
    }
}

/// One step of a computation: what was computed, how, the exact value and, when the step
/// produces an amount of money, the value rounded to the fen (half up).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Stable code of the rule (`value.insurance_unknown`, `duty.ad_valorem`, ...).
    pub rule: &'static str,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// The formula with the numbers filled in: kept as its parts (the numbers themselves) and
    /// written out as text only when displayed or serialized (see [`Formula`]).
    pub formula: Formula,
    /// The exact result (yuan, a rate or a count, as the rule says).
    pub exact: Decimal,
    /// The result rounded to the fen, when it is an amount that later steps use.
    pub rounded_fen: Option<Fen>,
}

/// One part of a [`Formula`]: literal text, or a number written the way the formula shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Literal text.
    Lit(&'static str),
    /// Owned text (rare: formulas whose shape is decided at run time).
    Text(String),
    /// A number, normalized and cut to 6 decimal places (marked `≈` when cut).
    Num(Decimal),
    /// A rate shown as a percentage (`0.13` → `13%`).
    Percent(Decimal),
    /// A decimal as it is (`Display`, trailing zeros kept).
    Plain(Decimal),
    /// An amount of money in fen, shown in yuan.
    Fen(Fen),
    /// A currency code.
    Currency(domain::codes::CurrencyCode),
    /// A unit of measure code.
    Unit(domain::codes::UnitCode),
    /// A count.
    Count(usize),
}

/// The formula of a [`Step`] with the numbers filled in. Building it on every assessment only
/// stores the numbers; the text is written when the step is displayed (`render_text`) or
/// serialized (`to_json`, as a string), and is the same text either way.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Formula(pub Vec<Part>);

impl Formula {
    pub fn text(&self) -> String {
        self.to_string()
    }
}

impl From<String> for Formula {
    fn from(s: String) -> Self {
        Formula(vec![Part::Text(s)])
    }
}

impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in &self.0 {
            match p {
                Part::Lit(s) => f.write_str(s)?,
                Part::Text(s) => f.write_str(s)?,
                Part::Num(d) => write_num(f, *d)?,
                Part::Percent(r) => write!(f, "{}%", (*r * Decimal::ONE_HUNDRED).normalize())?,
                Part::Plain(d) => write!(f, "{d}")?,
                Part::Fen(x) => write!(f, "{x}")?,
                Part::Currency(c) => write!(f, "{c}")?,
                Part::Unit(u) => write!(f, "{u}")?,
                Part::Count(n) => write!(f, "{n}")?,
            }
        }
        Ok(())
    }
}

/// A number for a formula: normalized, and at most 6 decimal places (marked `≈` when cut; the
/// step's `exact` field keeps every digit).
pub(crate) fn write_num(f: &mut impl fmt::Write, d: Decimal) -> fmt::Result {
    let short = d.round_dp(6);
    if short == d {
        write!(f, "{}", d.normalize())
    } else {
        write!(f, "≈{}", short.normalize())
    }
}

impl Serialize for Formula {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A tax of one item: the statutory amount, and what is payable after relief.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ItemTax {
    pub kind: TaxKind,
    pub statutory_fen: Fen,
    pub payable_fen: Fen,
}

/// A tariff measure applied to an item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MeasureApplied {
    pub kind: TaxKind,
    /// `mfn`, `provisional`, `agreement:RCEP`, `general`, `anti_dumping`, `consumption_tax`,
    /// `vat`, `ecommerce_zero_duty`, `postal_category_2` ...
    pub measure: String,
    /// The rate in tariff text form (`10%`, `3.5/095`, `10%+3.5/095`).
    pub rate: String,
    /// Why this measure (origin, candidates compared, producer).
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ItemAssessment {
    pub item_no: u16,
    pub commodity_code: Option<HsCode>,
    pub name: String,
    pub origin: Option<String>,
    pub duty_treatment: Option<String>,
    /// Customs value (import), or export customs value FOB ÷ (1 + rate) (export), in fen.
    pub customs_value_fen: Fen,
    pub measures: Vec<MeasureApplied>,
    pub steps: Vec<Step>,
    pub taxes: Vec<ItemTax>,
}

impl ItemAssessment {
    pub fn payable(&self, kind: TaxKind) -> Fen {
        self.taxes
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| t.payable_fen)
            .sum()
    }
}

/// One payment notice 缴款书 per tax kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PaymentNotice {
    pub kind: TaxKind,
    pub label_zh: &'static str,
    pub label_en: &'static str,
    /// The sum of the items' payable amounts.
    pub assessed_fen: Fen,
    /// What is to be paid: `assessed_fen`, or zero when the de minimis rule waives it.
    pub payable_fen: Fen,
    /// Why nothing is payable, if so (`de_minimis: 50.00 ≤ 50.00`).
    pub waived: Option<String>,
    /// (item number, payable amount) for every item with a non-zero amount.
    pub items: Vec<(u16, Fen)>,
}

/// Which taxation regime applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Regime {
    General,
    CrossBorderEcommerce {
        person_id: String,
        transaction_value_fen: Fen,
        /// Purchases of the person earlier in the same calendar year.
        annual_before_fen: Fen,
        within_limits: bool,
        reason: String,
    },
    PostalArticles,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Assessment {
    pub direction: Direction,
    pub regime: Regime,
    pub declaration_date: NaiveDate,
    /// The date whose tariff lines and exchange rates were used.
    pub tax_date: NaiveDate,
    /// `FOB (3)` etc.; `None` for postal articles.
    pub transaction_terms: Option<String>,
    pub exchange_rates: Vec<RateUsed>,
    /// Declaration-level steps: goods value, freight, insurance, other charges, apportionment.
    pub header_steps: Vec<Step>,
    /// Sum of the items' customs values.
    pub customs_value_total_fen: Fen,
    pub items: Vec<ItemAssessment>,
    pub notices: Vec<PaymentNotice>,
    pub total_payable_fen: Fen,
    pub notes: Vec<String>,
}

impl Assessment {
    pub fn notice(&self, kind: TaxKind) -> Option<&PaymentNotice> {
        self.notices.iter().find(|n| n.kind == kind)
    }

    /// The payable amount of one kind (zero when there is no notice).
    pub fn payable(&self, kind: TaxKind) -> Fen {
        self.notice(kind).map_or(Fen::ZERO, |n| n.payable_fen)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("an assessment serializes")
    }

    /// A readable bilingual form an officer and an enterprise can check line by line.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "税费计算 Tax assessment");
        let _ = writeln!(
            out,
            "方向 Direction: {} {} | 申报日期 Declaration date: {} | 计税日期 Tax date: {}",
            self.direction.name_zh(),
            self.direction,
            self.declaration_date,
            self.tax_date
        );
        match &self.regime {
            Regime::General => {
                let _ = writeln!(out, "征税方式 Regime: 一般贸易 general taxation");
            }
            Regime::CrossBorderEcommerce {
                person_id,
                transaction_value_fen,
                annual_before_fen,
                within_limits,
                reason,
            } => {
                let _ = writeln!(
                    out,
                    "征税方式 Regime: 跨境电商零售进口 cross-border e-commerce retail; 购买人 buyer {person_id}; 本次交易 transaction {transaction_value_fen}; 年度已购 earlier this year {annual_before_fen}; {} ({reason})",
                    if *within_limits { "限值以内 within limits" } else { "超出限值 beyond limits" }
                );
            }
            Regime::PostalArticles => {
                let _ = writeln!(
                    out,
                    "征税方式 Regime: 行邮物品 personal postal articles and baggage"
                );
            }
        }
        if let Some(terms) = &self.transaction_terms {
            let _ = writeln!(out, "成交方式 Transaction terms: {terms}");
        }
        if !self.exchange_rates.is_empty() {
            let _ = writeln!(out, "\n汇率 Exchange rates");
            for r in &self.exchange_rates {
                let _ = writeln!(
                    out,
                    "  {} {} = CNY {} ({}; {})",
                    r.quoted.units,
                    r.currency,
                    r.quoted.yuan,
                    r.rate_date,
                    r.rule.describe()
                );
            }
        }
        if !self.header_steps.is_empty() {
            let _ = writeln!(out, "\n完税价格 Customs value");
            for s in &self.header_steps {
                write_step(&mut out, s);
            }
        }
        for item in &self.items {
            let _ = writeln!(
                out,
                "\n商品 Item {}: {} {} | 原产地 origin {} | 征免 treatment {} | 完税价格 customs value {}",
                item.item_no,
                item.commodity_code.map(|c| c.to_string()).unwrap_or_default(),
                item.name,
                item.origin.as_deref().unwrap_or("-"),
                item.duty_treatment.as_deref().unwrap_or("-"),
                item.customs_value_fen
            );
            for m in &item.measures {
                let _ = writeln!(
                    out,
                    "  税率 rate [{} {}] {} {} — {}",
                    m.kind.name_zh(),
                    m.kind.name_en(),
                    m.measure,
                    m.rate,
                    m.reason
                );
            }
            for s in &item.steps {
                write_step(&mut out, s);
            }
        }
        let _ = writeln!(out, "\n缴款书 Payment notices");
        for n in &self.notices {
            let waived = n
                .waived
                .as_deref()
                .map(|w| format!(" (免征 not collected: {w})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} {}: 应征 assessed {} → 实征 payable {}{}",
                n.label_zh, n.label_en, n.assessed_fen, n.payable_fen, waived
            );
        }
        let _ = writeln!(out, "合计 Total payable: {}", self.total_payable_fen);
        for note in &self.notes {
            let _ = writeln!(out, "注 Note: {note}");
        }
        out
    }
}

fn write_step(out: &mut String, s: &Step) {
    let rounded = s.rounded_fen.map(|f| format!(" → {f}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "  {} {}: {}{}",
        s.label_zh, s.label_en, s.formula, rounded
    );
}
