//! The versions contract (`store_contract::versions_contract`: declaration versions, re-assessment notices), run on the SQLite backend in a fresh
//! temporary directory per test.

use store::Store;
use store_contract::versions_contract::VersionsHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl VersionsHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

fn harness() -> Option<SqliteHarness> {
    Some(SqliteHarness {
        dir: tempfile::tempdir().expect("temporary directory"),
    })
}

store_contract::versions_contract_tests!(harness());
