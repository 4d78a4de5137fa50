//! The contract of the dashboard's daily aggregates (`store::daily`, `Store::daily_stats`):
//! after a mixed day and a half of filings, acceptances, rejections, releases, a new version
//! of a declaration, a cancellation and a suspension, in three offices, the aggregates equal a
//! recount of the declarations themselves (each loaded), for every day range and office
//! filter. Run on every backend by [`crate::daily_contract_tests`].

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use clearance::{decide, Action, Actor, Command, Lane, Status, TaxKind};
use domain::codes::OfficeCode;
use domain::money::Fen;
use serde_json::json;
use store::daily::{bucket_floor, day_of, ClearanceBucket, DailyStats, DayQuery};
use store::*;

use crate::contract::{declarant, reason, sample_body, submit_request, t0};

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait DailyHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn officer(office: &str) -> Actor {
    Actor::Officer {
        login: "zhao".into(),
        office: OfficeCode::parse(office).unwrap(),
    }
}

fn step(store: &dyn Store, id: DeclarationId, actor: Actor, action: Action, at: DateTime<Utc>) {
    let d = store.load(DeclarationKey::Id(id)).unwrap().unwrap();
    let events = decide(&d.state, &Command { actor, action }, at).expect("command fits");
    store
        .append(AppendRequest {
            id,
            expected_version: d.version,
            events,
        })
        .unwrap();
}

/// What the aggregates must say, counted from the declarations.
fn recount(store: &dyn Store, q: &DayQuery) -> DailyStats {
    let mut counts: BTreeMap<(OfficeCode, Status, Option<Lane>, bool), u64> = BTreeMap::new();
    let mut clearance: BTreeMap<(OfficeCode, i64), u64> = BTreeMap::new();
    let mut commodities: BTreeMap<String, u64> = BTreeMap::new();
    let mut partners: BTreeMap<String, u64> = BTreeMap::new();
    let mut page = PageRequest {
        after: None,
        limit: PAGE_MAX,
    };
    loop {
        let got = store.list(&ListFilter::default(), &page).unwrap();
        for d in &got.items {
            let day = day_of(d.submitted_at);
            let office_in = q
                .offices
                .as_ref()
                .is_none_or(|list| list.contains(&d.declaration_office));
            if day < q.from || day >= q.to || !office_in {
                continue;
            }
            let numbered = d.declaration_no.is_some();
            *counts
                .entry((d.declaration_office, d.status, d.lane, numbered))
                .or_default() += 1;
            let full = store.load(DeclarationKey::Id(d.id)).unwrap().unwrap();
            if let (Some(sub), Some(rel)) = (full.state.submitted_at, full.state.released_at) {
                let s = bucket_floor((rel - sub).num_seconds().max(0));
                *clearance.entry((d.declaration_office, s)).or_default() += 1;
            }
            if !numbered {
                continue;
            }
            let body: serde_json::Value = serde_json::from_str(&full.body_json).unwrap();
            if let Some(c) = body["trading_country"].as_str() {
                *partners.entry(c.to_owned()).or_default() += 1;
            }
            for item in body["items"].as_array().into_iter().flatten() {
                if let Some(code) = item["commodity_code"].as_str() {
                    *commodities.entry(code.to_owned()).or_default() += 1;
                }
            }
        }
        match got.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    DailyStats {
        counts: counts
            .into_iter()
            .map(|((office, status, lane, numbered), count)| CountRow {
                office,
                status,
                lane,
                numbered,
                count,
            })
            .collect(),
        clearance: clearance
            .into_iter()
            .map(|((office, floor_seconds), count)| ClearanceBucket {
                office,
                floor_seconds,
                count,
            })
            .collect(),
        commodities: commodities.into_iter().collect(),
        partners: partners.into_iter().collect(),
    }
    .sorted()
}

pub fn daily_aggregates_equal_a_recount(h: &dyn DailyHarness) {
    let store = h.open();
    let s = store.as_ref();
    let mut n = 0_u64;
    let mut file = |office: &str, at: DateTime<Utc>, review: Option<AutomaticReview>| {
        n += 1;
        let mut r = submit_request(&format!("day-{n}"), sample_body(300 + n));
        r.declaration_office = OfficeCode::parse(office).unwrap();
        r.now = at;
        match review {
            Some(review) => store.submit_reviewed(r, review).unwrap().id,
            None => store.submit(r).unwrap().id,
        }
    };
    let green = |notices: Option<Vec<(TaxKind, Fen)>>| {
        Some(AutomaticReview::Accept {
            lane: Lane::Green,
            reasons: vec![reason()],
            assessment: notices,
        })
    };
    let reject = || {
        Some(AutomaticReview::Reject {
            problems: vec![clearance::ReviewProblem {
                field: "items".into(),
                code: "required".into(),
                message_zh: "缺".into(),
                message_en: "missing".into(),
            }],
        })
    };
    let day1 = t0();
    let day2 = t0() + Duration::days(1);

    // Released after 30 min, 2 h 5 min and (filed on day 1) a day later.
    for (office, at, after) in [
        ("2200", day1, Duration::minutes(30)),
        ("2200", day1 + Duration::hours(1), Duration::minutes(125)),
        ("2233", day1 + Duration::hours(2), Duration::days(1)),
        ("5300", day2, Duration::seconds(59)),
    ] {
        let id = file(office, at, green(Some(vec![])));
        step(s, id, officer(office), Action::Release, at + after);
    }
    // Accepted, waiting, rejected, merely submitted, accepted later by an officer.
    file("2200", day1 + Duration::hours(3), green(Some(vec![])));
    file("2233", day1 + Duration::hours(4), green(None));
    file("2200", day1 + Duration::hours(5), reject());
    file("5300", day2 + Duration::hours(1), reject());
    file("2200", day2 + Duration::hours(2), None);
    let later = file("2233", day2 + Duration::hours(3), None);
    store
        .accept(AcceptRequest {
            id: later,
            expected_version: 1,
            actor: officer("2233"),
            now: day2 + Duration::hours(4),
        })
        .unwrap();
    // A yellow-lane filing suspended by the anti-smuggling police.
    let yellow = file(
        "2233",
        day1 + Duration::hours(6),
        Some(AutomaticReview::Accept {
            lane: Lane::Yellow,
            reasons: vec![reason()],
            assessment: None,
        }),
    );
    step(
        s,
        yellow,
        Actor::AntiSmuggling {
            login: "li".into(),
            office: OfficeCode::parse("0000").unwrap(),
        },
        Action::Suspend {
            reason: "documents missing".into(),
            // A suspension stands on an open case (docs/PARTIES.md).
            case_no: crate::parties_contract::open_case(
                s,
                OfficeCode::parse("2200").unwrap(),
                day1,
            ),
        },
        day1 + Duration::hours(7),
    );
    // A cancellation: asked by the declarant, approved by the office.
    let cancelled = file("2200", day1 + Duration::hours(8), green(Some(vec![])));
    step(
        s,
        cancelled,
        Actor::Enterprise { uscc: declarant() },
        Action::RequestCancellation {
            reason: "goods not shipped".into(),
        },
        day1 + Duration::hours(9),
    );
    step(
        s,
        cancelled,
        officer("2200"),
        Action::ApproveRequest {
            reason: "shipment cancelled".into(),
        },
        day1 + Duration::hours(10),
    );
    // A new version whose body has other goods and another trading country.
    let amended = file(
        "2200",
        day1 + Duration::hours(11),
        green(Some(vec![(TaxKind::Duty, Fen(1_000))])),
    );
    let record = clearance::version::VersionRecord {
        version: 2,
        source: clearance::version::VersionSource::OfficerCorrection {
            officer: officer("2200"),
            kind: clearance::version::CorrectionKind::CustomsValue,
            reason: "classification corrected".into(),
        },
        changes: vec![domain::form_path::FieldDifference {
            path: "items[0].commodity_code".into(),
            before: json!("8471300000"),
            after: json!("8517130000"),
        }],
        declaration: json!({
            "trading_country": "DEU",
            "items": [
                {"commodity_code": "8517130000"},
                {"commodity_code": "8517130000"},
                {"commodity_code": "901890000"},
            ],
        }),
        risk_relevant: false,
        risk: None,
        reassessment: None,
    };
    step(
        s,
        amended,
        officer("2200"),
        Action::RecordVersion {
            record: Box::new(record),
        },
        day1 + Duration::hours(12),
    );

    let d1 = day_of(day1);
    let offices =
        |list: &[&str]| Some(list.iter().map(|o| OfficeCode::parse(o).unwrap()).collect());
    for q in [
        DayQuery {
            from: d1,
            to: d1 + 1,
            offices: None,
        },
        DayQuery {
            from: d1 + 1,
            to: d1 + 2,
            offices: None,
        },
        DayQuery {
            from: d1 - 1,
            to: d1 + 3,
            offices: None,
        },
        DayQuery {
            from: d1,
            to: d1 + 2,
            offices: offices(&["2233", "5300"]),
        },
        DayQuery {
            from: d1 + 5,
            to: d1 + 9,
            offices: None,
        },
        DayQuery {
            from: d1,
            to: d1 + 2,
            offices: offices(&[]),
        },
    ] {
        let got = store.daily_stats(&q).unwrap().sorted();
        assert_eq!(got, recount(s, &q), "{q:?}");
    }
    let all = store
        .daily_stats(&DayQuery {
            from: d1,
            to: d1 + 2,
            offices: None,
        })
        .unwrap();
    let total: u64 = all.counts.iter().map(|r| r.count).sum();
    assert_eq!(total, n, "every filing counted once");
    let statuses: Vec<Status> = all.counts.iter().map(|r| r.status).collect();
    for st in [
        Status::Released,
        Status::Rejected,
        Status::Cancelled,
        Status::Suspended,
        Status::Submitted,
    ] {
        assert!(statuses.contains(&st), "{st:?} in {statuses:?}");
    }
    let times: Vec<i64> = all.clearance.iter().map(|b| b.floor_seconds).collect();
    assert!(times.contains(&59), "exact below 100 s: {times:?}");
    assert!(times.contains(&7_500), "2 h 5 min: {times:?}");
    assert!(times.contains(&86_000), "a day, two figures: {times:?}");
    assert!(
        all.partners.iter().any(|(c, n)| c == "DEU" && *n == 1),
        "the new version's country: {:?}",
        all.partners
    );
    assert!(
        all.commodities
            .iter()
            .any(|(c, n)| c == "8517130000" && *n == 2),
        "the new version's goods: {:?}",
        all.commodities
    );
    let err = store
        .daily_stats(&DayQuery {
            from: d1,
            to: d1 + 1,
            offices: Some(vec![OfficeCode::parse("2200").unwrap(); OFFICES_MAX + 1]),
        })
        .unwrap_err();
    assert_eq!(err.code(), "invalid", "{err}");
}

#[macro_export]
macro_rules! daily_contract_tests {
    ($make:expr) => {
        #[test]
        fn daily_aggregates_equal_a_recount() {
            let harness = $make;
            $crate::daily_contract::daily_aggregates_equal_a_recount(&harness);
        }
    };
}
