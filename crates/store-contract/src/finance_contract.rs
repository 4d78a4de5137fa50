//! The contract of [`FinanceStore`], run against every backend with
//! [`crate::finance_contract_tests`] (like [`crate::eport_contract`]).

use std::str::FromStr;

use ::eport::forex::{BankRecord, FundsKind};
use ::eport::refund::{ClaimStatus, RefundClaim};
use chrono::{Duration, NaiveDate};
use clearance::Actor;
use domain::codes::{CurrencyCode, DeclarationNo, HsCode, UnitCode};
use domain::money::Fen;
use rust_decimal::Decimal;

use crate::contract::{declarant, other_declarant, t0};
use store::finance::*;
use store::Store;

// ---------------------------------------------------------------------------------------------
// Bank payments (written by the append of a `NoticePaid` event carrying a bank's confirmation)

/// A declaration taken to `Assessed` with two notices (duty 20 000.00, VAT 33 647.06); its id
/// and notice numbers.
fn assessed(s: &dyn Store, seq: &str) -> (store::DeclarationId, Vec<clearance::PaymentNotice>) {
    use crate::contract::{officer, step, submit_request, system};
    use clearance::{Action, Lane, PaymentNotice, TaxKind};
    let sub = s
        .submit(submit_request(seq, crate::contract::sample_body(7)))
        .unwrap();
    let acc = s
        .accept(store::AcceptRequest {
            id: sub.id,
            expected_version: 1,
            actor: system(),
            now: t0(),
        })
        .unwrap();
    step(
        s,
        sub.id,
        system(),
        Action::ChooseLane {
            lane: Lane::Yellow,
            reasons: vec![crate::contract::reason()],
            inspection: None,
            explanation: None,
        },
        t0(),
    );
    step(
        s,
        sub.id,
        officer(),
        Action::RecordReview {
            result: clearance::ExaminationResult::Conform,
        },
        t0(),
    );
    let notices = vec![
        PaymentNotice {
            notice_no: format!("{}-duty", acc.declaration_no),
            tax: TaxKind::Duty,
            amount_fen: Fen(2_000_000),
        },
        PaymentNotice {
            notice_no: format!("{}-vat", acc.declaration_no),
            tax: TaxKind::Vat,
            amount_fen: Fen(3_364_706),
        },
    ];
    step(
        s,
        sub.id,
        system(),
        Action::Assess {
            notices: notices.clone(),
        },
        t0(),
    );
    (sub.id, notices)
}

/// The append of a bank's payment of `n` (with a surcharge of `surcharge` fen).
fn payment_append(
    s: &dyn Store,
    id: store::DeclarationId,
    n: &clearance::PaymentNotice,
    bank: &str,
    reference: &str,
    surcharge: i64,
) -> store::AppendRequest {
    let d = s.load(store::DeclarationKey::Id(id)).unwrap().unwrap();
    let action = clearance::Action::Pay {
        notice_no: n.notice_no.clone(),
        payment: clearance::BankPayment {
            bank: bank.into(),
            reference: reference.into(),
            surcharge_fen: Fen(surcharge),
            paid_fen: Fen(n.amount_fen.0 + surcharge),
            paid_on: day(),
            guarantee_claim: None,
        },
    };
    let events = clearance::decide(
        &d.state,
        &clearance::Command {
            actor: Actor::Bank { code: bank.into() },
            action,
        },
        t0() + Duration::hours(1),
    )
    .expect("the payment fits");
    store::AppendRequest {
        id,
        expected_version: d.version,
        events,
    }
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 6, 2).unwrap()
}

/// A bank's payment is stored with the notice and as the bank's confirmation, read back by
/// reference and by day; the same reference of the same bank (for another notice), or a second
/// payment of a notice, is `Duplicate` and writes nothing; another bank may use the reference.
pub fn bank_payments_unique_per_bank_reference_and_notice(h: &dyn FinanceHarness) {
    let s = h.open();
    let f = fin(&*s);
    let (id, notices) = assessed(&*s, "pay-1");
    let (id2, notices2) = assessed(&*s, "pay-2");
    s.append(payment_append(
        &*s,
        id,
        &notices[0],
        "bank-boc",
        "BOC-1",
        5_000,
    ))
    .unwrap();
    let row = f
        .bank_payment("bank-boc", "BOC-1")
        .unwrap()
        .expect("stored");
    assert_eq!(
        (
            row.notice_no.as_str(),
            row.amount_fen,
            row.paid_on,
            row.declaration_id
        ),
        (notices[0].notice_no.as_str(), Fen(2_005_000), day(), id)
    );
    assert_eq!(f.bank_payment("bank-icbc", "BOC-1").unwrap(), None);
    let stored = s.payment_notices(id).unwrap();
    let p = stored
        .iter()
        .find(|n| n.notice_no == notices[0].notice_no)
        .and_then(|n| n.payment.clone())
        .expect("the notice keeps its payment");
    assert_eq!(
        (
            p.bank.as_str(),
            p.reference.as_str(),
            p.surcharge_fen,
            p.paid_fen
        ),
        ("bank-boc", "BOC-1", Fen(5_000), Fen(2_005_000))
    );

    // The same reference for another notice of the same bank: Duplicate, nothing written.
    let version = s
        .load(store::DeclarationKey::Id(id2))
        .unwrap()
        .unwrap()
        .version;
    let err = s
        .append(payment_append(
            &*s,
            id2,
            &notices2[0],
            "bank-boc",
            "BOC-1",
            0,
        ))
        .unwrap_err();
    assert_eq!(err.code(), "duplicate");
    let after = s.load(store::DeclarationKey::Id(id2)).unwrap().unwrap();
    assert_eq!(after.version, version, "nothing half-written");
    assert!(s
        .payment_notices(id2)
        .unwrap()
        .iter()
        .all(|n| n.paid_at.is_none()));
    // Another bank may use the same reference.
    s.append(payment_append(
        &*s,
        id2,
        &notices2[0],
        "bank-icbc",
        "BOC-1",
        0,
    ))
    .unwrap();

    // By day: the confirmations and the notices paid through the bank agree.
    let confirmed = f.bank_payments_on("bank-boc", day()).unwrap();
    let paid = f.notices_paid_through("bank-boc", day()).unwrap();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(paid.len(), 1);
    assert_eq!(
        (&paid[0].reference, &paid[0].notice_no, paid[0].amount_fen),
        (
            &confirmed[0].reference,
            &confirmed[0].notice_no,
            confirmed[0].amount_fen
        )
    );
    assert!(f
        .bank_payments_on("bank-boc", day() + Duration::days(1))
        .unwrap()
        .is_empty());
    assert_eq!(f.notices_paid_through("bank-icbc", day()).unwrap().len(), 1);
    assert!(s.verify_audit().unwrap().is_intact());
}

/// Eight different references racing to pay one notice, each decided on the same loaded
/// version: exactly one is written.
pub fn racing_payments_of_one_notice_record_one(h: &dyn FinanceHarness) {
    let s = h.open();
    let (id, notices) = assessed(&*s, "race-1");
    let appends: Vec<_> = (0..8)
        .map(|i| payment_append(&*s, id, &notices[1], "bank-boc", &format!("R-{i}"), 0))
        .collect();
    let ok = std::thread::scope(|scope| {
        let handles: Vec<_> = appends
            .into_iter()
            .map(|a| {
                let s = &*s;
                scope.spawn(move || s.append(a).is_ok())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count()
    });
    assert_eq!(ok, 1);
    assert_eq!(
        fin(&*s).bank_payments_on("bank-boc", day()).unwrap().len(),
        1
    );
    assert_eq!(
        fin(&*s)
            .notices_paid_through("bank-boc", day())
            .unwrap()
            .len(),
        1
    );
}

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait FinanceHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn fin(s: &dyn Store) -> &dyn FinanceStore {
    s.finance_store().expect("the backend has a finance store")
}

fn tax() -> Actor {
    Actor::System {
        component: "tax".into(),
    }
}

fn no(serial: u32) -> DeclarationNo {
    DeclarationNo::parse(&format!("530420250{serial:09}")).unwrap()
}

pub fn claim(serial: u32, item_no: u32) -> RefundClaim {
    RefundClaim {
        declaration_no: no(serial),
        item_no,
        claimant: declarant(),
        hs_code: HsCode::parse("6403990000").unwrap(),
        quantity: Decimal::from_str("4000").unwrap(),
        unit: UnitCode::parse("025").unwrap(),
        fob_value_fen: Fen(53_228_980),
        customs_fob_value_fen: Fen(53_228_981),
        currency: CurrencyCode::parse("USD").unwrap(),
        fob_value: Decimal::from_str("74000.00").unwrap(),
        status: ClaimStatus::Verified,
        claimed_at: t0(),
        payment: None,
    }
}

pub fn bank_record(bank: &str, bank_ref: &str, value_date: &str) -> BankRecord {
    BankRecord {
        bank: bank.into(),
        bank_ref: bank_ref.into(),
        kind: FundsKind::Receipt,
        uscc: declarant(),
        amount: Decimal::from_str("1000.50").unwrap(),
        currency: CurrencyCode::parse("USD").unwrap(),
        amount_fen: Fen(719_610),
        value_date: NaiveDate::from_str(value_date).unwrap(),
        declaration_no: Some(no(1)),
    }
}

pub fn refund_claims_roundtrip_once_per_item(h: &dyn FinanceHarness) {
    let s = h.open();
    let f = fin(&*s);
    let c1 = claim(1, 1);
    assert_eq!(f.record_refund_claim(c1.clone(), &tax(), t0()).unwrap(), c1);
    let mut c2 = claim(1, 2);
    c2.claimed_at = t0() + Duration::minutes(1);
    f.record_refund_claim(c2.clone(), &tax(), t0()).unwrap();
    // The same item again, even by someone else: a duplicate, nothing written.
    let mut again = claim(1, 1);
    again.claimant = other_declarant();
    let dup = f.record_refund_claim(again, &tax(), t0()).unwrap_err();
    assert_eq!(dup.code(), "duplicate");
    // Malformed: refused before writing.
    let mut bad = claim(2, 1);
    bad.fob_value_fen = Fen(1);
    assert_eq!(
        f.record_refund_claim(bad, &tax(), t0()).unwrap_err().code(),
        "invalid"
    );
    let mut other = claim(3, 1);
    other.claimant = other_declarant();
    other.claimed_at = t0() + Duration::minutes(2);
    f.record_refund_claim(other.clone(), &tax(), t0()).unwrap();

    assert_eq!(
        f.refund_claims_of(&declarant()).unwrap(),
        [c2.clone(), c1.clone()]
    );
    assert_eq!(
        f.refund_claims_of(&other_declarant()).unwrap(),
        [other.clone()]
    );
    assert_eq!(f.refund_claims(100).unwrap(), [other.clone(), c2, c1]);
    assert_eq!(f.refund_claims(1).unwrap(), [other]);
    assert!(s.verify_audit().unwrap().is_intact());
}

/// N requests claim the same item at once: exactly one is recorded, the others are duplicates.
pub fn concurrent_claims_record_exactly_one(h: &dyn FinanceHarness) {
    const N: usize = 16;
    let s = h.open();
    let barrier = std::sync::Barrier::new(N);
    let results: Vec<Result<RefundClaim, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let s = &*s;
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut c = claim(7, 1);
                    c.claimed_at = t0() + Duration::seconds(i as i64);
                    barrier.wait();
                    fin(s)
                        .record_refund_claim(c, &tax(), t0())
                        .map_err(|e| e.code().to_owned())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(r.as_ref().unwrap_err(), "duplicate");
    }
    assert_eq!(fin(&*s).refund_claims_of(&declarant()).unwrap().len(), 1);
    assert!(s.verify_audit().unwrap().is_intact());
}

pub fn bank_records_unique_per_bank_and_read_by_period(h: &dyn FinanceHarness) {
    let s = h.open();
    let f = fin(&*s);
    let bank = Actor::System {
        component: "bank".into(),
    };
    let r1 = bank_record("boc", "R-1", "2025-04-20");
    assert_eq!(f.record_bank_record(r1.clone(), &bank, t0()).unwrap(), r1);
    let dup = f
        .record_bank_record(bank_record("boc", "R-1", "2025-05-01"), &bank, t0())
        .unwrap_err();
    assert_eq!(dup.code(), "duplicate");
    // The same reference at another bank is another record.
    let r2 = bank_record("icbc", "R-1", "2025-05-02");
    f.record_bank_record(r2.clone(), &bank, t0()).unwrap();
    let mut r3 = bank_record("boc", "R-2", "2025-06-30");
    r3.kind = FundsKind::Payment;
    r3.uscc = other_declarant();
    r3.declaration_no = None;
    f.record_bank_record(r3.clone(), &bank, t0()).unwrap();
    let mut bad = bank_record("boc", "R-3", "2025-06-30");
    bad.amount = Decimal::ZERO;
    assert_eq!(
        f.record_bank_record(bad, &bank, t0()).unwrap_err().code(),
        "invalid"
    );

    assert_eq!(f.bank_records_of("boc").unwrap(), [r3.clone(), r1.clone()]);
    assert_eq!(
        f.bank_records_of("icbc").unwrap(),
        std::slice::from_ref(&r2)
    );
    let d = |s: &str| NaiveDate::from_str(s).unwrap();
    assert_eq!(
        f.bank_records_between(d("2025-04-01"), d("2025-06-30"), None)
            .unwrap(),
        [r1.clone(), r2.clone(), r3.clone()]
    );
    assert_eq!(
        f.bank_records_between(d("2025-04-21"), d("2025-06-29"), None)
            .unwrap(),
        std::slice::from_ref(&r2)
    );
    assert_eq!(
        f.bank_records_between(d("2025-01-01"), d("2025-12-31"), Some(&declarant()))
            .unwrap(),
        [r1, r2]
    );
    assert!(s.verify_audit().unwrap().is_intact());
}

// ---------------------------------------------------------------------------------------------
// Refund paid (the tax agency's payment of a verified claim)

fn refund_payment(serial: u32, item_no: u32, amount_fen: i64) -> RefundPaymentWrite {
    RefundPaymentWrite {
        declaration_no: no(serial),
        item_no,
        payment: ::eport::refund::RefundPayment {
            amount_fen: Fen(amount_fen),
            paid_on: domain::time::china_date(t0()),
            bank_reference: format!("TR-{serial}-{item_no}"),
            paid_by: "tax".into(),
            recorded_at: t0(),
            ceiling_fen: Fen(6_919_767),
        },
        actor: tax(),
        now: t0(),
    }
}

fn eport_code(e: store::StoreError) -> String {
    match e {
        store::StoreError::Eport(r) => r.code.to_owned(),
        other => panic!("expected an E-Port refusal, got {other:?}"),
    }
}

/// A verified claim is paid once, within its ceiling; an unknown claim is refused; the
/// payment reads back in the claim and is audited.
pub fn refund_paid_once_within_its_ceiling(h: &dyn FinanceHarness) {
    let s = h.open();
    let f = fin(&*s);
    f.record_refund_claim(claim(11, 1), &tax(), t0()).unwrap();
    assert_eq!(
        eport_code(f.pay_refund(refund_payment(12, 1, 100)).unwrap_err()),
        "refund_claim_not_found"
    );
    assert_eq!(
        eport_code(f.pay_refund(refund_payment(11, 1, 6_919_768)).unwrap_err()),
        "refund_over_ceiling"
    );
    let paid = f.pay_refund(refund_payment(11, 1, 6_919_767)).unwrap();
    assert_eq!(paid.status, ClaimStatus::Paid);
    assert_eq!(paid.payment.as_ref().unwrap().amount_fen, Fen(6_919_767));
    assert_eq!(
        f.refund_claims_on(&no(11)).unwrap(),
        std::slice::from_ref(&paid)
    );
    assert_eq!(
        f.refund_claims_of(&declarant()).unwrap(),
        std::slice::from_ref(&paid)
    );
    // Paid once: a second payment, even of another amount, is refused and changes nothing.
    assert_eq!(
        eport_code(f.pay_refund(refund_payment(11, 1, 50)).unwrap_err()),
        "refund_already_paid"
    );
    assert_eq!(f.refund_claims_on(&no(11)).unwrap(), [paid]);
    assert!(f.refund_claims_on(&no(12)).unwrap().is_empty());
    assert!(s.verify_audit().unwrap().is_intact());
}

/// N tax users pay the same claim at once: exactly one payment is recorded.
pub fn racing_refund_payments_record_one(h: &dyn FinanceHarness) {
    const N: usize = 12;
    let s = h.open();
    fin(&*s)
        .record_refund_claim(claim(13, 1), &tax(), t0())
        .unwrap();
    let barrier = std::sync::Barrier::new(N);
    let results: Vec<Result<RefundClaim, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                let s = &*s;
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut w = refund_payment(13, 1, 1000 + i as i64);
                    w.payment.bank_reference = format!("TR-RACE-{i}");
                    barrier.wait();
                    fin(s).pay_refund(w).map_err(eport_code)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for r in results.iter().filter(|r| r.is_err()) {
        assert_eq!(r.as_ref().unwrap_err(), "refund_already_paid");
    }
    let won = results.into_iter().find_map(Result::ok).unwrap();
    assert_eq!(fin(&*s).refund_claims_on(&no(13)).unwrap(), [won]);
    assert!(s.verify_audit().unwrap().is_intact());
}

/// A declaration whose refund was paid is not amended or cancelled: the store refuses the
/// request inside the step's transaction, naming the payment, whatever the service checked
/// before; other steps still write, and an unpaid claim refuses nothing.
pub fn paid_refund_refuses_a_change_in_the_writer(h: &dyn FinanceHarness) {
    use crate::contract::{step, submit_request, system};
    use clearance::{decide, Action, Command};
    let s = h.open();
    let f = fin(&*s);
    let accepted = |seq: &str, i: u64| {
        let sub = s
            .submit(submit_request(seq, crate::contract::sample_body(i)))
            .unwrap();
        let acc = s
            .accept(store::AcceptRequest {
                id: sub.id,
                expected_version: 1,
                actor: system(),
                now: t0(),
            })
            .unwrap();
        (sub.id, acc.declaration_no)
    };
    let (paid_id, paid_no) = accepted("RP-1", 31);
    let (unpaid_id, unpaid_no) = accepted("RP-2", 32);
    for (n, declaration_no) in [(21, paid_no), (22, unpaid_no)] {
        let mut c = claim(n, 1);
        c.declaration_no = declaration_no;
        f.record_refund_claim(c, &tax(), t0()).unwrap();
    }
    let mut w = refund_payment(21, 1, 500_000);
    w.declaration_no = paid_no;
    f.pay_refund(w).unwrap();
    let change = |id, action: Action| {
        let d = s.load(store::DeclarationKey::Id(id)).unwrap().unwrap();
        let events = decide(
            &d.state,
            &Command {
                actor: clearance::Actor::Enterprise { uscc: declarant() },
                action,
            },
            t0(),
        )
        .expect("the lifecycle allows the request");
        s.append(store::AppendRequest {
            id,
            expected_version: d.version,
            events,
        })
    };
    let amend = || Action::RequestAmendment {
        reason: "wrong quantity".into(),
        changes: vec![clearance::FieldChange {
            field: "items[0].declared_quantity".into(),
            value: "90".into(),
        }],
    };
    let before = s.load(store::DeclarationKey::Id(paid_id)).unwrap().unwrap();
    for action in [
        amend(),
        Action::RequestCancellation {
            reason: "goods not shipped".into(),
        },
    ] {
        let e = change(paid_id, action).unwrap_err();
        let r = match e {
            store::StoreError::Eport(r) => r,
            other => panic!("expected refund_paid, got {other:?}"),
        };
        assert_eq!(r.code, "refund_paid");
        assert!(r.message_zh.contains("税务机关"), "{}", r.message_zh);
        assert!(r.message_en.contains("TR-21-1"), "{}", r.message_en);
    }
    let after = s.load(store::DeclarationKey::Id(paid_id)).unwrap().unwrap();
    assert_eq!(
        after.version, before.version,
        "nothing of a refused change is written"
    );
    // Steps that change nothing of the declaration's content still write.
    step(
        &*s,
        paid_id,
        system(),
        Action::ChooseLane {
            lane: clearance::Lane::Yellow,
            reasons: vec![crate::contract::reason()],
            inspection: None,
            explanation: None,
        },
        t0(),
    );
    // A claim verified but not paid binds nothing.
    change(unpaid_id, amend()).unwrap();
    assert!(s.verify_audit().unwrap().is_intact());
}

/// Runs every finance contract test against a backend.
#[macro_export]
macro_rules! finance_contract_tests {
    ($make:expr) => {
        $crate::finance_contract_tests!(@each $make;
            refund_claims_roundtrip_once_per_item,
            concurrent_claims_record_exactly_one,
            bank_records_unique_per_bank_and_read_by_period,
            bank_payments_unique_per_bank_reference_and_notice,
            racing_payments_of_one_notice_record_one,
            refund_paid_once_within_its_ceiling,
            racing_refund_payments_record_one,
            paid_refund_refuses_a_change_in_the_writer,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(harness) = $make {
                    $crate::finance_contract::$name(&harness);
                }
            }
        )*
    };
}
