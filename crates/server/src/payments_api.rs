//! The HTTP endpoints of payment through the bank (docs/TAX.md "Payment through the bank"):
//! the declarant initiates the payment of a notice through a bank and sees what is due today;
//! the bank's user confirms it with its own reference and the amount due; the daily
//! reconciliation per bank. Authentication here; authorization in the service
//! (`app::payments`), deny by default.

use app::payments::ConfirmPayment;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/notices/{notice_no}", get(notice))
        .route(
            "/api/notices/{notice_no}/payment-initiation",
            post(initiate),
        )
        .route("/api/bank/payments", post(confirm))
        .route("/api/bank/reconciliation", get(reconciliation))
}

/// The bank the declarant pays a notice through.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct InitiationBody {
    /// The bank user's code (login), e.g. `bank-boc`.
    #[schema(example = "bank-boc")]
    bank: String,
}

/// A bank's confirmation (read as `app::payments::ConfirmPayment`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmBody {
    #[schema(example = "010120250000000001-duty")]
    notice_no: String,
    /// The bank's own reference, unique per bank.
    #[schema(example = "BOC-20250601-0001")]
    reference: String,
    /// The amount collected, in fen: exactly the tax plus the late payment surcharge due on
    /// the day (China time) of the confirmation.
    #[schema(example = 1234500)]
    amount_fen: i64,
}

/// Which bank and day to reconcile.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReconcileParams {
    /// The bank user's code; a bank user: its own (the default); tax officers: required.
    bank: Option<String>,
    /// The China day (`2025-06-01`); default today.
    #[param(value_type = Option<String>)]
    day: Option<NaiveDate>,
}

/// One payment notice with the amount due today.
#[utoipa::path(get, operation_id = "get_notice", path = "/api/notices/{notice_no}",
    params(("notice_no" = String, Path, description = "payment notice number")),
    responses((status = 200, description = "the notice: issue date, due date, surcharge so far and amount due today (or what was paid)"),
        (status = 404, description = "unknown, or not visible to the caller")))]
async fn notice(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(notice_no): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || svc.payments().notice(&p, &notice_no)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Initiate a notice's payment through a bank.
#[utoipa::path(post, operation_id = "initiate_payment", path = "/api/notices/{notice_no}/payment-initiation", request_body = InitiationBody,
    params(("notice_no" = String, Path, description = "payment notice number")),
    responses((status = 201, description = "initiated: the notice with the amount due today"),
        (status = 403, description = "not the declarant"),
        (status = 404, description = "unknown, or another enterprise's"),
        (status = 409, description = "already paid, or not payable in the declaration's status"),
        (status = 422, description = "not a registered bank")))]
async fn initiate(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(notice_no): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: InitiationBody = parse_json(&headers, &body_bytes(body)?)?;
    let v = blocking(move || svc.payments().initiate(&p, &notice_no, &b.bank)).await?;
    Ok(json_ok(StatusCode::CREATED, &v))
}

/// Confirm a notice's payment (bank).
#[utoipa::path(post, operation_id = "confirm_payment", path = "/api/bank/payments", request_body = ConfirmBody,
    responses((status = 201, description = "paid: the receipt (the same again for a repeated confirmation)"),
        (status = 403, description = "not a bank user"),
        (status = 404, description = "unknown notice, or not initiated through this bank"),
        (status = 409, description = "the reference was used for another notice or amount, or the notice is paid"),
        (status = 422, description = "not the amount due (tax plus surcharge, stated in the message), or malformed")))]
async fn confirm(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: ConfirmPayment = parse_json(&headers, &body_bytes(body)?)?;
    let r = blocking(move || svc.payments().confirm(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &r))
}

/// A bank's day of payments with every mismatch.
#[utoipa::path(get, path = "/api/bank/reconciliation", params(ReconcileParams),
    responses((status = 200, description = "the notices paid through the bank that day, its confirmations, and every mismatch"),
        (status = 403, description = "not a bank user or tax officer, or another bank's"),
        (status = 422, description = "a bad query")))]
async fn reconciliation(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<ReconcileParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(q) = query.map_err(|e| {
        crate::invalid(
            "query",
            "bad_query",
            format!("查询参数有误：{e}"),
            e.to_string(),
        )
    })?;
    let r = blocking(move || svc.payments().reconcile(&p, q.bank.as_deref(), q.day)).await?;
    Ok(json_ok(StatusCode::OK, &r))
}

#[derive(OpenApi)]
#[openapi(
    paths(notice, initiate, confirm, reconciliation),
    components(schemas(InitiationBody, ConfirmBody))
)]
pub(crate) struct PaymentsApiDoc;
