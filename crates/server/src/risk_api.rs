//! The HTTP endpoints of risk management (docs/RISK.md "API"): the rule set of risk analysts
//! (read, replace: takes effect for the next declaration, no restart), the watch list, credit
//! classes set by officers, the report of rule hit rates, the sampling policy (published seed
//! and class rates: read by analysts and reviewers, set by HQ risk analysts, versioned), and a
//! refresh of reference prices.
//! Authentication here; authorization in the service (`app::authorize`), deny by default.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use chrono::NaiveDate;
use clearance::{CreditClass, Lane};
use domain::codes::Uscc;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/risk/rules", get(get_rules).put(put_rules))
        .route("/api/risk/watch-list", get(watch_list).post(add_watch))
        .route(
            "/api/risk/watch-list/{id}",
            axum::routing::delete(remove_watch),
        )
        .route("/api/risk/credit-classes/{uscc}", put(set_credit_class))
        .route("/api/risk/report", get(report))
        .route("/api/risk/sampling", get(sampling).put(put_sampling))
        .route("/api/risk/sampling/history", get(sampling_history))
        .route("/api/risk/prices/refresh", post(refresh_prices))
}

/// A rule set in the rule-file text form or as JSON (docs/RISK.md), replacing the rules the
/// analyst manages.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RulesBody {
    text: String,
    /// The version read before editing; a store that moved on answers 409.
    expected_version: Option<u64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct WatchBody {
    /// `enterprise`, `overseas_party`, `vessel` or `bill`.
    kind: String,
    value: String,
    #[schema(value_type = String, example = "red")]
    lane: Lane,
    #[serde(default)]
    suspend: bool,
    case: String,
    #[schema(value_type = Option<String>, example = "2025-12-31")]
    until: Option<NaiveDate>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreditClassBody {
    #[schema(value_type = String, example = "discredited")]
    class: CreditClass,
    /// Why (recorded in the enterprise's credit history as `decision:<reason>`; required).
    #[serde(default)]
    reason: String,
}

/// New rates of one credit class, in parts per million of declarations.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClassRatesBody {
    /// `advanced_certified`, `general_certified`, `general` or `discredited`.
    class: String,
    red_ppm: u32,
    yellow_ppm: u32,
}

/// A new national risk policy (HQ risk analysts): the seed to publish, the rates of the classes
/// given (the others keep theirs), optionally the price-check thresholds.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SamplingBody {
    seed: String,
    #[serde(default)]
    classes: Vec<ClassRatesBody>,
    /// Price-check thresholds (docs/RISK.md "Price checks"): `min_observations`, `max_ratio`
    /// and `min_robust_z` (decimals as strings), `lane`, `inspection`; all five when given.
    #[schema(value_type = Option<crate::api_doc::PriceCheckPolicy>)]
    price_check: Option<app::risk_desk::PriceCheckPolicy>,
    /// The version read before editing (0 while the default runs); another answers 409.
    expected_version: u64,
}

/// The risk rules in force.
#[utoipa::path(get, path = "/api/risk/rules",
    responses((status = 200, description = "the rules the analyst manages, with the version and fingerprint")))]
async fn get_rules(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let view = blocking(move || svc.risk().risk_rules(&p)).await?;
    Ok(json_ok(StatusCode::OK, &view))
}

/// Replace the risk rules.
#[utoipa::path(put, path = "/api/risk/rules", request_body = RulesBody,
    responses((status = 200, description = "stored as a new version and in force"),
        (status = 422, description = "every error, with its line and field"),
        (status = 409, description = "the rule set changed meanwhile")))]
async fn put_rules(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: RulesBody = parse_json(&headers, &body_bytes(body)?)?;
    let view = blocking(move || svc.risk().put_risk_rules(&p, &b.text, b.expected_version)).await?;
    Ok(json_ok(StatusCode::OK, &view))
}

/// The watch list in force.
#[utoipa::path(get, path = "/api/risk/watch-list",
    responses((status = 200, description = "the entries in force")))]
async fn watch_list(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let list = blocking(move || svc.risk().watch_list(&p)).await?;
    Ok(json_ok(StatusCode::OK, &list))
}

/// Add a watch-list entry.
#[utoipa::path(post, path = "/api/risk/watch-list", request_body = WatchBody,
    responses((status = 201, description = "added and in force")))]
async fn add_watch(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: WatchBody = parse_json(&headers, &body_bytes(body)?)?;
    let entry = app::risk_desk::NewWatchEntry {
        kind: b.kind,
        value: b.value,
        lane: b.lane,
        suspend: b.suspend,
        case: b.case,
        until: b.until,
    };
    let id = blocking(move || svc.risk().add_watch_entry(&p, entry)).await?;
    Ok(json_ok(
        StatusCode::CREATED,
        &serde_json::json!({ "id": id }),
    ))
}

/// Remove a watch-list entry.
#[utoipa::path(delete, path = "/api/risk/watch-list/{id}",
    params(("id" = i64, Path, description = "watch-list entry id")),
    responses((status = 204, description = "removed")))]
async fn remove_watch(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let id: i64 = id.parse().map_err(|_| {
        crate::invalid(
            "id",
            "invalid",
            format!("布控名单条目编号应为整数：{id}"),
            format!("a watch-list entry id is a whole number: {id}"),
        )
    })?;
    blocking(move || svc.risk().remove_watch_entry(&p, id)).await?;
    Ok(axum::response::IntoResponse::into_response(
        StatusCode::NO_CONTENT,
    ))
}

/// Record an enterprise's credit class.
#[utoipa::path(put, path = "/api/risk/credit-classes/{uscc}", request_body = CreditClassBody,
    params(("uscc" = String, Path, description = "the enterprise's USCC")),
    responses((status = 200, description = "recorded with its reason in the credit history; in force for its next filing"),
        (status = 422, description = "no reason given")))]
async fn set_credit_class(
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
    let b: CreditClassBody = parse_json(&headers, &body_bytes(body)?)?;
    let class = b.class;
    blocking(move || svc.risk().set_credit_class(&p, uscc, class, &b.reason)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "uscc": uscc, "class": class }),
    ))
}

/// Hit rate and effect of every risk rule.
#[utoipa::path(get, operation_id = "risk_report", path = "/api/risk/report",
    responses((status = 200, description = "hit rate and effect (lift) of every rule and check")))]
async fn report(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let r = blocking(move || svc.risk().risk_report(&p)).await?;
    Ok(json_ok(StatusCode::OK, &r))
}

/// The sampling seed, rates and price thresholds.
#[utoipa::path(get, path = "/api/risk/sampling",
    responses((status = 200, description = "the published sampling seed, each credit class's rates and the price-check thresholds")))]
async fn sampling(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || svc.risk().sampling_policy(&p)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Replace the sampling policy.
#[utoipa::path(put, path = "/api/risk/sampling", request_body = SamplingBody,
    responses((status = 200, description = "stored as a new version and in force for the next declaration"),
        (status = 403, description = "not a risk analyst of HQ"),
        (status = 409, description = "the policy changed meanwhile"),
        (status = 422, description = "every problem, by field, in both languages")))]
async fn put_sampling(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: SamplingBody = parse_json(&headers, &body_bytes(body)?)?;
    let new = app::risk_desk::NewRiskPolicy {
        seed: b.seed,
        classes: b
            .classes
            .into_iter()
            .map(|c| app::risk_desk::ClassRatesInput {
                class: c.class,
                red_ppm: c.red_ppm,
                yellow_ppm: c.yellow_ppm,
            })
            .collect(),
        price_check: b.price_check,
    };
    let expected = b.expected_version;
    let v = blocking(move || svc.risk().put_risk_policy(&p, new, expected)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Stored versions of the risk policy.
#[utoipa::path(get, path = "/api/risk/sampling/history",
    responses((status = 200, description = "stored versions of the risk policy, newest first (at most 100)")))]
async fn sampling_history(
    State(svc): State<Svc>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let h = blocking(move || svc.risk().risk_policy_history(&p, 100)).await?;
    let versions: Vec<serde_json::Value> = h
        .into_iter()
        .map(|v| {
            serde_json::json!({
                "version": v.version,
                "set_by": v.actor,
                "set_at": v.at,
                "policy": serde_json::from_str::<serde_json::Value>(&v.policy_json)
                    .unwrap_or(serde_json::Value::String(v.policy_json)),
            })
        })
        .collect();
    Ok(json_ok(StatusCode::OK, &versions))
}

/// Rebuild the reference prices.
#[utoipa::path(post, path = "/api/risk/prices/refresh",
    responses((status = 200, description = "reference prices rebuilt from released declarations")))]
async fn refresh_prices(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let r = blocking(move || svc.risk().refresh_prices(Some(&p))).await?;
    Ok(json_ok(StatusCode::OK, &r))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        get_rules,
        put_rules,
        watch_list,
        add_watch,
        remove_watch,
        set_credit_class,
        report,
        sampling,
        put_sampling,
        sampling_history,
        refresh_prices
    ),
    components(schemas(RulesBody, WatchBody, CreditClassBody, SamplingBody, ClassRatesBody))
)]
pub(crate) struct RiskApiDoc;
