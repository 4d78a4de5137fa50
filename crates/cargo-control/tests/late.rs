//! The late declaration fee of goods under transit 转关运输 (《海关征收进口货物滞报金办法》):
//! declared at the office of destination, the 14 days count from the goods' arrival there; on
//! their way they are not late at all; goods declared at the office of entry count from its
//! arrival report as before.

mod common;

use cargo_control::transit;
use cargo_control::*;
use common::*;
use domain::money::Fen;
use tax::{TaxPolicy, TradingCalendar};

fn seal(s: &str) -> SealNo {
    SealNo::parse(s).unwrap()
}

fn step(state: &mut TransitState, actor: Actor, action: TransitAction, at: &str) {
    let events = transit::decide(state, &TransitCommand { actor, action }, t(at)).unwrap();
    for e in &events {
        transit::apply(state, e);
    }
}

/// Transit T-LATE-1 of bill TR1 from 2201 to 4600, declared and departed the day of the entry
/// arrival (2024-05-06 in China).
fn departed_transit() -> TransitState {
    let mut s = TransitState::default();
    step(
        &mut s,
        as_carrier(carrier_a()),
        TransitAction::Declare {
            declaration: TransitDeclaration {
                transit_no: TransitNo::parse("T-LATE-1").unwrap(),
                declarant: carrier_a(),
                entry_office: office("2201"),
                destination_office: office("4600"),
                vehicle: MeansOfTransport::Truck {
                    plate: TruckPlate::parse("沪A12345").unwrap(),
                },
                seals: vec![seal("CS001")],
                route: vec!["Yangshan".into(), "Zhengzhou".into()],
                time_limit_hours: 96,
                guarantee: None,
                bills: vec![bill_no("TR1")],
            },
        },
        "2024-05-06T04:00:00Z",
    );
    step(
        &mut s,
        officer("2201"),
        TransitAction::ConfirmDeparture,
        "2024-05-06T05:00:00Z",
    );
    s
}

/// Arrived at 4600 on 2024-05-09 (China date), three days after the entry arrival.
fn arrived_transit() -> TransitState {
    let mut s = departed_transit();
    step(
        &mut s,
        officer("4600"),
        TransitAction::ConfirmArrival {
            seals_intact: vec![seal("CS001")],
            seals_damaged: vec![],
        },
        "2024-05-09T02:00:00Z",
    );
    assert_eq!(s.status, TransitStatus::Arrived);
    s
}

/// Manifest M1 arrived at 2201 on 2024-05-06 (China date) with TR1 (carried by the transit)
/// and ORD (declared at the office of entry).
fn ledger() -> ManifestLedger {
    let l = arrived_ledger(
        MatchPolicy::default(),
        "M1",
        vec![bill("TR1", 1, "10"), bill("ORD", 1, "10")],
    );
    assert_eq!(
        l.manifest(&mid("M1")).unwrap().arrival_date(),
        Some(d("2024-05-06"))
    );
    l
}

fn legs(state: &TransitState) -> impl Fn(&BillNo) -> Option<TransitLeg> + '_ {
    move |b: &BillNo| {
        let leg = TransitLeg::of(state)?;
        state
            .declaration
            .as_ref()
            .is_some_and(|d| d.bills.contains(b))
            .then_some(leg)
    }
}

#[test]
fn a_transit_bill_counts_from_the_arrival_at_the_destination() {
    let (cal, policy) = (TradingCalendar::china(), TaxPolicy::default());
    let l = ledger();
    let transit = arrived_transit();
    let leg = TransitLeg::of(&transit).unwrap();
    let value = Fen::yuan(200_000);

    // Declared 2024-05-22: 16 days after the entry arrival, 13 after the destination arrival.
    let fee = l
        .late_declaration_fee(
            &bill_no("TR1"),
            d("2024-05-22"),
            value,
            Some(&leg),
            &cal,
            &policy,
        )
        .unwrap();
    assert_eq!(fee.fee.deadline, d("2024-05-23"), "2024-05-09 + 14");
    assert_eq!((fee.fee.days, fee.fee.payable_fen), (0, Fen::ZERO));
    assert_eq!(
        fee.counted_from,
        PeriodStart::DestinationArrival {
            transit_no: TransitNo::parse("T-LATE-1").unwrap(),
            destination_office: office("4600"),
            date: d("2024-05-09"),
        }
    );
    assert!(
        fee.explanation_zh.contains("运抵指运地之日（2024-05-09"),
        "{}",
        fee.explanation_zh
    );
    assert!(
        fee.explanation_en
            .contains("arrival at the office of destination 4600 on 2024-05-09"),
        "{}",
        fee.explanation_en
    );
    // The same day from the entry arrival would have been 2 days late.
    let entry = l
        .late_declaration_fee(&bill_no("TR1"), d("2024-05-22"), value, None, &cal, &policy)
        .unwrap();
    assert_eq!((entry.fee.days, entry.fee.payable_fen), (2, Fen::yuan(200)));

    // Declared 2024-05-26, 17 days after the destination arrival: 3 days from 05-24.
    let fee = l
        .late_declaration_fee(
            &bill_no("TR1"),
            d("2024-05-26"),
            value,
            Some(&leg),
            &cal,
            &policy,
        )
        .unwrap();
    assert_eq!((fee.fee.days, fee.fee.payable_fen), (3, Fen::yuan(300)));
    assert!(
        fee.explanation_zh.contains("滞报3天"),
        "{}",
        fee.explanation_zh
    );
    assert!(
        fee.explanation_en.contains("3 days late"),
        "{}",
        fee.explanation_en
    );

    // A cleared transit still counts from the arrival at the destination.
    let mut cleared = transit.clone();
    cleared.status = TransitStatus::Cleared;
    let fee = l
        .late_declaration_fee(
            &bill_no("TR1"),
            d("2024-05-26"),
            value,
            TransitLeg::of(&cleared).as_ref(),
            &cal,
            &policy,
        )
        .unwrap();
    assert_eq!(fee.fee.days, 3);
}

#[test]
fn the_late_list_counts_transit_bills_from_the_destination_and_waits_while_on_the_way() {
    let (cal, policy) = (TradingCalendar::china(), TaxPolicy::default());
    let l = ledger();
    let none = |_: &BillNo| None;

    // On the way (declared, then departed): only the ordinary bill is late, whatever the date.
    let on_way = departed_transit();
    for as_of in ["2024-05-22", "2024-06-30"] {
        let late = l.late_bills(d(as_of), &cal, &policy, &none, &legs(&on_way));
        let bills: Vec<_> = late.iter().map(|b| b.bill_no.as_str().to_owned()).collect();
        assert_eq!(bills, ["ORD"], "as of {as_of}");
    }
    let refused = l
        .late_declaration_fee(
            &bill_no("TR1"),
            d("2024-06-30"),
            Fen::yuan(1),
            TransitLeg::of(&on_way).as_ref(),
            &cal,
            &policy,
        )
        .unwrap_err();
    assert_eq!(refused.code(), "bill_in_transit");

    // Arrived 2024-05-09: deadline 05-23, late from 05-24.
    let arrived = arrived_transit();
    let value = |_: &BillNo| Some(Fen::yuan(200_000));
    let late = l.late_bills(d("2024-05-23"), &cal, &policy, &value, &legs(&arrived));
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].bill_no, bill_no("ORD"));
    let late = l.late_bills(d("2024-05-26"), &cal, &policy, &value, &legs(&arrived));
    assert_eq!(late.len(), 2);
    // Most overdue first: the ordinary bill (6 days) before the transit bill (3 days).
    let (ord, tr) = (&late[0], &late[1]);
    assert_eq!((ord.bill_no, ord.days), (bill_no("ORD"), 6));
    assert_eq!((tr.bill_no, tr.days), (bill_no("TR1"), 3));
    assert_eq!(
        (tr.arrival_date, tr.deadline),
        (d("2024-05-09"), d("2024-05-23"))
    );
    assert!(matches!(
        tr.counted_from,
        PeriodStart::DestinationArrival { .. }
    ));
    assert_eq!(tr.fee.as_ref().unwrap().payable_fen, Fen::yuan(300));
    assert!(
        tr.explanation_zh.contains("指运地"),
        "{}",
        tr.explanation_zh
    );
    // The ordinary bill as before: from the entry arrival report.
    assert_eq!(
        (ord.arrival_date, ord.deadline),
        (d("2024-05-06"), d("2024-05-20"))
    );
    assert_eq!(ord.fee.as_ref().unwrap().payable_fen, Fen::yuan(600));
    assert_eq!(
        ord.counted_from,
        PeriodStart::EntryArrival {
            manifest_id: mid("M1"),
            office: office("2201"),
            date: d("2024-05-06"),
        }
    );
    assert!(
        ord.explanation_en
            .contains("office of entry 2201 on 2024-05-06"),
        "{}",
        ord.explanation_en
    );
    let json = serde_json::to_value(tr).unwrap();
    assert_eq!(json["counted_from"]["from"], "destination_arrival");
    assert_eq!(json["counted_from"]["transit_no"], "T-LATE-1");
}

#[test]
fn broken_seals_still_arrived_and_a_cancelled_transit_counts_from_the_entry() {
    let (cal, policy) = (TradingCalendar::china(), TaxPolicy::default());
    let l = ledger();
    // Arrived with a broken seal: the goods are at the destination, the days count from there.
    let mut broken = departed_transit();
    step(
        &mut broken,
        officer("4600"),
        TransitAction::ConfirmArrival {
            seals_intact: vec![],
            seals_damaged: vec![seal("CS001")],
        },
        "2024-05-09T02:00:00Z",
    );
    assert_eq!(broken.status, TransitStatus::SealBroken);
    let late = l.late_bills(d("2024-05-24"), &cal, &policy, &|_| None, &legs(&broken));
    let tr = late.iter().find(|b| b.bill_no == bill_no("TR1")).unwrap();
    assert_eq!((tr.arrival_date, tr.days), (d("2024-05-09"), 1));

    // Cancelled before departure: the goods stayed at the office of entry.
    let mut cancelled = TransitState::default();
    step(
        &mut cancelled,
        as_carrier(carrier_a()),
        TransitAction::Declare {
            declaration: departed_transit().declaration.unwrap(),
        },
        "2024-05-06T04:00:00Z",
    );
    step(
        &mut cancelled,
        as_carrier(carrier_a()),
        TransitAction::Cancel {
            reason: "declared at the port after all".into(),
        },
        "2024-05-06T06:00:00Z",
    );
    assert_eq!(TransitLeg::of(&cancelled), None);
    let late = l.late_bills(d("2024-05-22"), &cal, &policy, &|_| None, &legs(&cancelled));
    let tr = late.iter().find(|b| b.bill_no == bill_no("TR1")).unwrap();
    assert_eq!((tr.arrival_date, tr.days), (d("2024-05-06"), 2));
    assert!(matches!(tr.counted_from, PeriodStart::EntryArrival { .. }));
}
