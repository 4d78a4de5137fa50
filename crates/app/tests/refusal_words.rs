//! Every refusal of the access matrix (403) reads as a sentence in each language: no name of
//! the code (an `Operation` or `CargoOperation` variant, a snake_case kind, a CamelCase
//! identifier) reaches the user (issue 20: "officer类用户无权在此执行List").

use std::collections::{BTreeSet, HashSet};

use app::{Ask, CargoOperation, CargoResource, Duty, Operation, Principal, Resource};
use domain::codes::{OfficeCode, Uscc};

fn principals() -> Vec<Principal> {
    let uscc = Uscc::parse("91110000600037341L").unwrap();
    let office = OfficeCode::parse("2233").unwrap();
    vec![
        Principal::Enterprise {
            user_id: 1,
            login: "e".into(),
            uscc,
            roles: BTreeSet::from([Duty::Viewer]),
        },
        Principal::Officer {
            user_id: 2,
            login: "o".into(),
            office,
            duties: BTreeSet::new(),
        },
        Principal::Hq {
            user_id: 3,
            login: "h".into(),
            duties: BTreeSet::new(),
        },
        Principal::Agency {
            user_id: 4,
            login: "a".into(),
            agency: "commerce".into(),
        },
        Principal::Admin {
            user_id: 5,
            login: "admin".into(),
        },
        Principal::Carrier {
            user_id: 6,
            login: "c".into(),
            uscc,
        },
        Principal::PostalOperator {
            user_id: 7,
            login: "p".into(),
            uscc,
        },
    ]
}

/// What must not appear in a message: a word with an inner capital (`AuditCertification`), a
/// snake_case word (`postal_operator`), or the variant's own name.
fn raw_identifier(text: &str, variant: &str) -> Option<String> {
    if text.contains(variant) {
        return Some(variant.to_owned());
    }
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        let inner_capital = word.chars().skip(1).any(|c| c.is_ascii_uppercase())
            && word.chars().any(|c| c.is_ascii_lowercase());
        if word.contains('_') || inner_capital {
            return Some(word.to_owned());
        }
    }
    None
}

#[test]
fn no_refusal_names_an_identifier() {
    let mut checked = 0;
    let mut labels_en = HashSet::new();
    let asks: Vec<(Ask, String)> = Operation::ALL
        .iter()
        .map(|op| (Ask::Declaration(*op, Resource::Listing), format!("{op:?}")))
        .chain(
            CargoOperation::ALL
                .iter()
                .map(|op| (Ask::Cargo(*op, CargoResource::Listing), format!("{op:?}"))),
        )
        .collect();
    for p in principals() {
        for (ask, variant) in &asks {
            let d = ask.denied(&p);
            assert_eq!(d.code, "forbidden");
            for text in [&d.message_en, &d.message_zh] {
                assert!(
                    raw_identifier(text, variant).is_none(),
                    "{} names {:?}: {text}",
                    p.kind(),
                    raw_identifier(text, variant)
                );
            }
            // The Chinese sentence is Chinese: no Latin letters but AEO.
            assert!(
                !d.message_zh
                    .replace("AEO", "")
                    .chars()
                    .any(|c| c.is_ascii_alphabetic()),
                "{}",
                d.message_zh
            );
            assert!(d.message_en.ends_with(" here"), "{}", d.message_en);
            labels_en.insert(d.message_en.clone());
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        7 * (Operation::ALL.len() + CargoOperation::ALL.len())
    );
    // Each operation has its own words (no two share a label).
    assert_eq!(labels_en.len(), checked, "two operations read the same");
}

/// The example of the issue, as a customs officer reads it now.
#[test]
fn an_officer_refused_the_listing_reads_a_sentence() {
    let officer = &principals()[1];
    let d = Ask::Declaration(Operation::List, Resource::Listing).denied(officer);
    assert_eq!(d.message_zh, "海关关员无权在此查询报关单列表");
    assert_eq!(
        d.message_en,
        "a customs officer may not list declarations here"
    );
    let d = Ask::Declaration(Operation::AuditCertification, Resource::Listing).denied(officer);
    assert_eq!(
        d.message_en,
        "a customs officer may not audit AEO certifications here"
    );
}
