//! Drafts of forms kept by the server (issue 20 item 1), and each user's notifications read
//! marker: what the web interface used to keep in the browser's storage, so that a reload, a
//! language switch or another browser finds the same form and the same unread count, and
//! nothing business-sensitive stays in a browser.
//!
//! A draft belongs to the user who saved it and, for a user bound to an enterprise, to that
//! enterprise ([`DraftOwner`]): every read and write names the owner, and a draft of another
//! owner is "not found". Drafts are a user's own unfiled work, written through the one writer
//! like every change, but without an audit record: a form autosaved every few seconds is not a
//! decision of customs, and its records would bury the chain's (docs/STORE.md "Drafts").
//!
//! The bounds ([`DRAFT_MAX_BYTES`], [`DRAFTS_PER_USER`], [`TITLE_MAX`], [`KINDS`]) are checked
//! by the service with messages, and again by [`check`] and [`plan_write`] inside the write.

use chrono::{DateTime, Utc};
use domain::codes::Uscc;
use serde::Serialize;

use crate::StoreError;

/// The largest draft body accepted, in bytes of its JSON text (256 KiB).
pub const DRAFT_MAX_BYTES: usize = 256 * 1024;
/// At most this many drafts per user.
pub const DRAFTS_PER_USER: usize = 200;
/// At most this many characters in a draft's title.
pub const TITLE_MAX: usize = 200;
/// The forms a draft may be of.
pub const KINDS: &[&str] = &["declaration"];

/// Whose a draft is: the user, and the enterprise the user acts for (`None` for customs
/// officers and others bound to no enterprise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DraftOwner {
    pub user_id: i64,
    pub uscc: Option<Uscc>,
}

/// A draft to write: a new one (`id: None`) or a new content of one of the owner's.
#[derive(Clone, Debug)]
pub struct DraftWrite {
    pub owner: DraftOwner,
    pub id: Option<i64>,
    /// For an update: the version the writer last read (`Conflict` if it moved); `None`: last
    /// write wins.
    pub expected_version: Option<u64>,
    pub kind: String,
    pub title: String,
    /// The form's content, JSON text.
    pub body: String,
    pub now: DateTime<Utc>,
}

/// A draft as listed (without its body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DraftSummary {
    pub id: i64,
    pub kind: String,
    pub title: String,
    /// Bytes of the body.
    pub size: u64,
    /// 1 when created, one more at each save.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A draft with its body (JSON text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDraft {
    pub summary: DraftSummary,
    pub body: String,
}

/// The bounds every backend enforces on a write (the service checks them first, with
/// messages).
pub fn check(w: &DraftWrite) -> Result<(), StoreError> {
    if !KINDS.contains(&w.kind.as_str()) {
        return Err(StoreError::Invalid(format!("no draft of kind {}", w.kind)));
    }
    if w.title.chars().count() > TITLE_MAX || w.title.chars().any(char::is_control) {
        return Err(StoreError::Invalid("bad draft title".into()));
    }
    if w.body.is_empty() || w.body.len() > DRAFT_MAX_BYTES {
        return Err(StoreError::Invalid(format!(
            "a draft is 1 to {DRAFT_MAX_BYTES} bytes"
        )));
    }
    Ok(())
}

/// What a backend does with a write, given what it read in the write's transaction: for a new
/// draft, the number the owner's user already has; for an update, the row's version (`None`:
/// no such draft of this owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    New { drafts_of_user: u64 },
    Update { version: Option<u64> },
}

/// The version the write gives the draft, or why it is refused.
pub fn plan_write(w: &DraftWrite, existing: Existing) -> Result<u64, StoreError> {
    check(w)?;
    match existing {
        Existing::New { drafts_of_user } => {
            if drafts_of_user as usize >= DRAFTS_PER_USER {
                return Err(StoreError::Invalid(format!(
                    "at most {DRAFTS_PER_USER} drafts per user"
                )));
            }
            Ok(1)
        }
        Existing::Update { version: None } => Err(StoreError::NotFound(format!(
            "draft {}",
            w.id.unwrap_or_default()
        ))),
        Existing::Update {
            version: Some(actual),
        } => match w.expected_version {
            Some(expected) if expected != actual => Err(StoreError::Conflict { expected, actual }),
            _ => Ok(actual + 1),
        },
    }
}

/// The owner's enterprise as stored ('' for none: the column is part of every key, and a
/// NULL would need `IS` on one backend and `IS NOT DISTINCT FROM` on the other).
pub fn uscc_column(owner: &DraftOwner) -> String {
    owner.uscc.map(|u| u.to_string()).unwrap_or_default()
}

/// A notifications read marker to write: the user has read everything up to this cursor (an
/// audit record's id). The marker only moves forward: the stored one is the larger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadMarkWrite {
    pub user_id: i64,
    pub up_to: i64,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(body: &str) -> DraftWrite {
        DraftWrite {
            owner: DraftOwner {
                user_id: 1,
                uscc: None,
            },
            id: None,
            expected_version: None,
            kind: "declaration".into(),
            title: "t".into(),
            body: body.into(),
            now: DateTime::from_timestamp(0, 0).unwrap(),
        }
    }

    #[test]
    fn bounds_and_versions() {
        assert!(check(&write("{}")).is_ok());
        assert!(check(&write("")).is_err());
        assert!(check(&write(&"x".repeat(DRAFT_MAX_BYTES + 1))).is_err());
        assert!(check(&write(&"x".repeat(DRAFT_MAX_BYTES))).is_ok());
        let mut w = write("{}");
        w.kind = "manifest".into();
        assert!(check(&w).is_err());
        w = write("{}");
        w.title = "a\u{7}b".into();
        assert!(check(&w).is_err());

        let w = write("{}");
        assert_eq!(
            plan_write(&w, Existing::New { drafts_of_user: 0 }).unwrap(),
            1
        );
        assert!(plan_write(
            &w,
            Existing::New {
                drafts_of_user: DRAFTS_PER_USER as u64
            }
        )
        .is_err());
        assert!(matches!(
            plan_write(&w, Existing::Update { version: None }),
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            plan_write(&w, Existing::Update { version: Some(4) }).unwrap(),
            5
        );
        let mut w = write("{}");
        w.expected_version = Some(3);
        assert!(matches!(
            plan_write(&w, Existing::Update { version: Some(4) }),
            Err(StoreError::Conflict {
                expected: 3,
                actual: 4
            })
        ));
    }
}
