//! Users and sessions: sign-in (argon2id, [`crate::auth`]), the session cache, sign-out and
//! revocation, user accounts and their lifecycle (a user's own password change; an
//! administrator's one-time reset, disable and enable), security events and the audit chain
//! with its anchors ([`crate::anchor`]).

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use serde::Serialize;
use store::{NewAccount, NewSession, NewUser, PasswordWrite, SecurityEvent, SignedHead};

use crate::access::{Denied, Duty, Operation, Principal, Resource, Role};
use crate::anchor::Anchoring;
use crate::auth;
use crate::error::{AppError, FieldProblem};
use crate::kernel::{audit_actor, Core};

/// One audit record, its inclusion proof, and the signed head of that tree when the node kept
/// it (the answer of `GET /api/audit/proof/{seq}` and `jinguan audit prove`).
#[derive(Clone, Debug, Serialize)]
pub struct AuditProof {
    pub record: store::audit_tree::RecordJson,
    pub proof: store::audit_tree::InclusionProof,
    pub head: Option<SignedHead>,
}

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
/// Several server processes on one database: each forgets its cache at every sync
/// (`Clearance::sync_from_store`), so a revocation elsewhere counts within that period.
#[derive(Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, CachedSession>>);

impl Sessions {
    /// Forget every checked session: each is read from the store again at its next use
    /// (`Clearance::sync_from_store`, so that a revocation by another process counts here).
    pub(crate) fn forget(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, CachedSession>> {
        self.0.lock().expect("session cache lock")
    }
}

/// Users, sessions and the audit chain.
#[derive(Clone, Copy)]
pub struct UserService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) sessions: &'a Sessions,
    pub(crate) anchoring: Option<&'a Anchoring>,
}

/// A password reset by an administrator: the one-time password, shown once; it signs in only
/// to be changed ([`UserService::change_password`]).
#[derive(Clone, Debug, Serialize)]
pub struct PasswordReset {
    pub login: String,
    pub one_time_password: String,
    pub sessions_ended: u64,
}

/// Letters and digits that cannot be mistaken for each other (no 0/O, 1/l/I), for one-time
/// passwords read out or typed by hand.
const ONE_TIME_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
/// 16 of 57 symbols: about 93 bits.
const ONE_TIME_CHARS: usize = 16;

fn account_disabled() -> AppError {
    AppError::Forbidden(Denied {
        code: "account_disabled",
        message_en: "this account is disabled; ask an administrator".into(),
        message_zh: "此账户已被停用，请联系管理员".into(),
    })
}

fn password_change_required() -> AppError {
    AppError::Forbidden(Denied {
        code: "password_change_required",
        message_en:
            "the password was reset by an administrator: set a new one first (POST /api/password)"
                .into(),
        message_zh: "密码已由管理员重置，请先设置新密码".into(),
    })
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
        // Said only to whoever knows the password, so it tells nobody else which logins exist.
        if account.disabled {
            return Err(account_disabled());
        }
        if account.must_change_password {
            return Err(password_change_required());
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
        if session.account.disabled {
            return Err(AppError::Unauthenticated("account disabled"));
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

    pub(crate) fn insert_user(
        &self,
        req: NewUserRequest,
        actor: &Actor,
    ) -> Result<UserView, AppError> {
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
                // An enterprise user may hold enterprise roles (docs/PARTIES.md), never an
                // officer's duty; carriers and postal operators hold neither.
                let roles_ok = if req.role == Role::Enterprise {
                    req.duties.iter().all(|d| d.is_enterprise_role())
                } else {
                    req.duties.is_empty()
                };
                need(
                    &mut problems,
                    req.office.is_none() && roles_ok,
                    "office",
                    "企业用户不属于关区，只可有企业角色",
                    "an enterprise user has no office and holds enterprise roles only",
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
                need(
                    &mut problems,
                    !req.duties.iter().any(|d| d.is_enterprise_role()),
                    "duties",
                    "关员不可有企业角色",
                    "an officer holds no enterprise role",
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

    /// A user changes their own password: the current one is checked (the same work for an
    /// unknown login), the new one must meet the rules and differ; every other session of the
    /// user ends, in the same transaction; `keep_token`, the session it is changed from, stays
    /// if it is the user's. After an administrator's reset this is the only use of the one-time
    /// password. Returns the sessions ended.
    pub fn change_password(
        &self,
        login: &str,
        current: &str,
        new: &str,
        keep_token: Option<&str>,
    ) -> Result<u64, AppError> {
        let account = self.core.store.account_by_login(login)?;
        let Some(account) = account else {
            let _ = auth::verify_password(current, DUMMY_HASH);
            return Err(AppError::Unauthenticated("wrong login or password"));
        };
        let ok = account
            .password_hash
            .as_deref()
            .is_some_and(|h| auth::verify_password(current, h));
        if !ok {
            return Err(AppError::Unauthenticated("wrong login or password"));
        }
        if account.disabled {
            return Err(account_disabled());
        }
        let mut problems = Vec::new();
        if let Err(AppError::Invalid(p)) = auth::check_password_rules(new) {
            problems.extend(p.into_iter().map(|mut p| {
                p.field = "new_password".into();
                p
            }));
        }
        if new == current {
            problems.push(FieldProblem::new(
                "new_password",
                "password_unchanged",
                "新密码不能与当前密码相同",
                "the new password must differ from the current one",
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let principal = Principal::from_account(&account)
            .ok_or(AppError::Unauthenticated("this account cannot sign in"))?;
        let uid = account.user.id;
        let keep = match keep_token.filter(|t| auth::token_well_formed(t)) {
            Some(t) => {
                let hash = auth::token_hash(t);
                self.core
                    .store
                    .session_by_token_hash(&hash)?
                    .filter(|s| s.account.user.id == uid && s.revoked_at.is_none())
                    .map(|_| hash)
            }
            None => None,
        };
        let ended = self.core.store.set_password(
            PasswordWrite {
                user_id: uid,
                password_hash: auth::hash_password(new)?,
                reset: false,
                keep_session: keep.clone(),
            },
            &audit_actor(&principal),
            self.core.now(),
        )?;
        self.sessions
            .lock()
            .retain(|h, s| s.principal.user_id() != uid || Some(h) == keep.as_ref());
        Ok(ended)
    }

    /// An administrator resets a user's password: a one-time password, returned once, that
    /// must be changed before the user can sign in again; every session of the user ends.
    pub fn reset_password(&self, by: &Principal, login: &str) -> Result<PasswordReset, AppError> {
        let (allowed_actor, account) = self.manage(by, login)?;
        let one_time = one_time_password()?;
        let uid = account.user.id;
        let ended = self.core.store.set_password(
            PasswordWrite {
                user_id: uid,
                password_hash: auth::hash_password(&one_time)?,
                reset: true,
                keep_session: None,
            },
            &allowed_actor,
            self.core.now(),
        )?;
        self.forget_sessions_of(uid);
        Ok(PasswordReset {
            login: account.user.login,
            one_time_password: one_time,
            sessions_ended: ended,
        })
    }

    /// An administrator disables (every session ends at once) or enables an account. An
    /// administrator cannot disable their own. Returns the sessions ended.
    pub fn set_enabled(&self, by: &Principal, login: &str, enabled: bool) -> Result<u64, AppError> {
        let (allowed_actor, account) = self.manage(by, login)?;
        let uid = account.user.id;
        if !enabled && by.user_id() == uid {
            return Err(AppError::Conflict {
                code: "own_account",
                message_en: "you cannot disable your own account".into(),
                message_zh: "不能停用自己的账户".into(),
            });
        }
        let ended =
            self.core
                .store
                .set_account_enabled(uid, enabled, &allowed_actor, self.core.now())?;
        self.forget_sessions_of(uid);
        Ok(ended)
    }

    /// The account of `login`, if `by` may manage it (as creating it), and the audit actor.
    fn manage(&self, by: &Principal, login: &str) -> Result<(Actor, store::Account), AppError> {
        let account = self
            .core
            .store
            .account_by_login(login)?
            .filter(|a| a.password_hash.is_some())
            .ok_or_else(|| AppError::NotFound(format!("user {login}")))?;
        let allowed = self.core.authorize(
            by,
            (
                Operation::ManageUsers,
                Resource::User {
                    role: account.user.role,
                    office: account.user.office,
                },
            ),
        )?;
        Ok((allowed.audit_actor(), account))
    }

    pub(crate) fn forget_sessions_of(&self, uid: i64) {
        self.sessions
            .lock()
            .retain(|_, s| s.principal.user_id() != uid);
    }

    /// A sign-in lockout began (the server's guard counts failures per login and per client
    /// address): into the audit chain. `key` is `login:…` or `address:…`.
    pub fn record_sign_in_lockout(
        &self,
        key: &str,
        failures: u32,
        lock_seconds: u64,
    ) -> Result<(), AppError> {
        self.core.store.record_security_event(
            SecurityEvent {
                action: "sign_in_locked".into(),
                subject: key.chars().take(200).collect(),
                detail: serde_json::json!({"failures": failures, "lock_seconds": lock_seconds})
                    .to_string(),
            },
            &Actor::System {
                component: "sign-in".into(),
            },
            self.core.now(),
        )?;
        Ok(())
    }

    /// Walk the audit chain (administrators): its links, its anchors' signatures and the
    /// newest head kept outside the store when the node anchors.
    pub fn verify_audit(&self, by: &Principal) -> Result<store::AuditReport, AppError> {
        self.core
            .authorize(by, (Operation::VerifyAudit, Resource::System))?;
        let options = self
            .anchoring
            .map(Anchoring::verify_options)
            .unwrap_or_default();
        Ok(self.core.store.verify_audit_with(&options)?)
    }

    /// Record `seq` of the audit log with its inclusion proof in the Merkle tree of the first
    /// `tree_size` records (administrators; `store::audit_tree`). Without `tree_size`, the tree
    /// of the newest head kept outside the store, which the answer carries, so that it can be
    /// checked alone (`jinguan audit check-proof`). O(tree size) reads and hashes.
    pub fn audit_proof(
        &self,
        by: &Principal,
        seq: i64,
        tree_size: Option<i64>,
    ) -> Result<AuditProof, AppError> {
        self.core
            .authorize(by, (Operation::VerifyAudit, Resource::System))?;
        let latest = self.anchoring.and_then(Anchoring::latest);
        let tree_size = match (tree_size, &latest) {
            (Some(n), _) => n,
            (None, Some(h)) => h.seq,
            (None, None) => {
                return Err(AppError::invalid(
                    "tree_size",
                    "no_signed_head",
                    "尚无已签名的审计链头，请指定 tree_size",
                    "no signed head yet: give tree_size",
                ))
            }
        };
        if tree_size < 1 || seq < 1 || seq > tree_size {
            return Err(AppError::invalid(
                "tree_size",
                "out_of_range",
                "记录号须在 1 到 tree_size 之间",
                "the record number must be between 1 and tree_size",
            ));
        }
        let (record, proof) = self
            .core
            .store
            .audit_proof(seq, tree_size)?
            .ok_or_else(|| AppError::NotFound(format!("audit tree of {tree_size} records")))?;
        Ok(AuditProof {
            record: store::audit_tree::RecordJson::from(&record),
            proof,
            head: latest.filter(|h| h.seq == tree_size),
        })
    }

    /// Sign the chain head now, unless nothing was written since the last head kept; the new
    /// head is kept (and returned, for the edge to write out). `None` without anchoring.
    pub fn anchor_audit(&self) -> Result<Option<SignedHead>, AppError> {
        let Some(anchoring) = self.anchoring else {
            return Ok(None);
        };
        let now = self.core.now();
        let publish_to = anchoring.publish_to(now.timestamp_millis());
        let publishing = !publish_to.is_empty();
        let head = self.core.store.anchor_audit(store::audit::AnchorRequest {
            signer: anchoring.signer.clone(),
            unless_at: anchoring.latest().map_or(0, |h| h.seq),
            actor: Actor::System {
                component: "audit-anchor".into(),
            },
            now,
            tree: anchoring.tree.clone(),
            publish_to,
        })?;
        if let Some(h) = &head {
            anchoring.keep(h.clone());
            if publishing {
                anchoring.published(now.timestamp_millis());
            }
        }
        Ok(head)
    }

    /// A cheap read that tells whether the store answers (for `/ready`).
    pub fn probe_store(&self) -> Result<(), AppError> {
        self.core.store.account_by_login("")?;
        Ok(())
    }

    /// A write through the store's writer that changes nothing, committed and synced: whether
    /// the store can write now (for `/ready`; `store::Store::probe_write`).
    pub fn probe_store_write(&self) -> Result<(), AppError> {
        self.core.store.probe_write()?;
        Ok(())
    }

    /// Whether `by` may clear a login's sign-in lockout (administrators). The lockout itself
    /// lives in the server, which counts failures per login and per client address.
    pub fn authorize_unlock_sign_in(&self, by: &Principal) -> Result<(), AppError> {
        self.core
            .authorize(by, (Operation::UnlockSignIn, Resource::System))?;
        Ok(())
    }

    /// An administrator cleared a login's sign-in lock: into the audit chain.
    pub fn record_sign_in_unlock(
        &self,
        by: &Principal,
        login: &str,
        was_locked: bool,
    ) -> Result<(), AppError> {
        let allowed = self
            .core
            .authorize(by, (Operation::UnlockSignIn, Resource::System))?;
        self.core.store.record_security_event(
            SecurityEvent {
                action: "sign_in_unlocked".into(),
                subject: format!("login:{}", login.chars().take(64).collect::<String>()),
                detail: serde_json::json!({ "was_locked": was_locked }).to_string(),
            },
            &allowed.audit_actor(),
            self.core.now(),
        )?;
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

/// A one-time password of [`ONE_TIME_CHARS`] symbols of [`ONE_TIME_ALPHABET`], drawn without
/// bias (bytes at or above the largest multiple of the alphabet's size are drawn again).
fn one_time_password() -> Result<String, AppError> {
    let n = ONE_TIME_ALPHABET.len();
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(ONE_TIME_CHARS);
    while out.len() < ONE_TIME_CHARS {
        let mut buf = [0u8; 32];
        getrandom::fill(&mut buf)
            .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
        for b in buf {
            if (b as usize) < limit && out.len() < ONE_TIME_CHARS {
                out.push(ONE_TIME_ALPHABET[b as usize % n] as char);
            }
        }
    }
    Ok(out)
}

/// An argon2id hash of a random password, checked against when a login is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0sL6bN9o9CDdKMyCQpPoqM8bBtMMuqqDW9rH2pTG0kA";
