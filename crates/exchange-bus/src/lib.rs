//! The E-Port exchange on the bus: the IO side of the crate `exchange` (whose messages,
//! signatures, outbox trait and receiver are pure). This crate runs on tokio, talks to NATS
//! JetStream and keeps the agencies' applied logs in SQLite.
//!
//! - [`relay`]: [`Relay`], outbox → JetStream, retrying while the bus is down, never dropping.
//! - [`consumer`]: [`Consumer`], an agency's durable pull consumer with explicit acks, applying
//!   through [`exchange::Receiver`].
//! - [`applied_log`]: [`SqliteAppliedLog`], an agency's durable applied-once log.
//! - [`agency`]: a partner agency's receiver: its ledger (applied once, in SQLite), the bus or
//!   feed source, and the HTTP side (`jinguan agency`).
//! - [`agency_outbox`]: the agency's own records to customs: its outbox, `POST /records`, and
//!   the sender without a bus (`POST /api/exchange/inbound`); on the bus the [`Relay`].
//! - [`status`]: per-agency pending, delivered, failed, refused and lag.
//! - [`bus`]: subjects, the stream's configuration, connecting.
//!
//! Formats and choices are in `docs/EXCHANGE.md`.

pub mod agency;
pub mod agency_outbox;
pub mod applied_log;
pub mod bus;
pub mod consumer;
pub mod relay;
pub mod status;

pub use applied_log::{LogCounts, SqliteAppliedLog};
pub use bus::{BusConfig, NatsSecurity};
pub use consumer::{Consumer, ConsumerConfig, ConsumerStats};
pub use relay::{Relay, RelayConfig, RelayStats};
pub use status::{AgencyStatus, ExchangeStatus};
