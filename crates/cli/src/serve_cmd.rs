//! `jinguan serve`, `jinguan demo`, `jinguan user add`, `jinguan audit verify`: the service
//! wired to a storage backend, the demo data, the first administrator, the audit chain.
//!
//! The backend is chosen once, in [`open_store`]: the embedded SQLite store in the data folder
//! by default, PostgreSQL with `--database postgres://…` (one match arm to fill when its crate
//! lands).

/// `eprintln!`, or a JSON log line with `--log-format json` (`crate::log_format::say`).
macro_rules! say {
    ($($t:tt)*) => {
        crate::log_format::say(format_args!($($t)*))
    };
}

use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use app::{Clearance, Clock, Duty, NewUserRequest, PinnableClock, Role, SystemClock};
use domain::codes::{OfficeCode, Uscc};
use store::Store;
use store_sqlite::{SqliteOptions, SqliteStore};

/// Where the ledger lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `<data-dir>/jinguan.db`.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string.
    Postgres(String),
}

#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// The database: PostgreSQL as `postgres://…`; by default the embedded SQLite store in
    /// the data folder.
    #[arg(long, env = "JINGUAN_DATABASE")]
    pub database: Option<String>,
}

impl StoreArgs {
    pub fn backend(&self, data_dir: &Path) -> anyhow::Result<Backend> {
        match self.database.as_deref() {
            None => Ok(Backend::Sqlite(data_dir.to_owned())),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Backend::Postgres(url.to_owned()))
            }
            Some(other) => bail!(
                "--database must be a postgres:// URL (got {:?}); leave it out for the embedded SQLite store",
                other.split(':').next().unwrap_or("")
            ),
        }
    }
}

pub fn open_store(backend: &Backend) -> anyhow::Result<Arc<dyn Store>> {
    Ok(open_ledgers(backend)?)
}

/// The store opened once, as both `Store` and `CargoStore` (one writer, one audit chain).
pub fn open_ledgers(backend: &Backend) -> anyhow::Result<Arc<dyn store::cargo::Ledgers>> {
    match backend {
        Backend::Sqlite(dir) => Ok(Arc::new(
            SqliteStore::open(dir, SqliteOptions::default())
                .with_context(|| format!("failed to open the store in {}", dir.display()))?,
        )),
        Backend::Postgres(url) => Ok(Arc::new(
            store_postgres::PostgresStore::open(url, store_postgres::PostgresOptions::default())
                .context("failed to open the PostgreSQL store")?,
        )),
    }
}

fn service(
    data_dir: &Path,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    demo: bool,
) -> anyhow::Result<Clearance> {
    let refdata = Arc::new(crate::load_reference(data_dir)?);
    // The tax tables imported into the data folder (exchange rates, calendar, trade remedies),
    // else the shipped ones, as `jinguan tax` reads them.
    let (tables, _) = crate::tax_cmd::tax_tables(data_dir)?;
    // The E-Port ledgers (licences, tariff-quota certificates, registry) are checked at filing
    // (docs/EPORT.md).
    let mut svc = Clearance::new(store, refdata, clock)
        .with_tax_tables(tables)
        .with_eport();
    if demo {
        svc = svc.with_registry(Box::new(app::demo::registry()));
    }
    svc.load_risk()
        .map_err(|e| anyhow::anyhow!("failed to load the risk engine's rules and lists: {e}"))?;
    Ok(svc)
}

/// Minutes between two rebuilds of the reference prices (also after every
/// `app::risk_desk::REFRESH_AFTER_RELEASES` releases, and on request).
const PRICE_REFRESH_MINUTES: u64 = 15;
/// How often `serve` enforces guarantees that fell due unpaid.
const GUARANTEE_SWEEP_MINUTES: u64 = 60;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Load the demo data first (offices, enterprises, users, declarations) and print the logins.
    #[arg(long)]
    demo: bool,
    /// Declarations the demo makes.
    #[arg(long, default_value_t = 300)]
    demo_declarations: usize,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    exchange: crate::exchange_cmd::ExchangeArgs,
    #[command(flatten)]
    cargo: CargoArgs,
    #[command(flatten)]
    limits: LimitArgs,
    /// The statistics warehouse folder (`jinguan stats extract`): the HQ dashboard's trade
    /// figures and the bulletin come from it. With --demo, the demo's declarations are
    /// extracted into it at start.
    #[arg(long)]
    warehouse: Option<PathBuf>,
    #[command(flatten)]
    audit: AuditArgs,
    #[command(flatten)]
    backups: crate::backup_cmd::ScheduleArgs,
    #[command(flatten)]
    tls: TlsArgs,
    /// With PostgreSQL: milliseconds between two reads of what other `jinguan serve`
    /// processes on the same database wrote to what this one keeps in memory (the cargo
    /// ledger, the risk engine's rules, policy, watch list and credit classes, checked
    /// sessions; docs/STORE.md "Several processes"). 0: never (one process only).
    #[arg(long, env = "JINGUAN_SYNC_MS", default_value_t = 1_000)]
    sync_ms: u64,
    /// With --nats: the exchange bus's backlog per agency shown by `/metrics` is asked of the
    /// bus at most once per this many seconds (scrapes in between get the cached figures).
    #[arg(long, env = "JINGUAN_BUS_LAG_SECONDS", default_value_t = 10)]
    bus_lag_seconds: u64,
    /// The log's form on stderr: `text`, or `json` (one object per line, with one line per
    /// request: id, method, route template, status, latency, the principal's kind).
    #[arg(long, value_enum, env = "JINGUAN_LOG_FORMAT", default_value_t = crate::log_format::LogFormat::Text)]
    log_format: crate::log_format::LogFormat,
    #[command(flatten)]
    webhooks: WebhookArgs,
}

/// HTTPS (docs/OPERATIONS.md, "TLS").
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TlsArgs {
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first); needs
    /// --tls-key. Reloaded when the file changes (checked every --tls-reload-seconds) and on
    /// SIGHUP.
    #[arg(
        long,
        value_name = "FILE",
        env = "JINGUAN_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        long,
        value_name = "FILE",
        env = "JINGUAN_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// How often the certificate and key files are checked for a change.
    #[arg(long, env = "JINGUAN_TLS_RELOAD_SECONDS", default_value_t = 5)]
    pub tls_reload_seconds: u64,
    /// A reverse proxy in front terminates HTTPS (and only it reaches this server): answers
    /// carry Strict-Transport-Security and cookies the Secure flag.
    #[arg(long, env = "JINGUAN_BEHIND_HTTPS_PROXY", conflicts_with = "tls_cert")]
    pub behind_https_proxy: bool,
}

/// The audit chain's anchors (docs/OPERATIONS.md, "Audit anchors").
#[derive(clap::Args, Default)]
pub struct AuditArgs {
    /// Seconds between two signed heads of the audit chain (written into the chain and to
    /// `audit-head.json` in the data folder) while records come in.
    #[arg(long, env = "JINGUAN_AUDIT_ANCHOR_SECONDS", default_value_t = 1)]
    audit_anchor_seconds: u64,
    /// Seconds between two signed heads published to the agencies over the exchange (an
    /// `audit_head_published.v1` outbox row with the anchor); 0: never.
    #[arg(long, env = "JINGUAN_AUDIT_PUBLISH_SECONDS", default_value_t = 60)]
    audit_publish_seconds: u64,
    /// Older public keys the chain's heads may be signed with (after a key rotation), one
    /// `ALGORITHM AGENCY KEY_ID PUBLIC_HEX` per line.
    #[arg(long, value_name = "FILE", env = "JINGUAN_AUDIT_KEYS")]
    audit_keys: Option<PathBuf>,
    /// Start even though the audit chain does not verify (logged as an error; `/ready` then
    /// answers 503 until the chain is repaired and the server restarted).
    #[arg(long)]
    start_despite_broken_audit: bool,
}

/// Connection and sign-in limits (docs/OPERATIONS.md, "Limits").
#[derive(clap::Args)]
pub struct LimitArgs {
    /// Seconds a client has to send a request's headers, counted from when the server waits
    /// for it (so also the idle keep-alive timeout).
    #[arg(long, env = "JINGUAN_HEADER_TIMEOUT_SECONDS", default_value_t = 10)]
    header_timeout_seconds: u64,
    /// Seconds a client has to send a request's body once its headers are in (408 after).
    #[arg(long, env = "JINGUAN_BODY_TIMEOUT_SECONDS", default_value_t = 30)]
    body_timeout_seconds: u64,
    /// Connections served at once; beyond it new ones are answered 503 with Retry-After.
    /// Keep it below `ulimit -n` minus the store's files.
    #[arg(long, env = "JINGUAN_MAX_CONNECTIONS", default_value_t = 768)]
    max_connections: usize,
    /// Password checks at once (threads of the sign-in pool; 0: the number of cores, at most 8).
    #[arg(long, env = "JINGUAN_SIGN_IN_WORKERS", default_value_t = 0)]
    sign_in_workers: usize,
    /// Failed sign-ins of one login before back-off and lockout start.
    #[arg(long, env = "JINGUAN_SIGN_IN_LOGIN_FAILURES", default_value_t = 5)]
    sign_in_login_failures: u32,
    /// Failed sign-ins from one client address before back-off and lockout start.
    #[arg(long, env = "JINGUAN_SIGN_IN_ADDRESS_FAILURES", default_value_t = 50)]
    sign_in_address_failures: u32,
}

/// The defaults of the flags above.
impl Default for LimitArgs {
    fn default() -> Self {
        LimitArgs {
            header_timeout_seconds: 10,
            body_timeout_seconds: 30,
            max_connections: 768,
            sign_in_workers: 0,
            sign_in_login_failures: 5,
            sign_in_address_failures: 50,
        }
    }
}

impl LimitArgs {
    fn options(&self) -> server::ServeOptions {
        let mut policy = server::signin::SignInPolicy {
            login_free: self.sign_in_login_failures,
            address_free: self.sign_in_address_failures,
            ..Default::default()
        };
        if self.sign_in_workers > 0 {
            policy.workers = self.sign_in_workers;
        }
        server::ServeOptions {
            signin: server::signin::SignInGuard::new(policy),
            limits: server::conn::ConnLimits {
                header_timeout: std::time::Duration::from_secs(self.header_timeout_seconds.max(1)),
                body_timeout: std::time::Duration::from_secs(self.body_timeout_seconds.max(1)),
                max_connections: self.max_connections.max(1),
            },
            conn_stats: Default::default(),
            unhealthy: None,
            bus_probe: None,
            bus_lag: None,
            tls: None,
            behind_https_proxy: false,
            webhooks: Default::default(),
        }
    }
}

/// Webhook delivery (docs/FORMATS.md "Webhooks", docs/OPERATIONS.md, docs/SECURITY.md).
#[derive(clap::Args)]
pub struct WebhookArgs {
    /// Deliver webhooks to private and local addresses too (loopback, RFC 1918, link-local,
    /// unique local): for a receiver on the same network. Off: such addresses are refused,
    /// in the URL and wherever a name resolves to one (`jinguan demo` turns it on).
    #[arg(long, env = "JINGUAN_WEBHOOK_ALLOW_PRIVATE")]
    webhook_allow_private: bool,
    /// One delivery request, all in (resolve, connect, TLS, answer), in seconds.
    #[arg(long, env = "JINGUAN_WEBHOOK_TIMEOUT_SECONDS", default_value_t = 10)]
    webhook_timeout_seconds: u64,
    /// The first retry's delay in seconds; each next one doubles (with jitter) up to
    /// --webhook-retry-max-seconds.
    #[arg(long, env = "JINGUAN_WEBHOOK_RETRY_SECONDS", default_value_t = 5)]
    webhook_retry_seconds: u64,
    /// The longest delay between two retries of a webhook, in seconds.
    #[arg(
        long,
        env = "JINGUAN_WEBHOOK_RETRY_MAX_SECONDS",
        default_value_t = 3600
    )]
    webhook_retry_max_seconds: u64,
    /// A subscription failing for this many hours is disabled until its owner enables it.
    #[arg(long, env = "JINGUAN_WEBHOOK_GIVE_UP_HOURS", default_value_t = 24)]
    webhook_give_up_hours: u64,
    /// Do not deliver from this process (another `jinguan serve` on the same PostgreSQL
    /// database does).
    #[arg(long, env = "JINGUAN_WEBHOOK_NO_DELIVERY")]
    webhook_no_delivery: bool,
}

impl WebhookArgs {
    fn settings(&self) -> server::webhooks::WebhookSettings {
        use std::time::Duration;
        server::webhooks::WebhookSettings {
            deliver: !self.webhook_no_delivery,
            allow_private: self.webhook_allow_private,
            timeout: Duration::from_secs(self.webhook_timeout_seconds.max(1)),
            retry_base: Duration::from_secs(self.webhook_retry_seconds.max(1)),
            retry_max: Duration::from_secs(
                self.webhook_retry_max_seconds
                    .max(self.webhook_retry_seconds)
                    .max(1),
            ),
            give_up_after: Duration::from_secs(self.webhook_give_up_hours.max(1) * 3600),
            poll: Duration::from_secs(1),
        }
    }
}

/// How closely a declaration must agree with its bill of lading (docs/CARGO.md, "Matching").
#[derive(clap::Args)]
pub struct CargoArgs {
    /// The gross weight declared may differ from the bill's by this fraction (0.03 = 3 %) …
    #[arg(
        long,
        env = "JINGUAN_CARGO_WEIGHT_TOLERANCE_RATIO",
        default_value = "0.03"
    )]
    cargo_weight_tolerance_ratio: rust_decimal::Decimal,
    /// … or by this many kilograms, whichever allows more.
    #[arg(long, env = "JINGUAN_CARGO_WEIGHT_TOLERANCE_KG", default_value = "5")]
    cargo_weight_tolerance_kg: rust_decimal::Decimal,
    /// Accept a declaration covering part of a bill's packages (分批申报).
    #[arg(long, env = "JINGUAN_CARGO_ALLOW_PARTIAL")]
    cargo_allow_partial: bool,
}

impl From<cargo_control::MatchPolicy> for CargoArgs {
    fn from(m: cargo_control::MatchPolicy) -> CargoArgs {
        CargoArgs {
            cargo_weight_tolerance_ratio: m.weight_tolerance_ratio,
            cargo_weight_tolerance_kg: m.weight_tolerance_kg,
            cargo_allow_partial: m.allow_partial,
        }
    }
}

impl CargoArgs {
    fn policy(&self) -> anyhow::Result<app::cargo_desk::CargoPolicy> {
        let matching = cargo_control::MatchPolicy::new(
            self.cargo_weight_tolerance_ratio,
            self.cargo_weight_tolerance_kg,
            self.cargo_allow_partial,
        )
        .map_err(|e| anyhow::anyhow!("invalid cargo matching setting: {e}"))?;
        Ok(app::cargo_desk::CargoPolicy {
            matching,
            ..app::cargo_desk::CargoPolicy::default()
        })
    }
}

#[derive(clap::Args)]
pub struct DemoArgs {
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    #[arg(long, default_value_t = 300)]
    demo_declarations: usize,
    #[command(flatten)]
    store: StoreArgs,
}

impl From<DemoArgs> for ServeArgs {
    fn from(d: DemoArgs) -> ServeArgs {
        ServeArgs {
            addr: d.addr,
            demo: true,
            demo_declarations: d.demo_declarations,
            store: d.store,
            exchange: crate::exchange_cmd::ExchangeArgs::default(),
            cargo: CargoArgs::from(cargo_control::MatchPolicy::default()),
            limits: LimitArgs::default(),
            audit: AuditArgs {
                audit_anchor_seconds: 1,
                audit_publish_seconds: 60,
                ..AuditArgs::default()
            },
            backups: crate::backup_cmd::ScheduleArgs::default(),
            warehouse: None,
            tls: TlsArgs::default(),
            sync_ms: 1_000,
            bus_lag_seconds: 10,
            log_format: crate::log_format::LogFormat::Text,
            // The demo runs on one machine: its receivers are local.
            webhooks: WebhookArgs {
                webhook_allow_private: true,
                webhook_timeout_seconds: 10,
                webhook_retry_seconds: 5,
                webhook_retry_max_seconds: 3600,
                webhook_give_up_hours: 24,
                webhook_no_delivery: false,
            },
        }
    }
}

pub fn run_serve(data_dir: &Path, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    crate::log_format::init(args.log_format);
    let backend = args.store.backend(data_dir)?;
    if args.backups.backup_dir.is_some() && !matches!(backend, Backend::Sqlite(_)) {
        bail!("--backup-dir backs up the embedded SQLite store; back PostgreSQL up with its own tools (docs/OPERATIONS.md)");
    }
    let ledgers = open_ledgers(&backend)?;
    // Transport and cargo control on the same store: the manifest ledger replayed once here.
    let desk = app::cargo_desk::CargoDesk::open(ledgers.clone(), args.cargo.policy()?)
        .map_err(|e| anyhow::anyhow!("failed to replay the manifest log: {e}"))?;
    // The E-Port exchange: the feed's signing key, and the relay when a bus is given.
    let key = Arc::new(crate::exchange_cmd::load_key(data_dir, &args.exchange)?);
    let (exchange, relay) =
        crate::exchange_cmd::desk(key.clone(), ledgers.clone(), &args.exchange)?;
    // The audit chain, verified against the head kept outside the store before anything is
    // written; its head then signed with the same key.
    let mut anchoring =
        crate::anchor_file::anchoring(data_dir, key, args.audit.audit_keys.as_deref())?;
    if args.audit.audit_publish_seconds > 0 {
        let every_ms = i64::try_from(args.audit.audit_publish_seconds.saturating_mul(1000))
            .unwrap_or(i64::MAX);
        anchoring = anchoring.publishing_every(every_ms);
    }
    let anchoring = Arc::new(anchoring);
    let mut options = args.limits.options();
    options.behind_https_proxy = args.tls.behind_https_proxy;
    options.webhooks = args.webhooks.settings();
    if let (Some(cert), Some(key)) = (&args.tls.tls_cert, &args.tls.tls_key) {
        options.tls = Some(
            server::tls::ServerTls::load(cert, key)
                .map_err(|e| anyhow::anyhow!("TLS certificate 证书无法载入: {e}"))?,
        );
    }
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if let Some(url) = &args.exchange.nats {
        let mut bus = exchange_bus::BusConfig::new(url.clone());
        bus.stream = args.exchange.exchange_stream.clone();
        bus.subject_prefix = args.exchange.exchange_subject_prefix.clone();
        bus.security = args.exchange.nats_security.security();
        // The backlog per agency for /metrics, asked of the bus at most once a period.
        let lag = Arc::new(exchange_bus::status::LagCache::new(
            bus.clone(),
            std::time::Duration::from_secs(args.bus_lag_seconds.max(1)),
        ));
        options.bus_lag = Some(Arc::new(move || {
            let lag = lag.clone();
            let snapshot: std::pin::Pin<
                Box<dyn std::future::Future<Output = server::metrics::BusLagSnapshot> + Send>,
            > = Box::pin(async move {
                let (state, age) = lag.get().await;
                server::metrics::BusLagSnapshot {
                    rows: state.map(|agencies| {
                        agencies
                            .into_iter()
                            .map(|(agency, s)| server::metrics::BusLagRow {
                                agency: agency.to_string(),
                                pending: s.num_pending,
                                unacknowledged: s.num_ack_pending,
                                consumer: s.consumer,
                            })
                            .collect()
                    }),
                    age_seconds: age.as_secs_f64(),
                }
            });
            snapshot
        }));
        let bus = Arc::new(bus);
        options.bus_probe = Some(Arc::new(move || {
            let bus = bus.clone();
            let probe: std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<(), String>> + Send>,
            > = Box::pin(async move {
                exchange_bus::bus::probe(&bus, std::time::Duration::from_secs(1))
                    .await
                    .map_err(|e| e.to_string())
            });
            probe
        }));
    }
    let t = Instant::now();
    let report = ledgers
        .verify_audit_with(&anchoring.verify_options())
        .context("failed to read the audit log")?;
    if report.is_intact() {
        // The Merkle tree over the verified chain: the first anchor extends it instead of
        // reading every record hash again inside the writer's transaction.
        anchoring.tree.set(report.tree.clone());
    }
    if let Some(why) = crate::anchor_file::describe_broken(&report) {
        if !args.audit.start_despite_broken_audit {
            bail!(
                "{why}\nrefusing to start 拒绝启动: run `jinguan audit verify` for the report; start anyway with --start-despite-broken-audit (then /ready answers 503)"
            );
        }
        tracing::error!(target: "security", report = %why, "starting on a broken audit chain (--start-despite-broken-audit)");
        say!("jinguan: WARNING starting on a broken audit chain 审计链断裂仍启动 (--start-despite-broken-audit): {why}");
        options.unhealthy = Some("audit_chain_broken".into());
    } else {
        say!(
            "audit chain verified 审计链已核验: {} records, {} anchors, signed through record {} ({} ms)",
            report.records_checked,
            report.anchors_checked,
            report.anchored_through,
            t.elapsed().as_millis()
        );
    }
    // The system clock; the demo pins it to the past hours while it files its declarations.
    let clock = Arc::new(PinnableClock::new());
    #[cfg(feature = "stats")]
    let warehouse = match &args.warehouse {
        Some(dir) => Some(crate::stats_cmd::ServedWarehouse::open(data_dir, dir)?),
        None => None,
    };
    #[cfg(not(feature = "stats"))]
    anyhow::ensure!(
        args.warehouse.is_none(),
        "this jinguan was built without the statistics warehouse 本程序未包含统计仓库: \
         build it with `cargo build --release --features stats` (docs/STATISTICS.md)"
    );
    // The agencies' own records to customs (docs/EXCHANGE.md "The reverse direction").
    let agency_keys = crate::exchange_cmd::agency_keys(&args.exchange)?;
    let mut built = service(data_dir, ledgers.clone(), clock.clone(), args.demo)?
        .with_cargo(Arc::new(desk))
        .with_exchange(exchange)
        .with_anchoring(anchoring);
    if let Some(ring) = &agency_keys {
        built = built.with_inbound_keys(ring.clone());
    }
    #[cfg(feature = "stats")]
    let built = match &warehouse {
        Some(w) => built.with_warehouse(w.clone()),
        None => built,
    };
    let svc = Arc::new(built);
    if args.demo {
        let t = Instant::now();
        let summary = app::demo::load_over_past_hours(&svc, args.demo_declarations, &clock)
            .map_err(|e| anyhow::anyhow!("failed to load the demo data: {e}"))?;
        say!(
            "demo data loaded 演示数据已载入: {} users, {} declarations in {:.1} s",
            summary.users,
            summary.declarations,
            t.elapsed().as_secs_f64()
        );
        #[cfg(feature = "stats")]
        if let Some(w) = &warehouse {
            let rows = w.extract(data_dir, ledgers.as_ref())?;
            say!("statistics warehouse 统计仓库: {rows} item rows extracted from the demo");
        }
        for (status, n) in &summary.by_status {
            say!("  {:<20} {n}", status.as_str());
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("failed to listen on {}", args.addr))?;
        let addr = listener.local_addr().context("no local address")?;
        // The first line of stdout is the URL: scripts and tests read it.
        println!("{scheme}://{addr}/");
        if args.demo {
            print_demo_logins(addr);
        }
        say!(
            "jinguan serving 服务已启动 on {scheme}://{addr}/ (API under /api, OpenAPI at /api/openapi.json), ready in {} ms",
            started.elapsed().as_millis()
        );
        std::io::stdout().flush().ok();
        if let Some(relay) = relay {
            let (_stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                // The sender lives as long as the relay: the runtime ends it at shutdown.
                let _stop = _stop;
                if let Err(e) = relay.run(stopped).await {
                    tracing::error!(error = %e, "exchange relay stopped");
                    say!("jinguan: exchange relay stopped: {e}");
                }
            });
        }
        // With a bus and the agencies' keys: customs' own durable consumer, `CUSTOMS`, applying
        // the agencies' records once, acknowledged after the commit.
        if let (Some(url), Some(ring)) = (&args.exchange.nats, agency_keys) {
            let mut bus = exchange_bus::BusConfig::new(url.clone());
            bus.stream = args.exchange.exchange_stream.clone();
            bus.subject_prefix = args.exchange.exchange_subject_prefix.clone();
            bus.security = args.exchange.nats_security.security();
            let receiver = exchange::Receiver::new(
                exchange::Agency::parse(app::exchange_desk::CUSTOMS).expect("agency code"),
                Arc::new(ring),
                Arc::new(app::service::InboundApply(svc.clone())),
            );
            let consumer = exchange_bus::Consumer::new(
                bus,
                receiver,
                exchange_bus::ConsumerConfig::default(),
            );
            let (_stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                let _stop = _stop;
                if let Err(e) = consumer.run(stopped).await {
                    tracing::error!(error = %e, "exchange consumer CUSTOMS stopped");
                    say!("jinguan: exchange consumer CUSTOMS stopped: {e}");
                }
            });
        }
        // Several processes on one PostgreSQL database: what the others wrote, taken in.
        if matches!(backend, Backend::Postgres(_)) && args.sync_ms > 0 {
            let syncer = svc.clone();
            let period = std::time::Duration::from_millis(args.sync_ms);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(period);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut failing = false;
                loop {
                    tick.tick().await;
                    let s = syncer.clone();
                    match tokio::task::spawn_blocking(move || s.sync_from_store()).await {
                        Ok(Ok(_)) => failing = false,
                        Ok(Err(e)) if !failing => {
                            failing = true;
                            tracing::warn!(error = %e, "sync from the database failed (retried every period)");
                        }
                        _ => {}
                    }
                }
            });
        }
        // Reference prices are rebuilt off the hot path, on the blocking pool.
        let refresher = svc.clone();
        tokio::spawn(async move {
            let period = std::time::Duration::from_secs(PRICE_REFRESH_MINUTES * 60);
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let s = refresher.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if let Err(e) = s.risk().refresh_prices(None) {
                        tracing::warn!(error = %e, "price refresh failed");
                    }
                })
                .await;
            }
        });
        // Guarantees whose secured amounts fell due unpaid are enforced against their banks
        // (docs/TAX.md "Guarantees"): at start, then every hour; a reservation is claimed once.
        let sweeper = svc.clone();
        tokio::spawn(async move {
            let period = std::time::Duration::from_secs(GUARANTEE_SWEEP_MINUTES * 60);
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                let s = sweeper.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    match s.guarantees().sweep() {
                        Ok(r) if !r.claimed.is_empty() => {
                            tracing::info!(claims = r.claimed.len(), on = %r.on, "guarantees enforced")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "guarantee sweep failed"),
                    }
                    // Certified enterprises with a notice past its due date unpaid lose their
                    // certification's class (docs/PARTIES.md "Credit").
                    match s.aeo().overdue_sweep() {
                        Ok(r) if !r.changes.is_empty() => {
                            tracing::info!(downgraded = r.changes.len(), "overdue notices: credit classes downgraded")
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "overdue credit sweep failed"),
                    }
                })
                .await;
            }
        });
        // The certificate and key re-read every few seconds and on SIGHUP: a renewed pair
        // serves new connections without a restart.
        if let Some(tls) = options.tls.clone() {
            let every = std::time::Duration::from_secs(args.tls.tls_reload_seconds.max(1));
            tokio::spawn(reload_tls(tls, every));
        }
        // The audit chain's head, signed and kept outside the store while records come in.
        let anchor_svc = svc.clone();
        let anchor_dir = data_dir.to_owned();
        let anchor_period = std::time::Duration::from_secs(args.audit.audit_anchor_seconds.max(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(anchor_period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                tick.tick().await;
                let s = anchor_svc.clone();
                let dir = anchor_dir.clone();
                let outcome = tokio::task::spawn_blocking(move || anchor_once(&s, &dir)).await;
                match outcome {
                    Ok(Ok(())) => failing = false,
                    Ok(Err(e)) if !failing => {
                        failing = true;
                        tracing::warn!(error = %e, "audit anchor failed (retried every period)");
                    }
                    _ => {}
                }
            }
        });
        // Scheduled backups of the SQLite store, each verified, the oldest beyond the number kept
        // removed; the first after one period.
        if let Some(dir) = args.backups.backup_dir.clone() {
            let every = args.backups.backup_every;
            let keep = args.backups.backup_keep;
            let data = data_dir.to_owned();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    let (data, dir) = (data.clone(), dir.clone());
                    match tokio::task::spawn_blocking(move || {
                        crate::backup_cmd::scheduled_backup(&data, &dir, keep)
                    })
                    .await
                    {
                        Ok(Ok(file)) => tracing::info!(file = %file.display(), "scheduled backup written and verified"),
                        Ok(Err(e)) => {
                            tracing::error!(error = %format!("{e:#}"), "scheduled backup failed");
                            say!("jinguan: scheduled backup failed 定时备份失败: {e:#}");
                        }
                        Err(e) => tracing::error!(error = %e, "scheduled backup task failed"),
                    }
                }
            });
        }
        let served = server::serve_with(listener, svc.clone(), options, shutdown_signal())
            .await
            .context("server failed");
        // A last head at shutdown, so that nothing written before it rests on the chain alone.
        let s = svc.clone();
        let dir = data_dir.to_owned();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || anchor_once(&s, &dir)).await {
            say!("jinguan: the last audit anchor failed: {e}");
        }
        served
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Sign the chain head if anything was written since the last one, and keep it in the head file.
fn anchor_once(svc: &Clearance, data_dir: &Path) -> anyhow::Result<()> {
    let head = svc
        .users()
        .anchor_audit()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if let Some(head) = head {
        crate::anchor_file::write_head(data_dir, &head)?;
    }
    Ok(())
}

fn print_demo_logins(addr: SocketAddr) {
    println!(
        "demo logins 演示账号 (password 密码: {}):",
        app::demo::DEMO_PASSWORD
    );
    for u in app::demo::users() {
        let bound = match (u.office, u.uscc, u.agency) {
            (Some(o), _, _) => format!("office {o}"),
            (_, Some(x), _) => format!("USCC {x}"),
            (_, _, Some(a)) => format!("agency {a}"),
            _ => String::new(),
        };
        let duties: Vec<&str> = u.duties.iter().map(|d| d.as_str()).collect();
        println!(
            "  {:<12} {:<15} {:<24} {}",
            u.login,
            u.role.as_str(),
            bound,
            duties.join(",")
        );
    }
    println!(
        "try: curl -s -X POST http://{addr}/api/session -H 'content-type: application/json' -d '{{\"login\":\"pd-officer\",\"password\":\"{}\"}}'",
        app::demo::DEMO_PASSWORD
    );
}

/// Reload the certificate when its files change (checked every `every`, and on SIGHUP).
async fn reload_tls(tls: Arc<server::tls::ServerTls>, every: std::time::Duration) {
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        {
            let hangup = async {
                match hup.as_mut() {
                    Some(h) => {
                        h.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tick.tick() => {},
                () = hangup => {},
            }
        }
        #[cfg(not(unix))]
        tick.tick().await;
        let t = tls.clone();
        match tokio::task::spawn_blocking(move || t.reload_if_changed()).await {
            Ok(Ok(true)) => {
                tracing::warn!(target: "security", "TLS certificate reloaded");
                say!("jinguan: TLS certificate reloaded 证书已重新载入");
            }
            Ok(Ok(false)) | Err(_) => {}
            Ok(Err(e)) => {
                tracing::error!(target: "security", error = %e, "TLS certificate not reloaded; the previous one stays in service");
                say!("jinguan: TLS certificate not reloaded 证书未重新载入 (the previous one stays): {e}");
            }
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    say!("jinguan: shutting down 正在停止");
}

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create a user. The password is read from standard input (one line).
    Add {
        #[arg(long)]
        login: String,
        /// enterprise, officer, anti_smuggling, hq, agency, admin
        #[arg(long)]
        role: String,
        /// Office of an officer (4 digits).
        #[arg(long)]
        office: Option<String>,
        /// USCC of an enterprise user.
        #[arg(long)]
        uscc: Option<String>,
        /// Agency of an agency user (commerce, tax, forex, ...).
        #[arg(long)]
        agency: Option<String>,
        /// Duties of an officer, repeatable: reviewer, inspector, tax_officer, release_officer,
        /// risk_analyst, statistician, administrator, anti_smuggling.
        #[arg(long = "duty")]
        duties: Vec<String>,
        #[command(flatten)]
        store: StoreArgs,
    },
}

pub fn run_user(data_dir: &Path, cmd: UserCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        UserCommand::Add {
            login,
            role,
            office,
            uscc,
            agency,
            duties,
            store,
        } => {
            let role = Role::parse(&role).with_context(|| format!("unknown role {role:?}"))?;
            let duties = duties
                .iter()
                .map(|d| Duty::parse(d).with_context(|| format!("unknown duty {d:?}")))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let office = office
                .as_deref()
                .map(OfficeCode::parse)
                .transpose()
                .context("bad --office")?;
            let uscc = uscc
                .as_deref()
                .map(Uscc::parse)
                .transpose()
                .context("bad --uscc")?;
            eprint!("password for {login} 密码: ");
            std::io::stderr().flush().ok();
            let mut password = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut password)
                .context("failed to read the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            let store = open_store(&store.backend(data_dir)?)?;
            let svc = service(data_dir, store, Arc::new(SystemClock), false)?;
            match svc.users().bootstrap_user(NewUserRequest {
                login,
                password,
                role,
                duties,
                office,
                uscc,
                agency,
            }) {
                Ok(u) => {
                    println!(
                        "created user 已创建用户 {} (id {}, {})",
                        u.login,
                        u.id,
                        u.role.as_str()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(app::AppError::Invalid(problems)) => {
                    for p in problems {
                        eprintln!("{}: {} / {}", p.field, p.message_zh, p.message_en);
                    }
                    Ok(ExitCode::from(1))
                }
                Err(e) => {
                    eprintln!("jinguan: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Walk the audit chain from the first record: its links, its anchors (their signatures
    /// with the node's key) and the signed heads kept outside the store (the data folder's
    /// `audit-head.json` and any `--head FILE`); exit 1 at the first broken link, naming it.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// A signed head kept elsewhere (an agency's copy of `GET /api/audit/head`).
        /// Repeatable.
        #[arg(long = "head", value_name = "FILE")]
        heads: Vec<PathBuf>,
        #[command(flatten)]
        exchange: crate::exchange_cmd::ExchangeArgs,
        /// Older public keys heads may be signed with (after a key rotation).
        #[arg(long, value_name = "FILE", env = "JINGUAN_AUDIT_KEYS")]
        audit_keys: Option<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the public key the audit heads are signed with (the node's exchange key), for
    /// whoever verifies them elsewhere.
    PublicKey {
        #[command(flatten)]
        exchange: crate::exchange_cmd::ExchangeArgs,
    },
    /// Print audit record SEQ with its inclusion proof in the Merkle tree of the first
    /// `--tree-size` records (default: the data folder's head), and that head when it is the
    /// tree's: the JSON `jinguan audit check-proof` reads (as `GET /api/audit/proof/{seq}`).
    Prove {
        seq: i64,
        #[command(flatten)]
        store: StoreArgs,
        /// The tree size (the record number of a signed head).
        #[arg(long)]
        tree_size: Option<i64>,
        /// Take the tree size from this signed head (and print it with the proof).
        #[arg(long, value_name = "FILE", conflicts_with = "tree_size")]
        head: Option<PathBuf>,
    },
    /// Check, with nothing but files, that a record is in the audit log a signed head covers:
    /// the head's signature (with `--keys`, the `jinguan audit public-key` line(s) of customs),
    /// the record's own hash, and the proof's path to the head's Merkle root. Exit 0: included;
    /// 1: not (why printed). Needs no database: an agency runs it alone.
    CheckProof {
        /// The signed head (`audit-head.json`, `GET /api/audit/head`, or the payload of an
        /// `audit_head_published.v1` message).
        #[arg(long, value_name = "FILE")]
        head: PathBuf,
        /// The proof: the output of `jinguan audit prove` (or `GET /api/audit/proof/{seq}`),
        /// or just its `proof` object when `--record` is given.
        #[arg(long, value_name = "FILE")]
        proof: PathBuf,
        /// The record, if not inside the proof file.
        #[arg(long, value_name = "FILE")]
        record: Option<PathBuf>,
        /// Public key lines of customs (`ALGORITHM AGENCY KEY_ID PUBLIC_HEX`).
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
    },
}

/// What `audit verify` and `backup verify` check with: the node's key (when the data folder has
/// one or `--exchange-key` names it), the older keys, the head file and the heads given.
pub fn verify_options(
    data_dir: &Path,
    exchange: &crate::exchange_cmd::ExchangeArgs,
    audit_keys: Option<&Path>,
    heads: &[PathBuf],
) -> anyhow::Result<store::VerifyOptions> {
    let mut ring = crate::anchor_file::key_ring(audit_keys)?;
    if let Some(key) = crate::exchange_cmd::existing_key(data_dir, exchange)? {
        ring.insert(key.agency().clone(), key.key_id().clone(), key.public_key());
    }
    let mut all = Vec::new();
    for path in
        std::iter::once(crate::anchor_file::head_path(data_dir)).chain(heads.iter().cloned())
    {
        match crate::anchor_file::read_head(&path)? {
            Some(h) => all.push(h),
            None if heads.contains(&path) => bail!("no head in {}", path.display()),
            None => {}
        }
    }
    Ok(store::VerifyOptions {
        heads: all,
        verifier: (!ring.is_empty()).then(|| {
            Arc::new(app::anchor::RingVerifier(ring)) as Arc<dyn store::audit::HeadVerifier>
        }),
    })
}

pub fn run_audit(data_dir: &Path, cmd: AuditCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        AuditCommand::Verify {
            store,
            heads,
            exchange,
            audit_keys,
            json,
        } => {
            let options = verify_options(data_dir, &exchange, audit_keys.as_deref(), &heads)?;
            let store = open_store(&store.backend(data_dir)?)?;
            let report = store
                .verify_audit_with(&options)
                .context("failed to read the audit log")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            }
            match crate::anchor_file::describe_broken(&report) {
                None => {
                    if !json {
                        println!(
                            "audit chain intact 审计链完整: {} records, head {}; {} anchors, {}, signed through record {}",
                            report.records_checked,
                            report.head_hash_hex,
                            report.anchors_checked,
                            if report.signatures_checked {
                                "signatures checked 签名已核验"
                            } else {
                                "signatures NOT checked (no key) 未核验签名"
                            },
                            report.anchored_through
                        );
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Some(why) => {
                    if !json {
                        println!("{why}");
                    }
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::PublicKey { exchange } => {
            let key = crate::exchange_cmd::load_key(data_dir, &exchange)?;
            println!("{}", key.public_line());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prove {
            seq,
            store,
            tree_size,
            head,
        } => {
            let head = match head {
                Some(p) => Some(
                    crate::anchor_file::read_head(&p)?
                        .with_context(|| format!("no head in {}", p.display()))?,
                ),
                None => crate::anchor_file::read_head(&crate::anchor_file::head_path(data_dir))?,
            };
            let tree_size = match (tree_size, &head) {
                (Some(n), _) => n,
                (None, Some(h)) => h.seq,
                (None, None) => bail!("no signed head in the data folder: give --tree-size"),
            };
            if seq < 1 || seq > tree_size {
                bail!("the record number must be between 1 and the tree size {tree_size}");
            }
            let store = open_store(&store.backend(data_dir)?)?;
            let Some((record, proof)) = store
                .audit_proof(seq, tree_size)
                .context("failed to read the audit log")?
            else {
                bail!("the audit log holds fewer than {tree_size} records");
            };
            let answer = app::users::AuditProof {
                record: store::audit_tree::RecordJson::from(&record),
                proof,
                head: head.filter(|h| h.seq == tree_size),
            };
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::CheckProof {
            head,
            proof,
            record,
            keys,
        } => {
            let signed = crate::anchor_file::read_head(&head)?
                .with_context(|| format!("no head in {}", head.display()))?;
            let ring = crate::anchor_file::key_ring(Some(&keys))?;
            let text = std::fs::read_to_string(&proof)
                .with_context(|| format!("failed to read {}", proof.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", proof.display()))?;
            let (record_json, proof_json) = match (&record, value.get("proof")) {
                (Some(r), _) => {
                    let text = std::fs::read_to_string(r)
                        .with_context(|| format!("failed to read {}", r.display()))?;
                    let record: serde_json::Value = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", r.display()))?;
                    // A whole `prove` output given as the record: its `record`.
                    let record = record.get("record").cloned().unwrap_or(record);
                    (
                        record,
                        value.get("proof").cloned().unwrap_or_else(|| value.clone()),
                    )
                }
                (None, Some(p)) => (
                    value.get("record").cloned().with_context(|| {
                        format!("{} has no record: give --record", proof.display())
                    })?,
                    p.clone(),
                ),
                (None, None) => bail!("{} has no record: give --record", proof.display()),
            };
            let record: store::audit_tree::RecordJson =
                serde_json::from_value(record_json).context("the record is not an audit record")?;
            let inclusion: store::audit_tree::InclusionProof =
                serde_json::from_value(proof_json)
                    .context("the proof is not an inclusion proof")?;
            match store::audit_tree::check_inclusion(
                &signed,
                &record,
                &inclusion,
                &app::anchor::RingVerifier(ring),
            ) {
                Ok(()) => {
                    println!(
                        "record {} is in the audit log 记录在审计日志中: tree of {} records, root {}, signed by {}",
                        record.id,
                        signed.seq,
                        signed.root.as_deref().unwrap_or("-"),
                        signed.key
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(why) => {
                    println!(
                        "proof does NOT verify 证明无效: record {}: {why}",
                        record.id
                    );
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
