//! Black-box tests of transport and cargo control over HTTP: a real server on port 0 over a fresh
//! data folder, with cargo control enabled (docs/CARGO.md "Wiring").

mod common;

use std::sync::Arc;

use app::cargo_desk::{CargoDesk, CargoPolicy};
use app::{Clearance, Duty, NewUserRequest, Role};
use chrono::{TimeZone, Utc};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PASSWORD: &str = "test-password";
/// Yellow lane (a recent discrepancy): officers review and assess.
const Y: &str = "91310000132149237G";
const CARRIER: &str = "91110000600037341L";
const OTHER_CARRIER: &str = "91440300MA5FT3XKX8";

struct T(common::Harness);

impl std::ops::Deref for T {
    type Target = common::Harness;
    fn deref(&self) -> &common::Harness {
        &self.0
    }
}

impl T {
    async fn start() -> T {
        let t = T(common::Harness::start(|store, clock| {
            let desk = Arc::new(CargoDesk::open(store.clone(), CargoPolicy::default()).unwrap());
            Clearance::new(store, common::refdata(), clock)
                .with_registry(Box::new(common::general_class(Y)))
                .with_cargo(desk)
        })
        .await);
        t
    }

    async fn user(
        &self,
        login: &str,
        role: Role,
        office: Option<&str>,
        uscc: Option<&str>,
    ) -> String {
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties: if matches!(role, Role::Officer) {
                    vec![Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer]
                } else {
                    vec![]
                },
                office: office.map(|o| OfficeCode::parse(o).unwrap()),
                uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
                agency: None,
            })
            .unwrap();
        self.login(login).await
    }

    /// Sessions last 8 hours of the test clock: sign in again after moving it.
    async fn login(&self, login: &str) -> String {
        let (s, r) = self
            .post(
                None,
                "/api/session",
                json!({"login": login, "password": PASSWORD}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        r["token"].as_str().unwrap().to_owned()
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !status.is_success() {
            let e = &v["error"];
            assert!(e["code"].is_string() && e["problems"].is_array(), "{text}");
        }
        (status, v)
    }

    async fn post(&self, token: Option<&str>, path: &str, body: Value) -> (StatusCode, Value) {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req).await
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(token),
        )
        .await
    }

    async fn submit(&self, token: &str, seq: &str, body: &Value) -> (StatusCode, Value) {
        self.send(
            self.client
                .post(format!("{}/api/declarations", self.base))
                .bearer_auth(token)
                .header("content-type", "application/json")
                .header("client-seq-no", seq)
                .body(body.to_string()),
        )
        .await
    }

    /// Review and assess (when the lane asks for it), pay every notice, release: the
    /// declaration's notices at release.
    async fn clear(&self, off: &str, ent: &str, id: i64) -> Vec<Value> {
        let step = |n: &str| format!("/api/declarations/{id}/{n}");
        let (_, d) = self.get(ent, &format!("/api/declarations/{id}")).await;
        if d["state"]["status"] == "document_review" {
            let (s, r) = self
                .post(Some(off), &step("review"), json!({"result": "conform"}))
                .await;
            assert_eq!(s, StatusCode::OK, "{r}");
            let (s, r) = self.post(Some(off), &step("assess"), json!({})).await;
            assert_eq!(s, StatusCode::OK, "{r}");
        }
        let (_, d) = self.get(ent, &format!("/api/declarations/{id}")).await;
        let notices = d["notices"].as_array().unwrap().clone();
        for n in &notices {
            self.0
                .pay_through_bank(ent, n["notice_no"].as_str().unwrap())
                .await;
        }
        let (s, r) = self.post(Some(off), &step("release"), json!({})).await;
        assert_eq!(
            (s, r["status"].as_str()),
            (StatusCode::OK, Some("released")),
            "{r}"
        );
        notices
    }
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

fn manifest(id: &str, direction: &str, bills: Value) -> Value {
    json!({
        "manifest_id": id,
        "kind": "original",
        "voyage": {
            "means": {"mode": "flight", "flight_no": "CA986"},
            "voyage_no": "20250308",
            "direction": direction,
            "office": "2233"
        },
        "bills": bills
    })
}

fn bill(no: &str, packages: u32, weight: &str) -> Value {
    json!({"bill_no": no, "kind": {"kind": "master"},
        "lines": [{"packages": packages, "package_type": "CT", "gross_weight_kg": weight, "description": "laptops"}]})
}

fn codes(problems: &Value) -> Vec<String> {
    problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_declaration_release_write_off_and_refusals() {
    let t = T::start().await;
    let carrier = t.user("ca", Role::Carrier, None, Some(CARRIER)).await;
    let other = t.user("cb", Role::Carrier, None, Some(OTHER_CARRIER)).await;
    let ent = t.user("ent", Role::Enterprise, None, Some(Y)).await;
    let off = t.user("pd", Role::Officer, Some("2233"), None).await;
    let parent = t.user("sh", Role::Officer, Some("2200"), None).await;
    let sibling = t.user("nj", Role::Officer, Some("2300"), None).await;

    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests",
            manifest(
                "MF-1",
                "import",
                json!([bill("999-12345675", 10, "260"), bill("LATE-1", 4, "300")]),
            ),
        )
        .await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::CREATED, Some("original")),
        "{r}"
    );
    // Enterprises and officers do not file manifests.
    let (s, _) = t
        .post(
            Some(&ent),
            "/api/manifests",
            manifest("MF-2", "import", json!([bill("X-1", 1, "1")])),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Before the arrival report: rejected at automatic review, with the reason.
    let (s, r) = t
        .submit(&ent, "s-0", &import("999-12345675", 10, "260.5"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(codes(&r["error"]["problems"]), ["manifest_not_arrived"]);

    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests/MF-1/arrival",
            json!({"at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("arrived")),
        "{r}"
    );

    // Packages and weight disagree: both reasons; an unknown bill: its reason.
    let (s, r) = t
        .submit(&ent, "s-1", &import("999-12345675", 12, "400"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(
        codes(&r["error"]["problems"]),
        ["packages_differ", "weight_beyond_tolerance"]
    );
    let (s, r) = t.submit(&ent, "s-2", &import("NOPE-1", 10, "260")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes(&r["error"]["problems"]), ["bill_unknown"]);

    // Agreeing (260.5 kg against 260 kg: within 5 kg): accepted and matched.
    let (s, filed) = t
        .submit(&ent, "s-3", &import("999-12345675", 10, "260.5"))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    let id = filed["id"].as_i64().unwrap();
    let (_, m) = t.get(&off, "/api/manifests/MF-1").await;
    let b0 = &m["balance"]["bills"][0];
    assert_eq!(
        (b0["position"].as_str(), b0["declared_packages"].as_u64()),
        (Some("declared"), Some(10))
    );
    // A second declaration on the same bill finds nothing left.
    let (s, r) = t
        .submit(&ent, "s-4", &import("999-12345675", 10, "260.5"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(codes(&r["error"]["problems"]), ["packages_differ"]);

    let notices = t.clear(&off, &ent, id).await;
    assert!(
        notices.iter().all(|n| n["tax"] != "late_declaration_fee"),
        "declared on time: no fee"
    );
    let (_, m) = t.get(&carrier, "/api/manifests/MF-1").await;
    let b0 = &m["balance"]["bills"][0];
    assert_eq!(
        (b0["position"].as_str(), b0["written_off_packages"].as_u64()),
        (Some("written_off"), Some(10))
    );
    assert_eq!(m["balance"]["undeclared"], json!(["LATE-1"]));

    // Who sees the manifest: its carrier, officers of 2233 and of 2200; not another carrier,
    // a sibling office or an enterprise (404, not 403).
    for (who, want) in [
        (&carrier, StatusCode::OK),
        (&off, StatusCode::OK),
        (&parent, StatusCode::OK),
        (&other, StatusCode::NOT_FOUND),
        (&sibling, StatusCode::NOT_FOUND),
        (&ent, StatusCode::NOT_FOUND),
    ] {
        assert_eq!(t.get(who, "/api/manifests/MF-1").await.0, want);
    }
    let (_, list) = t.get(&other, "/api/manifests").await;
    assert_eq!(list, json!([]));
    // Another carrier may not amend it; its own carrier may.
    let (s, _) = t
        .post(
            Some(&other),
            "/api/manifests/MF-1/amendment",
            json!({"reason": "x", "bills": [bill("999-12345675", 10, "260")]}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // 14 days later (+ weekend shift): LATE-1 is on the officers' list; carriers may not list.
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 4, 2, 2, 0, 0).unwrap());
    let (off, ent, sibling, carrier) = (
        t.login("pd").await,
        t.login("ent").await,
        t.login("nj").await,
        t.login("ca").await,
    );
    let (s, late) = t.get(&off, "/api/manifests/late-bills").await;
    assert_eq!(s, StatusCode::OK, "{late}");
    assert_eq!(late.as_array().unwrap().len(), 1);
    assert_eq!(late[0]["bill_no"], "LATE-1");
    assert!(late[0]["days"].as_i64().unwrap() > 0);
    // An ordinary bill counts from the arrival at the office of entry, and says so.
    assert_eq!(late[0]["counted_from"]["from"], "entry_arrival", "{late}");
    assert_eq!(late[0]["counted_from"]["office"], "2233", "{late}");
    assert!(
        late[0]["explanation_zh"]
            .as_str()
            .unwrap()
            .contains("运输工具申报进境之日"),
        "{late}"
    );
    assert!(
        late[0]["explanation_en"]
            .as_str()
            .unwrap()
            .contains("office of entry 2233"),
        "{late}"
    );
    assert_eq!(
        t.get(&sibling, "/api/manifests/late-bills").await.1,
        json!([])
    );
    assert_eq!(
        t.get(&carrier, "/api/manifests/late-bills").await.0,
        StatusCode::FORBIDDEN
    );
    // Declared late: the fee is charged as a payment notice at assessment.
    let (s, filed) = t.submit(&ent, "s-5", &import("LATE-1", 4, "300")).await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    let notices = t.clear(&off, &ent, filed["id"].as_i64().unwrap()).await;
    assert!(
        notices.iter().any(|n| n["tax"] == "late_declaration_fee"),
        "{notices:?}"
    );
    let (_, late) = t.get(&off, "/api/manifests/late-bills").await;
    assert_eq!(late, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_confirmation_closes_the_export() {
    let t = T::start().await;
    let carrier = t.user("ca", Role::Carrier, None, Some(CARRIER)).await;
    let ent = t.user("ent", Role::Enterprise, None, Some(Y)).await;
    let off = t.user("pd", Role::Officer, Some("2233"), None).await;
    let mut v: Value =
        serde_json::from_str(include_str!("../../../examples/export-shoes.json")).unwrap();
    v["trader"]["uscc"] = Y.into();
    v["owner"]["uscc"] = Y.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    let bill_no = v["bill_no"].as_str().unwrap().to_owned();
    let mut m = manifest("MF-X", "export", json!([bill(&bill_no, 400, "5200")]));
    m["kind"] = "pre_load".into();
    let (s, r) = t.post(Some(&carrier), "/api/manifests", m).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, filed) = t.submit(&ent, "x-1", &v).await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    let id = filed["id"].as_i64().unwrap();
    t.clear(&off, &ent, id).await;
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests/MF-X/departure",
            json!({"at": "2025-03-10T01:30:00Z"}),
        )
        .await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("departed")),
        "{r}"
    );
    assert_eq!(r["closed"], json!([filed["declaration_no"]]));
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    assert_eq!(d["state"]["status"], "closed");
}

/// Declared before the carrier filed the pre-load manifest (accepted unmatched), released after:
/// matched and written off at release, so the departure closes it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_declared_before_its_manifest_is_closed_at_departure() {
    let t = T::start().await;
    let carrier = t.user("ca", Role::Carrier, None, Some(CARRIER)).await;
    let ent = t.user("ent", Role::Enterprise, None, Some(Y)).await;
    let off = t.user("pd", Role::Officer, Some("2233"), None).await;
    let mut v: Value =
        serde_json::from_str(include_str!("../../../examples/export-shoes.json")).unwrap();
    v["trader"]["uscc"] = Y.into();
    v["owner"]["uscc"] = Y.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    let bill_no = v["bill_no"].as_str().unwrap().to_owned();
    let (s, filed) = t.submit(&ent, "x-0", &v).await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    let id = filed["id"].as_i64().unwrap();
    let mut m = manifest("MF-Y", "export", json!([bill(&bill_no, 400, "5200")]));
    m["kind"] = "pre_load".into();
    let (s, r) = t.post(Some(&carrier), "/api/manifests", m).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, m) = t.get(&off, "/api/manifests/MF-Y").await;
    assert_eq!(m["balance"]["bills"][0]["position"], "undeclared", "{m}");
    t.clear(&off, &ent, id).await;
    let (_, m) = t.get(&off, "/api/manifests/MF-Y").await;
    let b0 = &m["balance"]["bills"][0];
    assert_eq!(
        (b0["position"].as_str(), b0["written_off_packages"].as_u64()),
        (Some("written_off"), Some(400)),
        "{m}"
    );
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests/MF-Y/departure",
            json!({"at": "2025-03-10T01:30:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["closed"], json!([filed["declaration_no"]]));
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    assert_eq!(d["state"]["status"], "closed");
}

fn transit(no: &str, bill: &str) -> Value {
    json!({
        "transit_no": no, "declarant": CARRIER, "entry_office": "2233", "destination_office": "2300",
        "vehicle": {"mode": "truck", "plate": "沪A12345"}, "seals": ["S1", "S2"],
        "route": ["Pudong", "Nanjing"], "time_limit_hours": 24, "guarantee": null, "bills": [bill]
    })
}

fn problem_fields(problems: &Value) -> Vec<String> {
    problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_on_time_late_and_broken_seal() {
    let t = T::start().await;
    let carrier = t.user("ca", Role::Carrier, None, Some(CARRIER)).await;
    let entry = t.user("pd", Role::Officer, Some("2233"), None).await;
    let dest = t.user("nj", Role::Officer, Some("2300"), None).await;
    let ent = t.user("ent", Role::Enterprise, None, Some(Y)).await;
    // The goods arrive at Pudong (2233) on MF-T; TB-4 is on a manifest not yet arrived.
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests",
            manifest(
                "MF-T",
                "import",
                json!([
                    bill("TB-1", 10, "260"),
                    bill("TB-2", 10, "260"),
                    bill("TB-3", 10, "260")
                ]),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests",
            manifest("MF-U", "import", json!([bill("TB-4", 1, "5")])),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests/MF-T/arrival",
            json!({"at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // A transit moves goods arrived at its office of entry: not a bill on no manifest, nor one
    // whose manifest has not arrived.
    for (bill, code) in [("NOPE-9", "bill_unknown"), ("TB-4", "manifest_not_arrived")] {
        let (s, r) = t
            .post(Some(&carrier), "/api/transits", transit("T9", bill))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
        assert_eq!(codes(&r["error"]["problems"]), [code]);
        assert_eq!(problem_fields(&r["error"]["problems"]), ["bills"]);
    }
    for (no, bill) in [("T1", "TB-1"), ("T2", "TB-2"), ("T3", "TB-3")] {
        let (s, r) = t
            .post(Some(&carrier), "/api/transits", transit(no, bill))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        // Departure by the office of entry only.
        let (s, _) = t
            .post(
                Some(&dest),
                &format!("/api/transits/{no}/departure"),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        let (s, r) = t
            .post(
                Some(&entry),
                &format!("/api/transits/{no}/departure"),
                json!({}),
            )
            .await;
        assert_eq!(
            (s, r["state"]["status"].as_str()),
            (StatusCode::OK, Some("departed")),
            "{r}"
        );
    }
    // On the road: the goods cannot be declared yet, at Nanjing or at Pudong, nor put on a
    // second transit.
    for office in ["2300", "2233"] {
        let mut v = import("TB-1", 10, "260");
        v["declaration_office"] = office.into();
        let (s, r) = t.submit(&ent, &format!("early-{office}"), &v).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
        assert_eq!(codes(&r["error"]["problems"]), ["bill_in_transit"]);
    }
    let (s, r) = t
        .post(Some(&carrier), "/api/transits", transit("T8", "TB-1"))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(codes(&r["error"]["problems"]), ["bill_in_transit"]);
    let arrive = |no: &str, intact: Value, damaged: Value| {
        let path = format!("/api/transits/{no}/arrival");
        let body = json!({"seals_intact": intact, "seals_damaged": damaged});
        let t = &t;
        let dest = dest.clone();
        async move { t.post(Some(&dest), &path, body).await }
    };
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 3, 10, 9, 0, 0).unwrap());
    let (s, r) = arrive("T1", json!(["S1", "S2"]), json!([])).await;
    assert_eq!(
        (s, r["state"]["status"].as_str()),
        (StatusCode::OK, Some("arrived")),
        "{r}"
    );
    let (s, r) = arrive("T3", json!(["S1"]), json!(["S2"])).await;
    assert_eq!(
        (s, r["state"]["status"].as_str()),
        (StatusCode::OK, Some("seal_broken")),
        "{r}"
    );
    // T2 still on the road past its deadline (departed 02:00 + 24 h).
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 3, 11, 4, 0, 0).unwrap());
    let (dest, entry, carrier) = (
        t.login("nj").await,
        t.login("pd").await,
        t.login("ca").await,
    );
    let arrive = |no: &str, intact: Value, damaged: Value| {
        let path = format!("/api/transits/{no}/arrival");
        let body = json!({"seals_intact": intact, "seals_damaged": damaged});
        let t = &t;
        let dest = dest.clone();
        async move { t.post(Some(&dest), &path, body).await }
    };
    let (_, alerts) = t.get(&dest, "/api/transits/alerts").await;
    let kinds: Vec<(String, String)> = alerts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["transit_no"].as_str().unwrap().into(),
                a["alert"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("T2".into(), "overdue".into()),
            ("T3".into(), "broken_seal".into())
        ]
    );
    assert_eq!(alerts[0]["arrived"], false);
    let (s, r) = arrive("T2", json!(["S1", "S2"]), json!([])).await;
    assert_eq!(
        (s, r["state"]["late_minutes"].as_i64()),
        (StatusCode::OK, Some(120)),
        "{r}"
    );
    let (s, r) = t
        .post(
            Some(&dest),
            "/api/transits/T3/seal-resolution",
            json!({"reason": "examined, goods complete"}),
        )
        .await;
    assert_eq!(
        (s, r["state"]["status"].as_str()),
        (StatusCode::OK, Some("arrived")),
        "{r}"
    );
    let (_, alerts) = t.get(&dest, "/api/transits/alerts").await;
    assert_eq!(alerts.as_array().unwrap().len(), 2, "{alerts}");
    assert_eq!(alerts[0]["arrived"], true);
    assert_eq!(alerts[1]["resolved"], true);
    // Alerts are for the office of destination's scope.
    assert_eq!(t.get(&entry, "/api/transits/alerts").await.1, json!([]));
    assert_eq!(
        t.get(&carrier, "/api/transits/alerts").await.0,
        StatusCode::FORBIDDEN
    );

    // Nanjing clears the goods by a normal import declaration filed there, naming the bill:
    // matched to the manifest of Pudong like any import.
    let ent = t.login("ent").await;
    let inland = |bill: &str, office: &str| {
        let mut v = import(bill, 10, "260");
        v["declaration_office"] = office.into();
        v
    };
    let (s, d1) = t.submit(&ent, "t-1", &inland("TB-1", "2300")).await;
    assert_eq!(s, StatusCode::CREATED, "{d1}");
    // Arrived at Nanjing: declared there, not at the office of entry.
    let (s, r) = t.submit(&ent, "t-2", &inland("TB-2", "2233")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(
        codes(&r["error"]["problems"]),
        ["declaration_at_other_office"]
    );
    let clearance = |no: &str, d: &Value| {
        let path = format!("/api/transits/{no}/clearance");
        let body = json!({"declaration_no": d["declaration_no"]});
        let t = &t;
        let dest = dest.clone();
        async move { t.post(Some(&dest), &path, body).await }
    };
    // The declaration of another bill: refused, with the reason on `declaration_no`.
    let (s, r) = clearance("T2", &d1).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(codes(&r["error"]["problems"]), ["bill_not_in_transit"]);
    assert_eq!(problem_fields(&r["error"]["problems"]), ["declaration_no"]);
    // An unknown declaration number.
    let (s, r) = clearance("T1", &json!({"declaration_no": "230020251999999999"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(codes(&r["error"]["problems"]), ["declaration_unknown"]);
    // Only the office of destination clears.
    let (s, _) = t
        .post(
            Some(&entry),
            "/api/transits/T1/clearance",
            json!({"declaration_no": d1["declaration_no"]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, r) = clearance("T1", &d1).await;
    assert_eq!(
        (s, r["state"]["status"].as_str()),
        (StatusCode::OK, Some("cleared")),
        "{r}"
    );
    assert_eq!(r["state"]["cleared_by"], d1["declaration_no"]);
    // Cleared is final.
    let (s, _) = clearance("T1", &d1).await;
    assert_eq!(s, StatusCode::CONFLICT);

    // Listings: the carrier its own transits, officers by office (entry or destination).
    let (s, list) = t.get(&carrier, "/api/transits").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    assert_eq!(
        t.get(&entry, "/api/transits")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // Paged by transit number: `after` the last number of the page before.
    let numbers = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["transit_no"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(numbers(&list), ["T1", "T2", "T3"]);
    let (s, page) = t.get(&carrier, "/api/transits?limit=2").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(numbers(&page), ["T1", "T2"]);
    let (s, page) = t.get(&carrier, "/api/transits?after=T2&limit=2").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(numbers(&page), ["T3"]);
    let (_, page) = t.get(&entry, "/api/transits?after=T3&limit=2").await;
    assert_eq!(page, json!([]));
    for bad in ["/api/transits?after=t-1", "/api/transits?after="] {
        let (s, r) = t.get(&carrier, bad).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {r}");
        assert_eq!(problem_fields(&r["error"]["problems"]), ["after"], "{bad}");
        assert_eq!(codes(&r["error"]["problems"]), ["transit_no"], "{bad}");
        // The Chinese message is Chinese: the code's own reason in Chinese, not the English one.
        let zh = r["error"]["problems"][0]["message_zh"].as_str().unwrap();
        assert!(
            zh.starts_with("转关单号有误") && !zh.contains("must be"),
            "{zh}"
        );
    }
    let (s, r) = t.get(&carrier, "/api/transits?cursor=T1").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(problem_fields(&r["error"]["problems"]), ["query"]);
    assert_eq!(t.get(&ent, "/api/transits").await.0, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transit_cancelled_before_departure_only() {
    let t = T::start().await;
    let carrier = t.user("ca", Role::Carrier, None, Some(CARRIER)).await;
    let other = t.user("cb", Role::Carrier, None, Some(OTHER_CARRIER)).await;
    let entry = t.user("pd", Role::Officer, Some("2233"), None).await;
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests",
            manifest(
                "MF-C",
                "import",
                json!([bill("CB-1", 1, "5"), bill("CB-2", 1, "5")]),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests/MF-C/arrival",
            json!({"at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    for (no, bill) in [("C1", "CB-1"), ("C2", "CB-2")] {
        let (s, r) = t
            .post(Some(&carrier), "/api/transits", transit(no, bill))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    let cancel = json!({"reason": "plans changed"});
    // Another carrier does not see it.
    let (s, _) = t
        .post(
            Some(&other),
            "/api/transits/C1/cancellation",
            cancel.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/transits/C1/cancellation",
            cancel.clone(),
        )
        .await;
    assert_eq!(
        (s, r["state"]["status"].as_str()),
        (StatusCode::OK, Some("cancelled")),
        "{r}"
    );
    let (s, r) = t
        .post(Some(&entry), "/api/transits/C2/departure", json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = t
        .post(Some(&entry), "/api/transits/C2/cancellation", cancel)
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{r}");
    assert_eq!(r["error"]["code"], "not_allowed_in_status");
    // The OpenAPI document lists the transit endpoints.
    let (s, doc) = t
        .send(t.client.get(format!("{}/api/openapi.json", t.base)))
        .await;
    assert_eq!(s, StatusCode::OK);
    for (path, method) in [
        ("/api/transits", "get"),
        ("/api/transits/{no}/clearance", "post"),
        ("/api/transits/{no}/cancellation", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{path} {method}");
    }
    let params: Vec<&str> = doc["paths"]["/api/transits"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        params,
        ["after", "limit"],
        "the listing's cursor is documented"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postal_parcels_and_baggage() {
    let t = T::start().await;
    let post = t
        .user("ems", Role::PostalOperator, None, Some(CARRIER))
        .await;
    let off = t.user("pd", Role::Officer, Some("2233"), None).await;
    let sibling = t.user("nj", Role::Officer, Some("2300"), None).await;
    let art = |c: u8, v: &str, q: &str| json!({"description": "article", "category": c, "dutiable_value_yuan": v, "quantity": q});
    let parcel = |no: &str, articles: Value| json!({"parcel_no": no, "dispatch_country": "USA", "addressee_id": "h:1", "articles": articles});
    let list = json!({"list_no": "L1", "operator": CARRIER, "office": "2233", "parcels": [
        parcel("P1", json!([art(1, "300", "1")])),
        parcel("P2", json!([art(3, "200", "1")])),
        parcel("P3", json!([art(1, "900", "1"), art(1, "300", "1")])),
    ]});
    let (s, r) = t
        .post(Some(&post), "/api/postal/parcel-lists", list.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let payable: Vec<i64> = r
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["payable_fen"].as_i64().unwrap())
        .collect();
    assert_eq!(
        payable[..2],
        [0, 10_000],
        "¥39 not collected; 50 % of ¥200 collected"
    );
    assert_eq!(r[2]["outcome"]["outcome"], "held");
    // Another operator's list: refused.
    let mut foreign = list;
    foreign["operator"] = OTHER_CARRIER.into();
    assert_eq!(
        t.post(Some(&post), "/api/postal/parcel-lists", foreign)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let (s, r) = t
        .post(
            Some(&off),
            "/api/postal/baggage",
            json!({"declaration_ref": "B1", "passenger_id": "h:9",
            "arrived_by": "CA986", "office": "2233", "articles": [art(2, "1000", "1")]}),
        )
        .await;
    assert_eq!(
        (s, r["payable_fen"].as_i64()),
        (StatusCode::CREATED, Some(20_000)),
        "{r}"
    );
    assert_eq!(
        t.get(&post, "/api/postal/outcomes")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        t.get(&off, "/api/postal/outcomes")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_eq!(
        t.get(&off, "/api/postal/outcomes?held=true")
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(t.get(&sibling, "/api/postal/outcomes").await.1, json!([]));
}

/// Goods under transit (《海关征收进口货物滞报金办法》): the late-bills list counts a transit bill
/// from its arrival at the office of destination, shows it to that office too, and leaves out a
/// bill whose transit is still on its way; the fee charged at the officer's assessment counts
/// from the destination too, even once the transit is cleared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_bills_count_transit_goods_from_the_destination() {
    // Lanes by the placeholder policy: the yellow-lane importer is assessed by an officer.
    let t = T(common::Harness::start(|store, clock| {
        let desk = Arc::new(CargoDesk::open(store.clone(), CargoPolicy::default()).unwrap());
        Clearance::new(store, common::refdata(), clock)
            .with_registry(Box::new(common::general_class(Y)))
            .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
            .with_cargo(desk)
    })
    .await);
    let carrier = t.user("ca", Role::Carrier, None, Some(CARRIER)).await;
    let entry = t.user("pd", Role::Officer, Some("2233"), None).await;
    t.user("nj", Role::Officer, Some("2300"), None).await;
    t.user("ent", Role::Enterprise, None, Some(Y)).await;
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests",
            manifest(
                "MF-L",
                "import",
                json!([
                    bill("LT-1", 10, "260"),
                    bill("LT-2", 10, "260"),
                    bill("LT-3", 10, "260")
                ]),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = t
        .post(
            Some(&carrier),
            "/api/manifests/MF-L/arrival",
            json!({"at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    for (no, bill) in [("TL-1", "LT-1"), ("TL-2", "LT-2")] {
        let (s, r) = t
            .post(Some(&carrier), "/api/transits", transit(no, bill))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let (s, r) = t
            .post(
                Some(&entry),
                &format!("/api/transits/{no}/departure"),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
    }
    // TL-1 arrives at Nanjing on 2025-03-13 (China); TL-2 stays on the road.
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 3, 13, 2, 0, 0).unwrap());
    let dest = t.login("nj").await;
    let (s, r) = t
        .post(
            Some(&dest),
            "/api/transits/TL-1/arrival",
            json!({"seals_intact": ["S1", "S2"], "seals_damaged": []}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // 2025-03-26: 16 days after the entry arrival, 13 after the destination: only the
    // ordinary bill LT-3 is late (since 2025-03-24).
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 3, 26, 2, 0, 0).unwrap());
    let entry = t.login("pd").await;
    let (_, late) = t.get(&entry, "/api/manifests/late-bills").await;
    let bills: Vec<&str> = late
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bill_no"].as_str().unwrap())
        .collect();
    assert_eq!(bills, ["LT-3"], "{late}");
    // 2025-03-30: LT-1 is 3 days late (deadline 2025-03-27), for Pudong and for Nanjing; LT-2,
    // on its way, is not listed; LT-3 (6 days) only for Pudong.
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 3, 30, 2, 0, 0).unwrap());
    let (entry, dest) = (t.login("pd").await, t.login("nj").await);
    for (who, want) in [(&entry, vec!["LT-3", "LT-1"]), (&dest, vec!["LT-1"])] {
        let (s, late) = t.get(who, "/api/manifests/late-bills").await;
        assert_eq!(s, StatusCode::OK, "{late}");
        let bills: Vec<&str> = late
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["bill_no"].as_str().unwrap())
            .collect();
        assert_eq!(bills, want, "{late}");
        let b = late
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["bill_no"] == "LT-1")
            .unwrap();
        assert_eq!(b["bill_no"], "LT-1");
        assert_eq!(b["arrival_date"], "2025-03-13");
        assert_eq!(b["deadline"], "2025-03-27");
        assert_eq!(b["days"], 3);
        assert_eq!(b["counted_from"]["from"], "destination_arrival", "{late}");
        assert_eq!(b["counted_from"]["transit_no"], "TL-1");
        assert_eq!(b["counted_from"]["destination_office"], "2300");
        assert!(
            b["explanation_zh"]
                .as_str()
                .unwrap()
                .contains("运抵指运地之日"),
            "{late}"
        );
        assert!(
            b["explanation_en"]
                .as_str()
                .unwrap()
                .contains("arrival at the office of destination 2300"),
            "{late}"
        );
    }
    // LT-1 declared at Nanjing today; Nanjing clears the transit before assessing it. The fee
    // is 3 days from the destination arrival, half the ordinary LT-3's 6 days on the same value.
    let ent = t.login("ent").await;
    let mut v = import("LT-1", 10, "260");
    v["declaration_office"] = "2300".into();
    let (s, d1) = t.submit(&ent, "lt-1", &v).await;
    assert_eq!(s, StatusCode::CREATED, "{d1}");
    // Yellow: assessed by the officer (after the clearance below), not at acceptance.
    assert_eq!(
        (d1["lane"].as_str(), d1["status"].as_str()),
        (Some("yellow"), Some("document_review")),
        "{d1}"
    );
    let (s, r) = t
        .post(
            Some(&dest),
            "/api/transits/TL-1/clearance",
            json!({"declaration_no": d1["declaration_no"]}),
        )
        .await;
    assert_eq!(
        (s, r["state"]["status"].as_str()),
        (StatusCode::OK, Some("cleared")),
        "{r}"
    );
    let fee = |notices: &[Value]| {
        notices
            .iter()
            .find(|n| n["tax"] == "late_declaration_fee")
            .and_then(|n| n["amount_fen"].as_i64())
    };
    let transit_fee = fee(&t.clear(&dest, &ent, d1["id"].as_i64().unwrap()).await)
        .expect("a late declaration fee for LT-1");
    let (s, d3) = t.submit(&ent, "lt-3", &import("LT-3", 10, "260")).await;
    assert_eq!(s, StatusCode::CREATED, "{d3}");
    let ordinary_fee = fee(&t.clear(&entry, &ent, d3["id"].as_i64().unwrap()).await)
        .expect("a late declaration fee for LT-3");
    assert!(transit_fee >= 5_000, "{transit_fee}");
    assert!(
        (ordinary_fee - 2 * transit_fee).abs() <= 1,
        "{ordinary_fee} vs {transit_fee}"
    );
}

/// A manifest filed as a UN/EDIFACT D.96B CUSCAR (docs/FORMATS.md "CUSCAR"): the same filing as
/// the JSON body, answered in JSON or, when asked, as a CUSRES; problems in the message's terms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cuscar_files_a_manifest_and_cusres_answers() {
    let t = T::start().await;
    let carrier = t.user("ca", Role::Carrier, None, Some(CARRIER)).await;
    #[allow(clippy::disallowed_methods)] // a test reads its fixture
    let edi = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../formats/tests/fixtures/cuscar_SYNTHETIC_import.edi"),
    )
    .unwrap();
    let post = |body: String, accept: Option<&'static str>| {
        let mut req = t
            .client
            .post(format!("{}/api/manifests", t.base))
            .bearer_auth(&carrier)
            .header("content-type", "application/EDIFACT")
            .body(body);
        if let Some(a) = accept {
            req = req.header("accept", a);
        }
        async move {
            let resp = req.send().await.unwrap();
            (resp.status(), resp.text().await.unwrap())
        }
    };

    // Filed; a JSON answer by default, the manifest as the JSON body files it.
    let (s, body) = post(edi.clone(), None).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let (s, m) = t.get(&carrier, "/api/manifests/MF-CUSCAR-1").await;
    assert_eq!(s, StatusCode::OK, "{m}");
    let text = m.to_string();
    for needle in ["999-12345675", "HB-2025-0001", "MSKU1234565", "CA986"] {
        assert!(text.contains(needle), "{needle} not in {m}");
    }

    // The same number again, as EDIFACT: a CUSRES rejecting it, back to the sender.
    let (s, body) = post(edi.clone(), Some("application/EDIFACT")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{body}");
    let r = formats::cusdec::parse_response(body.as_bytes()).unwrap();
    assert!(!r.accepted, "{body}");
    assert_eq!(r.client_seq_no.as_deref(), Some("MF-CUSCAR-1"));
    let i = formats::edifact::parse(body.as_bytes()).unwrap();
    assert_eq!(
        (i.sender.as_str(), i.recipient.as_str()),
        ("JINGUAN", "CARRIER01")
    );

    // Another manifest with other bills: accepted in a CUSRES.
    let (s, body) = post(
        edi.replace("MF-CUSCAR-1", "MF-CUSCAR-2")
            .replace("999-12345675", "MB-2025-0002")
            .replace("HB-2025-0001", "HB-2025-0002"),
        Some("application/EDIFACT"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    let r = formats::cusdec::parse_response(body.as_bytes()).unwrap();
    assert!(r.accepted, "{body}");
    assert_eq!(r.client_seq_no.as_deref(), Some("MF-CUSCAR-2"));

    // A bad container number: refused naming its place in the message.
    let (s, body) = post(
        edi.replace("MF-CUSCAR-1", "MF-CUSCAR-3")
            .replace("MSKU1234565", "MSKU1234560"),
        Some("application/EDIFACT"),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let r = formats::cusdec::parse_response(body.as_bytes()).unwrap();
    let places: Vec<&str> = r.errors.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(places, ["SG7[1] SG14[0] SGP.C237.8260"], "{body}");

    // Interchange-level errors: every one, as JSON by default.
    let (s, body) = post(edi.replace("UNZ+1+CC0001'", "UNZ+2+CC0009'"), None).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_edifact", "{v}");
    assert_eq!(codes(&v["error"]["problems"]).len(), 2, "{v}");
    // Nothing was filed by the refusals.
    let (s, _) = t.get(&carrier, "/api/manifests/MF-CUSCAR-3").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The OpenAPI document names the content types: CUSCAR for manifests, WCO for declarations.
    let (s, doc) = t
        .send(t.client.get(format!("{}/api/openapi.json", t.base)))
        .await;
    assert_eq!(s, StatusCode::OK);
    let manifests = &doc["paths"]["/api/manifests"]["post"]["requestBody"]["content"];
    assert!(manifests["application/EDIFACT"].is_object(), "{manifests}");
    assert!(
        manifests["application/json"]["schema"].is_object(),
        "{manifests}"
    );
    let declarations = &doc["paths"]["/api/declarations"]["post"]["requestBody"]["content"];
    assert!(
        declarations["application/vnd.wco.dm+xml"].is_object(),
        "{declarations}"
    );
}
