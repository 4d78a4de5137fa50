//! Cross-border e-commerce retail imports (9610, 1210) in the service, on SQLite: the buyer is
//! required and checked, each purchase is assessed with the buyer's purchases of the year on
//! record (docs/DOMAIN.md §4: 70 % of VAT and consumption tax within 5,000 yuan a transaction and
//! 26,000 a year, full tax beyond), at acceptance and by an officer alike.

use std::collections::HashMap;
use std::sync::Arc;

use app::{AppError, Clearance, Duty, ManualClock, Principal, StaticRegistry, Step};
use chrono::{TimeZone, Utc};
use clearance::{CreditClass, EnterpriseFacts, Status};
use domain::codes::{OfficeCode, Uscc};
use serde_json::{json, Value};
use store::{DeclarationKey, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

/// Green lane (general class, no discrepancy): assessed at acceptance.
const GREEN: &str = "91310115MA1K4Q7B4Y";
/// Yellow lane (a discrepancy last year): assessed by an officer.
const YELLOW: &str = "91440300MA5FT3XKX8";
/// A resident identity number with a valid GB 11643 check character.
const BUYER: &str = "11010519491231002X";

fn service(dir: &std::path::Path) -> Clearance {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    let mut facts = HashMap::new();
    facts.insert(
        Uscc::parse(YELLOW).unwrap(),
        EnterpriseFacts {
            credit_class: CreditClass::General,
            discrepancies_last_year: 1,
        },
    );
    Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock,
    )
    .with_registry(Box::new(StaticRegistry(facts)))
    .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
}

fn enterprise(uscc: &str) -> Principal {
    Principal::Enterprise {
        user_id: 1,
        login: "ent".into(),
        uscc: Uscc::parse(uscc).unwrap(),
        roles: app::access::legacy_enterprise_roles(),
    }
}

fn officer() -> Principal {
    Principal::Officer {
        user_id: 3,
        login: "pd-officer".into(),
        office: OfficeCode::parse("2233").unwrap(),
        duties: Duty::ALL.into_iter().collect(),
    }
}

/// A 9610 import of `quantity` laptops at 100 USD (CIF), by `trader`, with `buyer` (or none).
fn retail(trader: &str, quantity: u32, buyer: Option<Value>) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = trader.into();
    v["owner"]["uscc"] = trader.into();
    v["trade_mode"] = "9610".into();
    v["transaction_terms"] = "1".into();
    v.as_object_mut().unwrap().remove("freight");
    v.as_object_mut().unwrap().remove("bill_no");
    let item = &mut v["items"][0];
    item["declared_quantity"] = quantity.to_string().into();
    item["first_quantity"] = quantity.to_string().into();
    item["unit_price"] = "100".into();
    item["total_price"] = format!("{}", quantity * 100).into();
    if let Some(b) = buyer {
        v["buyer"] = b;
    }
    serde_json::to_vec(&v).unwrap()
}

fn buyer() -> Option<Value> {
    Some(json!({"id_type": "resident_id", "id_no": BUYER, "name": "张三"}))
}

fn problems(e: AppError) -> Vec<(String, String)> {
    match e {
        AppError::Rejected { problems, .. } | AppError::Invalid(problems) => {
            problems.into_iter().map(|p| (p.field, p.code)).collect()
        }
        other => panic!("{other:?}"),
    }
}

/// `(transaction value, purchases before, within limits)` of a filed declaration's assessment.
fn regime(svc: &Clearance, id: store::DeclarationId) -> (i64, i64, bool) {
    let d = svc.steps().get(&officer(), DeclarationKey::Id(id)).unwrap();
    match d.tax.expect("assessable").regime {
        tax::Regime::CrossBorderEcommerce {
            transaction_value_fen,
            annual_before_fen,
            within_limits,
            ..
        } => (transaction_value_fen.0, annual_before_fen.0, within_limits),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_retail_import_names_a_valid_buyer_and_only_it_may() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    let ent = enterprise(GREEN);
    let e = svc
        .filing()
        .submit(&ent, "b-1", &retail(GREEN, 5, None))
        .unwrap_err();
    assert_eq!(problems(e), [("buyer".to_string(), "required".to_string())]);
    let bad = json!({"id_type": "resident_id", "id_no": "110105194912310021", "name": "张三"});
    let e = svc
        .filing()
        .submit(&ent, "b-2", &retail(GREEN, 5, Some(bad)))
        .unwrap_err();
    assert_eq!(
        problems(e),
        [("buyer.id_no".to_string(), "buyer_id_no".to_string())]
    );
    let kind = json!({"id_type": "driving_licence", "id_no": "X1", "name": "张三"});
    let e = svc
        .filing()
        .submit(&ent, "b-3", &retail(GREEN, 5, Some(kind)))
        .unwrap_err();
    assert_eq!(
        problems(e),
        [("buyer.id_type".to_string(), "buyer_id_type".to_string())]
    );
    // A general-trade declaration has no buyer.
    let mut general: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    general["buyer"] = buyer().unwrap();
    let e = svc
        .filing()
        .submit(&ent, "b-4", &serde_json::to_vec(&general).unwrap())
        .unwrap_err();
    assert_eq!(
        problems(e),
        [("buyer".to_string(), "not_applicable".to_string())]
    );
    // A passport works as well as an identity card.
    let passport = json!({"id_type": "passport", "id_no": "e12345678", "name": "John Smith"});
    let f = svc
        .filing()
        .submit(&ent, "b-5", &retail(GREEN, 5, Some(passport)))
        .unwrap();
    assert!(f.declaration_no.is_some());
}

#[test]
fn purchases_count_against_the_buyers_year_at_acceptance_and_at_assessment() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    // First purchase, green lane: assessed at acceptance within the limits.
    let first = svc
        .filing()
        .submit(&enterprise(GREEN), "p-1", &retail(GREEN, 5, buyer()))
        .unwrap();
    assert!(first.declaration_no.is_some(), "{first:?}");
    let (value, before, within) = regime(&svc, first.id);
    assert!(value > 0 && value <= 500_000, "{value}");
    assert_eq!((before, within), (0, true));
    let notices = svc.store().payment_notices(first.id).unwrap();
    assert!(!notices.is_empty(), "taxes assessed at acceptance");

    // Second purchase by the same buyer from another shop, yellow lane: the officer assesses
    // it (it used to be refused: no buyer), counting the first purchase.
    let second = svc
        .filing()
        .submit(&enterprise(YELLOW), "p-2", &retail(YELLOW, 6, buyer()))
        .unwrap();
    assert_eq!(second.status, Status::DocumentReview, "{second:?}");
    let off = officer();
    let key = DeclarationKey::Id(second.id);
    svc.steps()
        .step(
            &off,
            key,
            Step::RecordReview {
                result: clearance::ExaminationResult::Conform,
            },
        )
        .unwrap();
    svc.steps().step(&off, key, Step::Assess).unwrap();
    assert!(!svc.store().payment_notices(second.id).unwrap().is_empty());
    let (value2, before2, within2) = regime(&svc, second.id);
    assert_eq!((before2, within2), (value, true));

    // Enough purchases to pass 26,000 yuan in the year: the next one is taxed in full.
    let mut total = value + value2;
    let mut n = 3;
    while total <= 2_600_000 - 400_000 {
        let f = svc
            .filing()
            .submit(
                &enterprise(GREEN),
                &format!("p-{n}"),
                &retail(GREEN, 6, buyer()),
            )
            .unwrap();
        total += regime(&svc, f.id).0;
        n += 1;
    }
    let last = svc
        .filing()
        .submit(&enterprise(GREEN), "p-last", &retail(GREEN, 6, buyer()))
        .unwrap();
    let (v, before, within) = regime(&svc, last.id);
    assert_eq!(before, total);
    assert!(total + v > 2_600_000, "{total} + {v}");
    assert!(!within);
    // Another buyer starts from nothing.
    let other = json!({"id_type": "passport", "id_no": "G98765432", "name": "李四"});
    let f = svc
        .filing()
        .submit(
            &enterprise(GREEN),
            "p-other",
            &retail(GREEN, 6, Some(other)),
        )
        .unwrap();
    assert_eq!(regime(&svc, f.id).1, 0);
}
