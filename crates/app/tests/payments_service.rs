//! Payment through the bank in the service, on SQLite, with the pinnable clock moving the days
//! (docs/TAX.md "Late payment surcharge", "Payment through the bank"): the enterprise cannot
//! pay its own notice; day 15 carries no surcharge, day 16 one day; a due date on a holiday
//! moves; the ¥50 floor at 49.99 / 50.00; a wrong amount is refused with the amount due; the
//! demo's bank `bank-boc` confirms; a repeated confirmation writes nothing twice.

use std::collections::HashMap;
use std::sync::Arc;

use app::payments::{ConfirmPayment, PaymentService};
use app::{AppError, Clearance, PinnableClock, Principal, StaticRegistry, Step};
use chrono::{NaiveDate, TimeZone, Utc};
use clearance::{CreditClass, EnterpriseFacts, ExaminationResult, Status};
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use store::{DeclarationKey, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

const Y: &str = "91310000132149237G";

fn service(dir: &std::path::Path, clock: Arc<PinnableClock>) -> Clearance {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    let facts: HashMap<Uscc, EnterpriseFacts> = [(
        Uscc::parse(Y).unwrap(),
        EnterpriseFacts {
            credit_class: CreditClass::General,
            discrepancies_last_year: 1,
        },
    )]
    .into_iter()
    .collect();
    let svc = Clearance::new(
        store,
        Arc::new(refdata::RefData::embedded().unwrap()),
        clock,
    )
    .with_registry(Box::new(StaticRegistry(facts)))
    .with_lane_policy(Box::new(clearance::DefaultLanePolicy));
    svc.store()
        .put_user(
            store::NewUser {
                login: "bank-boc".into(),
                role: store::Role::Bank,
                office: None,
                uscc: None,
            },
            &clearance::Actor::System {
                component: "test".into(),
            },
            svc.now(),
        )
        .unwrap();
    svc
}

fn ent() -> Principal {
    Principal::Enterprise {
        user_id: 1,
        login: "ent-y".into(),
        uscc: Uscc::parse(Y).unwrap(),
        roles: app::access::legacy_enterprise_roles(),
    }
}

fn officer() -> Principal {
    Principal::Officer {
        user_id: 2,
        login: "pd".into(),
        office: OfficeCode::parse("2233").unwrap(),
        duties: [app::Duty::Reviewer, app::Duty::TaxOfficer]
            .into_iter()
            .collect(),
    }
}

fn boc() -> Principal {
    Principal::Agency {
        user_id: 3,
        login: "bank-boc".into(),
        agency: "bank".into(),
    }
}

fn pin(clock: &PinnableClock, day: &str) {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    clock.pin(Utc.from_utc_datetime(&d.and_hms_opt(2, 0, 0).unwrap()));
}

/// File, review and assess an import of Y; the first notice's number and tax.
fn assessed(svc: &Clearance, seq: &str) -> (store::DeclarationId, String, Fen) {
    let mut v: serde_json::Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = Y.into();
    v["owner"]["uscc"] = Y.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    v["contract_no"] = seq.into();
    let f = svc
        .filing()
        .submit(&ent(), seq, v.to_string().as_bytes())
        .unwrap();
    let key = DeclarationKey::Id(f.id);
    let result = ExaminationResult::Conform;
    svc.steps()
        .step(&officer(), key, Step::RecordReview { result })
        .unwrap();
    let done = svc.steps().step(&officer(), key, Step::Assess).unwrap();
    assert_eq!(done.status, Status::Assessed);
    let n = &svc.steps().get(&ent(), key).unwrap().notices[0];
    (f.id, n.notice_no.clone(), n.amount_fen)
}

fn confirm(
    p: &PaymentService<'_>,
    notice: &str,
    reference: &str,
    amount: Fen,
) -> Result<app::payments::PaymentReceipt, AppError> {
    p.confirm(
        &boc(),
        ConfirmPayment {
            notice_no: notice.into(),
            reference: reference.into(),
            amount_fen: amount,
        },
    )
}

fn one_day(tax: Fen) -> Fen {
    let s = (tax.0 * 5 + 5_000) / 10_000;
    Fen(if s < 5_000 { 0 } else { s })
}

#[test]
fn day_15_day_16_wrong_amount_and_a_repeated_confirmation() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(PinnableClock::new());
    pin(&clock, "2025-03-10");
    let svc = service(dir.path(), clock.clone());
    let p = svc.payments();
    let (id, notice, tax) = assessed(&svc, "s-1");

    // The enterprise cannot confirm (pay) its own notice; the bank cannot before initiation.
    let e = p
        .confirm(
            &ent(),
            ConfirmPayment {
                notice_no: notice.clone(),
                reference: "SELF".into(),
                amount_fen: tax,
            },
        )
        .unwrap_err();
    assert!(matches!(e, AppError::Forbidden(_)), "{e:?}");
    assert!(matches!(
        confirm(&p, &notice, "BOC-1", tax),
        Err(AppError::NotFound(_))
    ));
    let v = p.initiate(&ent(), &notice, "bank-boc").unwrap();
    assert_eq!(v.due_on.to_string(), "2025-03-25");

    // Day 15 (03-25): no surcharge.
    pin(&clock, "2025-03-25");
    let v = p.notice(&ent(), &notice).unwrap();
    assert_eq!((v.surcharge_fen, v.amount_due_fen), (Fen::ZERO, tax));
    // Day 16 (03-26): one day.
    pin(&clock, "2025-03-26");
    let due = Fen(tax.0 + one_day(tax).0);
    let v = p.notice(&boc(), &notice).unwrap();
    assert_eq!((v.surcharge_days, v.amount_due_fen), (1, due));
    // A wrong amount: 422 with the amount due, in both languages.
    match confirm(&p, &notice, "BOC-1", Fen(due.0 + 1)) {
        Err(AppError::Invalid(problems)) => {
            assert_eq!(problems[0].code, "wrong_amount");
            assert!(problems[0].message_en.contains(&due.to_string()));
            assert!(problems[0].message_zh.contains(&due.to_string()));
        }
        other => panic!("{other:?}"),
    }
    let r = confirm(&p, &notice, "BOC-1", due).unwrap();
    assert_eq!((r.surcharge_fen, r.paid_fen), (one_day(tax), due));
    let events = svc.store().events(id).unwrap().len();
    // The same again: the same receipt, nothing written.
    assert_eq!(confirm(&p, &notice, "BOC-1", due).unwrap(), r);
    assert_eq!(svc.store().events(id).unwrap().len(), events);
    // Another reference for it: 409.
    assert!(matches!(
        confirm(&p, &notice, "BOC-2", due),
        Err(AppError::Refused(
            clearance::Refusal::NoticeAlreadyPaid { .. }
        ))
    ));
    // The reconciliation of the day balances.
    let rec = p
        .reconcile(
            &boc(),
            None,
            Some(NaiveDate::from_ymd_opt(2025, 3, 26).unwrap()),
        )
        .unwrap();
    assert!(rec.balanced && rec.paid.len() == 1, "{rec:?}");
}

#[test]
fn a_due_date_on_a_holiday_moves_and_the_floor_is_50_yuan() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(PinnableClock::new());
    // 2025-09-16 + 15 = 10-01 (National Day): due 10-09.
    pin(&clock, "2025-09-16");
    let svc = service(dir.path(), clock.clone());
    let (id, notice, _) = assessed(&svc, "h-1");
    let v = svc.payments().notice(&ent(), &notice).unwrap();
    assert_eq!(
        (v.due_on.to_string().as_str(), v.due_shifted),
        ("2025-10-09", true)
    );

    // The floor, with the notice's tax set to 99 980.00 and 100 000.00, one day late (10-10):
    // 49.99 is not levied, 50.00 is.
    let d = svc.store().load(DeclarationKey::Id(id)).unwrap().unwrap();
    let issued_at = svc.store().payment_notices(id).unwrap()[0].issued_at;
    let mut n = d
        .state
        .notices
        .iter()
        .find(|n| n.notice.notice_no == notice)
        .unwrap()
        .clone();
    let oct = |day| NaiveDate::from_ymd_opt(2025, 10, day).unwrap();
    for (tax, surcharge) in [(9_998_000, 0), (10_000_000, 5_000)] {
        n.notice.amount_fen = Fen(tax);
        let on_time = app::notices::view_of(svc.core(), &d, &n, issued_at, oct(9)).unwrap();
        assert_eq!(on_time.amount_due_fen, Fen(tax));
        let late = app::notices::view_of(svc.core(), &d, &n, issued_at, oct(10)).unwrap();
        assert_eq!(late.surcharge_days, 1);
        assert_eq!(
            (late.surcharge_fen, late.amount_due_fen),
            (Fen(surcharge), Fen(tax + surcharge)),
            "{tax}"
        );
    }
}
