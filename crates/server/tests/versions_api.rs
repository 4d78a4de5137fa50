//! Declaration versions, re-assessment and refunds over HTTP (issue 14 items 1, 2 and 8): an
//! amendment after payment makes a new version that is re-assessed into a supplementary notice
//! with its legal basis, paid late through the bank with its surcharge to the fen; an officer's
//! correction of an undervaluation becomes a recovery with a surcharge notice of its own; an
//! amendment down becomes a refund that the enterprise requests and a tax officer approves with
//! interest, sent to the tax agency; and every bad request is refused with its reasons in both
//! languages, writing nothing.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use chrono::Duration;
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::Store;

/// Yellow lane (a discrepancy last year): review, then assessment by an officer.
const Y: &str = "91310000132149237G";
const OTHER: &str = "91440300MA5FT3XKX8";
const OFFICE: &str = "2233";

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
            Clearance::new(store, common::refdata(), clock)
                .with_registry(Box::new(common::general_class(Y)))
                .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
        })
        .await);
        t.user("ent", Role::Enterprise, None, Some(Y), &[]);
        t.user("other", Role::Enterprise, None, Some(OTHER), &[]);
        t.user(
            "off",
            Role::Officer,
            Some(OFFICE),
            None,
            &[Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer],
        );
        t.user("rev", Role::Officer, Some(OFFICE), None, &[Duty::Reviewer]);
        t
    }

    fn user(&self, login: &str, role: Role, office: Option<&str>, uscc: Option<&str>, d: &[Duty]) {
        self.bootstrap(NewUserRequest {
            login: login.into(),
            password: common::PASSWORD.into(),
            role,
            duties: d.to_vec(),
            office: office.map(|o| OfficeCode::parse(o).unwrap()),
            uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
            agency: None,
        });
    }

    /// File, review, assess and pay every notice: a paid declaration.
    async fn paid(&self, ent: &str, off: &str, seq: &str) -> i64 {
        let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
        v["trader"]["uscc"] = Y.into();
        v["owner"]["uscc"] = Y.into();
        v["declaration_office"] = OFFICE.into();
        v["entry_exit_office"] = OFFICE.into();
        v["contract_no"] = format!("V-{seq}").into();
        let resp = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(ent)
            .header("content-type", "application/json")
            .header("client-seq-no", seq)
            .body(v.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        let filed: Value = resp.json().await.unwrap();
        assert_eq!(filed["status"], "document_review", "{filed}");
        let id = filed["id"].as_i64().unwrap();
        self.ok(off, id, "review", json!({"result": "conform"}))
            .await;
        self.ok(off, id, "assess", json!({})).await;
        for n in self.notices(ent, id).await {
            if n["paid_at"].is_null() && n["superseded_at"].is_null() {
                self.pay_through_bank(ent, n["notice_no"].as_str().unwrap())
                    .await;
            }
        }
        assert_eq!(self.detail(ent, id).await["state"]["status"], "paid");
        id
    }

    async fn step(&self, token: &str, id: i64, name: &str, body: Value) -> (StatusCode, Value) {
        self.post(token, &format!("/api/declarations/{id}/{name}"), body)
            .await
    }

    async fn ok(&self, token: &str, id: i64, name: &str, body: Value) -> Value {
        let (s, r) = self.step(token, id, name, body).await;
        assert_eq!(s, StatusCode::OK, "{name}: {r}");
        r
    }

    async fn detail(&self, token: &str, id: i64) -> Value {
        let (s, d) = self.get(token, &format!("/api/declarations/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        d
    }

    async fn notices(&self, token: &str, id: i64) -> Vec<Value> {
        self.detail(token, id).await["notices"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Events and audit records: what "nothing written" is checked against.
    fn written(&self, id: i64) -> (usize, u64, String) {
        let events = self.store.events(store::DeclarationId(id)).unwrap().len();
        let audit = self.store.verify_audit().unwrap().records_checked;
        let body = self
            .store
            .load(store::DeclarationKey::Id(store::DeclarationId(id)))
            .unwrap()
            .unwrap()
            .body_json;
        (events, audit, body)
    }
}

fn change(field: &str, value: &str) -> Value {
    json!({"field": field, "value": value})
}

/// A refusal: the status, the code, and reasons in both languages.
fn refused(s: StatusCode, r: &Value, status: StatusCode, code: &str) {
    assert_eq!(s, status, "{r}");
    assert_eq!(r["error"]["code"], code, "{r}");
    assert!(
        r["error"]["message_zh"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
            && r["error"]["message_en"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
        "{r}"
    );
}

fn problem_fields(r: &Value) -> Vec<(String, String)> {
    r["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(
                p["message_zh"].as_str().is_some_and(|m| !m.is_empty())
                    && p["message_en"].as_str().is_some_and(|m| !m.is_empty()),
                "{p}"
            );
            (
                p["field"].as_str().unwrap().to_owned(),
                p["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn num(v: &Value) -> f64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_f64())
        .unwrap_or_else(|| panic!("not a number: {v}"))
}

fn fen(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not fen: {v}"))
}

/// Half up, as every amount in fen is rounded.
fn round_div(num: i128, den: i128) -> i64 {
    ((2 * num + den) / (2 * den)) as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amendment_after_payment_is_a_new_version_with_a_supplementary_notice() {
    let t = T::start().await;
    let ent = t.login("ent").await;
    let off = t.login("off").await;
    let other = t.login("other").await;
    let id = t.paid(&ent, &off, "sup-1").await;
    let paid_before: i64 = t
        .notices(&ent, id)
        .await
        .iter()
        .map(|n| fen(&n["amount_fen"]))
        .sum();

    // Unknown and frozen fields are refused at the request, every one at once, nothing written.
    let before = t.written(id);
    let (s, r) = t
        .step(
            &ent,
            id,
            "amendment-request",
            json!({"reason": "price", "changes": [
                change("no.such.field", "1"),
                change("direction", "export"),
                change("trader.uscc", OTHER),
                change("items[0].unit_price", "351"),
            ]}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let fields = problem_fields(&r);
    for (f, code) in [
        ("no.such.field", "unknown_field_path"),
        ("direction", "field_not_amendable"),
        ("trader.uscc", "field_not_amendable"),
    ] {
        assert!(
            fields.iter().any(|(a, b)| a == f && b == code),
            "{f} {code}: {fields:?}"
        );
    }
    assert_eq!(fields.len(), 3, "{fields:?}");
    assert_eq!(t.written(id), before, "a refused request wrote");

    // Another enterprise sees nothing of it.
    let (s, _) = t
        .step(
            &other,
            id,
            "amendment-request",
            json!({"reason": "x", "changes": [change("items[0].unit_price", "1")]}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t
        .get(&other, &format!("/api/declarations/{id}/versions"))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // A new version that does not validate: the request itself is refused with every problem
    // (the would-be version is validated in full, as its approval would) and nothing is
    // written. A valid request can still be refused by the officer.
    let before = t.written(id);
    let (s, r) = t
        .step(
            &ent,
            id,
            "amendment-request",
            json!({"reason": "typo", "changes": [
                change("items[0].unit_price", "abc"),
                change("items[0].origin_country", "XXX"),
            ]}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let fields = problem_fields(&r);
    assert!(fields.len() >= 2, "every problem at once: {fields:?}");
    assert!(
        fields.iter().any(|(f, _)| f.contains("unit_price")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|(f, _)| f.contains("origin_country")),
        "{fields:?}"
    );
    assert_eq!(t.written(id), before, "a refused request wrote");
    t.ok(
        &ent,
        id,
        "amendment-request",
        json!({"reason": "typo", "changes": [
            change("items[0].unit_price", "35000.0000"),
            change("items[0].total_price", "3500000.00"),
        ]}),
    )
    .await;
    t.ok(
        &off,
        id,
        "request-refusal",
        json!({"reason": "invoice not shown"}),
    )
    .await;

    // Unit price × 100 on item 1, approved: version 2, re-assessed.
    t.ok(
        &ent,
        id,
        "amendment-request",
        json!({"reason": "the invoice price was 100 times higher", "changes": [
            change("items[0].unit_price", "35000.0000"),
            change("items[0].total_price", "3500000.00"),
        ]}),
    )
    .await;
    let r = t
        .ok(
            &off,
            id,
            "request-approval",
            json!({"reason": "invoice checked"}),
        )
        .await;
    assert_eq!(
        r["status"], "assessed",
        "a supplementary notice is outstanding"
    );

    let d = t.detail(&ent, id).await;
    assert_eq!(num(&d["declaration"]["items"][0]["unit_price"]), 35000.0);
    assert_eq!(d["state"]["version_no"], 2);
    let no = d["state"]["declaration_no"].as_str().unwrap().to_owned();
    let notices = d["notices"].as_array().unwrap().clone();
    let new: Vec<&Value> = notices
        .iter()
        .filter(|n| n["notice_no"].as_str().unwrap().ends_with("-V2"))
        .collect();
    assert!(!new.is_empty(), "{notices:?}");
    for n in &new {
        assert!(n["notice_no"].as_str().unwrap().starts_with(&no));
        assert!(n["paid_at"].is_null() && fen(&n["amount_fen"]) > 0);
    }
    // The engine's assessment of the new version is what is now due, paid or not.
    let due: i64 = d["tax"]["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| fen(&n["payable_fen"]))
        .sum();
    let total: i64 = notices.iter().map(|n| fen(&n["amount_fen"])).sum();
    assert_eq!(total, due, "paid + supplementary = the new assessment");
    assert!(total > paid_before);

    // The versions, with their differences and the supplementary basis.
    let (s, versions) = t
        .get(&ent, &format!("/api/declarations/{id}/versions"))
        .await;
    assert_eq!(s, StatusCode::OK, "{versions}");
    let list = versions.as_array().unwrap();
    assert_eq!(list.len(), 2, "{versions}");
    assert_eq!(list[0]["version"], 1);
    let v2 = &list[1];
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["source"]["source"], "amendment");
    assert_eq!(
        v2["source"]["reason"],
        "the invoice price was 100 times higher"
    );
    let paths: Vec<&str> = v2["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["items[0].total_price", "items[0].unit_price"]);
    assert_eq!(num(&v2["changes"][1]["before"]), 350.0);
    assert_eq!(num(&v2["changes"][1]["after"]), 35000.0);
    assert_eq!(v2["risk_relevant"], true);
    let collected = v2["reassessment"]["notices"].as_array().unwrap();
    assert_eq!(collected.len(), new.len());
    for n in collected {
        assert_eq!(n["outcome"], "supplementary", "{n}");
        assert_eq!(n["basis"]["rule"], "supplementary");
        assert!(
            n["basis"]["basis_zh"].as_str().unwrap().contains("关税法"),
            "{n}"
        );
    }

    // The supplementary notices are paid like any other, here late: issued on 2025-03-10
    // (China), due 15 days later (2025-03-25, a Tuesday, no holiday), paid through the bank on
    // 2025-04-19, 25 days late: 0.05 % a day of each notice's tax, rounded half up to the fen,
    // checked here from the figures alone.
    t.clock.advance(Duration::days(40));
    // Sessions expired meanwhile: sign in again.
    let ent = t.login("ent").await;
    let bank = t.bank_token().await;
    for n in new {
        let notice_no = n["notice_no"].as_str().unwrap();
        let tax_fen = fen(&n["amount_fen"]);
        let (s, view) = t.get(&ent, &format!("/api/notices/{notice_no}")).await;
        assert_eq!(s, StatusCode::OK, "{view}");
        assert_eq!(view["issued_on"], "2025-03-10", "{view}");
        assert_eq!(view["due_on"], "2025-03-25", "{view}");
        assert_eq!(view["on"], "2025-04-19", "{view}");
        assert_eq!(view["surcharge_days"], 25, "{view}");
        // tax_fen / 100 yuan × 0.0005 × 25, in fen, half up: tax_fen × 125 / 10_000.
        let surcharge = round_div(i128::from(tax_fen) * 125, 10_000);
        assert!(surcharge >= 5_000, "above the 50 yuan floor: {surcharge}");
        assert_eq!(fen(&view["surcharge_fen"]), surcharge, "{view}");
        assert_eq!(fen(&view["amount_due_fen"]), tax_fen + surcharge, "{view}");

        let (s, v) = t
            .post(
                &ent,
                &format!("/api/notices/{notice_no}/payment-initiation"),
                json!({"bank": "bank-test"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        assert_eq!(fen(&v["amount_due_fen"]), tax_fen + surcharge, "{v}");
        // The tax alone is not what is due: refused, nothing paid.
        let (s, r) = t
            .post(
                &bank,
                "/api/bank/payments",
                json!({"notice_no": notice_no, "reference": format!("LATE-{notice_no}"),
                    "amount_fen": tax_fen}),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
        assert_eq!(
            problem_fields(&r),
            [("amount_fen".to_owned(), "wrong_amount".to_owned())]
        );
        let (s, r) = t
            .post(
                &bank,
                "/api/bank/payments",
                json!({"notice_no": notice_no, "reference": format!("LATE-{notice_no}"),
                    "amount_fen": tax_fen + surcharge}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        let (_, view) = t.get(&ent, &format!("/api/notices/{notice_no}")).await;
        assert_eq!(fen(&view["payment"]["surcharge_fen"]), surcharge, "{view}");
        assert_eq!(
            fen(&view["payment"]["paid_fen"]),
            tax_fen + surcharge,
            "{view}"
        );
    }
    assert_eq!(t.detail(&ent, id).await["state"]["status"], "paid");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undervaluation_found_is_recovered_with_its_surcharge_on_a_notice_of_its_own() {
    let t = T::start().await;
    let ent = t.login("ent").await;
    let off = t.login("off").await;
    let id = t.paid(&ent, &off, "rec-1").await;
    t.clock.advance(Duration::days(10));
    let (ent, off) = (t.login("ent").await, t.login("off").await);

    // A correction outside its kind, or from the enterprise, is refused.
    let (s, r) = t
        .step(
            &off,
            id,
            "correction",
            json!({"kind": "origin", "reason": "r", "changes": [change("items[0].unit_price", "1")]}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert_eq!(problem_fields(&r)[0].1, "outside_correction_kind");
    let (s, _) = t
        .step(
            &ent,
            id,
            "correction",
            json!({"kind": "customs_value", "reason": "r", "changes": [change("items[0].unit_price", "1")]}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let r = t
        .ok(
            &off,
            id,
            "correction",
            json!({"kind": "customs_value", "reason": "undervaluation found at inspection",
                   "taxpayer_breach": true, "changes": [
                change("items[0].unit_price", "35000.0000"),
                change("items[0].total_price", "3500000.00"),
            ]}),
        )
        .await;
    assert_eq!(r["status"], "assessed");
    let (_, versions) = t
        .get(&off, &format!("/api/declarations/{id}/versions"))
        .await;
    let v2 = &versions[1];
    // The price touches what risk looks at: its re-evaluation is recorded for officers only.
    assert_eq!(v2["risk_relevant"], true);
    assert!(v2["risk"]["lane"].is_string(), "{v2}");
    let (_, seen) = t
        .get(&ent, &format!("/api/declarations/{id}/versions"))
        .await;
    assert!(seen[1].get("risk").is_none(), "{}", seen[1]);
    let events = t.detail(&ent, id).await["events"].clone();
    assert!(!events.to_string().contains("\"risk\":{"), "{events}");
    assert_eq!(v2["source"]["source"], "officer_correction");
    assert_eq!(v2["source"]["kind"], "customs_value");
    assert_eq!(v2["source"]["officer"]["login"], "off");
    let lines = v2["reassessment"]["lines"].as_array().unwrap();
    // The surcharge: 0.05 % a day of each recovered amount from payment to the decision (10
    // days), to the fen, not levied under 50 yuan; on one notice of its own kind.
    let mut expected = 0;
    for l in lines.iter().filter(|l| l["outcome"] == "recovery") {
        assert_eq!(l["basis"]["rule"], "recovery");
        let s = round_div(i128::from(fen(&l["amount_fen"])) * 5 * 10, 10_000);
        expected += if s < 5_000 { 0 } else { s };
    }
    assert!(expected > 0, "{lines:?}");
    let notices = t.notices(&ent, id).await;
    let surcharge: Vec<&Value> = notices
        .iter()
        .filter(|n| n["tax"] == "recovery_surcharge")
        .collect();
    assert_eq!(surcharge.len(), 1, "{notices:?}");
    assert_eq!(fen(&surcharge[0]["amount_fen"]), expected);
    assert!(surcharge[0]["notice_no"]
        .as_str()
        .unwrap()
        .ends_with("-recovery_surcharge-V2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amendment_down_is_refunded_with_interest_once_a_tax_officer_approves() {
    let t = T::start().await;
    let ent = t.login("ent").await;
    let off = t.login("off").await;
    let id = t.paid(&ent, &off, "ref-1").await;
    t.clock.advance(Duration::days(30));
    let (ent, off, rev) = (
        t.login("ent").await,
        t.login("off").await,
        t.login("rev").await,
    );
    t.ok(
        &ent,
        id,
        "amendment-request",
        json!({"reason": "the invoice price was half", "changes": [
            change("items[0].unit_price", "175.0000"),
            change("items[0].total_price", "17500.00"),
        ]}),
    )
    .await;
    let r = t
        .ok(
            &off,
            id,
            "request-approval",
            json!({"reason": "invoice checked"}),
        )
        .await;
    assert_eq!(r["status"], "paid", "nothing new to pay");
    let d = t.detail(&ent, id).await;
    let refunds = d["state"]["refunds"].as_array().unwrap().clone();
    assert!(!refunds.is_empty(), "{}", d["state"]);
    let paid: i64 = d["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| fen(&n["amount_fen"]))
        .sum();
    let due: i64 = d["tax"]["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| fen(&n["payable_fen"]))
        .sum();
    let refunded: i64 = refunds
        .iter()
        .map(|r| fen(&r["record"]["amount_fen"]))
        .sum();
    assert_eq!(paid - refunded, due, "paid − refunds = the new assessment");
    let refund = &refunds[0];
    let no = refund["record"]["refund_no"].as_str().unwrap().to_owned();
    assert_eq!(refund["status"], "open");
    assert_eq!(refund["record"]["origin"], "taxpayer");
    assert_eq!(refund["record"]["basis"]["rule"], "refund_request");

    // A taxpayer's refund waits for its request; officers without the tax duty may not decide.
    let (s, r) = t
        .step(
            &off,
            id,
            "refund-approval",
            json!({"refund_no": no, "reason": "ok"}),
        )
        .await;
    refused(s, &r, StatusCode::CONFLICT, "refund_not_open");
    let (s, r) = t
        .step(
            &ent,
            id,
            "refund-request",
            json!({"refund_no": "NO-SUCH-REFUND"}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "unknown_refund");
    t.ok(&ent, id, "refund-request", json!({"refund_no": no}))
        .await;
    let (s, _) = t
        .step(
            &rev,
            id,
            "refund-approval",
            json!({"refund_no": no, "reason": "ok"}),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let before = t.written(id);
    let (s, r) = t
        .step(
            &off,
            id,
            "refund-approval",
            json!({"refund_no": no, "reason": ""}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "missing");
    assert_eq!(t.written(id), before);
    t.ok(
        &off,
        id,
        "refund-approval",
        json!({"refund_no": no, "reason": "checked"}),
    )
    .await;
    let d = t.detail(&ent, id).await;
    let r = d["state"]["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["record"]["refund_no"] == no.as_str())
        .unwrap()
        .clone();
    assert_eq!(r["status"], "approved");
    // Interest at the demand-deposit rate (0.35 % a year, 360-day basis) for the 30 days from
    // payment to approval, to the fen.
    let amount = fen(&r["record"]["amount_fen"]);
    assert_eq!(r["interest_days"], 30);
    assert_eq!(
        fen(&r["interest_fen"]),
        round_div(i128::from(amount) * 35 * 30, 10_000 * 360)
    );

    // Refusing it now is refused.
    let (s, e) = t
        .step(
            &off,
            id,
            "refund-refusal",
            json!({"refund_no": no, "reason": "again"}),
        )
        .await;
    refused(s, &e, StatusCode::CONFLICT, "refund_not_open");

    // The tax agency hears of it.
    let outbox = t.store.outbox_store().unwrap();
    let rows = outbox.read_for("TAX", 0, 100).unwrap();
    let m = rows
        .iter()
        .find(|m| m.message.kind == "duty_refunded.v1")
        .expect("duty_refunded.v1 to TAX");
    let p: Value = serde_json::from_slice(&m.message.payload).unwrap();
    assert_eq!(p["refund_no"], no.as_str());
    assert_eq!(fen(&p["amount_fen"]), amount);
    assert_eq!(p["interest_fen"], r["interest_fen"]);
    assert_eq!(p["origin"], "taxpayer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_request_out_of_time_is_refused_with_the_rule_and_the_last_day() {
    let t = T::start().await;
    let ent = t.login("ent").await;
    let off = t.login("off").await;
    let id = t.paid(&ent, &off, "late-1").await;
    // Paid on 2025-03-10, under the Customs Tariff Law: 3 years.
    t.clock.advance(Duration::days(3 * 365 + 2));
    let (ent, off) = (t.login("ent").await, t.login("off").await);
    t.ok(
        &ent,
        id,
        "amendment-request",
        json!({"reason": "half", "changes": [
            change("items[0].unit_price", "175.0000"),
            change("items[0].total_price", "17500.00"),
        ]}),
    )
    .await;
    t.ok(&off, id, "request-approval", json!({"reason": "ok"}))
        .await;
    let d = t.detail(&ent, id).await;
    let no = d["state"]["refunds"][0]["record"]["refund_no"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = t.written(id);
    let (s, r) = t
        .step(&ent, id, "refund-request", json!({"refund_no": no}))
        .await;
    refused(s, &r, StatusCode::CONFLICT, "refund_period_over");
    assert!(
        r["error"]["message_en"]
            .as_str()
            .unwrap()
            .contains("2028-03-10"),
        "{r}"
    );
    assert!(
        r["error"]["message_zh"]
            .as_str()
            .unwrap()
            .contains("2028-03-10"),
        "{r}"
    );
    assert!(
        r["error"]["message_en"]
            .as_str()
            .unwrap()
            .contains("Customs Tariff Law"),
        "{r}"
    );
    assert_eq!(t.written(id), before);
}

/// Per reassessable tax kind: paid − approved refunds − open refunds + outstanding notices.
async fn position(t: &T, token: &str, id: i64) -> std::collections::BTreeMap<String, i64> {
    let d = t.detail(token, id).await;
    let mut out = std::collections::BTreeMap::new();
    for n in d["notices"].as_array().unwrap() {
        let kind = n["tax"].as_str().unwrap().to_owned();
        if n["superseded_at"].is_null() {
            *out.entry(kind).or_insert(0) += fen(&n["amount_fen"]);
        }
    }
    for r in d["state"]["refunds"].as_array().unwrap() {
        let kind = r["record"]["tax"].as_str().unwrap().to_owned();
        let amount = fen(&r["record"]["amount_fen"]);
        match r["status"].as_str().unwrap() {
            "open" | "requested" | "approved" => *out.entry(kind).or_insert(0) -= amount,
            "refused" | "superseded" => {}
            other => panic!("refund status {other}"),
        }
    }
    out
}

/// The latest assessment per kind, as the last version's re-assessment states it.
async fn latest_due(t: &T, token: &str, id: i64) -> std::collections::BTreeMap<String, i64> {
    let (_, versions) = t
        .get(token, &format!("/api/declarations/{id}/versions"))
        .await;
    let last = versions.as_array().unwrap().last().unwrap().clone();
    last["reassessment"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["tax"].as_str().unwrap().to_owned(), fen(&l["due_fen"])))
        .collect()
}

/// Gap 1 of the review of issue 14: refunds already found were not subtracted from what was
/// paid, so a second version down refunded the first excess again, and restoring the price
/// gave a third refund instead of a supplementary notice. Over a sequence of corrections
/// (down, further down, back up) paid − approved − open refunds + outstanding notices equals
/// the latest assessment for every kind, a refund is approved at most once for an excess, and
/// the open refund of an earlier version is superseded and can no longer be approved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refunds_across_versions_are_counted_once() {
    let t = T::start().await;
    let ent = t.login("ent").await;
    let off = t.login("off").await;
    let id = t.paid(&ent, &off, "ref-seq").await;
    let correct = |changes: Vec<Value>| json!({"kind": "customs_value", "reason": "value checked", "changes": changes});
    let check = |step: &'static str| {
        let (t, ent) = (&t, ent.clone());
        async move {
            let due = latest_due(t, &ent, id).await;
            let pos = position(t, &ent, id).await;
            for (kind, due) in &due {
                if kind == "recovery_surcharge" || kind == "late_declaration_fee" {
                    continue;
                }
                assert_eq!(pos.get(kind).copied().unwrap_or(0), *due, "{step}: {kind}");
            }
        }
    };
    let refunds = |d: &Value| d["state"]["refunds"].as_array().unwrap().clone();

    // Down: the freight to 1 yuan; a customs-found refund, open.
    t.ok(
        &off,
        id,
        "correction",
        correct(vec![change("freight.value", "1")]),
    )
    .await;
    check("down").await;
    let d = t.detail(&ent, id).await;
    let first: Vec<String> = refunds(&d)
        .iter()
        .map(|r| r["record"]["refund_no"].as_str().unwrap().to_owned())
        .collect();
    assert!(!first.is_empty(), "{}", d["state"]);

    // Further down: the open refunds are superseded by one refund of the whole excess.
    t.ok(
        &off,
        id,
        "correction",
        correct(vec![
            change("items[0].unit_price", "175.0000"),
            change("items[0].total_price", "17500.00"),
        ]),
    )
    .await;
    check("further down").await;
    let d = t.detail(&ent, id).await;
    for r in refunds(&d) {
        let no = r["record"]["refund_no"].as_str().unwrap();
        let expect = if first.iter().any(|f| f == no) {
            "superseded"
        } else {
            "open"
        };
        assert_eq!(r["status"], expect, "{r}");
    }
    // A superseded refund can never be approved; the live ones are approved once.
    for no in &first {
        let (s, r) = t
            .step(
                &off,
                id,
                "refund-approval",
                json!({"refund_no": no, "reason": "ok"}),
            )
            .await;
        refused(s, &r, StatusCode::CONFLICT, "refund_not_open");
    }
    let live: Vec<String> = refunds(&d)
        .iter()
        .filter(|r| r["status"] == "open")
        .map(|r| r["record"]["refund_no"].as_str().unwrap().to_owned())
        .collect();
    assert!(!live.is_empty());
    for no in &live {
        t.ok(
            &off,
            id,
            "refund-approval",
            json!({"refund_no": no, "reason": "ok"}),
        )
        .await;
    }
    check("approved").await;
    let outbox = t.store.outbox_store().unwrap();
    let refunded: i64 = outbox
        .read_for("TAX", 0, 100)
        .unwrap()
        .iter()
        .filter(|m| m.message.kind == "duty_refunded.v1")
        .map(|m| {
            let p: Value = serde_json::from_slice(&m.message.payload).unwrap();
            fen(&p["amount_fen"])
        })
        .sum();
    let approved: i64 = refunds(&t.detail(&ent, id).await)
        .iter()
        .filter(|r| r["status"] == "approved")
        .map(|r| fen(&r["record"]["amount_fen"]))
        .sum();
    assert_eq!(
        refunded, approved,
        "only the live refunds reach the tax agency"
    );

    // Back up: the freight and the price restored. What was refunded is owed again: a supplementary notice,
    // never another refund.
    let before = refunds(&t.detail(&ent, id).await).len();
    let r = t
        .ok(
            &off,
            id,
            "correction",
            correct(vec![
                change("freight.value", "1200.00"),
                change("items[0].unit_price", "350.0000"),
                change("items[0].total_price", "35000.00"),
            ]),
        )
        .await;
    assert_eq!(r["status"], "assessed", "{r}");
    check("back up").await;
    let d = t.detail(&ent, id).await;
    assert_eq!(refunds(&d).len(), before, "no new refund: {}", d["state"]);
    let (_, versions) = t
        .get(&ent, &format!("/api/declarations/{id}/versions"))
        .await;
    let last = versions.as_array().unwrap().last().unwrap();
    let lines = last["reassessment"]["lines"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["outcome"] == "supplementary"),
        "{lines:?}"
    );
    assert!(lines.iter().all(|l| l["outcome"] != "refund"), "{lines:?}");
    let new_due: i64 = t
        .notices(&ent, id)
        .await
        .iter()
        .filter(|n| n["paid_at"].is_null() && n["superseded_at"].is_null())
        .map(|n| fen(&n["amount_fen"]))
        .sum();
    assert_eq!(new_due, approved, "exactly what was refunded is owed again");
}

/// Gap 8 of the review of issue 14: an amendment request with impossible values was accepted
/// and only failed at its approval. The would-be version is now validated in full at request
/// time: every problem at once, in both languages, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amendment_request_with_impossible_values_is_refused_at_once() {
    let t = T::start().await;
    let ent = t.login("ent").await;
    let off = t.login("off").await;
    let id = t.paid(&ent, &off, "req-bad").await;
    let before = t.written(id);
    // The unit price ×100 with the total unchanged: quantity × unit price ≠ total.
    let (s, r) = t
        .step(
            &ent,
            id,
            "amendment-request",
            json!({"reason": "typo", "changes": [change("items[0].unit_price", "35000.0000")]}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let codes: Vec<String> = problem_fields(&r).into_iter().map(|p| p.1).collect();
    assert!(codes.iter().any(|c| c == "total_mismatch"), "{r}");
    assert_eq!(t.written(id), before);
    // A value out of range and an unknown path: both problems at once.
    let (s, r) = t
        .step(
            &ent,
            id,
            "amendment-request",
            json!({"reason": "typo", "changes": [
                change("items[0].unit_price", "99999999999999999999"),
                change("no.such.field", "1"),
            ]}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    let fields = problem_fields(&r);
    assert!(fields.iter().any(|(_, c)| c == "unknown_field_path"), "{r}");
    assert_eq!(t.written(id), before);
    // A value alone out of range is refused at request time too.
    let (s, r) = t
        .step(
            &ent,
            id,
            "amendment-request",
            json!({"reason": "typo", "changes": [change("items[0].unit_price", "99999999999999999999")]}),
        )
        .await;
    refused(s, &r, StatusCode::UNPROCESSABLE_ENTITY, "invalid");
    assert!(
        problem_fields(&r)
            .iter()
            .any(|(f, _)| f.contains("unit_price")),
        "{r}"
    );
    assert_eq!(t.written(id), before);
    assert!(t.detail(&ent, id).await["state"]["pending_request"].is_null());
}

/// Gap 5 of the review of issue 14: re-issuing an overdue unpaid notice restarted its 15 days
/// and dropped the late surcharge already owed. What a replacement carries over keeps the
/// superseded notice's issue day, so its due date and surcharge run on; only an amount beyond
/// what was unpaid is a notice of its own with a new period. The superseded notice shows
/// nothing due.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_notice_reissued_keeps_its_due_date_and_surcharge() {
    let t = T::start().await;
    let ent = t.login("ent").await;
    let off = t.login("off").await;
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = Y.into();
    v["owner"]["uscc"] = Y.into();
    v["declaration_office"] = OFFICE.into();
    v["entry_exit_office"] = OFFICE.into();
    v["contract_no"] = "V-late".into();
    let resp = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(&ent)
        .header("content-type", "application/json")
        .header("client-seq-no", "late-1")
        .body(v.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let id = resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    t.ok(&off, id, "review", json!({"result": "conform"})).await;
    t.ok(&off, id, "assess", json!({})).await;
    let first = t.notices(&ent, id).await;
    let vat = first
        .iter()
        .find(|n| n["tax"] == "vat")
        .expect("a VAT notice")
        .clone();
    let vat_no = vat["notice_no"].as_str().unwrap().to_owned();
    let view = |no: String, token: String| {
        let t = &t;
        async move {
            let (s, v) = t.get(&token, &format!("/api/notices/{no}")).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            v
        }
    };
    let original = view(vat_no.clone(), ent.clone()).await;

    // 40 days unpaid, then the price is corrected down a little: a replacement of less.
    t.clock.advance(Duration::days(40));
    let (ent, off) = (t.login("ent").await, t.login("off").await);
    let late = view(vat_no.clone(), ent.clone()).await;
    assert!(fen(&late["surcharge_fen"]) > 0, "{late}");
    t.ok(
        &off,
        id,
        "correction",
        json!({"kind": "customs_value", "reason": "value checked", "changes": [
            change("items[0].unit_price", "340.0000"),
            change("items[0].total_price", "34000.00"),
        ]}),
    )
    .await;
    let old = view(vat_no.clone(), ent.clone()).await;
    assert!(!old["superseded_at"].is_null(), "{old}");
    assert_eq!(
        fen(&old["amount_due_fen"]),
        0,
        "nothing due on a superseded notice"
    );
    let notices = t.notices(&ent, id).await;
    let v2 = notices
        .iter()
        .find(|n| n["tax"] == "vat" && n["superseded_at"].is_null() && n["paid_at"].is_null())
        .expect("a VAT replacement");
    let v2_no = v2["notice_no"].as_str().unwrap().to_owned();
    let r2 = view(v2_no.clone(), ent.clone()).await;
    assert_eq!(r2["issued_on"], original["issued_on"], "{r2}");
    assert_eq!(r2["due_on"], original["due_on"], "{r2}");
    assert_eq!(r2["surcharge_days"], late["surcharge_days"], "{r2}");
    assert!(fen(&r2["surcharge_fen"]) > 0, "the surcharge runs on: {r2}");

    // Then up beyond the original: the carried part keeps the old day, the rest is new.
    t.ok(
        &off,
        id,
        "correction",
        json!({"kind": "customs_value", "reason": "value checked again", "changes": [
            change("items[0].unit_price", "700.0000"),
            change("items[0].total_price", "70000.00"),
        ]}),
    )
    .await;
    let live: Vec<Value> = t
        .notices(&ent, id)
        .await
        .into_iter()
        .filter(|n| n["tax"] == "vat" && n["superseded_at"].is_null() && n["paid_at"].is_null())
        .collect();
    assert_eq!(live.len(), 2, "{live:?}");
    let mut carried = 0;
    for n in &live {
        let v = view(n["notice_no"].as_str().unwrap().to_owned(), ent.clone()).await;
        if v["issued_on"] == original["issued_on"] {
            carried += 1;
            assert_eq!(v["tax_fen"], r2["tax_fen"], "all of the unpaid part: {v}");
            assert!(fen(&v["surcharge_fen"]) > 0, "{v}");
        } else {
            assert_eq!(fen(&v["surcharge_fen"]), 0, "a new period: {v}");
        }
    }
    assert_eq!(carried, 1, "{live:?}");
}
