//! Lane decisions per second on one core, for 5-item declarations, with 0 (the reference),
//! 10, 1,000 and 10,000 active rules of a realistic mix, price references and sampling on.
//!
//! `cargo bench -p risk --bench lanes` (prints a table; writes JSON to
//! `$CARGO_TARGET_DIR/bench-risk-lanes.json` or `target/bench-risk-lanes.json`).
//!
//! The rule mix (per 100 rules): 55 commodity prefix (4–8 digits) with origin and price
//! conditions, 12 on one enterprise, 8 on an overseas party, vessel or bill, 10 on an origin
//! list within a chapter, 8 on a trade mode with a value threshold (their anchor meets most
//! declarations), 5 on a route, 2 with no indexable test (checked on every declaration).
//! Thresholds are set so that rules fire on a minority of declarations, as targeted rules do.

// A benchmark measures time and writes its results to a file: the clock and `std::fs` that
// this pure crate's clippy.toml forbids in its library are this file's job.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use clearance::{CreditClass, EnterpriseFacts};
use domain::codes::*;
use domain::declaration::{Declaration, EntryType, Item, OverseasParty, Party};
use risk::*;
use rust_decimal::Decimal;

/// The workspace's one seeded generator (`domain::rng`), with the shapes this bench draws: a
/// fixed sequence, so every run measures the same work.
struct Rng(domain::rng::Rng);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0.below(n as u64) as usize
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        *self.0.pick(xs)
    }
    fn pick_s<'a>(&mut self, xs: &'a [String]) -> &'a str {
        self.0.pick(xs).as_str()
    }
}

const ORIGINS: [&str; 20] = [
    "USA", "JPN", "KOR", "DEU", "FRA", "GBR", "ITA", "VNM", "THA", "MYS", "IDN", "IND", "BRA",
    "AUS", "CAN", "MEX", "CHE", "NLD", "SGP", "CHN",
];
const CURRENCIES: [(&str, &str); 4] = [
    ("USD", "7.1"),
    ("EUR", "7.8"),
    ("JPY", "0.048"),
    ("CNY", "1"),
];
const MODES: [&str; 5] = ["0110", "0110", "0110", "9610", "0615"];
const OFFICES: [&str; 6] = ["2233", "2201", "5101", "5301", "0101", "4201"];
const RULE_OFFICES: [&str; 8] = [
    "0000", "0000", "0000", "2200", "2233", "5100", "5300", "0100",
];
const PORTS: [&str; 6] = ["USSFO", "USLAX", "DEHAM", "JPTYO", "VNSGN", "SGSIN"];

struct World {
    commodities: Vec<String>,
    traders: Vec<String>,
    parties: Vec<String>,
    vessels: Vec<String>,
}

fn uscc(rng: &mut Rng) -> String {
    loop {
        let body = format!(
            "91{:06}{:09}",
            110000 + rng.below(800000),
            rng.below(1_000_000_000)
        );
        if let Ok(c) = Uscc::check_character(&body) {
            // Retry bodies whose positions 9-17 are no GB 11714 code (GB 32100-2015 4.3).
            if Uscc::parse(&format!("{body}{c}")).is_ok() {
                return format!("{body}{c}");
            }
        }
    }
}

fn world(rng: &mut Rng) -> World {
    World {
        commodities: (0..2000)
            .map(|_| format!("{:02}{:08}", 1 + rng.below(97), rng.below(100_000_000)))
            .collect(),
        traders: (0..500).map(|_| uscc(rng)).collect(),
        parties: (0..300).map(|i| format!("SG{:012}", i * 7919)).collect(),
        vessels: (0..100).map(|i| format!("VESSEL {i}")).collect(),
    }
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("number")
}

fn declaration(rng: &mut Rng, w: &World) -> Declaration {
    let items = (1..=5)
        .map(|n| {
            let (cur, _) = rng.pick(&CURRENCIES);
            let q = Decimal::from(1 + rng.below(500));
            // Unit prices of about CNY 7–7,000 whatever the currency.
            let scale = match cur {
                "JPY" => 150,
                "CNY" => 7,
                _ => 1,
            };
            let p = Decimal::new((100 + rng.below(100_000) as i64) * scale, 2);
            Item {
                item_no: n,
                record_item: None,
                commodity_code: HsCode::parse(rng.pick_s(&w.commodities)).expect("code"),
                name: "货物 goods".into(),
                specification: "品牌|型号".into(),
                declared_quantity: q,
                declared_unit: UnitCode::parse("007").expect("unit"),
                first_quantity: q * Decimal::new(5 + rng.below(100) as i64, 1),
                first_unit: UnitCode::parse("035").expect("unit"),
                second_quantity: None,
                second_unit: None,
                unit_price: p,
                total_price: (q * p).round_dp(2),
                currency: CurrencyCode::parse(cur).expect("currency"),
                origin_country: CountryCode::parse(rng.pick(&ORIGINS)).expect("country"),
                destination_country: CountryCode::parse("CHN").expect("country"),
                district: None,
                duty_treatment: DutyTreatment::AS_TARIFF,
                producer: None,
                origin_proof: None,
                quota_certificate_no: None,
            }
        })
        .collect();
    Declaration {
        direction: Direction::Import,
        declaration_office: OfficeCode::parse(rng.pick(&OFFICES)).expect("office"),
        entry_exit_office: OfficeCode::parse("2233").expect("office"),
        record_no: None,
        contract_no: Some("C-1".into()),
        ie_date: None,
        declaration_date: NaiveDate::from_ymd_opt(2025, 3, 10).expect("date"),
        trader: Party {
            name: "示例".into(),
            uscc: Uscc::parse(rng.pick_s(&w.traders)).expect("uscc"),
            customs_code: None,
        },
        overseas_party: OverseasParty {
            code: Some(rng.pick_s(&w.parties).to_owned()),
            name: "Overseas".into(),
            address: None,
        },
        owner: None,
        agent: None,
        transport_mode: TransportMode::parse("2").expect("mode"),
        vessel: Some(rng.pick_s(&w.vessels).to_owned()),
        voyage_no: Some("025E".into()),
        bill_no: Some(format!("BL{}", rng.below(1_000_000))),
        goods_place: None,
        trade_mode: TradeMode::parse(rng.pick(&MODES)).expect("mode"),
        levy_nature: LevyNature::parse("101").expect("levy"),
        licence_no: None,
        loading_port: Some(rng.pick(&PORTS).to_string()),
        destination_port: None,
        trading_country: CountryCode::parse("USA").expect("country"),
        dispatch_country: CountryCode::parse("USA").expect("country"),
        domestic_port: Some(DomesticPort::parse("310301").expect("port")),
        package_type: PackageType::parse("22").expect("package"),
        packages: 10,
        gross_weight_kg: dec("1000"),
        net_weight_kg: dec("900"),
        transaction_terms: TransactionTerms::Cif,
        freight: None,
        insurance: None,
        other_charges: None,
        documents: vec![],
        marks: None,
        remarks: None,
        entry_type: EntryType::Paperless,
        buyer: None,
        items,
    }
}

fn origins(rng: &mut Rng) -> String {
    let n = 1 + rng.below(4);
    let v: Vec<String> = (0..n)
        .map(|_| format!("\"{}\"", rng.pick(&ORIGINS)))
        .collect();
    format!("[{}]", v.join(", "))
}

fn condition(rng: &mut Rng, w: &World) -> String {
    let roll = rng.below(100);
    let code = rng.pick_s(&w.commodities).to_owned();
    match roll {
        0..=54 => {
            let len = 4 + rng.below(5);
            let mut c = format!("commodity ^= \"{}\"", &code[..len]);
            if rng.below(2) == 0 {
                c += &format!(" and origin in {}", origins(rng));
            }
            c + &format!(" and unit_price_cny < {}", 50 + rng.below(2000))
        }
        55..=66 => format!(
            "trader = \"{}\" and quantity > {}",
            rng.pick_s(&w.traders),
            rng.below(300)
        ),
        67..=69 => format!("overseas_party = \"{}\"", rng.pick_s(&w.parties)),
        70..=72 => format!(
            "vessel = \"{}\" and origin = \"{}\"",
            rng.pick_s(&w.vessels),
            rng.pick(&ORIGINS)
        ),
        73..=74 => format!("bill_no = \"BL{}\"", rng.below(1_000_000)),
        75..=84 => format!(
            "commodity ^= \"{}\" and origin in {} and weight_per_unit_kg > {}",
            &code[..2],
            origins(rng),
            2 + rng.below(10)
        ),
        85..=92 => format!(
            "trade_mode = \"{}\" and total_value_cny > {}",
            rng.pick(&MODES),
            10_000_000 + rng.below(90_000_000)
        ),
        93..=97 => format!(
            "route ^= \"{}-\" and (origin = \"{}\" or origin = \"{}\") and unit_price_cny < {}",
            rng.pick(&PORTS),
            rng.pick(&ORIGINS),
            rng.pick(&ORIGINS),
            50 + rng.below(500)
        ),
        _ => format!(
            "not origin in {} and unit_price_cny < {}",
            origins(rng),
            1 + rng.below(20)
        ),
    }
}

fn rules(n: usize, rng: &mut Rng, w: &World) -> RuleSet {
    let mut text = String::new();
    for i in 0..n {
        let lane = rng.pick(&["yellow", "red", "red", "blue"]);
        text += &format!(
            "rule B{i}\n office {}\n valid from 2025-01-01\n priority {}\n when {}\n lane {lane}\n reason b{i} \"原因\" \"reason\"\nend\n",
            rng.pick(&RULE_OFFICES),
            rng.below(100),
            condition(rng, w)
        );
    }
    RuleSet::parse(&text)
        .unwrap_or_else(|e| panic!("generated rules parse: {:?}", &e[..e.len().min(3)]))
}

/// Runs `f` repeatedly for about `budget` and returns calls per second.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..200 {
        f();
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..200 {
            f();
        }
        n += 200;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let mut rng = Rng(domain::rng::Rng::new(0x9E37_79B9_7F4A_7C15));
    let w = world(&mut rng);
    let decls: Vec<Declaration> = (0..2000).map(|_| declaration(&mut rng, &w)).collect();
    let numbers: Vec<DeclarationNo> = (0..decls.len() as u32)
        .map(|i| {
            DeclarationNo::new(
                OfficeCode::parse("2233").expect("office"),
                2025,
                Direction::Import,
                i,
            )
            .expect("number")
        })
        .collect();
    let rates: HashMap<CurrencyCode, Decimal> = CURRENCIES
        .iter()
        .map(|(c, r)| (CurrencyCode::parse(c).expect("currency"), dec(r)))
        .collect();
    // Price references from 50,000 "released" items over the same commodities.
    let history: Vec<_> = (0..50_000)
        .map(|_| {
            (
                HsCode::parse(rng.pick_s(&w.commodities)).expect("code"),
                CountryCode::parse(rng.pick(&ORIGINS)).expect("country"),
                UnitCode::parse("007").expect("unit"),
                Decimal::new(100 + rng.below(700_000) as i64, 2),
            )
        })
        .collect();
    let prices = Arc::new(PriceReferences::from_released(history));
    let facts = EnterpriseFacts {
        credit_class: CreditClass::General,
        discrepancies_last_year: 0,
    };
    let today = NaiveDate::from_ymd_opt(2025, 3, 10).expect("date");
    let budget = Duration::from_millis(2000);

    println!(
        "{:>7} {:>12} {:>9} {:>11} {:>10} {:>9} {:>7} {:>8}",
        "rules", "decisions/s", "µs each", "unindexed", "candidates", "fired", "red %", "ratio"
    );
    let mut results = Vec::new();
    let mut reference = None;
    for n in [0usize, 10, 1_000, 10_000] {
        let set = rules(n, &mut rng, &w);
        let compiled = CompiledRules::compile(&set, today);
        let unindexed = compiled.unanchored();
        let state = RiskState {
            rules: Arc::new(compiled),
            prices: prices.clone(),
            ..RiskState::default()
        };
        // One pass for the averages (not timed).
        let (mut cand, mut fired, mut red) = (0u64, 0u64, 0u64);
        for (d, no) in decls.iter().zip(&numbers) {
            let x = state.decide(&DecisionInput {
                declaration: d,
                declaration_no: no,
                enterprise: &facts,
                today,
                offices: &DigitOffices,
                rates: &rates,
            });
            cand += u64::from(x.explanation.rules_candidates);
            fired += x.explanation.rules_fired.len() as u64;
            red += u64::from(x.lane == clearance::Lane::Red);
        }
        let count = decls.len() as f64;
        let mut i = 0usize;
        let per_s = rate(budget, || {
            let k = i % decls.len();
            i += 1;
            black_box(state.decide(&DecisionInput {
                declaration: &decls[k],
                declaration_no: &numbers[k],
                enterprise: &facts,
                today,
                offices: &DigitOffices,
                rates: &rates,
            }));
        });
        let reference_rate = *reference.get_or_insert(per_s);
        let ratio = per_s / reference_rate;
        println!(
            "{n:>7} {per_s:>12.0} {:>9.2} {unindexed:>11} {:>10.1} {:>9.2} {:>7.1} {ratio:>8.2}",
            1e6 / per_s,
            cand as f64 / count,
            fired as f64 / count,
            red as f64 * 100.0 / count,
        );
        results.push(serde_json::json!({
            "rules": n,
            "decisions_per_s": per_s.round(),
            "unindexed_rules": unindexed,
            "candidates_per_decision": cand as f64 / count,
            "fired_per_decision": fired as f64 / count,
            "ratio_to_no_rules": (ratio * 1000.0).round() / 1000.0,
        }));
    }
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = std::path::Path::new(&dir).join("bench-risk-lanes.json");
    let doc = serde_json::json!({ "bench": "risk lanes", "items_per_declaration": 5, "results": results });
    if std::fs::write(&path, serde_json::to_string_pretty(&doc).expect("json")).is_ok() {
        println!("written {}", path.display());
    }
}
