//! AEO certification and credit management in the writer's transaction (store::aeo), as on
//! SQLite: each step decided on the certificate read `FOR UPDATE`; every credit change (a
//! decision, an officer's recorded decision, a penalty, a case, an overdue notice) goes through
//! [`Tx::record_credit`]: the history row, the class the risk engine reads and the withdrawal
//! of a certificate in force, with their audit records, in the request's savepoint.

use chrono::{DateTime, Utc};
use clearance::{Actor, CreditClass};
use domain::codes::Uscc;
use store::aeo::{
    self, AeoStep, AeoWrite, CreditDecision, CreditTrigger, OverdueReview, StoredCertification,
};
use store::audit::ChainHead;
use store::cases::CreditChange;
use store::risk::parse_credit_class;
use store::StoreError;

use super::Tx;
use crate::aeo::read_certification;
use crate::{backend, corrupt};

impl Tx<'_> {
    async fn save_certification(
        &self,
        cert: &StoredCertification,
        new: bool,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(cert).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let version = cert.version as i64;
        if new {
            self.c
                .execute(
                    "INSERT INTO certifications (id, uscc, office, status, version, body) VALUES ($1, $2, $3, $4, $5, $6)",
                    &[
                        &cert.id,
                        &cert.uscc.to_string(),
                        &cert.office.to_string(),
                        &cert.status.as_str(),
                        &version,
                        &body,
                    ],
                )
                .await
                .map_err(backend)?;
        } else {
            self.c
                .execute(
                    "UPDATE certifications SET status = $2, version = $3, body = $4 WHERE id = $1",
                    &[&cert.id, &cert.status.as_str(), &version, &body],
                )
                .await
                .map_err(backend)?;
        }
        Ok(())
    }

    /// The class of `uscc` as it stands in this transaction (`general` when none is stored).
    pub(super) async fn current_class(&self, uscc: Uscc) -> Result<CreditClass, StoreError> {
        match self
            .c
            .query_opt(
                "SELECT class FROM risk_credit_classes WHERE uscc = $1 FOR UPDATE",
                &[&uscc.to_string()],
            )
            .await
            .map_err(backend)?
        {
            Some(r) => {
                let s: &str = r.get(0);
                parse_credit_class(s).ok_or_else(|| corrupt(format!("credit class {s}")))
            }
            None => Ok(CreditClass::General),
        }
    }

    /// One credit change (store::aeo): its history row, the class when it changes, and the
    /// withdrawal of a certificate in force the new class no longer supports. `always`: record
    /// the row even when the class stays (a penalty).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn record_credit(
        &self,
        head: &mut ChainHead,
        uscc: Uscc,
        from: CreditClass,
        to: CreditClass,
        trigger: &CreditTrigger,
        actor: &Actor,
        now: DateTime<Utc>,
        always: bool,
    ) -> Result<Option<CreditChange>, StoreError> {
        if from == to && !always {
            return Ok(None);
        }
        let change = CreditChange {
            uscc,
            from,
            to,
            trigger: trigger.label(),
            at: now,
        };
        self.c
            .execute(
                "INSERT INTO credit_history (uscc, change) VALUES ($1, $2)",
                &[
                    &uscc.to_string(),
                    &serde_json::to_string(&change)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?,
                ],
            )
            .await
            .map_err(backend)?;
        self.audit(
            head,
            now,
            &actor.label(),
            "credit.change",
            &format!("enterprise:{uscc}"),
            aeo::credit_detail(&change),
        )
        .await?;
        if to != from {
            self.set_credit_class(head, &(uscc, to, actor.clone(), now))
                .await?;
            let rows = self
                .c
                .query(
                    "SELECT body FROM certifications WHERE uscc = $1 AND status = 'certified' FOR UPDATE",
                    &[&uscc.to_string()],
                )
                .await
                .map_err(backend)?;
            for row in rows {
                let cert = read_certification(row.get(0))?;
                if let Some(w) = aeo::withdraw(&cert, to, &change.trigger) {
                    self.save_certification(&w, false).await?;
                    self.audit(
                        head,
                        now,
                        &actor.label(),
                        "aeo.withdraw",
                        &format!("certification:{}", w.id),
                        aeo::withdraw_detail(&w, &change.trigger),
                    )
                    .await?;
                }
            }
        }
        Ok(Some(change))
    }

    pub(super) async fn aeo_step(
        &self,
        head: &mut ChainHead,
        w: &AeoWrite,
    ) -> Result<StoredCertification, StoreError> {
        let (current, id, open, holder) = match (&w.step, w.certification) {
            (AeoStep::Apply { uscc, .. }, None) => {
                // The writers' lock orders every certification write: the max is stable here.
                let open = self
                    .c
                    .query_opt(
                        "SELECT body FROM certifications WHERE uscc = $1 AND status IN ('applied', 'in_audit', 'certified') ORDER BY id DESC LIMIT 1",
                        &[&uscc.to_string()],
                    )
                    .await
                    .map_err(backend)?
                    .map(|r| read_certification(r.get(0)))
                    .transpose()?;
                let id: i64 = self
                    .c
                    .query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM certifications", &[])
                    .await
                    .map_err(backend)?
                    .get(0);
                (None, id, open, *uscc)
            }
            (_, Some(id)) => {
                let row = self
                    .c
                    .query_opt(
                        "SELECT body FROM certifications WHERE id = $1 FOR UPDATE",
                        &[&id],
                    )
                    .await
                    .map_err(backend)?
                    .ok_or_else(|| StoreError::NotFound(format!("certification {id}")))?;
                let cert = read_certification(row.get(0))?;
                let holder = cert.uscc;
                (Some(cert), id, None, holder)
            }
            (_, None) => return Err(StoreError::NotFound("certification".into())),
        };
        let class = self.current_class(holder).await?;
        let cert =
            aeo::decide(current.as_ref(), id, open.as_ref(), class, w).map_err(StoreError::Case)?;
        self.save_certification(&cert, current.is_none()).await?;
        self.audit(
            head,
            w.now,
            &w.actor.label(),
            &format!("aeo.{}", w.step.name()),
            &format!("certification:{}", cert.id),
            aeo::detail(&cert, &w.step),
        )
        .await?;
        if let AeoStep::Decide { outcome, .. } = &w.step {
            if let Some(to) = aeo::class_after(&cert, *outcome, class) {
                let round = cert.rounds.len() as u32;
                self.record_credit(
                    head,
                    holder,
                    class,
                    to,
                    &CreditTrigger::Certification { id: cert.id, round },
                    &w.actor,
                    w.now,
                    true,
                )
                .await?;
            }
        }
        let row = self
            .c
            .query_one("SELECT body FROM certifications WHERE id = $1", &[&cert.id])
            .await
            .map_err(backend)?;
        read_certification(row.get(0))
    }

    pub(super) async fn credit_decision(
        &self,
        head: &mut ChainHead,
        d: &CreditDecision,
    ) -> Result<CreditChange, StoreError> {
        let from = self.current_class(d.uscc).await?;
        self.record_credit(
            head,
            d.uscc,
            from,
            d.class,
            &CreditTrigger::Decision {
                reason: d.reason.clone(),
            },
            &d.actor,
            d.now,
            true,
        )
        .await?
        .ok_or_else(|| corrupt("a recorded decision wrote no change"))
    }

    pub(super) async fn overdue_review(
        &self,
        head: &mut ChainHead,
        r: &OverdueReview,
    ) -> Result<Vec<CreditChange>, StoreError> {
        let rows = self
            .c
            .query(
                "SELECT d.declarant, MIN(n.notice_no) FROM payment_notices n JOIN declarations d ON d.id = n.declaration_id \
                 WHERE n.paid_at IS NULL AND n.superseded_at IS NULL AND n.issued_at < $1 \
                 GROUP BY d.declarant ORDER BY d.declarant",
                &[&r.issued_before],
            )
            .await
            .map_err(backend)?;
        let mut out = Vec::new();
        for row in rows {
            let uscc = Uscc::parse(row.get::<_, &str>(0)).map_err(corrupt)?;
            let notice_no: String = row.get(1);
            let from = self.current_class(uscc).await?;
            if let Some(change) = self
                .record_credit(
                    head,
                    uscc,
                    from,
                    aeo::after_overdue(from),
                    &CreditTrigger::Overdue { notice_no },
                    &r.actor,
                    r.now,
                    false,
                )
                .await?
            {
                out.push(change);
            }
        }
        Ok(out)
    }
}
