//! Account lifecycle and the audit chain's own records on PostgreSQL, run by the one writer
//! (issue 15): a password set with the other sessions ended, an account disabled with its
//! sessions ended, a security event, an anchor record signing the chain head. The same rows
//! and audit records as on SQLite (`store-sqlite/src/lib.rs`), details from `store::detail`.

use chrono::{DateTime, Utc};
use clearance::Actor;
use store::audit::{AnchorRequest, ChainHead, SignedHead};
use store::{PasswordWrite, SecurityEvent, StoreError};

use super::Tx;
use crate::{backend, ms};

impl Tx<'_> {
    pub(super) async fn set_password(
        &self,
        head: &mut ChainHead,
        (w, actor, now): &(PasswordWrite, Actor, DateTime<Utc>),
    ) -> Result<u64, StoreError> {
        let n = self
            .c
            .execute(
                "UPDATE users SET password_hash = $2, must_change_password = $3 WHERE id = $1 AND password_hash IS NOT NULL",
                &[&w.user_id, &w.password_hash, &w.reset],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {}", w.user_id)));
        }
        let ended = self
            .c
            .execute(
                "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND token_hash IS DISTINCT FROM $3",
                &[&w.user_id, &ms(*now), &w.keep_session],
            )
            .await
            .map_err(backend)?;
        self.audit(
            head,
            *now,
            &actor.label(),
            store::detail::password_action(w.reset),
            &format!("user:{}", w.user_id),
            store::detail::password_set(w.reset, ended),
        )
        .await?;
        Ok(ended)
    }

    pub(super) async fn set_account_enabled(
        &self,
        head: &mut ChainHead,
        (user_id, enabled, actor, now): &(i64, bool, Actor, DateTime<Utc>),
    ) -> Result<u64, StoreError> {
        let n = self
            .c
            .execute(
                "UPDATE users SET disabled_at = CASE WHEN $2 THEN NULL ELSE coalesce(disabled_at, $3) END WHERE id = $1",
                &[user_id, enabled, &ms(*now)],
            )
            .await
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("user {user_id}")));
        }
        let ended = if *enabled {
            0
        } else {
            self.c
                .execute(
                    "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
                    &[user_id, &ms(*now)],
                )
                .await
                .map_err(backend)?
        };
        self.audit(
            head,
            *now,
            &actor.label(),
            store::detail::account_action(*enabled),
            &format!("user:{user_id}"),
            store::detail::account_state(ended),
        )
        .await?;
        Ok(ended)
    }

    pub(super) async fn record_security_event(
        &self,
        head: &mut ChainHead,
        (e, actor, now): &(SecurityEvent, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        self.audit(
            head,
            *now,
            &actor.label(),
            &e.action,
            &e.subject,
            e.detail.clone(),
        )
        .await
    }

    /// An anchor record signing the head as it is, and the head to keep outside (store::audit).
    pub(super) async fn anchor_audit(
        &self,
        head: &mut ChainHead,
        req: &AnchorRequest,
    ) -> Result<Option<SignedHead>, StoreError> {
        if !store::audit::anchor_due(head, req) {
            return Ok(None);
        }
        // The Merkle tree's right edge, brought up to the head with the records since the last
        // anchor (all of them after a start, when the cache is no longer the store's, or when
        // another process anchored in between).
        let (mut tree, need) = store::audit_tree::catchup(&req.tree.get(), head.last_id);
        let mut from = need.from;
        if let Some((id, hash)) = need.check {
            if self.audit_hashes(id, id).await?.first() != Some(&hash) {
                tree = store::audit_tree::Frontier::new();
                from = 1;
            }
        }
        let hashes = self.audit_hashes(from, need.upto).await?;
        if hashes.len() as i64 != need.upto - from + 1 {
            return Err(StoreError::Corrupt(format!(
                "audit records {from} to {}: {} found (a gap in the chain)",
                need.upto,
                hashes.len()
            )));
        }
        for h in &hashes {
            tree.push_record(h);
        }
        let Some((subject, detail)) = store::audit::anchor_record(head, req, &tree) else {
            return Ok(None);
        };
        self.audit(
            head,
            req.now,
            &req.actor.label(),
            store::audit::ANCHOR_ACTION,
            &subject,
            detail,
        )
        .await?;
        let (signed, message) = store::audit::anchored(head, req, tree);
        if let Some(m) = message {
            self.insert_outbox_rows(&[m]).await?;
        }
        Ok(Some(signed))
    }

    /// The chain hashes of audit records `from..=upto`, by id, in the writer's transaction.
    async fn audit_hashes(&self, from: i64, upto: i64) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows = self
            .c
            .query(
                "SELECT id, hash FROM audit_log WHERE id >= $1 AND id <= $2 ORDER BY id",
                &[&from, &upto],
            )
            .await
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let hash: Vec<u8> = r.get(1);
                hash.try_into().map_err(|_| {
                    StoreError::Corrupt(format!("audit record {id}: hash is not 32 bytes"))
                })
            })
            .collect()
    }
}
