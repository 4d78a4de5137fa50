//! The endpoints the web interface needs beyond the clearance steps: code lookups
//! (`GET /api/codes/{table}?q=`, public reference data), checking a declaration without filing
//! it (`POST /api/declarations/check`), and the dashboard's statistics with the exchange's
//! health (`GET /api/stats/summary?office=&from=&to=`). Access is decided in `app`, as everywhere.

use app::StatsQuery;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use domain::codes::OfficeCode;
use serde::Deserialize;

use crate::{blocking, body_bytes, invalid, json_ok, principal, require_json, ApiError, Svc};

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CodesParams {
    /// A code prefix or part of a Chinese or English name; empty: the whole table (first rows).
    pub q: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct StatsParams {
    /// An office (and those below it); default the caller's scope.
    pub office: Option<String>,
    /// Submitted at or after: RFC 3339, or a date `YYYY-MM-DD` (Beijing time). Default: the
    /// start of this month.
    pub from: Option<String>,
    /// Submitted before: RFC 3339, or a date `YYYY-MM-DD` (the whole day counts). Default: now.
    pub to: Option<String>,
}

fn bad_query(e: QueryRejection) -> ApiError {
    invalid(
        "query",
        "query",
        format!("查询参数有误：{e}"),
        format!("bad query: {e}"),
    )
}

#[utoipa::path(get, path = "/api/codes/{table}", params(("table" = String, Path, description = "offices, trade_modes, countries, currencies, units, tariff, …"), CodesParams),
    responses((status = 200, description = "matching rows (at most 50) and whether there were more"), (status = 404, description = "no such table")))]
pub(crate) async fn codes(
    State(svc): State<Svc>,
    Path(table): Path<String>,
    query: Result<Query<CodesParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let rows = blocking(move || svc.portal().codes(&table, q.q.as_deref())).await?;
    Ok(json_ok(StatusCode::OK, &rows))
}

#[utoipa::path(post, path = "/api/declarations/check",
    request_body(content = Object, description = "a declaration in Jinguan's JSON form"),
    responses((status = 200, description = "{problems:[…]}: every problem filing would report; nothing is recorded"), (status = 403, description = "not an enterprise")))]
pub(crate) async fn check(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let bytes = body_bytes(body)?;
    require_json(&headers)?;
    let problems = blocking(move || svc.portal().check(&p, &bytes)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "problems": problems }),
    ))
}

/// A bound of the period: RFC 3339, or a Beijing-time date (`end`: the day after it).
fn bound(field: &str, v: Option<&str>, end: bool) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(v) = v else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    let date = NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
        invalid(
            field,
            "time_format",
            "时间须为 RFC 3339 或 YYYY-MM-DD",
            "a time is RFC 3339 or YYYY-MM-DD",
        )
    })?;
    let date = if end {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(domain::time::china_midnight(date))
}

#[utoipa::path(get, path = "/api/stats/summary", params(StatsParams),
    responses((status = 200, description = "volumes today and this month, lane mix, clearance times (median, p90: histogram buckets of two significant figures), top commodities and partners, by office, all from the store's daily aggregates (nothing sampled; the period is counted in whole Beijing days, `from` and `to` in the answer); the exchange's health (outbox counts per agency, the feed's signing key)"),
        (status = 403, description = "not a statistician, or the office is outside your scope")))]
pub(crate) async fn stats_summary(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<StatsParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(q) = query.map_err(bad_query)?;
    let office = q
        .office
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| {
            OfficeCode::parse(s)
                .map_err(|e| invalid("office", "office_code", e.to_string(), e.to_string()))
        })
        .transpose()?;
    let query = StatsQuery {
        office,
        from: bound("from", q.from.as_deref().filter(|s| !s.is_empty()), false)?,
        to: bound("to", q.to.as_deref().filter(|s| !s.is_empty()), true)?,
    };
    let summary = blocking(move || svc.stats().summary(&p, query)).await?;
    Ok(json_ok(StatusCode::OK, &summary))
}
