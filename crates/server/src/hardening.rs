//! Two rules every answer goes through (docs/SECURITY.md, F5 and the security headers).
//!
//! - **Requests forged from another page.** A state-changing request under `/api` (any method
//!   but GET, HEAD and OPTIONS) signed in with the session cookie (no `Authorization`
//!   header) is refused 403 when the browser says it comes from another origin
//!   (`Sec-Fetch-Site` present and not `same-origin`), and 415 unless its `Content-Type` is
//!   JSON or XML, with or without a body. A plain HTML form, or a `no-cors` fetch, can send
//!   only `application/x-www-form-urlencoded`, `multipart/form-data` or `text/plain`, and
//!   no other origin can send JSON without a CORS preflight, which the server never grants.
//!   The web interface sends `Content-Type: application/json` on every such request
//!   (`web/assets/api.js`). Callers with a bearer token are not concerned: a page cannot
//!   make a browser add one.
//! - **Headers.** Every answer carries `X-Content-Type-Options: nosniff`,
//!   `X-Frame-Options: DENY` and `Referrer-Policy: no-referrer`, and a
//!   `Content-Security-Policy` (`default-src 'none'; frame-ancestors 'none'` unless the web
//!   page set its own). Every answer outside the web interface's files (`/`, `/assets/…`) is
//!   `Cache-Control: no-store`: declarations, tokens and reports stay out of caches.
//! - **HTTPS.** An answer to a request that came over TLS (or through a reverse proxy declared
//!   to terminate it, `--behind-https-proxy`) carries `Strict-Transport-Security:
//!   max-age=31536000`, and every cookie it sets is `Secure`.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;

/// The policy of an answer that is not a page: it may load nothing and be framed nowhere.
const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";

/// The middleware.
pub(crate) async fn layer(req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let secure = req.extensions().get::<crate::conn::Secure>().is_some();
    if let Err(e) = check_forgery(req.method(), &path, req.headers()) {
        return finish(&path, secure, e.into_response());
    }
    finish(&path, secure, next.run(req).await)
}

fn check_forgery(method: &Method, path: &str, headers: &HeaderMap) -> Result<(), ApiError> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let cookie_signed =
        !headers.contains_key(header::AUTHORIZATION) && crate::bearer(headers).is_some();
    if safe || !path.starts_with("/api/") || !cookie_signed {
        return Ok(());
    }
    let site = headers
        .get("sec-fetch-site")
        .map(|v| v.to_str().unwrap_or("").trim().to_ascii_lowercase());
    if site.is_some_and(|s| s != "same-origin") {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "cross_origin_request",
            "拒绝来自其他来源页面的请求",
            "a request from a page of another origin is refused",
        ));
    }
    let mime = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let typed = mime == "application/json"
        || mime == "application/xml"
        || mime == "text/xml"
        || mime.ends_with("+xml")
        // A document uploaded as itself (PDF, an image): any type but those a page of another
        // site may send without asking first (CORS "simple" requests).
        || (path.ends_with("/attachments")
            && !mime.is_empty()
            && !matches!(
                mime.as_str(),
                "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain"
            ));
    if typed {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "以会话 Cookie 登录的修改请求须为 JSON 或 XML（Content-Type: application/json）",
            "a changing request signed in with the session cookie must be JSON or XML \
             (Content-Type: application/json), even without a body",
        ))
    }
}

fn finish(path: &str, secure: bool, mut resp: Response) -> Response {
    let h = resp.headers_mut();
    if secure {
        // A browser that saw this over HTTPS uses nothing else for the host for a year.
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
        // Cookies set over HTTPS never travel in clear.
        let cookies: Vec<HeaderValue> = h
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| match v.to_str() {
                Ok(text) if !text.to_ascii_lowercase().contains("; secure") => {
                    HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| v.clone())
                }
                _ => v.clone(),
            })
            .collect();
        if !cookies.is_empty() {
            h.remove(header::SET_COOKIE);
            for c in cookies {
                h.append(header::SET_COOKIE, c);
            }
        }
    }
    h.entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    h.entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::REFERRER_POLICY)
        .or_insert(HeaderValue::from_static("no-referrer"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_CSP));
    if path != "/" && !path.starts_with("/assets/") {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}
