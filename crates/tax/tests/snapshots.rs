//! Readable snapshots (insta) of the two worked examples of docs/DOMAIN.md §4, in text and JSON,
//! and of a postal parcel; a reviewer reads the breakdown in tests/snapshots/.

mod common;

use common::{base_declaration, d, item, ItemFixture, TariffFixture, TestReference};
use domain::codes::TransactionTerms;
use domain::declaration::Charge;
use domain::money::Fen;
use tax::fees::late_payment_surcharges;
use tax::{
    assess, assess_postal, PostalArticle, RateTable, TaxContext, TaxKind, TaxPolicy,
    TradeRemedyTable, TradingCalendar,
};

fn fixture_item(code: &str, qty: &str, total: &str, currency: &str) -> ItemFixture {
    ItemFixture {
        code: code.into(),
        qty: qty.into(),
        unit: "001".into(),
        second_qty: None,
        second_unit: None,
        total: total.into(),
        currency: currency.into(),
        origin: "USA".into(),
        treatment: "1".into(),
        producer: None,
        origin_proof: None,
        quota_certificate_no: None,
    }
}

#[test]
fn worked_examples_render() {
    let reference = TestReference {
        lines: [
            r#"{"code":"8471300000","mfn":"0%"}"#,
            r#"{"code":"3303000000","mfn":"10%","consumption_tax":"15%"}"#,
        ]
        .iter()
        .map(|l| serde_json::from_str::<TariffFixture>(l).unwrap().line())
        .collect(),
        ..Default::default()
    };
    let rates = RateTable::parse_csv("USD,2024-04-17,7.1000\n").unwrap();
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

    let mut laptops = base_declaration(
        d("2024-05-10"),
        TransactionTerms::Fob,
        vec![item(1, &fixture_item("8471300000", "100", "35000", "USD"))],
    );
    laptops.freight = Some(Charge::Total {
        amount: "1200".parse().unwrap(),
        currency: "USD".parse().unwrap(),
    });
    let a = assess(&laptops, &ctx).unwrap();
    assert_eq!(a.customs_value_total_fen, Fen(25_779_106));
    assert_eq!(a.payable(TaxKind::ImportVat), Fen(3_351_284));
    insta::assert_snapshot!("example_1_text", a.render_text());
    insta::assert_snapshot!("example_1_json", a.to_json());

    let perfume = base_declaration(
        d("2024-05-10"),
        TransactionTerms::Cif,
        vec![item(
            1,
            &fixture_item("3303000000", "1000", "200000", "CNY"),
        )],
    );
    let a = assess(&perfume, &ctx).unwrap();
    assert_eq!(a.payable(TaxKind::Duty), Fen(2_000_000));
    assert_eq!(a.payable(TaxKind::ConsumptionTax), Fen(3_882_353));
    assert_eq!(a.payable(TaxKind::ImportVat), Fen(3_364_706));
    insta::assert_snapshot!("example_2_text", a.render_text());

    // Late payment surcharge per tax, 10 days late.
    let fees = late_payment_surcharges(&a, d("2024-05-06"), d("2024-05-31"), &calendar, &policy);
    let amounts: Vec<(TaxKind, Fen)> = fees
        .iter()
        .map(|f| (f.tax.unwrap(), f.payable_fen))
        .collect();
    assert_eq!(
        amounts,
        vec![
            (TaxKind::Duty, Fen(10_000)),
            (TaxKind::ConsumptionTax, Fen(19_412)),
            (TaxKind::ImportVat, Fen(16_824))
        ]
    );
}

#[test]
fn postal_articles_by_category_with_threshold() {
    let policy = TaxPolicy::default();
    let article = |desc: &str, category: u8, value: &str| PostalArticle {
        description: desc.into(),
        category,
        dutiable_value_yuan: value.parse().unwrap(),
        quantity: "1".parse().unwrap(),
    };
    // 200 × 13 % = 26.00 + 100 × 20 % = 20.00 → 46.00 ≤ 50: not collected.
    let a = assess_postal(
        &[
            article("书 books", 1, "200"),
            article("衣服 clothes", 2, "100"),
        ],
        d("2024-05-10"),
        &policy,
    )
    .unwrap();
    assert_eq!(
        a.notice(TaxKind::PostalArticlesTax).unwrap().assessed_fen,
        Fen(4_600)
    );
    assert_eq!(a.total_payable_fen, Fen::ZERO);
    // 100.02 × 50 % = 50.01: collected; exactly 50.00 is not.
    let a = assess_postal(
        &[article("化妆品 cosmetics", 3, "100.02")],
        d("2024-05-10"),
        &policy,
    )
    .unwrap();
    assert_eq!(a.total_payable_fen, Fen(5_001));
    let a = assess_postal(
        &[article("化妆品 cosmetics", 3, "100")],
        d("2024-05-10"),
        &policy,
    )
    .unwrap();
    assert_eq!(a.total_payable_fen, Fen::ZERO);
    let a = assess_postal(
        &[
            article("烟 tobacco", 3, "300"),
            article("手表 watch", 2, "1000"),
        ],
        d("2024-05-10"),
        &policy,
    )
    .unwrap();
    assert_eq!(a.total_payable_fen, Fen(35_000));
    insta::assert_snapshot!("postal_text", a.render_text());
    assert!(assess_postal(&[article("?", 4, "1")], d("2024-05-10"), &policy).is_err());
}
