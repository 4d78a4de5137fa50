//! The warehouse against a real ledger (SQLite, through the `Store` trait): reconciliation (every
//! dimension sums to the total; a month's totals are the ledger's own), revisions (an amendment
//! changes exactly the cells it touches, earlier revisions stay readable), idempotent and
//! resumable extraction, and clear errors for a bad month or query.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use common::{at, export, import, line, Ledger};
use stats::rows::MonthRates;
use stats::{StatsError, Warehouse};

const T: Duration = Duration::from_secs(60);

fn rates() -> MonthRates {
    MonthRates::new(&tax::RateTable::sample())
}

fn warehouse(dir: &std::path::Path, ledger: &Ledger) -> Warehouse {
    Warehouse::open(dir, Arc::new(ledger.refdata.clone())).unwrap()
}

fn extract(ledger: &Ledger, wh: &Warehouse) -> stats::extract::Report {
    stats::extract::extract(&ledger.store, wh, &rates(), 7, &mut |_| {}).unwrap()
}

/// One number from a query.
fn scalar(wh: &Warehouse, sql: &str) -> i64 {
    let rows = wh.query(sql, T, 10).unwrap().json_rows().unwrap();
    rows.first()
        .and_then(|r| r.values().next().cloned())
        .and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(0)
}

/// Every cell of the finest grouping: dimensions → (items, CNY fen, USD cents).
fn cells(wh: &Warehouse) -> BTreeMap<String, (i64, i64, i64)> {
    let dims = "year, month, flow, hs_code, partner_country, trading_country, stats_trade_mode, \
                transport_mode, district, region, enterprise_type";
    let sql = format!(
        "SELECT concat_ws('|', {dims}) AS k, CAST(SUM(items) AS BIGINT) AS n, SUM(value_cny_fen) AS cny, \
         SUM(value_usd_cents) AS usd FROM items GROUP BY {dims} HAVING SUM(items) <> 0 \
         OR SUM(value_cny_fen) <> 0"
    );
    wh.query(&sql, T, 100_000)
        .unwrap()
        .json_rows()
        .unwrap()
        .into_iter()
        .map(|r| {
            let n = |k: &str| r[k].as_i64().unwrap_or(0);
            (
                r["k"].as_str().unwrap().to_owned(),
                (n("n"), n("cny"), n("usd")),
            )
        })
        .collect()
}

/// A ledger of a few months: imports released, exports closed, some not yet, one outside trade
/// statistics, one in another year for the growth figures.
fn sample_ledger(dir: &std::path::Path) -> (Ledger, Vec<store::DeclarationId>) {
    let mut l = Ledger::open(dir);
    let mut ids = Vec::new();
    // September 2026: two imports released, one export closed, one export released only.
    let a = l.file(
        &import(vec![
            line("8471300000", "35000.00", "CNY", "USA"),
            line("8517130000", "12000.50", "CNY", "KOR"),
        ]),
        at(2026, 9, 3),
    );
    l.release(a, at(2026, 9, 4));
    let b = l.file(
        &import(vec![line("2709000000", "880000.00", "CNY", "SAU")]),
        at(2026, 9, 10),
    );
    l.release(b, at(2026, 9, 11));
    let c = l.file(
        &export(vec![line("6403990000", "74000.00", "CNY", "USA")]),
        at(2026, 9, 12),
    );
    l.close_export(c, at(2026, 9, 13), at(2026, 9, 20));
    let d = l.file(
        &export(vec![line("6403990000", "5000.00", "CNY", "DEU")]),
        at(2026, 9, 14),
    );
    l.release(d, at(2026, 9, 15)); // not closed: not counted
                                   // Filed, never released: not counted.
    l.file(
        &import(vec![line("8542319000", "999.00", "CNY", "TWN")]),
        at(2026, 9, 16),
    );
    // October 2026: an import in USD, FOB (freight added at the month's rate? none declared).
    let e = l.file(
        &import(vec![line("8542319000", "1000.00", "USD", "TWN")]),
        at(2026, 10, 2),
    );
    l.release(e, at(2026, 10, 3));
    // October 2025: last year's same month.
    let f = l.file(
        &import(vec![line("8471300000", "20000.00", "CNY", "USA")]),
        at(2025, 10, 8),
    );
    l.release(f, at(2025, 10, 9));
    ids.extend([a, b, c, d, e, f]);
    (l, ids)
}

#[test]
fn every_dimension_sums_to_the_total_and_months_match_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = sample_ledger(&dir.path().join("ledger"));
    let wh = warehouse(&dir.path().join("wh"), &ledger);
    let report = extract(&ledger, &wh);
    assert!(report.progress.rows_added > 0 && report.progress.rows_reversed == 0);

    let total = scalar(&wh, "SELECT SUM(value_cny_fen) FROM items");
    let total_usd = scalar(&wh, "SELECT SUM(value_usd_cents) FROM items");
    for dim in [
        "hs2",
        "hs4",
        "hs6",
        "hs8",
        "hs_code",
        "partner_country",
        "trading_country",
        "stats_trade_mode",
        "trade_mode",
        "transport_mode",
        "office",
        "district",
        "region",
        "enterprise_type",
        "flow",
        "currency",
        "year",
        "month",
        "stat_date",
    ] {
        for (measure, want) in [("value_cny_fen", total), ("value_usd_cents", total_usd)] {
            let by = scalar(
                &wh,
                &format!("SELECT SUM(s) FROM (SELECT {dim}, SUM({measure}) AS s FROM items GROUP BY {dim})"),
            );
            assert_eq!(by, want, "the sum over {dim} of {measure} is the total");
        }
    }

    // The month's totals are the ledger's own: the goods value the store keeps for its
    // released and closed declarations (CIF imports and FOB exports in CNY: the statistical
    // value is the declared one), and their number.
    let ledger_sep: i64 =
        store::Store::goods_totals(&ledger.store, at(2026, 9, 1), at(2026, 10, 1), None)
            .unwrap()
            .iter()
            .map(|g| g.value_fen.0)
            .sum();
    let ledger_sep_n: u64 =
        store::Store::goods_totals(&ledger.store, at(2026, 9, 1), at(2026, 10, 1), None)
            .unwrap()
            .iter()
            .map(|g| g.declarations)
            .sum();
    // The export released but not closed is released in the ledger, not yet counted here.
    let not_closed_fen = 500_000;
    assert_eq!(
        scalar(
            &wh,
            "SELECT SUM(value_cny_fen) FROM items WHERE year = 2026 AND month = 9"
        ),
        ledger_sep - not_closed_fen
    );
    assert_eq!(
        scalar(
            &wh,
            "SELECT COUNT(DISTINCT declaration_id) FROM items WHERE year = 2026 AND month = 9"
        ),
        ledger_sep_n as i64 - 1
    );
    assert_eq!(
        scalar(
            &wh,
            "SELECT SUM(value_cny_fen) FROM items WHERE year = 2026 AND month = 9"
        ),
        3_500_000 + 1_200_050 + 88_000_000 + 7_400_000
    );
    // USD at the month's statistical rate: 1,000 USD in October 2026 at the rate dated on or
    // before 1 October (7.1244 from 2026-09-16).
    assert_eq!(
        scalar(
            &wh,
            "SELECT SUM(value_cny_fen) FROM items WHERE year = 2026 AND month = 10"
        ),
        712_440
    );
    assert_eq!(
        scalar(
            &wh,
            "SELECT SUM(value_usd_cents) FROM items WHERE year = 2026 AND month = 10"
        ),
        100_000
    );

    // The bulletin: each table of one dimension adds up to the total line.
    let b = stats::bulletin::bulletin(&wh, "2026-10", None, T).unwrap();
    let total_line = &b.table("total").unwrap().lines[0];
    for key in [
        "section",
        "chapter",
        "partner",
        "trade_mode",
        "district",
        "region",
        "enterprise_type",
    ] {
        let t = b.table(key).unwrap();
        for cur in 0..2 {
            for flow in 0..3 {
                let get =
                    |l: &stats::bulletin::Line| if cur == 0 { l.cny[flow] } else { l.usd[flow] };
                let (m, y, pm, py) = t.lines.iter().fold((0, 0, 0, 0), |acc, l| {
                    let f = get(l);
                    (
                        acc.0 + f.month,
                        acc.1 + f.ytd,
                        acc.2 + f.prev_month,
                        acc.3 + f.prev_ytd,
                    )
                });
                let f = get(total_line);
                assert_eq!(
                    (m, y, pm, py),
                    (f.month, f.ytd, f.prev_month, f.prev_ytd),
                    "{key}"
                );
            }
        }
    }
    // The bulletin groups by the key columns: each line is what the code columns say, for
    // every dimension, flow and period (the keys and the codes are the same rows' facts).
    for (key, col) in [
        ("chapter", "hs2"),
        ("partner", "partner_country"),
        ("trade_mode", "stats_trade_mode"),
        ("district", "district"),
        ("region", "region"),
        ("enterprise_type", "enterprise_type"),
    ] {
        let sql = format!(
            "SELECT {col} AS code, flow, \
             SUM(CASE WHEN year = 2026 THEN value_cny_fen ELSE 0 END) AS ytd, \
             SUM(CASE WHEN year = 2026 AND month = 10 THEN value_usd_cents ELSE 0 END) AS m_usd, \
             SUM(CASE WHEN year = 2025 THEN value_cny_fen ELSE 0 END) AS pytd \
             FROM items WHERE month <= 10 GROUP BY {col}, flow"
        );
        let want: BTreeMap<(String, usize), (i64, i64, i64)> = wh
            .query(&sql, T, 10_000)
            .unwrap()
            .json_rows()
            .unwrap()
            .into_iter()
            .map(|r| {
                let n = |k: &str| r[k].as_i64().unwrap_or(0);
                let flow = if r["flow"] == "export" { 1 } else { 2 };
                (
                    (r["code"].as_str().unwrap().to_owned(), flow),
                    (n("ytd"), n("m_usd"), n("pytd")),
                )
            })
            .collect();
        let got: BTreeMap<(String, usize), (i64, i64, i64)> = b
            .table(key)
            .unwrap()
            .lines
            .iter()
            .flat_map(|l| {
                [1, 2].map(|f| {
                    (
                        (l.code.clone(), f),
                        (l.cny[f].ytd, l.usd[f].month, l.cny[f].prev_ytd),
                    )
                })
            })
            .filter(|(_, v)| *v != (0, 0, 0))
            .collect();
        let want: BTreeMap<_, _> = want.into_iter().filter(|(_, v)| *v != (0, 0, 0)).collect();
        assert!(!want.is_empty(), "{key}");
        assert_eq!(
            got, want,
            "{key}: the bulletin's lines are the code columns' sums"
        );
    }
    // October: 7,124.40 yuan of imports; year to date adds September's; last October's
    // 20,000 yuan gives the growth.
    assert_eq!(total_line.cny[2].month, 712_440);
    assert_eq!(
        total_line.cny[2].ytd,
        712_440 + 3_500_000 + 1_200_050 + 88_000_000
    );
    assert_eq!(total_line.cny[2].prev_month, 2_000_000);
    assert_eq!(total_line.cny[1].ytd, 7_400_000);
    assert_eq!(
        stats::bulletin::growth(712_440, 2_000_000).as_deref(),
        Some("-64.4")
    );
    // Names in both languages, and the files.
    let partners = b.table("partner").unwrap();
    let usa = partners.lines.iter().find(|l| l.code == "USA").unwrap();
    assert_eq!(
        (usa.name_zh.as_str(), usa.name_en.as_str()),
        ("美国", "United States")
    );
    let csv = String::from_utf8(b.to_csv().unwrap()).unwrap();
    assert!(csv.starts_with("表 / table,代码 / code"), "{}", &csv[..80]);
    assert!(csv.contains("出口累计（美元） / Exports, year to date (USD)"));
    let xlsx = b.to_xlsx().unwrap();
    assert_eq!(&xlsx[..2], b"PK", "an xlsx is a zip");
}

#[test]
fn extraction_is_incremental_idempotent_and_keeps_revisions() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ledger, ids) = sample_ledger(&dir.path().join("ledger"));
    let whdir = dir.path().join("wh");
    let wh = warehouse(&whdir, &ledger);
    extract(&ledger, &wh);
    let first = cells(&wh);
    let first_state = wh.state().unwrap();
    let bulletin_before = stats::bulletin::bulletin(&wh, "2026-09", None, T).unwrap();

    // Nothing changed: nothing read, nothing written.
    let again = extract(&ledger, &wh);
    assert_eq!(
        (again.progress.declarations, again.progress.rows_added),
        (0, 0)
    );
    assert_eq!(wh.state().unwrap(), first_state);

    // The cursor lost (a crash after the files, before the state): the batch is read again and
    // adds nothing, because the rows are already there.
    let mut lost = wh.state().unwrap();
    lost.audit_after = 0;
    wh.put_state(&lost).unwrap();
    let redo = extract(&ledger, &wh);
    assert!(redo.progress.declarations > 0);
    assert_eq!(
        (redo.progress.rows_added, redo.progress.rows_reversed),
        (0, 0)
    );
    assert_eq!(cells(&wh), first);

    // Files of a batch the state does not count (the crash came before the state): removed on
    // open, as if never written.
    let stray = wh.state().unwrap().next_run;
    let copy = stats::warehouse::parquet_files(&wh.items_dir(), false).unwrap()[0].clone();
    let stray_path = copy.with_file_name(format!("part-{stray:010}.parquet"));
    std::fs::copy(&copy, &stray_path).unwrap();
    drop(wh);
    let wh = warehouse(&whdir, &ledger);
    assert!(!stray_path.exists(), "the unfinished batch is removed");
    assert_eq!(cells(&wh), first);

    // A new declaration in September: only it is read.
    let g = ledger.file(
        &import(vec![line("3004909090", "100.00", "CNY", "DEU")]),
        at(2026, 9, 25),
    );
    ledger.release(g, at(2026, 9, 26));
    let inc = extract(&ledger, &wh);
    assert_eq!(inc.progress.declarations, 1);
    assert_eq!(
        (inc.progress.rows_added, inc.progress.rows_reversed),
        (1, 0)
    );

    // An amendment of a released import: its partner becomes Japan and its value changes.
    let before_amend = cells(&wh);
    let state_before = wh.state().unwrap();
    ledger.amend(
        ids[1],
        &import(vec![line("2709000000", "900000.00", "CNY", "JPN")]),
        at(2026, 10, 20),
    );
    let rev = extract(&ledger, &wh);
    assert_eq!(
        (rev.progress.rows_added, rev.progress.rows_reversed),
        (1, 1)
    );
    assert_eq!(
        rev.months.get("2026-09"),
        Some(&3),
        "a third revision of September"
    );
    let after_amend = cells(&wh);
    let changed: Vec<_> = before_amend
        .keys()
        .chain(after_amend.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| before_amend.get(*k) != after_amend.get(*k))
        .cloned()
        .collect();
    assert_eq!(
        changed.len(),
        2,
        "exactly the old and the new cell: {changed:?}"
    );
    let old_key = changed.iter().find(|k| k.contains("|SAU|")).unwrap();
    let new_key = changed.iter().find(|k| k.contains("|JPN|")).unwrap();
    assert_eq!(before_amend[old_key].1, 88_000_000);
    assert!(!after_amend.contains_key(old_key));
    assert_eq!(after_amend[new_key].1, 90_000_000);
    // The earlier revision stays readable: the bulletin as of the first batches is the first.
    let as_of =
        stats::bulletin::bulletin(&wh, "2026-09", Some(state_before.next_run - 2), T).unwrap();
    assert_eq!(as_of.tables, bulletin_before.tables);
    assert_eq!(
        scalar(
            &wh,
            "SELECT COUNT(*) FROM revisions WHERE year = 2026 AND month = 9"
        ),
        3
    );
    // Extracting again after the amendment adds nothing.
    let settled = extract(&ledger, &wh);
    assert_eq!(settled.progress.rows_added, 0);
}

#[test]
fn modes_outside_trade_statistics_are_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(&dir.path().join("ledger"));
    let spec = import(vec![line("8471300000", "100.00", "CNY", "USA")]);
    let id = ledger.file(&spec, at(2026, 9, 1));
    ledger.release(id, at(2026, 9, 2));
    let state = store::Store::load(&ledger.store, store::DeclarationKey::Id(id))
        .unwrap()
        .unwrap()
        .state;
    let dims = stats::rows::Dimensions::new(&ledger.refdata);
    let mut d = ledger.declaration(&spec, at(2026, 9, 1));
    let counted = stats::rows::rows_of(id.0, &state, &d, &dims, &rates()).unwrap();
    assert_eq!(counted.len(), 1);
    assert_eq!(
        (
            counted[0].stats_trade_mode.as_str(),
            counted[0].district.as_str(),
            counted[0].region.as_str()
        ),
        ("10", "2200", "31"),
        "general trade; office 2233 is under Shanghai Customs; the item's district 31159"
    );
    d.trade_mode = domain::codes::TradeMode::parse("0200").unwrap();
    let left_out = stats::rows::rows_of(id.0, &state, &d, &dims, &rates()).unwrap();
    assert!(
        left_out.is_empty(),
        "0200 abandoned materials is outside trade statistics"
    );
}

#[test]
fn a_bad_month_or_query_is_a_clear_error_in_both_languages() {
    for bad in [
        "2026-13",
        "2026/10",
        "26-10",
        "",
        "2026-1",
        "２０２６-10",
        "1850-01",
    ] {
        let e = stats::bulletin::parse_month(bad).unwrap_err();
        assert_eq!(e.code(), "bad_month", "{bad:?}");
        assert!(e.message_zh().contains("YYYY-MM") && e.message_en().contains("YYYY-MM"));
    }
    let dir = tempfile::tempdir().unwrap();
    let (ledger, _) = sample_ledger(&dir.path().join("ledger"));
    let wh = warehouse(&dir.path().join("wh"), &ledger);
    extract(&ledger, &wh);
    let err = |sql: &str| wh.query(sql, T, 100).unwrap_err();
    let e = err("SELEC hs2 FROM items");
    assert_eq!(e.code(), "bad_query", "{e}");
    assert!(e.message_zh().starts_with("查询语句有误"));
    assert_eq!(err("SELECT nope FROM items").code(), "bad_query");
    assert_eq!(err("SELECT * FROM no_such_table").code(), "bad_query");
    assert_eq!(err("").code(), "bad_query");
    assert_eq!(err("SELECT 1; SELECT 2").code(), "bad_query");
    for write in [
        "CREATE TABLE x AS SELECT 1",
        "DROP TABLE items",
        "INSERT INTO items SELECT * FROM items",
        "SET datafusion.execution.batch_size = 1",
    ] {
        let e = err(write);
        assert!(
            matches!(e, StatsError::NotReadOnly(_) | StatsError::BadQuery(_)),
            "{write}: {e}"
        );
        assert!(e.is_bad_input());
    }
    let e = err("SELECT a.run FROM items a, items b, items c");
    assert!(matches!(e, StatsError::TooManyRows(100)), "{e}");
    let slow = wh
        .query(
            "SELECT COUNT(*) FROM generate_series(1, 20000000000) a",
            Duration::from_millis(50),
            10,
        )
        .unwrap_err();
    assert_eq!(slow.code(), "query_timeout", "{slow}");
    assert!(slow.message_zh().contains("查询超时"));
    // The warehouse still answers after all that.
    assert!(scalar(&wh, "SELECT COUNT(*) FROM items") > 0);
}
