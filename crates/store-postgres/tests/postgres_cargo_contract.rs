//! The cargo contract (`store_contract::cargo_contract`) on PostgreSQL, each test in a fresh schema of
//! the database named by `JINGUAN_TEST_POSTGRES_URL` (CI:
//! `postgres://postgres@127.0.0.1:5432/test`), dropped after. Without the variable every test
//! here says it was skipped and returns.

use std::sync::atomic::{AtomicU64, Ordering};

use store::cargo::Ledgers;
use store_contract::cargo_contract::CargoHarness;
use store_postgres::{PostgresOptions, PostgresStore};

const URL_VAR: &str = "JINGUAN_TEST_POSTGRES_URL";

struct PgCargoHarness {
    url: String,
    schema: String,
}

/// A harness on a schema of its own, or `None` (after saying so) when no server is configured.
fn pg_harness() -> Option<PgCargoHarness> {
    let Some(url) = std::env::var(URL_VAR).ok().filter(|u| !u.is_empty()) else {
        // CI runs every test (scripts/test): there a missing server is a failure.
        let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
        assert!(
            !ci,
            "{URL_VAR} must be set in CI (.ci/run starts PostgreSQL)"
        );
        eprintln!("skipped: {URL_VAR} not set");
        return None;
    };
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    let schema = format!(
        "jinguan_cargo_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Some(PgCargoHarness { url, schema })
}

impl CargoHarness for PgCargoHarness {
    fn open(&self) -> Box<dyn Ledgers> {
        let options = PostgresOptions {
            schema: Some(self.schema.clone()),
            batch_max: 8,
            readers_max: 2,
            ..PostgresOptions::default()
        };
        Box::new(PostgresStore::open(&self.url, options).expect("open store"))
    }
}

impl Drop for PgCargoHarness {
    fn drop(&mut self) {
        // Best effort: a test that failed before opening has no schema to drop.
        let (schema, url) = (self.schema.clone(), self.url.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                if let Ok((client, connection)) =
                    tokio_postgres::connect(&url, tokio_postgres::NoTls).await
                {
                    tokio::spawn(connection);
                    let _ = client
                        .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .await;
                }
            })
        })
        .join();
    }
}

store_contract::cargo_contract_tests!(pg_harness());
