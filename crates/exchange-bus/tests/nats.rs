//! The exchange against a real NATS server with JetStream. The URL comes from
//! `JINGUAN_TEST_NATS_URL` (`.ci/run` sets it); without it each test says it skipped. Each test
//! uses its own stream and subjects, and deletes its stream at the end. The bus-down test runs
//! its own `nats-server` on a free loopback port, so that it can stop and start it.

use std::collections::BTreeSet;
use std::future::Future;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer, message::PublishMessage, AckKind};
use chrono::Utc;
use exchange::message::encode_payload;
use exchange::outbox::envelope_of;
use exchange::sign::{sign, sign_batch, Algorithm, KeyId, KeyRing, SigningKey};
use exchange::{
    Agency, DeclarationReleasedV1, Disposition, Envelope, MemoryAppliedLog, MemoryOutbox,
    MessageId, Outbox, Receiver,
};
use exchange_bus::bus::{bus_message_id, BusConfig};
use exchange_bus::consumer::consumer_config;
use exchange_bus::{Consumer, ConsumerConfig, ConsumerStats, Relay, RelayConfig, RelayStats};
use futures_util::StreamExt;
use tokio::sync::watch;

/// A hang guard, not a timing assertion: far above what any step takes.
const GUARD: Duration = Duration::from_secs(60);

fn nats_url() -> Option<String> {
    match std::env::var("JINGUAN_TEST_NATS_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            // CI runs every test (scripts/test): there a missing server is a failure.
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
            assert!(
                !ci,
                "JINGUAN_TEST_NATS_URL must be set in CI (.ci/run starts NATS)"
            );
            eprintln!("skipped: JINGUAN_TEST_NATS_URL not set");
            None
        }
    }
}

fn agency(s: &str) -> Agency {
    Agency::parse(s).unwrap()
}

/// A bus configuration with a stream and subjects of its own.
fn unique_bus(url: &str, tag: &str) -> BusConfig {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let unique = format!("{}_{}_{}", tag, std::process::id(), nanos);
    let mut bus = BusConfig::new(url);
    bus.stream = format!("JGT_{unique}").to_uppercase();
    bus.subject_prefix = format!("jgt.{}", unique.to_lowercase());
    bus.request_timeout = Duration::from_secs(2);
    bus
}

fn key(algorithm: Algorithm, who: &str, id: &str) -> Arc<SigningKey> {
    Arc::new(SigningKey::generate(algorithm, agency(who), KeyId::parse(id).unwrap()).unwrap())
}

fn ring(keys: &[&SigningKey]) -> Arc<KeyRing> {
    let lines: Vec<String> = keys.iter().map(|k| k.public_line()).collect();
    Arc::new(KeyRing::parse(&lines.join("\n")).unwrap())
}

/// Append `n` released declarations to `recipients`, as the store would on release.
fn produce(outbox: &MemoryOutbox, n: u32, recipients: &[&str], first: u32) {
    for i in first..first + n {
        let p = DeclarationReleasedV1 {
            declaration_no: format!("2225202610{i:08}").parse_no(),
            declarant: "91110000600037341L".parse_uscc(),
            released_at: Utc::now(),
            items: vec![],
        };
        let (kind, bytes) = encode_payload(&p).unwrap();
        outbox
            .append(
                kind,
                recipients.iter().map(|r| agency(r)).collect(),
                Utc::now(),
                bytes,
            )
            .unwrap();
    }
}

trait ParseCodes {
    fn parse_no(&self) -> domain::codes::DeclarationNo;
    fn parse_uscc(&self) -> domain::codes::Uscc;
}
impl ParseCodes for str {
    fn parse_no(&self) -> domain::codes::DeclarationNo {
        domain::codes::DeclarationNo::parse(self).unwrap()
    }
    fn parse_uscc(&self) -> domain::codes::Uscc {
        domain::codes::Uscc::parse(self).unwrap()
    }
}

async fn wait_for<T: Clone, F: Fn(&T) -> bool>(
    rx: &mut watch::Receiver<T>,
    what: &str,
    ok: F,
) -> T {
    let r = tokio::time::timeout(GUARD, rx.wait_for(|v| ok(v)))
        .await
        .unwrap_or_else(|_| panic!("hang guard: still waiting for {what}"))
        .unwrap()
        .clone();
    r
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !f().await {
        assert!(
            start.elapsed() < GUARD,
            "hang guard: still waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Running {
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Running {
    fn new() -> Running {
        Running {
            shutdown: watch::channel(false).0,
            tasks: Vec::new(),
        }
    }
    fn relay(&mut self, relay: Relay) -> watch::Receiver<RelayStats> {
        let stats = relay.stats();
        let rx = self.shutdown.subscribe();
        self.tasks
            .push(tokio::spawn(async move { relay.run(rx).await.unwrap() }));
        stats
    }
    fn consumer(&mut self, consumer: Consumer) -> watch::Receiver<ConsumerStats> {
        let stats = consumer.stats();
        let rx = self.shutdown.subscribe();
        self.tasks
            .push(tokio::spawn(async move { consumer.run(rx).await.unwrap() }));
        stats
    }
    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        for t in self.tasks {
            tokio::time::timeout(GUARD, t).await.unwrap().unwrap();
        }
    }
}

async fn js(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url).await.unwrap())
}

async fn delete_stream(url: &str, bus: &BusConfig) {
    js(url).await.delete_stream(&bus.stream).await.unwrap();
}

fn relay_for(outbox: &MemoryOutbox, k: &Arc<SigningKey>, bus: &BusConfig) -> Relay {
    Relay::new(
        Arc::new(outbox.clone()),
        k.clone(),
        bus.clone(),
        RelayConfig {
            batch_max: 64,
            idle_poll: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
        },
    )
}

fn consumer_for(
    bus: &BusConfig,
    who: &str,
    ring: Arc<KeyRing>,
    log: &MemoryAppliedLog,
) -> Consumer {
    Consumer::new(
        bus.clone(),
        Receiver::new(agency(who), ring, Arc::new(log.clone())),
        ConsumerConfig {
            nak_delay: Duration::from_millis(50),
            ..ConsumerConfig::default()
        },
    )
}

fn expected_ids(sender: &str, seqs: std::ops::RangeInclusive<u64>) -> Vec<MessageId> {
    seqs.map(|s| MessageId::new(agency(sender), s)).collect()
}

// ---------------------------------------------------------------------------------------------

/// A nats-server of our own on a free loopback port, stopped when dropped.
struct OwnServer {
    child: Option<Child>,
    port: u16,
    store: tempfile::TempDir,
}

impl OwnServer {
    fn free_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
    fn binary() -> String {
        for p in [
            "/usr/sbin/nats-server",
            "/usr/bin/nats-server",
            "/usr/local/bin/nats-server",
        ] {
            if std::path::Path::new(p).exists() {
                return p.to_owned();
            }
        }
        "nats-server".to_owned()
    }
    fn new() -> OwnServer {
        OwnServer {
            child: None,
            port: OwnServer::free_port(),
            store: tempfile::tempdir().unwrap(),
        }
    }
    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
    async fn start(&mut self) {
        assert!(self.child.is_none());
        let child = Command::new(OwnServer::binary())
            .args([
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-js",
                "-sd",
            ])
            .arg(self.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed where JINGUAN_TEST_NATS_URL is set");
        self.child = Some(child);
        let url = self.url();
        eventually("our nats-server to listen", || {
            let url = url.clone();
            async move { async_nats::connect(url).await.is_ok() }
        })
        .await;
    }
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_down_while_declarations_are_released_loses_nothing() {
    if nats_url().is_none() {
        return;
    }
    let mut server = OwnServer::new();
    let bus = unique_bus(&server.url(), "down");
    let customs = key(Algorithm::Sm2Sm3, "CUSTOMS", "customs-1");
    let outbox = MemoryOutbox::new();
    let log = MemoryAppliedLog::new();
    let mut run = Running::new();

    // The bus is down from the start: released declarations wait in the outbox.
    let mut relay = run.relay(relay_for(&outbox, &customs, &bus));
    let mut consumed = run.consumer(consumer_for(&bus, "TAX", ring(&[&customs]), &log));
    produce(&outbox, 150, &["TAX"], 1);
    let s = wait_for(&mut relay, "relay failures while the bus is down", |s| {
        s.failures >= 3
    })
    .await;
    assert_eq!(s.published, 0);
    assert_eq!(outbox.fetch_unpublished(0, 1000).unwrap().len(), 150);

    // The bus comes up: everything arrives, once.
    server.start().await;
    wait_for(&mut consumed, "150 applied", |s| s.applied >= 150).await;
    wait_for(&mut relay, "150 published", |s| s.published >= 150).await;

    // Down again mid-stream, more releases, up again on the same storage.
    server.stop();
    let failures = relay.borrow().failures;
    produce(&outbox, 150, &["TAX"], 151);
    wait_for(&mut relay, "failures during the second outage", |s| {
        s.failures > failures
    })
    .await;
    server.start().await;
    wait_for(&mut consumed, "300 applied", |s| s.applied >= 300).await;
    wait_for(&mut relay, "300 published", |s| s.published >= 300).await;
    run.stop().await;

    assert_eq!(
        log.applied(),
        expected_ids("CUSTOMS", 1..=300),
        "each applied once, in order"
    );
    assert!(outbox.fetch_unpublished(0, 1000).unwrap().is_empty());
    let mut stream = js(&server.url())
        .await
        .get_stream(&bus.stream)
        .await
        .unwrap();
    assert_eq!(
        stream.info().await.unwrap().state.messages,
        300,
        "JetStream de-duplicated the relay's retries"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_deliveries_are_applied_once() {
    let Some(url) = nats_url() else { return };
    let bus = unique_bus(&url, "dup");
    let customs = key(Algorithm::Sm2Sm3, "CUSTOMS", "customs-1");
    let outbox = MemoryOutbox::new();
    let log = MemoryAppliedLog::new();
    let keys = ring(&[&customs]);
    produce(&outbox, 20, &["TAX"], 1);

    let mut run = Running::new();
    let mut relay = run.relay(relay_for(&outbox, &customs, &bus));
    wait_for(&mut relay, "20 published", |s| s.published >= 20).await;

    let js = js(&url).await;
    let tax = agency("TAX");
    assert!(
        outbox.fetch_unpublished(0, 1).unwrap().is_empty(),
        "all published"
    );
    let first = outbox.read_for(&tax, 0, 1).unwrap().remove(0);
    let e = envelope_of(&agency("CUSTOMS"), &first, &customs).unwrap();
    let subject = bus.subject(&tax, &e.kind);
    // The relay publishing the same row again: JetStream keeps one copy.
    let ack = js
        .send_publish(
            subject.clone(),
            PublishMessage::build()
                .payload(e.to_wire().into())
                .message_id(bus_message_id(&e.id, &tax)),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        ack.duplicate,
        "same Nats-Msg-Id within the window is a duplicate"
    );
    // A copy that got past de-duplication (no message id): the consumer must absorb it.
    js.publish(subject, e.to_wire().into())
        .await
        .unwrap()
        .await
        .unwrap();

    // Five messages delivered, applied, and not acked (a crash before the ack): redelivered.
    let stream = js.get_stream(&bus.stream).await.unwrap();
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            "TAX",
            consumer_config(&bus, &tax, &ConsumerConfig::default()),
        )
        .await
        .unwrap();
    let receiver = Receiver::new(tax.clone(), keys.clone(), Arc::new(log.clone()));
    let mut batch = consumer.fetch().max_messages(5).messages().await.unwrap();
    let mut crashed = 0;
    while let Some(m) = batch.next().await {
        let m = m.unwrap();
        assert_eq!(
            receiver.receive(&[&m.payload]).unwrap(),
            [Disposition::Applied]
        );
        m.ack_with(AckKind::Nak(None)).await.unwrap();
        crashed += 1;
    }
    assert_eq!(crashed, 5);
    assert_eq!(log.applied_count(), 5);

    let mut consumed = run.consumer(consumer_for(&bus, "TAX", keys, &log));
    let s = wait_for(&mut consumed, "21 deliveries", |s| s.received >= 21).await;
    run.stop().await;

    assert_eq!(s.applied, 15);
    assert_eq!(s.duplicates, 6, "5 redelivered + 1 extra copy");
    assert_eq!(s.refused, 0);
    assert_eq!(log.applied(), expected_ids("CUSTOMS", 1..=20));
    delete_stream(&url, &bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_forged_unsigned_and_unreadable_messages_are_refused_and_logged() {
    let Some(url) = nats_url() else { return };
    let bus = unique_bus(&url, "forged");
    let customs = key(Algorithm::Sm2Sm3, "CUSTOMS", "customs-1");
    let forger = key(Algorithm::Sm2Sm3, "CUSTOMS", "customs-1");
    let outbox = MemoryOutbox::new();
    let log = MemoryAppliedLog::new();
    produce(&outbox, 3, &["TAX"], 1);

    let mut run = Running::new();
    let mut relay = run.relay(relay_for(&outbox, &customs, &bus));
    wait_for(&mut relay, "3 published", |s| s.published >= 3).await;

    let tax = agency("TAX");
    let row = outbox.read_for(&tax, 0, 1).unwrap().remove(0);
    let good = envelope_of(&agency("CUSTOMS"), &row, &customs).unwrap();
    let mut tampered = good.clone();
    // Change one digit of the payload (its content varies with the clock, so pick the first
    // digit there is rather than a fixed one).
    let at = tampered
        .payload
        .iter()
        .position(u8::is_ascii_digit)
        .expect("the payload has digits");
    tampered.payload[at] = if tampered.payload[at] == b'9' {
        b'0'
    } else {
        tampered.payload[at] + 1
    };
    assert_ne!(tampered.payload, good.payload);
    tampered.id = MessageId::new(agency("CUSTOMS"), 1001);
    let mut unsigned = good.clone();
    unsigned.id = MessageId::new(agency("CUSTOMS"), 1002);
    unsigned.signature = None;
    let mut forged = Envelope {
        id: MessageId::new(agency("CUSTOMS"), 1003),
        signature: None,
        ..good.clone()
    };
    sign(&mut forged, &forger);
    // Batch-signed (envelope version 2) messages: a genuine batch of six, CUSTOMS-1004..1009,
    // of which only the last is delivered intact (a receiver of one message of a batch
    // verifies it alone); the others are altered, and one carries another batch's proof.
    let batch_of = |first: u64, k: &SigningKey| {
        let mut b: Vec<Envelope> = (first..first + 6)
            .map(|seq| Envelope {
                id: MessageId::new(agency("CUSTOMS"), seq),
                signature: None,
                ..good.clone()
            })
            .collect();
        sign_batch(&mut b, k);
        b
    };
    let genuine = batch_of(1004, &customs);
    let other = batch_of(2004, &customs);
    let mut batch_tampered = genuine[0].clone();
    batch_tampered.payload = tampered.payload.clone();
    let mut wrong_proof = genuine[1].clone();
    let proof = wrong_proof
        .signature
        .as_mut()
        .unwrap()
        .batch
        .as_mut()
        .unwrap();
    proof.path[0][31] ^= 0x01;
    let mut other_batch = genuine[2].clone();
    other_batch.signature = other[2].signature.clone();
    let forged_batch = batch_of(1004, &forger)[3].clone();
    let mut batch_unsigned = genuine[4].clone();
    batch_unsigned.signature = None;
    let lone = genuine[5].clone();

    let js = js(&url).await;
    let subject = bus.subject(&tax, &good.kind);
    for bytes in [
        tampered.to_wire(),
        unsigned.to_wire(),
        forged.to_wire(),
        b"{not an envelope".to_vec(),
        batch_tampered.to_wire(),
        wrong_proof.to_wire(),
        other_batch.to_wire(),
        forged_batch.to_wire(),
        batch_unsigned.to_wire(),
        lone.to_wire(),
    ] {
        js.publish(subject.clone(), bytes.into())
            .await
            .unwrap()
            .await
            .unwrap();
    }

    let mut consumed = run.consumer(consumer_for(&bus, "TAX", ring(&[&customs]), &log));
    let s = wait_for(&mut consumed, "13 deliveries", |s| s.received >= 13).await;
    assert_eq!((s.applied, s.refused), (4, 9));
    let mut expected = expected_ids("CUSTOMS", 1..=3);
    expected.push(MessageId::new(agency("CUSTOMS"), 1009));
    assert_eq!(log.applied(), expected);
    let refused = log.refused();
    let reasons: Vec<(Option<&str>, &str)> = refused
        .iter()
        .map(|r| (r.message_id.as_deref(), r.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            (Some("CUSTOMS-1001"), "bad_signature"),
            (Some("CUSTOMS-1002"), "unsigned"),
            (Some("CUSTOMS-1003"), "bad_signature"),
            (None, "malformed"),
            (Some("CUSTOMS-1004"), "bad_signature"),
            (Some("CUSTOMS-1005"), "bad_signature"),
            (Some("CUSTOMS-1006"), "bad_signature"),
            (Some("CUSTOMS-1007"), "bad_signature"),
            (Some("CUSTOMS-1008"), "unsigned"),
        ]
    );
    // Refused messages are terminated, not redelivered.
    let stream = js.get_stream(&bus.stream).await.unwrap();
    eventually("the consumer to have nothing pending", || {
        let stream = stream.clone();
        async move {
            let info = stream.consumer_info("TAX").await.unwrap();
            info.num_ack_pending == 0 && info.num_pending == 0
        }
    })
    .await;
    run.stop().await;
    assert_eq!(log.refused().len(), 9, "each refused once");
    delete_stream(&url, &bus).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sm2_and_ed25519_senders_both_reach_the_agency_and_status_reports_them() {
    let Some(url) = nats_url() else { return };
    let bus = unique_bus(&url, "algs");
    let customs = key(Algorithm::Sm2Sm3, "CUSTOMS", "customs-sm2");
    let commerce = key(Algorithm::Ed25519, "COMMERCE", "commerce-ed");
    let customs_outbox = MemoryOutbox::new();
    let commerce_outbox = MemoryOutbox::new();
    produce(&customs_outbox, 40, &["TAX", "FOREX"], 1);
    produce(&commerce_outbox, 30, &["TAX"], 1);
    let keys = ring(&[&customs, &commerce]);
    let tax_log = MemoryAppliedLog::new();
    let forex_log = MemoryAppliedLog::new();

    let mut run = Running::new();
    let mut r1 = run.relay(relay_for(&customs_outbox, &customs, &bus));
    let mut r2 = run.relay(relay_for(&commerce_outbox, &commerce, &bus));
    let mut tax = run.consumer(consumer_for(&bus, "TAX", keys.clone(), &tax_log));
    let mut forex = run.consumer(consumer_for(&bus, "FOREX", keys, &forex_log));
    wait_for(&mut r1, "customs published", |s| s.published >= 40).await;
    wait_for(&mut r2, "commerce published", |s| s.published >= 30).await;
    let t = wait_for(&mut tax, "tax applied", |s| s.applied >= 70).await;
    let f = wait_for(&mut forex, "forex applied", |s| s.applied >= 40).await;
    assert_eq!((t.refused, f.refused), (0, 0));

    let applied: BTreeSet<MessageId> = tax_log.applied().into_iter().collect();
    let mut expected: BTreeSet<MessageId> = expected_ids("CUSTOMS", 1..=40).into_iter().collect();
    expected.extend(expected_ids("COMMERCE", 1..=30));
    assert_eq!(applied, expected);
    assert_eq!(forex_log.applied(), expected_ids("CUSTOMS", 1..=40));

    // Status from the bus: every message delivered, nothing pending.
    let js = js(&url).await;
    let stream = js.get_stream(&bus.stream).await.unwrap();
    eventually("acks to reach the server", || {
        let stream = stream.clone();
        async move {
            let a = stream.consumer_info("TAX").await.unwrap();
            let b = stream.consumer_info("FOREX").await.unwrap();
            a.num_ack_pending == 0 && b.num_ack_pending == 0
        }
    })
    .await;
    run.stop().await;
    let state = exchange_bus::status::bus_state(&bus).await.unwrap();
    let outbox_counts = customs_outbox.counts().unwrap();
    let status = exchange_bus::status::compute(
        Some(&outbox_counts),
        Some(&state),
        &Default::default(),
        Utc::now(),
    );
    let row = |a: &str| {
        status
            .agencies
            .iter()
            .find(|s| s.agency == a)
            .unwrap()
            .clone()
    };
    assert_eq!((row("TAX").pending, row("TAX").delivered), (0, Some(70)));
    assert_eq!(
        (row("FOREX").pending, row("FOREX").delivered),
        (0, Some(40))
    );
    assert_eq!(row("TAX").unpublished, Some(0));
    delete_stream(&url, &bus).await;
}

/// `jinguan exchange status` for an agency without a durable consumer: its messages wait in the
/// stream, and the status says how many (it said "pending 0": issue 15).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agency_without_a_consumer_shows_its_backlog() {
    let Some(url) = nats_url() else { return };
    let bus = unique_bus(&url, "backlog");
    let customs = key(Algorithm::Sm2Sm3, "CUSTOMS", "customs-1");
    let outbox = MemoryOutbox::new();
    let mut run = Running::new();
    let mut relay = run.relay(relay_for(&outbox, &customs, &bus));
    produce(&outbox, 37, &["POLICE", "TAX"], 1);
    wait_for(&mut relay, "37 published", |s| s.published >= 37).await;
    run.stop().await;
    let state = exchange_bus::status::bus_state(&bus).await.unwrap();
    let status = exchange_bus::status::compute(None, Some(&state), &Default::default(), Utc::now());
    let pending: Vec<(String, u64)> = status
        .agencies
        .iter()
        .map(|a| (a.agency.clone(), a.pending))
        .collect();
    assert_eq!(pending, [("POLICE".to_owned(), 37), ("TAX".to_owned(), 37)]);
    delete_stream(&url, &bus).await;
}

/// `/ready`'s question to the bus: answered while NATS runs, refused (quickly) when nothing
/// listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ready_probe_tells_a_running_bus_from_a_missing_one() {
    let Some(url) = nats_url() else { return };
    let bus = unique_bus(&url, "probe");
    exchange_bus::bus::probe(&bus, Duration::from_secs(1))
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = BusConfig::new(format!("nats://127.0.0.1:{port}"));
    let t = std::time::Instant::now();
    assert!(exchange_bus::bus::probe(&gone, Duration::from_secs(1))
        .await
        .is_err());
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// `/metrics`' bus backlog (issue 15 item 5): per agency, a consumer's pending and unacked
/// messages, an agency without a consumer with every message on its subjects pending; asked of
/// the bus at most once per period however often it is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_backlog_is_cached_and_counts_agencies_without_a_consumer() {
    let Some(url) = nats_url() else { return };
    let bus = unique_bus(&url, "lag");
    let customs = key(Algorithm::Sm2Sm3, "CUSTOMS", "customs-1");
    let outbox = MemoryOutbox::new();
    let mut run = Running::new();
    let mut relay = run.relay(relay_for(&outbox, &customs, &bus));
    produce(&outbox, 20, &["FOREX", "TAX"], 1);
    wait_for(&mut relay, "20 published", |s| s.published >= 20).await;

    // TAX has a consumer that took 5 messages and acknowledged none; FOREX has no consumer.
    let tax = agency("TAX");
    let stream = js(&url).await.get_stream(&bus.stream).await.unwrap();
    let consumer: PullConsumer = stream
        .get_or_create_consumer(
            "TAX",
            consumer_config(&bus, &tax, &ConsumerConfig::default()),
        )
        .await
        .unwrap();
    let mut batch = consumer.fetch().max_messages(5).messages().await.unwrap();
    let mut taken = 0;
    while let Some(m) = batch.next().await {
        m.unwrap();
        taken += 1;
    }
    assert_eq!(taken, 5);

    let cache = exchange_bus::status::LagCache::new(bus.clone(), Duration::from_secs(3600));
    let (state, _) = cache.get().await;
    let state = state.unwrap();
    let t = &state[&tax];
    assert_eq!(
        (t.consumer, t.num_pending, t.num_ack_pending),
        (true, 15, 5)
    );
    let f = &state[&agency("FOREX")];
    assert_eq!(
        (f.consumer, f.num_pending, f.num_ack_pending),
        (false, 20, 0)
    );
    // Read again and again within the period: one question to the bus.
    for _ in 0..20 {
        let (again, _) = cache.get().await;
        assert_eq!(again.unwrap(), state);
    }
    assert_eq!(cache.fetches(), 1);

    // New messages show once the period has passed, not before.
    produce(&outbox, 4, &["FOREX"], 100);
    wait_for(&mut relay, "24 published", |s| s.published >= 24).await;
    let (cached, _) = cache.get().await;
    assert_eq!(cached.unwrap()[&agency("FOREX")].num_pending, 20, "cached");
    assert_eq!(cache.fetches(), 1);
    let short = exchange_bus::status::LagCache::new(bus.clone(), Duration::from_millis(300));
    let (first, _) = short.get().await;
    assert_eq!(first.unwrap()[&agency("FOREX")].num_pending, 24);
    produce(&outbox, 1, &["FOREX"], 200);
    wait_for(&mut relay, "25 published", |s| s.published >= 25).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    let (fresh, age) = short.get().await;
    assert_eq!(fresh.unwrap()[&agency("FOREX")].num_pending, 25);
    assert!(age < Duration::from_millis(300), "{age:?}");
    assert_eq!(short.fetches(), 2);
    run.stop().await;

    // A bus that is not there: an error, cached for the period too.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = exchange_bus::status::LagCache::new(
        BusConfig::new(format!("nats://127.0.0.1:{port}")),
        Duration::from_secs(3600),
    );
    assert!(gone.get().await.0.is_err());
    assert!(gone.get().await.0.is_err());
    assert_eq!(gone.fetches(), 1);
    delete_stream(&url, &bus).await;
}
