//! AEO certification and credit management 企业信用管理 (docs/PARTIES.md "AEO certification"):
//! an enterprise applies for advanced 高级认证 or general certification; officers of its office
//! audit it against the certification standards (a checklist, [`standards`], from
//! `data/aeo/standards.json`), item by item with a result and findings; the decision (advanced,
//! general, refused) must follow from the audit ([`outcome`]); a certificate is valid for
//! [`VALIDITY_YEARS`] and re-assessed on the same record (another audit and decision).
//!
//! The credit class every facility reads (the risk engine's sampling, release against a
//! guarantee) changes only through this module's write path and the other triggers it names
//! ([`CreditTrigger`]): a decision, an officer's recorded decision with a reason, a penalty
//! (`crate::cases`), a case opened against the enterprise, an overdue payment notice. Each
//! change is a history row ([`crate::cases::CreditChange`]) written in the same transaction as
//! the class, and a certificate whose holder falls below the certified classes is withdrawn
//! there too ([`withdraw`]).
//!
//! Every step is decided by [`decide`] on the certificate as it stands inside the writer's
//! transaction; the backends store it as one JSON document with narrow columns (USCC, office,
//! status) and write the audit record with it.

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use clearance::{Actor, CreditClass};
use domain::codes::{CountryCode, OfficeCode, Uscc};
use serde::{Deserialize, Serialize};

use crate::cases::CaseRefusal;
use crate::StoreError;

/// A certification refusal has the shape of a case refusal: a stable code, the field and both
/// languages.
pub type AeoRefusal = CaseRefusal;

/// At most this many certificates in one listing.
pub const CERTIFICATES_MAX: u32 = 1_000;
/// Longest finding or reason, in characters.
pub const TEXT_MAX: usize = 2_000;
/// At most this many audit rounds (the first audit and re-assessments) kept on one record.
pub const ROUNDS_MAX: usize = 50;
/// A certificate's validity, after which it is re-assessed (docs/PARTIES.md: DOMAIN.md is
/// silent; the 2021 Measures on enterprise credit management re-assess advanced certified
/// enterprises every five years).
pub const VALIDITY_YEARS: i32 = 5;

/// What an enterprise applies for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 高级认证企业 (AEO).
    Advanced,
    /// 一般认证企业.
    General,
}

impl Level {
    pub fn class(self) -> CreditClass {
        match self {
            Level::Advanced => CreditClass::AdvancedCertified,
            Level::General => CreditClass::GeneralCertified,
        }
    }
}

/// The result of one standard in an audit (赋分: 达标 0, 基本达标 −1, 不达标 −2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    Meets,
    BasicallyMeets,
    Fails,
}

impl ItemResult {
    /// The points the result takes from 100.
    pub fn deduction(self) -> u32 {
        match self {
            ItemResult::Meets => 0,
            ItemResult::BasicallyMeets => 1,
            ItemResult::Fails => 2,
        }
    }
}

/// What an audit concludes, and what the officer's decision must name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    AdvancedCertified,
    GeneralCertified,
    Refused,
}

impl Outcome {
    pub fn class(self) -> Option<CreditClass> {
        match self {
            Outcome::AdvancedCertified => Some(CreditClass::AdvancedCertified),
            Outcome::GeneralCertified => Some(CreditClass::GeneralCertified),
            Outcome::Refused => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::AdvancedCertified => "advanced_certified",
            Outcome::GeneralCertified => "general_certified",
            Outcome::Refused => "refused",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AeoStatus {
    /// Applied, or re-assessment opened; no standard scored yet.
    Applied,
    /// At least one standard scored in the current round.
    InAudit,
    Certified,
    Refused,
    /// The holder fell below the certified classes (a penalty, a case, an overdue notice, an
    /// officer's recorded decision).
    Withdrawn,
}

impl AeoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AeoStatus::Applied => "applied",
            AeoStatus::InAudit => "in_audit",
            AeoStatus::Certified => "certified",
            AeoStatus::Refused => "refused",
            AeoStatus::Withdrawn => "withdrawn",
        }
    }

    /// An application or re-assessment under way.
    pub fn is_open(self) -> bool {
        matches!(self, AeoStatus::Applied | AeoStatus::InAudit)
    }
}

/// One standard of the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standard {
    pub code: String,
    /// `internal_control`, `financial_status`, `law_abidance`, `trade_security`, `additional`.
    pub heading: String,
    pub title_zh: String,
    pub title_en: String,
    /// A failed mandatory standard refuses certification at any level.
    pub mandatory: bool,
    /// Also audited for general certification (every standard is audited for advanced).
    pub general: bool,
}

#[derive(Clone, Debug, Deserialize)]
struct StandardsFile {
    source: String,
    pass_score: u32,
    standards: Vec<Standard>,
}

/// The certification standards with their source, as shipped.
#[derive(Clone, Debug, Serialize)]
pub struct Standards {
    pub source: String,
    /// The lowest total (from 100) an advanced certification needs.
    pub pass_score: u32,
    pub standards: Vec<Standard>,
}

fn standards_file() -> &'static Standards {
    static S: OnceLock<Standards> = OnceLock::new();
    S.get_or_init(|| {
        let f: StandardsFile =
            serde_json::from_str(include_str!("../../../data/aeo/standards.json"))
                .expect("data/aeo/standards.json is valid (checked by a unit test)");
        Standards {
            source: f.source,
            pass_score: f.pass_score,
            standards: f.standards,
        }
    })
}

/// The certification standards (`data/aeo/standards.json`).
pub fn standards() -> &'static Standards {
    standards_file()
}

/// The standards audited for `level`.
pub fn checklist(level: Level) -> impl Iterator<Item = &'static Standard> {
    standards()
        .standards
        .iter()
        .filter(move |s| level == Level::Advanced || s.general)
}

/// A mutual-recognition partner of China's AEO programme.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MraPartner {
    /// ISO 3166 alpha-3, as declarations name countries.
    pub country: String,
    pub name_zh: String,
    pub name_en: String,
    /// The year the arrangement took effect.
    pub since: i32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MraPartners {
    pub source: String,
    pub partners: Vec<MraPartner>,
}

/// The mutual-recognition partners (`data/aeo/mra_partners.json`).
pub fn mra_partners() -> &'static MraPartners {
    static P: OnceLock<MraPartners> = OnceLock::new();
    P.get_or_init(|| {
        serde_json::from_str(include_str!("../../../data/aeo/mra_partners.json"))
            .expect("data/aeo/mra_partners.json is valid (checked by a unit test)")
    })
}

/// The partner whose AEO programme recognises China's for goods going to `country`.
pub fn mra_partner(country: CountryCode) -> Option<&'static MraPartner> {
    let c = country.to_string();
    mra_partners().partners.iter().find(|p| p.country == c)
}

/// The mutual-recognition line of an export: the partner, when the exporter of class `class`
/// is advanced certified and the country of arrival's customs recognises China's programme.
pub fn mutual_recognition(class: CreditClass, country: CountryCode) -> Option<&'static MraPartner> {
    (class == CreditClass::AdvancedCertified)
        .then(|| mra_partner(country))
        .flatten()
}

/// One standard as audited.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditItem {
    pub standard: String,
    pub result: ItemResult,
    pub finding: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// The decision closing a round.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    pub score: u32,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

/// One audit: the first (an application) or a re-assessment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub no: u32,
    pub level: Level,
    pub reassessment: bool,
    pub opened_at: DateTime<Utc>,
    pub items: Vec<AuditItem>,
    pub decision: Option<Decision>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredCertification {
    pub id: i64,
    pub uscc: Uscc,
    /// The office that audits it (the enterprise's registration office, or the one it named).
    pub office: OfficeCode,
    /// What was applied for.
    pub level: Level,
    pub status: AeoStatus,
    pub applied_at: DateTime<Utc>,
    pub applied_by: String,
    /// The class a certification gave, while certified.
    pub class: Option<CreditClass>,
    /// Certified on (China day) and valid until (inclusive): re-assessed by then.
    pub certified_on: Option<NaiveDate>,
    pub valid_until: Option<NaiveDate>,
    /// Audits, oldest first; the last is the current one.
    pub rounds: Vec<Round>,
    /// Why the certificate was withdrawn (a credit trigger).
    pub withdrawn: Option<String>,
    pub version: u64,
}

impl StoredCertification {
    pub fn current(&self) -> Option<&Round> {
        self.rounds.last()
    }
}

/// One step of the certification workflow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum AeoStep {
    /// The enterprise applies.
    Apply {
        uscc: Uscc,
        office: OfficeCode,
        level: Level,
    },
    /// An officer scores one standard of the current round (again: the new result replaces it).
    Score {
        standard: String,
        result: ItemResult,
        finding: String,
    },
    /// An officer decides the current round: the outcome must be the audit's.
    Decide { outcome: Outcome, reason: String },
    /// An officer opens the periodic re-assessment of a certificate.
    Reassess { reason: String },
}

impl AeoStep {
    pub fn name(&self) -> &'static str {
        match self {
            AeoStep::Apply { .. } => "apply",
            AeoStep::Score { .. } => "score",
            AeoStep::Decide { .. } => "decide",
            AeoStep::Reassess { .. } => "reassess",
        }
    }
}

/// A step on a certificate (`certification: None` only to apply).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AeoWrite {
    pub certification: Option<i64>,
    pub expected_version: Option<u64>,
    pub step: AeoStep,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// Which certificates to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AeoFilter {
    /// Of these offices (an officer's scope); `None`: every office.
    pub offices: Option<Vec<OfficeCode>>,
    pub uscc: Option<Uscc>,
    pub status: Option<AeoStatus>,
}

/// What changed an enterprise's credit class (the history row's `trigger`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CreditTrigger {
    /// A certification decision: `aeo:<id>/<round>`.
    Certification { id: i64, round: u32 },
    /// An officer's decision outside an audit, with its reason: `decision:<reason>`.
    Decision { reason: String },
    /// A penalty decision of a case: `penalty:<case no>/<penalty no>`.
    Penalty { case_no: String, no: u32 },
    /// A case opened against the enterprise (linked to it): `case:<case no>`.
    Case { case_no: String },
    /// A payment notice past its due date unpaid: `overdue:<notice no>`.
    Overdue { notice_no: String },
}

impl CreditTrigger {
    pub fn label(&self) -> String {
        match self {
            CreditTrigger::Certification { id, round } => format!("aeo:{id}/{round}"),
            CreditTrigger::Decision { reason } => format!("decision:{reason}"),
            CreditTrigger::Penalty { case_no, no } => format!("penalty:{case_no}/{no}"),
            CreditTrigger::Case { case_no } => format!("case:{case_no}"),
            CreditTrigger::Overdue { notice_no } => format!("overdue:{notice_no}"),
        }
    }
}

/// An officer's recorded credit decision outside an audit (the former "set credit class"): the
/// class and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreditDecision {
    pub uscc: Uscc,
    pub class: CreditClass,
    pub reason: String,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// An overdue review: every unpaid, not superseded payment notice issued before `issued_before`
/// is past its due date (the service computes the cut-off from the tax policy and calendar).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverdueReview {
    pub issued_before: DateTime<Utc>,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// The class a case opened against an enterprise leaves it in: a certified enterprise loses its
/// certification (海关立案调查: certification measures suspended); others stay.
pub fn after_case(current: CreditClass) -> CreditClass {
    match current {
        CreditClass::AdvancedCertified | CreditClass::GeneralCertified => CreditClass::General,
        other => other,
    }
}

/// The class an overdue payment notice leaves an enterprise in: as a case does (a certified
/// enterprise must pay on time: standard LC-3).
pub fn after_overdue(current: CreditClass) -> CreditClass {
    after_case(current)
}

/// Whether a class is one of the certified ones.
pub fn is_certified(c: CreditClass) -> bool {
    matches!(
        c,
        CreditClass::AdvancedCertified | CreditClass::GeneralCertified
    )
}

fn refuse(code: &'static str, field: &str, zh: String, en: String) -> AeoRefusal {
    CaseRefusal {
        code,
        field: field.into(),
        message_zh: zh,
        message_en: en,
    }
}

fn text(field: &str, s: &str, required: bool) -> Result<(), AeoRefusal> {
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

fn check_step(step: &AeoStep) -> Result<(), AeoRefusal> {
    match step {
        AeoStep::Apply { .. } => Ok(()),
        AeoStep::Score {
            standard,
            result,
            finding,
        } => {
            if !standards().standards.iter().any(|s| s.code == *standard) {
                return Err(refuse(
                    "invalid",
                    "standard",
                    format!("“{standard}”不是认证标准的条目"),
                    format!("\"{standard}\" is not an item of the certification standards"),
                ));
            }
            // A standard not fully met is explained.
            text("finding", finding, *result != ItemResult::Meets)
        }
        AeoStep::Decide { reason, .. } | AeoStep::Reassess { reason } => {
            text("reason", reason, true)
        }
    }
}

/// The checks of a step that need no stored state (before it is queued).
pub fn check_write(w: &AeoWrite) -> Result<(), StoreError> {
    check_step(&w.step).map_err(StoreError::Case)
}

/// The checks of an officer's credit decision that need no stored state.
pub fn check_decision(d: &CreditDecision) -> Result<(), StoreError> {
    text("reason", &d.reason, true).map_err(StoreError::Case)
}

/// The score of a round (100 less each item's deduction).
pub fn score(round: &Round) -> u32 {
    100u32.saturating_sub(round.items.iter().map(|i| i.result.deduction()).sum())
}

/// What a round's audit concludes, or the standards still to score. The rule (docs/PARTIES.md):
/// every standard of the level's checklist is scored; a failed mandatory standard refuses;
/// advanced certification needs no standard failed and a score of at least the pass score;
/// otherwise, if no standard of the general checklist failed, general certification; else
/// refused.
pub fn outcome(round: &Round) -> Result<Outcome, Vec<String>> {
    let missing: Vec<String> = checklist(round.level)
        .filter(|s| !round.items.iter().any(|i| i.standard == s.code))
        .map(|s| s.code.clone())
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let std_of = |code: &str| standards().standards.iter().find(|s| s.code == code);
    let failed = |pred: &dyn Fn(&Standard) -> bool| {
        round
            .items
            .iter()
            .filter(|i| i.result == ItemResult::Fails)
            .any(|i| std_of(&i.standard).is_some_and(pred))
    };
    if failed(&|s| s.mandatory) {
        return Ok(Outcome::Refused);
    }
    if round.level == Level::Advanced
        && !failed(&|_| true)
        && score(round) >= standards().pass_score
    {
        return Ok(Outcome::AdvancedCertified);
    }
    if !failed(&|s| s.general) {
        return Ok(Outcome::GeneralCertified);
    }
    Ok(Outcome::Refused)
}

/// The last day of a certificate decided on `on`.
pub fn valid_until(on: NaiveDate) -> NaiveDate {
    let y = on.year() + VALIDITY_YEARS;
    NaiveDate::from_ymd_opt(y, on.month(), on.day())
        // 29 February: the 28th.
        .or_else(|| NaiveDate::from_ymd_opt(y, on.month(), 28))
        .unwrap_or(on)
}

/// What a decision makes of the holder's class, given the class it has (`current`): a
/// certification gives its class; a refusal at a re-assessment takes a certified holder back to
/// the general class; a first refusal changes nothing.
pub fn class_after(
    c: &StoredCertification,
    outcome: Outcome,
    current: CreditClass,
) -> Option<CreditClass> {
    match outcome.class() {
        Some(class) => Some(class),
        None if c.current().is_some_and(|r| r.reassessment) && is_certified(current) => {
            Some(CreditClass::General)
        }
        None => None,
    }
}

/// The certificate after one step. `current` is `None` only for [`AeoStep::Apply`], with the
/// id the backend gives; `open` is the holder's certificate under audit or in force, if any
/// (an application is refused while one is); `class` is the holder's class now.
pub fn decide(
    current: Option<&StoredCertification>,
    id: i64,
    open: Option<&StoredCertification>,
    class: CreditClass,
    w: &AeoWrite,
) -> Result<StoredCertification, AeoRefusal> {
    check_step(&w.step)?;
    let by = w.actor.label();
    match (&w.step, current) {
        (
            AeoStep::Apply {
                uscc,
                office,
                level,
            },
            None,
        ) => {
            if let Some(o) = open {
                return Err(refuse(
                    "certification_open",
                    "uscc",
                    format!(
                        "企业 {uscc} 已有认证申请或有效证书（{}，状态 {}）",
                        o.id,
                        o.status.as_str()
                    ),
                    format!(
                        "enterprise {uscc} has a certification under way or in force ({}, {})",
                        o.id,
                        o.status.as_str()
                    ),
                ));
            }
            if class == CreditClass::Discredited {
                return Err(refuse(
                    "discredited",
                    "uscc",
                    format!("失信企业 {uscc} 不能申请认证"),
                    format!("enterprise {uscc} is discredited and may not apply for certification"),
                ));
            }
            Ok(StoredCertification {
                id,
                uscc: *uscc,
                office: *office,
                level: *level,
                status: AeoStatus::Applied,
                applied_at: w.now,
                applied_by: by,
                class: None,
                certified_on: None,
                valid_until: None,
                rounds: vec![Round {
                    no: 1,
                    level: *level,
                    reassessment: false,
                    opened_at: w.now,
                    items: Vec::new(),
                    decision: None,
                }],
                withdrawn: None,
                version: 1,
            })
        }
        (_, None) => Err(refuse(
            "not_found",
            "certification",
            "认证记录不存在".into(),
            "no such certification".into(),
        )),
        (step, Some(c)) => {
            if let Some(v) = w.expected_version {
                if v != c.version {
                    return Err(refuse(
                        "version_conflict",
                        "certification",
                        format!("认证记录已被他人更新（版本 {v} → {}），请刷新后重试", c.version),
                        format!(
                            "the certification changed meanwhile (version {v} → {}); reload and try again",
                            c.version
                        ),
                    ));
                }
            }
            let mut c = c.clone();
            let not_open = |c: &StoredCertification| {
                refuse(
                    "not_in_audit",
                    "certification",
                    format!("认证记录 {} 不在审核中（{}）", c.id, c.status.as_str()),
                    format!(
                        "certification {} is not under audit ({})",
                        c.id,
                        c.status.as_str()
                    ),
                )
            };
            match step {
                AeoStep::Apply { .. } => {
                    return Err(refuse(
                        "certification_open",
                        "certification",
                        format!("认证记录 {} 已存在", c.id),
                        format!("certification {} exists already", c.id),
                    ))
                }
                AeoStep::Score {
                    standard,
                    result,
                    finding,
                } => {
                    if !c.status.is_open() {
                        return Err(not_open(&c));
                    }
                    let err = not_open(&c);
                    let round = c.rounds.last_mut().ok_or(err)?;
                    if !checklist(round.level).any(|s| s.code == *standard) {
                        return Err(refuse(
                            "not_in_checklist",
                            "standard",
                            format!("“{standard}”不在本级认证的审核清单中"),
                            format!(
                                "\"{standard}\" is not on the checklist of this level of certification"
                            ),
                        ));
                    }
                    let item = AuditItem {
                        standard: standard.clone(),
                        result: *result,
                        finding: finding.clone(),
                        by,
                        at: w.now,
                    };
                    match round.items.iter_mut().find(|i| i.standard == *standard) {
                        Some(i) => *i = item,
                        None => round.items.push(item),
                    }
                    c.status = AeoStatus::InAudit;
                }
                AeoStep::Decide {
                    outcome: named,
                    reason,
                } => {
                    if !c.status.is_open() {
                        return Err(not_open(&c));
                    }
                    let round = c.rounds.last().ok_or_else(|| not_open(&c))?;
                    let found = outcome(round).map_err(|missing| {
                        refuse(
                            "audit_incomplete",
                            "items",
                            format!("尚未审核的标准：{}", missing.join("、")),
                            format!("standards not yet audited: {}", missing.join(", ")),
                        )
                    })?;
                    if found != *named {
                        return Err(refuse(
                            "decision_not_supported",
                            "outcome",
                            format!(
                                "审核结果为 {}，不能决定为 {}",
                                found.as_str(),
                                named.as_str()
                            ),
                            format!(
                                "the audit concludes {}, not {}",
                                found.as_str(),
                                named.as_str()
                            ),
                        ));
                    }
                    let s = score(round);
                    let err = not_open(&c);
                    let round = c.rounds.last_mut().ok_or(err)?;
                    round.decision = Some(Decision {
                        outcome: found,
                        score: s,
                        reason: reason.clone(),
                        by,
                        at: w.now,
                    });
                    match found.class() {
                        Some(class) => {
                            let on = domain::time::china_date(w.now);
                            c.status = AeoStatus::Certified;
                            c.class = Some(class);
                            c.certified_on = Some(on);
                            c.valid_until = Some(valid_until(on));
                            c.withdrawn = None;
                        }
                        None => {
                            c.status = AeoStatus::Refused;
                            c.class = None;
                        }
                    }
                }
                AeoStep::Reassess { .. } => {
                    if c.status != AeoStatus::Certified {
                        return Err(refuse(
                            "not_certified",
                            "certification",
                            format!("认证记录 {} 未处于认证有效状态，不能复核", c.id),
                            format!(
                                "certification {} is not in force: nothing to re-assess",
                                c.id
                            ),
                        ));
                    }
                    if c.rounds.len() >= ROUNDS_MAX {
                        return Err(refuse(
                            "too_many",
                            "rounds",
                            format!("每份证书至多 {ROUNDS_MAX} 轮审核"),
                            format!("at most {ROUNDS_MAX} audit rounds per certificate"),
                        ));
                    }
                    let level = match c.class {
                        Some(CreditClass::GeneralCertified) => Level::General,
                        _ => Level::Advanced,
                    };
                    c.rounds.push(Round {
                        no: c.rounds.len() as u32 + 1,
                        level,
                        reassessment: true,
                        opened_at: w.now,
                        items: Vec::new(),
                        decision: None,
                    });
                    c.status = AeoStatus::Applied;
                }
            }
            c.version += 1;
            Ok(c)
        }
    }
}

/// A certificate in force whose holder fell below the certified classes: withdrawn, with the
/// trigger. `None` when nothing changes.
pub fn withdraw(
    c: &StoredCertification,
    to: CreditClass,
    trigger: &str,
) -> Option<StoredCertification> {
    if c.status != AeoStatus::Certified || is_certified(to) {
        return None;
    }
    let mut c = c.clone();
    c.status = AeoStatus::Withdrawn;
    c.class = None;
    c.withdrawn = Some(trigger.to_owned());
    c.version += 1;
    Some(c)
}

/// The audit detail of a step.
pub fn detail(c: &StoredCertification, step: &AeoStep) -> String {
    serde_json::json!({
        "uscc": c.uscc.to_string(),
        "office": c.office.to_string(),
        "version": c.version,
        "status": c.status.as_str(),
        "step": step,
    })
    .to_string()
}

/// The audit detail of a certificate withdrawn by a credit change.
pub fn withdraw_detail(c: &StoredCertification, trigger: &str) -> String {
    serde_json::json!({
        "uscc": c.uscc.to_string(),
        "office": c.office.to_string(),
        "version": c.version,
        "status": c.status.as_str(),
        "trigger": trigger,
    })
    .to_string()
}

/// The audit detail of a credit change.
pub fn credit_detail(change: &crate::cases::CreditChange) -> String {
    serde_json::json!({
        "uscc": change.uscc.to_string(),
        "from": crate::risk::credit_class_name(change.from),
        "to": crate::risk::credit_class_name(change.to),
        "trigger": change.trigger,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 10, 2, 0, 0).unwrap()
    }

    fn officer() -> Actor {
        Actor::Officer {
            login: "o".into(),
            office: OfficeCode::parse("2200").unwrap(),
        }
    }

    fn uscc() -> Uscc {
        Uscc::parse("91110000600037341L").unwrap()
    }

    fn w(step: AeoStep) -> AeoWrite {
        AeoWrite {
            certification: Some(1),
            expected_version: None,
            step,
            actor: officer(),
            now: now(),
        }
    }

    fn applied(level: Level) -> StoredCertification {
        decide(
            None,
            1,
            None,
            CreditClass::General,
            &AeoWrite {
                certification: None,
                expected_version: None,
                step: AeoStep::Apply {
                    uscc: uscc(),
                    office: OfficeCode::parse("2200").unwrap(),
                    level,
                },
                actor: Actor::Enterprise { uscc: uscc() },
                now: now(),
            },
        )
        .unwrap()
    }

    fn score_all(
        mut c: StoredCertification,
        f: impl Fn(&Standard) -> ItemResult,
    ) -> StoredCertification {
        let level = c.level;
        for s in checklist(level) {
            c = decide(
                Some(&c),
                1,
                None,
                CreditClass::General,
                &w(AeoStep::Score {
                    standard: s.code.clone(),
                    result: f(s),
                    finding: "seen".into(),
                }),
            )
            .unwrap();
        }
        c
    }

    #[test]
    fn data_files_load() {
        assert!(standards().standards.len() >= 10);
        assert!(standards().standards.iter().any(|s| s.mandatory));
        assert!(mra_partner(CountryCode::parse("SGP").unwrap()).is_some());
        assert!(mra_partner(CountryCode::parse("USA").unwrap()).is_none());
    }

    #[test]
    fn the_decision_follows_the_audit() {
        let c = applied(Level::Advanced);
        // Incomplete: refused with the missing standards.
        let e = decide(
            Some(&c),
            1,
            None,
            CreditClass::General,
            &w(AeoStep::Decide {
                outcome: Outcome::AdvancedCertified,
                reason: "r".into(),
            }),
        )
        .unwrap_err();
        assert_eq!(e.code, "audit_incomplete");
        let all_met = score_all(c.clone(), |_| ItemResult::Meets);
        assert_eq!(
            outcome(all_met.current().unwrap()),
            Ok(Outcome::AdvancedCertified)
        );
        let e = decide(
            Some(&all_met),
            1,
            None,
            CreditClass::General,
            &w(AeoStep::Decide {
                outcome: Outcome::Refused,
                reason: "r".into(),
            }),
        )
        .unwrap_err();
        assert_eq!(e.code, "decision_not_supported");
        // A trade-security failure: general certification only.
        let ts = score_all(c.clone(), |s| {
            if s.code == "TS-1" {
                ItemResult::Fails
            } else {
                ItemResult::Meets
            }
        });
        assert_eq!(
            outcome(ts.current().unwrap()),
            Ok(Outcome::GeneralCertified)
        );
        // Six standards basically met: 94 < 95, general.
        let low = score_all(c.clone(), |s| {
            if s.code.starts_with("TS") || s.code == "AD-1" {
                ItemResult::BasicallyMeets
            } else {
                ItemResult::Meets
            }
        });
        assert_eq!(score(low.current().unwrap()), 94);
        assert_eq!(
            outcome(low.current().unwrap()),
            Ok(Outcome::GeneralCertified)
        );
        // A mandatory failure: refused.
        let bad = score_all(c, |s| {
            if s.code == "LC-3" {
                ItemResult::Fails
            } else {
                ItemResult::Meets
            }
        });
        assert_eq!(outcome(bad.current().unwrap()), Ok(Outcome::Refused));
    }

    #[test]
    fn certified_then_reassessed_and_withdrawn() {
        let c = score_all(applied(Level::General), |_| ItemResult::Meets);
        let c = decide(
            Some(&c),
            1,
            None,
            CreditClass::General,
            &w(AeoStep::Decide {
                outcome: Outcome::GeneralCertified,
                reason: "all met".into(),
            }),
        )
        .unwrap();
        assert_eq!(c.status, AeoStatus::Certified);
        assert_eq!(c.valid_until, NaiveDate::from_ymd_opt(2030, 3, 10));
        let r = decide(
            Some(&c),
            1,
            None,
            CreditClass::GeneralCertified,
            &w(AeoStep::Reassess {
                reason: "five years".into(),
            }),
        )
        .unwrap();
        assert_eq!(r.rounds.len(), 2);
        assert_eq!(r.status, AeoStatus::Applied);
        assert!(withdraw(&c, CreditClass::General, "case:x").is_some());
        assert!(withdraw(&c, CreditClass::AdvancedCertified, "x").is_none());
        assert_eq!(
            after_case(CreditClass::AdvancedCertified),
            CreditClass::General
        );
        assert_eq!(
            after_overdue(CreditClass::Discredited),
            CreditClass::Discredited
        );
    }
}
