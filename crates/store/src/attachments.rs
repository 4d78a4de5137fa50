//! Documents attached to a declaration (issue 20): a contract, an invoice, a packing list, a
//! photograph. Each is stored whole in the database (the embedded SQLite file or the
//! PostgreSQL database: no separate file store to back up), written through the one write path
//! with an audit record, with its SHA-256 checksum, which is checked again when it is read.

use chrono::{DateTime, Utc};
use clearance::Actor;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{DeclarationId, StoreError};

/// The largest document accepted, in bytes (5 MiB).
pub const ATTACHMENT_MAX_BYTES: usize = 5 * 1024 * 1024;
/// At most this many documents on one declaration.
pub const ATTACHMENTS_PER_DECLARATION: usize = 20;
/// At most this many characters in a document's name.
pub const NAME_MAX: usize = 120;
/// The kinds of document accepted (by content type): PDF, PNG, JPEG and XML. (Not plain
/// text: a page of another site may send `text/plain` without asking, so the server does not
/// take it from a cookie-signed request.)
pub const ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "application/xml",
];

/// A document to attach.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttachment {
    pub declaration_id: DeclarationId,
    pub name: String,
    pub content_type: String,
    pub data: Vec<u8>,
}

/// A document as listed (without its bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredAttachment {
    pub id: i64,
    pub declaration_id: DeclarationId,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Lower-case hexadecimal SHA-256 of the bytes.
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: DateTime<Utc>,
}

/// The write of [`crate::Store::add_attachment`].
#[derive(Clone, Debug)]
pub struct AttachmentWrite {
    pub attachment: NewAttachment,
    pub sha256: String,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bounds every backend enforces (the service checks them first, with messages).
pub fn check(a: &NewAttachment) -> Result<(), StoreError> {
    if a.data.is_empty() || a.data.len() > ATTACHMENT_MAX_BYTES {
        return Err(StoreError::Invalid(format!(
            "a document is 1 to {ATTACHMENT_MAX_BYTES} bytes"
        )));
    }
    if !ALLOWED_TYPES.contains(&a.content_type.as_str()) {
        return Err(StoreError::Invalid(format!(
            "content type {} not accepted",
            a.content_type
        )));
    }
    let n = a.name.chars().count();
    if n == 0
        || n > NAME_MAX
        || a.name
            .chars()
            .any(|c| c.is_control() || c == '/' || c == '\\')
    {
        return Err(StoreError::Invalid("bad document name".into()));
    }
    Ok(())
}

/// The audit record's detail of an attachment (its bytes are not in the chain, their checksum is).
pub fn audit_detail(a: &StoredAttachment) -> String {
    serde_json::json!({
        "declaration_id": a.declaration_id.0,
        "name": a.name,
        "content_type": a.content_type,
        "size": a.size,
        "sha256": a.sha256,
    })
    .to_string()
}

/// A document read back: refused as corrupt when its bytes no longer have its checksum.
pub fn verified(
    a: StoredAttachment,
    data: Vec<u8>,
) -> Result<(StoredAttachment, Vec<u8>), StoreError> {
    if sha256_hex(&data) != a.sha256 {
        return Err(StoreError::Corrupt(format!(
            "attachment {} does not match its checksum",
            a.id
        )));
    }
    Ok((a, data))
}
