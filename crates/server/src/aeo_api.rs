//! The HTTP endpoints of AEO certification and credit management (docs/PARTIES.md "AEO
//! certification"): the standards and the mutual-recognition partners, applications and their
//! audit steps, an enterprise's credit standing and history, the overdue review.
//! Authentication here; authorization in the service (`app::aeo_desk`), deny by default.

use app::aeo_desk::{AeoStepRequest, ApplyRequest};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use domain::codes::Uscc;
use serde::Deserialize;
use store::aeo::AeoStatus;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/aeo/standards", get(standards))
        .route("/api/aeo/mra-partners", get(mra_partners))
        .route("/api/aeo/applications", get(list).post(apply))
        .route("/api/aeo/applications/{id}", get(get_one))
        .route("/api/aeo/applications/{id}/steps", post(step))
        .route("/api/credit/{uscc}", get(standing))
        .route("/api/credit/overdue-review", post(overdue_review))
        .route("/api/credit-history/{uscc}", get(credit_history))
}

/// The AEO certification standards and their pass score.
#[utoipa::path(get, path = "/api/aeo/standards",
    responses((status = 200, description = "the certification standards (the audit checklist) with their source and the pass score"),
        (status = 401, description = "not signed in")))]
async fn standards(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    principal(&svc, &headers).await?;
    Ok(json_ok(StatusCode::OK, store::aeo::standards()))
}

/// The customs administrations whose AEO programmes recognise China's.
#[utoipa::path(get, path = "/api/aeo/mra-partners",
    responses((status = 200, description = "the customs administrations whose AEO programmes recognise China's, with the source"),
        (status = 401, description = "not signed in")))]
async fn mra_partners(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    principal(&svc, &headers).await?;
    Ok(json_ok(StatusCode::OK, store::aeo::mra_partners()))
}

/// An application for certification (read as `app::aeo_desk::ApplyRequest`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApplyBody {
    /// `advanced` (高级认证) or `general`.
    #[schema(example = "advanced")]
    level: String,
    /// The auditing office; by default the enterprise's registration office.
    office: Option<String>,
}

/// Apply for AEO certification (enterprise).
#[utoipa::path(post, operation_id = "apply_for_aeo", path = "/api/aeo/applications", request_body = ApplyBody,
    responses((status = 201, description = "applied: the certificate with its first audit round"),
        (status = 403, description = "not the enterprise's administrator"),
        (status = 409, description = "a certification under way or in force, or a discredited enterprise"),
        (status = 422, description = "bad input, with its field, in Chinese and English")))]
async fn apply(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: ApplyRequest = parse_json(&headers, &body_bytes(body)?)?;
    let c = blocking(move || svc.aeo().apply(&p, b)).await?;
    Ok(json_ok(StatusCode::CREATED, &c))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AeoQuery {
    /// `applied`, `in_audit`, `certified`, `refused` or `withdrawn`.
    status: Option<String>,
}

/// List AEO certificates and applications.
#[utoipa::path(get, operation_id = "list_aeo_certificates", path = "/api/aeo/applications", params(AeoQuery),
    responses((status = 200, description = "the certificates of the officer's offices, or the enterprise's own, newest first"),
        (status = 403, description = "neither a reviewer nor an enterprise")))]
async fn list(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Query(q): Query<AeoQuery>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            [
                AeoStatus::Applied,
                AeoStatus::InAudit,
                AeoStatus::Certified,
                AeoStatus::Refused,
                AeoStatus::Withdrawn,
            ]
            .into_iter()
            .find(|x| x.as_str() == s)
            .ok_or_else(|| {
                app::AppError::invalid(
                    "status",
                    "invalid",
                    format!("认证状态“{s}”应为 applied、in_audit、certified、refused 或 withdrawn"),
                    format!(
                        "certification status \"{s}\" is applied, in_audit, certified, refused or withdrawn"
                    ),
                )
            })?,
        ),
    };
    let v = blocking(move || svc.aeo().list(&p, status)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// One AEO certificate with its audit rounds.
#[utoipa::path(get, operation_id = "get_aeo_certificate", path = "/api/aeo/applications/{id}",
    params(("id" = i64, Path, description = "the certificate")),
    responses((status = 200, description = "the certificate, its audit rounds, the score and what the audit concludes"),
        (status = 404, description = "not the enterprise's own, nor of the reviewer's offices")))]
async fn get_one(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let c = blocking(move || svc.aeo().get(&p, id)).await?;
    Ok(json_ok(StatusCode::OK, &c))
}

/// A step on a certificate: `{"expected_version": n, "step": "score", "standard": "IC-1",
/// "result": "meets"|"basically_meets"|"fails", "finding": "…"}`, `{"step": "decide",
/// "outcome": "advanced_certified"|"general_certified"|"refused", "reason": "…"}` or
/// `{"step": "reassess", "reason": "…"}`.
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
pub(crate) struct AeoStepBody {
    expected_version: Option<u64>,
    #[schema(example = "score")]
    step: String,
}

/// Take a step on an AEO certificate (audit, decision, withdrawal).
#[utoipa::path(post, operation_id = "aeo_certificate_step", path = "/api/aeo/applications/{id}/steps", request_body = AeoStepBody,
    params(("id" = i64, Path, description = "the certificate")),
    responses((status = 200, description = "the certificate after the step (a decision changes the credit class)"),
        (status = 403, description = "the holder, who takes no officer's step"),
        (status = 404, description = "not of the reviewer's offices"),
        (status = 409, description = "not under audit, not certified, or changed meanwhile"),
        (status = 422, description = "bad input, an incomplete audit, or a decision the audit does not support, in Chinese and English")))]
async fn step(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: AeoStepRequest = parse_json(&headers, &body_bytes(body)?)?;
    let c = blocking(move || svc.aeo().step(&p, id, b)).await?;
    Ok(json_ok(StatusCode::OK, &c))
}

fn uscc_of(s: &str) -> Result<Uscc, ApiError> {
    Uscc::parse(s).map_err(|_| {
        app::AppError::invalid(
            "uscc",
            "invalid",
            "统一社会信用代码无效",
            "not a valid unified social credit code",
        )
        .into()
    })
}

/// An enterprise's credit class, its history and its certificates.
#[utoipa::path(get, operation_id = "credit_standing", path = "/api/credit/{uscc}",
    params(("uscc" = String, Path, description = "the enterprise")),
    responses((status = 200, description = "the class now, its history and the certificates"),
        (status = 403, description = "neither the enterprise, a reviewer nor an anti-smuggling officer")))]
async fn standing(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(uscc): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let uscc = uscc_of(&uscc)?;
    let v = blocking(move || svc.aeo().standing(&p, uscc)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Every credit change of an enterprise.
#[utoipa::path(get, path = "/api/credit-history/{uscc}",
    params(("uscc" = String, Path, description = "the enterprise")),
    responses((status = 200, description = "every credit change (certification decisions, officers' recorded decisions, penalties, cases, overdue notices), oldest first"),
        (status = 403, description = "neither the enterprise, a reviewer nor an anti-smuggling officer")))]
async fn credit_history(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(uscc): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let uscc = uscc_of(&uscc)?;
    let v = blocking(move || svc.aeo().credit_history(&p, uscc)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Downgrade certified enterprises with a payment notice overdue.
#[utoipa::path(post, path = "/api/credit/overdue-review",
    responses((status = 200, description = "the certified enterprises downgraded for a payment notice past due unpaid"),
        (status = 403, description = "not a reviewer of HQ or a directly-affiliated customs")))]
async fn overdue_review(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || svc.aeo().overdue_review(&p)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        standards,
        mra_partners,
        apply,
        list,
        get_one,
        step,
        standing,
        credit_history,
        overdue_review
    ),
    components(schemas(ApplyBody, AeoStepBody))
)]
pub(crate) struct AeoApiDoc;
