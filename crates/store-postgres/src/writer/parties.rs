//! Powers of attorney and the case register in the writer's transaction (store::parties,
//! store::cases), as on SQLite: each decided on the rows read under `FOR UPDATE`, written with
//! its audit record in the request's savepoint.

use chrono::{DateTime, Utc};
use clearance::Actor;
use domain::codes::Uscc;
use store::audit::ChainHead;
use store::cases::{self, CaseWrite, StoredCase};
use store::parties::*;
use store::{StoreError, SubmitRequest};

use super::Tx;
use crate::parties::{read_authority, read_case, AUTHORITY_COLUMNS};
use crate::{backend, ms};

impl Tx<'_> {
    async fn lock_authority(&self, id: i64) -> Result<Option<StoredAuthority>, StoreError> {
        let row = self
            .c
            .query_opt(
                &format!("SELECT {AUTHORITY_COLUMNS} FROM authorities WHERE id = $1 FOR UPDATE"),
                &[&id],
            )
            .await
            .map_err(backend)?;
        row.as_ref().map(read_authority).transpose()
    }

    pub(super) async fn grant_authority(
        &self,
        head: &mut ChainHead,
        (new, actor, now): &(NewAuthority, Actor, DateTime<Utc>),
    ) -> Result<StoredAuthority, StoreError> {
        check_scope(new).map_err(|mut v| StoreError::Authority(v.remove(0)))?;
        let scope =
            serde_json::to_string(&new.scope).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let row = self
            .c
            .query_one(
                &format!(
                    "INSERT INTO authorities (grantor, broker, scope, granted_at, granted_by) VALUES ($1, $2, $3, $4, $5) RETURNING {AUTHORITY_COLUMNS}"
                ),
                &[
                    &new.grantor.to_string(),
                    &new.broker.to_string(),
                    &scope,
                    &ms(*now),
                    &actor.label(),
                ],
            )
            .await
            .map_err(backend)?;
        let a = read_authority(&row)?;
        self.audit(
            head,
            *now,
            &actor.label(),
            "authority.grant",
            &format!("authority:{}", a.id),
            detail(&a),
        )
        .await?;
        Ok(a)
    }

    pub(super) async fn revoke_authority(
        &self,
        head: &mut ChainHead,
        (id, by, actor, now): &(i64, Uscc, Actor, DateTime<Utc>),
    ) -> Result<StoredAuthority, StoreError> {
        let a = self
            .lock_authority(*id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("power of attorney {id}")))?;
        revocation(&a, *by).map_err(StoreError::Authority)?;
        let row = self
            .c
            .query_one(
                &format!(
                    "UPDATE authorities SET revoked_at = $2, revoked_by = $3 WHERE id = $1 RETURNING {AUTHORITY_COLUMNS}"
                ),
                &[id, &ms(*now), &actor.label()],
            )
            .await
            .map_err(backend)?;
        let a = read_authority(&row)?;
        self.audit(
            head,
            *now,
            &actor.label(),
            "authority.revoke",
            &format!("authority:{id}"),
            detail(&a),
        )
        .await?;
        Ok(a)
    }

    /// A broker's filing: its authority, locked and checked in the filing's transaction.
    pub(super) async fn admit_agent(&self, req: &SubmitRequest) -> Result<(), StoreError> {
        // The registrations in force, as a run's filings are checked (`filing_run`).
        let regs = self
            .newest_registrations(&store::registration::filers(req))
            .await?;
        Self::registrations_admit(req, &regs)?;
        let Some(agent) = &req.agent else {
            return Ok(());
        };
        let a = self
            .lock_authority(agent.authority)
            .await?
            .ok_or(StoreError::Authority(AuthorityRefusal::NoAuthority {
                declarant: req.declarant,
                broker: agent.broker,
            }))?;
        admit(&a, req, agent).map_err(StoreError::Authority)
    }

    /// A broker's filing written: its row, the authority's use, the audit record.
    pub(super) async fn record_agent_filing(
        &self,
        head: &mut ChainHead,
        req: &SubmitRequest,
        id: store::DeclarationId,
        status: clearance::Status,
        replayed: bool,
    ) -> Result<(), StoreError> {
        let Some(agent) = &req.agent else {
            return Ok(());
        };
        if replayed {
            return Ok(());
        }
        self.c
            .execute(
                "INSERT INTO agent_filings (declaration_id, authority_id, broker, login) VALUES ($1, $2, $3, $4)",
                &[&id.0, &agent.authority, &agent.broker.to_string(), &agent.login],
            )
            .await
            .map_err(backend)?;
        let counted = counts_against(req, status, false);
        if let Some(value) = counted {
            self.c
                .execute(
                    "UPDATE authorities SET used_declarations = used_declarations + 1, used_value_fen = used_value_fen + $2 WHERE id = $1",
                    &[&agent.authority, &value.0],
                )
                .await
                .map_err(backend)?;
        }
        self.audit(
            head,
            req.now,
            &req.actor.label(),
            "authority.file",
            &format!("declaration:{}", id.0),
            filing_detail(agent.authority, &agent.login, counted),
        )
        .await
    }

    pub(super) async fn case_step(
        &self,
        head: &mut ChainHead,
        w: &CaseWrite,
    ) -> Result<StoredCase, StoreError> {
        let (current, opened) = match (&w.step, w.case) {
            (cases::CaseStep::Open { office, .. }, None) => {
                let year = domain::time::china_year(w.now);
                // The writers' lock orders every case write: count and max are stable here.
                let row = self
                    .c
                    .query_one(
                        "SELECT (SELECT COUNT(*) FROM cases WHERE office = $1 AND year = $2), (SELECT COALESCE(MAX(id), 0) + 1 FROM cases)",
                        &[&office.to_string(), &year],
                    )
                    .await
                    .map_err(backend)?;
                let n: i64 = row.get(0);
                let id: i64 = row.get(1);
                (
                    None,
                    Some((id, cases::case_no(*office, year, n as u32 + 1))),
                )
            }
            (_, Some(id)) => {
                let row = self
                    .c
                    .query_opt("SELECT body FROM cases WHERE id = $1 FOR UPDATE", &[&id])
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::NotFound(format!("case {id}")))?;
                (Some(read_case(row.get(0))?), None)
            }
            (_, None) => return Err(StoreError::NotFound("case".into())),
        };
        let mut case = cases::decide(current.as_ref(), opened, w).map_err(StoreError::Case)?;
        let case_no = case.case_no.clone();
        if let Some(p) = cases::new_penalty(&mut case, &w.step) {
            let from = self.current_class(p.party).await?;
            p.credit = self
                .record_credit(
                    head,
                    p.party,
                    from,
                    cases::downgrade(from, p.kind),
                    &store::aeo::CreditTrigger::Penalty {
                        case_no: case_no.clone(),
                        no: p.no,
                    },
                    &w.actor,
                    w.now,
                    true,
                )
                .await?;
        }
        // A case opened against an enterprise (linked to it) takes a certified one down to the
        // general class (store::aeo::after_case).
        if let cases::CaseStep::Link {
            kind: cases::LinkKind::Enterprise,
            reference,
            ..
        } = &w.step
        {
            let uscc = Uscc::parse(reference).map_err(|e| StoreError::Invalid(e.to_string()))?;
            let from = self.current_class(uscc).await?;
            self.record_credit(
                head,
                uscc,
                from,
                store::aeo::after_case(from),
                &store::aeo::CreditTrigger::Case {
                    case_no: case_no.clone(),
                },
                &w.actor,
                w.now,
                false,
            )
            .await?;
        }
        let body = serde_json::to_string(&case).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let version = case.version as i64;
        if current.is_none() {
            self.c
                .execute(
                    "INSERT INTO cases (id, case_no, office, year, status, version, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &case.id,
                        &case.case_no,
                        &case.office.to_string(),
                        &domain::time::china_year(w.now),
                        &case.status.as_str(),
                        &version,
                        &body,
                    ],
                )
                .await
                .map_err(backend)?;
        } else {
            self.c
                .execute(
                    "UPDATE cases SET status = $2, version = $3, body = $4 WHERE id = $1",
                    &[&case.id, &case.status.as_str(), &version, &body],
                )
                .await
                .map_err(backend)?;
        }
        self.audit(
            head,
            w.now,
            &w.actor.label(),
            &format!("case.{}", w.step.name()),
            &format!("case:{}", case.id),
            cases::detail(&case, &w.step),
        )
        .await?;
        Ok(case)
    }
}
