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

/// Runs every finance contract test against a backend.
#[macro_export]
macro_rules! finance_contract_tests {
    ($make:expr) => {
        $crate::finance_contract_tests!(@each $make;
            refund_claims_roundtrip_once_per_item,
            concurrent_claims_record_exactly_one,
            bank_records_unique_per_bank_and_read_by_period,
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
