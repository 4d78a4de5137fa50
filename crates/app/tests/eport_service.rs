//! The E-Port ledgers in the service, end to end on SQLite (docs/EPORT.md): licences issued by
//! the commerce agency, checked at automatic review, written off at release; the registry kept
//! by the market-regulation agency; and many declarations racing for one licence.

mod common;
use common::pay;

use std::str::FromStr;
use std::sync::{Arc, Barrier};

use app::eport_desk::{LicenceRequest, RegistryRequest};
use app::{AppError, Clearance, Duty, ManualClock, Principal, Step};
use chrono::{NaiveDate, TimeZone, Utc};
use clearance::Status;
use domain::codes::{OfficeCode, Uscc};
use eport::{LicenceKind, RegistryStatus};
use rust_decimal::Decimal;
use store::{DeclarationKey, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

const SH: &str = "91310115MA1K4Q7B4Y";
const SZ: &str = "91440300MA5FT3XKX8";

fn service(dir: &std::path::Path) -> Clearance {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock,
    )
    .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
    .with_eport()
}

fn uscc(s: &str) -> Uscc {
    Uscc::parse(s).unwrap()
}

fn enterprise(s: &str) -> Principal {
    Principal::Enterprise {
        user_id: 1,
        login: "ent".into(),
        uscc: uscc(s),
        roles: app::access::legacy_enterprise_roles(),
    }
}

fn agency(name: &str) -> Principal {
    Principal::Agency {
        user_id: 2,
        login: name.into(),
        agency: name.into(),
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

fn q(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn licence(no: &str, holder: &str, quantity: &str) -> LicenceRequest {
    LicenceRequest {
        licence_no: no.into(),
        kind: LicenceKind::Import,
        holder: uscc(holder),
        commodity: "8703".into(),
        unit: "003".into(),
        quantity: q(quantity),
        valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        valid_to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
    }
}

/// An import of `sets` cars (8703, automatic import licence, document code 7) by `trader`
/// under `licence_no`.
fn cars(trader: &str, licence_no: Option<&str>, sets: u32) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = trader.into();
    v["owner"]["uscc"] = trader.into();
    v["bill_no"] = serde_json::Value::Null;
    if let Some(no) = licence_no {
        v["licence_no"] = no.into();
    }
    let item = &mut v["items"][0];
    item["commodity_code"] = "8703234190".into();
    item["name"] = "小轿车".into();
    item["specification"] = "1.5升<排气量≤2升|5座|品牌X|型号X2".into();
    item["declared_unit"] = "003".into();
    item["first_unit"] = "003".into();
    item["declared_quantity"] = sets.to_string().into();
    item["first_quantity"] = sets.to_string().into();
    let item = item.as_object_mut().unwrap();
    item.remove("second_quantity");
    item.remove("second_unit");
    item.insert("unit_price".into(), "20000.0000".into());
    item.insert("total_price".into(), format!("{}.00", sets * 20000).into());
    v.to_string().into_bytes()
}

fn reasons(e: &AppError) -> Vec<(String, String)> {
    match e {
        AppError::Rejected { problems, .. } => problems
            .iter()
            .map(|p| (p.field.clone(), p.code.clone()))
            .collect(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn licences_are_checked_reserved_and_written_off() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    let commerce = agency("commerce");
    let issued = svc
        .eport()
        .issue_licence(&commerce, licence("AIL-2025-001", SH, "5"))
        .unwrap();
    assert_eq!(issued.remaining, q("5"));
    // Only the commerce agency issues; the holder reads its own.
    assert!(matches!(
        svc.eport()
            .issue_licence(&enterprise(SH), licence("X", SH, "1")),
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        svc.eport()
            .issue_licence(&agency("tax"), licence("X", SH, "1")),
        Err(AppError::Forbidden(_))
    ));
    assert_eq!(svc.eport().my_licences(&enterprise(SH)).unwrap().len(), 1);
    assert!(svc.eport().my_licences(&enterprise(SZ)).unwrap().is_empty());
    assert!(matches!(
        svc.eport().my_licences(&commerce),
        Err(AppError::Forbidden(_))
    ));

    // Another holder, an unknown licence, too many: refused, with the reason on licence_no.
    let e = svc
        .filing()
        .submit(&enterprise(SZ), "c-1", &cars(SZ, Some("AIL-2025-001"), 1))
        .unwrap_err();
    assert_eq!(
        reasons(&e),
        [("licence_no".into(), "licence_holder_mismatch".into())]
    );
    let e = svc
        .filing()
        .submit(&enterprise(SH), "c-2", &cars(SH, Some("AIL-404"), 1))
        .unwrap_err();
    assert_eq!(
        reasons(&e),
        [("licence_no".into(), "licence_not_found".into())]
    );
    let e = svc
        .filing()
        .submit(&enterprise(SH), "c-3", &cars(SH, Some("AIL-2025-001"), 6))
        .unwrap_err();
    assert_eq!(
        reasons(&e),
        [("licence_no".into(), "licence_exhausted".into())]
    );

    // Within the licence: accepted, reserved; release writes it off.
    let f = svc
        .filing()
        .submit(&enterprise(SH), "c-4", &cars(SH, Some("AIL-2025-001"), 3))
        .unwrap();
    let mine = &svc.eport().my_licences(&enterprise(SH)).unwrap()[0];
    assert_eq!((mine.reserved, mine.remaining), (q("3"), q("2")));
    let key = DeclarationKey::Id(f.id);
    let mut status = f.status;
    if status == Status::AwaitingAssessment {
        status = svc
            .steps()
            .step(&officer(), key, Step::Assess)
            .unwrap()
            .status;
    }
    for n in svc.steps().get(&enterprise(SH), key).unwrap().notices {
        if n.paid_at.is_none() {
            status = pay(&svc, &enterprise(SH), &n.notice_no);
        }
    }
    assert_eq!(status, Status::Paid, "{f:?}");
    svc.steps().step(&officer(), key, Step::Release).unwrap();
    let l = &svc.eport().issued_licences(&commerce).unwrap()[0];
    assert_eq!(
        (l.reserved, l.written_off, l.remaining),
        (q("0"), q("3"), q("2"))
    );
    assert!(svc.store().verify_audit().unwrap().is_intact());
}

#[test]
fn unregistered_and_deregistered_enterprises_fail_review() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    let laptops = |trader: &str| {
        let mut v: serde_json::Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
        v["trader"]["uscc"] = trader.into();
        v["owner"]["uscc"] = trader.into();
        v.to_string().into_bytes()
    };
    // An empty registry checks nothing.
    svc.filing()
        .submit(&enterprise(SH), "r-1", &laptops(SH))
        .unwrap();
    let samr = agency("market_regulation");
    assert!(matches!(
        svc.eport().put_registry(
            &agency("commerce"),
            uscc(SZ),
            RegistryRequest {
                name: "深圳示例鞋业有限公司".into(),
                status: RegistryStatus::Active,
            },
        ),
        Err(AppError::Forbidden(_))
    ));
    svc.eport()
        .put_registry(
            &samr,
            uscc(SZ),
            RegistryRequest {
                name: "深圳示例鞋业有限公司".into(),
                status: RegistryStatus::Active,
            },
        )
        .unwrap();
    let e = svc
        .filing()
        .submit(&enterprise(SH), "r-2", &laptops(SH))
        .unwrap_err();
    assert_eq!(
        reasons(&e),
        [("trader.uscc".into(), "enterprise_not_registered".into())]
    );
    svc.eport()
        .put_registry(
            &samr,
            uscc(SH),
            RegistryRequest {
                name: "上海示例电子贸易有限公司".into(),
                status: RegistryStatus::Deregistered,
            },
        )
        .unwrap();
    let e = svc
        .filing()
        .submit(&enterprise(SH), "r-3", &laptops(SH))
        .unwrap_err();
    assert_eq!(
        reasons(&e),
        [("trader.uscc".into(), "enterprise_deregistered".into())]
    );
    svc.eport()
        .put_registry(
            &samr,
            uscc(SH),
            RegistryRequest {
                name: "上海示例电子贸易有限公司".into(),
                status: RegistryStatus::Active,
            },
        )
        .unwrap();
    svc.filing()
        .submit(&enterprise(SH), "r-4", &laptops(SH))
        .unwrap();
}

/// The must-show: N declarations race for a licence of quantity Q, each asking 1, through
/// concurrent requests to the service: exactly Q are accepted, the rest refused as exhausted,
/// nothing remains; after release Q is written off.
#[test]
fn declarations_racing_for_a_licence_never_overdraw_it() {
    const N: usize = 32;
    const Q: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.eport()
        .issue_licence(&agency("COMMERCE"), licence("AIL-RACE", SH, &Q.to_string()))
        .unwrap();
    let barrier = Barrier::new(N);
    let results: Vec<Result<app::Filing, AppError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let (svc, barrier) = (&svc, &barrier);
                s.spawn(move || {
                    let body = cars(SH, Some("AIL-RACE"), 1);
                    barrier.wait();
                    svc.filing()
                        .submit(&enterprise(SH), &format!("race-{i}"), &body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted: Vec<&app::Filing> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(accepted.len(), Q, "exactly Q accepted");
    for r in &results {
        if let Err(e) = r {
            assert_eq!(
                reasons(e),
                [("licence_no".into(), "licence_exhausted".into())]
            );
        }
    }
    let l = &svc.eport().my_licences(&enterprise(SH)).unwrap()[0];
    assert_eq!((l.reserved, l.remaining), (q(&Q.to_string()), q("0")));

    for f in &accepted {
        let key = DeclarationKey::Id(f.id);
        let mut status = f.status;
        if status == Status::AwaitingAssessment {
            status = svc
                .steps()
                .step(&officer(), key, Step::Assess)
                .unwrap()
                .status;
        }
        for n in svc.steps().get(&enterprise(SH), key).unwrap().notices {
            if n.paid_at.is_none() {
                status = pay(&svc, &enterprise(SH), &n.notice_no);
            }
        }
        assert_eq!(status, Status::Paid);
        svc.steps().step(&officer(), key, Step::Release).unwrap();
    }
    let l = &svc.eport().my_licences(&enterprise(SH)).unwrap()[0];
    assert_eq!(
        (l.reserved, l.written_off, l.remaining),
        (q("0"), q(&Q.to_string()), q("0"))
    );
    assert!(svc.store().verify_audit().unwrap().is_intact());
}

/// With the ledgers on (as in `jinguan serve`), the demo seeds the registry and a licence, and
/// its declarations come out exactly as without them.
#[test]
fn demo_seeds_the_ledgers_and_files_as_before() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = service(a.path());
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(b.path(), SqliteOptions::default()).unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    let off = Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock,
    )
    .with_lane_policy(Box::new(clearance::DefaultLanePolicy));
    let with = app::demo::load(&plain.with_registry(Box::new(app::demo::registry())), 40);
    let without = app::demo::load(&off.with_registry(Box::new(app::demo::registry())), 40);
    assert_eq!(with.unwrap(), without.unwrap());
}

#[test]
fn demo_licence_is_there_for_the_aeo_enterprise() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path()).with_registry(Box::new(app::demo::registry()));
    app::demo::load(&svc, 0).unwrap();
    let mine = svc.eport().my_licences(&enterprise(SH)).unwrap();
    // The licence, and (since issue 21) the wheat tariff-quota certificate, by number.
    assert_eq!(mine.len(), 2);
    assert_eq!(
        mine[0].licence.licence_no,
        app::demo::eport::DEMO_LICENCE_NO
    );
    let cert = &mine[1].licence;
    assert_eq!(cert.licence_no, app::demo::eport::DEMO_QUOTA_CERTIFICATE_NO);
    assert_eq!(cert.kind, LicenceKind::TariffQuota);
    assert_eq!(
        (cert.issued_by.as_str(), cert.unit.as_str()),
        ("ndrc", "035")
    );
    assert_eq!(
        mine[1].remaining,
        Decimal::from(app::demo::eport::DEMO_QUOTA_KG)
    );
    // The demo itself imported two cars under it, released: written off, not reserved.
    assert_eq!(mine[0].remaining, q("18"));
    assert_eq!(mine[0].written_off, q("2"));
    let f = svc
        .filing()
        .submit(
            &enterprise(SH),
            "demo-car",
            &cars(SH, Some(app::demo::eport::DEMO_LICENCE_NO), 2),
        )
        .unwrap();
    assert_ne!(f.status, Status::Rejected);
    assert_eq!(
        svc.eport().my_licences(&enterprise(SH)).unwrap()[0].remaining,
        q("16")
    );
}

/// The demo files refund claims for closed exports of `ent-sz` and records bank funds so that
/// the foreign-exchange report shows each class; the demo users of tax, forex and the bank
/// sign in.
#[test]
fn demo_seeds_refund_claims_and_bank_records() {
    let dir = tempfile::tempdir().unwrap();
    // With cargo control, as `serve --demo` runs: the demo's exports close when their vessel's
    // manifest departs, the only exit that lets a refund claim be verified.
    let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
    let desk =
        app::cargo_desk::CargoDesk::open(store.clone(), app::cargo_desk::CargoPolicy::default())
            .unwrap();
    let svc = Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
        )),
    )
    .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
    .with_eport()
    .with_registry(Box::new(app::demo::registry()))
    .with_cargo(Arc::new(desk));
    app::demo::load(&svc, 50).unwrap();
    let login = |l: &str| {
        svc.users()
            .login(l, app::demo::DEMO_PASSWORD)
            .unwrap()
            .principal
    };
    let claims = svc.finance().verified_refund_claims(&login("sat")).unwrap();
    assert_eq!(claims.len(), app::demo::finance::DEMO_CLAIMS);
    assert!(claims.iter().all(|c| c.claimant == uscc(SZ)));
    assert_eq!(
        svc.finance()
            .my_refund_claims(&enterprise(SZ))
            .unwrap()
            .len(),
        2
    );
    assert!(!svc
        .finance()
        .my_bank_records(&login("bank-boc"))
        .unwrap()
        .is_empty());
    let report = svc
        .finance()
        .forex_report(&login("safe"), app::finance::PeriodQuery::default())
        .unwrap();
    let class = |u: &str| {
        report
            .enterprises
            .iter()
            .find(|l| l.matched.uscc == uscc(u))
            .map(|l| l.matched.class)
    };
    use eport::forex::EnterpriseClass;
    assert_eq!(class(SH), Some(EnterpriseClass::A), "{report:?}");
    assert_eq!(class(SZ), Some(EnterpriseClass::B), "{report:?}");
    assert_eq!(
        class("91310000132149237G"),
        Some(EnterpriseClass::C),
        "{report:?}"
    );
    let mine = svc
        .finance()
        .my_forex_status(&enterprise(SZ), app::finance::PeriodQuery::default())
        .unwrap();
    assert_eq!(mine.matched.class, EnterpriseClass::B);
}

/// The issuing agency withdraws a licence (docs/EPORT.md "Licence withdrawal"): only the
/// issuer (any user of it), once; a filing naming it is then rejected on `licence_no`, and a
/// declaration filed on it before is not released (409 from the release's transaction).
#[test]
fn a_withdrawn_licence_refuses_filings_and_releases() {
    use app::eport_desk::WithdrawalRequest;
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    svc.eport()
        .issue_licence(&agency("commerce"), licence("AIL-WD-1", SH, "5"))
        .unwrap();
    let f = svc
        .filing()
        .submit(&enterprise(SH), "wd-1", &cars(SH, Some("AIL-WD-1"), 2))
        .unwrap();
    let key = DeclarationKey::Id(f.id);
    let mut status = f.status;
    if status == Status::AwaitingAssessment {
        status = svc
            .steps()
            .step(&officer(), key, Step::Assess)
            .unwrap()
            .status;
    }
    for n in svc.steps().get(&enterprise(SH), key).unwrap().notices {
        if n.paid_at.is_none() {
            status = pay(&svc, &enterprise(SH), &n.notice_no);
        }
    }
    assert_eq!(status, Status::Paid);

    let why = |reason: &str| WithdrawalRequest {
        reason: reason.into(),
        withdrawn_at: None,
    };
    let withdraw = |by: &Principal, no: &str, req| svc.eport().withdraw_licence(by, no, req);
    for by in [
        enterprise(SH),
        agency("tax"),
        agency("market_regulation"),
        officer(),
    ] {
        assert!(
            matches!(
                withdraw(&by, "AIL-WD-1", why("x")),
                Err(AppError::Forbidden(_))
            ),
            "{by:?}"
        );
    }
    assert!(matches!(
        withdraw(&agency("ndrc"), "AIL-WD-1", why("x")),
        Err(AppError::Forbidden(d)) if d.code == "not_issuer"
    ));
    assert!(matches!(
        withdraw(&agency("commerce"), "AIL-404", why("x")),
        Err(AppError::NotFound(_))
    ));
    let ahead = WithdrawalRequest {
        reason: "x".into(),
        withdrawn_at: Some(Utc.with_ymd_and_hms(2025, 3, 10, 3, 0, 0).unwrap()),
    };
    assert!(matches!(
        withdraw(&agency("commerce"), "AIL-WD-1", ahead),
        Err(AppError::Invalid(p)) if p[0].field == "withdrawn_at"
    ));
    assert!(matches!(
        withdraw(&agency("commerce"), "AIL-WD-1", why("")),
        Err(AppError::Invalid(p)) if p[0].field == "reason"
    ));
    // The same agency under its other name withdraws it.
    let v = withdraw(&agency("MOFCOM"), "AIL-WD-1", why("obtained by fraud")).unwrap();
    assert_eq!(v.withdrawn.as_ref().unwrap().withdrawn_by, "commerce");
    assert_eq!((v.reserved, v.written_off), (q("2"), q("0")));
    assert!(matches!(
        withdraw(&agency("commerce"), "AIL-WD-1", why("again")),
        Err(AppError::Conflict {
            code: "licence_already_withdrawn",
            ..
        })
    ));

    let e = svc
        .filing()
        .submit(&enterprise(SH), "wd-2", &cars(SH, Some("AIL-WD-1"), 1))
        .unwrap_err();
    assert_eq!(
        reasons(&e),
        [("licence_no".into(), "licence_withdrawn".into())]
    );
    let e = svc
        .steps()
        .step(&officer(), key, Step::Release)
        .unwrap_err();
    assert!(
        matches!(&e, AppError::Conflict { code: "licence_withdrawn", message_zh, .. } if message_zh.contains("不能放行")),
        "{e:?}"
    );
    assert_eq!(
        svc.steps().get(&enterprise(SH), key).unwrap().state.status,
        Status::Paid
    );
    assert!(svc.store().verify_audit().unwrap().is_intact());
}

/// The tax agency pays a demo claim once (docs/EPORT.md "Refund paid"); nobody else may; the
/// declaration is then not amended or cancelled (409 `refund_paid`).
#[test]
fn a_paid_refund_is_paid_once_and_binds_the_declaration() {
    use app::finance::RefundPaidRequest;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
    let desk =
        app::cargo_desk::CargoDesk::open(store.clone(), app::cargo_desk::CargoPolicy::default())
            .unwrap();
    let svc = Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
        )),
    )
    .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
    .with_eport()
    .with_registry(Box::new(app::demo::registry()))
    .with_cargo(Arc::new(desk));
    app::demo::load(&svc, 50).unwrap();
    let login = |l: &str| {
        svc.users()
            .login(l, app::demo::DEMO_PASSWORD)
            .unwrap()
            .principal
    };
    let sat = login("sat");
    let claim = svc.finance().verified_refund_claims(&sat).unwrap()[0].clone();
    let ceiling = svc.finance().refund_ceiling(&claim);
    assert!(ceiling.0 > 0 && ceiling < claim.customs_fob_value_fen);
    let req = |amount: i64, reference: &str| RefundPaidRequest {
        amount_fen: domain::money::Fen(amount),
        paid_on: NaiveDate::from_ymd_opt(2025, 3, 10).unwrap(),
        bank_reference: reference.into(),
    };
    let pay_refund = |by: &Principal, r| {
        svc.finance()
            .pay_refund(by, claim.declaration_no, claim.item_no, r)
    };
    for by in ["safe", "bank-boc", "mofcom", "ent-sz"] {
        assert!(
            matches!(
                pay_refund(&login(by), req(100, "T-0")),
                Err(AppError::Forbidden(_))
            ),
            "{by}"
        );
    }
    assert!(matches!(
        pay_refund(&sat, req(ceiling.0 + 1, "T-1")),
        Err(AppError::Invalid(p)) if p[0].field == "amount_fen" && p[0].code == "refund_over_ceiling"
    ));
    assert!(matches!(
        svc.finance()
            .pay_refund(&sat, claim.declaration_no, 99, req(100, "T-1")),
        Err(AppError::NotFound(_))
    ));
    let paid = pay_refund(&sat, req(ceiling.0, "TR-APP-1")).unwrap();
    assert_eq!(paid.status, eport::refund::ClaimStatus::Paid);
    assert!(matches!(
        pay_refund(&sat, req(1, "TR-APP-2")),
        Err(AppError::Conflict {
            code: "refund_already_paid",
            ..
        })
    ));

    let key = DeclarationKey::DeclarationNo(claim.declaration_no);
    let sz = login("ent-sz");
    for step in [
        Step::RequestAmendment {
            reason: "quantity".into(),
            changes: vec![clearance::FieldChange {
                field: "items[0].declared_quantity".into(),
                value: "1".into(),
            }],
        },
        Step::RequestCancellation {
            reason: "goods returned".into(),
        },
    ] {
        let e = svc.steps().step(&sz, key, step).unwrap_err();
        assert!(
            matches!(&e, AppError::Conflict { code: "refund_paid", message_en, .. } if message_en.contains("TR-APP-1")),
            "{e:?}"
        );
    }
    assert!(svc.store().verify_audit().unwrap().is_intact());
}
