//! [`Clearance`]: the use cases. Each one authenticates nothing (that is [`Clearance::authenticate`]'s
//! job) but authorizes everything: it loads what it needs, calls [`authorize`], decides with the
//! pure lifecycle and writes through the [`Store`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use clearance::{
    decide, Action, Actor, Command, CreditClass, DeclarationState, EnterpriseFacts, EventKind,
    ExaminationResult, FieldChange, Lane, LanePolicy, ReviewProblem, Status, PROBLEMS_MAX,
};
use domain::codes::{Direction, OfficeCode, PreEntryNo, Uscc};
use domain::declaration::{Declaration, DeclarationForm};
use domain::money::Fen;
use refdata::RefData;
use serde::Serialize;
use store::{
    AutomaticReview, DeclarationId, DeclarationKey, DeclarationSummary, ListFilter, NewAccount,
    NewSession, NewUser, Page, PageRequest, Store, StoreError, StoredEvent, StoredNotice,
    SubmitRequest,
};
use tax::{RateTable, TaxContext, TaxPolicy, TradeRemedyTable, TradingCalendar};

use crate::access::{authorize, in_scope, Duty, Operation, Principal, Resource, Role};
use crate::auth;
use crate::clock::Clock;
use crate::error::{AppError, FieldProblem};

/// Longest client sequence number, in characters.
pub const CLIENT_SEQ_NO_CHARS_MAX: usize = 64;
/// Sessions kept in memory; beyond it the cache starts over (the store stays the authority).
const SESSION_CACHE_MAX: usize = 100_000;
/// Retries of a step that met a concurrent change.
pub(crate) const CONFLICT_RETRIES: usize = 3;

/// The tax engine's tables, owned by the service.
pub struct TaxTables {
    pub rates: RateTable,
    pub calendar: TradingCalendar,
    pub remedies: TradeRemedyTable,
    pub policy: TaxPolicy,
}

impl TaxTables {
    /// The shipped sample rates and remedies, China's calendar, the default policy.
    pub fn sample() -> TaxTables {
        TaxTables {
            rates: RateTable::sample(),
            calendar: TradingCalendar::china(),
            remedies: TradeRemedyTable::sample(),
            policy: TaxPolicy::default(),
        }
    }
}

/// What is known about enterprises when a lane is chosen (credit class, history). The
/// enterprise registry of the E-Port will implement it; until then a table in memory.
pub trait EnterpriseRegistry: Send + Sync {
    fn facts(&self, uscc: &Uscc) -> EnterpriseFacts;
}

/// Facts from a table; enterprises not in it are of the general class with a clean record.
#[derive(Clone, Debug, Default)]
pub struct StaticRegistry(pub HashMap<Uscc, EnterpriseFacts>);

impl EnterpriseRegistry for StaticRegistry {
    fn facts(&self, uscc: &Uscc) -> EnterpriseFacts {
        self.0.get(uscc).cloned().unwrap_or(EnterpriseFacts {
            credit_class: CreditClass::General,
            discrepancies_last_year: 0,
        })
    }
}

#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
    /// The code of the simulated bank on the payment link.
    pub bank_code: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_ttl: Duration::hours(8),
            bank_code: "SIMBANK".into(),
        }
    }
}

/// A step on an existing declaration, as an officer or the enterprise asks for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Withdraw {
        reason: String,
    },
    RequestAmendment {
        reason: String,
        changes: Vec<FieldChange>,
    },
    RequestCancellation {
        reason: String,
    },
    Pay {
        notice_no: String,
    },
    RecordReview {
        result: ExaminationResult,
    },
    OrderInspection {
        reason: String,
    },
    RecordInspection {
        result: ExaminationResult,
    },
    /// Compute the taxes with the engine and issue the notices.
    Assess,
    Release,
    ReleaseAgainstGuarantee {
        guarantee_no: String,
    },
    Close,
    ConfirmExit {
        manifest_ref: String,
    },
    ApproveRequest {
        reason: String,
    },
    RefuseRequest {
        reason: String,
    },
    Suspend {
        reason: String,
        case_no: String,
    },
    Unsuspend {
        reason: String,
    },
}

impl Step {
    pub fn operation(&self) -> Operation {
        match self {
            Step::Withdraw { .. } => Operation::Withdraw,
            Step::RequestAmendment { .. } => Operation::RequestAmendment,
            Step::RequestCancellation { .. } => Operation::RequestCancellation,
            Step::Pay { .. } => Operation::Pay,
            Step::RecordReview { .. } => Operation::RecordReview,
            Step::OrderInspection { .. } => Operation::OrderInspection,
            Step::RecordInspection { .. } => Operation::RecordInspection,
            Step::Assess => Operation::Assess,
            Step::Release => Operation::Release,
            Step::ReleaseAgainstGuarantee { .. } => Operation::ReleaseAgainstGuarantee,
            Step::Close | Step::ConfirmExit { .. } => Operation::Close,
            Step::ApproveRequest { .. } | Step::RefuseRequest { .. } => Operation::DecideRequest,
            Step::Suspend { .. } | Step::Unsuspend { .. } => Operation::Suspend,
        }
    }
}

/// The answer to a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Filing {
    pub id: DeclarationId,
    pub pre_entry_no: PreEntryNo,
    pub declaration_no: Option<domain::codes::DeclarationNo>,
    pub status: Status,
    pub lane: Option<Lane>,
    pub version: u64,
    /// `true` when this was a retry of an earlier submission: nothing new was written.
    pub replayed: bool,
}

/// The answer to a step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepDone {
    pub id: DeclarationId,
    pub status: Status,
    pub version: u64,
}

/// One declaration with everything known about it.
#[derive(Clone, Debug, Serialize)]
pub struct DeclarationDetail {
    pub id: DeclarationId,
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub state: DeclarationState,
    /// The declaration as filed (typed form; the wire form for rejected filings).
    pub declaration: serde_json::Value,
    pub events: Vec<StoredEvent>,
    pub notices: Vec<StoredNotice>,
    /// The tax breakdown, every step shown; `None` for rejected filings or when the engine
    /// cannot assess (an exchange rate missing, for instance).
    pub tax: Option<tax::Assessment>,
}

/// Filters of a listing, as a caller gives them; the service adds the caller's scope.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub status: Option<Status>,
    pub lane: Option<Lane>,
    pub office: Option<OfficeCode>,
    pub declarant: Option<Uscc>,
    pub submitted_from: Option<DateTime<Utc>>,
    pub submitted_to: Option<DateTime<Utc>>,
}

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

/// The clearance service.
pub struct Clearance {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) refdata: Arc<RefData>,
    pub(crate) tax: TaxTables,
    /// `None`: the risk engine of `risk` chooses lanes (the default).
    pub(crate) lanes: Option<Arc<dyn LanePolicy + Send + Sync>>,
    pub(crate) registry: Box<dyn EnterpriseRegistry>,
    /// The risk engine, its rules, lists and credit classes (`crate::risk`).
    pub(crate) risk: Arc<crate::risk::RiskDesk>,
    clock: Arc<dyn Clock>,
    settings: Settings,
    /// Sessions already checked, by token hash. Every revocation goes through this service
    /// and evicts here, so the cache never outlives a revoked session; expiry is checked on
    /// every use. (Several server processes would need a short cache lifetime instead.)
    sessions: Mutex<HashMap<String, CachedSession>>,
    /// Transport and cargo control (`crate::cargo`); `None`: declarations are not linked to
    /// manifests and the cargo use cases answer not found.
    pub(crate) cargo: Option<Arc<crate::cargo::CargoDesk>>,
    /// The E-Port exchange (`crate::exchange`): the signing key the feed signs with; `None`:
    /// no feed (outbox rows are written whenever the store keeps an outbox).
    pub(crate) exchange: Option<Arc<crate::exchange::ExchangeDesk>>,
    /// The E-Port ledgers (`crate::eport`): licences and registry checked at filing.
    pub(crate) eport: bool,
}

impl Clearance {
    /// A service with the default lane policy, an empty enterprise registry, the sample tax
    /// tables and default settings; change any of them with the `with_` methods.
    pub fn new(store: Arc<dyn Store>, refdata: Arc<RefData>, clock: Arc<dyn Clock>) -> Clearance {
        Clearance {
            store,
            refdata,
            tax: TaxTables::sample(),
            lanes: None,
            risk: Arc::new(crate::risk::RiskDesk::default()),
            registry: Box::new(StaticRegistry::default()),
            clock,
            settings: Settings::default(),
            sessions: Mutex::new(HashMap::new()),
            cargo: None,
            exchange: None,
            eport: false,
        }
    }

    /// Serve the exchange feed, signed with the desk's key (docs/EXCHANGE.md).
    pub fn with_exchange(mut self, desk: Arc<crate::exchange::ExchangeDesk>) -> Clearance {
        self.exchange = Some(desk);
        self
    }

    /// Link declarations to manifests and enable the cargo use cases (docs/CARGO.md).
    pub fn with_cargo(mut self, desk: Arc<crate::cargo::CargoDesk>) -> Clearance {
        self.cargo = Some(desk);
        self
    }

    /// Choose lanes with another policy instead of the risk engine (for example
    /// `clearance::DefaultLanePolicy`).
    pub fn with_lane_policy(mut self, policy: Box<dyn LanePolicy + Send + Sync>) -> Clearance {
        self.lanes = Some(Arc::from(policy));
        self
    }

    /// Load the risk engine's rules, watch list and credit classes from the store (at start;
    /// later changes go through the risk use cases and take effect at once).
    pub fn load_risk(&self) -> Result<(), AppError> {
        self.risk.load(&*self.store, self.clock.now().date_naive())
    }

    pub fn with_registry(mut self, registry: Box<dyn EnterpriseRegistry>) -> Clearance {
        self.registry = registry;
        self
    }

    pub fn with_tax_tables(mut self, tables: TaxTables) -> Clearance {
        self.tax = tables;
        self
    }

    pub fn with_settings(mut self, settings: Settings) -> Clearance {
        self.settings = settings;
        self
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn refdata(&self) -> &RefData {
        &self.refdata
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    // -----------------------------------------------------------------------------------------
    // Users and sessions

    /// Sign in: the session token, or `Unauthenticated` (the same answer for an unknown login
    /// and a wrong password).
    pub fn login(&self, login: &str, password: &str) -> Result<SessionToken, AppError> {
        let account = self.store.account_by_login(login)?;
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
        let now = self.clock.now();
        let expires_at = now + self.settings.session_ttl;
        self.store.create_session(
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
        let now = self.clock.now();
        {
            let cache = self.sessions.lock().expect("session cache lock");
            if let Some(s) = cache.get(&hash) {
                if now >= s.expires_at {
                    return Err(AppError::Unauthenticated("session expired"));
                }
                return Ok(s.principal.clone());
            }
        }
        let session = self
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
        let mut cache = self.sessions.lock().expect("session cache lock");
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
        self.sessions
            .lock()
            .expect("session cache lock")
            .remove(&hash);
        self.store
            .revoke_session(&hash, &audit_actor(principal), self.clock.now())?;
        Ok(())
    }

    /// An administrator ends every session of a user.
    pub fn revoke_sessions(&self, by: &Principal, login: &str) -> Result<u64, AppError> {
        let account = self
            .store
            .account_by_login(login)?
            .ok_or_else(|| AppError::NotFound(format!("user {login}")))?;
        authorize(
            by,
            Operation::RevokeSessions,
            Resource::User {
                role: account.user.role,
                office: account.user.office,
            },
            &self.refdata,
        )?;
        let uid = account.user.id;
        self.sessions
            .lock()
            .expect("session cache lock")
            .retain(|_, s| s.principal.user_id() != uid);
        Ok(self
            .store
            .revoke_sessions_of(uid, &audit_actor(by), self.clock.now())?)
    }

    /// Create a user (administrators, and office administrators for officers of their scope).
    pub fn create_user(&self, by: &Principal, req: NewUserRequest) -> Result<UserView, AppError> {
        authorize(
            by,
            Operation::ManageUsers,
            Resource::User {
                role: req.role,
                office: req.office,
            },
            &self.refdata,
        )?;
        self.insert_user(req, &audit_actor(by))
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
        let login_ok = !req.login.is_empty()
            && req.login.len() <= 64
            && req
                .login
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b));
        if !login_ok {
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
                    .is_some_and(|o| self.refdata.offices().any(|x| x.code == o));
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
        let id = self.store.create_account(
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
            self.clock.now(),
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
        authorize(by, Operation::VerifyAudit, Resource::System, &self.refdata)?;
        Ok(self.store.verify_audit()?)
    }

    // -----------------------------------------------------------------------------------------
    // Submission and automatic review

    /// Everything a submission writes, decided before writing: parse, validate, authorize,
    /// choose the lane, assess. Public so that the benchmark can write the very same rows
    /// straight to the store (its ceiling).
    pub fn prepare_filing(
        &self,
        principal: &Principal,
        client_seq_no: &str,
        body: &[u8],
    ) -> Result<(SubmitRequest, AutomaticReview), AppError> {
        self.prepare_filing_with(principal, client_seq_no, body)
    }

    /// [`Clearance::prepare_filing`]; the risk decision's feedback row travels in the lane
    /// hook's answer and is written with the filing.
    fn prepare_filing_with(
        &self,
        principal: &Principal,
        client_seq_no: &str,
        body: &[u8],
    ) -> Result<(SubmitRequest, AutomaticReview), AppError> {
        // Only enterprises file; refuse others before reading the document.
        if !matches!(principal, Principal::Enterprise { .. }) {
            return Err(access_denied(principal, Operation::Submit));
        }
        let seq_ok = !client_seq_no.trim().is_empty()
            && client_seq_no.chars().count() <= CLIENT_SEQ_NO_CHARS_MAX
            && !client_seq_no.chars().any(char::is_control);
        if !seq_ok {
            return Err(AppError::invalid(
                "client_seq_no",
                "client_seq_no",
                format!("客户端序号须为 1 至 {CLIENT_SEQ_NO_CHARS_MAX} 个可见字符"),
                format!("a client sequence number has 1 to {CLIENT_SEQ_NO_CHARS_MAX} visible characters"),
            ));
        }
        let form = domain::validate::parse_form(body).map_err(|problems| {
            let structural = problems
                .iter()
                .any(|p| matches!(p.code, "not_json" | "empty" | "too_deep" | "too_large"));
            let list: Vec<FieldProblem> = problems.iter().map(FieldProblem::from).collect();
            if structural {
                AppError::Malformed(list)
            } else {
                AppError::Invalid(list)
            }
        })?;
        let typed = domain::validate::validate(&form, &*self.refdata);
        let header = match &typed {
            Ok(d) => FilingHeader {
                declarant: d.trader.uscc,
                direction: d.direction,
                office: d.declaration_office,
                entry_exit_office: d.entry_exit_office,
            },
            Err(problems) => filing_header(&form).ok_or_else(|| {
                AppError::Invalid(problems.iter().map(FieldProblem::from).collect())
            })?,
        };
        authorize(
            principal,
            Operation::Submit,
            Resource::Declaration {
                declarant: header.declarant,
                office: header.office,
            },
            &self.refdata,
        )?;

        let mut purchase = None;
        let mut goods_value_fen = None;
        let (body_json, review) = match &typed {
            Ok(decl) => {
                goods_value_fen = self.declared_value_fen(decl);
                // Assessed once, with the buyer's purchases for an e-commerce retail import;
                // its transaction value is what this filing adds to them.
                let assessment = self.assess(decl, None);
                if let Some(b) = &decl.buyer {
                    purchase = Some(store::Purchase {
                        buyer: b.person_id(),
                        value_fen: match &assessment {
                            Ok(a) => match &a.regime {
                                tax::Regime::CrossBorderEcommerce {
                                    transaction_value_fen,
                                    ..
                                } => *transaction_value_fen,
                                _ => Fen::ZERO,
                            },
                            // Not assessable (no rate): nothing is counted until it is.
                            Err(_) => Fen::ZERO,
                        },
                    });
                }
                let amounts = assessment.ok().map(|a| notice_amounts(&a));
                let review = self.accepting_review(decl, &header.declarant, amounts);
                (serde_json::to_string(decl).map_err(internal)?, review)
            }
            Err(problems) => (
                serde_json::to_string(&form).map_err(internal)?,
                AutomaticReview::Reject {
                    problems: problems
                        .iter()
                        .take(PROBLEMS_MAX)
                        .map(ReviewProblem::from)
                        .collect(),
                },
            ),
        };
        Ok((
            SubmitRequest {
                client_seq_no: client_seq_no.to_owned(),
                declarant: header.declarant,
                direction: header.direction,
                declaration_office: header.office,
                entry_exit_office: header.entry_exit_office,
                body_json,
                actor: Actor::Enterprise {
                    uscc: header.declarant,
                },
                now: self.clock.now(),
                purchase,
                goods_value_fen,
            },
            review,
        ))
    }

    /// File a declaration (JSON bytes of the wire form) under a client sequence number. Runs
    /// automatic review: rejected with every problem (`AppError::Rejected`, recorded), or
    /// accepted and numbered, the lane chosen and, for green and blue lanes, the taxes
    /// assessed; all in one durable write. A retry with the same number returns the first
    /// result.
    pub fn submit(
        &self,
        principal: &Principal,
        client_seq_no: &str,
        body: &[u8],
    ) -> Result<Filing, AppError> {
        let (request, review) = self.prepare_filing_with(principal, client_seq_no, body)?;
        let filed = self.write_filing(request, review)?;
        if filed.status == Status::Rejected {
            let problems = self
                .store
                .events(filed.id)?
                .iter()
                .rev()
                .find_map(|e| match &e.event.kind {
                    EventKind::Rejected { problems } => {
                        Some(problems.iter().map(FieldProblem::from).collect())
                    }
                    _ => None,
                })
                .unwrap_or_default();
            return Err(AppError::Rejected {
                pre_entry_no: filed.pre_entry_no,
                problems,
            });
        }
        Ok(Filing {
            id: filed.id,
            pre_entry_no: filed.pre_entry_no,
            declaration_no: filed.declaration_no,
            status: filed.status,
            lane: filed.lane,
            version: filed.version,
            replayed: filed.replayed,
        })
    }

    /// The tax engine on a declaration as filed. A cross-border e-commerce retail import is
    /// assessed with its buyer's purchases of the year on record, those still standing (not
    /// rejected, withdrawn or cancelled) and other than `exclude` (the declaration itself once
    /// it is on record). The history is read at filing: two purchases of one buyer filed at the
    /// same moment do not see each other (docs/TAX.md "E-commerce buyers in the service").
    pub(crate) fn assess(
        &self,
        decl: &Declaration,
        exclude: Option<DeclarationId>,
    ) -> Result<tax::Assessment, AppError> {
        let person = decl
            .buyer
            .as_ref()
            .filter(|_| {
                decl.direction == Direction::Import
                    && decl.trade_mode.is_cross_border_ecommerce_retail()
            })
            .map(|b| b.person_id());
        let history = match &person {
            Some(person) => {
                let year = chrono::Datelike::year(&decl.declaration_date);
                let since = domain::time::china_midnight(
                    chrono::NaiveDate::from_ymd_opt(year, 1, 1).expect("1 January exists"),
                )
                .expect("a customs date is within chrono's range");
                let purchases = self
                    .store
                    .purchases(person, since)?
                    .into_iter()
                    .filter(|p| {
                        Some(p.id) != exclude
                            && !matches!(
                                p.status,
                                Status::Rejected | Status::Withdrawn | Status::Cancelled
                            )
                    })
                    .map(|p| tax::Purchase {
                        person_id: person.clone(),
                        date: cargo_control::china_date(p.submitted_at),
                        value_fen: p.value_fen,
                    })
                    .collect();
                Some(tax::EcommerceHistory { purchases })
            }
            None => None,
        };
        let ctx = TaxContext {
            reference: &*self.refdata,
            rates: &self.tax.rates,
            calendar: &self.tax.calendar,
            remedies: &self.tax.remedies,
            policy: &self.tax.policy,
            tax_date: None,
            ecommerce_buyer: match (&person, &history) {
                (Some(person_id), Some(history)) => {
                    Some(tax::EcommerceBuyer { person_id, history })
                }
                _ => None,
            },
        };
        tax::assess(decl, &ctx).map_err(|e| {
            AppError::invalid(
                "",
                "cannot_assess",
                format!("无法计税：{e}"),
                format!("cannot assess: {e}"),
            )
        })
    }

    /// Payable amounts per notice kind, as the lifecycle records them.
    pub(crate) fn assess_amounts(
        &self,
        decl: &Declaration,
        exclude: Option<DeclarationId>,
    ) -> Result<Vec<(clearance::TaxKind, Fen)>, AppError> {
        Ok(notice_amounts(&self.assess(decl, exclude)?))
    }

    fn breakdown(&self, decl: &Declaration, id: DeclarationId) -> Option<tax::Assessment> {
        self.assess(decl, Some(id)).ok()
    }

    // -----------------------------------------------------------------------------------------
    // Steps

    /// Take a step on a declaration: authorize, decide on the current state, append
    /// (optimistic concurrency; a concurrent change is decided again, a few times at most).
    pub fn step(
        &self,
        principal: &Principal,
        key: DeclarationKey,
        step: Step,
    ) -> Result<StepDone, AppError> {
        let op = step.operation();
        for _ in 0..CONFLICT_RETRIES {
            let d = self.load_visible(principal, key)?;
            let header =
                d.state.header.clone().ok_or_else(|| {
                    AppError::Internal(format!("declaration {} has no header", d.id))
                })?;
            authorize(
                principal,
                op,
                Resource::Declaration {
                    declarant: header.declarant,
                    office: header.declaration_office,
                },
                &self.refdata,
            )?;
            let actor = self.actor_for(principal, op, &header)?;
            let action = match step.clone() {
                Step::Withdraw { reason } => Action::Withdraw { reason },
                Step::RequestAmendment { reason, changes } => {
                    Action::RequestAmendment { reason, changes }
                }
                Step::RequestCancellation { reason } => Action::RequestCancellation { reason },
                Step::Pay { notice_no } => Action::Pay { notice_no },
                Step::RecordReview { result } => Action::RecordReview { result },
                Step::OrderInspection { reason } => Action::OrderInspection { reason },
                Step::RecordInspection { result } => Action::RecordInspection { result },
                Step::Assess => {
                    // The engine runs on the declaration as filed; numbers follow the store's
                    // rule so that notices are the same however they were assessed.
                    let Some(declaration_no) = d.state.declaration_no else {
                        return Err(AppError::Refused(clearance::Refusal::NotAllowedInStatus {
                            status: d.state.status,
                            action: "assess",
                        }));
                    };
                    let decl: Declaration = serde_json::from_str(&d.body_json).map_err(|e| {
                        AppError::Internal(format!("declaration {} body: {e}", d.id))
                    })?;
                    let mut amounts = self.assess_amounts(&decl, Some(d.id))?;
                    if let Some(fee) = self.late_fee_at_assessment(&d, &decl) {
                        amounts.push((clearance::TaxKind::LateDeclarationFee, fee));
                    }
                    Action::Assess {
                        notices: amounts
                            .into_iter()
                            .map(|(tax, amount_fen)| clearance::PaymentNotice {
                                notice_no: store::notice_no(declaration_no, tax),
                                tax,
                                amount_fen,
                            })
                            .collect(),
                    }
                }
                Step::Release => Action::Release,
                Step::ReleaseAgainstGuarantee { guarantee_no } => {
                    Action::ReleaseAgainstGuarantee { guarantee_no }
                }
                Step::Close => Action::Close,
                Step::ConfirmExit { manifest_ref } => Action::ConfirmExit { manifest_ref },
                Step::ApproveRequest { reason } => Action::ApproveRequest { reason },
                Step::RefuseRequest { reason } => Action::RefuseRequest { reason },
                Step::Suspend { reason, case_no } => Action::Suspend { reason, case_no },
                Step::Unsuspend { reason } => Action::Unsuspend { reason },
            };
            let now = self.clock.now();
            let events =
                decide(&d.state, &Command { actor, action }, now).map_err(AppError::Refused)?;
            let examined = match &step {
                Step::RecordReview { result } | Step::RecordInspection { result } => Some(result),
                _ => None,
            };
            match self.append_step(&d, examined, events) {
                Ok(a) => {
                    return Ok(StepDone {
                        id: d.id,
                        status: a.status,
                        version: a.version,
                    })
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::Conflict {
            code: "version_conflict",
            message_en: "the declaration keeps changing; try again".into(),
            message_zh: "报关单正被频繁更新，请稍后重试".into(),
        })
    }

    /// The actor the lifecycle sees. An officer of a parent office (or HQ) acts on behalf of
    /// the office of declaration, which is what the event's office records; the login says who.
    fn actor_for(
        &self,
        principal: &Principal,
        op: Operation,
        header: &clearance::Header,
    ) -> Result<Actor, AppError> {
        Ok(match principal {
            Principal::Enterprise { .. } if op == Operation::Pay => Actor::Bank {
                code: self.settings.bank_code.clone(),
            },
            Principal::Enterprise { uscc, .. } => Actor::Enterprise { uscc: *uscc },
            Principal::Officer { login, office, .. } => {
                let acting = if *office == header.declaration_office
                    || *office == header.entry_exit_office
                {
                    *office
                } else {
                    header.declaration_office
                };
                officer_actor(login, acting, op)
            }
            Principal::Hq { login, .. } => officer_actor(login, header.declaration_office, op),
            Principal::Agency { .. }
            | Principal::Admin { .. }
            | Principal::Carrier { .. }
            | Principal::PostalOperator { .. } => return Err(access_denied(principal, op)),
        })
    }

    // -----------------------------------------------------------------------------------------
    // Queries

    /// Load a declaration the principal may see; one they may not see is "not found", so that
    /// numbers cannot be probed.
    fn load_visible(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<store::StoredDeclaration, AppError> {
        let not_found = || AppError::NotFound("declaration".into());
        let d = self.store.load(key)?.ok_or_else(not_found)?;
        let header = d.state.header.as_ref().ok_or_else(not_found)?;
        authorize(
            principal,
            Operation::View,
            Resource::Declaration {
                declarant: header.declarant,
                office: header.declaration_office,
            },
            &self.refdata,
        )
        .map_err(|_| not_found())?;
        Ok(d)
    }

    pub fn get(
        &self,
        principal: &Principal,
        key: DeclarationKey,
    ) -> Result<DeclarationDetail, AppError> {
        let d = self.load_visible(principal, key)?;
        let mut events = self.store.events(d.id)?;
        if matches!(principal, Principal::Enterprise { .. }) {
            crate::risk::redact_for_enterprise(&mut events);
        }
        let notices = self.store.payment_notices(d.id)?;
        let typed: Option<Declaration> = match d.state.status {
            Status::Rejected => None,
            _ => serde_json::from_str(&d.body_json).ok(),
        };
        let tax = typed.as_ref().and_then(|decl| self.breakdown(decl, d.id));
        let declaration = serde_json::from_str(&d.body_json).map_err(internal)?;
        Ok(DeclarationDetail {
            id: d.id,
            version: d.version,
            updated_at: d.updated_at,
            state: d.state,
            declaration,
            events,
            notices,
            tax,
        })
    }

    /// Newest first, narrowed to what the principal may see.
    pub fn list(
        &self,
        principal: &Principal,
        query: ListQuery,
        page: PageRequest,
    ) -> Result<Page<DeclarationSummary>, AppError> {
        authorize(principal, Operation::List, Resource::Listing, &self.refdata)?;
        let mut filter = ListFilter {
            status: query.status,
            lane: query.lane,
            declaration_office: query.office,
            declarant: query.declarant,
            submitted_from: query.submitted_from,
            submitted_to: query.submitted_to,
            offices: None,
        };
        match principal {
            Principal::Enterprise { uscc, .. } => {
                if query.declarant.is_some_and(|d| d != *uscc) {
                    return Err(access_denied(principal, Operation::List));
                }
                filter.declarant = Some(*uscc);
            }
            Principal::Officer { office, .. } => {
                if let Some(o) = query.office {
                    if !in_scope(principal, o, &self.refdata) {
                        return Err(access_denied(principal, Operation::List));
                    }
                } else {
                    let scope: BTreeSet<OfficeCode> = self
                        .refdata
                        .offices()
                        .map(|o| o.code)
                        .filter(|o| self.refdata.office_within(*o, *office))
                        .chain(std::iter::once(*office))
                        .collect();
                    filter.offices = Some(scope.into_iter().collect());
                }
            }
            Principal::Hq { .. } => {}
            Principal::Agency { .. }
            | Principal::Admin { .. }
            | Principal::Carrier { .. }
            | Principal::PostalOperator { .. } => {
                return Err(access_denied(principal, Operation::List))
            }
        }
        if page.limit == 0 || page.limit > store::PAGE_MAX {
            return Err(AppError::invalid(
                "limit",
                "out_of_range",
                format!("每页条数须为 1 至 {}", store::PAGE_MAX),
                format!("limit must be 1 to {}", store::PAGE_MAX),
            ));
        }
        self.store.list(&filter, &page).map_err(|e| match e {
            StoreError::Invalid(why) => AppError::invalid("cursor", "invalid", why.clone(), why),
            other => other.into(),
        })
    }
}

/// An argon2id hash of a random password, checked against when a login is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0sL6bN9o9CDdKMyCQpPoqM8bBtMMuqqDW9rH2pTG0kA";

struct FilingHeader {
    declarant: Uscc,
    direction: Direction,
    office: OfficeCode,
    entry_exit_office: OfficeCode,
}

/// What a filing needs even when the declaration fails review: who files, which direction,
/// which offices. `None` when any of them cannot be read: then nothing can be recorded.
fn filing_header(form: &DeclarationForm) -> Option<FilingHeader> {
    let direction = match form.direction.as_deref()? {
        "import" => Direction::Import,
        "export" => Direction::Export,
        _ => return None,
    };
    Some(FilingHeader {
        declarant: Uscc::parse(form.trader.as_ref()?.uscc.as_deref()?).ok()?,
        direction,
        office: OfficeCode::parse(form.declaration_office.as_deref()?).ok()?,
        entry_exit_office: OfficeCode::parse(form.entry_exit_office.as_deref()?).ok()?,
    })
}

fn officer_actor(login: &str, office: OfficeCode, op: Operation) -> Actor {
    if op == Operation::Suspend {
        Actor::AntiSmuggling {
            login: login.to_owned(),
            office,
        }
    } else {
        Actor::Officer {
            login: login.to_owned(),
            office,
        }
    }
}

/// Who the audit log names for a principal's own actions (sign-in, user management).
pub fn audit_actor(p: &Principal) -> Actor {
    match p {
        Principal::Enterprise { uscc, .. } => Actor::Enterprise { uscc: *uscc },
        Principal::Officer { login, office, .. } => Actor::Officer {
            login: login.clone(),
            office: *office,
        },
        Principal::Hq { login, .. } => Actor::Officer {
            login: login.clone(),
            office: OfficeCode::HQ,
        },
        Principal::Agency { login, agency, .. } => Actor::System {
            component: format!("agency:{agency}:{login}"),
        },
        Principal::Admin { login, .. } => Actor::System {
            component: format!("admin:{login}"),
        },
        Principal::Carrier { uscc, .. } | Principal::PostalOperator { uscc, .. } => {
            Actor::Enterprise { uscc: *uscc }
        }
    }
}

fn access_denied(principal: &Principal, op: Operation) -> AppError {
    AppError::Forbidden(crate::access::denied(principal, op))
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}

/// The lifecycle has one notice per kind; the engine's kinds map onto them.
fn notice_kind(kind: tax::TaxKind) -> clearance::TaxKind {
    match kind {
        tax::TaxKind::Duty | tax::TaxKind::ExportDuty | tax::TaxKind::PostalArticlesTax => {
            clearance::TaxKind::Duty
        }
        tax::TaxKind::AntiDumpingDuty => clearance::TaxKind::AntiDumpingDuty,
        tax::TaxKind::CountervailingDuty => clearance::TaxKind::CountervailingDuty,
        tax::TaxKind::SafeguardDuty => clearance::TaxKind::SafeguardDuty,
        tax::TaxKind::ConsumptionTax => clearance::TaxKind::ConsumptionTax,
        tax::TaxKind::ImportVat => clearance::TaxKind::Vat,
    }
}

/// Payable amounts per notice kind, as the lifecycle records them.
fn notice_amounts(assessment: &tax::Assessment) -> Vec<(clearance::TaxKind, Fen)> {
    let mut by_kind: BTreeMap<clearance::TaxKind, Fen> = BTreeMap::new();
    for n in &assessment.notices {
        if n.payable_fen > Fen::ZERO {
            *by_kind.entry(notice_kind(n.kind)).or_insert(Fen::ZERO) += n.payable_fen;
        }
    }
    by_kind.into_iter().collect()
}
