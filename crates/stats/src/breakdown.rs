//! Trade grouped by one dimension, drilled down by others: what the HQ dashboard's charts and
//! tables show ([`breakdown`]). Dimensions are named as the API names them (`chapter`,
//! `partner`, …); codes given to filter on are checked (letters and digits only) before they
//! reach the SQL, so a request cannot change the statement.

use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use refdata::Table;

use crate::bulletin::parse_month;
use crate::dims::Lookups;
use crate::error::StatsError;
use crate::warehouse::Warehouse;

/// API name → the SQL expression of its code.
pub const DIMENSIONS: [(&str, &str); 12] = [
    ("month", "year * 100 + month"),
    ("flow", "flow"),
    ("chapter", "hs2"),
    ("hs4", "hs4"),
    ("hs6", "hs6"),
    ("hs8", "hs8"),
    ("partner", "partner_country"),
    ("trade_mode", "stats_trade_mode"),
    ("transport_mode", "transport_mode"),
    ("district", "district"),
    ("region", "region"),
    ("enterprise_type", "enterprise_type"),
];

fn expr(dim: &str) -> Result<&'static str, StatsError> {
    DIMENSIONS
        .iter()
        .find(|(n, _)| *n == dim)
        .map(|(_, e)| *e)
        .ok_or_else(|| StatsError::Invalid(format!("unknown dimension {dim:?}")))
}

/// One group of a breakdown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Group {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub items: i64,
    pub export_cny_fen: i64,
    pub import_cny_fen: i64,
    pub export_usd_cents: i64,
    pub import_usd_cents: i64,
}

/// What to group: months `from..=to` (`YYYY-MM`), by `by`, with `filters` (dimension, code),
/// accepting offices within `offices` when given, at most `limit` groups.
pub struct Spec<'a> {
    pub by: &'a str,
    pub from: &'a str,
    pub to: &'a str,
    pub filters: &'a [(String, String)],
    pub offices: Option<&'a [String]>,
    pub limit: u32,
}

fn code_ok(field: &str, code: &str) -> Result<(), StatsError> {
    if code.is_empty() || code.len() > 10 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(StatsError::Invalid(format!(
            "{field}: {code:?} is not a code (1 to 10 letters or digits)"
        )));
    }
    Ok(())
}

/// The groups, largest (exports + imports in USD) first, or by month for `month`; and whether
/// more groups than `limit` existed.
pub fn breakdown(
    wh: &Warehouse,
    s: &Spec<'_>,
    timeout: Duration,
) -> Result<(Vec<Group>, bool), StatsError> {
    let by = expr(s.by)?;
    let (fy, fm) = parse_month(s.from)?;
    let (ty, tm) = parse_month(s.to)?;
    let (from, to) = (fy * 100 + fm as i32, ty * 100 + tm as i32);
    if from > to {
        return Err(StatsError::BadMonth(format!("{} > {}", s.from, s.to)));
    }
    let mut filter = format!("year * 100 + month BETWEEN {from} AND {to}");
    for (dim, code) in s.filters {
        let e = expr(dim)?;
        if dim == "month" {
            let (y, m) = parse_month(code)?;
            filter.push_str(&format!(" AND {e} = {}", y * 100 + m as i32));
        } else {
            code_ok(dim, code)?;
            filter.push_str(&format!(" AND {e} = '{code}'"));
        }
    }
    if let Some(offices) = s.offices {
        for o in offices {
            code_ok("office", o)?;
        }
        if offices.is_empty() {
            filter.push_str(" AND FALSE");
        } else {
            let list: Vec<String> = offices.iter().map(|o| format!("'{o}'")).collect();
            filter.push_str(&format!(" AND office IN ({})", list.join(", ")));
        }
    }
    let order = if s.by == "month" {
        "code".to_owned()
    } else {
        "export_usd_cents + import_usd_cents DESC, code".to_owned()
    };
    let sql = format!(
        "SELECT CAST({by} AS VARCHAR) AS code, CAST(SUM(items) AS BIGINT) AS items, \
         SUM(CASE WHEN flow = 'export' THEN value_cny_fen ELSE 0 END) AS export_cny_fen, \
         SUM(CASE WHEN flow = 'import' THEN value_cny_fen ELSE 0 END) AS import_cny_fen, \
         SUM(CASE WHEN flow = 'export' THEN value_usd_cents ELSE 0 END) AS export_usd_cents, \
         SUM(CASE WHEN flow = 'import' THEN value_usd_cents ELSE 0 END) AS import_usd_cents \
         FROM items WHERE {filter} GROUP BY {by} ORDER BY {order} LIMIT {}",
        u64::from(s.limit) + 1
    );
    let answer = wh.query(&sql, timeout, s.limit as usize + 1)?;
    let lookups = Lookups::new(wh.refdata());
    let transport: crate::dims::Names = wh
        .refdata()
        .simple_entries(Table::TransportModes)
        .map(|e| (e.code.clone(), (e.name_zh.clone(), e.name_en.clone())))
        .collect();
    let mut out = Vec::new();
    for b in &answer.batches {
        let code = cast(b.column(0), &DataType::Utf8)?;
        let code = code.as_string::<i32>();
        let nums: Vec<_> = (1..6)
            .map(|i| cast(b.column(i), &DataType::Int64))
            .collect::<Result<_, _>>()?;
        let n = |i: usize, row: usize| {
            let a = nums[i].as_primitive::<Int64Type>();
            if a.is_null(row) {
                0
            } else {
                a.value(row)
            }
        };
        for row in 0..b.num_rows() {
            let c = code.value(row).to_owned();
            let (zh, en) = names(s.by, &c, &lookups, &transport);
            let c = if s.by == "month" && c.len() == 6 {
                format!("{}-{}", &c[..4], &c[4..])
            } else {
                c
            };
            out.push(Group {
                code: c,
                name_zh: zh,
                name_en: en,
                items: n(0, row),
                export_cny_fen: n(1, row),
                import_cny_fen: n(2, row),
                export_usd_cents: n(3, row),
                import_usd_cents: n(4, row),
            });
        }
    }
    let truncated = out.len() > s.limit as usize;
    out.truncate(s.limit as usize);
    Ok((out, truncated))
}

fn names(by: &str, code: &str, l: &Lookups, transport: &crate::dims::Names) -> (String, String) {
    let from = |n: &crate::dims::Names| {
        n.get(code)
            .cloned()
            .unwrap_or_else(|| ("未列明".to_owned(), "Not listed".to_owned()))
    };
    match by {
        "month" if code.len() == 6 => (
            format!("{}年{}月", &code[..4], code[4..].trim_start_matches('0')),
            format!("{}-{}", &code[..4], &code[4..]),
        ),
        "flow" => match code {
            "export" => ("出口".to_owned(), "Exports".to_owned()),
            _ => ("进口".to_owned(), "Imports".to_owned()),
        },
        "chapter" => (format!("第{code}章"), format!("Chapter {code}")),
        "hs4" | "hs6" | "hs8" => (format!("商品编号 {code}"), format!("HS {code}")),
        "partner" => from(&l.countries),
        "trade_mode" => from(&l.stats_trade_modes),
        "transport_mode" => from(transport),
        "district" => from(&l.districts),
        "region" => from(&l.regions),
        "enterprise_type" => from(&l.enterprise_types),
        _ => (code.to_owned(), code.to_owned()),
    }
}
