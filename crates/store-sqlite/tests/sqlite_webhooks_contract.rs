//! The webhooks contract (`store_contract::webhooks_contract`: subscriptions, cursors, delivery log), run on the SQLite backend in a fresh
//! temporary directory per test.

use store::Store;
use store_contract::webhooks_contract::WebhooksHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl WebhooksHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

fn harness() -> Option<SqliteHarness> {
    Some(SqliteHarness {
        dir: tempfile::tempdir().expect("temporary directory"),
    })
}

store_contract::webhooks_contract_tests!(harness());
