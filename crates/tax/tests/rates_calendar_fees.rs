//! Table-driven tests of the exchange-rate date rule (tests/cases/rate_dates.csv), the fees
//! (tests/cases/fees.csv) and the rate CSV format (importing into a data directory is tested in
//! refdata, which does that IO).

mod common;

use std::path::Path;

use common::{d, dec};
use domain::codes::CurrencyCode;
use domain::money::Fen;
use tax::fees::{late_declaration_fee, late_payment_surcharge, FeeKind};
use tax::rates::{rule_date, RateTable};
use tax::{DayKind, TaxError, TaxKind, TaxPolicy, TradingCalendar};

// The cases are fixture files; the library itself never touches files (clippy.toml).
#[allow(clippy::disallowed_methods)]
fn rows(name: &str) -> Vec<(usize, Vec<String>)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap();
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes())
        .into_records()
        .map(|r| r.unwrap())
        .filter(|r| !(r.len() == 1 && r[0].is_empty()))
        .map(|r| {
            let line = r.position().unwrap().line() as usize;
            (line, r.iter().map(str::to_owned).collect())
        })
        .collect()
}

#[test]
fn rate_date_rule_cases() {
    let policy = TaxPolicy::default();
    let cases = rows("rate_dates.csv");
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for (line, f) in cases {
        let mut calendar = TradingCalendar::china();
        for h in f[1].split('|').filter(|s| !s.is_empty()) {
            calendar.insert(d(h), DayKind::Statutory);
        }
        let (date, rule) = rule_date(d(&f[0]), &calendar, &policy);
        let rule = serde_json::to_value(rule)
            .unwrap()
            .as_str()
            .unwrap()
            .to_string();
        if date != d(&f[2]) || rule != f[3] {
            failures.push(format!(
                "line {line} ({}): got {date} {rule}, expected {} {}",
                f[4], f[2], f[3]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fee_cases() {
    let calendar = TradingCalendar::china();
    let policy = TaxPolicy::default();
    let cases = rows("fees.csv");
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (line, f) in cases {
        let base = Fen::round_yuan(dec(&f[1])).unwrap();
        let fee = match f[0].as_str() {
            "late_declaration" => {
                late_declaration_fee(base, d(&f[2]), d(&f[3]), &calendar, &policy)
            }
            "late_payment" => late_payment_surcharge(
                TaxKind::ImportVat,
                base,
                d(&f[2]),
                d(&f[3]),
                &calendar,
                &policy,
            ),
            other => panic!("line {line}: kind {other}"),
        };
        let got = (
            fee.deadline,
            fee.days,
            fee.amount_fen.to_string(),
            fee.payable_fen.to_string(),
        );
        let want = (
            d(&f[4]),
            f[5].parse::<i64>().unwrap(),
            f[6].clone(),
            f[7].clone(),
        );
        if got != want {
            failures.push(format!(
                "line {line} ({}): got {got:?}, expected {want:?}",
                f[8]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn fee_kinds_and_shift_are_reported() {
    let calendar = TradingCalendar::china();
    let fee = late_declaration_fee(
        Fen::yuan(1_000_000),
        d("2024-09-17"),
        d("2024-10-10"),
        &calendar,
        &TaxPolicy::default(),
    );
    assert_eq!(fee.kind, FeeKind::LateDeclarationFee);
    assert!(fee.deadline_shifted);
    assert!(fee.formula.contains("2 days"), "{}", fee.formula);
}

#[test]
fn sample_rates_cover_every_declaration_month_2023_to_2026() {
    let table = RateTable::sample();
    let calendar = TradingCalendar::china();
    let currencies = [
        "USD", "EUR", "JPY", "HKD", "GBP", "KRW", "AUD", "SGD", "CAD", "CHF",
    ];
    for c in currencies {
        let c = CurrencyCode::parse(c).unwrap();
        for year in 2023..=2026 {
            for month in 1..=12 {
                let date = chrono::NaiveDate::from_ymd_opt(year, month, 10).unwrap();
                let (rate, _) = table
                    .rate_for(c, date, &calendar)
                    .unwrap_or_else(|e| panic!("{e}"));
                assert!(rate > dec("0.001") && rate < dec("20"), "{c} {date} {rate}");
            }
        }
    }
    let (usd, on) = table
        .rate_for(
            CurrencyCode::parse("USD").unwrap(),
            d("2024-12-05"),
            &calendar,
        )
        .unwrap();
    assert_eq!(on, d("2024-11-20"));
    assert!(usd > dec("6.5") && usd < dec("7.5"));
}

#[test]
fn missing_rate_names_currency_and_date() {
    let table = RateTable::parse_csv("USD,2024-04-17,7.1\n").unwrap();
    let err = table
        .rate_for(
            CurrencyCode::parse("EUR").unwrap(),
            d("2024-05-10"),
            &TradingCalendar::china(),
        )
        .unwrap_err();
    assert!(matches!(err, TaxError::MissingRate { .. }));
    let text = err.to_string();
    assert!(
        text.contains("EUR") && text.contains("2024-04-17") && text.contains("2024-05-10"),
        "{text}"
    );
}

#[test]
fn rate_csv_accepts_per_100_and_reports_bad_rows_with_line_numbers() {
    let t = RateTable::parse_csv(
        "currency,date,rate,units\nJPY,2024-04-17,4.6012,100\nUSD,2024-04-17,7.1000\n",
    )
    .unwrap();
    let (jpy, _) = t
        .rate_for(
            CurrencyCode::parse("JPY").unwrap(),
            d("2024-05-10"),
            &TradingCalendar::china(),
        )
        .unwrap();
    assert_eq!(jpy, dec("0.046012"));
    let errors = RateTable::parse_csv(
        "currency,date,rate\nUSD,2024-04-17,7.1\nusd,2024-04-17,7.1\nEUR,2024-02-30,7.7\nGBP,2024-04-17,-9\nHKD,2024-04-17,0.91234\nUSD,2024-04-17,7.2\nJPY,2024-04-17,4.6,10\n",
    )
    .unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6, 7, 8], "{errors:?}");
}

#[test]
fn shipped_remedies_and_calendar_parse() {
    let remedies = tax::TradeRemedyTable::sample();
    assert!(remedies.remedies.len() >= 5);
    let calendar = TradingCalendar::china();
    assert_eq!(calendar.kind(d("2026-02-14")), Some(DayKind::Workday));
    assert!(calendar.is_holiday(d("2025-10-08")));
}

/// Issue 21 item 7: the shipped calendar states what it covers (statutory holidays from 2008,
/// from the 放假办法 and the State Council notices; break arrangements 2023–2026), and a date the
/// rate rule needs outside that is an error that says so, never a silent "no holiday".
#[test]
fn a_date_outside_the_calendar_is_an_error_that_says_so() {
    let calendar = TradingCalendar::china();
    let policy = TaxPolicy::default();
    let rates = RateTable::parse_csv("USD,2007-05-23,7.6000\nUSD,2027-02-17,7.0000\n").unwrap();
    let usd = domain::codes::CurrencyCode::parse("USD").unwrap();
    // Old rule, third Wednesday 2007-05-16: before the statutory coverage (2008).
    let err = rates
        .rate_used(usd, d("2007-06-10"), &calendar, &policy)
        .unwrap_err();
    assert!(matches!(err, TaxError::CalendarNotCovered { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("2007-05-16") && text.contains("does not cover"),
        "{text}"
    );
    assert!(text.contains("2008-01-01 to 2026-12-31"), "{text}");
    // New rule, third Wednesday 2027-02-17: beyond the arrangements' coverage (2026).
    let err = rates
        .rate_used(usd, d("2027-03-05"), &calendar, &policy)
        .unwrap_err();
    assert!(matches!(err, TaxError::CalendarNotCovered { .. }), "{err}");
    // Inside the coverage: 2008 onwards works.
    assert!(calendar.covers_statutory(d("2008-01-01")));
    assert!(!calendar.covers_statutory(d("2007-12-31")));
    assert!(calendar.covers_arrangements(d("2023-01-01")));
    assert!(!calendar.covers_arrangements(d("2022-12-30")));
}

/// The statutory holidays shipped, spot-checked against 全国年节及纪念日放假办法 as revised
/// (国务院令第513号 from 2008: Spring Festival 除夕 to 初二; 第644号 from 2014: 初一 to 初三; 第795号
/// from 2025: 除夕 to 初三 and 1–2 May) with the lunar dates of each year.
#[test]
fn statutory_holidays_follow_the_holiday_regulations() {
    let c = TradingCalendar::china();
    for s in [
        "2008-02-06", // 除夕 2008 (Spring Festival 2008-02-07)
        "2010-06-16", // Dragon Boat 2010
        "2013-02-09", // 除夕 2013 still statutory
        "2014-02-02", // 初三 2014 statutory from 2014
        "2020-10-01", // National Day and Mid-Autumn 2020 on one day
        "2024-02-12", // 初三 2024
        "2025-01-28", // 除夕 2025, statutory again from 2025
        "2025-05-02", // Labour Day, second day from 2025
    ] {
        assert!(c.is_statutory_holiday(d(s)), "{s}");
    }
    for s in [
        "2014-01-30", // 除夕 2014: no longer statutory
        "2010-02-17", // 初四 2010: a break day only
        "2024-02-13", // 初四 2024
        "2024-05-02", // 2 May before 2025
        "2024-10-04", // a break day of National Day
    ] {
        assert!(!c.is_statutory_holiday(d(s)), "{s}");
    }
    // Break days stay rest days for the working-day and trading-day rules.
    assert!(c.is_holiday(d("2024-10-04")));
    assert!(!c.is_working_day(d("2024-02-13")));
}
