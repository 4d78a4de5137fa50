//! The message model: [`Agency`], [`MessageId`], [`Kind`], the versioned payloads
//! ([`DeclarationReleasedV1`], [`ExportClosedV1`], [`LicenceWrittenOffV1`]) and the [`Envelope`]
//! that carries one of them, with its signature, between agencies.
//!
//! The envelope's wire form is one JSON object (documented in `docs/EXCHANGE.md`). The payload
//! travels inside it as a JSON *string* holding the compact JSON of the payload struct, so that
//! the bytes that were signed are exactly the bytes received: nobody re-serialises them.
//! Version 1 envelopes carry their own signature; version 2 envelopes carry their batch's
//! signature and their inclusion proof in it (`signature.batch`, [`crate::batch`]).

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use domain::codes::{CurrencyCode, DeclarationNo, HsCode, UnitCode, Uscc};
use domain::money::Fen;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::batch::{BatchProof, Digest, PROOF_LEN_MAX};
use crate::sign::{Algorithm, KeyId};

/// Envelope format 1: one signature per message ([`crate::sign::sign`]). Still read and
/// verified; [`Envelope::new`] builds this version.
pub const ENVELOPE_VERSION_SINGLE: u32 = 1;
/// Envelope format 2: one signature per batch, each message carrying the batch signature and
/// its inclusion proof ([`crate::sign::sign_batch`]). What the relay and the feed send.
pub const ENVELOPE_VERSION_BATCH: u32 = 2;
/// The newest version of the envelope format this build reads and writes.
pub const ENVELOPE_VERSION: u32 = ENVELOPE_VERSION_BATCH;
/// At most this many bytes of payload in one message.
pub const PAYLOAD_BYTES_MAX: usize = 256 * 1024;
/// At most this many bytes of one envelope on the wire (payload, escaping, signature, fields).
pub const WIRE_BYTES_MAX: usize = 2 * PAYLOAD_BYTES_MAX + 4096;
/// At most this many recipients of one message.
pub const RECIPIENTS_MAX: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("agency code {0:?}: 2 to 16 characters from A-Z, 0-9 and _")]
    Agency(String),
    #[error("message id {0:?}: expected SENDER-SEQUENCE")]
    MessageId(String),
    #[error("message kind {0:?}: expected name.vN, name from a-z, 0-9 and _")]
    Kind(String),
    #[error("key id {0:?}: 1 to 64 characters from A-Z, a-z, 0-9, '.', '_' and '-'")]
    KeyId(String),
    #[error("a message needs 1 to {RECIPIENTS_MAX} distinct recipients")]
    Recipients,
    #[error("payload of {0} bytes exceeds {PAYLOAD_BYTES_MAX}")]
    PayloadTooLarge(usize),
    #[error("envelope of {0} bytes exceeds {WIRE_BYTES_MAX}")]
    WireTooLarge(usize),
    #[error("envelope version {0} is not supported (this build reads 1 to {ENVELOPE_VERSION})")]
    Version(u32),
    #[error("malformed envelope: {0}")]
    Malformed(String),
    #[error("the message id names {id_sender}, the envelope's sender is {sender}")]
    SenderMismatch { id_sender: String, sender: String },
    #[error("payload of kind {kind}: {reason}")]
    Payload { kind: String, reason: String },
    #[error("unknown message kind {0}")]
    UnknownKind(String),
}

/// An agency of the E-Port, as a code: `CUSTOMS`, `COMMERCE`, `TAX`, `FOREX`, `MARKET`,
/// `TRANSPORT`, or any other the operators register. It is a token of NATS subjects and the
/// name of the agency's durable consumer, hence the narrow alphabet.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Agency(String);

impl Agency {
    pub fn parse(s: &str) -> Result<Agency, MessageError> {
        let ok = (2..=16).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Agency(s.to_owned()))
        } else {
            Err(MessageError::Agency(s.to_owned()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Agency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Agency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Agency({})", self.0)
    }
}

/// The id of a message: its sender and the sender's outbox sequence, `CUSTOMS-42`. Unique
/// (one outbox per sender, sequences never reused) and stable: a retry of the same outbox row
/// carries the same id, which is what both JetStream's de-duplication and the consumers'
/// applied-once log key on.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct MessageId {
    sender: Agency,
    seq: u64,
}

impl MessageId {
    pub fn new(sender: Agency, seq: u64) -> MessageId {
        MessageId { sender, seq }
    }
    pub fn parse(s: &str) -> Result<MessageId, MessageError> {
        let bad = || MessageError::MessageId(s.to_owned());
        let (sender, seq) = s.rsplit_once('-').ok_or_else(bad)?;
        let sender = Agency::parse(sender).map_err(|_| bad())?;
        // Digits only, no sign, no leading zero: one text per id.
        if seq.is_empty() || !seq.bytes().all(|b| b.is_ascii_digit()) || seq.starts_with('0') {
            return Err(bad());
        }
        let seq = seq.parse().map_err(|_| bad())?;
        Ok(MessageId { sender, seq })
    }
    pub fn sender(&self) -> &Agency {
        &self.sender
    }
    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.sender, self.seq)
    }
}

/// A versioned message type, `declaration_released.v1`. A new version of a payload is a new
/// kind; consumers are upgraded before senders start sending it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Kind(String);

impl Kind {
    pub fn parse(s: &str) -> Result<Kind, MessageError> {
        let bad = || MessageError::Kind(s.to_owned());
        let (name, version) = s.rsplit_once(".v").ok_or_else(bad)?;
        let name_ok = !name.is_empty()
            && name.len() <= 48
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        let version_ok = !version.is_empty()
            && version.len() <= 4
            && version.bytes().all(|b| b.is_ascii_digit())
            && !version.starts_with('0');
        if name_ok && version_ok {
            Ok(Kind(s.to_owned()))
        } else {
            Err(bad())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! serde_via_parse {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_parse!(Agency);
serde_via_parse!(MessageId);
serde_via_parse!(Kind);

// ---------------------------------------------------------------------------------------------
// Payloads

/// A payload type: its kind names it on the wire.
pub trait MessageType: Serialize + for<'de> Deserialize<'de> {
    /// `name.vN`.
    const KIND: &'static str;
}

/// Customs released a declaration (放行). To: commerce (licence write-off), forex, tax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclarationReleasedV1 {
    pub declaration_no: DeclarationNo,
    pub declarant: Uscc,
    pub released_at: DateTime<Utc>,
    pub items: Vec<ReleasedItemV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReleasedItemV1 {
    /// 1-based item number on the declaration.
    pub item_no: u32,
    pub hs_code: HsCode,
    pub quantity: Decimal,
    pub unit: UnitCode,
    /// The licence written off by this item, when the goods need one.
    pub licence_no: Option<String>,
}

impl MessageType for DeclarationReleasedV1 {
    const KIND: &'static str = "declaration_released.v1";
}

/// Customs closed an export declaration (结关): the record the tax agency matches export tax
/// refund claims against. To: tax, forex. This is the exit-confirmed message: an export closes
/// only when a departed export manifest listing its bill confirms its exit (at the departure,
/// or an officer naming that manifest), so no separate `exit_confirmed` kind is sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportClosedV1 {
    pub declaration_no: DeclarationNo,
    pub declarant: Uscc,
    pub closed_at: DateTime<Utc>,
    pub currency: CurrencyCode,
    pub items: Vec<ExportItemV1>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportItemV1 {
    pub item_no: u32,
    pub hs_code: HsCode,
    pub quantity: Decimal,
    pub unit: UnitCode,
    /// FOB value in the declaration's currency, exact decimal.
    pub fob_value: Decimal,
    /// The same in yuan, as fen, at the rate of the declaration.
    pub fob_value_fen: Fen,
}

impl MessageType for ExportClosedV1 {
    const KIND: &'static str = "export_closed.v1";
}

/// A tax officer approved a refund of duties or taxes paid in excess (退还多缴税款), found by
/// re-assessing a new version of the declaration (docs/TAX.md "Re-assessment"). To: tax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutyRefundedV1 {
    /// `<declaration no>-<tax>-R<version>`.
    pub refund_no: String,
    pub declaration_no: DeclarationNo,
    pub declarant: Uscc,
    /// The tax kind refunded (`duty`, `vat`, ...).
    pub tax: String,
    pub amount_fen: Fen,
    /// Interest at the demand-deposit rate (taxpayer requests; zero when customs found it).
    pub interest_fen: Fen,
    pub interest_days: i64,
    /// `customs_found` or `taxpayer`.
    pub origin: String,
    pub approved_at: DateTime<Utc>,
}

impl MessageType for DutyRefundedV1 {
    const KIND: &'static str = "duty_refunded.v1";
}

/// Part of a licence's quantity was written off against a released declaration (核销). Sent
/// by the E-Port's licence ledger to COMMERCE, the issuing agency, in the transaction of the
/// write-off (`store::licence_message`, which writes these fields in this order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceWrittenOffV1 {
    pub licence_no: String,
    pub holder: Uscc,
    pub declaration_no: DeclarationNo,
    pub hs_code: HsCode,
    pub quantity: Decimal,
    pub unit: UnitCode,
    /// What is left of the licence after this write-off.
    pub quantity_left: Decimal,
    pub written_off_at: DateTime<Utc>,
}

impl MessageType for LicenceWrittenOffV1 {
    const KIND: &'static str = "licence_written_off.v1";
}

/// Customs enforced a guarantee against the bank that issued it (担保索赔): an amount it
/// secured (a declaration's notices released against it, or a transit's estimated duties) fell
/// due unpaid. To: the banks (the payload names the issuing bank), tax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuaranteeEnforcedV1 {
    pub guarantee_id: String,
    /// The issuing bank (its user code).
    pub bank: String,
    pub holder: Uscc,
    /// The declaration number or the transit number the reservation secured.
    pub reference: String,
    /// `release` or `transit`.
    pub purpose: String,
    pub amount_fen: Fen,
    pub due_on: chrono::NaiveDate,
    pub enforced_at: DateTime<Utc>,
}

impl MessageType for GuaranteeEnforcedV1 {
    const KIND: &'static str = "guarantee_enforced.v1";
}

/// A bank confirmed the payment of a payment notice (缴款书), tax plus late payment surcharge
/// (滞纳金): what the tax agency books as duties and taxes paid. To: tax.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutyPaidV1 {
    pub declaration_no: DeclarationNo,
    pub declarant: Uscc,
    pub notice_no: String,
    /// The tax or fee of the notice (`duty`, `vat`, `consumption_tax`, ...).
    pub tax: String,
    pub tax_fen: Fen,
    pub surcharge_fen: Fen,
    /// `tax_fen + surcharge_fen`: what the bank collected.
    pub paid_fen: Fen,
    /// The bank user's code and its own reference (unique per bank).
    pub bank: String,
    pub bank_reference: String,
    /// The customs (China) day of the payment.
    pub paid_on: chrono::NaiveDate,
    pub paid_at: DateTime<Utc>,
}

impl MessageType for DutyPaidV1 {
    const KIND: &'static str = "duty_paid.v1";
}

/// Customs' signed head of its audit log (docs/OPERATIONS.md "Audit anchors"): record `seq` has
/// chain hash `hash`, and `root` is the RFC 9162 Merkle root over records 1..=`seq`, signed with
/// customs' exchange key. The JSON is `store::SignedHead`'s, field for field, so an agency keeps
/// the payload as the head to check inclusion proofs against (`jinguan audit check-proof`).
/// To: every agency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditHeadPublishedV1 {
    pub seq: i64,
    pub hash: String,
    pub at_ms: i64,
    pub key: String,
    pub signature: String,
    pub root: String,
}

impl MessageType for AuditHeadPublishedV1 {
    const KIND: &'static str = "audit_head_published.v1";
}

// ---------------------------------------------------------------------------------------------
// The agencies' own records, sent to customs (docs/EXCHANGE.md "The reverse direction").
// Customs applies each through the same use case as its HTTP API, as the sending agency.

/// The commerce agency (or the development-and-reform commission, for the tariff-quota
/// certificates it allocates) issued a licence (许可证). To: CUSTOMS. The fields of the
/// licence desk's `POST /api/eport/licences` body (`app::eport_desk::LicenceRequest`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceIssuedV1 {
    pub licence_no: String,
    /// `import`, `export` or `tariff_quota`.
    pub kind: String,
    pub holder: Uscc,
    /// An HS code or a prefix of one (2 to 10 digits).
    pub commodity: String,
    /// A 3-digit unit code.
    pub unit: String,
    pub quantity: Decimal,
    pub valid_from: chrono::NaiveDate,
    pub valid_to: chrono::NaiveDate,
}

impl MessageType for LicenceIssuedV1 {
    const KIND: &'static str = "licence_issued.v1";
}

/// The market-regulation agency recorded an enterprise in its registry (registered or
/// deregistered). To: CUSTOMS. What the registry desk's `PUT /api/eport/registry/{uscc}` takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryUpdatedV1 {
    pub uscc: Uscc,
    pub name: String,
    /// `active` or `deregistered`.
    pub status: String,
}

impl MessageType for RegistryUpdatedV1 {
    const KIND: &'static str = "registry_updated.v1";
}

/// A bank recorded a receipt (export proceeds) or a payment (import payment) of an enterprise.
/// To: CUSTOMS. What a bank user's `POST /api/eport/bank-records` takes; the bank is the
/// sender (its user, `bank-boc` for `BANK_BOC`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankRecordV1 {
    /// `receipt` or `payment`.
    pub kind: String,
    pub uscc: Uscc,
    pub amount: Decimal,
    pub currency: CurrencyCode,
    pub value_date: chrono::NaiveDate,
    /// The bank's own reference, unique per bank.
    pub bank_ref: String,
    pub declaration_no: Option<DeclarationNo>,
}

impl MessageType for BankRecordV1 {
    const KIND: &'static str = "bank_record.v1";
}

/// The issuing agency withdrew a licence or a tariff-quota certificate (撤销许可证). To:
/// CUSTOMS. What the licence desk's `POST /api/eport/licences/{licence_no}/withdrawal` takes;
/// the sender must be the licence's issuer. From then on no filing may name it and no
/// declaration filed on it is released.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LicenceWithdrawnV1 {
    pub licence_no: String,
    /// Why, in the agency's words (1 to 500 characters).
    pub reason: String,
    /// When the agency withdrew it.
    pub withdrawn_at: DateTime<Utc>,
}

impl MessageType for LicenceWithdrawnV1 {
    const KIND: &'static str = "licence_withdrawn.v1";
}

/// The tax agency paid the export tax refund of a verified claim (退税款已退付). To: CUSTOMS.
/// What `POST /api/eport/refund-claims/{declaration_no}/{item_no}/payment` takes. A claim is
/// paid once; the declaration is not amended or cancelled afterwards.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundPaidV1 {
    pub declaration_no: DeclarationNo,
    /// 1-based item number of the claim.
    pub item_no: u32,
    /// In yuan, as fen.
    pub amount_fen: Fen,
    pub paid_on: chrono::NaiveDate,
    /// The treasury's or bank's reference of the transfer.
    pub bank_reference: String,
}

impl MessageType for RefundPaidV1 {
    const KIND: &'static str = "refund_paid.v1";
}

/// The payloads this build knows, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    DeclarationReleasedV1(DeclarationReleasedV1),
    ExportClosedV1(ExportClosedV1),
    LicenceWrittenOffV1(LicenceWrittenOffV1),
    GuaranteeEnforcedV1(GuaranteeEnforcedV1),
    DutyRefundedV1(DutyRefundedV1),
    DutyPaidV1(DutyPaidV1),
    AuditHeadPublishedV1(AuditHeadPublishedV1),
    LicenceIssuedV1(LicenceIssuedV1),
    RegistryUpdatedV1(RegistryUpdatedV1),
    BankRecordV1(BankRecordV1),
    LicenceWithdrawnV1(LicenceWithdrawnV1),
    RefundPaidV1(RefundPaidV1),
}

/// The canonical payload bytes of a typed message: compact JSON, fields in the order the
/// struct declares them (serde_json's output for our own types is deterministic).
pub fn encode_payload<T: MessageType>(payload: &T) -> Result<(Kind, Vec<u8>), MessageError> {
    let kind = Kind::parse(T::KIND)?;
    let bytes = serde_json::to_vec(payload).map_err(|e| MessageError::Payload {
        kind: T::KIND.to_owned(),
        reason: e.to_string(),
    })?;
    if bytes.len() > PAYLOAD_BYTES_MAX {
        return Err(MessageError::PayloadTooLarge(bytes.len()));
    }
    Ok((kind, bytes))
}

fn decode<T: MessageType>(bytes: &[u8]) -> Result<T, MessageError> {
    serde_json::from_slice(bytes).map_err(|e| MessageError::Payload {
        kind: T::KIND.to_owned(),
        reason: e.to_string(),
    })
}

impl Payload {
    pub fn decode(kind: &Kind, bytes: &[u8]) -> Result<Payload, MessageError> {
        Ok(match kind.as_str() {
            DeclarationReleasedV1::KIND => Payload::DeclarationReleasedV1(decode(bytes)?),
            ExportClosedV1::KIND => Payload::ExportClosedV1(decode(bytes)?),
            LicenceWrittenOffV1::KIND => Payload::LicenceWrittenOffV1(decode(bytes)?),
            GuaranteeEnforcedV1::KIND => Payload::GuaranteeEnforcedV1(decode(bytes)?),
            DutyRefundedV1::KIND => Payload::DutyRefundedV1(decode(bytes)?),
            DutyPaidV1::KIND => Payload::DutyPaidV1(decode(bytes)?),
            AuditHeadPublishedV1::KIND => Payload::AuditHeadPublishedV1(decode(bytes)?),
            LicenceIssuedV1::KIND => Payload::LicenceIssuedV1(decode(bytes)?),
            RegistryUpdatedV1::KIND => Payload::RegistryUpdatedV1(decode(bytes)?),
            BankRecordV1::KIND => Payload::BankRecordV1(decode(bytes)?),
            LicenceWithdrawnV1::KIND => Payload::LicenceWithdrawnV1(decode(bytes)?),
            RefundPaidV1::KIND => Payload::RefundPaidV1(decode(bytes)?),
            other => return Err(MessageError::UnknownKind(other.to_owned())),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Envelope

/// A signature as carried: algorithm, the signer's key id, and the signature bytes (SM2: r‖s,
/// 64 bytes; Ed25519: R‖S, 64 bytes), hex on the wire. In a version 2 envelope the value
/// signs the batch root ([`crate::batch::root_bytes`]) and `batch` says where the message
/// sits in that batch; in version 1 it signs the message itself and `batch` is `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureField {
    pub algorithm: Algorithm,
    pub key_id: KeyId,
    pub value: Vec<u8>,
    pub batch: Option<BatchProof>,
}

/// One message between agencies. Built from an outbox row by [`Envelope::new`], signed by
/// [`crate::sign::sign`], checked by [`crate::sign::verify`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub version: u32,
    pub id: MessageId,
    pub kind: Kind,
    pub sender: Agency,
    pub recipients: Vec<Agency>,
    /// Always whole milliseconds (the signed text has millisecond precision).
    pub created_at: DateTime<Utc>,
    pub payload: Vec<u8>,
    pub signature: Option<SignatureField>,
}

/// Truncate to whole milliseconds, the precision of the signed timestamp.
pub fn to_millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// The one text of a timestamp in signed bytes and on the wire: RFC 3339, milliseconds, `Z`.
pub fn timestamp_text(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Envelope {
    /// An unsigned envelope (version 1; [`crate::sign::sign_batch`] makes it version 2). The
    /// id's sender is the sender.
    pub fn new(
        id: MessageId,
        kind: Kind,
        recipients: Vec<Agency>,
        created_at: DateTime<Utc>,
        payload: Vec<u8>,
    ) -> Result<Envelope, MessageError> {
        let e = Envelope {
            version: ENVELOPE_VERSION_SINGLE,
            sender: id.sender().clone(),
            id,
            kind,
            recipients,
            created_at: to_millis(created_at),
            payload,
            signature: None,
        };
        e.check()?;
        Ok(e)
    }

    /// The rules every envelope obeys, on building and on receipt.
    fn check(&self) -> Result<(), MessageError> {
        if !(ENVELOPE_VERSION_SINGLE..=ENVELOPE_VERSION).contains(&self.version) {
            return Err(MessageError::Version(self.version));
        }
        // Version 1 is signed alone, version 2 by batch: the proof is there exactly when the
        // version says so (the version is inside the signed bytes too).
        if let Some(s) = &self.signature {
            if s.batch.is_some() != (self.version == ENVELOPE_VERSION_BATCH) {
                return Err(MessageError::Malformed(format!(
                    "a version {} envelope {} a batch proof",
                    self.version,
                    if s.batch.is_some() {
                        "carries"
                    } else {
                        "lacks"
                    }
                )));
            }
        }
        if self.id.sender() != &self.sender {
            return Err(MessageError::SenderMismatch {
                id_sender: self.id.sender().to_string(),
                sender: self.sender.to_string(),
            });
        }
        let mut r = self.recipients.clone();
        r.sort();
        r.dedup();
        if r.is_empty() || r.len() > RECIPIENTS_MAX || r.len() != self.recipients.len() {
            return Err(MessageError::Recipients);
        }
        if self.payload.len() > PAYLOAD_BYTES_MAX {
            return Err(MessageError::PayloadTooLarge(self.payload.len()));
        }
        if std::str::from_utf8(&self.payload).is_err() {
            return Err(MessageError::Malformed("payload is not UTF-8".into()));
        }
        Ok(())
    }

    /// Decode the payload into the type its kind names.
    pub fn payload(&self) -> Result<Payload, MessageError> {
        Payload::decode(&self.kind, &self.payload)
    }

    /// The JSON wire form.
    pub fn to_wire(&self) -> Vec<u8> {
        let wire = Wire {
            version: self.version,
            id: self.id.clone(),
            kind: self.kind.clone(),
            sender: self.sender.clone(),
            recipients: self.recipients.clone(),
            created_at: timestamp_text(&self.created_at),
            // `check` guarantees UTF-8.
            payload: String::from_utf8_lossy(&self.payload).into_owned(),
            signature: self.signature.as_ref().map(|s| WireSignature {
                algorithm: s.algorithm,
                key_id: s.key_id.clone(),
                value: hex::encode(&s.value),
                batch: s.batch.as_ref().map(|b| WireBatch {
                    size: b.size,
                    index: b.index,
                    proof: hex::encode(b.path.concat()),
                }),
            }),
        };
        serde_json::to_vec(&wire).expect("an envelope always serialises")
    }

    /// Parse the JSON wire form. Checks shape and limits, not the signature.
    pub fn from_wire(bytes: &[u8]) -> Result<Envelope, MessageError> {
        if bytes.len() > WIRE_BYTES_MAX {
            return Err(MessageError::WireTooLarge(bytes.len()));
        }
        let w: Wire =
            serde_json::from_slice(bytes).map_err(|e| MessageError::Malformed(e.to_string()))?;
        let created_at = DateTime::parse_from_rfc3339(&w.created_at)
            .map_err(|e| MessageError::Malformed(format!("created_at: {e}")))?
            .with_timezone(&Utc);
        // One text per instant: a timestamp that does not round-trip is not the one signed.
        if timestamp_text(&created_at) != w.created_at {
            return Err(MessageError::Malformed(
                "created_at is not RFC 3339 UTC with milliseconds".into(),
            ));
        }
        let signature = match w.signature {
            None => None,
            Some(s) => Some(SignatureField {
                algorithm: s.algorithm,
                key_id: s.key_id,
                value: hex::decode(&s.value)
                    .map_err(|e| MessageError::Malformed(format!("signature value: {e}")))?,
                batch: s.batch.map(WireBatch::decode).transpose()?,
            }),
        };
        let e = Envelope {
            version: w.version,
            id: w.id,
            kind: w.kind,
            sender: w.sender,
            recipients: w.recipients,
            created_at,
            payload: w.payload.into_bytes(),
            signature,
        };
        e.check()?;
        Ok(e)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    version: u32,
    id: MessageId,
    kind: Kind,
    sender: Agency,
    recipients: Vec<Agency>,
    created_at: String,
    payload: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    signature: Option<WireSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    algorithm: Algorithm,
    key_id: KeyId,
    value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    batch: Option<WireBatch>,
}

/// `{"size":1024,"index":41,"proof":"<64 hex digits per level, leaf to root>"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireBatch {
    size: u32,
    index: u32,
    proof: String,
}

impl WireBatch {
    fn decode(self) -> Result<BatchProof, MessageError> {
        let bytes = hex::decode(&self.proof)
            .map_err(|e| MessageError::Malformed(format!("batch proof: {e}")))?;
        if bytes.len() % 32 != 0 || bytes.len() / 32 > PROOF_LEN_MAX {
            return Err(MessageError::Malformed(format!(
                "batch proof: {} bytes is not 32 per level, at most {PROOF_LEN_MAX} levels",
                bytes.len()
            )));
        }
        let path = bytes
            .chunks_exact(32)
            .map(|c| Digest::try_from(c).expect("32-byte chunks"))
            .collect();
        Ok(BatchProof {
            size: self.size,
            index: self.index,
            path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_other_texts() {
        let id = MessageId::new(Agency::parse("CUSTOMS").unwrap(), 42);
        assert_eq!(id.to_string(), "CUSTOMS-42");
        assert_eq!(MessageId::parse("CUSTOMS-42").unwrap(), id);
        for bad in [
            "CUSTOMS-042",
            "CUSTOMS-",
            "-1",
            "customs-1",
            "CUSTOMS-+1",
            "C-1",
            "X.Y-1",
        ] {
            assert!(MessageId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn kinds_are_name_dot_version() {
        assert!(Kind::parse("declaration_released.v1").is_ok());
        assert!(Kind::parse("a.v12").is_ok());
        for bad in [
            "declaration_released",
            "x.v0",
            "x.v",
            "X.v1",
            ".v1",
            "a b.v1",
            "a.v1x",
        ] {
            assert!(Kind::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn agencies_are_subject_tokens() {
        assert!(Agency::parse("CUSTOMS").is_ok());
        assert!(Agency::parse("TAX_2").is_ok());
        for bad in [
            "",
            "T",
            "tax",
            "TAX.X",
            "TAX*",
            "TAX>",
            "A_VERY_LONG_AGENCY_NAME",
        ] {
            assert!(Agency::parse(bad).is_err(), "{bad}");
        }
    }
}
