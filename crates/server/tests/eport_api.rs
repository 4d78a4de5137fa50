//! Black-box tests of the E-Port ledgers over HTTP (docs/EPORT.md "API"): a real server on
//! port 0 with the ledgers on; the commerce agency issues a licence, the enterprise reads what
//! remains, the market-regulation agency keeps the registry, and 32 HTTP clients race for a
//! licence of 10.

mod common;

use app::{Clearance, NewUserRequest, Role};
use domain::codes::Uscc;
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "test-password";
const A: &str = "91310115MA1K4Q7B4Y";
const B: &str = "91440300MA5FT3XKX8";

struct TestApp(common::Harness);

impl std::ops::Deref for TestApp {
    type Target = common::Harness;
    fn deref(&self) -> &common::Harness {
        &self.0
    }
}

impl TestApp {
    async fn start() -> TestApp {
        let t = TestApp(
            common::Harness::start(|store, clock| {
                let svc = Clearance::new(store, common::refdata(), clock).with_eport();
                svc.load_risk().unwrap();
                svc
            })
            .await,
        );
        t
    }

    fn user(&self, login: &str, role: Role, uscc: Option<&str>, agency: Option<&str>) {
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties: vec![],
                office: None,
                uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
                agency: agency.map(str::to_owned),
            })
            .unwrap();
    }
}

fn licence(no: &str, quantity: &str) -> Value {
    json!({
        "licence_no": no, "kind": "import", "holder": A, "commodity": "8703", "unit": "003",
        "quantity": quantity, "valid_from": "2025-01-01", "valid_to": "2025-12-31"
    })
}

fn cars(licence_no: &str) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["bill_no"] = Value::Null;
    v["licence_no"] = licence_no.into();
    let item = v["items"][0].as_object_mut().unwrap();
    item.remove("second_quantity");
    item.remove("second_unit");
    for (k, val) in [
        ("commodity_code", "8703234190"),
        ("name", "小轿车"),
        ("specification", "1.5升<排气量≤2升|5座|品牌X|型号X2"),
        ("declared_unit", "003"),
        ("first_unit", "003"),
        ("declared_quantity", "1"),
        ("first_quantity", "1"),
        ("unit_price", "20000.0000"),
        ("total_price", "20000.00"),
    ] {
        item.insert(k.into(), val.into());
    }
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn licences_registry_and_a_race_over_http() {
    let app = TestApp::start().await;
    app.user("mofcom", Role::Agency, None, Some("commerce"));
    app.user("samr", Role::Agency, None, Some("market_regulation"));
    app.user("ent-a", Role::Enterprise, Some(A), None);
    app.user("ent-b", Role::Enterprise, Some(B), None);
    let (mofcom, samr, ent_a, ent_b) = (
        app.login("mofcom").await,
        app.login("samr").await,
        app.login("ent-a").await,
        app.login("ent-b").await,
    );
    let post = reqwest::Method::POST;
    let get = reqwest::Method::GET;
    let put = reqwest::Method::PUT;

    // Issue: the commerce agency only; a duplicate number is a conflict; a bad one is 422.
    let (s, v) = app
        .call(
            post.clone(),
            Some(&mofcom),
            "/api/eport/licences",
            Some(licence("AIL-RACE", "10")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["remaining"], "10");
    for t in [&samr, &ent_a] {
        let (s, _) = app
            .call(
                post.clone(),
                Some(t),
                "/api/eport/licences",
                Some(licence("X-1", "1")),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = app
        .call(
            post.clone(),
            Some(&mofcom),
            "/api/eport/licences",
            Some(licence("AIL-RACE", "1")),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _) = app
        .call(
            post.clone(),
            Some(&mofcom),
            "/api/eport/licences",
            Some(licence("X-2", "0")),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = app
        .call(get.clone(), None, "/api/eport/my-licences", None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = app
        .call(get.clone(), Some(&ent_b), "/api/eport/my-licences", None)
        .await;
    assert_eq!((s, v), (StatusCode::OK, json!([])));
    let (s, _) = app
        .call(get.clone(), Some(&ent_a), "/api/eport/licences", None)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The registry: the market-regulation agency only.
    let entry = |name: &str, status: &str| Some(json!({"name": name, "status": status}));
    let (s, _) = app
        .call(
            put.clone(),
            Some(&mofcom),
            &format!("/api/eport/registry/{A}"),
            entry("A", "active"),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = app
        .call(
            put.clone(),
            Some(&samr),
            &format!("/api/eport/registry/{A}"),
            entry("A", "active"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = app
        .call(
            put.clone(),
            Some(&samr),
            &format!("/api/eport/registry/{B}"),
            entry("B", "deregistered"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // 32 clients race for the licence of 10, each asking 1.
    let mut tasks = Vec::new();
    for i in 0..32 {
        let (client, base, token, body) = (
            app.client.clone(),
            app.base.clone(),
            ent_a.clone(),
            cars("AIL-RACE"),
        );
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(format!("{base}/api/declarations"))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("client-seq-no", format!("race-{i}"))
                .body(body)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            (status, resp.json::<Value>().await.unwrap())
        }));
    }
    let mut accepted = 0;
    for t in tasks {
        let (status, v) = t.await.unwrap();
        match status {
            StatusCode::CREATED => accepted += 1,
            StatusCode::UNPROCESSABLE_ENTITY => {
                let problems = v["error"]["problems"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{v}"));
                assert_eq!(problems.len(), 1, "{v}");
                assert_eq!(problems[0]["field"], "licence_no");
                assert_eq!(problems[0]["code"], "licence_exhausted");
            }
            other => panic!("{other}: {v}"),
        }
    }
    assert_eq!(accepted, 10);
    let (s, v) = app
        .call(get.clone(), Some(&ent_a), "/api/eport/my-licences", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (v[0]["reserved"].clone(), v[0]["remaining"].clone()),
        (json!("10"), json!("0"))
    );
    let (_, v) = app
        .call(get, Some(&mofcom), "/api/eport/licences", None)
        .await;
    assert_eq!(v[0]["licence_no"], "AIL-RACE");

    // A deregistered enterprise fails review, with the reason on trader.uscc.
    let mut laptops: Value = serde_json::from_str(app::demo::EXPORT_TEMPLATE).unwrap();
    laptops["contract_no"] = "B-1".into();
    let resp = app
        .client
        .post(format!("{}/api/declarations", app.base))
        .bearer_auth(&ent_b)
        .header("content-type", "application/json")
        .header("client-seq-no", "b-1")
        .body(laptops.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["problems"][0]["field"], "trader.uscc", "{v}");
    assert_eq!(v["error"]["problems"][0]["code"], "enterprise_deregistered");

    // The OpenAPI document lists the endpoints.
    let (_, doc) = app
        .call(reqwest::Method::GET, None, "/api/openapi.json", None)
        .await;
    for p in [
        "/api/eport/licences",
        "/api/eport/my-licences",
        "/api/eport/registry/{uscc}",
    ] {
        assert!(doc["paths"].get(p).is_some(), "{p} in the OpenAPI document");
    }
}
