//! The E-Port exchange: every cross-agency record travels as a signed, versioned message.
//!
//! - [`message`]: [`Agency`], [`MessageId`] (`SENDER-SEQ`), [`Kind`] (`name.vN`), the payloads
//!   ([`DeclarationReleasedV1`], [`ExportClosedV1`], [`LicenceWrittenOffV1`]) and the
//!   [`Envelope`] with its JSON wire form.
//! - [`sign`]: SM2 with SM3 (default) and Ed25519 signatures over [`sign::signing_bytes`];
//!   [`SigningKey`], [`KeyRing`], [`sign()`](sign::sign) (one message, envelope version 1),
//!   [`sign_batch`](sign::sign_batch) (one signature per batch, version 2),
//!   [`verify`](sign::verify), [`verify_cached`](sign::verify_cached).
//! - [`batch`]: the Merkle tree of a batch signature, inclusion proofs, [`BatchCache`].
//! - [`outbox`]: the [`Outbox`] trait a store implements (rows written in the same transaction
//!   as the change), [`MemoryOutbox`].
//! - [`relay`]: [`Relay`], outbox → JetStream, retrying while the bus is down, never dropping.
//! - [`apply`]: [`Receiver`] (verify, refuse and log, apply once), the [`Apply`] trait of the
//!   agency ledgers, [`MemoryAppliedLog`], [`SqliteAppliedLog`].
//! - [`consumer`]: [`Consumer`], an agency's durable pull consumer with explicit acks.
//! - [`feed`]: [`FeedReader`], the cursor-paged read the HTTP feed serves when there is no bus.
//! - [`status`]: per-agency pending, delivered, failed, refused and lag.
//! - [`bus`]: subjects, the stream's configuration, connecting.
//!
//! Formats and choices are in `docs/EXCHANGE.md`.

pub mod apply;
pub mod batch;
pub mod bus;
pub mod consumer;
pub mod feed;
pub mod message;
pub mod outbox;
pub mod relay;
pub mod sign;
pub mod status;

pub use apply::{
    Apply, ApplyError, Disposition, MemoryAppliedLog, Outcome, Receiver, Refusal, SqliteAppliedLog,
    Verified,
};
pub use batch::{BatchCache, BatchProof};
pub use bus::BusConfig;
pub use consumer::{Consumer, ConsumerConfig, ConsumerStats};
pub use feed::{FeedCursor, FeedPage, FeedReader};
pub use message::{
    encode_payload, Agency, DeclarationReleasedV1, Envelope, ExportClosedV1, Kind,
    LicenceWrittenOffV1, MessageId, MessageType, Payload,
};
pub use outbox::{MemoryOutbox, Outbox, OutboxCounts, OutboxRecord};
pub use relay::{Relay, RelayConfig, RelayStats};
pub use sign::{Algorithm, KeyId, KeyRing, PublicKey, SigningKey, VerifyError};
pub use status::{AgencyStatus, ExchangeStatus};
