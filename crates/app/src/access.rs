//! Who may do what: [`Principal`] (the signed-in user), what they ask ([`Ask`]: an
//! [`Operation`] on a [`Resource`] for declarations, users, risk and the E-Port, a
//! [`CargoOperation`] on a [`CargoResource`] for transport and cargo control) and the one
//! matrix that decides, [`decide`]. [`authorize`] and [`authorize_cargo`] are its two faces
//! (the access-matrix tests enumerate them); use cases go through
//! [`crate::kernel::Core::authorize`], which returns the proof ([`crate::kernel::Allowed`]) they
//! hold to read or write.
//!
//! Deny by default: the matrix lists what each kind of principal may do and refuses the rest.
//!
//! Scopes (docs/DOMAIN.md §0): an enterprise sees only its own filings (by USCC); an officer sees
//! the work of their office and of the offices below it (refdata's office hierarchy: an officer
//! of 2200 sees 2233, one of 2233 sees neither 2200 nor a sibling); HQ sees every office; an
//! agency sees no declaration, only its own exchange feed and its own E-Port ledger (commerce
//! the licences, market regulation the registry, tax the refund claims, banks their receipts
//! and payments, foreign exchange the class report; docs/EPORT.md); the system
//! administrator manages users and the audit log but not declarations (separation of duties).

use std::collections::BTreeSet;
use std::fmt;

use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;
use serde::Serialize;
pub use store::{Duty, Role};

/// The signed-in user, built from an account by [`Principal::from_account`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Principal {
    /// A user of an enterprise (or its broker), bound to its USCC, with its roles in the
    /// enterprise ([`Duty::ENTERPRISE`]; docs/PARTIES.md "Customs registration").
    Enterprise {
        user_id: i64,
        login: String,
        uscc: Uscc,
        roles: BTreeSet<Duty>,
    },
    /// A customs officer of one office, with duties.
    Officer {
        user_id: i64,
        login: String,
        office: OfficeCode,
        duties: BTreeSet<Duty>,
    },
    /// An officer of headquarters: every office is in scope.
    Hq {
        user_id: i64,
        login: String,
        duties: BTreeSet<Duty>,
    },
    /// A partner agency on the E-Port.
    Agency {
        user_id: i64,
        login: String,
        agency: String,
    },
    /// The system administrator: users, sessions, audit.
    Admin { user_id: i64, login: String },
    /// A carrier or its agent, bound to its USCC (the carrier code of its manifests):
    /// manifests and transits only (the cargo side of the matrix below).
    Carrier {
        user_id: i64,
        login: String,
        uscc: Uscc,
    },
    /// A postal operator, bound to its USCC: parcel lists only.
    PostalOperator {
        user_id: i64,
        login: String,
        uscc: Uscc,
    },
}

impl Principal {
    /// `None` when the account cannot act (an enterprise user without a USCC, an officer
    /// without an office): such an account is refused at sign-in.
    pub fn from_account(a: &store::Account) -> Option<Principal> {
        let user_id = a.user.id;
        let login = a.user.login.clone();
        let duties: BTreeSet<Duty> = a.duties.iter().copied().collect();
        Some(match a.user.role {
            Role::Enterprise => Principal::Enterprise {
                user_id,
                login,
                uscc: a.user.uscc?,
                roles: enterprise_roles(&a.duties),
            },
            Role::Officer => Principal::Officer {
                user_id,
                login,
                office: a.user.office?,
                duties,
            },
            Role::AntiSmuggling => {
                let mut duties = duties;
                duties.insert(Duty::AntiSmuggling);
                Principal::Officer {
                    user_id,
                    login,
                    office: a.user.office?,
                    duties,
                }
            }
            Role::Hq => Principal::Hq {
                user_id,
                login,
                duties,
            },
            Role::Agency => Principal::Agency {
                user_id,
                login,
                agency: a.agency.clone().unwrap_or_else(|| "agency".into()),
            },
            Role::Bank => Principal::Agency {
                user_id,
                login,
                agency: "bank".into(),
            },
            Role::Admin => Principal::Admin { user_id, login },
            Role::Carrier => Principal::Carrier {
                user_id,
                login,
                uscc: a.user.uscc?,
            },
            Role::PostalOperator => Principal::PostalOperator {
                user_id,
                login,
                uscc: a.user.uscc?,
            },
        })
    }

    pub fn user_id(&self) -> i64 {
        match self {
            Principal::Enterprise { user_id, .. }
            | Principal::Officer { user_id, .. }
            | Principal::Hq { user_id, .. }
            | Principal::Agency { user_id, .. }
            | Principal::Admin { user_id, .. }
            | Principal::Carrier { user_id, .. }
            | Principal::PostalOperator { user_id, .. } => *user_id,
        }
    }

    pub fn login(&self) -> &str {
        match self {
            Principal::Enterprise { login, .. }
            | Principal::Officer { login, .. }
            | Principal::Hq { login, .. }
            | Principal::Agency { login, .. }
            | Principal::Admin { login, .. }
            | Principal::Carrier { login, .. }
            | Principal::PostalOperator { login, .. } => login,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Principal::Enterprise { .. } => "enterprise",
            Principal::Officer { .. } => "officer",
            Principal::Hq { .. } => "hq",
            Principal::Agency { .. } => "agency",
            Principal::Admin { .. } => "admin",
            Principal::Carrier { .. } => "carrier",
            Principal::PostalOperator { .. } => "postal_operator",
        }
    }
}

/// The roles an enterprise user holds: those recorded, or, for an account recorded without any
/// (created by the system administrator before enterprises managed their own users), every
/// role, as such accounts always had.
pub fn enterprise_roles(duties: &[Duty]) -> BTreeSet<Duty> {
    let recorded: BTreeSet<Duty> = duties
        .iter()
        .copied()
        .filter(|d| d.is_enterprise_role())
        .collect();
    if recorded.is_empty() {
        legacy_enterprise_roles()
    } else {
        recorded
    }
}

/// What an enterprise account without recorded roles may do: administer, file and pay.
pub fn legacy_enterprise_roles() -> BTreeSet<Duty> {
    [
        Duty::EnterpriseAdministrator,
        Duty::Declarant,
        Duty::Finance,
    ]
    .into_iter()
    .collect()
}

/// Whether an enterprise user's roles allow `op` (on top of the enterprise's own scope): a
/// viewer only reads; a declarant files and takes the declarant's steps; finance pays and
/// claims refunds; the administrator manages the enterprise's users and registration.
fn enterprise_role_allows(op: Operation, roles: &BTreeSet<Duty>) -> bool {
    let has = |d: Duty| roles.contains(&d);
    match op {
        Operation::View
        | Operation::List
        | Operation::ViewLicences
        | Operation::ViewRefundClaims
        | Operation::ViewForexMatch
        | Operation::ViewGuarantees => !roles.is_empty(),
        Operation::Submit
        | Operation::RequestAmendment
        | Operation::RequestCancellation
        | Operation::ReadDeclarationFile
        | Operation::Attach => has(Duty::Declarant),
        Operation::Pay | Operation::FileRefundClaim => has(Duty::Finance),
        Operation::RequestRefund => has(Duty::Declarant) || has(Duty::Finance),
        Operation::ManageAuthorities => has(Duty::EnterpriseAdministrator) || has(Duty::Declarant),
        Operation::ManageEnterprise | Operation::ApplyCertification => {
            has(Duty::EnterpriseAdministrator)
        }
        Operation::RecordReview
        | Operation::OrderInspection
        | Operation::RecordInspection
        | Operation::Assess
        | Operation::Release
        | Operation::ReleaseAgainstGuarantee
        | Operation::Close
        | Operation::DecideRequest
        | Operation::Suspend
        | Operation::ManageUsers
        | Operation::RevokeSessions
        | Operation::VerifyAudit
        | Operation::UnlockSignIn
        | Operation::ViewStatistics
        | Operation::ManageRiskRules
        | Operation::ManageWatchList
        | Operation::SetCreditClass
        | Operation::ViewRiskReport
        | Operation::SetRiskPolicy
        | Operation::ReadExchangeFeed
        | Operation::IssueLicence
        | Operation::ManageRegistry
        | Operation::PayExportRefund
        | Operation::RecordFunds
        | Operation::ReconcilePayments
        | Operation::RegisterGuarantee
        | Operation::EnforceGuarantees
        | Operation::Correct
        | Operation::DecideRefund
        | Operation::ManageCases
        | Operation::ReviewRegistration
        | Operation::AuditCertification => false,
    }
}

/// What a principal asks to do. One per use case of the service (and so per endpoint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// Read one declaration with its events, notices and tax breakdown (and its attached
    /// documents).
    View,
    /// Attach a document to a declaration (the declarant, or an officer who sees it).
    Attach,
    /// List declarations (the listing is narrowed to the principal's scope).
    List,
    Submit,
    RequestAmendment,
    RequestCancellation,
    /// Initiate the payment of a payment notice through a bank (the declarant). Only the bank
    /// user then confirms it (`RecordFunds`); nobody else marks a notice paid.
    Pay,
    RecordReview,
    OrderInspection,
    RecordInspection,
    Assess,
    Release,
    ReleaseAgainstGuarantee,
    /// Close an import, or confirm the exit of an export.
    Close,
    /// Approve or refuse an amendment or cancellation request.
    DecideRequest,
    /// Suspend or resume (anti-smuggling).
    Suspend,
    /// Create users.
    ManageUsers,
    /// Revoke another user's sessions.
    RevokeSessions,
    /// Walk the audit chain.
    VerifyAudit,
    /// Clear a login's sign-in lockout (administrators).
    UnlockSignIn,
    /// Read the statistics of offices (the HQ dashboard): statisticians, within their scope.
    ViewStatistics,
    /// Read and replace risk rules owned by an office (risk analysts, within their scope), and
    /// refresh reference prices.
    ManageRiskRules,
    /// Add and remove watch-list entries (risk analysts).
    ManageWatchList,
    /// Set the credit class of an enterprise (officers with the reviewer duty, or HQ).
    SetCreditClass,
    /// Read the risk report: hit rate and effect of every rule (risk analysts).
    ViewRiskReport,
    /// Set the national risk policy: each credit class's sampling rates, the published
    /// sampling seed and the price-check thresholds (risk analysts of HQ only: the rates and
    /// seed apply to every office, so no office sets them for others).
    SetRiskPolicy,
    /// Read an uploaded declaration file (single-window XML) into the JSON form, to fill the
    /// form for review; nothing is recorded (enterprises, on [`Resource::Upload`] only).
    ReadDeclarationFile,
    /// Read the E-Port exchange feed: the messages addressed to the principal's own agency
    /// (agencies only, on [`Resource::ExchangeFeed`]).
    ReadExchangeFeed,
    /// Issue licences (the commerce agency, on [`Resource::Eport`] without a holder), and
    /// tariff-quota certificates (the agency that allocates the commodity's quota: commerce or
    /// the development-and-reform commission; the service checks the commodity's agency).
    IssueLicence,
    /// Read licences with what remains: the commerce agency its ledger, an enterprise its own
    /// licences (docs/EPORT.md).
    ViewLicences,
    /// Record enterprises in the registry (the market-regulation agency).
    ManageRegistry,
    /// File an export tax refund claim (an enterprise, for itself).
    FileRefundClaim,
    /// Read verified refund claims: the tax agency all of them, an enterprise its own.
    ViewRefundClaims,
    /// Record the payment of a verified refund claim (the tax agency; docs/EPORT.md "Refund
    /// paid").
    PayExportRefund,
    /// Record a bank's receipts and payments and read its own records (bank users); confirm
    /// the payment of a notice initiated through the bank (docs/TAX.md "Payment through the
    /// bank").
    RecordFunds,
    /// Read the daily reconciliation of a bank's payments: a bank user its own, tax officers
    /// (officers or HQ with the tax officer duty) any bank's.
    ReconcilePayments,
    /// Read the foreign-exchange match of goods and funds: the foreign-exchange agency every
    /// enterprise's (the class report), an enterprise its own.
    ViewForexMatch,
    /// Register a guarantee the bank issues (bank users).
    RegisterGuarantee,
    /// Read guarantees: a bank those it issued, an enterprise those securing it, officers and
    /// HQ any (docs/TAX.md "Guarantees").
    ViewGuarantees,
    /// Enforce guarantees whose secured amounts fell due unpaid (tax officers, HQ).
    EnforceGuarantees,
    /// Correct a declaration from a review or inspection finding: a new version (officers
    /// with the reviewer duty, who also decide amendments).
    Correct,
    /// Ask for a refund re-assessment found (the enterprise, for its own declaration).
    RequestRefund,
    /// Approve or refuse a refund (officers with the tax duty).
    DecideRefund,
    /// Grant, list and revoke the enterprise's own powers of attorney to customs brokers, and
    /// list those received (an enterprise, on [`Resource::Authority`] of itself).
    ManageAuthorities,
    /// Open and work anti-smuggling cases: links, seizures, penalties, hearings, closure
    /// (officers with the anti-smuggling duty, on [`Resource::Case`] of their offices).
    ManageCases,
    /// Change or cancel the enterprise's own customs registration, and manage its users and
    /// their roles (the enterprise's administrator, on [`Resource::Enterprise`] of itself).
    ManageEnterprise,
    /// Review, list and cancel customs registrations (officers with the reviewer duty, on
    /// [`Resource::Registration`] of their offices).
    ReviewRegistration,
    /// Apply for AEO certification (the enterprise's administrator, on
    /// [`Resource::Certification`] of itself; docs/PARTIES.md "AEO certification").
    ApplyCertification,
    /// Audit, decide and re-assess AEO certifications (officers with the reviewer duty, on
    /// [`Resource::Certification`] of their offices).
    AuditCertification,
}

impl Operation {
    pub const ALL: [Operation; 49] = [
        Operation::View,
        Operation::Attach,
        Operation::List,
        Operation::Submit,
        Operation::RequestAmendment,
        Operation::RequestCancellation,
        Operation::Pay,
        Operation::RecordReview,
        Operation::OrderInspection,
        Operation::RecordInspection,
        Operation::Assess,
        Operation::Release,
        Operation::ReleaseAgainstGuarantee,
        Operation::Close,
        Operation::DecideRequest,
        Operation::Suspend,
        Operation::ManageUsers,
        Operation::RevokeSessions,
        Operation::VerifyAudit,
        Operation::UnlockSignIn,
        Operation::ViewStatistics,
        Operation::ManageRiskRules,
        Operation::ManageWatchList,
        Operation::SetCreditClass,
        Operation::ViewRiskReport,
        Operation::SetRiskPolicy,
        Operation::ReadDeclarationFile,
        Operation::ReadExchangeFeed,
        Operation::IssueLicence,
        Operation::ViewLicences,
        Operation::ManageRegistry,
        Operation::FileRefundClaim,
        Operation::ViewRefundClaims,
        Operation::PayExportRefund,
        Operation::RecordFunds,
        Operation::ReconcilePayments,
        Operation::ViewForexMatch,
        Operation::RegisterGuarantee,
        Operation::ViewGuarantees,
        Operation::EnforceGuarantees,
        Operation::Correct,
        Operation::RequestRefund,
        Operation::DecideRefund,
        Operation::ManageAuthorities,
        Operation::ManageCases,
        Operation::ManageEnterprise,
        Operation::ReviewRegistration,
        Operation::ApplyCertification,
        Operation::AuditCertification,
    ];

    /// The officer duty an operation on a declaration needs, or `None` when seeing it is
    /// enough (officers) or officers may not do it at all (enterprise steps).
    fn officer_duty(self) -> OfficerRule {
        use OfficerRule::*;
        match self {
            Operation::View | Operation::List | Operation::Attach => AnyDuty,
            Operation::RecordReview | Operation::OrderInspection | Operation::DecideRequest => {
                Needs(Duty::Reviewer)
            }
            Operation::RecordInspection => Needs(Duty::Inspector),
            Operation::Assess | Operation::EnforceGuarantees | Operation::ReconcilePayments => {
                Needs(Duty::TaxOfficer)
            }
            Operation::ViewGuarantees => AnyDuty,
            Operation::Release | Operation::ReleaseAgainstGuarantee | Operation::Close => {
                Needs(Duty::ReleaseOfficer)
            }
            Operation::Suspend | Operation::ManageCases => Needs(Duty::AntiSmuggling),
            Operation::ManageUsers | Operation::RevokeSessions => Needs(Duty::Administrator),
            Operation::ViewStatistics => Needs(Duty::Statistician),
            Operation::ManageRiskRules
            | Operation::ManageWatchList
            | Operation::ViewRiskReport
            | Operation::SetRiskPolicy => Needs(Duty::RiskAnalyst),
            Operation::SetCreditClass => Needs(Duty::Reviewer),
            Operation::Correct | Operation::ReviewRegistration | Operation::AuditCertification => {
                Needs(Duty::Reviewer)
            }
            Operation::DecideRefund => Needs(Duty::TaxOfficer),
            Operation::RequestRefund
            | Operation::Submit
            | Operation::RequestAmendment
            | Operation::RequestCancellation
            | Operation::Pay
            | Operation::VerifyAudit
            | Operation::UnlockSignIn
            | Operation::ReadDeclarationFile
            | Operation::ReadExchangeFeed
            | Operation::IssueLicence
            | Operation::ViewLicences
            | Operation::ManageRegistry
            | Operation::FileRefundClaim
            | Operation::ViewRefundClaims
            | Operation::PayExportRefund
            | Operation::RecordFunds
            | Operation::ViewForexMatch
            | Operation::RegisterGuarantee
            | Operation::ManageAuthorities
            | Operation::ManageEnterprise
            | Operation::ApplyCertification => Never,
        }
    }

    /// Risk management: rules, watch list, credit classes, report, policy. Never on a
    /// declaration.
    pub fn is_risk_management(self) -> bool {
        matches!(
            self,
            Operation::ManageRiskRules
                | Operation::ManageWatchList
                | Operation::SetCreditClass
                | Operation::ViewRiskReport
                | Operation::SetRiskPolicy
        )
    }

    fn enterprise_may(self) -> bool {
        match self {
            Operation::View
            | Operation::Attach
            | Operation::List
            | Operation::Submit
            | Operation::RequestAmendment
            | Operation::RequestCancellation
            | Operation::RequestRefund
            | Operation::Pay => true,
            Operation::RecordReview
            | Operation::OrderInspection
            | Operation::RecordInspection
            | Operation::Assess
            | Operation::Release
            | Operation::ReleaseAgainstGuarantee
            | Operation::Close
            | Operation::DecideRequest
            | Operation::Suspend
            | Operation::ManageUsers
            | Operation::RevokeSessions
            | Operation::VerifyAudit
            | Operation::UnlockSignIn
            | Operation::ViewStatistics
            | Operation::ManageRiskRules
            | Operation::ManageWatchList
            | Operation::SetCreditClass
            | Operation::ViewRiskReport
            | Operation::SetRiskPolicy
            | Operation::ReadDeclarationFile
            | Operation::ReadExchangeFeed
            | Operation::IssueLicence
            | Operation::ViewLicences
            | Operation::ManageRegistry
            | Operation::FileRefundClaim
            | Operation::ViewRefundClaims
            | Operation::PayExportRefund
            | Operation::RecordFunds
            | Operation::ViewForexMatch
            | Operation::ReconcilePayments
            | Operation::RegisterGuarantee
            | Operation::ViewGuarantees
            | Operation::EnforceGuarantees
            | Operation::Correct
            | Operation::DecideRefund
            | Operation::ManageAuthorities
            | Operation::ManageCases
            | Operation::ManageEnterprise
            | Operation::ReviewRegistration
            | Operation::ApplyCertification
            | Operation::AuditCertification => false,
        }
    }
}

enum OfficerRule {
    AnyDuty,
    Needs(Duty),
    Never,
}

/// Whether an officer's (or HQ user's) duties allow `op` on a declaration of their scope: the
/// duty half of the matrix ([`decide`] also checks the scope). The notifications inbox tells
/// officers of what their duties cover with it (`crate::notifications`).
pub fn duties_allow(duties: &BTreeSet<Duty>, op: Operation) -> bool {
    match op.officer_duty() {
        OfficerRule::AnyDuty => true,
        OfficerRule::Needs(d) => duties.contains(&d),
        OfficerRule::Never => false,
    }
}

/// What an operation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// One declaration (existing, or about to be filed), by its declarant and office of
    /// declaration.
    Declaration { declarant: Uscc, office: OfficeCode },
    /// The listing as a whole; the service narrows it to the principal's scope.
    Listing,
    /// A user account: its role and office, if any.
    User {
        role: Role,
        office: Option<OfficeCode>,
    },
    /// The system as a whole (the audit log).
    System,
    /// Statistics of one office and those below it, or (`None`) of the principal's whole scope.
    Statistics { office: Option<OfficeCode> },
    /// Risk management: rules owned by an office (`Some`: that office must be in the
    /// principal's scope), or national lists, credit classes and reports (`None`).
    Risk { office: Option<OfficeCode> },
    /// A file the principal uploads to fill in a declaration form: not filed, not stored.
    Upload,
    /// The exchange feed of the principal's own agency: the service reads only the messages
    /// addressed to it.
    ExchangeFeed,
    /// The E-Port ledgers (docs/EPORT.md): the licences of one holder (`Some`), or an agency's
    /// ledger as a whole (`None`).
    Eport { holder: Option<Uscc> },
    /// A declaration filed (or about to be filed) by the customs broker `broker` in the name of
    /// `declarant` under a power of attorney (docs/PARTIES.md); `live`: the authority is
    /// neither revoked nor expired (worked out by the service from the store).
    AgentDeclaration {
        declarant: Uscc,
        office: OfficeCode,
        broker: Uscc,
        live: bool,
    },
    /// The powers of attorney an enterprise grants.
    Authority { grantor: Uscc },
    /// The anti-smuggling cases of an office (`Some`) or the principal's whole scope (`None`).
    Case { office: Option<OfficeCode> },
    /// An enterprise's own registration and users.
    Enterprise { uscc: Uscc },
    /// The customs registrations of an office (`Some`) or the principal's whole scope (`None`).
    Registration { office: Option<OfficeCode> },
    /// AEO certification: one enterprise's (`holder`), audited by an office (`Some`), or the
    /// principal's whole scope (`None`, a listing).
    Certification {
        holder: Option<Uscc>,
        office: Option<OfficeCode>,
    },
}

/// Why access was refused, with messages in both languages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub code: &'static str,
    pub message_en: String,
    pub message_zh: String,
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message_en)
    }
}

/// An operation as a user reads it in a refusal: what one may not do, in Chinese and English
/// (never the name of the code's variant).
pub trait Labelled {
    /// `(zh, en)`: a verb phrase ("查询报关单列表", "list declarations").
    fn label(&self) -> (&'static str, &'static str);
}

/// Who the principal is, as a refusal names them: `(zh, en)`.
pub fn principal_label(p: &Principal) -> (&'static str, &'static str) {
    match p {
        Principal::Enterprise { .. } => ("企业用户", "an enterprise user"),
        Principal::Officer { .. } => ("海关关员", "a customs officer"),
        Principal::Hq { .. } => ("海关总署用户", "a headquarters user"),
        Principal::Agency { .. } => ("协作部门用户", "a partner agency's user"),
        Principal::Admin { .. } => ("系统管理员", "the system administrator"),
        Principal::Carrier { .. } => ("承运人用户", "a carrier's user"),
        Principal::PostalOperator { .. } => ("邮政企业用户", "a postal operator's user"),
    }
}

/// The refusal of `op` to `principal`, in words the user reads (docs/SECURITY.md: no internal
/// name reaches a message).
pub(crate) fn denied(principal: &Principal, op: impl Labelled) -> Denied {
    let (who_zh, who_en) = principal_label(principal);
    let (op_zh, op_en) = op.label();
    Denied {
        code: "forbidden",
        message_en: format!("{who_en} may not {op_en} here"),
        message_zh: format!("{who_zh}无权在此{op_zh}"),
    }
}

impl Labelled for Operation {
    fn label(&self) -> (&'static str, &'static str) {
        match self {
            Operation::View => ("查看此内容", "see this record"),
            Operation::Attach => ("上传随附单据", "attach documents"),
            Operation::List => ("查询报关单列表", "list declarations"),
            Operation::Submit => ("申报报关单", "file declarations"),
            Operation::RequestAmendment => ("申请修改报关单", "request amendments"),
            Operation::RequestCancellation => ("申请删除报关单", "request cancellations"),
            Operation::Pay => ("缴纳税款", "pay duties and taxes"),
            Operation::RecordReview => ("录入单证审核结果", "record document reviews"),
            Operation::OrderInspection => ("布控查验", "order inspections"),
            Operation::RecordInspection => ("录入查验结果", "record inspections"),
            Operation::Assess => ("计征税费", "assess duties and taxes"),
            Operation::Release => ("放行货物", "release goods"),
            Operation::ReleaseAgainstGuarantee => ("凭担保放行", "release against a guarantee"),
            Operation::Close => ("结关或确认出境", "close declarations or confirm exits"),
            Operation::DecideRequest => (
                "审批修改或删单申请",
                "decide amendment and cancellation requests",
            ),
            Operation::Suspend => ("挂起或解除挂起报关单", "suspend or resume declarations"),
            Operation::ManageUsers => ("管理用户", "manage users"),
            Operation::RevokeSessions => ("注销他人的会话", "end other users' sessions"),
            Operation::VerifyAudit => ("核验审计日志", "verify the audit log"),
            Operation::UnlockSignIn => ("解除登录锁定", "clear sign-in lockouts"),
            Operation::ViewStatistics => ("查看统计数据", "see statistics"),
            Operation::ManageRiskRules => ("管理风险规则", "manage risk rules"),
            Operation::ManageWatchList => ("管理布控名单", "manage the watch list"),
            Operation::SetCreditClass => ("设定企业信用等级", "set credit classes"),
            Operation::ViewRiskReport => ("查看风险报告", "see the risk report"),
            Operation::SetRiskPolicy => ("设定风险策略", "set the risk policy"),
            Operation::ReadDeclarationFile => ("读取报关单文件", "read declaration files"),
            Operation::ReadExchangeFeed => ("读取数据交换订阅", "read the exchange feed"),
            Operation::IssueLicence => ("签发许可证", "issue licences"),
            Operation::ViewLicences => ("查看许可证", "see licences"),
            Operation::ManageRegistry => ("维护企业登记信息", "keep the enterprise registry"),
            Operation::FileRefundClaim => ("申报出口退税", "file export tax refund claims"),
            Operation::ViewRefundClaims => ("查看出口退税申报", "see export tax refund claims"),
            Operation::PayExportRefund => ("登记出口退税退付", "record export tax refunds paid"),
            Operation::RecordFunds => ("录入银行收付款", "record bank receipts and payments"),
            Operation::ReconcilePayments => ("核对银行缴款", "reconcile bank payments"),
            Operation::ViewForexMatch => ("查看外汇核对结果", "see the foreign-exchange match"),
            Operation::RegisterGuarantee => ("登记担保", "register guarantees"),
            Operation::ViewGuarantees => ("查看担保", "see guarantees"),
            Operation::EnforceGuarantees => ("执行担保", "enforce guarantees"),
            Operation::Correct => ("更正报关单", "correct declarations"),
            Operation::RequestRefund => ("申请退税", "request refunds"),
            Operation::DecideRefund => ("审批退税", "decide refunds"),
            Operation::ManageAuthorities => ("管理代理报关委托", "manage powers of attorney"),
            Operation::ManageCases => ("办理缉私案件", "work anti-smuggling cases"),
            Operation::ManageEnterprise => (
                "管理企业备案与用户",
                "manage the enterprise's registration and users",
            ),
            Operation::ReviewRegistration => ("审核报关单位备案", "review customs registrations"),
            Operation::ApplyCertification => ("申请AEO认证", "apply for AEO certification"),
            Operation::AuditCertification => ("审核AEO认证", "audit AEO certifications"),
        }
    }
}

impl Labelled for CargoOperation {
    fn label(&self) -> (&'static str, &'static str) {
        match self {
            CargoOperation::ViewManifest => ("查看舱单", "see manifests"),
            CargoOperation::ListManifests => ("查询舱单列表", "list manifests"),
            CargoOperation::FileManifest => ("申报舱单", "file manifests"),
            CargoOperation::AmendManifest => ("修改舱单", "amend manifests"),
            CargoOperation::ReportArrival => ("申报运抵", "report arrivals"),
            CargoOperation::ReportTally => ("录入理货报告", "record tally reports"),
            CargoOperation::ConfirmDeparture => ("确认离境", "confirm departures"),
            CargoOperation::ListLateBills => ("查询逾期未报提运单", "list late bills"),
            CargoOperation::ViewTransit => ("查看转关", "see transits"),
            CargoOperation::DeclareTransit => ("申报转关", "declare transits"),
            CargoOperation::ConfirmTransitDeparture => {
                ("确认转关启运", "confirm transit departures")
            }
            CargoOperation::ConfirmTransitArrival => ("确认转关抵达", "confirm transit arrivals"),
            CargoOperation::ClearTransit => ("办理转关核销", "clear transits"),
            CargoOperation::CancelTransit => ("撤销转关", "cancel transits"),
            CargoOperation::ListTransits => ("查询转关列表", "list transits"),
            CargoOperation::ListTransitAlerts => ("查询转关预警", "list transit alerts"),
            CargoOperation::FileParcels => ("申报邮递物品清单", "file parcel lists"),
            CargoOperation::FileBaggage => ("录入旅客行李申报", "record baggage declarations"),
            CargoOperation::ViewPostal => ("查看邮递物品", "see postal items"),
        }
    }
}

/// The names the commerce agency goes by (`Principal::Agency::agency`, any case).
pub const COMMERCE: &[&str] = &["commerce", "mofcom"];
/// The names the development-and-reform commission goes by (国家发展改革委: it allocates the
/// tariff quotas of wheat, maize, rice and cotton and issues their certificates).
pub const NDRC: &[&str] = &["ndrc", "development_reform"];
/// The names the market-regulation agency goes by.
pub const MARKET_REGULATION: &[&str] = &["market_regulation", "samr"];
/// The names the tax agency goes by.
pub const TAX: &[&str] = &["tax", "sat"];
/// The names the foreign-exchange agency goes by.
pub const FOREX: &[&str] = &["forex", "safe"];
/// The agency name of bank users ([`Role::Bank`]).
pub const BANK: &[&str] = &["bank"];

fn is_agency(agency: &str, names: &[&str]) -> bool {
    names.iter().any(|n| agency.eq_ignore_ascii_case(n))
}

/// Whether the principal works at HQ or a directly-affiliated customs (an office missing from
/// the table counts by its digits: `XX00` is directly affiliated).
fn decides_credit(principal: &Principal, offices: &RefData) -> bool {
    use domain::reference::{OfficeLevel, Reference};
    match principal {
        Principal::Hq { .. } => true,
        Principal::Officer { office, .. } => match offices.office(*office) {
            Some(o) => matches!(o.level, OfficeLevel::Hq | OfficeLevel::Direct),
            None => *office == OfficeCode::HQ || office.digit_parent() == Some(OfficeCode::HQ),
        },
        _ => false,
    }
}

/// Whether `office` is the principal's office or below it. HQ: every office.
pub fn in_scope(principal: &Principal, office: OfficeCode, offices: &RefData) -> bool {
    match principal {
        Principal::Officer { office: own, .. } => offices.office_within(office, *own),
        Principal::Hq { .. } => true,
        Principal::Enterprise { .. }
        | Principal::Agency { .. }
        | Principal::Admin { .. }
        | Principal::Carrier { .. }
        | Principal::PostalOperator { .. } => false,
    }
}

/// The declaration side of the matrix: declarations, users, statistics, risk, uploads, the
/// exchange feed and the E-Port ledgers.
fn declaration_row(
    principal: &Principal,
    op: Operation,
    resource: Resource,
    offices: &RefData,
) -> bool {
    match (principal, resource) {
        (Principal::Enterprise { roles, .. }, _) if !enterprise_role_allows(op, roles) => false,
        (Principal::Enterprise { uscc, .. }, Resource::Declaration { declarant, .. }) => {
            op.enterprise_may() && op != Operation::List && *uscc == declarant
        }
        // Its own registration and users: every user reads the registration, the
        // administrator (the role is checked above) manages them.
        (Principal::Enterprise { uscc: own, .. }, Resource::Enterprise { uscc }) => {
            matches!(op, Operation::ManageEnterprise | Operation::View) && *own == uscc
        }
        // A broker's filing: the declarant as on its own; the broker sees what it filed, and
        // files and takes the declarant's steps only while its authority is live.
        (
            Principal::Enterprise { uscc, .. },
            Resource::AgentDeclaration {
                declarant,
                broker,
                live,
                ..
            },
        ) => {
            op.enterprise_may()
                && op != Operation::List
                && (*uscc == declarant || (*uscc == broker && (op == Operation::View || live)))
        }
        (Principal::Enterprise { uscc, .. }, Resource::Authority { grantor }) => {
            op == Operation::ManageAuthorities && *uscc == grantor
        }
        // Its own certification: every user reads it, the administrator (the role is checked
        // above) applies.
        (Principal::Enterprise { uscc, .. }, Resource::Certification { holder, .. }) => {
            matches!(op, Operation::ApplyCertification | Operation::View) && holder == Some(*uscc)
        }
        (Principal::Enterprise { .. }, Resource::Listing) => op == Operation::List,
        (Principal::Enterprise { .. }, Resource::Upload) => op == Operation::ReadDeclarationFile,
        // An enterprise reads its own licences, files and follows its own refund claims, and
        // reads its own foreign-exchange match.
        (Principal::Enterprise { uscc, .. }, Resource::Eport { holder }) => {
            matches!(
                op,
                Operation::ViewLicences
                    | Operation::FileRefundClaim
                    | Operation::ViewRefundClaims
                    | Operation::ViewForexMatch
                    | Operation::ViewGuarantees
            ) && holder == Some(*uscc)
        }
        (
            Principal::Enterprise { .. },
            Resource::User { .. }
            | Resource::System
            | Resource::Statistics { .. }
            | Resource::Risk { .. }
            | Resource::ExchangeFeed
            | Resource::Case { .. }
            | Resource::Registration { .. },
        ) => false,

        (Principal::Officer { duties, .. } | Principal::Hq { duties, .. }, resource) => {
            let duty_ok = match op.officer_duty() {
                OfficerRule::AnyDuty => true,
                OfficerRule::Needs(d) => duties.contains(&d),
                OfficerRule::Never => false,
            };
            duty_ok
                && match resource {
                    Resource::Declaration { office, .. }
                    | Resource::AgentDeclaration { office, .. } => {
                        op != Operation::List
                            && op != Operation::ManageCases
                            && op != Operation::ReviewRegistration
                            && op != Operation::AuditCertification
                            && op != Operation::ManageAuthorities
                            && op != Operation::ReconcilePayments
                            && op != Operation::ManageUsers
                            && op != Operation::RevokeSessions
                            && op != Operation::ViewStatistics
                            && !op.is_risk_management()
                            && !matches!(
                                op,
                                Operation::ViewGuarantees | Operation::EnforceGuarantees
                            )
                            && in_scope(principal, office, offices)
                    }
                    Resource::Listing => op == Operation::List,
                    // An office administrator manages officers of their scope only.
                    Resource::User { role, office } => {
                        matches!(op, Operation::ManageUsers | Operation::RevokeSessions)
                            && matches!(role, Role::Officer | Role::AntiSmuggling)
                            && office.is_some_and(|o| in_scope(principal, o, offices))
                    }
                    Resource::System
                    | Resource::Upload
                    | Resource::ExchangeFeed
                    | Resource::Authority { .. }
                    | Resource::Enterprise { .. } => false,
                    // Registrations: reviewers of the office or above it (the duty is checked
                    // above); a listing is narrowed to their offices.
                    Resource::Registration { office } => {
                        op == Operation::ReviewRegistration
                            && office.is_none_or(|o| in_scope(principal, o, offices))
                    }
                    // Certifications: reviewers of the auditing office or above it (the duty
                    // is checked above); a listing is narrowed to their offices.
                    Resource::Certification { office, .. } => {
                        op == Operation::AuditCertification
                            && office.is_none_or(|o| in_scope(principal, o, offices))
                    }
                    // Cases: anti-smuggling officers of the office or above it (the duty is
                    // checked above); a listing is narrowed to their offices.
                    Resource::Case { office } => {
                        op == Operation::ManageCases
                            && office.is_none_or(|o| in_scope(principal, o, offices))
                    }
                    // The guarantee ledger: any officer looks a guarantee up, tax officers
                    // enforce them and reconcile any bank's payments (the duty is checked above); nothing else of the E-Port ledgers.
                    Resource::Eport { holder } => match op {
                        Operation::ViewGuarantees => true,
                        Operation::EnforceGuarantees | Operation::ReconcilePayments => {
                            holder.is_none()
                        }
                        _ => false,
                    },
                    Resource::Statistics { office } => {
                        op == Operation::ViewStatistics
                            && office.is_none_or(|o| in_scope(principal, o, offices))
                    }
                    // Rules: an analyst manages those owned by their office or below it; lists,
                    // classes and the report are national.
                    Resource::Risk { office } => match op {
                        Operation::ManageRiskRules => {
                            office.is_none_or(|o| in_scope(principal, o, offices))
                        }
                        Operation::ManageWatchList | Operation::ViewRiskReport => office.is_none(),
                        // Credit classes (AEO certification, discredit) are national records
                        // decided at HQ or a directly-affiliated customs, not at a subordinate
                        // office (which only applies them).
                        Operation::SetCreditClass => {
                            office.is_none() && decides_credit(principal, offices)
                        }
                        // The national policy: analysts of HQ only (an HQ user, or an officer
                        // of the HQ office), never for one office.
                        Operation::SetRiskPolicy => {
                            office.is_none()
                                && match principal {
                                    Principal::Hq { .. } => true,
                                    Principal::Officer { office, .. } => *office == OfficeCode::HQ,
                                    _ => false,
                                }
                        }
                        _ => false,
                    },
                }
        }

        // An agency reads its own exchange feed; nothing else (other entitlements come with
        // the E-Port ledgers).
        (Principal::Agency { .. }, Resource::ExchangeFeed) => op == Operation::ReadExchangeFeed,
        // The commerce agency issues licences and reads its ledger; the market-regulation
        // agency keeps the registry (docs/EPORT.md).
        // The tax agency reads verified refund claims; banks record receipts and payments;
        // the foreign-exchange agency reads the class report.
        (Principal::Agency { agency, .. }, Resource::Eport { holder: None }) => match op {
            Operation::IssueLicence | Operation::ViewLicences => {
                is_agency(agency, COMMERCE) || is_agency(agency, NDRC)
            }
            Operation::ManageRegistry => is_agency(agency, MARKET_REGULATION),
            Operation::ViewRefundClaims | Operation::PayExportRefund => is_agency(agency, TAX),
            Operation::RecordFunds
            | Operation::RegisterGuarantee
            | Operation::ViewGuarantees
            | Operation::ReconcilePayments => is_agency(agency, BANK),
            Operation::ViewForexMatch => is_agency(agency, FOREX),
            _ => false,
        },
        (Principal::Agency { .. }, _) => false,

        (Principal::Admin { .. }, Resource::User { .. }) => {
            matches!(op, Operation::ManageUsers | Operation::RevokeSessions)
        }
        (Principal::Admin { .. }, Resource::System) => {
            matches!(op, Operation::VerifyAudit | Operation::UnlockSignIn)
        }
        (
            Principal::Admin { .. },
            Resource::Declaration { .. }
            | Resource::Listing
            | Resource::Statistics { .. }
            | Resource::Risk { .. }
            | Resource::Upload
            | Resource::ExchangeFeed
            | Resource::Eport { .. }
            | Resource::AgentDeclaration { .. }
            | Resource::Authority { .. }
            | Resource::Case { .. }
            | Resource::Enterprise { .. }
            | Resource::Registration { .. }
            | Resource::Certification { .. },
        ) => false,

        // Carriers and postal operators work on manifests, transits and parcels
        // (the cargo side of the matrix below), never on declarations, users or statistics.
        (Principal::Carrier { .. } | Principal::PostalOperator { .. }, _) => false,
    }
}

/// What a principal asks: one row of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// An operation on declarations, users, statistics, risk, uploads, the exchange feed or the
    /// E-Port ledgers.
    Declaration(Operation, Resource),
    /// An operation of transport and cargo control.
    Cargo(CargoOperation, CargoResource),
}

impl From<(Operation, Resource)> for Ask {
    fn from((op, resource): (Operation, Resource)) -> Ask {
        Ask::Declaration(op, resource)
    }
}

impl From<(CargoOperation, CargoResource)> for Ask {
    fn from((op, resource): (CargoOperation, CargoResource)) -> Ask {
        Ask::Cargo(op, resource)
    }
}

impl Ask {
    /// The refusal of this ask to `principal`.
    pub fn denied(self, principal: &Principal) -> Denied {
        match self {
            Ask::Declaration(op, _) => denied(principal, op),
            Ask::Cargo(op, _) => denied(principal, op),
        }
    }
}

/// The one access decision, over every operation of the service. Pure: the same principal,
/// ask and office table always give the same answer.
pub fn decide(principal: &Principal, ask: Ask, offices: &RefData) -> Result<(), Denied> {
    let allowed = match ask {
        Ask::Declaration(op, resource) => declaration_row(principal, op, resource, offices),
        Ask::Cargo(op, resource) => cargo_row(principal, op, resource, offices),
    };
    if allowed {
        Ok(())
    } else {
        Err(ask.denied(principal))
    }
}

/// [`decide`] on a declaration-side operation.
pub fn authorize(
    principal: &Principal,
    op: Operation,
    resource: Resource,
    offices: &RefData,
) -> Result<(), Denied> {
    decide(principal, Ask::Declaration(op, resource), offices)
}

/// [`decide`] on a cargo operation.
pub fn authorize_cargo(
    principal: &Principal,
    op: CargoOperation,
    resource: CargoResource,
    offices: &RefData,
) -> Result<(), Denied> {
    decide(principal, Ask::Cargo(op, resource), offices)
}

// ---------------------------------------------------------------------------------------------
// Transport and cargo control (docs/CARGO.md)
//
//
// - A **carrier** files and amends its own manifests, reports their arrival, confirms the
//   departure of its export manifests, declares (and, before departure, cancels) its
//   transits, and sees only its own manifests and transits.
// - A **postal operator** files parcel lists and sees only its own parcels.
// - An **officer** sees and acts on the work of their office and the offices below it: the
//   office of entry/exit of a manifest; the office of entry or destination of a transit (the
//   departure is confirmed (or the transit cancelled) in scope of the office of entry, the
//   arrival and the clearance by a normal declaration in scope of the office of destination); the office of a parcel or baggage declaration. Officers record arrival and
//   tally reports on behalf of terminals and tally agencies (those have no accounts yet) and
//   baggage declarations at the counter. HQ: every office.
// - Enterprises, agencies and administrators: nothing here.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CargoOperation {
    ViewManifest,
    ListManifests,
    FileManifest,
    AmendManifest,
    ReportArrival,
    ReportTally,
    ConfirmDeparture,
    ListLateBills,
    ViewTransit,
    DeclareTransit,
    ConfirmTransitDeparture,
    ConfirmTransitArrival,
    /// Record that a normal declaration at the office of destination cleared the goods.
    ClearTransit,
    /// Cancel a transit before its departure.
    CancelTransit,
    ListTransits,
    ListTransitAlerts,
    FileParcels,
    FileBaggage,
    ViewPostal,
}

impl CargoOperation {
    pub const ALL: [CargoOperation; 19] = [
        CargoOperation::ViewManifest,
        CargoOperation::ListManifests,
        CargoOperation::FileManifest,
        CargoOperation::AmendManifest,
        CargoOperation::ReportArrival,
        CargoOperation::ReportTally,
        CargoOperation::ConfirmDeparture,
        CargoOperation::ListLateBills,
        CargoOperation::ViewTransit,
        CargoOperation::DeclareTransit,
        CargoOperation::ConfirmTransitDeparture,
        CargoOperation::ConfirmTransitArrival,
        CargoOperation::ClearTransit,
        CargoOperation::CancelTransit,
        CargoOperation::ListTransits,
        CargoOperation::ListTransitAlerts,
        CargoOperation::FileParcels,
        CargoOperation::FileBaggage,
        CargoOperation::ViewPostal,
    ];
}

/// What a cargo operation is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CargoResource {
    /// A manifest (existing or about to be filed): its carrier and office of entry/exit.
    Manifest { carrier: Uscc, office: OfficeCode },
    /// A transit: its declarant, office of entry and office of destination.
    Transit {
        declarant: Uscc,
        entry_office: OfficeCode,
        destination_office: OfficeCode,
    },
    /// A parcel list (operator) or a baggage declaration (no operator), at an office.
    Postal {
        operator: Option<Uscc>,
        office: OfficeCode,
    },
    /// A listing as a whole; the service narrows it to the principal's scope.
    Listing,
}

/// The cargo side of the matrix: manifests, transits and postal items.
fn cargo_row(
    principal: &Principal,
    op: CargoOperation,
    resource: CargoResource,
    offices: &RefData,
) -> bool {
    use CargoOperation as O;
    use CargoResource as R;
    match (principal, resource) {
        (Principal::Carrier { uscc, .. }, R::Manifest { carrier, .. }) => {
            *uscc == carrier
                && matches!(
                    op,
                    O::ViewManifest
                        | O::FileManifest
                        | O::AmendManifest
                        | O::ReportArrival
                        | O::ConfirmDeparture
                )
        }
        (Principal::Carrier { uscc, .. }, R::Transit { declarant, .. }) => {
            *uscc == declarant
                && matches!(op, O::ViewTransit | O::DeclareTransit | O::CancelTransit)
        }
        (Principal::Carrier { .. }, R::Listing) => matches!(op, O::ListManifests | O::ListTransits),
        (Principal::Carrier { .. }, R::Postal { .. }) => false,

        (Principal::PostalOperator { uscc, .. }, R::Postal { operator, .. }) => {
            operator == Some(*uscc) && matches!(op, O::FileParcels | O::ViewPostal)
        }
        (Principal::PostalOperator { .. }, R::Listing) => op == O::ViewPostal,
        (Principal::PostalOperator { .. }, R::Manifest { .. } | R::Transit { .. }) => false,

        (Principal::Officer { .. } | Principal::Hq { .. }, resource) => {
            let scope = |o: OfficeCode| in_scope(principal, o, offices);
            match resource {
                R::Manifest { office, .. } => {
                    matches!(
                        op,
                        O::ViewManifest | O::ReportArrival | O::ReportTally | O::ConfirmDeparture
                    ) && scope(office)
                }
                R::Transit {
                    entry_office,
                    destination_office,
                    ..
                } => match op {
                    O::ViewTransit => scope(entry_office) || scope(destination_office),
                    O::ConfirmTransitDeparture | O::CancelTransit => scope(entry_office),
                    O::ConfirmTransitArrival | O::ClearTransit => scope(destination_office),
                    _ => false,
                },
                R::Postal { office, .. } => {
                    matches!(op, O::FileBaggage | O::ViewPostal) && scope(office)
                }
                R::Listing => matches!(
                    op,
                    O::ListManifests
                        | O::ListLateBills
                        | O::ListTransits
                        | O::ListTransitAlerts
                        | O::ViewPostal
                ),
            }
        }

        (Principal::Enterprise { .. } | Principal::Agency { .. } | Principal::Admin { .. }, _) => {
            false
        }
    }
}
