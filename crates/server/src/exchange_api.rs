//! The E-Port exchange feed over HTTP (docs/EXCHANGE.md "Feed"), the channel to agencies when
//! no bus is configured: `GET /api/exchange/feed?after=CURSOR&limit=N` answers the signed
//! envelopes addressed to the caller's agency after the cursor, and the next cursor.
//! Authentication here; authorization in the service (`app::authorize`), deny by default.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi};

use crate::{blocking, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/exchange/feed", get(feed))
        .route("/api/exchange/recent", get(recent))
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
#[openapi(paths(feed, recent))]
pub(crate) struct ExchangeApiDoc;
