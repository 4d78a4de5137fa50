//! Each format an adapter of the one JSON form: fixtures read to the form they hold, round
//! trips (parse → print → parse is stable, and exact on what a format carries), answers in the
//! formats' own terms, and bounded fuzzing (random and damaged input: problems, never a panic).
//!
//! Fixtures: `dec_result_new_7_declared.xml` and `dec_result_new_K_guarantee_release.xml` are
//! copies of `shared/data/standards/chinaxml/` (real receipts); `cusdec_SYNTHETIC_import.edi`
//! is `examples/import-laptops.json` written by hand in Jinguan's CUSDEC profile
//! (docs/FORMATS.md), not an official sample.

use domain::declaration::{
    ChargeForm, DeclarationForm, DocumentForm, ItemForm, NumberText, OverseasPartyForm, PartyForm,
};
use formats::{cusdec, decmessage, edifact, receipt};
use proptest::prelude::*;

#[allow(clippy::disallowed_methods)] // a test reads its fixtures
fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[allow(clippy::disallowed_methods)]
fn example(name: &str) -> DeclarationForm {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name);
    domain::validate::parse_form(&std::fs::read(path).unwrap()).unwrap()
}

fn env() -> cusdec::Envelope {
    cusdec::Envelope {
        sender: "BROKER01".into(),
        recipient: "JINGUAN".into(),
        date: "250310".into(),
        time: "1000".into(),
        control_reference: "IC0001".into(),
        message_reference: "M1".into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

#[test]
fn cusdec_fixture_reads_to_the_example_form() {
    let f = cusdec::parse(&fixture("cusdec_SYNTHETIC_import.edi")).unwrap();
    assert_eq!(f.client_seq_no.as_deref(), Some("SEQ-EDI-1"));
    assert_eq!(f.control_reference, "IC0001");
    let mut want = example("import-laptops.json");
    // What the fixture leaves out of the example.
    want.owner.as_mut().unwrap().customs_code = None;
    let got = f.form;
    assert_eq!(
        got.remarks.as_deref(),
        Some("备注: 1+1"),
        "released separators are data"
    );
    let mut got = got;
    got.remarks = None;
    assert_eq!(got, want);
}

#[test]
fn decmessage_fixture_survives_print_and_parse() {
    let bytes = fixture("decmessage_SYNTHETIC_import.xml");
    let f = decmessage::parse_filing(&bytes).unwrap();
    assert_eq!(f.client_seq_no.as_deref(), Some("202404170000000001"));
    let printed = decmessage::print(&f.form, f.client_seq_no.as_deref());
    let again = decmessage::parse_filing(printed.as_bytes()).unwrap();
    assert_eq!(again, f);
}

#[test]
fn example_form_survives_every_format() {
    let form = example("import-laptops.json");
    let xml = decmessage::print(&form, Some("S1"));
    assert_eq!(decmessage::parse(xml.as_bytes()).unwrap(), form);
    let edi = cusdec::print(&form, Some("S1"), &env());
    let back = cusdec::parse(edi.as_bytes()).unwrap();
    assert_eq!(back.form, form);
    assert_eq!(back.client_seq_no.as_deref(), Some("S1"));
}

#[test]
fn real_receipts_read() {
    let r = receipt::parse(&fixture("dec_result_new_K_guarantee_release.xml")).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].channel, "K");
    assert_eq!(r[0].entry_id.as_deref(), Some("900120241000000851"));
    assert_eq!(r[0].custom_master.as_deref(), Some("9001"));
    let r = receipt::parse(&fixture("dec_result_new_7_declared.xml")).unwrap();
    assert_eq!(
        (r[0].channel.as_str(), r[0].entry_id.as_deref()),
        ("7", None)
    );
    assert_eq!(r[0].cus_ciq_no, "I20180000147015879");
    // The channels the real receipts attest are the ones Jinguan writes for those changes.
    assert_eq!(receipt::channel(clearance::Status::Submitted, false).0, "7");
    assert_eq!(receipt::channel(clearance::Status::Released, true).0, "K");
}

// ---------------------------------------------------------------------------------------------
// Paths in the formats' own terms

#[test]
fn json_paths_become_document_paths() {
    let x = |p: &str, d: Option<&str>| decmessage::xml_path(p, d);
    assert_eq!(
        x("trader.uscc", None).as_deref(),
        Some("DecHead.TradeCoScc")
    );
    assert_eq!(
        x("items[2].commodity_code", None).as_deref(),
        Some("DecLists.DecList[2].CodeTS")
    );
    assert_eq!(
        x("documents[0]", None).as_deref(),
        Some("DecLicenseDocus.LicenseDocu[0]")
    );
    assert_eq!(
        x("overseas_party.name", Some("export")).as_deref(),
        Some("DecHead.OverseasConsigneeEname")
    );
    assert_eq!(x("freight.value", None).as_deref(), Some("DecHead.FeeRate"));
    assert_eq!(
        x("gross_weight_kg", None).as_deref(),
        Some("DecHead.GrossWet")
    );
    assert_eq!(x("items[0].producer", None), None);
    assert_eq!(x("buyer", None), None);
    let e = |p: &str| cusdec::edifact_path(p, Some(domain::codes::Direction::Import));
    assert_eq!(e("trader.uscc").as_deref(), Some("SG6 NAD[IM].C082.3039"));
    assert_eq!(
        e("items[1].commodity_code").as_deref(),
        Some("SG30[1] CST.C246.7361")
    );
    assert_eq!(
        e("declaration_office").as_deref(),
        Some("LOC[22].C517.3225")
    );
    assert_eq!(e("items[0].producer"), None);
}

// ---------------------------------------------------------------------------------------------
// EDIFACT envelope checks: every interchange-level problem at once

fn codes(bytes: &str) -> Vec<(String, &'static str)> {
    match edifact::parse(bytes.as_bytes()) {
        Ok(i) => panic!("expected problems, got {i:?}"),
        Err(ps) => ps.into_iter().map(|p| (p.field, p.code)).collect(),
    }
}

#[test]
fn envelope_problems_are_all_reported() {
    let good = String::from_utf8(fixture("cusdec_SYNTHETIC_import.edi")).unwrap();
    edifact::parse(good.as_bytes()).unwrap();
    let bad = good
        .replace("UNT+42+M1'", "UNT+41+M2'")
        .replace("UNZ+1+IC0001'", "UNZ+2+IC0002'");
    let got = codes(&bad);
    for want in [
        ("message[0].UNT.0074", "segment_count"),
        ("message[0].UNT.0062", "control_reference"),
        ("UNZ.0036", "message_count"),
        ("UNZ.0020", "control_reference"),
    ] {
        assert!(
            got.contains(&(want.0.to_owned(), want.1)),
            "{want:?} in {got:?}"
        );
    }
    // Truncated: the last segment has no terminator, there is no UNZ.
    let cut = &good[..good.len() - 10];
    let got = codes(cut);
    assert!(got.iter().any(|(_, c)| *c == "unterminated"), "{got:?}");
    assert!(got.iter().any(|(f, _)| f == "UNZ"), "{got:?}");
    // A release before an ordinary character, and at the very end.
    assert!(codes("UNB+UNOW:4+A+B+250101:0000+1'UNZ+0+1?x'")
        .iter()
        .any(|(_, c)| *c == "release"));
    assert!(codes("UNB+UNOW:4+A+B+250101:0000+1'UNZ+0+1'?")
        .iter()
        .any(|(_, c)| *c == "release"));
    // UNA with clashing characters.
    assert_eq!(codes("UNA++.? 'UNB+UNOW:4+A+B+1:1+1'UNZ+0+1'")[0].1, "una");
    // No UNB.
    assert_eq!(codes("UNH+1+CUSDEC:D:96B:UN'UNT+2+1'")[0].1, "envelope");
}

#[test]
fn service_string_advice_is_honoured() {
    // Other separators and a decimal comma: the same form, numbers with a point.
    // (Without the released separators of the remarks, which this character swap would turn
    // into other characters.)
    let good = String::from_utf8(fixture("cusdec_SYNTHETIC_import.edi"))
        .unwrap()
        .replace("FTX+AAI+++备注?: 1?+1'", "FTX+AAI+++note'");
    let want = cusdec::parse(good.as_bytes()).unwrap().form;
    let body = good.strip_prefix("UNA:+.? '\n").unwrap();
    let mut other = String::from("UNA^*,! ~\n");
    for ch in body.chars() {
        other.push(match ch {
            ':' => '^',
            '+' => '*',
            '\'' => '~',
            '?' => '!',
            c => c,
        });
    }
    // Decimal comma in the numbers that have a point.
    let other = other
        .replace("260.5", "260,5")
        .replace("1200.00", "1200,00")
        .replace("350.0000", "350,0000")
        .replace("35000.00", "35000,00");
    let got = cusdec::parse(other.as_bytes()).unwrap().form;
    assert_eq!(got, want);
}

#[test]
fn cusres_round_trips() {
    let r = cusdec::Response {
        accepted: false,
        client_seq_no: Some("S+1".into()),
        pre_entry_no: Some("223320250000000001".into()),
        declaration_no: None,
        channel: None,
        at: "202503101000".into(),
        errors: vec![
            (
                "SG6 NAD[IM].C082.3039".into(),
                "uscc".into(),
                "bad USCC: check?".into(),
                "统一社会信用代码有误".into(),
            ),
            (
                "LOC[22].C517.3225".into(),
                "required".into(),
                "required".into(),
                "必填".into(),
            ),
        ],
    };
    let text = cusdec::print_response(&r, &env());
    assert_eq!(cusdec::parse_response(text.as_bytes()).unwrap(), r);
}

// ---------------------------------------------------------------------------------------------
// Round-trip properties

fn text() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[a-zA-Z0-9中文示例 :+?'<>&.,|/-]{1,20}".prop_map(|s| s.trim().to_owned()))
        .prop_map(|o| o.filter(|s| !s.is_empty()))
}

fn num() -> impl Strategy<Value = Option<NumberText>> {
    prop::option::of("[0-9]{1,6}(\\.[0-9]{1,4})?".prop_map(NumberText::new))
}

fn date() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        (2000u32..2030, 1u32..13, 1u32..29).prop_map(|(y, m, d)| format!("{y}-{m:02}-{d:02}")),
    )
}

fn party() -> impl Strategy<Value = Option<PartyForm>> {
    (text(), text(), text())
        .prop_map(|(name, uscc, customs_code)| PartyForm {
            name,
            uscc,
            customs_code,
        })
        .prop_map(|p| (p != PartyForm::default()).then_some(p))
}

fn charge() -> impl Strategy<Value = Option<ChargeForm>> {
    (text(), num(), text())
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
            num(),
            text(),
            text(),
            text(),
            text(),
            num(),
            text(),
            num(),
            text(),
        ),
        (
            num(),
            text(),
            num(),
            num(),
            text(),
            text(),
            text(),
            text(),
            text(),
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

/// A form of what both DecMessage and CUSDEC carry, direction given.
fn form() -> impl Strategy<Value = DeclarationForm> {
    (
        (
            prop::bool::ANY,
            text(),
            text(),
            text(),
            text(),
            date(),
            date(),
            party(),
            party(),
            party(),
        ),
        (
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
            text(),
        ),
        (
            text(),
            text(),
            text(),
            text(),
            num(),
            num(),
            num(),
            text(),
            charge(),
            charge(),
        ),
        (charge(), text(), text(), text(), (text(), text(), text())),
        prop::collection::vec(item(), 0..4),
        prop::collection::vec((text(), text()), 0..3),
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// DecMessage: exact on what it carries.
    #[test]
    fn decmessage_round_trip(f in form(), seq in text()) {
        let xml = decmessage::print(&f, seq.as_deref());
        let back = decmessage::parse_filing(xml.as_bytes()).map_err(|p| TestCaseError::fail(format!("{p:?}\n{xml}")))?;
        prop_assert_eq!(&back.form, &f, "{}", xml);
        prop_assert_eq!(back.client_seq_no, seq);
    }

    /// CUSDEC: exact on what it carries.
    #[test]
    fn cusdec_round_trip(f in form(), seq in text()) {
        let edi = cusdec::print(&f, seq.as_deref(), &env());
        let back = cusdec::parse(edi.as_bytes()).map_err(|p| TestCaseError::fail(format!("{p:?}\n{edi}")))?;
        prop_assert_eq!(&back.form, &f, "{}", edi);
        prop_assert_eq!(back.client_seq_no, seq);
    }

    /// The EDIFACT syntax layer: any segments survive print → parse, whatever needs release.
    #[test]
    fn edifact_round_trip(segs in prop::collection::vec(
        ("[A-Z]{3}", prop::collection::vec(prop::collection::vec("[a-z0-9:+?' .,中]{0,6}", 1..4), 0..5)),
        0..12,
    )) {
        let segments: Vec<edifact::Segment> = segs
            .into_iter()
            .filter(|(tag, _)| !tag.starts_with("UN"))
            .map(|(tag, els)| {
                let mut s = edifact::Segment::new(&tag, els);
                // What the reader drops: trailing empty components and elements.
                for el in s.elements.iter_mut() {
                    while el.len() > 1 && el.last().is_some_and(String::is_empty) { el.pop(); }
                }
                while s.elements.last().is_some_and(|e| e.iter().all(String::is_empty)) { s.elements.pop(); }
                s
            })
            .collect();
        let i = edifact::Interchange {
            separators: edifact::Separators::default(),
            una: true,
            syntax: "UNOW".into(),
            syntax_version: "4".into(),
            sender: "A".into(),
            recipient: "B".into(),
            date: "250101".into(),
            time: "0000".into(),
            control_reference: "R1".into(),
            messages: vec![edifact::Message {
                reference: "1".into(),
                message_type: "CUSDEC".into(),
                version: "D".into(),
                release: "96B".into(),
                agency: "UN".into(),
                segments,
            }],
        };
        let text = edifact::print(&i);
        let back = edifact::parse(text.as_bytes()).map_err(|p| TestCaseError::fail(format!("{p:?}\n{text}")))?;
        prop_assert_eq!(back, i);
    }

    /// Receipts: print → parse keeps what the XML carries.
    #[test]
    fn receipt_round_trip(note in "[a-z中文 <>&']{0,20}", channel in "[0-9A-Z]") {
        let r = receipt::Receipt {
            event_seq: 1,
            pre_entry_no: "223320250000000001".into(),
            declaration_no: Some("223320251000000001".into()),
            notice_date: "2025-03-10T10:00:00".into(),
            channel: channel.clone(),
            status: "accepted".into(),
            note: note.trim().to_owned(),
            note_en: String::new(),
            declaration_office: "2233".into(),
            ie_date: Some("20250308".into()),
            declaration_date: None,
            problems: vec![],
        };
        let back = receipt::parse(receipt::print(&r).as_bytes()).unwrap();
        prop_assert_eq!(back.len(), 1);
        prop_assert_eq!(&back[0].channel, &channel);
        prop_assert_eq!(&back[0].note, note.trim());
        prop_assert_eq!(back[0].entry_id.as_deref(), Some("223320251000000001"));
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded fuzzing: random bytes and damaged real inputs, problems and never a panic. (The
// general fuzz harness is issue 15's; these keep each new parser honest in every test run.)

fn damaged(seed: u64, base: &[u8], rounds: usize) -> Vec<Vec<u8>> {
    let mut rng = domain::rng::Rng::new(seed);
    (0..rounds)
        .map(|_| {
            let mut b = base.to_vec();
            for _ in 0..(1 + rng.below(8) as usize) {
                if b.is_empty() {
                    break;
                }
                let at = rng.below(b.len() as u64) as usize;
                match rng.below(4) {
                    0 => b[at] = rng.below(256) as u8,
                    1 => {
                        b.remove(at);
                    }
                    2 => b.insert(at, b"'+:?<>&"[rng.below(7) as usize]),
                    _ => b.truncate(at),
                }
            }
            b
        })
        .collect()
}

#[test]
fn parsers_never_panic_on_damaged_input() {
    let edi = fixture("cusdec_SYNTHETIC_import.edi");
    let xml = fixture("decmessage_SYNTHETIC_import.xml");
    let rec = fixture("dec_result_new_K_guarantee_release.xml");
    for (i, b) in damaged(7, &edi, 3000).iter().enumerate() {
        let _ = cusdec::parse(b);
        let _ = cusdec::parse_response(b);
        if i % 3 == 0 {
            let _ = edifact::parse(b);
        }
    }
    for b in damaged(11, &xml, 2000) {
        let _ = decmessage::parse_filing(&b);
    }
    for b in damaged(13, &rec, 2000) {
        let _ = receipt::parse(&b);
    }
    let mut rng = domain::rng::Rng::new(5);
    for _ in 0..3000 {
        let n = rng.below(200) as usize;
        let b: Vec<u8> = (0..n)
            .map(|_| b"UNAB'+:?. HTZ0129\n"[rng.below(18) as usize])
            .collect();
        let _ = edifact::parse(&b);
        let _ = cusdec::parse(&b);
        let r: Vec<u8> = (0..n).map(|_| rng.below(256) as u8).collect();
        let _ = edifact::parse(&r);
        let _ = receipt::parse(&r);
    }
}
