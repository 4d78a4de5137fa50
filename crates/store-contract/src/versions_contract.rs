//! The contract of declaration versions (issue 14) every backend passes: a `Versioned` event
//! makes its declaration the current body in the same transaction, every version stays in the
//! history, its re-assessment's notices join the payment notices and the ones it replaces are
//! marked superseded; a refused version writes nothing. Run by
//! [`crate::versions_contract_tests`].

use chrono::Duration;
use clearance::version::{
    CollectedNotice, Outcome, Reassessment, RefundOrigin, RefundRecord, RefundStatus,
    VersionRecord, VersionSource,
};
use clearance::{decide, Action, Actor, Command, Lane, PaymentNotice, Status, TaxKind};
use domain::money::Fen;
use serde_json::json;

use crate::contract::{pay_on_time, reason, sample_body, shanghai, submit_request, t0};
use store::*;

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait VersionsHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn officer() -> Actor {
    Actor::Officer {
        login: "li".into(),
        office: shanghai(),
    }
}

fn step(store: &dyn Store, id: DeclarationId, actor: Actor, action: Action, m: i64) -> Appended {
    let d = store.load(DeclarationKey::Id(id)).unwrap().unwrap();
    let events = decide(
        &d.state,
        &Command { actor, action },
        t0() + Duration::minutes(m),
    )
    .expect("command fits");
    store
        .append(AppendRequest {
            id,
            expected_version: d.version,
            events,
        })
        .unwrap()
}

/// A paid declaration gets a new version: body replaced, history kept, a supplementary notice
/// issued with the ordinary ones, a refund recorded; an unpaid notice superseded.
pub fn a_version_replaces_the_body_and_issues_its_notices(h: &dyn VersionsHarness) {
    let store = h.open();
    let s = store.submit(submit_request("ver", sample_body(7))).unwrap();
    let acc = store
        .accept(AcceptRequest {
            id: s.id,
            expected_version: 1,
            actor: officer(),
            now: t0(),
        })
        .unwrap();
    let no = acc.declaration_no;
    step(
        store.as_ref(),
        s.id,
        officer(),
        Action::ChooseLane {
            lane: Lane::Green,
            reasons: vec![reason()],
            inspection: None,
            explanation: None,
        },
        1,
    );
    let duty = format!("{no}-duty");
    let vat = format!("{no}-vat");
    step(
        store.as_ref(),
        s.id,
        officer(),
        Action::Assess {
            notices: vec![
                PaymentNotice {
                    notice_no: duty.clone(),
                    tax: TaxKind::Duty,
                    amount_fen: Fen(10_000),
                },
                PaymentNotice {
                    notice_no: vat.clone(),
                    tax: TaxKind::Vat,
                    amount_fen: Fen(20_000),
                },
            ],
        },
        2,
    );
    step(
        store.as_ref(),
        s.id,
        Actor::Bank {
            code: "ICBC".into(),
        },
        pay_on_time("ICBC", &duty, Fen(10_000), "ICBC-1", t0().date_naive()),
        3,
    );
    let before = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    let body = json!({"version": 2, "note": "the typed declaration of version 2"});
    let record = VersionRecord {
        version: 2,
        source: VersionSource::OfficerCorrection {
            officer: officer(),
            kind: clearance::version::CorrectionKind::CustomsValue,
            reason: "undervaluation found at inspection".into(),
        },
        changes: vec![domain::form_path::FieldDifference {
            path: "items[0].unit_price".into(),
            before: json!("350.0000"),
            after: json!("35000.0000"),
        }],
        declaration: body.clone(),
        risk_relevant: true,
        risk: None,
        reassessment: Some(Reassessment {
            decided_on: chrono::NaiveDate::from_ymd_opt(2025, 3, 10).unwrap(),
            lines: Vec::new(),
            notices: vec![CollectedNotice {
                notice: PaymentNotice {
                    notice_no: format!("{no}-vat-V2"),
                    tax: TaxKind::Vat,
                    amount_fen: Fen(15_000),
                },
                outcome: Outcome::Reissued,
                basis: None,
                surcharge_days: None,
                issued_at: None,
            }],
            superseded: vec![vat.clone()],
            superseded_refunds: Vec::new(),
            refunds: vec![RefundRecord {
                refund_no: format!("{no}-duty-R2"),
                tax: TaxKind::Duty,
                amount_fen: Fen(4_000),
                paid_on: chrono::NaiveDate::from_ymd_opt(2025, 3, 10).unwrap(),
                origin: RefundOrigin::CustomsFound,
                last_day: None,
                basis: None,
            }],
        }),
    };
    let a = step(
        store.as_ref(),
        s.id,
        officer(),
        Action::RecordVersion {
            record: Box::new(record.clone()),
        },
        4,
    );
    assert_eq!(a.status, Status::Assessed);
    let d = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&d.body_json).unwrap(),
        body,
        "the version's declaration is the current body"
    );
    assert_eq!(d.state.version_no, 2);
    assert_eq!(d.state.refunds.len(), 1);
    assert_eq!(d.state.refunds[0].status, RefundStatus::Open);
    let history = store.events(s.id).unwrap();
    let versioned: Vec<_> = history
        .iter()
        .filter_map(|e| match &e.event.kind {
            clearance::EventKind::Versioned { record } => Some(record.as_ref().clone()),
            _ => None,
        })
        .collect();
    assert_eq!(versioned, vec![record.clone()], "the version is kept whole");
    assert_eq!(clearance::replay(history.iter().map(|e| &e.event)), d.state);
    let notices = store.payment_notices(s.id).unwrap();
    let by_no = |n: &str| notices.iter().find(|x| x.notice_no == n).unwrap().clone();
    assert!(by_no(&vat).superseded_at.is_some());
    assert!(by_no(&duty).superseded_at.is_none() && by_no(&duty).paid_at.is_some());
    let new = by_no(&format!("{no}-vat-V2"));
    assert_eq!(
        (new.amount_fen, new.paid_at, new.issued_at),
        (Fen(15_000), None, t0() + Duration::minutes(4))
    );
    // The superseded notice can no longer be paid.
    let refused = decide(
        &d.state,
        &Command {
            actor: Actor::Bank {
                code: "ICBC".into(),
            },
            action: pay_on_time("ICBC", &vat, Fen(15_000), "ICBC-2", t0().date_naive()),
        },
        t0() + Duration::minutes(5),
    )
    .unwrap_err();
    assert_eq!(refused.code(), "notice_superseded");

    // A version whose notice number is taken writes nothing: body, notices and history stay.
    let mut dup = record;
    dup.version = 3;
    dup.declaration = json!({"version": 3});
    if let Some(r) = dup.reassessment.as_mut() {
        r.superseded.clear();
        r.refunds.clear();
        r.notices[0].notice.notice_no = duty.clone();
    }
    let events = vec![clearance::Event {
        schema: clearance::Event::SCHEMA,
        at: t0() + Duration::minutes(6),
        actor: officer(),
        office: Some(shanghai()),
        kind: clearance::EventKind::Versioned {
            record: Box::new(dup),
        },
    }];
    let err = store
        .append(AppendRequest {
            id: s.id,
            expected_version: d.version,
            events,
        })
        .unwrap_err();
    assert_eq!(err.code(), "duplicate", "{err}");
    let after = store.load(DeclarationKey::Id(s.id)).unwrap().unwrap();
    assert_eq!((after.version, &after.body_json), (d.version, &d.body_json));
    assert_eq!(store.payment_notices(s.id).unwrap(), notices);
    let _ = before;
}

#[macro_export]
macro_rules! versions_contract_tests {
    ($make:expr) => {
        $crate::versions_contract_tests!(@each $make;
            a_version_replaces_the_body_and_issues_its_notices,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(harness) = $make {
                    $crate::versions_contract::$name(&harness);
                }
            }
        )*
    };
}
