//! Exit confirmed by the manifest, over HTTP (docs/CARGO.md "Exit confirmation", docs/EPORT.md
//! "Export tax refund"; issue 14 items 6, 7, 8): an officer's exit confirmation names a departed
//! export manifest listing the declaration's bill, or is refused with reasons and writes
//! nothing; a refund claim on an export whose exit no manifest proves is refused; such exports
//! are listed for officers and the tax agency; withdrawal is no step; a licence written off at
//! release sends `licence_written_off.v1` to the commerce agency.

mod common;

use std::sync::Arc;

use app::cargo_desk::{CargoDesk, CargoPolicy};
use app::{Clearance, Duty, NewUserRequest, Role};
use clearance::{Action, Actor, Command};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::{AppendRequest, DeclarationId, DeclarationKey, Store};

/// The exporter (yellow lane: review, assess, pay, release).
const Y: &str = "91310000132149237G";
/// The importer of licensed cars (yellow lane too).
const A: &str = "91310115MA1K4Q7B4Y";
const CARRIER: &str = "91110000600037341L";
/// The export template's bill.
const BILL: &str = "COSU6123456780";

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
            let mut facts = common::general_class(Y);
            facts.0.extend(common::general_class(A).0);
            Clearance::new(store, common::refdata(), clock)
                .with_registry(Box::new(facts))
                .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
                .with_eport()
                .with_cargo(desk)
        })
        .await);
        t.user("carrier", Role::Carrier, None, Some(CARRIER), None);
        t.user("ent-y", Role::Enterprise, None, Some(Y), None);
        t.user("ent-a", Role::Enterprise, None, Some(A), None);
        t.user("pd", Role::Officer, Some("2233"), None, None);
        t.user("nj", Role::Officer, Some("2300"), None, None);
        t.user("sat", Role::Agency, None, None, Some("tax"));
        t.user("mofcom", Role::Agency, None, None, Some("commerce"));
        t
    }

    fn user(
        &self,
        login: &str,
        role: Role,
        office: Option<&str>,
        uscc: Option<&str>,
        agency: Option<&str>,
    ) {
        self.bootstrap(NewUserRequest {
            login: login.into(),
            password: common::PASSWORD.into(),
            role,
            duties: if role == Role::Officer {
                vec![Duty::Reviewer, Duty::TaxOfficer, Duty::ReleaseOfficer]
            } else {
                vec![]
            },
            office: office.map(|o| OfficeCode::parse(o).unwrap()),
            uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
            agency: agency.map(str::to_owned),
        });
    }

    async fn submit(&self, token: &str, seq: &str, body: &Value) -> Value {
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
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v
    }

    /// Review, assess, pay every notice, release.
    async fn clear(&self, off: &str, ent: &str, id: i64) {
        let step = |n: &str| format!("/api/declarations/{id}/{n}");
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
        assert_eq!(
            (s, r["status"].as_str()),
            (StatusCode::OK, Some("released")),
            "{r}"
        );
    }

    async fn status(&self, token: &str, id: i64) -> String {
        let (_, d) = self.get(token, &format!("/api/declarations/{id}")).await;
        d["state"]["status"].as_str().unwrap().to_owned()
    }

    fn audit_records(&self) -> u64 {
        self.store.verify_audit().unwrap().records_checked
    }
}

fn export(variant: u32, bill: &str) -> Value {
    let mut v: Value = serde_json::from_str(app::demo::EXPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = Y.into();
    v["owner"]["uscc"] = Y.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    v["contract_no"] = format!("EXIT-{variant}").into();
    v["bill_no"] = bill.into();
    v
}

fn manifest(id: &str, direction: &str, kind: &str, bill_no: &str) -> Value {
    json!({
        "manifest_id": id,
        "kind": kind,
        "voyage": {
            "means": {"mode": "vessel", "imo": "9074729", "name": "COSCO EXAMPLE"},
            "voyage_no": "025E",
            "direction": direction,
            "office": "2233"
        },
        "bills": [{"bill_no": bill_no, "kind": {"kind": "master"},
            "lines": [{"packages": 400, "package_type": "CT", "gross_weight_kg": "5200", "description": "shoes"}]}]
    })
}

fn problem_codes(r: &Value) -> Vec<String> {
    r["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(
                !p["message_zh"].as_str().unwrap().is_empty()
                    && !p["message_en"].as_str().unwrap().is_empty(),
                "{p}"
            );
            p["code"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Free text, a manifest not departed, an import manifest, a departed manifest that does not
/// list the bill, another bill: each refused with its reason in both languages, nothing
/// written. The departed manifest that lists the bill closes the export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_confirmation_names_a_departed_manifest_listing_the_bill() {
    let t = T::start().await;
    let carrier = t.login("carrier").await;
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    for (m, dir, kind, bill) in [
        ("MF-OUT", "export", "pre_load", BILL),
        ("MF-IN", "import", "original", "COSU-IMPORT-1"),
        ("MF-GONE", "export", "pre_load", "COSU-GONE-1"),
    ] {
        let (s, r) = t
            .post(&carrier, "/api/manifests", manifest(m, dir, kind, bill))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
    }
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests/MF-GONE/departure",
            json!({"at": "2025-03-10T01:00:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let filed = t.submit(&ent, "exit-1", &export(1, BILL)).await;
    let id = filed["id"].as_i64().unwrap();
    t.clear(&off, &ent, id).await;

    let exit = format!("/api/declarations/{id}/exit-confirmation");
    let refused = |s: StatusCode, r: &Value| -> String {
        let e = &r["error"];
        assert!(
            !e["message_zh"].as_str().unwrap_or("").is_empty()
                && !e["message_en"].as_str().unwrap_or("").is_empty(),
            "{r}"
        );
        if s == StatusCode::UNPROCESSABLE_ENTITY {
            let codes = problem_codes(r);
            assert_eq!(r["error"]["problems"][0]["field"], "manifest_ref", "{r}");
            codes[0].clone()
        } else {
            e["code"].as_str().unwrap().to_owned()
        }
    };
    for (text, status, codes) in [
        (
            "FAKE-NOT-A-MANIFEST",
            StatusCode::UNPROCESSABLE_ENTITY,
            &["unknown_manifest", "not_a_manifest_reference"][..],
        ),
        (
            "any text at all",
            StatusCode::UNPROCESSABLE_ENTITY,
            &["not_a_manifest_reference"][..],
        ),
        (
            "MF-OUT",
            StatusCode::CONFLICT,
            &["manifest_not_departed"][..],
        ),
        (
            "MF-IN",
            StatusCode::CONFLICT,
            &["not_an_export_manifest"][..],
        ),
        (
            "MF-GONE",
            StatusCode::CONFLICT,
            &["bill_not_on_manifest"][..],
        ),
        (
            "MF-GONE/COSU-GONE-1",
            StatusCode::CONFLICT,
            &["other_bill"][..],
        ),
    ] {
        let before = t.audit_records();
        let (s, r) = t.post(&off, &exit, json!({"manifest_ref": text})).await;
        assert_eq!(s, status, "{text}: {r}");
        let code = refused(s, &r);
        assert!(codes.contains(&code.as_str()), "{text}: {code}");
        assert_eq!(t.audit_records(), before, "{text}: a refusal wrote");
        assert_eq!(t.status(&ent, id).await, "released", "{text}");
    }

    // The enterprise asks for a cancellation: the departure cannot close the export while the
    // request is pending (the departure still lists the exit on the manifest).
    let (s, r) = t
        .post(
            &ent,
            &format!("/api/declarations/{id}/cancellation-request"),
            json!({"reason": "buyer cancelled"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests/MF-OUT/departure",
            json!({"at": "2025-03-10T01:30:00Z"}),
        )
        .await;
    assert_eq!((s, r["closed"].clone()), (StatusCode::OK, json!([])), "{r}");
    let (s, r) = t
        .post(
            &off,
            &format!("/api/declarations/{id}/request-refusal"),
            json!({"reason": "goods have left"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    // Still refused with free text now that the manifest has departed.
    let (s, _) = t
        .post(&off, &exit, json!({"manifest_ref": "FAKE-NOT-A-MANIFEST"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // The officer names the departed manifest that lists the bill: closed, recorded as
    // MANIFEST/BILL.
    let (s, r) = t.post(&off, &exit, json!({"manifest_ref": "MF-OUT"})).await;
    assert_eq!(
        (s, r["status"].as_str()),
        (StatusCode::OK, Some("closed")),
        "{r}"
    );
    let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    let events = d["events"].to_string();
    assert_eq!(
        events.matches(&format!("MF-OUT/{BILL}")).count(),
        1,
        "{events}"
    );
}

/// An export closed before exits were bound to manifests (free text, recorded directly in the
/// store as the old code did): its refund claim is refused, and it is on the unproven list of
/// the officers of its office and the tax agency; an export a departed manifest closed is
/// claimed and not listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refund_claims_need_an_exit_a_manifest_proves() {
    let t = T::start().await;
    let carrier = t.login("carrier").await;
    let ent = t.login("ent-y").await;
    let off = t.login("pd").await;
    let nj = t.login("nj").await;
    let tax = t.login("sat").await;

    // Proven: on MF-OUT, closed at its departure.
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests",
            manifest("MF-OUT", "export", "pre_load", BILL),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let proven = t.submit(&ent, "exit-1", &export(1, BILL)).await;
    let proven_id = proven["id"].as_i64().unwrap();
    t.clear(&off, &ent, proven_id).await;
    let (s, r) = t
        .post(
            &carrier,
            "/api/manifests/MF-OUT/departure",
            json!({"at": "2025-03-10T01:30:00Z"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(t.status(&ent, proven_id).await, "closed");

    // Legacy: its bill on no manifest, closed with free text as the old code allowed.
    let legacy = t.submit(&ent, "exit-2", &export(2, "COSU-NOWHERE-2")).await;
    let legacy_id = legacy["id"].as_i64().unwrap();
    t.clear(&off, &ent, legacy_id).await;
    let d = t
        .store
        .load(DeclarationKey::Id(DeclarationId(legacy_id)))
        .unwrap()
        .unwrap();
    let events = clearance::decide(
        &d.state,
        &Command {
            actor: Actor::Officer {
                login: "pd".into(),
                office: OfficeCode::parse("2233").unwrap(),
            },
            action: Action::ConfirmExit {
                manifest_ref: "FAKE-NOT-A-MANIFEST".into(),
            },
        },
        t.svc.now(),
    )
    .unwrap();
    t.store
        .append(AppendRequest {
            id: d.id,
            expected_version: d.version,
            events,
        })
        .unwrap();
    assert_eq!(t.status(&ent, legacy_id).await, "closed");

    let (_, p) = t.get(&ent, &format!("/api/declarations/{proven_id}")).await;
    let (_, l) = t.get(&ent, &format!("/api/declarations/{legacy_id}")).await;
    let number = |d: &Value| d["state"]["declaration_no"].as_str().unwrap().to_owned();
    let (proven_no, legacy_no) = (number(&p), number(&l));
    let template: Value = serde_json::from_str(app::demo::EXPORT_TEMPLATE).unwrap();
    let item = &template["items"][0];
    let claim = |no: &str| {
        json!({"declaration_no": no, "item_no": 1, "hs_code": item["commodity_code"],
               "quantity": item["declared_quantity"], "fob_value_fen": 1})
    };

    // The unproven exit: refused with the reason, nothing written.
    let before = t.audit_records();
    let (s, r) = t
        .post(&ent, "/api/eport/refund-claims", claim(&legacy_no))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(problem_codes(&r), ["exit_not_proven"], "{r}");
    assert_eq!(t.audit_records(), before);
    // The proven one gets past the exit (the FOB value of 1 fen is what is refused now).
    let (s, r) = t
        .post(&ent, "/api/eport/refund-claims", claim(&proven_no))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    assert_eq!(problem_codes(&r), ["fob_value_mismatch"], "{r}");

    // Listed for the officers of the office and the tax agency, with the reason.
    for token in [&off, &tax] {
        let (s, r) = t.get(token, "/api/exits/unproven").await;
        assert_eq!(s, StatusCode::OK, "{r}");
        let items = r["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{r}");
        assert_eq!(items[0]["declaration_no"], legacy_no.as_str());
        assert_eq!(items[0]["manifest_ref"], "FAKE-NOT-A-MANIFEST");
        assert_eq!(items[0]["confirmed_by"], "officer:2233:pd");
        assert!(
            ["unknown_manifest", "not_a_manifest_reference"]
                .contains(&items[0]["code"].as_str().unwrap()),
            "{r}"
        );
        assert!(!items[0]["message_zh"].as_str().unwrap().is_empty());
        assert_eq!(r["scanned"], 2, "{r}");
        assert_eq!(r["next_cursor"], Value::Null);
    }
    // Another office's officer sees none of them, and may not ask for this office.
    let (s, r) = t.get(&nj, "/api/exits/unproven").await;
    assert_eq!((s, r["items"].clone()), (StatusCode::OK, json!([])), "{r}");
    let (s, _) = t.get(&nj, "/api/exits/unproven?office=2233").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Enterprises and carriers may not read the list; a bad query is 422.
    for token in [&ent, &carrier] {
        let (s, _) = t.get(token, "/api/exits/unproven").await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    }
    let (s, _) = t.get(&off, "/api/exits/unproven?limit=0").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _) = t.get(&off, "/api/exits/unproven?colour=red").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
}

/// Withdrawal is no step: a filing never rests before acceptance, so the route is gone (it
/// answered 409 in every state before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdraw_is_not_a_step() {
    let t = T::start().await;
    let ent = t.login("ent-y").await;
    let filed = t.submit(&ent, "w-1", &export(1, BILL)).await;
    let id = filed["id"].as_i64().unwrap();
    let before = t.audit_records();
    let (s, r) = t
        .post(
            &ent,
            &format!("/api/declarations/{id}/withdraw"),
            json!({"reason": "changed my mind"}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{r}");
    assert_eq!(t.audit_records(), before);
    let (_, doc) = t.get(&ent, "/api/openapi.json").await;
    assert!(doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .all(|p| !p.ends_with("/withdraw")));
}

/// A licence written off at release sends `licence_written_off.v1` to COMMERCE, in the
/// release's transaction, with what is left of the licence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_licence_write_off_reaches_commerce() {
    let t = T::start().await;
    let mofcom = t.login("mofcom").await;
    let ent = t.login("ent-a").await;
    let off = t.login("pd").await;
    let (s, r) = t
        .post(
            &mofcom,
            "/api/eport/licences",
            json!({
                "licence_no": "AIL-CARS", "kind": "import", "holder": A, "commodity": "8703",
                "unit": "003", "quantity": "10", "valid_from": "2025-01-01", "valid_to": "2025-12-31"
            }),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{r}");
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = A.into();
    v["owner"]["uscc"] = A.into();
    v["bill_no"] = Value::Null;
    v["licence_no"] = "AIL-CARS".into();
    let item = v["items"][0].as_object_mut().unwrap();
    item.remove("second_quantity");
    item.remove("second_unit");
    for (k, val) in [
        ("commodity_code", "8703234190"),
        ("name", "小轿车"),
        ("specification", "1.5升<排气量≤2升|5座|品牌X|型号X2"),
        ("declared_unit", "003"),
        ("first_unit", "003"),
        ("declared_quantity", "3"),
        ("first_quantity", "3"),
        ("unit_price", "20000.0000"),
        ("total_price", "60000.00"),
    ] {
        item.insert(k.into(), val.into());
    }
    let filed = t.submit(&ent, "car-1", &v).await;
    let id = filed["id"].as_i64().unwrap();
    let outbox = t.store.outbox_store().unwrap();
    let kinds = |rows: &[store::outbox::OutboxRow]| -> Vec<String> {
        rows.iter().map(|r| r.message.kind.clone()).collect()
    };
    assert!(!kinds(&outbox.fetch_unpublished(0, 100).unwrap())
        .contains(&"licence_written_off.v1".to_owned()));
    t.clear(&off, &ent, id).await;
    let rows = outbox.fetch_unpublished(0, 100).unwrap();
    let written: Vec<_> = rows
        .iter()
        .filter(|r| r.message.kind == "licence_written_off.v1")
        .collect();
    assert_eq!(written.len(), 1, "{:?}", kinds(&rows));
    let m = &written[0].message;
    assert_eq!(m.recipients, ["COMMERCE"]);
    let kind = exchange::Kind::parse(&m.kind).unwrap();
    match exchange::Payload::decode(&kind, &m.payload).unwrap() {
        exchange::Payload::LicenceWrittenOffV1(p) => {
            let (_, d) = t.get(&ent, &format!("/api/declarations/{id}")).await;
            assert_eq!(
                p.declaration_no.to_string(),
                d["state"]["declaration_no"].as_str().unwrap()
            );
            assert_eq!(p.licence_no, "AIL-CARS");
            assert_eq!(p.holder.to_string(), A);
            assert_eq!(p.hs_code.to_string(), "8703234190");
            assert_eq!(p.quantity.to_string(), "3");
            assert_eq!(p.quantity_left.to_string(), "7");
            assert_eq!(p.unit.to_string(), "003");
        }
        other => panic!("unexpected payload {other:?}"),
    }
}
