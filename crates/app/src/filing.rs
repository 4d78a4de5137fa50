//! Filing a declaration, top to bottom: parse, validate, authorize, assess, then the one write,
//! assembled from what each feature contributes:
//!
//! 1. **risk** ([`crate::risk_desk`]): the lane, a hook the store runs with the number it gives
//!    (in [`FilingService::prepare_filing`]);
//! 2. **E-Port** ([`crate::eport_desk`]): the licence and registry check the store runs in the
//!    filing's transaction;
//! 3. **cargo** ([`crate::cargo_desk`]): the bill the filing must match on a manifest, reserved
//!    on the ledger with the late declaration fee, or the reasons it is rejected;
//! 4. the store writes the filing with all of it in one transaction, and cargo settles its
//!    reservation on what was written.
//!
//! (Outbox rows come with steps, not filings: see [`crate::steps`].)

use clearance::{Actor, EventKind, Lane, ReviewProblem, Status, PROBLEMS_MAX};
use domain::codes::{Direction, OfficeCode, PreEntryNo, Uscc};
use domain::declaration::DeclarationForm;
use domain::money::Fen;
use serde::Serialize;
use store::eport::FilingCheck;
use store::{AutomaticReview, DeclarationId, Filed, StoreError, SubmitRequest};

use crate::access::{Operation, Principal, Resource};
use crate::assessment;
use crate::attorney::AttorneyService;
use crate::cargo_desk::{BillLink, CargoService};
use crate::eport_desk::EportService;
use crate::error::{AppError, FieldProblem};
use crate::kernel::{internal, Allowed, Core, MATCH_RETRIES};
use crate::registration;
use crate::risk_desk::RiskService;

/// Longest client sequence number, in characters.
pub const CLIENT_SEQ_NO_CHARS_MAX: usize = 64;

/// The answer to a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Filing {
    pub id: DeclarationId,
    pub pre_entry_no: PreEntryNo,
    pub declaration_no: Option<domain::codes::DeclarationNo>,
    pub status: Status,
    pub lane: Option<Lane>,
    pub version: u64,
    /// `true` when this was a retry of an earlier submission: nothing new was written.
    pub replayed: bool,
}

/// Filing declarations (enterprises).
#[derive(Clone, Copy)]
pub struct FilingService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) attorney: AttorneyService<'a>,
    pub(crate) risk: RiskService<'a>,
    pub(crate) eport: EportService<'a>,
    pub(crate) cargo: CargoService<'a>,
}

impl FilingService<'_> {
    /// Everything a submission writes, decided before writing: parse, validate, authorize,
    /// assess, and the lane (risk's contribution: a hook the store runs with the number it
    /// gives, whose feedback row is written with the filing). Public so that the benchmark can
    /// write the very same rows straight to the store (its ceiling).
    pub fn prepare_filing(
        &self,
        principal: &Principal,
        client_seq_no: &str,
        body: &[u8],
    ) -> Result<(SubmitRequest, AutomaticReview), AppError> {
        let (_, request, review) = self.prepare(principal, client_seq_no, body)?;
        Ok((request, review))
    }

    /// [`FilingService::prepare_filing`], with the proof that the principal may file it.
    fn prepare<'p>(
        &'p self,
        principal: &'p Principal,
        client_seq_no: &str,
        body: &[u8],
    ) -> Result<(Allowed<'p>, SubmitRequest, AutomaticReview), AppError> {
        // Only enterprises file; refuse others before reading the document.
        if !matches!(principal, Principal::Enterprise { .. }) {
            return Err(AppError::Forbidden(crate::access::denied(
                principal,
                Operation::Submit,
            )));
        }
        let seq_ok = !client_seq_no.trim().is_empty()
            && client_seq_no.chars().count() <= CLIENT_SEQ_NO_CHARS_MAX
            && !client_seq_no.chars().any(char::is_control);
        if !seq_ok {
            return Err(AppError::invalid(
                "client_seq_no",
                "client_seq_no",
                format!("客户端序号须为 1 至 {CLIENT_SEQ_NO_CHARS_MAX} 个可见字符"),
                format!("a client sequence number has 1 to {CLIENT_SEQ_NO_CHARS_MAX} visible characters"),
            ));
        }
        let form = domain::validate::parse_form(body).map_err(|problems| {
            let structural = problems
                .iter()
                .any(|p| matches!(p.code, "not_json" | "empty" | "too_deep" | "too_large"));
            let list: Vec<FieldProblem> = problems.iter().map(FieldProblem::from).collect();
            if structural {
                AppError::Malformed(list)
            } else {
                AppError::Invalid(list)
            }
        })?;
        let typed = domain::validate::validate(&form, &*self.core.refdata);
        let header = match &typed {
            Ok(d) => FilingHeader {
                declarant: d.trader.uscc,
                direction: d.direction,
                office: d.declaration_office,
                entry_exit_office: d.entry_exit_office,
            },
            Err(problems) => filing_header(&form).ok_or_else(|| {
                AppError::Invalid(problems.iter().map(FieldProblem::from).collect())
            })?,
        };
        // A customs broker files in its principal's name under a power of attorney (the
        // writer checks it again in the filing's transaction); refused with the reason here.
        let trade_mode = match &typed {
            Ok(d) => Some(d.trade_mode.to_string()),
            Err(_) => form.trade_mode.clone(),
        };
        let agent = self.attorney.agent_for(
            principal,
            header.declarant,
            header.office,
            trade_mode.as_deref(),
        )?;
        let resource = match &agent {
            Some(a) => Resource::AgentDeclaration {
                declarant: header.declarant,
                office: header.office,
                broker: a.broker,
                live: true,
            },
            None => Resource::Declaration {
                declarant: header.declarant,
                office: header.office,
            },
        };
        let allowed = self
            .core
            .authorize(principal, (Operation::Submit, resource))?;
        // A customs registration not in force files nothing (the declarant's, and the
        // broker's when it acts: docs/PARTIES.md "Customs registration"). The writer checks it
        // in the filing's transaction and refuses with the same words, so a filing does not
        // read it here too; `review_problems`, which writes nothing, does.
        let actor = match &agent {
            Some(a) => Actor::Broker {
                broker: a.broker,
                login: a.login.clone(),
                principal: header.declarant,
                authority: a.authority,
            },
            None => Actor::Enterprise {
                uscc: header.declarant,
            },
        };

        let mut purchase = None;
        let mut goods_value_fen = None;
        let (body_json, review) = match &typed {
            Ok(decl) => {
                goods_value_fen = assessment::declared_value_fen(self.core, decl);
                // Assessed once, with the buyer's purchases for an e-commerce retail import;
                // its transaction value is what this filing adds to them.
                let assessment = assessment::assess(self.core, decl, None);
                if let Some(b) = &decl.buyer {
                    purchase = Some(store::Purchase {
                        buyer: b.person_id(),
                        value_fen: match &assessment {
                            Ok(a) => match &a.regime {
                                tax::Regime::CrossBorderEcommerce {
                                    transaction_value_fen,
                                    ..
                                } => *transaction_value_fen,
                                _ => Fen::ZERO,
                            },
                            // Not assessable (no rate): nothing is counted until it is.
                            Err(_) => Fen::ZERO,
                        },
                    });
                }
                let amounts = assessment.ok().map(|a| assessment::notice_amounts(&a));
                // Risk: the lane, chosen with the number the store gives.
                let review = self.risk.accepting_review(decl, &header.declarant, amounts);
                (serde_json::to_string(decl).map_err(internal)?, review)
            }
            Err(problems) => (
                serde_json::to_string(&form).map_err(internal)?,
                AutomaticReview::Reject {
                    problems: problems
                        .iter()
                        .take(PROBLEMS_MAX)
                        .map(ReviewProblem::from)
                        .collect(),
                },
            ),
        };
        Ok((
            allowed,
            SubmitRequest {
                client_seq_no: client_seq_no.to_owned(),
                declarant: header.declarant,
                direction: header.direction,
                declaration_office: header.office,
                entry_exit_office: header.entry_exit_office,
                body_json,
                actor,
                now: self.core.now(),
                purchase,
                goods_value_fen,
                agent,
            },
            review,
        ))
    }

    /// The problems automatic review would report for a declaration (JSON bytes of the wire
    /// form): review's own, then each feature's contribution as the write would ask it
    /// (E-Port's licence and registry check, cargo's bill match), read without reserving or
    /// writing anything. Errors as [`FilingService::submit`] before writing (not an
    /// enterprise, not its own declaration, unreadable).
    pub(crate) fn review_problems(
        &self,
        principal: &Principal,
        body: &[u8],
    ) -> Result<Vec<FieldProblem>, AppError> {
        let (_, req, review) = self.prepare(principal, "check", body)?;
        registration::may_file(self.core, req.declarant)?;
        if let Some(a) = &req.agent {
            registration::may_file(self.core, a.broker)?;
        }
        let mut problems: Vec<ReviewProblem> = match &review {
            AutomaticReview::Reject { problems } => problems.clone(),
            _ => Vec::new(),
        };
        problems.extend(self.cargo.bill_problems(&req, &review)?);
        if let Some(check) = self.eport.filing_check(&req) {
            problems.extend(self.eport.filing_problems(&check)?);
        }
        problems.truncate(PROBLEMS_MAX);
        Ok(problems.iter().map(FieldProblem::from).collect())
    }

    /// File a declaration (JSON bytes of the wire form) under a client sequence number. Runs
    /// automatic review: rejected with every problem (`AppError::Rejected`, recorded), or
    /// accepted and numbered, the lane chosen and, for green and blue lanes, the taxes
    /// assessed; all in one durable write. A retry with the same number returns the first
    /// result.
    pub fn submit(
        &self,
        principal: &Principal,
        client_seq_no: &str,
        body: &[u8],
    ) -> Result<Filing, AppError> {
        let (allowed, request, review) = self.prepare(principal, client_seq_no, body)?;
        let filed = self.write(&allowed, request, review)?;
        if filed.status == Status::Rejected {
            let problems = self
                .core
                .store
                .events(filed.id)?
                .iter()
                .rev()
                .find_map(|e| match &e.event.kind {
                    EventKind::Rejected { problems } => {
                        Some(problems.iter().map(FieldProblem::from).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            return Err(AppError::Rejected {
                pre_entry_no: filed.pre_entry_no,
                problems,
            });
        }
        Ok(Filing {
            id: filed.id,
            pre_entry_no: filed.pre_entry_no,
            declaration_no: filed.declaration_no,
            status: filed.status,
            lane: filed.lane,
            version: filed.version,
            replayed: filed.replayed,
        })
    }

    /// The filing's one write: each feature's contribution, then the store. Only with the
    /// proof that the principal may file it.
    fn write(
        &self,
        _allowed: &Allowed<'_>,
        req: SubmitRequest,
        review: AutomaticReview,
    ) -> Result<Filed, AppError> {
        // E-Port: the licence and registry check, run by the store in the filing's transaction.
        let check = self.eport.filing_check(&req);
        // Cargo: whether the filing is linked to a bill of a manifest.
        let bill = match self.cargo.bill_link(&req, &review)? {
            BillLink::Off => return Ok(self.store_write(req, review, check)?),
            BillLink::Rejected { ledgers, review } => {
                return Ok(self
                    .store_write_matched(ledgers, req, review, None, check)?
                    .filed)
            }
            BillLink::Bill(bill) => bill,
        };
        // A manifest write (a release writing off another bill, an arrival, a tally) between the
        // reservation and the write makes the store refuse the match (`Conflict`): nothing was
        // written, so the match is decided again on the ledger as it now is.
        let mut attempt = 0;
        loop {
            attempt += 1;
            // Cargo: the match checked and reserved on the ledger (or the reasons it fails),
            // with the late declaration fee joining the notices.
            let reserved = self.cargo.reserve(&bill, &req, review.clone())?;
            let out = self.store_write_matched(
                bill.ledgers(),
                req.clone(),
                reserved.review.clone(),
                reserved.pending.clone(),
                check.clone(),
            );
            // Cargo: the reservation gives way to the match written (or to nothing).
            match reserved.settle(out) {
                Err(StoreError::Conflict { .. }) if attempt < MATCH_RETRIES => {
                    // The manifest log moved past the reservation: possibly through another
                    // process on the same database (a match of the same bill, an arrival), so
                    // the ledger reads it before the match is decided again.
                    bill.catch_up()?;
                    continue;
                }
                out => return Ok(out?),
            }
        }
    }

    /// [`store::Store::submit_reviewed`], through the E-Port ledgers' check when there is one.
    fn store_write(
        &self,
        req: SubmitRequest,
        review: AutomaticReview,
        check: Option<FilingCheck>,
    ) -> Result<Filed, StoreError> {
        match (check, self.core.store.eport_store()) {
            (Some(check), Some(e)) => e.file_checked(req, review, check),
            _ => self.core.store.submit_reviewed(req, review),
        }
    }

    /// [`store::cargo::CargoStore::submit_matched`], through the E-Port ledgers' check when
    /// there is one (one transaction either way).
    fn store_write_matched(
        &self,
        ledgers: &dyn store::cargo::CargoStore,
        req: SubmitRequest,
        review: AutomaticReview,
        matched: Option<store::cargo::PendingMatch>,
        check: Option<FilingCheck>,
    ) -> Result<store::cargo::SubmittedMatched, StoreError> {
        match (check, self.core.store.eport_store()) {
            (Some(check), Some(e)) => e.file_checked_matched(req, review, check, matched),
            _ => ledgers.submit_matched(req, review, matched),
        }
    }
}

struct FilingHeader {
    declarant: Uscc,
    direction: Direction,
    office: OfficeCode,
    entry_exit_office: OfficeCode,
}

/// What a filing needs even when the declaration fails review: who files, which direction,
/// which offices. `None` when any of them cannot be read: then nothing can be recorded.
fn filing_header(form: &DeclarationForm) -> Option<FilingHeader> {
    let direction = match form.direction.as_deref()? {
        "import" => Direction::Import,
        "export" => Direction::Export,
        _ => return None,
    };
    Some(FilingHeader {
        declarant: Uscc::parse(form.trader.as_ref()?.uscc.as_deref()?).ok()?,
        direction,
        office: OfficeCode::parse(form.declaration_office.as_deref()?).ok()?,
        entry_exit_office: OfficeCode::parse(form.entry_exit_office.as_deref()?).ok()?,
    })
}
