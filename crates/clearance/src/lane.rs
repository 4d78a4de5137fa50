//! Choosing the lane: the [`LanePolicy`] seam that the risk engine (`risk::RiskLanePolicy`)
//! fills, its [`LaneContext`], and the simple [`DefaultLanePolicy`] kept for tests and
//! deployments without rules.

use chrono::NaiveDate;
use domain::codes::DeclarationNo;
use domain::declaration::Declaration;
use serde::{Deserialize, Serialize};

use crate::model::{Lane, LaneReason};

/// Enterprise credit class (docs/DOMAIN.md §5): sets the base intervention rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditClass {
    /// Advanced certified enterprise (AEO).
    AdvancedCertified,
    GeneralCertified,
    General,
    Discredited,
}

/// What is known about the declaring enterprise when the lane is chosen. The caller gathers it
/// (registry, credit management, history); the policy only reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnterpriseFacts {
    pub credit_class: CreditClass,
    /// Discrepancies found on this enterprise's declarations in the last 12 months.
    pub discrepancies_last_year: u32,
}

/// What a lane decision knows besides the declaration and the enterprise: the number given at
/// acceptance (random sampling hashes it with a published seed) and the day of the decision
/// (rule validity, watch-list expiry). Both are arguments: a policy never reads the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneContext {
    pub declaration_no: DeclarationNo,
    pub today: NaiveDate,
}

/// The policy's answer: a lane and why, ready for `Action::ChooseLane`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaneDecision {
    pub lane: Lane,
    /// Never empty: the reasons are recorded with the lane.
    pub reasons: Vec<LaneReason>,
    /// The inspection kind asked for (`document`, `physical`, `machine`, `sampling`,
    /// `post_clearance_audit`); `None` when the policy names none (always for green).
    #[serde(default)]
    pub inspection: Option<String>,
    /// Hold the declaration for anti-smuggling: the caller issues `Suspend` after `ChooseLane`.
    #[serde(default)]
    pub suspend: bool,
    /// Everything behind the decision (rules fired with their values, checks, the sampling
    /// draw). For officers only: never shown to the enterprise.
    #[serde(default)]
    pub explanation: Option<serde_json::Value>,
}

/// Chooses the lane of an accepted declaration. Pure and deterministic, like `decide`: any
/// randomness (sampling) must come from a seeded hash of its inputs (the declaration number of
/// the context) so an auditor can repeat it.
pub trait LanePolicy {
    fn choose(
        &self,
        ctx: &LaneContext,
        declaration: &Declaration,
        facts: &EnterpriseFacts,
    ) -> LaneDecision;
}

/// The placeholder policy, in order, first match wins:
///
/// 1. a discredited enterprise → **red** (`discredited_enterprise`);
/// 2. a general-class enterprise with a discrepancy in the last 12 months → **yellow**
///    (`recent_discrepancy`);
/// 3. otherwise → **green** (`default_green`).
///
/// It never chooses blue (that needs a post-clearance audit programme) and does no sampling;
/// both come with the risk engine, which replaces this policy behind [`LanePolicy`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DefaultLanePolicy;

impl LanePolicy for DefaultLanePolicy {
    fn choose(
        &self,
        _ctx: &LaneContext,
        _declaration: &Declaration,
        facts: &EnterpriseFacts,
    ) -> LaneDecision {
        let (lane, code, zh, en) = match facts.credit_class {
            CreditClass::Discredited => (
                Lane::Red,
                "discredited_enterprise",
                "失信企业，布控查验",
                "discredited enterprise: physical inspection",
            ),
            CreditClass::General if facts.discrepancies_last_year > 0 => (
                Lane::Yellow,
                "recent_discrepancy",
                "一般信用企业近一年有查验异常，单证审核",
                "general-class enterprise with a discrepancy in the last 12 months: document review",
            ),
            CreditClass::AdvancedCertified
            | CreditClass::GeneralCertified
            | CreditClass::General => (
                Lane::Green,
                "default_green",
                "未命中风险规则，直接放行通道",
                "no risk rule matched: no intervention",
            ),
        };
        let inspection = match lane {
            Lane::Red => Some("physical"),
            Lane::Yellow => Some("document"),
            Lane::Green | Lane::Blue => None,
        };
        LaneDecision {
            lane,
            reasons: vec![LaneReason {
                code: code.to_owned(),
                message_zh: zh.to_owned(),
                message_en: en.to_owned(),
            }],
            inspection: inspection.map(str::to_owned),
            suspend: false,
            explanation: None,
        }
    }
}
