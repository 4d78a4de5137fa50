//! Differential test: the compiled, indexed engine fires exactly the rules the reference
//! interpreter (`risk::naive`) fires, over random declarations and random rule sets. Also the
//! printing law of conditions: parse(print(e)) == e.

mod common;
use std::sync::Arc;

use common::*;
use domain::codes::{OfficeCode, TradeMode};
use proptest::prelude::*;
use risk::*;

const COMMODITIES: [&str; 6] = [
    "8471300000",
    "8471410000",
    "8517130000",
    "0202300000",
    "7204490000",
    "6403990000",
];
const ORIGINS: [&str; 5] = ["USA", "JPN", "CHN", "KOR", "BRA"];
const CURRENCIES: [&str; 4] = ["USD", "CNY", "JPY", "EUR"];
const MODES: [&str; 3] = ["0110", "9610", "1210"];
const DOCUMENTS: [&str; 4] = ["1", "Y", "a", "4A"];
const OFFICES: [&str; 4] = ["2233", "2200", "5101", "0101"];
const RULE_OFFICES: [&str; 5] = ["0000", "2200", "2233", "5100", "0100"];
const DAYS: [&str; 5] = [
    "2024-06-01",
    "2025-01-01",
    "2025-03-10",
    "2025-06-30",
    "2026-01-01",
];

fn pick<T: Clone + std::fmt::Debug + 'static>(xs: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(xs)
}

fn list(xs: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::sample::subsequence(xs, 1..=xs.len()).prop_map(|v| {
        let q: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
        format!("[{}]", q.join(", "))
    })
}

fn test_text() -> impl Strategy<Value = String> {
    let cmp = || pick(&["=", "!=", "<", "<=", ">", ">="][..]);
    let strs = || pick(&["=", "!="][..]);
    prop_oneof![
        (pick(&COMMODITIES[..]), 1usize..=10)
            .prop_map(|(c, n)| format!("commodity ^= \"{}\"", &c[..n])),
        (pick(&COMMODITIES[..]), strs()).prop_map(|(c, op)| format!("commodity {op} \"{c}\"")),
        list(&COMMODITIES).prop_map(|l| format!("commodity in {l}")),
        (pick(&ORIGINS[..]), strs()).prop_map(|(o, op)| format!("origin {op} \"{o}\"")),
        (list(&ORIGINS), any::<bool>())
            .prop_map(|(l, not)| format!("origin {}in {l}", if not { "not " } else { "" })),
        pick(&MODES[..]).prop_map(|m| format!("trade_mode = \"{m}\"")),
        list(&MODES).prop_map(|l| format!("trade_mode in {l}")),
        pick(&["0", "01", "96", "1"][..]).prop_map(|p| format!("trade_mode ^= \"{p}\"")),
        (pick(&[TRADER, OTHER_TRADER][..]), strs())
            .prop_map(|(t, op)| format!("trader {op} \"{t}\"")),
        pick(&["CA986", "MAERSK A", "ca", "M"][..]).prop_map(|v| format!("vessel = \"{v}\"")),
        pick(&["CA", "MAERSK", "X"][..]).prop_map(|v| format!("vessel ^= \"{v}\"")),
        pick(&["ERSK", "98", "Z"][..]).prop_map(|v| format!("vessel contains \"{v}\"")),
        pick(&CURRENCIES[..]).prop_map(|c| format!("currency = \"{c}\"")),
        pick(&["import", "export"][..]).prop_map(|d| format!("direction = \"{d}\"")),
        pick(&["LAPTOP", "PHONE", "电脑"][..]).prop_map(|n| format!("goods_name contains \"{n}\"")),
        (cmp(), 0u32..3000).prop_map(|(op, n)| format!("unit_price_cny {op} {n}")),
        (cmp(), 0u32..1000).prop_map(|(op, n)| format!("unit_price {op} {n}")),
        (cmp(), 1u32..200).prop_map(|(op, n)| format!("quantity {op} {n}")),
        (cmp(), 0u32..500_000).prop_map(|(op, n)| format!("total_value_cny {op} {n}")),
        (cmp(), 0u32..5).prop_map(|(op, n)| format!("weight_per_unit_kg {op} {n}.5")),
        (cmp(), 1u32..4).prop_map(|(op, n)| format!("item_count {op} {n}")),
        (pick(&DOCUMENTS[..]), strs()).prop_map(|(c, op)| format!("document_code {op} \"{c}\"")),
        (list(&DOCUMENTS), any::<bool>())
            .prop_map(|(l, not)| format!("document_code {}in {l}", if not { "not " } else { "" })),
        pick(&["4", "A", "Y"][..]).prop_map(|p| format!("document_code ^= \"{p}\"")),
    ]
}

fn condition() -> impl Strategy<Value = String> {
    test_text().prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v
                .iter()
                .map(|e| format!("({e})"))
                .collect::<Vec<_>>()
                .join(" and ")),
            prop::collection::vec(inner.clone(), 2..4).prop_map(|v| v
                .iter()
                .map(|e| format!("({e})"))
                .collect::<Vec<_>>()
                .join(" or ")),
            inner.prop_map(|e| format!("not ({e})")),
        ]
    })
}

#[derive(Debug, Clone)]
struct RuleSpec {
    id: usize,
    office: &'static str,
    from: &'static str,
    to: Option<&'static str>,
    priority: u32,
    lane: &'static str,
    when: String,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        0usize..8,
        pick(&RULE_OFFICES[..]),
        pick(&DAYS[..4]),
        prop::option::of(pick(&DAYS[1..])),
        0u32..4,
        pick(&["green", "yellow", "red", "blue"][..]),
        condition(),
    )
        .prop_map(|(id, office, from, to, priority, lane, when)| RuleSpec {
            id,
            office,
            from,
            to: to.filter(|t| *t >= from),
            priority,
            lane,
            when,
        })
}

fn rules_text(specs: &[RuleSpec]) -> String {
    let mut versions = [0u32; 8];
    let mut out = String::new();
    for s in specs {
        versions[s.id] += 1;
        let valid = match s.to {
            Some(to) => format!("{} to {to}", s.from),
            None => format!("from {}", s.from),
        };
        out.push_str(&format!(
            "rule R{}\n version {}\n office {}\n valid {valid}\n priority {}\n when {}\n lane {}\n reason r \"原因\" \"why\"\nend\n",
            s.id, versions[s.id], s.office, s.priority, s.when, s.lane
        ));
    }
    out
}

fn item_strategy() -> impl Strategy<Value = domain::declaration::Item> {
    (
        pick(&COMMODITIES[..]),
        pick(&ORIGINS[..]),
        1u32..200,
        1u32..1000,
        pick(&CURRENCIES[..]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(c, o, q, p, cur, kg_first, phone)| {
            let mut it = item(1, c, o, &q.to_string(), &p.to_string(), cur);
            if kg_first {
                it.first_unit = domain::codes::UnitCode::parse("035").unwrap();
                it.second_unit = None;
                it.second_quantity = None;
            }
            if phone {
                it.name = "手机 phone".into();
            }
            it
        })
}

fn declaration_strategy() -> impl Strategy<Value = domain::declaration::Declaration> {
    (
        prop::collection::vec(item_strategy(), 1..=5),
        pick(&OFFICES[..]),
        pick(&MODES[..]),
        pick(&[TRADER, OTHER_TRADER][..]),
        pick(&[Some("CA986"), Some("Maersk Alabama"), None][..]),
        any::<bool>(),
        prop::collection::vec(pick(&DOCUMENTS[..]), 0..3),
    )
        .prop_map(|(mut items, office, mode, trader, vessel, export, docs)| {
            for (i, it) in items.iter_mut().enumerate() {
                it.item_no = i as u16 + 1;
            }
            let mut d = declaration(items);
            d.declaration_office = OfficeCode::parse(office).unwrap();
            d.trade_mode = TradeMode::parse(mode).unwrap();
            d.trader.uscc = domain::codes::Uscc::parse(trader).unwrap();
            d.vessel = vessel.map(str::to_owned);
            if export {
                d.direction = domain::codes::Direction::Export;
            }
            d.documents = docs
                .iter()
                .enumerate()
                .map(|(i, code)| domain::declaration::Document {
                    code: (*code).to_owned(),
                    number: format!("N{i}"),
                })
                .collect();
            d
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn compiled_fires_exactly_what_the_reference_fires(
        specs in prop::collection::vec(rule_spec(), 1..25),
        decls in prop::collection::vec(declaration_strategy(), 1..6),
        today in pick(&DAYS[..]),
    ) {
        let text = rules_text(&specs);
        let set = RuleSet::parse(&text).unwrap_or_else(|e| panic!("{text}\n{e:#?}"));
        let mut state = state("");
        state.rules = Arc::new(CompiledRules::compile(&set, day(DAYS[0])));
        for d in &decls {
            let decision = decide_on(&state, d, today);
            let compiled: Vec<(String, u32, Option<u16>)> = decision
                .explanation
                .rules_fired
                .iter()
                .map(|r| (r.id.clone(), r.version, r.item_no))
                .collect();
            let naive = risk::naive::fired(&set, d, day(today), &DigitOffices, &rates());
            prop_assert_eq!(compiled, naive, "rules:\n{}", text);
        }
    }

    #[test]
    fn conditions_print_and_parse_back(text in condition()) {
        let e: risk::expr::Expr = text.parse().unwrap_or_else(|e| panic!("{text}: {e:?}"));
        let printed = e.to_string();
        let again: risk::expr::Expr = printed.parse().unwrap();
        prop_assert_eq!(&again, &e);
        prop_assert_eq!(again.to_string(), printed);
    }

    #[test]
    fn rule_sets_print_and_parse_back(specs in prop::collection::vec(rule_spec(), 1..10)) {
        let set = RuleSet::parse(&rules_text(&specs)).unwrap();
        let again = RuleSet::parse(&set.to_text()).unwrap();
        prop_assert_eq!(again.fingerprint(), set.fingerprint());
        prop_assert_eq!(again.to_text(), set.to_text());
    }
}
