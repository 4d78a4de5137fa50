//! Tariff quotas (关税配额) over HTTP, as a user meets them (docs/EPORT.md "Tariff-quota
//! certificates", docs/TAX.md "Tariff quotas"). Import and Export Duties Regulations art. 11
//! (tariff quotas) and docs/DOMAIN.md §4: "the in-quota rate only within a quota certificate's
//! balance, the out-of-quota rate otherwise". The development-and-reform commission issues a
//! wheat certificate; a filing under it takes the in-quota rate and reserves its kilograms;
//! one over the balance, under another holder's certificate or an expired one is refused with
//! the reason in Chinese and English; without a certificate the out-of-quota rate applies;
//! release writes the quantity off.

mod common;

use app::{Clearance, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};

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

    /// File `body` as `token` with the client sequence number `seq`.
    async fn file(&self, token: &str, seq: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("client-seq-no", seq)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap())
    }

    /// The duty measures of the filed declaration's items: (measure, rate).
    async fn duty_measures(&self, token: &str, id: &Value) -> Vec<(String, String)> {
        let (s, d) = self.get(token, &format!("/api/declarations/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        d["tax"]["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{d}"))
            .iter()
            .map(|it| {
                let m = it["measures"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|m| m["kind"] == "duty")
                    .unwrap_or_else(|| panic!("{it}"));
                (
                    m["measure"].as_str().unwrap().to_owned(),
                    m["rate"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    async fn my_certificate(&self, token: &str, no: &str) -> Value {
        let (s, v) = self.get(token, "/api/eport/my-licences").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .find(|l| l["licence_no"] == no)
            .unwrap_or_else(|| panic!("{no} in {v}"))
            .clone()
    }
}

fn certificate(no: &str, holder: &str, commodity: &str, kg: &str, valid_to: &str) -> Value {
    json!({
        "licence_no": no, "kind": "tariff_quota", "holder": holder, "commodity": commodity,
        "unit": "035", "quantity": kg, "valid_from": "2025-01-01", "valid_to": valid_to
    })
}

/// A wheat import (1001990000, first unit kg) of `kg` for CNY 2 a kilogram, items under the
/// certificate `cert` (or none).
fn wheat(contract: &str, items: &[(&str, Option<&str>)]) -> Value {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["bill_no"] = Value::Null;
    v["contract_no"] = contract.into();
    v["gross_weight_kg"] = "100000".into();
    v["net_weight_kg"] = "99000".into();
    v["transaction_terms"] = "1".into();
    v.as_object_mut().unwrap().remove("freight");
    let template = v["items"][0].clone();
    let mut out = Vec::new();
    for (k, (kg, cert)) in items.iter().enumerate() {
        let mut it = template.clone();
        let o = it.as_object_mut().unwrap();
        o.remove("second_quantity");
        o.remove("second_unit");
        let total = (kg.parse::<u64>().unwrap() * 2).to_string();
        for (key, val) in [
            ("commodity_code", "1001990000"),
            ("name", "小麦"),
            ("specification", "硬质小麦|散装|非种用"),
            ("declared_unit", "035"),
            ("first_unit", "035"),
            ("declared_quantity", kg),
            ("first_quantity", kg),
            ("unit_price", "2.0000"),
            ("total_price", total.as_str()),
            ("currency", "CNY"),
            ("origin_country", "CAN"),
        ] {
            o.insert(key.into(), val.into());
        }
        o.insert("item_no".into(), (k + 1).into());
        if let Some(c) = cert {
            o.insert("quota_certificate_no".into(), (*c).into());
        }
        out.push(it);
    }
    v["items"] = Value::Array(out);
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tariff_quota_certificates_over_http() {
    let app = TestApp::start().await;
    app.user("ndrc", Role::Agency, None, Some("ndrc"));
    app.user("mofcom", Role::Agency, None, Some("commerce"));
    app.user("ent-a", Role::Enterprise, Some(A), None);
    app.user("off", Role::Officer, None, None);
    let (ndrc, mofcom, ent, off) = (
        app.login("ndrc").await,
        app.login("mofcom").await,
        app.login("ent-a").await,
        app.login("off").await,
    );
    let issue = |token: &str, body: Value| {
        let token = token.to_owned();
        let app = &app;
        async move { app.post(&token, "/api/eport/licences", body).await }
    };

    // Issue: the agency that allocates the commodity's quota (wheat: NDRC), in the legal unit.
    let (s, v) = issue(
        &ndrc,
        certificate("TRQ-W-1", A, "1001,1101", "1000", "2025-12-31"),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["kind"].as_str(), v["remaining"].as_str()),
        (Some("tariff_quota"), Some("1000"))
    );
    let (s, v) = issue(
        &mofcom,
        certificate("TRQ-W-2", A, "1001", "1", "2025-12-31"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "wheat is NDRC's: {v}");
    assert!(
        v["error"]["message_zh"].as_str().unwrap().contains("NDRC"),
        "{v}"
    );
    let (s, _) = issue(&ndrc, certificate("TRQ-S-1", A, "1701", "1", "2025-12-31")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "sugar is commerce's");
    let mut licence = certificate("AIL-1", A, "8703", "1", "2025-12-31");
    licence["kind"] = "import".into();
    licence["unit"] = "003".into();
    let (s, _) = issue(&ndrc, licence).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "NDRC issues no licences");
    let (s, v) = issue(&ndrc, certificate("TRQ-X-1", A, "8471", "1", "2025-12-31")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["problems"][0]["code"], "quota_commodity");
    let mut tonnes = certificate("TRQ-W-3", A, "1001", "1", "2025-12-31");
    tonnes["unit"] = "070".into();
    let (s, v) = issue(&ndrc, tonnes).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["problems"][0]["code"], "quota_unit");
    // Another holder's, and one that expired before the filing date (2025-03-10).
    for (no, holder, to) in [("TRQ-B", B, "2025-12-31"), ("TRQ-OLD", A, "2025-03-09")] {
        let (s, v) = issue(&ndrc, certificate(no, holder, "1001", "1000", to)).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }

    // In quota: 600 kg under the certificate take the in-quota rate, and are reserved.
    let (s, v) = app
        .file(&ent, "w-1", wheat("W-1", &[("600", Some("TRQ-W-1"))]))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let in_quota = v["id"].clone();
    assert_eq!(
        app.duty_measures(&ent, &in_quota).await,
        [("in_quota".to_string(), "1%".to_string())]
    );
    let c = app.my_certificate(&ent, "TRQ-W-1").await;
    assert_eq!(
        (c["reserved"].as_str(), c["remaining"].as_str()),
        (Some("600"), Some("400"))
    );

    // Over the balance: refused whole, on the item, in both languages; nothing reserved.
    let (s, v) = app
        .file(&ent, "w-2", wheat("W-2", &[("401", Some("TRQ-W-1"))]))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let p = &v["error"]["problems"][0];
    assert_eq!(p["field"], "items[0].quota_certificate_no", "{v}");
    assert_eq!(p["code"], "quota_certificate_exhausted");
    assert!(
        p["message_zh"]
            .as_str()
            .unwrap()
            .contains("关税配额证明 TRQ-W-1 余量 400"),
        "{p}"
    );
    assert!(
        p["message_en"]
            .as_str()
            .unwrap()
            .contains("out-of-quota rate"),
        "{p}"
    );
    assert_eq!(app.my_certificate(&ent, "TRQ-W-1").await["reserved"], "600");

    // The excess declared as an item of its own without the certificate: item 1 in quota, item
    // 2 at the out-of-quota (MFN) rate.
    let (s, v) = app
        .file(
            &ent,
            "w-3",
            wheat("W-3", &[("400", Some("TRQ-W-1")), ("1", None)]),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        app.duty_measures(&ent, &v["id"]).await,
        [
            ("in_quota".to_string(), "1%".to_string()),
            ("mfn".to_string(), "65%".to_string())
        ]
    );
    assert_eq!(app.my_certificate(&ent, "TRQ-W-1").await["remaining"], "0");

    // Without a certificate: the out-of-quota rate, nothing reserved.
    let (s, v) = app.file(&ent, "w-4", wheat("W-4", &[("5000", None)])).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        app.duty_measures(&ent, &v["id"]).await,
        [("mfn".to_string(), "65%".to_string())]
    );

    // Another holder's certificate, an expired one: refused with the reason.
    for (seq, no, code, zh) in [
        (
            "w-5",
            "TRQ-B",
            "quota_certificate_holder_mismatch",
            "持证人不是收发货人",
        ),
        (
            "w-6",
            "TRQ-OLD",
            "quota_certificate_expired",
            "已于 2025-03-09 到期",
        ),
    ] {
        let (s, v) = app.file(&ent, seq, wheat(seq, &[("1", Some(no))])).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        let p = &v["error"]["problems"][0];
        assert_eq!(
            (p["field"].as_str(), p["code"].as_str()),
            (Some("items[0].quota_certificate_no"), Some(code)),
            "{v}"
        );
        assert!(p["message_zh"].as_str().unwrap().contains(zh), "{p}");
        assert!(!p["message_en"].as_str().unwrap().is_empty());
    }

    // A certificate on goods under no tariff quota is a validation problem (zh/en).
    let mut laptops: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    laptops["bill_no"] = Value::Null;
    laptops["items"][0]["quota_certificate_no"] = "TRQ-W-1".into();
    let (s, v) = app.file(&ent, "w-7", laptops).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let p = &v["error"]["problems"][0];
    assert_eq!(
        (p["field"].as_str(), p["code"].as_str()),
        (
            Some("items[0].quota_certificate_no"),
            Some("quota_not_applicable")
        ),
        "{v}"
    );

    // Release writes the 600 kg off: review, assess, pay through the bank, release.
    let step = |name: &str| format!("/api/declarations/{in_quota}/{name}");
    let (s, r) = app
        .post(&off, &step("review"), json!({"result": "conform"}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = app.post(&off, &step("assess"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, d) = app
        .get(&ent, &format!("/api/declarations/{in_quota}"))
        .await;
    for n in d["notices"].as_array().unwrap() {
        app.pay_through_bank(&ent, n["notice_no"].as_str().unwrap())
            .await;
    }
    let (s, r) = app.post(&off, &step("release"), json!({})).await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("released")),
        "{r}"
    );
    let c = app.my_certificate(&ent, "TRQ-W-1").await;
    assert_eq!(
        (
            c["reserved"].as_str(),
            c["written_off"].as_str(),
            c["remaining"].as_str()
        ),
        (Some("400"), Some("600"), Some("0"))
    );
    // The issuing agency's ledger shows the same.
    let (s, v) = app.get(&ndrc, "/api/eport/licences").await;
    assert_eq!(s, StatusCode::OK);
    let mine = v
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["licence_no"] == "TRQ-W-1")
        .unwrap();
    assert_eq!(mine["written_off"], "600");
}
