//! The demo's E-Port ledgers (docs/EPORT.md), with the ledgers on ([`Clearance::with_eport`],
//! as in `jinguan serve`): every demo enterprise in the market-regulation registry, and one
//! automatic import licence for cars (8703, document code 7) held by the Shanghai AEO
//! enterprise, to file against from the enterprise desk or the API.

use chrono::{Datelike, NaiveDate};
use domain::codes::Uscc;
use eport::{Licence, LicenceKind, RegistryEntry, RegistryStatus};
use rust_decimal::Decimal;

use crate::error::AppError;
use crate::service::Clearance;

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
    Ok(())
}
