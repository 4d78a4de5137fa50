//! A partner agency's receiver (`jinguan agency --agency tax …`): consumes the agency's
//! messages from its JetStream durable consumer (or, without a bus, from customs' signed HTTP
//! feed), verifies every signature against customs' public key file, applies each message once
//! into the agency's own SQLite ledger, acknowledges only after the commit, and serves the
//! ledger read-only over HTTP.
//!
//! - The ledger ([`AgencyLedger`]) is one SQLite file, `DIR/AGENCY.sqlite` (WAL,
//!   `synchronous=FULL`): the applied-once log of [`SqliteAppliedLog`] (`exchange_applied`,
//!   `exchange_refused`) and the agency's own table `agency_ledger`, one row per applied
//!   message, inserted by the log's effect, so the row and the record of its message id commit
//!   in one transaction. A refused message (unsigned, forged, tampered, unknown key, …) is
//!   logged, counted in `exchange_refused`, and never applied.
//! - On the bus: the [`Consumer`] of this crate (durable pull consumer named after the agency,
//!   explicit acks sent after the ledger's commit; refused messages terminated).
//! - On the feed: `GET FEED/api/exchange/feed?after=CURSOR` with the agency user's session
//!   token; the cursor is kept in the ledger (`agency_feed_cursor`) and moved only after the
//!   page was applied, and asking with it is what acknowledges the page to customs.
//! - HTTP ([`router`]): `GET /ledger?after=SEQ&limit=N` and `GET /status`; with the agency's
//!   key (`--key`), `POST /records`: the agency's own records to customs, written to its
//!   outbox and sent by [`crate::agency_outbox`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::applied_log::{read_log_counts, Effect, SqliteAppliedLog};
use crate::bus::BusConfig;
use crate::consumer::{Consumer, ConsumerConfig, ConsumerStats};
use exchange::apply::{ApplyError, Disposition, Receiver};
use exchange::message::{timestamp_text, Agency};
use exchange::sign::KeyRing;

/// The agency's own table, created beside the applied log's.
const LEDGER_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agency_ledger (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    sender     TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    payload    TEXT NOT NULL,
    applied_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS agency_feed_cursor (
    one    INTEGER PRIMARY KEY CHECK (one = 1),
    cursor TEXT NOT NULL
);
";

/// At most this many rows in one `GET /ledger` answer.
pub const LEDGER_PAGE_MAX: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum AgencyError {
    #[error("ledger {path}: {reason}")]
    Ledger { path: String, reason: String },
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("feed: {0}")]
    Feed(String),
    #[error(transparent)]
    Consumer(#[from] crate::consumer::ConsumerError),
}

/// One applied message, as the ledger keeps and serves it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// The ledger's own order of application, 1, 2, 3, …
    pub seq: i64,
    pub message_id: String,
    pub sender: String,
    pub kind: String,
    pub created_at: String,
    /// The payload's canonical JSON, as signed.
    pub payload: serde_json::Value,
    pub applied_at: String,
}

/// The agency's ledger file.
pub struct AgencyLedger {
    agency: Agency,
    path: PathBuf,
    log: Arc<SqliteAppliedLog>,
}

impl AgencyLedger {
    /// Open (creating if need be) `DIR/AGENCY.sqlite`.
    pub fn open(dir: &Path, agency: &Agency) -> Result<AgencyLedger, AgencyError> {
        std::fs::create_dir_all(dir).map_err(|e| AgencyError::Ledger {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let path = dir.join(format!("{agency}.sqlite"));
        let err = |e: rusqlite::Error| AgencyError::Ledger {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        {
            let conn = Connection::open(&path).map_err(err)?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .map_err(err)?;
            conn.execute_batch(LEDGER_SCHEMA).map_err(err)?;
        }
        let effect: Box<Effect> = Box::new(|tx, m| {
            let e = m.envelope();
            let payload = std::str::from_utf8(&e.payload).map_err(|e| e.to_string())?;
            tx.prepare_cached(
                "INSERT INTO agency_ledger
                 (message_id, sender, kind, created_at, payload, applied_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    e.id.to_string(),
                    e.sender.as_str(),
                    e.kind.as_str(),
                    timestamp_text(&e.created_at),
                    payload,
                    timestamp_text(&chrono::Utc::now()),
                ])
            })
            .map(|_| ())
            .map_err(|e| e.to_string())
        });
        let log = SqliteAppliedLog::open_with_effect(&path, Some(effect))?;
        Ok(AgencyLedger {
            agency: agency.clone(),
            path,
            log: Arc::new(log),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn agency(&self) -> &Agency {
        &self.agency
    }

    /// The receiver that verifies against `ring` and applies into this ledger.
    pub fn receiver(&self, ring: Arc<KeyRing>) -> Receiver {
        Receiver::new(self.agency.clone(), ring, self.log.clone())
    }
}

fn read_only(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    Ok(conn)
}

/// The ledger's rows after `after` (a ledger seq), at most `limit`, in order.
pub fn read_ledger(path: &Path, after: i64, limit: u32) -> rusqlite::Result<Vec<LedgerEntry>> {
    let conn = read_only(path)?;
    let mut stmt = conn.prepare(
        "SELECT seq, message_id, sender, kind, created_at, payload, applied_at
         FROM agency_ledger WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after, limit], |r| {
        let payload: String = r.get(5)?;
        Ok(LedgerEntry {
            seq: r.get(0)?,
            message_id: r.get(1)?,
            sender: r.get(2)?,
            kind: r.get(3)?,
            created_at: r.get(4)?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::String(payload)),
            applied_at: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// What `GET /status` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyStatusView {
    pub agency: String,
    /// `nats` or `feed`.
    pub source: String,
    /// Rows in the ledger (messages applied, each once).
    pub applied: u64,
    /// Messages refused since the ledger was created (never applied).
    pub refused: u64,
    /// The ledger's last seq (0 when empty).
    pub last_seq: i64,
    /// Since this process started.
    pub received: u64,
    pub duplicates: u64,
    pub failed: u64,
    /// The feed's cursor (feed source only).
    pub feed_cursor: Option<String>,
}

fn ledger_counts(path: &Path) -> rusqlite::Result<(i64, Option<String>)> {
    let conn = read_only(path)?;
    let last: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM agency_ledger", [], |r| {
        r.get(0)
    })?;
    let cursor = conn
        .query_row("SELECT cursor FROM agency_feed_cursor", [], |r| r.get(0))
        .optional()?;
    Ok((last, cursor))
}

/// What the HTTP side reads: the ledger file and the running receiver's counters; with the
/// agency's key, its outbox to customs and the sender code its records go as.
#[derive(Clone)]
pub struct Served {
    pub agency: Agency,
    pub source: &'static str,
    pub path: PathBuf,
    pub stats: watch::Receiver<ConsumerStats>,
    pub outbox: Option<(Agency, Arc<crate::agency_outbox::AgencyOutbox>)>,
}

/// The HTTP side: `GET /ledger?after=SEQ&limit=N` (N 1..=1000, default 100):
/// `{"entries":[…],"next":SEQ}`; `GET /status`; `POST /records` (`{"kind", "payload"}`: 201
/// with the record's `message_id`, 422 with problems; 404 without `--key`).
pub fn router(served: Served) -> Router {
    Router::new()
        .route("/ledger", get(ledger_page))
        .route("/status", get(status_view))
        .route("/records", post(post_record))
        .with_state(Arc::new(served))
}

/// `POST /records`: one of the agency's own records for customs, into its outbox.
async fn post_record(State(s): State<Arc<Served>>, body: axum::body::Bytes) -> Response {
    let Some((sender, outbox)) = s.outbox.clone() else {
        let body = serde_json::json!({"error": {
            "code": "not_found", "message_zh": "未配置本机构签名密钥（--key），不能发送记录",
            "message_en": "this receiver has no signing key (--key): it sends no records",
            "problems": [],
        }});
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    let parsed: Result<crate::agency_outbox::RecordBody, _> = serde_json::from_slice(&body);
    let record = match parsed {
        Err(e) => {
            return invalid(
                "",
                "bad_body",
                format!("请求体须为 {{\"kind\":…,\"payload\":{{…}}}}：{e}"),
                format!("the body must be {{\"kind\":…,\"payload\":{{…}}}}: {e}"),
            )
        }
        Ok(b) => b,
    };
    let (kind, payload) = match crate::agency_outbox::record(&record) {
        Ok(x) => x,
        Err(problems) => {
            let problems: Vec<serde_json::Value> = problems
                .into_iter()
                .map(|(field, code, zh, en)| {
                    serde_json::json!({"field": field, "code": code, "message_zh": zh, "message_en": en})
                })
                .collect();
            let body = serde_json::json!({"error": {
                "code": "invalid", "message_zh": "请求有误", "message_en": "invalid request",
                "problems": problems,
            }});
            return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
        }
    };
    let o = outbox.clone();
    let k = kind.clone();
    match tokio::task::spawn_blocking(move || o.append(&k, &payload, chrono::Utc::now())).await {
        Ok(Ok(seq)) => (
            StatusCode::CREATED,
            Json(serde_json::json!({
                "seq": seq,
                "message_id": format!("{sender}-{seq}"),
                "kind": kind.as_str(),
            })),
        )
            .into_response(),
        Ok(Err(e)) => unavailable(e.to_string()),
        Err(e) => unavailable(e.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    after: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize, Deserialize, Debug)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Ask with `after=next` for what follows.
    pub next: i64,
}

/// The house's 4xx body: `{"error":{code, message_zh, message_en, problems:[{field, code,
/// message_zh, message_en}]}}`.
fn invalid(field: &str, code: &str, zh: String, en: String) -> Response {
    let body = serde_json::json!({"error": {
        "code": "invalid", "message_zh": "请求有误", "message_en": "invalid request",
        "problems": [{"field": field, "code": code, "message_zh": zh, "message_en": en}],
    }});
    (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
}

fn unavailable(why: String) -> Response {
    let body = serde_json::json!({"error": {
        "code": "unavailable", "message_zh": "账本暂时无法读取", "message_en": why, "problems": [],
    }});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
}

async fn ledger_page(
    State(s): State<Arc<Served>>,
    query: Result<Query<LedgerQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return invalid(
            "query",
            "bad_query",
            "查询参数只允许 after 和 limit".into(),
            "only after and limit are allowed".into(),
        );
    };
    let after = match q.after.as_deref().map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) if n >= 0 => n,
        _ => {
            return invalid(
                "after",
                "bad_cursor",
                "after 须为非负整数（账本序号）".into(),
                "after must be a non-negative integer (a ledger seq)".into(),
            )
        }
    };
    let limit = match q.limit.as_deref().map(str::parse::<u32>) {
        None => 100,
        Some(Ok(n)) if (1..=LEDGER_PAGE_MAX).contains(&n) => n,
        _ => {
            return invalid(
                "limit",
                "bad_limit",
                format!("limit 须在 1 到 {LEDGER_PAGE_MAX} 之间"),
                format!("limit must be 1..={LEDGER_PAGE_MAX}"),
            )
        }
    };
    let path = s.path.clone();
    match tokio::task::spawn_blocking(move || read_ledger(&path, after, limit)).await {
        Ok(Ok(entries)) => {
            let next = entries.last().map(|e| e.seq).unwrap_or(after);
            Json(LedgerPage { entries, next }).into_response()
        }
        Ok(Err(e)) => unavailable(e.to_string()),
        Err(e) => unavailable(e.to_string()),
    }
}

async fn status_view(State(s): State<Arc<Served>>) -> Response {
    let path = s.path.clone();
    let read = tokio::task::spawn_blocking(move || {
        let counts = read_log_counts(&path).map_err(|e| e.to_string())?;
        let (last, cursor) = ledger_counts(&path).map_err(|e| e.to_string())?;
        Ok::<_, String>((counts, last, cursor))
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match read {
        Ok((counts, last_seq, feed_cursor)) => {
            let stats = s.stats.borrow().clone();
            Json(AgencyStatusView {
                agency: s.agency.to_string(),
                source: s.source.to_owned(),
                applied: counts.applied,
                refused: counts.refused,
                last_seq,
                received: stats.received,
                duplicates: stats.duplicates,
                failed: stats.failed,
                feed_cursor,
            })
            .into_response()
        }
        Err(e) => unavailable(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Sources

/// Consume the agency's durable consumer on the bus until `shutdown`. The counters are
/// published on `stats` (the HTTP side's `/status`).
pub fn nats_consumer(
    ledger: &AgencyLedger,
    ring: Arc<KeyRing>,
    bus: BusConfig,
    config: ConsumerConfig,
) -> Consumer {
    Consumer::new(bus, ledger.receiver(ring), config)
}

/// The signed HTTP feed of customs, for when there is no bus.
#[derive(Clone, Debug)]
pub struct FeedSource {
    /// The customs server, `http://host:port`.
    pub url: String,
    /// An agency user's session token (`POST /api/session`).
    pub token: String,
    /// Page size, 1..=1000.
    pub page: u32,
    /// Wait between polls when nothing is new.
    pub idle_poll: Duration,
}

fn read_cursor(path: &Path) -> Result<String, AgencyError> {
    let conn = Connection::open(path).map_err(|e| AgencyError::Ledger {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    Ok(conn
        .query_row("SELECT cursor FROM agency_feed_cursor", [], |r| r.get(0))
        .optional()
        .ok()
        .flatten()
        .unwrap_or_else(|| "s0".to_owned()))
}

fn write_cursor(path: &Path, cursor: &str) -> Result<(), AgencyError> {
    let conn = Connection::open(path).map_err(|e| AgencyError::Ledger {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    conn.pragma_update(None, "synchronous", "FULL")
        .and_then(|_| conn.busy_timeout(Duration::from_secs(5)))
        .and_then(|_| {
            conn.execute(
                "INSERT INTO agency_feed_cursor (one, cursor) VALUES (1, ?1)
                 ON CONFLICT (one) DO UPDATE SET cursor = excluded.cursor",
                [cursor],
            )
        })
        .map(|_| ())
        .map_err(|e| AgencyError::Ledger {
            path: path.display().to_string(),
            reason: e.to_string(),
        })
}

#[derive(Deserialize)]
struct FeedAnswer {
    messages: Vec<serde_json::Value>,
    next: String,
}

/// Read the feed until `shutdown`: each page verified and applied, then its cursor kept (and
/// sent with the next request, which acknowledges the page to customs). A page that could not
/// be applied is read again; refused messages are logged and skipped.
pub async fn run_feed(
    ledger: &AgencyLedger,
    ring: Arc<KeyRing>,
    source: FeedSource,
    stats: Arc<watch::Sender<ConsumerStats>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), AgencyError> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| AgencyError::Feed(e.to_string()))?;
    let receiver = ledger.receiver(ring);
    let path = ledger.path().to_path_buf();
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let cursor = read_cursor(&path)?;
        let url = format!(
            "{}/api/exchange/feed?after={cursor}&limit={}",
            source.url.trim_end_matches('/'),
            source.page.clamp(1, 1000)
        );
        let answer = async {
            let r = client
                .get(&url)
                .bearer_auth(&source.token)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !r.status().is_success() {
                return Err(format!("{url}: HTTP {}", r.status()));
            }
            r.json::<FeedAnswer>().await.map_err(|e| e.to_string())
        }
        .await;
        let wait = match answer {
            Err(e) => {
                tracing::warn!(agency = %ledger.agency(), "exchange feed: {e}; retrying");
                backoff = (backoff * 2).min(Duration::from_secs(5));
                backoff
            }
            Ok(page) => {
                backoff = Duration::from_millis(100);
                let raws: Vec<Vec<u8>> = page
                    .messages
                    .iter()
                    .map(|m| serde_json::to_vec(m).expect("a JSON value serialises"))
                    .collect();
                let count = raws.len();
                let r = receiver.clone();
                let result = tokio::task::spawn_blocking(move || {
                    let slices: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
                    r.receive(&slices)
                })
                .await
                .map_err(|e| AgencyError::Feed(e.to_string()))?;
                let mut delta = ConsumerStats {
                    received: count as u64,
                    ..Default::default()
                };
                let mut all_done = true;
                match result {
                    Ok(dispositions) => {
                        for d in dispositions {
                            match d {
                                Disposition::Applied => delta.applied += 1,
                                Disposition::Duplicate => delta.duplicates += 1,
                                Disposition::Refused(_) => delta.refused += 1,
                                Disposition::Failed(why) => {
                                    tracing::warn!(agency = %ledger.agency(), "exchange apply failed, will retry: {why}");
                                    delta.failed += 1;
                                    all_done = false;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(agency = %ledger.agency(), "exchange ledger: {e}; the page will be read again");
                        delta.failed += count as u64;
                        all_done = false;
                    }
                }
                stats.send_modify(|s| {
                    s.received += delta.received;
                    s.applied += delta.applied;
                    s.duplicates += delta.duplicates;
                    s.refused += delta.refused;
                    s.failed += delta.failed;
                });
                if all_done && page.next != cursor {
                    write_cursor(&path, &page.next)?;
                    Duration::ZERO
                } else if all_done {
                    source.idle_poll
                } else {
                    Duration::from_secs(1)
                }
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
}

/// Serve [`router`] on `listener` until `stop` becomes true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    served: Served,
    mut stop: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(served))
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
}
