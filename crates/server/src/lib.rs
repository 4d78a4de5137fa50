//! The HTTP API of Jinguan: an axum 0.8 router over [`app::Clearance`].
//!
//! - Every use case under `/api/…`, JSON in and out; the OpenAPI document at
//!   `/api/openapi.json` (utoipa); `/api/health`.
//! - Bodies: at most [`BODY_BYTES_MAX`] (413 beyond), `Content-Type: application/json` (415
//!   otherwise), unknown fields refused (422) with their path. Errors: [`ApiError`], one shape.
//! - Who: `Authorization: Bearer <token>`, or the `jinguan_session` cookie (for the web UI).
//!   Authentication here; authorization in the service, for every call.
//! - The store is synchronous: every service call runs on `spawn_blocking`.
//!
//! - The web interface ([`web`]): the single-page application at `/`, its files under
//!   `/assets/`, compiled into the binary.
//!
//! The router holds no state of its own beyond `Arc<Clearance>`.

use std::future::Future;
use std::sync::Arc;

use app::{Clearance, Duty, NewUserRequest, Principal, Role, Step};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use clearance::{ExaminationResult, FieldChange, Finding, FindingKind};
use domain::codes::{OfficeCode, Uscc};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use store::{DeclarationId, DeclarationKey};
use utoipa::{OpenApi, ToSchema};

mod aeo_api;
mod api_doc;
mod attachments_api;
mod cargo_api;
pub mod conn;
mod drafts_api;
mod eport_api;
mod error;
mod exchange_api;
mod finance_api;
mod formats_api;
mod guarantee_api;
mod hardening;
mod list_api;
pub mod metrics;
mod notifications_api;
mod parties_api;
mod payments_api;
mod registration_api;
mod risk_api;
pub mod signin;
pub mod tls;
mod ui_api;
mod versions_api;
pub mod web;
pub mod webhooks;
mod webhooks_api;
mod xml_api;
pub use error::ApiError;

/// Largest request body accepted.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// The cookie that carries the session token for browsers.
pub const SESSION_COOKIE: &str = "jinguan_session";
/// The header that carries the client sequence number of a submission (its idempotency key).
pub const CLIENT_SEQ_NO_HEADER: &str = "client-seq-no";
/// Default and largest page of a listing.
const PAGE_DEFAULT: u32 = 50;

type Svc = Arc<Clearance>;

/// What a server is run with beyond the service: sign-in limits.
#[derive(Clone)]
pub struct ServeOptions {
    pub signin: Arc<signin::SignInGuard>,
    pub limits: conn::ConnLimits,
    pub conn_stats: Arc<conn::ConnStats>,
    /// Why the server must not be taken as ready whatever the store answers (started on a
    /// broken audit chain: `audit_chain_broken`); `/ready` answers 503 with it.
    pub unhealthy: Option<String>,
    /// The exchange bus, when one is configured: `/ready` asks it too (`Err(why)`: unreachable).
    pub bus_probe: Option<BusProbe>,
    /// The exchange bus's backlog per agency, for `/metrics` (cached by the implementation).
    pub bus_lag: Option<metrics::BusLag>,
    /// Serve HTTPS with this certificate and key (module `tls`); `None`: plain HTTP.
    pub tls: Option<Arc<tls::ServerTls>>,
    /// A reverse proxy in front terminates HTTPS: answers carry `Strict-Transport-Security`
    /// and cookies `Secure` as if this server spoke TLS itself.
    pub behind_https_proxy: bool,
    /// Webhook delivery (module `webhooks`): [`serve_with`] runs the worker when
    /// `deliver`; the API checks URLs against `allow_private`.
    pub webhooks: webhooks::WebhookSettings,
}

/// Asks the exchange bus whether it answers (`jinguan serve --nats`: a connection and the
/// stream's info); `Err` carries why, for the log only.
pub type BusProbe = Arc<
    dyn Fn() -> std::pin::Pin<Box<dyn Future<Output = Result<(), String>> + Send>> + Send + Sync,
>;

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            signin: signin::SignInGuard::new(signin::SignInPolicy::default()),
            limits: conn::ConnLimits::default(),
            conn_stats: Arc::default(),
            unhealthy: None,
            bus_probe: None,
            bus_lag: None,
            tls: None,
            behind_https_proxy: false,
            webhooks: webhooks::WebhookSettings::default(),
        }
    }
}

/// The whole API, with default options.
pub fn router(svc: Svc) -> Router {
    router_with(svc, ServeOptions::default())
}

/// The whole API.
pub fn router_with(svc: Svc, options: ServeOptions) -> Router {
    let metrics = metrics::Metrics::with_bus(
        options.signin.clone(),
        options.conn_stats.clone(),
        Some(svc.store().clone()),
        options.bus_lag.clone(),
    );
    let behind_https_proxy = options.behind_https_proxy;
    let router = Router::new()
        .route("/api/health", get(health))
        .route("/health", get(alive))
        .route("/ready", get(ready))
        .route(
            "/api/sign-in-locks/{login}",
            axum::routing::delete(unlock_sign_in),
        )
        .route("/api/openapi.json", get(openapi))
        .route("/api/session", post(login).delete(logout).get(whoami))
        .route("/api/users", post(create_user))
        .route("/api/users/{login}/revoke-sessions", post(revoke_sessions))
        .route("/api/users/{login}/password-reset", post(reset_password))
        .route("/api/users/{login}/disable", post(disable_user))
        .route("/api/users/{login}/enable", post(enable_user))
        .route("/api/password", post(change_password))
        .route("/api/audit/head", get(audit_head))
        .route("/api/audit/verify", get(verify_audit))
        .route("/api/audit/proof/{seq}", get(audit_proof))
        .route("/api/declarations", post(submit).get(list_api::list))
        .route("/api/declarations/export", get(list_api::export))
        .route("/api/declarations/check", post(ui_api::check))
        .route("/api/codes/{table}", get(ui_api::codes))
        .route("/api/stats/summary", get(ui_api::stats_summary))
        .route("/api/stats/warehouse", get(ui_api::stats_warehouse))
        .route("/api/stats/bulletin", get(ui_api::stats_bulletin))
        .merge(web::routes())
        .merge(cargo_api::routes())
        .merge(risk_api::routes())
        .merge(eport_api::routes())
        .merge(exchange_api::routes())
        .merge(finance_api::routes())
        .merge(guarantee_api::routes())
        .merge(parties_api::routes())
        .merge(aeo_api::routes())
        .merge(registration_api::routes())
        .merge(payments_api::routes())
        .merge(xml_api::routes())
        .merge(attachments_api::routes())
        .merge(notifications_api::routes())
        .merge(webhooks_api::routes())
        .merge(drafts_api::routes())
        .route("/api/declarations/{id}", get(get_one))
        .route(
            "/api/declarations/{id}/receipts",
            get(formats_api::receipts),
        )
        .route(
            "/api/declarations/{id}/versions",
            get(versions_api::versions),
        )
        .route("/api/declarations/{id}/{step}", post(step))
        .merge(
            Router::new()
                .route("/metrics", get(metrics::scrape))
                .with_state(metrics.clone()),
        )
        .fallback(|| async { ApiError::not_found() })
        // Forged cookie-signed requests refused; security headers on every answer.
        .layer(axum::middleware::from_fn(hardening::layer))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        // Bytes beyond the limit are refused by the extractor, which we turn into a 413 of
        // our own shape.
        .layer(DefaultBodyLimit::max(BODY_BYTES_MAX))
        .layer(Extension(options.signin))
        .layer(Extension(Arc::new(notifications_api::Streams::default())))
        .layer(Extension(Unhealthy(options.unhealthy)))
        .layer(Extension(BusReady(options.bus_probe)))
        .layer(Extension(Arc::new(options.webhooks)))
        .with_state(svc);
    if behind_https_proxy {
        router.layer(axum::middleware::from_fn(
            |mut req: axum::extract::Request, next: axum::middleware::Next| {
                req.extensions_mut().insert(conn::Secure);
                next.run(req)
            },
        ))
    } else {
        router
    }
}

/// Serve until `shutdown` completes, then finish the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    svc: Svc,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, svc, ServeOptions::default(), shutdown).await
}

/// [`serve`] with options.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    svc: Svc,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = options.limits.clone();
    let stats = options.conn_stats.clone();
    let tls = options.tls.clone();
    // The webhook worker runs while the server does; a request in flight when it stops is
    // cut (and sent again, with the same id, at the next start).
    let (stop_webhooks, stopped) = tokio::sync::watch::channel(false);
    let worker = options.webhooks.deliver.then(|| {
        tokio::spawn(webhooks::run(
            svc.clone(),
            Arc::new(options.webhooks.clone()),
            stopped,
        ))
    });
    let served = conn::serve(
        listener,
        router_with(svc, options),
        limits,
        stats,
        tls,
        shutdown,
    )
    .await;
    let _ = stop_webhooks.send(true);
    if let Some(w) = worker {
        let _ = w.await;
    }
    served
}

// ---------------------------------------------------------------------------------------------
// Plumbing

/// Run a service call on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, app::AppError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(ApiError::from),
        Err(e) => {
            tracing::error!(error = %e, "service task failed");
            Err(ApiError::internal())
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim().to_owned());
    }
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == SESSION_COOKIE).then(|| v.to_owned())
    })
}

async fn principal(svc: &Svc, headers: &HeaderMap) -> Result<(Principal, String), ApiError> {
    let token = bearer(headers)
        .ok_or_else(|| ApiError::from(app::AppError::Unauthenticated("no token")))?;
    let s = svc.clone();
    let t = token.clone();
    // Cached sessions answer from memory; only a miss reads the store.
    let p = blocking(move || s.users().authenticate(&t)).await?;
    metrics::note_principal(p.kind());
    Ok((p, token))
}

fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::payload_too_large(BODY_BYTES_MAX)
        } else if rejection.body_text().contains(conn::BODY_TIMEOUT_TEXT) {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "请求体未在时限内送达",
                "the request body did not arrive in time",
            )
        } else {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "unreadable_body",
                "无法读取请求体",
                "the request body could not be read",
            )
        }
    })
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/json")
        })
        .unwrap_or(false);
    if ok {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type())
    }
}

/// Parse a JSON body into a DTO, saying where it went wrong: not JSON → 400; wrong type,
/// unknown or missing field → 422 with the field path.
fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, bytes: &[u8]) -> Result<T, ApiError> {
    require_json(headers)?;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match result {
        Ok(v) => v,
        Err(e) => {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            let inner = e.into_inner();
            let text = inner.to_string();
            return Err(if inner.is_syntax() || inner.is_eof() {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed",
                    "请求体不是合法的 JSON",
                    "the request body is not valid JSON",
                )
                .with_problems(vec![app::FieldProblem::new(
                    path,
                    "not_json",
                    format!("不是合法的JSON：{text}"),
                    format!("not valid JSON: {text}"),
                )])
            } else {
                invalid(
                    path,
                    "json_type",
                    format!("字段有误：{text}"),
                    format!("invalid field: {text}"),
                )
            });
        }
    };
    de.end().map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed",
            "请求体不是合法的 JSON",
            "the request body is not valid JSON",
        )
        .with_problems(vec![app::FieldProblem::new(
            "",
            "not_json",
            e.to_string(),
            e.to_string(),
        )])
    })?;
    Ok(value)
}

fn invalid(
    field: impl Into<String>,
    code: &str,
    zh: impl Into<String>,
    en: impl Into<String>,
) -> ApiError {
    ApiError::from(app::AppError::invalid(field, code, zh, en))
}

fn json_ok<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    (status, Json(value)).into_response()
}

// ---------------------------------------------------------------------------------------------
// DTOs (wire forms; each refuses unknown fields)

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub login: String,
    pub password: String,
}

/// A password change: the login, its current (or one-time) password and the new one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    pub login: String,
    pub current_password: String,
    pub new_password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub login: String,
    pub password: String,
    /// enterprise, officer, anti_smuggling, hq, agency, admin
    pub role: String,
    #[serde(default)]
    pub duties: Vec<String>,
    pub office: Option<String>,
    pub uscc: Option<String>,
    pub agency: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    pub field: String,
    pub value: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AmendmentBody {
    pub reason: String,
    pub changes: Vec<ChangeBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingBody {
    /// misclassification, undervaluation, quantity, prohibited_goods, other
    #[schema(value_type = String)]
    pub kind: FindingKind,
    #[serde(default)]
    pub field: String,
    pub note: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExaminationBody {
    /// conform or discrepancy
    pub result: String,
    #[serde(default)]
    pub findings: Vec<FindingBody>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GuaranteeBody {
    pub guarantee_no: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExitBody {
    pub manifest_ref: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    pub reason: String,
    pub case_no: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmptyBody {}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Whether the API serves.
#[utoipa::path(get, path = "/api/health", responses((status = 200, description = "serving")))]
async fn health() -> Response {
    json_ok(StatusCode::OK, &serde_json::json!({"status": "ok"}))
}

/// Alive: 200 whenever the process serves requests at all.
#[utoipa::path(get, path = "/health", responses((status = 200, description = "the process serves")))]
async fn alive() -> Response {
    json_ok(StatusCode::OK, &serde_json::json!({"status": "alive"}))
}

/// Ready: the store answers. 503 with `Retry-After` otherwise.
#[utoipa::path(get, path = "/ready", responses(
    (status = 200, description = "the store answers: `{\"status\": \"ready\"}`", body = Object),
    (status = 503, description = "the store does not answer; retry later: `{\"status\": \"unavailable\", …}` (not the error shape)", body = Object)))]
async fn ready(
    State(svc): State<Svc>,
    Extension(unhealthy): Extension<Unhealthy>,
    Extension(bus): Extension<BusReady>,
) -> Response {
    if let Some(why) = unhealthy.0 {
        let mut resp = json_ok(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "unavailable", "reason": why}),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return resp;
    }
    // A read, then a write through the writer that changes nothing: a store that reads but
    // cannot write (a full disk, a writer stuck behind a lock) is not ready.
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(READY_PROBE_SECONDS),
        tokio::task::spawn_blocking(move || {
            let users = svc.users();
            users.probe_store()?;
            users.probe_store_write()
        }),
    )
    .await;
    let why = match probe {
        Ok(Ok(Ok(()))) => None,
        Ok(Ok(Err(e))) => Some(e.to_string()),
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some(format!("no answer within {READY_PROBE_SECONDS} s")),
    };
    let bus_why = match (&why, bus.0) {
        (None, Some(probe)) => {
            match tokio::time::timeout(
                std::time::Duration::from_secs(READY_PROBE_SECONDS * 2),
                probe(),
            )
            .await
            {
                Ok(Ok(())) => Some(None),
                Ok(Err(e)) => Some(Some(e)),
                Err(_) => Some(Some(format!(
                    "no answer within {} s",
                    READY_PROBE_SECONDS * 2
                ))),
            }
        }
        _ => None,
    };
    if let Some(Some(why)) = &bus_why {
        tracing::warn!(error = %why, "not ready: the exchange bus does not answer");
        let mut resp = json_ok(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "unavailable", "store": "ready", "bus": "unavailable"}),
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return resp;
    }
    match why {
        None if bus_why.is_some() => json_ok(
            StatusCode::OK,
            &serde_json::json!({"status": "ready", "bus": "ready"}),
        ),
        None => json_ok(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Some(why) => {
            tracing::warn!(error = %why, "not ready: the store does not answer");
            let mut resp = json_ok(
                StatusCode::SERVICE_UNAVAILABLE,
                // The store's error text stays in the log: it can name hosts and users (F7).
                &serde_json::json!({"status": "unavailable", "store": "unavailable"}),
            );
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            resp
        }
    }
}

/// The exchange bus's probe, when a bus is configured ([`ServeOptions::bus_probe`]).
#[derive(Clone)]
struct BusReady(Option<BusProbe>);

/// Why the server is not ready whatever the store answers ([`ServeOptions::unhealthy`]).
#[derive(Clone)]
struct Unhealthy(Option<String>);

/// How long `/ready` waits for the store.
const READY_PROBE_SECONDS: u64 = 2;

/// Clear a login's sign-in lockout (administrators).
#[utoipa::path(delete, path = "/api/sign-in-locks/{login}",
    params(("login" = String, Path, description = "the login")),
    responses((status = 200, description = "cleared; `was_locked` tells whether it was"),
        (status = 403, description = "not an administrator")))]
async fn unlock_sign_in(
    State(svc): State<Svc>,
    Extension(guard): Extension<Arc<signin::SignInGuard>>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let by = p.clone();
    let s = svc.clone();
    blocking(move || s.users().authorize_unlock_sign_in(&by)).await?;
    let was_locked = guard.unlock(&login);
    tracing::warn!(target: "security", login = ?login, by = ?p, was_locked, "sign-in lock cleared by an administrator");
    let l = login.clone();
    blocking(move || svc.users().record_sign_in_unlock(&p, &l, was_locked)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({"login": login, "was_locked": was_locked}),
    ))
}

/// This document: OpenAPI 3.1, every operation with its security and error answers.
#[utoipa::path(get, path = "/api/openapi.json",
    responses((status = 200, description = "the OpenAPI document", body = Object)))]
async fn openapi() -> Response {
    let mut resp = document()
        .finish()
        .to_json()
        .map(IntoResponse::into_response)
        .unwrap_or_else(|_| ApiError::internal().into_response());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The document's parts, merged: the core's and each module's (a module's routes come with
/// its part).
fn document() -> api_doc::Parts {
    let mut doc = api_doc::Parts::new(ApiDoc::openapi());
    doc.merge(<cargo_api::CargoApiDoc as OpenApi>::openapi());
    doc.merge(<risk_api::RiskApiDoc as OpenApi>::openapi());
    doc.merge(<eport_api::EportApiDoc as OpenApi>::openapi());
    doc.merge(<exchange_api::ExchangeApiDoc as OpenApi>::openapi());
    doc.merge(<finance_api::FinanceApiDoc as OpenApi>::openapi());
    doc.merge(<guarantee_api::GuaranteeApiDoc as OpenApi>::openapi());
    doc.merge(<parties_api::PartiesApiDoc as OpenApi>::openapi());
    doc.merge(<aeo_api::AeoApiDoc as OpenApi>::openapi());
    doc.merge(<registration_api::RegistrationApiDoc as OpenApi>::openapi());
    doc.merge(<payments_api::PaymentsApiDoc as OpenApi>::openapi());
    doc.merge(<xml_api::XmlApiDoc as OpenApi>::openapi());
    doc.merge(<formats_api::FormatsApiDoc as OpenApi>::openapi());
    doc.merge(<attachments_api::AttachmentsDoc as OpenApi>::openapi());
    doc.merge(<drafts_api::DraftsApiDoc as OpenApi>::openapi());
    doc.merge(<versions_api::VersionsApiDoc as OpenApi>::openapi());
    doc.merge(<webhooks_api::WebhooksApiDoc as OpenApi>::openapi());
    doc
}

/// Sign in: a session token.
#[utoipa::path(post, operation_id = "sign_in", path = "/api/session", request_body = LoginBody,
    responses((status = 201, description = "signed in: token, expiry, who", body = api_doc::SessionToken), (status = 401, description = "wrong login or password"),
        (status = 429, description = "too many failures for this login or client address: locked, see `Retry-After`"),
        (status = 503, description = "too many sign-ins waiting; see `Retry-After`")))]
async fn login(
    State(svc): State<Svc>,
    Extension(guard): Extension<Arc<signin::SignInGuard>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let b: LoginBody = parse_json(&headers, &body_bytes(body)?)?;
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip().to_string());
    let address = address.as_deref();
    // A login no user can have is wrong before anything is counted or checked: it never
    // becomes a key of the guard nor reaches the log (docs/SECURITY.md, F2).
    if !app::users::login_format_ok(&b.login) {
        return Err(app::AppError::Unauthenticated("wrong login or password").into());
    }
    // Reserved before it is queued; the outcome is counted on the pool when the check ends
    // (F1).
    let attempt = guard.reserve(&b.login, address).map_err(ApiError::from)?;
    let s = svc.clone();
    let outcome = guard
        .run(move || {
            let outcome = s.users().login(&b.login, &b.password);
            match &outcome {
                Ok(_) => attempt.succeeded(),
                Err(app::AppError::Unauthenticated(_)) => audit_lockouts(&s, attempt.failed()),
                // The right password of a disabled account, or of one whose password must
                // first be changed: not a guess.
                Err(app::AppError::Forbidden(_)) => attempt.succeeded(),
                Err(_) => drop(attempt),
            }
            outcome
        })
        .await
        .map_err(ApiError::from)?;
    let session = outcome?;
    metrics::note_principal(session.principal.kind());
    let max_age = (session.expires_at - svc.now()).num_seconds().max(0);
    let mut resp = json_ok(StatusCode::CREATED, &session);
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/api; Max-Age={max_age}",
        session.token
    )) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Locks begun by a failed sign-in go into the audit chain (on the sign-in pool: a store write
/// only when a lock begins). A store that cannot write loses the record, not the lock.
fn audit_lockouts(svc: &Clearance, lockouts: Vec<signin::Lockout>) {
    for l in lockouts {
        if let Err(e) = svc
            .users()
            .record_sign_in_lockout(&l.key, l.failures, l.lock_seconds)
        {
            tracing::warn!(target: "security", key = ?l.key, error = %e, "a sign-in lockout could not be audited");
        }
    }
}

/// Change a password.
///
/// A user sets a new password: the current one (or the one-time password of a reset) is
/// required; the same limits as a sign-in.
#[utoipa::path(post, path = "/api/password", request_body = PasswordBody,
    responses((status = 200, description = "changed; `sessions_ended`: the user's other sessions, ended (the session the request is signed in with, if the user's, stays)"),
        (status = 401, description = "wrong login or current password"),
        (status = 403, description = "`account_disabled`"),
        (status = 422, description = "the new password breaks the rules or equals the current one"),
        (status = 429, description = "too many failures for this login or client address: locked, see `Retry-After`")))]
async fn change_password(
    State(svc): State<Svc>,
    Extension(guard): Extension<Arc<signin::SignInGuard>>,
    peer: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let b: PasswordBody = parse_json(&headers, &body_bytes(body)?)?;
    let address = peer.map(|Extension(ConnectInfo(a))| a.ip().to_string());
    if !app::users::login_format_ok(&b.login) {
        return Err(app::AppError::Unauthenticated("wrong login or password").into());
    }
    let attempt = guard
        .reserve(&b.login, address.as_deref())
        .map_err(ApiError::from)?;
    let keep = bearer(&headers);
    let s = svc.clone();
    let login = b.login.clone();
    let outcome = guard
        .run(move || {
            let outcome = s.users().change_password(
                &b.login,
                &b.current_password,
                &b.new_password,
                keep.as_deref(),
            );
            match &outcome {
                Ok(_) => attempt.succeeded(),
                Err(app::AppError::Unauthenticated(_)) => audit_lockouts(&s, attempt.failed()),
                Err(_) => drop(attempt),
            }
            outcome
        })
        .await
        .map_err(ApiError::from)?;
    let ended = outcome?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({"login": login, "sessions_ended": ended}),
    ))
}

/// Reset a user's password (administrator).
///
/// An administrator resets a user's password: a one-time password, shown once in the answer,
/// that can only be changed (`POST /api/password`); every session of the user ends.
#[utoipa::path(post, path = "/api/users/{login}/password-reset",
    params(("login" = String, Path, description = "the user")),
    responses((status = 200, description = "`one_time_password` (shown once), `sessions_ended`"),
        (status = 403, description = "not an administrator of this user"), (status = 404, description = "no such user")))]
async fn reset_password(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let reset = blocking(move || svc.users().reset_password(&p, &login)).await?;
    Ok(json_ok(StatusCode::OK, &reset))
}

/// An administrator disables an account: its sessions end at once, and it cannot sign in.
#[utoipa::path(post, path = "/api/users/{login}/disable",
    params(("login" = String, Path, description = "the user")),
    responses((status = 200, description = "disabled; `sessions_ended`"),
        (status = 403, description = "not an administrator of this user"), (status = 404, description = "no such user"),
        (status = 409, description = "`own_account`: an administrator cannot disable their own account")))]
async fn disable_user(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(svc, headers, login, false).await
}

/// An administrator enables a disabled account again.
#[utoipa::path(post, path = "/api/users/{login}/enable",
    params(("login" = String, Path, description = "the user")),
    responses((status = 200, description = "enabled"),
        (status = 403, description = "not an administrator of this user"), (status = 404, description = "no such user")))]
async fn enable_user(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    set_enabled(svc, headers, login, true).await
}

async fn set_enabled(
    svc: Svc,
    headers: HeaderMap,
    login: String,
    enabled: bool,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let l = login.clone();
    let ended = blocking(move || svc.users().set_enabled(&p, &l, enabled)).await?;
    Ok(json_ok(
        StatusCode::OK,
        &serde_json::json!({"login": login, "enabled": enabled, "sessions_ended": ended}),
    ))
}

/// The newest signed head of the audit chain.
///
/// The newest signed head of the audit chain kept outside the store (when the node anchors):
/// an agency or an auditor keeps copies and checks a later `jinguan audit verify --head FILE`
/// against them. Any signed-in user.
#[utoipa::path(get, path = "/api/audit/head",
    responses((status = 200, description = "`{seq, hash, at_ms, key, signature}`, or `{\"head\": null}` before the first anchor")))]
async fn audit_head(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let _ = principal(&svc, &headers).await?;
    match svc.anchoring_head() {
        Some(h) => Ok(json_ok(StatusCode::OK, &h)),
        None => Ok(json_ok(
            StatusCode::OK,
            &serde_json::json!({ "head": null }),
        )),
    }
}

/// Sign out: end this session.
#[utoipa::path(delete, operation_id = "sign_out", path = "/api/session", responses((status = 204, description = "signed out")))]
async fn logout(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, token) = principal(&svc, &headers).await?;
    blocking(move || svc.users().logout(&p, &token)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/session", responses((status = 200,
    description = "who is signed in; `{\"user\": null}` when signed out (no token, or one expired or unknown), \
        so that a page can ask without an error")))]
async fn whoami(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    match principal(&svc, &headers).await {
        Ok((p, _)) => Ok(json_ok(StatusCode::OK, &p)),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => Ok(json_ok(
            StatusCode::OK,
            &serde_json::json!({ "user": null }),
        )),
        Err(e) => Err(e),
    }
}

/// Create a user (administrator).
#[utoipa::path(post, path = "/api/users", request_body = NewUserBody,
    responses((status = 201, description = "user created"), (status = 403, description = "not an administrator")))]
async fn create_user(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let b: NewUserBody = parse_json(&headers, &body_bytes(body)?)?;
    let mut problems = Vec::new();
    let role = Role::parse(&b.role);
    if role.is_none() {
        problems.push(app::FieldProblem::new(
            "role",
            "unknown_role",
            "未知的用户类型",
            "unknown role",
        ));
    }
    let mut duties = Vec::new();
    for (i, d) in b.duties.iter().enumerate() {
        match Duty::parse(d) {
            Some(d) => duties.push(d),
            None => problems.push(app::FieldProblem::new(
                format!("duties[{i}]"),
                "unknown_duty",
                "未知的岗位",
                "unknown duty",
            )),
        }
    }
    let office = match b.office.as_deref().map(OfficeCode::parse).transpose() {
        Ok(o) => o,
        Err(e) => {
            problems.push(app::FieldProblem::new(
                "office",
                "office_code",
                format!("关区代码有误：{}", e.message_zh()),
                format!("bad office code: {e}"),
            ));
            None
        }
    };
    let uscc = match b.uscc.as_deref().map(Uscc::parse).transpose() {
        Ok(u) => u,
        Err(e) => {
            problems.push(app::FieldProblem::new(
                "uscc",
                "uscc",
                format!("统一社会信用代码有误：{}", e.message_zh()),
                format!("bad USCC: {e}"),
            ));
            None
        }
    };
    let Some(role) = role else {
        return Err(ApiError::from(app::AppError::Invalid(problems)));
    };
    if !problems.is_empty() {
        return Err(ApiError::from(app::AppError::Invalid(problems)));
    }
    let req = NewUserRequest {
        login: b.login,
        password: b.password,
        role,
        duties,
        office,
        uscc,
        agency: b.agency,
    };
    let user = blocking(move || svc.users().create_user(&p, req)).await?;
    Ok(json_ok(StatusCode::CREATED, &user))
}

/// End every session of a user (administrator).
#[utoipa::path(post, path = "/api/users/{login}/revoke-sessions",
    params(("login" = String, Path, description = "the user")),
    responses((status = 200, description = "sessions revoked")))]
async fn revoke_sessions(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(login): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let n = blocking(move || svc.users().revoke_sessions(&p, &login)).await?;
    Ok(json_ok(StatusCode::OK, &serde_json::json!({"revoked": n})))
}

/// Verify the audit chain.
#[utoipa::path(get, path = "/api/audit/verify", responses((status = 200, description = "the audit chain report")))]
async fn verify_audit(State(svc): State<Svc>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let report = blocking(move || svc.users().verify_audit(&p)).await?;
    Ok(json_ok(StatusCode::OK, &report))
}

/// `?tree_size=N` of `GET /api/audit/proof/{seq}`.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ProofParams {
    /// The size of the Merkle tree (the record number a signed head names); default: the
    /// newest head this node kept.
    tree_size: Option<i64>,
}

/// One audit record with its inclusion proof (administrators).
///
/// One audit record and its RFC 9162 inclusion proof in the Merkle tree of the first
/// `tree_size` records, with the signed head of that tree when this node kept it: what an
/// agency checks alone with `jinguan audit check-proof`. Administrators.
#[utoipa::path(get, path = "/api/audit/proof/{seq}",
    params(("seq" = i64, Path, description = "the audit record's number"), ProofParams),
    responses(
        (status = 200, description = "`{record:{id,at_ms,actor,action,subject,detail,prev_hash,hash}, proof:{seq,tree_size,path}, head}`"),
        (status = 404, description = "the log holds fewer than `tree_size` records"),
        (status = 422, description = "`seq` not in 1..=`tree_size`, or no head yet and no `tree_size`")))]
async fn audit_proof(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(seq): Path<String>,
    query: Result<Query<ProofParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let Query(q) = query.map_err(|e| {
        ApiError::from(app::AppError::invalid(
            "query",
            "query",
            format!("查询参数有误：{e}"),
            format!("bad query: {e}"),
        ))
    })?;
    let seq: i64 = seq.parse().map_err(|_| {
        ApiError::from(app::AppError::invalid(
            "seq",
            "not_a_number",
            "记录号须为正整数",
            "the record number must be a positive integer",
        ))
    })?;
    let proof = blocking(move || svc.users().audit_proof(&p, seq, q.tree_size)).await?;
    Ok(json_ok(StatusCode::OK, &proof))
}

/// File a declaration.
#[utoipa::path(post, operation_id = "file_declaration", path = "/api/declarations",
    request_body(description = "a declaration: Jinguan's JSON form (docs/declaration-json.md), a single-window DecMessage (application/xml, text/xml; UTF-8 or GB2312/GBK by its prolog), a UN/EDIFACT D.96B CUSDEC interchange (application/EDIFACT) or a WCO Data Model 3.6 declaration (application/vnd.wco.dm+xml, or XML naming the namespace urn:wco:datamodel:WCO:DEC-DMS:2); docs/FORMATS.md",
        content((api_doc::DeclarationForm = "application/json"), ("application/xml"), ("text/xml"), ("application/EDIFACT"), ("application/vnd.wco.dm+xml"))),
    params(("client-seq-no" = String, Header, description = "the client sequence number: the idempotency key of the filing (a DecMessage may carry it in DecSign/ClientSeqNo, a CUSDEC in BGM 1004, a WCO declaration in FunctionalReferenceID)")),
    responses((status = 201, description = "filed, accepted and numbered; in the format `Accept` asks: JSON, `application/xml` (the filing's DEC_RESULT receipts), `application/EDIFACT` (a CUSRES) or `application/vnd.wco.dm+xml` (a WCO Response)",
            content((api_doc::Filing = "application/json"), ("application/xml"), ("application/EDIFACT"), ("application/vnd.wco.dm+xml"))),
        (status = 200, description = "a retry: the first result", content((api_doc::Filing = "application/json"), ("application/xml"), ("application/EDIFACT"), ("application/vnd.wco.dm+xml"))),
        (status = 422, description = "invalid, or rejected by automatic review (recorded)"),
        (status = 503, description = "`store_unavailable`: the store cannot write now (database unreachable, disk full); the filing was NOT recorded. Retry after `Retry-After` seconds with the same `Client-Seq-No`: a filing recorded once is never recorded twice")))]
async fn submit(
    State(svc): State<Svc>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let bytes = body_bytes(body)?;
    // DecMessage XML and EDIFACT CUSDEC are adapters onto the same filing.
    if let Some(kind) = formats_api::document_kind(&headers, &bytes) {
        return formats_api::submit_document(svc, headers, p, bytes, kind).await;
    }
    require_json(&headers)?;
    let seq = headers
        .get(CLIENT_SEQ_NO_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| {
            invalid(
                "headers.client-seq-no",
                "missing",
                "缺少 Client-Seq-No 请求头（客户端序号）",
                "the Client-Seq-No header (client sequence number) is missing",
            )
        })?;
    let filing = blocking(move || svc.filing().submit(&p, &seq, &bytes)).await?;
    let status = if filing.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_ok(status, &filing))
}

fn parse_id(id: &str) -> Result<DeclarationKey, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(|n| DeclarationKey::Id(DeclarationId(n)))
        .ok_or_else(ApiError::not_found)
}

/// One declaration with its events, notices, tax and re-fileable form.
#[utoipa::path(get, operation_id = "get_declaration", path = "/api/declarations/{id}",
    params(("id" = i64, Path, description = "declaration id")),
    responses((status = 200, description = "the declaration with its events, notices and tax breakdown, and `form`: the same declaration in the filing form, to file again as it is", body = api_doc::DeclarationDetail), (status = 404, description = "no such declaration, or not visible to you")))]
async fn get_one(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let key = parse_id(&id)?;
    let detail = blocking(move || svc.steps().get(&p, key)).await?;
    Ok(json_ok(StatusCode::OK, &detail))
}

/// The steps, by the last path segment.
const STEPS: &[&str] = &[
    "amendment-request",
    "cancellation-request",
    "pay",
    "review",
    "inspection-order",
    "inspection",
    "assess",
    "release",
    "guarantee-release",
    "close",
    "exit-confirmation",
    "request-approval",
    "request-refusal",
    "suspend",
    "unsuspend",
];

fn examination(b: ExaminationBody) -> Result<ExaminationResult, ApiError> {
    match b.result.as_str() {
        "conform" if b.findings.is_empty() => Ok(ExaminationResult::Conform),
        "conform" => Err(invalid(
            "findings",
            "findings_with_conform",
            "结论为相符时不应有发现",
            "a conform result has no findings",
        )),
        "discrepancy" => Ok(ExaminationResult::Discrepancy {
            findings: b
                .findings
                .into_iter()
                .map(|f| Finding {
                    kind: f.kind,
                    field: f.field,
                    note: f.note,
                })
                .collect(),
        }),
        _ => Err(invalid(
            "result",
            "unknown_result",
            "结论须为 conform 或 discrepancy",
            "result is conform or discrepancy",
        )),
    }
}

/// An empty body is accepted for steps that carry nothing; anything else must be `{}`.
fn no_body(headers: &HeaderMap, bytes: &[u8]) -> Result<(), ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    parse_json::<EmptyBody>(headers, bytes).map(|_| ())
}

fn parse_step(name: &str, headers: &HeaderMap, bytes: &[u8]) -> Result<Step, ApiError> {
    Ok(match name {
        "amendment-request" => {
            let b: AmendmentBody = parse_json(headers, bytes)?;
            Step::RequestAmendment {
                reason: b.reason,
                changes: b
                    .changes
                    .into_iter()
                    .map(|c| FieldChange {
                        field: c.field,
                        value: c.value,
                    })
                    .collect(),
            }
        }
        "cancellation-request" => Step::RequestCancellation {
            reason: parse_json::<ReasonBody>(headers, bytes)?.reason,
        },
        // Removed: the enterprise no longer marks its own notice paid; it initiates the
        // payment through a bank, whose user confirms it (`payments_api`, docs/TAX.md).
        "pay" => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "pay_through_bank",
                "缴款书只能由银行确认缴款：请通过 POST /api/notices/{缴款书号}/payment-initiation 指定银行，由银行用户确认",
                "a notice is paid only by a bank's confirmation: initiate the payment with POST /api/notices/{notice_no}/payment-initiation, the bank's user confirms it",
            ))
        }
        "review" => Step::RecordReview {
            result: examination(parse_json(headers, bytes)?)?,
        },
        "inspection-order" => Step::OrderInspection {
            reason: parse_json::<ReasonBody>(headers, bytes)?.reason,
        },
        "inspection" => Step::RecordInspection {
            result: examination(parse_json(headers, bytes)?)?,
        },
        "assess" => {
            no_body(headers, bytes)?;
            Step::Assess
        }
        "release" => {
            no_body(headers, bytes)?;
            Step::Release
        }
        "guarantee-release" => Step::ReleaseAgainstGuarantee {
            guarantee_no: parse_json::<GuaranteeBody>(headers, bytes)?.guarantee_no,
        },
        "close" => {
            no_body(headers, bytes)?;
            Step::Close
        }
        "exit-confirmation" => Step::ConfirmExit {
            manifest_ref: parse_json::<ExitBody>(headers, bytes)?.manifest_ref,
        },
        "request-approval" => Step::ApproveRequest {
            reason: parse_json::<ReasonBody>(headers, bytes)?.reason,
        },
        "request-refusal" => Step::RefuseRequest {
            reason: parse_json::<ReasonBody>(headers, bytes)?.reason,
        },
        "suspend" => {
            let b: SuspendBody = parse_json(headers, bytes)?;
            Step::Suspend {
                reason: b.reason,
                case_no: b.case_no,
            }
        }
        "unsuspend" => Step::Unsuspend {
            reason: parse_json::<ReasonBody>(headers, bytes)?.reason,
        },
        other => return versions_api::parse_step(other, headers, bytes),
    })
}

/// One handler for every step; the OpenAPI document lists each (see [`ApiDoc`]).
async fn step(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path((id, name)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    if !STEPS.contains(&name.as_str()) && !versions_api::STEPS.contains(&name.as_str()) {
        return Err(ApiError::not_found());
    }
    let key = parse_id(&id)?;
    let bytes = body_bytes(body)?;
    let step = parse_step(&name, &headers, &bytes)?;
    let done = blocking(move || svc.steps().step(&p, key, step)).await?;
    Ok(json_ok(StatusCode::OK, &done))
}

// ---------------------------------------------------------------------------------------------
// OpenAPI

macro_rules! step_docs {
    ($($fn:ident, $path:literal, $body:ty, $summary:literal, $what:literal;)*) => {
        $(
            #[doc = $summary]
            #[utoipa::path(post, path = $path, operation_id = stringify!($fn), request_body = $body,
                params(("id" = i64, Path, description = "declaration id")),
                responses((status = 200, description = $what), (status = 403, description = "not allowed"),
                    (status = 404, description = "not found or not visible"), (status = 409, description = "not allowed in the current status"),
                    (status = 422, description = "invalid")))]
            #[allow(dead_code)]
            fn $fn() {}
        )*
    };
}

/// The steps as the document lists them (one handler, [`step`], serves them all).
mod doc {
    use super::*;

    step_docs! {
        request_amendment, "/api/declarations/{id}/amendment-request", AmendmentBody, "Request an amendment of a declaration.", "amendment requested (enterprise)";
        request_cancellation, "/api/declarations/{id}/cancellation-request", ReasonBody, "Request the cancellation of a declaration.", "cancellation requested (enterprise)";
        record_review, "/api/declarations/{id}/review", ExaminationBody, "Record a document review.", "document review recorded (reviewer)";
        order_inspection, "/api/declarations/{id}/inspection-order", ReasonBody, "Order an inspection.", "inspection ordered (reviewer)";
        record_inspection, "/api/declarations/{id}/inspection", ExaminationBody, "Record an inspection.", "inspection recorded (inspector)";
        assess, "/api/declarations/{id}/assess", EmptyBody, "Assess taxes and issue the payment notices.", "taxes assessed, notices issued (tax officer)";
        release, "/api/declarations/{id}/release", EmptyBody, "Release the goods.", "released (release officer)";
        release_against_guarantee, "/api/declarations/{id}/guarantee-release", GuaranteeBody, "Release the goods against a guarantee.", "released against a guarantee (release officer)";
        close, "/api/declarations/{id}/close", EmptyBody, "Close an import.", "import closed (release officer)";
        confirm_exit, "/api/declarations/{id}/exit-confirmation", ExitBody, "Confirm an export's exit and close it.", "export exit confirmed and closed (release officer)";
        approve_request, "/api/declarations/{id}/request-approval", ReasonBody, "Approve an amendment or cancellation request.", "request approved (reviewer)";
        refuse_request, "/api/declarations/{id}/request-refusal", ReasonBody, "Refuse an amendment or cancellation request.", "request refused (reviewer)";
        suspend, "/api/declarations/{id}/suspend", SuspendBody, "Suspend a declaration for an anti-smuggling case.", "suspended (anti-smuggling)";
        unsuspend, "/api/declarations/{id}/unsuspend", ReasonBody, "Resume a suspended declaration.", "resumed (anti-smuggling)";
    }
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Jinguan 金关 API",
        description = "Electronic customs clearance: declarations, review, inspection, taxes, release. Errors: {error:{code,message_zh,message_en,problems:[{field,code,message_zh,message_en}]}}. Any request may be answered 503 `store_unavailable` with `Retry-After` while the store cannot be reached or cannot write: nothing was recorded, and the request may be retried (a filing with the same `Client-Seq-No`). 503 `overloaded` (too many connections), 429 `sign_in_locked` and 408 `body_timeout` also carry `Retry-After` where it applies."
    ),
    paths(
        health,
        openapi,
        alive,
        ready,
        change_password,
        reset_password,
        disable_user,
        enable_user,
        audit_head,
        unlock_sign_in,
        login,
        logout,
        whoami,
        create_user,
        revoke_sessions,
        verify_audit,
        audit_proof,
        submit,
        list_api::list,
        list_api::export,
        notifications_api::list,
        notifications_api::stream,
        notifications_api::read_marker,
        notifications_api::mark_read,
        get_one,
        doc::request_amendment,
        doc::request_cancellation,
        doc::record_review,
        doc::order_inspection,
        doc::record_inspection,
        doc::assess,
        doc::release,
        doc::release_against_guarantee,
        doc::close,
        doc::confirm_exit,
        doc::approve_request,
        doc::refuse_request,
        doc::suspend,
        doc::unsuspend,
        ui_api::codes,
        ui_api::check,
        ui_api::stats_summary,
        ui_api::stats_warehouse,
        ui_api::stats_bulletin
    ),
    components(schemas(
        LoginBody,
        PasswordBody,
        NewUserBody,
        ReasonBody,
        ChangeBody,
        AmendmentBody,
        FindingBody,
        ExaminationBody,
        GuaranteeBody,
        ExitBody,
        SuspendBody,
        EmptyBody,
        notifications_api::ReadBody
    ))
)]
pub struct ApiDoc;
