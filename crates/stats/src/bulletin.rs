//! The monthly bulletin as customs publishes it: for one month, the month and the year to date,
//! each beside the same period of the previous year and the growth on it, for exports, imports
//! and their total, in CNY and USD; by HS section and chapter, by partner country and region
//! group, by statistical trade mode, by customs district, by domestic region, by enterprise
//! type. Headings in Chinese and English; CSV ([`Bulletin::to_csv`]) and Excel
//! ([`Bulletin::to_xlsx`]).
//!
//! The warehouse answers three grouped statements ([`bulletin_queries`], plain SQL that DuckDB
//! runs unchanged in the benchmark), each grouping by one integer packing dimension keys, flow,
//! year and month; the lines, sections, region groups and totals are sums of those answers.

use std::collections::BTreeMap;
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};

use crate::dims::{section_of, Lookups, Names};
use crate::error::StatsError;
use crate::warehouse::Warehouse;

/// `YYYY-MM` → (year, month), 1990..=2199 and 01..=12.
pub fn parse_month(s: &str) -> Result<(i32, u32), StatsError> {
    let bad = || StatsError::BadMonth(s.to_owned());
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 || !y.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if !(1990..=2199).contains(&y) || !(1..=12).contains(&m) {
        return Err(bad());
    }
    Ok((y, m))
}

/// The base dimensions the warehouse groups by: (table key, key column of `items`, the code's
/// most characters; [`crate::schema::KEY_COLUMNS`]).
pub const BASE_DIMENSIONS: [(&str, &str, u32); 6] = [
    ("chapter", "hs2_key", 2),
    ("partner", "partner_key", 3),
    ("trade_mode", "stats_trade_mode_key", 2),
    ("district", "district_key", 4),
    ("region", "region_key", 2),
    ("enterprise_type", "enterprise_type_key", 1),
];

/// The statements of the bulletin, each grouping by the dimensions named together (indexes in
/// [`BASE_DIMENSIONS`]): chapter × district, partner, trade mode × region × enterprise type.
/// Dimensions of few codes are grouped together so that fewer statements read the values, each
/// hash table staying small (at most some tens of thousands of groups).
pub const STATEMENTS: [&[usize]; 3] = [&[0, 3], &[1], &[2, 4, 5]];

/// The bulletin's SQL for month `m` of year `y` (optionally as of batch `run_max`): per
/// [`STATEMENTS`], `SELECT k, cny, usd` where `k` packs the group's dimension keys, the flow,
/// the year (1 this year, 0 the previous) and the month into one integer
/// ([`unpack`] reverses it), and `cny`, `usd` are the sums of the values. Only the partitions of
/// the two years' months up to `m` are read.
pub fn bulletin_queries(y: i32, m: u32, run_max: Option<i64>) -> Vec<(&'static [usize], String)> {
    let p = y - 1;
    let run = run_max
        .map(|r| format!(" AND run <= {r}"))
        .unwrap_or_default();
    STATEMENTS
        .iter()
        .map(|dims| {
            let mut k = String::new();
            for (i, d) in dims.iter().enumerate() {
                let (_, col, len) = BASE_DIMENSIONS[*d];
                k = if i == 0 {
                    format!("CAST({col} AS BIGINT)")
                } else {
                    format!("({k}) * {} + {col}", crate::schema::key_bound(len))
                };
            }
            let k = format!("(({k}) * 2 + flow_key) * 32 + (year - {p}) * 16 + month");
            (
                *dims,
                format!(
                    "SELECT {k} AS k, SUM(value_cny_fen) AS cny, SUM(value_usd_cents) AS usd \
                     FROM items WHERE year IN ({y}, {p}) AND month <= {m}{run} GROUP BY {k}"
                ),
            )
        })
        .collect()
}

/// The same figures in the plainer form, for the benchmark's reference: one statement per base
/// dimension, grouping by its key column and `flow_key`, the four periods as `CASE` sums of each
/// value (small integer groups, which some engines aggregate in a plain array). Not used by the
/// bulletin; `jinguan stats bench` times both forms on both engines.
pub fn per_dimension_queries(y: i32, m: u32) -> Vec<String> {
    let p = y - 1;
    BASE_DIMENSIONS
        .iter()
        .map(|(_, col, _)| {
            let mut sums = String::new();
            for v in ["value_cny_fen", "value_usd_cents"] {
                for (name, cond) in [
                    ("m", format!("year = {y} AND month = {m}")),
                    ("y", format!("year = {y}")),
                    ("pm", format!("year = {p} AND month = {m}")),
                    ("py", format!("year = {p}")),
                ] {
                    sums.push_str(&format!(
                        ", SUM(CASE WHEN {cond} THEN {v} ELSE 0 END) AS {name}_{}",
                        &v[6..9]
                    ));
                }
            }
            format!(
                "SELECT {col} AS code, flow_key{sums} FROM items \
                 WHERE year IN ({y}, {p}) AND month <= {m} GROUP BY {col}, flow_key"
            )
        })
        .collect()
}

/// A packed key of [`bulletin_queries`] → (the dimensions' keys in the statement's order,
/// export, this year, month).
pub fn unpack(dims: &[usize], k: i64) -> (Vec<i64>, bool, bool, u32) {
    let month = (k % 16) as u32;
    let this_year = (k / 16) % 2 == 1;
    let export = (k / 32) % 2 == 1;
    let mut rest = k / 64;
    let mut keys = vec![0; dims.len()];
    for (i, d) in dims.iter().enumerate().rev() {
        if i == 0 {
            keys[0] = rest;
        } else {
            let b = crate::schema::key_bound(BASE_DIMENSIONS[*d].2);
            keys[i] = rest % b;
            rest /= b;
        }
    }
    (keys, export, this_year, month)
}

/// One period's four figures, in minor units (fen or cents).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub month: i64,
    pub ytd: i64,
    pub prev_month: i64,
    pub prev_ytd: i64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.month += o.month;
        self.ytd += o.ytd;
        self.prev_month += o.prev_month;
        self.prev_ytd += o.prev_ytd;
    }
}

/// Growth in percent on the same period of the previous year, one decimal; `None` from zero.
pub fn growth(cur: i64, prev: i64) -> Option<String> {
    if prev == 0 {
        return None;
    }
    // Exact: in tenths of a percent, half away from zero.
    let num = (i128::from(cur) - i128::from(prev)) * 1000;
    let den = i128::from(prev).abs();
    let q = (2 * num + num.signum() * den) / (2 * den);
    Some(format!(
        "{}{}.{}",
        if q < 0 { "-" } else { "" },
        q.abs() / 10,
        q.abs() % 10
    ))
}

/// One line of a table: a code, its names, and the figures of total, exports, imports in CNY
/// and USD.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// [total, export, import] in fen.
    pub cny: [Figures; 3],
    /// [total, export, import] in cents.
    pub usd: [Figures; 3],
}

impl Line {
    fn add_flow(&mut self, flow: usize, cny: &Figures, usd: &Figures) {
        self.cny[flow].add(cny);
        self.usd[flow].add(usd);
        self.cny[0].add(cny);
        self.usd[0].add(usd);
    }
    fn add(&mut self, o: &Line) {
        for i in 0..3 {
            self.cny[i].add(&o.cny[i]);
            self.usd[i].add(&o.usd[i]);
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub key: &'static str,
    pub title_zh: &'static str,
    pub title_en: &'static str,
    pub lines: Vec<Line>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bulletin {
    pub year: i32,
    pub month: u32,
    pub run_max: Option<i64>,
    pub tables: Vec<Table>,
}

const TITLES: [(&str, &str, &str); 9] = [
    ("total", "进出口总值", "Total trade"),
    ("section", "按商品类（HS 类）", "By HS section"),
    ("chapter", "按商品章（HS 章）", "By HS chapter"),
    (
        "partner",
        "按贸易伙伴（国别/地区）",
        "By partner country or region",
    ),
    (
        "partner_group",
        "按区域组织和洲别",
        "By region group and continent",
    ),
    ("trade_mode", "按贸易方式", "By trade mode"),
    ("district", "按海关关区", "By customs district"),
    ("region", "按境内地区", "By domestic region"),
    ("enterprise_type", "按企业性质", "By enterprise type"),
];

fn title(key: &str) -> (&'static str, &'static str, &'static str) {
    *TITLES.iter().find(|t| t.0 == key).expect("a known table")
}

/// The bulletin of `month` (`YYYY-MM`) from the warehouse, as of batch `run_max` when given.
pub fn bulletin(
    wh: &Warehouse,
    month: &str,
    run_max: Option<i64>,
    timeout: Duration,
) -> Result<Bulletin, StatsError> {
    let (y, m) = parse_month(month)?;
    let ctx = wh.session()?;
    let lookups = Lookups::new(wh.refdata());
    let mut base: BTreeMap<&str, BTreeMap<String, Line>> = BTreeMap::new();
    // Per dimension, key → code (decoded once per key).
    let mut codes: Vec<BTreeMap<i64, String>> = vec![BTreeMap::new(); BASE_DIMENSIONS.len()];
    for (dims, sql) in bulletin_queries(y, m, run_max) {
        let answer = wh.query_in(&ctx, &sql, timeout, usize::MAX)?;
        for b in &answer.batches {
            let cols = (0..3)
                .map(|i| cast(b.column(i), &DataType::Int64))
                .collect::<Result<Vec<_>, _>>()?;
            let val = |i: usize, row: usize| -> i64 {
                let a = cols[i].as_primitive::<Int64Type>();
                if a.is_null(row) {
                    0
                } else {
                    a.value(row)
                }
            };
            for row in 0..b.num_rows() {
                let (keys, export, this_year, month) = unpack(dims, val(0, row));
                let fig = |v: i64| {
                    let now = month == m;
                    if this_year {
                        Figures {
                            month: if now { v } else { 0 },
                            ytd: v,
                            ..Figures::default()
                        }
                    } else {
                        Figures {
                            prev_month: if now { v } else { 0 },
                            prev_ytd: v,
                            ..Figures::default()
                        }
                    }
                };
                let (cny, usd) = (fig(val(1, row)), fig(val(2, row)));
                let flow_i = if export { 1 } else { 2 };
                for (d, key) in dims.iter().zip(keys) {
                    let code = match codes[*d].get(&key) {
                        Some(c) => c.clone(),
                        None => {
                            let c = crate::schema::key_code(key).ok_or_else(|| {
                                StatsError::Corrupt(format!(
                                    "{} {key} is no code's key",
                                    BASE_DIMENSIONS[*d].1
                                ))
                            })?;
                            codes[*d].insert(key, c.clone());
                            c
                        }
                    };
                    base.entry(BASE_DIMENSIONS[*d].0)
                        .or_default()
                        .entry(code.clone())
                        .or_insert_with(|| Line {
                            code,
                            ..Line::default()
                        })
                        .add_flow(flow_i, &cny, &usd);
                }
            }
        }
    }
    let names_of = |names: &Names, code: &str| {
        names
            .get(code)
            .cloned()
            .unwrap_or_else(|| ("未列明".to_owned(), "Not listed".to_owned()))
    };
    let named = |key: &str, names: Option<&Names>| -> Vec<Line> {
        let mut v: Vec<Line> = base
            .get(key)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default();
        for l in &mut v {
            if let Some(n) = names {
                (l.name_zh, l.name_en) = names_of(n, &l.code);
            }
        }
        v
    };
    // Chapters, named by their section's name when the chapter has none of its own.
    let chapters = named("chapter", None);
    let mut sections: BTreeMap<i32, Line> = BTreeMap::new();
    let mut total = Line {
        code: "TOTAL".to_owned(),
        name_zh: "总值".to_owned(),
        name_en: "Total".to_owned(),
        ..Line::default()
    };
    let mut chapter_lines = Vec::new();
    for mut c in chapters {
        total.add(&c);
        let sec = section_of(&c.code, &lookups.sections).unwrap_or(22);
        let s = lookups.sections.iter().find(|s| s.section == sec);
        let entry = sections.entry(sec).or_insert_with(|| Line {
            code: s.map(|s| s.roman.clone()).unwrap_or_default(),
            name_zh: s.map(|s| s.name_zh.clone()).unwrap_or_default(),
            name_en: s.map(|s| s.name_en.clone()).unwrap_or_default(),
            ..Line::default()
        });
        entry.add(&c);
        c.name_zh = format!("第{}章", c.code);
        c.name_en = format!("Chapter {}", c.code);
        chapter_lines.push(c);
    }
    let partners = named("partner", Some(&lookups.countries));
    let mut groups = Vec::new();
    for g in &lookups.groups {
        let mut line = Line {
            code: g.group.clone(),
            name_zh: g.name_zh.clone(),
            name_en: g.name_en.clone(),
            ..Line::default()
        };
        for p in partners.iter().filter(|p| g.members.contains(&p.code)) {
            line.add(p);
        }
        groups.push(line);
    }
    let mut tables = Vec::new();
    let mut push = |key: &'static str, mut lines: Vec<Line>, sort: bool| {
        if sort {
            // Largest year-to-date total first, as bulletins list them.
            lines.sort_by(|a, b| b.usd[0].ytd.cmp(&a.usd[0].ytd).then(a.code.cmp(&b.code)));
        }
        let (_, zh, en) = title(key);
        tables.push(Table {
            key,
            title_zh: zh,
            title_en: en,
            lines,
        });
    };
    push("total", vec![total], false);
    push("section", sections.into_values().collect(), false);
    push("chapter", chapter_lines, false);
    push("partner", partners, true);
    push("partner_group", groups, false);
    push(
        "trade_mode",
        named("trade_mode", Some(&lookups.stats_trade_modes)),
        false,
    );
    push(
        "district",
        named("district", Some(&lookups.districts)),
        true,
    );
    push("region", named("region", Some(&lookups.regions)), true);
    push(
        "enterprise_type",
        named("enterprise_type", Some(&lookups.enterprise_types)),
        false,
    );
    Ok(Bulletin {
        year: y,
        month: m,
        run_max,
        tables,
    })
}

/// Minor units as a decimal with two places (`-12345` → `-123.45`).
pub fn money(minor: i64) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let a = minor.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// The column headings after code and names: (zh, en).
pub fn headings() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (cur_zh, cur_en) in [("人民币元", "CNY"), ("美元", "USD")] {
        for (flow_zh, flow_en) in [
            ("进出口", "Total"),
            ("出口", "Exports"),
            ("进口", "Imports"),
        ] {
            out.push((
                format!("{flow_zh}当月（{cur_zh}）"),
                format!("{flow_en}, month ({cur_en})"),
            ));
            out.push((
                format!("{flow_zh}累计（{cur_zh}）"),
                format!("{flow_en}, year to date ({cur_en})"),
            ));
            out.push((
                format!("{flow_zh}当月同比%（{cur_zh}）"),
                format!("{flow_en}, month growth % ({cur_en})"),
            ));
            out.push((
                format!("{flow_zh}累计同比%（{cur_zh}）"),
                format!("{flow_en}, year-to-date growth % ({cur_en})"),
            ));
        }
    }
    out
}

impl Line {
    /// The figures after code and names, as text, in [`headings`]' order.
    pub fn cells(&self) -> Vec<String> {
        let mut out = Vec::new();
        for figs in [&self.cny, &self.usd] {
            for f in figs {
                out.push(money(f.month));
                out.push(money(f.ytd));
                out.push(growth(f.month, f.prev_month).unwrap_or_default());
                out.push(growth(f.ytd, f.prev_ytd).unwrap_or_default());
            }
        }
        out
    }
}

impl Bulletin {
    pub fn label(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    pub fn table(&self, key: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.key == key)
    }

    /// One CSV: a heading row (`中文 / English`), then every table's lines, the table's key in
    /// the first column.
    pub fn to_csv(&self) -> Result<Vec<u8>, StatsError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut head = vec![
            "表 / table".to_owned(),
            "代码 / code".to_owned(),
            "名称 / name (zh)".to_owned(),
            "名称 / name (en)".to_owned(),
        ];
        head.extend(
            headings()
                .into_iter()
                .map(|(zh, en)| format!("{zh} / {en}")),
        );
        w.write_record(&head).map_err(csv_err)?;
        for t in &self.tables {
            for l in &t.lines {
                let mut rec = vec![
                    t.key.to_owned(),
                    l.code.clone(),
                    l.name_zh.clone(),
                    l.name_en.clone(),
                ];
                rec.extend(l.cells());
                w.write_record(&rec).map_err(csv_err)?;
            }
        }
        w.into_inner()
            .map_err(|e| StatsError::Engine(e.to_string()))
    }

    /// An Excel workbook: one sheet per table, the title and both languages' headings on top.
    pub fn to_xlsx(&self) -> Result<Vec<u8>, StatsError> {
        use rust_xlsxwriter::{Format, Workbook};
        let x = |e: rust_xlsxwriter::XlsxError| StatsError::Engine(e.to_string());
        let mut book = Workbook::new();
        let bold = Format::new().set_bold();
        let amount = Format::new().set_num_format("#,##0.00");
        let heads = headings();
        for (i, t) in self.tables.iter().enumerate() {
            let sheet = book.add_worksheet();
            sheet
                .set_name(format!("{:02} {}", i + 1, t.key))
                .map_err(x)?;
            sheet
                .write_string_with_format(
                    0,
                    0,
                    format!(
                        "{}年{}月 海关统计 {} / Customs statistics, {}: {}",
                        self.year,
                        self.month,
                        t.title_zh,
                        self.label(),
                        t.title_en
                    ),
                    &bold,
                )
                .map_err(x)?;
            let fixed = [
                ("代码", "Code"),
                ("名称", "Name"),
                ("名称（英文）", "Name (English)"),
            ];
            for (c, (zh, en)) in fixed
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .chain(heads.iter().cloned())
                .enumerate()
            {
                sheet
                    .write_string_with_format(1, c as u16, zh, &bold)
                    .map_err(x)?;
                sheet
                    .write_string_with_format(2, c as u16, en, &bold)
                    .map_err(x)?;
            }
            for (r, l) in t.lines.iter().enumerate() {
                let row = 3 + r as u32;
                sheet.write_string(row, 0, &l.code).map_err(x)?;
                sheet.write_string(row, 1, &l.name_zh).map_err(x)?;
                sheet.write_string(row, 2, &l.name_en).map_err(x)?;
                for (c, cell) in l.cells().iter().enumerate() {
                    let col = 3 + c as u16;
                    if cell.is_empty() {
                        continue;
                    }
                    // Excel holds numbers as doubles: a display copy of the exact CSV text.
                    let v: f64 = cell.parse().unwrap_or_default();
                    if c % 4 < 2 {
                        sheet
                            .write_number_with_format(row, col, v, &amount)
                            .map_err(x)?;
                    } else {
                        sheet.write_number(row, col, v).map_err(x)?;
                    }
                }
            }
            sheet.set_freeze_panes(3, 3).map_err(x)?;
        }
        book.save_to_buffer().map_err(x)
    }
}

fn csv_err(e: csv::Error) -> StatsError {
    StatsError::Engine(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_is_exact_to_a_tenth_rounded_half_away_from_zero() {
        assert_eq!(growth(110, 100).as_deref(), Some("10.0"));
        assert_eq!(growth(90, 100).as_deref(), Some("-10.0"));
        assert_eq!(growth(10_005, 10_000).as_deref(), Some("0.1")); // 0.05 % → 0.1
        assert_eq!(growth(9_995, 10_000).as_deref(), Some("-0.1")); // -0.05 % → -0.1
        assert_eq!(growth(99_995, 100_000).as_deref(), Some("0.0")); // -0.005 %
        assert_eq!(growth(5, 0), None);
        assert_eq!(growth(-50, -100).as_deref(), Some("50.0"));
        assert_eq!(money(-12_345), "-123.45");
        assert_eq!(money(7), "0.07");
    }

    #[test]
    fn months_parse_strictly() {
        assert_eq!(parse_month("2026-10").unwrap(), (2026, 10));
        for bad in [
            "2026-00",
            "2026-13",
            "2026-1",
            "202610",
            "2026-10-01",
            " -10",
        ] {
            assert!(parse_month(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_queries_read_only_the_two_years_up_to_the_month() {
        let q = bulletin_queries(2026, 10, Some(7));
        assert_eq!(q.len(), STATEMENTS.len());
        let mut seen: Vec<usize> = q.iter().flat_map(|(d, _)| d.iter().copied()).collect();
        seen.sort();
        assert_eq!(seen, (0..BASE_DIMENSIONS.len()).collect::<Vec<_>>());
        for (_, sql) in &q {
            assert!(
                sql.contains("WHERE year IN (2026, 2025) AND month <= 10 AND run <= 7"),
                "{sql}"
            );
        }
    }

    #[test]
    fn packed_keys_come_apart() {
        use crate::schema::{code_key, key_bound};
        let dims = STATEMENTS[2];
        let keys: Vec<i64> = dims
            .iter()
            .zip(["34", "44", "6"])
            .map(|(d, c)| code_key(c, BASE_DIMENSIONS[*d].2).unwrap())
            .collect();
        // As the SQL packs it: the keys, then export, this year, month.
        let mut k = keys[0];
        for (d, key) in dims.iter().zip(&keys).skip(1) {
            k = k * key_bound(BASE_DIMENSIONS[*d].2) + key;
        }
        let k = ((k * 2 + 1) * 32) + 16 + 10;
        assert_eq!(unpack(dims, k), (keys, true, true, 10));
        assert!(!unpack(&[1], ((43_523 * 2) * 32) + 3).1, "an import");
    }
}
