//! Black-box tests of AEO certification and credit management over HTTP (docs/PARTIES.md "AEO
//! certification"): a real server on port 0 over a fresh data folder, the risk engine choosing
//! lanes.
//!
//! - An enterprise applies → reviewers of its office audit it standard by standard → the
//!   decision (advanced) follows from the audit → the next filing is sampled at the advanced
//!   class's rates, and its export to a mutual-recognition partner shows the partner.
//! - An overdue payment notice, a case opened against the enterprise and a penalty each take
//!   the class down, with the history; a refused audit leaves the class as it was.
//! - Bad input answers 4xx in both languages and writes nothing; another enterprise and an
//!   officer of another office get 404.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::Store;

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
                let svc = Clearance::new(store, common::refdata(), clock);
                svc.load_risk().unwrap();
                svc
            })
            .await,
        );
        t.user("ent-a", Role::Enterprise, None, Some(A), &[]);
        t.user("ent-b", Role::Enterprise, None, Some(B), &[]);
        t.user(
            "ent-a-decl",
            Role::Enterprise,
            None,
            Some(A),
            &[Duty::Declarant],
        );
        t.user(
            "pd-off",
            Role::Officer,
            Some("2233"),
            None,
            &[Duty::Reviewer],
        );
        t.user(
            "sh-chief",
            Role::Officer,
            Some("2200"),
            None,
            &[Duty::Reviewer],
        );
        t.user(
            "sz-off",
            Role::Officer,
            Some("5304"),
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
        t.user("hq-risk", Role::Hq, None, None, &[Duty::RiskAnalyst]);
        t
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

    /// Sampling: the general class always red, the certified classes never.
    async fn sampling(&self) {
        let hq = self.login("hq-risk").await;
        let (s, v) = self
            .call(
                reqwest::Method::PUT,
                Some(&hq),
                "/api/risk/sampling",
                Some(
                    json!({"seed": "aeo-test", "expected_version": 0, "classes": [
                    {"class": "general", "red_ppm": 1000000, "yellow_ppm": 0},
                    {"class": "general_certified", "red_ppm": 0, "yellow_ppm": 0},
                    {"class": "advanced_certified", "red_ppm": 0, "yellow_ppm": 0},
                    {"class": "discredited", "red_ppm": 1000000, "yellow_ppm": 0}]}),
                ),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }

    async fn standards(&self, token: &str) -> Vec<Value> {
        let (s, v) = self.get(token, "/api/aeo/standards").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["standards"].as_array().unwrap().clone()
    }

    /// Score every standard of the certificate's checklist (`fails` for the codes given).
    async fn score_all(&self, off: &str, cert: Value, fails: &[&str]) -> Value {
        let level = cert["rounds"].as_array().unwrap().last().unwrap()["level"]
            .as_str()
            .unwrap()
            .to_owned();
        let mut cert = cert;
        for std in self.standards(off).await {
            if level == "general" && std["general"] == false {
                continue;
            }
            let code = std["code"].as_str().unwrap();
            let failed = fails.contains(&code);
            let (s, v) = self
                .post(
                    off,
                    &format!("/api/aeo/applications/{}/steps", cert["id"]),
                    json!({"step": "score", "expected_version": cert["version"], "standard": code,
                        "result": if failed { "fails" } else { "meets" },
                        "finding": if failed { "not met" } else { "" }}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
            cert = v;
        }
        cert
    }

    async fn decide(&self, off: &str, cert: &Value, outcome: &str) -> (StatusCode, Value) {
        self.post(
            off,
            &format!("/api/aeo/applications/{}/steps", cert["id"]),
            json!({"step": "decide", "expected_version": cert["version"], "outcome": outcome,
                "reason": "as the audit found"}),
        )
        .await
    }

    /// An enterprise applies at 2233 and is certified at `level` by `pd-off`.
    async fn certify(&self, ent: &str, level: &str) -> Value {
        let off = self.login("pd-off").await;
        let (s, c) = self
            .post(
                ent,
                "/api/aeo/applications",
                json!({"level": level, "office": "2233"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let c = self.score_all(&off, c, &[]).await;
        let (s, c) = self.decide(&off, &c, &format!("{level}_certified")).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        c
    }

    async fn class(&self, token: &str, uscc: &str) -> String {
        let (s, v) = self.get(token, &format!("/api/credit/{uscc}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["class"].as_str().unwrap().to_owned()
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

fn import(uscc: &str, n: u32) -> String {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = uscc.into();
    v["owner"]["uscc"] = uscc.into();
    v["trader"]["customs_code"] = Value::Null;
    v["contract_no"] = format!("AEO-{n}").into();
    v.to_string()
}

fn export_to(uscc: &str, country: &str) -> String {
    let mut v: Value = serde_json::from_str(app::demo::EXPORT_TEMPLATE).unwrap();
    for party in ["trader", "owner"] {
        v[party]["uscc"] = uscc.into();
        v[party]["name"] = "上海示例电子贸易有限公司".into();
    }
    v["trader"]["customs_code"] = Value::Null;
    v["trading_country"] = country.into();
    v["dispatch_country"] = country.into();
    v.as_object_mut().unwrap().remove("destination_port");
    for item in v["items"].as_array_mut().unwrap() {
        item["destination_country"] = country.into();
    }
    v.to_string()
}

fn both_languages(v: &Value) {
    let e = &v["error"];
    let zh = e["message_zh"].as_str().unwrap_or_default();
    let en = e["message_en"].as_str().unwrap_or_default();
    assert!(!zh.is_empty() && !en.is_empty(), "{v}");
    for p in e["problems"].as_array().into_iter().flatten() {
        assert!(
            p["message_zh"].as_str().is_some_and(|s| !s.is_empty()),
            "{v}"
        );
        assert!(
            p["message_en"].as_str().is_some_and(|s| !s.is_empty()),
            "{v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_audit_decide_and_the_next_filing_samples_at_the_new_class() {
    let t = TestApp::start().await;
    t.sampling().await;
    let ent = t.login("ent-a").await;
    let other = t.login("ent-b").await;
    let off = t.login("pd-off").await;
    let sz = t.login("sz-off").await;

    // Before: the general class, sampled red.
    let (s, before) = t.submit(&ent, "a-1", &import(A, 1)).await;
    assert_eq!(s, StatusCode::CREATED, "{before}");
    assert_eq!(before["lane"], "red", "{before}");

    // Without a registration, the auditing office is named.
    let (s, v) = t
        .post(&ent, "/api/aeo/applications", json!({"level": "advanced"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["problems"][0]["field"], "office");
    both_languages(&v);
    let (s, c) = t
        .post(
            &ent,
            "/api/aeo/applications",
            json!({"level": "advanced", "office": "2233"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["status"], "applied");
    let id = c["id"].clone();
    // Another enterprise and a reviewer of another office do not see it; the holder takes no
    // officer's step.
    let (s, _) = t.get(&other, &format!("/api/aeo/applications/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t.get(&sz, &format!("/api/aeo/applications/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let score = json!({"step": "score", "standard": "IC-1", "result": "meets", "finding": ""});
    let (s, _) = t
        .post(
            &sz,
            &format!("/api/aeo/applications/{id}/steps"),
            score.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, v) = t
        .post(&ent, &format!("/api/aeo/applications/{id}/steps"), score)
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, list) = t.get(&off, "/api/aeo/applications?status=applied").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (s, list) = t.get(&sz, "/api/aeo/applications").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert!(list.as_array().unwrap().is_empty());

    // The audit, standard by standard; the decision must be the audit's.
    let c = t.score_all(&off, c, &[]).await;
    assert_eq!(c["status"], "in_audit");
    assert_eq!(c["outcome"], "advanced_certified", "{c}");
    assert_eq!(c["score"], 100);
    let (s, v) = t.decide(&off, &c, "general_certified").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    both_languages(&v);
    let (s, c) = t.decide(&off, &c, "advanced_certified").await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "certified");
    assert_eq!(c["valid_until"], "2030-03-10");

    // The class binds: the enterprise's standing, and the next filing's sampling.
    let (s, standing) = t.get(&ent, &format!("/api/credit/{A}")).await;
    assert_eq!(s, StatusCode::OK, "{standing}");
    assert_eq!(standing["class"], "advanced_certified");
    assert_eq!(
        standing["history"][0]["trigger"],
        format!("aeo:{id}/1"),
        "{standing}"
    );
    let (s, _) = t.get(&other, &format!("/api/credit/{A}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, after) = t.submit(&ent, "a-2", &import(A, 2)).await;
    assert_eq!(s, StatusCode::CREATED, "{after}");
    assert_eq!(after["lane"], "green", "{after}");
    let ev = t.lane_event(&off, &after["id"]).await;
    assert_eq!(
        ev["explanation"]["sampling"]["credit_class"], "advanced_certified",
        "{ev}"
    );

    // Mutual recognition: an export to Singapore shows the partner; an import none.
    let (s, exp) = t.submit(&ent, "a-3", &export_to(A, "SGP")).await;
    assert_eq!(s, StatusCode::CREATED, "{exp}");
    let (_, d) = t
        .get(&ent, &format!("/api/declarations/{}", exp["id"]))
        .await;
    assert_eq!(d["mutual_recognition"]["country"], "SGP", "{d}");
    let (_, d) = t
        .get(&ent, &format!("/api/declarations/{}", after["id"]))
        .await;
    assert!(d["mutual_recognition"].is_null(), "{d}");
    let (s, p) = t.get(&ent, "/api/aeo/mra-partners").await;
    assert_eq!(s, StatusCode::OK);
    assert!(p["partners"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["country"] == "KOR"));
    assert!(t.store.verify_audit().unwrap().is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_case_and_penalty_downgrade_with_history() {
    let t = TestApp::start().await;
    t.sampling().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let chief = t.login("sh-chief").await;
    let sz = t.login("sz-off").await;
    t.certify(&a, "advanced").await;
    t.certify(&b, "general").await;
    assert_eq!(t.class(&chief, A).await, "advanced_certified");
    assert_eq!(t.class(&chief, B).await, "general_certified");

    // An import assessed at filing (green: certified), its notices left unpaid.
    let (s, d) = t.submit(&a, "o-1", &import(A, 10)).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["lane"], "green", "{d}");
    // Nothing overdue yet.
    let (s, v) = t
        .post(&chief, "/api/credit/overdue-review", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["changes"].as_array().unwrap().is_empty(), "{v}");
    // A reviewer of a subordinate office decides no class.
    let (s, v) = t.post(&sz, "/api/credit/overdue-review", json!({})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    both_languages(&v);
    // Thirty days on, the notices are past due unpaid: certified → general.
    t.clock.advance(chrono::Duration::days(30));
    // Sessions do not last thirty days: sign in again.
    let (a, b, chief, js) = (
        t.login("ent-a").await,
        t.login("ent-b").await,
        t.login("sh-chief").await,
        t.login("pd-jisi").await,
    );
    let (s, v) = t
        .post(&chief, "/api/credit/overdue-review", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{v}");
    assert_eq!(changes[0]["uscc"], A);
    assert_eq!(
        (changes[0]["from"].as_str(), changes[0]["to"].as_str()),
        (Some("advanced_certified"), Some("general"))
    );
    assert!(changes[0]["trigger"]
        .as_str()
        .unwrap()
        .starts_with("overdue:"));
    let (_, standing) = t.get(&a, &format!("/api/credit/{A}")).await;
    assert_eq!(standing["class"], "general");
    assert_eq!(standing["history"].as_array().unwrap().len(), 2);
    assert_eq!(standing["certifications"][0]["status"], "withdrawn");
    // Once general, a second review changes nothing.
    let (_, v) = t
        .post(&chief, "/api/credit/overdue-review", json!({}))
        .await;
    assert!(v["changes"].as_array().unwrap().is_empty(), "{v}");
    // The next filing is sampled at the general class's rates again.
    let (_, next) = t.submit(&a, "o-2", &import(A, 11)).await;
    assert_eq!(next["lane"], "red", "{next}");

    // A case opened against B (linked): general certified → general, the case the trigger;
    // then a smuggling penalty: discredited.
    let (s, case) = t
        .post(
            &js,
            "/api/cases",
            json!({"office": "2233", "origin": "referral", "origin_ref": "ref-9", "summary": "s"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{case}");
    let cid = case["id"].clone();
    let (s, v) = t
        .post(
            &js,
            &format!("/api/cases/{cid}/steps"),
            json!({"step": "link", "kind": "enterprise", "reference": B, "note": "party"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(t.class(&js, B).await, "general");
    let (s, v) = t
        .post(
            &js,
            &format!("/api/cases/{cid}/steps"),
            json!({"step": "penalize", "party": B, "kind": "smuggling", "amount_fen": 100000, "basis": "art. 82"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, h) = t.get(&js, &format!("/api/credit-history/{B}")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    let triggers: Vec<&str> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(triggers.len(), 3, "{h}");
    assert!(triggers[0].starts_with("aeo:"), "{h}");
    assert_eq!(
        triggers[1],
        format!("case:{}", case["case_no"].as_str().unwrap())
    );
    assert!(triggers[2].starts_with("penalty:"), "{h}");
    assert_eq!(h[2]["to"], "discredited");
    // A discredited enterprise applies for nothing (409, both languages).
    let (s, v) = t
        .post(
            &b,
            "/api/aeo/applications",
            json!({"level": "general", "office": "2233"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "discredited");
    both_languages(&v);
    assert!(t.store.verify_audit().unwrap().is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_audit_leaves_the_class_and_bad_input_writes_nothing() {
    let t = TestApp::start().await;
    let ent = t.login("ent-a").await;
    let decl = t.login("ent-a-decl").await;
    let off = t.login("pd-off").await;

    // Bad applications: 4xx in both languages, nothing written.
    for body in [
        json!({"level": "gold", "office": "2233"}),
        json!({"level": "advanced", "office": "9999"}),
        json!({"level": "advanced", "office": "2233", "extra": 1}),
    ] {
        let (s, v) = t.post(&ent, "/api/aeo/applications", body).await;
        assert!(s.is_client_error(), "{s} {v}");
        both_languages(&v);
    }
    // A declarant is not the enterprise's administrator.
    let (s, v) = t
        .post(
            &decl,
            "/api/aeo/applications",
            json!({"level": "advanced", "office": "2233"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (_, list) = t.get(&ent, "/api/aeo/applications").await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");

    let (s, c) = t
        .post(
            &ent,
            "/api/aeo/applications",
            json!({"level": "advanced", "office": "2233"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    let (s, v) = t
        .post(
            &ent,
            "/api/aeo/applications",
            json!({"level": "general", "office": "2233"}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "certification_open");
    let id = c["id"].clone();
    let steps = format!("/api/aeo/applications/{id}/steps");
    for (body, status, field) in [
        (
            json!({"step": "score", "standard": "XX-1", "result": "meets", "finding": ""}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("standard"),
        ),
        (
            json!({"step": "score", "standard": "FS-1", "result": "basically_meets", "finding": " "}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("finding"),
        ),
        (
            json!({"step": "score", "standard": "FS-1", "result": "excellent", "finding": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
        ),
        (
            json!({"step": "decide", "outcome": "advanced_certified", "reason": "early"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("items"),
        ),
        (
            json!({"step": "score", "expected_version": 7, "standard": "FS-1", "result": "meets", "finding": ""}),
            StatusCode::CONFLICT,
            None,
        ),
        (
            json!({"step": "reassess", "reason": "not certified"}),
            StatusCode::CONFLICT,
            None,
        ),
    ] {
        let (s, v) = t.post(&off, &steps, body.clone()).await;
        assert_eq!(s, status, "{body}: {v}");
        both_languages(&v);
        if let Some(f) = field {
            assert_eq!(v["error"]["problems"][0]["field"], f, "{v}");
        }
    }
    let (_, now) = t.get(&off, &format!("/api/aeo/applications/{id}")).await;
    assert_eq!(now["version"], 1, "nothing written: {now}");

    // A mandatory standard failed: refused, and the class stays as it was.
    let c = t.score_all(&off, now, &["LC-3"]).await;
    assert_eq!(c["outcome"], "refused", "{c}");
    let (s, v) = t.decide(&off, &c, "advanced_certified").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, c) = t.decide(&off, &c, "refused").await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "refused");
    let (_, standing) = t.get(&ent, &format!("/api/credit/{A}")).await;
    assert_eq!(standing["class"], "general", "{standing}");
    assert!(standing["history"].as_array().unwrap().is_empty());
    // A refused certificate takes no further step; a new application is allowed.
    let (s, _) = t.decide(&off, &c, "refused").await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, v) = t
        .post(
            &ent,
            "/api/aeo/applications",
            json!({"level": "general", "office": "2233"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(t.store.verify_audit().unwrap().is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_names_every_missing_field_and_is_rate_limited() {
    let t = TestApp::start().await;
    let (s, v) = t
        .call(
            reqwest::Method::POST,
            None,
            "/api/registrations/sign-up",
            Some(json!({})),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    both_languages(&v);
    let fields: Vec<&str> = v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "kind",
            "uscc",
            "office",
            "name",
            "address",
            "contact",
            "zone",
            "economic_type",
            "admin_login",
            "admin_password"
        ]
    );
    // Sign-ups for one login: after the free attempts, 429 with Retry-After.
    let bad = json!({"kind": "consignee", "uscc": "NOT-A-USCC", "office": "2200", "name": "n",
        "address": "a", "contact": "c", "zone": "9", "economic_type": "6",
        "admin_login": "flood", "admin_password": "Str0ng-passw0rd!"});
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let resp = t
            .client
            .post(format!("{}/api/registrations/sign-up", t.base))
            .json(&bad)
            .send()
            .await
            .unwrap();
        statuses.push((resp.status(), resp.headers().contains_key("retry-after")));
    }
    assert!(
        statuses[..5]
            .iter()
            .all(|(s, _)| *s == StatusCode::UNPROCESSABLE_ENTITY),
        "{statuses:?}"
    );
    assert_eq!(
        statuses[6],
        (StatusCode::TOO_MANY_REQUESTS, true),
        "{statuses:?}"
    );
}

/// `jinguan serve`'s hourly sweep runs the same overdue review without an officer: a
/// certified enterprise with a notice past its due date unpaid is downgraded, the system
/// named as the actor of its history row; run again, it changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_sweep_downgrades_overdue_enterprises_without_an_officer() {
    let t = TestApp::start().await;
    t.sampling().await;
    let a = t.login("ent-a").await;
    let chief = t.login("sh-chief").await;
    t.certify(&a, "advanced").await;
    let (s, d) = t.submit(&a, "sweep-1", &import(A, 21)).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");

    // Not yet due: the sweep changes nothing.
    let svc = t.svc.clone();
    let early = tokio::task::spawn_blocking(move || svc.aeo().overdue_sweep())
        .await
        .unwrap()
        .unwrap();
    assert!(early.changes.is_empty(), "{:?}", early.changes);
    assert_eq!(t.class(&chief, A).await, "advanced_certified");

    t.clock.advance(chrono::Duration::days(30));
    let svc = t.svc.clone();
    let swept = tokio::task::spawn_blocking(move || svc.aeo().overdue_sweep())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(swept.changes.len(), 1, "{:?}", swept.changes);
    let chief = t.login("sh-chief").await;
    assert_eq!(t.class(&chief, A).await, "general");
    let (s, h) = t.get(&chief, &format!("/api/credit-history/{A}")).await;
    assert_eq!(s, StatusCode::OK, "{h}");
    let last = h.as_array().unwrap().last().unwrap().clone();
    assert!(
        last["trigger"].as_str().unwrap().starts_with("overdue:"),
        "{h}"
    );
    let by_sweep = || -> i64 {
        let c = rusqlite::Connection::open(t.store.path()).unwrap();
        c.query_row(
            "SELECT count(*) FROM audit_log WHERE actor LIKE '%credit-overdue-sweep%'",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let recorded = by_sweep();
    assert!(recorded >= 1, "the system is the actor of the downgrade");
    let svc = t.svc.clone();
    let again = tokio::task::spawn_blocking(move || svc.aeo().overdue_sweep())
        .await
        .unwrap()
        .unwrap();
    assert!(again.changes.is_empty(), "{:?}", again.changes);
    assert_eq!(by_sweep(), recorded, "nothing written the second time");
}
