#![cfg(feature = "stats")]
//! The HQ dashboard's warehouse API as a statistician uses it, over HTTP against `jinguan serve
//! --demo --warehouse DIR` (the demo's declarations are extracted at start):
//!
//! - every grouping reconciles: the sum over any dimension equals the flow totals, and the flow
//!   totals equal what `jinguan stats query` finds in the same Parquet files;
//! - a drill-down filter keeps only its part; a scoped statistician (`sh-chief`, 2200) sees
//!   exactly HQ's row for district 2200;
//! - the bulletin comes as CSV (headings in both languages) and Excel;
//! - a user without the statistician duty gets 403, bad input 422 with the field and both
//!   languages.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};

use reqwest::blocking::Client;
use serde_json::{json, Value};

struct Server {
    child: Child,
    base: String,
    client: Client,
}

impl Server {
    fn start(data_dir: &Path, warehouse: &Path) -> Server {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jinguan"));
        cmd.args(["serve", "--addr", "127.0.0.1:0", "--demo"])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--warehouse")
            .arg(warehouse);
        let (child, base) = common::spawn_serve(&mut cmd);
        Server {
            child,
            base,
            client: Client::new(),
        }
    }

    fn token(&self, login: &str) -> String {
        let r = self
            .client
            .post(format!("{}/api/session", self.base))
            .json(&json!({"login": login, "password": "jinguan-demo"}))
            .send()
            .unwrap();
        assert_eq!(r.status().as_u16(), 201, "sign-in of {login}");
        r.json::<Value>().unwrap()["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn get(&self, token: &str, path_and_query: &str) -> (u16, reqwest::blocking::Response) {
        let r = self
            .client
            .get(format!("{}{path_and_query}", self.base))
            .bearer_auth(token)
            .send()
            .unwrap();
        (r.status().as_u16(), r)
    }

    fn json(&self, token: &str, path_and_query: &str) -> (u16, Value) {
        let (s, r) = self.get(token, path_and_query);
        (s, r.json().unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Export and import totals (CNY fen, USD cents, items) of an answer's rows.
#[derive(Debug, Default, PartialEq, Eq, Clone, Copy)]
struct Totals {
    items: i64,
    export_cny: i64,
    import_cny: i64,
    export_usd: i64,
    import_usd: i64,
}

fn totals(answer: &Value) -> Totals {
    let mut t = Totals::default();
    for r in answer["rows"].as_array().expect("rows") {
        t.items += r["items"].as_i64().unwrap();
        t.export_cny += r["export_cny_fen"].as_i64().unwrap();
        t.import_cny += r["import_cny_fen"].as_i64().unwrap();
        t.export_usd += r["export_usd_cents"].as_i64().unwrap();
        t.import_usd += r["import_usd_cents"].as_i64().unwrap();
    }
    t
}

const PERIOD: &str = "from=2000-01&to=2099-12";

/// The problem list of a 4xx answer names `field` in both languages.
fn assert_problem(v: &Value, field: &str) {
    let problems = v["error"]["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("problems listed: {v}"));
    let p = problems
        .iter()
        .find(|p| p["field"] == field)
        .unwrap_or_else(|| panic!("a problem on {field}: {v}"));
    let zh = p["message_zh"].as_str().unwrap_or_default();
    let en = p["message_en"].as_str().unwrap_or_default();
    assert!(
        zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
        "Chinese message on {field}: {v}"
    );
    assert!(
        !en.is_empty() && en.is_ascii(),
        "English message on {field}: {v}"
    );
}

#[test]
fn the_dashboard_api_reconciles_with_the_warehouse_files_and_refuses_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let wh = dir.path().join("warehouse");
    let server = Server::start(&data_dir, &wh);
    let hq = server.token("hq-analyst");

    // The flow totals: two rows at most (export, import), something of each in the demo.
    let (s, by_flow) = server.json(&hq, &format!("/api/stats/warehouse?by=flow&{PERIOD}"));
    assert_eq!(s, 200, "{by_flow}");
    let all = totals(&by_flow);
    assert!(
        all.items > 0,
        "the demo's released declarations were extracted: {by_flow}"
    );
    assert!(all.import_cny > 0 && all.export_cny > 0, "{by_flow}");
    assert_eq!(by_flow["truncated"], false);

    // Every other grouping sums to the same totals.
    for by in [
        "month",
        "chapter",
        "hs4",
        "hs6",
        "hs8",
        "partner",
        "trade_mode",
        "transport_mode",
        "district",
        "region",
        "enterprise_type",
    ] {
        let (s, v) = server.json(
            &hq,
            &format!("/api/stats/warehouse?by={by}&{PERIOD}&limit=1000"),
        );
        assert_eq!(s, 200, "by {by}: {v}");
        assert_eq!(v["truncated"], false, "by {by}");
        assert_eq!(totals(&v), all, "the sum over {by} equals the total");
        let codes: Vec<&str> = v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        let mut unique = codes.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            codes.len(),
            "one row per {by} code: {codes:?}"
        );
    }

    // The same totals as a plain SQL sum over the same Parquet files, by the CLI.
    let out = Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args([
            "stats",
            "query",
            "SELECT flow, CAST(SUM(items) AS BIGINT) AS items, SUM(value_cny_fen) AS fen, \
             SUM(value_usd_cents) AS usd FROM items GROUP BY flow ORDER BY flow",
            "--format",
            "csv",
            "--warehouse",
        ])
        .arg(&wh)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut sql: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        sql.insert(
            f[0].to_owned(),
            (
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            ),
        );
    }
    let (ei, ec, eu) = sql.get("export").copied().unwrap_or_default();
    let (ii, ic, iu) = sql.get("import").copied().unwrap_or_default();
    assert_eq!(
        (ei + ii, ec, ic, eu, iu),
        (
            all.items,
            all.export_cny,
            all.import_cny,
            all.export_usd,
            all.import_usd
        ),
        "the API's totals equal SQL over the files: {csv}"
    );

    // Drill-down: the largest chapter's imports, by partner, sum to that chapter's imports.
    let (_, chapters) = server.json(
        &hq,
        &format!("/api/stats/warehouse?by=chapter&{PERIOD}&filter=flow:import&limit=1000"),
    );
    let top = &chapters["rows"][0];
    let chapter = top["code"].as_str().unwrap();
    assert!(top["import_cny_fen"].as_i64().unwrap() > 0, "{chapters}");
    assert_eq!(
        top["export_cny_fen"], 0,
        "the flow filter keeps imports only"
    );
    let (s, partners) = server.json(
        &hq,
        &format!(
            "/api/stats/warehouse?by=partner&{PERIOD}&filter=flow:import,chapter:{chapter}&limit=1000"
        ),
    );
    assert_eq!(s, 200, "{partners}");
    assert_eq!(
        totals(&partners).import_cny,
        top["import_cny_fen"].as_i64().unwrap(),
        "chapter {chapter} by partner"
    );
    assert_eq!(totals(&partners).export_cny, 0);

    // A statistician of Shanghai (2200) sees exactly HQ's row for district 2200.
    let (_, districts) = server.json(
        &hq,
        &format!("/api/stats/warehouse?by=district&{PERIOD}&limit=1000"),
    );
    let hq_2200 = districts["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "2200")
        .map(|r| totals(&json!({"rows": [r]})))
        .unwrap_or_default();
    let chief = server.token("sh-chief");
    let (s, scoped) = server.json(&chief, &format!("/api/stats/warehouse?by=flow&{PERIOD}"));
    assert_eq!(s, 200, "{scoped}");
    assert_eq!(totals(&scoped), hq_2200, "2200's scope is district 2200");
    assert!(
        totals(&scoped).items < all.items,
        "the demo trades through more than one district: {districts}"
    );
    // Outside its scope: refused, not answered with the whole country.
    let (s, v) = server.json(
        &chief,
        &format!("/api/stats/warehouse?by=flow&{PERIOD}&office=5300"),
    );
    assert!(s == 403 || s == 404, "office outside the scope: {s} {v}");

    // The bulletin: CSV with headings in both languages, and Excel.
    let (s, r) = server.get(&hq, "/api/stats/bulletin?month=2026-10");
    assert_eq!(s, 200);
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.starts_with("text/csv"), "{ct}");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.contains("bulletin-2026-10.csv"),
        "{disposition}"
    );
    let body = r.text().unwrap();
    assert!(
        body.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
            && body
                .lines()
                .next()
                .unwrap()
                .chars()
                .any(|c| c.is_ascii_alphabetic()),
        "headings in Chinese and English: {}",
        body.lines().next().unwrap()
    );
    let (s, r) = server.get(&hq, "/api/stats/bulletin?month=2026-10&format=xlsx");
    assert_eq!(s, 200);
    let bytes = r.bytes().unwrap();
    assert_eq!(&bytes[..2], b"PK", "an xlsx file is a zip");

    // Who may not: an officer without the statistician duty, an enterprise.
    for login in ["pd-officer", "ent-sh"] {
        let t = server.token(login);
        let (s, v) = server.json(&t, &format!("/api/stats/warehouse?by=flow&{PERIOD}"));
        assert_eq!(s, 403, "{login}: {v}");
        let (s, _) = server.get(&t, "/api/stats/bulletin?month=2026-10");
        assert_eq!(s, 403, "{login} and the bulletin");
    }
    let (s, _) = server.get("not-a-token", "/api/stats/bulletin?month=2026-10");
    assert_eq!(s, 401);

    // Bad input: 422 with the field in both languages.
    for (query, field) in [
        (
            "/api/stats/warehouse?by=colour&from=2026-01&to=2026-10",
            "by",
        ),
        (
            "/api/stats/warehouse?by=flow&from=2026-13&to=2026-10",
            "from",
        ),
        (
            "/api/stats/warehouse?by=flow&from=2026-01&to=2026-10&limit=0",
            "limit",
        ),
        (
            "/api/stats/warehouse?by=flow&from=2026-01&to=2026-10&filter=chapter",
            "filter",
        ),
        (
            "/api/stats/warehouse?by=chapter&from=2026-01&to=2026-10&filter=chapter:85",
            "filter",
        ),
        ("/api/stats/bulletin?month=2026-1", "month"),
        ("/api/stats/bulletin?month=2026-10&format=pdf", "format"),
    ] {
        let (s, v) = server.json(&hq, query);
        assert_eq!(s, 422, "{query}: {v}");
        assert_problem(&v, field);
    }
}
