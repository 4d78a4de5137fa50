//! The contract of [`EportStore`], run against every backend with
//! [`crate::eport_contract_tests`] (like [`crate::contract`] for [`store::Store`]).

use std::str::FromStr;

use ::eport::{Licence, LicenceKind, Need, RegistryEntry, RegistryStatus};
use chrono::{DateTime, NaiveDate, Utc};
use clearance::{decide, Action, Actor, Command, EventKind, Lane, Status};
use domain::codes::HsCode;
use rust_decimal::Decimal;

use crate::contract::{
    declarant, other_declarant, reason, sample_body, shanghai, submit_request, t0,
};
use store::eport::*;
use store::{AppendRequest, AutomaticReview, DeclarationId, DeclarationKey, Filed, Store};

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait EportHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn ep(s: &dyn Store) -> &dyn EportStore {
    s.eport_store().expect("the backend has an E-Port store")
}

fn q(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn commerce() -> Actor {
    Actor::System {
        component: "commerce".into(),
    }
}

fn officer() -> Actor {
    Actor::Officer {
        login: "wang".into(),
        office: shanghai(),
    }
}

pub fn licence(no: &str, quantity: &str) -> Licence {
    Licence {
        licence_no: no.into(),
        kind: LicenceKind::Import,
        holder: declarant(),
        commodity: "8703".into(),
        unit: "003".into(),
        quantity: q(quantity),
        valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        valid_to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        issued_by: "commerce".into(),
    }
}

pub fn check(no: &str, quantity: &str) -> FilingCheck {
    FilingCheck {
        trader: declarant(),
        date: t0().date_naive(),
        needs: vec![Need {
            item_no: 1,
            commodity: HsCode::parse("8703234190").unwrap(),
            kind: LicenceKind::Import,
            licence_no: Some(no.into()),
            quantities: vec![("003".into(), q(quantity))],
        }],
    }
}

fn accept() -> AutomaticReview {
    AutomaticReview::Accept {
        lane: Lane::Blue,
        reasons: vec![reason()],
        assessment: Some(vec![]),
    }
}

fn file(s: &dyn Store, seq: &str, c: FilingCheck) -> Filed {
    let i = seq.bytes().map(u64::from).sum::<u64>();
    ep(s)
        .file_checked(submit_request(seq, sample_body(i)), accept(), c)
        .unwrap()
}

fn rejection_codes(s: &dyn Store, id: DeclarationId) -> Vec<String> {
    s.events(id)
        .unwrap()
        .iter()
        .find_map(|e| match &e.event.kind {
            EventKind::Rejected { problems } => {
                Some(problems.iter().map(|p| p.code.clone()).collect())
            }
            _ => None,
        })
        .unwrap_or_default()
}

/// One step through the plain [`Store::append`]: the write-off comes with it.
fn step(s: &dyn Store, id: DeclarationId, actor: Actor, action: Action, now: DateTime<Utc>) {
    let d = s.load(DeclarationKey::Id(id)).unwrap().unwrap();
    let events = decide(&d.state, &Command { actor, action }, now).expect("command fits");
    s.append(AppendRequest {
        id,
        expected_version: d.version,
        events,
    })
    .unwrap();
}

fn withdrawal(by: &str) -> ::eport::Withdrawal {
    ::eport::Withdrawal {
        reason: "export rights revoked".into(),
        withdrawn_at: t0(),
        withdrawn_by: by.into(),
    }
}

fn eport_code(e: store::StoreError) -> String {
    match e {
        store::StoreError::Eport(r) => r.code.to_owned(),
        other => panic!("expected an E-Port refusal, got {other:?}"),
    }
}

/// The issuer withdraws a licence once (another agency, an unknown licence and a second
/// withdrawal refused); from then on a filing naming it is refused `licence_withdrawn`, a
/// release on it fails in its own transaction (writing nothing), what was written off stays,
/// and a cancellation still gives its reservation back.
pub fn licence_withdrawal_binds_filing_and_release(h: &dyn EportHarness) {
    let s = h.open();
    let e = ep(&*s);
    e.issue_licence(licence("L-1", "10"), &commerce(), t0())
        .unwrap();
    let a = file(&*s, "wa", check("L-1", "4"));
    let b = file(&*s, "wb", check("L-1", "2"));
    assert_eq!((a.status, b.status), (Status::Paid, Status::Paid));
    step(&*s, b.id, officer(), Action::Release, t0());

    assert_eq!(
        eport_code(
            e.withdraw_licence("L-1", withdrawal("ndrc"), &commerce(), t0())
                .unwrap_err()
        ),
        "not_issuer"
    );
    assert_eq!(
        eport_code(
            e.withdraw_licence("L-404", withdrawal("commerce"), &commerce(), t0())
                .unwrap_err()
        ),
        "licence_not_found"
    );
    let mut blank = withdrawal("commerce");
    blank.reason = String::new();
    assert_eq!(
        eport_code(
            e.withdraw_licence("L-1", blank, &commerce(), t0())
                .unwrap_err()
        ),
        "bad_reason"
    );
    let w = e
        .withdraw_licence("L-1", withdrawal("COMMERCE"), &commerce(), t0())
        .unwrap();
    assert_eq!(w.withdrawn, Some(withdrawal("COMMERCE")));
    assert_eq!((w.reserved, w.written_off), (q("4"), q("2")));
    assert_eq!(e.licence("L-1").unwrap().unwrap(), w);
    assert_eq!(
        e.licences_issued_by("commerce").unwrap(),
        std::slice::from_ref(&w)
    );
    assert_eq!(
        eport_code(
            e.withdraw_licence("L-1", withdrawal("commerce"), &commerce(), t0())
                .unwrap_err()
        ),
        "licence_already_withdrawn"
    );

    // A filing naming it is refused on the licence field.
    let c = file(&*s, "wc", check("L-1", "1"));
    assert_eq!(c.status, Status::Rejected);
    assert_eq!(rejection_codes(&*s, c.id), ["licence_withdrawn"]);
    assert!(e.uses(c.id).unwrap().is_empty());

    // The declaration filed before cannot be released: nothing of the step is written.
    let before = s.load(DeclarationKey::Id(a.id)).unwrap().unwrap();
    let events = decide(
        &before.state,
        &Command {
            actor: officer(),
            action: Action::Release,
        },
        t0(),
    )
    .unwrap();
    let refused = s
        .append(AppendRequest {
            id: a.id,
            expected_version: before.version,
            events,
        })
        .unwrap_err();
    let r = match refused {
        store::StoreError::Eport(r) => r,
        other => panic!("expected licence_withdrawn, got {other:?}"),
    };
    assert_eq!(
        (r.code, r.field.as_str()),
        ("licence_withdrawn", "licence_no")
    );
    assert!(r.message_zh.contains("不能放行"), "{}", r.message_zh);
    let after = s.load(DeclarationKey::Id(a.id)).unwrap().unwrap();
    assert_eq!(
        (after.version, after.state.status),
        (before.version, Status::Paid)
    );
    assert_eq!(e.uses(a.id).unwrap()[0].state, UseState::Reserved);
    let l = e.licence("L-1").unwrap().unwrap();
    assert_eq!((l.reserved, l.written_off), (q("4"), q("2")));

    // Its cancellation gives the reservation back; the write-off before stays.
    step(
        &*s,
        a.id,
        Actor::Enterprise { uscc: declarant() },
        Action::RequestCancellation {
            reason: "licence withdrawn".into(),
        },
        t0(),
    );
    step(
        &*s,
        a.id,
        officer(),
        Action::ApproveRequest {
            reason: "agreed".into(),
        },
        t0(),
    );
    let l = e.licence("L-1").unwrap().unwrap();
    assert_eq!((l.reserved, l.written_off), (q("0"), q("2")));
    assert_eq!(e.uses(b.id).unwrap()[0].state, UseState::WrittenOff);
    assert!(s.verify_audit().unwrap().is_intact());
}

pub fn licences_and_registry_roundtrip(h: &dyn EportHarness) {
    let s = h.open();
    let e = ep(&*s);
    let issued = e
        .issue_licence(licence("L-1", "10"), &commerce(), t0())
        .unwrap();
    assert_eq!(issued.remaining(), q("10"));
    let dup = e
        .issue_licence(licence("L-1", "5"), &commerce(), t0())
        .unwrap_err();
    assert_eq!(dup.code(), "duplicate");
    let bad = e
        .issue_licence(licence("L-2", "0"), &commerce(), t0())
        .unwrap_err();
    assert_eq!(bad.code(), "invalid");
    e.issue_licence(licence("L-3", "2.5"), &commerce(), t0())
        .unwrap();
    let held: Vec<_> = e
        .licences_held_by(&declarant())
        .unwrap()
        .into_iter()
        .map(|s| s.licence.licence_no)
        .collect();
    assert_eq!(held, ["L-1", "L-3"]);
    assert!(e.licences_held_by(&other_declarant()).unwrap().is_empty());
    assert_eq!(e.licences_issued_by("commerce").unwrap().len(), 2);
    assert_eq!(
        e.licence("L-3").unwrap().unwrap().licence.quantity,
        q("2.5")
    );
    assert_eq!(e.licence("L-9").unwrap(), None);

    assert_eq!(e.registry_entry(&declarant()).unwrap(), None);
    let mut entry = RegistryEntry {
        uscc: declarant(),
        name: "北京示例进出口有限公司".into(),
        status: RegistryStatus::Active,
    };
    e.put_registry(entry.clone(), &commerce(), t0()).unwrap();
    entry.status = RegistryStatus::Deregistered;
    e.put_registry(entry.clone(), &commerce(), t0()).unwrap();
    assert_eq!(e.registry_entry(&declarant()).unwrap(), Some(entry));
    assert!(s.verify_audit().unwrap().is_intact());
}

pub fn reservation_write_off_and_give_back(h: &dyn EportHarness) {
    let s = h.open();
    let e = ep(&*s);
    e.issue_licence(licence("L-1", "10"), &commerce(), t0())
        .unwrap();

    let a = file(&*s, "a", check("L-1", "4"));
    assert_eq!(a.status, Status::Paid, "{a:?}");
    assert_eq!(e.licence("L-1").unwrap().unwrap().reserved, q("4"));
    assert_eq!(e.uses(a.id).unwrap()[0].state, UseState::Reserved);

    // More than is left: rejected, says why, nothing reserved.
    let b = file(&*s, "b", check("L-1", "7"));
    assert_eq!(b.status, Status::Rejected);
    assert_eq!(rejection_codes(&*s, b.id), ["licence_exhausted"]);
    assert!(e.uses(b.id).unwrap().is_empty());
    // A retry of an accepted filing reserves nothing more.
    let again = file(&*s, "a", check("L-1", "4"));
    assert!(again.replayed);
    assert_eq!(e.licence("L-1").unwrap().unwrap().reserved, q("4"));

    let c = file(&*s, "c", check("L-1", "6"));
    assert_eq!(c.status, Status::Paid);
    assert_eq!(e.licence("L-1").unwrap().unwrap().remaining(), q("0"));

    // Release writes off, in the release's transaction.
    step(&*s, a.id, officer(), Action::Release, t0());
    let l = e.licence("L-1").unwrap().unwrap();
    assert_eq!((l.reserved, l.written_off), (q("6"), q("4")));
    assert_eq!(e.uses(a.id).unwrap()[0].state, UseState::WrittenOff);

    // Cancellation gives the reservation back.
    step(
        &*s,
        c.id,
        Actor::Enterprise { uscc: declarant() },
        Action::RequestCancellation {
            reason: "contract cancelled".into(),
        },
        t0(),
    );
    step(
        &*s,
        c.id,
        officer(),
        Action::ApproveRequest {
            reason: "agreed".into(),
        },
        t0(),
    );
    assert_eq!(
        s.load(DeclarationKey::Id(c.id))
            .unwrap()
            .unwrap()
            .state
            .status,
        Status::Cancelled
    );
    let l = e.licence("L-1").unwrap().unwrap();
    assert_eq!(
        (l.reserved, l.written_off, l.remaining()),
        (q("0"), q("4"), q("6"))
    );
    assert_eq!(e.uses(c.id).unwrap()[0].state, UseState::Released);

    // Other refusals: unknown licence, another holder's licence.
    let mut other = licence("L-2", "10");
    other.holder = other_declarant();
    e.issue_licence(other, &commerce(), t0()).unwrap();
    let d = file(&*s, "d", check("L-404", "1"));
    assert_eq!(rejection_codes(&*s, d.id), ["licence_not_found"]);
    let f = file(&*s, "f", check("L-2", "1"));
    assert_eq!(rejection_codes(&*s, f.id), ["licence_holder_mismatch"]);
    assert!(s.verify_audit().unwrap().is_intact());
}

pub fn registry_check_applies_once_the_registry_has_entries(h: &dyn EportHarness) {
    let s = h.open();
    let e = ep(&*s);
    let none = FilingCheck {
        trader: declarant(),
        date: t0().date_naive(),
        needs: vec![],
    };
    // An empty registry checks nothing.
    assert_ne!(file(&*s, "r1", none.clone()).status, Status::Rejected);
    let mut other = RegistryEntry {
        uscc: other_declarant(),
        name: "上海示例".into(),
        status: RegistryStatus::Active,
    };
    e.put_registry(other.clone(), &commerce(), t0()).unwrap();
    let r2 = file(&*s, "r2", none.clone());
    assert_eq!(rejection_codes(&*s, r2.id), ["enterprise_not_registered"]);
    other.uscc = declarant();
    other.status = RegistryStatus::Deregistered;
    e.put_registry(other.clone(), &commerce(), t0()).unwrap();
    let r3 = file(&*s, "r3", none.clone());
    assert_eq!(rejection_codes(&*s, r3.id), ["enterprise_deregistered"]);
    other.status = RegistryStatus::Active;
    e.put_registry(other, &commerce(), t0()).unwrap();
    assert_ne!(file(&*s, "r4", none).status, Status::Rejected);
}

/// N filings race for a licence of quantity Q, each asking 1: exactly Q are accepted, the rest
/// rejected as exhausted; after release the written-off total is Q.
pub fn concurrent_filings_never_overdraw_a_licence(h: &dyn EportHarness) {
    const N: usize = 32;
    const Q: usize = 10;
    let s = h.open();
    let e = ep(&*s);
    e.issue_licence(licence("L-RACE", &Q.to_string()), &commerce(), t0())
        .unwrap();
    let barrier = std::sync::Barrier::new(N);
    let filed: Vec<Filed> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let s = &*s;
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    ep(s)
                        .file_checked(
                            submit_request(&format!("race-{i}"), sample_body(1000 + i as u64)),
                            accept(),
                            check("L-RACE", "1"),
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted: Vec<&Filed> = filed
        .iter()
        .filter(|f| f.status != Status::Rejected)
        .collect();
    assert_eq!(accepted.len(), Q);
    for f in filed.iter().filter(|f| f.status == Status::Rejected) {
        assert_eq!(rejection_codes(&*s, f.id), ["licence_exhausted"]);
    }
    let l = e.licence("L-RACE").unwrap().unwrap();
    assert_eq!((l.reserved, l.remaining()), (q(&Q.to_string()), q("0")));
    for f in &accepted {
        step(&*s, f.id, officer(), Action::Release, t0());
    }
    let l = e.licence("L-RACE").unwrap().unwrap();
    assert_eq!(
        (l.reserved, l.written_off, l.remaining()),
        (q("0"), q(&Q.to_string()), q("0"))
    );
    assert!(s.verify_audit().unwrap().is_intact());
}

/// A licence written off at release sends `licence_written_off.v1` to COMMERCE in the release's
/// transaction, with the quantity left after each write-off; a cancellation sends nothing.
pub fn licence_write_off_sends_its_message(h: &dyn EportHarness) {
    let s = h.open();
    let e = ep(&*s);
    let outbox = s.outbox_store().expect("the backend has an outbox");
    e.issue_licence(licence("L-1", "10"), &commerce(), t0())
        .unwrap();
    let cars = |seq: &str, quantity: &str| {
        let i = seq.bytes().map(u64::from).sum::<u64>();
        let body = sample_body(i).replace("8471300000", "8703234190");
        e.file_checked(submit_request(seq, body), accept(), check("L-1", quantity))
            .unwrap()
    };
    let a = cars("a", "4");
    let b = cars("b", "3");
    let c = cars("c", "2");
    let written = || -> Vec<serde_json::Value> {
        outbox
            .fetch_unpublished(0, 100)
            .unwrap()
            .into_iter()
            .filter(|r| r.message.kind == "licence_written_off.v1")
            .map(|r| {
                assert_eq!(r.message.recipients, ["COMMERCE"]);
                serde_json::from_slice(&r.message.payload).unwrap()
            })
            .collect()
    };
    assert!(written().is_empty(), "nothing is written off at filing");
    let dec = |v: &serde_json::Value| q(v.to_string().trim_matches('"'));
    let number = |id: DeclarationId| {
        s.load(DeclarationKey::Id(id))
            .unwrap()
            .unwrap()
            .state
            .declaration_no
            .unwrap()
            .to_string()
    };
    step(&*s, a.id, officer(), Action::Release, t0());
    step(&*s, b.id, officer(), Action::Release, t0());
    // Cancelled: the reservation is given back, no message.
    step(
        &*s,
        c.id,
        Actor::Enterprise { uscc: declarant() },
        Action::RequestCancellation {
            reason: "contract cancelled".into(),
        },
        t0(),
    );
    step(
        &*s,
        c.id,
        officer(),
        Action::ApproveRequest {
            reason: "agreed".into(),
        },
        t0(),
    );
    let rows = written();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for (row, (id, quantity, left)) in rows.iter().zip([(a.id, "4", "6"), (b.id, "3", "3")]) {
        assert_eq!(row["licence_no"], "L-1");
        assert_eq!(row["holder"], declarant().to_string());
        assert_eq!(row["declaration_no"], number(id));
        assert_eq!(row["hs_code"], "8703234190");
        assert_eq!(row["unit"], "003");
        assert_eq!(dec(&row["quantity"]), q(quantity));
        assert_eq!(dec(&row["quantity_left"]), q(left));
        let fields: Vec<&str> = row
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(fields.len(), 8, "{row}");
    }
    assert!(s.verify_audit().unwrap().is_intact());
}

/// A tariff-quota certificate (关税配额证明) for wheat and wheat flour, in kilograms, issued by
/// the development-and-reform commission to the declarant.
pub fn quota_certificate(no: &str, kg: &str) -> Licence {
    Licence {
        licence_no: no.into(),
        kind: LicenceKind::TariffQuota,
        holder: declarant(),
        commodity: "1001,1101".into(),
        unit: "035".into(),
        quantity: q(kg),
        valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        valid_to: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        issued_by: "ndrc".into(),
    }
}

/// The check of a filing whose items name tariff-quota certificates: `(item_no, certificate,
/// kilograms)` each.
pub fn quota_check(items: &[(u16, &str, &str)]) -> FilingCheck {
    FilingCheck {
        trader: declarant(),
        date: t0().date_naive(),
        needs: items
            .iter()
            .map(|(item_no, no, kg)| Need {
                item_no: *item_no,
                commodity: HsCode::parse("1001990000").unwrap(),
                kind: LicenceKind::TariffQuota,
                licence_no: Some((*no).into()),
                quantities: vec![("035".into(), q(kg))],
            })
            .collect(),
    }
}

fn rejection_fields(s: &dyn Store, id: DeclarationId) -> Vec<(String, String)> {
    s.events(id)
        .unwrap()
        .iter()
        .find_map(|e| match &e.event.kind {
            EventKind::Rejected { problems } => Some(
                problems
                    .iter()
                    .map(|p| (p.field.clone(), p.code.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

/// Tariff-quota certificates on the ledger of licences (docs/EPORT.md "Tariff-quota
/// certificates"; Import and Export Duties Regulations art. 11, docs/DOMAIN.md §4: the in-quota
/// rate only within a certificate's balance): a filing reserves the legal quantity of every item
/// naming the certificate in its own transaction, one over the balance is rejected whole on the
/// item's field, release writes off exactly (and tells the issuer), cancellation gives back
/// exactly; another holder's or an expired certificate is refused.
pub fn quota_certificates_reserve_write_off_and_give_back(h: &dyn EportHarness) {
    let s = h.open();
    let e = ep(&*s);
    let outbox = s.outbox_store().expect("the backend has an outbox");
    let ndrc = Actor::System {
        component: "agency:ndrc:ndrc".into(),
    };
    e.issue_licence(quota_certificate("TRQ-1", "1000.5"), &ndrc, t0())
        .unwrap();
    let wheat = |seq: &str, c: FilingCheck| {
        let i = seq.bytes().map(u64::from).sum::<u64>();
        let body = sample_body(i).replace("8471300000", "1001990000");
        e.file_checked(submit_request(seq, body), accept(), c)
            .unwrap()
    };
    // Two items naming it: one reservation of their sum.
    let a = wheat(
        "qa",
        quota_check(&[(1, "TRQ-1", "400"), (2, "TRQ-1", "200.5")]),
    );
    assert_eq!(a.status, Status::Paid, "{a:?}");
    let c = e.licence("TRQ-1").unwrap().unwrap();
    assert_eq!((c.reserved, c.remaining()), (q("600.5"), q("400")));
    let uses = e.uses(a.id).unwrap();
    assert_eq!(uses.len(), 1);
    assert_eq!(
        (uses[0].quantity, uses[0].state),
        (q("600.5"), UseState::Reserved)
    );

    // Over the balance: rejected whole, on the item, nothing reserved.
    let b = wheat("qb", quota_check(&[(1, "TRQ-1", "400.01")]));
    assert_eq!(b.status, Status::Rejected);
    assert_eq!(
        rejection_fields(&*s, b.id),
        [(
            "items[0].quota_certificate_no".to_string(),
            "quota_certificate_exhausted".to_string()
        )]
    );
    assert!(e.uses(b.id).unwrap().is_empty());
    assert_eq!(e.licence("TRQ-1").unwrap().unwrap().reserved, q("600.5"));

    // Exactly the balance is accepted.
    let c2 = wheat("qc", quota_check(&[(1, "TRQ-1", "400")]));
    assert_eq!(c2.status, Status::Paid);
    assert_eq!(e.licence("TRQ-1").unwrap().unwrap().remaining(), q("0"));

    // Release writes off exactly, and the issuing agency hears of it.
    step(&*s, a.id, officer(), Action::Release, t0());
    let c = e.licence("TRQ-1").unwrap().unwrap();
    assert_eq!((c.reserved, c.written_off), (q("400"), q("600.5")));
    assert_eq!(e.uses(a.id).unwrap()[0].state, UseState::WrittenOff);
    let rows: Vec<_> = outbox
        .fetch_unpublished(0, 100)
        .unwrap()
        .into_iter()
        .filter(|r| r.message.kind == "licence_written_off.v1")
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].message.recipients, ["NDRC"]);
    let body: serde_json::Value = serde_json::from_slice(&rows[0].message.payload).unwrap();
    assert_eq!(body["licence_no"], "TRQ-1");
    assert_eq!(body["hs_code"], "1001990000");
    assert_eq!(body["unit"], "035");

    // Cancellation gives back exactly.
    step(
        &*s,
        c2.id,
        Actor::Enterprise { uscc: declarant() },
        Action::RequestCancellation {
            reason: "contract cancelled".into(),
        },
        t0(),
    );
    step(
        &*s,
        c2.id,
        officer(),
        Action::ApproveRequest {
            reason: "agreed".into(),
        },
        t0(),
    );
    let c = e.licence("TRQ-1").unwrap().unwrap();
    assert_eq!(
        (c.reserved, c.written_off, c.remaining()),
        (q("0"), q("600.5"), q("400"))
    );
    assert_eq!(e.uses(c2.id).unwrap()[0].state, UseState::Released);

    // Another holder's certificate, an expired one, a licence named as a certificate.
    let mut other = quota_certificate("TRQ-2", "100");
    other.holder = other_declarant();
    e.issue_licence(other, &ndrc, t0()).unwrap();
    let mut old = quota_certificate("TRQ-3", "100");
    old.valid_to = t0().date_naive() - chrono::Duration::days(1);
    e.issue_licence(old, &ndrc, t0()).unwrap();
    e.issue_licence(licence("L-1", "10"), &commerce(), t0())
        .unwrap();
    let field = || "items[1].quota_certificate_no".to_string();
    let f = wheat("qf", quota_check(&[(2, "TRQ-2", "1")]));
    assert_eq!(
        rejection_fields(&*s, f.id),
        [(field(), "quota_certificate_holder_mismatch".to_string())]
    );
    let g = wheat("qg", quota_check(&[(2, "TRQ-3", "1")]));
    assert_eq!(
        rejection_fields(&*s, g.id),
        [(field(), "quota_certificate_expired".to_string())]
    );
    let k = wheat("qk", quota_check(&[(2, "L-1", "1")]));
    assert!(rejection_fields(&*s, k.id)
        .contains(&(field(), "quota_certificate_kind_mismatch".to_string())));
    for id in [f.id, g.id, k.id] {
        assert!(e.uses(id).unwrap().is_empty());
    }
    assert_eq!(e.licences_issued_by("ndrc").unwrap().len(), 3);
    assert!(s.verify_audit().unwrap().is_intact());
}

/// N filings race for a tariff-quota certificate of Q kilograms, each asking 250.25 kg: exactly
/// ⌊Q / 250.25⌋ are accepted, the rest rejected as exhausted; the certificate is never
/// over-used, and after release the written-off total is what was accepted.
pub fn concurrent_filings_never_overuse_a_quota_certificate(h: &dyn EportHarness) {
    const N: usize = 24;
    let s = h.open();
    let e = ep(&*s);
    // Room for 7 filings of 250.25 kg (1,751.75), not 8 (2,002).
    e.issue_licence(quota_certificate("TRQ-RACE", "2000"), &commerce(), t0())
        .unwrap();
    let barrier = std::sync::Barrier::new(N);
    let filed: Vec<Filed> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let s = &*s;
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    ep(s)
                        .file_checked(
                            submit_request(&format!("qrace-{i}"), sample_body(2000 + i as u64)),
                            accept(),
                            quota_check(&[(1, "TRQ-RACE", "250.25")]),
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted: Vec<&Filed> = filed
        .iter()
        .filter(|f| f.status != Status::Rejected)
        .collect();
    assert_eq!(accepted.len(), 7);
    for f in filed.iter().filter(|f| f.status == Status::Rejected) {
        assert_eq!(rejection_codes(&*s, f.id), ["quota_certificate_exhausted"]);
    }
    let c = e.licence("TRQ-RACE").unwrap().unwrap();
    assert_eq!((c.reserved, c.remaining()), (q("1751.75"), q("248.25")));
    for f in &accepted {
        step(&*s, f.id, officer(), Action::Release, t0());
    }
    let c = e.licence("TRQ-RACE").unwrap().unwrap();
    assert_eq!(
        (c.reserved, c.written_off, c.remaining()),
        (q("0"), q("1751.75"), q("248.25"))
    );
    assert!(s.verify_audit().unwrap().is_intact());
}

/// Runs every E-Port contract test against a backend.
#[macro_export]
macro_rules! eport_contract_tests {
    ($make:expr) => {
        $crate::eport_contract_tests!(@each $make;
            licences_and_registry_roundtrip,
            reservation_write_off_and_give_back,
            registry_check_applies_once_the_registry_has_entries,
            concurrent_filings_never_overdraw_a_licence,
            licence_write_off_sends_its_message,
            quota_certificates_reserve_write_off_and_give_back,
            concurrent_filings_never_overuse_a_quota_certificate,
            licence_withdrawal_binds_filing_and_release,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(harness) = $make {
                    $crate::eport_contract::$name(&harness);
                }
            }
        )*
    };
}
