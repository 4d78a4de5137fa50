//! `jinguan bench formats`: durable filings over HTTP in each interchange format the server
//! reads (issue 18: "XML and EDIFACT filings per second beside JSON in the same run"). One
//! `jinguan serve` child on a fresh SQLite ledger; the example declaration is converted once to
//! each format (`jinguan convert`'s writers) and each request names its own bill, as `bench
//! http` does. Each format asks for its own answer (`Accept`): JSON, the DEC_RESULT receipts, a
//! CUSRES, a WCO Response. JSON runs first and again last: the reference is their mean, and
//! their difference shows how much the growing ledger alone moved the figures.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context};

use crate::bench_cmd::{
    bootstrap_bench_user, cpu_model, file_bench_manifests, http_load_as, service, sign_in_bench,
    start_server, Payload, Run, Target, BILLS_PER_SECOND, TEMPLATE_BILL_NO,
};
use crate::convert_cmd::{self, Format};

struct Case {
    name: &'static str,
    format: Format,
    payload: Payload,
}

fn case(format: Format, form: &domain::declaration::DeclarationForm) -> anyhow::Result<Case> {
    let (name, content_type) = match format {
        Format::Json => ("JSON", "application/json"),
        Format::Decmessage => ("DecMessage XML", "application/xml"),
        Format::Cusdec => ("EDIFACT CUSDEC", "application/EDIFACT"),
        Format::Wcodm => ("WCO DM 3.6", "application/vnd.wco.dm+xml"),
    };
    let text = convert_cmd::write(format, form, None).map_err(|p| {
        anyhow::anyhow!(
            "the example declaration does not convert to {name}: {:?}",
            p.iter().map(|p| &p.field).collect::<Vec<_>>()
        )
    })?;
    // Each request must name its own bill: exactly one place carries it.
    if text.matches(TEMPLATE_BILL_NO).count() != 1 {
        bail!("the {name} form of the example names its bill {TEMPLATE_BILL_NO} other than once");
    }
    // What is sent must read back as the same declaration.
    let (back, _) = convert_cmd::read(format, text.as_bytes()).map_err(|p| {
        anyhow::anyhow!(
            "the {name} form of the example does not read back: {:?}",
            p.iter().map(|p| &p.code).collect::<Vec<_>>()
        )
    })?;
    if back.bill_no != form.bill_no {
        bail!("the {name} form of the example reads back another bill");
    }
    Ok(Case {
        name,
        format,
        payload: Payload {
            template: text.into_bytes(),
            content_type,
            accept: content_type,
        },
    })
}

pub fn run(
    data_dir: &Path,
    clients: usize,
    seconds: u64,
    json: Option<std::path::PathBuf>,
) -> anyhow::Result<ExitCode> {
    if !(1..=1024).contains(&clients) || !(1..=60).contains(&seconds) {
        bail!("--clients 1..=1024 and --seconds 1..=60");
    }
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    let template = app::demo::IMPORT_TEMPLATE.as_bytes();
    let form = domain::validate::parse_form(template)
        .map_err(|_| anyhow::anyhow!("the example declaration does not parse"))?;
    if form.bill_no.as_deref() != Some(TEMPLATE_BILL_NO) {
        bail!("the example declaration no longer names bill {TEMPLATE_BILL_NO}");
    }
    let mut cases = vec![Case {
        name: "JSON",
        format: Format::Json,
        payload: Payload::json(template),
    }];
    for f in [Format::Decmessage, Format::Cusdec, Format::Wcodm] {
        cases.push(case(f, &form)?);
    }
    cases.push(Case {
        name: "JSON (again, last)",
        format: Format::Json,
        payload: Payload::json(template),
    });

    let dir = tempfile::tempdir().context("temporary folder")?;
    let target = Target::Sqlite(dir.path().to_owned());
    bootstrap_bench_user(&service(&target, refdata.clone())?)?;
    let per_run = BILLS_PER_SECOND * seconds;
    file_bench_manifests(&target, refdata, per_run * cases.len() as u64)?;
    let (child, base) = start_server(&target, dir.path())?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()?;
    let token = rt.block_on(sign_in_bench(&client, &base))?;
    let load_before = loadavg();
    let mut runs: Vec<(usize, Run)> = Vec::new();
    for (k, c) in cases.iter().enumerate() {
        let run = rt.block_on(http_load_as(
            &client,
            std::slice::from_ref(&base),
            &token,
            &c.payload,
            clients,
            seconds,
            per_run * k as u64,
        ));
        if run.ok >= per_run {
            eprintln!(
                "warning: {}: every bill of the run was used; the figure is a floor",
                c.name
            );
        }
        runs.push((k, run));
    }
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.0.id().to_string())
        .status();
    drop(child);

    let first = runs.first().map_or(0.0, |(_, r)| r.rate());
    let last = runs.last().map_or(0.0, |(_, r)| r.rate());
    let reference = (first + last) / 2.0;
    println!(
        "jinguan bench formats — {clients} clients, {seconds} s per format, one server (SQLite WAL synchronous=FULL), loopback; load average before {load_before}, after {}",
        loadavg()
    );
    println!(
        "{:<20} {:<28} {:>7} {:>9} {:>8} {:>8} {:>7} {:>8}",
        "format",
        "content type (= Accept)",
        "bytes",
        "decl/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "/ JSON"
    );
    let mut rows = Vec::new();
    for (k, run) in &runs {
        let c = &cases[*k];
        let ratio = if reference > 0.0 {
            run.rate() / reference
        } else {
            0.0
        };
        println!(
            "{:<20} {:<28} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>8.2}",
            c.name,
            c.payload.content_type,
            c.payload.template.len(),
            run.rate(),
            run.percentile_ms(0.5),
            run.percentile_ms(0.99),
            run.errors,
            ratio
        );
        rows.push(serde_json::json!({
            "format": format!("{:?}", c.format).to_lowercase(), "name": c.name,
            "content_type": c.payload.content_type, "bytes": c.payload.template.len(),
            "per_s": run.rate(), "p50_ms": run.percentile_ms(0.5), "p99_ms": run.percentile_ms(0.99),
            "ok": run.ok, "errors": run.errors, "ratio_to_json": ratio,
        }));
    }
    println!(
        "reference: JSON's mean of the first and the last run ({first:.0} and {last:.0} decl/s)"
    );
    let cpu = cpu_model();
    println!(
        "CPU: {cpu} × {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let figures = serde_json::json!({
        "clients": clients, "seconds": seconds, "runs": rows, "json_reference_per_s": reference,
        "cpu": cpu, "loadavg_before": load_before,
    });
    println!("{figures}");
    if let Some(path) = json {
        std::fs::write(&path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("failed to write {}", path.display()))?;
    }
    let errors: u64 = runs.iter().map(|(_, r)| r.errors).sum();
    Ok(if errors == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("{errors} requests failed");
        ExitCode::FAILURE
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
