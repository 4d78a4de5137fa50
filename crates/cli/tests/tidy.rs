//! Tidy checks that keep ARCHITECTURE.md true: the dependency rules between crates, read from
//! each crate's manifest, and no stubs in shipped code.

use std::fs;
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The names in a crate's `[dependencies]` table (not dev- or build-dependencies).
fn dependencies(krate: &str) -> Vec<String> {
    let manifest = fs::read_to_string(crates_dir().join(krate).join("Cargo.toml")).unwrap();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && !line.is_empty() && !line.starts_with('#') {
            if let Some((name, _)) = line.split_once('=') {
                deps.push(name.trim().trim_end_matches(".workspace").to_string());
            }
        }
    }
    deps
}

fn all_crates() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(crates_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Crates that do IO, talk to the network or run async: never below the pure core.
const IO: &[&str] = &[
    "tokio",
    "axum",
    "hyper",
    "reqwest",
    "rusqlite",
    "tokio-postgres",
    "deadpool-postgres",
    "async-nats",
    "store",
    "server",
    "exchange",
    "cli",
];

#[test]
fn the_pure_core_does_no_io() {
    for krate in [
        "domain",
        "clearance",
        "tax",
        "cargo-control",
        "risk",
        "formats",
        "eport",
    ] {
        if !crates_dir().join(krate).exists() {
            continue;
        }
        let deps = dependencies(krate);
        for bad in IO {
            assert!(
                !deps.iter().any(|d| d == bad),
                "{krate} must not depend on {bad} (ARCHITECTURE.md)"
            );
        }
    }
}

#[test]
fn domain_depends_on_no_other_crate_of_ours() {
    let ours = all_crates();
    let deps = dependencies("domain");
    for d in &deps {
        assert!(!ours.contains(d), "domain must not depend on {d}");
    }
}

#[test]
fn only_the_binary_depends_on_the_binary_layer() {
    for krate in all_crates() {
        if krate == "cli" {
            continue;
        }
        let deps = dependencies(&krate);
        assert!(
            !deps.iter().any(|d| d == "cli"),
            "{krate} must not depend on cli"
        );
        assert!(
            !deps.iter().any(|d| d == "anyhow"),
            "{krate}: anyhow belongs in the binary only"
        );
    }
}

#[test]
fn no_stubs_in_shipped_code() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for krate in all_crates() {
        let src = crates_dir().join(&krate).join("src");
        if src.exists() {
            walk(&src, &mut files);
        }
    }
    let needles = [
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
        concat!("not ", "wired yet"),
    ];
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        for n in needles {
            assert!(!text.contains(n), "{} contains {n}", f.display());
        }
    }
}

#[test]
fn the_service_layer_knows_no_http() {
    if !crates_dir().join("app").exists() {
        return;
    }
    let deps = dependencies("app");
    for bad in [
        "axum", "hyper", "reqwest", "server", "tokio", "rusqlite", "anyhow",
    ] {
        assert!(
            !deps.iter().any(|d| d == bad),
            "app must not depend on {bad} (ARCHITECTURE.md)"
        );
    }
}
