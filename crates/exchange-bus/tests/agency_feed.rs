//! The agency receiver on customs' signed HTTP feed (no bus): a local feed server pages signed
//! envelopes from an outbox as `GET /api/exchange/feed` does; the receiver verifies, applies
//! each message once into its ledger, keeps its cursor only after the commit, refuses a
//! tampered message, and a restarted receiver asks from where it stopped and applies nothing
//! twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use exchange::message::encode_payload;
use exchange::sign::{Algorithm, KeyId, KeyRing, SigningKey};
use exchange::{Agency, DeclarationReleasedV1, FeedCursor, FeedReader, MemoryOutbox, Outbox};
use exchange_bus::agency::{read_ledger, run_feed, AgencyLedger, FeedSource};
use exchange_bus::applied_log::read_log_counts;
use exchange_bus::ConsumerStats;
use tokio::sync::watch;

const GUARD: Duration = Duration::from_secs(60);

fn agency(s: &str) -> Agency {
    Agency::parse(s).unwrap()
}

fn produce(outbox: &MemoryOutbox, first: u32, n: u32, to: &str) {
    for i in first..first + n {
        let p = DeclarationReleasedV1 {
            declaration_no: domain::codes::DeclarationNo::parse(&format!("2225202610{i:08}"))
                .unwrap(),
            declarant: domain::codes::Uscc::parse("91110000600037341L").unwrap(),
            released_at: Utc::now(),
            items: vec![],
        };
        let (kind, bytes) = encode_payload(&p).unwrap();
        outbox
            .append(kind, vec![agency(to)], Utc::now(), bytes)
            .unwrap();
    }
}

#[derive(Clone)]
struct Feed {
    reader: Arc<FeedReader>,
    /// The cursors asked with, in order.
    asked: Arc<Mutex<Vec<String>>>,
    /// Put into the first page served.
    tampered: Arc<Mutex<Option<serde_json::Value>>>,
}

#[derive(serde::Deserialize)]
struct FeedQuery {
    after: String,
    limit: u32,
}

async fn feed(State(f): State<Feed>, headers: HeaderMap, Query(q): Query<FeedQuery>) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer tax-token") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    f.asked.lock().unwrap().push(q.after.clone());
    let page = f
        .reader
        .read(
            &agency("TAX"),
            FeedCursor::parse(&q.after).unwrap(),
            q.limit,
        )
        .unwrap();
    let mut messages: Vec<serde_json::Value> = page
        .messages
        .iter()
        .map(|e| serde_json::from_slice(&e.to_wire()).unwrap())
        .collect();
    if let Some(t) = f.tampered.lock().unwrap().take() {
        messages.insert(0, t);
    }
    axum::Json(serde_json::json!({"messages": messages, "next": page.next.to_string()}))
        .into_response()
}

async fn wait_applied(path: &std::path::Path, n: u64) {
    let start = tokio::time::Instant::now();
    loop {
        if read_log_counts(path).map(|c| c.applied).unwrap_or(0) >= n {
            return;
        }
        assert!(
            start.elapsed() < GUARD,
            "hang guard: waiting for {n} applied"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_is_applied_once_and_acknowledged_after_the_commit() {
    let customs = Arc::new(
        SigningKey::generate(
            Algorithm::Sm2Sm3,
            agency("CUSTOMS"),
            KeyId::parse("customs-1").unwrap(),
        )
        .unwrap(),
    );
    let ring = Arc::new(KeyRing::parse(&customs.public_line()).unwrap());
    let outbox = MemoryOutbox::new();
    produce(&outbox, 1, 20, "TAX");
    produce(&outbox, 21, 5, "FOREX");
    produce(&outbox, 26, 15, "TAX");
    // A tampered copy of the first message, under another id.
    let row = outbox.read_for(&agency("TAX"), 0, 1).unwrap().remove(0);
    let mut tampered = exchange::outbox::envelope_of(&agency("CUSTOMS"), &row, &customs).unwrap();
    let at = tampered
        .payload
        .iter()
        .position(u8::is_ascii_digit)
        .unwrap();
    tampered.payload[at] = if tampered.payload[at] == b'9' {
        b'0'
    } else {
        tampered.payload[at] + 1
    };
    tampered.id = exchange::MessageId::new(agency("CUSTOMS"), 9_999);

    let state = Feed {
        reader: Arc::new(FeedReader::new(Arc::new(outbox.clone()), customs.clone())),
        asked: Arc::default(),
        tampered: Arc::new(Mutex::new(Some(
            serde_json::from_slice(&tampered.to_wire()).unwrap(),
        ))),
    };
    let app = Router::new()
        .route("/api/exchange/feed", get(feed))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let source = FeedSource {
        url: base.clone(),
        token: "tax-token".into(),
        page: 8,
        idle_poll: Duration::from_millis(20),
    };
    let run = |stop: watch::Receiver<bool>| {
        let ledger = AgencyLedger::open(dir.path(), &agency("TAX")).unwrap();
        let ring = ring.clone();
        let source = source.clone();
        let stats = Arc::new(watch::channel(ConsumerStats::default()).0);
        let seen = stats.subscribe();
        let h = tokio::spawn(async move { run_feed(&ledger, ring, source, stats, stop).await });
        (h, seen)
    };
    let path = dir.path().join("TAX.sqlite");

    let (stop_tx, stop) = watch::channel(false);
    let (h, _) = run(stop);
    wait_applied(&path, 35).await;
    stop_tx.send(true).unwrap();
    tokio::time::timeout(GUARD, h)
        .await
        .unwrap()
        .unwrap()
        .unwrap();

    let counts = read_log_counts(&path).unwrap();
    assert_eq!((counts.applied, counts.refused), (35, 1));
    let entries = read_ledger(&path, 0, 1000).unwrap();
    let ids: Vec<String> = entries.iter().map(|e| e.message_id.clone()).collect();
    let expected: Vec<String> = (1..=20)
        .chain(26..=40)
        .map(|s| format!("CUSTOMS-{s}"))
        .collect();
    assert_eq!(ids, expected, "TAX's messages, each once, in order");
    assert_eq!(
        entries[0].payload,
        serde_json::from_slice::<serde_json::Value>(&row.payload).unwrap()
    );
    // Each cursor asked only after the page before it was committed: pages of 8.
    let asked = state.asked.lock().unwrap().clone();
    assert_eq!(
        &asked[..6],
        ["s0", "s8", "s16", "s29", "s37", "s40"],
        "{asked:?}"
    );

    // A restart asks from where it stopped and applies nothing twice; new messages follow.
    produce(&outbox, 41, 3, "TAX");
    let before = state.asked.lock().unwrap().len();
    let (stop_tx, stop) = watch::channel(false);
    let (h, mut seen) = run(stop);
    wait_applied(&path, 38).await;
    tokio::time::timeout(GUARD, seen.wait_for(|s| s.applied >= 3))
        .await
        .unwrap()
        .unwrap();
    stop_tx.send(true).unwrap();
    tokio::time::timeout(GUARD, h)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(state.asked.lock().unwrap()[before], "s40");
    let s = seen.borrow().clone();
    assert_eq!((s.applied, s.duplicates, s.refused), (3, 0, 0));
    assert_eq!(read_log_counts(&path).unwrap().applied, 38);
}
