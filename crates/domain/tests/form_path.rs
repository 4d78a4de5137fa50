//! Field paths of the declaration form (issue 14 item 1): only real paths of the JSON form are
//! accepted, values are written by path, and two forms compare field by field.

use domain::declaration::DeclarationForm;
use domain::form_path::{apply, diff, get, leaf_patterns, parse_path};
use domain::validate::parse_form;
use serde_json::{json, Value};

// Example files are fixtures; the library never reads files.
#[allow(clippy::disallowed_methods)]
fn laptops() -> DeclarationForm {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/import-laptops.json"
    );
    parse_form(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn the_schema_is_derived_from_the_form() {
    let p = leaf_patterns();
    for expected in [
        "direction",
        "trader.uscc",
        "freight.value",
        "documents[*].number",
        "buyer.id_no",
        "items[*].unit_price",
        "items[*].origin_country",
    ] {
        assert!(
            p.iter().any(|x| x == expected),
            "{expected} missing from {p:?}"
        );
    }
    assert!(!p.iter().any(|x| x == "items" || x == "trader"));
}

#[test]
fn real_paths_are_accepted_and_others_refused_in_both_languages() {
    let form = laptops();
    assert_eq!(
        parse_path("items[0].unit_price", &form)
            .unwrap()
            .to_string(),
        "items[0].unit_price"
    );
    assert_eq!(
        parse_path("items[0].unit_price", &form).unwrap().pattern(),
        "items[*].unit_price"
    );
    assert_eq!(parse_path("trader.name", &form).unwrap().item_index(), None);
    for (bad, code) in [
        ("no.such.field", "unknown_field_path"),
        ("items[0].no_such", "unknown_field_path"),
        ("items.unit_price", "unknown_field_path"),
        ("items[0]unit_price", "unknown_field_path"),
        ("items[-1].unit_price", "unknown_field_path"),
        ("", "unknown_field_path"),
        ("items[0]", "not_a_leaf_field"),
        ("trader", "not_a_leaf_field"),
        ("items[7].unit_price", "no_such_line"),
    ] {
        let p = parse_path(bad, &form).unwrap_err();
        assert_eq!(p.code, code, "{bad}");
        assert_eq!(p.field, bad);
        assert!(
            !p.message_zh.is_empty() && !p.message_en.is_empty(),
            "{bad}"
        );
    }
    let p = parse_path("no.such.field", &form).unwrap_err();
    assert_eq!(p.message_zh, "报关单中没有字段“no.such.field”");
    assert_eq!(p.message_en, "the declaration has no field `no.such.field`");
}

#[test]
fn apply_writes_by_path_and_reports_every_problem_at_once() {
    let form = laptops();
    let new = apply(
        &form,
        &[
            ("items[0].unit_price".into(), json!("35000.0000")),
            ("items[0].total_price".into(), json!(3_500_000)),
            ("remarks".into(), json!("price corrected")),
        ],
    )
    .unwrap();
    assert_eq!(
        new.items[0].unit_price.as_ref().unwrap().as_str(),
        "35000.0000"
    );
    assert_eq!(
        new.items[0].total_price.as_ref().unwrap().as_str(),
        "3500000"
    );
    assert_eq!(
        get(&new, &parse_path("remarks", &new).unwrap()),
        json!("price corrected")
    );
    let changes = diff(&form, &new);
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(
        paths,
        ["items[0].total_price", "items[0].unit_price", "remarks"]
    );
    assert_eq!(changes[1].before, json!("350.0000"));
    assert_eq!(changes[1].after, json!("35000.0000"));
    assert_eq!(changes[2].before, Value::Null);

    let e = apply(
        &form,
        &[
            ("no.such.field".into(), json!("x")),
            ("items[0].name".into(), json!({"a": 1})),
            ("remarks".into(), json!("a")),
            ("remarks".into(), json!("b")),
            ("items[3].name".into(), json!("x")),
        ],
    )
    .unwrap_err();
    assert_eq!(
        e.codes(),
        [
            "unknown_field_path",
            "not_a_field_value",
            "duplicate_field_path",
            "no_such_line"
        ]
    );
}

#[test]
fn diff_of_a_form_with_itself_is_empty_and_new_parts_show_against_null() {
    let form = laptops();
    assert!(diff(&form, &form).is_empty());
    let new = apply(&form, &[("agent.name".into(), json!("某报关行"))]).unwrap();
    let d = diff(&form, &new);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].path, "agent.name");
}
