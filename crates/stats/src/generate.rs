//! Statistics rows at national scale, for benchmarks and demonstrations: [`generate`] writes
//! `rows` item rows over a span of months straight into a warehouse folder, with distributions
//! shaped like China's trade (the HS chapters, partners, trade modes, transport modes, customs
//! districts, regions and enterprise types that carry most of it; log-normal item values with a
//! mean near USD 90,000; exports about 57 % of value; a February trough and a year-end peak).
//! Seeded (`domain::rng`): the same arguments write the same rows.
//!
//! The weights are rough shares read off published customs statistics of recent years; they
//! make the groups' sizes realistic for a benchmark, they are not statistics.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, Date32Array, Decimal128Array, Int32Array, Int64Array, RecordBatch, StringArray,
};
use domain::rng::Rng;

use crate::error::StatsError;
use crate::schema::item_schema;
use crate::warehouse::{State, Warehouse, FORMAT};

/// Rows per file (one row group each at most 1 M rows).
pub const FILE_ROWS: usize = 1 << 20;

struct Weighted<T> {
    items: Vec<T>,
    cumulative: Vec<u64>,
}

impl<T: Clone> Weighted<T> {
    fn new(pairs: &[(T, u64)]) -> Weighted<T> {
        let mut total = 0;
        let mut cumulative = Vec::with_capacity(pairs.len());
        for (_, w) in pairs {
            total += w.max(&1);
            cumulative.push(total);
        }
        Weighted {
            items: pairs.iter().map(|(t, _)| t.clone()).collect(),
            cumulative,
        }
    }
    fn pick(&self, rng: &mut Rng) -> &T {
        let total = *self.cumulative.last().expect("weights are not empty");
        let x = rng.below(total);
        let i = self.cumulative.partition_point(|c| *c <= x);
        &self.items[i]
    }
}

/// Per mille shares of HS chapters in exports and imports; others share the rest evenly.
const EXPORT_CHAPTERS: [(&str, u64); 20] = [
    ("85", 240),
    ("84", 160),
    ("87", 45),
    ("94", 35),
    ("39", 35),
    ("95", 25),
    ("90", 30),
    ("73", 30),
    ("61", 25),
    ("62", 22),
    ("29", 25),
    ("64", 15),
    ("63", 15),
    ("72", 25),
    ("76", 12),
    ("40", 12),
    ("89", 12),
    ("42", 10),
    ("30", 6),
    ("27", 15),
];
const IMPORT_CHAPTERS: [(&str, u64); 20] = [
    ("85", 230),
    ("27", 180),
    ("26", 90),
    ("84", 90),
    ("90", 40),
    ("29", 30),
    ("12", 25),
    ("39", 30),
    ("87", 25),
    ("71", 35),
    ("74", 25),
    ("02", 10),
    ("03", 8),
    ("30", 12),
    ("44", 8),
    ("47", 8),
    ("28", 10),
    ("38", 12),
    ("15", 6),
    ("10", 6),
];
const EXPORT_PARTNERS: [(&str, u64); 24] = [
    ("USA", 145),
    ("HKG", 80),
    ("JPN", 45),
    ("KOR", 45),
    ("VNM", 45),
    ("IND", 35),
    ("RUS", 33),
    ("DEU", 30),
    ("NLD", 30),
    ("MYS", 25),
    ("GBR", 24),
    ("MEX", 24),
    ("THA", 22),
    ("SGP", 22),
    ("IDN", 22),
    ("AUS", 20),
    ("BRA", 18),
    ("ARE", 17),
    ("PHL", 17),
    ("FRA", 14),
    ("ITA", 13),
    ("SAU", 12),
    ("TUR", 12),
    ("CAN", 12),
];
const IMPORT_PARTNERS: [(&str, u64); 24] = [
    ("TWN", 80),
    ("KOR", 70),
    ("USA", 65),
    ("JPN", 65),
    ("AUS", 55),
    ("RUS", 50),
    ("BRA", 45),
    ("DEU", 40),
    ("MYS", 40),
    ("VNM", 35),
    ("SAU", 25),
    ("IDN", 28),
    ("THA", 20),
    ("CHL", 17),
    ("FRA", 12),
    ("IRQ", 15),
    ("CHE", 15),
    ("CAN", 12),
    ("SGP", 12),
    ("NZL", 10),
    ("ZAF", 10),
    ("ITA", 10),
    ("PER", 10),
    ("ARE", 10),
];
const TRADE_MODES: [(&str, &str, u64); 12] = [
    ("0110", "10", 640),
    ("0615", "15", 160),
    ("0214", "14", 40),
    ("1233", "33", 30),
    ("1234", "34", 45),
    ("1210", "10", 15),
    ("3010", "10", 20),
    ("0130", "30", 2),
    ("1523", "23", 5),
    ("2025", "25", 5),
    ("4019", "19", 15),
    ("0139", "39", 23),
];
const TRANSPORT: [(&str, u64); 7] = [
    ("2", 580),
    ("5", 170),
    ("4", 160),
    ("3", 55),
    ("6", 10),
    ("9", 15),
    ("G", 10),
];
const DISTRICTS: [(&str, u64); 20] = [
    ("2200", 190),
    ("5300", 150),
    ("5100", 55),
    ("5200", 50),
    ("3100", 60),
    ("4200", 55),
    ("0200", 45),
    ("3700", 35),
    ("2300", 35),
    ("2900", 30),
    ("0100", 45),
    ("0900", 25),
    ("5700", 15),
    ("3500", 15),
    ("8000", 12),
    ("7900", 15),
    ("7200", 12),
    ("4600", 15),
    ("4300", 12),
    ("9400", 10),
];
const REGIONS: [(&str, u64); 16] = [
    ("44", 200),
    ("32", 140),
    ("33", 130),
    ("31", 100),
    ("11", 90),
    ("37", 80),
    ("35", 50),
    ("12", 25),
    ("21", 20),
    ("50", 15),
    ("51", 20),
    ("41", 18),
    ("42", 15),
    ("34", 18),
    ("45", 15),
    ("65", 10),
];
const ENTERPRISE_TYPES: [(&str, u64); 7] = [
    ("6", 550),
    ("4", 240),
    ("1", 140),
    ("3", 35),
    ("2", 8),
    ("9", 20),
    ("5", 7),
];
const CURRENCIES: [(&str, u64); 6] = [
    ("USD", 800),
    ("EUR", 70),
    ("CNY", 60),
    ("JPY", 30),
    ("HKD", 25),
    ("AUD", 15),
];
/// Relative weight of each calendar month (Chinese New Year trough, year-end peak).
const SEASON: [u64; 12] = [96, 72, 98, 100, 102, 103, 106, 105, 104, 98, 103, 113];

/// Months from `from` to `to` inclusive, as (year, month).
pub fn months_between(from: (i32, u32), to: (i32, u32)) -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    let (mut y, mut m) = from;
    while (y, m) <= to {
        out.push((y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

struct Tables {
    export_chapters: Weighted<String>,
    import_chapters: Weighted<String>,
    export_partners: Weighted<String>,
    import_partners: Weighted<String>,
    modes: Weighted<(String, String)>,
    transport: Weighted<String>,
    districts: Weighted<String>,
    regions: Weighted<String>,
    etypes: Weighted<String>,
    currencies: Weighted<String>,
}

fn with_rest(
    top: &[(&str, u64)],
    rest: impl Iterator<Item = String>,
    rest_total: u64,
) -> Weighted<String> {
    let mut pairs: Vec<(String, u64)> = top
        .iter()
        .map(|(c, w)| (c.to_string(), *w * 1000))
        .collect();
    let others: Vec<String> = rest.filter(|c| !top.iter().any(|(t, _)| t == c)).collect();
    let each = if others.is_empty() {
        0
    } else {
        rest_total * 1000 / others.len() as u64
    };
    pairs.extend(others.into_iter().map(|c| (c, each.max(1))));
    Weighted::new(&pairs)
}

fn tables(refdata: &refdata::RefData) -> Tables {
    let chapters = || (1..=97).filter(|c| *c != 77).map(|c| format!("{c:02}"));
    let countries = || {
        refdata
            .countries()
            .iter()
            .map(|c| c.alpha3.as_str().to_owned())
            .filter(|c| c != "CHN")
            .collect::<Vec<_>>()
            .into_iter()
    };
    let plain = |v: &[(&str, u64)]| {
        Weighted::new(
            &v.iter()
                .map(|(c, w)| (c.to_string(), *w))
                .collect::<Vec<_>>(),
        )
    };
    Tables {
        export_chapters: with_rest(&EXPORT_CHAPTERS, chapters(), 190),
        import_chapters: with_rest(&IMPORT_CHAPTERS, chapters(), 140),
        export_partners: with_rest(&EXPORT_PARTNERS, countries(), 250),
        import_partners: with_rest(&IMPORT_PARTNERS, countries(), 220),
        modes: Weighted::new(
            &TRADE_MODES
                .iter()
                .map(|(m, s, w)| ((m.to_string(), s.to_string()), *w))
                .collect::<Vec<_>>(),
        ),
        transport: plain(&TRANSPORT),
        districts: plain(&DISTRICTS),
        regions: plain(&REGIONS),
        etypes: plain(&ENTERPRISE_TYPES),
        currencies: plain(&CURRENCIES),
    }
}

/// A standard normal draw (Box–Muller; the generator's only floats, never stored as money).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    (-2.0 * (u1.max(1e-300)).ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// One file's rows of month (y, m).
fn file_batch(
    t: &Tables,
    y: i32,
    m: u32,
    rows: usize,
    seed: u64,
    file: u64,
    first_id: i64,
) -> Result<RecordBatch, StatsError> {
    let mut rng = Rng::stream(seed, &format!("stats-{y}-{m}"), file);
    let days_in = (NaiveDate::from_ymd_opt(
        if m == 12 { y + 1 } else { y },
        if m == 12 { 1 } else { m + 1 },
        1,
    )
    .expect("a date")
        - NaiveDate::from_ymd_opt(y, m, 1).expect("a date"))
    .num_days() as u64;
    let first_day = (NaiveDate::from_ymd_opt(y, m, 1).expect("a date")
        - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date"))
    .num_days() as i32;
    // The month's USD rate in fen per dollar, drifting a little (7.05–7.35).
    let usd_fen_per_cent_x10000 = 71_000 + ((y as u64 * 12 + m as u64) * 37 % 3000) as i64;
    let mut c = Columns::with_capacity(rows);
    let mut decl_id = first_id;
    let mut item_no = 0;
    let mut items_left = 0;
    let mut decl = Header::default();
    for _ in 0..rows {
        if items_left == 0 {
            decl_id += 1;
            item_no = 0;
            items_left = 1
                + rng.below(5) as i32
                + if rng.chance_ppm(100_000) {
                    rng.below(20) as i32
                } else {
                    0
                };
            let export = rng.below(1000) < 540;
            let district = t.districts.pick(&mut rng).clone();
            let (mode, smode) = t.modes.pick(&mut rng).clone();
            decl = Header {
                export,
                declaration_no: format!(
                    "{district}{y:04}{}{:09}",
                    if export { 0 } else { 1 },
                    decl_id % 1_000_000_000
                ),
                trading: None,
                mode,
                smode,
                transport: t.transport.pick(&mut rng).clone(),
                district,
                region: t.regions.pick(&mut rng).clone(),
                etype: t.etypes.pick(&mut rng).clone(),
                currency: t.currencies.pick(&mut rng).clone(),
                day: first_day + rng.below(days_in) as i32,
            };
        }
        items_left -= 1;
        item_no += 1;
        let (chapters, partners) = if decl.export {
            (&t.export_chapters, &t.export_partners)
        } else {
            (&t.import_chapters, &t.import_partners)
        };
        let chapter = chapters.pick(&mut rng);
        let heading = 1 + (rng.below(20) * rng.below(20)) / 20;
        let sub = [10, 11, 19, 20, 30, 90][rng.below(6) as usize];
        let national = [0, 10, 90][rng.below(3) as usize];
        let hs = format!("{chapter}{heading:02}{sub:02}{national:02}00");
        let partner = partners.pick(&mut rng).clone();
        let trading = if decl.trading.is_none() && rng.chance_ppm(150_000) {
            if rng.below(2) == 0 {
                "HKG".to_owned()
            } else {
                "SGP".to_owned()
            }
        } else {
            decl.trading.clone().unwrap_or_else(|| partner.clone())
        };
        // Log-normal value, median USD 8,000, sigma 2.2 (mean near USD 90,000).
        let usd_cents = ((13.59 + 2.2 * normal(&mut rng)).exp()).clamp(100.0, 5e12) as i64;
        let cny_fen = usd_cents * usd_fen_per_cent_x10000 / 10_000;
        let unit_price_cents = ((6.0 + 2.0 * normal(&mut rng)).exp()).clamp(1.0, 1e9) as i128;
        let q1 = i128::from(usd_cents) * 100_000 / unit_price_cents;
        c.declaration_id.push(decl_id);
        c.declaration_no.push(decl.declaration_no.clone());
        c.item_no.push(item_no);
        c.flow.push(if decl.export { "export" } else { "import" });
        c.stat_date.push(decl.day);
        c.hs_code.push(hs);
        c.partner.push(partner);
        c.trading.push(trading);
        c.mode.push(decl.mode.clone());
        c.smode.push(decl.smode.clone());
        c.transport.push(decl.transport.clone());
        c.district.push(decl.district.clone());
        c.region.push(decl.region.clone());
        c.etype.push(decl.etype.clone());
        c.currency.push(decl.currency.clone());
        c.cny.push(cny_fen);
        c.usd.push(usd_cents);
        c.q1.push(Some(q1));
        let second = rng.below(10) < 3;
        c.q2.push(second.then_some(q1 / 7));
        c.u2.push(second.then_some("007"));
    }
    c.into_batch()
}

#[derive(Default)]
struct Header {
    export: bool,
    declaration_no: String,
    trading: Option<String>,
    mode: String,
    smode: String,
    transport: String,
    district: String,
    region: String,
    etype: String,
    currency: String,
    day: i32,
}

#[derive(Default)]
struct Columns {
    declaration_id: Vec<i64>,
    declaration_no: Vec<String>,
    item_no: Vec<i32>,
    flow: Vec<&'static str>,
    stat_date: Vec<i32>,
    hs_code: Vec<String>,
    partner: Vec<String>,
    trading: Vec<String>,
    mode: Vec<String>,
    smode: Vec<String>,
    transport: Vec<String>,
    district: Vec<String>,
    region: Vec<String>,
    etype: Vec<String>,
    currency: Vec<String>,
    cny: Vec<i64>,
    usd: Vec<i64>,
    q1: Vec<Option<i128>>,
    q2: Vec<Option<i128>>,
    u2: Vec<Option<&'static str>>,
}

impl Columns {
    fn with_capacity(n: usize) -> Columns {
        Columns {
            declaration_id: Vec::with_capacity(n),
            hs_code: Vec::with_capacity(n),
            ..Columns::default()
        }
    }

    fn into_batch(self) -> Result<RecordBatch, StatsError> {
        let n = self.declaration_id.len();
        let s = |v: &[String]| -> ArrayRef { Arc::new(StringArray::from_iter_values(v.iter())) };
        let hs = |len: usize| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(
                self.hs_code.iter().map(|h| &h[..len]),
            ))
        };
        let q = |v: Vec<Option<i128>>| -> Result<ArrayRef, StatsError> {
            Ok(Arc::new(
                Decimal128Array::from(v).with_precision_and_scale(28, 5)?,
            ))
        };
        let cols: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(vec![0; n])),
            Arc::new(Int64Array::from(self.declaration_id.clone())),
            s(&self.declaration_no),
            Arc::new(Int32Array::from(vec![1; n])),
            Arc::new(Int32Array::from(self.item_no.clone())),
            Arc::new(Int32Array::from(vec![1; n])),
            Arc::new(StringArray::from(self.flow.clone())),
            Arc::new(Date32Array::from(self.stat_date.clone())),
            s(&self.hs_code),
            hs(8),
            hs(6),
            hs(4),
            hs(2),
            s(&self.partner),
            s(&self.trading),
            s(&self.mode),
            s(&self.smode),
            s(&self.transport),
            s(&self.district),
            s(&self.district),
            s(&self.region),
            s(&self.etype),
            s(&self.currency),
            Arc::new(Int64Array::from(self.cny.clone())),
            Arc::new(Int64Array::from(self.usd.clone())),
            q(self.q1.clone())?,
            Arc::new(StringArray::from(vec!["035"; n])),
            q(self.q2.clone())?,
            Arc::new(StringArray::from(self.u2.clone())),
        ];
        fn strs(v: &[String]) -> Vec<&str> {
            v.iter().map(String::as_str).collect()
        }
        let hs2: Vec<&str> = self.hs_code.iter().map(|h| &h[..2]).collect();
        let mut cols = cols;
        cols.extend(crate::schema::key_arrays(
            self.flow.iter().copied(),
            [
                &hs2[..],
                &strs(&self.partner)[..],
                &strs(&self.smode)[..],
                &strs(&self.district)[..],
                &strs(&self.region)[..],
                &strs(&self.etype)[..],
            ],
        )?);
        Ok(RecordBatch::try_new(item_schema(), cols)?)
    }
}

/// Write `rows` generated rows over the months `from..=to` into the (empty) warehouse, on
/// `threads` threads; `on_rows` is told the rows written so far.
pub fn generate(
    wh: &Warehouse,
    rows: u64,
    from: (i32, u32),
    to: (i32, u32),
    seed: u64,
    threads: usize,
    on_rows: &(dyn Fn(u64) + Sync),
) -> Result<State, StatsError> {
    if !crate::warehouse::parquet_files(&wh.items_dir(), false)?.is_empty()
        || wh.state()?.next_run != 0
    {
        return Err(StatsError::Invalid(
            "the warehouse folder is not empty: generate into a new folder".to_owned(),
        ));
    }
    let months = months_between(from, to);
    if months.is_empty() {
        return Err(StatsError::Invalid(
            "no month between --from and --to".to_owned(),
        ));
    }
    let t = tables(wh.refdata());
    // Rows per month: seasonality and 5 % a year of growth.
    let weights: Vec<u64> = months
        .iter()
        .map(|(y, m)| SEASON[*m as usize - 1] * (100 + 5 * (y - from.0) as u64))
        .collect();
    let total_w: u64 = weights.iter().sum();
    let mut jobs = Vec::new();
    let mut assigned = 0;
    for (i, ((y, m), w)) in months.iter().zip(&weights).enumerate() {
        let n = if i + 1 == months.len() {
            rows - assigned
        } else {
            rows * w / total_w
        };
        assigned += n;
        let files = (n as usize).div_ceil(FILE_ROWS).max(1);
        for f in 0..files {
            let start = f * FILE_ROWS;
            let len = (n as usize - start.min(n as usize)).min(FILE_ROWS);
            if len > 0 {
                jobs.push((
                    *y,
                    *m,
                    f as u64,
                    len,
                    (i as i64) * 1_000_000_000 + start as i64,
                ));
            }
        }
    }
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let threads = threads.max(1);
    std::thread::scope(|scope| -> Result<(), StatsError> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<(), StatsError> {
                    loop {
                        let j = next.fetch_add(1, Ordering::Relaxed) as usize;
                        let Some(&(y, m, f, len, first_id)) = jobs.get(j) else {
                            return Ok(());
                        };
                        let batch = file_batch(&t, y, m, len, seed, f, first_id)?;
                        wh.write_partition(y, m, 0, &format!("-g{f:04}"), &[batch])?;
                        on_rows(done.fetch_add(len as u64, Ordering::Relaxed) + len as u64);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| StatsError::Engine("a generator thread panicked".to_owned()))??;
        }
        Ok(())
    })?;
    let state = State {
        format: FORMAT,
        audit_after: 0,
        next_run: 1,
        months: months
            .iter()
            .map(|(y, m)| (format!("{y:04}-{m:02}"), vec![0]))
            .collect(),
    };
    wh.put_state(&state)?;
    Ok(state)
}
