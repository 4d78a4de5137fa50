//! Laws of the engine, checked on generated declarations: no negative tax; the total is the sum
//! of the notices; a higher value never gives a lower duty under an ad valorem rate; every
//! rounding step is within half a fen of its exact value.

mod common;

use proptest::prelude::*;
use rust_decimal::Decimal;

use common::{base_declaration, d, item, ItemFixture, TariffFixture, TestReference};
use domain::codes::TransactionTerms;
use domain::declaration::{Charge, Declaration};
use domain::money::Fen;
use tax::{
    assess, Assessment, RateTable, TaxContext, TaxKind, TaxPolicy, TradeRemedyTable,
    TradingCalendar,
};

fn reference() -> TestReference {
    let lines = [
        r#"{"code":"8501100000","mfn":"10%"}"#,
        r#"{"code":"3303000000","mfn":"6.5%","consumption_tax":"15%"}"#,
        r#"{"code":"2203000000","mfn":"3.5/001","consumption_tax":"220/001"}"#,
        r#"{"code":"2402200000","mfn":"25%","consumption_tax":"T>=70:56%+0.6/001|36%+0.6/001"}"#,
        r#"{"code":"8471300000","mfn":"0%","vat":"0.09"}"#,
    ];
    TestReference {
        lines: lines
            .iter()
            .map(|l| serde_json::from_str::<TariffFixture>(l).unwrap().line())
            .collect(),
        ..Default::default()
    }
}

const CODES: [&str; 5] = [
    "8501100000",
    "3303000000",
    "2203000000",
    "2402200000",
    "8471300000",
];

fn declaration(
    items: &[(usize, u64, u64, bool)],
    terms: usize,
    freight_fen: u64,
    treatment: u8,
) -> Declaration {
    let items = items
        .iter()
        .enumerate()
        .map(|(i, (code, qty, total_fen, usd))| {
            item(
                i as u16 + 1,
                &ItemFixture {
                    code: CODES[*code].into(),
                    qty: qty.to_string(),
                    unit: "001".into(),
                    second_qty: None,
                    second_unit: None,
                    total: Decimal::new(*total_fen as i64, 2).to_string(),
                    currency: if *usd { "USD" } else { "CNY" }.into(),
                    origin: "USA".into(),
                    treatment: ["1", "2", "3"][treatment as usize].into(),
                    producer: None,
                    origin_proof: None,
                    quota_certificate_no: None,
                },
            )
        })
        .collect();
    let terms = [
        TransactionTerms::Cif,
        TransactionTerms::Cfr,
        TransactionTerms::Fob,
        TransactionTerms::Exw,
    ][terms];
    let mut decl = base_declaration(d("2024-05-10"), terms, items);
    decl.freight = Some(Charge::Total {
        amount: Decimal::new(freight_fen as i64, 2),
        currency: domain::codes::CurrencyCode::CNY,
    });
    decl
}

fn run(decl: &Declaration) -> Assessment {
    let reference = reference();
    let rates = RateTable::parse_csv("USD,2024-04-17,7.1023\n").unwrap();
    let calendar = TradingCalendar::china();
    let remedies = TradeRemedyTable::default();
    let policy = TaxPolicy::default();
    let ctx = TaxContext {
        reference: &reference,
        rates: &rates,
        calendar: &calendar,
        remedies: &remedies,
        policy: &policy,
        tax_date: None,
        ecommerce_buyer: None,
    };
    assess(decl, &ctx).expect("generated declarations are assessable")
}

fn items() -> impl Strategy<Value = Vec<(usize, u64, u64, bool)>> {
    prop::collection::vec(
        (
            0..CODES.len(),
            1u64..5_000,
            0u64..2_000_000_000,
            any::<bool>(),
        ),
        1..8,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn no_negative_tax_and_total_is_sum_of_notices(items in items(), terms in 0usize..4, freight in 0u64..50_000_000, treatment in 0u8..3) {
        let a = run(&declaration(&items, terms, freight, treatment));
        let mut sum = Fen::ZERO;
        for n in &a.notices {
            prop_assert!(n.payable_fen.0 >= 0 && n.assessed_fen.0 >= 0);
            sum += n.payable_fen;
        }
        prop_assert_eq!(sum, a.total_payable_fen);
        for i in &a.items {
            prop_assert!(i.customs_value_fen.0 >= 0);
            for t in &i.taxes {
                prop_assert!(t.statutory_fen.0 >= 0 && t.payable_fen.0 >= 0 && t.payable_fen <= t.statutory_fen);
            }
        }
    }

    #[test]
    fn rounding_is_within_half_a_fen(items in items(), terms in 0usize..4, freight in 0u64..50_000_000, treatment in 0u8..3) {
        let a = run(&declaration(&items, terms, freight, treatment));
        let half = Decimal::new(5, 3);
        for s in a.header_steps.iter().chain(a.items.iter().flat_map(|i| i.steps.iter())) {
            if let Some(r) = s.rounded_fen {
                // Item customs values are apportioned (largest remainder), not rounded alone.
                if s.rule == "value.item" || s.rule == "value.apportionment" { continue; }
                prop_assert!((r.to_yuan() - s.exact).abs() <= half, "{} {} {}", s.rule, s.exact, r);
            }
        }
        // Apportioned values sum to the rounded total, each within one fen of its exact share.
        let sum: Fen = a.items.iter().map(|i| i.customs_value_fen).sum();
        let total = a.header_steps.iter().find(|s| s.rule == "value.total").unwrap();
        prop_assert_eq!(Some(sum), total.rounded_fen);
    }

    #[test]
    fn higher_value_never_lowers_ad_valorem_duty(qty in 1u64..1000, low in 0u64..1_000_000_000, extra in 0u64..1_000_000_000, terms in 0usize..4) {
        let d1 = declaration(&[(0, qty, low, false)], terms, 10_000, 0);
        let d2 = declaration(&[(0, qty, low + extra, false)], terms, 10_000, 0);
        let (a1, a2) = (run(&d1), run(&d2));
        let duty = |a: &Assessment| a.items[0].taxes.iter().find(|t| t.kind == TaxKind::Duty).unwrap().statutory_fen;
        prop_assert!(duty(&a2) >= duty(&a1));
        prop_assert!(a2.items[0].customs_value_fen >= a1.items[0].customs_value_fen);
    }
}

/// The same laws for the other two paths: exports (export duty on FOB ÷ (1 + rate)) and
/// cross-border e-commerce retail imports (within the limits and beyond, by the history).
fn run_other(decl: &Declaration, history_fen: i64) -> Assessment {
    let lines = [
        r#"{"code":"8501100000","mfn":"10%","export_duty":"0.2"}"#,
        r#"{"code":"3303000000","mfn":"6.5%","consumption_tax":"15%","export_duty":"0.4"}"#,
        r#"{"code":"2203000000","mfn":"3.5/001","consumption_tax":"220/001"}"#,
        r#"{"code":"2402200000","mfn":"25%","consumption_tax":"T>=70:56%+0.6/001|36%+0.6/001"}"#,
        r#"{"code":"8471300000","mfn":"0%","vat":"0.09"}"#,
    ];
    let reference = TestReference {
        lines: lines
            .iter()
            .map(|l| serde_json::from_str::<TariffFixture>(l).unwrap().line())
            .collect(),
        ..Default::default()
    };
    let rates = RateTable::parse_csv("USD,2024-04-17,7.1023\n").unwrap();
    let calendar = TradingCalendar::china();
    let remedies = TradeRemedyTable::default();
    let policy = TaxPolicy::default();
    let history = tax::EcommerceHistory {
        purchases: vec![tax::Purchase {
            person_id: "passport:E1".into(),
            date: common::d("2024-02-01"),
            value_fen: Fen(history_fen),
        }],
    };
    let ctx = TaxContext {
        reference: &reference,
        rates: &rates,
        calendar: &calendar,
        remedies: &remedies,
        policy: &policy,
        tax_date: None,
        ecommerce_buyer: Some(tax::EcommerceBuyer {
            person_id: "passport:E1",
            history: &history,
        }),
    };
    assess(decl, &ctx).expect("generated declarations are assessable")
}

fn check_laws(a: &Assessment) -> Result<(), TestCaseError> {
    let mut sum = Fen::ZERO;
    for n in &a.notices {
        prop_assert!(n.payable_fen.0 >= 0 && n.assessed_fen.0 >= 0);
        sum += n.payable_fen;
    }
    prop_assert_eq!(sum, a.total_payable_fen);
    let half = Decimal::new(5, 3);
    for i in &a.items {
        for t in &i.taxes {
            prop_assert!(t.statutory_fen.0 >= 0 && t.payable_fen.0 >= 0);
            prop_assert!(t.payable_fen <= t.statutory_fen);
        }
        for s in &i.steps {
            if let Some(r) = s.rounded_fen {
                if s.rule == "value.item" {
                    continue;
                }
                prop_assert!(
                    (r.to_yuan() - s.exact).abs() <= half,
                    "{} {} {}",
                    s.rule,
                    s.exact,
                    r
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn laws_hold_for_exports(items in items(), terms in 0usize..4, freight in 0u64..5_000_000) {
        let mut decl = declaration(&items, terms, freight, 0);
        decl.direction = domain::codes::Direction::Export;
        // Freight deducted under CIF/C&F must not exceed the price: keep it small.
        decl.freight = Some(Charge::Rate { percent: Decimal::new(1, 0) });
        let a = run_other(&decl, 0);
        check_laws(&a)?;
        prop_assert!(a.notices.iter().all(|n| n.kind == TaxKind::ExportDuty));
    }

    #[test]
    fn laws_hold_for_ecommerce(
        // Small purchases, so that both sides of the ¥5,000 and ¥26,000 limits come up.
        items in prop::collection::vec((0..CODES.len(), 1u64..20, 1u64..300_000, any::<bool>()), 1..3),
        history in 0i64..3_000_000,
        treatment in 0u8..3,
    ) {
        let mut decl = declaration(&items, 0, 0, treatment);
        decl.trade_mode = domain::codes::TradeMode::parse("9610").unwrap();
        let a = run_other(&decl, history);
        check_laws(&a)?;
        // Within the limits, no duty is paid.
        if let tax::Regime::CrossBorderEcommerce { within_limits: true, .. } = a.regime {
            prop_assert!(a.notices.iter().all(|n| n.kind != TaxKind::Duty || n.payable_fen.is_zero()));
        }
    }
}
