//! Foreign-exchange matching of goods and funds (docs/EPORT.md "Foreign exchange"). Pure.
//!
//! Banks record what they received for an enterprise's exports and paid for its imports
//! ([`BankRecord`]); customs knows the value of the goods that crossed the border. Per
//! enterprise over a period, [`match_enterprises`] compares the two and puts the enterprise in
//! a class ([`EnterpriseClass`]) by the [`ForexPolicy`]:
//!
//! - **Gap**: `|export goods − receipts| + |import goods − payments|`, in fen; receipts are
//!   matched to exports and payments to imports, never across.
//! - **Divergence**: the gap over the larger of goods and funds (both totals), in basis points
//!   (1 % = 100 bp); nothing on either side is no divergence.
//! - **Classes** ([`FOREX_POLICY`]): A up to 10 %, B up to 30 %, C beyond; a gap below the
//!   materiality threshold is class A whatever its ratio; B in
//!   [`ForexPolicy::persistent_months`] consecutive calendar months of the period makes C.
//!
//! All amounts are fen (the bank's amount converted at the customs rate by the caller).

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate};
use domain::codes::{CurrencyCode, DeclarationNo, Direction, Uscc};
use domain::money::Fen;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Refusal, NAME_CHARS_MAX};

/// At most this many characters in a bank reference.
pub const BANK_REF_CHARS_MAX: usize = 64;

/// The thresholds of the enterprise classes. Named and documented: a change here is a change
/// of policy (docs/EPORT.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ForexPolicy {
    /// Class A: a divergence up to this many basis points.
    pub class_a_divergence_bp_max: u64,
    /// Class B: up to this many; beyond is class C.
    pub class_b_divergence_bp_max: u64,
    /// A gap below this many fen is class A whatever its ratio (small enterprises, rounding).
    pub materiality_fen: i64,
    /// Class B (or worse) in this many consecutive calendar months makes class C.
    pub persistent_months: usize,
}

/// The policy in force: A ≤ 10 %, B ≤ 30 %, C beyond or B for 3 months running; gaps under
/// 1 000 yuan are not material.
pub const FOREX_POLICY: ForexPolicy = ForexPolicy {
    class_a_divergence_bp_max: 1_000,
    class_b_divergence_bp_max: 3_000,
    materiality_fen: 100_000,
    persistent_months: 3,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EnterpriseClass {
    A,
    B,
    C,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FundsKind {
    /// Export proceeds received (收汇).
    Receipt,
    /// Import payment made (付汇).
    Payment,
}

impl FundsKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FundsKind::Receipt => "receipt",
            FundsKind::Payment => "payment",
        }
    }
    pub fn parse(s: &str) -> Option<FundsKind> {
        match s {
            "receipt" => Some(FundsKind::Receipt),
            "payment" => Some(FundsKind::Payment),
            _ => None,
        }
    }
}

/// A receipt or payment recorded by a bank.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankRecord {
    /// The bank (its user's login): references are unique per bank.
    pub bank: String,
    pub bank_ref: String,
    pub kind: FundsKind,
    pub uscc: Uscc,
    /// In `currency`, above zero, at most 2 decimals.
    pub amount: Decimal,
    pub currency: CurrencyCode,
    /// `amount` in yuan at the customs rate for the value date, as fen.
    pub amount_fen: Fen,
    pub value_date: NaiveDate,
    pub declaration_no: Option<DeclarationNo>,
}

impl BankRecord {
    /// Every problem of a record about to be written.
    pub fn problems(&self) -> Vec<Refusal> {
        let mut out = Vec::new();
        let r = self.bank_ref.as_str();
        if r.trim().is_empty()
            || r.trim() != r
            || r.chars().count() > BANK_REF_CHARS_MAX
            || r.chars().any(char::is_control)
        {
            out.push(Refusal::new(
                "bank_ref",
                "invalid_bank_ref",
                format!("银行业务编号须为 1 至 {BANK_REF_CHARS_MAX} 个可见字符"),
                format!("a bank reference has 1 to {BANK_REF_CHARS_MAX} visible characters"),
            ));
        }
        if self.amount <= Decimal::ZERO || self.amount.normalize().scale() > 2 {
            out.push(Refusal::new(
                "amount",
                "invalid_amount",
                "金额须大于零，最多两位小数".into(),
                "the amount is above zero with at most 2 decimals".into(),
            ));
        } else if self.amount_fen.0 <= 0 {
            out.push(Refusal::new(
                "amount",
                "invalid_amount",
                "折合人民币金额须大于零".into(),
                "the amount in yuan must be above zero".into(),
            ));
        }
        if self.bank.trim().is_empty() || self.bank.chars().count() > NAME_CHARS_MAX {
            out.push(Refusal::new(
                "bank",
                "invalid_bank",
                "银行须有名称".into(),
                "the bank is named".into(),
            ));
        }
        out
    }
}

/// The goods of one declaration: its enterprise, direction, date and value in fen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoodsEntry {
    pub uscc: Uscc,
    pub direction: Direction,
    pub date: NaiveDate,
    pub value_fen: Fen,
}

/// Funds of one bank record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FundsEntry {
    pub uscc: Uscc,
    pub kind: FundsKind,
    pub date: NaiveDate,
    pub amount_fen: Fen,
}

impl From<&BankRecord> for FundsEntry {
    fn from(r: &BankRecord) -> Self {
        FundsEntry {
            uscc: r.uscc,
            kind: r.kind,
            date: r.value_date,
            amount_fen: r.amount_fen,
        }
    }
}

/// Goods and funds of one enterprise, in fen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Figures {
    pub export_goods_fen: i64,
    pub import_goods_fen: i64,
    pub receipts_fen: i64,
    pub payments_fen: i64,
}

impl Figures {
    fn add_goods(&mut self, g: &GoodsEntry) {
        match g.direction {
            Direction::Export => {
                self.export_goods_fen = self.export_goods_fen.saturating_add(g.value_fen.0)
            }
            Direction::Import => {
                self.import_goods_fen = self.import_goods_fen.saturating_add(g.value_fen.0)
            }
        }
    }
    fn add_funds(&mut self, f: &FundsEntry) {
        match f.kind {
            FundsKind::Receipt => {
                self.receipts_fen = self.receipts_fen.saturating_add(f.amount_fen.0)
            }
            FundsKind::Payment => {
                self.payments_fen = self.payments_fen.saturating_add(f.amount_fen.0)
            }
        }
    }

    pub fn goods_fen(&self) -> i128 {
        i128::from(self.export_goods_fen) + i128::from(self.import_goods_fen)
    }

    pub fn funds_fen(&self) -> i128 {
        i128::from(self.receipts_fen) + i128::from(self.payments_fen)
    }

    /// Exports against receipts plus imports against payments.
    pub fn gap_fen(&self) -> i128 {
        (i128::from(self.export_goods_fen) - i128::from(self.receipts_fen)).abs()
            + (i128::from(self.import_goods_fen) - i128::from(self.payments_fen)).abs()
    }

    /// The gap over the larger of goods and funds, in basis points, rounded down; 0 when
    /// both are nothing. At most 20 000 (nothing matches on either side).
    pub fn divergence_bp(&self) -> u64 {
        let base = self.goods_fen().max(self.funds_fen());
        if base <= 0 {
            return 0;
        }
        let bp = self.gap_fen() * 10_000 / base;
        u64::try_from(bp).unwrap_or(u64::MAX)
    }

    /// The class of these figures alone (no history).
    pub fn class(&self, policy: &ForexPolicy) -> EnterpriseClass {
        if self.gap_fen() < i128::from(policy.materiality_fen) {
            return EnterpriseClass::A;
        }
        // Exact: gap / base ≤ max / 10 000, compared without rounding.
        let base = self.goods_fen().max(self.funds_fen());
        let within = |bp_max: u64| self.gap_fen() * 10_000 <= i128::from(bp_max) * base;
        if within(policy.class_a_divergence_bp_max) {
            EnterpriseClass::A
        } else if within(policy.class_b_divergence_bp_max) {
            EnterpriseClass::B
        } else {
            EnterpriseClass::C
        }
    }
}

/// One enterprise's match over the period.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnterpriseMatch {
    pub uscc: Uscc,
    #[serde(flatten)]
    pub figures: Figures,
    pub gap_fen: i64,
    pub divergence_bp: u64,
    pub class: EnterpriseClass,
    /// The longest run of consecutive months of class B or worse.
    pub months_diverging: usize,
    /// Class C because of the run, not the period's ratio.
    pub persistent: bool,
}

fn month(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

/// The longest run of consecutive calendar months in which these figures are class B or worse.
fn longest_diverging_run(by_month: &BTreeMap<i32, Figures>, policy: &ForexPolicy) -> usize {
    let (mut best, mut run, mut last) = (0usize, 0usize, None::<i32>);
    for (m, f) in by_month {
        if f.class(policy) == EnterpriseClass::A {
            run = 0;
        } else {
            run = if last == Some(m - 1) { run + 1 } else { 1 };
            best = best.max(run);
        }
        last = Some(*m);
    }
    best
}

/// Match goods and funds per enterprise; the most divergent first (class C, then B, then A;
/// within a class by divergence, then USCC). Enterprises with neither goods nor funds are not
/// listed.
pub fn match_enterprises(
    goods: &[GoodsEntry],
    funds: &[FundsEntry],
    policy: &ForexPolicy,
) -> Vec<EnterpriseMatch> {
    let mut totals: BTreeMap<Uscc, (Figures, BTreeMap<i32, Figures>)> = BTreeMap::new();
    for g in goods {
        let e = totals.entry(g.uscc).or_default();
        e.0.add_goods(g);
        e.1.entry(month(g.date)).or_default().add_goods(g);
    }
    for f in funds {
        let e = totals.entry(f.uscc).or_default();
        e.0.add_funds(f);
        e.1.entry(month(f.date)).or_default().add_funds(f);
    }
    let mut out: Vec<EnterpriseMatch> = totals
        .into_iter()
        .map(|(uscc, (figures, by_month))| {
            let months_diverging = longest_diverging_run(&by_month, policy);
            let by_ratio = figures.class(policy);
            let persistent = by_ratio == EnterpriseClass::B
                && policy.persistent_months > 0
                && months_diverging >= policy.persistent_months;
            EnterpriseMatch {
                uscc,
                figures,
                gap_fen: i64::try_from(figures.gap_fen()).unwrap_or(i64::MAX),
                divergence_bp: figures.divergence_bp(),
                class: if persistent {
                    EnterpriseClass::C
                } else {
                    by_ratio
                },
                months_diverging,
                persistent,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        b.class
            .cmp(&a.class)
            .then(b.divergence_bp.cmp(&a.divergence_bp))
            .then(a.uscc.cmp(&b.uscc))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn u(i: usize) -> Uscc {
        Uscc::parse(
            [
                "91440300MA5FT3XKX8",
                "91310115MA1K4Q7B4Y",
                "91110000600037341L",
                "91310000132149237G",
            ][i],
        )
        .unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }
    fn goods(i: usize, dir: Direction, date: &str, yuan: i64) -> GoodsEntry {
        GoodsEntry {
            uscc: u(i),
            direction: dir,
            date: d(date),
            value_fen: Fen::yuan(yuan),
        }
    }
    fn funds(i: usize, kind: FundsKind, date: &str, yuan: i64) -> FundsEntry {
        FundsEntry {
            uscc: u(i),
            kind,
            date: d(date),
            amount_fen: Fen::yuan(yuan),
        }
    }
    fn class_of(m: &[EnterpriseMatch], i: usize) -> EnterpriseClass {
        m.iter().find(|e| e.uscc == u(i)).unwrap().class
    }

    #[test]
    fn classes_by_divergence() {
        use Direction::*;
        use FundsKind::*;
        let g = [
            goods(0, Export, "2025-04-01", 1_000_000),
            goods(1, Export, "2025-04-01", 1_000_000),
            goods(2, Import, "2025-04-01", 1_000_000),
            goods(3, Import, "2025-04-01", 1_000_000),
        ];
        let f = [
            // 5 %: A.
            funds(0, Receipt, "2025-04-20", 950_000),
            // 20 %: B.
            funds(1, Receipt, "2025-04-20", 800_000),
            // 50 %: C.
            funds(2, Payment, "2025-04-20", 500_000),
            // Paid, but as a receipt: nothing matches (200 %): C.
            funds(3, Receipt, "2025-04-20", 1_000_000),
        ];
        let m = match_enterprises(&g, &f, &FOREX_POLICY);
        assert_eq!(class_of(&m, 0), EnterpriseClass::A);
        assert_eq!(class_of(&m, 1), EnterpriseClass::B);
        assert_eq!(class_of(&m, 2), EnterpriseClass::C);
        assert_eq!(class_of(&m, 3), EnterpriseClass::C);
        let e = m.iter().find(|e| e.uscc == u(1)).unwrap();
        assert_eq!((e.gap_fen, e.divergence_bp), (Fen::yuan(200_000).0, 2_000));
        assert_eq!(
            m.iter().find(|e| e.uscc == u(3)).unwrap().divergence_bp,
            20_000
        );
        // C first, then B, then A.
        assert_eq!(m.last().unwrap().uscc, u(0));
        assert_eq!(m[0].class, EnterpriseClass::C);
    }

    #[test]
    fn the_boundaries_belong_to_the_better_class() {
        let f = |funds_yuan| Figures {
            export_goods_fen: Fen::yuan(1_000_000).0,
            receipts_fen: Fen::yuan(funds_yuan).0,
            ..Figures::default()
        };
        assert_eq!(f(900_000).class(&FOREX_POLICY), EnterpriseClass::A);
        assert_eq!(f(899_999).class(&FOREX_POLICY), EnterpriseClass::B);
        assert_eq!(f(700_000).class(&FOREX_POLICY), EnterpriseClass::B);
        assert_eq!(f(699_999).class(&FOREX_POLICY), EnterpriseClass::C);
    }

    #[test]
    fn small_gaps_are_not_material() {
        let f = Figures {
            export_goods_fen: Fen::yuan(900).0,
            ..Figures::default()
        };
        assert_eq!(f.divergence_bp(), 10_000);
        assert_eq!(f.class(&FOREX_POLICY), EnterpriseClass::A);
        assert_eq!(Figures::default().class(&FOREX_POLICY), EnterpriseClass::A);
    }

    #[test]
    fn class_b_three_months_running_is_c() {
        use Direction::*;
        use FundsKind::*;
        let mut g = Vec::new();
        let mut f = Vec::new();
        for m in ["2025-01", "2025-02", "2025-03"] {
            g.push(goods(0, Export, &format!("{m}-05"), 1_000_000));
            f.push(funds(0, Receipt, &format!("{m}-25"), 800_000));
        }
        let m = match_enterprises(&g, &f, &FOREX_POLICY);
        assert_eq!(
            (m[0].class, m[0].persistent, m[0].months_diverging),
            (EnterpriseClass::C, true, 3)
        );
        // A month in between without divergence breaks the run.
        g[1].date = d("2025-05-05");
        f[1].date = d("2025-05-25");
        let m = match_enterprises(&g, &f, &FOREX_POLICY);
        assert_eq!((m[0].class, m[0].persistent), (EnterpriseClass::B, false));
    }

    #[test]
    fn bank_record_problems() {
        let mut r = BankRecord {
            bank: "boc".into(),
            bank_ref: "BOC-1".into(),
            kind: FundsKind::Receipt,
            uscc: u(0),
            amount: Decimal::new(12345, 2),
            currency: CurrencyCode::parse("USD").unwrap(),
            amount_fen: Fen(88_000),
            value_date: d("2025-04-20"),
            declaration_no: None,
        };
        assert!(r.problems().is_empty());
        r.bank_ref = " ".into();
        r.amount = Decimal::new(1, 3);
        let codes: Vec<String> = r.problems().into_iter().map(|p| p.code).collect();
        assert_eq!(codes, ["invalid_bank_ref", "invalid_amount"]);
    }

    proptest! {
        /// The divergence is symmetric in goods and funds, bounded by 200 %, and the class
        /// never improves as the gap grows.
        #[test]
        fn divergence_laws(goods_fen in 0i64..1_000_000_000_000, funds_fen in 0i64..1_000_000_000_000, more in 0i64..1_000_000_000) {
            let f = Figures { export_goods_fen: goods_fen, receipts_fen: funds_fen, ..Figures::default() };
            let swapped = Figures { export_goods_fen: funds_fen, receipts_fen: goods_fen, ..Figures::default() };
            prop_assert_eq!(f.divergence_bp(), swapped.divergence_bp());
            prop_assert!(f.divergence_bp() <= 20_000);
            let (lo, hi) = (goods_fen.min(funds_fen), goods_fen.max(funds_fen));
            let wider = Figures { export_goods_fen: hi + more, receipts_fen: lo, ..Figures::default() };
            let narrower = Figures { export_goods_fen: hi, receipts_fen: lo, ..Figures::default() };
            prop_assert!(wider.class(&FOREX_POLICY) >= narrower.class(&FOREX_POLICY));
        }

        /// Splitting the same goods and funds over entries changes nothing of the totals.
        #[test]
        fn totals_do_not_depend_on_how_entries_are_split(parts in proptest::collection::vec(1i64..1_000_000, 1..20)) {
            let whole = [GoodsEntry { uscc: u(0), direction: Direction::Export, date: d("2025-04-01"), value_fen: Fen(parts.iter().sum()) }];
            let split: Vec<GoodsEntry> = parts.iter().map(|p| GoodsEntry { uscc: u(0), direction: Direction::Export, date: d("2025-04-01"), value_fen: Fen(*p) }).collect();
            let f = [FundsEntry { uscc: u(0), kind: FundsKind::Receipt, date: d("2025-04-02"), amount_fen: Fen(500_000) }];
            prop_assert_eq!(match_enterprises(&whole, &f, &FOREX_POLICY), match_enterprises(&split, &f, &FOREX_POLICY));
        }
    }
}
