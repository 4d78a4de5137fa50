//! The daily aggregates' contract (`store_contract::daily_contract`: the dashboard's
//! aggregates equal a recount after a mixed day), run on the SQLite backend in a fresh
//! temporary directory.

use store::Store;
use store_contract::daily_contract::DailyHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl DailyHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

store_contract::daily_contract_tests!(SqliteHarness {
    dir: tempfile::tempdir().expect("temporary directory"),
});
