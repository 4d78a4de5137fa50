//! Customs registration of enterprises 报关单位备案 (docs/PARTIES.md "Customs registration"):
//! a consignee or consignor 进出口货物收发货人 or a customs broker 报关企业 registers with its
//! USCC and a first enterprise administrator, receives its 10-digit customs code 海关编码,
//! changes and cancels its registration; officers review what the rules require (brokers).
//!
//! Every step is decided by [`decide`] on the registration as it stands inside the writer's
//! transaction (a stale `expected_version` is refused); the backends store it as one JSON
//! document with narrow columns (USCC, customs code, office, status) and write the audit
//! record with it. The customs code is given by [`customs_code`] from the serial the backend
//! counts in the same transaction, so two registrations never share one.
//!
//! The customs code's digits (docs/PARTIES.md): 1–4 the enterprise's locality (positions 3–6
//! of its USCC, the first four digits of its administrative division), 5 the economic zone
//! (1 special economic zone, 2 development zone, 3 high-tech zone, 4 bonded zone, 5 export
//! processing zone, 9 other), 6 the economic type (1–7 and 9 for consignees by ownership; 8
//! for every customs broker), 7–10 a serial per first six digits.

use chrono::{DateTime, Utc};
use clearance::Actor;
use domain::codes::{CustomsCode, OfficeCode, Uscc};
use serde::{Deserialize, Serialize};

use crate::StoreError;

/// A registration refusal has the shape of a case refusal: a stable code, the field and both
/// languages.
pub type RegistrationRefusal = crate::cases::CaseRefusal;

/// At most this many registrations in one listing.
pub const REGISTRATIONS_MAX: u32 = 1_000;
/// Longest name, in characters.
pub const NAME_MAX: usize = 200;
/// Longest address, contact or note, in characters.
pub const TEXT_MAX: usize = 500;
/// At most this many changes kept on one registration.
pub const CHANGES_MAX: usize = 200;
/// The zone digits of a customs code.
pub const ZONES: &[char] = &['1', '2', '3', '4', '5', '9'];
/// The economic-type digits a consignee may declare (8 is the customs brokers').
pub const CONSIGNEE_TYPES: &[char] = &['1', '2', '3', '4', '5', '6', '7', '9'];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnterpriseKind {
    /// 进出口货物收发货人: files its own declarations; effective at once.
    Consignee,
    /// 报关企业: files for others under powers of attorney; reviewed by an officer first.
    Broker,
}

impl EnterpriseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnterpriseKind::Consignee => "consignee",
            EnterpriseKind::Broker => "broker",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    /// A broker's application waiting for an officer.
    PendingReview,
    /// In force: the enterprise files (a broker under its authorities).
    Effective,
    /// The officer refused the application.
    Refused,
    /// Cancelled by the enterprise or by customs: it files nothing more.
    Cancelled,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationStatus::PendingReview => "pending_review",
            RegistrationStatus::Effective => "effective",
            RegistrationStatus::Refused => "refused",
            RegistrationStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<RegistrationStatus> {
        [
            RegistrationStatus::PendingReview,
            RegistrationStatus::Effective,
            RegistrationStatus::Refused,
            RegistrationStatus::Cancelled,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }
}

/// What the enterprise declares about itself (changed by [`RegistrationStep::Change`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationDetails {
    /// The name as in the market-regulation registry.
    pub name: String,
    pub address: String,
    /// The contact person and a telephone number.
    pub contact: String,
    /// The zone digit of the customs code.
    pub zone: char,
    /// The economic-type digit (a broker's is always `8`).
    pub economic_type: char,
}

/// One change of the details, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationChange {
    pub at: DateTime<Utc>,
    pub by: String,
    pub before: RegistrationDetails,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredRegistration {
    pub id: i64,
    pub uscc: Uscc,
    pub kind: EnterpriseKind,
    /// The customs office the enterprise registers with (its reviewing office).
    pub office: OfficeCode,
    /// Given when the registration takes effect.
    pub customs_code: Option<CustomsCode>,
    pub status: RegistrationStatus,
    pub details: RegistrationDetails,
    /// The first enterprise administrator's login.
    pub admin_login: String,
    pub applied_at: DateTime<Utc>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub reviewed_by: Option<String>,
    pub review_note: Option<String>,
    pub changes: Vec<RegistrationChange>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// Steps recorded; the next write is decided on it.
    pub version: u64,
}

/// One step on a registration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum RegistrationStep {
    Apply {
        uscc: Uscc,
        kind: EnterpriseKind,
        office: OfficeCode,
        details: RegistrationDetails,
        admin_login: String,
    },
    Review {
        approve: bool,
        note: String,
    },
    Change {
        details: RegistrationDetails,
    },
    Cancel {
        reason: String,
    },
}

impl RegistrationStep {
    pub fn name(&self) -> &'static str {
        match self {
            RegistrationStep::Apply { .. } => "apply",
            RegistrationStep::Review { .. } => "review",
            RegistrationStep::Change { .. } => "change",
            RegistrationStep::Cancel { .. } => "cancel",
        }
    }
}

/// A step on the register (`registration: None` only to apply). An application carries the
/// first administrator's account, written in the same transaction (its hash stays out of the
/// audit detail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrationWrite {
    pub registration: Option<i64>,
    pub expected_version: Option<u64>,
    pub step: RegistrationStep,
    pub admin: Option<crate::NewAccount>,
    pub actor: Actor,
    pub now: DateTime<Utc>,
}

/// Which registrations to list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistrationFilter {
    /// Registrations with these offices (an officer's scope); `None`: every office.
    pub offices: Option<Vec<OfficeCode>>,
    pub status: Option<RegistrationStatus>,
}

fn refuse(code: &'static str, field: &str, zh: String, en: String) -> RegistrationRefusal {
    RegistrationRefusal {
        code,
        field: field.into(),
        message_zh: zh,
        message_en: en,
    }
}

fn text(field: &str, s: &str, max: usize, required: bool) -> Result<(), RegistrationRefusal> {
    if required && s.trim().is_empty() {
        return Err(refuse(
            "missing",
            field,
            format!("{field} 不能为空"),
            format!("{field} is required"),
        ));
    }
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(refuse(
            "too_long",
            field,
            format!("{field} 至多 {max} 个可见字符"),
            format!("{field} has at most {max} visible characters"),
        ));
    }
    Ok(())
}

/// Every problem of a set of details for `kind`, at once.
pub fn check_details(kind: EnterpriseKind, d: &RegistrationDetails) -> Vec<RegistrationRefusal> {
    let mut out = Vec::new();
    for (field, value, max) in [
        ("name", &d.name, NAME_MAX),
        ("address", &d.address, TEXT_MAX),
        ("contact", &d.contact, TEXT_MAX),
    ] {
        if let Err(r) = text(field, value, max, true) {
            out.push(r);
        }
    }
    if !ZONES.contains(&d.zone) {
        out.push(refuse(
            "invalid",
            "zone",
            "经济区划须为 1、2、3、4、5 或 9".into(),
            "the zone digit is 1, 2, 3, 4, 5 or 9".into(),
        ));
    }
    let type_ok = match kind {
        EnterpriseKind::Broker => d.economic_type == '8',
        EnterpriseKind::Consignee => CONSIGNEE_TYPES.contains(&d.economic_type),
    };
    if !type_ok {
        out.push(match kind {
            EnterpriseKind::Broker => refuse(
                "invalid",
                "economic_type",
                "报关企业的经济类型代码为 8".into(),
                "a customs broker's economic-type digit is 8".into(),
            ),
            EnterpriseKind::Consignee => refuse(
                "invalid",
                "economic_type",
                "收发货人的经济类型代码须为 1 至 7 或 9（8 为报关企业）".into(),
                "a consignee's economic-type digit is 1 to 7 or 9 (8 is the customs brokers')"
                    .into(),
            ),
        });
    }
    out
}

fn check_step(step: &RegistrationStep) -> Result<(), RegistrationRefusal> {
    match step {
        RegistrationStep::Apply {
            kind,
            details,
            admin_login,
            ..
        } => {
            text("admin_login", admin_login, 64, true)?;
            match check_details(*kind, details).into_iter().next() {
                Some(r) => Err(r),
                None => Ok(()),
            }
        }
        RegistrationStep::Review { note, .. } => text("note", note, TEXT_MAX, false),
        RegistrationStep::Change { .. } => Ok(()),
        RegistrationStep::Cancel { reason } => text("reason", reason, TEXT_MAX, true),
    }
}

/// The checks of a step that need no stored state (before it is queued).
pub fn check_write(w: &RegistrationWrite) -> Result<(), StoreError> {
    check_step(&w.step).map_err(StoreError::Registration)?;
    match (&w.step, &w.admin) {
        (RegistrationStep::Apply { uscc, .. }, Some(a))
            if a.user.uscc == Some(*uscc) && a.user.role == crate::Role::Enterprise =>
        {
            Ok(())
        }
        (RegistrationStep::Apply { .. }, _) => Err(StoreError::Invalid(
            "an application carries its first administrator, an enterprise user of its USCC".into(),
        )),
        (_, None) => Ok(()),
        (_, Some(_)) => Err(StoreError::Invalid(
            "only an application carries an account".into(),
        )),
    }
}

/// The first six digits of the customs code an effective registration gets.
pub fn code_prefix(r: &StoredRegistration) -> String {
    let locality = &r.uscc.division()[..4];
    format!("{locality}{}{}", r.details.zone, r.details.economic_type)
}

/// The customs code of the `serial`-th registration (from 1) with `prefix`, or `None` when the
/// four serial digits are used up.
pub fn customs_code(prefix: &str, serial: u32) -> Option<CustomsCode> {
    if serial == 0 || serial > 9_999 {
        return None;
    }
    CustomsCode::parse(&format!("{prefix}{serial:04}")).ok()
}

/// Whether a registration needs an officer's review before it takes effect: customs brokers
/// do (their filings bind their principals); consignees take effect at once.
pub fn needs_review(kind: EnterpriseKind) -> bool {
    match kind {
        EnterpriseKind::Broker => true,
        EnterpriseKind::Consignee => false,
    }
}

/// The registration after one step. `current` is the registration as stored (for an
/// application: the one of the same USCC, if any); `id` the id a new one takes. The backend
/// gives the customs code afterwards when [`takes_effect`] says so.
pub fn decide(
    current: Option<&StoredRegistration>,
    id: i64,
    w: &RegistrationWrite,
) -> Result<StoredRegistration, RegistrationRefusal> {
    check_step(&w.step)?;
    let by = w.actor.label();
    // A refused or cancelled registration is kept as it is and no longer blocks a new
    // application for the same USCC (docs/PARTIES.md "Re-registration").
    let current = match (&w.step, current) {
        (RegistrationStep::Apply { .. }, Some(r))
            if matches!(
                r.status,
                RegistrationStatus::Refused | RegistrationStatus::Cancelled
            ) =>
        {
            None
        }
        (_, c) => c,
    };
    match (&w.step, current) {
        (
            RegistrationStep::Apply {
                uscc,
                kind,
                office,
                details,
                admin_login,
            },
            None,
        ) => Ok(StoredRegistration {
            id,
            uscc: *uscc,
            kind: *kind,
            office: *office,
            customs_code: None,
            status: if needs_review(*kind) {
                RegistrationStatus::PendingReview
            } else {
                RegistrationStatus::Effective
            },
            details: details.clone(),
            admin_login: admin_login.clone(),
            applied_at: w.now,
            reviewed_at: None,
            reviewed_by: None,
            review_note: None,
            changes: Vec::new(),
            cancelled_at: None,
            cancel_reason: None,
            version: 1,
        }),
        (_, None) => Err(refuse(
            "not_found",
            "registration",
            "备案不存在".into(),
            "no such registration".into(),
        )),
        (step, Some(r)) => {
            if let RegistrationStep::Apply { uscc, .. } = step {
                return Err(refuse(
                    "already_registered",
                    "uscc",
                    format!("企业 {uscc} 已有备案（{}）", r.status.as_str()),
                    format!(
                        "enterprise {uscc} has a registration already ({})",
                        r.status.as_str()
                    ),
                ));
            }
            if let Some(v) = w.expected_version {
                if v != r.version {
                    return Err(refuse(
                        "version_conflict",
                        "registration",
                        format!("备案已被他人更新（版本 {v} → {}），请刷新后重试", r.version),
                        format!(
                            "the registration changed meanwhile (version {v} → {}); reload and try again",
                            r.version
                        ),
                    ));
                }
            }
            let closed = matches!(
                r.status,
                RegistrationStatus::Refused | RegistrationStatus::Cancelled
            );
            if closed {
                return Err(refuse(
                    "registration_closed",
                    "registration",
                    format!("备案已{}，不能再办理", status_zh(r.status)),
                    format!(
                        "the registration is {}: no further step",
                        r.status.as_str().replace('_', " ")
                    ),
                ));
            }
            let mut r = r.clone();
            match step {
                // Answered above (`already_registered`).
                RegistrationStep::Apply { .. } => {}
                RegistrationStep::Review { approve, note } => {
                    if r.status != RegistrationStatus::PendingReview {
                        return Err(refuse(
                            "not_pending",
                            "registration",
                            "备案不在待审核状态".into(),
                            "the registration is not waiting for review".into(),
                        ));
                    }
                    r.status = if *approve {
                        RegistrationStatus::Effective
                    } else {
                        RegistrationStatus::Refused
                    };
                    r.reviewed_at = Some(w.now);
                    r.reviewed_by = Some(by);
                    r.review_note = Some(note.clone());
                }
                RegistrationStep::Change { details } => {
                    if let Some(p) = check_details(r.kind, details).into_iter().next() {
                        return Err(p);
                    }
                    if r.changes.len() >= CHANGES_MAX {
                        return Err(refuse(
                            "too_many",
                            "changes",
                            format!("每项备案至多变更 {CHANGES_MAX} 次"),
                            format!("at most {CHANGES_MAX} changes per registration"),
                        ));
                    }
                    // The customs code, once given, stays: a change of zone or type is
                    // recorded but does not renumber the enterprise.
                    r.changes.push(RegistrationChange {
                        at: w.now,
                        by,
                        before: r.details.clone(),
                    });
                    r.details = details.clone();
                }
                RegistrationStep::Cancel { reason } => {
                    r.status = RegistrationStatus::Cancelled;
                    r.cancelled_at = Some(w.now);
                    r.cancel_reason = Some(reason.clone());
                }
            }
            r.version += 1;
            Ok(r)
        }
    }
}

fn status_zh(s: RegistrationStatus) -> &'static str {
    match s {
        RegistrationStatus::PendingReview => "待审核",
        RegistrationStatus::Effective => "生效",
        RegistrationStatus::Refused => "被驳回",
        RegistrationStatus::Cancelled => "注销",
    }
}

/// Whether the step just decided makes the registration effective without a code yet (the
/// backend then gives it one with [`customs_code`]).
pub fn takes_effect(r: &StoredRegistration) -> bool {
    r.status == RegistrationStatus::Effective && r.customs_code.is_none()
}

/// Whether `uscc` may file (or act as the broker of a filing), given its newest registration as
/// it stands in the filing's transaction: in force, or none on record (accounts created before
/// registration existed). The same refusals as the filing service's check, so a cancellation
/// racing a filing refuses it in the writer too (docs/PARTIES.md "Filing").
pub fn in_force(uscc: Uscc, r: Option<&StoredRegistration>) -> Result<(), RegistrationRefusal> {
    let Some(r) = r else {
        return Ok(());
    };
    let (code, zh, en) = match r.status {
        RegistrationStatus::Effective => return Ok(()),
        RegistrationStatus::PendingReview => (
            "registration_pending",
            "备案尚待海关审核，不能申报",
            "the customs registration is waiting for review: no filing yet",
        ),
        RegistrationStatus::Refused => (
            "registration_refused",
            "备案未获海关批准，不能申报",
            "the customs registration was refused: no filing",
        ),
        RegistrationStatus::Cancelled => (
            "registration_cancelled",
            "备案已注销，不能申报",
            "the customs registration is cancelled: no filing",
        ),
    };
    Err(refuse(
        code,
        "declarant",
        format!("{uscc}：{zh}"),
        format!("{uscc}: {en}"),
    ))
}

/// The enterprises whose registration a filing needs in force: the declarant and, for a
/// broker's filing, the broker.
pub fn filers(req: &crate::SubmitRequest) -> Vec<Uscc> {
    let mut out = vec![req.declarant];
    if let Some(a) = &req.agent {
        out.push(a.broker);
    }
    out
}

/// The audit detail of a step.
pub fn detail(r: &StoredRegistration, step: &RegistrationStep) -> String {
    serde_json::json!({
        "uscc": r.uscc.to_string(),
        "customs_code": r.customs_code.map(|c| c.to_string()),
        "status": r.status.as_str(),
        "version": r.version,
        "step": step,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(kind: EnterpriseKind) -> RegistrationDetails {
        RegistrationDetails {
            name: "示例".into(),
            address: "上海".into(),
            contact: "张三 021-1234".into(),
            zone: '9',
            economic_type: match kind {
                EnterpriseKind::Broker => '8',
                EnterpriseKind::Consignee => '6',
            },
        }
    }

    #[test]
    fn consignee_takes_effect_broker_waits() {
        let uscc = Uscc::parse("91310115MA1K9B2C7M").unwrap();
        for (kind, status) in [
            (EnterpriseKind::Consignee, RegistrationStatus::Effective),
            (EnterpriseKind::Broker, RegistrationStatus::PendingReview),
        ] {
            let w = RegistrationWrite {
                registration: None,
                expected_version: None,
                step: RegistrationStep::Apply {
                    uscc,
                    kind,
                    office: OfficeCode::parse("2200").unwrap(),
                    details: details(kind),
                    admin_login: "a".into(),
                },
                admin: None,
                actor: Actor::System {
                    component: "t".into(),
                },
                now: chrono::TimeZone::timestamp_opt(&chrono::Utc, 0, 0).unwrap(),
            };
            let r = decide(None, 1, &w).unwrap();
            assert_eq!(r.status, status);
            assert_eq!(takes_effect(&r), status == RegistrationStatus::Effective);
            // Locality from the USCC's division (310115 → 3101), zone, type.
            let prefix = code_prefix(&r);
            assert_eq!(&prefix[..4], "3101");
            assert_eq!(customs_code(&prefix, 1).unwrap().sequence(), "0001");
            assert!(customs_code(&prefix, 10_000).is_none());
        }
    }

    #[test]
    fn every_detail_problem_at_once() {
        let d = RegistrationDetails {
            name: String::new(),
            address: String::new(),
            contact: "x".into(),
            zone: '7',
            economic_type: '8',
        };
        let codes: Vec<_> = check_details(EnterpriseKind::Consignee, &d)
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(codes, ["name", "address", "zone", "economic_type"]);
    }
}
