//! The manifest ledger 舱单电子底账: every manifest with its versions, and the matching index of
//! bills, as an in-memory state machine. [`ManifestLedger::decide`] turns a [`ManifestCommand`]
//! into [`ManifestEvent`]s or a [`Refusal`]; [`ManifestLedger::apply`] folds an event in.
//!
//! ```text
//! (none) ─file pre_load→ PreLoad ─file original→ Original ─report_arrival (import)→ Arrived ─report_tally→ Tallied
//!                        └──────────────────────────┴─confirm_departure (export)→ Departed
//! amend: any status but Departed, a new version each time (who, when, why; history kept)
//! bills: match_declaration (reserves packages) → write_off (on release) ; unmatch_declaration
//! ```
//!
//! Queries: [`ManifestLedger::match_declaration`] (does a declaration agree with its bill?),
//! [`ManifestLedger::balance`] (undeclared, over-declared, short per manifest) and
//! [`ManifestLedger::late_bills`] (undeclared past the 14 days, with the late declaration fee).
//!
//! The index is a `HashMap<BillNo, Slot>` (a packed 40-byte slot; [`ManifestLedger::bill`] gives
//! a [`BillEntry`] copy) with std's randomly keyed SipHash: bill numbers come from carriers, so a
//! hash an outsider cannot aim at keeps lookups O(1) under hostile input.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use domain::codes::{DeclarationNo, Direction, OfficeCode, Uscc};
use domain::money::Fen;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use tax::fees::{late_declaration_fee, Fee};
use tax::{TaxPolicy, TradingCalendar};

use crate::codes::{BillNo, ManifestId};
use crate::late::{LateFee, PeriodStart, TransitLeg};
use crate::model::*;
use crate::refusal::{at_most, text, Refusal};

/// Where a manifest is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManifestStatus {
    PreLoad,
    Original,
    /// Imports: the arrival report is in; declarations can be matched.
    Arrived,
    /// Imports: a tally report is in; its figures are the basis of matching.
    Tallied,
    /// Exports: the departure is confirmed; the export declarations are closed.
    Departed,
}

impl ManifestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ManifestStatus::PreLoad => "pre_load",
            ManifestStatus::Original => "original",
            ManifestStatus::Arrived => "arrived",
            ManifestStatus::Tallied => "tallied",
            ManifestStatus::Departed => "departed",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            ManifestStatus::PreLoad => "已申报预配舱单",
            ManifestStatus::Original => "已申报原始舱单",
            ManifestStatus::Arrived => "已运抵",
            ManifestStatus::Tallied => "已理货",
            ManifestStatus::Departed => "已离境",
        }
    }
}

/// One version of a manifest's bills: the first filing, the original after a pre-load, or an
/// amendment. Versions are never changed; the last one is current.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestVersion {
    pub version: u32,
    pub kind: ManifestKind,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    /// Why (amendments); `None` for filings.
    pub reason: Option<String>,
    pub bills: Vec<Bill>,
}

/// What the tally counted for one bill.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyLine {
    pub bill_no: BillNo,
    pub packages: u64,
    pub gross_weight_kg: Decimal,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TallyReport {
    pub version: u32,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub lines: Vec<TallyLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MovementReport {
    /// When the means of transport arrived or left (reported), and when the report was recorded.
    pub occurred_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
}

/// One manifest and its history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestState {
    pub manifest_id: ManifestId,
    pub carrier: Uscc,
    pub voyage: Voyage,
    pub status: ManifestStatus,
    pub versions: Vec<ManifestVersion>,
    pub arrival: Option<MovementReport>,
    pub tallies: Vec<TallyReport>,
    pub departure: Option<MovementReport>,
}

impl ManifestState {
    pub fn current(&self) -> &ManifestVersion {
        self.versions
            .last()
            .expect("a manifest has at least its first version")
    }

    pub fn version(&self) -> u32 {
        self.current().version
    }

    /// The customs date (UTC+8) of the arrival report, the start of the 14 days.
    pub fn arrival_date(&self) -> Option<NaiveDate> {
        self.arrival.as_ref().map(|a| china_date(a.occurred_at))
    }

    /// Access rule: a carrier sees its own manifests, an officer those of its office and the
    /// offices below, an automatic component everything; other actors see none through this rule.
    pub fn visible_to(&self, actor: &Actor) -> bool {
        match actor {
            Actor::Carrier { uscc } => *uscc == self.carrier,
            Actor::Officer { office, .. } => office_covers(*office, self.voyage.office),
            Actor::System { .. } => true,
            Actor::Terminal { .. }
            | Actor::TallyAgency { .. }
            | Actor::PostalOperator { .. }
            | Actor::Passenger { .. } => false,
        }
    }
}

/// The calendar date in China Standard Time (UTC+8): the domain's one definition, re-exported
/// here for the crate's users.
pub use domain::time::china_date;

/// A declaration matched to a bill, and whether its release wrote it off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclaredPart {
    pub declaration_no: DeclarationNo,
    pub packages: u64,
    pub gross_weight_kg: Decimal,
    pub written_off: bool,
}

/// A bill as the matching index sees it: the figures matching needs, without the goods lines
/// (those stay in the manifest's versions). A copy made by [`ManifestLedger::bill`]; the index
/// itself keeps a compact slot per bill (docs/CARGO.md "Performance").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillEntry {
    /// For a master bill: how many house bills name it.
    house_bills: u32,
    pub packages: u64,
    pub gross_weight_kg: Decimal,
    pub tallied: Option<(u64, Decimal)>,
    pub declared_packages: u64,
    pub declared_weight_kg: Decimal,
    pub written_off_packages: u64,
    pub parts: Vec<DeclaredPart>,
}

impl BillEntry {
    /// The figures declarations are matched against: the tally's when there is one.
    pub fn basis(&self) -> (u64, Decimal) {
        self.tallied
            .unwrap_or((self.packages, self.gross_weight_kg))
    }

    pub fn is_consolidated_master(&self) -> bool {
        self.house_bills > 0
    }
}

/// One bill in the index: inline what every match reads (40 bytes), boxed what only a tallied
/// or declared bill has, so an open bill costs its key and its slot (80 bytes a bucket; about
/// 170 bytes with the table's spare buckets at a million bills, docs/CARGO.md "Performance").
#[derive(Clone, Debug, PartialEq, Eq)]
struct Slot {
    /// Slot of the manifest in the ledger.
    manifest: u32,
    /// For a master bill: how many house bills name it (at most [`BILLS_MAX`] in a filing).
    house_bills: u16,
    /// The gross weight as its decimal parts, exactly: scale (bits 0–4), sign (bit 7) …
    weight_flags: u8,
    packages: u64,
    /// … and the low 64 bits of the mantissa; the high 32 (nonzero only from 2⁶⁴ units of
    /// the scale: 18,446,744,073,709,551.616 kg at three decimals) in `Progress::weight_hi`.
    weight_lo: u64,
    declared_packages: u64,
    /// `None` until a tally or a declaration touches the bill (and again once nothing is left
    /// of them: every declaration unmatched, no tally).
    progress: Option<Box<Progress>>,
}

/// What a tally and declarations add to a bill (and the rare weight too large for the slot).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Progress {
    weight_hi: u32,
    tallied: Option<(u64, Decimal)>,
    declared_weight_kg: Decimal,
    written_off_packages: u64,
    parts: Vec<DeclaredPart>,
}

impl Slot {
    fn new(manifest: u32) -> Slot {
        Slot {
            manifest,
            house_bills: 0,
            weight_flags: 0,
            packages: 0,
            weight_lo: 0,
            declared_packages: 0,
            progress: None,
        }
    }

    const WEIGHT_NEGATIVE: u8 = 0x80;

    fn gross_weight_kg(&self) -> Decimal {
        let hi = self.progress.as_ref().map_or(0, |p| p.weight_hi);
        Decimal::from_parts(
            self.weight_lo as u32,
            (self.weight_lo >> 32) as u32,
            hi,
            self.weight_flags & Self::WEIGHT_NEGATIVE != 0,
            u32::from(self.weight_flags & !Self::WEIGHT_NEGATIVE),
        )
    }

    fn set_gross_weight_kg(&mut self, kg: Decimal) {
        let mantissa = kg.mantissa().unsigned_abs();
        let scale = u8::try_from(kg.scale()).expect("a decimal's scale is at most 28");
        self.weight_flags = scale
            | if kg.is_sign_negative() {
                Self::WEIGHT_NEGATIVE
            } else {
                0
            };
        self.weight_lo = mantissa as u64;
        let hi = (mantissa >> 64) as u32;
        if hi != 0 {
            self.progress_mut().weight_hi = hi;
        } else if let Some(p) = self.progress.as_mut() {
            p.weight_hi = 0;
            self.shrink();
        }
    }

    /// The figures declarations are matched against: the tally's when there is one.
    fn basis(&self) -> (u64, Decimal) {
        self.tallied()
            .unwrap_or_else(|| (self.packages, self.gross_weight_kg()))
    }

    fn is_consolidated_master(&self) -> bool {
        self.house_bills > 0
    }

    fn tallied(&self) -> Option<(u64, Decimal)> {
        self.progress.as_ref().and_then(|p| p.tallied)
    }

    fn declared_weight_kg(&self) -> Decimal {
        self.progress
            .as_ref()
            .map_or(Decimal::ZERO, |p| p.declared_weight_kg)
    }

    fn written_off_packages(&self) -> u64 {
        self.progress.as_ref().map_or(0, |p| p.written_off_packages)
    }

    fn parts(&self) -> &[DeclaredPart] {
        self.progress.as_ref().map_or(&[], |p| &p.parts)
    }

    fn progress_mut(&mut self) -> &mut Progress {
        self.progress.get_or_insert_with(Box::default)
    }

    /// Drop the box when it holds nothing (no tally, no declaration left, and a declared weight
    /// that reads exactly as a bill never declared: `0`, not the `0.0` that 100.5 − 100.5 leaves).
    fn shrink(&mut self) {
        if self.progress.as_ref().is_some_and(|p| {
            p.weight_hi == 0
                && p.tallied.is_none()
                && p.parts.is_empty()
                && p.written_off_packages == 0
                && p.declared_weight_kg.serialize() == Decimal::ZERO.serialize()
        }) {
            debug_assert_eq!(self.declared_packages, 0);
            self.progress = None;
        }
    }

    fn view(&self) -> BillEntry {
        BillEntry {
            house_bills: u32::from(self.house_bills),
            packages: self.packages,
            gross_weight_kg: self.gross_weight_kg(),
            tallied: self.tallied(),
            declared_packages: self.declared_packages,
            declared_weight_kg: self.declared_weight_kg(),
            written_off_packages: self.written_off_packages(),
            parts: self.parts().to_vec(),
        }
    }
}

/// The matching index: bill number → its [`Slot`], in the table itself (one probe reaches the
/// key and the figures; 81 bytes a bucket with its control byte, against 161 when the table
/// held the whole entry).
#[derive(Clone, Debug, Default)]
struct BillIndex {
    map: HashMap<BillNo, Slot>,
}

impl BillIndex {
    fn with_capacity(bills: usize) -> BillIndex {
        BillIndex {
            map: HashMap::with_capacity(bills),
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn get(&self, bill_no: &BillNo) -> Option<&Slot> {
        self.map.get(bill_no)
    }

    fn get_mut(&mut self, bill_no: &BillNo) -> Option<&mut Slot> {
        self.map.get_mut(bill_no)
    }

    /// The bill's slot, a new one in `manifest` if the bill is not indexed.
    fn get_or_insert(&mut self, bill_no: BillNo, manifest: u32) -> &mut Slot {
        self.map
            .entry(bill_no)
            .or_insert_with(|| Slot::new(manifest))
    }

    fn remove(&mut self, bill_no: &BillNo) {
        self.map.remove(bill_no);
    }
}

impl std::ops::Index<&BillNo> for BillIndex {
    type Output = Slot;

    fn index(&self, bill_no: &BillNo) -> &Slot {
        self.get(bill_no).expect("bill is indexed")
    }
}

/// What a successful match says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Match {
    pub manifest_id: ManifestId,
    pub bill_no: BillNo,
    /// Whether the declaration covers everything left of the bill.
    pub complete: bool,
    /// Packages and weight expected for this declaration, and the difference allowed.
    pub expected_packages: u64,
    pub expected_weight_kg: Decimal,
    pub allowed_difference_kg: Decimal,
}

/// A command: who asks, and what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestCommand {
    pub actor: Actor,
    pub action: ManifestAction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ManifestAction {
    /// A carrier files a pre-load or original manifest (an original after a pre-load is its next
    /// version).
    File {
        manifest_id: ManifestId,
        kind: ManifestKind,
        voyage: Voyage,
        bills: Vec<Bill>,
    },
    /// The carrier amends the bills; a new version with the reason.
    Amend {
        manifest_id: ManifestId,
        reason: String,
        bills: Vec<Bill>,
    },
    /// Imports: the goods are at the supervised place (运抵报告).
    ReportArrival {
        manifest_id: ManifestId,
        arrived_at: DateTime<Utc>,
    },
    /// Imports: what the tally counted (理货报告). A later tally replaces an earlier one.
    ReportTally {
        manifest_id: ManifestId,
        lines: Vec<TallyLine>,
    },
    /// A declaration accepted by customs names this bill: match and reserve its packages.
    MatchDeclaration {
        bill_no: BillNo,
        declaration_no: DeclarationNo,
        packages: u64,
        gross_weight_kg: Decimal,
    },
    /// The declaration was withdrawn or cancelled before release: free its packages.
    UnmatchDeclaration {
        bill_no: BillNo,
        declaration_no: DeclarationNo,
        reason: String,
    },
    /// The declaration was released: write its part of the bill off (核销).
    WriteOff {
        bill_no: BillNo,
        declaration_no: DeclarationNo,
    },
    /// Exports: the departure manifest confirms the goods left; closes their declarations.
    ConfirmDeparture {
        manifest_id: ManifestId,
        departed_at: DateTime<Utc>,
    },
}

impl ManifestAction {
    pub fn name(&self) -> &'static str {
        match self {
            ManifestAction::File { .. } => "file",
            ManifestAction::Amend { .. } => "amend",
            ManifestAction::ReportArrival { .. } => "report_arrival",
            ManifestAction::ReportTally { .. } => "report_tally",
            ManifestAction::MatchDeclaration { .. } => "match_declaration",
            ManifestAction::UnmatchDeclaration { .. } => "unmatch_declaration",
            ManifestAction::WriteOff { .. } => "write_off",
            ManifestAction::ConfirmDeparture { .. } => "confirm_departure",
        }
    }
}

/// A recorded fact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEvent {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    #[serde(flatten)]
    pub kind: ManifestEventKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ManifestEventKind {
    /// A filing (version 1, or the original after a pre-load) or an amendment.
    VersionRecorded {
        manifest_id: ManifestId,
        carrier: Uscc,
        voyage: Voyage,
        version: u32,
        kind: ManifestKind,
        reason: Option<String>,
        bills: Vec<Bill>,
    },
    ArrivalReported {
        manifest_id: ManifestId,
        arrived_at: DateTime<Utc>,
    },
    TallyReported {
        manifest_id: ManifestId,
        version: u32,
        lines: Vec<TallyLine>,
    },
    DeclarationMatched {
        manifest_id: ManifestId,
        bill_no: BillNo,
        declaration_no: DeclarationNo,
        packages: u64,
        gross_weight_kg: Decimal,
    },
    DeclarationUnmatched {
        manifest_id: ManifestId,
        bill_no: BillNo,
        declaration_no: DeclarationNo,
        reason: String,
    },
    BillWrittenOff {
        manifest_id: ManifestId,
        bill_no: BillNo,
        declaration_no: DeclarationNo,
        packages: u64,
        gross_weight_kg: Decimal,
        /// Every package of the bill is now written off.
        bill_complete: bool,
    },
    DepartureConfirmed {
        manifest_id: ManifestId,
        departed_at: DateTime<Utc>,
        /// Declarations matched to its bills but never released: the goods left without release.
        unreleased: Vec<DeclarationNo>,
    },
    /// For the clearance side: this export declaration's goods have left
    /// ([`ManifestEventKind::clearance_command`]).
    ExitConfirmed {
        manifest_id: ManifestId,
        bill_no: BillNo,
        declaration_no: DeclarationNo,
    },
}

impl ManifestEventKind {
    pub fn name(&self) -> &'static str {
        match self {
            ManifestEventKind::VersionRecorded { .. } => "version_recorded",
            ManifestEventKind::ArrivalReported { .. } => "arrival_reported",
            ManifestEventKind::TallyReported { .. } => "tally_reported",
            ManifestEventKind::DeclarationMatched { .. } => "declaration_matched",
            ManifestEventKind::DeclarationUnmatched { .. } => "declaration_unmatched",
            ManifestEventKind::BillWrittenOff { .. } => "bill_written_off",
            ManifestEventKind::DepartureConfirmed { .. } => "departure_confirmed",
            ManifestEventKind::ExitConfirmed { .. } => "exit_confirmed",
        }
    }

    /// The command the clearance lifecycle takes from an exit confirmation:
    /// `confirm_exit` by `system:manifest`, with `manifest_ref` = `MANIFEST/BILL`. `None` for
    /// every other event.
    pub fn clearance_command(&self) -> Option<(DeclarationNo, clearance::Command)> {
        match self {
            ManifestEventKind::ExitConfirmed {
                manifest_id,
                bill_no,
                declaration_no,
            } => Some((
                *declaration_no,
                clearance::Command {
                    actor: clearance::Actor::System {
                        component: "manifest".to_owned(),
                    },
                    action: clearance::Action::ConfirmExit {
                        manifest_ref: format!("{manifest_id}/{bill_no}"),
                    },
                },
            )),
            ManifestEventKind::VersionRecorded { .. }
            | ManifestEventKind::ArrivalReported { .. }
            | ManifestEventKind::TallyReported { .. }
            | ManifestEventKind::DeclarationMatched { .. }
            | ManifestEventKind::DeclarationUnmatched { .. }
            | ManifestEventKind::BillWrittenOff { .. }
            | ManifestEventKind::DepartureConfirmed { .. } => None,
        }
    }
}

/// A bill's position in the balance report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BillPosition {
    /// Nothing declared.
    Undeclared,
    /// Part of the packages declared.
    PartlyDeclared,
    /// Everything declared, some not yet released.
    Declared,
    /// Everything declared and released.
    WrittenOff,
    /// Declarations cover more than the bill (packages, or weight beyond tolerance); happens when
    /// a later amendment or tally lowers the bill below what was declared.
    OverDeclared,
    /// A master bill with house bills: declared through its house bills.
    Consolidated,
}

/// Whether the tally agreed with the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "landing", rename_all = "snake_case")]
pub enum Landing {
    NotTallied,
    AsManifested,
    Short { packages: u64 },
    Over { packages: u64 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BillBalance {
    pub bill_no: BillNo,
    pub manifested_packages: u64,
    pub manifested_weight_kg: Decimal,
    pub tallied: Option<(u64, Decimal)>,
    pub declared_packages: u64,
    pub declared_weight_kg: Decimal,
    pub written_off_packages: u64,
    pub position: BillPosition,
    pub landing: Landing,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ManifestBalance {
    pub manifest_id: ManifestId,
    pub version: u32,
    pub status: ManifestStatus,
    pub bills: Vec<BillBalance>,
    /// Bills with packages still undeclared (wholly or partly).
    pub undeclared: Vec<BillNo>,
    pub over_declared: Vec<BillNo>,
    /// The tally found fewer packages than manifested (短卸).
    pub short: Vec<BillNo>,
    /// The tally found more packages than manifested (溢卸).
    pub over_landed: Vec<BillNo>,
}

/// A bill undeclared past the deadline (docs/DOMAIN.md §4 late declaration fee).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LateBill {
    pub manifest_id: ManifestId,
    pub bill_no: BillNo,
    pub office: OfficeCode,
    /// The arrival the 14 days count from: at the office of entry, or for goods under transit
    /// at the office of destination (`counted_from` says which).
    pub arrival_date: NaiveDate,
    pub counted_from: PeriodStart,
    pub explanation_zh: String,
    pub explanation_en: String,
    /// The last day without a fee (after the weekend and holiday shift).
    pub deadline: NaiveDate,
    /// Days counted so far, as of the listing date.
    pub days: i64,
    pub undeclared_packages: u64,
    /// The fee accrued as of the listing date, when the customs value is known.
    pub fee: Option<Fee>,
}

/// The manifest ledger: manifests and the matching index of their bills.
#[derive(Clone, Debug, Default)]
pub struct ManifestLedger {
    policy: MatchPolicy,
    manifests: Vec<ManifestState>,
    slots: HashMap<ManifestId, u32>,
    bills: BillIndex,
}

type Decided = Result<Vec<ManifestEventKind>, Refusal>;

impl ManifestLedger {
    pub fn new(policy: MatchPolicy) -> Self {
        ManifestLedger {
            policy,
            ..ManifestLedger::default()
        }
    }

    /// Room for `bills` bills without rehashing (loading a snapshot).
    pub fn with_capacity(policy: MatchPolicy, manifests: usize, bills: usize) -> Self {
        ManifestLedger {
            policy,
            manifests: Vec::with_capacity(manifests),
            slots: HashMap::with_capacity(manifests),
            bills: BillIndex::with_capacity(bills),
        }
    }

    pub fn policy(&self) -> &MatchPolicy {
        &self.policy
    }

    pub fn manifest(&self, id: &ManifestId) -> Option<&ManifestState> {
        self.slots.get(id).map(|&s| &self.manifests[s as usize])
    }

    pub fn manifests(&self) -> impl Iterator<Item = &ManifestState> {
        self.manifests.iter()
    }

    /// The bill's figures in the index (a copy: the index stores them packed).
    pub fn bill(&self, bill_no: &BillNo) -> Option<BillEntry> {
        self.bills.get(bill_no).map(Slot::view)
    }

    pub fn bill_count(&self) -> usize {
        self.bills.len()
    }

    /// Decide, then apply the events: the use case's whole step for an in-memory ledger.
    pub fn execute(
        &mut self,
        cmd: &ManifestCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<ManifestEvent>, Refusal> {
        let events = self.decide(cmd, now)?;
        for e in &events {
            self.apply(e);
        }
        Ok(events)
    }

    /// Decide what a command does at `now`. Pure: the ledger is not changed.
    pub fn decide(
        &self,
        cmd: &ManifestCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<ManifestEvent>, Refusal> {
        let kinds = self.decide_kinds(cmd, now)?;
        Ok(kinds
            .into_iter()
            .map(|kind| ManifestEvent {
                at: now,
                actor: cmd.actor.clone(),
                kind,
            })
            .collect())
    }

    fn decide_kinds(&self, cmd: &ManifestCommand, now: DateTime<Utc>) -> Decided {
        use ManifestAction as A;
        use ManifestStatus as S;
        let action = cmd.action.name();
        let actor = &cmd.actor;

        // The manifest the command is about, found by id or through the bill.
        let target: Option<&ManifestState> = match &cmd.action {
            A::File { manifest_id, .. } => self.manifest(manifest_id),
            A::Amend { manifest_id, .. }
            | A::ReportArrival { manifest_id, .. }
            | A::ReportTally { manifest_id, .. }
            | A::ConfirmDeparture { manifest_id, .. } => {
                Some(self.manifest(manifest_id).ok_or(Refusal::UnknownManifest {
                    manifest_id: *manifest_id,
                })?)
            }
            A::MatchDeclaration { bill_no, .. }
            | A::UnmatchDeclaration { bill_no, .. }
            | A::WriteOff { bill_no, .. } => {
                let entry = self
                    .bills
                    .get(bill_no)
                    .ok_or(Refusal::BillUnknown { bill_no: *bill_no })?;
                Some(&self.manifests[entry.manifest as usize])
            }
        };
        let status = target.map(|m| m.status);
        let not_allowed = |s: ManifestStatus| {
            Err(Refusal::NotAllowedInStatus {
                status: s.as_str(),
                status_zh: s.name_zh(),
                action,
            })
        };

        match (status, &cmd.action) {
            // --- filing -------------------------------------------------------------------------
            (
                None,
                A::File {
                    manifest_id,
                    kind,
                    voyage,
                    bills,
                },
            ) => {
                let carrier = carrier_of(actor, action)?;
                filing_kind(*kind)?;
                self.check_bills(None, bills)?;
                Ok(vec![ManifestEventKind::VersionRecorded {
                    manifest_id: *manifest_id,
                    carrier,
                    voyage: check_voyage(voyage)?,
                    version: 1,
                    kind: *kind,
                    reason: None,
                    bills: bills.clone(),
                }])
            }
            (
                Some(S::PreLoad),
                A::File {
                    manifest_id,
                    kind,
                    voyage,
                    bills,
                },
            ) => {
                let m = target.expect("status comes from the target");
                own_manifest(actor, m, action)?;
                match kind {
                    ManifestKind::Original => {}
                    ManifestKind::PreLoad => {
                        return Err(Refusal::ManifestExists {
                            manifest_id: *manifest_id,
                        })
                    }
                    ManifestKind::ArrivalReport | ManifestKind::TallyReport => {
                        return Err(Refusal::NotAFilingKind)
                    }
                }
                self.check_bills(Some(m), bills)?;
                Ok(vec![ManifestEventKind::VersionRecorded {
                    manifest_id: *manifest_id,
                    carrier: m.carrier,
                    voyage: check_voyage(voyage)?,
                    version: m.version() + 1,
                    kind: ManifestKind::Original,
                    reason: None,
                    bills: bills.clone(),
                }])
            }
            (
                Some(S::Original | S::Arrived | S::Tallied | S::Departed),
                A::File { manifest_id, .. },
            ) => Err(Refusal::ManifestExists {
                manifest_id: *manifest_id,
            }),

            // --- amendment ----------------------------------------------------------------------
            (
                Some(S::PreLoad | S::Original | S::Arrived | S::Tallied),
                A::Amend {
                    manifest_id,
                    reason,
                    bills,
                },
            ) => {
                let m = target.expect("status comes from the target");
                own_manifest(actor, m, action)?;
                text("reason", reason, TEXT_MAX)?;
                self.check_bills(Some(m), bills)?;
                Ok(vec![ManifestEventKind::VersionRecorded {
                    manifest_id: *manifest_id,
                    carrier: m.carrier,
                    voyage: m.voyage.clone(),
                    version: m.version() + 1,
                    kind: m.current().kind,
                    reason: Some(reason.clone()),
                    bills: bills.clone(),
                }])
            }
            (Some(s @ S::Departed), A::Amend { .. }) => not_allowed(s),
            (None, A::Amend { .. }) => unreachable_target(),

            // --- arrival ------------------------------------------------------------------------
            (
                Some(S::Original),
                A::ReportArrival {
                    manifest_id,
                    arrived_at,
                },
            ) => {
                let m = target.expect("status comes from the target");
                direction_is(m, Direction::Import, action)?;
                match actor {
                    Actor::Carrier { .. } => own_manifest(actor, m, action)?,
                    Actor::Terminal { .. } | Actor::System { .. } => {}
                    Actor::Officer { .. } => officer_covers(actor, m)?,
                    Actor::TallyAgency { .. }
                    | Actor::PostalOperator { .. }
                    | Actor::Passenger { .. } => return Err(forbidden(actor, action)),
                }
                // An arrival cannot be reported before it happens.
                let arrived_at = (*arrived_at).min(now);
                Ok(vec![ManifestEventKind::ArrivalReported {
                    manifest_id: *manifest_id,
                    arrived_at,
                }])
            }
            (
                Some(s @ (S::PreLoad | S::Arrived | S::Tallied | S::Departed)),
                A::ReportArrival { .. },
            ) => {
                direction_is(target.expect("target"), Direction::Import, action)?;
                not_allowed(s)
            }
            (None, A::ReportArrival { .. }) => unreachable_target(),

            // --- tally --------------------------------------------------------------------------
            (Some(S::Arrived | S::Tallied), A::ReportTally { manifest_id, lines }) => {
                let m = target.expect("status comes from the target");
                match actor {
                    Actor::TallyAgency { .. } | Actor::System { .. } => {}
                    Actor::Officer { .. } => officer_covers(actor, m)?,
                    Actor::Carrier { .. }
                    | Actor::Terminal { .. }
                    | Actor::PostalOperator { .. }
                    | Actor::Passenger { .. } => return Err(forbidden(actor, action)),
                }
                if lines.is_empty() {
                    return Err(Refusal::Missing { field: "lines" });
                }
                at_most("lines", lines, BILLS_MAX)?;
                let on_manifest: HashSet<BillNo> =
                    m.current().bills.iter().map(|b| b.bill_no).collect();
                let mut seen = HashSet::with_capacity(lines.len());
                for l in lines {
                    if !on_manifest.contains(&l.bill_no) {
                        return Err(Refusal::TallyUnknownBill { bill_no: l.bill_no });
                    }
                    if !seen.insert(l.bill_no) {
                        return Err(Refusal::DuplicateBill { bill_no: l.bill_no });
                    }
                    if l.gross_weight_kg.is_sign_negative() {
                        return Err(Refusal::Negative {
                            field: "gross_weight_kg",
                        });
                    }
                }
                Ok(vec![ManifestEventKind::TallyReported {
                    manifest_id: *manifest_id,
                    version: m.tallies.last().map_or(1, |t| t.version + 1),
                    lines: lines.clone(),
                }])
            }
            (Some(s @ (S::PreLoad | S::Original | S::Departed)), A::ReportTally { .. }) => {
                not_allowed(s)
            }
            (None, A::ReportTally { .. }) => unreachable_target(),

            // --- declarations -------------------------------------------------------------------
            (
                Some(S::PreLoad | S::Original | S::Arrived | S::Tallied | S::Departed),
                A::MatchDeclaration {
                    bill_no,
                    declaration_no,
                    packages,
                    gross_weight_kg,
                },
            ) => {
                let m = target.expect("status comes from the target");
                clearance_side(actor, m, action)?;
                let entry = &self.bills[bill_no];
                if entry
                    .parts()
                    .iter()
                    .any(|p| p.declaration_no == *declaration_no)
                {
                    return Err(Refusal::DuplicateDeclaration {
                        bill_no: *bill_no,
                        declaration_no: *declaration_no,
                    });
                }
                self.match_declaration(
                    bill_no,
                    declaration_no.direction(),
                    *packages,
                    *gross_weight_kg,
                    &self.policy,
                )?;
                Ok(vec![ManifestEventKind::DeclarationMatched {
                    manifest_id: m.manifest_id,
                    bill_no: *bill_no,
                    declaration_no: *declaration_no,
                    packages: *packages,
                    gross_weight_kg: *gross_weight_kg,
                }])
            }
            (
                Some(S::PreLoad | S::Original | S::Arrived | S::Tallied),
                A::UnmatchDeclaration {
                    bill_no,
                    declaration_no,
                    reason,
                },
            ) => {
                let m = target.expect("status comes from the target");
                clearance_side(actor, m, action)?;
                text("reason", reason, TEXT_MAX)?;
                let part = self.part(bill_no, declaration_no)?;
                if part.written_off {
                    return Err(Refusal::AlreadyWrittenOff { bill_no: *bill_no });
                }
                Ok(vec![ManifestEventKind::DeclarationUnmatched {
                    manifest_id: m.manifest_id,
                    bill_no: *bill_no,
                    declaration_no: *declaration_no,
                    reason: reason.clone(),
                }])
            }
            (Some(S::Departed), A::UnmatchDeclaration { bill_no, .. }) => {
                Err(Refusal::ManifestDeparted { bill_no: *bill_no })
            }
            (
                Some(S::PreLoad | S::Original | S::Arrived | S::Tallied),
                A::WriteOff {
                    bill_no,
                    declaration_no,
                },
            ) => {
                let m = target.expect("status comes from the target");
                clearance_side(actor, m, action)?;
                // The gate of matching applies at release too (arrival for imports).
                self.gate(bill_no, declaration_no.direction())?;
                let part = self.part(bill_no, declaration_no)?;
                if part.written_off {
                    return Err(Refusal::AlreadyWrittenOff { bill_no: *bill_no });
                }
                let entry = &self.bills[bill_no];
                let (basis_packages, _) = entry.basis();
                let written = entry.written_off_packages() + part.packages;
                // Invariant: matching never reserves more than the bill holds.
                assert!(
                    written <= basis_packages.max(entry.declared_packages),
                    "write-off beyond the declared packages of {bill_no}"
                );
                Ok(vec![ManifestEventKind::BillWrittenOff {
                    manifest_id: m.manifest_id,
                    bill_no: *bill_no,
                    declaration_no: *declaration_no,
                    packages: part.packages,
                    gross_weight_kg: part.gross_weight_kg,
                    bill_complete: written >= basis_packages,
                }])
            }
            (Some(S::Departed), A::WriteOff { bill_no, .. }) => {
                Err(Refusal::ManifestDeparted { bill_no: *bill_no })
            }
            (
                None,
                A::MatchDeclaration { .. } | A::UnmatchDeclaration { .. } | A::WriteOff { .. },
            ) => unreachable_target(),

            // --- departure ----------------------------------------------------------------------
            (
                Some(S::PreLoad | S::Original),
                A::ConfirmDeparture {
                    manifest_id,
                    departed_at,
                },
            ) => {
                let m = target.expect("status comes from the target");
                direction_is(m, Direction::Export, action)?;
                match actor {
                    Actor::Carrier { .. } => own_manifest(actor, m, action)?,
                    Actor::System { .. } => {}
                    Actor::Officer { .. } => officer_covers(actor, m)?,
                    Actor::Terminal { .. }
                    | Actor::TallyAgency { .. }
                    | Actor::PostalOperator { .. }
                    | Actor::Passenger { .. } => return Err(forbidden(actor, action)),
                }
                let mut unreleased = Vec::new();
                let mut exits = Vec::new();
                for bill in &m.current().bills {
                    if let Some(entry) = self.bills.get(&bill.bill_no) {
                        for p in entry.parts() {
                            if p.written_off {
                                exits.push(ManifestEventKind::ExitConfirmed {
                                    manifest_id: *manifest_id,
                                    bill_no: bill.bill_no,
                                    declaration_no: p.declaration_no,
                                });
                            } else {
                                unreleased.push(p.declaration_no);
                            }
                        }
                    }
                }
                let mut events = vec![ManifestEventKind::DepartureConfirmed {
                    manifest_id: *manifest_id,
                    departed_at: (*departed_at).min(now),
                    unreleased,
                }];
                events.extend(exits);
                Ok(events)
            }
            (Some(s @ (S::Arrived | S::Tallied | S::Departed)), A::ConfirmDeparture { .. }) => {
                direction_is(target.expect("target"), Direction::Export, action)?;
                not_allowed(s)
            }
            (None, A::ConfirmDeparture { .. }) => unreachable_target(),
        }
    }

    fn part(
        &self,
        bill_no: &BillNo,
        declaration_no: &DeclarationNo,
    ) -> Result<&DeclaredPart, Refusal> {
        self.bills[bill_no]
            .parts()
            .iter()
            .find(|p| p.declaration_no == *declaration_no)
            .ok_or(Refusal::DeclarationNotMatched {
                bill_no: *bill_no,
                declaration_no: *declaration_no,
            })
    }

    /// The checks before any comparison of figures: the bill exists, is on a manifest of the
    /// declaration's direction, has arrived (imports) or not yet left (exports), and is not a
    /// master bill declared through house bills.
    fn gate(
        &self,
        bill_no: &BillNo,
        direction: Direction,
    ) -> Result<(&Slot, &ManifestState), Refusal> {
        let entry = self
            .bills
            .get(bill_no)
            .ok_or(Refusal::BillUnknown { bill_no: *bill_no })?;
        let m = &self.manifests[entry.manifest as usize];
        if m.voyage.direction != direction {
            return Err(Refusal::DirectionMismatch {
                bill_no: *bill_no,
                manifest: m.voyage.direction,
                declaration: direction,
            });
        }
        match (direction, m.status) {
            (Direction::Import, ManifestStatus::Arrived | ManifestStatus::Tallied)
            | (Direction::Export, ManifestStatus::PreLoad | ManifestStatus::Original) => {}
            (Direction::Import, ManifestStatus::PreLoad | ManifestStatus::Original) => {
                return Err(Refusal::ManifestNotArrived {
                    bill_no: *bill_no,
                    manifest_id: m.manifest_id,
                })
            }
            (Direction::Export, ManifestStatus::Departed) => {
                return Err(Refusal::ManifestDeparted { bill_no: *bill_no })
            }
            // An import manifest never departs and an export one never arrives (decide refuses
            // both), so these are unreachable in a ledger built by apply; refuse rather than panic.
            (Direction::Import, ManifestStatus::Departed)
            | (Direction::Export, ManifestStatus::Arrived | ManifestStatus::Tallied) => {
                return Err(Refusal::NotAllowedInStatus {
                    status: m.status.as_str(),
                    status_zh: m.status.name_zh(),
                    action: "match_declaration",
                })
            }
        }
        if entry.is_consolidated_master() {
            return Err(Refusal::MasterHasHouseBills { bill_no: *bill_no });
        }
        Ok((entry, m))
    }

    /// Does a declaration of `packages` and `gross_weight_kg` agree with what is left undeclared
    /// of its bill? Every disagreement is listed (packages and weight together); the gate
    /// (unknown bill, not arrived, departed, written off) stops at the first.
    ///
    /// The basis is the tally when there is one, else the current manifest version, less what
    /// earlier declarations reserved. With `allow_partial`, fewer packages are accepted and the
    /// weight expected is the remaining weight in proportion.
    pub fn match_declaration(
        &self,
        bill_no: &BillNo,
        direction: Direction,
        packages: u64,
        gross_weight_kg: Decimal,
        policy: &MatchPolicy,
    ) -> Result<Match, Refusal> {
        let (entry, m) = self.gate(bill_no, direction)?;
        let (basis_packages, basis_weight) = entry.basis();
        let remaining_packages = basis_packages.saturating_sub(entry.declared_packages);
        if remaining_packages == 0 && basis_packages > 0 {
            return Err(if entry.written_off_packages() >= basis_packages {
                Refusal::AlreadyWrittenOff { bill_no: *bill_no }
            } else {
                Refusal::PackagesDiffer {
                    bill_no: *bill_no,
                    declared: packages,
                    expected: 0,
                }
            });
        }
        let remaining_weight = (basis_weight - entry.declared_weight_kg()).max(Decimal::ZERO);
        let mut reasons = Vec::new();
        let partial = policy.allow_partial && packages > 0 && packages < remaining_packages;
        if packages != remaining_packages && !partial {
            reasons.push(Refusal::PackagesDiffer {
                bill_no: *bill_no,
                declared: packages,
                expected: remaining_packages,
            });
        }
        let expected_packages = if partial {
            packages
        } else {
            remaining_packages
        };
        let expected_weight_kg = if partial {
            remaining_weight * Decimal::from(packages) / Decimal::from(remaining_packages)
        } else {
            remaining_weight
        };
        let allowed = policy.allowed_difference_kg(expected_weight_kg);
        if gross_weight_kg.is_sign_negative()
            || (gross_weight_kg - expected_weight_kg).abs() > allowed
        {
            reasons.push(Refusal::WeightBeyondTolerance {
                bill_no: *bill_no,
                declared_kg: gross_weight_kg.normalize(),
                expected_kg: expected_weight_kg.round_dp(3).normalize(),
                allowed_kg: allowed.round_dp(3).normalize(),
            });
        }
        match reasons.len() {
            0 => Ok(Match {
                manifest_id: m.manifest_id,
                bill_no: *bill_no,
                complete: expected_packages == remaining_packages,
                expected_packages,
                expected_weight_kg,
                allowed_difference_kg: allowed,
            }),
            1 => Err(reasons.remove(0)),
            _ => Err(Refusal::Mismatch { reasons }),
        }
    }

    /// Validate a filing or amendment's bills: shapes, duplicates, masters present, bill numbers
    /// not on another manifest, and (amendments) no bill removed or reduced below what was
    /// declared.
    fn check_bills(&self, manifest: Option<&ManifestState>, bills: &[Bill]) -> Result<(), Refusal> {
        if bills.is_empty() {
            return Err(Refusal::Missing { field: "bills" });
        }
        at_most("bills", bills, BILLS_MAX)?;
        let slot = manifest.map(|m| self.slots[&m.manifest_id]);
        let mut seen: HashMap<BillNo, BillKind> = HashMap::with_capacity(bills.len());
        for b in bills {
            if seen.insert(b.bill_no, b.kind).is_some() {
                return Err(Refusal::DuplicateBill { bill_no: b.bill_no });
            }
            if b.lines.is_empty() {
                return Err(Refusal::EmptyBill { bill_no: b.bill_no });
            }
            at_most("lines", &b.lines, LINES_PER_BILL_MAX)?;
            for l in &b.lines {
                text("description", &l.description, TEXT_MAX)?;
                text("package_type", &l.package_type, 8)?;
                if l.gross_weight_kg.is_sign_negative() {
                    return Err(Refusal::Negative {
                        field: "gross_weight_kg",
                    });
                }
                at_most("containers", &l.containers, CONTAINERS_PER_LINE_MAX)?;
            }
            if let Some(entry) = self.bills.get(&b.bill_no) {
                if Some(entry.manifest) != slot {
                    return Err(Refusal::BillOnOtherManifest {
                        bill_no: b.bill_no,
                        manifest_id: self.manifests[entry.manifest as usize].manifest_id,
                    });
                }
                // After a tally the tally's count is the basis, whatever the amendment says.
                let new_packages = entry.tallied().map_or(b.packages(), |t| t.0);
                if new_packages < entry.declared_packages {
                    return Err(Refusal::AmendmentBelowDeclared {
                        bill_no: b.bill_no,
                        written_off: entry.declared_packages,
                    });
                }
            }
        }
        for b in bills {
            if let BillKind::House { master } = b.kind {
                if seen.get(&master) != Some(&BillKind::Master) {
                    return Err(Refusal::UnknownMasterBill {
                        bill_no: b.bill_no,
                        master,
                    });
                }
            }
        }
        if let Some(m) = manifest {
            for old in &m.current().bills {
                if !seen.contains_key(&old.bill_no) {
                    let declared = self
                        .bills
                        .get(&old.bill_no)
                        .map_or(0, |e| e.declared_packages);
                    if declared > 0 {
                        return Err(Refusal::AmendmentBelowDeclared {
                            bill_no: old.bill_no,
                            written_off: declared,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Fold one event into the ledger. Events come from [`ManifestLedger::decide`] (or the store,
    /// which only holds what decide produced); one that does not fit is a broken invariant.
    pub fn apply(&mut self, event: &ManifestEvent) {
        match &event.kind {
            ManifestEventKind::VersionRecorded {
                manifest_id,
                carrier,
                voyage,
                version,
                kind,
                reason,
                bills,
            } => {
                let slot = match self.slots.get(manifest_id) {
                    Some(&s) => s,
                    None => {
                        let s =
                            u32::try_from(self.manifests.len()).expect("fewer than 2^32 manifests");
                        self.manifests.push(ManifestState {
                            manifest_id: *manifest_id,
                            carrier: *carrier,
                            voyage: voyage.clone(),
                            status: ManifestStatus::PreLoad,
                            versions: Vec::new(),
                            arrival: None,
                            tallies: Vec::new(),
                            departure: None,
                        });
                        self.slots.insert(*manifest_id, s);
                        s
                    }
                };
                let m = &mut self.manifests[slot as usize];
                assert_eq!(
                    *version as usize,
                    m.versions.len() + 1,
                    "versions go up by one"
                );
                m.voyage = voyage.clone();
                if *kind == ManifestKind::Original && m.status == ManifestStatus::PreLoad {
                    m.status = ManifestStatus::Original;
                }
                let old: Vec<BillNo> = m
                    .versions
                    .last()
                    .map(|v| v.bills.iter().map(|b| b.bill_no).collect())
                    .unwrap_or_default();
                m.versions.push(ManifestVersion {
                    version: *version,
                    kind: *kind,
                    at: event.at,
                    actor: event.actor.clone(),
                    reason: reason.clone(),
                    bills: bills.clone(),
                });
                let keep: HashSet<BillNo> = bills.iter().map(|b| b.bill_no).collect();
                for b in old {
                    if !keep.contains(&b) {
                        self.bills.remove(&b);
                    }
                }
                let mut houses: HashMap<BillNo, u32> = HashMap::new();
                for b in bills {
                    if let BillKind::House { master } = b.kind {
                        *houses.entry(master).or_default() += 1;
                    }
                }
                for b in bills {
                    let entry = self.bills.get_or_insert(b.bill_no, slot);
                    entry.packages = b.packages();
                    entry.set_gross_weight_kg(b.gross_weight_kg());
                    entry.house_bills = u16::try_from(houses.get(&b.bill_no).copied().unwrap_or(0))
                        .expect("at most BILLS_MAX bills in a filing");
                }
            }
            ManifestEventKind::ArrivalReported {
                manifest_id,
                arrived_at,
            } => {
                let m = self.manifest_mut(manifest_id);
                m.status = ManifestStatus::Arrived;
                m.arrival = Some(MovementReport {
                    occurred_at: *arrived_at,
                    recorded_at: event.at,
                    actor: event.actor.clone(),
                });
            }
            ManifestEventKind::TallyReported {
                manifest_id,
                version,
                lines,
            } => {
                let m = self.manifest_mut(manifest_id);
                m.status = ManifestStatus::Tallied;
                m.tallies.push(TallyReport {
                    version: *version,
                    at: event.at,
                    actor: event.actor.clone(),
                    lines: lines.clone(),
                });
                for l in lines {
                    if let Some(e) = self.bills.get_mut(&l.bill_no) {
                        e.progress_mut().tallied = Some((l.packages, l.gross_weight_kg));
                    }
                }
            }
            ManifestEventKind::DeclarationMatched {
                bill_no,
                declaration_no,
                packages,
                gross_weight_kg,
                ..
            } => {
                let e = self
                    .bills
                    .get_mut(bill_no)
                    .expect("matched bill is indexed");
                e.declared_packages += packages;
                let progress = e.progress_mut();
                progress.declared_weight_kg += gross_weight_kg;
                progress.parts.push(DeclaredPart {
                    declaration_no: *declaration_no,
                    packages: *packages,
                    gross_weight_kg: *gross_weight_kg,
                    written_off: false,
                });
            }
            ManifestEventKind::DeclarationUnmatched {
                bill_no,
                declaration_no,
                ..
            } => {
                let e = self
                    .bills
                    .get_mut(bill_no)
                    .expect("unmatched bill is indexed");
                let i = e
                    .parts()
                    .iter()
                    .position(|p| p.declaration_no == *declaration_no);
                if let Some(i) = i {
                    let progress = e.progress_mut();
                    let p = progress.parts.remove(i);
                    progress.declared_weight_kg -= p.gross_weight_kg;
                    e.declared_packages -= p.packages;
                    e.shrink();
                }
            }
            ManifestEventKind::BillWrittenOff {
                bill_no,
                declaration_no,
                ..
            } => {
                let e = self
                    .bills
                    .get_mut(bill_no)
                    .expect("written-off bill is indexed");
                let progress = e.progress_mut();
                let p = progress
                    .parts
                    .iter_mut()
                    .find(|p| p.declaration_no == *declaration_no)
                    .expect("a write-off follows a match");
                assert!(!p.written_off, "a part is written off once");
                p.written_off = true;
                progress.written_off_packages += p.packages;
                // Paired assertion: never more written off than declared.
                assert!(
                    progress.written_off_packages <= e.declared_packages,
                    "never more packages written off than declared on the bill"
                );
            }
            ManifestEventKind::DepartureConfirmed {
                manifest_id,
                departed_at,
                ..
            } => {
                let m = self.manifest_mut(manifest_id);
                m.status = ManifestStatus::Departed;
                m.departure = Some(MovementReport {
                    occurred_at: *departed_at,
                    recorded_at: event.at,
                    actor: event.actor.clone(),
                });
            }
            ManifestEventKind::ExitConfirmed { .. } => {}
        }
    }

    fn manifest_mut(&mut self, id: &ManifestId) -> &mut ManifestState {
        let slot = *self.slots.get(id).expect("event names a known manifest");
        &mut self.manifests[slot as usize]
    }

    /// The balance of one manifest: each bill's position and landing, and the lists officers
    /// work from. `None` for an unknown manifest.
    pub fn balance(&self, id: &ManifestId) -> Option<ManifestBalance> {
        let m = self.manifest(id)?;
        let mut out = ManifestBalance {
            manifest_id: *id,
            version: m.version(),
            status: m.status,
            bills: Vec::with_capacity(m.current().bills.len()),
            undeclared: Vec::new(),
            over_declared: Vec::new(),
            short: Vec::new(),
            over_landed: Vec::new(),
        };
        for b in &m.current().bills {
            let e = &self.bills[&b.bill_no];
            let (basis_packages, basis_weight) = e.basis();
            let weight_over = e.declared_weight_kg() - basis_weight
                > self.policy.allowed_difference_kg(basis_weight);
            let position = if e.is_consolidated_master() {
                BillPosition::Consolidated
            } else if e.declared_packages > basis_packages
                || (e.declared_packages > 0 && weight_over)
            {
                BillPosition::OverDeclared
            } else if e.declared_packages == 0 {
                BillPosition::Undeclared
            } else if e.declared_packages < basis_packages {
                BillPosition::PartlyDeclared
            } else if e.written_off_packages() >= basis_packages {
                BillPosition::WrittenOff
            } else {
                BillPosition::Declared
            };
            let landing = match e.tallied() {
                None => Landing::NotTallied,
                Some((p, _)) if p == e.packages => Landing::AsManifested,
                Some((p, _)) if p < e.packages => Landing::Short {
                    packages: e.packages - p,
                },
                Some((p, _)) => Landing::Over {
                    packages: p - e.packages,
                },
            };
            match position {
                BillPosition::Undeclared | BillPosition::PartlyDeclared => {
                    out.undeclared.push(b.bill_no)
                }
                BillPosition::OverDeclared => out.over_declared.push(b.bill_no),
                BillPosition::Declared | BillPosition::WrittenOff | BillPosition::Consolidated => {}
            }
            match landing {
                Landing::Short { .. } => out.short.push(b.bill_no),
                Landing::Over { .. } => out.over_landed.push(b.bill_no),
                Landing::NotTallied | Landing::AsManifested => {}
            }
            out.bills.push(BillBalance {
                bill_no: b.bill_no,
                manifested_packages: e.packages,
                manifested_weight_kg: e.gross_weight_kg(),
                tallied: e.tallied(),
                declared_packages: e.declared_packages,
                declared_weight_kg: e.declared_weight_kg(),
                written_off_packages: e.written_off_packages(),
                position,
                landing,
            });
        }
        Some(out)
    }

    /// Import bills with packages still undeclared after the deadline (arrival + 14 days, moved
    /// to the next working day), as of `as_of`, most overdue first. `customs_value` gives a bill's
    /// customs value when known (from a draft or a valuation); then the fee accrued so far is
    /// computed by `tax::fees::late_declaration_fee`. `transit` gives the transit carrying a
    /// bill, if any: its days count from the arrival at the office of destination, and not at
    /// all while on the way ([`PeriodStart`]).
    pub fn late_bills(
        &self,
        as_of: NaiveDate,
        calendar: &TradingCalendar,
        policy: &TaxPolicy,
        customs_value: &dyn Fn(&BillNo) -> Option<Fen>,
        transit: &dyn Fn(&BillNo) -> Option<TransitLeg>,
    ) -> Vec<LateBill> {
        let mut out = Vec::new();
        for m in &self.manifests {
            let Some(arrival_date) = m.arrival_date() else {
                continue;
            };
            if m.voyage.direction != Direction::Import {
                continue;
            }
            for b in &m.current().bills {
                let e = &self.bills[&b.bill_no];
                if e.is_consolidated_master() {
                    continue;
                }
                let undeclared = e.basis().0.saturating_sub(e.declared_packages);
                if undeclared == 0 {
                    continue;
                }
                let start = PeriodStart::of(
                    m.manifest_id,
                    m.voyage.office,
                    arrival_date,
                    transit(&b.bill_no).as_ref(),
                );
                let Some(arrival_date) = start.date() else {
                    continue;
                };
                let days_only =
                    late_declaration_fee(Fen::ZERO, arrival_date, as_of, calendar, policy);
                if days_only.days <= 0 {
                    continue;
                }
                let fee = customs_value(&b.bill_no)
                    .map(|v| late_declaration_fee(v, arrival_date, as_of, calendar, policy));
                out.push(LateBill {
                    manifest_id: m.manifest_id,
                    bill_no: b.bill_no,
                    office: m.voyage.office,
                    arrival_date,
                    explanation_zh: start.explain_zh(),
                    explanation_en: start.explain_en(),
                    counted_from: start,
                    deadline: days_only.deadline,
                    days: days_only.days,
                    undeclared_packages: undeclared,
                    fee,
                });
            }
        }
        out.sort_by(|a, b| b.days.cmp(&a.days).then(a.bill_no.cmp(&b.bill_no)));
        out
    }

    /// May these bills move inland under a transit from `entry_office`? Each must be on an
    /// import manifest of that office (or an office below it) with its arrival report in, and
    /// not declared there (written off: released; matched: a declaration in progress). The
    /// first refusal is given,
    /// in the order of `bills`. Consolidated masters may travel (their house bills go with
    /// them).
    pub fn check_transit_bills(
        &self,
        entry_office: OfficeCode,
        bills: &[BillNo],
    ) -> Result<(), Refusal> {
        for bill_no in bills {
            let entry = self
                .bills
                .get(bill_no)
                .ok_or(Refusal::BillUnknown { bill_no: *bill_no })?;
            let m = &self.manifests[entry.manifest as usize];
            if m.voyage.direction != Direction::Import {
                return Err(Refusal::DirectionMismatch {
                    bill_no: *bill_no,
                    manifest: m.voyage.direction,
                    declaration: Direction::Import,
                });
            }
            if !office_covers(entry_office, m.voyage.office) {
                return Err(Refusal::TransitBillOtherOffice {
                    bill_no: *bill_no,
                    manifest_office: m.voyage.office,
                    entry_office,
                });
            }
            match m.status {
                ManifestStatus::Arrived | ManifestStatus::Tallied => {}
                ManifestStatus::PreLoad | ManifestStatus::Original | ManifestStatus::Departed => {
                    return Err(Refusal::ManifestNotArrived {
                        bill_no: *bill_no,
                        manifest_id: m.manifest_id,
                    })
                }
            }
            let (basis_packages, _) = entry.basis();
            if basis_packages > 0 && entry.written_off_packages() >= basis_packages {
                return Err(Refusal::AlreadyWrittenOff { bill_no: *bill_no });
            }
            if entry.declared_packages > 0 {
                return Err(Refusal::BillAlreadyDeclared {
                    bill_no: *bill_no,
                    packages: entry.declared_packages,
                });
            }
        }
        Ok(())
    }

    /// The late declaration fee for a declaration of `bill_no` dated `declaration_date`, from
    /// the arrival report of its manifest, or for goods carried by `transit` from their arrival
    /// at the office of destination (charged with the declaration's taxes). Goods still on
    /// their way have no fee to compute: `bill_in_transit`.
    pub fn late_declaration_fee(
        &self,
        bill_no: &BillNo,
        declaration_date: NaiveDate,
        customs_value_fen: Fen,
        transit: Option<&TransitLeg>,
        calendar: &TradingCalendar,
        policy: &TaxPolicy,
    ) -> Result<LateFee, Refusal> {
        let e = self
            .bills
            .get(bill_no)
            .ok_or(Refusal::BillUnknown { bill_no: *bill_no })?;
        let m = &self.manifests[e.manifest as usize];
        let arrival = m.arrival_date().ok_or(Refusal::ManifestNotArrived {
            bill_no: *bill_no,
            manifest_id: m.manifest_id,
        })?;
        let start = PeriodStart::of(m.manifest_id, m.voyage.office, arrival, transit);
        let from = match (start.date(), transit) {
            (Some(from), _) => from,
            // On the way: the period has not started, there is no fee to compute.
            (None, Some(t)) => {
                return Err(Refusal::BillInTransit {
                    bill_no: *bill_no,
                    transit_no: t.transit_no,
                    status: t.status.as_str(),
                    status_zh: t.status.name_zh(),
                })
            }
            (None, None) => arrival,
        };
        let fee = late_declaration_fee(customs_value_fen, from, declaration_date, calendar, policy);
        Ok(LateFee::new(fee, start))
    }
}

fn unreachable_target() -> Decided {
    // `target` is `Some` for every action but `File` (an unknown manifest or bill was refused
    // above), so this arm only exists to keep the match exhaustive without `_`.
    Err(Refusal::Missing { field: "manifest" })
}

fn forbidden(actor: &Actor, action: &'static str) -> Refusal {
    Refusal::ActorNotPermitted {
        actor: actor.kind(),
        action,
    }
}

fn carrier_of(actor: &Actor, action: &'static str) -> Result<Uscc, Refusal> {
    match actor {
        Actor::Carrier { uscc } => Ok(*uscc),
        Actor::Terminal { .. }
        | Actor::TallyAgency { .. }
        | Actor::PostalOperator { .. }
        | Actor::Passenger { .. }
        | Actor::Officer { .. }
        | Actor::System { .. } => Err(forbidden(actor, action)),
    }
}

fn own_manifest(actor: &Actor, m: &ManifestState, action: &'static str) -> Result<(), Refusal> {
    if carrier_of(actor, action)? != m.carrier {
        return Err(Refusal::NotOwnManifest { action });
    }
    Ok(())
}

fn officer_covers(actor: &Actor, m: &ManifestState) -> Result<(), Refusal> {
    if let Actor::Officer { office, .. } = actor {
        if !office_covers(*office, m.voyage.office) {
            return Err(Refusal::WrongOffice {
                actor_office: *office,
                target_office: m.voyage.office,
            });
        }
    }
    Ok(())
}

/// Matching and write-off come from the clearance side: the pipeline (`system`) or an officer
/// of the manifest's office (or above).
fn clearance_side(actor: &Actor, m: &ManifestState, action: &'static str) -> Result<(), Refusal> {
    match actor {
        Actor::System { .. } => Ok(()),
        Actor::Officer { .. } => officer_covers(actor, m),
        Actor::Carrier { .. }
        | Actor::Terminal { .. }
        | Actor::TallyAgency { .. }
        | Actor::PostalOperator { .. }
        | Actor::Passenger { .. } => Err(forbidden(actor, action)),
    }
}

fn direction_is(m: &ManifestState, want: Direction, action: &'static str) -> Result<(), Refusal> {
    if m.voyage.direction != want {
        return Err(Refusal::WrongDirection {
            action,
            direction: m.voyage.direction,
        });
    }
    Ok(())
}

fn filing_kind(kind: ManifestKind) -> Result<(), Refusal> {
    match kind {
        ManifestKind::PreLoad | ManifestKind::Original => Ok(()),
        ManifestKind::ArrivalReport | ManifestKind::TallyReport => Err(Refusal::NotAFilingKind),
    }
}

fn check_voyage(voyage: &Voyage) -> Result<Voyage, Refusal> {
    match &voyage.means {
        MeansOfTransport::Vessel { name, .. } => text("vessel name", name, 64)?,
        MeansOfTransport::Flight { .. }
        | MeansOfTransport::Truck { .. }
        | MeansOfTransport::Train { .. } => {}
    }
    Ok(voyage.clone())
}

/// What a goods declaration says of its bill: the one gate from `domain::declaration::Declaration`
/// into matching.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclaredGoods {
    pub bill_no: BillNo,
    pub direction: Direction,
    pub packages: u64,
    pub gross_weight_kg: Decimal,
}

impl DeclaredGoods {
    pub fn from_declaration(
        decl: &domain::declaration::Declaration,
    ) -> Result<DeclaredGoods, Refusal> {
        let raw = decl
            .bill_no
            .as_deref()
            .ok_or(Refusal::Missing { field: "bill_no" })?;
        let bill_no = BillNo::parse(raw).map_err(|e| Refusal::InvalidBillNo {
            found: raw.to_owned(),
            why: e.to_string(),
        })?;
        Ok(DeclaredGoods {
            bill_no,
            direction: decl.direction,
            packages: u64::from(decl.packages),
            gross_weight_kg: decl.gross_weight_kg,
        })
    }
}

#[cfg(test)]
mod index_tests {
    //! The packed matching index ([`BillIndex`]): what the public tests cannot see.

    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn carrier() -> Actor {
        Actor::Carrier {
            uscc: Uscc::parse("91110000600037341L").unwrap(),
        }
    }

    fn system() -> Actor {
        Actor::System {
            component: "test".into(),
        }
    }

    fn bill(no: &str, packages: u32) -> Bill {
        Bill {
            bill_no: BillNo::parse(no).unwrap(),
            kind: BillKind::Master,
            lines: vec![GoodsLine {
                packages,
                package_type: "CT".into(),
                gross_weight_kg: Decimal::from(packages * 10),
                description: "laptops".into(),
                containers: Vec::new(),
            }],
        }
    }

    fn no(s: &str) -> BillNo {
        BillNo::parse(s).unwrap()
    }

    fn decl(serial: u32) -> DeclarationNo {
        DeclarationNo::new(
            OfficeCode::parse("2200").unwrap(),
            2024,
            Direction::Import,
            serial,
        )
        .unwrap()
    }

    fn arrived(bills: Vec<Bill>) -> (ManifestLedger, ManifestId) {
        let id = ManifestId::parse("M1").unwrap();
        let mut ledger = ManifestLedger::new(MatchPolicy::default());
        let voyage = Voyage {
            means: MeansOfTransport::Vessel {
                imo: crate::codes::ImoNumber::parse("9074729").unwrap(),
                name: "TEST".into(),
            },
            voyage_no: crate::codes::VoyageNo::parse("001E").unwrap(),
            direction: Direction::Import,
            office: OfficeCode::parse("2201").unwrap(),
        };
        let now = t("2024-05-06T08:00:00Z");
        ledger
            .execute(
                &ManifestCommand {
                    actor: carrier(),
                    action: ManifestAction::File {
                        manifest_id: id,
                        kind: ManifestKind::Original,
                        voyage,
                        bills,
                    },
                },
                now,
            )
            .unwrap();
        ledger
            .execute(
                &ManifestCommand {
                    actor: system(),
                    action: ManifestAction::ReportArrival {
                        manifest_id: id,
                        arrived_at: now,
                    },
                },
                now,
            )
            .unwrap();
        (ledger, id)
    }

    fn run(ledger: &mut ManifestLedger, action: ManifestAction) {
        ledger
            .execute(
                &ManifestCommand {
                    actor: system(),
                    action,
                },
                t("2024-05-06T09:00:00Z"),
            )
            .unwrap();
    }

    #[test]
    fn a_bucket_of_the_index_stays_small() {
        // The figures docs/CARGO.md "Performance" gives: a 40-byte slot, 80 bytes with its key
        // (against 160 for the key and the whole entry before).
        assert_eq!(std::mem::size_of::<Slot>(), 40);
        assert!(std::mem::size_of::<(BillNo, Slot)>() <= 80);
    }

    #[test]
    fn the_slot_keeps_a_weight_exactly() {
        let big = Decimal::from_parts(7, 8, 9, false, 3); // a mantissa beyond 2^64
        for kg in [
            Decimal::ZERO,
            Decimal::new(1255, 1),
            Decimal::new(12_550, 2), // 125.50: the scale is kept, not only the value
            Decimal::new(-42, 0),
            Decimal::from_parts(u32::MAX, u32::MAX, 0, false, 28),
            Decimal::MAX,
            big,
        ] {
            let mut slot = Slot::new(0);
            slot.set_gross_weight_kg(kg);
            let back = slot.gross_weight_kg();
            assert_eq!(back.serialize(), kg.serialize(), "{kg}");
            assert_eq!(back.to_string(), kg.to_string());
            assert_eq!(
                slot.progress.is_some(),
                kg.mantissa().unsigned_abs() >> 64 != 0
            );
            // Back to a small weight: the box for the high bits goes.
            slot.set_gross_weight_kg(Decimal::ONE);
            assert_eq!(slot.gross_weight_kg().serialize(), Decimal::ONE.serialize());
            assert!(slot.progress.is_none());
        }
    }

    #[test]
    fn an_open_bill_has_no_boxed_progress_and_an_unmatched_one_loses_it() {
        let (mut ledger, _) = arrived(vec![bill("B1", 10), bill("B2", 5)]);
        assert!(ledger.bills.get(&no("B1")).unwrap().progress.is_none());
        run(
            &mut ledger,
            ManifestAction::MatchDeclaration {
                bill_no: no("B1"),
                declaration_no: decl(1),
                packages: 10,
                gross_weight_kg: Decimal::from(100),
            },
        );
        let e = ledger.bill(&no("B1")).unwrap();
        assert_eq!(
            (e.declared_packages, e.declared_weight_kg, e.parts.len()),
            (10, Decimal::from(100), 1)
        );
        run(
            &mut ledger,
            ManifestAction::UnmatchDeclaration {
                bill_no: no("B1"),
                declaration_no: decl(1),
                reason: "withdrawn".into(),
            },
        );
        let slot = ledger.bills.get(&no("B1")).unwrap();
        assert!(slot.progress.is_none(), "nothing left to box");
        assert_eq!(
            (slot.declared_packages, slot.declared_weight_kg()),
            (0, Decimal::ZERO)
        );
        // The same figures as a bill never declared.
        let fresh = ledger.bill(&no("B2")).unwrap();
        assert_eq!(ledger.bill(&no("B1")).unwrap().parts, fresh.parts);

        // A fractional weight leaves `0.0` declared, as the unpacked entry did: the box stays.
        run(
            &mut ledger,
            ManifestAction::MatchDeclaration {
                bill_no: no("B2"),
                declaration_no: decl(2),
                packages: 5,
                gross_weight_kg: Decimal::new(505, 1),
            },
        );
        run(
            &mut ledger,
            ManifestAction::UnmatchDeclaration {
                bill_no: no("B2"),
                declaration_no: decl(2),
                reason: "withdrawn".into(),
            },
        );
        let b2 = ledger.bill(&no("B2")).unwrap();
        assert_eq!(b2.declared_weight_kg.to_string(), "0.0");
        assert_eq!(b2.declared_packages, 0);
        assert!(b2.parts.is_empty());
    }

    #[test]
    fn a_removed_bill_frees_its_slot_for_the_next_new_bill() {
        let (mut ledger, id) = arrived(vec![bill("B1", 10), bill("B2", 5)]);
        let amend = |bills| ManifestCommand {
            actor: carrier(),
            action: ManifestAction::Amend {
                manifest_id: id,
                reason: "B2 not loaded".into(),
                bills,
            },
        };
        ledger
            .execute(&amend(vec![bill("B1", 10)]), t("2024-05-07T00:00:00Z"))
            .unwrap();
        assert!(ledger.bill(&no("B2")).is_none());
        assert_eq!(ledger.bill_count(), 1);
        ledger
            .execute(
                &amend(vec![bill("B1", 10), bill("B3", 7)]),
                t("2024-05-08T00:00:00Z"),
            )
            .unwrap();
        // B3 is new: its own figures, nothing inherited from B2.
        assert_eq!(ledger.bill_count(), 2);
        let b3 = ledger.bill(&no("B3")).unwrap();
        assert_eq!((b3.packages, b3.gross_weight_kg), (7, Decimal::from(70)));
        assert_eq!(b3.declared_packages, 0);
        assert!(ledger
            .match_declaration(
                &no("B3"),
                Direction::Import,
                7,
                Decimal::from(70),
                &MatchPolicy::default()
            )
            .is_ok());
        assert_eq!(ledger.bill(&no("B1")).unwrap().packages, 10);
    }
}
