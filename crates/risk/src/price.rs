//! Price checks (docs/DOMAIN.md §5): reference unit prices per commodity, origin and declared unit,
//! computed from released declarations ([`PriceReferences::from_released`]: median, median
//! absolute deviation, quartiles), and the check of an item's unit price in CNY against them
//! ([`PriceCheckPolicy`]). References are built off the hot path and swapped in whole.

use std::collections::HashMap;

use clearance::Lane;
use domain::codes::{CountryCode, HsCode, UnitCode};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::rule::InspectionKind;

/// What a reference is kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PriceKey {
    pub commodity: HsCode,
    pub origin: CountryCode,
    pub unit: UnitCode,
}

/// The distribution of released unit prices in CNY for one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceReference {
    pub observations: u32,
    pub median_cny: Decimal,
    /// Median absolute deviation from the median.
    pub mad_cny: Decimal,
    pub p25_cny: Decimal,
    pub p75_cny: Decimal,
}

/// Observations kept per key at most (the caller passes a time window; this bounds memory if a
/// window is very busy). Beyond it, further observations of the key are ignored.
pub const OBSERVATIONS_MAX: usize = 100_000;

fn median_sorted(v: &[Decimal]) -> Decimal {
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / Decimal::TWO
    }
}

/// Quantile by linear interpolation between closest ranks (`q` in 0..=1).
fn quantile_sorted(v: &[Decimal], q: Decimal) -> Decimal {
    let pos = q * Decimal::from(v.len() - 1);
    let lo = pos.floor();
    let frac = pos - lo;
    let i = lo.to_usize().unwrap_or(0).min(v.len() - 1);
    let j = (i + 1).min(v.len() - 1);
    v[i] + (v[j] - v[i]) * frac
}

impl PriceReference {
    /// `None` for no observations.
    pub fn from_prices(mut prices: Vec<Decimal>) -> Option<PriceReference> {
        if prices.is_empty() {
            return None;
        }
        prices.sort_unstable();
        let median = median_sorted(&prices);
        let mut dev: Vec<Decimal> = prices.iter().map(|p| (*p - median).abs()).collect();
        dev.sort_unstable();
        Some(PriceReference {
            observations: prices.len() as u32,
            median_cny: median,
            mad_cny: median_sorted(&dev),
            p25_cny: quantile_sorted(&prices, Decimal::new(25, 2)),
            p75_cny: quantile_sorted(&prices, Decimal::new(75, 2)),
        })
    }
}

/// Reference prices for every key seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PriceReferences {
    map: HashMap<PriceKey, PriceReference>,
}

impl PriceReferences {
    /// From released items: (commodity, origin, declared unit, unit price in CNY). Prices that
    /// are not positive are ignored.
    pub fn from_released(
        released: impl IntoIterator<Item = (HsCode, CountryCode, UnitCode, Decimal)>,
    ) -> PriceReferences {
        let mut by_key: HashMap<PriceKey, Vec<Decimal>> = HashMap::new();
        for (commodity, origin, unit, price) in released {
            if price <= Decimal::ZERO {
                continue;
            }
            let v = by_key
                .entry(PriceKey {
                    commodity,
                    origin,
                    unit,
                })
                .or_default();
            if v.len() < OBSERVATIONS_MAX {
                v.push(price);
            }
        }
        PriceReferences {
            map: by_key
                .into_iter()
                .filter_map(|(k, v)| PriceReference::from_prices(v).map(|r| (k, r)))
                .collect(),
        }
    }

    pub fn get(&self, key: &PriceKey) -> Option<&PriceReference> {
        self.map.get(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every reference, sorted by key (for publishing to officers).
    pub fn entries(&self) -> Vec<(PriceKey, PriceReference)> {
        let mut v: Vec<_> = self.map.iter().map(|(k, r)| (*k, *r)).collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }
}

/// When a unit price is "far below" its reference. An item is flagged when the reference has
/// at least `min_observations`, and the price is at most `max_ratio` × median, and (when the
/// spread is not zero) it lies more than `min_robust_z` scaled deviations below the median:
/// `median − price > min_robust_z × 1.4826 × MAD`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceCheckPolicy {
    pub min_observations: u32,
    pub max_ratio: Decimal,
    pub min_robust_z: Decimal,
    pub lane: Lane,
    pub inspection: InspectionKind,
}

impl Default for PriceCheckPolicy {
    fn default() -> Self {
        PriceCheckPolicy {
            min_observations: 10,
            max_ratio: Decimal::new(5, 1),
            min_robust_z: Decimal::new(35, 1),
            lane: Lane::Yellow,
            inspection: InspectionKind::Document,
        }
    }
}

/// 1.4826: scales the MAD to the standard deviation of a normal distribution.
const MAD_SCALE: Decimal = Decimal::from_parts(14826, 0, 0, false, 4);

/// A flagged item, with the numbers officers see.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceFinding {
    pub item_no: u16,
    pub key: PriceKey,
    pub unit_price_cny: Decimal,
    pub reference: PriceReference,
    /// Price ÷ median, in percent, 1 decimal place.
    pub percent_of_median: Decimal,
    /// The price at or below which an item is flagged.
    pub threshold_cny: Decimal,
}

impl PriceCheckPolicy {
    /// The highest price that is flagged against `r`, or `None` when `r` has too few
    /// observations to judge.
    pub fn threshold(&self, r: &PriceReference) -> Option<Decimal> {
        if r.observations < self.min_observations || r.median_cny <= Decimal::ZERO {
            return None;
        }
        let by_ratio = r.median_cny * self.max_ratio;
        if r.mad_cny.is_zero() {
            return Some(by_ratio);
        }
        let by_spread = r.median_cny - self.min_robust_z * MAD_SCALE * r.mad_cny;
        Some(by_ratio.min(by_spread))
    }

    /// Flags a price when it is at or below the threshold (and strictly below for the spread
    /// bound, which the `min` with the ratio bound keeps simple: `price ≤ threshold`).
    pub fn check(
        &self,
        item_no: u16,
        key: PriceKey,
        unit_price_cny: Decimal,
        r: &PriceReference,
    ) -> Option<PriceFinding> {
        let threshold = self.threshold(r)?;
        if unit_price_cny > threshold {
            return None;
        }
        let percent = (unit_price_cny / r.median_cny * Decimal::ONE_HUNDRED)
            .round_dp(1)
            .normalize();
        Some(PriceFinding {
            item_no,
            key,
            unit_price_cny: unit_price_cny.round_dp(4).normalize(),
            reference: *r,
            percent_of_median: percent,
            threshold_cny: threshold.round_dp(4).normalize(),
        })
    }
}
