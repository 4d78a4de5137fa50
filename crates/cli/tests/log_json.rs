//! Issue 15 item 5: `jinguan serve --log-format json` writes one JSON object per line to
//! stderr, with one line per request (time, request id, method, the route template, status,
//! latency in ms, the principal's kind), and never a password, a session token or a document
//! sent in a request.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn request_lines_are_json_with_ids_and_templates_and_no_secrets_or_documents() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_jinguan"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--demo",
            "--demo-declarations",
            "2",
            "--log-format",
            "json",
        ])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env_remove("JINGUAN_LOG")
        .current_dir(root())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut url = String::new();
    out.read_line(&mut url).unwrap();
    let base = url.trim().trim_end_matches('/').to_owned();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();

    // A wrong password, then the right one.
    const WRONG: &str = "Wrong-Secret-Passw0rd-8812";
    let r = http
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({"login": "ent-sh", "password": WRONG}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = http
        .post(format!("{base}/api/session"))
        .json(&serde_json::json!({"login": "ent-sh", "password": "jinguan-demo"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let token = r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A declaration with recognisable text in it.
    const MARK: &str = "LOGLEAK-CONTRACT-4471";
    let mut form: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("examples/import-laptops.json")).unwrap(),
    )
    .unwrap();
    form["contract_no"] = Value::String(MARK.into());
    let r = http
        .post(format!("{base}/api/declarations"))
        .bearer_auth(&token)
        .header("Client-Seq-No", "log-test-1")
        .json(&form)
        .send()
        .unwrap();
    let status = r.status().as_u16();
    let request_id = r
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_owned())
        .expect("every answer names its request id");
    let filed: Value = r.json().unwrap();
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_i64().expect("an id");
    let r = http
        .get(format!("{base}/api/declarations/{id}?marker={MARK}"))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let r = http.get(format!("{base}/health")).send().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();

    let text = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "http_request")
        .collect();
    assert!(requests.len() >= 5, "{text}");
    for r in &requests {
        for field in [
            "time",
            "level",
            "request_id",
            "method",
            "route",
            "status",
            "latency_ms",
            "principal",
        ] {
            assert!(!r[field].is_null(), "{field} missing in {r}");
        }
        assert!(
            r["latency_ms"].is_number() && r["status"].is_number(),
            "{r}"
        );
        assert!(
            chrono::DateTime::parse_from_rfc3339(r["time"].as_str().unwrap()).is_ok(),
            "{r}"
        );
    }
    let find = |method: &str, route: &str, status: u64| {
        requests
            .iter()
            .find(|r| r["method"] == method && r["route"] == route && r["status"] == status)
            .unwrap_or_else(|| panic!("no {method} {route} {status} in {text}"))
    };
    assert_eq!(find("POST", "/api/session", 401)["principal"], "-");
    assert_eq!(find("POST", "/api/session", 201)["principal"], "enterprise");
    let filing = find("POST", "/api/declarations", 201);
    assert_eq!(filing["principal"], "enterprise");
    assert_eq!(filing["request_id"], request_id.as_str());
    // The route template, not the path with the id (and never the query).
    assert_eq!(
        find("GET", "/api/declarations/{id}", 200)["principal"],
        "enterprise"
    );
    assert_eq!(find("GET", "/health", 200)["principal"], "-");
    let ids: std::collections::HashSet<&str> = requests
        .iter()
        .map(|r| r["request_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), requests.len(), "request ids are unique");

    // Nothing secret or documentary anywhere in the log.
    for secret in [WRONG, "jinguan-demo", token.as_str(), MARK, "SHX-2025-0310"] {
        assert!(
            !text.contains(secret),
            "{secret:?} found in the log:\n{text}"
        );
    }
    assert!(!text.contains(&format!("/api/declarations/{id}")), "{text}");
}
