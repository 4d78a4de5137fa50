//! Electronic powers of attorney 代理报关委托书 (docs/PARTIES.md): a consignee or consignor grants
//! a customs broker authority to file in its name, within a scope (trade modes, offices, a
//! period, optional count and value limits), and can revoke it. The broker's users then file
//! in the consignee's name and take its steps; both see the declaration, its notices and their
//! payments; the broker's user is recorded as the actor of every step (`Actor::Broker`) and in
//! the audit log.
//!
//! The authority decides twice: here, before anything is written (so that a broker without a
//! live authority is refused with the reason and nothing is recorded), and in the store's
//! writer, inside the filing's transaction (`store::parties::admit`), which is the check that
//! counts: a revocation racing a filing is ordered by the writer.

use chrono::NaiveDate;
use clearance::{Actor, Header};
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use serde::{Deserialize, Serialize};
use store::parties::{
    admit_parts, check_scope, AgentFiling, AuthorityFilter, AuthorityRefusal, AuthorityScope,
    Filing, NewAuthority, PartiesStore, Standing, StoredAuthority,
};
use store::{DeclarationKey, DeclarationSummary};

use crate::access::{Operation, Principal, Resource};
use crate::error::{authority_refused, AppError, FieldProblem};
use crate::kernel::Core;

/// A grant as the consignee's user sends it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// The customs broker (USCC).
    pub broker: String,
    #[serde(default)]
    pub trade_modes: Vec<String>,
    #[serde(default)]
    pub offices: Vec<String>,
    /// `YYYY-MM-DD`, China time, inclusive.
    pub valid_from: String,
    pub valid_to: String,
    #[serde(default)]
    pub max_declarations: Option<u32>,
    #[serde(default)]
    pub max_value_fen: Option<i64>,
}

/// An authority with where it stands today.
#[derive(Clone, Debug, Serialize)]
pub struct AuthorityView {
    #[serde(flatten)]
    pub authority: StoredAuthority,
    pub standing: Standing,
}

/// What an enterprise sees: the authorities it granted and those it received.
#[derive(Clone, Debug, Serialize)]
pub struct Authorities {
    pub granted: Vec<AuthorityView>,
    pub received: Vec<AuthorityView>,
}

#[derive(Clone, Copy)]
pub struct AttorneyService<'a> {
    pub(crate) core: &'a Core,
}

fn parties(core: &Core) -> Result<&dyn PartiesStore, AppError> {
    core.store
        .parties_store()
        .ok_or_else(|| AppError::Internal("this store keeps no powers of attorney".into()))
}

fn own_uscc(p: &Principal) -> Option<Uscc> {
    match p {
        Principal::Enterprise { uscc, .. } => Some(*uscc),
        _ => None,
    }
}

impl<'a> AttorneyService<'a> {
    /// Grant a broker authority (the signed-in enterprise is the grantor).
    pub fn grant(&self, by: &Principal, req: GrantRequest) -> Result<AuthorityView, AppError> {
        let grantor = own_uscc(by).ok_or_else(|| {
            AppError::Forbidden(crate::access::denied(by, Operation::ManageAuthorities))
        })?;
        let allowed = self.core.authorize(
            by,
            (
                Operation::ManageAuthorities,
                Resource::Authority { grantor },
            ),
        )?;
        let mut problems = Vec::new();
        let broker = Uscc::parse(req.broker.trim()).map_err(|_| {
            FieldProblem::new(
                "broker",
                "invalid",
                "报关企业的统一社会信用代码无效",
                "the broker's unified social credit code is not valid",
            )
        });
        let date = |field: &str, s: &str, problems: &mut Vec<FieldProblem>| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| {
                    problems.push(FieldProblem::new(
                        field,
                        "invalid",
                        format!("日期“{s}”应为 YYYY-MM-DD"),
                        format!("date \"{s}\" is YYYY-MM-DD"),
                    ))
                })
                .ok()
        };
        let from = date("valid_from", &req.valid_from, &mut problems);
        let to = date("valid_to", &req.valid_to, &mut problems);
        let mut offices = Vec::new();
        for (i, o) in req.offices.iter().enumerate() {
            match OfficeCode::parse(o.trim()) {
                Ok(o) => offices.push(o),
                Err(_) => problems.push(FieldProblem::new(
                    format!("offices[{i}]"),
                    "invalid",
                    format!("海关代码“{o}”无效"),
                    format!("office code \"{o}\" is not valid"),
                )),
            }
        }
        let broker = match broker {
            Ok(b) => Some(b),
            Err(p) => {
                problems.push(p);
                None
            }
        };
        let (Some(broker), Some(from), Some(to), true) = (broker, from, to, problems.is_empty())
        else {
            return Err(AppError::Invalid(problems));
        };
        let new = NewAuthority {
            grantor,
            broker,
            scope: AuthorityScope {
                trade_modes: req
                    .trade_modes
                    .iter()
                    .map(|m| m.trim().to_owned())
                    .collect(),
                offices,
                valid_from: from,
                valid_to: to,
                max_declarations: req.max_declarations,
                max_value_fen: req.max_value_fen.map(Fen),
            },
        };
        if let Err(refusals) = check_scope(&new) {
            return Err(AppError::Invalid(
                refusals
                    .iter()
                    .map(|r| {
                        FieldProblem::new(
                            r.field().unwrap_or(""),
                            r.code(),
                            r.message_zh(),
                            r.message_en(),
                        )
                    })
                    .collect(),
            ));
        }
        let now = self.core.now();
        let a = parties(self.core)?.grant_authority(new, &allowed.audit_actor(), now)?;
        Ok(AuthorityView {
            standing: a.standing(now),
            authority: a,
        })
    }

    /// Revoke one of the enterprise's own authorities. Another's is "not found".
    pub fn revoke(&self, by: &Principal, id: i64) -> Result<AuthorityView, AppError> {
        let not_found = || AppError::NotFound(format!("power of attorney {id}"));
        let a = parties(self.core)?.authority(id)?.ok_or_else(not_found)?;
        let allowed = self
            .core
            .authorize(
                by,
                (
                    Operation::ManageAuthorities,
                    Resource::Authority { grantor: a.grantor },
                ),
            )
            .map_err(|_| not_found())?;
        let now = self.core.now();
        let a = parties(self.core)?
            .revoke_authority(id, a.grantor, &allowed.audit_actor(), now)
            .map_err(|e| match e {
                store::StoreError::Authority(r @ AuthorityRefusal::Revoked { .. }) => {
                    AppError::Conflict {
                        code: r.code(),
                        message_en: r.message_en(),
                        message_zh: r.message_zh(),
                    }
                }
                other => other.into(),
            })?;
        Ok(AuthorityView {
            standing: a.standing(now),
            authority: a,
        })
    }

    /// The authorities the enterprise granted and those it holds as a broker.
    pub fn list(&self, by: &Principal) -> Result<Authorities, AppError> {
        let uscc = own_uscc(by).ok_or_else(|| {
            AppError::Forbidden(crate::access::denied(by, Operation::ManageAuthorities))
        })?;
        self.core.authorize(
            by,
            (
                Operation::ManageAuthorities,
                Resource::Authority { grantor: uscc },
            ),
        )?;
        let now = self.core.now();
        let view = |v: Vec<StoredAuthority>| {
            v.into_iter()
                .map(|a| AuthorityView {
                    standing: a.standing(now),
                    authority: a,
                })
                .collect()
        };
        let p = parties(self.core)?;
        Ok(Authorities {
            granted: view(p.authorities(AuthorityFilter::Grantor(uscc))?),
            received: view(p.authorities(AuthorityFilter::Broker(uscc))?),
        })
    }

    /// The declarations the signed-in broker filed for its principals, newest first (at most
    /// `limit`, 1 to 500).
    pub fn agent_declarations(
        &self,
        by: &Principal,
        limit: u32,
    ) -> Result<Vec<DeclarationSummary>, AppError> {
        let allowed = self
            .core
            .authorize(by, (Operation::List, Resource::Listing))?;
        let Some(broker) = own_uscc(allowed.principal()) else {
            return Err(allowed.denied());
        };
        let limit = limit.clamp(1, store::PAGE_MAX);
        let mut out = Vec::new();
        for id in parties(self.core)?.agent_declarations(broker, limit)? {
            let Some(d) = self.core.store.load(DeclarationKey::Id(id))? else {
                continue;
            };
            let Some(h) = d.state.header.as_ref() else {
                continue;
            };
            out.push(DeclarationSummary {
                id: d.id,
                pre_entry_no: h.pre_entry_no,
                declaration_no: d.state.declaration_no,
                declarant: h.declarant,
                direction: h.direction,
                declaration_office: h.declaration_office,
                status: d.state.status,
                lane: d.state.lane,
                submitted_at: d.state.submitted_at.unwrap_or(d.updated_at),
                version: d.version,
            });
        }
        Ok(out)
    }

    /// The authority a broker's filing goes under: the first of the broker's authorities from
    /// `declarant` that admits it, or the reason none does (403, zh and en). `None` when the
    /// principal files for itself.
    pub(crate) fn agent_for(
        &self,
        principal: &Principal,
        declarant: Uscc,
        office: OfficeCode,
        trade_mode: Option<&str>,
    ) -> Result<Option<AgentFiling>, AppError> {
        let Principal::Enterprise { uscc, login, .. } = principal else {
            return Ok(None);
        };
        if *uscc == declarant {
            return Ok(None);
        }
        let list = parties(self.core)?.authorities(AuthorityFilter::Between {
            grantor: declarant,
            broker: *uscc,
        })?;
        let filing = Filing {
            broker: *uscc,
            declarant,
            office,
            trade_mode,
            // The value limit is the writer's to check, with the assessed value.
            value: None,
            now: self.core.now(),
        };
        let mut first_refusal = None;
        for a in &list {
            match admit_parts(a, &filing) {
                Ok(()) => {
                    return Ok(Some(AgentFiling {
                        authority: a.id,
                        broker: *uscc,
                        login: login.clone(),
                        trade_mode: trade_mode.map(str::to_owned),
                    }))
                }
                Err(r) => {
                    first_refusal.get_or_insert(r);
                }
            }
        }
        Err(authority_refused(first_refusal.unwrap_or(
            AuthorityRefusal::NoAuthority {
                declarant,
                broker: *uscc,
            },
        )))
    }

    /// The resource a declaration is to this principal: a broker's filing is an
    /// [`Resource::AgentDeclaration`] (live while its authority is neither revoked nor
    /// expired), anything else a [`Resource::Declaration`].
    pub(crate) fn resource_for(
        &self,
        principal: &Principal,
        header: &Header,
    ) -> Result<Resource, AppError> {
        let plain = Resource::Declaration {
            declarant: header.declarant,
            office: header.declaration_office,
        };
        let (Principal::Enterprise { uscc, .. }, Some(agent)) = (principal, header.agent) else {
            return Ok(plain);
        };
        if *uscc == header.declarant || *uscc != agent.broker {
            return Ok(plain);
        }
        let live = parties(self.core)?
            .authority(agent.authority)?
            .is_some_and(|a| a.standing(self.core.now()) == Standing::Live);
        Ok(Resource::AgentDeclaration {
            declarant: header.declarant,
            office: header.declaration_office,
            broker: agent.broker,
            live,
        })
    }

    /// The actor of a broker's user acting on a declaration it filed.
    pub(crate) fn broker_actor(principal: &Principal, header: &Header) -> Option<Actor> {
        let Principal::Enterprise { uscc, login, .. } = principal else {
            return None;
        };
        let agent = header.agent?;
        (agent.broker == *uscc && *uscc != header.declarant).then(|| Actor::Broker {
            broker: *uscc,
            login: login.clone(),
            principal: header.declarant,
            authority: agent.authority,
        })
    }
}
