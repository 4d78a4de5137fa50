//! Exchange benchmark: messages per second from outbox commit to applied at the consumer, and
//! p99 commit-to-applied latency, beside the bus alone (raw async-nats JetStream publish +
//! pull consume + ack of messages of the same size, no Jinguan code), measured in the same run
//! against the same server. Also SM2 and Ed25519 sign and verify rates on one core.
//!
//! `JINGUAN_TEST_NATS_URL=nats://127.0.0.1:4222 cargo bench -p exchange-bus`
//! Without the variable it says it skipped. Writes the figures as JSON to
//! `$CARGO_TARGET_DIR/exchange-bench.json` (or `target/`).
//!
//! Two runs per side: *flood* (N messages committed as fast as possible, in groups of 100 as
//! the store's group commit would) gives the throughput; *paced* (a fixed offered rate for a
//! fixed time) gives the latency distribution at that rate. On both sides the clock starts once
//! the path is set up: the bus-alone run creates its stream and consumer first, the Jinguan run
//! sends one warm-up message through relay and consumer first (not counted). The Jinguan side signs with SM2 at
//! the relay (one signature per relay batch, envelope version 2), verifies at the consumer (each
//! batch signature once, a leaf hash and proof per message) and applies into a SQLite applied
//! log (WAL, `synchronous=FULL`, one transaction per chunk).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use chrono::Utc;
use exchange::sign::{
    sign, sign_batch, signing_bytes, verify_cached, Algorithm, KeyId, KeyRing, SigningKey,
};
use exchange::{
    encode_payload, Agency, Apply, ApplyError, DeclarationReleasedV1, MemoryOutbox, Outcome,
    Receiver, Refusal, Verified,
};
use exchange_bus::{BusConfig, Consumer, ConsumerConfig, Relay, RelayConfig, SqliteAppliedLog};
use futures_util::StreamExt;
use tokio::sync::watch;

const FLOOD_N: usize = 40_000;
const PACED_RATE: u64 = 20_000;
const PACED_FOR: Duration = Duration::from_secs(2);
const GROUP: usize = 100;
const GUARD: Duration = Duration::from_secs(120);

#[derive(Clone, Copy, Debug)]
struct Figures {
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

fn figures(count: usize, elapsed: Duration, mut lat: Vec<Duration>) -> Figures {
    lat.sort();
    Figures {
        per_s: count as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&lat, 0.50),
        p99_ms: percentile(&lat, 0.99),
    }
}

fn agency(s: &str) -> Agency {
    Agency::parse(s).unwrap()
}

fn sample_payload() -> (exchange::Kind, Vec<u8>) {
    let item = |n: u32| exchange::message::ReleasedItemV1 {
        item_no: n,
        hs_code: domain::codes::HsCode::parse("8471301000").unwrap(),
        quantity: "120.5".parse().unwrap(),
        unit: domain::codes::UnitCode::parse("035").unwrap(),
        licence_no: None,
    };
    encode_payload(&DeclarationReleasedV1 {
        declaration_no: domain::codes::DeclarationNo::parse("222520261000000001").unwrap(),
        declarant: domain::codes::Uscc::parse("91110000600037341L").unwrap(),
        released_at: Utc::now(),
        items: (1..=3).map(item).collect(),
    })
    .unwrap()
}

fn unique(tag: &str) -> (String, String) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (
        format!("JGBENCH_{tag}_{nanos}").to_uppercase(),
        format!("jgbench.{tag}.{nanos}"),
    )
}

// ---------------------------------------------------------------------------------------------
// Signatures

fn signature_rates() -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let (kind, payload) = sample_payload();
    for alg in [Algorithm::Sm2Sm3, Algorithm::Ed25519] {
        let key = SigningKey::generate(alg, agency("CUSTOMS"), KeyId::parse("k").unwrap()).unwrap();
        let ring = KeyRing::parse(&key.public_line()).unwrap();
        let mut e = exchange::Envelope::new(
            exchange::MessageId::new(agency("CUSTOMS"), 1),
            kind.clone(),
            vec![agency("TAX")],
            Utc::now(),
            payload.clone(),
        )
        .unwrap();
        let n = 3000;
        let t = Instant::now();
        for _ in 0..n {
            sign(&mut e, &key);
        }
        out.push((format!("{alg} sign"), n as f64 / t.elapsed().as_secs_f64()));
        let t = Instant::now();
        for _ in 0..n {
            exchange::sign::verify(&e, &ring).unwrap();
        }
        out.push((
            format!("{alg} verify"),
            n as f64 / t.elapsed().as_secs_f64(),
        ));
        let _ = signing_bytes(&e, alg, &KeyId::parse("k").unwrap());

        // Batch signatures (envelope version 2): per message, batches of 1,024, a receiver
        // checking each batch signature once.
        let mut batch = batch_of(&kind, &payload, 1024);
        let rounds = 3;
        let t = Instant::now();
        for _ in 0..rounds {
            sign_batch(&mut batch, &key);
        }
        out.push((
            format!("{alg} batch sign"),
            (rounds * batch.len()) as f64 / t.elapsed().as_secs_f64(),
        ));
        let t = Instant::now();
        for _ in 0..rounds {
            let cache = exchange::BatchCache::new();
            for e in &batch {
                verify_cached(e, &ring, Some(&cache)).unwrap();
            }
        }
        out.push((
            format!("{alg} batch verify"),
            (rounds * batch.len()) as f64 / t.elapsed().as_secs_f64(),
        ));
    }
    out
}

/// `n` unsigned envelopes from CUSTOMS to TAX with seqs 1..=n.
fn batch_of(kind: &exchange::Kind, payload: &[u8], n: u64) -> Vec<exchange::Envelope> {
    (1..=n)
        .map(|seq| {
            exchange::Envelope::new(
                exchange::MessageId::new(agency("CUSTOMS"), seq),
                kind.clone(),
                vec![agency("TAX")],
                Utc::now(),
                payload.to_vec(),
            )
            .unwrap()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The bus alone

/// Publish `n` messages (or at `rate` for `for_`), consume them with a pull consumer acking each;
/// the payload starts with the publish instant's offset (ns) so the consumer measures latency.
async fn bus_alone(url: &str, size: usize, schedule: Schedule) -> Figures {
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client.clone());
    let (stream_name, prefix) = unique("raw");
    let stream = js
        .create_stream(jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![format!("{prefix}.>")],
            storage: jetstream::stream::StorageType::File,
            duplicate_window: Duration::from_secs(20 * 60),
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("TAX".into()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            max_ack_pending: 20_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let total = schedule.count();
    let start = Instant::now();
    let consume = tokio::spawn(async move {
        let mut msgs = consumer
            .stream()
            .max_messages_per_batch(512)
            .messages()
            .await
            .unwrap()
            .ready_chunks(512);
        let mut lat = Vec::with_capacity(total);
        while lat.len() < total {
            let chunk = msgs.next().await.unwrap();
            for m in chunk {
                let m = m.unwrap();
                let ns = u64::from_be_bytes(m.payload[..8].try_into().unwrap());
                m.ack().await.unwrap();
                lat.push(start.elapsed().saturating_sub(Duration::from_nanos(ns)));
            }
        }
        (start.elapsed(), lat)
    });
    let subject = format!("{prefix}.TAX.declaration_released.v1");
    let mut body = vec![b'x'; size];
    let mut acks = Vec::with_capacity(GROUP * 10);
    for i in 0..total {
        schedule.wait_turn(start, i).await;
        let ns = start.elapsed().as_nanos() as u64;
        body[..8].copy_from_slice(&ns.to_be_bytes());
        let p = PublishMessage::build()
            .payload(body.clone().into())
            .message_id(format!("raw-{i}"));
        acks.push(js.send_publish(subject.clone(), p).await.unwrap());
        if acks.len() >= 1024 || i + 1 == total {
            for a in acks.drain(..) {
                a.await.unwrap();
            }
        }
    }
    let (elapsed, lat) = tokio::time::timeout(GUARD, consume).await.unwrap().unwrap();
    js.delete_stream(&stream_name).await.unwrap();
    figures(total, elapsed, lat)
}

#[derive(Clone, Copy)]
enum Schedule {
    Flood(usize),
    Paced { rate: u64, for_: Duration },
}

impl Schedule {
    fn count(self) -> usize {
        match self {
            Schedule::Flood(n) => n,
            Schedule::Paced { rate, for_ } => (rate as f64 * for_.as_secs_f64()) as usize,
        }
    }
    /// Paced: message `i` is due at `i / rate`; groups of [`GROUP`] go together.
    async fn wait_turn(self, start: Instant, i: usize) {
        if let Schedule::Paced { rate, .. } = self {
            if i.is_multiple_of(GROUP) {
                let due = Duration::from_secs_f64(i as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Jinguan: outbox → relay → JetStream → consumer → applied

/// The SQLite applied log, noting when each message was applied (after its commit).
struct Timed {
    log: SqliteAppliedLog,
    start: Instant,
    applied: Mutex<Vec<(u64, Duration)>>,
}

impl Apply for Timed {
    fn apply_batch(&self, messages: &[Verified]) -> Result<Vec<Outcome>, ApplyError> {
        let out = self.log.apply_batch(messages)?;
        let now = self.start.elapsed();
        let mut g = self.applied.lock().unwrap();
        for (m, o) in messages.iter().zip(&out) {
            if *o == Outcome::Applied {
                g.push((m.id().seq(), now));
            }
        }
        Ok(out)
    }
    fn record_refused(&self, refusals: &[Refusal]) -> Result<(), ApplyError> {
        self.log.record_refused(refusals)
    }
}

async fn jinguan(url: &str, schedule: Schedule, alg: Algorithm) -> (Figures, usize) {
    let (stream, prefix) = unique("jg");
    let mut bus = BusConfig::new(url);
    bus.stream = stream;
    bus.subject_prefix = prefix;
    let key =
        Arc::new(SigningKey::generate(alg, agency("CUSTOMS"), KeyId::parse("c").unwrap()).unwrap());
    let ring = Arc::new(KeyRing::parse(&key.public_line()).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let timed = Arc::new(Timed {
        log: SqliteAppliedLog::open(&dir.path().join("applied.sqlite")).unwrap(),
        start,
        applied: Mutex::new(Vec::new()),
    });
    let outbox = MemoryOutbox::new();
    let relay = Relay::new(
        Arc::new(outbox.clone()),
        key.clone(),
        bus.clone(),
        RelayConfig::default(),
    );
    let waker = relay.waker();
    let consumer = Consumer::new(
        bus.clone(),
        Receiver::new(agency("TAX"), ring, timed.clone()),
        ConsumerConfig::default(),
    );
    let mut stats = consumer.stats();
    let (stop, stop_rx) = watch::channel(false);
    let r = tokio::spawn(relay.run(stop_rx.clone()));
    let c = tokio::spawn(consumer.run(stop_rx));

    let (kind, payload) = sample_payload();
    // Warm up as the bus-alone run does before its clock starts: the relay and the consumer
    // connect, create the stream and the durable consumer, and one message (seq 1, not
    // counted) goes the whole way. A running server has done this long before its peak.
    outbox
        .append(
            kind.clone(),
            vec![agency("TAX")],
            Utc::now(),
            payload.clone(),
        )
        .unwrap();
    waker.notify_one();
    tokio::time::timeout(GUARD, stats.wait_for(|s| s.applied >= 1))
        .await
        .expect("hang guard (warm-up)")
        .unwrap();
    let begin = Instant::now();
    let began = start.elapsed();

    let total = schedule.count();
    // committed[i]: when measured message i (seq i + 2) was committed, since `start`.
    let mut committed = Vec::with_capacity(total);
    for i in 0..total {
        schedule.wait_turn(begin, i).await;
        outbox
            .append(
                kind.clone(),
                vec![agency("TAX")],
                Utc::now(),
                payload.clone(),
            )
            .unwrap();
        committed.push(start.elapsed());
        if (i + 1).is_multiple_of(GROUP) || i + 1 == total {
            waker.notify_one();
        }
    }
    tokio::time::timeout(GUARD, stats.wait_for(|s| s.applied as usize > total))
        .await
        .expect("hang guard")
        .unwrap();
    let elapsed = start.elapsed() - began;
    stop.send(true).unwrap();
    r.await.unwrap().unwrap();
    c.await.unwrap().unwrap();
    let applied: Vec<(u64, Duration)> = timed
        .applied
        .lock()
        .unwrap()
        .iter()
        .filter(|(seq, _)| *seq >= 2)
        .map(|&(seq, at)| (seq - 2, at))
        .collect();
    assert_eq!(applied.len(), total, "each applied once");
    let lat: Vec<Duration> = applied
        .iter()
        .map(|(i, at)| at.saturating_sub(committed[*i as usize]))
        .collect();
    if std::env::var("JINGUAN_BENCH_DEBUG").is_ok() {
        // Where the slow ones are: commit time (ms) of messages slower than 100 ms, by 100 ms.
        let mut hist = std::collections::BTreeMap::new();
        for (i, at) in &applied {
            let c = committed[*i as usize];
            if at.saturating_sub(c) > Duration::from_millis(100) {
                *hist.entry((c - began).as_millis() / 100 * 100).or_insert(0) += 1;
            }
        }
        eprintln!("slow (>100 ms) by commit time since the clock started: {hist:?}");
    }
    jetstream::new(async_nats::connect(url).await.unwrap())
        .delete_stream(&bus.stream)
        .await
        .unwrap();
    // The size on the wire of one envelope as the relay sends it in a full batch of 1,024
    // (proof of 10 levels), for the bus-alone run.
    let mut batch = batch_of(&kind, &payload, 1024);
    sign_batch(&mut batch, &key);
    (figures(total, elapsed, lat), batch[0].to_wire().len())
}

fn main() {
    let Ok(url) = std::env::var("JINGUAN_TEST_NATS_URL") else {
        println!("skipped: JINGUAN_TEST_NATS_URL not set");
        return;
    };
    // JINGUAN_BENCH_ALGORITHM=Ed25519 measures the pipeline with the optional algorithm.
    let alg = std::env::var("JINGUAN_BENCH_ALGORITHM")
        .ok()
        .and_then(|a| Algorithm::parse(&a))
        .unwrap_or(Algorithm::Sm2Sm3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("signatures per message, one core (batch sign hashes the leaves on two):");
    let sigs = signature_rates();
    for (what, rate) in &sigs {
        println!("  {what:<16} {rate:>10.0} /s");
    }
    rt.block_on(async {
        let (jg_flood, size) = jinguan(&url, Schedule::Flood(FLOOD_N), alg).await;
        let raw_flood = bus_alone(&url, size, Schedule::Flood(FLOOD_N)).await;
        let paced = Schedule::Paced {
            rate: PACED_RATE,
            for_: PACED_FOR,
        };
        let (jg_paced, _) = jinguan(&url, paced, alg).await;
        let raw_paced = bus_alone(&url, size, paced).await;
        println!(
            "\nexchange, {size}-byte envelopes, {alg} signed and verified, SQLite applied log (WAL, synchronous=FULL):"
        );
        println!(
            "{:<34} {:>12} {:>10} {:>10}",
            "run", "messages/s", "p50 ms", "p99 ms"
        );
        let row = |name: &str, f: Figures| {
            println!(
                "{name:<34} {:>12.0} {:>10.1} {:>10.1}",
                f.per_s, f.p50_ms, f.p99_ms
            )
        };
        row(&format!("jinguan flood ({FLOOD_N})"), jg_flood);
        row(&format!("bus alone flood ({FLOOD_N})"), raw_flood);
        row(&format!("jinguan paced {PACED_RATE}/s"), jg_paced);
        row(&format!("bus alone paced {PACED_RATE}/s"), raw_paced);
        println!(
            "ratio jinguan / bus alone (flood throughput): {:.2}",
            jg_flood.per_s / raw_flood.per_s
        );
        let json = serde_json::json!({
            "envelope_bytes": size,
            "algorithm": alg.as_str(),
            "signatures_per_s": sigs.iter().map(|(w, r)| (w.clone(), r.round())).collect::<std::collections::BTreeMap<_, _>>(),
            "jinguan_flood": {"per_s": jg_flood.per_s, "p50_ms": jg_flood.p50_ms, "p99_ms": jg_flood.p99_ms},
            "bus_flood": {"per_s": raw_flood.per_s, "p50_ms": raw_flood.p50_ms, "p99_ms": raw_flood.p99_ms},
            "jinguan_paced": {"rate": PACED_RATE, "per_s": jg_paced.per_s, "p50_ms": jg_paced.p50_ms, "p99_ms": jg_paced.p99_ms},
            "bus_paced": {"rate": PACED_RATE, "per_s": raw_paced.per_s, "p50_ms": raw_paced.p50_ms, "p99_ms": raw_paced.p99_ms},
            "ratio_flood": jg_flood.per_s / raw_flood.per_s,
        });
        let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        let path = std::path::Path::new(&dir).join("exchange-bench.json");
        if std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).is_ok() {
            println!("figures written to {}", path.display());
        }
    });
}
