//! The risk engine's part of the demo, set up through the analysts' and officers' own use cases
//! before any declaration is filed: the demo rule set (`examples/risk/demo.rules`, stored as
//! the first version by `hq-analyst`), the credit classes of the demo enterprises (set by
//! `sh-chief`, a reviewer), one watch-list entry, and the published sampling seed (the first
//! risk policy version, by `hq-analyst`).
//!
//! What it gives (docs/RISK.md "Demo"): red for every filing of the discredited enterprise
//! (`ent-bj`, rule `DEMO-DISCREDITED-RED`), blue for the large imports of the AEO enterprise
//! (`ent-sh`, rule `DEMO-AEO-BLUE`), yellow for the enterprise on the watch list (`ent-sh2`),
//! green for the rest unless the sampling draw says otherwise; every decision's explanation is
//! in its `LaneChosen` event, for officers.

use std::sync::Arc;

use clearance::Lane;
use domain::codes::Uscc;
use risk::{RiskPolicy, SamplingPolicy};

use crate::error::AppError;
use crate::risk_desk::{NewRiskPolicy, NewWatchEntry};
use crate::service::Clearance;

use super::{principal, ENTERPRISES};

/// The demo's rule set, in the rule file format.
pub const DEMO_RULES: &str = include_str!("../../../../examples/risk/demo.rules");

/// The published seed of the demo's sampling draws (`jinguan risk draw --seed …` repeats them).
pub const DEMO_SAMPLING_SEED: &str = "jinguan-demo-sampling-2026";

/// The enterprise on the demo's watch list (上海示例贸易, login `ent-sh2`) and its case.
pub const WATCHED_ENTERPRISE: &str = "91310000132149237G";
pub const WATCH_CASE: &str = "JS-DEMO-2026-001";

/// Set the risk engine up for the demo. Safe to run again: a stored rule set, a stored risk
/// policy, a class already set and a watch list with entries are kept as they are.
pub fn load(svc: &Clearance) -> Result<(), AppError> {
    let Some(rs) = svc.store().risk_store() else {
        // A backend without risk storage: lanes by sampling alone, with the demo's seed.
        svc.risk_desk().engine.set_policy(Arc::new(RiskPolicy {
            sampling: SamplingPolicy {
                seed: DEMO_SAMPLING_SEED.to_owned(),
                ..SamplingPolicy::default()
            },
            ..RiskPolicy::default()
        }));
        return Ok(());
    };
    let analyst = principal(svc, "hq-analyst")?;
    if rs.rules()?.is_none() {
        svc.risk().put_risk_rules(&analyst, DEMO_RULES, Some(0))?;
    }
    // The demo's seed, published by HQ as the first policy version (the class rates are the
    // defaults); a policy an analyst has set since is kept.
    if rs.risk_policy()?.is_none() {
        let demo_policy = NewRiskPolicy {
            seed: DEMO_SAMPLING_SEED.into(),
            classes: Vec::new(),
            price_check: None,
        };
        svc.risk().put_risk_policy(&analyst, demo_policy, 0)?;
    }
    let reviewer = principal(svc, "sh-chief")?;
    let stored = rs.credit_classes()?;
    for (uscc, _, class, _) in ENTERPRISES {
        let uscc = Uscc::parse(uscc).expect("demo USCCs are valid");
        if !stored.iter().any(|c| c.uscc == uscc) {
            svc.risk().set_credit_class(
                &reviewer,
                uscc,
                class,
                "demo: class decided before Jinguan",
            )?;
        }
    }
    if rs.watch_entries()?.is_empty() {
        svc.risk().add_watch_entry(
            &analyst,
            NewWatchEntry {
                kind: "enterprise".into(),
                value: WATCHED_ENTERPRISE.into(),
                lane: Lane::Yellow,
                suspend: false,
                case: WATCH_CASE.into(),
                until: None,
            },
        )?;
    }
    Ok(())
}
