//! Never-panic properties of the gate users type into most: `parse_form` (and `validate` after
//! it, against the shipped reference data) answers every input with a form or with problems,
//! each problem carrying a stable code, both languages' messages and, for an unknown field, the
//! field's path. Inputs: arbitrary bytes, and the shipped examples damaged by structured edits
//! (`domain::rng::Rng::damage`: spans and lines deleted, duplicated or moved, numbers made
//! huge, deep nesting, odd snippets). A bounded number of cases, so it runs with every
//! `cargo test`.

use domain::rng::Rng;
use domain::validate::{parse_form, validate};
use domain::Problems;
use proptest::prelude::*;

const EXAMPLES: &[&[u8]] = &[
    include_bytes!("../../../examples/export-shoes.json"),
    include_bytes!("../../../examples/import-ecommerce-cosmetics.json"),
    include_bytes!("../../../examples/import-laptops.json"),
    include_bytes!("../../../examples/invalid-empty.json"),
    include_bytes!("../../../examples/invalid-garbage.json"),
    include_bytes!("../../../examples/invalid-licence-and-levy.json"),
    include_bytes!("../../../examples/invalid-many-problems.json"),
    include_bytes!("../../../examples/invalid-missing-fields.json"),
    include_bytes!("../../../examples/invalid-no-items.json"),
    include_bytes!("../../../examples/invalid-unknown-fields.json"),
];

/// Every code `parse_form` may answer with (the structural ones; `validate`'s are checked by
/// shape only).
const PARSE_CODES: &[&str] = &[
    "too_large",
    "empty",
    "not_object",
    "not_json",
    "too_deep",
    "json_type",
    "unknown_field",
];

fn reference() -> &'static refdata::RefData {
    static DATA: std::sync::OnceLock<refdata::RefData> = std::sync::OnceLock::new();
    DATA.get_or_init(|| refdata::RefData::embedded().expect("the shipped tables load"))
}

fn is_stable_code(code: &str) -> bool {
    !code.is_empty()
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// What the API promises of every problem.
fn check_problems(problems: &Problems, parse: bool) -> Result<(), TestCaseError> {
    prop_assert!(!problems.is_empty(), "an error names at least one problem");
    for p in problems {
        prop_assert!(is_stable_code(p.code), "code {:?}", p.code);
        if parse {
            prop_assert!(
                PARSE_CODES.contains(&p.code),
                "unexpected code {:?}",
                p.code
            );
        }
        prop_assert!(
            !p.message_zh.trim().is_empty(),
            "{p:?} has no Chinese message"
        );
        prop_assert!(
            !p.message_en.trim().is_empty(),
            "{p:?} has no English message"
        );
        if p.code == "unknown_field" {
            prop_assert!(!p.field.is_empty(), "{p:?} names no field");
        }
    }
    Ok(())
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    match parse_form(bytes) {
        Ok(form) => {
            // A form that parses must validate or report problems, never panic.
            if let Err(problems) = validate(&form, reference()) {
                check_problems(&problems, false)?;
            }
        }
        Err(problems) => check_problems(&problems, true)?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_form_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        check(&bytes)?;
    }

    #[test]
    fn parse_form_never_panics_on_an_object_of_arbitrary_text(
        text in "\\{[ -~\u{4e00}-\u{4e10}]{0,400}\\}",
    ) {
        check(text.as_bytes())?;
    }

    #[test]
    fn parse_form_never_panics_on_damaged_examples(
        example in 0..EXAMPLES.len(),
        seed in any::<u64>(),
        edits in 1..6usize,
    ) {
        let mut rng = Rng::new(seed);
        let mut bytes = EXAMPLES[example].to_vec();
        for _ in 0..edits {
            rng.damage(&mut bytes);
        }
        check(&bytes)?;
    }
}

#[test]
fn an_unknown_field_inside_an_optional_object_is_named_by_its_document_path() {
    let mut form: serde_json::Value = serde_json::from_slice(EXAMPLES[0]).unwrap();
    form["freight"] =
        serde_json::json!({"mark": "3", "value": "100", "currency": "USD", "kind": "x"});
    let problems = parse_form(form.to_string().as_bytes()).expect_err("unknown field");
    let fields: Vec<&str> = problems
        .as_slice()
        .iter()
        .map(|p| p.field.as_str())
        .collect();
    assert_eq!(fields, vec!["freight.kind"], "{problems:?}");
    assert!(problems.as_slice()[0].message_en.contains("freight.kind"));
}

#[test]
fn deep_nesting_and_huge_numbers_are_problems_not_panics() {
    // An unknown field is skipped without recursion, however deep, and reported by name.
    let deep = format!("{{\"x\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let problems = parse_form(deep.as_bytes()).expect_err("unknown field");
    assert_eq!(problems.codes(), vec!["unknown_field"]);
    assert_eq!(problems.as_slice()[0].field, "x");
    // Deep nesting inside a known field meets serde's recursion limit.
    let deep = format!(
        "{{\"items\":[{{\"name\":{}{}}}]}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let problems = parse_form(deep.as_bytes()).expect_err("too deep or wrong type");
    assert!(check(deep.as_bytes()).is_ok(), "{problems:?}");
    // Where a field has a shape, the wrong shape answers first.
    let deep = format!(
        "{{\"items\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_form(deep.as_bytes()).is_err());
    assert!(check(deep.as_bytes()).is_ok());
    let laptops = String::from_utf8(EXAMPLES[2].to_vec()).expect("UTF-8 example");
    for huge in [
        "1e400",
        "123456789012345678901234567890",
        "-9223372036854775809",
        "\"79228162514264337593543950336\"",
        "\"0.00000000000000000000000000001\"",
    ] {
        let doc = laptops.replacen(
            "\"declared_quantity\": \"100\"",
            &format!("\"declared_quantity\": {huge}"),
            1,
        );
        assert_ne!(doc, laptops);
        assert!(check(doc.as_bytes()).is_ok(), "{huge}");
    }
}
