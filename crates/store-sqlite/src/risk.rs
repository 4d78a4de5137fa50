//! [`RiskStore`] on SQLite: writes go through the same writer thread as declarations, so they
//! share its group commit and the one audit chain, and an examination's events and its feedback
//! commit in one savepoint.

use rusqlite::{params, Connection, OptionalExtension};

use super::*;
use store::risk::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE risk_rules (
        version     INTEGER PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        actor       TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        rules       TEXT NOT NULL
    );

    CREATE TABLE risk_credit_classes (
        uscc  TEXT PRIMARY KEY,
        class TEXT NOT NULL,
        actor TEXT NOT NULL,
        at_ms INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE risk_watch_entries (
        id            INTEGER PRIMARY KEY,
        entry         TEXT NOT NULL,
        actor         TEXT NOT NULL,
        at_ms         INTEGER NOT NULL,
        removed_at_ms INTEGER
    );

    CREATE TABLE risk_feedback (
        seq            INTEGER PRIMARY KEY,
        declaration_no TEXT NOT NULL UNIQUE,
        record         TEXT NOT NULL
    );
"#;

/// The risk policy's versions (sampling seed and rates, price-check thresholds), appended later.
pub(super) const POLICY_MIGRATION: &str = r#"
    CREATE TABLE risk_policy (
        version INTEGER PRIMARY KEY,
        actor   TEXT NOT NULL,
        at_ms   INTEGER NOT NULL,
        policy  TEXT NOT NULL
    );
"#;

fn json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(corrupt)
}

/// The version after the newest one `max_sql` reads, if `expected` is that newest one
/// (optimistic concurrency: a writer that read an older version is refused).
fn next_version(c: &Connection, max_sql: &str, expected: u64) -> Result<i64, StoreError> {
    let current: i64 = c
        .prepare_cached(max_sql)
        .map_err(backend)?
        .query_row([], |r| r.get(0))
        .map_err(backend)?;
    if current as u64 != expected {
        return Err(StoreError::Conflict {
            expected,
            actual: current as u64,
        });
    }
    Ok(current + 1)
}

pub(super) fn put_rules(
    c: &Connection,
    head: &mut ChainHead,
    w: &RulesWrite,
) -> Result<StoredRules, StoreError> {
    let version = next_version(
        c,
        "SELECT COALESCE(MAX(version), 0) FROM risk_rules",
        w.expected_version,
    )?;
    let actor = w.actor.label();
    c.prepare_cached(
                "INSERT INTO risk_rules (version, fingerprint, actor, at_ms, rules) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .map_err(backend)?
            .execute(params![version, w.fingerprint, actor, to_ms(w.now), w.rules_json])
            .map_err(backend)?;
    audit(
        c,
        head,
        w.now,
        &actor,
        "risk.put_rules",
        &format!("risk_rules:{version}"),
        store::detail::rules(version as u64, &w.fingerprint, &w.rules_json),
    )?;
    Ok(StoredRules {
        version: version as u64,
        rules_json: w.rules_json.clone(),
        fingerprint: w.fingerprint.clone(),
        actor,
        at: from_ms(to_ms(w.now))?,
    })
}

pub(super) fn put_policy(
    c: &Connection,
    head: &mut ChainHead,
    w: &RiskPolicyWrite,
) -> Result<StoredRiskPolicy, StoreError> {
    let version = next_version(
        c,
        "SELECT COALESCE(MAX(version), 0) FROM risk_policy",
        w.expected_version,
    )?;
    let actor = w.actor.label();
    c.prepare_cached(
        "INSERT INTO risk_policy (version, actor, at_ms, policy) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(backend)?
    .execute(params![version, actor, to_ms(w.now), w.policy_json])
    .map_err(backend)?;
    audit(
        c,
        head,
        w.now,
        &actor,
        "risk.put_policy",
        &format!("risk_policy:{version}"),
        store::detail::policy(version as u64, &w.policy_json)?,
    )?;
    Ok(StoredRiskPolicy {
        version: version as u64,
        policy_json: w.policy_json.clone(),
        actor,
        at: from_ms(to_ms(w.now))?,
    })
}

pub(super) fn set_credit_class(
    c: &Connection,
    head: &mut ChainHead,
    (uscc, class, actor, now): &(Uscc, clearance::CreditClass, Actor, DateTime<Utc>),
) -> Result<(), StoreError> {
    let name = credit_class_name(*class);
    c.prepare_cached(
                "INSERT INTO risk_credit_classes (uscc, class, actor, at_ms) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (uscc) DO UPDATE SET class = excluded.class, actor = excluded.actor, at_ms = excluded.at_ms",
            )
            .map_err(backend)?
            .execute(params![uscc.to_string(), name, actor.label(), to_ms(*now)])
            .map_err(backend)?;
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "risk.set_credit_class",
        &format!("enterprise:{uscc}"),
        store::detail::credit_class(name),
    )?;
    Ok(())
}

pub(super) fn add_watch(
    c: &Connection,
    head: &mut ChainHead,
    (entry, actor, now): &(WatchRow, Actor, DateTime<Utc>),
) -> Result<i64, StoreError> {
    check_watch_row(entry)?;
    let body = json(entry)?;
    c.prepare_cached("INSERT INTO risk_watch_entries (entry, actor, at_ms) VALUES (?1, ?2, ?3)")
        .map_err(backend)?
        .execute(params![body, actor.label(), to_ms(*now)])
        .map_err(backend)?;
    let id = c.last_insert_rowid();
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "risk.add_watch_entry",
        &format!("watch_entry:{id}"),
        body,
    )?;
    Ok(id)
}

pub(super) fn remove_watch(
    c: &Connection,
    head: &mut ChainHead,
    (id, actor, now): &(i64, Actor, DateTime<Utc>),
) -> Result<bool, StoreError> {
    let n = c
                .prepare_cached(
                    "UPDATE risk_watch_entries SET removed_at_ms = ?2 WHERE id = ?1 AND removed_at_ms IS NULL",
                )
                .map_err(backend)?
                .execute(params![id, to_ms(*now)])
                .map_err(backend)?;
    if n > 0 {
        audit(
            c,
            head,
            *now,
            &actor.label(),
            "risk.remove_watch_entry",
            &format!("watch_entry:{id}"),
            store::detail::empty(),
        )?;
    }
    Ok(n > 0)
}

pub(super) fn record_decision_as(
    c: &Connection,
    head: &mut ChainHead,
    (row, actor, now): &(FeedbackRow, Actor, DateTime<Utc>),
) -> Result<(), StoreError> {
    record_decision(c, head, row, &actor.label(), *now)?;
    Ok(())
}

pub(super) fn append_examined(
    c: &Connection,
    head: &mut ChainHead,
    (req, exam): &(AppendRequest, Examination),
) -> Result<Appended, StoreError> {
    let appended = super::append(c, head, req)?;
    let no = exam.declaration_no.to_string();
    let existing: Option<String> = c
        .prepare_cached("SELECT record FROM risk_feedback WHERE declaration_no = ?1")
        .map_err(backend)?
        .query_row([&no], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    if let Some(record) = existing {
        let mut row: FeedbackRow =
            serde_json::from_str(&record).map_err(|e| corrupt(format!("feedback of {no}: {e}")))?;
        row.found = Some(exam.found);
        row.findings = if exam.found {
            exam.findings.clone()
        } else {
            Vec::new()
        };
        let body = json(&row)?;
        c.prepare_cached("UPDATE risk_feedback SET record = ?2 WHERE declaration_no = ?1")
            .map_err(backend)?
            .execute(params![no, body])
            .map_err(backend)?;
        let last = req.events.last().expect("append has events");
        audit(
            c,
            head,
            last.at,
            &last.actor.label(),
            "risk.record_examination",
            &format!("declaration_no:{no}"),
            body,
        )?;
    }
    Ok(appended)
}

/// The feedback row of a decision and its audit record (also called by a filing whose lane
/// hook gave one, inside the filing's savepoint).
pub(super) fn record_decision(
    c: &Connection,
    head: &mut ChainHead,
    row: &FeedbackRow,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let body = json(row)?;
    c.prepare_cached(
        "INSERT INTO risk_feedback (declaration_no, record) VALUES (?1, ?2) \
         ON CONFLICT (declaration_no) DO UPDATE SET record = excluded.record",
    )
    .map_err(backend)?
    .execute(params![row.declaration_no.to_string(), body])
    .map_err(backend)?;
    audit(
        c,
        head,
        now,
        actor,
        "risk.record_decision",
        &format!("declaration_no:{}", row.declaration_no),
        body,
    )
}

fn read_rules(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, i64, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

fn stored_rules(
    (version, fingerprint, actor, at_ms, rules_json): (i64, String, String, i64, String),
) -> Result<StoredRules, StoreError> {
    Ok(StoredRules {
        version: version as u64,
        rules_json,
        fingerprint,
        actor,
        at: from_ms(at_ms)?,
    })
}

impl RiskStore for SqliteStore {
    fn rules(&self) -> Result<Option<StoredRules>, StoreError> {
        Ok(self.rules_history(1)?.into_iter().next())
    }

    fn rules_history(&self, limit: u32) -> Result<Vec<StoredRules>, StoreError> {
        check_page(limit)?;
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT version, fingerprint, actor, at_ms, rules FROM risk_rules ORDER BY version DESC LIMIT ?1")
                .map_err(backend)?;
            let rows = stmt.query_map([limit], read_rules).map_err(backend)?;
            rows.map(|r| stored_rules(r.map_err(backend)?)).collect()
        })
    }

    fn risk_policy(&self) -> Result<Option<StoredRiskPolicy>, StoreError> {
        Ok(self.risk_policy_history(1)?.into_iter().next())
    }

    fn risk_policy_history(&self, limit: u32) -> Result<Vec<StoredRiskPolicy>, StoreError> {
        check_page(limit)?;
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT version, actor, at_ms, policy FROM risk_policy ORDER BY version DESC LIMIT ?1")
                .map_err(backend)?;
            let rows = stmt
                .query_map([limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(backend)?;
            rows.map(|r| {
                let (version, actor, at_ms, policy_json) = r.map_err(backend)?;
                Ok(StoredRiskPolicy {
                    version: version as u64,
                    policy_json,
                    actor,
                    at: from_ms(at_ms)?,
                })
            })
            .collect()
        })
    }

    fn credit_classes(&self) -> Result<Vec<StoredCreditClass>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT uscc, class, actor, at_ms FROM risk_credit_classes ORDER BY uscc",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .map_err(backend)?;
            rows.map(|r| {
                let (uscc, class, actor, at) = r.map_err(backend)?;
                Ok(StoredCreditClass {
                    uscc: Uscc::parse(&uscc).map_err(|e| corrupt(format!("uscc {uscc}: {e}")))?,
                    class: parse_credit_class(&class)
                        .ok_or_else(|| corrupt(format!("credit class {class}")))?,
                    actor,
                    at: from_ms(at)?,
                })
            })
            .collect()
        })
    }

    fn watch_entries(&self) -> Result<Vec<StoredWatchEntry>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT id, entry, actor, at_ms FROM risk_watch_entries WHERE removed_at_ms IS NULL ORDER BY id")
                .map_err(backend)?;
            let rows = stmt
                .query_map([], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .map_err(backend)?;
            rows.map(|r| {
                let (id, entry, actor, at) = r.map_err(backend)?;
                Ok(StoredWatchEntry {
                    id,
                    entry: serde_json::from_str(&entry)
                        .map_err(|e| corrupt(format!("watch entry {id}: {e}")))?,
                    actor,
                    at: from_ms(at)?,
                })
            })
            .collect()
        })
    }

    fn feedback(&self, limit: u32) -> Result<Vec<FeedbackRow>, StoreError> {
        check_page(limit)?;
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT record FROM risk_feedback ORDER BY seq LIMIT ?1")
                .map_err(backend)?;
            let rows = stmt
                .query_map([limit], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            rows.map(|r| {
                let record = r.map_err(backend)?;
                serde_json::from_str(&record).map_err(|e| corrupt(format!("feedback: {e}")))
            })
            .collect()
        })
    }

    fn released_bodies(
        &self,
        after: Option<DeclarationId>,
        limit: u32,
    ) -> Result<Vec<(DeclarationId, String)>, StoreError> {
        check_page(limit)?;
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT id, body FROM declarations WHERE status IN ('released', 'closed') AND id > ?1 ORDER BY id LIMIT ?2")
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![after.map_or(0, |a| a.0), limit], |r| {
                    Ok((DeclarationId(r.get(0)?), r.get::<_, String>(1)?))
                })
                .map_err(backend)?;
            rows.map(|r| r.map_err(backend)).collect()
        })
    }
}
