//! Parties (docs/PARTIES.md): electronic powers of attorney 代理报关委托书 that let a customs
//! broker file in a consignee's or consignor's name, and the anti-smuggling case register 缉私
//! with the credit downgrades its penalties trigger ([`crate::cases`]).
//!
//! - **One write path.** A grant, a revocation and every filing under an authority go through
//!   the backend's one writer. The filing's check ([`admit`]) runs inside the filing's own
//!   transaction on the authority as it stands there, and the filing counts against the
//!   authority's limits in the same transaction ([`counts_against`]): so a revocation and a
//!   filing racing each other are ordered by the writer, and a filing after the revocation's
//!   commit is refused, however the two interleave before they reach it.
//! - **Pure rules.** [`admit`], [`check_scope`], [`revocation`] decide; backends only read and
//!   write rows.

use chrono::{DateTime, NaiveDate, Utc};
use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use domain::money::Fen;
use domain::time::china_date;
use serde::{Deserialize, Serialize};

use crate::cases::{CaseFilter, CaseWrite, CreditChange, StoredCase};
use crate::writer::{Queued, Request};
use crate::{StoreError, SubmitRequest};

/// At most this many trade modes or offices in an authority's scope.
pub const SCOPE_LIST_MAX: usize = 50;
/// At most this many authorities in one listing.
pub const AUTHORITIES_MAX: u32 = 10_000;
/// The longest period an authority may run, in days (a year and a day).
pub const PERIOD_DAYS_MAX: i64 = 366;

/// What a broker may file under an authority. Empty lists mean "any".
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorityScope {
    /// Trade modes (监管方式, 4-digit codes) the broker may file; empty: any.
    pub trade_modes: Vec<String>,
    /// Offices of declaration; an office `XX00` covers the offices below it by their digits,
    /// `0000` every office; empty: any.
    pub offices: Vec<OfficeCode>,
    /// First day (China time), inclusive.
    pub valid_from: NaiveDate,
    /// Last day (China time), inclusive.
    pub valid_to: NaiveDate,
    /// At most this many declarations accepted under it.
    pub max_declarations: Option<u32>,
    /// At most this total goods value (fen) of the declarations accepted under it.
    pub max_value_fen: Option<Fen>,
}

/// A grant as the consignee makes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAuthority {
    pub grantor: Uscc,
    pub broker: Uscc,
    pub scope: AuthorityScope,
}

/// An authority on record, with what was filed under it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredAuthority {
    pub id: i64,
    /// The consignee or consignor that grants it.
    pub grantor: Uscc,
    /// The customs broker that may file in its name.
    pub broker: Uscc,
    pub scope: AuthorityScope,
    pub granted_at: DateTime<Utc>,
    /// The audit label of who granted it.
    pub granted_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    /// Accepted declarations filed under it.
    pub used_declarations: u64,
    /// Their goods value.
    pub used_value_fen: Fen,
}

/// Where an authority stands on a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Live,
    NotYetValid,
    Expired,
    Revoked,
}

impl StoredAuthority {
    pub fn standing(&self, now: DateTime<Utc>) -> Standing {
        let today = china_date(now);
        if self.revoked_at.is_some() {
            Standing::Revoked
        } else if today < self.scope.valid_from {
            Standing::NotYetValid
        } else if today > self.scope.valid_to {
            Standing::Expired
        } else {
            Standing::Live
        }
    }
}

/// A filing by a broker's user under an authority (on [`SubmitRequest::agent`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentFiling {
    pub authority: i64,
    pub broker: Uscc,
    /// The broker's user who files.
    pub login: String,
    /// The declaration's trade mode (`None` when the form does not say one readably).
    pub trade_mode: Option<String>,
}

/// Why a grant, a revocation or a filing under an authority was refused, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum AuthorityRefusal {
    /// No authority of this number names this broker and this declarant.
    NoAuthority {
        declarant: Uscc,
        broker: Uscc,
    },
    Revoked {
        id: i64,
    },
    NotYetValid {
        id: i64,
        from: NaiveDate,
    },
    Expired {
        id: i64,
        to: NaiveDate,
    },
    TradeModeOutOfScope {
        id: i64,
        trade_mode: String,
    },
    OfficeOutOfScope {
        id: i64,
        office: OfficeCode,
    },
    CountLimit {
        id: i64,
        max: u32,
    },
    ValueLimit {
        id: i64,
        max: Fen,
        used: Fen,
        value: Fen,
    },
    /// A grant's terms do not hold together (field, reason).
    BadScope {
        field: String,
        en: String,
        zh: String,
    },
    /// Only the grantor revokes its authority.
    NotGrantor {
        id: i64,
    },
}

impl AuthorityRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            AuthorityRefusal::NoAuthority { .. } => "no_authority",
            AuthorityRefusal::Revoked { .. } => "authority_revoked",
            AuthorityRefusal::NotYetValid { .. } => "authority_not_yet_valid",
            AuthorityRefusal::Expired { .. } => "authority_expired",
            AuthorityRefusal::TradeModeOutOfScope { .. } => "trade_mode_out_of_scope",
            AuthorityRefusal::OfficeOutOfScope { .. } => "office_out_of_scope",
            AuthorityRefusal::CountLimit { .. } => "authority_count_limit",
            AuthorityRefusal::ValueLimit { .. } => "authority_value_limit",
            AuthorityRefusal::BadScope { .. } => "bad_scope",
            AuthorityRefusal::NotGrantor { .. } => "not_grantor",
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            AuthorityRefusal::NoAuthority { declarant, broker } => format!(
                "customs broker {broker} holds no power of attorney from {declarant} to file in its name"
            ),
            AuthorityRefusal::Revoked { id } => {
                format!("power of attorney {id} has been revoked by the consignee")
            }
            AuthorityRefusal::NotYetValid { id, from } => {
                format!("power of attorney {id} is valid only from {from}")
            }
            AuthorityRefusal::Expired { id, to } => {
                format!("power of attorney {id} expired after {to}")
            }
            AuthorityRefusal::TradeModeOutOfScope { id, trade_mode } => format!(
                "trade mode {trade_mode} is outside the scope of power of attorney {id}"
            ),
            AuthorityRefusal::OfficeOutOfScope { id, office } => format!(
                "office {office} is outside the scope of power of attorney {id}"
            ),
            AuthorityRefusal::CountLimit { id, max } => format!(
                "power of attorney {id} allows at most {max} declarations, all used"
            ),
            AuthorityRefusal::ValueLimit {
                id,
                max,
                used,
                value,
            } => format!(
                "power of attorney {id} allows goods worth at most {max} yuan; {used} yuan used, this declaration {value} yuan"
            ),
            AuthorityRefusal::BadScope { en, .. } => en.clone(),
            AuthorityRefusal::NotGrantor { id } => {
                format!("only the enterprise that granted power of attorney {id} may revoke it")
            }
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            AuthorityRefusal::NoAuthority { declarant, broker } => {
                format!("报关企业 {broker} 未获 {declarant} 的代理报关委托，不得以其名义申报")
            }
            AuthorityRefusal::Revoked { id } => format!("代理报关委托书 {id} 已被委托方撤销"),
            AuthorityRefusal::NotYetValid { id, from } => {
                format!("代理报关委托书 {id} 自 {from} 起生效")
            }
            AuthorityRefusal::Expired { id, to } => {
                format!("代理报关委托书 {id} 已于 {to} 到期")
            }
            AuthorityRefusal::TradeModeOutOfScope { id, trade_mode } => {
                format!("监管方式 {trade_mode} 不在代理报关委托书 {id} 的委托范围内")
            }
            AuthorityRefusal::OfficeOutOfScope { id, office } => {
                format!("申报地海关 {office} 不在代理报关委托书 {id} 的委托范围内")
            }
            AuthorityRefusal::CountLimit { id, max } => {
                format!("代理报关委托书 {id} 限 {max} 票报关单，已用完")
            }
            AuthorityRefusal::ValueLimit {
                id,
                max,
                used,
                value,
            } => format!("代理报关委托书 {id} 货值上限 {max} 元，已用 {used} 元，本票 {value} 元"),
            AuthorityRefusal::BadScope { zh, .. } => zh.clone(),
            AuthorityRefusal::NotGrantor { id } => {
                format!("只有委托方可以撤销代理报关委托书 {id}")
            }
        }
    }

    /// The field a bad grant names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            AuthorityRefusal::BadScope { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn bad(field: &str, zh: impl Into<String>, en: impl Into<String>) -> AuthorityRefusal {
    AuthorityRefusal::BadScope {
        field: field.into(),
        zh: zh.into(),
        en: en.into(),
    }
}

/// Whether the terms of a grant hold together: every problem, not only the first.
pub fn check_scope(new: &NewAuthority) -> Result<(), Vec<AuthorityRefusal>> {
    let s = &new.scope;
    let mut problems = Vec::new();
    if new.grantor == new.broker {
        problems.push(bad(
            "broker",
            "不能委托本企业自己",
            "an enterprise cannot grant itself a power of attorney",
        ));
    }
    if s.valid_to < s.valid_from {
        problems.push(bad(
            "valid_to",
            "截止日期早于起始日期",
            "the last day is before the first day",
        ));
    } else if (s.valid_to - s.valid_from).num_days() >= PERIOD_DAYS_MAX {
        problems.push(bad(
            "valid_to",
            format!("委托期限不得超过 {PERIOD_DAYS_MAX} 天"),
            format!("a power of attorney runs at most {PERIOD_DAYS_MAX} days"),
        ));
    }
    if s.trade_modes.len() > SCOPE_LIST_MAX {
        problems.push(bad(
            "trade_modes",
            format!("监管方式至多 {SCOPE_LIST_MAX} 个"),
            format!("at most {SCOPE_LIST_MAX} trade modes"),
        ));
    }
    for (i, m) in s.trade_modes.iter().enumerate() {
        if m.len() != 4 || !m.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(bad(
                &format!("trade_modes[{i}]"),
                format!("监管方式“{m}”应为 4 位数字"),
                format!("trade mode \"{m}\" is 4 digits"),
            ));
        }
    }
    if s.offices.len() > SCOPE_LIST_MAX {
        problems.push(bad(
            "offices",
            format!("海关至多 {SCOPE_LIST_MAX} 个"),
            format!("at most {SCOPE_LIST_MAX} offices"),
        ));
    }
    if s.max_declarations == Some(0) {
        problems.push(bad(
            "max_declarations",
            "票数上限须大于 0",
            "the declaration limit is above zero",
        ));
    }
    if s.max_value_fen.is_some_and(|v| v.0 <= 0) {
        problems.push(bad(
            "max_value_fen",
            "货值上限须大于 0",
            "the value limit is above zero",
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// Whether `office` is within an authority's offices.
pub fn office_covered(offices: &[OfficeCode], office: OfficeCode) -> bool {
    offices.is_empty()
        || offices
            .iter()
            .any(|s| *s == office || *s == OfficeCode::HQ || office.digit_parent() == Some(*s))
}

/// May this filing go under this authority, as it stands now? Checked by the writer inside
/// the filing's transaction.
pub fn admit(
    a: &StoredAuthority,
    req: &SubmitRequest,
    agent: &AgentFiling,
) -> Result<(), AuthorityRefusal> {
    if a.id != agent.authority {
        return Err(AuthorityRefusal::NoAuthority {
            declarant: req.declarant,
            broker: agent.broker,
        });
    }
    admit_parts(
        a,
        &Filing {
            broker: agent.broker,
            declarant: req.declarant,
            office: req.declaration_office,
            trade_mode: agent.trade_mode.as_deref(),
            value: req.goods_value_fen,
            now: req.now,
        },
    )
}

/// What [`admit_parts`] looks at in a filing.
pub struct Filing<'a> {
    pub broker: Uscc,
    pub declarant: Uscc,
    pub office: OfficeCode,
    pub trade_mode: Option<&'a str>,
    pub value: Option<Fen>,
    pub now: DateTime<Utc>,
}

/// [`admit`] on the parts of a filing (the service asks it before writing, for an early answer;
/// the writer's check is the one that counts).
pub fn admit_parts(a: &StoredAuthority, f: &Filing<'_>) -> Result<(), AuthorityRefusal> {
    if a.broker != f.broker || a.grantor != f.declarant {
        return Err(AuthorityRefusal::NoAuthority {
            declarant: f.declarant,
            broker: f.broker,
        });
    }
    match a.standing(f.now) {
        Standing::Live => {}
        Standing::Revoked => return Err(AuthorityRefusal::Revoked { id: a.id }),
        Standing::NotYetValid => {
            return Err(AuthorityRefusal::NotYetValid {
                id: a.id,
                from: a.scope.valid_from,
            })
        }
        Standing::Expired => {
            return Err(AuthorityRefusal::Expired {
                id: a.id,
                to: a.scope.valid_to,
            })
        }
    }
    if !a.scope.trade_modes.is_empty() {
        let mode = f.trade_mode.unwrap_or_default();
        if !a.scope.trade_modes.iter().any(|m| m == mode) {
            return Err(AuthorityRefusal::TradeModeOutOfScope {
                id: a.id,
                trade_mode: if mode.is_empty() {
                    "-".into()
                } else {
                    mode.into()
                },
            });
        }
    }
    if !office_covered(&a.scope.offices, f.office) {
        return Err(AuthorityRefusal::OfficeOutOfScope {
            id: a.id,
            office: f.office,
        });
    }
    if let Some(max) = a.scope.max_declarations {
        if a.used_declarations >= u64::from(max) {
            return Err(AuthorityRefusal::CountLimit { id: a.id, max });
        }
    }
    if let Some(max) = a.scope.max_value_fen {
        let value = f.value.unwrap_or(Fen::ZERO);
        let total = a.used_value_fen.0.saturating_add(value.0);
        if total > max.0 {
            return Err(AuthorityRefusal::ValueLimit {
                id: a.id,
                max,
                used: a.used_value_fen,
                value,
            });
        }
    }
    Ok(())
}

/// What a written filing adds to its authority's use: an accepted declaration counts with its
/// goods value; a rejected one (nothing lodged) and a replay count nothing.
pub fn counts_against(
    req: &SubmitRequest,
    status: clearance::Status,
    replayed: bool,
) -> Option<Fen> {
    if replayed || status == clearance::Status::Rejected {
        None
    } else {
        Some(req.goods_value_fen.unwrap_or(Fen::ZERO))
    }
}

/// A revocation by `by` (the grantor, by USCC) of an authority as it stands.
pub fn revocation(a: &StoredAuthority, by: Uscc) -> Result<(), AuthorityRefusal> {
    if a.grantor != by {
        return Err(AuthorityRefusal::NotGrantor { id: a.id });
    }
    if a.revoked_at.is_some() {
        return Err(AuthorityRefusal::Revoked { id: a.id });
    }
    Ok(())
}

/// The audit detail of a grant or revocation.
pub fn detail(a: &StoredAuthority) -> String {
    serde_json::json!({
        "grantor": a.grantor.to_string(),
        "broker": a.broker.to_string(),
        "scope": a.scope,
        "revoked": a.revoked_at.is_some(),
    })
    .to_string()
}

/// The audit detail of a filing under an authority.
pub fn filing_detail(authority: i64, login: &str, value: Option<Fen>) -> String {
    serde_json::json!({
        "authority": authority,
        "login": login,
        "counted_value_fen": value.map(|v| v.0),
    })
    .to_string()
}

/// Which authorities to list: those a grantor gave, or those a broker holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorityFilter {
    Grantor(Uscc),
    Broker(Uscc),
    /// Between one grantor and one broker.
    Between {
        grantor: Uscc,
        broker: Uscc,
    },
}

/// The storage of powers of attorney and of the case register (a backend that has them
/// answers [`crate::Store::parties_store`]).
pub trait PartiesStore: Queued + Send + Sync {
    /// Record a grant (terms checked with [`check_scope`]), with its audit record.
    fn grant_authority(
        &self,
        new: NewAuthority,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<StoredAuthority, StoreError> {
        check_scope(&new).map_err(|mut v| StoreError::Authority(v.remove(0)))?;
        self.queue()
            .call(|r| Request::GrantAuthority((new, actor.clone(), now), r))
    }

    /// Revoke an authority (only its grantor, once): filings after this commits are refused.
    fn revoke_authority(
        &self,
        id: i64,
        by: Uscc,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<StoredAuthority, StoreError> {
        self.queue()
            .call(|r| Request::RevokeAuthority((id, by, actor.clone(), now), r))
    }

    fn authority(&self, id: i64) -> Result<Option<StoredAuthority>, StoreError>;

    /// Newest first, at most [`AUTHORITIES_MAX`].
    fn authorities(&self, filter: AuthorityFilter) -> Result<Vec<StoredAuthority>, StoreError>;

    /// The declarations a broker filed as an agent (newest first, at most `limit`).
    fn agent_declarations(
        &self,
        broker: Uscc,
        limit: u32,
    ) -> Result<Vec<crate::DeclarationId>, StoreError>;

    /// One step on the case register ([`crate::cases`]), decided on the case as it stands in
    /// the writer's transaction, with its audit record (and, for a penalty, the credit
    /// downgrade with its history row) in the same transaction.
    fn case_step(&self, write: CaseWrite) -> Result<StoredCase, StoreError> {
        crate::cases::check_write(&write)?;
        self.queue().call(|r| Request::CaseStep(Box::new(write), r))
    }

    fn case(&self, id: i64) -> Result<Option<StoredCase>, StoreError>;

    /// One step of AEO certification ([`crate::aeo`]), decided on the certificate as it stands
    /// in the writer's transaction, with its audit record; a decision changes the holder's
    /// credit class with its history row in the same transaction.
    fn aeo_step(
        &self,
        write: crate::aeo::AeoWrite,
    ) -> Result<crate::aeo::StoredCertification, StoreError> {
        crate::aeo::check_write(&write)?;
        self.queue().call(|r| Request::Aeo(Box::new(write), r))
    }

    /// An officer's credit decision outside an audit, with its reason: the class, its history
    /// row and audit records in one transaction (a certificate in force is withdrawn when the
    /// class falls below the certified ones).
    fn credit_decision(
        &self,
        decision: crate::aeo::CreditDecision,
    ) -> Result<CreditChange, StoreError> {
        crate::aeo::check_decision(&decision)?;
        self.queue()
            .call(|r| Request::CreditDecision(Box::new(decision), r))
    }

    /// Downgrade the certified holders of payment notices past due unpaid (one change per
    /// enterprise, triggered by its oldest such notice), in one transaction.
    fn overdue_review(
        &self,
        review: crate::aeo::OverdueReview,
    ) -> Result<Vec<CreditChange>, StoreError> {
        self.queue()
            .call(|r| Request::OverdueReview(Box::new(review), r))
    }

    fn certification(&self, id: i64)
        -> Result<Option<crate::aeo::StoredCertification>, StoreError>;

    /// Newest first, at most [`crate::aeo::CERTIFICATES_MAX`].
    fn certifications(
        &self,
        filter: &crate::aeo::AeoFilter,
    ) -> Result<Vec<crate::aeo::StoredCertification>, StoreError>;

    fn case_by_no(&self, case_no: &str) -> Result<Option<StoredCase>, StoreError>;

    /// Newest first, at most [`crate::cases::CASES_MAX`].
    fn cases(&self, filter: &CaseFilter) -> Result<Vec<StoredCase>, StoreError>;

    /// The credit changes of an enterprise, oldest first.
    fn credit_history(&self, uscc: Uscc) -> Result<Vec<CreditChange>, StoreError>;

    /// One step of customs registration ([`crate::registration`]), decided on the
    /// registration as it stands in the writer's transaction, with its audit record; an
    /// application writes its first administrator's account and, when it takes effect, its
    /// customs code in the same transaction.
    fn registration_step(
        &self,
        write: crate::registration::RegistrationWrite,
    ) -> Result<crate::registration::StoredRegistration, StoreError> {
        crate::registration::check_write(&write)?;
        self.queue()
            .call(|r| Request::Registration(Box::new(write), r))
    }

    /// Replace the roles of an enterprise user (only [`crate::Duty::ENTERPRISE`] roles), with
    /// its audit record. Returns the accounts changed (0: no such enterprise user).
    fn set_roles(
        &self,
        user_id: i64,
        roles: Vec<crate::Duty>,
        actor: &Actor,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if roles.is_empty() || roles.iter().any(|d| !d.is_enterprise_role()) {
            return Err(StoreError::Invalid(
                "an enterprise user holds at least one enterprise role and nothing else".into(),
            ));
        }
        self.queue()
            .call(|r| Request::SetRoles((user_id, roles, actor.clone(), now), r))
    }

    fn registration(
        &self,
        id: i64,
    ) -> Result<Option<crate::registration::StoredRegistration>, StoreError>;

    fn registration_by_uscc(
        &self,
        uscc: Uscc,
    ) -> Result<Option<crate::registration::StoredRegistration>, StoreError>;

    /// Newest first, at most [`crate::registration::REGISTRATIONS_MAX`].
    fn registrations(
        &self,
        filter: &crate::registration::RegistrationFilter,
    ) -> Result<Vec<crate::registration::StoredRegistration>, StoreError>;

    /// The enterprise users bound to `uscc` who can sign in, by login.
    fn enterprise_accounts(&self, uscc: Uscc) -> Result<Vec<crate::Account>, StoreError>;
}
