//! The notifications inbox over HTTP (issue 20 item 6, issue 18 item 4; `app::notifications`
//! says who sees what):
//!
//! - `GET /api/notifications?after=<cursor>&limit=`: what happened after the cursor, in commit
//!   order; without `after`, the newest (`before=<cursor>` for older ones). Every answer has
//!   `cursor`, where to go on from.
//! - `GET /api/notifications/read`, `PUT /api/notifications/read {up_to}`: the user's read
//!   marker, kept by the server (every notification up to that cursor is read; it never goes
//!   back), so the unread count is the same on every browser; the list gives it too
//!   (`read_up_to`).
//! - `GET /api/notifications/stream`: the same items as server-sent events, as they are
//!   committed. Each event is `event: notification`, its `data` the item's JSON; the `id` of the
//!   last item of an audit record is that record's cursor, so that a reconnecting
//!   `EventSource` sends it back as `Last-Event-ID` and misses nothing (items of a record cut in
//!   two by a reconnection come again; their ids de-duplicate them). `event: cursor` moves the
//!   cursor past records that gave the user nothing. Keep-alive comments every
//!   [`KEEP_ALIVE`]; at most [`STREAMS_PER_USER`] streams per user (429 beyond); a stream ends
//!   when its session does, when the server stops, and after [`STREAM_LIFETIME`] (the browser
//!   reconnects where it was).
//!
//! Why a poll of the store each second per stream rather than a broadcast from the writer: the
//! items are read from the committed audit chain, so a stream sees exactly what the list
//! would, including the writes of other `jinguan serve` processes sharing one PostgreSQL
//! database, which an in-process broadcast would miss; and a poll with nothing new is one
//! indexed range read (`audit_log.id > cursor`, limit 500) and a `MAX(id)`, well under a
//! millisecond on SQLite, so even the limit of connections (768) polling once a second is a
//! few hundred small reads a second. docs/STORE.md "Notifications" has the figures.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::notifications::{Notification, NotificationPage, NotificationQuery, NOTIFICATIONS_MAX};
use app::Principal;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use store::activity::RecordRange;

use crate::{blocking, json_ok, principal, ApiError, Svc};

/// How often a stream asks the store for what is new.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Keep-alive comments on a quiet stream: below proxies' idle timeouts, and how a stream whose
/// browser went away is noticed (the write fails) so that its slot is freed within seconds.
pub const KEEP_ALIVE: Duration = Duration::from_secs(2);
/// A stream ends after this long; the browser reconnects with `Last-Event-ID`.
pub const STREAM_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Streams one user may hold open at once (several tabs).
pub const STREAMS_PER_USER: usize = 4;
/// Items on a page when `limit` is not given.
const LIMIT_DEFAULT: u32 = 50;

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/notifications", get(list))
        .route("/api/notifications/stream", get(stream))
        .route("/api/notifications/read", get(read_marker).put(mark_read))
}

/// The streams open per user (one per router: each server its own).
#[derive(Default)]
pub(crate) struct Streams(Mutex<HashMap<i64, usize>>);

/// One open stream, counted until dropped.
struct StreamSlot {
    streams: Arc<Streams>,
    user_id: i64,
}

impl Streams {
    fn open(self: &Arc<Self>, user_id: i64) -> Option<StreamSlot> {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(user_id).or_default();
        if *n >= STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            streams: self.clone(),
            user_id,
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut map = self.streams.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.user_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.user_id);
            }
        }
    }
}

fn bad(field: &str, code: &str, zh: String, en: String) -> app::FieldProblem {
    app::FieldProblem::new(field, code, zh, en)
}

/// A cursor: a whole number from 0 (an audit record's id).
fn cursor(field: &str, v: &str, problems: &mut Vec<app::FieldProblem>) -> Option<i64> {
    match v.trim().parse::<i64>() {
        Ok(n) if n >= 0 => Some(n),
        _ => {
            problems.push(bad(
                field,
                "bad_cursor",
                format!("“{field}”须为此前答复给出的游标（非负整数），而不是“{v}”"),
                format!("`{field}` must be a cursor an earlier answer gave (a whole number from 0), not `{v}`"),
            ));
            None
        }
    }
}

fn parse(pairs: Vec<(String, String)>) -> Result<(NotificationQuery, u32), ApiError> {
    let mut problems = Vec::new();
    let (mut after, mut before, mut limit) = (None, None, LIMIT_DEFAULT);
    let mut seen = std::collections::HashSet::new();
    for (k, v) in pairs {
        if !seen.insert(k.clone()) {
            problems.push(bad(
                &k,
                "repeated_parameter",
                format!("查询参数“{k}”重复"),
                format!("query parameter `{k}` given more than once"),
            ));
            continue;
        }
        match k.as_str() {
            "after" => after = cursor("after", &v, &mut problems),
            "before" => before = cursor("before", &v, &mut problems),
            "limit" => match v.trim().parse::<u32>() {
                Ok(n) if (1..=NOTIFICATIONS_MAX).contains(&n) => limit = n,
                _ => problems.push(bad(
                    "limit",
                    "out_of_range",
                    format!("“limit”须为 1 至 {NOTIFICATIONS_MAX} 的整数"),
                    format!("`limit` must be a whole number from 1 to {NOTIFICATIONS_MAX}"),
                )),
            },
            _ => problems.push(bad(
                &k,
                "unknown_parameter",
                format!("未知的查询参数“{k}”"),
                format!("unknown query parameter `{k}`"),
            )),
        }
    }
    if after.is_some() && before.is_some() {
        problems.push(bad(
            "before",
            "after_with_before",
            "“after”与“before”不能同用".to_owned(),
            "`after` and `before` cannot be combined".to_owned(),
        ));
    }
    if !problems.is_empty() {
        return Err(ApiError::from(app::AppError::Invalid(problems)));
    }
    let q = match after {
        Some(a) => NotificationQuery::After(a),
        None => NotificationQuery::Before(before),
    };
    Ok((q, limit))
}

fn query_problem(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::from(app::AppError::invalid(
        "query",
        "query",
        format!("查询参数有误：{e}"),
        format!("bad query: {e}"),
    ))
}

/// The caller's notifications.
#[utoipa::path(get, operation_id = "list_notifications", path = "/api/notifications",
    params(
        ("after" = Option<String>, Query, description = "a cursor an earlier answer gave: what happened after it, oldest first"),
        ("before" = Option<String>, Query, description = "a cursor (`older` of an answer): the newest before it"),
        ("limit" = Option<u32>, Query, description = "1 to 200 items (default 50)")),
    responses(
        (status = 200, description = "`{items, cursor, older, more}`: items `{id, cursor, declaration_id, number, kind, status, at, message_zh, message_en}` in commit order, of the declarations the user may see"),
        (status = 422, description = "a bad cursor or limit, listed with its field and messages in Chinese and English")))]
pub(crate) async fn list(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(pairs) = query.map_err(query_problem)?;
    let (q, limit) = parse(pairs)?;
    let (page, read) = blocking(move || {
        let steps = svc.steps();
        Ok((
            steps.notifications(&p, q, limit)?,
            steps.notifications_read(&p)?,
        ))
    })
    .await?;
    let mut v = serde_json::to_value(&page).map_err(|_| ApiError::internal())?;
    v["read_up_to"] = marker_value(read);
    Ok(json_ok(StatusCode::OK, &v))
}

/// A read marker as the API gives it: a cursor (a string, as every cursor), or null.
fn marker_value(m: Option<i64>) -> serde_json::Value {
    m.map_or(serde_json::Value::Null, |m| m.to_string().into())
}

/// The user's read marker.
#[utoipa::path(get, operation_id = "get_read_marker", path = "/api/notifications/read",
    responses(
        (status = 200, description = "`{read_up_to}`: the cursor up to which the user has read every notification (null before the first mark); the same on every browser")))]
pub(crate) async fn read_marker(
    State(svc): State<Svc>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let read = blocking(move || svc.steps().notifications_read(&p)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "read_up_to": marker_value(read) }),
    ))
}

/// Everything up to a cursor read.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadBody {
    /// A cursor an answer gave (`cursor` of a page, or an item's): every notification up to it
    /// is read.
    pub up_to: String,
}

/// Mark every notification up to a cursor read.
#[utoipa::path(put, operation_id = "set_read_marker", path = "/api/notifications/read", request_body = ReadBody,
    responses(
        (status = 200, description = "`{read_up_to}`: the marker now kept (it never goes back: an older cursor leaves it)"),
        (status = 422, description = "`up_to` is not a cursor an answer gave (not a whole number, or beyond the newest)")))]
pub(crate) async fn mark_read(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: ReadBody = crate::parse_json(&headers, &crate::body_bytes(body)?)?;
    let mut problems = Vec::new();
    let Some(up_to) = cursor("up_to", &b.up_to, &mut problems) else {
        return Err(ApiError::from(app::AppError::Invalid(problems)));
    };
    let read = blocking(move || svc.steps().mark_notifications_read(&p, up_to)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "read_up_to": marker_value(Some(read)) }),
    ))
}

/// What a stream keeps between polls.
struct Live {
    svc: Svc,
    token: String,
    principal: Principal,
    cursor: i64,
    /// Events ready to send.
    queue: VecDeque<Event>,
    /// Poll again at once: the last read stopped at its limit.
    again: bool,
    deadline: tokio::time::Instant,
    stopping: Option<tokio::sync::watch::Receiver<bool>>,
    ended: bool,
    _slot: StreamSlot,
}

/// The events of one page: one per item, the record's cursor as the `id` of its last item;
/// `event: cursor` alone when the cursor moved past records that gave nothing.
fn events_of(page: &NotificationPage, from: i64) -> Vec<Event> {
    let mut out = Vec::new();
    let items: &[Notification] = &page.items;
    for (i, item) in items.iter().enumerate() {
        let data = serde_json::to_string(item).unwrap_or_default();
        let mut e = Event::default().event("notification").data(data);
        let last_of_record = items.get(i + 1).is_none_or(|n| n.cursor != item.cursor);
        if last_of_record {
            e = e.id(item.cursor.clone());
        }
        out.push(e);
    }
    let last_sent = items.last().map(|n| n.cursor.clone());
    if page.cursor != from.to_string() && last_sent.as_deref() != Some(page.cursor.as_str()) {
        out.push(
            Event::default()
                .event("cursor")
                .id(page.cursor.clone())
                .data(page.cursor.clone()),
        );
    }
    out
}

impl Live {
    /// The next event to send, polling the store until there is one; `None` ends the stream.
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Live)> {
        loop {
            if let Some(e) = self.queue.pop_front() {
                return Some((Ok(e), self));
            }
            if self.ended {
                return None;
            }
            if !self.again {
                let deadline = self.deadline;
                let stopping = &mut self.stopping;
                let stop = async {
                    match stopping.as_mut() {
                        Some(rx) => loop {
                            let stopped = *rx.borrow();
                            if stopped {
                                break;
                            }
                            if rx.changed().await.is_err() {
                                // The server's accept loop is gone without a word: keep on
                                // until the lifetime ends.
                                std::future::pending::<()>().await;
                            }
                        },
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                    () = tokio::time::sleep_until(deadline) => return None,
                    () = stop => return None,
                }
            }
            // The session may have ended since the stream began (signed out, revoked).
            let (svc, token) = (self.svc.clone(), self.token.clone());
            match blocking(move || svc.users().authenticate(&token)).await {
                Ok(_) => {}
                Err(e) if e.status == StatusCode::UNAUTHORIZED => {
                    self.queue
                        .push_back(Event::default().event("signed_out").data("{}"));
                    self.ended = true;
                    continue;
                }
                Err(e) => {
                    // The store cannot say now (an outage): try again at the next poll.
                    tracing::debug!(code = e.code, "notifications stream: session check failed");
                    self.again = false;
                    continue;
                }
            }
            let (svc, p, from) = (self.svc.clone(), self.principal.clone(), self.cursor);
            let page = blocking(move || {
                svc.steps()
                    .notifications(&p, NotificationQuery::After(from), NOTIFICATIONS_MAX)
            })
            .await;
            match page {
                Ok(page) => {
                    self.queue.extend(events_of(&page, from));
                    self.again = page.more;
                    if let Ok(c) = page.cursor.parse() {
                        self.cursor = c;
                    }
                }
                Err(e) => {
                    // A store outage: say nothing, try again at the next poll.
                    tracing::debug!(code = e.code, "notifications poll failed");
                    self.again = false;
                }
            }
        }
    }
}

/// The caller's notifications, live (server-sent events).
#[utoipa::path(get, operation_id = "stream_notifications", path = "/api/notifications/stream",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "the cursor to resume after (an EventSource sends it when it reconnects)"),
        ("after" = Option<String>, Query, description = "the cursor to start after, when there is no Last-Event-ID; neither: from now")),
    responses(
        (status = 200, description = "`text/event-stream`: `event: notification` with the item's JSON (as in GET /api/notifications), `event: cursor`, `event: signed_out`"),
        (status = 422, description = "a bad cursor"),
        (status = 429, description = "too many streams open for this user")))]
pub(crate) async fn stream(
    State(svc): State<Svc>,
    Extension(streams): Extension<Arc<Streams>>,
    stopping: Option<Extension<crate::conn::Stopping>>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, token) = principal(&svc, &headers).await?;
    let Query(pairs) = query.map_err(query_problem)?;
    let mut problems = Vec::new();
    let mut after = None;
    for (k, v) in &pairs {
        match k.as_str() {
            "after" => after = cursor("after", v, &mut problems),
            _ => problems.push(bad(
                k,
                "unknown_parameter",
                format!("未知的查询参数“{k}”"),
                format!("unknown query parameter `{k}`"),
            )),
        }
    }
    if let Some(v) = headers.get("last-event-id") {
        let v = v.to_str().unwrap_or("?");
        after = cursor("Last-Event-ID", v, &mut problems);
    }
    if !problems.is_empty() {
        return Err(ApiError::from(app::AppError::Invalid(problems)));
    }
    let Some(slot) = streams.open(p.user_id()) else {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_streams",
            format!("每位用户至多同时打开 {STREAMS_PER_USER} 个通知推送连接，请关闭其他页面后重试"),
            format!("at most {STREAMS_PER_USER} notification streams per user at once: close another tab and retry"),
        )
        .with_retry_after(30));
    };
    let cursor = match after {
        Some(c) => c,
        None => {
            // From now: the chain's head.
            let s = svc.clone();
            blocking(move || {
                Ok(s.store()
                    .declaration_records(RecordRange::Before(i64::MAX), 1)?
                    .head)
            })
            .await?
        }
    };
    let live = Live {
        svc,
        token,
        principal: p,
        cursor,
        // The first event says where the stream starts (the `retry` hint with it).
        queue: VecDeque::from([Event::default()
            .event("cursor")
            .id(cursor.to_string())
            .retry(Duration::from_secs(2))
            .data(cursor.to_string())]),
        again: true,
        deadline: tokio::time::Instant::now() + STREAM_LIFETIME,
        stopping: stopping.map(|Extension(s)| s.0),
        ended: false,
        _slot: slot,
    };
    let events = futures_util::stream::unfold(live, Live::next);
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response())
}
