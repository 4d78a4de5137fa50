//! The finance store contract (`store_contract::finance_contract`: refund claims, bank records), run on the SQLite backend in a fresh
//! temporary directory per test.

use store::Store;
use store_contract::finance_contract::FinanceHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl FinanceHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

fn harness() -> Option<SqliteHarness> {
    Some(SqliteHarness {
        dir: tempfile::tempdir().expect("temporary directory"),
    })
}

store_contract::finance_contract_tests!(harness());
