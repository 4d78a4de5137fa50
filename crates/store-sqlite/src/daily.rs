//! The dashboard's daily aggregates on SQLite (`store::daily`): four small tables keyed by
//! Beijing day and office, backfilled from the rows by the migration that creates them, and
//! kept in the transaction of every write:
//! - new rows by the writer: the filing adds its row to the request's [`Delta`]
//!   ([`count_new_row`]), which joins the batch's when the request's savepoint is released
//!   ([`end_request`]), and the batch's is written with one upsert per distinct key just
//!   before COMMIT ([`write_delta`]). The deltas live in the writer thread (thread-locals: the
//!   writer's functions pass only the connection and the chain head);
//! - updates by triggers on `declarations` (status, lane, number, a new version's body).

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use clearance::{DeclarationState, Lane, Status};
use domain::codes::OfficeCode;
use rusqlite::types::Value;
use rusqlite::Connection;
use store::daily::{ClearanceBucket, DailyStats, DayQuery, Delta};
use store::{CountRow, StoreError};

thread_local! {
    /// The writer thread's deltas: (the batch's, the current request's).
    static PENDING: RefCell<(Delta, Delta)> = RefCell::new(Default::default());
}

/// A new declaration row written by the current request.
pub(crate) fn count_new_row(
    office: OfficeCode,
    submitted_at: DateTime<Utc>,
    state: &DeclarationState,
    body_json: &str,
) {
    PENDING.with(|p| {
        p.borrow_mut()
            .1
            .add_row(office, submitted_at, state, body_json, 1)
    });
}

/// The current request's savepoint was released (`kept`) or rolled back.
pub(crate) fn end_request(kept: bool) {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        let request = std::mem::take(&mut p.1);
        if kept && !request.is_empty() {
            p.0.merge(request);
        }
    });
}

/// The batch's increments, leaving none behind.
pub(crate) fn take_batch() -> Delta {
    PENDING.with(|p| {
        let mut p = p.borrow_mut();
        p.1 = Delta::default();
        std::mem::take(&mut p.0)
    })
}

/// Add a batch's increments: one upsert per distinct key.
pub(crate) fn write_delta(c: &Connection, delta: &Delta) -> Result<(), rusqlite::Error> {
    if delta.is_empty() {
        return Ok(());
    }
    let mut st = c.prepare_cached(
        "INSERT INTO stats_counts (day, office, status, lane, numbered, n) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?;
    for ((day, office, status, lane, numbered), n) in delta.counts() {
        st.execute(rusqlite::params![day, office, status, lane, numbered, n])?;
    }
    let mut st = c.prepare_cached(
        "INSERT INTO stats_clearance (day, office, floor_s, n) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?;
    for ((day, office, floor), n) in delta.clearance() {
        st.execute(rusqlite::params![day, office, floor, n])?;
    }
    let mut st = c.prepare_cached(
        "INSERT INTO stats_commodities (day, office, code, n) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?;
    for ((day, office, code), n) in delta.commodities() {
        st.execute(rusqlite::params![day, office, code, n])?;
    }
    let mut st = c.prepare_cached(
        "INSERT INTO stats_partners (day, office, country, n) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )?;
    for ((day, office, country), n) in delta.partners() {
        st.execute(rusqlite::params![day, office, country, n])?;
    }
    Ok(())
}

use crate::{backend, corrupt, office_params};

/// The Beijing day of a row (`store::daily::day_of`), as SQL over a row alias.
macro_rules! day {
    ($r:literal) => {
        concat!("((", $r, ".submitted_at_ms + 28800000) / 86400000)")
    };
}

/// Seconds from submission to release of row `$r`'s state (`NULL` unless both are set), as
/// `Duration::num_seconds` gives them (toward zero), at least 0.
macro_rules! clearance_seconds {
    ($r:literal) => {
        concat!(
            "max(0, (CAST(round((julianday(json_extract(",
            $r,
            ".state, '$.released_at')) - julianday(json_extract(",
            $r,
            ".state, '$.submitted_at'))) * 86400000.0) AS INTEGER)) / 1000)"
        )
    };
}

/// `store::daily::bucket_floor` in SQL, of a column `s`.
macro_rules! bucket {
    () => {
        "CASE WHEN s < 100 THEN s ELSE CAST(substr(CAST(s AS TEXT), 1, 2) || substr('0000000000000000000', 1, length(CAST(s AS TEXT)) - 2) AS INTEGER) END"
    };
}
#[cfg(test)]
const BUCKET: &str = bucket!();

/// Add `$sign` (1 or -1) to the counts of row `$r` (`new` or `old`).
macro_rules! counts_add {
    ($r:literal, $sign:literal) => {
        concat!(
            "INSERT INTO stats_counts (day, office, status, lane, numbered, n) VALUES (",
            day!($r),
            ", ",
            $r,
            ".declaration_office, ",
            $r,
            ".status, coalesce(",
            $r,
            ".lane, ''), ",
            $r,
            ".declaration_no IS NOT NULL, ",
            $sign,
            ")
             ON CONFLICT DO UPDATE SET n = n + excluded.n;"
        )
    };
}

macro_rules! clearance_add {
    ($r:literal, $sign:literal) => {
        concat!(
            "INSERT INTO stats_clearance (day, office, floor_s, n)
             SELECT ",
            day!($r),
            ", ",
            $r,
            ".declaration_office, ",
            bucket!(),
            ", ",
            $sign,
            " FROM (SELECT ",
            clearance_seconds!($r),
            " AS s) WHERE s IS NOT NULL
             ON CONFLICT DO UPDATE SET n = n + excluded.n;"
        )
    };
}

/// The goods lines and trading country of a numbered row's body.
macro_rules! goods_add {
    ($r:literal, $sign:literal) => {
        concat!(
            "INSERT INTO stats_commodities (day, office, code, n)
             SELECT ",
            day!($r),
            ", ",
            $r,
            ".declaration_office, json_extract(value, '$.commodity_code') AS code, ",
            $sign,
            " * count(*)
             FROM json_each(CASE WHEN ",
            $r,
            ".declaration_no IS NOT NULL AND json_valid(",
            $r,
            ".body) THEN ",
            $r,
            ".body ELSE '{}' END, '$.items')
             WHERE json_type(value, '$.commodity_code') = 'text' GROUP BY code
             ON CONFLICT DO UPDATE SET n = n + excluded.n;
             INSERT INTO stats_partners (day, office, country, n)
             SELECT ",
            day!($r),
            ", ",
            $r,
            ".declaration_office, json_extract(",
            $r,
            ".body, '$.trading_country'), ",
            $sign,
            "
             WHERE ",
            $r,
            ".declaration_no IS NOT NULL AND json_valid(",
            $r,
            ".body) AND json_type(",
            $r,
            ".body, '$.trading_country') = 'text'
             ON CONFLICT DO UPDATE SET n = n + excluded.n;"
        )
    };
}

/// Migration 15: the tables, the triggers, and the backfill from the rows already stored.
pub(crate) const MIGRATION: &str = concat!(
    "
    CREATE TABLE stats_counts (
        day      INTEGER NOT NULL,
        office   TEXT NOT NULL,
        status   TEXT NOT NULL,
        lane     TEXT NOT NULL, -- '' when none
        numbered INTEGER NOT NULL,
        n        INTEGER NOT NULL,
        PRIMARY KEY (day, office, status, lane, numbered)
    ) WITHOUT ROWID;
    CREATE TABLE stats_clearance (
        day     INTEGER NOT NULL,
        office  TEXT NOT NULL,
        floor_s INTEGER NOT NULL,
        n       INTEGER NOT NULL,
        PRIMARY KEY (day, office, floor_s)
    ) WITHOUT ROWID;
    CREATE TABLE stats_commodities (
        day    INTEGER NOT NULL,
        office TEXT NOT NULL,
        code   TEXT NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (day, office, code)
    ) WITHOUT ROWID;
    CREATE TABLE stats_partners (
        day     INTEGER NOT NULL,
        office  TEXT NOT NULL,
        country TEXT NOT NULL,
        n       INTEGER NOT NULL,
        PRIMARY KEY (day, office, country)
    ) WITHOUT ROWID;

    CREATE TRIGGER stats_insert AFTER INSERT ON declarations BEGIN
    ",
    counts_add!("new", "1"),
    clearance_add!("new", "1"),
    goods_add!("new", "1"),
    "
    END;
    CREATE TRIGGER stats_counts_move AFTER UPDATE OF status, lane, declaration_no, declaration_office, submitted_at_ms ON declarations
    WHEN old.status IS NOT new.status OR old.lane IS NOT new.lane
      OR (old.declaration_no IS NULL) <> (new.declaration_no IS NULL)
      OR old.declaration_office IS NOT new.declaration_office OR old.submitted_at_ms IS NOT new.submitted_at_ms
    BEGIN
    ",
    counts_add!("old", "-1"),
    counts_add!("new", "1"),
    "
    END;
    -- The release time is set with a change of status; reading the state's JSON only then.
    CREATE TRIGGER stats_clearance_move AFTER UPDATE OF state, declaration_office, submitted_at_ms ON declarations
    WHEN (old.status IS NOT new.status OR old.declaration_office IS NOT new.declaration_office
          OR old.submitted_at_ms IS NOT new.submitted_at_ms)
      AND (json_extract(old.state, '$.released_at') IS NOT json_extract(new.state, '$.released_at')
           OR json_extract(old.state, '$.submitted_at') IS NOT json_extract(new.state, '$.submitted_at')
           OR old.declaration_office IS NOT new.declaration_office OR old.submitted_at_ms IS NOT new.submitted_at_ms)
    BEGIN
    ",
    clearance_add!("old", "-1"),
    clearance_add!("new", "1"),
    "
    END;
    CREATE TRIGGER stats_goods_move AFTER UPDATE OF body, declaration_no, declaration_office, submitted_at_ms ON declarations
    WHEN (old.declaration_no IS NULL) <> (new.declaration_no IS NULL) OR old.body IS NOT new.body
      OR old.declaration_office IS NOT new.declaration_office OR old.submitted_at_ms IS NOT new.submitted_at_ms
    BEGIN
    ",
    goods_add!("old", "-1"),
    goods_add!("new", "1"),
    "
    END;

    INSERT INTO stats_counts (day, office, status, lane, numbered, n)
    SELECT ", day!("d"), ", d.declaration_office, d.status, coalesce(d.lane, ''), d.declaration_no IS NOT NULL, count(*)
    FROM declarations d GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO stats_clearance (day, office, floor_s, n)
    SELECT day, office, ", bucket!(), ", count(*)
    FROM (SELECT ", day!("d"), " AS day, d.declaration_office AS office, ", clearance_seconds!("d"), " AS s FROM declarations d)
    WHERE s IS NOT NULL GROUP BY 1, 2, 3;
    INSERT INTO stats_commodities (day, office, code, n)
    SELECT ", day!("d"), ", d.declaration_office, json_extract(j.value, '$.commodity_code'), count(*)
    FROM declarations d, json_each(CASE WHEN json_valid(d.body) THEN d.body ELSE '{}' END, '$.items') j
    WHERE d.declaration_no IS NOT NULL AND json_type(j.value, '$.commodity_code') = 'text'
    GROUP BY 1, 2, 3;
    INSERT INTO stats_partners (day, office, country, n)
    SELECT ", day!("d"), ", d.declaration_office, json_extract(d.body, '$.trading_country'), count(*)
    FROM declarations d
    WHERE d.declaration_no IS NOT NULL AND json_valid(d.body) AND json_type(d.body, '$.trading_country') = 'text'
    GROUP BY 1, 2, 3;
    "
);

/// `Store::daily_stats` on one read connection.
pub(crate) fn read(c: &Connection, q: &DayQuery) -> Result<DailyStats, StoreError> {
    let mut args = vec![Value::Integer(q.from), Value::Integer(q.to)];
    let mut filter = String::from("day >= ?1 AND day < ?2");
    if let Some(offices) = &q.offices {
        let Some(list) = office_params(offices, &mut args)? else {
            return Ok(DailyStats::default());
        };
        filter.push_str(&format!(" AND office IN ({list})"));
    }
    let query = |sql: String| -> Result<Vec<Vec<Value>>, StoreError> {
        let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
        let width = stmt.column_count();
        let rows = stmt
            .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                (0..width).map(|i| r.get::<_, Value>(i)).collect()
            })
            .map_err(backend)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(backend)
    };
    let text = |v: &Value| match v {
        Value::Text(s) => Ok(s.clone()),
        other => Err(corrupt(format!("a statistics key {other:?}"))),
    };
    let int = |v: &Value| match v {
        Value::Integer(i) => Ok(*i),
        other => Err(corrupt(format!("a statistics count {other:?}"))),
    };
    let office = |v: &Value| OfficeCode::parse(&text(v)?).map_err(corrupt);

    let mut out = DailyStats::default();
    for r in query(format!(
        "SELECT office, status, lane, numbered, sum(n) FROM stats_counts WHERE {filter}
         GROUP BY office, status, lane, numbered HAVING sum(n) <> 0"
    ))? {
        let status = text(&r[1])?;
        let lane = text(&r[2])?;
        out.counts.push(CountRow {
            office: office(&r[0])?,
            status: Status::parse(&status).ok_or_else(|| corrupt(format!("status {status}")))?,
            lane: if lane.is_empty() {
                None
            } else {
                Some(Lane::parse(&lane).ok_or_else(|| corrupt(format!("lane {lane}")))?)
            },
            numbered: int(&r[3])? != 0,
            count: u64::try_from(int(&r[4])?).map_err(corrupt)?,
        });
    }
    for r in query(format!(
        "SELECT office, floor_s, sum(n) FROM stats_clearance WHERE {filter}
         GROUP BY office, floor_s HAVING sum(n) <> 0"
    ))? {
        out.clearance.push(ClearanceBucket {
            office: office(&r[0])?,
            floor_seconds: int(&r[1])?,
            count: u64::try_from(int(&r[2])?).map_err(corrupt)?,
        });
    }
    for (table, key, into) in [
        ("stats_commodities", "code", &mut out.commodities),
        ("stats_partners", "country", &mut out.partners),
    ] {
        for r in query(format!(
            "SELECT {key}, sum(n) FROM {table} WHERE {filter} GROUP BY {key} HAVING sum(n) <> 0"
        ))? {
            into.push((text(&r[0])?, u64::try_from(int(&r[1])?).map_err(corrupt)?));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// The SQL bucket is `store::daily::bucket_floor`.
    #[test]
    fn the_sql_bucket_is_the_rust_one() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        for s in [
            0_i64,
            1,
            59,
            99,
            100,
            101,
            999,
            1_000,
            1_234,
            9_999,
            86_399,
            1_234_567_890,
        ] {
            let got: i64 = c
                .query_row(
                    &format!("SELECT {} FROM (SELECT ?1 AS s)", super::BUCKET),
                    [s],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(got, store::daily::bucket_floor(s), "{s}");
        }
    }
}
