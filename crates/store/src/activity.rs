//! What happened to declarations, in commit order, read from the audit chain
//! ([`crate::Store::declaration_records`]): the notifications inbox and its live stream (issue
//! 20 item 6, issue 18 item 4) follow it with a cursor that is an audit record's id, as the
//! statistics warehouse follows [`crate::Store::changed_declarations`].
//!
//! Every write of a declaration leaves one audit record naming it (`declaration:{id}`) in
//! the same transaction, and the records of events say which versions they added
//! ([`crate::detail::submit`]: the version after the filing; [`crate::detail::events`]:
//! `from_version` and `to_version`). So a record is mapped to the events it wrote without a
//! second write path: the events are read with [`crate::Store::events`] and those with
//! `from_version < seq <= to_version` are the record's.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::{declaration_of_subject, from_ms, DeclarationId, StoreError};

/// At most this many records are read by one [`crate::Store::declaration_records`].
pub const RECORDS_MAX: u32 = 5_000;

/// Which records a read returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordRange {
    /// The oldest records after this record id (a cursor), oldest first.
    After(i64),
    /// The newest records before this record id (`i64::MAX`: the newest of all), returned
    /// oldest first too.
    Before(i64),
}

/// One audit record naming a declaration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeclarationRecord {
    /// The audit record's id: the cursor of what follows.
    pub id: i64,
    pub at: DateTime<Utc>,
    /// The audit actor label ([`clearance::Actor::label`], `system:automatic_review`, …).
    pub actor: String,
    /// The audit action (`submit`, `automatic_review`, `append`, `attachment.add`, …).
    pub action: String,
    pub declaration: DeclarationId,
    /// The declaration's versions the record's events took it from and to
    /// (`from < seq <= to`); `None` for a record that wrote no event (a document attached, a
    /// broker's filing counted).
    pub versions: Option<(u64, u64)>,
}

/// What one read found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeclarationRecords {
    /// Oldest first.
    pub records: Vec<DeclarationRecord>,
    /// The newest audit record's id when read (any subject), in the same snapshot.
    pub head: i64,
}

impl DeclarationRecords {
    /// Where a reader that has seen these records goes on from (`After`): the last record
    /// read; or the head when fewer than `limit` records were found after `after`, since no
    /// record up to the head names a declaration beyond them (one snapshot).
    pub fn next_after(&self, after: i64, limit: u32) -> i64 {
        match self.records.last() {
            Some(r) if self.records.len() as u64 >= u64::from(limit) => r.id,
            Some(r) => r.id.max(self.head),
            None => after.max(self.head),
        }
    }
}

/// `Invalid` unless `limit` is within 1..=[`RECORDS_MAX`].
pub fn check_limit(limit: u32) -> Result<(), StoreError> {
    if limit == 0 || limit > RECORDS_MAX {
        return Err(StoreError::Invalid(format!(
            "records limit {limit} outside 1..={RECORDS_MAX}"
        )));
    }
    Ok(())
}

#[derive(Deserialize)]
struct Versions {
    from_version: Option<u64>,
    to_version: Option<u64>,
    version: Option<u64>,
}

/// The versions a record's detail says its events added: `events` details name both ends, a
/// filing's (`submit`) the version after it.
pub fn versions_of(action: &str, detail: &str) -> Option<(u64, u64)> {
    let v: Versions = serde_json::from_str(detail).ok()?;
    match (v.from_version, v.to_version, v.version) {
        (Some(from), Some(to), _) if to > from => Some((from, to)),
        (None, None, Some(to)) if action == "submit" && to > 0 => Some((0, to)),
        _ => None,
    }
}

/// One record from its columns `(id, at_ms, actor, action, subject, detail)`.
pub fn record_from_row(
    id: i64,
    at_ms: i64,
    actor: String,
    action: String,
    subject: &str,
    detail: &str,
) -> Result<DeclarationRecord, StoreError> {
    let declaration = declaration_of_subject(subject)
        .ok_or_else(|| StoreError::Corrupt(format!("audit subject {subject:?}")))?;
    let versions = versions_of(&action, detail);
    Ok(DeclarationRecord {
        id,
        at: from_ms(at_ms)?,
        actor,
        action,
        declaration,
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_from_each_kind_of_detail() {
        let events = crate::detail::events(1, 4, &[]);
        assert_eq!(versions_of("automatic_review", &events), Some((1, 4)));
        let submit = crate::detail::submit("220020261000000001", "s-1", "{}", 1);
        assert_eq!(versions_of("submit", &submit), Some((0, 1)));
        // The same shape under another action is not a filing.
        assert_eq!(versions_of("authority.file", &submit), None);
        assert_eq!(versions_of("attachment.add", r#"{"name":"a.pdf"}"#), None);
        assert_eq!(versions_of("append", "not json"), None);
        assert_eq!(
            versions_of("append", &crate::detail::events(3, 3, &[])),
            None
        );
    }

    #[test]
    fn the_cursor_moves_to_the_head_when_the_read_ran_out() {
        let rec = |id| DeclarationRecord {
            id,
            at: from_ms(0).unwrap(),
            actor: "a".into(),
            action: "append".into(),
            declaration: DeclarationId(1),
            versions: None,
        };
        let full = DeclarationRecords {
            records: vec![rec(3), rec(5)],
            head: 9,
        };
        assert_eq!(
            full.next_after(0, 2),
            5,
            "a full read: go on after the last"
        );
        assert_eq!(
            full.next_after(0, 3),
            9,
            "ran out: nothing else up to the head"
        );
        let none = DeclarationRecords {
            records: vec![],
            head: 9,
        };
        assert_eq!(none.next_after(4, 10), 9);
        assert_eq!(none.next_after(12, 10), 12, "never backwards");
    }
}
