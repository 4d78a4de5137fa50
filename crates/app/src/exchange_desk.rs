//! The E-Port exchange in the service (docs/EXCHANGE.md): which messages a change sends, the
//! store's outbox as an [`exchange::Outbox`], and the HTTP feed's use case.
//!
//! - On release, `declaration_released.v1` to FOREX (and COMMERCE when the declaration names
//!   a licence); when an export is closed (its exit confirmed by a departed manifest),
//!   `export_closed.v1` to FOREX and TAX. The rows are written by the store in the transaction
//!   of the events ([`store::outbox::OutboxStore`]); a store without an outbox writes the
//!   events alone. `licence_written_off.v1` to COMMERCE is written by the store itself, in the
//!   write-off's transaction (`store::licence_message`: the quantity left is exact only there).
//! - [`StoreOutbox`] adapts the store's outbox to [`exchange::Outbox`] for the relay and the
//!   feed. Rows are signed when they leave, with the customs key ([`ExchangeDesk`]).
//! - [`ExchangeService::exchange_feed`]: an agency user reads the messages addressed to its own
//!   agency after a cursor; asking with a cursor acknowledges everything up to it.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use clearance::{EventKind, Status};
use domain::codes::Direction;
use domain::codes::TransactionTerms;
use domain::declaration::Declaration;
use domain::money::Fen;
use exchange::feed::FEED_PAGE_MAX;
use exchange::message::{ExportItemV1, ReleasedItemV1};
use exchange::outbox::{OutboxCounts, OutboxError, OutboxRecord};
use exchange::{
    encode_payload, Agency, DeclarationReleasedV1, Envelope, ExportClosedV1, FeedCursor,
    FeedReader, Kind, Outbox, SigningKey,
};
use rust_decimal::{Decimal, RoundingStrategy};
use store::outbox::{OutboxMessage, OutboxRow};
use store::{Store, StoreError, StoredDeclaration};

use crate::access::{Operation, Principal, Resource};
use crate::error::AppError;
use crate::kernel::Core;

/// The sender of every message of this service.
pub const CUSTOMS: &str = "CUSTOMS";

/// The exchange as the service sees it: the customs signing key and the store's outbox.
pub struct ExchangeDesk {
    key: Arc<SigningKey>,
    outbox: Arc<StoreOutbox>,
}

impl ExchangeDesk {
    /// `key` signs every message that leaves (its agency should be `CUSTOMS`).
    pub fn new(store: Arc<dyn Store>, key: Arc<SigningKey>) -> ExchangeDesk {
        ExchangeDesk {
            key,
            outbox: Arc::new(StoreOutbox { store }),
        }
    }

    pub fn key(&self) -> &Arc<SigningKey> {
        &self.key
    }

    /// The store's outbox for the relay (`exchange_bus::Relay`).
    pub fn outbox(&self) -> Arc<dyn Outbox> {
        self.outbox.clone()
    }
}

/// [`store::outbox::OutboxStore`] as an [`exchange::Outbox`].
pub struct StoreOutbox {
    store: Arc<dyn Store>,
}

impl StoreOutbox {
    pub fn new(store: Arc<dyn Store>) -> StoreOutbox {
        StoreOutbox { store }
    }

    fn inner(&self) -> Result<&dyn store::outbox::OutboxStore, OutboxError> {
        self.store
            .outbox_store()
            .ok_or_else(|| OutboxError::Storage("this store has no outbox".into()))
    }
}

fn storage(e: StoreError) -> OutboxError {
    OutboxError::Storage(e.to_string())
}

fn record(row: OutboxRow) -> Result<OutboxRecord, OutboxError> {
    Ok(OutboxRecord {
        seq: row.seq,
        kind: Kind::parse(&row.message.kind)?,
        recipients: row
            .message
            .recipients
            .iter()
            .map(|a| Agency::parse(a))
            .collect::<Result<_, _>>()?,
        created_at: row.message.created_at,
        payload: row.message.payload,
    })
}

impl Outbox for StoreOutbox {
    fn fetch_unpublished(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError> {
        self.inner()?
            .fetch_unpublished(after, limit)
            .map_err(storage)?
            .into_iter()
            .map(record)
            .collect()
    }

    fn mark_published(&self, seqs: &[u64], at: DateTime<Utc>) -> Result<(), OutboxError> {
        self.inner()?.mark_published(seqs, at).map_err(storage)
    }

    fn read_for(
        &self,
        recipient: &Agency,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRecord>, OutboxError> {
        self.inner()?
            .read_for(recipient.as_str(), after, limit)
            .map_err(storage)?
            .into_iter()
            .map(record)
            .collect()
    }

    fn counts(&self) -> Result<BTreeMap<Agency, OutboxCounts>, OutboxError> {
        let mut out = BTreeMap::new();
        for (agency, c) in self.inner()?.counts().map_err(storage)? {
            out.insert(
                Agency::parse(&agency)?,
                OutboxCounts {
                    total: c.total,
                    unpublished: c.unpublished,
                    oldest_unpublished_at: c.oldest_unpublished_at,
                },
            );
        }
        Ok(out)
    }
}

/// One page of an agency's feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedView {
    pub messages: Vec<Envelope>,
    pub next: FeedCursor,
}

impl FeedView {
    /// `{"messages":[ENVELOPE…],"next":"s42"}`, each envelope in its wire form, byte for byte.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\"messages\":[");
        for (i, e) in self.messages.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&String::from_utf8(e.to_wire()).expect("the wire form is UTF-8"));
        }
        out.push_str("],\"next\":");
        out.push_str(&serde_json::to_string(&self.next.to_string()).expect("string"));
        out.push('}');
        out
    }
}

/// A page of the feed, signed.
fn read_page(
    desk: &ExchangeDesk,
    agency: &Agency,
    after: FeedCursor,
    limit: u32,
) -> Result<FeedView, AppError> {
    let page = FeedReader::new(desk.outbox(), desk.key.clone())
        .read(agency, after, limit)
        .map_err(|e| AppError::Internal(format!("exchange feed: {e}")))?;
    Ok(FeedView {
        messages: page.messages,
        next: page.next,
    })
}

/// The exchange code of an agency user's agency, whichever name the user goes by (`commerce`
/// or `mofcom` → `COMMERCE`, `market_regulation` or `samr` → `SAMR`, `tax`/`sat` → `TAX`,
/// `forex`/`safe` → `FOREX`); another agency's name in capitals.
pub fn agency_code(name: &str) -> Option<Agency> {
    use crate::access::{COMMERCE, FOREX, MARKET_REGULATION, TAX};
    let known = [
        (COMMERCE, "COMMERCE"),
        (MARKET_REGULATION, "SAMR"),
        (TAX, "TAX"),
        (FOREX, "FOREX"),
    ];
    let code = known
        .iter()
        .find(|(names, _)| names.iter().any(|n| name.eq_ignore_ascii_case(n)))
        .map_or_else(|| name.to_ascii_uppercase(), |(_, code)| (*code).to_owned());
    Agency::parse(&code).ok()
}

/// The E-Port exchange as a service: the feed of an agency, and exchange's contribution to a
/// step's write (the outbox rows a change sends).
#[derive(Clone, Copy)]
pub struct ExchangeService<'a> {
    pub(crate) core: &'a Core,
    /// The signing key the feed signs with; `None`: no feed (outbox rows are written whenever
    /// the store keeps an outbox).
    pub(crate) desk: Option<&'a ExchangeDesk>,
}

impl<'a> ExchangeService<'a> {
    /// The messages addressed to the principal's agency after `after` (`s42`; `None`: from the
    /// beginning), at most `limit` (default 100). Asking with a cursor acknowledges every
    /// message up to it (the agency applied what it read), which `exchange status` shows as
    /// delivered.
    pub fn exchange_feed(
        &self,
        principal: &Principal,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<FeedView, AppError> {
        let (desk, agency, limit) = self.feed_reader(principal, limit)?;
        let after = match after {
            None => FeedCursor(0),
            Some(s) => FeedCursor::parse(s).map_err(|e| {
                AppError::invalid(
                    "after",
                    "bad_cursor",
                    format!("游标无效：{e}"),
                    e.to_string(),
                )
            })?,
        };
        if after.0 > 0 {
            if let Some(o) = self.core.store.outbox_store() {
                o.ack_feed(agency.as_str(), after.0, self.core.now())?;
            }
        }
        read_page(desk, &agency, after, limit)
    }

    /// The `limit` (default 100) newest messages addressed to the principal's agency, oldest
    /// first, signed as on the feed; reading them acknowledges nothing (the agency desk's
    /// "messages received").
    pub fn exchange_recent(
        &self,
        principal: &Principal,
        limit: Option<u32>,
    ) -> Result<FeedView, AppError> {
        let (desk, agency, limit) = self.feed_reader(principal, limit)?;
        let after = match self.core.store.outbox_store() {
            Some(o) => o.recent_cursor(agency.as_str(), limit as usize)?,
            None => 0,
        };
        read_page(desk, &agency, FeedCursor(after), limit)
    }

    /// Who may read, the desk, the agency's exchange code and the page size, checked.
    fn feed_reader(
        &self,
        principal: &Principal,
        limit: Option<u32>,
    ) -> Result<(&'a ExchangeDesk, Agency, u32), AppError> {
        let allowed = self.core.authorize(
            principal,
            (Operation::ReadExchangeFeed, Resource::ExchangeFeed),
        )?;
        // The matrix lets only agencies read a feed; anyone else is a typed refusal, not a panic.
        let agency = allowed.agency()?;
        let Some(desk) = self.desk else {
            return Err(AppError::NotFound("exchange feed".into()));
        };
        let agency = agency_code(agency).ok_or_else(|| {
            AppError::invalid(
                "agency",
                "unknown_agency",
                format!("机构代码无效：{agency}"),
                format!("not an exchange agency code: {agency}"),
            )
        })?;
        let limit = limit.unwrap_or(100);
        if !(1..=FEED_PAGE_MAX).contains(&limit) {
            return Err(AppError::invalid(
                "limit",
                "bad_limit",
                format!("每页条数须为 1 至 {FEED_PAGE_MAX}"),
                format!("limit must be 1..={FEED_PAGE_MAX}"),
            ));
        }
        Ok((desk, agency, limit))
    }

    /// The outbox messages a step sends: on release and on closing an export. Empty when the
    /// store keeps no outbox.
    pub(crate) fn outbox_messages(
        &self,
        d: &StoredDeclaration,
        events: &[clearance::Event],
    ) -> Vec<OutboxMessage> {
        if self.core.store.outbox_store().is_none() {
            return Vec::new();
        }
        // A release against a guarantee is a release too (issue 14 review, gap 6b).
        let released = events.iter().find(|e| {
            matches!(
                e.kind,
                EventKind::Released | EventKind::ReleasedAgainstGuarantee { .. }
            )
        });
        let after = events.iter().fold(d.state.clone(), clearance::apply).status;
        let closed = (d.state.status != Status::Closed && after == Status::Closed)
            .then(|| events.last())
            .flatten();
        // Duties and taxes paid through a bank: to the tax agency.
        let mut out = Vec::new();
        for (payload, at) in duty_paid(d, events) {
            push(&mut out, &payload, &["TAX"], at);
        }
        if released.is_none() && closed.is_none() {
            return out;
        }
        let (Some(no), Some(header)) = (d.state.declaration_no, d.state.header.as_ref()) else {
            return out;
        };
        let decl: Declaration = match serde_json::from_str(&d.body_json) {
            Ok(decl) => decl,
            Err(e) => {
                tracing::warn!(declaration = %no, "exchange: body unreadable, nothing sent: {e}");
                return out;
            }
        };
        if let Some(e) = released {
            let payload = DeclarationReleasedV1 {
                declaration_no: no,
                declarant: header.declarant,
                released_at: exchange::message::to_millis(e.at),
                items: decl
                    .items
                    .iter()
                    .map(|i| ReleasedItemV1 {
                        item_no: u32::from(i.item_no),
                        hs_code: i.commodity_code,
                        quantity: i.declared_quantity,
                        unit: i.declared_unit,
                        licence_no: decl.licence_no.clone(),
                    })
                    .collect(),
            };
            let mut to = vec!["FOREX"];
            if decl.licence_no.is_some() {
                to.insert(0, "COMMERCE");
            }
            push(&mut out, &payload, &to, e.at);
        }
        if let Some(e) = closed.filter(|_| header.direction == Direction::Export) {
            match self.export_closed(&decl, no, header.declarant, e.at) {
                Some(payload) => push(&mut out, &payload, &["FOREX", "TAX"], e.at),
                None => tracing::warn!(
                    declaration = %no,
                    "exchange: export closed but its FOB value is not exact (terms other than FOB, or no exchange rate); export_closed.v1 not sent"
                ),
            }
        }
        out
    }

    /// The `export_closed.v1` record of a closed export; also the customs record refund
    /// claims are matched against (`crate::finance`). `None` when the FOB values are not exact.
    pub(crate) fn export_closed(
        &self,
        decl: &Declaration,
        no: domain::codes::DeclarationNo,
        declarant: domain::codes::Uscc,
        at: DateTime<Utc>,
    ) -> Option<ExportClosedV1> {
        if decl.transaction_terms != TransactionTerms::Fob {
            return None;
        }
        let currency = decl.items.first()?.currency;
        let mut items = Vec::with_capacity(decl.items.len());
        for i in &decl.items {
            if i.currency != currency {
                return None;
            }
            let per_unit = if currency.as_str() == "CNY" {
                Decimal::ONE
            } else {
                // The rate of the date the customs rule picks, as the tax engine does.
                let (date, _) = tax::rates::rule_date(
                    decl.declaration_date,
                    &self.core.tax.calendar,
                    &self.core.tax.policy,
                );
                self.core.tax.rates.get(currency, date)?.per_unit()
            };
            let fen = (i.total_price * per_unit * Decimal::ONE_HUNDRED)
                .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
            items.push(ExportItemV1 {
                item_no: u32::from(i.item_no),
                hs_code: i.commodity_code,
                quantity: i.declared_quantity,
                unit: i.declared_unit,
                fob_value: i.total_price,
                fob_value_fen: Fen(i64::try_from(fen).ok()?),
            });
        }
        Some(ExportClosedV1 {
            declaration_no: no,
            declarant,
            closed_at: exchange::message::to_millis(at),
            currency,
            items,
        })
    }
}

/// The `duty_paid.v1` messages of a step's events: one per notice a bank's confirmation pays.
fn duty_paid(
    d: &StoredDeclaration,
    events: &[clearance::Event],
) -> Vec<(exchange::DutyPaidV1, DateTime<Utc>)> {
    let (Some(no), Some(header)) = (d.state.declaration_no, d.state.header.as_ref()) else {
        return Vec::new();
    };
    events
        .iter()
        .filter_map(|e| match &e.kind {
            clearance::EventKind::NoticePaid {
                notice_no,
                payment: Some(p),
            } => {
                let n = d
                    .state
                    .notices
                    .iter()
                    .find(|n| &n.notice.notice_no == notice_no)?;
                Some((
                    exchange::DutyPaidV1 {
                        declaration_no: no,
                        declarant: header.declarant,
                        notice_no: notice_no.clone(),
                        tax: n.notice.tax.as_str().to_owned(),
                        tax_fen: n.notice.amount_fen,
                        surcharge_fen: p.surcharge_fen,
                        paid_fen: p.paid_fen,
                        bank: p.bank.clone(),
                        bank_reference: p.reference.clone(),
                        paid_on: p.paid_on,
                        paid_at: exchange::message::to_millis(e.at),
                    },
                    e.at,
                ))
            }
            _ => None,
        })
        .collect()
}

pub(crate) fn push<T: exchange::MessageType>(
    out: &mut Vec<OutboxMessage>,
    payload: &T,
    to: &[&str],
    at: DateTime<Utc>,
) {
    match encode_payload(payload) {
        Ok((kind, bytes)) => out.push(OutboxMessage {
            kind: kind.to_string(),
            recipients: to.iter().map(|s| (*s).to_owned()).collect(),
            created_at: exchange::message::to_millis(at),
            payload: bytes,
        }),
        Err(e) => tracing::warn!("exchange: payload not encoded, nothing sent: {e}"),
    }
}

#[cfg(test)]
mod agency_code_tests {
    use super::agency_code;

    #[test]
    fn every_agency_name_has_an_exchange_code() {
        let code = |n: &str| agency_code(n).map(|a| a.as_str().to_owned());
        assert_eq!(code("market_regulation").as_deref(), Some("SAMR"));
        assert_eq!(code("samr").as_deref(), Some("SAMR"));
        assert_eq!(code("mofcom").as_deref(), Some("COMMERCE"));
        assert_eq!(code("Commerce").as_deref(), Some("COMMERCE"));
        assert_eq!(code("sat").as_deref(), Some("TAX"));
        assert_eq!(code("safe").as_deref(), Some("FOREX"));
        assert_eq!(code("transport").as_deref(), Some("TRANSPORT"));
        assert_eq!(code("a-very-long-agency-name"), None);
    }
}
