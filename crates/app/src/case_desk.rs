//! The anti-smuggling case desk 缉私 (docs/PARTIES.md): officers with the anti-smuggling duty
//! open cases of their offices (from a risk hit, an inspection finding, intelligence or a
//! referral) and work them: links to declarations, enterprises and persons, seizures, penalty
//! decisions and their payment, hearings, closure. Every step is one write with its audit
//! record (`store::cases`); a penalty downgrades the party's credit class in the same
//! transaction with a history row, and the risk engine uses the new class for the next filing.
//! Linking an enterprise to a case takes a certified one down to the general class
//! (`store::aeo::after_case`). A declaration is suspended only under an open case
//! (`crate::steps`).

use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use serde::Deserialize;
use store::cases::{CaseFilter, CaseOrigin, CaseStatus, CaseStep, CaseWrite, StoredCase};
use store::parties::PartiesStore;

use crate::access::{Operation, Principal, Resource};
use crate::error::AppError;
use crate::kernel::{Allowed, Core, Scope};
use crate::risk_desk::RiskService;

/// Opening a case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenCase {
    /// The office the case belongs to (the officer's own or one below it).
    pub office: String,
    pub origin: CaseOrigin,
    pub origin_ref: String,
    pub summary: String,
}

/// A step on an open case, decided on the version the officer saw.
#[derive(Clone, Debug, Deserialize)]
pub struct CaseStepRequest {
    pub expected_version: Option<u64>,
    #[serde(flatten)]
    pub step: CaseStep,
}

#[derive(Clone, Copy)]
pub struct CaseService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) risk: RiskService<'a>,
}

fn parties(core: &Core) -> Result<&dyn PartiesStore, AppError> {
    core.store
        .parties_store()
        .ok_or_else(|| AppError::Internal("this store keeps no case register".into()))
}

fn actor(allowed: &Allowed<'_>) -> Result<Actor, AppError> {
    match allowed.principal() {
        Principal::Officer { login, office, .. } => Ok(Actor::AntiSmuggling {
            login: login.clone(),
            office: *office,
        }),
        Principal::Hq { login, .. } => Ok(Actor::AntiSmuggling {
            login: login.clone(),
            office: OfficeCode::HQ,
        }),
        _ => Err(allowed.denied()),
    }
}

impl CaseService<'_> {
    pub fn open(&self, by: &Principal, req: OpenCase) -> Result<StoredCase, AppError> {
        let office = OfficeCode::parse(req.office.trim()).map_err(|_| {
            AppError::invalid(
                "office",
                "invalid",
                format!("海关代码“{}”无效", req.office),
                format!("office code \"{}\" is not valid", req.office),
            )
        })?;
        let allowed = self.core.authorize(
            by,
            (
                Operation::ManageCases,
                Resource::Case {
                    office: Some(office),
                },
            ),
        )?;
        Ok(parties(self.core)?.case_step(CaseWrite {
            case: None,
            expected_version: None,
            step: CaseStep::Open {
                office,
                origin: req.origin,
                origin_ref: req.origin_ref,
                summary: req.summary,
            },
            actor: actor(&allowed)?,
            now: self.core.now(),
        })?)
    }

    /// A case the principal may work on; another office's is "not found".
    pub fn get(&self, by: &Principal, id: i64) -> Result<StoredCase, AppError> {
        let not_found = || AppError::NotFound(format!("case {id}"));
        let c = parties(self.core)?.case(id)?.ok_or_else(not_found)?;
        self.core
            .authorize(
                by,
                (
                    Operation::ManageCases,
                    Resource::Case {
                        office: Some(c.office),
                    },
                ),
            )
            .map_err(|_| not_found())?;
        Ok(c)
    }

    pub fn step(
        &self,
        by: &Principal,
        id: i64,
        req: CaseStepRequest,
    ) -> Result<StoredCase, AppError> {
        if matches!(req.step, CaseStep::Open { .. }) {
            return Err(AppError::invalid(
                "step",
                "invalid",
                "立案请使用立案接口",
                "open a case with POST /api/cases",
            ));
        }
        let c = self.get(by, id)?;
        let allowed = self.core.authorize(
            by,
            (
                Operation::ManageCases,
                Resource::Case {
                    office: Some(c.office),
                },
            ),
        )?;
        let penalized = matches!(req.step, CaseStep::Penalize { .. });
        // A case opened against an enterprise (linked to it) may take a certified one down
        // (store::aeo::after_case), in the link's transaction.
        let linked = match &req.step {
            CaseStep::Link {
                kind: store::cases::LinkKind::Enterprise,
                reference,
                ..
            } => Uscc::parse(reference).ok(),
            _ => None,
        };
        let written = parties(self.core)?.case_step(CaseWrite {
            case: Some(c.id),
            expected_version: req.expected_version,
            step: req.step,
            actor: actor(&allowed)?,
            now: self.core.now(),
        })?;
        if penalized {
            if let Some(change) = written.penalties.last().and_then(|p| p.credit.as_ref()) {
                self.risk.note_credit_class(change.uscc, change.to);
            }
        }
        if let Some(uscc) = linked {
            self.risk.reload_credit_class(uscc)?;
        }
        Ok(written)
    }

    /// The cases of the principal's offices, newest first.
    pub fn list(
        &self,
        by: &Principal,
        status: Option<CaseStatus>,
    ) -> Result<Vec<StoredCase>, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::ManageCases, Resource::Case { office: None }),
        )?;
        let offices = match allowed.scope() {
            Scope::Offices(_, within) => Some(within.to_vec()),
            Scope::Everywhere => None,
            _ => return Err(allowed.denied()),
        };
        Ok(parties(self.core)?.cases(&CaseFilter { offices, status })?)
    }
}
