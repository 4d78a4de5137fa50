//! The day's tally and report: volumes, lane mix, simulated clearance times, detection of the
//! planted violations (recall and precision, per kind and per rule), revenue assessed, and two
//! fingerprints that show a seed gives the same day.

use std::collections::BTreeMap;

use clearance::Lane;
use serde::Serialize;

use crate::gen::{SimDeclaration, Violation};
use crate::pipeline::Outcome;
use crate::rng::{fnv1a, mix, Rng};

/// Minutes tracked by the clearance-time histogram (longer times land in the last bucket).
const MINUTES_MAX: usize = 3 * 24 * 60;

#[derive(Clone, Debug, Default, Serialize)]
pub struct KindTally {
    pub planted: u64,
    /// Planted and given a lane other than green.
    pub intervened: u64,
    pub by_rule: u64,
    pub by_price_check: u64,
    pub by_watch_list: u64,
    /// Intervened only because the random sample chose it.
    pub by_sampling_only: u64,
    /// Rejected at validation (only for declarations also made invalid).
    pub rejected: u64,
    /// Not made invalid, but refused at filing (over HTTP: the licence ledger refusing an
    /// overused licence); counted as caught, like an intervention.
    pub refused_at_filing: u64,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RuleTally {
    pub fired: u64,
    pub on_planted: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tally {
    pub declarations: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Rejected although not made invalid on purpose, and not a planted violation refused at
    /// filing (should be 0 in memory; over HTTP, e.g. an honest filing on an exhausted licence).
    pub rejected_unexpected: u64,
    /// Made invalid on purpose and still accepted (should be 0).
    pub accepted_invalid: u64,
    pub imports: u64,
    pub exports: u64,
    pub lanes: BTreeMap<String, u64>,
    pub suspended: u64,
    pub by_office: BTreeMap<String, u64>,
    pub by_trade_mode: BTreeMap<String, u64>,
    pub revenue_fen: i64,
    pub tax_errors: u64,
    pub planted: BTreeMap<String, KindTally>,
    pub intervened: u64,
    pub intervened_planted: u64,
    pub rules: BTreeMap<String, RuleTally>,
    #[serde(skip)]
    pub minutes: Vec<[u64; 4]>,
    /// Sums of per-declaration digests (order-free, so threads may finish in any order).
    pub declarations_digest: u64,
    pub decisions_digest: u64,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            declarations: 0,
            accepted: 0,
            rejected: 0,
            rejected_unexpected: 0,
            accepted_invalid: 0,
            imports: 0,
            exports: 0,
            lanes: BTreeMap::new(),
            suspended: 0,
            by_office: BTreeMap::new(),
            by_trade_mode: BTreeMap::new(),
            revenue_fen: 0,
            tax_errors: 0,
            planted: BTreeMap::new(),
            intervened: 0,
            intervened_planted: 0,
            rules: BTreeMap::new(),
            minutes: vec![[0; 4]; MINUTES_MAX + 1],
            declarations_digest: 0,
            decisions_digest: 0,
        }
    }
}

fn lane_index(l: Lane) -> usize {
    match l {
        Lane::Green => 0,
        Lane::Yellow => 1,
        Lane::Red => 2,
        Lane::Blue => 3,
    }
}

/// Simulated minutes from filing to release: automatic lanes a few minutes (payment, release
/// message), document review up to three hours, inspection two to twelve hours, a day more when
/// held for anti-smuggling. Drawn from the declaration's own clock stream.
pub fn clearance_minutes(seed: u64, index: u64, lane: Lane, suspend: bool) -> u64 {
    let mut r = Rng::stream(seed, "clock", index);
    let m = match lane {
        Lane::Green | Lane::Blue => r.range(1, 5),
        Lane::Yellow => r.range(20, 180),
        Lane::Red => r.range(120, 720),
    };
    m + if suspend { 24 * 60 } else { 0 }
}

impl Tally {
    pub fn add(&mut self, seed: u64, d: &SimDeclaration, o: &Outcome) {
        self.declarations += 1;
        if d.import {
            self.imports += 1;
        } else {
            self.exports += 1;
        }
        *self.by_office.entry(d.office.to_owned()).or_default() += 1;
        *self
            .by_trade_mode
            .entry(d.trade_mode.to_owned())
            .or_default() += 1;
        self.declarations_digest = self
            .declarations_digest
            .wrapping_add(mix(fnv1a(&d.json) ^ d.index));
        let mut decision = d.index.wrapping_mul(31);
        let planted = d.planted.map(|p| p.kind);
        let kind_tally = planted.map(|k| k.as_str().to_owned());
        if let Some(k) = &kind_tally {
            self.planted.entry(k.clone()).or_default().planted += 1;
        }
        let Some(lane) = o.lane else {
            self.rejected += 1;
            match (&kind_tally, d.invalid) {
                (Some(k), true) => self.planted.entry(k.clone()).or_default().rejected += 1,
                (Some(k), false) if o.refused_at_filing => {
                    self.planted.entry(k.clone()).or_default().refused_at_filing += 1;
                }
                (_, true) => {}
                (_, false) => self.rejected_unexpected += 1,
            }
            self.decisions_digest = self.decisions_digest.wrapping_add(mix(decision ^ 0xDEAD));
            return;
        };
        self.accepted += 1;
        if d.invalid {
            self.accepted_invalid += 1;
        }
        *self.lanes.entry(lane.as_str().to_owned()).or_default() += 1;
        self.suspended += u64::from(o.suspend);
        self.revenue_fen += o.revenue_fen;
        self.tax_errors += u64::from(o.tax_error);
        for id in &o.rules {
            let t = self.rules.entry(id.clone()).or_default();
            t.fired += 1;
            t.on_planted += u64::from(planted.is_some());
            decision = decision.wrapping_add(fnv1a(id.as_bytes()));
        }
        decision ^= (lane_index(lane) as u64) << 56 | u64::from(o.suspend) << 60;
        self.decisions_digest = self
            .decisions_digest
            .wrapping_add(mix(decision ^ o.revenue_fen as u64));
        let intervened = lane != Lane::Green;
        if intervened {
            self.intervened += 1;
            self.intervened_planted += u64::from(planted.is_some());
        }
        if let (Some(k), true) = (&kind_tally, intervened) {
            let t = self.planted.entry(k.clone()).or_default();
            t.intervened += 1;
            t.by_rule += u64::from(!o.rules.is_empty());
            t.by_price_check += u64::from(o.price_flag);
            t.by_watch_list += u64::from(o.watch_hit);
            t.by_sampling_only +=
                u64::from(o.sampled && o.rules.is_empty() && !o.price_flag && !o.watch_hit);
        }
        let m = clearance_minutes(seed, d.index, lane, o.suspend) as usize;
        self.minutes[m.min(MINUTES_MAX)][lane_index(lane)] += 1;
    }

    pub fn merge(&mut self, o: Tally) {
        self.declarations += o.declarations;
        self.accepted += o.accepted;
        self.rejected += o.rejected;
        self.rejected_unexpected += o.rejected_unexpected;
        self.accepted_invalid += o.accepted_invalid;
        self.imports += o.imports;
        self.exports += o.exports;
        for (k, v) in o.lanes {
            *self.lanes.entry(k).or_default() += v;
        }
        self.suspended += o.suspended;
        for (k, v) in o.by_office {
            *self.by_office.entry(k).or_default() += v;
        }
        for (k, v) in o.by_trade_mode {
            *self.by_trade_mode.entry(k).or_default() += v;
        }
        self.revenue_fen += o.revenue_fen;
        self.tax_errors += o.tax_errors;
        for (k, v) in o.planted {
            let t = self.planted.entry(k).or_default();
            t.planted += v.planted;
            t.intervened += v.intervened;
            t.by_rule += v.by_rule;
            t.by_price_check += v.by_price_check;
            t.by_watch_list += v.by_watch_list;
            t.by_sampling_only += v.by_sampling_only;
            t.rejected += v.rejected;
            t.refused_at_filing += v.refused_at_filing;
        }
        self.intervened += o.intervened;
        self.intervened_planted += o.intervened_planted;
        for (k, v) in o.rules {
            let t = self.rules.entry(k).or_default();
            t.fired += v.fired;
            t.on_planted += v.on_planted;
        }
        for (a, b) in self.minutes.iter_mut().zip(o.minutes) {
            for i in 0..4 {
                a[i] += b[i];
            }
        }
        self.declarations_digest = self.declarations_digest.wrapping_add(o.declarations_digest);
        self.decisions_digest = self.decisions_digest.wrapping_add(o.decisions_digest);
    }

    /// Percentile `p` (0..=1) of clearance minutes over the given lanes.
    pub fn minutes_percentile(&self, lanes: &[usize], p: f64) -> u64 {
        let total: u64 = self
            .minutes
            .iter()
            .map(|b| lanes.iter().map(|l| b[*l]).sum::<u64>())
            .sum();
        if total == 0 {
            return 0;
        }
        let target = ((total as f64) * p).ceil().max(1.0) as u64;
        let mut acc = 0;
        for (m, b) in self.minutes.iter().enumerate() {
            acc += lanes.iter().map(|l| b[*l]).sum::<u64>();
            if acc >= target {
                return m as u64;
            }
        }
        MINUTES_MAX as u64
    }

    /// Rule families (the id up to the first `-`): fired, on planted declarations.
    pub fn rule_families(&self) -> BTreeMap<String, RuleTally> {
        let mut out: BTreeMap<String, RuleTally> = BTreeMap::new();
        for (id, t) in &self.rules {
            let fam = id.split('-').next().unwrap_or(id).to_owned();
            let f = out.entry(fam).or_default();
            f.fired += t.fired;
            f.on_planted += t.on_planted;
        }
        out
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Everything the command prints, as JSON.
pub fn to_json(t: &Tally, meta: serde_json::Value) -> serde_json::Value {
    let kinds: serde_json::Map<String, serde_json::Value> = Violation::ALL
        .iter()
        .map(|k| {
            let v = t.planted.get(k.as_str()).cloned().unwrap_or_default();
            (
                k.as_str().to_owned(),
                serde_json::json!({
                    "planted": v.planted, "intervened": v.intervened,
                    "recall": ratio(v.intervened + v.refused_at_filing, v.planted.saturating_sub(v.rejected)),
                    "by_rule": v.by_rule, "by_price_check": v.by_price_check,
                    "by_watch_list": v.by_watch_list, "by_sampling_only": v.by_sampling_only,
                    "rejected_invalid": v.rejected, "refused_at_filing": v.refused_at_filing,
                }),
            )
        })
        .collect();
    let mut top: Vec<(&String, &RuleTally)> = t.rules.iter().collect();
    top.sort_by(|a, b| b.1.fired.cmp(&a.1.fired).then(a.0.cmp(b.0)));
    let rules: Vec<serde_json::Value> = top
        .iter()
        .take(50)
        .map(|(id, r)| serde_json::json!({"id": id, "fired": r.fired, "on_planted": r.on_planted, "precision": ratio(r.on_planted, r.fired)}))
        .collect();
    let families: serde_json::Map<String, serde_json::Value> = t
        .rule_families()
        .into_iter()
        .map(|(k, r)| (k, serde_json::json!({"fired": r.fired, "on_planted": r.on_planted, "precision": ratio(r.on_planted, r.fired)})))
        .collect();
    let pct = |lanes: &[usize]| serde_json::json!({"p50": t.minutes_percentile(lanes, 0.5), "p90": t.minutes_percentile(lanes, 0.9), "p99": t.minutes_percentile(lanes, 0.99)});
    serde_json::json!({
        "meta": meta,
        "volumes": {"declarations": t.declarations, "accepted": t.accepted, "rejected": t.rejected,
            "rejected_unexpected": t.rejected_unexpected, "accepted_invalid": t.accepted_invalid,
            "imports": t.imports, "exports": t.exports, "by_office": t.by_office, "by_trade_mode": t.by_trade_mode},
        "lanes": t.lanes, "suspended": t.suspended,
        "clearance_minutes": {"all": pct(&[0, 1, 2, 3]), "green": pct(&[0]), "yellow": pct(&[1]), "red": pct(&[2]), "blue": pct(&[3])},
        "detection": {"intervened": t.intervened, "intervened_planted": t.intervened_planted,
            "precision": ratio(t.intervened_planted, t.intervened),
            "recall": ratio(t.intervened_planted + t.planted.values().map(|k| k.refused_at_filing).sum::<u64>(), t.planted.values().map(|k| k.planted - k.rejected).sum()),
            "by_kind": kinds, "rule_families": families, "rules_top": rules},
        "revenue": {"assessed_fen": t.revenue_fen, "assessed_yuan": t.revenue_fen / 100, "tax_errors": t.tax_errors},
        "fingerprints": {"declarations": format!("{:016x}", t.declarations_digest), "decisions": format!("{:016x}", t.decisions_digest)},
    })
}

/// The report as text.
pub fn to_text(v: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let vol = &v["volumes"];
    let _ = writeln!(s, "volumes: {} declarations ({} imports, {} exports); accepted {}, rejected {} (unexpected {}), invalid accepted {}",
        vol["declarations"], vol["imports"], vol["exports"], vol["accepted"], vol["rejected"], vol["rejected_unexpected"], vol["accepted_invalid"]);
    let acc = vol["accepted"].as_u64().unwrap_or(0).max(1) as f64;
    let _ = write!(s, "lanes:");
    for l in ["green", "blue", "yellow", "red"] {
        let n = v["lanes"][l].as_u64().unwrap_or(0);
        let _ = write!(s, " {l} {n} ({:.2} %)", n as f64 * 100.0 / acc);
    }
    let _ = writeln!(s, "; suspended {}", v["suspended"]);
    let _ = writeln!(s, "clearance minutes (simulated clock) p50/p90/p99: all {}/{}/{}, yellow {}/{}/{}, red {}/{}/{}",
        v["clearance_minutes"]["all"]["p50"], v["clearance_minutes"]["all"]["p90"], v["clearance_minutes"]["all"]["p99"],
        v["clearance_minutes"]["yellow"]["p50"], v["clearance_minutes"]["yellow"]["p90"], v["clearance_minutes"]["yellow"]["p99"],
        v["clearance_minutes"]["red"]["p50"], v["clearance_minutes"]["red"]["p90"], v["clearance_minutes"]["red"]["p99"]);
    let det = &v["detection"];
    let _ = writeln!(
        s,
        "detection: {} intervened, {} of them planted: precision {:.3}, recall {:.3}",
        det["intervened"],
        det["intervened_planted"],
        det["precision"].as_f64().unwrap_or(0.0),
        det["recall"].as_f64().unwrap_or(0.0)
    );
    let _ = writeln!(
        s,
        "  {:<20} {:>8} {:>10} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}",
        "kind", "planted", "intervened", "recall", "rule", "price", "watch", "sample", "refused"
    );
    if let Some(kinds) = det["by_kind"].as_object() {
        for (k, x) in kinds {
            let u = |f: &str| x[f].as_u64().unwrap_or(0);
            let _ = writeln!(
                s,
                "  {:<20} {:>8} {:>10} {:>7.3} {:>7} {:>7} {:>7} {:>8} {:>8}",
                k,
                u("planted"),
                u("intervened"),
                x["recall"].as_f64().unwrap_or(0.0),
                u("by_rule"),
                u("by_price_check"),
                u("by_watch_list"),
                u("by_sampling_only"),
                u("refused_at_filing")
            );
        }
    }
    let _ = writeln!(s, "  rule families (fired / on planted / precision):");
    if let Some(f) = det["rule_families"].as_object() {
        for (k, x) in f {
            let _ = writeln!(
                s,
                "    {:<6} {:>9} {:>9} {:>7.3}",
                k,
                x["fired"].as_u64().unwrap_or(0),
                x["on_planted"].as_u64().unwrap_or(0),
                x["precision"].as_f64().unwrap_or(0.0)
            );
        }
    }
    let _ = writeln!(
        s,
        "revenue assessed: CNY {} ({} declarations not assessable)",
        v["revenue"]["assessed_yuan"], v["revenue"]["tax_errors"]
    );
    let _ = writeln!(
        s,
        "fingerprints: declarations {} decisions {}",
        v["fingerprints"]["declarations"].as_str().unwrap_or(""),
        v["fingerprints"]["decisions"].as_str().unwrap_or("")
    );
    s
}
