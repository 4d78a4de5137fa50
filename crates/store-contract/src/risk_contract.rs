//! The contract of [`RiskStore`], run against every backend with [`crate::risk_contract_tests`]
//! (like [`crate::contract`] for [`store::Store`]).

use std::sync::{Arc, Mutex};

use clearance::{
    apply, decide, Action, Actor, Command, CreditClass, EventKind, ExaminationResult, Finding,
    FindingKind, Lane, Status, TaxKind,
};
use domain::codes::{DeclarationNo, Uscc};
use domain::money::Fen;

use crate::contract::{reason, sample_body, shanghai, submit_request, t0};
use store::risk::*;
use store::{AppendRequest, AutomaticReview, DeclarationKey, Store, StoreError};

/// Opens the backend under test; `open` twice gives the same data (reopen).
pub trait RiskHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn analyst() -> Actor {
    Actor::Officer {
        login: "risk-li".into(),
        office: shanghai(),
    }
}

fn risk(s: &dyn Store) -> &dyn RiskStore {
    s.risk_store().expect("the backend has a risk store")
}

fn rules_write(expected_version: u64, text: &str) -> RulesWrite {
    RulesWrite {
        expected_version,
        rules_json: text.to_owned(),
        fingerprint: format!("fp-{expected_version}"),
        actor: analyst(),
        now: t0(),
    }
}

pub fn rule_set_versions_conflict_and_history(h: &dyn RiskHarness) {
    {
        let s = h.open();
        let r = risk(&*s);
        assert_eq!(r.rules().unwrap(), None);
        let v1 = r.put_rules(rules_write(0, "[]")).unwrap();
        assert_eq!((v1.version, v1.actor.as_str()), (1, "officer:2200:risk-li"));
        // A writer who did not see version 1 is refused, and nothing is written.
        let stale = r.put_rules(rules_write(0, "[1]")).unwrap_err();
        assert!(
            matches!(
                stale,
                StoreError::Conflict {
                    expected: 0,
                    actual: 1
                }
            ),
            "{stale:?}"
        );
        let v2 = r.put_rules(rules_write(1, r#"[{"id":"A"}]"#)).unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(r.rules().unwrap().unwrap(), v2);
        let history = r.rules_history(10).unwrap();
        assert_eq!(
            history.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert_eq!(history[1].rules_json, "[]");
        assert_eq!(history[0].at, t0());
        assert_eq!(r.rules_history(0).unwrap_err().code(), "invalid");
    }
    // Durable, and audited in the chain.
    let s = h.open();
    let r = risk(&*s);
    assert_eq!(r.rules().unwrap().unwrap().rules_json, r#"[{"id":"A"}]"#);
    let report = s.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records_checked, 2);
}

fn policy_write(expected_version: u64, seed: &str) -> RiskPolicyWrite {
    RiskPolicyWrite {
        expected_version,
        policy_json: format!(r#"{{"sampling":{{"seed":"{seed}"}}}}"#),
        actor: Actor::Officer {
            login: "hq-risk".into(),
            office: domain::codes::OfficeCode::HQ,
        },
        now: t0(),
    }
}

/// The risk policy (sampling seed and rates, price-check thresholds) is versioned like rule
/// sets: a stale writer is refused and writes nothing, history is newest first, every version
/// survives a reopen, and each write has its audit record (with the policy) in the chain.
pub fn risk_policy_versions_conflict_and_history(h: &dyn RiskHarness) {
    {
        let s = h.open();
        let r = risk(&*s);
        assert_eq!(r.risk_policy().unwrap(), None);
        assert_eq!(r.risk_policy_history(5).unwrap(), vec![]);
        let v1 = r.put_risk_policy(policy_write(0, "seed-2025Q1")).unwrap();
        assert_eq!(
            (v1.version, v1.actor.as_str(), v1.at),
            (1, "officer:0000:hq-risk", t0())
        );
        let stale = r
            .put_risk_policy(policy_write(0, "seed-stale"))
            .unwrap_err();
        assert!(
            matches!(
                stale,
                StoreError::Conflict {
                    expected: 0,
                    actual: 1
                }
            ),
            "{stale:?}"
        );
        // Ahead of the store is stale too.
        let ahead = r.put_risk_policy(policy_write(7, "seed-x")).unwrap_err();
        assert!(
            matches!(
                ahead,
                StoreError::Conflict {
                    expected: 7,
                    actual: 1
                }
            ),
            "{ahead:?}"
        );
        // Not a JSON object: refused before anything is written.
        let mut bad = policy_write(1, "x");
        bad.policy_json = "[1]".into();
        assert_eq!(r.put_risk_policy(bad).unwrap_err().code(), "invalid");
        let mut big = policy_write(1, "x");
        big.policy_json = format!(r#"{{"s":"{}"}}"#, "a".repeat(POLICY_BYTES_MAX));
        assert_eq!(r.put_risk_policy(big).unwrap_err().code(), "invalid");

        let v2 = r.put_risk_policy(policy_write(1, "seed-2025Q2")).unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(r.risk_policy().unwrap().unwrap(), v2);
        let history = r.risk_policy_history(10).unwrap();
        assert_eq!(
            history.iter().map(|v| v.version).collect::<Vec<_>>(),
            vec![2, 1]
        );
        assert!(history[1].policy_json.contains("seed-2025Q1"));
        assert_eq!(r.risk_policy_history(1).unwrap(), vec![v2]);
        assert_eq!(r.risk_policy_history(0).unwrap_err().code(), "invalid");
        // Rule sets are versioned on their own.
        assert_eq!(r.rules().unwrap(), None);
    }
    let s = h.open();
    let r = risk(&*s);
    assert!(r
        .risk_policy()
        .unwrap()
        .unwrap()
        .policy_json
        .contains("seed-2025Q2"));
    let report = s.verify_audit().unwrap();
    assert_eq!((report.records_checked, report.is_intact()), (2, true));
}

pub fn credit_classes_are_set_and_replaced(h: &dyn RiskHarness) {
    let s = h.open();
    let r = risk(&*s);
    let a = Uscc::parse("91110000600037341L").unwrap();
    let b = Uscc::parse("91310115MA1K4Q7B4Y").unwrap();
    r.set_credit_class(a, CreditClass::General, &analyst(), t0())
        .unwrap();
    r.set_credit_class(b, CreditClass::AdvancedCertified, &analyst(), t0())
        .unwrap();
    r.set_credit_class(a, CreditClass::Discredited, &analyst(), t0())
        .unwrap();
    let classes = r.credit_classes().unwrap();
    assert_eq!(
        classes
            .iter()
            .map(|c| (c.uscc, c.class))
            .collect::<Vec<_>>(),
        vec![
            (a, CreditClass::Discredited),
            (b, CreditClass::AdvancedCertified)
        ]
    );
    assert_eq!(classes[0].actor, "officer:2200:risk-li");
    let report = s.verify_audit().unwrap();
    assert_eq!((report.records_checked, report.is_intact()), (3, true));
}

fn entry(kind: &str, value: &str, suspend: bool) -> WatchRow {
    WatchRow {
        kind: kind.into(),
        value: value.into(),
        lane: Lane::Red,
        suspend,
        case: "JS-2025-001".into(),
        office: shanghai(),
        until: chrono::NaiveDate::from_ymd_opt(2025, 12, 31),
    }
}

pub fn watch_entries_are_added_and_removed(h: &dyn RiskHarness) {
    let s = h.open();
    let r = risk(&*s);
    let first = r
        .add_watch_entry(entry("vessel", "EVER GIVEN", true), &analyst(), t0())
        .unwrap();
    let second = r
        .add_watch_entry(entry("bill", "EGLV0000000001", false), &analyst(), t0())
        .unwrap();
    assert_ne!(first, second);
    assert_eq!(
        r.add_watch_entry(entry("planet", "X", false), &analyst(), t0())
            .unwrap_err()
            .code(),
        "invalid"
    );
    assert_eq!(
        r.add_watch_entry(entry("vessel", " ", false), &analyst(), t0())
            .unwrap_err()
            .code(),
        "invalid"
    );
    assert!(r.remove_watch_entry(first, &analyst(), t0()).unwrap());
    assert!(!r.remove_watch_entry(first, &analyst(), t0()).unwrap());
    assert!(!r.remove_watch_entry(9_999, &analyst(), t0()).unwrap());
    let left = r.watch_entries().unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, second);
    assert_eq!(left[0].entry, entry("bill", "EGLV0000000001", false));
    drop(s);
    let s = h.open();
    assert_eq!(risk(&*s).watch_entries().unwrap().len(), 1);
    let report = s.verify_audit().unwrap();
    // Two added, one removed; refused writes leave no record.
    assert_eq!((report.records_checked, report.is_intact()), (3, true));
}

/// A hook that chooses by the number it is given, and remembers it.
fn hook(
    lane: Lane,
    hold: bool,
    assess: bool,
    seen: Arc<Mutex<Vec<DeclarationNo>>>,
) -> AutomaticReview {
    AutomaticReview::AcceptRisk {
        choose: LaneHook(Arc::new(move |no: &DeclarationNo| {
            seen.lock().unwrap().push(*no);
            ChosenLane {
                lane,
                reasons: vec![reason()],
                inspection: (lane == Lane::Red).then(|| "physical".to_owned()),
                explanation: Some(serde_json::json!({ "draw_for": no.to_string() })),
                assessment: assess.then(|| vec![(TaxKind::Vat, Fen(12_345))]),
                hold: hold.then(|| Hold {
                    reason: "watch list hold: vessel EVER GIVEN".into(),
                    case_no: "JS-2025-001".into(),
                }),
                feedback: None,
            }
        })),
    }
}

pub fn risk_review_records_lane_explanation_and_hold_in_one_step(h: &dyn RiskHarness) {
    let s = h.open();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let held = s
        .submit_reviewed(
            submit_request("risk-1", sample_body(1)),
            hook(Lane::Red, true, false, seen.clone()),
        )
        .unwrap();
    let no = held.declaration_no.expect("numbered");
    assert_eq!(seen.lock().unwrap().last(), Some(&no));
    assert_eq!(
        (held.status, held.lane, held.version),
        (Status::Suspended, Some(Lane::Red), 4)
    );
    let events = s.events(held.id).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.kind.name()).collect();
    assert_eq!(
        kinds,
        vec!["submitted", "accepted", "lane_chosen", "suspended"]
    );
    match &events[2].event.kind {
        EventKind::LaneChosen {
            lane,
            inspection,
            explanation,
            ..
        } => {
            assert_eq!(*lane, Lane::Red);
            assert_eq!(inspection.as_deref(), Some("physical"));
            assert_eq!(
                explanation.as_ref().unwrap()["draw_for"],
                no.to_string().as_str()
            );
        }
        other => panic!("expected lane_chosen, got {other:?}"),
    }
    match &events[3].event.kind {
        EventKind::Suspended { case_no, .. } => assert_eq!(case_no, "JS-2025-001"),
        other => panic!("expected suspended, got {other:?}"),
    }
    let d = s.load(DeclarationKey::Id(held.id)).unwrap().unwrap();
    assert_eq!(d.state.suspended_from, Some(Status::Inspection));

    // Green with an assessment: notices numbered from the number the hook saw.
    let green = s
        .submit_reviewed(
            submit_request("risk-2", sample_body(2)),
            hook(Lane::Green, false, true, seen.clone()),
        )
        .unwrap();
    assert_eq!(green.status, Status::Assessed);
    let notices = s.payment_notices(green.id).unwrap();
    assert_eq!(notices.len(), 1);
    assert_eq!(
        notices[0].notice_no,
        store::notice_no(green.declaration_no.unwrap(), TaxKind::Vat)
    );
    // A retry is answered from the first filing; the hook is not asked again.
    let calls = seen.lock().unwrap().len();
    let again = s
        .submit_reviewed(
            submit_request("risk-2", sample_body(2)),
            hook(Lane::Red, true, false, seen.clone()),
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.status, Status::Assessed);
    assert_eq!(seen.lock().unwrap().len(), calls);
    assert!(s.verify_audit().unwrap().is_intact());
}

pub fn examination_feedback_commits_with_its_events(h: &dyn RiskHarness) {
    let s = h.open();
    let r = risk(&*s);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let filed = s
        .submit_reviewed(
            submit_request("fb-1", sample_body(3)),
            hook(Lane::Red, false, false, seen),
        )
        .unwrap();
    let no = filed.declaration_no.unwrap();
    let row = FeedbackRow {
        declaration_no: no,
        lane: Lane::Red,
        rules: vec!["UV-8471@2".into()],
        sampled: false,
        price_flagged: true,
        watch_hit: false,
        found: None,
        findings: vec![],
    };
    r.record_decision(
        row.clone(),
        &Actor::System {
            component: "risk".into(),
        },
        t0(),
    )
    .unwrap();
    assert_eq!(r.feedback(10).unwrap(), vec![row.clone()]);

    let d = s.load(DeclarationKey::Id(filed.id)).unwrap().unwrap();
    assert_eq!(d.state.status, Status::Inspection);
    let officer = Actor::Officer {
        login: "zhao".into(),
        office: shanghai(),
    };
    let result = ExaminationResult::Discrepancy {
        findings: vec![Finding {
            kind: FindingKind::Undervaluation,
            field: "items[1].unit_price".into(),
            note: "invoice shows 710".into(),
        }],
    };
    let events = decide(
        &d.state,
        &Command {
            actor: officer,
            action: Action::RecordInspection {
                result: result.clone(),
            },
        },
        t0(),
    )
    .unwrap();
    let exam = Examination {
        declaration_no: no,
        found: true,
        findings: vec![FindingKind::Undervaluation],
    };
    // A stale version writes neither the events nor the feedback.
    let stale = r
        .append_examined(
            AppendRequest {
                id: filed.id,
                expected_version: d.version - 1,
                events: events.clone(),
            },
            exam.clone(),
        )
        .unwrap_err();
    assert_eq!(stale.code(), "version_conflict");
    assert_eq!(r.feedback(10).unwrap()[0].found, None);
    let appended = r
        .append_examined(
            AppendRequest {
                id: filed.id,
                expected_version: d.version,
                events: events.clone(),
            },
            exam,
        )
        .unwrap();
    let expected_state = events.iter().fold(d.state, apply);
    assert_eq!(appended.status, expected_state.status);
    let fb = r.feedback(10).unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(
        (fb[0].found, fb[0].findings.clone(), fb[0].rules.clone()),
        (
            Some(true),
            vec![FindingKind::Undervaluation],
            vec!["UV-8471@2".to_owned()]
        )
    );
    // Nothing released yet: no reference prices to draw from.
    assert!(r.released_bodies(None, 100).unwrap().is_empty());
    assert_eq!(r.feedback(0).unwrap_err().code(), "invalid");
    assert!(s.verify_audit().unwrap().is_intact());
}

/// A red-lane hook that hands the store the decision's feedback row.
fn hook_with_feedback() -> AutomaticReview {
    AutomaticReview::AcceptRisk {
        choose: LaneHook(Arc::new(|no: &DeclarationNo| ChosenLane {
            lane: Lane::Red,
            reasons: vec![reason()],
            inspection: Some("physical".to_owned()),
            explanation: None,
            assessment: None,
            hold: None,
            feedback: Some(FeedbackRow {
                declaration_no: *no,
                lane: Lane::Red,
                rules: vec!["UV-8471@2".into()],
                sampled: false,
                price_flagged: false,
                watch_hit: true,
                found: None,
                findings: vec![],
            }),
        })),
    }
}

pub fn decision_feedback_commits_with_the_filing(h: &dyn RiskHarness) {
    let s = h.open();
    let r = risk(&*s);
    let a = s
        .submit_reviewed(
            submit_request("fbf-1", sample_body(4)),
            hook_with_feedback(),
        )
        .unwrap();
    let no_a = a.declaration_no.unwrap();
    let fb = r.feedback(10).unwrap();
    assert_eq!(fb.len(), 1);
    assert_eq!(
        (
            fb[0].declaration_no,
            fb[0].rules.clone(),
            fb[0].watch_hit,
            fb[0].found
        ),
        (no_a, vec!["UV-8471@2".to_owned()], true, None)
    );
    // Submission, review and feedback: three records of one transaction.
    let report = s.verify_audit().unwrap();
    assert_eq!((report.records_checked, report.is_intact()), (3, true));
    // A retry writes nothing more.
    let again = s
        .submit_reviewed(
            submit_request("fbf-1", sample_body(4)),
            hook_with_feedback(),
        )
        .unwrap();
    assert!(again.replayed);
    assert_eq!(r.feedback(10).unwrap().len(), 1);

    // Filings at once (committed in groups where the backend groups them): a row each, for
    // the number each was given.
    let s: std::sync::Arc<dyn Store> = std::sync::Arc::from(s);
    let handles: Vec<_> = (0..12)
        .map(|i| {
            let s = s.clone();
            std::thread::spawn(move || {
                s.submit_reviewed(
                    submit_request(&format!("fbf-g{i}"), sample_body(10 + i)),
                    hook_with_feedback(),
                )
                .unwrap()
                .declaration_no
                .unwrap()
            })
        })
        .collect();
    let mut numbers: Vec<DeclarationNo> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    numbers.push(no_a);
    numbers.sort();
    let r = risk(&*s);
    let mut recorded: Vec<DeclarationNo> = r
        .feedback(100)
        .unwrap()
        .iter()
        .map(|f| f.declaration_no)
        .collect();
    recorded.sort();
    assert_eq!(recorded, numbers);
    let report = s.verify_audit().unwrap();
    assert_eq!((report.records_checked, report.is_intact()), (39, true));
}

#[macro_export]
macro_rules! risk_contract_tests {
    ($make:expr) => {
        $crate::risk_contract_tests!(@each $make;
            rule_set_versions_conflict_and_history,
            risk_policy_versions_conflict_and_history,
            credit_classes_are_set_and_replaced,
            watch_entries_are_added_and_removed,
            risk_review_records_lane_explanation_and_hold_in_one_step,
            examination_feedback_commits_with_its_events,
            decision_feedback_commits_with_the_filing,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = $make;
                $crate::risk_contract::$name(&harness);
            }
        )*
    };
}
