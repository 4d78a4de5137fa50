//! Collection after assessment (issue 14): the late payment surcharge at payment and the rule
//! that only an exact bank confirmation settles a notice; the dated policy table; re-assessment
//! into 补征 / 追征 / refunds; the guarantee ledger.
//!
//! Article numbers: Import and Export Duties Regulations 《进出口关税条例》 (2003, before
//! 2024-12-01) art. 37 (15 days, 0.05 % per day), art. 51 (补征 1 year, 追征 3 years with
//! 0.05 % per day), art. 52 (refund request within 1 year with demand-deposit interest); Customs
//! Law 《海关法》 art. 60, 62, 63 say the same. The Customs Tariff Law 《关税法》 (from 2024-12-01)
//! rows are as issue 14 states them and flagged unverified (no text of the law in /work/shared).

use chrono::NaiveDate;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;

use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use tax::collection::{
    reassess_amounts, CollectionError, CollectionPolicy, Consequence, Interest, Period,
    ReassessFacts, RefundOrigin, Rule, ShortLevyCause,
};
use tax::guarantee::{
    GuaranteeCommand, GuaranteeKind, GuaranteeLedger, GuaranteeRefusal, GuaranteeTerms, Purpose,
};
use tax::payment::{amount_due, settle, BankConfirmation, PaymentRefusal};
use tax::{TaxKind, TaxPolicy, TradingCalendar};

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn yuan(s: &str) -> Fen {
    Fen::round_yuan(Decimal::from_str(s).unwrap()).unwrap()
}

// --- late payment surcharge at payment (Regulations art. 37, Customs Law art. 60) -------------

/// 2025-03-03 (Mon) + 15 = 2025-03-18 (Tue), a working day.
const ISSUED: &str = "2025-03-03";

#[test]
fn art37_paid_on_day_15_no_surcharge() {
    let cal = TradingCalendar::china();
    let due = amount_due(
        TaxKind::ImportVat,
        yuan("200000.00"),
        d(ISSUED),
        d("2025-03-18"),
        &cal,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert_eq!(due.surcharge.deadline, d("2025-03-18"));
    assert_eq!(due.surcharge.days, 0);
    assert_eq!(due.total_fen, yuan("200000.00"));
}

#[test]
fn art37_paid_on_day_16_one_day_of_surcharge() {
    let cal = TradingCalendar::china();
    // 200,000.00 × 0.0005 × 1 = 100.00
    let due = amount_due(
        TaxKind::ImportVat,
        yuan("200000.00"),
        d(ISSUED),
        d("2025-03-19"),
        &cal,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert_eq!(due.surcharge.days, 1);
    assert_eq!(due.surcharge.payable_fen, yuan("100.00"));
    assert_eq!(due.total_fen, yuan("200100.00"));
}

#[test]
fn art37_last_day_on_a_holiday_moves_past_it() {
    let cal = TradingCalendar::china();
    // 2025-09-16 + 15 = 2025-10-01, National Day (holiday 1–8 October): the last day is 10-09.
    let on_time = amount_due(
        TaxKind::Duty,
        yuan("500000.00"),
        d("2025-09-16"),
        d("2025-10-09"),
        &cal,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert!(on_time.surcharge.deadline_shifted);
    assert_eq!(on_time.surcharge.deadline, d("2025-10-09"));
    assert_eq!(on_time.total_fen, yuan("500000.00"));
    let late = amount_due(
        TaxKind::Duty,
        yuan("500000.00"),
        d("2025-09-16"),
        d("2025-10-10"),
        &cal,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert_eq!(late.surcharge.days, 1);
    assert_eq!(late.surcharge.payable_fen, yuan("250.00"));
}

#[test]
fn art37_surcharge_under_50_yuan_not_levied_50_levied() {
    let cal = TradingCalendar::china();
    let p = TaxPolicy::default();
    // one day late: 99,980.00 × 0.0005 = 49.99 → not levied; 100,000.00 × 0.0005 = 50.00 → levied.
    let under = amount_due(
        TaxKind::Duty,
        yuan("99980.00"),
        d(ISSUED),
        d("2025-03-19"),
        &cal,
        &p,
    )
    .unwrap();
    assert_eq!(under.surcharge.amount_fen, yuan("49.99"));
    assert_eq!(under.surcharge.payable_fen, Fen::ZERO);
    assert_eq!(under.total_fen, yuan("99980.00"));
    let at = amount_due(
        TaxKind::Duty,
        yuan("100000.00"),
        d(ISSUED),
        d("2025-03-19"),
        &cal,
        &p,
    )
    .unwrap();
    assert_eq!(at.surcharge.payable_fen, yuan("50.00"));
    assert_eq!(at.total_fen, yuan("100050.00"));
}

#[test]
fn surcharge_counts_every_day_to_payment_right_to_the_fen() {
    let cal = TradingCalendar::china();
    // 123,456.78 paid 10 days late: 123,456.78 × 0.0005 × 10 = 617.2839 → 617.28.
    let due = amount_due(
        TaxKind::ImportVat,
        yuan("123456.78"),
        d(ISSUED),
        d("2025-03-28"),
        &cal,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert_eq!(due.surcharge.days, 10);
    assert_eq!(due.surcharge.payable_fen, yuan("617.28"));
    assert_eq!(due.total_fen, yuan("124074.06"));
}

fn confirmation(amount: &str, on: &str) -> BankConfirmation {
    BankConfirmation {
        bank: "bank-boc".into(),
        reference: "BOC-20250319-0001".into(),
        amount_fen: yuan(amount),
        paid_on: d(on),
    }
}

#[test]
fn only_the_exact_amount_due_settles_a_notice() {
    let cal = TradingCalendar::china();
    let p = TaxPolicy::default();
    let tax = yuan("200000.00");
    // Late by one day: the tax alone no longer settles it.
    let short = settle(
        TaxKind::ImportVat,
        tax,
        d(ISSUED),
        &confirmation("200000.00", "2025-03-19"),
        &cal,
        &p,
    );
    assert_eq!(
        short,
        Err(PaymentRefusal::WrongAmount {
            due_fen: yuan("200100.00"),
            confirmed_fen: yuan("200000.00"),
        })
    );
    let e = short.unwrap_err();
    assert!(e.message_zh().contains("滞纳金"));
    assert!(e.message_en().contains("surcharge"));
    let over = settle(
        TaxKind::ImportVat,
        tax,
        d(ISSUED),
        &confirmation("200100.01", "2025-03-19"),
        &cal,
        &p,
    );
    assert!(matches!(over, Err(PaymentRefusal::WrongAmount { .. })));
    let ok = settle(
        TaxKind::ImportVat,
        tax,
        d(ISSUED),
        &confirmation("200100.00", "2025-03-19"),
        &cal,
        &p,
    )
    .unwrap();
    assert_eq!(ok.due.surcharge.payable_fen, yuan("100.00"));
    assert_eq!(ok.reference, "BOC-20250319-0001");
    // On time the tax alone settles it.
    assert!(settle(
        TaxKind::ImportVat,
        tax,
        d(ISSUED),
        &confirmation("200000.00", "2025-03-18"),
        &cal,
        &p
    )
    .is_ok());
}

#[test]
fn a_confirmation_without_reference_or_before_issue_is_refused() {
    let cal = TradingCalendar::china();
    let p = TaxPolicy::default();
    let mut c = confirmation("100.00", "2025-03-04");
    c.reference = " ".into();
    assert_eq!(
        settle(TaxKind::Duty, yuan("100.00"), d(ISSUED), &c, &cal, &p),
        Err(PaymentRefusal::MissingReference)
    );
    let early = confirmation("100.00", "2025-03-02");
    assert!(matches!(
        settle(TaxKind::Duty, yuan("100.00"), d(ISSUED), &early, &cal, &p),
        Err(PaymentRefusal::BeforeIssue { .. })
    ));
}

// --- the policy table ---------------------------------------------------------------------------

#[test]
fn shipped_table_has_every_rule_on_both_sides_of_the_tariff_law() {
    let t = CollectionPolicy::shipped();
    for rule in [
        Rule::LatePayment,
        Rule::Supplementary,
        Rule::Recovery,
        Rule::RefundRequest,
    ] {
        t.rule(rule, d("2024-11-30")).unwrap();
        t.rule(rule, d("2024-12-01")).unwrap();
    }
    // Regulations: 补征 1 year (art. 51 para. 1), 追征 3 years at 0.05 %/day (art. 51 para. 2),
    // refund request 1 year with demand-deposit interest (art. 52), 15 days (art. 37).
    let old = d("2024-11-30");
    assert_eq!(
        t.rule(Rule::Supplementary, old).unwrap().period,
        Period::Years(1)
    );
    let rec = t.rule(Rule::Recovery, old).unwrap();
    assert_eq!(rec.period, Period::Years(3));
    assert_eq!(rec.daily_rate, Some(Decimal::from_str("0.0005").unwrap()));
    assert!(rec.basis_zh.contains("第五十一条"));
    let refund = t.rule(Rule::RefundRequest, old).unwrap();
    assert_eq!(refund.period, Period::Years(1));
    assert_eq!(refund.interest, Interest::DemandDeposit);
    assert!(refund.basis_en.contains("art. 52"));
    assert_eq!(
        t.rule(Rule::LatePayment, old).unwrap().period,
        Period::Days(15)
    );
    // Customs Tariff Law: 3 years, unverified here.
    let new = d("2024-12-01");
    for rule in [Rule::Supplementary, Rule::Recovery, Rule::RefundRequest] {
        let row = t.rule(rule, new).unwrap();
        assert_eq!(row.period, Period::Years(3));
        assert!(
            !row.verified,
            "{rule:?} must stay flagged until checked against the law"
        );
    }
}

#[test]
fn table_errors_are_reported_by_line() {
    let text =
        "rule,valid_from,valid_to,period,daily_rate,interest,basis_zh,basis_en,source,verified\n\
                recovery,,2024-11-30,3y,0.0005,none,a,b,c,yes\n\
                recovery,2024-06-01,,3y,0.0005,none,a,b,c,yes\n\
                refund,,,1y,,none,a,b,c,yes\n\
                supplementary,,,1w,,none,a,b,c,yes\n\
                refund_request,,,1y,,monthly,a,b,c,yes\n";
    let errors = CollectionPolicy::parse_csv(text).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6]);
    assert!(errors[0].message.contains("overlaps"));
}

// --- re-assessment ------------------------------------------------------------------------------

fn facts(paid: &str, decided: &str, cause: ShortLevyCause, origin: RefundOrigin) -> ReassessFacts {
    ReassessFacts {
        paid_on: d(paid),
        decided_on: d(decided),
        cause,
        refund_origin: origin,
        demand_deposit_annual_rate: Decimal::from_str("0.0035").unwrap(),
    }
}

#[test]
fn art51_para1_supplementary_within_one_year_then_time_barred() {
    let t = CollectionPolicy::shipped();
    let p = TaxPolicy::default();
    let paid = [
        (TaxKind::Duty, yuan("1000.00")),
        (TaxKind::ImportVat, yuan("1430.00")),
    ];
    let due = [
        (TaxKind::Duty, yuan("3000.00")),
        (TaxKind::ImportVat, yuan("1690.00")),
    ];
    let r = reassess_amounts(
        &paid,
        &due,
        &facts(
            "2023-03-01",
            "2024-03-01",
            ShortLevyCause::NoBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &p,
    )
    .unwrap();
    assert_eq!(r.lines.len(), 2);
    assert_eq!(r.lines[0].tax, TaxKind::Duty);
    assert_eq!(r.lines[0].difference_fen, yuan("2000.00").0);
    assert_eq!(
        r.lines[0].consequence,
        Consequence::Supplementary {
            amount_fen: yuan("2000.00")
        }
    );
    assert_eq!(r.lines[0].last_day, Some(d("2024-03-01")));
    assert!(r.lines[0]
        .rule
        .as_ref()
        .unwrap()
        .basis_zh
        .contains("第五十一条第一款"));
    assert_eq!(
        r.lines[1].consequence,
        Consequence::Supplementary {
            amount_fen: yuan("260.00")
        }
    );
    let late = reassess_amounts(
        &paid,
        &due,
        &facts(
            "2023-03-01",
            "2024-03-02",
            ShortLevyCause::NoBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &p,
    )
    .unwrap();
    assert!(matches!(
        late.lines[0].consequence,
        Consequence::TimeBarred { .. }
    ));
    assert_eq!(late.actionable().count(), 0);
}

#[test]
fn art51_para2_recovery_within_three_years_with_surcharge_per_day() {
    let t = CollectionPolicy::shipped();
    let p = TaxPolicy::default();
    let paid = [(TaxKind::Duty, yuan("5000.00"))];
    let due = [(TaxKind::Duty, yuan("15000.00"))];
    // 10,000.00 × 0.0005 × 30 days (2023-03-02 … 2023-03-31) = 150.00
    let r = reassess_amounts(
        &paid,
        &due,
        &facts(
            "2023-03-01",
            "2023-03-31",
            ShortLevyCause::TaxpayerBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &p,
    )
    .unwrap();
    assert_eq!(
        r.lines[0].consequence,
        Consequence::Recovery {
            amount_fen: yuan("10000.00"),
            surcharge_days: 30,
            surcharge_exact: Decimal::from_str("150.0000").unwrap(),
            surcharge_fen: yuan("150.00"),
        }
    );
    // Within 3 years (2026-03-01 is the last day), not after.
    let edge = reassess_amounts(
        &paid,
        &due,
        &facts(
            "2023-03-01",
            "2026-03-01",
            ShortLevyCause::TaxpayerBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &p,
    )
    .unwrap();
    assert!(matches!(
        edge.lines[0].consequence,
        Consequence::Recovery { .. }
    ));
    let barred = reassess_amounts(
        &paid,
        &due,
        &facts(
            "2023-03-01",
            "2026-03-02",
            ShortLevyCause::TaxpayerBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &p,
    )
    .unwrap();
    assert!(matches!(
        barred.lines[0].consequence,
        Consequence::TimeBarred { .. }
    ));
}

#[test]
fn art52_refund_request_within_one_year_with_demand_deposit_interest() {
    let t = CollectionPolicy::shipped();
    let p = TaxPolicy::default();
    let paid = [(TaxKind::ImportVat, yuan("3000.00"))];
    let due = [(TaxKind::ImportVat, yuan("2000.00"))];
    let origin = RefundOrigin::TaxpayerRequest {
        requested_on: d("2024-05-31"),
    };
    // 1,000.00 × 0.35 % × 395 days ÷ 360 = 3.8402… → 3.84
    let r = reassess_amounts(
        &paid,
        &due,
        &facts("2023-06-01", "2024-06-30", ShortLevyCause::NoBreach, origin),
        &t,
        &p,
    )
    .unwrap();
    assert_eq!(
        r.lines[0].consequence,
        Consequence::Refund {
            amount_fen: yuan("1000.00"),
            interest_days: 395,
            interest_fen: yuan("3.84")
        }
    );
    assert!(r.lines[0]
        .rule
        .as_ref()
        .unwrap()
        .basis_en
        .contains("art. 52"));
    // A request after the year is refused.
    let late = RefundOrigin::TaxpayerRequest {
        requested_on: d("2024-06-02"),
    };
    let r = reassess_amounts(
        &paid,
        &due,
        &facts("2023-06-01", "2024-06-30", ShortLevyCause::NoBreach, late),
        &t,
        &p,
    )
    .unwrap();
    assert!(matches!(
        r.lines[0].consequence,
        Consequence::TimeBarred { .. }
    ));
}

#[test]
fn customs_found_excess_is_refunded_without_interest() {
    let t = CollectionPolicy::shipped();
    let r = reassess_amounts(
        &[(TaxKind::Duty, yuan("800.00"))],
        &[],
        &facts(
            "2023-06-01",
            "2025-06-30",
            ShortLevyCause::NoBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert_eq!(
        r.lines[0].consequence,
        Consequence::Refund {
            amount_fen: yuan("800.00"),
            interest_days: 0,
            interest_fen: Fen::ZERO
        }
    );
}

#[test]
fn tariff_law_three_year_refund_request_flagged_unverified() {
    let t = CollectionPolicy::shipped();
    let origin = RefundOrigin::TaxpayerRequest {
        requested_on: d("2028-01-10"),
    };
    let r = reassess_amounts(
        &[(TaxKind::Duty, yuan("800.00"))],
        &[(TaxKind::Duty, yuan("500.00"))],
        &facts("2025-01-10", "2028-01-20", ShortLevyCause::NoBreach, origin),
        &t,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert!(matches!(r.lines[0].consequence, Consequence::Refund { .. }));
    assert!(!r.lines[0].rule.as_ref().unwrap().verified);
    // 补征 without breach: 3 years under the law (1 under the Regulations).
    let r = reassess_amounts(
        &[(TaxKind::Duty, yuan("500.00"))],
        &[(TaxKind::Duty, yuan("800.00"))],
        &facts(
            "2025-01-10",
            "2027-01-10",
            ShortLevyCause::NoBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &TaxPolicy::default(),
    )
    .unwrap();
    assert_eq!(
        r.lines[0].consequence,
        Consequence::Supplementary {
            amount_fen: yuan("300.00")
        }
    );
}

#[test]
fn decision_before_payment_is_an_error_and_equal_amounts_no_change() {
    let t = CollectionPolicy::shipped();
    let p = TaxPolicy::default();
    let e = reassess_amounts(
        &[],
        &[],
        &facts(
            "2025-01-10",
            "2025-01-09",
            ShortLevyCause::NoBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &p,
    );
    assert!(matches!(e, Err(CollectionError::DateOrder { .. })));
    let same = [(TaxKind::Duty, yuan("1.00"))];
    let r = reassess_amounts(
        &same,
        &same,
        &facts(
            "2025-01-10",
            "2025-01-10",
            ShortLevyCause::NoBreach,
            RefundOrigin::CustomsFound,
        ),
        &t,
        &p,
    )
    .unwrap();
    assert_eq!(r.lines[0].consequence, Consequence::NoChange);
}

// --- guarantees ---------------------------------------------------------------------------------

fn holder() -> Uscc {
    Uscc::parse("91110000600037341L").unwrap()
}

fn terms(amount: &str) -> GuaranteeTerms {
    GuaranteeTerms {
        id: "G-BOC-1".into(),
        kind: GuaranteeKind::General,
        bank: "bank-boc".into(),
        holder: holder(),
        amount_fen: yuan(amount),
        valid_from: d("2025-01-01"),
        valid_to: d("2025-12-31"),
        offices: vec![OfficeCode::parse("2200").unwrap()],
        purposes: vec![Purpose::Release],
    }
}

fn reserve(reference: &str, amount: &str) -> GuaranteeCommand {
    GuaranteeCommand::Reserve {
        id: "G-BOC-1".into(),
        reference: reference.into(),
        holder: holder(),
        office: OfficeCode::parse("2201").unwrap(),
        purpose: Purpose::Release,
        amount_fen: yuan(amount),
        on: d("2025-06-01"),
        due_on: d("2025-06-16"),
    }
}

fn ledger(amount: &str) -> GuaranteeLedger {
    let mut l = GuaranteeLedger::default();
    l.execute(&GuaranteeCommand::Register {
        by_bank: "bank-boc".into(),
        terms: terms(amount),
    })
    .unwrap();
    l
}

#[test]
fn guarantee_refusals_unknown_expired_other_holder_scope_balance() {
    let mut l = ledger("10000.00");
    let mut c = reserve("D1", "100.00");
    if let GuaranteeCommand::Reserve { id, .. } = &mut c {
        *id = "NO-SUCH-GUARANTEE-XYZ".into();
    }
    let e = l.decide(&c).unwrap_err();
    assert!(matches!(e, GuaranteeRefusal::Unknown { .. }));
    assert!(e.message_zh().contains("不存在") && e.message_en().contains("no guarantee"));
    let mut c = reserve("D1", "100.00");
    if let GuaranteeCommand::Reserve { on, .. } = &mut c {
        *on = d("2026-01-01");
    }
    assert!(matches!(
        l.decide(&c),
        Err(GuaranteeRefusal::NotValid { .. })
    ));
    let mut c = reserve("D1", "100.00");
    if let GuaranteeCommand::Reserve { holder, .. } = &mut c {
        // Another enterprise than the guarantee's holder (a valid code under GB 32100 in full).
        *holder = Uscc::parse("91310000132149237G").unwrap();
    }
    assert_eq!(l.decide(&c), Err(GuaranteeRefusal::OtherHolder));
    let mut c = reserve("D1", "100.00");
    if let GuaranteeCommand::Reserve { office, .. } = &mut c {
        *office = OfficeCode::parse("5100").unwrap();
    }
    assert!(matches!(
        l.decide(&c),
        Err(GuaranteeRefusal::OfficeOutOfScope { .. })
    ));
    let mut c = reserve("D1", "100.00");
    if let GuaranteeCommand::Reserve { purpose, .. } = &mut c {
        *purpose = Purpose::Transit;
    }
    assert!(matches!(
        l.decide(&c),
        Err(GuaranteeRefusal::PurposeOutOfScope { .. })
    ));
    // Balance: 10,000.00; 9,000.00 reserved leaves 1,000.00; 1,000.01 is refused.
    l.execute(&reserve("D1", "9000.00")).unwrap();
    assert_eq!(l.get("G-BOC-1").unwrap().balance_fen(), yuan("1000.00"));
    assert!(matches!(
        l.decide(&reserve("D2", "1000.01")),
        Err(GuaranteeRefusal::ShortOfBalance { .. })
    ));
    assert!(matches!(
        l.decide(&reserve("D1", "1.00")),
        Err(GuaranteeRefusal::ReferenceInUse { .. })
    ));
    l.execute(&reserve("D2", "1000.00")).unwrap();
    assert_eq!(l.get("G-BOC-1").unwrap().balance_fen(), Fen::ZERO);
}

#[test]
fn guarantee_register_by_issuing_bank_only_release_and_claim_after_due_date() {
    let mut l = GuaranteeLedger::default();
    assert!(matches!(
        l.decide(&GuaranteeCommand::Register {
            by_bank: "bank-icbc".into(),
            terms: terms("10.00")
        }),
        Err(GuaranteeRefusal::NotIssuingBank { .. })
    ));
    let mut l2 = ledger("10000.00");
    l2.execute(&reserve("D1", "4000.00")).unwrap();
    l2.execute(&reserve("D2", "5000.00")).unwrap();
    l2.execute(&GuaranteeCommand::Release {
        id: "G-BOC-1".into(),
        reference: "D1".into(),
    })
    .unwrap();
    assert_eq!(l2.get("G-BOC-1").unwrap().balance_fen(), yuan("5000.00"));
    let claim = |on: &str| GuaranteeCommand::Claim {
        id: "G-BOC-1".into(),
        reference: "D2".into(),
        on: d(on),
    };
    assert!(matches!(
        l2.decide(&claim("2025-06-16")),
        Err(GuaranteeRefusal::NotYetDue { .. })
    ));
    l2.execute(&claim("2025-06-17")).unwrap();
    let g = l2.get("G-BOC-1").unwrap();
    assert_eq!(g.claimed_fen, yuan("5000.00"));
    assert_eq!(g.balance_fen(), yuan("5000.00"));
    assert!(matches!(
        l2.decide(&GuaranteeCommand::Release {
            id: "G-BOC-1".into(),
            reference: "D2".into()
        }),
        Err(GuaranteeRefusal::NoReservation { .. })
    ));
    l.apply(
        &l2.decide(&GuaranteeCommand::Register {
            by_bank: "bank-boc".into(),
            terms: {
                let mut t = terms("1.00");
                t.id = "G2".into();
                t
            },
        })
        .unwrap(),
    );
    assert!(l.get("G2").is_some());
}

#[derive(Clone, Debug)]
enum Op {
    Reserve(u8, i64),
    Release(u8),
    Claim(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, -5i64..5_000_000).prop_map(|(r, a)| Op::Reserve(r, a)),
        (0u8..6).prop_map(Op::Release),
        (0u8..6).prop_map(Op::Claim),
    ]
}

proptest! {
    /// Whatever the sequence, the balance is amount − open reservations − claims, never
    /// negative, and a reservation succeeds exactly when it fits the balance.
    #[test]
    fn guarantee_balance_never_negative(amount in 1i64..10_000_000, ops in proptest::collection::vec(op(), 0..60)) {
        let mut l = GuaranteeLedger::default();
        let mut t = terms("0.01");
        t.amount_fen = Fen(amount);
        l.execute(&GuaranteeCommand::Register { by_bank: "bank-boc".into(), terms: t }).unwrap();
        let mut open: std::collections::BTreeMap<u8, i64> = Default::default();
        let mut claimed = 0i64;
        for op in ops {
            match op {
                Op::Reserve(r, a) => {
                    let mut c = reserve(&format!("R{r}"), "0.01");
                    if let GuaranteeCommand::Reserve { amount_fen, .. } = &mut c { *amount_fen = Fen(a); }
                    let fits = a > 0 && !open.contains_key(&r) && a <= amount - open.values().sum::<i64>() - claimed;
                    let res = l.execute(&c);
                    prop_assert_eq!(res.is_ok(), fits);
                    if fits { open.insert(r, a); }
                }
                Op::Release(r) => {
                    let res = l.execute(&GuaranteeCommand::Release { id: "G-BOC-1".into(), reference: format!("R{r}") });
                    prop_assert_eq!(res.is_ok(), open.remove(&r).is_some());
                }
                Op::Claim(r) => {
                    let res = l.execute(&GuaranteeCommand::Claim { id: "G-BOC-1".into(), reference: format!("R{r}"), on: d("2025-07-01") });
                    match open.remove(&r) {
                        Some(a) => { prop_assert!(res.is_ok()); claimed += a; }
                        None => prop_assert!(res.is_err()),
                    }
                }
            }
            let g = l.get("G-BOC-1").unwrap();
            let balance = amount - open.values().sum::<i64>() - claimed;
            prop_assert!(balance >= 0);
            prop_assert_eq!(g.balance_fen(), Fen(balance));
            prop_assert_eq!(g.claimed_fen, Fen(claimed));
        }
    }
}

#[test]
fn daily_reconciliation_lists_every_mismatch() {
    use tax::payment::{reconcile, BankLine, Mismatch, PaidNotice};
    let paid = |n: &str, r: &str, a: &str| PaidNotice {
        notice_no: n.into(),
        reference: r.into(),
        amount_fen: yuan(a),
    };
    let line = |r: &str, n: &str, a: &str| BankLine {
        reference: r.into(),
        notice_no: n.into(),
        amount_fen: yuan(a),
    };
    let ok = [paid("N1", "R1", "100.00")];
    assert!(reconcile(&ok, &[line("R1", "N1", "100.00")]).is_empty());
    let m = reconcile(
        &[
            paid("N1", "R1", "100.00"),
            paid("N2", "R2", "200.00"),
            paid("N3", "R3", "300.00"),
        ],
        &[
            line("R1", "N1", "100.00"),
            line("R2", "N2", "200.01"),
            line("R4", "N4", "400.00"),
            line("R4", "N4", "400.00"),
        ],
    );
    assert_eq!(m.len(), 4, "{m:?}");
    assert_eq!(
        m[0],
        Mismatch::DuplicateReference {
            reference: "R4".into()
        }
    );
    assert!(matches!(&m[1], Mismatch::Differs { reference, .. } if reference == "R2"));
    assert!(
        matches!(&m[2], Mismatch::PaidWithoutConfirmation { notice_no, .. } if notice_no == "N3")
    );
    assert!(
        matches!(&m[3], Mismatch::ConfirmationWithoutPayment { reference, .. } if reference == "R4")
    );
}
