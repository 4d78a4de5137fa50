//! Validation speed: declarations parsed and validated per second on one core, for a 5-item
//! and a 50-item declaration, beside JSON parsing alone measured in the same run.
//!
//! `cargo bench -p cli --bench validate` (prints a table; writes JSON to
//! `$CARGO_TARGET_DIR/bench-validate.json` or `target/bench-validate.json`).

use std::hint::black_box;
use std::time::{Duration, Instant};

use domain::declaration::DeclarationForm;
use domain::validate::validate_json;
use serde_json::Value;

const EXAMPLE: &str = include_str!("../../../examples/import-laptops.json");

fn declaration_with(items: usize) -> Vec<u8> {
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
    serde_json::to_vec(&doc).expect("serialises")
}

/// Runs `f` repeatedly for about `budget` and returns calls per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..100 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..100 {
            f();
        }
        n += 100;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let reference = refdata::RefData::embedded().expect("shipped reference data loads");
    let budget = Duration::from_millis(1500);
    let mut results = Vec::new();
    println!(
        "{:<6} {:>7} {:>14} {:>14} {:>14} {:>14} {:>7}",
        "items", "bytes", "parse Value/s", "parse form/s", "checked form/s", "validate/s", "ratio"
    );
    for items in [5, 50] {
        let bytes = declaration_with(items);
        assert!(
            validate_json(&bytes, &reference).is_ok(),
            "benchmark input must be valid"
        );
        let parse_value = rate(budget, || {
            black_box(serde_json::from_slice::<Value>(black_box(&bytes)).unwrap());
        });
        let parse_form = rate(budget, || {
            black_box(serde_json::from_slice::<DeclarationForm>(black_box(&bytes)).unwrap());
        });
        let gate = rate(budget, || {
            black_box(domain::validate::parse_form(black_box(&bytes)).unwrap());
        });
        let validate = rate(budget, || {
            black_box(validate_json(black_box(&bytes), &reference).unwrap());
        });
        let ratio = validate / parse_value;
        println!(
            "{:<6} {:>7} {:>14.0} {:>14.0} {:>14.0} {:>14.0} {:>6.0}%",
            items,
            bytes.len(),
            parse_value,
            parse_form,
            gate,
            validate,
            ratio * 100.0
        );
        results.push(serde_json::json!({
            "items": items,
            "bytes": bytes.len(),
            "parse_value_per_s": parse_value.round(),
            "parse_form_per_s": parse_form.round(),
            "parse_form_checked_per_s": gate.round(),
            "validate_per_s": validate.round(),
            "validate_vs_parse_value": (ratio * 1000.0).round() / 1000.0,
        }));
    }
    println!("one core. parse form = serde into the wire form; checked form = the same, also recording unknown");
    println!("fields and the path of a type error; validate = checked form + every rule against the reference data.");
    println!("ratio = validate ÷ parse into a generic JSON value (serde_json::Value).");
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("bench-validate.json");
    if std::fs::write(&path, serde_json::to_string_pretty(&results).unwrap()).is_ok() {
        println!("results written to {}", path.display());
    }
}
