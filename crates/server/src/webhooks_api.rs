//! Webhook subscriptions over HTTP (issue 18 item 4; `app::webhooks` says who may do what,
//! `crate::webhooks` delivers):
//!
//! - `POST /api/webhooks {url, events?, format?}`: 201 with the subscription and its
//!   `secret`, shown this once;
//! - `GET /api/webhooks`, `GET /api/webhooks/{id}`, `DELETE /api/webhooks/{id}` (204);
//! - `POST /api/webhooks/{id}/replay {from}`: deliver again from that record on;
//! - `POST /api/webhooks/{id}/enable`: active again after it was disabled;
//! - `GET /api/webhooks/{id}/deliveries?before=&limit=`: the delivery log, newest first.
//!
//! Another enterprise's subscription, or any for a user of none, is 404.

use std::sync::Arc;

use app::webhooks::WebhookRequest;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use store::webhooks::StoredWebhook;
use utoipa::OpenApi;

use crate::webhooks::WebhookSettings;
use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

#[derive(OpenApi)]
#[openapi(
    paths(create, list, get_one, delete, replay, enable, deliveries),
    components(schemas(WebhookBody, ReplayBody))
)]
pub(crate) struct WebhooksApiDoc;

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/webhooks", get(list).post(create))
        .route("/api/webhooks/{id}", get(get_one).delete(delete))
        .route("/api/webhooks/{id}/replay", post(replay))
        .route("/api/webhooks/{id}/enable", post(enable))
        .route("/api/webhooks/{id}/deliveries", get(deliveries))
}

/// A subscription asked for.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WebhookBody {
    /// `http://` or `https://`, without user name, password or fragment; at most 2048 bytes.
    url: Option<String>,
    /// Event kinds (`submitted`, `accepted`, `lane_chosen`, `released`, `attachment_added`, …);
    /// absent or empty: every kind.
    events: Option<Vec<String>>,
    /// `json` (default): `{type, timestamp, seq, data}`; `xml`: the `DEC_RESULT` receipt of
    /// each status change.
    format: Option<String>,
}

/// Where a replay starts.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReplayBody {
    /// The `seq` of the first event to deliver again (an audit record's number).
    from: i64,
}

/// A subscription as answered (never its secret but at creation).
fn view(w: &StoredWebhook) -> serde_json::Value {
    serde_json::json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "format": w.format,
        "status": w.status,
        "cursor": {"seq": w.cursor.record, "item": w.cursor.item},
        "failures": w.failures,
        "failing_since": w.failing_since,
        "created_by": w.created_by,
        "created_at": w.created_at,
    })
}

fn webhook_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(ApiError::not_found)
}

/// Subscribe a webhook (enterprise administrator); its secret is shown once.
#[utoipa::path(post, operation_id = "create_webhook", path = "/api/webhooks",
    request_body = WebhookBody,
    responses(
        (status = 201, description = "the subscription `{id, url, events, format, status, cursor, failures, failing_since, created_by, created_at}` with its `secret` (`whsec_…`), shown this once: keep it to verify signatures"),
        (status = 403, description = "not an enterprise's administrator"),
        (status = 422, description = "every problem listed with its field and messages in Chinese and English: URL (scheme, credentials, host, port, length, private address), event kinds, format, the bound per enterprise")))]
async fn create(
    State(svc): State<Svc>,
    Extension(settings): Extension<Arc<WebhookSettings>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: WebhookBody = parse_json(&headers, &body_bytes(body)?)?;
    let req = WebhookRequest {
        url: b.url,
        events: b.events,
        format: b.format,
    };
    let allow = settings.allow_private;
    let made = blocking(move || svc.webhooks().create(&p, req, allow)).await?;
    let mut v = view(&made.webhook);
    v["secret"] = made.secret.into();
    Ok(json_ok(StatusCode::CREATED, &v))
}

/// List the enterprise's webhook subscriptions.
#[utoipa::path(get, operation_id = "list_webhooks", path = "/api/webhooks",
    responses(
        (status = 200, description = "`{webhooks: [...]}`: the enterprise's subscriptions, oldest first, without secrets"),
        (status = 403, description = "not an enterprise user")))]
async fn list(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let ws = blocking(move || svc.webhooks().list(&p)).await?;
    let list: Vec<_> = ws.iter().map(view).collect();
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "webhooks": list }),
    ))
}

/// One webhook subscription.
#[utoipa::path(get, operation_id = "get_webhook", path = "/api/webhooks/{id}",
    params(("id" = i64, Path, description = "subscription id")),
    responses(
        (status = 200, description = "the subscription, without its secret"),
        (status = 404, description = "no such subscription of your enterprise")))]
async fn get_one(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = webhook_id(&id)?;
    let w = blocking(move || svc.webhooks().get(&p, id)).await?;
    Ok(json_ok(StatusCode::OK, &view(&w)))
}

/// Delete a webhook subscription and its delivery log.
#[utoipa::path(delete, operation_id = "delete_webhook", path = "/api/webhooks/{id}",
    params(("id" = i64, Path, description = "subscription id")),
    responses(
        (status = 204, description = "deleted, with its delivery log"),
        (status = 403, description = "not the enterprise's administrator"),
        (status = 404, description = "no such subscription of your enterprise")))]
async fn delete(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = webhook_id(&id)?;
    blocking(move || svc.webhooks().delete(&p, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deliver again from a point: the cursor moves back.
#[utoipa::path(post, operation_id = "replay_webhook", path = "/api/webhooks/{id}/replay",
    params(("id" = i64, Path, description = "subscription id")),
    request_body = ReplayBody,
    responses(
        (status = 200, description = "the subscription, its cursor moved back: every event from `seq` = `from` on is delivered again (same ids)"),
        (status = 403, description = "not the enterprise's administrator"),
        (status = 404, description = "no such subscription of your enterprise"),
        (status = 422, description = "`from` outside 1 to the cursor")))]
async fn replay(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = webhook_id(&id)?;
    let b: ReplayBody = parse_json(&headers, &body_bytes(body)?)?;
    let w = blocking(move || svc.webhooks().replay(&p, id, b.from)).await?;
    Ok(json_ok(StatusCode::OK, &view(&w)))
}

/// Enable a subscription disabled after failing too long.
#[utoipa::path(post, operation_id = "enable_webhook", path = "/api/webhooks/{id}/enable",
    params(("id" = i64, Path, description = "subscription id")),
    responses(
        (status = 200, description = "the subscription, active again, its failures forgotten"),
        (status = 403, description = "not the enterprise's administrator"),
        (status = 404, description = "no such subscription of your enterprise")))]
async fn enable(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = webhook_id(&id)?;
    let w = blocking(move || svc.webhooks().enable(&p, id)).await?;
    Ok(json_ok(StatusCode::OK, &view(&w)))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesParams {
    /// Attempts with ids below this (`older` of an answer).
    before: Option<i64>,
    /// 1 to 200 attempts (default 50).
    limit: Option<u32>,
}

/// The delivery log of a subscription, newest first.
#[utoipa::path(get, operation_id = "webhook_deliveries", path = "/api/webhooks/{id}/deliveries",
    params(("id" = i64, Path, description = "subscription id"), DeliveriesParams),
    responses(
        (status = 200, description = "`{deliveries, older}`: attempts newest first, each `{id, webhook_id, event_id, seq, at, status_code, error, duration_ms, delivered}`; `older` the `before` of the next page"),
        (status = 404, description = "no such subscription of your enterprise"),
        (status = 422, description = "a bad `before` or `limit`")))]
async fn deliveries(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = webhook_id(&id)?;
    let Query(q) = query.map_err(|e| {
        ApiError::from(app::AppError::invalid(
            "query",
            "query",
            format!("查询参数有误：{e}"),
            format!("bad query: {e}"),
        ))
    })?;
    let limit = q.limit.unwrap_or(50);
    let list = blocking(move || svc.webhooks().deliveries(&p, id, q.before, limit)).await?;
    let older = if list.len() == limit as usize {
        list.last().map(|d| d.id)
    } else {
        None
    };
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "deliveries": list, "older": older }),
    ))
}
