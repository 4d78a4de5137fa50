//! Exit confirmed by the manifest (docs/CARGO.md "Exit confirmation"; issue 14 item 6), on the
//! live manifest ledger: the proof an officer's exit confirmation must carry, the proof a
//! recorded exit confirmation resolves to (export tax refund claims rely on it), and the
//! listing of closed exports whose exit no departed manifest proves.
//!
//! **Why checking before the append is sound.** The proof is decided under the ledger lock and
//! the lock is let go before the declaration's events are appended. Every fact it relies on
//! stays true once seen: a departed manifest never un-departs and can no longer be amended
//! (`ManifestDeparted`), so its bills stay listed; the declaration's part of the bill is written
//! off at release and is only ever freed by a change of the declaration itself (cancellation),
//! which moves its version, so the append (optimistic concurrency on that version) conflicts
//! and the step is decided again, proof included.

use cargo_control::exit::{exit_proof, ExitProof, ExitRefusal};
use clearance::{EventKind, Status};
use domain::codes::{DeclarationNo, Direction, OfficeCode, Uscc};
use serde::Serialize;
use store::{Cursor, ListFilter, PageRequest, StoredDeclaration, StoredEvent};

use super::CargoService;
use crate::access::{Operation, Principal, Resource};
use crate::error::{AppError, FieldProblem};
use crate::kernel::Scope;

/// At most this many closed declarations read by one call of [`CargoService::unproven_exits`].
pub const UNPROVEN_SCAN_MAX: usize = 5_000;
/// Unproven exits answered per page when none is asked.
pub const UNPROVEN_PAGE_DEFAULT: u32 = 100;

/// A refusal of an exit confirmation as the service answers it: a text that is no manifest
/// reference, or a manifest that does not exist, is invalid input (422, on `manifest_ref`);
/// every other reason is a conflict with the ledger's state (409).
pub fn exit_refusal(r: ExitRefusal) -> AppError {
    match r {
        ExitRefusal::NotAManifestReference { .. } | ExitRefusal::UnknownManifest { .. } => {
            AppError::Invalid(vec![FieldProblem::new(
                "manifest_ref",
                r.code(),
                r.message_zh(),
                r.message_en(),
            )])
        }
        _ => AppError::Conflict {
            code: r.code(),
            message_en: r.message_en(),
            message_zh: r.message_zh(),
        },
    }
}

/// The bill the declaration names, as filed.
fn declared_bill(d: &StoredDeclaration) -> Option<String> {
    let body: serde_json::Value = serde_json::from_str(&d.body_json).ok()?;
    body.get("bill_no")?.as_str().map(str::to_owned)
}

/// The manifest reference the declaration's exit confirmation recorded, the last one.
pub fn recorded_manifest_ref(events: &[StoredEvent]) -> Option<String> {
    events.iter().rev().find_map(|e| match &e.event.kind {
        EventKind::ExitConfirmed { manifest_ref } => Some(manifest_ref.clone()),
        _ => None,
    })
}

/// A closed export whose recorded exit no departed manifest proves.
#[derive(Clone, Debug, Serialize)]
pub struct UnprovenExit {
    pub id: store::DeclarationId,
    pub declaration_no: Option<DeclarationNo>,
    pub declarant: Uscc,
    pub declaration_office: OfficeCode,
    /// What the exit confirmation recorded (`None`: no exit confirmation recorded at all).
    pub manifest_ref: Option<String>,
    /// Who confirmed it (`officer:LOGIN`, `system:manifest`).
    pub confirmed_by: Option<String>,
    pub confirmed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub code: &'static str,
    pub message_zh: String,
    pub message_en: String,
}

/// One page of the listing: the unproven exits among the closed declarations read, and where
/// to go on (`next_cursor`: more closed declarations remain to be read).
#[derive(Clone, Debug, Serialize)]
pub struct UnprovenExits {
    pub items: Vec<UnprovenExit>,
    /// Closed declarations read for this page.
    pub scanned: usize,
    pub next_cursor: Option<String>,
}

impl CargoService<'_> {
    /// The proof an officer's exit confirmation must carry: `manifest_ref` (`MANIFEST` or
    /// `MANIFEST/BILL`) names a departed export manifest listing the declaration's bill, with
    /// the declaration matched to it and written off. Decided on the live ledger; refused
    /// (422/409, zh/en) otherwise, and refused when cargo control is off (no ledger can prove
    /// an exit).
    pub(crate) fn prove_exit(
        &self,
        d: &StoredDeclaration,
        manifest_ref: &str,
    ) -> Result<ExitProof, AppError> {
        let Some(desk) = self.desk else {
            return Err(AppError::Conflict {
                code: "no_manifest_ledger",
                message_en: "cargo control is not enabled: no manifest can confirm the exit".into(),
                message_zh: "未启用舱单管理，无法以舱单确认离境".into(),
            });
        };
        let no = d.state.declaration_no.ok_or_else(|| AppError::Conflict {
            code: "not_numbered",
            message_en: "the declaration has no number".into(),
            message_zh: "报关单尚无编号".into(),
        })?;
        let bill = declared_bill(d);
        let g = desk.lock();
        exit_proof(&g.ledger, manifest_ref, no, bill.as_deref()).map_err(exit_refusal)
    }

    /// What the recorded exit confirmation of a closed export resolves to on the ledger: the
    /// proof, or why there is none (free text recorded before exits were bound to manifests, a
    /// manifest that never departed, …).
    pub(crate) fn recorded_exit_proof(
        &self,
        d: &StoredDeclaration,
        events: &[StoredEvent],
    ) -> Result<ExitProof, ExitRefusal> {
        let text = recorded_manifest_ref(events).unwrap_or_default();
        let Some(desk) = self.desk else {
            // Without the ledger nothing resolves; the reference is all there is.
            return Err(ExitRefusal::NotAManifestReference { text });
        };
        let Some(no) = d.state.declaration_no else {
            return Err(ExitRefusal::NoBill);
        };
        let bill = declared_bill(d);
        let g = desk.lock();
        exit_proof(&g.ledger, &text, no, bill.as_deref())
    }

    /// Closed exports whose recorded exit no departed manifest proves (closed before exits were
    /// bound to manifests), for officers (their offices; HQ every office) and the tax agency.
    /// Reads closed declarations newest first from `page.after`, at most
    /// [`UNPROVEN_SCAN_MAX`], until `page.limit` unproven ones are found.
    pub fn unproven_exits(
        &self,
        p: &Principal,
        office: Option<OfficeCode>,
        page: PageRequest,
    ) -> Result<UnprovenExits, AppError> {
        let mut filter = ListFilter {
            status: Some(Status::Closed),
            declaration_office: office,
            ..ListFilter::default()
        };
        if let Principal::Agency { .. } = p {
            // The tax agency, as for the claims it verifies.
            self.core.authorize(
                p,
                (
                    Operation::ViewRefundClaims,
                    Resource::Eport { holder: None },
                ),
            )?;
        } else {
            let allowed = self
                .core
                .authorize(p, (Operation::List, Resource::Listing))?;
            match allowed.scope() {
                Scope::Offices(_, within) => match office {
                    Some(o) if !allowed.covers(o) => return Err(allowed.denied()),
                    Some(_) => {}
                    None => filter.offices = Some(within.to_vec()),
                },
                Scope::Everywhere => {}
                Scope::Own(_) | Scope::Agency(_) | Scope::System => return Err(allowed.denied()),
            }
        }
        if page.limit == 0 || page.limit > store::PAGE_MAX {
            return Err(AppError::invalid(
                "limit",
                "out_of_range",
                format!("每页条数须为 1 至 {}", store::PAGE_MAX),
                format!("limit must be 1 to {}", store::PAGE_MAX),
            ));
        }
        let mut items = Vec::new();
        let mut scanned = 0;
        let mut after = page.after;
        loop {
            let chunk = self
                .core
                .store
                .list(
                    &filter,
                    &PageRequest {
                        after: after.clone(),
                        limit: store::PAGE_MAX,
                    },
                )
                .map_err(|e| match e {
                    store::StoreError::Invalid(why) => {
                        AppError::invalid("cursor", "invalid", why.clone(), why)
                    }
                    other => other.into(),
                })?;
            let mut next = chunk.next.clone();
            for (i, s) in chunk.items.iter().enumerate() {
                scanned += 1;
                if s.direction == Direction::Export {
                    if let Some(u) = self.unproven(s.id)? {
                        items.push(u);
                    }
                }
                if items.len() >= page.limit as usize || scanned >= UNPROVEN_SCAN_MAX {
                    // Go on after this one next time (unless it was the last of all).
                    if i + 1 < chunk.items.len() || chunk.next.is_some() {
                        next = Some(Cursor::from_id(s.id));
                    } else {
                        next = None;
                    }
                    return Ok(UnprovenExits {
                        items,
                        scanned,
                        next_cursor: next.map(|c| c.as_str().to_owned()),
                    });
                }
            }
            match next {
                Some(c) => after = Some(c),
                None => {
                    return Ok(UnprovenExits {
                        items,
                        scanned,
                        next_cursor: None,
                    })
                }
            }
        }
    }

    /// The line of a closed export whose exit is unproven; `None` when a manifest proves it.
    fn unproven(&self, id: store::DeclarationId) -> Result<Option<UnprovenExit>, AppError> {
        let Some(d) = self.core.store.load(store::DeclarationKey::Id(id))? else {
            return Ok(None);
        };
        let events = self.core.store.events(d.id)?;
        let Err(why) = self.recorded_exit_proof(&d, &events) else {
            return Ok(None);
        };
        let confirmed = events.iter().rev().find_map(|e| match &e.event.kind {
            EventKind::ExitConfirmed { .. } => Some((e.event.actor.label(), e.event.at)),
            _ => None,
        });
        let header = d
            .state
            .header
            .as_ref()
            .ok_or_else(|| AppError::Internal(format!("declaration {} has no header", d.id)))?;
        Ok(Some(UnprovenExit {
            id: d.id,
            declaration_no: d.state.declaration_no,
            declarant: header.declarant,
            declaration_office: header.declaration_office,
            manifest_ref: recorded_manifest_ref(&events),
            confirmed_by: confirmed.as_ref().map(|c| c.0.clone()),
            confirmed_at: confirmed.map(|c| c.1),
            code: why.code(),
            message_zh: why.message_zh(),
            message_en: why.message_en(),
        }))
    }
}
