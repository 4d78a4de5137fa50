//! The `jinguan` binary as a user runs it: exit codes, messages and the example files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn jinguan(args: &[&str], data_dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .current_dir(root())
        .output()
        .expect("jinguan runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn validate_json_output(file: &Path, data: &Path) -> (i32, Value) {
    let o = jinguan(&["validate", "--json", file.to_str().unwrap()], data);
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)));
    (o.status.code().unwrap(), v[0].clone())
}

fn problem_codes(v: &Value) -> Vec<(String, String)> {
    v["problems"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| {
                    (
                        p["field"].as_str().unwrap().to_string(),
                        p["code"].as_str().unwrap().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn valid_examples_exit_zero() {
    let data = tempfile::tempdir().unwrap();
    for f in ["examples/import-laptops.json", "examples/export-shoes.json"] {
        let o = jinguan(&["validate", f], data.path());
        assert_eq!(o.status.code(), Some(0), "{f}: {}", stdout(&o));
        assert!(stdout(&o).contains("valid"), "{}", stdout(&o));
    }
}

#[test]
fn invalid_examples_list_every_problem() {
    let data = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[(&str, &str)])] = &[
        (
            "examples/invalid-many-problems.json",
            &[
                ("trader.uscc", "format"),
                ("net_weight_kg", "net_exceeds_gross"),
                ("items[0].total_price", "total_mismatch"),
                ("items[0].origin_country", "unknown_code"),
                ("items[0].first_unit", "legal_unit"),
                ("freight.currency", "required"),
            ],
        ),
        (
            "examples/invalid-missing-fields.json",
            &[
                ("trade_mode", "required"),
                ("declaration_date", "required"),
                ("transaction_terms", "required"),
                ("items[0].commodity_code", "required"),
            ],
        ),
        (
            "examples/invalid-no-items.json",
            &[("items", "items_count")],
        ),
        (
            "examples/invalid-licence-and-levy.json",
            &[
                ("levy_nature", "levy_nature_mismatch"),
                ("items[0].commodity_code", "licence_missing"),
            ],
        ),
        (
            "examples/invalid-unknown-fields.json",
            &[
                ("items[0].weight", "unknown_field"),
                ("colour", "unknown_field"),
            ],
        ),
        ("examples/invalid-garbage.json", &[("", "not_json")]),
        ("examples/invalid-empty.json", &[("", "empty")]),
    ];
    for (file, expected) in cases {
        let (code, v) = validate_json_output(&root().join(file), data.path());
        assert_eq!(code, 1, "{file}");
        assert_eq!(v["status"], "invalid", "{file}");
        let mut got = problem_codes(&v);
        let mut expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| (f.to_string(), c.to_string()))
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{file}");
        for p in v["problems"].as_array().unwrap() {
            assert!(!p["message_zh"].as_str().unwrap().is_empty());
            assert!(!p["message_en"].as_str().unwrap().is_empty());
        }
    }
}

#[test]
fn human_output_lists_problems_in_both_languages() {
    let data = tempfile::tempdir().unwrap();
    let o = jinguan(
        &["validate", "examples/invalid-many-problems.json"],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("6 problem(s)"), "{out}");
    assert!(out.contains("校验位"), "{out}");
    assert!(out.contains("check character"), "{out}");
}

#[test]
fn hostile_files_get_clear_errors() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.json");
    // 50 MB: refused after reading one byte past the limit.
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(50 * 1024 * 1024).unwrap();
    let (code, v) = validate_json_output(&big, data.path());
    assert_eq!(
        (code, problem_codes(&v)),
        (1, vec![("".into(), "too_large".into())])
    );

    let deep = dir.path().join("deep.json");
    std::fs::write(
        &deep,
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    )
    .unwrap();
    let (code, v) = validate_json_output(&deep, data.path());
    assert_eq!(code, 1);
    assert_eq!(v["status"], "invalid");

    let missing = dir.path().join("no-such-file.json");
    let (code, v) = validate_json_output(&missing, data.path());
    assert_eq!((code, v["status"].as_str()), (2, Some("unreadable")));

    let (code, v) = validate_json_output(dir.path(), data.path());
    assert_eq!((code, v["status"].as_str()), (2, Some("unreadable")));
}

#[test]
fn parse_identifiers() {
    let data = tempfile::tempdir().unwrap();
    let o = jinguan(
        &["parse", "declaration-no", "020220080525641690", "--json"],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["parts"]["office"], "0202");
    assert_eq!(v["parts"]["year"], 2008);
    assert_eq!(v["parts"]["direction"], "export");
    assert_eq!(v["parts"]["serial"], 525641690);

    let o = jinguan(&["parse", "uscc", "91110000600037341L"], data.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = jinguan(
        &["parse", "uscc", "91110000600037341M", "--json"],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["code"], "check_character");

    let o = jinguan(&["parse", "office", "2233"], data.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("2200"), "parent shown: {}", stdout(&o));
    let o = jinguan(&["parse", "office", "9999"], data.path());
    assert_eq!(o.status.code(), Some(1));
    let o = jinguan(&["parse", "commodity", "8471300000"], data.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("847130"), "{}", stdout(&o));
    let o = jinguan(&["parse", "customs-code", "12AB"], data.path());
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn codes_lookup() {
    let data = tempfile::tempdir().unwrap();
    let o = jinguan(&["codes", "countries", "502", "--json"], data.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|r| r["extra"].as_str().unwrap_or("").contains("USA") || r["code"] == "USA"),
        "{v}"
    );
    let o = jinguan(&["codes", "trade_modes", "一般贸易"], data.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("0110"));
    let o = jinguan(&["codes", "no_such_table"], data.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_bad_import_changes_nothing() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("offices.csv");
    let shipped = std::fs::read_to_string(root().join("data/offices.csv")).unwrap();
    std::fs::write(
        &good,
        format!("{shipped}9999,测试海关,Test Customs,direct,0000\n"),
    )
    .unwrap();
    let o = jinguan(
        &["refdata", "import", "offices", good.to_str().unwrap()],
        data.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = jinguan(&["parse", "office", "9999"], data.path());
    assert_eq!(o.status.code(), Some(0), "imported office is in force");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "code,name_zh,name_en,level,parent\n0000,海关总署,HQ,hq,\n12,短,Short,direct,0000\n1201,无父,Orphan,subordinate,7700\n").unwrap();
    let o = jinguan(
        &["refdata", "import", "offices", bad.to_str().unwrap()],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("line 4"), "{err}");
    let o = jinguan(&["parse", "office", "9999"], data.path());
    assert_eq!(
        o.status.code(),
        Some(0),
        "the earlier import is still in force"
    );
}
