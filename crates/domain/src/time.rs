//! The China day: China Standard Time, UTC+8 all year (no daylight saving since 1991). Customs
//! dates (the declaration date that picks the rate and the tariff, the 14 days of a late
//! declaration, the year in an entry number, a licence's validity, the days of statistics) are
//! calendar dates in this zone. This module is the one definition of it; nothing else in the
//! workspace spells the offset.
//!
//! Pure: instants come in as arguments, the clock is never read here.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// The offset of China Standard Time from UTC, in seconds (UTC+8).
pub const CHINA_OFFSET_SECONDS: i32 = 8 * 3600;

/// China Standard Time as a fixed offset.
pub const CHINA: FixedOffset = match FixedOffset::east_opt(CHINA_OFFSET_SECONDS) {
    Some(offset) => offset,
    None => panic!("UTC+8 is within ±24 hours, so a valid offset"),
};

/// The calendar date in China of an instant.
pub fn china_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&CHINA).date_naive()
}

/// The calendar year in China of an instant (the year written in entry numbers).
pub fn china_year(at: DateTime<Utc>) -> i32 {
    at.with_timezone(&CHINA).year()
}

/// The first instant of a China day, in UTC (16:00 UTC of the day before). `None` only for the
/// first day chrono can represent, whose China midnight is before chrono's range.
pub fn china_midnight(day: NaiveDate) -> Option<DateTime<Utc>> {
    CHINA
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_china_day_starts_at_16_utc_the_day_before() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test date");
        assert_eq!(china_date(utc("2024-12-31T15:59:59Z")), d("2024-12-31"));
        assert_eq!(china_date(utc("2024-12-31T16:00:00Z")), d("2025-01-01"));
        assert_eq!(china_year(utc("2024-12-31T16:00:00Z")), 2025);
        assert_eq!(
            china_midnight(d("2025-01-01")),
            Some(utc("2024-12-31T16:00:00Z"))
        );
        assert_eq!(CHINA.local_minus_utc(), 28_800);
    }

    #[test]
    fn midnight_at_the_ends_of_chrono_s_range_is_none_or_a_day() {
        assert_eq!(china_midnight(NaiveDate::MIN), None);
        let last = china_midnight(NaiveDate::MAX).expect("before the end of the range");
        assert_eq!(china_date(last), NaiveDate::MAX);
    }
}
