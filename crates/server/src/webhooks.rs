//! The webhook worker (issue 18 item 4): what `jinguan serve` POSTs to the enterprises'
//! subscriptions (`app::webhooks`, `store::webhooks`; docs/FORMATS.md "Webhooks").
//!
//! - One task per active subscription, started by a supervisor that lists the subscriptions
//!   every [`WebhookSettings::poll`]; a slow or dead receiver holds only its own task, and the
//!   writer sees one short write per attempt.
//! - A task reads the enterprise's notifications after the subscription's cursor, exactly as
//!   the inbox does (`StepService::notifications`, the same order), and POSTs the first one
//!   the subscription wants, signed (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>`). Every attempt is
//!   logged; the cursor moves only after a 2xx (at least once: a crash between the answer
//!   and the write sends that one again, with the same id).
//! - Failures are retried with exponential back-off and jitter, from
//!   [`WebhookSettings::retry_base`] doubling up to [`WebhookSettings::retry_max`]; a
//!   subscription failing for longer than [`WebhookSettings::give_up_after`] is disabled until
//!   its owner enables it. Each request has [`WebhookSettings::timeout`] in all (resolve,
//!   connect, TLS, answer).
//! - Addresses: the host is resolved here and the address connected to is the one checked,
//!   so a name that resolves to a private or local address is refused (no rebinding between
//!   check and use), unless the operator set [`WebhookSettings::allow_private`]
//!   (docs/SECURITY.md "Webhooks"). Redirects are not followed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::notifications::{Notification, NotificationQuery, NOTIFICATIONS_MAX};
use app::webhooks::WebhookService;
use axum::http::{header, HeaderValue, Request};
use hyper_util::rt::TokioIo;
use store::webhooks::{
    is_local_name, is_private, parse_url, signature, DeliveryAttempt, Position, StoredWebhook,
    WebhookFormat, WebhookStatus, WebhookUrl, WebhookWrite,
};
use store::DeclarationKey;
use tokio::sync::watch;

use crate::Svc;

/// The operator's settings of webhook delivery (`jinguan serve --webhook-…`;
/// docs/OPERATIONS.md).
#[derive(Clone, Debug)]
pub struct WebhookSettings {
    /// Run the worker in this process.
    pub deliver: bool,
    /// Deliver to private and local addresses (and accept such literal addresses in URLs).
    pub allow_private: bool,
    /// One request, all in.
    pub timeout: Duration,
    /// The first retry's delay; each next one doubles, up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// A subscription failing for this long is disabled.
    pub give_up_after: Duration,
    /// How often subscriptions and their notifications are looked for.
    pub poll: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            deliver: true,
            allow_private: false,
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(1),
        }
    }
}

/// The user agent of deliveries.
const USER_AGENT: &str = concat!("jinguan-webhooks/", env!("CARGO_PKG_VERSION"));
/// An idle subscription's cursor is written at most this often (it is kept in memory between).
const IDLE_PERSIST: Duration = Duration::from_secs(10);

/// The delay before retry number `failures` (1: the first retry): `base · 2^(failures-1)`,
/// at most `max`, times a random factor in [0.5, 1] (jitter, so that receivers coming back
/// are not hit by every sender at once).
pub fn backoff(failures: u32, base: Duration, max: Duration, random: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let full = base.saturating_mul(1u32 << exp.min(31)).min(max);
    let factor = 0.5 + f64::from(random % 1001) / 2000.0;
    full.mul_f64(factor)
}

/// A number for the jitter: the standard library's hasher keys are random per process, and
/// mixed with the time they are good enough to spread retries (no secret rests on it).
fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish() as u32
}

/// Wait for `d`, or less if the server stops; `true` when it stops.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return true;
    }
    let gone = tokio::select! {
        () = tokio::time::sleep(d) => false,
        r = stop.changed() => r.is_err(),
    };
    gone || *stop.borrow()
}

/// The supervisor: one task per active subscription, until `stop`; the tasks are then ended
/// (a request in flight is cut: it is sent again at the next start, with the same id).
pub(crate) async fn run(svc: Svc, settings: Arc<WebhookSettings>, mut stop: watch::Receiver<bool>) {
    let mut tasks: HashMap<i64, tokio::task::JoinHandle<()>> = HashMap::new();
    let tls = Arc::new(std::sync::OnceLock::new());
    loop {
        let s = svc.clone();
        let listed = tokio::task::spawn_blocking(move || {
            s.store()
                .webhook_store()
                .map(|w| w.all_webhooks())
                .unwrap_or_else(|| Ok(Vec::new()))
        })
        .await;
        match listed {
            Ok(Ok(all)) => {
                tasks.retain(|_, h| !h.is_finished());
                for w in all {
                    if w.status == WebhookStatus::Active && !tasks.contains_key(&w.id) {
                        let task = Subscription {
                            svc: svc.clone(),
                            settings: settings.clone(),
                            tls: tls.clone(),
                            id: w.id,
                            stop: stop.clone(),
                            memory: None,
                            persisted: Instant::now(),
                        };
                        tasks.insert(w.id, tokio::spawn(task.run()));
                    }
                }
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "webhooks: listing subscriptions failed"),
            Err(e) => tracing::warn!(error = %e, "webhooks: listing task failed"),
        }
        if sleep_or_stop(settings.poll, &mut stop).await {
            break;
        }
    }
    for (_, h) in tasks.drain() {
        h.abort();
        let _ = h.await;
    }
}

/// One subscription's delivery loop.
struct Subscription {
    svc: Svc,
    settings: Arc<WebhookSettings>,
    tls: Arc<std::sync::OnceLock<Result<tokio_rustls::TlsConnector, String>>>,
    id: i64,
    stop: watch::Receiver<bool>,
    /// The cursor as this task knows it (ahead of the stored one past idle records), under
    /// the generation it was read with.
    memory: Option<(i64, Position)>,
    persisted: Instant,
}

/// The next thing to send, with the cursor after it.
enum Next {
    Send {
        item: Notification,
        seq: i64,
        to: Position,
    },
    /// Nothing wanted up to `to`.
    Nothing { to: Position, more: bool },
}

impl Subscription {
    async fn run(mut self) {
        loop {
            if *self.stop.borrow() {
                return;
            }
            let (svc, id) = (self.svc.clone(), self.id);
            let read = tokio::task::spawn_blocking(move || {
                svc.store().webhook_store().map(|w| w.webhook(id))
            })
            .await;
            let w = match read {
                Ok(Some(Ok(Some(w)))) if w.status == WebhookStatus::Active => w,
                // Deleted or disabled: the supervisor starts a new task if it is enabled.
                Ok(Some(Ok(_))) | Ok(None) => return,
                _ => {
                    if sleep_or_stop(self.settings.poll, &mut self.stop).await {
                        return;
                    }
                    continue;
                }
            };
            let pos = match self.memory {
                Some((g, p)) if g == w.generation => p.max(w.cursor),
                _ => w.cursor,
            };
            let next = match self.next(&w, pos).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::debug!(webhook = w.id, error = %e, "webhooks: reading notifications failed");
                    if sleep_or_stop(self.settings.poll, &mut self.stop).await {
                        return;
                    }
                    continue;
                }
            };
            match next {
                Next::Nothing { to, more } => {
                    if to > pos {
                        self.memory = Some((w.generation, to));
                        if self.persisted.elapsed() >= IDLE_PERSIST {
                            self.write(WebhookWrite::Advance {
                                id: w.id,
                                generation: w.generation,
                                to,
                            })
                            .await;
                            self.persisted = Instant::now();
                        }
                    }
                    if !more && sleep_or_stop(self.settings.poll, &mut self.stop).await {
                        return;
                    }
                }
                Next::Send { item, seq, to } => {
                    let body = match self.body(&w, &item, seq).await {
                        Ok(Some(b)) => b,
                        Ok(None) => {
                            // Nothing of this format for it (an XML subscription and an event
                            // that changed no status): past it.
                            self.memory = Some((w.generation, to));
                            continue;
                        }
                        Err(e) => {
                            tracing::debug!(webhook = w.id, error = %e, "webhooks: building a body failed");
                            if sleep_or_stop(self.settings.poll, &mut self.stop).await {
                                return;
                            }
                            continue;
                        }
                    };
                    let attempt = self.send(&w, &item.id, seq, body).await;
                    let delivered = attempt.delivered();
                    let now = chrono::Utc::now();
                    let disable = !delivered
                        && w.failing_since.is_some_and(|since| {
                            (now - since).to_std().unwrap_or_default()
                                >= self.settings.give_up_after
                        });
                    self.write(WebhookWrite::Attempt {
                        attempt,
                        generation: w.generation,
                        to,
                        disable,
                    })
                    .await;
                    if delivered {
                        self.memory = Some((w.generation, to));
                        self.persisted = Instant::now();
                    } else {
                        if disable {
                            tracing::warn!(
                                webhook = w.id,
                                "webhook disabled: failing for too long"
                            );
                            return;
                        }
                        let wait = backoff(
                            w.failures + 1,
                            self.settings.retry_base,
                            self.settings.retry_max,
                            random_u32(),
                        );
                        if sleep_or_stop(wait, &mut self.stop).await {
                            return;
                        }
                    }
                }
            }
        }
    }

    /// A write of the worker; a failure is logged (the attempt is made again, or the cursor
    /// written later).
    async fn write(&self, w: WebhookWrite) {
        let svc = self.svc.clone();
        let done = tokio::task::spawn_blocking(move || {
            svc.store()
                .webhook_store()
                .map(|s| s.write_webhook(w))
                .transpose()
        })
        .await;
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(webhook = self.id, error = %e, "webhooks: write failed"),
            Err(e) => tracing::warn!(webhook = self.id, error = %e, "webhooks: write task failed"),
        }
    }

    /// The first notification after `pos` the subscription wants.
    async fn next(&self, w: &StoredWebhook, pos: Position) -> Result<Next, String> {
        let principal = WebhookService::principal_of(w).ok_or("bad owner")?;
        let svc = self.svc.clone();
        let page = tokio::task::spawn_blocking(move || {
            svc.steps().notifications(
                &principal,
                NotificationQuery::After(pos.record - 1),
                NOTIFICATIONS_MAX,
            )
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        let mut current = None;
        let mut index = 0u32;
        for item in page.items {
            let seq: i64 = item.cursor.parse().map_err(|_| "bad cursor")?;
            if current == Some(seq) {
                index += 1;
            } else {
                current = Some(seq);
                index = 0;
            }
            if seq < pos.record || (seq == pos.record && index < pos.item) {
                continue;
            }
            if !w.events.is_empty() && !w.events.contains(&item.kind) {
                continue;
            }
            let to = Position {
                record: seq,
                item: index + 1,
            };
            return Ok(Next::Send { item, seq, to });
        }
        let scanned: i64 = page.cursor.parse().map_err(|_| "bad cursor")?;
        Ok(Next::Nothing {
            to: Position {
                record: scanned + 1,
                item: 0,
            }
            .max(pos),
            more: page.more,
        })
    }

    /// The body of a notification in the subscription's format, with its content type;
    /// `None` when the format has nothing for it.
    async fn body(
        &self,
        w: &StoredWebhook,
        item: &Notification,
        seq: i64,
    ) -> Result<Option<(&'static str, Vec<u8>)>, String> {
        match w.format {
            WebhookFormat::Json => {
                let body = serde_json::json!({
                    "type": format!("declaration.{}", item.kind),
                    "timestamp": item.at,
                    "seq": seq,
                    "data": item,
                });
                Ok(Some(("application/json", body.to_string().into_bytes())))
            }
            WebhookFormat::Xml => {
                // An event's id is `{declaration}-{seq}`; a document's `{declaration}-a{record}`.
                let Some(event_seq) = item
                    .id
                    .rsplit_once('-')
                    .and_then(|(_, s)| s.parse::<u64>().ok())
                else {
                    return Ok(None);
                };
                let principal = WebhookService::principal_of(w).ok_or("bad owner")?;
                let svc = self.svc.clone();
                let id = item.declaration_id;
                let detail = tokio::task::spawn_blocking(move || {
                    svc.steps().get(&principal, DeclarationKey::Id(id))
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                let events: Vec<(u64, clearance::Event)> = detail
                    .events
                    .into_iter()
                    .map(|e| (e.seq, e.event))
                    .collect();
                let date = |k: &str| {
                    detail
                        .declaration
                        .get(k)
                        .and_then(|v| v.as_str())
                        .map(str::to_owned)
                };
                let receipts = formats::receipt::receipts(
                    &events,
                    date("ie_date").as_deref(),
                    date("declaration_date").as_deref(),
                );
                Ok(receipts
                    .iter()
                    .find(|r| r.event_seq == event_seq)
                    .map(|r| ("application/xml", formats::receipt::print(r).into_bytes())))
            }
        }
    }

    /// One attempt, timed; never longer than the timeout.
    async fn send(
        &self,
        w: &StoredWebhook,
        event_id: &str,
        seq: i64,
        (content_type, body): (&'static str, Vec<u8>),
    ) -> DeliveryAttempt {
        let at = chrono::Utc::now();
        let started = Instant::now();
        let outcome = match parse_url(&w.url) {
            Err(_) => Err("the URL is no longer accepted".to_owned()),
            Ok(url) => {
                let timestamp = at.timestamp();
                match signature(&w.secret, event_id, timestamp, &body) {
                    None => Err("the subscription's secret is damaged".to_owned()),
                    Some(sig) => {
                        let headers = [
                            ("content-type", content_type.to_owned()),
                            ("webhook-id", event_id.to_owned()),
                            ("webhook-timestamp", timestamp.to_string()),
                            ("webhook-signature", sig),
                            ("jinguan-seq", seq.to_string()),
                            ("user-agent", USER_AGENT.to_owned()),
                        ];
                        match tokio::time::timeout(
                            self.settings.timeout,
                            self.post(&url, &headers, body),
                        )
                        .await
                        {
                            Ok(r) => r,
                            Err(_) => Err(format!(
                                "timed out after {} ms",
                                self.settings.timeout.as_millis()
                            )),
                        }
                    }
                }
            }
        };
        let duration_ms = started.elapsed().as_millis() as u64;
        let (status_code, error) = match outcome {
            Ok(s) if (200..300).contains(&s) => (Some(s), None),
            Ok(s) => (Some(s), Some(format!("the receiver answered {s}"))),
            Err(e) => (None, Some(e)),
        };
        DeliveryAttempt {
            webhook_id: w.id,
            event_id: event_id.to_owned(),
            seq,
            at,
            status_code,
            error,
            duration_ms,
        }
    }

    /// POST the body; the receiver's status.
    async fn post(
        &self,
        url: &WebhookUrl,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<u16, String> {
        let allow = self.settings.allow_private;
        if !allow && is_local_name(&url.host) {
            return Err(format!("address refused: {} is local", url.host));
        }
        let addrs: Vec<std::net::SocketAddr> =
            tokio::net::lookup_host((url.host.as_str(), url.port))
                .await
                .map_err(|e| format!("cannot resolve {}: {e}", url.host))?
                .collect();
        let addr = addrs
            .iter()
            .find(|a| allow || !is_private(a.ip()))
            .copied()
            .ok_or_else(|| {
                if addrs.is_empty() {
                    format!("{} resolves to no address", url.host)
                } else {
                    format!(
                        "address refused: {} resolves to a private or local address ({})",
                        url.host,
                        addrs[0].ip()
                    )
                }
            })?;
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let authority = if (url.https && url.port == 443) || (!url.https && url.port == 80) {
            bracketed(&url.host)
        } else {
            format!("{}:{}", bracketed(&url.host), url.port)
        };
        let mut req = Request::post(url.path_and_query.as_str())
            .header(header::HOST, authority)
            .body(axum::body::Body::from(body))
            .map_err(|e| format!("bad request: {e}"))?;
        for (k, v) in headers {
            let v = HeaderValue::from_str(v).map_err(|e| format!("bad header: {e}"))?;
            req.headers_mut().insert(*k, v);
        }
        if url.https {
            let connector = self
                .tls
                .get_or_init(tls_connector)
                .clone()
                .map_err(|e| format!("TLS: {e}"))?;
            let name = rustls::pki_types::ServerName::try_from(url.host.clone())
                .map_err(|e| format!("TLS name {}: {e}", url.host))?;
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {}: {e}", url.host))?;
            exchange(TokioIo::new(stream), req).await
        } else {
            exchange(TokioIo::new(tcp), req).await
        }
    }
}

fn bracketed(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// One HTTP/1.1 request on a fresh connection; the answer's status (the body is not read).
async fn exchange<I>(io: I, req: Request<axum::body::Body>) -> Result<u16, String>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    let answer = sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP: {e}"));
    conn.abort();
    Ok(answer?.status().as_u16())
}

/// The system's CA certificates, once.
fn tls_connector() -> Result<tokio_rustls::TlsConnector, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        return Err("no system CA certificates found".into());
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_its_bounds_with_jitter() {
        let base = Duration::from_secs(5);
        let max = Duration::from_secs(3600);
        // The top of the jitter (factor 1) and its bottom (0.5).
        assert_eq!(backoff(1, base, max, 1000), Duration::from_secs(5));
        assert_eq!(backoff(1, base, max, 0), Duration::from_millis(2500));
        assert_eq!(backoff(3, base, max, 1000), Duration::from_secs(20));
        assert_eq!(backoff(20, base, max, 1000), max);
        assert_eq!(backoff(u32::MAX, base, max, 1000), max);
        for r in [0, 17, 500, 999, u32::MAX] {
            let d = backoff(4, base, max, r);
            assert!(
                d >= Duration::from_secs(20) && d <= Duration::from_secs(40),
                "{d:?}"
            );
        }
    }
}
