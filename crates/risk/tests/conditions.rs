//! Each condition kind, the operators, and/or/not, and absent values, through one `check`.

mod common;
use common::*;

/// Each case: a condition and whether it fires on the one-item laptop import
/// (8471300000 from USA, 100 × USD 350 at 7.1 → CNY 2,485 each, 150 kg).
fn check(cases: &[(&str, bool)]) {
    check_on(&laptops(), cases);
}

fn check_on(d: &domain::declaration::Declaration, cases: &[(&str, bool)]) {
    for (when, expected) in cases {
        assert_eq!(fires(when, d), *expected, "`{when}`");
    }
}

#[test]
fn commodity_prefix_and_exact() {
    check(&[
        (r#"commodity ^= "8471""#, true),
        (r#"commodity ^= "84""#, true),
        (r#"commodity ^= "847130""#, true),
        (r#"commodity ^= "8472""#, false),
        (r#"commodity = "8471300000""#, true),
        (r#"commodity != "8471300000""#, false),
        (r#"commodity in ["8471300000", "8517130000"]"#, true),
        (r#"commodity not in ["8471300000"]"#, false),
    ]);
}

#[test]
fn origin_and_countries() {
    check(&[
        (r#"origin = "USA""#, true),
        (r#"origin = "usa""#, true),
        (r#"origin in ["JPN", "USA"]"#, true),
        (r#"origin in ["JPN", "KOR"]"#, false),
        (r#"origin != "JPN""#, true),
        (r#"destination_country = "CHN""#, true),
        (
            r#"trading_country = "USA" and dispatch_country = "USA""#,
            true,
        ),
    ]);
}

#[test]
fn trade_mode_transport_and_other_codes() {
    check(&[
        (r#"trade_mode = "0110""#, true),
        (r#"trade_mode in ["9610", "1210"]"#, false),
        (r#"trade_mode ^= "01""#, true),
        (r#"transport_mode = "5""#, true),
        (r#"levy_nature = "101""#, true),
        (r#"transaction_terms = "3""#, true),
        (r#"entry_type = "M""#, true),
        (r#"package_type = "22""#, true),
        (r#"domestic_port = "310301""#, true),
        (r#"declaration_office = "2233""#, true),
        (r#"entry_exit_office ^= "22""#, true),
        (r#"direction = "import""#, true),
        (r#"direction = "export""#, false),
        (r#"currency = "USD""#, true),
        (r#"declared_unit = "001" and second_unit = "035""#, true),
        (r#"first_unit = "035""#, false),
        (r#"duty_treatment = "1""#, true),
        (r#"district = "31159""#, true),
    ]);
}

#[test]
fn enterprise_and_parties() {
    check(&[
        (&format!(r#"trader = "{TRADER}""#), true),
        (&format!(r#"enterprise = "{OTHER_TRADER}""#), false),
        (r#"trader ^= "9131""#, true),
        (r#"trader_customs_code = "3122960123""#, true),
        // No owner unit or agent on this declaration: absent, so false whatever the operator.
        (&format!(r#"owner_unit = "{TRADER}""#), false),
        (&format!(r#"owner_unit != "{TRADER}""#), false),
        (&format!(r#"not owner_unit = "{TRADER}""#), true),
        (r#"consignor = "US1234567890""#, true),
        (r#"overseas_party = "us1234567890""#, true),
        (r#"overseas_party_name contains "computers""#, true),
        (r#"producer contains "FACTORY""#, true),
        (r#"goods_name contains "LAPTOP""#, true),
        (r#"specification contains "brand x""#, true),
    ]);
}

#[test]
fn route_vessel_bill() {
    check(&[
        (r#"vessel = "CA986""#, true),
        (r#"vessel = "ca986""#, true),
        (r#"vessel ^= "CA""#, true),
        (r#"bill_no = "999-12345675""#, true),
        (r#"voyage_no = "20250308""#, true),
        (r#"loading_port = "USSFO""#, true),
        (r#"route = "USSFO-310301""#, true),
        (r#"route ^= "USSFO-""#, true),
        (r#"route ^= "USLAX""#, false),
        (r#"contract_no contains "2025""#, true),
        // Absent: no licence, no record number, no destination port on an import.
        (r#"licence_no ^= "2""#, false),
        (r#"record_no != "X""#, false),
        (r#"destination_port = "USSFO""#, false),
    ]);
}

#[test]
fn numbers_value_price_weight_quantity() {
    check(&[
        // unit price USD 350, CNY 2,485
        ("unit_price = 350", true),
        ("unit_price < 350", false),
        ("unit_price <= 350", true),
        ("unit_price_cny > 2484.99", true),
        ("unit_price_cny < 2485", false),
        ("unit_price_cny >= 2485", true),
        ("total_price = 35000", true),
        ("total_price_cny = 248500", true),
        ("total_value_cny > 200000", true),
        ("quantity = 100", true),
        ("declared_quantity != 100", false),
        ("first_quantity >= 100", true),
        ("second_quantity = 150", true),
        // 150 kg over 100 units
        ("weight_per_unit_kg = 1.5", true),
        ("weight_per_unit_kg < 1", false),
        ("gross_weight_kg > 260", true),
        ("net_weight_kg < 230", false),
        ("packages = 10", true),
        ("item_count = 1", true),
    ]);
}

#[test]
fn and_or_not() {
    check(&[
        (r#"commodity ^= "8471" and origin = "USA""#, true),
        (r#"commodity ^= "8471" and origin = "JPN""#, false),
        (r#"commodity ^= "8471" or origin = "JPN""#, true),
        (r#"commodity ^= "9999" or origin = "JPN""#, false),
        (r#"not origin = "JPN""#, true),
        (r#"not (origin = "USA" and unit_price_cny > 1000)"#, false),
        (
            r#"(origin = "JPN" or origin = "USA") and not trade_mode = "9610""#,
            true,
        ),
        (r#"not not origin = "USA""#, true),
        (
            r#"origin = "USA" and (unit_price < 10 or quantity > 50) and vessel ^= "CA""#,
            true,
        ),
    ]);
}

#[test]
fn item_conditions_hold_on_one_item() {
    // Item 1: laptops from USA at USD 350; item 2: phones from JPN at JPY 1,000 (CNY 48).
    let d = declaration(vec![
        item(1, "8471300000", "USA", "100", "350", "USD"),
        item(2, "8517130000", "JPN", "10", "1000", "JPY"),
    ]);
    // Both parts must hold on the same item.
    assert!(!fires(r#"commodity ^= "8517" and origin = "USA""#, &d));
    assert!(fires(r#"commodity ^= "8517" and origin = "JPN""#, &d));
    assert!(fires(r#"commodity ^= "8517" and unit_price_cny < 50"#, &d));
    assert!(!fires(r#"commodity ^= "8471" and unit_price_cny < 50"#, &d));
    // `not` is per item: some item is not from the USA.
    assert!(fires(r#"not origin = "USA""#, &d));
    // Header fields read the same for each item.
    assert!(fires(r#"trade_mode = "0110" and origin = "JPN""#, &d));
    // Two items, neither with kilograms as a first unit but both as a second: weight per unit
    // comes from the second quantity.
    assert!(fires("weight_per_unit_kg = 1.5 and origin = \"JPN\"", &d));
    // The explanation names the item it fired on.
    let s = state(&rule(
        "P",
        r#"commodity ^= "8517" and unit_price_cny < 50"#,
        "red",
    ));
    let fired = &decide(&s, &d).explanation.rules_fired[0];
    assert_eq!(fired.item_no, Some(2));
    let values: Vec<(String, String)> = fired
        .values
        .iter()
        .map(|v| (v.field.clone(), v.value.clone()))
        .collect();
    assert_eq!(
        values,
        vec![
            ("commodity".to_owned(), "8517130000".to_owned()),
            ("unit_price_cny".to_owned(), "48".to_owned()),
        ]
    );
}

#[test]
fn no_exchange_rate_means_no_price_in_cny() {
    let d = declaration(vec![item(1, "8471300000", "USA", "1", "10", "EUR")]);
    assert!(!fires("unit_price_cny < 1000000", &d));
    assert!(!fires("total_value_cny >= 0", &d));
    assert!(fires("unit_price = 10", &d));
}

#[test]
fn document_codes_are_a_set() {
    let mut d = laptops();
    // No attached documents: absent, so false whatever the operator; `not` of it is true.
    assert!(!fires(r#"document_code = "1""#, &d));
    assert!(!fires(r#"document_code != "1""#, &d));
    assert!(!fires(r#"document_code not in ["1"]"#, &d));
    assert!(fires(r#"not document_code = "1""#, &d));
    d.documents = vec![
        domain::declaration::Document {
            code: "Y".into(),
            number: "Y2025000001".into(),
        },
        domain::declaration::Document {
            code: " a ".into(),
            number: "A1".into(),
        },
    ];
    check_on(
        &d,
        &[
            // Some document has the code.
            (r#"document_code = "Y""#, true),
            (r#"document = "a""#, true),
            (r#"document_code = "1""#, false),
            // Codes compare exactly: `A` is not `a`.
            (r#"document_code = "A""#, false),
            (r#"document_code in ["1", "Y"]"#, true),
            (r#"document_code ^= "Y""#, true),
            // `!=` and `not in`: documents, none of them with the code.
            (r#"document_code != "1""#, true),
            (r#"document_code != "Y""#, false),
            (r#"document_code not in ["1", "4"]"#, true),
            (r#"document_code not in ["1", "a"]"#, false),
            // The usual question: an automatic import licence (code 7) missing.
            (r#"commodity ^= "8471" and not document_code = "7""#, true),
            (r#"commodity ^= "8471" and not document_code = "Y""#, false),
        ],
    );
    // The explanation shows the codes the rule read.
    let s = state(&rule("D", r#"document_code = "Y""#, "yellow"));
    let fired = &decide(&s, &d).explanation.rules_fired[0];
    assert_eq!(fired.values[0].field, "document_code");
    assert_eq!(fired.values[0].value, "Y,a");
    // A literal that cannot be a document code is an error, not a rule that never fires.
    for bad in [r#"document_code = "Y 1""#, r#"document_code = "ABCDEFGHI""#] {
        let text = rule("B", bad, "red");
        assert!(risk::RuleSet::parse(&text).is_err(), "{bad}");
    }
}
