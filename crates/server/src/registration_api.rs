//! The HTTP endpoints of customs registration 报关单位备案 (docs/PARTIES.md "Customs
//! registration"): self-service sign-up without a session; an enterprise's own registration,
//! its change and cancellation; officers' review; the enterprise administrator's users and
//! their roles. Authentication here (but for the sign-up); authorization in the service, deny
//! by default.

use app::registration::{DetailsRequest, SignUp};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;
use store::registration::RegistrationStatus;
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::{blocking, body_bytes, json_ok, parse_json, principal, ApiError, Svc};

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/api/registrations/sign-up", post(sign_up))
        .route("/api/registrations", get(list))
        .route("/api/registrations/mine", get(mine))
        .route("/api/registrations/{id}", get(get_one))
        .route("/api/registrations/{id}/review", post(review))
        .route("/api/registrations/{id}/change", post(change))
        .route("/api/registrations/{id}/cancel", post(cancel))
        .route("/api/enterprise/users", get(users).post(add_user))
        .route("/api/enterprise/users/{login}/roles", post(set_roles))
        .route("/api/enterprise/users/{login}/disable", post(disable))
        .route("/api/enterprise/users/{login}/enable", post(enable))
}

/// A sign-up (read as `app::registration::SignUp`).
#[allow(dead_code)]
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignUpBody {
    /// `consignee` (进出口货物收发货人, effective at once) or `broker` (报关企业, reviewed).
    #[schema(example = "consignee")]
    kind: String,
    /// Checked against the market-regulation registry (active, same name).
    #[schema(example = "91310000MA1FL3EM4X")]
    uscc: String,
    /// The customs office registered with.
    #[schema(example = "2200")]
    office: String,
    name: String,
    address: String,
    contact: String,
    /// The customs code's zone digit: 1, 2, 3, 4, 5 or 9.
    #[schema(example = "9")]
    zone: String,
    /// 1–7 or 9 for consignees, 8 for brokers.
    #[schema(example = "6")]
    economic_type: String,
    admin_login: String,
    admin_password: String,
}

/// Register an enterprise with customs (sign-up).
#[utoipa::path(post, path = "/api/registrations/sign-up", request_body = SignUpBody,
    responses((status = 201, description = "registered: a consignee effective with its 10-digit customs code, a broker pending review; the first administrator can sign in"),
        (status = 409, description = "the USCC is registered already (pending or in force), or the login is taken"),
        (status = 422, description = "every problem with its field, in Chinese and English (the registry check among them; every missing field by name)"),
        (status = 429, description = "too many sign-ups from this client address or for this login: see `Retry-After`")))]
async fn sign_up(
    State(svc): State<Svc>,
    Extension(guard): Extension<Arc<crate::signin::SignInGuard>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body)?;
    // Every required field missing, by name, at once (serde would name only the first).
    let v: serde_json::Value = parse_json(&headers, &bytes)?;
    if let Some(obj) = v.as_object() {
        let missing: Vec<app::FieldProblem> = SIGN_UP_FIELDS
            .iter()
            .filter(|f| !obj.contains_key(**f))
            .map(|f| {
                app::FieldProblem::new(
                    *f,
                    "missing",
                    format!("缺少字段 {f}"),
                    format!("{f} is required"),
                )
            })
            .collect();
        if !missing.is_empty() {
            return Err(app::AppError::Invalid(missing).into());
        }
    }
    let b: SignUp = parse_json(&headers, &bytes)?;
    // Rate-limited like a sign-in (crate::signin): every sign-up counts against the client
    // address and the login asked for, and its password is hashed on the sign-in pool.
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip().to_string());
    let key = if app::users::login_format_ok(&b.admin_login) {
        format!("sign-up:{}", b.admin_login)
    } else {
        "sign-up:-".to_owned()
    };
    let attempt = guard
        .reserve(&key, address.as_deref())
        .map_err(ApiError::from)?;
    let s = svc.clone();
    let r = guard
        .run(move || {
            let r = s.registrations().sign_up(b);
            crate::audit_lockouts(&s, attempt.failed());
            r
        })
        .await
        .map_err(ApiError::from)??;
    Ok(json_ok(StatusCode::CREATED, &r))
}

/// The fields a sign-up must name.
const SIGN_UP_FIELDS: [&str; 10] = [
    "kind",
    "uscc",
    "office",
    "name",
    "address",
    "contact",
    "zone",
    "economic_type",
    "admin_login",
    "admin_password",
];

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatusQuery {
    /// `pending_review`, `effective`, `refused` or `cancelled`.
    status: Option<String>,
}

/// List customs registrations (reviewer).
#[utoipa::path(get, operation_id = "list_registrations", path = "/api/registrations", params(StatusQuery),
    responses((status = 200, description = "the registrations of the reviewer's offices, newest first"),
        (status = 403, description = "not an officer with the reviewer duty")))]
async fn list(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Query(q): Query<StatusQuery>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(RegistrationStatus::parse(s).ok_or_else(|| {
            app::AppError::invalid(
                "status",
                "invalid",
                format!("备案状态“{s}”应为 pending_review、effective、refused 或 cancelled"),
                format!("registration status \"{s}\" is pending_review, effective, refused or cancelled"),
            )
        })?),
    };
    let v = blocking(move || svc.registrations().list(&p, status)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// The signed-in enterprise's registration.
#[utoipa::path(get, operation_id = "my_registration", path = "/api/registrations/mine",
    responses((status = 200, description = "the signed-in enterprise user's registration"),
        (status = 404, description = "the enterprise has no registration on record")))]
async fn mine(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || svc.registrations().mine(&p)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// One customs registration with its changes.
#[utoipa::path(get, operation_id = "get_registration", path = "/api/registrations/{id}",
    params(("id" = i64, Path, description = "the registration")),
    responses((status = 200, description = "the registration with its changes"),
        (status = 404, description = "not the user's enterprise, nor of the reviewer's offices")))]
async fn get_one(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || svc.registrations().get(&p, id)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReviewBody {
    approve: bool,
    #[serde(default)]
    note: String,
    expected_version: Option<u64>,
}

/// Approve or refuse a registration.
#[utoipa::path(post, operation_id = "review_registration", path = "/api/registrations/{id}/review", request_body = ReviewBody,
    params(("id" = i64, Path, description = "the registration")),
    responses((status = 200, description = "approved (effective, with its customs code) or refused"),
        (status = 404, description = "not of the reviewer's offices"),
        (status = 409, description = "not waiting for review, or changed meanwhile")))]
async fn review(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: ReviewBody = parse_json(&headers, &body_bytes(body)?)?;
    let v = blocking(move || {
        svc.registrations()
            .review(&p, id, b.approve, b.note, b.expected_version)
    })
    .await?;
    Ok(json_ok(StatusCode::OK, &v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RegistrationChangeBody)]
pub(crate) struct ChangeBody {
    expected_version: Option<u64>,
    name: String,
    address: String,
    contact: String,
    zone: String,
    economic_type: String,
}

/// Change a registration's details.
#[utoipa::path(post, operation_id = "change_registration", path = "/api/registrations/{id}/change", request_body = ChangeBody,
    params(("id" = i64, Path, description = "the registration")),
    responses((status = 200, description = "changed (the former details kept in `changes`)"),
        (status = 403, description = "not the enterprise's administrator"),
        (status = 409, description = "cancelled or refused, or changed meanwhile"),
        (status = 422, description = "every problem with its field, in Chinese and English")))]
async fn change(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: ChangeBody = parse_json(&headers, &body_bytes(body)?)?;
    let details = DetailsRequest {
        name: b.name,
        address: b.address,
        contact: b.contact,
        zone: b.zone,
        economic_type: b.economic_type,
    };
    let v = blocking(move || {
        svc.registrations()
            .change(&p, id, details, b.expected_version)
    })
    .await?;
    Ok(json_ok(StatusCode::OK, &v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CancelBody {
    reason: String,
    expected_version: Option<u64>,
}

/// Cancel a registration.
#[utoipa::path(post, operation_id = "cancel_registration", path = "/api/registrations/{id}/cancel", request_body = CancelBody,
    params(("id" = i64, Path, description = "the registration")),
    responses((status = 200, description = "cancelled: the enterprise files nothing more"),
        (status = 403, description = "neither the enterprise's administrator nor a reviewer of its office"),
        (status = 409, description = "cancelled or refused already, or changed meanwhile")))]
async fn cancel(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: CancelBody = parse_json(&headers, &body_bytes(body)?)?;
    let v = blocking(move || {
        svc.registrations()
            .cancel(&p, id, b.reason, b.expected_version)
    })
    .await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// The users of the administrator's enterprise.
#[utoipa::path(get, operation_id = "list_enterprise_users", path = "/api/enterprise/users",
    responses((status = 200, description = "the users of the administrator's enterprise with their roles"),
        (status = 403, description = "not an enterprise administrator")))]
async fn users(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let v = blocking(move || svc.registrations().users(&p)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewEnterpriseUserBody {
    login: String,
    password: String,
    /// `enterprise_administrator`, `declarant`, `finance`, `viewer`.
    #[schema(example = json!(["declarant"]))]
    roles: Vec<String>,
}

/// Add a user to the administrator's enterprise.
#[utoipa::path(post, operation_id = "add_enterprise_user", path = "/api/enterprise/users", request_body = NewEnterpriseUserBody,
    responses((status = 201, description = "created, bound to the administrator's enterprise"),
        (status = 403, description = "not an enterprise administrator"),
        (status = 409, description = "the login is taken"),
        (status = 422, description = "every problem with its field, in Chinese and English")))]
async fn add_user(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: NewEnterpriseUserBody = parse_json(&headers, &body_bytes(body)?)?;
    let v = blocking(move || {
        svc.registrations()
            .add_user(&p, b.login, b.password, &b.roles)
    })
    .await?;
    Ok(json_ok(StatusCode::CREATED, &v))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolesBody {
    roles: Vec<String>,
}

/// Replace an enterprise user's roles.
#[utoipa::path(post, operation_id = "set_enterprise_user_roles", path = "/api/enterprise/users/{login}/roles", request_body = RolesBody,
    params(("login" = String, Path, description = "a user of the administrator's enterprise")),
    responses((status = 200, description = "the roles replaced"),
        (status = 403, description = "not an enterprise administrator"),
        (status = 404, description = "no such user in this enterprise"),
        (status = 409, description = "an administrator taking their own administrator role away")))]
async fn set_roles(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(login): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: RolesBody = parse_json(&headers, &body_bytes(body)?)?;
    let v = blocking(move || svc.registrations().set_roles(&p, &login, &b.roles)).await?;
    Ok(json_ok(StatusCode::OK, &v))
}

/// Disable an enterprise user.
#[utoipa::path(post, operation_id = "disable_enterprise_user", path = "/api/enterprise/users/{login}/disable",
    params(("login" = String, Path, description = "a user of the administrator's enterprise")),
    responses((status = 200, description = "disabled; its sessions ended"),
        (status = 404, description = "no such user in this enterprise")))]
async fn disable(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let n = blocking(move || svc.registrations().set_enabled(&p, &login, false)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "sessions_ended": n }),
    ))
}

/// Enable an enterprise user.
#[utoipa::path(post, operation_id = "enable_enterprise_user", path = "/api/enterprise/users/{login}/enable",
    params(("login" = String, Path, description = "a user of the administrator's enterprise")),
    responses((status = 200, description = "enabled"),
        (status = 404, description = "no such user in this enterprise")))]
async fn enable(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let n = blocking(move || svc.registrations().set_enabled(&p, &login, true)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({ "sessions_ended": n }),
    ))
}

#[derive(OpenApi)]
#[openapi(
    paths(
        sign_up, list, mine, get_one, review, change, cancel, users, add_user, set_roles, disable,
        enable
    ),
    components(schemas(
        SignUpBody,
        ReviewBody,
        ChangeBody,
        CancelBody,
        NewEnterpriseUserBody,
        RolesBody
    ))
)]
pub(crate) struct RegistrationApiDoc;
