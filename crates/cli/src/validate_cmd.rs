//! `jinguan validate FILE...`

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use domain::validate::{validate_json, DOCUMENT_BYTES_MAX};
use domain::Problems;
use serde::Serialize;

#[derive(clap::Args)]
pub struct Args {
    /// Declaration files in Jinguan's JSON form (see docs/declaration-json.md).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Print one JSON document for machines instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Outcome {
    file: String,
    /// `valid`, `invalid` or `unreadable`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Problems::is_empty")]
    problems: Problems,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Reads at most one byte past the limit, so a huge file costs no more than the limit.
fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?
        .take(DOCUMENT_BYTES_MAX as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    let reference = crate::load_reference(data_dir)?;
    let mut outcomes = Vec::new();
    for path in &args.files {
        let file = path.display().to_string();
        let outcome = match read_limited(path) {
            Err(e) => Outcome {
                file,
                status: "unreadable",
                summary: None,
                problems: Problems::default(),
                error: Some(e.to_string()),
            },
            Ok(bytes) => match validate_json(&bytes, &reference) {
                Ok(d) => Outcome {
                    file,
                    status: "valid",
                    summary: Some(format!(
                        "{} declaration at office {}, {} item(s), trader {}",
                        d.direction,
                        d.declaration_office,
                        d.items.len(),
                        d.trader.uscc
                    )),
                    problems: Problems::default(),
                    error: None,
                },
                Err(problems) => Outcome {
                    file,
                    status: "invalid",
                    summary: None,
                    problems,
                    error: None,
                },
            },
        };
        outcomes.push(outcome);
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    } else {
        for o in &outcomes {
            match o.status {
                "valid" => println!(
                    "{}: valid 有效 — {}",
                    o.file,
                    o.summary.as_deref().unwrap_or("")
                ),
                "unreadable" => {
                    println!(
                        "{}: unreadable 无法读取 — {}",
                        o.file,
                        o.error.as_deref().unwrap_or("")
                    )
                }
                _ => {
                    println!(
                        "{}: invalid 无效 — {} problem(s) 个问题",
                        o.file,
                        o.problems.len()
                    );
                    for p in o.problems.iter() {
                        let field = if p.field.is_empty() {
                            "(document)"
                        } else {
                            &p.field
                        };
                        println!("  {field} [{}]", p.code);
                        println!("    {}", p.message_zh);
                        println!("    {}", p.message_en);
                    }
                }
            }
        }
    }
    let code = if outcomes.iter().any(|o| o.status == "unreadable") {
        2
    } else if outcomes.iter().any(|o| o.status == "invalid") {
        1
    } else {
        0
    };
    Ok(ExitCode::from(code))
}
