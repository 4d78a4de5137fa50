//! `jinguan exchange status [--nats URL] [--json]`: per agency, messages pending, delivered,
//! failed, refused, and the lag. A thin edge over `exchange_bus::status`.
//!
//! Sources: the store's outbox (unpublished rows, their lag, and without a bus the agencies'
//! acknowledged feed cursors), the bus (each agency's durable consumer on the exchange stream)
//! with `--nats`, and, with `--applied-log AGENCY=PATH`, an agency's applied log for its
//! refused count.
//!
//! Also the exchange's part of `jinguan serve` ([`ExchangeArgs`]): the customs signing key
//! (`--exchange-key FILE`, or a development key generated under the data folder) and, with
//! `--nats URL`, the relay from the store's outbox to JetStream.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use std::sync::Arc;

use anyhow::Context;
use exchange::{Agency, Algorithm, KeyId, SigningKey};
use exchange_bus::status::{bus_state_blocking, compute, render_table};
use exchange_bus::{BusConfig, Relay, RelayConfig};
use store::Store;

use crate::serve_cmd::StoreArgs;

#[derive(clap::Subcommand)]
pub enum ExchangeCommand {
    /// Per agency: messages pending, delivered, failed, refused, and the lag.
    Status(StatusArgs),
    /// Make an agency's signing key: the secret key file (mode 0600) written to --out, its
    /// public key line printed for customs' --agency-keys file.
    Keygen(KeygenArgs),
}

#[derive(clap::Args)]
pub struct KeygenArgs {
    /// The agency whose key this is: its exchange code (`COMMERCE`, `SAMR`, `BANK_BOC`, …) or
    /// a user name of it (`commerce`, `tax`, …).
    #[arg(long)]
    agency: String,
    /// The key id (1 to 64 of A-Z a-z 0-9 . _ -); default `AGENCY-YEAR` in lower case.
    #[arg(long)]
    key_id: Option<String>,
    /// SM2-SM3 (default) or Ed25519.
    #[arg(long, default_value = "SM2-SM3")]
    algorithm: String,
    /// Where the secret key is written (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// `jinguan exchange keygen`: a new secret key file and its public line on stdout.
fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let agency = Agency::parse(&args.agency)
        .ok()
        .or_else(|| app::exchange_desk::agency_code(&args.agency))
        .with_context(|| format!("--agency {:?}: not an agency code", args.agency))?;
    let algorithm = Algorithm::parse(&args.algorithm)
        .with_context(|| format!("--algorithm {:?}: SM2-SM3 or Ed25519", args.algorithm))?;
    let key_id = args.key_id.unwrap_or_else(|| {
        format!(
            "{}-{}",
            agency.as_str().to_ascii_lowercase().replace('_', "-"),
            chrono::Utc::now().format("%Y")
        )
    });
    let key_id = KeyId::parse(&key_id).with_context(|| format!("--key-id {key_id:?}"))?;
    let key =
        SigningKey::generate(algorithm, agency, key_id).context("failed to generate the key")?;
    write_secret(&args.out, &format!("{}\n", key.to_secret_line()))?;
    println!("{}", key.public_line());
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The NATS server of the exchange bus.
    #[arg(long, env = "JINGUAN_NATS_URL")]
    nats: Option<String>,
    /// The JetStream stream of the exchange.
    #[arg(long, default_value = "JINGUAN_EXCHANGE")]
    stream: String,
    /// The first tokens of the exchange's subjects (`PREFIX.AGENCY.KIND`).
    #[arg(long, default_value = "jinguan.x")]
    subject_prefix: String,
    #[command(flatten)]
    nats_security: NatsSecurityArgs,
    /// An agency's applied log (SQLite), for its refused count: AGENCY=PATH. Repeatable.
    #[arg(long = "applied-log", value_name = "AGENCY=PATH")]
    applied_logs: Vec<String>,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
    /// Leave the store's outbox out (only the bus and applied logs).
    #[arg(long)]
    no_outbox: bool,
    #[command(flatten)]
    store: StoreArgs,
}

pub fn run(data_dir: &Path, cmd: ExchangeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExchangeCommand::Status(args) => status(data_dir, args),
        ExchangeCommand::Keygen(args) => keygen(args),
    }
}

/// The store's outbox per agency, as the status wants it; `None` when the store has none.
/// Without a bus, an agency's feed acknowledgements are its deliveries.
type OutboxView = (
    BTreeMap<Agency, exchange::OutboxCounts>,
    BTreeMap<Agency, store::outbox::RecipientCounts>,
);

fn read_outbox(store: &dyn Store) -> anyhow::Result<Option<OutboxView>> {
    let Some(o) = store.outbox_store() else {
        return Ok(None);
    };
    let mut counts = BTreeMap::new();
    let mut raw = BTreeMap::new();
    for (agency, c) in o.counts().context("failed to read the outbox")? {
        let a = Agency::parse(&agency).with_context(|| format!("outbox recipient {agency:?}"))?;
        counts.insert(
            a.clone(),
            exchange::OutboxCounts {
                total: c.total,
                unpublished: c.unpublished,
                oldest_unpublished_at: c.oldest_unpublished_at,
            },
        );
        raw.insert(a, c);
    }
    Ok(Some((counts, raw)))
}

fn status(data_dir: &Path, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let outbox = if args.no_outbox {
        None
    } else {
        let backend = args.store.backend(data_dir)?;
        let store = crate::serve_cmd::open_store(&backend)?;
        read_outbox(&*store)?
    };
    let bus = match &args.nats {
        Some(url) => {
            let mut config = BusConfig::new(url.clone());
            config.stream = args.stream.clone();
            config.subject_prefix = args.subject_prefix.clone();
            config.security = args.nats_security.security();
            Some(
                bus_state_blocking(&config)
                    .with_context(|| format!("failed to read the exchange state from {url}"))?,
            )
        }
        None => None,
    };
    let mut refused = BTreeMap::new();
    for spec in &args.applied_logs {
        let (agency, path) = spec
            .split_once('=')
            .with_context(|| format!("--applied-log {spec:?}: expected AGENCY=PATH"))?;
        let agency = Agency::parse(agency).with_context(|| format!("--applied-log {spec:?}"))?;
        let path = PathBuf::from(path);
        let counts = exchange_bus::applied_log::read_log_counts(&path)
            .with_context(|| format!("failed to read the applied log {}", path.display()))?;
        refused.insert(agency, counts.refused);
    }
    if outbox.is_none() && bus.is_none() && refused.is_empty() {
        eprintln!(
            "jinguan: nothing to report: the store has no outbox; give --nats URL (or JINGUAN_NATS_URL) and/or --applied-log AGENCY=PATH"
        );
        return Ok(ExitCode::from(2));
    }
    let mut status = compute(
        outbox.as_ref().map(|(c, _)| c),
        bus.as_ref(),
        &refused,
        chrono::Utc::now(),
    );
    // Without a bus the HTTP feed is the channel: delivered = acknowledged on the feed, and
    // pending = addressed to the agency and not yet acknowledged.
    if let (None, Some((_, raw))) = (&bus, &outbox) {
        for a in &mut status.agencies {
            if let Some(c) = Agency::parse(&a.agency).ok().and_then(|x| raw.get(&x)) {
                a.delivered = Some(c.acked);
                a.pending = c.total - c.acked;
                a.lag_messages = a.pending;
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else if status.agencies.is_empty() {
        println!(
            "no messages in the outbox and no agency consumers on stream {}",
            args.stream
        );
    } else {
        print!("{}", render_table(&status));
    }
    Ok(ExitCode::SUCCESS)
}

/// The exchange's options of `jinguan serve`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct ExchangeArgs {
    /// The customs signing key (a secret key file, `ALGORITHM CUSTOMS KEY_ID HEX`). Without
    /// it, a development key is generated once under the data folder (`exchange-customs.key`,
    /// its public line in `exchange-customs.pub`) with a warning.
    #[arg(long, value_name = "FILE", env = "JINGUAN_EXCHANGE_KEY")]
    pub exchange_key: Option<PathBuf>,
    /// Publish the outbox to this NATS JetStream server (the relay). Without it, agencies
    /// read the HTTP feed `GET /api/exchange/feed`.
    #[arg(long, value_name = "URL", env = "JINGUAN_NATS_URL")]
    pub nats: Option<String>,
    /// The JetStream stream of the exchange.
    #[arg(long, default_value = "JINGUAN_EXCHANGE")]
    pub exchange_stream: String,
    /// The first tokens of the exchange's subjects (`PREFIX.AGENCY.KIND`).
    #[arg(long, default_value = "jinguan.x")]
    pub exchange_subject_prefix: String,
    #[command(flatten)]
    pub nats_security: NatsSecurityArgs,
    /// The agencies' public keys (a key ring file: `ALGORITHM AGENCY KEY_ID HEX [from=…]
    /// [until=…]` lines, each key bound to its agency): customs then applies the agencies' own
    /// records sent as signed messages, on `POST /api/exchange/inbound` and, with --nats, from
    /// its durable consumer `CUSTOMS` (docs/EXCHANGE.md "The reverse direction").
    #[arg(long, value_name = "FILE", env = "JINGUAN_AGENCY_KEYS")]
    pub agency_keys: Option<PathBuf>,
}

/// The agencies' key ring of `--agency-keys`, if given.
pub fn agency_keys(args: &ExchangeArgs) -> anyhow::Result<Option<exchange::KeyRing>> {
    let Some(path) = &args.agency_keys else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read --agency-keys {}", path.display()))?;
    let ring = exchange::KeyRing::parse(&text)
        .with_context(|| format!("failed to read --agency-keys {}", path.display()))?;
    anyhow::ensure!(
        !ring.is_empty(),
        "--agency-keys {}: no public key in it",
        path.display()
    );
    Ok(Some(ring))
}

/// TLS and credentials of the NATS connection (docs/OPERATIONS.md, "TLS").
#[derive(clap::Args, Clone, Debug, Default)]
pub struct NatsSecurityArgs {
    /// Refuse a NATS server that does not speak TLS (implied by the other --nats-tls-* options
    /// and by a tls:// URL).
    #[arg(long, env = "JINGUAN_NATS_REQUIRE_TLS")]
    pub nats_require_tls: bool,
    /// The CA certificates (PEM) the NATS server's certificate is checked against.
    #[arg(long, value_name = "FILE", env = "JINGUAN_NATS_CA")]
    pub nats_ca: Option<PathBuf>,
    /// A client certificate (PEM) for NATS servers that verify clients; needs --nats-client-key.
    #[arg(
        long,
        value_name = "FILE",
        env = "JINGUAN_NATS_CLIENT_CERT",
        requires = "nats_client_key"
    )]
    pub nats_client_cert: Option<PathBuf>,
    /// The key of --nats-client-cert (PEM).
    #[arg(
        long,
        value_name = "FILE",
        env = "JINGUAN_NATS_CLIENT_KEY",
        requires = "nats_client_cert"
    )]
    pub nats_client_key: Option<PathBuf>,
    /// A NATS credentials file (user JWT and NKey seed, as `nsc` writes it).
    #[arg(long, value_name = "FILE", env = "JINGUAN_NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// A file holding a user NKey seed (SU…), for NATS servers with NKey users.
    #[arg(
        long,
        value_name = "FILE",
        env = "JINGUAN_NATS_NKEY",
        conflicts_with = "nats_creds"
    )]
    pub nats_nkey: Option<PathBuf>,
}

impl NatsSecurityArgs {
    pub fn security(&self) -> exchange_bus::NatsSecurity {
        exchange_bus::NatsSecurity {
            require_tls: self.nats_require_tls,
            ca_file: self.nats_ca.clone(),
            client_cert: self
                .nats_client_cert
                .clone()
                .zip(self.nats_client_key.clone()),
            credentials_file: self.nats_creds.clone(),
            nkey_file: self.nats_nkey.clone(),
        }
    }
}

const DEV_KEY_FILE: &str = "exchange-customs.key";
const DEV_PUBLIC_FILE: &str = "exchange-customs.pub";

/// The customs signing key: `--exchange-key FILE`, or the development key of the data folder
/// (generated at first use).
pub fn load_key(data_dir: &Path, args: &ExchangeArgs) -> anyhow::Result<SigningKey> {
    if let Some(path) = &args.exchange_key {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read the exchange key {}", path.display()))?;
        return SigningKey::from_line(&text)
            .with_context(|| format!("failed to read the exchange key {}", path.display()));
    }
    let path = data_dir.join(DEV_KEY_FILE);
    let key = if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("failed to read {}", path.display()))?;
        SigningKey::from_line(&text)
            .with_context(|| format!("failed to read {}", path.display()))?
    } else {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("failed to create {}", data_dir.display()))?;
        let key = SigningKey::generate(
            Algorithm::Sm2Sm3,
            Agency::parse(app::exchange_desk::CUSTOMS).expect("agency code"),
            KeyId::parse("customs-dev").expect("key id"),
        )
        .context("failed to generate the development exchange key")?;
        write_secret(
            &path,
            &format!(
                "# development key: use --exchange-key in production\n{}\n",
                key.to_secret_line()
            ),
        )?;
        let public = data_dir.join(DEV_PUBLIC_FILE);
        std::fs::write(&public, format!("{}\n", key.public_line()))
            .with_context(|| format!("failed to write {}", public.display()))?;
        key
    };
    let public = data_dir.join(DEV_PUBLIC_FILE);
    if tracing::dispatcher::has_been_set() {
        // `jinguan serve`: through its log, so that `--log-format json` keeps every line JSON.
        tracing::warn!(
            key = %path.display(),
            public_key = %public.display(),
            "signing exchange messages with the development key; give --exchange-key FILE in production"
        );
    } else {
        eprintln!(
            "jinguan: warning: signing exchange messages with the development key {} (public key in {}); give --exchange-key FILE in production",
            path.display(),
            public.display()
        );
    }
    Ok(key)
}

/// The customs signing key if there is one (`--exchange-key`, or the data folder's development
/// key), without making one: for verifying.
pub fn existing_key(data_dir: &Path, args: &ExchangeArgs) -> anyhow::Result<Option<SigningKey>> {
    if args.exchange_key.is_none() && !data_dir.join(DEV_KEY_FILE).exists() {
        return Ok(None);
    }
    load_key(data_dir, args).map(Some)
}

fn write_secret(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("failed to create {}", path.display()))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("failed to write {}", path.display()))
}

/// The exchange of `jinguan serve`: the desk the feed signs with, and (with `--nats`) the
/// relay to start on the server's runtime.
pub fn desk(
    key: Arc<SigningKey>,
    store: Arc<dyn Store>,
    args: &ExchangeArgs,
) -> anyhow::Result<(Arc<app::exchange_desk::ExchangeDesk>, Option<Relay>)> {
    let desk = Arc::new(app::exchange_desk::ExchangeDesk::new(
        store.clone(),
        key.clone(),
    ));
    let relay = match &args.nats {
        None => None,
        Some(_) if store.outbox_store().is_none() => {
            anyhow::bail!(
                "--nats: this store keeps no exchange outbox yet (use the embedded SQLite store)"
            )
        }
        Some(url) => {
            let mut bus = BusConfig::new(url.clone());
            bus.stream = args.exchange_stream.clone();
            bus.subject_prefix = args.exchange_subject_prefix.clone();
            bus.security = args.nats_security.security();
            Some(Relay::new(desk.outbox(), key, bus, RelayConfig::default()))
        }
    };
    Ok((desk, relay))
}
