//! Black-box tests of parties and enforcement over HTTP (docs/PARTIES.md): a real server on
//! port 0 over a fresh data folder, the risk engine choosing lanes.
//!
//! - A consignee grants a broker a power of attorney → the broker files in its name → the
//!   consignee sees it, the broker's user recorded → the authority is revoked → the next filing
//!   is refused (403, zh and en) and nothing is written.
//! - A risk hit → a case → a seizure → a penalty → the credit downgrade with its history → the
//!   next filing's lane is sampled at the discredited class's rates.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::Store;

const A: &str = "91310115MA1K4Q7B4Y";
const K: &str = "91310115MA1K9B2C7M";

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
                let svc = Clearance::new(store, common::refdata(), clock);
                svc.load_risk().unwrap();
                svc
            })
            .await,
        )
    }

    fn user(
        &self,
        login: &str,
        role: Role,
        office: Option<&str>,
        uscc: Option<&str>,
        duties: &[Duty],
    ) {
        self.bootstrap(NewUserRequest {
            login: login.into(),
            password: common::PASSWORD.into(),
            role,
            duties: duties.to_vec(),
            office: office.map(|o| OfficeCode::parse(o).unwrap()),
            uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
            agency: None,
        });
    }

    async fn submit(&self, token: &str, seq: &str, body: &str) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(format!("{}/api/declarations", self.base))
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

    async fn count(&self, token: &str) -> usize {
        let (s, v) = self.get(token, "/api/declarations").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["items"].as_array().unwrap().len()
    }

    async fn lane_event(&self, token: &str, id: &Value) -> Value {
        let (s, d) = self.get(token, &format!("/api/declarations/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        d["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["event"])
            .find(|e| e["type"] == "lane_chosen")
            .cloned()
            .expect("a lane_chosen event")
    }
}

fn declaration(n: u32, vessel: &str) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = A.into();
    v["owner"]["uscc"] = A.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    v["contract_no"] = format!("P-{n}").into();
    v["vessel"] = vessel.into();
    v.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_files_under_authority_until_revoked() {
    let t = TestApp::start().await;
    t.user("ent-a", Role::Enterprise, None, Some(A), &[]);
    t.user("broker-k", Role::Enterprise, None, Some(K), &[]);
    let a = t.login("ent-a").await;
    let k = t.login("broker-k").await;

    // Without authority: 403 with the reason, nothing written.
    let (s, v) = t.submit(&k, "k-1", &declaration(1, "EVER GIVEN")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "no_authority");
    assert!(v["error"]["message_zh"]
        .as_str()
        .unwrap()
        .contains("代理报关委托"));

    // A bad grant: every problem with its field.
    let (s, v) = t
        .post(
            &a,
            "/api/authorities",
            json!({"broker": "nonsense", "valid_from": "2025-03-31", "valid_to": "2025-03-xx"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let fields: Vec<&str> = v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"broker") && fields.contains(&"valid_to"),
        "{v}"
    );

    let (s, g) = t
        .post(
            &a,
            "/api/authorities",
            json!({"broker": K, "trade_modes": ["0110"], "offices": ["2200"],
                   "valid_from": "2025-03-01", "valid_to": "2025-06-30"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(g["standing"], "live");
    let (_, list) = t.get(&k, "/api/authorities").await;
    assert_eq!(list["received"][0]["id"], g["id"]);

    let (s, f) = t.submit(&k, "k-2", &declaration(2, "EVER GIVEN")).await;
    assert_eq!(s, StatusCode::CREATED, "{f}");
    // The consignee sees it, filed by the broker's user; the broker sees it too.
    let (s, d) = t.get(&a, &format!("/api/declarations/{}", f["id"])).await;
    assert_eq!(s, StatusCode::OK, "{d}");
    let actor = &d["events"][0]["event"]["actor"];
    assert_eq!(
        (
            actor["kind"].as_str(),
            actor["login"].as_str(),
            actor["broker"].as_str()
        ),
        (Some("broker"), Some("broker-k"), Some(K)),
        "{actor}"
    );
    let (s, _) = t.get(&k, &format!("/api/declarations/{}", f["id"])).await;
    assert_eq!(s, StatusCode::OK);
    let (_, mine) = t.get(&k, "/api/authorities/declarations").await;
    assert_eq!(mine[0]["id"], f["id"]);

    // Revoked by the consignee (the broker may not): the next filing is refused.
    let (s, _) = t
        .post(
            &k,
            &format!("/api/authorities/{}/revoke", g["id"]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, r) = t
        .post(
            &a,
            &format!("/api/authorities/{}/revoke", g["id"]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["standing"], "revoked");
    let before = t.count(&a).await;
    let (s, v) = t.submit(&k, "k-3", &declaration(3, "EVER GIVEN")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert_eq!(v["error"]["code"], "authority_revoked");
    assert!(v["error"]["message_en"]
        .as_str()
        .unwrap()
        .contains("revoked"));
    assert!(v["error"]["message_zh"].as_str().unwrap().contains("撤销"));
    assert_eq!(t.count(&a).await, before, "nothing written");
}

const RULE_SUSPECT: &str = r#"
rule SUSPECT-VESSEL
  office 0000
  valid from 2025-01-01
  priority 10
  when vessel = "SUSPECT"
  lane red
  inspection physical
  reason suspect_vessel "可疑船舶" "suspect vessel"
end
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_hit_case_seizure_penalty_downgrade_and_the_next_lane() {
    let t = TestApp::start().await;
    t.user("ent-a", Role::Enterprise, None, Some(A), &[]);
    t.user("hq-risk", Role::Hq, None, None, &[Duty::RiskAnalyst]);
    t.user(
        "pd-off",
        Role::Officer,
        Some("2233"),
        None,
        &[Duty::Reviewer],
    );
    t.user(
        "pd-jisi",
        Role::AntiSmuggling,
        Some("2233"),
        None,
        &[Duty::AntiSmuggling],
    );
    t.user(
        "sz-jisi",
        Role::AntiSmuggling,
        Some("5304"),
        None,
        &[Duty::AntiSmuggling],
    );
    let ent = t.login("ent-a").await;
    let hq = t.login("hq-risk").await;
    let off = t.login("pd-off").await;
    let js = t.login("pd-jisi").await;
    let sz = t.login("sz-jisi").await;

    // Sampling: nothing for the general class, everything red for the discredited one.
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            Some(&hq),
            "/api/risk/sampling",
            Some(
                json!({"seed": "parties-test", "expected_version": 0, "classes": [
                {"class": "general", "red_ppm": 0, "yellow_ppm": 0},
                {"class": "discredited", "red_ppm": 1000000, "yellow_ppm": 0}]}),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            Some(&hq),
            "/api/risk/rules",
            Some(json!({ "text": RULE_SUSPECT, "expected_version": 0 })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // Before: a general-class filing is green.
    let (s, before) = t.submit(&ent, "e-1", &declaration(1, "EVER GIVEN")).await;
    assert_eq!(s, StatusCode::CREATED, "{before}");
    assert_eq!(before["lane"], "green", "{before}");

    // The risk hit.
    let (_, hit) = t.submit(&ent, "e-2", &declaration(2, "SUSPECT")).await;
    assert_eq!(hit["lane"], "red", "{hit}");
    let ev = t.lane_event(&off, &hit["id"]).await;
    assert!(ev.to_string().contains("SUSPECT-VESSEL"), "{ev}");
    let dno = hit["declaration_no"].as_str().unwrap().to_owned();

    // Suspending without a case is refused; an officer of another office opens none here.
    let (s, v) = t
        .post(
            &js,
            &format!("/api/declarations/{}/suspend", hit["id"]),
            json!({"reason": "suspect vessel", "case_no": "JS-FREE"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let open = json!({"office": "2233", "origin": "risk_hit", "origin_ref": dno, "summary": "suspect vessel, undervalued laptops"});
    let (s, _) = t.post(&sz, "/api/cases", open.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t.post(&off, "/api/cases", open.clone()).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "a reviewer is not an anti-smuggling officer"
    );
    let (s, case) = t.post(&js, "/api/cases", open).await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    let id = case["id"].clone();
    let (s, _) = t.get(&sz, &format!("/api/cases/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = t
        .post(
            &js,
            &format!("/api/declarations/{}/suspend", hit["id"]),
            json!({"reason": "suspect vessel", "case_no": case["case_no"]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    let step = |body: Value| {
        let t = &t;
        let js = js.clone();
        let id = id.clone();
        async move { t.post(&js, &format!("/api/cases/{id}/steps"), body).await }
    };
    let (s, _) =
        step(json!({"step": "link", "kind": "declaration", "reference": dno, "note": "the hit"}))
            .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) =
        step(json!({"step": "link", "kind": "enterprise", "reference": A, "note": "consignee"}))
            .await;
    assert_eq!(s, StatusCode::OK);
    let (s, v) = step(json!({"step": "seize", "goods": "laptops", "quantity": "100", "unit": "台", "place": "Yangshan", "custody": "customs warehouse 3"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = step(json!({"step": "seize", "goods": "laptops", "quantity": "0", "unit": "台", "place": "Yangshan", "custody": "w"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["problems"][0]["message_zh"].as_str().is_some());
    let (s, v) = step(json!({"step": "penalize", "party": A, "kind": "smuggling", "amount_fen": 5000000, "basis": "Customs Law art. 82"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["penalties"][0]["credit"]["to"], "discredited", "{v}");
    let (s, v) = step(json!({"step": "record_payment", "penalty": 1, "bank": "BOC", "reference": "PAY-1", "amount_fen": 5000000})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, h) = t.get(&js, &format!("/api/credit-history/{A}")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(
        (h[0]["from"].as_str(), h[0]["to"].as_str()),
        (Some("general"), Some("discredited"))
    );

    // After: the next filing is sampled at the discredited class's rates.
    let (_, after) = t.submit(&ent, "e-3", &declaration(3, "EVER GIVEN")).await;
    assert_eq!(after["lane"], "red", "{after}");
    let ev = t.lane_event(&off, &after["id"]).await;
    assert_eq!(
        ev["explanation"]["sampling"]["credit_class"], "discredited",
        "{ev}"
    );

    // Every step is in the audit chain, which is intact.
    assert!(t.store.verify_audit().unwrap().is_intact());
    let (s, v) = step(json!({"step": "close", "conclusion": "penalized and paid"})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = step(json!({"step": "hearing", "held_on": "2025-03-11", "notes": "late"})).await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
}
