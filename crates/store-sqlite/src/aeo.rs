//! AEO certification and credit management on SQLite (store::aeo): one JSON document per
//! certificate with narrow columns (USCC, office, status), decided by `store::aeo::decide`
//! inside the writer's transaction. Every credit change (a decision, an officer's recorded
//! decision, a penalty, a case, an overdue notice) goes through [`record_credit`]: the history
//! row, the class the risk engine reads, and the withdrawal of a certificate in force, in the
//! same savepoint.

use clearance::CreditClass;
use rusqlite::{params, Connection, OptionalExtension};
use store::aeo::{
    self, AeoFilter, AeoStep, AeoWrite, CreditDecision, CreditTrigger, OverdueReview,
    StoredCertification,
};
use store::cases::CreditChange;
use store::risk::parse_credit_class;

use super::*;

/// Migration 20 (issue 19): certificates, and registrations that a refused or cancelled one
/// no longer blocks (the USCC is unique among those pending or in force only).
pub(super) const MIGRATION: &str = r#"
    CREATE TABLE certifications (
        id      INTEGER PRIMARY KEY,
        uscc    TEXT NOT NULL,
        office  TEXT NOT NULL,
        status  TEXT NOT NULL,
        version INTEGER NOT NULL,
        body    TEXT NOT NULL
    );
    CREATE INDEX certifications_uscc ON certifications (uscc, id);
    CREATE INDEX certifications_office ON certifications (office, id);

    CREATE TABLE registrations_new (
        id           INTEGER PRIMARY KEY,
        uscc         TEXT NOT NULL,
        customs_code TEXT UNIQUE,
        office       TEXT NOT NULL,
        status       TEXT NOT NULL,
        version      INTEGER NOT NULL,
        body         TEXT NOT NULL
    );
    INSERT INTO registrations_new SELECT id, uscc, customs_code, office, status, version, body FROM registrations;
    DROP TABLE registrations;
    ALTER TABLE registrations_new RENAME TO registrations;
    CREATE INDEX registrations_office ON registrations (office, id);
    CREATE INDEX registrations_uscc ON registrations (uscc, id);
    CREATE UNIQUE INDEX registrations_live ON registrations (uscc)
        WHERE status IN ('pending_review', 'effective');
"#;

fn read(b: &str) -> Result<StoredCertification, StoreError> {
    serde_json::from_str(b).map_err(|e| corrupt(format!("certification: {e}")))
}

fn certs_where(
    c: &Connection,
    sql: &str,
    args: &[rusqlite::types::Value],
) -> Result<Vec<StoredCertification>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            r.get::<_, String>(0)
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for b in rows {
        out.push(read(&b.map_err(backend)?)?);
    }
    Ok(out)
}

fn load(c: &Connection, id: i64) -> Result<Option<StoredCertification>, StoreError> {
    c.prepare_cached("SELECT body FROM certifications WHERE id = ?1")
        .map_err(backend)?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()
        .map_err(backend)?
        .map(|b| read(&b))
        .transpose()
}

fn save(c: &Connection, cert: &StoredCertification, new: bool) -> Result<(), StoreError> {
    let body = serde_json::to_string(cert).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if new {
        c.prepare_cached(
            "INSERT INTO certifications (id, uscc, office, status, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .map_err(backend)?
        .execute(params![
            cert.id,
            cert.uscc.to_string(),
            cert.office.to_string(),
            cert.status.as_str(),
            cert.version as i64,
            body
        ])
        .map_err(backend)?;
    } else {
        c.prepare_cached(
            "UPDATE certifications SET status = ?2, version = ?3, body = ?4 WHERE id = ?1",
        )
        .map_err(backend)?
        .execute(params![
            cert.id,
            cert.status.as_str(),
            cert.version as i64,
            body
        ])
        .map_err(backend)?;
    }
    Ok(())
}

/// The class of `uscc` as it stands in this transaction (`general` when none is stored).
pub(super) fn current_class(c: &Connection, uscc: Uscc) -> Result<CreditClass, StoreError> {
    Ok(
        c.prepare_cached("SELECT class FROM risk_credit_classes WHERE uscc = ?1")
            .map_err(backend)?
            .query_row([uscc.to_string()], |r| r.get::<_, String>(0))
            .optional()
            .map_err(backend)?
            .map(|s| parse_credit_class(&s).ok_or_else(|| corrupt(format!("credit class {s}"))))
            .transpose()?
            .unwrap_or(CreditClass::General),
    )
}

/// One credit change from `from` to `to`: its history row, the class (when it changes) and
/// the withdrawal of a certificate in force that the new class no longer supports, each with
/// its audit record. `always`: record the row even when the class stays (a penalty).
#[allow(clippy::too_many_arguments)]
pub(super) fn record_credit(
    c: &Connection,
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
    c.prepare_cached("INSERT INTO credit_history (uscc, change) VALUES (?1, ?2)")
        .map_err(backend)?
        .execute(params![
            uscc.to_string(),
            serde_json::to_string(&change).map_err(|e| StoreError::Invalid(e.to_string()))?
        ])
        .map_err(backend)?;
    audit(
        c,
        head,
        now,
        &actor.label(),
        "credit.change",
        &format!("enterprise:{uscc}"),
        aeo::credit_detail(&change),
    )?;
    if to != from {
        super::risk::set_credit_class(c, head, &(uscc, to, actor.clone(), now))?;
        let held = certs_where(
            c,
            "SELECT body FROM certifications WHERE uscc = ?1 AND status = 'certified'",
            &[rusqlite::types::Value::Text(uscc.to_string())],
        )?;
        for cert in held {
            if let Some(w) = aeo::withdraw(&cert, to, &change.trigger) {
                save(c, &w, false)?;
                audit(
                    c,
                    head,
                    now,
                    &actor.label(),
                    "aeo.withdraw",
                    &format!("certification:{}", w.id),
                    aeo::withdraw_detail(&w, &change.trigger),
                )?;
            }
        }
    }
    Ok(Some(change))
}

pub(super) fn step(
    c: &Connection,
    head: &mut ChainHead,
    w: &AeoWrite,
) -> Result<StoredCertification, StoreError> {
    let (current, id, open, holder) = match (&w.step, w.certification) {
        (AeoStep::Apply { uscc, .. }, None) => {
            let open = certs_where(
                c,
                "SELECT body FROM certifications WHERE uscc = ?1 AND status IN ('applied', 'in_audit', 'certified') ORDER BY id DESC LIMIT 1",
                &[rusqlite::types::Value::Text(uscc.to_string())],
            )?
            .pop();
            let id: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM certifications")
                .map_err(backend)?
                .query_row([], |r| r.get(0))
                .map_err(backend)?;
            (None, id, open, *uscc)
        }
        (_, Some(id)) => {
            let cert =
                load(c, id)?.ok_or_else(|| StoreError::NotFound(format!("certification {id}")))?;
            let holder = cert.uscc;
            (Some(cert), id, None, holder)
        }
        (_, None) => return Err(StoreError::NotFound("certification".into())),
    };
    let class = current_class(c, holder)?;
    let cert =
        aeo::decide(current.as_ref(), id, open.as_ref(), class, w).map_err(StoreError::Case)?;
    save(c, &cert, current.is_none())?;
    audit(
        c,
        head,
        w.now,
        &w.actor.label(),
        &format!("aeo.{}", w.step.name()),
        &format!("certification:{}", cert.id),
        aeo::detail(&cert, &w.step),
    )?;
    if let AeoStep::Decide { outcome, .. } = &w.step {
        if let Some(to) = aeo::class_after(&cert, *outcome, class) {
            let round = cert.rounds.len() as u32;
            record_credit(
                c,
                head,
                holder,
                class,
                to,
                &CreditTrigger::Certification { id: cert.id, round },
                &w.actor,
                w.now,
                true,
            )?;
        }
    }
    // A decision's credit change may not withdraw the certificate just decided (it is
    // certified at the class it gives): read it back as written.
    load(c, cert.id)?.ok_or_else(|| corrupt("certification vanished"))
}

pub(super) fn credit_decision(
    c: &Connection,
    head: &mut ChainHead,
    d: &CreditDecision,
) -> Result<CreditChange, StoreError> {
    let from = current_class(c, d.uscc)?;
    record_credit(
        c,
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
    )?
    .ok_or_else(|| corrupt("a recorded decision wrote no change"))
}

pub(super) fn overdue_review(
    c: &Connection,
    head: &mut ChainHead,
    r: &OverdueReview,
) -> Result<Vec<CreditChange>, StoreError> {
    let mut stmt = c
        .prepare_cached(
            "SELECT d.declarant, MIN(n.notice_no) FROM payment_notices n JOIN declarations d ON d.id = n.declaration_id \
             WHERE n.paid_at_ms IS NULL AND n.superseded_at_ms IS NULL AND n.issued_at_ms < ?1 \
             GROUP BY d.declarant ORDER BY d.declarant",
        )
        .map_err(backend)?;
    let rows = stmt
        .query_map([to_ms(r.issued_before)], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })
        .map_err(backend)?;
    let mut overdue = Vec::new();
    for row in rows {
        let (uscc, notice_no) = row.map_err(backend)?;
        overdue.push((Uscc::parse(&uscc).map_err(corrupt)?, notice_no));
    }
    let mut out = Vec::new();
    for (uscc, notice_no) in overdue {
        let from = current_class(c, uscc)?;
        if let Some(change) = record_credit(
            c,
            head,
            uscc,
            from,
            aeo::after_overdue(from),
            &CreditTrigger::Overdue { notice_no },
            &r.actor,
            r.now,
            false,
        )? {
            out.push(change);
        }
    }
    Ok(out)
}

impl SqliteStore {
    pub(super) fn certification_by_id(
        &self,
        id: i64,
    ) -> Result<Option<StoredCertification>, StoreError> {
        self.read(|c| load(c, id))
    }

    pub(super) fn certification_list(
        &self,
        filter: &AeoFilter,
    ) -> Result<Vec<StoredCertification>, StoreError> {
        use rusqlite::types::Value::Text;
        let mut sql = String::from("SELECT body FROM certifications WHERE 1=1");
        let mut args = Vec::new();
        if let Some(s) = filter.status {
            args.push(Text(s.as_str().into()));
            sql.push_str(&format!(" AND status = ?{}", args.len()));
        }
        if let Some(u) = filter.uscc {
            args.push(Text(u.to_string()));
            sql.push_str(&format!(" AND uscc = ?{}", args.len()));
        }
        if let Some(offices) = &filter.offices {
            let Some(list) = office_params(offices, &mut args)? else {
                return Ok(Vec::new());
            };
            sql.push_str(&format!(" AND office IN ({list})"));
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            aeo::CERTIFICATES_MAX
        ));
        self.read(|c| certs_where(c, &sql, &args))
    }
}
