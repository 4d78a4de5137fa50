//! The agencies' own records reaching customs over the exchange (docs/EXCHANGE.md "The reverse
//! direction"): a licence issued (`licence_issued.v1`) or withdrawn (`licence_withdrawn.v1`), a
//! registry entry (`registry_updated.v1`), a bank's receipt or payment (`bank_record.v1`), an
//! export tax refund paid (`refund_paid.v1`), each a signed message applied once.
//!
//! - **Verified first**: only a message whose signature checks against the agencies' key ring
//!   (each key bound to its agency, `exchange::KeyRing`) reaches this desk; on the HTTP channel
//!   it is checked here ([`InboundService::receive_signed`]), on the bus by the
//!   `exchange::Receiver` of customs' consumer, which calls [`InboundService::apply_verified`].
//! - **As the sending agency**: the sender is mapped to a real agency user ([`sender_code`],
//!   [`InboundService::sender_principal`]) and the message applied through the same use case and
//!   authorization as the HTTP API (`eport_desk::issue_licence`, `withdraw_licence`,
//!   `put_registry`, `finance::record_bank_record`, `pay_refund`): a licence signed by the tax
//!   agency is refused by the same rule that refuses a tax user's `POST`, a withdrawal by
//!   another agency than the issuer by the store's rule that refuses it over HTTP.
//! - **Once**: the use case's write carries the message (`store::inbound::carrying`), so the
//!   store records its id in the same savepoint as the effect (`exchange_inbound`); an id seen
//!   before changes nothing and is a duplicate. A message the use case refuses (invalid, not
//!   allowed, a conflict) is recorded as refused with its problems, and never applied later; a
//!   store that cannot write records nothing ([`InboundResult::Retry`]): the message comes again.

use exchange::apply::{check_envelope, Verified};
use exchange::batch::BatchCache;
use exchange::message::{
    Agency, BankRecordV1, LicenceIssuedV1, LicenceWithdrawnV1, Payload, RefundPaidV1,
    RegistryUpdatedV1,
};
use exchange::sign::KeyRing;
use serde::Serialize;
use store::inbound::{InboundRefusal, InboundRow, InboundTag};

use crate::access::{Operation, Principal, Resource};
use crate::eport_desk::{EportService, LicenceRequest, RegistryRequest, WithdrawalRequest};
use crate::error::{AppError, FieldProblem};
use crate::finance::{BankRecordRequest, FinanceService, RefundPaidRequest};
use crate::kernel::Core;

/// At most this many messages in one `POST /api/exchange/inbound`.
pub const INBOUND_POST_MAX: usize = 1000;

/// The exchange code customs receives as.
pub const CUSTOMS: &str = "CUSTOMS";

/// The agencies' public keys customs verifies their messages with, and the batch signatures it
/// verified (so a batch's signature is checked once across requests).
pub struct InboundKeys {
    pub ring: KeyRing,
    pub batches: BatchCache,
}

impl InboundKeys {
    pub fn new(ring: KeyRing) -> InboundKeys {
        InboundKeys {
            ring,
            batches: BatchCache::new(),
        }
    }
}

/// What became of one verified message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundResult {
    /// Applied now; its id recorded with the effect.
    Applied,
    /// Its id was applied or refused before: nothing changed.
    Duplicate,
    /// Refused for good (recorded, unless the refusal is about who delivered it rather than the
    /// message itself): `reason` a stable code, with the problems.
    Refused {
        reason: String,
        problems: Vec<FieldProblem>,
    },
    /// The store could not write: nothing recorded, deliver it again.
    Retry(String),
}

/// One message's answer on the HTTP channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboundAnswer {
    /// `None` when the envelope could not be read.
    pub message_id: Option<String>,
    /// `applied`, `duplicate`, `refused` or `retry` (the store could not write; send it again).
    pub outcome: &'static str,
    /// A refusal's stable code (`bad_signature`, `sender_not_signed_in`, `invalid`,
    /// `forbidden`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FieldProblem>,
}

/// A row of the inbound log, as operators read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InboundView {
    pub message_id: String,
    pub sender: String,
    pub kind: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub outcome: &'static str,
    pub problems: Option<serde_json::Value>,
}

impl From<InboundRow> for InboundView {
    fn from(r: InboundRow) -> Self {
        InboundView {
            message_id: r.tag.message_id,
            sender: r.tag.sender,
            kind: r.tag.kind,
            created_at: r.tag.created_at,
            received_at: r.tag.received_at,
            outcome: r.outcome.as_str(),
            problems: r.problems.and_then(|p| serde_json::from_str(&p).ok()),
        }
    }
}

/// The exchange code an agency principal sends as: a bank its own, from its login (`bank-boc`
/// → `BANK_BOC`: each bank signs its records, and its login is the bank of the record), any
/// other agency its agency's code (`commerce`/`mofcom` → `COMMERCE`,
/// [`crate::exchange_desk::agency_code`]). `None` for anyone else.
pub fn sender_code(p: &Principal) -> Option<Agency> {
    let Principal::Agency { agency, login, .. } = p else {
        return None;
    };
    if crate::access::BANK
        .iter()
        .any(|n| agency.eq_ignore_ascii_case(n))
    {
        Agency::parse(&login.to_ascii_uppercase().replace('-', "_")).ok()
    } else {
        crate::exchange_desk::agency_code(agency)
    }
}

/// The logins that may be the user of a sender: the agency's names (`COMMERCE`: `commerce`,
/// `mofcom`), then the code in lower case, with `-` for `_` (`BANK_BOC`: `bank_boc`,
/// `bank-boc`).
fn sender_logins(sender: &Agency) -> Vec<String> {
    use crate::access::{COMMERCE, FOREX, MARKET_REGULATION, NDRC, TAX};
    let names: &[&str] = match sender.as_str() {
        "COMMERCE" => COMMERCE,
        "NDRC" => NDRC,
        "SAMR" => MARKET_REGULATION,
        "TAX" => TAX,
        "FOREX" => FOREX,
        _ => &[],
    };
    let lower = sender.as_str().to_ascii_lowercase();
    let mut out: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    for l in [lower.clone(), lower.replace('_', "-")] {
        if !out.contains(&l) {
            out.push(l);
        }
    }
    out
}

fn problem(field: &str, code: &str, zh: String, en: String) -> Vec<FieldProblem> {
    vec![FieldProblem::new(field, code, zh, en)]
}

/// A refusal of a use case as the problems of a refused message.
fn problems_of(e: &AppError) -> Vec<FieldProblem> {
    match e {
        AppError::Invalid(p) | AppError::Malformed(p) => p.clone(),
        AppError::Rejected { problems, .. } => problems.clone(),
        AppError::Forbidden(d) => problem("", d.code, d.message_zh.clone(), d.message_en.clone()),
        AppError::Conflict {
            code,
            message_zh,
            message_en,
        } => problem("", code, message_zh.clone(), message_en.clone()),
        AppError::NotFound(what) => problem(
            "",
            "not_found",
            format!("不存在：{what}"),
            format!("not found: {what}"),
        ),
        AppError::Refused(r) => problem(
            "",
            r.code(),
            r.message_zh().to_string(),
            r.message_en().to_string(),
        ),
        other => problem(
            "",
            other.code(),
            format!("无法处理：{other}"),
            format!("cannot apply: {other}"),
        ),
    }
}

/// The agencies' records as a service: the HTTP channel's verification and both channels'
/// application.
#[derive(Clone, Copy)]
pub struct InboundService<'a> {
    pub(crate) core: &'a Core,
    pub(crate) keys: Option<&'a InboundKeys>,
    pub(crate) eport: EportService<'a>,
    pub(crate) finance: FinanceService<'a>,
}

impl InboundService<'_> {
    /// `POST /api/exchange/inbound`: signed envelopes in wire form from an agency user. Each
    /// is verified against the agencies' key ring, must be sent by the signed-in agency, and
    /// is applied once as it; one answer per message, in order. 403 for anyone but an
    /// agency user; 404 when customs has no agency keys; 422 for no or too many messages;
    /// 503 when the store cannot write (what was answered before is kept).
    pub fn receive_signed(
        &self,
        by: &Principal,
        raws: &[Vec<u8>],
    ) -> Result<Vec<InboundAnswer>, AppError> {
        self.core
            .authorize(by, (Operation::ReadExchangeFeed, Resource::ExchangeFeed))?;
        let keys = self.keys.ok_or_else(|| {
            AppError::NotFound(
                "customs receives no agency messages: start it with --agency-keys".into(),
            )
        })?;
        if raws.is_empty() || raws.len() > INBOUND_POST_MAX {
            return Err(AppError::invalid(
                "messages",
                "bad_count",
                format!("须有 1 至 {INBOUND_POST_MAX} 条报文"),
                format!("1 to {INBOUND_POST_MAX} messages"),
            ));
        }
        let me = sender_code(by);
        let customs = Agency::parse(CUSTOMS).expect("a valid agency code");
        let mut out = Vec::with_capacity(raws.len());
        for raw in raws {
            let answer = match check_envelope(&customs, &keys.ring, Some(&keys.batches), raw) {
                Err(r) => {
                    tracing::warn!(message_id = r.message_id.as_deref().unwrap_or("?"), reason = %r.reason, "agency message refused: {}", r.detail);
                    InboundAnswer {
                        message_id: r.message_id,
                        outcome: "refused",
                        problems: problem(
                            "signature",
                            &r.reason,
                            format!("报文未通过验证：{}", r.detail),
                            r.detail.clone(),
                        ),
                        reason: Some(r.reason),
                    }
                }
                Ok(v) if Some(&v.envelope().sender) != me.as_ref() => {
                    let sender = v.envelope().sender.to_string();
                    // Not recorded: the message may be genuine, and its sender's own delivery
                    // must still apply it.
                    InboundAnswer {
                        message_id: Some(v.id().to_string()),
                        outcome: "refused",
                        reason: Some("sender_not_signed_in".into()),
                        problems: problem(
                            "sender",
                            "sender_not_signed_in",
                            format!("报文发送方 {sender} 不是当前登录的机构"),
                            format!("the message's sender {sender} is not the signed-in agency"),
                        ),
                    }
                }
                Ok(v) => {
                    let id = v.id().to_string();
                    match self.apply_as(by, &v) {
                        InboundResult::Retry(why) => {
                            tracing::warn!(message_id = %id, "agency message not applied, store unavailable: {why}");
                            return Err(AppError::Unavailable);
                        }
                        r => answer_of(id, r),
                    }
                }
            };
            out.push(answer);
        }
        Ok(out)
    }

    /// A verified message from the bus: applied as the user of its sender; a sender without
    /// one is refused (recorded).
    pub fn apply_verified(&self, v: &Verified) -> InboundResult {
        let sender = &v.envelope().sender;
        match self.sender_principal(sender) {
            Err(e) => InboundResult::Retry(e.to_string()),
            Ok(Some(p)) => self.apply_as(&p, v),
            Ok(None) => {
                let problems = problem(
                    "sender",
                    "unknown_sender",
                    format!("海关没有机构 {sender} 的用户"),
                    format!("customs has no user of the agency {sender}"),
                );
                self.refuse(v, "unknown_sender", problems)
            }
        }
    }

    /// The agency user a sender acts as: the first enabled account among
    /// [`sender_logins`] whose [`sender_code`] is the sender.
    pub fn sender_principal(&self, sender: &Agency) -> Result<Option<Principal>, AppError> {
        for login in sender_logins(sender) {
            let Some(account) = self.core.store.account_by_login(&login)? else {
                continue;
            };
            if account.disabled {
                continue;
            }
            if let Some(p) = Principal::from_account(&account) {
                if sender_code(&p).as_ref() == Some(sender) {
                    return Ok(Some(p));
                }
            }
        }
        Ok(None)
    }

    /// The inbound log, newest first, for operators (an administrator).
    pub fn inbound_log(
        &self,
        by: &Principal,
        refused_only: bool,
        limit: Option<u32>,
    ) -> Result<Vec<InboundView>, AppError> {
        self.core
            .authorize(by, (Operation::VerifyAudit, Resource::System))?;
        let limit = limit.unwrap_or(100);
        if !(1..=store::inbound::INBOUND_READ_MAX as u32).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                "bad_limit",
                format!("每页条数须为 1 至 {}", store::inbound::INBOUND_READ_MAX),
                format!("limit must be 1..={}", store::inbound::INBOUND_READ_MAX),
            ));
        }
        let log = self
            .core
            .store
            .inbound_log()
            .ok_or_else(|| AppError::NotFound("this store keeps no inbound log".into()))?;
        Ok(log
            .inbound_rows(refused_only, limit as usize)?
            .into_iter()
            .map(InboundView::from)
            .collect())
    }

    fn tag(&self, v: &Verified) -> InboundTag {
        let e = v.envelope();
        InboundTag {
            message_id: e.id.to_string(),
            sender: e.sender.to_string(),
            kind: e.kind.to_string(),
            created_at: e.created_at,
            received_at: self.core.now(),
        }
    }

    /// Record a refusal of the message itself; a duplicate when its id was recorded meanwhile.
    fn refuse(&self, v: &Verified, reason: &str, problems: Vec<FieldProblem>) -> InboundResult {
        let Some(log) = self.core.store.inbound_log() else {
            return InboundResult::Retry("this store keeps no inbound log".into());
        };
        let text = serde_json::to_string(&problems).expect("problems serialise");
        match log.record_inbound_refused(InboundRefusal {
            tag: self.tag(v),
            problems: text,
        }) {
            Ok(true) => {
                tracing::warn!(message_id = %v.id(), reason, "agency message refused");
                InboundResult::Refused {
                    reason: reason.to_owned(),
                    problems,
                }
            }
            Ok(false) => InboundResult::Duplicate,
            Err(e) => InboundResult::Retry(e.to_string()),
        }
    }

    /// Apply a verified message as `by`, once.
    fn apply_as(&self, by: &Principal, v: &Verified) -> InboundResult {
        let Some(log) = self.core.store.inbound_log() else {
            return InboundResult::Retry("this store keeps no inbound log".into());
        };
        match log.inbound(&v.id().to_string()) {
            Err(e) => return InboundResult::Retry(e.to_string()),
            Ok(Some(_)) => return InboundResult::Duplicate,
            Ok(None) => {}
        }
        let payload = match v.envelope().payload() {
            Ok(p) => p,
            Err(e) => {
                let problems = problem(
                    "payload",
                    "bad_payload",
                    format!("报文内容无法读取：{e}"),
                    e.to_string(),
                );
                return self.refuse(v, "bad_payload", problems);
            }
        };
        let run = || -> Result<(), AppError> {
            match payload {
                Payload::LicenceIssuedV1(p) => self.issue_licence(by, p),
                Payload::RegistryUpdatedV1(p) => self.put_registry(by, p),
                Payload::BankRecordV1(p) => self.record_bank_record(by, p),
                Payload::LicenceWithdrawnV1(p) => self.withdraw_licence(by, p),
                Payload::RefundPaidV1(p) => self.pay_refund(by, p),
                _ => {
                    let kind = v.envelope().kind.to_string();
                    Err(AppError::invalid(
                        "kind",
                        "unsupported_kind",
                        format!("海关不接收 {kind} 报文"),
                        format!("customs does not apply {kind} messages"),
                    ))
                }
            }
        };
        let (result, written) = store::inbound::carrying(self.tag(v), run);
        match result {
            Ok(()) if written => InboundResult::Applied,
            Ok(()) => {
                // Each use case above writes once; one that wrote nothing recorded nothing.
                tracing::error!(message_id = %v.id(), "agency message applied without a write");
                InboundResult::Applied
            }
            Err(e) => {
                // The message's id may have been recorded meanwhile (a racing delivery): then
                // this write failed on it and it is a duplicate.
                match log.inbound(&v.id().to_string()) {
                    Ok(Some(_)) => return InboundResult::Duplicate,
                    Ok(None) => {}
                    Err(e) => return InboundResult::Retry(e.to_string()),
                }
                match e {
                    AppError::Unavailable | AppError::Internal(_) => {
                        InboundResult::Retry(e.to_string())
                    }
                    other => {
                        let problems = problems_of(&other);
                        self.refuse(v, other.code(), problems)
                    }
                }
            }
        }
    }

    fn issue_licence(&self, by: &Principal, p: LicenceIssuedV1) -> Result<(), AppError> {
        let kind =
            serde_json::from_value(serde_json::Value::String(p.kind.clone())).map_err(|_| {
                AppError::invalid(
                    "kind",
                    "bad_kind",
                    format!("许可证种类无效：{}", p.kind),
                    format!(
                        "licence kind must be import, export or tariff_quota: {}",
                        p.kind
                    ),
                )
            })?;
        let req = LicenceRequest {
            licence_no: p.licence_no,
            kind,
            holder: p.holder,
            commodity: p.commodity,
            unit: p.unit,
            quantity: p.quantity,
            valid_from: p.valid_from,
            valid_to: p.valid_to,
        };
        self.eport.issue_licence(by, req).map(|_| ())
    }

    fn put_registry(&self, by: &Principal, p: RegistryUpdatedV1) -> Result<(), AppError> {
        let status =
            serde_json::from_value(serde_json::Value::String(p.status.clone())).map_err(|_| {
                AppError::invalid(
                    "status",
                    "bad_status",
                    format!("登记状态无效：{}", p.status),
                    format!("status must be active or deregistered: {}", p.status),
                )
            })?;
        let req = RegistryRequest {
            name: p.name,
            status,
        };
        self.eport.put_registry(by, p.uscc, req).map(|_| ())
    }

    fn record_bank_record(&self, by: &Principal, p: BankRecordV1) -> Result<(), AppError> {
        let kind = eport::forex::FundsKind::parse(&p.kind).ok_or_else(|| {
            AppError::invalid(
                "kind",
                "bad_kind",
                format!("收付款种类无效：{}", p.kind),
                format!("kind must be receipt or payment: {}", p.kind),
            )
        })?;
        let req = BankRecordRequest {
            kind,
            uscc: p.uscc,
            amount: p.amount,
            currency: p.currency,
            value_date: p.value_date,
            bank_ref: p.bank_ref,
            declaration_no: p.declaration_no,
        };
        self.finance.record_bank_record(by, req).map(|_| ())
    }
}

impl InboundService<'_> {
    fn withdraw_licence(&self, by: &Principal, p: LicenceWithdrawnV1) -> Result<(), AppError> {
        let req = WithdrawalRequest {
            reason: p.reason,
            withdrawn_at: Some(p.withdrawn_at),
        };
        self.eport
            .withdraw_licence(by, &p.licence_no, req)
            .map(|_| ())
    }

    fn pay_refund(&self, by: &Principal, p: RefundPaidV1) -> Result<(), AppError> {
        let req = RefundPaidRequest {
            amount_fen: p.amount_fen,
            paid_on: p.paid_on,
            bank_reference: p.bank_reference,
        };
        self.finance
            .pay_refund(by, p.declaration_no, p.item_no, req)
            .map(|_| ())
    }
}

fn answer_of(id: String, r: InboundResult) -> InboundAnswer {
    let (outcome, reason, problems) = match r {
        InboundResult::Applied => ("applied", None, Vec::new()),
        InboundResult::Duplicate => ("duplicate", None, Vec::new()),
        InboundResult::Refused { reason, problems } => ("refused", Some(reason), problems),
        InboundResult::Retry(_) => ("retry", None, Vec::new()),
    };
    InboundAnswer {
        message_id: Some(id),
        outcome,
        reason,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency_user(login: &str, agency: &str) -> Principal {
        Principal::Agency {
            user_id: 1,
            login: login.into(),
            agency: agency.into(),
        }
    }

    #[test]
    fn senders_are_the_agencies_codes_and_each_bank_its_own() {
        let code = |p: &Principal| sender_code(p).map(|a| a.to_string());
        assert_eq!(
            code(&agency_user("mofcom", "commerce")).as_deref(),
            Some("COMMERCE")
        );
        assert_eq!(
            code(&agency_user("samr", "market_regulation")).as_deref(),
            Some("SAMR")
        );
        assert_eq!(
            code(&agency_user("bank-boc", "bank")).as_deref(),
            Some("BANK_BOC")
        );
        assert_eq!(
            code(&agency_user("bank-icbc", "bank")).as_deref(),
            Some("BANK_ICBC")
        );
        assert_eq!(
            code(&Principal::Admin {
                user_id: 1,
                login: "admin".into()
            }),
            None
        );
    }

    #[test]
    fn a_sender_is_looked_up_by_its_agency_names_then_its_code() {
        let logins = |s: &str| sender_logins(&Agency::parse(s).unwrap());
        assert_eq!(logins("COMMERCE"), ["commerce", "mofcom"]);
        assert_eq!(logins("SAMR"), ["market_regulation", "samr"]);
        assert_eq!(logins("BANK_BOC"), ["bank_boc", "bank-boc"]);
        assert_eq!(logins("CUSTOMS"), ["customs"]);
    }
}
