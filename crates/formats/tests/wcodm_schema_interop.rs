//! WCO Data Model declarations as Jinguan prints them, validated against the WCO DM 3.6
//! schemas in `data/standards/wcodm/xsd` (HMRC's CDS profile) by an independent validator,
//! python's `xmlschema`: the examples and randomly varied declarations are valid, HMRC's own
//! sample is valid, and documents broken on purpose are not (so the check can fail). Needs
//! python3 (scripts/test: `*_interop.rs`); xmlschema is pip-installed when missing, and in CI
//! a missing python3 fails the test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use domain::declaration::{DeclarationForm, NumberText};
use domain::rng::Rng;
use formats::wcodm;
use serde_json::{json, Value};

/// `None` without python3 (skipped outside CI); panics when python3 is there but xmlschema
/// cannot be had, since then the check would silently not happen.
fn python() -> Option<&'static str> {
    let ok = |args: &[&str]| {
        Command::new("python3")
            .args(args)
            .output()
            .map(|o| o.status.success())
    };
    match ok(&["-c", "import xmlschema"]) {
        Err(_) => {
            let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
            assert!(
                !ci,
                "python3 must be installed in CI (WCO documents not validated against the schemas)"
            );
            eprintln!(
                "skipped: python3 not found, WCO documents not validated against the schemas"
            );
            None
        }
        Ok(true) => Some("python3"),
        Ok(false) => {
            let installed = ok(&["-m", "pip", "install", "--quiet", "xmlschema"]).unwrap_or(false);
            assert!(
                installed && ok(&["-c", "import xmlschema"]).unwrap_or(false),
                "python3 is here but xmlschema could not be imported or installed"
            );
            Some("python3")
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The schema errors of each document (empty when valid).
fn validate(py: &str, docs: &[String]) -> Vec<Vec<String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/wcodm_schema_interop.py");
    let schema = root().join("data/standards/wcodm/xsd/_all.xsd");
    let job = json!({"schema": schema, "docs": docs});
    let mut child = Command::new(py)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&serde_json::to_vec(&job).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    serde_json::from_value(v["errors"].clone()).unwrap()
}

#[allow(clippy::disallowed_methods)] // a test reads its examples
fn example(name: &str) -> DeclarationForm {
    let mut f =
        domain::validate::parse_form(&std::fs::read(root().join("examples").join(name)).unwrap())
            .unwrap();
    f.buyer = None;
    for i in &mut f.items {
        i.producer = None;
        i.origin_proof = None;
        i.quota_certificate_no = None;
    }
    f
}

const COUNTRIES: &[&str] = &[
    "USA", "CHN", "DEU", "JPN", "KOR", "GBR", "VNM", "AUS", "BRA",
];

/// An example varied at random: fields dropped, countries, charges and terms changed, items
/// repeated, so that every element the printer writes (or leaves out) is checked.
fn varied(rng: &mut Rng, base: &DeclarationForm) -> DeclarationForm {
    let mut f = base.clone();
    let maybe_drop = |o: &mut Option<String>, rng: &mut Rng| {
        if rng.below(3) == 0 {
            *o = None;
        }
    };
    for o in [
        &mut f.entry_exit_office,
        &mut f.contract_no,
        &mut f.ie_date,
        &mut f.declaration_date,
        &mut f.vessel,
        &mut f.voyage_no,
        &mut f.bill_no,
        &mut f.goods_place,
        &mut f.trade_mode,
        &mut f.levy_nature,
        &mut f.loading_port,
        &mut f.domestic_port,
        &mut f.package_type,
        &mut f.marks,
        &mut f.remarks,
        &mut f.entry_type,
    ] {
        maybe_drop(o, rng);
    }
    let pick =
        |rng: &mut Rng| Some(COUNTRIES[rng.below(COUNTRIES.len() as u64) as usize].to_owned());
    f.trading_country = pick(rng);
    f.dispatch_country = pick(rng);
    f.transaction_terms = Some(["1", "2", "3", "4", "5", "6", "7"][rng.below(7) as usize].into());
    f.licence_no = (rng.below(2) == 0).then(|| "LIC-2025-001".into());
    f.record_no = (rng.below(2) == 0).then(|| "C22335000123".into());
    f.remarks = f
        .remarks
        .or_else(|| (rng.below(2) == 0).then(|| "备注 <&> remarks".into()));
    f.net_weight_kg = (rng.below(2) == 0).then(|| NumberText::new("12.5"));
    f.insurance = (rng.below(2) == 0).then(|| domain::declaration::ChargeForm {
        mark: Some("1".into()),
        value: Some(NumberText::new("0.3")),
        currency: None,
    });
    if rng.below(3) == 0 {
        f.overseas_party = None;
    }
    f.documents = (0..rng.below(3))
        .map(|i| domain::declaration::DocumentForm {
            code: Some("A".into()),
            number: Some(format!("DOC-{i}")),
        })
        .collect();
    let first = f.items[0].clone();
    f.items = (0..1 + rng.below(3))
        .map(|n| {
            let mut i = first.clone();
            i.item_no = Some(NumberText::new((n + 1).to_string()));
            i.origin_country = pick(rng);
            i.destination_country = pick(rng);
            if rng.below(3) == 0 {
                i.second_quantity = None;
                i.second_unit = None;
            }
            if rng.below(3) == 0 {
                i.district = None;
            }
            i.record_item = (rng.below(2) == 0).then(|| "7".into());
            i
        })
        .collect();
    f
}

#[test]
fn printed_wco_declarations_are_valid_against_the_schemas() {
    let Some(py) = python() else { return };
    let mut docs = Vec::new();
    let bases = [example("import-laptops.json"), example("export-shoes.json")];
    for base in &bases {
        docs.push(wcodm::print(base, Some("SEQ-1")));
    }
    let mut rng = Rng::new(36);
    for round in 0..40 {
        let f = varied(&mut rng, &bases[round % 2]);
        docs.push(wcodm::print(&f, (round % 3 != 0).then_some("SEQ-2")));
    }
    #[allow(clippy::disallowed_methods)] // a test reads HMRC's sample
    docs.push(
        std::fs::read_to_string(
            root().join("data/standards/wcodm/hmrc_cds_TT_IM001a_import_H1_declaration.xml"),
        )
        .unwrap(),
    );
    let errors = validate(py, &docs);
    assert_eq!(errors.len(), docs.len());
    for (doc, errs) in docs.iter().zip(&errors) {
        assert!(errs.is_empty(), "{errs:#?}\n{doc}");
    }
}

#[test]
fn documents_broken_on_purpose_are_invalid() {
    let Some(py) = python() else { return };
    let good = wcodm::print(&example("import-laptops.json"), Some("SEQ-1"));
    let broken = vec![
        // An alpha-3 country where the profile takes alpha-2.
        good.replace("<ID>US</ID>", "<ID>USA</ID>"),
        // Elements out of the schema's order.
        good.replace("<FunctionCode>9</FunctionCode>", "").replace(
            "</Declaration>",
            "<FunctionCode>9</FunctionCode></Declaration>",
        ),
        // An element the schema does not have.
        good.replace(
            "<TypeCode>IMM</TypeCode>",
            "<TypeCode>IMM</TypeCode><Colour>red</Colour>",
        ),
    ];
    for b in &broken {
        assert_ne!(b, &good, "the breakage must change the document");
    }
    let errors = validate(py, &broken);
    for (doc, errs) in broken.iter().zip(&errors) {
        assert!(!errs.is_empty(), "a broken document passed:\n{doc}");
    }
}
