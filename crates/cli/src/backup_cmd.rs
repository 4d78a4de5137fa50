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

/// Scheduled backups of `jinguan serve` (`--backup-dir DIR --backup-every 1h --backup-keep N`).
#[derive(clap::Args, Default)]
pub struct ScheduleArgs {
    /// Take a backup of the SQLite store into this folder every `--backup-every`, each
    /// verified; the oldest beyond `--backup-keep` are removed.
    #[arg(long, value_name = "DIR", env = "JINGUAN_BACKUP_DIR")]
    pub backup_dir: Option<PathBuf>,
    /// How often: a number and a unit, `30m`, `1h`, `1d` (s, m, h, d).
    #[arg(long, value_name = "PERIOD", default_value = "1h", value_parser = parse_period, env = "JINGUAN_BACKUP_EVERY")]
    pub backup_every: std::time::Duration,
    /// How many backups to keep (at least 1).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 24,
        env = "JINGUAN_BACKUP_KEEP"
    )]
    pub backup_keep: usize,
}

/// `30s`, `15m`, `1h`, `2d`.
pub fn parse_period(s: &str) -> Result<std::time::Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?}: expected a number and s, m, h or d"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("{s:?}: expected a number and s, m, h or d")),
    };
    if seconds == 0 {
        return Err("the period must be above zero".into());
    }
    Ok(std::time::Duration::from_secs(seconds))
}

/// The prefix and suffix of a scheduled backup's name: `jinguan-20261207T090000Z.db`.
const SCHEDULED_PREFIX: &str = "jinguan-";
const SCHEDULED_SUFFIX: &str = ".db";

/// One scheduled backup: a consistent copy under a new name (temporary name, fsync, rename),
/// verified; then the oldest beyond `keep` removed, and leftovers of killed backups too. Returns
/// the file written.
pub fn scheduled_backup(data_dir: &Path, dir: &Path, keep: usize) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let name = format!(
        "{SCHEDULED_PREFIX}{}{SCHEDULED_SUFFIX}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    let to = dir.join(name);
    backup::backup(data_dir, &to)
        .with_context(|| format!("failed to back up the store to {}", to.display()))?;
    let check = backup::verify(&to, &store::VerifyOptions::default())
        .with_context(|| format!("failed to verify {}", to.display()))?;
    if !check.is_sound() {
        // Kept for inspection, under a name the retention never counts as a good backup.
        let bad = to.with_extension("db.damaged");
        let _ = std::fs::rename(&to, &bad);
        bail!("the backup {} does not verify: {check:?}", bad.display());
    }
    let mut backups: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("failed to list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(SCHEDULED_PREFIX) && n.ends_with(SCHEDULED_SUFFIX))
        })
        .collect();
    // The names sort by time.
    backups.sort();
    let keep = keep.max(1);
    if backups.len() > keep {
        for old in &backups[..backups.len() - keep] {
            std::fs::remove_file(old)
                .with_context(|| format!("failed to remove {}", old.display()))?;
        }
    }
    // A backup killed midway leaves only its temporary file (`.NAME.tmp-PID`), never a file
    // under its final name; those of other processes are removed here.
    let mine = format!(".tmp-{}", std::process::id());
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.starts_with('.') && n.contains(".tmp-") && !n.ends_with(&mine) {
            let _ = std::fs::remove_file(e.path());
        }
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        assert_eq!(parse_period("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_period("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_period("1h").unwrap().as_secs(), 3600);
        assert_eq!(parse_period("2d").unwrap().as_secs(), 172_800);
        for bad in ["", "h", "1", "1w", "0h", "-1h", "1.5h"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }
}
