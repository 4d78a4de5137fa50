//! The JSON form of a typed declaration ([`form_of`]): the way back from
//! [`Declaration`] to [`DeclarationForm`], so that a declaration stored in its typed form can be
//! amended by field path ([`crate::form_path`]) and validated again in full. For every valid
//! form `f`, `validate(form_of(validate(f)))` is `validate(f)` (tested on the examples).

use crate::declaration::{
    BuyerForm, BuyerIdType, Charge, ChargeForm, Declaration, DeclarationForm, DocumentForm,
    EntryType, ItemForm, NumberText, OriginProofForm, OriginProofKind, OverseasPartyForm, Party,
    PartyForm,
};

fn text(s: impl ToString) -> Option<String> {
    Some(s.to_string())
}

fn number(d: impl ToString) -> Option<NumberText> {
    Some(NumberText::new(d.to_string()))
}

fn party(p: &Party) -> PartyForm {
    PartyForm {
        name: text(&p.name),
        uscc: text(p.uscc),
        customs_code: p.customs_code.map(|c| c.to_string()),
    }
}

fn charge(c: &Charge) -> ChargeForm {
    match c {
        Charge::Rate { percent } => ChargeForm {
            mark: text("1"),
            value: number(percent),
            currency: None,
        },
        Charge::PerUnit { amount, currency } => ChargeForm {
            mark: text("2"),
            value: number(amount),
            currency: text(currency),
        },
        Charge::Total { amount, currency } => ChargeForm {
            mark: text("3"),
            value: number(amount),
            currency: text(currency),
        },
    }
}

/// The wire form of a typed declaration.
pub fn form_of(d: &Declaration) -> DeclarationForm {
    DeclarationForm {
        direction: text(d.direction),
        declaration_office: text(d.declaration_office),
        entry_exit_office: text(d.entry_exit_office),
        record_no: d.record_no.clone(),
        contract_no: d.contract_no.clone(),
        ie_date: d.ie_date.map(|x| x.format("%Y-%m-%d").to_string()),
        declaration_date: text(d.declaration_date.format("%Y-%m-%d")),
        trader: Some(party(&d.trader)),
        overseas_party: Some(OverseasPartyForm {
            code: d.overseas_party.code.clone(),
            name: text(&d.overseas_party.name),
            address: d.overseas_party.address.clone(),
        }),
        owner: d.owner.as_ref().map(party),
        agent: d.agent.as_ref().map(party),
        transport_mode: text(d.transport_mode),
        vessel: d.vessel.clone(),
        voyage_no: d.voyage_no.clone(),
        bill_no: d.bill_no.clone(),
        goods_place: d.goods_place.clone(),
        trade_mode: text(d.trade_mode),
        levy_nature: text(d.levy_nature),
        licence_no: d.licence_no.clone(),
        loading_port: d.loading_port.clone(),
        destination_port: d.destination_port.clone(),
        trading_country: text(d.trading_country),
        dispatch_country: text(d.dispatch_country),
        domestic_port: d.domestic_port.map(|p| p.to_string()),
        package_type: text(d.package_type),
        packages: number(d.packages),
        gross_weight_kg: number(d.gross_weight_kg),
        net_weight_kg: number(d.net_weight_kg),
        transaction_terms: text(d.transaction_terms.code()),
        freight: d.freight.as_ref().map(charge),
        insurance: d.insurance.as_ref().map(charge),
        other_charges: d.other_charges.as_ref().map(charge),
        documents: d
            .documents
            .iter()
            .map(|x| DocumentForm {
                code: text(&x.code),
                number: text(&x.number),
            })
            .collect(),
        marks: d.marks.clone(),
        remarks: d.remarks.clone(),
        entry_type: text(match d.entry_type {
            EntryType::Paper => "0",
            EntryType::PaperWithList => "L",
            EntryType::PaperlessWithList => "D",
            EntryType::Paperless => "M",
        }),
        buyer: d.buyer.as_ref().map(|b| BuyerForm {
            id_type: text(match b.id_type {
                BuyerIdType::ResidentId => "resident_id",
                BuyerIdType::Passport => "passport",
            }),
            id_no: text(&b.id_no),
            name: text(&b.name),
        }),
        items: d
            .items
            .iter()
            .map(|it| ItemForm {
                item_no: number(it.item_no),
                record_item: it.record_item.clone(),
                commodity_code: text(it.commodity_code),
                name: text(&it.name),
                specification: text(&it.specification),
                declared_quantity: number(it.declared_quantity),
                declared_unit: text(it.declared_unit),
                first_quantity: number(it.first_quantity),
                first_unit: text(it.first_unit),
                second_quantity: it.second_quantity.and_then(number),
                second_unit: it.second_unit.map(|u| u.to_string()),
                unit_price: number(it.unit_price),
                total_price: number(it.total_price),
                currency: text(it.currency),
                origin_country: text(it.origin_country),
                destination_country: text(it.destination_country),
                district: it.district.map(|x| x.to_string()),
                duty_treatment: text(it.duty_treatment),
                producer: it.producer.clone(),
                origin_proof: it.origin_proof.as_ref().map(|p| OriginProofForm {
                    agreement: text(&p.agreement),
                    kind: text(match p.kind {
                        OriginProofKind::Certificate => "certificate",
                        OriginProofKind::Declaration => "declaration",
                    }),
                    number: text(&p.number),
                    direct_transport: Some(p.direct_transport),
                }),
                quota_certificate_no: it.quota_certificate_no.clone(),
            })
            .collect(),
    }
}
