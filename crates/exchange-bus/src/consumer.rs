//! The agency side on the bus: a durable pull consumer per agency, explicit acks.
//!
//! Messages arrive in chunks (whatever is ready, at most [`ConsumerConfig::batch_max`]); each
//! chunk is verified ([`Receiver::check_all`]) and applied once ([`Receiver::apply_checked`]):
//! applied ones acked, duplicates acked, refused ones (unsigned, forged, tampered, unreadable,
//! misaddressed) logged and *terminated* so JetStream never redelivers them, failed
//! applications nak'ed with a delay so they come back. A crash between applying and acking
//! redelivers the message; the applied log answers `Duplicate` and it is acked then.
//!
//! Two stages: a chunk is verified while the previous one is applied and acked (its applied
//! log transaction, with its fsync, is the stage's main wait). Chunks are applied one at a
//! time, in delivery order.

use std::time::Duration;

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, DeliverPolicy, PullConsumer},
    AckKind,
};
use futures_util::StreamExt;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::bus::{connect, ensure_stream, BusConfig, BusError};
use exchange::apply::{Disposition, Receiver, Refusal, Verified};
use exchange::message::Agency;

#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// At most this many messages verified and applied together, 1..=4096.
    pub batch_max: usize,
    /// JetStream redelivers a message not acked within this time.
    pub ack_wait: Duration,
    /// At most this many messages delivered and not yet acked.
    pub max_ack_pending: i64,
    /// A message whose application failed comes back after this delay.
    pub nak_delay: Duration,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            batch_max: 1024,
            ack_wait: Duration::from_secs(30),
            max_ack_pending: 20_000,
            nak_delay: Duration::from_secs(1),
        }
    }
}

/// What a consumer has done since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerStats {
    pub received: u64,
    pub applied: u64,
    pub duplicates: u64,
    pub refused: u64,
    /// Applications that failed (the message was nak'ed and will come again).
    pub failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ConsumerError {
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// The durable consumer of one agency: named after it, its subjects only, explicit acks,
/// all messages from the start of the stream, never giving up on redelivery.
pub fn consumer_config(bus: &BusConfig, agency: &Agency, config: &ConsumerConfig) -> pull::Config {
    pull::Config {
        durable_name: Some(agency.to_string()),
        filter_subject: bus.recipient_filter(agency),
        ack_policy: AckPolicy::Explicit,
        deliver_policy: DeliverPolicy::All,
        ack_wait: config.ack_wait,
        max_ack_pending: config.max_ack_pending,
        max_deliver: -1,
        ..Default::default()
    }
}

pub struct Consumer {
    bus: BusConfig,
    receiver: Receiver,
    config: ConsumerConfig,
    stats: Arc<watch::Sender<ConsumerStats>>,
}

impl Consumer {
    pub fn new(bus: BusConfig, receiver: Receiver, config: ConsumerConfig) -> Consumer {
        Consumer {
            bus,
            receiver,
            config,
            stats: Arc::new(watch::channel(ConsumerStats::default()).0),
        }
    }

    pub fn stats(&self) -> watch::Receiver<ConsumerStats> {
        self.stats.subscribe()
    }

    /// Run until `shutdown` becomes true, reconnecting and resubscribing as needed.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), ConsumerError> {
        let js = connect(&self.bus).await?;
        let mut backoff = Duration::from_millis(50);
        loop {
            if *shutdown.borrow() {
                return Ok(());
            }
            let mut messages = match self.subscribe(&js).await {
                Ok(m) => {
                    backoff = Duration::from_millis(50);
                    m.ready_chunks(self.config.batch_max.clamp(1, 4096))
                }
                Err(e) => {
                    tracing::warn!(agency = %self.receiver.agency(), "exchange consumer: {e}; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.changed() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            };
            // The chunk being applied and acked while the next one is verified.
            let mut applying: Option<JoinHandle<()>> = None;
            loop {
                let chunk = tokio::select! {
                    c = messages.next() => c,
                    _ = shutdown.changed() => {
                        finish(applying.take()).await;
                        return Ok(());
                    }
                };
                let Some(chunk) = chunk else { break };
                let mut ok = Vec::with_capacity(chunk.len());
                for item in chunk {
                    match item {
                        Ok(m) => ok.push(m),
                        Err(e) => {
                            tracing::debug!(agency = %self.receiver.agency(), "exchange consumer: {e}")
                        }
                    }
                }
                if ok.is_empty() {
                    continue;
                }
                let checked = self.check(&ok).await;
                finish(applying.take()).await;
                applying = Some(tokio::spawn(apply_and_ack(
                    self.receiver.clone(),
                    self.stats.clone(),
                    self.config.nak_delay,
                    ok,
                    checked,
                )));
            }
            finish(applying.take()).await;
        }
    }

    /// Verify a chunk on the blocking pool.
    async fn check(&self, messages: &[jetstream::Message]) -> Vec<Result<Verified, Refusal>> {
        let raws: Vec<bytes::Bytes> = messages.iter().map(|m| m.payload.clone()).collect();
        let receiver = self.receiver.clone();
        tokio::task::spawn_blocking(move || {
            let slices: Vec<&[u8]> = raws.iter().map(|b| b.as_ref()).collect();
            receiver.check_all(&slices)
        })
        .await
        .expect("verify task")
    }

    async fn subscribe(&self, js: &jetstream::Context) -> Result<pull::Stream, BusError> {
        let stream = ensure_stream(js, &self.bus).await?;
        let agency = self.receiver.agency();
        let consumer: PullConsumer = stream
            .get_or_create_consumer(
                agency.as_str(),
                consumer_config(&self.bus, agency, &self.config),
            )
            .await
            .map_err(|e| BusError::JetStream(format!("consumer {agency}: {e}")))?;
        consumer
            .stream()
            .max_messages_per_batch(self.config.batch_max.clamp(1, 4096))
            .heartbeat(Duration::from_secs(5))
            .messages()
            .await
            .map_err(|e| BusError::JetStream(format!("consumer {agency} messages: {e}")))
    }
}

/// Wait for the chunk being applied, if any.
async fn finish(applying: Option<JoinHandle<()>>) {
    if let Some(h) = applying {
        h.await.expect("apply task");
    }
}

/// Apply a verified chunk (refusals logged), then ack, terminate or nak each message.
async fn apply_and_ack(
    receiver: Receiver,
    stats: Arc<watch::Sender<ConsumerStats>>,
    nak_delay: std::time::Duration,
    messages: Vec<jetstream::Message>,
    checked: Vec<Result<Verified, Refusal>>,
) {
    let agency = receiver.agency().clone();
    let result = tokio::task::spawn_blocking(move || receiver.apply_checked(checked))
        .await
        .expect("apply task");
    let mut delta = ConsumerStats {
        received: messages.len() as u64,
        ..Default::default()
    };
    match result {
        Ok(dispositions) => {
            for (m, d) in messages.iter().zip(dispositions) {
                let kind = match d {
                    Disposition::Applied => {
                        delta.applied += 1;
                        AckKind::Ack
                    }
                    Disposition::Duplicate => {
                        delta.duplicates += 1;
                        AckKind::Ack
                    }
                    Disposition::Refused(_) => {
                        delta.refused += 1;
                        AckKind::Term
                    }
                    Disposition::Failed(why) => {
                        tracing::warn!(agency = %agency, "exchange apply failed, will retry: {why}");
                        delta.failed += 1;
                        AckKind::Nak(Some(nak_delay))
                    }
                };
                // An ack that does not reach the server means a redelivery, which the
                // applied log absorbs.
                if let Err(e) = m.ack_with(kind).await {
                    tracing::debug!("exchange consumer ack: {e}");
                }
            }
        }
        Err(e) => {
            tracing::warn!(agency = %agency, "exchange consumer: applied log failed, batch will be redelivered: {e}");
            delta.failed += messages.len() as u64;
            for m in &messages {
                let _ = m.ack_with(AckKind::Nak(Some(nak_delay))).await;
            }
        }
    }
    // Acks are buffered by the client: push them out before counting the batch as done, so
    // a consumer stopped right after it does not leave them unsent (they would only cause a
    // redelivery, which the applied log absorbs, but the stream would look behind).
    if let Some(m) = messages.first() {
        if let Err(e) = m.context.client().flush().await {
            tracing::debug!("exchange consumer flush: {e}");
        }
    }
    stats.send_modify(|s| {
        s.received += delta.received;
        s.applied += delta.applied;
        s.duplicates += delta.duplicates;
        s.refused += delta.refused;
        s.failed += delta.failed;
    });
}
