//! `jinguan convert --from FORMAT --to FORMAT [FILE]`: one declaration from one interchange
//! format to another through the one JSON form (docs/FORMATS.md). Reads FILE or standard
//! input, writes standard output; problems go to standard error with their place in the input's
//! terms, in Chinese and English.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use domain::declaration::DeclarationForm;
use domain::Problem;
use formats::{cusdec, decmessage, wcodm};

/// The formats a declaration can be read from and written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Jinguan's JSON form (docs/declaration-json.md).
    Json,
    /// The single-window `DecMessage` XML (UTF-8, or GB2312/GBK by its prolog when read).
    Decmessage,
    /// A UN/EDIFACT D.96B CUSDEC interchange.
    Cusdec,
    /// A WCO Data Model 3.6 declaration (`md:MetaData` with a `Declaration`).
    Wcodm,
}

#[derive(clap::Args)]
pub struct Args {
    /// The input's format.
    #[arg(long, value_enum)]
    from: Format,
    /// The output's format.
    #[arg(long, value_enum)]
    to: Format,
    /// The client sequence number to write (default: the input's own, `DecSign/ClientSeqNo`,
    /// `BGM` 1004 or `FunctionalReferenceID`).
    #[arg(long)]
    client_seq_no: Option<String>,
    /// The input file (standard input when absent).
    file: Option<PathBuf>,
}

/// Largest input read (as every reader's limit).
const BYTES_MAX: u64 = 1024 * 1024;

fn read_input(file: Option<&PathBuf>) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    match file {
        Some(path) => std::fs::File::open(path)?
            .take(BYTES_MAX + 1)
            .read_to_end(&mut bytes)?,
        None => std::io::stdin()
            .lock()
            .take(BYTES_MAX + 1)
            .read_to_end(&mut bytes)?,
    };
    Ok(bytes)
}

/// Read a declaration in a format: the form and the document's own client sequence number.
pub fn read(
    format: Format,
    bytes: &[u8],
) -> Result<(DeclarationForm, Option<String>), Vec<Problem>> {
    match format {
        Format::Json => domain::validate::parse_form(bytes)
            .map(|f| (f, None))
            .map_err(domain::Problems::into_vec),
        Format::Decmessage => decmessage::parse_filing(bytes).map(|f| (f.form, f.client_seq_no)),
        Format::Cusdec => cusdec::parse(bytes).map(|f| (f.form, f.client_seq_no)),
        Format::Wcodm => wcodm::parse_filing(bytes).map(|f| (f.form, f.client_seq_no)),
    }
}

/// Write a form in a format. Fields the format has no place for are problems (nothing is
/// dropped silently).
pub fn write(
    format: Format,
    form: &DeclarationForm,
    client_seq_no: Option<&str>,
) -> Result<String, Vec<Problem>> {
    if format != Format::Json {
        let lost = decmessage::unprintable(form);
        if !lost.is_empty() {
            return Err(lost
                .into_iter()
                .map(|path| {
                    Problem::new(
                        path.clone(),
                        "not_carried",
                        format!("目标格式没有 {path} 的位置，未转换"),
                        format!("the target format has no place for {path}; nothing written"),
                    )
                })
                .collect());
        }
    }
    Ok(match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(form).map_err(|e| {
                vec![Problem::new(
                    "",
                    "json",
                    format!("无法写出 JSON：{e}"),
                    format!("cannot write JSON: {e}"),
                )]
            })?;
            s.push('\n');
            s
        }
        Format::Decmessage => decmessage::print(form, client_seq_no),
        Format::Wcodm => wcodm::print(form, client_seq_no),
        Format::Cusdec => {
            let now = chrono::Utc::now().with_timezone(&domain::time::CHINA);
            let env = cusdec::Envelope {
                sender: "JINGUAN".into(),
                recipient: "UNKNOWN".into(),
                date: now.format("%y%m%d").to_string(),
                time: now.format("%H%M").to_string(),
                control_reference: "1".into(),
                message_reference: "1".into(),
            };
            cusdec::print(form, client_seq_no, &env)
        }
    })
}

fn report(problems: &[Problem]) {
    let mut err = std::io::stderr().lock();
    for p in problems {
        let place = if p.field.is_empty() {
            "(document)"
        } else {
            &p.field
        };
        let _ = writeln!(err, "{place}: {}", p.code);
        let _ = writeln!(err, "    {}", p.message_zh);
        let _ = writeln!(err, "    {}", p.message_en);
    }
}

/// Exit status: 0 converted, 1 the input has problems or the output cannot carry a field
/// (listed on standard error), 2 the input could not be read.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let bytes = match read_input(args.file.as_ref()) {
        Ok(b) => b,
        Err(e) => {
            let what = args
                .file
                .as_ref()
                .map_or_else(|| "standard input".to_owned(), |p| p.display().to_string());
            eprintln!("jinguan: cannot read {what}: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (form, own_seq) = match read(args.from, &bytes) {
        Ok(r) => r,
        Err(problems) => {
            report(&problems);
            return Ok(ExitCode::from(1));
        }
    };
    let seq = args.client_seq_no.or(own_seq);
    match write(args.to, &form, seq.as_deref()) {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            report(&problems);
            Ok(ExitCode::from(1))
        }
    }
}
