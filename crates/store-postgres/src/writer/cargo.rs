//! The writes of [`store::cargo::CargoStore`] on PostgreSQL, run by the one writer like every
//! other request: each in its own savepoint of the batch's transaction, with its audit records
//! in the same chain. A write touching a manifest and declarations (a filing matched to its
//! bill, a release writing a bill off, an exit confirmation) commits both in that one
//! savepoint. Same meaning and same audit records as the SQLite backend
//! (`store-sqlite/src/cargo.rs`).
//!
//! Manifest sequence numbers are taken as `max(seq) + 1` under the writers' advisory lock, not
//! from a PostgreSQL sequence, so that a rolled-back write leaves no gap (as on SQLite).

use cargo_control::{ManifestEvent, TransitNo, TransitState};
use store::audit::ChainHead;
use store::cargo::*;
use store::{AppendRequest, Appended, StoreError, SubmitRequest};

use super::{filed, Tx};
use crate::{backend, corrupt, ms};

macro_rules! json {
    ($v:expr) => {
        serde_json::to_string($v).map_err(corrupt)
    };
}

impl Tx<'_> {
    pub(super) async fn record_manifest(
        &self,
        head: &mut ChainHead,
        req: &ManifestWrite,
    ) -> Result<ManifestWritten, StoreError> {
        check_manifest_write(req)?;
        let mut last_seq = self.check_manifest_seq(req.expected_seq).await?;
        for e in &req.events {
            last_seq = self.insert_manifest_event(head, last_seq + 1, e).await?;
        }
        let mut declarations = Vec::with_capacity(req.declarations.len());
        for a in &req.declarations {
            declarations.push(self.append(head, a).await?);
        }
        self.insert_outbox_rows(&req.outbox).await?;
        Ok(ManifestWritten {
            last_seq,
            declarations,
        })
    }

    pub(super) async fn submit_matched(
        &self,
        head: &mut ChainHead,
        boxed: &store::writer::MatchedFiling,
    ) -> Result<SubmittedMatched, StoreError> {
        let (req, review, pending) = boxed;
        // Filings are normally written in runs (`Tx::filing_run`); this is the same
        // write for one.
        let mut last = 0;
        if let Some(m) = pending {
            let log = self.manifest_log_since(m.expected_seq).await?;
            log.admits(m)?;
            last = log.last;
        }
        let filed = filed(
            self.submit_many(head, &[(req, Some(review))], None)
                .await?
                .pop()
                .expect("one result per request")?,
        );
        let matched = match_written(req, pending.as_ref(), &filed, &mut last);
        if let Some(m) = &matched {
            self.insert_manifest_events(head, &[m]).await?;
        }
        Ok(SubmittedMatched { filed, matched })
    }

    pub(super) async fn record_transit(
        &self,
        head: &mut ChainHead,
        req: &TransitWrite,
    ) -> Result<StoredTransit, StoreError> {
        self.write_transit(head, req).await
    }

    pub(super) async fn record_postal(
        &self,
        head: &mut ChainHead,
        req: &PostalWrite,
    ) -> Result<Vec<i64>, StoreError> {
        let mut ids = Vec::with_capacity(req.records.len());
        for r in &req.records {
            let d = &r.decision;
            let id: i64 = self
                        .c
                        .query_one(
                            "INSERT INTO postal_items (kind, reference, list_no, operator, office, outcome, value_fen, payable_fen, decided_at, decision)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                            &[
                                &postal_kind_name(d),
                                &d.reference,
                                &r.list_no,
                                &r.operator.map(|u| u.to_string()),
                                &r.office.to_string(),
                                &postal_outcome_name(d),
                                &d.value_fen.0,
                                &d.payable_fen.0,
                                &ms(req.now),
                                &json!(d)?,
                            ],
                        )
                        .await
                        .map_err(backend)?
                        .get(0);
            self.audit(
                        head,
                        req.now,
                        &req.actor,
                        &format!("postal.{}", postal_kind_name(d)),
                        &d.reference,
                        serde_json::json!({"id": id, "outcome": postal_outcome_name(d), "value_fen": d.value_fen, "payable_fen": d.payable_fen}).to_string(),
                    )
                    .await?;
            ids.push(id);
        }
        Ok(ids)
    }

    /// The last sequence number of the manifest log, which must be `expected` or, past it,
    /// only match events: a caller reserves its matches in its ledger before writing them, so
    /// matches of filings in flight are already counted there (docs/CARGO.md "Wiring").
    async fn check_manifest_seq(&self, expected: u64) -> Result<u64, StoreError> {
        let last: i64 = self
            .c
            .query_one("SELECT coalesce(max(seq), 0) FROM manifest_events", &[])
            .await
            .map_err(backend)?
            .get(0);
        let last = last as u64;
        let others: i64 = if last > expected {
            // Matches written by this writer were reserved in this process's ledger before
            // the caller decided; another process's were not (docs/STORE.md "Several
            // processes").
            self.c
                .query_one(
                    "SELECT count(*) FROM manifest_events WHERE seq > $1 AND (type <> 'declaration_matched' OR writer <> $2)",
                    &[&(expected as i64), &self.writer],
                )
                .await
                .map_err(backend)?
                .get(0)
        } else {
            0
        };
        store::plan::manifest_seq(expected, last, others)
    }

    /// The manifest log past `from`: its last sequence number and the events that could change
    /// a match reserved before them (two queries, pipelined), to check several filings' matches
    /// at once.
    pub(super) async fn manifest_log_since(
        &self,
        from: u64,
    ) -> Result<ManifestLogTail, StoreError> {
        let from = from as i64;
        let keeps: Vec<&str> = KEEPS_RESERVATIONS.to_vec();
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&from, &keeps, &self.writer];
        let (last, others) = tokio::join!(
            biased;
            self.c.query_one("SELECT coalesce(max(seq), 0) FROM manifest_events", &[]),
            self.c.query(
                "SELECT seq, manifest_id FROM manifest_events WHERE seq > $1 AND (type <> ALL($2::text[]) OR writer <> $3)",
                &params,
            ),
        );
        let last: i64 = last.map_err(backend)?.get(0);
        Ok(ManifestLogTail {
            last: last as u64,
            others: others
                .map_err(backend)?
                .iter()
                .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)))
                .collect(),
        })
    }

    /// Match events numbered by [`match_written`], with their audit records, in two pipelined
    /// statements.
    pub(super) async fn insert_manifest_events(
        &self,
        head: &mut ChainHead,
        events: &[&StoredManifestEvent],
    ) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut seqs = Vec::with_capacity(events.len());
        let mut manifests = Vec::with_capacity(events.len());
        let mut types = Vec::with_capacity(events.len());
        let mut at = Vec::with_capacity(events.len());
        let mut bodies = Vec::with_capacity(events.len());
        let mut audit = super::AuditRows::default();
        for s in events {
            let e = &s.event;
            let manifest = manifest_of(e).to_string();
            audit.push(head.next(
                ms(e.at).timestamp_millis(),
                &e.actor.label(),
                &format!("manifest.{}", e.kind.name()),
                &manifest,
                manifest_audit_detail(e),
            ));
            seqs.push(s.seq as i64);
            manifests.push(manifest);
            types.push(e.kind.name());
            at.push(ms(e.at));
            bodies.push(json!(e)?);
        }
        let audit_params = audit.params();
        let event_params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&seqs, &manifests, &types, &at, &bodies, &self.writer];
        let (a, b) = tokio::join!(
            biased;
            self.c.execute(
                "INSERT INTO manifest_events (seq, manifest_id, type, at, body, writer)
                 SELECT *, $6::int8 FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $5::text[])",
                &event_params,
            ),
            self.c.execute(&self.st.insert_audit, &audit_params),
        );
        a.map_err(backend)?;
        b.map_err(backend)?;
        Ok(())
    }

    async fn insert_manifest_event(
        &self,
        head: &mut ChainHead,
        seq: u64,
        e: &ManifestEvent,
    ) -> Result<u64, StoreError> {
        let manifest = manifest_of(e).to_string();
        self.c
            .execute(
                "INSERT INTO manifest_events (seq, manifest_id, type, at, body, writer) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&(seq as i64), &manifest, &e.kind.name(), &ms(e.at), &json!(e)?, &self.writer],
            )
            .await
            .map_err(backend)?;
        self.audit(
            head,
            e.at,
            &e.actor.label(),
            &format!("manifest.{}", e.kind.name()),
            &manifest,
            manifest_audit_detail(e),
        )
        .await?;
        Ok(seq)
    }

    async fn write_transit(
        &self,
        head: &mut ChainHead,
        req: &TransitWrite,
    ) -> Result<StoredTransit, StoreError> {
        let no = req.transit_no.to_string();
        let current = self
            .c
            .query_opt(
                "SELECT version, state FROM transits WHERE transit_no = $1 FOR UPDATE",
                &[&no],
            )
            .await
            .map_err(backend)?;
        let on_record = match current {
            Some(r) => {
                let v: i64 = r.get(0);
                let s: &str = r.get(1);
                Some((v as u64, read_state(&no, s)?))
            }
            None => None,
        };
        let version = on_record.as_ref().map_or(0, |(v, _)| *v);
        let before = on_record.as_ref().map(|(_, s)| s.status);
        let mut written = store::plan::transit(req, on_record)?;
        written.updated_at = ms(written.updated_at);
        let (state, new_version, now) = (&written.state, written.version, written.updated_at);
        let decl = state
            .declaration
            .as_ref()
            .expect("the plan checked: a transit starts with its declaration");
        self.c
            .execute(
                "INSERT INTO transits (transit_no, declarant, entry_office, destination_office, status, version, updated_at, state)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (transit_no) DO UPDATE SET status = excluded.status, version = excluded.version, updated_at = excluded.updated_at, state = excluded.state",
                &[
                    &no,
                    &decl.declarant.to_string(),
                    &decl.entry_office.to_string(),
                    &decl.destination_office.to_string(),
                    &state.status.as_str(),
                    &(new_version as i64),
                    &now,
                    &json!(state)?,
                ],
            )
            .await
            .map_err(backend)?;
        for (i, e) in req.events.iter().enumerate() {
            self.c
                .execute(
                    "INSERT INTO transit_events (transit_no, seq, type, at, body) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &no,
                        &((version + i as u64 + 1) as i64),
                        &transit_event_name(e),
                        &ms(e.at),
                        &json!(e)?,
                    ],
                )
                .await
                .map_err(backend)?;
            self.audit(
                head,
                e.at,
                &e.actor.label(),
                &format!("transit.{}", transit_event_name(e)),
                &no,
                transit_audit_detail(e),
            )
            .await?;
        }
        // The guarantee ledger: a declared transit reserves, its clearance or cancellation
        // releases.
        self.settle_transit_guarantee(head, before, state, &req.events, now)
            .await?;
        Ok(written)
    }
}

impl Tx<'_> {
    /// Append events decided on the state at `expected_version` (`Store::append`, and the
    /// declarations' events of a manifest write, an examination or an outbox append).
    pub(super) async fn append(
        &self,
        head: &mut ChainHead,
        a: &AppendRequest,
    ) -> Result<Appended, StoreError> {
        let row = self.load_for_write(a.id).await?;
        store::plan::check_version(a.expected_version, row.version)?;
        let last = a.events.last().expect("checked: appends have events");
        self.write_events(
            head,
            a.id,
            row,
            &a.events,
            last.at,
            &last.actor.label(),
            "append",
        )
        .await
    }
}

pub(crate) fn read_state(no: &str, s: &str) -> Result<TransitState, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("transit {no}: {e}")))
}

/// Kept for symmetry with the reads: a transit number read back must parse.
pub(crate) fn read_transit_no(no: &str) -> Result<TransitNo, StoreError> {
    TransitNo::parse(no).map_err(|e| corrupt(format!("transit {no}: {e}")))
}

/// The manifest log past the earliest expected sequence of a run of filings.
pub(super) struct ManifestLogTail {
    pub last: u64,
    /// Sequence numbers and manifests of the events that could change a match
    /// ([`KEEPS_RESERVATIONS`] written by this writer are left out: its process's ledger held
    /// them when it reserved; another process's were unknown to it).
    pub others: Vec<(u64, String)>,
}

impl ManifestLogTail {
    /// A filing whose match was reserved on the ledger at `m.expected_seq` may write it unless
    /// an event since then on the same manifest could change it (docs/CARGO.md "Wiring").
    pub fn admits(&self, m: &PendingMatch) -> Result<(), StoreError> {
        let manifest = m.manifest_id.to_string();
        if self.last < m.expected_seq
            || self
                .others
                .iter()
                .any(|(s, id)| *s > m.expected_seq && *id == manifest)
        {
            return Err(StoreError::Conflict {
                expected: m.expected_seq,
                actual: self.last,
            });
        }
        Ok(())
    }
}

/// The match event of a filing just written, numbered after `last_seq`: only for a new,
/// accepted declaration with a pending match.
pub(super) fn match_written(
    req: &SubmitRequest,
    pending: Option<&PendingMatch>,
    filed: &store::Filed,
    last_seq: &mut u64,
) -> Option<StoredManifestEvent> {
    match (pending, filed.declaration_no, filed.replayed) {
        (Some(m), Some(no), false) => {
            *last_seq += 1;
            Some(StoredManifestEvent {
                seq: *last_seq,
                event: matched_event(m, no, req.now),
            })
        }
        _ => None,
    }
}
