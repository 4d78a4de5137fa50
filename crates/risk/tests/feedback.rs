//! Feedback: results recorded against decisions, and each rule's hit rate and effect.

mod common;
use clearance::{CreditClass, ExaminationResult, Finding, FindingKind, Lane};
use common::*;
use risk::*;

const FEEDBACK: &str = include_str!("../../../examples/risk/feedback.jsonl");

fn stats<'a>(r: &'a RiskReport, name: &str) -> &'a RuleStats {
    r.rules
        .iter()
        .chain(&r.checks)
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name}"))
}

#[test]
fn hit_rates_and_lift_against_the_random_baseline() {
    let report = FeedbackLog::parse_jsonl(FEEDBACK).unwrap().report();
    assert_eq!(
        (report.decisions, report.examined, report.found),
        (15, 12, 6)
    );
    assert_eq!(report.lanes["red"], 7);
    // Baseline: sampled only, 4 examined, 1 found.
    let b = &report.baseline;
    assert_eq!((b.examined, b.found), (4, 1));
    assert_eq!(b.hit_rate_percent, Some(dec("25.00")));
    let uv = stats(&report, "UV-8471-LOWPRICE@2");
    assert_eq!((uv.fired, uv.examined, uv.found), (3, 3, 2));
    assert_eq!(uv.hit_rate_percent, Some(dec("66.67")));
    assert_eq!(uv.lift, Some(dec("2.67")));
    assert_eq!(uv.findings["undervaluation"], 2);
    let phones = stats(&report, "PHONES-AIR@1");
    assert_eq!(phones.hit_rate_percent, Some(dec("33.33")));
    assert_eq!(phones.lift, Some(dec("1.33")));
    // Fired but never examined (blue lane): no rate.
    let aeo = stats(&report, "AEO-PROGRAMME-91310115@1");
    assert_eq!(
        (aeo.fired, aeo.examined, aeo.hit_rate_percent),
        (1, 0, None)
    );
    let price = stats(&report, "price_check");
    assert_eq!(price.hit_rate_percent, Some(dec("100.00")));
    // The text report lists every rule with its figures.
    let text = report.to_text();
    assert!(text.contains("UV-8471-LOWPRICE@2"), "{text}");
    assert!(text.contains("66.67%"), "{text}");
    assert!(text.contains("2.67×"), "{text}");
}

#[test]
fn records_come_from_decisions_and_examination_results() {
    let s = state(&rule("A", "origin = \"USA\"", "red"));
    let decision = decide(&s, &laptops());
    let mut rec = FeedbackRecord::from_decision(number(1), &decision);
    assert_eq!(rec.rules, vec!["A@1"]);
    assert_eq!(rec.lane, Lane::Red);
    assert!(!rec.sampled && rec.found.is_none());
    rec.record(&ExaminationResult::Discrepancy {
        findings: vec![Finding {
            kind: FindingKind::Undervaluation,
            field: "items[0].unit_price".into(),
            note: String::new(),
        }],
    });
    assert_eq!(rec.found, Some(true));
    assert_eq!(rec.findings, vec![FindingKind::Undervaluation]);
    let mut conform = FeedbackRecord::from_decision(number(2), &decision);
    conform.record(&ExaminationResult::Conform);
    let log = FeedbackLog {
        records: vec![rec, conform],
    };
    // JSON lines round trip.
    let again = FeedbackLog::parse_jsonl(&log.to_jsonl()).unwrap();
    assert_eq!(again, log);
    let report = again.report();
    let a = stats(&report, "A@1");
    assert_eq!(
        (a.examined, a.found, a.hit_rate_percent),
        (2, 1, Some(dec("50.00")))
    );
    // No random sample examined: no baseline, so no lift.
    assert_eq!(a.lift, None);
    let _ = CreditClass::General;
}

#[test]
fn bad_lines_are_all_reported() {
    let text = "{\"declaration_no\":\"223320251000000001\",\"lane\":\"red\"}\n\n{\"declaration_no\":\"12\",\"lane\":\"red\"}\n{\"declaration_no\":\"223320251000000001\",\"lane\":\"pink\"}\n";
    let e = FeedbackLog::parse_jsonl(text).unwrap_err();
    assert_eq!(e.iter().map(|e| e.line).collect::<Vec<_>>(), vec![3, 4]);
}
