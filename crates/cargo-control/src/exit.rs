//! Exit confirmed by the manifest (issue 14 item 6, the pure rule): an export declaration closes
//! only on a **departed export manifest that lists its bill**, with the declaration matched to
//! that bill and written off (released). An officer who confirms an exit names that manifest
//! (`MANIFEST` or `MANIFEST/BILL`, the reference the automatic confirmation at departure already
//! uses); any other text is refused. [`exit_proof`] answers the proof or a [`ExitRefusal`] in
//! Chinese and English.
//!
//! Here, in a new file of `cargo-control`, because the facts are the manifest ledger's (status,
//! current version's bills, the matching index); the clearance lifecycle only records the
//! confirmation the proof allows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use domain::codes::{DeclarationNo, Direction};

use crate::codes::{BillNo, ManifestId};
use crate::ledger::{ManifestLedger, ManifestStatus};

/// What allows an export to close.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExitProof {
    pub manifest_id: ManifestId,
    pub bill_no: BillNo,
    pub declaration_no: DeclarationNo,
    pub departed_at: DateTime<Utc>,
}

impl ExitProof {
    /// The `manifest_ref` recorded on the declaration: `MANIFEST/BILL`.
    pub fn manifest_ref(&self) -> String {
        format!("{}/{}", self.manifest_id, self.bill_no)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ExitRefusal {
    /// The text is not `MANIFEST` or `MANIFEST/BILL`.
    NotAManifestReference {
        text: String,
    },
    UnknownManifest {
        manifest_id: String,
    },
    NotAnExportManifest,
    NotDeparted {
        status: ManifestStatus,
    },
    /// Neither the reference nor the declaration names a bill.
    NoBill,
    /// The bill in the reference is not the declaration's.
    OtherBill {
        named: String,
        declared: String,
    },
    BillNotOnManifest {
        bill_no: String,
    },
    DeclarationNotOnBill {
        bill_no: String,
    },
    NotReleased,
}

impl ExitRefusal {
    pub fn code(&self) -> &'static str {
        match self {
            ExitRefusal::NotAManifestReference { .. } => "not_a_manifest_reference",
            ExitRefusal::UnknownManifest { .. } => "unknown_manifest",
            ExitRefusal::NotAnExportManifest => "not_an_export_manifest",
            ExitRefusal::NotDeparted { .. } => "manifest_not_departed",
            ExitRefusal::NoBill => "no_bill",
            ExitRefusal::OtherBill { .. } => "other_bill",
            ExitRefusal::BillNotOnManifest { .. } => "bill_not_on_manifest",
            ExitRefusal::DeclarationNotOnBill { .. } => "declaration_not_on_bill",
            ExitRefusal::NotReleased => "not_released",
        }
    }

    pub fn message_zh(&self) -> String {
        match self {
            ExitRefusal::NotAManifestReference { text } => {
                format!("“{text}”不是舱单编号（应为“舱单号”或“舱单号/提运单号”）")
            }
            ExitRefusal::UnknownManifest { manifest_id } => format!("舱单 {manifest_id} 不存在"),
            ExitRefusal::NotAnExportManifest => "该舱单不是出口舱单".into(),
            ExitRefusal::NotDeparted { status } => {
                format!("舱单尚未离境（当前状态：{}）", status.name_zh())
            }
            ExitRefusal::NoBill => "报关单和舱单编号都未指明提运单号".into(),
            ExitRefusal::OtherBill { named, declared } => {
                format!("提运单 {named} 不是报关单申报的提运单 {declared}")
            }
            ExitRefusal::BillNotOnManifest { bill_no } => {
                format!("离境舱单未列有提运单 {bill_no}")
            }
            ExitRefusal::DeclarationNotOnBill { bill_no } => {
                format!("报关单未与提运单 {bill_no} 对碰")
            }
            ExitRefusal::NotReleased => "报关单在该提运单下尚未放行核销".into(),
        }
    }

    pub fn message_en(&self) -> String {
        match self {
            ExitRefusal::NotAManifestReference { text } => {
                format!("`{text}` is not a manifest reference (`MANIFEST` or `MANIFEST/BILL`)")
            }
            ExitRefusal::UnknownManifest { manifest_id } => {
                format!("no manifest {manifest_id}")
            }
            ExitRefusal::NotAnExportManifest => "the manifest is not an export manifest".into(),
            ExitRefusal::NotDeparted { status } => {
                format!("the manifest has not departed (it is {})", status.as_str())
            }
            ExitRefusal::NoBill => "neither the declaration nor the reference names a bill".into(),
            ExitRefusal::OtherBill { named, declared } => {
                format!("bill {named} is not the declaration's bill {declared}")
            }
            ExitRefusal::BillNotOnManifest { bill_no } => {
                format!("the departed manifest does not list bill {bill_no}")
            }
            ExitRefusal::DeclarationNotOnBill { bill_no } => {
                format!("the declaration is not matched to bill {bill_no}")
            }
            ExitRefusal::NotReleased => {
                "the declaration's part of the bill is not released (written off)".into()
            }
        }
    }
}

/// Read `MANIFEST` or `MANIFEST/BILL`.
pub fn parse_manifest_ref(text: &str) -> Result<(ManifestId, Option<BillNo>), ExitRefusal> {
    let bad = || ExitRefusal::NotAManifestReference {
        text: text.to_owned(),
    };
    let mut parts = text.trim().splitn(2, '/');
    let manifest = parts.next().unwrap_or("");
    let manifest_id = ManifestId::parse(manifest).map_err(|_| bad())?;
    let bill = match parts.next() {
        None => None,
        Some(b) => Some(BillNo::parse(b).map_err(|_| bad())?),
    };
    Ok((manifest_id, bill))
}

/// The proof that export `declaration_no` (whose declaration names `declared_bill`, if any)
/// left on the manifest `manifest_ref` names, or why not.
pub fn exit_proof(
    ledger: &ManifestLedger,
    manifest_ref: &str,
    declaration_no: DeclarationNo,
    declared_bill: Option<&str>,
) -> Result<ExitProof, ExitRefusal> {
    let (manifest_id, named_bill) = parse_manifest_ref(manifest_ref)?;
    let declared = declared_bill
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(|b| BillNo::parse(b).map_err(|_| ExitRefusal::NoBill))
        .transpose()?;
    let bill_no = match (named_bill, declared) {
        (Some(n), Some(d)) if n != d => {
            return Err(ExitRefusal::OtherBill {
                named: n.to_string(),
                declared: d.to_string(),
            })
        }
        (Some(b), _) | (None, Some(b)) => b,
        (None, None) => return Err(ExitRefusal::NoBill),
    };
    let m = ledger
        .manifest(&manifest_id)
        .ok_or_else(|| ExitRefusal::UnknownManifest {
            manifest_id: manifest_id.to_string(),
        })?;
    if m.voyage.direction != Direction::Export {
        return Err(ExitRefusal::NotAnExportManifest);
    }
    let departed_at = match (m.status, &m.departure) {
        (ManifestStatus::Departed, Some(d)) => d.occurred_at,
        (status, _) => return Err(ExitRefusal::NotDeparted { status }),
    };
    if !m.current().bills.iter().any(|b| b.bill_no == bill_no) {
        return Err(ExitRefusal::BillNotOnManifest {
            bill_no: bill_no.to_string(),
        });
    }
    let entry = ledger.bill(&bill_no);
    let part = entry
        .as_ref()
        .and_then(|e| e.parts.iter().find(|p| p.declaration_no == declaration_no))
        .ok_or_else(|| ExitRefusal::DeclarationNotOnBill {
            bill_no: bill_no.to_string(),
        })?;
    if !part.written_off {
        return Err(ExitRefusal::NotReleased);
    }
    Ok(ExitProof {
        manifest_id,
        bill_no,
        declaration_no,
        departed_at,
    })
}
