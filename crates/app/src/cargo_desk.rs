//! Transport and cargo control wired into the service (docs/CARGO.md "Wiring"): the manifest
//! ledger in memory over [`store::cargo::CargoStore`], the links with the clearance lifecycle
//! (match at acceptance, write-off at release, unmatch at cancellation, exit confirmation closing
//! exports, the late declaration fee), transits and postal items.
//!
//! **Ledger state.** [`CargoDesk::open`] replays the manifest event log once at start into a
//! [`ManifestLedger`] (matching must answer from memory: a declaration names any bill of any
//! manifest). Every manifest write holds the ledger lock from decide to apply and passes the
//! sequence it has applied, so the log and the ledger cannot diverge (another process writing the
//! same database gets `Conflict`), except a filing's match: reserved provisionally under the lock,
//! written without it (joining group commit), then confirmed or undone (docs/CARGO.md "Ledger
//! state"). Transits are loaded per transit from their row, and the bills of open transits are
//! indexed in memory (an import naming one waits for the arrival at the office of destination);
//! postal items are rows.

mod exits;
pub use exits::{
    exit_refusal, recorded_manifest_ref, UnprovenExit, UnprovenExits, UNPROVEN_PAGE_DEFAULT,
    UNPROVEN_SCAN_MAX,
};

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use cargo_control::{
    china_date, transit, Actor as CargoActor, BaggageDeclaration, Bill, BillNo,
    ClearingDeclaration, DeclaredGoods, LateBill, ManifestAction, ManifestBalance, ManifestCommand,
    ManifestEvent, ManifestEventKind, ManifestId, ManifestKind, ManifestLedger, ManifestState,
    MatchPolicy, ParcelList, PeriodStart, PostalPolicy, Refusal, SealNo, TallyLine, TransitAction,
    TransitAlert, TransitCommand, TransitDeclaration, TransitLeg, TransitNo, Voyage,
};
use chrono::{DateTime, Utc};
use clearance::Status;
use domain::codes::TransportMode;
use domain::codes::{Direction, OfficeCode};
use domain::declaration::Declaration;
use domain::money::Fen;
use serde::Serialize;
use store::cargo::{
    CargoStore, ManifestWrite, PendingMatch, PostalFilter, PostalRecord, PostalWrite, StoredPostal,
    StoredTransit, SubmittedMatched, TransitFilter, TransitWrite,
};
use store::{
    AppendRequest, Appended, AutomaticReview, DeclarationKey, Filed, StoreError, StoredDeclaration,
    SubmitRequest,
};

use crate::access::{CargoOperation as Op, CargoResource as Res, Principal};
use crate::assessment;
use crate::error::{AppError, FieldProblem};
use crate::exchange_desk::ExchangeService;
use crate::kernel::{Core, Scope};
use crate::risk_desk::RiskDesk;

/// Policies of the clearance links (docs/CARGO.md "Policies").
#[derive(Clone, Debug)]
pub struct CargoPolicy {
    /// Imports by these modes that name a bill must match it on an arrived manifest at
    /// acceptance; a mismatch, an unknown bill or a manifest not arrived rejects the filing at
    /// automatic review with the reasons. `false`: imports are never matched.
    pub require_manifest: bool,
    /// The transport modes `require_manifest` applies to: `2` waterway (sea) and `5` air by
    /// default (the customs transport mode table).
    pub manifest_modes: Vec<TransportMode>,
    pub matching: MatchPolicy,
    pub postal: PostalPolicy,
}

impl Default for CargoPolicy {
    fn default() -> Self {
        CargoPolicy {
            require_manifest: true,
            manifest_modes: ["2", "5"]
                .into_iter()
                .map(|m| TransportMode::parse(m).expect("shipped transport mode codes parse"))
                .collect(),
            matching: MatchPolicy::default(),
            postal: PostalPolicy::default(),
        }
    }
}

struct LedgerState {
    ledger: ManifestLedger,
    /// Every manifest event up to this one is applied: the `expected_seq` of this process's
    /// writes, and where [`CargoDesk::catch_up`] reads on.
    seq: u64,
    /// Events this process wrote and applied already, past `seq` (another process's events
    /// came between them, not read yet): skipped when the log is read up to them.
    own: std::collections::BTreeSet<u64>,
}

impl LedgerState {
    /// An event this process wrote (number `seq`) is applied, or is to be: `false` when the
    /// log was read past it already (it is applied).
    fn note_own(&mut self, seq: u64) -> bool {
        if seq <= self.seq || !self.own.insert(seq) {
            return false;
        }
        while self.own.remove(&(self.seq + 1)) {
            self.seq += 1;
        }
        true
    }
}

/// The cargo side of the service: the ledger and its store.
pub struct CargoDesk {
    store: Arc<dyn CargoStore>,
    state: Mutex<LedgerState>,
    policy: CargoPolicy,
    /// Serials of the placeholder numbers of provisional reservations.
    provisional: AtomicU32,
    /// The bills carried by transits not cancelled, with their transit: an import naming one is
    /// refused until the goods have arrived, and then accepted at the office of destination
    /// only (`transit::check_inland_declaration`; a cleared transit binds nothing). Their late
    /// declaration fee counts from the arrival at the office of destination, and not at all
    /// while on the way (`cargo_control::PeriodStart`), so cleared transits stay indexed too.
    /// Loaded at start (every open or cleared transit, page by page), kept up to date by every
    /// transit write of this process.
    transit_bills: Mutex<HashMap<BillNo, Arc<cargo_control::TransitState>>>,
}

/// Events read per page when replaying.
const REPLAY_PAGE: u32 = 5_000;
/// Transits read per page when loading the open ones at start, and for alerts.
pub const TRANSIT_PAGE: u32 = store::cargo::CARGO_PAGE_MAX;

/// The transit statuses indexed by bill: those under which goods are still moving under
/// customs control, and cleared ones (the arrival at the destination starts the 14 days).
const INDEXED_TRANSIT: [cargo_control::TransitStatus; 5] = [
    cargo_control::TransitStatus::Declared,
    cargo_control::TransitStatus::Departed,
    cargo_control::TransitStatus::Arrived,
    cargo_control::TransitStatus::SealBroken,
    cargo_control::TransitStatus::Cleared,
];

impl CargoDesk {
    /// Replay the manifest log into the ledger, and load every open transit.
    pub fn open(store: Arc<dyn CargoStore>, policy: CargoPolicy) -> Result<CargoDesk, AppError> {
        Self::open_paged(store, policy, TRANSIT_PAGE)
    }

    /// [`CargoDesk::open`], reading the open transits `transit_page` at a time (1 to
    /// `CARGO_PAGE_MAX`; tests use small pages).
    pub fn open_paged(
        store: Arc<dyn CargoStore>,
        policy: CargoPolicy,
        transit_page: u32,
    ) -> Result<CargoDesk, AppError> {
        let mut ledger = ManifestLedger::new(policy.matching.clone());
        let mut seq = 0;
        loop {
            let page = store.manifest_events(seq, REPLAY_PAGE)?;
            if page.is_empty() {
                break;
            }
            for e in page {
                assert!(e.seq > seq, "the manifest log grows");
                seq = e.seq;
                ledger.apply(&e.event);
            }
        }
        let mut transit_bills = HashMap::new();
        store::cargo::for_each_transit(
            &*store,
            TransitFilter {
                statuses: Some(INDEXED_TRANSIT.to_vec()),
                limit: transit_page,
                ..TransitFilter::default()
            },
            |t| note_transit(&mut transit_bills, &t.state),
        )?;
        Ok(CargoDesk {
            store,
            state: Mutex::new(LedgerState {
                ledger,
                seq,
                own: Default::default(),
            }),
            policy,
            provisional: AtomicU32::new(0),
            transit_bills: Mutex::new(transit_bills),
        })
    }

    fn transit_bills(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<BillNo, Arc<cargo_control::TransitState>>> {
        self.transit_bills.lock().expect("transit bills lock")
    }

    /// Follow a transit written outside the use cases (the demo's past-dated one).
    pub(crate) fn note_transit(&self, state: &cargo_control::TransitState) {
        note_transit(&mut self.transit_bills(), state);
    }

    /// The transit carrying `bill_no` (not cancelled), for its late declaration fee.
    fn transit_leg(&self, bill_no: &BillNo) -> Option<TransitLeg> {
        self.transit_bills()
            .get(bill_no)
            .and_then(|t| TransitLeg::of(t))
    }

    /// The transit rule for an import declaration naming `bill_no`, filed at `office`.
    fn check_in_transit(&self, bill_no: &BillNo, office: OfficeCode) -> Result<(), Refusal> {
        match self.transit_bills().get(bill_no) {
            Some(t) => transit::check_inland_declaration(t, *bill_no, office),
            None => Ok(()),
        }
    }

    pub fn policy(&self) -> &CargoPolicy {
        &self.policy
    }

    /// The store behind the desk (the demo writes a transit with past times through it).
    pub(crate) fn store(&self) -> &dyn CargoStore {
        &*self.store
    }

    /// A number no declaration has (year 0), standing for a filing's match until the store
    /// has written it.
    fn placeholder(&self) -> domain::codes::DeclarationNo {
        let serial = self.provisional.fetch_add(1, Ordering::Relaxed)
            % (domain::codes::EntryNumber::SERIAL_MAX + 1);
        domain::codes::DeclarationNo::new(OfficeCode::HQ, 0, Direction::Import, serial)
            .expect("placeholder numbers are valid")
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LedgerState> {
        self.state.lock().expect("ledger lock")
    }

    /// Read the manifest log past what this ledger has applied and apply the events other
    /// processes wrote (several `jinguan serve` on one PostgreSQL database, docs/STORE.md
    /// "Several processes"): called before every manifest command, under the ledger's lock,
    /// and by the server's sync timer, so that another process's manifests and matches are
    /// seen here within that period. Returns the events applied.
    pub fn catch_up(&self) -> Result<u64, AppError> {
        let mut g = self.lock();
        Ok(self.catch_up_locked(&mut g)?)
    }

    fn catch_up_locked(&self, g: &mut LedgerState) -> Result<u64, StoreError> {
        let mut applied = 0;
        loop {
            let page = self.store.manifest_events(g.seq, REPLAY_PAGE)?;
            let full = page.len() == REPLAY_PAGE as usize;
            for e in page {
                if e.seq <= g.seq {
                    continue;
                }
                if !g.own.remove(&e.seq) {
                    g.ledger.apply(&e.event);
                    applied += 1;
                }
                g.seq = e.seq;
            }
            while g.own.remove(&(g.seq + 1)) {
                g.seq += 1;
            }
            if !full {
                return Ok(applied);
            }
        }
    }
}

/// A manifest with its balance, as shown.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestView {
    pub manifest: ManifestState,
    pub balance: ManifestBalance,
}

#[derive(Clone, Debug, Serialize)]
pub struct ManifestSummary {
    pub manifest_id: ManifestId,
    pub carrier: domain::codes::Uscc,
    pub direction: Direction,
    pub office: OfficeCode,
    pub status: cargo_control::ManifestStatus,
    pub version: u32,
    pub bills: usize,
}

/// The answer to a manifest command.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestDone {
    pub manifest_id: ManifestId,
    pub status: cargo_control::ManifestStatus,
    pub version: u32,
    pub events: Vec<&'static str>,
    /// Export declarations closed by an exit confirmation.
    pub closed: Vec<domain::codes::DeclarationNo>,
}

/// What the pure core refused, as the service answers it.
pub fn refusal(r: Refusal) -> AppError {
    match r {
        Refusal::ActorNotPermitted { .. }
        | Refusal::NotOwnManifest { .. }
        | Refusal::WrongOffice { .. } => AppError::Forbidden(crate::access::Denied {
            code: "forbidden",
            message_en: r.message_en(),
            message_zh: r.message_zh(),
        }),
        Refusal::NotAllowedInStatus { .. }
        | Refusal::ManifestExists { .. }
        | Refusal::ManifestDeparted { .. }
        | Refusal::AlreadyWrittenOff { .. }
        | Refusal::DuplicateDeclaration { .. } => AppError::Conflict {
            code: r.code(),
            message_en: r.message_en(),
            message_zh: r.message_zh(),
        },
        other => AppError::Invalid(problems(&other, "")),
    }
}

/// [`refusal`], with the problems of a refused input on `field`.
fn refusal_on(r: Refusal, field: &str) -> AppError {
    match refusal(r.clone()) {
        AppError::Invalid(_) => AppError::Invalid(problems(&r, field)),
        other => other,
    }
}

/// Every reason of a refusal as a field problem: on the field the refusal names when it names
/// one (a missing, too long, too many or negative field), else on `field`.
fn problems(r: &Refusal, field: &str) -> Vec<FieldProblem> {
    r.reasons()
        .into_iter()
        .map(|x| {
            let own = match x {
                Refusal::Missing { field }
                | Refusal::TooLong { field, .. }
                | Refusal::TooMany { field, .. }
                | Refusal::Negative { field } => Some(*field),
                _ => None,
            };
            FieldProblem::new(
                own.unwrap_or(field),
                x.code(),
                x.message_zh(),
                x.message_en(),
            )
        })
        .collect()
}

fn cargo_actor(p: &Principal) -> Result<CargoActor, AppError> {
    Ok(match p {
        Principal::Carrier { uscc, .. } => CargoActor::Carrier { uscc: *uscc },
        Principal::PostalOperator { uscc, .. } => CargoActor::PostalOperator { uscc: *uscc },
        Principal::Officer { login, office, .. } => CargoActor::Officer {
            login: login.clone(),
            office: *office,
        },
        Principal::Hq { login, .. } => CargoActor::Officer {
            login: login.clone(),
            office: OfficeCode::HQ,
        },
        Principal::Enterprise { .. } | Principal::Agency { .. } | Principal::Admin { .. } => {
            return Err(AppError::Forbidden(crate::access::Denied {
                code: "forbidden",
                message_en: format!(
                    "{} has no part in cargo control",
                    crate::access::principal_label(p).1
                ),
                message_zh: format!(
                    "{}无权办理舱单、转关或邮递物品业务",
                    crate::access::principal_label(p).0
                ),
            }))
        }
    })
}

fn system() -> CargoActor {
    CargoActor::System {
        component: "clearance".into(),
    }
}

/// Whether and how a declaration is matched at acceptance.
enum Link {
    /// Not linked to a manifest.
    None,
    /// Must match (imports under `require_manifest`).
    Required,
    /// Matched when its bill is on a manifest (exports: the goods may be declared before the
    /// pre-load manifest is filed).
    IfKnown,
}

impl CargoPolicy {
    fn link(&self, decl: &Declaration) -> Link {
        if decl.bill_no.is_none() {
            return Link::None;
        }
        match decl.direction {
            Direction::Import
                if self.require_manifest && self.manifest_modes.contains(&decl.transport_mode) =>
            {
                Link::Required
            }
            Direction::Import => Link::None,
            Direction::Export => Link::IfKnown,
        }
    }
}

/// Cargo control as a service: the use cases of carriers, postal operators and officers on
/// manifests, transits and postal items, and cargo's contributions to a filing's write (the bill
/// match, `bill_link` and `reserve`) and to a step's write (the
/// write-off or the freeing of the bill, `bill_change`).
#[derive(Clone, Copy)]
pub struct CargoService<'a> {
    pub(crate) core: &'a Core,
    /// `None`: declarations are not linked to manifests and the use cases answer not found.
    pub(crate) desk: Option<&'a CargoDesk>,
    /// The watch lists postal items are screened against.
    pub(crate) risk: &'a RiskDesk,
    /// The messages of export declarations an exit confirmation closes.
    pub(crate) exchange: ExchangeService<'a>,
}

/// Whether a filing is linked to a bill of a manifest (`bill_link`).
pub(crate) enum BillLink<'a> {
    /// Cargo control is off, review rejected the filing, or its bill is not one that is
    /// matched: written without the ledger.
    Off,
    /// Rejected for its bill (under transit elsewhere, or not a bill that parses), with the
    /// reasons; written through the cargo ledgers without a match.
    Rejected {
        ledgers: &'a dyn CargoStore,
        review: AutomaticReview,
    },
    /// The bill to match at acceptance.
    Bill(BillToMatch<'a>),
}

/// A filing's bill, to be matched on the ledger.
pub(crate) struct BillToMatch<'a> {
    desk: &'a CargoDesk,
    goods: DeclaredGoods,
    /// The customs value (imports), for the late declaration fee.
    value: Option<Fen>,
    link: Link,
}

impl BillToMatch<'_> {
    /// The ledger reads the manifest log past its sequence (what other processes on the same
    /// database wrote), before a match refused as stale is decided again.
    pub(crate) fn catch_up(&self) -> Result<u64, AppError> {
        self.desk.catch_up()
    }
}

impl<'a> BillToMatch<'a> {
    /// The cargo ledgers the filing is written through.
    pub(crate) fn ledgers(&self) -> &'a dyn CargoStore {
        &*self.desk.store
    }
}

/// A filing's match, checked and reserved on the ledger under a placeholder number until the
/// store has written it ([`Reservation::settle`]).
pub(crate) struct Reservation<'a> {
    desk: &'a CargoDesk,
    /// The review to write: with the late declaration fee, or rejecting with the reasons.
    pub(crate) review: AutomaticReview,
    /// The match to write with the filing, if any.
    pub(crate) pending: Option<PendingMatch>,
    /// What takes the placeholder off the ledger again.
    undo: Option<ManifestEvent>,
}

impl Reservation<'_> {
    /// The placeholder gives way to the match written (or to nothing).
    pub(crate) fn settle(
        self,
        out: Result<SubmittedMatched, StoreError>,
    ) -> Result<Filed, StoreError> {
        let Some(undo) = self.undo else {
            return out.map(|m| m.filed);
        };
        let mut g = self.desk.lock();
        g.ledger.apply(&undo);
        out.map(|out| {
            // Unless the log was read past it already (`catch_up`), which applied it.
            if let Some(m) = &out.matched {
                if g.note_own(m.seq) {
                    g.ledger.apply(&m.event);
                }
            }
            out.filed
        })
    }
}

/// A step's change to its bill, decided on the ledger and held under its lock until written
/// ([`BillChange::write`]).
pub(crate) struct BillChange<'a> {
    desk: &'a CargoDesk,
    guard: std::sync::MutexGuard<'a, LedgerState>,
    /// An export matched at release (its bill filed since its acceptance), applied already.
    late_match: Vec<ManifestEvent>,
    /// The write-off, or the unmatch.
    events: Vec<ManifestEvent>,
    now: DateTime<Utc>,
}

impl BillChange<'_> {
    /// Write the step's events with the manifest's, and the step's outbox rows, in one
    /// transaction; then apply them to the ledger (or undo the late match).
    pub(crate) fn write(
        mut self,
        append: AppendRequest,
        outbox: Vec<store::outbox::OutboxMessage>,
    ) -> Result<Appended, StoreError> {
        let written = self.desk.store.record_manifest(ManifestWrite {
            expected_seq: self.guard.seq,
            events: self
                .late_match
                .iter()
                .chain(&self.events)
                .cloned()
                .collect(),
            declarations: vec![append],
            outbox,
        });
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                undo_late_match(&mut self.guard, &self.late_match, self.now);
                return Err(e);
            }
        };
        for e in &self.events {
            self.guard.ledger.apply(e);
        }
        note_written(
            &mut self.guard,
            written.last_seq,
            self.late_match.len() + self.events.len(),
        );
        written
            .declarations
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("manifest write lost its declaration".into()))
    }
}

/// A manifest write of `n` events ending at `last_seq` is applied (the ledger's lock was held
/// throughout: nothing read the log in between).
fn note_written(g: &mut LedgerState, last_seq: u64, n: usize) {
    for seq in last_seq.saturating_sub(n as u64) + 1..=last_seq {
        g.note_own(seq);
    }
}

fn undo_late_match(g: &mut LedgerState, late_match: &[ManifestEvent], now: DateTime<Utc>) {
    for e in late_match {
        if let ManifestEventKind::DeclarationMatched {
            manifest_id,
            bill_no,
            declaration_no,
            ..
        } = &e.kind
        {
            g.ledger.apply(&ManifestEvent {
                at: now,
                actor: system(),
                kind: ManifestEventKind::DeclarationUnmatched {
                    manifest_id: *manifest_id,
                    bill_no: *bill_no,
                    declaration_no: *declaration_no,
                    reason: "release not written".into(),
                },
            });
        }
    }
}

impl<'a> CargoService<'a> {
    fn desk(&self) -> Result<&'a CargoDesk, AppError> {
        self.desk
            .ok_or_else(|| AppError::NotFound("cargo control is not enabled".into()))
    }

    // -----------------------------------------------------------------------------------------
    // Contributions to a filing's write

    /// Whether and how a filing is linked to a bill: with cargo control, an accepted import or
    /// export naming a bill is matched to it at acceptance (the lane is chosen here, `Accept`,
    /// or by the risk engine inside the store, `AcceptRisk`; either way the bill must agree
    /// first).
    pub(crate) fn bill_link(
        &self,
        req: &SubmitRequest,
        review: &AutomaticReview,
    ) -> Result<BillLink<'a>, AppError> {
        let Some(desk) = self.desk else {
            return Ok(BillLink::Off);
        };
        if matches!(review, AutomaticReview::Reject { .. }) {
            return Ok(BillLink::Off);
        }
        let decl: Declaration = serde_json::from_str(&req.body_json)
            .map_err(|e| AppError::Internal(format!("typed declaration: {e}")))?;
        // Goods under transit are declared at the office of destination once arrived: any
        // import naming one of its bills, whatever its transport mode.
        if decl.direction == Direction::Import {
            if let Ok(goods) = DeclaredGoods::from_declaration(&decl) {
                if let Err(r) = desk.check_in_transit(&goods.bill_no, decl.declaration_office) {
                    return Ok(BillLink::Rejected {
                        ledgers: &*desk.store,
                        review: reject(&r),
                    });
                }
            }
        }
        let link = desk.policy.link(&decl);
        if matches!(link, Link::None) {
            return Ok(BillLink::Off);
        }
        let goods = match DeclaredGoods::from_declaration(&decl) {
            Ok(g) => g,
            Err(r) => {
                return Ok(BillLink::Rejected {
                    ledgers: &*desk.store,
                    review: reject(&r),
                })
            }
        };
        // The tax assessment for the late fee needs no ledger: outside the lock.
        let value = match goods.direction {
            Direction::Import => assessment::customs_value(self.core, &decl),
            Direction::Export => None,
        };
        Ok(BillLink::Bill(BillToMatch {
            desk,
            goods,
            value,
            link,
        }))
    }

    /// The bill problems automatic review would report for a filing (`bill_link`, then the
    /// match on the ledger as it now is), without reserving or writing anything: for checking a
    /// declaration before it is filed.
    pub(crate) fn bill_problems(
        &self,
        req: &SubmitRequest,
        review: &AutomaticReview,
    ) -> Result<Vec<clearance::ReviewProblem>, AppError> {
        let bill = match self.bill_link(req, review)? {
            BillLink::Off => return Ok(Vec::new()),
            BillLink::Rejected { review, .. } => return Ok(review_problems(review)),
            BillLink::Bill(bill) => bill,
        };
        let goods = &bill.goods;
        let checked = bill.desk.lock().ledger.match_declaration(
            &goods.bill_no,
            goods.direction,
            goods.packages,
            goods.gross_weight_kg,
            &bill.desk.policy.matching,
        );
        Ok(match checked {
            Ok(_) => Vec::new(),
            Err(Refusal::BillUnknown { .. }) if matches!(bill.link, Link::IfKnown) => Vec::new(),
            Err(r) => review_problems(reject(&r)),
        })
    }

    /// Check the filing's match on the ledger and reserve it: the review to write (with the
    /// late declaration fee, or rejecting with the reasons) and the match. `Err` is a refusal
    /// of the late fee's computation.
    pub(crate) fn reserve(
        &self,
        bill: &BillToMatch<'a>,
        req: &SubmitRequest,
        review: AutomaticReview,
    ) -> Result<Reservation<'a>, AppError> {
        let (desk, goods, value) = (bill.desk, &bill.goods, bill.value);
        // Under the lock: check the match and reserve it provisionally (under a placeholder
        // number), so that concurrent filings see the reservation; the store write then runs
        // without the lock and joins group commit (the store gives the match event its
        // sequence number, tolerating concurrent match events: docs/CARGO.md "Ledger state").
        // The transit carrying the bill, if any (its arrival at the destination starts the 14
        // days); read before the ledger lock (the index's lock is never taken under it).
        let leg = match goods.direction {
            Direction::Import => desk.transit_leg(&goods.bill_no),
            Direction::Export => None,
        };
        let mut g = desk.lock();
        let checked = g.ledger.match_declaration(
            &goods.bill_no,
            goods.direction,
            goods.packages,
            goods.gross_weight_kg,
            &desk.policy.matching,
        );
        let (review, pending) = match checked {
            Ok(m) => {
                let mut review = review;
                let fee = match (goods.direction, value) {
                    (Direction::Import, Some(value)) => Some(
                        g.ledger
                            .late_declaration_fee(
                                &goods.bill_no,
                                china_date(req.now),
                                value,
                                leg.as_ref(),
                                &self.core.tax.calendar,
                                &self.core.tax.policy,
                            )
                            .map_err(refusal)?
                            .fee
                            .payable_fen,
                    ),
                    _ => None,
                }
                .filter(|f| *f > Fen::ZERO);
                // Assessed at once (green and blue lanes, chosen here or by the risk engine):
                // the fee joins the notices; otherwise the officer's assessment adds it.
                if let Some(fee) = fee {
                    let late = clearance::TaxKind::LateDeclarationFee;
                    if let AutomaticReview::Accept {
                        assessment: Some(amounts),
                        ..
                    } = &mut review
                    {
                        amounts.push((late, fee));
                    } else if let AutomaticReview::AcceptRisk { choose } = &mut review {
                        let inner = choose.clone();
                        *choose = store::risk::LaneHook(Arc::new(move |no| {
                            let mut chosen = inner.choose(no);
                            if let Some(amounts) = chosen.assessment.as_mut() {
                                amounts.push((late, fee));
                            }
                            chosen
                        }));
                    }
                }
                (
                    review,
                    Some(PendingMatch {
                        expected_seq: g.seq,
                        manifest_id: m.manifest_id,
                        bill_no: goods.bill_no,
                        packages: goods.packages,
                        gross_weight_kg: goods.gross_weight_kg,
                    }),
                )
            }
            Err(Refusal::BillUnknown { .. }) if matches!(bill.link, Link::IfKnown) => {
                (review, None)
            }
            Err(r) => (reject(&r), None),
        };
        let Some(pending) = pending else {
            return Ok(Reservation {
                desk,
                review,
                pending: None,
                undo: None,
            });
        };
        let placeholder = desk.placeholder();
        g.ledger
            .apply(&store::cargo::matched_event(&pending, placeholder, req.now));
        let undo = ManifestEvent {
            at: req.now,
            actor: system(),
            kind: ManifestEventKind::DeclarationUnmatched {
                manifest_id: pending.manifest_id,
                bill_no: pending.bill_no,
                declaration_no: placeholder,
                reason: "provisional reservation".into(),
            },
        };
        Ok(Reservation {
            desk,
            review,
            pending: Some(pending),
            undo: Some(undo),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Contributions to a step

    /// The late declaration fee for a declaration assessed by an officer (yellow and red lanes).
    pub(crate) fn late_fee_at_assessment(
        &self,
        d: &StoredDeclaration,
        decl: &Declaration,
    ) -> Option<Fen> {
        let desk = self.desk?;
        if decl.direction != Direction::Import {
            return None;
        }
        let goods = DeclaredGoods::from_declaration(decl).ok()?;
        let leg = desk.transit_leg(&goods.bill_no);
        let g = desk.lock();
        let matched = g
            .ledger
            .bill(&goods.bill_no)?
            .parts
            .iter()
            .any(|p| Some(p.declaration_no) == d.state.declaration_no);
        if !matched {
            return None;
        }
        let fee = g
            .ledger
            .late_declaration_fee(
                &goods.bill_no,
                china_date(d.state.submitted_at?),
                assessment::customs_value(self.core, decl)?,
                leg.as_ref(),
                &self.core.tax.calendar,
                &self.core.tax.policy,
            )
            .ok()?
            .fee;
        (fee.payable_fen > Fen::ZERO).then_some(fee.payable_fen)
    }

    /// What a step does to its bill: a release writes it off and a cancellation or withdrawal
    /// frees it, decided on the ledger under its lock (held until [`BillChange::write`]).
    /// `None`: cargo control is off, or the step changes nothing on the ledger.
    pub(crate) fn bill_change(
        &self,
        d: &StoredDeclaration,
        append: &AppendRequest,
    ) -> Result<Option<BillChange<'a>>, StoreError> {
        let Some(desk) = self.desk else {
            return Ok(None);
        };
        let before = d.state.status;
        let after = append
            .events
            .iter()
            .fold(d.state.clone(), clearance::apply)
            .status;
        let release = match (before == after, after) {
            (false, Status::Released) => true,
            (false, Status::Cancelled | Status::Withdrawn) => false,
            _ => return Ok(None),
        };
        let (Some(declaration_no), Some(goods)) = (d.state.declaration_no, goods_of(d)) else {
            return Ok(None);
        };
        let bill_no = goods.bill_no;
        let now = append
            .events
            .last()
            .map_or_else(|| self.core.now(), |e| e.at);
        let mut g = desk.lock();
        // What other processes wrote to the log, before deciding on it.
        desk.catch_up_locked(&mut g)?;
        let matched = g
            .ledger
            .bill(&bill_no)
            .is_some_and(|b| b.parts.iter().any(|p| p.declaration_no == declaration_no));
        // An export accepted before its bill was on a manifest (`Link::IfKnown`) is matched at
        // release when the bill has been filed since, so that the departure closes it. Applied
        // to the ledger now (the write-off is decided on it) and undone if the write fails.
        let mut late_match = Vec::new();
        if !matched {
            let export_now_known = release
                && goods.direction == Direction::Export
                && g.ledger.bill(&bill_no).is_some();
            if !export_now_known {
                return Ok(None);
            }
            let cmd = ManifestCommand {
                actor: system(),
                action: ManifestAction::MatchDeclaration {
                    bill_no,
                    declaration_no,
                    packages: goods.packages,
                    gross_weight_kg: goods.gross_weight_kg,
                },
            };
            match g.ledger.decide(&cmd, now) {
                Ok(events) => {
                    for e in &events {
                        g.ledger.apply(e);
                    }
                    late_match = events;
                }
                // The figures disagree (or the goods already left): released unmatched, as
                // before; the departure lists nothing for it and officers close it by hand.
                Err(_) => return Ok(None),
            }
        }
        let cmd = ManifestCommand {
            actor: system(),
            action: if release {
                ManifestAction::WriteOff {
                    bill_no,
                    declaration_no,
                }
            } else {
                ManifestAction::UnmatchDeclaration {
                    bill_no,
                    declaration_no,
                    reason: format!("declaration {}", after.as_str()),
                }
            },
        };
        let events = match g.ledger.decide(&cmd, now) {
            Ok(events) => events,
            Err(r) => {
                undo_late_match(&mut g, &late_match, now);
                return Err(StoreError::Invalid(r.message_en()));
            }
        };
        Ok(Some(BillChange {
            desk,
            guard: g,
            late_match,
            events,
            now,
        }))
    }

    // -----------------------------------------------------------------------------------------
    // Manifests

    fn manifest_resource(m: &ManifestState) -> Res {
        Res::Manifest {
            carrier: m.carrier,
            office: m.voyage.office,
        }
    }

    /// Run a manifest command for a principal: authorize on the manifest (or, for a first
    /// filing, on what it would be), decide, write with the declaration events it causes.
    fn manifest_command(
        &self,
        p: &Principal,
        op: Op,
        manifest_id: ManifestId,
        action: ManifestAction,
        new_filing: Option<(&Voyage, ManifestKind)>,
    ) -> Result<ManifestDone, AppError> {
        let desk = self.desk()?;
        let actor = cargo_actor(p)?;
        let mut g = desk.lock();
        // What other processes wrote to the log, before deciding on it.
        desk.catch_up_locked(&mut g)?;
        let resource = match (g.ledger.manifest(&manifest_id), new_filing) {
            (Some(m), _) => {
                // Not visible: not found, so that ids cannot be probed.
                if self
                    .core
                    .authorize(p, (Op::ViewManifest, Self::manifest_resource(m)))
                    .is_err()
                {
                    return Err(AppError::NotFound("manifest".into()));
                }
                Self::manifest_resource(m)
            }
            (None, Some((voyage, _))) => match p {
                Principal::Carrier { uscc, .. } => Res::Manifest {
                    carrier: *uscc,
                    office: voyage.office,
                },
                _ => Res::Listing,
            },
            (None, None) => return Err(AppError::NotFound("manifest".into())),
        };
        self.core.authorize(p, (op, resource))?;
        let now = self.core.now();
        let mut events = g
            .ledger
            .decide(&ManifestCommand { actor, action }, now)
            .map_err(refusal)?;
        // A filing in flight holds its reservation under a placeholder number (year 0): not a
        // declaration to list (its match write will find this event and answer `Conflict`).
        for e in &mut events {
            if let ManifestEventKind::DepartureConfirmed { unreleased, .. } = &mut e.kind {
                unreleased.retain(|no| no.year() != 0);
            }
        }
        // Exit confirmations close their export declarations in the same transaction.
        let mut declarations = Vec::new();
        let mut outbox = Vec::new();
        let mut closed = Vec::new();
        for e in &events {
            let Some((no, cmd)) = e.kind.clearance_command() else {
                continue;
            };
            let Some(d) = self.core.store.load(DeclarationKey::DeclarationNo(no))? else {
                continue;
            };
            // A declaration that cannot close (already closed, suspended) is left as it is;
            // the departure still records it.
            if let Ok(evs) = clearance::decide(&d.state, &cmd, now) {
                outbox.extend(self.exchange.outbox_messages(&d, &evs));
                declarations.push(AppendRequest {
                    id: d.id,
                    expected_version: d.version,
                    events: evs,
                });
                closed.push(no);
            }
        }
        let written = desk.store.record_manifest(ManifestWrite {
            expected_seq: g.seq,
            events: events.clone(),
            declarations,
            outbox,
        })?;
        for e in &events {
            g.ledger.apply(e);
        }
        note_written(&mut g, written.last_seq, events.len());
        let m = g
            .ledger
            .manifest(&manifest_id)
            .ok_or_else(|| AppError::Internal("manifest vanished".into()))?;
        Ok(ManifestDone {
            manifest_id,
            status: m.status,
            version: m.version(),
            events: events.iter().map(|e| e.kind.name()).collect(),
            closed,
        })
    }

    pub fn file_manifest(
        &self,
        p: &Principal,
        manifest_id: ManifestId,
        kind: ManifestKind,
        voyage: Voyage,
        bills: Vec<Bill>,
    ) -> Result<ManifestDone, AppError> {
        let v = voyage.clone();
        self.manifest_command(
            p,
            Op::FileManifest,
            manifest_id,
            ManifestAction::File {
                manifest_id,
                kind,
                voyage,
                bills,
            },
            Some((&v, kind)),
        )
    }

    pub fn amend_manifest(
        &self,
        p: &Principal,
        manifest_id: ManifestId,
        reason: String,
        bills: Vec<Bill>,
    ) -> Result<ManifestDone, AppError> {
        self.manifest_command(
            p,
            Op::AmendManifest,
            manifest_id,
            ManifestAction::Amend {
                manifest_id,
                reason,
                bills,
            },
            None,
        )
    }

    pub fn report_arrival(
        &self,
        p: &Principal,
        manifest_id: ManifestId,
        arrived_at: DateTime<Utc>,
    ) -> Result<ManifestDone, AppError> {
        self.manifest_command(
            p,
            Op::ReportArrival,
            manifest_id,
            ManifestAction::ReportArrival {
                manifest_id,
                arrived_at,
            },
            None,
        )
    }

    pub fn report_tally(
        &self,
        p: &Principal,
        manifest_id: ManifestId,
        lines: Vec<TallyLine>,
    ) -> Result<ManifestDone, AppError> {
        self.manifest_command(
            p,
            Op::ReportTally,
            manifest_id,
            ManifestAction::ReportTally { manifest_id, lines },
            None,
        )
    }

    pub fn confirm_manifest_departure(
        &self,
        p: &Principal,
        manifest_id: ManifestId,
        departed_at: DateTime<Utc>,
    ) -> Result<ManifestDone, AppError> {
        self.manifest_command(
            p,
            Op::ConfirmDeparture,
            manifest_id,
            ManifestAction::ConfirmDeparture {
                manifest_id,
                departed_at,
            },
            None,
        )
    }

    pub fn manifest(&self, p: &Principal, id: &ManifestId) -> Result<ManifestView, AppError> {
        let desk = self.desk()?;
        let g = desk.lock();
        let not_found = || AppError::NotFound("manifest".into());
        let m = g.ledger.manifest(id).ok_or_else(not_found)?;
        self.core
            .authorize(p, (Op::ViewManifest, Self::manifest_resource(m)))
            .map_err(|_| not_found())?;
        Ok(ManifestView {
            manifest: m.clone(),
            balance: g.ledger.balance(id).ok_or_else(not_found)?,
        })
    }

    /// The manifests the principal may see, newest filing last, at most `limit`.
    pub fn manifests(&self, p: &Principal, limit: usize) -> Result<Vec<ManifestSummary>, AppError> {
        let desk = self.desk()?;
        self.core.authorize(p, (Op::ListManifests, Res::Listing))?;
        let g = desk.lock();
        Ok(g.ledger
            .manifests()
            .filter(|m| {
                self.core
                    .authorize(p, (Op::ViewManifest, Self::manifest_resource(m)))
                    .is_ok()
            })
            .take(limit)
            .map(|m| ManifestSummary {
                manifest_id: m.manifest_id,
                carrier: m.carrier,
                direction: m.voyage.direction,
                office: m.voyage.office,
                status: m.status,
                version: m.version(),
                bills: m.current().bills.len(),
            })
            .collect())
    }

    /// Import bills undeclared past the 14 days, in the officer's scope (the office of entry,
    /// or for goods under transit also the office of destination), as of today (UTC+8). A bill
    /// carried by a transit counts from its arrival at the office of destination and is not
    /// listed while on the way (`counted_from` says which arrival). The fee shown is what a
    /// declaration filed today would pay when the value is known; the value is not on the
    /// manifest, so the list gives days and, per bill, `fee: null`.
    pub fn late_bills(&self, p: &Principal) -> Result<Vec<LateBill>, AppError> {
        let desk = self.desk()?;
        let allowed = self.core.authorize(p, (Op::ListLateBills, Res::Listing))?;
        // The transit index, then the ledger (the only place both locks are held: the index's
        // lock is never taken under the ledger's).
        let transits = desk.transit_bills();
        let g = desk.lock();
        let today = china_date(self.core.now());
        Ok(g.ledger
            .late_bills(
                today,
                &self.core.tax.calendar,
                &self.core.tax.policy,
                &|_| None,
                &|b| transits.get(b).and_then(|t| TransitLeg::of(t)),
            )
            .into_iter()
            .filter(|b| {
                allowed.covers(b.office)
                    || matches!(b.counted_from, PeriodStart::DestinationArrival {
                        destination_office, ..
                    } if allowed.covers(destination_office))
            })
            .collect())
    }

    // -----------------------------------------------------------------------------------------
    // Transits

    fn transit_resource(d: &TransitDeclaration) -> Res {
        Res::Transit {
            declarant: d.declarant,
            entry_office: d.entry_office,
            destination_office: d.destination_office,
        }
    }

    pub fn declare_transit(
        &self,
        p: &Principal,
        declaration: TransitDeclaration,
    ) -> Result<StoredTransit, AppError> {
        let desk = self.desk()?;
        self.core.authorize(
            p,
            (Op::DeclareTransit, Self::transit_resource(&declaration)),
        )?;
        if desk.store.load_transit(&declaration.transit_no)?.is_some() {
            return Err(AppError::Conflict {
                code: "transit_exists",
                message_en: format!("transit {} already exists", declaration.transit_no),
                message_zh: format!("转关单{}已存在", declaration.transit_no),
            });
        }
        let no = declaration.transit_no;
        let (entry_office, bills) = (declaration.entry_office, declaration.bills.clone());
        let events = transit::decide(
            &cargo_control::TransitState::default(),
            &TransitCommand {
                actor: cargo_actor(p)?,
                action: TransitAction::Declare { declaration },
            },
            self.core.now(),
        )
        .map_err(refusal)?;
        // The goods moved are those of bills arrived at the office of entry and not released
        // there (docs/CARGO.md "Transit").
        desk.lock()
            .ledger
            .check_transit_bills(entry_office, &bills)
            .map_err(|r| AppError::Invalid(problems(&r, "bills")))?;
        // A bill moves under one transit at a time: checked and indexed under the index's
        // lock, so two declarations of the same bill cannot both pass.
        let mut open = desk.transit_bills();
        for b in &bills {
            // A cleared transit stays indexed (for the fee) but binds the bill no more.
            if let Some(t) = open
                .get(b)
                .filter(|t| t.status != cargo_control::TransitStatus::Cleared)
            {
                let other = t
                    .declaration
                    .as_ref()
                    .map(|d| d.transit_no)
                    .ok_or_else(|| {
                        AppError::Internal("indexed transit without declaration".into())
                    })?;
                let r = Refusal::BillInTransit {
                    bill_no: *b,
                    transit_no: other,
                    status: t.status.as_str(),
                    status_zh: t.status.name_zh(),
                };
                return Err(AppError::Invalid(problems(&r, "bills")));
            }
        }
        let stored = desk.store.record_transit(TransitWrite {
            transit_no: no,
            expected_version: 0,
            events,
        })?;
        note_transit(&mut open, &stored.state);
        Ok(stored)
    }

    /// One step of a transit; a refused input is reported on `field`.
    fn transit_step(
        &self,
        p: &Principal,
        no: &TransitNo,
        op: Op,
        action: TransitAction,
        field: &str,
    ) -> Result<StoredTransit, AppError> {
        let t = self.transit(p, no)?;
        let desk = self.desk()?;
        let decl = t
            .state
            .declaration
            .as_ref()
            .ok_or_else(|| AppError::Internal("transit without declaration".into()))?;
        self.core.authorize(p, (op, Self::transit_resource(decl)))?;
        let events = transit::decide(
            &t.state,
            &TransitCommand {
                actor: cargo_actor(p)?,
                action,
            },
            self.core.now(),
        )
        .map_err(|r| refusal_on(r, field))?;
        // Written and indexed under the index's lock, so that the index follows the writes in
        // their order (a stale step fails on `expected_version`).
        let mut open = desk.transit_bills();
        let stored = desk.store.record_transit(TransitWrite {
            transit_no: *no,
            expected_version: t.version,
            events,
        })?;
        note_transit(&mut open, &stored.state);
        Ok(stored)
    }

    pub fn confirm_transit_departure(
        &self,
        p: &Principal,
        no: &TransitNo,
    ) -> Result<StoredTransit, AppError> {
        self.transit_step(
            p,
            no,
            Op::ConfirmTransitDeparture,
            TransitAction::ConfirmDeparture,
            "",
        )
    }

    pub fn confirm_transit_arrival(
        &self,
        p: &Principal,
        no: &TransitNo,
        seals_intact: Vec<SealNo>,
        seals_damaged: Vec<SealNo>,
    ) -> Result<StoredTransit, AppError> {
        self.transit_step(
            p,
            no,
            Op::ConfirmTransitArrival,
            TransitAction::ConfirmArrival {
                seals_intact,
                seals_damaged,
            },
            "seals_intact",
        )
    }

    pub fn resolve_seal_alert(
        &self,
        p: &Principal,
        no: &TransitNo,
        reason: String,
    ) -> Result<StoredTransit, AppError> {
        self.transit_step(
            p,
            no,
            Op::ConfirmTransitArrival,
            TransitAction::ResolveSealAlert { reason },
            "reason",
        )
    }

    /// The office of destination records that a normal import declaration filed there, naming
    /// a bill the transit carries, cleared the goods (结转). The declaration must be accepted
    /// (numbered) and not cancelled; the transit must have arrived with its seals intact (or
    /// the seal alert lifted).
    pub fn clear_transit(
        &self,
        p: &Principal,
        no: &TransitNo,
        declaration_no: domain::codes::DeclarationNo,
    ) -> Result<StoredTransit, AppError> {
        // The transit first: what the principal may not act on answers before any lookup of
        // the declaration.
        let t = self.transit(p, no)?;
        if let Some(decl) = t.state.declaration.as_ref() {
            self.core
                .authorize(p, (Op::ClearTransit, Self::transit_resource(decl)))?;
        }
        let field = "declaration_no";
        let d = self
            .core
            .store
            .load(DeclarationKey::DeclarationNo(declaration_no))?
            .ok_or_else(|| {
                AppError::Invalid(vec![FieldProblem::new(
                    field,
                    "declaration_unknown",
                    format!("报关单{declaration_no}不存在"),
                    format!("declaration {declaration_no} does not exist"),
                )])
            })?;
        match d.state.status {
            Status::Cancelled
            | Status::Rejected
            | Status::Withdrawn
            | Status::New
            | Status::Submitted => {
                return Err(AppError::Invalid(vec![FieldProblem::new(
                    field,
                    "declaration_not_valid",
                    format!(
                        "报关单{declaration_no}状态为{}，不能用于转关结转",
                        d.state.status.as_str()
                    ),
                    format!(
                        "declaration {declaration_no} is {} and cannot clear a transit",
                        d.state.status.as_str()
                    ),
                )]))
            }
            Status::Accepted
            | Status::DocumentReview
            | Status::Inspection
            | Status::AwaitingAssessment
            | Status::Assessed
            | Status::Paid
            | Status::Released
            | Status::Closed
            | Status::Suspended => {}
        }
        let decl: Declaration = serde_json::from_str(&d.body_json)
            .map_err(|e| AppError::Internal(format!("typed declaration: {e}")))?;
        let bill_no = match decl.bill_no.as_deref() {
            None => None,
            Some(raw) => Some(BillNo::parse(raw).map_err(|e| {
                refusal_on(
                    Refusal::InvalidBillNo {
                        found: raw.to_owned(),
                        why: e.to_string(),
                    },
                    field,
                )
            })?),
        };
        self.transit_step(
            p,
            no,
            Op::ClearTransit,
            TransitAction::Clear {
                declaration: ClearingDeclaration {
                    declaration_no,
                    direction: decl.direction,
                    declaration_office: decl.declaration_office,
                    bill_no,
                },
            },
            field,
        )
    }

    /// The declarant, or an officer of the office of entry, cancels a transit before it
    /// departs.
    pub fn cancel_transit(
        &self,
        p: &Principal,
        no: &TransitNo,
        reason: String,
    ) -> Result<StoredTransit, AppError> {
        self.transit_step(
            p,
            no,
            Op::CancelTransit,
            TransitAction::Cancel { reason },
            "reason",
        )
    }

    /// The transits the principal may see: a carrier its own, an officer those whose office of
    /// entry or of destination is in its scope; in transit number order, after `after` (the
    /// last number of the page before), at most `limit`.
    pub fn transits(
        &self,
        p: &Principal,
        after: Option<TransitNo>,
        limit: u32,
    ) -> Result<Vec<StoredTransit>, AppError> {
        let desk = self.desk()?;
        let allowed = self.core.authorize(p, (Op::ListTransits, Res::Listing))?;
        let mut filter = TransitFilter {
            statuses: None,
            declarant: None,
            offices: None,
            after,
            limit: limit.clamp(1, store::cargo::CARGO_PAGE_MAX),
        };
        // A carrier its own, an officer those of their offices, HQ all.
        match allowed.scope() {
            Scope::Own(uscc) => filter.declarant = Some(*uscc),
            Scope::Offices(_, within) => filter.offices = Some(within.to_vec()),
            Scope::Everywhere => {}
            Scope::Agency(_) | Scope::System => return Err(allowed.denied()),
        }
        Ok(desk.store.transits(&filter)?)
    }

    pub fn transit(&self, p: &Principal, no: &TransitNo) -> Result<StoredTransit, AppError> {
        let desk = self.desk()?;
        let not_found = || AppError::NotFound("transit".into());
        let t = desk.store.load_transit(no)?.ok_or_else(not_found)?;
        let decl = t.state.declaration.as_ref().ok_or_else(not_found)?;
        self.core
            .authorize(p, (Op::ViewTransit, Self::transit_resource(decl)))
            .map_err(|_| not_found())?;
        Ok(t)
    }

    /// Overdue and broken-seal transits whose office of destination is in the officer's scope,
    /// as of now.
    pub fn transit_alerts(&self, p: &Principal) -> Result<Vec<TransitAlert>, AppError> {
        let desk = self.desk()?;
        let allowed = self
            .core
            .authorize(p, (Op::ListTransitAlerts, Res::Listing))?;
        use cargo_control::TransitStatus as S;
        let mut states = Vec::new();
        store::cargo::for_each_transit(
            &*desk.store,
            TransitFilter {
                statuses: Some(vec![S::Departed, S::Arrived, S::SealBroken]),
                limit: TRANSIT_PAGE,
                ..TransitFilter::default()
            },
            |t| {
                let in_scope = t
                    .state
                    .declaration
                    .as_ref()
                    .is_some_and(|d| allowed.covers(d.destination_office));
                if in_scope {
                    states.push(t.state)
                }
            },
        )?;
        Ok(transit::alerts(&states, self.core.now())
            .into_iter()
            .filter(|a| allowed.covers(a.destination_office))
            .collect())
    }

    // -----------------------------------------------------------------------------------------
    // Postal

    pub fn file_parcel_list(
        &self,
        p: &Principal,
        list: ParcelList,
    ) -> Result<Vec<cargo_control::PostalDecision>, AppError> {
        let desk = self.desk()?;
        self.core.authorize(
            p,
            (
                Op::FileParcels,
                Res::Postal {
                    operator: Some(list.operator),
                    office: list.office,
                },
            ),
        )?;
        let now = self.core.now();
        let risk = self.risk.engine.snapshot();
        let screen = crate::postal_screen::WatchListScreen {
            watch: &risk.watch,
            today: china_date(now),
        };
        let decisions = cargo_control::clear_parcel_list(
            &list,
            china_date(now),
            &self.core.tax.policy,
            &desk.policy.postal,
            &screen,
        )
        .map_err(refusal)?;
        desk.store.record_postal(PostalWrite {
            records: decisions
                .iter()
                .map(|d| PostalRecord {
                    list_no: Some(list.list_no.clone()),
                    operator: Some(list.operator),
                    office: list.office,
                    decision: d.clone(),
                })
                .collect(),
            actor: cargo_actor(p)?.label(),
            now,
        })?;
        Ok(decisions)
    }

    pub fn file_baggage(
        &self,
        p: &Principal,
        declaration: BaggageDeclaration,
    ) -> Result<cargo_control::PostalDecision, AppError> {
        let desk = self.desk()?;
        self.core.authorize(
            p,
            (
                Op::FileBaggage,
                Res::Postal {
                    operator: None,
                    office: declaration.office,
                },
            ),
        )?;
        let now = self.core.now();
        let risk = self.risk.engine.snapshot();
        let screen = crate::postal_screen::WatchListScreen {
            watch: &risk.watch,
            today: china_date(now),
        };
        let decision = cargo_control::clear_baggage(
            &declaration,
            china_date(now),
            &self.core.tax.policy,
            &screen,
        )
        .map_err(refusal)?;
        desk.store.record_postal(PostalWrite {
            records: vec![PostalRecord {
                list_no: None,
                operator: None,
                office: declaration.office,
                decision: decision.clone(),
            }],
            actor: cargo_actor(p)?.label(),
            now,
        })?;
        Ok(decision)
    }

    /// Postal outcomes the principal may see: an operator its own, an officer those of its
    /// scope, newest first.
    pub fn postal_outcomes(
        &self,
        p: &Principal,
        held_only: bool,
        limit: u32,
    ) -> Result<Vec<StoredPostal>, AppError> {
        let desk = self.desk()?;
        let allowed = self.core.authorize(p, (Op::ViewPostal, Res::Listing))?;
        let mut filter = PostalFilter {
            held_only,
            limit: limit.clamp(1, store::cargo::CARGO_PAGE_MAX),
            ..PostalFilter::default()
        };
        // An operator its own, an officer those of their offices, HQ all.
        match allowed.scope() {
            Scope::Own(uscc) => filter.operator = Some(*uscc),
            Scope::Offices(_, within) => filter.offices = Some(within.to_vec()),
            Scope::Everywhere => {}
            Scope::Agency(_) | Scope::System => return Err(allowed.denied()),
        }
        Ok(desk.store.postal_outcomes(&filter)?)
    }
}

/// The problems of a rejecting review (none for one that accepts).
fn review_problems(review: AutomaticReview) -> Vec<clearance::ReviewProblem> {
    match review {
        AutomaticReview::Reject { problems } => problems,
        _ => Vec::new(),
    }
}

fn reject(r: &Refusal) -> AutomaticReview {
    AutomaticReview::Reject {
        problems: r
            .reasons()
            .into_iter()
            .map(|x| clearance::ReviewProblem {
                field: "bill_no".into(),
                code: x.code().into(),
                message_zh: x.message_zh(),
                message_en: x.message_en(),
            })
            .collect(),
    }
}

/// Index (or drop) the bills of a transit by its state: open transits bind their bills,
/// cleared ones stay indexed without binding them (their arrival at the destination starts the
/// late declaration fee's days), cancelled ones are dropped.
fn note_transit(
    bills: &mut HashMap<BillNo, Arc<cargo_control::TransitState>>,
    state: &cargo_control::TransitState,
) {
    use cargo_control::TransitStatus as S;
    let Some(decl) = state.declaration.as_ref() else {
        return;
    };
    match state.status {
        S::New | S::Cancelled => {
            for b in &decl.bills {
                let ours = bills.get(b).is_some_and(|t| {
                    t.declaration
                        .as_ref()
                        .is_some_and(|d| d.transit_no == decl.transit_no)
                });
                if ours {
                    bills.remove(b);
                }
            }
        }
        // Cleared: kept, the arrival at the destination counts for the late declaration fee.
        S::Declared | S::Departed | S::Arrived | S::SealBroken | S::Cleared => {
            let shared = Arc::new(state.clone());
            for b in &decl.bills {
                bills.insert(*b, Arc::clone(&shared));
            }
        }
    }
}

fn goods_of(d: &StoredDeclaration) -> Option<DeclaredGoods> {
    let decl: Declaration = serde_json::from_str(&d.body_json).ok()?;
    DeclaredGoods::from_declaration(&decl).ok()
}
