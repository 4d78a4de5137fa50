//! The outbox contract (`store_contract::outbox_contract`), run on the SQLite backend in a fresh
//! temporary directory per test.

use store::Store;
use store_contract::outbox_contract::OutboxHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl OutboxHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

fn harness() -> SqliteHarness {
    SqliteHarness {
        dir: tempfile::tempdir().expect("temporary directory"),
    }
}

store_contract::outbox_contract_tests!(harness());
