//! The contract of [`store::parties::PartiesStore`] (docs/PARTIES.md): powers of attorney
//! (grant, filing under them inside the writer, limits, revocation, a revocation racing
//! filings) and the case register (open, link, seize, penalize with the credit downgrade and
//! its history, payment, hearing, closure; refusals write nothing).

use std::sync::Arc;
use std::thread;

use chrono::{Duration, NaiveDate};
use clearance::{Actor, CreditClass, Lane, Status};
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use rust_decimal::Decimal;
use store::cases::*;
use store::parties::*;
use store::*;

use crate::contract::{
    declarant, other_declarant, reason, sample_body, shanghai, submit_request, t0,
};

pub trait PartiesHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn broker() -> Uscc {
    Uscc::parse("91440300MA5FT3XKX8").unwrap()
}

fn consignee_actor() -> Actor {
    Actor::Enterprise { uscc: declarant() }
}

fn scope() -> AuthorityScope {
    AuthorityScope {
        trade_modes: vec!["0110".into()],
        offices: vec![shanghai()],
        valid_from: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
        valid_to: NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
        max_declarations: None,
        max_value_fen: None,
    }
}

fn parties(s: &dyn Store) -> &dyn PartiesStore {
    s.parties_store()
        .expect("the backend keeps powers of attorney")
}

fn grant(s: &dyn Store, scope: AuthorityScope) -> StoredAuthority {
    parties(s)
        .grant_authority(
            NewAuthority {
                grantor: declarant(),
                broker: broker(),
                scope,
            },
            &consignee_actor(),
            t0(),
        )
        .unwrap()
}

fn accept() -> AutomaticReview {
    AutomaticReview::Accept {
        lane: Lane::Green,
        reasons: vec![reason()],
        assessment: None,
    }
}

/// A filing by the broker's user `login` under authority `id`.
fn agent_filing(seq: &str, i: u64, id: i64, value: i64) -> SubmitRequest {
    let mut r = submit_request(seq, sample_body(i));
    r.actor = Actor::Broker {
        broker: broker(),
        login: "broker-user".into(),
        principal: declarant(),
        authority: id,
    };
    r.goods_value_fen = Some(Fen(value));
    r.agent = Some(AgentFiling {
        authority: id,
        broker: broker(),
        login: "broker-user".into(),
        trade_mode: Some("0110".into()),
    });
    r
}

fn refusal(e: StoreError) -> AuthorityRefusal {
    match e {
        StoreError::Authority(r) => r,
        other => panic!("expected a power-of-attorney refusal, got {other:?}"),
    }
}

fn all_declarations(s: &dyn Store) -> usize {
    s.list(
        &ListFilter::default(),
        &PageRequest {
            after: None,
            limit: PAGE_MAX,
        },
    )
    .unwrap()
    .items
    .len()
}

/// Grant, file under it (recorded with the broker and counted), revoke (only the grantor,
/// once), and a filing after the revocation refused with nothing written.
pub fn grant_file_and_revoke(h: &impl PartiesHarness) {
    let s = h.open();
    let s = &*s;
    let a = grant(s, scope());
    assert_eq!(a.used_declarations, 0);
    assert_eq!(a.grantor, declarant());

    let filed = s
        .submit_reviewed(agent_filing("A-1", 1, a.id, 50_000), accept())
        .unwrap();
    assert_eq!(filed.status, Status::AwaitingAssessment);
    let d = s.load(DeclarationKey::Id(filed.id)).unwrap().unwrap();
    let header = d.state.header.unwrap();
    assert_eq!(
        header.declarant,
        declarant(),
        "filed in the consignee's name"
    );
    assert_eq!(
        header.agent,
        Some(clearance::AgentRef {
            broker: broker(),
            authority: a.id
        }),
        "the broker is recorded on the declaration"
    );
    let events = s.events(filed.id).unwrap();
    assert!(
        matches!(&events[0].event.actor, Actor::Broker { login, .. } if login == "broker-user")
    );
    assert_eq!(
        parties(s).agent_declarations(broker(), 10).unwrap(),
        vec![filed.id]
    );
    let a1 = parties(s).authority(a.id).unwrap().unwrap();
    assert_eq!(a1.used_declarations, 1);
    assert_eq!(a1.used_value_fen, Fen(50_000));

    // A retry is not counted twice.
    let again = s
        .submit_reviewed(agent_filing("A-1", 1, a.id, 50_000), accept())
        .unwrap();
    assert!(again.replayed);
    assert_eq!(
        parties(s)
            .authority(a.id)
            .unwrap()
            .unwrap()
            .used_declarations,
        1
    );

    // Only the grantor revokes.
    let e = parties(s)
        .revoke_authority(a.id, broker(), &consignee_actor(), t0())
        .unwrap_err();
    assert_eq!(refusal(e).code(), "not_grantor");
    let r = parties(s)
        .revoke_authority(a.id, declarant(), &consignee_actor(), t0())
        .unwrap();
    assert!(r.revoked_at.is_some());
    assert_eq!(r.standing(t0()), Standing::Revoked);
    let e = parties(s)
        .revoke_authority(a.id, declarant(), &consignee_actor(), t0())
        .unwrap_err();
    assert_eq!(refusal(e).code(), "authority_revoked");

    let before = all_declarations(s);
    let e = s
        .submit_reviewed(agent_filing("A-2", 2, a.id, 1), accept())
        .unwrap_err();
    let r = refusal(e);
    assert_eq!(r.code(), "authority_revoked");
    assert!(r.message_zh().contains("撤销"));
    assert_eq!(all_declarations(s), before, "nothing written");
    assert!(s.verify_audit().unwrap().is_intact());

    // An authority of another pair, or none at all.
    let e = s
        .submit_reviewed(agent_filing("A-3", 3, a.id + 1000, 1), accept())
        .unwrap_err();
    assert_eq!(refusal(e).code(), "no_authority");
    let listed = parties(s)
        .authorities(AuthorityFilter::Grantor(declarant()))
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(parties(s)
        .authorities(AuthorityFilter::Broker(declarant()))
        .unwrap()
        .is_empty());
}

/// Scope and limits, each refused with its reason and nothing written.
pub fn scope_and_limits(h: &impl PartiesHarness) {
    let s = h.open();
    let s = &*s;
    let a = grant(
        s,
        AuthorityScope {
            max_declarations: Some(2),
            max_value_fen: Some(Fen(100_000)),
            ..scope()
        },
    );
    // Trade mode out of scope.
    let mut r = agent_filing("S-1", 1, a.id, 1);
    r.agent.as_mut().unwrap().trade_mode = Some("0615".into());
    assert_eq!(
        refusal(s.submit_reviewed(r, accept()).unwrap_err()).code(),
        "trade_mode_out_of_scope"
    );
    // Office out of scope.
    let mut r = agent_filing("S-2", 2, a.id, 1);
    r.declaration_office = OfficeCode::parse("0101").unwrap();
    assert_eq!(
        refusal(s.submit_reviewed(r, accept()).unwrap_err()).code(),
        "office_out_of_scope"
    );
    // Expired, not yet valid.
    let mut r = agent_filing("S-3", 3, a.id, 1);
    r.now = t0() + Duration::days(30);
    assert_eq!(
        refusal(s.submit_reviewed(r, accept()).unwrap_err()).code(),
        "authority_expired"
    );
    let mut r = agent_filing("S-4", 4, a.id, 1);
    r.now = t0() - Duration::days(20);
    assert_eq!(
        refusal(s.submit_reviewed(r, accept()).unwrap_err()).code(),
        "authority_not_yet_valid"
    );
    assert_eq!(all_declarations(s), 0, "no refused filing was written");
    // Value: 60,000 then 50,000 would pass 100,000.
    s.submit_reviewed(agent_filing("S-5", 5, a.id, 60_000), accept())
        .unwrap();
    assert_eq!(
        refusal(
            s.submit_reviewed(agent_filing("S-6", 6, a.id, 50_000), accept())
                .unwrap_err()
        )
        .code(),
        "authority_value_limit"
    );
    // A rejected filing lodges nothing and does not count.
    let rejected = s
        .submit_reviewed(
            agent_filing("S-7", 7, a.id, 0),
            AutomaticReview::Reject {
                problems: vec![clearance::ReviewProblem {
                    field: "items".into(),
                    code: "missing".into(),
                    message_zh: "缺少商品".into(),
                    message_en: "no items".into(),
                }],
            },
        )
        .unwrap();
    assert_eq!(rejected.status, Status::Rejected);
    s.submit_reviewed(agent_filing("S-8", 8, a.id, 10_000), accept())
        .unwrap();
    // Count: two accepted.
    assert_eq!(
        refusal(
            s.submit_reviewed(agent_filing("S-9", 9, a.id, 1), accept())
                .unwrap_err()
        )
        .code(),
        "authority_count_limit"
    );
    let a = parties(s).authority(a.id).unwrap().unwrap();
    assert_eq!((a.used_declarations, a.used_value_fen), (2, Fen(70_000)));
    // A bad grant.
    let e = parties(s)
        .grant_authority(
            NewAuthority {
                grantor: declarant(),
                broker: declarant(),
                scope: scope(),
            },
            &consignee_actor(),
            t0(),
        )
        .unwrap_err();
    assert_eq!(refusal(e).code(), "bad_scope");
}

/// Filings racing a revocation: every filing written before the revocation committed counts,
/// none after; and any filing sent once the revocation answered is refused.
pub fn revocation_racing_filings(h: &impl PartiesHarness) {
    let s: Arc<dyn Store> = Arc::from(h.open());
    let a = grant(&*s, scope());
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut ok = 0u64;
                let mut refused = 0u64;
                for i in 0..10u64 {
                    let n = t * 100 + i;
                    match s.submit_reviewed(agent_filing(&format!("R-{n}"), n, a.id, 1), accept()) {
                        Ok(_) => ok += 1,
                        Err(StoreError::Authority(AuthorityRefusal::Revoked { .. })) => {
                            refused += 1
                        }
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    thread::sleep(std::time::Duration::from_millis(20));
    parties(&*s)
        .revoke_authority(a.id, declarant(), &consignee_actor(), t0())
        .unwrap();
    let e = s
        .submit_reviewed(agent_filing("R-after", 9999, a.id, 1), accept())
        .unwrap_err();
    assert_eq!(refusal(e).code(), "authority_revoked");
    let (mut ok, mut refused) = (0, 0);
    for t in threads {
        let (o, r) = t.join().unwrap();
        ok += o;
        refused += r;
    }
    assert_eq!(ok + refused, 80);
    let a = parties(&*s).authority(a.id).unwrap().unwrap();
    assert_eq!(
        a.used_declarations, ok,
        "every written filing counted, once"
    );
    assert_eq!(
        all_declarations(&*s) as u64,
        ok,
        "no refused filing written"
    );
    assert!(s.verify_audit().unwrap().is_intact());
}

fn officer() -> Actor {
    Actor::AntiSmuggling {
        login: "js1".into(),
        office: shanghai(),
    }
}

fn step(
    s: &dyn Store,
    case: Option<&StoredCase>,
    step: CaseStep,
) -> Result<StoredCase, StoreError> {
    parties(s).case_step(CaseWrite {
        case: case.map(|c| c.id),
        expected_version: case.map(|c| c.version),
        step,
        actor: officer(),
        now: t0(),
    })
}

fn case_refusal(e: StoreError) -> CaseRefusal {
    match e {
        StoreError::Case(r) => r,
        other => panic!("expected a case refusal, got {other:?}"),
    }
}

/// A case from opening to closure; a smuggling penalty discredits the party with a history
/// row; refusals write nothing.
pub fn case_register(h: &impl PartiesHarness) {
    let s = h.open();
    let s = &*s;
    let c = step(
        s,
        None,
        CaseStep::Open {
            office: shanghai(),
            origin: CaseOrigin::RiskHit,
            origin_ref: "220020251000000001".into(),
            summary: "undervalued laptops".into(),
        },
    )
    .unwrap();
    assert_eq!(c.case_no, "2200JS2025000001");
    assert_eq!(c.status, CaseStatus::Open);
    let c2 = step(
        s,
        None,
        CaseStep::Open {
            office: shanghai(),
            origin: CaseOrigin::Intelligence,
            origin_ref: "tip-7".into(),
            summary: "second".into(),
        },
    )
    .unwrap();
    assert_eq!(c2.case_no, "2200JS2025000002");

    // A penalty on a party not linked is refused, nothing written.
    let penalty = CaseStep::Penalize {
        party: declarant(),
        kind: PenaltyKind::Smuggling,
        amount_fen: Fen(5_000_000),
        basis: "Customs Law art. 82".into(),
    };
    let e = step(s, Some(&c), penalty.clone()).unwrap_err();
    assert_eq!(case_refusal(e).code, "party_not_linked");
    assert_eq!(parties(s).case(c.id).unwrap().unwrap().version, 1);

    let c = step(
        s,
        Some(&c),
        CaseStep::Link {
            kind: LinkKind::Enterprise,
            reference: declarant().to_string(),
            note: "consignee".into(),
        },
    )
    .unwrap();
    let c = step(
        s,
        Some(&c),
        CaseStep::Seize {
            goods: "laptops".into(),
            quantity: Decimal::new(100, 0),
            unit: "台".into(),
            place: "Yangshan terminal".into(),
            custody: "customs warehouse 3".into(),
        },
    )
    .unwrap();
    assert_eq!(c.seizures[0].no, 1);
    // A stale version is refused.
    let stale = CaseWrite {
        case: Some(c.id),
        expected_version: Some(1),
        step: CaseStep::Hearing {
            held_on: NaiveDate::from_ymd_opt(2025, 3, 20).unwrap(),
            notes: "x".into(),
        },
        actor: officer(),
        now: t0(),
    };
    assert_eq!(
        case_refusal(parties(s).case_step(stale).unwrap_err()).code,
        "version_conflict"
    );
    let c = step(s, Some(&c), penalty).unwrap();
    let credit = c.penalties[0].credit.clone().unwrap();
    assert_eq!(
        (credit.from, credit.to),
        (CreditClass::General, CreditClass::Discredited)
    );
    let classes = s.risk_store().unwrap().credit_classes().unwrap();
    assert!(classes
        .iter()
        .any(|k| k.uscc == declarant() && k.class == CreditClass::Discredited));
    let history = parties(s).credit_history(declarant()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].trigger, "penalty:2200JS2025000001/1");

    let e = step(
        s,
        Some(&c),
        CaseStep::RecordPayment {
            penalty: 1,
            bank: "BOC".into(),
            reference: "P-1".into(),
            amount_fen: Fen(1),
        },
    )
    .unwrap_err();
    assert_eq!(case_refusal(e).code, "wrong_amount");
    let c = step(
        s,
        Some(&c),
        CaseStep::RecordPayment {
            penalty: 1,
            bank: "BOC".into(),
            reference: "P-1".into(),
            amount_fen: Fen(5_000_000),
        },
    )
    .unwrap();
    assert!(c.penalties[0].payment.is_some());
    let c = step(
        s,
        Some(&c),
        CaseStep::Hearing {
            held_on: NaiveDate::from_ymd_opt(2025, 3, 20).unwrap(),
            notes: "the party was heard".into(),
        },
    )
    .unwrap();
    let c = step(
        s,
        Some(&c),
        CaseStep::Close {
            conclusion: "penalized and paid".into(),
        },
    )
    .unwrap();
    assert_eq!(c.status, CaseStatus::Closed);
    let e = step(
        s,
        Some(&c),
        CaseStep::Hearing {
            held_on: NaiveDate::from_ymd_opt(2025, 3, 21).unwrap(),
            notes: "late".into(),
        },
    )
    .unwrap_err();
    assert_eq!(case_refusal(e).code, "case_closed");

    assert_eq!(
        parties(s).case_by_no("2200JS2025000001").unwrap().unwrap(),
        c
    );
    let open = parties(s)
        .cases(&CaseFilter {
            offices: Some(vec![shanghai()]),
            status: Some(CaseStatus::Open),
        })
        .unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].case_no, "2200JS2025000002");
    assert!(parties(s)
        .cases(&CaseFilter {
            offices: Some(vec![OfficeCode::parse("0100").unwrap()]),
            status: None,
        })
        .unwrap()
        .is_empty());
    assert!(s.verify_audit().unwrap().is_intact());
}

fn reg_write(
    id: Option<i64>,
    expected_version: Option<u64>,
    step: store::registration::RegistrationStep,
    admin: Option<NewAccount>,
) -> store::registration::RegistrationWrite {
    store::registration::RegistrationWrite {
        registration: id,
        expected_version,
        step,
        admin,
        actor: Actor::System {
            component: "contract".into(),
        },
        now: t0(),
    }
}

fn admin_account(login: &str, uscc: Uscc) -> NewAccount {
    NewAccount {
        user: NewUser {
            login: login.into(),
            role: Role::Enterprise,
            office: None,
            uscc: Some(uscc),
        },
        duties: vec![Duty::EnterpriseAdministrator, Duty::Declarant],
        agency: None,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA".into(),
    }
}

fn apply_step(
    uscc: Uscc,
    kind: store::registration::EnterpriseKind,
    login: &str,
) -> store::registration::RegistrationStep {
    store::registration::RegistrationStep::Apply {
        uscc,
        kind,
        office: shanghai(),
        details: store::registration::RegistrationDetails {
            name: format!("enterprise {uscc}"),
            address: "上海市".into(),
            contact: "王五 021-5555".into(),
            zone: '9',
            economic_type: match kind {
                store::registration::EnterpriseKind::Broker => '8',
                store::registration::EnterpriseKind::Consignee => '6',
            },
        },
        admin_login: login.into(),
    }
}

/// Customs registration: a consignee takes effect at once with its customs code (serials per
/// first six digits), a broker waits for review; an application writes its first administrator
/// with it, and a refused one writes neither; change, cancel, stale versions; an enterprise
/// user's roles replaced.
pub fn registration(h: &impl PartiesHarness) {
    use store::registration::{
        EnterpriseKind::*, RegistrationFilter, RegistrationStatus, RegistrationStep,
    };
    let s = h.open();
    let s = &*s;
    let p = parties(s);
    let a = Uscc::parse("91310000132149237G").unwrap();
    let b = Uscc::parse("91310000MA1FL3EM4X").unwrap();
    let k = Uscc::parse("91310000MA1FL3CA34").unwrap();

    let ra = p
        .registration_step(reg_write(
            None,
            None,
            apply_step(a, Consignee, "a-admin"),
            Some(admin_account("a-admin", a)),
        ))
        .unwrap();
    assert_eq!(ra.status, RegistrationStatus::Effective);
    assert_eq!(ra.customs_code.unwrap().as_str(), "3100960001");
    let admin = s
        .account_by_login("a-admin")
        .unwrap()
        .expect("admin written");
    assert_eq!(admin.user.uscc, Some(a));
    assert_eq!(
        p.enterprise_accounts(a)
            .unwrap()
            .iter()
            .map(|x| x.user.login.as_str())
            .collect::<Vec<_>>(),
        ["a-admin"]
    );

    // The same USCC again: refused, and its administrator not written.
    let again = p.registration_step(reg_write(
        None,
        None,
        apply_step(a, Consignee, "a-admin2"),
        Some(admin_account("a-admin2", a)),
    ));
    assert!(
        matches!(&again, Err(StoreError::Registration(r)) if r.code == "already_registered"),
        "{again:?}"
    );
    assert!(s.account_by_login("a-admin2").unwrap().is_none());
    // A login taken: refused, and no registration written.
    let taken = p.registration_step(reg_write(
        None,
        None,
        apply_step(b, Consignee, "a-admin"),
        Some(admin_account("a-admin", b)),
    ));
    assert!(matches!(taken, Err(StoreError::Duplicate(_))), "{taken:?}");
    assert!(p.registration_by_uscc(b).unwrap().is_none());

    let rb = p
        .registration_step(reg_write(
            None,
            None,
            apply_step(b, Consignee, "b-admin"),
            Some(admin_account("b-admin", b)),
        ))
        .unwrap();
    assert_eq!(rb.customs_code.unwrap().as_str(), "3100960002");

    // A broker waits for review, without a code.
    let rk = p
        .registration_step(reg_write(
            None,
            None,
            apply_step(k, Broker, "k-admin"),
            Some(admin_account("k-admin", k)),
        ))
        .unwrap();
    assert_eq!(rk.status, RegistrationStatus::PendingReview);
    assert_eq!(rk.customs_code, None);
    let review = |v| {
        reg_write(
            Some(rk.id),
            Some(v),
            RegistrationStep::Review {
                approve: true,
                note: "documents in order".into(),
            },
            None,
        )
    };
    let stale = p.registration_step(review(7));
    assert!(
        matches!(&stale, Err(StoreError::Registration(r)) if r.code == "version_conflict"),
        "{stale:?}"
    );
    let rk = p.registration_step(review(1)).unwrap();
    assert_eq!(rk.status, RegistrationStatus::Effective);
    assert_eq!(rk.customs_code.unwrap().as_str(), "3100980001");
    let twice = p.registration_step(review(2));
    assert!(
        matches!(&twice, Err(StoreError::Registration(r)) if r.code == "not_pending"),
        "{twice:?}"
    );
    assert_eq!(
        p.registrations(&RegistrationFilter {
            offices: Some(vec![shanghai()]),
            status: Some(RegistrationStatus::Effective),
        })
        .unwrap()
        .len(),
        3
    );
    assert!(p
        .registrations(&RegistrationFilter {
            offices: Some(vec![OfficeCode::parse("5300").unwrap()]),
            status: None,
        })
        .unwrap()
        .is_empty());

    // Change, then cancel; nothing after the cancellation; the code stays.
    let mut details = match apply_step(a, Consignee, "x") {
        RegistrationStep::Apply { details, .. } => details,
        _ => unreachable!("an application"),
    };
    details.address = "上海市浦东新区".into();
    let ra = p
        .registration_step(reg_write(
            Some(ra.id),
            Some(ra.version),
            RegistrationStep::Change {
                details: details.clone(),
            },
            None,
        ))
        .unwrap();
    assert_eq!(ra.details.address, "上海市浦东新区");
    assert_eq!(ra.changes.len(), 1);
    let ra = p
        .registration_step(reg_write(
            Some(ra.id),
            Some(ra.version),
            RegistrationStep::Cancel {
                reason: "ceased trading".into(),
            },
            None,
        ))
        .unwrap();
    assert_eq!(ra.status, RegistrationStatus::Cancelled);
    let after = p.registration_step(reg_write(
        Some(ra.id),
        Some(ra.version),
        RegistrationStep::Change { details },
        None,
    ));
    assert!(
        matches!(&after, Err(StoreError::Registration(r)) if r.code == "registration_closed"),
        "{after:?}"
    );
    let stored = p.registration(ra.id).unwrap().unwrap();
    assert_eq!(stored, ra);
    assert_eq!(stored.customs_code.unwrap().as_str(), "3100960001");

    // Roles: replaced by the writer; only enterprise roles, only on enterprise users.
    assert_eq!(
        p.set_roles(admin.user.id, vec![Duty::Viewer], &consignee_actor(), t0())
            .unwrap(),
        1
    );
    assert_eq!(
        s.account_by_login("a-admin").unwrap().unwrap().duties,
        vec![Duty::Viewer]
    );
    assert!(matches!(
        p.set_roles(
            admin.user.id,
            vec![Duty::Reviewer],
            &consignee_actor(),
            t0()
        ),
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        p.set_roles(999_999, vec![Duty::Finance], &consignee_actor(), t0()),
        Err(StoreError::NotFound(_))
    ));
}

/// A suspension stands on an open case as it is inside the suspension's own transaction: a
/// case number that does not exist, or a case closed before the suspension reaches the writer,
/// refuses it and nothing is written.
pub fn suspension_checked_in_writer(h: &impl PartiesHarness) {
    use clearance::{decide, Action, Command};
    let s = h.open();
    let s = &*s;
    let file = |seq: &str, i: u64| {
        s.submit_reviewed(submit_request(seq, sample_body(i)), accept())
            .unwrap()
            .id
    };
    let suspend = |id: DeclarationId, case_no: &str| {
        let d = s.load(DeclarationKey::Id(id)).unwrap().unwrap();
        let events = decide(
            &d.state,
            &Command {
                actor: Actor::AntiSmuggling {
                    login: "js".into(),
                    office: shanghai(),
                },
                action: Action::Suspend {
                    reason: "hold".into(),
                    case_no: case_no.into(),
                },
            },
            t0(),
        )
        .expect("an accepted declaration can be suspended");
        (
            d.version,
            s.append(AppendRequest {
                id,
                expected_version: d.version,
                events,
            }),
        )
    };
    let first = file("susp-1", 901);
    let (before, r) = suspend(first, "2200JS2025999999");
    assert!(
        matches!(&r, Err(StoreError::Case(c)) if c.code == "no_such_case" && c.field == "case_no"),
        "{r:?}"
    );
    let d = s.load(DeclarationKey::Id(first)).unwrap().unwrap();
    assert_eq!(d.version, before, "nothing written");
    assert_ne!(d.state.status, Status::Suspended);

    let c = step(
        s,
        None,
        CaseStep::Open {
            office: shanghai(),
            origin: CaseOrigin::Intelligence,
            origin_ref: "tip".into(),
            summary: "hold".into(),
        },
    )
    .unwrap();
    let (_, r) = suspend(first, &c.case_no);
    assert_eq!(r.unwrap().status, Status::Suspended);
    let c = step(
        s,
        Some(&c),
        CaseStep::Close {
            conclusion: "no offence".into(),
        },
    )
    .unwrap();
    let second = file("susp-2", 902);
    let (before, r) = suspend(second, &c.case_no);
    assert!(
        matches!(&r, Err(StoreError::Case(x)) if x.code == "case_closed"),
        "{r:?}"
    );
    assert_eq!(
        s.load(DeclarationKey::Id(second)).unwrap().unwrap().version,
        before
    );
}

fn aeo(
    s: &dyn Store,
    id: Option<i64>,
    version: Option<u64>,
    step: store::aeo::AeoStep,
) -> Result<store::aeo::StoredCertification, StoreError> {
    parties(s).aeo_step(store::aeo::AeoWrite {
        certification: id,
        expected_version: version,
        step,
        actor: officer(),
        now: t0(),
    })
}

/// Score every standard of the current round's checklist, `fails` for the codes given.
fn score_all(
    s: &dyn Store,
    mut c: store::aeo::StoredCertification,
    fails: &[&str],
) -> store::aeo::StoredCertification {
    use store::aeo::{AeoStep, ItemResult};
    let level = c.current().expect("a round").level;
    for std in store::aeo::checklist(level) {
        let failed = fails.contains(&std.code.as_str());
        c = aeo(
            s,
            Some(c.id),
            Some(c.version),
            AeoStep::Score {
                standard: std.code.clone(),
                result: if failed {
                    ItemResult::Fails
                } else {
                    ItemResult::Meets
                },
                finding: if failed {
                    "not met".into()
                } else {
                    String::new()
                },
            },
        )
        .unwrap();
    }
    c
}

fn class_of(s: &dyn Store, uscc: Uscc) -> Option<CreditClass> {
    s.risk_store()
        .unwrap()
        .credit_classes()
        .unwrap()
        .into_iter()
        .find(|k| k.uscc == uscc)
        .map(|k| k.class)
}

/// AEO certification (store::aeo): an application, the audit item by item, a decision that
/// must follow from it and changes the class with its history row in the same transaction; a
/// re-assessment on the same certificate; an officer's recorded decision withdrawing the
/// certificate; a refused audit leaving the class as it was; a case linked to a certified
/// enterprise taking it down; every refusal writing nothing.
pub fn aeo_certification(h: &impl PartiesHarness) {
    use store::aeo::{AeoStatus, AeoStep, CreditDecision, Level, Outcome};
    let s = h.open();
    let s = &*s;
    let p = parties(s);
    let apply = |uscc: Uscc, level: Level| {
        aeo(
            s,
            None,
            None,
            AeoStep::Apply {
                uscc,
                office: shanghai(),
                level,
            },
        )
    };
    let c = apply(declarant(), Level::Advanced).unwrap();
    assert_eq!((c.status, c.version), (AeoStatus::Applied, 1));
    let again = apply(declarant(), Level::General).unwrap_err();
    assert_eq!(case_refusal(again).code, "certification_open");
    // Bad input is refused before it is queued; an incomplete audit decides nothing.
    let bad = aeo(
        s,
        Some(c.id),
        Some(1),
        AeoStep::Score {
            standard: "XX-9".into(),
            result: store::aeo::ItemResult::Meets,
            finding: String::new(),
        },
    )
    .unwrap_err();
    assert_eq!(case_refusal(bad).code, "invalid");
    let early = aeo(
        s,
        Some(c.id),
        Some(1),
        AeoStep::Decide {
            outcome: Outcome::AdvancedCertified,
            reason: "r".into(),
        },
    )
    .unwrap_err();
    assert_eq!(case_refusal(early).code, "audit_incomplete");
    assert_eq!(p.certification(c.id).unwrap().unwrap().version, 1);

    let c = score_all(s, c, &[]);
    assert_eq!(c.status, AeoStatus::InAudit);
    let stale = aeo(
        s,
        Some(c.id),
        Some(1),
        AeoStep::Decide {
            outcome: Outcome::AdvancedCertified,
            reason: "r".into(),
        },
    )
    .unwrap_err();
    assert_eq!(case_refusal(stale).code, "version_conflict");
    let wrong = aeo(
        s,
        Some(c.id),
        Some(c.version),
        AeoStep::Decide {
            outcome: Outcome::Refused,
            reason: "r".into(),
        },
    )
    .unwrap_err();
    assert_eq!(case_refusal(wrong).code, "decision_not_supported");
    assert_eq!(class_of(s, declarant()), None, "nothing written");
    let c = aeo(
        s,
        Some(c.id),
        Some(c.version),
        AeoStep::Decide {
            outcome: Outcome::AdvancedCertified,
            reason: "every standard met".into(),
        },
    )
    .unwrap();
    assert_eq!(c.status, AeoStatus::Certified);
    assert_eq!(c.valid_until, NaiveDate::from_ymd_opt(2030, 3, 10));
    assert_eq!(
        class_of(s, declarant()),
        Some(CreditClass::AdvancedCertified)
    );
    let history = p.credit_history(declarant()).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].from, history[0].to, history[0].trigger.as_str()),
        (
            CreditClass::General,
            CreditClass::AdvancedCertified,
            format!("aeo:{}/1", c.id).as_str()
        )
    );

    // The periodic re-assessment: another audit and decision on the same certificate.
    let c = aeo(
        s,
        Some(c.id),
        Some(c.version),
        AeoStep::Reassess {
            reason: "five years".into(),
        },
    )
    .unwrap();
    assert_eq!((c.status, c.rounds.len()), (AeoStatus::Applied, 2));
    let c = score_all(s, c, &["TS-1"]);
    let c = aeo(
        s,
        Some(c.id),
        Some(c.version),
        AeoStep::Decide {
            outcome: Outcome::GeneralCertified,
            reason: "premises security not met".into(),
        },
    )
    .unwrap();
    assert_eq!(c.class, Some(CreditClass::GeneralCertified));
    assert_eq!(
        class_of(s, declarant()),
        Some(CreditClass::GeneralCertified)
    );

    // An officer's recorded decision: a reason or nothing; below certified, the certificate
    // is withdrawn in the same transaction.
    let no_reason = p.credit_decision(CreditDecision {
        uscc: declarant(),
        class: CreditClass::Discredited,
        reason: " ".into(),
        actor: officer(),
        now: t0(),
    });
    assert!(matches!(no_reason, Err(StoreError::Case(r)) if r.field == "reason"));
    assert_eq!(p.credit_history(declarant()).unwrap().len(), 2);
    let change = p
        .credit_decision(CreditDecision {
            uscc: declarant(),
            class: CreditClass::Discredited,
            reason: "smuggling conviction".into(),
            actor: officer(),
            now: t0(),
        })
        .unwrap();
    assert_eq!(change.trigger, "decision:smuggling conviction");
    let c = p.certification(c.id).unwrap().unwrap();
    assert_eq!(c.status, AeoStatus::Withdrawn);
    assert_eq!(
        c.withdrawn.as_deref(),
        Some("decision:smuggling conviction")
    );
    // A discredited enterprise may not apply.
    let e = apply(declarant(), Level::General).unwrap_err();
    assert_eq!(case_refusal(e).code, "discredited");

    // A refused audit: the class stays as it was, no history.
    let o = other_declarant();
    let r = score_all(s, apply(o, Level::Advanced).unwrap(), &["LC-3"]);
    let r = aeo(
        s,
        Some(r.id),
        Some(r.version),
        AeoStep::Decide {
            outcome: Outcome::Refused,
            reason: "duties paid late".into(),
        },
    )
    .unwrap();
    assert_eq!(r.status, AeoStatus::Refused);
    assert_eq!(class_of(s, o), None);
    assert!(p.credit_history(o).unwrap().is_empty());

    // Applying again after a refusal; certified at the general level; then a case opened
    // against it (linked) takes it down to the general class, with the case as the trigger.
    let g = score_all(s, apply(o, Level::General).unwrap(), &[]);
    let g = aeo(
        s,
        Some(g.id),
        Some(g.version),
        AeoStep::Decide {
            outcome: Outcome::GeneralCertified,
            reason: "met".into(),
        },
    )
    .unwrap();
    assert_eq!(class_of(s, o), Some(CreditClass::GeneralCertified));
    let case = step(
        s,
        None,
        CaseStep::Open {
            office: shanghai(),
            origin: CaseOrigin::Referral,
            origin_ref: "ref-1".into(),
            summary: "s".into(),
        },
    )
    .unwrap();
    step(
        s,
        Some(&case),
        CaseStep::Link {
            kind: LinkKind::Enterprise,
            reference: o.to_string(),
            note: "party".into(),
        },
    )
    .unwrap();
    assert_eq!(class_of(s, o), Some(CreditClass::General));
    let last = p.credit_history(o).unwrap().pop().unwrap();
    assert_eq!(last.trigger, format!("case:{}", case.case_no));
    assert_eq!(
        p.certification(g.id).unwrap().unwrap().status,
        AeoStatus::Withdrawn
    );
    assert_eq!(
        p.certifications(&store::aeo::AeoFilter {
            offices: Some(vec![shanghai()]),
            uscc: Some(o),
            status: None,
        })
        .unwrap()
        .len(),
        2
    );
    assert!(p
        .certifications(&store::aeo::AeoFilter {
            offices: Some(vec![OfficeCode::parse("5300").unwrap()]),
            uscc: None,
            status: None,
        })
        .unwrap()
        .is_empty());
    assert!(s.verify_audit().unwrap().is_intact());
}

/// The registration in force is checked again inside the filing's transaction: filings racing
/// a cancellation are either written before it or refused, never after; a refused or cancelled
/// registration no longer blocks a new one for the same USCC, the old record kept.
pub fn registration_checked_in_writer(h: &impl PartiesHarness) {
    use store::registration::{EnterpriseKind::Consignee, RegistrationStatus, RegistrationStep};
    let s: Arc<dyn Store> = Arc::from(h.open());
    let p = parties(&*s);
    let r = p
        .registration_step(reg_write(
            None,
            None,
            apply_step(declarant(), Consignee, "d-admin"),
            Some(admin_account("d-admin", declarant())),
        ))
        .unwrap();
    assert_eq!(r.status, RegistrationStatus::Effective);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let mut ok = 0u64;
                let mut refused = 0u64;
                for i in 0..10u64 {
                    let n = t * 100 + i;
                    match s.submit_reviewed(
                        submit_request(&format!("C-{n}"), sample_body(n)),
                        accept(),
                    ) {
                        Ok(_) => ok += 1,
                        Err(StoreError::Registration(r)) if r.code == "registration_cancelled" => {
                            refused += 1
                        }
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
                (ok, refused)
            })
        })
        .collect();
    thread::sleep(std::time::Duration::from_millis(20));
    let r = p
        .registration_step(reg_write(
            Some(r.id),
            Some(r.version),
            RegistrationStep::Cancel {
                reason: "ceased trading".into(),
            },
            None,
        ))
        .unwrap();
    assert_eq!(r.status, RegistrationStatus::Cancelled);
    let e = s
        .submit_reviewed(submit_request("C-after", sample_body(9999)), accept())
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Registration(x) if x.code == "registration_cancelled"),
        "{e:?}"
    );
    let (mut ok, mut refused) = (0, 0);
    for t in threads {
        let (o, r) = t.join().unwrap();
        ok += o;
        refused += r;
    }
    assert_eq!(ok + refused, 80);
    assert_eq!(
        all_declarations(&*s) as u64,
        ok,
        "no refused filing written"
    );

    // Registering again after the cancellation: a new record, the old one kept; filings go
    // through again.
    let again = p
        .registration_step(reg_write(
            None,
            None,
            apply_step(declarant(), Consignee, "d-admin2"),
            Some(admin_account("d-admin2", declarant())),
        ))
        .unwrap();
    assert_ne!(again.id, r.id);
    assert_eq!(again.status, RegistrationStatus::Effective);
    assert_ne!(again.customs_code, r.customs_code);
    assert_eq!(
        p.registration(r.id).unwrap().unwrap().status,
        RegistrationStatus::Cancelled
    );
    assert_eq!(
        p.registration_by_uscc(declarant()).unwrap().unwrap().id,
        again.id
    );
    let twice = p.registration_step(reg_write(
        None,
        None,
        apply_step(declarant(), Consignee, "d-admin3"),
        Some(admin_account("d-admin3", declarant())),
    ));
    assert!(
        matches!(&twice, Err(StoreError::Registration(x)) if x.code == "already_registered"),
        "{twice:?}"
    );
    s.submit_reviewed(submit_request("C-again", sample_body(9998)), accept())
        .unwrap();
    assert!(s.verify_audit().unwrap().is_intact());
}

/// An open case of `office` on the register, for the suites whose steps suspend a declaration
/// (a suspension stands on an open case, checked by the writer): its number.
pub fn open_case(s: &dyn Store, office: OfficeCode, at: chrono::DateTime<chrono::Utc>) -> String {
    parties(s)
        .case_step(CaseWrite {
            case: None,
            expected_version: None,
            step: CaseStep::Open {
                office,
                origin: CaseOrigin::Intelligence,
                origin_ref: "contract".into(),
                summary: "a case to suspend under".into(),
            },
            actor: officer(),
            now: at,
        })
        .unwrap()
        .case_no
}

#[macro_export]
macro_rules! parties_contract_tests {
    ($make:expr) => {
        $crate::parties_contract_tests!(@each $make;
            grant_file_and_revoke,
            scope_and_limits,
            revocation_racing_filings,
            case_register,
            registration,
            suspension_checked_in_writer,
            aeo_certification,
            registration_checked_in_writer,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(harness) = $make {
                    $crate::parties_contract::$name(&harness);
                }
            }
        )*
    };
}
