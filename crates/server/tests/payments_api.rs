//! Payment through the bank over HTTP (docs/TAX.md "Late payment surcharge", "Payment through
//! the bank"; issue 14 items 3 and 4): the enterprise can no longer mark its own notice paid;
//! it initiates the payment through a bank and sees the amount due; only that bank's user
//! confirms it, with its own reference and exactly the tax plus the late payment surcharge due
//! on the day (due 15 days after issue, moved past a holiday; 0.05 % a day; not levied under
//! ¥50); a repeated confirmation is the same answer, a reused reference 409, racing
//! confirmations pay once; the daily reconciliation per bank.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::Store;

const PASSWORD: &str = "test-password";
/// Yellow lane (a recent discrepancy): review, assess.
const Y: &str = "91310000132149237G";
const B: &str = "91440300MA5FT3XKX8";

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
        t.user("ent-y", Role::Enterprise, Some(Y), None, &[]);
        t.user("ent-b", Role::Enterprise, Some(B), None, &[]);
        t.user(
            "pd",
            Role::Officer,
            None,
            Some("2233"),
            &[Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer],
        );
        t.user(
            "pd-review",
            Role::Officer,
            None,
            Some("2233"),
            &[Duty::Reviewer],
        );
        t.user("bank-boc", Role::Bank, None, None, &[]);
        t.user("bank-icbc", Role::Bank, None, None, &[]);
        t.user("admin", Role::Admin, None, None, &[]);
        t
    }

    fn user(
        &self,
        login: &str,
        role: Role,
        uscc: Option<&str>,
        office: Option<&str>,
        duties: &[Duty],
    ) {
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties: duties.to_vec(),
                office: office.map(|o| OfficeCode::parse(o).unwrap()),
                uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
                agency: None,
            })
            .unwrap();
    }

    /// Pin the clock at 10:00 China time on `day`.
    fn at(&self, day: NaiveDate) {
        self.clock
            .set(Utc.from_utc_datetime(&day.and_hms_opt(2, 0, 0).unwrap()));
    }

    /// File, review and assess one import of Y today; its id and first notice (number, tax).
    async fn assessed(&self, ent: &str, off: &str, variant: u32) -> (i64, String, i64) {
        let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
        v["trader"]["uscc"] = Y.into();
        v["owner"]["uscc"] = Y.into();
        v["declaration_office"] = "2233".into();
        v["entry_exit_office"] = "2233".into();
        v["contract_no"] = format!("P-{variant}").into();
        let r = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(ent)
            .header("content-type", "application/json")
            .header("client-seq-no", format!("p-{variant}"))
            .body(v.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status();
        let filed = r.json::<Value>().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{filed}");
        let id = filed["id"].as_i64().unwrap();
        let step = |name: &str| format!("/api/declarations/{id}/{name}");
        let (s, r) = self
            .post(off, &step("review"), json!({"result": "conform"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let (s, r) = self.post(off, &step("assess"), json!({})).await;
        assert_eq!(
            (s, r["status"].as_str()),
            (StatusCode::OK, Some("assessed")),
            "{r}"
        );
        let (_, d) = self.get(ent, &format!("/api/declarations/{id}")).await;
        let n = &d["notices"][0];
        (
            id,
            n["notice_no"].as_str().unwrap().to_owned(),
            n["amount_fen"].as_i64().unwrap(),
        )
    }

    async fn initiate(&self, ent: &str, notice: &str, bank: &str) -> (StatusCode, Value) {
        self.post(
            ent,
            &format!("/api/notices/{notice}/payment-initiation"),
            json!({ "bank": bank }),
        )
        .await
    }

    async fn confirm(
        &self,
        bank: &str,
        notice: &str,
        reference: &str,
        amount: i64,
    ) -> (StatusCode, Value) {
        self.post(
            bank,
            "/api/bank/payments",
            json!({"notice_no": notice, "reference": reference, "amount_fen": amount}),
        )
        .await
    }

    fn bank_rows(&self) -> i64 {
        confirmations(&self.store)
    }
}

/// The confirmations stored (every bank).
fn confirmations(store: &store_sqlite::SqliteStore) -> i64 {
    let f = store.finance_store().unwrap();
    ["bank-boc", "bank-icbc"]
        .iter()
        .map(|b| {
            let mut n = 0;
            let mut day = NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
            while day < NaiveDate::from_ymd_opt(2025, 11, 1).unwrap() {
                n += f.bank_payments_on(b, day).unwrap().len() as i64;
                day += Duration::days(1);
            }
            n
        })
        .sum()
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The surcharge the rule gives (the oracle, written here): tax × 0.05 % × days, half up to
/// the fen; nothing under ¥50.
fn surcharge(tax_fen: i64, days: i64) -> i64 {
    let s = (tax_fen * days * 5 + 5_000) / 10_000;
    if s < 5_000 {
        0
    } else {
        s
    }
}

fn code(v: &Value) -> Option<&str> {
    v["error"]["code"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_bank_confirmation_of_the_amount_due_pays_a_notice() {
    let t = T::start().await;
    // Issued on Monday 2025-03-10: due on 03-25 (a Tuesday, a working day).
    t.at(d("2025-03-10"));
    let (ent, other, off) = (
        t.login("ent-y").await,
        t.login("ent-b").await,
        t.login("pd").await,
    );
    let boc = t.login("bank-boc").await;
    let (id, notice, tax) = t.assessed(&ent, &off, 1).await;

    // The enterprise's old self-payment is refused, and writes nothing.
    let (s, r) = t
        .post(
            &ent,
            &format!("/api/declarations/{id}/pay"),
            json!({"notice_no": notice}),
        )
        .await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::FORBIDDEN, Some("pay_through_bank")),
        "{r}"
    );
    assert!(r["error"]["message_zh"].as_str().unwrap().contains("银行"));
    // A bank user cannot confirm what was not initiated through it (as if unknown).
    let (s, _) = t.confirm(&boc, &notice, "BOC-1", tax).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The notice view: issue date, due date, no surcharge yet, amount due = tax.
    let (s, v) = t.get(&ent, &format!("/api/notices/{notice}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["issued_on"], "2025-03-10");
    assert_eq!(v["due_on"], "2025-03-25");
    assert_eq!(
        (v["surcharge_fen"].as_i64(), v["amount_due_fen"].as_i64()),
        (Some(0), Some(tax))
    );
    let (_, detail) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    assert_eq!(
        detail["notice_views"][0]["due_on"], "2025-03-25",
        "{detail}"
    );
    // Not visible to another enterprise, nor to a bank it was not initiated through.
    assert_eq!(
        t.get(&other, &format!("/api/notices/{notice}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&boc, &format!("/api/notices/{notice}")).await.0,
        StatusCode::NOT_FOUND
    );

    // Initiation: only the declarant, only through a registered bank.
    let (s, r) = t.initiate(&ent, &notice, "NO-SUCH-BANK").await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid")),
        "{r}"
    );
    assert_eq!(r["error"]["problems"][0]["code"], "unknown_bank");
    let (s, _) = t.initiate(&ent, &notice, "ent-b").await;
    assert_eq!(
        s,
        StatusCode::UNPROCESSABLE_ENTITY,
        "an enterprise is not a bank"
    );
    let (s, _) = t.initiate(&other, &notice, "bank-boc").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t.initiate(&boc, &notice, "bank-boc").await;
    assert!(
        matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{s}"
    );
    let (s, v) = t.initiate(&ent, &notice, "bank-boc").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["initiated_bank"].as_str(), v["amount_due_fen"].as_i64()),
        (Some("bank-boc"), Some(tax))
    );
    // The bank now sees it.
    assert_eq!(
        t.get(&boc, &format!("/api/notices/{notice}")).await.0,
        StatusCode::OK
    );

    // Day 16 (03-26): one day late (sessions of 03-10 have expired: sign in again).
    t.at(d("2025-03-26"));
    let (ent, off, reviewer) = (
        t.login("ent-y").await,
        t.login("pd").await,
        t.login("pd-review").await,
    );
    let (boc, icbc, admin) = (
        t.login("bank-boc").await,
        t.login("bank-icbc").await,
        t.login("admin").await,
    );
    let due = tax + surcharge(tax, 1);
    let (_, v) = t.get(&ent, &format!("/api/notices/{notice}")).await;
    assert_eq!(
        (v["surcharge_days"].as_i64(), v["amount_due_fen"].as_i64()),
        (Some(1), Some(due)),
        "{v}"
    );

    // Only a bank user confirms; another bank than the one initiated through does not.
    for (token, expect) in [
        (&ent, StatusCode::FORBIDDEN),
        (&off, StatusCode::FORBIDDEN),
        (&admin, StatusCode::FORBIDDEN),
        (&icbc, StatusCode::NOT_FOUND),
    ] {
        let (s, r) = t.confirm(token, &notice, "R-1", due).await;
        assert_eq!(s, expect, "{r}");
    }
    // A wrong amount (the tax without the surcharge, or a fen off): 422 with the amount due.
    for wrong in [tax, due - 1, due + 1] {
        if wrong == due {
            continue;
        }
        let (s, r) = t.confirm(&boc, &notice, "BOC-1", wrong).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
        let p = &r["error"]["problems"][0];
        assert_eq!(
            (p["field"].as_str(), p["code"].as_str()),
            (Some("amount_fen"), Some("wrong_amount"))
        );
        let due_yuan = format!("{}.{:02}", due / 100, due % 100);
        assert!(p["message_en"].as_str().unwrap().contains(&due_yuan), "{p}");
        assert!(p["message_zh"].as_str().unwrap().contains(&due_yuan), "{p}");
    }
    let (_, again) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    assert!(
        again["notices"][0]["paid_at"].is_null(),
        "nothing was written: {again}"
    );

    // The exact amount: paid, with the bank, its reference, the surcharge and the amount.
    let (s, receipt) = t.confirm(&boc, &notice, "BOC-1", due).await;
    assert_eq!(s, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["surcharge_fen"].as_i64(), Some(surcharge(tax, 1)));
    assert_eq!(receipt["paid_fen"].as_i64(), Some(due));
    assert_eq!(receipt["paid_on"], "2025-03-26");
    let (_, detail) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    let n = &detail["notices"][0];
    assert_eq!(n["payment"]["bank"], "bank-boc", "{n}");
    assert_eq!(n["payment"]["reference"], "BOC-1");
    assert_eq!(n["payment"]["paid_fen"].as_i64(), Some(due));
    let paid_event = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"]["type"] == "notice_paid" || e["type"] == "notice_paid")
        .cloned()
        .unwrap_or(Value::Null);
    assert!(paid_event.to_string().contains("BOC-1"), "{paid_event}");
    if detail["notices"].as_array().unwrap().len() == 1 {
        assert_eq!(detail["state"]["status"], "paid");
    }

    // The same confirmation again: the same answer, nothing written twice.
    let rows = t.bank_rows();
    let (s, again) = t.confirm(&boc, &notice, "BOC-1", due).await;
    assert_eq!((s, &again), (StatusCode::CREATED, &receipt));
    assert_eq!(t.bank_rows(), rows);
    // The same reference for another amount: 409; another reference for the paid notice: 409.
    let (s, r) = t.confirm(&boc, &notice, "BOC-1", due + 100).await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::CONFLICT, Some("reference_used")),
        "{r}"
    );
    let (s, r) = t.confirm(&boc, &notice, "BOC-2", due).await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::CONFLICT, Some("notice_already_paid")),
        "{r}"
    );
    // The reference is unique per bank: another notice with BOC-1 is 409.
    let (_, notice2, tax2) = t.assessed(&ent, &off, 2).await;
    t.initiate(&ent, &notice2, "bank-boc").await;
    let (s, r) = t.confirm(&boc, &notice2, "BOC-1", tax2).await;
    assert_eq!(
        (s, code(&r)),
        (StatusCode::CONFLICT, Some("reference_used")),
        "{r}"
    );
    // …but another bank may use the same reference for its own.
    t.initiate(&ent, &notice2, "bank-icbc").await;
    let (s, r) = t.confirm(&icbc, &notice2, "BOC-1", tax2).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");

    // Reconciliation of 03-26: the bank its own (balanced), not another's; tax officers any.
    let (s, rec) = t.get(&boc, "/api/bank/reconciliation?day=2025-03-26").await;
    assert_eq!(s, StatusCode::OK, "{rec}");
    assert_eq!(rec["bank"], "bank-boc");
    assert_eq!(rec["balanced"], true, "{rec}");
    assert_eq!(rec["paid"].as_array().unwrap().len(), 1);
    assert_eq!(rec["confirmed_fen"].as_i64(), Some(due));
    let (s, _) = t
        .get(
            &boc,
            "/api/bank/reconciliation?bank=bank-icbc&day=2025-03-26",
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, rec) = t
        .get(
            &off,
            "/api/bank/reconciliation?bank=bank-icbc&day=2025-03-26",
        )
        .await;
    assert_eq!(
        (s, rec["confirmed_fen"].as_i64()),
        (StatusCode::OK, Some(tax2)),
        "{rec}"
    );
    for token in [&ent, &reviewer, &admin] {
        let (s, _) = t.get(token, "/api/bank/reconciliation?bank=bank-boc").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_surcharge_starts_the_day_after_a_due_date_moved_past_a_holiday() {
    let t = T::start().await;
    // Issued 2025-09-16: +15 = 10-01, National Day (1–8 October): due 10-09.
    t.at(d("2025-09-16"));
    let (ent, off) = (t.login("ent-y").await, t.login("pd").await);
    let (_, notice, tax) = t.assessed(&ent, &off, 1).await;
    let (s, v) = t.initiate(&ent, &notice, "bank-boc").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["due_on"].as_str(), v["due_shifted"].as_bool()),
        (Some("2025-10-09"), Some(true))
    );
    // On 10-01 … 10-09 nothing is due beyond the tax.
    for day in ["2025-10-01", "2025-10-08", "2025-10-09"] {
        t.at(d(day));
        let ent = t.login("ent-y").await;
        let (_, v) = t.get(&ent, &format!("/api/notices/{notice}")).await;
        assert_eq!(v["amount_due_fen"].as_i64(), Some(tax), "{day}: {v}");
    }
    // The first day whose surcharge reaches ¥50 is levied, the day before it is not (the floor).
    let floor_days = (1..400)
        .find(|n| (tax * n * 5 + 5_000) / 10_000 >= 5_000)
        .unwrap();
    if floor_days > 1 {
        t.at(d("2025-10-09") + Duration::days(floor_days - 1));
        let ent = t.login("ent-y").await;
        let (_, v) = t.get(&ent, &format!("/api/notices/{notice}")).await;
        assert_eq!(
            v["amount_due_fen"].as_i64(),
            Some(tax),
            "under ¥50: not levied {v}"
        );
        assert!(v["surcharge_days"].as_i64().unwrap() >= 1);
    }
    t.at(d("2025-10-09") + Duration::days(floor_days));
    let boc = t.login("bank-boc").await;
    let due = tax + surcharge(tax, floor_days);
    assert!(due >= tax + 5_000);
    let (s, r) = t.confirm(&boc, &notice, "BOC-H", tax).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let (s, r) = t.confirm(&boc, &notice, "BOC-H", due).await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    assert_eq!(r["surcharge_fen"].as_i64(), Some(due - tax));
    // Day 10-09 itself (the moved due date): a second declaration paid that day, no surcharge.
    t.at(d("2025-09-16"));
    let (ent, off) = (t.login("ent-y").await, t.login("pd").await);
    let (_, notice2, tax2) = t.assessed(&ent, &off, 2).await;
    t.initiate(&ent, &notice2, "bank-boc").await;
    t.at(d("2025-10-09"));
    let boc = t.login("bank-boc").await;
    let (s, r) = t.confirm(&boc, &notice2, "BOC-H2", tax2).await;
    assert_eq!(
        (s, r["surcharge_fen"].as_i64()),
        (StatusCode::CREATED, Some(0)),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_confirmations_pay_a_notice_once() {
    let t = std::sync::Arc::new(T::start().await);
    t.at(d("2025-03-10"));
    let (ent, off, boc) = (
        t.login("ent-y").await,
        t.login("pd").await,
        t.login("bank-boc").await,
    );
    // The same confirmation sent 8 times at once: one payment, the same receipt for all.
    let (_, notice, tax) = t.assessed(&ent, &off, 1).await;
    t.initiate(&ent, &notice, "bank-boc").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (t, boc, notice) = (t.clone(), boc.clone(), notice.clone());
            tokio::spawn(async move { t.confirm(&boc, &notice, "SAME", tax).await })
        })
        .collect();
    let mut answers = Vec::new();
    for h in tasks {
        answers.push(h.await.unwrap());
    }
    assert!(
        answers.iter().all(|(s, _)| *s == StatusCode::CREATED),
        "{answers:?}"
    );
    assert!(answers.iter().all(|(_, r)| *r == answers[0].1));
    assert_eq!(t.bank_rows(), 1);

    // 8 different references racing for one notice: exactly one paid, the others 409.
    let (id2, notice2, tax2) = t.assessed(&ent, &off, 2).await;
    t.initiate(&ent, &notice2, "bank-boc").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (t, boc, notice) = (t.clone(), boc.clone(), notice2.clone());
            tokio::spawn(async move { t.confirm(&boc, &notice, &format!("RACE-{i}"), tax2).await })
        })
        .collect();
    let mut ok = 0;
    for h in tasks {
        let (s, r) = h.await.unwrap();
        match s {
            StatusCode::CREATED => ok += 1,
            StatusCode::CONFLICT => assert_eq!(code(&r), Some("notice_already_paid"), "{r}"),
            other => panic!("{other}: {r}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(t.bank_rows(), 2);
    let events = t.store.events(store::DeclarationId(id2)).unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event.kind.name() == "notice_paid")
            .count(),
        1
    );
    assert!(t.store.verify_audit().unwrap().first_broken.is_none());
}
