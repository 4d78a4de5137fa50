//! The E-Port ledgers in the service (docs/EPORT.md): the commerce agency's licences and their
//! write-off, and the market-regulation registry.
//!
//! - **At filing** (`Clearance::with_eport`): the service works out which items need a
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
//! - **Tariff-quota certificates** (docs/EPORT.md "Tariff-quota certificates") are licences of
//!   kind `tariff_quota`: the items naming one ([`eport::quota_needs`]) are checked and reserved
//!   with the licences; the commerce agency or the development-and-reform commission issues
//!   them, each for the commodities whose quota it allocates (`QuotaCommodity::agency`).
//! - **Withdrawal** ([`EportService::withdraw_licence`]): the issuing agency withdraws a licence
//!   with a reason and a time, under the same access rule as issuing; the store decides it on the
//!   licence as it stands in its writer (only the issuer, once). From then on a filing naming
//!   it is refused (`licence_withdrawn` on `licence_no`) and a declaration filed before on it
//!   cannot be released (the write-off is refused in the release's transaction, 409).
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
use store::eport::{EportStore, FilingCheck};
use store::{AutomaticReview, SubmitRequest};

use crate::access::{Operation, Principal, Resource};
use crate::error::AppError;
use crate::kernel::Core;

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

/// A licence's withdrawal, as its issuing agency sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalRequest {
    /// Why (1 to 500 characters).
    pub reason: String,
    /// When the agency withdrew it (RFC 3339); now when absent. Not in the future.
    #[serde(default)]
    pub withdrawn_at: Option<DateTime<Utc>>,
}

/// A withdrawal's time may be at most this far ahead of customs' clock (the agencies' clocks
/// drift a little).
pub const WITHDRAWAL_CLOCK_SKEW_SECONDS: i64 = 300;

/// A licence with what has been reserved, written off and what remains.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LicenceView {
    #[serde(flatten)]
    pub licence: Licence,
    pub reserved: Decimal,
    pub written_off: Decimal,
    pub remaining: Decimal,
    /// The issuer's withdrawal, once withdrawn: nothing more is filed or released on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<eport::Withdrawal>,
}

impl From<Standing> for LicenceView {
    fn from(s: Standing) -> Self {
        LicenceView {
            withdrawn: s.withdrawn.clone(),
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

/// Whether two agency names are the same agency (`commerce` and `MOFCOM`).
fn same_agency(a: &str, b: &str) -> bool {
    use crate::access::{COMMERCE, NDRC};
    let of = |names: &[&str], x: &str| names.iter().any(|n| x.eq_ignore_ascii_case(n));
    a.eq_ignore_ascii_case(b)
        || [COMMERCE, NDRC]
            .iter()
            .any(|names| of(names, a) && of(names, b))
}

/// The date in China (UTC+8): the day licences must be valid on.
fn china_day(t: DateTime<Utc>) -> NaiveDate {
    domain::time::china_date(t)
}

/// The E-Port ledgers as a service: the use cases of the commerce and market-regulation
/// agencies and of enterprises, and E-Port's contribution to a filing (the licence and registry
/// check the store runs in the filing's transaction).
#[derive(Clone, Copy)]
pub struct EportService<'a> {
    pub(crate) core: &'a Core,
    /// Whether the ledgers are on (`Clearance::with_eport`, and a store with an `EportStore`).
    pub(crate) enabled: bool,
}

impl EportService<'_> {
    fn eport_ledgers(&self) -> Result<&dyn EportStore, AppError> {
        match (self.enabled, self.core.store.eport_store()) {
            (true, Some(e)) => Ok(e),
            _ => Err(AppError::NotFound(
                "the E-Port ledgers are not enabled".into(),
            )),
        }
    }

    /// What the store checks with this filing: `None` when the ledgers are off or the body is
    /// not a typed declaration (failed validation).
    pub(crate) fn filing_check(&self, req: &SubmitRequest) -> Option<FilingCheck> {
        if !self.enabled || self.core.store.eport_store().is_none() {
            return None;
        }
        let decl: Declaration = serde_json::from_str(&req.body_json).ok()?;
        let date = decl.declaration_date;
        let mut needs = eport::needs(&decl, |code| {
            self.core
                .refdata
                .tariff_line(code, date)
                .and_then(|l| l.licence.clone())
        });
        // Items declared under a tariff-quota certificate reserve on it like on a licence.
        needs.extend(eport::quota_needs(&decl));
        Some(FilingCheck {
            trader: decl.trader.uscc,
            date: china_day(req.now),
            needs,
        })
    }

    /// The refusals the store's check of a filing ([`EportService::filing_check`]) would add to
    /// automatic review, read from the ledgers as they now are, without reserving anything: for
    /// checking a declaration before it is filed. The registry check is applied when the
    /// trader has an entry (the store also applies it when the registry has others: a trader
    /// missing from a registry in use is only refused on filing).
    pub(crate) fn filing_problems(
        &self,
        check: &FilingCheck,
    ) -> Result<Vec<clearance::ReviewProblem>, AppError> {
        let Some(e) = self.core.store.eport_store() else {
            return Ok(Vec::new());
        };
        let entry = e.registry_entry(&check.trader)?;
        let mut lookup = Ok(());
        let none = AutomaticReview::Reject {
            problems: Vec::new(),
        };
        let (review, _) =
            store::eport::checked_review(&none, check, entry.as_ref(), entry.is_some(), |no| {
                e.licence(no).unwrap_or_else(|err| {
                    lookup = Err(err);
                    None
                })
            });
        lookup?;
        Ok(match review {
            AutomaticReview::Reject { problems } => problems,
            _ => Vec::new(),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Use cases

    /// Issue a licence (the commerce agency).
    pub fn issue_licence(
        &self,
        by: &Principal,
        req: LicenceRequest,
    ) -> Result<LicenceView, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::IssueLicence, Resource::Eport { holder: None }),
        )?;
        let ledgers = self.eport_ledgers()?;
        let agency = allowed.agency()?;
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
        self.may_issue(agency, &licence)?;
        Ok(ledgers
            .issue_licence(licence, &allowed.audit_actor(), self.core.now())?
            .into())
    }

    /// Withdraw a licence (its issuing agency: the access rule of issuing, and the store checks
    /// the issuer on the licence in its writer). 404 for an unknown licence, 403 for another
    /// agency's, 409 when withdrawn already, 422 for a bad reason or a time in the future.
    pub fn withdraw_licence(
        &self,
        by: &Principal,
        licence_no: &str,
        req: WithdrawalRequest,
    ) -> Result<LicenceView, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::IssueLicence, Resource::Eport { holder: None }),
        )?;
        let ledgers = self.eport_ledgers()?;
        let agency = allowed.agency()?;
        let now = self.core.now();
        let withdrawn_at = req.withdrawn_at.unwrap_or(now);
        if withdrawn_at > now + chrono::Duration::seconds(WITHDRAWAL_CLOCK_SKEW_SECONDS) {
            return Err(AppError::invalid(
                "withdrawn_at",
                "withdrawn_in_future",
                format!("撤销时间 {} 晚于当前时间", withdrawn_at.to_rfc3339()),
                format!(
                    "withdrawn_at {} is in the future",
                    withdrawn_at.to_rfc3339()
                ),
            ));
        }
        // The issuer is recorded under the name its user had (`commerce`, `mofcom`): any user
        // of that same agency withdraws as it; any other agency is refused by the store.
        let issuer = ledgers.licence(licence_no)?.map(|s| s.licence.issued_by);
        let withdrawn_by = match issuer {
            Some(i) if same_agency(&i, agency) => i,
            _ => agency.to_ascii_lowercase(),
        };
        let w = eport::Withdrawal {
            reason: req.reason,
            withdrawn_at,
            withdrawn_by,
        };
        Ok(ledgers
            .withdraw_licence(licence_no, w, &allowed.audit_actor(), now)?
            .into())
    }

    /// Whether `agency` may issue this document: licences only the commerce agency; a
    /// tariff-quota certificate the agency that allocates the quota of every commodity it
    /// covers (the `tariff_quotas` table on `valid_from`: `COMMERCE` for sugar, wool and wool
    /// tops, `NDRC` for wheat, maize, rice and cotton), which must be under a tariff quota and
    /// counted in the certificate's unit (the tariff's legal first unit).
    fn may_issue(&self, agency: &str, req: &Licence) -> Result<(), AppError> {
        use crate::access::{COMMERCE, NDRC};
        let named = |names: &[&str]| names.iter().any(|n| agency.eq_ignore_ascii_case(n));
        let forbidden = |zh: String, en: String| {
            AppError::Forbidden(crate::access::Denied {
                code: "forbidden",
                message_zh: zh,
                message_en: en,
            })
        };
        if req.kind != LicenceKind::TariffQuota {
            if named(COMMERCE) {
                return Ok(());
            }
            return Err(forbidden(
                "只有商务主管部门签发许可证".into(),
                "only the commerce agency issues licences".into(),
            ));
        }
        let invalid =
            |zh: String, en: String| AppError::invalid("commodity", "quota_commodity", zh, en);
        let covered: Vec<&domain::reference::TariffQuota> = self
            .core
            .refdata
            .tariff_quotas()
            .filter(|q| q.in_force(req.valid_from) && req.covers(&q.commodity_code))
            .collect();
        if covered.is_empty() {
            return Err(invalid(
                format!(
                    "{} 在 {} 不包括实行关税配额管理的商品",
                    req.commodity, req.valid_from
                ),
                format!(
                    "{} covers no commodity under a tariff quota on {}",
                    req.commodity, req.valid_from
                ),
            ));
        }
        let me = if named(COMMERCE) {
            "COMMERCE"
        } else if named(NDRC) {
            "NDRC"
        } else {
            ""
        };
        for q in &covered {
            if q.commodity.agency() != me {
                return Err(forbidden(
                    format!(
                        "{}（{}）的关税配额证明由 {} 签发，不由本机构签发",
                        q.commodity.name_zh(),
                        q.commodity_code,
                        q.commodity.agency()
                    ),
                    format!(
                        "certificates for {} ({}) are issued by {}, not by this agency",
                        q.commodity.as_str(),
                        q.commodity_code,
                        q.commodity.agency()
                    ),
                ));
            }
            if let Some(line) = self
                .core
                .refdata
                .tariff_line(q.commodity_code, req.valid_from)
            {
                if line.first_unit.to_string() != req.unit {
                    return Err(AppError::invalid(
                        "unit",
                        "quota_unit",
                        format!(
                            "关税配额证明的计量单位应为 {} 的法定第一计量单位 {}",
                            q.commodity_code, line.first_unit
                        ),
                        format!(
                            "a tariff-quota certificate counts in the legal first unit of {}, {}",
                            q.commodity_code, line.first_unit
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The licences the principal's agency issued, with what remains (the commerce agency).
    pub fn issued_licences(&self, by: &Principal) -> Result<Vec<LicenceView>, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::ViewLicences, Resource::Eport { holder: None }),
        )?;
        let ledgers = self.eport_ledgers()?;
        let agency = allowed.agency()?;
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
        self.core.authorize(
            by,
            (
                Operation::ViewLicences,
                Resource::Eport {
                    holder: Some(holder),
                },
            ),
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
        let allowed = self.core.authorize(
            by,
            (Operation::ManageRegistry, Resource::Eport { holder: None }),
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
        ledgers.put_registry(entry.clone(), &allowed.audit_actor(), self.core.now())?;
        Ok(entry)
    }
}
