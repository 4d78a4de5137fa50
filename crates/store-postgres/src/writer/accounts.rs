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
        let Some((subject, detail)) = store::audit::anchor_record(head, req) else {
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
        Ok(Some(store::audit::anchored(head, req)))
    }
}
