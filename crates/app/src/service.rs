//! [`Clearance`]: the composition root. It owns the [`Core`] and each feature's state (the
//! risk engine, the cargo ledger, the exchange's key, the session cache) and hands out the
//! feature services, which own the use cases: [`Clearance::filing`], [`Clearance::steps`],
//! [`Clearance::cargo`], [`Clearance::risk`], [`Clearance::eport`], [`Clearance::exchange`],
//! [`Clearance::finance`], [`Clearance::stats`], [`Clearance::users`] and
//! [`Clearance::portal`]. A service is a borrowed view: building one costs nothing, and it
//! reaches only the core and the services below it (the DAG in the crate's documentation).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use clearance::LanePolicy;
use refdata::RefData;
use store::Store;

use crate::anchor::Anchoring;
use crate::attorney::AttorneyService;
use crate::cargo_desk::{CargoDesk, CargoService};
use crate::case_desk::CaseService;
use crate::clock::Clock;
use crate::eport_desk::EportService;
use crate::error::AppError;
use crate::exchange_desk::{ExchangeDesk, ExchangeService};
use crate::filing::FilingService;
use crate::finance::FinanceService;
use crate::inbound_desk::{InboundKeys, InboundResult, InboundService};
use crate::kernel::{Core, Settings, TaxTables};
use crate::portal::PortalService;
use crate::risk_desk::{EnterpriseRegistry, RiskDesk, RiskService, StaticRegistry};
use crate::stats::StatsService;
use crate::steps::StepService;
use crate::users::{Sessions, UserService};

/// The clearance service: the core and the state of each feature.
pub struct Clearance {
    core: Core,
    /// `None`: the risk engine of `risk` chooses lanes (the default).
    lanes: Option<Arc<dyn LanePolicy + Send + Sync>>,
    registry: Box<dyn EnterpriseRegistry>,
    /// The risk engine, its rules, lists and credit classes (`crate::risk_desk`).
    risk: Arc<RiskDesk>,
    sessions: Sessions,
    /// Transport and cargo control (`crate::cargo_desk`); `None`: declarations are not linked
    /// to manifests and the cargo use cases answer not found.
    pub(crate) cargo: Option<Arc<CargoDesk>>,
    /// The E-Port exchange (`crate::exchange_desk`): the signing key the feed signs with;
    /// `None`: no feed (outbox rows are written whenever the store keeps an outbox).
    exchange: Option<Arc<ExchangeDesk>>,
    /// The E-Port ledgers (`crate::eport_desk`): licences and registry checked at filing.
    pub(crate) eport: bool,
    /// The audit chain's anchors (`crate::anchor`): `None`: heads are not signed, and the chain
    /// is verified by its links (and its anchor records' consistency) alone.
    anchoring: Option<Arc<Anchoring>>,
    /// The statistics warehouse (`crate::warehouse`); `None`: its answers are not found.
    warehouse: Option<Arc<dyn crate::warehouse::Warehouse>>,
    /// The agencies' public keys (`crate::inbound_desk`); `None`: customs receives no agency
    /// messages over HTTP.
    inbound_keys: Option<Arc<InboundKeys>>,
}

impl Clearance {
    /// A service with the default lane policy, an empty enterprise registry, the sample tax
    /// tables and default settings; change any of them with the `with_` methods.
    pub fn new(store: Arc<dyn Store>, refdata: Arc<RefData>, clock: Arc<dyn Clock>) -> Clearance {
        Clearance {
            core: Core::new(store, refdata, clock),
            lanes: None,
            registry: Box::new(StaticRegistry::default()),
            risk: Arc::new(RiskDesk::default()),
            sessions: Sessions::default(),
            cargo: None,
            exchange: None,
            eport: false,
            anchoring: None,
            warehouse: None,
            inbound_keys: None,
        }
    }

    /// Receive the agencies' own records as signed messages, verified with these keys
    /// (docs/EXCHANGE.md "The reverse direction").
    pub fn with_inbound_keys(mut self, ring: exchange::KeyRing) -> Clearance {
        self.inbound_keys = Some(Arc::new(InboundKeys::new(ring)));
        self
    }

    /// The agencies' records to customs (`crate::inbound_desk`).
    pub fn inbound(&self) -> InboundService<'_> {
        InboundService {
            core: &self.core,
            keys: self.inbound_keys.as_deref(),
            eport: self.eport(),
            finance: self.finance(),
        }
    }

    /// The newest signed head of the audit chain kept outside the store, when the node anchors.
    pub fn anchoring_head(&self) -> Option<store::SignedHead> {
        self.anchoring.as_ref().and_then(|a| a.latest())
    }

    /// Sign the audit chain's head with the node's key, and verify against it (`crate::anchor`).
    pub fn with_anchoring(mut self, anchoring: Arc<Anchoring>) -> Clearance {
        self.anchoring = Some(anchoring);
        self
    }

    /// Answer the HQ dashboard's trade figures from a statistics warehouse (docs/STATISTICS.md).
    pub fn with_warehouse(mut self, warehouse: Arc<dyn crate::warehouse::Warehouse>) -> Clearance {
        self.warehouse = Some(warehouse);
        self
    }

    /// Serve the exchange feed, signed with the desk's key (docs/EXCHANGE.md).
    pub fn with_exchange(mut self, desk: Arc<ExchangeDesk>) -> Clearance {
        self.exchange = Some(desk);
        self
    }

    /// Link declarations to manifests and enable the cargo use cases (docs/CARGO.md).
    pub fn with_cargo(mut self, desk: Arc<CargoDesk>) -> Clearance {
        self.cargo = Some(desk);
        self
    }

    /// Choose lanes with another policy instead of the risk engine (for example
    /// `clearance::DefaultLanePolicy`).
    pub fn with_lane_policy(mut self, policy: Box<dyn LanePolicy + Send + Sync>) -> Clearance {
        self.lanes = Some(Arc::from(policy));
        self
    }

    pub fn with_registry(mut self, registry: Box<dyn EnterpriseRegistry>) -> Clearance {
        self.registry = registry;
        self
    }

    pub fn with_tax_tables(mut self, tables: TaxTables) -> Clearance {
        self.core.tax = tables;
        self
    }

    pub fn with_settings(mut self, settings: Settings) -> Clearance {
        self.core.settings = settings;
        self
    }

    /// Check filings against the E-Port ledgers (licences and registry), reserve licence
    /// quantities at acceptance and write them off at release (docs/EPORT.md). Needs a store
    /// with an `EportStore`; without one the ledgers stay off.
    pub fn with_eport(mut self) -> Clearance {
        self.eport = true;
        self
    }

    /// Load the risk engine's rules, watch list and credit classes from the store (at start;
    /// later changes go through the risk use cases and take effect at once).
    pub fn load_risk(&self) -> Result<(), AppError> {
        self.risk
            .load(&*self.core.store, self.core.now().date_naive())
    }

    /// Take in what other processes wrote to the same database (several `jinguan serve` on
    /// one PostgreSQL, docs/STORE.md "Several processes"): the manifest log's new events into
    /// the cargo ledger, the risk engine's rules, policy, watch list and credit classes, and
    /// forget the checked sessions (a revocation elsewhere then counts here at the token's
    /// next use). What must be exact at once (numbers, idempotency keys, bill balances,
    /// powers of attorney, licences) is checked in the store's transaction instead. The
    /// server calls this every `--sync-every`; returns the manifest events taken in.
    pub fn sync_from_store(&self) -> Result<u64, AppError> {
        let events = match &self.cargo {
            Some(desk) => desk.catch_up()?,
            None => 0,
        };
        self.load_risk()?;
        self.sessions.forget();
        Ok(events)
    }

    pub fn core(&self) -> &Core {
        &self.core
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.core.store()
    }

    pub fn refdata(&self) -> &RefData {
        self.core.refdata()
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.core.now()
    }

    pub fn risk_desk(&self) -> &Arc<RiskDesk> {
        &self.risk
    }

    // -----------------------------------------------------------------------------------------
    // The feature services

    pub fn users(&self) -> UserService<'_> {
        UserService {
            core: &self.core,
            sessions: &self.sessions,
            anchoring: self.anchoring.as_deref(),
        }
    }

    pub fn portal(&self) -> PortalService<'_> {
        PortalService {
            core: &self.core,
            filing: self.filing(),
        }
    }

    pub fn risk(&self) -> RiskService<'_> {
        RiskService {
            core: &self.core,
            desk: &self.risk,
            registry: &*self.registry,
            lanes: self.lanes.as_ref(),
        }
    }

    pub fn exchange(&self) -> ExchangeService<'_> {
        ExchangeService {
            core: &self.core,
            desk: self.exchange.as_deref(),
        }
    }

    pub fn eport(&self) -> EportService<'_> {
        EportService {
            core: &self.core,
            enabled: self.eport,
        }
    }

    pub fn cargo(&self) -> CargoService<'_> {
        CargoService {
            core: &self.core,
            desk: self.cargo.as_deref(),
            risk: &self.risk,
            exchange: self.exchange(),
        }
    }

    pub fn finance(&self) -> FinanceService<'_> {
        FinanceService {
            core: &self.core,
            enabled: self.eport,
            exchange: self.exchange(),
            cargo: self.cargo(),
        }
    }

    pub fn guarantees(&self) -> crate::guarantee_desk::GuaranteeService<'_> {
        crate::guarantee_desk::GuaranteeService {
            core: &self.core,
            exchange: self.exchange(),
        }
    }

    pub fn stats(&self) -> StatsService<'_> {
        StatsService {
            core: &self.core,
            exchange: self.exchange.as_deref(),
            warehouse: self.warehouse.as_deref(),
        }
    }

    /// Powers of attorney of consignees to customs brokers (docs/PARTIES.md).
    pub fn attorney(&self) -> AttorneyService<'_> {
        AttorneyService { core: &self.core }
    }

    /// Customs registration and an enterprise's own users (docs/PARTIES.md).
    pub fn registrations(&self) -> crate::registration::RegistrationService<'_> {
        crate::registration::RegistrationService {
            core: &self.core,
            users: self.users(),
        }
    }

    /// The AEO desk: certification, the credit class and its history (docs/PARTIES.md).
    pub fn aeo(&self) -> crate::aeo_desk::AeoService<'_> {
        crate::aeo_desk::AeoService {
            core: &self.core,
            risk: self.risk(),
        }
    }

    /// The anti-smuggling case desk (docs/PARTIES.md).
    pub fn cases(&self) -> CaseService<'_> {
        CaseService {
            core: &self.core,
            risk: self.risk(),
        }
    }

    pub fn filing(&self) -> FilingService<'_> {
        FilingService {
            core: &self.core,
            attorney: self.attorney(),
            risk: self.risk(),
            eport: self.eport(),
            cargo: self.cargo(),
        }
    }

    /// Payments through the bank: initiation, confirmation, reconciliation.
    pub fn payments(&self) -> crate::payments::PaymentService<'_> {
        crate::payments::PaymentService {
            core: &self.core,
            steps: self.steps(),
        }
    }

    /// Enterprises' webhook subscriptions (issue 18 item 4).
    pub fn webhooks(&self) -> crate::webhooks::WebhookService<'_> {
        crate::webhooks::WebhookService { core: &self.core }
    }

    pub fn steps(&self) -> StepService<'_> {
        StepService {
            core: &self.core,
            attorney: self.attorney(),
            risk: self.risk(),
            exchange: self.exchange(),
            cargo: self.cargo(),
        }
    }
}

/// Customs' side of the bus for the agencies' records: `exchange::Apply` over
/// [`InboundService::apply_verified`], for the `exchange::Receiver` of the consumer named
/// `CUSTOMS` (`jinguan serve --nats URL --agency-keys FILE`). Refused messages (recorded by the
/// desk) are terminated, store failures redelivered.
pub struct InboundApply(pub Arc<Clearance>);

impl exchange::Apply for InboundApply {
    fn apply_batch(
        &self,
        messages: &[exchange::Verified],
    ) -> Result<Vec<exchange::Outcome>, exchange::ApplyError> {
        let inbound = self.0.inbound();
        Ok(messages
            .iter()
            .map(|m| match inbound.apply_verified(m) {
                InboundResult::Applied => exchange::Outcome::Applied,
                InboundResult::Duplicate => exchange::Outcome::Duplicate,
                InboundResult::Refused { reason, problems } => exchange::Outcome::Rejected {
                    reason,
                    detail: serde_json::to_string(&problems).expect("problems serialise"),
                },
                InboundResult::Retry(why) => exchange::Outcome::Failed(why),
            })
            .collect())
    }

    /// Messages refused before applying (unsigned, forged, tampered, …) are logged by the
    /// receiver and not recorded under their id: a forged copy must not block the genuine one.
    fn record_refused(&self, _refusals: &[exchange::Refusal]) -> Result<(), exchange::ApplyError> {
        Ok(())
    }
}
