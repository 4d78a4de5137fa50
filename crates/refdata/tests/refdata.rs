//! Black-box tests of the shipped tables, loading, import and lookup.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use domain::codes::{HsCode, LevyNature, OfficeCode, TradeMode, UnitCode};
use domain::reference::{CodeTable, ConsumptionTaxRate, DutyRate, OfficeLevel, Reference};
use refdata::{import, ImportError, RefData, Table, TableError};
use rust_decimal::Decimal;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn shipped() -> RefData {
    RefData::embedded().unwrap_or_else(|e| panic!("shipped data must load: {e}"))
}

fn office(s: &str) -> OfficeCode {
    OfficeCode::parse(s).unwrap()
}

fn hs(s: &str) -> HsCode {
    HsCode::parse(s).unwrap()
}

#[test]
fn shipped_tables_load_and_every_table_has_rows() {
    let data = shipped();
    for table in Table::ALL {
        if !table.may_be_empty() {
            assert!(data.row_count(table) > 0, "{table} is empty");
        }
        assert_eq!(Table::from_name(table.name()), Some(table));
    }
    // No origin is listed for the general rate by default: the list is a decision of the
    // Tariff Commission, imported when there is one, never guessed.
    assert_eq!(data.row_count(Table::GeneralRateOrigins), 0);
    assert_eq!(data.row_count(Table::Offices), 91);
}

#[test]
fn shipped_offices_form_a_three_tier_tree() {
    let data = shipped();
    let hq = data.office(OfficeCode::HQ).expect("HQ 0000");
    assert_eq!((hq.level, hq.parent), (OfficeLevel::Hq, None));
    for o in data.offices() {
        match o.level {
            OfficeLevel::Hq => assert_eq!(o.code, OfficeCode::HQ),
            OfficeLevel::Direct => assert_eq!(o.parent, Some(OfficeCode::HQ), "{}", o.code),
            OfficeLevel::Subordinate => {
                let parent = data
                    .office(o.parent.expect("subordinate has a parent"))
                    .expect("parent exists");
                assert_eq!(parent.level, OfficeLevel::Direct, "{}", o.code);
            }
        }
    }
    assert_eq!(
        data.office(office("0101")).unwrap().parent,
        Some(office("0100"))
    );
    assert!(data.office_within(office("0101"), office("0100")));
    assert!(data.office_within(office("5301"), OfficeCode::HQ));
    assert!(!data.office_within(office("5301"), office("0100")));
}

#[test]
fn shipped_countries_and_currencies_translate_legacy_codes() {
    let data = shipped();
    assert_eq!(data.country("142").unwrap().as_str(), "CHN");
    assert_eq!(data.country("502").unwrap().as_str(), "USA");
    assert_eq!(data.country("USA").unwrap().as_str(), "USA");
    assert_eq!(data.country("sgp").unwrap().as_str(), "SGP");
    assert_eq!(data.country("344").unwrap().as_str(), "RUS");
    assert!(data.country("000").is_none());
    assert!(data.country("QQQ").is_none());
    for (legacy, alpha) in [
        ("142", "CNY"),
        ("502", "USD"),
        ("300", "EUR"),
        ("110", "HKD"),
        ("116", "JPY"),
        ("344", "RUB"),
    ] {
        assert_eq!(data.currency(legacy).unwrap().as_str(), alpha);
        assert_eq!(data.currency(alpha).unwrap().as_str(), alpha);
    }
    let alphas: BTreeSet<_> = data.countries().iter().map(|c| c.alpha3).collect();
    assert_eq!(
        alphas.len(),
        data.countries().len(),
        "alpha-3 codes are unique"
    );
}

#[test]
fn shipped_code_tables_answer_contains() {
    let data = shipped();
    assert!(data.contains(CodeTable::Unit, "035"));
    assert!(data.contains(CodeTable::Unit, "095"));
    assert!(!data.contains(CodeTable::Unit, "999"));
    assert!(!data.contains(CodeTable::Unit, "35"));
    assert!(data.contains(CodeTable::LevyNature, "101"));
    assert!(data.contains(CodeTable::DutyTreatment, "1"));
    assert!(data.contains(CodeTable::DutyTreatment, "3"));
    assert!(data.contains(CodeTable::TransportMode, "2"));
    assert!(data.contains(CodeTable::TransportMode, "L"));
    assert!(data.contains(CodeTable::PackageType, "22"));
    assert!(!data.contains(CodeTable::PackageType, "2"));
}

#[test]
fn shipped_trade_modes_map_to_statistics() {
    let data = shipped();
    let general = data.trade_mode(TradeMode::GENERAL_TRADE).unwrap();
    assert_eq!(general.stats_code.as_deref(), Some("10"));
    assert!(general
        .levy_natures
        .contains(&LevyNature::parse("101").unwrap()));
    for code in ["9610", "9710", "9810", "1210"] {
        let m = data.trade_mode(TradeMode::parse(code).unwrap()).unwrap();
        assert_eq!(m.stats_code.as_deref(), Some("10"), "{code}");
    }
    let waiver = data.trade_mode(TradeMode::parse("0200").unwrap()).unwrap();
    assert_eq!(waiver.stats_code, None);
    let processing = data.trade_mode(TradeMode::parse("0615").unwrap()).unwrap();
    assert_eq!(
        processing.levy_natures,
        vec![LevyNature::parse("503").unwrap()]
    );
}

#[test]
fn shipped_tariff_is_broad_and_consistent() {
    let data = shipped();
    let lines: Vec<_> = data.tariff_lines().collect();
    assert!(lines.len() >= 200, "{} lines", lines.len());
    let chapters: BTreeSet<_> = lines
        .iter()
        .map(|l| l.commodity_code.chapter().to_string())
        .collect();
    assert!(chapters.len() >= 40, "{} chapters", chapters.len());
    for l in &lines {
        assert!(
            data.contains(CodeTable::Unit, l.first_unit.as_str()),
            "{}",
            l.commodity_code
        );
        if let Some(u) = l.second_unit {
            assert!(
                data.contains(CodeTable::Unit, u.as_str()),
                "{}",
                l.commodity_code
            );
        }
        if let Some(p) = &l.provisional {
            assert!(
                p.ad_valorem() <= l.mfn.ad_valorem(),
                "provisional above MFN on {}",
                l.commodity_code
            );
        }
    }
    assert!(
        lines.iter().any(|l| matches!(l.mfn, DutyRate::Specific(_))),
        "a specific duty"
    );
    assert!(
        lines
            .iter()
            .any(|l| matches!(l.mfn, DutyRate::Compound { .. })),
        "a compound duty"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.export_duty.is_some_and(|d| !d.is_zero())),
        "an export duty"
    );
    assert!(lines.iter().any(|l| l.licence.is_some()), "a licence");
    assert!(
        lines.iter().any(|l| l.provisional.is_some()),
        "a provisional rate"
    );
    assert!(
        lines.iter().any(|l| !l.agreements.is_empty()),
        "an agreement rate"
    );
    assert!(lines
        .iter()
        .any(|l| matches!(l.consumption_tax, Some(ConsumptionTaxRate::Tiered { .. }))));
}

#[test]
fn tariff_line_is_chosen_by_date() {
    let data = shipped();
    let whisky = hs("2208300000");
    let old = data.tariff_line(whisky, date("2024-12-31")).unwrap();
    let new = data.tariff_line(whisky, date("2025-01-01")).unwrap();
    assert_eq!(old.mfn.to_string(), "10%");
    assert_eq!(new.mfn.to_string(), "5%");
    assert!(data.tariff_line(whisky, date("2019-12-31")).is_none());
    assert_eq!(data.tariff_versions(whisky).len(), 2);
    let laptop = data
        .tariff_line(hs("8471300000"), date("2025-06-30"))
        .unwrap();
    assert_eq!(laptop.first_unit, UnitCode::parse("001").unwrap());
    assert_eq!(laptop.vat_rate.to_string(), "0.13");
    assert!(data
        .tariff_line(hs("0000000000"), date("2025-06-30"))
        .is_none());
}

#[test]
fn load_without_imports_equals_embedded() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = RefData::load(Some(dir.path())).unwrap();
    assert_eq!(
        loaded.row_count(Table::Tariff),
        shipped().row_count(Table::Tariff)
    );
    let none = RefData::load(None).unwrap();
    assert_eq!(none.row_count(Table::Offices), 91);
}

#[test]
fn import_good_offices_then_load_sees_them() {
    let dir = tempfile::tempdir().unwrap();
    let report = import(dir.path(), "offices", &fixture("offices_good.csv")).unwrap();
    assert_eq!(report.table, Table::Offices);
    assert_eq!(report.rows, 6);
    assert!(!report.replaced_import);
    assert_eq!(report.path, dir.path().join("refdata/offices.csv"));
    let data = RefData::load(Some(dir.path())).unwrap();
    assert_eq!(data.row_count(Table::Offices), 6);
    assert_eq!(
        data.office(office("2201")).unwrap().name_en,
        "Pujiang Customs (test)"
    );
    assert!(
        data.office(office("5300")).is_none(),
        "the imported table replaces the shipped one"
    );
    // Other tables are still the shipped ones.
    assert!(data.row_count(Table::Tariff) >= 200);
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(dir.path().join("refdata"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("offices.csv")]);
    let again = import(dir.path(), "offices", &fixture("offices_good.csv")).unwrap();
    assert!(again.replaced_import);
}

#[test]
fn import_bad_offices_reports_every_row_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), "offices", &fixture("offices_good.csv")).unwrap();
    let before = fs::read(dir.path().join("refdata/offices.csv")).unwrap();

    let err = import(dir.path(), "offices", &fixture("offices_bad.csv")).unwrap_err();
    let lines: BTreeSet<u64> = err.problems().iter().map(|p| p.line).collect();
    assert_eq!(lines, BTreeSet::from([4, 5, 6, 7, 8]), "{err}");
    let fields: Vec<(u64, &str)> = err
        .problems()
        .iter()
        .map(|p| (p.line, p.field.as_str()))
        .collect();
    assert!(fields.contains(&(4, "code")));
    assert!(fields.contains(&(5, "parent")));
    assert!(fields.contains(&(6, "level")));
    assert!(fields.contains(&(7, "code")));
    assert!(fields.contains(&(8, "code")));
    assert!(err.to_string().contains("line 5, parent"), "{err}");

    assert_eq!(
        fs::read(dir.path().join("refdata/offices.csv")).unwrap(),
        before,
        "previous table untouched"
    );
    assert_eq!(
        RefData::load(Some(dir.path()))
            .unwrap()
            .row_count(Table::Offices),
        6
    );
}

#[test]
fn import_bad_tariff_reports_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let err = import(dir.path(), "tariff", &fixture("tariff_bad.csv")).unwrap_err();
    let found: BTreeSet<(u64, &str)> = err
        .problems()
        .iter()
        .map(|p| (p.line, p.field.as_str()))
        .collect();
    let expected = BTreeSet::from([
        (3, "commodity_code"),
        (4, "first_unit"),
        (6, "valid_from"),
        (7, "mfn"),
        (8, "agreements"),
        (9, "valid_from"),
        (10, "mfn"),
    ]);
    assert_eq!(found, expected, "{err}");
    assert!(!dir.path().join("refdata/tariff.csv").exists());
}

#[test]
fn import_good_tariff_then_dates_choose_versions() {
    let dir = tempfile::tempdir().unwrap();
    let report = import(dir.path(), "tariff", &fixture("tariff_good.csv")).unwrap();
    assert_eq!(report.rows, 4);
    let data = RefData::load(Some(dir.path())).unwrap();
    assert_eq!(data.row_count(Table::Tariff), 4);
    let whisky = data
        .tariff_line(hs("2208300000"), date("2025-02-01"))
        .unwrap();
    assert_eq!(whisky.agreements.len(), 2);
    assert_eq!(whisky.agreements[1].rate.to_string(), "3.5%");
    assert!(data
        .tariff_line(hs("0207142100"), date("2025-02-01"))
        .is_none());
}

#[test]
fn import_that_would_break_the_tariff_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let units = dir.path().join("units.csv");
    fs::write(
        &units,
        "code,name_zh,name_en\n035,千克,kilogram\n001,台,set\n",
    )
    .unwrap();
    match import(dir.path(), "units", &units).unwrap_err() {
        ImportError::BreaksDependent {
            table: Table::Units,
            dependent,
            ..
        } => {
            assert!(matches!(dependent, Table::Tariff), "{dependent}")
        }
        other => panic!("{other}"),
    }
    assert!(!dir.path().join("refdata/units.csv").exists());
}

fn import_bytes(bytes: &[u8], table: &str) -> ImportError {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("input.csv");
    fs::write(&file, bytes).unwrap();
    let err = import(dir.path(), table, &file).unwrap_err();
    assert!(!dir.path().join("refdata").exists(), "nothing written");
    err
}

fn table_error(err: ImportError) -> TableError {
    match err {
        ImportError::Invalid { error, .. } => error,
        other => panic!("expected Invalid, got {other}"),
    }
}

#[test]
fn garbage_and_empty_files_are_errors_not_panics() {
    assert_eq!(table_error(import_bytes(b"", "units")), TableError::Empty);
    assert_eq!(
        table_error(import_bytes(b"  \n\n", "units")),
        TableError::Empty
    );
    assert_eq!(
        table_error(import_bytes(b"code,name_zh,name_en\n", "units")),
        TableError::Empty
    );
    // GBK bytes for 千克 on line 2.
    let gbk = b"code,name_zh,name_en\n035,\xc7\xa7\xbf\xcb,kilogram\n";
    assert_eq!(
        table_error(import_bytes(gbk, "units")),
        TableError::NotUtf8 { line: 2 }
    );
    let mut rng = domain::rng::Rng::new(2654435761);
    let garbage: Vec<u8> = (0..4096).map(|_| rng.byte()).collect();
    let _ = import_bytes(&garbage, "tariff");
    let _ = import_bytes(b"\"unterminated,quote\n1,2", "offices");
    let err = import_bytes(
        b"code,name_zh,name_en\n035,\xe5\x8d\x83\xe5\x85\x8b,kg,extra\n",
        "units",
    );
    assert_eq!(table_error(err).problems()[0].line, 2);
}

#[test]
fn wrong_columns_are_named() {
    let err = table_error(import_bytes(
        b"code,name,name_en,colour\n035,kg,kg,red\n",
        "units",
    ));
    match err {
        TableError::Columns(c) => {
            assert_eq!(c.missing, vec!["name_zh"]);
            assert_eq!(c.unknown, vec!["name", "colour"]);
        }
        other => panic!("{other}"),
    }
}

#[test]
fn unknown_table_and_missing_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        import(dir.path(), "planets", &fixture("offices_good.csv")),
        Err(ImportError::UnknownTable(_))
    ));
    assert!(matches!(
        import(dir.path(), "offices", &dir.path().join("nope.csv")),
        Err(ImportError::Read { .. })
    ));
}

#[test]
fn oversized_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.csv");
    let f = fs::File::create(&file).unwrap();
    f.set_len(refdata::MAX_FILE_BYTES + 10).unwrap();
    let err = import(dir.path(), "units", &file).unwrap_err();
    assert!(matches!(table_error(err), TableError::TooLarge { .. }));
}

#[test]
fn lookup_matches_codes_and_names_ignoring_case() {
    let data = shipped();
    let rows = data.lookup(Table::Countries, Some("chn"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].code, "CHN");
    assert_eq!(data.lookup(Table::Countries, Some("142"))[0].code, "CHN");
    assert!(data
        .lookup(Table::Countries, Some("singapore"))
        .iter()
        .any(|r| r.code == "SGP"));
    assert!(data
        .lookup(Table::Offices, Some("深圳"))
        .iter()
        .any(|r| r.code == "5300"));
    let laptops = data.lookup(Table::Tariff, Some("847130"));
    assert_eq!(laptops.len(), 1);
    assert!(laptops[0].to_string().starts_with("8471300000\t"));
    assert!(data.lookup(Table::Tariff, Some("8471")).len() >= 4);
    assert_eq!(
        data.lookup(Table::Units, None).len(),
        data.row_count(Table::Units)
    );
    assert_eq!(
        data.lookup(Table::Units, Some("  ")).len(),
        data.row_count(Table::Units)
    );
    assert!(data
        .lookup(Table::Currencies, Some("dollar"))
        .iter()
        .any(|r| r.code == "USD"));
    assert!(data.lookup(Table::Provinces, Some("xyzzy")).is_empty());
}

/// Customs Tariff Law art. 12 (Import and Export Duties Regulations art. 10): goods from origins
/// with no MFN, agreement or special preferential treatment take the general rate. The list is
/// dated reference data: imported, in force by date, and a bad file changes nothing.
#[test]
fn general_rate_origins_are_dated_importable_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    fs::write(
        &good,
        "origin,valid_from,valid_to,source\nPRK,2020-01-01,2020-12-31,test decision 1\nPRK,2022-01-01,,test decision 2\n",
    )
    .unwrap();
    let report = import(dir.path(), "general_rate_origins", &good).unwrap();
    assert_eq!(report.rows, 2);
    let data = RefData::load(Some(dir.path())).unwrap();
    let prk = domain::codes::CountryCode::parse("PRK").unwrap();
    assert!(data.general_rate_origin(prk, date("2020-06-01")));
    assert!(!data.general_rate_origin(prk, date("2021-06-01")));
    assert!(data.general_rate_origin(prk, date("2030-01-01")));
    assert!(!shipped().general_rate_origin(prk, date("2020-06-01")));

    let before = fs::read(dir.path().join("refdata/general_rate_origins.csv")).unwrap();
    let bad = dir.path().join("bad.csv");
    fs::write(
        &bad,
        "origin,valid_from,valid_to,source\nQQQ,2020-01-01,,x\nUSA,2020-01-01,2019-01-01,x\nJPN,2020-01-01,,\nKOR,2020-01-01,2020-12-31,x\nKOR,2020-06-01,,x\n",
    )
    .unwrap();
    let err = import(dir.path(), "general_rate_origins", &bad).unwrap_err();
    let found: BTreeSet<(u64, &str)> = err
        .problems()
        .iter()
        .map(|p| (p.line, p.field.as_str()))
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([
            (2, "origin"),
            (3, "valid_to"),
            (4, "source"),
            (6, "valid_from")
        ]),
        "{err}"
    );
    assert_eq!(
        fs::read(dir.path().join("refdata/general_rate_origins.csv")).unwrap(),
        before,
        "a failed import changes nothing"
    );
}

/// Issue 21 item 6: the tax engine's tables (trade remedies, the calendar) are importable; every
/// row is checked first and a failed import changes nothing; an imported calendar must state
/// what it covers.
#[test]
fn tax_tables_import_atomically() {
    use refdata::tax_tables::{import, load_calendar, load_trade_remedies, TaxTable};
    let dir = tempfile::tempdir().unwrap();
    assert!(load_trade_remedies(dir.path()).unwrap().is_none());
    let good = dir.path().join("remedies.csv");
    fs::write(
        &good,
        "code_prefix,origin,producer,kind,rate,valid_from,valid_to\n8471,USA,*,safeguard,10%,2025-01-01,2025-12-31\n",
    )
    .unwrap();
    let (_, rows) = import(dir.path(), TaxTable::TradeRemedies, &good).unwrap();
    assert_eq!(rows, 1);
    let before = fs::read(TaxTable::TradeRemedies.path(dir.path())).unwrap();
    let bad = dir.path().join("bad.csv");
    fs::write(
        &bad,
        "code_prefix,origin,producer,kind,rate,valid_from,valid_to\n8471,USA,*,quota,10%,2025-01-01,\n",
    )
    .unwrap();
    assert!(import(dir.path(), TaxTable::TradeRemedies, &bad).is_err());
    assert_eq!(
        fs::read(TaxTable::TradeRemedies.path(dir.path())).unwrap(),
        before,
        "a failed import changes nothing"
    );
    assert_eq!(load_trade_remedies(dir.path()).unwrap().unwrap().len(), 1);

    let no_coverage = dir.path().join("cal.csv");
    fs::write(&no_coverage, "date,kind,name\n2030-01-01,statutory,元旦\n").unwrap();
    let err = import(dir.path(), TaxTable::Calendar, &no_coverage).unwrap_err();
    assert!(err.to_string().contains("coverage"), "{err}");
    assert!(load_calendar(dir.path()).unwrap().is_none());
    let cal = dir.path().join("cal2.csv");
    fs::write(
        &cal,
        "date,kind,name\n2030-01-01,covers_statutory,2030-12-31\n2030-01-01,covers_arrangements,2030-12-31\n2030-01-01,statutory,元旦\n",
    )
    .unwrap();
    import(dir.path(), TaxTable::Calendar, &cal).unwrap();
    let c = load_calendar(dir.path()).unwrap().unwrap();
    assert!(c.is_statutory_holiday(date("2030-01-01")));
    assert!(c.covers_statutory(date("2030-06-01")) && !c.covers_statutory(date("2029-12-31")));
}

/// The shipped tariff-quota sample (data/README.md "Tariff quotas"): the seven commodities of
/// China's tariff quotas (wheat, maize, rice, sugar, wool, wool tops, cotton), each row's
/// out-of-quota rate the shipped tariff line's MFN rate (Import and Export Duties Regulations
/// art. 11: beyond the quota the rates of arts. 10 and 11 apply), no provisional rate on the
/// line that would undercut the quota for goods without a certificate (cotton's sliding duty is
/// not modelled, docs/TAX.md), counted in kilograms.
#[test]
fn shipped_tariff_quotas_agree_with_the_shipped_tariff() {
    use domain::reference::QuotaCommodity;
    let data = shipped();
    let on = date("2025-06-01");
    let mut seen = BTreeSet::new();
    for q in data.tariff_quotas() {
        let line = data
            .tariff_line(q.commodity_code, on)
            .unwrap_or_else(|| panic!("{} has no tariff line", q.commodity_code));
        assert_eq!(line.mfn, q.out_of_quota, "{}", q.commodity_code);
        assert_eq!(line.provisional, None, "{}", q.commodity_code);
        assert_eq!(line.first_unit, UnitCode::parse("035").unwrap());
        assert_eq!(data.tariff_quota(q.commodity_code, on), Some(q));
        seen.insert(q.commodity);
    }
    assert_eq!(
        seen,
        QuotaCommodity::ALL.into_iter().collect::<BTreeSet<_>>()
    );
    let wheat = data.tariff_quota(hs("1001990000"), on).unwrap();
    assert_eq!(wheat.in_quota, "1%".parse().unwrap());
    assert_eq!(wheat.commodity.agency(), "NDRC");
    assert_eq!(
        data.tariff_quota(hs("1701140000"), on)
            .unwrap()
            .commodity
            .agency(),
        "COMMERCE"
    );
    assert!(data.tariff_quota(hs("8471300000"), on).is_none());
    assert!(data
        .tariff_quota(hs("1001990000"), date("2024-12-31"))
        .is_none());
}

/// Issue 21 item 6: the tariff-quota rates are importable, dated (valid_from/valid_to), in force
/// by date, and a file with any bad row changes nothing.
#[test]
fn tariff_quotas_are_dated_importable_and_a_failed_import_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let header = "commodity_code,commodity,in_quota_rate,out_of_quota_rate,valid_from,valid_to,source,verified\n";
    let good = dir.path().join("good.csv");
    fs::write(
        &good,
        format!("{header}1001990000,wheat,2%,65%,2026-01-01,2026-12-31,test notice 1,yes\n1001990000,wheat,0.5%,65%,2027-01-01,,test notice 2,no\n"),
    )
    .unwrap();
    let report = import(dir.path(), "tariff_quotas", &good).unwrap();
    assert_eq!(report.rows, 2);
    let data = RefData::load(Some(dir.path())).unwrap();
    let wheat = hs("1001990000");
    assert_eq!(
        data.tariff_quota(wheat, date("2026-06-01"))
            .unwrap()
            .in_quota,
        "2%".parse().unwrap()
    );
    assert_eq!(
        data.tariff_quota(wheat, date("2030-06-01"))
            .unwrap()
            .in_quota,
        "0.5%".parse().unwrap()
    );
    assert!(data
        .tariff_quota(hs("1701140000"), date("2026-06-01"))
        .is_none());

    let path = dir.path().join("refdata/tariff_quotas.csv");
    let before = fs::read(&path).unwrap();
    let bad = dir.path().join("bad.csv");
    fs::write(
        &bad,
        format!("{header}1001990000,barley,1%,65%,2026-01-01,,x,no\n1005900010,maize,one,65%,2026-01-01,,x,no\n1006309000,rice,1%,65%,2026-01-01,2025-01-01,x,no\n1701140000,sugar,15%,50%,2026-01-01,,,maybe\n5201000000,cotton,1%,40%,2026-01-01,2026-12-31,x,no\n5201000000,cotton,1%,40%,2026-06-01,,x,no\n"),
    )
    .unwrap();
    let err = import(dir.path(), "tariff_quotas", &bad).unwrap_err();
    let found: BTreeSet<(u64, &str)> = err
        .problems()
        .iter()
        .map(|p| (p.line, p.field.as_str()))
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([
            (2, "commodity"),
            (3, "in_quota_rate"),
            (4, "valid_to"),
            (5, "source"),
            (5, "verified"),
            (7, "valid_from"),
        ]),
        "{err}"
    );
    assert_eq!(
        fs::read(&path).unwrap(),
        before,
        "a failed import changes nothing"
    );
    let data = RefData::load(Some(dir.path())).unwrap();
    assert_eq!(data.row_count(Table::TariffQuotas), 2);
}

/// Issue 21 item 9: the shipped excise rows checked against the consumption tax table as
/// data/README.md "Consumption tax rows" sources it: spirits 20 % + 0.5 yuan per 500 ml (1 yuan
/// a litre); 黄酒 240 yuan a tonne and beer 250 / 220 yuan a tonne at / below 3,000 yuan a
/// tonne, in litres at the implementing rules' 962 and 988 litres a tonne (art. 10); wine
/// (其他酒) 10 %; cigarettes 56 % / 36 % + 0.003 yuan a stick at 70 yuan a carton of 200.
#[test]
fn shipped_excise_rows_follow_the_consumption_tax_table() {
    let data = shipped();
    let on = date("2025-06-01");
    let ct = |code: &str| {
        data.tariff_line(hs(code), on)
            .unwrap()
            .consumption_tax
            .unwrap()
    };
    let per_litre =
        |yuan_per_tonne: i64, litres: i64| Decimal::from(yuan_per_tonne) / Decimal::from(litres);
    for spirit in [
        "2208200000",
        "2208300000",
        "2208400000",
        "2208500000",
        "2208600000",
        "2208909000",
    ] {
        assert_eq!(ct(spirit), "20%+1/095".parse().unwrap(), "{spirit}");
    }
    match ct("2206000010") {
        ConsumptionTaxRate::Flat(DutyRate::Specific(p)) => {
            assert_eq!(p.unit, UnitCode::parse("095").unwrap());
            assert_eq!(p.yuan, per_litre(240, 962));
        }
        other => panic!("黄酒 is specific: {other}"),
    }
    match ct("2203000000") {
        ConsumptionTaxRate::Tiered {
            threshold_yuan,
            at_or_above,
            below,
        } => {
            assert_eq!(threshold_yuan, per_litre(3000, 988));
            assert_eq!(at_or_above.specific().unwrap().yuan, per_litre(250, 988));
            assert_eq!(below.specific().unwrap().yuan, per_litre(220, 988));
            assert!(at_or_above.ad_valorem().is_zero() && below.ad_valorem().is_zero());
        }
        other => panic!("beer is tiered: {other}"),
    }
    assert_eq!(ct("2204210000"), "10%".parse().unwrap());
    assert_eq!(
        ct("2402200000"),
        "T>=350:56%+3/143|36%+3/143".parse().unwrap()
    );
}
