//! Drafts of forms kept by the server (issue 20 item 1; `app::drafts` says whose is whose):
//!
//! - `GET /api/drafts`: the user's drafts, the most recently saved first, without content;
//! - `POST /api/drafts` `{kind, title, body}`: a new draft (201);
//! - `GET /api/drafts/{id}`: one with its content;
//! - `PUT /api/drafts/{id}` `{kind, title, body, version?}`: its new content (409 when
//!   `version` is given and the draft was saved elsewhere since);
//! - `DELETE /api/drafts/{id}`: gone (204).
//!
//! Another user's draft (or one of the same user acting for another enterprise) is 404 on
//! every route, never 403. Bounds: 256 KiB of content, 200 drafts per user, a title of 200
//! characters: 422 with the problem in both languages beyond them.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

#[derive(OpenApi)]
#[openapi(
    paths(list, create, read, update, delete),
    components(schemas(DraftBody))
)]
pub(crate) struct DraftsApiDoc;

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/drafts", get(list).post(create))
        .route("/api/drafts/{id}", get(read).put(update).delete(delete))
}

/// A draft as the form saves it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftBody {
    /// The form: `declaration`.
    pub kind: String,
    /// What the list shows (at most 200 characters; may be empty).
    #[serde(default)]
    pub title: String,
    /// The form's content, a JSON object of at most 256 KiB.
    #[schema(value_type = Object)]
    pub body: serde_json::Value,
    /// On an update: the version last saved or read; a draft saved elsewhere since is 409.
    /// Absent: the last save wins.
    #[serde(default)]
    pub version: Option<u64>,
}

impl DraftBody {
    fn input(self) -> app::drafts::DraftInput {
        app::drafts::DraftInput {
            kind: self.kind,
            title: self.title,
            body: self.body,
            expected_version: self.version,
        }
    }
}

/// A draft's id in a path: anything but a positive number names no draft.
fn draft_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(ApiError::not_found)
}

/// List the user's drafts, newest first.
#[utoipa::path(get, operation_id = "list_drafts", path = "/api/drafts",
    responses(
        (status = 200, description = "the user's drafts, the most recently saved first, without their content: [{id, kind, title, size, version, created_at, updated_at}]"),
        (status = 401, description = "not signed in")))]
async fn list(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let drafts = blocking(move || svc.steps().drafts(&p)).await?;
    Ok(json_ok(StatusCode::OK, &drafts))
}

/// Save a new draft.
#[utoipa::path(post, operation_id = "create_draft", path = "/api/drafts", request_body = DraftBody,
    responses(
        (status = 201, description = "saved: {id, kind, title, size, version (1), created_at, updated_at}"),
        (status = 422, description = "every problem listed: kind, title, body (not an object, larger than 256 KiB), draft (200 drafts already)")))]
async fn create(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: DraftBody = parse_json(&headers, &body_bytes(body)?)?;
    let saved = blocking(move || svc.steps().save_draft(&p, None, b.input())).await?;
    Ok(json_ok(StatusCode::CREATED, &saved))
}

/// One of the user's drafts.
#[utoipa::path(get, operation_id = "get_draft", path = "/api/drafts/{id}",
    params(("id" = i64, Path, description = "draft id")),
    responses(
        (status = 200, description = "the draft with its content: {id, kind, title, size, version, created_at, updated_at, body}"),
        (status = 404, description = "no such draft of yours")))]
async fn read(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = draft_id(&id)?;
    let d = blocking(move || svc.steps().draft(&p, id)).await?;
    Ok(json_ok(StatusCode::OK, &d))
}

/// Save a draft again (optionally only if unchanged since a version).
#[utoipa::path(put, operation_id = "update_draft", path = "/api/drafts/{id}", request_body = DraftBody,
    params(("id" = i64, Path, description = "draft id")),
    responses(
        (status = 200, description = "saved: the draft's summary with its next version"),
        (status = 404, description = "no such draft of yours"),
        (status = 409, description = "`draft_conflict`: saved elsewhere since `version`"),
        (status = 422, description = "every problem listed, as for POST")))]
async fn update(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = draft_id(&id)?;
    let b: DraftBody = parse_json(&headers, &body_bytes(body)?)?;
    let saved = blocking(move || svc.steps().save_draft(&p, Some(id), b.input())).await?;
    Ok(json_ok(StatusCode::OK, &saved))
}

/// Delete a draft.
#[utoipa::path(delete, operation_id = "delete_draft", path = "/api/drafts/{id}",
    params(("id" = i64, Path, description = "draft id")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, description = "no such draft of yours")))]
async fn delete(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id = draft_id(&id)?;
    blocking(move || svc.steps().delete_draft(&p, id)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
