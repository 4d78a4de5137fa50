//! `jinguan agency --agency tax …`: a partner agency's receiver. A thin edge over
//! `exchange_bus::agency` (docs/EXCHANGE.md "Agency receiver"): consume the agency's messages
//! from JetStream (`--nats`) or customs' signed HTTP feed (`--feed URL --token T`), verify each
//! against customs' public key file, apply each once into the agency's SQLite ledger under
//! `--ledger DIR`, acknowledge after the commit, and serve the ledger read-only on `--addr`.
//! With `--key FILE` (the agency's secret key, `jinguan exchange keygen`), the reverse
//! direction too: `POST /records` on `--addr` writes the agency's own records to its outbox,
//! and a sender signs them in batches and delivers them to customs (the relay to
//! `PREFIX.CUSTOMS.KIND` on the bus, or `POST /api/exchange/inbound` with `--feed`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use exchange::KeyRing;
use exchange_bus::agency::{self, AgencyLedger, FeedSource, Served};
use exchange_bus::{BusConfig, ConsumerConfig, ConsumerStats};
use tokio::sync::watch;

use crate::exchange_cmd::NatsSecurityArgs;

#[derive(clap::Args)]
pub struct AgencyArgs {
    /// The agency this receiver is: tax, bank, commerce, forex (or its exchange code).
    #[arg(long)]
    agency: String,
    /// Consume from this NATS JetStream server (the agency's durable consumer).
    #[arg(long, value_name = "URL", conflicts_with = "feed")]
    nats: Option<String>,
    /// The JetStream stream of the exchange.
    #[arg(long, default_value = "JINGUAN_EXCHANGE")]
    stream: String,
    /// The first tokens of the exchange's subjects (`PREFIX.AGENCY.KIND`).
    #[arg(long, default_value = "jinguan.x")]
    subject_prefix: String,
    /// At most this many messages verified and applied in one ledger transaction (1..=4096).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u16).range(1..=4096))]
    batch_max: u16,
    /// JetStream redelivers a message not acknowledged within this many seconds (a receiver
    /// that died holding it). Set when the durable consumer is first created.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..))]
    ack_wait_seconds: u16,
    #[command(flatten)]
    nats_security: NatsSecurityArgs,
    /// Without a bus: customs' server, whose signed feed `GET /api/exchange/feed` is read.
    #[arg(long, value_name = "URL", requires = "token")]
    feed: Option<String>,
    /// The agency user's session token for --feed (`POST /api/session`).
    #[arg(long, env = "JINGUAN_AGENCY_TOKEN")]
    token: Option<String>,
    /// The folder of the agency's ledger (`AGENCY.sqlite` in it).
    #[arg(long, value_name = "DIR")]
    ledger: PathBuf,
    /// Customs' public key file (`ALGORITHM CUSTOMS KEY_ID HEX` lines; several keys for a rotation).
    #[arg(long, value_name = "FILE")]
    customs_key: PathBuf,
    /// Where the ledger is served (`GET /ledger?after=`, `GET /status`; `POST /records` with
    /// --key).
    #[arg(long, default_value = "127.0.0.1:8090")]
    addr: String,
    /// The agency's secret key (`ALGORITHM AGENCY KEY_ID HEX`, from `jinguan exchange keygen`):
    /// send the agency's own records to customs, signed with it (its agency is the sender).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
}

pub fn run(args: AgencyArgs) -> anyhow::Result<ExitCode> {
    crate::log_format::init(crate::log_format::LogFormat::Text);
    let agency = app::exchange_desk::agency_code(&args.agency)
        .with_context(|| format!("--agency {:?}: not an agency code", args.agency))?;
    let text = std::fs::read_to_string(&args.customs_key)
        .with_context(|| format!("failed to read {}", args.customs_key.display()))?;
    let ring = Arc::new(
        KeyRing::parse(&text)
            .with_context(|| format!("failed to read {}", args.customs_key.display()))?,
    );
    anyhow::ensure!(
        !ring.is_empty(),
        "{}: no public key in it",
        args.customs_key.display()
    );
    let ledger = AgencyLedger::open(&args.ledger, &agency)?;
    let key = match &args.key {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read --key {}", path.display()))?;
            Some(Arc::new(
                exchange::SigningKey::from_line(&text)
                    .with_context(|| format!("failed to read --key {}", path.display()))?,
            ))
        }
    };
    let outbox = match &key {
        None => None,
        Some(_) => Some(Arc::new(
            exchange_bus::agency_outbox::AgencyOutbox::open(ledger.path())
                .context("failed to open the agency's outbox")?,
        )),
    };
    let rt = tokio::runtime::Runtime::new().context("failed to start the runtime")?;
    rt.block_on(async move {
        let (stop_tx, stop) = watch::channel(false);
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop_tx.send(true);
        });
        let listener = tokio::net::TcpListener::bind(&args.addr)
            .await
            .with_context(|| format!("failed to listen on {}", args.addr))?;
        let bound = listener.local_addr()?;
        let (source, stats, work): (_, _, tokio::task::JoinHandle<anyhow::Result<()>>) =
            match (&args.nats, &args.feed) {
                (Some(url), _) => {
                    let mut bus = BusConfig::new(url.clone());
                    bus.stream = args.stream.clone();
                    bus.subject_prefix = args.subject_prefix.clone();
                    bus.security = args.nats_security.security();
                    let config = ConsumerConfig {
                        batch_max: usize::from(args.batch_max),
                        ack_wait: Duration::from_secs(u64::from(args.ack_wait_seconds)),
                        ..ConsumerConfig::default()
                    };
                    if let (Some(key), Some(outbox)) = (&key, &outbox) {
                        // The agency's records to customs: the relay, as customs runs it.
                        let relay = exchange_bus::Relay::new(
                            outbox.clone(),
                            key.clone(),
                            bus.clone(),
                            exchange_bus::RelayConfig::default(),
                        );
                        let stop = stop.clone();
                        tokio::spawn(async move {
                            if let Err(e) = relay.run(stop).await {
                                tracing::error!("records to customs: the relay stopped: {e}");
                            }
                        });
                    }
                    let consumer = agency::nats_consumer(&ledger, ring, bus, config);
                    let stats = consumer.stats();
                    let stop = stop.clone();
                    let h = tokio::spawn(async move { Ok(consumer.run(stop).await?) });
                    ("nats", stats, h)
                }
                (None, Some(url)) => {
                    if let (Some(key), Some(outbox)) = (&key, &outbox) {
                        let target = exchange_bus::agency_outbox::PostTarget {
                            url: url.clone(),
                            token: args.token.clone().unwrap_or_default(),
                            idle_poll: Duration::from_millis(500),
                        };
                        let sent = Arc::new(watch::channel(0u64).0);
                        let (key, outbox, stop) = (key.clone(), outbox.clone(), stop.clone());
                        tokio::spawn(async move {
                            if let Err(e) = exchange_bus::agency_outbox::run_post_sender(
                                outbox, key, target, sent, stop,
                            )
                            .await
                            {
                                tracing::error!("records to customs: the sender stopped: {e}");
                            }
                        });
                    }
                    let source = FeedSource {
                        url: url.clone(),
                        token: args.token.clone().unwrap_or_default(),
                        page: 1000,
                        idle_poll: Duration::from_secs(1),
                    };
                    let tx = Arc::new(watch::channel(ConsumerStats::default()).0);
                    let stats = tx.subscribe();
                    let stop = stop.clone();
                    let h = tokio::spawn(async move {
                        Ok(agency::run_feed(&ledger, ring, source, tx, stop).await?)
                    });
                    ("feed", stats, h)
                }
                (None, None) => anyhow::bail!("give --nats URL or --feed URL --token TOKEN"),
            };
        eprintln!(
            "jinguan agency {agency}: reading from {source}, ledger {}, serving on http://{bound}",
            args.ledger.display()
        );
        let served = Served {
            agency: agency.clone(),
            source,
            path: args.ledger.join(format!("{agency}.sqlite")),
            stats,
            outbox: key
                .as_ref()
                .zip(outbox)
                .map(|(k, o)| (k.agency().clone(), o)),
        };
        let http = agency::serve(listener, served, stop.clone());
        let (w, h) = tokio::join!(work, http);
        w.context("receiver task")??;
        h.context("HTTP server")?;
        Ok(ExitCode::SUCCESS)
    })
}
