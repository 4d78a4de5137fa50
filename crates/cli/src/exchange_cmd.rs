//! `jinguan exchange status [--nats URL] [--json]`: per agency, messages pending, delivered,
//! failed, refused, and the lag. A thin edge over `exchange::status`.
//!
//! Sources today: the bus (each agency's durable consumer on the exchange stream) and, with
//! `--applied-log AGENCY=PATH`, an agency's applied log for its refused count. The outbox
//! columns join when the store gains its outbox table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use exchange::status::{bus_state_blocking, compute, render_table};
use exchange::{Agency, BusConfig};

#[derive(clap::Subcommand)]
pub enum ExchangeCommand {
    /// Per agency: messages pending, delivered, failed, refused, and the lag.
    Status(StatusArgs),
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The NATS server of the exchange bus.
    #[arg(long, env = "JINGUAN_NATS_URL")]
    nats: Option<String>,
    /// The JetStream stream of the exchange.
    #[arg(long, default_value = "JINGUAN_EXCHANGE")]
    stream: String,
    /// An agency's applied log (SQLite), for its refused count: AGENCY=PATH. Repeatable.
    #[arg(long = "applied-log", value_name = "AGENCY=PATH")]
    applied_logs: Vec<String>,
    /// Print JSON for machines.
    #[arg(long)]
    json: bool,
}

pub fn run(_data_dir: &Path, cmd: ExchangeCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ExchangeCommand::Status(args) => status(args),
    }
}

fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let bus = match &args.nats {
        Some(url) => {
            let mut config = BusConfig::new(url.clone());
            config.stream = args.stream.clone();
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
        let counts = exchange::apply::read_log_counts(&path)
            .with_context(|| format!("failed to read the applied log {}", path.display()))?;
        refused.insert(agency, counts.refused);
    }
    if bus.is_none() && refused.is_empty() {
        eprintln!(
            "jinguan: nothing to report: give --nats URL (or JINGUAN_NATS_URL) and/or --applied-log AGENCY=PATH"
        );
        return Ok(ExitCode::from(2));
    }
    let status = compute(None, bus.as_ref(), &refused, chrono::Utc::now());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else if status.agencies.is_empty() {
        println!("no agency consumers on stream {}", args.stream);
    } else {
        print!("{}", render_table(&status));
    }
    Ok(ExitCode::SUCCESS)
}
