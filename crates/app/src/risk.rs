//! The risk engine in the running service (docs/RISK.md): [`RiskDesk`] holds the
//! [`risk::RiskEngine`] whose state (rules, watch list, reference prices, policy) is replaced
//! without a restart, the credit classes officers set, and the use cases of risk analysts
//! (rules, watch list, report, price refresh) on [`Clearance`].
//!
//! - At acceptance the lane is chosen with the declaration number the store gives, through a
//!   [`store::risk::LaneHook`] run in the filing's transaction; the explanation goes into the
//!   `LaneChosen` event, a hold into a `Suspend` by the risk engine, and the decision's feedback
//!   row into `risk_feedback`, all in the same transaction.
//! - Enterprises never see the explanation, the rule reasons or a hold's case:
//!   [`redact_for_enterprise`].
//! - Reference prices are rebuilt off the hot path ([`Clearance::refresh_prices`]): by a timer of
//!   the binary, after every [`RiskDesk::refresh_after_releases`] releases on a thread of its own,
//!   or on request. Submissions keep deciding on the previous references meanwhile.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::NaiveDate;
use clearance::{
    CreditClass, EnterpriseFacts, EventKind, ExaminationResult, Lane, LaneContext, LaneReason,
};
use domain::codes::{CurrencyCode, DeclarationNo, OfficeCode, Uscc};
use domain::declaration::Declaration;
use refdata::RefData;
use risk::{
    CompiledRules, FeedbackLog, FeedbackRecord, PriceReferences, RiskEngine, RiskReport, Rule,
    RuleError, RuleSet, WatchEntry, WatchKind, WatchLists,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use store::risk::{
    ChosenLane, Examination, FeedbackRow, Hold, LaneHook, RiskStore, RulesWrite, StoredWatchEntry,
    WatchRow,
};
use store::{AutomaticReview, Store, StoredEvent};

use crate::access::{authorize, in_scope, Operation, Principal, Resource};
use crate::error::{AppError, FieldProblem};
use crate::service::{audit_actor, Clearance};

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
        if let Some(stored) = rs.rules()? {
            let set = RuleSet::parse_json(&stored.rules_json).map_err(|errors| {
                AppError::Internal(format!(
                    "stored rule set version {} does not parse: {} error(s)",
                    stored.version,
                    errors.len()
                ))
            })?;
            self.engine
                .set_rules(Arc::new(CompiledRules::compile(&set, today)));
            *self.rules_version.lock().expect("rules version lock") = stored.version;
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

/// What a price refresh did.
#[derive(Clone, Debug, Serialize)]
pub struct PriceRefresh {
    pub declarations_read: usize,
    pub items_used: usize,
    pub references: usize,
}

impl Clearance {
    pub fn risk_desk(&self) -> &Arc<RiskDesk> {
        &self.risk
    }

    /// What the lane decision knows of the enterprise: the registry's facts with the class an
    /// officer set, if any.
    pub(crate) fn enterprise_facts(&self, uscc: &Uscc) -> EnterpriseFacts {
        let mut facts = self.registry.facts(uscc);
        if let Some(class) = self.risk.credit_class(uscc) {
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
        let today = self.now().date_naive();
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
        let choose: Arc<dyn Fn(&DeclarationNo) -> ChosenLane + Send + Sync> = match &self.lanes {
            Some(policy) => {
                let policy = policy.clone();
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
                let state = self.risk.engine.snapshot();
                let offices = Offices(self.refdata.clone());
                let mut rates = HashMap::new();
                for it in &decl.items {
                    if let Ok((rate, _)) = self.tax.rates.rate_for(
                        it.currency,
                        decl.declaration_date,
                        &self.tax.calendar,
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

    /// Append the events of a step; examination results also go to the feedback log, in the
    /// same transaction. Releases count towards the next price refresh.
    pub(crate) fn append_step(
        self: &Clearance,
        d: &store::StoredDeclaration,
        result: Option<&ExaminationResult>,
        events: Vec<clearance::Event>,
    ) -> Result<store::Appended, store::StoreError> {
        let released = events.iter().any(|e| matches!(e.kind, EventKind::Released));
        let appended = match (result, d.state.declaration_no, self.store.risk_store()) {
            (Some(result), Some(no), Some(rs)) => {
                let (found, findings) = match result {
                    ExaminationResult::Conform => (false, Vec::new()),
                    ExaminationResult::Discrepancy { findings } => {
                        (true, findings.iter().map(|f| f.kind).collect())
                    }
                };
                rs.append_examined(
                    store::AppendRequest {
                        id: d.id,
                        expected_version: d.version,
                        events,
                    },
                    Examination {
                        declaration_no: no,
                        found,
                        findings,
                    },
                )?
            }
            _ => self.write_step(d, events)?,
        };
        if released {
            let n = self.risk.releases.fetch_add(1, Ordering::Relaxed) + 1;
            if self.risk.refresh_after_releases > 0
                && n.is_multiple_of(self.risk.refresh_after_releases)
            {
                self.spawn_price_refresh();
            }
        }
        Ok(appended)
    }

    /// Rebuild the reference prices on a thread of its own (at most one at a time).
    pub fn spawn_price_refresh(&self) {
        let store = self.store.clone();
        let desk = self.risk.clone();
        let rates = Arc::new(self.tax.rates.clone());
        let calendar = Arc::new(self.tax.calendar.clone());
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
            authorize(
                p,
                Operation::ManageRiskRules,
                Resource::Risk { office: None },
                &self.refdata,
            )?;
        }
        refresh_prices(
            &*self.store,
            &self.risk,
            &self.tax.rates,
            &self.tax.calendar,
        )
    }

    /// The rule set as the analyst may manage it.
    pub fn risk_rules(&self, by: &Principal) -> Result<RulesView, AppError> {
        authorize(
            by,
            Operation::ManageRiskRules,
            Resource::Risk { office: None },
            &self.refdata,
        )?;
        let rs = risk_store(&*self.store)?;
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
        let (mine, others): (Vec<Rule>, Vec<Rule>) = rules
            .into_iter()
            .partition(|r| in_scope(by, r.office, &self.refdata));
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
        authorize(
            by,
            Operation::ManageRiskRules,
            Resource::Risk { office: None },
            &self.refdata,
        )?;
        let rs = risk_store(&*self.store)?;
        let given = RuleSet::parse(text)
            .map_err(|errors| AppError::Invalid(errors.iter().map(rule_problem).collect()))?;
        // Each rule must be owned within the analyst's scope.
        for r in given.rules() {
            authorize(
                by,
                Operation::ManageRiskRules,
                Resource::Risk {
                    office: Some(r.office),
                },
                &self.refdata,
            )?;
        }
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
                .filter(|r| !in_scope(by, r.office, &self.refdata))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        rules.extend(given.rules().iter().cloned());
        let set = RuleSet::from_rules(rules)
            .map_err(|errors| AppError::Invalid(errors.iter().map(rule_problem).collect()))?;
        let now = self.now();
        let stored = rs.put_rules(RulesWrite {
            expected_version: version,
            rules_json: set.to_json().to_string(),
            fingerprint: set.fingerprint(),
            actor: audit_actor(by),
            now,
        })?;
        self.risk
            .engine
            .set_rules(Arc::new(CompiledRules::compile(&set, now.date_naive())));
        *self.risk.rules_version.lock().expect("rules version lock") = stored.version;
        self.risk_rules(by)
    }

    pub fn watch_list(&self, by: &Principal) -> Result<Vec<StoredWatchEntry>, AppError> {
        authorize(
            by,
            Operation::ManageWatchList,
            Resource::Risk { office: None },
            &self.refdata,
        )?;
        Ok(risk_store(&*self.store)?.watch_entries()?)
    }

    pub fn add_watch_entry(&self, by: &Principal, e: NewWatchEntry) -> Result<i64, AppError> {
        authorize(
            by,
            Operation::ManageWatchList,
            Resource::Risk { office: None },
            &self.refdata,
        )?;
        let office = match by {
            Principal::Officer { office, .. } => *office,
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
        let rs = risk_store(&*self.store)?;
        let id = rs.add_watch_entry(row, &audit_actor(by), self.now())?;
        self.risk.load_watch(rs)?;
        Ok(id)
    }

    pub fn remove_watch_entry(&self, by: &Principal, id: i64) -> Result<(), AppError> {
        authorize(
            by,
            Operation::ManageWatchList,
            Resource::Risk { office: None },
            &self.refdata,
        )?;
        let rs = risk_store(&*self.store)?;
        // Entries apply nationwide, but only the listing office (or one above it) lifts them:
        // an office analyst may not lift another office's or HQ's anti-smuggling hold.
        let listed = rs
            .watch_entries()?
            .into_iter()
            .find(|e| e.id == id)
            .ok_or_else(|| AppError::NotFound(format!("watch entry {id}")))?;
        if !in_scope(by, listed.entry.office, &self.refdata) {
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
        if !rs.remove_watch_entry(id, &audit_actor(by), self.now())? {
            return Err(AppError::NotFound(format!("watch entry {id}")));
        }
        self.risk.load_watch(rs)
    }

    /// An officer sets the credit class of an enterprise: it takes effect for the next filing.
    pub fn set_credit_class(
        &self,
        by: &Principal,
        uscc: Uscc,
        class: CreditClass,
    ) -> Result<(), AppError> {
        authorize(
            by,
            Operation::SetCreditClass,
            Resource::Risk { office: None },
            &self.refdata,
        )?;
        risk_store(&*self.store)?.set_credit_class(uscc, class, &audit_actor(by), self.now())?;
        self.risk
            .credit
            .write()
            .expect("credit lock")
            .insert(uscc, class);
        Ok(())
    }

    /// The sampling policy the engine runs, for risk analysts and reviewers (who set credit
    /// classes). Not for enterprises: knowing the seed ahead of a filing tells which numbers
    /// would be sampled.
    pub fn sampling_policy(&self, by: &Principal) -> Result<SamplingView, AppError> {
        authorize(
            by,
            Operation::ViewRiskReport,
            Resource::Risk { office: None },
            &self.refdata,
        )
        .or_else(|_| {
            authorize(
                by,
                Operation::SetCreditClass,
                Resource::Risk { office: None },
                &self.refdata,
            )
        })?;
        let policy = self.risk.engine.snapshot().policy.clone();
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
        Ok(SamplingView {
            seed: policy.sampling.seed.clone(),
            classes,
            price_check: policy.price_check.clone(),
        })
    }

    /// Hit rate and effect of every rule, from the stored feedback.
    pub fn risk_report(&self, by: &Principal) -> Result<RiskReport, AppError> {
        authorize(
            by,
            Operation::ViewRiskReport,
            Resource::Risk { office: None },
            &self.refdata,
        )?;
        report_from_store(risk_store(&*self.store)?)
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
