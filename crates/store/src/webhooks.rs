//! Webhook subscriptions and their deliveries (issue 18 item 4): an enterprise (or a broker)
//! subscribes a URL to the notifications of the declarations it may see; `jinguan serve`'s
//! worker (`server::webhooks`) POSTs each after the subscription's cursor, and records every
//! attempt here.
//!
//! What is kept, per subscription: its owner (the enterprise's USCC), the URL, the event kinds
//! chosen, the body's format, the signing secret (needed in clear to sign: it is never
//! listed, and shown once at creation), the status (`active`, or `disabled` after failing
//! too long), the cursor ([`Position`]) and a generation that a replay bumps, the current run
//! of failures; and the log of attempts (the newest [`DELIVERIES_KEPT`]).
//!
//! The cursor only moves forward by [`WebhookWrite::Attempt`] (after a 2xx) and
//! [`WebhookWrite::Advance`] (past records that gave the subscription nothing), each only if
//! written under the generation the worker read: a replay ([`WebhookWrite::Replay`]) bumps the
//! generation, so a delivery in flight when the owner replays cannot move the cursor past the
//! replay point. Moves forward are monotonic (never back), so two `jinguan serve` processes
//! delivering the same subscription cannot undo each other's progress.

use chrono::{DateTime, Utc};
use clearance::Actor;
use serde::Serialize;

use crate::StoreError;

/// At most this many subscriptions per owner.
pub const WEBHOOKS_PER_OWNER: usize = 10;
/// The delivery log keeps this many attempts per subscription (older ones are dropped in the
/// same write).
pub const DELIVERIES_KEPT: i64 = 1_000;
/// At most this many attempts in one read of the log.
pub const DELIVERIES_MAX: u32 = 200;
/// The longest URL accepted, in bytes.
pub const URL_MAX: usize = 2_048;
/// The longest error text kept with an attempt, in characters.
pub const ERROR_MAX: usize = 500;

/// The body a subscription receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// `{type, timestamp, seq, data}`, `data` the notification as the inbox gives it.
    Json,
    /// The single-window `DEC_RESULT` receipt of the status change (events that change no
    /// status are not sent).
    Xml,
}

impl WebhookFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Xml => "xml",
        }
    }
    pub fn parse(s: &str) -> Option<WebhookFormat> {
        match s {
            "json" => Some(WebhookFormat::Json),
            "xml" => Some(WebhookFormat::Xml),
            _ => None,
        }
    }
}

/// Whether the worker delivers to a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    Active,
    /// Failed for longer than the operator's bound: nothing is sent until the owner enables it.
    Disabled,
}

impl WebhookStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookStatus::Active => "active",
            WebhookStatus::Disabled => "disabled",
        }
    }
    pub fn parse(s: &str) -> Option<WebhookStatus> {
        match s {
            "active" => Some(WebhookStatus::Active),
            "disabled" => Some(WebhookStatus::Disabled),
            _ => None,
        }
    }
}

/// A subscription's cursor: every notification of audit records before `record` was
/// delivered (or skipped), and the first `item` notifications of `record` itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    pub record: i64,
    pub item: u32,
}

/// A subscription to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewWebhook {
    /// The owner's USCC.
    pub owner: String,
    pub url: String,
    /// Event kinds (`released`, …); empty: every kind.
    pub events: Vec<String>,
    pub format: WebhookFormat,
    pub secret: String,
    /// Where delivery starts: the chain's head when created, plus one.
    pub start: Position,
}

/// A subscription as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredWebhook {
    pub id: i64,
    pub owner: String,
    pub url: String,
    pub events: Vec<String>,
    pub format: WebhookFormat,
    /// Never serialized: shown once, at creation, by the API.
    #[serde(skip)]
    pub secret: String,
    pub status: WebhookStatus,
    pub cursor: Position,
    /// Bumped by every replay.
    pub generation: i64,
    /// Failed attempts in a row (0 after a success).
    pub failures: u32,
    /// The first failure of the current run.
    pub failing_since: Option<DateTime<Utc>>,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

/// One attempt to deliver one notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    pub webhook_id: i64,
    /// The notification's id (the `webhook-id` header).
    pub event_id: String,
    /// The audit record it comes from (its cursor).
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why no 2xx came (connection refused, timed out, address refused, status).
    pub error: Option<String>,
    pub duration_ms: u64,
}

impl DeliveryAttempt {
    /// Whether the receiver took it (a 2xx).
    pub fn delivered(&self) -> bool {
        self.status_code.is_some_and(|s| (200..300).contains(&s))
    }
}

/// An attempt as logged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredDelivery {
    pub id: i64,
    #[serde(flatten)]
    pub attempt: DeliveryAttempt,
    pub delivered: bool,
}

/// The writes of [`WebhookStore`], one writer request (`writer::Request::Webhook`); each
/// answers a number (the new id for `Create`, else the rows changed: 0 or 1).
#[derive(Clone, Debug)]
pub enum WebhookWrite {
    Create {
        webhook: NewWebhook,
        actor: Actor,
        now: DateTime<Utc>,
    },
    /// The subscription and its log removed, if `owner`'s.
    Delete {
        id: i64,
        owner: String,
        actor: Actor,
        now: DateTime<Utc>,
    },
    /// The cursor set to `to` (back or forward), the generation bumped, if `owner`'s.
    Replay {
        id: i64,
        owner: String,
        to: Position,
        actor: Actor,
        now: DateTime<Utc>,
    },
    /// Active again, its run of failures forgotten, if `owner`'s.
    Enable {
        id: i64,
        owner: String,
        actor: Actor,
        now: DateTime<Utc>,
    },
    /// One attempt logged. Delivered: the cursor moves to `to` (monotonic, same generation)
    /// and the run of failures ends. Not: one more failure, and the subscription disabled
    /// when `disable`.
    Attempt {
        attempt: DeliveryAttempt,
        generation: i64,
        to: Position,
        disable: bool,
    },
    /// The cursor moved past records that gave nothing (monotonic, same generation).
    Advance {
        id: i64,
        generation: i64,
        to: Position,
    },
}

/// The bounds every backend enforces on a new subscription (the service checks them first,
/// with messages).
pub fn check_new(w: &NewWebhook) -> Result<(), StoreError> {
    if w.url.is_empty() || w.url.len() > URL_MAX {
        return Err(StoreError::Invalid(format!(
            "a URL is 1 to {URL_MAX} bytes"
        )));
    }
    if !(w.url.starts_with("http://") || w.url.starts_with("https://")) {
        return Err(StoreError::Invalid("a webhook URL is http or https".into()));
    }
    if w.events.len() > 64 || w.events.iter().any(|e| e.is_empty() || e.len() > 64) {
        return Err(StoreError::Invalid("bad event kinds".into()));
    }
    if w.secret.len() < 16 {
        return Err(StoreError::Invalid("a secret is at least 16 bytes".into()));
    }
    Ok(())
}

/// An attempt's error cut to [`ERROR_MAX`] characters.
pub fn bounded_error(e: &str) -> String {
    e.chars().take(ERROR_MAX).collect()
}

/// The event kinds as stored (one text: comma-separated).
pub fn events_text(events: &[String]) -> String {
    events.join(",")
}

/// The event kinds from their stored text.
pub fn events_of(text: &str) -> Vec<String> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The audit detail of a subscription's change (never its secret).
pub fn audit_detail(id: i64, url: &str, extra: serde_json::Value) -> String {
    serde_json::json!({ "webhook": id, "url": url, "change": extra }).to_string()
}

/// The storage of webhook subscriptions; the writes are provided on the writer's queue.
pub trait WebhookStore: crate::writer::Queued + Send + Sync {
    /// An owner's subscriptions, oldest first.
    fn webhooks_of(&self, owner: &str) -> Result<Vec<StoredWebhook>, StoreError>;
    /// Every subscription (the worker's list), oldest first.
    fn all_webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError>;
    fn webhook(&self, id: i64) -> Result<Option<StoredWebhook>, StoreError>;
    /// A subscription's attempts, newest first, with ids below `before` (`None`: the newest),
    /// at most `limit` (1..=[`DELIVERIES_MAX`]).
    fn webhook_deliveries(
        &self,
        id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError>;

    /// One write of [`WebhookWrite`] (see there for the answer).
    fn write_webhook(&self, w: WebhookWrite) -> Result<i64, StoreError> {
        if let WebhookWrite::Create { webhook, .. } = &w {
            check_new(webhook)?;
        }
        self.queue()
            .call(|reply| crate::writer::Request::Webhook(Box::new(w), reply))
    }
}

/// `Invalid` unless `limit` is within 1..=[`DELIVERIES_MAX`].
pub fn check_deliveries_limit(limit: u32) -> Result<(), StoreError> {
    if limit == 0 || limit > DELIVERIES_MAX {
        return Err(StoreError::Invalid(format!(
            "deliveries limit {limit} outside 1..={DELIVERIES_MAX}"
        )));
    }
    Ok(())
}

/// A webhook URL taken apart: what the worker connects to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl {
    pub https: bool,
    /// A name, or an IP address (IPv6 without its brackets).
    pub host: String,
    pub port: u16,
    /// From the first `/` (at least `/`), with the query.
    pub path_and_query: String,
}

/// Why a URL is refused ([`parse_url`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlProblem {
    TooLong,
    Scheme,
    Credentials,
    Host,
    Port,
    Fragment,
    Characters,
}

/// A URL as [`WebhookUrl`]: `http` or `https`, a host, an optional port, no user
/// information, no fragment, printable ASCII only, at most [`URL_MAX`] bytes.
pub fn parse_url(url: &str) -> Result<WebhookUrl, UrlProblem> {
    if url.len() > URL_MAX {
        return Err(UrlProblem::TooLong);
    }
    if url.is_empty() || !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(UrlProblem::Characters);
    }
    let lower = url.to_ascii_lowercase();
    let (https, rest) = if lower.starts_with("https://") {
        (true, &url["https://".len()..])
    } else if lower.starts_with("http://") {
        (false, &url["http://".len()..])
    } else {
        return Err(UrlProblem::Scheme);
    };
    if rest.contains('#') {
        return Err(UrlProblem::Fragment);
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.contains('@') {
        return Err(UrlProblem::Credentials);
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']').ok_or(UrlProblem::Host)?;
        let host = &v6[..close];
        host.parse::<std::net::Ipv6Addr>()
            .map_err(|_| UrlProblem::Host)?;
        let after = &v6[close + 1..];
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return Err(UrlProblem::Host),
        };
        (host.to_owned(), port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty()
        || host.len() > 253
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'_'))
    {
        return Err(UrlProblem::Host);
    }
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && !p.starts_with('+') => n,
            _ => return Err(UrlProblem::Port),
        },
    };
    let path_and_query = if tail.starts_with('/') {
        tail.to_owned()
    } else {
        format!("/{tail}")
    };
    Ok(WebhookUrl {
        https,
        host: host.to_ascii_lowercase(),
        port,
        path_and_query,
    })
}

/// Whether an address is not on the public internet: loopback, private (RFC 1918, unique
/// local), link-local (with the clouds' metadata address), shared (CGNAT), unspecified,
/// multicast, broadcast, documentation and benchmarking ranges, IPv4-mapped forms of those.
/// A webhook is not delivered to such an address unless the operator allows it
/// (`--webhook-allow-private`; docs/SECURITY.md).
pub fn is_private(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b)
        }
    }
}

/// Whether a host name stands for this machine whatever the resolver says (`localhost`).
pub fn is_local_name(host: &str) -> bool {
    host == "localhost" || host.ends_with(".localhost")
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with or without padding; `None` when it is not.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner);
    outer.finalize().into()
}

/// The prefix of a secret (Standard Webhooks): `whsec_` and the key in base64.
pub const SECRET_PREFIX: &str = "whsec_";

/// A secret from 24 random bytes.
pub fn secret_of(random: &[u8; 24]) -> String {
    format!("{SECRET_PREFIX}{}", base64_encode(random))
}

/// The `webhook-signature` header (Standard Webhooks, version 1): `v1,` and the base64
/// HMAC-SHA256, under the secret's key, of `{id}.{timestamp}.{body}`. `None` for a secret
/// that is not `whsec_` and base64.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = base64_decode(secret.strip_prefix(SECRET_PREFIX)?)?;
    let mut message = Vec::with_capacity(id.len() + body.len() + 24);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.to_string().as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    Some(format!(
        "v1,{}",
        base64_encode(&hmac_sha256(&key, &message))
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_order_by_record_then_item() {
        let p = |record, item| Position { record, item };
        assert!(p(5, 0) > p(4, 9));
        assert!(p(5, 2) > p(5, 1));
        assert_eq!(p(5, 1).max(p(5, 0)), p(5, 1));
    }

    #[test]
    fn events_round_trip_through_their_text() {
        let e = vec!["released".to_owned(), "accepted".to_owned()];
        assert_eq!(events_of(&events_text(&e)), e);
        assert!(events_of("").is_empty());
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than the block is hashed first (RFC 4231 case 6).
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn base64_round_trips_and_matches_rfc_4648() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), coded);
            assert_eq!(base64_decode(coded).unwrap(), plain.as_bytes());
        }
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn signature_follows_standard_webhooks() {
        // The example of the Standard Webhooks specification's reference libraries.
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(signature("not-a-secret", "x", 1, b"").is_none());
    }

    #[test]
    fn urls_are_taken_apart_or_refused() {
        let u = parse_url("https://Hooks.Example.com/in?x=1").unwrap();
        assert_eq!(
            u,
            WebhookUrl {
                https: true,
                host: "hooks.example.com".into(),
                port: 443,
                path_and_query: "/in?x=1".into(),
            }
        );
        let u = parse_url("http://127.0.0.1:8081").unwrap();
        assert_eq!((u.port, u.path_and_query.as_str()), (8081, "/"));
        let u = parse_url("http://[::1]:9/x").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9));
        for (bad, why) in [
            ("ftp://a.example/", UrlProblem::Scheme),
            ("a.example/hook", UrlProblem::Scheme),
            ("https://user:pw@a.example/", UrlProblem::Credentials),
            ("https://a.example:0/", UrlProblem::Port),
            ("https://a.example:99999/", UrlProblem::Port),
            ("https:///x", UrlProblem::Host),
            ("https://a.example/#frag", UrlProblem::Fragment),
            ("https://a example/", UrlProblem::Characters),
            ("https://[::1/", UrlProblem::Host),
        ] {
            assert_eq!(parse_url(bad), Err(why), "{bad}");
        }
        let long = format!("https://a.example/{}", "x".repeat(URL_MAX));
        assert_eq!(parse_url(&long), Err(UrlProblem::TooLong));
    }

    #[test]
    fn private_addresses_are_named() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "203.119.1.1", "2606:4700::1111"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_local_name("localhost") && is_local_name("a.localhost"));
        assert!(!is_local_name("example.com"));
    }

    #[test]
    fn only_2xx_is_delivered() {
        let mut a = DeliveryAttempt {
            webhook_id: 1,
            event_id: "1-1".into(),
            seq: 1,
            at: crate::from_ms(0).unwrap(),
            status_code: Some(204),
            error: None,
            duration_ms: 1,
        };
        assert!(a.delivered());
        a.status_code = Some(500);
        assert!(!a.delivered());
        a.status_code = None;
        assert!(!a.delivered());
    }
}
