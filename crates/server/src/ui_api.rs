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
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CodesParams {
    /// A code prefix or part of a Chinese or English name; empty: the whole table (first rows).
    pub q: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
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

/// Look up a code table.
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

/// Check a declaration without filing it.
#[utoipa::path(post, path = "/api/declarations/check",
    request_body(content = crate::api_doc::DeclarationForm, description = "a declaration in Jinguan's JSON form"),
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

/// The dashboard's volumes, lanes and clearance times.
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WarehouseParams {
    /// Group by: month, flow, chapter, hs4, hs6, hs8, partner, trade_mode, transport_mode,
    /// district, region, enterprise_type.
    pub by: String,
    /// First month, `YYYY-MM`.
    pub from: String,
    /// Last month, `YYYY-MM`.
    pub to: String,
    /// Drill-down: `dimension:code` pairs separated by commas, e.g. `chapter:85,partner:USA`.
    pub filter: Option<String>,
    /// An office (and those below it); default the caller's scope.
    pub office: Option<String>,
    /// Groups at most (1..=1000, default 50).
    pub limit: Option<u32>,
}

/// Trade statistics from the warehouse.
#[utoipa::path(get, path = "/api/stats/warehouse", params(WarehouseParams),
    responses((status = 200, description = "trade by the dimension asked (CNY fen, USD cents; exports and imports), largest first"),
        (status = 422, description = "bad dimension, month, filter or limit (each problem with its field, zh and en)"), (status = 403, description = "not a statistician"),
        (status = 200, description = "no warehouse configured: `{\"available\": false, \"rows\": []}`")))]
pub(crate) async fn stats_warehouse(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<WarehouseParams>, QueryRejection>,
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
    let by = app::stats::dimension("by", &q.by)?;
    // Each month named by the parameter the caller sent (the warehouse would say "month").
    let mut problems = Vec::new();
    for (field, m) in [("from", &q.from), ("to", &q.to)] {
        let b = m.as_bytes();
        let ok = b.len() == 7
            && b[4] == b'-'
            && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
            && matches!(m[5..].parse::<u8>(), Ok(1..=12));
        if !ok {
            problems.push(app::FieldProblem {
                field: field.into(),
                code: "bad_month".into(),
                message_zh: format!("月份“{m}”格式错误：应为 YYYY-MM，例如 2026-10"),
                message_en: format!("bad month {m:?}: expected YYYY-MM, e.g. 2026-10"),
            });
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::from(app::AppError::Invalid(problems)));
    }
    let mut filters = Vec::new();
    for part in q
        .filter
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
    {
        let Some((d, code)) = part.split_once(':') else {
            return Err(invalid(
                "filter",
                "filter",
                format!("筛选条件“{part}”应为 维度:代码"),
                format!("filter {part:?} must be dimension:code"),
            ));
        };
        filters.push((app::stats::dimension("filter", d)?, code.to_owned()));
    }
    let breakdown = app::warehouse::Breakdown {
        by,
        from: q.from,
        to: q.to,
        filters,
        offices: None,
        limit: q.limit.unwrap_or(50),
    };
    let by_name = by.as_str();
    let s = svc.clone();
    match blocking(move || s.stats().warehouse_breakdown(&p, office, breakdown)).await {
        Ok(answer) => Ok(json_ok(StatusCode::OK, &answer)),
        // Asked by a statistician (access is decided first) of a server without a warehouse:
        // an answer the dashboard can show, not a failed load in the browser's console.
        Err(e) if !svc.stats().has_warehouse() && e.status == StatusCode::NOT_FOUND => Ok(json_ok(
            StatusCode::OK,
            &serde_json::json!({"by": by_name, "available": false, "rows": [], "truncated": false}),
        )),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct BulletinParams {
    /// The month, `YYYY-MM`.
    pub month: String,
    /// `csv` (default) or `xlsx`.
    pub format: Option<String>,
}

/// The monthly statistics bulletin.
#[utoipa::path(get, path = "/api/stats/bulletin", params(BulletinParams),
    responses((status = 200, description = "the monthly bulletin as a CSV or Excel file"),
        (status = 422, description = "bad month or format (each problem with its field, zh and en)"), (status = 403, description = "not a statistician"),
        (status = 404, description = "no warehouse configured")))]
pub(crate) async fn stats_bulletin(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<BulletinParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    use axum::http::header;
    use axum::response::IntoResponse;
    let (p, _) = principal(&svc, &headers).await?;
    let Query(q) = query.map_err(bad_query)?;
    let (format, mime, ext) = match q.format.as_deref().unwrap_or("csv") {
        "csv" => (
            app::warehouse::BulletinFormat::Csv,
            "text/csv; charset=utf-8",
            "csv",
        ),
        "xlsx" => (
            app::warehouse::BulletinFormat::Xlsx,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
        other => {
            return Err(invalid(
                "format",
                "format",
                format!("格式“{other}”不支持：csv 或 xlsx"),
                format!("format {other:?} is not csv or xlsx"),
            ))
        }
    };
    let month = q.month.clone();
    let bytes = blocking(move || svc.stats().warehouse_bulletin(&p, &month, format)).await?;
    // The month was checked by the warehouse: digits and one dash only.
    let disposition = format!("attachment; filename=\"bulletin-{}.{ext}\"", q.month);
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}
