//! Benchmark: assessments per second per core for a 5-item and a 50-item declaration, beside a
//! reference measured in the same run (serde_json parse of the same declaration into the typed
//! form) and the ratio. One thread, so the figure is per core.
//!
//! `cargo bench -p tax` (optionally `-- --json PATH`); prints a table and writes JSON to PATH or
//! to `<target>/tmp/tax-bench.json`.

// A benchmark measures time and writes its results to a file: the clock and `std::fs` that
// this pure crate's clippy.toml forbids in its library are this file's job.
#![allow(clippy::disallowed_methods)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{base_declaration, d, item, ItemFixture, TariffFixture, TestReference};
use domain::codes::TransactionTerms;
use domain::declaration::{Charge, Declaration};
use tax::{assess, RateTable, TaxContext, TaxPolicy, TradeRemedyTable, TradingCalendar};

const RUN: Duration = Duration::from_secs(2);

fn declaration(items: usize) -> Declaration {
    // A mix: ad valorem, agreement rate, consumption tax, specific duty, trade remedy.
    let kinds = [
        ("8471300000", "JPN", None),
        ("8414591000", "JPN", None),
        ("3303000000", "FRA", None),
        ("2203000000", "DEU", None),
        ("2907111000", "USA", Some("Example Phenol Corp")),
    ];
    let items = (0..items)
        .map(|i| {
            let (code, origin, producer) = kinds[i % kinds.len()];
            item(
                i as u16 + 1,
                &ItemFixture {
                    code: code.into(),
                    qty: format!("{}", 10 + i),
                    unit: "001".into(),
                    second_qty: None,
                    second_unit: None,
                    total: format!("{}.{:02}", 1_000 + 137 * i, i % 100),
                    currency: "USD".into(),
                    origin: origin.into(),
                    treatment: "1".into(),
                    producer: producer.map(str::to_string),
                    // The agreement rate still measured: the JPN items hold an RCEP proof.
                    origin_proof: (origin == "JPN").then(|| "RCEP".to_string()),
                    quota_certificate_no: None,
                },
            )
        })
        .collect();
    let mut decl = base_declaration(d("2024-05-10"), TransactionTerms::Fob, items);
    decl.freight = Some(Charge::Total {
        amount: "1200".parse().unwrap(),
        currency: "USD".parse().unwrap(),
    });
    decl
}

/// Run `f` repeatedly for about `RUN`; return calls per second.
fn measure(mut f: impl FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed() < RUN {
        for _ in 0..64 {
            f();
        }
        calls += 64;
    }
    calls as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let json_path = std::env::args()
        .skip_while(|a| a != "--json")
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tax-bench.json")
        });

    let lines = [
        r#"{"code":"8471300000","mfn":"0%"}"#,
        r#"{"code":"8414591000","mfn":"6%","agreements":[{"agreement":"RCEP","origins":["JPN","KOR"],"rate":"4.2%"}]}"#,
        r#"{"code":"3303000000","mfn":"10%","consumption_tax":"15%"}"#,
        r#"{"code":"2203000000","mfn":"3.5/001","consumption_tax":"220/001"}"#,
        r#"{"code":"2907111000","mfn":"5.5%"}"#,
    ];
    let reference = TestReference {
        lines: lines
            .iter()
            .map(|l| serde_json::from_str::<TariffFixture>(l).unwrap().line())
            .collect(),
        ..Default::default()
    };
    let rates = RateTable::parse_csv("USD,2024-04-17,7.1000\n").unwrap();
    let calendar = TradingCalendar::china();
    let remedies = TradeRemedyTable::sample();
    let policy = TaxPolicy::default();
    let ctx = TaxContext {
        reference: &reference,
        rates: &rates,
        calendar: &calendar,
        remedies: &remedies,
        policy: &policy,
        tax_date: None,
        ecommerce_buyer: None,
    };

    println!(
        "tax engine benchmark (1 thread = per core; {} s per figure)",
        RUN.as_secs()
    );
    println!(
        "{:<10} {:>16} {:>22} {:>8}",
        "items", "assessments/s", "reference parse/s", "ratio"
    );
    let mut results = Vec::new();
    for n in [5usize, 50] {
        let decl = declaration(n);
        let json = serde_json::to_string(&decl).unwrap();
        let check = assess(&decl, &ctx).unwrap();
        assert!(!check.notices.is_empty());
        let assess_per_s = measure(|| {
            black_box(assess(black_box(&decl), &ctx).unwrap());
        });
        let parse_per_s = measure(|| {
            black_box(serde_json::from_str::<Declaration>(black_box(&json)).unwrap());
        });
        let ratio = assess_per_s / parse_per_s;
        println!("{n:<10} {assess_per_s:>16.0} {parse_per_s:>22.0} {ratio:>8.2}");
        results.push(format!(
            "{{\"items\":{n},\"assessments_per_s\":{assess_per_s:.0},\"reference\":\"serde_json parse of the same declaration ({} bytes) into domain::Declaration\",\"reference_per_s\":{parse_per_s:.0},\"ratio\":{ratio:.3}}}",
            json.len()
        ));
    }
    let body = format!(
        "{{\"benchmark\":\"tax::assess\",\"threads\":1,\"results\":[{}]}}\n",
        results.join(",")
    );
    match std::fs::write(&json_path, body) {
        Ok(()) => println!("JSON written to {}", json_path.display()),
        Err(e) => eprintln!("cannot write {}: {e}", json_path.display()),
    }
}
