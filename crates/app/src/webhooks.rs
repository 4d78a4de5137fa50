//! Webhook subscriptions (issue 18 item 4): an enterprise, or a broker, has the notifications
//! of the declarations it may see pushed to its own system ([`store::webhooks`] keeps them;
//! the delivery itself is `server::webhooks`, since `app` does no IO).
//!
//! Who may do what: a subscription belongs to the enterprise (its USCC), not to the user who
//! made it. Every user of the enterprise reads its subscriptions and their delivery log
//! (`Operation::View` on `Resource::Enterprise` of its own); its administrator creates,
//! deletes, replays and enables them (`Operation::ManageEnterprise`). Anyone else, another
//! enterprise or an officer, is told a subscription does not exist (404); users who are not
//! of an enterprise cannot list or create any (403).
//!
//! What is delivered: exactly the notifications of the inbox (`app::notifications`) for the
//! enterprise — every event of the declarations it may see, whoever took the step — in the
//! same order, read after the subscription's cursor ([`WebhookService::principal_of`]).
//!
//! The URL is checked here with messages in both languages (scheme, host, port, no user
//! information, no fragment, length); a literal address that is not public is refused unless
//! the operator allows private addresses (the name of a host is checked again where it is
//! resolved, by the worker: docs/SECURITY.md "Webhooks").

use std::collections::BTreeSet;

use store::activity::RecordRange;
use store::webhooks::{
    is_local_name, is_private, parse_url, secret_of, NewWebhook, Position, StoredDelivery,
    StoredWebhook, UrlProblem, WebhookFormat, WebhookStore, WebhookWrite, DELIVERIES_MAX, URL_MAX,
    WEBHOOKS_PER_OWNER,
};

use crate::access::{Duty, Operation, Principal, Resource};
use crate::error::{AppError, FieldProblem};
use crate::kernel::Core;

/// The event kinds one may subscribe to: the events of a declaration, and a document attached.
pub const EVENT_KINDS: &[&str] = &[
    "submitted",
    "withdrawn",
    "rejected",
    "accepted",
    "lane_chosen",
    "inspection_ordered",
    "document_review_recorded",
    "inspection_recorded",
    "assessed",
    "notice_paid",
    "payment_initiated",
    "released_against_guarantee",
    "released",
    "exit_confirmed",
    "closed",
    "amendment_requested",
    "cancellation_requested",
    "request_approved",
    "request_refused",
    "suspended",
    "unsuspended",
    "versioned",
    "refund_requested",
    "refund_decided",
    "attachment_added",
];

/// A subscription asked for (the body of `POST /api/webhooks`; every field optional on the
/// wire so that every problem is listed at once).
#[derive(Clone, Debug, Default)]
pub struct WebhookRequest {
    pub url: Option<String>,
    /// Event kinds; absent or empty: every kind.
    pub events: Option<Vec<String>>,
    /// `json` (the default) or `xml`.
    pub format: Option<String>,
}

/// A subscription just made, with its secret (shown this once).
#[derive(Clone, Debug)]
pub struct CreatedWebhook {
    pub webhook: StoredWebhook,
    pub secret: String,
}

/// Webhook subscriptions of enterprises.
pub struct WebhookService<'a> {
    pub(crate) core: &'a Core,
}

fn store(core: &Core) -> Result<&dyn WebhookStore, AppError> {
    core.store
        .webhook_store()
        .ok_or_else(|| AppError::Internal("this store keeps no webhooks".into()))
}

fn not_found() -> AppError {
    AppError::NotFound("webhook".into())
}

/// The problems of a URL, in both languages.
pub fn url_problems(url: &str, allow_private: bool) -> Vec<FieldProblem> {
    let p = |code: &str, zh: String, en: String| vec![FieldProblem::new("url", code, zh, en)];
    let parsed = match parse_url(url.trim()) {
        Ok(u) => u,
        Err(why) => {
            return match why {
                UrlProblem::TooLong => p(
                    "too_long",
                    format!("网址至多 {URL_MAX} 个字节"),
                    format!("a URL is at most {URL_MAX} bytes"),
                ),
                UrlProblem::Scheme => p(
                    "bad_scheme",
                    "网址须以 http:// 或 https:// 开头".into(),
                    "a webhook URL begins with http:// or https://".into(),
                ),
                UrlProblem::Credentials => p(
                    "credentials_in_url",
                    "网址不得包含用户名或密码（以签名核验来源）".into(),
                    "a URL carries no user name or password (the signature proves the sender)"
                        .into(),
                ),
                UrlProblem::Host => p(
                    "bad_host",
                    "网址的主机名有误".into(),
                    "the URL's host is not a host name or an IP address".into(),
                ),
                UrlProblem::Port => p(
                    "bad_port",
                    "端口须为 1 至 65535".into(),
                    "the port must be 1 to 65535".into(),
                ),
                UrlProblem::Fragment => p(
                    "fragment",
                    "网址不得包含“#”片段".into(),
                    "a URL has no `#` fragment".into(),
                ),
                UrlProblem::Characters => p(
                    "bad_characters",
                    "网址须为不含空格的可打印 ASCII 字符（中文域名请用 punycode）".into(),
                    "a URL is printable ASCII without spaces (write international names in punycode)"
                        .into(),
                ),
            };
        }
    };
    let private = is_local_name(&parsed.host)
        || parsed
            .host
            .parse::<std::net::IpAddr>()
            .is_ok_and(is_private);
    if private && !allow_private {
        return p(
            "private_address",
            format!("不向内网或本机地址（{}）推送：须由运维人员开启 --webhook-allow-private", parsed.host),
            format!(
                "webhooks are not sent to private or local addresses ({}) unless the operator allows them (--webhook-allow-private)",
                parsed.host
            ),
        );
    }
    Vec::new()
}

impl WebhookService<'_> {
    /// The enterprise a principal acts for; 403 for users of no enterprise.
    fn owner(&self, p: &Principal, op: Operation) -> Result<String, AppError> {
        let Principal::Enterprise { uscc, .. } = p else {
            return Err(AppError::Forbidden(crate::access::Denied {
                code: "not_an_enterprise",
                message_en: "webhooks are subscribed by enterprises and brokers".into(),
                message_zh: "仅企业（含报关企业）可订阅推送".into(),
            }));
        };
        self.core
            .authorize(p, (op, Resource::Enterprise { uscc: *uscc }))?;
        Ok(uscc.to_string())
    }

    /// The subscription `id` if it is the principal's enterprise's (else 404), and what `op`
    /// requires of the principal's roles.
    fn owned(&self, p: &Principal, id: i64, op: Operation) -> Result<StoredWebhook, AppError> {
        let Principal::Enterprise { uscc, .. } = p else {
            return Err(not_found());
        };
        let w = store(self.core)?.webhook(id)?.ok_or_else(not_found)?;
        if w.owner != uscc.to_string() {
            return Err(not_found());
        }
        self.owner(p, op)?;
        Ok(w)
    }

    /// Subscribe: checked, a secret made, delivery starting after what is already recorded.
    pub fn create(
        &self,
        p: &Principal,
        req: WebhookRequest,
        allow_private: bool,
    ) -> Result<CreatedWebhook, AppError> {
        let owner = self.owner(p, Operation::ManageEnterprise)?;
        let mut problems = Vec::new();
        let url = match req.url.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push(FieldProblem::new(
                    "url",
                    "required",
                    "须填写推送网址",
                    "the URL to deliver to is required",
                ));
                String::new()
            }
            Some(u) => {
                problems.extend(url_problems(u, allow_private));
                u.to_owned()
            }
        };
        let mut events = BTreeSet::new();
        for (i, e) in req.events.unwrap_or_default().iter().enumerate() {
            if EVENT_KINDS.contains(&e.as_str()) {
                events.insert(e.clone());
            } else {
                problems.push(FieldProblem::new(
                    format!("events[{i}]"),
                    "unknown_event",
                    format!("未知的事件类型“{e}”"),
                    format!("unknown event kind `{e}`"),
                ));
            }
        }
        let format = match req.format.as_deref() {
            None => WebhookFormat::Json,
            Some(f) => match WebhookFormat::parse(f) {
                Some(f) => f,
                None => {
                    problems.push(FieldProblem::new(
                        "format",
                        "unknown_format",
                        format!("格式须为 json 或 xml（DEC_RESULT 回执），而不是“{f}”"),
                        format!("format is json or xml (DEC_RESULT receipts), not `{f}`"),
                    ));
                    WebhookFormat::Json
                }
            },
        };
        let hooks = store(self.core)?;
        if hooks.webhooks_of(&owner)?.len() >= WEBHOOKS_PER_OWNER {
            problems.push(FieldProblem::new(
                "url",
                "too_many_webhooks",
                format!("每家企业至多 {WEBHOOKS_PER_OWNER} 个推送订阅"),
                format!("at most {WEBHOOKS_PER_OWNER} webhooks per enterprise"),
            ));
        }
        if !problems.is_empty() {
            return Err(AppError::Invalid(problems));
        }
        let mut random = [0u8; 24];
        getrandom::fill(&mut random)
            .map_err(|e| AppError::Internal(format!("no randomness from the system: {e}")))?;
        let secret = secret_of(&random);
        let head = self
            .core
            .store
            .declaration_records(RecordRange::Before(i64::MAX), 1)?
            .head;
        let id = hooks.write_webhook(WebhookWrite::Create {
            webhook: NewWebhook {
                owner,
                url,
                events: events.into_iter().collect(),
                format,
                secret: secret.clone(),
                start: Position {
                    record: head + 1,
                    item: 0,
                },
            },
            actor: actor_of(p),
            now: self.core.now(),
        })?;
        let webhook = hooks.webhook(id)?.ok_or_else(not_found)?;
        Ok(CreatedWebhook { webhook, secret })
    }

    /// The enterprise's subscriptions, oldest first.
    pub fn list(&self, p: &Principal) -> Result<Vec<StoredWebhook>, AppError> {
        let owner = self.owner(p, Operation::View)?;
        Ok(store(self.core)?.webhooks_of(&owner)?)
    }

    pub fn get(&self, p: &Principal, id: i64) -> Result<StoredWebhook, AppError> {
        self.owned(p, id, Operation::View)
    }

    pub fn delete(&self, p: &Principal, id: i64) -> Result<(), AppError> {
        let w = self.owned(p, id, Operation::ManageEnterprise)?;
        let n = store(self.core)?.write_webhook(WebhookWrite::Delete {
            id,
            owner: w.owner,
            actor: actor_of(p),
            now: self.core.now(),
        })?;
        if n == 0 {
            return Err(not_found());
        }
        Ok(())
    }

    /// Deliver again from the audit record `from` on (the `seq` of a delivered event): the
    /// cursor moves back; deliveries in flight cannot move it forward past that point.
    pub fn replay(&self, p: &Principal, id: i64, from: i64) -> Result<StoredWebhook, AppError> {
        let w = self.owned(p, id, Operation::ManageEnterprise)?;
        if from < 1 || from > w.cursor.record {
            return Err(AppError::invalid(
                "from",
                "out_of_range",
                format!("“from”须为 1 至 {} 的记录序号（只能回退）", w.cursor.record),
                format!(
                    "`from` is a record number from 1 to {} (a replay only goes back)",
                    w.cursor.record
                ),
            ));
        }
        let hooks = store(self.core)?;
        hooks.write_webhook(WebhookWrite::Replay {
            id,
            owner: w.owner,
            to: Position {
                record: from,
                item: 0,
            },
            actor: actor_of(p),
            now: self.core.now(),
        })?;
        hooks.webhook(id)?.ok_or_else(not_found)
    }

    /// Active again after it was disabled for failing too long.
    pub fn enable(&self, p: &Principal, id: i64) -> Result<StoredWebhook, AppError> {
        let w = self.owned(p, id, Operation::ManageEnterprise)?;
        let hooks = store(self.core)?;
        hooks.write_webhook(WebhookWrite::Enable {
            id,
            owner: w.owner,
            actor: actor_of(p),
            now: self.core.now(),
        })?;
        hooks.webhook(id)?.ok_or_else(not_found)
    }

    /// The delivery log, newest first: attempts with ids below `before`, at most `limit`.
    pub fn deliveries(
        &self,
        p: &Principal,
        id: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<StoredDelivery>, AppError> {
        self.owned(p, id, Operation::View)?;
        if limit == 0 || limit > DELIVERIES_MAX {
            return Err(AppError::invalid(
                "limit",
                "out_of_range",
                format!("“limit”须为 1 至 {DELIVERIES_MAX} 的整数"),
                format!("`limit` must be a whole number from 1 to {DELIVERIES_MAX}"),
            ));
        }
        Ok(store(self.core)?.webhook_deliveries(id, before, limit)?)
    }

    /// Who the worker reads the notifications of a subscription as: its enterprise, as a
    /// viewer, under a login no user has (so that no step is left out as "one's own").
    pub fn principal_of(w: &StoredWebhook) -> Option<Principal> {
        let uscc = domain::codes::Uscc::parse(&w.owner).ok()?;
        Some(Principal::Enterprise {
            user_id: 0,
            login: format!("webhook:{}", w.id),
            uscc,
            roles: [Duty::Viewer].into_iter().collect(),
        })
    }
}

/// The audit actor of an enterprise user's change.
fn actor_of(p: &Principal) -> clearance::Actor {
    match p {
        Principal::Enterprise { uscc, .. } => clearance::Actor::Enterprise { uscc: *uscc },
        other => clearance::Actor::System {
            component: format!("user:{}", other.login()),
        },
    }
}
