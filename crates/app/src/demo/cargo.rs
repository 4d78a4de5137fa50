//! Demo data of transport and cargo control (docs/CARGO.md), loaded through the real use cases
//! when the service has cargo control (`Clearance::with_cargo`), before the demo declarations:
//!
//! - an air manifest (flight CA986, arrived yesterday at Pudong, 2233) with one bill per demo
//!   import declaration (`bill_no(i)`), so that every demo import matches and is written off
//!   at release, and the bills of the shipped import examples (`EXAMPLE_BILLS`), so that
//!   `ent-sh` can file each of them once as the README says;
//! - a vessel manifest (COSCO EXAMPLE, voyage 024E, arrived 20 days ago) with a bill that one
//!   more demo import declares late (it pays the late declaration fee), a bill nobody declared
//!   (on the officers' late-bills list) and a bill carried inland;
//! - a transit from Pudong to Nanjing on its way (the air manifest's spare bill), and one past
//!   its time limit (the sea manifest's inland bill: an alert; not late, since goods declared
//!   at the destination count from their arrival there);
//! - a parcel list of three parcels (one held over the value limit) from the demo postal
//!   operator.
//!
//! Deterministic apart from the service's clock; loaded once (skipped when the demo carrier
//! already has manifests).

use std::collections::HashMap;

use cargo_control::{
    transit, Actor as CargoActor, Bill, ManifestId, ManifestKind, ParcelList, TransitAction,
    TransitCommand, TransitDeclaration, TransitNo, TransitState, Voyage,
};
use chrono::Duration;
use serde_json::json;
use store::cargo::TransitWrite;

use crate::access::Principal;
use crate::error::AppError;
use crate::service::Clearance;

/// The demo carrier (login `carrier`) and postal operator (login `post-sh`).
pub const CARRIER_USCC: &str = "91310000MA1FL3CA34";
pub const POSTAL_USCC: &str = "91310000MA1FL3EM4X";
pub const AIR_MANIFEST: &str = "DEMO-CA986";
pub const SEA_MANIFEST: &str = "DEMO-024E";
/// Declared 20 days after arrival: matched, with the late declaration fee.
pub const SEA_BILL: &str = "COSU-DEMO-SEA-1";
/// Never declared: on the late-bills list.
pub const LATE_BILL: &str = "COSU-DEMO-LATE";
/// Carried inland by `TRANSIT_OVERDUE`, still on its way.
pub const INLAND_BILL: &str = "COSU-DEMO-INLAND";
/// On the air manifest, never declared at Pudong: carried inland by `TRANSIT_ON_WAY`.
pub const SPARE_BILL: &str = "DEMO-AWB-SPARE";
/// The bills named by `examples/import-laptops.json` and
/// `examples/import-ecommerce-cosmetics.json` with their packages and gross weight, on the air
/// manifest (flight CA986 of 2025-03-08, as the examples say) and declared by no demo filing.
pub const EXAMPLE_BILLS: [(&str, u32, &str, &str); 2] = [
    ("999-12345675", 10, "260.5", "笔记本电脑 laptops"),
    ("999-12345686", 1, "0.5", "化妆品 cosmetics"),
];
pub const TRANSIT_ON_WAY: &str = "TR-DEMO-1";
pub const TRANSIT_OVERDUE: &str = "TR-DEMO-2";

/// Whether the `i`-th demo declaration is an import (the others are exports by ent-sz).
pub fn is_import(i: usize) -> bool {
    !matches!(i % 10, 4 | 5)
}

/// The bill the `i`-th demo export names (`ent-sz`, Yantian, 5304).
pub fn export_bill_no(i: usize) -> String {
    format!("DEMO-SZ-{i:05}")
}

/// Whether the `i`-th demo export leaves: its bill is on a pre-load export manifest of its own
/// ([`export_manifest`]), filed before the declarations, which departs once the export is
/// released and so closes it (exit confirmed by the manifest, docs/CARGO.md).
pub fn export_leaves(i: usize) -> bool {
    !is_import(i) && (i / 10) % 5 >= 3
}

/// The pre-load export manifest of the `i`-th demo export.
pub fn export_manifest(i: usize) -> ManifestId {
    ManifestId::parse(&format!("DEMO-SZ-{i:05}")).expect("demo manifest ids are valid")
}

/// The vessel carrying the `i`-th demo export leaves Yantian: its manifest's departure
/// confirms the exit and closes the export. Whether it closed it.
pub(crate) fn depart_export(
    svc: &Clearance,
    who: &HashMap<&str, Principal>,
    i: usize,
) -> Result<bool, AppError> {
    if svc.cargo.is_none() || !export_leaves(i) {
        return Ok(false);
    }
    let done =
        svc.cargo()
            .confirm_manifest_departure(&who["carrier"], export_manifest(i), svc.now())?;
    Ok(!done.closed.is_empty())
}

/// The bill the `i`-th demo import names, on the air manifest.
pub fn bill_no(i: usize) -> String {
    format!("DEMO-AWB-{i:05}")
}

fn bill(no: &str, packages: u32, weight: &str, description: &str) -> Result<Bill, AppError> {
    parse(json!({"bill_no": no, "kind": {"kind": "master"}, "lines": [
        {"packages": packages, "package_type": "CT", "gross_weight_kg": weight, "description": description}
    ]}))
}

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, AppError> {
    serde_json::from_value(v).map_err(|e| AppError::Internal(format!("demo cargo data: {e}")))
}

/// Load the cargo demo; `who` holds the demo principals by login, `count` the number of demo
/// declarations about to be filed.
pub(crate) fn load(
    svc: &Clearance,
    who: &HashMap<&str, Principal>,
    count: usize,
) -> Result<(), AppError> {
    let Some(desk) = svc.cargo.clone() else {
        return Ok(());
    };
    let carrier = &who["carrier"];
    if !svc.cargo().manifests(carrier, 1)?.is_empty() {
        return Ok(());
    }
    let now = svc.now();
    let id = |s: &str| ManifestId::parse(s).expect("demo manifest ids are valid");

    // Air: one bill per demo import and one per import example, arrived yesterday (a manifest
    // per 10,000 bills).
    let mut bills = vec![bill(SPARE_BILL, 2, "40", "样品 samples")?];
    for (no, packages, weight, description) in EXAMPLE_BILLS {
        bills.push(bill(no, packages, weight, description)?);
    }
    for i in (0..count).filter(|i| is_import(*i)) {
        bills.push(bill(&bill_no(i), 10, "260.5", "笔记本电脑 laptops")?);
    }
    for (k, chunk) in bills.chunks(10_000).enumerate() {
        let manifest = match k {
            0 => id(AIR_MANIFEST),
            k => id(&format!("{AIR_MANIFEST}-{k}")),
        };
        let air: Voyage = parse(json!({
            "means": {"mode": "flight", "flight_no": "CA986"},
            "voyage_no": "20250308", "direction": "import", "office": "2233"
        }))?;
        svc.cargo().file_manifest(
            carrier,
            manifest,
            ManifestKind::Original,
            air,
            chunk.to_vec(),
        )?;
        svc.cargo()
            .report_arrival(carrier, manifest, now - Duration::days(1))?;
    }

    // Sea: arrived 20 days ago; one bill declared late, one never declared.
    let sea: Voyage = parse(json!({
        "means": {"mode": "vessel", "imo": "9074729", "name": "COSCO EXAMPLE"},
        "voyage_no": "024E", "direction": "import", "office": "2233"
    }))?;
    svc.cargo().file_manifest(
        carrier,
        id(SEA_MANIFEST),
        ManifestKind::Original,
        sea,
        vec![
            bill(SEA_BILL, 10, "260.5", "笔记本电脑 laptops")?,
            bill(LATE_BILL, 8, "1900", "机床零件 machine tool parts")?,
            bill(INLAND_BILL, 12, "2400", "纺织机械 textile machinery")?,
        ],
    )?;
    svc.cargo()
        .report_arrival(carrier, id(SEA_MANIFEST), now - Duration::days(20))?;
    let mut v: serde_json::Value =
        serde_json::from_str(super::IMPORT_TEMPLATE).expect("template parses");
    v["contract_no"] = "DEMO-SEA-1".into();
    v["transport_mode"] = "2".into();
    v["vessel"] = "COSCO EXAMPLE".into();
    v["voyage_no"] = "024E".into();
    v["bill_no"] = SEA_BILL.into();
    v["goods_place"] = "外高桥港区".into();
    match svc
        .filing()
        .submit(&who["ent-sh"], "demo-sea-1", v.to_string().as_bytes())
    {
        Ok(_) | Err(AppError::Rejected { .. }) => {}
        Err(e) => return Err(e),
    }

    // Yantian: a pre-load export manifest for each demo export that leaves, listing its bill
    // (the export template's packages and weight), so that the export is matched when it is
    // filed and closed when the vessel departs.
    for i in (0..count).filter(|i| export_leaves(*i)) {
        let out: Voyage = parse(json!({
            "means": {"mode": "vessel", "imo": "9074729", "name": "COSCO EXAMPLE"},
            "voyage_no": format!("S{i:05}"), "direction": "export", "office": "5304"
        }))?;
        svc.cargo().file_manifest(
            carrier,
            export_manifest(i),
            ManifestKind::PreLoad,
            out,
            vec![bill(&export_bill_no(i), 400, "5200", "皮鞋 leather shoes")?],
        )?;
    }

    // Transits from Pudong to Nanjing: one on its way (48 hours), one past its 24 hours.
    let transit_decl = |no: &str, hours: i64, bill: &str| -> Result<TransitDeclaration, AppError> {
        parse(json!({
            "transit_no": no, "declarant": CARRIER_USCC, "entry_office": "2233", "destination_office": "2300",
            "vehicle": {"mode": "truck", "plate": "沪A12345"}, "seals": ["SH-0001", "SH-0002"],
            "route": ["浦东 Pudong", "G2 京沪高速", "南京 Nanjing"], "time_limit_hours": hours,
            "guarantee": null, "bills": [bill]
        }))
    };
    svc.cargo()
        .declare_transit(carrier, transit_decl(TRANSIT_ON_WAY, 48, SPARE_BILL)?)?;
    let no = TransitNo::parse(TRANSIT_ON_WAY).expect("demo transit numbers are valid");
    svc.cargo()
        .confirm_transit_departure(&who["pd-officer"], &no)?;
    // Declared and departed 30 hours ago (through the store: the use cases take the time
    // from the clock): an overdue alert for Nanjing.
    let no = TransitNo::parse(TRANSIT_OVERDUE).expect("demo transit numbers are valid");
    let at = now - Duration::hours(30);
    let mut state = TransitState::default();
    let steps = [
        (
            CargoActor::Carrier {
                uscc: domain::codes::Uscc::parse(CARRIER_USCC).expect("demo USCC is valid"),
            },
            TransitAction::Declare {
                declaration: transit_decl(TRANSIT_OVERDUE, 24, INLAND_BILL)?,
            },
            at,
        ),
        (
            CargoActor::Officer {
                login: "pd-officer".into(),
                office: domain::codes::OfficeCode::parse("2233").expect("valid office"),
            },
            TransitAction::ConfirmDeparture,
            at + Duration::minutes(20),
        ),
    ];
    let mut version = 0;
    for (actor, action, t) in steps {
        let events = transit::decide(&state, &TransitCommand { actor, action }, t)
            .map_err(crate::cargo_desk::refusal)?;
        let stored = desk.store().record_transit(TransitWrite {
            transit_no: no,
            expected_version: version,
            events,
        })?;
        version = stored.version;
        state = stored.state;
    }
    desk.note_transit(&state);

    // Three parcels at Pudong: one below the ¥50 threshold, one taxed, one held (over ¥1,000).
    let art = |c: u8, v: &str| json!({"description": "article", "category": c, "dutiable_value_yuan": v, "quantity": "1"});
    let parcel = |no: &str, articles: serde_json::Value| json!({"parcel_no": no, "dispatch_country": "USA", "addressee_id": format!("h:{no}"), "articles": articles});
    let list: ParcelList = parse(
        json!({"list_no": "DEMO-L1", "operator": POSTAL_USCC, "office": "2233", "parcels": [
            parcel("EM000000001US", json!([art(1, "300")])),
            parcel("EM000000002US", json!([art(3, "200")])),
            parcel("EM000000003US", json!([art(1, "900"), art(1, "300")])),
        ]}),
    )?;
    svc.cargo().file_parcel_list(&who["post-sh"], list)?;
    Ok(())
}
