//! The writes of [`store::webhooks::WebhookStore`] on PostgreSQL, run by the one writer in
//! their own savepoint; the same rows and audit records as the SQLite backend
//! (`store-sqlite/src/webhooks.rs`).

use store::audit::ChainHead;
use store::webhooks::*;
use store::StoreError;

use super::Tx;
use crate::{backend, ms};

impl Tx<'_> {
    /// The subscription's url if it is `owner`'s, its row locked.
    async fn owned_webhook(&self, id: i64, owner: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .c
            .query_opt(
                "SELECT url FROM webhooks WHERE id = $1 AND owner = $2 FOR UPDATE",
                &[&id, &owner],
            )
            .await
            .map_err(backend)?
            .map(|r| r.get(0)))
    }

    pub(super) async fn webhook_write(
        &self,
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
                // One owner's creations counted one after the other.
                self.c
                    .execute(
                        "SELECT pg_advisory_xact_lock(hashtext('jinguan-webhooks:' || $1))",
                        &[&n.owner],
                    )
                    .await
                    .map_err(backend)?;
                let count: i64 = self
                    .c
                    .query_one(
                        "SELECT count(*) FROM webhooks WHERE owner = $1",
                        &[&n.owner],
                    )
                    .await
                    .map_err(backend)?
                    .get(0);
                if count as usize >= WEBHOOKS_PER_OWNER {
                    return Err(StoreError::Invalid(format!(
                        "at most {WEBHOOKS_PER_OWNER} webhooks per enterprise"
                    )));
                }
                let by = actor.label();
                let id: i64 = self
                    .c
                    .query_one(
                        "INSERT INTO webhooks (owner, url, events, format, secret, status, cursor_record, cursor_item, created_by, created_at)
                         VALUES ($1, $2, $3, $4, $5, 'active', $6, $7, $8, $9) RETURNING id",
                        &[
                            &n.owner,
                            &n.url,
                            &events_text(&n.events),
                            &n.format.as_str(),
                            &n.secret,
                            &n.start.record,
                            &i64::from(n.start.item),
                            &by,
                            &ms(*now),
                        ],
                    )
                    .await
                    .map_err(backend)?
                    .get(0);
                self.audit(
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
                )
                .await?;
                Ok(id)
            }
            WebhookWrite::Delete {
                id,
                owner,
                actor,
                now,
            } => {
                let Some(url) = self.owned_webhook(*id, owner).await? else {
                    return Ok(0);
                };
                self.c
                    .execute(
                        "DELETE FROM webhook_deliveries WHERE webhook_id = $1",
                        &[id],
                    )
                    .await
                    .map_err(backend)?;
                self.c
                    .execute("DELETE FROM webhooks WHERE id = $1", &[id])
                    .await
                    .map_err(backend)?;
                self.audit(
                    head,
                    *now,
                    &actor.label(),
                    "webhook.delete",
                    &format!("webhook:{id}"),
                    audit_detail(*id, &url, serde_json::json!("deleted")),
                )
                .await?;
                Ok(1)
            }
            WebhookWrite::Replay {
                id,
                owner,
                to,
                actor,
                now,
            } => {
                let Some(url) = self.owned_webhook(*id, owner).await? else {
                    return Ok(0);
                };
                let before = self
                    .c
                    .query_one(
                        "SELECT cursor_record, cursor_item FROM webhooks WHERE id = $1",
                        &[id],
                    )
                    .await
                    .map_err(backend)?;
                let from = Position {
                    record: before.get(0),
                    item: u32::try_from(before.get::<_, i64>(1)).unwrap_or(0),
                };
                self.c
                    .execute(
                        "UPDATE webhooks SET cursor_record = $2, cursor_item = $3, generation = generation + 1 WHERE id = $1",
                        &[id, &to.record, &i64::from(to.item)],
                    )
                    .await
                    .map_err(backend)?;
                self.audit(
                    head,
                    *now,
                    &actor.label(),
                    "webhook.replay",
                    &format!("webhook:{id}"),
                    audit_detail(*id, &url, serde_json::json!({"from": from, "to": to})),
                )
                .await?;
                Ok(1)
            }
            WebhookWrite::Enable {
                id,
                owner,
                actor,
                now,
            } => {
                let Some(url) = self.owned_webhook(*id, owner).await? else {
                    return Ok(0);
                };
                self.c
                    .execute(
                        "UPDATE webhooks SET status = 'active', failures = 0, failing_since = NULL WHERE id = $1",
                        &[id],
                    )
                    .await
                    .map_err(backend)?;
                self.audit(
                    head,
                    *now,
                    &actor.label(),
                    "webhook.enable",
                    &format!("webhook:{id}"),
                    audit_detail(*id, &url, serde_json::json!("enabled")),
                )
                .await?;
                Ok(1)
            }
            WebhookWrite::Attempt {
                attempt: a,
                generation,
                to,
                disable,
            } => {
                let exists = self
                    .c
                    .query_opt(
                        "SELECT id FROM webhooks WHERE id = $1 FOR UPDATE",
                        &[&a.webhook_id],
                    )
                    .await
                    .map_err(backend)?;
                if exists.is_none() {
                    // Deleted while the attempt was in flight: nothing to log it under.
                    return Ok(0);
                }
                self.c
                    .execute(
                        "INSERT INTO webhook_deliveries (webhook_id, event_id, seq, at, status_code, error, duration_ms)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        &[
                            &a.webhook_id,
                            &a.event_id,
                            &a.seq,
                            &ms(a.at),
                            &a.status_code.map(i32::from),
                            &a.error.as_deref().map(bounded_error),
                            &(a.duration_ms as i64),
                        ],
                    )
                    .await
                    .map_err(backend)?;
                self.c
                    .execute(
                        "DELETE FROM webhook_deliveries WHERE webhook_id = $1 AND id <= (
                             SELECT id FROM webhook_deliveries WHERE webhook_id = $1
                             ORDER BY id DESC LIMIT 1 OFFSET $2)",
                        &[&a.webhook_id, &DELIVERIES_KEPT],
                    )
                    .await
                    .map_err(backend)?;
                if a.delivered() {
                    self.c
                        .execute(
                            "UPDATE webhooks SET failures = 0, failing_since = NULL WHERE id = $1",
                            &[&a.webhook_id],
                        )
                        .await
                        .map_err(backend)?;
                    self.webhook_advance(a.webhook_id, *generation, *to).await
                } else {
                    self.c
                        .execute(
                            "UPDATE webhooks SET failures = failures + 1,
                                 failing_since = coalesce(failing_since, $2),
                                 status = CASE WHEN $3 THEN 'disabled' ELSE status END
                             WHERE id = $1",
                            &[&a.webhook_id, &ms(a.at), disable],
                        )
                        .await
                        .map_err(backend)?;
                    Ok(0)
                }
            }
            WebhookWrite::Advance { id, generation, to } => {
                self.webhook_advance(*id, *generation, *to).await
            }
        }
    }

    /// The cursor moved forward to `to`, only under `generation` and never back.
    async fn webhook_advance(
        &self,
        id: i64,
        generation: i64,
        to: Position,
    ) -> Result<i64, StoreError> {
        let n = self
            .c
            .execute(
                "UPDATE webhooks SET cursor_record = $3, cursor_item = $4
                 WHERE id = $1 AND generation = $2 AND (cursor_record, cursor_item) < ($3, $4)",
                &[&id, &generation, &to.record, &i64::from(to.item)],
            )
            .await
            .map_err(backend)?;
        Ok(n as i64)
    }
}
