//! Powers of attorney and the case register (`store_contract::parties_contract`), run on the
//! SQLite backend in a fresh temporary directory per test.

use store::Store;
use store_contract::parties_contract::PartiesHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl PartiesHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

fn harness() -> Option<SqliteHarness> {
    Some(SqliteHarness {
        dir: tempfile::tempdir().expect("temporary directory"),
    })
}

store_contract::parties_contract_tests!(harness());
