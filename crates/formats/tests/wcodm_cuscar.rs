//! The WCO Data Model declaration and the CUSCAR manifest as adapters: the HMRC sample and the
//! CUSCAR fixture read to what they hold, the examples through every format, round-trip
//! properties (parse → print → parse gives the same form or manifest), answers in the
//! documents' own terms, and damaged input answered with problems, never a panic.
//!
//! `cuscar_SYNTHETIC_import.edi` is written by hand in Jinguan's CUSCAR profile
//! (docs/FORMATS.md), not an official sample; `hmrc_cds_TT_IM001a_import_H1_declaration.xml` is
//! HMRC's (data/standards/wcodm/).

use domain::codes::Direction;
use domain::declaration::{
    ChargeForm, DeclarationForm, DocumentForm, ItemForm, NumberText, OverseasPartyForm, PartyForm,
};
use formats::{cuscar, cusdec, decmessage, wcodm};
use proptest::prelude::*;
use serde_json::json;

#[allow(clippy::disallowed_methods)] // a test reads its fixtures
fn read(path: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn example(name: &str) -> DeclarationForm {
    domain::validate::parse_form(&read(&format!("../../examples/{name}"))).unwrap()
}

fn env() -> cusdec::Envelope {
    cusdec::Envelope {
        sender: "CARRIER01".into(),
        recipient: "JINGUAN".into(),
        date: "250308".into(),
        time: "0900".into(),
        control_reference: "CC0001".into(),
        message_reference: "M1".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// WCO Data Model

#[test]
fn examples_survive_wco_and_every_other_format() {
    for name in [
        "import-laptops.json",
        "export-shoes.json",
        "import-ecommerce-cosmetics.json",
    ] {
        let mut f = example(name);
        // What no format but JSON carries (decmessage::unprintable).
        f.buyer = None;
        for i in &mut f.items {
            i.producer = None;
            i.origin_proof = None;
            i.quota_certificate_no = None;
        }
        let xml = wcodm::print(&f, Some("SEQ-WCO-1"));
        let back = wcodm::parse_filing(xml.as_bytes()).unwrap_or_else(|p| panic!("{p:?}\n{xml}"));
        assert_eq!(back.form, f, "{name}\n{xml}");
        assert_eq!(back.client_seq_no.as_deref(), Some("SEQ-WCO-1"));
        // WCO → DecMessage → CUSDEC → WCO: the same form.
        let dec = decmessage::print(&back.form, None);
        let f2 = decmessage::parse(dec.as_bytes()).unwrap();
        let edi = cusdec::print(&f2, None, &env());
        let f3 = cusdec::parse(edi.as_bytes()).unwrap().form;
        assert_eq!(wcodm::parse(wcodm::print(&f3, None).as_bytes()).unwrap(), f);
    }
}

#[test]
fn the_wco_document_says_what_the_form_says() {
    let f = example("import-laptops.json");
    let xml = wcodm::print(&f, Some("S1"));
    let flat: String = xml.lines().map(str::trim).collect();
    for needle in [
        "<md:WCODataModelVersionCode>3.6</md:WCODataModelVersionCode>",
        "<Declaration>",
        "<TypeCode>IMM</TypeCode>",
        "<DeclarationOfficeID>2233</DeclarationOfficeID>",
        "<ds:DateTimeString formatCode=\"102\">20250310</ds:DateTimeString>",
        "<TotalGrossMassMeasure>260.5</TotalGrossMassMeasure>",
        // The overseas seller is the WCO exporter of an import, its country alpha-2.
        "<Name>Example Computers Inc.</Name><ID>US1234567890</ID><Address><CountryCode>US</CountryCode>",
        "<StatementCode>TRADER-USCC</StatementCode><StatementDescription>91310115MA1K4Q7B4Y</StatementDescription>",
        "<ID>8471300000</ID><IdentificationTypeCode>HS</IdentificationTypeCode>",
        "<TariffQuantity unitCode=\"001\">100</TariffQuantity>",
        "<ItemChargeAmount currencyID=\"USD\">35000.00</ItemChargeAmount>",
        "<Destination><CountryCode>CN</CountryCode><RegionID>31159</RegionID>",
        "<GovernmentProcedure><CurrentCode>0110</CurrentCode>",
        "<ChargesTypeCode>FR3</ChargesTypeCode><OtherChargeDeductionAmount currencyID=\"USD\">1200.00</OtherChargeDeductionAmount>",
        "<ConditionCode>FOB</ConditionCode>",
        "<PreviousDocument><CategoryCode>Z</CategoryCode><ID>999-12345675</ID><TypeCode>705</TypeCode>",
        "<PresentationOffice><ID>2233</ID>",
    ] {
        assert!(flat.contains(needle), "missing {needle:?} in\n{xml}");
    }
}

#[test]
fn hmrc_sample_reads_in_jinguan_terms() {
    let f = wcodm::parse_filing(&read(
        "../../data/standards/wcodm/hmrc_cds_TT_IM001a_import_H1_declaration.xml",
    ))
    .unwrap();
    assert_eq!(f.client_seq_no.as_deref(), Some("7847767E1WB6"));
    let d = f.form;
    assert_eq!(d.direction.as_deref(), Some("import"));
    // CDS's additional declaration type A stays for validation to judge.
    assert_eq!(d.entry_type.as_deref(), Some("A"));
    assert_eq!(d.packages.as_ref().map(NumberText::as_str), Some("50"));
    assert_eq!(d.dispatch_country.as_deref(), Some("USA"));
    assert_eq!(d.trading_country.as_deref(), Some("USA"));
    assert_eq!(d.transport_mode.as_deref(), Some("1"));
    assert_eq!(
        d.goods_place.as_deref(),
        Some("WLALONBTW"),
        "GoodsLocation/Name"
    );
    assert_eq!(
        d.trader.as_ref().unwrap().customs_code.as_deref(),
        Some("GB553202734852")
    );
    let o = d.overseas_party.unwrap();
    assert_eq!(o.name.as_deref(), Some("US Clipper Inc."));
    assert_eq!(o.address.as_deref(), Some("1 Shaver Street"));
    assert_eq!(d.trade_mode.as_deref(), Some("40"));
    assert_eq!(d.levy_nature.as_deref(), Some("000"));
    assert_eq!(d.transaction_terms.as_deref(), Some("1"), "CIF");
    assert_eq!(d.items.len(), 1);
    let i = &d.items[0];
    assert_eq!(i.item_no.as_ref().map(NumberText::as_str), Some("1"));
    // CDS classifies by TSP/TRC types, not HS: no commodity code is taken for theirs.
    assert_eq!(i.commodity_code, None);
    assert_eq!(i.total_price.as_ref().map(NumberText::as_str), Some("1000"));
    assert_eq!(i.currency.as_deref(), Some("GBP"));
    assert_eq!(i.origin_country.as_deref(), Some("USA"));
    assert_eq!(i.duty_treatment.as_deref(), Some("100"));
    assert_eq!(d.marks.as_deref(), Some("BX-1234228/34"));
    assert_eq!(d.package_type.as_deref(), Some("BX"));
}

#[test]
fn json_paths_become_wco_places() {
    let imp = Some(Direction::Import);
    let exp = Some(Direction::Export);
    for (json, dir, wco) in [
        ("trader.uscc", imp, "Declaration.AdditionalInformation[TRADER-USCC].StatementDescription"),
        ("trader.customs_code", imp, "Declaration.GoodsShipment.Importer.ID"),
        ("trader.name", exp, "Declaration.Exporter.Name"),
        ("overseas_party.name", imp, "Declaration.Exporter.Name"),
        ("overseas_party.address", exp, "Declaration.GoodsShipment.Consignee.Address.Line"),
        ("owner.customs_code", exp, "Declaration.GoodsShipment.Consignor.ID"),
        ("direction", imp, "Declaration.TypeCode"),
        ("declaration_date", imp, "Declaration.IssueDateTime.DateTimeString"),
        ("ie_date", exp, "Declaration.GoodsShipment.ExitDateTime.DateTimeString"),
        ("entry_exit_office", exp, "Declaration.ExitOffice.ID"),
        ("dispatch_country", imp, "Declaration.GoodsShipment.ExportCountry.ID"),
        ("dispatch_country", exp, "Declaration.GoodsShipment.Destination.CountryCode"),
        ("trade_mode", imp, "Declaration.GoodsShipment.GovernmentAgencyGoodsItem[0].GovernmentProcedure[0].CurrentCode"),
        ("freight.currency", imp, "Declaration.GoodsShipment.CustomsValuation.ChargeDeduction[FR].OtherChargeDeductionAmount@currencyID"),
        ("documents[1].code", imp, "Declaration.AdditionalDocument[1].TypeCode"),
        ("items[2].commodity_code", imp, "Declaration.GoodsShipment.GovernmentAgencyGoodsItem[2].Commodity.Classification.ID"),
        ("items[0].district", exp, "Declaration.GoodsShipment.GovernmentAgencyGoodsItem[0].Origin.RegionID"),
        ("items[0].unit_price", imp, "Declaration.GoodsShipment.GovernmentAgencyGoodsItem[0].AdditionalInformation[UNIT-PRICE].StatementDescription"),
    ] {
        assert_eq!(wcodm::wco_path(json, dir).as_deref(), Some(wco), "{json}");
    }
    assert_eq!(wcodm::wco_path("buyer.id_no", imp), None);
    assert_eq!(wcodm::wco_path("items[0].origin_proof.kind", imp), None);
}

#[test]
fn unreadable_wco_documents_are_problems() {
    let case = |doc: &str, code: &str| {
        let p = wcodm::parse(doc.as_bytes()).unwrap_err();
        assert!(p.iter().any(|p| p.code == code), "{doc}: {p:?}");
    };
    case("", "empty");
    case("<Declaration", "not_xml");
    case("<Other xmlns=\"urn:wco:datamodel:WCO:DEC-DMS:2\"/>", "root");
    case("<Declaration xmlns=\"urn:other\"/>", "namespace");
    case("<Declaration/>", "namespace");
    case(
        "<md:MetaData xmlns:md=\"urn:wco:datamodel:WCO:DocumentMetaData-DMS:2\"/>",
        "required",
    );
    case(
        "<?xml version=\"1.0\" encoding=\"GB2312\"?><Declaration xmlns=\"urn:wco:datamodel:WCO:DEC-DMS:2\"/>",
        "encoding",
    );
    case(
        "<!DOCTYPE x [<!ENTITY a \"b\">]><Declaration xmlns=\"urn:wco:datamodel:WCO:DEC-DMS:2\"/>",
        "doctype",
    );
    // A bare Declaration in its namespace is read (an empty form, for validation to judge).
    let f = wcodm::parse(b"<Declaration xmlns=\"urn:wco:datamodel:WCO:DEC-DMS:2\"><TypeCode>EX</TypeCode></Declaration>").unwrap();
    assert_eq!(f.direction.as_deref(), Some("export"));
    assert_eq!(f.entry_type, None);
}

#[test]
fn wco_response_round_trips() {
    for accepted in [true, false] {
        let r = wcodm::Response {
            accepted,
            client_seq_no: Some("S-1".into()),
            pre_entry_no: Some("223320251000000001".into()),
            declaration_no: accepted.then(|| "223320251000000001".into()),
            channel: accepted.then(|| "L".into()),
            at: "20250310020000".into(),
            errors: if accepted {
                vec![]
            } else {
                vec![(
                    "Declaration.GoodsShipment.Importer.ID".into(),
                    "required".into(),
                    "required <&>".into(),
                    "必填".into(),
                )]
            },
        };
        let xml = wcodm::print_response(&r);
        assert_eq!(wcodm::parse_response(xml.as_bytes()).unwrap(), r, "{xml}");
        assert!(xml.contains(if accepted {
            "<FunctionCode>01</FunctionCode>"
        } else {
            "<FunctionCode>03</FunctionCode>"
        }));
    }
}

// ---------------------------------------------------------------------------------------------
// CUSCAR

#[test]
fn cuscar_fixture_reads_to_the_cargo_api_body() {
    let f = cuscar::parse(&read("tests/fixtures/cuscar_SYNTHETIC_import.edi")).unwrap();
    assert_eq!(f.sender, "CARRIER01");
    assert_eq!(f.control_reference, "CC0001");
    assert_eq!(
        f.manifest.to_json(),
        json!({
            "manifest_id": "MF-CUSCAR-1",
            "kind": "original",
            "voyage": {
                "means": {"mode": "flight", "flight_no": "CA986"},
                "voyage_no": "20250308",
                "direction": "import",
                "office": "2233"
            },
            "bills": [
                {"bill_no": "999-12345675", "kind": {"kind": "master"},
                 "lines": [{"packages": 10, "package_type": "CT", "gross_weight_kg": "260.5",
                            "description": "laptops", "containers": []}]},
                {"bill_no": "HB-2025-0001", "kind": {"kind": "house", "master": "999-12345675"},
                 "lines": [{"packages": 4, "package_type": "PK", "gross_weight_kg": "40",
                            "description": "spare batteries+chargers",
                            "containers": ["MSKU1234565"]}]}
            ]
        })
    );
    // Printed again and read back: the same manifest.
    let text = cuscar::print(&f.manifest, &env());
    assert_eq!(cuscar::parse(text.as_bytes()).unwrap().manifest, f.manifest);
}

#[test]
fn cuscar_problems_name_the_message_places() {
    let body = |segs: &str| {
        let n = segs.matches('\'').count() + 2;
        format!("UNB+UNOW:4+A+B+250101:0000+R1'UNH+1+CUSCAR:D:96B:UN'{segs}UNT+{n}+1'UNZ+1+R1'")
    };
    let fields = |segs: &str| -> Vec<(String, &'static str)> {
        cuscar::parse(body(segs).as_bytes())
            .unwrap_err()
            .into_iter()
            .map(|p| (p.field, p.code))
            .collect()
    };
    let got = fields("TDT+20+V1+7'CNI+1'GID+1+ten:CT'MEA+AAE+G+LBR:5'");
    for want in [
        ("BGM.1004", "required"),
        ("SG4 TDT.C220.8067", "unknown_code"),
        ("SG4 LOC[41].C517.3225", "required"),
        ("SG7[0] CNI.C503.1004", "required"),
        ("SG7[0] SG14[0] GID.C213.7224", "number"),
        ("SG7[0] SG14[0] MEA[G].C174.6411", "unit"),
    ] {
        assert!(
            got.iter().any(|(f, c)| f == want.0 && *c == want.1),
            "{want:?} not in {got:?}"
        );
    }
    // A CUSDEC is not a manifest; two messages are not one.
    let p =
        cuscar::parse(read("tests/fixtures/cusdec_SYNTHETIC_import.edi").as_slice()).unwrap_err();
    assert_eq!(p[0].code, "message_type");
    // Envelope problems come from the EDIFACT layer, every one at once.
    let p = cuscar::parse(
        b"UNB+UNOW:4+A+B+250101:0000+R1'UNH+1+CUSCAR:D:96B:UN'BGM+785+M+9'UNT+9+1'UNZ+2+R2'",
    )
    .unwrap_err();
    let fields: Vec<&str> = p.iter().map(|p| p.field.as_str()).collect();
    assert!(
        fields.contains(&"UNZ.0036") && fields.contains(&"UNZ.0020"),
        "{fields:?}"
    );
    assert_eq!(
        cuscar::edifact_path("bills[1].lines[0].packages").as_deref(),
        Some("SG7[1] SG14[0] GID.C213.7224")
    );
    assert_eq!(
        cuscar::edifact_path("voyage.means.imo").as_deref(),
        Some("SG4 TDT.C222.8213")
    );
}

// ---------------------------------------------------------------------------------------------
// Round-trip properties, on generated valid-shaped forms (codes from the customs tables, where a
// format's profile maps them: countries to alpha-2, the Chinese transaction terms to Incoterms)

const COUNTRIES: &[&str] = &[
    "USA", "CHN", "DEU", "JPN", "KOR", "GBR", "FRA", "AUS", "VNM", "XAS",
];

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-zA-Z0-9中文示例 :+?'<>&.,|/-]{1,20}".prop_map(|s| s.trim().to_owned()))
        .prop_map(|o| o.filter(|s| !s.is_empty()))
}

fn code(re: &'static str) -> impl Strategy<Value = Option<String>> {
    prop::option::of(re)
}

fn num() -> impl Strategy<Value = Option<NumberText>> {
    prop::option::of("[0-9]{1,6}(\\.[0-9]{1,4})?".prop_map(NumberText::new))
}

fn date() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        (2000u32..2030, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
    )
}

fn country() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(COUNTRIES).prop_map(str::to_owned))
}

fn party() -> impl Strategy<Value = Option<PartyForm>> {
    (text(), code("[0-9A-Z]{18}"), code("[0-9]{10}"))
        .prop_map(|(name, uscc, customs_code)| PartyForm {
            name,
            uscc,
            customs_code,
        })
        .prop_map(|p| (p != PartyForm::default()).then_some(p))
}

fn charge() -> impl Strategy<Value = Option<ChargeForm>> {
    (code("[123]"), num(), code("USD|EUR|CNY"))
        .prop_map(|(mark, value, currency)| ChargeForm {
            mark,
            value,
            currency,
        })
        .prop_map(|c| (c != ChargeForm::default()).then_some(c))
}

fn item() -> impl Strategy<Value = ItemForm> {
    (
        (
            (1u32..51).prop_map(|n| Some(NumberText::new(n.to_string()))),
            code("[0-9]{1,3}"),
            code("[0-9]{10}"),
            text(),
            text(),
            num(),
            code("0[0-9]{2}"),
            num(),
            code("0[0-9]{2}"),
        ),
        (
            num(),
            code("0[0-9]{2}"),
            num(),
            num(),
            code("USD|EUR|CNY"),
            country(),
            country(),
            code("[0-9]{5}"),
            code("[1-9]"),
        ),
    )
        .prop_map(|(a, b)| ItemForm {
            item_no: a.0,
            record_item: a.1,
            commodity_code: a.2,
            name: a.3,
            specification: a.4,
            declared_quantity: a.5,
            declared_unit: a.6,
            first_quantity: a.7,
            first_unit: a.8,
            second_quantity: b.0,
            second_unit: b.1,
            unit_price: b.2,
            total_price: b.3,
            currency: b.4,
            origin_country: b.5,
            destination_country: b.6,
            district: b.7,
            duty_treatment: b.8,
            producer: None,
            origin_proof: None,
            quota_certificate_no: None,
        })
}

fn form() -> impl Strategy<Value = DeclarationForm> {
    (
        (
            prop::bool::ANY,
            code("[0-9]{4}"),
            code("[0-9]{4}"),
            code("[A-Z][0-9]{11}"),
            text(),
            date(),
            date(),
            party(),
            party(),
            party(),
        ),
        (
            code("[0-9]"),
            text(),
            code("[0-9A-Z]{1,10}"),
            code("[0-9A-Z-]{1,20}"),
            text(),
            code("[0-9]{4}"),
            code("[0-9]{3}"),
            code("[0-9A-Z-]{1,20}"),
            code("[A-Z]{5}"),
            code("[A-Z]{5}"),
        ),
        (
            country(),
            country(),
            code("[0-9]{6}"),
            code("[0-9]{2}"),
            num(),
            num(),
            num(),
            code("[1-7]"),
            charge(),
            charge(),
        ),
        (
            charge(),
            text(),
            text(),
            code("[0LDM]"),
            (code("[A-Z0-9]{1,15}"), text(), text()),
        ),
        prop::collection::vec(item(), 1..4),
        prop::collection::vec((code("[0-9A-Z]"), code("[0-9A-Z-]{1,20}")), 0..3),
    )
        .prop_map(|(a, b, c, d, items, docs)| DeclarationForm {
            direction: Some(if a.0 { "import" } else { "export" }.to_owned()),
            declaration_office: a.1,
            entry_exit_office: a.2,
            record_no: a.3,
            contract_no: a.4,
            ie_date: a.5,
            declaration_date: a.6,
            trader: a.7,
            owner: a.8,
            agent: a.9,
            transport_mode: b.0,
            vessel: b.1,
            voyage_no: b.2,
            bill_no: b.3,
            goods_place: b.4,
            trade_mode: b.5,
            levy_nature: b.6,
            licence_no: b.7,
            loading_port: b.8,
            destination_port: b.9,
            trading_country: c.0,
            dispatch_country: c.1,
            domestic_port: c.2,
            package_type: c.3,
            packages: c.4,
            gross_weight_kg: c.5,
            net_weight_kg: c.6,
            transaction_terms: c.7,
            freight: c.8,
            insurance: c.9,
            other_charges: d.0,
            marks: d.1,
            remarks: d.2,
            entry_type: d.3,
            overseas_party: {
                let (code, name, address) = d.4;
                let o = OverseasPartyForm {
                    code,
                    name,
                    address,
                };
                (o != OverseasPartyForm::default()).then_some(o)
            },
            documents: docs
                .into_iter()
                .map(|(code, number)| DocumentForm { code, number })
                .filter(|d| *d != DocumentForm::default())
                .collect(),
            buyer: None,
            items,
        })
}

fn manifest() -> impl Strategy<Value = cuscar::Manifest> {
    let line = (
        code("[0-9]{1,4}"),
        code("CT|PK|BX"),
        num().prop_map(|n| n.map(NumberText::into_string)),
        text(),
        prop::collection::vec("[A-Z]{4}[0-9]{7}", 0..3),
    )
        .prop_map(
            |(packages, package_type, gross_weight_kg, description, containers)| cuscar::Line {
                packages,
                package_type,
                gross_weight_kg,
                description,
                containers,
            },
        );
    let bill = (
        code("[0-9A-Z-]{1,20}"),
        code("[0-9A-Z-]{1,20}"),
        prop::collection::vec(line, 0..3),
    )
        .prop_map(|(bill_no, master, lines)| cuscar::Bill {
            bill_no,
            master,
            lines,
        });
    (
        "[0-9A-Z-]{1,24}",
        code("pre_load|original|arrival_report|tally_report"),
        code("[1-4]"),
        code("[0-9A-Z]{1,10}"),
        text(),
        code("[0-9A-Z-]{1,20}"),
        prop::option::of(("import|export", "[0-9]{4}")),
        prop::collection::vec(bill, 0..4),
    )
        .prop_map(
            |(id, kind, mode, means_id, means_name, voyage_no, at, bills)| {
                cuscar::Manifest {
                    manifest_id: Some(id),
                    kind,
                    voyage: cuscar::Voyage {
                        mode,
                        means_id,
                        means_name,
                        voyage_no,
                        direction: at.as_ref().map(|a| a.0.clone()),
                        office: at.map(|a| a.1),
                    },
                    bills: bills
                        .into_iter()
                        .map(|mut b| {
                            // A bill number is required (the reader says so); keep the rest.
                            b.bill_no.get_or_insert_with(|| "B-1".into());
                            b
                        })
                        .collect(),
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// WCO DM: exact on what it carries.
    #[test]
    fn wcodm_round_trip(f in form(), seq in code("[0-9A-Z-]{1,35}")) {
        let xml = wcodm::print(&f, seq.as_deref());
        let back = wcodm::parse_filing(xml.as_bytes()).map_err(|p| TestCaseError::fail(format!("{p:?}\n{xml}")))?;
        prop_assert_eq!(&back.form, &f, "{}", xml);
        prop_assert_eq!(back.client_seq_no, seq);
    }

    /// The JSON form itself: serialized and read back.
    #[test]
    fn json_round_trip(f in form()) {
        let text = serde_json::to_vec(&f).unwrap();
        let back = domain::validate::parse_form(&text).map_err(|p| TestCaseError::fail(format!("{p:?}")))?;
        prop_assert_eq!(back, f);
    }

    /// Every format in a chain, back to where it began.
    #[test]
    fn format_chain_round_trip(f in form()) {
        let xml = decmessage::print(&f, None);
        let f1 = decmessage::parse(xml.as_bytes()).map_err(|p| TestCaseError::fail(format!("{p:?}")))?;
        let edi = cusdec::print(&f1, None, &env());
        let f2 = cusdec::parse(edi.as_bytes()).map_err(|p| TestCaseError::fail(format!("{p:?}")))?.form;
        let wco = wcodm::print(&f2, None);
        let f3 = wcodm::parse(wco.as_bytes()).map_err(|p| TestCaseError::fail(format!("{p:?}")))?;
        prop_assert_eq!(f3, f);
    }

    /// CUSCAR: exact on what it carries (a line or bill with nothing in it included).
    #[test]
    fn cuscar_round_trip(m in manifest()) {
        let text = cuscar::print(&m, &env());
        let back = cuscar::parse(text.as_bytes());
        // Only a manifest without an office or means is refused; the rest reads back whole.
        match back {
            Ok(f) => prop_assert_eq!(f.manifest, m, "{}", text),
            Err(p) => {
                prop_assert!(m.voyage.office.is_none(), "{:?}\n{}", p, text);
                prop_assert!(p.iter().all(|p| p.code == "required"), "{:?}", p);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Damaged input: problems, never a panic

fn damaged(seed: u64, base: &[u8], rounds: usize) -> Vec<Vec<u8>> {
    let mut rng = domain::rng::Rng::new(seed);
    (0..rounds)
        .map(|_| {
            let mut b = base.to_vec();
            for _ in 0..1 + rng.below(8) {
                if b.is_empty() {
                    break;
                }
                let at = rng.below(b.len() as u64) as usize;
                match rng.below(3) {
                    0 => b[at] = rng.below(256) as u8,
                    1 => {
                        b.remove(at);
                    }
                    _ => b.insert(at, b"<>'+:?&/"[rng.below(8) as usize]),
                }
            }
            b
        })
        .collect()
}

#[test]
fn wco_and_cuscar_parsers_never_panic_on_damaged_input() {
    let wco = wcodm::print(&example("import-laptops.json"), Some("S"));
    for b in damaged(7, wco.as_bytes(), 400) {
        let _ = wcodm::parse_filing(&b);
        let _ = wcodm::parse_response(&b);
    }
    let edi = read("tests/fixtures/cuscar_SYNTHETIC_import.edi");
    for b in damaged(8, &edi, 400) {
        if let Ok(f) = cuscar::parse(&b) {
            let _ = f.manifest.to_json();
        }
    }
}
