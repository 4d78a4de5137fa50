//! The contract of [`GuaranteeStore`] (store::guarantee), run against every backend with
//! [`crate::guarantee_contract_tests`]: registration, reservation with the release against a
//! guarantee and with a transit, release on the last payment, claims, refusals that write
//! nothing, and racing reservations that never take a balance below zero.

use cargo_control::{transit, TransitAction, TransitCommand, TransitNo};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clearance::{decide, Action, Actor, Command, Lane, Status, TaxKind};
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use store::cargo::{Ledgers, TransitWrite};
use store::guarantee::*;
use store::outbox::OutboxMessage;
use store::{AppendRequest, Appended, AutomaticReview, DeclarationId, DeclarationKey, StoreError};
use tax::guarantee::{GuaranteeKind, GuaranteeRefusal, GuaranteeTerms, Purpose};

use crate::contract::{
    declarant, other_declarant, reason, sample_body, shanghai, submit_request, t0,
};

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait GuaranteeHarness {
    fn open(&self) -> Box<dyn Ledgers>;
}

fn gs(s: &dyn Ledgers) -> &dyn GuaranteeStore {
    s.guarantee_store()
        .expect("the backend has a guarantee store")
}

fn bank() -> Actor {
    Actor::Bank {
        code: "bank-boc".into(),
    }
}

fn officer() -> Actor {
    Actor::Officer {
        login: "wang".into(),
        office: shanghai(),
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

pub fn terms(id: &str, amount: i64) -> GuaranteeTerms {
    GuaranteeTerms {
        id: id.into(),
        kind: GuaranteeKind::General,
        bank: "bank-boc".into(),
        holder: declarant(),
        amount_fen: Fen(amount),
        valid_from: day(2025, 1, 1),
        valid_to: day(2025, 12, 31),
        offices: vec![OfficeCode::parse("2200").unwrap()],
        purposes: vec![Purpose::Release, Purpose::Transit],
    }
}

fn register(s: &dyn Ledgers, t: GuaranteeTerms) -> StoredGuarantee {
    gs(s)
        .register_guarantee(
            RegisterWrite {
                by_bank: t.bank.clone(),
                terms: t,
            },
            &bank(),
            t0(),
        )
        .unwrap()
}

/// A declaration filed, accepted and assessed at once (blue lane): duty and VAT owed.
fn assessed(s: &dyn Ledgers, seq: &str, duty: i64, vat: i64) -> DeclarationId {
    let i = seq.bytes().map(u64::from).sum::<u64>();
    let f = s
        .submit_reviewed(
            submit_request(seq, sample_body(i)),
            AutomaticReview::Accept {
                lane: Lane::Blue,
                reasons: vec![reason()],
                assessment: Some(
                    [(TaxKind::Duty, Fen(duty)), (TaxKind::Vat, Fen(vat))]
                        .into_iter()
                        .filter(|(_, a)| a.0 > 0)
                        .collect(),
                ),
            },
        )
        .unwrap();
    assert_eq!(f.status, Status::Assessed);
    f.id
}

fn step(
    s: &dyn Ledgers,
    id: DeclarationId,
    actor: Actor,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Appended, StoreError> {
    let d = s.load(DeclarationKey::Id(id)).unwrap().unwrap();
    let events = decide(&d.state, &Command { actor, action }, now).expect("command fits");
    s.append(AppendRequest {
        id,
        expected_version: d.version,
        events,
    })
}

fn release(s: &dyn Ledgers, id: DeclarationId, g: &str) -> Result<Appended, StoreError> {
    step(
        s,
        id,
        officer(),
        Action::ReleaseAgainstGuarantee {
            guarantee_no: g.into(),
        },
        t0() + Duration::hours(1),
    )
}

fn pay_all(s: &dyn Ledgers, id: DeclarationId) {
    let notices = s.payment_notices(id).unwrap();
    for n in notices {
        step(
            s,
            id,
            bank(),
            crate::contract::pay_on_time(
                "bank-boc",
                &n.notice_no,
                n.amount_fen,
                &format!("BOC-{}", n.notice_no),
                (t0() + Duration::days(2)).date_naive(),
            ),
            t0() + Duration::days(2),
        )
        .unwrap();
    }
}

fn reference(s: &dyn Ledgers, id: DeclarationId) -> String {
    s.load(DeclarationKey::Id(id))
        .unwrap()
        .unwrap()
        .state
        .declaration_no
        .unwrap()
        .to_string()
}

fn message() -> OutboxMessage {
    OutboxMessage {
        kind: "guarantee_enforced.v1".into(),
        recipients: vec!["bank-boc".into(), "tax".into()],
        created_at: t0(),
        payload: b"{}".to_vec(),
    }
}

fn refusal(e: StoreError) -> GuaranteeRefusal {
    match e {
        StoreError::Guarantee(r) => r,
        other => panic!("expected a guarantee refusal, got {other:?}"),
    }
}

/// Register, list, reserve on release, release on the last payment, claim after the due date
/// (once), with the audit chain intact.
pub fn register_reserve_release_and_claim(h: &dyn GuaranteeHarness) {
    let s = h.open();
    let s = &*s;
    let g = register(s, terms("G-1", 1_000_000));
    assert_eq!((g.balance_fen, g.reserved_fen), (Fen(1_000_000), Fen::ZERO));
    // Only the issuing bank registers; a number is registered once.
    let mut other = terms("G-2", 1);
    other.bank = "bank-icbc".into();
    let e = gs(s)
        .register_guarantee(
            RegisterWrite {
                by_bank: "bank-boc".into(),
                terms: other,
            },
            &bank(),
            t0(),
        )
        .unwrap_err();
    assert_eq!(refusal(e).code(), "guarantee_not_issuing_bank");
    let e = gs(s)
        .register_guarantee(
            RegisterWrite {
                by_bank: "bank-boc".into(),
                terms: terms("G-1", 5),
            },
            &bank(),
            t0(),
        )
        .unwrap_err();
    assert_eq!(refusal(e).code(), "guarantee_already_registered");
    assert_eq!(gs(s).guarantees_of_bank("bank-boc").unwrap().len(), 1);
    assert_eq!(gs(s).guarantees_of_holder(&declarant()).unwrap().len(), 1);
    assert!(gs(s)
        .guarantees_of_holder(&other_declarant())
        .unwrap()
        .is_empty());

    // Released against it: the unpaid notices are reserved, due 15 days after issue.
    let d1 = assessed(s, "g-1", 200_000, 150_000);
    assert_eq!(release(s, d1, "G-1").unwrap().status, Status::Released);
    let g = gs(s).guarantee("G-1").unwrap().unwrap();
    assert_eq!(
        (g.reserved_fen, g.balance_fen),
        (Fen(350_000), Fen(650_000))
    );
    let r = &gs(s).reservations_of_declaration(d1).unwrap()[0];
    assert_eq!(r.state, ReservationState::Open);
    assert_eq!(r.reservation.due_on, day(2025, 3, 25));
    assert_eq!(r.reservation.purpose, Purpose::Release);
    assert_eq!(r.reference, reference(s, d1));
    // Paid: released with the last payment.
    pay_all(s, d1);
    let g = gs(s).guarantee("G-1").unwrap().unwrap();
    assert_eq!((g.reserved_fen, g.balance_fen), (Fen::ZERO, Fen(1_000_000)));
    assert_eq!(
        gs(s).reservations_of_declaration(d1).unwrap()[0].state,
        ReservationState::Released
    );

    // Not paid: due on 25 March, claimable from the 26th, once.
    let d2 = assessed(s, "g-2", 100_000, 0);
    release(s, d2, "G-1").unwrap();
    let reference2 = reference(s, d2);
    assert!(gs(s).reservations_due(day(2025, 3, 25)).unwrap().is_empty());
    let due = gs(s).reservations_due(day(2025, 3, 26)).unwrap();
    assert_eq!(due.len(), 1);
    let claim = |on| ClaimWrite {
        guarantee_id: "G-1".into(),
        reference: reference2.clone(),
        on,
        outbox: vec![message()],
    };
    let e = gs(s)
        .claim_guarantee(claim(day(2025, 3, 25)), &officer(), t0())
        .unwrap_err();
    assert_eq!(refusal(e).code(), "guarantee_not_yet_due");
    let outbox_before = s
        .outbox_store()
        .map(|o| o.fetch_unpublished(0, 100).unwrap().len());
    assert_eq!(
        gs(s)
            .claim_guarantee(claim(day(2025, 3, 26)), &officer(), t0())
            .unwrap(),
        Fen(100_000)
    );
    let e = gs(s)
        .claim_guarantee(claim(day(2025, 3, 27)), &officer(), t0())
        .unwrap_err();
    assert_eq!(refusal(e).code(), "guarantee_no_reservation");
    if let (Some(o), Some(before)) = (s.outbox_store(), outbox_before) {
        let rows = o.fetch_unpublished(0, 100).unwrap();
        assert_eq!(rows.len(), before + 1, "one message per claim");
        assert_eq!(rows.last().unwrap().message.kind, "guarantee_enforced.v1");
    }
    let g = gs(s).guarantee("G-1").unwrap().unwrap();
    assert_eq!(
        (g.reserved_fen, g.claimed_fen, g.balance_fen),
        (Fen::ZERO, Fen(100_000), Fen(900_000))
    );
    assert!(gs(s).reservations_due(day(2025, 4, 1)).unwrap().is_empty());
    // Paying after the claim leaves the claim as it is.
    pay_all(s, d2);
    let g = gs(s).guarantee("G-1").unwrap().unwrap();
    assert_eq!(g.claimed_fen, Fen(100_000));
    assert!(s.verify_audit().unwrap().is_intact());
}

/// Each refusal fails the release: the declaration stays assessed, nothing is reserved.
pub fn refused_releases_write_nothing(h: &dyn GuaranteeHarness) {
    let s = h.open();
    let s = &*s;
    register(s, terms("G-OK", 1_000_000));
    let mut expired = terms("G-EXPIRED", 1_000_000);
    expired.valid_to = day(2025, 2, 28);
    register(s, expired);
    let mut other = terms("G-OTHER", 1_000_000);
    other.holder = Uscc::parse("91310000132149237G").unwrap();
    register(s, other);
    let mut office = terms("G-OFFICE", 1_000_000);
    office.offices = vec![OfficeCode::parse("5300").unwrap()];
    register(s, office);
    let mut purpose = terms("G-TRANSIT", 1_000_000);
    purpose.purposes = vec![Purpose::Transit];
    register(s, purpose);
    register(s, terms("G-SMALL", 100));
    let d = assessed(s, "g-refused", 200_000, 150_000);
    let before = s.load(DeclarationKey::Id(d)).unwrap().unwrap().version;
    for (g, code) in [
        ("NO-SUCH-GUARANTEE-XYZ", "guarantee_unknown"),
        ("G-EXPIRED", "guarantee_not_valid"),
        ("G-OTHER", "guarantee_other_holder"),
        ("G-OFFICE", "guarantee_office_out_of_scope"),
        ("G-TRANSIT", "guarantee_purpose_out_of_scope"),
        ("G-SMALL", "guarantee_short_of_balance"),
    ] {
        let e = release(s, d, g).unwrap_err();
        assert_eq!(refusal(e).code(), code, "{g}");
    }
    let after = s.load(DeclarationKey::Id(d)).unwrap().unwrap();
    assert_eq!(
        (after.version, after.state.status),
        (before, Status::Assessed)
    );
    assert!(gs(s).reservations_of_declaration(d).unwrap().is_empty());
    assert_eq!(release(s, d, "G-OK").unwrap().status, Status::Released);
    assert!(s.verify_audit().unwrap().is_intact());
}

/// A transit with a guarantee reserves its amount at declaration, refused beyond the balance;
/// its cancellation releases it.
pub fn transit_reserves_and_releases(h: &dyn GuaranteeHarness) {
    let s = h.open();
    let s = &*s;
    register(s, terms("G-T", 500_000));
    let carrier = cargo_control::Actor::Carrier { uscc: declarant() };
    let declare = |no: &str, amount: i64| {
        let mut decl = crate::cargo_contract::transit_decl(no);
        decl.bills = vec![cargo_control::BillNo::parse(&format!("B{no}")).unwrap()];
        decl.guarantee = Some(cargo_control::Guarantee {
            guarantee_no: "G-T".into(),
            amount_fen: Fen(amount),
            goods_value_fen: Some(Fen(amount * 4)),
        });
        let events = transit::decide(
            &cargo_control::TransitState::default(),
            &TransitCommand {
                actor: carrier.clone(),
                action: TransitAction::Declare { declaration: decl },
            },
            t0(),
        )
        .unwrap();
        s.record_transit(TransitWrite {
            transit_no: TransitNo::parse(no).unwrap(),
            expected_version: 0,
            events,
        })
    };
    let t = declare("T1", 400_000).unwrap();
    let g = gs(s).guarantee("G-T").unwrap().unwrap();
    assert_eq!(g.balance_fen, Fen(100_000));
    let r = &g.reservations[0];
    assert_eq!(
        (
            r.reference.as_str(),
            r.transit_no.as_deref(),
            r.reservation.due_on
        ),
        ("T1", Some("T1"), day(2025, 3, 26))
    );
    // Short of balance: nothing written, not even the transit.
    let e = declare("T2", 200_000).unwrap_err();
    assert_eq!(refusal(e).code(), "guarantee_short_of_balance");
    assert!(s
        .load_transit(&TransitNo::parse("T2").unwrap())
        .unwrap()
        .is_none());
    // Cancelled: released.
    let events = transit::decide(
        &t.state,
        &TransitCommand {
            actor: carrier.clone(),
            action: TransitAction::Cancel {
                reason: "plan changed".into(),
            },
        },
        t0() + Duration::hours(1),
    )
    .unwrap();
    s.record_transit(TransitWrite {
        transit_no: t.transit_no,
        expected_version: t.version,
        events,
    })
    .unwrap();
    let g = gs(s).guarantee("G-T").unwrap().unwrap();
    assert_eq!((g.balance_fen, g.reserved_fen), (Fen(500_000), Fen::ZERO));
    assert_eq!(g.reservations[0].state, ReservationState::Released);
    assert!(s.verify_audit().unwrap().is_intact());
}

/// N releases race for a guarantee worth Q of them: exactly Q succeed, the rest are refused
/// short of balance, and the balance ends at zero, never below.
pub fn concurrent_reservations_never_overdraw(h: &dyn GuaranteeHarness) {
    const N: usize = 24;
    const Q: usize = 8;
    const EACH: i64 = 10_000;
    let s = h.open();
    let s = &*s;
    register(s, terms("G-RACE", EACH * Q as i64));
    let ids: Vec<DeclarationId> = (0..N)
        .map(|i| assessed(s, &format!("race-{i}"), EACH, 0))
        .collect();
    let barrier = std::sync::Barrier::new(N);
    let results: Vec<Result<Appended, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ids
            .iter()
            .map(|id| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    release(s, *id, "G-RACE")
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, Q);
    for r in results.into_iter().filter_map(Result::err) {
        assert_eq!(refusal(r).code(), "guarantee_short_of_balance");
    }
    let g = gs(s).guarantee("G-RACE").unwrap().unwrap();
    assert_eq!(
        (g.reserved_fen, g.balance_fen, g.reservations.len()),
        (Fen(EACH * Q as i64), Fen::ZERO, Q)
    );
    assert!(s.verify_audit().unwrap().is_intact());
}

/// A claim paid as the notices (review of issue 14, gap 4): every notice recorded paid by the
/// guarantee's bank with a payment naming the claim claims the reservation in the same
/// append; before its due date, against another guarantee or leaving a notice unpaid, the
/// whole append is refused and nothing is written.
pub fn a_claim_paying_the_notices_claims_the_reservation(h: &dyn GuaranteeHarness) {
    let s = h.open();
    let s = &*s;
    register(s, terms("G-1", 1_000_000));
    register(s, terms("G-OTHER", 1_000_000));
    let d = assessed(s, "gc-1", 200_000, 150_000);
    release(s, d, "G-1").unwrap();
    let pay = |g: &str, on: NaiveDate, all: bool| {
        let loaded = s.load(DeclarationKey::Id(d)).unwrap().unwrap();
        let mut state = loaded.state.clone();
        let mut events = Vec::new();
        let notices = s.payment_notices(d).unwrap();
        for n in notices.iter().take(if all { notices.len() } else { 1 }) {
            let cmd = Command {
                actor: bank(),
                action: Action::Pay {
                    notice_no: n.notice_no.clone(),
                    payment: clearance::BankPayment {
                        bank: "bank-boc".into(),
                        reference: format!("GCLAIM-{}", n.notice_no),
                        surcharge_fen: Fen::ZERO,
                        paid_fen: n.amount_fen,
                        paid_on: on,
                        guarantee_claim: Some(g.into()),
                    },
                },
            };
            let step = decide(&state, &cmd, t0() + Duration::days(20)).expect("command fits");
            state = step.iter().fold(state, clearance::apply);
            events.extend(step);
        }
        s.append(AppendRequest {
            id: d,
            expected_version: loaded.version,
            events,
        })
    };
    let version = s.load(DeclarationKey::Id(d)).unwrap().unwrap().version;
    let e = pay("G-1", day(2025, 3, 25), true).unwrap_err();
    assert_eq!(refusal(e).code(), "guarantee_not_yet_due");
    assert!(pay("G-OTHER", day(2025, 3, 26), true).is_err());
    assert!(pay("G-1", day(2025, 3, 26), false).is_err());
    assert_eq!(
        s.load(DeclarationKey::Id(d)).unwrap().unwrap().version,
        version,
        "nothing written"
    );
    assert_eq!(
        gs(s).reservations_of_declaration(d).unwrap()[0].state,
        ReservationState::Open
    );
    pay("G-1", day(2025, 3, 26), true).unwrap();
    let g = gs(s).guarantee("G-1").unwrap().unwrap();
    assert_eq!(
        (g.reserved_fen, g.claimed_fen, g.balance_fen),
        (Fen::ZERO, Fen(350_000), Fen(650_000))
    );
    assert_eq!(
        gs(s).reservations_of_declaration(d).unwrap()[0].state,
        ReservationState::Claimed
    );
    let after = s.load(DeclarationKey::Id(d)).unwrap().unwrap();
    assert_eq!(after.state.outstanding_fen(), Fen::ZERO);
    assert!(s.verify_audit().unwrap().is_intact());
}

/// A version that leaves nothing owed on a declaration released against a guarantee releases
/// its reservation in the version's append (review of issue 14, gap 3, in part).
pub fn a_version_leaving_nothing_owed_releases_the_reservation(h: &dyn GuaranteeHarness) {
    use clearance::version::{Reassessment, VersionRecord, VersionSource};
    let s = h.open();
    let s = &*s;
    register(s, terms("G-1", 1_000_000));
    let d = assessed(s, "gv-1", 200_000, 150_000);
    release(s, d, "G-1").unwrap();
    let loaded = s.load(DeclarationKey::Id(d)).unwrap().unwrap();
    let record = VersionRecord {
        version: 2,
        source: VersionSource::OfficerCorrection {
            officer: officer(),
            kind: clearance::version::CorrectionKind::CustomsValue,
            reason: "goods found to be duty-free".into(),
        },
        changes: vec![domain::form_path::FieldDifference {
            path: "items[0].unit_price".into(),
            before: serde_json::json!("350.0000"),
            after: serde_json::json!("0.0100"),
        }],
        declaration: serde_json::from_str(&loaded.body_json).unwrap(),
        risk_relevant: false,
        risk: None,
        reassessment: Some(Reassessment {
            decided_on: day(2025, 3, 12),
            lines: Vec::new(),
            notices: Vec::new(),
            superseded: s
                .payment_notices(d)
                .unwrap()
                .into_iter()
                .map(|n| n.notice_no)
                .collect(),
            refunds: Vec::new(),
            superseded_refunds: Vec::new(),
        }),
    };
    step(
        s,
        d,
        officer(),
        Action::RecordVersion {
            record: Box::new(record),
        },
        t0() + Duration::days(2),
    )
    .unwrap();
    let after = s.load(DeclarationKey::Id(d)).unwrap().unwrap();
    assert_eq!(after.state.outstanding_fen(), Fen::ZERO);
    let g = gs(s).guarantee("G-1").unwrap().unwrap();
    assert_eq!((g.reserved_fen, g.balance_fen), (Fen::ZERO, Fen(1_000_000)));
    assert_eq!(
        gs(s).reservations_of_declaration(d).unwrap()[0].state,
        ReservationState::Released
    );
    assert!(s.verify_audit().unwrap().is_intact());
}

/// Runs every guarantee contract test against a backend.
#[macro_export]
macro_rules! guarantee_contract_tests {
    ($make:expr) => {
        $crate::guarantee_contract_tests!(@each $make;
            register_reserve_release_and_claim,
            refused_releases_write_nothing,
            transit_reserves_and_releases,
            concurrent_reservations_never_overdraw,
            a_claim_paying_the_notices_claims_the_reservation,
            a_version_leaving_nothing_owed_releases_the_reservation,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(harness) = $make {
                    $crate::guarantee_contract::$name(&harness);
                }
            }
        )*
    };
}
