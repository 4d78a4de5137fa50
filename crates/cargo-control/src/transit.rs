//! Transit under customs control 转关运输 (docs/DOMAIN.md §6) as a pure state machine:
//! [`decide`]`(state, command, now) → events | Refusal` and [`apply`]`(state, event)`.
//!
//! ```text
//! New ─declare→ Declared ─confirm_departure (office of entry)→ Departed
//!                  └cancel→ Cancelled
//! Departed ─confirm_arrival (office of destination)→ Arrived          (seals intact; late → overdue alert)
//!                                                  → SealBroken       (broken-seal alert)
//! SealBroken ─resolve_seal_alert (officer, after examination)→ Arrived
//! Arrived ─clear (the inland declaration)→ Cleared
//! ```
//!
//! The deadline is the departure plus the time limit. [`alerts`] lists, as of a time, transits
//! overdue (still travelling past the deadline, or arrived late) and arrivals with broken seals.

use chrono::{DateTime, Duration, Utc};
use domain::codes::{DeclarationNo, Direction, OfficeCode, Uscc};
use domain::money::Fen;
use serde::{Deserialize, Serialize};

use crate::codes::{BillNo, SealNo, TransitNo};
use crate::model::{
    office_covers, Actor, MeansOfTransport, BILLS_MAX, ROUTE_MAX, SEALS_MAX, TEXT_MAX,
};
use crate::refusal::{at_most, text, Refusal};

/// The longest time limit accepted: 30 days.
pub const TIME_LIMIT_HOURS_MAX: i64 = 30 * 24;

/// A guarantee covering the duties and taxes of the goods in transit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guarantee {
    pub guarantee_no: String,
    /// Reserved on the guarantee ledger when the transit is declared; at least
    /// [`estimated_duties`] of the goods' value.
    pub amount_fen: Fen,
    /// The customs value of the goods carried (CIF, in yuan fen), which the estimate is taken
    /// on; required with a guarantee.
    #[serde(default)]
    pub goods_value_fen: Option<Fen>,
}

/// The estimate of the duties and taxes on goods in transit, per mille of their value: a
/// general duty of 10 % and VAT of 13 % on the value plus duty, 0.10 + 1.10 × 0.13 = 0.243
/// (docs/CARGO.md "Transit"). The goods are not yet classified when they move under transit,
/// so the tax engine has no tariff line to work on.
pub const ESTIMATE_PER_MILLE: i64 = 243;

/// The estimated duties and taxes on goods worth `value`, rounded up to the fen.
pub fn estimated_duties(value: Fen) -> Fen {
    let v = i128::from(value.0) * i128::from(ESTIMATE_PER_MILLE);
    Fen(i64::try_from((v + 999) / 1000).unwrap_or(i64::MAX))
}

/// What the clearing step needs to know of the normal declaration filed at the office of
/// destination (the service reads it from the stored declaration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClearingDeclaration {
    pub declaration_no: DeclarationNo,
    pub direction: Direction,
    /// The office the declaration was filed at (申报地海关).
    pub declaration_office: OfficeCode,
    /// The bill it names; `None` when it names none.
    pub bill_no: Option<BillNo>,
}

/// The transit declaration 转关申报单.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitDeclaration {
    pub transit_no: TransitNo,
    pub declarant: Uscc,
    pub entry_office: OfficeCode,
    pub destination_office: OfficeCode,
    pub vehicle: MeansOfTransport,
    pub seals: Vec<SealNo>,
    /// Waypoints from the office of entry to the office of destination.
    pub route: Vec<String>,
    pub time_limit_hours: i64,
    pub guarantee: Option<Guarantee>,
    /// The bills of the goods carried (from the entry manifest).
    pub bills: Vec<BillNo>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitStatus {
    #[default]
    New,
    Declared,
    Departed,
    Arrived,
    /// Arrived with a broken, missing or foreign seal: held until an officer resolves it.
    SealBroken,
    Cleared,
    Cancelled,
}

impl TransitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransitStatus::New => "new",
            TransitStatus::Declared => "declared",
            TransitStatus::Departed => "departed",
            TransitStatus::Arrived => "arrived",
            TransitStatus::SealBroken => "seal_broken",
            TransitStatus::Cleared => "cleared",
            TransitStatus::Cancelled => "cancelled",
        }
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            TransitStatus::New => "未申报",
            TransitStatus::Declared => "已申报转关",
            TransitStatus::Departed => "已启运",
            TransitStatus::Arrived => "已抵达",
            TransitStatus::SealBroken => "关锁异常",
            TransitStatus::Cleared => "已结转",
            TransitStatus::Cancelled => "已撤销",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitCommand {
    pub actor: Actor,
    pub action: TransitAction,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum TransitAction {
    Declare {
        declaration: TransitDeclaration,
    },
    /// The office of entry confirms the vehicle left under seal.
    ConfirmDeparture,
    /// The office of destination checks the seals: those found intact, and those found damaged.
    ConfirmArrival {
        seals_intact: Vec<SealNo>,
        #[serde(default)]
        seals_damaged: Vec<SealNo>,
    },
    /// After examining the goods, an officer of the office of destination lifts the hold.
    ResolveSealAlert {
        reason: String,
    },
    /// The goods were cleared by a normal declaration at the office of destination: an import
    /// declaration filed at that office (or one below it) naming a bill the transit carries.
    Clear {
        declaration: ClearingDeclaration,
    },
    Cancel {
        reason: String,
    },
}

impl TransitAction {
    pub fn name(&self) -> &'static str {
        match self {
            TransitAction::Declare { .. } => "declare",
            TransitAction::ConfirmDeparture => "confirm_departure",
            TransitAction::ConfirmArrival { .. } => "confirm_arrival",
            TransitAction::ResolveSealAlert { .. } => "resolve_seal_alert",
            TransitAction::Clear { .. } => "clear",
            TransitAction::Cancel { .. } => "cancel",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitEvent {
    pub at: DateTime<Utc>,
    pub actor: Actor,
    #[serde(flatten)]
    pub kind: TransitEventKind,
}

/// What the seal check found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealCheck {
    /// Declared seals not found intact.
    pub missing: Vec<SealNo>,
    /// Declared seals found damaged.
    pub damaged: Vec<SealNo>,
    /// Seals found that were not declared.
    pub unexpected: Vec<SealNo>,
}

impl SealCheck {
    pub fn is_intact(&self) -> bool {
        self.missing.is_empty() && self.damaged.is_empty() && self.unexpected.is_empty()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransitEventKind {
    Declared {
        declaration: TransitDeclaration,
    },
    DepartureConfirmed {
        deadline: DateTime<Utc>,
    },
    ArrivalConfirmed {
        /// Minutes after the deadline; 0 when on time.
        late_minutes: i64,
        seals: SealCheck,
    },
    SealAlertResolved {
        reason: String,
    },
    Cleared {
        declaration_no: DeclarationNo,
    },
    Cancelled {
        reason: String,
    },
}

/// Everything [`decide`] needs about one transit, built only by [`apply`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransitState {
    pub status: TransitStatus,
    pub declaration: Option<TransitDeclaration>,
    pub departed_at: Option<DateTime<Utc>>,
    pub deadline: Option<DateTime<Utc>>,
    pub arrived_at: Option<DateTime<Utc>>,
    pub late_minutes: i64,
    pub seals: Option<SealCheck>,
    pub seal_alert_resolution: Option<String>,
    pub cleared_by: Option<DeclarationNo>,
}

impl TransitState {
    fn decl(&self) -> &TransitDeclaration {
        self.declaration
            .as_ref()
            .expect("every status after New has a declaration")
    }
}

/// Decide what a command does to a transit in `state` at `now`. No `_` arm: a new status must
/// say what every action does there.
pub fn decide(
    state: &TransitState,
    cmd: &TransitCommand,
    now: DateTime<Utc>,
) -> Result<Vec<TransitEvent>, Refusal> {
    use TransitAction as A;
    use TransitStatus as S;
    let status = state.status;
    let action = cmd.action.name();
    let actor = &cmd.actor;
    let not_allowed = || {
        Err(Refusal::NotAllowedInStatus {
            status: status.as_str(),
            status_zh: status.name_zh(),
            action,
        })
    };

    let kind = match (status, &cmd.action) {
        (S::New, A::Declare { declaration }) => {
            match actor {
                Actor::Carrier { uscc } if *uscc == declaration.declarant => {}
                Actor::Carrier { .. } => return Err(Refusal::NotOwnManifest { action }),
                other => return Err(forbidden(other, action)),
            }
            check_declaration(declaration)?;
            TransitEventKind::Declared {
                declaration: declaration.clone(),
            }
        }
        (
            S::Declared | S::Departed | S::Arrived | S::SealBroken | S::Cleared | S::Cancelled,
            A::Declare { .. },
        ) => return not_allowed(),

        (S::Declared, A::ConfirmDeparture) => {
            officer_of(actor, state.decl().entry_office, action)?;
            TransitEventKind::DepartureConfirmed {
                deadline: now + Duration::hours(state.decl().time_limit_hours),
            }
        }
        (
            S::New | S::Departed | S::Arrived | S::SealBroken | S::Cleared | S::Cancelled,
            A::ConfirmDeparture,
        ) => return not_allowed(),

        (
            S::Departed,
            A::ConfirmArrival {
                seals_intact,
                seals_damaged,
            },
        ) => {
            officer_of(actor, state.decl().destination_office, action)?;
            at_most("seals_intact", seals_intact, SEALS_MAX)?;
            at_most("seals_damaged", seals_damaged, SEALS_MAX)?;
            let declared = &state.decl().seals;
            let seals = SealCheck {
                missing: declared
                    .iter()
                    .filter(|s| !seals_intact.contains(s) && !seals_damaged.contains(s))
                    .copied()
                    .collect(),
                damaged: seals_damaged.clone(),
                unexpected: seals_intact
                    .iter()
                    .chain(seals_damaged)
                    .filter(|s| !declared.contains(s))
                    .copied()
                    .collect(),
            };
            let deadline = state.deadline.expect("departed transits have a deadline");
            let late_minutes = (now - deadline).num_minutes().max(0);
            TransitEventKind::ArrivalConfirmed {
                late_minutes,
                seals,
            }
        }
        (
            S::New | S::Declared | S::Arrived | S::SealBroken | S::Cleared | S::Cancelled,
            A::ConfirmArrival { .. },
        ) => return not_allowed(),

        (S::SealBroken, A::ResolveSealAlert { reason }) => {
            officer_of(actor, state.decl().destination_office, action)?;
            text("reason", reason, TEXT_MAX)?;
            TransitEventKind::SealAlertResolved {
                reason: reason.clone(),
            }
        }
        (
            S::New | S::Declared | S::Departed | S::Arrived | S::Cleared | S::Cancelled,
            A::ResolveSealAlert { .. },
        ) => return not_allowed(),

        (S::Arrived, A::Clear { declaration }) => {
            officer_of(actor, state.decl().destination_office, action)?;
            check_clearing(state.decl(), declaration)?;
            TransitEventKind::Cleared {
                declaration_no: declaration.declaration_no,
            }
        }
        (
            S::New | S::Declared | S::Departed | S::SealBroken | S::Cleared | S::Cancelled,
            A::Clear { .. },
        ) => return not_allowed(),

        (S::Declared, A::Cancel { reason }) => {
            match actor {
                Actor::Carrier { uscc } if *uscc == state.decl().declarant => {}
                Actor::Carrier { .. } => return Err(Refusal::NotOwnManifest { action }),
                Actor::Officer { .. } | Actor::System { .. } => {
                    officer_of(actor, state.decl().entry_office, action)?
                }
                other => return Err(forbidden(other, action)),
            }
            text("reason", reason, TEXT_MAX)?;
            TransitEventKind::Cancelled {
                reason: reason.clone(),
            }
        }
        (
            S::New | S::Departed | S::Arrived | S::SealBroken | S::Cleared | S::Cancelled,
            A::Cancel { .. },
        ) => return not_allowed(),
    };
    Ok(vec![TransitEvent {
        at: now,
        actor: actor.clone(),
        kind,
    }])
}

/// Fold an event into the state.
pub fn apply(state: &mut TransitState, event: &TransitEvent) {
    match &event.kind {
        TransitEventKind::Declared { declaration } => {
            state.status = TransitStatus::Declared;
            state.declaration = Some(declaration.clone());
        }
        TransitEventKind::DepartureConfirmed { deadline } => {
            state.status = TransitStatus::Departed;
            state.departed_at = Some(event.at);
            state.deadline = Some(*deadline);
        }
        TransitEventKind::ArrivalConfirmed {
            late_minutes,
            seals,
        } => {
            state.status = if seals.is_intact() {
                TransitStatus::Arrived
            } else {
                TransitStatus::SealBroken
            };
            state.arrived_at = Some(event.at);
            state.late_minutes = *late_minutes;
            state.seals = Some(seals.clone());
        }
        TransitEventKind::SealAlertResolved { reason } => {
            state.status = TransitStatus::Arrived;
            state.seal_alert_resolution = Some(reason.clone());
        }
        TransitEventKind::Cleared { declaration_no } => {
            state.status = TransitStatus::Cleared;
            state.cleared_by = Some(*declaration_no);
        }
        TransitEventKind::Cancelled { .. } => state.status = TransitStatus::Cancelled,
    }
}

/// May an import declaration filed at `declaration_office` name `bill_no`, carried by this
/// transit? Not while the goods are declared for transit, on the road or held for a broken seal;
/// once arrived, only at the office of destination (or an office below it). A cancelled or
/// cleared transit no longer binds the bill.
pub fn check_inland_declaration(
    state: &TransitState,
    bill_no: BillNo,
    declaration_office: OfficeCode,
) -> Result<(), Refusal> {
    let Some(decl) = state.declaration.as_ref() else {
        return Ok(());
    };
    match state.status {
        TransitStatus::New | TransitStatus::Cleared | TransitStatus::Cancelled => Ok(()),
        TransitStatus::Declared | TransitStatus::Departed | TransitStatus::SealBroken => {
            Err(Refusal::BillInTransit {
                bill_no,
                transit_no: decl.transit_no,
                status: state.status.as_str(),
                status_zh: state.status.name_zh(),
            })
        }
        TransitStatus::Arrived => {
            if office_covers(decl.destination_office, declaration_office) {
                Ok(())
            } else {
                Err(Refusal::DeclarationAtOtherOffice {
                    declaration_office,
                    destination_office: decl.destination_office,
                })
            }
        }
    }
}

/// Fold a whole history.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a TransitEvent>) -> TransitState {
    let mut state = TransitState::default();
    for e in events {
        apply(&mut state, e);
    }
    state
}

/// An alert for officers of the office of destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransitAlert {
    pub transit_no: TransitNo,
    pub destination_office: OfficeCode,
    #[serde(flatten)]
    pub kind: TransitAlertKind,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
pub enum TransitAlertKind {
    /// Past the deadline: still on the road (`arrived: false`), or arrived late.
    Overdue {
        deadline: DateTime<Utc>,
        overdue_minutes: i64,
        arrived: bool,
    },
    /// Arrived with seals missing, damaged or not the declared ones.
    BrokenSeal { seals: SealCheck, resolved: bool },
}

/// The alerts of these transits as of `as_of`: overdue ones still travelling, late arrivals and
/// broken seals (resolved ones are listed with `resolved: true` until cleared; cleared and
/// cancelled transits raise nothing).
pub fn alerts<'a>(
    transits: impl IntoIterator<Item = &'a TransitState>,
    as_of: DateTime<Utc>,
) -> Vec<TransitAlert> {
    let mut out = Vec::new();
    for t in transits {
        let Some(decl) = &t.declaration else { continue };
        let alert = |kind| TransitAlert {
            transit_no: decl.transit_no,
            destination_office: decl.destination_office,
            kind,
        };
        match t.status {
            TransitStatus::Departed => {
                let deadline = t.deadline.expect("departed transits have a deadline");
                if as_of > deadline {
                    out.push(alert(TransitAlertKind::Overdue {
                        deadline,
                        overdue_minutes: (as_of - deadline).num_minutes(),
                        arrived: false,
                    }));
                }
            }
            TransitStatus::Arrived | TransitStatus::SealBroken => {
                if t.late_minutes > 0 {
                    out.push(alert(TransitAlertKind::Overdue {
                        deadline: t.deadline.expect("arrived transits departed"),
                        overdue_minutes: t.late_minutes,
                        arrived: true,
                    }));
                }
                if let Some(seals) = t.seals.as_ref().filter(|s| !s.is_intact()) {
                    out.push(alert(TransitAlertKind::BrokenSeal {
                        seals: seals.clone(),
                        resolved: t.status == TransitStatus::Arrived,
                    }));
                }
            }
            TransitStatus::New
            | TransitStatus::Declared
            | TransitStatus::Cleared
            | TransitStatus::Cancelled => {}
        }
    }
    out
}

fn forbidden(actor: &Actor, action: &'static str) -> Refusal {
    Refusal::ActorNotPermitted {
        actor: actor.kind(),
        action,
    }
}

/// Officers of `office` (or above) and the system may take the step.
fn officer_of(actor: &Actor, office: OfficeCode, action: &'static str) -> Result<(), Refusal> {
    match actor {
        Actor::Officer { office: own, .. } => {
            if office_covers(*own, office) {
                Ok(())
            } else {
                Err(Refusal::WrongOffice {
                    actor_office: *own,
                    target_office: office,
                })
            }
        }
        Actor::System { .. } => Ok(()),
        Actor::Carrier { .. }
        | Actor::Terminal { .. }
        | Actor::TallyAgency { .. }
        | Actor::PostalOperator { .. }
        | Actor::Passenger { .. } => Err(forbidden(actor, action)),
    }
}

/// The declaration clearing a transit names one of its bills, is an import and was filed at
/// the office of destination (or an office below it).
fn check_clearing(t: &TransitDeclaration, c: &ClearingDeclaration) -> Result<(), Refusal> {
    let bill_no = c.bill_no.ok_or(Refusal::Missing { field: "bill_no" })?;
    if !t.bills.contains(&bill_no) {
        return Err(Refusal::BillNotInTransit {
            bill_no,
            transit_no: t.transit_no,
        });
    }
    if c.direction != Direction::Import {
        return Err(Refusal::DirectionMismatch {
            bill_no,
            manifest: Direction::Import,
            declaration: c.direction,
        });
    }
    if !office_covers(t.destination_office, c.declaration_office) {
        return Err(Refusal::DeclarationAtOtherOffice {
            declaration_office: c.declaration_office,
            destination_office: t.destination_office,
        });
    }
    Ok(())
}

fn check_declaration(d: &TransitDeclaration) -> Result<(), Refusal> {
    if d.entry_office == d.destination_office {
        return Err(Refusal::SameOffice {
            office: d.entry_office,
        });
    }
    if d.seals.is_empty() {
        return Err(Refusal::Missing { field: "seals" });
    }
    at_most("seals", &d.seals, SEALS_MAX)?;
    for (i, s) in d.seals.iter().enumerate() {
        if d.seals[..i].contains(s) {
            return Err(Refusal::DuplicateSeal {
                seal: s.to_string(),
            });
        }
    }
    if d.route.is_empty() {
        return Err(Refusal::Missing { field: "route" });
    }
    at_most("route", &d.route, ROUTE_MAX)?;
    for r in &d.route {
        text("route", r, 128)?;
    }
    if !(1..=TIME_LIMIT_HOURS_MAX).contains(&d.time_limit_hours) {
        return Err(Refusal::TimeLimitOutOfRange {
            max_hours: TIME_LIMIT_HOURS_MAX,
        });
    }
    if let Some(g) = &d.guarantee {
        text("guarantee_no", &g.guarantee_no, 32)?;
        if g.amount_fen.0 <= 0 {
            return Err(Refusal::Missing {
                field: "guarantee amount",
            });
        }
        let value = match g.goods_value_fen {
            Some(v) if v.0 > 0 => v,
            _ => {
                return Err(Refusal::Missing {
                    field: "guarantee goods_value_fen",
                })
            }
        };
        let estimate = estimated_duties(value);
        if g.amount_fen < estimate {
            return Err(Refusal::GuaranteeShort {
                amount_fen: g.amount_fen,
                estimate_fen: estimate,
                goods_value_fen: value,
            });
        }
    }
    if d.bills.is_empty() {
        return Err(Refusal::Missing { field: "bills" });
    }
    at_most("bills", &d.bills, BILLS_MAX)?;
    let mut seen = std::collections::HashSet::with_capacity(d.bills.len());
    for b in &d.bills {
        if !seen.insert(*b) {
            return Err(Refusal::DuplicateBill { bill_no: *b });
        }
    }
    Ok(())
}
