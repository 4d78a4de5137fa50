//! The cargo contract (`store_contract::cargo_contract`), run on the SQLite backend in a fresh temporary
//! directory per test.

use store::cargo::Ledgers;
use store_contract::cargo_contract::CargoHarness;
use store_sqlite::{SqliteOptions, SqliteStore};

struct SqliteHarness {
    dir: tempfile::TempDir,
}

impl CargoHarness for SqliteHarness {
    fn open(&self) -> Box<dyn Ledgers> {
        let options = SqliteOptions {
            batch_max: 8,
            ..SqliteOptions::default()
        };
        Box::new(SqliteStore::open(self.dir.path(), options).expect("open store"))
    }
}

store_contract::cargo_contract_tests!(Some(SqliteHarness {
    dir: tempfile::tempdir().expect("temporary directory"),
}));
