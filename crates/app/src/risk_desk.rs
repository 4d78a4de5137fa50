//! The risk engine in the running service (docs/RISK.md): [`RiskDesk`] holds the
//! [`risk::RiskEngine`] whose state (rules, watch list, reference prices, policy) is replaced
//! without a restart, the credit classes officers set, and the use cases of risk analysts
//! (rules, watch list, report, price refresh) on [`RiskService`].
//!
//! - At acceptance the lane is chosen with the declaration number the store gives, through a
//!   [`store::risk::LaneHook`] run in the filing's transaction; the explanation goes into the
//!   `LaneChosen` event, a hold into a `Suspend` by the risk engine, and the decision's feedback
//!   row into `risk_feedback`, all in the same transaction.
//! - Enterprises never see the explanation, the rule reasons or a hold's case:
//!   [`redact_for_enterprise`].
//! - The risk policy (sampling seed and each credit class's rates, price-check thresholds) is
//!   the engine's default until an HQ analyst sets one ([`RiskService::put_risk_policy`]): then it
//!   is stored as a version with its audit record, loaded at start and swapped into the engine
//!   for the next declaration. Every decision's explanation records the seed and rates it used.
//! - Reference prices are rebuilt off the hot path ([`RiskService::refresh_prices`]): by a timer of
//!   the binary, after every [`RiskDesk::refresh_after_releases`] releases on a thread of its own,
//!   or on request. Submissions keep deciding on the previous references meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, NaiveDate, Utc};
use clearance::{
    CreditClass, EnterpriseFacts, EventKind, ExaminationResult, Lane, LaneContext, LanePolicy,
    LaneReason,
};
use domain::codes::{CurrencyCode, DeclarationNo, OfficeCode, Uscc};
use domain::declaration::Declaration;
use refdata::RefData;
use risk::{
    ClassRates, CompiledRules, FeedbackLog, FeedbackRecord, PriceReferences, RiskEngine,
    RiskPolicy, RiskReport, Rule, RuleError, RuleSet, WatchEntry, WatchKind, WatchLists,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::risk::{
    parse_credit_class, ChosenLane, Examination, FeedbackRow, Hold, LaneHook, RiskPolicyWrite,
    RiskStore, RulesWrite, StoredRiskPolicy, StoredWatchEntry, WatchRow,
};
use store::{AutomaticReview, Store, StoredEvent};

/// The engine's types a policy is written with (the server builds them from a request), and
/// the draw an auditor repeats.
pub use risk::{draw_ppm, InspectionKind, PriceCheckPolicy};

use crate::access::{Operation, Principal, Resource};
use crate::error::{AppError, FieldProblem};
use crate::kernel::{Core, Scope};

/// Releases between two automatic refreshes of the reference prices.
pub const REFRESH_AFTER_RELEASES: u64 = 500;
/// Released declarations read per page when references are rebuilt.
const RELEASED_PAGE: u32 = 1_000;
/// Released declarations read at most for one refresh.
const RELEASED_MAX: usize = 200_000;

/// The engine and what it is built from, shared by the service and its background refresh.
pub struct RiskDesk {
    pub engine: Arc<RiskEngine>,
    /// Credit classes set by officers; the registry's class otherwise.
    credit: RwLock<HashMap<Uscc, CreditClass>>,
    /// The stored rule-set version the engine runs.
    rules_version: Mutex<u64>,
    /// The stored policy version the engine runs (`None`: the engine's default). Held while a
    /// new version is written and swapped in, so that the engine runs the newest one.
    policy: Mutex<Option<PolicyVersion>>,
    releases: AtomicU64,
    refreshing: AtomicBool,
    pub refresh_after_releases: u64,
}

impl Default for RiskDesk {
    fn default() -> Self {
        RiskDesk {
            engine: Arc::new(RiskEngine::default()),
            credit: RwLock::new(HashMap::new()),
            rules_version: Mutex::new(0),
            policy: Mutex::new(None),
            releases: AtomicU64::new(0),
            refreshing: AtomicBool::new(false),
            refresh_after_releases: REFRESH_AFTER_RELEASES,
        }
    }
}

fn risk_store(store: &dyn Store) -> Result<&dyn RiskStore, AppError> {
    store
        .risk_store()
        .ok_or_else(|| AppError::NotFound("risk management is not available on this store".into()))
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

pub fn watch_kind(s: &str) -> Option<WatchKind> {
    [
        WatchKind::Enterprise,
        WatchKind::OverseasParty,
        WatchKind::Vessel,
        WatchKind::Bill,
    ]
    .into_iter()
    .find(|k| k.as_str() == s)
}

fn watch_entry(row: &WatchRow) -> Option<WatchEntry> {
    Some(WatchEntry {
        kind: watch_kind(&row.kind)?,
        value: row.value.clone(),
        lane: row.lane,
        suspend: row.suspend,
        case: row.case.clone(),
        office: row.office,
        until: row.until,
    })
}

impl RiskDesk {
    /// Load rules, watch list and credit classes from the store and swap them in.
    pub fn load(&self, store: &dyn Store, today: NaiveDate) -> Result<(), AppError> {
        let Some(rs) = store.risk_store() else {
            return Ok(());
        };
        let mut in_force = self.rules_version.lock().expect("rules version lock");
        // (Called again by `Clearance::sync_from_store`: a version in force is not compiled
        // again.)
        if let Some(stored) = rs.rules()?.filter(|r| r.version != *in_force) {
            let set = RuleSet::parse_json(&stored.rules_json).map_err(|errors| {
                AppError::Internal(format!(
                    "stored rule set version {} does not parse: {} error(s)",
                    stored.version,
                    errors.len()
                ))
            })?;
            self.engine
                .set_rules(Arc::new(CompiledRules::compile(&set, today)));
            *in_force = stored.version;
        }
        drop(in_force);
        let in_force = self.policy_version().map(|v| v.version);
        if let Some(stored) = rs.risk_policy()?.filter(|p| Some(p.version) != in_force) {
            let policy = parse_stored_policy(&stored)?;
            let mut current = self.policy.lock().expect("policy lock");
            self.engine.set_policy(Arc::new(policy));
            *current = Some(PolicyVersion::of(&stored));
        }
        self.load_watch(rs)?;
        let classes = rs.credit_classes()?;
        *self.credit.write().expect("credit lock") =
            classes.into_iter().map(|c| (c.uscc, c.class)).collect();
        Ok(())
    }

    fn load_watch(&self, rs: &dyn RiskStore) -> Result<(), AppError> {
        let entries: Vec<WatchEntry> = rs
            .watch_entries()?
            .iter()
            .filter_map(|e| watch_entry(&e.entry))
            .collect();
        let lists = WatchLists::new(entries).map_err(internal)?;
        self.engine.set_watch_lists(Arc::new(lists));
        Ok(())
    }

    pub fn credit_class(&self, uscc: &Uscc) -> Option<CreditClass> {
        self.credit.read().expect("credit lock").get(uscc).copied()
    }

    /// The stored policy version the engine runs, if one was set.
    pub fn policy_version(&self) -> Option<PolicyVersion> {
        self.policy.lock().expect("policy lock").clone()
    }
}

/// Which stored version of the risk policy is in force, who set it and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PolicyVersion {
    pub version: u64,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

impl PolicyVersion {
    fn of(s: &StoredRiskPolicy) -> PolicyVersion {
        PolicyVersion {
            version: s.version,
            set_by: s.actor.clone(),
            set_at: s.at,
        }
    }
}

/// A stored policy as the engine runs it; one that does not parse or check is corrupt.
fn parse_stored_policy(stored: &StoredRiskPolicy) -> Result<RiskPolicy, AppError> {
    let policy: RiskPolicy = serde_json::from_str(&stored.policy_json).map_err(|e| {
        AppError::Internal(format!(
            "stored risk policy version {} does not parse: {e}",
            stored.version
        ))
    })?;
    policy.sampling.check().map_err(|e| {
        AppError::Internal(format!(
            "stored risk policy version {} is not usable: {e}",
            stored.version
        ))
    })?;
    Ok(policy)
}

/// CNY rates of the currencies of a declaration, by the tax rule of its declaration date.
struct DeclarationRates(HashMap<CurrencyCode, Decimal>);

impl risk::CnyRates for DeclarationRates {
    fn cny_per_unit(&self, currency: CurrencyCode) -> Option<Decimal> {
        self.0.get(&currency).copied()
    }
}

/// The office tree of the reference data, owned (the hook outlives the request).
struct Offices(Arc<RefData>);

impl risk::OfficeHierarchy for Offices {
    fn parent(&self, office: OfficeCode) -> Option<OfficeCode> {
        risk::ReferenceOffices(&*self.0).parent(office)
    }
}

/// The generic reason an enterprise sees for its lane.
fn public_reason(lane: Lane) -> LaneReason {
    let (zh, en) = match lane {
        Lane::Green => ("直接放行通道", "no intervention"),
        Lane::Yellow => ("单证审核", "document review"),
        Lane::Red => ("查验", "inspection"),
        Lane::Blue => ("先放后核", "release now, audit later"),
    };
    LaneReason {
        code: format!("lane_{}", lane.as_str()),
        message_zh: zh.into(),
        message_en: en.into(),
    }
}

/// What an enterprise may see of its own declaration's history: no explanation, no rule or
/// watch-list reasons, no case of a hold.
pub fn redact_for_enterprise(events: &mut [StoredEvent]) {
    for e in events {
        match &mut e.event.kind {
            EventKind::LaneChosen {
                lane,
                reasons,
                explanation,
                ..
            } => {
                *explanation = None;
                *reasons = vec![public_reason(*lane)];
            }
            EventKind::Suspended { reason, case_no } => {
                *reason = "海关暂停办理 / held by customs".into();
                case_no.clear();
            }
            _ => {}
        }
    }
}

/// One rule error as an input problem: the field path names the line (and column) and the key.
fn rule_problem(e: &RuleError) -> FieldProblem {
    let mut field = format!("line {}", e.line);
    if let Some(c) = e.column {
        field.push_str(&format!(":{c}"));
    }
    if let Some(r) = &e.rule {
        field.push_str(&format!(" rule {r}"));
    }
    if !e.field.is_empty() {
        field.push_str(&format!(" {}", e.field));
    }
    FieldProblem::new(field, "rule_invalid", &e.message_zh, &e.message_en)
}

/// The rule set as served: version, fingerprint and the rules the analyst may manage.
#[derive(Clone, Debug, Serialize)]
pub struct RulesView {
    pub version: u64,
    pub fingerprint: String,
    pub rules: Vec<Rule>,
    /// Rules owned by offices outside the caller's scope, kept as they are on a PUT.
    pub rules_outside_scope: usize,
}

/// A new watch-list entry, as an analyst gives it.
#[derive(Clone, Debug, Deserialize)]
pub struct NewWatchEntry {
    pub kind: String,
    pub value: String,
    pub lane: Lane,
    #[serde(default)]
    pub suspend: bool,
    pub case: String,
    pub until: Option<NaiveDate>,
}

/// The sampling policy in force (`GET /api/risk/sampling`): the published seed and each credit
/// class's rates, with which an auditor repeats any draw (`jinguan risk draw --seed …
/// --red-ppm … --yellow-ppm …`), and the price-check thresholds.
#[derive(Clone, Debug, Serialize)]
pub struct SamplingView {
    /// The stored version in force; 0 while the engine's default runs (none stored yet). A PUT
    /// names it as `expected_version`.
    pub version: u64,
    /// Who stored that version (`Actor::label`) and when; `None` for the default.
    pub set_by: Option<String>,
    pub set_at: Option<DateTime<Utc>>,
    pub seed: String,
    pub classes: Vec<ClassRatesView>,
    pub price_check: risk::PriceCheckPolicy,
}

/// The rates of one credit class, in parts per million of declarations.
#[derive(Clone, Debug, Serialize)]
pub struct ClassRatesView {
    pub class: CreditClass,
    pub red_ppm: u32,
    pub yellow_ppm: u32,
    /// The base intervention rate: red and yellow together.
    pub intervention_ppm: u32,
}

/// New rates of one credit class, as an HQ analyst gives them.
#[derive(Clone, Debug, Deserialize)]
pub struct ClassRatesInput {
    /// `advanced_certified`, `general_certified`, `general` or `discredited`.
    pub class: String,
    pub red_ppm: u32,
    pub yellow_ppm: u32,
}

/// A new risk policy (`PUT /api/risk/sampling`): the seed to publish, the rates of the classes
/// given (the others keep theirs) and, if given, new price-check thresholds.
#[derive(Clone, Debug, Deserialize)]
pub struct NewRiskPolicy {
    pub seed: String,
    #[serde(default)]
    pub classes: Vec<ClassRatesInput>,
    #[serde(default)]
    pub price_check: Option<PriceCheckPolicy>,
}

/// The longest published seed, in bytes.
pub const SEED_BYTES_MAX: usize = 200;

/// Every problem of a new policy at once, by field; the policy it gives when there are none.
fn check_new_policy(
    base: &RiskPolicy,
    new: &NewRiskPolicy,
) -> Result<RiskPolicy, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut policy = base.clone();
    let seed = new.seed.as_str();
    if seed.trim().is_empty() {
        problems.push(FieldProblem::new(
            "seed",
            "seed_empty",
            "抽样种子不能为空",
            "the sampling seed must not be empty",
        ));
    } else if seed.len() > SEED_BYTES_MAX {
        problems.push(FieldProblem::new(
            "seed",
            "seed_too_long",
            format!(
                "抽样种子最长 {SEED_BYTES_MAX} 字节，现为 {} 字节",
                seed.len()
            ),
            format!(
                "the sampling seed is at most {SEED_BYTES_MAX} bytes, not {}",
                seed.len()
            ),
        ));
    } else if seed.chars().any(char::is_control) || seed.trim() != seed {
        problems.push(FieldProblem::new(
            "seed",
            "seed_invalid",
            "抽样种子不得含控制字符或首尾空白（公布后须可原样复现）",
            "the sampling seed may not contain control characters or leading or trailing \
             spaces (it is published and must be repeatable as written)",
        ));
    }
    policy.sampling.seed = seed.to_owned();
    let mut seen: Vec<CreditClass> = Vec::new();
    for (i, c) in new.classes.iter().enumerate() {
        let field = format!("classes[{i}]");
        let Some(class) = parse_credit_class(&c.class) else {
            problems.push(FieldProblem::new(
                format!("{field}.class"),
                "unknown_class",
                format!(
                    "未知的信用等级“{}”：应为 advanced_certified、general_certified、general 或 discredited",
                    c.class
                ),
                format!(
                    "unknown credit class \"{}\": one of advanced_certified, general_certified, general, discredited",
                    c.class
                ),
            ));
            continue;
        };
        if seen.contains(&class) {
            problems.push(FieldProblem::new(
                format!("{field}.class"),
                "duplicate_class",
                format!("信用等级 {} 重复给出", c.class),
                format!("credit class {} is given more than once", c.class),
            ));
            continue;
        }
        seen.push(class);
        let mut ok = true;
        for (name, v) in [("red_ppm", c.red_ppm), ("yellow_ppm", c.yellow_ppm)] {
            if v > risk::sampling::PPM {
                ok = false;
                problems.push(FieldProblem::new(
                    format!("{field}.{name}"),
                    "rate_out_of_range",
                    format!("比率以百万分之一计，应在 0 至 1,000,000 之间，现为 {v}"),
                    format!("a rate in parts per million is 0 to 1,000,000, not {v}"),
                ));
            }
        }
        let total = u64::from(c.red_ppm) + u64::from(c.yellow_ppm);
        if ok && total > u64::from(risk::sampling::PPM) {
            problems.push(FieldProblem::new(
                field.clone(),
                "rates_over_one",
                format!(
                    "{} 的查验率与审单率之和为 {total} ppm，超过 1,000,000",
                    c.class
                ),
                format!(
                    "{}: red and yellow rates add up to {total} ppm, more than 1,000,000",
                    c.class
                ),
            ));
        }
        let rates = ClassRates {
            red_ppm: c.red_ppm,
            yellow_ppm: c.yellow_ppm,
        };
        match class {
            CreditClass::AdvancedCertified => policy.sampling.advanced_certified = rates,
            CreditClass::GeneralCertified => policy.sampling.general_certified = rates,
            CreditClass::General => policy.sampling.general = rates,
            CreditClass::Discredited => policy.sampling.discredited = rates,
        }
    }
    if let Some(pc) = &new.price_check {
        if pc.min_observations == 0 || pc.min_observations > 100_000 {
            problems.push(FieldProblem::new(
                "price_check.min_observations",
                "out_of_range",
                format!(
                    "参考价格的最少观测数应在 1 至 100,000 之间，现为 {}",
                    pc.min_observations
                ),
                format!(
                    "the minimum observations of a reference are 1 to 100,000, not {}",
                    pc.min_observations
                ),
            ));
        }
        if pc.max_ratio <= Decimal::ZERO || pc.max_ratio > Decimal::ONE {
            problems.push(FieldProblem::new(
                "price_check.max_ratio",
                "out_of_range",
                format!("低价比例应大于 0 且不超过 1，现为 {}", pc.max_ratio),
                format!(
                    "the ratio to the median is above 0 and at most 1, not {}",
                    pc.max_ratio
                ),
            ));
        }
        if pc.min_robust_z < Decimal::ZERO || pc.min_robust_z > Decimal::ONE_HUNDRED {
            problems.push(FieldProblem::new(
                "price_check.min_robust_z",
                "out_of_range",
                format!("稳健 z 值应在 0 至 100 之间，现为 {}", pc.min_robust_z),
                format!(
                    "the robust z threshold is 0 to 100, not {}",
                    pc.min_robust_z
                ),
            ));
        }
        if pc.lane == Lane::Green {
            problems.push(FieldProblem::new(
                "price_check.lane",
                "lane_green",
                "价格异常须提升通道：应为 yellow、red 或 blue",
                "a price finding raises the lane: yellow, red or blue, not green",
            ));
        }
        policy.price_check = pc.clone();
    }
    if problems.is_empty() {
        // The engine's own check, as a last guard (the fields above cover it).
        if let Err(e) = policy.sampling.check() {
            problems.push(FieldProblem::new(
                "",
                "policy_invalid",
                format!("抽样策略无效：{e}"),
                format!("invalid sampling policy: {e}"),
            ));
        }
    }
    if problems.is_empty() {
        Ok(policy)
    } else {
        Err(problems)
    }
}

/// A policy write that named a version other than the one in force (409).
fn policy_conflict(expected: u64, actual: u64) -> AppError {
    AppError::Conflict {
        code: "version_conflict",
        message_en: format!(
            "the risk policy changed meanwhile (you edited version {expected}, version {actual} is in force); reload and try again"
        ),
        message_zh: format!(
            "风险策略已被他人更新（您编辑的是版本 {expected}，现行版本为 {actual}），请刷新后重试"
        ),
    }
}

/// What a price refresh did.
#[derive(Clone, Debug, Serialize)]
pub struct PriceRefresh {
    pub declarations_read: usize,
    pub items_used: usize,
    pub references: usize,
}

/// What is known about enterprises when a lane is chosen (credit class, history). The
/// enterprise registry of the E-Port will implement it; until then a table in memory.
pub trait EnterpriseRegistry: Send + Sync {
    fn facts(&self, uscc: &Uscc) -> EnterpriseFacts;
}

/// Facts from a table; enterprises not in it are of the general class with a clean record.
#[derive(Clone, Debug, Default)]
pub struct StaticRegistry(pub HashMap<Uscc, EnterpriseFacts>);

impl EnterpriseRegistry for StaticRegistry {
    fn facts(&self, uscc: &Uscc) -> EnterpriseFacts {
        self.0.get(uscc).cloned().unwrap_or(EnterpriseFacts {
            credit_class: CreditClass::General,
            discrepancies_last_year: 0,
        })
    }
}

/// Risk management as a service: the use cases of risk analysts (rules, watch list, credit
/// classes, policy, report, price refresh), and risk's contributions to a filing (the lane) and
/// to a step (an examination's feedback, the count of releases).
#[derive(Clone, Copy)]
pub struct RiskService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) desk: &'a Arc<RiskDesk>,
    pub(crate) registry: &'a dyn EnterpriseRegistry,
    /// `None`: the risk engine chooses lanes (the default).
    pub(crate) lanes: Option<&'a Arc<dyn LanePolicy + Send + Sync>>,
}

impl<'a> RiskService<'a> {
    /// What the lane decision knows of the enterprise: the registry's facts with the class an
    /// officer set, if any.
    pub(crate) fn enterprise_facts(&self, uscc: &Uscc) -> EnterpriseFacts {
        let mut facts = self.registry.facts(uscc);
        if let Some(class) = self.desk.credit_class(uscc) {
            facts.credit_class = class;
        }
        facts
    }

    /// The accepting review of a valid declaration: a hook the store calls with the number it
    /// takes, choosing the lane (the risk engine, or the configured policy), assessing green and
    /// blue lanes unless held, and holding when the decision says so. The risk engine's
    /// decisions carry their feedback row, which the store writes with the filing.
    pub(crate) fn accepting_review(
        &self,
        decl: &Declaration,
        declarant: &Uscc,
        amounts: Option<Vec<(clearance::TaxKind, domain::money::Fen)>>,
    ) -> AutomaticReview {
        let facts = self.enterprise_facts(declarant);
        let today = self.core.now().date_naive();
        let decl = Arc::new(decl.clone());
        let finish = move |lane: Lane,
                           reasons,
                           inspection,
                           explanation,
                           hold: Option<Hold>,
                           feedback: Option<FeedbackRow>|
              -> ChosenLane {
            let assess = matches!(lane, Lane::Green | Lane::Blue) && hold.is_none();
            ChosenLane {
                lane,
                reasons,
                inspection,
                explanation,
                assessment: if assess { amounts.clone() } else { None },
                hold,
                feedback,
            }
        };
        let choose: Arc<dyn Fn(&DeclarationNo) -> ChosenLane + Send + Sync> = match self.lanes {
            Some(policy) => {
                let policy = Arc::clone(policy);
                Arc::new(move |no: &DeclarationNo| {
                    let ctx = LaneContext {
                        declaration_no: *no,
                        today,
                    };
                    let d = policy.choose(&ctx, &decl, &facts);
                    let hold = d.suspend.then(|| Hold {
                        reason: format!(
                            "risk hold: {}",
                            d.reasons
                                .iter()
                                .map(|r| r.code.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        case_no: "risk".into(),
                    });
                    finish(d.lane, d.reasons, d.inspection, d.explanation, hold, None)
                })
            }
            None => {
                let state = self.desk.engine.snapshot();
                let offices = Offices(self.core.refdata.clone());
                let mut rates = HashMap::new();
                for it in &decl.items {
                    if let Ok((rate, _)) = self.core.tax.rates.rate_for(
                        it.currency,
                        decl.declaration_date,
                        &self.core.tax.calendar,
                    ) {
                        rates.insert(it.currency, rate);
                    }
                }
                let rates = DeclarationRates(rates);
                Arc::new(move |no: &DeclarationNo| {
                    let d = state.decide(&risk::DecisionInput {
                        declaration: &decl,
                        declaration_no: no,
                        enterprise: &facts,
                        today,
                        offices: &offices,
                        rates: &rates,
                    });
                    let record = FeedbackRecord::from_decision(*no, &d);
                    let feedback = Some(FeedbackRow {
                        declaration_no: record.declaration_no,
                        lane: record.lane,
                        rules: record.rules,
                        sampled: record.sampled,
                        price_flagged: record.price_flagged,
                        watch_hit: record.watch_hit,
                        found: None,
                        findings: Vec::new(),
                    });
                    let hold = d.hold().map(|(reason, case_no)| Hold { reason, case_no });
                    let ld = d.lane_decision();
                    finish(
                        ld.lane,
                        ld.reasons,
                        ld.inspection,
                        ld.explanation,
                        hold,
                        feedback,
                    )
                })
            }
        };
        AutomaticReview::AcceptRisk {
            choose: LaneHook(choose),
        }
    }

    /// Risk's part of a step's write: an examination's result (a review or an inspection of a
    /// numbered declaration) goes to the feedback log, in the step's transaction. `None`: not
    /// an examination, or a store without risk management.
    pub(crate) fn examination(
        &self,
        d: &store::StoredDeclaration,
        result: Option<&ExaminationResult>,
    ) -> Option<(&'a dyn RiskStore, Examination)> {
        let (result, no, rs) = (
            result?,
            d.state.declaration_no?,
            self.core.store.risk_store()?,
        );
        let (found, findings) = match result {
            ExaminationResult::Conform => (false, Vec::new()),
            ExaminationResult::Discrepancy { findings } => {
                (true, findings.iter().map(|f| f.kind).collect())
            }
        };
        Some((
            rs,
            Examination {
                declaration_no: no,
                found,
                findings,
            },
        ))
    }

    /// A release was written: releases count towards the next refresh of the reference prices.
    pub(crate) fn count_release(&self) {
        let n = self.desk.releases.fetch_add(1, Ordering::Relaxed) + 1;
        if self.desk.refresh_after_releases > 0
            && n.is_multiple_of(self.desk.refresh_after_releases)
        {
            self.spawn_price_refresh();
        }
    }

    /// Rebuild the reference prices on a thread of its own (at most one at a time).
    pub fn spawn_price_refresh(&self) {
        let store = self.core.store.clone();
        let desk = self.desk.clone();
        let rates = Arc::new(self.core.tax.rates.clone());
        let calendar = Arc::new(self.core.tax.calendar.clone());
        let _ = std::thread::Builder::new()
            .name("jinguan-price-refresh".into())
            .spawn(move || {
                if let Err(e) = refresh_prices(&*store, &desk, &rates, &calendar) {
                    tracing::warn!(error = %e, "price refresh failed");
                }
            });
    }

    /// Rebuild the reference prices now (analysts, or the binary's timer with `None`).
    pub fn refresh_prices(&self, by: Option<&Principal>) -> Result<PriceRefresh, AppError> {
        if let Some(p) = by {
            self.core.authorize(
                p,
                (Operation::ManageRiskRules, Resource::Risk { office: None }),
            )?;
        }
        refresh_prices(
            &*self.core.store,
            self.desk,
            &self.core.tax.rates,
            &self.core.tax.calendar,
        )
    }

    /// The rule set as the analyst may manage it.
    pub fn risk_rules(&self, by: &Principal) -> Result<RulesView, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::ManageRiskRules, Resource::Risk { office: None }),
        )?;
        let rs = risk_store(&*self.core.store)?;
        let (version, fingerprint, rules) = match rs.rules()? {
            Some(s) => (
                s.version,
                s.fingerprint,
                RuleSet::parse_json(&s.rules_json)
                    .map_err(|_| internal("the stored rule set does not parse"))?
                    .rules()
                    .to_vec(),
            ),
            None => (0, RuleSet::default().fingerprint(), Vec::new()),
        };
        let (mine, others): (Vec<Rule>, Vec<Rule>) =
            rules.into_iter().partition(|r| allowed.covers(r.office));
        Ok(RulesView {
            version,
            fingerprint,
            rules: mine,
            rules_outside_scope: others.len(),
        })
    }

    /// Replace the rules the analyst manages (those owned by their office or below it) with the
    /// given text (rule file or JSON). Every error at once (422); on success the new set is
    /// stored as a new version and the engine runs it for the next declaration.
    pub fn put_risk_rules(
        &self,
        by: &Principal,
        text: &str,
        expected_version: Option<u64>,
    ) -> Result<RulesView, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::ManageRiskRules, Resource::Risk { office: None }),
        )?;
        let rs = risk_store(&*self.core.store)?;
        let given = RuleSet::parse(text)
            .map_err(|errors| AppError::Invalid(errors.iter().map(rule_problem).collect()))?;
        // Each rule must be owned within the analyst's scope.
        for r in given.rules() {
            self.core.authorize(
                by,
                (
                    Operation::ManageRiskRules,
                    Resource::Risk {
                        office: Some(r.office),
                    },
                ),
            )?;
        }
        // Held from the read to the swap: two writers one after the other, so the engine ends on
        // the newest stored version (not on whichever swap came last).
        let mut in_force = self.desk.rules_version.lock().expect("rules version lock");
        let current = rs.rules()?;
        let version = current.as_ref().map_or(0, |c| c.version);
        if expected_version.is_some_and(|v| v != version) {
            return Err(store::StoreError::Conflict {
                expected: expected_version.unwrap_or(0),
                actual: version,
            }
            .into());
        }
        let mut rules: Vec<Rule> = match &current {
            Some(c) => RuleSet::parse_json(&c.rules_json)
                .map_err(|_| internal("the stored rule set does not parse"))?
                .rules()
                .iter()
                .filter(|r| !allowed.covers(r.office))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        rules.extend(given.rules().iter().cloned());
        let set = RuleSet::from_rules(rules)
            .map_err(|errors| AppError::Invalid(errors.iter().map(rule_problem).collect()))?;
        let now = self.core.now();
        let stored = rs.put_rules(RulesWrite {
            expected_version: version,
            rules_json: set.to_json().to_string(),
            fingerprint: set.fingerprint(),
            actor: allowed.audit_actor(),
            now,
        })?;
        self.desk
            .engine
            .set_rules(Arc::new(CompiledRules::compile(&set, now.date_naive())));
        *in_force = stored.version;
        drop(in_force);
        self.risk_rules(by)
    }

    pub fn watch_list(&self, by: &Principal) -> Result<Vec<StoredWatchEntry>, AppError> {
        self.core.authorize(
            by,
            (Operation::ManageWatchList, Resource::Risk { office: None }),
        )?;
        Ok(risk_store(&*self.core.store)?.watch_entries()?)
    }

    pub fn add_watch_entry(&self, by: &Principal, e: NewWatchEntry) -> Result<i64, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::ManageWatchList, Resource::Risk { office: None }),
        )?;
        // Listed by the analyst's office; HQ lists for HQ.
        let office = match allowed.scope() {
            Scope::Offices(own, _) => *own,
            _ => OfficeCode::HQ,
        };
        let row = WatchRow {
            kind: e.kind,
            value: e.value,
            lane: e.lane,
            suspend: e.suspend,
            case: e.case,
            office,
            until: e.until,
        };
        // The engine's own checks (a USCC that parses, a known kind), every entry at once.
        let entry = watch_entry(&row).ok_or_else(|| {
            AppError::invalid(
                "kind",
                "unknown_kind",
                "布控名单类型须为 enterprise、overseas_party、vessel 或 bill",
                "kind must be enterprise, overseas_party, vessel or bill",
            )
        })?;
        WatchLists::new(vec![entry]).map_err(|e| {
            AppError::invalid(
                "value",
                "invalid",
                format!("布控名单条目无效：{e}"),
                format!("invalid watch entry: {e}"),
            )
        })?;
        let rs = risk_store(&*self.core.store)?;
        let id = rs.add_watch_entry(row, &allowed.audit_actor(), self.core.now())?;
        self.desk.load_watch(rs)?;
        Ok(id)
    }

    pub fn remove_watch_entry(&self, by: &Principal, id: i64) -> Result<(), AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::ManageWatchList, Resource::Risk { office: None }),
        )?;
        let rs = risk_store(&*self.core.store)?;
        // Entries apply nationwide, but only the listing office (or one above it) lifts them:
        // an office analyst may not lift another office's or HQ's anti-smuggling hold.
        let listed = rs
            .watch_entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::NotFound(format!("watch entry {id}")))?;
        if !allowed.covers(listed.entry.office) {
            return Err(AppError::Forbidden(crate::access::Denied {
                code: "forbidden",
                message_en: format!(
                    "watch entry {id} was listed by office {}, outside your scope",
                    listed.entry.office
                ),
                message_zh: format!(
                    "布控名单条目 {id} 由关区 {} 设置，不在您的管辖范围内",
                    listed.entry.office
                ),
            }));
        }
        if !rs.remove_watch_entry(id, &allowed.audit_actor(), self.core.now())? {
            return Err(AppError::NotFound(format!("watch entry {id}")));
        }
        self.desk.load_watch(rs)
    }

    /// An officer's credit decision outside an audit (the former "set credit class"): recorded
    /// with its reason in the enterprise's credit history, through the credit workflow's one
    /// write path (`store::aeo`); it takes effect for the next filing.
    pub fn set_credit_class(
        &self,
        by: &Principal,
        uscc: Uscc,
        class: CreditClass,
        reason: &str,
    ) -> Result<(), AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::SetCreditClass, Resource::Risk { office: None }),
        )?;
        let parties = self
            .core
            .store
            .parties_store()
            .ok_or_else(|| AppError::Internal("this store keeps no credit history".into()))?;
        let change = parties.credit_decision(store::aeo::CreditDecision {
            uscc,
            class,
            reason: reason.to_owned(),
            actor: allowed.audit_actor(),
            now: self.core.now(),
        })?;
        self.note_credit_class(uscc, change.to);
        Ok(())
    }

    /// A credit class the store changed in another use case's transaction (a penalty's
    /// downgrade, `crate::case_desk`): the next filing's lane uses it.
    pub(crate) fn note_credit_class(&self, uscc: Uscc, class: CreditClass) {
        self.desk
            .credit
            .write()
            .expect("credit lock")
            .insert(uscc, class);
    }

    /// Read an enterprise's class back after a write that may have changed it (the last row of
    /// its credit history is its class: every change writes one).
    pub(crate) fn reload_credit_class(&self, uscc: Uscc) -> Result<(), AppError> {
        if let Some(p) = self.core.store.parties_store() {
            if let Some(last) = p.credit_history(uscc)?.last() {
                self.note_credit_class(uscc, last.to);
            }
        }
        Ok(())
    }

    /// The class facilities read for an enterprise (the risk engine's sampling, release against
    /// a guarantee): the credit workflow's, `general` when it has none.
    pub fn class_of(&self, uscc: &Uscc) -> CreditClass {
        self.enterprise_facts(uscc).credit_class
    }

    /// The sampling policy the engine runs, for risk analysts and reviewers (who set credit
    /// classes). Not for enterprises: knowing the seed ahead of a filing tells which numbers
    /// would be sampled.
    pub fn sampling_policy(&self, by: &Principal) -> Result<SamplingView, AppError> {
        self.authorize_policy_read(by)?;
        Ok(self.sampling_view())
    }

    /// The policy the engine runs, with the stored version it came from.
    fn sampling_view(&self) -> SamplingView {
        let version = self.desk.policy_version();
        let policy = self.desk.engine.snapshot().policy.clone();
        let classes = [
            CreditClass::AdvancedCertified,
            CreditClass::GeneralCertified,
            CreditClass::General,
            CreditClass::Discredited,
        ]
        .into_iter()
        .map(|class| {
            let r = policy.sampling.rates(class);
            ClassRatesView {
                class,
                red_ppm: r.red_ppm,
                yellow_ppm: r.yellow_ppm,
                intervention_ppm: r.intervention_ppm(),
            }
        })
        .collect();
        SamplingView {
            version: version.as_ref().map_or(0, |v| v.version),
            set_by: version.as_ref().map(|v| v.set_by.clone()),
            set_at: version.as_ref().map(|v| v.set_at),
            seed: policy.sampling.seed.clone(),
            classes,
            price_check: policy.price_check.clone(),
        }
    }

    /// An HQ risk analyst sets the national risk policy: publishes a new sampling seed, sets
    /// the rates of the credit classes given (the others keep theirs) and, if given, the
    /// price-check thresholds. Every problem at once (422); `Conflict` (409) unless
    /// `expected_version` is the version in force (0 while the default runs). On success it is
    /// stored as a new version with its audit record and the engine runs it for the next
    /// declaration, without a restart.
    pub fn put_risk_policy(
        &self,
        by: &Principal,
        new: NewRiskPolicy,
        expected_version: u64,
    ) -> Result<SamplingView, AppError> {
        let allowed = self.core.authorize(
            by,
            (Operation::SetRiskPolicy, Resource::Risk { office: None }),
        )?;
        let rs = risk_store(&*self.core.store)?;
        // One write at a time from this service, so that the engine ends on the newest version.
        let mut in_force = self.desk.policy.lock().expect("policy lock");
        let base = self.desk.engine.snapshot().policy.clone();
        let policy = check_new_policy(&base, &new).map_err(AppError::Invalid)?;
        let stored = rs.risk_policy()?;
        let version = stored.as_ref().map_or(0, |s| s.version);
        if expected_version != version {
            return Err(policy_conflict(expected_version, version));
        }
        let written = rs
            .put_risk_policy(RiskPolicyWrite {
                expected_version,
                policy_json: serde_json::to_string(&policy).map_err(internal)?,
                actor: allowed.audit_actor(),
                now: self.core.now(),
            })
            .map_err(|e| match e {
                store::StoreError::Conflict { expected, actual } => {
                    policy_conflict(expected, actual)
                }
                e => e.into(),
            })?;
        self.desk.engine.set_policy(Arc::new(policy));
        *in_force = Some(PolicyVersion::of(&written));
        drop(in_force);
        Ok(self.sampling_view())
    }

    /// Stored versions of the risk policy, newest first (what `GET /api/risk/sampling/history`
    /// lists), for whoever may read the policy.
    pub fn risk_policy_history(
        &self,
        by: &Principal,
        limit: u32,
    ) -> Result<Vec<StoredRiskPolicy>, AppError> {
        self.authorize_policy_read(by)?;
        Ok(risk_store(&*self.core.store)?.risk_policy_history(limit)?)
    }

    fn authorize_policy_read(&self, by: &Principal) -> Result<(), AppError> {
        self.core
            .authorize(
                by,
                (Operation::ViewRiskReport, Resource::Risk { office: None }),
            )
            .or_else(|_| {
                self.core.authorize(
                    by,
                    (Operation::SetCreditClass, Resource::Risk { office: None }),
                )
            })?;
        Ok(())
    }

    /// Hit rate and effect of every rule, from the stored feedback.
    pub fn risk_report(&self, by: &Principal) -> Result<RiskReport, AppError> {
        self.core.authorize(
            by,
            (Operation::ViewRiskReport, Resource::Risk { office: None }),
        )?;
        report_from_store(risk_store(&*self.core.store)?)
    }
}

/// The report of hit rates and lift from the feedback stored so far (at most
/// [`store::risk::RISK_PAGE_MAX`] decisions): what `GET /api/risk/report` and
/// `jinguan risk report` (without a file) print.
pub fn report_from_store(rs: &dyn RiskStore) -> Result<RiskReport, AppError> {
    let rows = rs.feedback(store::risk::RISK_PAGE_MAX)?;
    let records = rows
        .into_iter()
        .map(|r| FeedbackRecord {
            declaration_no: r.declaration_no,
            lane: r.lane,
            rules: r.rules,
            sampled: r.sampled,
            price_flagged: r.price_flagged,
            watch_hit: r.watch_hit,
            found: r.found,
            findings: r.findings,
        })
        .collect();
    Ok(FeedbackLog { records }.report())
}

/// Reads released declarations page by page and swaps in new references. Runs on the caller's
/// thread; the engine keeps serving the old references until the swap.
fn refresh_prices(
    store: &dyn Store,
    desk: &RiskDesk,
    rates: &tax::RateTable,
    calendar: &tax::TradingCalendar,
) -> Result<PriceRefresh, AppError> {
    if desk.refreshing.swap(true, Ordering::AcqRel) {
        return Err(AppError::Conflict {
            code: "refresh_running",
            message_en: "a price refresh is already running".into(),
            message_zh: "参考价格正在刷新".into(),
        });
    }
    let result = (|| {
        let rs = risk_store(store)?;
        let mut after = None;
        let mut read = 0;
        let mut items = Vec::new();
        loop {
            let page = rs.released_bodies(after, RELEASED_PAGE)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(*last);
            for (_, body) in &page {
                read += 1;
                let Ok(d) = serde_json::from_str::<Declaration>(body) else {
                    continue;
                };
                for it in &d.items {
                    let rate = if it.currency == CurrencyCode::CNY {
                        Some(Decimal::ONE)
                    } else {
                        rates
                            .rate_for(it.currency, d.declaration_date, calendar)
                            .ok()
                            .map(|(r, _)| r)
                    };
                    if let Some(rate) = rate {
                        items.push((
                            it.commodity_code,
                            it.origin_country,
                            it.declared_unit,
                            it.unit_price * rate,
                        ));
                    }
                }
            }
            if read >= RELEASED_MAX || page.len() < RELEASED_PAGE as usize {
                break;
            }
        }
        let used = items.len();
        let prices = PriceReferences::from_released(items);
        let references = prices.len();
        desk.engine.set_prices(Arc::new(prices));
        Ok(PriceRefresh {
            declarations_read: read,
            items_used: used,
            references,
        })
    })();
    desk.refreshing.store(false, Ordering::Release);
    result
}
