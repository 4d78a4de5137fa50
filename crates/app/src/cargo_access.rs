//! Who may do what in transport and cargo control: [`CargoOperation`], [`CargoResource`] and the
//! one decision, [`authorize_cargo`], deny by default (like [`crate::authorize`] for
//! declarations; kept apart so that the declaration matrix does not change).
//!
//! - A **carrier** files and amends its own manifests, reports their arrival, confirms the
//!   departure of its export manifests, declares (and, before departure, cancels) its
//!   transits, and sees only its own manifests and transits.
//! - A **postal operator** files parcel lists and sees only its own parcels.
//! - An **officer** sees and acts on the work of their office and the offices below it: the
//!   office of entry/exit of a manifest; the office of entry or destination of a transit (the
//!   departure is confirmed (or the transit cancelled) in scope of the office of entry, the
//!   arrival and the clearance by a normal declaration in scope of the office of destination); the office of a parcel or baggage declaration. Officers record arrival and
//!   tally reports on behalf of terminals and tally agencies (those have no accounts yet) and
//!   baggage declarations at the counter. HQ: every office.
//! - Enterprises, agencies and administrators: nothing here.

use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;
use serde::Serialize;

use crate::access::{in_scope, Denied, Principal};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CargoOperation {
    ViewManifest,
    ListManifests,
    FileManifest,
    AmendManifest,
    ReportArrival,
    ReportTally,
    ConfirmDeparture,
    ListLateBills,
    ViewTransit,
    DeclareTransit,
    ConfirmTransitDeparture,
    ConfirmTransitArrival,
    /// Record that a normal declaration at the office of destination cleared the goods.
    ClearTransit,
    /// Cancel a transit before its departure.
    CancelTransit,
    ListTransits,
    ListTransitAlerts,
    FileParcels,
    FileBaggage,
    ViewPostal,
}

impl CargoOperation {
    pub const ALL: [CargoOperation; 19] = [
        CargoOperation::ViewManifest,
        CargoOperation::ListManifests,
        CargoOperation::FileManifest,
        CargoOperation::AmendManifest,
        CargoOperation::ReportArrival,
        CargoOperation::ReportTally,
        CargoOperation::ConfirmDeparture,
        CargoOperation::ListLateBills,
        CargoOperation::ViewTransit,
        CargoOperation::DeclareTransit,
        CargoOperation::ConfirmTransitDeparture,
        CargoOperation::ConfirmTransitArrival,
        CargoOperation::ClearTransit,
        CargoOperation::CancelTransit,
        CargoOperation::ListTransits,
        CargoOperation::ListTransitAlerts,
        CargoOperation::FileParcels,
        CargoOperation::FileBaggage,
        CargoOperation::ViewPostal,
    ];
}

/// What a cargo operation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CargoResource {
    /// A manifest (existing or about to be filed): its carrier and office of entry/exit.
    Manifest { carrier: Uscc, office: OfficeCode },
    /// A transit: its declarant, office of entry and office of destination.
    Transit {
        declarant: Uscc,
        entry_office: OfficeCode,
        destination_office: OfficeCode,
    },
    /// A parcel list (operator) or a baggage declaration (no operator), at an office.
    Postal {
        operator: Option<Uscc>,
        office: OfficeCode,
    },
    /// A listing as a whole; the service narrows it to the principal's scope.
    Listing,
}

fn denied(principal: &Principal, op: CargoOperation) -> Denied {
    Denied {
        code: "forbidden",
        message_en: format!("a user of kind {} may not {op:?} here", principal.kind()),
        message_zh: format!("{}类用户无权在此执行{op:?}", principal.kind()),
    }
}

/// The one access decision of cargo control. Pure.
pub fn authorize_cargo(
    principal: &Principal,
    op: CargoOperation,
    resource: CargoResource,
    offices: &RefData,
) -> Result<(), Denied> {
    use CargoOperation as O;
    use CargoResource as R;
    let allowed = match (principal, resource) {
        (Principal::Carrier { uscc, .. }, R::Manifest { carrier, .. }) => {
            *uscc == carrier
                && matches!(
                    op,
                    O::ViewManifest
                        | O::FileManifest
                        | O::AmendManifest
                        | O::ReportArrival
                        | O::ConfirmDeparture
                )
        }
        (Principal::Carrier { uscc, .. }, R::Transit { declarant, .. }) => {
            *uscc == declarant
                && matches!(op, O::ViewTransit | O::DeclareTransit | O::CancelTransit)
        }
        (Principal::Carrier { .. }, R::Listing) => matches!(op, O::ListManifests | O::ListTransits),
        (Principal::Carrier { .. }, R::Postal { .. }) => false,

        (Principal::PostalOperator { uscc, .. }, R::Postal { operator, .. }) => {
            operator == Some(*uscc) && matches!(op, O::FileParcels | O::ViewPostal)
        }
        (Principal::PostalOperator { .. }, R::Listing) => op == O::ViewPostal,
        (Principal::PostalOperator { .. }, R::Manifest { .. } | R::Transit { .. }) => false,

        (Principal::Officer { .. } | Principal::Hq { .. }, resource) => {
            let scope = |o: OfficeCode| in_scope(principal, o, offices);
            match resource {
                R::Manifest { office, .. } => {
                    matches!(
                        op,
                        O::ViewManifest | O::ReportArrival | O::ReportTally | O::ConfirmDeparture
                    ) && scope(office)
                }
                R::Transit {
                    entry_office,
                    destination_office,
                    ..
                } => match op {
                    O::ViewTransit => scope(entry_office) || scope(destination_office),
                    O::ConfirmTransitDeparture | O::CancelTransit => scope(entry_office),
                    O::ConfirmTransitArrival | O::ClearTransit => scope(destination_office),
                    _ => false,
                },
                R::Postal { office, .. } => {
                    matches!(op, O::FileBaggage | O::ViewPostal) && scope(office)
                }
                R::Listing => matches!(
                    op,
                    O::ListManifests
                        | O::ListLateBills
                        | O::ListTransits
                        | O::ListTransitAlerts
                        | O::ViewPostal
                ),
            }
        }

        (Principal::Enterprise { .. } | Principal::Agency { .. } | Principal::Admin { .. }, _) => {
            false
        }
    };
    if allowed {
        Ok(())
    } else {
        Err(denied(principal, op))
    }
}
