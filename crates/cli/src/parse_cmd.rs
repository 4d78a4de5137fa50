//! `jinguan parse KIND VALUE`

use std::path::Path;
use std::process::ExitCode;

use domain::codes::{
    CodeError, CustomsCode, DeclarationNo, EntryNumber, HsCode, OfficeCode, PreEntryNo, ResidentId,
    Uscc,
};
use serde_json::{json, Value};

#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// Unified social credit code (GB 32100: authority, category, division, GB 11714
    /// organisation code, check character).
    Uscc,
    /// Resident identity number (GB 11643: division, birth date, sequence, check character).
    ResidentId,
    /// Customs enterprise code (10 characters).
    CustomsCode,
    /// Customs declaration number (18 digits).
    DeclarationNo,
    /// Pre-entry number (18 characters).
    PreEntryNo,
    /// Customs office code (4 digits).
    Office,
    /// Commodity code (10 digits).
    Commodity,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    kind: Kind,
    value: String,
    /// Accepted for compatibility: a USCC's organisation code (positions 9–17) is now always
    /// checked (GB 32100-2015 4.3).
    #[arg(long, hide = true)]
    strict: bool,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

fn entry_parts(n: &EntryNumber) -> Value {
    json!({
        "office": n.office().as_str(),
        "year": n.year(),
        "direction": n.direction().to_string(),
        // A string of nine digits: the leading zeros are part of the number.
        "serial": format!("{:09}", n.serial()),
    })
}

/// Why a value is refused: a stable code and the reason in Chinese and English.
struct Refusal {
    code: &'static str,
    zh: String,
    en: String,
}

impl From<CodeError> for Refusal {
    fn from(e: CodeError) -> Self {
        Refusal {
            code: e.code(),
            zh: e.message_zh(),
            en: e.to_string(),
        }
    }
}

/// The value as typed: no trimming, so that the normalisation policy (refuse, naming the
/// problem) is the same here as everywhere else.
fn parts(
    data_dir: &Path,
    today: chrono::NaiveDate,
    args: &Args,
) -> anyhow::Result<Result<Value, Refusal>> {
    let v = args.value.as_str();
    let _ = args.strict;
    Ok(match args.kind {
        Kind::Uscc => Uscc::parse(v).map_err(Refusal::from).map(|u| {
            json!({
                "registration_authority": u.registration_authority().to_string(),
                "entity_type": u.entity_type().to_string(),
                "division": u.division(),
                "organisation_code": u.organisation_code(),
                "check_character": &u.as_str()[17..],
                "organisation_code_check": u.check_organisation_code().is_ok(),
            })
        }),
        Kind::ResidentId => ResidentId::parse_on(v, today)
            .map_err(Refusal::from)
            .map(|id| {
                json!({
                    "division": id.division(),
                    "birth_date": id.birth_date().to_string(),
                    "sequence": id.sequence(),
                    "sex": if id.is_male() { "male" } else { "female" },
                    "check_character": &id.as_str()[17..],
                })
            }),
        Kind::CustomsCode => CustomsCode::parse(v).map_err(Refusal::from).map(|c| {
            json!({
                "locality": c.locality(),
                "zone": c.zone().to_string(),
                "zone_name": c.zone_name(),
                "enterprise_type": c.enterprise_type().to_string(),
                "enterprise_type_name": c.enterprise_type_name(),
                "sequence": c.sequence(),
            })
        }),
        Kind::DeclarationNo => DeclarationNo::parse(v)
            .map(|n| entry_parts(&n.entry_number()))
            .map_err(Refusal::from),
        Kind::PreEntryNo => PreEntryNo::parse(v)
            .map(|n| entry_parts(&n.entry_number()))
            .map_err(Refusal::from),
        Kind::Office => match OfficeCode::parse(v) {
            Err(e) => Err(e.into()),
            Ok(code) => {
                let reference = crate::load_reference(data_dir)?;
                match domain::reference::Reference::office(&reference, code) {
                    Some(o) => Ok(json!({
                        "name_zh": o.name_zh,
                        "name_en": o.name_en,
                        "level": o.level,
                        "parent": o.parent.map(|p| p.to_string()),
                    })),
                    None => Err(Refusal {
                        code: "unknown_code",
                        zh: "格式正确，但不在关区代码表中（可用 `jinguan refdata import offices FILE` 导入官方代码表）".into(),
                        en: "well formed, but not in the office table (import the official table with `jinguan refdata import offices FILE`)".into(),
                    }),
                }
            }
        },
        Kind::Commodity => match HsCode::parse(v) {
            Err(e) => Err(e.into()),
            Ok(code) => {
                let reference = crate::load_reference(data_dir)?;
                let versions = reference.tariff_versions(code);
                Ok(json!({
                    "chapter": code.chapter(),
                    "heading": code.heading(),
                    "hs6": code.hs6(),
                    "tariff_line": code.tariff8(),
                    "in_tariff": !versions.is_empty(),
                    "description_zh": versions.last().map(|l| l.description_zh.clone()),
                    "description_en": versions.last().map(|l| l.description_en.clone()),
                }))
            }
        },
    })
}

pub fn run(data_dir: &Path, args: Args) -> anyhow::Result<ExitCode> {
    // The binary's edge, where the clock may be read: a birth date may not be after today.
    let today = domain::time::china_date(chrono::Utc::now());
    let result = parts(data_dir, today, &args)?;
    let kind = clap::ValueEnum::to_possible_value(&args.kind).expect("no skipped variants");
    let kind = kind.get_name();
    match result {
        Ok(parts) => {
            if args.json {
                println!(
                    "{}",
                    json!({"kind": kind, "value": args.value, "valid": true, "parts": parts})
                );
            } else {
                println!("{} {}: valid 有效", kind, args.value);
                for (k, v) in parts.as_object().expect("parts are an object") {
                    let v = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    println!("  {k}: {v}");
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                println!(
                    "{}",
                    json!({"kind": kind, "value": args.value, "valid": false, "code": e.code, "message_en": e.en, "message_zh": e.zh})
                );
            } else {
                println!("{} {:?}: invalid 无效", kind, args.value);
                println!("  {}", e.zh);
                println!("  {}", e.en);
            }
            Ok(ExitCode::from(1))
        }
    }
}
