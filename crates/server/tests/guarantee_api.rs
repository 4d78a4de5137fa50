//! Black-box tests of the guarantee ledger over HTTP (docs/TAX.md "Guarantees"): a real server
//! on port 0. A bank registers guarantees; a release against a guarantee reserves the unpaid
//! notices and is refused (409, zh/en, nothing written) for an unknown, expired, foreign,
//! out-of-scope or short guarantee; paying the last notice releases the reservation; after
//! the due date a tax officer's enforcement claims it once against the bank, with
//! `guarantee_enforced.v1` in the outbox; a transit with a ¥1 guarantee is refused, one with
//! enough draws on the ledger and gives it back when cancelled.

mod common;

use std::sync::Arc;

use app::cargo_desk::{CargoDesk, CargoPolicy};
use app::{Clearance, Duty, NewUserRequest, Role};
use chrono::{Duration, TimeZone, Utc};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::outbox::OutboxStore;

const PASSWORD: &str = "test-password";
/// The importer (yellow lane: review, assess).
const Y: &str = "91310000132149237G";
/// Another enterprise.
const B: &str = "91440300MA5FT3XKX8";
const CARRIER: &str = "91110000600037341L";

struct T(common::Harness);

impl std::ops::Deref for T {
    type Target = common::Harness;
    fn deref(&self) -> &common::Harness {
        &self.0
    }
}

impl T {
    async fn start(cargo: bool) -> T {
        let t = T(common::Harness::start(move |store, clock| {
            let svc = Clearance::new(store.clone(), common::refdata(), clock)
                .with_registry(Box::new(common::general_class(Y)))
                .with_lane_policy(Box::new(clearance::DefaultLanePolicy));
            if cargo {
                let desk = Arc::new(CargoDesk::open(store, CargoPolicy::default()).unwrap());
                svc.with_cargo(desk)
            } else {
                svc
            }
        })
        .await);
        t.user("ent-y", Role::Enterprise, None, Some(Y), vec![]);
        t.user("ent-b", Role::Enterprise, None, Some(B), vec![]);
        t.user("carrier", Role::Carrier, None, Some(CARRIER), vec![]);
        t.user(
            "pd",
            Role::Officer,
            Some("2233"),
            None,
            vec![Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer],
        );
        t.user(
            "pd-release",
            Role::Officer,
            Some("2233"),
            None,
            vec![Duty::ReleaseOfficer],
        );
        t.user("bank-boc", Role::Bank, None, None, vec![]);
        t.user("bank-icbc", Role::Bank, None, None, vec![]);
        t
    }

    fn user(
        &self,
        login: &str,
        role: Role,
        office: Option<&str>,
        uscc: Option<&str>,
        duties: Vec<Duty>,
    ) {
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties,
                office: office.map(|o| OfficeCode::parse(o).unwrap()),
                uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
                agency: None,
            })
            .unwrap();
    }

    /// File an import of Y at Pudong (2233), review and assess it: its id and notices.
    async fn assessed(&self, ent: &str, off: &str, variant: u32) -> (i64, Vec<Value>) {
        let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
        v["trader"]["uscc"] = Y.into();
        v["owner"]["uscc"] = Y.into();
        v["contract_no"] = format!("G-{variant}").into();
        let r = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(ent)
            .header("content-type", "application/json")
            .header("client-seq-no", format!("g-{variant}"))
            .body(v.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let filed: Value = r.json().await.unwrap();
        let id = filed["id"].as_i64().unwrap();
        let (_, d) = self.get(ent, &format!("/api/declarations/{id}")).await;
        if d["state"]["status"] == "document_review" {
            let (s, r) = self
                .post(
                    off,
                    &format!("/api/declarations/{id}/review"),
                    json!({"result": "conform"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{r}");
            let (s, r) = self
                .post(off, &format!("/api/declarations/{id}/assess"), json!({}))
                .await;
            assert_eq!(s, StatusCode::OK, "{r}");
        }
        let (_, d) = self.get(ent, &format!("/api/declarations/{id}")).await;
        assert_eq!(d["state"]["status"], "assessed", "{d}");
        (id, d["notices"].as_array().unwrap().clone())
    }

    async fn register(&self, bank: &str, body: Value) -> (StatusCode, Value) {
        self.post(bank, "/api/guarantees", body).await
    }

    async fn status(&self, token: &str, id: i64) -> String {
        let (_, d) = self.get(token, &format!("/api/declarations/{id}")).await;
        d["state"]["status"].as_str().unwrap().to_owned()
    }
}

fn terms(id: &str, holder: &str, amount_fen: i64) -> Value {
    json!({
        "id": id, "kind": "general", "holder": holder, "amount_fen": amount_fen,
        "valid_from": "2025-01-01", "valid_to": "2025-12-31",
        "offices": ["2200"], "purposes": ["release", "transit"]
    })
}

fn total(notices: &[Value]) -> i64 {
    notices
        .iter()
        .map(|n| n["amount_fen"].as_i64().unwrap())
        .sum()
}

fn assert_refused(s: StatusCode, r: &Value, code: &str) {
    assert_eq!(s, StatusCode::CONFLICT, "{code}: {r}");
    assert_eq!(r["error"]["code"], code, "{r}");
    assert!(
        r["error"]["message_zh"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
            && r["error"]["message_en"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
        "both languages: {r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bank_registers_and_a_release_binds_to_its_guarantee() {
    let t = T::start(false).await;
    let (ent, ent_b, off) = (
        t.login("ent-y").await,
        t.login("ent-b").await,
        t.login("pd").await,
    );
    let (boc, icbc) = (t.login("bank-boc").await, t.login("bank-icbc").await);

    // Only a bank registers.
    for who in [&ent, &off] {
        let (s, r) = t.register(who, terms("G-NOPE", Y, 100)).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{r}");
    }
    // Every problem at once.
    let mut bad = terms("G-BAD", Y, 0);
    bad["valid_to"] = "2024-12-31".into();
    bad["purposes"] = json!([]);
    let (s, r) = t.register(&boc, bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let fields: Vec<&str> = r["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["amount_fen", "valid_to", "purposes"], "{r}");

    let (s, g) = t.register(&boc, terms("G-Y", Y, 100_000_000)).await;
    assert_eq!(s, StatusCode::CREATED, "{g}");
    assert_eq!(
        (g["terms"]["bank"].as_str(), g["balance_fen"].as_i64()),
        (Some("bank-boc"), Some(100_000_000))
    );
    let (s, r) = t.register(&boc, terms("G-Y", Y, 5)).await;
    assert_refused(s, &r, "guarantee_already_registered");
    let mut expired = terms("G-EXPIRED", Y, 100_000_000);
    expired["valid_to"] = "2025-02-28".into();
    let mut far = terms("G-KUNMING", Y, 100_000_000);
    far["offices"] = json!(["8600"]);
    let mut transit_only = terms("G-TRANSIT", Y, 100_000_000);
    transit_only["purposes"] = json!(["transit"]);
    for body in [
        expired,
        terms("G-B", B, 100_000_000),
        far,
        transit_only,
        terms("G-SMALL", Y, 100),
    ] {
        let (s, r) = t.register(&boc, body).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }

    // Each refusal: 409 in both languages, the declaration still assessed, nothing reserved.
    let (id, notices) = t.assessed(&ent, &off, 1).await;
    let owed = total(&notices);
    assert!(owed > 0);
    let path = format!("/api/declarations/{id}/guarantee-release");
    let release = |g: &str| t.post(&off, &path, json!({"guarantee_no": g}));
    for (g, code) in [
        ("NO-SUCH-GUARANTEE-XYZ", "guarantee_unknown"),
        ("G-EXPIRED", "guarantee_not_valid"),
        ("G-B", "guarantee_other_holder"),
        ("G-KUNMING", "guarantee_office_out_of_scope"),
        ("G-TRANSIT", "guarantee_purpose_out_of_scope"),
        ("G-SMALL", "guarantee_short_of_balance"),
    ] {
        let (s, r) = release(g).await;
        assert_refused(s, &r, code);
        assert_eq!(t.status(&ent, id).await, "assessed");
    }
    let (_, g) = t.get(&boc, "/api/guarantees/G-SMALL").await;
    assert_eq!(g["reservations"], json!([]), "{g}");

    // Released against G-Y: the unpaid notices are reserved, due 15 days after issue.
    let (s, r) = release("G-Y").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(t.status(&ent, id).await, "released");
    let (s, g) = t.get(&boc, "/api/guarantees/G-Y").await;
    assert_eq!(s, StatusCode::OK, "{g}");
    assert_eq!(g["reserved_fen"].as_i64(), Some(owed), "{g}");
    assert_eq!(g["balance_fen"].as_i64(), Some(100_000_000 - owed));
    let r0 = &g["reservations"][0];
    assert_eq!(
        (
            r0["state"].as_str(),
            r0["purpose"].as_str(),
            r0["due_on"].as_str()
        ),
        (Some("open"), Some("release"), Some("2025-03-25")),
        "{g}"
    );

    // Who sees it: the bank that issued it, its holder, officers; not another bank or
    // enterprise.
    let (s, _) = t.get(&off, "/api/guarantees/G-Y").await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.get(&ent, "/api/guarantees/G-Y").await;
    assert_eq!(s, StatusCode::OK);
    for who in [&ent_b, &icbc] {
        let (s, r) = t.get(who, "/api/guarantees/G-Y").await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{r}");
    }
    let (_, mine) = t.get(&ent, "/api/guarantees").await;
    assert_eq!(mine.as_array().unwrap().len(), 5, "{mine}");
    let (_, theirs) = t.get(&ent_b, "/api/guarantees").await;
    assert_eq!(theirs.as_array().unwrap().len(), 1, "{theirs}");
    let (_, issued) = t.get(&boc, "/api/guarantees").await;
    assert_eq!(issued.as_array().unwrap().len(), 6);
    let (_, none) = t.get(&icbc, "/api/guarantees").await;
    assert_eq!(none, json!([]));

    // Paid: the last payment gives the amount back.
    for (i, n) in notices.iter().enumerate() {
        t.pay_through_bank(&ent, n["notice_no"].as_str().unwrap())
            .await;
        let (_, g) = t.get(&boc, "/api/guarantees/G-Y").await;
        let open = i + 1 < notices.len();
        assert_eq!(
            g["reserved_fen"].as_i64(),
            Some(if open { owed } else { 0 }),
            "{g}"
        );
    }
    let (_, g) = t.get(&boc, "/api/guarantees/G-Y").await;
    assert_eq!(g["balance_fen"].as_i64(), Some(100_000_000));
    assert_eq!(g["reservations"][0]["state"], "released");
}

/// The last day to pay moves past a statutory holiday (the calendar, as the notice's due date):
/// notices issued on 2025-09-16 are due on 2025-10-01, National Day, so the last day is
/// 2025-10-09; enforcing during the holiday, or on that day, claims nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_date_on_a_holiday_is_not_enforced_before_the_working_day_after() {
    let t = T::start(false).await;
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 9, 16, 2, 0, 0).unwrap());
    let (ent, off, boc) = (
        t.login("ent-y").await,
        t.login("pd").await,
        t.login("bank-boc").await,
    );
    let (s, r) = t.register(&boc, terms("G-H", Y, 100_000_000)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (id, notices) = t.assessed(&ent, &off, 3).await;
    let (s, r) = t
        .post(
            &off,
            &format!("/api/declarations/{id}/guarantee-release"),
            json!({"guarantee_no": "G-H"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let notice = notices[0]["notice_no"].as_str().unwrap();
    let (_, view) = t.get(&ent, &format!("/api/notices/{notice}")).await;
    assert_eq!(view["due_on"], "2025-10-09", "{view}");
    for (day, claims) in [(2, 0), (9, 0), (10, 1)] {
        t.clock
            .set(Utc.with_ymd_and_hms(2025, 10, day, 8, 0, 0).unwrap());
        let off = t.login("pd").await;
        let (s, r) = t.post(&off, "/api/guarantees/enforce", json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        assert_eq!(
            r["claimed"].as_array().unwrap().len(),
            claims,
            "2025-10-{day:02}: {r}"
        );
    }
}

/// A later version changed what a declaration released against a guarantee owes: at the due
/// date the reservation is not claimed automatically (the bank would pay less than the notices
/// the claim settles), it is held for an officer with both amounts, and the notices stay owed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_whose_notices_changed_is_held_not_claimed() {
    let t = T::start(false).await;
    let (ent, off, boc) = (
        t.login("ent-y").await,
        t.login("pd").await,
        t.login("bank-boc").await,
    );
    let (s, r) = t.register(&boc, terms("G-V", Y, 100_000_000)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (id, notices) = t.assessed(&ent, &off, 4).await;
    let reserved = total(&notices);
    let (s, r) = t
        .post(
            &off,
            &format!("/api/declarations/{id}/guarantee-release"),
            json!({"guarantee_no": "G-V"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // An undervaluation found after release: version 2 owes far more than was reserved.
    let (s, r) = t
        .post(
            &off,
            &format!("/api/declarations/{id}/correction"),
            json!({"kind": "customs_value", "reason": "undervaluation found",
                   "taxpayer_breach": false, "changes": [
                {"field": "items[0].unit_price", "value": "35000.0000"},
                {"field": "items[0].total_price", "value": "3500000.00"},
            ]}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    let owed: i64 = d["notices"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["paid_at"].is_null() && n["superseded_at"].is_null())
        .map(|n| n["amount_fen"].as_i64().unwrap())
        .sum();
    assert!(owed > reserved, "owed {owed}, reserved {reserved}");

    t.clock
        .set(Utc.with_ymd_and_hms(2025, 4, 30, 8, 0, 0).unwrap());
    let off = t.login("pd").await;
    let (s, r) = t.post(&off, "/api/guarantees/enforce", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["claimed"], json!([]), "{r}");
    let held = r["held"].as_array().unwrap();
    assert_eq!(held.len(), 1, "{r}");
    assert_eq!(
        (
            held[0]["reserved_fen"].as_i64(),
            held[0]["owed_fen"].as_i64()
        ),
        (Some(reserved), Some(owed))
    );
    assert!(held[0]["reason_zh"].as_str().unwrap().contains("关员"));
    // Nothing was settled: the notices are still owed by the enterprise.
    let ent = t.login("ent-y").await;
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    assert!(d["notices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["paid_at"].is_null() && n["superseded_at"].is_null()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unpaid_after_the_due_date_the_guarantee_is_enforced_once() {
    let t = T::start(false).await;
    let (ent, off, boc) = (
        t.login("ent-y").await,
        t.login("pd").await,
        t.login("bank-boc").await,
    );
    let (s, r) = t.register(&boc, terms("G-Y", Y, 100_000_000)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (id, notices) = t.assessed(&ent, &off, 2).await;
    let owed = total(&notices);
    let (s, r) = t
        .post(
            &off,
            &format!("/api/declarations/{id}/guarantee-release"),
            json!({"guarantee_no": "G-Y"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");

    // Only tax officers enforce.
    for who in ["ent-y", "pd-release", "bank-boc"] {
        let token = t.login(who).await;
        let (s, r) = t.post(&token, "/api/guarantees/enforce", json!({})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{who}: {r}");
    }
    // Not yet due: nothing claimed, on the due date either.
    let (s, r) = t.post(&off, "/api/guarantees/enforce", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["claimed"], json!([]));
    t.clock
        .set(Utc.with_ymd_and_hms(2025, 3, 25, 8, 0, 0).unwrap());
    let off = t.login("pd").await;
    let (_, r) = t.post(&off, "/api/guarantees/enforce", json!({})).await;
    assert_eq!(
        (r["on"].as_str(), &r["claimed"]),
        (Some("2025-03-25"), &json!([]))
    );

    // The day after the due date: claimed against the bank, once.
    t.clock.advance(Duration::days(1));
    let off = t.login("pd").await;
    let outbox = |t: &T| {
        t.store
            .fetch_unpublished(0, 1000)
            .unwrap()
            .into_iter()
            .filter(|r| r.message.kind == "guarantee_enforced.v1")
            .collect::<Vec<_>>()
    };
    assert!(outbox(&t).is_empty());
    let (s, r) = t.post(&off, "/api/guarantees/enforce", json!({})).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["on"], "2025-03-26");
    let claimed = r["claimed"].as_array().unwrap();
    assert_eq!(claimed.len(), 1, "{r}");
    assert_eq!(
        (
            claimed[0]["guarantee_id"].as_str(),
            claimed[0]["bank"].as_str(),
            claimed[0]["amount_fen"].as_i64()
        ),
        (Some("G-Y"), Some("bank-boc"), Some(owed))
    );
    let (_, again) = t.post(&off, "/api/guarantees/enforce", json!({})).await;
    assert_eq!(again["claimed"], json!([]), "a reservation is claimed once");

    // The claim settled the notices (review gap 4): each is recorded paid by the guarantee's
    // bank, at its tax (no surcharge), so the enterprise can pay none of them again ...
    let ent = t.login("ent-y").await;
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    for n in d["notices"].as_array().unwrap() {
        let no = n["notice_no"]
            .as_str()
            .unwrap_or_else(|| panic!("{n}"))
            .to_owned();
        let p = &n["payment"];
        assert_eq!(
            (
                p["bank"].as_str(),
                p["reference"].as_str(),
                p["surcharge_fen"].as_i64(),
                p["guarantee_claim"].as_str()
            ),
            (
                Some("bank-boc"),
                Some(format!("GCLAIM-{no}").as_str()),
                Some(0),
                Some("G-Y")
            ),
            "{n}"
        );
        let (s, r) = t
            .post(
                &ent,
                &format!("/api/notices/{no}/payment-initiation"),
                json!({"bank": "bank-icbc"}),
            )
            .await;
        assert_refused(s, &r, "notice_already_paid");
        let icbc = t.login("bank-icbc").await;
        let (s, r) = t
            .post(
                &icbc,
                "/api/bank/payments",
                json!({"notice_no": no, "reference": format!("X-{no}"), "amount_fen": n["amount_fen"]}),
            )
            .await;
        assert_refused(s, &r, "notice_already_paid");
    }
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    assert_eq!(
        d["notices"].as_array().unwrap().len(),
        notices.len(),
        "no new notice"
    );
    // ... and nothing being owed, the declaration closes.
    let (s, r) = t
        .post(&off, &format!("/api/declarations/{id}/close"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(t.status(&ent, id).await, "closed");
    let boc = t.login("bank-boc").await;
    let (_, g) = t.get(&boc, "/api/guarantees/G-Y").await;
    assert_eq!(
        (
            g["claimed_fen"].as_i64(),
            g["reserved_fen"].as_i64(),
            g["balance_fen"].as_i64()
        ),
        (Some(owed), Some(0), Some(100_000_000 - owed)),
        "{g}"
    );
    assert_eq!(g["reservations"][0]["state"], "claimed");
    let sent = outbox(&t);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].message.recipients, ["BANK", "TAX"]);
    let payload: Value = serde_json::from_slice(&sent[0].message.payload).unwrap();
    assert_eq!(
        (
            payload["guarantee_id"].as_str(),
            payload["bank"].as_str(),
            payload["holder"].as_str(),
            payload["amount_fen"].as_i64(),
            payload["due_on"].as_str()
        ),
        (
            Some("G-Y"),
            Some("bank-boc"),
            Some(Y),
            Some(owed),
            Some("2025-03-25")
        ),
        "{payload}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transit_draws_on_a_guarantee_that_covers_its_goods() {
    let t = T::start(true).await;
    let (carrier, boc) = (t.login("carrier").await, t.login("bank-boc").await);
    let mut g = terms("G-CARRIER", CARRIER, 20_000_000);
    g["purposes"] = json!(["transit"]);
    let (s, r) = t.register(&boc, g).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let bills: Vec<Value> = [1, 2, 3]
        .iter()
        .map(|i| {
            json!({"bill_no": format!("TB-{i}"), "kind": {"kind": "master"},
            "lines": [{"packages": 10, "package_type": "CT", "gross_weight_kg": "260", "description": "laptops"}]})
        })
        .collect();
    let manifest = json!({
        "manifest_id": "MF-T", "kind": "original",
        "voyage": {"means": {"mode": "flight", "flight_no": "CA986"}, "voyage_no": "20250308",
            "direction": "import", "office": "2233"},
        "bills": bills
    });
    let (s, r) = t.post(&carrier, "/api/manifests", manifest).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests/MF-T/arrival",
            json!({"at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let transit = |no: &str, bill: &str, guarantee: Value| {
        json!({
            "transit_no": no, "declarant": CARRIER, "entry_office": "2233", "destination_office": "2300",
            "vehicle": {"mode": "truck", "plate": "沪A12345"}, "seals": ["S1"],
            "route": ["Pudong", "Nanjing"], "time_limit_hours": 24, "guarantee": guarantee, "bills": [bill]
        })
    };
    // Goods worth ¥600,000: the estimate is ¥145,800 (24.3 %).
    let covering = |no: &str, amount: i64| json!({"guarantee_no": no, "amount_fen": amount, "goods_value_fen": 60_000_000});
    let (s, r) = t
        .post(
            &carrier,
            "/api/transits",
            transit("TR-1", "TB-1", covering("G-CARRIER", 100)),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(
        r["error"]["problems"][0]["code"], "guarantee_short_of_estimate",
        "{r}"
    );
    let (s, r) = t
        .post(
            &carrier,
            "/api/transits",
            transit(
                "TR-1",
                "TB-1",
                covering("NO-SUCH-GUARANTEE-XYZ", 14_580_000),
            ),
        )
        .await;
    assert_refused(s, &r, "guarantee_unknown");
    let (s, r) = t
        .post(
            &carrier,
            "/api/transits",
            transit("TR-1", "TB-1", covering("G-CARRIER", 14_580_000)),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, g) = t.get(&boc, "/api/guarantees/G-CARRIER").await;
    assert_eq!(
        g["balance_fen"].as_i64(),
        Some(20_000_000 - 14_580_000),
        "{g}"
    );
    assert_eq!(
        (
            g["reservations"][0]["purpose"].as_str(),
            g["reservations"][0]["transit_no"].as_str()
        ),
        (Some("transit"), Some("TR-1"))
    );
    // Short of balance for a second one; the bill stays free.
    let (s, r) = t
        .post(
            &carrier,
            "/api/transits",
            transit("TR-2", "TB-2", covering("G-CARRIER", 14_580_000)),
        )
        .await;
    assert_refused(s, &r, "guarantee_short_of_balance");
    let (s, _) = t.get(&carrier, "/api/transits/TR-2").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Cancelled: the amount comes back.
    let (s, r) = t
        .post(
            &carrier,
            "/api/transits/TR-1/cancellation",
            json!({"reason": "plan changed"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, g) = t.get(&boc, "/api/guarantees/G-CARRIER").await;
    assert_eq!(g["balance_fen"].as_i64(), Some(20_000_000), "{g}");
    assert_eq!(g["reservations"][0]["state"], "released");
}

/// Review gap 6b: a release against a guarantee sends `declaration_released.v1` as an
/// ordinary release does, in the release's transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_against_a_guarantee_sends_the_release_message() {
    let t = T::start(false).await;
    let (ent, off, boc) = (
        t.login("ent-y").await,
        t.login("pd").await,
        t.login("bank-boc").await,
    );
    let (s, r) = t.register(&boc, terms("G-Y", Y, 100_000_000)).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (id, _) = t.assessed(&ent, &off, 3).await;
    let released = |t: &T| {
        t.store
            .fetch_unpublished(0, 1000)
            .unwrap()
            .into_iter()
            .filter(|r| r.message.kind == "declaration_released.v1")
            .collect::<Vec<_>>()
    };
    assert!(released(&t).is_empty());
    let (s, r) = t
        .post(
            &off,
            &format!("/api/declarations/{id}/guarantee-release"),
            json!({"guarantee_no": "G-Y"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    let sent = released(&t);
    assert_eq!(sent.len(), 1, "one release message");
    let payload: Value = serde_json::from_slice(&sent[0].message.payload).unwrap();
    assert_eq!(
        payload["declaration_no"], d["state"]["declaration_no"],
        "{payload}"
    );
    assert_eq!(payload["declarant"], Y, "{payload}");
}
