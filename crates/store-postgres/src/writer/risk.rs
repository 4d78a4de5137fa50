//! The writes of [`store::risk::RiskStore`] on PostgreSQL, run by the one writer like every
//! other request: each in its own savepoint of the batch's transaction, with its audit record
//! in the same chain. An examination's events and the result on its feedback row are one
//! request, so they commit (or fail) together. Same statements' meaning and same audit records
//! as the SQLite backend (`store-sqlite/src/risk.rs`).

use chrono::{DateTime, Utc};
use clearance::{Actor, CreditClass};
use domain::codes::Uscc;
use store::audit::ChainHead;
use store::risk::*;
use store::{AppendRequest, Appended, StoreError};

use super::{AuditRows, Tx};
use crate::{backend, corrupt, ms};

/// The feedback rows of the decisions of a group of filings, inserted with one statement.
pub(super) const INSERT_FEEDBACK: &str = "INSERT INTO risk_feedback (declaration_no, record)
     SELECT * FROM unnest($1::text[], $2::text[])
     ON CONFLICT (declaration_no) DO UPDATE SET record = excluded.record";

#[derive(Default)]
pub(super) struct FeedbackRows {
    numbers: Vec<String>,
    records: Vec<String>,
}

impl FeedbackRows {
    /// A decision's row, and its audit record (as `record_decision` writes it) next in the chain.
    pub(super) fn push(
        &mut self,
        audit: &mut AuditRows,
        head: &mut ChainHead,
        row: &FeedbackRow,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(row).map_err(corrupt)?;
        audit.push(head.next(
            ms(now).timestamp_millis(),
            "system:risk",
            "risk.record_decision",
            &format!("declaration_no:{}", row.declaration_no),
            body.clone(),
        ));
        self.numbers.push(row.declaration_no.to_string());
        self.records.push(body);
        Ok(())
    }

    pub(super) fn is_empty(&self) -> bool {
        self.numbers.is_empty()
    }

    pub(super) fn params(&self) -> [&(dyn tokio_postgres::types::ToSql + Sync); 2] {
        [&self.numbers, &self.records]
    }
}

impl Tx<'_> {
    /// The version after the newest one `max_sql` reads, if `expected` is that newest one
    /// (optimistic concurrency: a writer that read an older version is refused).
    async fn next_version(&self, max_sql: &str, expected: u64) -> Result<i64, StoreError> {
        let current: i64 = self
            .c
            .query_one(max_sql, &[])
            .await
            .map_err(backend)?
            .get(0);
        if current as u64 != expected {
            return Err(StoreError::Conflict {
                expected,
                actual: current as u64,
            });
        }
        Ok(current + 1)
    }

    pub(super) async fn put_rules(
        &self,
        head: &mut ChainHead,
        w: &RulesWrite,
    ) -> Result<StoredRules, StoreError> {
        check_rules(w)?;
        let version = self
            .next_version(
                "SELECT coalesce(max(version), 0) FROM risk_rules",
                w.expected_version,
            )
            .await?;
        let actor = w.actor.label();
        let at = ms(w.now);
        self.c
                    .execute(
                        "INSERT INTO risk_rules (version, fingerprint, actor, at, rules) VALUES ($1, $2, $3, $4, $5)",
                        &[&version, &w.fingerprint, &actor, &at, &w.rules_json],
                    )
                    .await
                    .map_err(backend)?;
        self.audit(
            head,
            w.now,
            &actor,
            "risk.put_rules",
            &format!("risk_rules:{version}"),
            store::detail::rules(version as u64, &w.fingerprint, &w.rules_json),
        )
        .await?;
        Ok(StoredRules {
            version: version as u64,
            rules_json: w.rules_json.clone(),
            fingerprint: w.fingerprint.clone(),
            actor,
            at,
        })
    }

    pub(super) async fn put_policy(
        &self,
        head: &mut ChainHead,
        w: &RiskPolicyWrite,
    ) -> Result<StoredRiskPolicy, StoreError> {
        check_policy_write(w)?;
        let version = self
            .next_version(
                "SELECT coalesce(max(version), 0) FROM risk_policy",
                w.expected_version,
            )
            .await?;
        let actor = w.actor.label();
        let at = ms(w.now);
        self.c
            .execute(
                "INSERT INTO risk_policy (version, actor, at, policy) VALUES ($1, $2, $3, $4)",
                &[&version, &actor, &at, &w.policy_json],
            )
            .await
            .map_err(backend)?;
        self.audit(
            head,
            w.now,
            &actor,
            "risk.put_policy",
            &format!("risk_policy:{version}"),
            store::detail::policy(version as u64, &w.policy_json)?,
        )
        .await?;
        Ok(StoredRiskPolicy {
            version: version as u64,
            policy_json: w.policy_json.clone(),
            actor,
            at,
        })
    }

    pub(super) async fn set_credit_class(
        &self,
        head: &mut ChainHead,
        (uscc, class, actor, now): &(Uscc, CreditClass, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        let name = credit_class_name(*class);
        self.c
                    .execute(
                        "INSERT INTO risk_credit_classes (uscc, class, actor, at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (uscc) DO UPDATE SET class = excluded.class, actor = excluded.actor, at = excluded.at",
                        &[&uscc.to_string(), &name, &actor.label(), &ms(*now)],
                    )
                    .await
                    .map_err(backend)?;
        self.audit(
            head,
            *now,
            &actor.label(),
            "risk.set_credit_class",
            &format!("enterprise:{uscc}"),
            store::detail::credit_class(name),
        )
        .await?;
        Ok(())
    }

    pub(super) async fn add_watch(
        &self,
        head: &mut ChainHead,
        (entry, actor, now): &(WatchRow, Actor, DateTime<Utc>),
    ) -> Result<i64, StoreError> {
        check_watch_row(entry)?;
        let body = serde_json::to_string(entry).map_err(corrupt)?;
        let id: i64 = self
                    .c
                    .query_one(
                        "INSERT INTO risk_watch_entries (entry, actor, at) VALUES ($1, $2, $3) RETURNING id",
                        &[&body, &actor.label(), &ms(*now)],
                    )
                    .await
                    .map_err(backend)?
                    .get(0);
        self.audit(
            head,
            *now,
            &actor.label(),
            "risk.add_watch_entry",
            &format!("watch_entry:{id}"),
            body,
        )
        .await?;
        Ok(id)
    }

    pub(super) async fn remove_watch(
        &self,
        head: &mut ChainHead,
        (id, actor, now): &(i64, Actor, DateTime<Utc>),
    ) -> Result<bool, StoreError> {
        let n = self
                    .c
                    .execute(
                        "UPDATE risk_watch_entries SET removed_at = $2 WHERE id = $1 AND removed_at IS NULL",
                        &[id, &ms(*now)],
                    )
                    .await
                    .map_err(backend)?;
        if n > 0 {
            self.audit(
                head,
                *now,
                &actor.label(),
                "risk.remove_watch_entry",
                &format!("watch_entry:{id}"),
                store::detail::empty(),
            )
            .await?;
        }
        Ok(n > 0)
    }

    pub(super) async fn record_decision(
        &self,
        head: &mut ChainHead,
        (row, actor, now): &(FeedbackRow, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(row).map_err(corrupt)?;
        self.c
            .execute(
                "INSERT INTO risk_feedback (declaration_no, record) VALUES ($1, $2)
                         ON CONFLICT (declaration_no) DO UPDATE SET record = excluded.record",
                &[&row.declaration_no.to_string(), &body],
            )
            .await
            .map_err(backend)?;
        self.audit(
            head,
            *now,
            &actor.label(),
            "risk.record_decision",
            &format!("declaration_no:{}", row.declaration_no),
            body,
        )
        .await?;
        Ok(())
    }

    pub(super) async fn append_examined(
        &self,
        head: &mut ChainHead,
        (req, exam): &(AppendRequest, Examination),
    ) -> Result<Appended, StoreError> {
        // As `append`, then the result on the feedback row, in the same savepoint.
        let appended = self.append(head, req).await?;
        let no = exam.declaration_no.to_string();
        let existing = self
            .c
            .query_opt(
                "SELECT record FROM risk_feedback WHERE declaration_no = $1 FOR UPDATE",
                &[&no],
            )
            .await
            .map_err(backend)?;
        if let Some(r) = existing {
            let record: String = r.get(0);
            let mut fb: FeedbackRow = serde_json::from_str(&record)
                .map_err(|e| corrupt(format!("feedback of {no}: {e}")))?;
            fb.found = Some(exam.found);
            fb.findings = if exam.found {
                exam.findings.clone()
            } else {
                Vec::new()
            };
            let body = serde_json::to_string(&fb).map_err(corrupt)?;
            self.c
                .execute(
                    "UPDATE risk_feedback SET record = $2 WHERE declaration_no = $1",
                    &[&no, &body],
                )
                .await
                .map_err(backend)?;
            let last = req.events.last().expect("append has events");
            self.audit(
                head,
                last.at,
                &last.actor.label(),
                "risk.record_examination",
                &format!("declaration_no:{no}"),
                body,
            )
            .await?;
        }
        Ok(appended)
    }
}
