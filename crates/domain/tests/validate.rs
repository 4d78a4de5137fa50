//! Validation rules, one case per test, against a small hand-made reference. The shipped
//! reference data and the example files are exercised by the CLI's tests.

use std::collections::HashMap;

use chrono::NaiveDate;
use domain::codes::{
    CountryCode, CurrencyCode, HsCode, LevyNature, OfficeCode, TradeMode, UnitCode,
};
use domain::reference::{
    CodeTable, DutyRate, Office, OfficeLevel, Reference, TariffLine, TradeModeEntry,
};
use domain::validate::{parse_form, validate, validate_json};
use serde_json::{json, Value};

struct TestRef {
    offices: HashMap<OfficeCode, Office>,
    trade_modes: HashMap<TradeMode, TradeModeEntry>,
    tariff: Vec<TariffLine>,
    quotas: Vec<domain::reference::TariffQuota>,
}

fn office(code: &str, level: OfficeLevel, parent: Option<&str>) -> Office {
    Office {
        code: OfficeCode::parse(code).unwrap(),
        name_zh: code.into(),
        name_en: code.into(),
        level,
        parent: parent.map(|p| OfficeCode::parse(p).unwrap()),
    }
}

fn line(code: &str, first: &str, second: Option<&str>, licence: Option<&str>) -> TariffLine {
    TariffLine {
        commodity_code: HsCode::parse(code).unwrap(),
        description_zh: "测试".into(),
        description_en: "test".into(),
        first_unit: UnitCode::parse(first).unwrap(),
        second_unit: second.map(|s| UnitCode::parse(s).unwrap()),
        mfn: "10%".parse().unwrap(),
        general: "30%".parse::<DutyRate>().unwrap(),
        agreements: vec![],
        provisional: None,
        vat_rate: "0.13".parse().unwrap(),
        consumption_tax: None,
        export_duty: None,
        licence: licence.map(str::to_owned),
        valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        valid_to: None,
    }
}

fn reference() -> TestRef {
    let offices = [
        office("0000", OfficeLevel::Hq, None),
        office("2200", OfficeLevel::Direct, Some("0000")),
        office("2201", OfficeLevel::Subordinate, Some("2200")),
    ];
    let trade_modes = [
        TradeModeEntry {
            code: TradeMode::parse("0110").unwrap(),
            name_zh: "一般贸易".into(),
            name_en: "General trade".into(),
            stats_code: Some("10".into()),
            levy_natures: vec![LevyNature::parse("101").unwrap()],
        },
        TradeModeEntry {
            code: TradeMode::parse("2225").unwrap(),
            name_zh: "外资设备物品".into(),
            name_en: "Equipment".into(),
            stats_code: Some("25".into()),
            levy_natures: vec![],
        },
    ];
    TestRef {
        offices: offices.into_iter().map(|o| (o.code, o)).collect(),
        trade_modes: trade_modes.into_iter().map(|t| (t.code, t)).collect(),
        tariff: vec![
            line("8471300000", "001", None, None),
            line("2204210000", "095", Some("035"), None),
            line("8703231900", "003", None, Some("1")),
            line("1001990000", "035", None, None),
        ],
        quotas: vec![domain::reference::TariffQuota {
            commodity_code: HsCode::parse("1001990000").unwrap(),
            commodity: domain::reference::QuotaCommodity::Wheat,
            in_quota: "1%".parse().unwrap(),
            out_of_quota: "10%".parse().unwrap(),
            valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            valid_to: None,
        }],
    }
}

impl Reference for TestRef {
    fn office(&self, code: OfficeCode) -> Option<&Office> {
        self.offices.get(&code)
    }
    fn country(&self, text: &str) -> Option<CountryCode> {
        let alpha = match text {
            "142" => "CHN",
            "502" => "USA",
            "CHN" | "USA" | "SGP" | "JPN" => text,
            _ => return None,
        };
        CountryCode::parse(alpha).ok()
    }
    fn currency(&self, text: &str) -> Option<CurrencyCode> {
        let alpha = match text {
            "142" => "CNY",
            "502" => "USD",
            "CNY" | "USD" | "EUR" => text,
            _ => return None,
        };
        CurrencyCode::parse(alpha).ok()
    }
    fn contains(&self, table: CodeTable, code: &str) -> bool {
        match table {
            CodeTable::Unit => ["001", "003", "007", "035", "095"].contains(&code),
            CodeTable::LevyNature => ["101", "299", "789"].contains(&code),
            CodeTable::DutyTreatment => ["1", "3"].contains(&code),
            CodeTable::TransportMode => ["2", "5"].contains(&code),
            CodeTable::PackageType => ["22", "99"].contains(&code),
        }
    }
    fn trade_mode(&self, code: TradeMode) -> Option<&TradeModeEntry> {
        self.trade_modes.get(&code)
    }
    fn tariff_line(&self, code: HsCode, on: NaiveDate) -> Option<&TariffLine> {
        self.tariff
            .iter()
            .find(|l| l.commodity_code == code && l.in_force(on))
    }
    fn tariff_quota(&self, code: HsCode, on: NaiveDate) -> Option<&domain::reference::TariffQuota> {
        self.quotas
            .iter()
            .find(|q| q.commodity_code == code && q.in_force(on))
    }
}

fn valid_import() -> Value {
    json!({
        "direction": "import",
        "declaration_office": "2201",
        "entry_exit_office": "2201",
        "declaration_date": "2025-03-10",
        "ie_date": "2025-03-08",
        "trader": {"name": "上海示例贸易有限公司", "uscc": "91110000600037341L", "customs_code": "3105910159"},
        "overseas_party": {"name": "Example Computers Inc.", "code": "US1234567"},
        "transport_mode": "2",
        "trade_mode": "0110",
        "levy_nature": "101",
        "loading_port": "USLAX",
        "trading_country": "USA",
        "dispatch_country": "502",
        "package_type": "22",
        "packages": 10,
        "gross_weight_kg": "250.5",
        "net_weight_kg": 230,
        "transaction_terms": "3",
        "freight": {"mark": "3", "value": "1200.00", "currency": "USD"},
        "items": [{
            "item_no": 1,
            "commodity_code": "8471300000",
            "name": "笔记本电脑",
            "specification": "便携式|14英寸|品牌X",
            "declared_quantity": 100,
            "declared_unit": "001",
            "first_quantity": 100,
            "first_unit": "001",
            "unit_price": "350.0000",
            "total_price": "35000.00",
            "currency": "502",
            "origin_country": "USA",
            "destination_country": "CHN",
            "duty_treatment": "1"
        }]
    })
}

fn check(doc: &Value) -> Vec<(String, &'static str)> {
    let bytes = serde_json::to_vec(doc).unwrap();
    match validate_json(&bytes, &reference()) {
        Ok(_) => vec![],
        Err(p) => p.iter().map(|p| (p.field.clone(), p.code)).collect(),
    }
}

fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = value;
    doc
}

fn without(mut doc: Value, parent: &str, key: &str) -> Value {
    doc.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap();
    doc
}

#[test]
fn a_valid_import_passes_and_codes_are_normalised() {
    let bytes = serde_json::to_vec(&valid_import()).unwrap();
    let d = validate_json(&bytes, &reference()).unwrap();
    assert_eq!(d.dispatch_country.as_str(), "USA", "legacy 502 becomes USA");
    assert_eq!(d.items[0].currency.as_str(), "USD");
    assert_eq!(d.items[0].total_price.to_string(), "35000");
    assert_eq!(d.net_weight_kg.to_string(), "230");
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut doc = valid_import();
    doc["trader"]["uscc"] = json!("91110000600037341M");
    doc["net_weight_kg"] = json!("300");
    doc["items"][0]["total_price"] = json!("34000.00");
    doc["items"][0]["origin_country"] = json!("XXX");
    doc["declaration_office"] = json!("99");
    let got = check(&doc);
    let expected = [
        ("declaration_office", "format"),
        ("trader.uscc", "format"),
        ("net_weight_kg", "net_exceeds_gross"),
        ("items[0].total_price", "total_mismatch"),
        ("items[0].origin_country", "unknown_code"),
    ];
    for (field, code) in expected {
        assert!(
            got.contains(&(field.to_string(), code)),
            "missing {field} {code} in {got:?}"
        );
    }
    assert_eq!(got.len(), expected.len(), "{got:?}");
}

#[test]
fn messages_are_in_chinese_and_english() {
    let doc = with(valid_import(), "/trader/uscc", json!("91110000600037341M"));
    let err = validate_json(&serde_json::to_vec(&doc).unwrap(), &reference()).unwrap_err();
    let p = &err.as_slice()[0];
    assert!(p.message_zh.contains("校验位"), "{}", p.message_zh);
    assert!(p.message_en.contains("check character"), "{}", p.message_en);
}

#[test]
fn required_fields() {
    let doc = without(valid_import(), "", "trade_mode");
    assert_eq!(check(&doc), vec![("trade_mode".into(), "required")]);
    let doc = with(valid_import(), "/items/0/name", json!("  "));
    assert_eq!(check(&doc), vec![("items[0].name".into(), "required")]);
}

#[test]
fn item_count_limits() {
    let doc = with(valid_import(), "/items", json!([]));
    assert_eq!(check(&doc), vec![("items".into(), "items_count")]);
    let item = valid_import()["items"][0].clone();
    let items: Vec<Value> = (1..=51)
        .map(|n| with(item.clone(), "/item_no", json!(n)))
        .collect();
    let doc = with(valid_import(), "/items", json!(items));
    assert_eq!(check(&doc), vec![("items".into(), "items_count")]);
    let items: Vec<Value> = (1..=50)
        .map(|n| with(item.clone(), "/item_no", json!(n)))
        .collect();
    assert_eq!(check(&with(valid_import(), "/items", json!(items))), vec![]);
}

#[test]
fn item_numbers_run_from_one() {
    let doc = with(valid_import(), "/items/0/item_no", json!(2));
    assert_eq!(
        check(&doc),
        vec![("items[0].item_no".into(), "item_no_sequence")]
    );
}

#[test]
fn total_within_rounding_passes() {
    // 3 × 0.3333 = 0.9999 → 1.00 is within rounding.
    let doc = valid_import();
    let doc = with(doc, "/items/0/declared_quantity", json!(3));
    let doc = with(doc, "/items/0/first_quantity", json!(3));
    let doc = with(doc, "/items/0/unit_price", json!("0.3333"));
    let doc = with(doc, "/items/0/total_price", json!("1.00"));
    assert_eq!(check(&doc), vec![]);
    let doc = with(doc, "/items/0/total_price", json!("1.02"));
    assert_eq!(
        check(&doc),
        vec![("items[0].total_price".into(), "total_mismatch")]
    );
}

#[test]
fn decimals_and_ranges() {
    let doc = with(valid_import(), "/items/0/unit_price", json!("350.00001"));
    assert!(check(&doc).contains(&("items[0].unit_price".into(), "decimals")));
    let doc = with(valid_import(), "/gross_weight_kg", json!(-1));
    assert_eq!(check(&doc), vec![("gross_weight_kg".into(), "range")]);
    let doc = with(valid_import(), "/packages", json!("ten"));
    assert_eq!(check(&doc), vec![("packages".into(), "number")]);
    let doc = with(valid_import(), "/packages", json!("1e30"));
    assert_eq!(check(&doc), vec![("packages".into(), "number")]);
    let doc = with(valid_import(), "/packages", json!("99999999999999999"));
    assert_eq!(check(&doc), vec![("packages".into(), "range")]);
    // More decimals than Decimal holds: parsed as 0, reported as decimals, not as "> 0".
    let tiny = "0.00000000000000000000000000001";
    let doc = with(valid_import(), "/items/0/unit_price", json!(tiny));
    assert!(check(&doc).contains(&("items[0].unit_price".into(), "decimals")));
    assert!(!check(&doc).contains(&("items[0].unit_price".into(), "range")));
    let doc = with(valid_import(), "/gross_weight_kg", json!(tiny));
    assert!(check(&doc).contains(&("gross_weight_kg".into(), "decimals")));
}

#[test]
fn largest_quantity_and_price_give_a_problem_not_a_panic() {
    // Each within the 10^15 limit; their product (10^30) is beyond Decimal's range.
    let max = "999999999999999";
    let mut doc = valid_import();
    for (field, value) in [
        ("declared_quantity", max),
        ("first_quantity", max),
        ("unit_price", max),
        ("total_price", max),
    ] {
        doc = with(doc, &format!("/items/0/{field}"), json!(value));
    }
    let problems = check(&doc);
    assert!(
        problems.contains(&("items[0].total_price".into(), "total_mismatch")),
        "{problems:?}"
    );
}

#[test]
fn legal_units_follow_the_tariff_line() {
    let doc = with(valid_import(), "/items/0/first_unit", json!("007"));
    let got = check(&doc);
    assert!(
        got.contains(&("items[0].first_unit".into(), "legal_unit")),
        "{got:?}"
    );
    // A line with a second unit needs it.
    let doc = with(
        valid_import(),
        "/items/0/commodity_code",
        json!("2204210000"),
    );
    let doc = with(doc, "/items/0/first_unit", json!("095"));
    let doc = with(doc, "/items/0/declared_unit", json!("095"));
    let got = check(&doc);
    assert_eq!(
        got,
        vec![
            ("items[0].second_unit".into(), "legal_unit"),
            ("items[0].second_quantity".into(), "required")
        ]
    );
    let mut ok = doc.clone();
    ok["items"][0]["second_unit"] = json!("035");
    ok["items"][0]["second_quantity"] = json!("80");
    assert_eq!(check(&ok), vec![]);
    // A line without one refuses it.
    let mut doc = valid_import();
    doc["items"][0]["second_unit"] = json!("035");
    assert_eq!(
        check(&doc),
        vec![("items[0].second_unit".into(), "legal_unit")]
    );
}

#[test]
fn same_unit_same_quantity() {
    let doc = with(valid_import(), "/items/0/first_quantity", json!(99));
    assert_eq!(
        check(&doc),
        vec![("items[0].first_quantity".into(), "quantity_mismatch")]
    );
}

#[test]
fn unknown_commodity_code() {
    let doc = with(
        valid_import(),
        "/items/0/commodity_code",
        json!("8471300001"),
    );
    assert_eq!(
        check(&doc),
        vec![("items[0].commodity_code".into(), "tariff_line_unknown")]
    );
}

#[test]
fn direction_specific_fields() {
    let mut doc = valid_import();
    doc["destination_port"] = json!("SGSIN");
    doc["items"][0]["destination_country"] = json!("USA");
    let got = check(&doc);
    assert_eq!(
        got,
        vec![
            ("destination_port".into(), "direction_field"),
            ("items[0].destination_country".into(), "direction_field")
        ]
    );
    let doc = with(valid_import(), "/direction", json!("sideways"));
    assert_eq!(check(&doc), vec![("direction".into(), "direction")]);
}

#[test]
fn charges_must_fit_the_terms() {
    let doc = without(valid_import(), "", "freight");
    assert_eq!(check(&doc), vec![("freight".into(), "charge_required")]);
    let doc = with(valid_import(), "/transaction_terms", json!("1"));
    assert_eq!(check(&doc), vec![("freight".into(), "charge_not_allowed")]);
    let mut doc = valid_import();
    doc["insurance"] = json!({"mark": "2", "value": 1, "currency": "USD"});
    assert_eq!(check(&doc), vec![("insurance.mark".into(), "charge_mark")]);
    let doc = with(valid_import(), "/freight/currency", json!(null));
    assert_eq!(check(&doc), vec![("freight.currency".into(), "required")]);
    let doc = with(valid_import(), "/freight/mark", json!("1"));
    assert_eq!(
        check(&doc),
        vec![("freight.currency".into(), "charge_currency")]
    );
}

/// 报关单填制规范 (海关总署公告2019年第18号), 杂费: "应计入完税价格的杂费填报为正值或正率，
/// 应从完税价格中扣除的填报为负值或负率" (charges to be included in the customs value are
/// filed positive, those to be deducted negative). Freight and insurance have no such rule.
#[test]
fn other_charges_may_be_negative_freight_may_not() {
    let mut doc = valid_import();
    doc["other_charges"] = json!({"mark": "3", "value": "-500.00", "currency": "USD"});
    assert_eq!(check(&doc), vec![]);
    let d = validate_json(&serde_json::to_vec(&doc).unwrap(), &reference()).unwrap();
    assert_eq!(
        d.other_charges,
        Some(domain::declaration::Charge::Total {
            amount: "-500.00".parse().unwrap(),
            currency: domain::codes::CurrencyCode::parse("USD").unwrap()
        })
    );
    doc["other_charges"] = json!({"mark": "1", "value": "-0.5"});
    assert_eq!(check(&doc), vec![]);
    doc["other_charges"] = json!({"mark": "1", "value": "--0.5"});
    assert_eq!(check(&doc), vec![("other_charges.value".into(), "range")]);
    let doc = with(valid_import(), "/freight/value", json!("-1200.00"));
    assert_eq!(check(&doc), vec![("freight.value".into(), "range")]);
}

/// Issue 21 item 2: an item claiming an agreement or special preferential rate carries its
/// proof of origin (a certificate of origin or an origin declaration, the agreement, direct
/// transport); each part is checked, with messages in both languages.
#[test]
fn origin_proof_is_checked() {
    let mut doc = valid_import();
    doc["items"][0]["origin_proof"] = json!({
        "agreement": "RCEP", "kind": "certificate", "number": "K24-0000123", "direct_transport": true
    });
    assert_eq!(check(&doc), vec![]);
    let d = validate_json(&serde_json::to_vec(&doc).unwrap(), &reference()).unwrap();
    let proof = d.items[0].origin_proof.as_ref().unwrap();
    assert_eq!(proof.agreement, "RCEP");
    assert!(proof.direct_transport);
    doc["items"][0]["origin_proof"] =
        json!({"agreement": "rcep x", "kind": "stamp", "number": "A B"});
    let problems = check(&doc);
    assert_eq!(
        problems,
        vec![
            ("items[0].origin_proof.agreement".into(), "agreement"),
            ("items[0].origin_proof.kind".into(), "origin_proof_kind"),
            ("items[0].origin_proof.number".into(), "origin_proof_number"),
            ("items[0].origin_proof.direct_transport".into(), "required"),
        ]
    );
    let bytes = serde_json::to_vec(&doc).unwrap();
    let all = validate_json(&bytes, &reference()).unwrap_err();
    let text = format!("{all:?}");
    assert!(
        text.contains("原产地证书") && text.contains("certificate or declaration"),
        "{text}"
    );
}

/// Issue 21 item 4 (Import and Export Duties Regulations art. 11: the in-quota rate for imports
/// within a tariff quota): an item names its tariff-quota certificate, only on an import of goods
/// under a tariff quota on the declaration date; the number like a licence's. Messages in both
/// languages.
#[test]
fn quota_certificate_no_is_checked() {
    let wheat = |doc: Value| {
        let doc = with(doc, "/items/0/commodity_code", json!("1001990000"));
        let doc = with(doc, "/items/0/first_unit", json!("035"));
        with(doc, "/items/0/declared_unit", json!("035"))
    };
    let mut doc = wheat(valid_import());
    doc["items"][0]["quota_certificate_no"] = json!(" TRQ-2025-0001 ");
    assert_eq!(check(&doc), vec![]);
    let d = validate_json(&serde_json::to_vec(&doc).unwrap(), &reference()).unwrap();
    assert_eq!(
        d.items[0].quota_certificate_no.as_deref(),
        Some("TRQ-2025-0001")
    );
    // Absent: nothing to check, no certificate (the out-of-quota rate).
    let d = validate_json(
        &serde_json::to_vec(&wheat(valid_import())).unwrap(),
        &reference(),
    )
    .unwrap();
    assert_eq!(d.items[0].quota_certificate_no, None);

    doc["items"][0]["quota_certificate_no"] = json!("TRQ 2025");
    assert_eq!(
        check(&doc),
        vec![(
            "items[0].quota_certificate_no".into(),
            "quota_certificate_no"
        )]
    );
    doc["items"][0]["quota_certificate_no"] = json!("X".repeat(33));
    assert_eq!(
        check(&doc),
        vec![(
            "items[0].quota_certificate_no".into(),
            "quota_certificate_no"
        )]
    );
    // Goods under no tariff quota (laptops), or wheat before the quota row is in force.
    let mut laptops = valid_import();
    laptops["items"][0]["quota_certificate_no"] = json!("TRQ-1");
    assert_eq!(
        check(&laptops),
        vec![(
            "items[0].quota_certificate_no".into(),
            "quota_not_applicable"
        )]
    );
    let mut early = with(
        wheat(valid_import()),
        "/declaration_date",
        json!("2024-12-31"),
    );
    early["items"][0]["quota_certificate_no"] = json!("TRQ-1");
    assert!(check(&early).contains(&(
        "items[0].quota_certificate_no".into(),
        "quota_not_applicable"
    )));
    let mut export = with(wheat(valid_import()), "/direction", json!("export"));
    export["items"][0]["quota_certificate_no"] = json!("TRQ-1");
    assert!(check(&export).contains(&(
        "items[0].quota_certificate_no".into(),
        "quota_certificate_export"
    )));
    let all = validate_json(&serde_json::to_vec(&laptops).unwrap(), &reference()).unwrap_err();
    let text = format!("{all:?}");
    assert!(
        text.contains("不实行关税配额管理") && text.contains("not under a tariff quota"),
        "{text}"
    );
}

#[test]
fn levy_nature_must_fit_trade_mode() {
    let doc = with(valid_import(), "/levy_nature", json!("299"));
    assert_eq!(
        check(&doc),
        vec![("levy_nature".into(), "levy_nature_mismatch")]
    );
    let doc = with(doc, "/trade_mode", json!("2225"));
    assert_eq!(check(&doc), vec![], "2225 sets no constraint here");
    let doc = with(valid_import(), "/levy_nature", json!("555"));
    assert_eq!(check(&doc), vec![("levy_nature".into(), "unknown_code")]);
}

#[test]
fn licence_required_by_the_tariff_line() {
    let doc = valid_import();
    let doc = with(doc, "/items/0/commodity_code", json!("8703231900"));
    let doc = with(doc, "/items/0/first_unit", json!("003"));
    let doc = with(doc, "/items/0/declared_unit", json!("003"));
    assert_eq!(
        check(&doc),
        vec![("items[0].commodity_code".into(), "licence_missing")]
    );
    let mut by_document = doc.clone();
    by_document["documents"] = json!([{"code": "1", "number": "25-AA-000001"}]);
    assert_eq!(check(&by_document), vec![]);
    let mut by_field = doc;
    by_field["licence_no"] = json!("25-AA-000001");
    assert_eq!(check(&by_field), vec![]);
}

#[test]
fn offices_must_exist_and_not_be_hq() {
    let doc = with(valid_import(), "/declaration_office", json!("0000"));
    assert_eq!(
        check(&doc),
        vec![("declaration_office".into(), "office_level")]
    );
    let doc = with(valid_import(), "/entry_exit_office", json!("4444"));
    assert_eq!(
        check(&doc),
        vec![("entry_exit_office".into(), "unknown_code")]
    );
}

#[test]
fn dates() {
    let doc = with(valid_import(), "/declaration_date", json!("20250310"));
    assert_eq!(check(&doc), vec![]);
    let doc = with(valid_import(), "/declaration_date", json!("2025-02-30"));
    assert_eq!(check(&doc), vec![("declaration_date".into(), "date")]);
}

#[test]
fn unknown_fields_are_all_listed() {
    let mut doc = valid_import();
    doc["colour"] = json!("red");
    doc["items"][0]["weight"] = json!(1);
    let err = parse_form(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    let got: Vec<_> = err.iter().map(|p| (p.field.as_str(), p.code)).collect();
    assert_eq!(
        got,
        vec![
            ("colour", "unknown_field"),
            ("items[0].weight", "unknown_field")
        ]
    );
}

#[test]
fn structural_problems_are_problems_not_panics() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\xff\xfe\x00garbage", "not_json"),
        (b"{\"direction\": ", "not_json"),
        (b"[1,2,3]", "not_object"),
        (b" \n [{\"direction\": \"import\"}]", "not_object"),
        (b"\xEF\xBB\xBF{\"direction\": \"import\"}", "not_json"),
        (b"\"a string\"", "json_type"),
        (b"{\"packages\": {\"a\": 1}}", "json_type"),
        (b"{} trailing", "not_json"),
    ];
    for (bytes, code) in cases {
        let err = parse_form(bytes).unwrap_err();
        assert_eq!(
            err.codes(),
            vec![*code],
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    // 100,000 nested arrays: refused at the first byte, with the document as the field.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let err = parse_form(deep.as_bytes()).unwrap_err();
    assert_eq!(err.codes(), vec!["not_object"]);
    assert_eq!(err.as_slice()[0].field, "");
    assert!(
        err.as_slice()[0].message_en.contains("JSON object"),
        "{err:?}"
    );
    // Nested inside a field of the object: the field is named.
    let deep_field = format!(
        "{{\"remarks\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let err = parse_form(deep_field.as_bytes()).unwrap_err();
    assert_eq!(err.codes(), vec!["json_type"]);
    assert_eq!(err.as_slice()[0].field, "remarks");
    let deep_object = format!(
        "{{\"trader\":{}1{}}}",
        "{\"a\":".repeat(5000),
        "}".repeat(5000)
    );
    let codes = parse_form(deep_object.as_bytes()).unwrap_err().codes();
    assert!(
        codes == vec!["too_deep"] || codes == vec!["unknown_field"],
        "{codes:?}"
    );
    let big = vec![b' '; domain::validate::DOCUMENT_BYTES_MAX + 1];
    let err = parse_form(&big).unwrap_err();
    assert_eq!(err.codes(), vec!["too_large"]);
    assert!(err.as_slice()[0].message_en.contains("1048576"), "{err:?}");
}

#[test]
fn type_errors_name_their_field() {
    let doc = with(valid_import(), "/items/0/name", json!(42));
    let err = parse_form(&serde_json::to_vec(&doc).unwrap()).unwrap_err();
    assert_eq!(err.as_slice()[0].field, "items[0].name");
    assert_eq!(err.as_slice()[0].code, "json_type");
}

#[test]
fn a_form_validates_the_same_as_its_json() {
    let doc = valid_import();
    let form = parse_form(&serde_json::to_vec(&doc).unwrap()).unwrap();
    assert!(validate(&form, &reference()).is_ok());
}
