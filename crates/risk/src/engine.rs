//! The engine: [`RiskState`] (compiled rules, watch lists, price references, policy; immutable)
//! decides the lane of one declaration ([`RiskState::decide`] → [`RiskDecision`]), and
//! [`RiskEngine`] holds the current state behind a lock so that rules, lists, references and
//! policy can be replaced while it serves, without a restart.
//!
//! Which lane wins (docs/RISK.md):
//! 1. Rules: among the rules that fire, those of the highest priority decide; among them the
//!    most intervening lane (green < blue < yellow < red). A high-priority green rule thus
//!    overrides lower-priority rules.
//! 2. Watch lists, price checks and sampling each propose a lane; the final lane is the most
//!    intervening of the rules' lane and these proposals. No rule lowers them.
//! 3. The declaration is held (suspended) if any fired rule or watch-list hit says so.

use std::sync::{Arc, RwLock};

use chrono::NaiveDate;
use clearance::{EnterpriseFacts, Lane, LaneContext, LaneDecision, LanePolicy, LaneReason};
use domain::codes::DeclarationNo;
use domain::declaration::Declaration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::compile::{CompiledRules, EvalStats};
use crate::facts::{ancestors, CnyRates, OfficeHierarchy, View};
use crate::price::{PriceCheckPolicy, PriceFinding, PriceKey, PriceReferences};
use crate::rule::{severity, InspectionKind};
use crate::sampling::{sample, SamplingOutcome, SamplingPolicy};
use crate::watch::{WatchHit, WatchLists};

/// Officer-set configuration: sampling rates and seed, price check thresholds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskPolicy {
    pub sampling: SamplingPolicy,
    pub price_check: PriceCheckPolicy,
}

/// Everything a decision reads besides the engine's own state.
pub struct DecisionInput<'a> {
    pub declaration: &'a Declaration,
    pub declaration_no: &'a DeclarationNo,
    pub enterprise: &'a EnterpriseFacts,
    /// The day of the decision (rule validity, watch-list expiry).
    pub today: NaiveDate,
    pub offices: &'a dyn OfficeHierarchy,
    pub rates: &'a dyn CnyRates,
}

/// A field and its value as the rule saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldValue {
    pub field: String,
    pub value: String,
}

/// A rule that fired, with what it saw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredRule {
    pub id: String,
    pub version: u32,
    pub priority: u32,
    pub lane: Lane,
    pub inspection: Option<InspectionKind>,
    pub suspend: bool,
    pub reason_code: String,
    pub message_zh: String,
    pub message_en: String,
    /// The first item it fired on (`None`: header fields only).
    pub item_no: Option<u16>,
    /// The fields its condition reads, with their values (for that item).
    pub values: Vec<FieldValue>,
    /// Whether it set the rules' lane (highest priority, most intervening lane).
    pub decisive: bool,
}

/// Everything behind a decision. For officers only: it names rules, thresholds and the draw,
/// which an enterprise must not see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub rule_set: String,
    pub rules_fired: Vec<FiredRule>,
    pub rules_candidates: u32,
    pub rules_evaluated: u32,
    pub watch_hits: Vec<WatchHit>,
    pub price_findings: Vec<PriceFinding>,
    /// Items whose price could not be checked: no reference with enough observations, or no
    /// exchange rate.
    pub price_unchecked_items: Vec<u16>,
    pub sampling: SamplingOutcome,
}

/// Where the final lane came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Rule,
    WatchList,
    PriceCheck,
    Sampling,
    Default,
}

/// One reason for the lane, as recorded with `ChooseLane`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionReason {
    pub source: Source,
    pub lane: Lane,
    pub code: String,
    pub message_zh: String,
    pub message_en: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskDecision {
    pub lane: Lane,
    /// `None` for green.
    pub inspection: Option<InspectionKind>,
    /// Hold for anti-smuggling: the caller issues `Suspend` after `ChooseLane`.
    pub suspend: bool,
    /// The reasons that set the lane (never empty), most decisive first.
    pub reasons: Vec<DecisionReason>,
    pub explanation: Explanation,
}

impl RiskDecision {
    /// The decision for `clearance::Action::ChooseLane`: lane, reasons, inspection kind, hold,
    /// and the explanation as JSON (officer-only).
    pub fn lane_decision(&self) -> LaneDecision {
        LaneDecision {
            lane: self.lane,
            reasons: self
                .reasons
                .iter()
                .map(|r| LaneReason {
                    code: r.code.clone(),
                    message_zh: r.message_zh.clone(),
                    message_en: r.message_en.clone(),
                })
                .collect(),
            inspection: self.inspection.map(|k| k.as_str().to_owned()),
            suspend: self.suspend,
            explanation: Some(
                serde_json::to_value(&self.explanation).expect("an explanation serialises"),
            ),
        }
    }

    /// Why the declaration is held, as `(reason, case number)` for `Suspend`: the first
    /// watch-list entry that holds (its case), else the first rule that holds (`id@version`).
    /// `None` when nothing holds.
    pub fn hold(&self) -> Option<(String, String)> {
        if !self.suspend {
            return None;
        }
        let e = &self.explanation;
        if let Some(w) = e.watch_hits.iter().find(|w| w.entry.suspend) {
            return Some((
                format!(
                    "watch list hold: {} {} ({})",
                    w.entry.kind.as_str(),
                    w.entry.value,
                    w.matched_field
                ),
                w.entry.case.clone(),
            ));
        }
        e.rules_fired.iter().find(|r| r.suspend).map(|r| {
            (
                format!("rule hold: {} ({})", r.reason_code, r.message_en),
                format!("{}@{}", r.id, r.version),
            )
        })
    }

    /// Whether the random sample chose it (feedback uses these as the unbiased baseline).
    pub fn sampled(&self) -> bool {
        self.explanation.sampling.lane.is_some()
    }
}

/// The state one decision reads; immutable and shared.
#[derive(Debug)]
pub struct RiskState {
    pub rules: Arc<CompiledRules>,
    pub watch: Arc<WatchLists>,
    pub prices: Arc<PriceReferences>,
    pub policy: Arc<RiskPolicy>,
}

impl Default for RiskState {
    fn default() -> Self {
        RiskState {
            rules: Arc::new(CompiledRules::empty()),
            watch: Arc::new(WatchLists::default()),
            prices: Arc::new(PriceReferences::default()),
            policy: Arc::new(RiskPolicy::default()),
        }
    }
}

fn lane_zh(l: Lane) -> &'static str {
    match l {
        Lane::Green => "绿色通道",
        Lane::Yellow => "黄色通道（单证审核）",
        Lane::Red => "红色通道（查验）",
        Lane::Blue => "蓝色通道（先放后核）",
    }
}

impl RiskState {
    pub fn decide(&self, input: &DecisionInput<'_>) -> RiskDecision {
        let d = input.declaration;
        let view = View::new(d, input.rates);
        let scope = ancestors(input.offices, d.declaration_office);
        let (hits, stats): (_, EvalStats) = self.rules.evaluate(&view, &scope, input.today);

        // 1. Rules: highest priority decides, then the most intervening lane.
        let top = hits
            .iter()
            .map(|h| {
                let r = &self.rules.rule(h.rule).rule;
                (r.priority, severity(r.action.lane))
            })
            .max();
        let mut rules_fired = Vec::with_capacity(hits.len());
        let mut proposals: Vec<(DecisionReason, Option<InspectionKind>)> = Vec::new();
        for h in &hits {
            let cr = self.rules.rule(h.rule);
            let r = &cr.rule;
            let decisive = top == Some((r.priority, severity(r.action.lane)));
            let item = h.item.unwrap_or(0);
            let values = cr
                .fields
                .iter()
                .map(|f| FieldValue {
                    field: f.name().to_owned(),
                    value: view.get(*f, item).render(),
                })
                .collect();
            let item_no = h.item.map(|i| view.item_nos[i]);
            if decisive {
                let at = item_no.map(|n| format!(" (item {n})")).unwrap_or_default();
                let at_zh = item_no.map(|n| format!("（第{n}项）")).unwrap_or_default();
                proposals.push((
                    DecisionReason {
                        source: Source::Rule,
                        lane: r.action.lane,
                        code: r.action.reason.code.clone(),
                        message_zh: format!("{}{at_zh}", r.action.reason.zh),
                        message_en: format!("{}{at}", r.action.reason.en),
                    },
                    r.action
                        .inspection
                        .or(InspectionKind::for_lane(r.action.lane)),
                ));
            }
            rules_fired.push(FiredRule {
                id: r.id.clone(),
                version: r.version,
                priority: r.priority,
                lane: r.action.lane,
                inspection: r.action.inspection,
                suspend: r.action.suspend,
                reason_code: r.action.reason.code.clone(),
                message_zh: r.action.reason.zh.clone(),
                message_en: r.action.reason.en.clone(),
                item_no,
                values,
                decisive,
            });
        }
        let mut suspend = rules_fired.iter().any(|r| r.suspend);

        // 2. Watch lists.
        let watch_hits = self.watch.check(d, input.today);
        for w in &watch_hits {
            suspend |= w.entry.suspend;
            proposals.push((
                DecisionReason {
                    source: Source::WatchList,
                    lane: w.entry.lane,
                    code: format!("watch_{}", w.entry.kind.as_str()),
                    message_zh: format!(
                        "布控名单命中（{}，案件 {}）",
                        w.matched_field, w.entry.case
                    ),
                    message_en: format!(
                        "on the {} watch list ({}, case {})",
                        w.entry.kind.as_str(),
                        w.matched_field,
                        w.entry.case
                    ),
                },
                InspectionKind::for_lane(w.entry.lane),
            ));
        }

        // 3. Price checks.
        let pc = &self.policy.price_check;
        let mut price_findings = Vec::new();
        let mut price_unchecked_items = Vec::new();
        for (i, it) in d.items.iter().enumerate() {
            let key = PriceKey {
                commodity: it.commodity_code,
                origin: it.origin_country,
                unit: it.declared_unit,
            };
            let price = match view.get(crate::field::Field::UnitPriceCny, i) {
                crate::facts::Value::Num(n) => Some(*n),
                crate::facts::Value::Absent | crate::facts::Value::Str(_) => None,
            };
            let reference = self.prices.get(&key).filter(|r| pc.threshold(r).is_some());
            match (price, reference) {
                (Some(p), Some(r)) => {
                    if let Some(f) = pc.check(it.item_no, key, p, r) {
                        price_findings.push(f);
                    }
                }
                (None, _) | (_, None) => price_unchecked_items.push(it.item_no),
            }
        }
        for f in &price_findings {
            proposals.push((
                DecisionReason {
                    source: Source::PriceCheck,
                    lane: pc.lane,
                    code: "price_below_reference".to_owned(),
                    message_zh: format!(
                        "第{}项单价 {} 元为参考中位价 {} 元的 {}%（阈值 {} 元，样本 {} 个）",
                        f.item_no,
                        f.unit_price_cny,
                        f.reference.median_cny.round_dp(4).normalize(),
                        f.percent_of_median,
                        f.threshold_cny,
                        f.reference.observations
                    ),
                    message_en: format!(
                        "item {}: unit price CNY {} is {}% of the reference median CNY {} (MAD {}, threshold {}, {} observations)",
                        f.item_no,
                        f.unit_price_cny,
                        f.percent_of_median,
                        f.reference.median_cny.round_dp(4).normalize(),
                        f.reference.mad_cny.round_dp(4).normalize(),
                        f.threshold_cny,
                        f.reference.observations
                    ),
                },
                Some(pc.inspection),
            ));
        }

        // 4. Sampling by credit class.
        let sampling = sample(
            &self.policy.sampling,
            input.enterprise.credit_class,
            input.declaration_no,
        );
        if let Some(lane) = sampling.lane {
            proposals.push((
                DecisionReason {
                    source: Source::Sampling,
                    lane,
                    code: "random_sample".to_owned(),
                    message_zh: format!(
                        "随机抽中（抽签值 {} ppm，{}率 {} ppm）",
                        sampling.draw_ppm,
                        lane_zh(lane),
                        match lane {
                            Lane::Red => sampling.red_ppm,
                            _ => sampling.red_ppm + sampling.yellow_ppm,
                        }
                    ),
                    message_en: format!(
                        "random sample: draw {} ppm under the class rate (red {} ppm, yellow {} ppm)",
                        sampling.draw_ppm, sampling.red_ppm, sampling.yellow_ppm
                    ),
                },
                InspectionKind::for_lane(lane),
            ));
        }

        // The final lane: the rules' decisive lane and the other proposals, most intervening.
        let lane = proposals
            .iter()
            .map(|(r, _)| r.lane)
            .max_by_key(|l| severity(*l))
            .unwrap_or(Lane::Green);
        let mut reasons = Vec::new();
        let mut inspection = None;
        for (r, k) in proposals {
            if r.lane == lane {
                if inspection.is_none() {
                    inspection = k;
                }
                reasons.push(r);
            }
        }
        if reasons.is_empty() {
            reasons.push(DecisionReason {
                source: Source::Default,
                lane: Lane::Green,
                code: "default_green".to_owned(),
                message_zh: "未命中风险规则，直接放行通道".to_owned(),
                message_en: "no risk rule matched: no intervention".to_owned(),
            });
        }
        if lane == Lane::Green {
            inspection = None;
        }
        debug_assert!(reasons.iter().all(|r| r.lane == lane));
        RiskDecision {
            lane,
            inspection,
            suspend,
            reasons,
            explanation: Explanation {
                rule_set: self.rules.fingerprint().to_owned(),
                rules_fired,
                rules_candidates: stats.candidates,
                rules_evaluated: stats.evaluated,
                watch_hits,
                price_findings,
                price_unchecked_items,
                sampling,
            },
        }
    }
}

/// The engine as a service holds it: the current [`RiskState`], replaceable part by part while
/// decisions run (each decision works on the state it started with).
#[derive(Debug, Default)]
pub struct RiskEngine {
    current: RwLock<Arc<RiskState>>,
}

impl RiskEngine {
    pub fn new(state: RiskState) -> RiskEngine {
        RiskEngine {
            current: RwLock::new(Arc::new(state)),
        }
    }

    /// The state now in force.
    pub fn snapshot(&self) -> Arc<RiskState> {
        // A panic while holding the lock cannot leave the Arc half-written: use it anyway.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn update(&self, f: impl FnOnce(&RiskState) -> RiskState) {
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        let next = f(&guard);
        *guard = Arc::new(next);
    }

    pub fn set_rules(&self, rules: Arc<CompiledRules>) {
        self.update(|s| RiskState {
            rules,
            watch: s.watch.clone(),
            prices: s.prices.clone(),
            policy: s.policy.clone(),
        });
    }

    pub fn set_watch_lists(&self, watch: Arc<WatchLists>) {
        self.update(|s| RiskState {
            rules: s.rules.clone(),
            watch,
            prices: s.prices.clone(),
            policy: s.policy.clone(),
        });
    }

    pub fn set_prices(&self, prices: Arc<PriceReferences>) {
        self.update(|s| RiskState {
            rules: s.rules.clone(),
            watch: s.watch.clone(),
            prices,
            policy: s.policy.clone(),
        });
    }

    pub fn set_policy(&self, policy: Arc<RiskPolicy>) {
        self.update(|s| RiskState {
            rules: s.rules.clone(),
            watch: s.watch.clone(),
            prices: s.prices.clone(),
            policy,
        });
    }

    pub fn decide(&self, input: &DecisionInput<'_>) -> RiskDecision {
        self.snapshot().decide(input)
    }
}

/// Adapter to `clearance::LanePolicy`: the context gives the declaration number (sampling) and
/// the day; the office tree and the exchange rates are fixed here.
pub struct RiskLanePolicy<'a> {
    pub state: &'a RiskState,
    pub offices: &'a dyn OfficeHierarchy,
    pub rates: &'a dyn CnyRates,
}

impl LanePolicy for RiskLanePolicy<'_> {
    fn choose(
        &self,
        ctx: &LaneContext,
        declaration: &Declaration,
        facts: &EnterpriseFacts,
    ) -> LaneDecision {
        self.state
            .decide(&DecisionInput {
                declaration,
                declaration_no: &ctx.declaration_no,
                enterprise: facts,
                today: ctx.today,
                offices: self.offices,
                rates: self.rates,
            })
            .lane_decision()
    }
}

/// Rounds a rate for reports: percent with 2 decimal places.
pub(crate) fn percent(part: u64, whole: u64) -> Option<Decimal> {
    if whole == 0 {
        return None;
    }
    let mut p = (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole)).round_dp(2);
    p.rescale(2);
    Some(p)
}
