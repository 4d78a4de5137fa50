//! `/ready` (issue 15): the store, the exchange bus when one is configured, and a server started
//! on a broken audit chain.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use app::Clearance;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn start(options: server::ServeOptions) -> common::Harness {
    common::Harness::start_with(
        |store, clock| Clearance::new(store, common::refdata(), clock),
        options,
    )
    .await
}

async fn ready(t: &common::Harness) -> (StatusCode, Option<String>, Value) {
    let r = t
        .client
        .get(format!("{}/ready", t.base))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_asks_the_bus_when_one_is_configured() {
    let up = Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let probe: server::BusProbe = Arc::new(move || {
        let up = flag.load(Ordering::SeqCst);
        let answer: std::pin::Pin<
            Box<dyn std::future::Future<Output = Result<(), String>> + Send>,
        > = Box::pin(async move {
            if up {
                Ok(())
            } else {
                Err("NATS connection to nats://secret-host:4222: refused".to_owned())
            }
        });
        answer
    });
    let t = start(server::ServeOptions {
        bus_probe: Some(probe),
        ..server::ServeOptions::default()
    })
    .await;
    assert_eq!(
        ready(&t).await,
        (
            StatusCode::OK,
            None,
            json!({"status": "ready", "bus": "ready"})
        )
    );
    up.store(false, Ordering::SeqCst);
    // The bus's error (hosts, ports) stays in the log.
    assert_eq!(
        ready(&t).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("5".to_owned()),
            json!({"status": "unavailable", "store": "ready", "bus": "unavailable"})
        )
    );
    up.store(true, Ordering::SeqCst);
    assert_eq!(
        ready(&t).await.0,
        StatusCode::OK,
        "recovers without a restart"
    );

    // Without a bus, the store alone.
    let t = start(server::ServeOptions::default()).await;
    assert_eq!(
        ready(&t).await,
        (StatusCode::OK, None, json!({"status": "ready"}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_on_a_broken_audit_chain_is_not_ready() {
    let t = start(server::ServeOptions {
        unhealthy: Some("audit_chain_broken".into()),
        ..server::ServeOptions::default()
    })
    .await;
    assert_eq!(
        ready(&t).await,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Some("60".to_owned()),
            json!({"status": "unavailable", "reason": "audit_chain_broken"})
        )
    );
    // Alive all the same.
    let r = t
        .client
        .get(format!("{}/health", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

/// A store that reads but cannot write is not ready (issue 15 item 4): here the SQLite writer is
/// held off by another connection's write transaction (as a full disk would fail its commit),
/// while reads go on in WAL mode. `/ready`'s write through the writer does not answer in time:
/// 503; once the other transaction ends, ready again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_reads_but_cannot_write_is_not_ready() {
    let t = start(server::ServeOptions::default()).await;
    assert_eq!(ready(&t).await.0, StatusCode::OK);
    let path = t.store.path().to_owned();
    let (hold, held) = std::sync::mpsc::channel::<()>();
    let (locked, is_locked) = std::sync::mpsc::channel::<()>();
    let blocker = std::thread::spawn(move || {
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("BEGIN IMMEDIATE; UPDATE audit_log SET id = id WHERE id = -1;")
            .unwrap();
        locked.send(()).unwrap();
        held.recv().unwrap();
        c.execute_batch("ROLLBACK").unwrap();
    });
    is_locked.recv().unwrap();
    // Reads still answer …
    t.svc.users().probe_store().unwrap();
    // … but not the write: not ready, and the body names no internals.
    let (status, retry, body) = ready(&t).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(retry.as_deref(), Some("5"));
    assert_eq!(
        body,
        json!({"status": "unavailable", "store": "unavailable"})
    );
    hold.send(()).unwrap();
    blocker.join().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (status, _, body) = ready(&t).await;
        if status == StatusCode::OK {
            assert_eq!(body, json!({"status": "ready"}));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not ready again: {status} {body}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    t.svc.users().probe_store_write().unwrap();
}
