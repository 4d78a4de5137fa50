//! `licence_written_off.v1` to the commerce agency (docs/EXCHANGE.md): the outbox row of a
//! licence use written off, built inside the write-off's transaction, because only there is
//! the quantity left on the licence exact (two releases against one licence settle one after
//! the other in the writer). Both backends call [`licence_written_off`] from their `settle`
//! and write the row with the step's other rows.
//!
//! The payload is the exchange crate's `LicenceWrittenOffV1` field for field, in the same
//! order with the same types (this crate does not depend on `exchange`; the server's tests
//! decode the row with `exchange::Payload::decode`).

use chrono::{DateTime, Utc};
use domain::codes::{DeclarationNo, HsCode, UnitCode, Uscc};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::outbox::OutboxMessage;

/// The message kind.
pub const KIND: &str = "licence_written_off.v1";
/// Its recipient: the agency that issues licences and keeps their balance in mind.
pub const TO: &str = "COMMERCE";

/// The recipient of a write-off from `licence`: the commerce agency, except for a tariff-quota
/// certificate issued by another agency (the development-and-reform commission's grain and
/// cotton certificates go to `NDRC`), which hears of its own certificates.
pub fn recipient(licence: &eport::Licence) -> String {
    let issuer = licence.issued_by.as_str();
    let commerce = ["commerce", "mofcom"]
        .iter()
        .any(|n| issuer.eq_ignore_ascii_case(n));
    if licence.kind == eport::LicenceKind::TariffQuota && !commerce {
        issuer.to_ascii_uppercase()
    } else {
        TO.to_owned()
    }
}

#[derive(Serialize)]
struct LicenceWrittenOffV1 {
    licence_no: String,
    holder: Uscc,
    declaration_no: DeclarationNo,
    hs_code: HsCode,
    quantity: Decimal,
    unit: UnitCode,
    quantity_left: Decimal,
    written_off_at: DateTime<Utc>,
}

/// The row of a write-off of `quantity` from `licence` by the declaration `declaration_no`
/// (whose filed body is `body_json`), leaving `written_off` in all written off. The commodity
/// is the first item of the declaration the licence covers. `None` when the declaration has no
/// number or no item under the licence (it could not have reserved a use), or the licence's
/// unit is not a unit code.
pub fn licence_written_off(
    licence: &eport::Licence,
    declaration_no: Option<DeclarationNo>,
    body_json: &str,
    quantity: Decimal,
    written_off: Decimal,
    at: DateTime<Utc>,
) -> Option<OutboxMessage> {
    let body: serde_json::Value = serde_json::from_str(body_json).ok()?;
    let hs_code = body
        .get("items")?
        .as_array()?
        .iter()
        .filter_map(|i| i.get("commodity_code")?.as_str())
        .filter_map(|c| HsCode::parse(c).ok())
        .find(|c| licence.covers(c))?;
    let at = DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at);
    let payload = LicenceWrittenOffV1 {
        licence_no: licence.licence_no.clone(),
        holder: licence.holder,
        declaration_no: declaration_no?,
        hs_code,
        quantity,
        unit: UnitCode::parse(&licence.unit).ok()?,
        quantity_left: licence.quantity - written_off,
        written_off_at: at,
    };
    Some(OutboxMessage {
        kind: KIND.to_owned(),
        recipients: vec![recipient(licence)],
        created_at: at,
        payload: serde_json::to_vec(&payload).ok()?,
    })
}
