//! The exchange feed over HTTP (docs/EXCHANGE.md "Feed"): a release writes its message to the
//! store's outbox with the events; the FOREX agency user reads it, signed with the customs key,
//! from `GET /api/exchange/feed`; the cursor advances and acknowledges; other agencies see
//! nothing of it and enterprises are refused.

use std::sync::Arc;

use app::exchange_desk::ExchangeDesk;
use app::{Clearance, Duty, ManualClock, NewUserRequest, Role, StaticRegistry};
use chrono::{TimeZone, Utc};
use clearance::{CreditClass, EnterpriseFacts};
use domain::codes::{OfficeCode, Uscc};
use exchange::{Agency, Algorithm, Envelope, KeyId, KeyRing, Payload, SigningKey};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::Store;
use store_sqlite::{SqliteOptions, SqliteStore};

const PASSWORD: &str = "test-password";
/// Yellow lane (a recent discrepancy): review, assess, pay, release.
const Y: &str = "91310000132149237G";

struct TestApp {
    base: String,
    client: reqwest::Client,
    store: Arc<dyn Store>,
    svc: Arc<Clearance>,
    ring: KeyRing,
    desk: Arc<ExchangeDesk>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    async fn start() -> TestApp {
        TestApp::start_with(false).await
    }

    /// With cargo control on (`cargo`): exports close when their manifest departs.
    async fn start_with(cargo: bool) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
        let store: Arc<dyn Store> = sqlite.clone();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
        ));
        let facts = [(
            Uscc::parse(Y).unwrap(),
            EnterpriseFacts {
                credit_class: CreditClass::General,
                discrepancies_last_year: 1,
            },
        )]
        .into_iter()
        .collect();
        let key = SigningKey::generate(
            Algorithm::Sm2Sm3,
            Agency::parse("CUSTOMS").unwrap(),
            KeyId::parse("customs-test").unwrap(),
        )
        .unwrap();
        let ring = KeyRing::parse(&key.public_line()).unwrap();
        let desk = Arc::new(ExchangeDesk::new(store.clone(), Arc::new(key)));
        let mut svc = Clearance::new(
            store.clone(),
            Arc::new(refdata::RefData::embedded().unwrap()),
            clock,
        )
        .with_registry(Box::new(StaticRegistry(facts)))
        .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
        .with_exchange(desk.clone());
        if cargo {
            let ledger =
                app::cargo_desk::CargoDesk::open(sqlite, app::cargo_desk::CargoPolicy::default())
                    .unwrap();
            svc = svc.with_cargo(Arc::new(ledger));
        }
        let svc = Arc::new(svc);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let s = svc.clone();
        tokio::spawn(async move { server::serve(listener, s, std::future::pending()).await });
        TestApp {
            base,
            client: reqwest::Client::new(),
            store,
            svc,
            ring,
            desk,
            _dir: dir,
        }
    }

    fn user(&self, login: &str, role: Role, uscc: Option<&str>, agency: Option<&str>) {
        let officer = role == Role::Officer;
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties: if officer {
                    vec![Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer]
                } else {
                    vec![]
                },
                office: officer.then(|| OfficeCode::parse("2233").unwrap()),
                uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
                agency: agency.map(str::to_owned),
            })
            .unwrap();
    }

    async fn login(&self, login: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/session", self.base))
            .json(&json!({"login": login, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED, "{login}");
        let v: Value = r.json().await.unwrap();
        v["token"].as_str().unwrap().to_owned()
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// The feed as text, so that envelopes are read from their wire bytes.
    async fn feed(&self, token: &str, query: &str) -> (StatusCode, String) {
        let r = self
            .client
            .get(format!("{}/api/exchange/feed{query}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status(), r.text().await.unwrap())
    }

    /// File, review, assess, pay and release one import; returns its number.
    async fn release(&self, ent: &str, off: &str, variant: u32) -> String {
        self.release_from(app::demo::IMPORT_TEMPLATE, ent, off, variant)
            .await
            .1
    }

    /// File, review, assess, pay and release one declaration; returns its id and number.
    async fn release_from(
        &self,
        template: &str,
        ent: &str,
        off: &str,
        variant: u32,
    ) -> (i64, String) {
        let mut v: Value = serde_json::from_str(template).unwrap();
        v["trader"]["uscc"] = Y.into();
        v["owner"]["uscc"] = Y.into();
        v["declaration_office"] = "2233".into();
        v["entry_exit_office"] = "2233".into();
        v["contract_no"] = format!("X-{variant}").into();
        let r = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(ent)
            .header("content-type", "application/json")
            .header("client-seq-no", format!("x-{variant}"))
            .body(v.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let filed: Value = r.json().await.unwrap();
        let id = filed["id"].as_i64().unwrap();
        let step = |name: &str| format!("/api/declarations/{id}/{name}");
        let (s, r) = self
            .post(off, &step("review"), json!({"result": "conform"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, r) = self.post(off, &step("assess"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let d = self
            .client
            .get(format!("{}/api/declarations/{id}", self.base))
            .bearer_auth(ent)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        // Paid through the bank (a bank user confirms the amount due): each payment sends
        // duty_paid.v1 to the tax agency.
        if self.store.user_by_login("bank-x").unwrap().is_none() {
            self.user("bank-x", Role::Bank, None, None);
        }
        let bank = self.login("bank-x").await;
        for n in d["notices"].as_array().unwrap() {
            let notice_no = n["notice_no"].as_str().unwrap();
            let path = format!("/api/notices/{notice_no}/payment-initiation");
            let (s, v) = self.post(ent, &path, json!({"bank": "bank-x"})).await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            let body = json!({"notice_no": notice_no, "reference": format!("X-{notice_no}"),
                "amount_fen": v["amount_due_fen"]});
            let (s, r) = self.post(&bank, "/api/bank/payments", body).await;
            assert_eq!(s, StatusCode::CREATED, "{r}");
        }
        let (s, r) = self.post(off, &step("release"), json!({})).await;
        assert_eq!(
            (s, r["status"].as_str()),
            (StatusCode::OK, Some("released"))
        );
        let d = self
            .client
            .get(format!("{}/api/declarations/{id}", self.base))
            .bearer_auth(off)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        (
            id,
            d["state"]["declaration_no"].as_str().unwrap().to_owned(),
        )
    }
}

/// Envelopes of a feed page, parsed from their wire bytes, and the next cursor.
fn page(text: &str) -> (Vec<Envelope>, String) {
    let v: Value = serde_json::from_str(text).unwrap();
    let messages = v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Envelope::from_wire(m.to_string().as_bytes()).unwrap())
        .collect();
    (messages, v["next"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_reaches_the_forex_feed_signed_and_only_there() {
    let t = TestApp::start().await;
    t.user("ent-y", Role::Enterprise, Some(Y), None);
    t.user("pd", Role::Officer, None, None);
    t.user("safe", Role::Agency, None, Some("forex"));
    t.user("sat", Role::Agency, None, Some("tax"));
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let forex = t.login("safe").await;
    let tax = t.login("sat").await;

    // Nothing yet: an empty page, the cursor stays.
    let (s, text) = t.feed(&forex, "").await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert_eq!(page(&text), (vec![], "s0".to_owned()));

    let no = t.release(&ent, &off, 1).await;
    let (s, text) = t.feed(&forex, "?after=s0&limit=10").await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let (messages, next) = page(&text);
    assert_eq!(messages.len(), 1, "{text}");
    let m = &messages[0];
    exchange::sign::verify(m, &t.ring).expect("signed with the customs key");
    assert_eq!(m.kind.as_str(), "declaration_released.v1");
    // CUSTOMS-1 is the duty_paid.v1 of its notice, to the tax agency (below).
    assert_eq!(m.id.to_string(), "CUSTOMS-2");
    assert!(m.recipients.contains(&Agency::parse("FOREX").unwrap()));
    match Payload::decode(&m.kind, &m.payload).unwrap() {
        Payload::DeclarationReleasedV1(p) => {
            assert_eq!(p.declaration_no.to_string(), no);
            assert_eq!(p.declarant.to_string(), Y);
            assert!(!p.items.is_empty());
        }
        other => panic!("unexpected payload {other:?}"),
    }
    // Cursors are the outbox's sequence (the duty_paid.v1 before it took s1).
    assert_eq!(next, "s2");

    // The cursor advances: nothing new after it, then the next release only.
    let (_, text) = t.feed(&forex, &format!("?after={next}")).await;
    assert_eq!(page(&text), (vec![], "s2".to_owned()));
    t.release(&ent, &off, 2).await;
    let (_, text) = t.feed(&forex, "?after=s2").await;
    let (messages, next) = page(&text);
    assert_eq!(
        messages
            .iter()
            .map(|m| m.id.to_string())
            .collect::<Vec<_>>(),
        ["CUSTOMS-4"]
    );
    assert_eq!(next, "s4");
    exchange::sign::verify(&messages[0], &t.ring).unwrap();

    // Asking after s2 acknowledged the first; the store counts it as delivered.
    let counts = t.store.outbox_store().unwrap().counts().unwrap();
    let f = &counts["FOREX"];
    assert_eq!((f.total, f.acked, f.unpublished), (2, 1, 2));

    // Tax gets no release (imports are not closed exports), but every duty paid through the
    // bank (issue 14): duty_paid.v1, with the bank, its reference and the amount paid.
    let (s, text) = t.feed(&tax, "").await;
    assert_eq!(s, StatusCode::OK);
    let (messages, _) = page(&text);
    assert_eq!(
        messages
            .iter()
            .map(|m| (m.id.to_string(), m.kind.as_str().to_owned()))
            .collect::<Vec<_>>(),
        [
            ("CUSTOMS-1".to_owned(), "duty_paid.v1".to_owned()),
            ("CUSTOMS-3".to_owned(), "duty_paid.v1".to_owned())
        ],
        "{text}"
    );
    exchange::sign::verify(&messages[0], &t.ring).unwrap();
    match Payload::decode(&messages[0].kind, &messages[0].payload).unwrap() {
        Payload::DutyPaidV1(p) => {
            assert_eq!(p.declaration_no.to_string(), no);
            assert_eq!(p.bank, "bank-x");
            assert_eq!(p.bank_reference, format!("X-{}", p.notice_no));
            assert_eq!(p.paid_fen.0, p.tax_fen.0 + p.surcharge_fen.0);
        }
        other => panic!("unexpected payload {other:?}"),
    }

    // Enterprises and officers are refused; a bad cursor or limit is 422.
    for token in [&ent, &off] {
        let (s, _) = t.feed(token, "").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = t.feed(&forex, "?after=42").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = t.feed(&forex, "?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // No token: 401.
    let r = t
        .client
        .get(format!("{}/api/exchange/feed", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

/// The agency desk's "messages received": the newest messages, signed, oldest first, and
/// reading them acknowledges nothing (the feed's cursor is the agency's own business).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_newest_messages_are_read_without_acknowledging() {
    let t = TestApp::start().await;
    t.user("ent-y", Role::Enterprise, Some(Y), None);
    t.user("pd", Role::Officer, None, None);
    t.user("safe", Role::Agency, None, Some("forex"));
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let forex = t.login("safe").await;
    let recent = |token: &str, query: &str| {
        let r = t
            .client
            .get(format!("{}/api/exchange/recent{query}", t.base))
            .bearer_auth(token);
        async move {
            let r = r.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };

    let (s, text) = recent(&forex, "").await;
    assert_eq!(s, StatusCode::OK, "{text}");
    assert!(page(&text).0.is_empty(), "{text}");
    for v in 1..=3 {
        t.release(&ent, &off, v).await;
    }
    let (s, text) = recent(&forex, "?limit=2").await;
    assert_eq!(s, StatusCode::OK, "{text}");
    let (messages, _) = page(&text);
    let ids: Vec<String> = messages.iter().map(|m| m.id.to_string()).collect();
    // Each release follows the duty_paid.v1 of its notice (to the tax agency).
    assert_eq!(ids, ["CUSTOMS-4", "CUSTOMS-6"]);
    for m in &messages {
        exchange::sign::verify(m, &t.ring).expect("signed with the customs key");
    }
    let (_, text) = recent(&forex, "?limit=10").await;
    assert_eq!(page(&text).0.len(), 3);
    let counts = t.store.outbox_store().unwrap().counts().unwrap();
    assert_eq!(counts["FOREX"].acked, 0, "nothing acknowledged");

    assert_eq!(recent(&ent, "").await.0, StatusCode::FORBIDDEN);
    for bad in ["?limit=0", "?limit=1001", "?after=s1"] {
        assert_eq!(
            recent(&forex, bad).await.0,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}"
        );
    }
}

/// With a bus: declarations released through the service reach the FOREX agency's JetStream
/// consumer through the relay over the store's outbox, each applied exactly once, and a
/// restarted relay publishes nothing again. Needs `JINGUAN_TEST_NATS_URL`, else it skips (the
/// `nats_` prefix lets `scripts/test` count it as skipped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_releases_reach_jetstream_through_the_relay_exactly_once() {
    use exchange::{MemoryAppliedLog, Receiver};
    use exchange_bus::{BusConfig, Consumer, ConsumerConfig, Relay, RelayConfig};
    let url = match std::env::var("JINGUAN_TEST_NATS_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => {
            // CI runs every test (scripts/test): there a missing server is a failure.
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
            assert!(
                !ci,
                "JINGUAN_TEST_NATS_URL must be set in CI (.ci/run starts NATS)"
            );
            eprintln!("skipped: JINGUAN_TEST_NATS_URL not set");
            return;
        }
    };
    let t = TestApp::start().await;
    t.user("ent-y", Role::Enterprise, Some(Y), None);
    t.user("pd", Role::Officer, None, None);
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    t.release(&ent, &off, 1).await;
    t.release(&ent, &off, 2).await;

    let unique = format!(
        "{}_{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap()
    );
    let mut bus = BusConfig::new(url);
    bus.stream = format!("JGT_SRV_{unique}");
    bus.subject_prefix = format!("jgt.srv{unique}");
    let forex = Agency::parse("FOREX").unwrap();
    let log = Arc::new(MemoryAppliedLog::new());
    let ring = Arc::new(t.ring.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relay = Relay::new(
        t.desk.outbox(),
        t.desk.key().clone(),
        bus.clone(),
        RelayConfig::default(),
    );
    let relay_task = tokio::spawn(relay.run(stopped.clone()));
    let consumer = Consumer::new(
        bus.clone(),
        Receiver::new(forex.clone(), ring, log.clone()),
        ConsumerConfig::default(),
    );
    let mut stats = consumer.stats();
    let consumer_task = tokio::spawn(consumer.run(stopped.clone()));
    let guard = std::time::Duration::from_secs(30);
    tokio::time::timeout(guard, stats.wait_for(|s| s.applied >= 2))
        .await
        .expect("two releases applied")
        .unwrap();
    // A release while the relay runs arrives too.
    t.release(&ent, &off, 3).await;
    tokio::time::timeout(guard, stats.wait_for(|s| s.applied >= 3))
        .await
        .expect("the third release applied")
        .unwrap();
    // A second relay over the same outbox (a restart) finds nothing to publish.
    stop.send(true).unwrap();
    relay_task.await.unwrap().unwrap();
    let (stop2, stopped2) = tokio::sync::watch::channel(false);
    let again = Relay::new(
        t.desk.outbox(),
        t.desk.key().clone(),
        bus.clone(),
        RelayConfig::default(),
    );
    let again_stats = again.stats();
    let again_task = tokio::spawn(again.run(stopped2));
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    stop2.send(true).unwrap();
    again_task.await.unwrap().unwrap();
    assert_eq!(again_stats.borrow().published, 0);
    consumer_task.await.unwrap().unwrap();

    let ids: Vec<String> = log.applied().iter().map(|m| m.to_string()).collect();
    // Each release follows the duty_paid.v1 (to TAX) of its notice.
    assert_eq!(ids, ["CUSTOMS-2", "CUSTOMS-4", "CUSTOMS-6"]);
    assert_eq!(stats.borrow().duplicates, 0);
    let o = t.store.outbox_store().unwrap();
    assert!(o.fetch_unpublished(0, 10).unwrap().is_empty());
    // The server applies acks asynchronously: wait (bounded) for the consumer to show none
    // outstanding; a message never acked would stay pending and fail this.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let on_bus = loop {
        let on_bus = exchange_bus::status::bus_state(&bus).await.unwrap();
        let outstanding = on_bus[&forex].num_pending + on_bus[&forex].num_ack_pending;
        if outstanding == 0 || std::time::Instant::now() > deadline {
            break on_bus;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(on_bus[&forex].on_bus, 3);
    assert_eq!(
        on_bus[&forex].num_pending + on_bus[&forex].num_ack_pending,
        0
    );
    let js = exchange_bus::bus::connect(&bus).await.unwrap();
    js.delete_stream(&bus.stream).await.unwrap();
}

/// Closing an export (exit confirmed by its departed manifest) sends `export_closed.v1` to TAX
/// and FOREX, with the FOB values in the declaration's currency and in fen; its release went to
/// FOREX only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_export_reaches_the_tax_feed() {
    let t = TestApp::start_with(true).await;
    t.user("ent-y", Role::Enterprise, Some(Y), None);
    t.user("pd", Role::Officer, None, None);
    t.user("sat", Role::Agency, None, Some("tax"));
    t.user("carrier", Role::Carrier, Some("91110000600037341L"), None);
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let tax = t.login("sat").await;
    let carrier = t.login("carrier").await;
    let bill: Value =
        serde_json::from_str::<Value>(app::demo::EXPORT_TEMPLATE).unwrap()["bill_no"].clone();
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests",
            json!({
                "manifest_id": "MF-1", "kind": "pre_load",
                "voyage": {"means": {"mode": "vessel", "imo": "9074729", "name": "COSCO EXAMPLE"},
                    "voyage_no": "025E", "direction": "export", "office": "2233"},
                "bills": [{"bill_no": bill, "kind": {"kind": "master"},
                    "lines": [{"packages": 400, "package_type": "CT", "gross_weight_kg": "5200", "description": "shoes"}]}]
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, no) = t
        .release_from(app::demo::EXPORT_TEMPLATE, &ent, &off, 7)
        .await;
    let (_, text) = t.feed(&tax, "").await;
    assert_eq!(
        page(&text),
        (vec![], "s0".to_owned()),
        "a release is not for tax"
    );
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests/MF-1/departure",
            json!({"at": "2025-03-10T01:30:00Z"}),
        )
        .await;
    assert_eq!(
        (s, r["closed"][0].as_str()),
        (StatusCode::OK, Some(no.as_str())),
        "{r}"
    );
    let (_, text) = t.feed(&tax, "").await;
    let (messages, next) = page(&text);
    assert_eq!(messages.len(), 1, "{text}");
    assert_eq!(next, "s2");
    let m = &messages[0];
    exchange::sign::verify(m, &t.ring).unwrap();
    assert_eq!(m.kind.as_str(), "export_closed.v1");
    let names: Vec<&str> = m.recipients.iter().map(|a| a.as_str()).collect();
    assert_eq!(names, ["FOREX", "TAX"]);
    match Payload::decode(&m.kind, &m.payload).unwrap() {
        Payload::ExportClosedV1(p) => {
            assert_eq!(p.declaration_no.to_string(), no);
            assert!(!p.items.is_empty());
            for i in &p.items {
                assert!(i.fob_value.is_sign_positive() && !i.fob_value.is_zero());
                assert!(i.fob_value_fen.0 > 0);
            }
        }
        other => panic!("unexpected payload {other:?}"),
    }
}

/// The value of one series line of a scrape (`name{labels}` exactly), `None` when absent.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Issue 15 item 5: `/metrics` shows the store's writer (queue depth, group sizes, commit
/// times) and, per agency, the outbox's unpublished messages and those the agency has not
/// acknowledged on its feed; the series move with releases and acknowledgements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_writer_and_the_exchange_lag_per_agency() {
    let t = TestApp::start().await;
    t.user("ent-y", Role::Enterprise, Some(Y), None);
    t.user("pd", Role::Officer, None, None);
    t.user("safe", Role::Agency, None, Some("forex"));
    let scrape = || async {
        t.client
            .get(format!("{}/metrics", t.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let before = scrape().await;
    assert_eq!(
        series(&before, "jinguan_writer_queue_depth"),
        Some(0.0),
        "{before}"
    );
    let batches_before = series(&before, "jinguan_writer_commit_seconds_count").unwrap();
    assert_eq!(
        series(&before, "jinguan_exchange_unacknowledged{agency=\"FOREX\"}"),
        None
    );

    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let forex = t.login("safe").await;
    t.release(&ent, &off, 1).await;

    let after = scrape().await;
    let batches = series(&after, "jinguan_writer_commit_seconds_count").unwrap();
    assert!(batches > batches_before, "{batches_before} -> {batches}");
    assert_eq!(
        series(&after, "jinguan_writer_batch_size_count"),
        Some(batches)
    );
    assert!(series(&after, "jinguan_writer_batch_size_sum").unwrap() >= batches);
    assert_eq!(
        series(&after, "jinguan_writer_commit_seconds_bucket{le=\"+Inf\"}"),
        Some(batches)
    );
    // No relay here: the release waits unpublished, and FOREX has not read it.
    assert_eq!(
        series(&after, "jinguan_outbox_unpublished{agency=\"FOREX\"}"),
        Some(1.0),
        "{after}"
    );
    assert!(series(
        &after,
        "jinguan_outbox_oldest_unpublished_seconds{agency=\"FOREX\"}"
    )
    .is_some());
    assert_eq!(
        series(&after, "jinguan_exchange_unacknowledged{agency=\"FOREX\"}"),
        Some(1.0)
    );

    // FOREX reads its feed and acknowledges it (reading after the cursor it was given).
    let (_, text) = t.feed(&forex, "?after=s0&limit=10").await;
    let (_, next) = page(&text);
    t.feed(&forex, &format!("?after={next}")).await;
    let acked = scrape().await;
    assert_eq!(
        series(&acked, "jinguan_exchange_unacknowledged{agency=\"FOREX\"}"),
        Some(0.0),
        "{acked}"
    );
    assert_eq!(
        series(&acked, "jinguan_outbox_unpublished{agency=\"FOREX\"}"),
        Some(1.0)
    );
}
