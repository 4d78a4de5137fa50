//! Extraction: the ledger's changes since the warehouse's cursor become Parquet rows, one batch
//! at a time. [`extract`] reads the declarations the audit chain names after the cursor
//! (`Store::changed_declarations`, through the `Store` trait, so SQLite and PostgreSQL alike),
//! computes each one's statistical rows ([`crate::rows::rows_of`]), compares them with what the
//! warehouse already holds for it, and writes only the difference: the new rows, and reversal
//! rows (`items` = -1, measures negated) for rows no longer true. So a declaration counts once
//! whatever happens:
//! - a run that crashed before its state was written left files the next [`Warehouse::open`]
//!   removes, and the batch is read again;
//! - a declaration read twice (it changed again, or the batch is redone) adds nothing when its
//!   rows are already there;
//! - an amendment of a released declaration (a `Versioned` event: a new version of its body)
//!   reverses the old rows and adds the new ones, in a new batch: a revision of its month, kept
//!   beside the earlier ones (`revisions`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use domain::declaration::Declaration;
use store::{DeclarationId, DeclarationKey, Store};

use crate::error::StatsError;
use crate::rows::{rows_of, Dimensions, ItemRow, MonthRates};
use crate::schema::{from_batch, to_batch};
use crate::warehouse::Warehouse;

/// Audit records read per batch unless asked otherwise.
pub const BATCH_RECORDS: u32 = 20_000;

/// Where an extraction stands, after each batch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The audit record reached, and the chain's head when the batch began.
    pub audit_at: i64,
    pub audit_head: i64,
    /// Where this extraction started.
    pub audit_from: i64,
    pub declarations: u64,
    pub rows_added: u64,
    pub rows_reversed: u64,
    pub batches: u64,
}

/// What one extraction did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub progress: Progress,
    /// `YYYY-MM` of each month a batch wrote to, with the revision it reached.
    pub months: BTreeMap<String, usize>,
}

/// Extract what changed in `store` since the warehouse's cursor, `batch_records` audit records
/// per batch; `on_batch` is told after each batch (a progress bar).
pub fn extract(
    store: &dyn Store,
    wh: &Warehouse,
    rates: &MonthRates,
    batch_records: u32,
    on_batch: &mut dyn FnMut(&Progress),
) -> Result<Report, StatsError> {
    let dims = Dimensions::new(wh.refdata());
    let mut state = wh.state()?;
    let mut report = Report::default();
    report.progress.audit_from = state.audit_after;
    loop {
        let changes = store.changed_declarations(state.audit_after, batch_records)?;
        report.progress.audit_head = changes.head;
        if changes.ids.is_empty() || changes.last <= state.audit_after {
            break;
        }
        let mut wanted: HashMap<i64, Vec<ItemRow>> = HashMap::new();
        for id in &changes.ids {
            wanted.insert(id.0, declaration_rows(store, *id, &dims, rates)?);
        }
        let held = held_rows(wh, &changes.ids)?;
        let run = state.next_run;
        let mut out: BTreeMap<(i32, u32), Vec<ItemRow>> = BTreeMap::new();
        for id in &changes.ids {
            let new = wanted.remove(&id.0).unwrap_or_default();
            let old = held.get(&id.0).cloned().unwrap_or_default();
            let (add, reverse) = difference(&old, &new);
            report.progress.rows_added += add.len() as u64;
            report.progress.rows_reversed += reverse.len() as u64;
            for mut r in reverse.into_iter().map(|r| r.negated()).chain(add) {
                r.run = run;
                out.entry(r.partition()).or_default().push(r);
            }
        }
        for ((year, month), rows) in &out {
            wh.write_partition(*year, *month, run, "", &[to_batch(rows)?])?;
            let key = format!("{year:04}-{month:02}");
            let runs = state.months.entry(key.clone()).or_default();
            runs.push(run);
            report.months.insert(key, runs.len());
        }
        if !out.is_empty() {
            state.next_run += 1;
        }
        state.audit_after = changes.last;
        // The state names the batch only once its files are durable.
        wh.put_state(&state)?;
        report.progress.declarations += changes.ids.len() as u64;
        report.progress.batches += 1;
        report.progress.audit_at = changes.last;
        on_batch(&report.progress);
    }
    report.progress.audit_at = state.audit_after;
    Ok(report)
}

/// The rows one declaration should have as it stands now.
fn declaration_rows(
    store: &dyn Store,
    id: DeclarationId,
    dims: &Dimensions,
    rates: &MonthRates,
) -> Result<Vec<ItemRow>, StatsError> {
    let Some(d) = store.load(DeclarationKey::Id(id))? else {
        return Ok(Vec::new());
    };
    let s = &d.state;
    if s.declaration_no.is_none() || (s.released_at.is_none() && s.closed_at.is_none()) {
        return Ok(Vec::new());
    }
    // Accepted declarations are stored in their typed form.
    let decl: Declaration = serde_json::from_str(&d.body_json).map_err(|e| {
        StatsError::Corrupt(format!(
            "declaration {id}: body is not a typed declaration: {e}"
        ))
    })?;
    rows_of(id.0, s, &decl, dims, rates)
}

/// The net rows the warehouse holds for these declarations: each row's content, as many times
/// as it adds up to (rows and their reversals cancel).
fn held_rows(
    wh: &Warehouse,
    ids: &[DeclarationId],
) -> Result<HashMap<i64, Vec<ItemRow>>, StatsError> {
    let mut out: HashMap<i64, Vec<ItemRow>> = HashMap::new();
    if crate::warehouse::parquet_files(&wh.items_dir(), false)?.is_empty() {
        return Ok(out);
    }
    let ctx = wh.session()?;
    let ids_batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from_iter_values(
            ids.iter().map(|d| d.0),
        ))],
    )?;
    ctx.register_batch("wanted_ids", ids_batch)?;
    let batches = wh.block_on(async {
        let df = ctx
            .sql("SELECT * FROM items WHERE declaration_id IN (SELECT id FROM wanted_ids)")
            .await?;
        df.collect().await
    })?;
    let mut count: HashMap<ItemRow, i64> = HashMap::new();
    for b in &batches {
        for r in from_batch(b)? {
            *count.entry(r.content()).or_default() += i64::from(r.items.signum());
        }
    }
    for (row, n) in count {
        if !(0..=1).contains(&n) {
            return Err(StatsError::Corrupt(format!(
                "declaration {} item {} counted {n} times",
                row.declaration_id, row.item_no
            )));
        }
        if n == 1 {
            out.entry(row.declaration_id).or_default().push(row);
        }
    }
    Ok(out)
}

/// What to add and what to reverse to go from `old` to `new` (contents, without batch).
fn difference(old: &[ItemRow], new: &[ItemRow]) -> (Vec<ItemRow>, Vec<ItemRow>) {
    let mut old_sorted: Vec<ItemRow> = old.iter().map(ItemRow::content).collect();
    let mut new_sorted: Vec<ItemRow> = new.iter().map(ItemRow::content).collect();
    old_sorted.sort();
    new_sorted.sort();
    if old_sorted == new_sorted {
        return (Vec::new(), Vec::new());
    }
    // A changed declaration is replaced whole: every old row reversed, every new row added.
    (new_sorted, old_sorted)
}
