//! Black-box tests of what the web interface asks before acting: who is signed in (answered
//! without an error when nobody is), and the check of a declaration, which reports what filing
//! would (cargo control's bill match included) without writing or reserving anything.

mod common;

use std::sync::Arc;

use app::cargo_desk::{CargoDesk, CargoPolicy};
use app::{Clearance, NewUserRequest, Role};
use chrono::Duration;
use domain::codes::Uscc;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Yellow lane (a recent discrepancy).
const Y: &str = "91310000132149237G";
const CARRIER: &str = "91110000600037341L";

async fn start() -> common::Harness {
    common::Harness::start(|store, clock| {
        let desk = Arc::new(CargoDesk::open(store.clone(), CargoPolicy::default()).unwrap());
        Clearance::new(store, common::refdata(), clock)
            .with_registry(Box::new(common::general_class(Y)))
            .with_cargo(desk)
    })
    .await
}

fn user(t: &common::Harness, login: &str, role: Role, uscc: &str) {
    t.bootstrap(NewUserRequest {
        login: login.into(),
        password: common::PASSWORD.into(),
        role,
        duties: vec![],
        office: None,
        uscc: Some(Uscc::parse(uscc).unwrap()),
        agency: None,
    });
}

fn import(bill: &str, packages: u32, weight: &str) -> Value {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = Y.into();
    v["owner"]["uscc"] = Y.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    v["transport_mode"] = "5".into();
    v["bill_no"] = bill.into();
    v["packages"] = packages.into();
    v["gross_weight_kg"] = weight.into();
    v
}

fn codes(problems: &Value) -> Vec<String> {
    problems
        .as_array()
        .unwrap_or_else(|| panic!("no problems list: {problems}"))
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn submit(t: &common::Harness, token: &str, seq: &str, body: &Value) -> (StatusCode, Value) {
    let resp = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("client-seq-no", seq)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn count(t: &common::Harness, token: &str) -> usize {
    let (s, all) = t.get(token, "/api/declarations?limit=100").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    all["items"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_check_answers_null_when_signed_out() {
    let t = start().await;
    user(&t, "ent", Role::Enterprise, Y);

    // No token, a token that was never issued: 200, nobody.
    let (s, r) = t.call(Method::GET, None, "/api/session", None).await;
    assert_eq!((s, &r), (StatusCode::OK, &json!({"user": null})));
    let (s, r) = t.get("not-a-token", "/api/session").await;
    assert_eq!((s, &r), (StatusCode::OK, &json!({"user": null})));

    // Signed in: who, as the sign-in answered it.
    let (s, signed_in) = t
        .call(
            Method::POST,
            None,
            "/api/session",
            Some(json!({"login": "ent", "password": common::PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{signed_in}");
    let token = signed_in["token"].as_str().unwrap();
    let (s, r) = t.get(token, "/api/session").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r, signed_in["principal"]);
    assert!(!r.is_null() && r.get("user") != Some(&Value::Null), "{r}");

    // Expired (sessions last 8 hours): nobody again; other routes still answer 401.
    t.clock.advance(Duration::hours(9));
    let (s, r) = t.get(token, "/api/session").await;
    assert_eq!((s, &r), (StatusCode::OK, &json!({"user": null})));
    let (s, _) = t.get(token, "/api/declarations").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Signed out: nobody.
    let token = t.login("ent").await;
    let (s, _) = t
        .call(Method::DELETE, Some(&token), "/api/session", None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, r) = t.get(&token, "/api/session").await;
    assert_eq!((s, &r), (StatusCode::OK, &json!({"user": null})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_bill_match_as_filing_would_and_writes_nothing() {
    let t = start().await;
    user(&t, "ca", Role::Carrier, CARRIER);
    user(&t, "ent", Role::Enterprise, Y);
    let carrier = t.login("ca").await;
    let ent = t.login("ent").await;

    let manifest = json!({
        "manifest_id": "MF-1",
        "kind": "original",
        "voyage": {
            "means": {"mode": "flight", "flight_no": "CA986"},
            "voyage_no": "20250308",
            "direction": "import",
            "office": "2233"
        },
        "bills": [{"bill_no": "999-12345675", "kind": {"kind": "master"},
            "lines": [{"packages": 10, "package_type": "CT", "gross_weight_kg": "260",
                "description": "laptops"}]}]
    });
    let (s, r) = t.post(&carrier, "/api/manifests", manifest).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests/MF-1/arrival",
            json!({"at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // A bill on no manifest: the check reports what the submission is then refused for.
    let unknown = import("NOPE-1", 10, "260");
    let (s, checked) = t
        .post(&ent, "/api/declarations/check", unknown.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    assert_eq!(codes(&checked["problems"]), ["bill_unknown"]);
    assert_eq!(checked["problems"][0]["field"], "bill_no", "{checked}");
    assert_eq!(count(&t, &ent).await, 0, "the check wrote nothing");
    let (s, r) = submit(&t, &ent, "s-1", &unknown).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(codes(&r["error"]["problems"]), codes(&checked["problems"]));
    assert_eq!(count(&t, &ent).await, 1);

    // Packages and weight that disagree with the bill: both reasons, as filing gives them.
    let disagreeing = import("999-12345675", 12, "400");
    let (s, checked) = t
        .post(&ent, "/api/declarations/check", disagreeing.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    assert_eq!(
        codes(&checked["problems"]),
        ["packages_differ", "weight_beyond_tolerance"]
    );
    assert_eq!(count(&t, &ent).await, 1, "the check wrote nothing");

    // Agreeing: checks clean (twice: nothing was reserved by the first), then is accepted.
    let good = import("999-12345675", 10, "260.5");
    for _ in 0..2 {
        let (s, checked) = t.post(&ent, "/api/declarations/check", good.clone()).await;
        assert_eq!(s, StatusCode::OK, "{checked}");
        assert_eq!(checked["problems"], json!([]), "{checked}");
    }
    assert_eq!(count(&t, &ent).await, 1, "the check wrote nothing");
    let (_, m) = t.get(&carrier, "/api/manifests/MF-1").await;
    let before = m["balance"].clone();
    let (s, r) = submit(&t, &ent, "s-2", &good).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(count(&t, &ent).await, 2);
    let (_, m) = t.get(&carrier, "/api/manifests/MF-1").await;
    assert_ne!(
        m["balance"], before,
        "the filing matched the bill the check left free"
    );
}

/// The trader of the demo import template (E-Port test data).
const A: &str = "91310115MA1K4Q7B4Y";

/// Cars (a licensed commodity) under licence `licence_no`, no bill.
fn cars(licence_no: &str) -> Value {
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
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_the_licence_check_as_filing_would_and_reserves_nothing() {
    let t = common::Harness::start(|store, clock| {
        let svc = Clearance::new(store, common::refdata(), clock).with_eport();
        svc.load_risk().unwrap();
        svc
    })
    .await;
    user(&t, "ent", Role::Enterprise, A);
    t.bootstrap(NewUserRequest {
        login: "mofcom".into(),
        password: common::PASSWORD.into(),
        role: Role::Agency,
        duties: vec![],
        office: None,
        uscc: None,
        agency: Some("commerce".into()),
    });
    let (ent, mofcom) = (t.login("ent").await, t.login("mofcom").await);

    // A licence never issued: the check reports what the submission is then refused for.
    let unissued = cars("AIL-NONE");
    let (s, checked) = t
        .post(&ent, "/api/declarations/check", unissued.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    assert!(!codes(&checked["problems"]).is_empty(), "{checked}");
    assert!(
        codes(&checked["problems"])
            .iter()
            .all(|c| c.starts_with("licence_")),
        "{checked}"
    );
    assert_eq!(count(&t, &ent).await, 0, "the check wrote nothing");
    let (s, r) = submit(&t, &ent, "e-1", &unissued).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(codes(&r["error"]["problems"]), codes(&checked["problems"]));

    // Issued: checks clean and reserves nothing of it.
    let (s, v) = t
        .post(
            &mofcom,
            "/api/eport/licences",
            json!({
                "licence_no": "AIL-1", "kind": "import", "holder": A, "commodity": "8703",
                "unit": "003", "quantity": "1", "valid_from": "2025-01-01", "valid_to": "2025-12-31"
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let good = cars("AIL-1");
    for _ in 0..2 {
        let (s, checked) = t.post(&ent, "/api/declarations/check", good.clone()).await;
        assert_eq!(s, StatusCode::OK, "{checked}");
        assert_eq!(checked["problems"], json!([]), "{checked}");
    }
    let (s, mine) = t.get(&ent, "/api/eport/my-licences").await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert_eq!(
        mine[0]["remaining"], "1",
        "the check reserved nothing: {mine}"
    );
    let (s, r) = submit(&t, &ent, "e-2", &good).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
}
