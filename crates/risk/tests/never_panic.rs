//! Never-panic properties of the rule parser (`RuleSet::parse`, text and JSON forms, and the
//! compilation of what parses): every input gives a rule set or errors, and every error names a
//! line (1-based, within the file) and carries both languages' messages. Inputs: arbitrary
//! text, and the shipped rule files damaged by structured edits (`domain::rng::Rng::damage`:
//! lines deleted, duplicated or moved, numbers made huge, deep nesting, odd snippets). A
//! bounded number of cases, so it runs with every `cargo test`.

use chrono::NaiveDate;
use domain::rng::Rng;
use proptest::prelude::*;
use risk::{CompiledRules, RuleError, RuleSet};

const FILES: &[&str] = &[
    include_str!("../../../examples/risk/rules.rules"),
    include_str!("../../../examples/risk/demo.rules"),
    include_str!("../../../examples/risk/invalid.rules"),
    include_str!("../../../examples/risk/rules.json"),
];

fn check_errors(text: &str, errors: &[RuleError]) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "an error list is never empty");
    // Text errors count lines of the file; JSON shape errors count rules of the array, never
    // more than the file's lines either (each rule takes at least one).
    let lines = text.lines().count().max(1) as u32 + 1;
    for e in errors {
        prop_assert!(e.line >= 1, "{e:?} names no line");
        prop_assert!(e.line <= lines, "{e:?} is past the end ({lines} lines)");
        prop_assert!(
            !e.message_zh.trim().is_empty(),
            "{e:?} has no Chinese message"
        );
        prop_assert!(
            !e.message_en.trim().is_empty(),
            "{e:?} has no English message"
        );
    }
    Ok(())
}

fn check(text: &str) -> Result<(), TestCaseError> {
    match RuleSet::parse(text) {
        Ok(set) => {
            let day = NaiveDate::from_ymd_opt(2025, 6, 1).expect("a date");
            let compiled = CompiledRules::compile(&set, day);
            prop_assert!(compiled.unanchored() <= set.len());
        }
        Err(errors) => check_errors(text, &errors)?,
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        check(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn parse_never_panics_on_rule_shaped_text(
        text in "(rule [A-Z-]{1,8}\n( {0,2}(version|office|valid|priority|when|lane|inspection|reason|end)[ -~]{0,40}\n){0,12}){0,4}",
    ) {
        check(&text)?;
    }

    #[test]
    fn parse_never_panics_on_damaged_rule_files(
        file in 0..FILES.len(),
        seed in any::<u64>(),
        edits in 1..6usize,
    ) {
        let mut rng = Rng::new(seed);
        let mut bytes = FILES[file].as_bytes().to_vec();
        for _ in 0..edits {
            rng.damage(&mut bytes);
        }
        check(&String::from_utf8_lossy(&bytes))?;
    }
}

#[test]
fn deep_nesting_in_either_form_is_an_error_not_a_panic() {
    let deep_json = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    let errors = RuleSet::parse(&deep_json).expect_err("too deep");
    assert!(check_errors(&deep_json, &errors).is_ok(), "{errors:?}");
    let deep_when = format!(
        "rule DEEP\n  office 0000\n  valid from 2025-01-01\n  when {}origin = \"USA\"{}\n  lane red\n  reason r \"原因\" \"reason\"\nend\n",
        "(".repeat(100_000),
        ")".repeat(100_000)
    );
    match RuleSet::parse(&deep_when) {
        Ok(_) => {}
        Err(errors) => assert!(check_errors(&deep_when, &errors).is_ok(), "{errors:?}"),
    }
}
