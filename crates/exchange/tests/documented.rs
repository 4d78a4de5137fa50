//! Every message kind this crate defines is documented in docs/EXCHANGE.md "Messages": a
//! section headed with the kind, naming each field of its payload, who receives it and when.
//! Read at compile time (`include_str!`): the crate does no file IO, its tests neither.

const SOURCE: &str = include_str!("../src/message.rs");
const DOC: &str = include_str!("../../../docs/EXCHANGE.md");

/// `(kind, struct name)` of every `impl MessageType for X { const KIND … = "kind"; }`.
fn kinds() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (i, _) in SOURCE.match_indices("impl MessageType for ") {
        let rest = &SOURCE[i + "impl MessageType for ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let pattern = "const KIND: &'static str = \"";
        let kind_at = rest.find(pattern).expect("a KIND") + pattern.len();
        let kind: String = rest[kind_at..].chars().take_while(|c| *c != '"').collect();
        out.push((kind, name));
    }
    out
}

/// The field names of `pub struct NAME { … }` in the source.
fn fields(name: &str) -> Vec<String> {
    let start = SOURCE
        .find(&format!("pub struct {name} {{"))
        .unwrap_or_else(|| panic!("struct {name}"));
    let body = &SOURCE[start..];
    let body = &body[..body.find("\n}").expect("end of struct")];
    body.lines()
        .filter_map(|l| l.trim().strip_prefix("pub "))
        .filter_map(|l| l.split_once(':').map(|(f, _)| f.trim().to_owned()))
        .collect()
}

/// The text of the section headed `### \`kind\``, up to the next heading.
fn section(kind: &str) -> Option<&'static str> {
    let head = format!("### `{kind}`");
    let start = DOC.find(&head)? + head.len();
    let rest = &DOC[start..];
    let end = rest.find("\n#").unwrap_or(rest.len());
    Some(&rest[..end])
}

#[test]
fn every_message_kind_is_documented_with_its_fields_recipients_and_moment() {
    let kinds = kinds();
    assert!(kinds.len() >= 3, "{kinds:?}");
    let mut missing = Vec::new();
    for (kind, name) in &kinds {
        let Some(text) = section(kind) else {
            missing.push(format!("no section `### `{kind}`` in docs/EXCHANGE.md"));
            continue;
        };
        for f in fields(name) {
            if !text.contains(&format!("`{f}`")) {
                missing.push(format!("{kind}: field `{f}` not documented"));
            }
        }
        for what in ["To:", "When:"] {
            if !text.contains(what) {
                missing.push(format!("{kind}: no `{what}` line"));
            }
        }
    }
    assert!(missing.is_empty(), "{missing:#?}");
}

#[test]
fn the_doc_names_no_kind_the_crate_does_not_define() {
    let kinds: Vec<String> = kinds().into_iter().map(|(k, _)| k).collect();
    for (i, _) in DOC.match_indices("### `") {
        let kind: String = DOC[i + 5..].chars().take_while(|c| *c != '`').collect();
        if kind.contains(".v") {
            assert!(
                kinds.contains(&kind),
                "docs/EXCHANGE.md documents {kind}, which exchange::message does not define"
            );
        }
    }
}
