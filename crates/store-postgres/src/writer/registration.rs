//! Customs registration in the writer's transaction (store::registration), as on SQLite: the
//! registration read under `FOR UPDATE`, decided, its customs code counted from the codes
//! given with the same first six digits (the one writer orders every registration write), the
//! first administrator's account and the audit record in the same savepoint.

use chrono::{DateTime, Utc};
use clearance::Actor;
use store::audit::ChainHead;
use store::registration::{self, RegistrationWrite, StoredRegistration};
use store::{Duty, StoreError};

use super::Tx;
use crate::backend;
use crate::registration::read_registration;

impl Tx<'_> {
    /// The newest registration of each of `usccs`, as they stand in this transaction (the
    /// writers' lock orders them against every registration step).
    pub(super) async fn newest_registrations(
        &self,
        usccs: &[domain::codes::Uscc],
    ) -> Result<Vec<StoredRegistration>, StoreError> {
        if usccs.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<String> = usccs.iter().map(|u| u.to_string()).collect();
        let rows = self
            .c
            .query(
                "SELECT DISTINCT ON (uscc) body FROM registrations WHERE uscc = ANY($1) ORDER BY uscc, id DESC",
                &[&codes],
            )
            .await
            .map_err(backend)?;
        rows.iter().map(|r| read_registration(r.get(0))).collect()
    }

    /// A filing's declarant and acting broker have their registrations in force (or none on
    /// record), given `regs` read in this transaction.
    pub(super) fn registrations_admit(
        req: &store::SubmitRequest,
        regs: &[StoredRegistration],
    ) -> Result<(), StoreError> {
        for uscc in registration::filers(req) {
            let r = regs.iter().find(|r| r.uscc == uscc);
            registration::in_force(uscc, r).map_err(StoreError::Registration)?;
        }
        Ok(())
    }

    pub(super) async fn registration_step(
        &self,
        head: &mut ChainHead,
        w: &RegistrationWrite,
    ) -> Result<StoredRegistration, StoreError> {
        let (current, id) = match (&w.step, w.registration) {
            (registration::RegistrationStep::Apply { uscc, .. }, None) => {
                let row = self
                    .c
                    .query_opt(
                        "SELECT body FROM registrations WHERE uscc = $1 ORDER BY id DESC LIMIT 1 FOR UPDATE",
                        &[&uscc.to_string()],
                    )
                    .await
                    .map_err(backend)?;
                let current = row.map(|r| read_registration(r.get(0))).transpose()?;
                let id: i64 = self
                    .c
                    .query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM registrations", &[])
                    .await
                    .map_err(backend)?
                    .get(0);
                (current, id)
            }
            (_, Some(id)) => {
                let row = self
                    .c
                    .query_opt(
                        "SELECT body FROM registrations WHERE id = $1 FOR UPDATE",
                        &[&id],
                    )
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
                (Some(read_registration(row.get(0))?), id)
            }
            (_, None) => return Err(StoreError::NotFound("registration".into())),
        };
        let mut r =
            registration::decide(current.as_ref(), id, w).map_err(StoreError::Registration)?;
        if registration::takes_effect(&r) {
            let prefix = registration::code_prefix(&r);
            let n: i64 = self
                .c
                .query_one(
                    "SELECT COUNT(*) FROM registrations WHERE substr(customs_code, 1, 6) = $1",
                    &[&prefix],
                )
                .await
                .map_err(backend)?
                .get(0);
            r.customs_code = Some(
                registration::customs_code(&prefix, n as u32 + 1).ok_or_else(|| {
                    StoreError::SerialExhausted(format!("customs codes {prefix}"))
                })?,
            );
        }
        if let Some(admin) = &w.admin {
            self.create_account(head, &(admin.clone(), w.actor.clone(), w.now))
                .await?;
        }
        let body = serde_json::to_string(&r).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let code = r.customs_code.map(|x| x.to_string());
        let version = r.version as i64;
        // A new record (also a re-registration after a refused or cancelled one, kept as it is).
        if current.as_ref().is_none_or(|old| old.id != r.id) {
            self.c
                .execute(
                    "INSERT INTO registrations (id, uscc, customs_code, office, status, version, body) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    &[
                        &r.id,
                        &r.uscc.to_string(),
                        &code,
                        &r.office.to_string(),
                        &r.status.as_str(),
                        &version,
                        &body,
                    ],
                )
                .await
                .map_err(backend)?;
        } else {
            self.c
                .execute(
                    "UPDATE registrations SET customs_code = $2, status = $3, version = $4, body = $5 WHERE id = $1",
                    &[&r.id, &code, &r.status.as_str(), &version, &body],
                )
                .await
                .map_err(backend)?;
        }
        self.audit(
            head,
            w.now,
            &w.actor.label(),
            &format!("registration.{}", w.step.name()),
            &format!("registration:{}", r.id),
            registration::detail(&r, &w.step),
        )
        .await?;
        Ok(r)
    }

    pub(super) async fn set_roles(
        &self,
        head: &mut ChainHead,
        (user_id, roles, actor, now): &(i64, Vec<Duty>, Actor, DateTime<Utc>),
    ) -> Result<u64, StoreError> {
        let names: Vec<&str> = roles.iter().map(|d| d.as_str()).collect();
        let n = self
            .c
            .execute(
                "UPDATE users SET duties = $2 WHERE id = $1 AND role = 'enterprise'",
                &[user_id, &names],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("enterprise user {user_id}")));
        }
        self.audit(
            head,
            *now,
            &actor.label(),
            "enterprise.set_roles",
            &format!("user:{user_id}"),
            serde_json::json!({ "roles": names }).to_string(),
        )
        .await?;
        Ok(n)
    }
}
