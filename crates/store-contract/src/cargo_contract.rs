//! The contract of [`CargoStore`], run against every backend with [`crate::cargo_contract_tests`]
//! (like [`crate::contract`] for [`store::Store`]).

use cargo_control::{
    transit, Actor, Bill, BillKind, BillNo, GoodsLine, ImoNumber, ManifestAction, ManifestCommand,
    ManifestId, ManifestKind, ManifestLedger, MatchPolicy, MeansOfTransport, SealNo, TransitAction,
    TransitCommand, TransitDeclaration, TransitNo, TransitStatus, Voyage, VoyageNo,
};
use chrono::Duration;
use clearance::{Lane, Status};
use domain::codes::Direction;
use domain::money::Fen;

use crate::contract::{declarant, sample_body, shanghai, submit_request, t0};
use store::cargo::*;
use store::{AppendRequest, AutomaticReview, DeclarationKey, StoreError};

/// Opens the backend under test; `open` twice gives the same data (reopen).
pub trait CargoHarness {
    fn open(&self) -> Box<dyn Ledgers>;
}

fn carrier() -> Actor {
    Actor::Carrier { uscc: declarant() }
}

fn bill(no: &str, packages: u32) -> Bill {
    Bill {
        bill_no: BillNo::parse(no).unwrap(),
        kind: BillKind::Master,
        lines: vec![GoodsLine {
            packages,
            package_type: "CT".into(),
            gross_weight_kg: rust_decimal::Decimal::from(packages * 10),
            description: "laptops".into(),
            containers: vec![],
        }],
    }
}

/// An import manifest filed and arrived, decided on a ledger: its events.
fn arrived(ledger: &mut ManifestLedger, id: &str) -> Vec<cargo_control::ManifestEvent> {
    arrived_with(
        ledger,
        id,
        vec![bill(&format!("{id}-1"), 10), bill(&format!("{id}-2"), 5)],
    )
}

fn arrived_with(
    ledger: &mut ManifestLedger,
    id: &str,
    bills: Vec<Bill>,
) -> Vec<cargo_control::ManifestEvent> {
    let mut events = ledger
        .execute(
            &ManifestCommand {
                actor: carrier(),
                action: ManifestAction::File {
                    manifest_id: ManifestId::parse(id).unwrap(),
                    kind: ManifestKind::Original,
                    voyage: Voyage {
                        means: MeansOfTransport::Vessel {
                            imo: ImoNumber::parse("9074729").unwrap(),
                            name: "EXAMPLE".into(),
                        },
                        voyage_no: VoyageNo::parse("024E").unwrap(),
                        direction: Direction::Import,
                        office: shanghai(),
                    },
                    bills,
                },
            },
            t0(),
        )
        .unwrap();
    events.extend(
        ledger
            .execute(
                &ManifestCommand {
                    actor: carrier(),
                    action: ManifestAction::ReportArrival {
                        manifest_id: ManifestId::parse(id).unwrap(),
                        arrived_at: t0(),
                    },
                },
                t0() + Duration::hours(1),
            )
            .unwrap(),
    );
    events
}

fn replay(store: &dyn Ledgers) -> (ManifestLedger, u64) {
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    let mut seq = 0;
    loop {
        let page = store.manifest_events(seq, 2).unwrap();
        if page.is_empty() {
            return (ledger, seq);
        }
        for e in page {
            assert!(e.seq > seq, "sequence grows");
            seq = e.seq;
            ledger.apply(&e.event);
        }
    }
}

pub fn manifest_log_replays_and_refuses_stale_writes(h: &dyn CargoHarness) {
    let store = h.open();
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    let events = arrived(&mut ledger, "M1");
    let w = store
        .record_manifest(ManifestWrite {
            expected_seq: 0,
            events: events.clone(),
            declarations: vec![],
            outbox: vec![],
        })
        .unwrap();
    assert_eq!(w.last_seq, 2);
    // A writer that has not seen the log is refused, and writes nothing.
    let stale = store.record_manifest(ManifestWrite {
        expected_seq: 0,
        events: events.clone(),
        declarations: vec![],
        outbox: vec![],
    });
    assert!(
        matches!(
            stale,
            Err(StoreError::Conflict {
                expected: 0,
                actual: 2
            })
        ),
        "{stale:?}"
    );
    drop(store);
    // Durable across reopen; replay (in pages) gives the same ledger.
    let store = h.open();
    let (replayed, seq) = replay(&*store);
    assert_eq!(seq, 2);
    let id = ManifestId::parse("M1").unwrap();
    assert_eq!(replayed.manifest(&id), ledger.manifest(&id));
    assert_eq!(replayed.balance(&id), ledger.balance(&id));
    assert!(store.verify_audit().unwrap().is_intact());
    assert!(matches!(
        store.manifest_events(0, 0),
        Err(StoreError::Invalid(_))
    ));
}

pub fn filing_and_match_commit_together(h: &dyn CargoHarness) {
    let store = h.open();
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    store
        .record_manifest(ManifestWrite {
            expected_seq: 0,
            events: arrived(&mut ledger, "M2"),
            declarations: vec![],
            outbox: vec![],
        })
        .unwrap();
    let pending = PendingMatch {
        expected_seq: 2,
        manifest_id: ManifestId::parse("M2").unwrap(),
        bill_no: BillNo::parse("M2-1").unwrap(),
        packages: 10,
        gross_weight_kg: rust_decimal::Decimal::from(100),
    };
    let accept = || AutomaticReview::Accept {
        lane: Lane::Yellow,
        reasons: vec![crate::contract::reason()],
        assessment: None,
    };
    // A stale ledger position: neither the filing nor the match is written.
    let stale = store.submit_matched(
        submit_request("m-0", sample_body(1)),
        accept(),
        Some(PendingMatch {
            expected_seq: 1,
            ..pending.clone()
        }),
    );
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    let listed = store
        .list(
            &store::ListFilter::default(),
            &store::PageRequest {
                after: None,
                limit: 10,
            },
        )
        .unwrap();
    assert!(listed.items.is_empty(), "nothing written on conflict");

    let done = store
        .submit_matched(
            submit_request("m-1", sample_body(1)),
            accept(),
            Some(pending.clone()),
        )
        .unwrap();
    let no = done.filed.declaration_no.expect("accepted");
    let matched = done.matched.expect("match written");
    assert_eq!(matched.seq, 3);
    match &matched.event.kind {
        cargo_control::ManifestEventKind::DeclarationMatched {
            declaration_no,
            packages,
            ..
        } => assert_eq!((*declaration_no, *packages), (no, 10)),
        other => panic!("{other:?}"),
    }
    // A retry returns the first filing and writes no second match.
    let again = store
        .submit_matched(
            submit_request("m-1", sample_body(1)),
            accept(),
            Some(PendingMatch {
                expected_seq: 3,
                ..pending.clone()
            }),
        )
        .unwrap();
    assert!(again.filed.replayed);
    assert_eq!(again.matched, None);
    // A rejected filing writes no match.
    let rejected = store
        .submit_matched(
            submit_request("m-2", sample_body(2)),
            AutomaticReview::Reject {
                problems: vec![clearance::ReviewProblem {
                    field: "bill_no".into(),
                    code: "bill_unknown".into(),
                    message_zh: "提运单不在舱单上".into(),
                    message_en: "bill is on no manifest".into(),
                }],
            },
            Some(PendingMatch {
                expected_seq: 3,
                ..pending
            }),
        )
        .unwrap();
    assert_eq!(rejected.filed.status, Status::Rejected);
    assert_eq!(rejected.matched, None);
    let (replayed, seq) = replay(&*store);
    assert_eq!(seq, 3);
    let entry = replayed.bill(&BillNo::parse("M2-1").unwrap()).unwrap();
    assert_eq!(entry.declared_packages, 10);
    assert!(store.verify_audit().unwrap().is_intact());
}

/// Filings racing on distinct bills of one manifest, all having read the log at the same
/// position (as the clearance service reserves matches before writing): each is written with
/// its match, the matches numbered one after another without gaps or repeats; a filing that
/// read the log before a later non-match event is refused and writes nothing.
pub fn concurrent_filings_are_matched_in_sequence(h: &dyn CargoHarness) {
    const N: usize = 16;
    let store = h.open();
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    let bills = (0..N).map(|i| bill(&format!("M5-{i}"), 10)).collect();
    store
        .record_manifest(ManifestWrite {
            expected_seq: 0,
            events: arrived_with(&mut ledger, "M5", bills),
            declarations: vec![],
            outbox: vec![],
        })
        .unwrap();
    let accept = || AutomaticReview::Accept {
        lane: Lane::Green,
        reasons: vec![crate::contract::reason()],
        assessment: None,
    };
    let pending = |i: usize, expected_seq: u64| PendingMatch {
        expected_seq,
        manifest_id: ManifestId::parse("M5").unwrap(),
        bill_no: BillNo::parse(&format!("M5-{i}")).unwrap(),
        packages: 10,
        gross_weight_kg: rust_decimal::Decimal::from(100),
    };
    let store_ref: &dyn Ledgers = &*store;
    let done: Vec<SubmittedMatched> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                s.spawn(move || {
                    store_ref
                        .submit_matched(
                            submit_request(&format!("cm-{i}"), sample_body(100 + i as u64)),
                            accept(),
                            Some(pending(i, 2)),
                        )
                        .unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut seqs: Vec<u64> = done
        .iter()
        .map(|d| {
            let m = d.matched.as_ref().expect("every filing matched");
            match &m.event.kind {
                cargo_control::ManifestEventKind::DeclarationMatched { declaration_no, .. } => {
                    assert_eq!(Some(*declaration_no), d.filed.declaration_no)
                }
                other => panic!("{other:?}"),
            }
            m.seq
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (3..3 + N as u64).collect::<Vec<_>>());
    // The log replays with every match, in the numbers the answers gave.
    let (replayed, last) = replay(&*store);
    assert_eq!(last, 2 + N as u64);
    let balance = replayed
        .balance(&ManifestId::parse("M5").unwrap())
        .expect("manifest replayed");
    assert!(balance.bills.iter().all(|b| b.declared_packages == 10));

    // Another manifest filed after the log was read does not touch this one: a filing that
    // read the log before it is written with its match.
    let other = arrived(&mut ledger_after(&*store), "M6");
    store
        .record_manifest(ManifestWrite {
            expected_seq: last,
            events: other,
            declarations: vec![],
            outbox: vec![],
        })
        .unwrap();
    let late = store
        .submit_matched(
            submit_request("cm-other", sample_body(998)),
            accept(),
            Some(pending(1, last)),
        )
        .unwrap();
    assert!(late.matched.is_some(), "{late:?}");
    let last = replay(&*store).1;

    // An event on the same manifest that could change the match (an amendment of its bills)
    // after the log was read: that filing is refused.
    let mut again = ledger_after(&*store);
    let amendment = again
        .execute(
            &ManifestCommand {
                actor: carrier(),
                action: ManifestAction::Amend {
                    manifest_id: ManifestId::parse("M5").unwrap(),
                    bills: (0..N).map(|i| bill(&format!("M5-{i}"), 20)).collect(),
                    reason: "packages recounted".into(),
                },
            },
            t0() + Duration::hours(3),
        )
        .unwrap();
    store
        .record_manifest(ManifestWrite {
            expected_seq: last,
            events: amendment,
            declarations: vec![],
            outbox: vec![],
        })
        .unwrap();
    let stale = store.submit_matched(
        submit_request("cm-stale", sample_body(999)),
        accept(),
        Some(pending(2, last)),
    );
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    let listed = store
        .list(
            &store::ListFilter::default(),
            &store::PageRequest {
                after: None,
                limit: 100,
            },
        )
        .unwrap();
    assert_eq!(
        listed.items.len(),
        N + 1,
        "the refused filing wrote nothing"
    );
    assert!(store.verify_audit().unwrap().is_intact());
}

/// The ledger as the store's log replays it.
fn ledger_after(store: &dyn Ledgers) -> ManifestLedger {
    replay(store).0
}

pub fn manifest_and_declaration_events_commit_together(h: &dyn CargoHarness) {
    let store = h.open();
    let mut ledger = ManifestLedger::new(MatchPolicy::default());
    store
        .record_manifest(ManifestWrite {
            expected_seq: 0,
            events: arrived(&mut ledger, "M3"),
            declarations: vec![],
            outbox: vec![],
        })
        .unwrap();
    let filed = store
        .submit_reviewed(
            submit_request("w-1", sample_body(3)),
            AutomaticReview::Accept {
                lane: Lane::Yellow,
                reasons: vec![crate::contract::reason()],
                assessment: None,
            },
        )
        .unwrap();
    let d = store.load(DeclarationKey::Id(filed.id)).unwrap().unwrap();
    let suspend = clearance::decide(
        &d.state,
        &clearance::Command {
            actor: clearance::Actor::AntiSmuggling {
                login: "li".into(),
                office: shanghai(),
            },
            action: clearance::Action::Suspend {
                reason: "case".into(),
                // A suspension stands on an open case (docs/PARTIES.md).
                case_no: crate::parties_contract::open_case(&*store, shanghai(), t0()),
            },
        },
        t0() + Duration::hours(2),
    )
    .unwrap();
    let tally = ledger
        .decide(
            &ManifestCommand {
                actor: Actor::System {
                    component: "tally".into(),
                },
                action: ManifestAction::ReportTally {
                    manifest_id: ManifestId::parse("M3").unwrap(),
                    lines: vec![cargo_control::TallyLine {
                        bill_no: BillNo::parse("M3-1").unwrap(),
                        packages: 9,
                        gross_weight_kg: rust_decimal::Decimal::from(90),
                    }],
                },
            },
            t0() + Duration::hours(2),
        )
        .unwrap();
    // The declaration moved: the manifest event is not written either.
    let stale = store.record_manifest(ManifestWrite {
        expected_seq: 2,
        events: tally.clone(),
        declarations: vec![AppendRequest {
            id: filed.id,
            expected_version: d.version + 1,
            events: suspend.clone(),
        }],
        outbox: vec![],
    });
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    assert_eq!(store.manifest_events(0, 100).unwrap().len(), 2);
    let ok = store
        .record_manifest(ManifestWrite {
            expected_seq: 2,
            events: tally,
            declarations: vec![AppendRequest {
                id: filed.id,
                expected_version: d.version,
                events: suspend,
            }],
            outbox: vec![],
        })
        .unwrap();
    assert_eq!(ok.last_seq, 3);
    assert_eq!(ok.declarations[0].status, Status::Suspended);
    assert!(store.verify_audit().unwrap().is_intact());
}

pub fn transit_decl(no: &str) -> TransitDeclaration {
    TransitDeclaration {
        transit_no: TransitNo::parse(no).unwrap(),
        declarant: declarant(),
        entry_office: shanghai(),
        destination_office: domain::codes::OfficeCode::parse("2233").unwrap(),
        vehicle: MeansOfTransport::Truck {
            plate: cargo_control::TruckPlate::parse("沪A12345").unwrap(),
        },
        seals: vec![SealNo::parse("S1").unwrap()],
        route: vec!["Shanghai".into(), "Suzhou".into()],
        time_limit_hours: 24,
        guarantee: None,
        bills: vec![BillNo::parse("B1").unwrap()],
    }
}

pub fn transits_fold_and_conflict(h: &dyn CargoHarness) {
    let store = h.open();
    let mut state = cargo_control::TransitState::default();
    let declare = transit::decide(
        &state,
        &TransitCommand {
            actor: carrier(),
            action: TransitAction::Declare {
                declaration: transit_decl("T1"),
            },
        },
        t0(),
    )
    .unwrap();
    for e in &declare {
        transit::apply(&mut state, e);
    }
    let no = TransitNo::parse("T1").unwrap();
    let t = store
        .record_transit(TransitWrite {
            transit_no: no,
            expected_version: 0,
            events: declare.clone(),
        })
        .unwrap();
    assert_eq!((t.version, t.state.status), (1, TransitStatus::Declared));
    assert_eq!(t.state, state);
    let again = store.record_transit(TransitWrite {
        transit_no: no,
        expected_version: 0,
        events: declare,
    });
    assert!(matches!(again, Err(StoreError::Conflict { .. })));
    let depart = transit::decide(
        &state,
        &TransitCommand {
            actor: Actor::Officer {
                login: "wang".into(),
                office: shanghai(),
            },
            action: TransitAction::ConfirmDeparture,
        },
        t0() + Duration::hours(1),
    )
    .unwrap();
    store
        .record_transit(TransitWrite {
            transit_no: no,
            expected_version: 1,
            events: depart,
        })
        .unwrap();
    drop(store);
    let store = h.open();
    let loaded = store.load_transit(&no).unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.state.status),
        (2, TransitStatus::Departed)
    );
    let filter = |statuses: Option<Vec<TransitStatus>>, offices: Option<Vec<&str>>| {
        store
            .transits(&TransitFilter {
                statuses,
                declarant: None,
                offices: offices.map(|o| {
                    o.into_iter()
                        .map(|o| domain::codes::OfficeCode::parse(o).unwrap())
                        .collect()
                }),
                after: None,
                limit: 10,
            })
            .unwrap()
            .len()
    };
    assert_eq!(filter(None, None), 1);
    assert_eq!(filter(Some(vec![TransitStatus::Departed]), None), 1);
    assert_eq!(filter(Some(vec![TransitStatus::Arrived]), None), 0);
    assert_eq!(filter(None, Some(vec!["2233"])), 1, "destination office");
    assert_eq!(filter(None, Some(vec!["2201"])), 0);
    assert!(store
        .load_transit(&TransitNo::parse("T9").unwrap())
        .unwrap()
        .is_none());
    assert!(store.verify_audit().unwrap().is_intact());
}

/// Declare transit `no` (and confirm its departure if `depart`), as a carrier would.
fn declare_transit(store: &dyn Ledgers, no: &str, depart: bool) {
    let mut state = cargo_control::TransitState::default();
    let mut version = 0;
    let mut step = |state: &mut cargo_control::TransitState, actor: Actor, action| {
        let events = transit::decide(state, &TransitCommand { actor, action }, t0()).unwrap();
        for e in &events {
            transit::apply(state, e);
        }
        let t = store
            .record_transit(TransitWrite {
                transit_no: TransitNo::parse(no).unwrap(),
                expected_version: version,
                events,
            })
            .unwrap();
        version = t.version;
    };
    let mut decl = transit_decl(no);
    decl.bills = vec![BillNo::parse(&format!("B{no}")).unwrap()];
    step(
        &mut state,
        carrier(),
        TransitAction::Declare { declaration: decl },
    );
    if depart {
        let officer = Actor::Officer {
            login: "wang".into(),
            office: shanghai(),
        };
        step(&mut state, officer, TransitAction::ConfirmDeparture);
    }
}

/// Keyset paging of the transit listing: pages of `limit` after the last number of the page
/// before give every selected transit exactly once, in the order of one whole listing, with the
/// filters applied on every page; a cursor that is no transit's number works too.
pub fn transits_page_by_keyset(h: &dyn CargoHarness) {
    let store = h.open();
    let nos = ["T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8"];
    for (i, no) in nos.iter().enumerate() {
        declare_transit(&*store, no, i % 3 != 0);
    }
    drop(store);
    let store = h.open();
    let filter =
        |statuses: Option<Vec<TransitStatus>>, after: Option<&str>, limit: u32| TransitFilter {
            statuses,
            declarant: None,
            offices: None,
            after: after.map(|a| TransitNo::parse(a).unwrap()),
            limit,
        };
    let numbers = |page: &[StoredTransit]| {
        page.iter()
            .map(|t| t.transit_no.to_string())
            .collect::<Vec<_>>()
    };
    let whole = numbers(&store.transits(&filter(None, None, 100)).unwrap());
    let mut sorted: Vec<String> = nos.iter().map(|s| s.to_string()).collect();
    sorted.sort();
    assert_eq!(whole, sorted);
    // By hand: pages of 3, each after the last of the one before.
    let mut paged = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = numbers(&store.transits(&filter(None, after.as_deref(), 3)).unwrap());
        assert!(page.len() <= 3, "{page:?}");
        pages += 1;
        if page.is_empty() {
            break;
        }
        after = page.last().cloned();
        paged.extend(page);
    }
    assert_eq!(paged, whole, "pages join into the whole listing");
    assert_eq!(pages, 4, "3 + 3 + 2, then an empty page");
    // With a status filter on every page (T1, T4, T7 were not departed).
    let departed = Some(vec![TransitStatus::Departed]);
    let first = numbers(&store.transits(&filter(departed.clone(), None, 2)).unwrap());
    assert_eq!(first, ["T2", "T3"]);
    let second = numbers(
        &store
            .transits(&filter(departed.clone(), Some("T3"), 2))
            .unwrap(),
    );
    assert_eq!(second, ["T5", "T6"]);
    // A cursor between numbers: those after it.
    let between = numbers(&store.transits(&filter(None, Some("T45"), 100)).unwrap());
    assert_eq!(between, ["T5", "T6", "T7", "T8"]);
    assert!(store
        .transits(&filter(None, Some("T8"), 100))
        .unwrap()
        .is_empty());
    // The helper reads every page.
    for limit in [1, 2, 3, 100] {
        let mut all = Vec::new();
        for_each_transit(&*store, filter(departed.clone(), None, limit), |t| {
            assert_eq!(t.state.status, TransitStatus::Departed);
            all.push(t.transit_no.to_string());
        })
        .unwrap();
        assert_eq!(all, ["T2", "T3", "T5", "T6", "T8"], "pages of {limit}");
    }
    assert!(matches!(
        store.transits(&filter(None, None, 0)),
        Err(StoreError::Invalid(_))
    ));
}

pub fn postal_outcomes_roundtrip(h: &dyn CargoHarness) {
    let store = h.open();
    let article = |category: u8, value: &str| tax::PostalArticle {
        description: "article".into(),
        category,
        dutiable_value_yuan: value.parse().unwrap(),
        quantity: rust_decimal::Decimal::ONE,
    };
    let list = cargo_control::ParcelList {
        list_no: "L1".into(),
        operator: declarant(),
        office: shanghai(),
        parcels: vec![
            cargo_control::Parcel {
                parcel_no: "P1".into(),
                dispatch_country: "USA".into(),
                addressee_id: "h:1".into(),
                articles: vec![article(3, "200")],
            },
            cargo_control::Parcel {
                parcel_no: "P2".into(),
                dispatch_country: "USA".into(),
                addressee_id: "h:2".into(),
                articles: vec![article(1, "900"), article(1, "300")],
            },
        ],
    };
    let decisions = cargo_control::clear_parcel_list(
        &list,
        t0().date_naive(),
        &tax::TaxPolicy::default(),
        &cargo_control::PostalPolicy::default(),
        &cargo_control::NoScreening,
    )
    .unwrap();
    let ids = store
        .record_postal(PostalWrite {
            records: decisions
                .into_iter()
                .map(|decision| PostalRecord {
                    list_no: Some("L1".into()),
                    operator: Some(declarant()),
                    office: shanghai(),
                    decision,
                })
                .collect(),
            actor: "postal_operator:x".into(),
            now: t0(),
        })
        .unwrap();
    assert_eq!(ids.len(), 2);
    let all = store
        .postal_outcomes(&PostalFilter {
            operator: Some(declarant()),
            limit: 10,
            ..PostalFilter::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].reference, "P2", "newest first");
    assert_eq!(all[0].outcome, "held");
    assert_eq!(all[1].payable_fen, Fen::yuan(100));
    assert_eq!(all[1].decision["outcome"]["outcome"], "released");
    let held = store
        .postal_outcomes(&PostalFilter {
            held_only: true,
            limit: 10,
            ..PostalFilter::default()
        })
        .unwrap();
    assert_eq!(held.len(), 1);
    let elsewhere = store
        .postal_outcomes(&PostalFilter {
            offices: Some(vec![domain::codes::OfficeCode::parse("2233").unwrap()]),
            limit: 10,
            ..PostalFilter::default()
        })
        .unwrap();
    assert!(elsewhere.is_empty());
    assert!(store.verify_audit().unwrap().is_intact());
}

/// One `#[test]` per cargo contract function for a backend; `$make` builds a fresh
/// [`CargoHarness`].
#[macro_export]
macro_rules! cargo_contract_tests {
    ($make:expr) => {
        $crate::cargo_contract_tests!(@each $make;
            manifest_log_replays_and_refuses_stale_writes,
            filing_and_match_commit_together,
            concurrent_filings_are_matched_in_sequence,
            manifest_and_declaration_events_commit_together,
            transits_fold_and_conflict,
            transits_page_by_keyset,
            postal_outcomes_roundtrip,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let Some(harness) = $make else { return };
                $crate::cargo_contract::$name(&harness);
            }
        )*
    };
}
