//! Every string of the web interface has a translation in both languages: the dictionaries
//! (`web/i18n/zh.json`, `en.json`) have the same keys, none empty; every key the HTML and
//! JavaScript name exists; every value the server may send for a translated family (statuses,
//! lanes, event kinds, tax kinds, …) has its key; and no key is left unused.
//!
//! Keys are named in the sources as string literals of the form `ns.name` whose namespace is a
//! namespace of the dictionary (element specs such as `h('form.card')` are not keys), or in
//! `data-i18n` / `data-i18n-aria` attributes. A family (`status`, `lane`, …) is used through
//! `tk('family', value)`: its keys are enumerated here from the Rust types.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use clearance::{Lane, Status};

fn web_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web")
}

fn dictionary(lang: &str) -> BTreeMap<String, String> {
    let path = web_dir().join("i18n").join(format!("{lang}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The HTML and JavaScript shipped (every file the server embeds, from `web::ASSETS`).
fn sources() -> Vec<(String, String)> {
    let mut out = vec![(
        "index.html".to_owned(),
        String::from_utf8(server::web::INDEX_HTML.to_vec()).unwrap(),
    )];
    for (path, content_type, bytes) in server::web::ASSETS {
        if content_type.starts_with("text/javascript") && !path.starts_with("vendor/") {
            out.push((
                (*path).to_owned(),
                String::from_utf8(bytes.to_vec()).unwrap(),
            ));
        }
    }
    out
}

/// Quoted literals `'a.b'` / `"a.b"` (not after `h(`, the element builder), outside `//` comments.
fn literals(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in src.lines() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let q = bytes[i];
            if q == b'\'' || q == b'"' {
                if let Some(len) = line[i + 1..].find(q as char) {
                    let lit = &line[i + 1..i + 1 + len];
                    let after_h = i >= 2 && &line[i - 2..i] == "h(";
                    let key_like = lit.contains('.')
                        && lit.split('.').all(|p| {
                            !p.is_empty()
                                && p.bytes().all(|b| {
                                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'
                                })
                        });
                    if key_like && !after_h {
                        out.insert(lit.to_owned());
                    }
                    i += len + 2;
                    continue;
                }
            }
            i += 1;
        }
    }
    out
}

fn attributes(src: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for attr in ["data-i18n=\"", "data-i18n-aria=\""] {
        for (at, _) in src.match_indices(attr) {
            let rest = &src[at + attr.len()..];
            if let Some(end) = rest.find('"') {
                out.insert(rest[..end].to_owned());
            }
        }
    }
    out
}

fn snake(v: impl serde::Serialize) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_owned()
}

/// Event kinds by name, as `clearance::EventKind::name` gives them (read from its source, so
/// that a new event kind needs its translation).
fn event_names() -> BTreeSet<String> {
    let src = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../clearance/src/model.rs"),
    )
    .unwrap();
    let start = src.find("impl EventKind").expect("impl EventKind");
    let body = &src[start..];
    let body = &body[..body.find("\n}\n").unwrap()];
    body.lines()
        .filter(|l| l.trim_start().starts_with("EventKind::"))
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

/// Families used through `tk(family, value)` and the values the server may send.
fn families() -> BTreeMap<&'static str, BTreeSet<String>> {
    let set = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>();
    let mut f = BTreeMap::new();
    f.insert(
        "status",
        Status::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
    );
    f.insert(
        "lane",
        Lane::ALL.iter().map(|l| l.as_str().to_owned()).collect(),
    );
    f.insert("event", event_names());
    f.insert(
        "tax",
        [
            clearance::TaxKind::Duty,
            clearance::TaxKind::Vat,
            clearance::TaxKind::ConsumptionTax,
            clearance::TaxKind::AntiDumpingDuty,
            clearance::TaxKind::CountervailingDuty,
            clearance::TaxKind::SafeguardDuty,
            clearance::TaxKind::LateDeclarationFee,
            clearance::TaxKind::RecoverySurcharge,
        ]
        .into_iter()
        .map(snake)
        .collect(),
    );
    f.insert(
        "finding",
        [
            clearance::FindingKind::Misclassification,
            clearance::FindingKind::Undervaluation,
            clearance::FindingKind::Quantity,
            clearance::FindingKind::ProhibitedGoods,
            clearance::FindingKind::Other,
        ]
        .into_iter()
        .map(snake)
        .collect(),
    );
    f.insert(
        "request",
        [
            clearance::RequestKind::Amendment,
            clearance::RequestKind::Cancellation,
        ]
        .into_iter()
        .map(snake)
        .collect(),
    );
    f.insert("direction", set(&["import", "export"]));
    // Kinds of the exchange's messages (the agency desk lists what its feed holds).
    {
        use exchange::MessageType;
        f.insert(
            "msg",
            set(&[
                exchange::DeclarationReleasedV1::KIND,
                exchange::ExportClosedV1::KIND,
                exchange::LicenceWrittenOffV1::KIND,
                exchange::GuaranteeEnforcedV1::KIND,
                exchange::DutyPaidV1::KIND,
            ]),
        );
    }
    // Actor kinds (clearance::Actor's tag), principal kinds (app::Principal::kind), and the
    // tax engine's kinds in a breakdown (tax::TaxKind, snake_case).
    f.insert(
        "actor",
        set(&["enterprise", "officer", "anti_smuggling", "bank", "system"]),
    );
    f.insert(
        "kind",
        set(&[
            "enterprise",
            "officer",
            "hq",
            "agency",
            "admin",
            "carrier",
            "postal_operator",
        ]),
    );
    // Accounts the administrator creates (store::Role) with their duties (store::Duty).
    f.insert(
        "role",
        set(&[
            "enterprise",
            "officer",
            "anti_smuggling",
            "hq",
            "agency",
            "bank",
            "carrier",
            "postal_operator",
            "admin",
        ]),
    );
    f.insert(
        "duty",
        store::Duty::ALL
            .iter()
            .map(|d| d.as_str().to_owned())
            .collect(),
    );
    // Open families named through tkOr (a fallback key for a value not listed): the system
    // components that act on a declaration, and the agencies.
    f.insert(
        "component",
        set(&[
            "automatic_review",
            "clearance",
            "cli",
            "demo",
            "risk",
            "sim",
            "tax",
        ]),
    );
    f.insert(
        "agency_name",
        set(&["commerce", "market_regulation", "tax", "forex", "bank"]),
    );
    // Cargo control (cargo_control's enums, snake_case): a carrier's manifests, bills and
    // transits, a postal operator's parcels.
    f.insert(
        "manifest_status",
        set(&["pre_load", "original", "arrived", "tallied", "departed"]),
    );
    f.insert(
        "transit_status",
        set(&[
            "new",
            "declared",
            "departed",
            "arrived",
            "seal_broken",
            "cleared",
            "cancelled",
        ]),
    );
    f.insert(
        "bill_position",
        set(&[
            "undeclared",
            "partly_declared",
            "declared",
            "written_off",
            "over_declared",
            "consolidated",
        ]),
    );
    f.insert("postal_outcome", set(&["released", "held"]));
    f.insert(
        "measure",
        set(&[
            "duty",
            "anti_dumping_duty",
            "countervailing_duty",
            "safeguard_duty",
            "export_duty",
            "consumption_tax",
            "import_vat",
            "postal_articles_tax",
        ]),
    );
    f
}

#[test]
fn both_languages_have_the_same_keys_and_no_empty_value() {
    let zh = dictionary("zh");
    let en = dictionary("en");
    let zk: BTreeSet<_> = zh.keys().collect();
    let ek: BTreeSet<_> = en.keys().collect();
    assert_eq!(
        zk.difference(&ek).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "in zh, not in en"
    );
    assert_eq!(
        ek.difference(&zk).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "in en, not in zh"
    );
    for (lang, d) in [("zh", &zh), ("en", &en)] {
        for (k, v) in d.iter() {
            assert!(!v.trim().is_empty(), "{lang}: {k} is empty");
            assert!(!v.contains('⟦'), "{lang}: {k} holds the missing-key marker");
        }
    }
    // Placeholders agree: a {name} in one language is in the other.
    for (k, z) in &zh {
        let holes = |s: &str| {
            s.split('{')
                .skip(1)
                .filter_map(|p| p.split_once('}').map(|(n, _)| n.to_owned()))
                .collect::<BTreeSet<_>>()
        };
        assert_eq!(holes(z), holes(&en[k]), "placeholders of {k}");
    }
    // Chinese is Chinese: most values hold a CJK character.
    let cjk = zh
        .values()
        .filter(|v| v.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)))
        .count();
    assert!(
        cjk * 10 >= zh.len() * 9,
        "only {cjk} of {} zh values are Chinese",
        zh.len()
    );
}

#[test]
fn every_key_used_exists_and_every_key_is_used() {
    let zh = dictionary("zh");
    let namespaces: BTreeSet<&str> = zh.keys().filter_map(|k| k.split('.').next()).collect();
    let fams = families();
    let mut used = BTreeSet::new();
    let mut missing = Vec::new();
    for (file, src) in sources() {
        let refs = literals(&src)
            .into_iter()
            .filter(|k| namespaces.contains(k.split('.').next().unwrap()))
            .chain(attributes(&src));
        for k in refs {
            if !zh.contains_key(&k) {
                missing.push(format!("{file}: {k}"));
            }
            used.insert(k);
        }
        // Every family used through tk() is one this test enumerates.
        for (at, _) in src.match_indices("tk('") {
            let fam = src[at + 4..].split('\'').next().unwrap();
            if fam != "prefix" {
                assert!(
                    fams.contains_key(fam),
                    "{file}: tk('{fam}', …) is not an enumerated family"
                );
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys without a translation: {missing:#?}"
    );
    for (fam, values) in &fams {
        for v in values {
            let k = format!("{fam}.{v}");
            assert!(
                zh.contains_key(&k),
                "family value without a translation: {k}"
            );
            used.insert(k);
        }
    }
    let unused: Vec<_> = zh.keys().filter(|k| !used.contains(*k)).collect();
    assert!(unused.is_empty(), "keys no page uses: {unused:#?}");
}
