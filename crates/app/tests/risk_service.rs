//! The risk engine in the service, end to end on SQLite: the demo's risk setup gives every
//! lane with explanations for officers, and reference prices are rebuilt from released
//! declarations so that an undervalued filing is caught after a refresh.

mod common;
use common::pay;

use std::sync::Arc;

use app::{Clearance, Duty, ManualClock, NewUserRequest, Principal, Role, Step};
use chrono::{TimeZone, Utc};
use clearance::{CreditClass, EventKind, Lane, Status};
use domain::codes::{OfficeCode, Uscc};
use serde_json::Value;
use store::{DeclarationKey, ListFilter, PageRequest, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

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
    // The demo's classes decided before Jinguan: the AEO and the discredited enterprise. The
    // two general ones are the default, and a decision that changes no class records nothing
    // (docs/PARTIES.md "Credit").
    let mut classes: Vec<(String, CreditClass)> = rs
        .credit_classes()
        .unwrap()
        .into_iter()
        .map(|c| (c.uscc.as_str().to_owned(), c.class))
        .collect();
    classes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        classes,
        vec![
            (
                app::demo::ENTERPRISES[2].0.to_owned(),
                CreditClass::Discredited
            ),
            (
                app::demo::ENTERPRISES[0].0.to_owned(),
                CreditClass::AdvancedCertified
            ),
        ]
    );
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
    let ent = svc
        .users()
        .login("ent-bj", app::demo::DEMO_PASSWORD)
        .unwrap();
    let bj_red = red.iter().find(|d| d.declarant == bj).unwrap();
    let seen = svc
        .steps()
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
    let analyst = svc
        .users()
        .login("hq-analyst", app::demo::DEMO_PASSWORD)
        .unwrap();
    let report = serde_json::to_value(svc.risk().risk_report(&analyst.principal).unwrap()).unwrap();
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
    svc.users()
        .bootstrap_user(NewUserRequest {
            login: login.into(),
            password: PASSWORD.into(),
            role,
            duties: duties.to_vec(),
            office: office.map(|o| OfficeCode::parse(o).unwrap()),
            uscc: (role == Role::Enterprise).then(|| Uscc::parse(AEO).unwrap()),
            agency: None,
        })
        .unwrap();
    svc.users().login(login, PASSWORD).unwrap().principal
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
            .filing()
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
                .steps()
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
                .steps()
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
            status = svc
                .steps()
                .step(&officer, key, Step::Assess)
                .unwrap()
                .status;
        }
        assert_eq!(status, Status::Assessed);
        let notices: Vec<String> = svc
            .steps()
            .get(&ent, key)
            .unwrap()
            .notices
            .iter()
            .map(|n| n.notice_no.clone())
            .collect();
        for n in notices {
            pay(&svc, &ent, &n);
        }
        let s = svc
            .steps()
            .step(&officer, key, Step::Release)
            .unwrap()
            .status;
        assert_eq!(s, Status::Released);
        released += 1;
    }
    assert_eq!(released, 12);

    // Without references, a laptop at a fifth of the price goes through unchecked.
    let before = svc
        .filing()
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
    let refresh = svc.risk().refresh_prices(Some(&analyst)).unwrap();
    assert_eq!(refresh.declarations_read, 12);
    assert_eq!(refresh.items_used, 12);
    assert_eq!(refresh.references, 1);

    // ...and the next undervalued filing is raised to document review, with the numbers.
    let after = svc
        .filing()
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
        .filing()
        .submit(&ent, "usual", laptops("USUAL", "350.0000").as_bytes())
        .unwrap();
    assert_eq!(usual.lane, Some(Lane::Green));
}

/// The sampling part of a decision's explanation.
fn sampling_of(svc: &Clearance, id: store::DeclarationId) -> Value {
    let EventKind::LaneChosen { explanation, .. } = lane_chosen(svc, id) else {
        unreachable!()
    };
    explanation.expect("officers see the explanation")["sampling"].clone()
}

fn rates(class: &str, red_ppm: u32, yellow_ppm: u32) -> app::risk_desk::ClassRatesInput {
    app::risk_desk::ClassRatesInput {
        class: class.into(),
        red_ppm,
        yellow_ppm,
    }
}

fn policy(
    seed: &str,
    classes: Vec<app::risk_desk::ClassRatesInput>,
) -> app::risk_desk::NewRiskPolicy {
    app::risk_desk::NewRiskPolicy {
        seed: seed.into(),
        classes,
        price_check: None,
    }
}

/// The risk policy at run time (docs/RISK.md "Risk policy"): an HQ analyst publishes a seed
/// and sets a class's rates; the next declaration is decided by them (one whose draw lies
/// between the old and the new rate changes lane), its explanation records the seed and rates,
/// the version is stored with an audit record and loaded again at start. Stale versions are
/// refused (409), every problem is listed by field (422), and nobody else may set it.
#[test]
fn risk_policy_is_set_by_hq_analysts_versioned_and_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    let ent = user(&svc, "ent", Role::Enterprise, None, &[]);
    let hq = user(&svc, "hq-risk", Role::Hq, None, &[Duty::RiskAnalyst]);
    let reviewer = user(
        &svc,
        "reviewer",
        Role::Officer,
        Some("2200"),
        &[Duty::Reviewer],
    );

    // Before any write: the engine's default, version 0.
    let before = svc.risk().sampling_policy(&hq).unwrap();
    assert_eq!((before.version, before.set_by.as_deref()), (0, None));
    assert_eq!(before.seed, "jinguan-sampling-2025");
    let first = svc
        .filing()
        .submit(&ent, "p-1", laptops("P-1", "350.0000").as_bytes())
        .unwrap();
    let s1 = sampling_of(&svc, first.id);
    assert_eq!(s1["seed"], "jinguan-sampling-2025");
    assert_eq!(s1["credit_class"], "general");
    assert_eq!(
        (s1["red_ppm"].clone(), s1["yellow_ppm"].clone()),
        (30_000.into(), 50_000.into())
    );

    // The next two numbers are known; choose a seed whose draws for both lie well above the
    // general class's intervention rate (8 %), so that they are green under the old rates.
    let no = first.declaration_no.unwrap();
    let next = |k: u32| {
        domain::codes::DeclarationNo::new(no.office(), no.year(), no.direction(), no.serial() + k)
            .unwrap()
    };
    let (second_no, third_no) = (next(1), next(2));
    let seed = (0..1_000)
        .map(|k| format!("hq-2025Q2-{k}"))
        .find(|s| {
            [second_no, third_no]
                .iter()
                .all(|n| (100_000..900_000).contains(&risk::draw_ppm(s, n)))
        })
        .expect("a seed with both draws in range");
    let d2 = risk::draw_ppm(&seed, &second_no);
    let d3 = risk::draw_ppm(&seed, &third_no);

    // Version 1: the new seed, rates as before. The next filing is drawn with it: green.
    let v1 = svc
        .risk()
        .put_risk_policy(&hq, policy(&seed, vec![]), 0)
        .unwrap();
    assert_eq!((v1.version, v1.seed.as_str()), (1, seed.as_str()));
    assert_eq!(v1.set_by.as_deref(), Some("officer:0000:hq-risk"));
    let second = svc
        .filing()
        .submit(&ent, "p-2", laptops("P-2", "350.0000").as_bytes())
        .unwrap();
    assert_eq!(second.declaration_no, Some(second_no));
    assert_eq!(second.lane, Some(Lane::Green));
    let s2 = sampling_of(&svc, second.id);
    assert_eq!(
        (s2["seed"].as_str(), s2["draw_ppm"].as_u64()),
        (Some(seed.as_str()), Some(u64::from(d2)))
    );

    // A writer who did not see version 1 is refused and nothing changes.
    let stale = svc
        .risk()
        .put_risk_policy(
            &hq,
            policy("other-seed", vec![rates("general", 1_000_000, 0)]),
            0,
        )
        .unwrap_err();
    let app::AppError::Conflict { message_en, .. } = &stale else {
        panic!("a 409: {stale:?}")
    };
    assert!(
        message_en.contains("risk policy") && message_en.contains("version 1 is in force"),
        "{message_en}"
    );
    assert_eq!(svc.risk().sampling_policy(&hq).unwrap().seed, seed);

    // Every problem at once, by field, in both languages; nothing is stored.
    let mut bad = policy(
        "",
        vec![
            rates("platinum", 0, 0),
            rates("general", 600_000, 500_000),
            rates("discredited", 2_000_000, 0),
            rates("general", 0, 0),
        ],
    );
    bad.price_check = Some(risk::PriceCheckPolicy {
        max_ratio: rust_decimal::Decimal::from(2),
        lane: Lane::Green,
        ..risk::PriceCheckPolicy::default()
    });
    let app::AppError::Invalid(problems) = svc.risk().put_risk_policy(&hq, bad, 1).unwrap_err()
    else {
        panic!("a 422")
    };
    let got: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.field.as_str(), p.code.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("seed", "seed_empty"),
            ("classes[0].class", "unknown_class"),
            ("classes[1]", "rates_over_one"),
            ("classes[2].red_ppm", "rate_out_of_range"),
            ("classes[3].class", "duplicate_class"),
            ("price_check.max_ratio", "out_of_range"),
            ("price_check.lane", "lane_green"),
        ]
    );
    for p in &problems {
        assert!(
            !p.message_zh.is_empty() && !p.message_en.is_empty(),
            "{p:?}"
        );
    }
    assert!(
        problems[2].message_en.contains("1100000"),
        "{:?}",
        problems[2]
    );
    let long = "s".repeat(201);
    let app::AppError::Invalid(problems) = svc
        .risk()
        .put_risk_policy(&hq, policy(&long, vec![]), 1)
        .unwrap_err()
    else {
        panic!("a 422")
    };
    assert_eq!(
        (problems[0].field.as_str(), problems[0].code.as_str()),
        ("seed", "seed_too_long")
    );
    assert_eq!(svc.risk().sampling_policy(&hq).unwrap().version, 1);

    // Nobody but an HQ risk analyst: not an office analyst, not a reviewer, not an enterprise.
    let office_analyst = user(
        &svc,
        "sh-risk",
        Role::Officer,
        Some("2200"),
        &[Duty::RiskAnalyst],
    );
    let hq_reviewer = user(&svc, "hq-rev", Role::Hq, None, &[Duty::Reviewer]);
    let admin = Principal::Admin {
        user_id: 900,
        login: "root".into(),
    };
    let agency = Principal::Agency {
        user_id: 901,
        login: "mofcom".into(),
        agency: "commerce".into(),
    };
    for p in [
        &office_analyst,
        &hq_reviewer,
        &reviewer,
        &ent,
        &admin,
        &agency,
    ] {
        let e = svc
            .risk()
            .put_risk_policy(p, policy("mine", vec![rates("general", 1_000_000, 0)]), 1)
            .unwrap_err();
        assert!(matches!(e, app::AppError::Forbidden(_)), "{p:?}: {e:?}");
    }
    assert_eq!(svc.risk().sampling_policy(&hq).unwrap().seed, seed);
    // An officer of the HQ office (0000) with the analyst duty is an HQ analyst: a stale
    // version is the only thing refused here, so it passed authorization.
    let hq_office_analyst = user(
        &svc,
        "hq-office-risk",
        Role::Officer,
        Some("0000"),
        &[Duty::RiskAnalyst],
    );
    let e = svc
        .risk()
        .put_risk_policy(&hq_office_analyst, policy(&seed, vec![]), 0)
        .unwrap_err();
    assert!(matches!(e, app::AppError::Conflict { .. }), "{e:?}");

    // Version 2: the general class's red rate raised above the third filing's draw, which was
    // green under the old rates (30,000 + 50,000 ppm): it is now sampled red, without a restart.
    assert!(d3 >= 80_000);
    let red_ppm = d3 + 1;
    let mut v2 = policy(&seed, vec![rates("general", red_ppm, 0)]);
    v2.price_check = Some(risk::PriceCheckPolicy {
        min_observations: 20,
        ..risk::PriceCheckPolicy::default()
    });
    let v2 = svc.risk().put_risk_policy(&hq, v2, 1).unwrap();
    assert_eq!(v2.version, 2);
    assert_eq!(v2.price_check.min_observations, 20);
    let general = v2
        .classes
        .iter()
        .find(|c| c.class == clearance::CreditClass::General)
        .unwrap();
    assert_eq!((general.red_ppm, general.yellow_ppm), (red_ppm, 0));
    // Classes not given keep their rates.
    let aeo = v2
        .classes
        .iter()
        .find(|c| c.class == clearance::CreditClass::AdvancedCertified)
        .unwrap();
    assert_eq!((aeo.red_ppm, aeo.yellow_ppm), (2_000, 3_000));
    let third = svc
        .filing()
        .submit(&ent, "p-3", laptops("P-3", "350.0000").as_bytes())
        .unwrap();
    assert_eq!(third.declaration_no, Some(third_no));
    assert_eq!(third.lane, Some(Lane::Red));
    let s3 = sampling_of(&svc, third.id);
    assert_eq!(s3["seed"], seed.as_str());
    assert_eq!(s3["draw_ppm"], d3);
    assert_eq!(s3["red_ppm"], red_ppm);
    assert_eq!(s3["lane"], "red");
    // The earlier decisions keep the seed they were drawn with.
    assert_eq!(sampling_of(&svc, first.id)["seed"], "jinguan-sampling-2025");

    // Stored with history and audit records; loaded again at start.
    let rs = svc.store().risk_store().unwrap();
    let history = svc.risk().risk_policy_history(&hq, 10).unwrap();
    assert_eq!(
        history.iter().map(|h| h.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(rs.risk_policy().unwrap().unwrap().version, 2);
    assert!(svc.risk().risk_policy_history(&ent, 10).is_err());
    assert!(svc.store().verify_audit().unwrap().is_intact());
    drop(svc);
    let svc = service(dir.path());
    let loaded = svc.risk().sampling_policy(&hq).unwrap();
    assert_eq!((loaded.version, loaded.seed.as_str()), (2, seed.as_str()));
    assert_eq!(loaded.price_check.min_observations, 20);
    let general = loaded
        .classes
        .iter()
        .find(|c| c.class == clearance::CreditClass::General)
        .unwrap();
    assert_eq!(general.red_ppm, red_ppm);
}
