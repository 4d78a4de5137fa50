//! The anti-smuggling case register 缉私案件 (docs/PARTIES.md): a case opened from a risk hit,
//! an inspection finding, intelligence or a referral, by an office; the declarations,
//! enterprises and persons linked to it; seizures of goods (quantity, place, custody); penalty
//! decisions with their amounts and payment; hearings; closure. A penalty downgrades the
//! party's credit class in the same transaction, with a history row ([`downgrade`],
//! [`CreditChange`]), so that the next filing's lane reflects it.
//!
//! Every step is decided by [`decide`] on the case as it stands inside the writer's
//! transaction; the backends store the case as one JSON document with narrow columns (number,
//! office, status) and write the audit record with it.

use chrono::{DateTime, NaiveDate, Utc};
use clearance::{Actor, CreditClass};
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// At most this many cases in one listing.
pub const CASES_MAX: u32 = 1_000;
/// At most this many links, seizures, penalties or hearings on one case.
pub const ENTRIES_MAX: usize = 200;
/// Longest free text, in characters.
pub const TEXT_MAX: usize = 2_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseOrigin {
    /// A risk rule's hit on a declaration (the reference names it).
    RiskHit,
    /// A finding of document review or physical inspection.
    InspectionFinding,
    Intelligence,
    /// Referred by another office or agency.
    Referral,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    Open,
    Closed,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::Closed => "closed",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// By declaration number (18 digits).
    Declaration,
    /// By USCC.
    Enterprise,
    /// A natural person, by an identity reference.
    Person,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseLink {
    pub kind: LinkKind,
    pub reference: String,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seizure {
    pub no: u32,
    pub goods: String,
    pub quantity: Decimal,
    pub unit: String,
    pub place: String,
    /// Who holds the goods (a customs warehouse, the enterprise under seal, ...).
    pub custody: String,
    pub at: DateTime<Utc>,
    pub by: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PenaltyKind {
    /// Smuggling (走私行为): the party becomes discredited.
    Smuggling,
    /// A breach of customs supervision (违反海关监管规定): a certified party loses its
    /// certification.
    Violation,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PenaltyPayment {
    pub bank: String,
    pub reference: String,
    pub amount_fen: Fen,
    pub paid_at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Penalty {
    pub no: u32,
    pub party: Uscc,
    pub kind: PenaltyKind,
    pub amount_fen: Fen,
    pub basis: String,
    pub decided_at: DateTime<Utc>,
    pub decided_by: String,
    pub payment: Option<PenaltyPayment>,
    /// The credit change it triggered.
    pub credit: Option<CreditChange>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hearing {
    pub no: u32,
    pub held_on: NaiveDate,
    pub notes: String,
    pub at: DateTime<Utc>,
}

/// One change of an enterprise's credit class and what triggered it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditChange {
    pub uscc: Uscc,
    pub from: CreditClass,
    pub to: CreditClass,
    /// `penalty:<case no>/<penalty no>`.
    pub trigger: String,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCase {
    pub id: i64,
    pub case_no: String,
    pub office: OfficeCode,
    pub origin: CaseOrigin,
    /// What it was opened from: a declaration number, a rule id, a report's reference.
    pub origin_ref: String,
    pub summary: String,
    pub status: CaseStatus,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub closed_at: Option<DateTime<Utc>>,
    pub conclusion: Option<String>,
    pub links: Vec<CaseLink>,
    pub seizures: Vec<Seizure>,
    pub penalties: Vec<Penalty>,
    pub hearings: Vec<Hearing>,
    /// Steps recorded; the next write is decided on it.
    pub version: u64,
}

/// One step on the register.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum CaseStep {
    Open {
        office: OfficeCode,
        origin: CaseOrigin,
        origin_ref: String,
        summary: String,
    },
    Link {
        kind: LinkKind,
        reference: String,
        note: String,
    },
    Seize {
        goods: String,
        quantity: Decimal,
        unit: String,
        place: String,
        custody: String,
    },
    Penalize {
        party: Uscc,
        kind: PenaltyKind,
        amount_fen: Fen,
        basis: String,
    },
    RecordPayment {
        penalty: u32,
        bank: String,
        reference: String,
        amount_fen: Fen,
    },
    Hearing {
        held_on: NaiveDate,
        notes: String,
    },
    Close {
        conclusion: String,
    },
}

impl CaseStep {
    pub fn name(&self) -> &'static str {
        match self {
            CaseStep::Open { .. } => "open",
            CaseStep::Link { .. } => "link",
            CaseStep::Seize { .. } => "seize",
            CaseStep::Penalize { .. } => "penalize",
            CaseStep::RecordPayment { .. } => "record_payment",
            CaseStep::Hearing { .. } => "hearing",
            CaseStep::Close { .. } => "close",
        }
    }
}

/// A step on a case (`case: None` only to open one), by an anti-smuggling officer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaseWrite {
    pub case: Option<i64>,
    /// The case's version the step was decided on (`None` to open).
    pub expected_version: Option<u64>,
    pub step: CaseStep,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// Which cases to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// Cases of these offices (an officer's scope); `None`: every office.
    pub offices: Option<Vec<OfficeCode>>,
    pub status: Option<CaseStatus>,
}

/// Why a case step was refused, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CaseRefusal {
    pub code: &'static str,
    pub field: String,
    pub message_zh: String,
    pub message_en: String,
}

fn refuse(code: &'static str, field: &str, zh: String, en: String) -> CaseRefusal {
    CaseRefusal {
        code,
        field: field.into(),
        message_zh: zh,
        message_en: en,
    }
}

fn text(field: &str, s: &str, required: bool) -> Result<(), CaseRefusal> {
    if required && s.trim().is_empty() {
        return Err(refuse(
            "missing",
            field,
            format!("{field} 不能为空"),
            format!("{field} is required"),
        ));
    }
    if s.chars().count() > TEXT_MAX || s.chars().any(|c| c.is_control() && c != '\n') {
        return Err(refuse(
            "too_long",
            field,
            format!("{field} 至多 {TEXT_MAX} 个可见字符"),
            format!("{field} has at most {TEXT_MAX} visible characters"),
        ));
    }
    Ok(())
}

/// The checks of a step that need no stored state (before it is queued).
pub fn check_write(w: &CaseWrite) -> Result<(), StoreError> {
    check_step(&w.step).map_err(StoreError::Case)
}

fn check_step(step: &CaseStep) -> Result<(), CaseRefusal> {
    match step {
        CaseStep::Open {
            origin_ref,
            summary,
            ..
        } => {
            text("origin_ref", origin_ref, true)?;
            text("summary", summary, true)
        }
        CaseStep::Link {
            kind,
            reference,
            note,
        } => {
            text("reference", reference, true)?;
            text("note", note, false)?;
            let ok = match kind {
                LinkKind::Declaration => domain::codes::DeclarationNo::parse(reference).is_ok(),
                LinkKind::Enterprise => Uscc::parse(reference).is_ok(),
                LinkKind::Person => reference.chars().count() <= 64,
            };
            if ok {
                Ok(())
            } else {
                Err(refuse(
                    "invalid",
                    "reference",
                    format!("“{reference}”不是有效的报关单号、统一社会信用代码或身份标识"),
                    format!(
                        "\"{reference}\" is not a valid declaration number, USCC or identity reference for its kind"
                    ),
                ))
            }
        }
        CaseStep::Seize {
            goods,
            quantity,
            unit,
            place,
            custody,
        } => {
            text("goods", goods, true)?;
            text("unit", unit, true)?;
            text("place", place, true)?;
            text("custody", custody, true)?;
            if *quantity <= Decimal::ZERO {
                return Err(refuse(
                    "out_of_range",
                    "quantity",
                    "扣押数量须大于 0".into(),
                    "the quantity seized is above zero".into(),
                ));
            }
            Ok(())
        }
        CaseStep::Penalize {
            amount_fen, basis, ..
        } => {
            text("basis", basis, true)?;
            if amount_fen.0 <= 0 {
                return Err(refuse(
                    "out_of_range",
                    "amount_fen",
                    "罚款金额须大于 0".into(),
                    "the penalty amount is above zero".into(),
                ));
            }
            Ok(())
        }
        CaseStep::RecordPayment {
            bank,
            reference,
            amount_fen,
            ..
        } => {
            text("bank", bank, true)?;
            text("reference", reference, true)?;
            if amount_fen.0 <= 0 {
                return Err(refuse(
                    "out_of_range",
                    "amount_fen",
                    "缴款金额须大于 0".into(),
                    "the amount paid is above zero".into(),
                ));
            }
            Ok(())
        }
        CaseStep::Hearing { notes, .. } => text("notes", notes, true),
        CaseStep::Close { conclusion } => text("conclusion", conclusion, true),
    }
}

/// The case number an office's `serial`-th case of a year takes: `<office>JS<year><serial>`.
pub fn case_no(office: OfficeCode, year: i32, serial: u32) -> String {
    format!("{office}JS{year}{serial:06}")
}

/// The class a penalty leaves an enterprise in: smuggling makes it discredited; a breach of
/// supervision takes a certified enterprise down to the general class (and leaves a general or
/// discredited one where it is).
pub fn downgrade(current: CreditClass, kind: PenaltyKind) -> CreditClass {
    match kind {
        PenaltyKind::Smuggling => CreditClass::Discredited,
        PenaltyKind::Violation => match current {
            CreditClass::AdvancedCertified | CreditClass::GeneralCertified => CreditClass::General,
            other => other,
        },
    }
}

/// The case after one step. `case` is `None` only for [`CaseStep::Open`], with the number and
/// id the backend gives. A penalty's credit change is filled by the backend (it reads the
/// current class).
pub fn decide(
    case: Option<&StoredCase>,
    opened: Option<(i64, String)>,
    w: &CaseWrite,
) -> Result<StoredCase, CaseRefusal> {
    check_step(&w.step)?;
    let by = w.actor.label();
    let closed = |c: &StoredCase| {
        refuse(
            "case_closed",
            "case",
            format!("案件 {} 已结案", c.case_no),
            format!("case {} is closed", c.case_no),
        )
    };
    let full = |field: &str| {
        refuse(
            "too_many",
            field,
            format!("每案至多 {ENTRIES_MAX} 条"),
            format!("at most {ENTRIES_MAX} entries per case"),
        )
    };
    match (&w.step, case) {
        (
            CaseStep::Open {
                office,
                origin,
                origin_ref,
                summary,
            },
            None,
        ) => {
            let (id, case_no) = opened.ok_or_else(|| {
                refuse(
                    "invalid",
                    "case",
                    "立案需要案件编号".into(),
                    "opening a case needs its number".into(),
                )
            })?;
            Ok(StoredCase {
                id,
                case_no,
                office: *office,
                origin: *origin,
                origin_ref: origin_ref.clone(),
                summary: summary.clone(),
                status: CaseStatus::Open,
                opened_at: w.now,
                opened_by: by,
                closed_at: None,
                conclusion: None,
                links: Vec::new(),
                seizures: Vec::new(),
                penalties: Vec::new(),
                hearings: Vec::new(),
                version: 1,
            })
        }
        (_, None) => Err(refuse(
            "not_found",
            "case",
            "案件不存在".into(),
            "no such case".into(),
        )),
        (step, Some(c)) => {
            if let Some(v) = w.expected_version {
                if v != c.version {
                    return Err(refuse(
                        "version_conflict",
                        "case",
                        format!("案件已被他人更新（版本 {v} → {}），请刷新后重试", c.version),
                        format!(
                            "the case changed meanwhile (version {v} → {}); reload and try again",
                            c.version
                        ),
                    ));
                }
            }
            if c.status == CaseStatus::Closed {
                return Err(closed(c));
            }
            let mut c = c.clone();
            match step {
                CaseStep::Open { .. } => {
                    return Err(refuse(
                        "case_exists",
                        "case",
                        format!("案件 {} 已立案", c.case_no),
                        format!("case {} is already open", c.case_no),
                    ))
                }
                CaseStep::Link {
                    kind,
                    reference,
                    note,
                } => {
                    if c.links.len() >= ENTRIES_MAX {
                        return Err(full("links"));
                    }
                    if c.links
                        .iter()
                        .any(|l| l.kind == *kind && l.reference == *reference)
                    {
                        return Err(refuse(
                            "duplicate",
                            "reference",
                            format!("{reference} 已关联本案"),
                            format!("{reference} is linked to this case already"),
                        ));
                    }
                    c.links.push(CaseLink {
                        kind: *kind,
                        reference: reference.clone(),
                        note: note.clone(),
                        at: w.now,
                    });
                }
                CaseStep::Seize {
                    goods,
                    quantity,
                    unit,
                    place,
                    custody,
                } => {
                    if c.seizures.len() >= ENTRIES_MAX {
                        return Err(full("seizures"));
                    }
                    c.seizures.push(Seizure {
                        no: c.seizures.len() as u32 + 1,
                        goods: goods.clone(),
                        quantity: *quantity,
                        unit: unit.clone(),
                        place: place.clone(),
                        custody: custody.clone(),
                        at: w.now,
                        by,
                    });
                }
                CaseStep::Penalize {
                    party,
                    kind,
                    amount_fen,
                    basis,
                } => {
                    if c.penalties.len() >= ENTRIES_MAX {
                        return Err(full("penalties"));
                    }
                    if !c
                        .links
                        .iter()
                        .any(|l| l.kind == LinkKind::Enterprise && l.reference == party.to_string())
                    {
                        return Err(refuse(
                            "party_not_linked",
                            "party",
                            format!("企业 {party} 未关联本案，不能对其作出处罚"),
                            format!("enterprise {party} is not linked to this case: link it before penalizing it"),
                        ));
                    }
                    c.penalties.push(Penalty {
                        no: c.penalties.len() as u32 + 1,
                        party: *party,
                        kind: *kind,
                        amount_fen: *amount_fen,
                        basis: basis.clone(),
                        decided_at: w.now,
                        decided_by: by,
                        payment: None,
                        credit: None,
                    });
                }
                CaseStep::RecordPayment {
                    penalty,
                    bank,
                    reference,
                    amount_fen,
                } => {
                    let case_no = c.case_no.clone();
                    let Some(p) = c.penalties.iter_mut().find(|p| p.no == *penalty) else {
                        return Err(refuse(
                            "not_found",
                            "penalty",
                            format!("案件 {case_no} 没有第 {penalty} 号处罚决定"),
                            format!("case {case_no} has no penalty decision {penalty}"),
                        ));
                    };
                    if p.payment.is_some() {
                        return Err(refuse(
                            "already_paid",
                            "penalty",
                            format!("第 {penalty} 号处罚决定的罚款已缴纳"),
                            format!("penalty {penalty} is paid already"),
                        ));
                    }
                    if *amount_fen != p.amount_fen {
                        return Err(refuse(
                            "wrong_amount",
                            "amount_fen",
                            format!("缴款金额 {amount_fen} 元与罚款金额 {} 元不符", p.amount_fen),
                            format!(
                                "the amount paid, {amount_fen} yuan, is not the penalty's {} yuan",
                                p.amount_fen
                            ),
                        ));
                    }
                    p.payment = Some(PenaltyPayment {
                        bank: bank.clone(),
                        reference: reference.clone(),
                        amount_fen: *amount_fen,
                        paid_at: w.now,
                    });
                }
                CaseStep::Hearing { held_on, notes } => {
                    if c.hearings.len() >= ENTRIES_MAX {
                        return Err(full("hearings"));
                    }
                    c.hearings.push(Hearing {
                        no: c.hearings.len() as u32 + 1,
                        held_on: *held_on,
                        notes: notes.clone(),
                        at: w.now,
                    });
                }
                CaseStep::Close { conclusion } => {
                    c.status = CaseStatus::Closed;
                    c.closed_at = Some(w.now);
                    c.conclusion = Some(conclusion.clone());
                }
            }
            c.version += 1;
            Ok(c)
        }
    }
}

/// The case numbers the officers' suspensions among `events` stand on (docs/PARTIES.md
/// "Suspension needs an open case"). A risk hold at filing (`system:risk`) records its own case
/// text and is not one of them.
pub fn suspension_cases(events: &[clearance::Event]) -> Vec<&str> {
    events
        .iter()
        .filter_map(|e| match (&e.kind, &e.actor) {
            (_, Actor::System { .. }) => None,
            (clearance::EventKind::Suspended { case_no, .. }, _) => Some(case_no.trim()),
            _ => None,
        })
        .collect()
}

/// Whether a suspension may stand on `case` (the case numbered `case_no` as it is inside the
/// suspension's transaction): it exists and is open. The office scope is the service's check
/// (a case's office never changes).
pub fn check_suspension(case_no: &str, case: Option<&StoredCase>) -> Result<(), CaseRefusal> {
    match case {
        None => Err(refuse(
            "no_such_case",
            "case_no",
            format!("缉私案件“{case_no}”不存在：中止报关单须先立案"),
            format!(
                "no anti-smuggling case \"{case_no}\": open a case before suspending a declaration"
            ),
        )),
        Some(c) if c.status != CaseStatus::Open => Err(refuse(
            "case_closed",
            "case_no",
            format!("缉私案件 {} 已结案", c.case_no),
            format!("anti-smuggling case {} is closed", c.case_no),
        )),
        Some(_) => Ok(()),
    }
}

/// The penalty a step just added, if the step is a penalty (the backend then downgrades its
/// party's credit and fills [`Penalty::credit`]).
pub fn new_penalty<'a>(c: &'a mut StoredCase, step: &CaseStep) -> Option<&'a mut Penalty> {
    match step {
        CaseStep::Penalize { .. } => c.penalties.last_mut(),
        _ => None,
    }
}

/// The audit detail of a step.
pub fn detail(c: &StoredCase, step: &CaseStep) -> String {
    serde_json::json!({
        "case_no": c.case_no,
        "office": c.office.to_string(),
        "version": c.version,
        "step": step,
    })
    .to_string()
}
