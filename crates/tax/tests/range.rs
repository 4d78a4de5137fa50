//! The engine's range: amounts as large as validation lets through (10^15 in any field, 50
//! items, any charge kind, high and specific rates, tiny quantities) give an assessment or
//! `TaxError::Overflow`, never a panic; a postal article likewise. Before the range was
//! checked, `Decimal` multiplication panicked inside the engine on such declarations (one item
//! of cigarettes at 9 × 10^14 USD was enough), which a server would answer with a 500.

mod common;

use proptest::prelude::*;
use rust_decimal::Decimal;

use common::{base_declaration, d, dec, item, ItemFixture, TariffFixture, TestReference};
use domain::codes::{CurrencyCode, Direction, TransactionTerms};
use domain::declaration::{Charge, Declaration};
use domain::money::Fen;
use tax::{
    assess, assess_postal, PostalArticle, RateTable, TaxContext, TaxError, TaxPolicy,
    TradeRemedyTable, TradingCalendar,
};

fn reference() -> TestReference {
    let lines = [
        r#"{"code":"8501100000","mfn":"270%"}"#,
        r#"{"code":"3303000000","mfn":"6.5%","consumption_tax":"99.9999%"}"#,
        r#"{"code":"2203000000","mfn":"999999999/001","consumption_tax":"999999999/001"}"#,
        r#"{"code":"2402200000","mfn":"25%","consumption_tax":"T>=70:56%+0.6/001|36%+0.6/001"}"#,
        r#"{"code":"8471300000","mfn":"0%","vat":"0.09","export_duty":"0.5"}"#,
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

/// The largest amount validation accepts (`MAGNITUDE_MAX` of `domain::validate`).
const MAX: &str = "999999999999999.99";

fn run(decl: &Declaration) -> Result<tax::Assessment, TaxError> {
    let reference = reference();
    // A high rate too: yuan per 1 unit of a strong currency.
    let rates = RateTable::parse_csv("USD,2024-04-17,7.1023\nKWD,2024-04-17,9999.9999\n").unwrap();
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
    assess(decl, &ctx)
}

fn amount() -> impl Strategy<Value = Decimal> {
    prop_oneof![
        Just(dec(MAX)),
        Just(dec("0.0001")),
        (0u64..1_000_000_000_000_000).prop_map(|v| Decimal::new(v as i64, 2)),
    ]
}

fn currency() -> impl Strategy<Value = CurrencyCode> {
    prop_oneof![
        Just(CurrencyCode::CNY),
        Just(CurrencyCode::parse("USD").unwrap()),
        Just(CurrencyCode::parse("KWD").unwrap()),
    ]
}

fn charge() -> impl Strategy<Value = Option<Charge>> {
    prop_oneof![
        Just(None),
        amount().prop_map(|percent| Some(Charge::Rate { percent })),
        (amount(), currency())
            .prop_map(|(amount, currency)| Some(Charge::Total { amount, currency })),
        (amount(), currency())
            .prop_map(|(amount, currency)| Some(Charge::PerUnit { amount, currency })),
    ]
}

prop_compose! {
    fn declaration()(
        items in prop::collection::vec((0..CODES.len(), amount(), amount(), currency()), 1..=50),
        terms in 0usize..7,
        export: bool,
        freight in charge(),
        insurance in charge(),
        other in charge(),
        gross in amount(),
    ) -> Declaration {
        let items = items
            .iter()
            .enumerate()
            .map(|(i, (code, qty, total, currency))| {
                let mut it = item(
                    i as u16 + 1,
                    &ItemFixture {
                        code: CODES[*code].into(),
                        qty: "1".into(),
                        unit: "001".into(),
                        second_qty: None,
                        second_unit: None,
                        total: total.to_string(),
                        currency: currency.to_string(),
                        origin: "USA".into(),
                        treatment: "1".into(),
                        producer: None,
                        origin_proof: None,
                        quota_certificate_no: None,
                    },
                );
                it.first_quantity = *qty;
                it.declared_quantity = *qty;
                it
            })
            .collect();
        let mut decl = base_declaration(d("2024-05-10"), TransactionTerms::ALL[terms], items);
        if export {
            decl.direction = Direction::Export;
        }
        decl.freight = freight;
        decl.insurance = insurance;
        decl.other_charges = other;
        decl.gross_weight_kg = gross;
        decl
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn extreme_declarations_are_assessed_or_refused_never_a_panic(decl in declaration()) {
        // Beyond the range, or a declaration the rules refuse (missing freight, a per-unit
        // insurance, a negative value after charges), is an error, as for any input; what is
        // assessed stays within the range.
        if let Ok(a) = run(&decl) {
            let bound = Fen::yuan(tax::AMOUNT_MAX_YUAN);
            prop_assert!(a.customs_value_total_fen <= bound);
            for i in &a.items {
                for t in &i.taxes {
                    prop_assert!(t.statutory_fen <= bound, "{:?}", t);
                }
            }
        }
    }
}

fn cigarettes(n: usize) -> Declaration {
    let items = (0..n)
        .map(|i| {
            item(
                i as u16 + 1,
                &ItemFixture {
                    code: "2402200000".into(),
                    qty: "1".into(),
                    unit: "001".into(),
                    second_qty: None,
                    second_unit: None,
                    total: "900000000000000".into(),
                    currency: "USD".into(),
                    origin: "USA".into(),
                    treatment: "1".into(),
                    producer: None,
                    origin_proof: None,
                    quota_certificate_no: None,
                },
            )
        })
        .collect();
    base_declaration(d("2024-05-10"), TransactionTerms::Cif, items)
}

#[test]
fn one_huge_item_is_an_overflow_error() {
    // 9 × 10^14 USD ≈ 6.4 × 10^15 yuan, beyond the engine's 10^13.
    for n in [1, 12, 50] {
        let err = run(&cigarettes(n)).unwrap_err();
        assert!(matches!(err, TaxError::Overflow { .. }), "{n}: {err}");
        assert!(err.to_string().contains("beyond the range"), "{err}");
    }
}

#[test]
fn amounts_at_the_range_are_still_assessed() {
    // 50 items of 2 × 10^11 yuan: 10^13 in all, the largest customs value the engine takes.
    let mut decl = cigarettes(50);
    for it in &mut decl.items {
        it.total_price = dec("200000000000");
        it.currency = CurrencyCode::CNY;
    }
    let a = run(&decl).unwrap();
    assert_eq!(a.customs_value_total_fen, Fen::yuan(tax::AMOUNT_MAX_YUAN));
    // One fen more is refused.
    decl.items[0].total_price += dec("0.01");
    assert!(matches!(run(&decl), Err(TaxError::Overflow { .. })));
}

#[test]
fn a_huge_specific_rate_times_a_huge_quantity_is_an_error() {
    let mut decl = cigarettes(1);
    decl.items[0].commodity_code = domain::codes::HsCode::parse("2203000000").unwrap();
    decl.items[0].total_price = dec("1");
    decl.items[0].first_quantity = dec(MAX);
    assert!(matches!(run(&decl), Err(TaxError::Overflow { .. })));
}

#[test]
fn huge_postal_articles_are_an_error() {
    let policy = TaxPolicy::default();
    let article = PostalArticle {
        description: "钻石 diamonds".into(),
        category: 3,
        dutiable_value_yuan: Decimal::MAX,
        quantity: Decimal::MAX,
    };
    let err = assess_postal(std::slice::from_ref(&article), d("2024-05-10"), &policy).unwrap_err();
    assert!(matches!(err, TaxError::Overflow { .. }), "{err}");
    let err = assess_postal(
        &[PostalArticle {
            quantity: Decimal::ONE,
            ..article
        }],
        d("2024-05-10"),
        &policy,
    )
    .unwrap_err();
    assert!(matches!(err, TaxError::Overflow { .. }), "{err}");
}
