//! [`EportStore`] on SQLite: writes go through the same writer thread as declarations, so the
//! licence check reads the ledger as the filing's own savepoint sees it and no other filing can
//! run between the check and the reservation.

use std::str::FromStr;

use ::eport::{Licence, RegistryEntry, RegistryStatus, Standing, Withdrawal};
use rusqlite::{params, Connection, OptionalExtension};
use rust_decimal::Decimal;

use super::*;
use store::cargo::SubmittedMatched;
use store::eport::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE eport_licences (
        licence_no  TEXT PRIMARY KEY,
        holder      TEXT NOT NULL,
        issued_by   TEXT NOT NULL,
        licence     TEXT NOT NULL,
        reserved    TEXT NOT NULL,
        written_off TEXT NOT NULL
    );
    CREATE INDEX eport_licences_holder ON eport_licences (holder);
    CREATE INDEX eport_licences_issuer ON eport_licences (issued_by);

    CREATE TABLE eport_licence_uses (
        declaration_id INTEGER NOT NULL REFERENCES declarations (id),
        licence_no     TEXT NOT NULL REFERENCES eport_licences (licence_no),
        quantity       TEXT NOT NULL,
        state          TEXT NOT NULL,
        PRIMARY KEY (declaration_id, licence_no)
    ) WITHOUT ROWID;

    CREATE TABLE eport_registry (
        uscc   TEXT PRIMARY KEY,
        name   TEXT NOT NULL,
        status TEXT NOT NULL
    ) WITHOUT ROWID;
"#;

/// Migration 25 (issue 18 item 6; 24 on PostgreSQL): a licence's withdrawal by its issuer (JSON of
/// `eport::Withdrawal`; `NULL` while the licence stands).
pub(super) const WITHDRAWAL_MIGRATION: &str =
    "ALTER TABLE eport_licences ADD COLUMN withdrawal TEXT;";

fn dec(s: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str(s).map_err(|e| corrupt(format!("quantity {s:?}: {e}")))
}

type StandingRow = (String, String, String, Option<String>);

fn read_standing(
    (licence, reserved, written_off, withdrawal): StandingRow,
) -> Result<Standing, StoreError> {
    Ok(Standing {
        licence: serde_json::from_str(&licence).map_err(|e| corrupt(format!("licence: {e}")))?,
        reserved: dec(&reserved)?,
        written_off: dec(&written_off)?,
        withdrawn: withdrawal
            .map(|w| serde_json::from_str(&w).map_err(|e| corrupt(format!("withdrawal: {e}"))))
            .transpose()?,
    })
}

const SELECT_STANDING: &str =
    "SELECT licence, reserved, written_off, withdrawal FROM eport_licences";

fn standing_of(c: &Connection, no: &str) -> Result<Option<Standing>, StoreError> {
    c.prepare_cached(&format!("{SELECT_STANDING} WHERE licence_no = ?1"))
        .map_err(backend)?
        .query_row([no], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()
        .map_err(backend)?
        .map(read_standing)
        .transpose()
}

fn registry_of(c: &Connection, uscc: &Uscc) -> Result<Option<RegistryEntry>, StoreError> {
    let row: Option<(String, String)> = c
        .prepare_cached("SELECT name, status FROM eport_registry WHERE uscc = ?1")
        .map_err(backend)?
        .query_row([uscc.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)?;
    row.map(|(name, status)| {
        Ok(RegistryEntry {
            uscc: *uscc,
            name,
            status: RegistryStatus::parse(&status)
                .ok_or_else(|| corrupt(format!("registry status {status:?}")))?,
        })
    })
    .transpose()
}

fn set_totals(
    c: &Connection,
    no: &str,
    reserved: Decimal,
    written_off: Decimal,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "UPDATE eport_licences SET reserved = ?2, written_off = ?3 WHERE licence_no = ?1",
    )
    .map_err(backend)?
    .execute(params![no, reserved.to_string(), written_off.to_string()])
    .map_err(backend)?;
    Ok(())
}

/// Settle the reserved uses of a declaration by its new status, inside the step's savepoint
/// (called by `write_events` whenever a step changes the status): written off when released or
/// closed, given back when cancelled, withdrawn or rejected; otherwise kept.
pub(super) fn settle(
    c: &Connection,
    head: &mut ChainHead,
    id: DeclarationId,
    status: Status,
    actor: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(to) = store::plan::settlement(status) else {
        return Ok(());
    };
    let uses: Vec<(String, String)> = c
        .prepare_cached(
            "SELECT licence_no, quantity FROM eport_licence_uses WHERE declaration_id = ?1 AND state = 'reserved' ORDER BY licence_no",
        )
        .map_err(backend)?
        .query_map([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    for (no, q) in uses {
        let q = dec(&q)?;
        let s = standing_of(c, &no)?.ok_or_else(|| corrupt(format!("licence {no} of a use")))?;
        // A withdrawn licence writes nothing off: the release fails in its own transaction.
        store::eport::check_write_off(to, &s)?;
        let settled = store::plan::settle_use(to, &s, id, q);
        set_totals(c, &no, settled.reserved, settled.written_off)?;
        // The commerce agency hears of the write-off in this transaction.
        if to == UseState::WrittenOff {
            let (number, body): (Option<String>, String) = c
                .prepare_cached("SELECT declaration_no, body FROM declarations WHERE id = ?1")
                .map_err(backend)?
                .query_row([id.0], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(backend)?;
            let number = number.and_then(|n| domain::codes::DeclarationNo::parse(&n).ok());
            if let Some(m) = store::licence_message::licence_written_off(
                &s.licence,
                number,
                &body,
                q,
                settled.written_off,
                now,
            ) {
                super::outbox::insert_rows(c, &[m])?;
            }
        }
        c.prepare_cached(
            "UPDATE eport_licence_uses SET state = ?3 WHERE declaration_id = ?1 AND licence_no = ?2",
        )
        .map_err(backend)?
        .execute(params![id.0, no, to.as_str()])
        .map_err(backend)?;
        audit(
            c,
            head,
            now,
            actor,
            settled.action,
            &format!("licence:{no}"),
            settled.detail,
        )?;
    }
    Ok(())
}

pub(super) fn issue_licence(
    c: &Connection,
    head: &mut ChainHead,
    (l, actor, now): &(Licence, Actor, DateTime<Utc>),
) -> Result<Standing, StoreError> {
    if standing_of(c, &l.licence_no)?.is_some() {
        return Err(StoreError::Duplicate(format!("licence {}", l.licence_no)));
    }
    let body = serde_json::to_string(l).map_err(|e| StoreError::Invalid(e.to_string()))?;
    c.prepare_cached(
                "INSERT INTO eport_licences (licence_no, holder, issued_by, licence, reserved, written_off) VALUES (?1, ?2, ?3, ?4, '0', '0')",
            )
            .map_err(backend)?
            .execute(params![l.licence_no, l.holder.to_string(), l.issued_by, body])
            .map_err(backend)?;
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "eport.issue_licence",
        &format!("licence:{}", l.licence_no),
        body,
    )?;
    Ok(Standing {
        licence: l.clone(),
        reserved: Decimal::ZERO,
        written_off: Decimal::ZERO,
        withdrawn: None,
    })
}

pub(super) fn withdraw_licence(
    c: &Connection,
    head: &mut ChainHead,
    (no, w, actor, now): &(String, Withdrawal, Actor, DateTime<Utc>),
) -> Result<Standing, StoreError> {
    let s = store::eport::withdrawal(standing_of(c, no)?, no, w)?;
    let body = serde_json::to_string(w).map_err(|e| StoreError::Invalid(e.to_string()))?;
    c.prepare_cached("UPDATE eport_licences SET withdrawal = ?2 WHERE licence_no = ?1")
        .map_err(backend)?
        .execute(params![no, body])
        .map_err(backend)?;
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "eport.withdraw_licence",
        &format!("licence:{no}"),
        body,
    )?;
    Ok(s)
}

pub(super) fn put_registry(
    c: &Connection,
    head: &mut ChainHead,
    (e, actor, now): &(RegistryEntry, Actor, DateTime<Utc>),
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO eport_registry (uscc, name, status) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (uscc) DO UPDATE SET name = excluded.name, status = excluded.status",
    )
    .map_err(backend)?
    .execute(params![e.uscc.to_string(), e.name, e.status.as_str()])
    .map_err(backend)?;
    let body = serde_json::to_string(e).map_err(|e| StoreError::Invalid(e.to_string()))?;
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "eport.put_registry",
        &format!("uscc:{}", e.uscc),
        body,
    )?;
    Ok(())
}

pub(super) fn file(
    c: &Connection,
    head: &mut ChainHead,
    boxed: &store::writer::EportFiling,
) -> Result<SubmittedMatched, StoreError> {
    let (req, review, check, cargo_match) = boxed;
    let enforced: bool = c
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM eport_registry)")
        .map_err(backend)?
        .query_row([], |r| r.get(0))
        .map_err(backend)?;
    let entry = registry_of(c, &check.trader)?;
    let mut lookup_err = None;
    let (review, claims) =
        store::eport::checked_review(review, check, entry.as_ref(), enforced, |no| {
            standing_of(c, no).unwrap_or_else(|e| {
                lookup_err = Some(e);
                None
            })
        });
    if let Some(e) = lookup_err {
        return Err(e);
    }
    // Without cargo control, or without a bill to match, this is the plain reviewed filing.
    let pending = cargo_match.as_ref().and_then(Option::as_ref);
    let out = cargo::submit_matched_parts(c, head, req, &review, pending)?;
    let filed = &out.filed;
    if !filed.replayed && filed.status != Status::Rejected {
        for claim in &claims {
            let s = standing_of(c, &claim.licence_no)?
                .ok_or_else(|| corrupt(format!("licence {} vanished", claim.licence_no)))?;
            set_totals(
                c,
                &claim.licence_no,
                s.reserved + claim.quantity,
                s.written_off,
            )?;
            c.prepare_cached(
                        "INSERT INTO eport_licence_uses (declaration_id, licence_no, quantity, state) VALUES (?1, ?2, ?3, 'reserved')",
                    )
                    .map_err(backend)?
                    .execute(params![filed.id.0, claim.licence_no, claim.quantity.to_string()])
                    .map_err(backend)?;
            audit(
                c,
                head,
                req.now,
                "system:automatic_review",
                "eport.reserve",
                &format!("licence:{}", claim.licence_no),
                store::detail::licence_use(filed.id, claim.quantity),
            )?;
        }
    }
    Ok(out)
}

fn standings(c: &Connection, column: &str, value: &str) -> Result<Vec<Standing>, StoreError> {
    let rows: Vec<StandingRow> = c
        .prepare_cached(&format!(
            "{SELECT_STANDING} WHERE {column} = ?1 ORDER BY licence_no LIMIT {LICENCES_MAX}"
        ))
        .map_err(backend)?
        .query_map([value], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(backend)?
        .collect::<Result<_, _>>()
        .map_err(backend)?;
    rows.into_iter().map(read_standing).collect()
}

impl EportStore for SqliteStore {
    fn licence(&self, licence_no: &str) -> Result<Option<Standing>, StoreError> {
        self.read(|c| standing_of(c, licence_no))
    }

    fn licences_held_by(&self, holder: &Uscc) -> Result<Vec<Standing>, StoreError> {
        self.read(|c| standings(c, "holder", &holder.to_string()))
    }

    fn licences_issued_by(&self, issuer: &str) -> Result<Vec<Standing>, StoreError> {
        self.read(|c| standings(c, "issued_by", issuer))
    }

    fn registry_entry(&self, uscc: &Uscc) -> Result<Option<RegistryEntry>, StoreError> {
        self.read(|c| registry_of(c, uscc))
    }

    fn uses(&self, id: DeclarationId) -> Result<Vec<LicenceUse>, StoreError> {
        self.read(|c| {
            let rows: Vec<(String, String, String)> = c
                .prepare_cached(
                    "SELECT licence_no, quantity, state FROM eport_licence_uses WHERE declaration_id = ?1 ORDER BY licence_no",
                )
                .map_err(backend)?
                .query_map([id.0], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .map_err(backend)?
                .collect::<Result<_, _>>()
                .map_err(backend)?;
            rows.into_iter()
                .map(|(licence_no, q, state)| {
                    Ok(LicenceUse {
                        declaration_id: id,
                        licence_no,
                        quantity: dec(&q)?,
                        state: UseState::parse(&state)
                            .ok_or_else(|| corrupt(format!("use state {state:?}")))?,
                    })
                })
                .collect()
        })
    }
}
