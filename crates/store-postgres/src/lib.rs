//! The PostgreSQL backend of [`store::Store`]: [`PostgresStore`], opened with
//! [`PostgresStore::open`]`(url, `[`PostgresOptions`]`)`.
//!
//! The same shape as the SQLite backend, and it passes the same contract suite
//! (`store_contract::contract`):
//!
//! - Writes: ONE writer (module `writer`): a thread owning a current-thread tokio runtime and
//!   one connection with `synchronous_commit = on`. It drains the waiting requests (at most
//!   `batch_max`) into one transaction, writes runs of filings (`submit`, `submit_reviewed`)
//!   as multi-row statements, every other request in its own savepoint, commits once, and only
//!   then answers. The queue, the batch loop and the typed requests are `store::writer`'s
//!   (shared with SQLite); the rules applied inside the transaction are `store::plan`'s.
//! - Reads: a `deadpool-postgres` pool (at most `readers_max` connections) driven by a small
//!   multi-thread runtime the store owns. A read is spawned there and the caller's thread waits
//!   for its rows, then parses them itself.
//! - Schema: versioned migrations recorded in `schema_version` (module `schema`), applied at open.
//!   [`PostgresOptions::schema`] puts the tables in a schema of their own (created if missing),
//!   which is how tests run in parallel on one database.
//!
//! The trait is synchronous; callers in async code use `spawn_blocking`, as with SQLite.
//! TLS (module `tls`): as the URL's `sslmode` says (libpq's modes, `verify-full` included), with
//! rustls; without `sslmode` the connection is plain.

use std::future::Future;
use std::str::FromStr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clearance::{Lane, Status, TaxKind};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use domain::codes::{DeclarationNo, Direction, OfficeCode, PreEntryNo, Uscc};
use domain::money::Fen;
use store::audit::AuditRecord;
use store::writer::Queue;
use store::*;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Row};

mod aeo;
mod cargo;
mod daily;
mod drafts;
mod eport;
mod finance;
mod guarantee;
mod outbox;
mod parties;
mod payments;
mod registration;
mod risk;
mod schema;
mod search;
pub mod tls;
mod webhooks;
mod writer;

/// Tuning, all bounded.
#[derive(Clone, Debug)]
pub struct PostgresOptions {
    /// Keep the tables in this schema (created if missing) instead of the connection's current
    /// one. 1 to 63 of `a-z`, `0-9`, `_`.
    pub schema: Option<String>,
    /// Most requests committed in one transaction.
    pub batch_max: usize,
    /// Most requests waiting for the writer; senders block beyond it (back-pressure).
    pub queue_max: usize,
    /// Most reader connections in the pool.
    pub readers_max: usize,
    /// How long to wait for the server when connecting.
    pub connect_timeout: Duration,
    /// The CA certificates (PEM) the server's certificate is checked against; the URL's
    /// `sslrootcert=FILE` does the same (module `tls`).
    pub ca_file: Option<std::path::PathBuf>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            schema: None,
            batch_max: 256,
            queue_max: 4096,
            readers_max: 4,
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

pub use store::writer::WriterStats;

/// The PostgreSQL [`Store`].
pub struct PostgresStore {
    queue: Queue,
    writer: Option<JoinHandle<()>>,
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    stats: Arc<Mutex<WriterStats>>,
}

/// The server could not be reached or refused the connection.
#[derive(Debug, thiserror::Error)]
#[error("cannot connect to PostgreSQL at {target}: {source}")]
pub struct ConnectError {
    /// Hosts, ports, database and user; never the password.
    pub target: String,
    #[source]
    pub source: tokio_postgres::Error,
}

impl PostgresStore {
    /// Connect to `url` (`postgres://user@host:port/database`), migrate, start the writer.
    /// An unreachable server is a [`StoreError::Backend`] wrapping a [`ConnectError`] that
    /// names the host, port, database and user.
    pub fn open(url: &str, options: PostgresOptions) -> Result<PostgresStore, StoreError> {
        assert!(
            options.batch_max >= 1 && options.queue_max >= 1 && options.readers_max >= 1,
            "bounds must be positive"
        );
        let prepared = tls::prepare(url, options.ca_file.as_deref())?;
        let tls = tls::PgTls::new(prepared.verify, prepared.ca_file.as_deref())?;
        let mut config = Config::from_str(&prepared.url)
            .map_err(|e| StoreError::Invalid(format!("PostgreSQL URL: {e}")))?;
        let mut startup = config.get_options().unwrap_or_default().to_owned();
        // Every statement of the readers is planned for the parameters and table sizes of its
        // execution: a generic plan cached on empty tables (a new deployment, a test) keeps
        // whatever they suggested. The writer sets its own connection back to `auto` (its
        // batched statements have one plan whatever the size: re-planning them at each
        // execution is needless work) and plans its one size-dependent statement, the
        // idempotency lookup, at each execution (`writer::LOOKUP_KEYS`).
        if !startup.is_empty() {
            startup.push(' ');
        }
        startup.push_str("-c plan_cache_mode=force_custom_plan");
        if let Some(schema) = &options.schema {
            schema::check_schema_name(schema)?;
            startup.push_str(&format!(" -c search_path={schema}"));
        }
        config.options(&startup);
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.connect_timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("jinguan");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("jinguan-pg-reader")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(Box::new(e)))?;

        // Migrate on a connection of its own, before anything else runs.
        let setup_config = config.clone();
        let setup_tls = tls.clone();
        let schema_name = options.schema.clone();
        run_on(&runtime, async move {
            let client = connect(&setup_config, &setup_tls).await?;
            let fsync: String = client
                .query_one("SHOW fsync", &[])
                .await
                .map_err(backend)?
                .get(0);
            if fsync != "on" {
                tracing::warn!("PostgreSQL runs with fsync={fsync}: commits are not durable");
            }
            let applied = schema::migrate(&client, schema_name.as_deref()).await?;
            // Statistics for the planner as soon as the tables exist or change shape, and
            // whenever they have never been analysed (a bulk load autovacuum has not caught
            // up with): without them the first plans are guesses.
            if applied.ran > 0 || schema::never_analysed(&client).await? {
                schema::analyse(&client).await?;
            }
            Ok::<u32, StoreError>(applied.version)
        })??;

        let pool = Pool::builder(Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        ))
        .max_size(options.readers_max)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .create_timeout(Some(options.connect_timeout))
        .build()
        .map_err(|e| StoreError::Backend(Box::new(e)))?;

        let (queue, rx) = Queue::bounded(options.queue_max);
        let stats = Arc::new(Mutex::new(WriterStats::default()));
        let writer = writer::spawn(config, tls, options.batch_max, rx, stats.clone())?;
        Ok(PostgresStore {
            queue,
            writer: Some(writer),
            pool,
            runtime: Some(runtime),
            stats,
        })
    }

    /// Refresh the planner's statistics of this store's tables (`ANALYZE`), after a bulk
    /// load (the demo, `jinguan simulate`) so that the next plans see the rows just written.
    pub fn analyse(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        let runtime = self.runtime.as_ref().ok_or(StoreError::Closed)?;
        run_on(runtime, async move {
            let client = pool.get().await.map_err(pool_error)?;
            schema::analyse(&client).await
        })?
    }

    pub fn writer_stats(&self) -> WriterStats {
        *self.stats.lock().expect("stats lock")
    }

    /// Run one query on a pooled connection; the rows come back to the caller's thread.
    fn query(
        &self,
        sql: &'static str,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
    ) -> Result<Vec<Row>, StoreError> {
        self.query_owned(sql.to_owned(), params)
    }

    fn query_owned(
        &self,
        sql: String,
        params: Vec<Box<dyn ToSql + Send + Sync>>,
    ) -> Result<Vec<Row>, StoreError> {
        let pool = self.pool.clone();
        let runtime = self.runtime.as_ref().ok_or(StoreError::Closed)?;
        run_on(runtime, async move {
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            // A pooled connection the server has dropped is noticed on use: reads change
            // nothing, so one more try on a fresh connection is safe.
            let mut tries = 0;
            loop {
                tries += 1;
                let client = pool.get().await.map_err(pool_error)?;
                let result = match client.prepare_cached(&sql).await {
                    Ok(stmt) => client.query(&stmt, &refs).await,
                    Err(e) => Err(e),
                };
                match result {
                    Err(_) if client.is_closed() && tries < 2 => continue,
                    other => return other.map_err(backend),
                }
            }
        })?
    }

    fn account(
        &self,
        sql: &'static str,
        key: Box<dyn ToSql + Send + Sync>,
    ) -> Result<Option<Account>, StoreError> {
        self.query(sql, vec![key])?
            .first()
            .map(read_account)
            .transpose()
    }
}

impl Drop for PostgresStore {
    /// Closing the queue lets the writer finish what is queued and stop.
    fn drop(&mut self) {
        self.queue.close();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        self.pool.close();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Run a future on the store's runtime and wait for it on this thread. Works from any thread,
/// inside or outside an async context (where it blocks, like any `Store` call).
fn run_on<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    fut: impl Future<Output = T> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv().map_err(|_| StoreError::Closed)
}

/// Open one connection and drive it on the current runtime.
pub(crate) async fn connect(config: &Config, tls: &tls::PgTls) -> Result<Client, StoreError> {
    match config.connect(tls.clone()).await {
        Ok((client, connection)) => {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL connection ended");
                }
            });
            Ok(client)
        }
        Err(source) => Err(StoreError::Backend(Box::new(ConnectError {
            target: describe_target(config),
            source,
        }))),
    }
}

fn describe_target(config: &Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{} port {} (database {}, user {})",
        if hosts.is_empty() {
            "localhost".into()
        } else {
            hosts.join(",")
        },
        if ports.is_empty() {
            "5432".into()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)"),
    )
}

pub(crate) fn backend(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        // Input the server cannot store (a NUL character, JSON it cannot parse) is the
        // caller's problem, not the backend's.
        if *code == SqlState::CHARACTER_NOT_IN_REPERTOIRE
            || *code == SqlState::UNTRANSLATABLE_CHARACTER
            || *code == SqlState::INVALID_TEXT_REPRESENTATION
        {
            return StoreError::Invalid(db.message().to_owned());
        }
    }
    StoreError::Backend(Box::new(e))
}

fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    match e {
        deadpool_postgres::PoolError::Backend(e) => backend(e),
        other => StoreError::Backend(Box::new(other)),
    }
}

pub(crate) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// Times are kept to the millisecond, as on SQLite, so both backends answer alike.
pub(crate) fn ms(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).expect("a millisecond of a valid time")
}

fn parse_direction(s: &str) -> Result<Direction, StoreError> {
    match s {
        "import" => Ok(Direction::Import),
        "export" => Ok(Direction::Export),
        other => Err(corrupt(format!("direction {other}"))),
    }
}

fn parse_opt<T, E: std::fmt::Display>(
    s: Option<&str>,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<Option<T>, StoreError> {
    s.map(|s| parse(s).map_err(corrupt)).transpose()
}

fn read_account(r: &Row) -> Result<Account, StoreError> {
    let id: i64 = r.get(0);
    let role: &str = r.get(2);
    let duties: Vec<&str> = r.get(5);
    Ok(Account {
        user: User {
            id,
            login: r.get(1),
            role: Role::parse(role).ok_or_else(|| corrupt(format!("role {role}")))?,
            office: parse_opt(r.get(3), OfficeCode::parse)?,
            uscc: parse_opt(r.get(4), Uscc::parse)?,
        },
        duties: duties
            .into_iter()
            .map(|d| Duty::parse(d).ok_or_else(|| corrupt(format!("duty {d} of user {id}"))))
            .collect::<Result<_, _>>()?,
        agency: r.get(6),
        password_hash: r.get(7),
        disabled: r.get(8),
        must_change_password: r.get(9),
    })
}

const ACCOUNT_COLUMNS_BY_LOGIN: &str =
    "SELECT id, login, role, office, uscc, duties, agency, password_hash, disabled_at IS NOT NULL, must_change_password FROM users WHERE login = $1";
const ACCOUNT_COLUMNS_BY_ID: &str =
    "SELECT id, login, role, office, uscc, duties, agency, password_hash, disabled_at IS NOT NULL, must_change_password FROM users WHERE id = $1";

impl store::writer::Queued for PostgresStore {
    fn queue(&self) -> &Queue {
        &self.queue
    }
}

impl Store for PostgresStore {
    fn writer_stats(&self) -> Option<WriterStats> {
        Some(PostgresStore::writer_stats(self))
    }

    store::provide_sub_stores!();

    fn refresh_statistics(&self) -> Result<(), StoreError> {
        self.analyse()
    }

    fn goods_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        declarant: Option<&Uscc>,
    ) -> Result<Vec<GoodsTotal>, StoreError> {
        let rows = self.query(
            "SELECT declarant, direction, (submitted_at AT TIME ZONE 'UTC' + $5::int4 * interval '1 second')::date AS day,
                    coalesce(sum(goods_value_fen), 0)::int8, count(*), count(*) - count(goods_value_fen)
             FROM declarations
             WHERE status IN ('released', 'closed') AND submitted_at >= $1 AND submitted_at < $2
               AND ($3::text IS NULL OR declarant = $3)
             GROUP BY declarant, direction, day ORDER BY declarant, direction, day LIMIT $4",
            vec![
                Box::new(from),
                Box::new(to),
                Box::new(declarant.map(|u| u.to_string())),
                Box::new(i64::from(GOODS_TOTALS_MAX) + 1),
                // The China day (domain::time), the one definition of the offset.
                Box::new(domain::time::CHINA_OFFSET_SECONDS),
            ],
        )?;
        let totals = rows
            .iter()
            .map(|r| {
                let declarant: &str = r.get(0);
                let n: i64 = r.get(4);
                let unvalued: i64 = r.get(5);
                Ok(GoodsTotal {
                    declarant: Uscc::parse(declarant).map_err(corrupt)?,
                    direction: parse_direction(r.get(1))?,
                    day: r.get(2),
                    value_fen: Fen(r.get(3)),
                    declarations: n as u64,
                    unvalued: unvalued as u64,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        goods_totals_bounded(totals)
    }

    fn purchases(
        &self,
        buyer: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredPurchase>, StoreError> {
        let rows = self.query(
            "SELECT id, submitted_at, purchase_fen, status FROM declarations
             WHERE buyer = $1 AND submitted_at >= $2 ORDER BY submitted_at, id LIMIT $3",
            vec![
                Box::new(buyer.to_owned()),
                Box::new(since),
                Box::new(i64::from(PURCHASES_MAX)),
            ],
        )?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let value: Option<i64> = r.get(2);
                let status: &str = r.get(3);
                Ok(StoredPurchase {
                    id: DeclarationId(id),
                    submitted_at: r.get(1),
                    value_fen: Fen(value.ok_or_else(|| {
                        corrupt(format!(
                            "declaration {id}: a buyer without a purchase value"
                        ))
                    })?),
                    status: Status::parse(status)
                        .ok_or_else(|| corrupt(format!("status {status}")))?,
                })
            })
            .collect()
    }

    fn load(&self, key: DeclarationKey) -> Result<Option<StoredDeclaration>, StoreError> {
        const COLUMNS: &str =
            "SELECT id, version, state::text, body::text, updated_at FROM declarations";
        let rows = match key {
            DeclarationKey::Id(id) => {
                self.query_owned(format!("{COLUMNS} WHERE id = $1"), vec![Box::new(id.0)])?
            }
            DeclarationKey::PreEntryNo(n) => self.query_owned(
                format!("{COLUMNS} WHERE pre_entry_no = $1"),
                vec![Box::new(n.to_string())],
            )?,
            DeclarationKey::DeclarationNo(n) => self.query_owned(
                format!("{COLUMNS} WHERE declaration_no = $1"),
                vec![Box::new(n.to_string())],
            )?,
        };
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        let id: i64 = r.get(0);
        let version: i64 = r.get(1);
        let state: &str = r.get(2);
        Ok(Some(StoredDeclaration {
            id: DeclarationId(id),
            version: version as u64,
            state: serde_json::from_str(state)
                .map_err(|e| corrupt(format!("state of declaration {id}: {e}")))?,
            body_json: r.get(3),
            updated_at: r.get(4),
        }))
    }

    fn events(&self, id: DeclarationId) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = self.query(
            "SELECT seq, body::text FROM events WHERE declaration_id = $1 ORDER BY seq",
            vec![Box::new(id.0)],
        )?;
        rows.iter()
            .map(|r| {
                let seq: i64 = r.get(0);
                let body: &str = r.get(1);
                Ok(StoredEvent {
                    seq: seq as u64,
                    event: serde_json::from_str(body)
                        .map_err(|e| corrupt(format!("event {id}/{seq}: {e}")))?,
                })
            })
            .collect()
    }

    fn list(
        &self,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<DeclarationSummary>, StoreError> {
        if page.limit == 0 || page.limit > PAGE_MAX {
            return Err(StoreError::Invalid(format!(
                "page limit must be 1 to {PAGE_MAX}"
            )));
        }
        let after = page.after.as_ref().map(Cursor::id).transpose()?;
        let mut sql = String::from(
            "SELECT id, pre_entry_no, declaration_no, declarant, direction, declaration_office, status, lane, submitted_at, version FROM declarations WHERE true",
        );
        let mut args: Vec<Box<dyn ToSql + Send + Sync>> = Vec::new();
        let mut push = |clause: &str, v: Box<dyn ToSql + Send + Sync>| {
            args.push(v);
            sql.push_str(&format!(" AND {clause} ${}", args.len()));
        };
        if let Some(s) = filter.status {
            push("status =", Box::new(s.as_str()));
        }
        if let Some(l) = filter.lane {
            push("lane =", Box::new(l.as_str()));
        }
        if let Some(o) = filter.declaration_office {
            push("declaration_office =", Box::new(o.to_string()));
        }
        if let Some(u) = filter.declarant {
            push("declarant =", Box::new(u.to_string()));
        }
        if let Some(t) = filter.submitted_from {
            push("submitted_at >=", Box::new(ms(t)));
        }
        if let Some(t) = filter.submitted_to {
            push("submitted_at <", Box::new(ms(t)));
        }
        if let Some(offices) = &filter.offices {
            if offices.len() > OFFICES_MAX {
                return Err(StoreError::Invalid(format!(
                    "at most {OFFICES_MAX} offices in a filter"
                )));
            }
            if offices.is_empty() {
                return Ok(Page {
                    items: Vec::new(),
                    next: None,
                });
            }
            let codes: Vec<String> = offices.iter().map(|o| o.to_string()).collect();
            args.push(Box::new(codes));
            sql.push_str(&format!(" AND declaration_office = ANY(${})", args.len()));
        }
        if let Some(id) = after {
            args.push(Box::new(id.0));
            sql.push_str(&format!(" AND id < ${}", args.len()));
        }
        // One more than asked, to know whether there is a next page.
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", page.limit + 1));
        let rows = self.query_owned(sql, args)?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let status: &str = r.get(6);
            let lane: Option<&str> = r.get(7);
            let version: i64 = r.get(9);
            items.push(DeclarationSummary {
                id: DeclarationId(r.get(0)),
                pre_entry_no: PreEntryNo::parse(r.get(1)).map_err(corrupt)?,
                declaration_no: parse_opt(r.get(2), DeclarationNo::parse)?,
                declarant: Uscc::parse(r.get(3)).map_err(corrupt)?,
                direction: parse_direction(r.get(4))?,
                declaration_office: OfficeCode::parse(r.get(5)).map_err(corrupt)?,
                status: Status::parse(status).ok_or_else(|| corrupt(format!("status {status}")))?,
                lane: lane
                    .map(|l| Lane::parse(l).ok_or_else(|| corrupt(format!("lane {l}"))))
                    .transpose()?,
                submitted_at: r.get(8),
                version: version as u64,
            });
        }
        let next = if items.len() > page.limit as usize {
            items.truncate(page.limit as usize);
            items.last().map(|s| Cursor::from_id(s.id))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    fn search(
        &self,
        req: &store::search::SearchRequest,
    ) -> Result<store::search::Counted<DeclarationSummary>, StoreError> {
        self.search_declarations(req)
    }

    fn attachments(
        &self,
        id: DeclarationId,
    ) -> Result<Vec<store::attachments::StoredAttachment>, StoreError> {
        self.list_attachments(id)
    }

    fn attachment(
        &self,
        id: DeclarationId,
        attachment_id: i64,
    ) -> Result<Option<(store::attachments::StoredAttachment, Vec<u8>)>, StoreError> {
        self.one_attachment(id, attachment_id)
    }

    fn daily_stats(
        &self,
        q: &store::daily::DayQuery,
    ) -> Result<store::daily::DailyStats, StoreError> {
        self.read_daily(q)
    }

    fn drafts(
        &self,
        owner: &store::drafts::DraftOwner,
    ) -> Result<Vec<store::drafts::DraftSummary>, StoreError> {
        self.list_drafts(owner)
    }

    fn draft(
        &self,
        owner: &store::drafts::DraftOwner,
        id: i64,
    ) -> Result<Option<store::drafts::StoredDraft>, StoreError> {
        self.one_draft(owner, id)
    }

    fn notifications_read(&self, user_id: i64) -> Result<Option<i64>, StoreError> {
        self.read_marker(user_id)
    }

    fn changed_declarations(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<store::ChangedDeclarations, StoreError> {
        store::check_changes_limit(limit)?;
        // One statement, one snapshot: the head comes with every row (and alone when no
        // record is newer than `after`).
        let rows = self.query(
            "SELECT h.head, a.id, a.subject
             FROM (SELECT COALESCE(MAX(id), 0) AS head FROM audit_log) h
             LEFT JOIN LATERAL (
                 SELECT id, subject FROM audit_log
                 WHERE id > $1 AND subject LIKE 'declaration:%' ORDER BY id LIMIT $2
             ) a ON true
             ORDER BY a.id",
            vec![Box::new(after), Box::new(i64::from(limit))],
        )?;
        let head: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
        let found = rows.iter().filter_map(|r| {
            let id: Option<i64> = r.get(1);
            let subject: Option<String> = r.get(2);
            id.zip(subject)
        });
        store::changed_from_rows(after, head, found)
    }

    fn declaration_records(
        &self,
        range: store::activity::RecordRange,
        limit: u32,
    ) -> Result<store::activity::DeclarationRecords, StoreError> {
        use store::activity::RecordRange;
        store::activity::check_limit(limit)?;
        // One statement, one snapshot: the head comes with every row (and alone when no
        // record is in the range), as in `changed_declarations`.
        let (sql, bound) = match range {
            RecordRange::After(after) => (
                "SELECT h.head, a.id, a.at_ms, a.actor, a.action, a.subject, a.detail
                 FROM (SELECT COALESCE(MAX(id), 0) AS head FROM audit_log) h
                 LEFT JOIN LATERAL (
                     SELECT id, at_ms, actor, action, subject, detail FROM audit_log
                     WHERE id > $1 AND subject LIKE 'declaration:%' ORDER BY id LIMIT $2
                 ) a ON true
                 ORDER BY a.id",
                after,
            ),
            RecordRange::Before(before) => (
                "SELECT h.head, a.id, a.at_ms, a.actor, a.action, a.subject, a.detail
                 FROM (SELECT COALESCE(MAX(id), 0) AS head FROM audit_log) h
                 LEFT JOIN LATERAL (
                     SELECT id, at_ms, actor, action, subject, detail FROM audit_log
                     WHERE id < $1 AND subject LIKE 'declaration:%' ORDER BY id DESC LIMIT $2
                 ) a ON true
                 ORDER BY a.id",
                before,
            ),
        };
        let rows = self.query(sql, vec![Box::new(bound), Box::new(i64::from(limit))])?;
        let head: i64 = rows.first().map(|r| r.get(0)).unwrap_or(0);
        let mut records = Vec::new();
        for r in &rows {
            let Some(id) = r.get::<_, Option<i64>>(1) else {
                continue;
            };
            records.push(store::activity::record_from_row(
                id,
                r.get(2),
                r.get(3),
                r.get(4),
                &r.get::<_, String>(5),
                &r.get::<_, String>(6),
            )?);
        }
        Ok(store::activity::DeclarationRecords { records, head })
    }

    fn declaration_counts(&self, q: &CountQuery) -> Result<Vec<CountRow>, StoreError> {
        let mut sql = String::from(
            "SELECT declaration_office, status, lane, declaration_no IS NOT NULL AS numbered, count(*)
             FROM declarations WHERE submitted_at >= $1 AND submitted_at < $2",
        );
        let mut args: Vec<Box<dyn ToSql + Send + Sync>> =
            vec![Box::new(ms(q.from)), Box::new(ms(q.to))];
        if let Some(offices) = &q.offices {
            if offices.len() > OFFICES_MAX {
                return Err(StoreError::Invalid(format!(
                    "at most {OFFICES_MAX} offices in a filter"
                )));
            }
            if offices.is_empty() {
                return Ok(Vec::new());
            }
            let codes: Vec<String> = offices.iter().map(|o| o.to_string()).collect();
            args.push(Box::new(codes));
            sql.push_str(" AND declaration_office = ANY($3)");
        }
        sql.push_str(" GROUP BY declaration_office, status, lane, numbered");
        let rows = self.query_owned(sql, args)?;
        rows.iter()
            .map(|r| {
                let status: &str = r.get(1);
                let lane: Option<&str> = r.get(2);
                let count: i64 = r.get(4);
                Ok(CountRow {
                    office: OfficeCode::parse(r.get(0)).map_err(corrupt)?,
                    status: Status::parse(status)
                        .ok_or_else(|| corrupt(format!("status {status}")))?,
                    lane: lane
                        .map(|l| Lane::parse(l).ok_or_else(|| corrupt(format!("lane {l}"))))
                        .transpose()?,
                    numbered: r.get(3),
                    count: count as u64,
                })
            })
            .collect()
    }

    fn payment_notices(&self, id: DeclarationId) -> Result<Vec<StoredNotice>, StoreError> {
        let rows = self.query(
            "SELECT notice_no, tax, amount_fen, issued_at, paid_at, superseded_at, payment FROM payment_notices WHERE declaration_id = $1 ORDER BY notice_no",
            vec![Box::new(id.0)],
        )?;
        rows.iter()
            .map(|r| {
                let tax: String = r.get(1);
                Ok(StoredNotice {
                    notice_no: r.get(0),
                    declaration_id: id,
                    tax: serde_json::from_value::<TaxKind>(serde_json::Value::String(tax.clone()))
                        .map_err(|_| corrupt(format!("tax {tax}")))?,
                    amount_fen: Fen(r.get(2)),
                    issued_at: r.get(3),
                    paid_at: r.get(4),
                    superseded_at: r.get(5),
                    payment: r
                        .get::<_, Option<String>>(6)
                        .map(|p| {
                            serde_json::from_str(&p)
                                .map_err(|e| corrupt(format!("notice payment: {e}")))
                        })
                        .transpose()?,
                })
            })
            .collect()
    }

    fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError> {
        Ok(self
            .account(ACCOUNT_COLUMNS_BY_LOGIN, Box::new(login.to_owned()))?
            .map(|a| a.user))
    }

    fn verify_audit_with(&self, options: &store::VerifyOptions) -> Result<AuditReport, StoreError> {
        store::audit::verify_in_chunks(options, |after, limit| {
            let rows = self.query(
                "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2",
                vec![Box::new(after), Box::new(limit)],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), read_audit_row(r))).collect())
        })
    }

    fn audit_hashes(&self, from: i64, upto: i64) -> Result<Vec<[u8; 32]>, StoreError> {
        let rows = self.query(
            "SELECT id, hash FROM audit_log WHERE id >= $1 AND id <= $2 ORDER BY id",
            vec![Box::new(from), Box::new(upto)],
        )?;
        rows.iter()
            .map(|r| {
                let id: i64 = r.get(0);
                let hash: Vec<u8> = r.get(1);
                hash.try_into().map_err(|_| {
                    StoreError::Corrupt(format!("audit record {id}: hash is not 32 bytes"))
                })
            })
            .collect()
    }

    fn audit_record(&self, id: i64) -> Result<Option<AuditRecord>, StoreError> {
        let rows = self.query(
            "SELECT id, at_ms, actor, action, subject, detail, prev_hash, hash FROM audit_log WHERE id = $1",
            vec![Box::new(id)],
        )?;
        rows.first()
            .map(read_audit_row)
            .transpose()
            .map_err(|why| StoreError::Corrupt(format!("audit record {id}: {why}")))
    }

    fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError> {
        self.account(ACCOUNT_COLUMNS_BY_LOGIN, Box::new(login.to_owned()))
    }

    fn account_by_id(&self, user_id: i64) -> Result<Option<Account>, StoreError> {
        self.account(ACCOUNT_COLUMNS_BY_ID, Box::new(user_id))
    }

    fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        // One statement: the session and its user from the same snapshot.
        let rows = self.query(
            "SELECT u.id, u.login, u.role, u.office, u.uscc, u.duties, u.agency, u.password_hash,
                    u.disabled_at IS NOT NULL, u.must_change_password,
                    s.created_at, s.expires_at, s.revoked_at
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
            vec![Box::new(token_hash.to_owned())],
        )?;
        let Some(r) = rows.first() else {
            return Ok(None);
        };
        Ok(Some(SessionRecord {
            token_hash: token_hash.to_owned(),
            account: read_account(r)?,
            created_at: r.get(10),
            expires_at: r.get(11),
            revoked_at: r.get(12),
        }))
    }
}

fn read_audit_row(r: &Row) -> Result<AuditRecord, String> {
    let e = |e: tokio_postgres::Error| e.to_string();
    AuditRecord::from_columns(
        r.try_get(0).map_err(e)?,
        r.try_get(1).map_err(e)?,
        r.try_get(2).map_err(e)?,
        r.try_get(3).map_err(e)?,
        r.try_get(4).map_err(e)?,
        r.try_get(5).map_err(e)?,
        r.try_get(6).map_err(e)?,
        r.try_get(7).map_err(e)?,
    )
}
