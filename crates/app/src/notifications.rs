//! The notifications inbox (issue 20 item 6, issue 18 item 4): what happened to the
//! declarations a user may see, read from the audit chain with a cursor
//! ([`store::Store::declaration_records`], [`store::activity`]) and the declarations' events
//! ([`store::Store::events`]); no write of its own, so nothing can be notified that was not
//! committed, and nothing committed is missed.
//!
//! Who sees what: exactly the declarations the user may open (`Operation::View`, the same
//! check as `GET /api/declarations/{id}`; a declaration one may not see is skipped, never
//! named): an enterprise its own and those it filed as a broker; an officer those of their
//! offices; HQ every one. Of those, an enterprise is told of every event but its users' own
//! steps by login, and of every document attached by someone else; an officer (or HQ user) only
//! of what their duties cover (`operations_of`: the operations an event calls for or bears
//! on, checked with `access::duties_allow`: a reviewer hears of a yellow lane and of
//! amendment requests, an inspector of a red lane and of inspections ordered, a tax officer of
//! findings to assess, a release officer of payments), never of their own steps. Users who see
//! no declaration (agencies, administrators, carriers, postal operators) have an empty inbox.
//!
//! What a user has read is a marker kept by the server per user
//! ([`StepService::mark_notifications_read`], `store::drafts::ReadMarkWrite`): every
//! notification up to that cursor is read; the marker only moves forward.
//!
//! The cursor is an audit record's id: items come in commit order, each with a stable id
//! (`{declaration}-{seq}` for an event, `{declaration}-a{record}` for a document) for
//! de-duplication. A read scans at most [`SCAN_RECORDS`] records, so a quiet user's inbox costs
//! a bounded read whatever the traffic: the cursor returned moves past what was scanned.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use clearance::{Actor, EventKind, Lane, Status};
use serde::Serialize;
use store::activity::{DeclarationRecord, RecordRange};
use store::drafts::ReadMarkWrite;
use store::{DeclarationId, DeclarationKey, StoredEvent};

use crate::access::{duties_allow, Operation, Principal};
use crate::error::AppError;
use crate::steps::StepService;

/// At most this many notifications in one answer.
pub const NOTIFICATIONS_MAX: u32 = 200;
/// At most this many audit records are read for one answer.
pub const SCAN_RECORDS: u32 = 5_000;
/// Records read at a time.
const SCAN_BATCH: u32 = 500;

/// Which notifications: after a cursor (in commit order), or the newest (before a cursor).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotificationQuery {
    /// What happened after this cursor: the oldest first, up to the limit.
    After(i64),
    /// The newest that happened before this cursor (`None`: the newest of all).
    Before(Option<i64>),
}

/// One notification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Notification {
    /// Stable: `{declaration}-{seq}` (an event), `{declaration}-a{record}` (a document).
    pub id: String,
    /// The audit record it comes from: `after` this to read what followed.
    pub cursor: String,
    pub declaration_id: DeclarationId,
    /// The declaration number, or the pre-entry number before acceptance.
    pub number: String,
    /// The event's name (`released`, `lane_chosen`, …) or `attachment_added`.
    pub kind: String,
    /// The declaration's status now.
    pub status: Status,
    /// The declaration's version now (its number of events): a page showing this version or
    /// a later one shows what the notification says.
    pub version: u64,
    pub at: DateTime<Utc>,
    pub message_zh: String,
    pub message_en: String,
}

/// One answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NotificationPage {
    /// In commit order, the oldest first.
    pub items: Vec<Notification>,
    /// Where to go on: `after` this for what follows (the head when everything was read).
    pub cursor: String,
    /// `before` this for older notifications (pages read backwards); absent when the chain's
    /// start was reached, and on pages read forwards.
    pub older: Option<String>,
    /// More records follow `cursor` already (the read stopped at its limit).
    pub more: bool,
}

/// What one declaration gives the notifications of a read (loaded once per read).
struct Seen {
    number: String,
    status: Status,
    version: u64,
    events: Option<Vec<StoredEvent>>,
}

impl StepService<'_> {
    /// The notifications of `principal` ([module documentation](self)); `limit` 1..=
    /// [`NOTIFICATIONS_MAX`].
    pub fn notifications(
        &self,
        principal: &Principal,
        query: NotificationQuery,
        limit: u32,
    ) -> Result<NotificationPage, AppError> {
        if limit == 0 || limit > NOTIFICATIONS_MAX {
            return Err(AppError::invalid(
                "limit",
                "out_of_range",
                format!("条数须为 1 至 {NOTIFICATIONS_MAX}"),
                format!("limit must be 1 to {NOTIFICATIONS_MAX}"),
            ));
        }
        let store = &self.core.store;
        if !sees_declarations(principal) {
            let head = store
                .declaration_records(RecordRange::Before(i64::MAX), 1)?
                .head;
            let cursor = match query {
                NotificationQuery::After(a) => a.max(head),
                NotificationQuery::Before(_) => head,
            };
            return Ok(NotificationPage {
                items: Vec::new(),
                cursor: cursor.to_string(),
                older: None,
                more: false,
            });
        }
        let mut seen: HashMap<DeclarationId, Option<Seen>> = HashMap::new();
        let limit = limit as usize;
        let mut scanned = 0u32;
        match query {
            NotificationQuery::After(after) => {
                let mut items = Vec::new();
                let mut pos = after;
                let mut more = false;
                'scan: loop {
                    let batch = SCAN_BATCH.min(SCAN_RECORDS - scanned);
                    let read = store.declaration_records(RecordRange::After(pos), batch)?;
                    scanned += read.records.len() as u32;
                    for rec in &read.records {
                        let found = self.items_of(principal, rec, &mut seen)?;
                        if !items.is_empty() && items.len() + found.len() > limit {
                            more = true;
                            break 'scan;
                        }
                        items.extend(found);
                        pos = rec.id;
                        if items.len() >= limit {
                            more = rec.id < read.head;
                            break 'scan;
                        }
                    }
                    if (read.records.len() as u32) < batch {
                        pos = read.next_after(pos, batch);
                        break;
                    }
                    if scanned >= SCAN_RECORDS {
                        more = true;
                        break;
                    }
                }
                Ok(NotificationPage {
                    items,
                    cursor: pos.to_string(),
                    older: None,
                    more,
                })
            }
            NotificationQuery::Before(before) => {
                // Newest first while reading, then turned to commit order.
                let mut items: Vec<Notification> = Vec::new();
                let mut pos = before.unwrap_or(i64::MAX);
                let mut head = None;
                let mut older = None;
                'back: loop {
                    let batch = SCAN_BATCH.min(SCAN_RECORDS - scanned);
                    let read = store.declaration_records(RecordRange::Before(pos), batch)?;
                    head.get_or_insert(read.head);
                    scanned += read.records.len() as u32;
                    for rec in read.records.iter().rev() {
                        let mut found = self.items_of(principal, rec, &mut seen)?;
                        if !items.is_empty() && items.len() + found.len() > limit {
                            // This record's items come with the next page.
                            older = Some(rec.id + 1);
                            break 'back;
                        }
                        found.reverse();
                        items.extend(found);
                        pos = rec.id;
                        if items.len() >= limit {
                            older = Some(rec.id);
                            break 'back;
                        }
                    }
                    if (read.records.len() as u32) < batch {
                        break;
                    }
                    if scanned >= SCAN_RECORDS {
                        older = Some(pos);
                        break;
                    }
                }
                items.reverse();
                let head = head.unwrap_or(0);
                Ok(NotificationPage {
                    items,
                    // Live updates go on from the head, whichever page this is.
                    cursor: head.to_string(),
                    older: older.map(|o| o.to_string()),
                    more: false,
                })
            }
        }
    }

    /// The principal's read marker: every notification up to this cursor has been read
    /// (`None` before the first mark). Kept by the server, so that every browser shows the
    /// same unread count.
    pub fn notifications_read(&self, principal: &Principal) -> Result<Option<i64>, AppError> {
        Ok(self.core.store.notifications_read(principal.user_id())?)
    }

    /// Mark everything up to `up_to` (a cursor an answer gave, at most the chain's head) as
    /// read; the marker never goes back. The marker now kept.
    pub fn mark_notifications_read(
        &self,
        principal: &Principal,
        up_to: i64,
    ) -> Result<i64, AppError> {
        let store = &self.core.store;
        let head = store
            .declaration_records(RecordRange::Before(i64::MAX), 1)?
            .head;
        if up_to < 0 || up_to > head {
            return Err(AppError::invalid(
                "up_to",
                "bad_cursor",
                format!("“up_to”须为此前答复给出的游标（0 至 {head}），而不是 {up_to}"),
                format!(
                    "`up_to` must be a cursor an earlier answer gave (0 to {head}), not {up_to}"
                ),
            ));
        }
        Ok(store.mark_notifications_read(ReadMarkWrite {
            user_id: principal.user_id(),
            up_to,
            now: self.core.now(),
        })?)
    }

    /// The notifications one audit record gives `principal`, in commit order.
    fn items_of(
        &self,
        principal: &Principal,
        rec: &DeclarationRecord,
        seen: &mut HashMap<DeclarationId, Option<Seen>>,
    ) -> Result<Vec<Notification>, AppError> {
        let wants_events = rec.versions.is_some();
        let wants_document = rec.action == "attachment.add"
            && !own_label(principal, &rec.actor)
            && duties_cover(principal, DOCUMENT_OPERATIONS);
        if !wants_events && !wants_document {
            return Ok(Vec::new());
        }
        if let std::collections::hash_map::Entry::Vacant(slot) = seen.entry(rec.declaration) {
            let v = match self.load_visible_pub(principal, DeclarationKey::Id(rec.declaration)) {
                Ok(d) => Some(Seen {
                    number: match (d.state.declaration_no, &d.state.header) {
                        (Some(n), _) => n.to_string(),
                        (None, Some(h)) => h.pre_entry_no.to_string(),
                        (None, None) => rec.declaration.to_string(),
                    },
                    status: d.state.status,
                    version: d.version,
                    events: None,
                }),
                Err(AppError::NotFound(_)) => None,
                Err(e) => return Err(e),
            };
            slot.insert(v);
        }
        let Some(Some(s)) = seen.get_mut(&rec.declaration) else {
            return Ok(Vec::new());
        };
        let (number, status, version) = (s.number.clone(), s.status, s.version);
        let base =
            |kind: &str, id: String, at: DateTime<Utc>, zh: String, en: String| Notification {
                id,
                cursor: rec.id.to_string(),
                declaration_id: rec.declaration,
                number: number.clone(),
                kind: kind.to_owned(),
                status,
                version,
                at,
                message_zh: format!("报关单 {number}：{zh}"),
                message_en: format!("Declaration {number}: {en}"),
            };
        let mut out = Vec::new();
        if wants_document {
            out.push(base(
                "attachment_added",
                format!("{}-a{}", rec.declaration, rec.id),
                rec.at,
                "随附单据已上传".to_owned(),
                "a document was attached".to_owned(),
            ));
            return Ok(out);
        }
        let Some((from, to)) = rec.versions else {
            return Ok(out);
        };
        if s.events.is_none() {
            s.events = Some(self.core.store.events(rec.declaration)?);
        }
        let events = s.events.as_deref().unwrap_or_default();
        for e in events.iter().filter(|e| e.seq > from && e.seq <= to) {
            if own_actor(principal, &e.event.actor) || !within_duties(principal, &e.event.kind) {
                continue;
            }
            let (zh, en) = phrase(&e.event.kind);
            out.push(base(
                e.event.kind.name(),
                format!("{}-{}", rec.declaration, e.seq),
                e.event.at,
                zh,
                en,
            ));
        }
        Ok(out)
    }
}

/// The customs operations a document attached bears on: the review of documents and the
/// inspection.
const DOCUMENT_OPERATIONS: &[Operation] = &[Operation::RecordReview, Operation::RecordInspection];

/// The customs operations an event calls for or bears on: an officer is told of it when their
/// duties allow one of them (`access::duties_allow`). An enterprise is told of every event
/// of its declarations. Filing, acceptance and withdrawal call for no officer (automatic review
/// and the lane follow at once); the lane calls for the lane's work; a finding for the
/// assessment, and for the risk analysts and anti-smuggling officers who follow findings; a
/// payment for the release and the reconciliation; a request for the reviewers who decide it.
fn operations_of(kind: &EventKind) -> &'static [Operation] {
    use Operation as O;
    match kind {
        EventKind::Submitted { .. }
        | EventKind::Withdrawn { .. }
        | EventKind::Rejected { .. }
        | EventKind::Accepted { .. } => &[],
        EventKind::LaneChosen { lane, .. } => match lane {
            Lane::Green | Lane::Blue => &[O::Assess],
            Lane::Yellow => &[O::RecordReview],
            Lane::Red => &[O::RecordInspection],
        },
        EventKind::InspectionOrdered { .. } => &[O::RecordInspection],
        EventKind::DocumentReviewRecorded { .. } => &[O::Assess],
        EventKind::InspectionRecorded { .. } => &[O::Assess, O::ManageRiskRules, O::ManageCases],
        EventKind::Assessed { .. } => &[O::Release, O::ReleaseAgainstGuarantee],
        EventKind::PaymentInitiated { .. } => &[O::ReconcilePayments],
        EventKind::NoticePaid { .. } => &[O::Release, O::ReconcilePayments],
        EventKind::ReleasedAgainstGuarantee { .. } => &[O::EnforceGuarantees, O::Close],
        EventKind::Released | EventKind::ExitConfirmed { .. } => &[O::Close],
        EventKind::Closed => &[O::DecideRefund],
        EventKind::AmendmentRequested { .. }
        | EventKind::CancellationRequested { .. }
        | EventKind::RequestApproved { .. }
        | EventKind::RequestRefused { .. } => &[O::DecideRequest],
        EventKind::Suspended { .. } | EventKind::Unsuspended { .. } => &[O::Suspend, O::Release],
        EventKind::Versioned { .. } => &[O::Assess, O::DecideRefund],
        EventKind::RefundRequested { .. } | EventKind::RefundDecided { .. } => &[O::DecideRefund],
    }
}

/// Whether the principal's duties allow one of `ops` (always, for an enterprise).
fn duties_cover(p: &Principal, ops: &[Operation]) -> bool {
    match p {
        Principal::Officer { duties, .. } | Principal::Hq { duties, .. } => {
            ops.iter().any(|op| duties_allow(duties, *op))
        }
        Principal::Enterprise { .. }
        | Principal::Agency { .. }
        | Principal::Admin { .. }
        | Principal::Carrier { .. }
        | Principal::PostalOperator { .. } => true,
    }
}

/// Whether an event is news for the principal: every event for an enterprise; for an officer,
/// those their duties cover.
fn within_duties(p: &Principal, kind: &EventKind) -> bool {
    duties_cover(p, operations_of(kind))
}

/// Whether the principal may see any declaration at all.
fn sees_declarations(p: &Principal) -> bool {
    match p {
        Principal::Enterprise { .. } | Principal::Officer { .. } | Principal::Hq { .. } => true,
        Principal::Agency { .. }
        | Principal::Admin { .. }
        | Principal::Carrier { .. }
        | Principal::PostalOperator { .. } => false,
    }
}

/// A step the principal took themselves (by login: an enterprise's own filing carries no
/// login, and is told to its colleagues too).
fn own_actor(p: &Principal, actor: &Actor) -> bool {
    match actor {
        Actor::Officer { login, .. }
        | Actor::AntiSmuggling { login, .. }
        | Actor::Broker { login, .. } => login == p.login(),
        Actor::Enterprise { .. } | Actor::Bank { .. } | Actor::System { .. } => false,
    }
}

/// An audit actor label naming the principal's login (`officer:2200:wang`).
fn own_label(p: &Principal, label: &str) -> bool {
    !matches!(p, Principal::Enterprise { .. }) && label.rsplit(':').next() == Some(p.login())
}

fn lane_words(l: Lane) -> (&'static str, &'static str) {
    match l {
        Lane::Green => ("绿色通道", "green"),
        Lane::Blue => ("蓝色通道", "blue"),
        Lane::Yellow => ("黄色通道", "yellow"),
        Lane::Red => ("红色通道", "red"),
    }
}

/// What an event says, in Chinese and English (the web interface's `event.*` words).
pub fn phrase(kind: &EventKind) -> (String, String) {
    let (zh, en): (&str, &str) = match kind {
        EventKind::Submitted { .. } => ("已申报", "submitted"),
        EventKind::Withdrawn { .. } => ("已撤单", "withdrawn"),
        EventKind::Rejected { .. } => ("电子审单退单", "rejected by automatic review"),
        EventKind::Accepted { .. } => ("电子审单通过，接受申报", "accepted by automatic review"),
        EventKind::LaneChosen { lane, .. } => {
            let (z, e) = lane_words(*lane);
            return (format!("布控通道：{z}"), format!("lane chosen: {e}"));
        }
        EventKind::InspectionOrdered { .. } => ("布控查验", "inspection ordered"),
        EventKind::DocumentReviewRecorded { .. } => ("单证审核完成", "document review recorded"),
        EventKind::InspectionRecorded { .. } => ("查验结果已录入", "inspection recorded"),
        EventKind::Assessed { .. } => ("税费已计算，签发缴款书", "taxes assessed, notices issued"),
        EventKind::NoticePaid { notice_no, .. } => {
            return (
                format!("缴款书 {notice_no} 已缴款"),
                format!("notice {notice_no} paid"),
            )
        }
        EventKind::PaymentInitiated { .. } => {
            ("已发起银行缴款", "payment initiated through a bank")
        }
        EventKind::ReleasedAgainstGuarantee { .. } => ("担保放行", "released against a guarantee"),
        EventKind::Released => ("已放行", "released"),
        EventKind::ExitConfirmed { .. } => ("已确认出境", "exit confirmed"),
        EventKind::Closed => ("已结关", "closed"),
        EventKind::AmendmentRequested { .. } => ("申请修改", "amendment requested"),
        EventKind::CancellationRequested { .. } => ("申请删单", "cancellation requested"),
        EventKind::RequestApproved { .. } => ("申请已批准", "request approved"),
        EventKind::RequestRefused { .. } => ("申请被驳回", "request refused"),
        EventKind::Suspended { .. } => ("缉私挂起", "suspended"),
        EventKind::Unsuspended { .. } => ("解除挂起", "resumed"),
        EventKind::Versioned { .. } => ("形成新版本", "new version recorded"),
        EventKind::RefundRequested { .. } => ("申请退税", "refund requested"),
        EventKind::RefundDecided { .. } => ("退税已审批", "refund decided"),
    };
    (zh.to_owned(), en.to_owned())
}
