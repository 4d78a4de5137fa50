//! The writer protocol both backends share: every write is a [`Request`] sent through a
//! bounded queue to the backend's one writer, which drains what is waiting into one
//! transaction, commits once, and only then answers everyone (group commit).
//!
//! - [`Request`]: one variant per write of the use-case traits, each carrying the reply
//!   channel of its own answer type ([`Reply<T>`]), so a backend can only answer a submission
//!   with a `Submitted`, and the caller needs no "impossible reply" arm.
//! - [`Queue`]: the callers' side: [`Queue::call`] sends a request (blocking when the queue is
//!   full: back-pressure) and waits for its answer.
//! - [`run`]: the writer's loop: gather a batch (the first waiting request and every other one
//!   already queued, at most `batch_max`), let the backend run it in one transaction, and
//!   deliver the answers after COMMIT; if the batch could not commit, every request fails.
//! - [`Answer`]: a request's result held until its batch commits.
//!
//! Backends differ only inside the batch: SQLite runs each request in a savepoint of one
//! `BEGIN IMMEDIATE` transaction; PostgreSQL also writes runs of filings as multi-row
//! statements.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use clearance::{Actor, CreditClass};
use domain::codes::Uscc;

use crate::cargo::{
    ManifestWrite, ManifestWritten, PendingMatch, PostalWrite, StoredTransit, SubmittedMatched,
    TransitWrite,
};
use crate::eport::FilingCheck;
use crate::outbox::OutboxMessage;
use crate::risk::{
    Examination, FeedbackRow, RiskPolicyWrite, RulesWrite, StoredRiskPolicy, StoredRules, WatchRow,
};
use crate::*;
use ::eport::Standing;

/// A filing with its automatic review and, when it is matched to a bill, the pending match.
pub type MatchedFiling = (SubmitRequest, AutomaticReview, Option<PendingMatch>);

/// A filing through the E-Port: its review, its checks (registry, licences), and the bill match
/// when filed through cargo control (`Some(None)`: through cargo control, nothing to match).
pub type EportFiling = (
    SubmitRequest,
    AutomaticReview,
    FilingCheck,
    Option<Option<PendingMatch>>,
);

/// Where the writer sends one request's answer.
pub type Reply<T> = SyncSender<Result<T, StoreError>>;

/// Declares [`Request`]: each variant is `Name(payload, Reply<answer>)`, and
/// [`Request::fail`] answers any of them with an error.
macro_rules! requests {
    ($( $(#[$doc:meta])* $variant:ident($payload:ty) -> $answer:ty, )*) => {
        /// One write for the backend's writer, with the channel its answer goes back on.
        pub enum Request {
            $( $(#[$doc])* $variant($payload, Reply<$answer>), )*
            /// A write carrying an agency's message to customs (crate::inbound): the message's
            /// row and the write commit in one savepoint; the write's own channel answers.
            Inbound(Box<crate::inbound::InboundWrite>),
        }

        impl Request {
            /// Answer with a backend error: the batch holding this request could not begin or
            /// commit, so nothing of it was written.
            pub fn fail(&self, why: &str) {
                match self {
                    $( Request::$variant(_, reply) => {
                        // The caller may have gone away; its answer is simply dropped.
                        let _ = reply.send(Err(StoreError::Backend(why.to_owned().into())));
                    } )*
                    Request::Inbound(w) => w.request.fail(why),
                }
            }

            /// The answer `error` to this request, delivered when the batch commits: for a
            /// request the backend does not run (an inbound message seen before).
            pub fn refuse(&self, error: StoreError) -> Answer {
                match self {
                    $( Request::$variant(_, reply) => Answer::new(reply, Err(error)), )*
                    Request::Inbound(w) => w.request.refuse(error),
                }
            }
        }
    };
}

requests! {
    Submit(SubmitRequest) -> Submitted,
    Accept(AcceptRequest) -> Accepted,
    Append(AppendRequest) -> Appended,
    SubmitReviewed((SubmitRequest, AutomaticReview)) -> Filed,
    PutOffice((Office, Actor, DateTime<Utc>)) -> (),
    PutUser((NewUser, Actor, DateTime<Utc>)) -> i64,
    CreateAccount((NewAccount, Actor, DateTime<Utc>)) -> i64,
    CreateSession((NewSession, Actor, DateTime<Utc>)) -> (),
    /// `true` when a live session was revoked.
    RevokeSession((String, Actor, DateTime<Utc>)) -> bool,
    RevokeSessionsOf((i64, Actor, DateTime<Utc>)) -> u64,
    // Account lifecycle and the audit chain's own records.
    SetPassword((PasswordWrite, Actor, DateTime<Utc>)) -> u64,
    SetAccountEnabled((i64, bool, Actor, DateTime<Utc>)) -> u64,
    RecordSecurityEvent((SecurityEvent, Actor, DateTime<Utc>)) -> (),
    AnchorAudit(crate::audit::AnchorRequest) -> Option<crate::audit::SignedHead>,
    /// A write that changes nothing but is committed and made durable like any other
    /// (`/ready`: can the store write?).
    ProbeWrite(()) -> (),
    // Cargo control (crate::cargo).
    RecordManifest(ManifestWrite) -> ManifestWritten,
    SubmitMatched(Box<MatchedFiling>) -> SubmittedMatched,
    RecordTransit(TransitWrite) -> StoredTransit,
    RecordPostal(PostalWrite) -> Vec<i64>,
    // The risk engine (crate::risk).
    PutRules(RulesWrite) -> StoredRules,
    PutPolicy(RiskPolicyWrite) -> StoredRiskPolicy,
    SetCreditClass((Uscc, CreditClass, Actor, DateTime<Utc>)) -> (),
    AddWatch((WatchRow, Actor, DateTime<Utc>)) -> i64,
    RemoveWatch((i64, Actor, DateTime<Utc>)) -> bool,
    RecordDecision((FeedbackRow, Actor, DateTime<Utc>)) -> (),
    AppendExamined((AppendRequest, Examination)) -> Appended,
    // The E-Port ledgers (crate::eport).
    IssueLicence((::eport::Licence, Actor, DateTime<Utc>)) -> Standing,
    PutRegistry((::eport::RegistryEntry, Actor, DateTime<Utc>)) -> (),
    /// A licence withdrawn by its issuer (licence number, withdrawal).
    WithdrawLicence((String, ::eport::Withdrawal, Actor, DateTime<Utc>)) -> Standing,
    /// The filing, its checks, and the bill match when filed through cargo control.
    EportFile(Box<EportFiling>) -> SubmittedMatched,
    // The exchange outbox (crate::outbox).
    AppendWithOutbox((AppendRequest, Vec<OutboxMessage>)) -> Appended,
    MarkPublished((Vec<u64>, DateTime<Utc>)) -> (),
    AckFeed((String, u64, DateTime<Utc>)) -> (),
    // The tax and foreign-exchange ledgers (crate::finance).
    RecordRefundClaim((Box<::eport::refund::RefundClaim>, Actor, DateTime<Utc>)) -> (),
    RecordBankRecord((Box<::eport::forex::BankRecord>, Actor, DateTime<Utc>)) -> (),
    /// The tax agency's payment of a verified refund claim.
    PayRefund(Box<crate::finance::RefundPaymentWrite>) -> ::eport::refund::RefundClaim,
    // The guarantee ledger (crate::guarantee).
    RegisterGuarantee((crate::guarantee::RegisterWrite, Actor, DateTime<Utc>)) -> crate::guarantee::StoredGuarantee,
    ClaimGuarantee((crate::guarantee::ClaimWrite, Actor, DateTime<Utc>)) -> domain::money::Fen,
    // Powers of attorney and the case register (crate::parties, crate::cases).
    GrantAuthority((crate::parties::NewAuthority, Actor, DateTime<Utc>)) -> crate::parties::StoredAuthority,
    RevokeAuthority((i64, Uscc, Actor, DateTime<Utc>)) -> crate::parties::StoredAuthority,
    CaseStep(Box<crate::cases::CaseWrite>) -> crate::cases::StoredCase,
    // AEO certification and credit management (crate::aeo).
    Aeo(Box<crate::aeo::AeoWrite>) -> crate::aeo::StoredCertification,
    CreditDecision(Box<crate::aeo::CreditDecision>) -> crate::cases::CreditChange,
    OverdueReview(Box<crate::aeo::OverdueReview>) -> Vec<crate::cases::CreditChange>,
    // Customs registration and an enterprise's own users (crate::registration).
    Registration(Box<crate::registration::RegistrationWrite>) -> crate::registration::StoredRegistration,
    /// An enterprise user's roles replaced (user id, roles): the number of accounts changed.
    SetRoles((i64, Vec<Duty>, Actor, DateTime<Utc>)) -> u64,
    // Documents attached to a declaration (crate::attachments).
    AddAttachment(Box<crate::attachments::AttachmentWrite>) -> crate::attachments::StoredAttachment,
    // Webhook subscriptions, their cursors and delivery log (crate::webhooks).
    Webhook(Box<crate::webhooks::WebhookWrite>) -> i64,
    // Drafts and the notifications read marker (crate::drafts).
    SaveDraft(Box<crate::drafts::DraftWrite>) -> crate::drafts::DraftSummary,
    /// `true` when the owner's draft was deleted.
    DeleteDraft((crate::drafts::DraftOwner, i64)) -> bool,
    MarkNotificationsRead(crate::drafts::ReadMarkWrite) -> i64,
    // The agencies' messages to customs (crate::inbound): a refused one recorded; `false`
    // when its id was in the log already.
    RecordInboundRefused(crate::inbound::InboundRefusal) -> bool,
}

/// A request's result, held until its batch commits.
pub struct Answer(Box<dyn Pending>);

trait Pending: Send {
    fn is_err(&self) -> bool;
    fn deliver(self: Box<Self>, commit_failed: Option<&str>);
}

struct Typed<T> {
    reply: Reply<T>,
    result: Result<T, StoreError>,
}

impl<T: Send> Pending for Typed<T> {
    fn is_err(&self) -> bool {
        self.result.is_err()
    }
    fn deliver(self: Box<Self>, commit_failed: Option<&str>) {
        let result = match commit_failed {
            None => self.result,
            Some(why) => Err(StoreError::Backend(why.to_owned().into())),
        };
        // The caller may have gone away; its answer is simply dropped.
        let _ = self.reply.send(result);
    }
}

impl Answer {
    /// The result of one request, to go back on `reply` once the batch commits.
    pub fn new<T: Send + 'static>(reply: &Reply<T>, result: Result<T, StoreError>) -> Answer {
        Answer(Box::new(Typed {
            reply: reply.clone(),
            result,
        }))
    }

    /// The request failed (its savepoint is to be rolled back).
    pub fn is_err(&self) -> bool {
        self.0.is_err()
    }

    fn deliver(self, commit_failed: Option<&str>) {
        self.0.deliver(commit_failed)
    }
}

/// The accessors of [`Store`] to the sub-stores, for a backend that implements them all: put
/// `store::provide_sub_stores!();` in its `impl Store`.
#[macro_export]
macro_rules! provide_sub_stores {
    () => {
        fn risk_store(&self) -> Option<&dyn $crate::risk::RiskStore> {
            Some(self)
        }
        fn eport_store(&self) -> Option<&dyn $crate::eport::EportStore> {
            Some(self)
        }
        fn outbox_store(&self) -> Option<&dyn $crate::outbox::OutboxStore> {
            Some(self)
        }
        fn finance_store(&self) -> Option<&dyn $crate::finance::FinanceStore> {
            Some(self)
        }
        fn guarantee_store(&self) -> Option<&dyn $crate::guarantee::GuaranteeStore> {
            Some(self)
        }
        fn parties_store(&self) -> Option<&dyn $crate::parties::PartiesStore> {
            Some(self)
        }
        fn webhook_store(&self) -> Option<&dyn $crate::webhooks::WebhookStore> {
            Some(self)
        }
        fn inbound_log(&self) -> Option<&dyn $crate::inbound::InboundLog> {
            Some(self)
        }
    };
}

/// Counters of the writer, for benchmarks and operations (`/metrics`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub batches: u64,
    pub requests: u64,
    /// Batches by their number of requests (group size): `[i]` counts the batches of at most
    /// [`BATCH_SIZE_BUCKETS`]`[i]` requests and more than the bound before (not cumulative).
    pub batch_sizes: [u64; BATCH_SIZE_BUCKETS.len()],
    /// Batches by the time their transaction took, begin to commit (or failure), in the same
    /// way over [`COMMIT_SECONDS_BUCKETS`]; the last slot counts the slower ones.
    pub commit_times: [u64; COMMIT_SECONDS_BUCKETS.len() + 1],
    /// Their total time, in microseconds.
    pub commit_micros: u64,
}

/// Upper bounds of the group-size histogram; batches above the last bound count in the last slot.
pub const BATCH_SIZE_BUCKETS: [u64; 10] = [1, 2, 4, 8, 16, 32, 64, 128, 256, u64::MAX];
/// Upper bounds of the commit-time histogram, in seconds.
pub const COMMIT_SECONDS_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

impl WriterStats {
    fn record(&mut self, size: usize, elapsed: std::time::Duration) {
        self.batches += 1;
        self.requests += size as u64;
        let size = size as u64;
        let i = BATCH_SIZE_BUCKETS
            .iter()
            .position(|&b| size <= b)
            .unwrap_or(BATCH_SIZE_BUCKETS.len() - 1);
        self.batch_sizes[i] += 1;
        let secs = elapsed.as_secs_f64();
        let j = COMMIT_SECONDS_BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(COMMIT_SECONDS_BUCKETS.len());
        self.commit_times[j] += 1;
        self.commit_micros += elapsed.as_micros() as u64;
    }
}

/// A backend whose writes go through a [`Queue`] to its one writer: the write methods of the
/// use-case traits ([`Store`], [`crate::risk::RiskStore`], ...) are provided on top of it, once
/// for every backend, so a backend implements only its reads and its writer.
pub trait Queued {
    fn queue(&self) -> &Queue;
}

/// The callers' end of the writer's queue.
pub struct Queue {
    tx: Option<SyncSender<Request>>,
    /// Requests sent and not yet answered: waiting in the queue or in the batch being committed.
    waiting: std::sync::atomic::AtomicUsize,
}

impl Queue {
    /// A queue of at most `queue_max` waiting requests, and the writer's end of it.
    pub fn bounded(queue_max: usize) -> (Queue, Receiver<Request>) {
        assert!(queue_max >= 1, "queue bound must be positive");
        let (tx, rx) = mpsc::sync_channel(queue_max);
        (
            Queue {
                tx: Some(tx),
                waiting: std::sync::atomic::AtomicUsize::new(0),
            },
            rx,
        )
    }

    /// Send a request and wait for its answer (durable once it comes).
    pub fn call<T>(&self, request: impl FnOnce(Reply<T>) -> Request) -> Result<T, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let queue = self.tx.as_ref().ok_or(StoreError::Closed)?;
        // A use case applying an agency's message: its write carries the message (crate::inbound).
        let request = match crate::inbound::take_carried() {
            None => request(reply),
            Some(tag) => Request::Inbound(Box::new(crate::inbound::InboundWrite {
                tag,
                request: request(reply),
            })),
        };
        use std::sync::atomic::Ordering::Relaxed;
        self.waiting.fetch_add(1, Relaxed);
        let sent = match queue.try_send(request) {
            Ok(()) => Ok(()),
            // Back-pressure: wait for room rather than failing.
            Err(TrySendError::Full(r)) => queue.send(r).map_err(|_| StoreError::Closed),
            Err(TrySendError::Disconnected(_)) => Err(StoreError::Closed),
        };
        let answered = sent.and_then(|()| answer.recv().map_err(|_| StoreError::Closed));
        self.waiting.fetch_sub(1, Relaxed);
        answered?
    }

    /// Requests waiting for the writer now (queued, or in the batch being committed).
    pub fn depth(&self) -> usize {
        self.waiting.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Close the queue: the writer finishes what is queued and stops.
    pub fn close(&mut self) {
        self.tx.take();
    }
}

/// The writer's loop, until every sender is gone and the queue is empty. `commit` runs one
/// batch in one transaction and returns one answer per request, in order, once COMMIT
/// succeeded; `Err(why)` when the batch as a whole failed (then every request fails with it).
pub fn run(
    queue: Receiver<Request>,
    batch_max: usize,
    stats: &Mutex<WriterStats>,
    mut commit: impl FnMut(&[Request]) -> Result<Vec<Answer>, String>,
) {
    assert!(batch_max >= 1, "batch bound must be positive");
    let mut batch: Vec<Request> = Vec::with_capacity(batch_max);
    // `recv` fails only once every sender is gone and the queue is empty.
    while let Ok(first) = queue.recv() {
        batch.push(first);
        while batch.len() < batch_max {
            match queue.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let outcome = commit(&batch);
        stats
            .lock()
            .expect("stats lock")
            .record(batch.len(), started.elapsed());
        match outcome {
            Ok(answers) => {
                assert_eq!(answers.len(), batch.len(), "one answer per request");
                for a in answers {
                    a.deliver(None);
                }
            }
            Err(why) => {
                for r in &batch {
                    r.fail(&why);
                }
            }
        }
        batch.clear();
    }
}
