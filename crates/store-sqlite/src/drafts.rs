//! Drafts of forms and the notifications read marker ([`store::drafts`]): the writes, run by
//! the one writer in their savepoints (no audit record: see the module of `store::drafts`),
//! and the reads, always narrowed to the owner.

use rusqlite::{params, Connection, OptionalExtension};
use store::drafts::{
    plan_write, uscc_column, DraftOwner, DraftSummary, DraftWrite, Existing, ReadMarkWrite,
    StoredDraft,
};
use store::*;

use super::backend;

/// Migration 21 (issue 20): drafts and read markers. The owner's enterprise is '' for users
/// bound to none, so that it is part of every key without NULL comparisons.
pub(crate) const MIGRATION: &str = "
    CREATE TABLE drafts (
        id            INTEGER PRIMARY KEY,
        user_id       INTEGER NOT NULL REFERENCES users (id),
        uscc          TEXT NOT NULL,
        kind          TEXT NOT NULL,
        title         TEXT NOT NULL,
        body          TEXT NOT NULL,
        version       INTEGER NOT NULL,
        created_at_ms INTEGER NOT NULL,
        updated_at_ms INTEGER NOT NULL
    );
    CREATE INDEX drafts_owner ON drafts (user_id, uscc, updated_at_ms);
    CREATE TABLE notification_reads (
        user_id    INTEGER PRIMARY KEY REFERENCES users (id),
        up_to      INTEGER NOT NULL,
        at_ms      INTEGER NOT NULL
    );
";

const COLUMNS: &str =
    "id, kind, title, length(CAST(body AS BLOB)), version, created_at_ms, updated_at_ms";

/// A row of [`COLUMNS`] as read, before its times are checked.
struct Row {
    id: i64,
    kind: String,
    title: String,
    size: i64,
    version: i64,
    created_at_ms: i64,
    updated_at_ms: i64,
}

fn summary(r: &rusqlite::Row) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        kind: r.get(1)?,
        title: r.get(2)?,
        size: r.get(3)?,
        version: r.get(4)?,
        created_at_ms: r.get(5)?,
        updated_at_ms: r.get(6)?,
    })
}

fn to_summary(r: Row) -> Result<DraftSummary, StoreError> {
    Ok(DraftSummary {
        id: r.id,
        kind: r.kind,
        title: r.title,
        size: r.size as u64,
        version: r.version as u64,
        created_at: from_ms(r.created_at_ms)?,
        updated_at: from_ms(r.updated_at_ms)?,
    })
}

pub(super) fn save(c: &Connection, w: &DraftWrite) -> Result<DraftSummary, StoreError> {
    let uscc = uscc_column(&w.owner);
    let existing = match w.id {
        None => {
            let n: i64 = c
                .prepare_cached("SELECT count(*) FROM drafts WHERE user_id = ?1")
                .map_err(backend)?
                .query_row([w.owner.user_id], |r| r.get(0))
                .map_err(backend)?;
            Existing::New {
                drafts_of_user: n as u64,
            }
        }
        Some(id) => {
            let v: Option<i64> = c
                .prepare_cached(
                    "SELECT version FROM drafts WHERE id = ?1 AND user_id = ?2 AND uscc = ?3",
                )
                .map_err(backend)?
                .query_row(params![id, w.owner.user_id, uscc], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            Existing::Update {
                version: v.map(|v| v as u64),
            }
        }
    };
    let version = plan_write(w, existing)?;
    let at = to_ms(w.now);
    let id = match w.id {
        None => {
            c.prepare_cached(
                "INSERT INTO drafts (user_id, uscc, kind, title, body, version, created_at_ms, updated_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )
            .map_err(backend)?
            .execute(params![w.owner.user_id, uscc, w.kind, w.title, w.body, version as i64, at])
            .map_err(backend)?;
            c.last_insert_rowid()
        }
        Some(id) => {
            c.prepare_cached(
                "UPDATE drafts SET kind = ?2, title = ?3, body = ?4, version = ?5, updated_at_ms = ?6
                 WHERE id = ?1",
            )
            .map_err(backend)?
            .execute(params![id, w.kind, w.title, w.body, version as i64, at])
            .map_err(backend)?;
            id
        }
    };
    one(c, &w.owner, id)?
        .map(|d| d.summary)
        .ok_or_else(|| StoreError::Corrupt(format!("draft {id} not read back")))
}

pub(super) fn delete(c: &Connection, owner: &DraftOwner, id: i64) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached("DELETE FROM drafts WHERE id = ?1 AND user_id = ?2 AND uscc = ?3")
        .map_err(backend)?
        .execute(params![id, owner.user_id, uscc_column(owner)])
        .map_err(backend)?;
    Ok(n > 0)
}

pub(super) fn list(c: &Connection, owner: &DraftOwner) -> Result<Vec<DraftSummary>, StoreError> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM drafts WHERE user_id = ?1 AND uscc = ?2
             ORDER BY updated_at_ms DESC, id DESC"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![owner.user_id, uscc_column(owner)], summary)
        .map_err(backend)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(to_summary(r.map_err(backend)?)?);
    }
    Ok(out)
}

pub(super) fn one(
    c: &Connection,
    owner: &DraftOwner,
    id: i64,
) -> Result<Option<StoredDraft>, StoreError> {
    let got = c
        .prepare_cached(&format!(
            "SELECT {COLUMNS}, body FROM drafts WHERE id = ?1 AND user_id = ?2 AND uscc = ?3"
        ))
        .map_err(backend)?
        .query_row(params![id, owner.user_id, uscc_column(owner)], |r| {
            Ok((summary(r)?, r.get::<_, String>(7)?))
        })
        .optional()
        .map_err(backend)?;
    got.map(|(s, body)| {
        Ok(StoredDraft {
            summary: to_summary(s)?,
            body,
        })
    })
    .transpose()
}

pub(super) fn mark_read(c: &Connection, w: &ReadMarkWrite) -> Result<i64, StoreError> {
    c.prepare_cached(
        "INSERT INTO notification_reads (user_id, up_to, at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id) DO UPDATE SET up_to = max(up_to, excluded.up_to), at_ms = excluded.at_ms",
    )
    .map_err(backend)?
    .execute(params![w.user_id, w.up_to, to_ms(w.now)])
    .map_err(backend)?;
    read_marker(c, w.user_id)?
        .ok_or_else(|| StoreError::Corrupt("read marker not read back".into()))
}

pub(super) fn read_marker(c: &Connection, user_id: i64) -> Result<Option<i64>, StoreError> {
    c.prepare_cached("SELECT up_to FROM notification_reads WHERE user_id = ?1")
        .map_err(backend)?
        .query_row([user_id], |r| r.get(0))
        .optional()
        .map_err(backend)
}
