//! The logic of `jinguan risk …`, as functions from file contents to printed text and an exit
//! code, so the binary's module stays a thin wrapper and the commands are tested here.

use serde_json::json;

use crate::feedback::FeedbackLog;
use crate::rule::RuleSet;
use crate::sampling::{draw_ppm, ClassRates, PPM};

/// What a command prints and how it exits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub exit_code: u8,
}

/// `jinguan risk check RULES_FILE [--json]`: 0 when the file is valid (with a summary), 1 with
/// every error otherwise.
pub fn check(file_name: &str, text: &str, as_json: bool) -> Output {
    match RuleSet::parse(text) {
        Ok(set) => {
            let ids: std::collections::BTreeSet<&str> =
                set.rules().iter().map(|r| r.id.as_str()).collect();
            let compiled = crate::compile::CompiledRules::compile(&set, chrono::NaiveDate::MIN);
            let stdout = if as_json {
                json!({
                    "file": file_name,
                    "valid": true,
                    "rules": ids.len(),
                    "versions": set.len(),
                    "unindexed_versions": compiled.unanchored(),
                    "fingerprint": set.fingerprint(),
                })
                .to_string()
                    + "\n"
            } else {
                format!(
                    "{file_name}: ok, {} rules ({} versions), {} checked on every declaration, fingerprint {}\n",
                    ids.len(),
                    set.len(),
                    compiled.unanchored(),
                    set.fingerprint()
                )
            };
            Output {
                stdout,
                exit_code: 0,
            }
        }
        Err(errors) => {
            let stdout = if as_json {
                json!({ "file": file_name, "valid": false, "errors": errors }).to_string() + "\n"
            } else {
                let mut s = String::new();
                for e in &errors {
                    s.push_str(&format!("{file_name}:{e}\n"));
                }
                s.push_str(&format!("{file_name}: {} error(s)\n", errors.len()));
                s
            };
            Output {
                stdout,
                exit_code: 1,
            }
        }
    }
}

/// `jinguan risk report FEEDBACK_FILE [--json]`: the hit rate and effect of every rule from a
/// feedback file (JSON lines, docs/RISK.md). 0 on success, 1 when lines are invalid.
pub fn report(file_name: &str, text: &str, as_json: bool) -> Output {
    match FeedbackLog::parse_jsonl(text) {
        Ok(log) => {
            let r = log.report();
            let stdout = if as_json {
                serde_json::to_string_pretty(&r).expect("serialises") + "\n"
            } else {
                r.to_text()
            };
            Output {
                stdout,
                exit_code: 0,
            }
        }
        Err(errors) => {
            let stdout = if as_json {
                json!({ "file": file_name, "errors": errors }).to_string() + "\n"
            } else {
                let mut s = String::new();
                for e in &errors {
                    s.push_str(&format!("{file_name}:{}: {}\n", e.line, e.message));
                }
                s
            };
            Output {
                stdout,
                exit_code: 1,
            }
        }
    }
}

/// `jinguan risk draw --seed SEED NUMBER…`: the sampling draw of each declaration number, for
/// auditors. 0 when every number parses, 1 otherwise.
pub fn draw(seed: &str, numbers: &[String], as_json: bool) -> Output {
    draw_with_rates(seed, None, numbers, as_json)
}

/// `jinguan risk draw --seed SEED [--red-ppm R --yellow-ppm Y] NUMBER…`: the draw of each
/// declaration number and, given the rates of the enterprise's credit class (as
/// `GET /api/risk/sampling` publishes them), the lane sampling chose (`red`, `yellow` or
/// `none`), so an auditor repeats the whole choice. 0 when every number parses, 1 otherwise
/// (also when the rates add up to more than 1,000,000 ppm).
pub fn draw_with_rates(
    seed: &str,
    rates: Option<ClassRates>,
    numbers: &[String],
    as_json: bool,
) -> Output {
    if let Some(r) = rates {
        let total = u64::from(r.red_ppm) + u64::from(r.yellow_ppm);
        if total > u64::from(PPM) {
            let msg = format!(
                "red and yellow rates add up to {total} ppm, more than 1,000,000 / 抽中比例之和超过 100%"
            );
            return Output {
                stdout: if as_json {
                    json!({ "seed": seed, "error": msg }).to_string() + "\n"
                } else {
                    format!("error: {msg}\n")
                },
                exit_code: 1,
            };
        }
    }
    let mut rows = Vec::new();
    let mut ok = true;
    for n in numbers {
        match domain::codes::DeclarationNo::parse(n.trim()) {
            Ok(no) => {
                let d = draw_ppm(seed, &no);
                let mut row = json!({ "declaration_no": no.to_string(), "draw_ppm": d });
                if let Some(r) = rates {
                    row["lane"] = json!(r.lane_for(d).map_or("none", |l| l.as_str()));
                }
                rows.push(row);
            }
            Err(e) => {
                ok = false;
                rows.push(json!({ "declaration_no": n, "error": e.to_string() }));
            }
        }
    }
    let stdout = if as_json {
        let mut doc = json!({ "seed": seed, "draws": rows });
        if let Some(r) = rates {
            doc["red_ppm"] = json!(r.red_ppm);
            doc["yellow_ppm"] = json!(r.yellow_ppm);
        }
        doc.to_string() + "\n"
    } else {
        rows.iter()
            .map(|r| match r.get("draw_ppm") {
                Some(d) => match r.get("lane").and_then(|l| l.as_str()) {
                    Some(lane) => format!(
                        "{} {} {lane}\n",
                        r["declaration_no"].as_str().unwrap_or(""),
                        d
                    ),
                    None => format!("{} {}\n", r["declaration_no"].as_str().unwrap_or(""), d),
                },
                None => format!(
                    "{} error: {}\n",
                    r["declaration_no"].as_str().unwrap_or(""),
                    r["error"].as_str().unwrap_or("")
                ),
            })
            .collect()
    };
    Output {
        stdout,
        exit_code: if ok { 0 } else { 1 },
    }
}
