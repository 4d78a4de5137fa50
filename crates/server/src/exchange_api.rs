//! The E-Port exchange feed over HTTP (docs/EXCHANGE.md "Feed"), the channel to agencies when
//! no bus is configured: `GET /api/exchange/feed?after=CURSOR&limit=N` answers the signed
//! envelopes addressed to the caller's agency after the cursor, and the next cursor.
//! Authentication here; authorization in the service (`app::authorize`), deny by default.
//!
//! The reverse direction without a bus (docs/EXCHANGE.md "The reverse direction"):
//! `POST /api/exchange/inbound` takes an agency's own records as signed envelopes,
//! `{"messages":[ENVELOPE…]}`, and answers per message applied, duplicate or refused with its
//! reason (`app::inbound_desk`); `GET /api/exchange/inbound` shows operators the log.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/exchange/feed", get(feed))
        .route("/api/exchange/recent", get(recent))
        .route("/api/exchange/inbound", get(inbound_log).post(inbound))
}

/// Signed envelopes from an agency, in wire form (each as the sender signed it).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboundBody {
    /// 1 to 1,000 envelopes (docs/EXCHANGE.md "Envelope"), sent by the signed-in agency and
    /// addressed to `CUSTOMS`.
    #[schema(value_type = Vec<Object>)]
    messages: Vec<serde_json::Value>,
}

/// Send the agency's own records to customs as signed messages (agency).
///
/// Each message is verified against the agencies' key file (`jinguan serve --agency-keys`),
/// must be sent by the signed-in agency, and is applied once, through the same use case as the
/// API, as that agency. One answer per message, in order: `applied`, `duplicate` (its id was
/// applied or refused before) or `refused` with `reason` and `problems`.
#[utoipa::path(post, operation_id = "exchange_inbound", path = "/api/exchange/inbound",
    request_body = InboundBody,
    responses((status = 200, description = "`{\"results\":[{message_id, outcome, reason?, problems?}…]}`"),
        (status = 403, description = "not an agency user"),
        (status = 404, description = "customs was started without --agency-keys"),
        (status = 422, description = "not a list of 1 to 1,000 messages"),
        (status = 503, description = "the store cannot write now; send again")))]
async fn inbound(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: InboundBody = parse_json(&headers, &body_bytes(body)?)?;
    let raws: Vec<Vec<u8>> = b
        .messages
        .iter()
        .map(|m| serde_json::to_vec(m).expect("a JSON value serialises"))
        .collect();
    let results = blocking(move || svc.inbound().receive_signed(&p, &raws)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "results": results }),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct InboundLogQuery {
    /// Only the refused messages.
    refused: Option<bool>,
    /// Rows, newest first, 1..=1000 (default 100).
    limit: Option<u32>,
}

/// The agencies' messages customs applied or refused (administrator).
#[utoipa::path(get, operation_id = "exchange_inbound_log", path = "/api/exchange/inbound",
    params(InboundLogQuery),
    responses((status = 200, description = "`[{message_id, sender, kind, created_at, received_at, outcome, problems}…]`, newest first"),
        (status = 403, description = "not an administrator"),
        (status = 422, description = "a bad limit")))]
async fn inbound_log(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<InboundLogQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(q) = query.map_err(bad_query)?;
    let rows = blocking(move || {
        svc.inbound()
            .inbound_log(&p, q.refused.unwrap_or(false), q.limit)
    })
    .await?;
    Ok(json_ok(StatusCode::OK, &rows))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedQuery {
    /// The cursor of the last message read (`s42`; absent: from the beginning). Asking with a
    /// cursor acknowledges every message up to it.
    after: Option<String>,
    /// Messages per page, 1..=1000 (default 100).
    limit: Option<u32>,
}

/// Read the signed exchange feed (agency).
#[utoipa::path(get, operation_id = "exchange_feed", path = "/api/exchange/feed", params(FeedQuery),
    responses((status = 200, description = "`{\"messages\":[signed envelope…],\"next\":\"s42\"}`"),
        (status = 403, description = "not an agency user")))]
async fn feed(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<FeedQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(q) = query.map_err(bad_query)?;
    let page = blocking(move || {
        svc.exchange()
            .exchange_feed(&p, q.after.as_deref(), q.limit)
    })
    .await?;
    Ok(page_response(&page))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecentQuery {
    /// How many of the newest messages, 1..=1000 (default 100).
    limit: Option<u32>,
}

/// The newest messages addressed to the caller's agency.
///
/// The newest messages addressed to the caller's agency, oldest first, signed as on the feed;
/// acknowledges nothing (the agency desk's "messages received").
#[utoipa::path(get, path = "/api/exchange/recent", params(RecentQuery),
    responses((status = 200, description = "`{\"messages\":[signed envelope…],\"next\":\"s42\"}`"),
        (status = 403, description = "not an agency user")))]
async fn recent(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<RecentQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(q) = query.map_err(bad_query)?;
    let page = blocking(move || svc.exchange().exchange_recent(&p, q.limit)).await?;
    Ok(page_response(&page))
}

fn bad_query(e: QueryRejection) -> ApiError {
    crate::invalid(
        "query",
        "bad_query",
        format!("查询参数有误：{e}"),
        e.to_string(),
    )
}

/// A page of signed envelopes, as JSON text (each envelope byte for byte as signed).
fn page_response(page: &app::exchange_desk::FeedView) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        page.to_json(),
    )
        .into_response()
}

#[derive(OpenApi)]
#[openapi(
    paths(feed, recent, inbound, inbound_log),
    components(schemas(InboundBody))
)]
pub(crate) struct ExchangeApiDoc;
