//! Plans that stay right as a fresh database fills (issue 16, item 3): the writer's statements
//! are prepared once, at start, on empty tables. A plan cached then must not decide how a
//! lookup runs at 50,000 rows. Here 50,000 declarations of ONE declarant are filed through the
//! store into an empty schema (so the `(declarant, id)` index, which a stale plan would walk
//! for every idempotency lookup, grows with every filing), and the rate must stay flat, and
//! the lookups must have probed the unique `(declarant, client_seq_no)` index only.
//!
//! This is a structural check, not a speed target: a plan that walks the declarant's rows
//! makes each lookup cost O(rows), so the last 10,000 take many times the first 10,000.
//! Needs `JINGUAN_TEST_POSTGRES_URL` (skipped without it, failed without it in CI).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use store::Store;
use store_contract::contract::{sample_body, submit_request};
use store_postgres::{PostgresOptions, PostgresStore};

const URL_VAR: &str = "JINGUAN_TEST_POSTGRES_URL";

fn url() -> Option<String> {
    let url = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty());
    if url.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
        assert!(
            !ci,
            "{URL_VAR} must be set in CI (.ci/run starts PostgreSQL)"
        );
        eprintln!("skipped: {URL_VAR} not set");
    }
    url
}

/// Statements run behind the store's back on a connection of their own.
struct Raw {
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Raw {
    fn connect(url: &str, schema: &str) -> Raw {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let client = rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect for raw SQL");
            tokio::spawn(connection);
            client
                .batch_execute(&format!("SET search_path = {schema}"))
                .await
                .expect("search path");
            client
        });
        Raw { rt, client }
    }

    fn batch(&self, sql: &str) {
        self.rt
            .block_on(self.client.batch_execute(sql))
            .expect("raw SQL");
    }

    /// How many index scans PostgreSQL counted on an index of the schema.
    fn index_scans(&self, schema: &str, index: &str) -> i64 {
        self.rt
            .block_on(self.client.query_one(
                "SELECT idx_scan FROM pg_stat_user_indexes WHERE schemaname = $1 AND indexrelname = $2",
                &[&schema, &index],
            ))
            .expect("index statistics")
            .get(0)
    }
}

const TOTAL: u64 = 50_000;
const BLOCK: u64 = 10_000;
const SUBMITTERS: u64 = 64;

#[test]
fn one_declarants_filings_stay_flat_on_a_fresh_database() {
    let Some(url) = url() else { return };
    let schema = format!("jinguan_test_plans_{}", std::process::id());
    let raw = Raw::connect(&url, "public");
    raw.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    let result = std::panic::catch_unwind(|| file_and_check(&url, &schema));
    raw.batch(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn file_and_check(url: &str, schema: &str) {
    let store = PostgresStore::open(
        url,
        PostgresOptions {
            schema: Some(schema.to_owned()),
            batch_max: 256,
            ..PostgresOptions::default()
        },
    )
    .expect("open store");

    // The same body for every filing: the lookup's cost, not JSON, is what is measured.
    let body = sample_body(7);
    // A quiet start, one filing at a time, as a new deployment sees: the statements run often
    // enough on the (nearly) empty table for a plan cache to settle on a generic plan.
    const QUIET: u64 = 20;
    for i in 0..QUIET {
        let r = submit_request(&format!("flat-{i:06}"), body.clone());
        store.submit(r).expect("filing written");
    }
    let next = AtomicU64::new(QUIET);
    let done = AtomicU64::new(QUIET);
    let start = Instant::now();
    let marks: Mutex<Vec<(u64, Duration)>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..SUBMITTERS {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= TOTAL {
                    break;
                }
                let r = submit_request(&format!("flat-{i:06}"), body.clone());
                let written = store.submit(r).expect("filing written");
                assert!(!written.replayed);
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(BLOCK) {
                    marks.lock().unwrap().push((n, start.elapsed()));
                }
            });
        }
    });
    let mut marks = marks.into_inner().unwrap();
    marks.sort_unstable();
    assert_eq!(marks.len() as u64, TOTAL / BLOCK);
    let mut previous = Duration::ZERO;
    let blocks: Vec<Duration> = marks
        .iter()
        .map(|&(_, at)| {
            let d = at - previous;
            previous = at;
            d
        })
        .collect();
    eprintln!("time per {BLOCK} filings of one declarant, in order: {blocks:?}");
    let first = blocks[0];
    let last = *blocks.last().unwrap();
    assert!(
        last <= first * 2,
        "the last {BLOCK} filings took {last:?}, the first {first:?}: a lookup grows with the rows"
    );

    // A retry is still answered from the stored row, through the unique index.
    let again = store
        .submit(submit_request("flat-000000", body.clone()))
        .unwrap();
    assert!(again.replayed);
    // Closing the store ends its connections, which flushes their index statistics.
    drop(store);
    let raw = Raw::connect(url, schema);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut unique = 0;
    while Instant::now() < deadline {
        unique = raw.index_scans(schema, "declarations_client_seq");
        if unique >= (TOTAL + 1) as i64 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let by_declarant = raw.index_scans(schema, "declarations_declarant");
    eprintln!("index scans: (declarant, client_seq_no) {unique}, (declarant, id) {by_declarant}");
    // The first groups, on a table of a few pages, may be planned either way (both are cheap
    // there); a plan kept from then would walk the declarant's rows for every lookup.
    assert!(
        unique >= (TOTAL * 9 / 10) as i64,
        "the idempotency keys were probed in the unique index: {unique} scans"
    );
    assert!(
        by_declarant <= (TOTAL / 100) as i64,
        "lookups walked the declarant's rows through (declarant, id): {by_declarant} scans"
    );
}
