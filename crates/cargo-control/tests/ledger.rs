//! The manifest ledger: arrival → declaration → release → write-off, every refusal with its
//! reason, tolerance edges, versioned amendments, the balance report, exits closing exports, and
//! the late declaration fee.

mod common;

use cargo_control::*;
use common::*;
use domain::codes::Direction;
use domain::money::Fen;
use proptest::prelude::*;
use tax::{TaxPolicy, TradingCalendar};

const NOW: &str = "2024-05-07T08:00:00Z";

fn refusal_code(r: Result<Vec<ManifestEvent>, Refusal>) -> &'static str {
    r.expect_err("refused").code()
}

#[test]
fn arrival_then_declaration_then_release_writes_the_bill_off() {
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    ledger
        .execute(
            &file(
                "M1",
                ManifestKind::Original,
                Direction::Import,
                vec![bill("COSU001", 100, "2500")],
            ),
            t("2024-05-05T00:00:00Z"),
        )
        .unwrap();
    let decl = decl_no(Direction::Import, 1);

    // Before the arrival report, no declaration matches.
    let err = ledger
        .match_declaration(
            &bill_no("COSU001"),
            Direction::Import,
            100,
            kg("2500"),
            &MatchPolicy::default(),
        )
        .unwrap_err();
    assert_eq!(err.code(), "manifest_not_arrived");
    assert!(err.message_zh().contains("运抵"));

    ledger
        .execute(&arrive("M1", "2024-05-06T02:00:00Z"), t(NOW))
        .unwrap();
    assert_eq!(
        ledger.manifest(&mid("M1")).unwrap().status,
        ManifestStatus::Arrived
    );

    let ok = ledger
        .match_declaration(
            &bill_no("COSU001"),
            Direction::Import,
            100,
            kg("2510"),
            &MatchPolicy::default(),
        )
        .unwrap();
    assert!(ok.complete);
    assert_eq!(ok.expected_packages, 100);

    let events = ledger
        .execute(&match_cmd("COSU001", decl, 100, "2510"), t(NOW))
        .unwrap();
    assert_eq!(events[0].kind.name(), "declaration_matched");
    assert_eq!(
        ledger.balance(&mid("M1")).unwrap().bills[0].position,
        BillPosition::Declared
    );

    let events = ledger.execute(&write_off("COSU001", decl), t(NOW)).unwrap();
    match &events[0].kind {
        ManifestEventKind::BillWrittenOff {
            packages,
            bill_complete,
            declaration_no,
            ..
        } => {
            assert_eq!(*packages, 100);
            assert!(*bill_complete);
            assert_eq!(*declaration_no, decl);
        }
        other => panic!("unexpected {other:?}"),
    }
    let balance = ledger.balance(&mid("M1")).unwrap();
    assert_eq!(balance.bills[0].position, BillPosition::WrittenOff);
    assert_eq!(balance.bills[0].written_off_packages, 100);
    assert!(balance.undeclared.is_empty());

    // Written off: a second declaration and a second write-off are refused.
    assert_eq!(
        ledger
            .match_declaration(
                &bill_no("COSU001"),
                Direction::Import,
                100,
                kg("2500"),
                &MatchPolicy::default()
            )
            .unwrap_err()
            .code(),
        "already_written_off"
    );
    assert_eq!(
        refusal_code(ledger.decide(&write_off("COSU001", decl), t(NOW))),
        "already_written_off"
    );
}

#[test]
fn each_mismatch_is_refused_with_its_reason() {
    let mut bills = vec![bill("B1", 10, "1000"), bill("MASTER1", 5, "50")];
    bills.push(house("H1", "MASTER1", 5, "50"));
    let mut ledger = arrived_ledger(MatchPolicy::default(), "M1", bills);
    let p = MatchPolicy::default();
    let m = |b: &str, dir, pk, w: &str| ledger.match_declaration(&bill_no(b), dir, pk, kg(w), &p);

    let cases: Vec<(Result<Match, Refusal>, Vec<&str>)> = vec![
        (
            m("NOPE", Direction::Import, 10, "1000"),
            vec!["bill_unknown"],
        ),
        (
            m("B1", Direction::Export, 10, "1000"),
            vec!["direction_mismatch"],
        ),
        (
            m("B1", Direction::Import, 9, "1000"),
            vec!["packages_differ"],
        ),
        (
            m("B1", Direction::Import, 10, "1100"),
            vec!["weight_beyond_tolerance"],
        ),
        (
            m("B1", Direction::Import, 11, "1100"),
            vec!["packages_differ", "weight_beyond_tolerance"],
        ),
        (
            m("MASTER1", Direction::Import, 5, "50"),
            vec!["master_has_house_bills"],
        ),
        (m("H1", Direction::Import, 5, "50"), vec![]),
    ];
    for (i, (result, want)) in cases.into_iter().enumerate() {
        match result {
            Ok(_) => assert!(want.is_empty(), "case {i}: matched, expected {want:?}"),
            Err(r) => {
                assert_eq!(r.reason_codes(), want, "case {i}");
                assert!(!r.message_zh().is_empty() && !r.message_en().is_empty());
                let json = serde_json::to_value(&r).unwrap();
                assert_eq!(json["code"], r.code());
            }
        }
    }
    let both = m("B1", Direction::Import, 11, "1100").unwrap_err();
    assert_eq!(both.code(), "mismatch");
    assert!(
        both.message_en().contains("declared 11, manifest 10"),
        "{}",
        both.message_en()
    );
    assert!(both.message_zh().contains("件数不符"));

    // Commands: a write-off needs a match; a declaration matches once; carriers do not match.
    let decl = decl_no(Direction::Import, 7);
    assert_eq!(
        refusal_code(ledger.decide(&write_off("B1", decl), t(NOW))),
        "declaration_not_matched"
    );
    ledger
        .execute(&match_cmd("B1", decl, 10, "1000"), t(NOW))
        .unwrap();
    assert_eq!(
        refusal_code(ledger.decide(&match_cmd("B1", decl, 10, "1000"), t(NOW))),
        "duplicate_declaration"
    );
    // Everything is reserved by the first declaration: a second one finds nothing left.
    assert_eq!(
        refusal_code(ledger.decide(
            &match_cmd("B1", decl_no(Direction::Import, 8), 10, "1000"),
            t(NOW)
        )),
        "packages_differ"
    );
    let mut by_carrier = match_cmd("H1", decl_no(Direction::Import, 9), 5, "50");
    by_carrier.actor = as_carrier(carrier_a());
    assert_eq!(
        refusal_code(ledger.decide(&by_carrier, t(NOW))),
        "actor_not_permitted"
    );
    let mut wrong_office = match_cmd("H1", decl_no(Direction::Import, 9), 5, "50");
    wrong_office.actor = officer("5100");
    assert_eq!(
        refusal_code(ledger.decide(&wrong_office, t(NOW))),
        "wrong_office"
    );
    let mut parent_office = wrong_office.clone();
    parent_office.actor = officer("2200");
    assert!(
        ledger.decide(&parent_office, t(NOW)).is_ok(),
        "2200 covers 2201"
    );
}

#[test]
fn weight_tolerance_edges() {
    let ledger = arrived_ledger(
        MatchPolicy::default(),
        "M1",
        vec![bill("BIG", 10, "1000"), bill("SMALL", 1, "100")],
    );
    let p = MatchPolicy::default();
    let ok = |b: &str, pk: u64, w: &str, p: &MatchPolicy| {
        ledger
            .match_declaration(&bill_no(b), Direction::Import, pk, kg(w), p)
            .is_ok()
    };
    // 3 % of 1000 kg = 30 kg, more than the 5 kg floor.
    assert!(ok("BIG", 10, "1030", &p));
    assert!(ok("BIG", 10, "970", &p));
    assert!(!ok("BIG", 10, "1030.001", &p));
    assert!(!ok("BIG", 10, "969.999", &p));
    // 3 % of 100 kg = 3 kg: the 5 kg floor applies.
    assert!(ok("SMALL", 1, "105", &p));
    assert!(ok("SMALL", 1, "95", &p));
    assert!(!ok("SMALL", 1, "105.01", &p));
    // Configured to exact.
    let exact = MatchPolicy {
        weight_tolerance_ratio: kg("0"),
        weight_tolerance_kg: kg("0"),
        allow_partial: false,
    };
    assert!(ok("BIG", 10, "1000.000", &exact));
    assert!(!ok("BIG", 10, "1000.001", &exact));
    // From configuration: checked, then used as configured (1 % or 2 kg).
    assert_eq!(MatchPolicy::new(kg("0"), kg("0"), false), Ok(exact.clone()));
    let one_percent = MatchPolicy::new(kg("0.01"), kg("2"), false).unwrap();
    assert!(ok("BIG", 10, "1010", &one_percent));
    assert!(!ok("BIG", 10, "1010.01", &one_percent));
    assert!(ok("SMALL", 1, "102", &one_percent));
    assert!(!ok("SMALL", 1, "102.5", &one_percent));
    for (ratio, floor, field) in [
        ("-0.01", "5", "weight_tolerance_ratio"),
        ("0.51", "5", "weight_tolerance_ratio"),
        ("0.03", "-1", "weight_tolerance_kg"),
        ("0.03", "1000.5", "weight_tolerance_kg"),
    ] {
        let err = MatchPolicy::new(kg(ratio), kg(floor), false).unwrap_err();
        assert_eq!(err.code(), "out_of_range");
        assert!(err.message_en().contains(field), "{err}");
        assert!(err.message_zh().contains(field), "{}", err.message_zh());
    }
    assert!(
        MatchPolicy::new(kg("0.5"), kg("1000"), true).is_ok(),
        "the limits are allowed"
    );
    // Negative weight never matches.
    assert!(!ok("SMALL", 1, "-1", &p));
    let err = ledger
        .match_declaration(&bill_no("BIG"), Direction::Import, 10, kg("1031"), &p)
        .unwrap_err();
    assert_eq!(
        err,
        Refusal::WeightBeyondTolerance {
            bill_no: bill_no("BIG"),
            declared_kg: kg("1031"),
            expected_kg: kg("1000"),
            allowed_kg: kg("30"),
        }
    );
}

#[test]
fn partial_declarations_share_the_bill_in_proportion() {
    let policy = MatchPolicy {
        allow_partial: true,
        ..MatchPolicy::default()
    };
    let mut ledger = arrived_ledger(policy, "M1", vec![bill("B1", 10, "1000")]);
    let (d1, d2) = (decl_no(Direction::Import, 1), decl_no(Direction::Import, 2));
    ledger
        .execute(&match_cmd("B1", d1, 4, "400"), t(NOW))
        .unwrap();
    // 6 left, 600 kg expected.
    assert_eq!(
        refusal_code(ledger.decide(&match_cmd("B1", d2, 7, "600"), t(NOW))),
        "packages_differ"
    );
    assert_eq!(
        refusal_code(ledger.decide(&match_cmd("B1", d2, 6, "700"), t(NOW))),
        "weight_beyond_tolerance"
    );
    ledger
        .execute(&match_cmd("B1", d2, 6, "600"), t(NOW))
        .unwrap();
    let e1 = ledger.execute(&write_off("B1", d1), t(NOW)).unwrap();
    assert!(matches!(
        e1[0].kind,
        ManifestEventKind::BillWrittenOff {
            bill_complete: false,
            ..
        }
    ));
    let e2 = ledger.execute(&write_off("B1", d2), t(NOW)).unwrap();
    assert!(matches!(
        e2[0].kind,
        ManifestEventKind::BillWrittenOff {
            bill_complete: true,
            ..
        }
    ));
    assert_eq!(
        ledger.bill(&bill_no("B1")).unwrap().written_off_packages,
        10
    );
}

#[test]
fn unmatching_frees_the_packages_until_release() {
    let mut ledger = arrived_ledger(MatchPolicy::default(), "M1", vec![bill("B1", 10, "1000")]);
    let d1 = decl_no(Direction::Import, 1);
    ledger
        .execute(&match_cmd("B1", d1, 10, "1000"), t(NOW))
        .unwrap();
    let unmatch = ManifestCommand {
        actor: system(),
        action: ManifestAction::UnmatchDeclaration {
            bill_no: bill_no("B1"),
            declaration_no: d1,
            reason: "declaration withdrawn".into(),
        },
    };
    ledger.execute(&unmatch, t(NOW)).unwrap();
    assert_eq!(
        ledger.balance(&mid("M1")).unwrap().undeclared,
        vec![bill_no("B1")]
    );
    let d2 = decl_no(Direction::Import, 2);
    ledger
        .execute(&match_cmd("B1", d2, 10, "1000"), t(NOW))
        .unwrap();
    ledger.execute(&write_off("B1", d2), t(NOW)).unwrap();
    let mut again = unmatch.clone();
    again.action = ManifestAction::UnmatchDeclaration {
        bill_no: bill_no("B1"),
        declaration_no: d2,
        reason: "too late".into(),
    };
    assert_eq!(
        refusal_code(ledger.decide(&again, t(NOW))),
        "already_written_off"
    );
}

#[test]
fn amendments_are_versions_with_who_when_why() {
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    ledger
        .execute(
            &file(
                "M1",
                ManifestKind::PreLoad,
                Direction::Import,
                vec![bill("B1", 10, "100")],
            ),
            t("2024-05-01T00:00:00Z"),
        )
        .unwrap();
    // Pre-load twice is refused; an original after it is version 2.
    assert_eq!(
        refusal_code(ledger.decide(
            &file(
                "M1",
                ManifestKind::PreLoad,
                Direction::Import,
                vec![bill("B1", 10, "100")]
            ),
            t(NOW)
        )),
        "manifest_exists"
    );
    assert_eq!(
        refusal_code(ledger.decide(
            &file(
                "M2",
                ManifestKind::ArrivalReport,
                Direction::Import,
                vec![bill("X1", 1, "1")]
            ),
            t(NOW)
        )),
        "not_a_filing_kind"
    );
    ledger
        .execute(
            &file(
                "M1",
                ManifestKind::Original,
                Direction::Import,
                vec![bill("B1", 10, "100"), bill("B2", 5, "50")],
            ),
            t("2024-05-02T00:00:00Z"),
        )
        .unwrap();
    let amend = |reason: &str, bills: Vec<Bill>, who: Actor| ManifestCommand {
        actor: who,
        action: ManifestAction::Amend {
            manifest_id: mid("M1"),
            reason: reason.into(),
            bills,
        },
    };
    ledger
        .execute(
            &amend(
                "B2 weighed again",
                vec![bill("B1", 10, "100"), bill("B2", 5, "55")],
                as_carrier(carrier_a()),
            ),
            t("2024-05-03T00:00:00Z"),
        )
        .unwrap();
    let m = ledger.manifest(&mid("M1")).unwrap();
    assert_eq!(m.version(), 3);
    let kinds: Vec<_> = m
        .versions
        .iter()
        .map(|v| (v.version, v.kind, v.reason.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (1, ManifestKind::PreLoad, None),
            (2, ManifestKind::Original, None),
            (
                3,
                ManifestKind::Original,
                Some("B2 weighed again".to_string())
            ),
        ]
    );
    assert_eq!(m.versions[2].at, t("2024-05-03T00:00:00Z"));
    assert_eq!(m.versions[2].actor, as_carrier(carrier_a()));
    // History kept: version 2 still says 50 kg, the index follows version 3.
    assert_eq!(m.versions[1].bills[1].gross_weight_kg(), kg("50"));
    assert_eq!(
        ledger.bill(&bill_no("B2")).unwrap().gross_weight_kg,
        kg("55")
    );

    // Another carrier may not amend; a reason is required.
    assert_eq!(
        refusal_code(ledger.decide(
            &amend("x", vec![bill("B1", 10, "100")], as_carrier(carrier_b())),
            t(NOW)
        )),
        "not_own_manifest"
    );
    assert_eq!(
        refusal_code(ledger.decide(
            &amend(" ", vec![bill("B1", 10, "100")], as_carrier(carrier_a())),
            t(NOW)
        )),
        "missing"
    );

    // After arrival and a declaration, B1 can be neither removed nor reduced below it.
    ledger
        .execute(&arrive("M1", "2024-05-06T00:00:00Z"), t(NOW))
        .unwrap();
    ledger
        .execute(
            &match_cmd("B1", decl_no(Direction::Import, 1), 10, "100"),
            t(NOW),
        )
        .unwrap();
    assert_eq!(
        refusal_code(ledger.decide(
            &amend(
                "drop B1",
                vec![bill("B2", 5, "55")],
                as_carrier(carrier_a())
            ),
            t(NOW)
        )),
        "amendment_below_declared"
    );
    assert_eq!(
        refusal_code(ledger.decide(
            &amend(
                "fewer",
                vec![bill("B1", 9, "90"), bill("B2", 5, "55")],
                as_carrier(carrier_a())
            ),
            t(NOW)
        )),
        "amendment_below_declared"
    );
    // Removing an undeclared bill is an amendment like any other; the index forgets it.
    ledger
        .execute(
            &amend(
                "B2 not loaded",
                vec![bill("B1", 10, "100")],
                as_carrier(carrier_a()),
            ),
            t(NOW),
        )
        .unwrap();
    assert!(ledger.bill(&bill_no("B2")).is_none());
    assert_eq!(ledger.manifest(&mid("M1")).unwrap().version(), 4);
}

#[test]
fn filings_are_checked() {
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    let f = |bills| file("M1", ManifestKind::Original, Direction::Import, bills);
    assert_eq!(refusal_code(ledger.decide(&f(vec![]), t(NOW))), "missing");
    assert_eq!(
        refusal_code(ledger.decide(&f(vec![bill("B1", 1, "1"), bill("B1", 1, "1")]), t(NOW))),
        "duplicate_bill"
    );
    assert_eq!(
        refusal_code(ledger.decide(&f(vec![house("H1", "NOPE", 1, "1")]), t(NOW))),
        "unknown_master_bill"
    );
    let mut empty = bill("B1", 1, "1");
    empty.lines.clear();
    assert_eq!(
        refusal_code(ledger.decide(&f(vec![empty]), t(NOW))),
        "empty_bill"
    );
    let mut negative = bill("B1", 1, "1");
    negative.lines[0].gross_weight_kg = kg("-1");
    assert_eq!(
        refusal_code(ledger.decide(&f(vec![negative]), t(NOW))),
        "negative"
    );
    let mut by_officer = f(vec![bill("B1", 1, "1")]);
    by_officer.actor = officer("2201");
    assert_eq!(
        refusal_code(ledger.decide(&by_officer, t(NOW))),
        "actor_not_permitted"
    );
    ledger
        .execute(&f(vec![bill("B1", 1, "1")]), t(NOW))
        .unwrap();
    assert_eq!(
        refusal_code(ledger.decide(
            &file(
                "M2",
                ManifestKind::Original,
                Direction::Import,
                vec![bill("B1", 1, "1")]
            ),
            t(NOW)
        )),
        "bill_on_other_manifest"
    );
    // Arrival: not for exports, not twice, not by a tally agency.
    ledger
        .execute(&arrive("M1", "2024-05-06T00:00:00Z"), t(NOW))
        .unwrap();
    assert_eq!(
        refusal_code(ledger.decide(&arrive("M1", "2024-05-06T00:00:00Z"), t(NOW))),
        "not_allowed_in_status"
    );
    let mut by_tally = arrive("M1", "2024-05-06T00:00:00Z");
    by_tally.actor = Actor::TallyAgency { uscc: carrier_b() };
    assert!(ledger.decide(&by_tally, t(NOW)).is_err());
    ledger
        .execute(
            &file(
                "E1",
                ManifestKind::PreLoad,
                Direction::Export,
                vec![bill("E-B1", 1, "1")],
            ),
            t(NOW),
        )
        .unwrap();
    assert_eq!(
        refusal_code(ledger.decide(&arrive("E1", "2024-05-06T00:00:00Z"), t(NOW))),
        "wrong_direction"
    );
}

#[test]
fn balance_lists_undeclared_over_declared_and_short() {
    let policy = MatchPolicy {
        allow_partial: true,
        ..MatchPolicy::default()
    };
    let mut ledger = arrived_ledger(
        policy,
        "M1",
        vec![
            bill("DONE", 10, "100"),
            bill("NONE", 10, "100"),
            bill("PART", 10, "100"),
            bill("SHORT", 10, "100"),
            bill("OVER", 10, "100"),
            bill("EXTRA", 10, "100"),
        ],
    );
    let d = |n| decl_no(Direction::Import, n);
    ledger
        .execute(&match_cmd("DONE", d(1), 10, "100"), t(NOW))
        .unwrap();
    ledger.execute(&write_off("DONE", d(1)), t(NOW)).unwrap();
    ledger
        .execute(&match_cmd("PART", d(2), 4, "40"), t(NOW))
        .unwrap();
    ledger
        .execute(&match_cmd("OVER", d(3), 10, "100"), t(NOW))
        .unwrap();
    // The tally finds 8 of SHORT, 7 of OVER (after it was declared for 10), 12 of EXTRA.
    let tally = ManifestCommand {
        actor: Actor::TallyAgency { uscc: carrier_b() },
        action: ManifestAction::ReportTally {
            manifest_id: mid("M1"),
            lines: vec![
                TallyLine {
                    bill_no: bill_no("SHORT"),
                    packages: 8,
                    gross_weight_kg: kg("80"),
                },
                TallyLine {
                    bill_no: bill_no("OVER"),
                    packages: 7,
                    gross_weight_kg: kg("70"),
                },
                TallyLine {
                    bill_no: bill_no("EXTRA"),
                    packages: 12,
                    gross_weight_kg: kg("120"),
                },
            ],
        },
    };
    ledger.execute(&tally, t(NOW)).unwrap();
    let b = ledger.balance(&mid("M1")).unwrap();
    assert_eq!(b.status, ManifestStatus::Tallied);
    let names = |v: &Vec<BillNo>| v.iter().map(|b| b.as_str().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&b.undeclared), vec!["NONE", "PART", "SHORT", "EXTRA"]);
    assert_eq!(names(&b.over_declared), vec!["OVER"]);
    assert_eq!(names(&b.short), vec!["SHORT", "OVER"]);
    assert_eq!(names(&b.over_landed), vec!["EXTRA"]);
    let pos = |n: &str| {
        b.bills
            .iter()
            .find(|x| x.bill_no.as_str() == n)
            .unwrap()
            .position
    };
    assert_eq!(pos("DONE"), BillPosition::WrittenOff);
    assert_eq!(pos("PART"), BillPosition::PartlyDeclared);
    // After the tally, matching uses the tally's figures.
    assert!(ledger
        .match_declaration(
            &bill_no("SHORT"),
            Direction::Import,
            8,
            kg("80"),
            ledger.policy()
        )
        .is_ok());
    assert_eq!(
        ledger
            .match_declaration(
                &bill_no("SHORT"),
                Direction::Import,
                10,
                kg("100"),
                &MatchPolicy::default()
            )
            .unwrap_err()
            .reason_codes(),
        vec!["packages_differ", "weight_beyond_tolerance"]
    );
    assert_eq!(
        refusal_code(ledger.decide(
            &ManifestCommand {
                actor: Actor::TallyAgency { uscc: carrier_b() },
                action: ManifestAction::ReportTally {
                    manifest_id: mid("M1"),
                    lines: vec![TallyLine {
                        bill_no: bill_no("GHOST"),
                        packages: 1,
                        gross_weight_kg: kg("1")
                    }],
                },
            },
            t(NOW)
        )),
        "tally_unknown_bill"
    );
}

#[test]
fn departure_confirms_the_exit_and_closes_export_declarations() {
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    ledger
        .execute(
            &file(
                "E1",
                ManifestKind::PreLoad,
                Direction::Export,
                vec![bill("EXP1", 20, "400"), bill("EXP2", 5, "50")],
            ),
            t(NOW),
        )
        .unwrap();
    let (x1, x2) = (decl_no(Direction::Export, 1), decl_no(Direction::Export, 2));
    // Exports are matched before departure, no arrival needed; an import declaration is refused.
    assert_eq!(
        refusal_code(ledger.decide(
            &match_cmd("EXP1", decl_no(Direction::Import, 1), 20, "400"),
            t(NOW)
        )),
        "direction_mismatch"
    );
    ledger
        .execute(&match_cmd("EXP1", x1, 20, "400"), t(NOW))
        .unwrap();
    ledger.execute(&write_off("EXP1", x1), t(NOW)).unwrap();
    ledger
        .execute(&match_cmd("EXP2", x2, 5, "50"), t(NOW))
        .unwrap(); // never released

    let depart = ManifestCommand {
        actor: as_carrier(carrier_a()),
        action: ManifestAction::ConfirmDeparture {
            manifest_id: mid("E1"),
            departed_at: t("2024-05-08T00:00:00Z"),
        },
    };
    let mut wrong = depart.clone();
    wrong.actor = as_carrier(carrier_b());
    assert_eq!(
        refusal_code(ledger.decide(&wrong, t("2024-05-08T01:00:00Z"))),
        "not_own_manifest"
    );
    let events = ledger.execute(&depart, t("2024-05-08T01:00:00Z")).unwrap();
    assert_eq!(events.len(), 2);
    match &events[0].kind {
        ManifestEventKind::DepartureConfirmed { unreleased, .. } => {
            assert_eq!(unreleased, &vec![x2])
        }
        other => panic!("unexpected {other:?}"),
    }
    let (declaration_no, cmd) = events[1].kind.clearance_command().expect("exit confirmed");
    assert_eq!(declaration_no, x1);
    assert_eq!(
        cmd.action,
        clearance::Action::ConfirmExit {
            manifest_ref: "E1/EXP1".into()
        }
    );
    assert_eq!(cmd.actor.kind(), "system");
    assert!(events[0].kind.clearance_command().is_none());
    assert_eq!(
        ledger.manifest(&mid("E1")).unwrap().status,
        ManifestStatus::Departed
    );

    // After departure: nothing more matches, and the manifest cannot depart twice or be amended.
    assert_eq!(
        refusal_code(ledger.decide(
            &match_cmd("EXP2", decl_no(Direction::Export, 3), 5, "50"),
            t(NOW)
        )),
        "manifest_departed"
    );
    assert_eq!(
        refusal_code(ledger.decide(&depart, t(NOW))),
        "not_allowed_in_status"
    );
    // An import manifest does not depart.
    let mut imports = arrived_ledger(MatchPolicy::default(), "M1", vec![bill("B1", 1, "1")]);
    let mut dep = depart.clone();
    dep.action = ManifestAction::ConfirmDeparture {
        manifest_id: mid("M1"),
        departed_at: t(NOW),
    };
    assert_eq!(
        refusal_code(imports.execute(&dep, t(NOW))),
        "wrong_direction"
    );
}

#[test]
fn the_exit_command_closes_the_declaration_in_clearance() {
    // The clearance side takes the command as it is: replay an export to Released, then decide.
    use clearance::{Command, Event, EventKind, Header};
    let x1 = decl_no(Direction::Export, 1);
    let state = clearance::DeclarationState {
        status: clearance::Status::Released,
        header: Some(Header {
            pre_entry_no: domain::codes::PreEntryNo::new(
                office("2200"),
                2024,
                Direction::Export,
                1,
            )
            .unwrap(),
            client_seq_no: "1".into(),
            declarant: carrier_a(),
            direction: Direction::Export,
            declaration_office: office("2200"),
            entry_exit_office: office("2201"),
            agent: None,
        }),
        declaration_no: Some(x1),
        ..Default::default()
    };
    let kind = ManifestEventKind::ExitConfirmed {
        manifest_id: mid("E1"),
        bill_no: bill_no("EXP1"),
        declaration_no: x1,
    };
    let (_, cmd): (_, Command) = kind.clearance_command().unwrap();
    let events: Vec<Event> = clearance::decide(&state, &cmd, t(NOW)).unwrap();
    assert!(matches!(events[0].kind, EventKind::ExitConfirmed { .. }));
}

#[test]
fn late_bills_pay_from_day_fifteen_with_the_weekend_shift() {
    let cal = TradingCalendar::china();
    let policy = TaxPolicy::default();
    let value = |_: &BillNo| Some(Fen::yuan(200_000));
    // Arrival 2024-05-05T20:00Z is 2024-05-06 04:00 in China: day 14 = Monday 2024-05-20.
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    ledger
        .execute(
            &file(
                "M1",
                ManifestKind::Original,
                Direction::Import,
                vec![bill("LATE", 1, "10"), bill("ONTIME", 1, "10")],
            ),
            t("2024-05-05T00:00:00Z"),
        )
        .unwrap();
    ledger
        .execute(
            &arrive("M1", "2024-05-05T20:00:00Z"),
            t("2024-05-05T21:00:00Z"),
        )
        .unwrap();
    assert_eq!(
        ledger.manifest(&mid("M1")).unwrap().arrival_date(),
        Some(d("2024-05-06"))
    );
    ledger
        .execute(
            &match_cmd("ONTIME", decl_no(Direction::Import, 1), 1, "10"),
            t(NOW),
        )
        .unwrap();

    assert!(
        ledger
            .late_bills(d("2024-05-20"), &cal, &policy, &value, &|_| None)
            .is_empty(),
        "day 14 is free"
    );
    let late = ledger.late_bills(d("2024-05-21"), &cal, &policy, &value, &|_| None);
    assert_eq!(late.len(), 1, "the declared bill is not late");
    assert_eq!(late[0].bill_no, bill_no("LATE"));
    assert_eq!(late[0].days, 1);
    assert_eq!(late[0].deadline, d("2024-05-20"));
    assert_eq!(late[0].office, office("2201"));
    let fee = late[0].fee.as_ref().unwrap();
    assert_eq!(fee.amount_fen, Fen::yuan(100)); // 200,000 × 0.5‰ × 1
    assert_eq!(fee.payable_fen, Fen::yuan(100));
    assert!(!fee.deadline_shifted);
    // Unknown value: listed with the days, no fee.
    let late = ledger.late_bills(d("2024-05-23"), &cal, &policy, &|_| None, &|_| None);
    assert_eq!((late[0].days, late[0].fee.is_none()), (3, true));
    // The fee charged with a declaration dated 2024-05-23.
    let fee = ledger
        .late_declaration_fee(
            &bill_no("LATE"),
            d("2024-05-23"),
            Fen::yuan(200_000),
            None,
            &cal,
            &policy,
        )
        .unwrap();
    assert_eq!((fee.fee.days, fee.fee.payable_fen), (3, Fen::yuan(300)));

    // Arrival on Saturday 2024-06-01: day 14 is Saturday 2024-06-15, moved to Monday 06-17.
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    ledger
        .execute(
            &file(
                "M2",
                ManifestKind::Original,
                Direction::Import,
                vec![bill("WKND", 1, "10")],
            ),
            t("2024-05-30T00:00:00Z"),
        )
        .unwrap();
    ledger
        .execute(
            &arrive("M2", "2024-06-01T02:00:00Z"),
            t("2024-06-01T03:00:00Z"),
        )
        .unwrap();
    assert!(ledger
        .late_bills(d("2024-06-15"), &cal, &policy, &value, &|_| None)
        .is_empty());
    assert!(
        ledger
            .late_bills(d("2024-06-17"), &cal, &policy, &value, &|_| None)
            .is_empty(),
        "shifted deadline"
    );
    let late = ledger.late_bills(d("2024-06-18"), &cal, &policy, &value, &|_| None);
    assert_eq!((late[0].days, late[0].deadline), (1, d("2024-06-17")));
    assert!(late[0].fee.as_ref().unwrap().deadline_shifted);
    // A small value: the fee is computed but below ¥50 is not collected.
    let small = ledger.late_bills(
        d("2024-06-18"),
        &cal,
        &policy,
        &|_| Some(Fen::yuan(10_000)),
        &|_| None,
    );
    let fee = small[0].fee.as_ref().unwrap();
    assert_eq!((fee.amount_fen, fee.payable_fen), (Fen::yuan(5), Fen::ZERO));
}

#[test]
fn carriers_see_their_own_manifests_officers_by_office() {
    let ledger = arrived_ledger(MatchPolicy::default(), "M1", vec![bill("B1", 1, "1")]);
    let m = ledger.manifest(&mid("M1")).unwrap();
    assert!(m.visible_to(&as_carrier(carrier_a())));
    assert!(!m.visible_to(&as_carrier(carrier_b())));
    assert!(m.visible_to(&officer("2201")));
    assert!(m.visible_to(&officer("2200")));
    assert!(m.visible_to(&officer("0000")));
    assert!(!m.visible_to(&officer("5100")));
    assert!(!m.visible_to(&officer("2202")));
}

#[test]
fn events_round_trip_through_json_and_replay_to_the_same_ledger() {
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    let mut log = Vec::new();
    log.extend(
        ledger
            .execute(
                &file(
                    "M1",
                    ManifestKind::Original,
                    Direction::Import,
                    vec![bill("B1", 3, "30")],
                ),
                t(NOW),
            )
            .unwrap(),
    );
    log.extend(
        ledger
            .execute(&arrive("M1", "2024-05-07T00:00:00Z"), t(NOW))
            .unwrap(),
    );
    log.extend(
        ledger
            .execute(
                &match_cmd("B1", decl_no(Direction::Import, 1), 3, "30"),
                t(NOW),
            )
            .unwrap(),
    );
    log.extend(
        ledger
            .execute(&write_off("B1", decl_no(Direction::Import, 1)), t(NOW))
            .unwrap(),
    );
    let json = serde_json::to_string(&log).unwrap();
    let back: Vec<ManifestEvent> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, log);
    let mut replayed = ManifestLedger::new(MatchPolicy::default());
    for e in &back {
        replayed.apply(e);
    }
    assert_eq!(replayed.balance(&mid("M1")), ledger.balance(&mid("M1")));
}

#[derive(Clone, Debug)]
enum Op {
    Match { serial: u32, packages: u64 },
    Unmatch { serial: u32 },
    WriteOff { serial: u32 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (1u32..8, 0u64..15).prop_map(|(serial, packages)| Op::Match { serial, packages }),
        (1u32..8).prop_map(|serial| Op::Unmatch { serial }),
        (1u32..8).prop_map(|serial| Op::WriteOff { serial }),
    ]
}

proptest! {
    /// Whatever declarations come and go, write-offs never exceed the bill's packages, and what
    /// is declared never exceeds the bill either.
    #[test]
    fn write_offs_never_exceed_the_bills_packages(
        bill_packages in 1u32..12,
        partial in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let policy = MatchPolicy { allow_partial: partial, ..MatchPolicy::default() };
        let weight = bill_packages * 10;
        let mut ledger = arrived_ledger(policy, "M1", vec![bill("B1", bill_packages, &weight.to_string())]);
        for op in ops {
            let cmd = match op {
                Op::Match { serial, packages } => {
                    match_cmd("B1", decl_no(Direction::Import, serial), packages, &(packages * 10).to_string())
                }
                Op::Unmatch { serial } => ManifestCommand {
                    actor: system(),
                    action: ManifestAction::UnmatchDeclaration {
                        bill_no: bill_no("B1"),
                        declaration_no: decl_no(Direction::Import, serial),
                        reason: "withdrawn".into(),
                    },
                },
                Op::WriteOff { serial } => write_off("B1", decl_no(Direction::Import, serial)),
            };
            let _ = ledger.execute(&cmd, t(NOW));
            let e = ledger.bill(&bill_no("B1")).unwrap();
            prop_assert!(e.written_off_packages <= e.declared_packages);
            prop_assert!(e.declared_packages <= u64::from(bill_packages));
            let parts: u64 = e.parts.iter().filter(|p| p.written_off).map(|p| p.packages).sum();
            prop_assert_eq!(parts, e.written_off_packages);
        }
    }
}
