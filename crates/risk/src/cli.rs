//! The logic of `jinguan risk …`, as functions from file contents to printed text and an exit
//! code, so the binary's module stays a thin wrapper and the commands are tested here.

use serde_json::json;

use crate::feedback::FeedbackLog;
use crate::rule::RuleSet;
use crate::sampling::draw_ppm;

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
    let mut rows = Vec::new();
    let mut ok = true;
    for n in numbers {
        match domain::codes::DeclarationNo::parse(n.trim()) {
            Ok(no) => rows
                .push(json!({ "declaration_no": no.to_string(), "draw_ppm": draw_ppm(seed, &no) })),
            Err(e) => {
                ok = false;
                rows.push(json!({ "declaration_no": n, "error": e.to_string() }));
            }
        }
    }
    let stdout = if as_json {
        json!({ "seed": seed, "draws": rows }).to_string() + "\n"
    } else {
        rows.iter()
            .map(|r| match r.get("draw_ppm") {
                Some(d) => format!("{} {}\n", r["declaration_no"].as_str().unwrap_or(""), d),
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
