//! The risk engine in the service, end to end on SQLite: the demo's risk setup gives every
//! lane with explanations for officers, and reference prices are rebuilt from released
//! declarations so that an undervalued filing is caught after a refresh.

use std::sync::Arc;

use app::{Clearance, Duty, ManualClock, NewUserRequest, Principal, Role, Step};
use chrono::{TimeZone, Utc};
use clearance::{EventKind, Lane, Status};
use domain::codes::{OfficeCode, Uscc};
use serde_json::Value;
use store::sqlite::{SqliteOptions, SqliteStore};
use store::{DeclarationKey, ListFilter, PageRequest, Store};

fn service(dir: &std::path::Path) -> Clearance {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    let svc = Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock,
    );
    svc.load_risk().unwrap();
    svc
}

/// The `LaneChosen` event of a declaration as the store has it (officers see all of it).
fn lane_chosen(svc: &Clearance, id: store::DeclarationId) -> EventKind {
    svc.store()
        .events(id)
        .unwrap()
        .into_iter()
        .map(|e| e.event.kind)
        .find(|k| matches!(k, EventKind::LaneChosen { .. }))
        .expect("a lane_chosen event")
}

fn rules_fired(explanation: &Value) -> Vec<String> {
    explanation["rules_fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn demo_shows_every_lane_with_explanations_for_officers() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path()).with_registry(Box::new(app::demo::registry()));
    app::demo::load(&svc, 40).unwrap();

    let rs = svc.store().risk_store().unwrap();
    let rules = rs.rules().unwrap().expect("the demo stored its rule set");
    assert_eq!(rules.version, 1);
    assert_eq!(rs.credit_classes().unwrap().len(), 4);
    let watch = rs.watch_entries().unwrap();
    assert_eq!(watch.len(), 1);
    assert_eq!(watch[0].entry.value, app::demo::risk::WATCHED_ENTERPRISE);

    let of_lane = |lane: Lane| {
        svc.store()
            .list(
                &ListFilter {
                    lane: Some(lane),
                    ..ListFilter::default()
                },
                &PageRequest {
                    after: None,
                    limit: 100,
                },
            )
            .unwrap()
            .items
    };
    let bj = Uscc::parse("91110000600037341L").unwrap();
    let sh = Uscc::parse("91310115MA1K4Q7B4Y").unwrap();
    let sh2 = Uscc::parse(app::demo::risk::WATCHED_ENTERPRISE).unwrap();
    for lane in [Lane::Green, Lane::Yellow, Lane::Red, Lane::Blue] {
        assert!(
            !of_lane(lane).is_empty(),
            "the demo has {lane:?} declarations"
        );
    }
    // Every decision has its feedback row (written with the filing).
    let decided: usize = [Lane::Green, Lane::Yellow, Lane::Red, Lane::Blue]
        .into_iter()
        .map(|l| of_lane(l).len())
        .sum();
    assert_eq!(rs.feedback(1_000).unwrap().len(), decided);
    // Red: every filing of the discredited enterprise, by the rule, explained.
    let red = of_lane(Lane::Red);
    assert!(red.iter().any(|d| d.declarant == bj));
    for d in of_lane(Lane::Green)
        .iter()
        .chain(&of_lane(Lane::Blue))
        .chain(&of_lane(Lane::Yellow))
    {
        assert_ne!(d.declarant, bj, "a discredited filing outside the red lane");
    }
    for d in red.iter().filter(|d| d.declarant == bj) {
        let EventKind::LaneChosen {
            explanation,
            inspection,
            reasons,
            ..
        } = lane_chosen(&svc, d.id)
        else {
            unreachable!()
        };
        let explanation = explanation.expect("officers see the explanation");
        assert!(rules_fired(&explanation).contains(&"DEMO-DISCREDITED-RED".to_owned()));
        assert_eq!(
            explanation["sampling"]["seed"],
            app::demo::risk::DEMO_SAMPLING_SEED
        );
        assert_eq!(inspection.as_deref(), Some("physical"));
        assert_eq!(reasons[0].code, "discredited_enterprise");
    }
    // Blue: large imports of the AEO enterprise.
    for d in of_lane(Lane::Blue) {
        assert_eq!(d.declarant, sh);
        let EventKind::LaneChosen { explanation, .. } = lane_chosen(&svc, d.id) else {
            unreachable!()
        };
        assert!(rules_fired(&explanation.unwrap()).contains(&"DEMO-AEO-BLUE".to_owned()));
    }
    // Yellow: the enterprise on the watch list (unless sampled red).
    let yellow = of_lane(Lane::Yellow);
    let watched = yellow
        .iter()
        .find(|d| d.declarant == sh2)
        .expect("a watched filing in the yellow lane");
    let EventKind::LaneChosen {
        explanation,
        reasons,
        ..
    } = lane_chosen(&svc, watched.id)
    else {
        unreachable!()
    };
    assert_eq!(reasons[0].code, "watch_enterprise");
    assert_eq!(
        explanation.unwrap()["watch_hits"][0]["entry"]["case"],
        app::demo::risk::WATCH_CASE
    );

    // Enterprises do not see any of it.
    let ent = svc.login("ent-bj", app::demo::DEMO_PASSWORD).unwrap();
    let bj_red = red.iter().find(|d| d.declarant == bj).unwrap();
    let seen = svc
        .get(&ent.principal, DeclarationKey::Id(bj_red.id))
        .unwrap();
    for e in &seen.events {
        if let EventKind::LaneChosen {
            explanation,
            reasons,
            ..
        } = &e.event.kind
        {
            assert!(explanation.is_none());
            assert_eq!(reasons[0].code, "lane_red");
        }
    }

    // The analysts' report reads the feedback the demo's decisions left.
    let analyst = svc.login("hq-analyst", app::demo::DEMO_PASSWORD).unwrap();
    let report = serde_json::to_value(svc.risk_report(&analyst.principal).unwrap()).unwrap();
    assert!(
        report.to_string().contains("DEMO-DISCREDITED-RED@1"),
        "{report}"
    );

    // Loading again keeps what is stored.
    app::demo::load(&svc, 40).unwrap();
    assert_eq!(rs.rules().unwrap().unwrap().version, 1);
    assert_eq!(rs.watch_entries().unwrap().len(), 1);
    assert!(svc.store().verify_audit().unwrap().is_intact());
}

const PASSWORD: &str = "test-password";
const AEO: &str = "91310115MA1K4Q7B4Y";

fn user(
    svc: &Clearance,
    login: &str,
    role: Role,
    office: Option<&str>,
    duties: &[Duty],
) -> Principal {
    svc.bootstrap_user(NewUserRequest {
        login: login.into(),
        password: PASSWORD.into(),
        role,
        duties: duties.to_vec(),
        office: office.map(|o| OfficeCode::parse(o).unwrap()),
        uscc: (role == Role::Enterprise).then(|| Uscc::parse(AEO).unwrap()),
        agency: None,
    })
    .unwrap();
    svc.login(login, PASSWORD).unwrap().principal
}

/// The laptop import at a unit price (USD), quantity 10.
fn laptops(contract: &str, unit_price: &str) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["contract_no"] = contract.into();
    let item = &mut v["items"][0];
    for f in ["declared_quantity", "first_quantity"] {
        item[f] = "10".into();
    }
    item["second_quantity"] = "15".into();
    item["unit_price"] = unit_price.into();
    let price: rust_decimal::Decimal = unit_price.parse().unwrap();
    item["total_price"] = format!("{:.2}", price * rust_decimal::Decimal::from(10)).into();
    v.to_string()
}

#[test]
fn reference_prices_refresh_from_released_declarations() {
    let dir = tempfile::tempdir().unwrap();
    // The registry's AEO class: sampling almost never intervenes.
    let svc = service(dir.path()).with_registry(Box::new(app::demo::registry()));
    let ent = user(&svc, "ent", Role::Enterprise, None, &[]);
    let officer = user(
        &svc,
        "officer",
        Role::Officer,
        Some("2233"),
        &[
            Duty::Reviewer,
            Duty::Inspector,
            Duty::TaxOfficer,
            Duty::ReleaseOfficer,
        ],
    );
    let analyst = user(&svc, "analyst", Role::Hq, None, &[Duty::RiskAnalyst]);

    // Twelve laptop imports at the usual price, released.
    let mut released = 0;
    for i in 0..12 {
        let f = svc
            .submit(
                &ent,
                &format!("ok-{i}"),
                laptops(&format!("OK-{i}"), "350.0000").as_bytes(),
            )
            .unwrap();
        let key = DeclarationKey::Id(f.id);
        let mut status = f.status;
        if status == Status::Inspection {
            status = svc
                .step(
                    &officer,
                    key,
                    Step::RecordInspection {
                        result: clearance::ExaminationResult::Conform,
                    },
                )
                .unwrap()
                .status;
        }
        if status == Status::DocumentReview {
            status = svc
                .step(
                    &officer,
                    key,
                    Step::RecordReview {
                        result: clearance::ExaminationResult::Conform,
                    },
                )
                .unwrap()
                .status;
        }
        if status == Status::AwaitingAssessment {
            status = svc.step(&officer, key, Step::Assess).unwrap().status;
        }
        assert_eq!(status, Status::Assessed);
        let notices: Vec<String> = svc
            .get(&ent, key)
            .unwrap()
            .notices
            .iter()
            .map(|n| n.notice_no.clone())
            .collect();
        for n in notices {
            svc.step(&ent, key, Step::Pay { notice_no: n }).unwrap();
        }
        let s = svc.step(&officer, key, Step::Release).unwrap().status;
        assert_eq!(s, Status::Released);
        released += 1;
    }
    assert_eq!(released, 12);

    // Without references, a laptop at a fifth of the price goes through unchecked.
    let before = svc
        .submit(&ent, "cheap-1", laptops("CHEAP-1", "70.0000").as_bytes())
        .unwrap();
    assert_eq!(before.lane, Some(Lane::Green));
    let EventKind::LaneChosen { explanation, .. } = lane_chosen(&svc, before.id) else {
        unreachable!()
    };
    let explanation = explanation.unwrap();
    assert_eq!(explanation["price_findings"], serde_json::json!([]));
    assert_eq!(explanation["price_unchecked_items"], serde_json::json!([1]));

    // A refresh reads the released declarations...
    let refresh = svc.refresh_prices(Some(&analyst)).unwrap();
    assert_eq!(refresh.declarations_read, 12);
    assert_eq!(refresh.items_used, 12);
    assert_eq!(refresh.references, 1);

    // ...and the next undervalued filing is raised to document review, with the numbers.
    let after = svc
        .submit(&ent, "cheap-2", laptops("CHEAP-2", "70.0000").as_bytes())
        .unwrap();
    assert_eq!(after.lane, Some(Lane::Yellow));
    assert_eq!(after.status, Status::DocumentReview);
    let EventKind::LaneChosen {
        reasons,
        explanation,
        ..
    } = lane_chosen(&svc, after.id)
    else {
        unreachable!()
    };
    assert_eq!(reasons[0].code, "price_below_reference");
    let finding = &explanation.unwrap()["price_findings"][0];
    assert_eq!(finding["reference"]["observations"], 12);
    // A filing at the usual price stays green.
    let usual = svc
        .submit(&ent, "usual", laptops("USUAL", "350.0000").as_bytes())
        .unwrap();
    assert_eq!(usual.lane, Some(Lane::Green));
}
