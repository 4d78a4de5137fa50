//! [`PartiesStore`] on SQLite (store::parties, store::cases): powers of attorney with their use,
//! the declarations brokers filed under them, the case register (one JSON document per case)
//! and the credit changes penalties trigger. The one writer decides every change on the rows as
//! they stand inside its transaction: a filing under an authority is checked and counted in the
//! filing's own savepoint ([`admit`], [`record_filing`]), so a revocation that committed first
//! refuses it.

use rusqlite::{params, Connection, OptionalExtension};
use store::cases::{self, CaseFilter, CaseWrite, CreditChange, StoredCase};
use store::parties::*;

use super::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE authorities (
        id                INTEGER PRIMARY KEY,
        grantor           TEXT NOT NULL,
        broker            TEXT NOT NULL,
        scope             TEXT NOT NULL,
        granted_at_ms     INTEGER NOT NULL,
        granted_by        TEXT NOT NULL,
        revoked_at_ms     INTEGER,
        revoked_by        TEXT,
        used_declarations INTEGER NOT NULL DEFAULT 0,
        used_value_fen    INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX authorities_grantor ON authorities (grantor, id);
    CREATE INDEX authorities_broker ON authorities (broker, id);

    CREATE TABLE agent_filings (
        declaration_id INTEGER PRIMARY KEY REFERENCES declarations (id),
        authority_id   INTEGER NOT NULL REFERENCES authorities (id),
        broker         TEXT NOT NULL,
        login          TEXT NOT NULL
    );
    CREATE INDEX agent_filings_broker ON agent_filings (broker, declaration_id);

    CREATE TABLE cases (
        id      INTEGER PRIMARY KEY,
        case_no TEXT NOT NULL UNIQUE,
        office  TEXT NOT NULL,
        year    INTEGER NOT NULL,
        status  TEXT NOT NULL,
        version INTEGER NOT NULL,
        body    TEXT NOT NULL
    );
    CREATE INDEX cases_office ON cases (office, year);

    CREATE TABLE credit_history (
        id     INTEGER PRIMARY KEY,
        uscc   TEXT NOT NULL,
        change TEXT NOT NULL
    );
    CREATE INDEX credit_history_uscc ON credit_history (uscc, id);
"#;

const AUTHORITY_COLUMNS: &str = "id, grantor, broker, scope, granted_at_ms, granted_by, revoked_at_ms, revoked_by, used_declarations, used_value_fen";

fn read_authority(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawAuthority> {
    Ok(RawAuthority {
        id: r.get(0)?,
        grantor: r.get(1)?,
        broker: r.get(2)?,
        scope: r.get(3)?,
        granted_at_ms: r.get(4)?,
        granted_by: r.get(5)?,
        revoked_at_ms: r.get(6)?,
        revoked_by: r.get(7)?,
        used_declarations: r.get(8)?,
        used_value_fen: r.get(9)?,
    })
}

struct RawAuthority {
    id: i64,
    grantor: String,
    broker: String,
    scope: String,
    granted_at_ms: i64,
    granted_by: String,
    revoked_at_ms: Option<i64>,
    revoked_by: Option<String>,
    used_declarations: i64,
    used_value_fen: i64,
}

impl RawAuthority {
    fn typed(self) -> Result<StoredAuthority, StoreError> {
        Ok(StoredAuthority {
            id: self.id,
            grantor: Uscc::parse(&self.grantor).map_err(corrupt)?,
            broker: Uscc::parse(&self.broker).map_err(corrupt)?,
            scope: serde_json::from_str(&self.scope)
                .map_err(|e| corrupt(format!("authority {} scope: {e}", self.id)))?,
            granted_at: from_ms(self.granted_at_ms)?,
            granted_by: self.granted_by,
            revoked_at: self.revoked_at_ms.map(from_ms).transpose()?,
            revoked_by: self.revoked_by,
            used_declarations: self.used_declarations as u64,
            used_value_fen: Fen(self.used_value_fen),
        })
    }
}

fn load_authority(c: &Connection, id: i64) -> Result<Option<StoredAuthority>, StoreError> {
    c.prepare_cached(&format!(
        "SELECT {AUTHORITY_COLUMNS} FROM authorities WHERE id = ?1"
    ))
    .map_err(backend)?
    .query_row([id], read_authority)
    .optional()
    .map_err(backend)?
    .map(RawAuthority::typed)
    .transpose()
}

pub(super) fn grant(
    c: &Connection,
    head: &mut ChainHead,
    (new, actor, now): &(NewAuthority, Actor, DateTime<Utc>),
) -> Result<StoredAuthority, StoreError> {
    check_scope(new).map_err(|mut v| StoreError::Authority(v.remove(0)))?;
    c.prepare_cached(
        "INSERT INTO authorities (grantor, broker, scope, granted_at_ms, granted_by) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(backend)?
    .execute(params![
        new.grantor.to_string(),
        new.broker.to_string(),
        serde_json::to_string(&new.scope).map_err(|e| StoreError::Invalid(e.to_string()))?,
        to_ms(*now),
        actor.label(),
    ])
    .map_err(backend)?;
    let id = c.last_insert_rowid();
    let a = load_authority(c, id)?.ok_or_else(|| corrupt("authority vanished"))?;
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "authority.grant",
        &format!("authority:{id}"),
        detail(&a),
    )?;
    Ok(a)
}

pub(super) fn revoke(
    c: &Connection,
    head: &mut ChainHead,
    (id, by, actor, now): &(i64, Uscc, Actor, DateTime<Utc>),
) -> Result<StoredAuthority, StoreError> {
    let a = load_authority(c, *id)?
        .ok_or_else(|| StoreError::NotFound(format!("power of attorney {id}")))?;
    revocation(&a, *by).map_err(StoreError::Authority)?;
    c.prepare_cached(
        "UPDATE authorities SET revoked_at_ms = ?2, revoked_by = ?3 WHERE id = ?1 AND revoked_at_ms IS NULL",
    )
    .map_err(backend)?
    .execute(params![id, to_ms(*now), actor.label()])
    .map_err(backend)?;
    let a = load_authority(c, *id)?.ok_or_else(|| corrupt("authority vanished"))?;
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "authority.revoke",
        &format!("authority:{id}"),
        detail(&a),
    )?;
    Ok(a)
}

/// The authority a broker's filing goes under, checked as it stands in the filing's
/// transaction.
pub(super) fn admit_filing(
    c: &Connection,
    req: &SubmitRequest,
    agent: &AgentFiling,
) -> Result<(), StoreError> {
    let a = load_authority(c, agent.authority)?.ok_or(StoreError::Authority(
        AuthorityRefusal::NoAuthority {
            declarant: req.declarant,
            broker: agent.broker,
        },
    ))?;
    admit(&a, req, agent).map_err(StoreError::Authority)
}

/// A new filing under an authority: the broker's row, the authority's use, the audit record.
pub(super) fn record_filing(
    c: &Connection,
    head: &mut ChainHead,
    id: i64,
    req: &SubmitRequest,
    agent: &AgentFiling,
    status: clearance::Status,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO agent_filings (declaration_id, authority_id, broker, login) VALUES (?1, ?2, ?3, ?4)",
    )
    .map_err(backend)?
    .execute(params![
        id,
        agent.authority,
        agent.broker.to_string(),
        agent.login
    ])
    .map_err(backend)?;
    let counted = counts_against(req, status, false);
    if let Some(value) = counted {
        c.prepare_cached(
            "UPDATE authorities SET used_declarations = used_declarations + 1, used_value_fen = used_value_fen + ?2 WHERE id = ?1",
        )
        .map_err(backend)?
        .execute(params![agent.authority, value.0])
        .map_err(backend)?;
    }
    audit(
        c,
        head,
        req.now,
        &req.actor.label(),
        "authority.file",
        &format!("declaration:{id}"),
        filing_detail(agent.authority, &agent.login, counted),
    )
}

fn load_case(c: &Connection, id: i64) -> Result<Option<StoredCase>, StoreError> {
    c.prepare_cached("SELECT body FROM cases WHERE id = ?1")
        .map_err(backend)?
        .query_row([id], |r| r.get::<_, String>(0))
        .optional()
        .map_err(backend)?
        .map(|b| serde_json::from_str(&b).map_err(|e| corrupt(format!("case {id}: {e}"))))
        .transpose()
}

/// The case numbered `case_no`, read on the writer's connection (inside its transaction).
pub(super) fn case_by_no_in(
    c: &Connection,
    case_no: &str,
) -> Result<Option<StoredCase>, StoreError> {
    Ok(cases_where(
        c,
        "SELECT body FROM cases WHERE case_no = ?1",
        &[rusqlite::types::Value::Text(case_no.to_owned())],
    )?
    .pop())
}

pub(super) fn case_step(
    c: &Connection,
    head: &mut ChainHead,
    w: &CaseWrite,
) -> Result<StoredCase, StoreError> {
    let (current, opened) = match (&w.step, w.case) {
        (cases::CaseStep::Open { office, .. }, None) => {
            let year = domain::time::china_year(w.now);
            let n: i64 = c
                .prepare_cached("SELECT COUNT(*) FROM cases WHERE office = ?1 AND year = ?2")
                .map_err(backend)?
                .query_row(params![office.to_string(), year], |r| r.get(0))
                .map_err(backend)?;
            let id: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM cases")
                .map_err(backend)?
                .query_row([], |r| r.get(0))
                .map_err(backend)?;
            (
                None,
                Some((id, cases::case_no(*office, year, n as u32 + 1))),
            )
        }
        (_, Some(id)) => (
            Some(load_case(c, id)?.ok_or_else(|| StoreError::NotFound(format!("case {id}")))?),
            None,
        ),
        (_, None) => return Err(StoreError::NotFound("case".into())),
    };
    let mut case = cases::decide(current.as_ref(), opened, w).map_err(StoreError::Case)?;
    let case_no = case.case_no.clone();
    if let Some(p) = cases::new_penalty(&mut case, &w.step) {
        let from = super::aeo::current_class(c, p.party)?;
        p.credit = super::aeo::record_credit(
            c,
            head,
            p.party,
            from,
            cases::downgrade(from, p.kind),
            &store::aeo::CreditTrigger::Penalty {
                case_no: case_no.clone(),
                no: p.no,
            },
            &w.actor,
            w.now,
            true,
        )?;
    }
    // A case opened against an enterprise (linked to it) takes a certified one down to the
    // general class (store::aeo::after_case).
    if let cases::CaseStep::Link {
        kind: cases::LinkKind::Enterprise,
        reference,
        ..
    } = &w.step
    {
        let uscc = Uscc::parse(reference).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let from = super::aeo::current_class(c, uscc)?;
        super::aeo::record_credit(
            c,
            head,
            uscc,
            from,
            store::aeo::after_case(from),
            &store::aeo::CreditTrigger::Case {
                case_no: case_no.clone(),
            },
            &w.actor,
            w.now,
            false,
        )?;
    }
    let body = serde_json::to_string(&case).map_err(|e| StoreError::Invalid(e.to_string()))?;
    if current.is_none() {
        c.prepare_cached(
            "INSERT INTO cases (id, case_no, office, year, status, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(backend)?
        .execute(params![
            case.id,
            case.case_no,
            case.office.to_string(),
            domain::time::china_year(w.now),
            case.status.as_str(),
            case.version as i64,
            body
        ])
        .map_err(backend)?;
    } else {
        c.prepare_cached("UPDATE cases SET status = ?2, version = ?3, body = ?4 WHERE id = ?1")
            .map_err(backend)?
            .execute(params![
                case.id,
                case.status.as_str(),
                case.version as i64,
                body
            ])
            .map_err(backend)?;
    }
    audit(
        c,
        head,
        w.now,
        &w.actor.label(),
        &format!("case.{}", w.step.name()),
        &format!("case:{}", case.id),
        cases::detail(&case, &w.step),
    )?;
    Ok(case)
}

fn cases_where(
    c: &Connection,
    sql: &str,
    args: &[rusqlite::types::Value],
) -> Result<Vec<StoredCase>, StoreError> {
    let mut stmt = c.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            r.get::<_, String>(0)
        })
        .map_err(backend)?;
    let mut out = Vec::new();
    for b in rows {
        let b = b.map_err(backend)?;
        out.push(serde_json::from_str(&b).map_err(|e| corrupt(format!("case: {e}")))?);
    }
    Ok(out)
}

impl PartiesStore for SqliteStore {
    fn authority(&self, id: i64) -> Result<Option<StoredAuthority>, StoreError> {
        self.read(|c| load_authority(c, id))
    }

    fn authorities(&self, filter: AuthorityFilter) -> Result<Vec<StoredAuthority>, StoreError> {
        let (clause, args) = match filter {
            AuthorityFilter::Grantor(g) => ("grantor = ?1", vec![g.to_string()]),
            AuthorityFilter::Broker(b) => ("broker = ?1", vec![b.to_string()]),
            AuthorityFilter::Between { grantor, broker } => (
                "grantor = ?1 AND broker = ?2",
                vec![grantor.to_string(), broker.to_string()],
            ),
        };
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {AUTHORITY_COLUMNS} FROM authorities WHERE {clause} ORDER BY id DESC LIMIT {AUTHORITIES_MAX}"
                ))
                .map_err(backend)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), read_authority)
                .map_err(backend)?;
            let mut out = Vec::new();
            for r in rows {
                out.push(r.map_err(backend)?.typed()?);
            }
            Ok(out)
        })
    }

    fn agent_declarations(
        &self,
        broker: Uscc,
        limit: u32,
    ) -> Result<Vec<DeclarationId>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT declaration_id FROM agent_filings WHERE broker = ?1 ORDER BY declaration_id DESC LIMIT ?2",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![broker.to_string(), limit], |r| r.get::<_, i64>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for r in rows {
                out.push(DeclarationId(r.map_err(backend)?));
            }
            Ok(out)
        })
    }

    fn case(&self, id: i64) -> Result<Option<StoredCase>, StoreError> {
        self.read(|c| load_case(c, id))
    }

    fn case_by_no(&self, case_no: &str) -> Result<Option<StoredCase>, StoreError> {
        self.read(|c| {
            Ok(cases_where(
                c,
                "SELECT body FROM cases WHERE case_no = ?1",
                &[rusqlite::types::Value::Text(case_no.to_owned())],
            )?
            .pop())
        })
    }

    fn cases(&self, filter: &CaseFilter) -> Result<Vec<StoredCase>, StoreError> {
        use rusqlite::types::Value::Text;
        let mut sql = String::from("SELECT body FROM cases WHERE 1=1");
        let mut args = Vec::new();
        if let Some(s) = filter.status {
            args.push(Text(s.as_str().into()));
            sql.push_str(&format!(" AND status = ?{}", args.len()));
        }
        if let Some(offices) = &filter.offices {
            let Some(list) = office_params(offices, &mut args)? else {
                return Ok(Vec::new());
            };
            sql.push_str(&format!(" AND office IN ({list})"));
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", cases::CASES_MAX));
        self.read(|c| cases_where(c, &sql, &args))
    }

    fn certification(
        &self,
        id: i64,
    ) -> Result<Option<store::aeo::StoredCertification>, StoreError> {
        self.certification_by_id(id)
    }

    fn certifications(
        &self,
        filter: &store::aeo::AeoFilter,
    ) -> Result<Vec<store::aeo::StoredCertification>, StoreError> {
        self.certification_list(filter)
    }

    fn credit_history(&self, uscc: Uscc) -> Result<Vec<CreditChange>, StoreError> {
        self.read(|c| {
            let mut stmt = c
                .prepare_cached("SELECT change FROM credit_history WHERE uscc = ?1 ORDER BY id")
                .map_err(backend)?;
            let rows = stmt
                .query_map([uscc.to_string()], |r| r.get::<_, String>(0))
                .map_err(backend)?;
            let mut out = Vec::new();
            for r in rows {
                let r = r.map_err(backend)?;
                out.push(
                    serde_json::from_str(&r).map_err(|e| corrupt(format!("credit change: {e}")))?,
                );
            }
            Ok(out)
        })
    }

    fn registration(
        &self,
        id: i64,
    ) -> Result<Option<store::registration::StoredRegistration>, StoreError> {
        self.registration_by_id(id)
    }

    fn registration_by_uscc(
        &self,
        uscc: Uscc,
    ) -> Result<Option<store::registration::StoredRegistration>, StoreError> {
        self.registration_of(uscc)
    }

    fn registrations(
        &self,
        filter: &store::registration::RegistrationFilter,
    ) -> Result<Vec<store::registration::StoredRegistration>, StoreError> {
        self.registration_list(filter)
    }

    fn enterprise_accounts(&self, uscc: Uscc) -> Result<Vec<Account>, StoreError> {
        self.accounts_of(uscc)
    }
}
