//! The holiday and trading calendar ([`TradingCalendar`]): which days are public holidays and
//! which weekend days are make-up working days (调休上班日). Weekends are rest days unless listed
//! as working days.
//!
//! CSV format, one date a line: `date,kind[,name]` with `kind` = `statutory` (a statutory holiday
//! of 全国年节及纪念日放假办法 art. 2: no work, no trading), `holiday` (another rest day of a holiday
//! break, 调休: no work, no trading) or `workday` (a weekend make-up working day). Two more kinds
//! state coverage, with the last covered date in the name column: `covers_statutory` (every
//! statutory holiday in the range is listed) and `covers_arrangements` (every break and make-up
//! day of the State Council's notices in the range is listed). A calendar without coverage rows
//! (built in tests) claims to cover every date. A header line `date,kind,name` and lines starting
//! with `#` are allowed.
//!
//! Why two kinds of rest day: the exchange-rate rule before 2024-12-01 moves to the fourth
//! Wednesday only when the third is a *statutory* holiday, 调休 days excluded (海关总署公告2010年
//! 第18号; restated on 2015-02-27 after 国务院令第644号 made the Spring Festival 初一 to 初三),
//! while the late-declaration deadline and the trading-day rule from 2024-12-01 need every rest day.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::Serialize;

use crate::csvrows;
use crate::rates::RowError;

/// What the calendar says of a listed day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// A statutory holiday (全体公民放假的节日), a rest day.
    Statutory,
    /// Another rest day of a holiday break (调休).
    Holiday,
    Workday,
}

/// What a calendar is complete for: a date range each for statutory holidays and for the
/// break arrangements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    pub statutory: Option<(NaiveDate, NaiveDate)>,
    pub arrangements: Option<(NaiveDate, NaiveDate)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradingCalendar {
    days: BTreeMap<NaiveDate, DayKind>,
    /// `None`: built without coverage rows, taken to cover every date (tests).
    coverage: Option<Coverage>,
}

/// The calendar shipped with Jinguan: China's statutory holidays 2008–2026, break and make-up days
/// 2023–2026.
pub const CALENDAR_CN_CSV: &str = include_str!("../../../data/calendar_cn.csv");

impl TradingCalendar {
    /// China from `data/calendar_cn.csv`: statutory holidays 2008–2026, arrangements 2023–2026.
    pub fn china() -> TradingCalendar {
        TradingCalendar::parse_csv(CALENDAR_CN_CSV).expect("the shipped calendar parses")
    }

    pub fn from_days(days: impl IntoIterator<Item = (NaiveDate, DayKind)>) -> TradingCalendar {
        TradingCalendar {
            days: days.into_iter().collect(),
            coverage: None,
        }
    }

    pub fn insert(&mut self, date: NaiveDate, kind: DayKind) {
        self.days.insert(date, kind);
    }

    pub fn parse_csv(text: &str) -> Result<TradingCalendar, Vec<RowError>> {
        let mut days = BTreeMap::new();
        let mut coverage: Option<Coverage> = None;
        let mut errors = Vec::new();
        for row in csvrows::rows(text, "date") {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let line = row.line;
            let (date, kind) = (row.get(0), row.get(1));
            let Ok(date) = NaiveDate::parse_from_str(date, "%Y-%m-%d") else {
                errors.push(RowError {
                    line,
                    message: format!("{date:?} is not a date YYYY-MM-DD"),
                });
                continue;
            };
            let kind = match kind {
                "statutory" => DayKind::Statutory,
                "holiday" => DayKind::Holiday,
                "workday" => DayKind::Workday,
                "covers_statutory" | "covers_arrangements" => {
                    let end = row.get(2);
                    match NaiveDate::parse_from_str(end, "%Y-%m-%d") {
                        Ok(end) if end >= date => {
                            let c = coverage.get_or_insert_with(Coverage::default);
                            let slot = if kind == "covers_statutory" {
                                &mut c.statutory
                            } else {
                                &mut c.arrangements
                            };
                            if slot.replace((date, end)).is_some() {
                                errors.push(RowError {
                                    line,
                                    message: format!("{kind} is given twice"),
                                });
                            }
                        }
                        _ => errors.push(RowError {
                            line,
                            message: format!(
                                "{kind} needs the last covered date YYYY-MM-DD (not before {date}) in the name column, found {end:?}"
                            ),
                        }),
                    }
                    continue;
                }
                other => {
                    errors.push(RowError {
                        line,
                        message: format!(
                            "kind {other:?} must be statutory, holiday, workday, covers_statutory or covers_arrangements"
                        ),
                    });
                    continue;
                }
            };
            if days.insert(date, kind).is_some() {
                errors.push(RowError {
                    line,
                    message: format!("{date} is listed twice"),
                });
            }
        }
        if errors.is_empty() {
            Ok(TradingCalendar { days, coverage })
        } else {
            Err(errors)
        }
    }

    /// The number of listed days.
    pub fn len(&self) -> usize {
        self.days.len()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }

    pub fn kind(&self, date: NaiveDate) -> Option<DayKind> {
        self.days.get(&date).copied()
    }

    /// A rest day of a holiday: a statutory holiday or another day of the break.
    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        matches!(self.kind(date), Some(DayKind::Holiday | DayKind::Statutory))
    }

    /// A statutory holiday (全体公民放假的节日), 调休 days excluded.
    pub fn is_statutory_holiday(&self, date: NaiveDate) -> bool {
        self.kind(date) == Some(DayKind::Statutory)
    }

    /// What the calendar is complete for (`None`: every date, a calendar built in code).
    pub fn coverage(&self) -> Option<Coverage> {
        self.coverage
    }

    /// Whether every statutory holiday on `date` is known.
    pub fn covers_statutory(&self, date: NaiveDate) -> bool {
        self.coverage.is_none_or(|c| {
            c.statutory
                .is_some_and(|(from, to)| from <= date && date <= to)
        })
    }

    /// Whether every break and make-up day on `date` is known.
    pub fn covers_arrangements(&self, date: NaiveDate) -> bool {
        self.coverage.is_none_or(|c| {
            c.arrangements
                .is_some_and(|(from, to)| from <= date && date <= to)
        })
    }

    /// A working day of government offices: weekdays that are not holidays, and make-up days.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.kind(date) {
            Some(DayKind::Holiday | DayKind::Statutory) => false,
            Some(DayKind::Workday) => true,
            None => !is_weekend(date),
        }
    }

    /// A trading day of the interbank FX market: a weekday that is not a holiday; a weekend
    /// make-up working day only when `weekend_workdays_trade`.
    pub fn is_trading_day(&self, date: NaiveDate, weekend_workdays_trade: bool) -> bool {
        match self.kind(date) {
            Some(DayKind::Holiday | DayKind::Statutory) => false,
            Some(DayKind::Workday) => weekend_workdays_trade || !is_weekend(date),
            None => !is_weekend(date),
        }
    }

    /// The first working day on or after `date` (bounded: a calendar never has 60 rest days
    /// in a row).
    pub fn working_day_on_or_after(&self, date: NaiveDate) -> NaiveDate {
        let mut day = date;
        for _ in 0..60 {
            if self.is_working_day(day) {
                return day;
            }
            day += Duration::days(1);
        }
        day
    }
}

pub fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The `n`-th (1-based) Wednesday of a month.
pub fn nth_wednesday(year: i32, month: u32, n: u32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Wed, n as u8)
        .expect("a month has 4 Wednesdays")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_calendar_parses_and_marks_known_days() {
        let cal = TradingCalendar::china();
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert!(cal.is_holiday(d("2024-10-01")));
        assert!(!cal.is_working_day(d("2024-10-07")));
        assert!(cal.is_working_day(d("2024-10-12")), "Saturday make-up day");
        assert!(!cal.is_trading_day(d("2024-10-12"), false));
        assert!(cal.is_working_day(d("2024-10-08")));
        assert_eq!(
            cal.working_day_on_or_after(d("2024-10-05")),
            d("2024-10-08")
        );
    }

    #[test]
    fn bad_calendar_rows_are_reported_with_line_numbers() {
        let errors = TradingCalendar::parse_csv(
            "date,kind\n2024-01-01,holiday\n2024-13-01,holiday\n2024-01-02,rest\n",
        )
        .unwrap_err();
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }
}
