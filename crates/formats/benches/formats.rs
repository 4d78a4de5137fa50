//! Filings read per second by format, beside JSON in the same run: each document (the
//! `import-laptops` example with 5 or 50 items, printed by `formats` in each format) read into
//! the JSON form and validated against the shipped reference data, on one core; the reference
//! is the JSON form's own read and validation (`parse_form` + `validate`). The server's filing
//! adds the same durable write whatever the format, so these per-format costs are what a format
//! adds to a filing (docs/FORMATS.md, docs/BENCHMARKS.md).
//!
//! `cargo bench -p formats --bench formats` (prints the CPU model, the load average, and a table;
//! writes JSON to `$CARGO_TARGET_DIR/bench-formats.json` or `target/bench-formats.json`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use domain::declaration::DeclarationForm;
use formats::{cusdec, decmessage, wcodm};
use serde_json::Value;

const EXAMPLE: &str = include_str!("../../../examples/import-laptops.json");

fn declaration_with(items: usize) -> DeclarationForm {
    let mut doc: Value = serde_json::from_str(EXAMPLE).expect("example parses");
    let item = doc["items"][0].clone();
    let list: Vec<Value> = (1..=items)
        .map(|n| {
            let mut it = item.clone();
            it["item_no"] = n.into();
            it
        })
        .collect();
    doc["items"] = list.into();
    serde_json::from_value(doc).expect("the example is a form")
}

/// Runs `f` repeatedly for about `budget` and returns calls per second.
#[allow(clippy::disallowed_methods)] // a bench measures time
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..20 {
            f();
        }
        n += 20;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

#[allow(clippy::disallowed_methods)] // the machine's description, for the figures
fn machine() -> (String, String) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    (cpu, load)
}

#[allow(clippy::disallowed_methods)] // a bench writes its figures
fn main() {
    let reference = refdata::RefData::embedded().expect("shipped reference data loads");
    // `JINGUAN_BENCH_MS`: the time per measurement (default 1500 ms).
    let budget = Duration::from_millis(
        std::env::var("JINGUAN_BENCH_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500),
    );
    let (cpu, load_before) = machine();
    println!("CPU: {cpu}; load average before: {load_before}");
    println!(
        "{:<6} {:<11} {:>7} {:>12} {:>12} {:>9}",
        "items", "format", "bytes", "read/s", "filings/s", "vs JSON"
    );
    let env = cusdec::Envelope {
        sender: "BENCH".into(),
        recipient: "JINGUAN".into(),
        date: "250310".into(),
        time: "1000".into(),
        control_reference: "1".into(),
        message_reference: "1".into(),
    };
    let mut results = Vec::new();
    for items in [5, 50] {
        let form = declaration_with(items);
        let docs: [(&str, Vec<u8>); 4] = [
            ("json", serde_json::to_vec(&form).expect("serialises")),
            (
                "decmessage",
                decmessage::print(&form, Some("B1")).into_bytes(),
            ),
            (
                "cusdec",
                cusdec::print(&form, Some("B1"), &env).into_bytes(),
            ),
            ("wcodm", wcodm::print(&form, Some("B1")).into_bytes()),
        ];
        let read = |name: &str, bytes: &[u8]| -> DeclarationForm {
            match name {
                "json" => domain::validate::parse_form(bytes).expect("reads"),
                "decmessage" => decmessage::parse_filing(bytes).expect("reads").form,
                "cusdec" => cusdec::parse(bytes).expect("reads").form,
                _ => wcodm::parse_filing(bytes).expect("reads").form,
            }
        };
        let mut json_filings = 0.0;
        for (name, bytes) in &docs {
            let f = read(name, bytes);
            assert!(
                domain::validate::validate(&f, &reference).is_ok(),
                "benchmark input must be valid ({name})"
            );
            let reads = rate(budget, || {
                black_box(read(name, black_box(bytes)));
            });
            let filings = rate(budget, || {
                let f = read(name, black_box(bytes));
                black_box(domain::validate::validate(&f, &reference).is_ok());
            });
            if *name == "json" {
                json_filings = filings;
            }
            let ratio = filings / json_filings;
            println!(
                "{:<6} {:<11} {:>7} {:>12.0} {:>12.0} {:>8.2}x",
                items,
                name,
                bytes.len(),
                reads,
                filings,
                ratio
            );
            results.push(serde_json::json!({
                "items": items,
                "format": name,
                "bytes": bytes.len(),
                "read_per_s": reads.round(),
                "read_and_validate_per_s": filings.round(),
                "vs_json": (ratio * 1000.0).round() / 1000.0,
            }));
        }
    }
    let (_, load_after) = machine();
    println!("load average after: {load_after}");
    println!(
        "one core. read = the document into the JSON form; filings/s = read + validate against the"
    );
    println!("shipped reference data (what a filing costs before the durable write, the same for every format).");
    println!("vs JSON = filings/s of the format ÷ filings/s of the JSON form, same run.");
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("bench-formats.json");
    let doc = serde_json::json!({"cpu": cpu, "load_before": load_before, "load_after": load_after, "results": results});
    if std::fs::write(
        &path,
        serde_json::to_string_pretty(&doc).unwrap_or_default(),
    )
    .is_ok()
    {
        println!("results written to {}", path.display());
    }
}
