//! The E-Port exchange's messages: every cross-agency record travels as a signed, versioned
//! message. Pure: no IO runtime, no bus client, no SQL, no clock read (`clippy.toml`), so that
//! `app` can build and sign messages without pulling any of them in. The IO side (the relay to
//! NATS JetStream, consumers, the durable applied log, status) is the crate `exchange-bus`.
//!
//! - [`message`]: [`Agency`], [`MessageId`] (`SENDER-SEQ`), [`Kind`] (`name.vN`), the payloads
//!   ([`DeclarationReleasedV1`], [`ExportClosedV1`], [`LicenceWrittenOffV1`], [`DutyPaidV1`]) and the
//!   [`Envelope`] with its JSON wire form.
//! - [`sign`]: SM2 with SM3 (default) and Ed25519 signatures over [`sign::signing_bytes`];
//!   [`SigningKey`], [`KeyRing`], [`sign()`](sign::sign) (one message, envelope version 1),
//!   [`sign_batch`](sign::sign_batch) (one signature per batch, version 2),
//!   [`verify`](sign::verify), [`verify_cached`](sign::verify_cached).
//! - [`batch`]: the Merkle tree of a batch signature, inclusion proofs, [`BatchCache`].
//! - [`outbox`]: the [`Outbox`] trait a store implements (rows written in the same transaction
//!   as the change), [`MemoryOutbox`], and the envelopes of rows
//!   ([`envelopes_of`](outbox::envelopes_of)).
//! - [`apply`]: [`Receiver`] (verify, refuse and log, apply once), the [`Apply`] trait of the
//!   agency ledgers, [`MemoryAppliedLog`].
//! - [`feed`]: [`FeedReader`], the cursor-paged read the HTTP feed serves when there is no bus.
//!
//! Formats and choices are in `docs/EXCHANGE.md`.

pub mod apply;
pub mod batch;
pub mod feed;
pub mod message;
pub mod outbox;
pub mod sign;

pub use apply::{
    check_envelope, Apply, ApplyError, Disposition, MemoryAppliedLog, Outcome, Receiver, Refusal,
    Verified,
};
pub use batch::{BatchCache, BatchProof};
pub use feed::{FeedCursor, FeedPage, FeedReader};
pub use message::{
    encode_payload, Agency, BankRecordV1, DeclarationReleasedV1, DutyPaidV1, DutyRefundedV1,
    Envelope, ExportClosedV1, GuaranteeEnforcedV1, Kind, LicenceIssuedV1, LicenceWithdrawnV1,
    LicenceWrittenOffV1, MessageId, MessageType, Payload, RefundPaidV1, RegistryUpdatedV1,
};
pub use outbox::{MemoryOutbox, Outbox, OutboxCounts, OutboxRecord};
pub use sign::{Algorithm, KeyId, KeyRing, PublicKey, SigningKey, Validity, VerifyError};
