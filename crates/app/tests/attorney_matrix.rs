//! The access matrix for customs brokers under powers of attorney and for anti-smuggling cases
//! (docs/PARTIES.md), in two parts: the pure matrix against a table written here, and the
//! service on SQLite, where the authority comes from the store — a broker without authority,
//! with an expired or revoked one, outside its scope; a broker's user reading another
//! consignee's declarations; a case officer of another office; suspension only under an open
//! case. Every refusal names its reason in Chinese and English and writes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use app::attorney::GrantRequest;
use app::case_desk::OpenCase;
use app::{
    authorize, AppError, Clearance, Duty, Operation, PinnableClock, Principal, Resource, Step,
};
use chrono::{NaiveDate, TimeZone, Utc};
use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;
use store::{DeclarationKey, Store};
use store_sqlite::{SqliteOptions, SqliteStore};

/// Consignee A (the import template's trader), consignee B, broker K, another broker M.
const A: &str = "91310115MA1K4Q7B4Y";
const B: &str = "91310000132149237G";
const K: &str = "91310115MA1K9B2C7M";
const M: &str = "91440300MA5FT3XKX8";

fn u(s: &str) -> Uscc {
    Uscc::parse(s).unwrap()
}
fn office(s: &str) -> OfficeCode {
    OfficeCode::parse(s).unwrap()
}
fn ent(id: i64, login: &str, uscc: &str) -> Principal {
    Principal::Enterprise {
        user_id: id,
        login: login.into(),
        uscc: u(uscc),
        roles: app::access::legacy_enterprise_roles(),
    }
}
fn officer(office_code: &str, duties: &[Duty]) -> Principal {
    Principal::Officer {
        user_id: 9,
        login: "o".into(),
        office: office(office_code),
        duties: duties.iter().copied().collect::<BTreeSet<_>>(),
    }
}

const ENTERPRISE_OPS: &[Operation] = &[
    Operation::View,
    Operation::Attach,
    Operation::Submit,
    Operation::RequestAmendment,
    Operation::RequestCancellation,
    Operation::Pay,
    Operation::RequestRefund,
];

#[test]
fn agent_declaration_authority_and_case_rows() {
    let refdata = RefData::embedded().unwrap();
    let d = |live| Resource::AgentDeclaration {
        declarant: u(A),
        office: office("2233"),
        broker: u(K),
        live,
    };
    for op in Operation::ALL {
        for live in [true, false] {
            let ok = |p: &Principal| authorize(p, op, d(live), &refdata).is_ok();
            assert_eq!(
                ok(&ent(1, "a", A)),
                ENTERPRISE_OPS.contains(&op),
                "consignee {op:?}"
            );
            let broker_may = if live {
                ENTERPRISE_OPS.contains(&op)
            } else {
                op == Operation::View
            };
            assert_eq!(ok(&ent(2, "k", K)), broker_may, "broker live={live} {op:?}");
            assert!(!ok(&ent(3, "m", M)), "another broker {op:?}");
            assert!(!ok(&ent(4, "b", B)), "another consignee {op:?}");
            // Officers see a broker's filing as any other of their offices.
            let reviewer = officer("2233", &[Duty::Reviewer]);
            let expect = matches!(
                op,
                Operation::View
                    | Operation::Attach
                    | Operation::RecordReview
                    | Operation::OrderInspection
                    | Operation::DecideRequest
                    | Operation::Correct
            );
            assert_eq!(ok(&reviewer), expect, "reviewer {op:?}");
            assert!(
                !ok(&officer("5304", &[Duty::Reviewer])),
                "other office {op:?}"
            );
        }
        // Powers of attorney: the grantor's own only.
        let auth = Resource::Authority { grantor: u(A) };
        let ok = |p: &Principal| authorize(p, op, auth, &refdata).is_ok();
        assert_eq!(ok(&ent(1, "a", A)), op == Operation::ManageAuthorities);
        assert!(
            !ok(&ent(2, "k", K)),
            "the broker does not manage A's grants"
        );
        assert!(!ok(&officer("2200", &Duty::ALL)));
        // Cases: anti-smuggling officers of the office or above it; HQ with the duty.
        let case = Resource::Case {
            office: Some(office("2233")),
        };
        let ok = |p: &Principal| authorize(p, op, case, &refdata).is_ok();
        let manage = op == Operation::ManageCases;
        assert_eq!(ok(&officer("2233", &[Duty::AntiSmuggling])), manage);
        assert_eq!(ok(&officer("2200", &[Duty::AntiSmuggling])), manage);
        assert!(
            !ok(&officer("5304", &[Duty::AntiSmuggling])),
            "case officer of another office"
        );
        assert!(!ok(&officer("2233", &[Duty::Reviewer, Duty::Inspector])));
        assert!(!ok(&ent(1, "a", A)));
        let hq = Principal::Hq {
            user_id: 5,
            login: "hq".into(),
            duties: BTreeSet::from([Duty::AntiSmuggling]),
        };
        assert_eq!(ok(&hq), manage);
        // No operation but the case desk's reaches a case; ManageCases reaches no declaration.
        assert!(
            op != Operation::ManageCases
                || authorize(
                    &officer("2233", &[Duty::AntiSmuggling]),
                    op,
                    Resource::Declaration {
                        declarant: u(A),
                        office: office("2233")
                    },
                    &refdata
                )
                .is_err()
        );
    }
}

fn service(dir: &std::path::Path, clock: Arc<PinnableClock>) -> Clearance {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    Clearance::new(store, Arc::new(RefData::embedded().unwrap()), clock)
        .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
}

fn pin(clock: &PinnableClock, day: &str) {
    let d = NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    clock.pin(Utc.from_utc_datetime(&d.and_hms_opt(2, 0, 0).unwrap()));
}

fn body(trader: &str, office_code: &str, trade_mode: &str, n: u32) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = trader.into();
    v["owner"]["uscc"] = trader.into();
    v["declaration_office"] = office_code.into();
    v["entry_exit_office"] = office_code.into();
    v["trade_mode"] = trade_mode.into();
    v["contract_no"] = format!("POA-{n}").into();
    v.to_string().into_bytes()
}

fn grant(svc: &Clearance, by: &Principal, to: &str, from: &str, until: &str) -> i64 {
    svc.attorney()
        .grant(
            by,
            GrantRequest {
                broker: to.into(),
                trade_modes: vec!["0110".into()],
                offices: vec!["2200".into()],
                valid_from: from.into(),
                valid_to: until.into(),
                max_declarations: None,
                max_value_fen: None,
            },
        )
        .unwrap()
        .authority
        .id
}

fn forbidden(r: Result<app::Filing, AppError>, code: &str) {
    match r {
        Err(AppError::Forbidden(d)) => {
            assert_eq!(d.code, code, "{d:?}");
            assert!(!d.message_zh.is_empty() && !d.message_en.is_empty());
            assert_ne!(d.message_zh, d.message_en);
        }
        other => panic!("expected 403 {code}, got {other:?}"),
    }
}

fn count(svc: &Clearance) -> usize {
    svc.store()
        .list(
            &store::ListFilter::default(),
            &store::PageRequest {
                after: None,
                limit: 500,
            },
        )
        .unwrap()
        .items
        .len()
}

#[test]
fn brokers_file_only_under_a_live_authority_in_scope() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(PinnableClock::default());
    pin(&clock, "2025-03-10");
    let svc = service(dir.path(), clock.clone());
    let (a, b, k, m) = (
        ent(1, "ent-a", A),
        ent(2, "ent-b", B),
        ent(3, "broker-k", K),
        ent(4, "broker-m", M),
    );

    // Without authority.
    forbidden(
        svc.filing().submit(&k, "k-0", &body(A, "2233", "0110", 0)),
        "no_authority",
    );
    assert_eq!(count(&svc), 0, "nothing recorded, not even a rejection");

    let id = grant(&svc, &a, K, "2025-03-01", "2025-03-31");
    // Outside the scope: an office of another customs, a trade mode not granted.
    forbidden(
        svc.filing().submit(&k, "k-1", &body(A, "5304", "0110", 1)),
        "office_out_of_scope",
    );
    forbidden(
        svc.filing().submit(&k, "k-2", &body(A, "2233", "0615", 2)),
        "trade_mode_out_of_scope",
    );
    // Another broker holds nothing from A.
    forbidden(
        svc.filing().submit(&m, "m-1", &body(A, "2233", "0110", 3)),
        "no_authority",
    );
    assert_eq!(count(&svc), 0);

    // In scope: filed in A's name, the broker's user recorded.
    let f = svc
        .filing()
        .submit(&k, "k-3", &body(A, "2233", "0110", 4))
        .unwrap();
    let key = DeclarationKey::Id(f.id);
    let seen_by_a = svc.steps().get(&a, key).unwrap();
    assert_eq!(seen_by_a.state.header.as_ref().unwrap().declarant, u(A));
    assert!(matches!(
        &seen_by_a.events[0].event.actor,
        Actor::Broker { login, broker, .. } if login == "broker-k" && *broker == u(K)
    ));
    svc.steps().get(&k, key).unwrap();
    assert_eq!(
        svc.attorney().agent_declarations(&k, 10).unwrap()[0].id,
        f.id
    );
    // A broker's user does not read another consignee's declarations, nor another broker A's.
    let fb = svc
        .filing()
        .submit(&b, "b-1", &body(B, "2233", "0110", 5))
        .unwrap();
    assert!(matches!(
        svc.steps().get(&k, DeclarationKey::Id(fb.id)),
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        svc.steps().get(&m, key),
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        svc.steps().get(&b, key),
        Err(AppError::NotFound(_))
    ));
    // The broker's listing is its own filings only; A's listing has the broker's filing.
    let listed = svc
        .steps()
        .list(
            &a,
            app::ListQuery::default(),
            store::PageRequest {
                after: None,
                limit: 10,
            },
        )
        .unwrap();
    assert!(listed.items.iter().any(|s| s.id == f.id));
    // The broker takes A's steps while the authority lives: a cancellation request.
    svc.steps()
        .step(
            &k,
            key,
            Step::RequestCancellation {
                reason: "wrong goods".into(),
            },
        )
        .map(|_| ())
        .or_else(|e| match e {
            AppError::Refused(_) => Ok(()),
            other => Err(other),
        })
        .unwrap();

    // Revoked: refused, nothing written; the broker still reads what it filed but takes no
    // step.
    let before = count(&svc);
    svc.attorney().revoke(&a, id).unwrap();
    forbidden(
        svc.filing().submit(&k, "k-4", &body(A, "2233", "0110", 6)),
        "authority_revoked",
    );
    assert_eq!(count(&svc), before);
    svc.steps().get(&k, key).unwrap();
    assert!(matches!(
        svc.steps()
            .step(&k, key, Step::RequestCancellation { reason: "x".into() }),
        Err(AppError::Forbidden(_))
    ));
    // Only the grantor revokes; a second revocation conflicts.
    assert!(matches!(
        svc.attorney().revoke(&k, id),
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        svc.attorney().revoke(&a, id),
        Err(AppError::Conflict { .. })
    ));

    // Expired: B's authority ran until the 5th.
    grant(&svc, &b, K, "2025-03-01", "2025-03-05");
    forbidden(
        svc.filing().submit(&k, "k-5", &body(B, "2233", "0110", 7)),
        "authority_expired",
    );
    assert_eq!(count(&svc), before);
    assert!(svc.store().verify_audit().unwrap().is_intact());
}

#[test]
fn suspension_needs_an_open_case_of_the_officers_offices() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(PinnableClock::default());
    pin(&clock, "2025-03-10");
    let svc = service(dir.path(), clock);
    let a = ent(1, "ent-a", A);
    let f = svc
        .filing()
        .submit(&a, "s-1", &body(A, "2233", "0110", 1))
        .unwrap();
    let key = DeclarationKey::Id(f.id);
    let js = officer("2233", &[Duty::AntiSmuggling]);
    let js_other = officer("5304", &[Duty::AntiSmuggling]);
    let suspend = |who: &Principal, case_no: &str| {
        svc.steps().step(
            who,
            key,
            Step::Suspend {
                reason: "suspected undervaluation".into(),
                case_no: case_no.into(),
            },
        )
    };
    match suspend(&js, "JS-FREE-TEXT") {
        Err(AppError::Invalid(p)) => assert_eq!(p[0].code, "no_such_case"),
        other => panic!("{other:?}"),
    }
    // A case officer of another office neither opens a case at 2233 nor sees one.
    let open = |who: &Principal| {
        svc.cases().open(
            who,
            OpenCase {
                office: "2233".into(),
                origin: store::cases::CaseOrigin::RiskHit,
                origin_ref: "s-1".into(),
                summary: "undervaluation".into(),
            },
        )
    };
    assert!(matches!(open(&js_other), Err(AppError::Forbidden(_))));
    assert!(matches!(open(&a), Err(AppError::Forbidden(_))));
    let case = open(&js).unwrap();
    assert!(matches!(
        svc.cases().get(&js_other, case.id),
        Err(AppError::NotFound(_))
    ));
    assert!(svc.cases().list(&js_other, None).unwrap().is_empty());
    let done = suspend(&js, &case.case_no).unwrap();
    assert_eq!(done.status, clearance::Status::Suspended);
    // A closed case suspends nothing.
    svc.steps()
        .step(
            &js,
            key,
            Step::Unsuspend {
                reason: "cleared".into(),
            },
        )
        .unwrap();
    svc.cases()
        .step(
            &js,
            case.id,
            app::case_desk::CaseStepRequest {
                expected_version: None,
                step: store::cases::CaseStep::Close {
                    conclusion: "no offence".into(),
                },
            },
        )
        .unwrap();
    match suspend(&js, &case.case_no) {
        Err(AppError::Invalid(p)) => assert_eq!(p[0].code, "case_closed"),
        other => panic!("{other:?}"),
    }
}
