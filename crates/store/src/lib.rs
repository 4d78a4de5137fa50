//! The durable ledger of Jinguan: declarations, their events, payment notices, users, offices and
//! a hash-chained audit log, behind one use-case-shaped trait, [`Store`].
//!
//! - [`Store`]: what the clearance service asks of storage (submit, accept, append events, load,
//!   list, payment notices, audit verification), not generic CRUD.
//! - The backends live in crates of their own: `store-sqlite` (embedded, WAL,
//!   `synchronous=FULL`) and `store-postgres`; this crate depends on neither driver.
//! - [`audit`]: the hash chain (SHA-256 over previous hash ‖ canonical record bytes) and its
//!   verifier, shared by every backend; [`detail`]: every audit record's detail, built with
//!   serde.
//! - [`writer`]: the one write path: typed requests (each with the reply channel of its own
//!   answer), the bounded queue, the group-commit loop. The write methods of the traits are
//!   provided once on top of it ([`writer::Queued`]).
//! - [`plan`] (and [`review`]): the rules applied inside a write transaction, as pure
//!   functions, so that a backend is SQL and nothing else.
//! - The contract suites every backend passes are in the `store-contract` crate, a
//!   dev-dependency of the backends only.
//!
//! # Sync, not async
//!
//! The trait is synchronous and `Send + Sync`. A call blocks until its answer is durable; the
//! HTTP layer will call it through `tokio::task::spawn_blocking`. This keeps group commit
//! simple: each write is a message to the one writer thread with a reply channel, the writer
//! drains whatever is waiting into one transaction, fsyncs once, and answers everyone. No async
//! runtime is needed inside the store, the trait stays object-safe (`&dyn Store`, `Box<dyn
//! Store>`), and blocking threads are cheap compared with one fsync. A PostgreSQL backend fits
//! the same shape: its writer (a thread driving tokio-postgres on its own runtime, or a task
//! behind a channel) takes the waiting requests, writes them as multi-row inserts in one
//! transaction from a pooled connection, and answers after `COMMIT`; readers use other pooled
//! connections.
//!
//! # Row shape
//!
//! A declaration is one row: its body (compact JSON, as submitted) and its lifecycle state
//! (compact JSON of `clearance::DeclarationState`) in two columns, with narrow indexed columns
//! for what is searched (status, office, declarant, numbers). Item-level analysis belongs to the
//! statistics warehouse. See docs/STORE.md and docs/BENCHMARKS.md: the row shape decides the
//! ceiling.

use std::fmt;

use chrono::{DateTime, Utc};
use clearance::{
    Actor, DeclarationState, Event, Lane, LaneReason, Refusal, ReviewProblem, Status, TaxKind,
};
use domain::codes::{DeclarationNo, Direction, OfficeCode, PreEntryNo, Uscc};
use domain::money::Fen;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use writer::Request;

pub mod activity;
pub mod aeo;
pub mod attachments;
pub mod audit;
pub mod audit_tree;
pub mod cargo;
pub mod cases;
pub mod daily;
pub mod detail;
pub mod drafts;
pub mod eport;
pub mod finance;
pub mod guarantee;
pub mod inbound;
pub mod licence_message;
pub mod outbox;
pub mod parties;
pub mod plan;
pub mod registration;
pub mod review;
pub mod risk;
pub mod search;
pub mod versions;
pub mod webhooks;
pub mod writer;

pub use audit::{AuditReport, BrokenLink, BrokenReason, SignedHead, VerifyOptions};

/// At most this many rows in one page of [`Store::list`].
pub const PAGE_MAX: u32 = 500;
/// At most this many bytes in a declaration body.
pub const BODY_BYTES_MAX: usize = 256 * 1024;
/// At most this many events in one [`Store::append`].
pub const APPEND_EVENTS_MAX: usize = 32;

/// The bound on a filing's body that every backend checks before queueing the write.
pub fn check_body(req: &SubmitRequest) -> Result<(), StoreError> {
    if req.body_json.len() > BODY_BYTES_MAX {
        return Err(StoreError::Invalid(format!(
            "body is larger than {BODY_BYTES_MAX} bytes"
        )));
    }
    Ok(())
}

/// The bound on an append's events that every backend checks before queueing the write.
pub fn check_append(req: &AppendRequest) -> Result<(), StoreError> {
    if req.events.is_empty() || req.events.len() > APPEND_EVENTS_MAX {
        return Err(StoreError::Invalid(format!(
            "1 to {APPEND_EVENTS_MAX} events per append"
        )));
    }
    Ok(())
}

/// The store's own key for a declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeclarationId(pub i64);

impl fmt::Display for DeclarationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A new filing. `(declarant, client_seq_no)` is the idempotency key: the same key always
/// returns the first result, across retries, crashes and restarts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitRequest {
    pub client_seq_no: String,
    pub declarant: Uscc,
    pub direction: Direction,
    pub declaration_office: OfficeCode,
    pub entry_exit_office: OfficeCode,
    /// The typed declaration as compact JSON. Stored as given, not parsed again.
    pub body_json: String,
    pub actor: Actor,
    pub now: DateTime<Utc>,
    /// A cross-border e-commerce retail import: its buyer and the value that counts against
    /// the buyer's annual limit (kept in narrow columns for [`Store::purchases`]).
    pub purchase: Option<Purchase>,
    /// The goods' declared value in fen at the declaration date's rate, when it could be
    /// valued (kept in a narrow column for [`Store::goods_totals`]).
    pub goods_value_fen: Option<Fen>,
    /// A customs broker's user filing under a power of attorney (docs/PARTIES.md): the writer
    /// checks the authority inside the filing's transaction ([`parties::admit`]) and counts the
    /// filing against it there.
    pub agent: Option<parties::AgentFiling>,
}

/// Released and closed declarations of one declarant, direction and filing day (China time):
/// the sum of their goods values and how many had none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GoodsTotal {
    pub declarant: Uscc,
    pub direction: Direction,
    pub day: chrono::NaiveDate,
    pub value_fen: Fen,
    pub declarations: u64,
    pub unvalued: u64,
}

/// At most this many (declarant, direction, day) totals in one answer.
pub const GOODS_TOTALS_MAX: u32 = 1_000_000;

/// The backends read one total more than [`GOODS_TOTALS_MAX`] to tell a full answer from a
/// cut one: refuse the cut one.
pub fn goods_totals_bounded(totals: Vec<GoodsTotal>) -> Result<Vec<GoodsTotal>, StoreError> {
    if totals.len() > GOODS_TOTALS_MAX as usize {
        return Err(StoreError::Invalid(format!(
            "more than {GOODS_TOTALS_MAX} daily totals in the period: ask for a shorter one"
        )));
    }
    Ok(totals)
}

/// What a cross-border e-commerce retail import counts against its buyer's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purchase {
    /// `domain::declaration::Buyer::person_id`.
    pub buyer: String,
    pub value_fen: Fen,
}

/// A purchase on record: the declaration, when it was filed, its value and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredPurchase {
    pub id: DeclarationId,
    pub submitted_at: DateTime<Utc>,
    pub value_fen: Fen,
    pub status: Status,
}

/// At most this many purchases are read for one buyer (the annual limit is reached long
/// before).
pub const PURCHASES_MAX: u32 = 10_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Submitted {
    pub id: DeclarationId,
    pub pre_entry_no: PreEntryNo,
    /// The version after the submission (1), or the current version on a replay.
    pub version: u64,
    /// `true` when this was a retry of an earlier submission: nothing new was written.
    pub replayed: bool,
}

/// Accept a submitted declaration: the store allocates the next serial of (office, customs
/// year, direction) and records `Accepted`, all in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcceptRequest {
    pub id: DeclarationId,
    pub expected_version: u64,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub declaration_no: DeclarationNo,
    pub version: u64,
}

/// Append events decided on the state at `expected_version` (optimistic concurrency).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendRequest {
    pub id: DeclarationId,
    pub expected_version: u64,
    pub events: Vec<Event>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Appended {
    pub version: u64,
    pub status: Status,
}

/// How to find one declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeclarationKey {
    Id(DeclarationId),
    PreEntryNo(PreEntryNo),
    DeclarationNo(DeclarationNo),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredDeclaration {
    pub id: DeclarationId,
    /// The number of events recorded; the `expected_version` of the next write.
    pub version: u64,
    pub state: DeclarationState,
    pub body_json: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// 1-based position in the declaration's history.
    pub seq: u64,
    pub event: Event,
}

/// Filters of [`Store::list`]; all optional, combined with AND.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub lane: Option<Lane>,
    pub declaration_office: Option<OfficeCode>,
    pub declarant: Option<Uscc>,
    /// Submitted at or after.
    pub submitted_from: Option<DateTime<Utc>>,
    /// Submitted before.
    pub submitted_to: Option<DateTime<Utc>>,
    /// The declaration office is one of these (an officer's scope: an office and those below
    /// it). `None`: any office. At most [`OFFICES_MAX`] codes; an empty list matches nothing.
    pub offices: Option<Vec<OfficeCode>>,
}

/// At most this many offices in [`ListFilter::offices`].
pub const OFFICES_MAX: usize = 2000;

/// An opaque position in a listing (newest first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cursor(String);

impl Cursor {
    /// The cursor that continues a listing after `id` (every backend writes it the same way).
    pub fn from_id(id: DeclarationId) -> Cursor {
        Cursor(format!("d{}", id.0))
    }
    /// The declaration a cursor continues after; `Invalid` for a cursor no backend wrote.
    pub fn id(&self) -> Result<DeclarationId, StoreError> {
        self.0
            .strip_prefix('d')
            .and_then(|s| s.parse().ok())
            .map(DeclarationId)
            .ok_or_else(|| StoreError::Invalid(format!("bad cursor {:?}", self.0)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// From the text a client sent back.
    pub fn parse(s: &str) -> Cursor {
        Cursor(s.to_owned())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    /// 1..=[`PAGE_MAX`].
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<Cursor>,
}

/// What [`Store::declaration_counts`] counts: the declarations submitted in `[from, to)`, of
/// the listed offices (`None`: any office; an empty list counts nothing; at most
/// [`OFFICES_MAX`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CountQuery {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub offices: Option<Vec<OfficeCode>>,
}

/// How many declarations of one office are in one status and lane, numbered or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CountRow {
    pub office: OfficeCode,
    pub status: Status,
    pub lane: Option<Lane>,
    /// Numbered (accepted by automatic review): the declaration number is set.
    pub numbered: bool,
    pub count: u64,
}

/// The narrow columns of a declaration, as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclarationSummary {
    pub id: DeclarationId,
    pub pre_entry_no: PreEntryNo,
    pub declaration_no: Option<DeclarationNo>,
    pub declarant: Uscc,
    pub direction: Direction,
    pub declaration_office: OfficeCode,
    pub status: Status,
    pub lane: Option<Lane>,
    pub submitted_at: DateTime<Utc>,
    pub version: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredNotice {
    pub notice_no: String,
    pub declaration_id: DeclarationId,
    pub tax: TaxKind,
    pub amount_fen: Fen,
    pub issued_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// Set when a re-assessment replaced this unpaid notice (`crate::versions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_at: Option<DateTime<Utc>>,
    /// The bank's confirmation that paid it (bank, its reference, surcharge, amount paid,
    /// day); `None` while unpaid, and for notices marked paid before payments went through a
    /// bank user.
    pub payment: Option<clearance::BankPayment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Office {
    pub code: OfficeCode,
    pub name: String,
    pub parent: Option<OfficeCode>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Enterprise,
    Officer,
    AntiSmuggling,
    Bank,
    Admin,
    /// An officer of headquarters: sees every office.
    Hq,
    /// A partner agency on the E-Port (commerce, tax, foreign exchange, ...).
    Agency,
    /// A carrier (shipping line, airline, road or rail operator) or its agent, bound to its
    /// USCC: files manifests and transits (docs/CARGO.md).
    Carrier,
    /// A postal operator, bound to its USCC: files parcel lists.
    PostalOperator,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Enterprise => "enterprise",
            Role::Officer => "officer",
            Role::AntiSmuggling => "anti_smuggling",
            Role::Bank => "bank",
            Role::Admin => "admin",
            Role::Hq => "hq",
            Role::Agency => "agency",
            Role::Carrier => "carrier",
            Role::PostalOperator => "postal_operator",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        [
            Role::Enterprise,
            Role::Officer,
            Role::AntiSmuggling,
            Role::Bank,
            Role::Admin,
            Role::Hq,
            Role::Agency,
            Role::Carrier,
            Role::PostalOperator,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
}

/// A user record; authentication is not built yet, only who is who.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewUser {
    pub login: String,
    pub role: Role,
    pub office: Option<OfficeCode>,
    pub uscc: Option<Uscc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: i64,
    pub login: String,
    pub role: Role,
    pub office: Option<OfficeCode>,
    pub uscc: Option<Uscc>,
}

/// What an officer may do, on top of seeing the work of their office (a user may hold several).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duty {
    /// Document review, ordering inspection, deciding amendment and cancellation requests.
    Reviewer,
    /// Physical inspection results.
    Inspector,
    /// Assessment of duties and taxes.
    TaxOfficer,
    /// Release, release against guarantee, closure.
    ReleaseOfficer,
    /// Risk rules and lanes (read access for now).
    RiskAnalyst,
    /// Statistics (read access for now).
    Statistician,
    /// Manages the users of the office and those below it.
    Administrator,
    /// Anti-smuggling: suspends and resumes declarations.
    AntiSmuggling,
    // The roles of an enterprise's own users (docs/PARTIES.md "Customs registration"): never an
    // officer's duty, so not in [`Duty::ALL`] but in [`Duty::ENTERPRISE`].
    /// Manages the enterprise's users, their roles, and its registration.
    EnterpriseAdministrator,
    /// Files declarations and takes the declarant's steps.
    Declarant,
    /// Initiates payments and files refund claims.
    Finance,
    /// Reads the enterprise's declarations, notices and ledgers only.
    Viewer,
}

impl Duty {
    pub const ALL: [Duty; 8] = [
        Duty::Reviewer,
        Duty::Inspector,
        Duty::TaxOfficer,
        Duty::ReleaseOfficer,
        Duty::RiskAnalyst,
        Duty::Statistician,
        Duty::Administrator,
        Duty::AntiSmuggling,
    ];

    /// The roles of an enterprise's users.
    pub const ENTERPRISE: [Duty; 4] = [
        Duty::EnterpriseAdministrator,
        Duty::Declarant,
        Duty::Finance,
        Duty::Viewer,
    ];

    /// Whether this is an enterprise user's role (not an officer's duty).
    pub fn is_enterprise_role(self) -> bool {
        Duty::ENTERPRISE.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Duty::Reviewer => "reviewer",
            Duty::Inspector => "inspector",
            Duty::TaxOfficer => "tax_officer",
            Duty::ReleaseOfficer => "release_officer",
            Duty::RiskAnalyst => "risk_analyst",
            Duty::Statistician => "statistician",
            Duty::Administrator => "administrator",
            Duty::AntiSmuggling => "anti_smuggling",
            Duty::EnterpriseAdministrator => "enterprise_administrator",
            Duty::Declarant => "declarant",
            Duty::Finance => "finance",
            Duty::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Duty> {
        Duty::ALL
            .into_iter()
            .chain(Duty::ENTERPRISE)
            .find(|d| d.as_str() == s)
    }
}

/// A user who can sign in: who they are ([`NewUser`]), what they may do, and the password hash
/// (PHC string, argon2id; the store never sees a password).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAccount {
    pub user: NewUser,
    pub duties: Vec<Duty>,
    /// The agency a [`Role::Agency`] user works for (`commerce`, `tax`, ...).
    pub agency: Option<String>,
    pub password_hash: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub user: User,
    pub duties: Vec<Duty>,
    pub agency: Option<String>,
    /// `None` for users recorded by [`Store::put_user`], who cannot sign in.
    pub password_hash: Option<String>,
    /// Disabled by an administrator: no sign-in, no session ([`Store::set_account_enabled`]).
    pub disabled: bool,
    /// The password was set by an administrator: it must be changed at the next sign-in
    /// ([`Store::set_password`]).
    pub must_change_password: bool,
}

/// A new password hash for a user ([`Store::set_password`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordWrite {
    pub user_id: i64,
    /// PHC string (argon2id).
    pub password_hash: String,
    /// `true` for a reset by an administrator (a one-time password, to be changed at the next
    /// sign-in); `false` for a user's own change.
    pub reset: bool,
    /// The session to keep (the user's own, changing their password); every other live session
    /// of the user ends in the same transaction.
    pub keep_session: Option<String>,
}

/// The audit actions of security events recorded alone ([`Store::record_security_event`]).
pub const SECURITY_ACTIONS: &[&str] = &["sign_in_locked", "sign_in_unlocked"];

/// A security event that changes no row, only the audit chain: a lockout, an unlock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityEvent {
    /// One of [`SECURITY_ACTIONS`].
    pub action: String,
    /// What it concerns: `login:wang`, `address:10.0.0.8`.
    pub subject: String,
    /// A JSON object (compact).
    pub detail: String,
}

/// A session: the token itself is never stored, only its SHA-256 (hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewSession {
    pub token_hash: String,
    pub user_id: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub account: Account,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The outcome of automatic review (电子审单), decided by the service before the filing is
/// written, so that submission and review commit together in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AutomaticReview {
    /// Failed review, with every problem.
    Reject { problems: Vec<ReviewProblem> },
    /// Passed: the store numbers it, records the lane and, when given, the assessment.
    Accept {
        lane: Lane,
        reasons: Vec<LaneReason>,
        /// Payable amounts by tax (only those above zero), assessed right away (green and blue
        /// lanes). The store numbers each notice `<declaration no>-<tax>`. `None`: assessed
        /// later by an officer.
        assessment: Option<Vec<(TaxKind, Fen)>>,
    },
    /// Passed, with the lane chosen by the risk engine once the number is taken (sampling
    /// hashes it): the store calls the hook and records its [`risk::ChosenLane`] (lane with
    /// explanation, assessment, hold) in the same transaction.
    AcceptRisk { choose: risk::LaneHook },
}

/// The result of [`Store::submit_reviewed`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Filed {
    pub id: DeclarationId,
    pub pre_entry_no: PreEntryNo,
    pub declaration_no: Option<DeclarationNo>,
    pub status: Status,
    pub lane: Option<Lane>,
    pub version: u64,
    /// `true` when this was a retry: nothing new was written, the current state is returned.
    pub replayed: bool,
}

/// The payment notice number the store gives a tax of an accepted declaration.
pub fn notice_no(declaration_no: DeclarationNo, tax: TaxKind) -> String {
    format!("{declaration_no}-{}", tax.as_str())
}

#[derive(Debug, Error)]
pub enum StoreError {
    /// The lifecycle refused the step (from `accept` or `submit`).
    #[error("refused: {0}")]
    Refused(Refusal),
    /// Someone else wrote first: reload and decide again.
    #[error("version conflict: expected {expected}, found {actual}")]
    Conflict { expected: u64, actual: u64 },
    #[error("not found: {0}")]
    NotFound(String),
    /// The idempotency key was used before for a different body.
    #[error("client sequence number {client_seq_no} was already used for another declaration ({pre_entry_no})")]
    IdempotencyMismatch {
        client_seq_no: String,
        pre_entry_no: PreEntryNo,
    },
    /// A unique value (login, notice number) already exists.
    #[error("already exists: {0}")]
    Duplicate(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("no serial left for {0}")]
    SerialExhausted(String),
    /// Stored data does not read back as it was written: a broken invariant.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    #[error("the store is closed")]
    Closed,
    /// The guarantee ledger refused (crate::guarantee): nothing of the write was kept.
    #[error("guarantee refused: {}", .0.message_en())]
    Guarantee(tax::guarantee::GuaranteeRefusal),
    /// A power of attorney refused the grant, the revocation or the filing (crate::parties):
    /// nothing of the write was kept.
    #[error("power of attorney refused: {}", .0.message_en())]
    Authority(parties::AuthorityRefusal),
    /// The case register refused the step (crate::cases): nothing of the write was kept.
    #[error("case refused: {}", .0.message_en)]
    Case(cases::CaseRefusal),
    /// The customs registration refused the step (crate::registration): nothing of the write
    /// was kept.
    #[error("registration refused: {}", .0.message_en)]
    Registration(registration::RegistrationRefusal),
    /// The E-Port ledgers refused (crate::eport, crate::finance): a licence withdrawal, a
    /// release on a withdrawn licence, a refund payment, a change of a declaration whose
    /// refund was paid. Nothing of the write was kept.
    #[error("E-Port refused: {}", .0.message_en)]
    Eport(crate::eport::EportRefusal),
    #[error("storage backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A stable code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Refused(r) => r.code(),
            StoreError::Conflict { .. } => "version_conflict",
            StoreError::NotFound(_) => "not_found",
            StoreError::IdempotencyMismatch { .. } => "idempotency_mismatch",
            StoreError::Duplicate(_) => "duplicate",
            StoreError::Invalid(_) => "invalid",
            StoreError::SerialExhausted(_) => "serial_exhausted",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Closed => "closed",
            StoreError::Backend(_) => "backend",
            StoreError::Guarantee(r) => r.code(),
            StoreError::Authority(r) => r.code(),
            StoreError::Case(r) => r.code,
            StoreError::Registration(r) => r.code,
            StoreError::Eport(r) => r.code,
        }
    }
}

/// At most this many audit records are read by one [`Store::changed_declarations`].
pub const CHANGES_MAX: u32 = 50_000;

/// What [`Store::changed_declarations`] found: the declarations written after an audit record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChangedDeclarations {
    /// Each declaration named by the records read, once, in the order first named.
    pub ids: Vec<DeclarationId>,
    /// The id of the last audit record read (the `after` of the next call); `after` itself when
    /// none was read.
    pub last: i64,
    /// The newest audit record's id when read (for progress): the chain's head.
    pub head: i64,
}

/// The declaration an audit subject names (`declaration:{id}`), if it names one.
pub fn declaration_of_subject(subject: &str) -> Option<DeclarationId> {
    subject
        .strip_prefix("declaration:")
        .and_then(|n| n.parse().ok())
        .map(DeclarationId)
}

/// The answer of [`Store::changed_declarations`] from the `(id, subject)` rows read, oldest first.
pub fn changed_from_rows(
    after: i64,
    head: i64,
    rows: impl IntoIterator<Item = (i64, String)>,
) -> Result<ChangedDeclarations, StoreError> {
    let mut out = ChangedDeclarations {
        ids: Vec::new(),
        last: after,
        head,
    };
    let mut seen = std::collections::HashSet::new();
    for (id, subject) in rows {
        let d = declaration_of_subject(&subject)
            .ok_or_else(|| StoreError::Corrupt(format!("audit subject {subject:?}")))?;
        if seen.insert(d) {
            out.ids.push(d);
        }
        out.last = id;
    }
    Ok(out)
}

/// `Invalid` unless `limit` is within 1..=[`CHANGES_MAX`].
pub fn check_changes_limit(limit: u32) -> Result<(), StoreError> {
    if limit == 0 || limit > CHANGES_MAX {
        return Err(StoreError::Invalid(format!(
            "changes limit {limit} outside 1..={CHANGES_MAX}"
        )));
    }
    Ok(())
}

/// What the clearance service asks of durable storage. Every write is atomic with its audit
/// record, and answers only once it is durable.
pub trait Store: writer::Queued + Send + Sync {
    /// The writer's counters (`/metrics`: group sizes, commit times); `None` when the backend
    /// keeps none.
    fn writer_stats(&self) -> Option<writer::WriterStats> {
        None
    }

    /// Requests waiting for the writer now (queued, or in the batch being committed).
    fn writer_queue_depth(&self) -> usize {
        self.queue().depth()
    }

    /// File a declaration: allocate a pre-entry number, record `Submitted`. Idempotent on
    /// `(declarant, client_seq_no)`.
    fn submit(&self, req: SubmitRequest) -> Result<Submitted, StoreError> {
        crate::check_body(&req)?;
        self.queue().call(|r| Request::Submit(req, r))
    }

    /// Number and accept a submitted declaration.
    fn accept(&self, req: AcceptRequest) -> Result<Accepted, StoreError> {
        self.queue().call(|r| Request::Accept(req, r))
    }

    /// Append events decided on the state at `expected_version`; `Conflict` if it moved.
    fn append(&self, req: AppendRequest) -> Result<Appended, StoreError> {
        crate::check_append(&req)?;
        self.queue().call(|r| Request::Append(req, r))
    }

    fn load(&self, key: DeclarationKey) -> Result<Option<StoredDeclaration>, StoreError>;

    /// Totals of the released and closed declarations filed in `[from, to)`, of `declarant` or
    /// of everyone, per declarant, direction and filing day (China time), ordered by them; at
    /// most [`GOODS_TOTALS_MAX`] (`Invalid` beyond).
    fn goods_totals(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        declarant: Option<&Uscc>,
    ) -> Result<Vec<GoodsTotal>, StoreError>;

    /// The cross-border e-commerce retail purchases of `buyer` filed at or after `since`,
    /// oldest first, at most [`PURCHASES_MAX`].
    fn purchases(
        &self,
        buyer: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<StoredPurchase>, StoreError>;

    /// The history of one declaration, oldest first.
    fn events(&self, id: DeclarationId) -> Result<Vec<StoredEvent>, StoreError>;

    /// Newest first, filtered, one page at a time.
    fn list(
        &self,
        filter: &ListFilter,
        page: &PageRequest,
    ) -> Result<Page<DeclarationSummary>, StoreError>;

    /// A page of the declarations matching `req` (filters, free text, sort), by number, with
    /// the total matching ([`search`]). `Invalid` for bounds [`search::SearchRequest::check`]
    /// refuses.
    fn search(
        &self,
        req: &search::SearchRequest,
    ) -> Result<search::Counted<DeclarationSummary>, StoreError>;

    fn payment_notices(&self, id: DeclarationId) -> Result<Vec<StoredNotice>, StoreError>;

    /// Attach a document to a declaration ([`attachments`]): through the one write, with an
    /// audit record; `Invalid` beyond the bounds of [`attachments::check`] or
    /// [`attachments::ATTACHMENTS_PER_DECLARATION`], `NotFound` without the declaration.
    fn add_attachment(
        &self,
        attachment: attachments::NewAttachment,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<attachments::StoredAttachment, StoreError> {
        attachments::check(&attachment)?;
        let sha256 = attachments::sha256_hex(&attachment.data);
        self.queue().call(|r| {
            Request::AddAttachment(
                Box::new(attachments::AttachmentWrite {
                    attachment,
                    sha256,
                    actor: actor.clone(),
                    now,
                }),
                r,
            )
        })
    }

    /// The documents of a declaration, oldest first, without their bytes.
    fn attachments(
        &self,
        id: DeclarationId,
    ) -> Result<Vec<attachments::StoredAttachment>, StoreError>;

    /// One document of a declaration with its bytes (checked against its checksum: `Corrupt`
    /// when they differ); `None` if the declaration has no such document.
    fn attachment(
        &self,
        id: DeclarationId,
        attachment_id: i64,
    ) -> Result<Option<(attachments::StoredAttachment, Vec<u8>)>, StoreError>;

    /// Save a draft ([`drafts`]): a new one (`w.id` `None`, version 1) or a new content of one
    /// of `w.owner`'s (`NotFound` for a draft of anyone else; `Conflict` when
    /// `w.expected_version` is given and the draft moved). Through the one write, without an
    /// audit record; `Invalid` beyond the bounds of [`drafts::check`] or
    /// [`drafts::DRAFTS_PER_USER`].
    fn save_draft(&self, w: drafts::DraftWrite) -> Result<drafts::DraftSummary, StoreError> {
        drafts::check(&w)?;
        self.queue().call(|r| Request::SaveDraft(Box::new(w), r))
    }

    /// Delete one of the owner's drafts: `false` when the owner has no such draft.
    fn delete_draft(&self, owner: &drafts::DraftOwner, id: i64) -> Result<bool, StoreError> {
        let owner = owner.clone();
        self.queue().call(|r| Request::DeleteDraft((owner, id), r))
    }

    /// The owner's drafts, the most recently saved first, without their bodies.
    fn drafts(&self, owner: &drafts::DraftOwner) -> Result<Vec<drafts::DraftSummary>, StoreError>;

    /// One of the owner's drafts with its body; `None` for a draft of anyone else.
    fn draft(
        &self,
        owner: &drafts::DraftOwner,
        id: i64,
    ) -> Result<Option<drafts::StoredDraft>, StoreError>;

    /// Move the user's notifications read marker forward to `w.up_to` (never back): the marker
    /// now stored.
    fn mark_notifications_read(&self, w: drafts::ReadMarkWrite) -> Result<i64, StoreError> {
        if w.up_to < 0 {
            return Err(StoreError::Invalid(
                "a read marker is a cursor from 0".into(),
            ));
        }
        self.queue().call(|r| Request::MarkNotificationsRead(w, r))
    }

    /// The user's notifications read marker, `None` before the first.
    fn notifications_read(&self, user_id: i64) -> Result<Option<i64>, StoreError>;

    /// The declarations submitted in the period, counted in the store by office, status, lane
    /// and whether numbered (one row per combination present, in no particular order): exact at any
    /// size, reading only narrow columns.
    fn declaration_counts(&self, q: &CountQuery) -> Result<Vec<CountRow>, StoreError>;

    /// The dashboard's daily aggregates of the days and offices asked ([`daily`]), kept in the
    /// same transaction as every write they count.
    fn daily_stats(&self, q: &daily::DayQuery) -> Result<daily::DailyStats, StoreError>;

    /// The declarations changed after audit record `after`, read from the audit chain, which
    /// records every write of a declaration (`declaration:{id}`) in commit order: at most `limit`
    /// (1..=[`CHANGES_MAX`]) records naming a declaration. The statistics warehouse follows the
    /// ledger with it (incremental extraction, a cursor that is a record id).
    fn changed_declarations(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<ChangedDeclarations, StoreError>;

    /// The audit records naming a declaration ([`activity`]), in the `range` asked, at most
    /// `limit` (1..=[`activity::RECORDS_MAX`]), oldest first, with the chain's head read in the
    /// same snapshot: what the notifications inbox follows.
    fn declaration_records(
        &self,
        range: activity::RecordRange,
        limit: u32,
    ) -> Result<activity::DeclarationRecords, StoreError>;

    fn put_office(
        &self,
        office: Office,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue()
            .call(|r| Request::PutOffice((office, actor.clone(), now), r))
    }

    fn put_user(
        &self,
        user: NewUser,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.queue()
            .call(|r| Request::PutUser((user, actor.clone(), now), r))
    }

    fn user_by_login(&self, login: &str) -> Result<Option<User>, StoreError>;

    /// Walk the audit chain from the first record and report the first broken link.
    fn verify_audit(&self) -> Result<AuditReport, StoreError> {
        self.verify_audit_with(&VerifyOptions::default())
    }

    /// Walk the audit chain, checking its anchors (their signatures with `options.verifier`)
    /// and the heads kept outside the store (`options.heads`): see [`audit`].
    fn verify_audit_with(&self, options: &VerifyOptions) -> Result<AuditReport, StoreError>;

    /// The chain hashes of audit records `from..=upto`, by id (the leaves of the Merkle tree,
    /// [`audit_tree`]). Fewer than asked when the log is shorter.
    fn audit_hashes(&self, from: i64, upto: i64) -> Result<Vec<[u8; 32]>, StoreError>;

    /// One audit record by its number.
    fn audit_record(&self, id: i64) -> Result<Option<audit::AuditRecord>, StoreError>;

    /// Record `seq` and its inclusion proof in the Merkle tree of records 1..=`tree_size`
    /// (`None`: no such record, or the log holds fewer than `tree_size` records). Reads the
    /// `tree_size` stored hashes and hashes them: O(tree size), on demand.
    fn audit_proof(
        &self,
        seq: i64,
        tree_size: i64,
    ) -> Result<Option<(audit::AuditRecord, audit_tree::InclusionProof)>, StoreError> {
        if seq < 1 || tree_size < seq {
            return Ok(None);
        }
        let Some(record) = self.audit_record(seq)? else {
            return Ok(None);
        };
        let hashes = self.audit_hashes(1, tree_size)?;
        if hashes.len() as i64 != tree_size {
            return Ok(None);
        }
        let leaves: Vec<_> = hashes.iter().map(|h| audit_tree::leaf_hash(h)).collect();
        Ok(audit_tree::prove(&leaves, seq).map(|p| (record, p)))
    }

    /// Sign the chain head as it is in the writer: an anchor record, and the head to keep
    /// outside the store; `None` when nothing was written since `unless_at` ([`audit`]).
    fn anchor_audit(
        &self,
        request: audit::AnchorRequest,
    ) -> Result<Option<SignedHead>, StoreError> {
        self.queue().call(|r| Request::AnchorAudit(request, r))
    }

    /// Write and commit through the writer something that changes nothing (SQLite: the
    /// schema version set to itself; PostgreSQL: a transaction id taken), so that its answer
    /// says whether the store can write now: a full disk, a lost database or a writer stuck
    /// behind a lock fail it where a read still succeeds (`/ready`).
    fn probe_write(&self) -> Result<(), StoreError> {
        self.queue().call(|r| Request::ProbeWrite((), r))
    }

    /// Record a security event in the audit chain (a sign-in lockout, an unlock).
    fn record_security_event(
        &self,
        event: SecurityEvent,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        check_security_event(&event)?;
        self.queue()
            .call(|r| Request::RecordSecurityEvent((event, actor.clone(), now), r))
    }

    /// Set a user's password hash; ends every live session of the user but `keep_session`, in
    /// the same transaction; returns how many ended. `NotFound` for an unknown user or one who
    /// cannot sign in.
    fn set_password(
        &self,
        write: PasswordWrite,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.queue()
            .call(|r| Request::SetPassword((write, actor.clone(), now), r))
    }

    /// Disable (every live session ends at once, in the same transaction) or enable an account;
    /// returns the sessions ended. `NotFound` for an unknown user.
    fn set_account_enabled(
        &self,
        user_id: i64,
        enabled: bool,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.queue()
            .call(|r| Request::SetAccountEnabled((user_id, enabled, actor.clone(), now), r))
    }

    /// File a declaration and record its automatic review in one transaction: `Submitted`,
    /// then `Rejected`, or `Accepted` (numbered) + `LaneChosen` (+ `Assessed`). Idempotent on
    /// `(declarant, client_seq_no)` like [`Store::submit`]; a retry returns the current state.
    fn submit_reviewed(
        &self,
        req: SubmitRequest,
        review: AutomaticReview,
    ) -> Result<Filed, StoreError> {
        check_body(&req)?;
        self.queue()
            .call(|r| Request::SubmitReviewed((req, review), r))
    }

    /// Create a user who can sign in. `Duplicate` if the login exists.
    fn create_account(
        &self,
        account: NewAccount,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        self.queue()
            .call(|r| Request::CreateAccount((account, actor.clone(), now), r))
    }

    fn account_by_login(&self, login: &str) -> Result<Option<Account>, StoreError>;

    fn account_by_id(&self, user_id: i64) -> Result<Option<Account>, StoreError>;

    /// Record a new session (a sign-in). `Duplicate` if the token hash exists.
    fn create_session(
        &self,
        session: NewSession,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue()
            .call(|r| Request::CreateSession((session, actor.clone(), now), r))
    }

    /// The session and its user, whether or not expired or revoked: the caller decides.
    fn session_by_token_hash(&self, token_hash: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// Revoke one session (sign-out). `false` if unknown or already revoked.
    fn revoke_session(
        &self,
        token_hash: &str,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.queue()
            .call(|r| Request::RevokeSession((token_hash.to_owned(), actor.clone(), now), r))
    }

    /// Revoke every live session of a user (an administrator's action); returns how many.
    fn revoke_sessions_of(
        &self,
        user_id: i64,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.queue()
            .call(|r| Request::RevokeSessionsOf((user_id, actor.clone(), now), r))
    }

    /// The risk engine's storage ([`risk::RiskStore`]), if this backend has it.
    fn risk_store(&self) -> Option<&dyn risk::RiskStore> {
        None
    }

    /// The E-Port ledgers' storage ([`eport::EportStore`]), if this backend has it.
    fn eport_store(&self) -> Option<&dyn eport::EportStore> {
        None
    }

    /// The exchange outbox ([`outbox::OutboxStore`]), if this backend has it.
    fn outbox_store(&self) -> Option<&dyn outbox::OutboxStore> {
        None
    }

    /// The log of the agencies' messages customs received ([`inbound::InboundLog`]), if this
    /// backend has it.
    fn inbound_log(&self) -> Option<&dyn inbound::InboundLog> {
        None
    }

    /// The tax and foreign-exchange ledgers ([`finance::FinanceStore`]), if this backend has
    /// them.
    fn finance_store(&self) -> Option<&dyn finance::FinanceStore> {
        None
    }

    /// The guarantee ledger's storage ([`guarantee::GuaranteeStore`]), if this backend has it.
    fn guarantee_store(&self) -> Option<&dyn guarantee::GuaranteeStore> {
        None
    }

    /// Powers of attorney and the case register ([`parties::PartiesStore`]), if this backend
    /// has them.
    fn parties_store(&self) -> Option<&dyn parties::PartiesStore> {
        None
    }

    /// Webhook subscriptions and their delivery log ([`webhooks::WebhookStore`]), if this
    /// backend has them.
    fn webhook_store(&self) -> Option<&dyn webhooks::WebhookStore> {
        None
    }

    /// After a bulk load (the demo, a simulated day): refresh what the backend's query planner
    /// knows of the tables, so that the next plans see the rows just written (PostgreSQL:
    /// `ANALYZE`). Nothing to do by default.
    fn refresh_statistics(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A security event's action is a known one and its detail a JSON object.
fn check_security_event(e: &SecurityEvent) -> Result<(), StoreError> {
    if !SECURITY_ACTIONS.contains(&e.action.as_str()) {
        return Err(StoreError::Invalid(format!(
            "unknown security event {:?}",
            e.action
        )));
    }
    match serde_json::from_str::<serde_json::Value>(&e.detail) {
        Ok(serde_json::Value::Object(_)) if e.subject.len() <= 200 && e.detail.len() <= 4096 => {
            Ok(())
        }
        _ => Err(StoreError::Invalid(
            "a security event's detail is a JSON object of at most 4 KiB, its subject at most 200 bytes".into(),
        )),
    }
}

/// Milliseconds since the epoch, the form timestamps take in narrow columns (and in the audit
/// chain, on every backend).
pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms}")))
}
