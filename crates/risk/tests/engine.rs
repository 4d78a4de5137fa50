//! Decisions: office scope, validity dates, versions, priorities, watch lists and holds, price
//! checks, explanations, replacing state while serving, and the LanePolicy adapter.

mod common;
use std::sync::Arc;

use clearance::{CreditClass, Lane, LaneContext, LanePolicy};
use common::*;
use domain::codes::{CountryCode, HsCode, OfficeCode, UnitCode, Uscc};
use risk::*;

fn full_rule(id: &str, extra: &str, when: &str, lane: &str) -> String {
    format!(
        "rule {id}\n{extra}\n  when {when}\n  lane {lane}\n  reason {id} \"原因{id}\" \"reason {id}\"\nend\n"
    )
}

#[test]
fn scope_is_the_owner_office_and_those_below() {
    // The declaration is at 2233, under 2200, under 0000.
    let d = laptops();
    for (office, applies) in [
        ("0000", true),
        ("2200", true),
        ("2233", true),
        ("2234", false),
        ("5100", false),
        ("5300", false),
    ] {
        let s = state(&full_rule(
            "S",
            &format!("  office {office}\n  valid from 2025-01-01"),
            "origin = \"USA\"",
            "red",
        ));
        assert_eq!(
            fired(&decide(&s, &d)).len(),
            usize::from(applies),
            "office {office}"
        );
    }
    // With a table that puts 2233 under 5100 instead, a 5100 rule applies and a 2200 one not.
    let table = |o: OfficeCode| match o.as_str() {
        "2233" => Some(OfficeCode::parse("5100").unwrap()),
        _ => o.digit_parent(),
    };
    for (office, applies) in [("5100", true), ("2200", false)] {
        let s = state(&full_rule(
            "S",
            &format!("  office {office}\n  valid from 2025-01-01"),
            "origin = \"USA\"",
            "red",
        ));
        let f = facts(CreditClass::General);
        let no = number(1);
        let r = rates();
        let dec = s.decide(&DecisionInput {
            declaration: &d,
            declaration_no: &no,
            enterprise: &f,
            today: day("2025-03-10"),
            offices: &table,
            rates: &r,
        });
        assert_eq!(
            dec.explanation.rules_fired.len(),
            usize::from(applies),
            "office {office}"
        );
    }
}

#[test]
fn validity_dates_are_inclusive() {
    let s = state(&full_rule(
        "V",
        "  office 0000\n  valid 2025-03-01 to 2025-03-31",
        "origin = \"USA\"",
        "red",
    ));
    let d = laptops();
    for (today, applies) in [
        ("2025-02-28", false),
        ("2025-03-01", true),
        ("2025-03-31", true),
        ("2025-04-01", false),
    ] {
        assert_eq!(
            fired(&decide_on(&s, &d, today)).len(),
            usize::from(applies),
            "{today}"
        );
    }
    // Compiled as of a later day, an expired rule is left out.
    let set = RuleSet::parse(&full_rule(
        "V",
        "  office 0000\n  valid 2025-03-01 to 2025-03-31",
        "origin = \"USA\"",
        "red",
    ))
    .unwrap();
    assert_eq!(CompiledRules::compile(&set, day("2025-04-01")).len(), 0);
    assert_eq!(CompiledRules::compile(&set, day("2025-03-31")).len(), 1);
}

#[test]
fn the_highest_version_in_force_replaces_older_ones() {
    let text = [
        full_rule(
            "R",
            "  version 1\n  office 0000\n  valid from 2025-01-01",
            "origin = \"USA\"",
            "yellow",
        ),
        // Version 2 from March: only for laptops, and red.
        full_rule(
            "R",
            "  version 2\n  office 0000\n  valid 2025-03-01 to 2025-06-30",
            "origin = \"USA\" and commodity ^= \"9999\"",
            "red",
        ),
    ]
    .concat();
    let s = state(&text);
    let d = laptops();
    // February: version 1 only.
    let feb = decide_on(&s, &d, "2025-02-15");
    assert_eq!(feb.explanation.rules_fired[0].version, 1);
    assert_eq!(feb.lane, Lane::Yellow);
    // March: version 2 is in force and does not fire; version 1 must not fire either.
    assert!(decide_on(&s, &d, "2025-03-15")
        .explanation
        .rules_fired
        .is_empty());
    // July: version 2 expired, version 1 is back.
    assert_eq!(
        decide_on(&s, &d, "2025-07-01").explanation.rules_fired[0].version,
        1
    );
}

#[test]
fn priorities_decide_then_the_most_intervening_lane() {
    let d = laptops();
    let p = |id: &str, prio: u32, lane: &str| {
        full_rule(
            id,
            &format!("  office 0000\n  valid from 2025-01-01\n  priority {prio}"),
            "origin = \"USA\"",
            lane,
        )
    };
    // Same priority: red beats yellow beats blue beats green.
    let s = state(&[p("A", 10, "yellow"), p("B", 10, "red"), p("C", 10, "blue")].concat());
    let dec = decide(&s, &d);
    assert_eq!(dec.lane, Lane::Red);
    assert_eq!(dec.inspection, Some(InspectionKind::Physical));
    assert_eq!(dec.reasons.len(), 1);
    assert_eq!(dec.reasons[0].code, "B");
    let decisive: Vec<bool> = dec
        .explanation
        .rules_fired
        .iter()
        .map(|r| r.decisive)
        .collect();
    assert_eq!(decisive, vec![false, true, false]);
    // A higher-priority green rule (an exemption) overrides lower-priority red.
    let s = state(&[p("A", 10, "red"), p("W", 50, "green")].concat());
    let dec = decide(&s, &d);
    assert_eq!(dec.lane, Lane::Green);
    assert_eq!(dec.inspection, None);
    assert_eq!(fired(&dec), vec!["A", "W"]);
    // Blue above yellow only by priority; at equal priority yellow wins.
    let s = state(&[p("Y", 10, "yellow"), p("B", 20, "blue")].concat());
    assert_eq!(decide(&s, &d).lane, Lane::Blue);
    let s = state(&[p("Y", 20, "yellow"), p("B", 20, "blue")].concat());
    assert_eq!(decide(&s, &d).lane, Lane::Yellow);
    // Two decisive rules with the same lane both give reasons.
    let s = state(&[p("R1", 10, "red"), p("R2", 10, "red")].concat());
    assert_eq!(decide(&s, &d).reasons.len(), 2);
}

#[test]
fn rule_inspection_kind_and_suspension() {
    let d = laptops();
    let s = state(&full_rule(
        "X",
        "  office 0000\n  valid from 2025-01-01\n  inspection machine\n  suspend",
        "vessel = \"CA986\"",
        "red",
    ));
    let dec = decide(&s, &d);
    assert_eq!(dec.lane, Lane::Red);
    assert_eq!(dec.inspection, Some(InspectionKind::Machine));
    assert!(dec.suspend);
    // A suspension holds even when a higher-priority rule lowers the lane.
    let s = state(
        &[
            full_rule(
                "X",
                "  office 0000\n  valid from 2025-01-01\n  suspend",
                "vessel = \"CA986\"",
                "red",
            ),
            full_rule(
                "G",
                "  office 0000\n  valid from 2025-01-01\n  priority 90",
                "origin = \"USA\"",
                "green",
            ),
        ]
        .concat(),
    );
    let dec = decide(&s, &d);
    assert_eq!(dec.lane, Lane::Green);
    assert!(dec.suspend);
}

#[test]
fn no_rule_means_green_with_a_reason() {
    let dec = decide(&state(""), &laptops());
    assert_eq!(dec.lane, Lane::Green);
    assert!(!dec.suspend);
    assert_eq!(dec.reasons[0].code, "default_green");
    assert_eq!(dec.lane_decision().reasons.len(), 1);
}

fn watch(kind: WatchKind, value: &str, lane: Lane, suspend: bool) -> WatchEntry {
    WatchEntry {
        kind,
        value: value.into(),
        lane,
        suspend,
        case: "JS-2025-007".into(),
        office: OfficeCode::parse("2200").unwrap(),
        until: Some(day("2025-12-31")),
    }
}

#[test]
fn watch_lists_raise_the_lane_and_hold() {
    let d = laptops();
    for (entry, field) in [
        (
            watch(WatchKind::Enterprise, TRADER, Lane::Red, true),
            "trader",
        ),
        (
            watch(WatchKind::OverseasParty, "us1234567890", Lane::Red, true),
            "overseas_party",
        ),
        (
            watch(
                WatchKind::OverseasParty,
                "Example Computers Inc.",
                Lane::Red,
                true,
            ),
            "overseas_party_name",
        ),
        (
            watch(WatchKind::Vessel, "ca986", Lane::Yellow, false),
            "vessel",
        ),
        (
            watch(WatchKind::Bill, "999-12345675", Lane::Red, false),
            "bill_no",
        ),
    ] {
        let mut s = state("");
        s.watch = Arc::new(WatchLists::new(vec![entry.clone()]).unwrap());
        let dec = decide(&s, &d);
        assert_eq!(dec.lane, entry.lane, "{field}");
        assert_eq!(dec.suspend, entry.suspend, "{field}");
        assert_eq!(dec.explanation.watch_hits[0].matched_field, field);
        assert!(dec.reasons[0].message_en.contains("JS-2025-007"));
        // Expired entries no longer apply.
        assert_eq!(decide_on(&s, &d, "2026-01-01").lane, Lane::Green);
    }
    // A rule cannot lower a watch-list lane, whatever its priority.
    let mut s = state(&full_rule(
        "G",
        "  office 0000\n  valid from 2025-01-01\n  priority 999",
        "origin = \"USA\"",
        "green",
    ));
    s.watch = Arc::new(
        WatchLists::new(vec![watch(WatchKind::Vessel, "CA986", Lane::Red, false)]).unwrap(),
    );
    assert_eq!(decide(&s, &d).lane, Lane::Red);
    // Enterprise entries must be valid USCCs.
    assert!(WatchLists::new(vec![watch(WatchKind::Enterprise, "123", Lane::Red, false)]).is_err());
}

/// 50 released laptops from the USA around CNY 2,400–2,600 per unit.
fn laptop_references() -> PriceReferences {
    let key = (
        HsCode::parse("8471300000").unwrap(),
        CountryCode::parse("USA").unwrap(),
        UnitCode::parse("001").unwrap(),
    );
    PriceReferences::from_released((0..50).map(|i| {
        (
            key.0,
            key.1,
            key.2,
            dec("2400") + rust_decimal::Decimal::from(i * 4),
        )
    }))
}

#[test]
fn reference_prices_are_median_and_spread() {
    let refs = laptop_references();
    let r = refs
        .get(&PriceKey {
            commodity: HsCode::parse("8471300000").unwrap(),
            origin: CountryCode::parse("USA").unwrap(),
            unit: UnitCode::parse("001").unwrap(),
        })
        .unwrap();
    assert_eq!(r.observations, 50);
    // 2400, 2404, …, 2596: median (2496 + 2500) / 2 = 2498; deviations 2, 2, 6, 6, …: MAD 50.
    assert_eq!(r.median_cny, dec("2498"));
    assert_eq!(r.mad_cny, dec("50"));
    assert_eq!(r.p25_cny, dec("2449"));
    assert_eq!(r.p75_cny, dec("2547"));
    let r = PriceReference::from_prices(vec![dec("3"), dec("1"), dec("2")]).unwrap();
    assert_eq!((r.median_cny, r.mad_cny), (dec("2"), dec("1")));
    assert!(PriceReference::from_prices(vec![]).is_none());
}

#[test]
fn price_checks_catch_planted_undervaluation() {
    let mut s = state("");
    s.prices = Arc::new(laptop_references());
    // Fair prices (USD 330–360 ≈ CNY 2,343–2,556) pass; USD 100 (CNY 710, 28 % of median) is caught.
    for usd in ["330", "350", "360"] {
        let d = declaration(vec![item(1, "8471300000", "USA", "100", usd, "USD")]);
        let decision = decide(&s, &d);
        assert_eq!(decision.lane, Lane::Green, "USD {usd}");
        assert!(decision.explanation.price_findings.is_empty());
    }
    let d = declaration(vec![
        item(1, "8471300000", "USA", "100", "350", "USD"),
        item(2, "8471300000", "USA", "100", "100", "USD"),
        item(3, "8471300000", "JPN", "100", "1", "USD"),
    ]);
    let decision = decide(&s, &d);
    assert_eq!(decision.lane, Lane::Yellow);
    assert_eq!(decision.inspection, Some(InspectionKind::Document));
    let f = &decision.explanation.price_findings;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].item_no, 2);
    assert_eq!(f[0].unit_price_cny, dec("710"));
    assert_eq!(f[0].percent_of_median, dec("28.4"));
    // Threshold: min(0.5 × 2498, 2498 − 3.5 × 1.4826 × 50) = 1249.
    assert_eq!(f[0].threshold_cny, dec("1249"));
    assert!(
        decision.reasons[0]
            .message_en
            .contains("CNY 710 is 28.4% of the reference median CNY 2498"),
        "{}",
        decision.reasons[0].message_en
    );
    // Item 3 (from JPN) has no reference: recorded as unchecked, not flagged.
    assert_eq!(decision.explanation.price_unchecked_items, vec![3]);
    // Too few observations: no judgement.
    let key = (
        HsCode::parse("8471300000").unwrap(),
        CountryCode::parse("USA").unwrap(),
        UnitCode::parse("001").unwrap(),
    );
    s.prices = Arc::new(PriceReferences::from_released(
        (0..5).map(|_| (key.0, key.1, key.2, dec("2500"))),
    ));
    assert_eq!(decide(&s, &d).lane, Lane::Green);
}

#[test]
fn explanation_records_what_fired_with_values() {
    let s = state(&full_rule(
        "UV-8471",
        "  version 3\n  office 2200\n  valid from 2025-01-01\n  priority 40",
        "commodity ^= \"8471\" and origin in [\"USA\", \"JPN\"] and unit_price_cny < 3000",
        "red",
    ));
    let dec = decide(&s, &laptops());
    let r = &dec.explanation.rules_fired[0];
    assert_eq!(
        (r.id.as_str(), r.version, r.priority, r.lane),
        ("UV-8471", 3, 40, Lane::Red)
    );
    assert_eq!(r.item_no, Some(1));
    let values: Vec<String> = r
        .values
        .iter()
        .map(|v| format!("{}={}", v.field, v.value))
        .collect();
    assert_eq!(
        values,
        ["commodity=8471300000", "origin=USA", "unit_price_cny=2485"]
    );
    assert_eq!(dec.reasons[0].message_en, "reason UV-8471 (item 1)");
    assert_eq!(dec.explanation.rule_set.len(), 16);
    assert_eq!(dec.explanation.rules_evaluated, 1);
    assert_eq!(dec.explanation.sampling.credit_class, CreditClass::General);
    // The decision serialises for the officer view.
    let json = serde_json::to_value(&dec).unwrap();
    assert_eq!(
        json["explanation"]["rules_fired"][0]["values"][2]["value"],
        "2485"
    );
}

#[test]
fn state_is_replaced_without_a_restart() {
    let engine = RiskEngine::new(state(""));
    let d = laptops();
    let f = facts(CreditClass::General);
    let no = number(1);
    let r = rates();
    let input = DecisionInput {
        declaration: &d,
        declaration_no: &no,
        enterprise: &f,
        today: day("2025-03-10"),
        offices: &DigitOffices,
        rates: &r,
    };
    let before = engine.snapshot();
    assert_eq!(engine.decide(&input).lane, Lane::Green);
    engine.set_rules(Arc::new(compile(&rule("NEW", "origin = \"USA\"", "red"))));
    assert_eq!(engine.decide(&input).lane, Lane::Red);
    // A decision already holding the old state finishes on it.
    assert_eq!(before.decide(&input).lane, Lane::Green);
    engine.set_watch_lists(Arc::new(
        WatchLists::new(vec![watch(WatchKind::Vessel, "CA986", Lane::Red, true)]).unwrap(),
    ));
    assert!(engine.decide(&input).suspend);
    engine.set_prices(Arc::new(laptop_references()));
    assert_eq!(engine.snapshot().prices.len(), 1);
    let mut p = RiskPolicy::default();
    p.sampling.general = ClassRates {
        red_ppm: 1_000_000,
        yellow_ppm: 0,
    };
    engine.set_policy(Arc::new(p));
    let dec = engine.decide(&input);
    assert!(dec.sampled());
    assert_eq!(
        dec.reasons
            .iter()
            .filter(|r| r.source == Source::Sampling)
            .count(),
        1
    );
}

#[test]
fn lane_policy_adapter_gives_the_same_lane() {
    let s = state(&rule("A", "origin = \"USA\"", "yellow"));
    let no = number(7);
    let r = rates();
    let policy = RiskLanePolicy {
        state: &s,
        offices: &DigitOffices,
        rates: &r,
    };
    let ctx = LaneContext {
        declaration_no: no,
        today: day("2025-03-10"),
    };
    let d = laptops();
    let ld = policy.choose(&ctx, &d, &facts(CreditClass::General));
    assert_eq!(ld.lane, Lane::Yellow);
    assert_eq!(ld.reasons[0].code, "A_reason");
    // The same decision as the engine's, with the inspection kind, hold and explanation.
    let direct = s.decide(&DecisionInput {
        declaration: &d,
        declaration_no: &no,
        enterprise: &facts(CreditClass::General),
        today: day("2025-03-10"),
        offices: &DigitOffices,
        rates: &r,
    });
    assert_eq!(ld.inspection.as_deref(), Some("document"));
    assert!(!ld.suspend);
    assert_eq!(direct.hold(), None);
    let explanation = ld.explanation.expect("the engine explains");
    assert_eq!(explanation["rules_fired"][0]["id"], "A");
    assert_eq!(
        explanation,
        serde_json::to_value(&direct.explanation).unwrap()
    );
    let _ = Uscc::parse(TRADER).unwrap();
}
