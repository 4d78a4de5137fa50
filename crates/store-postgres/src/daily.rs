//! The dashboard's daily aggregates on PostgreSQL (`store::daily`): four small tables keyed by
//! Beijing day and office, backfilled from the rows by the migration that creates them, and
//! kept in the transaction of every write: new rows by the writer, one multi-row upsert per
//! table for a whole group of filings ([`write_delta`], pipelined with the group's inserts,
//! inside its savepoint); updates (status, lane, number, a new version's body: one row at a
//! time) by the row trigger `stats_track` on `declarations`. Until migration 18 the trigger
//! fired for inserts too: a PL/pgSQL call and four upserts per row cost the store 60 % of its
//! filing rate (docs/BENCHMARKS.md, session 7).

use clearance::{Lane, Status};
use domain::codes::OfficeCode;
use store::daily::{ClearanceBucket, DailyStats, DayQuery, Delta};
use store::{CountRow, StoreError, OFFICES_MAX};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use crate::{backend, corrupt, PostgresStore};

/// The writer's upserts of a group's [`Delta`], one row per distinct key (`$1..`: arrays).
pub(crate) const UPSERT_COUNTS: &str =
    "INSERT INTO stats_counts AS c (day, office, status, lane, numbered, n)
     SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::int8[])
     ON CONFLICT (day, office, status, lane, numbered) DO UPDATE SET n = c.n + excluded.n";
pub(crate) const UPSERT_CLEARANCE: &str =
    "INSERT INTO stats_clearance AS c (day, office, floor_s, n)
     SELECT * FROM unnest($1::int4[], $2::text[], $3::int8[], $4::int8[])
     ON CONFLICT (day, office, floor_s) DO UPDATE SET n = c.n + excluded.n";
pub(crate) const UPSERT_COMMODITIES: &str =
    "INSERT INTO stats_commodities AS c (day, office, code, n)
     SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[])
     ON CONFLICT (day, office, code) DO UPDATE SET n = c.n + excluded.n";
pub(crate) const UPSERT_PARTNERS: &str = "INSERT INTO stats_partners AS c (day, office, country, n)
     SELECT * FROM unnest($1::int4[], $2::text[], $3::text[], $4::int8[])
     ON CONFLICT (day, office, country) DO UPDATE SET n = c.n + excluded.n";

/// Migration 19 (issue 16): new rows are counted by the writer ([`write_delta`]), once per
/// group; the trigger keeps counting updates only.
pub(crate) const MIGRATION_WRITER_COUNTS: &str = "
    DROP TRIGGER stats_track ON declarations;
    CREATE TRIGGER stats_track AFTER UPDATE ON declarations
        FOR EACH ROW EXECUTE FUNCTION stats_track();
";

/// The writer's prepared upserts ([`UPSERT_COUNTS`] …).
pub(crate) struct Upserts {
    pub counts: Statement,
    pub clearance: Statement,
    pub commodities: Statement,
    pub partners: Statement,
}

impl Upserts {
    pub(crate) async fn prepare(c: &Client) -> Result<Upserts, StoreError> {
        Ok(Upserts {
            counts: c.prepare(UPSERT_COUNTS).await.map_err(backend)?,
            clearance: c.prepare(UPSERT_CLEARANCE).await.map_err(backend)?,
            commodities: c.prepare(UPSERT_COMMODITIES).await.map_err(backend)?,
            partners: c.prepare(UPSERT_PARTNERS).await.map_err(backend)?,
        })
    }
}

/// A day number as the tables keep it (any date chrono represents fits in 32 bits).
fn day(d: i64) -> i32 {
    i32::try_from(d).unwrap_or(if d < 0 { i32::MIN } else { i32::MAX })
}

/// Add a group's increments to the aggregate tables: at most one statement per table, sent
/// pipelined (the caller polls this before its savepoint's release).
pub(crate) async fn write_delta(
    c: &Client,
    st: &Upserts,
    delta: &Delta,
) -> Result<(), tokio_postgres::Error> {
    let (mut cd, mut co, mut cs, mut cl, mut cnum, mut cn) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for ((d, office, status, lane, numbered), n) in delta.counts() {
        cd.push(day(*d));
        co.push(office.as_str());
        cs.push(*status);
        cl.push(*lane);
        cnum.push(*numbered);
        cn.push(n);
    }
    let (mut kd, mut ko, mut kf, mut kn) = (vec![], vec![], vec![], vec![]);
    for ((d, office, floor), n) in delta.clearance() {
        kd.push(day(*d));
        ko.push(office.as_str());
        kf.push(*floor);
        kn.push(n);
    }
    let codes = |it: &mut dyn Iterator<Item = (&(i64, String, String), i64)>| {
        let (mut d, mut o, mut k, mut n) = (vec![], vec![], vec![], vec![]);
        for ((dd, office, code), nn) in it {
            d.push(day(*dd));
            o.push(office.clone());
            k.push(code.clone());
            n.push(nn);
        }
        (d, o, k, n)
    };
    let goods = codes(&mut delta.commodities());
    let partners = codes(&mut delta.partners());
    let counts_params: [&(dyn ToSql + Sync); 6] = [&cd, &co, &cs, &cl, &cnum, &cn];
    let clearance_params: [&(dyn ToSql + Sync); 4] = [&kd, &ko, &kf, &kn];
    let goods_params: [&(dyn ToSql + Sync); 4] = [&goods.0, &goods.1, &goods.2, &goods.3];
    let partner_params: [&(dyn ToSql + Sync); 4] =
        [&partners.0, &partners.1, &partners.2, &partners.3];
    let (a, b, g, p) = tokio::join!(
        biased;
        async {
            match cd.is_empty() {
                true => Ok(0),
                false => c.execute(&st.counts, &counts_params).await,
            }
        },
        async {
            match kd.is_empty() {
                true => Ok(0),
                false => c.execute(&st.clearance, &clearance_params).await,
            }
        },
        async {
            match goods.0.is_empty() {
                true => Ok(0),
                false => c.execute(&st.commodities, &goods_params).await,
            }
        },
        async {
            match partners.0.is_empty() {
                true => Ok(0),
                false => c.execute(&st.partners, &partner_params).await,
            }
        },
    );
    a?;
    b?;
    g?;
    p?;
    Ok(())
}

/// Migration 14: the tables, the functions and trigger that keep them, the backfill.
pub(crate) const MIGRATION: &str = r#"
    CREATE TABLE stats_counts (
        day      integer NOT NULL,
        office   text NOT NULL,
        status   text NOT NULL,
        lane     text NOT NULL, -- '' when none
        numbered boolean NOT NULL,
        n        bigint NOT NULL,
        PRIMARY KEY (day, office, status, lane, numbered)
    );
    CREATE TABLE stats_clearance (
        day     integer NOT NULL,
        office  text NOT NULL,
        floor_s bigint NOT NULL,
        n       bigint NOT NULL,
        PRIMARY KEY (day, office, floor_s)
    );
    CREATE TABLE stats_commodities (
        day    integer NOT NULL,
        office text NOT NULL,
        code   text NOT NULL,
        n      bigint NOT NULL,
        PRIMARY KEY (day, office, code)
    );
    CREATE TABLE stats_partners (
        day     integer NOT NULL,
        office  text NOT NULL,
        country text NOT NULL,
        n       bigint NOT NULL,
        PRIMARY KEY (day, office, country)
    );

    -- store::daily::day_of
    CREATE FUNCTION stats_day(at timestamptz) RETURNS integer LANGUAGE sql IMMUTABLE AS $f$
        SELECT ((floor(extract(epoch FROM at) * 1000)::bigint + 28800000) / 86400000)::integer
    $f$;
    -- store::daily::bucket_floor
    CREATE FUNCTION stats_bucket(s bigint) RETURNS bigint LANGUAGE sql IMMUTABLE AS $f$
        SELECT CASE WHEN s < 100 THEN greatest(s, 0)
                    ELSE substr(s::text, 1, 2)::bigint * (10::bigint ^ (length(s::text) - 2))::bigint END
    $f$;
    -- Seconds from submission to release of a state (NULL unless both are set), toward zero.
    CREATE FUNCTION stats_clearance_seconds(state jsonb) RETURNS bigint LANGUAGE sql STABLE AS $f$
        -- (`greatest` would turn a NULL into 0: it ignores NULLs.)
        SELECT CASE WHEN s IS NULL THEN NULL ELSE greatest(0, s) END FROM (SELECT trunc(extract(epoch FROM
            (state->>'released_at')::timestamptz - (state->>'submitted_at')::timestamptz))::bigint AS s) t
    $f$;

    -- Add `sign` (1 or -1) of row `d` to the parts asked.
    CREATE FUNCTION stats_apply(d declarations, sign integer, counts boolean, clearance boolean, goods boolean)
    RETURNS void LANGUAGE plpgsql AS $f$
    DECLARE
        v_day integer := stats_day(d.submitted_at);
        v_s bigint;
    BEGIN
        IF counts THEN
            INSERT INTO stats_counts AS c (day, office, status, lane, numbered, n)
            VALUES (v_day, d.declaration_office, d.status, coalesce(d.lane, ''), d.declaration_no IS NOT NULL, sign)
            ON CONFLICT (day, office, status, lane, numbered) DO UPDATE SET n = c.n + excluded.n;
        END IF;
        IF clearance THEN
            v_s := stats_clearance_seconds(d.state);
            IF v_s IS NOT NULL THEN
                INSERT INTO stats_clearance AS c (day, office, floor_s, n)
                VALUES (v_day, d.declaration_office, stats_bucket(v_s), sign)
                ON CONFLICT (day, office, floor_s) DO UPDATE SET n = c.n + excluded.n;
            END IF;
        END IF;
        IF goods AND d.declaration_no IS NOT NULL THEN
            IF json_typeof(d.body->'items') = 'array' THEN
                INSERT INTO stats_commodities AS c (day, office, code, n)
                SELECT v_day, d.declaration_office, i->>'commodity_code', sign * count(*)
                FROM json_array_elements(d.body->'items') AS i
                WHERE json_typeof(i->'commodity_code') = 'string'
                GROUP BY i->>'commodity_code'
                ON CONFLICT (day, office, code) DO UPDATE SET n = c.n + excluded.n;
            END IF;
            IF json_typeof(d.body->'trading_country') = 'string' THEN
                INSERT INTO stats_partners AS c (day, office, country, n)
                VALUES (v_day, d.declaration_office, d.body->>'trading_country', sign)
                ON CONFLICT (day, office, country) DO UPDATE SET n = c.n + excluded.n;
            END IF;
        END IF;
    END
    $f$;

    -- Its statements' plans are cached, as usual for PL/pgSQL (the store's connections plan
    -- their own statements per execution, `plan_cache_mode`, which would re-plan these for
    -- every row): they touch the small aggregate tables by primary key only.
    CREATE FUNCTION stats_track() RETURNS trigger LANGUAGE plpgsql
    SET plan_cache_mode = auto AS $f$
    DECLARE
        moved boolean;
        counts boolean;
        clearance boolean;
        goods boolean;
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM stats_apply(new, 1, true, true, true);
            RETURN NULL;
        END IF;
        moved := old.declaration_office IS DISTINCT FROM new.declaration_office
              OR old.submitted_at IS DISTINCT FROM new.submitted_at;
        counts := moved OR old.status IS DISTINCT FROM new.status OR old.lane IS DISTINCT FROM new.lane
              OR (old.declaration_no IS NULL) <> (new.declaration_no IS NULL);
        -- The release time is set with a change of status: the state is read only then.
        clearance := moved OR (old.status IS DISTINCT FROM new.status
              AND stats_clearance_seconds(old.state) IS DISTINCT FROM stats_clearance_seconds(new.state));
        goods := moved OR (old.declaration_no IS NULL) <> (new.declaration_no IS NULL)
              OR old.body::text IS DISTINCT FROM new.body::text;
        IF counts OR clearance OR goods THEN
            PERFORM stats_apply(old, -1, counts, clearance, goods);
            PERFORM stats_apply(new, 1, counts, clearance, goods);
        END IF;
        RETURN NULL;
    END
    $f$;
    CREATE TRIGGER stats_track AFTER INSERT OR UPDATE ON declarations
        FOR EACH ROW EXECUTE FUNCTION stats_track();

    INSERT INTO stats_counts (day, office, status, lane, numbered, n)
    SELECT stats_day(submitted_at), declaration_office, status, coalesce(lane, ''), declaration_no IS NOT NULL, count(*)
    FROM declarations GROUP BY 1, 2, 3, 4, 5;
    INSERT INTO stats_clearance (day, office, floor_s, n)
    SELECT stats_day(submitted_at), declaration_office, stats_bucket(stats_clearance_seconds(state)), count(*)
    FROM declarations WHERE stats_clearance_seconds(state) IS NOT NULL GROUP BY 1, 2, 3;
    INSERT INTO stats_commodities (day, office, code, n)
    SELECT stats_day(d.submitted_at), d.declaration_office, i->>'commodity_code', count(*)
    FROM declarations d, json_array_elements(CASE WHEN json_typeof(d.body->'items') = 'array' THEN d.body->'items' ELSE '[]'::json END) AS i
    WHERE d.declaration_no IS NOT NULL AND json_typeof(i->'commodity_code') = 'string'
    GROUP BY 1, 2, 3;
    INSERT INTO stats_partners (day, office, country, n)
    SELECT stats_day(submitted_at), declaration_office, body->>'trading_country', count(*)
    FROM declarations WHERE declaration_no IS NOT NULL AND json_typeof(body->'trading_country') = 'string'
    GROUP BY 1, 2, 3;
"#;

impl PostgresStore {
    /// `Store::daily_stats`.
    pub(crate) fn read_daily(&self, q: &DayQuery) -> Result<DailyStats, StoreError> {
        let from =
            i32::try_from(q.from).map_err(|_| StoreError::Invalid("day out of range".into()))?;
        let to = i32::try_from(q.to).map_err(|_| StoreError::Invalid("day out of range".into()))?;
        let offices: Option<Vec<String>> = match &q.offices {
            None => None,
            Some(list) if list.len() > OFFICES_MAX => {
                return Err(StoreError::Invalid(format!(
                    "at most {OFFICES_MAX} offices in a filter"
                )))
            }
            Some(list) if list.is_empty() => return Ok(DailyStats::default()),
            Some(list) => Some(list.iter().map(|o| o.to_string()).collect()),
        };
        let filter = "day >= $1 AND day < $2 AND ($3::text[] IS NULL OR office = ANY($3))";
        let args = || -> Vec<Box<dyn ToSql + Send + Sync>> {
            vec![Box::new(from), Box::new(to), Box::new(offices.clone())]
        };
        let office = |s: &str| OfficeCode::parse(s).map_err(corrupt);
        let count = |n: i64| u64::try_from(n).map_err(corrupt);

        let mut out = DailyStats::default();
        for r in self.query_owned(
            format!(
                "SELECT office, status, lane, numbered, sum(n)::bigint FROM stats_counts WHERE {filter}
                 GROUP BY office, status, lane, numbered HAVING sum(n) <> 0"
            ),
            args(),
        )? {
            let status: &str = r.get(1);
            let lane: &str = r.get(2);
            out.counts.push(CountRow {
                office: office(r.get(0))?,
                status: Status::parse(status).ok_or_else(|| corrupt(format!("status {status}")))?,
                lane: if lane.is_empty() {
                    None
                } else {
                    Some(Lane::parse(lane).ok_or_else(|| corrupt(format!("lane {lane}")))?)
                },
                numbered: r.get(3),
                count: count(r.get(4))?,
            });
        }
        for r in self.query_owned(
            format!(
                "SELECT office, floor_s, sum(n)::bigint FROM stats_clearance WHERE {filter}
                 GROUP BY office, floor_s HAVING sum(n) <> 0"
            ),
            args(),
        )? {
            out.clearance.push(ClearanceBucket {
                office: office(r.get(0))?,
                floor_seconds: r.get(1),
                count: count(r.get(2))?,
            });
        }
        for (table, key) in [("stats_commodities", "code"), ("stats_partners", "country")] {
            let rows = self.query_owned(
                format!(
                    "SELECT {key}, sum(n)::bigint FROM {table} WHERE {filter} GROUP BY {key} HAVING sum(n) <> 0"
                ),
                args(),
            )?;
            let into = if key == "code" {
                &mut out.commodities
            } else {
                &mut out.partners
            };
            for r in rows {
                into.push((r.get(0), count(r.get(1))?));
            }
        }
        Ok(out)
    }
}
