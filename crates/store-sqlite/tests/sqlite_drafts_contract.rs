//! The drafts contract (`store_contract::drafts_contract`: drafts seen by their owner only,
//! versions, bounds, the notifications read marker), run on the SQLite backend in a fresh
//! temporary directory.

use store::Store;
use store_contract::drafts_contract::DraftsHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl DraftsHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

store_contract::drafts_contract_tests!(SqliteHarness {
    dir: tempfile::tempdir().expect("temporary directory"),
});
