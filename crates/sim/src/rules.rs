//! What the risk analysts of the simulated customs know, generated from the world: a rule set
//! of realistic size and mix, the watch lists, and price references built from a warm-up slice
//! (earlier declarations of the same market, released).
//!
//! The rule mix (ids say the family): `UV-` price floors on a commodity and origin (yellow);
//! `MC-` declared codes whose price or weight betrays other goods (red); `QW-` kilograms per
//! unit far above normal (yellow); `ENT-` intelligence on enterprises (yellow); and the
//! background of targeted rules that rarely fire, as in `risk`'s own benchmark (`BG-`).
//! Analysts do not know every pattern: each family covers only part of what is planted.

use std::collections::HashMap;

use clearance::Lane;
use domain::codes::{OfficeCode, Uscc};
use risk::{PriceReferences, RuleSet, WatchEntry, WatchKind, WatchLists};
use rust_decimal::Decimal;

use crate::gen::{generate, Rates};
use crate::rng::Rng;
use crate::world::{World, PARTNERS};

fn dec(d: Decimal) -> String {
    d.round_dp(4).normalize().to_string()
}

/// The analysts' rules, `count` of them (at least the targeted ones that fit).
pub fn rule_text(world: &World, count: usize) -> String {
    let mut r = Rng::stream(world.seed, "rules", 0);
    let mut out = String::new();
    let mut n = 0usize;
    let push = |out: &mut String,
                id: String,
                when: String,
                lane: &str,
                priority: u64,
                code: &str| {
        out.push_str(&format!(
            "rule {id}\n office 0000\n valid from 2025-01-01\n priority {priority}\n when {when}\n lane {lane}\n reason {code} \"模拟规则\" \"simulated rule\"\nend\n"
        ));
    };
    // UV: price floors for about 40 % of (commodity, main origin) pairs.
    for (i, c) in world.commodities.iter().enumerate() {
        if n >= count {
            break;
        }
        if c.licence.is_some() || !r.chance_ppm(400_000) {
            continue;
        }
        let o = PARTNERS[c.origins[0]].0;
        push(
            &mut out,
            format!("UV-{i}"),
            format!(
                "commodity = \"{}\" and origin = \"{o}\" and unit_price_cny < {}",
                c.code.as_str(),
                dec(c.median_cny * Decimal::new(55, 2))
            ),
            "yellow",
            50,
            "undervaluation",
        );
        n += 1;
    }
    // MC: for two in three swap pairs, if price or weight tells the goods apart.
    for (k, p) in world.swaps.iter().enumerate() {
        if n >= count {
            break;
        }
        if !r.chance_ppm(660_000) {
            continue;
        }
        let (a, b) = (&world.commodities[p.actual], &world.commodities[p.declared]);
        let when = if a.median_cny > b.median_cny * Decimal::new(16, 1) {
            format!(
                "commodity = \"{}\" and unit_price_cny > {}",
                b.code.as_str(),
                dec(b.median_cny * Decimal::new(15, 1))
            )
        } else if a.median_cny * Decimal::new(16, 1) < b.median_cny {
            format!(
                "commodity = \"{}\" and unit_price_cny < {}",
                b.code.as_str(),
                dec(b.median_cny * Decimal::new(65, 2))
            )
        } else if b.first_unit != "035"
            && b.second_unit.as_deref() == Some("035")
            && a.kg_per_unit > b.kg_per_unit * Decimal::new(16, 1)
        {
            format!(
                "commodity = \"{}\" and weight_per_unit_kg > {}",
                b.code.as_str(),
                dec(b.kg_per_unit * Decimal::new(15, 1))
            )
        } else {
            continue;
        };
        push(
            &mut out,
            format!("MC-{k}"),
            when,
            "red",
            60,
            "misclassification",
        );
        n += 1;
    }
    // QW: weight per unit, for 70 % of the lines whose weight is declared beside the count.
    for (i, c) in world.commodities.iter().enumerate() {
        if n >= count {
            break;
        }
        if c.first_unit == "035"
            || c.second_unit.as_deref() != Some("035")
            || !r.chance_ppm(700_000)
        {
            continue;
        }
        push(
            &mut out,
            format!("QW-{i}"),
            format!(
                "commodity = \"{}\" and weight_per_unit_kg > {}",
                c.code.as_str(),
                dec(c.kg_per_unit * Decimal::new(15, 1))
            ),
            "yellow",
            40,
            "quantity_mismatch",
        );
        n += 1;
    }
    // ENT: intelligence on enterprises, mostly honest ones (the usual false leads).
    let ent_rules = (count / 10).min(count.saturating_sub(n));
    for k in 0..ent_rules {
        let e = &world.enterprises[r.below(world.enterprises.len() as u64) as usize];
        push(
            &mut out,
            format!("ENT-{k}"),
            format!(
                "trader = \"{}\" and total_value_cny > {}",
                e.uscc.as_str(),
                r.range(50, 500) * 1_000
            ),
            "yellow",
            30,
            "intelligence",
        );
        n += 1;
    }
    // BG: targeted background rules; thresholds far from normal prices, so they seldom fire.
    let mut k = 0;
    while n < count {
        let c = r.pick(&world.commodities);
        let when = match r.below(4) {
            0 => format!(
                "commodity ^= \"{}\" and unit_price_cny < {}",
                &c.code.as_str()[..6],
                dec(c.median_cny * Decimal::new(2, 1))
            ),
            1 => format!(
                "commodity ^= \"{}\" and origin = \"{}\" and quantity > {}",
                &c.code.as_str()[..4],
                PARTNERS[r.below(PARTNERS.len() as u64) as usize].0,
                r.range(50_000_000, 90_000_000)
            ),
            2 => format!(
                "vessel = \"{}\" and commodity ^= \"{}\" and origin = \"{}\"",
                world.carriers[r.below(world.carriers.len() as u64) as usize].name,
                &c.code.as_str()[..2],
                PARTNERS[r.below(PARTNERS.len() as u64) as usize].0
            ),
            _ => format!(
                "trade_mode = \"0110\" and total_value_cny > {}",
                r.range(20, 90) * 1_000_000
            ),
        };
        push(
            &mut out,
            format!("BG-{k}"),
            when,
            ["yellow", "red", "blue"][r.below(3) as usize],
            r.below(30),
            "background",
        );
        k += 1;
        n += 1;
    }
    out
}

pub fn rule_set(world: &World, count: usize) -> RuleSet {
    RuleSet::parse(&rule_text(world, count))
        .unwrap_or_else(|e| panic!("generated rules parse: {:?}", &e[..e.len().min(3)]))
}

/// Watched enterprises (red, hold) and overseas parties (red), and watched carriers (yellow).
pub fn watch_lists(world: &World) -> WatchLists {
    let office = OfficeCode::parse("0000").expect("HQ");
    let mut entries = Vec::new();
    for e in &world.watched_enterprises {
        let u: Uscc = world.enterprises[*e].uscc;
        entries.push(WatchEntry {
            kind: WatchKind::Enterprise,
            value: u.as_str().to_owned(),
            lane: Lane::Red,
            suspend: true,
            case: format!("JS-E{e}"),
            office,
            until: None,
        });
    }
    for p in &world.watched_parties {
        let party = &world.parties[*p];
        entries.push(WatchEntry {
            kind: WatchKind::OverseasParty,
            value: party.code.clone().unwrap_or_else(|| party.name.clone()),
            lane: Lane::Red,
            suspend: false,
            case: format!("JS-P{p}"),
            office,
            until: None,
        });
    }
    WatchLists::new(entries).expect("generated watch lists are valid")
}

/// Price references from `count` declarations of an earlier slice of the same market (another
/// stream of the same seed), all items released as declared — undervalued ones included, as in
/// real history.
pub fn price_references(
    world: &World,
    rates: &Rates,
    refdata: &refdata::RefData,
    count: u64,
) -> PriceReferences {
    let mut seen = Vec::new();
    let cny: HashMap<_, _> = world.rates.clone();
    for i in 0..count {
        // Indices far above any day's count: the warm-up never repeats the day.
        let d = generate(world, rates, (1u64 << 40) + i, None);
        let Ok(decl) = domain::validate::validate_json(&d.json, refdata) else {
            continue;
        };
        if decl.direction != domain::codes::Direction::Import {
            continue;
        }
        for it in &decl.items {
            let rate = if it.currency == domain::codes::CurrencyCode::CNY {
                Decimal::ONE
            } else {
                match cny.get(&it.currency) {
                    Some(r) => *r,
                    None => continue,
                }
            };
            seen.push((
                it.commodity_code,
                it.origin_country,
                it.declared_unit,
                it.unit_price * rate,
            ));
        }
    }
    PriceReferences::from_released(seen)
}
