//! Declarations and helpers shared by the risk tests.
#![allow(dead_code)]

use std::collections::HashMap;

use chrono::NaiveDate;
use clearance::{CreditClass, EnterpriseFacts};
use domain::codes::*;
use domain::declaration::{Declaration, EntryType, Item, OverseasParty, Party};
use risk::{CompiledRules, DecisionInput, DigitOffices, RiskDecision, RiskState, RuleSet};
use rust_decimal::Decimal;

pub const TRADER: &str = "91310115MA1K4Q7B4Y";
pub const OTHER_TRADER: &str = "91110000600037341L";

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn item(
    no: u16,
    commodity: &str,
    origin: &str,
    quantity: &str,
    unit_price: &str,
    currency: &str,
) -> Item {
    let q = dec(quantity);
    let p = dec(unit_price);
    Item {
        item_no: no,
        record_item: None,
        commodity_code: HsCode::parse(commodity).unwrap(),
        name: "笔记本电脑 laptop".into(),
        specification: "便携式|14英寸|Brand X".into(),
        declared_quantity: q,
        declared_unit: UnitCode::parse("001").unwrap(),
        first_quantity: q,
        first_unit: UnitCode::parse("001").unwrap(),
        second_quantity: Some(q * dec("1.5")),
        second_unit: Some(UnitCode::parse("035").unwrap()),
        unit_price: p,
        total_price: (q * p).round_dp(2),
        currency: CurrencyCode::parse(currency).unwrap(),
        origin_country: CountryCode::parse(origin).unwrap(),
        destination_country: CountryCode::parse("CHN").unwrap(),
        district: Some(DistrictCode::parse("31159").unwrap()),
        duty_treatment: DutyTreatment::AS_TARIFF,
        producer: Some("Example Factory Ltd".into()),
        origin_proof: None,
        quota_certificate_no: None,
    }
}

/// An air import of laptops at office 2233 (under 2200), like examples/import-laptops.json.
pub fn declaration(items: Vec<Item>) -> Declaration {
    Declaration {
        direction: Direction::Import,
        declaration_office: OfficeCode::parse("2233").unwrap(),
        entry_exit_office: OfficeCode::parse("2233").unwrap(),
        record_no: None,
        contract_no: Some("SHX-2025-0310".into()),
        ie_date: Some(day("2025-03-08")),
        declaration_date: day("2025-03-10"),
        trader: Party {
            name: "上海示例电子贸易有限公司".into(),
            uscc: Uscc::parse(TRADER).unwrap(),
            customs_code: Some(CustomsCode::parse("3122960123").unwrap()),
        },
        overseas_party: OverseasParty {
            code: Some("US1234567890".into()),
            name: "Example Computers Inc.".into(),
            address: None,
        },
        owner: None,
        agent: None,
        transport_mode: TransportMode::parse("5").unwrap(),
        vessel: Some("CA986".into()),
        voyage_no: Some("20250308".into()),
        bill_no: Some("999-12345675".into()),
        goods_place: None,
        trade_mode: TradeMode::GENERAL_TRADE,
        levy_nature: LevyNature::parse("101").unwrap(),
        licence_no: None,
        loading_port: Some("USSFO".into()),
        destination_port: None,
        trading_country: CountryCode::parse("USA").unwrap(),
        dispatch_country: CountryCode::parse("USA").unwrap(),
        domestic_port: Some(DomesticPort::parse("310301").unwrap()),
        package_type: PackageType::parse("22").unwrap(),
        packages: 10,
        gross_weight_kg: dec("260.5"),
        net_weight_kg: dec("230"),
        transaction_terms: TransactionTerms::Fob,
        freight: None,
        insurance: None,
        other_charges: None,
        documents: vec![],
        marks: None,
        remarks: None,
        entry_type: EntryType::Paperless,
        buyer: None,
        items,
    }
}

pub fn laptops() -> Declaration {
    declaration(vec![item(1, "8471300000", "USA", "100", "350", "USD")])
}

pub fn number(serial: u32) -> DeclarationNo {
    DeclarationNo::new(
        OfficeCode::parse("2233").unwrap(),
        2025,
        Direction::Import,
        serial,
    )
    .unwrap()
}

pub fn rates() -> HashMap<CurrencyCode, Decimal> {
    HashMap::from([
        (CurrencyCode::parse("USD").unwrap(), dec("7.1")),
        (CurrencyCode::parse("JPY").unwrap(), dec("0.048")),
    ])
}

pub fn facts(class: CreditClass) -> EnterpriseFacts {
    EnterpriseFacts {
        credit_class: class,
        discrepancies_last_year: 0,
    }
}

/// A rule in the text format with sensible defaults around a condition.
pub fn rule(id: &str, when: &str, lane: &str) -> String {
    format!(
        "rule {id}\n  office 0000\n  valid from 2025-01-01\n  when {when}\n  lane {lane}\n  reason {id}_reason \"原因\" \"reason {id}\"\nend\n"
    )
}

pub fn compile(text: &str) -> CompiledRules {
    let set = RuleSet::parse(text).unwrap_or_else(|e| panic!("rules parse: {e:#?}"));
    CompiledRules::compile(&set, day("2025-01-01"))
}

/// A state with these rules and no sampling (every class rate 0), so tests see rules alone.
pub fn state(text: &str) -> RiskState {
    let mut policy = risk::RiskPolicy::default();
    let zero = risk::ClassRates {
        red_ppm: 0,
        yellow_ppm: 0,
    };
    policy.sampling.advanced_certified = zero;
    policy.sampling.general_certified = zero;
    policy.sampling.general = zero;
    policy.sampling.discredited = zero;
    RiskState {
        rules: std::sync::Arc::new(compile(text)),
        policy: std::sync::Arc::new(policy),
        ..RiskState::default()
    }
}

pub fn decide_on(state: &RiskState, d: &Declaration, today: &str) -> RiskDecision {
    let f = facts(CreditClass::General);
    let no = number(1);
    let r = rates();
    state.decide(&DecisionInput {
        declaration: d,
        declaration_no: &no,
        enterprise: &f,
        today: day(today),
        offices: &DigitOffices,
        rates: &r,
    })
}

pub fn decide(state: &RiskState, d: &Declaration) -> RiskDecision {
    decide_on(state, d, "2025-03-10")
}

/// Ids of the fired rules.
pub fn fired(decision: &RiskDecision) -> Vec<String> {
    decision
        .explanation
        .rules_fired
        .iter()
        .map(|r| r.id.clone())
        .collect()
}

/// Whether a single rule with condition `when` fires on `d`.
pub fn fires(when: &str, d: &Declaration) -> bool {
    let s = state(&rule("T", when, "red"));
    let hit = !decide(&s, d).explanation.rules_fired.is_empty();
    // Hold the compiled engine to the reference interpreter on every case.
    let set = RuleSet::parse(&rule("T", when, "red")).unwrap();
    let naive = risk::naive::fired(&set, d, day("2025-03-10"), &DigitOffices, &rates());
    assert_eq!(
        hit,
        !naive.is_empty(),
        "compiled and naive differ on `{when}`"
    );
    hit
}
