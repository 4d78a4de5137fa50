//! `jinguan backup`, `jinguan backup verify` and `jinguan restore` for the embedded SQLite
//! store (docs/OPERATIONS.md, "Backup and restore"). PostgreSQL is backed up with its own
//! tools, as that section describes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use store_sqlite::backup;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    /// The file to write: a consistent copy of the store, taken while a server may be writing.
    #[arg(long)]
    to: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<BackupCommand>,
}

#[derive(clap::Subcommand)]
pub enum BackupCommand {
    /// Check a backup file: SQLite's integrity check, the audit chain, and counts.
    ///
    /// Exit status: 0 sound, 1 damaged. The audit chain's anchors are checked with the node's
    /// key when the data folder has one (or `--exchange-key` names it).
    Verify {
        /// The backup file.
        file: PathBuf,
        #[command(flatten)]
        exchange: crate::exchange_cmd::ExchangeArgs,
        /// Older public keys heads may be signed with (after a key rotation).
        #[arg(long, value_name = "FILE", env = "JINGUAN_AUDIT_KEYS")]
        audit_keys: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup file to restore (verified first).
    #[arg(long)]
    from: PathBuf,
    /// Replace a store already in the data folder (stop its server first).
    #[arg(long)]
    force: bool,
}

pub fn run_backup(data_dir: &Path, args: BackupArgs) -> anyhow::Result<ExitCode> {
    match (args.command, args.to) {
        (
            Some(BackupCommand::Verify {
                file,
                exchange,
                audit_keys,
            }),
            _,
        ) => {
            // A backup is older than the head kept in the data folder: only its own anchors
            // (and their signatures) are checked, not the head file.
            let mut options =
                crate::serve_cmd::verify_options(data_dir, &exchange, audit_keys.as_deref(), &[])?;
            options.heads.clear();
            verify(&file, &options)
        }
        (None, Some(to)) => {
            backup::backup(data_dir, &to).with_context(|| {
                format!(
                    "failed to back up the store in {} to {}",
                    data_dir.display(),
                    to.display()
                )
            })?;
            println!("backup written 备份已写入: {}", to.display());
            Ok(ExitCode::SUCCESS)
        }
        (None, None) => {
            bail!("say where to write the backup with --to FILE, or `backup verify FILE`")
        }
    }
}

/// Print what the file holds; exit 1 when it is damaged.
fn verify(file: &Path, options: &store::VerifyOptions) -> anyhow::Result<ExitCode> {
    let check = match backup::verify(file, options) {
        Ok(c) => c,
        Err(e) => {
            println!(
                "backup DAMAGED 备份已损坏: {} cannot be read as a store: {e}",
                file.display()
            );
            return Ok(ExitCode::from(1));
        }
    };
    println!(
        "declarations 报关单: {}, events 事件: {}, audit records 审计记录: {}",
        check.declarations, check.events, check.audit_records
    );
    if check.integrity != ["ok"] {
        println!(
            "backup DAMAGED 备份已损坏: integrity check failed: {}",
            check.integrity.join("; ")
        );
        return Ok(ExitCode::from(1));
    }
    match &check.audit {
        Some(report) => match &report.first_broken {
            None => println!(
                "audit chain intact 审计链完整: {} records, head {}; {} anchors{}",
                report.records_checked,
                report.head_hash_hex,
                report.anchors_checked,
                if report.signatures_checked {
                    ", signatures checked 签名已核验"
                } else {
                    ""
                }
            ),
            Some(b) => {
                println!(
                    "backup DAMAGED 备份已损坏: audit chain broken at record {}: {}",
                    b.record_id,
                    b.reason.describe()
                );
                return Ok(ExitCode::from(1));
            }
        },
        None => unreachable!("the chain is walked when the integrity check passes"),
    }
    println!("backup sound 备份完好: {}", file.display());
    Ok(ExitCode::SUCCESS)
}

pub fn run_restore(data_dir: &Path, args: RestoreArgs) -> anyhow::Result<ExitCode> {
    if backup::holds_store(data_dir) && !args.force {
        bail!(
            "{} already holds a store; restoring would replace it (stop its server and pass --force to do so)",
            data_dir.display()
        );
    }
    let mut options = crate::serve_cmd::verify_options(data_dir, &Default::default(), None, &[])?;
    options.heads.clear();
    let code = verify(&args.from, &options)?;
    if code != ExitCode::SUCCESS {
        println!("nothing restored 未恢复");
        return Ok(code);
    }
    backup::restore(&args.from, data_dir).with_context(|| {
        format!(
            "failed to restore {} into {}",
            args.from.display(),
            data_dir.display()
        )
    })?;
    // The head kept outside names records the restored (older) store may not have: kept
    // aside, so the server starts on the restored chain, and the operator keeps the proof of
    // what was rolled back.
    let head = crate::anchor_file::head_path(data_dir);
    if head.exists() {
        let aside = data_dir.join(format!(
            "audit-head.before-restore-{}.json",
            chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
        ));
        std::fs::rename(&head, &aside)
            .with_context(|| format!("failed to move {} aside", head.display()))?;
        println!(
            "the audit head of the replaced store was moved to 审计链头已另存为 {} (records after the backup's point were rolled back)",
            aside.display()
        );
    }
    println!(
        "restored 已恢复: {} is the store of {}",
        args.from.display(),
        data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
