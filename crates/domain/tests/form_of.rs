//! The way back from a typed declaration to its form (issue 14 item 1): a stored declaration is
//! amended by path on its form and validated again, so the form of a valid declaration must
//! validate to the same declaration.

use domain::form_of::form_of;
use domain::validate::{parse_form, validate};

// Example files are fixtures; the library never reads files.
#[allow(clippy::disallowed_methods)]
fn example(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../examples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn the_form_of_a_declaration_validates_to_the_same_declaration() {
    let reference = refdata::RefData::embedded().unwrap();
    for name in [
        "import-laptops.json",
        "export-shoes.json",
        "import-ecommerce-cosmetics.json",
    ] {
        let form = parse_form(&example(name)).unwrap();
        let typed = validate(&form, &reference).unwrap_or_else(|p| panic!("{name}: {p:?}"));
        let again = validate(&form_of(&typed), &reference)
            .unwrap_or_else(|p| panic!("{name}: the form of the typed declaration: {p:?}"));
        assert_eq!(again, typed, "{name}");
    }
}
