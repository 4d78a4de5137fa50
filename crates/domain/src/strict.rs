//! The fast path of [`crate::validate::parse_form`]: twins of the wire-form structs that refuse
//! unknown fields (`deny_unknown_fields`) instead of collecting their paths. A document that
//! parses here has no unknown field and gives the same form as the general path, without a
//! `String` allocated for every key; any other document (unknown fields, wrong types, not JSON)
//! fails here and is read again by the general path, which says what and where.
//!
//! Every field is listed twice (here and in [`crate::declaration`]); the conversions below name
//! every field on both sides, so a field added to one and not the other does not compile.

use serde::Deserialize;

use crate::declaration::{
    BuyerForm, ChargeForm, DeclarationForm, DocumentForm, ItemForm, NumberText, OverseasPartyForm,
    PartyForm,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Party {
    name: Option<String>,
    uscc: Option<String>,
    customs_code: Option<String>,
}

impl From<Party> for PartyForm {
    fn from(s: Party) -> PartyForm {
        let Party {
            name,
            uscc,
            customs_code,
        } = s;
        PartyForm {
            name,
            uscc,
            customs_code,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OverseasParty {
    code: Option<String>,
    name: Option<String>,
    address: Option<String>,
}

impl From<OverseasParty> for OverseasPartyForm {
    fn from(s: OverseasParty) -> OverseasPartyForm {
        let OverseasParty {
            code,
            name,
            address,
        } = s;
        OverseasPartyForm {
            code,
            name,
            address,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Charge {
    mark: Option<String>,
    value: Option<NumberText>,
    currency: Option<String>,
}

impl From<Charge> for ChargeForm {
    fn from(s: Charge) -> ChargeForm {
        let Charge {
            mark,
            value,
            currency,
        } = s;
        ChargeForm {
            mark,
            value,
            currency,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Document {
    code: Option<String>,
    number: Option<String>,
}

impl From<Document> for DocumentForm {
    fn from(s: Document) -> DocumentForm {
        let Document { code, number } = s;
        DocumentForm { code, number }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Item {
    item_no: Option<NumberText>,
    record_item: Option<String>,
    commodity_code: Option<String>,
    name: Option<String>,
    specification: Option<String>,
    declared_quantity: Option<NumberText>,
    declared_unit: Option<String>,
    first_quantity: Option<NumberText>,
    first_unit: Option<String>,
    second_quantity: Option<NumberText>,
    second_unit: Option<String>,
    unit_price: Option<NumberText>,
    total_price: Option<NumberText>,
    currency: Option<String>,
    origin_country: Option<String>,
    destination_country: Option<String>,
    district: Option<String>,
    duty_treatment: Option<String>,
    producer: Option<String>,
    #[serde(default)]
    origin_proof: Option<OriginProof>,
    #[serde(default)]
    quota_certificate_no: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OriginProof {
    agreement: Option<String>,
    kind: Option<String>,
    number: Option<String>,
    direct_transport: Option<bool>,
}

impl From<OriginProof> for crate::declaration::OriginProofForm {
    fn from(s: OriginProof) -> Self {
        let OriginProof {
            agreement,
            kind,
            number,
            direct_transport,
        } = s;
        crate::declaration::OriginProofForm {
            agreement,
            kind,
            number,
            direct_transport,
        }
    }
}

impl From<Item> for ItemForm {
    fn from(s: Item) -> ItemForm {
        let Item {
            item_no,
            record_item,
            commodity_code,
            name,
            specification,
            declared_quantity,
            declared_unit,
            first_quantity,
            first_unit,
            second_quantity,
            second_unit,
            unit_price,
            total_price,
            currency,
            origin_country,
            destination_country,
            district,
            duty_treatment,
            producer,
            origin_proof,
            quota_certificate_no,
        } = s;
        ItemForm {
            item_no,
            record_item,
            commodity_code,
            name,
            specification,
            declared_quantity,
            declared_unit,
            first_quantity,
            first_unit,
            second_quantity,
            second_unit,
            unit_price,
            total_price,
            currency,
            origin_country,
            destination_country,
            district,
            duty_treatment,
            producer,
            origin_proof: origin_proof.map(Into::into),
            quota_certificate_no,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Declaration {
    direction: Option<String>,
    declaration_office: Option<String>,
    entry_exit_office: Option<String>,
    record_no: Option<String>,
    contract_no: Option<String>,
    ie_date: Option<String>,
    declaration_date: Option<String>,
    trader: Option<Party>,
    overseas_party: Option<OverseasParty>,
    owner: Option<Party>,
    agent: Option<Party>,
    transport_mode: Option<String>,
    vessel: Option<String>,
    voyage_no: Option<String>,
    bill_no: Option<String>,
    goods_place: Option<String>,
    trade_mode: Option<String>,
    levy_nature: Option<String>,
    licence_no: Option<String>,
    loading_port: Option<String>,
    destination_port: Option<String>,
    trading_country: Option<String>,
    dispatch_country: Option<String>,
    domestic_port: Option<String>,
    package_type: Option<String>,
    packages: Option<NumberText>,
    gross_weight_kg: Option<NumberText>,
    net_weight_kg: Option<NumberText>,
    transaction_terms: Option<String>,
    freight: Option<Charge>,
    insurance: Option<Charge>,
    other_charges: Option<Charge>,
    #[serde(default)]
    documents: Vec<Document>,
    marks: Option<String>,
    remarks: Option<String>,
    entry_type: Option<String>,
    buyer: Option<Buyer>,
    #[serde(default)]
    items: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Buyer {
    id_type: Option<String>,
    id_no: Option<String>,
    name: Option<String>,
}

impl From<Buyer> for BuyerForm {
    fn from(s: Buyer) -> BuyerForm {
        let Buyer {
            id_type,
            id_no,
            name,
        } = s;
        BuyerForm {
            id_type,
            id_no,
            name,
        }
    }
}

impl From<Declaration> for DeclarationForm {
    fn from(s: Declaration) -> DeclarationForm {
        let Declaration {
            direction,
            declaration_office,
            entry_exit_office,
            record_no,
            contract_no,
            ie_date,
            declaration_date,
            trader,
            overseas_party,
            owner,
            agent,
            transport_mode,
            vessel,
            voyage_no,
            bill_no,
            goods_place,
            trade_mode,
            levy_nature,
            licence_no,
            loading_port,
            destination_port,
            trading_country,
            dispatch_country,
            domestic_port,
            package_type,
            packages,
            gross_weight_kg,
            net_weight_kg,
            transaction_terms,
            freight,
            insurance,
            other_charges,
            documents,
            marks,
            remarks,
            entry_type,
            buyer,
            items,
        } = s;
        DeclarationForm {
            direction,
            declaration_office,
            entry_exit_office,
            record_no,
            contract_no,
            ie_date,
            declaration_date,
            trader: trader.map(Into::into),
            overseas_party: overseas_party.map(Into::into),
            owner: owner.map(Into::into),
            agent: agent.map(Into::into),
            transport_mode,
            vessel,
            voyage_no,
            bill_no,
            goods_place,
            trade_mode,
            levy_nature,
            licence_no,
            loading_port,
            destination_port,
            trading_country,
            dispatch_country,
            domestic_port,
            package_type,
            packages,
            gross_weight_kg,
            net_weight_kg,
            transaction_terms,
            freight: freight.map(Into::into),
            insurance: insurance.map(Into::into),
            other_charges: other_charges.map(Into::into),
            documents: documents.into_iter().map(Into::into).collect(),
            marks,
            remarks,
            entry_type,
            buyer: buyer.map(Into::into),
            items: items.into_iter().map(Into::into).collect(),
        }
    }
}
#[cfg(test)]
mod tests {
    use crate::validate::{parse_form, parse_general};

    const EXAMPLES: [&[u8]; 9] = [
        include_bytes!("../../../examples/import-laptops.json"),
        include_bytes!("../../../examples/export-shoes.json"),
        include_bytes!("../../../examples/invalid-empty.json"),
        include_bytes!("../../../examples/invalid-garbage.json"),
        include_bytes!("../../../examples/invalid-licence-and-levy.json"),
        include_bytes!("../../../examples/invalid-many-problems.json"),
        include_bytes!("../../../examples/invalid-missing-fields.json"),
        include_bytes!("../../../examples/invalid-no-items.json"),
        include_bytes!("../../../examples/invalid-unknown-fields.json"),
    ];

    /// Variants of a valid document that the strict twins refuse, each for another reason.
    fn variants(doc: &str) -> Vec<Vec<u8>> {
        let mut v: Vec<Vec<u8>> = vec![
            doc.replacen('{', r#"{"surprise": 1, "#, 1).into_bytes(),
            doc.replacen(r#""name""#, r#""nickname": "x", "name""#, 1)
                .into_bytes(),
            doc.replacen(r#""items": ["#, r#""items": [{"what": 2}, "#, 1)
                .into_bytes(),
            doc.replacen(r#""direction""#, r#""direction": 7, "direction""#, 1)
                .into_bytes(),
            doc.replacen(r#""direction""#, r#""direction": "import", "direction""#, 1)
                .into_bytes(),
            format!("{doc} trailing").into_bytes(),
            doc.replacen(r#""items""#, r#""items": 5, "x""#, 1)
                .into_bytes(),
        ];
        let mut bad_utf8 = doc.as_bytes().to_vec();
        if let Some(p) = doc.find("\"remarks\"") {
            bad_utf8[p + 2] = 0xFF;
        } else if let Some(p) = doc.find("\"name\": \"") {
            bad_utf8[p + 10] = 0xFF;
        }
        v.push(bad_utf8);
        v
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_path() {
        for doc in EXAMPLES {
            assert_eq!(parse_form(doc), parse_general(doc));
            if let Ok(text) = std::str::from_utf8(doc) {
                for variant in variants(text) {
                    assert_eq!(
                        parse_form(&variant),
                        parse_general(&variant),
                        "{}",
                        String::from_utf8_lossy(&variant)
                    );
                }
            }
        }
    }

    #[test]
    fn valid_documents_take_the_fast_path() {
        for doc in &EXAMPLES[..2] {
            let text = std::str::from_utf8(doc).unwrap();
            let strict: super::Declaration = serde_json::from_str(text).unwrap();
            assert_eq!(
                crate::declaration::DeclarationForm::from(strict),
                parse_general(doc).unwrap()
            );
        }
    }
}
