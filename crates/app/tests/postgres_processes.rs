//! Several processes on one PostgreSQL database (issue 16 item 3, docs/STORE.md "Several
//! processes"): two services, each with its own `PostgresStore` (its own writer, connections
//! and in-memory ledgers) on ONE schema, as two `jinguan serve` processes are.
//!
//! - numbering: filings sent to both at once take every pre-entry and declaration number once;
//! - idempotency: one Client-Seq-No sent to both gives one declaration;
//! - the cargo ledger: a manifest filed through one is matched through the other once it has
//!   synced (`Clearance::sync_from_store`, the server's `--sync-ms` timer);
//! - NOT YET (ignored test below, a known gap): one bill claimed through both at once is matched
//!   twice. The store's manifest-log check lets match events past the ledger's sequence through
//!   (`store::plan::manifest_seq`, `ManifestLog::admits`: in one process, matches in flight are
//!   already reserved in its ledger); across processes they are not.
//! - credit classes and sessions: a change made through one counts in the other after a sync.
//!
//! Needs `JINGUAN_TEST_POSTGRES_URL` (skipped without it, failed without it in CI).

use std::collections::HashSet;
use std::sync::Arc;

use app::cargo_desk::{CargoDesk, CargoPolicy};
use app::{AppError, Clearance, Duty, ManualClock, NewUserRequest, Principal, Role};
use cargo_control::{Bill, ManifestId, ManifestKind, Voyage};
use chrono::{Duration, TimeZone, Utc};
use clearance::CreditClass;
use domain::codes::{OfficeCode, Uscc};
use serde_json::{json, Value};
use store::cargo::CargoStore;
use store_postgres::{PostgresOptions, PostgresStore};

const URL_VAR: &str = "JINGUAN_TEST_POSTGRES_URL";
const PASSWORD: &str = "test-password";
const CARRIER: &str = "91310000MA1FL3CA34";
/// The demo's AEO importer.
const AEO: &str = "91310115MA1K4Q7B4Y";

fn url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
        assert!(
            !ci,
            "{URL_VAR} must be set in CI (.ci/run starts PostgreSQL)"
        );
        eprintln!("skipped: {URL_VAR} not set");
    }
    url
}

fn drop_schema(url: &str, schema: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .expect("connect");
        tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            .await
            .expect("drop schema");
    });
}

/// One "process": its own store (writer, pool), cargo ledger, risk engine and session cache.
fn process(url: &str, schema: &str, clock: Arc<ManualClock>) -> (Clearance, Arc<PostgresStore>) {
    let store = Arc::new(
        PostgresStore::open(
            url,
            PostgresOptions {
                schema: Some(schema.to_owned()),
                ..PostgresOptions::default()
            },
        )
        .expect("open store"),
    );
    let desk = Arc::new(CargoDesk::open(store.clone(), CargoPolicy::default()).unwrap());
    let svc = Clearance::new(
        store.clone(),
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock,
    )
    .with_registry(Box::new(app::demo::registry()))
    .with_cargo(desk);
    svc.load_risk().unwrap();
    (svc, store)
}

fn user(svc: &Clearance, login: &str, role: Role, office: Option<&str>, uscc: Option<&str>) {
    svc.users()
        .bootstrap_user(NewUserRequest {
            login: login.into(),
            password: PASSWORD.into(),
            role,
            duties: if role == Role::Officer {
                vec![Duty::Reviewer]
            } else {
                vec![]
            },
            office: office.map(|o| OfficeCode::parse(o).unwrap()),
            uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
            agency: None,
        })
        .unwrap();
}

fn login(svc: &Clearance, login: &str) -> Principal {
    svc.users().login(login, PASSWORD).unwrap().principal
}

fn bill(no: &str) -> Bill {
    serde_json::from_value(json!({"bill_no": no, "kind": {"kind": "master"},
        "lines": [{"packages": 10, "package_type": "CT", "gross_weight_kg": "260", "description": "laptops"}]}))
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

/// How many match events the shared manifest log holds for a bill.
fn matches_in_log(store: &PostgresStore, bill_no: &str) -> usize {
    store
        .manifest_events(0, 10_000)
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(&e.event.kind,
                cargo_control::ManifestEventKind::DeclarationMatched { bill_no: b, .. } if b.to_string() == bill_no)
        })
        .count()
}

#[test]
fn two_processes_on_one_database_number_once_file_once_and_share_their_ledgers() {
    let Some(url) = url() else { return };
    let schema = format!("jinguan_test_processes_{}", std::process::id());
    drop_schema(&url, &schema);
    let result = std::panic::catch_unwind(|| run(&url, &schema));
    drop_schema(&url, &schema);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

const BILLS: usize = 40;

fn run(url: &str, schema: &str) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    let (a, store) = process(url, schema, clock.clone());
    let (b, _) = process(url, schema, clock.clone());
    user(&a, "ca", Role::Carrier, None, Some(CARRIER));
    user(&a, "ent", Role::Enterprise, None, Some(AEO));
    // A reviewer of a directly-affiliated customs decides credit classes.
    user(&a, "hq", Role::Officer, Some("2200"), None);
    let (carrier, ent_a) = (login(&a, "ca"), login(&a, "ent"));
    // The users are in the database: the other process signs them in.
    let ent_b = login(&b, "ent");

    // --- the cargo ledger: a manifest filed through A ----------------------------------------
    let mf = ManifestId::parse("MF-PROC-1").unwrap();
    let bills: Vec<Bill> = (0..BILLS).map(|i| bill(&format!("AWB-P{i:03}"))).collect();
    a.cargo()
        .file_manifest(&carrier, mf, ManifestKind::Original, voyage(), bills)
        .unwrap();
    a.cargo()
        .report_arrival(&carrier, mf, a.now() - Duration::hours(2))
        .unwrap();
    // B has not read the log since it opened: the bill is unknown there.
    let before = b
        .filing()
        .submit(&ent_b, "p-before", &import("AWB-P000", "C-B"));
    assert!(
        before.as_ref().map_or(true, |f| f.declaration_no.is_none()),
        "B matched a bill it cannot know yet: {before:?}"
    );
    let taken_in = b.sync_from_store().unwrap();
    assert!(
        taken_in >= 2,
        "the manifest's filing and arrival: {taken_in}"
    );
    let f = b
        .filing()
        .submit(&ent_b, "p-after", &import("AWB-P001", "C-1"))
        .unwrap();
    assert!(f.declaration_no.is_some(), "matched through B: {f:?}");
    assert_eq!(matches_in_log(&store, "AWB-P001"), 1);
    // A learns of B's match at its next sync; its ledger then refuses the bill at once.
    a.sync_from_store().unwrap();

    // --- numbering and idempotency across the two ---------------------------------------------
    let filings: Vec<app::Filing> = std::thread::scope(|s| {
        let handles: Vec<_> = (3..BILLS)
            .map(|i| {
                let (svc, ent) = if i % 2 == 0 {
                    (&a, &ent_a)
                } else {
                    (&b, &ent_b)
                };
                s.spawn(move || {
                    svc.filing()
                        .submit(
                            ent,
                            &format!("p-{i:03}"),
                            &import(&format!("AWB-P{i:03}"), &format!("C-{i}")),
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let pre: HashSet<String> = filings.iter().map(|f| f.pre_entry_no.to_string()).collect();
    assert_eq!(pre.len(), filings.len(), "a pre-entry number taken twice");
    let numbers: Vec<String> = filings
        .iter()
        .filter_map(|f| f.declaration_no.map(|n| n.to_string()))
        .collect();
    let distinct: HashSet<&String> = numbers.iter().collect();
    assert_eq!(
        distinct.len(),
        numbers.len(),
        "a declaration number taken twice"
    );
    assert_eq!(
        numbers.len(),
        filings.len(),
        "every filing on its own bill is accepted"
    );
    // The same key through both processes at once: one declaration.
    let body = import("AWB-P003", "C-3");
    let same: Vec<app::Filing> = std::thread::scope(|s| {
        let ha = s.spawn(|| a.filing().submit(&ent_a, "p-003", &body).unwrap());
        let hb = s.spawn(|| b.filing().submit(&ent_b, "p-003", &body).unwrap());
        vec![ha.join().unwrap(), hb.join().unwrap()]
    });
    let first = filings
        .iter()
        .find(|f| f.id == same[0].id)
        .expect("the first filing of p-003");
    assert!(same.iter().all(|f| f.id == first.id && f.replayed));

    // --- credit classes and sessions ----------------------------------------------------------
    let hq = login(&a, "hq");
    let aeo = Uscc::parse(AEO).unwrap();
    a.risk()
        .set_credit_class(
            &hq,
            aeo,
            CreditClass::Discredited,
            "penalty decided elsewhere",
        )
        .unwrap();
    assert_ne!(
        b.risk_desk().credit_class(&aeo),
        Some(CreditClass::Discredited)
    );
    b.sync_from_store().unwrap();
    assert_eq!(
        b.risk_desk().credit_class(&aeo),
        Some(CreditClass::Discredited)
    );

    let token = a.users().login("ent", PASSWORD).unwrap();
    assert!(b.users().authenticate(&token.token).is_ok());
    a.users().logout(&token.principal, &token.token).unwrap();
    // B checked the token before: it still holds it until its next sync.
    b.sync_from_store().unwrap();
    assert!(matches!(
        b.users().authenticate(&token.token),
        Err(AppError::Unauthenticated(_))
    ));
}

/// The same bill claimed through two processes at once is matched once (docs/STORE.md "Several
/// processes"): each process reserves on its own ledger, and the store's writer refuses as stale
/// a match written after another process's match on the same manifest; that process's ledger
/// then reads the log and decides again, and the bill is taken.
#[test]
fn one_bill_claimed_through_two_processes_at_once_is_matched_once() {
    let Some(url) = url() else { return };
    let schema = format!("jinguan_test_processes_race_{}", std::process::id());
    drop_schema(&url, &schema);
    let result = std::panic::catch_unwind(|| race(&url, &schema));
    drop_schema(&url, &schema);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn race(url: &str, schema: &str) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    let (a, store) = process(url, schema, clock.clone());
    let (b, _) = process(url, schema, clock.clone());
    user(&a, "ca", Role::Carrier, None, Some(CARRIER));
    user(&a, "ent", Role::Enterprise, None, Some(AEO));
    let (carrier, ent_a) = (login(&a, "ca"), login(&a, "ent"));
    let ent_b = login(&b, "ent");
    let mf = ManifestId::parse("MF-PROC-2").unwrap();
    a.cargo()
        .file_manifest(
            &carrier,
            mf,
            ManifestKind::Original,
            voyage(),
            vec![bill("AWB-P002")],
        )
        .unwrap();
    a.cargo()
        .report_arrival(&carrier, mf, a.now() - Duration::hours(2))
        .unwrap();
    b.sync_from_store().unwrap();
    let claims: Vec<Result<app::Filing, AppError>> = std::thread::scope(|s| {
        let ha = s.spawn(|| {
            a.filing()
                .submit(&ent_a, "p-race-a", &import("AWB-P002", "C-RA"))
        });
        let hb = s.spawn(|| {
            b.filing()
                .submit(&ent_b, "p-race-b", &import("AWB-P002", "C-RB"))
        });
        vec![ha.join().unwrap(), hb.join().unwrap()]
    });
    let numbered = claims
        .iter()
        .filter(|c| c.as_ref().is_ok_and(|f| f.declaration_no.is_some()))
        .count();
    assert_eq!(numbered, 1, "one bill, one acceptance: {claims:?}");
    assert_eq!(matches_in_log(&store, "AWB-P002"), 1);
}
