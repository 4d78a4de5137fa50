//! The writes of [`store::eport::EportStore`] on PostgreSQL, run by the one writer like every
//! other request, each in its own savepoint of the batch's transaction, with its audit records
//! in the same chain. A checked filing reads the licences it draws on `FOR UPDATE` and reserves
//! in the same savepoint as the filing, so that, with the writers' advisory lock, no other
//! filing runs between the check and the reservation. Same meaning and same audit records as
//! the SQLite backend (`store-sqlite/src/eport.rs`).

use std::str::FromStr;

use ::eport::{Licence, RegistryEntry, RegistryStatus, Standing, Withdrawal};
use chrono::{DateTime, Utc};
use clearance::{Actor, Status};
use domain::codes::Uscc;
use rust_decimal::Decimal;
use store::audit::ChainHead;
use store::eport::*;
use store::{DeclarationId, StoreError};

use super::{filed, Tx};
use crate::{backend, corrupt};
use store::cargo::SubmittedMatched;

pub(crate) fn dec(s: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(s).map_err(|e| corrupt(format!("quantity {s:?}: {e}")))
}

pub(crate) fn read_standing(
    licence: &str,
    reserved: &str,
    written_off: &str,
    withdrawal: Option<&str>,
) -> Result<Standing, StoreError> {
    Ok(Standing {
        licence: serde_json::from_str(licence).map_err(|e| corrupt(format!("licence: {e}")))?,
        reserved: dec(reserved)?,
        written_off: dec(written_off)?,
        withdrawn: withdrawal
            .map(|w| serde_json::from_str(w).map_err(|e| corrupt(format!("withdrawal: {e}"))))
            .transpose()?,
    })
}

impl Tx<'_> {
    async fn standing_for_update(&self, no: &str) -> Result<Option<Standing>, StoreError> {
        let row = self
            .c
            .query_opt(
                "SELECT licence, reserved, written_off, withdrawal FROM eport_licences WHERE licence_no = $1 FOR UPDATE",
                &[&no],
            )
            .await
            .map_err(backend)?;
        row.map(|r| read_standing(r.get(0), r.get(1), r.get(2), r.get(3)))
            .transpose()
    }

    async fn set_totals(
        &self,
        no: &str,
        reserved: Decimal,
        written_off: Decimal,
    ) -> Result<(), StoreError> {
        self.c
            .execute(
                "UPDATE eport_licences SET reserved = $2, written_off = $3 WHERE licence_no = $1",
                &[&no, &reserved.to_string(), &written_off.to_string()],
            )
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Settle the reserved uses of a declaration by its new status, inside the step's savepoint
    /// (called by `write_events` whenever a step changes the status).
    pub(super) async fn settle(
        &self,
        head: &mut ChainHead,
        id: DeclarationId,
        status: Status,
        actor: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let Some(to) = store::plan::settlement(status) else {
            return Ok(());
        };
        let uses = self
            .c
            .query(
                "SELECT licence_no, quantity FROM eport_licence_uses WHERE declaration_id = $1 AND state = 'reserved' ORDER BY licence_no",
                &[&id.0],
            )
            .await
            .map_err(backend)?;
        for u in uses {
            let no: String = u.get(0);
            let q = dec(u.get(1))?;
            let s = self
                .standing_for_update(&no)
                .await?
                .ok_or_else(|| corrupt(format!("licence {no} of a use")))?;
            // A withdrawn licence writes nothing off: the release fails in its own transaction.
            store::eport::check_write_off(to, &s)?;
            let settled = store::plan::settle_use(to, &s, id, q);
            self.set_totals(&no, settled.reserved, settled.written_off)
                .await?;
            // The commerce agency hears of the write-off in this transaction.
            if to == UseState::WrittenOff {
                let row = self
                    .c
                    .query_one(
                        "SELECT declaration_no, body::text FROM declarations WHERE id = $1",
                        &[&id.0],
                    )
                    .await
                    .map_err(backend)?;
                let number: Option<String> = row.get(0);
                let body: String = row.get(1);
                let number = number.and_then(|n| domain::codes::DeclarationNo::parse(&n).ok());
                if let Some(m) = store::licence_message::licence_written_off(
                    &s.licence,
                    number,
                    &body,
                    q,
                    settled.written_off,
                    now,
                ) {
                    self.insert_outbox_rows(&[m]).await?;
                }
            }
            self.c
                .execute(
                    "UPDATE eport_licence_uses SET state = $3 WHERE declaration_id = $1 AND licence_no = $2",
                    &[&id.0, &no, &to.as_str()],
                )
                .await
                .map_err(backend)?;
            self.audit(
                head,
                now,
                actor,
                settled.action,
                &format!("licence:{no}"),
                settled.detail,
            )
            .await?;
        }
        Ok(())
    }

    async fn registry_of(&self, uscc: &Uscc) -> Result<Option<RegistryEntry>, StoreError> {
        let row = self
            .c
            .query_opt(
                "SELECT name, status FROM eport_registry WHERE uscc = $1",
                &[&uscc.to_string()],
            )
            .await
            .map_err(backend)?;
        row.map(|r| {
            let status: String = r.get(1);
            Ok(RegistryEntry {
                uscc: *uscc,
                name: r.get(0),
                status: RegistryStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("registry status {status:?}")))?,
            })
        })
        .transpose()
    }

    pub(super) async fn issue_licence(
        &self,
        head: &mut ChainHead,
        (l, actor, now): &(Licence, Actor, DateTime<Utc>),
    ) -> Result<Standing, StoreError> {
        let body = serde_json::to_string(l).map_err(corrupt)?;
        let n = self
                    .c
                    .execute(
                        "INSERT INTO eport_licences (licence_no, holder, issued_by, licence, reserved, written_off)
                         VALUES ($1, $2, $3, $4, '0', '0') ON CONFLICT (licence_no) DO NOTHING",
                        &[&l.licence_no, &l.holder.to_string(), &l.issued_by, &body],
                    )
                    .await
                    .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::Duplicate(format!("licence {}", l.licence_no)));
        }
        self.audit(
            head,
            *now,
            &actor.label(),
            "eport.issue_licence",
            &format!("licence:{}", l.licence_no),
            body,
        )
        .await?;
        Ok(Standing {
            licence: l.clone(),
            reserved: Decimal::ZERO,
            written_off: Decimal::ZERO,
            withdrawn: None,
        })
    }

    pub(super) async fn withdraw_licence(
        &self,
        head: &mut ChainHead,
        (no, w, actor, now): &(String, Withdrawal, Actor, DateTime<Utc>),
    ) -> Result<Standing, StoreError> {
        let s = store::eport::withdrawal(self.standing_for_update(no).await?, no, w)?;
        let body = serde_json::to_string(w).map_err(corrupt)?;
        self.c
            .execute(
                "UPDATE eport_licences SET withdrawal = $2 WHERE licence_no = $1",
                &[no, &body],
            )
            .await
            .map_err(backend)?;
        self.audit(
            head,
            *now,
            &actor.label(),
            "eport.withdraw_licence",
            &format!("licence:{no}"),
            body,
        )
        .await?;
        Ok(s)
    }

    pub(super) async fn put_registry(
        &self,
        head: &mut ChainHead,
        (e, actor, now): &(RegistryEntry, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        self.c
                    .execute(
                        "INSERT INTO eport_registry (uscc, name, status) VALUES ($1, $2, $3)
                         ON CONFLICT (uscc) DO UPDATE SET name = excluded.name, status = excluded.status",
                        &[&e.uscc.to_string(), &e.name, &e.status.as_str()],
                    )
                    .await
                    .map_err(backend)?;
        let body = serde_json::to_string(e).map_err(corrupt)?;
        self.audit(
            head,
            *now,
            &actor.label(),
            "eport.put_registry",
            &format!("uscc:{}", e.uscc),
            body,
        )
        .await?;
        Ok(())
    }

    pub(super) async fn file(
        &self,
        head: &mut ChainHead,
        boxed: &store::writer::EportFiling,
    ) -> Result<SubmittedMatched, StoreError> {
        let (req, review, check, cargo_match) = boxed;
        let enforced: bool = self
            .c
            .query_one("SELECT EXISTS (SELECT 1 FROM eport_registry)", &[])
            .await
            .map_err(backend)?
            .get(0);
        let entry = self.registry_of(&check.trader).await?;
        // The licences drawn on, locked until the batch commits.
        let mut standings = Vec::new();
        for n in &check.needs {
            if let Some(no) = &n.licence_no {
                if !standings.iter().any(|(k, _)| k == no) {
                    standings.push((no.clone(), self.standing_for_update(no).await?));
                }
            }
        }
        let (review, claims) =
            store::eport::checked_review(review, check, entry.as_ref(), enforced, |no| {
                standings
                    .iter()
                    .find(|(k, _)| k == no)
                    .and_then(|(_, s)| s.clone())
            });
        let out = match cargo_match {
            None => SubmittedMatched {
                filed: filed(
                    self.submit_many(head, &[(req, Some(&review))], None)
                        .await?
                        .pop()
                        .expect("one result per request")?,
                ),
                matched: None,
            },
            Some(m) => {
                self.submit_matched(head, &(req.clone(), review, m.clone()))
                    .await?
            }
        };
        let f = &out.filed;
        if !f.replayed && f.status != Status::Rejected {
            for claim in &claims {
                let s = self
                    .standing_for_update(&claim.licence_no)
                    .await?
                    .ok_or_else(|| corrupt(format!("licence {} vanished", claim.licence_no)))?;
                self.set_totals(
                    &claim.licence_no,
                    s.reserved + claim.quantity,
                    s.written_off,
                )
                .await?;
                self.c
                            .execute(
                                "INSERT INTO eport_licence_uses (declaration_id, licence_no, quantity, state) VALUES ($1, $2, $3, 'reserved')",
                                &[&f.id.0, &claim.licence_no, &claim.quantity.to_string()],
                            )
                            .await
                            .map_err(backend)?;
                self.audit(
                    head,
                    req.now,
                    "system:automatic_review",
                    "eport.reserve",
                    &format!("licence:{}", claim.licence_no),
                    store::detail::licence_use(f.id, claim.quantity),
                )
                .await?;
            }
        }
        Ok(out)
    }
}

/// A filing that can be written in a run with others (`Tx::filing_run`): it draws on no
/// licence, so there is nothing to lock and reserve, only the registry to read.
pub(super) fn joins_run(check: &FilingCheck) -> bool {
    check.needs.iter().all(|n| n.licence_no.is_none())
}

impl Tx<'_> {
    /// The registry as a run of filings needs it: whether it is enforced (it has entries) and
    /// the entries of the given traders (two queries, pipelined).
    pub(super) async fn registry_for(
        &self,
        traders: &[Uscc],
    ) -> Result<(bool, Vec<RegistryEntry>), StoreError> {
        let keys: Vec<String> = traders.iter().map(|u| u.to_string()).collect();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&keys];
        let (enforced, rows) = tokio::join!(
            biased;
            self.c.query_one("SELECT EXISTS (SELECT 1 FROM eport_registry)", &[]),
            self.c.query(
                "SELECT uscc, name, status FROM eport_registry WHERE uscc = ANY($1::text[])",
                &params,
            ),
        );
        let enforced: bool = enforced.map_err(backend)?.get(0);
        let entries = rows
            .map_err(backend)?
            .iter()
            .map(|r| {
                let uscc: String = r.get(0);
                let status: String = r.get(2);
                Ok(RegistryEntry {
                    uscc: Uscc::parse(&uscc)
                        .map_err(|e| corrupt(format!("registry {uscc}: {e}")))?,
                    name: r.get(1),
                    status: RegistryStatus::parse(&status)
                        .ok_or_else(|| corrupt(format!("registry status {status:?}")))?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok((enforced, entries))
    }
}
