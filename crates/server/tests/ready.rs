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
