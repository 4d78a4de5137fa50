//! Sign-in under attack (issue 15, item 1): password checks run on a bounded pool, failures
//! are rate-limited per login and per client address with back-off and lockout (429 with
//! `Retry-After`, zh/en), an administrator can unlock, and filing goes on meanwhile.

mod common;

use std::sync::Arc;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use server::signin::{SignInGuard, SignInPolicy};

const A: &str = "91310115MA1K4Q7B4Y";

fn user(login: &str, role: Role, office: Option<&str>, uscc: Option<&str>) -> NewUserRequest {
    NewUserRequest {
        login: login.into(),
        password: common::PASSWORD.into(),
        role,
        duties: if role == Role::Officer {
            vec![Duty::Reviewer]
        } else {
            vec![]
        },
        office: office.map(|o| OfficeCode::parse(o).unwrap()),
        uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
        agency: None,
    }
}

fn declaration(uscc: &str, office: &str, variant: u32) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = uscc.into();
    v["owner"]["uscc"] = uscc.into();
    v["declaration_office"] = office.into();
    v["entry_exit_office"] = office.into();
    v["contract_no"] = format!("T-{variant}").into();
    v.to_string()
}

async fn start(policy: SignInPolicy) -> (common::Harness, Arc<SignInGuard>) {
    let guard = SignInGuard::new(policy);
    let t = common::Harness::start_with(
        |store, clock| {
            Clearance::new(store, common::refdata(), clock)
                .with_registry(Box::new(common::general_class(A)))
                .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
        },
        server::ServeOptions {
            signin: guard.clone(),
            ..server::ServeOptions::default()
        },
    )
    .await;
    (t, guard)
}

async fn sign_in(t: &common::Harness, login: &str, password: &str) -> reqwest::Response {
    t.client
        .post(format!("{}/api/session", t.base))
        .json(&json!({"login": login, "password": password}))
        .send()
        .await
        .unwrap()
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 128 concurrent wrong sign-ins (unknown and known logins) run at most `workers` argon2id
/// checks at once, the process stays under 300 MB, and a filing succeeds meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_sign_ins_are_bounded_and_filing_goes_on() {
    let policy = SignInPolicy {
        workers: 2,
        // Every attempt reaches the pool: this test is about the bound, not the lockout.
        queue: 1024,
        login_free: 1000,
        address_free: 1000,
        ..SignInPolicy::default()
    };
    let (t, guard) = start(policy).await;
    t.bootstrap(user("ent-a", Role::Enterprise, None, Some(A)));
    t.bootstrap(user("victim", Role::Enterprise, None, Some(A)));
    let ent = t.login("ent-a").await;
    let idle_rss = rss_kib();
    eprintln!("RSS before the attack: {} MiB", idle_rss / 1024);

    let mut attacks = Vec::new();
    for i in 0..128 {
        let client = t.client.clone();
        let url = format!("{}/api/session", t.base);
        let login = if i % 2 == 0 {
            format!("nobody-{i}")
        } else {
            "victim".into()
        };
        attacks.push(tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"login": login, "password": "wrong-password"}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    // A filing while the attack runs.
    let started = std::time::Instant::now();
    let filed = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(&ent)
        .header("content-type", "application/json")
        .header("client-seq-no", "during-attack-1")
        .body(declaration(A, "2233", 1))
        .send()
        .await
        .unwrap();
    let filing_took = started.elapsed();
    let status = filed.status();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "{}",
        filed.text().await.unwrap()
    );
    let mut peak_rss = rss_kib();
    let mut statuses = Vec::new();
    for a in attacks {
        peak_rss = peak_rss.max(rss_kib());
        statuses.push(a.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED),
        "{statuses:?}"
    );
    assert!(
        guard.peak_concurrency() <= 2,
        "checks at once: {}",
        guard.peak_concurrency()
    );
    assert!(guard.peak_concurrency() >= 1);
    assert!(peak_rss < 300 * 1024, "RSS {peak_rss} KiB");
    // Two checks' worth of argon2 memory (2 × 19 MiB) and the connections, not 128 × 19 MiB.
    assert!(
        peak_rss - idle_rss < 120 * 1024,
        "RSS grew from {idle_rss} to {peak_rss} KiB"
    );
    eprintln!(
        "filing during the attack took {filing_took:?}; peak RSS {} MiB",
        peak_rss / 1024
    );
    // The right password still works afterwards.
    assert_eq!(
        sign_in(&t, "victim", common::PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

/// Failures beyond the free ones lock the login (429, `Retry-After`, zh/en) even with the
/// right password; an administrator unlocks it; others may not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_failures_lock_the_login_until_an_administrator_unlocks() {
    let (t, guard) = start(SignInPolicy {
        login_free: 3,
        address_free: 1000,
        ..SignInPolicy::default()
    })
    .await;
    t.bootstrap(user("victim", Role::Enterprise, None, Some(A)));
    t.bootstrap(user("root", Role::Admin, None, None));
    t.bootstrap(user("ent-a", Role::Enterprise, None, Some(A)));
    let admin = t.login("root").await;
    let ent = t.login("ent-a").await;

    for _ in 0..4 {
        assert_eq!(
            sign_in(&t, "victim", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // Locked now: even the right password is answered 429 without a check.
    let r = sign_in(&t, "victim", common::PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "sign_in_locked");
    assert!(v["error"]["message_zh"]
        .as_str()
        .unwrap()
        .contains("秒后再试"));
    assert!(v["error"]["message_en"]
        .as_str()
        .unwrap()
        .contains("too many failed sign-ins"));
    assert!(guard.lockouts() >= 1 && guard.rate_limited() >= 1);

    // Another login from the same address is not locked.
    assert_eq!(
        sign_in(&t, "ent-a", common::PASSWORD).await.status(),
        StatusCode::CREATED
    );

    // Only an administrator may unlock.
    let (s, _) = t
        .call(
            reqwest::Method::DELETE,
            Some(&ent),
            "/api/sign-in-locks/victim",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = t
        .call(
            reqwest::Method::DELETE,
            Some(&admin),
            "/api/sign-in-locks/victim",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["was_locked"], true);
    assert_eq!(
        sign_in(&t, "victim", common::PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

/// Failures from one client address across many logins lock that address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_from_one_address_lock_the_address() {
    let (t, _guard) = start(SignInPolicy {
        login_free: 1000,
        address_free: 5,
        ..SignInPolicy::default()
    })
    .await;
    t.bootstrap(user("ent-a", Role::Enterprise, None, Some(A)));
    for i in 0..6 {
        assert_eq!(
            sign_in(&t, &format!("guess-{i}"), "wrong-password")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = sign_in(&t, "ent-a", common::PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
}

/// `/health` is alive, `/ready` answers 200 while the store answers, `/api/health` as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_ready() {
    let (t, _guard) = start(SignInPolicy::default()).await;
    for (path, status) in [
        ("/health", "alive"),
        ("/ready", "ready"),
        ("/api/health", "ok"),
    ] {
        let (s, v) = t.call(reqwest::Method::GET, None, path, None).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        assert_eq!(v["status"], status, "{path}");
    }
}

/// `/metrics` counts requests by route template and status with latency histograms, and the
/// sign-in failures, lockouts and rate-limit hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_sign_in_failures() {
    let (t, _guard) = start(SignInPolicy {
        login_free: 1,
        address_free: 1000,
        ..SignInPolicy::default()
    })
    .await;
    t.bootstrap(user("ent-a", Role::Enterprise, None, Some(A)));
    let ent = t.login("ent-a").await;
    let (s, _) = t.get(&ent, "/api/declarations/999999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    for _ in 0..2 {
        sign_in(&t, "victim", "wrong-password").await;
    }
    assert_eq!(
        sign_in(&t, "victim", "wrong-password").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = t
        .client
        .get(format!("{}/metrics", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for line in [
        r#"jinguan_http_requests_total{route="/api/session",method="POST",status="201"} 1"#,
        r#"jinguan_http_requests_total{route="/api/session",method="POST",status="401"} 2"#,
        r#"jinguan_http_requests_total{route="/api/session",method="POST",status="429"} 1"#,
        r#"jinguan_http_requests_total{route="/api/declarations/{id}",method="GET",status="404"} 1"#,
        r#"jinguan_http_request_duration_seconds_count{route="/api/session",method="POST",status="401"} 2"#,
        r#"jinguan_http_request_duration_seconds_bucket{route="/api/session",method="POST",status="401",le="+Inf"} 2"#,
        "jinguan_sign_in_failures_total 2",
        "jinguan_sign_in_lockouts_total 1",
        "jinguan_sign_in_rate_limited_total 1",
        "# TYPE jinguan_http_request_duration_seconds histogram",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    // The labels, not the values: a latency sum such as 0.0019999999 may hold the digits.
    let labels: Vec<&str> = text
        .lines()
        .filter_map(|l| Some(&l[l.find('{')?..=l.rfind('}')?]))
        .collect();
    assert!(!labels.is_empty());
    assert!(
        labels.iter().all(|l| !l.contains("999999")),
        "no request values in labels"
    );
}

/// F1 (docs/SECURITY.md): 64 concurrent wrong sign-ins for one login run at most
/// `login_free + 1` password checks; the others are answered 429 with `Retry-After` at once,
/// and the right password is refused while the lock is in force, then accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_sign_ins_for_one_login_stop_at_the_quota() {
    let (t, guard) = start(SignInPolicy {
        workers: 2,
        login_free: 5,
        address_free: 1000,
        ..SignInPolicy::default()
    })
    .await;
    t.bootstrap(user("victim", Role::Enterprise, None, Some(A)));
    let mut attacks = Vec::new();
    for _ in 0..64 {
        let client = t.client.clone();
        let url = format!("{}/api/session", t.base);
        attacks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .json(&json!({"login": "victim", "password": "wrong-password"}))
                .send()
                .await
                .unwrap();
            (r.status(), r.headers().contains_key("retry-after"))
        }));
    }
    let mut statuses = Vec::new();
    for a in attacks {
        statuses.push(a.await.unwrap());
    }
    let wrong = statuses
        .iter()
        .filter(|(s, _)| *s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|(s, retry)| *s == StatusCode::TOO_MANY_REQUESTS && *retry)
        .count();
    assert!(
        guard.failures() <= 6,
        "password checks failed: {} ({statuses:?})",
        guard.failures()
    );
    assert_eq!(wrong, guard.failures(), "{statuses:?}");
    assert_eq!(wrong + limited, 64, "{statuses:?}");
    // The lock is in force: the right password is refused without a check.
    let r = sign_in(&t, "victim", common::PASSWORD).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry <= 2, "{retry}");
    assert_eq!(guard.failures(), wrong, "no check while locked");
    // Once it ends, the right password signs in.
    tokio::time::sleep(std::time::Duration::from_secs(retry + 1)).await;
    assert_eq!(
        sign_in(&t, "victim", common::PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

/// F2: a login no user can have (over 64 bytes, or with a character outside
/// `A–Z a–z 0–9 . _ - @`, a line feed among them) is answered 401 before anything is counted
/// or checked: the guard keeps no key for it and counts no failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn impossible_logins_are_refused_before_the_guard() {
    let (t, guard) = start(SignInPolicy {
        login_free: 1,
        address_free: 1,
        ..SignInPolicy::default()
    })
    .await;
    t.bootstrap(user("ent-a", Role::Enterprise, None, Some(A)));
    let keys = guard.tracked_keys();
    for login in [
        "x".repeat(100 * 1024),
        "x".repeat(65),
        "ent-a\nINFO security: forged line".to_owned(),
        "ent-a\r".to_owned(),
        "ent a".to_owned(),
        "登录".to_owned(),
        String::new(),
    ] {
        for _ in 0..3 {
            let r = sign_in(&t, &login, "wrong-password").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{:.40?}", login);
            let v: Value = r.json().await.unwrap();
            assert_eq!(v["error"]["code"], "unauthenticated", "{v}");
        }
    }
    assert_eq!(guard.tracked_keys(), keys, "no key kept");
    assert_eq!(guard.failures(), 0, "nothing counted");
    assert_eq!(guard.rate_limited(), 0);
    // The address was not locked by them: a real user still signs in.
    assert_eq!(
        sign_in(&t, "ent-a", common::PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

/// F4: made-up HTTP methods add no series to `/metrics`: they are counted as `other`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_methods_add_no_metrics_series() {
    let (t, _guard) = start(SignInPolicy::default()).await;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("jinguan_http_requests_total{"))
            .count()
    };
    let scrape = || async {
        t.client
            .get(format!("{}/metrics", t.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // One made-up method first, so that `other` already has its series.
    let m = reqwest::Method::from_bytes(b"FOO0").unwrap();
    t.client
        .request(m, format!("{}/api/health", t.base))
        .send()
        .await
        .unwrap();
    let before = scrape().await;
    for i in 1..=50 {
        let m = reqwest::Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
        let r = t
            .client
            .request(m, format!("{}/api/health", t.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let after = scrape().await;
    assert!(!after.contains("FOO"), "{after}");
    // The scrape itself adds the one series of `GET /metrics`.
    assert!(
        series(&after) <= series(&before) + 1,
        "{before}\n---\n{after}"
    );
    assert!(
        after.lines().any(|l| l
            == r#"jinguan_http_requests_total{route="/api/health",method="other",status="405"} 51"#),
        "{after}"
    );
}
