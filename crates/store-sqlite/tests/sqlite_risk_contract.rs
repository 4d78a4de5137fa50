//! The risk store contract (`store_contract::risk_contract`), run on the SQLite backend in a fresh
//! temporary directory per test.

use store::Store;
use store_contract::risk_contract::RiskHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl RiskHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

fn harness() -> SqliteHarness {
    SqliteHarness {
        dir: tempfile::tempdir().expect("temporary directory"),
    }
}

store_contract::risk_contract_tests!(harness());
