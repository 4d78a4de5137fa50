//! Prometheus metrics at `GET /metrics` (text exposition format 0.0.4): requests by route,
//! method and status with latency histograms, sign-ins, lockouts and rate-limit hits,
//! connections, the store's writer (queue depth, group sizes, commit times) and the exchange
//! outbox per agency (unpublished rows and the age of the oldest, rows the agency has not
//! acknowledged on the feed). Labels are route templates (`/api/declarations/{id}`) and one of a fixed set
//! of methods (any other method is `other`), never values from a request, so the series stay
//! few and carry no documents or secrets. A scrape copies the counts and renders them after
//! the lock is released, so requests are not held up while the text is built.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::conn::ConnStats;
use crate::signin::SignInGuard;

/// A bus-lag series: its name, its help text and the figure it takes from a row.
type LagSeries = (&'static str, &'static str, fn(&BusLagRow) -> u64);

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The counters of one server.
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, &'static str, u16), Series>>,
    signin: Arc<SignInGuard>,
    conns: Arc<ConnStats>,
    store: Option<Arc<dyn store::Store>>,
    bus_lag: Option<BusLag>,
}

/// One agency's backlog on the exchange bus (JetStream), as [`BusLag`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusLagRow {
    pub agency: String,
    /// Not yet delivered to the agency's durable consumer; without a consumer, every message on
    /// the agency's subjects in the stream.
    pub pending: u64,
    /// Delivered to the consumer, not yet acknowledged.
    pub unacknowledged: u64,
    /// Whether the agency has a durable consumer.
    pub consumer: bool,
}

/// The bus's per-agency backlog as last fetched: `Err(why)` when the bus could not be asked
/// (`why` goes to the log only), and how old the answer is.
#[derive(Clone, Debug)]
pub struct BusLagSnapshot {
    pub rows: Result<Vec<BusLagRow>, String>,
    pub age_seconds: f64,
}

/// Asks the exchange bus for its per-agency backlog (`jinguan serve --nats`); the
/// implementation caches (at most one bus query per period, however often `/metrics` is
/// scraped: `exchange_bus::status::LagCache`).
pub type BusLag = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = BusLagSnapshot> + Send>>
        + Send
        + Sync,
>;

/// The bus series of a scrape: whether the bus answered, the age of the answer, and per
/// agency its pending and unacknowledged messages and whether it has a consumer.
pub fn render_bus(snapshot: &BusLagSnapshot) -> String {
    let mut out = String::new();
    let up = u8::from(snapshot.rows.is_ok());
    let _ = writeln!(
        out,
        "# HELP jinguan_exchange_bus_up Whether the exchange bus answered the last backlog query.\n# TYPE jinguan_exchange_bus_up gauge\njinguan_exchange_bus_up {up}"
    );
    let _ = writeln!(
        out,
        "# HELP jinguan_exchange_bus_lag_age_seconds Age of the bus backlog figures (they are fetched at most once per period).\n# TYPE jinguan_exchange_bus_lag_age_seconds gauge\njinguan_exchange_bus_lag_age_seconds {}",
        snapshot.age_seconds
    );
    let Ok(rows) = &snapshot.rows else {
        return out;
    };
    let series: [LagSeries; 3] = [
        (
            "jinguan_exchange_bus_pending",
            "Messages on the bus not yet delivered to the agency's consumer (without a consumer: every message on its subjects).",
            |r| r.pending,
        ),
        (
            "jinguan_exchange_bus_unacknowledged",
            "Messages delivered to the agency's consumer and not yet acknowledged.",
            |r| r.unacknowledged,
        ),
        (
            "jinguan_exchange_bus_consumer",
            "Whether the agency has a durable consumer on the bus (1) or not (0).",
            |r| u64::from(r.consumer),
        ),
    ];
    for (name, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for r in rows {
            let _ = writeln!(
                out,
                "{name}{{agency=\"{}\"}} {}",
                label(&r.agency),
                value(r)
            );
        }
    }
    out
}

impl Metrics {
    pub fn new(signin: Arc<SignInGuard>, conns: Arc<ConnStats>) -> Arc<Metrics> {
        Metrics::with_store(signin, conns, None)
    }

    /// With the store's writer and outbox series.
    pub fn with_store(
        signin: Arc<SignInGuard>,
        conns: Arc<ConnStats>,
        store: Option<Arc<dyn store::Store>>,
    ) -> Arc<Metrics> {
        Metrics::with_bus(signin, conns, store, None)
    }

    /// With the exchange bus's backlog per agency too.
    pub fn with_bus(
        signin: Arc<SignInGuard>,
        conns: Arc<ConnStats>,
        store: Option<Arc<dyn store::Store>>,
        bus_lag: Option<BusLag>,
    ) -> Arc<Metrics> {
        Arc::new(Metrics {
            requests: Mutex::default(),
            signin,
            conns,
            store,
            bus_lag,
        })
    }

    /// The store's series (reads the outbox: run off the async workers). A store that cannot
    /// be read leaves the outbox series out of this scrape.
    pub fn render_store(&self, now: chrono::DateTime<chrono::Utc>) -> String {
        let mut out = String::new();
        let Some(store) = &self.store else {
            return out;
        };
        let _ = writeln!(
            out,
            "# HELP jinguan_writer_queue_depth Write requests waiting for the store's writer (queued or in the batch being committed).\n# TYPE jinguan_writer_queue_depth gauge\njinguan_writer_queue_depth {}",
            store.writer_queue_depth()
        );
        if let Some(w) = store.writer_stats() {
            out.push_str("# HELP jinguan_writer_batch_size Requests per committed batch (group commit size).\n# TYPE jinguan_writer_batch_size histogram\n");
            let mut cumulative = 0u64;
            for (i, le) in store::writer::BATCH_SIZE_BUCKETS.iter().enumerate() {
                cumulative += w.batch_sizes[i];
                if *le == u64::MAX {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "jinguan_writer_batch_size_bucket{{le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "jinguan_writer_batch_size_bucket{{le=\"+Inf\"}} {}",
                w.batches
            );
            let _ = writeln!(out, "jinguan_writer_batch_size_sum {}", w.requests);
            let _ = writeln!(out, "jinguan_writer_batch_size_count {}", w.batches);
            out.push_str("# HELP jinguan_writer_commit_seconds Time of one batch's transaction, begin to commit.\n# TYPE jinguan_writer_commit_seconds histogram\n");
            let mut cumulative = 0u64;
            for (i, le) in store::writer::COMMIT_SECONDS_BUCKETS.iter().enumerate() {
                cumulative += w.commit_times[i];
                let _ = writeln!(
                    out,
                    "jinguan_writer_commit_seconds_bucket{{le=\"{le}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "jinguan_writer_commit_seconds_bucket{{le=\"+Inf\"}} {}",
                w.batches
            );
            let _ = writeln!(
                out,
                "jinguan_writer_commit_seconds_sum {}",
                w.commit_micros as f64 / 1e6
            );
            let _ = writeln!(out, "jinguan_writer_commit_seconds_count {}", w.batches);
        }
        let Some(outbox) = store.outbox_store() else {
            return out;
        };
        let Ok(counts) = outbox.counts() else {
            return out;
        };
        out.push_str("# HELP jinguan_outbox_unpublished Exchange messages for the agency not yet published on the bus (relay lag).\n# TYPE jinguan_outbox_unpublished gauge\n");
        for (agency, c) in &counts {
            let _ = writeln!(
                out,
                "jinguan_outbox_unpublished{{agency=\"{}\"}} {}",
                label(agency),
                c.unpublished
            );
        }
        out.push_str("# HELP jinguan_outbox_oldest_unpublished_seconds Age of the agency's oldest unpublished message (0: none).\n# TYPE jinguan_outbox_oldest_unpublished_seconds gauge\n");
        for (agency, c) in &counts {
            let age = c.oldest_unpublished_at.map_or(0.0, |t| {
                ((now - t).num_milliseconds().max(0) as f64) / 1000.0
            });
            let _ = writeln!(
                out,
                "jinguan_outbox_oldest_unpublished_seconds{{agency=\"{}\"}} {age}",
                label(agency)
            );
        }
        out.push_str("# HELP jinguan_exchange_unacknowledged Messages for the agency beyond its acknowledged feed cursor (exchange lag on the HTTP feed).\n# TYPE jinguan_exchange_unacknowledged gauge\n");
        for (agency, c) in &counts {
            let _ = writeln!(
                out,
                "jinguan_exchange_unacknowledged{{agency=\"{}\"}} {}",
                label(agency),
                c.total.saturating_sub(c.acked)
            );
        }
        out
    }

    fn record(&self, route: String, method: &'static str, status: u16, seconds: f64) {
        let mut map = self.requests.lock().expect("metrics lock");
        let s = map.entry((route, method, status)).or_default();
        s.count += 1;
        s.sum += seconds;
        for (i, le) in BUCKETS.iter().enumerate() {
            if seconds <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str("# HELP jinguan_http_requests_total HTTP requests answered, by route template, method and status.\n");
        out.push_str("# TYPE jinguan_http_requests_total counter\n");
        let map = self.requests.lock().expect("metrics lock").clone();
        for ((route, method, status), s) in map.iter() {
            let _ = writeln!(
                out,
                "jinguan_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP jinguan_http_request_duration_seconds Time from request headers to response headers.\n");
        out.push_str("# TYPE jinguan_http_request_duration_seconds histogram\n");
        for ((route, method, status), s) in map.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "jinguan_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {}",
                    s.buckets[i]
                );
            }
            let _ = writeln!(
                out,
                "jinguan_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "jinguan_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum
            );
            let _ = writeln!(
                out,
                "jinguan_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
        let counters = [
            (
                "jinguan_sign_in_failures_total",
                "Sign-ins refused for a wrong login or password.",
                "counter",
                self.signin.failures() as u64,
            ),
            (
                "jinguan_sign_in_lockouts_total",
                "Lockouts begun after repeated failures (per login or client address).",
                "counter",
                self.signin.lockouts() as u64,
            ),
            (
                "jinguan_sign_in_rate_limited_total",
                "Sign-ins answered 429 because the login or address was locked.",
                "counter",
                self.signin.rate_limited() as u64,
            ),
            (
                "jinguan_sign_in_checks_in_flight",
                "Password checks running now.",
                "gauge",
                self.signin.active() as u64,
            ),
            (
                "jinguan_connections_open",
                "HTTP connections served now.",
                "gauge",
                self.conns.open.load(std::sync::atomic::Ordering::Relaxed) as u64,
            ),
            (
                "jinguan_connections_refused_total",
                "Connections answered 503 for the connection limit.",
                "counter",
                self.conns
                    .refused
                    .load(std::sync::atomic::Ordering::Relaxed) as u64,
            ),
        ];
        for (name, help, kind, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

/// The middleware that times every request.
pub(crate) async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = method_label(req.method());
    let started = Instant::now();
    let request_id = next_request_id();
    let (mut resp, principal) = PRINCIPAL_KIND
        .scope(std::cell::Cell::new("-"), async {
            let resp = next.run(req).await;
            (resp, PRINCIPAL_KIND.with(std::cell::Cell::get))
        })
        .await;
    let elapsed = started.elapsed();
    let status = resp.status().as_u16();
    // One line per request (target `http_request`, INFO): ids, the route template, never the
    // path's values, a query, a header, a body or a token.
    tracing::info!(
        target: "http_request",
        request_id = %request_id,
        method,
        route = %route,
        status,
        latency_ms = (elapsed.as_secs_f64() * 1e6).round() / 1e3,
        principal,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    m.record(route, method, status, elapsed.as_secs_f64());
    resp
}

tokio::task_local! {
    /// The kind of principal the request was signed in as (`Principal::kind`), set by the
    /// handler when it authenticates; `-` when it did not.
    static PRINCIPAL_KIND: std::cell::Cell<&'static str>;
}

/// Note the kind of the request's principal for its log line (no-op outside a request).
pub(crate) fn note_principal(kind: &'static str) {
    let _ = PRINCIPAL_KIND.try_with(|c| c.set(kind));
}

/// A request id unique within the process and unlikely to repeat across restarts: a prefix
/// from the start time and process id, and a counter.
fn next_request_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::OnceLock;
    static PREFIX: OnceLock<u32> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let prefix = PREFIX.get_or_init(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
        nanos ^ std::process::id().rotate_left(16)
    });
    format!("{prefix:08x}-{:x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The method's label: one of a fixed set, so that made-up methods (hyper accepts any
/// token) add no series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// An agency code as a label value: only its safe characters (codes are upper-case letters).
fn label(agency: &str) -> String {
    agency
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

/// `GET /metrics`.
pub(crate) async fn scrape(State(m): State<Arc<Metrics>>) -> Response {
    let mut text = m.render();
    let for_store = m.clone();
    if let Ok(store_text) =
        tokio::task::spawn_blocking(move || for_store.render_store(chrono::Utc::now())).await
    {
        text.push_str(&store_text);
    }
    if let Some(lag) = &m.bus_lag {
        // The implementation caches; the bound keeps a hung bus from holding the scrape.
        let snapshot = tokio::time::timeout(std::time::Duration::from_secs(5), lag())
            .await
            .unwrap_or_else(|_| BusLagSnapshot {
                rows: Err("the bus backlog query timed out".into()),
                age_seconds: 0.0,
            });
        if let Err(why) = &snapshot.rows {
            tracing::warn!(error = %why, "exchange bus backlog not available for /metrics");
        }
        text.push_str(&render_bus(&snapshot));
    }
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bus_series_per_agency_and_none_when_the_bus_is_down() {
        let snapshot = BusLagSnapshot {
            rows: Ok(vec![
                BusLagRow {
                    agency: "FOREX".into(),
                    pending: 3,
                    unacknowledged: 1,
                    consumer: true,
                },
                BusLagRow {
                    agency: "TA\"X".into(),
                    pending: 7,
                    unacknowledged: 0,
                    consumer: false,
                },
            ]),
            age_seconds: 2.5,
        };
        let text = render_bus(&snapshot);
        for line in [
            "jinguan_exchange_bus_up 1",
            "jinguan_exchange_bus_lag_age_seconds 2.5",
            "jinguan_exchange_bus_pending{agency=\"FOREX\"} 3",
            "jinguan_exchange_bus_unacknowledged{agency=\"FOREX\"} 1",
            "jinguan_exchange_bus_consumer{agency=\"FOREX\"} 1",
            "jinguan_exchange_bus_pending{agency=\"TAX\"} 7",
            "jinguan_exchange_bus_consumer{agency=\"TAX\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
        let down = render_bus(&BusLagSnapshot {
            rows: Err("connection refused".into()),
            age_seconds: 0.0,
        });
        assert!(down.contains("jinguan_exchange_bus_up 0"));
        assert!(!down.contains("jinguan_exchange_bus_pending{"));
        assert!(!down.contains("refused"), "the error goes to the log only");
    }

    #[test]
    fn methods_map_to_a_fixed_set() {
        for (m, label) in [
            ("GET", "GET"),
            ("POST", "POST"),
            ("PATCH", "PATCH"),
            ("FOO1", "other"),
            ("get", "other"),
            ("CONNECT", "other"),
        ] {
            assert_eq!(
                method_label(&Method::from_bytes(m.as_bytes()).unwrap()),
                label,
                "{m}"
            );
        }
    }
}
