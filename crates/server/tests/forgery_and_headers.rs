//! Requests forged from another page and the security headers (docs/SECURITY.md, F5 and
//! V14.4): a state-changing request signed in with the session cookie must be JSON (or XML)
//! and must not come from another origin; every answer carries the security headers, API
//! answers `Cache-Control: no-store`, and the session cookie its flags.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// An enterprise with a recent discrepancy: its filings go to the yellow lane.
const Y: &str = "91310000132149237G";

async fn start() -> common::Harness {
    let t = common::Harness::start(|store, clock| {
        Clearance::new(store, common::refdata(), clock)
            .with_registry(Box::new(common::general_class(Y)))
            .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
    })
    .await;
    for (login, role, office, uscc, duties) in [
        ("ent-y", Role::Enterprise, None, Some(Y), vec![]),
        (
            "pd",
            Role::Officer,
            Some("2233"),
            None,
            vec![Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer],
        ),
        ("root", Role::Admin, None, None, vec![]),
    ] {
        t.bootstrap(NewUserRequest {
            login: login.into(),
            password: common::PASSWORD.into(),
            role,
            duties,
            office: office.map(|o| OfficeCode::parse(o).unwrap()),
            uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
            agency: None,
        });
    }
    t
}

fn declaration() -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = Y.into();
    v["owner"]["uscc"] = Y.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    v["contract_no"] = "CSRF-1".into();
    v.to_string()
}

/// A declaration reviewed, assessed and paid: the next step is its release.
async fn ready_for_release(t: &common::Harness, ent: &str, off: &str) -> i64 {
    let r = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(ent)
        .header("content-type", "application/json")
        .header("client-seq-no", "csrf-1")
        .body(declaration())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let step = |name: &str| format!("/api/declarations/{id}/{name}");
    let (s, v) = t
        .post(off, &step("review"), json!({"result": "conform"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t.post(off, &step("assess"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, detail) = t.get(ent, &format!("/api/declarations/{id}")).await;
    for n in detail["notices"].as_array().unwrap() {
        t.pay_through_bank(ent, n["notice_no"].as_str().unwrap())
            .await;
    }
    id
}

async fn status_of(t: &common::Harness, token: &str, id: i64) -> String {
    let (_, v) = t.get(token, &format!("/api/declarations/{id}")).await;
    v["state"]["status"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"))
        .to_owned()
}

/// F5: a form posted from another page of the same site carries the officer's cookie; it is
/// refused (415 without a JSON type, 403 from another origin) and releases nothing. The web
/// interface's own request (JSON, same origin) releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_signed_changes_must_be_json_from_this_origin() {
    let t = start().await;
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let admin = t.login("root").await;
    let id = ready_for_release(&t, &ent, &off).await;
    let before = status_of(&t, &off, id).await;
    assert_ne!(before, "released");
    let release = format!("{}/api/declarations/{id}/release", t.base);
    let cookie = format!("{}={off}", server::SESSION_COOKIE);

    // What an HTML form or a no-cors fetch can send: a form type, text/plain, or no type.
    for content_type in [
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/plain"),
        None,
    ] {
        let mut req = t.client.post(&release).header("cookie", &cookie);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unsupported_media_type");
        assert!(v["error"]["message_zh"].as_str().unwrap().contains("JSON"));
    }
    // JSON, but the browser says it comes from another origin of the site.
    for site in ["same-site", "cross-site"] {
        let r = t
            .client
            .post(&release)
            .header("cookie", &cookie)
            .header("sec-fetch-site", site)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{site}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "cross_origin_request");
    }
    // The administrator's bodyless revoke, forged the same way, revokes nothing.
    let r = t
        .client
        .post(format!("{}/api/users/pd/revoke-sessions", t.base))
        .header("cookie", format!("{}={admin}", server::SESSION_COOKIE))
        .header("content-type", "text/plain")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(status_of(&t, &off, id).await, before, "nothing released");

    // The web interface's request: the cookie, JSON, same origin.
    let r = t
        .client
        .post(&release)
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(status_of(&t, &off, id).await, "released");
    // Signing out with the cookie is a change too: JSON, as the interface sends it.
    let r = t
        .client
        .delete(format!("{}/api/session", t.base))
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("{} has no {name}", r.url()))
        .to_str()
        .unwrap()
}

/// The security headers on the page and on API answers (successes and errors), and the
/// session cookie's flags.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers_and_cookie_flags() {
    let t = start().await;
    let r = t
        .client
        .post(format!("{}/api/session", t.base))
        .json(&json!({"login": "ent-y", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let cookie = header(&r, "set-cookie").to_owned();
    let flags: Vec<&str> = cookie.split(';').map(str::trim).collect();
    assert!(
        flags[0].starts_with(&format!("{}=", server::SESSION_COOKIE)),
        "{cookie}"
    );
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/api"] {
        assert!(flags.contains(&flag), "{flag} in {cookie}");
    }
    assert!(flags.iter().any(|f| f.starts_with("Max-Age=")), "{cookie}");
    assert_eq!(header(&r, "cache-control"), "no-store");
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The page.
    let page = t.client.get(format!("{}/", t.base)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csp = header(&page, "content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert_eq!(header(&page, "x-frame-options"), "DENY");
    assert_eq!(header(&page, "x-content-type-options"), "nosniff");
    assert_eq!(header(&page, "referrer-policy"), "no-referrer");
    let asset = t
        .client
        .get(format!("{}/assets/app.js", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&asset, "x-content-type-options"), "nosniff");

    // API answers: a success, a refusal, an unknown route, the probes.
    let answers = [
        t.client
            .get(format!("{}/api/session", t.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        t.client
            .get(format!("{}/api/declarations/999999", t.base))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap(),
        t.client
            .get(format!("{}/api/declarations", t.base))
            .send()
            .await
            .unwrap(),
        t.client
            .get(format!("{}/api/no-such-route", t.base))
            .send()
            .await
            .unwrap(),
        t.client
            .get(format!("{}/ready", t.base))
            .send()
            .await
            .unwrap(),
    ];
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 404, 401, 404, 200]);
    for r in &answers {
        assert_eq!(header(r, "cache-control"), "no-store", "{}", r.url());
        assert_eq!(
            header(r, "x-content-type-options"),
            "nosniff",
            "{}",
            r.url()
        );
        assert_eq!(header(r, "x-frame-options"), "DENY", "{}", r.url());
        assert_eq!(header(r, "referrer-policy"), "no-referrer", "{}", r.url());
        assert_eq!(
            header(r, "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'",
            "{}",
            r.url()
        );
    }
}
