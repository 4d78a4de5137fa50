//! Online backup, verification and restore of the SQLite store (docs/OPERATIONS.md, "Backup
//! and restore").
//!
//! The copy is taken with SQLite's online backup API in one step, so it holds one read
//! transaction over the whole copy: in WAL mode writers go on meanwhile and the copy is the
//! database as of one commit. It is written beside the target under a temporary name, synced,
//! and renamed, so a crash mid-backup never leaves a half file under the final name.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use store::audit::AuditReport;
use store::StoreError;

use crate::{backend, verify_audit_chain, DB_FILE};

/// What a verified backup holds.
#[derive(Debug)]
pub struct BackupCheck {
    /// `PRAGMA integrity_check`'s answer: `["ok"]` when the file is sound.
    pub integrity: Vec<String>,
    /// The audit chain walked from the first record (when the file could be read at all).
    pub audit: Option<AuditReport>,
    pub declarations: u64,
    pub events: u64,
    pub audit_records: u64,
}

impl BackupCheck {
    pub fn is_sound(&self) -> bool {
        self.integrity == ["ok"] && self.audit.as_ref().is_some_and(AuditReport::is_intact)
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// A temporary name beside `target`, in the same folder (so the rename is atomic).
fn temp_beside(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "backup".into());
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Sync the folder holding `path`, so that a rename into it survives a crash.
fn sync_parent(path: &Path) -> Result<(), StoreError> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(parent).and_then(|d| d.sync_all()).map_err(io)
}

/// Copy the store in `data_dir` to `to`, consistently, while a server may be writing.
pub fn backup(data_dir: &Path, to: &Path) -> Result<(), StoreError> {
    let source_path = data_dir.join(DB_FILE);
    if !source_path.is_file() {
        return Err(StoreError::Invalid(format!(
            "no store in {} (no {DB_FILE})",
            data_dir.display()
        )));
    }
    let source = Connection::open_with_flags(
        &source_path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    source
        .busy_timeout(Duration::from_secs(30))
        .map_err(backend)?;
    let tmp = temp_beside(to);
    let _ = std::fs::remove_file(&tmp);
    let result = (|| {
        let mut dest = Connection::open(&tmp).map_err(backend)?;
        {
            let b = rusqlite::backup::Backup::new(&source, &mut dest).map_err(backend)?;
            // All pages in one step: one read transaction, one consistent point.
            use rusqlite::backup::StepResult;
            let started = std::time::Instant::now();
            loop {
                match b.step(-1).map_err(backend)? {
                    StepResult::Done => break,
                    StepResult::More => {}
                    StepResult::Busy | StepResult::Locked
                        if started.elapsed() < Duration::from_secs(60) =>
                    {
                        std::thread::sleep(Duration::from_millis(50))
                    }
                    other => {
                        return Err(StoreError::Invalid(format!(
                            "the store stayed busy: backup step {other:?}"
                        )))
                    }
                }
            }
        }
        // A single self-contained file: no WAL beside the copy.
        let mode: String = dest
            .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
            .map_err(backend)?;
        if !mode.eq_ignore_ascii_case("delete") {
            return Err(StoreError::Invalid(format!(
                "backup copy stayed in journal mode {mode}"
            )));
        }
        dest.close().map_err(|(_, e)| backend(e))?;
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, to).map_err(io)?;
        sync_parent(to)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn count(c: &Connection, table: &str) -> Result<u64, StoreError> {
    c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(backend)
}

/// Open a backup file read-only and check it: SQLite's integrity check, the audit chain (its
/// anchors, with `options`' keys their signatures too), and the counts of declarations, events
/// and audit records. An unreadable file is an error.
pub fn verify(file: &Path, options: &store::VerifyOptions) -> Result<BackupCheck, StoreError> {
    if !file.is_file() {
        return Err(StoreError::Invalid(format!(
            "{} is not a file",
            file.display()
        )));
    }
    let c = Connection::open_with_flags(
        file,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    let mut integrity = Vec::new();
    {
        let mut stmt = c.prepare("PRAGMA integrity_check").map_err(backend)?;
        let mut rows = stmt.query([]).map_err(backend)?;
        while let Some(r) = rows.next().map_err(backend)? {
            integrity.push(r.get::<_, String>(0).map_err(backend)?);
        }
    }
    let declarations = count(&c, "declarations")?;
    let events = count(&c, "events")?;
    let audit_records = count(&c, "audit_log")?;
    let audit = if integrity == ["ok"] {
        Some(verify_audit_chain(&c, options)?)
    } else {
        None
    };
    Ok(BackupCheck {
        integrity,
        audit,
        declarations,
        events,
        audit_records,
    })
}

/// Put a verified backup in place as the store of `data_dir`. The caller checks that no
/// server runs on `data_dir` and, unless forced, that it holds no store
/// ([`holds_store`]).
pub fn restore(from: &Path, data_dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(data_dir).map_err(io)?;
    let target = data_dir.join(DB_FILE);
    let tmp = temp_beside(&target);
    let result = (|| {
        std::fs::copy(from, &tmp).map_err(io)?;
        File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        // A WAL or shared-memory file of the store replaced would be replayed over the copy.
        for suffix in ["-wal", "-shm", "-journal"] {
            let side = data_dir.join(format!("{DB_FILE}{suffix}"));
            match std::fs::remove_file(&side) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(e)),
            }
        }
        std::fs::rename(&tmp, &target).map_err(io)?;
        sync_parent(&target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Whether `data_dir` already holds a store.
pub fn holds_store(data_dir: &Path) -> bool {
    data_dir.join(DB_FILE).exists()
}
