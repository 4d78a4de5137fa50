//! The writes of drafts and of the notifications read marker ([`store::drafts`]) on
//! PostgreSQL, run by the one writer in their savepoints, without an audit record; the same
//! plan as the SQLite backend's (`store-sqlite/src/drafts.rs`).

use store::drafts::{
    plan_write, uscc_column, DraftOwner, DraftSummary, DraftWrite, Existing, ReadMarkWrite,
};
use store::StoreError;

use super::Tx;
use crate::drafts::{summary, COLUMNS};
use crate::{backend, ms};

impl Tx<'_> {
    pub(super) async fn save_draft(&self, w: &DraftWrite) -> Result<DraftSummary, StoreError> {
        let uscc = uscc_column(&w.owner);
        let existing = match w.id {
            None => {
                // The user's row locked: two first saves count one after the other.
                self.c
                    .query_opt(
                        "SELECT id FROM users WHERE id = $1 FOR UPDATE",
                        &[&w.owner.user_id],
                    )
                    .await
                    .map_err(backend)?;
                let n: i64 = self
                    .c
                    .query_one(
                        "SELECT count(*) FROM drafts WHERE user_id = $1",
                        &[&w.owner.user_id],
                    )
                    .await
                    .map_err(backend)?
                    .get(0);
                Existing::New {
                    drafts_of_user: n as u64,
                }
            }
            Some(id) => {
                let v = self
                    .c
                    .query_opt(
                        "SELECT version FROM drafts WHERE id = $1 AND user_id = $2 AND uscc = $3 FOR UPDATE",
                        &[&id, &w.owner.user_id, &uscc],
                    )
                    .await
                    .map_err(backend)?;
                Existing::Update {
                    version: v.map(|r| r.get::<_, i64>(0) as u64),
                }
            }
        };
        let version = plan_write(w, existing)? as i64;
        let at = ms(w.now);
        let row = match w.id {
            None => self
                .c
                .query_one(
                    &format!(
                        "INSERT INTO drafts (user_id, uscc, kind, title, body, version, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
                    ),
                    &[&w.owner.user_id, &uscc, &w.kind, &w.title, &w.body, &version, &at],
                )
                .await
                .map_err(backend)?,
            Some(id) => self
                .c
                .query_one(
                    &format!(
                        "UPDATE drafts SET kind = $2, title = $3, body = $4, version = $5, updated_at = $6
                         WHERE id = $1 RETURNING {COLUMNS}"
                    ),
                    &[&id, &w.kind, &w.title, &w.body, &version, &at],
                )
                .await
                .map_err(backend)?,
        };
        Ok(summary(&row))
    }

    pub(super) async fn delete_draft(
        &self,
        owner: &DraftOwner,
        id: i64,
    ) -> Result<bool, StoreError> {
        let n = self
            .c
            .execute(
                "DELETE FROM drafts WHERE id = $1 AND user_id = $2 AND uscc = $3",
                &[&id, &owner.user_id, &uscc_column(owner)],
            )
            .await
            .map_err(backend)?;
        Ok(n > 0)
    }

    pub(super) async fn mark_notifications_read(
        &self,
        w: &ReadMarkWrite,
    ) -> Result<i64, StoreError> {
        let row = self
            .c
            .query_one(
                "INSERT INTO notification_reads (user_id, up_to, at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE
                 SET up_to = GREATEST(notification_reads.up_to, excluded.up_to), at = excluded.at
                 RETURNING up_to",
                &[&w.user_id, &w.up_to, &ms(w.now)],
            )
            .await
            .map_err(backend)?;
        Ok(row.get(0))
    }
}
