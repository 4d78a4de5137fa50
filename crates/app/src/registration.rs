//! Customs registration 报关单位备案 and an enterprise's own users (docs/PARTIES.md "Customs
//! registration"): self-service sign-up without a session (the USCC checked against the
//! market-regulation registry of the E-Port, the first enterprise administrator's account
//! written with the registration), an officer's review of brokers, changes and cancellation;
//! the enterprise administrator manages the enterprise's users and their roles
//! ([`store::Duty::ENTERPRISE`]: administrator, declarant, finance, viewer), which the access
//! matrix enforces. [`may_file`] refuses a filing by an enterprise whose registration is not in
//! force.

use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use serde::{Deserialize, Serialize};
use store::parties::PartiesStore;
use store::registration::{
    check_details, EnterpriseKind, RegistrationDetails, RegistrationFilter, RegistrationStatus,
    RegistrationStep, RegistrationWrite, StoredRegistration,
};
use store::{Duty, NewAccount, NewUser, Role};

use crate::access::{Operation, Principal, Resource};
use crate::error::{AppError, FieldProblem};
use crate::kernel::{Core, Scope};
use crate::users::{login_format_ok, NewUserRequest, UserService};

/// A sign-up: the enterprise, its details and its first administrator.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub kind: EnterpriseKind,
    pub uscc: String,
    /// The customs office registered with (4 digits).
    pub office: String,
    pub name: String,
    pub address: String,
    pub contact: String,
    /// The zone digit of the customs code: 1, 2, 3, 4, 5 or 9.
    pub zone: String,
    /// The economic-type digit: 1–7 or 9 for consignees, 8 for brokers.
    pub economic_type: String,
    pub admin_login: String,
    pub admin_password: String,
}

/// The details as the wire gives them (digits as strings).
#[derive(Clone, Debug, Deserialize)]
pub struct DetailsRequest {
    pub name: String,
    pub address: String,
    pub contact: String,
    /// The zone digit of the customs code: 1, 2, 3, 4, 5 or 9.
    pub zone: String,
    /// The economic-type digit: 1–7 or 9 for consignees, 8 for brokers.
    pub economic_type: String,
}

/// An enterprise user as its administrator sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnterpriseUser {
    pub login: String,
    pub roles: Vec<Duty>,
    pub disabled: bool,
}

/// The registration desk and an enterprise's users.
#[derive(Clone, Copy)]
pub struct RegistrationService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) users: UserService<'a>,
}

fn parties(core: &Core) -> Result<&dyn PartiesStore, AppError> {
    core.store
        .parties_store()
        .ok_or_else(|| AppError::Internal("this store keeps no registrations".into()))
}

fn digit(field: &str, s: &str, problems: &mut Vec<FieldProblem>) -> char {
    let mut chars = s.trim().chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_digit() => c,
        _ => {
            problems.push(FieldProblem::new(
                field,
                "invalid",
                format!("{field} 须为一位数字"),
                format!("{field} is one digit"),
            ));
            '0'
        }
    }
}

fn details_of(
    kind: EnterpriseKind,
    d: DetailsRequest,
    problems: &mut Vec<FieldProblem>,
) -> RegistrationDetails {
    let zone = digit("zone", &d.zone, problems);
    let economic_type = digit("economic_type", &d.economic_type, problems);
    let details = RegistrationDetails {
        name: d.name.trim().to_owned(),
        address: d.address.trim().to_owned(),
        contact: d.contact.trim().to_owned(),
        zone,
        economic_type,
    };
    for r in check_details(kind, &details) {
        // A digit already reported as not a digit is not reported twice.
        if problems.iter().any(|p| p.field == r.field) {
            continue;
        }
        problems.push(FieldProblem::new(
            r.field,
            r.code,
            r.message_zh,
            r.message_en,
        ));
    }
    details
}

fn roles_of(roles: &[String]) -> Result<Vec<Duty>, AppError> {
    let mut problems = Vec::new();
    let mut out = Vec::new();
    for (i, r) in roles.iter().enumerate() {
        match Duty::parse(r).filter(|d| d.is_enterprise_role()) {
            Some(d) => out.push(d),
            None => problems.push(FieldProblem::new(
                format!("roles[{i}]"),
                "invalid",
                format!("“{r}”不是企业角色（enterprise_administrator、declarant、finance、viewer）"),
                format!("\"{r}\" is not an enterprise role (enterprise_administrator, declarant, finance, viewer)"),
            )),
        }
    }
    if out.is_empty() && problems.is_empty() {
        problems.push(FieldProblem::new(
            "roles",
            "missing",
            "至少需要一个角色",
            "at least one role is needed",
        ));
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The roles the first administrator of a new registration holds: administrator, declarant
/// and finance (the administrator can narrow them).
pub const FIRST_ADMINISTRATOR_ROLES: [Duty; 3] = [
    Duty::EnterpriseAdministrator,
    Duty::Declarant,
    Duty::Finance,
];

/// Refuses a filing by or for an enterprise whose customs registration is not in force
/// (pending review, refused, cancelled). An enterprise with no registration on record (accounts
/// the system administrator created) files as before.
pub fn may_file(core: &Core, uscc: Uscc) -> Result<(), AppError> {
    let Some(p) = core.store.parties_store() else {
        return Ok(());
    };
    let r = p.registration_by_uscc(uscc)?;
    store::registration::in_force(uscc, r.as_ref()).map_err(crate::error::case_refused)
}

impl RegistrationService<'_> {
    /// Self-service sign-up, without a session: every problem at once; the USCC must be in the
    /// market-regulation registry, active, under the name given. A consignee takes effect at
    /// once with its customs code; a broker waits for review.
    pub fn sign_up(&self, req: SignUp) -> Result<StoredRegistration, AppError> {
        let mut problems = Vec::new();
        let uscc = match Uscc::parse(req.uscc.trim()) {
            Ok(u) => Some(u),
            Err(e) => {
                problems.push(FieldProblem::new(
                    "uscc",
                    "invalid",
                    format!("统一社会信用代码“{}”无效：{e}", req.uscc),
                    format!("\"{}\" is not a valid USCC: {e}", req.uscc),
                ));
                None
            }
        };
        let office = OfficeCode::parse(req.office.trim())
            .ok()
            .filter(|o| self.core.refdata.offices().any(|x| x.code == *o));
        if office.is_none() {
            problems.push(FieldProblem::new(
                "office",
                "invalid",
                format!("“{}”不是关区代码表中的海关", req.office),
                format!("\"{}\" is not an office of the office table", req.office),
            ));
        }
        let details = details_of(
            req.kind,
            DetailsRequest {
                name: req.name,
                address: req.address,
                contact: req.contact,
                zone: req.zone,
                economic_type: req.economic_type,
            },
            &mut problems,
        );
        if !login_format_ok(&req.admin_login) {
            problems.push(FieldProblem::new(
                "admin_login",
                "login_format",
                "登录名须为 1 至 64 个字母、数字或 . _ - @",
                "a login has 1 to 64 letters, digits or . _ - @",
            ));
        }
        if let Err(AppError::Invalid(p)) = crate::auth::check_password_rules(&req.admin_password) {
            problems.extend(p.into_iter().map(|mut p| {
                p.field = "admin_password".into();
                p
            }));
        }
        if let Some(u) = uscc {
            let entry = match self.core.store.eport_store() {
                Some(e) => e.registry_entry(&u)?,
                None => None,
            };
            match entry {
                None => problems.push(FieldProblem::new(
                    "uscc",
                    "not_in_registry",
                    format!("{u} 不在市场监管部门的登记中"),
                    format!("{u} is not in the market-regulation registry"),
                )),
                Some(e) if e.status == eport::RegistryStatus::Deregistered => {
                    problems.push(FieldProblem::new(
                        "uscc",
                        "deregistered",
                        format!("{u} 已在市场监管部门注销"),
                        format!("{u} is deregistered in the market-regulation registry"),
                    ))
                }
                Some(e) if e.name != details.name => problems.push(FieldProblem::new(
                    "name",
                    "name_mismatch",
                    format!("名称与市场监管登记不符（登记名称：{}）", e.name),
                    format!(
                        "the name differs from the market-regulation registry's ({})",
                        e.name
                    ),
                )),
                Some(_) => {}
            }
        }
        let (Some(uscc), Some(office), true) = (uscc, office, problems.is_empty()) else {
            return Err(AppError::Invalid(problems));
        };
        let password_hash = crate::auth::hash_password(&req.admin_password)?;
        let admin = NewAccount {
            user: NewUser {
                login: req.admin_login.clone(),
                role: Role::Enterprise,
                office: None,
                uscc: Some(uscc),
            },
            duties: FIRST_ADMINISTRATOR_ROLES.to_vec(),
            agency: None,
            password_hash,
        };
        Ok(parties(self.core)?.registration_step(RegistrationWrite {
            registration: None,
            expected_version: None,
            step: RegistrationStep::Apply {
                uscc,
                kind: req.kind,
                office,
                details,
                admin_login: req.admin_login,
            },
            admin: Some(admin),
            actor: Actor::Enterprise { uscc },
            now: self.core.now(),
        })?)
    }

    /// A registration the principal may see: the enterprise's own users, or reviewers of its
    /// office; anyone else "not found".
    pub fn get(&self, by: &Principal, id: i64) -> Result<StoredRegistration, AppError> {
        let not_found = || AppError::NotFound(format!("registration {id}"));
        let r = parties(self.core)?
            .registration(id)?
            .ok_or_else(not_found)?;
        let own = self
            .core
            .authorize(by, (Operation::View, Resource::Enterprise { uscc: r.uscc }))
            .is_ok();
        let reviewer = self
            .core
            .authorize(
                by,
                (
                    Operation::ReviewRegistration,
                    Resource::Registration {
                        office: Some(r.office),
                    },
                ),
            )
            .is_ok();
        if own || reviewer {
            Ok(r)
        } else {
            Err(not_found())
        }
    }

    /// The signed-in enterprise user's own registration.
    pub fn mine(&self, by: &Principal) -> Result<StoredRegistration, AppError> {
        let uscc = match by {
            Principal::Enterprise { uscc, .. } => *uscc,
            _ => {
                return Err(AppError::Forbidden(crate::access::denied(
                    by,
                    Operation::View,
                )))
            }
        };
        self.core
            .authorize(by, (Operation::View, Resource::Enterprise { uscc }))?;
        parties(self.core)?
            .registration_by_uscc(uscc)?
            .ok_or_else(|| AppError::NotFound(format!("registration of {uscc}")))
    }

    /// The registrations of the officer's offices, newest first.
    pub fn list(
        &self,
        by: &Principal,
        status: Option<RegistrationStatus>,
    ) -> Result<Vec<StoredRegistration>, AppError> {
        let allowed = self.core.authorize(
            by,
            (
                Operation::ReviewRegistration,
                Resource::Registration { office: None },
            ),
        )?;
        let offices = match allowed.scope() {
            Scope::Offices(_, within) => Some(within.to_vec()),
            Scope::Everywhere => None,
            _ => return Err(allowed.denied()),
        };
        Ok(parties(self.core)?.registrations(&RegistrationFilter { offices, status })?)
    }

    /// An officer's review of a registration waiting for it (brokers).
    pub fn review(
        &self,
        by: &Principal,
        id: i64,
        approve: bool,
        note: String,
        expected_version: Option<u64>,
    ) -> Result<StoredRegistration, AppError> {
        let r = self.get(by, id)?;
        let allowed = self.core.authorize(
            by,
            (
                Operation::ReviewRegistration,
                Resource::Registration {
                    office: Some(r.office),
                },
            ),
        )?;
        Ok(parties(self.core)?.registration_step(RegistrationWrite {
            registration: Some(r.id),
            expected_version,
            step: RegistrationStep::Review { approve, note },
            admin: None,
            actor: allowed.audit_actor(),
            now: self.core.now(),
        })?)
    }

    /// The enterprise administrator changes the registration's details.
    pub fn change(
        &self,
        by: &Principal,
        id: i64,
        details: DetailsRequest,
        expected_version: Option<u64>,
    ) -> Result<StoredRegistration, AppError> {
        let r = self.get(by, id)?;
        let allowed = self.core.authorize(
            by,
            (
                Operation::ManageEnterprise,
                Resource::Enterprise { uscc: r.uscc },
            ),
        )?;
        let mut problems = Vec::new();
        let details = details_of(r.kind, details, &mut problems);
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        Ok(parties(self.core)?.registration_step(RegistrationWrite {
            registration: Some(r.id),
            expected_version,
            step: RegistrationStep::Change { details },
            admin: None,
            actor: allowed.audit_actor(),
            now: self.core.now(),
        })?)
    }

    /// The enterprise administrator, or a reviewer of its office, cancels the registration:
    /// the enterprise files nothing more ([`may_file`]).
    pub fn cancel(
        &self,
        by: &Principal,
        id: i64,
        reason: String,
        expected_version: Option<u64>,
    ) -> Result<StoredRegistration, AppError> {
        let r = self.get(by, id)?;
        let allowed = match self.core.authorize(
            by,
            (
                Operation::ManageEnterprise,
                Resource::Enterprise { uscc: r.uscc },
            ),
        ) {
            Ok(a) => a,
            Err(_) => self.core.authorize(
                by,
                (
                    Operation::ReviewRegistration,
                    Resource::Registration {
                        office: Some(r.office),
                    },
                ),
            )?,
        };
        Ok(parties(self.core)?.registration_step(RegistrationWrite {
            registration: Some(r.id),
            expected_version,
            step: RegistrationStep::Cancel { reason },
            admin: None,
            actor: allowed.audit_actor(),
            now: self.core.now(),
        })?)
    }

    fn administrator_of(&self, by: &Principal) -> Result<(Uscc, Actor), AppError> {
        let uscc = match by {
            Principal::Enterprise { uscc, .. } => *uscc,
            _ => {
                return Err(AppError::Forbidden(crate::access::denied(
                    by,
                    Operation::ManageEnterprise,
                )))
            }
        };
        let allowed = self.core.authorize(
            by,
            (Operation::ManageEnterprise, Resource::Enterprise { uscc }),
        )?;
        Ok((uscc, allowed.audit_actor()))
    }

    /// The users of the administrator's enterprise.
    pub fn users(&self, by: &Principal) -> Result<Vec<EnterpriseUser>, AppError> {
        let (uscc, _) = self.administrator_of(by)?;
        Ok(parties(self.core)?
            .enterprise_accounts(uscc)?
            .into_iter()
            .map(|a| EnterpriseUser {
                roles: crate::access::enterprise_roles(&a.duties)
                    .into_iter()
                    .collect(),
                login: a.user.login,
                disabled: a.disabled,
            })
            .collect())
    }

    /// A new user of the administrator's own enterprise, with its roles.
    pub fn add_user(
        &self,
        by: &Principal,
        login: String,
        password: String,
        roles: &[String],
    ) -> Result<EnterpriseUser, AppError> {
        let (uscc, actor) = self.administrator_of(by)?;
        let roles = roles_of(roles)?;
        let v = self.users.insert_user(
            NewUserRequest {
                login,
                password,
                role: Role::Enterprise,
                duties: roles,
                office: None,
                uscc: Some(uscc),
                agency: None,
            },
            &actor,
        )?;
        Ok(EnterpriseUser {
            login: v.login,
            roles: v.duties,
            disabled: false,
        })
    }

    /// The account of `login` if it is a user of the administrator's enterprise; another
    /// enterprise's user is "not found".
    fn own_account(&self, uscc: Uscc, login: &str) -> Result<store::Account, AppError> {
        self.core
            .store
            .account_by_login(login)?
            .filter(|a| a.user.role == Role::Enterprise && a.user.uscc == Some(uscc))
            .filter(|a| a.password_hash.is_some())
            .ok_or_else(|| AppError::NotFound(format!("user {login}")))
    }

    /// Replace the roles of one of the enterprise's users. An administrator keeps their own
    /// administrator role (so the enterprise is never left without one through its own hand).
    pub fn set_roles(
        &self,
        by: &Principal,
        login: &str,
        roles: &[String],
    ) -> Result<EnterpriseUser, AppError> {
        let (uscc, actor) = self.administrator_of(by)?;
        let roles = roles_of(roles)?;
        let account = self.own_account(uscc, login)?;
        if account.user.id == by.user_id() && !roles.contains(&Duty::EnterpriseAdministrator) {
            return Err(AppError::Conflict {
                code: "own_administrator_role",
                message_en: "you cannot take your own administrator role away".into(),
                message_zh: "不能取消自己的管理员角色".into(),
            });
        }
        parties(self.core)?.set_roles(account.user.id, roles.clone(), &actor, self.core.now())?;
        // The user's cached sessions carry the old roles: dropped from the cache, they are read
        // again from the store (with the new roles) at their next use.
        self.users.forget_sessions_of(account.user.id);
        Ok(EnterpriseUser {
            login: account.user.login,
            roles,
            disabled: account.disabled,
        })
    }

    /// Disable or enable one of the enterprise's users (not oneself).
    pub fn set_enabled(&self, by: &Principal, login: &str, enabled: bool) -> Result<u64, AppError> {
        let (uscc, actor) = self.administrator_of(by)?;
        let account = self.own_account(uscc, login)?;
        if !enabled && account.user.id == by.user_id() {
            return Err(AppError::Conflict {
                code: "own_account",
                message_en: "you cannot disable your own account".into(),
                message_zh: "不能停用自己的账户".into(),
            });
        }
        let ended = self.core.store.set_account_enabled(
            account.user.id,
            enabled,
            &actor,
            self.core.now(),
        )?;
        self.users.forget_sessions_of(account.user.id);
        Ok(ended)
    }
}
