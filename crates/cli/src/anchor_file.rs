//! The audit chain's head kept outside the store (docs/OPERATIONS.md, "Audit anchors"): the
//! newest signed head, `audit-head.json` in the data folder, written whole (temporary name,
//! fsync, rename, fsync of the folder) each time `jinguan serve` anchors the chain; read at
//! start, by `jinguan audit verify` and `jinguan backup verify`. Also the key ring the heads
//! are verified with: the node's exchange key and, after a rotation, the older public keys
//! (`--audit-keys FILE`, one `ALGORITHM AGENCY KEY_ID PUBLIC_HEX` per line).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use app::anchor::Anchoring;
use exchange::KeyRing;
use store::SignedHead;

pub const HEAD_FILE: &str = "audit-head.json";

/// The head file of a data folder.
pub fn head_path(data_dir: &Path) -> PathBuf {
    data_dir.join(HEAD_FILE)
}

/// The head kept in `path`, if there is one.
pub fn read_head(path: &Path) -> anyhow::Result<Option<SignedHead>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("{} is not a signed audit head", path.display())
        })?)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("failed to read {}", path.display())),
    }
}

/// Write `head` to the head file of `data_dir`, whole or not at all.
pub fn write_head(data_dir: &Path, head: &SignedHead) -> anyhow::Result<()> {
    let path = head_path(data_dir);
    let tmp = data_dir.join(format!(".{HEAD_FILE}.tmp"));
    let text = serde_json::to_string_pretty(head).expect("a signed head serializes");
    (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        File::open(data_dir)?.sync_all()
    })()
    .with_context(|| format!("failed to write {}", path.display()))
}

/// The older public keys heads may be signed with (`--audit-keys FILE`).
pub fn key_ring(file: Option<&Path>) -> anyhow::Result<KeyRing> {
    match file {
        None => Ok(KeyRing::new()),
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("failed to read {}", p.display()))?;
            KeyRing::parse(&text).with_context(|| format!("failed to read {}", p.display()))
        }
    }
}

/// The node's anchoring: its exchange key, the older keys, the head file's head.
pub fn anchoring(
    data_dir: &Path,
    key: Arc<exchange::SigningKey>,
    audit_keys: Option<&Path>,
) -> anyhow::Result<Anchoring> {
    Ok(Anchoring::new(
        key,
        key_ring(audit_keys)?,
        read_head(&head_path(data_dir))?,
    ))
}

/// One line about a broken chain, naming the first bad record.
pub fn describe_broken(report: &store::AuditReport) -> Option<String> {
    report.first_broken.as_ref().map(|b| {
        format!(
            "audit chain BROKEN 审计链断裂 at record {}: {} ({} records checked, last good head {})",
            b.record_id,
            b.reason.describe(),
            report.records_checked,
            report.head_hash_hex
        )
    })
}
