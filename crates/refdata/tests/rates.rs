//! Importing an exchange-rate CSV into a data directory (`jinguan rates import`): atomic, and a
//! file with a bad row changes nothing. Moved here from tax with the IO it tests.

use chrono::NaiveDate;
use domain::codes::CurrencyCode;
use rust_decimal::Decimal;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn import_writes_atomically_and_a_bad_file_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("jinguan-rates-import-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.csv");
    std::fs::write(
        &good,
        "currency,date,rate\nUSD,2024-04-17,7.1000\nEUR,2024-04-17,7.7000\n",
    )
    .unwrap();
    let summary = refdata::rates::import(&dir, &good).unwrap();
    assert_eq!(
        (
            summary.rows_read,
            summary.added,
            summary.replaced,
            summary.total
        ),
        (2, 2, 0, 2)
    );
    let before = std::fs::read_to_string(refdata::rates::table_path(&dir)).unwrap();

    let bad = dir.join("bad.csv");
    std::fs::write(&bad, "USD,2024-05-15,7.2\nEUR,notadate,7.7\n").unwrap();
    let err = refdata::rates::import(&dir, &bad).unwrap_err();
    assert!(err.to_string().contains("line 2"), "{err}");
    assert_eq!(
        std::fs::read_to_string(refdata::rates::table_path(&dir)).unwrap(),
        before
    );

    let more = dir.join("more.csv");
    std::fs::write(&more, "USD,2024-05-15,7.2\nUSD,2024-04-17,7.1100\n").unwrap();
    let summary = refdata::rates::import(&dir, &more).unwrap();
    assert_eq!((summary.added, summary.replaced, summary.total), (1, 1, 3));
    let table = refdata::rates::load(&dir).unwrap().unwrap();
    assert_eq!(
        table
            .get(CurrencyCode::parse("USD").unwrap(), d("2024-04-17"))
            .unwrap()
            .yuan,
        dec("7.1100")
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.join("rates"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
