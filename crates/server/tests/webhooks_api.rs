//! Webhooks (issue 18 item 4) against a real receiver: a small axum server in the test that
//! first answers 500, then takes an event but answers too late (the worker times out and
//! sends it again, so the receiver sees that id twice and de-duplicates), then answers 204.
//! Every event of the enterprise arrives at least once, in the inbox's order, signed with the
//! subscription's secret; the delivery log shows each attempt; a replay sends again from a
//! point; a restarted server goes on from the stored cursor; another enterprise sees nothing
//! of the subscription (404); bad input is refused in both languages.

mod common;

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::{Clearance, ManualClock, NewUserRequest, Role};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use chrono::{TimeZone, Utc};
use domain::codes::Uscc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store_sqlite::{SqliteOptions, SqliteStore};

const A: &str = "91310115MA1K4Q7B4Y";
const B: &str = "91440300MA5FT3XKX8";

/// What the receiver does with the next request.
#[derive(Clone, Copy, Debug)]
enum Act {
    Fail,
    /// Takes the event, answers after the worker's timeout.
    Late,
}

/// One request as the receiver got it.
#[derive(Clone, Debug)]
struct Got {
    id: String,
    timestamp: String,
    signature: String,
    seq: String,
    content_type: String,
    body: Vec<u8>,
}

#[derive(Default)]
struct Receiver {
    script: Mutex<VecDeque<Act>>,
    /// Every request, in arrival order.
    got: Mutex<Vec<Got>>,
    /// Fail every request (a receiver that is down).
    down: std::sync::atomic::AtomicBool,
}

impl Receiver {
    fn all(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The first request of each id, in arrival order (the receiver's de-duplication).
    fn unique(&self) -> Vec<Got> {
        let mut seen = HashSet::new();
        self.all()
            .into_iter()
            .filter(|g| seen.insert(g.id.clone()))
            .collect()
    }
}

async fn hook(
    axum::extract::State(r): axum::extract::State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> AxumStatus {
    let h = |k: &str| {
        headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    r.got.lock().unwrap().push(Got {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        seq: h("jinguan-seq"),
        content_type: h("content-type"),
        body: body.to_vec(),
    });
    if r.down.load(std::sync::atomic::Ordering::SeqCst) {
        return AxumStatus::SERVICE_UNAVAILABLE;
    }
    let act = r.script.lock().unwrap().pop_front();
    match act {
        Some(Act::Fail) => AxumStatus::INTERNAL_SERVER_ERROR,
        Some(Act::Late) => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            AxumStatus::NO_CONTENT
        }
        None => AxumStatus::NO_CONTENT,
    }
}

/// The receiver on a free loopback port; its base URL.
async fn receiver(r: Arc<Receiver>) -> String {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .route("/xml", axum::routing::post(hook))
        .with_state(r);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A JSON client of one server.
struct Api {
    base: String,
    client: reqwest::Client,
}

impl Api {
    fn new(base: &str) -> Api {
        Api {
            base: base.to_owned(),
            client: reqwest::Client::new(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, v)
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, Some(token), path, None)
            .await
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, Some(token), path, Some(body))
            .await
    }

    async fn login(&self, login: &str) -> String {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                None,
                "/api/session",
                Some(json!({"login": login, "password": common::PASSWORD})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{login}: {v}");
        v["token"].as_str().unwrap().to_owned()
    }
}

/// Fast retries and a short timeout, loopback allowed (the receiver is local).
fn options() -> server::ServeOptions {
    server::ServeOptions {
        webhooks: server::webhooks::WebhookSettings {
            deliver: true,
            allow_private: true,
            timeout: Duration::from_secs(2),
            retry_base: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            give_up_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_millis(100),
        },
        ..Default::default()
    }
}

fn build(store: Arc<SqliteStore>, clock: Arc<ManualClock>) -> Clearance {
    Clearance::new(store, common::refdata(), clock)
        .with_registry(Box::new(common::general_class(A)))
        .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
}

fn users(svc: &Clearance) {
    for (login, uscc, duties) in [
        ("ent-a", A, vec![]),
        ("ent-b", B, vec![]),
        ("ent-a-viewer", A, vec![app::Duty::Viewer]),
    ] {
        svc.users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: common::PASSWORD.into(),
                role: Role::Enterprise,
                duties,
                office: None,
                uscc: Some(Uscc::parse(uscc).unwrap()),
                agency: None,
            })
            .unwrap();
    }
}

async fn file(h: &Api, token: &str, uscc: &str, seq: &str) -> i64 {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = uscc.into();
    v["owner"]["uscc"] = uscc.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    let resp = h
        .client
        .post(format!("{}/api/declarations", h.base))
        .bearer_auth(token)
        .header("client-seq-no", seq)
        .json(&v)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

/// Every notification of `token` after `after`.
async fn inbox_after(h: &Api, token: &str, after: &str) -> Vec<Value> {
    let (s, page) = h
        .get(
            token,
            &format!("/api/notifications?after={after}&limit=200"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["more"], false, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn head(h: &Api, token: &str) -> String {
    let (_, page) = h.get(token, "/api/notifications?limit=1").await;
    page["cursor"].as_str().unwrap().to_owned()
}

/// Wait until `done` holds (checked every 50 ms), at most `secs`.
async fn until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {secs} s for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The signature checked as a receiver checks it: the scheme recomputed with the secret, the
/// timestamp recent; a body changed in transit would not pass.
fn verify(secret: &str, g: &Got) {
    let ts: i64 = g.timestamp.parse().expect("a timestamp in seconds");
    let now = Utc::now().timestamp();
    assert!((now - ts).abs() < 300, "timestamp {ts} vs now {now}");
    let expected = store::webhooks::signature(secret, &g.id, ts, &g.body).unwrap();
    assert!(g.signature.starts_with("v1,"), "{}", g.signature);
    assert_eq!(g.signature, expected, "signature of {}", g.id);
    let mut tampered = g.body.clone();
    tampered.push(b' ');
    assert_ne!(
        store::webhooks::signature(secret, &g.id, ts, &tampered).unwrap(),
        g.signature
    );
    assert_ne!(
        store::webhooks::signature(
            "whsec_b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldA==",
            &g.id,
            ts,
            &g.body
        )
        .unwrap(),
        g.signature
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_arrive_at_least_once_in_order_signed_logged_and_replayed() {
    let harness = common::Harness::start_with(build, options()).await;
    users(&harness.svc);
    let t = Api::new(&harness.base);
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let r = Arc::new(Receiver::default());
    let url = receiver(r.clone()).await;

    // First a 500, then an answer after the timeout; then 204s.
    r.script.lock().unwrap().extend([Act::Fail, Act::Late]);
    let start = head(&t, &a).await;
    let (s, w) = t
        .post(&a, "/api/webhooks", json!({"url": format!("{url}/hook")}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let secret = w["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{w}");
    assert_eq!(w["status"], "active");
    assert_eq!(w["format"], "json");
    let id = w["id"].as_i64().unwrap();
    // Listed without its secret.
    let (s, list) = t.get(&a, "/api/webhooks").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["webhooks"][0]["id"], id);
    assert!(!list.to_string().contains(&secret), "{list}");
    assert!(list["webhooks"][0].get("secret").is_none());

    file(&t, &a, A, "w-1").await;
    file(&t, &b, B, "w-2").await;
    file(&t, &a, A, "w-3").await;
    let expected = inbox_after(&t, &a, &start).await;
    let expected_ids: Vec<String> = expected
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(expected_ids.len() >= 6, "{expected:?}");

    until(30, "every event delivered", || {
        r.unique().len() >= expected_ids.len()
    })
    .await;
    // Give a stray duplicate time to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let unique = r.unique();
    let got_ids: Vec<String> = unique.iter().map(|g| g.id.clone()).collect();
    assert_eq!(
        got_ids, expected_ids,
        "each event once after de-duplication, in order"
    );
    // B's declaration never reached A's receiver.
    for g in r.all() {
        let body: Value = serde_json::from_slice(&g.body).unwrap();
        assert_eq!(g.content_type, "application/json");
        assert_eq!(body["data"]["id"], g.id.as_str(), "{body}");
        assert_eq!(body["seq"].to_string(), g.seq, "{body}");
        assert_eq!(
            body["type"],
            format!("declaration.{}", body["data"]["kind"].as_str().unwrap()),
        );
        assert!(expected.iter().any(|e| e == &body["data"]), "{body}");
        verify(&secret, &g);
    }
    // The first event came three times: the 500, the late answer, the 204.
    let all = r.all();
    let first = &expected_ids[0];
    assert_eq!(
        all.iter().filter(|g| &g.id == first).count(),
        3,
        "{:?}",
        all.iter().map(|g| &g.id).collect::<Vec<_>>()
    );
    assert_eq!(all.len(), expected_ids.len() + 2);

    // The delivery log: every attempt, newest first; the first event's three.
    let (s, log) = t
        .get(&a, &format!("/api/webhooks/{id}/deliveries?limit=200"))
        .await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let log = log["deliveries"].as_array().unwrap().clone();
    assert_eq!(log.len(), all.len(), "{log:?}");
    let mut of_first: Vec<&Value> = log.iter().filter(|d| &d["event_id"] == first).collect();
    of_first.reverse();
    assert_eq!(of_first.len(), 3);
    assert_eq!(of_first[0]["status_code"], 500);
    assert_eq!(of_first[0]["delivered"], false);
    assert!(of_first[0]["error"].as_str().unwrap().contains("500"));
    assert!(of_first[1]["status_code"].is_null(), "{}", of_first[1]);
    assert!(
        of_first[1]["error"].as_str().unwrap().contains("timed out"),
        "{}",
        of_first[1]
    );
    assert!(of_first[1]["duration_ms"].as_u64().unwrap() >= 1900);
    assert_eq!(of_first[2]["status_code"], 204);
    assert_eq!(of_first[2]["delivered"], true);
    for d in &log {
        assert!(d["at"].is_string() && d["duration_ms"].is_u64(), "{d}");
    }
    // A page of the log by `before`.
    let (_, page) = t
        .get(
            &a,
            &format!(
                "/api/webhooks/{id}/deliveries?limit=2&before={}",
                log[0]["id"]
            ),
        )
        .await;
    assert_eq!(page["deliveries"].as_array().unwrap().len(), 2);
    assert_eq!(page["deliveries"][0]["id"], log[1]["id"]);
    assert_eq!(page["older"], log[2]["id"]);
    // The cursor stands after the last event.
    let (_, now) = t.get(&a, &format!("/api/webhooks/{id}")).await;
    assert_eq!(
        (now["failures"].as_u64(), now["status"].as_str()),
        (Some(0), Some("active"))
    );

    // Another enterprise: nothing of it exists.
    for (method, path) in [
        (reqwest::Method::GET, format!("/api/webhooks/{id}")),
        (
            reqwest::Method::GET,
            format!("/api/webhooks/{id}/deliveries"),
        ),
        (reqwest::Method::DELETE, format!("/api/webhooks/{id}")),
        (reqwest::Method::POST, format!("/api/webhooks/{id}/enable")),
    ] {
        let (s, v) = t.call(method.clone(), Some(&b), &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {path}: {v}");
    }
    let (s, _) = t
        .post(
            &b,
            &format!("/api/webhooks/{id}/replay"),
            json!({"from": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list_b) = t.get(&b, "/api/webhooks").await;
    assert_eq!(list_b["webhooks"], json!([]));
    // A viewer of A reads but does not change.
    let viewer = t.login("ent-a-viewer").await;
    let (s, _) = t.get(&viewer, &format!("/api/webhooks/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t
        .post(
            &viewer,
            &format!("/api/webhooks/{id}/replay"),
            json!({"from": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Replay from the third event's record: everything from there comes again, same ids,
    // in order.
    let from_seq: i64 = unique[2].seq.parse().unwrap();
    let before = r.all().len();
    let (s, v) = t
        .post(
            &a,
            &format!("/api/webhooks/{id}/replay"),
            json!({"from": from_seq}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["cursor"]["seq"], from_seq);
    let again: Vec<String> = expected
        .iter()
        .filter(|i| i["cursor"].as_str().unwrap().parse::<i64>().unwrap() >= from_seq)
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!again.is_empty());
    until(20, "the replay", || r.all().len() >= before + again.len()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let replayed: Vec<String> = r.all()[before..].iter().map(|g| g.id.clone()).collect();
    assert_eq!(replayed, again);

    // XML receipts, only for the kinds asked: one DEC_RESULT per accepted declaration.
    let (s, x) = t
        .post(
            &a,
            "/api/webhooks",
            json!({"url": format!("{url}/xml"), "format": "xml", "events": ["accepted"]}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{x}");
    let xml_secret = x["secret"].as_str().unwrap().to_owned();
    assert_ne!(xml_secret, secret);
    let count = r.all().len();
    file(&t, &a, A, "w-4").await;
    until(20, "the XML receipt", || {
        r.all()[count..]
            .iter()
            .any(|g| g.content_type == "application/xml")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let xml: Vec<Got> = r.all()[count..]
        .iter()
        .filter(|g| g.content_type == "application/xml")
        .cloned()
        .collect();
    assert_eq!(xml.len(), 1, "{xml:?}");
    let text = String::from_utf8(xml[0].body.clone()).unwrap();
    assert!(
        text.contains("<DEC_RESULT>") && text.contains("<CHANNEL>L</CHANNEL>"),
        "{text}"
    );
    verify(&xml_secret, &xml[0]);

    // Deleted: gone, for its owner too.
    let (s, _) = t
        .call(
            reqwest::Method::DELETE,
            Some(&a),
            &format!("/api/webhooks/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.get(&a, &format!("/api/webhooks/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_subscriptions_are_refused_in_both_languages() {
    let harness = common::Harness::start(build).await;
    users(&harness.svc);
    let t = Api::new(&harness.base);
    let a = t.login("ent-a").await;
    for (body, field, code) in [
        (json!({}), "url", "required"),
        (json!({"url": "ftp://example.com/x"}), "url", "bad_scheme"),
        (
            json!({"url": "https://u:p@example.com/x"}),
            "url",
            "credentials_in_url",
        ),
        (
            json!({"url": "https://example.com:70000/"}),
            "url",
            "bad_port",
        ),
        (json!({"url": "https://example.com/x#y"}), "url", "fragment"),
        (
            json!({"url": format!("https://example.com/{}", "x".repeat(2100))}),
            "url",
            "too_long",
        ),
        // Loopback and private addresses: refused unless the operator allows them.
        (
            json!({"url": "http://127.0.0.1:9/x"}),
            "url",
            "private_address",
        ),
        (
            json!({"url": "http://10.0.0.1/x"}),
            "url",
            "private_address",
        ),
        (
            json!({"url": "http://localhost/x"}),
            "url",
            "private_address",
        ),
        (json!({"url": "http://[::1]/x"}), "url", "private_address"),
        (
            json!({"url": "https://example.com/", "events": ["released", "exploded"]}),
            "events[1]",
            "unknown_event",
        ),
        (
            json!({"url": "https://example.com/", "format": "yaml"}),
            "format",
            "unknown_format",
        ),
    ] {
        let (s, v) = t.post(&a, "/api/webhooks", body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {v}");
        let p = &v["error"]["problems"][0];
        assert_eq!(
            (p["field"].as_str(), p["code"].as_str()),
            (Some(field), Some(code)),
            "{v}"
        );
        assert!(!p["message_zh"].as_str().unwrap().is_empty(), "{v}");
        assert!(!p["message_en"].as_str().unwrap().is_empty(), "{v}");
        assert_ne!(p["message_zh"], p["message_en"], "{v}");
    }
    // Every problem at once.
    let (s, v) = t
        .post(
            &a,
            "/api/webhooks",
            json!({"url": "gopher://x", "format": "csv", "events": ["nope"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["problems"].as_array().unwrap().len(), 3, "{v}");
    // Unknown fields and wrong types: 422 with the field.
    let (s, v) = t
        .post(
            &a,
            "/api/webhooks",
            json!({"url": "https://example.com/", "colour": "red"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, v) = t.post(&a, "/api/webhooks", json!({"url": 5})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    // A public URL is taken; a bad replay point and bad log parameters are refused.
    let (s, w) = t
        .post(
            &a,
            "/api/webhooks",
            json!({"url": "https://hooks.example.com/in"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let id = w["id"].as_i64().unwrap();
    for from in [json!(0), json!(999_999)] {
        let (s, v) = t
            .post(
                &a,
                &format!("/api/webhooks/{id}/replay"),
                json!({"from": from}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(v["error"]["problems"][0]["field"], "from", "{v}");
    }
    let (s, v) = t
        .post(
            &a,
            &format!("/api/webhooks/{id}/replay"),
            json!({"from": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    for q in ["limit=0", "limit=201", "before=x", "colour=red"] {
        let (s, v) = t
            .get(&a, &format!("/api/webhooks/{id}/deliveries?{q}"))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {v}");
    }
    // The routes are in the OpenAPI document.
    let (_, doc) = t.get(&a, "/api/openapi.json").await;
    for (path, method) in [
        ("/api/webhooks", "post"),
        ("/api/webhooks", "get"),
        ("/api/webhooks/{id}", "get"),
        ("/api/webhooks/{id}", "delete"),
        ("/api/webhooks/{id}/replay", "post"),
        ("/api/webhooks/{id}/enable", "post"),
        ("/api/webhooks/{id}/deliveries", "get"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    // Ids that are not numbers: 404, never 500.
    let (s, _) = t.get(&a, "/api/webhooks/abc").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Not an enterprise: no webhooks to list or make.
    harness.bootstrap(NewUserRequest {
        login: "officer".into(),
        password: common::PASSWORD.into(),
        role: Role::Officer,
        duties: vec![app::Duty::Reviewer],
        office: Some(domain::codes::OfficeCode::parse("2233").unwrap()),
        uscc: None,
        agency: None,
    });
    let o = t.login("officer").await;
    let (s, _) = t.get(&o, "/api/webhooks").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.get(&o, &format!("/api/webhooks/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A server of its own over `dir`, stopped by the sender.
async fn serve_on(
    dir: &std::path::Path,
) -> (
    String,
    Arc<Clearance>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let store = Arc::new(SqliteStore::open(dir, SqliteOptions::default()).unwrap());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    let svc = Arc::new(build(store, clock));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let s = svc.clone();
    let served = tokio::spawn(async move {
        server::serve_with(listener, s, options(), async {
            let _ = stopped.await;
        })
        .await
    });
    (base, svc, stop, served)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_server_goes_on_from_the_stored_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let r = Arc::new(Receiver::default());
    let url = receiver(r.clone()).await;

    // The first run: a subscription, one declaration delivered in full.
    let (base, svc, stop, served) = serve_on(dir.path()).await;
    users(&svc);
    let h = Api::new(&base);
    let a = h.login("ent-a").await;
    let start = head(&h, &a).await;
    let (s, w) = h
        .post(&a, "/api/webhooks", json!({"url": format!("{url}/hook")}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{w}");
    let secret = w["secret"].as_str().unwrap().to_owned();
    file(&h, &a, A, "r-1").await;
    let first = inbox_after(&h, &a, &start).await;
    until(20, "the first declaration's events", || {
        r.unique().len() >= first.len()
    })
    .await;
    // The receiver goes down; a second declaration's events wait.
    r.down.store(true, std::sync::atomic::Ordering::SeqCst);
    let mid = head(&h, &a).await;
    file(&h, &a, A, "r-2").await;
    let second = inbox_after(&h, &a, &mid).await;
    assert!(!second.is_empty());
    let failed_before = r.all().len();
    until(20, "failed attempts", || r.all().len() >= failed_before + 2).await;
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
    drop(h);
    drop(svc);
    // Let a write of the stopped worker still on the blocking pool finish before the file is
    // opened again.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The second run, the receiver back: the second declaration's events arrive; the first's
    // are not sent again.
    r.down.store(false, std::sync::atomic::Ordering::SeqCst);
    let (base, svc, stop, served) = serve_on(dir.path()).await;
    let h = Api::new(&base);
    let all_ids: Vec<String> = first
        .iter()
        .chain(second.iter())
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    until(
        20,
        "the second declaration's events after the restart",
        || r.unique().len() >= all_ids.len(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<String> = r.unique().iter().map(|g| g.id.clone()).collect();
    assert_eq!(ids, all_ids);
    for g in r.all() {
        verify(&secret, &g);
    }
    for i in &first {
        let id = i["id"].as_str().unwrap();
        assert_eq!(
            r.all().iter().filter(|g| g.id == id).count(),
            1,
            "{id} was delivered before the restart and not again"
        );
    }
    // Only the first of the second declaration's events was tried while the receiver was
    // down (in order: nothing after it is sent before it is delivered).
    let failed: HashSet<String> = r.all()[failed_before..]
        .iter()
        .take_while(|g| g.id == second[0]["id"].as_str().unwrap())
        .map(|g| g.id.clone())
        .collect();
    assert_eq!(failed.len(), 1);
    drop((h, svc));
    stop.send(()).unwrap();
    served.await.unwrap().unwrap();
}
