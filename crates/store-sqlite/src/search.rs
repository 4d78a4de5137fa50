//! Searching declarations ([`store::search`]): the search text in a narrow side table kept by
//! triggers in the transaction of every write that changes what it is made of (the body, the
//! declaration number), and the query behind `Store::search`.

use rusqlite::types::Value::{self, Integer, Text};
use rusqlite::Connection;
use store::search::{Counted, SearchRequest, SortKey};
use store::*;

use super::{backend, corrupt, office_params, parse_direction};

/// The search text of a declaration row (`r`: `new`), ASCII lower case; empty for a body that
/// is not JSON (none is written, but a trigger must not fail a write).
macro_rules! search_text {
    ($r:literal) => {
        concat!(
            "lower(",
            $r,
            ".pre_entry_no || ' ' || coalesce(",
            $r,
            ".declaration_no, '') || ' ' || ",
            $r,
            ".declarant || ' ' || ",
            "CASE WHEN json_valid(",
            $r,
            ".body) THEN ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.contract_no'), '') || ' ' || ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.bill_no'), '') || ' ' || ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.trader.name'), '') || ' ' || ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.trader.uscc'), '') || ' ' || ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.owner.name'), '') || ' ' || ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.owner.uscc'), '') || ' ' || ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.agent.name'), '') || ' ' || ",
            "coalesce(json_extract(",
            $r,
            ".body, '$.agent.uscc'), '') ",
            "ELSE '' END)"
        )
    };
}

pub(crate) const MIGRATION: &str = concat!(
    "
    CREATE TABLE declaration_search (
        declaration_id INTEGER PRIMARY KEY REFERENCES declarations (id),
        text           TEXT NOT NULL
    );
    CREATE TRIGGER search_insert AFTER INSERT ON declarations BEGIN
        INSERT INTO declaration_search (declaration_id, text) VALUES (new.id, ",
    search_text!("new"),
    ");
    END;
    CREATE TRIGGER search_update AFTER UPDATE OF body, declaration_no ON declarations
    WHEN old.body IS NOT new.body OR old.declaration_no IS NOT new.declaration_no
    BEGIN
        UPDATE declaration_search SET text = ",
    search_text!("new"),
    " WHERE declaration_id = new.id;
    END;
    INSERT INTO declaration_search (declaration_id, text) SELECT id, ",
    search_text!("declarations"),
    " FROM declarations;
    -- Documents attached to declarations (crate::attachments), stored whole with their checksum.",
    "
    CREATE TABLE attachments (
        id             INTEGER PRIMARY KEY,
        declaration_id INTEGER NOT NULL REFERENCES declarations (id),
        name           TEXT NOT NULL,
        content_type   TEXT NOT NULL,
        size           INTEGER NOT NULL,
        sha256         TEXT NOT NULL,
        uploaded_by    TEXT NOT NULL,
        uploaded_at_ms INTEGER NOT NULL,
        data           BLOB NOT NULL
    );
    CREATE INDEX attachments_declaration ON attachments (declaration_id, id);
"
);

fn sort_column(k: SortKey) -> &'static str {
    match k {
        SortKey::SubmittedAt => "submitted_at_ms",
        SortKey::PreEntryNo => "pre_entry_no",
        SortKey::DeclarationNo => "declaration_no",
        SortKey::Declarant => "declarant",
        SortKey::DeclarationOffice => "declaration_office",
        SortKey::Direction => "direction",
        SortKey::Status => "status",
        SortKey::Lane => "lane",
    }
}

pub(crate) fn search(
    c: &Connection,
    req: &SearchRequest,
) -> Result<Counted<DeclarationSummary>, StoreError> {
    req.check()?;
    let f = &req.filter;
    let mut wh = String::from(" WHERE 1=1");
    let mut args: Vec<Value> = Vec::new();
    let mut push = |clause: &str, v: Value, wh: &mut String| {
        args.push(v);
        wh.push_str(&format!(" AND {clause} ?{}", args.len()));
    };
    if let Some(s) = f.status {
        push("status =", Text(s.as_str().into()), &mut wh);
    }
    if let Some(l) = f.lane {
        push("lane =", Text(l.as_str().into()), &mut wh);
    }
    if let Some(o) = f.declaration_office {
        push("declaration_office =", Text(o.to_string()), &mut wh);
    }
    if let Some(u) = f.declarant {
        push("declarant =", Text(u.to_string()), &mut wh);
    }
    if let Some(t) = f.submitted_from {
        push("submitted_at_ms >=", Integer(to_ms(t)), &mut wh);
    }
    if let Some(t) = f.submitted_to {
        push("submitted_at_ms <", Integer(to_ms(t)), &mut wh);
    }
    if let Some(offices) = &f.offices {
        let Some(list) = office_params(offices, &mut args)? else {
            return Ok(Counted {
                items: Vec::new(),
                total: 0,
            });
        };
        wh.push_str(&format!(" AND declaration_office IN ({list})"));
    }
    if let Some(code) = &req.commodity {
        // Digits only (checked above): a prefix with no wildcard in it. CASE: a body that is
        // not JSON (none is written) is not read.
        args.push(Text(format!("{code}%")));
        wh.push_str(&format!(
            " AND CASE WHEN json_valid(body) THEN EXISTS (SELECT 1 FROM json_each(body, '$.items') \
             WHERE json_extract(value, '$.commodity_code') LIKE ?{}) ELSE 0 END",
            args.len()
        ));
    }
    if let Some(country) = &req.country {
        args.push(Text(country.clone()));
        wh.push_str(&format!(
            " AND CASE WHEN json_valid(body) THEN json_extract(body, '$.trading_country') = ?{} ELSE 0 END",
            args.len()
        ));
    }
    let patterns = req.like_patterns();
    if !patterns.is_empty() {
        let mut sub = String::from("SELECT declaration_id FROM declaration_search WHERE 1=1");
        for p in patterns {
            args.push(Text(p));
            sub.push_str(&format!(" AND text LIKE ?{} ESCAPE '\\'", args.len()));
        }
        wh.push_str(&format!(" AND id IN ({sub})"));
    }
    let dir = if req.descending { "DESC" } else { "ASC" };
    let col = sort_column(req.sort);
    let sql = format!(
        "SELECT id, pre_entry_no, declaration_no, declarant, direction, declaration_office, status, lane, submitted_at_ms, version FROM declarations{wh} ORDER BY {col} {dir} NULLS LAST, id {dir} LIMIT {} OFFSET {}",
        req.limit, req.offset
    );
    let count_sql = format!("SELECT count(*) FROM declarations{wh}");
    // The count and the page from one snapshot.
    let tx = c.unchecked_transaction().map_err(backend)?;
    let c = &*tx;
    let total: i64 = c
        .prepare_cached(&count_sql)
        .map_err(backend)?
        .query_row(rusqlite::params_from_iter(args.iter()), |r| r.get(0))
        .map_err(backend)?;
    let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, Option<String>>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, i64>(9)?,
            ))
        })
        .map_err(backend)?;
    let mut items = Vec::new();
    for row in rows {
        let (id, pre, dno, declarant, direction, office, status, lane, submitted, version) =
            row.map_err(backend)?;
        items.push(DeclarationSummary {
            id: DeclarationId(id),
            pre_entry_no: domain::codes::PreEntryNo::parse(&pre).map_err(corrupt)?,
            declaration_no: dno
                .as_deref()
                .map(domain::codes::DeclarationNo::parse)
                .transpose()
                .map_err(corrupt)?,
            declarant: domain::codes::Uscc::parse(&declarant).map_err(corrupt)?,
            direction: parse_direction(&direction)?,
            declaration_office: domain::codes::OfficeCode::parse(&office).map_err(corrupt)?,
            status: clearance::Status::parse(&status)
                .ok_or_else(|| corrupt(format!("status {status}")))?,
            lane: lane
                .as_deref()
                .map(|l| clearance::Lane::parse(l).ok_or_else(|| corrupt(format!("lane {l}"))))
                .transpose()?,
            submitted_at: from_ms(submitted)?,
            version: version as u64,
        });
    }
    drop(stmt);
    tx.finish().map_err(backend)?;
    Ok(Counted {
        items,
        total: total as u64,
    })
}
