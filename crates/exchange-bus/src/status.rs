//! `jinguan exchange status`: per agency, messages pending, delivered, failed, refused, and
//! the lag, from what is known: the sender's outbox, the bus (each agency's durable consumer),
//! and the agencies' applied logs.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;

use crate::bus::{BusConfig, BusError};
use exchange::message::Agency;
use exchange::outbox::OutboxCounts;

/// One agency's consumer, as JetStream reports it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BusAgencyState {
    /// Messages on the agency's subjects in the stream.
    pub on_bus: u64,
    /// Not yet delivered to the consumer.
    pub num_pending: u64,
    /// Delivered, not yet acked.
    pub num_ack_pending: u64,
    /// Delivered more than once and not yet acked (failed applications, lost acks).
    pub num_redelivered: u64,
    /// Whether the agency has a durable consumer (without one, every message on its subjects
    /// is `num_pending`).
    pub consumer: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgencyStatus {
    pub agency: String,
    /// Waiting anywhere: in the outbox unpublished, on the bus undelivered or unacked.
    pub pending: u64,
    /// Acked by the agency's consumer (applied, duplicates, refused), when the bus is known.
    pub delivered: Option<u64>,
    /// Delivered but failed so far and being retried, when the bus is known.
    pub failed: Option<u64>,
    /// Delivered to the agency's durable consumer and not yet acknowledged (JetStream's
    /// `num_ack_pending`: being applied, or held by a receiver that died and will be
    /// redelivered after the ack wait), when the bus is known.
    pub unacked: Option<u64>,
    /// On the bus, not yet delivered to the consumer (JetStream's `num_pending`), when the bus
    /// is known.
    pub undelivered: Option<u64>,
    /// Whether the agency has a durable consumer on the stream (a receiver ran at least once),
    /// when the bus is known.
    pub consumer: Option<bool>,
    /// Refused (unsigned, forged, unreadable), when the agency's applied log is known.
    pub refused: Option<u64>,
    /// In the outbox and not yet on the bus, when the outbox is known.
    pub unpublished: Option<u64>,
    /// How long the oldest unpublished message has waited, in seconds.
    pub lag_s: Option<i64>,
    /// Messages the agency is behind: same as `pending`.
    pub lag_messages: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExchangeStatus {
    pub agencies: Vec<AgencyStatus>,
}

/// Combine what is known. Any source may be missing; its columns are then `None`.
pub fn compute(
    outbox: Option<&BTreeMap<Agency, OutboxCounts>>,
    bus: Option<&BTreeMap<Agency, BusAgencyState>>,
    refused: &BTreeMap<Agency, u64>,
    now: DateTime<Utc>,
) -> ExchangeStatus {
    let mut names: Vec<Agency> = Vec::new();
    names.extend(outbox.into_iter().flat_map(|o| o.keys().cloned()));
    names.extend(bus.into_iter().flat_map(|b| b.keys().cloned()));
    names.extend(refused.keys().cloned());
    names.sort();
    names.dedup();
    let agencies = names
        .into_iter()
        .map(|a| {
            let o = outbox.map(|o| o.get(&a).cloned().unwrap_or_default());
            let b = bus.map(|b| b.get(&a).cloned().unwrap_or_default());
            let unpublished = o.as_ref().map(|o| o.unpublished);
            let on_bus_waiting = b
                .as_ref()
                .map(|b| b.num_pending + b.num_ack_pending)
                .unwrap_or(0);
            let pending = unpublished.unwrap_or(0) + on_bus_waiting;
            AgencyStatus {
                agency: a.to_string(),
                pending,
                delivered: b
                    .as_ref()
                    .map(|b| b.on_bus.saturating_sub(b.num_pending + b.num_ack_pending)),
                failed: b.as_ref().map(|b| b.num_redelivered),
                unacked: b.as_ref().map(|b| b.num_ack_pending),
                undelivered: b.as_ref().map(|b| b.num_pending),
                consumer: b.as_ref().map(|b| b.consumer),
                refused: refused.get(&a).copied(),
                unpublished,
                lag_s: o
                    .as_ref()
                    .and_then(|o| o.oldest_unpublished_at)
                    .map(|t| (now - t).num_seconds().max(0)),
                lag_messages: pending,
            }
        })
        .collect();
    ExchangeStatus { agencies }
}

/// Read every agency consumer's state from the bus. Fails fast when the bus is down.
pub async fn bus_state(bus: &BusConfig) -> Result<BTreeMap<Agency, BusAgencyState>, BusError> {
    let client = bus
        .security
        .options()
        .await?
        .connection_timeout(Duration::from_secs(2))
        .connect(bus.url.as_str())
        .await
        .map_err(|e| BusError::Connect {
            url: bus.url.clone(),
            reason: e.to_string(),
        })?;
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(bus.request_timeout)
        .build(client);
    let js_err = |e: String| BusError::JetStream(e);
    let stream = js
        .get_stream(&bus.stream)
        .await
        .map_err(|e| js_err(format!("stream {}: {e}", bus.stream)))?;
    let mut out = BTreeMap::new();
    // Every agency's messages in the stream, by the recipient token of their subjects: an
    // agency without a durable consumer has its backlog here and nowhere else.
    let mut per_subject = Vec::new();
    let mut subjects = stream
        .info_with_subjects(format!("{}.>", bus.subject_prefix))
        .await
        .map_err(|e| js_err(format!("stream subjects: {e}")))?;
    while let Some(s) = subjects.next().await {
        let (subject, n) = s.map_err(|e| js_err(format!("stream subjects: {e}")))?;
        per_subject.push((subject, n as u64));
    }
    let mut consumers = stream.consumers();
    while let Some(info) = consumers.next().await {
        let info = info.map_err(|e| js_err(format!("consumers: {e}")))?;
        let Ok(agency) = Agency::parse(&info.name) else {
            continue;
        };
        let mut on_bus = 0u64;
        let mut subjects = stream
            .info_with_subjects(bus.recipient_filter(&agency))
            .await
            .map_err(|e| js_err(format!("stream subjects: {e}")))?;
        while let Some(s) = subjects.next().await {
            let (_, n) = s.map_err(|e| js_err(format!("stream subjects: {e}")))?;
            on_bus += n as u64;
        }
        out.insert(
            agency,
            BusAgencyState {
                on_bus,
                num_pending: info.num_pending,
                num_ack_pending: info.num_ack_pending as u64,
                num_redelivered: info.num_redelivered as u64,
                consumer: true,
            },
        );
    }
    add_unconsumed(&mut out, &bus.subject_prefix, per_subject);
    Ok(out)
}

/// Agencies with messages in the stream but no durable consumer: all their messages wait
/// (`num_pending`), none is delivered. Subjects are `PREFIX.RECIPIENT.KIND`.
pub fn add_unconsumed(
    out: &mut BTreeMap<Agency, BusAgencyState>,
    prefix: &str,
    per_subject: impl IntoIterator<Item = (String, u64)>,
) {
    let mut waiting: BTreeMap<Agency, u64> = BTreeMap::new();
    for (subject, n) in per_subject {
        let recipient = subject
            .strip_prefix(prefix)
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.split('.').next());
        let Some(Ok(agency)) = recipient.map(Agency::parse) else {
            continue;
        };
        if !out.contains_key(&agency) {
            *waiting.entry(agency).or_default() += n;
        }
    }
    for (agency, n) in waiting {
        out.insert(
            agency,
            BusAgencyState {
                on_bus: n,
                num_pending: n,
                num_ack_pending: 0,
                num_redelivered: 0,
                consumer: false,
            },
        );
    }
}

/// [`bus_state`] for callers without a runtime (the CLI).
pub fn bus_state_blocking(bus: &BusConfig) -> Result<BTreeMap<Agency, BusAgencyState>, BusError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| BusError::Connect {
            url: bus.url.clone(),
            reason: format!("runtime: {e}"),
        })?
        .block_on(bus_state(bus))
}

/// The bus's per-agency state for `/metrics`, fetched at most once per `every` however often
/// it is asked (a scrape must not hammer the bus): a caller within the period gets the cached
/// answer, and callers arriving while a fetch runs wait for that one fetch. A failed fetch is
/// cached too, for the same period.
pub struct LagCache {
    bus: BusConfig,
    every: Duration,
    state: tokio::sync::Mutex<Option<CachedLag>>,
    fetches: std::sync::atomic::AtomicU64,
}

struct CachedLag {
    at: tokio::time::Instant,
    state: Result<BTreeMap<Agency, BusAgencyState>, String>,
}

impl LagCache {
    pub fn new(bus: BusConfig, every: Duration) -> LagCache {
        LagCache {
            bus,
            every,
            state: tokio::sync::Mutex::new(None),
            fetches: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The state per agency (`Err(why)`: the bus could not be asked) and its age.
    pub async fn get(&self) -> (Result<BTreeMap<Agency, BusAgencyState>, String>, Duration) {
        let mut cached = self.state.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| c.at.elapsed() < self.every);
        if !fresh {
            self.fetches
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let state = bus_state(&self.bus).await.map_err(|e| e.to_string());
            *cached = Some(CachedLag {
                at: tokio::time::Instant::now(),
                state,
            });
        }
        let c = cached.as_ref().expect("filled above");
        (c.state.clone(), c.at.elapsed())
    }

    /// How many times the bus was asked.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A plain table.
pub fn render_table(status: &ExchangeStatus) -> String {
    fn opt<T: ToString>(v: Option<T>) -> String {
        v.map(|v| v.to_string()).unwrap_or_else(|| "-".to_owned())
    }
    let mut out = format!(
        "{:<12} {:>10} {:>10} {:>8} {:>8} {:>8} {:>12} {:>8} {:>8}\n",
        "agency",
        "pending",
        "delivered",
        "unacked",
        "failed",
        "refused",
        "unpublished",
        "lag_s",
        "consumer"
    );
    for a in &status.agencies {
        out.push_str(&format!(
            "{:<12} {:>10} {:>10} {:>8} {:>8} {:>8} {:>12} {:>8} {:>8}\n",
            a.agency,
            a.pending,
            opt(a.delivered),
            opt(a.unacked),
            opt(a.failed),
            opt(a.refused),
            opt(a.unpublished),
            opt(a.lag_s),
            opt(a.consumer.map(|c| if c { "yes" } else { "none" }))
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_combine_per_agency() {
        let tax = Agency::parse("TAX").unwrap();
        let forex = Agency::parse("FOREX").unwrap();
        let now = Utc::now();
        let outbox = BTreeMap::from([(
            tax.clone(),
            OutboxCounts {
                total: 10,
                unpublished: 3,
                oldest_unpublished_at: Some(now - chrono::Duration::seconds(7)),
            },
        )]);
        let bus = BTreeMap::from([
            (
                tax.clone(),
                BusAgencyState {
                    on_bus: 7,
                    num_pending: 2,
                    num_ack_pending: 1,
                    num_redelivered: 1,
                    consumer: true,
                },
            ),
            (forex.clone(), BusAgencyState::default()),
        ]);
        let refused = BTreeMap::from([(tax.clone(), 2)]);
        let s = compute(Some(&outbox), Some(&bus), &refused, now);
        assert_eq!(s.agencies.len(), 2);
        let f = &s.agencies[0];
        assert_eq!(
            (f.agency.as_str(), f.pending, f.unpublished),
            ("FOREX", 0, Some(0))
        );
        let t = &s.agencies[1];
        assert_eq!(t.agency, "TAX");
        assert_eq!(t.pending, 6);
        assert_eq!(t.delivered, Some(4));
        assert_eq!(t.failed, Some(1));
        assert_eq!(
            (t.unacked, t.undelivered, t.consumer),
            (Some(1), Some(2), Some(true))
        );
        assert_eq!(t.refused, Some(2));
        assert_eq!(t.lag_s, Some(7));
        assert!(render_table(&s).contains("TAX"));
        let none = compute(None, None, &BTreeMap::new(), now);
        assert!(none.agencies.is_empty());
    }

    #[test]
    fn an_agency_without_a_consumer_has_its_stream_messages_pending() {
        let tax = Agency::parse("TAX").unwrap();
        let mut bus = BTreeMap::from([(
            tax.clone(),
            BusAgencyState {
                on_bus: 5,
                ..Default::default()
            },
        )]);
        add_unconsumed(
            &mut bus,
            "jinguan.x",
            [
                ("jinguan.x.TAX.declaration_released.v1".to_owned(), 5),
                ("jinguan.x.POLICE.declaration_released.v1".to_owned(), 1200),
                ("jinguan.x.POLICE.duty_paid.v1".to_owned(), 151),
                ("other.x.FOREX.y".to_owned(), 9),
            ],
        );
        assert_eq!(
            bus[&tax].num_pending, 0,
            "TAX has a consumer: its own counts"
        );
        let s = compute(None, Some(&bus), &BTreeMap::new(), Utc::now());
        let p = s.agencies.iter().find(|a| a.agency == "POLICE").unwrap();
        assert_eq!((p.pending, p.delivered), (1351, Some(0)));
        assert_eq!((p.unacked, p.consumer), (Some(0), Some(false)));
        assert_eq!(s.agencies.len(), 2);
    }
}
