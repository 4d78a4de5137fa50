//! The AEO desk 企业信用管理 (docs/PARTIES.md "AEO certification"): an enterprise's
//! administrator applies for advanced or general certification; reviewers of the auditing
//! office score each standard of the checklist with findings, decide (the decision must be the
//! audit's: `store::aeo::outcome`) and open the periodic re-assessment. Every step is one write
//! with its audit record (`store::aeo`); a decision changes the credit class with its history
//! row in the same transaction, and the risk engine uses the new class for the next filing.
//!
//! The credit class has no other way in: an officer's decision outside an audit (the former
//! "set credit class") is recorded with its reason through the same path
//! (`RiskService::set_credit_class`), as are penalties, cases and overdue notices
//! ([`AeoService::overdue_review`]). The mutual-recognition partners
//! (`store::aeo::mra_partners`) are shown on an advanced-certified exporter's declarations to
//! them (`store::aeo::mutual_recognition`, in the declaration's detail).

use clearance::{Actor, CreditClass};
use domain::codes::{OfficeCode, Uscc};
use serde::{Deserialize, Serialize};
use store::aeo::{
    AeoFilter, AeoStatus, AeoStep, AeoWrite, Level, OverdueReview, StoredCertification,
};
use store::cases::CreditChange;
use store::parties::PartiesStore;

use crate::access::{Operation, Principal, Resource};
use crate::error::AppError;
use crate::kernel::{Core, Scope};
use crate::risk_desk::RiskService;

/// An application, as the enterprise's administrator sends it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    pub level: Level,
    /// The auditing office; by default the office of the enterprise's customs registration.
    #[serde(default)]
    pub office: Option<String>,
}

/// An officer's step on a certificate, decided on the version the officer saw.
#[derive(Clone, Debug, Deserialize)]
pub struct AeoStepRequest {
    pub expected_version: Option<u64>,
    #[serde(flatten)]
    pub step: AeoStep,
}

/// A certificate with what its audit concludes so far.
#[derive(Clone, Debug, Serialize)]
pub struct CertificationView {
    #[serde(flatten)]
    pub certification: StoredCertification,
    /// The current round's score (100 less the deductions so far).
    pub score: u32,
    /// What the audit concludes once complete (`None` while standards remain).
    pub outcome: Option<store::aeo::Outcome>,
    /// The standards of the current round not yet scored.
    pub remaining: Vec<String>,
}

impl CertificationView {
    pub fn of(c: StoredCertification) -> CertificationView {
        let (score, outcome, remaining) = match c.current() {
            Some(r) => match store::aeo::outcome(r) {
                Ok(o) => (store::aeo::score(r), Some(o), Vec::new()),
                Err(missing) => (store::aeo::score(r), None, missing),
            },
            None => (100, None, Vec::new()),
        };
        CertificationView {
            certification: c,
            score,
            outcome,
            remaining,
        }
    }
}

/// An enterprise's credit standing: its class now (from the workflow), its history and its
/// certificates.
#[derive(Clone, Debug, Serialize)]
pub struct CreditStanding {
    pub uscc: Uscc,
    pub class: CreditClass,
    pub history: Vec<CreditChange>,
    pub certifications: Vec<CertificationView>,
}

/// What an overdue review changed.
#[derive(Clone, Debug, Serialize)]
pub struct OverdueOutcome {
    /// Notices issued before this instant were past due.
    pub issued_before: chrono::DateTime<chrono::Utc>,
    pub changes: Vec<CreditChange>,
}

#[derive(Clone, Copy)]
pub struct AeoService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) risk: RiskService<'a>,
}

fn parties(core: &Core) -> Result<&dyn PartiesStore, AppError> {
    core.store
        .parties_store()
        .ok_or_else(|| AppError::Internal("this store keeps no certifications".into()))
}

impl AeoService<'_> {
    /// The enterprise's administrator applies; the auditing office is its registration's
    /// unless named.
    pub fn apply(&self, by: &Principal, req: ApplyRequest) -> Result<CertificationView, AppError> {
        let Principal::Enterprise { uscc, .. } = by else {
            return Err(AppError::Forbidden(crate::access::denied(
                by,
                Operation::ApplyCertification,
            )));
        };
        let uscc = *uscc;
        let registered = parties(self.core)?
            .registration_by_uscc(uscc)?
            .map(|r| r.office);
        let office = match (req.office.as_deref().map(str::trim), registered) {
            (Some(o), _) if !o.is_empty() => OfficeCode::parse(o)
                .ok()
                .filter(|o| self.core.refdata.offices().any(|x| x.code == *o))
                .ok_or_else(|| {
                    AppError::invalid(
                        "office",
                        "invalid",
                        format!("“{o}”不是关区代码表中的海关"),
                        format!("\"{o}\" is not an office of the office table"),
                    )
                })?,
            (_, Some(o)) => o,
            _ => {
                return Err(AppError::invalid(
                    "office",
                    "missing",
                    "没有备案的企业须指明审核海关",
                    "an enterprise without a customs registration names the auditing office",
                ))
            }
        };
        let allowed = self.core.authorize(
            by,
            (
                Operation::ApplyCertification,
                Resource::Certification {
                    holder: Some(uscc),
                    office: Some(office),
                },
            ),
        )?;
        let c = parties(self.core)?.aeo_step(AeoWrite {
            certification: None,
            expected_version: None,
            step: AeoStep::Apply {
                uscc,
                office,
                level: req.level,
            },
            actor: allowed.audit_actor(),
            now: self.core.now(),
        })?;
        Ok(CertificationView::of(c))
    }

    /// A certificate the principal may see: the holder's users, or reviewers of its office;
    /// anyone else "not found".
    pub fn get(&self, by: &Principal, id: i64) -> Result<CertificationView, AppError> {
        let not_found = || AppError::NotFound(format!("certification {id}"));
        let c = parties(self.core)?
            .certification(id)?
            .ok_or_else(not_found)?;
        self.may_see(by, &c).map_err(|_| not_found())?;
        Ok(CertificationView::of(c))
    }

    fn may_see(&self, by: &Principal, c: &StoredCertification) -> Result<(), AppError> {
        let resource = Resource::Certification {
            holder: Some(c.uscc),
            office: Some(c.office),
        };
        if self.core.authorize(by, (Operation::View, resource)).is_ok() {
            return Ok(());
        }
        self.core
            .authorize(by, (Operation::AuditCertification, resource))?;
        Ok(())
    }

    /// An officer's step: score a standard, decide, open the re-assessment.
    pub fn step(
        &self,
        by: &Principal,
        id: i64,
        req: AeoStepRequest,
    ) -> Result<CertificationView, AppError> {
        if matches!(req.step, AeoStep::Apply { .. }) {
            return Err(AppError::invalid(
                "step",
                "invalid",
                "认证申请请使用申请接口",
                "apply with POST /api/aeo/applications",
            ));
        }
        let not_found = || AppError::NotFound(format!("certification {id}"));
        let c = parties(self.core)?
            .certification(id)?
            .ok_or_else(not_found)?;
        let resource = Resource::Certification {
            holder: Some(c.uscc),
            office: Some(c.office),
        };
        // The holder sees its certificate but takes no officer's step (403); anyone else who
        // may not see it gets "not found".
        let allowed = match self
            .core
            .authorize(by, (Operation::AuditCertification, resource))
        {
            Ok(a) => a,
            Err(e) => {
                return match self.core.authorize(by, (Operation::View, resource)) {
                    Ok(_) => Err(e.into()),
                    Err(_) => Err(not_found()),
                }
            }
        };
        let decided = matches!(req.step, AeoStep::Decide { .. });
        let written = parties(self.core)?.aeo_step(AeoWrite {
            certification: Some(c.id),
            expected_version: req.expected_version,
            step: req.step,
            actor: allowed.audit_actor(),
            now: self.core.now(),
        })?;
        if decided {
            self.risk.reload_credit_class(written.uscc)?;
        }
        Ok(CertificationView::of(written))
    }

    /// Certificates: an officer's offices' (newest first), an enterprise's own.
    pub fn list(
        &self,
        by: &Principal,
        status: Option<AeoStatus>,
    ) -> Result<Vec<CertificationView>, AppError> {
        let filter = match by {
            Principal::Enterprise { uscc, .. } => {
                self.core.authorize(
                    by,
                    (
                        Operation::View,
                        Resource::Certification {
                            holder: Some(*uscc),
                            office: None,
                        },
                    ),
                )?;
                AeoFilter {
                    offices: None,
                    uscc: Some(*uscc),
                    status,
                }
            }
            _ => {
                let allowed = self.core.authorize(
                    by,
                    (
                        Operation::AuditCertification,
                        Resource::Certification {
                            holder: None,
                            office: None,
                        },
                    ),
                )?;
                let offices = match allowed.scope() {
                    Scope::Offices(_, within) => Some(within.to_vec()),
                    Scope::Everywhere => None,
                    _ => return Err(allowed.denied()),
                };
                AeoFilter {
                    offices,
                    uscc: None,
                    status,
                }
            }
        };
        Ok(parties(self.core)?
            .certifications(&filter)?
            .into_iter()
            .map(CertificationView::of)
            .collect())
    }

    /// An enterprise's credit standing: the enterprise itself, reviewers and anti-smuggling
    /// officers (any enterprise: the class is national).
    pub fn standing(&self, by: &Principal, uscc: Uscc) -> Result<CreditStanding, AppError> {
        self.may_read_credit(by, uscc)?;
        let p = parties(self.core)?;
        Ok(CreditStanding {
            uscc,
            class: self.risk.class_of(&uscc),
            history: p.credit_history(uscc)?,
            certifications: p
                .certifications(&AeoFilter {
                    offices: None,
                    uscc: Some(uscc),
                    status: None,
                })?
                .into_iter()
                .map(CertificationView::of)
                .collect(),
        })
    }

    /// The credit changes of an enterprise, oldest first (who may: as [`Self::standing`]).
    pub fn credit_history(
        &self,
        by: &Principal,
        uscc: Uscc,
    ) -> Result<Vec<CreditChange>, AppError> {
        self.may_read_credit(by, uscc)?;
        Ok(parties(self.core)?.credit_history(uscc)?)
    }

    fn may_read_credit(&self, by: &Principal, uscc: Uscc) -> Result<(), AppError> {
        let own = Resource::Certification {
            holder: Some(uscc),
            office: None,
        };
        let any = [
            (Operation::View, own),
            (Operation::AuditCertification, own),
            (Operation::ManageCases, Resource::Case { office: None }),
        ];
        let mut first = None;
        for ask in any {
            match self.core.authorize(by, ask) {
                Ok(_) => return Ok(()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.map_or(AppError::Internal("no ask".into()), AppError::from))
    }

    /// Downgrade the certified enterprises with a payment notice past its due date unpaid
    /// (officers who decide credit classes: HQ or a directly-affiliated customs).
    pub fn overdue_review(&self, by: &Principal) -> Result<OverdueOutcome, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::SetCreditClass, Resource::Risk { office: None }),
        )?;
        self.review_overdue(allowed.audit_actor())
    }

    /// The hourly sweep of `jinguan serve`: the same review as [`AeoService::overdue_review`],
    /// by the system, so that an unpaid notice past its due date downgrades its enterprise
    /// whether or not an officer asks.
    pub fn overdue_sweep(&self) -> Result<OverdueOutcome, AppError> {
        self.review_overdue(Actor::System {
            component: "credit-overdue-sweep".into(),
        })
    }

    fn review_overdue(&self, actor: Actor) -> Result<OverdueOutcome, AppError> {
        let now = self.core.now();
        let today = domain::time::china_date(now);
        let issued_before = crate::notices::overdue_cutoff(self.core, today)
            .ok_or_else(|| AppError::Internal("no overdue cut-off".into()))?;
        let changes = parties(self.core)?.overdue_review(OverdueReview {
            issued_before,
            actor,
            now,
        })?;
        for c in &changes {
            self.risk.reload_credit_class(c.uscc)?;
        }
        Ok(OverdueOutcome {
            issued_before,
            changes,
        })
    }
}
