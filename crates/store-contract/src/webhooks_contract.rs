//! The contract of webhook subscriptions (issue 18 item 4) every backend passes: a
//! subscription is its owner's alone; the cursor moves forward only after a delivered attempt
//! or past nothing, never back and never under a generation a replay has ended; failures are
//! counted and a subscription disabled when the worker says so, enabled again by its owner;
//! the delivery log reads newest first in pages; deleting removes the log too; every change of
//! an owner has its audit record. Run by [`crate::webhooks_contract_tests`].

use chrono::Duration;
use clearance::Actor;
use domain::codes::Uscc;
use store::webhooks::*;
use store::Store;

use crate::contract::t0;

/// Opens the backend under test (a fresh, empty store each time it is made).
pub trait WebhooksHarness {
    fn open(&self) -> Box<dyn Store>;
}

const A: &str = "91310115MA1K4Q7B4Y";
const B: &str = "91440300MA5FT3XKX8";

fn actor(uscc: &str) -> Actor {
    Actor::Enterprise {
        uscc: Uscc::parse(uscc).unwrap(),
    }
}

fn new(owner: &str, url: &str, start: i64) -> WebhookWrite {
    WebhookWrite::Create {
        webhook: NewWebhook {
            owner: owner.into(),
            url: url.into(),
            events: vec!["released".into(), "accepted".into()],
            format: WebhookFormat::Json,
            secret: "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=".into(),
            start: Position {
                record: start,
                item: 0,
            },
        },
        actor: actor(owner),
        now: t0(),
    }
}

fn attempt(id: i64, event: &str, seq: i64, minutes: i64, status: Option<u16>) -> DeliveryAttempt {
    DeliveryAttempt {
        webhook_id: id,
        event_id: event.into(),
        seq,
        at: t0() + Duration::minutes(minutes),
        status_code: status,
        error: match status {
            Some(s) if (200..300).contains(&s) => None,
            Some(s) => Some(format!("status {s}")),
            None => Some("timed out".into()),
        },
        duration_ms: 12,
    }
}

fn hooks(store: &dyn Store) -> &dyn WebhookStore {
    store.webhook_store().expect("the backend stores webhooks")
}

fn pos(record: i64, item: u32) -> Position {
    Position { record, item }
}

/// Created with its settings and secret; listed to its owner only; bounded per owner;
/// deleted by its owner only, its log with it; every change audited.
pub fn subscriptions_belong_to_their_owner(h: &dyn WebhooksHarness) {
    let store = h.open();
    let w = hooks(store.as_ref());
    let id = w
        .write_webhook(new(A, "https://a.example/hook", 7))
        .unwrap();
    let got = w.webhook(id).unwrap().expect("created");
    assert_eq!(got.owner, A);
    assert_eq!(got.url, "https://a.example/hook");
    assert_eq!(got.events, vec!["released", "accepted"]);
    assert_eq!(got.format, WebhookFormat::Json);
    assert_eq!(got.secret, "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQ=");
    assert_eq!(got.status, WebhookStatus::Active);
    assert_eq!(got.cursor, pos(7, 0));
    assert_eq!((got.failures, got.failing_since), (0, None));
    assert_eq!(got.created_at, t0());
    let other = w.write_webhook(new(B, "http://b.example/", 1)).unwrap();
    assert_eq!(w.webhooks_of(A).unwrap().len(), 1);
    assert_eq!(w.webhooks_of(B).unwrap()[0].id, other);
    assert_eq!(w.all_webhooks().unwrap().len(), 2);

    // Another owner can neither delete, replay nor enable it.
    for write in [
        WebhookWrite::Delete {
            id,
            owner: B.into(),
            actor: actor(B),
            now: t0(),
        },
        WebhookWrite::Replay {
            id,
            owner: B.into(),
            to: pos(1, 0),
            actor: actor(B),
            now: t0(),
        },
        WebhookWrite::Enable {
            id,
            owner: B.into(),
            actor: actor(B),
            now: t0(),
        },
    ] {
        assert_eq!(w.write_webhook(write).unwrap(), 0);
    }
    assert_eq!(w.webhook(id).unwrap().unwrap().cursor, pos(7, 0));

    // A bound per owner.
    for i in 1..WEBHOOKS_PER_OWNER {
        w.write_webhook(new(A, &format!("https://a.example/{i}"), 7))
            .unwrap();
    }
    let err = w
        .write_webhook(new(A, "https://a.example/one-too-many", 7))
        .unwrap_err();
    assert_eq!(err.code(), "invalid", "{err}");
    // A URL that is not http(s) never reaches the table.
    assert!(w.write_webhook(new(A, "ftp://a.example/", 7)).is_err());

    // Deleted by its owner, with its log.
    w.write_webhook(WebhookWrite::Attempt {
        attempt: attempt(id, "1-1", 7, 1, Some(200)),
        generation: 0,
        to: pos(7, 1),
        disable: false,
    })
    .unwrap();
    assert_eq!(
        w.write_webhook(WebhookWrite::Delete {
            id,
            owner: A.into(),
            actor: actor(A),
            now: t0(),
        })
        .unwrap(),
        1
    );
    assert!(w.webhook(id).unwrap().is_none());
    assert!(w.webhook_deliveries(id, None, 10).unwrap().is_empty());
    // An attempt finishing after the deletion logs nothing.
    assert_eq!(
        w.write_webhook(WebhookWrite::Attempt {
            attempt: attempt(id, "1-2", 7, 2, Some(200)),
            generation: 0,
            to: pos(7, 2),
            disable: false,
        })
        .unwrap(),
        0
    );
    assert!(w.webhook_deliveries(id, None, 10).unwrap().is_empty());

    let report = store.verify_audit().unwrap();
    assert!(report.is_intact(), "{report:?}");
    // The changes of owners: 11 creations (one refused, not written) and one deletion.
    assert_eq!(report.records_checked, 2 + WEBHOOKS_PER_OWNER as u64);
    let created = store.audit_record(1).unwrap().expect("the first record");
    assert_eq!(created.action, "webhook.create");
    assert!(
        !created.detail.contains("whsec_"),
        "the secret stays out of the audit chain: {}",
        created.detail
    );
}

/// The cursor: forward after a delivery or past nothing, never back, never under an ended
/// generation; failures counted, disabled on the worker's word, enabled by the owner; the log
/// newest first in pages.
pub fn cursor_failures_and_log(h: &dyn WebhooksHarness) {
    let store = h.open();
    let w = hooks(store.as_ref());
    let id = w
        .write_webhook(new(A, "https://a.example/hook", 10))
        .unwrap();

    // Two failures: counted, from the first one's time; the cursor stays.
    for (m, status) in [(1, Some(500)), (2, None)] {
        let n = w
            .write_webhook(WebhookWrite::Attempt {
                attempt: attempt(id, "5-1", 10, m, status),
                generation: 0,
                to: pos(10, 1),
                disable: false,
            })
            .unwrap();
        assert_eq!(n, 0);
    }
    let got = w.webhook(id).unwrap().unwrap();
    assert_eq!(got.cursor, pos(10, 0));
    assert_eq!(got.failures, 2);
    assert_eq!(got.failing_since, Some(t0() + Duration::minutes(1)));

    // Delivered: the cursor moves, the run of failures ends.
    w.write_webhook(WebhookWrite::Attempt {
        attempt: attempt(id, "5-1", 10, 3, Some(204)),
        generation: 0,
        to: pos(10, 1),
        disable: false,
    })
    .unwrap();
    let got = w.webhook(id).unwrap().unwrap();
    assert_eq!(got.cursor, pos(10, 1));
    assert_eq!((got.failures, got.failing_since), (0, None));

    // Never back.
    let n = w
        .write_webhook(WebhookWrite::Advance {
            id,
            generation: 0,
            to: pos(9, 5),
        })
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(w.webhook(id).unwrap().unwrap().cursor, pos(10, 1));
    // Forward past nothing.
    w.write_webhook(WebhookWrite::Advance {
        id,
        generation: 0,
        to: pos(20, 0),
    })
    .unwrap();
    assert_eq!(w.webhook(id).unwrap().unwrap().cursor, pos(20, 0));

    // A replay moves the cursor back and ends generation 0: a delivery read before it moves
    // nothing.
    w.write_webhook(WebhookWrite::Replay {
        id,
        owner: A.into(),
        to: pos(3, 0),
        actor: actor(A),
        now: t0(),
    })
    .unwrap();
    let got = w.webhook(id).unwrap().unwrap();
    assert_eq!((got.cursor, got.generation), (pos(3, 0), 1));
    w.write_webhook(WebhookWrite::Attempt {
        attempt: attempt(id, "9-1", 25, 4, Some(200)),
        generation: 0,
        to: pos(25, 1),
        disable: false,
    })
    .unwrap();
    assert_eq!(w.webhook(id).unwrap().unwrap().cursor, pos(3, 0));
    w.write_webhook(WebhookWrite::Attempt {
        attempt: attempt(id, "2-1", 3, 5, Some(200)),
        generation: 1,
        to: pos(3, 1),
        disable: false,
    })
    .unwrap();
    assert_eq!(w.webhook(id).unwrap().unwrap().cursor, pos(3, 1));

    // Disabled on the worker's word, enabled by the owner.
    w.write_webhook(WebhookWrite::Attempt {
        attempt: attempt(id, "2-2", 3, 6, Some(503)),
        generation: 1,
        to: pos(3, 2),
        disable: true,
    })
    .unwrap();
    let got = w.webhook(id).unwrap().unwrap();
    assert_eq!(got.status, WebhookStatus::Disabled);
    assert_eq!(got.failures, 1);
    w.write_webhook(WebhookWrite::Enable {
        id,
        owner: A.into(),
        actor: actor(A),
        now: t0(),
    })
    .unwrap();
    let got = w.webhook(id).unwrap().unwrap();
    assert_eq!(
        (got.status, got.failures, got.failing_since),
        (WebhookStatus::Active, 0, None)
    );

    // The log: every attempt, newest first, in pages.
    let all = w.webhook_deliveries(id, None, 50).unwrap();
    assert_eq!(all.len(), 6);
    let events: Vec<&str> = all.iter().map(|d| d.attempt.event_id.as_str()).collect();
    assert_eq!(events, ["2-2", "2-1", "9-1", "5-1", "5-1", "5-1"][..]);
    assert!(all.windows(2).all(|p| p[0].id > p[1].id));
    let timed_out = &all[4];
    assert_eq!(timed_out.attempt.status_code, None);
    assert_eq!(timed_out.attempt.error.as_deref(), Some("timed out"));
    assert!(!timed_out.delivered);
    assert!(all[1].delivered);
    assert_eq!(all[1].attempt.duration_ms, 12);
    assert_eq!(all[1].attempt.at, t0() + Duration::minutes(5));
    let page = w.webhook_deliveries(id, Some(all[2].id), 2).unwrap();
    assert_eq!(
        page.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![all[3].id, all[4].id]
    );
    assert!(w.webhook_deliveries(id, None, 0).is_err());
    assert!(w.webhook_deliveries(id, None, DELIVERIES_MAX + 1).is_err());
}

#[macro_export]
macro_rules! webhooks_contract_tests {
    ($make:expr) => {
        $crate::webhooks_contract_tests!(@each $make;
            subscriptions_belong_to_their_owner,
            cursor_failures_and_log,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                if let Some(harness) = $make {
                    $crate::webhooks_contract::$name(&harness);
                }
            }
        )*
    };
}
