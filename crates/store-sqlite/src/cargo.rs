//! [`CargoStore`] on SQLite: the requests go through the same writer thread as declarations, so
//! they share its group commit and the one audit chain, and a write touching a manifest and a
//! declaration commits both in one savepoint.

use cargo_control::{ManifestEvent, TransitNo};
use rusqlite::{params, Connection, OptionalExtension};

use super::*;
use store::cargo::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE manifest_events (
        seq         INTEGER PRIMARY KEY,
        manifest_id TEXT NOT NULL,
        type        TEXT NOT NULL,
        at_ms       INTEGER NOT NULL,
        body        TEXT NOT NULL
    );
    CREATE INDEX manifest_events_manifest ON manifest_events (manifest_id, seq);

    CREATE TABLE transits (
        transit_no         TEXT PRIMARY KEY,
        declarant          TEXT NOT NULL,
        entry_office       TEXT NOT NULL,
        destination_office TEXT NOT NULL,
        status             TEXT NOT NULL,
        version            INTEGER NOT NULL,
        updated_at_ms      INTEGER NOT NULL,
        state              TEXT NOT NULL
    );
    CREATE INDEX transits_status ON transits (status);

    CREATE TABLE transit_events (
        transit_no TEXT NOT NULL REFERENCES transits (transit_no),
        seq        INTEGER NOT NULL,
        type       TEXT NOT NULL,
        at_ms      INTEGER NOT NULL,
        body       TEXT NOT NULL,
        PRIMARY KEY (transit_no, seq)
    ) WITHOUT ROWID;

    CREATE TABLE postal_items (
        id             INTEGER PRIMARY KEY,
        kind           TEXT NOT NULL,
        reference      TEXT NOT NULL,
        list_no        TEXT,
        operator       TEXT,
        office         TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        value_fen      INTEGER NOT NULL,
        payable_fen    INTEGER NOT NULL,
        decided_at_ms  INTEGER NOT NULL,
        decision       TEXT NOT NULL
    );
    CREATE INDEX postal_items_operator ON postal_items (operator, id);
    CREATE INDEX postal_items_office ON postal_items (office, id);
"#;

pub(super) fn record_manifest(
    c: &Connection,
    head: &mut ChainHead,
    req: &ManifestWrite,
) -> Result<ManifestWritten, StoreError> {
    let mut last_seq = check_seq(c, req.expected_seq)?;
    for e in &req.events {
        last_seq = insert_manifest_event(c, head, e)?;
    }
    let mut declarations = Vec::with_capacity(req.declarations.len());
    for a in &req.declarations {
        declarations.push(super::append(c, head, a)?);
    }
    super::outbox::insert_rows(c, &req.outbox)?;
    Ok(ManifestWritten {
        last_seq,
        declarations,
    })
}

pub(super) fn submit_matched(
    c: &Connection,
    head: &mut ChainHead,
    boxed: &store::writer::MatchedFiling,
) -> Result<SubmittedMatched, StoreError> {
    let (req, review, pending) = boxed;
    submit_matched_parts(c, head, req, review, pending.as_ref())
}

/// [`submit_matched`] on borrowed parts (an E-Port filing hands over its own, uncloned).
pub(super) fn submit_matched_parts(
    c: &Connection,
    head: &mut ChainHead,
    req: &SubmitRequest,
    review: &AutomaticReview,
    pending: Option<&PendingMatch>,
) -> Result<SubmittedMatched, StoreError> {
    if let Some(m) = pending {
        check_match_seq(c, m)?;
    }
    let filed = submit_reviewed(c, head, req, review)?;
    let matched = match (pending, filed.declaration_no, filed.replayed) {
        (Some(m), Some(no), false) => {
            let event = matched_event(m, no, req.now);
            let seq = insert_manifest_event(c, head, &event)?;
            Some(StoredManifestEvent { seq, event })
        }
        _ => None,
    };
    Ok(SubmittedMatched { filed, matched })
}

pub(super) fn record_transit(
    c: &Connection,
    head: &mut ChainHead,
    req: &TransitWrite,
) -> Result<StoredTransit, StoreError> {
    write_transit(c, head, req)
}

pub(super) fn record_postal(
    c: &Connection,
    head: &mut ChainHead,
    req: &PostalWrite,
) -> Result<Vec<i64>, StoreError> {
    let mut ids = Vec::with_capacity(req.records.len());
    for r in &req.records {
        let d = &r.decision;
        c.prepare_cached(
                    "INSERT INTO postal_items (kind, reference, list_no, operator, office, outcome, value_fen, payable_fen, decided_at_ms, decision) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                )
                .map_err(backend)?
                .execute(params![
                    postal_kind_name(d),
                    d.reference,
                    r.list_no,
                    r.operator.map(|u| u.to_string()),
                    r.office.to_string(),
                    postal_outcome_name(d),
                    d.value_fen.0,
                    d.payable_fen.0,
                    to_ms(req.now),
                    serde_json::to_string(d).map_err(corrupt)?,
                ])
                .map_err(backend)?;
        let id = c.last_insert_rowid();
        audit(
                    c,
                    head,
                    req.now,
                    &req.actor,
                    &format!("postal.{}", postal_kind_name(d)),
                    &d.reference,
                    serde_json::json!({"id": id, "outcome": postal_outcome_name(d), "value_fen": d.value_fen, "payable_fen": d.payable_fen}).to_string(),
                )?;
        ids.push(id);
    }
    Ok(ids)
}

/// The last sequence number of the manifest log, which must be `expected` or, past it, only
/// match events: a caller reserves its matches in its ledger before writing them, so matches of
/// filings in flight are already counted there (docs/CARGO.md "Wiring").
fn check_seq(c: &Connection, expected: u64) -> Result<u64, StoreError> {
    let last: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM manifest_events")
        .map_err(backend)?
        .query_row([], |r| r.get(0))
        .map_err(backend)?;
    let last = last as u64;
    let others: i64 = if last > expected {
        c.prepare_cached(
            "SELECT COUNT(*) FROM manifest_events WHERE seq > ?1 AND type <> 'declaration_matched'",
        )
        .map_err(backend)?
        .query_row([expected as i64], |r| r.get(0))
        .map_err(backend)?
    } else {
        0
    };
    store::plan::manifest_seq(expected, last, others)
}

/// A filing's match may be written after `m.expected_seq` unless an event since then on the
/// same manifest could change it ([`KEEPS_RESERVATIONS`]).
pub(super) fn check_match_seq(c: &Connection, m: &PendingMatch) -> Result<(), StoreError> {
    let last: i64 = c
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM manifest_events")
        .map_err(backend)?
        .query_row([], |r| r.get(0))
        .map_err(backend)?;
    let last = last as u64;
    // The events past the one the filer read that change the manifest (any but matches,
    // unmatches and write-offs): a probe of the partial index `manifest_events_changes`, whose
    // condition the statement repeats word for word so that SQLite uses it (the literals are
    // checked against `KEEPS_RESERVATIONS` by a test).
    let changed: bool = last < m.expected_seq
        || c.prepare_cached(CHANGED_SINCE)
            .map_err(backend)?
            .query_row(
                params![m.manifest_id.to_string(), m.expected_seq as i64],
                |r| r.get(0),
            )
            .map_err(backend)?;
    if changed {
        return Err(StoreError::Conflict {
            expected: m.expected_seq,
            actual: last,
        });
    }
    Ok(())
}

/// The event types that leave a manifest's reservations as they were
/// ([`KEEPS_RESERVATIONS`]), as an SQL list; the index and the query below both use it.
macro_rules! keeps_reservations_sql {
    () => {
        "('declaration_matched', 'declaration_unmatched', 'bill_written_off')"
    };
}

/// Migration 24: the events that change a manifest, indexed apart from the matches (a busy
/// manifest gets a match per filing, and the filing's check must not read them all).
pub(crate) const CHANGES_MIGRATION: &str = concat!(
    "CREATE INDEX manifest_events_changes ON manifest_events (manifest_id, seq) WHERE type NOT IN ",
    keeps_reservations_sql!(),
    ";"
);

/// Whether a manifest has an event changing it after a sequence number.
const CHANGED_SINCE: &str = concat!(
    "SELECT EXISTS (SELECT 1 FROM manifest_events WHERE manifest_id = ?1 AND seq > ?2 AND type NOT IN ",
    keeps_reservations_sql!(),
    ")"
);

fn insert_manifest_event(
    c: &Connection,
    head: &mut ChainHead,
    e: &ManifestEvent,
) -> Result<u64, StoreError> {
    let manifest = manifest_of(e).to_string();
    c.prepare_cached(
        "INSERT INTO manifest_events (manifest_id, type, at_ms, body) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(backend)?
    .execute(params![
        manifest,
        e.kind.name(),
        to_ms(e.at),
        serde_json::to_string(e).map_err(corrupt)?
    ])
    .map_err(backend)?;
    let seq = c.last_insert_rowid() as u64;
    audit(
        c,
        head,
        e.at,
        &e.actor.label(),
        &format!("manifest.{}", e.kind.name()),
        &manifest,
        manifest_audit_detail(e),
    )?;
    Ok(seq)
}

fn write_transit(
    c: &Connection,
    head: &mut ChainHead,
    req: &TransitWrite,
) -> Result<StoredTransit, StoreError> {
    let on_record = load_transit_row(c, &req.transit_no)?.map(|t| (t.version, t.state));
    let version = on_record.as_ref().map_or(0, |(v, _)| *v);
    let before = on_record.as_ref().map(|(_, s)| s.status);
    let written = store::plan::transit(req, on_record)?;
    let (state, new_version, now) = (&written.state, written.version, written.updated_at);
    let decl = state
        .declaration
        .as_ref()
        .expect("the plan checked: a transit starts with its declaration");
    c.prepare_cached(
        "INSERT INTO transits (transit_no, declarant, entry_office, destination_office, status, version, updated_at_ms, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (transit_no) DO UPDATE SET status = excluded.status, version = excluded.version, updated_at_ms = excluded.updated_at_ms, state = excluded.state",
    )
    .map_err(backend)?
    .execute(params![
        req.transit_no.to_string(),
        decl.declarant.to_string(),
        decl.entry_office.to_string(),
        decl.destination_office.to_string(),
        state.status.as_str(),
        new_version as i64,
        to_ms(now),
        serde_json::to_string(state).map_err(corrupt)?
    ])
    .map_err(backend)?;
    for (i, e) in req.events.iter().enumerate() {
        c.prepare_cached(
            "INSERT INTO transit_events (transit_no, seq, type, at_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(backend)?
        .execute(params![
            req.transit_no.to_string(),
            (version + i as u64 + 1) as i64,
            transit_event_name(e),
            to_ms(e.at),
            serde_json::to_string(e).map_err(corrupt)?
        ])
        .map_err(backend)?;
        audit(
            c,
            head,
            e.at,
            &e.actor.label(),
            &format!("transit.{}", transit_event_name(e)),
            &req.transit_no.to_string(),
            transit_audit_detail(e),
        )?;
    }
    // The guarantee ledger: a declared transit reserves, its clearance or cancellation releases.
    super::guarantee::settle_transit(c, head, before, state, &req.events, now)?;
    Ok(written)
}

fn load_transit_row(c: &Connection, no: &TransitNo) -> Result<Option<StoredTransit>, StoreError> {
    c.prepare_cached("SELECT version, updated_at_ms, state FROM transits WHERE transit_no = ?1")
        .map_err(backend)?
        .query_row([no.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .optional()
        .map_err(backend)?
        .map(|(v, at, s)| read_transit(no.to_string(), v, at, s))
        .transpose()
}

fn read_transit(no: String, v: i64, at: i64, s: String) -> Result<StoredTransit, StoreError> {
    Ok(StoredTransit {
        transit_no: TransitNo::parse(&no).map_err(|e| corrupt(format!("transit {no}: {e}")))?,
        version: v as u64,
        state: serde_json::from_str(&s).map_err(|e| corrupt(format!("transit {no}: {e}")))?,
        updated_at: from_ms(at)?,
    })
}

/// `?` placeholders from `from` for `n` values, and the values as text.
fn in_list(from: usize, n: usize) -> String {
    (0..n)
        .map(|i| format!("?{}", from + i))
        .collect::<Vec<_>>()
        .join(", ")
}

impl CargoStore for SqliteStore {
    fn manifest_events(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<StoredManifestEvent>, StoreError> {
        check_limit(limit)?;
        self.read(|c| {
            let mut st = c
                .prepare_cached(
                    "SELECT seq, body FROM manifest_events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = st
                .query_map(params![after_seq as i64, limit], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (seq, body) = row.map_err(backend)?;
                out.push(StoredManifestEvent {
                    seq: seq as u64,
                    event: serde_json::from_str(&body)
                        .map_err(|e| corrupt(format!("manifest event {seq}: {e}")))?,
                });
            }
            Ok(out)
        })
    }

    fn load_transit(&self, transit_no: &TransitNo) -> Result<Option<StoredTransit>, StoreError> {
        self.read(|c| load_transit_row(c, transit_no))
    }

    fn transits(&self, filter: &TransitFilter) -> Result<Vec<StoredTransit>, StoreError> {
        check_limit(filter.limit)?;
        // The page's numbers are chosen (and sorted) first, the rows read after: SQLite sorts
        // the rows a status filter selects, and sorting numbers rather than whole states keeps
        // a page cheap with many open transits (docs/CARGO.md "Storage").
        let mut sql = String::from("SELECT transit_no FROM transits WHERE 1 = 1");
        let mut values: Vec<String> = Vec::new();
        if let Some(s) = &filter.statuses {
            if s.is_empty() {
                return Ok(Vec::new());
            }
            sql += &format!(" AND status IN ({})", in_list(values.len() + 1, s.len()));
            values.extend(s.iter().map(|s| s.as_str().to_owned()));
        }
        if let Some(d) = &filter.declarant {
            sql += &format!(" AND declarant = ?{}", values.len() + 1);
            values.push(d.to_string());
        }
        if let Some(o) = &filter.offices {
            if o.is_empty() {
                return Ok(Vec::new());
            }
            let a = in_list(values.len() + 1, o.len());
            let b = in_list(values.len() + 1, o.len());
            sql += &format!(" AND (entry_office IN ({a}) OR destination_office IN ({b}))");
            values.extend(o.iter().map(|o| o.to_string()));
        }
        if let Some(after) = &filter.after {
            sql += &format!(" AND transit_no > ?{}", values.len() + 1);
            values.push(after.to_string());
        }
        sql = format!(
            "SELECT transit_no, version, updated_at_ms, state FROM transits WHERE transit_no IN ({sql} ORDER BY transit_no LIMIT {}) ORDER BY transit_no",
            filter.limit
        );
        self.read(|c| {
            let mut st = c.prepare(&sql).map_err(backend)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (no, v, at, s) = row.map_err(backend)?;
                out.push(read_transit(no, v, at, s)?);
            }
            Ok(out)
        })
    }

    fn postal_outcomes(&self, filter: &PostalFilter) -> Result<Vec<StoredPostal>, StoreError> {
        check_limit(filter.limit)?;
        let mut sql = String::from(
            "SELECT id, kind, reference, list_no, operator, office, outcome, value_fen, payable_fen, decided_at_ms, decision FROM postal_items WHERE 1 = 1",
        );
        let mut values: Vec<String> = Vec::new();
        if let Some(o) = &filter.operator {
            sql += &format!(" AND operator = ?{}", values.len() + 1);
            values.push(o.to_string());
        }
        if let Some(l) = &filter.list_no {
            sql += &format!(" AND list_no = ?{}", values.len() + 1);
            values.push(l.clone());
        }
        if let Some(o) = &filter.offices {
            if o.is_empty() {
                return Ok(Vec::new());
            }
            sql += &format!(" AND office IN ({})", in_list(values.len() + 1, o.len()));
            values.extend(o.iter().map(|o| o.to_string()));
        }
        if filter.held_only {
            sql += " AND outcome = 'held'";
        }
        sql += &format!(" ORDER BY id DESC LIMIT {}", filter.limit);
        self.read(|c| {
            let mut st = c.prepare(&sql).map_err(backend)?;
            let rows = st
                .query_map(rusqlite::params_from_iter(values.iter()), |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, String>(6)?,
                        r.get::<_, i64>(7)?,
                        r.get::<_, i64>(8)?,
                        r.get::<_, i64>(9)?,
                        r.get::<_, String>(10)?,
                    ))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, kind, reference, list_no, operator, office, outcome, v, p, at, d) =
                    row.map_err(backend)?;
                out.push(StoredPostal {
                    id,
                    kind,
                    reference,
                    list_no,
                    operator: operator
                        .map(|u| Uscc::parse(&u).map_err(|e| corrupt(format!("postal {id}: {e}"))))
                        .transpose()?,
                    office: OfficeCode::parse(&office)
                        .map_err(|e| corrupt(format!("postal {id}: {e}")))?,
                    outcome,
                    value_fen: Fen(v),
                    payable_fen: Fen(p),
                    decided_at: from_ms(at)?,
                    decision: serde_json::from_str(&d)
                        .map_err(|e| corrupt(format!("postal {id}: {e}")))?,
                });
            }
            Ok(out)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_changes_index_leaves_out_exactly_the_events_that_keep_reservations() {
        let listed: Vec<String> = keeps_reservations_sql!()
            .trim_matches(|ch| ch == '(' || ch == ')')
            .split(", ")
            .map(|s| s.trim_matches('\'').to_owned())
            .collect();
        assert_eq!(listed, KEEPS_RESERVATIONS.map(str::to_owned).to_vec());
    }

    #[test]
    fn the_filings_manifest_check_probes_the_changes_index() {
        let mut c = Connection::open_in_memory().unwrap();
        crate::migrate(&mut c).unwrap();
        let plan: Vec<String> = c
            .prepare(&format!("EXPLAIN QUERY PLAN {CHANGED_SINCE}"))
            .unwrap()
            .query_map(params!["M1", 5], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|d| d.contains("manifest_events_changes")),
            "{plan:?}"
        );
    }
}
