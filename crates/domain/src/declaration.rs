//! The goods declaration 报关单 (docs/DOMAIN.md §2), in two forms:
//!
//! - [`DeclarationForm`]: the JSON wire form, as lenient as possible (every field optional, codes
//!   as text, numbers as text or JSON numbers) so that one pass of [`crate::validate`] can report
//!   every problem with its field path. Field names are documented in `docs/declaration-json.md`.
//! - [`Declaration`]: the typed form that only validation builds; everything after the gate
//!   (tax, risk, storage) works on it.

use std::fmt;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize};

use crate::codes::{
    CountryCode, CurrencyCode, CustomsCode, Direction, DistrictCode, DomesticPort, DutyTreatment,
    HsCode, LevyNature, OfficeCode, PackageType, TradeMode, TransactionTerms, TransportMode,
    UnitCode, Uscc,
};

/// At most this many goods lines on one declaration.
pub const ITEMS_MAX: usize = 50;

// ---------------------------------------------------------------------------------------------
// Wire form

/// A number as text, from a JSON string (`"350.00"`, exact) or a JSON number (`350`, read as its
/// shortest decimal form). Validation turns it into a `Decimal`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct NumberText(String);

impl NumberText {
    /// Raw text that validation will read as a number (as deserialization builds it; tests and
    /// forms assembled in code use this too). Nothing is checked here: [`crate::validate`] is
    /// the only reader and reports a bad number as a problem.
    pub fn new(text: impl Into<String>) -> NumberText {
        NumberText(text.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn into_string(self) -> String {
        self.0
    }
}

impl<'de> Deserialize<'de> for NumberText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = NumberText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string holding a number")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NumberText, E> {
                Ok(NumberText(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NumberText, E> {
                Ok(NumberText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NumberText, E> {
                Ok(NumberText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<NumberText, E> {
                // Display of f64 is the shortest text that reads back as the same f64, which is
                // the literal the sender wrote for up to 15 significant digits.
                Ok(NumberText(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A domestic party: consignee/consignor, consuming/producing unit or declaring agent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyForm {
    pub name: Option<String>,
    /// Unified social credit code (18 characters).
    pub uscc: Option<String>,
    /// Customs enterprise code (10 characters).
    pub customs_code: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverseasPartyForm {
    /// AEO partner code such as `SG123456789012`, if any.
    pub code: Option<String>,
    /// `NO` when there is no overseas party.
    pub name: Option<String>,
    pub address: Option<String>,
}

/// Freight, insurance or other charges: mark `1` rate (percent), `2` per unit (freight only),
/// `3` total amount in `currency`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargeForm {
    pub mark: Option<String>,
    pub value: Option<NumberText>,
    pub currency: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentForm {
    /// Document kind 随附单证代码 (`1` import licence ...).
    pub code: Option<String>,
    pub number: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemForm {
    pub item_no: Option<NumberText>,
    pub record_item: Option<String>,
    pub commodity_code: Option<String>,
    pub name: Option<String>,
    /// Declaration elements joined by `|`.
    pub specification: Option<String>,
    pub declared_quantity: Option<NumberText>,
    pub declared_unit: Option<String>,
    pub first_quantity: Option<NumberText>,
    pub first_unit: Option<String>,
    pub second_quantity: Option<NumberText>,
    pub second_unit: Option<String>,
    pub unit_price: Option<NumberText>,
    pub total_price: Option<NumberText>,
    pub currency: Option<String>,
    pub origin_country: Option<String>,
    pub destination_country: Option<String>,
    /// Domestic destination (import) or source (export), 5 digits.
    pub district: Option<String>,
    pub duty_treatment: Option<String>,
    /// Manufacturer, when a trade remedy names producers.
    pub producer: Option<String>,
    /// The proof of origin an agreement or special preferential rate needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_proof: Option<OriginProofForm>,
    /// The tariff-quota certificate (关税配额证明) number, for the in-quota rate of goods under
    /// tariff quotas; without it the out-of-quota rate applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_certificate_no: Option<String>,
}

/// The proof of origin as filed (原产地证明): `{agreement, kind, number, direct_transport}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginProofForm {
    pub agreement: Option<String>,
    pub kind: Option<String>,
    pub number: Option<String>,
    pub direct_transport: Option<bool>,
}

/// What an origin proof is (优惠贸易协定项下原产地证明).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OriginProofKind {
    /// 原产地证书, issued by the exporting country's authority.
    Certificate,
    /// 原产地声明, made by an approved exporter or the exporter where the agreement allows it.
    Declaration,
}

/// The proof that lets an item claim an agreement (conventional) or special preferential rate:
/// the agreement it is for, the kind and number of the proof, and whether the goods came by
/// direct transport (直接运输), which the agreements' rules of origin require.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginProof {
    /// The agreement code as the tariff names it (`RCEP`, `ASEAN`, ...).
    pub agreement: String,
    pub kind: OriginProofKind,
    pub number: String,
    pub direct_transport: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeclarationForm {
    /// `import` or `export`.
    pub direction: Option<String>,
    pub declaration_office: Option<String>,
    pub entry_exit_office: Option<String>,
    pub record_no: Option<String>,
    pub contract_no: Option<String>,
    /// Date of import or export, `YYYY-MM-DD` (or `YYYYMMDD`).
    pub ie_date: Option<String>,
    pub declaration_date: Option<String>,
    /// Domestic consignee (import) or consignor (export).
    pub trader: Option<PartyForm>,
    pub overseas_party: Option<OverseasPartyForm>,
    /// Consuming/using unit (import) or producing/selling unit (export).
    pub owner: Option<PartyForm>,
    pub agent: Option<PartyForm>,
    pub transport_mode: Option<String>,
    pub vessel: Option<String>,
    pub voyage_no: Option<String>,
    pub bill_no: Option<String>,
    pub goods_place: Option<String>,
    pub trade_mode: Option<String>,
    pub levy_nature: Option<String>,
    pub licence_no: Option<String>,
    /// Import: port of loading abroad.
    pub loading_port: Option<String>,
    /// Export: port of destination abroad.
    pub destination_port: Option<String>,
    pub trading_country: Option<String>,
    /// Country of dispatch (import) or arrival (export).
    pub dispatch_country: Option<String>,
    pub domestic_port: Option<String>,
    pub package_type: Option<String>,
    pub packages: Option<NumberText>,
    pub gross_weight_kg: Option<NumberText>,
    pub net_weight_kg: Option<NumberText>,
    pub transaction_terms: Option<String>,
    pub freight: Option<ChargeForm>,
    pub insurance: Option<ChargeForm>,
    pub other_charges: Option<ChargeForm>,
    #[serde(default)]
    pub documents: Vec<DocumentForm>,
    pub marks: Option<String>,
    pub remarks: Option<String>,
    /// `0` paper, `L` paper with list, `D` paperless with list, `M` paperless.
    pub entry_type: Option<String>,
    /// Cross-border e-commerce retail imports (9610, 1210): the buyer (订购人).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<BuyerForm>,
    #[serde(default)]
    pub items: Vec<ItemForm>,
}

/// The buyer of a cross-border e-commerce retail import, as filed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuyerForm {
    /// `resident_id` (居民身份证) or `passport`.
    pub id_type: Option<String>,
    pub id_no: Option<String>,
    pub name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Typed form

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Party {
    pub name: String,
    pub uscc: Uscc,
    pub customs_code: Option<CustomsCode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverseasParty {
    pub code: Option<String>,
    pub name: String,
    pub address: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Charge {
    /// A percentage of the goods price (`1.5` means 1.5 %).
    Rate { percent: Decimal },
    /// Per unit of declared quantity (freight only).
    PerUnit {
        amount: Decimal,
        currency: CurrencyCode,
    },
    /// A total amount.
    Total {
        amount: Decimal,
        currency: CurrencyCode,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    pub code: String,
    pub number: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryType {
    #[serde(rename = "0")]
    Paper,
    #[serde(rename = "L")]
    PaperWithList,
    #[serde(rename = "D")]
    PaperlessWithList,
    #[serde(rename = "M")]
    Paperless,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub item_no: u16,
    pub record_item: Option<String>,
    pub commodity_code: HsCode,
    pub name: String,
    pub specification: String,
    pub declared_quantity: Decimal,
    pub declared_unit: UnitCode,
    pub first_quantity: Decimal,
    pub first_unit: UnitCode,
    pub second_quantity: Option<Decimal>,
    pub second_unit: Option<UnitCode>,
    /// Up to 4 decimal places.
    pub unit_price: Decimal,
    /// Up to 2 decimal places.
    pub total_price: Decimal,
    pub currency: CurrencyCode,
    pub origin_country: CountryCode,
    pub destination_country: CountryCode,
    pub district: Option<DistrictCode>,
    pub duty_treatment: DutyTreatment,
    pub producer: Option<String>,
    /// Proof of origin, when the item claims an agreement or special preferential rate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_proof: Option<OriginProof>,
    /// The tariff-quota certificate (关税配额证明) the item is declared under: the in-quota rate,
    /// the quantity reserved on the certificate in the E-Port ledger at filing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_certificate_no: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Declaration {
    pub direction: Direction,
    pub declaration_office: OfficeCode,
    pub entry_exit_office: OfficeCode,
    pub record_no: Option<String>,
    pub contract_no: Option<String>,
    pub ie_date: Option<NaiveDate>,
    pub declaration_date: NaiveDate,
    pub trader: Party,
    pub overseas_party: OverseasParty,
    pub owner: Option<Party>,
    pub agent: Option<Party>,
    pub transport_mode: TransportMode,
    pub vessel: Option<String>,
    pub voyage_no: Option<String>,
    pub bill_no: Option<String>,
    pub goods_place: Option<String>,
    pub trade_mode: TradeMode,
    pub levy_nature: LevyNature,
    pub licence_no: Option<String>,
    pub loading_port: Option<String>,
    pub destination_port: Option<String>,
    pub trading_country: CountryCode,
    pub dispatch_country: CountryCode,
    pub domestic_port: Option<DomesticPort>,
    pub package_type: PackageType,
    pub packages: u32,
    pub gross_weight_kg: Decimal,
    pub net_weight_kg: Decimal,
    pub transaction_terms: TransactionTerms,
    pub freight: Option<Charge>,
    pub insurance: Option<Charge>,
    pub other_charges: Option<Charge>,
    pub documents: Vec<Document>,
    pub marks: Option<String>,
    pub remarks: Option<String>,
    pub entry_type: EntryType,
    /// Cross-border e-commerce retail imports only: the person whose limits apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer: Option<Buyer>,
    pub items: Vec<Item>,
}

/// The buyer (订购人) of a cross-border e-commerce retail import (9610, 1210): the person
/// whose transaction and annual limits apply (docs/DOMAIN.md §4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub id_type: BuyerIdType,
    /// As filed, upper case.
    pub id_no: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuyerIdType {
    /// 居民身份证: 18 characters, the last a GB 11643 check character.
    ResidentId,
    Passport,
}

impl Buyer {
    /// The key of the buyer's purchase history: the kind of document and its number.
    pub fn person_id(&self) -> String {
        let kind = match self.id_type {
            BuyerIdType::ResidentId => "resident_id",
            BuyerIdType::Passport => "passport",
        };
        format!("{kind}:{}", self.id_no)
    }
}

/// Whether `id` is a resident identity number of GB 11643 in full: a known division, a real
/// birth date, the check character (see [`crate::codes::ResidentId`]).
pub fn resident_id_is_valid(id: &str) -> bool {
    crate::codes::ResidentId::parse(id).is_ok()
}

/// The GB 11643 check character of the 17 digits `body`; `None` if `body` is not 17 digits.
pub fn resident_id_check_char(body: &str) -> Option<char> {
    let b = body.as_bytes();
    if b.len() != 17 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    Some(b"10X98765432"[(sum % 11) as usize] as char)
}

impl Declaration {
    /// Whether the declaration names a licence: in the licence field, or as an attached
    /// document of the given kind.
    pub fn names_licence(&self, document_code: &str) -> bool {
        self.licence_no.is_some() || self.documents.iter().any(|d| d.code == document_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_resident_ids() {
        // The sample number of GB 11643 and its neighbours.
        assert!(resident_id_is_valid("11010519491231002X"));
        assert!(!resident_id_is_valid("110105194912310021"));
        assert!(!resident_id_is_valid("11010519491231002"));
        assert!(!resident_id_is_valid("1101051949123100XX"));
        assert_eq!(resident_id_check_char("11010519491231002"), Some('X'));
        assert_eq!(resident_id_check_char("1101051949123100A"), None);
    }

    proptest! {
        /// A check character computed for 17 digits validates, and every other one fails.
        /// (The body keeps a known division and a real birth date, which GB 11643 also
        /// requires; any 17 digits give the same check character as the full type's.)
        #[test]
        fn check_characters_validate(any in "[0-9]{17}", seq in "[0-9]{3}", other in "[0-9X]") {
            prop_assert_eq!(
                resident_id_check_char(&any),
                crate::codes::ResidentId::check_character(&any).ok()
            );
            let body = format!("11010519491231{seq}");
            let check = resident_id_check_char(&body).unwrap();
            let good = format!("{body}{check}");
            prop_assert!(resident_id_is_valid(&good));
            if !other.starts_with(check) {
                let bad = format!("{body}{other}");
                prop_assert!(!resident_id_is_valid(&bad));
            }
        }
    }
}
