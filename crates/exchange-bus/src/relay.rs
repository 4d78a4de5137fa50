//! The relay: reads unpublished rows from the [`Outbox`], signs them with the sender's key,
//! publishes each to JetStream once per recipient, and marks a row published only when the
//! bus acknowledged it for every recipient. While the bus is down it retries with backoff
//! (50 ms doubling to at most [`RelayConfig::backoff_max`]) and never drops a row: the outbox
//! keeps it until the bus has it. A row published twice (a retry after a lost ack, a restart
//! between publishing and marking) is stored once: its `Nats-Msg-Id` is the same.
//!
//! Each batch read from the outbox is signed once ([`sign_batch`]: one signature over the
//! Merkle root of its envelopes, each envelope carrying the signature and its inclusion proof).
//! Publishing is pipelined: a batch's publishes are all sent, then, while their acks are
//! awaited, the next batch is read and signed on the blocking pool. Only one batch is on the
//! bus at a time, so a failed publish is retried before anything after it is sent.

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use chrono::Utc;
use tokio::sync::{watch, Notify};

use exchange::message::{Envelope, MessageError};
use exchange::outbox::{unsigned_envelope, Outbox, OutboxError, OutboxRecord};
use exchange::sign::{sign_batch, SigningKey};

use crate::bus::{bus_message_id, connect, ensure_stream, BusConfig, BusError};

#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// Rows per batch read from the outbox, 1..=4096.
    pub batch_max: usize,
    /// When nothing wakes the relay, it looks at the outbox this often anyway.
    pub idle_poll: Duration,
    pub backoff_max: Duration,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch_max: 1024,
            idle_poll: Duration::from_millis(200),
            backoff_max: Duration::from_secs(2),
        }
    }
}

/// What the relay has done, for tests and status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RelayStats {
    /// Rows marked published.
    pub published: u64,
    /// Publish attempts that failed (bus down, timeout); each was retried.
    pub failures: u64,
    pub last_error: Option<String>,
    /// Rows up to this seq are published.
    pub cursor: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error("outbox row {seq}: {source}")]
    Row { seq: u64, source: MessageError },
}

/// One row, signed and ready: (subject, JetStream message id) per recipient, and the bytes.
struct Ready {
    seq: u64,
    bytes: bytes::Bytes,
    targets: Vec<(String, String)>,
}

/// Sign a batch (one signature) and serialise it, the serialising on up to two threads.
fn prepare(
    records: Vec<OutboxRecord>,
    key: &SigningKey,
    bus: &BusConfig,
) -> Result<Vec<Ready>, RelayError> {
    if records.is_empty() {
        return Ok(Vec::new());
    }
    let mut envelopes = records
        .iter()
        .map(|r| {
            unsigned_envelope(key.agency(), r)
                .map_err(|source| RelayError::Row { seq: r.seq, source })
        })
        .collect::<Result<Vec<_>, _>>()?;
    sign_batch(&mut envelopes, key);
    let one = |e: &Envelope| -> Ready {
        let targets = e
            .recipients
            .iter()
            .map(|to| (bus.subject(to, &e.kind), bus_message_id(&e.id, to)))
            .collect();
        Ready {
            seq: e.id.seq(),
            bytes: bytes::Bytes::from(e.to_wire()),
            targets,
        }
    };
    if envelopes.len() < 64 {
        return Ok(envelopes.iter().map(one).collect());
    }
    let (a, b) = envelopes.split_at(envelopes.len() / 2);
    Ok(std::thread::scope(|s| {
        let h = s.spawn(|| a.iter().map(one).collect::<Vec<_>>());
        let second: Vec<_> = b.iter().map(one).collect();
        let mut first = h.join().expect("serialising thread");
        first.extend(second);
        first
    }))
}

pub struct Relay {
    outbox: Arc<dyn Outbox>,
    key: Arc<SigningKey>,
    bus: BusConfig,
    config: RelayConfig,
    wake: Arc<Notify>,
    stats: watch::Sender<RelayStats>,
}

impl Relay {
    /// `key` is the sender's: every row of this outbox is sent as `key.agency()`.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        key: Arc<SigningKey>,
        bus: BusConfig,
        config: RelayConfig,
    ) -> Relay {
        Relay {
            outbox,
            key,
            bus,
            config,
            wake: Arc::new(Notify::new()),
            stats: watch::channel(RelayStats::default()).0,
        }
    }

    /// Call `notify_one()` on this after committing outbox rows, so the relay does not wait
    /// for its idle poll.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    pub fn stats(&self) -> watch::Receiver<RelayStats> {
        self.stats.subscribe()
    }

    /// Run until `shutdown` becomes true. Returns an error only for what retrying cannot fix
    /// (the outbox failed, a row is malformed).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), RelayError> {
        let js = connect(&self.bus).await?;
        let mut stream_ready = false;
        let mut backoff = Duration::from_millis(50);
        let mut cursor = 0u64;
        let batch_max = self.config.batch_max.clamp(1, 4096);
        let mut next: Option<tokio::task::JoinHandle<Result<Vec<Ready>, RelayError>>> = None;
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            if !stream_ready {
                match ensure_stream(&js, &self.bus).await {
                    Ok(_) => stream_ready = true,
                    Err(e) => {
                        self.failed(e.to_string());
                        self.sleep(&mut shutdown, &mut backoff).await;
                        continue;
                    }
                }
            }
            let ready = match next.take() {
                Some(prefetched) => prefetched.await.expect("relay fetch task")?,
                None => self.fetch_and_sign(cursor, batch_max).await?,
            };
            if ready.is_empty() {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.config.idle_poll) => {}
                    _ = shutdown.changed() => {}
                }
                continue;
            }
            let sent = send_batch(&js, &ready).await;
            if sent.error.is_none() {
                // Read and sign the next batch while this one's acks come back. Should this
                // one fail, the prefetched batch is dropped and read again after the cursor.
                let last = ready.last().expect("non-empty").seq;
                next = Some(self.spawn_fetch_and_sign(last, batch_max));
            }
            let acked = await_acks(sent, ready.len()).await;
            let done: Vec<u64> = ready[..acked.count].iter().map(|r| r.seq).collect();
            if !done.is_empty() {
                let outbox = self.outbox.clone();
                let marked = done.clone();
                tokio::task::spawn_blocking(move || outbox.mark_published(&marked, Utc::now()))
                    .await
                    .expect("relay mark task")?;
                cursor = *done.last().expect("non-empty");
                self.stats.send_modify(|s| {
                    s.published += done.len() as u64;
                    s.cursor = cursor;
                });
            }
            match acked.error {
                None => backoff = Duration::from_millis(50),
                Some(e) => {
                    // The prefetched batch starts after rows that are not on the bus yet.
                    next = None;
                    tracing::warn!(stream = %self.bus.stream, "exchange relay: publish failed, retrying: {e}");
                    self.failed(e);
                    self.sleep(&mut shutdown, &mut backoff).await;
                }
            }
        }
    }

    /// Read the unpublished rows after `after` and sign them, on the blocking pool.
    fn spawn_fetch_and_sign(
        &self,
        after: u64,
        batch_max: usize,
    ) -> tokio::task::JoinHandle<Result<Vec<Ready>, RelayError>> {
        let outbox = self.outbox.clone();
        let key = self.key.clone();
        let bus = self.bus.clone();
        tokio::task::spawn_blocking(move || {
            let rows = outbox.fetch_unpublished(after, batch_max)?;
            prepare(rows, &key, &bus)
        })
    }

    async fn fetch_and_sign(&self, after: u64, batch_max: usize) -> Result<Vec<Ready>, RelayError> {
        self.spawn_fetch_and_sign(after, batch_max)
            .await
            .expect("relay fetch task")
    }

    fn failed(&self, e: String) {
        self.stats.send_modify(|s| {
            s.failures += 1;
            s.last_error = Some(e);
        });
    }

    async fn sleep(&self, shutdown: &mut watch::Receiver<bool>, backoff: &mut Duration) {
        tokio::select! {
            _ = tokio::time::sleep(*backoff) => {}
            _ = shutdown.changed() => {}
        }
        *backoff = (*backoff * 2).min(self.config.backoff_max);
    }
}

struct Acked {
    /// The first `count` rows were acknowledged for every recipient.
    count: usize,
    error: Option<String>,
}

/// The publishes of a batch that were sent, and why sending stopped, if it did.
struct Sent {
    pending: Vec<(usize, async_nats::jetstream::context::PublishAckFuture)>,
    broke_at: Option<usize>,
    error: Option<String>,
}

/// Send every publish of the batch (buffered by the client; acks come later).
async fn send_batch(js: &jetstream::Context, ready: &[Ready]) -> Sent {
    let mut pending = Vec::with_capacity(ready.len());
    for (i, r) in ready.iter().enumerate() {
        for (subject, msg_id) in &r.targets {
            let publish = PublishMessage::build()
                .payload(r.bytes.clone())
                .message_id(msg_id.as_str());
            match js.send_publish(subject.clone(), publish).await {
                Ok(ack) => pending.push((i, ack)),
                Err(e) => {
                    return Sent {
                        pending,
                        broke_at: Some(i),
                        error: Some(e.to_string()),
                    }
                }
            }
        }
    }
    Sent {
        pending,
        broke_at: None,
        error: None,
    }
}

/// Await the acks of a sent batch of `len` rows.
async fn await_acks(sent: Sent, len: usize) -> Acked {
    let Sent {
        pending,
        broke_at,
        mut error,
    } = sent;
    // A row counts only when all its recipients' publishes are acked, and rows count in order.
    let mut first_bad = broke_at.unwrap_or(len);
    // Await the acks together: each one's timeout starts when it is first polled, so awaiting
    // them one after the other would wait a timeout per message while the bus is down.
    let (rows, acks): (Vec<usize>, Vec<_>) = pending
        .into_iter()
        .map(|(i, ack)| (i, ack.into_future()))
        .unzip();
    let results = futures_util::future::join_all(acks).await;
    for (i, result) in rows.into_iter().zip(results) {
        if let Err(e) = result {
            if i < first_bad {
                first_bad = i;
            }
            error.get_or_insert_with(|| e.to_string());
        }
    }
    Acked {
        count: first_bad,
        error,
    }
}
