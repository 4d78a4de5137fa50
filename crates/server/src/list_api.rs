//! The declarations list (`GET /api/declarations`) and its export
//! (`GET /api/declarations/export`): filters, free text, sort, pages by number with the total
//! (store::search), or the older cursor pages; every bad parameter listed at once, each with
//! its field and a message in Chinese and English.

use app::{FieldProblem, ListQuery};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use clearance::{Lane, Status};
use domain::codes::{OfficeCode, Uscc};
use store::search::{SearchRequest, SortKey, OFFSET_MAX, TERMS_MAX, TEXT_MAX};
use store::{Cursor, DeclarationSummary, PageRequest, PAGE_MAX};

use crate::{blocking, json_ok, principal, ApiError, Svc, PAGE_DEFAULT};

/// Listing filters, sort and page (query string).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documentation of the parameters only: they are read one by one.
pub struct ListParams {
    /// A status (`submitted`, `accepted`, `released`, …).
    pub status: Option<String>,
    /// `green`, `yellow` or `red`.
    pub lane: Option<String>,
    /// A declaration office code (within the officer's offices).
    pub office: Option<String>,
    /// The declarant's USCC (an enterprise sees only its own).
    pub declarant: Option<String>,
    /// A goods line's commodity code begins with these 2 to 10 digits (the dashboard's
    /// drill-down). Gives pages by number with the total.
    pub commodity: Option<String>,
    /// The trading country, a 3-letter code such as `USA` (the dashboard's drill-down). Gives
    /// pages by number with the total.
    pub country: Option<String>,
    /// Submitted at or after (RFC 3339).
    pub from: Option<String>,
    /// Submitted before (RFC 3339).
    pub to: Option<String>,
    /// Free text, up to 5 terms, each a substring of the pre-entry or declaration number, the
    /// declarant's, trader's, owner's or agent's USCC or name, the contract or bill number
    /// (ASCII case ignored). Gives pages by number with the total.
    pub q: Option<String>,
    /// A column, `-` first for descending: submitted_at, pre_entry_no, declaration_no,
    /// declarant, declaration_office, direction, status, lane (default `-submitted_at`). Gives
    /// pages by number with the total.
    pub sort: Option<String>,
    /// Page number from 1: pages by number with the total (`total`, `page`, `pages`).
    pub page: Option<String>,
    /// Rows per page, 1 to 500 (default 50).
    pub limit: Option<String>,
    /// Where a cursor page continues (without `q`, `sort` or `page`).
    pub cursor: Option<String>,
    /// Export only: `csv` (default) or `xlsx`.
    pub format: Option<String>,
    /// Export only: the headings' language, `zh` (default) or `en`.
    pub lang: Option<String>,
}

/// At most this many rows in one export.
pub const EXPORT_MAX: u64 = 10_000;

const KNOWN: &[&str] = &[
    "status",
    "lane",
    "office",
    "declarant",
    "commodity",
    "country",
    "from",
    "to",
    "q",
    "sort",
    "page",
    "limit",
    "cursor",
];
const EXPORT_ONLY: &[&str] = &["format", "lang"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Xlsx,
}

/// A request's parameters, read.
struct Parsed {
    query: ListQuery,
    search: SearchRequest,
    /// Pages by number (q, sort or page given) rather than by cursor.
    numbered: bool,
    cursor: Option<String>,
    format: Format,
    zh: bool,
}

fn problem(field: &str, code: &str, zh: impl Into<String>, en: impl Into<String>) -> FieldProblem {
    FieldProblem::new(field, code, zh, en)
}

fn parse(pairs: Vec<(String, String)>, export: bool) -> Result<Parsed, ApiError> {
    let mut problems = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut get = std::collections::HashMap::new();
    for (k, v) in pairs {
        let known = KNOWN.contains(&k.as_str()) || (export && EXPORT_ONLY.contains(&k.as_str()));
        if !known {
            problems.push(problem(
                &k,
                "unknown_parameter",
                format!("未知的查询参数“{k}”"),
                format!("unknown query parameter `{k}`"),
            ));
        } else if !seen.insert(k.clone()) {
            problems.push(problem(
                &k,
                "repeated_parameter",
                format!("查询参数“{k}”重复"),
                format!("query parameter `{k}` given more than once"),
            ));
        } else if !v.trim().is_empty() {
            // An empty value (a form's blank input) is no filter.
            get.insert(k, v);
        }
    }
    let s = |k: &str| get.get(k).map(String::as_str);
    let status = s("status").and_then(|v| {
        let st = Status::parse(v);
        if st.is_none() {
            problems.push(problem(
                "status",
                "unknown_status",
                format!("未知状态“{v}”"),
                format!("unknown status `{v}`"),
            ));
        }
        st
    });
    let lane = s("lane").and_then(|v| {
        let l = Lane::parse(v);
        if l.is_none() {
            problems.push(problem(
                "lane",
                "unknown_lane",
                format!("未知通道“{v}”（green、yellow、red）"),
                format!("unknown lane `{v}` (green, yellow, red)"),
            ));
        }
        l
    });
    let office = s("office").and_then(|v| match OfficeCode::parse(v) {
        Ok(o) => Some(o),
        Err(e) => {
            problems.push(problem(
                "office",
                "office_code",
                format!("关区代码有误：{e}"),
                format!("bad office code: {e}"),
            ));
            None
        }
    });
    let declarant = s("declarant").and_then(|v| match Uscc::parse(v) {
        Ok(u) => Some(u),
        Err(e) => {
            problems.push(problem(
                "declarant",
                "uscc",
                format!("统一社会信用代码有误：{e}"),
                format!("bad unified social credit code: {e}"),
            ));
            None
        }
    });
    let commodity = s("commodity").map(str::trim).and_then(|v| {
        if (2..=10).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit()) {
            Some(v.to_owned())
        } else {
            problems.push(problem(
                "commodity",
                "commodity_prefix",
                format!("商品编号须为 2 至 10 位数字（可为前几位），而不是“{v}”"),
                format!("a commodity code is 2 to 10 digits (or its first digits), not `{v}`"),
            ));
            None
        }
    });
    let country = s("country").map(str::trim).and_then(|v| {
        let up = v.to_ascii_uppercase();
        if up.len() == 3 && up.bytes().all(|b| b.is_ascii_uppercase()) {
            Some(up)
        } else {
            problems.push(problem(
                "country",
                "country_code",
                format!("国别（地区）代码须为 3 个字母，如 USA，而不是“{v}”"),
                format!("a country code is 3 letters, such as USA, not `{v}`"),
            ));
            None
        }
    });
    let mut time = |field: &str| -> Option<DateTime<Utc>> {
        let v = s(field)?;
        match DateTime::parse_from_rfc3339(v) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(e) => {
                problems.push(problem(
                    field,
                    "time_format",
                    format!("时间格式有误（RFC 3339，如 2026-12-07T00:00:00+08:00）：{e}"),
                    format!("bad time (RFC 3339, such as 2026-12-07T00:00:00+08:00): {e}"),
                ));
                None
            }
        }
    };
    let from = time("from");
    let to = time("to");
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            problems.push(problem(
                "to",
                "empty_range",
                "截止时间须晚于起始时间",
                "`to` must be later than `from`",
            ));
        }
    }
    let text = s("q").map(str::trim).map(str::to_owned);
    if let Some(t) = &text {
        if t.chars().count() > TEXT_MAX {
            problems.push(problem(
                "q",
                "too_long",
                format!("检索词至多 {TEXT_MAX} 个字符"),
                format!("search text is at most {TEXT_MAX} characters"),
            ));
        }
        if t.split_whitespace().count() > TERMS_MAX {
            problems.push(problem(
                "q",
                "too_many_terms",
                format!("检索词至多 {TERMS_MAX} 个"),
                format!("at most {TERMS_MAX} search terms"),
            ));
        }
    }
    let (sort, descending) = match s("sort") {
        None => (SortKey::SubmittedAt, true),
        Some(v) => {
            let (name, desc) = match v.strip_prefix('-') {
                Some(n) => (n, true),
                None => (v, false),
            };
            match SortKey::parse(name) {
                Some(k) => (k, desc),
                None => {
                    let names: Vec<&str> = SortKey::ALL.iter().map(|k| k.as_str()).collect();
                    problems.push(problem(
                        "sort",
                        "unknown_sort",
                        format!("不能按“{v}”排序，可用：{}", names.join("、")),
                        format!("cannot sort by `{v}`; one of: {}", names.join(", ")),
                    ));
                    (SortKey::SubmittedAt, true)
                }
            }
        }
    };
    let mut number = |field: &str, max: u64| -> Option<u64> {
        let v = s(field)?;
        match v.parse::<u64>() {
            Ok(n) if (1..=max).contains(&n) => Some(n),
            _ => {
                problems.push(problem(
                    field,
                    "out_of_range",
                    format!("“{field}”须为 1 至 {max} 的整数"),
                    format!("`{field}` must be a whole number from 1 to {max}"),
                ));
                None
            }
        }
    };
    let limit = number("limit", u64::from(PAGE_MAX)).unwrap_or(u64::from(PAGE_DEFAULT));
    let page = number("page", OFFSET_MAX);
    let offset = page.map(|p| (p - 1) * limit).unwrap_or(0);
    if offset + limit > OFFSET_MAX {
        problems.push(problem(
            "page",
            "too_deep",
            format!("分页至多到第 {OFFSET_MAX} 条，请缩小检索范围"),
            format!("pages reach at most {OFFSET_MAX} rows in; narrow the search"),
        ));
    }
    let numbered = text.is_some()
        || s("sort").is_some()
        || page.is_some()
        || commodity.is_some()
        || country.is_some();
    let cursor = s("cursor").map(str::to_owned);
    if cursor.is_some() && numbered {
        problems.push(problem(
            "cursor",
            "cursor_with_page",
            "游标分页不能与检索词、排序、页码、商品编号或国别同用",
            "`cursor` cannot be combined with `q`, `sort`, `page`, `commodity` or `country`",
        ));
    }
    let format = match s("format") {
        None | Some("csv") => Format::Csv,
        Some("xlsx") => Format::Xlsx,
        Some(v) => {
            problems.push(problem(
                "format",
                "unknown_format",
                format!("未知的导出格式“{v}”（csv、xlsx）"),
                format!("unknown export format `{v}` (csv, xlsx)"),
            ));
            Format::Csv
        }
    };
    let zh = match s("lang") {
        None | Some("zh") => true,
        Some("en") => false,
        Some(v) => {
            problems.push(problem(
                "lang",
                "unknown_language",
                format!("未知语言“{v}”（zh、en）"),
                format!("unknown language `{v}` (zh, en)"),
            ));
            true
        }
    };
    if !problems.is_empty() {
        return Err(ApiError::from(app::AppError::Invalid(problems)));
    }
    Ok(Parsed {
        query: ListQuery {
            status,
            lane,
            office,
            declarant,
            submitted_from: from,
            submitted_to: to,
        },
        search: SearchRequest {
            filter: Default::default(),
            text: text.filter(|t| !t.is_empty()),
            commodity,
            country,
            sort,
            descending,
            offset,
            limit: limit as u32,
        },
        numbered,
        cursor,
        format,
        zh,
    })
}

fn query_problem(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::from(app::AppError::invalid(
        "query",
        "query",
        format!("查询参数有误：{e}"),
        format!("bad query: {e}"),
    ))
}

/// List declarations.
#[utoipa::path(get, operation_id = "list_declarations", path = "/api/declarations", params(ListParams),
    responses(
        (status = 200, description = "with `q`, `sort` or `page`: `{items, total, page, pages, limit}` (pages by number, sorted); otherwise `{items, next_cursor}` (newest first, by cursor)", body = crate::api_doc::DeclarationPage),
        (status = 422, description = "every bad parameter listed, each with its field and messages in Chinese and English")))]
pub(crate) async fn list(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(pairs) = query.map_err(query_problem)?;
    let parsed = parse(pairs, false)?;
    if parsed.numbered {
        let req = parsed.search.clone();
        let limit = u64::from(req.limit);
        let page_no = req.offset / limit + 1;
        let got = blocking(move || svc.steps().search(&p, parsed.query, req)).await?;
        return Ok(json_ok(
            StatusCode::OK,
            &serde_json::json!({
                "items": got.items,
                "total": got.total,
                "page": page_no,
                "pages": got.total.div_ceil(limit),
                "limit": limit,
            }),
        ));
    }
    let page = PageRequest {
        after: parsed.cursor.as_deref().map(Cursor::parse),
        limit: parsed.search.limit,
    };
    let page = blocking(move || svc.steps().list(&p, parsed.query, page)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({
            "items": page.items,
            "next_cursor": page.next.as_ref().map(Cursor::as_str),
        }),
    ))
}

/// Export the declarations list as CSV or Excel.
#[utoipa::path(get, operation_id = "export_declarations", path = "/api/declarations/export", params(ListParams),
    responses(
        (status = 200, description = "every declaration the list with the same parameters shows (all its pages, in its order; the caller's own only), as CSV (UTF-8 with BOM) or an .xlsx workbook"),
        (status = 422, description = "a bad parameter, or more than 10 000 rows: narrow the filter")))]
pub(crate) async fn export(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(pairs) = query.map_err(query_problem)?;
    let parsed = parse(pairs, true)?;
    let (format, zh) = (parsed.format, parsed.zh);
    let rows = blocking(move || {
        let mut req = SearchRequest {
            offset: 0,
            limit: PAGE_MAX,
            ..parsed.search
        };
        let mut rows = Vec::new();
        loop {
            let got = svc.steps().search(&p, parsed.query.clone(), req.clone())?;
            if got.total > EXPORT_MAX {
                return Err(app::AppError::invalid(
                    "query",
                    "too_many_rows",
                    format!(
                        "共 {} 条，导出至多 {EXPORT_MAX} 条，请缩小检索范围",
                        got.total
                    ),
                    format!(
                        "{} rows; an export holds at most {EXPORT_MAX}: narrow the search",
                        got.total
                    ),
                ));
            }
            let n = got.items.len() as u64;
            rows.extend(got.items);
            if n < u64::from(req.limit) || rows.len() as u64 >= got.total {
                break;
            }
            req.offset += n;
        }
        Ok(rows)
    })
    .await?;
    let stamp = Utc::now().format("%Y%m%d-%H%M%S");
    let (body, mime, ext) = match format {
        Format::Csv => (
            csv(&rows, zh).into_bytes(),
            "text/csv; charset=utf-8",
            "csv",
        ),
        Format::Xlsx => (
            xlsx(&rows, zh)?,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    };
    let mut resp = (StatusCode::OK, body).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"declarations-{stamp}.{ext}\""
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn headings(zh: bool) -> [&'static str; 9] {
    if zh {
        [
            "预录入编号",
            "报关单号",
            "进出口",
            "申报地海关",
            "申报单位",
            "状态",
            "通道",
            "申报时间",
            "版本",
        ]
    } else {
        [
            "Pre-entry No.",
            "Declaration No.",
            "Direction",
            "Declaration office",
            "Declarant",
            "Status",
            "Lane",
            "Submitted at",
            "Version",
        ]
    }
}

fn cells(d: &DeclarationSummary, zh: bool) -> [String; 9] {
    let direction = match (d.direction, zh) {
        (domain::codes::Direction::Import, true) => "进口",
        (domain::codes::Direction::Export, true) => "出口",
        (domain::codes::Direction::Import, false) => "import",
        (domain::codes::Direction::Export, false) => "export",
    };
    let status = if zh {
        d.status.name_zh()
    } else {
        d.status.as_str()
    };
    let lane = d.lane.map(|l| {
        if zh {
            match l {
                Lane::Green => "绿色",
                Lane::Yellow => "黄色",
                Lane::Red => "红色",
                Lane::Blue => "蓝色",
            }
        } else {
            l.as_str()
        }
    });
    [
        d.pre_entry_no.to_string(),
        d.declaration_no.map(|n| n.to_string()).unwrap_or_default(),
        direction.to_owned(),
        d.declaration_office.to_string(),
        d.declarant.to_string(),
        status.to_owned(),
        lane.unwrap_or("").to_owned(),
        // ISO form at second precision, in UTC.
        d.submitted_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        d.version.to_string(),
    ]
}

/// RFC 4180 CSV with a byte-order mark (so that spreadsheet programs read UTF-8); a cell that
/// a spreadsheet would take for a formula is prefixed with `'`.
fn csv(rows: &[DeclarationSummary], zh: bool) -> String {
    fn cell(out: &mut String, v: &str) {
        let v = if v.starts_with(['=', '+', '-', '@']) {
            format!("'{v}")
        } else {
            v.to_owned()
        };
        if v.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&v.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&v);
        }
    }
    let mut out = String::from("\u{feff}");
    let line = |out: &mut String, vals: &[String]| {
        for (i, v) in vals.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(out, v);
        }
        out.push_str("\r\n");
    };
    line(&mut out, &headings(zh).map(str::to_owned));
    for d in rows {
        line(&mut out, &cells(d, zh));
    }
    out
}

fn xlsx(rows: &[DeclarationSummary], zh: bool) -> Result<Vec<u8>, ApiError> {
    use rust_xlsxwriter::{Format as Fmt, Workbook};
    let fail = |e: rust_xlsxwriter::XlsxError| {
        tracing::error!(error = %e, "xlsx export failed");
        ApiError::internal()
    };
    let mut wb = Workbook::new();
    let sheet = wb.add_worksheet();
    sheet
        .set_name(if zh { "报关单" } else { "Declarations" })
        .map_err(fail)?;
    let bold = Fmt::new().set_bold();
    for (c, h) in headings(zh).iter().enumerate() {
        sheet
            .write_string_with_format(0, c as u16, *h, &bold)
            .map_err(fail)?;
    }
    for (r, d) in rows.iter().enumerate() {
        for (c, v) in cells(d, zh).iter().enumerate() {
            let row = r as u32 + 1;
            if c == 8 {
                sheet
                    .write_number(row, c as u16, d.version as f64)
                    .map_err(fail)?;
            } else {
                sheet.write_string(row, c as u16, v).map_err(fail)?;
            }
        }
    }
    for (c, w) in [20.0, 20.0, 8.0, 12.0, 22.0, 14.0, 8.0, 22.0, 8.0]
        .iter()
        .enumerate()
    {
        sheet.set_column_width(c as u16, *w).map_err(fail)?;
    }
    sheet.set_freeze_panes(1, 0).map_err(fail)?;
    wb.save_to_buffer().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn every_bad_parameter_is_listed() {
        let err = parse(
            pairs(&[
                ("status", "nope"),
                ("sort", "body"),
                ("page", "0"),
                ("limit", "x"),
                ("from", "yesterday"),
                ("colour", "red"),
                ("format", "xlsx"),
            ]),
            false,
        )
        .err()
        .expect("refused");
        let fields: Vec<String> = err.problems.iter().map(|p| p.field.clone()).collect();
        for f in [
            "status", "sort", "page", "limit", "from", "colour", "format",
        ] {
            assert!(fields.iter().any(|x| x == f), "{f} missing from {fields:?}");
        }
    }

    #[test]
    fn pages_by_number_from_q_sort_or_page() {
        let p = parse(
            pairs(&[
                ("q", " CT-1 "),
                ("sort", "-declarant"),
                ("page", "3"),
                ("limit", "20"),
            ]),
            false,
        )
        .ok()
        .unwrap();
        assert!(p.numbered);
        assert_eq!(p.search.text.as_deref(), Some("CT-1"));
        assert_eq!(
            (p.search.sort, p.search.descending),
            (SortKey::Declarant, true)
        );
        assert_eq!((p.search.offset, p.search.limit), (40, 20));
        let p = parse(pairs(&[("status", "accepted"), ("status_x", "")]), false);
        assert!(p.is_err());
        let p = parse(pairs(&[("status", ""), ("limit", "10")]), false)
            .ok()
            .unwrap();
        assert!(!p.numbered && p.query.status.is_none());
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let rows: Vec<DeclarationSummary> = Vec::new();
        let text = csv(&rows, false);
        assert!(text.starts_with("\u{feff}Pre-entry No.,Declaration No.,"));
        assert!(text.ends_with("\r\n"));
    }
}
