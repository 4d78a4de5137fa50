//! Users and sessions: sign-in (argon2id, [`crate::auth`]), the session cache, sign-out and
//! revocation, user accounts and the audit chain.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use serde::Serialize;
use store::{NewAccount, NewSession, NewUser};

use crate::access::{Duty, Operation, Principal, Resource, Role};
use crate::auth;
use crate::error::{AppError, FieldProblem};
use crate::kernel::{audit_actor, Core};

/// Sessions kept in memory; beyond it the cache starts over (the store stays the authority).
const SESSION_CACHE_MAX: usize = 100_000;

/// A new user, as an administrator (or `jinguan user add`) gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewUserRequest {
    pub login: String,
    pub password: String,
    pub role: Role,
    pub duties: Vec<Duty>,
    pub office: Option<OfficeCode>,
    pub uscc: Option<Uscc>,
    pub agency: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub id: i64,
    pub login: String,
    pub role: Role,
    pub duties: Vec<Duty>,
    pub office: Option<OfficeCode>,
    pub uscc: Option<Uscc>,
    pub agency: Option<String>,
}

/// A signed-in session: the token is shown once.
#[derive(Clone, Debug, Serialize)]
pub struct SessionToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub principal: Principal,
}

struct CachedSession {
    principal: Principal,
    expires_at: DateTime<Utc>,
}

/// Sessions already checked, by token hash. Every revocation goes through [`UserService`] and
/// evicts here, so the cache never outlives a revoked session; expiry is checked on every use.
/// (Several server processes would need a short cache lifetime instead.)
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, CachedSession>>);

impl Sessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedSession>> {
        self.0.lock().expect("session cache lock")
    }
}

/// Users, sessions and the audit chain.
#[derive(Clone, Copy)]
pub struct UserService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) sessions: &'a Sessions,
}

impl UserService<'_> {
    /// Sign in: the session token, or `Unauthenticated` (the same answer for an unknown login
    /// and a wrong password).
    pub fn login(&self, login: &str, password: &str) -> Result<SessionToken, AppError> {
        let account = self.core.store.account_by_login(login)?;
        let Some(account) = account else {
            // Spend the same work as a real check, so that timing does not tell which logins
            // exist.
            let _ = auth::verify_password(password, DUMMY_HASH);
            return Err(AppError::Unauthenticated("wrong login or password"));
        };
        let ok = account
            .password_hash
            .as_deref()
            .is_some_and(|h| auth::verify_password(password, h));
        if !ok {
            return Err(AppError::Unauthenticated("wrong login or password"));
        }
        let principal = Principal::from_account(&account)
            .ok_or(AppError::Unauthenticated("this account cannot sign in"))?;
        let token = auth::new_token()?;
        let now = self.core.now();
        let expires_at = now + self.core.settings.session_ttl;
        self.core.store.create_session(
            NewSession {
                token_hash: auth::token_hash(&token),
                user_id: account.user.id,
                created_at: now,
                expires_at,
            },
            &audit_actor(&principal),
            now,
        )?;
        Ok(SessionToken {
            token,
            expires_at,
            principal,
        })
    }

    /// Who holds this token, if the session is live.
    pub fn authenticate(&self, token: &str) -> Result<Principal, AppError> {
        if !auth::token_well_formed(token) {
            return Err(AppError::Unauthenticated("malformed token"));
        }
        let hash = auth::token_hash(token);
        let now = self.core.now();
        {
            let cache = self.sessions.lock();
            if let Some(s) = cache.get(&hash) {
                if now >= s.expires_at {
                    return Err(AppError::Unauthenticated("session expired"));
                }
                return Ok(s.principal.clone());
            }
        }
        let session = self
            .core
            .store
            .session_by_token_hash(&hash)?
            .ok_or(AppError::Unauthenticated("unknown session"))?;
        if session.revoked_at.is_some() {
            return Err(AppError::Unauthenticated("session revoked"));
        }
        if now >= session.expires_at {
            return Err(AppError::Unauthenticated("session expired"));
        }
        let principal = Principal::from_account(&session.account)
            .ok_or(AppError::Unauthenticated("this account cannot sign in"))?;
        let mut cache = self.sessions.lock();
        if cache.len() >= SESSION_CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            hash,
            CachedSession {
                principal: principal.clone(),
                expires_at: session.expires_at,
            },
        );
        Ok(principal)
    }

    /// Sign out: the token stops working at once.
    pub fn logout(&self, principal: &Principal, token: &str) -> Result<(), AppError> {
        let hash = auth::token_hash(token);
        self.sessions.lock().remove(&hash);
        self.core
            .store
            .revoke_session(&hash, &audit_actor(principal), self.core.now())?;
        Ok(())
    }

    /// An administrator ends every session of a user.
    pub fn revoke_sessions(&self, by: &Principal, login: &str) -> Result<u64, AppError> {
        let account = self
            .core
            .store
            .account_by_login(login)?
            .ok_or_else(|| AppError::NotFound(format!("user {login}")))?;
        let allowed = self.core.authorize(
            by,
            (
                Operation::RevokeSessions,
                Resource::User {
                    role: account.user.role,
                    office: account.user.office,
                },
            ),
        )?;
        let uid = account.user.id;
        self.sessions
            .lock()
            .retain(|_, s| s.principal.user_id() != uid);
        Ok(self
            .core
            .store
            .revoke_sessions_of(uid, &allowed.audit_actor(), self.core.now())?)
    }

    /// Create a user (administrators, and office administrators for officers of their scope).
    pub fn create_user(&self, by: &Principal, req: NewUserRequest) -> Result<UserView, AppError> {
        let allowed = self.core.authorize(
            by,
            (
                Operation::ManageUsers,
                Resource::User {
                    role: req.role,
                    office: req.office,
                },
            ),
        )?;
        self.insert_user(req, &allowed.audit_actor())
    }

    /// Create a user without a signed-in principal: for `jinguan user add` (whoever can run
    /// the binary on the data folder is the operator) and the demo loader.
    pub fn bootstrap_user(&self, req: NewUserRequest) -> Result<UserView, AppError> {
        self.insert_user(
            req,
            &Actor::System {
                component: "cli".into(),
            },
        )
    }

    fn insert_user(&self, req: NewUserRequest, actor: &Actor) -> Result<UserView, AppError> {
        let mut problems = Vec::new();
        if !login_format_ok(&req.login) {
            problems.push(FieldProblem::new(
                "login",
                "login_format",
                "登录名须为 1 至 64 个字母、数字或 . _ - @",
                "a login has 1 to 64 letters, digits or . _ - @",
            ));
        }
        if let Err(AppError::Invalid(p)) = auth::check_password_rules(&req.password) {
            problems.extend(p);
        }
        let need = |problems: &mut Vec<FieldProblem>, ok: bool, field: &str, zh: &str, en: &str| {
            if !ok {
                problems.push(FieldProblem::new(field, "role_mismatch", zh, en));
            }
        };
        match req.role {
            Role::Enterprise | Role::Carrier | Role::PostalOperator => {
                need(
                    &mut problems,
                    req.uscc.is_some(),
                    "uscc",
                    "企业用户须绑定统一社会信用代码",
                    "an enterprise user needs a USCC",
                );
                need(
                    &mut problems,
                    req.office.is_none() && req.duties.is_empty(),
                    "office",
                    "企业用户不属于关区、无岗位",
                    "an enterprise user has no office and no duties",
                );
            }
            Role::Officer | Role::AntiSmuggling => {
                let known = req
                    .office
                    .is_some_and(|o| self.core.refdata.offices().any(|x| x.code == o));
                need(
                    &mut problems,
                    known,
                    "office",
                    "关员须属于关区代码表中的关区",
                    "an officer needs an office of the office table",
                );
                need(
                    &mut problems,
                    req.uscc.is_none(),
                    "uscc",
                    "关员不绑定企业",
                    "an officer has no USCC",
                );
            }
            Role::Hq => {
                need(
                    &mut problems,
                    req.uscc.is_none() && req.office.is_none(),
                    "office",
                    "总署用户不绑定关区或企业",
                    "an HQ user has no office and no USCC",
                );
            }
            Role::Agency => {
                need(
                    &mut problems,
                    req.agency
                        .as_deref()
                        .is_some_and(|a| !a.trim().is_empty() && a.len() <= 64),
                    "agency",
                    "部门用户须注明部门",
                    "an agency user needs an agency",
                );
            }
            Role::Admin | Role::Bank => {
                need(
                    &mut problems,
                    req.uscc.is_none() && req.duties.is_empty(),
                    "role",
                    "管理员不绑定企业、无岗位",
                    "an administrator has no USCC and no duties",
                );
            }
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let password_hash = auth::hash_password(&req.password)?;
        let mut duties = req.duties.clone();
        duties.sort();
        duties.dedup();
        let id = self.core.store.create_account(
            NewAccount {
                user: NewUser {
                    login: req.login.clone(),
                    role: req.role,
                    office: req.office,
                    uscc: req.uscc,
                },
                duties: duties.clone(),
                agency: req.agency.clone(),
                password_hash,
            },
            actor,
            self.core.now(),
        )?;
        Ok(UserView {
            id,
            login: req.login,
            role: req.role,
            duties,
            office: req.office,
            uscc: req.uscc,
            agency: req.agency,
        })
    }

    /// Walk the audit chain (administrators).
    pub fn verify_audit(&self, by: &Principal) -> Result<store::AuditReport, AppError> {
        self.core
            .authorize(by, (Operation::VerifyAudit, Resource::System))?;
        Ok(self.core.store.verify_audit()?)
    }

    /// A cheap read that tells whether the store answers (for `/ready`).
    pub fn probe_store(&self) -> Result<(), AppError> {
        self.core.store.account_by_login("")?;
        Ok(())
    }

    /// Whether `by` may clear a login's sign-in lockout (administrators). The lockout itself
    /// lives in the server, which counts failures per login and per client address.
    pub fn authorize_unlock_sign_in(&self, by: &Principal) -> Result<(), AppError> {
        self.core
            .authorize(by, (Operation::UnlockSignIn, Resource::System))?;
        Ok(())
    }
}

/// Whether `login` is a login a user can have: 1 to 64 of `A–Z a–z 0–9 . _ - @`. Sign-in
/// answers any other login 401 before it counts or checks anything (docs/SECURITY.md, F2).
pub fn login_format_ok(login: &str) -> bool {
    !login.is_empty()
        && login.len() <= 64
        && login
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
}

/// An argon2id hash of a random password, checked against when a login is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0sL6bN9o9CDdKMyCQpPoqM8bBtMMuqqDW9rH2pTG0kA";
