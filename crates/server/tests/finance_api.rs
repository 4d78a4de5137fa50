//! Black-box tests of export tax refund and foreign-exchange matching over HTTP (docs/EPORT.md
//! "Export tax refund", "Foreign exchange", "API"): a real server on port 0 with the E-Port
//! ledgers on. An export is filed, released and closed (exit confirmed); its enterprise claims
//! a refund; duplicate, mismatched and foreign claims are refused with reasons; 16 clients race
//! for one item; the tax agency sees the verified claims; a bank records receipts and the
//! foreign-exchange agency reads the class report; and every new endpoint is tried by every
//! kind of user.

mod common;

use std::str::FromStr;
use std::sync::Arc;

use app::{Clearance, Duty, NewUserRequest, Role};
use chrono::NaiveDate;
use domain::codes::{CurrencyCode, OfficeCode, Uscc};
use reqwest::StatusCode;
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};
use store::Store;

const PASSWORD: &str = "test-password";
/// The exporter (yellow lane: review, assess, pay, release, exit).
const Y: &str = "91310000132149237G";
/// Another enterprise.
const B: &str = "91440300MA5FT3XKX8";
/// The carrier whose vessels carry the exports.
const CARRIER: &str = "91110000600037341L";

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
                let desk = Arc::new(
                    app::cargo_desk::CargoDesk::open(
                        store.clone(),
                        app::cargo_desk::CargoPolicy::default(),
                    )
                    .unwrap(),
                );
                Clearance::new(store, common::refdata(), clock)
                    .with_registry(Box::new(common::general_class(Y)))
                    .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
                    .with_eport()
                    .with_cargo(desk)
            })
            .await,
        );
        t.user("ent-y", Role::Enterprise, Some(Y), None);
        t.user("ent-b", Role::Enterprise, Some(B), None);
        t.user("pd", Role::Officer, None, None);
        t.user("sat", Role::Agency, None, Some("tax"));
        t.user("safe", Role::Agency, None, Some("forex"));
        t.user("mofcom", Role::Agency, None, Some("commerce"));
        t.user("boc", Role::Bank, None, None);
        t.user("icbc", Role::Bank, None, None);
        t.user("admin", Role::Admin, None, None);
        t.user("carrier", Role::Carrier, Some(CARRIER), None);
        t
    }

    fn user(&self, login: &str, role: Role, uscc: Option<&str>, agency: Option<&str>) {
        let officer = role == Role::Officer;
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties: if officer {
                    vec![Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer]
                } else {
                    vec![]
                },
                office: officer.then(|| OfficeCode::parse("2233").unwrap()),
                uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
                agency: agency.map(str::to_owned),
            })
            .unwrap();
    }

    /// File, review, assess, pay and release one export of Y, its bill on a pre-load export
    /// manifest of its own; close it (the manifest departs: exit confirmed) when asked. Returns
    /// its number.
    async fn export(&self, ent: &str, off: &str, variant: u32, close: bool) -> String {
        let carrier = self.login("carrier").await;
        let bill = format!("COSU-FIN-{variant}");
        let (s, r) = self
            .post(
                &carrier,
                "/api/manifests",
                json!({
                    "manifest_id": format!("MF-{variant}"), "kind": "pre_load",
                    "voyage": {"means": {"mode": "vessel", "imo": "9074729", "name": "COSCO EXAMPLE"},
                        "voyage_no": format!("V{variant}"), "direction": "export", "office": "2233"},
                    "bills": [{"bill_no": bill, "kind": {"kind": "master"},
                        "lines": [{"packages": 400, "package_type": "CT", "gross_weight_kg": "5200", "description": "shoes"}]}]
                }),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let mut v: Value = serde_json::from_str(app::demo::EXPORT_TEMPLATE).unwrap();
        v["bill_no"] = bill.into();
        v["trader"]["uscc"] = Y.into();
        v["owner"]["uscc"] = Y.into();
        v["declaration_office"] = "2233".into();
        v["entry_exit_office"] = "2233".into();
        v["contract_no"] = format!("X-{variant}").into();
        let r = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(ent)
            .header("content-type", "application/json")
            .header("client-seq-no", format!("x-{variant}"))
            .body(v.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::CREATED);
        let filed: Value = r.json().await.unwrap();
        let id = filed["id"].as_i64().unwrap();
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
        let (s, r) = self.post(off, &step("release"), json!({})).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        if close {
            let (s, r) = self
                .post(
                    &carrier,
                    &format!("/api/manifests/MF-{variant}/departure"),
                    json!({"at": "2025-03-10T01:30:00Z"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{r}");
            let (_, d) = self.get(ent, &format!("/api/declarations/{id}")).await;
            assert_eq!(d["state"]["status"], "closed", "{d}");
        }
        d["declaration_no"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| d["state"]["declaration_no"].as_str().map(str::to_owned))
            .expect("numbered")
    }

    fn audit_records(&self) -> u64 {
        self.store.verify_audit().unwrap().records_checked
    }
}

/// The template's USD amount in fen at the customs rate of its declaration date (the tax
/// engine's rule), as customs computes it.
fn usd_fen(amount: &str) -> i64 {
    let date = NaiveDate::from_ymd_opt(2025, 4, 1).unwrap();
    let (rate_date, _) = tax::rates::rule_date(
        date,
        &tax::TradingCalendar::china(),
        &tax::TaxPolicy::default(),
    );
    let rate = tax::RateTable::sample()
        .get(CurrencyCode::parse("USD").unwrap(), rate_date)
        .unwrap()
        .per_unit();
    let fen = (Decimal::from_str(amount).unwrap() * rate * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(fen).unwrap()
}

fn claim(no: &str, item: u32, qty: &str, fen: i64) -> Value {
    json!({"declaration_no": no, "item_no": item, "hs_code": "6403990000",
           "quantity": qty, "fob_value_fen": fen})
}

fn codes(v: &Value) -> Vec<(String, String)> {
    v["error"]["problems"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|p| {
            assert!(
                !p["message_zh"].as_str().unwrap_or("").is_empty()
                    && !p["message_en"].as_str().unwrap_or("").is_empty(),
                "{p}"
            );
            (
                p["field"].as_str().unwrap().to_owned(),
                p["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_claims_matched_once_refused_with_reasons_seen_by_tax() {
    let t = TestApp::start().await;
    let ent = t.login("ent-y").await;
    let other = t.login("ent-b").await;
    let off = t.login("pd").await;
    let tax = t.login("sat").await;
    let no = t.export(&ent, &off, 1, true).await;
    let open_no = t.export(&ent, &off, 2, false).await;

    let (s, list) = t.get(&tax, "/api/eport/refund-claims").await;
    assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 0));

    // Accepted: item 1, FOB within one fen of the customs record.
    let fen1 = usd_fen("74000.00");
    let (s, c) = t
        .post(
            &ent,
            "/api/eport/refund-claims",
            claim(&no, 1, "4000", fen1 + 1),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{c}");
    assert_eq!(c["status"], "verified");
    assert_eq!(c["customs_fob_value_fen"], fen1);
    assert_eq!(c["claimant"], Y);

    // The same item again: 409, nothing written.
    let before = t.audit_records();
    let (s, r) = t
        .post(
            &ent,
            "/api/eport/refund-claims",
            claim(&no, 1, "4000", fen1),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate")),
        "{r}"
    );

    // Mismatched: commodity, quantity and FOB value all wrong; every reason listed.
    let mut wrong = claim(&no, 2, "2001", usd_fen("42500.00") + 5);
    wrong["hs_code"] = "6403190000".into();
    let (s, r) = t.post(&ent, "/api/eport/refund-claims", wrong).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(
        codes(&r),
        pairs(&[
            ("hs_code", "commodity_mismatch"),
            ("quantity", "quantity_mismatch"),
            ("fob_value_fen", "fob_value_mismatch"),
        ])
    );

    // Another enterprise's declaration looks like none at all.
    let (s, r) = t
        .post(
            &other,
            "/api/eport/refund-claims",
            claim(&no, 2, "2000", usd_fen("42500.00")),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(
        codes(&r),
        pairs(&[("declaration_no", "declaration_not_found")])
    );

    // Released but not closed (exit not confirmed): not yet claimable.
    let (s, r) = t
        .post(
            &ent,
            "/api/eport/refund-claims",
            claim(&open_no, 1, "4000", fen1),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(codes(&r), pairs(&[("declaration_no", "export_not_closed")]));

    // A malformed claim: 422 with the field, never 500.
    let (s, r) = t
        .post(
            &ent,
            "/api/eport/refund-claims",
            json!({"declaration_no": "12", "item_no": 1, "hs_code": "6403990000", "quantity": "1", "fob_value_fen": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(r["error"]["problems"][0]["field"], "declaration_no");
    assert_eq!(t.audit_records(), before, "refusals write nothing");

    // The tax agency sees the one verified claim; each enterprise follows its own.
    let (s, list) = t.get(&tax, "/api/eport/refund-claims").await;
    assert_eq!(s, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (
            list[0]["declaration_no"].as_str(),
            list[0]["item_no"].as_u64()
        ),
        (Some(no.as_str()), Some(1))
    );
    let (s, mine) = t.get(&ent, "/api/eport/my-refund-claims").await;
    assert_eq!((s, mine.as_array().unwrap().len()), (StatusCode::OK, 1));
    let (s, theirs) = t.get(&other, "/api/eport/my-refund-claims").await;
    assert_eq!((s, theirs.as_array().unwrap().len()), (StatusCode::OK, 0));
    assert!(t.store.verify_audit().unwrap().is_intact());
}

/// 16 clients claim the same item at once: exactly one is accepted, 15 are duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_duplicate_claims_exactly_one_accepted() {
    const N: usize = 16;
    let t = Arc::new(TestApp::start().await);
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let no = t.export(&ent, &off, 3, true).await;
    let body = claim(&no, 2, "2000", usd_fen("42500.00"));
    let barrier = Arc::new(tokio::sync::Barrier::new(N));
    let mut tasks = Vec::new();
    for _ in 0..N {
        let (t, ent, body, barrier) = (t.clone(), ent.clone(), body.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            t.post(&ent, "/api/eport/refund-claims", body).await
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        let (s, r) = task.await.unwrap();
        match s {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_eq!(r["error"]["code"], "duplicate", "{r}");
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {r}"),
        }
    }
    assert_eq!((created, conflicts), (1, N - 1));
    let (_, mine) = t.get(&ent, "/api/eport/my-refund-claims").await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
}

/// The id of the declaration numbered `no`.
fn id_of(t: &TestApp, no: &str) -> i64 {
    let key =
        store::DeclarationKey::DeclarationNo(domain::codes::DeclarationNo::parse(no).unwrap());
    t.store.load(key).unwrap().unwrap().id.0
}

/// The tax agency records the refund paid on a verified claim: once (a second payment and all
/// but one of racing payments 409), within the claim's ceiling (422 on `amount_fen` above
/// it), only by the tax agency (403, nothing written); an unknown claim 404; bad input 422
/// with its field. Then the declaration cannot be amended or cancelled: 409 `refund_paid`,
/// naming the payment, in both languages.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refund_paid_once_within_its_ceiling_and_binding_the_declaration() {
    let t = Arc::new(TestApp::start().await);
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let tax = t.login("sat").await;
    let no = t.export(&ent, &off, 4, true).await;
    for (item, qty, amount) in [(1, "4000", "74000.00"), (2, "2000", "42500.00")] {
        let (s, c) = t
            .post(
                &ent,
                "/api/eport/refund-claims",
                claim(&no, item, qty, usd_fen(amount)),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
    }
    let pay = |item: u32| format!("/api/eport/refund-claims/{no}/{item}/payment");
    let body = |amount: i64, on: &str, reference: &str| json!({"amount_fen": amount, "paid_on": on, "bank_reference": reference});

    // Nobody but the tax agency: 403, nothing written; without a session 401. (Signing in is
    // audited, so everyone signs in before the count is taken.)
    let mut others = Vec::new();
    for login in ["ent-y", "pd", "mofcom", "boc", "safe", "admin"] {
        others.push((login, t.login(login).await));
    }
    let before = t.audit_records();
    for (login, token) in &others {
        let (s, r) = t.post(token, &pay(1), body(100, "2025-03-10", "T-0")).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{login}: {r}");
    }
    let (s, _) = t
        .call(
            reqwest::Method::POST,
            None,
            &pay(1),
            Some(body(100, "2025-03-10", "T-0")),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // Bad input: each with its field, never 500.
    let ceiling = {
        // Shoes (6403990000) bear VAT at 13 %: the ceiling is 13 % of the customs FOB value.
        let fob = Decimal::from(usd_fen("74000.00"));
        i64::try_from((fob * Decimal::from_str("0.13").unwrap()).floor()).unwrap()
    };
    for (b, field, code) in [
        (
            body(ceiling + 1, "2025-03-10", "T-1"),
            "amount_fen",
            "refund_over_ceiling",
        ),
        (
            body(0, "2025-03-10", "T-1"),
            "amount_fen",
            "amount_not_positive",
        ),
        (
            body(100, "2025-03-10", " "),
            "bank_reference",
            "bad_bank_reference",
        ),
        (body(100, "2025-03-11", "T-1"), "paid_on", "paid_in_future"),
        (
            body(100, "2025-03-09", "T-1"),
            "paid_on",
            "paid_before_claim",
        ),
    ] {
        let (s, r) = t.post(&tax, &pay(1), b).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
        assert_eq!(codes(&r), pairs(&[(field, code)]), "{r}");
    }
    for (path, b) in [
        (pay(1), json!({"amount_fen": "x"})),
        (
            pay(1),
            json!({"amount_fen": 1, "paid_on": "2025-03-10", "bank_reference": "T", "x": 1}),
        ),
        (
            "/api/eport/refund-claims/12/1/payment".to_owned(),
            body(1, "2025-03-10", "T"),
        ),
        (
            format!("/api/eport/refund-claims/{no}/0/payment"),
            body(1, "2025-03-10", "T"),
        ),
    ] {
        let (s, r) = t.post(&tax, &path, b).await;
        assert!(
            matches!(
                s,
                StatusCode::UNPROCESSABLE_ENTITY | StatusCode::BAD_REQUEST
            ),
            "{path}: {s} {r}"
        );
        assert!(r["error"]["message_zh"].is_string(), "{r}");
    }
    let (s, _) = t.post(&tax, &pay(9), body(100, "2025-03-10", "T-9")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(t.audit_records(), before, "refusals write nothing");

    // Paid at the ceiling exactly; the claim says so; a second payment 409.
    let (s, c) = t
        .post(&tax, &pay(1), body(ceiling, "2025-03-10", "TR-0001"))
        .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "paid");
    assert_eq!(c["payment"]["amount_fen"], ceiling);
    assert_eq!(c["payment"]["bank_reference"], "TR-0001");
    assert_eq!(c["payment"]["paid_by"], "tax");
    let (s, r) = t
        .post(&tax, &pay(1), body(1, "2025-03-10", "TR-0002"))
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("refund_already_paid")),
        "{r}"
    );
    let (_, mine) = t.get(&ent, "/api/eport/my-refund-claims").await;
    assert!(
        mine.as_array()
            .unwrap()
            .iter()
            .any(|c| c["item_no"] == 1 && c["status"] == "paid"),
        "{mine}"
    );

    // 8 tax clients pay item 2 at once: exactly one is recorded.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (t, tax, path) = (t.clone(), tax.clone(), pay(2));
        tasks.push(tokio::spawn(async move {
            t.post(&tax, &path, json!({"amount_fen": 100 + i, "paid_on": "2025-03-10", "bank_reference": format!("TR-R-{i}")}))
                .await
        }));
    }
    let mut paid = 0;
    for task in tasks {
        let (s, r) = task.await.unwrap();
        match s {
            StatusCode::OK => paid += 1,
            StatusCode::CONFLICT => assert_eq!(r["error"]["code"], "refund_already_paid", "{r}"),
            other => panic!("unexpected {other}: {r}"),
        }
    }
    assert_eq!(paid, 1);

    // The declaration whose refund was paid is not amended or cancelled.
    let id = id_of(&t, &no);
    for (step, b) in [
        (
            "amendment-request",
            json!({"reason": "quantity", "changes": [{"field": "items[0].declared_quantity", "value": "3900"}]}),
        ),
        ("cancellation-request", json!({"reason": "goods returned"})),
    ] {
        let (s, r) = t
            .post(&ent, &format!("/api/declarations/{id}/{step}"), b)
            .await;
        assert_eq!(
            (s, r["error"]["code"].as_str()),
            (StatusCode::CONFLICT, Some("refund_paid")),
            "{step}: {r}"
        );
        assert!(
            r["error"]["message_zh"]
                .as_str()
                .unwrap()
                .contains("税务机关"),
            "{r}"
        );
        assert!(
            r["error"]["message_en"]
                .as_str()
                .unwrap()
                .contains("TR-0001"),
            "{r}"
        );
    }
    assert!(t.store.verify_audit().unwrap().is_intact());

    // The OpenAPI document lists the endpoint.
    let (_, doc) = t
        .call(reqwest::Method::GET, None, "/api/openapi.json", None)
        .await;
    assert!(
        doc["paths"]["/api/eport/refund-claims/{declaration_no}/{item_no}/payment"]
            .get("post")
            .is_some(),
        "the payment in the OpenAPI document"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bank_records_and_the_forex_class_report() {
    let t = TestApp::start().await;
    let ent = t.login("ent-y").await;
    let other = t.login("ent-b").await;
    let off = t.login("pd").await;
    let boc = t.login("boc").await;
    let icbc = t.login("icbc").await;
    let safe = t.login("safe").await;
    t.export(&ent, &off, 4, true).await;
    // The goods: both items of the export, in fen.
    let goods = usd_fen("74000.00") + usd_fen("42500.00");

    let receipt = |bank_ref: &str, yuan_fen: i64| {
        json!({"kind": "receipt", "uscc": Y, "amount": Decimal::new(yuan_fen, 2).to_string(),
               "currency": "CNY", "value_date": "2025-03-10", "bank_ref": bank_ref})
    };
    // 80 % received: a 20 % divergence, class B.
    let (s, r) = t
        .post(
            &boc,
            "/api/eport/bank-records",
            receipt("BOC-1", goods * 8 / 10),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["amount_fen"], goods * 8 / 10);
    assert_eq!(r["bank"], "boc");
    // The same reference at the same bank: 409; at another bank: another record.
    let (s, r) = t
        .post(&boc, "/api/eport/bank-records", receipt("BOC-1", 100))
        .await;
    assert_eq!(
        (s, r["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate"))
    );
    // A currency without a rate on the value date, and a bad amount: every problem.
    let mut bad = receipt("BOC-2", 100);
    bad["currency"] = "USD".into();
    bad["value_date"] = "2019-01-10".into();
    bad["amount"] = "1.001".into();
    let (s, r) = t.post(&boc, "/api/eport/bank-records", bad).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(
        codes(&r),
        pairs(&[
            ("amount", "invalid_amount"),
            ("currency", "no_exchange_rate")
        ])
    );
    // A payment of B in USD, converted at the customs rate.
    let (s, r) = t
        .post(
            &icbc,
            "/api/eport/bank-records",
            json!({"kind": "payment", "uscc": B, "amount": "1000.00", "currency": "USD",
                   "value_date": "2025-03-10", "bank_ref": "BOC-1"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert!(r["amount_fen"].as_i64().unwrap() > 100_000);
    let (s, list) = t.get(&boc, "/api/eport/bank-records").await;
    assert_eq!((s, list.as_array().unwrap().len()), (StatusCode::OK, 1));

    let (s, rep) = t
        .get(
            &safe,
            "/api/eport/forex/report?from=2025-01-01&to=2025-12-31",
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{rep}");
    let line = |rep: &Value, uscc: &str| {
        rep["enterprises"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["uscc"] == uscc)
            .cloned()
            .unwrap()
    };
    let y = line(&rep, Y);
    assert_eq!(y["class"], "B", "{y}");
    assert_eq!(y["export_goods_fen"], goods);
    assert_eq!(y["receipts_fen"], goods * 8 / 10);
    assert_eq!(y["divergence_bp"], 2000);
    // B paid for imports it never declared: class C, listed first.
    assert_eq!(line(&rep, B)["class"], "C");
    assert_eq!(rep["enterprises"][0]["uscc"], B);
    assert_eq!(
        (rep["class_b"].as_u64(), rep["class_c"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(rep["policy"]["class_a_divergence_bp_max"], 1000);

    // The enterprise sees its own status; the rest arrives and it is class A.
    let (s, st) = t.get(&ent, "/api/eport/forex/my-status").await;
    assert_eq!(
        (s, st["class"].as_str()),
        (StatusCode::OK, Some("B")),
        "{st}"
    );
    let (s, r) = t
        .post(
            &boc,
            "/api/eport/bank-records",
            receipt("BOC-3", goods - goods * 8 / 10),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let (_, st) = t.get(&ent, "/api/eport/forex/my-status").await;
    assert_eq!(
        (st["class"].as_str(), st["gap_fen"].as_i64()),
        (Some("A"), Some(0)),
        "{st}"
    );
    let (s, st) = t.get(&other, "/api/eport/forex/my-status").await;
    assert_eq!(
        (s, st["class"].as_str()),
        (StatusCode::OK, Some("C")),
        "{st}"
    );

    // A bad period: 422, not 500.
    let (s, r) = t
        .get(
            &safe,
            "/api/eport/forex/report?from=2025-12-31&to=2025-01-01",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let (s, _) = t.get(&safe, "/api/eport/forex/report?from=yesterday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(t.store.verify_audit().unwrap().is_intact());
}

/// Every new endpoint × every kind of user: allowed ones answer 2xx (or a 4xx other than
/// 401/403/404 for a body the use case refuses), denied ones 403 and write nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finance_access_matrix_over_http() {
    let t = TestApp::start().await;
    let logins = ["ent-y", "pd", "sat", "safe", "mofcom", "boc", "admin"];
    let mut tokens = std::collections::HashMap::new();
    for l in logins {
        tokens.insert(l, t.login(l).await);
    }
    let bank_body = json!({"kind": "receipt", "uscc": Y, "amount": "10.00", "currency": "CNY",
                           "value_date": "2025-03-10", "bank_ref": "M-1"});
    let claim_body = claim("223320250000000001", 1, "1", 1);
    let endpoints: Vec<(&str, &str, Option<Value>, &[&str])> = vec![
        (
            "POST",
            "/api/eport/refund-claims",
            Some(claim_body),
            &["ent-y"],
        ),
        ("GET", "/api/eport/refund-claims", None, &["sat"]),
        ("GET", "/api/eport/my-refund-claims", None, &["ent-y"]),
        ("POST", "/api/eport/bank-records", Some(bank_body), &["boc"]),
        ("GET", "/api/eport/bank-records", None, &["boc"]),
        ("GET", "/api/eport/forex/report", None, &["safe"]),
        ("GET", "/api/eport/forex/my-status", None, &["ent-y"]),
    ];
    let mut cells = 0;
    for (method, path, body, allowed) in &endpoints {
        for login in logins {
            let before = t.audit_records();
            let (s, r) = t
                .call(
                    method.parse().unwrap(),
                    Some(&tokens[login]),
                    path,
                    body.clone(),
                )
                .await;
            let denied = matches!(
                s,
                StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::UNAUTHORIZED
            );
            assert_eq!(
                !denied,
                allowed.contains(&login),
                "{login} {method} {path}: {s} {r}"
            );
            if denied {
                assert_eq!(s, StatusCode::FORBIDDEN, "{login} {method} {path}: {r}");
                assert_eq!(
                    t.audit_records(),
                    before,
                    "{login} {path}: a denied request wrote"
                );
            }
            cells += 1;
        }
        // Without a session: 401.
        let (s, _) = t
            .call(method.parse().unwrap(), None, path, body.clone())
            .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(cells, endpoints.len() * logins.len());

    // The OpenAPI document lists the endpoints.
    let (_, doc) = t
        .call(reqwest::Method::GET, None, "/api/openapi.json", None)
        .await;
    for (method, path, _, _) in &endpoints {
        let m = method.to_ascii_lowercase();
        assert!(
            doc["paths"][path].get(&m).is_some(),
            "{method} {path} in the OpenAPI document"
        );
    }
}
