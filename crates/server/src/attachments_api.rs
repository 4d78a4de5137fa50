//! Documents attached to a declaration (issue 20): upload (the body is the file itself, its
//! `Content-Type` the document's type, `?name=` its file name), list, download. Only those who
//! may see the declaration list or download its documents; a declaration out of sight is 404.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use store::attachments::ATTACHMENT_MAX_BYTES;
use utoipa::OpenApi;

use crate::{blocking, json_ok, parse_id, principal, ApiError, Svc};

#[derive(OpenApi)]
#[openapi(paths(upload, list, download, form_to_copy))]
pub(crate) struct AttachmentsDoc;

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route(
            "/api/declarations/{id}/attachments",
            get(list)
                .post(upload)
                // A document may be larger than a JSON request: its own limit, and a little
                // more, so that the service says "too large" with its own message.
                .layer(DefaultBodyLimit::max(ATTACHMENT_MAX_BYTES + 64 * 1024)),
        )
        .route(
            "/api/declarations/{id}/attachments/{attachment}",
            get(download),
        )
        .route("/api/declarations/{id}/form", get(form_to_copy))
}

/// Copy from a previous declaration: its form, to open a new filing with.
#[utoipa::path(get, path = "/api/declarations/{id}/form",
    params(("id" = i64, Path, description = "declaration id")),
    responses(
        (status = 200, description = "the declaration's current version as the filing form holds it (the body as filed, for one rejected by automatic review)"),
        (status = 404, description = "no such declaration, or not visible to you")))]
async fn form_to_copy(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let key = parse_id(&id)?;
    let form = blocking(move || svc.steps().form_to_copy(&p, key)).await?;
    Ok(json_ok(StatusCode::OK, &form))
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadParams {
    /// The document's file name, as shown and offered for download (1 to 120 characters).
    pub name: Option<String>,
}

/// Attach a document to a declaration.
#[utoipa::path(post, operation_id = "upload_attachment", path = "/api/declarations/{id}/attachments",
    params(("id" = i64, Path, description = "declaration id"), UploadParams),
    request_body(content = Vec<u8>, description = "the file itself; Content-Type: application/pdf, image/png, image/jpeg or application/xml; at most 5 MiB", content_type = "application/pdf"),
    responses(
        (status = 201, description = "stored, with its SHA-256 checksum: {id, declaration_id, name, content_type, size, sha256, uploaded_by, uploaded_at}"),
        (status = 404, description = "no such declaration, or not visible to you"),
        (status = 413, description = "larger than 5 MiB"),
        (status = 422, description = "every problem listed: name, type, size, count (at most 20 on a declaration)")))]
async fn upload(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<UploadParams>, axum::extract::rejection::QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let key = parse_id(&id)?;
    let Query(q) = query.map_err(|e| {
        ApiError::from(app::AppError::invalid(
            "query",
            "query",
            format!("查询参数有误：{e}"),
            format!("bad query: {e}"),
        ))
    })?;
    let body = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(ATTACHMENT_MAX_BYTES)
        } else {
            ApiError::from(app::AppError::invalid(
                "file",
                "unreadable",
                "文件未能完整收到",
                "the file did not arrive whole",
            ))
        }
    })?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let name = q.name.unwrap_or_default();
    let stored = blocking(move || {
        svc.steps()
            .attach(&p, key, &name, &content_type, body.to_vec())
    })
    .await?;
    Ok(json_ok(StatusCode::CREATED, &stored))
}

/// List a declaration's attached documents.
#[utoipa::path(get, operation_id = "list_attachments", path = "/api/declarations/{id}/attachments",
    params(("id" = i64, Path, description = "declaration id")),
    responses(
        (status = 200, description = "the documents, oldest first, without their bytes"),
        (status = 404, description = "no such declaration, or not visible to you")))]
async fn list(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let key = parse_id(&id)?;
    let list = blocking(move || svc.steps().attachments(&p, key)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// Download an attached document.
#[utoipa::path(get, operation_id = "download_attachment", path = "/api/declarations/{id}/attachments/{attachment}",
    params(("id" = i64, Path, description = "declaration id"), ("attachment" = i64, Path, description = "document id")),
    responses(
        (status = 200, description = "the file as uploaded (Content-Disposition: attachment; its SHA-256 in `X-Checksum-SHA256`, base 16)"),
        (status = 404, description = "no such document on the declaration, or the declaration not visible to you")))]
async fn download(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path((id, attachment)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let key = parse_id(&id)?;
    let aid = attachment
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(ApiError::not_found)?;
    let (a, data) = blocking(move || svc.steps().attachment(&p, key, aid)).await?;
    let mut resp = (StatusCode::OK, data).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&a.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    // The name as RFC 5987 UTF-8, and a plain fallback.
    let encoded: String = a
        .name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"document-{}\"; filename*=UTF-8''{encoded}",
        a.id
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Ok(v) = HeaderValue::from_str(&a.sha256) {
        h.insert("x-checksum-sha256", v);
    }
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
