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
