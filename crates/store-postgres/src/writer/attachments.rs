//! The write of [`store::Store::add_attachment`] on PostgreSQL, run by the one writer in its
//! own savepoint with its audit record; same checks and audit record as the SQLite backend
//! (`store-sqlite/src/attachments.rs`).

use store::attachments::{
    audit_detail, check, AttachmentWrite, StoredAttachment, ATTACHMENTS_PER_DECLARATION,
};
use store::audit::ChainHead;
use store::StoreError;

use super::Tx;
use crate::{backend, ms};

impl Tx<'_> {
    pub(super) async fn add_attachment(
        &self,
        head: &mut ChainHead,
        w: &AttachmentWrite,
    ) -> Result<StoredAttachment, StoreError> {
        let a = &w.attachment;
        check(a)?;
        // The declaration's row locked: two uploads to one declaration count one after the other.
        let exists = self
            .c
            .query_opt(
                "SELECT id FROM declarations WHERE id = $1 FOR UPDATE",
                &[&a.declaration_id.0],
            )
            .await
            .map_err(backend)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!(
                "declaration {}",
                a.declaration_id
            )));
        }
        let n: i64 = self
            .c
            .query_one(
                "SELECT count(*) FROM attachments WHERE declaration_id = $1",
                &[&a.declaration_id.0],
            )
            .await
            .map_err(backend)?
            .get(0);
        if n as usize >= ATTACHMENTS_PER_DECLARATION {
            return Err(StoreError::Invalid(format!(
                "at most {ATTACHMENTS_PER_DECLARATION} documents on a declaration"
            )));
        }
        let by = w.actor.label();
        let at = ms(w.now);
        let id: i64 = self
            .c
            .query_one(
                "INSERT INTO attachments (declaration_id, name, content_type, size, sha256, uploaded_by, uploaded_at, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &a.declaration_id.0,
                    &a.name,
                    &a.content_type,
                    &(a.data.len() as i64),
                    &w.sha256,
                    &by,
                    &at,
                    &a.data,
                ],
            )
            .await
            .map_err(backend)?
            .get(0);
        let stored = StoredAttachment {
            id,
            declaration_id: a.declaration_id,
            name: a.name.clone(),
            content_type: a.content_type.clone(),
            size: a.data.len() as u64,
            sha256: w.sha256.clone(),
            uploaded_by: by.clone(),
            uploaded_at: at,
        };
        self.audit(
            head,
            w.now,
            &by,
            "attachment.add",
            &format!("declaration:{}", a.declaration_id),
            audit_detail(&stored),
        )
        .await?;
        Ok(stored)
    }
}
