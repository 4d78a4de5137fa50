//! The HTTP endpoints of export tax refund and foreign-exchange matching (docs/EPORT.md
//! "API"): an enterprise files and follows its refund claims and reads its foreign-exchange
//! status; the tax agency reads the verified claims; bank users record receipts and payments;
//! the foreign-exchange agency reads the class report; the tax agency records a refund paid. Authentication here; authorization in
//! the service (`app::authorize`), deny by default.

use app::finance::{BankRecordRequest, ClaimRequest, PeriodQuery, RefundPaidRequest};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{blocking, body_bytes, invalid, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/eport/refund-claims", get(verified).post(file_claim))
        .route("/api/eport/my-refund-claims", get(my_claims))
        .route(
            "/api/eport/refund-claims/{declaration_no}/{item_no}/payment",
            post(pay_refund),
        )
        .route("/api/eport/bank-records", get(bank_records).post(record))
        .route("/api/eport/forex/report", get(report))
        .route("/api/eport/forex/my-status", get(my_status))
}

/// A refund claim (the body is read as `app::finance::ClaimRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClaimBody {
    /// The closed export declaration's number (18 digits).
    #[schema(example = "530420250000000045")]
    declaration_no: String,
    /// The item number on the declaration (1-based).
    #[schema(example = 1)]
    item_no: u32,
    /// The commodity exported (10-digit HS code), as declared.
    #[schema(example = "6403990000")]
    hs_code: String,
    /// The quantity in the item's declared unit, as declared (exact).
    #[schema(example = "4000")]
    quantity: String,
    /// The FOB value in yuan, as fen; within 1 fen of the customs record.
    #[schema(example = 53228980)]
    fob_value_fen: i64,
}

/// The tax agency's payment of a verified claim (the body is read as
/// `app::finance::RefundPaidRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefundPaidBody {
    /// In yuan, as fen: above zero, at most the claim's ceiling (its customs FOB value × the
    /// commodity's VAT rate).
    #[schema(example = 6919767)]
    amount_fen: i64,
    /// The day it was paid: not before the claim was verified, not after today (China dates).
    #[schema(example = "2025-06-09")]
    paid_on: String,
    /// The treasury's or bank's reference of the transfer (1 to 64 visible characters).
    #[schema(example = "TR-2025-000981")]
    bank_reference: String,
}

/// A receipt or payment (the body is read as `app::finance::BankRecordRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct BankRecordBody {
    /// `receipt` (export proceeds) or `payment` (import payment).
    #[schema(example = "receipt")]
    kind: String,
    /// The enterprise's USCC.
    #[schema(example = "91440300MA5FT3XKX8")]
    uscc: String,
    /// In `currency`, above zero, at most 2 decimals.
    #[schema(example = "74000.00")]
    amount: String,
    #[schema(example = "USD")]
    currency: String,
    #[schema(example = "2025-04-20")]
    value_date: String,
    /// The bank's own reference, unique per bank.
    #[schema(example = "BOC-2025-0001")]
    bank_ref: String,
    /// The declaration the funds are for, if the bank knows it.
    declaration_no: Option<String>,
}

/// A matching period, both days included (China dates); default the last 365 days.
#[allow(dead_code)]
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PeriodParams {
    /// First day (`2025-01-01`).
    from: Option<String>,
    /// Last day (`2025-12-31`); default today.
    to: Option<String>,
}

fn period(query: Result<Query<PeriodQuery>, QueryRejection>) -> Result<PeriodQuery, ApiError> {
    query.map(|Query(q)| q).map_err(|e| {
        crate::invalid(
            "query",
            "bad_query",
            format!("查询参数有误：{e}"),
            e.to_string(),
        )
    })
}

/// File an export tax refund claim.
#[utoipa::path(post, path = "/api/eport/refund-claims", request_body = ClaimBody,
    responses((status = 201, description = "matched and recorded as verified"),
        (status = 403, description = "not an enterprise"),
        (status = 409, description = "the declaration item was claimed already"),
        (status = 422, description = "no match: every problem with its field, in Chinese and English")))]
async fn file_claim(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: ClaimRequest = parse_json(&headers, &body_bytes(body)?)?;
    let claim = blocking(move || svc.finance().file_refund_claim(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &claim))
}

/// Record a refund paid on a verified claim (tax agency).
///
/// Once per claim; the declaration is then not amended or cancelled (`refund_paid`).
#[utoipa::path(post, operation_id = "pay_refund", path = "/api/eport/refund-claims/{declaration_no}/{item_no}/payment",
    request_body = RefundPaidBody,
    params(("declaration_no" = String, Path, description = "the declaration's number (18 digits)"),
        ("item_no" = u32, Path, description = "the claimed item's number (1-based)")),
    responses((status = 200, description = "paid; the claim with its payment"),
        (status = 403, description = "not the tax agency"),
        (status = 404, description = "no verified claim on that item"),
        (status = 409, description = "the claim was paid already (`refund_already_paid`)"),
        (status = 422, description = "the amount above the ceiling or not above zero, a bad bank reference, a day before the claim or after today; every problem with its field, in Chinese and English")))]
async fn pay_refund(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path((declaration_no, item_no)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let no = domain::codes::DeclarationNo::parse(&declaration_no).map_err(|e| {
        invalid(
            "declaration_no",
            "declaration_no",
            format!("报关单号有误：{}", e.message_zh()),
            format!("declaration number: {e}"),
        )
    })?;
    let item = item_no
        .parse::<u32>()
        .ok()
        .filter(|i| *i >= 1)
        .ok_or_else(|| {
            invalid(
                "item_no",
                "item_no",
                "项号须为正整数",
                "the item number is a positive integer",
            )
        })?;
    let b: RefundPaidRequest = parse_json(&headers, &body_bytes(body)?)?;
    let claim = blocking(move || svc.finance().pay_refund(&p, no, item, b)).await?;
    Ok(json_ok(StatusCode::OK, &claim))
}

/// Every verified refund claim (tax agency).
#[utoipa::path(get, operation_id = "verified_refund_claims", path = "/api/eport/refund-claims",
    responses((status = 200, description = "every verified claim, newest first"),
        (status = 403, description = "not the tax agency")))]
async fn verified(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let list = blocking(move || svc.finance().verified_refund_claims(&p)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// The enterprise's own refund claims.
#[utoipa::path(get, path = "/api/eport/my-refund-claims",
    responses((status = 200, description = "the enterprise's own claims and their status"),
        (status = 403, description = "not an enterprise")))]
async fn my_claims(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let list = blocking(move || svc.finance().my_refund_claims(&p)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// Record a bank's foreign exchange receipt or payment.
#[utoipa::path(post, operation_id = "record_bank_record", path = "/api/eport/bank-records", request_body = BankRecordBody,
    responses((status = 201, description = "recorded, with the amount in fen at the customs rate"),
        (status = 403, description = "not a bank user"),
        (status = 409, description = "the bank used this reference already"),
        (status = 422, description = "malformed, or no exchange rate for the currency")))]
async fn record(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: BankRecordRequest = parse_json(&headers, &body_bytes(body)?)?;
    let rec = blocking(move || svc.finance().record_bank_record(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &rec))
}

/// The bank's own foreign exchange records.
#[utoipa::path(get, path = "/api/eport/bank-records",
    responses((status = 200, description = "the bank's own records, newest value date first"),
        (status = 403, description = "not a bank user")))]
async fn bank_records(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let list = blocking(move || svc.finance().my_bank_records(&p)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// Enterprises by foreign exchange class.
#[utoipa::path(get, operation_id = "forex_report", path = "/api/eport/forex/report", params(PeriodParams),
    responses((status = 200, description = "enterprises by class (C first) with goods, funds, gap and divergence"),
        (status = 403, description = "not the foreign-exchange agency"),
        (status = 422, description = "a bad period")))]
async fn report(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let q = period(query)?;
    let r = blocking(move || svc.finance().forex_report(&p, q)).await?;
    Ok(json_ok(StatusCode::OK, &r))
}

/// The enterprise's foreign exchange standing.
#[utoipa::path(get, operation_id = "my_forex_status", path = "/api/eport/forex/my-status", params(PeriodParams),
    responses((status = 200, description = "the enterprise's own goods, funds and class"),
        (status = 403, description = "not an enterprise"),
        (status = 422, description = "a bad period")))]
async fn my_status(
    State(svc): State<Svc>,
    headers: HeaderMap,
    query: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let q = period(query)?;
    let r = blocking(move || svc.finance().my_forex_status(&p, q)).await?;
    Ok(json_ok(StatusCode::OK, &r))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        file_claim,
        pay_refund,
        verified,
        my_claims,
        record,
        bank_records,
        report,
        my_status
    ),
    components(schemas(ClaimBody, BankRecordBody, RefundPaidBody))
)]
pub(crate) struct FinanceApiDoc;
