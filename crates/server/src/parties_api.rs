//! The HTTP endpoints of parties and enforcement (docs/PARTIES.md): powers of attorney of
//! consignees to customs brokers (grant, list, revoke; the declarations a broker filed), and
//! the anti-smuggling case desk (open, list, read, steps); the credit history is
//! `crate::aeo_api`'s. Authentication here;
//! authorization in the service, deny by default.

use app::attorney::GrantRequest;
use app::case_desk::{CaseStepRequest, OpenCase};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use store::cases::CaseStatus;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/authorities", get(list).post(grant))
        .route("/api/authorities/declarations", get(agent_declarations))
        .route("/api/authorities/{id}/revoke", post(revoke))
        .route("/api/cases", get(list_cases).post(open_case))
        .route("/api/cases/{id}", get(get_case))
        .route("/api/cases/{id}/steps", post(case_step))
}

/// A power of attorney as the consignee grants it (read as `app::attorney::GrantRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct GrantBody {
    /// The customs broker (USCC).
    #[schema(example = "91310115MA1K9B2C7M")]
    broker: String,
    /// Trade modes (4 digits); empty: any.
    #[schema(example = json!(["0110"]))]
    trade_modes: Vec<String>,
    /// Offices of declaration (`XX00` covers those below it); empty: any.
    #[schema(example = json!(["2200"]))]
    offices: Vec<String>,
    #[schema(example = "2025-03-01")]
    valid_from: String,
    /// Inclusive; at most 366 days after the first day.
    #[schema(example = "2025-12-31")]
    valid_to: String,
    max_declarations: Option<u32>,
    max_value_fen: Option<i64>,
}

/// Grant a power of attorney to a broker.
#[utoipa::path(post, operation_id = "grant_authority", path = "/api/authorities", request_body = GrantBody,
    responses((status = 201, description = "granted, with its standing"),
        (status = 403, description = "not an enterprise user"),
        (status = 422, description = "every problem with its field, in Chinese and English")))]
async fn grant(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: GrantRequest = parse_json(&headers, &body_bytes(body)?)?;
    let a = blocking(move || svc.attorney().grant(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &a))
}

/// Powers of attorney granted and held.
#[utoipa::path(get, operation_id = "list_authorities", path = "/api/authorities",
    responses((status = 200, description = "the powers of attorney the enterprise granted and those it holds as a broker, each with its standing and use"),
        (status = 403, description = "not an enterprise user")))]
async fn list(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || svc.attorney().list(&p)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Revoke a power of attorney.
#[utoipa::path(post, operation_id = "revoke_authority", path = "/api/authorities/{id}/revoke",
    params(("id" = i64, Path, description = "the power of attorney")),
    responses((status = 200, description = "revoked: filings after this are refused"),
        (status = 404, description = "no such authority granted by this enterprise"),
        (status = 409, description = "revoked already")))]
async fn revoke(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let a = blocking(move || svc.attorney().revoke(&p, id)).await?;
    Ok(json_ok(StatusCode::OK, &a))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct LimitQuery {
    /// 1 to 500 (default 100).
    limit: Option<u32>,
}

/// The declarations a broker filed for its principals.
#[utoipa::path(get, path = "/api/authorities/declarations", params(LimitQuery),
    responses((status = 200, description = "the declarations the signed-in broker filed for its principals, newest first")))]
async fn agent_declarations(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Query(q): Query<LimitQuery>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || {
        svc.attorney()
            .agent_declarations(&p, q.limit.unwrap_or(100))
    })
    .await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Opening a case (read as `app::case_desk::OpenCase`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct OpenCaseBody {
    #[schema(example = "2233")]
    office: String,
    /// `risk_hit`, `inspection_finding`, `intelligence` or `referral`.
    #[schema(example = "risk_hit")]
    origin: String,
    /// What it was opened from (a declaration number, a rule, a report).
    origin_ref: String,
    summary: String,
}

/// Open an anti-smuggling case.
#[utoipa::path(post, path = "/api/cases", request_body = OpenCaseBody,
    responses((status = 201, description = "opened, numbered <office>JS<year><serial>"),
        (status = 403, description = "not an anti-smuggling officer of that office"),
        (status = 422, description = "every problem with its field, in Chinese and English")))]
async fn open_case(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: OpenCase = parse_json(&headers, &body_bytes(body)?)?;
    let c = blocking(move || svc.cases().open(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &c))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseQuery {
    /// `open` or `closed`.
    status: Option<String>,
}

/// List anti-smuggling cases.
#[utoipa::path(get, path = "/api/cases", params(CaseQuery),
    responses((status = 200, description = "the cases of the officer's offices, newest first"),
        (status = 403, description = "not an anti-smuggling officer")))]
async fn list_cases(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Query(q): Query<CaseQuery>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let status = match q.status.as_deref() {
        None => None,
        Some("open") => Some(CaseStatus::Open),
        Some("closed") => Some(CaseStatus::Closed),
        Some(other) => {
            return Err(app::AppError::invalid(
                "status",
                "invalid",
                format!("案件状态“{other}”应为 open 或 closed"),
                format!("case status \"{other}\" is open or closed"),
            )
            .into())
        }
    };
    let v = blocking(move || svc.cases().list(&p, status)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// One anti-smuggling case.
#[utoipa::path(get, path = "/api/cases/{id}",
    params(("id" = i64, Path, description = "the case")),
    responses((status = 200, description = "the case with its links, seizures, penalties and hearings"),
        (status = 404, description = "no such case in the officer's offices")))]
async fn get_case(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let c = blocking(move || svc.cases().get(&p, id)).await?;
    Ok(json_ok(StatusCode::OK, &c))
}

/// A step on a case: `{"expected_version": n, "step": "link"|"seize"|"penalize"|
/// "record_payment"|"hearing"|"close", ...its fields}`.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub(crate) struct CaseStepBody {
    expected_version: Option<u64>,
    #[schema(example = "seize")]
    step: String,
}

/// Take a step on an anti-smuggling case.
#[utoipa::path(post, path = "/api/cases/{id}/steps", request_body = CaseStepBody,
    params(("id" = i64, Path, description = "the case")),
    responses((status = 200, description = "the case after the step (a penalty carries the credit change it triggered)"),
        (status = 404, description = "no such case in the officer's offices"),
        (status = 409, description = "closed, changed meanwhile, paid already, or a party not linked"),
        (status = 422, description = "bad input, with its field, in Chinese and English")))]
async fn case_step(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: CaseStepRequest = parse_json(&headers, &body_bytes(body)?)?;
    let c = blocking(move || svc.cases().step(&p, id, b)).await?;
    Ok(json_ok(StatusCode::OK, &c))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        grant,
        list,
        revoke,
        agent_declarations,
        open_case,
        list_cases,
        get_case,
        case_step
    ),
    components(schemas(GrantBody, OpenCaseBody, CaseStepBody))
)]
pub(crate) struct PartiesApiDoc;
