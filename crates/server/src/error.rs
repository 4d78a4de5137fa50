//! [`ApiError`]: the one error shape of the API, and its status codes.
//!
//! ```json
//! {"error": {"code": "invalid", "message_zh": "…", "message_en": "…",
//!            "problems": [{"field": "items[0].hs_code", "code": "…", "message_zh": "…", "message_en": "…"}]}}
//! ```
//!
//! 400 malformed JSON, 401 no valid session, 403 not allowed, 404 not found (also what a
//! principal may not see), 409 conflicts with the current state, 413 body too large, 415 not
//! JSON, 422 well-formed but invalid (or rejected by automatic review). A 500 is logged with
//! its cause and answered without it.

use app::{AppError, FieldProblem};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use clearance::Refusal;
use serde::Serialize;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
    pub problems: Vec<FieldProblem>,
    /// Set when automatic review rejected a filing: it is recorded under this number.
    pub pre_entry_no: Option<String>,
    /// Seconds after which a retry may succeed (`Retry-After`), on 429 and 503. (Two bytes:
    /// the whole error stays within clippy's `result_large_err` bound.)
    pub retry_after: Option<std::num::NonZeroU16>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message_zh: &'a str,
    message_en: &'a str,
    problems: &'a [FieldProblem],
    #[serde(skip_serializing_if = "Option::is_none")]
    pre_entry_no: Option<&'a str>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        zh: impl Into<String>,
        en: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code,
            message_zh: zh.into(),
            message_en: en.into(),
            problems: Vec::new(),
            pre_entry_no: None,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> ApiError {
        self.retry_after = std::num::NonZeroU16::new(seconds.clamp(1, u64::from(u16::MAX)) as u16);
        self
    }

    pub fn with_problems(mut self, problems: Vec<FieldProblem>) -> ApiError {
        self.problems = problems;
        self
    }

    pub fn payload_too_large(limit: usize) -> ApiError {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("请求体超过 {limit} 字节"),
            format!("request body larger than {limit} bytes"),
        )
    }

    pub fn unsupported_media_type() -> ApiError {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "请求体须为 JSON（Content-Type: application/json）",
            "the body must be JSON (Content-Type: application/json)",
        )
    }

    pub fn not_found() -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "未找到", "not found")
    }

    /// The store cannot write now: not recorded, may be retried.
    pub fn store_unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "存储暂时无法写入，本次请求未被记录；请稍后使用相同的 Client-Seq-No 重试（同一申报不会被重复记录）",
            "the store cannot write now; this request was NOT recorded. Retry later with the same \
             Client-Seq-No (a filing is never recorded twice)",
        )
        .with_retry_after(STORE_RETRY_AFTER_SECONDS)
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "服务器内部错误，已记录",
            "internal error; it has been logged",
        )
    }
}

/// How `StoreError::Backend` displays (`store` crate).
const STORE_BACKEND_PREFIX: &str = "storage backend:";
/// `Retry-After` of a `store_unavailable` answer.
const STORE_RETRY_AFTER_SECONDS: u64 = 5;
/// At most one log line per this interval about store outages, with the count of answers.
const OUTAGE_LOG_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

/// Log a store outage: the first at once, then one line per [`OUTAGE_LOG_INTERVAL`] with how
/// many requests were answered 503 since the last line (a 12 s outage under load is a few
/// lines, not thousands).
fn log_outage(why: &str) {
    static STATE: std::sync::Mutex<(Option<std::time::Instant>, u64)> =
        std::sync::Mutex::new((None, 0));
    let Ok(mut s) = STATE.lock() else { return };
    s.1 += 1;
    if s.0.is_none_or(|t| t.elapsed() >= OUTAGE_LOG_INTERVAL) {
        tracing::error!(error = %why, requests = s.1, "store unavailable: requests answered 503 store_unavailable");
        *s = (Some(std::time::Instant::now()), 0);
    }
}

fn refusal_status(r: &Refusal) -> StatusCode {
    match r {
        Refusal::NotAllowedInStatus { .. }
        | Refusal::RequestPending { .. }
        | Refusal::NoRequestPending
        | Refusal::PaymentOutstanding { .. }
        | Refusal::NoticeAlreadyPaid { .. }
        | Refusal::NoticeSuperseded { .. }
        | Refusal::RefundNotOpen { .. } => StatusCode::CONFLICT,
        Refusal::ActorNotPermitted { .. }
        | Refusal::NotDeclarant { .. }
        | Refusal::WrongOffice { .. } => StatusCode::FORBIDDEN,
        Refusal::UnknownNotice { .. }
        | Refusal::NumberMismatch { .. }
        | Refusal::Missing { .. }
        | Refusal::TooLong { .. }
        | Refusal::TooMany { .. }
        | Refusal::InvalidNotices { .. }
        | Refusal::WrongDirection { .. }
        | Refusal::UnknownRefund { .. }
        | Refusal::InvalidVersion { .. } => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        let code = e.code();
        match e {
            AppError::Unauthenticated(why) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                code,
                "未登录或会话已失效，请重新登录",
                format!("not signed in: {why}"),
            ),
            AppError::Forbidden(d) => {
                ApiError::new(StatusCode::FORBIDDEN, d.code, d.message_zh, d.message_en)
            }
            AppError::NotFound(_) => ApiError::not_found(),
            AppError::Malformed(p) => ApiError::new(
                StatusCode::BAD_REQUEST,
                code,
                "请求体不是合法的 JSON",
                "the request body is not valid JSON",
            )
            .with_problems(p),
            AppError::Invalid(p) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "请求内容有误，请按所列问题更正",
                "the request is invalid; fix the problems listed",
            )
            .with_problems(p),
            AppError::Rejected {
                pre_entry_no,
                problems,
            } => {
                let mut e = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    code,
                    format!("报关单 {pre_entry_no} 未通过电子审单（退单），问题如下"),
                    format!("declaration {pre_entry_no} was rejected by automatic review"),
                )
                .with_problems(problems);
                e.pre_entry_no = Some(pre_entry_no.to_string());
                e
            }
            AppError::Refused(r) => {
                ApiError::new(refusal_status(&r), r.code(), r.message_zh(), r.message_en())
            }
            AppError::Conflict {
                code,
                message_en,
                message_zh,
            } => ApiError::new(StatusCode::CONFLICT, code, message_zh, message_en),
            AppError::Unavailable => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                "服务暂不可用，请稍后重试",
                "the service is unavailable; try again later",
            ),
            // A driver error of the store (connection refused or closed, pool timeout, disk
            // full): the transaction did not commit, so nothing was recorded. The store should
            // classify these itself (a `StoreError::Unavailable`); until then its `Backend`
            // errors, which reach here as text, are taken as outages.
            AppError::Internal(why) if why.starts_with(STORE_BACKEND_PREFIX) => {
                log_outage(&why);
                ApiError::store_unavailable()
            }
            AppError::Internal(why) => {
                tracing::error!(error = %why, "internal error");
                ApiError::internal()
            }
        }
    }
}

impl From<crate::signin::Refused> for ApiError {
    fn from(r: crate::signin::Refused) -> Self {
        match r {
            crate::signin::Refused::Locked(seconds) => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "sign_in_locked",
                format!("登录失败次数过多，请 {seconds} 秒后再试"),
                format!("too many failed sign-ins; try again in {seconds} s"),
            )
            .with_retry_after(seconds),
            crate::signin::Refused::Busy => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "sign_in_busy",
                "登录请求过多，请稍后再试",
                "too many sign-ins at once; try again shortly",
            )
            .with_retry_after(1),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Body {
            error: Inner {
                code: self.code,
                message_zh: &self.message_zh,
                message_en: &self.message_en,
                problems: &self.problems,
                pre_entry_no: self.pre_entry_no.as_deref(),
            },
        })
        .unwrap_or_else(|_| b"{\"error\":{\"code\":\"internal\"}}".to_vec());
        let mut resp = (self.status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds.get()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if matches!(
            self.status,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT
        ) {
            // The rest of the body was not read: the connection cannot carry another request,
            // and a client told so does not send its next one on it (which would fail with a
            // reset instead of an answer).
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        resp
    }
}
