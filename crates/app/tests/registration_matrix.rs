//! Customs registration and enterprise roles (docs/PARTIES.md "Customs registration"), in two
//! parts: the pure matrix against a table written here (viewer, declarant, finance and
//! administrator roles; an administrator of another enterprise; a reviewer of another office),
//! and the service on SQLite: sign-up checked against the market-regulation registry with
//! every problem at once; a consignee effective at once with its customs code, a broker pending
//! review and unable to file until approved; a cancelled enterprise refused at filing; an
//! administrator managing only its own enterprise's users, and the roles enforced.

use std::collections::BTreeSet;
use std::sync::Arc;

use app::registration::SignUp;
use app::{authorize, AppError, Clearance, Duty, Operation, PinnableClock, Principal, Resource};
use chrono::{TimeZone, Utc};
use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;
use store::registration::{EnterpriseKind, RegistrationStatus};
use store::Store;
use store_sqlite::{SqliteOptions, SqliteStore};

/// Consignee A (the import template's trader), consignee B, broker K.
const A: &str = "91310115MA1K4Q7B4Y";
const B: &str = "91310000132149237G";
const K: &str = "91310115MA1K9B2C7M";

fn u(s: &str) -> Uscc {
    Uscc::parse(s).unwrap()
}
fn office(s: &str) -> OfficeCode {
    OfficeCode::parse(s).unwrap()
}
fn ent(uscc: &str, roles: &[Duty]) -> Principal {
    Principal::Enterprise {
        user_id: 1,
        login: "e".into(),
        uscc: u(uscc),
        roles: roles.iter().copied().collect(),
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

#[test]
fn roles_and_registration_rows() {
    let refdata = RefData::embedded().unwrap();
    let own = Resource::Declaration {
        declarant: u(A),
        office: office("2233"),
    };
    // (operation, viewer, declarant, finance, administrator alone)
    let table: &[(Operation, bool, bool, bool, bool)] = &[
        (Operation::View, true, true, true, true),
        (Operation::Submit, false, true, false, false),
        (Operation::RequestAmendment, false, true, false, false),
        (Operation::RequestCancellation, false, true, false, false),
        (Operation::Pay, false, false, true, false),
        (Operation::RequestRefund, false, true, true, false),
    ];
    for &(op, viewer, declarant, finance, admin) in table {
        let ok = |roles: &[Duty]| authorize(&ent(A, roles), op, own, &refdata).is_ok();
        assert_eq!(ok(&[Duty::Viewer]), viewer, "viewer {op:?}");
        assert_eq!(ok(&[Duty::Declarant]), declarant, "declarant {op:?}");
        assert_eq!(ok(&[Duty::Finance]), finance, "finance {op:?}");
        assert_eq!(
            ok(&[Duty::EnterpriseAdministrator]),
            admin,
            "administrator {op:?}"
        );
        // An account without recorded roles keeps what enterprise accounts always could.
        let legacy = Principal::Enterprise {
            user_id: 1,
            login: "e".into(),
            uscc: u(A),
            roles: app::access::enterprise_roles(&[]),
        };
        assert!(
            authorize(&legacy, op, own, &refdata).is_ok(),
            "legacy {op:?}"
        );
    }
    // The enterprise's own registration and users: its administrator only; every user reads.
    for op in Operation::ALL {
        let mine = Resource::Enterprise { uscc: u(A) };
        let ok = |p: &Principal| authorize(p, op, mine, &refdata).is_ok();
        assert_eq!(
            ok(&ent(A, &[Duty::EnterpriseAdministrator])),
            matches!(op, Operation::ManageEnterprise | Operation::View),
            "administrator {op:?}"
        );
        assert_eq!(
            ok(&ent(A, &[Duty::Declarant])),
            op == Operation::View,
            "declarant {op:?}"
        );
        assert!(
            !ok(&ent(B, &[Duty::EnterpriseAdministrator])),
            "the administrator of another enterprise {op:?}"
        );
        assert!(!ok(&officer("2200", &Duty::ALL)), "officer {op:?}");
        // Registrations: reviewers of the office or above it.
        let reg = Resource::Registration {
            office: Some(office("2233")),
        };
        let ok = |p: &Principal| authorize(p, op, reg, &refdata).is_ok();
        let expect = op == Operation::ReviewRegistration;
        assert_eq!(ok(&officer("2200", &[Duty::Reviewer])), expect, "{op:?}");
        assert_eq!(ok(&officer("2233", &[Duty::Reviewer])), expect, "{op:?}");
        assert!(
            !ok(&officer("5300", &[Duty::Reviewer])),
            "another office {op:?}"
        );
        assert!(
            !ok(&officer("2233", &[Duty::Inspector])),
            "no reviewer duty {op:?}"
        );
        assert!(!ok(&ent(A, &[Duty::EnterpriseAdministrator])), "{op:?}");
        // AEO certification (docs/PARTIES.md): the holder's administrator applies, its users
        // read; reviewers of the auditing office or above it audit; nobody else.
        let cert = Resource::Certification {
            holder: Some(u(A)),
            office: Some(office("2233")),
        };
        let ok = |p: &Principal| authorize(p, op, cert, &refdata).is_ok();
        assert_eq!(
            ok(&ent(A, &[Duty::EnterpriseAdministrator])),
            matches!(op, Operation::ApplyCertification | Operation::View),
            "administrator {op:?}"
        );
        assert_eq!(
            ok(&ent(A, &[Duty::Declarant])),
            op == Operation::View,
            "declarant {op:?}"
        );
        assert!(
            !ok(&ent(B, &[Duty::EnterpriseAdministrator])),
            "an enterprise of another USCC {op:?}"
        );
        let audit = op == Operation::AuditCertification;
        assert_eq!(ok(&officer("2200", &[Duty::Reviewer])), audit, "{op:?}");
        assert_eq!(ok(&officer("2233", &[Duty::Reviewer])), audit, "{op:?}");
        assert!(
            !ok(&officer("5300", &[Duty::Reviewer])),
            "an officer of another office {op:?}"
        );
        assert!(
            !ok(&officer("2233", &[Duty::Inspector, Duty::AntiSmuggling])),
            "no reviewer duty {op:?}"
        );
        // A reviewer audits no declaration, registration or case with this operation.
        if op == Operation::AuditCertification {
            let d = Resource::Declaration {
                declarant: u(A),
                office: office("2233"),
            };
            assert!(authorize(&officer("2233", &Duty::ALL), op, d, &refdata).is_err());
        }
    }
}

fn service(dir: &std::path::Path) -> Clearance {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    let clock = Arc::new(PinnableClock::default());
    clock.pin(Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap());
    let svc = Clearance::new(store, Arc::new(RefData::embedded().unwrap()), clock)
        .with_lane_policy(Box::new(clearance::DefaultLanePolicy));
    let e = svc.store().eport_store().unwrap();
    for (uscc, name) in [
        (A, "上海示例电子"),
        (B, "上海示例乙"),
        (K, "上海示例报关行"),
    ] {
        e.put_registry(
            eport::RegistryEntry {
                uscc: u(uscc),
                name: name.into(),
                status: eport::RegistryStatus::Active,
            },
            &Actor::System {
                component: "test".into(),
            },
            svc.now(),
        )
        .unwrap();
    }
    svc
}

fn sign_up(kind: EnterpriseKind, uscc: &str, name: &str, login: &str) -> SignUp {
    SignUp {
        kind,
        uscc: uscc.into(),
        office: "2200".into(),
        name: name.into(),
        address: "上海市浦东新区".into(),
        contact: "李四 021-6666".into(),
        zone: "9".into(),
        economic_type: match kind {
            EnterpriseKind::Broker => "8".into(),
            EnterpriseKind::Consignee => "6".into(),
        },
        admin_login: login.into(),
        admin_password: "Registration-Pass-1".into(),
    }
}

fn body(trader: &str, n: u32) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = trader.into();
    v["owner"]["uscc"] = trader.into();
    v["declaration_office"] = "2200".into();
    v["entry_exit_office"] = "2200".into();
    v["contract_no"] = format!("REG-{n}").into();
    v.to_string().into_bytes()
}

fn signed_in(svc: &Clearance, login: &str, password: &str) -> Principal {
    svc.users().login(login, password).unwrap().principal
}

#[test]
fn sign_up_review_roles_and_cancellation() {
    let dir = tempfile::tempdir().unwrap();
    let svc = service(dir.path());
    let reg = svc.registrations();

    // Every problem at once, and nothing written.
    let mut bad = sign_up(
        EnterpriseKind::Consignee,
        "91310115MA1K4Q7B4Z",
        "",
        "a admin",
    );
    bad.zone = "7".into();
    bad.economic_type = "8".into();
    bad.office = "9999".into();
    bad.admin_password = "short".into();
    match reg.sign_up(bad) {
        Err(AppError::Invalid(p)) => {
            let fields: BTreeSet<&str> = p.iter().map(|x| x.field.as_str()).collect();
            for f in [
                "uscc",
                "office",
                "name",
                "zone",
                "economic_type",
                "admin_login",
                "admin_password",
            ] {
                assert!(fields.contains(f), "{f} missing from {p:?}");
            }
            assert!(p
                .iter()
                .all(|x| !x.message_zh.is_empty() && !x.message_en.is_empty()));
        }
        other => panic!("expected 422, got {other:?}"),
    }
    // The registry: its name, and a USCC it does not hold.
    match reg.sign_up(sign_up(EnterpriseKind::Consignee, A, "别的名字", "a-admin")) {
        Err(AppError::Invalid(p)) => assert_eq!(p[0].code, "name_mismatch", "{p:?}"),
        other => panic!("expected name_mismatch, got {other:?}"),
    }
    match reg.sign_up(sign_up(
        EnterpriseKind::Consignee,
        "91440300MA5FT3XKX8",
        "深圳",
        "m-admin",
    )) {
        Err(AppError::Invalid(p)) => assert_eq!(p[0].code, "not_in_registry", "{p:?}"),
        other => panic!("expected not_in_registry, got {other:?}"),
    }
    assert!(svc.store().account_by_login("a-admin").unwrap().is_none());

    // A consignee: effective at once, its code from its USCC's locality (310115 → 3101).
    let ra = reg
        .sign_up(sign_up(
            EnterpriseKind::Consignee,
            A,
            "上海示例电子",
            "a-admin",
        ))
        .unwrap();
    assert_eq!(ra.status, RegistrationStatus::Effective);
    assert_eq!(ra.customs_code.unwrap().as_str(), "3101960001");
    let a_admin = signed_in(&svc, "a-admin", "Registration-Pass-1");
    assert!(svc.filing().submit(&a_admin, "a-1", &body(A, 1)).is_ok());

    // A broker: pending; its filing for a consignee is refused (no authority needed to see
    // that: its own registration is not in force).
    let rk = reg
        .sign_up(sign_up(
            EnterpriseKind::Broker,
            K,
            "上海示例报关行",
            "k-admin",
        ))
        .unwrap();
    assert_eq!(rk.status, RegistrationStatus::PendingReview);
    assert_eq!(rk.customs_code, None);
    let b = reg
        .sign_up(sign_up(
            EnterpriseKind::Consignee,
            B,
            "上海示例乙",
            "b-admin",
        ))
        .unwrap();
    let b_admin = signed_in(&svc, "b-admin", "Registration-Pass-1");

    // Review: a reviewer of another office does not see it; one of 2200 approves.
    let far = officer("5300", &[Duty::Reviewer]);
    assert!(matches!(
        reg.review(&far, rk.id, true, String::new(), Some(1)),
        Err(AppError::NotFound(_))
    ));
    let reviewer = officer("2200", &[Duty::Reviewer]);
    assert!(matches!(
        reg.review(&a_admin, rk.id, true, String::new(), Some(1)),
        Err(AppError::NotFound(_))
    ));
    assert_eq!(
        reg.list(&reviewer, Some(RegistrationStatus::PendingReview))
            .unwrap()
            .len(),
        1
    );
    let rk = reg
        .review(&reviewer, rk.id, true, "in order".into(), Some(1))
        .unwrap();
    assert_eq!(rk.status, RegistrationStatus::Effective);
    assert_eq!(rk.customs_code.unwrap().as_str(), "3101980001");

    // Users: the administrator adds a viewer and a finance user; the viewer cannot file.
    reg.add_user(
        &a_admin,
        "a-viewer".into(),
        "Registration-Pass-2".into(),
        &["viewer".into()],
    )
    .unwrap();
    reg.add_user(
        &a_admin,
        "a-finance".into(),
        "Registration-Pass-3".into(),
        &["finance".into()],
    )
    .unwrap();
    let bad_role = reg.add_user(
        &a_admin,
        "a-x".into(),
        "Registration-Pass-4".into(),
        &["reviewer".into()],
    );
    assert!(
        matches!(bad_role, Err(AppError::Invalid(_))),
        "{bad_role:?}"
    );
    let viewer = signed_in(&svc, "a-viewer", "Registration-Pass-2");
    let finance = signed_in(&svc, "a-finance", "Registration-Pass-3");
    assert!(matches!(
        svc.filing().submit(&viewer, "v-1", &body(A, 2)),
        Err(AppError::Forbidden(_))
    ));
    assert!(matches!(
        svc.filing().submit(&finance, "f-1", &body(A, 3)),
        Err(AppError::Forbidden(_))
    ));
    // The viewer made a declarant: it files (its cached session reads the new roles).
    reg.set_roles(&a_admin, "a-viewer", &["declarant".into()])
        .unwrap();
    let token = svc
        .users()
        .login("a-viewer", "Registration-Pass-2")
        .unwrap()
        .token;
    let viewer = svc.users().authenticate(&token).unwrap();
    assert!(svc.filing().submit(&viewer, "v-2", &body(A, 4)).is_ok());
    // A non-administrator manages nothing; the administrator of another enterprise neither
    // lists, nor changes roles of, nor disables A's users.
    assert!(matches!(reg.users(&viewer), Err(AppError::Forbidden(_))));
    assert!(matches!(reg.users(&b_admin), Ok(v) if v.len() == 1));
    assert!(matches!(
        reg.set_roles(&b_admin, "a-viewer", &["viewer".into()]),
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        reg.set_enabled(&b_admin, "a-viewer", false),
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        reg.change(
            &b_admin,
            ra.id,
            app::registration::DetailsRequest {
                name: "x".into(),
                address: "x".into(),
                contact: "x".into(),
                zone: "9".into(),
                economic_type: "6".into(),
            },
            None
        ),
        Err(AppError::NotFound(_))
    ));
    assert!(matches!(
        reg.set_roles(&a_admin, "a-admin", &["declarant".into()]),
        Err(AppError::Conflict {
            code: "own_administrator_role",
            ..
        })
    ));

    // Cancelled: A files nothing more, with the reason in both languages.
    let ra = reg.mine(&a_admin).unwrap();
    let ra = reg
        .cancel(&a_admin, ra.id, "ceased trading".into(), Some(ra.version))
        .unwrap();
    assert_eq!(ra.status, RegistrationStatus::Cancelled);
    match svc.filing().submit(&a_admin, "a-2", &body(A, 5)) {
        Err(AppError::Forbidden(d)) => {
            assert_eq!(d.code, "registration_cancelled");
            assert_ne!(d.message_zh, d.message_en);
        }
        other => panic!("expected 403 registration_cancelled, got {other:?}"),
    }
    assert!(matches!(
        reg.cancel(&a_admin, ra.id, "again".into(), None),
        Err(AppError::Conflict {
            code: "registration_closed",
            ..
        })
    ));
    // B is untouched.
    assert!(svc.filing().submit(&b_admin, "b-1", &body(B, 6)).is_ok());
    let _ = b;
}
