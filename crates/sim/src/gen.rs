//! One declaration of the day from its own random stream: [`generate`] gives the wire form
//! (`DeclarationForm`, serialised to JSON) with its ground truth — which violation was planted
//! on which item, or that it was made invalid on purpose — and its submission time.
//!
//! Mixes (shares are of declarations): imports 55 %; general trade 0110 about 72 % of imports,
//! processing trade (0615, 0214) 9 %, e-commerce (9610 direct, 1210 bonded) 14 %; 1 to 10 items
//! (mean about 3), e-commerce parcels 1–2 items of small value; submissions follow a working
//! day's curve, peaking late morning and mid-afternoon.

use domain::codes::{CurrencyCode, Uscc};
use domain::declaration::{
    ChargeForm, DeclarationForm, ItemForm, NumberText, OverseasPartyForm, PartyForm,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::rng::Rng;
use crate::world::{World, OFFICES, PARTNERS};

/// The violations the simulator plants, each with its ground truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Violation {
    /// One item's unit price far below the commodity's normal price (15–45 % of it).
    Undervaluation,
    /// Goods of one commodity declared under a code with lower duty in the same chapter.
    Misclassification,
    /// A licensed commodity shipped beyond the licence's quantity.
    LicenceOveruse,
    /// Quantity declared at 30–60 % of the real one; the weight tells the truth.
    QuantityMismatch,
    /// A watch-listed enterprise or overseas party.
    WatchListedParty,
}

impl Violation {
    pub const ALL: [Violation; 5] = [
        Violation::Undervaluation,
        Violation::Misclassification,
        Violation::LicenceOveruse,
        Violation::QuantityMismatch,
        Violation::WatchListedParty,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Violation::Undervaluation => "undervaluation",
            Violation::Misclassification => "misclassification",
            Violation::LicenceOveruse => "licence_overuse",
            Violation::QuantityMismatch => "quantity_mismatch",
            Violation::WatchListedParty => "watch_listed_party",
        }
    }
}

/// How often each violation is planted, and other knobs of the day, in parts per million of
/// declarations.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rates {
    pub undervaluation_ppm: u32,
    pub misclassification_ppm: u32,
    pub licence_overuse_ppm: u32,
    pub quantity_mismatch_ppm: u32,
    pub watch_listed_ppm: u32,
    /// Declarations made invalid on purpose (a total that does not match, a missing name).
    pub invalid_ppm: u32,
    /// Honest declarations with one item sold cheaply (clearance lots): the price check's
    /// false positives.
    pub cheap_lot_ppm: u32,
    /// Honest shipments under a licence.
    pub licensed_ppm: u32,
}

impl Default for Rates {
    fn default() -> Self {
        Rates {
            undervaluation_ppm: 8_000,
            misclassification_ppm: 3_000,
            licence_overuse_ppm: 500,
            quantity_mismatch_ppm: 3_000,
            watch_listed_ppm: 1_000,
            invalid_ppm: 2_000,
            cheap_lot_ppm: 3_000,
            licensed_ppm: 2_000,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planted {
    pub kind: Violation,
    /// The item it is on (1-based); `None` for the header (a watched party).
    pub item_no: Option<u16>,
}

#[derive(Clone, Debug)]
pub struct SimDeclaration {
    pub index: u64,
    pub json: Vec<u8>,
    pub planted: Option<Planted>,
    pub invalid: bool,
    /// Seconds after midnight of the day.
    pub submitted_s: u32,
    pub enterprise: usize,
    pub import: bool,
    pub office: &'static str,
    pub trade_mode: &'static str,
}

const HOUR_WEIGHTS: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 9, 11, 12, 12, 11, 9, 7, 5, 4, 3, 2, 1,
];
const IMPORT_MODES: [(&str, u32); 6] = [
    ("0110", 720),
    ("0615", 60),
    ("0214", 30),
    ("9610", 80),
    ("1210", 60),
    ("0110", 50),
];
const EXPORT_MODES: [(&str, u32); 6] = [
    ("0110", 750),
    ("0615", 80),
    ("0214", 40),
    ("9610", 60),
    ("9710", 40),
    ("9810", 30),
];

fn n(d: Decimal) -> Option<NumberText> {
    Some(NumberText::new(d.normalize().to_string()))
}

fn s(x: impl Into<String>) -> Option<String> {
    Some(x.into())
}

fn per_mille(d: Decimal, pm: i64) -> Decimal {
    d * Decimal::new(pm, 3)
}

struct Line {
    commodity: usize,
    /// The code declared (differs for a misclassification).
    declared: usize,
    origin: usize,
    price_cny: Decimal,
    quantity: Decimal,
    /// Real quantity (for the weight).
    real_quantity: Decimal,
}

/// Generate declaration `index` of the day of `world`. The same world, rates, index and
/// `items` override give the same bytes.
pub fn generate(
    world: &World,
    rates: &Rates,
    index: u64,
    items_fixed: Option<usize>,
) -> SimDeclaration {
    let mut r = Rng::stream(world.seed, "declaration", index);
    let roll = r.below(1_000_000) as u32;
    let mut acc = 0u32;
    let mut planted_kind = None;
    for (k, ppm) in [
        (Violation::Undervaluation, rates.undervaluation_ppm),
        (Violation::Misclassification, rates.misclassification_ppm),
        (Violation::LicenceOveruse, rates.licence_overuse_ppm),
        (Violation::QuantityMismatch, rates.quantity_mismatch_ppm),
        (Violation::WatchListedParty, rates.watch_listed_ppm),
    ] {
        acc += ppm;
        if planted_kind.is_none() && roll < acc {
            planted_kind = Some(k);
        }
    }
    let honest_roll = r.below(1_000_000) as u32;
    let licensed = !world.licences.is_empty()
        && (planted_kind == Some(Violation::LicenceOveruse)
            || (planted_kind.is_none() && honest_roll < rates.licensed_ppm));
    if planted_kind == Some(Violation::LicenceOveruse) && !licensed {
        planted_kind = None;
    }
    let cheap_lot = planted_kind.is_none()
        && !licensed
        && honest_roll < rates.licensed_ppm + rates.cheap_lot_ppm;
    let invalid = r.chance_ppm(rates.invalid_ppm);

    // Most violations are on imports, where duties are at stake.
    let import = match planted_kind {
        Some(Violation::WatchListedParty) | None => r.chance_ppm(550_000) || licensed,
        Some(_) => true,
    };
    let office_weights: Vec<u32> = OFFICES.iter().map(|o| o.1).collect();
    let mut office_i = r.weighted(&office_weights);

    // The filer.
    let licence = licensed.then(|| r.pick(&world.licences).clone());
    let watched_enterprise = planted_kind == Some(Violation::WatchListedParty)
        && !world.watched_enterprises.is_empty()
        && r.chance_ppm(500_000);
    let enterprise = if let Some(l) = &licence {
        office_i = world.enterprises[l.enterprise].office;
        l.enterprise
    } else if watched_enterprise {
        let e = *r.pick(&world.watched_enterprises);
        office_i = world.enterprises[e].office;
        e
    } else {
        let (ids, w) = &world.filers_by_office[office_i];
        ids[r.weighted(w)]
    };
    let (office, _, mode_of_office) = OFFICES[office_i];
    let ent = &world.enterprises[enterprise];

    let modes = if import { &IMPORT_MODES } else { &EXPORT_MODES };
    let trade_mode = if licensed || planted_kind.is_some_and(|k| k != Violation::WatchListedParty) {
        "0110"
    } else {
        modes[r.weighted(&modes.iter().map(|m| m.1).collect::<Vec<_>>())].0
    };
    let ecommerce = matches!(trade_mode, "9610" | "1210" | "9710" | "9810");
    let levy = match trade_mode {
        "0214" => "502",
        "0615" => "503",
        _ => "101",
    };

    // The partner and the overseas party.
    let partner_weights: Vec<u32> = PARTNERS.iter().map(|p| p.1).collect();
    let watched_party = planted_kind == Some(Violation::WatchListedParty)
        && !watched_enterprise
        && !world.watched_parties.is_empty();
    let party_i = if watched_party {
        *r.pick(&world.watched_parties)
    } else {
        let p = r.weighted(&partner_weights);
        *r.pick(&world.parties_by_partner[p])
    };
    let party = &world.parties[party_i];
    let partner = PARTNERS[party.partner];
    let currency = if r.chance_ppm(250_000) {
        "USD"
    } else {
        partner.2
    };
    let currency_code = CurrencyCode::parse(currency).expect("partner currencies are valid");
    let rate = world.rate(currency_code);

    // Items.
    let n_items = items_fixed.unwrap_or_else(|| {
        if ecommerce {
            1 + r.below(2) as usize
        } else {
            1 + r.weighted(&[30, 20, 15, 10, 8, 6, 4, 3, 2, 2])
        }
    });
    let sector_list = &world.by_sector[ent.sector];
    let mut lines: Vec<Line> = Vec::with_capacity(n_items);
    for k in 0..n_items {
        let c = if r.chance_ppm(800_000) {
            *r.pick(sector_list)
        } else {
            let s = r.below(world.by_sector.len() as u64) as usize;
            *r.pick(&world.by_sector[s])
        };
        let com = &world.commodities[c];
        let origin = *r.pick(&com.origins);
        let price_cny = per_mille(com.median_cny, r.bell_permille(100));
        let value_cny = if ecommerce {
            Decimal::from(r.range(100, 3_000))
        } else {
            Decimal::from(r.range(5, 800) * 1_000)
        };
        let q = (value_cny / price_cny).round().max(Decimal::ONE);
        let _ = k;
        lines.push(Line {
            commodity: c,
            declared: c,
            origin,
            price_cny,
            quantity: q,
            real_quantity: q,
        });
    }

    // Plant.
    let mut planted = None;
    match planted_kind {
        Some(Violation::Undervaluation) => {
            let l = &mut lines[0];
            l.price_cny = per_mille(
                world.commodities[l.commodity].median_cny,
                r.range(150, 450) as i64,
            );
            planted = Some(Planted {
                kind: Violation::Undervaluation,
                item_no: Some(1),
            });
        }
        Some(Violation::Misclassification) if !world.swaps.is_empty() => {
            let pair = *r.pick(&world.swaps);
            let com = &world.commodities[pair.actual];
            let l = &mut lines[0];
            l.commodity = pair.actual;
            l.declared = pair.declared;
            l.origin = *r.pick(&com.origins);
            l.price_cny = per_mille(com.median_cny, r.bell_permille(100));
            l.quantity = (Decimal::from(r.range(20, 500) * 1_000) / l.price_cny)
                .round()
                .max(Decimal::ONE);
            l.real_quantity = l.quantity;
            planted = Some(Planted {
                kind: Violation::Misclassification,
                item_no: Some(1),
            });
        }
        Some(Violation::QuantityMismatch) => {
            let candidates: Vec<usize> = (0..world.commodities.len())
                .filter(|i| {
                    let c = &world.commodities[*i];
                    c.licence.is_none()
                        && c.first_unit != "035"
                        && c.second_unit.as_deref() == Some("035")
                })
                .collect();
            if !candidates.is_empty() {
                let c = *r.pick(&candidates);
                let com = &world.commodities[c];
                let l = &mut lines[0];
                l.commodity = c;
                l.declared = c;
                l.origin = *r.pick(&com.origins);
                l.price_cny = per_mille(com.median_cny, r.bell_permille(100));
                l.real_quantity = (Decimal::from(r.range(20, 500) * 1_000) / l.price_cny)
                    .round()
                    .max(Decimal::from(10));
                l.quantity = per_mille(l.real_quantity, r.range(300, 600) as i64)
                    .round()
                    .max(Decimal::ONE);
                planted = Some(Planted {
                    kind: Violation::QuantityMismatch,
                    item_no: Some(1),
                });
            }
        }
        Some(Violation::LicenceOveruse) | None if licence.is_some() => {
            let l_ = licence.as_ref().expect("licensed");
            let com = &world.commodities[l_.commodity];
            let l = &mut lines[0];
            l.commodity = l_.commodity;
            l.declared = l_.commodity;
            l.origin = *r.pick(&com.origins);
            l.price_cny = per_mille(com.median_cny, r.bell_permille(100));
            let pm = if planted_kind.is_some() {
                r.range(1_300, 2_000)
            } else {
                r.range(50, 300)
            };
            l.quantity = per_mille(l_.quantity, pm as i64).round().max(Decimal::ONE);
            l.real_quantity = l.quantity;
            if planted_kind.is_some() {
                planted = Some(Planted {
                    kind: Violation::LicenceOveruse,
                    item_no: Some(1),
                });
            }
        }
        Some(Violation::WatchListedParty) => {
            planted = Some(Planted {
                kind: Violation::WatchListedParty,
                item_no: None,
            });
        }
        _ => {}
    }
    if cheap_lot {
        let l = &mut lines[0];
        l.price_cny = per_mille(
            world.commodities[l.commodity].median_cny,
            r.range(350, 500) as i64,
        );
    }

    // The wire form.
    let mut net_kg = Decimal::ZERO;
    let mut items = Vec::with_capacity(lines.len());
    for (k, l) in lines.iter().enumerate() {
        let real = &world.commodities[l.commodity];
        let decl = &world.commodities[l.declared];
        let kg = (l.real_quantity * real.kg_per_unit)
            .round_dp(2)
            .max(Decimal::new(1, 2));
        net_kg += kg;
        let unit_price = (l.price_cny / rate).round_dp(4).max(Decimal::new(1, 4));
        let total = (l.quantity * unit_price)
            .round_dp(2)
            .max(Decimal::new(1, 2));
        let second_quantity =
            decl.second_unit
                .as_ref()
                .map(|u| if u == "035" { kg } else { l.quantity });
        let (origin, destination) = if import {
            (PARTNERS[l.origin].0, "CHN")
        } else {
            ("CHN", partner.0)
        };
        items.push(ItemForm {
            item_no: n(Decimal::from(k + 1)),
            commodity_code: s(decl.code.as_str()),
            name: s(decl.name_zh.clone()),
            specification: s(format!("品牌{}|型号{}", k % 7, l.commodity)),
            declared_quantity: n(l.quantity),
            declared_unit: s(decl.first_unit.clone()),
            first_quantity: n(l.quantity),
            first_unit: s(decl.first_unit.clone()),
            second_quantity: second_quantity.and_then(n),
            second_unit: decl.second_unit.clone(),
            unit_price: n(unit_price),
            total_price: n(total),
            currency: s(currency),
            origin_country: s(origin),
            destination_country: s(destination),
            duty_treatment: s("1"),
            ..ItemForm::default()
        });
    }
    let gross_kg = per_mille(net_kg, r.range(1_030, 1_150) as i64).round_dp(2);
    let packages = (net_kg / Decimal::from(20)).round().max(Decimal::ONE);
    let carrier = world
        .carriers_by_mode
        .get(mode_of_office)
        .map(|v| &world.carriers[*r.pick(v)]);
    let port = *r.pick(partner.3);
    let fob = import && !ecommerce && r.chance_ppm(250_000);
    let goods_total: Decimal = items
        .iter()
        .filter_map(|i| i.total_price.as_ref())
        .filter_map(|t| t.as_str().parse::<Decimal>().ok())
        .sum();
    let trader = PartyForm {
        name: s(ent.name.clone()),
        uscc: s(ent.uscc.as_str()),
        customs_code: None,
    };
    let mut form = DeclarationForm {
        direction: s(if import { "import" } else { "export" }),
        declaration_office: s(office),
        entry_exit_office: s(office),
        record_no: matches!(trade_mode, "0214" | "0615")
            .then(|| format!("C{office}25{:06}", enterprise)),
        contract_no: s(format!("SIM-{}-{index}", world.seed)),
        ie_date: s(if import {
            world.day.pred_opt()
        } else {
            world.day.succ_opt()
        }
        .unwrap_or(world.day)
        .to_string()),
        declaration_date: s(world.day.to_string()),
        trader: Some(trader.clone()),
        overseas_party: Some(OverseasPartyForm {
            code: party.code.clone(),
            name: s(party.name.clone()),
            address: None,
        }),
        owner: Some(trader),
        transport_mode: s(mode_of_office),
        vessel: carrier.map(|c| c.name.clone()),
        voyage_no: s(format!("{:03}E", index % 997)),
        bill_no: s(format!("SIMB{:010}", index)),
        trade_mode: s(trade_mode),
        levy_nature: s(levy),
        licence_no: licence.as_ref().map(|l| l.number.clone()),
        loading_port: import.then(|| port.to_owned()),
        destination_port: (!import).then(|| port.to_owned()),
        trading_country: s(partner.0),
        dispatch_country: s(partner.0),
        package_type: s("22"),
        packages: n(packages),
        gross_weight_kg: n(gross_kg.max(net_kg)),
        net_weight_kg: n(net_kg),
        transaction_terms: s(if fob {
            "3"
        } else if import {
            "1"
        } else {
            "3"
        }),
        freight: fob.then(|| ChargeForm {
            mark: s("3"),
            value: n((goods_total * Decimal::new(2, 2))
                .round_dp(2)
                .max(Decimal::ONE)),
            currency: s(currency),
        }),
        entry_type: s("M"),
        buyer: (import && matches!(trade_mode, "9610" | "1210")).then(|| buyer_of(index)),
        items,
        ..DeclarationForm::default()
    };
    if invalid {
        if r.chance_ppm(500_000) {
            form.items[0].total_price = n(Decimal::from(999_999_999));
        } else if let Some(t) = form.trader.as_mut() {
            t.name = None;
        }
    }
    let hour = r.weighted(&HOUR_WEIGHTS) as u32;
    let submitted_s = hour * 3600 + r.below(3600) as u32;
    let json = serde_json::to_vec(&form).expect("a form serialises");
    SimDeclaration {
        index,
        json,
        planted,
        invalid,
        submitted_s,
        enterprise,
        import,
        office,
        trade_mode,
    }
}

/// The USCC of the filer of a generated declaration.
pub fn filer(world: &World, d: &SimDeclaration) -> Uscc {
    world.enterprises[d.enterprise].uscc
}

/// The buyer of an e-commerce retail import: one of 100,000 people, taken from the
/// declaration's index (not from the generator's stream, so the rest of the day is the same
/// with or without buyers), with a valid resident identity number.
fn buyer_of(index: u64) -> domain::declaration::BuyerForm {
    const REGIONS: [&str; 6] = ["110105", "310115", "440305", "330106", "510107", "420106"];
    let person = index.wrapping_mul(2_654_435_761) % 100_000;
    let region = REGIONS[(person % REGIONS.len() as u64) as usize];
    let born = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).expect("a date")
        + chrono::Duration::days((person % 16_000) as i64);
    let body = format!("{region}{}{:03}", born.format("%Y%m%d"), person % 1_000);
    let check = domain::declaration::resident_id_check_char(&body).expect("17 digits");
    domain::declaration::BuyerForm {
        id_type: Some("resident_id".into()),
        id_no: Some(format!("{body}{check}")),
        name: Some(format!("买家{person:05}")),
    }
}
