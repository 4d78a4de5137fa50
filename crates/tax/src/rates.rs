//! Exchange rates: [`RateTable`] (currency → dated rates), the rule that picks the rate date
//! for a declaration date ([`rule_date`]). Pure: reading and writing the data directory's table
//! is `refdata::rates`' work.
//!
//! CSV format: `currency,date,rate[,units]`: ISO 4217 alpha currency, `YYYY-MM-DD`, the number of
//! yuan (CNY) for `units` units of the currency with at most 4 decimal places, and `units` = `1`
//! (the default) or `100` (as JPY and KRW are quoted: `JPY,2024-05-15,4.6012,100`). A header line
//! starting with `currency,` and lines starting with `#` are allowed.

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{Datelike, Duration, Months, NaiveDate};
use rust_decimal::Decimal;
use serde::Serialize;

use domain::codes::CurrencyCode;

use crate::calendar::{nth_wednesday, TradingCalendar};
use crate::csvrows::{self, Row};
use crate::error::TaxError;
use crate::policy::TaxPolicy;

/// One bad row of a CSV file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RowError {
    /// 1-based line number in the file.
    pub line: usize,
    pub message: String,
}

/// One rate as quoted: yuan for `units` units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct QuotedRate {
    pub yuan: Decimal,
    pub units: u32,
}

impl QuotedRate {
    /// Yuan per one unit (exact: `yuan / units`).
    pub fn per_unit(&self) -> Decimal {
        self.yuan / Decimal::from(self.units)
    }
}

/// Which rule picked the rate date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateRule {
    /// Up to 2024-11-30: the benchmark rate of the third Wednesday of the previous month.
    ThirdWednesday,
    /// Up to 2024-11-30: the third Wednesday was a public holiday, so the fourth.
    FourthWednesdayAfterHoliday,
    /// From 2024-12-01: the central parity of the third Wednesday of the previous month.
    ThirdWednesdayTrading,
    /// From 2024-12-01: the third Wednesday was not a trading day, so the next trading day.
    NextTradingDay,
    /// The amount is already in yuan.
    Yuan,
}

impl RateRule {
    pub fn describe(self) -> &'static str {
        match self {
            RateRule::ThirdWednesday => "third Wednesday of the previous month (rule before 2024-12-01)",
            RateRule::FourthWednesdayAfterHoliday => {
                "fourth Wednesday of the previous month, the third being a public holiday (rule before 2024-12-01)"
            }
            RateRule::ThirdWednesdayTrading => "third Wednesday of the previous month (rule from 2024-12-01)",
            RateRule::NextTradingDay => {
                "next trading day after the third Wednesday of the previous month (rule from 2024-12-01)"
            }
            RateRule::Yuan => "amount in yuan",
        }
    }
}

/// The date whose rate applies to a declaration dated `declaration_date`, and the rule used.
pub fn rule_date(
    declaration_date: NaiveDate,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> (NaiveDate, RateRule) {
    let previous = declaration_date.with_day(1).expect("day 1 exists") - Months::new(1);
    let third = nth_wednesday(previous.year(), previous.month(), 3);
    if declaration_date < policy.rate_rule_switch {
        // "法定节假日": the statutory days only, 调休 days excluded (海关总署公告2010年第18号, restated
        // 2015-02-27); see the calendar module.
        if calendar.is_statutory_holiday(third) {
            (
                nth_wednesday(previous.year(), previous.month(), 4),
                RateRule::FourthWednesdayAfterHoliday,
            )
        } else {
            (third, RateRule::ThirdWednesday)
        }
    } else if calendar.is_trading_day(third, policy.weekend_workdays_trade) {
        (third, RateRule::ThirdWednesdayTrading)
    } else {
        let mut day = third + Duration::days(1);
        // Bounded: no holiday period is 60 days long.
        for _ in 0..60 {
            if calendar.is_trading_day(day, policy.weekend_workdays_trade) {
                break;
            }
            day += Duration::days(1);
        }
        (day, RateRule::NextTradingDay)
    }
}

/// The days the rule looked at must be ones the calendar is complete for: the third Wednesday
/// for statutory holidays (rule before the switch), every day from the third Wednesday to the
/// rate date for all rest days (rule from the switch). Otherwise an error that says so, never
/// a silent "no holiday".
fn check_coverage(
    declaration_date: NaiveDate,
    rate_date: NaiveDate,
    calendar: &TradingCalendar,
    policy: &TaxPolicy,
) -> Result<(), TaxError> {
    let previous = declaration_date.with_day(1).expect("day 1 exists") - Months::new(1);
    let third = nth_wednesday(previous.year(), previous.month(), 3);
    let covered = || match calendar.coverage() {
        Some(c) => {
            let range = |r: Option<(NaiveDate, NaiveDate)>| {
                r.map_or("nothing".to_owned(), |(a, b)| format!("{a} to {b}"))
            };
            format!(
                "statutory holidays {}, holiday arrangements {}",
                range(c.statutory),
                range(c.arrangements)
            )
        }
        None => "every date".to_owned(),
    };
    if declaration_date < policy.rate_rule_switch {
        if !calendar.covers_statutory(third) {
            return Err(TaxError::CalendarNotCovered {
                date: third,
                declaration_date,
                needed: "statutory holidays",
                covered: covered(),
            });
        }
    } else {
        let mut day = third;
        while day <= rate_date {
            if !calendar.covers_arrangements(day) {
                return Err(TaxError::CalendarNotCovered {
                    date: day,
                    declaration_date,
                    needed: "holiday arrangements (every rest and make-up day)",
                    covered: covered(),
                });
            }
            day += Duration::days(1);
        }
    }
    Ok(())
}

/// The rate used for one currency, as shown in an assessment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RateUsed {
    pub currency: CurrencyCode,
    /// Yuan per one unit.
    pub yuan_per_unit: Decimal,
    /// As quoted (yuan per `units`).
    pub quoted: QuotedRate,
    pub rate_date: NaiveDate,
    pub rule: RateRule,
}

/// Exchange rates by currency and date.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RateTable {
    rates: BTreeMap<CurrencyCode, BTreeMap<NaiveDate, QuotedRate>>,
}

/// The SAMPLE rate table shipped for tests and demos (not official rates).
pub const SAMPLE_RATES_CSV: &str = include_str!("../../../data/exchange_rates_sample.csv");

impl RateTable {
    /// The sample table of `data/exchange_rates_sample.csv` (illustrative, not official).
    pub fn sample() -> RateTable {
        RateTable::parse_csv(SAMPLE_RATES_CSV).expect("the sample rate table parses")
    }

    pub fn insert(&mut self, currency: CurrencyCode, date: NaiveDate, rate: QuotedRate) {
        self.rates.entry(currency).or_default().insert(date, rate);
    }

    pub fn len(&self) -> usize {
        self.rates.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, currency: CurrencyCode, date: NaiveDate) -> Option<QuotedRate> {
        self.rates.get(&currency)?.get(&date).copied()
    }

    /// Every row, sorted by currency then date.
    pub fn rows(&self) -> impl Iterator<Item = (CurrencyCode, NaiveDate, QuotedRate)> + '_ {
        self.rates
            .iter()
            .flat_map(|(c, by_date)| by_date.iter().map(move |(d, r)| (*c, *d, *r)))
    }

    /// Parse the CSV format of this module; every bad row is reported with its line number.
    pub fn parse_csv(text: &str) -> Result<RateTable, Vec<RowError>> {
        let mut table = RateTable::default();
        let mut errors = Vec::new();
        for row in csvrows::rows(text, "currency") {
            let row = match row {
                Ok(row) => row,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            let line = row.line;
            match parse_row(&row) {
                Ok((currency, date, rate)) => {
                    if table.get(currency, date).is_some() {
                        errors.push(RowError {
                            line,
                            message: format!("{currency} on {date} is listed twice"),
                        });
                    } else {
                        table.insert(currency, date, rate);
                    }
                }
                Err(message) => errors.push(RowError { line, message }),
            }
        }
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }

    /// The table as CSV in this module's format, sorted.
    pub fn to_csv(&self) -> String {
        let mut out = csv::Writer::from_writer(Vec::new());
        // Writing records to memory cannot fail: the writer's only errors are IO errors.
        out.write_record(["currency", "date", "rate", "units"])
            .expect("writing CSV to memory");
        for (currency, date, rate) in self.rows() {
            out.write_record([
                currency.to_string(),
                date.to_string(),
                rate.yuan.to_string(),
                rate.units.to_string(),
            ])
            .expect("writing CSV to memory");
        }
        let bytes = out.into_inner().expect("flushing CSV to memory");
        String::from_utf8(bytes).expect("the fields written are UTF-8")
    }

    /// Add or replace every row of `other`; returns (added, replaced).
    pub fn merge(&mut self, other: &RateTable) -> (usize, usize) {
        let (mut added, mut replaced) = (0, 0);
        for (currency, date, rate) in other.rows() {
            match self.rates.entry(currency).or_default().insert(date, rate) {
                Some(old) if old != rate => replaced += 1,
                Some(_) => {}
                None => added += 1,
            }
        }
        (added, replaced)
    }

    /// The rate (yuan per one unit) for a declaration dated `declaration_date`, and the date it
    /// was taken from. CNY is 1 on the declaration date.
    pub fn rate_for(
        &self,
        currency: CurrencyCode,
        declaration_date: NaiveDate,
        calendar: &TradingCalendar,
    ) -> Result<(Decimal, NaiveDate), TaxError> {
        let used = self.rate_used(currency, declaration_date, calendar, &TaxPolicy::default())?;
        Ok((used.yuan_per_unit, used.rate_date))
    }

    /// Like [`RateTable::rate_for`], with the policy's switch date and the rule named.
    pub fn rate_used(
        &self,
        currency: CurrencyCode,
        declaration_date: NaiveDate,
        calendar: &TradingCalendar,
        policy: &TaxPolicy,
    ) -> Result<RateUsed, TaxError> {
        if currency == CurrencyCode::CNY {
            return Ok(RateUsed {
                currency,
                yuan_per_unit: Decimal::ONE,
                quoted: QuotedRate {
                    yuan: Decimal::ONE,
                    units: 1,
                },
                rate_date: declaration_date,
                rule: RateRule::Yuan,
            });
        }
        let (rate_date, rule) = rule_date(declaration_date, calendar, policy);
        check_coverage(declaration_date, rate_date, calendar, policy)?;
        let quoted = self.get(currency, rate_date).ok_or(TaxError::MissingRate {
            currency,
            rate_date,
            declaration_date,
            rule: rule.describe(),
        })?;
        Ok(RateUsed {
            currency,
            yuan_per_unit: quoted.per_unit(),
            quoted,
            rate_date,
            rule,
        })
    }
}

fn parse_row(row: &Row) -> Result<(CurrencyCode, NaiveDate, QuotedRate), String> {
    let fields: Vec<&str> = row.fields.iter().collect();
    if !(3..=4).contains(&fields.len()) {
        return Err(format!(
            "expected currency,date,rate[,units], found {} fields",
            fields.len()
        ));
    }
    let currency =
        CurrencyCode::parse(fields[0]).map_err(|e| format!("currency {:?}: {e}", fields[0]))?;
    if currency == CurrencyCode::CNY {
        return Err("CNY needs no rate".into());
    }
    let date = NaiveDate::parse_from_str(fields[1], "%Y-%m-%d")
        .map_err(|_| format!("date {:?} is not YYYY-MM-DD", fields[1]))?;
    let yuan = Decimal::from_str(fields[2])
        .map_err(|_| format!("rate {:?} is not a number", fields[2]))?;
    if yuan <= Decimal::ZERO {
        return Err(format!("rate {yuan} must be positive"));
    }
    if yuan.scale() > 4 && yuan.normalize().scale() > 4 {
        return Err(format!("rate {yuan} has more than 4 decimal places"));
    }
    let units = match fields.get(3).copied() {
        None | Some("") | Some("1") => 1,
        Some("100") => 100,
        Some(other) => return Err(format!("units {other:?} must be 1 or 100")),
    };
    Ok((currency, date, QuotedRate { yuan, units }))
}
