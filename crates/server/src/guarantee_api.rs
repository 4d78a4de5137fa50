//! The HTTP endpoints of the guarantee ledger (docs/TAX.md "Guarantees"): bank users register
//! the guarantees they issue and read their balances; an enterprise reads those securing it;
//! officers and HQ look one up; tax officers enforce what fell due unpaid. Authentication here;
//! authorization in the service (`app::authorize`), deny by default.

use app::guarantee_desk::GuaranteeRequest;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/guarantees", get(list).post(register))
        .route("/api/guarantees/enforce", post(enforce))
        .route("/api/guarantees/{id}", get(get_one))
}

/// A guarantee as its bank registers it (the body is read as
/// `app::guarantee_desk::GuaranteeRequest`; the issuing bank is the signed-in bank user).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GuaranteeRegistrationBody)]
pub(crate) struct GuaranteeBody {
    /// The bank's number of the guarantee, unique.
    #[schema(example = "BOC-G-2025-001")]
    id: String,
    /// `bank_guarantee` (保函) or `general` (总担保).
    #[schema(example = "general")]
    kind: String,
    /// The enterprise it secures (USCC).
    #[schema(example = "91310000MA1FL4XQ2K")]
    holder: String,
    /// In fen, above zero.
    #[schema(example = 100000000)]
    amount_fen: i64,
    #[schema(example = "2025-01-01")]
    valid_from: String,
    /// Inclusive.
    #[schema(example = "2025-12-31")]
    valid_to: String,
    /// Offices where it may be used (each covers those below it; `0000`: all).
    #[schema(example = json!(["2200"]))]
    offices: Vec<String>,
    /// `release` (release against a guarantee), `transit`.
    #[schema(example = json!(["release", "transit"]))]
    purposes: Vec<String>,
}

/// Register a guarantee (bank).
#[utoipa::path(post, operation_id = "register_guarantee", path = "/api/guarantees", request_body = GuaranteeBody,
    responses((status = 201, description = "registered, with its balance"),
        (status = 403, description = "not a bank user"),
        (status = 409, description = "the number is registered already"),
        (status = 422, description = "every problem with its field, in Chinese and English")))]
async fn register(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: GuaranteeRequest = parse_json(&headers, &body_bytes(body)?)?;
    let g = blocking(move || svc.guarantees().register(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &g))
}

/// List guarantees with balances.
#[utoipa::path(get, operation_id = "list_guarantees", path = "/api/guarantees",
    responses((status = 200, description = "a bank's guarantees, or those securing the enterprise, with balances and reservations"),
        (status = 403, description = "neither a bank user nor an enterprise")))]
async fn list(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let list = blocking(move || svc.guarantees().list(&p)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// One guarantee with its balance and reservations.
#[utoipa::path(get, operation_id = "get_guarantee", path = "/api/guarantees/{id}",
    params(("id" = String, Path, description = "the guarantee number")),
    responses((status = 200, description = "the guarantee with its balance and reservations"),
        (status = 404, description = "no such guarantee, or not the principal's")))]
async fn get_one(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let g = blocking(move || svc.guarantees().get(&p, &id)).await?;
    Ok(json_ok(StatusCode::OK, &g))
}

/// Claim the overdue reservations against their banks.
#[utoipa::path(post, operation_id = "enforce_guarantees", path = "/api/guarantees/enforce",
    responses((status = 200, description = "the reservations due before today claimed against their banks, each once, with guarantee_enforced.v1 sent"),
        (status = 403, description = "not a tax officer")))]
async fn enforce(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let report = blocking(move || svc.guarantees().enforce(&p)).await?;
    Ok(json_ok(StatusCode::OK, &report))
}

#[derive(OpenApi)]
#[openapi(
    paths(register, list, get_one, enforce),
    components(schemas(GuaranteeBody))
)]
pub(crate) struct GuaranteeApiDoc;
