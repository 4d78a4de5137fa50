//! The `items` table: its Arrow schema (the Parquet files' schema, docs/STATISTICS.md), and
//! [`ItemRow`]s to and from record batches.

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Int16Array, Int32Array, Int64Array,
    Int8Array, RecordBatch, StringArray,
};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{
    DataType, Date32Type, Decimal128Type, Field, Int32Type, Int64Type, Schema, SchemaRef,
};

use crate::error::StatsError;
use crate::rows::{ItemRow, QUANTITY_SCALE};

/// `decimal(28, 5)`: legal quantities.
pub const QUANTITY_TYPE: DataType = DataType::Decimal128(28, QUANTITY_SCALE as i8);

/// The columns of every Parquet file of the warehouse, in order. `year` and `month` are not in
/// the files: they are the Hive partition folders (`year=2026/month=10/`).
pub fn item_schema() -> SchemaRef {
    use DataType::*;
    let f = |name: &str, t: DataType| Field::new(name, t, false);
    Arc::new(Schema::new(vec![
        f("run", Int64),
        f("declaration_id", Int64),
        f("declaration_no", Utf8),
        f("version_no", Int32),
        f("item_no", Int32),
        f("items", Int32),
        f("flow", Utf8),
        f("stat_date", Date32),
        f("hs_code", Utf8),
        f("hs8", Utf8),
        f("hs6", Utf8),
        f("hs4", Utf8),
        f("hs2", Utf8),
        f("partner_country", Utf8),
        f("trading_country", Utf8),
        f("trade_mode", Utf8),
        f("stats_trade_mode", Utf8),
        f("transport_mode", Utf8),
        f("office", Utf8),
        f("district", Utf8),
        f("region", Utf8),
        f("enterprise_type", Utf8),
        f("currency", Utf8),
        f("value_cny_fen", Int64),
        f("value_usd_cents", Int64),
        f("quantity_1", QUANTITY_TYPE),
        f("unit_1", Utf8),
        Field::new("quantity_2", QUANTITY_TYPE, true),
        Field::new("unit_2", Utf8, true),
        // The dimension keys: the codes above as narrow integers ([`code_key`]), so that an
        // engine groups and packs them without touching strings (the bulletin's statements).
        f("flow_key", Int8),
        f("hs2_key", Int16),
        f("partner_key", Int32),
        f("stats_trade_mode_key", Int16),
        f("district_key", Int32),
        f("region_key", Int16),
        f("enterprise_type_key", Int8),
    ]))
}

/// The dimension key columns: (key column, code column, the code's most characters). A key is
/// below `37^len` ([`key_bound`]).
pub const KEY_COLUMNS: [(&str, &str, u32); 6] = [
    ("hs2_key", "hs2", 2),
    ("partner_key", "partner_country", 3),
    ("stats_trade_mode_key", "stats_trade_mode", 2),
    ("district_key", "district", 4),
    ("region_key", "region", 2),
    ("enterprise_type_key", "enterprise_type", 1),
];

/// `flow_key`: 1 for exports, 0 for imports.
pub fn flow_key(flow: &str) -> i8 {
    i8::from(flow == "export")
}

/// The exclusive upper bound of the keys of codes of at most `len` characters.
pub fn key_bound(len: u32) -> i64 {
    37_i64.pow(len)
}

fn digit37(b: u8) -> Option<i64> {
    match b {
        b'0'..=b'9' => Some(i64::from(b - b'0') + 1),
        b'A'..=b'Z' => Some(i64::from(b - b'A') + 11),
        _ => None,
    }
}

/// A code of at most `len` characters `0-9A-Z` as a number in base 37, most significant
/// character first, `0`–`9` → 1–10 and `A`–`Z` → 11–36 (so `"05"` and `"5"` differ): `"85"` →
/// 9·37 + 6 = 339, `"USA"` → 31·37² + 29·37 + 11 = 43,523. [`key_code`] reverses it. A code
/// the key cannot hold is refused, never written wrong.
pub fn code_key(code: &str, len: u32) -> Result<i64, StatsError> {
    if code.len() > len as usize {
        return Err(StatsError::Invalid(format!(
            "code {code:?} is longer than {len} characters"
        )));
    }
    let mut k = 0;
    for b in code.bytes() {
        let d = digit37(b).ok_or_else(|| {
            StatsError::Invalid(format!("code {code:?}: only 0-9 and A-Z have a key"))
        })?;
        k = k * 37 + d;
    }
    Ok(k)
}

/// The code of a key ([`code_key`]'s inverse); `None` for a number no code has.
pub fn key_code(mut key: i64) -> Option<String> {
    let mut out = Vec::new();
    while key > 0 {
        let d = (key % 37) as u8;
        out.push(match d {
            0 => return None,
            1..=10 => b'0' + d - 1,
            _ => b'A' + d - 11,
        });
        key /= 37;
    }
    if key < 0 {
        return None;
    }
    out.reverse();
    String::from_utf8(out).ok()
}

/// The key columns of rows given by their codes, in [`KEY_COLUMNS`]' order after `flow_key`.
pub(crate) fn key_arrays<'a>(
    flows: impl Iterator<Item = &'a str>,
    codes: [&[&str]; 6],
) -> Result<Vec<ArrayRef>, StatsError> {
    let mut out: Vec<ArrayRef> = vec![Arc::new(Int8Array::from_iter_values(flows.map(flow_key)))];
    for ((_, _, len), codes) in KEY_COLUMNS.iter().zip(codes) {
        let keys = codes
            .iter()
            .map(|c| code_key(c, *len))
            .collect::<Result<Vec<i64>, _>>()?;
        out.push(match key_bound(*len) {
            b if b <= 128 => Arc::new(Int8Array::from_iter_values(keys.iter().map(|k| *k as i8))),
            b if b <= 32_768 => {
                Arc::new(Int16Array::from_iter_values(keys.iter().map(|k| *k as i16)))
            }
            _ => Arc::new(Int32Array::from_iter_values(keys.iter().map(|k| *k as i32))),
        });
    }
    Ok(out)
}

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a date");

fn days(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// Rows to one record batch of [`item_schema`].
pub fn to_batch(rows: &[ItemRow]) -> Result<RecordBatch, StatsError> {
    let s = |f: &dyn Fn(&ItemRow) -> &str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let hs = |n: usize| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| &r.hs_code[..n.min(r.hs_code.len())]),
        ))
    };
    let quantity = |v: Vec<Option<i128>>| -> Result<ArrayRef, StatsError> {
        Ok(Arc::new(
            Decimal128Array::from(v).with_precision_and_scale(28, QUANTITY_SCALE as i8)?,
        ))
    };
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.run))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.declaration_id),
        )),
        s(&|r| &r.declaration_no),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| r.version_no),
        )),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.item_no))),
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.items))),
        s(&|r| r.flow),
        Arc::new(Date32Array::from_iter_values(
            rows.iter().map(|r| days(r.stat_date)),
        )),
        s(&|r| &r.hs_code),
        hs(8),
        hs(6),
        hs(4),
        hs(2),
        s(&|r| &r.partner_country),
        s(&|r| &r.trading_country),
        s(&|r| &r.trade_mode),
        s(&|r| &r.stats_trade_mode),
        s(&|r| &r.transport_mode),
        s(&|r| &r.office),
        s(&|r| &r.district),
        s(&|r| &r.region),
        s(&|r| &r.enterprise_type),
        s(&|r| &r.currency),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.value_cny_fen),
        )),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.value_usd_cents),
        )),
        quantity(rows.iter().map(|r| Some(r.quantity_1)).collect())?,
        s(&|r| &r.unit_1),
        quantity(rows.iter().map(|r| r.quantity_2).collect())?,
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.unit_2.as_deref()).collect::<Vec<_>>(),
        )),
    ];
    let hs2: Vec<&str> = rows
        .iter()
        .map(|r| &r.hs_code[..2.min(r.hs_code.len())])
        .collect();
    let partner: Vec<&str> = rows.iter().map(|r| r.partner_country.as_str()).collect();
    let mode: Vec<&str> = rows.iter().map(|r| r.stats_trade_mode.as_str()).collect();
    let district: Vec<&str> = rows.iter().map(|r| r.district.as_str()).collect();
    let region: Vec<&str> = rows.iter().map(|r| r.region.as_str()).collect();
    let etype: Vec<&str> = rows.iter().map(|r| r.enterprise_type.as_str()).collect();
    columns.extend(key_arrays(
        rows.iter().map(|r| r.flow),
        [
            &hs2[..],
            &partner[..],
            &mode[..],
            &district[..],
            &region[..],
            &etype[..],
        ],
    )?);
    Ok(RecordBatch::try_new(item_schema(), columns)?)
}

/// Record batches of the file columns (any string encoding the engine chose) back to rows.
pub fn from_batch(batch: &RecordBatch) -> Result<Vec<ItemRow>, StatsError> {
    let col = |name: &str, t: &DataType| -> Result<ArrayRef, StatsError> {
        let c = batch
            .column_by_name(name)
            .ok_or_else(|| StatsError::Corrupt(format!("no column {name}")))?;
        Ok(cast(c, t)?)
    };
    let strings = |name: &str| -> Result<Vec<Option<String>>, StatsError> {
        let a = col(name, &DataType::Utf8)?;
        let a = a.as_string::<i32>();
        Ok((0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i).to_owned()))
            .collect())
    };
    let req = |v: Vec<Option<String>>| -> Vec<String> {
        v.into_iter().map(Option::unwrap_or_default).collect()
    };
    let i64s = |name: &str| -> Result<Vec<i64>, StatsError> {
        Ok(col(name, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .values()
            .to_vec())
    };
    let i32s = |name: &str| -> Result<Vec<i32>, StatsError> {
        Ok(col(name, &DataType::Int32)?
            .as_primitive::<Int32Type>()
            .values()
            .to_vec())
    };
    let decimals = |name: &str| -> Result<Vec<Option<i128>>, StatsError> {
        let a = col(name, &QUANTITY_TYPE)?;
        let a = a.as_primitive::<Decimal128Type>();
        Ok((0..a.len())
            .map(|i| (!a.is_null(i)).then(|| a.value(i)))
            .collect())
    };
    let run = i64s("run")?;
    let declaration_id = i64s("declaration_id")?;
    let declaration_no = req(strings("declaration_no")?);
    let version_no = i32s("version_no")?;
    let item_no = i32s("item_no")?;
    let items = i32s("items")?;
    let flow = req(strings("flow")?);
    let stat_date = col("stat_date", &DataType::Date32)?;
    let stat_date = stat_date.as_primitive::<Date32Type>();
    let hs_code = req(strings("hs_code")?);
    let partner = req(strings("partner_country")?);
    let trading = req(strings("trading_country")?);
    let trade_mode = req(strings("trade_mode")?);
    let stats_mode = req(strings("stats_trade_mode")?);
    let transport = req(strings("transport_mode")?);
    let office = req(strings("office")?);
    let district = req(strings("district")?);
    let region = req(strings("region")?);
    let etype = req(strings("enterprise_type")?);
    let currency = req(strings("currency")?);
    let cny = i64s("value_cny_fen")?;
    let usd = i64s("value_usd_cents")?;
    let q1 = decimals("quantity_1")?;
    let u1 = req(strings("unit_1")?);
    let q2 = decimals("quantity_2")?;
    let u2 = strings("unit_2")?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        out.push(ItemRow {
            run: run[i],
            declaration_id: declaration_id[i],
            declaration_no: declaration_no[i].clone(),
            version_no: version_no[i],
            item_no: item_no[i],
            items: items[i],
            flow: match flow[i].as_str() {
                "import" => "import",
                "export" => "export",
                other => return Err(StatsError::Corrupt(format!("flow {other:?}"))),
            },
            stat_date: EPOCH + chrono::Duration::days(i64::from(stat_date.value(i))),
            hs_code: hs_code[i].clone(),
            partner_country: partner[i].clone(),
            trading_country: trading[i].clone(),
            trade_mode: trade_mode[i].clone(),
            stats_trade_mode: stats_mode[i].clone(),
            transport_mode: transport[i].clone(),
            office: office[i].clone(),
            district: district[i].clone(),
            region: region[i].clone(),
            enterprise_type: etype[i].clone(),
            currency: currency[i].clone(),
            value_cny_fen: cny[i],
            value_usd_cents: usd[i],
            quantity_1: q1[i].unwrap_or_default(),
            unit_1: u1[i].clone(),
            quantity_2: q2[i],
            unit_2: u2[i].clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_codes_in_base_37_and_come_back() {
        assert_eq!(code_key("85", 2).unwrap(), 9 * 37 + 6);
        assert_eq!(code_key("USA", 3).unwrap(), 31 * 37 * 37 + 29 * 37 + 11);
        assert_ne!(code_key("05", 2).unwrap(), code_key("5", 2).unwrap());
        for code in [
            "", "0", "5", "05", "85", "99", "ZZ", "USA", "2200", "ZZZZ", "A0",
        ] {
            let k = code_key(code, 4).unwrap();
            assert!(k < key_bound(code.len() as u32), "{code}");
            assert_eq!(key_code(k).as_deref(), Some(code), "{code}");
        }
        assert!(code_key("USA", 2).is_err());
        assert!(code_key("us", 2).is_err());
        assert_eq!(key_code(37), None); // a 0 digit: no code
        assert_eq!(flow_key("export"), 1);
        assert_eq!(flow_key("import"), 0);
    }
}
