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
#[macro_export]
macro_rules! outbox_contract_tests {
    ($make:expr) => {
        $crate::outbox_contract_tests!(@each $make;
            outbox_rows_commit_with_the_change,
            outbox_fetch_mark_and_count,
            outbox_is_durable_across_reopen,
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
