//! The small core every feature service stands on: [`Core`] holds the store, the reference
//! data, the tax tables, the injected [`Clock`] and the settings, and makes the one access
//! decision, [`Core::authorize`], which returns [`Allowed`]: the proof of what was allowed,
//! holding the narrowed principal with its office scope, computed once.
//!
//! Services take the proof rather than the principal wherever they narrow what they read
//! (listings, transits, postal items, statistics, rules, the feed of an agency), so that the
//! scope is worked out in one place and a use case cannot read without having asked.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use clearance::Actor;
use domain::codes::{OfficeCode, Uscc};
use refdata::RefData;
use store::Store;
use tax::{RateTable, TaxPolicy, TradeRemedyTable, TradingCalendar};

use crate::access::{decide, in_scope, Ask, Denied, Principal};
use crate::clock::Clock;
use crate::error::AppError;

/// Retries of a write that met a concurrent change.
pub(crate) const CONFLICT_RETRIES: usize = 3;

/// Retries of a filing whose bill match met another writer's manifest write. Several processes
/// on one database filing against one busy manifest each lose rounds to the others (someone
/// wins every round, so all get through); three was too few for 37 concurrent filings on 40
/// bills across two processes (`app/tests/postgres_processes.rs`).
pub(crate) const MATCH_RETRIES: usize = 32;

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

#[derive(Clone, Debug)]
pub struct Settings {
    /// How long a session lasts after sign-in.
    pub session_ttl: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            session_ttl: Duration::hours(8),
        }
    }
}

/// Every office of the table with the offices below it, worked out once when the core is
/// built (the office table does not change while the service runs).
struct OfficeTree {
    within: HashMap<OfficeCode, Arc<[OfficeCode]>>,
}

impl OfficeTree {
    fn new(refdata: &RefData) -> OfficeTree {
        let within = refdata
            .offices()
            .map(|o| (o.code, subtree(refdata, o.code)))
            .collect();
        OfficeTree { within }
    }

    /// `root` and every office of the table below it, sorted (an office missing from the table
    /// is worked out on the spot).
    fn of(&self, refdata: &RefData, root: OfficeCode) -> Arc<[OfficeCode]> {
        self.within
            .get(&root)
            .cloned()
            .unwrap_or_else(|| subtree(refdata, root))
    }
}

fn subtree(refdata: &RefData, root: OfficeCode) -> Arc<[OfficeCode]> {
    let mut v: Vec<OfficeCode> = refdata
        .offices()
        .map(|o| o.code)
        .filter(|o| refdata.office_within(*o, root))
        .chain(std::iter::once(root))
        .collect();
    v.sort();
    v.dedup();
    v.into()
}

/// The store, the reference data, the tax tables, the clock and the settings, with the one
/// access decision.
pub struct Core {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) refdata: Arc<RefData>,
    pub(crate) tax: TaxTables,
    pub(crate) settings: Settings,
    clock: Arc<dyn Clock>,
    offices: OfficeTree,
}

impl Core {
    pub fn new(store: Arc<dyn Store>, refdata: Arc<RefData>, clock: Arc<dyn Clock>) -> Core {
        Core {
            offices: OfficeTree::new(&refdata),
            store,
            refdata,
            tax: TaxTables::sample(),
            settings: Settings::default(),
            clock,
        }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn refdata(&self) -> &RefData {
        &self.refdata
    }

    pub fn tax(&self) -> &TaxTables {
        &self.tax
    }

    /// The injected clock's time: the only time `app` knows.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The one access decision ([`crate::access::decide`]), with the proof of what was allowed.
    pub fn authorize<'a>(
        &'a self,
        principal: &'a Principal,
        ask: impl Into<Ask>,
    ) -> Result<Allowed<'a>, Denied> {
        let ask = ask.into();
        decide(principal, ask, &self.refdata)?;
        let scope = match principal {
            Principal::Enterprise { uscc, .. }
            | Principal::Carrier { uscc, .. }
            | Principal::PostalOperator { uscc, .. } => Scope::Own(*uscc),
            Principal::Officer { office, .. } => {
                Scope::Offices(*office, self.offices.of(&self.refdata, *office))
            }
            Principal::Hq { .. } => Scope::Everywhere,
            Principal::Agency { agency, .. } => Scope::Agency(agency.clone()),
            Principal::Admin { .. } => Scope::System,
        };
        Ok(Allowed {
            principal,
            ask,
            scope,
            refdata: &self.refdata,
        })
    }

    /// `root` and the offices below it, sorted (statistics of an office asked for).
    pub(crate) fn offices_within(&self, root: OfficeCode) -> Arc<[OfficeCode]> {
        self.offices.of(&self.refdata, root)
    }
}

/// What a principal's work reaches, narrowed once by [`Core::authorize`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// An enterprise, a carrier or a postal operator: its own USCC.
    Own(Uscc),
    /// An officer: their office, and it with every office of the table below it (sorted).
    Offices(OfficeCode, Arc<[OfficeCode]>),
    /// HQ: every office.
    Everywhere,
    /// A partner agency, by the name its account gives.
    Agency(String),
    /// The system administrator: users and the audit log, no office and no enterprise.
    System,
}

/// Proof that the access matrix allowed a principal what it asked: only [`Core::authorize`]
/// makes one. Holds the principal and its [`Scope`].
#[derive(Clone, Debug)]
pub struct Allowed<'a> {
    principal: &'a Principal,
    ask: Ask,
    scope: Scope,
    refdata: &'a RefData,
}

impl<'a> Allowed<'a> {
    pub fn principal(&self) -> &'a Principal {
        self.principal
    }

    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// What was allowed.
    pub fn ask(&self) -> Ask {
        self.ask
    }

    /// The refusal of what was asked, for a use case that finds the principal may not go on
    /// after all (a filter naming another enterprise, an office out of scope).
    pub fn denied(&self) -> AppError {
        AppError::Forbidden(self.ask.denied(self.principal))
    }

    /// Whether `office` is within the principal's offices (the office table's hierarchy; HQ:
    /// every office; anyone else: none).
    pub fn covers(&self, office: OfficeCode) -> bool {
        in_scope(self.principal, office, self.refdata)
    }

    /// The agency of an agency user; a typed refusal for anyone else (the matrix would have to
    /// allow a non-agency an agency's operation).
    pub fn agency(&self) -> Result<&str, AppError> {
        match &self.scope {
            Scope::Agency(a) => Ok(a),
            _ => Err(self.denied()),
        }
    }

    /// Who the audit log names for this principal's own actions.
    pub fn audit_actor(&self) -> Actor {
        audit_actor(self.principal)
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

pub(crate) fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(e.to_string())
}
