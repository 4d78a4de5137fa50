//! Documents attached to declarations ([`store::attachments`]): stored whole in the database
//! file, with their SHA-256 checksum, written through the writer with an audit record.

use rusqlite::{params, Connection, OptionalExtension};
use store::attachments::{
    audit_detail, check, verified, AttachmentWrite, StoredAttachment, ATTACHMENTS_PER_DECLARATION,
};
use store::audit::ChainHead;
use store::*;

use super::{audit, backend};

// The table is made by the migration of `crate::search` (one entry for issue 20).

pub(super) fn add(
    c: &Connection,
    head: &mut ChainHead,
    w: &AttachmentWrite,
) -> Result<StoredAttachment, StoreError> {
    let a = &w.attachment;
    check(a)?;
    let exists: Option<i64> = c
        .prepare_cached("SELECT id FROM declarations WHERE id = ?1")
        .map_err(backend)?
        .query_row([a.declaration_id.0], |r| r.get(0))
        .optional()
        .map_err(backend)?;
    if exists.is_none() {
        return Err(StoreError::NotFound(format!(
            "declaration {}",
            a.declaration_id
        )));
    }
    let n: i64 = c
        .prepare_cached("SELECT count(*) FROM attachments WHERE declaration_id = ?1")
        .map_err(backend)?
        .query_row([a.declaration_id.0], |r| r.get(0))
        .map_err(backend)?;
    if n as usize >= ATTACHMENTS_PER_DECLARATION {
        return Err(StoreError::Invalid(format!(
            "at most {ATTACHMENTS_PER_DECLARATION} documents on a declaration"
        )));
    }
    let by = w.actor.label();
    c.prepare_cached(
        "INSERT INTO attachments (declaration_id, name, content_type, size, sha256, uploaded_by, uploaded_at_ms, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .map_err(backend)?
    .execute(params![
        a.declaration_id.0,
        a.name,
        a.content_type,
        a.data.len() as i64,
        w.sha256,
        by,
        to_ms(w.now),
        a.data
    ])
    .map_err(backend)?;
    let stored = StoredAttachment {
        id: c.last_insert_rowid(),
        declaration_id: a.declaration_id,
        name: a.name.clone(),
        content_type: a.content_type.clone(),
        size: a.data.len() as u64,
        sha256: w.sha256.clone(),
        uploaded_by: by.clone(),
        uploaded_at: from_ms(to_ms(w.now))?,
    };
    audit(
        c,
        head,
        w.now,
        &by,
        "attachment.add",
        &format!("declaration:{}", a.declaration_id),
        audit_detail(&stored),
    )?;
    Ok(stored)
}

const COLUMNS: &str =
    "id, declaration_id, name, content_type, size, sha256, uploaded_by, uploaded_at_ms";

fn row(r: &rusqlite::Row) -> rusqlite::Result<(StoredAttachmentRow, Option<Vec<u8>>)> {
    Ok((
        StoredAttachmentRow {
            id: r.get(0)?,
            declaration_id: r.get(1)?,
            name: r.get(2)?,
            content_type: r.get(3)?,
            size: r.get(4)?,
            sha256: r.get(5)?,
            uploaded_by: r.get(6)?,
            uploaded_at_ms: r.get(7)?,
        },
        r.get::<_, Option<Vec<u8>>>(8).ok().flatten(),
    ))
}

struct StoredAttachmentRow {
    id: i64,
    declaration_id: i64,
    name: String,
    content_type: String,
    size: i64,
    sha256: String,
    uploaded_by: String,
    uploaded_at_ms: i64,
}

impl StoredAttachmentRow {
    fn into_stored(self) -> Result<StoredAttachment, StoreError> {
        Ok(StoredAttachment {
            id: self.id,
            declaration_id: DeclarationId(self.declaration_id),
            name: self.name,
            content_type: self.content_type,
            size: self.size as u64,
            sha256: self.sha256,
            uploaded_by: self.uploaded_by,
            uploaded_at: from_ms(self.uploaded_at_ms)?,
        })
    }
}

pub(super) fn list(c: &Connection, id: DeclarationId) -> Result<Vec<StoredAttachment>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM attachments WHERE declaration_id = ?1 ORDER BY id"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map([id.0], row).map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(r.map_err(backend)?.0.into_stored()?);
    }
    Ok(out)
}

pub(super) fn one(
    c: &Connection,
    id: DeclarationId,
    attachment_id: i64,
) -> Result<Option<(StoredAttachment, Vec<u8>)>, StoreError> {
    let got = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, data FROM attachments WHERE declaration_id = ?1 AND id = ?2"
        ))
        .map_err(backend)?
        .query_row(params![id.0, attachment_id], row)
        .optional()
        .map_err(backend)?;
    match got {
        None => Ok(None),
        Some((r, data)) => {
            let a = r.into_stored()?;
            Ok(Some(verified(a, data.unwrap_or_default())?))
        }
    }
}
