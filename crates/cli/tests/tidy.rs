//! Tidy checks that keep ARCHITECTURE.md true: the dependency rules between crates, checked on
//! the graph cargo resolved, and no stubs in shipped code.
//!
//! The dependency rules are read from `cargo metadata --format-version 1 --locked` (the cargo
//! that runs the tests, the workspace's manifest) and walked over *normal* dependency edges,
//! transitively: what a crate links, whoever brought it in. Dev-dependency edges (tests,
//! benches) and build-dependency edges (build scripts) are not followed. The graph is the one
//! cargo resolves for the whole workspace, so its features are unified across the workspace:
//! it may hold an optional edge that a crate built alone would not enable. That errs on the
//! strict side, never the lax one. The walk also goes through proc-macro crates (whose own
//! dependencies run in the compiler, not in the program): strict again, and today no
//! proc-macro of ours reaches a forbidden crate.
//!
//! Every rule is a row of [`RULES`] with its reason; a failure lists every violation at once,
//! each as the path that brings the forbidden crate in (`app -> store -> rusqlite`).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
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

// ---------------------------------------------------------------------------------------------
// The rules.

/// Which of our crates a rule is about.
#[derive(Clone, Copy, Debug)]
enum Subjects {
    /// These crates of the workspace. A name that is not in the workspace is an error of the
    /// rule table, unless it is in [`PLANNED`].
    Named(&'static [&'static str]),
    /// Every crate of the workspace but these.
    AllBut(&'static [&'static str]),
}

/// What a rule forbids its crates to reach.
#[derive(Clone, Copy, Debug)]
enum Forbidden {
    /// Crates by name. A name of a workspace crate means that crate only, not a crates.io
    /// package of the same name.
    Crates(&'static [&'static str]),
    /// Every other crate of the workspace.
    OtherWorkspaceCrates,
}

/// How far a rule looks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Over every normal edge, transitively.
    Transitive,
    /// The crate's own `[dependencies]` only.
    Direct,
}

#[derive(Clone, Copy, Debug)]
struct Rule {
    subjects: Subjects,
    forbidden: Forbidden,
    reach: Reach,
    reason: &'static str,
}

/// The pure core: rules, parsing, messages. No IO runtime, no SQL, no network.
const PURE: &[&str] = &[
    "domain",
    "clearance",
    "tax",
    "risk",
    "cargo-control",
    "formats",
    "eport",
    "exchange",
];

/// An async runtime or its event loop, SQL drivers, HTTP servers and clients, the bus client.
const IO_CRATES: &[&str] = &[
    "tokio",
    "async-nats",
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "postgres",
    "deadpool-postgres",
    "axum",
    "hyper",
    "reqwest",
    "mio",
];

/// Our crates that do IO: the pure core is below all of them.
const IO_LAYERS: &[&str] = &[
    "store",
    "store-sqlite",
    "store-postgres",
    "store-contract",
    "exchange-bus",
    "app",
    "server",
    "sim",
    "stats",
    "cli",
];

/// What the service layer must not reach: it talks to storage through the `Store` trait and
/// to the agencies through pure messages; HTTP is the server's, the binary is the top.
const APP_FORBIDDEN: &[&str] = &[
    "tokio",
    "async-nats",
    "rusqlite",
    "libsqlite3-sys",
    "tokio-postgres",
    "deadpool-postgres",
    "axum",
    "hyper",
    "reqwest",
    "server",
    "cli",
];

/// Crates a rule may name before they exist: skipped quietly until they do. None today; the
/// self-tests below use their own list for a workspace without the store's backends.
const PLANNED: &[&str] = &[];

/// The self-tests' fake workspace has no SQLite backend and no contract suites.
const FAKE_PLANNED: &[&str] = &["store-sqlite", "store-contract", "stats"];

const RULES: &[Rule] = &[
    Rule {
        subjects: Subjects::Named(PURE),
        forbidden: Forbidden::Crates(IO_CRATES),
        reach: Reach::Transitive,
        reason: "the pure core does no IO: no async runtime, no SQL, no network, so it is \
                 deterministic and runs anywhere (ARCHITECTURE.md, invariants)",
    },
    Rule {
        subjects: Subjects::Named(PURE),
        forbidden: Forbidden::Crates(IO_LAYERS),
        reach: Reach::Transitive,
        reason: "the pure core sits below every layer of ours that does IO",
    },
    Rule {
        subjects: Subjects::Named(&["domain"]),
        forbidden: Forbidden::OtherWorkspaceCrates,
        reach: Reach::Transitive,
        reason: "domain is the bottom: every crate may use it, it uses no other crate of ours",
    },
    Rule {
        subjects: Subjects::Named(&["app"]),
        forbidden: Forbidden::Crates(APP_FORBIDDEN),
        reach: Reach::Transitive,
        reason: "the service layer knows no HTTP, no bus and no database driver: storage is \
                 the Store trait, the exchange is pure messages",
    },
    Rule {
        subjects: Subjects::Named(&["store"]),
        forbidden: Forbidden::Crates(&["rusqlite", "libsqlite3-sys", "tokio-postgres"]),
        reach: Reach::Transitive,
        reason: "the store's core is backend-neutral (the Store trait and the plans both \
                 backends run); each driver lives in its backend's crate",
    },
    Rule {
        subjects: Subjects::Named(&["store-postgres"]),
        forbidden: Forbidden::Crates(&["rusqlite", "libsqlite3-sys"]),
        reach: Reach::Transitive,
        reason: "no backend depends on the other's driver",
    },
    Rule {
        subjects: Subjects::Named(&["store-sqlite"]),
        forbidden: Forbidden::Crates(&["tokio-postgres"]),
        reach: Reach::Transitive,
        reason: "no backend depends on the other's driver",
    },
    Rule {
        subjects: Subjects::AllBut(&["cli"]),
        forbidden: Forbidden::Crates(&["anyhow"]),
        // What a library returns is its own choice; a crates.io dependency that uses anyhow
        // inside does not change our error types.
        reach: Reach::Direct,
        reason: "libraries return typed errors (thiserror); anyhow with context belongs in \
                 the binary only",
    },
    Rule {
        subjects: Subjects::AllBut(&[]),
        forbidden: Forbidden::Crates(&["store-contract"]),
        reach: Reach::Transitive,
        reason: "the contract suites are tests: only a backend's dev-dependencies use them, \
                 so they never ship in a library or the binary",
    },
    Rule {
        subjects: Subjects::AllBut(&["cli", "stats"]),
        forbidden: Forbidden::Crates(&["stats", "datafusion", "parquet", "arrow"]),
        reach: Reach::Transitive,
        reason: "the statistics warehouse's engine (DataFusion, Arrow, Parquet) is heavy: only \
                 the binary carries it, so the server builds light; the server reaches the \
                 warehouse through app's `Warehouse` trait, which cli fills",
    },
    Rule {
        subjects: Subjects::Named(&["stats"]),
        forbidden: Forbidden::Crates(&[
            "rusqlite",
            "libsqlite3-sys",
            "tokio-postgres",
            "store-sqlite",
            "store-postgres",
            "app",
            "server",
            "axum",
            "hyper",
            "reqwest",
        ]),
        reach: Reach::Transitive,
        reason: "the warehouse reads the ledger through the Store trait only (both backends \
                 alike) and serves no HTTP: cli wires it to a backend and to the server",
    },
    Rule {
        subjects: Subjects::AllBut(&["cli"]),
        forbidden: Forbidden::Crates(&["cli"]),
        reach: Reach::Transitive,
        reason: "the binary is the top layer: nothing depends on it",
    },
];

// ---------------------------------------------------------------------------------------------
// The graph and the walk.

/// The resolved dependency graph, normal edges only.
struct Graph {
    /// Package id → name.
    names: HashMap<String, String>,
    /// Workspace crate name → package id.
    ours: BTreeMap<String, String>,
    /// Package id → the ids it depends on through a normal edge, in the order cargo lists them.
    normal: HashMap<String, Vec<String>>,
}

impl Graph {
    /// From the JSON of `cargo metadata --format-version 1` (with its `resolve` section).
    fn from_metadata(metadata: &Value) -> Graph {
        let text = |v: &Value, what: &str| -> String {
            v.as_str()
                .unwrap_or_else(|| panic!("cargo metadata: {what} is not a string"))
                .to_owned()
        };
        let names: HashMap<String, String> = metadata["packages"]
            .as_array()
            .expect("cargo metadata: packages")
            .iter()
            .map(|p| {
                (
                    text(&p["id"], "package id"),
                    text(&p["name"], "package name"),
                )
            })
            .collect();
        let ours = metadata["workspace_members"]
            .as_array()
            .expect("cargo metadata: workspace_members")
            .iter()
            .map(|id| {
                let id = text(id, "workspace member");
                (names[&id].clone(), id)
            })
            .collect();
        let nodes = metadata["resolve"]["nodes"]
            .as_array()
            .expect("cargo metadata: resolve.nodes (run without --no-deps)");
        let mut normal = HashMap::new();
        for node in nodes {
            let deps = node["deps"]
                .as_array()
                .expect("cargo metadata: resolve node deps")
                .iter()
                .filter(|d| {
                    // `kind` is null for a normal edge, "dev" or "build" otherwise; an edge
                    // may be several kinds at once (a crate both a dependency and a
                    // dev-dependency).
                    d["dep_kinds"]
                        .as_array()
                        .expect("cargo metadata: dep_kinds (cargo 1.41 or later)")
                        .iter()
                        .any(|k| k["kind"].is_null())
                })
                .map(|d| text(&d["pkg"], "dependency pkg"))
                .collect();
            normal.insert(text(&node["id"], "node id"), deps);
        }
        Graph {
            names,
            ours,
            normal,
        }
    }

    fn name(&self, id: &str) -> &str {
        &self.names[id]
    }

    /// Whether package `id` is the crate `forbidden` names: for a name of ours, our crate
    /// only; else any package of that name.
    fn is(&self, id: &str, forbidden: &str) -> bool {
        match self.ours.get(forbidden) {
            Some(our_id) => our_id == id,
            None => self.name(id) == forbidden,
        }
    }

    /// The shortest path of normal edges from `from` to a package for which `target` holds,
    /// both ends included; with `Reach::Direct`, only one edge long.
    fn path(&self, from: &str, reach: Reach, target: impl Fn(&str) -> bool) -> Option<Vec<String>> {
        let mut parent: HashMap<&str, &str> = HashMap::new();
        let mut queue = VecDeque::from([from]);
        parent.insert(from, from);
        while let Some(at) = queue.pop_front() {
            for next in self.normal.get(at).map(Vec::as_slice).unwrap_or_default() {
                if parent.contains_key(next.as_str()) {
                    continue;
                }
                parent.insert(next, at);
                if target(next) {
                    let mut path = vec![next.clone()];
                    let mut here = next.as_str();
                    while here != from {
                        here = parent[here];
                        path.push(here.to_owned());
                    }
                    path.reverse();
                    return Some(path);
                }
                if reach == Reach::Transitive {
                    queue.push_back(next);
                }
            }
        }
        None
    }

    fn render(&self, path: &[String]) -> String {
        path.iter()
            .map(|id| self.name(id))
            .collect::<Vec<_>>()
            .join(" -> ")
    }
}

/// Every violation of `rules` in `graph`, one line each: the path, then the reason. A subject
/// that is not in the workspace is an error of the table, unless `planned` names it.
fn violations(graph: &Graph, rules: &[Rule], planned: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for rule in rules {
        let subjects: Vec<&str> = match rule.subjects {
            Subjects::Named(names) => names.to_vec(),
            Subjects::AllBut(except) => graph
                .ours
                .keys()
                .map(String::as_str)
                .filter(|n| !except.contains(n))
                .collect(),
        };
        for subject in subjects {
            let Some(from) = graph.ours.get(subject) else {
                if !planned.contains(&subject) {
                    out.push(format!(
                        "a rule names `{subject}`, which is not a crate of the workspace \
                         (a typo, or a renamed crate: update the rule)"
                    ));
                }
                continue;
            };
            let targets: Vec<String> = match rule.forbidden {
                Forbidden::Crates(names) => names.iter().map(|n| (*n).to_owned()).collect(),
                Forbidden::OtherWorkspaceCrates => graph
                    .ours
                    .keys()
                    .filter(|n| n.as_str() != subject)
                    .cloned()
                    .collect(),
            };
            for forbidden in &targets {
                if let Some(path) = graph.path(from, rule.reach, |id| graph.is(id, forbidden)) {
                    out.push(format!("{}\n      {}", graph.render(&path), rule.reason));
                }
            }
        }
    }
    out
}

/// The workspace's resolved graph, from the cargo that runs the tests.
fn workspace_metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let manifest = crates_dir().join("..").join("Cargo.toml");
    let out = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .unwrap_or_else(|e| panic!("failed to run {cargo:?} metadata: {e}"));
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON")
}

#[test]
fn dependency_rules_hold_on_the_resolved_graph() {
    let graph = Graph::from_metadata(&workspace_metadata());
    let found = violations(&graph, RULES, PLANNED);
    assert!(
        found.is_empty(),
        "{} dependency rule violation(s) (normal edges, transitive; ARCHITECTURE.md):\n  {}",
        found.len(),
        found.join("\n  ")
    );
}

// ---------------------------------------------------------------------------------------------
// The walker checked on a graph made by hand, so that the rules are proven to catch what they
// must and to let pass what they may, whatever the real tree looks like today.

const FAKE_WORKSPACE: &[&str] = &[
    "domain",
    "clearance",
    "tax",
    "risk",
    "cargo-control",
    "formats",
    "eport",
    "exchange",
    "exchange-bus",
    "app",
    "store",
    "store-postgres",
    "cli",
];

fn fake_id(key: &str) -> String {
    match key.strip_prefix("ext:") {
        Some(name) => format!("registry+https://github.com/rust-lang/crates.io-index#{name}@1.0.0"),
        None => format!("path+file:///fake/crates/{key}#0.1.0"),
    }
}

/// Metadata in the shape cargo prints: our crates are `FAKE_WORKSPACE`, `ext:NAME` a
/// crates.io package; an edge is (from, to, kinds) with kinds as cargo writes them (`None`
/// normal, `Some("dev")`, `Some("build")`).
fn fake_metadata(edges: &[(&str, &str, &[Option<&str>])]) -> Value {
    let mut keys: BTreeSet<String> = FAKE_WORKSPACE.iter().map(|s| (*s).to_owned()).collect();
    for (from, to, _) in edges {
        keys.insert((*from).to_owned());
        keys.insert((*to).to_owned());
    }
    let packages: Vec<Value> = keys
        .iter()
        .map(|k| {
            let name = k.strip_prefix("ext:").unwrap_or(k);
            serde_json::json!({ "id": fake_id(k), "name": name })
        })
        .collect();
    let nodes: Vec<Value> = keys
        .iter()
        .map(|k| {
            let deps: Vec<Value> = edges
                .iter()
                .filter(|(from, _, _)| from == k)
                .map(|(_, to, kinds)| {
                    let kinds: Vec<Value> = kinds
                        .iter()
                        .map(|kind| serde_json::json!({ "kind": kind, "target": null }))
                        .collect();
                    serde_json::json!({
                        "name": to.strip_prefix("ext:").unwrap_or(to),
                        "pkg": fake_id(to),
                        "dep_kinds": kinds,
                    })
                })
                .collect();
            serde_json::json!({ "id": fake_id(k), "deps": deps })
        })
        .collect();
    let members: Vec<String> = FAKE_WORKSPACE.iter().map(|k| fake_id(k)).collect();
    serde_json::json!({
        "packages": packages,
        "workspace_members": members,
        "resolve": { "nodes": nodes, "root": null },
    })
}

/// The first line of each violation: the path.
fn paths(found: &[String]) -> Vec<&str> {
    found
        .iter()
        .map(|v| v.lines().next().unwrap_or_default())
        .collect()
}

const NORMAL: &[Option<&str>] = &[None];
const DEV: &[Option<&str>] = &[Some("dev")];
const BUILD: &[Option<&str>] = &[Some("build")];
const DEV_AND_NORMAL: &[Option<&str>] = &[Some("dev"), None];

#[test]
fn the_rules_catch_forbidden_paths_in_a_graph_made_by_hand() {
    let metadata = fake_metadata(&[
        // Through our own crate and a crates.io one: two hops from app to rusqlite.
        ("app", "store", NORMAL),
        ("store", "ext:rusqlite", NORMAL),
        ("ext:rusqlite", "ext:libsqlite3-sys", NORMAL),
        // Through a third-party crate only.
        ("exchange", "ext:sm2", NORMAL),
        ("ext:sm2", "ext:wrapper", NORMAL),
        ("ext:wrapper", "ext:tokio", NORMAL),
        // An edge that is a dev-dependency and a normal one counts as normal.
        ("formats", "ext:mio", DEV_AND_NORMAL),
        // domain may use no crate of ours.
        ("domain", "clearance", NORMAL),
        // anyhow: direct in a library is caught, direct in cli or deep below is not.
        ("eport", "ext:anyhow", NORMAL),
        ("cli", "ext:anyhow", NORMAL),
        ("tax", "ext:helper", NORMAL),
        ("ext:helper", "ext:anyhow", NORMAL),
        ("cli", "app", NORMAL),
    ]);
    let graph = Graph::from_metadata(&metadata);
    let found = violations(&graph, RULES, FAKE_PLANNED);
    assert_eq!(
        paths(&found),
        [
            "formats -> mio",
            "exchange -> sm2 -> wrapper -> tokio",
            "domain -> clearance",
            "app -> store -> rusqlite",
            "app -> store -> rusqlite -> libsqlite3-sys",
            "store -> rusqlite",
            "store -> rusqlite -> libsqlite3-sys",
            "eport -> anyhow",
        ],
        "{found:#?}"
    );
    // Each line names its reason.
    assert!(
        found[0].contains("the pure core does no IO"),
        "{}",
        found[0]
    );
}

#[test]
fn the_rules_let_dev_build_and_unrelated_edges_pass() {
    let metadata = fake_metadata(&[
        // Tests and benches may use anything; so may build scripts.
        ("exchange", "ext:tokio", DEV),
        ("exchange", "ext:async-nats", DEV),
        ("risk", "ext:cc", BUILD),
        ("ext:cc", "ext:mio", NORMAL),
        ("store", "ext:tempfile", DEV),
        ("ext:tempfile", "ext:rusqlite", NORMAL),
        // The IO side may do IO.
        ("exchange-bus", "exchange", NORMAL),
        ("exchange-bus", "ext:tokio", NORMAL),
        ("exchange-bus", "ext:rusqlite", NORMAL),
        ("store-postgres", "store", NORMAL),
        ("store-postgres", "ext:tokio-postgres", NORMAL),
        // A crates.io package that shares a name with a crate of ours is not ours.
        ("clearance", "ext:store", NORMAL),
        ("app", "exchange", NORMAL),
        ("app", "domain", NORMAL),
        ("cli", "exchange-bus", NORMAL),
        ("cli", "app", NORMAL),
        ("cli", "ext:anyhow", NORMAL),
    ]);
    let graph = Graph::from_metadata(&metadata);
    let found = violations(&graph, RULES, FAKE_PLANNED);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_rule_about_a_crate_not_in_the_workspace_is_skipped_only_when_planned() {
    let graph = Graph::from_metadata(&fake_metadata(&[]));
    // `store-sqlite` and `store-contract` are not in the fake workspace: planned, so skipped.
    assert!(violations(&graph, RULES, FAKE_PLANNED).is_empty());
    const TYPO: &[Rule] = &[Rule {
        subjects: Subjects::Named(&["stor"]),
        forbidden: Forbidden::Crates(&["tokio"]),
        reach: Reach::Transitive,
        reason: "test",
    }];
    let found = violations(&graph, TYPO, FAKE_PLANNED);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("`stor`"), "{}", found[0]);
}

// ---------------------------------------------------------------------------------------------

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
