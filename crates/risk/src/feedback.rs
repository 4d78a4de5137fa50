//! Feedback (docs/DOMAIN.md §5): what each decision fired and what review or inspection then found
//! ([`FeedbackRecord`], one JSON object per line in a [`FeedbackLog`]), and the report of each
//! rule's hit rate and effect ([`RiskReport`]): the share of its examined declarations where
//! something was found, against the baseline of declarations chosen by random sampling alone.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use clearance::{ExaminationResult, FindingKind, Lane};
use domain::codes::DeclarationNo;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::engine::{percent, RiskDecision};

pub const RECORDS_MAX: usize = 10_000_000;

/// One decision and, once known, the result of its examination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackRecord {
    pub declaration_no: DeclarationNo,
    pub lane: Lane,
    /// Rules that fired, as `id@version`.
    #[serde(default)]
    pub rules: Vec<String>,
    #[serde(default)]
    pub sampled: bool,
    #[serde(default)]
    pub price_flagged: bool,
    #[serde(default)]
    pub watch_hit: bool,
    /// `None`: not examined (green or blue) or not yet recorded.
    #[serde(default)]
    pub found: Option<bool>,
    #[serde(default)]
    pub findings: Vec<FindingKind>,
}

impl FeedbackRecord {
    pub fn from_decision(declaration_no: DeclarationNo, d: &RiskDecision) -> FeedbackRecord {
        FeedbackRecord {
            declaration_no,
            lane: d.lane,
            rules: d
                .explanation
                .rules_fired
                .iter()
                .map(|r| format!("{}@{}", r.id, r.version))
                .collect(),
            sampled: d.sampled(),
            price_flagged: !d.explanation.price_findings.is_empty(),
            watch_hit: !d.explanation.watch_hits.is_empty(),
            found: None,
            findings: Vec::new(),
        }
    }

    /// Records the result of document review or inspection.
    pub fn record(&mut self, result: &ExaminationResult) {
        match result {
            ExaminationResult::Conform => {
                self.found = Some(false);
                self.findings.clear();
            }
            ExaminationResult::Discrepancy { findings } => {
                self.found = Some(true);
                self.findings = findings.iter().map(|f| f.kind).collect();
            }
        }
    }

    /// Chosen by sampling alone: no rule, list or price check was involved.
    fn baseline(&self) -> bool {
        self.sampled && self.rules.is_empty() && !self.price_flagged && !self.watch_hit
    }
}

/// A problem in a feedback file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineError {
    pub line: u32,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedbackLog {
    pub records: Vec<FeedbackRecord>,
}

impl FeedbackLog {
    /// One JSON object per line; blank lines and lines starting with `#` are skipped. Every bad
    /// line is reported.
    pub fn parse_jsonl(text: &str) -> Result<FeedbackLog, Vec<LineError>> {
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            if records.len() >= RECORDS_MAX {
                errors.push(LineError {
                    line: i as u32 + 1,
                    message: format!("more than {RECORDS_MAX} records"),
                });
                break;
            }
            match serde_json::from_str::<FeedbackRecord>(t) {
                Ok(r) => records.push(r),
                Err(e) => errors.push(LineError {
                    line: i as u32 + 1,
                    message: e.to_string(),
                }),
            }
        }
        if errors.is_empty() {
            Ok(FeedbackLog { records })
        } else {
            Err(errors)
        }
    }

    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            out.push_str(&serde_json::to_string(r).expect("serialises"));
            out.push('\n');
        }
        out
    }

    pub fn report(&self) -> RiskReport {
        let mut all = Counts::default();
        let mut baseline = Counts::default();
        let mut rules: BTreeMap<String, Counts> = BTreeMap::new();
        let mut checks: BTreeMap<&'static str, Counts> = BTreeMap::new();
        let mut lanes: BTreeMap<String, u64> = BTreeMap::new();
        for r in &self.records {
            all.add(r);
            *lanes.entry(r.lane.to_string()).or_default() += 1;
            if r.baseline() {
                baseline.add(r);
            }
            let mut seen: Vec<&str> = Vec::new();
            for label in &r.rules {
                if !seen.contains(&label.as_str()) {
                    seen.push(label);
                    rules.entry(label.clone()).or_default().add(r);
                }
            }
            for (name, on) in [
                ("sampling", r.sampled),
                ("price_check", r.price_flagged),
                ("watch_list", r.watch_hit),
            ] {
                if on {
                    checks.entry(name).or_default().add(r);
                }
            }
        }
        let base_rate = percent(baseline.found, baseline.examined);
        let stats = |name: String, c: &Counts| {
            let hit = percent(c.found, c.examined);
            RuleStats {
                name,
                fired: c.fired,
                examined: c.examined,
                found: c.found,
                hit_rate_percent: hit,
                lift: match (hit, base_rate) {
                    (Some(h), Some(b)) if !b.is_zero() => {
                        let mut l = (h / b).round_dp(2);
                        l.rescale(2);
                        Some(l)
                    }
                    _ => None,
                },
                findings: c.findings.clone(),
            }
        };
        RiskReport {
            decisions: all.fired,
            examined: all.examined,
            found: all.found,
            lanes,
            baseline: stats("baseline (random sample only)".to_owned(), &baseline),
            rules: rules.iter().map(|(k, c)| stats(k.clone(), c)).collect(),
            checks: checks
                .iter()
                .map(|(k, c)| stats((*k).to_owned(), c))
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Counts {
    fired: u64,
    examined: u64,
    found: u64,
    findings: BTreeMap<String, u64>,
}

impl Counts {
    fn add(&mut self, r: &FeedbackRecord) {
        self.fired += 1;
        if let Some(found) = r.found {
            self.examined += 1;
            if found {
                self.found += 1;
                for f in &r.findings {
                    let name = serde_json::to_value(f)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    *self.findings.entry(name).or_default() += 1;
                }
            }
        }
    }
}

/// Hit rate and effect of one rule version (or check).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    pub name: String,
    /// Decisions it fired on.
    pub fired: u64,
    /// Of those, examined with a result recorded.
    pub examined: u64,
    /// Of those, with a discrepancy found.
    pub found: u64,
    /// found ÷ examined, percent.
    pub hit_rate_percent: Option<Decimal>,
    /// Hit rate ÷ the baseline's: how many times better than random selection.
    pub lift: Option<Decimal>,
    pub findings: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskReport {
    pub decisions: u64,
    pub examined: u64,
    pub found: u64,
    pub lanes: BTreeMap<String, u64>,
    pub baseline: RuleStats,
    pub rules: Vec<RuleStats>,
    pub checks: Vec<RuleStats>,
}

fn opt(d: Option<Decimal>, suffix: &str) -> String {
    d.map_or_else(|| "-".to_owned(), |d| format!("{d}{suffix}"))
}

impl RiskReport {
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "decisions {}  examined {}  found {}",
            self.decisions, self.examined, self.found
        );
        let lanes: Vec<String> = self.lanes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "lanes: {}", lanes.join(", "));
        let _ = writeln!(
            out,
            "\n{:<32} {:>9} {:>9} {:>7} {:>9} {:>6}  findings",
            "rule / check", "fired", "examined", "found", "hit rate", "lift"
        );
        let row = |out: &mut String, s: &RuleStats| {
            let findings: Vec<String> =
                s.findings.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(
                out,
                "{:<32} {:>9} {:>9} {:>7} {:>9} {:>6}  {}",
                s.name,
                s.fired,
                s.examined,
                s.found,
                opt(s.hit_rate_percent, "%"),
                opt(s.lift, "×"),
                findings.join(", ")
            );
        };
        row(&mut out, &self.baseline);
        for s in &self.checks {
            row(&mut out, s);
        }
        for s in &self.rules {
            row(&mut out, s);
        }
        out
    }
}
