//! The HTTP endpoints of the E-Port ledgers (docs/EPORT.md "API"): the commerce agency issues
//! licences and reads its ledger with what remains (it and the development-and-reform
//! commission issue tariff-quota certificates, each for its commodities); an enterprise reads its own licences; the
//! market-regulation agency keeps the enterprise registry; the issuing agency withdraws a
//! licence. Authentication here; authorization
//! in the service (`app::authorize`), deny by default.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use domain::codes::Uscc;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/eport/licences", get(issued).post(issue))
        .route("/api/eport/my-licences", get(mine))
        .route(
            "/api/eport/licences/{licence_no}/withdrawal",
            post(withdraw),
        )
        .route("/api/eport/registry/{uscc}", put(put_registry))
}

/// A licence to issue (the body is read as `app::eport_desk::LicenceRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LicenceBody {
    #[schema(example = "AIL-2025-000123")]
    licence_no: String,
    /// `import`, `export` or `tariff_quota` (a tariff-quota certificate 关税配额证明, issued by
    /// the agency allocating the commodity's quota).
    #[schema(example = "import")]
    kind: String,
    /// The holder's USCC.
    #[schema(example = "91310115MA1K4Q7B4Y")]
    holder: String,
    /// An HS code or a prefix of one (2 to 10 digits), or several separated by commas.
    #[schema(example = "8703")]
    commodity: String,
    /// A 3-digit unit code.
    #[schema(example = "003")]
    unit: String,
    /// Decimal text, above zero.
    #[schema(example = "50")]
    quantity: String,
    #[schema(example = "2025-01-01")]
    valid_from: String,
    /// The last day of validity.
    #[schema(example = "2025-12-31")]
    valid_to: String,
}

/// A licence's withdrawal by its issuing agency (the body is read as
/// `app::eport_desk::WithdrawalRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WithdrawalBody {
    /// Why (1 to 500 characters).
    #[schema(example = "holder's import rights revoked")]
    reason: String,
    /// When the agency withdrew it (RFC 3339); now when absent; not in the future.
    #[schema(example = "2025-06-01T08:00:00+08:00")]
    withdrawn_at: Option<String>,
}

/// An enterprise's registry entry (the body is read as `app::eport_desk::RegistryRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegistryBody {
    name: String,
    /// `active` or `deregistered`.
    #[schema(example = "active")]
    status: String,
}

/// Issue a licence (agency).
#[utoipa::path(post, operation_id = "issue_licence", path = "/api/eport/licences", request_body = LicenceBody,
    responses((status = 201, description = "issued; the licence with what remains"),
        (status = 403, description = "not the commerce agency (a licence), not the agency allocating the commodity's quota (a tariff-quota certificate)"),
        (status = 409, description = "the licence number exists"),
        (status = 422, description = "the licence is not well formed")))]
async fn issue(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: app::eport_desk::LicenceRequest = parse_json(&headers, &body_bytes(body)?)?;
    let view = blocking(move || svc.eport().issue_licence(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &view))
}

/// Withdraw a licence (its issuing agency).
///
/// From then on a filing naming it is refused (`licence_withdrawn` on `licence_no`) and a
/// declaration filed on it before cannot be released; what was written off stays.
#[utoipa::path(post, operation_id = "withdraw_licence", path = "/api/eport/licences/{licence_no}/withdrawal",
    request_body = WithdrawalBody,
    params(("licence_no" = String, Path, description = "the licence's number")),
    responses((status = 200, description = "withdrawn; the licence with its withdrawal and what remains"),
        (status = 403, description = "not the commerce agency or the development-and-reform commission, or not the licence's issuer (`not_issuer`)"),
        (status = 404, description = "no such licence"),
        (status = 409, description = "withdrawn already (`licence_already_withdrawn`)"),
        (status = 422, description = "no reason, or a time in the future")))]
async fn withdraw(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(licence_no): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: app::eport_desk::WithdrawalRequest = parse_json(&headers, &body_bytes(body)?)?;
    let view = blocking(move || svc.eport().withdraw_licence(&p, &licence_no, b)).await?;
    Ok(json_ok(StatusCode::OK, &view))
}

/// The licences the agency issued.
#[utoipa::path(get, operation_id = "issued_licences", path = "/api/eport/licences",
    responses((status = 200, description = "the licences the agency issued, with reserved, written-off and remaining quantities"),
        (status = 403, description = "not the commerce agency")))]
async fn issued(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let list = blocking(move || svc.eport().issued_licences(&p)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// The enterprise's own licences.
#[utoipa::path(get, operation_id = "my_licences", path = "/api/eport/my-licences",
    responses((status = 200, description = "the enterprise's own licences and what remains"),
        (status = 403, description = "not an enterprise")))]
async fn mine(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let list = blocking(move || svc.eport().my_licences(&p)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// Record an enterprise in the market-regulation registry.
#[utoipa::path(put, path = "/api/eport/registry/{uscc}", request_body = RegistryBody,
    params(("uscc" = String, Path, description = "the enterprise's USCC")),
    responses((status = 200, description = "recorded; checked at the enterprise's next filing"),
        (status = 403, description = "not the market-regulation agency")))]
async fn put_registry(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(uscc): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let uscc = Uscc::parse(&uscc).map_err(|e| {
        crate::invalid(
            "uscc",
            "uscc",
            format!("统一社会信用代码有误：{}", e.message_zh()),
            e.to_string(),
        )
    })?;
    let b: app::eport_desk::RegistryRequest = parse_json(&headers, &body_bytes(body)?)?;
    let entry = blocking(move || svc.eport().put_registry(&p, uscc, b)).await?;
    Ok(json_ok(StatusCode::OK, &entry))
}

#[derive(OpenApi)]
#[openapi(
    paths(issue, issued, mine, put_registry, withdraw),
    components(schemas(LicenceBody, RegistryBody, WithdrawalBody))
)]
pub(crate) struct EportApiDoc;
