//! The module graph of `app` is the DAG drawn in `src/lib.rs`, checked on the sources: every
//! `crate::module` a module names (outside its `#[cfg(test)]` part) is an edge the DAG allows,
//! the DAG itself has no cycle, and no module shadows a crate `app` depends on (or `core`,
//! `std`, `alloc`). A new edge is a decision: add it to `ALLOWED` and to the drawing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module and the modules it may name. `service` (the composition root) and `demo` (demo
/// data through the real use cases) stand above every service.
const ALLOWED: &[(&str, &[&str])] = &[
    ("access", &[]),
    ("anchor", &[]),
    ("auth", &["error"]),
    ("clock", &[]),
    ("error", &["access"]),
    ("postal_screen", &[]),
    ("kernel", &["access", "clock", "error"]),
    ("assessment", &["kernel", "error"]),
    ("notices", &["kernel", "error"]),
    ("risk_desk", &["access", "kernel", "error"]),
    ("exchange_desk", &["access", "kernel", "error"]),
    ("eport_desk", &["access", "kernel", "error"]),
    ("users", &["access", "anchor", "auth", "kernel", "error"]),
    ("attorney", &["access", "error", "kernel"]),
    ("case_desk", &["access", "error", "kernel", "risk_desk"]),
    (
        "aeo_desk",
        &["access", "error", "kernel", "notices", "risk_desk"],
    ),
    (
        "registration",
        &["access", "auth", "error", "kernel", "users"],
    ),
    ("portal", &["access", "error", "filing", "kernel"]),
    (
        "cargo_desk",
        &[
            "access",
            "assessment",
            "error",
            "exchange_desk",
            "kernel",
            "postal_screen",
            "risk_desk",
        ],
    ),
    (
        "finance",
        &[
            "access",
            "assessment",
            "cargo_desk",
            "error",
            "exchange_desk",
            "kernel",
        ],
    ),
    (
        "guarantee_desk",
        &["access", "error", "exchange_desk", "kernel"],
    ),
    (
        "inbound_desk",
        &[
            "access",
            "eport_desk",
            "error",
            "exchange_desk",
            "finance",
            "kernel",
        ],
    ),
    ("warehouse", &[]),
    (
        "stats",
        &["access", "error", "exchange_desk", "kernel", "warehouse"],
    ),
    ("versions", &["assessment", "error", "kernel"]),
    (
        "filing",
        &[
            "access",
            "assessment",
            "attorney",
            "cargo_desk",
            "eport_desk",
            "error",
            "kernel",
            "registration",
            "risk_desk",
        ],
    ),
    (
        "steps",
        &[
            "access",
            "assessment",
            "attorney",
            "cargo_desk",
            "error",
            "exchange_desk",
            "kernel",
            "notices",
            "risk_desk",
            "versions",
        ],
    ),
    (
        "payments",
        &["access", "error", "kernel", "notices", "steps"],
    ),
    ("attachments", &["access", "error", "kernel", "steps"]),
    ("copy", &["access", "error", "kernel", "steps"]),
    ("notifications", &["access", "error", "steps"]),
    ("webhooks", &["access", "error", "kernel"]),
    ("drafts", &["access", "error", "steps"]),
    (
        "service",
        &[
            "aeo_desk",
            "anchor",
            "attorney",
            "cargo_desk",
            "case_desk",
            "clock",
            "eport_desk",
            "error",
            "exchange_desk",
            "filing",
            "finance",
            "guarantee_desk",
            "inbound_desk",
            "kernel",
            "payments",
            "portal",
            "registration",
            "risk_desk",
            "stats",
            "steps",
            "users",
            "warehouse",
            "webhooks",
        ],
    ),
    (
        "demo",
        &[
            "access",
            "aeo_desk",
            "attorney",
            "cargo_desk",
            "case_desk",
            "clock",
            "error",
            "finance",
            "guarantee_desk",
            "registration",
            "risk_desk",
            "service",
            "steps",
            "users",
        ],
    ),
];

/// The `crate::name` paths a source names outside comments and its `#[cfg(test)]` part.
fn named_modules(source: &str) -> BTreeSet<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Each module of `src/` (a folder counts as the module of the same name) with its sources.
fn modules() -> BTreeMap<String, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |name: String, path: &Path| {
        let text = std::fs::read_to_string(path).unwrap();
        out.entry(name).or_default().push_str(&text);
    };
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).unwrap() {
                add(stem.clone(), &inner.unwrap().path());
            }
        } else if stem != "lib" {
            add(stem, &path);
        }
    }
    out
}

#[test]
fn every_module_names_only_what_the_dag_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for (module, source) in modules() {
        let Some(may) = allowed.get(module.as_str()) else {
            problems.push(format!("module {module} is not in the DAG"));
            continue;
        };
        for named in named_modules(&source) {
            if named != module && !may.contains(&named.as_str()) {
                problems.push(format!("{module} -> {named} is not an edge of the DAG"));
            }
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_dag_has_no_cycle() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    // Kahn's algorithm: repeatedly take a module whose every edge points to a module taken.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    while done.len() < allowed.len() {
        let next = allowed
            .iter()
            .find(|(m, deps)| !done.contains(*m) && deps.iter().all(|d| done.contains(d)))
            .map(|(m, _)| *m);
        let Some(next) = next else {
            let left: Vec<_> = allowed.keys().filter(|m| !done.contains(*m)).collect();
            panic!("a cycle among {left:?}");
        };
        done.insert(next);
    }
}

#[test]
fn no_module_shadows_a_crate() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let mut crates: BTreeSet<String> = ["core", "std", "alloc"].map(String::from).into();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line.contains("dependencies");
            continue;
        }
        if in_deps && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once(['=', '.']) {
                crates.insert(name.trim().replace('-', "_"));
            }
        }
    }
    assert!(
        crates.contains("risk") && crates.contains("exchange"),
        "{crates:?}"
    );
    let shadowing: Vec<_> = modules()
        .into_keys()
        .filter(|m| crates.contains(m))
        .collect();
    assert!(
        shadowing.is_empty(),
        "modules named after crates: {shadowing:?}"
    );
}
