//! The writes of a new version on PostgreSQL ([`store::versions`]), in the savepoint of its
//! append; the same meaning as the SQLite backend (`store-sqlite/src/versions.rs`).

use clearance::Event;
use store::{DeclarationId, StoreError};

use super::Tx;
use crate::{backend, ms};

pub(crate) const MIGRATION: &str = r#"
    ALTER TABLE payment_notices ADD COLUMN superseded_at timestamptz;
"#;

impl Tx<'_> {
    pub(super) async fn write_versions(
        &self,
        id: DeclarationId,
        events: &[Event],
    ) -> Result<(), StoreError> {
        let w = store::versions::writes(events);
        if let Some(body) = &w.body_json {
            self.c
                .execute(
                    "UPDATE declarations SET body = $2::text::json WHERE id = $1",
                    &[&id.0, body],
                )
                .await
                .map_err(backend)?;
        }
        for (n, at) in &w.notices {
            let inserted = self
                .c
                .execute(
                    "INSERT INTO payment_notices (notice_no, declaration_id, tax, amount_fen, issued_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (notice_no) DO NOTHING",
                    &[&n.notice_no, &id.0, &n.tax.as_str(), &n.amount_fen.0, &ms(*at)],
                )
                .await
                .map_err(backend)?;
            if inserted != 1 {
                return Err(StoreError::Duplicate(format!(
                    "payment notice {}",
                    n.notice_no
                )));
            }
        }
        for (no, at) in &w.superseded {
            self.c
                .execute(
                    "UPDATE payment_notices SET superseded_at = $3 WHERE notice_no = $1 AND declaration_id = $2 AND paid_at IS NULL",
                    &[no, &id.0, &ms(*at)],
                )
                .await
                .map_err(backend)?;
        }
        Ok(())
    }
}
