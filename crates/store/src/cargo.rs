//! Storage of transport and cargo control (docs/CARGO.md): manifest events, transits and postal
//! outcomes, behind a use-case-shaped trait of its own, [`CargoStore`], so that the main
//! [`crate::Store`] does not grow.
//!
//! - **Manifests** are an event log in one global sequence (`manifest_events`). The application
//!   keeps the [`cargo_control::ManifestLedger`] in memory, rebuilt at start by replaying the log
//!   ([`CargoStore::manifest_events`]), and writes with the sequence it has applied
//!   ([`ManifestWrite::expected_seq`]): a store that moved on answers `Conflict`, unless only
//!   match events came after it (filings in flight, which the caller reserved in its ledger
//!   before writing them; docs/CARGO.md "Ledger state").
//! - Writes that touch declarations too — a filing matched to its bill, a release writing a bill
//!   off, an exit confirmation closing an export — commit the manifest events and the
//!   declaration's events in **one transaction** ([`CargoStore::submit_matched`],
//!   [`ManifestWrite::declarations`]).
//! - **Transits** are one row each (state as JSON, narrow columns) with their events, versioned
//!   like declarations; the store folds the events with `cargo_control::transit::apply`.
//! - **Postal outcomes** (parcels and baggage) are rows with narrow columns and the decision as
//!   JSON.
//!
//! Every write has its audit records in the same transaction.

use cargo_control::{
    BillNo, ManifestEvent, ManifestId, PostalDecision, TransitEvent, TransitNo, TransitState,
    TransitStatus,
};
use chrono::{DateTime, Utc};
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use rust_decimal::Decimal;
use serde::Serialize;

use crate::writer::Request;
use crate::{AppendRequest, Appended, AutomaticReview, Filed, StoreError, SubmitRequest};

/// At most this many manifest events in one write (an exit confirmation lists one per
/// declaration of a departing manifest).
pub const MANIFEST_EVENTS_MAX: usize = 20_000;
/// At most this many declarations touched by one manifest write.
pub const LINKED_DECLARATIONS_MAX: usize = 5_000;
/// At most this many rows in one read.
pub const CARGO_PAGE_MAX: u32 = 10_000;

/// Manifest events, and the clearance events they cause on linked declarations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestWrite {
    /// The last sequence number the caller's ledger has applied (0: none).
    pub expected_seq: u64,
    pub events: Vec<ManifestEvent>,
    /// Events on declarations, each decided on the state at its `expected_version`.
    pub declarations: Vec<AppendRequest>,
    /// Exchange messages the declarations' changes send, written in the same transaction
    /// ([`crate::outbox`]); empty unless the store has an outbox.
    pub outbox: Vec<crate::outbox::OutboxMessage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManifestWritten {
    /// The sequence number of the last event written.
    pub last_seq: u64,
    pub declarations: Vec<Appended>,
}

/// Manifest events that leave a match reserved before them valid: other matches, unmatches
/// (they free quantity) and write-offs (of parts already counted). Any other event on the
/// same manifest (an amendment, arrival, tally, departure) refuses the match with `Conflict`,
/// and the caller decides it again.
pub const KEEPS_RESERVATIONS: [&str; 3] = [
    "declaration_matched",
    "declaration_unmatched",
    "bill_written_off",
];

/// A match decided by the caller on its ledger: recorded as `DeclarationMatched` with the
/// declaration number the store gives, if the filing is accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingMatch {
    pub expected_seq: u64,
    pub manifest_id: ManifestId,
    pub bill_no: BillNo,
    pub packages: u64,
    pub gross_weight_kg: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmittedMatched {
    pub filed: Filed,
    /// The match event written (`None`: rejected, replayed, or no match asked).
    pub matched: Option<StoredManifestEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredManifestEvent {
    pub seq: u64,
    pub event: ManifestEvent,
}

/// Transit events decided on the state at `expected_version` (0 for a new transit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitWrite {
    pub transit_no: TransitNo,
    pub expected_version: u64,
    pub events: Vec<TransitEvent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredTransit {
    pub transit_no: TransitNo,
    pub version: u64,
    pub state: TransitState,
    pub updated_at: DateTime<Utc>,
}

/// Which transits to read; all optional, combined with AND. The listing is ordered by transit
/// number (the backend's text order) and paged by keyset: the next page is asked with `after`
/// set to the number of the last transit of the page before ([`for_each_transit`] reads them
/// all).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransitFilter {
    pub statuses: Option<Vec<TransitStatus>>,
    pub declarant: Option<Uscc>,
    /// The office of entry or of destination is one of these.
    pub offices: Option<Vec<OfficeCode>>,
    /// Only transits whose number sorts after this one (absent: from the first).
    pub after: Option<TransitNo>,
    /// At most this many (1 to [`CARGO_PAGE_MAX`]).
    pub limit: u32,
}

/// Who filed a postal item.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PostalRecord {
    /// The parcel list number, for parcels.
    pub list_no: Option<String>,
    /// The postal operator (parcels); `None` for baggage.
    pub operator: Option<Uscc>,
    pub office: OfficeCode,
    pub decision: PostalDecision,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PostalWrite {
    pub records: Vec<PostalRecord>,
    /// The audit label of who filed.
    pub actor: String,
    pub now: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StoredPostal {
    pub id: i64,
    /// `parcel` or `baggage`.
    pub kind: String,
    pub reference: String,
    pub list_no: Option<String>,
    pub operator: Option<Uscc>,
    pub office: OfficeCode,
    /// `released` or `held`.
    pub outcome: String,
    pub value_fen: Fen,
    pub payable_fen: Fen,
    pub decided_at: DateTime<Utc>,
    /// The whole decision (assessment, hold reasons) as recorded.
    pub decision: serde_json::Value,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostalFilter {
    pub operator: Option<Uscc>,
    pub offices: Option<Vec<OfficeCode>>,
    pub list_no: Option<String>,
    pub held_only: bool,
    pub limit: u32,
}

/// What transport and cargo control asks of durable storage.
pub trait CargoStore: crate::writer::Queued + Send + Sync {
    /// Record manifest events and the declaration events they cause, in one transaction.
    /// `Conflict` when the log moved past `expected_seq` with anything other than match events,
    /// or a declaration past its version.
    fn record_manifest(&self, req: ManifestWrite) -> Result<ManifestWritten, StoreError> {
        check_manifest_write(&req)?;
        self.queue().call(|r| Request::RecordManifest(req, r))
    }

    /// [`crate::Store::submit_reviewed`], plus the match to its bill when the filing is
    /// accepted, in one transaction. `Conflict` (nothing written) when, after the match's
    /// `expected_seq`, the log holds an event on the same manifest that could change the match
    /// ([`KEEPS_RESERVATIONS`] do not; events of other manifests do not either).
    fn submit_matched(
        &self,
        req: SubmitRequest,
        review: AutomaticReview,
        matched: Option<PendingMatch>,
    ) -> Result<SubmittedMatched, StoreError> {
        crate::check_body(&req)?;
        self.queue()
            .call(|r| Request::SubmitMatched(Box::new((req, review, matched)), r))
    }

    /// Manifest events after `after_seq`, oldest first, at most `limit`.
    fn manifest_events(
        &self,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<StoredManifestEvent>, StoreError>;

    /// Record transit events; the store folds them into the transit's state.
    fn record_transit(&self, req: TransitWrite) -> Result<StoredTransit, StoreError> {
        check_transit_write(&req)?;
        self.queue().call(|r| Request::RecordTransit(req, r))
    }

    fn load_transit(&self, transit_no: &TransitNo) -> Result<Option<StoredTransit>, StoreError>;

    /// The transits the filter selects, ordered by transit number, at most `filter.limit`,
    /// after `filter.after` (keyset paging: a transit present throughout is in exactly one
    /// page).
    fn transits(&self, filter: &TransitFilter) -> Result<Vec<StoredTransit>, StoreError>;

    /// Record postal decisions (a parcel list, or one baggage declaration).
    fn record_postal(&self, req: PostalWrite) -> Result<Vec<i64>, StoreError> {
        if req.records.is_empty() || req.records.len() > cargo_control::PARCELS_MAX {
            return Err(StoreError::Invalid(format!(
                "a postal write has 1 to {} records",
                cargo_control::PARCELS_MAX
            )));
        }
        self.queue().call(|r| Request::RecordPostal(req, r))
    }

    /// Newest first.
    fn postal_outcomes(&self, filter: &PostalFilter) -> Result<Vec<StoredPostal>, StoreError>;
}

/// A backend with both traits: what the contract suite and the binary open.
pub trait Ledgers: crate::Store + CargoStore {}
impl<T: crate::Store + CargoStore> Ledgers for T {}

/// Every transit `filter` selects, page by page (`filter.limit` a page, from `filter.after`),
/// in transit number order; `each` sees each transit once.
pub fn for_each_transit(
    store: &dyn CargoStore,
    mut filter: TransitFilter,
    mut each: impl FnMut(StoredTransit),
) -> Result<(), StoreError> {
    loop {
        let page = store.transits(&filter)?;
        let full = page.len() >= filter.limit as usize;
        let Some(last) = page.last().map(|t| t.transit_no) else {
            return Ok(());
        };
        if filter.after == Some(last) {
            return Err(StoreError::Corrupt(format!(
                "the transit listing did not move past {last}"
            )));
        }
        page.into_iter().for_each(&mut each);
        if !full {
            return Ok(());
        }
        filter.after = Some(last);
    }
}

/// Checks shared by the backends before anything is written.
pub fn check_manifest_write(req: &ManifestWrite) -> Result<(), StoreError> {
    if req.events.is_empty() {
        return Err(StoreError::Invalid("a manifest write has events".into()));
    }
    if req.events.len() > MANIFEST_EVENTS_MAX {
        return Err(StoreError::Invalid(format!(
            "at most {MANIFEST_EVENTS_MAX} manifest events in one write"
        )));
    }
    if req.declarations.len() > LINKED_DECLARATIONS_MAX {
        return Err(StoreError::Invalid(format!(
            "at most {LINKED_DECLARATIONS_MAX} declarations in one write"
        )));
    }
    if req
        .declarations
        .iter()
        .any(|a| a.events.is_empty() || a.events.len() > crate::APPEND_EVENTS_MAX)
    {
        return Err(StoreError::Invalid(format!(
            "each linked declaration has 1 to {} events",
            crate::APPEND_EVENTS_MAX
        )));
    }
    Ok(())
}

pub fn check_transit_write(req: &TransitWrite) -> Result<(), StoreError> {
    if req.events.is_empty() || req.events.len() > crate::APPEND_EVENTS_MAX {
        return Err(StoreError::Invalid(format!(
            "a transit write has 1 to {} events",
            crate::APPEND_EVENTS_MAX
        )));
    }
    Ok(())
}

pub fn check_limit(limit: u32) -> Result<(), StoreError> {
    if limit == 0 || limit > CARGO_PAGE_MAX {
        return Err(StoreError::Invalid(format!(
            "limit must be 1 to {CARGO_PAGE_MAX}"
        )));
    }
    Ok(())
}

/// The manifest a event is about (its subject in the audit log and its narrow column).
pub fn manifest_of(e: &ManifestEvent) -> ManifestId {
    use cargo_control::ManifestEventKind as K;
    match &e.kind {
        K::VersionRecorded { manifest_id, .. }
        | K::ArrivalReported { manifest_id, .. }
        | K::TallyReported { manifest_id, .. }
        | K::DeclarationMatched { manifest_id, .. }
        | K::DeclarationUnmatched { manifest_id, .. }
        | K::BillWrittenOff { manifest_id, .. }
        | K::DepartureConfirmed { manifest_id, .. }
        | K::ExitConfirmed { manifest_id, .. } => *manifest_id,
    }
}

/// The audit detail of a manifest event: ids and figures, never goods descriptions.
pub fn manifest_audit_detail(e: &ManifestEvent) -> String {
    use cargo_control::ManifestEventKind as K;
    match &e.kind {
        K::VersionRecorded {
            version,
            kind,
            bills,
            reason,
            ..
        } => serde_json::json!({"version": version, "kind": kind, "bills": bills.len(), "reason": reason}),
        K::ArrivalReported { arrived_at, .. } => serde_json::json!({"arrived_at": arrived_at}),
        K::TallyReported { version, lines, .. } => {
            serde_json::json!({"version": version, "lines": lines.len()})
        }
        K::DeclarationMatched {
            bill_no,
            declaration_no,
            packages,
            gross_weight_kg,
            ..
        } => serde_json::json!({"bill_no": bill_no, "declaration_no": declaration_no, "packages": packages, "gross_weight_kg": gross_weight_kg}),
        K::DeclarationUnmatched {
            bill_no,
            declaration_no,
            reason,
            ..
        } => serde_json::json!({"bill_no": bill_no, "declaration_no": declaration_no, "reason": reason}),
        K::BillWrittenOff {
            bill_no,
            declaration_no,
            packages,
            ..
        } => serde_json::json!({"bill_no": bill_no, "declaration_no": declaration_no, "packages": packages}),
        K::DepartureConfirmed {
            departed_at,
            unreleased,
            ..
        } => serde_json::json!({"departed_at": departed_at, "unreleased": unreleased}),
        K::ExitConfirmed {
            bill_no,
            declaration_no,
            ..
        } => serde_json::json!({"bill_no": bill_no, "declaration_no": declaration_no}),
    }
    .to_string()
}

/// The transit event's audit detail: the event without the declaration's route and vehicle.
pub fn transit_audit_detail(e: &TransitEvent) -> String {
    use cargo_control::TransitEventKind as K;
    match &e.kind {
        K::Declared { declaration } => serde_json::json!({
            "entry_office": declaration.entry_office,
            "destination_office": declaration.destination_office,
            "seals": declaration.seals.len(),
            "time_limit_hours": declaration.time_limit_hours,
        }),
        other => serde_json::to_value(other).unwrap_or_default(),
    }
    .to_string()
}

pub fn transit_event_name(e: &TransitEvent) -> &'static str {
    use cargo_control::TransitEventKind as K;
    match &e.kind {
        K::Declared { .. } => "declared",
        K::DepartureConfirmed { .. } => "departure_confirmed",
        K::ArrivalConfirmed { .. } => "arrival_confirmed",
        K::SealAlertResolved { .. } => "seal_alert_resolved",
        K::Cleared { .. } => "cleared",
        K::Cancelled { .. } => "cancelled",
    }
}

pub fn postal_outcome_name(d: &PostalDecision) -> &'static str {
    match d.outcome {
        cargo_control::PostalOutcome::Released => "released",
        cargo_control::PostalOutcome::Held { .. } => "held",
    }
}

pub fn postal_kind_name(d: &PostalDecision) -> &'static str {
    match d.kind {
        cargo_control::PostalKind::Parcel => "parcel",
        cargo_control::PostalKind::Baggage => "baggage",
    }
}

/// The event recording a pending match once the declaration has its number.
pub fn matched_event(
    m: &PendingMatch,
    declaration_no: domain::codes::DeclarationNo,
    now: DateTime<Utc>,
) -> ManifestEvent {
    ManifestEvent {
        at: now,
        actor: cargo_control::Actor::System {
            component: "clearance".into(),
        },
        kind: cargo_control::ManifestEventKind::DeclarationMatched {
            manifest_id: m.manifest_id,
            bill_no: m.bill_no,
            declaration_no,
            packages: m.packages,
            gross_weight_kg: m.gross_weight_kg,
        },
    }
}
