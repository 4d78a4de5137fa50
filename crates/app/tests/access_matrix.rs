//! The access-control matrix: every role × every operation × every scope, against a table
//! written here by hand (the specification), not derived from the code under test.
//!
//! The declaration D is filed by enterprise A at office 0101 (Beijing Capital Airport, under
//! 0100 Beijing, under 0000 HQ). Scopes: the enterprise's own filing or another's; an officer of
//! the same office, of a sibling (0102), of the parent (0100), of another directly-affiliated
//! customs (2200); HQ.

use std::collections::BTreeSet;

use app::{authorize, Duty, Operation, Principal, Resource, Role};
use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;

fn office(s: &str) -> OfficeCode {
    OfficeCode::parse(s).unwrap()
}
fn a() -> Uscc {
    Uscc::parse("91110000600037341L").unwrap()
}
fn b() -> Uscc {
    Uscc::parse("91310000132149237G").unwrap()
}

/// What each officer duty allows on a declaration in scope, besides viewing it.
fn duty_ops(d: Duty) -> &'static [Operation] {
    use Operation::*;
    match d {
        Duty::Reviewer => &[RecordReview, OrderInspection, DecideRequest, Correct],
        Duty::Inspector => &[RecordInspection],
        Duty::TaxOfficer => &[Assess, DecideRefund],
        Duty::ReleaseOfficer => &[Release, ReleaseAgainstGuarantee, Close],
        Duty::AntiSmuggling => &[Suspend],
        Duty::RiskAnalyst | Duty::Statistician | Duty::Administrator => &[],
        // Enterprise users' roles (issue 19) give an officer nothing.
        Duty::EnterpriseAdministrator | Duty::Declarant | Duty::Finance | Duty::Viewer => &[],
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

fn officer(office_code: &str, duty: Duty) -> Principal {
    Principal::Officer {
        user_id: 1,
        login: "o".into(),
        office: office(office_code),
        duties: BTreeSet::from([duty]),
    }
}

#[test]
fn declaration_matrix() {
    let refdata = RefData::embedded().unwrap();
    let d = Resource::Declaration {
        declarant: a(),
        office: office("0101"),
    };
    let mut checked = 0;
    let mut check = |who: &str, p: &Principal, op: Operation, expect: bool| {
        let got = authorize(p, op, d, &refdata).is_ok();
        assert_eq!(
            got,
            expect,
            "{who} {op:?} on D: expected {}",
            if expect { "allow" } else { "deny" }
        );
        checked += 1;
    };
    for op in Operation::ALL {
        // Enterprises: their own filing only.
        let own = Principal::Enterprise {
            user_id: 1,
            login: "a".into(),
            uscc: a(),
            roles: app::access::legacy_enterprise_roles(),
        };
        let other = Principal::Enterprise {
            user_id: 2,
            login: "b".into(),
            uscc: b(),
            roles: app::access::legacy_enterprise_roles(),
        };
        check("enterprise/own", &own, op, ENTERPRISE_OPS.contains(&op));
        check("enterprise/other", &other, op, false);

        // Officers, one duty each, by office relation.
        for duty in Duty::ALL {
            // Seeing a declaration, an officer may also attach a document to it (issue 20).
            let allowed_in_scope =
                op == Operation::View || op == Operation::Attach || duty_ops(duty).contains(&op);
            for (scope, code, in_scope) in [
                ("own office", "0101", true),
                ("parent office", "0100", true),
                ("sibling office", "0102", false),
                ("other customs", "2200", false),
            ] {
                let p = officer(code, duty);
                check(
                    &format!("{duty:?}/{scope}"),
                    &p,
                    op,
                    in_scope && allowed_in_scope,
                );
            }
            let hq = Principal::Hq {
                user_id: 3,
                login: "hq".into(),
                duties: BTreeSet::from([duty]),
            };
            check(&format!("hq {duty:?}"), &hq, op, allowed_in_scope);
        }

        // An officer of the office with no duty at all still sees its work.
        let none = Principal::Officer {
            user_id: 4,
            login: "n".into(),
            office: office("0101"),
            duties: BTreeSet::new(),
        };
        check(
            "officer without duties",
            &none,
            op,
            op == Operation::View || op == Operation::Attach,
        );

        let agency = Principal::Agency {
            user_id: 5,
            login: "m".into(),
            agency: "commerce".into(),
        };
        check("agency", &agency, op, false);
        let admin = Principal::Admin {
            user_id: 6,
            login: "root".into(),
        };
        check("admin", &admin, op, false);
    }
    assert_eq!(checked, Operation::ALL.len() * (2 + 8 * 5 + 3));
}

/// A subordinate officer does not see the parent office's work.
#[test]
fn child_office_does_not_see_parent() {
    let refdata = RefData::embedded().unwrap();
    let at_parent = Resource::Declaration {
        declarant: a(),
        office: office("2200"),
    };
    let at_child = Resource::Declaration {
        declarant: a(),
        office: office("2233"),
    };
    let child_officer = officer("2233", Duty::Reviewer);
    let parent_officer = officer("2200", Duty::Reviewer);
    assert!(authorize(&child_officer, Operation::View, at_parent, &refdata).is_err());
    assert!(authorize(&child_officer, Operation::View, at_child, &refdata).is_ok());
    assert!(authorize(&parent_officer, Operation::RecordReview, at_child, &refdata).is_ok());
    // 2244 is not in the table: its digits put it under 2200, beside 2233.
    let sibling = Resource::Declaration {
        declarant: a(),
        office: office("2244"),
    };
    assert!(authorize(&child_officer, Operation::View, sibling, &refdata).is_err());
    assert!(authorize(&parent_officer, Operation::View, sibling, &refdata).is_ok());
}

#[test]
fn listing_users_and_system() {
    let refdata = RefData::embedded().unwrap();
    let ent = Principal::Enterprise {
        user_id: 1,
        login: "a".into(),
        uscc: a(),
        roles: app::access::legacy_enterprise_roles(),
    };
    let off = officer("2200", Duty::Statistician);
    let office_admin = officer("2200", Duty::Administrator);
    let hq = Principal::Hq {
        user_id: 3,
        login: "hq".into(),
        duties: BTreeSet::new(),
    };
    let agency = Principal::Agency {
        user_id: 5,
        login: "m".into(),
        agency: "tax".into(),
    };
    let admin = Principal::Admin {
        user_id: 6,
        login: "root".into(),
    };

    for op in Operation::ALL {
        for (who, p, may_list) in [
            ("enterprise", &ent, true),
            ("officer", &off, true),
            ("hq", &hq, true),
            ("agency", &agency, false),
            ("admin", &admin, false),
        ] {
            assert_eq!(
                authorize(p, op, Resource::Listing, &refdata).is_ok(),
                may_list && op == Operation::List,
                "{who} {op:?} listing"
            );
        }
        let admin_ops = [Operation::ManageUsers, Operation::RevokeSessions];
        let officer_user_here = Resource::User {
            role: Role::Officer,
            office: Some(office("2233")),
        };
        let officer_user_elsewhere = Resource::User {
            role: Role::Officer,
            office: Some(office("5300")),
        };
        let enterprise_user = Resource::User {
            role: Role::Enterprise,
            office: None,
        };
        assert_eq!(
            authorize(&admin, op, officer_user_here, &refdata).is_ok(),
            admin_ops.contains(&op),
            "admin {op:?}"
        );
        assert_eq!(
            authorize(&admin, op, enterprise_user, &refdata).is_ok(),
            admin_ops.contains(&op),
            "admin {op:?}"
        );
        assert_eq!(
            authorize(&office_admin, op, officer_user_here, &refdata).is_ok(),
            admin_ops.contains(&op),
            "office admin {op:?} here"
        );
        assert!(
            authorize(&office_admin, op, officer_user_elsewhere, &refdata).is_err(),
            "office admin {op:?} elsewhere"
        );
        assert!(
            authorize(&office_admin, op, enterprise_user, &refdata).is_err(),
            "office admin {op:?} enterprise user"
        );
        for p in [&ent, &off, &hq, &agency] {
            assert!(
                authorize(p, op, officer_user_here, &refdata).is_err(),
                "{p:?} {op:?} users"
            );
            assert!(
                authorize(p, op, Resource::System, &refdata).is_err(),
                "{p:?} {op:?} system"
            );
        }
        assert_eq!(
            authorize(&admin, op, Resource::System, &refdata).is_ok(),
            matches!(op, Operation::VerifyAudit | Operation::UnlockSignIn)
        );
    }
}

/// Statistics: statisticians only, each within their scope; HQ statisticians everywhere;
/// nobody else, whatever their other duties.
#[test]
fn statistics_matrix() {
    let refdata = RefData::embedded().unwrap();
    let stats = |o: Option<&str>| Resource::Statistics {
        office: o.map(office),
    };
    for duty in Duty::ALL {
        let statistician = duty == Duty::Statistician;
        let p = officer("2200", duty);
        for (what, r, in_scope) in [
            ("own scope", stats(None), true),
            ("own office", stats(Some("2200")), true),
            ("office below", stats(Some("2233")), true),
            ("other customs", stats(Some("5300")), false),
            ("hq office", stats(Some("0000")), false),
        ] {
            for op in Operation::ALL {
                assert_eq!(
                    authorize(&p, op, r, &refdata).is_ok(),
                    statistician && in_scope && op == Operation::ViewStatistics,
                    "officer {duty:?} {op:?} statistics of {what}"
                );
            }
        }
        let hq = Principal::Hq {
            user_id: 3,
            login: "hq".into(),
            duties: BTreeSet::from([duty]),
        };
        for r in [stats(None), stats(Some("5300")), stats(Some("0101"))] {
            for op in Operation::ALL {
                assert_eq!(
                    authorize(&hq, op, r, &refdata).is_ok(),
                    statistician && op == Operation::ViewStatistics,
                    "hq {duty:?} {op:?} statistics"
                );
            }
        }
    }
    let others = [
        Principal::Enterprise {
            user_id: 1,
            login: "a".into(),
            uscc: a(),
            roles: app::access::legacy_enterprise_roles(),
        },
        Principal::Agency {
            user_id: 5,
            login: "m".into(),
            agency: "tax".into(),
        },
        Principal::Admin {
            user_id: 6,
            login: "root".into(),
        },
    ];
    for p in &others {
        for op in Operation::ALL {
            assert!(
                authorize(p, op, stats(None), &refdata).is_err(),
                "{p:?} {op:?}"
            );
        }
    }
}

/// Risk management (docs/RISK.md "API"): analysts manage rules owned within their scope, lists
/// and the report; reviewers set credit classes; nobody else does any of it.
#[test]
fn risk_matrix() {
    use Operation::*;
    let refdata = RefData::embedded().unwrap();
    let national = Resource::Risk { office: None };
    let owned = |o: &str| Resource::Risk {
        office: Some(office(o)),
    };
    let analyst = officer("2200", Duty::RiskAnalyst);
    let reviewer = officer("2200", Duty::Reviewer);
    let hq_analyst = Principal::Hq {
        user_id: 3,
        login: "hq".into(),
        duties: BTreeSet::from([Duty::RiskAnalyst]),
    };
    let ok = |p: &Principal, op, r| authorize(p, op, r, &refdata).is_ok();
    // Rules owned by the analyst's office or below it; not above, not elsewhere.
    assert!(ok(&analyst, ManageRiskRules, owned("2200")));
    assert!(ok(&analyst, ManageRiskRules, owned("2201")));
    assert!(!ok(&analyst, ManageRiskRules, owned("0000")));
    assert!(!ok(&analyst, ManageRiskRules, owned("0101")));
    assert!(ok(&hq_analyst, ManageRiskRules, owned("0101")));
    for op in [ManageRiskRules, ManageWatchList, ViewRiskReport] {
        assert!(ok(&analyst, op, national), "{op:?}");
        assert!(ok(&hq_analyst, op, national), "{op:?}");
        assert!(!ok(&reviewer, op, national), "{op:?}");
    }
    assert!(ok(&reviewer, SetCreditClass, national));
    assert!(!ok(&analyst, SetCreditClass, national));
    // Credit classes are decided at HQ or a directly-affiliated customs (2200 Shanghai), not
    // at a subordinate office (2233 Pudong Airport), whose reviewers only apply them.
    assert!(ok(
        &officer("0000", Duty::Reviewer),
        SetCreditClass,
        national
    ));
    assert!(!ok(
        &officer("2233", Duty::Reviewer),
        SetCreditClass,
        national
    ));
    assert!(!ok(&reviewer, SetCreditClass, owned("2200")));
    // The sampling seed and class rates are national policy: HQ's analysts (or those of the
    // headquarters office 0000) set them, no directly-affiliated or subordinate office does.
    let hq_office_analyst = officer("0000", Duty::RiskAnalyst);
    assert!(ok(&hq_analyst, SetRiskPolicy, national));
    assert!(ok(&hq_office_analyst, SetRiskPolicy, national));
    assert!(!ok(&analyst, SetRiskPolicy, national));
    assert!(!ok(&reviewer, SetRiskPolicy, national));
    assert!(!ok(
        &officer("0000", Duty::Reviewer),
        SetRiskPolicy,
        national
    ));
    assert!(!ok(&hq_analyst, SetRiskPolicy, owned("0000")));
    // Lists, classes and the report are national: never asked for one office.
    assert!(!ok(&hq_analyst, ManageWatchList, owned("2200")));
    let others = [
        Principal::Enterprise {
            user_id: 1,
            login: "a".into(),
            uscc: a(),
            roles: app::access::legacy_enterprise_roles(),
        },
        Principal::Agency {
            user_id: 5,
            login: "m".into(),
            agency: "commerce".into(),
        },
        Principal::Admin {
            user_id: 6,
            login: "root".into(),
        },
    ];
    for op in Operation::ALL {
        for p in &others {
            assert!(!ok(p, op, national), "{p:?} {op:?}");
            assert!(!ok(p, op, owned("2200")), "{p:?} {op:?}");
        }
        // Only the four risk operations ever apply to the risk resource.
        if !op.is_risk_management() {
            assert!(!ok(&hq_analyst, op, national), "{op:?}");
            assert!(!ok(&reviewer, op, national), "{op:?}");
        }
    }
}

/// The E-Port ledgers (docs/EPORT.md): every operation on an agency's ledger as a whole and on
/// one holder's records, by every kind of principal. Written out by hand: commerce issues and
/// reads licences, market regulation keeps the registry, tax reads refund claims, banks record
/// funds, forex reads the report; an enterprise reads its licences, files and reads its own
/// claims and reads its own forex match, for itself only.
#[test]
fn eport_matrix() {
    use Operation::*;
    let refdata = RefData::embedded().unwrap();
    let agency = |name: &str| Principal::Agency {
        user_id: 7,
        login: format!("{name}-user"),
        agency: name.into(),
    };
    let ledger_ops = |name: &str| -> &'static [Operation] {
        match name {
            "commerce" | "MOFCOM" => &[IssueLicence, ViewLicences],
            // The development-and-reform commission issues the tariff-quota certificates of the
            // grains and cotton (the service refuses it a licence or another agency's quota).
            "ndrc" => &[IssueLicence, ViewLicences],
            "market_regulation" => &[ManageRegistry],
            "tax" | "SAT" => &[ViewRefundClaims, PayExportRefund],
            "bank" => &[
                RecordFunds,
                RegisterGuarantee,
                ViewGuarantees,
                ReconcilePayments,
            ],
            "forex" | "safe" => &[ViewForexMatch],
            _ => &[],
        }
    };
    let own_ops = [
        ViewLicences,
        FileRefundClaim,
        ViewRefundClaims,
        ViewForexMatch,
        ViewGuarantees,
    ];
    let ent = Principal::Enterprise {
        user_id: 1,
        login: "a".into(),
        uscc: a(),
        roles: app::access::legacy_enterprise_roles(),
    };
    let mut checked = 0;
    for op in Operation::ALL {
        for name in [
            "commerce",
            "MOFCOM",
            "ndrc",
            "market_regulation",
            "tax",
            "SAT",
            "bank",
            "forex",
            "safe",
            "transport",
        ] {
            let p = agency(name);
            let got = authorize(&p, op, Resource::Eport { holder: None }, &refdata).is_ok();
            assert_eq!(
                got,
                ledger_ops(name).contains(&op),
                "{name} {op:?} on the ledger"
            );
            // No agency acts on one holder's records.
            let got = authorize(&p, op, Resource::Eport { holder: Some(a()) }, &refdata).is_ok();
            assert!(!got, "{name} {op:?} on a holder");
            checked += 2;
        }
        let own = authorize(&ent, op, Resource::Eport { holder: Some(a()) }, &refdata).is_ok();
        assert_eq!(own, own_ops.contains(&op), "enterprise {op:?} on its own");
        let other = authorize(&ent, op, Resource::Eport { holder: Some(b()) }, &refdata).is_ok();
        assert!(!other, "enterprise {op:?} on another's");
        let whole = authorize(&ent, op, Resource::Eport { holder: None }, &refdata).is_ok();
        assert!(!whole, "enterprise {op:?} on a whole ledger");
        // Of the E-Port ledgers, officers and HQ only look guarantees up (any holder's), and
        // those with the tax duty enforce them and reconcile any bank's payments (docs/TAX.md "Guarantees").
        for (p, enforces) in [
            (officer("0101", Duty::Reviewer), false),
            (officer("0101", Duty::TaxOfficer), true),
            (
                Principal::Hq {
                    user_id: 3,
                    login: "hq".into(),
                    duties: Duty::ALL.into_iter().collect(),
                },
                true,
            ),
        ] {
            for holder in [None, Some(a())] {
                let expect = op == ViewGuarantees
                    || (enforces
                        && (op == EnforceGuarantees || op == ReconcilePayments)
                        && holder.is_none());
                assert_eq!(
                    authorize(&p, op, Resource::Eport { holder }, &refdata).is_ok(),
                    expect,
                    "{} {op:?} on the E-Port ({holder:?})",
                    p.kind()
                );
            }
        }
        let admin = Principal::Admin {
            user_id: 6,
            login: "root".into(),
        };
        for holder in [None, Some(a())] {
            assert!(
                authorize(&admin, op, Resource::Eport { holder }, &refdata).is_err(),
                "admin {op:?} on the E-Port"
            );
        }
        checked += 3 + 8;
    }
    assert_eq!(checked, Operation::ALL.len() * (10 * 2 + 3 + 8));
}
