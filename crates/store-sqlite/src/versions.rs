//! The writes of a new version on SQLite ([`store::versions`]), in the savepoint of its append.

use rusqlite::{params, Connection};

use super::*;

pub(super) const MIGRATION: &str = r#"
    ALTER TABLE payment_notices ADD COLUMN superseded_at_ms INTEGER;
"#;

pub(super) fn write(
    c: &Connection,
    id: i64,
    events: &[clearance::Event],
) -> Result<(), StoreError> {
    let w = store::versions::writes(events);
    if let Some(body) = &w.body_json {
        c.prepare_cached("UPDATE declarations SET body = ?2 WHERE id = ?1")
            .map_err(backend)?
            .execute(params![id, body])
            .map_err(backend)?;
    }
    for (n, at) in &w.notices {
        c.prepare_cached(
            "INSERT INTO payment_notices (notice_no, declaration_id, tax, amount_fen, issued_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(backend)?
        .execute(params![n.notice_no, id, n.tax.as_str(), n.amount_fen.0, to_ms(*at)])
        .map_err(|err| match err {
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                StoreError::Duplicate(format!("payment notice {}", n.notice_no))
            }
            other => backend(other),
        })?;
    }
    for (no, at) in &w.superseded {
        c.prepare_cached(
            "UPDATE payment_notices SET superseded_at_ms = ?3 WHERE notice_no = ?1 AND declaration_id = ?2 AND paid_at_ms IS NULL",
        )
        .map_err(backend)?
        .execute(params![no, id, to_ms(*at)])
        .map_err(backend)?;
    }
    Ok(())
}
