//! The demo's E-Port ledgers (docs/EPORT.md), with the ledgers on ([`Clearance::with_eport`],
//! as in `jinguan serve`): every demo enterprise in the market-regulation registry, and one
//! automatic import licence for cars (8703, document code 7) held by the Shanghai AEO
//! enterprise, to file against from the enterprise desk or the API, and a tariff-quota
//! certificate for wheat held by the same enterprise.

use chrono::{Datelike, NaiveDate};
use domain::codes::Uscc;
use eport::{Licence, LicenceKind, RegistryEntry, RegistryStatus};
use rust_decimal::Decimal;

use crate::error::AppError;
use crate::service::Clearance;

/// The demo tariff-quota certificate (关税配额证明) for wheat and wheat flour, issued by the
/// development-and-reform commission (`ndrc`) to the Shanghai AEO enterprise: its wheat imports
/// naming it take the in-quota rate (docs/EPORT.md "Tariff-quota certificates").
pub const DEMO_QUOTA_CERTIFICATE_NO: &str = "DEMO-TRQ-WHEAT-0001";
/// How many kilograms of wheat (unit `035`) it allows: 500 tonnes.
pub const DEMO_QUOTA_KG: i64 = 500_000;

/// The demo licence's number.
pub const DEMO_LICENCE_NO: &str = "DEMO-AIL-0001";
/// How many cars (unit `003`, sets) it allows.
pub const DEMO_LICENCE_SETS: i64 = 20;

/// Seed the registry and the licence; does nothing when the ledgers are off. Safe to run twice.
pub fn load(svc: &Clearance) -> Result<(), AppError> {
    let Some(ledgers) = svc.store().eport_store().filter(|_| svc.eport) else {
        return Ok(());
    };
    let system = clearance::Actor::System {
        component: "demo".into(),
    };
    let now = svc.now();
    for (uscc, name, _, _) in super::ENTERPRISES {
        ledgers.put_registry(
            RegistryEntry {
                uscc: Uscc::parse(uscc).expect("demo USCCs are valid"),
                name: name.into(),
                status: RegistryStatus::Active,
            },
            &system,
            now,
        )?;
    }
    if ledgers.licence(DEMO_LICENCE_NO)?.is_none() {
        let year = now.year();
        ledgers.issue_licence(
            Licence {
                licence_no: DEMO_LICENCE_NO.into(),
                kind: LicenceKind::Import,
                holder: Uscc::parse(super::ENTERPRISES[0].0).expect("demo USCCs are valid"),
                commodity: "8703".into(),
                unit: "003".into(),
                quantity: Decimal::from(DEMO_LICENCE_SETS),
                valid_from: NaiveDate::from_ymd_opt(year, 1, 1).expect("a date"),
                valid_to: NaiveDate::from_ymd_opt(year, 12, 31).expect("a date"),
                issued_by: "commerce".into(),
            },
            &system,
            now,
        )?;
    }
    if ledgers.licence(DEMO_QUOTA_CERTIFICATE_NO)?.is_none() {
        let year = now.year();
        ledgers.issue_licence(
            Licence {
                licence_no: DEMO_QUOTA_CERTIFICATE_NO.into(),
                kind: LicenceKind::TariffQuota,
                holder: Uscc::parse(super::ENTERPRISES[0].0).expect("demo USCCs are valid"),
                commodity: "1001,1101".into(),
                unit: "035".into(),
                quantity: Decimal::from(DEMO_QUOTA_KG),
                valid_from: NaiveDate::from_ymd_opt(year, 1, 1).expect("a date"),
                valid_to: NaiveDate::from_ymd_opt(year, 12, 31).expect("a date"),
                issued_by: "ndrc".into(),
            },
            &system,
            now,
        )?;
    }
    Ok(())
}

/// The Shanghai AEO enterprise imports two cars under [`DEMO_LICENCE_NO`] and Pudong takes
/// the filing through to release, so the commerce desk shows the licence written off in part.
/// Does nothing when the ledgers are off or the filing was made before.
pub(crate) fn release_licensed_cars(
    svc: &Clearance,
    who: &std::collections::HashMap<&str, crate::access::Principal>,
) -> Result<(), AppError> {
    use clearance::{ExaminationResult, Status};
    use store::DeclarationKey;

    use crate::steps::Step;

    if svc.store().eport_store().filter(|_| svc.eport).is_none() {
        return Ok(());
    }
    let (filer, officer) = (&who["ent-sh"], &who["pd-officer"]);
    let filing = svc
        .filing()
        .submit(filer, "demo-cars-1", &cars_under_the_licence())?;
    if filing.replayed {
        return Ok(());
    }
    let key = DeclarationKey::Id(filing.id);
    let mut status = filing.status;
    // Each step moves the filing on; a handful is the longest path (inspection, assessment,
    // two notices, release).
    for _ in 0..8 {
        status = match status {
            Status::Inspection => {
                let result = ExaminationResult::Conform;
                svc.steps()
                    .step(officer, key, Step::RecordInspection { result })?
                    .status
            }
            Status::DocumentReview => {
                let result = ExaminationResult::Conform;
                svc.steps()
                    .step(officer, key, Step::RecordReview { result })?
                    .status
            }
            Status::AwaitingAssessment => svc.steps().step(officer, key, Step::Assess)?.status,
            Status::Assessed => {
                let unpaid = svc
                    .steps()
                    .get(filer, key)?
                    .notices
                    .into_iter()
                    .find(|n| n.paid_at.is_none());
                match unpaid {
                    Some(n) => {
                        let reference = format!("BOC-{}", n.notice_no);
                        svc.payments().initiate_and_confirm(
                            filer,
                            &who["bank-boc"],
                            &n.notice_no,
                            &reference,
                        )?;
                        svc.steps().get(filer, key)?.state.status
                    }
                    None => break,
                }
            }
            Status::Paid => svc.steps().step(officer, key, Step::Release)?.status,
            _ => break,
        };
    }
    Ok(())
}

/// Two saloon cars (8703, unit `003` sets) by the licence's holder, naming the licence.
fn cars_under_the_licence() -> Vec<u8> {
    let mut v: serde_json::Value =
        serde_json::from_str(super::IMPORT_TEMPLATE).expect("template parses");
    v["contract_no"] = "DEMO-CARS-1".into();
    v["bill_no"] = serde_json::Value::Null;
    v["licence_no"] = DEMO_LICENCE_NO.into();
    let item = &mut v["items"][0];
    item["commodity_code"] = "8703234190".into();
    item["name"] = "小轿车".into();
    item["specification"] = "1.5升<排气量≤2升|5座|品牌X|型号X2".into();
    item["declared_unit"] = "003".into();
    item["first_unit"] = "003".into();
    item["declared_quantity"] = "2".into();
    item["first_quantity"] = "2".into();
    item["unit_price"] = "20000.0000".into();
    item["total_price"] = "40000.00".into();
    if let Some(item) = item.as_object_mut() {
        item.remove("second_quantity");
        item.remove("second_unit");
    }
    v.to_string().into_bytes()
}

/// The demo's self-registered customs broker, waiting for review on the reviewers' desk
/// (docs/PARTIES.md "Customs registration"): its administrator signs in as `broker-new`.
pub const DEMO_APPLICANT: (&str, &str) = ("91310000MA1H7N2Q0A", "上海新设报关有限公司");

/// Put the applicant in the registry and register it through the sign-up, when the ledgers are
/// on and it has no registration yet.
pub fn register_applicant(svc: &Clearance) -> Result<(), AppError> {
    let (Some(ledgers), Some(parties)) = (
        svc.store().eport_store().filter(|_| svc.eport),
        svc.store().parties_store(),
    ) else {
        return Ok(());
    };
    let uscc = Uscc::parse(DEMO_APPLICANT.0).expect("demo USCCs are valid");
    if parties.registration_by_uscc(uscc)?.is_some() {
        return Ok(());
    }
    ledgers.put_registry(
        RegistryEntry {
            uscc,
            name: DEMO_APPLICANT.1.into(),
            status: RegistryStatus::Active,
        },
        &clearance::Actor::System {
            component: "demo".into(),
        },
        svc.now(),
    )?;
    svc.registrations().sign_up(crate::registration::SignUp {
        kind: store::registration::EnterpriseKind::Broker,
        uscc: DEMO_APPLICANT.0.into(),
        office: "2233".into(),
        name: DEMO_APPLICANT.1.into(),
        address: "上海市浦东新区示例路 1 号".into(),
        contact: "周七 021-8888".into(),
        zone: "9".into(),
        economic_type: "8".into(),
        admin_login: "broker-new".into(),
        admin_password: super::DEMO_PASSWORD.into(),
    })?;
    Ok(())
}
