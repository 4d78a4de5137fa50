//! The contract of [`OutboxStore`], run against every backend with
//! [`crate::outbox_contract_tests`] (like [`crate::contract`] for [`store::Store`]).

use clearance::{decide, Action, Actor, Command, Lane};

use crate::contract::{reason, sample_body, submit_request, t0};
use store::outbox::*;
use store::{AcceptRequest, AppendRequest, DeclarationId, DeclarationKey, Store};

/// Opens the backend under test.
pub trait OutboxHarness {
    fn open(&self) -> Box<dyn Store>;
}

fn outbox(s: &dyn Store) -> &dyn OutboxStore {
    s.outbox_store().expect("the backend has an outbox")
}

fn system() -> Actor {
    Actor::System {
        component: "test".into(),
    }
}

fn message(to: &[&str], n: u32) -> OutboxMessage {
    OutboxMessage {
        kind: "declaration_released.v1".into(),
        recipients: to.iter().map(|s| s.to_string()).collect(),
        created_at: t0(),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
    }
}

/// An accepted declaration and the lane choice to append to it.
fn accepted(s: &dyn Store, seq: &str, i: u64) -> (DeclarationId, AppendRequest) {
    let f = s.submit(submit_request(seq, sample_body(i))).unwrap();
    s.accept(AcceptRequest {
        id: f.id,
        expected_version: 1,
        actor: system(),
        now: t0(),
    })
    .unwrap();
    let d = s.load(DeclarationKey::Id(f.id)).unwrap().unwrap();
    let events = decide(
        &d.state,
        &Command {
            actor: system(),
            action: Action::ChooseLane {
                lane: Lane::Green,
                reasons: vec![reason()],
                inspection: None,
                explanation: None,
            },
        },
        t0(),
    )
    .unwrap();
    (
        f.id,
        AppendRequest {
            id: f.id,
            expected_version: d.version,
            events,
        },
    )
}

/// The outbox rows commit with the change or not at all.
pub fn outbox_rows_commit_with_the_change(h: &dyn OutboxHarness) {
    let s = h.open();
    let o = outbox(&*s);
    let (id, req) = accepted(&*s, "ob-1", 1);
    // A stale version: neither the events nor the rows.
    let mut stale = req.clone();
    stale.expected_version -= 1;
    let err = o
        .append_with_outbox(stale, vec![message(&["FOREX"], 0)])
        .unwrap_err();
    assert_eq!(err.code(), "version_conflict");
    assert!(o.fetch_unpublished(0, 10).unwrap().is_empty());
    // Unsorted recipients are refused before anything is written.
    assert!(o
        .append_with_outbox(req.clone(), vec![message(&["TAX", "FOREX"], 0)])
        .is_err());
    assert!(o.fetch_unpublished(0, 10).unwrap().is_empty());
    let before = s.load(DeclarationKey::Id(id)).unwrap().unwrap().version;
    let a = o
        .append_with_outbox(
            req,
            vec![message(&["FOREX"], 1), message(&["FOREX", "TAX"], 2)],
        )
        .unwrap();
    assert_eq!(a.version, before + 1);
    let rows = o.fetch_unpublished(0, 10).unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(rows[1].message, message(&["FOREX", "TAX"], 2));
    assert_eq!(rows[0].published_at, None);
}

/// Fetch after a cursor, per recipient, mark published, acknowledge the feed, count.
pub fn outbox_fetch_mark_and_count(h: &dyn OutboxHarness) {
    let s = h.open();
    let o = outbox(&*s);
    for i in 0..3u32 {
        let (_, req) = accepted(&*s, &format!("ob-c{i}"), 10 + u64::from(i));
        let to: &[&str] = if i == 1 {
            &["FOREX", "TAX"]
        } else {
            &["FOREX"]
        };
        o.append_with_outbox(req, vec![message(to, i)]).unwrap();
    }
    let seqs = |rows: Vec<OutboxRow>| rows.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(o.fetch_unpublished(1, 10).unwrap()), [2, 3]);
    assert_eq!(seqs(o.fetch_unpublished(0, 1).unwrap()), [1]);
    assert_eq!(seqs(o.read_for("TAX", 0, 10).unwrap()), [2]);
    assert_eq!(seqs(o.read_for("FOREX", 1, 10).unwrap()), [2, 3]);
    assert!(o.read_for("COMMERCE", 0, 10).unwrap().is_empty());
    // The newest rows of a recipient start after the cursor; nothing is acknowledged by it.
    assert_eq!(o.recent_cursor("FOREX", 1).unwrap(), 2);
    assert_eq!(o.recent_cursor("FOREX", 2).unwrap(), 1);
    assert_eq!(o.recent_cursor("FOREX", 3).unwrap(), 0);
    assert_eq!(o.recent_cursor("FOREX", 50).unwrap(), 0);
    assert_eq!(o.recent_cursor("TAX", 0).unwrap(), 2);
    assert_eq!(o.recent_cursor("COMMERCE", 1).unwrap(), 0);
    assert_eq!(
        seqs(
            o.read_for("FOREX", o.recent_cursor("FOREX", 1).unwrap(), 10)
                .unwrap()
        ),
        [3]
    );

    o.mark_published(&[1, 2], t0()).unwrap();
    o.mark_published(&[1], t0() + chrono::Duration::seconds(5))
        .unwrap();
    assert_eq!(seqs(o.fetch_unpublished(0, 10).unwrap()), [3]);
    let read = o.read_for("FOREX", 0, 10).unwrap();
    assert_eq!(read[0].published_at, Some(t0()));

    o.ack_feed("FOREX", 2, t0()).unwrap();
    o.ack_feed("FOREX", 1, t0()).unwrap(); // never backwards
    let c = o.counts().unwrap();
    let forex = &c["FOREX"];
    assert_eq!(
        (
            forex.total,
            forex.unpublished,
            forex.acked,
            forex.acked_cursor
        ),
        (3, 1, 2, 2)
    );
    assert_eq!(forex.oldest_unpublished_at, Some(t0()));
    let tax = &c["TAX"];
    assert_eq!((tax.total, tax.unpublished, tax.acked), (1, 0, 0));
    assert_eq!(tax.oldest_unpublished_at, None);
}

/// Sequence numbers survive a restart and are not reused.
pub fn outbox_is_durable_across_reopen(h: &dyn OutboxHarness) {
    {
        let s = h.open();
        let (_, req) = accepted(&*s, "ob-r1", 20);
        outbox(&*s)
            .append_with_outbox(req, vec![message(&["TAX"], 1)])
            .unwrap();
    }
    let s = h.open();
    let (_, req) = accepted(&*s, "ob-r2", 21);
    outbox(&*s)
        .append_with_outbox(req, vec![message(&["TAX"], 2)])
        .unwrap();
    let rows = outbox(&*s).read_for("TAX", 0, 10).unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2]);
}

/// Runs the outbox contract against a backend: `outbox_contract_tests!(make_harness())`.
fn inbound_log(s: &dyn Store) -> &dyn store::inbound::InboundLog {
    s.inbound_log().expect("the backend has an inbound log")
}

fn tag(id: &str, at_s: i64) -> store::inbound::InboundTag {
    store::inbound::InboundTag {
        message_id: id.into(),
        sender: id
            .rsplit_once('-')
            .map(|(s, _)| s.to_owned())
            .unwrap_or_default(),
        kind: "licence_issued.v1".into(),
        created_at: t0(),
        received_at: t0() + chrono::Duration::seconds(at_s),
    }
}

/// An agency's message applied by a write that carries it: the write and the message's row
/// commit together; the same id again writes nothing (the duplicate error); a write that fails
/// leaves no row, so the message can be applied when it comes again.
pub fn inbound_write_commits_with_its_record_once(h: &dyn OutboxHarness) {
    use store::inbound::{carrying, InboundOutcome, DUPLICATE_PREFIX};
    let s = h.open();
    let e = s.eport_store().expect("the backend has an E-Port store");
    let log = inbound_log(&*s);
    let licence = |no: &str| crate::eport_contract::licence(no, "10");
    assert_eq!(log.inbound("COMMERCE-1").unwrap(), None);

    let (r, taken) = carrying(tag("COMMERCE-1", 1), || {
        e.issue_licence(licence("IN-1"), &system(), t0())
    });
    r.unwrap();
    assert!(taken, "the write took the message");
    let row = log.inbound("COMMERCE-1").unwrap().expect("recorded");
    assert_eq!(row.outcome, InboundOutcome::Applied);
    assert_eq!(row.tag, tag("COMMERCE-1", 1));
    assert_eq!(row.problems, None);
    assert!(e.licence("IN-1").unwrap().is_some());

    // The same message again (another licence, as a forged replay would carry): nothing.
    let (r, taken) = carrying(tag("COMMERCE-1", 2), || {
        e.issue_licence(licence("IN-2"), &system(), t0())
    });
    assert!(taken);
    let err = r.unwrap_err();
    assert!(
        matches!(&err, store::StoreError::Duplicate(w) if w == &format!("{DUPLICATE_PREFIX}COMMERCE-1")),
        "{err}"
    );
    assert!(
        e.licence("IN-2").unwrap().is_none(),
        "a duplicate writes nothing"
    );
    assert_eq!(
        log.inbound("COMMERCE-1").unwrap().unwrap().tag,
        tag("COMMERCE-1", 1)
    );

    // A write that fails (the licence number exists) records nothing.
    let (r, _) = carrying(tag("COMMERCE-2", 3), || {
        e.issue_licence(licence("IN-1"), &system(), t0())
    });
    assert!(r.is_err());
    assert_eq!(
        log.inbound("COMMERCE-2").unwrap(),
        None,
        "rolled back with the write"
    );
    // ...and the message applies when it comes again with a write that succeeds.
    let (r, _) = carrying(tag("COMMERCE-2", 4), || {
        e.issue_licence(licence("IN-3"), &system(), t0())
    });
    r.unwrap();
    assert_eq!(
        log.inbound("COMMERCE-2").unwrap().unwrap().outcome,
        InboundOutcome::Applied
    );

    // Writes outside `carrying` carry nothing; the tag does not leak to the next write.
    e.issue_licence(licence("IN-4"), &system(), t0()).unwrap();
    assert_eq!(log.inbound_rows(false, 100).unwrap().len(), 2);

    // Concurrent deliveries of one message: exactly one write is applied.
    let applied = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|sc| {
        for i in 0..6 {
            let (e, applied) = (e, &applied);
            sc.spawn(move || {
                let (r, _) = carrying(tag("COMMERCE-9", 9), || {
                    e.issue_licence(licence(&format!("RACE-{i}")), &system(), t0())
                });
                if r.is_ok() {
                    applied.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    assert_eq!(applied.into_inner(), 1);
    let raced = (0..6)
        .filter(|i| e.licence(&format!("RACE-{i}")).unwrap().is_some())
        .count();
    assert_eq!(raced, 1, "one licence of six racing deliveries");
}

/// A refused message is recorded once with its problems; an id in the log already (applied or
/// refused) is not recorded again; the log lists newest first, refused only on request, and
/// survives reopening.
pub fn inbound_refusals_are_recorded_once_and_listed(h: &dyn OutboxHarness) {
    use store::inbound::{carrying, InboundOutcome, InboundRefusal};
    let s = h.open();
    let log = inbound_log(&*s);
    let e = s.eport_store().expect("the backend has an E-Port store");
    let (r, _) = carrying(tag("SAMR-1", 1), || {
        e.issue_licence(crate::eport_contract::licence("RF-1", "1"), &system(), t0())
    });
    r.unwrap();
    let problems = r#"[{"field":"holder","code":"forbidden","message_zh":"不允许","message_en":"not allowed"}]"#;
    let refusal = |id: &str, at: i64| InboundRefusal {
        tag: tag(id, at),
        problems: problems.into(),
    };
    assert!(log.record_inbound_refused(refusal("TAX-1", 2)).unwrap());
    assert!(
        !log.record_inbound_refused(refusal("TAX-1", 3)).unwrap(),
        "once"
    );
    assert!(
        !log.record_inbound_refused(refusal("SAMR-1", 4)).unwrap(),
        "applied before"
    );
    let row = log.inbound("TAX-1").unwrap().unwrap();
    assert_eq!(row.outcome, InboundOutcome::Refused);
    assert_eq!(row.problems.as_deref(), Some(problems));
    assert_eq!(row.tag, tag("TAX-1", 2));
    assert_eq!(
        log.inbound("SAMR-1").unwrap().unwrap().outcome,
        InboundOutcome::Applied
    );
    // A refused message is never applied afterwards.
    let (r, _) = carrying(tag("TAX-1", 5), || {
        e.issue_licence(crate::eport_contract::licence("RF-2", "1"), &system(), t0())
    });
    assert!(r.is_err());
    assert!(e.licence("RF-2").unwrap().is_none());

    let all: Vec<String> = log
        .inbound_rows(false, 10)
        .unwrap()
        .into_iter()
        .map(|r| r.tag.message_id)
        .collect();
    assert_eq!(all, ["TAX-1", "SAMR-1"], "newest first");
    let refused = log.inbound_rows(true, 10).unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].tag.message_id, "TAX-1");
    assert_eq!(log.inbound_rows(false, 1).unwrap().len(), 1);
}

#[macro_export]
macro_rules! outbox_contract_tests {
    ($make:expr) => {
        $crate::outbox_contract_tests!(@each $make;
            outbox_rows_commit_with_the_change,
            outbox_fetch_mark_and_count,
            outbox_is_durable_across_reopen,
            inbound_write_commits_with_its_record_once,
            inbound_refusals_are_recorded_once_and_listed,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let harness = $make;
                $crate::outbox_contract::$name(&harness);
            }
        )*
    };
}
