//! Transport and cargo control in the service with its DEFAULT configuration (the risk engine
//! chooses lanes inside the store: `AutomaticReview::AcceptRisk`), on SQLite: manifest matching
//! at acceptance, the late declaration fee, the write-off at release; and the cargo demo.

mod common;
use common::pay;

use std::sync::Arc;

use app::cargo_desk::{CargoDesk, CargoPolicy};
use app::{AppError, Clearance, Clock, Duty, ManualClock, NewUserRequest, Principal, Role, Step};
use cargo_control::{Bill, BillPosition, ManifestId, ManifestKind, TransitAlertKind, Voyage};
use chrono::{Duration, TimeZone, Utc};
use clearance::{Status, TaxKind};
use domain::codes::{OfficeCode, Uscc};
use serde_json::{json, Value};
use store::DeclarationKey;
use store_sqlite::{SqliteOptions, SqliteStore};

const PASSWORD: &str = "test-password";
const CARRIER: &str = "91310000MA1FL3CA34";
/// The demo's AEO importer.
const AEO: &str = "91310115MA1K4Q7B4Y";

fn service(dir: &std::path::Path, clock: Arc<ManualClock>) -> Clearance {
    service_paged(dir, clock, app::cargo_desk::TRANSIT_PAGE)
}

/// The service, its cargo desk loading the open transits `transit_page` at a time.
fn service_paged(dir: &std::path::Path, clock: Arc<ManualClock>, transit_page: u32) -> Clearance {
    let store = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    let desk = Arc::new(
        CargoDesk::open_paged(store.clone(), CargoPolicy::default(), transit_page).unwrap(),
    );
    let svc = Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock,
    )
    .with_registry(Box::new(app::demo::registry()))
    .with_cargo(desk);
    svc.load_risk().unwrap();
    svc
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ))
}

fn user(
    svc: &Clearance,
    login: &str,
    role: Role,
    office: Option<&str>,
    uscc: Option<&str>,
) -> Principal {
    svc.users()
        .bootstrap_user(NewUserRequest {
            login: login.into(),
            password: PASSWORD.into(),
            role,
            duties: if role == Role::Officer {
                vec![
                    Duty::Reviewer,
                    Duty::Inspector,
                    Duty::TaxOfficer,
                    Duty::ReleaseOfficer,
                ]
            } else {
                vec![]
            },
            office: office.map(|o| OfficeCode::parse(o).unwrap()),
            uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
            agency: None,
        })
        .unwrap();
    svc.users().login(login, PASSWORD).unwrap().principal
}

fn bill(no: &str, packages: u32, weight: &str) -> Bill {
    serde_json::from_value(json!({"bill_no": no, "kind": {"kind": "master"},
        "lines": [{"packages": packages, "package_type": "CT", "gross_weight_kg": weight, "description": "laptops"}]}))
    .unwrap()
}

fn voyage() -> Voyage {
    serde_json::from_value(json!({
        "means": {"mode": "flight", "flight_no": "CA986"},
        "voyage_no": "20250308", "direction": "import", "office": "2233"
    }))
    .unwrap()
}

fn import(bill: &str, contract: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["bill_no"] = bill.into();
    v["contract_no"] = contract.into();
    v.to_string().into_bytes()
}

fn problem_codes(e: AppError) -> Vec<String> {
    match e {
        AppError::Rejected { problems, .. } => problems.into_iter().map(|p| p.code).collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// Take a declaration through whatever its lane asks, to release.
fn clear(svc: &Clearance, off: &Principal, ent: &Principal, id: store::DeclarationId) {
    let key = DeclarationKey::Id(id);
    for _ in 0..12 {
        let d = svc.steps().get(ent, key).unwrap();
        let step = match d.state.status {
            Status::DocumentReview => Step::RecordReview {
                result: clearance::ExaminationResult::Conform,
            },
            Status::Inspection => Step::RecordInspection {
                result: clearance::ExaminationResult::Conform,
            },
            Status::AwaitingAssessment => Step::Assess,
            Status::Assessed => {
                let n = d.notices.iter().find(|n| n.paid_at.is_none()).unwrap();
                pay(svc, ent, &n.notice_no);
                continue;
            }
            Status::Paid => Step::Release,
            Status::Released => return,
            other => panic!("unexpected status {other:?}"),
        };
        svc.steps().step(off, key, step).unwrap();
    }
    panic!("not released after 12 steps");
}

#[test]
fn risk_lane_filings_are_matched_charged_late_and_written_off() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let svc = service(dir.path(), clock.clone());
    let carrier = user(&svc, "ca", Role::Carrier, None, Some(CARRIER));
    let ent = user(&svc, "ent", Role::Enterprise, None, Some(AEO));
    let off = user(&svc, "pd", Role::Officer, Some("2233"), None);
    let mf = ManifestId::parse("MF-RISK-1").unwrap();
    svc.cargo()
        .file_manifest(
            &carrier,
            mf,
            ManifestKind::Original,
            voyage(),
            vec![bill("AWB-1", 10, "260"), bill("AWB-LATE", 10, "260")],
        )
        .unwrap();

    // Not arrived yet, or an unknown bill: rejected at automatic review on the risk path.
    let e = svc
        .filing()
        .submit(&ent, "s-1", &import("AWB-1", "C-1"))
        .unwrap_err();
    assert_eq!(problem_codes(e), ["manifest_not_arrived"]);
    svc.cargo()
        .report_arrival(&carrier, mf, svc.now() - Duration::hours(2))
        .unwrap();
    let e = svc
        .filing()
        .submit(&ent, "s-2", &import("NOPE-1", "C-2"))
        .unwrap_err();
    assert_eq!(problem_codes(e), ["bill_unknown"]);

    // Matching: accepted with a lane explained by the risk engine, reserved on the bill.
    let filed = svc
        .filing()
        .submit(&ent, "s-3", &import("AWB-1", "C-3"))
        .unwrap();
    assert!(filed.declaration_no.is_some());
    let lane = svc
        .store()
        .events(filed.id)
        .unwrap()
        .into_iter()
        .find_map(|e| match e.event.kind {
            clearance::EventKind::LaneChosen { explanation, .. } => Some(explanation),
            _ => None,
        })
        .expect("a lane was chosen");
    assert!(
        lane.is_some(),
        "the risk engine chose the lane (with its explanation)"
    );
    let balance = |no: &str| {
        svc.cargo()
            .manifest(&off, &mf)
            .unwrap()
            .balance
            .bills
            .into_iter()
            .find(|b| b.bill_no.as_str() == no)
            .unwrap()
    };
    assert_eq!(
        (
            balance("AWB-1").position,
            balance("AWB-1").declared_packages
        ),
        (BillPosition::Declared, 10)
    );
    // Nothing is left on the bill for a second declaration.
    let e = svc
        .filing()
        .submit(&ent, "s-4", &import("AWB-1", "C-4"))
        .unwrap_err();
    assert_eq!(problem_codes(e), ["packages_differ"]);
    // Released: written off; declared on time: no late fee.
    clear(&svc, &off, &ent, filed.id);
    let b = balance("AWB-1");
    assert_eq!(
        (b.position, b.written_off_packages),
        (BillPosition::WrittenOff, 10)
    );
    let d = svc.steps().get(&ent, DeclarationKey::Id(filed.id)).unwrap();
    assert!(d
        .notices
        .iter()
        .all(|n| n.tax != TaxKind::LateDeclarationFee));

    // Twenty days after the arrival the other bill is declared: the late declaration fee is
    // charged on the risk path too, and the bill is written off at release.
    clock.set(svc.now() + Duration::days(20));
    let (ent, off) = (
        svc.users().login("ent", PASSWORD).unwrap().principal,
        svc.users().login("pd", PASSWORD).unwrap().principal,
    );
    let late = svc
        .filing()
        .submit(&ent, "s-5", &import("AWB-LATE", "C-5"))
        .unwrap();
    // Green (AEO), assessed at once inside the store's transaction: the risk engine's lane
    // hook is wrapped so that the fee joins the notices there.
    assert_eq!(late.lane, Some(clearance::Lane::Green));
    let d = svc.steps().get(&ent, DeclarationKey::Id(late.id)).unwrap();
    let fee = d
        .notices
        .iter()
        .find(|n| n.tax == TaxKind::LateDeclarationFee)
        .expect("a late declaration fee notice");
    assert!(fee.amount_fen.0 >= 5_000, "{fee:?}");
    clear(&svc, &off, &ent, late.id);
    let b = balance("AWB-LATE");
    assert_eq!(b.position, BillPosition::WrittenOff);
    assert!(svc.store().verify_audit().unwrap().is_intact());
}

#[test]
fn demo_with_cargo_control_matches_every_import_and_shows_cargo_work() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let svc = service(dir.path(), clock.clone());
    let summary = app::demo::load(&svc, 40).unwrap();
    // Every demo filing fails or passes as without cargo control: the imports all match.
    let rejected = summary
        .by_status
        .iter()
        .find(|(s, _)| *s == Status::Rejected)
        .map_or(0, |(_, n)| *n);
    assert_eq!(
        rejected, 4,
        "only the demo's unknown commodity codes: {summary:?}"
    );

    let off = svc
        .users()
        .login("pd-officer", "jinguan-demo")
        .unwrap()
        .principal;
    let carrier = svc
        .users()
        .login("carrier", "jinguan-demo")
        .unwrap()
        .principal;
    let post = svc
        .users()
        .login("post-sh", "jinguan-demo")
        .unwrap()
        .principal;
    let air = svc
        .cargo()
        .manifest(
            &carrier,
            &ManifestId::parse(app::demo::cargo::AIR_MANIFEST).unwrap(),
        )
        .unwrap();
    let positions = |p: BillPosition| air.balance.bills.iter().filter(|b| b.position == p).count();
    assert!(
        positions(BillPosition::WrittenOff) > 0,
        "released imports wrote their bills off"
    );
    assert!(positions(BillPosition::Declared) > 0);

    // The never-declared sea bill is late; the one carried by the overdue transit, still on its
    // way to Nanjing, is not: its declaration period has not started (《海关征收进口货物滞报金
    // 办法》, goods declared at the office of destination count from their arrival there).
    let late = svc.cargo().late_bills(&off).unwrap();
    let late_nos: Vec<&str> = late.iter().map(|b| b.bill_no.as_str()).collect();
    assert_eq!(late_nos, [app::demo::cargo::LATE_BILL], "{late:?}");
    let overdue = svc
        .cargo()
        .transit(
            &off,
            &cargo_control::TransitNo::parse(app::demo::cargo::TRANSIT_OVERDUE).unwrap(),
        )
        .unwrap();
    assert_eq!(
        overdue.state.declaration.unwrap().bills[0].as_str(),
        app::demo::cargo::INLAND_BILL
    );
    assert_eq!(overdue.state.arrived_at, None);

    // The sea import declared 20 days after arrival is matched to its bill.
    let sea = svc
        .cargo()
        .manifest(
            &off,
            &ManifestId::parse(app::demo::cargo::SEA_MANIFEST).unwrap(),
        )
        .unwrap();
    let sea_bill = sea
        .balance
        .bills
        .iter()
        .find(|b| b.bill_no.as_str() == app::demo::cargo::SEA_BILL)
        .unwrap();
    assert_eq!(
        (sea_bill.position, sea_bill.declared_packages),
        (BillPosition::Declared, 10)
    );

    // One transit overdue on its way to Nanjing (HQ sees it; Pudong is not its destination),
    // the other within its time limit.
    let hq = svc
        .users()
        .login("hq-analyst", "jinguan-demo")
        .unwrap()
        .principal;
    let alerts = svc.cargo().transit_alerts(&hq).unwrap();
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        alerts[0].transit_no.as_str(),
        app::demo::cargo::TRANSIT_OVERDUE
    );
    assert!(matches!(
        alerts[0].kind,
        TransitAlertKind::Overdue { arrived: false, overdue_minutes, .. } if overdue_minutes >= 5 * 60
    ));
    assert!(svc.cargo().transit_alerts(&off).unwrap().is_empty());
    assert_eq!(
        svc.cargo()
            .postal_outcomes(&post, false, 100)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        svc.cargo().postal_outcomes(&off, true, 100).unwrap().len(),
        1
    );
    assert!(svc.store().verify_audit().unwrap().is_intact());
}

/// Baggage and parcels are screened against the risk engine's watch list: a listed flight holds
/// the baggage arriving by it, a listed parcel number holds the parcel; the rest is released.
#[test]
fn postal_items_and_baggage_are_screened_against_the_watch_list() {
    use app::risk_desk::NewWatchEntry;
    use cargo_control::{BaggageDeclaration, Parcel, ParcelList, PostalOutcome};
    use clearance::Lane;
    use tax::PostalArticle;

    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), clock());
    svc.users()
        .bootstrap_user(NewUserRequest {
            login: "analyst".into(),
            password: PASSWORD.into(),
            role: Role::Officer,
            duties: vec![Duty::RiskAnalyst],
            office: Some(OfficeCode::parse("2200").unwrap()),
            uscc: None,
            agency: None,
        })
        .unwrap();
    let analyst = svc.users().login("analyst", PASSWORD).unwrap().principal;
    let officer = user(&svc, "pd", Role::Officer, Some("2233"), None);
    let post = user(&svc, "ems", Role::PostalOperator, None, Some(CARRIER));
    for (kind, value) in [("vessel", "MU5101"), ("bill", "EMS123456789CN")] {
        svc.risk()
            .add_watch_entry(
                &analyst,
                NewWatchEntry {
                    kind: kind.into(),
                    value: value.into(),
                    lane: Lane::Red,
                    suspend: true,
                    case: "JS-2025-7".into(),
                    until: None,
                },
            )
            .unwrap();
    }
    let article = || PostalArticle {
        description: "clothes".into(),
        category: 2,
        dutiable_value_yuan: "100".parse().unwrap(),
        quantity: "1".parse().unwrap(),
    };
    let baggage = |reference: &str, flight: &str| BaggageDeclaration {
        declaration_ref: reference.into(),
        passenger_id: "h:9".into(),
        arrived_by: flight.into(),
        office: OfficeCode::parse("2233").unwrap(),
        articles: vec![article()],
    };
    let held = svc
        .cargo()
        .file_baggage(&officer, baggage("B-1", "MU5101"))
        .unwrap();
    let PostalOutcome::Held { reasons } = &held.outcome else {
        panic!(
            "baggage from a listed flight must be held: {:?}",
            held.outcome
        )
    };
    assert_eq!(reasons[0].code, "watch_list_transport");
    let free = svc
        .cargo()
        .file_baggage(&officer, baggage("B-2", "CA986"))
        .unwrap();
    assert_eq!(free.outcome, PostalOutcome::Released);

    let parcel = |no: &str| Parcel {
        parcel_no: no.into(),
        dispatch_country: "USA".into(),
        addressee_id: "h:1".into(),
        articles: vec![article()],
    };
    let list = ParcelList {
        list_no: "L-1".into(),
        operator: Uscc::parse(CARRIER).unwrap(),
        office: OfficeCode::parse("2233").unwrap(),
        parcels: vec![parcel("EMS123456789CN"), parcel("EMS000000001CN")],
    };
    let decisions = svc.cargo().file_parcel_list(&post, list).unwrap();
    assert!(
        matches!(&decisions[0].outcome, PostalOutcome::Held { reasons } if reasons[0].code == "watch_list_reference"),
        "{:?}",
        decisions[0].outcome
    );
    assert_eq!(decisions[1].outcome, PostalOutcome::Released);
}

/// The bills of `mf` as `(bill, position, declared packages, declaration numbers)`.
fn bills_of(svc: &Clearance, off: &Principal, mf: &ManifestId) -> Vec<(String, BillPosition, u64)> {
    svc.cargo()
        .manifest(off, mf)
        .unwrap()
        .balance
        .bills
        .into_iter()
        .map(|b| {
            (
                b.bill_no.as_str().to_string(),
                b.position,
                b.declared_packages,
            )
        })
        .collect()
}

#[test]
fn concurrent_filings_on_distinct_bills_are_all_matched_and_survive_a_restart() {
    const N: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mf = ManifestId::parse("MF-CONC-1").unwrap();
    let nos = {
        let svc = service(dir.path(), clock.clone());
        let carrier = user(&svc, "ca", Role::Carrier, None, Some(CARRIER));
        let ent = user(&svc, "ent", Role::Enterprise, None, Some(AEO));
        let bills = (0..N)
            .map(|i| bill(&format!("AWB-C{i}"), 10, "260"))
            .collect();
        svc.cargo()
            .file_manifest(&carrier, mf, ManifestKind::Original, voyage(), bills)
            .unwrap();
        svc.cargo()
            .report_arrival(&carrier, mf, svc.now() - Duration::hours(2))
            .unwrap();
        let filed: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..N)
                .map(|i| {
                    let (svc, ent) = (&svc, &ent);
                    s.spawn(move || {
                        svc.filing().submit(
                            ent,
                            &format!("c-{i}"),
                            &import(&format!("AWB-C{i}"), &format!("C-C{i}")),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let nos: Vec<_> = filed
            .into_iter()
            .map(|f| f.expect("every filing on its own bill is accepted"))
            .map(|f| f.declaration_no.expect("accepted with a number"))
            .collect();
        let off = user(&svc, "pd", Role::Officer, Some("2233"), None);
        let before = bills_of(&svc, &off, &mf);
        assert_eq!(before.len(), N);
        assert!(
            before
                .iter()
                .all(|(_, p, n)| *p == BillPosition::Declared && *n == 10),
            "{before:?}"
        );
        nos
    };
    // Restart: the ledger replayed from the manifest log holds every match, under the
    // declaration numbers given (no provisional placeholder survives).
    let svc = service(dir.path(), clock);
    let off = svc.users().login("pd", PASSWORD).unwrap().principal;
    let after = bills_of(&svc, &off, &mf);
    assert_eq!(after.len(), N);
    assert!(
        after
            .iter()
            .all(|(_, p, n)| *p == BillPosition::Declared && *n == 10),
        "{after:?}"
    );
    assert!(svc.store().verify_audit().unwrap().is_intact());
    drop(svc);
    // The log holds one match per filing, under the number each was given.
    let mut matched = matched_in_log(dir.path());
    let mut nos = nos;
    matched.sort();
    nos.sort();
    assert_eq!(matched, nos);
}

/// The declaration numbers of the match events in the manifest log.
fn matched_in_log(dir: &std::path::Path) -> Vec<domain::codes::DeclarationNo> {
    let store = SqliteStore::open(dir, SqliteOptions::default()).unwrap();
    store::cargo::CargoStore::manifest_events(&store, 0, 10_000)
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event.kind {
            cargo_control::ManifestEventKind::DeclarationMatched { declaration_no, .. } => {
                Some(declaration_no)
            }
            _ => None,
        })
        .collect()
}

#[test]
fn two_concurrent_filings_on_one_bill_give_exactly_one_match() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mf = ManifestId::parse("MF-CONC-2").unwrap();
    {
        let svc = service(dir.path(), clock.clone());
        let carrier = user(&svc, "ca", Role::Carrier, None, Some(CARRIER));
        let ent = user(&svc, "ent", Role::Enterprise, None, Some(AEO));
        svc.cargo()
            .file_manifest(
                &carrier,
                mf,
                ManifestKind::Original,
                voyage(),
                vec![bill("AWB-ONE", 10, "260")],
            )
            .unwrap();
        svc.cargo()
            .report_arrival(&carrier, mf, svc.now() - Duration::hours(2))
            .unwrap();
        let results: Vec<_> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2)
                .map(|i| {
                    let (svc, ent) = (&svc, &ent);
                    s.spawn(move || {
                        svc.filing().submit(
                            ent,
                            &format!("one-{i}"),
                            &import("AWB-ONE", &format!("C-O{i}")),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let (ok, refused): (Vec<_>, Vec<_>) = results.into_iter().partition(|r| r.is_ok());
        assert_eq!((ok.len(), refused.len()), (1, 1));
        let e = refused.into_iter().next().unwrap().unwrap_err();
        assert_eq!(problem_codes(e), ["packages_differ"]);
        let off = user(&svc, "pd", Role::Officer, Some("2233"), None);
        assert_eq!(
            bills_of(&svc, &off, &mf),
            [("AWB-ONE".to_string(), BillPosition::Declared, 10)]
        );
    }
    let svc = service(dir.path(), clock);
    let off = svc.users().login("pd", PASSWORD).unwrap().principal;
    assert_eq!(
        bills_of(&svc, &off, &mf),
        [("AWB-ONE".to_string(), BillPosition::Declared, 10)]
    );
    drop(svc);
    assert_eq!(matched_in_log(dir.path()).len(), 1);
}

/// Manifest work elsewhere (other vessels filed and arriving) while enterprises file against
/// one manifest: every filing is accepted and matched, none answered with a conflict.
#[test]
fn filings_are_not_refused_by_manifest_work_on_other_manifests() {
    const N: usize = 24;
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path(), clock());
    let carrier = user(&svc, "ca", Role::Carrier, None, Some(CARRIER));
    let ent = user(&svc, "ent", Role::Enterprise, None, Some(AEO));
    let mf = ManifestId::parse("MF-BUSY-0").unwrap();
    let bills = (0..N)
        .map(|i| bill(&format!("AWB-B{i}"), 10, "260"))
        .collect();
    svc.cargo()
        .file_manifest(&carrier, mf, ManifestKind::Original, voyage(), bills)
        .unwrap();
    svc.cargo()
        .report_arrival(&carrier, mf, svc.now() - Duration::hours(2))
        .unwrap();
    let filed: Vec<_> = std::thread::scope(|s| {
        let busy = s.spawn(|| {
            for k in 1..=N {
                let other = ManifestId::parse(&format!("MF-BUSY-{k}")).unwrap();
                svc.cargo()
                    .file_manifest(
                        &carrier,
                        other,
                        ManifestKind::Original,
                        voyage(),
                        vec![bill(&format!("AWB-X{k}"), 5, "100")],
                    )
                    .unwrap();
                svc.cargo()
                    .report_arrival(&carrier, other, svc.now() - Duration::hours(1))
                    .unwrap();
            }
        });
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (svc, ent) = (&svc, &ent);
                s.spawn(move || {
                    svc.filing().submit(
                        ent,
                        &format!("busy-{i}"),
                        &import(&format!("AWB-B{i}"), &format!("C-B{i}")),
                    )
                })
            })
            .collect();
        busy.join().unwrap();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for f in &filed {
        let f = f.as_ref().expect("accepted, not a conflict");
        assert!(f.declaration_no.is_some(), "{f:?}");
    }
    let off = user(&svc, "pd", Role::Officer, Some("2233"), None);
    let bills = bills_of(&svc, &off, &mf);
    assert!(
        bills
            .iter()
            .all(|(_, p, n)| *p == BillPosition::Declared && *n == 10),
        "{bills:?}"
    );
}

/// Goods under transit wait for their arrival at the office of destination, and are declared
/// there; the index of bills in transit survives a restart.
#[test]
fn goods_in_transit_are_declared_at_the_destination_after_arrival_even_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mf = ManifestId::parse("MF-TR-1").unwrap();
    let no = cargo_control::TransitNo::parse("TRN-1").unwrap();
    let inland = |office: &str, contract: &str| {
        let mut v: Value = serde_json::from_slice(&import("TRB-1", contract)).unwrap();
        v["declaration_office"] = office.into();
        v["entry_exit_office"] = "2233".into();
        v.to_string().into_bytes()
    };
    {
        let svc = service(dir.path(), clock.clone());
        let carrier = user(&svc, "ca", Role::Carrier, None, Some(CARRIER));
        let ent = user(&svc, "ent", Role::Enterprise, None, Some(AEO));
        let pd = user(&svc, "pd", Role::Officer, Some("2233"), None);
        user(&svc, "nj", Role::Officer, Some("2300"), None);
        svc.cargo()
            .file_manifest(
                &carrier,
                mf,
                ManifestKind::Original,
                voyage(),
                vec![bill("TRB-1", 10, "260")],
            )
            .unwrap();
        svc.cargo()
            .report_arrival(&carrier, mf, svc.now() - Duration::hours(2))
            .unwrap();
        let decl: cargo_control::TransitDeclaration = serde_json::from_value(json!({
            "transit_no": "TRN-1", "declarant": CARRIER, "entry_office": "2233",
            "destination_office": "2300", "vehicle": {"mode": "truck", "plate": "沪A12345"},
            "seals": ["S1"], "route": ["Pudong", "Nanjing"], "time_limit_hours": 24,
            "guarantee": null, "bills": ["TRB-1"]
        }))
        .unwrap();
        svc.cargo().declare_transit(&carrier, decl).unwrap();
        svc.cargo().confirm_transit_departure(&pd, &no).unwrap();
        let e = svc
            .filing()
            .submit(&ent, "tr-0", &inland("2233", "C-TR-0"))
            .unwrap_err();
        assert_eq!(problem_codes(e), ["bill_in_transit"]);
    }
    // Restart: the bill is still bound to its transit.
    let svc = service(dir.path(), clock);
    let ent = svc.users().login("ent", PASSWORD).unwrap().principal;
    let nj = svc.users().login("nj", PASSWORD).unwrap().principal;
    let e = svc
        .filing()
        .submit(&ent, "tr-1", &inland("2300", "C-TR-1"))
        .unwrap_err();
    assert_eq!(problem_codes(e), ["bill_in_transit"]);
    // Whatever transport mode the import states (road: not matched to manifests).
    let mut road: Value = serde_json::from_slice(&inland("2300", "C-TR-R")).unwrap();
    road["transport_mode"] = "4".into();
    let e = svc
        .filing()
        .submit(&ent, "tr-r", road.to_string().as_bytes())
        .unwrap_err();
    assert_eq!(problem_codes(e), ["bill_in_transit"]);
    let sealed = vec![cargo_control::SealNo::parse("S1").unwrap()];
    let t = svc
        .cargo()
        .confirm_transit_arrival(&nj, &no, sealed, vec![])
        .unwrap();
    assert_eq!(t.state.status, cargo_control::TransitStatus::Arrived);
    // Arrived: at Pudong still refused, at Nanjing accepted and matched to the Pudong manifest.
    let e = svc
        .filing()
        .submit(&ent, "tr-2", &inland("2233", "C-TR-2"))
        .unwrap_err();
    assert_eq!(problem_codes(e), ["declaration_at_other_office"]);
    let filed = svc
        .filing()
        .submit(&ent, "tr-3", &inland("2300", "C-TR-3"))
        .unwrap();
    let declaration_no = filed.declaration_no.expect("accepted");
    clear(&svc, &nj, &ent, filed.id);
    let t = svc.cargo().clear_transit(&nj, &no, declaration_no).unwrap();
    assert_eq!(
        (t.state.status, t.state.cleared_by),
        (cargo_control::TransitStatus::Cleared, Some(declaration_no))
    );
    assert!(
        svc.cargo().manifest(&nj, &mf).is_err(),
        "Nanjing does not see Pudong's manifest"
    );
    let pd = svc.users().login("pd", PASSWORD).unwrap().principal;
    assert_eq!(
        bills_of(&svc, &pd, &mf),
        [("TRB-1".to_owned(), BillPosition::WrittenOff, 10)]
    );
}

/// More open transits than one page of the listing: after a restart every one of their bills is
/// still guarded (the desk reads the open transits page by page), and a cancelled transit's bill
/// is free.
#[test]
fn more_open_transits_than_one_page_are_all_guarded_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    let mf = ManifestId::parse("MF-TP-1").unwrap();
    let n = 7;
    let inland = |bill: &str, contract: &str| {
        let mut v: Value = serde_json::from_slice(&import(bill, contract)).unwrap();
        v["declaration_office"] = "2233".into();
        v["entry_exit_office"] = "2233".into();
        v.to_string().into_bytes()
    };
    let declaration = |i: u32| -> cargo_control::TransitDeclaration {
        serde_json::from_value(json!({
            "transit_no": format!("TP-{i}"), "declarant": CARRIER, "entry_office": "2233",
            "destination_office": "2300", "vehicle": {"mode": "truck", "plate": "沪A12345"},
            "seals": ["S1"], "route": ["Pudong", "Nanjing"], "time_limit_hours": 24,
            "guarantee": null, "bills": [format!("TPB-{i}")]
        }))
        .unwrap()
    };
    {
        let svc = service(dir.path(), clock.clone());
        let carrier = user(&svc, "ca", Role::Carrier, None, Some(CARRIER));
        user(&svc, "ent", Role::Enterprise, None, Some(AEO));
        let pd = user(&svc, "pd", Role::Officer, Some("2233"), None);
        let bills = (1..=n).map(|i| bill(&format!("TPB-{i}"), 10, "260"));
        svc.cargo()
            .file_manifest(
                &carrier,
                mf,
                ManifestKind::Original,
                voyage(),
                bills.collect(),
            )
            .unwrap();
        svc.cargo()
            .report_arrival(&carrier, mf, svc.now() - Duration::hours(2))
            .unwrap();
        for i in 1..=n {
            svc.cargo()
                .declare_transit(&carrier, declaration(i))
                .unwrap();
        }
        let no = |i: u32| cargo_control::TransitNo::parse(&format!("TP-{i}")).unwrap();
        svc.cargo().confirm_transit_departure(&pd, &no(2)).unwrap();
        svc.cargo().confirm_transit_departure(&pd, &no(6)).unwrap();
        svc.cargo()
            .cancel_transit(&carrier, &no(4), "plan changed".into())
            .unwrap();
    }
    // Restart, loading pages of 2: six open transits over three pages.
    let svc = service_paged(dir.path(), clock, 2);
    let ent = svc.users().login("ent", PASSWORD).unwrap().principal;
    let carrier = svc.users().login("ca", PASSWORD).unwrap().principal;
    for i in (1..=n).filter(|i| *i != 4) {
        let e = svc
            .filing()
            .submit(
                &ent,
                &format!("tp-{i}"),
                &inland(&format!("TPB-{i}"), &format!("C-TP-{i}")),
            )
            .unwrap_err();
        assert_eq!(problem_codes(e), ["bill_in_transit"], "bill TPB-{i}");
    }
    // A bill of the last page cannot be moved under a second transit either.
    let mut again = declaration(7);
    again.transit_no = cargo_control::TransitNo::parse("TP-8").unwrap();
    match svc.cargo().declare_transit(&carrier, again).unwrap_err() {
        AppError::Invalid(problems) => assert_eq!(
            problems.iter().map(|p| p.code.as_str()).collect::<Vec<_>>(),
            ["bill_in_transit"]
        ),
        other => panic!("expected the bill in transit, got {other:?}"),
    }
    // The cancelled transit's bill is declared where it arrived.
    let filed = svc
        .filing()
        .submit(&ent, "tp-4", &inland("TPB-4", "C-TP-4"))
        .unwrap();
    assert!(filed.declaration_no.is_some(), "accepted: {filed:?}");
}

/// The late declaration fee of goods under transit (《海关征收进口货物滞报金办法》): declared at
/// the office of destination, the 14 days count from the goods' arrival there, and not at all
/// while on the way; an ordinary bill counts from the entry arrival as before. The index of
/// transits behind it survives a restart.
#[test]
fn transit_bills_count_the_late_fee_from_the_arrival_at_the_destination() {
    use cargo_control::{PeriodStart, TransitNo, TransitStatus};
    let dir = tempfile::tempdir().unwrap();
    let clock = clock();
    // Day 0: 2025-03-10 (China), a Monday.
    let day0 = Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap();
    assert_eq!(clock.now(), day0);
    let at_day = |n: i64| day0 + Duration::days(n);
    let mf = ManifestId::parse("MF-TRF-1").unwrap();
    let (tr_a, tr_b) = (
        TransitNo::parse("TR-A").unwrap(),
        TransitNo::parse("TR-B").unwrap(),
    );
    let inland = |bill: &str, contract: &str| {
        let mut v: Value = serde_json::from_slice(&import(bill, contract)).unwrap();
        v["declaration_office"] = "2300".into();
        v["entry_exit_office"] = "2233".into();
        v.to_string().into_bytes()
    };
    let fee_of = |svc: &Clearance, ent: &Principal, id| {
        svc.steps()
            .get(ent, DeclarationKey::Id(id))
            .unwrap()
            .notices
            .iter()
            .find(|n| n.tax == TaxKind::LateDeclarationFee)
            .map(|n| n.amount_fen.0)
    };
    let listed = |svc: &Clearance, p: &Principal| -> Vec<String> {
        svc.cargo()
            .late_bills(p)
            .unwrap()
            .iter()
            .map(|b| b.bill_no.as_str().to_owned())
            .collect()
    };
    {
        let svc = service(dir.path(), clock.clone());
        let carrier = user(&svc, "ca", Role::Carrier, None, Some(CARRIER));
        user(&svc, "ent", Role::Enterprise, None, Some(AEO));
        let pd = user(&svc, "pd", Role::Officer, Some("2233"), None);
        user(&svc, "nj", Role::Officer, Some("2300"), None);
        svc.cargo()
            .file_manifest(
                &carrier,
                mf,
                ManifestKind::Original,
                voyage(),
                vec![
                    bill("TRF-1", 10, "260"),
                    bill("TRF-2", 10, "260"),
                    bill("TRW-1", 10, "260"),
                    bill("ORD-1", 10, "260"),
                ],
            )
            .unwrap();
        svc.cargo()
            .report_arrival(&carrier, mf, svc.now() - Duration::hours(2))
            .unwrap();
        let transit = |no: &str, hours: i64, bills: &[&str]| -> cargo_control::TransitDeclaration {
            serde_json::from_value(json!({
                "transit_no": no, "declarant": CARRIER, "entry_office": "2233",
                "destination_office": "2300", "vehicle": {"mode": "truck", "plate": "沪A12345"},
                "seals": ["S1"], "route": ["Pudong", "Nanjing"], "time_limit_hours": hours,
                "guarantee": null, "bills": bills
            }))
            .unwrap()
        };
        svc.cargo()
            .declare_transit(&carrier, transit("TR-A", 96, &["TRF-1", "TRF-2"]))
            .unwrap();
        svc.cargo()
            .declare_transit(&carrier, transit("TR-B", 720, &["TRW-1"]))
            .unwrap();
        svc.cargo().confirm_transit_departure(&pd, &tr_a).unwrap();
        svc.cargo().confirm_transit_departure(&pd, &tr_b).unwrap();
        let sealed = || vec![cargo_control::SealNo::parse("S1").unwrap()];

        // Day 3 (03-13): TR-A arrives at Nanjing; its bills' deadline is 03-27 (Thursday).
        clock.set(at_day(3));
        let nj = svc.users().login("nj", PASSWORD).unwrap().principal;
        svc.cargo()
            .confirm_transit_arrival(&nj, &tr_a, sealed(), vec![])
            .unwrap();

        // Day 16 (03-26): the ordinary bill is late since 03-24, counted from the entry arrival;
        // the transit bills are not (TR-A arrived on 03-13, TR-B is on its way).
        clock.set(at_day(16));
        let (ent, pd, nj) = (
            svc.users().login("ent", PASSWORD).unwrap().principal,
            svc.users().login("pd", PASSWORD).unwrap().principal,
            svc.users().login("nj", PASSWORD).unwrap().principal,
        );
        let late = svc.cargo().late_bills(&pd).unwrap();
        assert_eq!(late.len(), 1, "{late:?}");
        let ord = &late[0];
        assert_eq!(ord.bill_no.as_str(), "ORD-1");
        assert_eq!(ord.arrival_date.to_string(), "2025-03-10");
        assert_eq!(
            (ord.deadline.to_string(), ord.days),
            ("2025-03-24".into(), 2)
        );
        assert!(matches!(ord.counted_from, PeriodStart::EntryArrival { .. }));
        assert!(
            ord.explanation_en.contains("office of entry 2233"),
            "{}",
            ord.explanation_en
        );
        assert!(
            listed(&svc, &nj).is_empty(),
            "Nanjing: no bill of its own is late"
        );
        // TRF-1 declared at Nanjing 16 days after the entry arrival, 13 after the arrival at
        // the destination: no late declaration fee.
        let trf1 = svc
            .filing()
            .submit(&ent, "trf-1", &inland("TRF-1", "C-TRF-1"))
            .unwrap();
        clear(&svc, &nj, &ent, trf1.id);
        assert_eq!(fee_of(&svc, &ent, trf1.id), None);

        // Day 20 (03-30): TRF-2 is late since 03-28 (3 days), listed for Nanjing too, counted
        // from the arrival at the destination; TRW-1 (on its way) is not listed.
        clock.set(at_day(20));
        let (ent, pd, nj) = (
            svc.users().login("ent", PASSWORD).unwrap().principal,
            svc.users().login("pd", PASSWORD).unwrap().principal,
            svc.users().login("nj", PASSWORD).unwrap().principal,
        );
        assert_eq!(listed(&svc, &pd), ["ORD-1", "TRF-2"]);
        let late = svc.cargo().late_bills(&nj).unwrap();
        assert_eq!(
            late.len(),
            1,
            "Nanjing sees the transit bill it will declare: {late:?}"
        );
        let trf2 = &late[0];
        assert_eq!(trf2.bill_no.as_str(), "TRF-2");
        assert_eq!(
            (
                trf2.arrival_date.to_string(),
                trf2.deadline.to_string(),
                trf2.days
            ),
            ("2025-03-13".into(), "2025-03-27".into(), 3)
        );
        match &trf2.counted_from {
            PeriodStart::DestinationArrival {
                transit_no,
                destination_office,
                ..
            } => assert_eq!(
                (transit_no.as_str(), destination_office.as_str()),
                ("TR-A", "2300")
            ),
            other => panic!("expected the destination arrival, got {other:?}"),
        }
        assert!(
            trf2.explanation_zh.contains("运抵指运地之日"),
            "{}",
            trf2.explanation_zh
        );
        // Declared today, 17 days after the arrival at the destination: 3 days of fee, half of
        // the ordinary bill's 6 days on the same value (counted from the entry arrival the
        // transit bill would pay the same as the ordinary one).
        let trf2 = svc
            .filing()
            .submit(&ent, "trf-2", &inland("TRF-2", "C-TRF-2"))
            .unwrap();
        clear(&svc, &nj, &ent, trf2.id);
        let ord = svc
            .filing()
            .submit(&ent, "ord-1", &import("ORD-1", "C-ORD-1"))
            .unwrap();
        clear(&svc, &pd, &ent, ord.id);
        let (trf2_fee, ord_fee) = (
            fee_of(&svc, &ent, trf2.id).expect("a late fee for TRF-2"),
            fee_of(&svc, &ent, ord.id).expect("a late fee for ORD-1"),
        );
        assert!(trf2_fee >= 5_000, "{trf2_fee}");
        assert!(
            (ord_fee - 2 * trf2_fee).abs() <= 1,
            "{ord_fee} vs {trf2_fee}"
        );
        // TR-A cleared by TRF-2's declaration; TR-B arrives today.
        let t = svc
            .cargo()
            .clear_transit(&nj, &tr_a, trf2.declaration_no.unwrap())
            .unwrap();
        assert_eq!(t.state.status, TransitStatus::Cleared);
        svc.cargo()
            .confirm_transit_arrival(&nj, &tr_b, sealed(), vec![])
            .unwrap();
        assert!(listed(&svc, &pd).is_empty(), "TRW-1's 14 days start today");
    }
    // Restart on day 35 (04-14): TRW-1's day 14 (04-13) is a Sunday, moved to Monday 04-14.
    clock.set(at_day(35));
    let svc = service(dir.path(), clock.clone());
    let nj = svc.users().login("nj", PASSWORD).unwrap().principal;
    assert!(listed(&svc, &nj).is_empty());
    // Day 36: one day late, from the arrival at the destination loaded from the store.
    clock.set(at_day(36));
    let nj = svc.users().login("nj", PASSWORD).unwrap().principal;
    let late = svc.cargo().late_bills(&nj).unwrap();
    assert_eq!(late.len(), 1, "{late:?}");
    assert_eq!(late[0].bill_no.as_str(), "TRW-1");
    assert_eq!(
        (
            late[0].arrival_date.to_string(),
            late[0].deadline.to_string(),
            late[0].days
        ),
        ("2025-03-30".into(), "2025-04-14".into(), 1)
    );
    assert!(matches!(
        late[0].counted_from,
        PeriodStart::DestinationArrival { .. }
    ));
}
