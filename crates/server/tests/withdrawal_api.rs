//! A licence withdrawn by its issuing agency, over HTTP (docs/EPORT.md "Licence withdrawal";
//! issue 18 item 6): the commerce agency issues a car licence, two imports reserve on it and
//! one is released; the agency withdraws it with a reason. Only the issuer withdraws it, once
//! (403, 404, 409 and 422 with their fields, in Chinese and English, nothing written); after
//! the withdrawal a filing naming it is refused on `licence_no`, the declaration filed before
//! cannot be released (409 `licence_withdrawn`, nothing written), and what was written off
//! stays.

mod common;

use app::{Clearance, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};

const A: &str = "91310115MA1K4Q7B4Y";

struct TestApp(common::Harness);

impl std::ops::Deref for TestApp {
    type Target = common::Harness;
    fn deref(&self) -> &common::Harness {
        &self.0
    }
}

impl TestApp {
    async fn start() -> TestApp {
        TestApp(
            common::Harness::start(|store, clock| {
                let svc = Clearance::new(store, common::refdata(), clock)
                    .with_registry(Box::new(common::general_class(A)))
                    .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
                    .with_eport();
                svc.load_risk().unwrap();
                svc
            })
            .await,
        )
    }

    fn user(&self, login: &str, role: Role, uscc: Option<&str>, agency: Option<&str>) {
        let officer = role == Role::Officer;
        self.bootstrap(NewUserRequest {
            login: login.into(),
            password: common::PASSWORD.into(),
            role,
            duties: if officer {
                vec![
                    app::Duty::Reviewer,
                    app::Duty::TaxOfficer,
                    app::Duty::ReleaseOfficer,
                ]
            } else {
                vec![]
            },
            office: officer.then(|| OfficeCode::parse("2233").unwrap()),
            uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
            agency: agency.map(str::to_owned),
        });
    }

    async fn file(&self, token: &str, seq: &str, body: String) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("client-seq-no", seq)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    /// Review, assess and pay a filed declaration (it waits for release).
    async fn to_paid(&self, ent: &str, off: &str, id: &Value) {
        let step = |name: &str| format!("/api/declarations/{id}/{name}");
        let (s, r) = self
            .post(off, &step("review"), json!({"result": "conform"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, r) = self.post(off, &step("assess"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (_, d) = self.get(ent, &format!("/api/declarations/{id}")).await;
        for n in d["notices"].as_array().unwrap() {
            self.pay_through_bank(ent, n["notice_no"].as_str().unwrap())
                .await;
        }
    }

    fn audit_records(&self) -> u64 {
        use store::Store;
        self.store.verify_audit().unwrap().records_checked
    }
}

/// A car import of one set under `licence_no` (8703…: automatic import licence).
fn cars(contract: &str, licence_no: &str) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["bill_no"] = Value::Null;
    v["contract_no"] = contract.into();
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

fn problem(v: &Value) -> (String, String) {
    let p = &v["error"]["problems"][0];
    assert!(
        !p["message_zh"].as_str().unwrap_or("").is_empty()
            && !p["message_en"].as_str().unwrap_or("").is_empty(),
        "{v}"
    );
    (
        p["field"].as_str().unwrap().to_owned(),
        p["code"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_withdrawn_licence_refuses_filings_and_releases() {
    let app = TestApp::start().await;
    app.user("mofcom", Role::Agency, None, Some("commerce"));
    app.user("commerce2", Role::Agency, None, Some("MOFCOM"));
    app.user("ndrc", Role::Agency, None, Some("ndrc"));
    app.user("samr", Role::Agency, None, Some("market_regulation"));
    app.user("ent-a", Role::Enterprise, Some(A), None);
    app.user("off", Role::Officer, None, None);
    let (mofcom, commerce2, ndrc, samr, ent, off) = (
        app.login("mofcom").await,
        app.login("commerce2").await,
        app.login("ndrc").await,
        app.login("samr").await,
        app.login("ent-a").await,
        app.login("off").await,
    );
    let (s, v) = app
        .post(
            &mofcom,
            "/api/eport/licences",
            json!({
                "licence_no": "AIL-W-1", "kind": "import", "holder": A, "commodity": "8703",
                "unit": "003", "quantity": "10", "valid_from": "2025-01-01", "valid_to": "2025-12-31"
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");

    // Two imports reserve a car each; the second is released (one written off).
    let (s, held) = app.file(&ent, "w-1", cars("W-1", "AIL-W-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{held}");
    let (s, gone) = app.file(&ent, "w-2", cars("W-2", "AIL-W-1")).await;
    assert_eq!(s, StatusCode::CREATED, "{gone}");
    app.to_paid(&ent, &off, &held["id"]).await;
    app.to_paid(&ent, &off, &gone["id"]).await;
    let (s, r) = app
        .post(
            &off,
            &format!("/api/declarations/{}/release", gone["id"]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // Refused withdrawals write nothing.
    let withdraw = |no: &str| format!("/api/eport/licences/{no}/withdrawal");
    let reason = json!({"reason": "the holder's automatic import licence was obtained by fraud"});
    let before = app.audit_records();
    for t in [&ent, &samr, &off] {
        let (s, v) = app.post(t, &withdraw("AIL-W-1"), reason.clone()).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    }
    let (s, v) = app.post(&ndrc, &withdraw("AIL-W-1"), reason.clone()).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_issuer")),
        "{v}"
    );
    assert!(
        v["error"]["message_zh"].as_str().unwrap().contains("签发"),
        "{v}"
    );
    let (s, _) = app
        .post(&mofcom, &withdraw("AIL-404"), reason.clone())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = app
        .post(&mofcom, &withdraw("AIL-W-1"), json!({"reason": " "}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(problem(&v), ("reason".to_owned(), "bad_reason".to_owned()));
    let (s, v) = app
        .post(
            &mofcom,
            &withdraw("AIL-W-1"),
            json!({"reason": "x", "withdrawn_at": "2025-03-11T02:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        problem(&v),
        ("withdrawn_at".to_owned(), "withdrawn_in_future".to_owned())
    );
    for bad in [
        json!({"reason": "x", "extra": 1}),
        json!({"reason": 3}),
        json!([]),
    ] {
        let (s, v) = app.post(&mofcom, &withdraw("AIL-W-1"), bad.clone()).await;
        assert!(
            matches!(
                s,
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST
            ),
            "{bad}: {s} {v}"
        );
        assert!(v["error"]["message_en"].is_string(), "{v}");
    }
    assert_eq!(app.audit_records(), before, "refusals write nothing");

    // Another user of the issuing agency withdraws it, with a reason and a time.
    let (s, v) = app
        .post(
            &commerce2,
            &withdraw("AIL-W-1"),
            json!({"reason": "licence obtained by fraud", "withdrawn_at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["withdrawn"]["reason"], "licence obtained by fraud");
    assert_eq!(v["withdrawn"]["withdrawn_by"], "commerce");
    assert_eq!(
        (v["reserved"].as_str(), v["written_off"].as_str()),
        (Some("1"), Some("1"))
    );
    let (s, v) = app
        .post(&mofcom, &withdraw("AIL-W-1"), reason.clone())
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("licence_already_withdrawn")),
        "{v}"
    );

    // A new filing naming it: refused on the licence field.
    let (s, v) = app.file(&ent, "w-3", cars("W-3", "AIL-W-1")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(
        problem(&v),
        ("licence_no".to_owned(), "licence_withdrawn".to_owned())
    );

    // The declaration filed before cannot be released; nothing of the step is written.
    let id = &held["id"];
    let (_, before) = app.get(&ent, &format!("/api/declarations/{id}")).await;
    let (s, v) = app
        .post(&off, &format!("/api/declarations/{id}/release"), json!({}))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("licence_withdrawn")),
        "{v}"
    );
    assert!(
        v["error"]["message_zh"]
            .as_str()
            .unwrap()
            .contains("不能放行"),
        "{v}"
    );
    assert!(
        v["error"]["message_en"]
            .as_str()
            .unwrap()
            .contains("cannot be released"),
        "{v}"
    );
    let (_, after) = app.get(&ent, &format!("/api/declarations/{id}")).await;
    assert_eq!(after["state"]["status"], "paid", "{after}");
    assert_eq!(after["version"], before["version"]);

    // What was written off stays; the ledgers show the withdrawal.
    let (_, mine) = app.get(&ent, "/api/eport/my-licences").await;
    let l = &mine[0];
    assert_eq!(
        (l["reserved"].as_str(), l["written_off"].as_str()),
        (Some("1"), Some("1")),
        "{mine}"
    );
    assert_eq!(l["withdrawn"]["reason"], "licence obtained by fraud");
    assert!(app.store_intact());

    let (_, doc) = app
        .call(reqwest::Method::GET, None, "/api/openapi.json", None)
        .await;
    assert!(
        doc["paths"]["/api/eport/licences/{licence_no}/withdrawal"]
            .get("post")
            .is_some(),
        "the withdrawal in the OpenAPI document"
    );
}

impl TestApp {
    fn store_intact(&self) -> bool {
        use store::Store;
        self.store.verify_audit().unwrap().is_intact()
    }
}
