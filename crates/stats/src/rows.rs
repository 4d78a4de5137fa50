//! From a declaration of the ledger to its statistical item rows, pure: [`rows_of`] decides whether
//! a declaration counts (a released import, a closed export, a mode inside trade statistics), its
//! statistical date and every dimension, and values each item CIF (imports) or FOB (exports) in
//! CNY and USD at the month's statistical rate ([`MonthRates`]). No IO: the extractor feeds it
//! what the store loaded.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate};
use clearance::{DeclarationState, Status};
use domain::codes::{CurrencyCode, Direction, OfficeCode, TradeMode, TransactionTerms};
use domain::declaration::{Charge, Declaration};
use domain::reference::OfficeLevel;
use refdata::RefData;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use tax::rates::RateTable;

use crate::error::StatsError;

/// Import or export, as the `flow` column spells it.
pub fn flow_name(d: Direction) -> &'static str {
    match d {
        Direction::Import => "import",
        Direction::Export => "export",
    }
}

/// One goods line of a counted declaration, or (`items` = -1, every measure negated) the
/// reversal of such a row written earlier. The dimension columns are codes as the code tables
/// spell them; docs/STATISTICS.md names each.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemRow {
    /// The extraction batch that wrote the row (the warehouse's revision counter).
    pub run: i64,
    pub declaration_id: i64,
    pub declaration_no: String,
    /// The declaration's version (1 the filing, then one per amendment).
    pub version_no: i32,
    pub item_no: i32,
    /// +1 a row, -1 the reversal of an earlier row.
    pub items: i32,
    pub flow: &'static str,
    /// Release date (imports) or closure date (exports), China time.
    pub stat_date: NaiveDate,
    pub hs_code: String,
    pub partner_country: String,
    pub trading_country: String,
    pub trade_mode: String,
    pub stats_trade_mode: String,
    pub transport_mode: String,
    pub office: String,
    pub district: String,
    pub region: String,
    pub enterprise_type: String,
    pub currency: String,
    pub value_cny_fen: i64,
    pub value_usd_cents: i64,
    /// Quantities in the legal units, scaled by 10^[`QUANTITY_SCALE`].
    pub quantity_1: i128,
    pub unit_1: String,
    pub quantity_2: Option<i128>,
    pub unit_2: Option<String>,
}

/// Decimal places kept of legal quantities (the Parquet column is `decimal(28, 5)`).
pub const QUANTITY_SCALE: u32 = 5;

impl ItemRow {
    /// The row as it adds (items +1, measures as counted), without its batch: two rows with the
    /// same content are the same contribution.
    pub fn content(&self) -> ItemRow {
        let mut r = self.clone();
        r.run = 0;
        if r.items < 0 {
            r = r.negated();
            r.run = 0;
        }
        r
    }

    /// The reversal of this row.
    pub fn negated(&self) -> ItemRow {
        let mut r = self.clone();
        r.items = -r.items;
        r.value_cny_fen = -r.value_cny_fen;
        r.value_usd_cents = -r.value_usd_cents;
        r.quantity_1 = -r.quantity_1;
        r.quantity_2 = r.quantity_2.map(|q| -q);
        r
    }

    /// The year and month partition of the row.
    pub fn partition(&self) -> (i32, u32) {
        (self.stat_date.year(), self.stat_date.month())
    }
}

/// The statistical exchange rate of each month: yuan per unit of a currency, the rate customs
/// applies in that month (the one published before the month began, i.e. dated on or before its
/// first day). USD values are the CNY values divided by the month's USD rate.
#[derive(Clone, Debug)]
pub struct MonthRates {
    /// Per currency, the quotes by date.
    quotes: HashMap<CurrencyCode, BTreeMap<NaiveDate, Decimal>>,
}

impl MonthRates {
    pub fn new(table: &RateTable) -> MonthRates {
        let mut quotes: HashMap<CurrencyCode, BTreeMap<NaiveDate, Decimal>> = HashMap::new();
        for (currency, date, rate) in table.rows() {
            quotes
                .entry(currency)
                .or_default()
                .insert(date, rate.per_unit());
        }
        MonthRates { quotes }
    }

    /// Yuan per one unit of `currency` in the month of `date`.
    pub fn yuan_per_unit(
        &self,
        currency: CurrencyCode,
        date: NaiveDate,
    ) -> Result<Decimal, StatsError> {
        if currency == CurrencyCode::CNY {
            return Ok(Decimal::ONE);
        }
        let first = date.with_day(1).expect("day 1 exists");
        self.quotes
            .get(&currency)
            .and_then(|q| q.range(..=first).next_back())
            .map(|(_, r)| *r)
            .ok_or_else(|| StatsError::NoRate {
                currency: currency.as_str().to_owned(),
                month: first.format("%Y-%m").to_string(),
            })
    }
}

/// The code tables a row's dimensions come from, indexed once.
pub struct Dimensions {
    /// Office → its directly-affiliated customs (itself for a directly-affiliated customs).
    district_of: HashMap<OfficeCode, OfficeCode>,
    /// 4-digit supervision mode → 2-digit statistical mode (`None`: outside trade statistics).
    stats_mode_of: HashMap<TradeMode, Option<String>>,
}

impl Dimensions {
    pub fn new(refdata: &RefData) -> Dimensions {
        let offices: HashMap<OfficeCode, (OfficeLevel, Option<OfficeCode>)> = refdata
            .offices()
            .map(|o| (o.code, (o.level, o.parent)))
            .collect();
        let mut district_of = HashMap::new();
        for (&code, _) in offices.iter() {
            // Walk up to the directly-affiliated customs (the table, not the digits, decides).
            let mut at = code;
            for _ in 0..8 {
                match offices.get(&at) {
                    Some((OfficeLevel::Subordinate, Some(parent))) => at = *parent,
                    _ => break,
                }
            }
            district_of.insert(code, at);
        }
        let stats_mode_of = refdata
            .trade_modes()
            .map(|m| (m.code, m.stats_code.clone()))
            .collect();
        Dimensions {
            district_of,
            stats_mode_of,
        }
    }

    /// The directly-affiliated customs of `office`; an office missing from the table is taken
    /// by its first two digits (`xx00`), as the code's pattern says.
    pub fn district(&self, office: OfficeCode) -> String {
        match self.district_of.get(&office) {
            Some(d) => d.as_str().to_owned(),
            None => format!("{}00", &office.as_str()[..2]),
        }
    }

    /// The 2-digit statistical trade mode, `None` outside trade statistics (and for a mode the
    /// table does not list, which validation refuses at filing).
    pub fn stats_trade_mode(&self, mode: TradeMode) -> Option<String> {
        self.stats_mode_of.get(&mode).cloned().flatten()
    }
}

/// The date a declaration counts on, China time: imports at release, exports at closure;
/// `None` while it does not count (not yet released or closed, or cancelled).
pub fn stat_date(direction: Direction, state: &DeclarationState) -> Option<NaiveDate> {
    if state.status == Status::Cancelled || state.declaration_no.is_none() {
        return None;
    }
    let at = match direction {
        Direction::Import => state.released_at?,
        Direction::Export => {
            if state.status != Status::Closed {
                return None;
            }
            state.closed_at?
        }
    };
    Some(domain::time::china_date(at))
}

/// The statistical rows of one declaration as it stands (empty when it does not count). `id` is
/// the store's key; `run` is left 0 for the writer to set.
pub fn rows_of(
    id: i64,
    state: &DeclarationState,
    decl: &Declaration,
    dims: &Dimensions,
    rates: &MonthRates,
) -> Result<Vec<ItemRow>, StatsError> {
    let Some(date) = stat_date(decl.direction, state) else {
        return Ok(Vec::new());
    };
    let Some(stats_mode) = dims.stats_trade_mode(decl.trade_mode) else {
        // Outside trade statistics (e.g. 0200 abandoned materials): not counted.
        return Ok(Vec::new());
    };
    let declaration_no = state
        .declaration_no
        .map(|n| n.to_string())
        .unwrap_or_default();
    // The goods' price in yuan per item, then the header charges spread by value.
    let mut prices = Vec::with_capacity(decl.items.len());
    for item in &decl.items {
        prices.push(item.total_price * rates.yuan_per_unit(item.currency, date)?);
    }
    let goods_yuan: Decimal = prices.iter().copied().sum();
    let adjustment = terms_adjustment(decl, goods_yuan, date, rates)?;
    let usd = rates.yuan_per_unit(CurrencyCode::parse("USD").expect("USD is a code"), date)?;
    let district = dims.district(decl.declaration_office);
    let enterprise_type = decl
        .trader
        .customs_code
        .map(|c| c.enterprise_type().to_string())
        .unwrap_or_else(|| "0".to_owned());
    let trader_region = decl.trader.uscc.division()[..2].to_owned();
    let mut out = Vec::with_capacity(decl.items.len());
    for (item, price) in decl.items.iter().zip(prices) {
        let share = if goods_yuan.is_zero() {
            Decimal::ZERO
        } else {
            adjustment * price / goods_yuan
        };
        let yuan = price + share;
        let partner = match decl.direction {
            Direction::Import => item.origin_country,
            Direction::Export => item.destination_country,
        };
        let region = item
            .district
            .map(|d| d.as_str()[..2].to_owned())
            .unwrap_or_else(|| trader_region.clone());
        out.push(ItemRow {
            run: 0,
            declaration_id: id,
            declaration_no: declaration_no.clone(),
            version_no: state.version_no.max(1) as i32,
            item_no: i32::from(item.item_no),
            items: 1,
            flow: flow_name(decl.direction),
            stat_date: date,
            hs_code: item.commodity_code.as_str().to_owned(),
            partner_country: partner.as_str().to_owned(),
            trading_country: decl.trading_country.as_str().to_owned(),
            trade_mode: decl.trade_mode.as_str().to_owned(),
            stats_trade_mode: stats_mode.clone(),
            transport_mode: decl.transport_mode.as_str().to_owned(),
            office: decl.declaration_office.as_str().to_owned(),
            district: district.clone(),
            region,
            enterprise_type: enterprise_type.clone(),
            currency: item.currency.as_str().to_owned(),
            value_cny_fen: minor_units(yuan)?,
            value_usd_cents: minor_units(yuan / usd)?,
            quantity_1: scaled(item.first_quantity),
            unit_1: item.first_unit.as_str().to_owned(),
            quantity_2: item.second_quantity.map(scaled),
            unit_2: item.second_unit.map(|u| u.as_str().to_owned()),
        });
    }
    Ok(out)
}

/// Yuan to add to the goods' price to reach CIF (imports) or FOB (exports): freight and
/// insurance the transaction terms leave out are added for imports; those they include are
/// taken off for exports. Other charges are not moved (they are part of neither basis here).
fn terms_adjustment(
    decl: &Declaration,
    goods_yuan: Decimal,
    date: NaiveDate,
    rates: &MonthRates,
) -> Result<Decimal, StatsError> {
    use TransactionTerms as T;
    let charge = |c: &Option<Charge>| -> Result<Decimal, StatsError> {
        Ok(match c {
            None => Decimal::ZERO,
            Some(Charge::Rate { percent }) => goods_yuan * percent / Decimal::ONE_HUNDRED,
            Some(Charge::PerUnit { amount, currency }) => {
                // Per tonne of gross weight (the tax policy's default basis).
                amount * decl.gross_weight_kg / Decimal::ONE_THOUSAND
                    * rates.yuan_per_unit(*currency, date)?
            }
            Some(Charge::Total { amount, currency }) => {
                amount * rates.yuan_per_unit(*currency, date)?
            }
        })
    };
    let (freight, insurance) = (charge(&decl.freight)?, charge(&decl.insurance)?);
    Ok(match decl.direction {
        Direction::Import => match decl.transaction_terms {
            T::Fob | T::Exw => freight + insurance,
            T::Cfr => insurance,
            T::Ci => freight,
            T::Cif | T::MarketPrice | T::Dianchang => Decimal::ZERO,
        },
        Direction::Export => match decl.transaction_terms {
            T::Cif => -(freight + insurance),
            T::Cfr => -freight,
            T::Ci => -insurance,
            T::Fob | T::Exw | T::MarketPrice | T::Dianchang => Decimal::ZERO,
        },
    })
}

/// Yuan (or dollars) to fen (cents), half away from zero, the one rounding of a value.
fn minor_units(v: Decimal) -> Result<i64, StatsError> {
    (v * Decimal::ONE_HUNDRED)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero)
        .to_i64()
        .ok_or(StatsError::Overflow)
}

fn scaled(q: Decimal) -> i128 {
    let mut q = q.round_dp_with_strategy(QUANTITY_SCALE, RoundingStrategy::MidpointAwayFromZero);
    q.rescale(QUANTITY_SCALE);
    q.mantissa()
}
