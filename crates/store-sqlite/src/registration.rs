//! Customs registration on SQLite (store::registration): one JSON document per registration
//! with narrow columns (USCC and customs code unique, office, status), decided by
//! `store::registration::decide` inside the writer's transaction; an application writes its
//! first administrator's account and, when it takes effect, the customs code counted from the
//! codes already given with the same first six digits, in the same savepoint. An enterprise
//! user's roles are replaced by the same writer.

use rusqlite::{params, Connection, OptionalExtension};
use store::registration::{self, RegistrationFilter, RegistrationWrite, StoredRegistration};

use super::*;

pub(super) const MIGRATION: &str = r#"
    CREATE TABLE registrations (
        id           INTEGER PRIMARY KEY,
        uscc         TEXT NOT NULL UNIQUE,
        customs_code TEXT UNIQUE,
        office       TEXT NOT NULL,
        status       TEXT NOT NULL,
        version      INTEGER NOT NULL,
        body         TEXT NOT NULL
    );
    CREATE INDEX registrations_office ON registrations (office, id);
"#;

fn read_body(id: impl std::fmt::Display, b: &str) -> Result<StoredRegistration, StoreError> {
    serde_json::from_str(b).map_err(|e| corrupt(format!("registration {id}: {e}")))
}

fn one(
    c: &Connection,
    sql: &str,
    key: rusqlite::types::Value,
) -> Result<Option<StoredRegistration>, StoreError> {
    c.prepare_cached(sql)
        .map_err(backend)?
        .query_row([&key], |r| r.get::<_, String>(0))
        .optional()
        .map_err(backend)?
        .map(|b| read_body(format!("{key:?}"), &b))
        .transpose()
}

/// The newest registration of `uscc`, read on the writer's connection (inside its transaction).
pub(super) fn newest_in(
    c: &Connection,
    uscc: Uscc,
) -> Result<Option<StoredRegistration>, StoreError> {
    one(
        c,
        "SELECT body FROM registrations WHERE uscc = ?1 ORDER BY id DESC LIMIT 1",
        rusqlite::types::Value::Text(uscc.to_string()),
    )
}

pub(super) fn step(
    c: &Connection,
    head: &mut ChainHead,
    w: &RegistrationWrite,
) -> Result<StoredRegistration, StoreError> {
    let (current, id) = match (&w.step, w.registration) {
        (registration::RegistrationStep::Apply { uscc, .. }, None) => {
            let current = one(
                c,
                "SELECT body FROM registrations WHERE uscc = ?1 ORDER BY id DESC LIMIT 1",
                rusqlite::types::Value::Text(uscc.to_string()),
            )?;
            let id: i64 = c
                .prepare_cached("SELECT COALESCE(MAX(id), 0) + 1 FROM registrations")
                .map_err(backend)?
                .query_row([], |r| r.get(0))
                .map_err(backend)?;
            (current, id)
        }
        (_, Some(id)) => (
            Some(
                one(
                    c,
                    "SELECT body FROM registrations WHERE id = ?1",
                    rusqlite::types::Value::Integer(id),
                )?
                .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?,
            ),
            id,
        ),
        (_, None) => return Err(StoreError::NotFound("registration".into())),
    };
    let mut r = registration::decide(current.as_ref(), id, w).map_err(StoreError::Registration)?;
    if registration::takes_effect(&r) {
        let prefix = registration::code_prefix(&r);
        let n: i64 = c
            .prepare_cached(
                "SELECT COUNT(*) FROM registrations WHERE substr(customs_code, 1, 6) = ?1",
            )
            .map_err(backend)?
            .query_row([&prefix], |row| row.get(0))
            .map_err(backend)?;
        r.customs_code = Some(
            registration::customs_code(&prefix, n as u32 + 1)
                .ok_or_else(|| StoreError::SerialExhausted(format!("customs codes {prefix}")))?,
        );
    }
    if let Some(admin) = &w.admin {
        super::create_account(c, head, &(admin.clone(), w.actor.clone(), w.now))?;
    }
    let body = serde_json::to_string(&r).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let code = r.customs_code.map(|x| x.to_string());
    // A new record (also a re-registration after a refused or cancelled one, kept as it is).
    if current.as_ref().is_none_or(|old| old.id != r.id) {
        c.prepare_cached(
            "INSERT INTO registrations (id, uscc, customs_code, office, status, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(backend)?
        .execute(params![
            r.id,
            r.uscc.to_string(),
            code,
            r.office.to_string(),
            r.status.as_str(),
            r.version as i64,
            body
        ])
        .map_err(backend)?;
    } else {
        c.prepare_cached(
            "UPDATE registrations SET customs_code = ?2, status = ?3, version = ?4, body = ?5 WHERE id = ?1",
        )
        .map_err(backend)?
        .execute(params![
            r.id,
            code,
            r.status.as_str(),
            r.version as i64,
            body
        ])
        .map_err(backend)?;
    }
    audit(
        c,
        head,
        w.now,
        &w.actor.label(),
        &format!("registration.{}", w.step.name()),
        &format!("registration:{}", r.id),
        registration::detail(&r, &w.step),
    )?;
    Ok(r)
}

pub(super) fn set_roles(
    c: &Connection,
    head: &mut ChainHead,
    (user_id, roles, actor, now): &(i64, Vec<Duty>, Actor, DateTime<Utc>),
) -> Result<u64, StoreError> {
    let names: Vec<&str> = roles.iter().map(|d| d.as_str()).collect();
    let n = c
        .prepare_cached("UPDATE users SET duties = ?2 WHERE id = ?1 AND role = 'enterprise'")
        .map_err(backend)?
        .execute(params![user_id, names.join(",")])
        .map_err(backend)?;
    if n == 0 {
        return Err(StoreError::NotFound(format!("enterprise user {user_id}")));
    }
    audit(
        c,
        head,
        *now,
        &actor.label(),
        "enterprise.set_roles",
        &format!("user:{user_id}"),
        serde_json::json!({ "roles": names }).to_string(),
    )?;
    Ok(n as u64)
}

impl SqliteStore {
    pub(super) fn registration_by_id(
        &self,
        id: i64,
    ) -> Result<Option<StoredRegistration>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT body FROM registrations WHERE id = ?1",
                rusqlite::types::Value::Integer(id),
            )
        })
    }

    pub(super) fn registration_of(
        &self,
        uscc: Uscc,
    ) -> Result<Option<StoredRegistration>, StoreError> {
        self.read(|c| {
            one(
                c,
                "SELECT body FROM registrations WHERE uscc = ?1 ORDER BY id DESC LIMIT 1",
                rusqlite::types::Value::Text(uscc.to_string()),
            )
        })
    }

    pub(super) fn registration_list(
        &self,
        filter: &RegistrationFilter,
    ) -> Result<Vec<StoredRegistration>, StoreError> {
        use rusqlite::types::Value::Text;
        let mut sql = String::from("SELECT id, body FROM registrations WHERE 1=1");
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
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            registration::REGISTRATIONS_MAX
        ));
        self.read(|c| {
            let mut stmt = c.prepare_cached(&sql).map_err(backend)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(backend)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, b) = row.map_err(backend)?;
                out.push(read_body(id, &b)?);
            }
            Ok(out)
        })
    }

    pub(super) fn accounts_of(&self, uscc: Uscc) -> Result<Vec<Account>, StoreError> {
        self.read(|c| {
            let ids: Vec<i64> = {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT id FROM users WHERE uscc = ?1 AND role = 'enterprise' AND password_hash IS NOT NULL ORDER BY login LIMIT 1000",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map([uscc.to_string()], |r| r.get::<_, i64>(0))
                    .map_err(backend)?;
                let ids: Vec<i64> = rows.collect::<Result<_, _>>().map_err(backend)?;
                ids
            };
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(a) = read_account(
                    c,
                    "SELECT id, login, role, office, uscc, duties, agency, password_hash, disabled_at_ms IS NOT NULL, must_change_password FROM users WHERE id = ?1",
                    rusqlite::types::Value::Integer(id),
                )? {
                    out.push(a);
                }
            }
            Ok(out)
        })
    }
}
