//! The `jinguan` binary as a user runs it: exit codes, messages and the example files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

mod common;

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

/// `jinguan refdata import TABLE FILE` into `data_dir`, which must succeed.
fn import_table(data_dir: &Path, table: &str, file: &Path) {
    let o = jinguan(
        &["refdata", "import", table, file.to_str().unwrap()],
        data_dir,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
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

/// The valid example files and the demo user who files each (README, "File an example").
const VALID_EXAMPLES: [(&str, &str); 3] = [
    ("examples/import-laptops.json", "ent-sh"),
    ("examples/export-shoes.json", "ent-sz"),
    ("examples/import-ecommerce-cosmetics.json", "ent-sh"),
];

/// The invalid example files and their problems (field, code), as docs/declaration-json.md
/// describes them.
const INVALID_EXAMPLES: &[(&str, &[(&str, &str)])] = &[
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

/// Every example file is one of the two lists above.
#[test]
fn every_example_file_is_listed() {
    let mut listed: Vec<&str> = VALID_EXAMPLES
        .iter()
        .map(|(f, _)| *f)
        .chain(INVALID_EXAMPLES.iter().map(|(f, _)| *f))
        .collect();
    let mut found: Vec<String> = std::fs::read_dir(root().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .map(|n| format!("examples/{n}"))
        .collect();
    listed.sort();
    found.sort();
    assert_eq!(found, listed);
}

#[test]
fn valid_examples_exit_zero() {
    let data = tempfile::tempdir().unwrap();
    for (f, _) in VALID_EXAMPLES {
        let o = jinguan(&["validate", f], data.path());
        assert_eq!(o.status.code(), Some(0), "{f}: {}", stdout(&o));
        assert!(stdout(&o).contains("valid"), "{}", stdout(&o));
    }
}

#[test]
fn invalid_examples_list_every_problem() {
    let data = tempfile::tempdir().unwrap();
    for (file, expected) in INVALID_EXAMPLES {
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

/// `jinguan serve --demo` as a child process, killed when dropped.
struct DemoServer {
    child: std::process::Child,
    base: String,
    _data: tempfile::TempDir,
}

impl DemoServer {
    /// Start it on a free port over a fresh data folder; returns once it listens (the first
    /// line of its output is its URL).
    fn start(declarations: usize) -> DemoServer {
        DemoServer::start_over(tempfile::tempdir().unwrap(), declarations)
    }

    /// [`DemoServer::start`] over a data folder prepared by the test (imported tables).
    fn start_over(data: tempfile::TempDir, declarations: usize) -> DemoServer {
        let (child, base) = common::spawn_serve(
            Command::new(env!("CARGO_BIN_EXE_jinguan"))
                .args([
                    "serve",
                    "--demo",
                    "--addr",
                    "127.0.0.1:0",
                    "--demo-declarations",
                ])
                .arg(declarations.to_string())
                .arg("--data-dir")
                .arg(data.path())
                .current_dir(root()),
        );
        DemoServer {
            child,
            base,
            _data: data,
        }
    }

    fn login(&self, client: &reqwest::blocking::Client, login: &str) -> String {
        let r = client
            .post(format!("{}/api/session", self.base))
            .json(&serde_json::json!({"login": login, "password": "jinguan-demo"}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "sign-in of {login}");
        let v: Value = r.json().unwrap();
        v["token"].as_str().unwrap().to_owned()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The README's path for a newcomer: `jinguan serve --demo`, sign in as the example's filer and
/// file the example file as it is with a `Client-Seq-No`: the valid examples are accepted and
/// numbered (their bills are on the demo's arrived manifest, or an export's on none), the
/// invalid ones refused with the problems `jinguan validate` lists. Filed again with the same
/// header, a valid example gives back its first result.
#[test]
fn examples_file_against_the_demo_server_as_the_readme_says() {
    let server = DemoServer::start(40);
    let client = reqwest::blocking::Client::new();
    let file = |token: &str, path: &str, seq: &str| {
        let r = client
            .post(format!("{}/api/declarations", server.base))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("Client-Seq-No", seq)
            .body(std::fs::read(root().join(path)).unwrap())
            .send()
            .unwrap();
        let status = r.status().as_u16();
        let v: Value = r.json().unwrap();
        (status, v)
    };
    for (path, login) in VALID_EXAMPLES {
        let token = server.login(&client, login);
        // The number is the filer's: one per filing.
        let seq = path.trim_start_matches("examples/");
        let (status, v) = file(&token, path, seq);
        assert_eq!(status, 201, "{path} filed by {login}: {v}");
        assert_ne!(v["status"], "rejected", "{path}: {v}");
        assert_eq!(
            v["declaration_no"].as_str().map(str::len),
            Some(18),
            "{path} is numbered: {v}"
        );
        let (again, w) = file(&token, path, seq);
        assert_eq!((again, &w["id"]), (200, &v["id"]), "{path} replayed: {w}");
    }
    let token = server.login(&client, "ent-sh");
    for (path, expected) in INVALID_EXAMPLES {
        let (status, v) = file(&token, path, path);
        assert!(
            status == 400 || status == 422,
            "{path} refused: {status} {v}"
        );
        let mut got = problem_codes(&v["error"]);
        let mut expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| (f.to_string(), c.to_string()))
            .collect();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "{path}: {v}");
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
    assert_eq!(v["parts"]["serial"], "525641690");

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

#[test]
fn parse_every_kind_valid_and_invalid() {
    let data = tempfile::tempdir().unwrap();
    let parse = |kind: &str, value: &str, extra: &[&str]| {
        let mut args = vec!["parse", kind, value, "--json"];
        args.extend_from_slice(extra);
        let o = jinguan(&args, data.path());
        let v: Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(&o)));
        (o.status.code().unwrap(), v)
    };
    let (code, v) = parse("pre-entry-no", "22002024I000000001", &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["parts"]["office"], "2200");
    assert_eq!(v["parts"]["year"], 2024);
    assert_eq!(v["parts"]["direction"], "import");
    // Issue 21 item 13: the serial is nine digits, leading zeros kept (a string).
    assert_eq!(v["parts"]["serial"], "000000001");
    let (code, v) = parse("pre-entry-no", "22002024X000000001", &[]);
    assert_eq!((code, v["code"].as_str()), (1, Some("character")));

    let (code, v) = parse("customs-code", "1105910159", &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["parts"]["locality"], "1105");
    assert_eq!(v["parts"]["zone"], "9");
    assert_eq!(v["parts"]["enterprise_type"], "1");
    assert_eq!(v["parts"]["sequence"], "0159");

    let (code, v) = parse("declaration-no", "0202200805256416", &[]);
    assert_eq!((code, v["code"].as_str()), (1, Some("length")));
    let (code, v) = parse("commodity", "84713000AB", &[]);
    assert_eq!((code, v["code"].as_str()), (1, Some("character")));

    // A published code (its check character computed independently) passes; `--strict` is
    // still accepted. GB 32100-2015 4.3: positions 9-17 are a GB 11714 organisation code, so
    // a code whose organisation check digit is wrong is refused although its GB 32100 check
    // character fits (91110000600037342P: P is right, the GB 11714 digit should be 1, not 2).
    let (code, v) = parse("uscc", "91110000600037341L", &["--strict"]);
    assert_eq!(code, 0, "{v}");
    let (code, v) = parse("uscc", "91350100M000100Y43", &["--strict"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["parts"]["organisation_code_check"], true);
    let (code, v) = parse("uscc", "91110000600037342P", &[]);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("organisation_check_character"))
    );
    let (code, v) = parse("uscc", "91110000600037342P", &["--strict"]);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("organisation_check_character"))
    );
    // GB 32100-2015 table 1: B is no registration authority (code computed with both check
    // characters right: body B1110000MA00000A9 + check).
    let (code, v) = parse("uscc", "B1110000MA00000A9M", &[]);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("registration_authority")),
        "{v}"
    );

    // GB 11643-1999: the standard's sample number, its parts; a 31 April refused; an unknown
    // division refused; the normalisation policy names a lowercase x and gives the fix.
    let (code, v) = parse("resident-id", "11010519491231002X", &[]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["parts"]["division"], "110105");
    assert_eq!(v["parts"]["birth_date"], "1949-12-31");
    assert_eq!(v["parts"]["sequence"], "002");
    assert_eq!(v["parts"]["sex"], "female");
    let (code, v) = parse("resident-id", "110105202304310023", &[]);
    assert_eq!((code, v["code"].as_str()), (1, Some("birth_date")), "{v}");
    let (code, v) = parse("resident-id", "990000198001010020", &[]);
    assert_eq!((code, v["code"].as_str()), (1, Some("division")), "{v}");
    let (code, v) = parse("resident-id", "11010519491231002x", &[]);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("not_canonical")),
        "{v}"
    );
    assert!(
        v["message_en"]
            .as_str()
            .unwrap()
            .contains("11010519491231002X"),
        "{v}"
    );
    assert!(v["message_zh"].as_str().unwrap().contains("小写"), "{v}");
    // The same policy for every kind: inner spaces are refused, the canonical form given.
    let (code, v) = parse("declaration-no", "0202 2008 0525641690", &[]);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("not_canonical")),
        "{v}"
    );
    assert!(
        v["message_en"]
            .as_str()
            .unwrap()
            .contains("020220080525641690"),
        "{v}"
    );
    let (code, v) = parse("uscc", " 91110000600037341L", &[]);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("not_canonical")),
        "{v}"
    );

    // Well formed but not in the table: the reason in both languages, the Chinese in Chinese.
    let (code, v) = parse("office", "9999", &[]);
    assert_eq!((code, v["code"].as_str()), (1, Some("unknown_code")));
    let zh = v["message_zh"].as_str().unwrap();
    assert!(zh.contains("关区代码表"), "{zh}");
    assert!(!zh.contains("well formed"), "{zh}");
    assert!(v["message_en"].as_str().unwrap().contains("office table"));
}

#[test]
fn an_array_is_not_a_declaration() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("list.json");
    let one = std::fs::read_to_string(root().join("examples/import-laptops.json")).unwrap();
    std::fs::write(&list, format!("[{one}]")).unwrap();
    let (code, v) = validate_json_output(&list, data.path());
    assert_eq!(code, 1);
    assert_eq!(problem_codes(&v), vec![("".into(), "not_object".into())]);
}

#[test]
fn import_errors_list_each_bad_line_once_in_line_order() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("tariff.csv");
    std::fs::copy(
        root().join("crates/refdata/tests/fixtures/tariff_bad.csv"),
        &bad,
    )
    .unwrap();
    let o = jinguan(
        &["refdata", "import", "tariff", bad.to_str().unwrap()],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<u64> = err
        .lines()
        .filter_map(|l| l.trim().strip_prefix("line "))
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect();
    // Lines 3, 4, 6 (overlapping versions: found after the row checks), 7, 8, 9, 10.
    assert_eq!(lines, vec![3, 4, 6, 7, 8, 9, 10], "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
    assert!(!data.path().join("refdata").join("tariff.csv").exists());
}

#[test]
fn tax_prints_text_and_json_and_takes_a_date() {
    let data = tempfile::tempdir().unwrap();
    let o = jinguan(&["tax", "examples/import-laptops.json"], data.path());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    for part in [
        "完税价格",
        "customs value",
        "缴款书",
        "Payment notices",
        "合计 Total payable",
    ] {
        assert!(text.contains(part), "{part}: {text}");
    }
    assert!(
        text.contains("SAMPLE"),
        "the rates' source is named: {text}"
    );

    let o = jinguan(
        &["tax", "examples/import-laptops.json", "--json"],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tax_date"], "2025-03-10");
    assert_eq!(v["exchange_rates"][0]["rate_date"], "2025-02-19");
    let notices = v["notices"].as_array().unwrap();
    let sum: i64 = notices
        .iter()
        .map(|n| n["payable_fen"].as_i64().unwrap())
        .sum();
    assert_eq!(Some(sum), v["total_payable_fen"].as_i64());
    assert!(sum > 0);

    // --date: the rate of the month before that date.
    let o = jinguan(
        &[
            "tax",
            "examples/import-laptops.json",
            "--json",
            "--date",
            "2025-06-02",
        ],
        data.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["tax_date"], "2025-06-02");
    assert_eq!(v["exchange_rates"][0]["rate_date"], "2025-05-21");

    // Invalid declaration: exit 1 with the problems; unreadable: exit 2.
    let o = jinguan(&["tax", "examples/invalid-many-problems.json"], data.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("total_mismatch"));
    let o = jinguan(&["tax", "examples/no-such-file.json"], data.path());
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn tax_of_an_ecommerce_import_counts_the_buyers_year() {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = "examples/import-ecommerce-cosmetics.json";
    let o = jinguan(&["validate", file], data.path());
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));

    // Without the history the limits cannot be checked: refused, saying what to give.
    let o = jinguan(&["tax", file], data.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--history"));

    let assess = |history: &str| {
        let path = dir.path().join("history.csv");
        std::fs::write(&path, history).unwrap();
        let o = jinguan(
            &["tax", file, "--json", "--history", path.to_str().unwrap()],
            data.path(),
        );
        (o.status.code().unwrap(), o)
    };
    // No earlier purchase: within the limits (duty 0, VAT and consumption tax at 70 %).
    let (code, o) = assess("");
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["regime"]["within_limits"], true, "{v}");
    assert_eq!(v["regime"]["annual_before_fen"], 0);
    // CT 300 ÷ 0.85 × 15 % = 52.94, × 70 % = 37.06; VAT (300 + 52.94) × 13 % = 45.88, × 70 % =
    // 32.12 (no ¥50 exemption within the limits).
    assert_eq!(v["total_payable_fen"], 6_918, "{v}");

    // 25,800 yuan earlier this year (and purchases of other years and people, which do not
    // count) + this 300 > 26,000: general taxation. Duty 1 % = 3.00 and VAT (303 + 53.47) ×
    // 13 % = 46.34 are then at most ¥50 and not collected; CT 303 ÷ 0.85 × 15 % = 53.47 is.
    let (code, o) = assess(
        "person_id,date,value\n\
         resident_id:11010519491231002x,2025-01-05,25000.00\n\
         resident_id:11010519491231002X,2025-02-01,800\n\
         resident_id:11010519491231002X,2024-12-31,9000\n\
         passport:E12345678,2025-02-01,9000\n",
    );
    assert_eq!(code, 0, "{}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["regime"]["within_limits"], false, "{v}");
    assert_eq!(v["regime"]["annual_before_fen"], 2_580_000);
    assert_eq!(v["total_payable_fen"], 5_347, "{v}");

    // A bad history file: every bad row by line number, exit 2.
    let (code, o) = assess("person_id,date,value\nnobody,2025-01-05,1\nresident_id:1,2025-13-01,1\npassport:X,2025-01-01,-5\n");
    assert_eq!(code, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    for line in ["line 2", "line 3", "line 4"] {
        assert!(err.contains(line), "{line}: {err}");
    }

    // --history on a general-trade declaration is a mistake, not ignored.
    let path = dir.path().join("history.csv");
    let o = jinguan(
        &[
            "tax",
            "examples/import-laptops.json",
            "--history",
            path.to_str().unwrap(),
        ],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(2));
}

/// `jinguan codes tariff | head -1`: when the reader closes the pipe the command stops quietly
/// (killed by SIGPIPE, as Unix tools are) instead of panicking with "failed printing to stdout".
#[test]
fn a_closed_pipe_ends_a_listing_quietly() {
    use std::process::Stdio;
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .args(["codes", "tariff", "--data-dir"])
        .arg(data.path())
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("jinguan runs");
    // Close the reading end before the command writes: every write then fails with EPIPE.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("jinguan ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "stderr: {err}");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(13),
        "ended by SIGPIPE: {:?}",
        out.status
    );
}

/// The cargo matching tolerance is a server setting, checked before anything starts.
#[test]
fn serve_refuses_a_weight_tolerance_out_of_range() {
    let data = tempfile::tempdir().unwrap();
    let o = jinguan(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--cargo-weight-tolerance-ratio",
            "0.9",
        ],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("invalid cargo matching setting") && err.contains("weight_tolerance_ratio"),
        "{err}"
    );
}

/// Issue 21 item 3: the general rate (Customs Tariff Law art. 12) comes from the dated,
/// importable `general_rate_origins` table, which `jinguan tax` reads like every other table:
/// with USA listed (a test decision, not a real one), the laptops take the general rate 70 %
/// and no provisional rate (Duties Regulations art. 11); before the listed period, MFN.
#[test]
fn tax_takes_the_general_rate_from_the_imported_table() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("general.csv");
    std::fs::write(
        &file,
        "origin,valid_from,valid_to,source\nUSA,2025-03-01,,test decision (not a real one)\n",
    )
    .unwrap();
    import_table(data.path(), "general_rate_origins", &file);
    let o = jinguan(
        &["tax", "examples/import-laptops.json", "--json"],
        data.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o).replace(": ", ":");
    assert!(text.contains(r#""measure":"general""#), "{text}");
    assert!(text.contains(r#""rate":"70%""#), "{text}");
    let o = jinguan(
        &[
            "tax",
            "examples/import-laptops.json",
            "--json",
            "--date",
            "2025-02-20",
        ],
        data.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o).replace(": ", ":");
    assert!(text.contains(r#""measure":"mfn""#), "{text}");
}

/// Issue 21 items 5 and 6: trade remedies are importable (`jinguan refdata import
/// trade_remedies FILE`) and `jinguan tax` uses the imported table; a safeguard row (a test
/// measure, not a real one) gives its own notice.
#[test]
fn tax_uses_imported_trade_remedies_with_a_safeguard() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("remedies.csv");
    std::fs::write(
        &file,
        "code_prefix,origin,producer,kind,rate,valid_from,valid_to\n8471,USA,*,safeguard,10%,2025-01-01,2025-12-31\n",
    )
    .unwrap();
    import_table(data.path(), "trade_remedies", &file);
    let o = jinguan(
        &["tax", "examples/import-laptops.json", "--json"],
        data.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o).replace(": ", ":");
    assert!(text.contains(r#""measure":"safeguard""#), "{text}");
    assert!(text.contains(r#""kind":"safeguard_duty""#), "{text}");
    // A bad file changes nothing: the safeguard is still applied.
    std::fs::write(&file, "code_prefix,origin,producer,kind\n8471,USA,*\n").unwrap();
    let o = jinguan(
        &[
            "refdata",
            "import",
            "trade_remedies",
            file.to_str().unwrap(),
        ],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let o = jinguan(
        &["tax", "examples/import-laptops.json", "--json"],
        data.path(),
    );
    assert!(stdout(&o)
        .replace(": ", ":")
        .contains(r#""measure":"safeguard""#));
}

/// Issue 21 item 6: `jinguan serve` assesses with the trade remedies imported into its data
/// folder (`jinguan refdata import trade_remedies FILE`), not the compiled-in sample: a
/// safeguard row on laptops from the USA (a test measure, not a real one) shows in the served
/// assessment of the example filed against the demo, with its own 10 %; then a failed import
/// leaves the table as it was.
#[test]
fn serve_assesses_with_imported_trade_remedies() {
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("remedies.csv");
    std::fs::write(
        &file,
        "code_prefix,origin,producer,kind,rate,valid_from,valid_to\n8471,USA,*,safeguard,10%,2025-01-01,2027-12-31\n",
    )
    .unwrap();
    let o = jinguan(
        &[
            "refdata",
            "import",
            "trade_remedies",
            file.to_str().unwrap(),
        ],
        data.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let imported = std::fs::read(data.path().join("refdata/trade_remedies.csv")).unwrap();
    std::fs::write(&file, "code_prefix,origin\n8471,USA\n").unwrap();
    let o = jinguan(
        &[
            "refdata",
            "import",
            "trade_remedies",
            file.to_str().unwrap(),
        ],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        std::fs::read(data.path().join("refdata/trade_remedies.csv")).unwrap(),
        imported,
        "a failed import changes nothing"
    );

    let server = DemoServer::start_over(data, 3);
    let client = reqwest::blocking::Client::new();
    let token = server.login(&client, "ent-sh");
    let r = client
        .post(format!("{}/api/declarations", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .header("Client-Seq-No", "remedy-1")
        .body(std::fs::read(root().join("examples/import-laptops.json")).unwrap())
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let v: Value = r.json().unwrap();
    let d: Value = client
        .get(format!("{}/api/declarations/{}", server.base, v["id"]))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let measures: Vec<(String, String)> = d["tax"]["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{d}"))
        .iter()
        .flat_map(|it| it["measures"].as_array().unwrap().clone())
        .map(|m| {
            (
                m["measure"].as_str().unwrap().to_owned(),
                m["rate"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        measures.contains(&("safeguard".to_string(), "10%".to_string())),
        "{measures:?}"
    );
}

/// `jinguan convert`: a declaration through every format and back to the same JSON form, from
/// a file and from standard input; problems with their place in both languages, exit 1; a
/// field the target cannot carry is refused, not dropped.
#[test]
fn convert_between_formats() {
    use std::io::Write;
    use std::process::Stdio;

    let data = tempfile::tempdir().unwrap();
    let convert = |from: &str, to: &str, input: &[u8]| -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_jinguan"))
            .args([
                "convert",
                "--from",
                from,
                "--to",
                to,
                "--client-seq-no",
                "CV-1",
            ])
            .arg("--data-dir")
            .arg(data.path())
            .current_dir(root())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let example = root().join("examples/import-laptops.json");
    #[allow(clippy::disallowed_methods)] // a test reads the example
    let json = std::fs::read(&example).unwrap();
    let want = domain::validate::parse_form(&json).unwrap();

    // From the file: JSON → WCO.
    let o = jinguan(
        &[
            "convert",
            "--from",
            "json",
            "--to",
            "wcodm",
            example.to_str().unwrap(),
        ],
        data.path(),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let wco = o.stdout;
    assert!(String::from_utf8_lossy(&wco).contains("urn:wco:datamodel:WCO:DEC-DMS:2"));
    // Then through standard input: WCO → CUSDEC → DecMessage → JSON.
    let mut doc = wco;
    for (from, to) in [
        ("wcodm", "cusdec"),
        ("cusdec", "decmessage"),
        ("decmessage", "json"),
    ] {
        let o = convert(from, to, &doc);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{from} → {to}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        doc = o.stdout;
    }
    assert_eq!(domain::validate::parse_form(&doc).unwrap(), want);
    // The client sequence number travels.
    let o = convert("json", "cusdec", &json);
    assert!(stdout(&o).contains("BGM+929+CV-1+9'"), "{}", stdout(&o));

    // Unreadable input: every problem with its place, in Chinese and English; exit 1.
    let o = convert("wcodm", "json", b"<Declaration xmlns=\"urn:other\"/>");
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("Declaration: namespace"), "{err}");
    assert!(
        err.contains("须在命名空间") && err.contains("must be in the namespace"),
        "{err}"
    );

    // What the target cannot carry: refused, naming the field.
    let cosmetics = root().join("examples/import-ecommerce-cosmetics.json");
    let o = jinguan(
        &[
            "convert",
            "--from",
            "json",
            "--to",
            "decmessage",
            cosmetics.to_str().unwrap(),
        ],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("buyer: not_carried"), "{err}");
    assert!(o.stdout.is_empty());

    // A missing file: exit 2.
    let o = jinguan(
        &[
            "convert",
            "--from",
            "json",
            "--to",
            "wcodm",
            "no-such-file.json",
        ],
        data.path(),
    );
    assert_eq!(o.status.code(), Some(2));
}
