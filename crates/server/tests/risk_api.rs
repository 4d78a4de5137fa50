//! Black-box tests of risk management over HTTP (docs/RISK.md "API"): a real server on port 0
//! over a fresh data folder, the risk engine choosing lanes (the service's default).

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "test-password";
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
        let t = TestApp(
            common::Harness::start(|store, clock| {
                let svc = Clearance::new(store, common::refdata(), clock);
                svc.load_risk().unwrap();
                svc
            })
            .await,
        );
        t
    }

    fn user(&self, login: &str, role: Role, office: Option<&str>, duties: &[Duty]) {
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties: duties.to_vec(),
                office: office.map(|o| OfficeCode::parse(o).unwrap()),
                uscc: (role == Role::Enterprise).then(|| Uscc::parse(A).unwrap()),
                agency: (role == Role::Agency).then(|| "commerce".into()),
            })
            .unwrap();
    }

    async fn submit(&self, token: &str, seq: &str, body: &str) -> Value {
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
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json().await.unwrap()
    }

    /// The `lane_chosen` event of a declaration as `token` sees it.
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

fn declaration(variant: u32, vessel: &str) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = A.into();
    v["owner"]["uscc"] = A.into();
    v["declaration_office"] = "2200".into();
    v["entry_exit_office"] = "2200".into();
    v["contract_no"] = format!("R-{variant}").into();
    v["vessel"] = vessel.into();
    v.to_string()
}

const RULE_RED: &str = r#"
rule T1-TRADER
  office 0000
  valid from 2025-01-01
  priority 10
  when trader = "91310115MA1K4Q7B4Y"
  lane red
  inspection machine
  reason test_trader "测试企业" "test trader"
end
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_lanes_explanations_holds_classes_and_feedback() {
    let t = TestApp::start().await;
    t.user("ent", Role::Enterprise, None, &[]);
    t.user("hq-risk", Role::Hq, None, &[Duty::RiskAnalyst]);
    t.user("sh-risk", Role::Officer, Some("2200"), &[Duty::RiskAnalyst]);
    t.user(
        "sh-off",
        Role::Officer,
        Some("2200"),
        &[Duty::Reviewer, Duty::Inspector],
    );
    t.user("agency", Role::Agency, None, &[]);
    let ent = t.login("ent").await;
    let hq = t.login("hq-risk").await;
    let sh = t.login("sh-risk").await;
    let off = t.login("sh-off").await;
    let agency = t.login("agency").await;

    // Before any rule: no rule fires; the explanation still shows the sampling draw.
    let first = t.submit(&ent, "r-1", &declaration(1, "CA986")).await;
    let ev = t.lane_event(&off, &first["id"]).await;
    assert_eq!(ev["explanation"]["rules_fired"], json!([]));
    assert_eq!(ev["explanation"]["sampling"]["credit_class"], "general");

    // Invalid rules: 422 with every error, each with its line, field and both languages.
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            Some(&hq),
            "/api/risk/rules",
            Some(json!({"text": "rule X\n  office 0000\n  valid from 2025-01-01\n  when origin = \"US\" and colour = \"red\"\n  lane purple\n  reason r \"原因\" \"reason\"\nend\n"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let problems = v["error"]["problems"].as_array().unwrap();
    let fields: Vec<&str> = problems
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec!["line 4:17 rule X origin", "line 5:8 rule X lane"],
        "{v}"
    );
    for p in problems {
        assert!(p["field"].as_str().unwrap().starts_with("line "), "{p}");
        assert_eq!(p["code"], "rule_invalid");
        assert!(!p["message_zh"].as_str().unwrap().is_empty());
        assert!(!p["message_en"].as_str().unwrap().is_empty());
    }

    // Access: an office analyst may not own a national rule; enterprises, agencies and
    // officers without the duty may not read rules.
    let (s, _) = t
        .call(
            reqwest::Method::PUT,
            Some(&sh),
            "/api/risk/rules",
            Some(json!({ "text": RULE_RED })),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for token in [&ent, &agency, &off] {
        let (s, _) = t.get(token, "/api/risk/rules").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, _) = t.get(token, "/api/risk/report").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }

    // A valid rule, in force for the next declaration without a restart.
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            Some(&hq),
            "/api/risk/rules",
            Some(json!({ "text": RULE_RED, "expected_version": 0 })),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 1);
    assert_eq!(v["rules"][0]["id"], "T1-TRADER");
    // The office analyst sees the national rule as outside their scope.
    let (s, v) = t.get(&sh, "/api/risk/rules").await;
    assert_eq!(
        (s, v["rules_outside_scope"].clone()),
        (StatusCode::OK, json!(1))
    );
    // A stale version is refused.
    let (s, _) = t
        .call(
            reqwest::Method::PUT,
            Some(&hq),
            "/api/risk/rules",
            Some(json!({ "text": RULE_RED, "expected_version": 0 })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);

    let second = t.submit(&ent, "r-2", &declaration(2, "CA986")).await;
    assert_eq!(second["lane"], "red");
    assert_eq!(second["status"], "inspection");
    // The officer sees why, with the values the rule read.
    let ev = t.lane_event(&off, &second["id"]).await;
    let fired = &ev["explanation"]["rules_fired"][0];
    assert_eq!(fired["id"], "T1-TRADER");
    assert_eq!(fired["values"][0], json!({"field": "trader", "value": A}));
    assert_eq!(ev["inspection"], "machine");
    assert_eq!(ev["reasons"][0]["code"], "test_trader");
    // The enterprise sees the lane, not the explanation nor the rule's reason.
    let ev = t.lane_event(&ent, &second["id"]).await;
    assert_eq!(ev["lane"], "red");
    assert!(ev.get("explanation").is_none(), "{ev}");
    assert_eq!(
        ev["reasons"],
        json!([{"code": "lane_red", "message_zh": "查验", "message_en": "inspection"}])
    );
    let (_, whole) = t
        .get(&ent, &format!("/api/declarations/{}", second["id"]))
        .await;
    assert!(!whole.to_string().contains("T1-TRADER"), "{whole}");

    // Feedback: the inspection found undervaluation; the report counts it for the rule.
    let (s, v) = t
        .call(
            reqwest::Method::POST,
            Some(&off),
            &format!("/api/declarations/{}/inspection", second["id"]),
            Some(json!({"result": "discrepancy", "findings": [{"kind": "undervaluation", "field": "items[1].unit_price", "note": "invoice shows less"}]})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, report) = t.get(&sh, "/api/risk/report").await;
    assert_eq!(s, StatusCode::OK, "{report}");
    assert_eq!(report["decisions"], 2);
    let rule = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "T1-TRADER@1")
        .expect("the rule is reported");
    assert_eq!(
        (
            rule["fired"].clone(),
            rule["examined"].clone(),
            rule["found"].clone()
        ),
        (json!(1), json!(1), json!(1))
    );
    assert_eq!(rule["hit_rate_percent"], "100.00");
    assert_eq!(rule["findings"]["undervaluation"], 1);

    // Watch list: a vessel on hold suspends the next filing; the enterprise sees no case.
    let (s, _) = t
        .call(
            reqwest::Method::POST,
            Some(&ent),
            "/api/risk/watch-list",
            Some(json!({"kind": "vessel", "value": "SUSPECT", "lane": "red", "suspend": true, "case": "JS-7"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = t
        .call(
            reqwest::Method::POST,
            Some(&sh),
            "/api/risk/watch-list",
            Some(json!({"kind": "vessel", "value": "SUSPECT", "lane": "red", "suspend": true, "case": "JS-7"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let held = t.submit(&ent, "r-3", &declaration(3, "suspect")).await;
    assert_eq!(held["status"], "suspended");
    let (_, d) = t
        .get(&off, &format!("/api/declarations/{}", held["id"]))
        .await;
    let susp = d["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["event"])
        .find(|e| e["type"] == "suspended")
        .unwrap()
        .clone();
    assert_eq!(susp["case_no"], "JS-7");
    assert_eq!(susp["actor"]["component"], "risk");
    let (_, d) = t
        .get(&ent, &format!("/api/declarations/{}", held["id"]))
        .await;
    assert!(!d.to_string().contains("JS-7"), "{d}");

    // Credit class: an officer sets it; the next decision samples at the class's rates.
    let (s, _) = t
        .call(
            reqwest::Method::PUT,
            Some(&ent),
            &format!("/api/risk/credit-classes/{A}"),
            Some(json!({"class": "advanced_certified"})),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Outside an audit, the officer's decision is recorded with its reason: none, 422.
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            Some(&off),
            &format!("/api/risk/credit-classes/{A}"),
            Some(json!({"class": "advanced_certified"})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["problems"][0]["field"], "reason", "{v}");
    let (s, v) = t
        .call(
            reqwest::Method::PUT,
            Some(&off),
            &format!("/api/risk/credit-classes/{A}"),
            Some(json!({"class": "advanced_certified", "reason": "certified before Jinguan"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, h) = t.get(&off, &format!("/api/credit-history/{A}")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(h[0]["trigger"], "decision:certified before Jinguan", "{h}");
    let fourth = t.submit(&ent, "r-4", &declaration(4, "CA986")).await;
    let ev = t.lane_event(&off, &fourth["id"]).await;
    let sampling = &ev["explanation"]["sampling"];
    assert_eq!(sampling["credit_class"], "advanced_certified");
    assert_eq!(
        (sampling["red_ppm"].clone(), sampling["yellow_ppm"].clone()),
        (json!(2000), json!(3000))
    );
    assert_eq!(sampling["seed"], "jinguan-sampling-2025");

    // Price references refresh on request (nothing released yet); others may not.
    let (s, v) = t
        .call(
            reqwest::Method::POST,
            Some(&hq),
            "/api/risk/prices/refresh",
            None,
        )
        .await;
    assert_eq!(
        (s, v["references"].clone()),
        (StatusCode::OK, json!(0)),
        "{v}"
    );
    let (s, _) = t
        .call(
            reqwest::Method::POST,
            Some(&agency),
            "/api/risk/prices/refresh",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // The sampling policy an auditor needs to repeat a draw: the seed and the class's rates
    // recorded in the explanation above; for analysts and reviewers, not enterprises.
    let (s, v) = t.get(&hq, "/api/risk/sampling").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["seed"], sampling["seed"]);
    let aeo = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == "advanced_certified")
        .expect("every class is listed")
        .clone();
    assert_eq!(
        (aeo["red_ppm"].clone(), aeo["yellow_ppm"].clone()),
        (sampling["red_ppm"].clone(), sampling["yellow_ppm"].clone())
    );
    assert_eq!(aeo["intervention_ppm"], 5000);
    assert_eq!(v["classes"].as_array().unwrap().len(), 4);
    let (s, _) = t.get(&off, "/api/risk/sampling").await;
    assert_eq!(s, StatusCode::OK);
    for token in [&ent, &agency] {
        let (s, _) = t.get(token, "/api/risk/sampling").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }

    // Watch entries apply nationwide, but only the listing office or one above it lifts them:
    // the Shanghai analyst may not lift an HQ hold; HQ may lift Shanghai's.
    let (s, v) = t
        .call(
            reqwest::Method::POST,
            Some(&hq),
            "/api/risk/watch-list",
            Some(json!({"kind": "bill", "value": "999-12345675", "lane": "red", "suspend": true, "case": "JS-HQ-1"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let hq_entry = v["id"].as_i64().unwrap();
    let (_, list) = t.get(&sh, "/api/risk/watch-list").await;
    let sh_entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entry"]["case"] == "JS-7")
        .expect("the Shanghai entry is listed")["id"]
        .as_i64()
        .unwrap();
    let (s, v) = t
        .call(
            reqwest::Method::DELETE,
            Some(&sh),
            &format!("/api/risk/watch-list/{hq_entry}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = t
        .call(
            reqwest::Method::DELETE,
            Some(&ent),
            &format!("/api/risk/watch-list/{sh_entry}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // The HQ hold is still in force: a filing under that bill (the template's) is held.
    let held = t.submit(&ent, "r-5", &declaration(5, "CA986")).await;
    assert_eq!(held["status"], "suspended", "{held}");
    let (s, _) = t
        .call(
            reqwest::Method::DELETE,
            Some(&hq),
            &format!("/api/risk/watch-list/{sh_entry}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .call(
            reqwest::Method::DELETE,
            Some(&hq),
            &format!("/api/risk/watch-list/{hq_entry}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t
        .call(
            reqwest::Method::DELETE,
            Some(&hq),
            &format!("/api/risk/watch-list/{hq_entry}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = t.get(&hq, "/api/risk/watch-list").await;
    assert_eq!(list, json!([]));
    // A malformed id is a field error in both languages, not a bare 400.
    let (s, v) = t
        .call(
            reqwest::Method::DELETE,
            Some(&hq),
            "/api/risk/watch-list/abc",
            None,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let p = &v["error"]["problems"][0];
    assert_eq!(p["field"], "id", "{v}");
    assert!(p["message_zh"].as_str().unwrap().contains("abc"), "{v}");
    assert!(p["message_en"].as_str().unwrap().contains("abc"), "{v}");

    // The audit chain holds every risk write.
    let report = t.svc.store().verify_audit().unwrap();
    assert!(report.is_intact());
}

/// The sampling part of a declaration's explanation, as an officer sees it.
async fn sampling_of(t: &TestApp, token: &str, id: &Value) -> Value {
    t.lane_event(token, id).await["explanation"]["sampling"].clone()
}

/// `PUT /api/risk/sampling` (docs/RISK.md "Risk policy"): an HQ risk analyst publishes a seed
/// and sets a class's rates, versioned (409 on a stale version), every problem by field (422),
/// nobody else (403); the next declaration is drawn with it, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_policy_is_set_over_http_by_hq_analysts() {
    let t = TestApp::start().await;
    t.user("ent", Role::Enterprise, None, &[]);
    t.user("hq-risk", Role::Hq, None, &[Duty::RiskAnalyst]);
    t.user("hq-rev", Role::Hq, None, &[Duty::Reviewer]);
    t.user("sh-risk", Role::Officer, Some("2200"), &[Duty::RiskAnalyst]);
    t.user("sh-off", Role::Officer, Some("2200"), &[Duty::Reviewer]);
    t.user("agency", Role::Agency, None, &[]);
    let ent = t.login("ent").await;
    let hq = t.login("hq-risk").await;
    let hq_rev = t.login("hq-rev").await;
    let sh = t.login("sh-risk").await;
    let off = t.login("sh-off").await;
    let agency = t.login("agency").await;
    let put = |token: String, body: Value| {
        let t = &t;
        async move {
            t.call(
                reqwest::Method::PUT,
                Some(&token),
                "/api/risk/sampling",
                Some(body),
            )
            .await
        }
    };

    let (s, v) = t.get(&hq, "/api/risk/sampling").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["version"].clone(), v["set_by"].clone()),
        (json!(0), Value::Null)
    );

    let first = t.submit(&ent, "p-1", &declaration(1, "CA986")).await;
    let s1 = sampling_of(&t, &off, &first["id"]).await;
    assert_eq!(s1["seed"], v["seed"]);
    assert_eq!(s1["credit_class"], "general");

    // A seed under which the next two numbers draw well above the general class's 8 %.
    let no =
        domain::codes::DeclarationNo::parse(first["declaration_no"].as_str().unwrap()).unwrap();
    let next = |k: u32| {
        domain::codes::DeclarationNo::new(no.office(), no.year(), no.direction(), no.serial() + k)
            .unwrap()
    };
    let seed = (0..1_000)
        .map(|k| format!("hq-http-2025Q2-{k}"))
        .find(|s| {
            [next(1), next(2)]
                .iter()
                .all(|n| (100_000..900_000).contains(&app::risk_desk::draw_ppm(s, n)))
        })
        .unwrap();
    let d3 = app::risk_desk::draw_ppm(&seed, &next(2));

    let (s, v) = put(hq.clone(), json!({"seed": seed, "expected_version": 0})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["version"].clone(), v["seed"].clone()),
        (json!(1), json!(seed))
    );
    assert_eq!(v["set_by"], "officer:0000:hq-risk");
    let second = t.submit(&ent, "p-2", &declaration(2, "CA986")).await;
    assert_eq!(second["lane"], "green", "{second}");
    assert_eq!(
        sampling_of(&t, &off, &second["id"]).await["seed"],
        json!(seed)
    );

    // Stale: 409, nothing written.
    let (s, v) = put(
        hq.clone(),
        json!({"seed": "late", "classes": [{"class": "general", "red_ppm": 1000000, "yellow_ppm": 0}], "expected_version": 0}),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "version_conflict", "{v}");

    // Every problem by field, in both languages.
    let (s, v) = put(
        hq.clone(),
        json!({"seed": "", "classes": [
            {"class": "platinum", "red_ppm": 0, "yellow_ppm": 0},
            {"class": "general", "red_ppm": 600000, "yellow_ppm": 500000}
        ], "price_check": {"min_observations": 0, "max_ratio": "0.5", "min_robust_z": "3.5", "lane": "yellow", "inspection": "document"},
        "expected_version": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let problems = v["error"]["problems"].as_array().unwrap();
    let fields: Vec<&str> = problems
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "seed",
            "classes[0].class",
            "classes[1]",
            "price_check.min_observations"
        ],
        "{v}"
    );
    for p in problems {
        assert!(!p["message_zh"].as_str().unwrap().is_empty(), "{p}");
        assert!(!p["message_en"].as_str().unwrap().is_empty(), "{p}");
    }
    // Wrong types, unknown fields and a missing version are field errors too, never a 500.
    for (body, field, says) in [
        (
            json!({"seed": "s", "classes": [{"class": "general", "red_ppm": -1, "yellow_ppm": 0}], "expected_version": 1}),
            "classes[0].red_ppm",
            "-1",
        ),
        (
            json!({"seed": "s", "expected_version": 1, "colour": "red"}),
            "colour",
            "colour",
        ),
        (json!({"seed": "s"}), "", "expected_version"),
        (
            json!({"seed": "s", "price_check": {"min_observations": 5, "max_ratio": "0.5", "min_robust_z": "3.5", "lane": "purple", "inspection": "document"}, "expected_version": 1}),
            "price_check.lane",
            "purple",
        ),
    ] {
        let (s, v) = put(hq.clone(), body.clone()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body} {v}");
        let p = &v["error"]["problems"][0];
        assert_eq!(p["field"], field, "{body} {v}");
        assert!(
            p["message_en"].as_str().unwrap().contains(says),
            "{body} {v}"
        );
    }

    // Only HQ risk analysts: not an office analyst, an HQ reviewer, an enterprise, an agency.
    for token in [&sh, &hq_rev, &off, &ent, &agency] {
        let (s, v) = put(
            token.clone(),
            json!({"seed": "mine", "classes": [{"class": "general", "red_ppm": 1000000, "yellow_ppm": 0}], "expected_version": 1}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    }
    let (s, _) = t
        .call(
            reqwest::Method::PUT,
            None,
            "/api/risk/sampling",
            Some(json!({"seed": "x", "expected_version": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, v) = t.get(&hq, "/api/risk/sampling").await;
    assert_eq!(
        (v["version"].clone(), v["seed"].clone()),
        (json!(1), json!(seed))
    );

    // Version 2 raises the general class's red rate above the third filing's draw, which the
    // old rates left green: it is now sampled red.
    let (s, v) = put(
        hq.clone(),
        json!({"seed": seed, "classes": [{"class": "general", "red_ppm": d3 + 1, "yellow_ppm": 0}], "expected_version": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["version"], 2);
    let third = t.submit(&ent, "p-3", &declaration(3, "CA986")).await;
    assert_eq!(third["declaration_no"], json!(next(2).to_string()));
    assert_eq!(third["lane"], "red", "{third}");
    let s3 = sampling_of(&t, &off, &third["id"]).await;
    assert_eq!(
        (
            s3["seed"].clone(),
            s3["draw_ppm"].clone(),
            s3["red_ppm"].clone(),
            s3["lane"].clone()
        ),
        (json!(seed), json!(d3), json!(d3 + 1), json!("red"))
    );
    let (s, v) = t.get(&off, "/api/risk/sampling").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["version"], 2);

    // The history, for those who may read the policy.
    let (s, h) = t.get(&hq, "/api/risk/sampling/history").await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert_eq!(
        h.as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].clone())
            .collect::<Vec<_>>(),
        vec![json!(2), json!(1)]
    );
    assert_eq!(
        h[0]["policy"]["sampling"]["general"]["red_ppm"],
        json!(d3 + 1)
    );
    let (s, _) = t.get(&ent, "/api/risk/sampling/history").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert!(t.svc.store().verify_audit().unwrap().is_intact());
}
