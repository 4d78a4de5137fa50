//! The one writer: a thread that owns a current-thread tokio runtime and one connection.
//!
//! Callers send a [`Job`] (the request and a reply channel) through a bounded queue. The writer
//! takes the first waiting job and every other one already queued (at most `batch_max`), and
//! runs them in ONE transaction:
//!
//! - `BEGIN`, then an advisory lock keyed by the schema (so that a second process writing the
//!   same schema waits instead of forking the audit chain), then the chain head is read.
//! - Consecutive filings (`submit`, `submit_reviewed`) are written together
//!   ([`Tx::submit_many`]): one query finds the idempotency keys already used, one upsert per
//!   kind takes the serials of every (office, customs year, direction) at once, one query takes
//!   the ids, and each declaration row goes in once, already in its final state, with its
//!   events, audit records and payment notices, as pipelined multi-row
//!   `INSERT … SELECT FROM unnest(…)` statements. About five round trips per group, whatever
//!   its size. If the group cannot be written as a whole, it rolls back to its savepoint and
//!   each filing is retried alone in its own savepoint, so one bad request spoils no other and
//!   numbers stay gapless.
//! - Every other request runs alone inside its own savepoint, as on SQLite.
//! - `COMMIT` (with `synchronous_commit=on`: the WAL is flushed), and only then are the callers
//!   answered. If COMMIT fails, every request of the batch fails.
//!
//! No timer: while one batch commits, the next one gathers in the queue.

use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use clearance::{customs_year, Actor, DeclarationState, Event, EventKind};
use domain::codes::{Direction, EntryNumber, OfficeCode, PreEntryNo};
use store::audit::{AuditRecord, ChainHead};
use store::writer::{Answer, Reply, Request};
use store::*;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, Statement};

use crate::{backend, corrupt, ms, WriterStats};

pub(crate) mod accounts;
pub(crate) mod aeo;
pub(crate) mod attachments;
pub(crate) mod cargo;
pub(crate) mod drafts;
pub(crate) mod eport;
pub(crate) mod finance;
pub(crate) mod guarantee;
pub(crate) mod outbox;
pub(crate) mod parties;
pub(crate) mod registration;
pub(crate) mod risk;
pub(crate) mod versions;
pub(crate) mod webhooks;

/// Start the writer thread; returns once its connection is open and its statements prepared.
pub(crate) fn spawn(
    config: Config,
    tls: crate::tls::PgTls,
    batch_max: usize,
    queue: Receiver<Request>,
    stats: Arc<Mutex<WriterStats>>,
) -> Result<std::thread::JoinHandle<()>, StoreError> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), StoreError>>(1);
    let handle = std::thread::Builder::new()
        .name("jinguan-pg-writer".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(StoreError::Backend(Box::new(e))));
                    return;
                }
            };
            let mut writer = Writer {
                config,
                tls,
                conn: None,
                instance: 0,
            };
            match rt.block_on(writer.connection()) {
                Ok(_) => {
                    let _ = ready_tx.send(Ok(()));
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            }
            // Blocking between batches is fine: this runtime has nothing else to do then (the
            // connection task only matters while a statement is in flight).
            store::writer::run(queue, batch_max, &stats, |batch| {
                rt.block_on(writer.commit_batch(batch))
            });
        })
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(e)) => {
            let _ = handle.join();
            Err(e)
        }
        Err(_) => {
            let _ = handle.join();
            Err(StoreError::Closed)
        }
    }
}

struct Writer {
    config: Config,
    tls: crate::tls::PgTls,
    conn: Option<Conn>,
    /// This writer's number among all that ever wrote the database (`manifest_writers`),
    /// taken at its first connection and kept across reconnections: manifest events carry it,
    /// so that a filing's match tells its own process's matches (reserved in the same ledger)
    /// from another process's.
    instance: i64,
}

struct Conn {
    client: Client,
    st: Statements,
}

impl Writer {
    /// The open connection, reconnecting if there is none or it closed.
    async fn connection(&mut self) -> Result<&Conn, StoreError> {
        if self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
            self.conn = None;
        }
        if self.conn.is_none() {
            let client = crate::connect(&self.config, &self.tls).await?;
            // Durability is part of the design: whatever the server or role default, this
            // connection's commits wait for the WAL flush.
            // Plans: the store's connections plan every statement per execution
            // (`plan_cache_mode = force_custom_plan`, `crate::PostgresStore::open`); the
            // writer's own statements keep their cached plans (`auto`): re-planning its
            // batched multi-row statements at every execution is needless work (0.04–0.24 ms
            // a statement, docs/BENCHMARKS.md session 7). The one statement whose
            // plan depends on the table's size, the idempotency lookup, is parsed and planned
            // at each execution instead ([`LOOKUP_KEYS`]).
            client
                .batch_execute("SET synchronous_commit = on; SET plan_cache_mode = auto")
                .await
                .map_err(backend)?;
            let st = Statements::prepare(&client).await?;
            if self.instance == 0 {
                self.instance = client
                    .query_one("SELECT nextval('manifest_writers')", &[])
                    .await
                    .map_err(backend)?
                    .get(0);
            }
            self.conn = Some(Conn { client, st });
        }
        Ok(self.conn.as_ref().expect("connected above"))
    }

    /// The batch in one transaction; `Err(why)` when it could not commit as a whole.
    async fn commit_batch(&mut self, batch: &[Request]) -> Result<Vec<Answer>, String> {
        match self.try_commit(batch).await {
            Ok(answers) => Ok(answers),
            Err(e) => {
                tracing::warn!(code = e.code(), requests = batch.len(), error = %e, "PostgreSQL write batch failed");
                if let Some(conn) = &self.conn {
                    if conn.client.is_closed() {
                        self.conn = None;
                    } else {
                        let _ = conn.client.batch_execute("ROLLBACK").await;
                    }
                }
                Err(e.to_string())
            }
        }
    }

    async fn try_commit(&mut self, batch: &[Request]) -> Result<Vec<Answer>, StoreError> {
        let mut head = match begin(self.connection().await?).await {
            Ok(head) => head,
            Err(e) => {
                // An idle connection may have been closed by the server: nothing was written,
                // so try once more on a fresh one.
                if !self.conn.as_ref().is_some_and(|c| c.client.is_closed()) {
                    return Err(e);
                }
                self.conn = None;
                begin(self.connection().await?).await?
            }
        };
        let conn = self.conn.as_ref().expect("connected");
        let tx = Tx {
            c: &conn.client,
            st: &conn.st,
            writer: self.instance,
        };
        let mut answers = Vec::with_capacity(batch.len());
        let mut i = 0;
        while i < batch.len() {
            let run: Vec<RunJob<'_>> = batch[i..].iter().map_while(as_filing).collect();
            if run.is_empty() {
                answers.push(tx.single(&mut head, &batch[i]).await?);
                i += 1;
            } else {
                i += run.len();
                answers.extend(tx.filing_run(&mut head, &run).await?);
            }
        }
        tx.c.batch_execute("COMMIT").await.map_err(backend)?;
        Ok(answers)
    }
}

/// `BEGIN`, the writers' lock, and the chain head, pipelined.
async fn begin(conn: &Conn) -> Result<ChainHead, StoreError> {
    let (b, l, h) = tokio::join!(
            biased;
        conn.client.batch_execute("BEGIN"),
        conn.client.execute(&conn.st.writer_lock, &[]),
        conn.client.query_opt(&conn.st.chain_head, &[]),
    );
    b.map_err(backend)?;
    l.map_err(backend)?;
    match h.map_err(backend)? {
        None => Ok(ChainHead::EMPTY),
        Some(row) => {
            let id: i64 = row.get(0);
            let hash: Vec<u8> = row.get(1);
            Ok(ChainHead {
                last_id: id,
                last_hash: hash
                    .try_into()
                    .map_err(|_| corrupt(format!("audit record {id}: hash is not 32 bytes")))?,
            })
        }
    }
}

/// The statements of the writer, prepared once per connection.
struct Statements {
    writer_lock: Statement,
    chain_head: Statement,
    take_serials: Statement,
    next_ids: Statement,
    insert_declarations: Statement,
    insert_events: Statement,
    insert_audit: Statement,
    load_for_write: Statement,
    update_declaration: Statement,
    insert_notices: Statement,
    insert_new_notices: Statement,
    pay_notice: Statement,
    put_office: Statement,
    insert_user: Statement,
    insert_session: Statement,
    revoke_session: Statement,
    revoke_sessions_of: Statement,
    insert_feedback: Statement,
    /// The daily aggregates' upserts of a group of new rows (`crate::daily::write_delta`).
    daily: crate::daily::Upserts,
}

impl Statements {
    async fn prepare(c: &Client) -> Result<Statements, StoreError> {
        let p = |sql: &'static str| async move { c.prepare(sql).await.map_err(backend) };
        Ok(Statements {
            writer_lock: p("SELECT pg_advisory_xact_lock(hashtext('jinguan-writer:' || coalesce(current_schema(), '')))").await?,
            chain_head: p("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").await?,
            take_serials: p(
                "INSERT INTO serials (kind, office, year, direction, last)
                 SELECT $1::text, o, y, d, n FROM unnest($2::text[], $3::int4[], $4::text[], $5::int8[]) AS t (o, y, d, n)
                 ON CONFLICT (kind, office, year, direction) DO UPDATE SET last = serials.last + excluded.last
                 RETURNING office, year, direction, last",
            )
            .await?,
            next_ids: p("SELECT nextval('declarations_id_seq') FROM generate_series(1, $1::int4)").await?,
            insert_declarations: p(
                "INSERT INTO declarations (id, pre_entry_no, declarant, client_seq_no, direction, declaration_office, status, submitted_at, updated_at, version, state, body, lane, declaration_no, buyer, purchase_fen, goods_value_fen)
                 SELECT id, pre, decl, seq, dir, office, status, at, at, version, state::jsonb, body::json, lane, dno, buyer, purchase, goods
                 FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::timestamptz[], $9::int8[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::int8[], $16::int8[])
                   AS t (id, pre, decl, seq, dir, office, status, at, version, state, body, lane, dno, buyer, purchase, goods)",
            )
            .await?,
            insert_events: p(
                "INSERT INTO events (declaration_id, seq, type, at, body)
                 SELECT id, seq, type, at, body::json
                 FROM unnest($1::int8[], $2::int8[], $3::text[], $4::timestamptz[], $5::text[]) AS t (id, seq, type, at, body)",
            )
            .await?,
            insert_audit: p(
                "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash)
                 SELECT * FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])",
            )
            .await?,
            load_for_write: p("SELECT version, state::text FROM declarations WHERE id = $1 FOR UPDATE").await?,
            update_declaration: p(
                "UPDATE declarations SET status = $2, lane = $3, declaration_no = $4, updated_at = $5, version = $6, state = $7::text::jsonb
                 WHERE id = $1 AND version = $8",
            )
            .await?,
            insert_notices: p(
                "INSERT INTO payment_notices (notice_no, declaration_id, tax, amount_fen, issued_at)
                 SELECT n, $1::int8, t, a, $5::timestamptz FROM unnest($2::text[], $3::text[], $4::int8[]) AS u (n, t, a)
                 ON CONFLICT (notice_no) DO NOTHING
                 RETURNING notice_no",
            )
            .await?,
            insert_new_notices: p(
                "INSERT INTO payment_notices (notice_no, declaration_id, tax, amount_fen, issued_at)
                 SELECT * FROM unnest($1::text[], $2::int8[], $3::text[], $4::int8[], $5::timestamptz[])
                 ON CONFLICT (notice_no) DO NOTHING",
            )
            .await?,
            pay_notice: p("UPDATE payment_notices SET paid_at = $3 WHERE notice_no = $1 AND declaration_id = $2").await?,
            put_office: p(
                "INSERT INTO offices (code, name, parent) VALUES ($1, $2, $3)
                 ON CONFLICT (code) DO UPDATE SET name = excluded.name, parent = excluded.parent",
            )
            .await?,
            insert_user: p(
                "INSERT INTO users (login, role, office, uscc, duties, agency, password_hash) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (login) DO NOTHING RETURNING id",
            )
            .await?,
            insert_session: p(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (token_hash) DO NOTHING",
            )
            .await?,
            revoke_session: p(
                "UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL RETURNING user_id",
            )
            .await?,
            revoke_sessions_of: p("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL").await?,
            insert_feedback: p(risk::INSERT_FEEDBACK).await?,
            daily: crate::daily::Upserts::prepare(c).await?,
        })
    }
}

/// The idempotency keys already used, of a group: one index probe per key. As a join (which a
/// simple LATERAL subquery is pulled up into) the planner, which cannot see how many keys
/// come, hashes the keys and scans the whole table; `OFFSET 0` keeps the subquery, and so the
/// probe. Run with `query_typed` (planned at each execution).
const LOOKUP_KEYS: &str = "SELECT d.declarant, d.client_seq_no, d.id, d.pre_entry_no, d.version, d.body::text, d.state::text
     FROM unnest($1::text[], $2::text[]) AS k (declarant, client_seq_no)
     CROSS JOIN LATERAL (
       SELECT * FROM declarations x
       WHERE x.declarant = k.declarant AND x.client_seq_no = k.client_seq_no
       OFFSET 0
     ) d";

/// The result of one submission (with its review, if any).
struct SubmitOutcome {
    /// `version` is the row's current version.
    submitted: Submitted,
    /// The row's current state.
    state: DeclarationState,
}

/// One filing of a group: the submission, and the automatic review to record with it.
type Filing<'a> = (&'a SubmitRequest, Option<&'a AutomaticReview>);

/// A serial counter: (office, customs year, direction).
type SerialKey = (OfficeCode, u16, Direction);
/// How many numbers to take from a counter.
type SerialCount = (SerialKey, i64);

fn count_serial(counts: &mut Vec<SerialCount>, key: SerialKey) {
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => counts.push((key, 1)),
    }
}

/// From the last number taken of each counter, the first of the group's.
fn first_serials(
    kind: &str,
    counts: &[SerialCount],
    last: Vec<i64>,
    first: &mut HashMap<SerialKey, u32>,
) -> Result<(), StoreError> {
    for ((k, n), last) in counts.iter().zip(last) {
        let start = last - n + 1;
        if last > i64::from(EntryNumber::SERIAL_MAX) || start < 1 {
            return Err(StoreError::SerialExhausted(format!(
                "{kind} {} {} {}",
                k.0, k.1, k.2
            )));
        }
        first.insert(*k, start as u32);
    }
    Ok(())
}

/// What [`Tx::submit_many`] decided for one request before writing.
enum Plan {
    Done(Box<Result<SubmitOutcome, StoreError>>),
    /// A retry of request `j` of the same group.
    ReplayOf(usize),
    /// The key of request `j` of the same group with another body.
    MismatchOf(usize),
    New,
}

/// Rows of a new declaration, written by [`Tx::submit_many`].
struct NewRow {
    id: i64,
    pre_entry_no: PreEntryNo,
    state: DeclarationState,
    version: u64,
}

/// Declaration rows to insert together.
#[derive(Default)]
struct DeclarationRows<'a> {
    ids: Vec<i64>,
    pre: Vec<String>,
    declarants: Vec<&'a str>,
    seqs: Vec<&'a str>,
    directions: Vec<String>,
    offices: Vec<String>,
    statuses: Vec<&'static str>,
    at: Vec<DateTime<Utc>>,
    versions: Vec<i64>,
    states: Vec<String>,
    bodies: Vec<&'a str>,
    lanes: Vec<Option<&'static str>>,
    numbers: Vec<Option<String>>,
    buyers: Vec<Option<&'a str>>,
    purchases: Vec<Option<i64>>,
    goods: Vec<Option<i64>>,
}

impl<'a> DeclarationRows<'a> {
    fn push(
        &mut self,
        id: i64,
        pre_entry_no: PreEntryNo,
        declarant: &'a str,
        r: &'a SubmitRequest,
        state: &DeclarationState,
        version: u64,
    ) {
        self.ids.push(id);
        self.pre.push(pre_entry_no.to_string());
        self.declarants.push(declarant);
        self.seqs.push(&r.client_seq_no);
        self.directions.push(r.direction.to_string());
        self.offices.push(r.declaration_office.to_string());
        self.statuses.push(state.status.as_str());
        self.at.push(ms(r.now));
        self.versions.push(version as i64);
        self.states
            .push(serde_json::to_string(state).expect("state serializes"));
        self.bodies.push(&r.body_json);
        self.lanes.push(state.lane.map(|l| l.as_str()));
        self.numbers
            .push(state.declaration_no.map(|n| n.to_string()));
        self.buyers
            .push(r.purchase.as_ref().map(|p| p.buyer.as_str()));
        self.purchases
            .push(r.purchase.as_ref().map(|p| p.value_fen.0));
        self.goods.push(r.goods_value_fen.map(|v| v.0));
    }
    fn params(&self) -> [&(dyn ToSql + Sync); 16] {
        [
            &self.ids,
            &self.pre,
            &self.declarants,
            &self.seqs,
            &self.directions,
            &self.offices,
            &self.statuses,
            &self.at,
            &self.versions,
            &self.states,
            &self.bodies,
            &self.lanes,
            &self.numbers,
            &self.buyers,
            &self.purchases,
            &self.goods,
        ]
    }
}

/// Payment notice rows of new declarations, inserted together.
#[derive(Default)]
struct NoticeRows {
    numbers: Vec<String>,
    ids: Vec<i64>,
    taxes: Vec<&'static str>,
    amounts: Vec<i64>,
    at: Vec<DateTime<Utc>>,
}

impl NoticeRows {
    fn push(&mut self, id: i64, n: &clearance::PaymentNotice, at: DateTime<Utc>) {
        self.numbers.push(n.notice_no.clone());
        self.ids.push(id);
        self.taxes.push(n.tax.as_str());
        self.amounts.push(n.amount_fen.0);
        self.at.push(ms(at));
    }
    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.numbers,
            &self.ids,
            &self.taxes,
            &self.amounts,
            &self.at,
        ]
    }
}

/// Audit records to insert together.
#[derive(Default)]
struct AuditRows {
    ids: Vec<i64>,
    at_ms: Vec<i64>,
    actors: Vec<String>,
    actions: Vec<String>,
    subjects: Vec<String>,
    details: Vec<String>,
    prev: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
}

impl AuditRows {
    fn push(&mut self, rec: AuditRecord) {
        self.ids.push(rec.id);
        self.at_ms.push(rec.at_ms);
        self.actors.push(rec.actor);
        self.actions.push(rec.action);
        self.subjects.push(rec.subject);
        self.details.push(rec.detail);
        self.prev.push(rec.prev_hash.to_vec());
        self.hashes.push(rec.hash.to_vec());
    }
    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.ids,
            &self.at_ms,
            &self.actors,
            &self.actions,
            &self.subjects,
            &self.details,
            &self.prev,
            &self.hashes,
        ]
    }
}

/// Event rows to insert together.
#[derive(Default)]
struct EventRows {
    ids: Vec<i64>,
    seqs: Vec<i64>,
    types: Vec<&'static str>,
    at: Vec<DateTime<Utc>>,
    bodies: Vec<String>,
}

impl EventRows {
    fn push(&mut self, id: i64, from_version: u64, events: &[Event]) {
        for (i, e) in events.iter().enumerate() {
            self.ids.push(id);
            self.seqs.push((from_version + 1 + i as u64) as i64);
            self.types.push(e.kind.name());
            self.at.push(ms(e.at));
            self.bodies
                .push(serde_json::to_string(e).expect("event serializes"));
        }
    }
    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [&self.ids, &self.seqs, &self.types, &self.at, &self.bodies]
    }
}

struct RowForWrite {
    version: u64,
    state: DeclarationState,
}

/// The writer's open transaction.
struct Tx<'a> {
    c: &'a Client,
    st: &'a Statements,
    /// [`Writer::instance`].
    writer: i64,
}

impl Tx<'_> {
    /// One request inside its own savepoint: a failure undoes it alone. `Err` only when the
    /// transaction itself is lost.
    async fn single(&self, head: &mut ChainHead, req: &Request) -> Result<Answer, StoreError> {
        self.c
            .batch_execute("SAVEPOINT op")
            .await
            .map_err(backend)?;
        let at_start = *head;
        let answer = self.execute(head, req).await;
        if answer.is_err() {
            *head = at_start;
            self.c
                .batch_execute("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
                .await
                .map_err(backend)?;
        } else {
            self.c
                .batch_execute("RELEASE SAVEPOINT op")
                .await
                .map_err(backend)?;
        }
        Ok(answer)
    }

    /// A run of consecutive filings, written as one group ([`Tx::submit_group`]). Before it,
    /// with one or two pipelined queries each for the whole run: the E-Port filings' registry
    /// check (their refusals turn the review into a rejection, as alone), and the bill matches'
    /// check against the manifest log (a refused check refuses that filing alone). After it,
    /// the match events, numbered in order, with their audit records.
    async fn filing_run(
        &self,
        head: &mut ChainHead,
        jobs: &[RunJob<'_>],
    ) -> Result<Vec<Answer>, StoreError> {
        let traders: Vec<domain::codes::Uscc> = jobs
            .iter()
            .filter_map(|j| match j {
                RunJob::Eport(b, _) => Some(b.2.trader),
                _ => None,
            })
            .collect();
        let registry = if traders.is_empty() {
            None
        } else {
            Some(self.registry_for(&traders).await?)
        };
        let reviews: Vec<Option<AutomaticReview>> = jobs
            .iter()
            .map(|j| match (j, &registry) {
                (RunJob::Eport(b, _), Some((enforced, entries))) => {
                    let (_, review, check, _) = &**b;
                    let entry = entries.iter().find(|e| e.uscc == check.trader);
                    // No licence numbers in a run (`eport::joins_run`): nothing to claim.
                    let (review, _) =
                        store::eport::checked_review(review, check, entry, *enforced, |_| None);
                    Some(review)
                }
                _ => None,
            })
            .collect();

        let mut answers: Vec<Option<Answer>> = jobs.iter().map(|_| None).collect();
        let mut last_seq = 0;
        if let Some(from) = jobs
            .iter()
            .filter_map(RunJob::pending)
            .map(|m| m.expected_seq)
            .min()
        {
            let log = self.manifest_log_since(from).await?;
            for (k, j) in jobs.iter().enumerate() {
                if let Some(m) = j.pending() {
                    if let Err(e) = log.admits(m) {
                        answers[k] = Some(j.refuse(e));
                    }
                }
            }
            last_seq = log.last;
        }
        // Every declarant's registration in force, as it stands in this transaction (one
        // query for the run): a cancellation that committed first refuses that filing alone.
        let filers: Vec<domain::codes::Uscc> = jobs.iter().map(|j| j.request().declarant).collect();
        let regs = self.newest_registrations(&filers).await?;
        for (k, j) in jobs.iter().enumerate() {
            if answers[k].is_none() {
                if let Err(e) = Self::registrations_admit(j.request(), &regs) {
                    answers[k] = Some(j.refuse(e));
                }
            }
        }
        let to_write: Vec<usize> = (0..jobs.len()).filter(|&k| answers[k].is_none()).collect();
        let filings: Vec<Filing<'_>> = to_write
            .iter()
            .map(|&k| match &jobs[k] {
                RunJob::Submit(r, _) => (*r, None),
                RunJob::Reviewed(r, review, _) => (*r, Some(*review)),
                RunJob::Matched(b, _) => (&b.0, Some(&b.1)),
                RunJob::Eport(b, _) => (&b.0, reviews[k].as_ref()),
            })
            .collect();
        let outcomes = self.submit_group(head, &filings).await?;
        let mut matches: Vec<store::cargo::StoredManifestEvent> = Vec::new();
        for (&k, outcome) in to_write.iter().zip(outcomes) {
            let job = &jobs[k];
            let mut matched = |o: SubmitOutcome, req: &SubmitRequest| {
                let filed = filed(o);
                let matched = cargo::match_written(req, job.pending(), &filed, &mut last_seq);
                matches.extend(matched.iter().cloned());
                store::cargo::SubmittedMatched { filed, matched }
            };
            answers[k] = Some(match job {
                RunJob::Submit(_, reply) => Answer::new(reply, outcome.map(|o| o.submitted)),
                RunJob::Reviewed(_, _, reply) => Answer::new(reply, outcome.map(filed)),
                RunJob::Matched(b, reply) => Answer::new(reply, outcome.map(|o| matched(o, &b.0))),
                RunJob::Eport(b, reply) => Answer::new(reply, outcome.map(|o| matched(o, &b.0))),
            });
        }
        let matches: Vec<&store::cargo::StoredManifestEvent> = matches.iter().collect();
        self.insert_manifest_events(head, &matches).await?;
        Ok(answers
            .into_iter()
            .map(|a| a.expect("every filing of the run answered"))
            .collect())
    }

    /// Consecutive submissions: together when they can, else one by one.
    async fn submit_group(
        &self,
        head: &mut ChainHead,
        reqs: &[Filing<'_>],
    ) -> Result<Vec<Result<SubmitOutcome, StoreError>>, StoreError> {
        if reqs.len() > 1 {
            let at_start = *head;
            match self.submit_many(head, reqs, Some("grp")).await {
                Ok(results) => return Ok(results),
                Err(e) => {
                    *head = at_start;
                    self.c
                        .batch_execute("ROLLBACK TO SAVEPOINT grp; RELEASE SAVEPOINT grp")
                        .await
                        .map_err(backend)?;
                    tracing::debug!(
                        code = e.code(),
                        requests = reqs.len(),
                        "group of submissions failed; retrying one by one"
                    );
                }
            }
        }
        let mut out = Vec::with_capacity(reqs.len());
        for req in reqs {
            let at_start = *head;
            out.push(match self.submit_many(head, &[*req], Some("op")).await {
                Ok(mut v) => v.pop().expect("one result per request"),
                Err(e) => {
                    *head = at_start;
                    self.c
                        .batch_execute("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
                        .await
                        .map_err(backend)?;
                    Err(e)
                }
            });
        }
        Ok(out)
    }

    /// Write a group of filings with a fixed number of statements: each new declaration is
    /// inserted once, already in its final state (after its automatic review, if any). The
    /// outer `Err` means the group could not be written as a whole (a statement failed, a
    /// counter ran out, the lifecycle refused a review step); the inner results are each
    /// request's answer (replays, mismatches and refusals of the submission write nothing).
    ///
    /// With `savepoint`, the group runs inside a savepoint of that name, opened and released
    /// in the same round trips as the group's first and last statements: on `Ok` it is
    /// released, on `Err` the caller rolls back to it.
    async fn submit_many(
        &self,
        head: &mut ChainHead,
        filings: &[Filing<'_>],
        savepoint: Option<&str>,
    ) -> Result<Vec<Result<SubmitOutcome, StoreError>>, StoreError> {
        let reqs: Vec<&SubmitRequest> = filings.iter().map(|(r, _)| *r).collect();
        let declarants: Vec<String> = reqs.iter().map(|r| r.declarant.to_string()).collect();
        let seqs: Vec<&str> = reqs.iter().map(|r| r.client_seq_no.as_str()).collect();
        let open = savepoint.map(|name| format!("SAVEPOINT {name}"));
        let release = savepoint.map(|name| format!("RELEASE SAVEPOINT {name}"));

        // Idempotency keys already used (pipelined after the savepoint).
        let lookup_params: [(&(dyn ToSql + Sync), Type); 2] =
            [(&declarants, Type::TEXT_ARRAY), (&seqs, Type::TEXT_ARRAY)];
        let (opened, rows) = tokio::join!(
            biased;
            async {
                match &open {
                    Some(sql) => self.c.batch_execute(sql).await,
                    None => Ok(()),
                }
            },
            // An unnamed statement, planned for the table as it is now (a plan prepared at
            // start, on empty tables, would walk a declarant's rows: `tests/postgres_plans.rs`).
            self.c.query_typed(LOOKUP_KEYS, &lookup_params),
        );
        opened.map_err(backend)?;
        let rows = rows.map_err(backend)?;
        type Existing = (i64, String, i64, String, String);
        let mut existing: HashMap<(String, String), Existing> = HashMap::new();
        for r in rows {
            existing.insert(
                (r.get(0), r.get(1)),
                (r.get(2), r.get(3), r.get(4), r.get(5), r.get(6)),
            );
        }

        // Decide what each request is, in order. Refusals take no number: the lifecycle is
        // asked first with a provisional number (its decision does not depend on the serial).
        let mut plans: Vec<Plan> = Vec::with_capacity(reqs.len());
        let mut first_new: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, r) in reqs.iter().enumerate() {
            let key = (declarants[i].as_str(), r.client_seq_no.as_str());
            if let Some((id, pre, version, body, state)) =
                existing.get(&(declarants[i].clone(), r.client_seq_no.clone()))
            {
                let first = store::plan::OnRecord {
                    id: DeclarationId(*id),
                    pre_entry_no: PreEntryNo::parse(pre).map_err(corrupt)?,
                    version: *version as u64,
                    body_json: body,
                };
                let outcome = match store::plan::replay(r, first) {
                    Ok(submitted) => Ok(SubmitOutcome {
                        submitted,
                        state: serde_json::from_str(state)
                            .map_err(|e| corrupt(format!("state of declaration {id}: {e}")))?,
                    }),
                    Err(e) => Err(e),
                };
                plans.push(Plan::Done(Box::new(outcome)));
                continue;
            }
            if let Some(&j) = first_new.get(&key) {
                plans.push(if reqs[j].body_json == r.body_json {
                    Plan::ReplayOf(j)
                } else {
                    Plan::MismatchOf(j)
                });
                continue;
            }
            let year = customs_year(r.now);
            let checked = store::plan::pre_entry_no(r.declaration_office, year, r.direction, 1)
                .and_then(|provisional| store::plan::submission(r, provisional));
            if let Err(e) = checked {
                plans.push(Plan::Done(Box::new(Err(e))));
                continue;
            }
            first_new.insert(key, i);
            plans.push(Plan::New);
        }

        // Serials: one upsert per kind for every (office, customs year, direction) of the
        // group, and the ids, all pipelined.
        let serial_key =
            |r: &SubmitRequest| (r.declaration_office, customs_year(r.now), r.direction);
        let mut counts: Vec<SerialCount> = Vec::new();
        let mut accept_counts: Vec<SerialCount> = Vec::new();
        for ((r, review), p) in filings.iter().zip(&plans) {
            if matches!(p, Plan::New) {
                count_serial(&mut counts, serial_key(r));
                if review.is_some_and(store::plan::review_takes_number) {
                    count_serial(&mut accept_counts, serial_key(r));
                }
            }
        }
        let new_count: i64 = counts.iter().map(|(_, n)| n).sum();
        let mut next_pre: HashMap<SerialKey, u32> = HashMap::new();
        let mut next_declaration: HashMap<SerialKey, u32> = HashMap::new();
        let mut ids: Vec<i64> = Vec::new();
        if new_count > 0 {
            let new_count_i32 = new_count as i32;
            let id_params: [&(dyn ToSql + Sync); 1] = [&new_count_i32];
            let (pre_taken, declaration_taken, id_rows) = tokio::join!(
                biased;
                self.take_serials("pre_entry", &counts),
                async {
                    if accept_counts.is_empty() {
                        Ok(Vec::new())
                    } else {
                        self.take_serials("declaration", &accept_counts).await
                    }
                },
                self.c.query(&self.st.next_ids, &id_params),
            );
            first_serials("pre-entry", &counts, pre_taken?, &mut next_pre)?;
            first_serials(
                "declaration",
                &accept_counts,
                declaration_taken?,
                &mut next_declaration,
            )?;
            ids = id_rows
                .map_err(backend)?
                .iter()
                .map(|r| r.get::<_, i64>(0))
                .collect();
            ids.sort_unstable();
            assert_eq!(ids.len() as i64, new_count, "one id per new declaration");
        }

        // The rows, in request order.
        let mut new_rows: HashMap<usize, NewRow> = HashMap::new();
        let mut decl = DeclarationRows::default();
        let mut events = EventRows::default();
        let mut notices = NoticeRows::default();
        let mut audit = AuditRows::default();
        let mut feedback = risk::FeedbackRows::default();
        let mut daily = store::daily::Delta::default();
        let mut next_id = ids.into_iter();
        for (i, ((r, review), p)) in filings.iter().zip(&plans).enumerate() {
            if !matches!(p, Plan::New) {
                continue;
            }
            let k = serial_key(r);
            let serial = next_pre.get_mut(&k).expect("serial taken for the key");
            let pre_entry_no = store::plan::pre_entry_no(k.0, k.1, k.2, *serial)?;
            *serial += 1;
            // A number for an accepting review only (counted above).
            let declaration_no = match review {
                Some(review) if store::plan::review_takes_number(review) => {
                    let serial = next_declaration
                        .get_mut(&k)
                        .expect("declaration serial taken for the key");
                    let n = store::plan::declaration_no(k.0, k.1, k.2, *serial)?;
                    *serial += 1;
                    Some(n)
                }
                _ => None,
            };
            let plan = store::plan::filing(r, pre_entry_no, *review, declaration_no)?;
            let id = next_id.next().expect("an id per new declaration");
            let subject = format!("declaration:{id}");
            let at_ms = ms(r.now).timestamp_millis();
            audit.push(head.next(
                at_ms,
                &r.actor.label(),
                "submit",
                &subject,
                plan.submit_detail,
            ));
            if let Some(detail) = plan.review_detail {
                audit.push(head.next(
                    at_ms,
                    "system:automatic_review",
                    "automatic_review",
                    &subject,
                    detail,
                ));
            }
            // The decision's feedback row, with its audit record after the review's.
            if let Some(f) = &plan.feedback {
                feedback.push(&mut audit, head, f, r.now)?;
            }
            for e in &plan.events[plan.submitted_version as usize..] {
                if let EventKind::Assessed { notices: assessed } = &e.kind {
                    for n in assessed {
                        notices.push(id, n, e.at);
                    }
                }
            }
            let (state, version, evs) = (plan.state, plan.version, plan.events);
            daily.add_row(r.declaration_office, ms(r.now), &state, &r.body_json, 1);
            decl.push(id, pre_entry_no, &declarants[i], r, &state, version);
            events.push(id, 0, &evs);
            new_rows.insert(
                i,
                NewRow {
                    id,
                    pre_entry_no,
                    state,
                    version,
                },
            );
        }
        if new_rows.is_empty() {
            if let Some(sql) = &release {
                self.c.batch_execute(sql).await.map_err(backend)?;
            }
        } else {
            let (decl_params, event_params, audit_params, notice_params) = (
                decl.params(),
                events.params(),
                audit.params(),
                notices.params(),
            );
            // Pipelined: sent together, answered in order. If one fails, the ones after it
            // (the release too) fail with it, and the savepoint is still there to roll back to.
            let feedback_params = feedback.params();
            let (a, b, c, n, f, d, r) = tokio::join!(
                biased;
                self.c.execute(&self.st.insert_declarations, &decl_params),
                self.c.execute(&self.st.insert_events, &event_params),
                self.c.execute(&self.st.insert_audit, &audit_params),
                async {
                    if notices.numbers.is_empty() {
                        Ok(0)
                    } else {
                        self.c.execute(&self.st.insert_new_notices, &notice_params).await
                    }
                },
                async {
                    if feedback.is_empty() {
                        Ok(0)
                    } else {
                        self.c.execute(&self.st.insert_feedback, &feedback_params).await
                    }
                },
                // The group's new rows in the daily aggregates, one row per distinct key.
                crate::daily::write_delta(self.c, &self.st.daily, &daily),
                async {
                    match &release {
                        Some(sql) => self.c.batch_execute(sql).await,
                        None => Ok(()),
                    }
                },
            );
            a.map_err(backend)?;
            b.map_err(backend)?;
            c.map_err(backend)?;
            if n.map_err(backend)? != notices.numbers.len() as u64 {
                // Numbers are `<declaration no>-<tax>`: only a broken counter repeats one.
                return Err(StoreError::Duplicate("payment notice number".into()));
            }
            f.map_err(backend)?;
            d.map_err(backend)?;
            r.map_err(backend)?;
        }

        // The answers.
        let outcome_of = |j: usize, replayed: bool| {
            let row = &new_rows[&j];
            SubmitOutcome {
                submitted: Submitted {
                    id: DeclarationId(row.id),
                    pre_entry_no: row.pre_entry_no,
                    version: row.version,
                    replayed,
                },
                state: row.state.clone(),
            }
        };
        let mut out = Vec::with_capacity(reqs.len());
        for (i, p) in plans.into_iter().enumerate() {
            out.push(match p {
                Plan::Done(result) => *result,
                Plan::New => Ok(outcome_of(i, false)),
                Plan::ReplayOf(j) => Ok(outcome_of(j, true)),
                Plan::MismatchOf(j) => Err(StoreError::IdempotencyMismatch {
                    client_seq_no: reqs[i].client_seq_no.clone(),
                    pre_entry_no: new_rows[&j].pre_entry_no,
                }),
            });
        }
        Ok(out)
    }

    /// Take `n` numbers from each counter; returns the last number taken of each, in order.
    async fn take_serials(
        &self,
        kind: &str,
        counts: &[((OfficeCode, u16, Direction), i64)],
    ) -> Result<Vec<i64>, StoreError> {
        let offices: Vec<String> = counts.iter().map(|((o, _, _), _)| o.to_string()).collect();
        let years: Vec<i32> = counts.iter().map(|((_, y, _), _)| i32::from(*y)).collect();
        let dirs: Vec<String> = counts.iter().map(|((_, _, d), _)| d.to_string()).collect();
        let ns: Vec<i64> = counts.iter().map(|(_, n)| *n).collect();
        let rows = self
            .c
            .query(
                &self.st.take_serials,
                &[&kind, &offices, &years, &dirs, &ns],
            )
            .await
            .map_err(backend)?;
        let mut last: HashMap<(String, i32, String), i64> = HashMap::new();
        for r in rows {
            last.insert((r.get(0), r.get(1), r.get(2)), r.get(3));
        }
        (0..counts.len())
            .map(|i| {
                last.get(&(offices[i].clone(), years[i], dirs[i].clone()))
                    .copied()
                    .ok_or_else(|| corrupt("serial counter not returned"))
            })
            .collect()
    }

    async fn next_serial(
        &self,
        kind: &str,
        office: OfficeCode,
        year: u16,
        direction: Direction,
    ) -> Result<u32, StoreError> {
        let last = self
            .take_serials(kind, &[((office, year, direction), 1)])
            .await?[0];
        store::plan::serial(kind, office, year, direction, last)
    }

    async fn audit(
        &self,
        head: &mut ChainHead,
        now: DateTime<Utc>,
        actor: &str,
        action: &str,
        subject: &str,
        detail: String,
    ) -> Result<(), StoreError> {
        let mut rows = AuditRows::default();
        rows.push(head.next(ms(now).timestamp_millis(), actor, action, subject, detail));
        self.c
            .execute(&self.st.insert_audit, &rows.params())
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// One request, answered on its own channel (in its savepoint: [`Tx::single`]).
    async fn execute(&self, head: &mut ChainHead, req: &Request) -> Answer {
        match req {
            // A broker's filing comes here alone (`as_filing`): its power of attorney is
            // checked before and counted after, in this savepoint.
            Request::Submit(r, reply) => {
                let result = async {
                    self.admit_agent(r).await?;
                    let o = one(self.submit_many(head, &[(r, None)], None).await)?;
                    let s = &o.submitted;
                    self.record_agent_filing(head, r, s.id, o.state.status, s.replayed)
                        .await?;
                    Ok(o.submitted)
                }
                .await;
                Answer::new(reply, result)
            }
            Request::SubmitReviewed((r, review), reply) => {
                let result = async {
                    self.admit_agent(r).await?;
                    let f = filed(one(self
                        .submit_many(head, &[(r, Some(review))], None)
                        .await)?);
                    self.record_agent_filing(head, r, f.id, f.status, f.replayed)
                        .await?;
                    Ok(f)
                }
                .await;
                Answer::new(reply, result)
            }
            Request::Accept(r, reply) => Answer::new(reply, self.accept(head, r).await),
            Request::Append(r, reply) => Answer::new(reply, self.append(head, r).await),
            Request::PutOffice(x, reply) => Answer::new(reply, self.put_office(head, x).await),
            Request::PutUser(x, reply) => Answer::new(reply, self.put_user(head, x).await),
            Request::CreateAccount(x, reply) => {
                Answer::new(reply, self.create_account(head, x).await)
            }
            Request::CreateSession(x, reply) => {
                Answer::new(reply, self.create_session(head, x).await)
            }
            Request::RevokeSession(x, reply) => {
                Answer::new(reply, self.revoke_session(head, x).await)
            }
            Request::RevokeSessionsOf(x, reply) => {
                Answer::new(reply, self.revoke_sessions_of(head, x).await)
            }
            Request::SetPassword(x, reply) => Answer::new(reply, self.set_password(head, x).await),
            Request::SetAccountEnabled(x, reply) => {
                Answer::new(reply, self.set_account_enabled(head, x).await)
            }
            Request::RecordSecurityEvent(x, reply) => {
                Answer::new(reply, self.record_security_event(head, x).await)
            }
            Request::AnchorAudit(x, reply) => Answer::new(reply, self.anchor_audit(head, x).await),
            Request::RecordManifest(x, reply) => {
                Answer::new(reply, self.record_manifest(head, x).await)
            }
            Request::SubmitMatched(x, reply) => {
                let result = async {
                    self.admit_agent(&x.0).await?;
                    let m = self.submit_matched(head, x).await?;
                    let f = &m.filed;
                    self.record_agent_filing(head, &x.0, f.id, f.status, f.replayed)
                        .await?;
                    Ok(m)
                }
                .await;
                Answer::new(reply, result)
            }
            Request::RecordTransit(x, reply) => {
                Answer::new(reply, self.record_transit(head, x).await)
            }
            Request::RecordPostal(x, reply) => {
                Answer::new(reply, self.record_postal(head, x).await)
            }
            Request::PutRules(x, reply) => Answer::new(reply, self.put_rules(head, x).await),
            Request::PutPolicy(x, reply) => Answer::new(reply, self.put_policy(head, x).await),
            Request::SetCreditClass(x, reply) => {
                Answer::new(reply, self.set_credit_class(head, x).await)
            }
            Request::AddWatch(x, reply) => Answer::new(reply, self.add_watch(head, x).await),
            Request::RemoveWatch(x, reply) => Answer::new(reply, self.remove_watch(head, x).await),
            Request::RecordDecision(x, reply) => {
                Answer::new(reply, self.record_decision(head, x).await)
            }
            Request::AppendExamined(x, reply) => {
                Answer::new(reply, self.append_examined(head, x).await)
            }
            Request::IssueLicence(x, reply) => {
                Answer::new(reply, self.issue_licence(head, x).await)
            }
            Request::PutRegistry(x, reply) => Answer::new(reply, self.put_registry(head, x).await),
            Request::WithdrawLicence(x, reply) => {
                Answer::new(reply, self.withdraw_licence(head, x).await)
            }
            Request::EportFile(x, reply) => {
                let result = async {
                    self.admit_agent(&x.0).await?;
                    let m = self.file(head, x).await?;
                    let f = &m.filed;
                    self.record_agent_filing(head, &x.0, f.id, f.status, f.replayed)
                        .await?;
                    Ok(m)
                }
                .await;
                Answer::new(reply, result)
            }
            Request::GrantAuthority(x, reply) => {
                Answer::new(reply, self.grant_authority(head, x).await)
            }
            Request::RevokeAuthority(x, reply) => {
                Answer::new(reply, self.revoke_authority(head, x).await)
            }
            Request::CaseStep(x, reply) => Answer::new(reply, self.case_step(head, x).await),
            Request::Aeo(x, reply) => Answer::new(reply, self.aeo_step(head, x).await),
            Request::CreditDecision(x, reply) => {
                Answer::new(reply, self.credit_decision(head, x).await)
            }
            Request::OverdueReview(x, reply) => {
                Answer::new(reply, self.overdue_review(head, x).await)
            }
            Request::Registration(x, reply) => {
                Answer::new(reply, self.registration_step(head, x).await)
            }
            Request::SetRoles(x, reply) => Answer::new(reply, self.set_roles(head, x).await),
            Request::AddAttachment(x, reply) => {
                Answer::new(reply, self.add_attachment(head, x).await)
            }
            Request::Webhook(x, reply) => Answer::new(reply, self.webhook_write(head, x).await),
            Request::SaveDraft(x, reply) => Answer::new(reply, self.save_draft(x).await),
            Request::DeleteDraft((owner, id), reply) => {
                Answer::new(reply, self.delete_draft(owner, *id).await)
            }
            Request::MarkNotificationsRead(x, reply) => {
                Answer::new(reply, self.mark_notifications_read(x).await)
            }
            Request::AppendWithOutbox(x, reply) => {
                Answer::new(reply, self.append_with_outbox(head, x).await)
            }
            Request::MarkPublished(x, reply) => Answer::new(reply, self.mark_published(x).await),
            Request::AckFeed(x, reply) => Answer::new(reply, self.ack_feed(x).await),
            Request::ProbeWrite(_, reply) => {
                // A transaction id taken: the batch's COMMIT then writes and flushes a commit
                // record to the WAL, as a real write does.
                let result = self
                    .c
                    .query_one("SELECT txid_current()", &[])
                    .await
                    .map(|_| ())
                    .map_err(crate::backend);
                Answer::new(reply, result)
            }
            Request::RecordRefundClaim(x, reply) => {
                Answer::new(reply, self.record_refund_claim(head, x).await)
            }
            Request::RecordBankRecord(x, reply) => {
                Answer::new(reply, self.record_bank_record(head, x).await)
            }
            Request::PayRefund(x, reply) => Answer::new(reply, self.pay_refund(head, x).await),
            Request::RegisterGuarantee(x, reply) => {
                Answer::new(reply, self.register_guarantee(head, x).await)
            }
            Request::ClaimGuarantee(x, reply) => {
                Answer::new(reply, self.claim_guarantee(head, x).await)
            }
            Request::RecordInboundRefused(x, reply) => {
                Answer::new(reply, self.record_inbound_refused(x).await)
            }
            Request::Inbound(w) => self.inbound_write(head, w).await,
        }
    }

    async fn put_office(
        &self,
        head: &mut ChainHead,
        (office, actor, now): &(Office, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        self.c
            .execute(
                &self.st.put_office,
                &[
                    &office.code.to_string(),
                    &office.name,
                    &office.parent.map(|p| p.to_string()),
                ],
            )
            .await
            .map_err(backend)?;
        let detail = serde_json::to_string(office).expect("office serializes");
        self.audit(
            head,
            *now,
            &actor.label(),
            "put_office",
            &format!("office:{}", office.code),
            detail,
        )
        .await?;
        Ok(())
    }

    async fn put_user(
        &self,
        head: &mut ChainHead,
        (user, actor, now): &(NewUser, Actor, DateTime<Utc>),
    ) -> Result<i64, StoreError> {
        let id = self.insert_user(user, &[], None, None).await?;
        let detail = serde_json::to_string(user).expect("user serializes");
        self.audit(
            head,
            *now,
            &actor.label(),
            "put_user",
            &format!("user:{id}"),
            detail,
        )
        .await?;
        Ok(id)
    }

    async fn create_account(
        &self,
        head: &mut ChainHead,
        (account, actor, now): &(NewAccount, Actor, DateTime<Utc>),
    ) -> Result<i64, StoreError> {
        let user = &account.user;
        let id = self
            .insert_user(
                user,
                &account.duties,
                account.agency.as_deref(),
                Some(&account.password_hash),
            )
            .await?;
        // The hash stays out of the audit log.
        let detail = serde_json::json!({
            "login": user.login, "role": user.role, "office": user.office, "uscc": user.uscc,
            "duties": account.duties, "agency": account.agency,
        })
        .to_string();
        self.audit(
            head,
            *now,
            &actor.label(),
            "create_account",
            &format!("user:{id}"),
            detail,
        )
        .await?;
        Ok(id)
    }

    async fn create_session(
        &self,
        head: &mut ChainHead,
        (session, actor, now): &(NewSession, Actor, DateTime<Utc>),
    ) -> Result<(), StoreError> {
        let inserted = self
            .c
            .execute(
                &self.st.insert_session,
                &[
                    &session.token_hash,
                    &session.user_id,
                    &ms(session.created_at),
                    &ms(session.expires_at),
                ],
            )
            .await
            .map_err(|e| {
                if e.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
                    StoreError::NotFound(format!("user {}", session.user_id))
                } else {
                    backend(e)
                }
            })?;
        if inserted == 0 {
            return Err(StoreError::Duplicate("session".into()));
        }
        let detail = store::detail::sign_in(session.expires_at);
        self.audit(
            head,
            *now,
            &actor.label(),
            "sign_in",
            &format!("user:{}", session.user_id),
            detail,
        )
        .await?;
        Ok(())
    }

    async fn revoke_session(
        &self,
        head: &mut ChainHead,
        (token_hash, actor, now): &(String, Actor, DateTime<Utc>),
    ) -> Result<bool, StoreError> {
        let row = self
            .c
            .query_opt(&self.st.revoke_session, &[token_hash, &ms(*now)])
            .await
            .map_err(backend)?;
        let Some(row) = row else {
            return Ok(false);
        };
        let user_id: i64 = row.get(0);
        self.audit(
            head,
            *now,
            &actor.label(),
            "sign_out",
            &format!("user:{user_id}"),
            store::detail::empty(),
        )
        .await?;
        Ok(true)
    }

    async fn revoke_sessions_of(
        &self,
        head: &mut ChainHead,
        (user_id, actor, now): &(i64, Actor, DateTime<Utc>),
    ) -> Result<u64, StoreError> {
        let n = self
            .c
            .execute(&self.st.revoke_sessions_of, &[user_id, &ms(*now)])
            .await
            .map_err(backend)?;
        let detail = store::detail::sessions_revoked(n);
        self.audit(
            head,
            *now,
            &actor.label(),
            "revoke_sessions",
            &format!("user:{user_id}"),
            detail,
        )
        .await?;
        Ok(n)
    }

    async fn insert_user(
        &self,
        user: &NewUser,
        duties: &[Duty],
        agency: Option<&str>,
        password_hash: Option<&str>,
    ) -> Result<i64, StoreError> {
        let duties: Vec<&str> = duties.iter().map(|d| d.as_str()).collect();
        let row = self
            .c
            .query_opt(
                &self.st.insert_user,
                &[
                    &user.login,
                    &user.role.as_str(),
                    &user.office.map(|o| o.to_string()),
                    &user.uscc.map(|u| u.to_string()),
                    &duties,
                    &agency,
                    &password_hash,
                ],
            )
            .await
            .map_err(backend)?;
        match row {
            Some(r) => Ok(r.get(0)),
            None => Err(StoreError::Duplicate(format!("login {}", user.login))),
        }
    }

    async fn accept(
        &self,
        head: &mut ChainHead,
        req: &AcceptRequest,
    ) -> Result<Accepted, StoreError> {
        let row = self.load_for_write(req.id).await?;
        store::plan::check_version(req.expected_version, row.version)?;
        let (office, year, direction) = store::plan::accept_key(&row.state, req.now)?;
        let serial = self
            .next_serial("declaration", office, year, direction)
            .await?;
        let declaration_no = store::plan::declaration_no(office, year, direction, serial)?;
        let events = store::plan::acceptance(&row.state, req, declaration_no)?;
        let appended = self
            .write_events(
                head,
                req.id,
                row,
                &events,
                req.now,
                &req.actor.label(),
                "accept",
            )
            .await?;
        Ok(Accepted {
            declaration_no,
            version: appended.version,
        })
    }

    async fn load_for_write(&self, id: DeclarationId) -> Result<RowForWrite, StoreError> {
        let row = self
            .c
            .query_opt(&self.st.load_for_write, &[&id.0])
            .await
            .map_err(backend)?
            .ok_or_else(|| StoreError::NotFound(format!("declaration {id}")))?;
        let version: i64 = row.get(0);
        let state: &str = row.get(1);
        Ok(RowForWrite {
            version: version as u64,
            state: serde_json::from_str(state)
                .map_err(|e| corrupt(format!("state of declaration {id}: {e}")))?,
        })
    }

    /// Apply events to the row, keep the narrow columns and payment notices in step, record
    /// the events and one audit record.
    #[allow(clippy::too_many_arguments)]
    async fn write_events(
        &self,
        head: &mut ChainHead,
        id: DeclarationId,
        row: RowForWrite,
        events: &[Event],
        now: DateTime<Utc>,
        actor: &str,
        action: &str,
    ) -> Result<Appended, StoreError> {
        // A declaration whose export tax refund was paid is not amended or cancelled: checked
        // on its claims as they are in this transaction (read under a share lock), before
        // anything else (docs/EPORT.md).
        if store::finance::changes_declaration(events) {
            if let Some(no) = &row.state.declaration_no {
                store::finance::check_change(&self.claims_on(no).await?)?;
            }
        }
        let plan = store::plan::events(id, row.state, row.version, events)?;
        // A suspension stands on a case open as it is in this transaction (the case row read
        // under a share lock): a case closed before the suspension reaches the writer refuses
        // it (docs/PARTIES.md).
        for case_no in store::cases::suspension_cases(events) {
            let case = self
                .c
                .query_opt(
                    "SELECT body FROM cases WHERE case_no = $1 FOR SHARE",
                    &[&case_no],
                )
                .await
                .map_err(backend)?
                .map(|r| crate::parties::read_case(r.get(0)))
                .transpose()?;
            store::cases::check_suspension(case_no, case.as_ref()).map_err(StoreError::Case)?;
        }
        let (state, version) = (&plan.state, plan.version);
        let state_json = serde_json::to_string(state).expect("state serializes");
        let mut event_rows = EventRows::default();
        event_rows.push(id.0, row.version, events);
        let detail = plan.detail;
        let mut audit = AuditRows::default();
        audit.push(head.next(
            ms(now).timestamp_millis(),
            actor,
            action,
            &format!("declaration:{id}"),
            detail,
        ));
        let (status, lane) = (state.status.as_str(), state.lane.map(|l| l.as_str()));
        let declaration_no = state.declaration_no.map(|n| n.to_string());
        let (at, new_version, old_version) = (ms(now), version as i64, row.version as i64);
        let update_params: [&(dyn ToSql + Sync); 8] = [
            &id.0,
            &status,
            &lane,
            &declaration_no,
            &at,
            &new_version,
            &state_json,
            &old_version,
        ];
        let (event_params, audit_params) = (event_rows.params(), audit.params());
        // Pipelined: sent together, answered in order.
        let (u, e, a) = tokio::join!(
            biased;
            self.c.execute(&self.st.update_declaration, &update_params),
            self.c.execute(&self.st.insert_events, &event_params),
            self.c.execute(&self.st.insert_audit, &audit_params),
        );
        let updated = u.map_err(backend)?;
        e.map_err(backend)?;
        a.map_err(backend)?;
        if updated != 1 {
            return Err(corrupt(format!("declaration {id} moved under the writer")));
        }
        for e in events {
            match &e.kind {
                EventKind::Assessed { notices } => {
                    let numbers: Vec<&str> = notices.iter().map(|n| n.notice_no.as_str()).collect();
                    let taxes: Vec<&str> = notices.iter().map(|n| n.tax.as_str()).collect();
                    let amounts: Vec<i64> = notices.iter().map(|n| n.amount_fen.0).collect();
                    let inserted: Vec<String> = self
                        .c
                        .query(
                            &self.st.insert_notices,
                            &[&id.0, &numbers, &taxes, &amounts, &ms(e.at)],
                        )
                        .await
                        .map_err(backend)?
                        .iter()
                        .map(|r| r.get(0))
                        .collect();
                    // `ON CONFLICT DO NOTHING` skipped the numbers already used.
                    if let Some(dup) = numbers.iter().find(|n| !inserted.iter().any(|i| i == *n)) {
                        return Err(StoreError::Duplicate(format!("payment notice {dup}")));
                    }
                    if inserted.len() != numbers.len() {
                        return Err(StoreError::Duplicate(
                            "payment notice numbers repeat".into(),
                        ));
                    }
                }
                EventKind::NoticePaid { notice_no, payment } => {
                    self.c
                        .execute(&self.st.pay_notice, &[notice_no, &id.0, &ms(e.at)])
                        .await
                        .map_err(backend)?;
                    if let Some(p) = payment {
                        crate::payments::record(self.c, id.0, notice_no, p, ms(e.at)).await?;
                    }
                }
                _ => {}
            }
        }
        self.write_versions(id, events).await?;
        // The E-Port licence uses settle with the step that releases or ends the declaration.
        if let Some(status) = plan.status_changed {
            self.settle(head, id, status, actor, now).await?;
        }
        // The guarantee ledger: a release against a guarantee reserves, the last payment
        // releases.
        self.settle_guarantee(head, id, state, events, actor, now)
            .await?;
        Ok(Appended {
            version,
            status: state.status,
        })
    }
}

/// A filing that can be written in a run with the filings next to it ([`Tx::filing_run`]):
/// those matched to a bill too, and those checked by the E-Port unless they draw on a licence
/// (which is locked and reserved in the filing's own savepoint).
enum RunJob<'a> {
    Submit(&'a SubmitRequest, &'a Reply<Submitted>),
    Reviewed(&'a SubmitRequest, &'a AutomaticReview, &'a Reply<Filed>),
    Matched(
        &'a (
            SubmitRequest,
            AutomaticReview,
            Option<store::cargo::PendingMatch>,
        ),
        &'a Reply<store::cargo::SubmittedMatched>,
    ),
    Eport(
        &'a store::writer::EportFiling,
        &'a Reply<store::cargo::SubmittedMatched>,
    ),
}

fn as_filing(req: &Request) -> Option<RunJob<'_>> {
    // A broker's filing is written alone (`Tx::execute`), its power of attorney locked and
    // checked in its savepoint.
    let agent = match req {
        Request::Submit(r, _) | Request::SubmitReviewed((r, _), _) => r.agent.is_some(),
        Request::SubmitMatched(b, _) => b.0.agent.is_some(),
        Request::EportFile(b, _) => b.0.agent.is_some(),
        _ => false,
    };
    if agent {
        return None;
    }
    match req {
        Request::Submit(r, reply) => Some(RunJob::Submit(r, reply)),
        Request::SubmitReviewed((r, review), reply) => Some(RunJob::Reviewed(r, review, reply)),
        Request::SubmitMatched(b, reply) => Some(RunJob::Matched(b, reply)),
        Request::EportFile(b, reply) if eport::joins_run(&b.2) => Some(RunJob::Eport(b, reply)),
        _ => None,
    }
}

impl RunJob<'_> {
    /// The bill match this filing waits for, if any.
    fn pending(&self) -> Option<&store::cargo::PendingMatch> {
        match self {
            RunJob::Submit(..) | RunJob::Reviewed(..) => None,
            RunJob::Matched(b, _) => b.2.as_ref(),
            RunJob::Eport(b, _) => b.3.as_ref().and_then(|m| m.as_ref()),
        }
    }

    /// The filing itself.
    fn request(&self) -> &SubmitRequest {
        match self {
            RunJob::Submit(r, _) | RunJob::Reviewed(r, _, _) => r,
            RunJob::Matched(b, _) => &b.0,
            RunJob::Eport(b, _) => &b.0,
        }
    }

    /// Refuse this filing alone.
    fn refuse(&self, e: StoreError) -> Answer {
        match self {
            RunJob::Submit(_, reply) => Answer::new(reply, Err(e)),
            RunJob::Reviewed(_, _, reply) => Answer::new(reply, Err(e)),
            RunJob::Matched(_, reply) | RunJob::Eport(_, reply) => Answer::new(reply, Err(e)),
        }
    }
}

/// The one result of a group of one.
fn one(
    result: Result<Vec<Result<SubmitOutcome, StoreError>>, StoreError>,
) -> Result<SubmitOutcome, StoreError> {
    result?.pop().expect("one result per request")
}

fn filed(o: SubmitOutcome) -> Filed {
    Filed {
        id: o.submitted.id,
        pre_entry_no: o.submitted.pre_entry_no,
        declaration_no: o.state.declaration_no,
        status: o.state.status,
        lane: o.state.lane,
        version: o.submitted.version,
        replayed: o.submitted.replayed,
    }
}
