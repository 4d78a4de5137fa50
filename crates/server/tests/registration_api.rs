//! Black-box tests of customs registration over HTTP (docs/PARTIES.md "Customs registration"):
//! a real server on port 0 over a fresh data folder.
//!
//! Register (a consignee effective at once, a broker pending review) → the broker cannot file
//! until an officer approves it → the consignee grants it authority → the broker's declarant,
//! added by the broker's own administrator, files in the consignee's name → the consignee sees
//! it → the authority is revoked → the next filing is refused; a viewer cannot file; an
//! administrator of another enterprise gets 404 on a user not its own; a cancelled enterprise
//! cannot file. Every refusal a 4xx with zh and en.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::OfficeCode;
use reqwest::StatusCode;
use serde_json::{json, Value};

const A: &str = "91310115MA1K4Q7B4Y";
const K: &str = "91310115MA1K9B2C7M";

fn declaration(n: u32) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = A.into();
    v["owner"]["uscc"] = A.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    v["contract_no"] = format!("R-{n}").into();
    v.to_string()
}

fn sign_up(kind: &str, uscc: &str, name: &str, login: &str) -> Value {
    json!({
        "kind": kind, "uscc": uscc, "office": "2200", "name": name,
        "address": "上海市浦东新区", "contact": "赵六 021-7777", "zone": "9",
        "economic_type": if kind == "broker" { "8" } else { "6" },
        "admin_login": login, "admin_password": common::PASSWORD,
    })
}

async fn submit(t: &common::Harness, token: &str, seq: &str, body: &str) -> (StatusCode, Value) {
    let resp = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("client-seq-no", seq)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let s = resp.status();
    (s, resp.json().await.unwrap())
}

async fn sign_up_call(t: &common::Harness, body: Value) -> (StatusCode, Value) {
    // No session: the sign-up is the one write a stranger may make.
    t.call(
        reqwest::Method::POST,
        None,
        "/api/registrations/sign-up",
        Some(body),
    )
    .await
}

fn both_languages(v: &Value) {
    let e = &v["error"];
    assert!(
        !e["message_zh"].as_str().unwrap_or("").is_empty()
            && !e["message_en"].as_str().unwrap_or("").is_empty(),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_authority_broker_files_revoked_and_cancelled() {
    let t = common::Harness::start(|store, clock| {
        Clearance::new(store, common::refdata(), clock).with_eport()
    })
    .await;
    // The market-regulation agency records both enterprises in its registry.
    t.bootstrap(NewUserRequest {
        login: "samr".into(),
        password: common::PASSWORD.into(),
        role: Role::Agency,
        duties: vec![],
        office: None,
        uscc: None,
        agency: Some("market_regulation".into()),
    });
    let samr = t.login("samr").await;
    for (uscc, name) in [(A, "上海示例电子"), (K, "上海示例报关行")] {
        let (s, v) = t
            .call(
                reqwest::Method::PUT,
                Some(samr.as_str()),
                &format!("/api/eport/registry/{uscc}"),
                Some(json!({"name": name, "status": "active"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    t.bootstrap(NewUserRequest {
        login: "reviewer".into(),
        password: common::PASSWORD.into(),
        role: Role::Officer,
        duties: vec![Duty::Reviewer],
        office: Some(OfficeCode::parse("2200").unwrap()),
        uscc: None,
        agency: None,
    });

    // Bad input: every problem with its field, in both languages; nothing written.
    let (s, v) = sign_up_call(
        &t,
        json!({"kind": "consignee", "uscc": "nonsense", "office": "99", "name": "",
               "address": "x", "contact": "x", "zone": "7", "economic_type": "8",
               "admin_login": "bad login", "admin_password": "x"}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let problems = v["error"]["problems"].as_array().unwrap();
    for f in [
        "uscc",
        "office",
        "name",
        "zone",
        "economic_type",
        "admin_login",
        "admin_password",
    ] {
        assert!(problems.iter().any(|p| p["field"] == f), "{f}: {v}");
    }
    assert!(problems
        .iter()
        .all(|p| p["message_zh"] != p["message_en"] && p["message_zh"].as_str().is_some()));
    let (s, v) = sign_up_call(&t, sign_up("consignee", A, "别的名字", "a-admin")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["problems"][0]["code"], "name_mismatch");

    // A consignee: effective at once with its customs code; a broker: pending.
    let (s, ra) = sign_up_call(&t, sign_up("consignee", A, "上海示例电子", "a-admin")).await;
    assert_eq!(s, StatusCode::CREATED, "{ra}");
    assert_eq!(ra["status"], "effective");
    assert_eq!(ra["customs_code"], "3101960001");
    let (s, v) = sign_up_call(&t, sign_up("consignee", A, "上海示例电子", "a-admin2")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    both_languages(&v);
    let (s, rk) = sign_up_call(&t, sign_up("broker", K, "上海示例报关行", "k-admin")).await;
    assert_eq!(s, StatusCode::CREATED, "{rk}");
    assert_eq!(rk["status"], "pending_review");
    assert!(rk["customs_code"].is_null());

    let a = t.login("a-admin").await;
    let k = t.login("k-admin").await;
    let reviewer = t.login("reviewer").await;
    let (s, mine) = t.get(&a, "/api/registrations/mine").await;
    assert_eq!((s, &mine["id"]), (StatusCode::OK, &ra["id"]));

    // The consignee grants the broker authority; the pending broker still files nothing.
    let (s, g) = t
        .post(
            &a,
            "/api/authorities",
            json!({"broker": K, "trade_modes": ["0110"], "offices": ["2200"],
                   "valid_from": "2025-03-01", "valid_to": "2025-06-30"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    let (s, v) = submit(&t, &k, "k-0", &declaration(0)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "registration_pending");
    both_languages(&v);

    // The officer's desk: the consignee's admin may not review; the reviewer approves.
    let (s, _) = t
        .post(
            &a,
            &format!("/api/registrations/{}/review", rk["id"]),
            json!({"approve": true}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, list) = t
        .get(&reviewer, "/api/registrations?status=pending_review")
        .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, rk) = t
        .post(
            &reviewer,
            &format!("/api/registrations/{}/review", rk["id"]),
            json!({"approve": true, "note": "in order", "expected_version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rk}");
    assert_eq!(rk["customs_code"], "3101980001");

    // The broker's administrator adds a declarant and a viewer; the viewer cannot file.
    for (login, role) in [("k-decl", "declarant"), ("k-view", "viewer")] {
        let (s, v) = t
            .post(
                &k,
                "/api/enterprise/users",
                json!({"login": login, "password": common::PASSWORD, "roles": [role]}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    let (s, v) = t
        .post(
            &k,
            "/api/enterprise/users",
            json!({"login": "k-x", "password": common::PASSWORD, "roles": ["reviewer"]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let decl = t.login("k-decl").await;
    let view = t.login("k-view").await;
    let (s, v) = submit(&t, &view, "v-1", &declaration(1)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = t.get(&view, "/api/enterprise/users").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    // The consignee's administrator cannot touch the broker's users.
    let (s, v) = t
        .post(
            &a,
            "/api/enterprise/users/k-decl/roles",
            json!({"roles": ["viewer"]}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    let (s, users) = t.get(&a, "/api/enterprise/users").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(users.as_array().unwrap().len(), 1, "{users}");

    // The broker's declarant files in the consignee's name; the consignee sees it.
    let (s, f) = submit(&t, &decl, "d-1", &declaration(2)).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    let (s, d) = t.get(&a, &format!("/api/declarations/{}", f["id"])).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    assert_eq!(d["events"][0]["event"]["actor"]["login"], "k-decl");

    // Revoked: the next filing is refused, nothing written.
    let (s, _) = t
        .post(
            &a,
            &format!("/api/authorities/{}/revoke", g["id"]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = submit(&t, &decl, "d-2", &declaration(3)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "authority_revoked");

    // The consignee cancels its registration: it files nothing more.
    let (s, ok) = submit(&t, &a, "a-1", &declaration(4)).await;
    assert_eq!(s, StatusCode::CREATED, "{ok}");
    let (s, c) = t
        .post(
            &a,
            &format!("/api/registrations/{}/cancel", ra["id"]),
            json!({"reason": "ceased trading"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "cancelled");
    let (s, v) = submit(&t, &a, "a-2", &declaration(5)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "registration_cancelled");
    both_languages(&v);

    // Documented.
    let (s, doc) = t.get(&a, "/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    for path in [
        "/api/registrations/sign-up",
        "/api/registrations/{id}/review",
        "/api/enterprise/users/{login}/roles",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} undocumented");
    }
}
