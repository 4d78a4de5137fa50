//! Statistics for the HQ dashboard: [`StatsService::summary`] gives a [`StatsSummary`] (volumes of
//! today and this month, lane mix, clearance times, top commodities and trading partners, by
//! office) computed from the store.
//!
//! Every figure comes from the store's daily aggregates ([`store::Store::daily_stats`],
//! `store::daily`), which the backends keep in the transaction of each write: counts per
//! Beijing day × office × status × lane, a histogram of clearance times per day × office, and
//! goods lines per commodity code and declarations per trading country per day × office. So a
//! summary reads a number of rows bounded by the days of its period, the offices and the
//! distinct codes, never the declarations themselves, and nothing is sampled. The period is
//! counted in whole Beijing days: `from` is moved back to the start of its day and `to` on to
//! the end of its day (the summary says which days it covers).
//!
//! It also reports the health of the E-Port exchange ([`ExchangeHealth`]): the outbox's counts
//! per recipient agency, as `jinguan exchange status` reads them without a bus.
//!
//! Days and months are Beijing time (UTC+8), the calendar customs works by. Percentiles are
//! nearest-rank over the histogram: the p-th percentile of n times is the lower bound of the
//! bucket holding the ⌈p·n⌉-th smallest (buckets exact below 100 s, then two significant
//! figures: at most 10 % low).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use clearance::Status;
use domain::codes::{HsCode, OfficeCode};
use serde::Serialize;
use store::daily::{day_of, histogram_percentile, DayQuery};
use store::CountRow;

use crate::access::{Operation, Principal, Resource};
use crate::error::AppError;
use crate::exchange_desk::ExchangeDesk;
use crate::kernel::{Core, Scope};
use crate::warehouse::{
    Breakdown, BreakdownAnswer, BulletinFormat, Dimension, Warehouse, WarehouseError,
    BREAKDOWN_LIMIT_MAX,
};

/// Rows in each "top" list.
pub const TOP_ROWS_MAX: usize = 10;

/// What a caller asks: an office (and those below it), a period of submission.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsQuery {
    pub office: Option<OfficeCode>,
    /// Submitted at or after (from the start of its Beijing day); default the start of this
    /// month.
    pub from: Option<DateTime<Utc>>,
    /// Submitted before (to the end of its Beijing day, unless it is a midnight); default the
    /// end of today.
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
    /// Add `n` declarations in `status`, numbered or not.
    fn add(&mut self, status: Status, numbered: bool, n: u64) {
        self.declarations += n;
        if numbered {
            self.accepted += n;
        }
        if status == Status::Rejected {
            self.rejected += n;
        }
        if matches!(status, Status::Released | Status::Closed) {
            self.released += n;
        }
    }

    fn of(rows: &[CountRow]) -> Volume {
        let mut v = Volume::default();
        for r in rows {
            v.add(r.status, r.numbered, r.count);
        }
        v
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
    /// The period counted: from the Beijing midnight starting its first day to the one ending
    /// its last.
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
    /// The E-Port exchange as the store's outbox sees it (docs/EXCHANGE.md "Status").
    pub exchange: ExchangeHealth,
}

/// The health of the E-Port exchange: whether the feed is served (and with which key), and per
/// recipient agency what was sent, what it acknowledged on the feed, and what no bus took yet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ExchangeHealth {
    /// The store keeps an outbox (messages are written with the changes that send them).
    pub outbox: bool,
    /// `ALGORITHM KEY_ID` of the key the feed signs with; `None`: no feed is served.
    pub signing_key: Option<String>,
    pub agencies: Vec<ExchangeAgencyRow>,
}

/// One recipient agency of the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExchangeAgencyRow {
    pub agency: String,
    /// Messages addressed to it.
    pub sent: u64,
    /// Read and acknowledged on the HTTP feed (up to its cursor).
    pub acknowledged: u64,
    /// Sent and not acknowledged on the feed: what the agency has still to read (without a bus).
    pub waiting: u64,
    /// Not yet published to a bus (with `--nats`, the relay's backlog; without, every message).
    pub unpublished: u64,
    /// Age in seconds of the oldest message not yet published.
    pub oldest_unpublished_seconds: Option<i64>,
}

/// The start of the day and of the month of `now`, Beijing time, in UTC.
pub fn day_and_month_start(now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let local = domain::time::china_date(now);
    let at_midnight = |d: NaiveDate| {
        domain::time::china_midnight(d).expect("a customs date is within chrono's range")
    };
    let month = NaiveDate::from_ymd_opt(local.year(), local.month(), 1).expect("day 1 exists");
    (at_midnight(local), at_midnight(month))
}

/// The Beijing midnight starting day number `day` ([`store::daily::day_of`]).
fn midnight_of(day: i64) -> Result<DateTime<Utc>, AppError> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");
    epoch
        .checked_add_signed(Duration::days(day))
        .and_then(domain::time::china_midnight)
        .ok_or_else(|| {
            AppError::invalid(
                "from",
                "time_range",
                "时间超出范围",
                "the time is out of range",
            )
        })
}

fn warehouse_error(e: WarehouseError) -> AppError {
    match e {
        WarehouseError::Invalid {
            field,
            code,
            message_zh,
            message_en,
        } => AppError::invalid(field, &code, message_zh, message_en),
        WarehouseError::Failed(m) => AppError::Internal(format!("statistics warehouse: {m}")),
    }
}

/// Parse a dimension's name as the API spells it.
pub fn dimension(field: &str, s: &str) -> Result<Dimension, AppError> {
    Dimension::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Dimension::ALL.iter().map(|d| d.as_str()).collect();
        AppError::invalid(
            field,
            "dimension",
            format!("未知维度“{s}”，可用：{}", names.join("、")),
            format!("unknown dimension {s:?}; one of {}", names.join(", ")),
        )
    })
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

/// The HQ dashboard's statistics (statisticians, within their scope).
#[derive(Clone, Copy)]
pub struct StatsService<'a> {
    pub(crate) core: &'a Core,
    /// The feed's signing key, shown with the outbox's counts.
    pub(crate) exchange: Option<&'a ExchangeDesk>,
    /// The statistics warehouse, when the server was given one.
    pub(crate) warehouse: Option<&'a dyn Warehouse>,
}

impl StatsService<'_> {
    /// Trade from the statistics warehouse, grouped by one dimension and drilled down by
    /// others, within the statistician's scope (the accepting offices it covers).
    pub fn warehouse_breakdown(
        &self,
        principal: &Principal,
        office: Option<OfficeCode>,
        mut q: Breakdown,
    ) -> Result<BreakdownAnswer, AppError> {
        let allowed = self.core.authorize(
            principal,
            (Operation::ViewStatistics, Resource::Statistics { office }),
        )?;
        let warehouse = self.warehouse()?;
        if q.limit == 0 || q.limit > BREAKDOWN_LIMIT_MAX {
            return Err(AppError::invalid(
                "limit",
                "limit",
                format!("组数须在 1 到 {BREAKDOWN_LIMIT_MAX} 之间"),
                format!("limit must be 1 to {BREAKDOWN_LIMIT_MAX}"),
            ));
        }
        if let Some((d, _)) = q.filters.iter().find(|(d, _)| *d == q.by) {
            return Err(AppError::invalid(
                "filter",
                "filter_on_grouped",
                format!("不能既按“{}”分组又按其筛选", d.as_str()),
                format!("cannot group by {} and filter on it", d.as_str()),
            ));
        }
        q.offices = match (office, allowed.scope()) {
            (Some(root), _) => Some(
                self.core
                    .offices_within(root)
                    .iter()
                    .map(|o| o.as_str().to_owned())
                    .collect(),
            ),
            (None, Scope::Offices(_, within)) => {
                Some(within.iter().map(|o| o.as_str().to_owned()).collect())
            }
            (None, _) => None,
        };
        warehouse.breakdown(&q).map_err(warehouse_error)
    }

    /// The monthly bulletin (national), as CSV or Excel.
    pub fn warehouse_bulletin(
        &self,
        principal: &Principal,
        month: &str,
        format: BulletinFormat,
    ) -> Result<Vec<u8>, AppError> {
        self.core.authorize(
            principal,
            (
                Operation::ViewStatistics,
                Resource::Statistics { office: None },
            ),
        )?;
        self.warehouse()?
            .bulletin(month, format)
            .map_err(warehouse_error)
    }

    /// Whether `serve` was given a statistics warehouse.
    pub fn has_warehouse(&self) -> bool {
        self.warehouse.is_some()
    }

    fn warehouse(&self) -> Result<&dyn Warehouse, AppError> {
        self.warehouse.ok_or_else(|| {
            AppError::NotFound(
                "no statistics warehouse is configured (serve --warehouse DIR)".into(),
            )
        })
    }
    /// The dashboard summary for the principal's scope (statisticians only).
    pub fn summary(&self, principal: &Principal, q: StatsQuery) -> Result<StatsSummary, AppError> {
        let allowed = self.core.authorize(
            principal,
            (
                Operation::ViewStatistics,
                Resource::Statistics { office: q.office },
            ),
        )?;
        let now = self.core.now();
        let (_, month_start) = day_and_month_start(now);
        let today = day_of(now);
        let from_day = day_of(q.from.unwrap_or(month_start));
        // `to` is excluded: the day of its last millisecond is the last day counted.
        let to_day = match q.to {
            Some(to) => day_of(to - Duration::milliseconds(1)) + 1,
            None => today + 1,
        };
        if from_day >= to_day {
            return Err(AppError::invalid(
                "from",
                "empty_period",
                "起始时间须早于结束时间",
                "from must be before to",
            ));
        }
        // The scope: the office asked (and below), else the officer's own; HQ sees all.
        let offices = match (q.office, allowed.scope()) {
            (Some(root), _) => Some(self.core.offices_within(root).to_vec()),
            (None, Scope::Offices(_, within)) => Some(within.to_vec()),
            (None, _) => None,
        };
        // Today and this month run to the end of the period or of today, whichever is later.
        let until = to_day.max(today + 1);
        let month_first = day_of(month_start);
        let read = |from: i64, to: i64| {
            self.core.store().daily_stats(&DayQuery {
                from,
                to,
                offices: offices.clone(),
            })
        };
        let month = read(month_first, until)?;
        let today_stats = read(today, until)?;
        let period = if (from_day, to_day) == (month_first, until) {
            month.clone()
        } else {
            read(from_day, to_day)?
        };

        let mut s = StatsSummary {
            generated_at: now,
            office: q.office,
            from: midnight_of(from_day)?,
            to: midnight_of(to_day)?,
            today: Volume::of(&today_stats.counts),
            month: Volume::of(&month.counts),
            period: Volume::of(&period.counts),
            lane_mix: BTreeMap::new(),
            by_status: BTreeMap::new(),
            clearance: ClearanceTimes::default(),
            top_commodities: Vec::new(),
            top_partners: Vec::new(),
            by_office: Vec::new(),
            exchange: self.exchange_health(now)?,
        };
        let mut office_volume: HashMap<OfficeCode, Volume> = HashMap::new();
        for r in &period.counts {
            office_volume
                .entry(r.office)
                .or_default()
                .add(r.status, r.numbered, r.count);
            *s.by_status.entry(r.status.as_str().to_owned()).or_default() += r.count;
            if let Some(lane) = r.lane {
                *s.lane_mix.entry(lane.as_str().to_owned()).or_default() += r.count;
            }
        }
        let mut times: BTreeMap<i64, u64> = BTreeMap::new();
        let mut office_times: HashMap<OfficeCode, BTreeMap<i64, u64>> = HashMap::new();
        for b in &period.clearance {
            *times.entry(b.floor_seconds).or_default() += b.count;
            *office_times
                .entry(b.office)
                .or_default()
                .entry(b.floor_seconds)
                .or_default() += b.count;
        }
        let times: Vec<(i64, u64)> = times.into_iter().collect();
        s.clearance = ClearanceTimes {
            count: times.iter().map(|t| t.1).sum(),
            median_seconds: histogram_percentile(&times, 50),
            p90_seconds: histogram_percentile(&times, 90),
        };
        s.top_commodities = top(period.commodities.iter().cloned().collect())
            .into_iter()
            .map(|(code, items)| {
                let line = HsCode::parse(&code)
                    .ok()
                    .and_then(|c| self.core.refdata().tariff_versions(c).last());
                TopCommodity {
                    description_zh: line.map(|l| l.description_zh.clone()).unwrap_or_default(),
                    description_en: line.map(|l| l.description_en.clone()).unwrap_or_default(),
                    commodity_code: code,
                    items,
                }
            })
            .collect();
        s.top_partners = top(period.partners.iter().cloned().collect())
            .into_iter()
            .map(|(country, declarations)| {
                let entry = self.core.refdata().country_entry(&country);
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
                let t: Vec<(i64, u64)> = office_times
                    .remove(&office)
                    .unwrap_or_default()
                    .into_iter()
                    .collect();
                let entry = self.core.refdata().offices().find(|o| o.code == office);
                OfficeRow {
                    office,
                    name_zh: entry.map(|o| o.name_zh.clone()).unwrap_or_default(),
                    name_en: entry.map(|o| o.name_en.clone()).unwrap_or_default(),
                    declarations: v.declarations,
                    released: v.released,
                    median_clearance_seconds: histogram_percentile(&t, 50),
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

    /// The outbox's counts per recipient and the feed's signing key.
    fn exchange_health(&self, now: DateTime<Utc>) -> Result<ExchangeHealth, AppError> {
        let signing_key = self.exchange.map(|desk| {
            format!(
                "{} {}",
                desk.key().algorithm().as_str(),
                desk.key().key_id().as_str()
            )
        });
        let Some(outbox) = self.core.store().outbox_store() else {
            return Ok(ExchangeHealth {
                outbox: false,
                signing_key,
                agencies: Vec::new(),
            });
        };
        let agencies = outbox
            .counts()?
            .into_iter()
            .map(|(agency, c)| ExchangeAgencyRow {
                agency,
                sent: c.total,
                acknowledged: c.acked,
                waiting: c.total.saturating_sub(c.acked),
                unpublished: c.unpublished,
                oldest_unpublished_seconds: c
                    .oldest_unpublished_at
                    .map(|at| (now - at).num_seconds().max(0)),
            })
            .collect();
        Ok(ExchangeHealth {
            outbox: true,
            signing_key,
            agencies,
        })
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
    use crate::service::Clearance;
    use chrono::TimeZone;

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

    /// The dashboard's exchange health: what the outbox holds for each agency, and what the
    /// agency acknowledged on the feed, move as releases send messages and the feed is read.
    #[test]
    fn the_exchange_health_counts_what_was_sent_and_acknowledged() {
        use std::sync::Arc;

        use exchange::{Agency, Algorithm, KeyId, SigningKey};

        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn store::Store> = Arc::new(
            store_sqlite::SqliteStore::open(dir.path(), store_sqlite::SqliteOptions::default())
                .unwrap(),
        );
        let key = SigningKey::generate(
            Algorithm::Sm2Sm3,
            Agency::parse("CUSTOMS").unwrap(),
            KeyId::parse("customs-test").unwrap(),
        )
        .unwrap();
        let desk = Arc::new(crate::exchange_desk::ExchangeDesk::new(
            store.clone(),
            Arc::new(key),
        ));
        let svc = Clearance::new(
            store,
            Arc::new(refdata::RefData::embedded().unwrap()),
            Arc::new(crate::clock::SystemClock),
        )
        .with_registry(Box::new(crate::demo::registry()))
        .with_eport()
        .with_exchange(desk);
        let hq = Principal::Hq {
            user_id: 1,
            login: "hq".into(),
            duties: [crate::access::Duty::Statistician].into_iter().collect(),
        };
        let health = |svc: &Clearance| {
            svc.stats()
                .summary(&hq, StatsQuery::default())
                .unwrap()
                .exchange
        };

        // Nothing sent yet: the feed is served, the outbox is empty.
        let h = health(&svc);
        assert!(h.outbox);
        assert_eq!(h.signing_key.as_deref(), Some("SM2-SM3 customs-test"));
        assert!(h.agencies.is_empty(), "{h:?}");

        crate::demo::load(&svc, 40).unwrap();
        let forex = |h: &ExchangeHealth| {
            h.agencies
                .iter()
                .find(|r| r.agency == "FOREX")
                .cloned()
                .unwrap_or_else(|| panic!("FOREX in {h:?}"))
        };
        let before = forex(&health(&svc));
        assert!(
            before.sent >= 2,
            "the demo's releases went to FOREX: {before:?}"
        );
        assert_eq!(before.acknowledged, 0);
        assert_eq!(before.waiting, before.sent);
        // No bus: nothing was published, and the oldest message is waiting.
        assert_eq!(before.unpublished, before.sent);
        assert!(before.oldest_unpublished_seconds.is_some_and(|s| s >= 0));

        // The agency reads two messages, then asks on from its cursor: those two are acknowledged.
        let safe = Principal::Agency {
            user_id: 2,
            login: "safe".into(),
            agency: "forex".into(),
        };
        let page = svc.exchange().exchange_feed(&safe, None, Some(2)).unwrap();
        assert_eq!(page.messages.len(), 2);
        assert_eq!(
            forex(&health(&svc)).acknowledged,
            0,
            "reading alone acknowledges nothing"
        );
        svc.exchange()
            .exchange_feed(&safe, Some(&page.next.to_string()), Some(1))
            .unwrap();
        let after = forex(&health(&svc));
        assert_eq!(after.sent, before.sent);
        assert_eq!(after.acknowledged, 2);
        assert_eq!(after.waiting, before.sent - 2);

        // An agency user sees no statistics.
        assert!(svc.stats().summary(&safe, StatsQuery::default()).is_err());
    }

    /// The warehouse is asked only for a statistician, and an office's statistician only about
    /// the offices of their scope; bad input from the warehouse is the caller's 4xx.
    #[test]
    fn the_warehouse_is_asked_within_the_statisticians_scope() {
        use std::sync::{Arc, Mutex};

        #[derive(Default)]
        struct Recorder(Mutex<Vec<Breakdown>>);
        impl Warehouse for Recorder {
            fn breakdown(&self, q: &Breakdown) -> Result<BreakdownAnswer, WarehouseError> {
                self.0.lock().unwrap().push(q.clone());
                Ok(BreakdownAnswer::default())
            }
            fn bulletin(&self, month: &str, _: BulletinFormat) -> Result<Vec<u8>, WarehouseError> {
                if month == "2026-13" {
                    return Err(WarehouseError::Invalid {
                        field: "month".into(),
                        code: "bad_month".into(),
                        message_zh: "月份格式错误".into(),
                        message_en: "bad month".into(),
                    });
                }
                Ok(b"csv".to_vec())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn store::Store> = Arc::new(
            store_sqlite::SqliteStore::open(dir.path(), store_sqlite::SqliteOptions::default())
                .unwrap(),
        );
        let refdata = Arc::new(refdata::RefData::embedded().unwrap());
        let plain = Clearance::new(
            store.clone(),
            refdata.clone(),
            Arc::new(crate::clock::SystemClock),
        );
        let rec = Arc::new(Recorder::default());
        let svc = Clearance::new(store, refdata, Arc::new(crate::clock::SystemClock))
            .with_warehouse(rec.clone());
        let ask = |by: Dimension, limit: u32| Breakdown {
            by,
            from: "2026-01".into(),
            to: "2026-10".into(),
            filters: vec![(Dimension::Partner, "USA".into())],
            offices: None,
            limit,
        };
        let statistician = [crate::access::Duty::Statistician].into_iter().collect();
        let hq = Principal::Hq {
            user_id: 1,
            login: "hq".into(),
            duties: statistician,
        };
        svc.stats()
            .warehouse_breakdown(&hq, None, ask(Dimension::Chapter, 10))
            .unwrap();
        let shanghai = Principal::Officer {
            user_id: 2,
            login: "sh".into(),
            office: OfficeCode::parse("2200").unwrap(),
            duties: [crate::access::Duty::Statistician].into_iter().collect(),
        };
        svc.stats()
            .warehouse_breakdown(&shanghai, None, ask(Dimension::Month, 10))
            .unwrap();
        let asked = rec.0.lock().unwrap().clone();
        assert_eq!(asked.len(), 2);
        assert_eq!(asked[0].offices, None, "HQ sees every office");
        let offices = asked[1].offices.clone().unwrap();
        assert!(offices.contains(&"2200".to_owned()) && offices.contains(&"2233".to_owned()));
        assert!(!offices.contains(&"5300".to_owned()), "{offices:?}");
        // Not a statistician, a bad limit, a filter on the grouped dimension: refused before
        // the warehouse is asked.
        let agency = Principal::Agency {
            user_id: 3,
            login: "safe".into(),
            agency: "forex".into(),
        };
        assert!(svc
            .stats()
            .warehouse_breakdown(&agency, None, ask(Dimension::Chapter, 10))
            .is_err());
        let officer = Principal::Officer {
            user_id: 4,
            login: "clerk".into(),
            office: OfficeCode::parse("2200").unwrap(),
            duties: Default::default(),
        };
        assert!(svc
            .stats()
            .warehouse_breakdown(&officer, None, ask(Dimension::Chapter, 10))
            .is_err());
        for q in [ask(Dimension::Chapter, 0), ask(Dimension::Partner, 10)] {
            let e = svc.stats().warehouse_breakdown(&hq, None, q).unwrap_err();
            assert_eq!(e.code(), "invalid", "{e}");
        }
        assert_eq!(rec.0.lock().unwrap().len(), 2);
        // The bulletin; a bad month is the caller's; no warehouse is not found.
        assert_eq!(
            svc.stats()
                .warehouse_bulletin(&hq, "2026-10", BulletinFormat::Csv)
                .unwrap(),
            b"csv"
        );
        let e = svc
            .stats()
            .warehouse_bulletin(&hq, "2026-13", BulletinFormat::Csv)
            .unwrap_err();
        assert_eq!(e.code(), "invalid");
        let e = plain
            .stats()
            .warehouse_bulletin(&hq, "2026-10", BulletinFormat::Csv)
            .unwrap_err();
        assert_eq!(e.code(), "not_found");
    }

    /// Every figure of the summary is what a recount of the period's declarations gives
    /// (each one loaded, as the dashboard used to read them), after the demo's day of
    /// filings, releases, rejections and payments; an office's scope counts that office and
    /// those below it.
    #[test]
    fn the_summary_is_a_recount_of_the_period() {
        use std::sync::Arc;

        use store::{DeclarationKey, ListFilter, PageRequest};

        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn store::Store> = Arc::new(
            store_sqlite::SqliteStore::open(dir.path(), store_sqlite::SqliteOptions::default())
                .unwrap(),
        );
        let svc = Clearance::new(
            store,
            Arc::new(refdata::RefData::embedded().unwrap()),
            Arc::new(crate::clock::SystemClock),
        )
        .with_registry(Box::new(crate::demo::registry()))
        .with_eport();
        let hq = Principal::Hq {
            user_id: 1,
            login: "hq".into(),
            duties: [crate::access::Duty::Statistician].into_iter().collect(),
        };
        crate::demo::load(&svc, 40).unwrap();
        let q = StatsQuery::default();
        let s = svc.stats().summary(&hq, q.clone()).unwrap();
        let (_, month_start) = day_and_month_start(svc.now());
        assert_eq!(s.from, month_start);

        // The recount: every declaration of the counted days, loaded.
        let mut truth = Volume::default();
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        let mut lanes: BTreeMap<String, u64> = BTreeMap::new();
        let mut offices: BTreeMap<OfficeCode, (u64, u64)> = BTreeMap::new();
        let mut times: Vec<i64> = Vec::new();
        let mut commodities: HashMap<String, u64> = HashMap::new();
        let mut partners: HashMap<String, u64> = HashMap::new();
        let filter = ListFilter {
            submitted_from: Some(s.from),
            submitted_to: Some(s.to),
            ..ListFilter::default()
        };
        let mut page = PageRequest {
            after: None,
            limit: store::PAGE_MAX,
        };
        loop {
            let got = svc.store().list(&filter, &page).unwrap();
            for d in &got.items {
                truth.add(d.status, d.declaration_no.is_some(), 1);
                *by_status.entry(d.status.as_str().to_owned()).or_default() += 1;
                if let Some(l) = d.lane {
                    *lanes.entry(l.as_str().to_owned()).or_default() += 1;
                }
                let o = offices.entry(d.declaration_office).or_default();
                o.0 += 1;
                if matches!(d.status, Status::Released | Status::Closed) {
                    o.1 += 1;
                }
                if d.declaration_no.is_none() {
                    continue;
                }
                let full = svc.store().load(DeclarationKey::Id(d.id)).unwrap().unwrap();
                if let (Some(sub), Some(rel)) = (full.state.submitted_at, full.state.released_at) {
                    times.push((rel - sub).num_seconds().max(0));
                }
                let body: serde_json::Value = serde_json::from_str(&full.body_json).unwrap();
                if let Some(c) = body["trading_country"].as_str() {
                    *partners.entry(c.to_owned()).or_default() += 1;
                }
                for item in body["items"].as_array().into_iter().flatten() {
                    if let Some(code) = item["commodity_code"].as_str() {
                        *commodities.entry(code.to_owned()).or_default() += 1;
                    }
                }
            }
            match got.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        assert!(truth.declarations > 20, "{truth:?}");
        assert!(truth.accepted > 0 && truth.rejected > 0 && truth.released > 0);
        assert_eq!(s.period, truth);
        assert_eq!(s.month, truth, "the demo is filed this month");
        assert_eq!(s.by_status, by_status);
        assert_eq!(s.lane_mix, lanes);
        assert_eq!(
            s.by_office
                .iter()
                .map(|o| (o.office, (o.declarations, o.released)))
                .collect::<BTreeMap<_, _>>(),
            offices
        );
        times.sort_unstable();
        assert!(times.len() > 2, "{times:?}");
        // The histogram keeps two significant figures: its percentile is the exact one's bucket.
        let floor = |v: Option<i64>| v.map(store::daily::bucket_floor);
        assert_eq!(
            s.clearance,
            ClearanceTimes {
                count: times.len() as u64,
                median_seconds: floor(percentile(&times, 50)),
                p90_seconds: floor(percentile(&times, 90)),
            }
        );
        assert_eq!(
            s.top_commodities
                .iter()
                .map(|c| (c.commodity_code.clone(), c.items))
                .collect::<Vec<_>>(),
            top(commodities)
        );
        assert_eq!(
            s.top_partners
                .iter()
                .map(|c| (c.country.clone(), c.declarations))
                .collect::<Vec<_>>(),
            top(partners)
        );

        // An office's scope counts that office and those below it.
        let pudong = OfficeCode::parse("2233").unwrap();
        let within: u64 = offices
            .iter()
            .filter(|(o, _)| **o == pudong || svc.refdata().office_within(**o, pudong))
            .map(|(_, v)| v.0)
            .sum();
        assert!(0 < within && within < truth.declarations, "{offices:?}");
        let scoped = StatsQuery {
            office: Some(pudong),
            ..q
        };
        let scoped = svc.stats().summary(&hq, scoped).unwrap();
        assert_eq!(scoped.period.declarations, within);

        // A period inside a day is counted in whole days.
        let day_start = day_and_month_start(svc.now()).0;
        let mid = StatsQuery {
            office: None,
            from: Some(day_start + Duration::seconds(1)),
            to: Some(day_start + Duration::hours(1)),
        };
        let whole = svc.stats().summary(&hq, mid).unwrap();
        assert_eq!(whole.from, day_start);
        assert_eq!(whole.to, day_start + Duration::days(1));
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
