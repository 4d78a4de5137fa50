//! The harness shared by the black-box HTTP tests: a real server on port 0 over a fresh
//! SQLite store in a temporary folder, a manual clock, and a JSON client. Each test file wraps
//! it (`Deref`) with the users and requests of its own subject.

#![allow(dead_code)] // each test file uses part of it

use std::collections::HashMap;
use std::sync::Arc;

use app::{Clearance, ManualClock, NewUserRequest, StaticRegistry};
use chrono::{TimeZone, Utc};
use clearance::{CreditClass, EnterpriseFacts};
use domain::codes::Uscc;
use reqwest::StatusCode;
use serde_json::{json, Value};
use store_sqlite::{SqliteOptions, SqliteStore};

/// The password of every user the tests create.
pub const PASSWORD: &str = "test-password";

pub struct Harness {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub store: Arc<SqliteStore>,
    pub svc: Arc<Clearance>,
    _dir: tempfile::TempDir,
}

impl Harness {
    /// The service `build` makes over a fresh store and a clock at 2025-03-10 02:00 UTC (10:00
    /// in China), served on a free loopback port.
    pub async fn start(
        build: impl FnOnce(Arc<SqliteStore>, Arc<ManualClock>) -> Clearance,
    ) -> Harness {
        Harness::start_with(build, server::ServeOptions::default()).await
    }

    /// [`Harness::start`] with the server's options (limits, timeouts).
    pub async fn start_with(
        build: impl FnOnce(Arc<SqliteStore>, Arc<ManualClock>) -> Clearance,
        options: server::ServeOptions,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path(), SqliteOptions::default()).unwrap());
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
        ));
        let svc = Arc::new(build(store.clone(), clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let s = svc.clone();
        tokio::spawn(async move {
            server::serve_with(listener, s, options, std::future::pending()).await
        });
        Harness {
            base,
            client: reqwest::Client::new(),
            clock,
            store,
            svc,
            _dir: dir,
        }
    }

    /// A user made directly through the service (as `jinguan user add` does).
    pub fn bootstrap(&self, user: NewUserRequest) {
        self.svc.users().bootstrap_user(user).unwrap();
    }

    pub async fn login(&self, login: &str) -> String {
        let (s, v) = self
            .call(
                reqwest::Method::POST,
                None,
                "/api/session",
                Some(json!({"login": login, "password": PASSWORD})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{login}: {v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// One JSON request; the answer's status and body (`Null` when empty). A body that is not
    /// JSON fails the test.
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"))
        };
        (status, v)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, Some(token), path, None)
            .await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, Some(token), path, Some(body))
            .await
    }
}

impl Harness {
    /// The token of the tests' bank user `bank-test` (created on first use).
    pub async fn bank_token(&self) -> String {
        if self
            .svc
            .store()
            .user_by_login("bank-test")
            .unwrap()
            .is_none()
        {
            self.bootstrap(NewUserRequest {
                login: "bank-test".into(),
                password: PASSWORD.into(),
                role: app::Role::Bank,
                duties: vec![],
                office: None,
                uscc: None,
                agency: None,
            });
        }
        self.login("bank-test").await
    }

    /// Pay a notice as it is paid: the declarant (`ent`'s token) initiates through the bank
    /// `bank-test`, whose user confirms the amount due today with its own reference.
    pub async fn pay_through_bank(&self, ent: &str, notice_no: &str) -> Value {
        let bank = self.bank_token().await;
        let (s, v) = self
            .post(
                ent,
                &format!("/api/notices/{notice_no}/payment-initiation"),
                json!({"bank": "bank-test"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let (s, r) = self
            .post(
                &bank,
                "/api/bank/payments",
                json!({
                    "notice_no": notice_no,
                    "reference": format!("REF-{notice_no}"),
                    "amount_fen": v["amount_due_fen"],
                }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        r
    }
}

/// Registry facts giving `uscc` the general credit class with one discrepancy last year (the
/// yellow lane under the default policy).
pub fn general_class(uscc: &str) -> StaticRegistry {
    let mut facts = HashMap::new();
    facts.insert(
        Uscc::parse(uscc).unwrap(),
        EnterpriseFacts {
            credit_class: CreditClass::General,
            discrepancies_last_year: 1,
        },
    );
    StaticRegistry(facts)
}

/// The embedded reference data.
pub fn refdata() -> Arc<refdata::RefData> {
    Arc::new(refdata::RefData::embedded().unwrap())
}

/// A server on port 0 over a PostgreSQL store at `url` (tables in `schema` when given), one
/// enterprise user `ent-a` of `uscc` (general credit class) signed in. For the outage tests.
pub struct PostgresServed {
    pub base: String,
    pub client: reqwest::Client,
    /// `ent-a`'s bearer token.
    pub token: String,
}

pub async fn serve_on_postgres(url: String, schema: Option<String>, uscc: &str) -> PostgresServed {
    use store_postgres::{PostgresOptions, PostgresStore};
    let store = tokio::task::spawn_blocking(move || {
        PostgresStore::open(
            &url,
            PostgresOptions {
                schema,
                connect_timeout: std::time::Duration::from_secs(2),
                ..PostgresOptions::default()
            },
        )
    })
    .await
    .unwrap()
    .expect("open the PostgreSQL store");
    let store = Arc::new(store);
    // The store owns a runtime, which must not be dropped inside this one: keep it alive.
    std::mem::forget(store.clone());
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap(),
    ));
    let svc = Arc::new(
        Clearance::new(store, refdata(), clock)
            .with_registry(Box::new(general_class(uscc)))
            .with_lane_policy(Box::new(clearance::DefaultLanePolicy)),
    );
    let boot = svc.clone();
    let owner = Uscc::parse(uscc).unwrap();
    tokio::task::spawn_blocking(move || {
        boot.users()
            .bootstrap_user(NewUserRequest {
                login: "ent-a".into(),
                password: PASSWORD.into(),
                role: app::Role::Enterprise,
                duties: vec![],
                office: None,
                uscc: Some(owner),
                agency: None,
            })
            .unwrap()
    })
    .await
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { server::serve(listener, svc, std::future::pending()).await });
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let r = client
        .post(format!("{base}/api/session"))
        .json(&json!({"login": "ent-a", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    PostgresServed {
        base,
        client,
        token,
    }
}
