//! The guarantee ledger's contract (`store_contract::guarantee_contract`), run on the SQLite
//! backend in a fresh temporary directory per test.

use store::cargo::Ledgers;
use store_contract::guarantee_contract::GuaranteeHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl GuaranteeHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Ledgers> {
        Box::new(SqliteStore::open(self.dir.path(), SqliteOptions::default()).expect("open store"))
    }
}

fn harness() -> Option<SqliteHarness> {
    Some(SqliteHarness {
        dir: tempfile::tempdir().expect("temporary directory"),
    })
}

store_contract::guarantee_contract_tests!(harness());
