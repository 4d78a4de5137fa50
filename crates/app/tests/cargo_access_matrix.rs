//! The access matrix of transport and cargo control: every `CargoOperation` × every kind of
//! principal × every scope, against a table written here by hand (the specification of
//! docs/CARGO.md "Access"), not derived from the code under test.
//!
//! Resources: manifest M of carrier A at office 0101 (Beijing Capital Airport, under 0100
//! Beijing, under 0000 HQ); transit T declared by carrier A from 0101 (entry) to 2233 (Pudong,
//! under 2200 Shanghai); parcel list P of postal operator A at 0101; baggage declaration G at
//! 0101; listings L (the service narrows them to the principal's scope afterwards).
//! Officers: of 0101 (own office), 0100 (parent), 0102 (sibling), 2200 (other customs, but the
//! parent of the transit's destination), 2233 (the transit's destination); HQ.

use std::collections::BTreeSet;

use app::access::{authorize_cargo, CargoOperation, CargoResource};
use app::{Duty, Principal};
use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;

fn office(s: &str) -> OfficeCode {
    OfficeCode::parse(s).unwrap()
}
fn a() -> Uscc {
    Uscc::parse("91110000600037341L").unwrap()
}
fn b() -> Uscc {
    Uscc::parse("91310000132149237G").unwrap()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum R {
    M,
    T,
    P,
    G,
    L,
}

fn resource(r: R) -> CargoResource {
    match r {
        R::M => CargoResource::Manifest {
            carrier: a(),
            office: office("0101"),
        },
        R::T => CargoResource::Transit {
            declarant: a(),
            entry_office: office("0101"),
            destination_office: office("2233"),
        },
        R::P => CargoResource::Postal {
            operator: Some(a()),
            office: office("0101"),
        },
        R::G => CargoResource::Postal {
            operator: None,
            office: office("0101"),
        },
        R::L => CargoResource::Listing,
    }
}

/// The specification: what each principal may do, per resource.
fn allowed(who: &str, op: CargoOperation, r: R) -> bool {
    use CargoOperation::*;
    // What an officer may do on a resource in scope (duties do not matter here).
    let officer_in_scope = |op: CargoOperation, r: R| match r {
        R::M => matches!(
            op,
            ViewManifest | ReportArrival | ReportTally | ConfirmDeparture
        ),
        R::P | R::G => matches!(op, FileBaggage | ViewPostal),
        R::L => matches!(
            op,
            ListManifests | ListLateBills | ListTransits | ListTransitAlerts | ViewPostal
        ),
        R::T => unreachable!("transits are by office of entry and of destination"),
    };
    // Transits: (in scope of the office of entry, in scope of the office of destination).
    let officer_transit = |op: CargoOperation, entry: bool, destination: bool| match op {
        ViewTransit => entry || destination,
        ConfirmTransitDeparture | CancelTransit => entry,
        ConfirmTransitArrival | ClearTransit => destination,
        _ => false,
    };
    match (who, r) {
        ("carrier/own", R::M) => matches!(
            op,
            ViewManifest | FileManifest | AmendManifest | ReportArrival | ConfirmDeparture
        ),
        ("carrier/own", R::T) => matches!(op, ViewTransit | DeclareTransit | CancelTransit),
        ("carrier/own" | "carrier/other", R::L) => matches!(op, ListManifests | ListTransits),
        ("carrier/own" | "carrier/other", _) => false,

        ("postal/own", R::P) => matches!(op, FileParcels | ViewPostal),
        ("postal/own" | "postal/other", R::L) => op == ViewPostal,
        ("postal/own" | "postal/other", _) => false,

        // 0101 and its parent 0100 cover M, P, G and the transit's entry.
        ("officer/0101" | "officer/0100", R::T) => officer_transit(op, true, false),
        ("officer/0101" | "officer/0100", r) => officer_in_scope(op, r),
        // 2233 and its parent 2200 cover the transit's destination only.
        ("officer/2233" | "officer/2200", R::T) => officer_transit(op, false, true),
        ("officer/0102" | "officer/2233" | "officer/2200", R::L) => officer_in_scope(op, R::L),
        ("officer/0102" | "officer/2233" | "officer/2200", _) => false,
        ("hq", R::T) => officer_transit(op, true, true),
        ("hq", r) => officer_in_scope(op, r),

        ("enterprise" | "agency" | "admin", _) => false,
        (who, r) => panic!("no specification for {who} on {r:?}"),
    }
}

fn principals() -> Vec<(&'static str, Principal)> {
    let all_duties: BTreeSet<Duty> = Duty::ALL.into_iter().collect();
    let officer = |code: &str| Principal::Officer {
        user_id: 10,
        login: format!("o{code}"),
        office: office(code),
        duties: all_duties.clone(),
    };
    vec![
        (
            "carrier/own",
            Principal::Carrier {
                user_id: 1,
                login: "ca".into(),
                uscc: a(),
            },
        ),
        (
            "carrier/other",
            Principal::Carrier {
                user_id: 2,
                login: "cb".into(),
                uscc: b(),
            },
        ),
        (
            "postal/own",
            Principal::PostalOperator {
                user_id: 3,
                login: "pa".into(),
                uscc: a(),
            },
        ),
        (
            "postal/other",
            Principal::PostalOperator {
                user_id: 4,
                login: "pb".into(),
                uscc: b(),
            },
        ),
        ("officer/0101", officer("0101")),
        ("officer/0100", officer("0100")),
        ("officer/0102", officer("0102")),
        ("officer/2200", officer("2200")),
        ("officer/2233", officer("2233")),
        (
            "hq",
            Principal::Hq {
                user_id: 5,
                login: "hq".into(),
                duties: all_duties.clone(),
            },
        ),
        (
            // The carrier's USCC: an enterprise login of the same company still may not.
            "enterprise",
            Principal::Enterprise {
                user_id: 6,
                login: "ent".into(),
                uscc: a(),
                roles: app::access::legacy_enterprise_roles(),
            },
        ),
        (
            "agency",
            Principal::Agency {
                user_id: 7,
                login: "mofcom".into(),
                agency: "commerce".into(),
            },
        ),
        (
            "admin",
            Principal::Admin {
                user_id: 8,
                login: "admin".into(),
            },
        ),
    ]
}

#[test]
fn cargo_matrix() {
    let refdata = RefData::embedded().unwrap();
    let mut checked = 0;
    let mut allows = 0;
    for (who, p) in principals() {
        for op in CargoOperation::ALL {
            for r in [R::M, R::T, R::P, R::G, R::L] {
                let expect = allowed(who, op, r);
                let got = authorize_cargo(&p, op, resource(r), &refdata).is_ok();
                assert_eq!(
                    got,
                    expect,
                    "{who} {op:?} on {r:?}: expected {}",
                    if expect { "allow" } else { "deny" }
                );
                checked += 1;
                allows += usize::from(expect);
            }
        }
    }
    assert_eq!(checked, 13 * 19 * 5);
    // The table is not vacuous: a sizeable part is allowed, most is denied.
    assert!(allows > 40 && allows < checked / 3, "{allows} of {checked}");
}

/// A refusal carries a code and both languages (what the API shows as 403, or 404 for what may
/// not be seen).
#[test]
fn refusals_are_explained() {
    let refdata = RefData::embedded().unwrap();
    let (_, other) = principals().swap_remove(1);
    let e = authorize_cargo(
        &other,
        CargoOperation::AmendManifest,
        resource(R::M),
        &refdata,
    )
    .unwrap_err();
    assert_eq!(e.code, "forbidden");
    assert!(!e.message_en.is_empty() && !e.message_zh.is_empty());
}
