//! Transit under customs control: on-time, late and broken-seal arrivals, and the alerts.

mod common;

use cargo_control::transit::{self, alerts};
use cargo_control::*;
use common::*;
use domain::codes::Direction;
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
    let decl = decl_no(Direction::Import, 42);
    run(
        &mut s,
        officer("4601"),
        TransitAction::Clear {
            declaration_no: decl,
        },
        "2024-05-07T12:00:00Z",
    )
    .map(|_| ())
    .expect_err("4601 is not above 4600");
    run(
        &mut s,
        officer("4600"),
        TransitAction::Clear {
            declaration_no: decl,
        },
        "2024-05-07T12:00:00Z",
    )
    .unwrap();
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
    run(
        &mut s,
        officer("4600"),
        TransitAction::Clear {
            declaration_no: decl_no(Direction::Import, 1),
        },
        "2024-05-09T00:00:00Z",
    )
    .unwrap();
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
    let clear = TransitAction::Clear {
        declaration_no: decl_no(Direction::Import, 1),
    };
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
