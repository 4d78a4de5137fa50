//! Declaration versions (issue 14 item 1): an approved amendment or an officer's correction
//! makes the next version, validated in full like a filing; only real fields, never the frozen
//! ones. An amendment after declaration needs customs' consent (DOMAIN.md §3: "amendment or
//! cancellation after acceptance, which needs an officer's approval").

use chrono::{TimeZone, Utc};
use clearance::version::{
    check_amendment, next_version, CorrectionKind, DeclarationVersion, VersionSource,
};
use clearance::{Actor, FieldChange};
use domain::codes::{OfficeCode, Uscc};
use domain::declaration::DeclarationForm;
use domain::validate::parse_form;
use refdata::RefData;

#[allow(clippy::disallowed_methods)]
fn laptops() -> DeclarationForm {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/import-laptops.json"
    );
    parse_form(&std::fs::read(path).unwrap()).unwrap()
}

fn change(field: &str, value: &str) -> FieldChange {
    FieldChange {
        field: field.into(),
        value: value.into(),
    }
}

fn officer() -> Actor {
    Actor::Officer {
        login: "officer-2233".into(),
        office: OfficeCode::parse("2233").unwrap(),
    }
}

fn enterprise() -> Actor {
    Actor::Enterprise {
        uscc: Uscc::parse("91310115MA1K4Q7B4Y").unwrap(),
    }
}

fn amendment() -> VersionSource {
    VersionSource::Amendment {
        requested_by: enterprise(),
        approved_by: officer(),
        reason: "price on the invoice was per 100 units".into(),
    }
}

fn v1() -> DeclarationVersion {
    DeclarationVersion::filing(
        laptops(),
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    )
}

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 12, 2, 0, 0).unwrap()
}

#[test]
fn an_approved_price_amendment_makes_version_2_with_its_difference() {
    let refdata = RefData::embedded().unwrap();
    let (v2, declaration) = next_version(
        &v1(),
        &[
            change("items[0].unit_price", "35000.0000"),
            change("items[0].total_price", "3500000.00"),
        ],
        amendment(),
        at(),
        &refdata,
    )
    .unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(
        declaration.items[0].unit_price.normalize().to_string(),
        "35000"
    );
    let paths: Vec<&str> = v2.changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["items[0].total_price", "items[0].unit_price"]);
    assert_eq!(v2.changes[1].before, serde_json::json!("350.0000"));
}

#[test]
fn unknown_and_frozen_fields_are_refused_all_at_once_in_both_languages() {
    let e = check_amendment(
        &laptops(),
        &[
            change("no.such.field", "x"),
            change("direction", "export"),
            change("trader.uscc", "91110000600037341L"),
            change("declaration_office", "2200"),
            change("items[0].item_no", "2"),
            change("items[0].unit_price", "1"),
        ],
    )
    .unwrap_err();
    assert_eq!(
        e.codes(),
        [
            "unknown_field_path",
            "field_not_amendable",
            "field_not_amendable",
            "field_not_amendable",
            "field_not_amendable"
        ]
    );
    let p = &e.as_slice()[1];
    assert_eq!(p.field, "direction");
    assert_eq!(p.message_zh, "进出口标志（direction）不允许修改");
    assert_eq!(
        p.message_en,
        "the direction (`direction`) may not be changed"
    );
    assert_eq!(
        check_amendment(&laptops(), &[]).unwrap_err().codes(),
        ["no_change"]
    );
}

#[test]
fn the_new_version_is_validated_in_full_every_problem_at_once() {
    let refdata = RefData::embedded().unwrap();
    // The total no longer matches quantity × price, and the origin is no country.
    let e = next_version(
        &v1(),
        &[
            change("items[0].unit_price", "35000.0000"),
            change("items[0].origin_country", "XXX"),
        ],
        amendment(),
        at(),
        &refdata,
    )
    .unwrap_err();
    assert!(e.len() >= 2, "{e:?}");
    assert!(e.iter().any(|p| p.field == "items[0].origin_country"));
    assert!(e
        .iter()
        .any(|p| p.field.starts_with("items[0]") && p.field != "items[0].origin_country"));
    assert!(e
        .iter()
        .all(|p| !p.message_zh.is_empty() && !p.message_en.is_empty()));
}

#[test]
fn a_change_to_the_same_value_is_no_version() {
    let refdata = RefData::embedded().unwrap();
    let e = next_version(
        &v1(),
        &[change("items[0].unit_price", "350.0000")],
        amendment(),
        at(),
        &refdata,
    )
    .unwrap_err();
    assert_eq!(e.codes(), ["no_change"]);
}

#[test]
fn amendment_needs_an_officers_approval_and_a_reason() {
    let refdata = RefData::embedded().unwrap();
    let source = VersionSource::Amendment {
        requested_by: enterprise(),
        approved_by: enterprise(),
        reason: " ".into(),
    };
    let e = next_version(&v1(), &[change("remarks", "x")], source, at(), &refdata).unwrap_err();
    assert_eq!(e.codes(), ["approval_by_officer", "reason_required"]);
}

#[test]
fn officers_corrections_stay_within_their_kind() {
    let refdata = RefData::embedded().unwrap();
    let correction = |kind| VersionSource::OfficerCorrection {
        officer: officer(),
        kind,
        reason: "inspection finding: undervaluation".into(),
    };
    // Valuation: price and total together.
    let (v2, _) = next_version(
        &v1(),
        &[
            change("items[0].unit_price", "400.0000"),
            change("items[0].total_price", "40000.00"),
        ],
        correction(CorrectionKind::CustomsValue),
        at(),
        &refdata,
    )
    .unwrap();
    assert!(matches!(
        v2.source,
        VersionSource::OfficerCorrection {
            kind: CorrectionKind::CustomsValue,
            ..
        }
    ));
    // An origin correction may not touch the price.
    let e = next_version(
        &v1(),
        &[change("items[0].unit_price", "400.0000")],
        correction(CorrectionKind::Origin),
        at(),
        &refdata,
    )
    .unwrap_err();
    assert_eq!(e.codes(), ["outside_correction_kind"]);
    assert_eq!(
        e.as_slice()[0].message_zh,
        "原产地更正不能修改“items[0].unit_price”"
    );
    // Only an officer corrects.
    let e = next_version(
        &v1(),
        &[change("items[0].origin_country", "JPN")],
        VersionSource::OfficerCorrection {
            officer: enterprise(),
            kind: CorrectionKind::Origin,
            reason: "x".into(),
        },
        at(),
        &refdata,
    )
    .unwrap_err();
    assert_eq!(e.codes(), ["correction_by_officer"]);
    // Versions follow one another.
    let (v3, _) = next_version(
        &v2,
        &[change("items[0].origin_country", "JPN")],
        correction(CorrectionKind::Origin),
        at(),
        &refdata,
    )
    .unwrap();
    assert_eq!(v3.version, 3);
    assert_eq!(v3.changes.len(), 1);
}

#[test]
fn risk_is_reevaluated_when_a_risk_relevant_field_changes() {
    use clearance::version::{touches, RISK_RELEVANT_FIELDS};
    let refdata = RefData::embedded().unwrap();
    let (price, _) = next_version(
        &v1(),
        &[
            change("items[0].unit_price", "35000.0000"),
            change("items[0].total_price", "3500000.00"),
        ],
        amendment(),
        at(),
        &refdata,
    )
    .unwrap();
    assert!(touches(&price.changes, RISK_RELEVANT_FIELDS));
    let (remark, _) = next_version(
        &v1(),
        &[change("remarks", "typo")],
        amendment(),
        at(),
        &refdata,
    )
    .unwrap();
    assert!(!touches(&remark.changes, RISK_RELEVANT_FIELDS));
}
