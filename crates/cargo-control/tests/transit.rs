//! Transit under customs control: on-time, late and broken-seal arrivals, and the alerts.

mod common;

use cargo_control::transit::{self, alerts};
use cargo_control::*;
use common::*;
use domain::codes::{DeclarationNo, Direction};
use domain::money::Fen;

fn seal(s: &str) -> SealNo {
    SealNo::parse(s).unwrap()
}

fn declaration() -> TransitDeclaration {
    TransitDeclaration {
        transit_no: TransitNo::parse("T2024-0001").unwrap(),
        declarant: carrier_a(),
        entry_office: office("2201"),
        destination_office: office("4600"),
        vehicle: MeansOfTransport::Truck {
            plate: TruckPlate::parse("沪A12345").unwrap(),
        },
        seals: vec![seal("CS001"), seal("CS002")],
        route: vec![
            "Shanghai Yangshan".into(),
            "G60".into(),
            "Zhengzhou inland port".into(),
        ],
        time_limit_hours: 48,
        guarantee: Some(Guarantee {
            guarantee_no: "BG-88".into(),
            amount_fen: Fen::yuan(150_000),
            goods_value_fen: Some(Fen::yuan(600_000)),
        }),
        bills: vec![bill_no("COSU001")],
    }
}

fn run(
    state: &mut TransitState,
    actor: Actor,
    action: TransitAction,
    at: &str,
) -> Result<Vec<TransitEvent>, Refusal> {
    let events = transit::decide(state, &TransitCommand { actor, action }, t(at))?;
    for e in &events {
        transit::apply(state, e);
    }
    Ok(events)
}

/// Declared, departed at 2024-05-06T00:00Z with a 48-hour limit.
fn departed() -> TransitState {
    let mut s = TransitState::default();
    run(
        &mut s,
        as_carrier(carrier_a()),
        TransitAction::Declare {
            declaration: declaration(),
        },
        "2024-05-05T20:00:00Z",
    )
    .unwrap();
    assert_eq!(s.status, TransitStatus::Declared);
    run(
        &mut s,
        officer("2201"),
        TransitAction::ConfirmDeparture,
        "2024-05-06T00:00:00Z",
    )
    .unwrap();
    assert_eq!(s.status, TransitStatus::Departed);
    assert_eq!(s.deadline, Some(t("2024-05-08T00:00:00Z")));
    s
}

/// The normal import declaration filed at the office of destination (4600) for the transit's bill.
fn clearing(serial: u32) -> ClearingDeclaration {
    ClearingDeclaration {
        declaration_no: DeclarationNo::new(office("4600"), 2024, Direction::Import, serial)
            .unwrap(),
        direction: Direction::Import,
        declaration_office: office("4600"),
        bill_no: Some(bill_no("COSU001")),
    }
}

fn clear(serial: u32) -> TransitAction {
    TransitAction::Clear {
        declaration: clearing(serial),
    }
}

fn intact() -> TransitAction {
    TransitAction::ConfirmArrival {
        seals_intact: vec![seal("CS001"), seal("CS002")],
        seals_damaged: vec![],
    }
}

#[test]
fn on_time_arrival_with_seals_intact_then_cleared() {
    let mut s = departed();
    assert!(alerts([&s], t("2024-05-07T23:59:00Z")).is_empty());
    // The office of entry may not confirm the arrival.
    let err = run(&mut s, officer("2201"), intact(), "2024-05-07T10:00:00Z").unwrap_err();
    assert_eq!(err.code(), "wrong_office");
    let events = run(&mut s, officer("4600"), intact(), "2024-05-07T10:00:00Z").unwrap();
    match &events[0].kind {
        TransitEventKind::ArrivalConfirmed {
            late_minutes,
            seals,
        } => {
            assert_eq!(*late_minutes, 0);
            assert!(seals.is_intact());
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(s.status, TransitStatus::Arrived);
    assert!(alerts([&s], t("2024-05-09T00:00:00Z")).is_empty());
    let decl = clearing(42).declaration_no;
    run(&mut s, officer("4601"), clear(42), "2024-05-07T12:00:00Z")
        .map(|_| ())
        .expect_err("4601 is not above 4600");
    run(&mut s, officer("4600"), clear(42), "2024-05-07T12:00:00Z").unwrap();
    assert_eq!(
        (s.status, s.cleared_by),
        (TransitStatus::Cleared, Some(decl))
    );
    // Cleared is terminal.
    let err = run(
        &mut s,
        officer("4600"),
        TransitAction::ConfirmDeparture,
        "2024-05-07T13:00:00Z",
    )
    .unwrap_err();
    assert_eq!(err.code(), "not_allowed_in_status");
}

#[test]
fn late_arrival_raises_an_overdue_alert() {
    let mut s = departed();
    // Still on the road after the deadline.
    let a = alerts([&s], t("2024-05-08T01:30:00Z"));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].destination_office, office("4600"));
    assert_eq!(
        a[0].kind,
        TransitAlertKind::Overdue {
            deadline: t("2024-05-08T00:00:00Z"),
            overdue_minutes: 90,
            arrived: false
        }
    );
    assert!(
        alerts([&s], t("2024-05-08T00:00:00Z")).is_empty(),
        "at the deadline is on time"
    );
    run(&mut s, officer("4600"), intact(), "2024-05-08T03:00:00Z").unwrap();
    assert_eq!(s.status, TransitStatus::Arrived);
    assert_eq!(s.late_minutes, 180);
    let a = alerts([&s], t("2024-05-09T00:00:00Z"));
    assert_eq!(
        a[0].kind,
        TransitAlertKind::Overdue {
            deadline: t("2024-05-08T00:00:00Z"),
            overdue_minutes: 180,
            arrived: true
        }
    );
    // A late arrival still clears by a normal declaration.
    run(&mut s, officer("4600"), clear(1), "2024-05-09T00:00:00Z").unwrap();
    assert!(alerts([&s], t("2024-05-09T00:00:00Z")).is_empty());
}

#[test]
fn broken_seal_holds_the_goods_until_resolved() {
    let mut s = departed();
    run(
        &mut s,
        officer("4600"),
        TransitAction::ConfirmArrival {
            seals_intact: vec![seal("CS001"), seal("XX999")],
            seals_damaged: vec![],
        },
        "2024-05-07T10:00:00Z",
    )
    .unwrap();
    assert_eq!(s.status, TransitStatus::SealBroken);
    let a = alerts([&s], t("2024-05-07T11:00:00Z"));
    assert_eq!(a.len(), 1);
    match &a[0].kind {
        TransitAlertKind::BrokenSeal { seals, resolved } => {
            assert_eq!(seals.missing, vec![seal("CS002")]);
            assert_eq!(seals.unexpected, vec![seal("XX999")]);
            assert!(!resolved);
        }
        other => panic!("unexpected {other:?}"),
    }
    let clear = clear(1);
    assert_eq!(
        run(
            &mut s,
            officer("4600"),
            clear.clone(),
            "2024-05-07T11:00:00Z"
        )
        .unwrap_err()
        .code(),
        "not_allowed_in_status"
    );
    run(
        &mut s,
        officer("4600"),
        TransitAction::ResolveSealAlert {
            reason: "examined: goods complete".into(),
        },
        "2024-05-07T12:00:00Z",
    )
    .unwrap();
    assert_eq!(s.status, TransitStatus::Arrived);
    assert!(matches!(
        alerts([&s], t("2024-05-07T13:00:00Z"))[0].kind,
        TransitAlertKind::BrokenSeal { resolved: true, .. }
    ));
    run(&mut s, officer("4600"), clear, "2024-05-07T13:00:00Z").unwrap();
}

#[test]
fn a_damaged_seal_is_broken_too() {
    let mut s = departed();
    run(
        &mut s,
        officer("4600"),
        TransitAction::ConfirmArrival {
            seals_intact: vec![seal("CS001")],
            seals_damaged: vec![seal("CS002")],
        },
        "2024-05-07T10:00:00Z",
    )
    .unwrap();
    let check = s.seals.clone().unwrap();
    assert_eq!(
        (check.missing.len(), check.damaged, check.unexpected.len()),
        (0, vec![seal("CS002")], 0)
    );
    assert_eq!(s.status, TransitStatus::SealBroken);
}

#[test]
fn transit_declarations_are_checked() {
    let declare = |d: TransitDeclaration| {
        transit::decide(
            &TransitState::default(),
            &TransitCommand {
                actor: as_carrier(carrier_a()),
                action: TransitAction::Declare { declaration: d },
            },
            t("2024-05-06T00:00:00Z"),
        )
        .unwrap_err()
        .code()
    };
    let mut d = declaration();
    d.destination_office = d.entry_office;
    assert_eq!(declare(d), "same_office");
    let mut d = declaration();
    d.seals.clear();
    assert_eq!(declare(d), "missing");
    let mut d = declaration();
    d.seals.push(seal("CS001"));
    assert_eq!(declare(d), "duplicate_seal");
    let mut d = declaration();
    d.time_limit_hours = 0;
    assert_eq!(declare(d), "time_limit_out_of_range");
    let mut d = declaration();
    d.route.clear();
    assert_eq!(declare(d), "missing");
    let mut d = declaration();
    d.declarant = carrier_b();
    assert_eq!(declare(d), "not_own_manifest");
    let mut d = declaration();
    d.bills.push(bill_no("COSU001"));
    assert_eq!(declare(d), "duplicate_bill");
    // A guarantee covers the estimated duties and taxes (24.3 % of the goods' value): a ¥1
    // guarantee for goods worth ¥600,000 is refused, one short by a fen too; the value is
    // required with a guarantee.
    let with = |amount: Fen, value: Option<Fen>| {
        let mut d = declaration();
        d.guarantee = Some(Guarantee {
            guarantee_no: "BG-88".into(),
            amount_fen: amount,
            goods_value_fen: value,
        });
        d
    };
    let value = Some(Fen::yuan(600_000));
    assert_eq!(
        transit::estimated_duties(Fen::yuan(600_000)),
        Fen::yuan(145_800)
    );
    assert_eq!(
        transit::estimated_duties(Fen(1)),
        Fen(1),
        "rounded up to the fen"
    );
    assert_eq!(
        declare(with(Fen::yuan(1), value)),
        "guarantee_short_of_estimate"
    );
    assert_eq!(
        declare(with(Fen(Fen::yuan(145_800).0 - 1), value)),
        "guarantee_short_of_estimate"
    );
    assert_eq!(declare(with(Fen::yuan(1), None)), "missing");
    assert!(transit::decide(
        &TransitState::default(),
        &TransitCommand {
            actor: as_carrier(carrier_a()),
            action: TransitAction::Declare {
                declaration: with(Fen::yuan(145_800), value)
            }
        },
        t("2024-05-06T00:00:00Z"),
    )
    .is_ok());
    // No guarantee is fine.
    let mut d = declaration();
    d.guarantee = None;
    assert!(transit::decide(
        &TransitState::default(),
        &TransitCommand {
            actor: as_carrier(carrier_a()),
            action: TransitAction::Declare { declaration: d }
        },
        t("2024-05-06T00:00:00Z"),
    )
    .is_ok());
}

#[test]
fn cancel_only_before_departure() {
    let mut s = TransitState::default();
    run(
        &mut s,
        as_carrier(carrier_a()),
        TransitAction::Declare {
            declaration: declaration(),
        },
        "2024-05-05T20:00:00Z",
    )
    .unwrap();
    let mut before = s.clone();
    run(
        &mut before,
        as_carrier(carrier_a()),
        TransitAction::Cancel {
            reason: "plans changed".into(),
        },
        "2024-05-05T21:00:00Z",
    )
    .unwrap();
    assert_eq!(before.status, TransitStatus::Cancelled);
    let mut after = departed();
    assert_eq!(
        run(
            &mut after,
            as_carrier(carrier_a()),
            TransitAction::Cancel { reason: "x".into() },
            "2024-05-06T01:00:00Z"
        )
        .unwrap_err()
        .code(),
        "not_allowed_in_status"
    );
}

#[test]
fn transit_events_round_trip_and_replay() {
    let mut s = TransitState::default();
    let mut log = Vec::new();
    log.extend(
        run(
            &mut s,
            as_carrier(carrier_a()),
            TransitAction::Declare {
                declaration: declaration(),
            },
            "2024-05-05T20:00:00Z",
        )
        .unwrap(),
    );
    log.extend(
        run(
            &mut s,
            officer("2201"),
            TransitAction::ConfirmDeparture,
            "2024-05-06T00:00:00Z",
        )
        .unwrap(),
    );
    log.extend(run(&mut s, officer("4600"), intact(), "2024-05-07T00:00:00Z").unwrap());
    let json = serde_json::to_string(&log).unwrap();
    let back: Vec<TransitEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(transit::replay(&back), s);
}

#[test]
fn clearing_needs_an_import_filed_at_the_destination_for_a_carried_bill() {
    let mut s = departed();
    run(&mut s, officer("4600"), intact(), "2024-05-07T10:00:00Z").unwrap();
    let refused = |c: ClearingDeclaration| {
        let mut s = s.clone();
        let err = run(
            &mut s,
            officer("4600"),
            TransitAction::Clear { declaration: c },
            "2024-05-07T12:00:00Z",
        )
        .unwrap_err();
        assert_eq!(
            s.status,
            TransitStatus::Arrived,
            "a refusal changes nothing"
        );
        (err.code(), err.message_zh(), err.message_en())
    };
    // Filed at the office of entry, not inland.
    let mut c = clearing(7);
    c.declaration_office = office("2201");
    let (code, zh, en) = refused(c);
    assert_eq!(code, "declaration_at_other_office");
    assert!(zh.contains("4600") && en.contains("2201"), "{zh} / {en}");
    // Another bill, or none.
    let mut c = clearing(7);
    c.bill_no = Some(bill_no("COSU999"));
    assert_eq!(refused(c).0, "bill_not_in_transit");
    let mut c = clearing(7);
    c.bill_no = None;
    assert_eq!(refused(c).0, "missing");
    // An export declaration does not clear imported goods.
    let mut c = clearing(7);
    c.direction = Direction::Export;
    assert_eq!(refused(c).0, "direction_mismatch");
    // An office below the destination may file it (4600 covers 4601).
    let mut c = clearing(7);
    c.declaration_office = office("4601");
    run(
        &mut s,
        officer("4600"),
        TransitAction::Clear { declaration: c },
        "2024-05-07T12:00:00Z",
    )
    .unwrap();
    assert_eq!(s.status, TransitStatus::Cleared);
}

#[test]
fn transit_bills_must_have_arrived_at_the_office_of_entry() {
    // Manifests of office 2201: M1 arrived (A declared and released, B open), M2 not arrived,
    // X an export.
    let mut ledger = arrived_ledger(
        MatchPolicy::default(),
        "M1",
        vec![bill("A-1", 10, "100"), bill("B-1", 5, "50")],
    );
    let now = t("2024-05-06T04:00:00Z");
    ledger
        .execute(
            &file(
                "M2",
                ManifestKind::Original,
                Direction::Import,
                vec![bill("C-1", 1, "1")],
            ),
            now,
        )
        .unwrap();
    ledger
        .execute(
            &file(
                "X",
                ManifestKind::PreLoad,
                Direction::Export,
                vec![bill("E-1", 1, "1")],
            ),
            now,
        )
        .unwrap();
    let a = decl_no(Direction::Import, 1);
    ledger
        .execute(&match_cmd("A-1", a, 10, "100"), now)
        .unwrap();
    ledger.execute(&write_off("A-1", a), now).unwrap();

    let check = |ledger: &ManifestLedger, entry: &str, bills: &[&str]| {
        let bills: Vec<BillNo> = bills.iter().map(|b| bill_no(b)).collect();
        ledger
            .check_transit_bills(office(entry), &bills)
            .map_err(|r| r.code())
    };
    assert_eq!(check(&ledger, "2201", &["B-1"]), Ok(()));
    // An office above the manifest's covers it.
    assert_eq!(check(&ledger, "2200", &["B-1"]), Ok(()));
    assert_eq!(
        check(&ledger, "2233", &["B-1"]),
        Err("transit_bill_other_office")
    );
    assert_eq!(
        check(&ledger, "2201", &["B-1", "NOPE"]),
        Err("bill_unknown")
    );
    assert_eq!(
        check(&ledger, "2201", &["C-1"]),
        Err("manifest_not_arrived")
    );
    assert_eq!(check(&ledger, "2201", &["E-1"]), Err("direction_mismatch"));
    // Released at the office of entry: nothing left to move under customs control.
    assert_eq!(check(&ledger, "2201", &["A-1"]), Err("already_written_off"));
    // Declared there, not yet released: cleared at the office of entry, not inland.
    let b = decl_no(Direction::Import, 2);
    ledger.execute(&match_cmd("B-1", b, 5, "50"), now).unwrap();
    assert_eq!(
        check(&ledger, "2201", &["B-1"]),
        Err("bill_already_declared")
    );
}

#[test]
fn a_bill_in_transit_is_declared_at_the_destination_once_arrived() {
    let cosu = bill_no("COSU001");
    let check = |s: &TransitState, office_code: &str| {
        transit::check_inland_declaration(s, cosu, office(office_code)).map_err(|r| r.code())
    };
    // No transit, or only declared, on the road, held for a seal: refused everywhere.
    assert_eq!(check(&TransitState::default(), "2201"), Ok(()));
    let mut s = TransitState::default();
    run(
        &mut s,
        as_carrier(carrier_a()),
        TransitAction::Declare {
            declaration: declaration(),
        },
        "2024-05-05T20:00:00Z",
    )
    .unwrap();
    assert_eq!(check(&s, "2201"), Err("bill_in_transit"));
    let mut s = departed();
    assert_eq!(check(&s, "4600"), Err("bill_in_transit"));
    assert_eq!(check(&s, "2201"), Err("bill_in_transit"));
    let mut broken = s.clone();
    run(
        &mut broken,
        officer("4600"),
        TransitAction::ConfirmArrival {
            seals_intact: vec![seal("CS001")],
            seals_damaged: vec![],
        },
        "2024-05-07T10:00:00Z",
    )
    .unwrap();
    let err = transit::check_inland_declaration(&broken, cosu, office("4600")).unwrap_err();
    assert_eq!(err.code(), "bill_in_transit");
    assert!(
        err.message_zh().contains("关锁异常"),
        "{}",
        err.message_zh()
    );
    // Arrived: at the destination (or below it) only.
    run(&mut s, officer("4600"), intact(), "2024-05-07T10:00:00Z").unwrap();
    assert_eq!(check(&s, "4600"), Ok(()));
    assert_eq!(check(&s, "4601"), Ok(()));
    assert_eq!(check(&s, "2201"), Err("declaration_at_other_office"));
    // Cleared: the transit no longer binds the bill.
    run(&mut s, officer("4600"), clear(3), "2024-05-07T12:00:00Z").unwrap();
    assert_eq!(check(&s, "2201"), Ok(()));
}
