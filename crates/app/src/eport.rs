//! The E-Port ledgers in the service (docs/EPORT.md): the commerce agency's licences and their
//! write-off, and the market-regulation registry.
//!
//! - **At filing** ([`Clearance::with_eport`]): the service works out which items need a
//!   licence (the tariff line's licence document codes, [`eport::needs`]) and hands them to
//!   the store with the filing ([`store::eport::EportStore::file_checked`]); the store checks
//!   them and the registry on the ledger as it stands inside the filing's own transaction,
//!   rejects with every reason (on `licence_no` / `trader.uscc`), or reserves the quantities.
//! - **Write-off** comes with the step that releases the declaration, and the reservation is
//!   given back by cancellation or withdrawal, in the step's own transaction (the store does
//!   it whenever a step changes the status).
//! - **Registry policy**: the check applies once the registry has an entry, so that a
//!   deployment without the market-regulation feed (and the existing tests) files as before;
//!   `jinguan serve --demo` seeds the demo enterprises.
//! - **Access** ([`crate::authorize`], deny by default): the commerce agency issues licences and
//!   reads its ledger; an enterprise reads its own licences; the market-regulation agency keeps
//!   the registry.

use chrono::{DateTime, NaiveDate, Utc};
use domain::codes::Uscc;
use domain::declaration::Declaration;
use domain::reference::Reference;
use eport::{Licence, LicenceKind, RegistryEntry, RegistryStatus, Standing};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::cargo::{PendingMatch, SubmittedMatched};
use store::eport::{EportStore, FilingCheck};
use store::{AutomaticReview, Filed, StoreError, SubmitRequest};

use crate::access::{authorize, Operation, Principal, Resource};
use crate::error::AppError;
use crate::service::{audit_actor, Clearance};

/// A licence to issue, as the commerce agency sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceRequest {
    pub licence_no: String,
    /// `import` or `export`.
    pub kind: LicenceKind,
    /// The holder's USCC.
    pub holder: Uscc,
    /// An HS code or a prefix of one (2 to 10 digits).
    pub commodity: String,
    /// A 3-digit unit code (`003` sets).
    pub unit: String,
    /// Decimal text or number, above zero.
    pub quantity: Decimal,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
}

/// A licence with what has been reserved, written off and what remains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LicenceView {
    #[serde(flatten)]
    pub licence: Licence,
    pub reserved: Decimal,
    pub written_off: Decimal,
    pub remaining: Decimal,
}

impl From<Standing> for LicenceView {
    fn from(s: Standing) -> Self {
        LicenceView {
            remaining: s.remaining(),
            reserved: s.reserved,
            written_off: s.written_off,
            licence: s.licence,
        }
    }
}

/// A registry entry to record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryRequest {
    pub name: String,
    /// `active` or `deregistered`.
    pub status: RegistryStatus,
}

/// The date in China (UTC+8): the day licences must be valid on.
fn china_day(t: DateTime<Utc>) -> NaiveDate {
    domain::time::china_date(t)
}

impl Clearance {
    /// Check filings against the E-Port ledgers (licences and registry), reserve licence
    /// quantities at acceptance and write them off at release (docs/EPORT.md). Needs a store
    /// with an [`EportStore`]; without one the ledgers stay off.
    pub fn with_eport(mut self) -> Clearance {
        self.eport = true;
        self
    }

    fn eport_ledgers(&self) -> Result<&dyn EportStore, AppError> {
        match (self.eport, self.store.eport_store()) {
            (true, Some(e)) => Ok(e),
            _ => Err(AppError::NotFound(
                "the E-Port ledgers are not enabled".into(),
            )),
        }
    }

    /// What the store checks with this filing: `None` when the ledgers are off or the body is
    /// not a typed declaration (failed validation).
    pub(crate) fn filing_check(&self, req: &SubmitRequest) -> Option<FilingCheck> {
        if !self.eport || self.store.eport_store().is_none() {
            return None;
        }
        let decl: Declaration = serde_json::from_str(&req.body_json).ok()?;
        let date = decl.declaration_date;
        let needs = eport::needs(&decl, |code| {
            self.refdata
                .tariff_line(code, date)
                .and_then(|l| l.licence.clone())
        });
        Some(FilingCheck {
            trader: decl.trader.uscc,
            date: china_day(req.now),
            needs,
        })
    }

    /// [`store::Store::submit_reviewed`], through the ledgers' check when there is one.
    pub(crate) fn submit_checked(
        &self,
        req: SubmitRequest,
        review: AutomaticReview,
        check: Option<FilingCheck>,
    ) -> Result<Filed, StoreError> {
        match (check, self.store.eport_store()) {
            (Some(check), Some(e)) => e.file_checked(req, review, check),
            _ => self.store.submit_reviewed(req, review),
        }
    }

    /// [`store::cargo::CargoStore::submit_matched`], through the ledgers' check when there is
    /// one (one transaction either way).
    pub(crate) fn submit_matched_checked(
        &self,
        cargo: &dyn store::cargo::CargoStore,
        req: SubmitRequest,
        review: AutomaticReview,
        matched: Option<PendingMatch>,
        check: Option<FilingCheck>,
    ) -> Result<SubmittedMatched, StoreError> {
        match (check, self.store.eport_store()) {
            (Some(check), Some(e)) => e.file_checked_matched(req, review, check, matched),
            _ => cargo.submit_matched(req, review, matched),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Use cases

    /// Issue a licence (the commerce agency).
    pub fn issue_licence(
        &self,
        by: &Principal,
        req: LicenceRequest,
    ) -> Result<LicenceView, AppError> {
        authorize(
            by,
            Operation::IssueLicence,
            Resource::Eport { holder: None },
            &self.refdata,
        )?;
        let ledgers = self.eport_ledgers()?;
        let Principal::Agency { agency, .. } = by else {
            unreachable!("only agencies issue licences");
        };
        let licence = Licence {
            licence_no: req.licence_no,
            kind: req.kind,
            holder: req.holder,
            commodity: req.commodity,
            unit: req.unit,
            quantity: req.quantity,
            valid_from: req.valid_from,
            valid_to: req.valid_to,
            issued_by: agency.to_ascii_lowercase(),
        };
        licence
            .validate()
            .map_err(|why| AppError::invalid("licence", "invalid_licence", why.clone(), why))?;
        Ok(ledgers
            .issue_licence(licence, &audit_actor(by), self.now())?
            .into())
    }

    /// The licences the principal's agency issued, with what remains (the commerce agency).
    pub fn issued_licences(&self, by: &Principal) -> Result<Vec<LicenceView>, AppError> {
        authorize(
            by,
            Operation::ViewLicences,
            Resource::Eport { holder: None },
            &self.refdata,
        )?;
        let ledgers = self.eport_ledgers()?;
        let Principal::Agency { agency, .. } = by else {
            unreachable!("only agencies read their ledger");
        };
        Ok(ledgers
            .licences_issued_by(&agency.to_ascii_lowercase())?
            .into_iter()
            .map(LicenceView::from)
            .collect())
    }

    /// The enterprise's own licences, with what remains.
    pub fn my_licences(&self, by: &Principal) -> Result<Vec<LicenceView>, AppError> {
        // Only an enterprise has licences of its own.
        let Principal::Enterprise { uscc: holder, .. } = by else {
            return Err(AppError::Forbidden(crate::access::denied(
                by,
                Operation::ViewLicences,
            )));
        };
        let holder = *holder;
        authorize(
            by,
            Operation::ViewLicences,
            Resource::Eport {
                holder: Some(holder),
            },
            &self.refdata,
        )?;
        let ledgers = self.eport_ledgers()?;
        Ok(ledgers
            .licences_held_by(&holder)?
            .into_iter()
            .map(LicenceView::from)
            .collect())
    }

    /// Record an enterprise in the registry (the market-regulation agency).
    pub fn put_registry(
        &self,
        by: &Principal,
        uscc: Uscc,
        req: RegistryRequest,
    ) -> Result<RegistryEntry, AppError> {
        authorize(
            by,
            Operation::ManageRegistry,
            Resource::Eport { holder: None },
            &self.refdata,
        )?;
        let ledgers = self.eport_ledgers()?;
        let entry = RegistryEntry {
            uscc,
            name: req.name,
            status: req.status,
        };
        entry
            .validate()
            .map_err(|why| AppError::invalid("name", "invalid_name", why.clone(), why))?;
        ledgers.put_registry(entry.clone(), &audit_actor(by), self.now())?;
        Ok(entry)
    }
}
