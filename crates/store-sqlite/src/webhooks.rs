//! Webhook subscriptions, their cursors and delivery log ([`store::webhooks`]) on SQLite:
//! the changes an owner makes are written with an audit record; the worker's attempts and
//! cursor moves are operational rows (no audit record), written through the same writer.

use rusqlite::{params, Connection, OptionalExtension};
use store::audit::ChainHead;
use store::webhooks::*;
use store::*;

use super::{audit, backend, corrupt, SqliteStore};

/// Migration 22 (issue 18 item 4).
pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE webhooks (
        id               INTEGER PRIMARY KEY,
        owner            TEXT NOT NULL,
        url              TEXT NOT NULL,
        events           TEXT NOT NULL,
        format           TEXT NOT NULL,
        secret           TEXT NOT NULL,
        status           TEXT NOT NULL,
        cursor_record    INTEGER NOT NULL,
        cursor_item      INTEGER NOT NULL,
        generation       INTEGER NOT NULL DEFAULT 0,
        failures         INTEGER NOT NULL DEFAULT 0,
        failing_since_ms INTEGER,
        created_by       TEXT NOT NULL,
        created_at_ms    INTEGER NOT NULL
    );
    CREATE INDEX webhooks_owner ON webhooks (owner, id);
    CREATE TABLE webhook_deliveries (
        id          INTEGER PRIMARY KEY,
        webhook_id  INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
        event_id    TEXT NOT NULL,
        seq         INTEGER NOT NULL,
        at_ms       INTEGER NOT NULL,
        status_code INTEGER,
        error       TEXT,
        duration_ms INTEGER NOT NULL
    );
    CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id);
"#;

const COLUMNS: &str =
    "id, owner, url, events, format, secret, status, cursor_record, cursor_item, \
     generation, failures, failing_since_ms, created_by, created_at_ms";

fn row(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        owner: r.get(1)?,
        url: r.get(2)?,
        events: r.get(3)?,
        format: r.get(4)?,
        secret: r.get(5)?,
        status: r.get(6)?,
        cursor_record: r.get(7)?,
        cursor_item: r.get(8)?,
        generation: r.get(9)?,
        failures: r.get(10)?,
        failing_since_ms: r.get(11)?,
        created_by: r.get(12)?,
        created_at_ms: r.get(13)?,
    })
}

struct Row {
    id: i64,
    owner: String,
    url: String,
    events: String,
    format: String,
    secret: String,
    status: String,
    cursor_record: i64,
    cursor_item: i64,
    generation: i64,
    failures: i64,
    failing_since_ms: Option<i64>,
    created_by: String,
    created_at_ms: i64,
}

impl Row {
    fn typed(self) -> Result<StoredWebhook, StoreError> {
        Ok(StoredWebhook {
            id: self.id,
            owner: self.owner,
            url: self.url,
            events: events_of(&self.events),
            format: WebhookFormat::parse(&self.format)
                .ok_or_else(|| corrupt(format!("webhook format {}", self.format)))?,
            secret: self.secret,
            status: WebhookStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("webhook status {}", self.status)))?,
            cursor: Position {
                record: self.cursor_record,
                item: u32::try_from(self.cursor_item)
                    .map_err(|_| corrupt("webhook cursor item".to_owned()))?,
            },
            generation: self.generation,
            failures: u32::try_from(self.failures).unwrap_or(u32::MAX),
            failing_since: self.failing_since_ms.map(from_ms).transpose()?,
            created_by: self.created_by,
            created_at: from_ms(self.created_at_ms)?,
        })
    }
}

fn query(
    c: &Connection,
    clause: &str,
    args: &[&dyn rusqlite::ToSql],
) -> Result<Vec<StoredWebhook>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM webhooks {clause} ORDER BY id"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map(args, row).map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r.map_err(backend)?.typed()?);
    }
    Ok(out)
}

fn one(c: &Connection, id: i64) -> Result<Option<StoredWebhook>, StoreError> {
    c.prepare_cached(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = ?1"))
        .map_err(backend)?
        .query_row([id], row)
        .optional()
        .map_err(backend)?
        .map(Row::typed)
        .transpose()
}

/// The subscription if `owner`'s (else `None`: not found, to them).
fn owned(c: &Connection, id: i64, owner: &str) -> Result<Option<StoredWebhook>, StoreError> {
    Ok(one(c, id)?.filter(|w| w.owner == owner))
}

pub(super) fn write(
    c: &Connection,
    head: &mut ChainHead,
    w: &WebhookWrite,
) -> Result<i64, StoreError> {
    match w {
        WebhookWrite::Create {
            webhook: n,
            actor,
            now,
        } => {
            check_new(n)?;
            let count: i64 = c
                .prepare_cached("SELECT count(*) FROM webhooks WHERE owner = ?1")
                .map_err(backend)?
                .query_row([&n.owner], |r| r.get(0))
                .map_err(backend)?;
            if count as usize >= WEBHOOKS_PER_OWNER {
                return Err(StoreError::Invalid(format!(
                    "at most {WEBHOOKS_PER_OWNER} webhooks per enterprise"
                )));
            }
            let by = actor.label();
            c.prepare_cached(
                "INSERT INTO webhooks (owner, url, events, format, secret, status, cursor_record, cursor_item, created_by, created_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?7, ?8, ?9)",
            )
            .map_err(backend)?
            .execute(params![
                n.owner,
                n.url,
                events_text(&n.events),
                n.format.as_str(),
                n.secret,
                n.start.record,
                n.start.item,
                by,
                to_ms(*now)
            ])
            .map_err(backend)?;
            let id = c.last_insert_rowid();
            audit(
                c,
                head,
                *now,
                &by,
                "webhook.create",
                &format!("webhook:{id}"),
                audit_detail(
                    id,
                    &n.url,
                    serde_json::json!({"owner": n.owner, "events": n.events, "format": n.format}),
                ),
            )?;
            Ok(id)
        }
        WebhookWrite::Delete {
            id,
            owner,
            actor,
            now,
        } => {
            let Some(w) = owned(c, *id, owner)? else {
                return Ok(0);
            };
            c.prepare_cached("DELETE FROM webhook_deliveries WHERE webhook_id = ?1")
                .map_err(backend)?
                .execute([id])
                .map_err(backend)?;
            c.prepare_cached("DELETE FROM webhooks WHERE id = ?1")
                .map_err(backend)?
                .execute([id])
                .map_err(backend)?;
            audit(
                c,
                head,
                *now,
                &actor.label(),
                "webhook.delete",
                &format!("webhook:{id}"),
                audit_detail(*id, &w.url, serde_json::json!("deleted")),
            )?;
            Ok(1)
        }
        WebhookWrite::Replay {
            id,
            owner,
            to,
            actor,
            now,
        } => {
            let Some(w) = owned(c, *id, owner)? else {
                return Ok(0);
            };
            c.prepare_cached(
                "UPDATE webhooks SET cursor_record = ?2, cursor_item = ?3, generation = generation + 1 WHERE id = ?1",
            )
            .map_err(backend)?
            .execute(params![id, to.record, to.item])
            .map_err(backend)?;
            audit(
                c,
                head,
                *now,
                &actor.label(),
                "webhook.replay",
                &format!("webhook:{id}"),
                audit_detail(*id, &w.url, serde_json::json!({"from": w.cursor, "to": to})),
            )?;
            Ok(1)
        }
        WebhookWrite::Enable {
            id,
            owner,
            actor,
            now,
        } => {
            let Some(w) = owned(c, *id, owner)? else {
                return Ok(0);
            };
            c.prepare_cached(
                "UPDATE webhooks SET status = 'active', failures = 0, failing_since_ms = NULL WHERE id = ?1",
            )
            .map_err(backend)?
            .execute([id])
            .map_err(backend)?;
            audit(
                c,
                head,
                *now,
                &actor.label(),
                "webhook.enable",
                &format!("webhook:{id}"),
                audit_detail(*id, &w.url, serde_json::json!("enabled")),
            )?;
            Ok(1)
        }
        WebhookWrite::Attempt {
            attempt: a,
            generation,
            to,
            disable,
        } => {
            if one(c, a.webhook_id)?.is_none() {
                // Deleted while the attempt was in flight: nothing to log it under.
                return Ok(0);
            }
            c.prepare_cached(
                "INSERT INTO webhook_deliveries (webhook_id, event_id, seq, at_ms, status_code, error, duration_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(backend)?
            .execute(params![
                a.webhook_id,
                a.event_id,
                a.seq,
                to_ms(a.at),
                a.status_code,
                a.error.as_deref().map(bounded_error),
                a.duration_ms as i64
            ])
            .map_err(backend)?;
            c.prepare_cached(
                "DELETE FROM webhook_deliveries WHERE webhook_id = ?1 AND id <= (
                     SELECT id FROM webhook_deliveries WHERE webhook_id = ?1
                     ORDER BY id DESC LIMIT 1 OFFSET ?2)",
            )
            .map_err(backend)?
            .execute(params![a.webhook_id, DELIVERIES_KEPT])
            .map_err(backend)?;
            if a.delivered() {
                c.prepare_cached(
                    "UPDATE webhooks SET failures = 0, failing_since_ms = NULL WHERE id = ?1",
                )
                .map_err(backend)?
                .execute([a.webhook_id])
                .map_err(backend)?;
                advance(c, a.webhook_id, *generation, *to)
            } else {
                c.prepare_cached(
                    "UPDATE webhooks SET failures = failures + 1,
                         failing_since_ms = coalesce(failing_since_ms, ?2),
                         status = CASE WHEN ?3 THEN 'disabled' ELSE status END
                     WHERE id = ?1",
                )
                .map_err(backend)?
                .execute(params![a.webhook_id, to_ms(a.at), disable])
                .map_err(backend)?;
                Ok(0)
            }
        }
        WebhookWrite::Advance { id, generation, to } => advance(c, *id, *generation, *to),
    }
}

/// The cursor moved forward to `to`, only under `generation` and never back.
fn advance(c: &Connection, id: i64, generation: i64, to: Position) -> Result<i64, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE webhooks SET cursor_record = ?3, cursor_item = ?4
             WHERE id = ?1 AND generation = ?2 AND (cursor_record, cursor_item) < (?3, ?4)",
        )
        .map_err(backend)?
        .execute(params![id, generation, to.record, to.item])
        .map_err(backend)?;
    Ok(n as i64)
}

impl WebhookStore for SqliteStore {
    fn webhooks_of(&self, owner: &str) -> Result<Vec<StoredWebhook>, StoreError> {
        self.read(|c| query(c, "WHERE owner = ?1", &[&owner]))
    }

    fn all_webhooks(&self) -> Result<Vec<StoredWebhook>, StoreError> {
        self.read(|c| query(c, "", &[]))
    }

    fn webhook(&self, id: i64) -> Result<Option<StoredWebhook>, StoreError> {
        self.read(|c| one(c, id))
    }

    fn webhook_deliveries(
        &self,
        id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, StoreError> {
        check_deliveries_limit(limit)?;
        let before = before.unwrap_or(i64::MAX);
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT id, webhook_id, event_id, seq, at_ms, status_code, error, duration_ms
                     FROM webhook_deliveries WHERE webhook_id = ?1 AND id < ?2
                     ORDER BY id DESC LIMIT ?3",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![id, before, limit], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                        r.get::<_, Option<String>>(6)?,
                        r.get::<_, i64>(7)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for r in rows {
                let (id, webhook_id, event_id, seq, at_ms, status_code, error, duration_ms) =
                    r.map_err(backend)?;
                let attempt = DeliveryAttempt {
                    webhook_id,
                    event_id,
                    seq,
                    at: from_ms(at_ms)?,
                    status_code: status_code.and_then(|s| u16::try_from(s).ok()),
                    error,
                    duration_ms: duration_ms.max(0) as u64,
                };
                out.push(StoredDelivery {
                    id,
                    delivered: attempt.delivered(),
                    attempt,
                });
            }
            Ok(out)
        })
    }
}
