//! The world a trade day happens in, generated once from the seed: enterprises (credit class,
//! size, sector, home office), overseas parties, carriers (vessels, flights, trucks, trains),
//! commodities from the tariff with a normal unit price and weight each, licences, the pairs of
//! commodity codes that smugglers swap, the watch lists' targets, and the day's exchange rates.
//!
//! Prices and weights are derived from the commodity code and the seed with integer arithmetic
//! (a geometric ladder of about 11 % steps between bounds that depend on the legal unit and the
//! HS chapter), so every run of a seed sees the same market.

use std::collections::HashMap;

use chrono::NaiveDate;
use clearance::CreditClass;
use domain::codes::{CurrencyCode, HsCode, Uscc, USCC_ALPHABET};
use refdata::RefData;
use rust_decimal::Decimal;

use crate::rng::{fnv1a, Rng};

/// Where declarations are lodged, with each office's share of the national volume (in per
/// mille, roughly the ports' ranking by customs declarations) and its usual transport mode.
pub const OFFICES: &[(&str, u32, &str)] = &[
    ("2200", 120, "2"),
    ("2233", 60, "5"),
    ("3100", 90, "2"),
    ("5304", 40, "2"),
    ("5343", 45, "2"),
    ("5301", 35, "4"),
    ("5317", 20, "5"),
    ("5345", 10, "4"),
    ("5316", 10, "2"),
    ("5100", 30, "2"),
    ("5141", 20, "5"),
    ("5204", 40, "4"),
    ("5200", 30, "2"),
    ("4218", 40, "2"),
    ("4227", 20, "2"),
    ("4240", 10, "5"),
    ("0202", 55, "2"),
    ("0101", 30, "5"),
    ("3700", 40, "2"),
    ("2300", 30, "2"),
    ("2900", 35, "5"),
    ("0900", 20, "2"),
    ("4600", 20, "5"),
    ("7900", 20, "3"),
    ("4712", 10, "5"),
    ("5795", 10, "4"),
    ("7208", 10, "4"),
    ("0601", 8, "3"),
    ("0702", 5, "3"),
    ("3500", 20, "2"),
    ("6400", 10, "2"),
    ("6000", 10, "2"),
    ("6800", 10, "2"),
];

/// Trading partners: (country, share in per mille, currency, foreign ports).
pub const PARTNERS: &[(&str, u32, &str, &[&str])] = &[
    ("USA", 140, "USD", &["USLAX", "USLGB", "USNYC", "USSEA"]),
    ("JPN", 80, "JPY", &["JPTYO", "JPYOK", "JPOSA"]),
    ("KOR", 70, "KRW", &["KRPUS", "KRINC"]),
    ("HKG", 60, "HKD", &["HKHKG"]),
    ("DEU", 55, "EUR", &["DEHAM", "DEBRV"]),
    ("VNM", 55, "USD", &["VNSGN", "VNHPH"]),
    ("AUS", 45, "AUD", &["AUSYD", "AUMEL"]),
    ("MYS", 40, "USD", &["MYPKG"]),
    ("RUS", 40, "USD", &["RUVVO", "RULED"]),
    ("TWN", 40, "USD", &["TWKHH"]),
    ("BRA", 35, "USD", &["BRSSZ"]),
    ("THA", 30, "USD", &["THLCH"]),
    ("IDN", 30, "USD", &["IDJKT"]),
    ("IND", 30, "USD", &["INNSA"]),
    ("SGP", 25, "SGD", &["SGSIN"]),
    ("GBR", 25, "GBP", &["GBFXT"]),
    ("NLD", 25, "EUR", &["NLRTM"]),
    ("FRA", 20, "EUR", &["FRLEH"]),
    ("ITA", 20, "EUR", &["ITGOA"]),
    ("CAN", 20, "CAD", &["CAVAN"]),
    ("MEX", 15, "USD", &["MXZLO"]),
    ("SAU", 15, "USD", &["SADMM"]),
    ("CHL", 15, "USD", &["CLSAI"]),
    ("PHL", 15, "USD", &["PHMNL"]),
    ("ZAF", 10, "USD", &["ZADUR"]),
    ("NZL", 10, "USD", &["NZAKL"]),
];

/// Enterprise sectors, by HS chapter.
pub const SECTORS: &[&str] = &[
    "agri-food",
    "chemicals",
    "plastics-rubber",
    "textiles",
    "metals",
    "machinery-electronics",
    "vehicles",
    "other",
];

pub fn sector_of_chapter(chapter: u32) -> usize {
    match chapter {
        1..=24 => 0,
        25..=38 => 1,
        39..=40 => 2,
        50..=67 => 3,
        72..=83 => 4,
        84..=85 | 90..=92 => 5,
        86..=89 => 6,
        _ => 7,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Large,
    Medium,
    Small,
    Micro,
}

impl Size {
    /// Relative number of declarations a day.
    pub fn volume_weight(self) -> u32 {
        match self {
            Size::Large => 400,
            Size::Medium => 60,
            Size::Small => 10,
            Size::Micro => 2,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Large => "large",
            Size::Medium => "medium",
            Size::Small => "small",
            Size::Micro => "micro",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Enterprise {
    pub uscc: Uscc,
    pub name: String,
    pub credit: CreditClass,
    pub size: Size,
    pub sector: usize,
    /// Index into [`OFFICES`].
    pub office: usize,
    /// Listed on the enterprise watch list: files only planted declarations.
    pub watched: bool,
}

#[derive(Clone, Debug)]
pub struct OverseasParty {
    pub code: Option<String>,
    pub name: String,
    /// Index into [`PARTNERS`].
    pub partner: usize,
    pub watched: bool,
}

#[derive(Clone, Debug)]
pub struct Carrier {
    pub transport_mode: &'static str,
    pub name: String,
    pub watched: bool,
}

#[derive(Clone, Debug)]
pub struct Commodity {
    pub code: HsCode,
    pub name_zh: String,
    pub first_unit: String,
    pub second_unit: Option<String>,
    /// Normal unit price per first unit, in CNY (4 decimal places).
    pub median_cny: Decimal,
    /// Normal kilograms per first unit (1 for kilograms).
    pub kg_per_unit: Decimal,
    pub licence: Option<String>,
    pub sector: usize,
    /// MFN ad valorem rate (for choosing misclassification targets).
    pub mfn: Decimal,
    /// Export duty (export lines are drawn without it, to keep exports common goods).
    pub export_duty: bool,
    /// The usual origins of imports, indices into [`PARTNERS`].
    pub origins: Vec<usize>,
}

#[derive(Clone, Debug)]
pub struct Licence {
    pub number: String,
    pub commodity: usize,
    pub enterprise: usize,
    /// Quantity the licence allows for the day's shipments (first unit).
    pub quantity: Decimal,
}

/// A pair smugglers use: goods of `actual` declared under `declared` (same chapter and units,
/// lower duty).
#[derive(Clone, Copy, Debug)]
pub struct SwapPair {
    pub actual: usize,
    pub declared: usize,
}

pub struct WorldConfig {
    pub enterprises: usize,
    pub overseas_parties: usize,
    pub carriers: usize,
}

impl Default for WorldConfig {
    fn default() -> Self {
        WorldConfig {
            enterprises: 20_000,
            overseas_parties: 8_000,
            carriers: 1_500,
        }
    }
}

pub struct World {
    pub seed: u64,
    pub day: NaiveDate,
    pub enterprises: Vec<Enterprise>,
    /// Cumulative volume weights of the enterprises that file ordinary declarations, by
    /// office, for drawing the filer of a declaration lodged there.
    pub filers_by_office: Vec<(Vec<usize>, Vec<u32>)>,
    pub watched_enterprises: Vec<usize>,
    pub parties: Vec<OverseasParty>,
    pub parties_by_partner: Vec<Vec<usize>>,
    pub watched_parties: Vec<usize>,
    pub carriers: Vec<Carrier>,
    pub carriers_by_mode: HashMap<&'static str, Vec<usize>>,
    pub commodities: Vec<Commodity>,
    /// Commodities by sector (ordinary goods: no licence).
    pub by_sector: Vec<Vec<usize>>,
    pub licensed: Vec<usize>,
    pub licences: Vec<Licence>,
    pub swaps: Vec<SwapPair>,
    /// CNY per unit of each currency on the day (the rate table's rule for that date).
    pub rates: HashMap<CurrencyCode, Decimal>,
}

/// A valid USCC drawn from `rng` (retrying the rare bodies with no check character).
pub fn uscc(rng: &mut Rng) -> Uscc {
    loop {
        let mut body = String::from("91");
        body.push_str(&format!("{:06}", 110_000 + rng.below(540_000)));
        for _ in 0..9 {
            body.push(USCC_ALPHABET[rng.below(31) as usize] as char);
        }
        if let Ok(c) = Uscc::check_character(&body) {
            if let Ok(u) = Uscc::parse(&format!("{body}{c}")) {
                return u;
            }
        }
    }
}

/// A value in a geometric ladder from `lo` to `hi` (steps of about 11 %), in 1/10,000 units.
fn ladder(rng: &mut Rng, lo_e4: i64, hi_e4: i64) -> Decimal {
    let mut steps = 0u64;
    let mut v = lo_e4;
    while v < hi_e4 {
        v = v * 1109 / 1000 + 1;
        steps += 1;
    }
    let k = rng.below(steps + 1);
    let mut v = lo_e4;
    for _ in 0..k {
        v = v * 1109 / 1000 + 1;
    }
    Decimal::new(v, 4)
}

/// Bounds of the normal unit price (CNY, ×10⁴) and of kilograms per unit (×10⁴).
fn bounds(first_unit: &str, chapter: u32) -> ((i64, i64), (i64, i64)) {
    const E4: i64 = 10_000;
    let kg = match first_unit {
        "035" => (E4, E4),
        "001" => (E4 / 2, 80 * E4),
        "003" => (800 * E4, 3_000 * E4),
        "004" => (100_000 * E4, 400_000 * E4),
        "007" | "011" => (200, 5 * E4),
        "025" => (3 * E4 / 10, 3 * E4 / 2),
        "009" => (50 * E4, 600 * E4),
        "095" => (E4, E4 + 2_000),
        "036" => (10, 10),
        _ => (E4 / 10, 20 * E4),
    };
    let price = match (first_unit, chapter) {
        ("035", 1..=24) => (8 * E4, 80 * E4),
        ("035", 25..=38) => (10 * E4, 300 * E4),
        ("035", 39..=40) => (10 * E4, 60 * E4),
        ("035", 50..=67) => (40 * E4, 600 * E4),
        ("035", 72..=83) => (5 * E4, 120 * E4),
        ("035", 84..=85) => (100 * E4, 2_000 * E4),
        ("035", _) => (10 * E4, 500 * E4),
        ("001", _) => (500 * E4, 30_000 * E4),
        ("003", _) => (80_000 * E4, 600_000 * E4),
        ("004", _) => (1_000_000 * E4, 50_000_000 * E4),
        ("007" | "011", _) => (10 * E4, 800 * E4),
        ("025", _) => (30 * E4, 600 * E4),
        ("009", _) => (3_000 * E4, 30_000 * E4),
        ("095", _) => (10 * E4, 300 * E4),
        ("036", _) => (E4 / 2, 50 * E4),
        _ => (10 * E4, 1_000 * E4),
    };
    (price, kg)
}

impl World {
    pub fn generate(seed: u64, day: NaiveDate, refdata: &RefData, cfg: &WorldConfig) -> World {
        let mut rng = Rng::stream(seed, "world", 0);

        // Commodities: every tariff line in force on the day.
        let mut lines: Vec<_> = refdata.tariff_lines().filter(|l| l.in_force(day)).collect();
        lines.sort_by_key(|l| l.commodity_code);
        let mut commodities = Vec::with_capacity(lines.len());
        for l in lines {
            let code = l.commodity_code;
            let chapter: u32 = code.as_str()[..2].parse().unwrap_or(99);
            let mut r = Rng::stream(seed, "commodity", fnv1a(code.as_str().as_bytes()));
            let first_unit = l.first_unit.as_str().to_owned();
            let ((plo, phi), (klo, khi)) = bounds(&first_unit, chapter);
            let median_cny = ladder(&mut r, plo, phi);
            let kg_per_unit = ladder(&mut r, klo, khi);
            let n_origins = 2 + r.below(3) as usize;
            let weights: Vec<u32> = PARTNERS.iter().map(|p| p.1).collect();
            let mut origins = Vec::new();
            while origins.len() < n_origins {
                let o = r.weighted(&weights);
                if !origins.contains(&o) {
                    origins.push(o);
                }
            }
            commodities.push(Commodity {
                code,
                name_zh: l.description_zh.chars().take(40).collect(),
                first_unit,
                second_unit: l.second_unit.map(|u| u.as_str().to_owned()),
                median_cny,
                kg_per_unit,
                licence: l.licence.clone(),
                sector: sector_of_chapter(chapter),
                mfn: l.mfn.ad_valorem(),
                export_duty: l.export_duty.is_some(),
                origins,
            });
        }
        let mut by_sector = vec![Vec::new(); SECTORS.len()];
        let mut licensed = Vec::new();
        for (i, c) in commodities.iter().enumerate() {
            if c.licence.is_some() {
                licensed.push(i);
            } else {
                by_sector[c.sector].push(i);
            }
        }
        // A sector with no lines in the sample borrows the "other" lines.
        let fallback: Vec<usize> = (0..commodities.len())
            .filter(|i| commodities[*i].licence.is_none())
            .collect();
        for s in by_sector.iter_mut() {
            if s.is_empty() {
                *s = fallback.clone();
            }
        }

        // Enterprises.
        let office_weights: Vec<u32> = OFFICES.iter().map(|o| o.1).collect();
        let mut enterprises = Vec::with_capacity(cfg.enterprises);
        for i in 0..cfg.enterprises {
            let size = match rng.below(1000) {
                0..=19 => Size::Large,
                20..=149 => Size::Medium,
                150..=549 => Size::Small,
                _ => Size::Micro,
            };
            // AEO status is commoner among large firms.
            let roll = rng.below(1000);
            let credit = match (size, roll) {
                (_, 0..=14) => CreditClass::Discredited,
                (Size::Large, 15..=414) | (Size::Medium, 15..=94) | (_, 15..=29) => {
                    CreditClass::AdvancedCertified
                }
                (Size::Large, 415..=614) | (_, 30..=99) => CreditClass::GeneralCertified,
                _ => CreditClass::General,
            };
            enterprises.push(Enterprise {
                uscc: uscc(&mut rng),
                name: format!("模拟贸易企业{i:05}有限公司"),
                credit,
                size,
                sector: rng.weighted(&[12, 10, 8, 14, 10, 30, 6, 10]),
                office: rng.weighted(&office_weights),
                watched: rng.chance_ppm(3_000),
            });
        }
        let watched_enterprises: Vec<usize> = (0..enterprises.len())
            .filter(|i| enterprises[*i].watched)
            .collect();
        let mut filers_by_office = vec![(Vec::new(), Vec::new()); OFFICES.len()];
        for (i, e) in enterprises.iter().enumerate() {
            if !e.watched {
                filers_by_office[e.office].0.push(i);
                filers_by_office[e.office].1.push(e.size.volume_weight());
            }
        }
        // An office with no resident filer borrows one from the largest office.
        for o in 0..OFFICES.len() {
            if filers_by_office[o].0.is_empty() {
                filers_by_office[o] = filers_by_office[0].clone();
            }
        }

        // Overseas parties.
        let partner_weights: Vec<u32> = PARTNERS.iter().map(|p| p.1).collect();
        let mut parties = Vec::with_capacity(cfg.overseas_parties);
        let mut parties_by_partner = vec![Vec::new(); PARTNERS.len()];
        for i in 0..cfg.overseas_parties {
            let partner = rng.weighted(&partner_weights);
            let aeo = rng.chance_ppm(150_000);
            let code = aeo.then(|| {
                format!(
                    "{}{:010}",
                    &PARTNERS[partner].0[..2],
                    rng.below(10_000_000_000)
                )
            });
            let watched = rng.chance_ppm(5_000);
            if !watched {
                parties_by_partner[partner].push(i);
            }
            parties.push(OverseasParty {
                code,
                name: format!("SIM TRADING {} CO {i:05}", PARTNERS[partner].0),
                partner,
                watched,
            });
        }
        for p in 0..PARTNERS.len() {
            if parties_by_partner[p].is_empty() {
                parties_by_partner[p] = parties_by_partner[0].clone();
            }
        }
        let watched_parties = (0..parties.len()).filter(|i| parties[*i].watched).collect();

        // Carriers.
        let mut carriers = Vec::with_capacity(cfg.carriers);
        let mut carriers_by_mode: HashMap<&'static str, Vec<usize>> = HashMap::new();
        for i in 0..cfg.carriers {
            let mode = *rng.pick(&["2", "2", "2", "5", "5", "4", "4", "3"]);
            let name = match mode {
                "2" => format!("SIM VESSEL {i:04}"),
                "5" => format!("SM{:04}", 1000 + i),
                "4" => format!("粤Z{:05}港", i),
                _ => format!("X{:04}", 8000 + i),
            };
            carriers_by_mode.entry(mode).or_default().push(i);
            carriers.push(Carrier {
                transport_mode: mode,
                name,
                watched: rng.chance_ppm(10_000),
            });
        }

        // Licences: a few holders per licensed line, each with a quota for the day.
        let mut licences = Vec::new();
        for (k, c) in licensed.iter().enumerate() {
            for j in 0..4 {
                let enterprise = rng.below(enterprises.len() as u64) as usize;
                licences.push(Licence {
                    number: format!("25-{:02}-{:06}", k % 100, 100_000 + j * 7 + k),
                    commodity: *c,
                    enterprise,
                    quantity: Decimal::from(rng.range(500, 5_000)),
                });
            }
        }

        // Swap pairs: same chapter and units, lower MFN duty.
        let mut swaps = Vec::new();
        for (a, ca) in commodities.iter().enumerate() {
            if ca.licence.is_some() {
                continue;
            }
            let candidates: Vec<usize> = commodities
                .iter()
                .enumerate()
                .filter(|(b, cb)| {
                    *b != a
                        && cb.licence.is_none()
                        && cb.code.as_str()[..2] == ca.code.as_str()[..2]
                        && cb.first_unit == ca.first_unit
                        && cb.second_unit == ca.second_unit
                        && cb.mfn < ca.mfn
                })
                .map(|(b, _)| b)
                .collect();
            if !candidates.is_empty() {
                swaps.push(SwapPair {
                    actual: a,
                    declared: *rng.pick(&candidates),
                });
            }
        }

        // Exchange rates: the sample table's rate for the day by the tax engine's own rule.
        let table = tax::RateTable::sample();
        let calendar = tax::TradingCalendar::china();
        let mut rates = HashMap::new();
        for (_, _, cur, _) in PARTNERS {
            let c = CurrencyCode::parse(cur).expect("partner currencies are valid");
            if let Ok((r, _)) = table.rate_for(c, day, &calendar) {
                rates.insert(c, r);
            }
        }

        World {
            seed,
            day,
            enterprises,
            filers_by_office,
            watched_enterprises,
            parties,
            parties_by_partner,
            watched_parties,
            carriers,
            carriers_by_mode,
            commodities,
            by_sector,
            licensed,
            licences,
            swaps,
            rates,
        }
    }

    /// CNY per unit of `currency` (1 for CNY).
    pub fn rate(&self, currency: CurrencyCode) -> Decimal {
        if currency == CurrencyCode::CNY {
            Decimal::ONE
        } else {
            self.rates.get(&currency).copied().unwrap_or(Decimal::ONE)
        }
    }
}
