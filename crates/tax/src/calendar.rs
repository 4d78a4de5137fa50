//! The holiday and trading calendar ([`TradingCalendar`]): which days are public holidays and
//! which weekend days are make-up working days (调休上班日). Weekends are rest days unless listed
//! as working days.
//!
//! CSV format, one date a line: `date,kind[,name]` with `kind` = `holiday` (a public holiday or a
//! day of a holiday period: no work, no trading) or `workday` (a weekend make-up working day).
//! A header line `date,kind,name` and lines starting with `#` are allowed.

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use serde::Serialize;

use crate::csvrows;
use crate::rates::RowError;

/// What the calendar says of a listed day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    Holiday,
    Workday,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradingCalendar {
    days: BTreeMap<NaiveDate, DayKind>,
}

/// The calendar shipped with Jinguan: China's public holidays and make-up working days, 2023–2026.
pub const CALENDAR_CN_CSV: &str = include_str!("../../../data/calendar_cn.csv");

impl TradingCalendar {
    /// China 2023–2026 from `data/calendar_cn.csv`.
    pub fn china() -> TradingCalendar {
        TradingCalendar::parse_csv(CALENDAR_CN_CSV).expect("the shipped calendar parses")
    }

    pub fn from_days(days: impl IntoIterator<Item = (NaiveDate, DayKind)>) -> TradingCalendar {
        TradingCalendar {
            days: days.into_iter().collect(),
        }
    }

    pub fn insert(&mut self, date: NaiveDate, kind: DayKind) {
        self.days.insert(date, kind);
    }

    pub fn parse_csv(text: &str) -> Result<TradingCalendar, Vec<RowError>> {
        let mut days = BTreeMap::new();
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
                "holiday" => DayKind::Holiday,
                "workday" => DayKind::Workday,
                other => {
                    errors.push(RowError {
                        line,
                        message: format!("kind {other:?} must be holiday or workday"),
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
            Ok(TradingCalendar { days })
        } else {
            Err(errors)
        }
    }

    pub fn kind(&self, date: NaiveDate) -> Option<DayKind> {
        self.days.get(&date).copied()
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.kind(date) == Some(DayKind::Holiday)
    }

    /// A working day of government offices: weekdays that are not holidays, and make-up days.
    pub fn is_working_day(&self, date: NaiveDate) -> bool {
        match self.kind(date) {
            Some(DayKind::Holiday) => false,
            Some(DayKind::Workday) => true,
            None => !is_weekend(date),
        }
    }

    /// A trading day of the interbank FX market: a weekday that is not a holiday; a weekend
    /// make-up working day only when `weekend_workdays_trade`.
    pub fn is_trading_day(&self, date: NaiveDate, weekend_workdays_trade: bool) -> bool {
        match self.kind(date) {
            Some(DayKind::Holiday) => false,
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
