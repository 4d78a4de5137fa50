//! Customs statistics (E-HQ): a columnar warehouse fed from the ledger, the monthly bulletin,
//! analysts' queries. docs/STATISTICS.md is the user's side; here is the code's.
//!
//! - [`rows`]: pure — a declaration of the ledger → its statistical item rows (who counts, on
//!   which date, every dimension, CIF/FOB values in CNY and USD at the month's rate).
//! - [`extract`]: the ledger's changes since the cursor → Parquet, incremental, resumable,
//!   idempotent; amendments become revisions.
//! - [`warehouse`]: the folder (Hive partitions, `state.json`), atomic files, the DataFusion
//!   session and read-only SQL with a timeout.
//! - [`schema`]: the `items` table's Arrow/Parquet schema.
//! - [`dims`]: the dimension tables (names in both languages, HS sections, region groups).
//! - [`bulletin`]: the monthly bulletin, CSV and `.xlsx`.
//! - [`generate`]: national-scale rows for benchmarks.
//!
//! Only `cli` depends on this crate (the server reaches it through `app::warehouse`'s trait), so
//! DataFusion stays out of the server's build. Queries run on the warehouse's own runtime and
//! files, never on the transaction store's writer.

pub mod breakdown;
pub mod bulletin;
pub mod dims;
pub mod error;
pub mod extract;
pub mod generate;
pub mod rows;
pub mod schema;
pub mod warehouse;

/// The engine, for callers that print its record batches (one copy of arrow in the build).
pub use datafusion;
pub use error::StatsError;
pub use warehouse::{Answer, State, Warehouse};
