//! The single-window `DecMessage` reader: the shared samples (copied into `fixtures/`), GB2312
//! files, and hostile inputs, which must give problems and never a panic.
//!
//! Fixtures: `decmessage_SYNTHETIC_import.xml` and `dec_data_legacy_gb2312.xml` are copies of
//! `shared/data/standards/chinaxml/`; `decmessage_SYNTHETIC_import_gb2312.xml` is the first one
//! with its prolog set to `GB2312` and its bytes converted (`iconv -f UTF-8 -t GB2312`).

use domain::codes::Direction;
use domain::declaration::{DeclarationForm, NumberText};
use domain::Problem;
use formats::decmessage::{parse, parse_with_direction, BYTES_MAX, DEPTH_MAX};
use proptest::prelude::*;

// A test reads its fixture files; the library itself never touches files (clippy.toml).
#[allow(clippy::disallowed_methods)]
fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn num(s: &str) -> Option<NumberText> {
    Some(NumberText::new(s))
}
fn s(v: &str) -> Option<String> {
    Some(v.to_owned())
}

fn problems(bytes: &[u8]) -> Vec<Problem> {
    match parse(bytes) {
        Ok(f) => panic!("expected problems, got {f:?}"),
        Err(p) => {
            assert!(!p.is_empty());
            for x in &p {
                assert!(
                    !x.message_zh.is_empty() && !x.message_en.is_empty(),
                    "{x:?}"
                );
            }
            p
        }
    }
}

fn codes(bytes: &[u8]) -> Vec<&'static str> {
    problems(bytes).iter().map(|p| p.code).collect()
}

/// A minimal message around a head and lists.
fn message(prolog_encoding: &str, head: &str, lists: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"{prolog_encoding}\"?>\n\
         <DecMessage xmlns=\"http://www.chinaport.gov.cn/dec\" version=\"3.1\">\
         <DecHead>{head}</DecHead><DecLists>{lists}</DecLists></DecMessage>"
    )
}

fn check_synthetic(f: &DeclarationForm) {
    assert_eq!(f.direction.as_deref(), Some("import"));
    assert_eq!(f.declaration_office, s("2200"));
    assert_eq!(f.entry_exit_office, s("2201"));
    assert_eq!(f.record_no, None, "empty ManualNo is absent");
    assert_eq!(f.contract_no, s("CT-2024-001"));
    assert_eq!(f.ie_date, s("2024-04-17"));
    assert_eq!(f.declaration_date, None);
    let trader = f.trader.as_ref().unwrap();
    assert_eq!(trader.name, s("示例进口有限公司"));
    assert_eq!(trader.uscc, s("91310000000000000X"));
    assert_eq!(trader.customs_code, s("3100000000"));
    let overseas = f.overseas_party.as_ref().unwrap();
    assert_eq!(overseas.name, s("EXAMPLE EXPORTER INC"));
    assert_eq!(overseas.code, None);
    let owner = f.owner.as_ref().unwrap();
    assert_eq!(owner.name, s("示例进口有限公司"));
    assert_eq!(owner.uscc, s("91310000000000000X"));
    let agent = f.agent.as_ref().unwrap();
    assert_eq!(agent.name, s("示例报关行有限公司"));
    assert_eq!(agent.uscc, s("91310000000000001X"));
    assert_eq!(agent.customs_code, s("3100000000"));
    assert_eq!(f.transport_mode, s("2"));
    assert_eq!(f.vessel, s("EXAMPLE VESSEL"));
    assert_eq!(f.voyage_no, s("001E"), "from DecFreeTxt/VoyNo");
    assert_eq!(f.bill_no, s("MSKU1234567"));
    assert_eq!(f.goods_place, s("示例仓库"));
    assert_eq!(f.trade_mode, s("0110"));
    assert_eq!(f.levy_nature, s("101"));
    assert_eq!(f.licence_no, None);
    assert_eq!(f.loading_port, s("USLAX"));
    assert_eq!(f.destination_port, s("USLAX"));
    assert_eq!(f.trading_country, s("USA"));
    assert_eq!(f.dispatch_country, s("USA"));
    assert_eq!(f.domestic_port, s("310001"));
    assert_eq!(f.package_type, s("22"));
    assert_eq!(f.packages, num("50"));
    assert_eq!(f.gross_weight_kg, num("1200.5"));
    assert_eq!(f.net_weight_kg, num("1100"));
    assert_eq!(f.transaction_terms, s("1"));
    let freight = f.freight.as_ref().unwrap();
    assert_eq!(
        (
            freight.mark.as_deref(),
            freight.value.clone(),
            freight.currency.as_deref()
        ),
        (Some("3"), num("500"), Some("USD"))
    );
    assert_eq!(f.insurance, None, "empty InsurMark/Rate/Curr is absent");
    assert_eq!(f.other_charges, None);
    assert_eq!(f.documents.len(), 1);
    assert_eq!(f.documents[0].code, s("A"));
    assert_eq!(f.documents[0].number, s("EXAMPLE-CERT-001"));
    assert_eq!(f.marks, s("N/M"));
    assert_eq!(f.remarks, s("备注 & notes"), "CDATA");
    assert_eq!(f.entry_type, s("0"));

    assert_eq!(f.items.len(), 1);
    let i = &f.items[0];
    assert_eq!(i.item_no, num("1"));
    assert_eq!(i.commodity_code, s("8510900000"));
    assert_eq!(i.name, s("电动剃须刀零件"));
    assert_eq!(i.specification, s("0|0|用途:剃须刀用|品牌:EXAMPLE|型号:X1"));
    assert_eq!(i.declared_quantity, num("1000"));
    assert_eq!(i.declared_unit, s("007"));
    assert_eq!(i.first_quantity, num("1100"));
    assert_eq!(i.first_unit, s("035"));
    assert_eq!(i.second_quantity, None);
    assert_eq!(i.second_unit, None);
    assert_eq!(i.unit_price, num("12.5"));
    assert_eq!(i.total_price, num("12500"));
    assert_eq!(i.currency, s("USD"));
    assert_eq!(i.origin_country, s("USA"));
    assert_eq!(i.destination_country, s("CHN"));
    assert_eq!(i.district, s("31019"));
    assert_eq!(i.duty_treatment, s("1"));
}

#[test]
fn the_shared_synthetic_sample_parses() {
    let f = parse(&fixture("decmessage_SYNTHETIC_import.xml")).unwrap();
    check_synthetic(&f);
}

#[test]
fn the_sample_in_gb2312_gives_the_same_form() {
    let bytes = fixture("decmessage_SYNTHETIC_import_gb2312.xml");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the fixture is GB2312, not UTF-8"
    );
    let f = parse(&bytes).unwrap();
    check_synthetic(&f);
    assert_eq!(
        f,
        parse(&fixture("decmessage_SYNTHETIC_import.xml")).unwrap()
    );
}

/// The legacy file is a `DEC_DATA` receipt, not a declaration: a clear `root` problem. Its
/// GB2312 text, put in a declaration, decodes to the right characters.
#[test]
fn the_legacy_gb2312_receipt() {
    let legacy = fixture("dec_data_legacy_gb2312.xml");
    let p = problems(&legacy);
    assert_eq!(p[0].code, "root");
    assert!(p[0].message_en.contains("DEC_DATA"), "{p:?}");

    let start = legacy.windows(6).position(|w| w == b"<NOTE>").unwrap() + 6;
    let end = legacy.windows(7).position(|w| w == b"</NOTE>").unwrap();
    let note = &legacy[start..end];
    assert!(
        std::str::from_utf8(note).is_err(),
        "the note is GB2312 bytes"
    );
    for label in ["GB2312", "gb2312", "GBK", "GB18030"] {
        let mut doc = format!(
            "<?xml version=\"1.0\" encoding=\"{label}\"?><DecMessage><DecHead><IEFlag>E</IEFlag></DecHead>\
             <DecLists><DecList><GName>"
        )
        .into_bytes();
        doc.extend_from_slice(note);
        doc.extend_from_slice(b"</GName></DecList></DecLists></DecMessage>");
        let f = parse(&doc).unwrap();
        assert_eq!(
            f.items[0].name.as_deref(),
            Some("Z11000001308087512直接申报成功"),
            "{label}"
        );
        assert_eq!(f.direction.as_deref(), Some("export"));
    }
}

#[test]
fn gbk_names_in_cdata_and_attributes_of_the_prolog() {
    // 示例 in GBK: CE D6 C0 FD (GB2312 subset).
    let mut doc = b"<?xml version='1.0' encoding='GBK' standalone='yes'?><DecMessage><DecHead><TradeName><![CDATA[".to_vec();
    doc.extend_from_slice(&[0xCA, 0xBE, 0xC0, 0xFD]);
    doc.extend_from_slice(b" & Co]]></TradeName></DecHead></DecMessage>");
    let f = parse(&doc).unwrap();
    assert_eq!(f.trader.unwrap().name.as_deref(), Some("示例 & Co"));
}

#[test]
fn direction_from_flag_number_or_hint() {
    let doc = message("UTF-8", "<IEFlag>E</IEFlag>", "");
    assert_eq!(
        parse(doc.as_bytes()).unwrap().direction.as_deref(),
        Some("export")
    );
    // The flag wins over the hint.
    let f = parse_with_direction(doc.as_bytes(), Some(Direction::Import)).unwrap();
    assert_eq!(f.direction.as_deref(), Some("export"));

    let none = message(
        "UTF-8",
        "<IEFlag></IEFlag><CustomMaster>2200</CustomMaster>",
        "",
    );
    assert_eq!(parse(none.as_bytes()).unwrap().direction, None);
    let f = parse_with_direction(none.as_bytes(), Some(Direction::Export)).unwrap();
    assert_eq!(f.direction.as_deref(), Some("export"));

    let by_number = message("UTF-8", "<PreEntryId>220020241000000001</PreEntryId>", "");
    assert_eq!(
        parse(by_number.as_bytes()).unwrap().direction.as_deref(),
        Some("import")
    );

    let bad = message("UTF-8", "<IEFlag>X</IEFlag>", "");
    let p = problems(bad.as_bytes());
    assert_eq!(
        (p[0].field.as_str(), p[0].code),
        ("DecHead.IEFlag", "direction")
    );
}

#[test]
fn export_takes_the_overseas_consignee_and_dates_convert() {
    let doc = message(
        "UTF-8",
        "<IEFlag>E</IEFlag><DDate>20240418103000</DDate><IEDate>20240417</IEDate>\
         <OverseasConsignorEname>WRONG SIDE</OverseasConsignorEname>\
         <OverseasConsigneeCode>SG123456789012</OverseasConsigneeCode>\
         <OverseasConsigneeCname>新加坡买方</OverseasConsigneeCname>\
         <OverseasConsigneeAddr>1 Example Rd</OverseasConsigneeAddr>\
         <VoyageNo>V1</VoyageNo><InsurMark>1</InsurMark><InsurRate>0.3</InsurRate>",
        "<DecList><GNo>1</GNo><DestCode>310101</DestCode></DecList><DecList><GNo>2</GNo></DecList>",
    );
    let f = parse(doc.as_bytes()).unwrap();
    assert_eq!(f.declaration_date.as_deref(), Some("2024-04-18"));
    assert_eq!(f.ie_date.as_deref(), Some("2024-04-17"));
    let o = f.overseas_party.unwrap();
    assert_eq!(o.code.as_deref(), Some("SG123456789012"));
    assert_eq!(o.name.as_deref(), Some("新加坡买方"));
    assert_eq!(o.address.as_deref(), Some("1 Example Rd"));
    assert_eq!(f.voyage_no.as_deref(), Some("V1"));
    let ins = f.insurance.unwrap();
    assert_eq!((ins.mark.as_deref(), ins.currency), (Some("1"), None));
    assert_eq!(f.items.len(), 2);
    assert_eq!(f.items[0].district.as_deref(), Some("310101"));
    assert_eq!(f.items[1].item_no, num("2"));
}

#[test]
fn empty_self_closing_and_whitespace_elements_are_absent() {
    let doc = message(
        "UTF-8",
        "<IEFlag>I</IEFlag><ContrNo/><BillNo>   </BillNo><TradeName>\n  A  \n</TradeName>",
        "",
    );
    let f = parse(doc.as_bytes()).unwrap();
    assert_eq!(f.contract_no, None);
    assert_eq!(f.bill_no, None);
    assert_eq!(f.trader.unwrap().name.as_deref(), Some("A"));
    assert!(f.items.is_empty());
}

#[test]
fn entities_and_prefixes() {
    let doc = "<?xml version=\"1.0\"?><d:DecMessage xmlns:d=\"http://www.chinaport.gov.cn/dec\">\
               <d:DecHead><d:MarkNo>A&amp;B &#x4E2D;&#22269; &lt;1&gt;</d:MarkNo></d:DecHead></d:DecMessage>";
    let f = parse(doc.as_bytes()).unwrap();
    assert_eq!(f.marks.as_deref(), Some("A&B 中国 <1>"));
}

#[test]
fn the_form_reads_back_as_json() {
    let f = parse(&fixture("decmessage_SYNTHETIC_import.xml")).unwrap();
    let json = serde_json::to_vec(&f).unwrap();
    let back = domain::validate::parse_form(&json).unwrap();
    assert_eq!(back, f);
}

#[test]
fn hostile_inputs_give_problems() {
    assert_eq!(codes(b""), ["empty"]);
    assert_eq!(codes(b"  \n"), ["empty"]);
    assert_eq!(codes(b"garbage \x00\xff\xfe"), ["not_xml"]);
    assert_eq!(codes(b"{\"direction\":\"import\"}"), ["not_xml"]);
    assert_eq!(codes(b"<DecMessage><DecHead>"), ["not_xml"]);
    assert_eq!(codes(b"<DecMessage><DecHead></DecMessage>"), ["not_xml"]);
    assert_eq!(
        codes(b"<DecMessage><DecHead><A>1</B></DecHead></DecMessage>"),
        ["not_xml"]
    );
    assert_eq!(codes(b"<DecMessage/><DecMessage/>"), ["not_xml"]);
    assert_eq!(
        codes(b"<DecMessage><DecHead/></DecMessage>junk"),
        ["not_xml"]
    );
    assert_eq!(
        codes(b"<DecMessage><DecHead><A>&bogus;</A></DecHead></DecMessage>"),
        ["not_xml"]
    );
    assert_eq!(
        codes(b"<DecMessage><DecHead><A>&#0;</A></DecHead></DecMessage>"),
        ["not_xml"]
    );
    assert_eq!(
        codes(b"<DecMessage><DecHead><A x='1></A></DecHead></DecMessage>"),
        ["not_xml"]
    );
    assert_eq!(
        codes(b"<DEC_RESULT><CHANNEL>7</CHANNEL></DEC_RESULT>"),
        ["root"]
    );
    assert_eq!(codes(b"<DecMessage></DecMessage>"), ["required"]);
    assert_eq!(
        codes(b"<!DOCTYPE x [<!ENTITY a \"aaaa\">]><DecMessage><DecHead/></DecMessage>"),
        ["doctype"]
    );
    // Truncated samples, at every byte.
    let sample = fixture("decmessage_SYNTHETIC_import.xml");
    for cut in (0..sample.len() - 20).step_by(7) {
        let r = parse(&sample[..cut]);
        assert!(r.is_err(), "truncated at {cut} parsed");
    }
    // Duplicates.
    let dup = message(
        "UTF-8",
        "<IEFlag>I</IEFlag><GrossWet>1</GrossWet><GrossWet>2</GrossWet>",
        "",
    );
    let p = problems(dup.as_bytes());
    assert_eq!(
        (p[0].field.as_str(), p[0].code),
        ("DecHead.GrossWet", "duplicate")
    );
    let two_heads = "<DecMessage><DecHead/><DecHead/></DecMessage>";
    let p = problems(two_heads.as_bytes());
    assert_eq!((p[0].field.as_str(), p[0].code), ("DecHead", "duplicate"));
    let dup_item = message("UTF-8", "", "<DecList><GNo>1</GNo><GNo>1</GNo></DecList>");
    let p = problems(dup_item.as_bytes());
    assert_eq!(p[0].field, "DecLists.DecList[0].GNo");
}

#[test]
fn deep_nesting_is_refused() {
    let mut doc = String::from("<DecMessage>");
    for _ in 0..100_000 {
        doc.push_str("<a>");
    }
    assert_eq!(codes(doc.as_bytes()), ["too_deep"]);
    // Just within the limit is fine (skipped as unknown).
    let mut ok = String::from("<DecMessage><DecHead/>");
    for _ in 0..DEPTH_MAX - 1 {
        ok.push_str("<a>");
    }
    for _ in 0..DEPTH_MAX - 1 {
        ok.push_str("</a>");
    }
    ok.push_str("</DecMessage>");
    assert!(parse(ok.as_bytes()).is_ok());
}

#[test]
fn huge_input_is_refused() {
    let mut doc = message("UTF-8", "<NoteS>", "").into_bytes();
    doc.resize(BYTES_MAX + 1, b'x');
    assert_eq!(codes(&doc), ["too_large"]);
    // Just under: a long (well-formed) remark is read.
    let head = "<IEFlag>I</IEFlag><NoteS>";
    let pad = BYTES_MAX - message("UTF-8", head, "").len() - "</NoteS>".len();
    let doc = message("UTF-8", &format!("{head}{}</NoteS>", "y".repeat(pad)), "");
    assert_eq!(doc.len(), BYTES_MAX);
    assert_eq!(
        parse(doc.as_bytes()).unwrap().remarks.map(|r| r.len()),
        Some(pad)
    );
}

#[test]
fn counts_are_bounded() {
    // Goods lines: at most 50.
    let lists = "<DecList><GNo>1</GNo></DecList>".repeat(51);
    let p = problems(message("UTF-8", "", &lists).as_bytes());
    assert_eq!(
        (p[0].field.as_str(), p[0].code),
        ("DecLists", "items_count")
    );
    let lists = "<DecList><GNo>1</GNo></DecList>".repeat(50);
    assert_eq!(
        parse(message("UTF-8", "", &lists).as_bytes())
            .unwrap()
            .items
            .len(),
        50
    );
    // Attached documents.
    let docs = "<LicenseDocu><DocuCode>A</DocuCode></LicenseDocu>".repeat(101);
    let doc =
        format!("<DecMessage><DecHead/><DecLicenseDocus>{docs}</DecLicenseDocus></DecMessage>");
    assert_eq!(codes(doc.as_bytes()), ["too_many"]);
    // Problems: reading stops at 100.
    let dups = "<GrossWet>1</GrossWet>".repeat(40_000);
    let p = problems(message("UTF-8", &dups, "").as_bytes());
    assert_eq!(p.len(), formats::decmessage::PROBLEMS_MAX);
    // Many distinct unknown elements in the head: read in good time, skipped.
    let mut head = String::from("<IEFlag>I</IEFlag>");
    let mut i = 0;
    while head.len() < BYTES_MAX - 1000 {
        head.push_str(&format!("<x{i}/>"));
        i += 1;
    }
    // The test times the parse to prove it stays linear; the library never reads a clock.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    assert_eq!(
        parse(message("UTF-8", &head, "").as_bytes())
            .unwrap()
            .direction
            .as_deref(),
        Some("import")
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn unknown_and_unsupported_encodings_are_problems() {
    let p = problems(message("KLINGON-8", "", "").as_bytes());
    assert_eq!(p[0].code, "encoding");
    assert!(p[0].message_en.contains("KLINGON-8"));
    assert_eq!(codes(message("UTF-16", "", "").as_bytes()), ["encoding"]);
    assert_eq!(
        codes(message("ISO-2022-JP", "", "").as_bytes()),
        ["encoding"]
    );
    // UTF-16 by its byte order mark.
    let utf16: Vec<u8> = "\u{feff}<DecMessage/>"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    assert_eq!(codes(&utf16), ["encoding"]);
    // GBK bytes under a UTF-8 prolog: an encoding problem at the element.
    let mut doc =
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><DecMessage><DecHead><TradeName>".to_vec();
    doc.extend_from_slice(&[0xCA, 0xBE, 0xC0, 0xFD]);
    doc.extend_from_slice(b"</TradeName></DecHead></DecMessage>");
    let p = problems(&doc);
    assert_eq!(
        (p[0].field.as_str(), p[0].code),
        ("DecHead.TradeName", "encoding")
    );
    // No prolog: UTF-8 is assumed, and GBK bytes are refused the same way.
    let p = problems(&doc[doc.iter().position(|b| *b == b'>').unwrap() + 1..]);
    assert_eq!(p[0].code, "encoding");
    // A byte that is invalid in GBK.
    let mut doc =
        b"<?xml version=\"1.0\" encoding=\"GB2312\"?><DecMessage><DecHead><TradeName>".to_vec();
    doc.extend_from_slice(&[0x81, 0x20]);
    doc.extend_from_slice(b"</TradeName></DecHead></DecMessage>");
    assert_eq!(codes(&doc), ["encoding"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Random bytes never panic.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    /// Random edits of the sample never panic; what parses is still a form.
    #[test]
    fn mutated_samples_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = fixture("decmessage_SYNTHETIC_import_gb2312.xml");
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let keep = bytes.len() - cut.index(bytes.len() / 4);
        bytes.truncate(keep);
        let _ = parse(&bytes);
    }

    /// Random XML-ish token soup (tags of the format, text, CDATA, references) never panics.
    #[test]
    fn token_soup_never_panics(tokens in proptest::collection::vec(prop_oneof![
        Just("<DecMessage>".to_owned()), Just("</DecMessage>".to_owned()),
        Just("<DecHead>".to_owned()), Just("</DecHead>".to_owned()),
        Just("<DecLists>".to_owned()), Just("</DecLists>".to_owned()),
        Just("<DecList>".to_owned()), Just("</DecList>".to_owned()),
        Just("<GName>".to_owned()), Just("</GName>".to_owned()), Just("<GName/>".to_owned()),
        Just("<IEFlag>I</IEFlag>".to_owned()), Just("<![CDATA[x]]>".to_owned()),
        Just("&amp;".to_owned()), Just("&#x0;".to_owned()), Just("&#xD800;".to_owned()),
        Just("<?xml version=\"1.0\" encoding=\"GBK\"?>".to_owned()), Just("<!-- c -->".to_owned()),
        "[a-z<>/&;#]{0,6}",
    ], 0..40)) {
        let _ = parse(tokens.concat().as_bytes());
    }
}
