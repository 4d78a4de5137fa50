//! Reading an uploaded single-window XML declaration (`DecMessage`, docs/DOMAIN.md §8) into the
//! JSON form, so that the portal fills its form for review as it does for a JSON upload:
//! `POST /api/declarations/parse-xml` (`Content-Type: application/xml` or `text/xml`, UTF-8 or
//! GB2312/GBK as the XML prolog says). Nothing is filed or recorded. The mapping:
//! `docs/declaration-xml.md`; the reader: `formats::decmessage`.
//!
//! Enterprises only: `app::authorize(ReadDeclarationFile, Upload)`, deny by default.

use app::{AppError, FieldProblem, Operation, Resource};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use domain::codes::Direction;
use serde::Deserialize;
use utoipa::OpenApi;

use crate::{blocking, body_bytes, invalid, json_ok, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new().route("/api/declarations/parse-xml", post(parse_xml))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ParseXmlParams {
    /// `import` or `export`: used only when the file carries no I/E flag (`DecHead/IEFlag`).
    direction: Option<String>,
}

/// `application/xml`, `text/xml` or a `+xml` type, any parameters (charset) ignored: the XML
/// prolog decides the encoding.
fn require_xml(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let mime = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            mime == "application/xml" || mime == "text/xml" || mime.ends_with("+xml")
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求体须为 XML（Content-Type: application/xml 或 text/xml）",
            "the body must be XML (Content-Type: application/xml or text/xml)",
        ))
    }
}

fn direction_hint(q: &ParseXmlParams) -> Result<Option<Direction>, ApiError> {
    match q.direction.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("import") => Ok(Some(Direction::Import)),
        Some("export") => Ok(Some(Direction::Export)),
        Some(_) => Err(invalid(
            "direction",
            "direction",
            "进出口方向须为 import 或 export",
            "direction is import or export",
        )),
    }
}

/// Read a DecMessage XML into the JSON form (nothing filed).
#[utoipa::path(post, path = "/api/declarations/parse-xml", params(ParseXmlParams),
    request_body(description = "a single-window declaration message <DecMessage> (UTF-8, or GB2312/GBK as its XML prolog declares); at most 1 MiB",
        content(("application/xml"), ("text/xml"))),
    responses((status = 200, description = "the declaration in Jinguan's JSON form (docs/declaration-json.md), to review and file; nothing is recorded"),
        (status = 403, description = "not an enterprise"),
        (status = 413, description = "larger than 1 MiB"),
        (status = 415, description = "not application/xml or text/xml"),
        (status = 422, description = "not a readable DecMessage: every problem, with its XML path (DecHead.GrossWet) and messages in Chinese and English")))]
pub(crate) async fn parse_xml(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<ParseXmlParams>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    app::authorize(
        &p,
        Operation::ReadDeclarationFile,
        Resource::Upload,
        svc.refdata(),
    )
    .map_err(|d| ApiError::from(AppError::from(d)))?;
    let bytes = body_bytes(body)?;
    require_xml(&headers)?;
    let Query(q) = query.map_err(|e| {
        invalid(
            "query",
            "query",
            format!("查询参数有误：{e}"),
            format!("bad query: {e}"),
        )
    })?;
    let hint = direction_hint(&q)?;
    let parsed =
        blocking(move || Ok(formats::decmessage::parse_with_direction(&bytes, hint))).await?;
    match parsed {
        Ok(form) => Ok(json_ok(StatusCode::OK, &form)),
        Err(problems) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_xml",
            "无法读取该 XML 报关单文件，问题如下",
            "the XML declaration file could not be read; see the problems",
        )
        .with_problems(problems.iter().map(FieldProblem::from).collect())),
    }
}

#[derive(OpenApi)]
#[openapi(paths(parse_xml))]
pub(crate) struct XmlApiDoc;
