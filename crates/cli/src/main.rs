//! `jinguan`: the one binary. Each subcommand is a thin edge over the library crates: read
//! files and settings here, call pure code, print, and choose the exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod agency_cmd;
mod anchor_file;
mod backup_cmd;
mod bench_attack;
mod bench_cmd;
mod bench_formats;
mod bench_stats;
mod codes_cmd;
mod convert_cmd;
mod exchange_cmd;
mod log_format;
mod parse_cmd;
mod plain_ceiling;
mod risk_cmd;
mod serve_cmd;
mod simulate_cmd;
#[cfg(feature = "stats")]
mod stats_bench;
#[cfg(feature = "stats")]
mod stats_cmd;
mod tax_cmd;
mod validate_cmd;

/// Jinguan 金关: electronic customs clearance and the electronic port.
///
/// Check declarations, look up codes, compute duties and taxes, and (as the platform grows)
/// serve the single window. Every command takes --data-dir for the folder where Jinguan keeps
/// its data and the official tables an administrator imported.
#[derive(Parser)]
#[command(
    name = "jinguan",
    version,
    propagate_version = true,
    max_term_width = 100
)]
struct Cli {
    /// Folder for Jinguan's data (imported tables, rates, the store).
    #[arg(
        long,
        global = true,
        env = "JINGUAN_DATA_DIR",
        default_value = "jinguan-data"
    )]
    data_dir: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check declaration files (JSON) and list every problem found.
    ///
    /// Exit status: 0 all valid, 1 some invalid, 2 some could not be read.
    Validate(validate_cmd::Args),
    /// Check one identifier and show its parts.
    ///
    /// Exit status: 0 valid, 1 invalid (with the reason).
    Parse(parse_cmd::Args),
    /// Convert one declaration between formats: json, decmessage, cusdec, wcodm (FILE or
    /// standard input to standard output).
    ///
    /// Exit status: 0 converted, 1 problems (listed with their place, in Chinese and English),
    /// 2 the input could not be read.
    Convert(convert_cmd::Args),
    /// Look up a code table: offices, countries, currencies, units, trade-modes, tariff, ...
    Codes(codes_cmd::Args),
    /// Manage reference tables.
    #[command(subcommand)]
    Refdata(codes_cmd::RefdataCommand),
    /// Compute the duties and taxes of a declaration and print the assessment.
    Tax(tax_cmd::Args),
    /// Manage exchange rates.
    #[command(subcommand)]
    Rates(tax_cmd::RatesCommand),
    /// Serve the HTTP API (and, with --demo, load demo data first and print the logins).
    Serve(Box<serve_cmd::ServeArgs>),
    /// The same as `serve --demo`.
    Demo(serve_cmd::DemoArgs),
    /// Manage users (create the first administrator with `user add --role admin`).
    #[command(subcommand)]
    User(serve_cmd::UserCommand),
    /// Check the hash-chained audit log.
    #[command(subcommand)]
    Audit(serve_cmd::AuditCommand),
    /// Back up the SQLite store online (`--to FILE`), or check a backup (`backup verify FILE`).
    Backup(backup_cmd::BackupArgs),
    /// Put a verified backup in place as the SQLite store of the data folder.
    Restore(backup_cmd::RestoreArgs),
    /// Benchmarks over HTTP, with the storage ceiling measured in the same run.
    #[command(subcommand)]
    Bench(bench_cmd::BenchCommand),
    /// The E-Port exchange: status per agency.
    #[command(subcommand)]
    Exchange(exchange_cmd::ExchangeCommand),
    /// A partner agency's receiver: consume, verify, apply once into its ledger, serve it.
    Agency(agency_cmd::AgencyArgs),
    /// Risk rules: check a rule file, report hit rates from feedback, repeat a sampling draw.
    #[command(subcommand)]
    Risk(risk_cmd::RiskCommand),
    /// Simulate a national trade day from a seed, with planted violations, and report.
    Simulate(simulate_cmd::Args),
    /// Customs statistics: extract the ledger into the warehouse, query it, the monthly bulletin
    /// (in a binary built with `--features stats`).
    #[cfg(feature = "stats")]
    #[command(subcommand)]
    Stats(stats_cmd::StatsCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.prints_and_exits() {
        // Rust ignores SIGPIPE, so `println!` panics when a reader such as `head` closes the
        // pipe. Commands that only print get the default Unix behaviour back: a quiet exit.
        // The server and the network clients keep SIGPIPE ignored (a closed socket is an error
        // they handle, not a reason to die).
        sigpipe::reset();
    }
    let result = match cli.command {
        Command::Validate(args) => validate_cmd::run(&cli.data_dir, args),
        Command::Parse(args) => parse_cmd::run(&cli.data_dir, args),
        Command::Convert(args) => convert_cmd::run(args),
        Command::Codes(args) => codes_cmd::run(&cli.data_dir, args),
        Command::Refdata(cmd) => codes_cmd::run_refdata(&cli.data_dir, cmd),
        Command::Tax(args) => tax_cmd::run(&cli.data_dir, args),
        Command::Rates(cmd) => tax_cmd::run_rates(&cli.data_dir, cmd),
        Command::Serve(args) => serve_cmd::run_serve(&cli.data_dir, *args),
        Command::Demo(args) => serve_cmd::run_serve(&cli.data_dir, args.into()),
        Command::User(cmd) => serve_cmd::run_user(&cli.data_dir, cmd),
        Command::Audit(cmd) => serve_cmd::run_audit(&cli.data_dir, cmd),
        Command::Backup(args) => backup_cmd::run_backup(&cli.data_dir, args),
        Command::Restore(args) => backup_cmd::run_restore(&cli.data_dir, args),
        Command::Bench(cmd) => bench_cmd::run(&cli.data_dir, cmd),
        Command::Exchange(cmd) => exchange_cmd::run(&cli.data_dir, cmd),
        Command::Agency(args) => agency_cmd::run(args),
        Command::Risk(cmd) => risk_cmd::run(&cli.data_dir, cmd),
        Command::Simulate(args) => simulate_cmd::run(&cli.data_dir, args),
        #[cfg(feature = "stats")]
        Command::Stats(cmd) => stats_cmd::run(&cli.data_dir, cmd),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("jinguan: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

impl Command {
    /// Whether the command reads files, prints and exits, with no socket open.
    fn prints_and_exits(&self) -> bool {
        match self {
            Command::Validate(_)
            | Command::Parse(_)
            | Command::Convert(_)
            | Command::Codes(_)
            | Command::Refdata(_)
            | Command::Tax(_)
            | Command::Rates(_)
            | Command::Audit(_)
            | Command::Backup(_)
            | Command::Restore(_)
            | Command::Risk(_) => true,
            #[cfg(feature = "stats")]
            Command::Stats(_) => true,
            Command::Serve(_)
            | Command::Demo(_)
            | Command::User(_)
            | Command::Bench(_)
            | Command::Exchange(_)
            | Command::Agency(_)
            | Command::Simulate(_) => false,
        }
    }
}

/// The reference data: shipped tables, with any imported into the data folder in force.
fn load_reference(data_dir: &std::path::Path) -> anyhow::Result<refdata::RefData> {
    use anyhow::Context;
    refdata::RefData::load(Some(data_dir)).with_context(|| {
        format!(
            "failed to load reference tables (data folder {})",
            data_dir.display()
        )
    })
}
