//! Every parser of outside input, fuzzed for a bounded time (`JINGUAN_FUZZ_SECONDS`, default 2
//! per target) over its corpus in `crates/fuzz/corpus/<target>/` (issue 15, item 8). Each
//! target must never panic, and every refusal must be a proper error: at least one problem,
//! each with its messages in Chinese and English (or a non-empty message where the parser's
//! error is one line for an operator). See `crates/fuzz/src/lib.rs` for the engine and what it
//! is not (coverage-guided).

use std::sync::OnceLock;

use domain::declaration::DeclarationForm;
use domain::problem::Problem;
use fuzz::{bilingual, run};

fn refdata() -> &'static refdata::RefData {
    static R: OnceLock<refdata::RefData> = OnceLock::new();
    R.get_or_init(|| refdata::RefData::embedded().expect("the shipped tables load"))
}

fn proper_problems(problems: &[Problem], what: &str) -> Result<(), String> {
    if problems.is_empty() {
        return Err(format!("{what}: refused with no problem"));
    }
    for p in problems {
        if p.code.is_empty() {
            return Err(format!("{what}: a problem without a code: {p:?}"));
        }
        bilingual(&p.message_zh, &p.message_en, what)?;
    }
    Ok(())
}

/// The form checked as the server checks it after parsing.
fn validate(form: &DeclarationForm) -> Result<bool, String> {
    match domain::validate::validate(form, refdata()) {
        Ok(_) => Ok(true),
        Err(p) => proper_problems(p.as_slice(), "validate").map(|()| false),
    }
}

const JSON_DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b"[",
    b"]",
    b"\"",
    b":",
    b",",
    b"null",
    b"true",
    b"-0",
    b"1e999",
    b"-1e-999",
    b"99999999999999999999",
    b"0.0000000000000000000000000001",
    b"\"\\ud800\"",
    b"\"\\u0000\"",
    b"\"items\"",
    b"\"hs_code\"",
    b"\"quantity\"",
    b"\"unit_price\"",
    b"\"currency\"",
    b"\"origin\"",
    b"\"declared_at\"",
    b"\"2025-02-30\"",
    b"\"8471300000\"",
    b"[{}]",
    b"\"\xe4\xb8\xad\"",
    b"\xff",
    b"[[[[[[[[",
    b"{\"a\":{\"a\":",
];

#[test]
fn declaration_json() {
    let r = run("declaration_json", vec![], JSON_DICT, 64 * 1024, |bytes| {
        match domain::validate::parse_form(bytes) {
            Ok(form) => validate(&form),
            Err(p) => proper_problems(p.as_slice(), "parse_form").map(|()| false),
        }
    });
    assert!(r.executions > 0);
}

const XML_DICT: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"<?xml version=\"1.0\" encoding=\"GB2312\"?>",
    b"<?xml version=\"1.0\" encoding=\"UTF-16\"?>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&#0;",
    b"&#x10FFFF;",
    b"&unknown;",
    b"<!DOCTYPE a [<!ENTITY e \"x\">]>",
    b"<DecHead>",
    b"</DecHead>",
    b"<DecList>",
    b"</DecList>",
    b"<DecLists>",
    b"<CodeTS>",
    b"<GQty>",
    b"<DeclPrice>",
    b"<IEFlag>I</IEFlag>",
    b"<TradeCurr>",
    b"\xe4\xb8\xad",
    b"\xb9\xd8",
    b"=\"",
    b"xmlns=\"x\"",
];

#[test]
fn decmessage_xml() {
    let r =
        run(
            "decmessage_xml",
            vec![],
            XML_DICT,
            64 * 1024,
            |bytes| match formats::decmessage::parse(bytes) {
                Ok(form) => validate(&form),
                Err(p) => proper_problems(&p, "decmessage").map(|()| false),
            },
        );
    assert!(r.executions > 0);
}

const WCO_DICT: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"<?xml version=\"1.0\" encoding=\"GB2312\"?>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&#0;",
    b"&unknown;",
    b"<!DOCTYPE a [<!ENTITY e \"x\">]>",
    b"xmlns=\"urn:wco:datamodel:WCO:DEC-DMS:2\"",
    b"xmlns:md=\"urn:wco:datamodel:WCO:DocumentMetaData-DMS:2\"",
    b"<Declaration>",
    b"</Declaration>",
    b"<GoodsShipment>",
    b"<GovernmentAgencyGoodsItem>",
    b"</GovernmentAgencyGoodsItem>",
    b"<AdditionalInformation><StatementCode>TRADER-USCC</StatementCode>",
    b"<TypeCode>IM",
    b"<TypeCode>EX",
    b" currencyID=\"",
    b" unitCode=\"",
    b"<CountryCode>ZZ</CountryCode>",
    b"\xe4\xb8\xad",
    b"\xff",
];

#[test]
fn wcodm_xml() {
    let r = run("wcodm_xml", vec![], WCO_DICT, 64 * 1024, |bytes| {
        match formats::wcodm::parse_filing(bytes) {
            Ok(f) => {
                // What was read prints and reads back to the same form.
                let again = formats::wcodm::print(&f.form, f.client_seq_no.as_deref());
                match formats::wcodm::parse(again.as_bytes()) {
                    Ok(back) if back == f.form => validate(&f.form),
                    Ok(_) => Err("wcodm: print then parse changed the form".into()),
                    Err(p) => Err(format!("wcodm: its own print is refused: {p:?}")),
                }
            }
            Err(p) => proper_problems(&p, "wcodm").map(|()| false),
        }
    });
    assert!(r.executions > 0);
}

const EDIFACT_DICT: &[&[u8]] = &[
    b"UNA:+.? '",
    b"UNA:+,? '",
    b"UNB+UNOW:4+A+B+250101:0000+R1'",
    b"UNH+1+CUSCAR:D:96B:UN'",
    b"UNT+9+1'",
    b"UNZ+1+R1'",
    b"BGM+785:::original+M-1+9'",
    b"TDT+20+V1+1+++++9074729:146::NAME'",
    b"LOC+41+2233'",
    b"LOC+42+5304'",
    b"CNI+1+B-1'",
    b"RFF+MB:B-0'",
    b"GID+1+10:CT'",
    b"FTX+AAA+++text'",
    b"MEA+AAE+G+KGM:1.5'",
    b"SGP+MSKU1234565'",
    b"?",
    b"'",
    b"+",
    b":",
    b"\xe4\xb8\xad",
];

#[test]
fn cuscar_edifact() {
    let r =
        run(
            "cuscar_edifact",
            vec![],
            EDIFACT_DICT,
            64 * 1024,
            |bytes| match formats::cuscar::parse(bytes) {
                Ok(f) => {
                    let body = f.manifest.to_json();
                    if body.get("manifest_id").is_some_and(|v| v.is_string()) {
                        Ok(true)
                    } else {
                        Err(format!(
                            "cuscar: a manifest read without its number: {body}"
                        ))
                    }
                }
                Err(p) => proper_problems(&p, "cuscar").map(|()| false),
            },
        );
    assert!(r.executions > 0);
}

const RULE_DICT: &[&[u8]] = &[
    b"rule ",
    b"when ",
    b" and ",
    b" or ",
    b" not ",
    b"(",
    b")",
    b"==",
    b"!=",
    b">=",
    b" in ",
    b"[",
    b"]",
    b"\"",
    b"lane",
    b"valid",
    b"origin",
    b"hs_code",
    b"unit_price",
    b"weight",
    b"1e400",
    b"-9999999999999999999999999999",
    b"\n",
    b"#",
    b"{",
    b"}",
    b":",
    b",",
    b"((((((((((",
    b"not not not not ",
    b"\xe4\xb8\xad",
];

#[test]
fn risk_rules() {
    let r = run("risk_rules", vec![], RULE_DICT, 64 * 1024, |bytes| {
        let text = String::from_utf8_lossy(bytes);
        match risk::rule::RuleSet::parse(&text) {
            Ok(_) => Ok(true),
            Err(errors) => {
                if errors.is_empty() {
                    return Err("rules refused with no error".into());
                }
                for e in &errors {
                    bilingual(&e.message_zh, &e.message_en, "rule error")?;
                }
                Ok(false)
            }
        }
    });
    assert!(r.executions > 0);
}

const CSV_DICT: &[&[u8]] = &[
    b",",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b"\r",
    b",,,,,,",
    b"2025-01-01",
    b"2025-13-45",
    b"9999-12-31",
    b"0",
    b"-1",
    b"100%",
    b"1e30",
    b"0.000000000000000000000000001",
    b"\xef\xbb\xbf",
    b"\xe4\xb8\xad",
    b"\xff\xfe",
    b"N/A",
    b" ",
];

/// The first line names the table; the rest is the file.
fn split_table(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let name = std::str::from_utf8(&bytes[..nl]).ok()?;
    Some((name, &bytes[nl + 1..]))
}

#[test]
fn refdata_csv() {
    let r = run("refdata_csv", vec![], CSV_DICT, 64 * 1024, |bytes| {
        let Some((name, body)) = split_table(bytes) else {
            return Ok(false);
        };
        let Some(table) = refdata::Table::from_name(name) else {
            return Ok(false);
        };
        match refdata::RefData::check_table(table, body) {
            Ok(_) => Ok(true),
            Err((_, e)) => {
                if e.to_string().trim().is_empty() {
                    return Err(format!("{name}: an empty error"));
                }
                Ok(false)
            }
        }
    });
    assert!(r.executions > 0);
}

#[test]
fn tax_csv() {
    let r = run("tax_csv", vec![], CSV_DICT, 64 * 1024, |bytes| {
        let Some((name, body)) = split_table(bytes) else {
            return Ok(false);
        };
        let text = String::from_utf8_lossy(body);
        let outcome: Result<(), Vec<tax::RowError>> = match name {
            "rates" => tax::RateTable::parse_csv(&text).map(drop),
            "remedies" => tax::remedies::TradeRemedyTable::parse_csv(&text).map(drop),
            "calendar" => tax::TradingCalendar::parse_csv(&text).map(drop),
            "collection" => tax::collection::CollectionPolicy::parse_csv(&text).map(drop),
            "ecommerce" => tax::EcommerceHistory::parse_csv(&text).map(drop),
            _ => return Ok(false),
        };
        match outcome {
            Ok(()) => Ok(true),
            Err(errors) if errors.is_empty() => Err(format!("{name}: refused with no error")),
            Err(errors) => match errors
                .iter()
                .find(|e| e.message.trim().is_empty() || e.line == 0)
            {
                Some(e) => Err(format!("{name}: an improper row error {e:?}")),
                None => Ok(false),
            },
        }
    });
    assert!(r.executions > 0);
}

/// Envelopes as the exchange writes them, signed with a key made here (Ed25519 and SM2), so that
/// mutations start from real signatures (their payloads need not decode).
fn signed_envelopes() -> (Vec<Vec<u8>>, exchange::sign::KeyRing) {
    use exchange::message::{Agency, Envelope, Kind, MessageId};
    use exchange::sign::{Algorithm, KeyId, KeyRing, SigningKey};
    let customs = Agency::parse("CUSTOMS").expect("agency");
    let mut ring = KeyRing::new();
    let mut out = Vec::new();
    for (i, algorithm) in [Algorithm::Ed25519, Algorithm::Sm2Sm3]
        .into_iter()
        .enumerate()
    {
        let key = SigningKey::from_bytes(
            algorithm,
            customs.clone(),
            KeyId::parse(&format!("fuzz-{i}")).expect("key id"),
            &[7u8 + i as u8; 32],
        )
        .expect("key");
        ring.insert(
            customs.clone(),
            KeyId::parse(&format!("fuzz-{i}")).expect("key id"),
            key.public_key(),
        );
        let payload = br#"{"declaration_no":"220120250000000001","declarant":"91310000MA1FL8TQ3X","released_at":"2025-03-10T02:00:00Z","items":[]}"#;
        let mut e = Envelope::new(
            MessageId::new(customs.clone(), 1 + i as u64),
            Kind::parse("declaration_released.v1").expect("kind"),
            vec![
                Agency::parse("TAX").expect("agency"),
                Agency::parse("STATS").expect("agency"),
            ],
            chrono::DateTime::from_timestamp_millis(1_741_572_000_000).expect("time"),
            payload.to_vec(),
        )
        .expect("envelope");
        exchange::sign::sign(&mut e, &key);
        out.push(e.to_wire());
    }
    (out, ring)
}

const ENVELOPE_DICT: &[&[u8]] = &[
    b"{",
    b"}",
    b"\"",
    b":",
    b",",
    b"null",
    b"\"version\":2",
    b"\"version\":1",
    b"\"version\":0",
    b"\"batch\":{\"size\":2,\"index\":5,\"proof\":\"00\"}",
    b"\"recipients\":[]",
    b"\"algorithm\":\"sm2\"",
    b"\"value\":\"zz\"",
    b"\"created_at\":\"9999-99-99T00:00:00Z\"",
    b"\\\"",
    b"\\u0000",
    b"4294967295",
    b"18446744073709551616",
    b"-1",
];

#[test]
fn exchange_envelope() {
    let (seeds, ring) = signed_envelopes();
    let r = run(
        "exchange_envelope",
        seeds,
        ENVELOPE_DICT,
        64 * 1024,
        |bytes| {
            match exchange::message::Envelope::from_wire(bytes) {
                Ok(e) => {
                    // What an agency does next: check the signature, decode the payload.
                    let verified = exchange::sign::verify(&e, &ring).is_ok();
                    let decoded = match e.payload() {
                        Ok(_) => true,
                        Err(err) if err.to_string().trim().is_empty() => {
                            return Err("an empty payload error".into())
                        }
                        Err(_) => false,
                    };
                    let _ = (verified, decoded);
                    Ok(true)
                }
                Err(err) if err.to_string().trim().is_empty() => {
                    Err("an empty envelope error".into())
                }
                Err(_) => Ok(false),
            }
        },
    );
    assert!(r.executions > 0);
}
