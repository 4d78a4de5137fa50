//! Statistics for the HQ dashboard: [`Clearance::stats`] gives a [`StatsSummary`] (volumes of
//! today and this month, lane mix, clearance times, top commodities and trading partners, by
//! office) computed from the store.
//!
//! It reads through the same use-case-shaped `Store::list`/`Store::load` as every other query,
//! newest first, and stops after [`STATS_SCAN_MAX`] declarations (`truncated` says so). That
//! is right for one office or a demo ledger; a national ledger wants an aggregate kept by the
//! store (or the statistics replica), which is the next step, not this one.
//!
//! Days and months are Beijing time (UTC+8), the calendar customs works by. Percentiles are
//! nearest-rank: the p-th percentile of n sorted values is the value at rank ⌈p·n⌉.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use clearance::Status;
use domain::codes::{HsCode, OfficeCode};
use serde::Serialize;
use store::{DeclarationKey, ListFilter, PageRequest};

use crate::access::{authorize, Operation, Principal, Resource};
use crate::error::AppError;
use crate::service::Clearance;

/// Declarations read at most for one summary.
pub const STATS_SCAN_MAX: usize = 20_000;
/// Rows in each "top" list.
pub const TOP_ROWS_MAX: usize = 10;

/// What a caller asks: an office (and those below it), a period of submission.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsQuery {
    pub office: Option<OfficeCode>,
    /// Submitted at or after; default the start of this month.
    pub from: Option<DateTime<Utc>>,
    /// Submitted before; default now.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Volume {
    /// Filed (every outcome).
    pub declarations: u64,
    /// Accepted by automatic review (numbered).
    pub accepted: u64,
    pub rejected: u64,
    /// Released or closed.
    pub released: u64,
}

impl Volume {
    fn count(&mut self, status: Status, numbered: bool) {
        self.declarations += 1;
        if numbered {
            self.accepted += 1;
        }
        if status == Status::Rejected {
            self.rejected += 1;
        }
        if matches!(status, Status::Released | Status::Closed) {
            self.released += 1;
        }
    }
}

/// Submission to release, in seconds, of the declarations released in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ClearanceTimes {
    pub count: u64,
    pub median_seconds: Option<i64>,
    pub p90_seconds: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopCommodity {
    pub commodity_code: String,
    pub description_zh: String,
    pub description_en: String,
    /// Goods lines with this code.
    pub items: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TopPartner {
    pub country: String,
    pub name_zh: String,
    pub name_en: String,
    pub declarations: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OfficeRow {
    pub office: OfficeCode,
    pub name_zh: String,
    pub name_en: String,
    pub declarations: u64,
    pub released: u64,
    pub median_clearance_seconds: Option<i64>,
}

/// The dashboard's figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatsSummary {
    pub generated_at: DateTime<Utc>,
    pub office: Option<OfficeCode>,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Today and this month (Beijing time), whatever the period asked.
    pub today: Volume,
    pub month: Volume,
    /// The period asked.
    pub period: Volume,
    /// Accepted declarations of the period by lane (`green`, `yellow`, `red`, `blue`).
    pub lane_mix: BTreeMap<String, u64>,
    /// Declarations of the period by current status.
    pub by_status: BTreeMap<String, u64>,
    pub clearance: ClearanceTimes,
    pub top_commodities: Vec<TopCommodity>,
    pub top_partners: Vec<TopPartner>,
    pub by_office: Vec<OfficeRow>,
    /// Declarations read.
    pub scanned: u64,
    /// `true` when [`STATS_SCAN_MAX`] stopped the scan: older declarations are not counted.
    pub truncated: bool,
}

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")
}

/// The start of the day and of the month of `now`, Beijing time, in UTC.
pub fn day_and_month_start(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = now.with_timezone(&beijing()).date_naive();
    let at_midnight = |d: NaiveDate| {
        beijing()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight exists"))
            .single()
            .expect("a fixed offset has no gaps")
            .with_timezone(&Utc)
    };
    let month = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).expect("day 1 exists");
    (at_midnight(local), at_midnight(month))
}

/// Nearest-rank percentile of sorted values (`p` in percent, 1..=100).
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u64;
    let rank = (u64::from(p) * n).div_ceil(100).max(1);
    sorted.get((rank - 1) as usize).copied()
}

impl Clearance {
    /// The dashboard summary for the principal's scope (statisticians only).
    pub fn stats(&self, principal: &Principal, q: StatsQuery) -> Result<StatsSummary, AppError> {
        authorize(
            principal,
            Operation::ViewStatistics,
            Resource::Statistics { office: q.office },
            self.refdata(),
        )?;
        let now = self.now();
        let (day_start, month_start) = day_and_month_start(now);
        let from = q.from.unwrap_or(month_start);
        let to = q.to.unwrap_or(now + Duration::seconds(1));
        if from >= to {
            return Err(AppError::invalid(
                "from",
                "empty_period",
                "起始时间须早于结束时间",
                "from must be before to",
            ));
        }
        // The scope: the office asked (and below), else the officer's own; HQ sees all.
        let scope_root = q.office.or(match principal {
            Principal::Officer { office, .. } => Some(*office),
            _ => None,
        });
        let offices = scope_root.map(|root| {
            let set: BTreeSet<OfficeCode> = self
                .refdata()
                .offices()
                .map(|o| o.code)
                .filter(|o| self.refdata().office_within(*o, root))
                .chain(std::iter::once(root))
                .collect();
            set.into_iter().collect::<Vec<_>>()
        });
        let filter = ListFilter {
            submitted_from: Some(from.min(month_start)),
            submitted_to: Some(to.max(now + Duration::seconds(1))),
            offices,
            ..ListFilter::default()
        };

        let mut s = StatsSummary {
            generated_at: now,
            office: q.office,
            from,
            to,
            today: Volume::default(),
            month: Volume::default(),
            period: Volume::default(),
            lane_mix: BTreeMap::new(),
            by_status: BTreeMap::new(),
            clearance: ClearanceTimes::default(),
            top_commodities: Vec::new(),
            top_partners: Vec::new(),
            by_office: Vec::new(),
            scanned: 0,
            truncated: false,
        };
        let mut times: Vec<i64> = Vec::new();
        let mut office_times: HashMap<OfficeCode, Vec<i64>> = HashMap::new();
        let mut office_volume: HashMap<OfficeCode, Volume> = HashMap::new();
        let mut commodities: HashMap<String, u64> = HashMap::new();
        let mut partners: HashMap<String, u64> = HashMap::new();

        let mut page = PageRequest {
            after: None,
            limit: store::PAGE_MAX,
        };
        'scan: loop {
            let got = self.store().list(&filter, &page)?;
            for d in &got.items {
                if s.scanned as usize >= STATS_SCAN_MAX {
                    s.truncated = true;
                    break 'scan;
                }
                s.scanned += 1;
                let numbered = d.declaration_no.is_some();
                if d.submitted_at >= day_start {
                    s.today.count(d.status, numbered);
                }
                if d.submitted_at >= month_start {
                    s.month.count(d.status, numbered);
                }
                if d.submitted_at < from || d.submitted_at >= to {
                    continue;
                }
                s.period.count(d.status, numbered);
                office_volume
                    .entry(d.declaration_office)
                    .or_default()
                    .count(d.status, numbered);
                *s.by_status.entry(d.status.as_str().to_owned()).or_default() += 1;
                if let Some(lane) = d.lane {
                    *s.lane_mix.entry(lane.as_str().to_owned()).or_default() += 1;
                }
                if !numbered {
                    continue;
                }
                let Some(full) = self.store().load(DeclarationKey::Id(d.id))? else {
                    continue;
                };
                if let (Some(sub), Some(rel)) = (full.state.submitted_at, full.state.released_at) {
                    let secs = (rel - sub).num_seconds().max(0);
                    times.push(secs);
                    office_times
                        .entry(d.declaration_office)
                        .or_default()
                        .push(secs);
                }
                // Accepted declarations are stored in their typed form; read only the codes.
                if let Ok(body) = serde_json::from_str::<serde_json::Value>(&full.body_json) {
                    if let Some(c) = body["trading_country"].as_str() {
                        *partners.entry(c.to_owned()).or_default() += 1;
                    }
                    for item in body["items"].as_array().into_iter().flatten() {
                        if let Some(code) = item["commodity_code"].as_str() {
                            *commodities.entry(code.to_owned()).or_default() += 1;
                        }
                    }
                }
            }
            match got.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }

        times.sort_unstable();
        s.clearance = ClearanceTimes {
            count: times.len() as u64,
            median_seconds: percentile(&times, 50),
            p90_seconds: percentile(&times, 90),
        };
        s.top_commodities = top(commodities)
            .into_iter()
            .map(|(code, items)| {
                let line = HsCode::parse(&code)
                    .ok()
                    .and_then(|c| self.refdata().tariff_versions(c).last());
                TopCommodity {
                    description_zh: line.map(|l| l.description_zh.clone()).unwrap_or_default(),
                    description_en: line.map(|l| l.description_en.clone()).unwrap_or_default(),
                    commodity_code: code,
                    items,
                }
            })
            .collect();
        s.top_partners = top(partners)
            .into_iter()
            .map(|(country, declarations)| {
                let entry = self.refdata().country_entry(&country);
                TopPartner {
                    name_zh: entry.map(|c| c.name_zh.clone()).unwrap_or_default(),
                    name_en: entry.map(|c| c.name_en.clone()).unwrap_or_default(),
                    country,
                    declarations,
                }
            })
            .collect();
        let mut rows: Vec<OfficeRow> = office_volume
            .into_iter()
            .map(|(office, v)| {
                let mut t = office_times.remove(&office).unwrap_or_default();
                t.sort_unstable();
                let entry = self.refdata().offices().find(|o| o.code == office);
                OfficeRow {
                    office,
                    name_zh: entry.map(|o| o.name_zh.clone()).unwrap_or_default(),
                    name_en: entry.map(|o| o.name_en.clone()).unwrap_or_default(),
                    declarations: v.declarations,
                    released: v.released,
                    median_clearance_seconds: percentile(&t, 50),
                }
            })
            .collect();
        rows.sort_by(|a, b| {
            b.declarations
                .cmp(&a.declarations)
                .then(a.office.as_str().cmp(b.office.as_str()))
        });
        s.by_office = rows;
        Ok(s)
    }
}

/// The largest counts first, ties by key, at most [`TOP_ROWS_MAX`].
fn top(counts: HashMap<String, u64>) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v.truncate(TOP_ROWS_MAX);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 90), Some(7));
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&v, 100), Some(10));
        let v: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile(&v, 50), Some(6));
        assert_eq!(percentile(&v, 90), Some(10));
    }

    #[test]
    fn days_and_months_are_beijing_time() {
        // 2025-03-31 17:00 UTC is 2025-04-01 01:00 in Beijing: a new day and a new month.
        let now = Utc.with_ymd_and_hms(2025, 3, 31, 17, 0, 0).unwrap();
        let (day, month) = day_and_month_start(now);
        assert_eq!(day, Utc.with_ymd_and_hms(2025, 3, 31, 16, 0, 0).unwrap());
        assert_eq!(month, Utc.with_ymd_and_hms(2025, 3, 31, 16, 0, 0).unwrap());
        let now = Utc.with_ymd_and_hms(2025, 3, 31, 15, 0, 0).unwrap();
        let (day, month) = day_and_month_start(now);
        assert_eq!(day, Utc.with_ymd_and_hms(2025, 3, 30, 16, 0, 0).unwrap());
        assert_eq!(month, Utc.with_ymd_and_hms(2025, 2, 28, 16, 0, 0).unwrap());
    }
}
