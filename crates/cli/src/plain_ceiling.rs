//! The machine's storage ceilings for `jinguan bench http` (issue 16, PERFORMANCE.md): no
//! Jinguan code, only the database doing what a filing minimally needs: the same declaration
//! row (the body and state the store wrote for the benchmark's filing, the same columns and
//! indexes as the store's `declarations` table) plus one audit row, one writer, 100 rows per
//! transaction, durable commits.
//!
//! - SQLite: rusqlite, WAL, `synchronous=FULL`, one connection.
//! - PostgreSQL: tokio-postgres, one connection, `synchronous_commit=on`, each transaction's
//!   100 declarations and 100 audit rows as two multi-row `INSERT … SELECT FROM unnest(…)`.
//!
//! Both run for the same seconds as the other runs and print rows per second; the store's
//! rate over this is the ratio the performance targets ask for.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Declarations per transaction.
pub const PER_TRANSACTION: usize = 100;

/// The stored form of the filing the benchmark writes: what goes in each row.
pub struct Row {
    pub body: String,
    pub state: String,
    pub audit_detail: String,
}

/// What a ceiling run wrote.
pub struct Ceiling {
    pub rows: u64,
    pub seconds: f64,
}

impl Ceiling {
    pub fn rate(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

const SCHEMA: &str = "
    CREATE TABLE declarations (id {id}, pre_entry_no text NOT NULL UNIQUE, declaration_no text UNIQUE,
      declarant text NOT NULL, client_seq_no text NOT NULL, direction text NOT NULL,
      declaration_office text NOT NULL, status text NOT NULL, lane text,
      submitted_at bigint NOT NULL, updated_at bigint NOT NULL, version bigint NOT NULL,
      state {state} NOT NULL, body {body} NOT NULL);
    CREATE UNIQUE INDEX declarations_client_seq ON declarations (declarant, client_seq_no);
    CREATE INDEX declarations_status ON declarations (status, id);
    CREATE INDEX declarations_office ON declarations (declaration_office, id);
    CREATE INDEX declarations_declarant ON declarations (declarant, id);
    CREATE INDEX declarations_counted ON declarations (submitted_at, declaration_office, status, lane, declaration_no);
    CREATE TABLE audit_log (id bigint PRIMARY KEY, at_ms bigint NOT NULL, actor text NOT NULL,
      action text NOT NULL, subject text NOT NULL, detail text NOT NULL,
      prev_hash {bytes} NOT NULL, hash {bytes} NOT NULL);";

fn schema(id: &str, state: &str, body: &str, bytes: &str) -> String {
    SCHEMA
        .replace("{id}", id)
        .replace("{state}", state)
        .replace("{body}", body)
        .replace("{bytes}", bytes)
}

/// The varying columns of row `i`.
fn keys(i: u64) -> (String, String, String) {
    (
        format!("2233{:014}", 20_251_000_000_000 + i),
        format!("p-{i}"),
        format!("223320251{i:09}"),
    )
}

const DECLARANT: &str = "91310115MA1K4Q7B4Y";
const ACTOR: &str = "enterprise:91310115MA1K4Q7B4Y";

/// Plain SQLite in a fresh file of `dir`.
pub fn sqlite(dir: &Path, row: &Row, seconds: u64) -> anyhow::Result<Ceiling> {
    let mut c = rusqlite::Connection::open(dir.join("plain.db")).context("plain SQLite")?;
    let mode: String = c.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    anyhow::ensure!(mode.eq_ignore_ascii_case("wal"), "plain SQLite in WAL");
    c.execute_batch("PRAGMA synchronous=FULL;")?;
    c.execute_batch(&schema("INTEGER PRIMARY KEY", "text", "text", "blob"))?;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut i = 0u64;
    let hash = [7u8; 32];
    while Instant::now() < deadline {
        let tx = c.transaction()?;
        {
            let mut d = tx.prepare_cached(
                "INSERT INTO declarations (id, pre_entry_no, declaration_no, declarant, client_seq_no, direction, declaration_office, status, lane, submitted_at, updated_at, version, state, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'import', '2233', 'assessed', 'green', ?6, ?6, 2, ?7, ?8)",
            )?;
            let mut a = tx.prepare_cached(
                "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash)
                 VALUES (?1, ?2, ?3, 'submit_reviewed', ?4, ?5, ?6, ?6)",
            )?;
            for _ in 0..PER_TRANSACTION {
                i += 1;
                let (pre, seq, no) = keys(i);
                let now = chrono::Utc::now().timestamp_millis();
                d.execute(rusqlite::params![
                    i as i64, pre, no, DECLARANT, seq, now, row.state, row.body
                ])?;
                a.execute(rusqlite::params![
                    i as i64,
                    now,
                    ACTOR,
                    format!("declaration/{i}"),
                    row.audit_detail,
                    &hash[..]
                ])?;
            }
        }
        tx.commit()?;
    }
    Ok(Ceiling {
        rows: i,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Plain PostgreSQL in a fresh schema `schema` (dropped by the caller).
pub fn postgres(url: &str, schema_name: &str, row: &Row, seconds: u64) -> anyhow::Result<Ceiling> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (c, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        c.batch_execute(&format!(
            "CREATE SCHEMA {schema_name}; SET search_path = {schema_name}; SET synchronous_commit = on;"
        ))
        .await?;
        c.batch_execute(&schema("bigint PRIMARY KEY", "jsonb", "json", "bytea"))
            .await?;
        let d = c
            .prepare(
                "INSERT INTO declarations (id, pre_entry_no, declaration_no, declarant, client_seq_no, direction, declaration_office, status, lane, submitted_at, updated_at, version, state, body)
                 SELECT id, pre, no, $4, seq, 'import', '2233', 'assessed', 'green', $5, $5, 2, $6::text::jsonb, $7::text::json
                 FROM unnest($1::int8[], $2::text[], $3::text[], $8::text[]) AS t (id, pre, no, seq)",
            )
            .await?;
        let a = c
            .prepare(
                "INSERT INTO audit_log (id, at_ms, actor, action, subject, detail, prev_hash, hash)
                 SELECT id, $2, $3, 'submit_reviewed', subject, $4, $5, $5
                 FROM unnest($1::int8[], $6::text[]) AS t (id, subject)",
            )
            .await?;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let started = Instant::now();
        let mut i = 0u64;
        let hash = vec![7u8; 32];
        while Instant::now() < deadline {
            let (mut ids, mut pres, mut nos, mut seqs, mut subjects) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for _ in 0..PER_TRANSACTION {
                i += 1;
                let (pre, seq, no) = keys(i);
                ids.push(i as i64);
                pres.push(pre);
                nos.push(no);
                seqs.push(seq);
                subjects.push(format!("declaration/{i}"));
            }
            let now = chrono::Utc::now().timestamp_millis();
            let dp: [&(dyn tokio_postgres::types::ToSql + Sync); 8] =
                [&ids, &pres, &nos, &DECLARANT, &now, &row.state, &row.body, &seqs];
            let ap: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
                [&ids, &now, &ACTOR, &row.audit_detail, &hash, &subjects];
            let (b, x, y, e) = tokio::join!(
                biased;
                c.batch_execute("BEGIN"),
                c.execute(&d, &dp),
                c.execute(&a, &ap),
                c.batch_execute("COMMIT"),
            );
            b?;
            x?;
            y?;
            e?;
        }
        anyhow::Ok(Ceiling {
            rows: i,
            seconds: started.elapsed().as_secs_f64(),
        })
    })
}
