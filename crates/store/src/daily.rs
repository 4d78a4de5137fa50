//! The dashboard's daily aggregates ([`crate::Store::daily_stats`]), kept by the backends in
//! the transaction of every write that changes what they count, and backfilled from the rows
//! by the migration that adds them:
//! - a new declaration row (there is one INSERT of declarations per backend, the writer's
//!   filing) is counted by the writer itself: it adds the row's [`Delta`] to the group's and
//!   writes one upsert per aggregate table for the whole group (one row per distinct key), in
//!   the group's savepoint, parsing nothing the writer does not already hold but the body's
//!   commodity codes and trading country ([`Delta::add_row`]). A row trigger did this before,
//!   one PL/pgSQL call and four upserts per row on PostgreSQL (−60 % of the store's filing
//!   rate) and several JSON parses per row on SQLite (docs/BENCHMARKS.md, session 7);
//! - an UPDATE of declarations (status, lane, number, a new version's body: one row at a time)
//!   is still counted by database triggers on the table, so that no such path can forget it.
//!
//! Reading a period then costs the number of its days × the offices × the distinct keys,
//! whatever the number of declarations.
//!
//! Per Beijing day of submission (UTC+8, [`day_of`]) and declaration office:
//! - how many declarations are in each status, lane, numbered or not (the [`CountRow`]s);
//! - a histogram of submission-to-release times of the released ones, in fixed buckets
//!   ([`bucket_floor`]: exact below 100 s, then two significant figures), from which the
//!   dashboard takes its median and 90th percentile;
//! - goods lines per commodity code and declarations per trading country of the numbered
//!   (accepted) declarations, as their current version's body has them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use clearance::DeclarationState;
use domain::codes::OfficeCode;
use serde::Deserialize;

use crate::CountRow;

/// Milliseconds of UTC+8 (the Beijing day customs works by).
const CHINA_OFFSET_MS: i64 = 8 * 3_600_000;
const DAY_MS: i64 = 86_400_000;

/// The Beijing day of an instant, as days since 1970-01-01 (the key of the aggregates).
pub fn day_of(at: DateTime<Utc>) -> i64 {
    (at.timestamp_millis() + CHINA_OFFSET_MS).div_euclid(DAY_MS)
}

/// The day number of a Beijing calendar date.
pub fn day_number(date: NaiveDate) -> i64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    (date - epoch).num_days()
}

/// The histogram bucket of a clearance time: the time itself below 100 s, else the time with
/// all but its first two digits set to zero (1,234 s → 1,200 s), so every bucket is at most
/// 10 % wide. The backends compute the same in SQL (kept equal by the contract test).
pub fn bucket_floor(seconds: i64) -> i64 {
    if seconds < 100 {
        return seconds.max(0);
    }
    let digits = seconds.ilog10();
    let unit = 10_i64.pow(digits - 1);
    seconds / unit * unit
}

/// Seconds from submission to release of a state (`None` unless both are set), toward zero,
/// at least 0: as the backends' triggers compute them.
pub fn clearance_seconds(state: &DeclarationState) -> Option<i64> {
    let (Some(submitted), Some(released)) = (state.submitted_at, state.released_at) else {
        return None;
    };
    Some(((released - submitted).num_milliseconds() / 1000).max(0))
}

/// Key of a count: day, office, status, lane (`""` when none), numbered.
pub type CountKey = (i64, String, &'static str, &'static str, bool);
/// Key of a clearance bucket, a commodity or a partner: day, office, and the bucket floor or
/// the code.
pub type BucketKey = (i64, String, i64);
pub type CodeKey = (i64, String, String);

/// Increments of the aggregates gathered over a group of rows, one entry per distinct key
/// (ordered, so that every writer touches the keys in the same order). Entries that sum to
/// zero are left out when written ([`Delta::counts`] …).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    counts: BTreeMap<CountKey, i64>,
    clearance: BTreeMap<BucketKey, i64>,
    commodities: BTreeMap<CodeKey, i64>,
    partners: BTreeMap<CodeKey, i64>,
}

/// What the aggregates read of a declaration's body: its goods lines' commodity codes and its
/// trading country (strings only; anything else is not counted, as in the backends' SQL).
#[derive(Deserialize)]
struct GoodsOf<'a> {
    #[serde(default, borrow)]
    items: Option<Vec<ItemOf<'a>>>,
    #[serde(default, borrow)]
    trading_country: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ItemOf<'a> {
    #[serde(default, borrow)]
    commodity_code: Option<Cow<'a, str>>,
}

/// The same from any JSON (a body the typed form above does not read): the backends' SQL rules.
fn goods_of_value(body: &str) -> (Vec<String>, Option<String>) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(body) else {
        return (Vec::new(), None);
    };
    let codes = v
        .get("items")
        .and_then(|i| i.as_array())
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("commodity_code")?.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let country = v
        .get("trading_country")
        .and_then(|c| c.as_str())
        .map(str::to_owned);
    (codes, country)
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
            && self.clearance.is_empty()
            && self.commodities.is_empty()
            && self.partners.is_empty()
    }

    /// Add `sign` (1 or -1) of a stored declaration row: its office, the instant of its
    /// submission (the row's `submitted_at`), its state and its body as stored.
    pub fn add_row(
        &mut self,
        office: OfficeCode,
        submitted_at: DateTime<Utc>,
        state: &DeclarationState,
        body_json: &str,
        sign: i64,
    ) {
        let day = day_of(submitted_at);
        let office = office.to_string();
        let numbered = state.declaration_no.is_some();
        *self
            .counts
            .entry((
                day,
                office.clone(),
                state.status.as_str(),
                state.lane.map_or("", |l| l.as_str()),
                numbered,
            ))
            .or_default() += sign;
        if let Some(s) = clearance_seconds(state) {
            *self
                .clearance
                .entry((day, office.clone(), bucket_floor(s)))
                .or_default() += sign;
        }
        if !numbered {
            return;
        }
        let mut add = |codes: &mut dyn Iterator<Item = &str>, country: Option<&str>| {
            for code in codes {
                *self
                    .commodities
                    .entry((day, office.clone(), code.to_owned()))
                    .or_default() += sign;
            }
            if let Some(c) = country {
                *self
                    .partners
                    .entry((day, office.clone(), c.to_owned()))
                    .or_default() += sign;
            }
        };
        match serde_json::from_str::<GoodsOf<'_>>(body_json) {
            Ok(g) => add(
                &mut g
                    .items
                    .iter()
                    .flatten()
                    .filter_map(|i| i.commodity_code.as_deref()),
                g.trading_country.as_deref(),
            ),
            Err(_) => {
                let (codes, country) = goods_of_value(body_json);
                add(&mut codes.iter().map(String::as_str), country.as_deref())
            }
        }
    }

    /// The counts to add, by key (none that sum to zero).
    pub fn counts(&self) -> impl Iterator<Item = (&CountKey, i64)> {
        self.counts
            .iter()
            .filter(|e| *e.1 != 0)
            .map(|(k, n)| (k, *n))
    }

    pub fn clearance(&self) -> impl Iterator<Item = (&BucketKey, i64)> {
        self.clearance
            .iter()
            .filter(|e| *e.1 != 0)
            .map(|(k, n)| (k, *n))
    }

    pub fn commodities(&self) -> impl Iterator<Item = (&CodeKey, i64)> {
        self.commodities
            .iter()
            .filter(|e| *e.1 != 0)
            .map(|(k, n)| (k, *n))
    }

    pub fn partners(&self) -> impl Iterator<Item = (&CodeKey, i64)> {
        self.partners
            .iter()
            .filter(|e| *e.1 != 0)
            .map(|(k, n)| (k, *n))
    }

    /// Add another group's increments (a filing's, once its savepoint is released).
    pub fn merge(&mut self, other: Delta) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
        for (k, n) in other.clearance {
            *self.clearance.entry(k).or_default() += n;
        }
        for (k, n) in other.commodities {
            *self.commodities.entry(k).or_default() += n;
        }
        for (k, n) in other.partners {
            *self.partners.entry(k).or_default() += n;
        }
    }
}

/// Which days and offices to read: days `[from, to)` (see [`day_of`]); `offices` as in
/// [`crate::CountQuery`] (`None`: every office; an empty list reads nothing).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayQuery {
    pub from: i64,
    pub to: i64,
    pub offices: Option<Vec<OfficeCode>>,
}

/// Released declarations of one office whose clearance time fell in one bucket.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ClearanceBucket {
    pub office: OfficeCode,
    /// The bucket's lower bound in seconds ([`bucket_floor`]).
    pub floor_seconds: i64,
    pub count: u64,
}

/// The aggregates of the days and offices asked, summed over the days. Rows whose sum is zero
/// are left out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DailyStats {
    pub counts: Vec<CountRow>,
    pub clearance: Vec<ClearanceBucket>,
    /// Goods lines per commodity code (numbered declarations), summed over the offices.
    pub commodities: Vec<(String, u64)>,
    /// Numbered declarations per trading country, summed over the offices.
    pub partners: Vec<(String, u64)>,
}

impl DailyStats {
    /// Sorted, so that two reads of the same figures compare equal.
    pub fn sorted(mut self) -> DailyStats {
        self.counts.sort_by(|a, b| {
            (
                a.office.as_str(),
                a.status.as_str(),
                a.lane.map(|l| l.as_str()),
                a.numbered,
            )
                .cmp(&(
                    b.office.as_str(),
                    b.status.as_str(),
                    b.lane.map(|l| l.as_str()),
                    b.numbered,
                ))
        });
        self.clearance.sort();
        self.commodities.sort();
        self.partners.sort();
        self
    }
}

/// The value at nearest rank `p` percent of a histogram (`(floor, count)` in ascending floor):
/// the floor of the bucket holding the ⌈p·n⌉-th smallest time.
pub fn histogram_percentile(buckets: &[(i64, u64)], p: u32) -> Option<i64> {
    let n: u64 = buckets.iter().map(|b| b.1).sum();
    if n == 0 {
        return None;
    }
    let rank = (u64::from(p) * n).div_ceil(100).max(1);
    let mut seen = 0;
    for &(floor, count) in buckets {
        seen += count;
        if seen >= rank {
            return Some(floor);
        }
    }
    buckets.last().map(|b| b.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn buckets_keep_two_significant_figures() {
        assert_eq!(bucket_floor(-5), 0);
        assert_eq!(bucket_floor(0), 0);
        assert_eq!(bucket_floor(99), 99);
        assert_eq!(bucket_floor(100), 100);
        assert_eq!(bucket_floor(109), 100);
        assert_eq!(bucket_floor(1_234), 1_200);
        assert_eq!(bucket_floor(86_399), 86_000);
        assert_eq!(bucket_floor(1_000_000_007), 1_000_000_000);
    }

    #[test]
    fn days_are_beijing_days() {
        // 2025-03-31 15:59:59 UTC is 23:59:59 in Beijing; a second later it is April.
        let a = Utc.with_ymd_and_hms(2025, 3, 31, 15, 59, 59).unwrap();
        let b = Utc.with_ymd_and_hms(2025, 3, 31, 16, 0, 0).unwrap();
        assert_eq!(
            day_of(a),
            day_number(NaiveDate::from_ymd_opt(2025, 3, 31).unwrap())
        );
        assert_eq!(
            day_of(b),
            day_number(NaiveDate::from_ymd_opt(2025, 4, 1).unwrap())
        );
    }

    #[test]
    fn percentiles_come_from_the_histogram() {
        assert_eq!(histogram_percentile(&[], 50), None);
        let h = [(10, 4), (20, 4), (1_200, 2)];
        assert_eq!(histogram_percentile(&h, 50), Some(20));
        assert_eq!(histogram_percentile(&h, 40), Some(10));
        assert_eq!(histogram_percentile(&h, 90), Some(1_200));
    }
}
