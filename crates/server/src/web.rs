//! The web interface: static files (HTML, CSS, JavaScript modules, the two language
//! dictionaries and the vendored Chart.js) compiled into the binary with `include_bytes!`, so
//! `jinguan serve` needs nothing beside itself and nothing is fetched from the internet.
//!
//! The interface is a small single-page application (`web/index.html`, hash routes) that talks
//! to the JSON API with the session cookie. Every page answer carries a Content-Security-Policy
//! that allows only this origin.

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::{ApiError, Svc};

/// `(path under /assets/, content type, bytes)`.
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    ("app.css", CSS, include_bytes!("../web/assets/app.css")),
    ("app.js", JS, include_bytes!("../web/assets/app.js")),
    ("api.js", JS, include_bytes!("../web/assets/api.js")),
    ("i18n.js", JS, include_bytes!("../web/assets/i18n.js")),
    ("ui.js", JS, include_bytes!("../web/assets/ui.js")),
    ("detail.js", JS, include_bytes!("../web/assets/detail.js")),
    ("portal.js", JS, include_bytes!("../web/assets/portal.js")),
    ("lists.js", JS, include_bytes!("../web/assets/lists.js")),
    ("finance.js", JS, include_bytes!("../web/assets/finance.js")),
    (
        "guarantees.js",
        JS,
        include_bytes!("../web/assets/guarantees.js"),
    ),
    ("parties.js", JS, include_bytes!("../web/assets/parties.js")),
    ("aeo.js", JS, include_bytes!("../web/assets/aeo.js")),
    (
        "registration.js",
        JS,
        include_bytes!("../web/assets/registration.js"),
    ),
    ("form.js", JS, include_bytes!("../web/assets/form.js")),
    (
        "versions.js",
        JS,
        include_bytes!("../web/assets/versions.js"),
    ),
    ("bankpay.js", JS, include_bytes!("../web/assets/bankpay.js")),
    ("officer.js", JS, include_bytes!("../web/assets/officer.js")),
    ("hq.js", JS, include_bytes!("../web/assets/hq.js")),
    ("inbox.js", JS, include_bytes!("../web/assets/inbox.js")),
    ("trade.js", JS, include_bytes!("../web/assets/trade.js")),
    (
        "exchange.js",
        JS,
        include_bytes!("../web/assets/exchange.js"),
    ),
    ("i18n/zh.json", JSON, include_bytes!("../web/i18n/zh.json")),
    ("i18n/en.json", JSON, include_bytes!("../web/i18n/en.json")),
    (
        "vendor/chart.umd.min.js",
        JS,
        include_bytes!("../web/vendor/chart.umd.min.js"),
    ),
];

/// The page every route of the application starts from.
pub const INDEX_HTML: &[u8] = include_bytes!("../web/index.html");

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub(crate) fn routes() -> Router<Svc> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(asset))
}

fn file(content_type: &'static str, bytes: &'static [u8]) -> Response {
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Small files, one per release: revalidate rather than risk a stale mix after an upgrade.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn index() -> Response {
    let mut resp = file("text/html; charset=utf-8", INDEX_HTML);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, ct, bytes)) => file(ct, bytes),
        None => ApiError::not_found().into_response(),
    }
}
