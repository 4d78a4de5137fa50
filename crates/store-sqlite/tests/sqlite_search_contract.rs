//! The search contract (`store_contract::search_contract`: free text, sorting, pages with
//! totals, filters), run on the SQLite backend in a fresh temporary directory.

use store::Store;
use store_contract::search_contract::SearchHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl SearchHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Store> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

store_contract::search_contract_tests!(SqliteHarness {
    dir: tempfile::tempdir().expect("temporary directory"),
});
