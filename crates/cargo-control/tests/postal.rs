//! Postal parcels and baggage: the personal-articles rates, the ¥50 rule, the value limit and
//! the risk screening seam.

mod common;

use cargo_control::*;
use common::*;
use domain::money::Fen;
use tax::{PostalArticle, TaxPolicy};

fn article(category: u8, value: &str, qty: &str) -> PostalArticle {
    PostalArticle {
        description: format!("category {category} article"),
        category,
        dutiable_value_yuan: value.parse().unwrap(),
        quantity: qty.parse().unwrap(),
    }
}

fn parcel(no: &str, articles: Vec<PostalArticle>) -> Parcel {
    Parcel {
        parcel_no: no.into(),
        dispatch_country: "USA".into(),
        addressee_id: "h:3f2a".into(),
        articles,
    }
}

fn decide(articles: Vec<PostalArticle>) -> PostalDecision {
    clear_parcel(
        &parcel("EMS001", articles),
        office("2244"),
        d("2024-05-06"),
        &TaxPolicy::default(),
        &PostalPolicy::default(),
        &NoScreening,
    )
    .unwrap()
}

#[test]
fn tax_by_category_and_the_fifty_yuan_rule() {
    // (articles, tax, payable)
    let cases = [
        (vec![article(1, "300", "1")], Fen::yuan(39), Fen::ZERO), // 13 %: 39 ≤ 50
        (vec![article(2, "300", "1")], Fen::yuan(60), Fen::yuan(60)), // 20 %
        (vec![article(3, "200", "1")], Fen::yuan(100), Fen::yuan(100)), // 50 %
        (vec![article(3, "100", "1")], Fen::yuan(50), Fen::ZERO), // exactly 50: not collected
        (vec![article(3, "100.02", "1")], Fen(5001), Fen(5001)),  // 50.01 collected
        (
            vec![article(1, "200", "2"), article(2, "100", "1")],
            Fen::yuan(72),
            Fen::yuan(72),
        ), // 52 + 20
    ];
    for (i, (articles, tax, payable)) in cases.into_iter().enumerate() {
        let dec = decide(articles);
        assert_eq!((dec.tax_fen, dec.payable_fen), (tax, payable), "case {i}");
        assert_eq!(dec.outcome, PostalOutcome::Released, "case {i}");
        assert_eq!(dec.kind, PostalKind::Parcel);
    }
}

#[test]
fn a_parcel_over_the_value_limit_is_held_unless_one_article() {
    let held = decide(vec![article(2, "600", "1"), article(2, "500", "1")]);
    match &held.outcome {
        PostalOutcome::Held { reasons } => assert_eq!(reasons[0].code, "over_value_limit"),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        held.payable_fen,
        Fen::yuan(220),
        "the tax is still computed"
    );
    let single = decide(vec![article(1, "5000", "1")]);
    assert_eq!(single.outcome, PostalOutcome::Released);
    assert_eq!(single.payable_fen, Fen::yuan(650));
    let two_of_one = decide(vec![article(1, "600", "2")]);
    assert!(matches!(two_of_one.outcome, PostalOutcome::Held { .. }));
}

struct HoldFrom(&'static str);

impl PostalRiskScreen for HoldFrom {
    fn screen(&self, item: &PostalItem<'_>) -> Screening {
        if item.origin == self.0 {
            Screening::Hold {
                reasons: vec![HoldReason {
                    code: "rule:R17".into(),
                    message_zh: "布控命中".into(),
                    message_en: "risk rule R17".into(),
                }],
            }
        } else {
            Screening::Clear
        }
    }
}

#[test]
fn the_risk_screen_holds_each_parcel_separately() {
    let mut other = parcel("EMS002", vec![article(2, "100", "1")]);
    other.dispatch_country = "DEU".into();
    let list = ParcelList {
        list_no: "L-1".into(),
        operator: carrier_b(),
        office: office("2244"),
        parcels: vec![parcel("EMS001", vec![article(2, "100", "1")]), other],
    };
    let decisions = clear_parcel_list(
        &list,
        d("2024-05-06"),
        &TaxPolicy::default(),
        &PostalPolicy::default(),
        &HoldFrom("USA"),
    )
    .unwrap();
    assert_eq!(decisions.len(), 2);
    assert!(
        matches!(&decisions[0].outcome, PostalOutcome::Held { reasons } if reasons[0].code == "rule:R17")
    );
    assert_eq!(decisions[1].outcome, PostalOutcome::Released);
    let empty = ParcelList {
        parcels: vec![],
        ..list
    };
    assert_eq!(
        clear_parcel_list(
            &empty,
            d("2024-05-06"),
            &TaxPolicy::default(),
            &PostalPolicy::default(),
            &NoScreening
        )
        .unwrap_err()
        .code(),
        "missing"
    );
}

#[test]
fn baggage_is_taxed_the_same_way_without_a_value_limit() {
    let decl = BaggageDeclaration {
        declaration_ref: "BG-1".into(),
        passenger_id: "h:77".into(),
        arrived_by: "CA982".into(),
        office: office("0101"),
        articles: vec![article(3, "3000", "1"), article(1, "2000", "1")],
    };
    let dec = clear_baggage(&decl, d("2024-05-06"), &TaxPolicy::default(), &NoScreening).unwrap();
    assert_eq!(dec.kind, PostalKind::Baggage);
    assert_eq!(dec.value_fen, Fen::yuan(5_000));
    assert_eq!(dec.payable_fen, Fen::yuan(1_760)); // 1,500 + 260
    assert_eq!(dec.outcome, PostalOutcome::Released);
    let held = clear_baggage(
        &decl,
        d("2024-05-06"),
        &TaxPolicy::default(),
        &HoldFrom("CA982"),
    )
    .unwrap();
    assert!(matches!(held.outcome, PostalOutcome::Held { .. }));
}

#[test]
fn bad_postal_input_is_refused() {
    let err = clear_parcel(
        &parcel("EMS001", vec![article(4, "100", "1")]),
        office("2244"),
        d("2024-05-06"),
        &TaxPolicy::default(),
        &PostalPolicy::default(),
        &NoScreening,
    )
    .unwrap_err();
    assert_eq!(err.code(), "postal_tax");
    let err = clear_parcel(
        &parcel("EMS001", vec![]),
        office("2244"),
        d("2024-05-06"),
        &TaxPolicy::default(),
        &PostalPolicy::default(),
        &NoScreening,
    )
    .unwrap_err();
    assert_eq!(err.code(), "missing");
}
