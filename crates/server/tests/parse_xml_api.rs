//! `POST /api/declarations/parse-xml`: a single-window `DecMessage` in, the JSON form out, for
//! enterprises only; 415 for a body that is not XML, 413 beyond 1 MiB, 422 with problems for a
//! file that cannot be read. A real server on port 0, a real HTTP client. The samples are the
//! fixtures of the `formats` crate.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use store::Store;

const PASSWORD: &str = "test-password";
const A: &str = "91310115MA1K4Q7B4Y";

fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../formats/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct TestApp(common::Harness);

impl std::ops::Deref for TestApp {
    type Target = common::Harness;
    fn deref(&self) -> &common::Harness {
        &self.0
    }
}

impl TestApp {
    async fn start() -> TestApp {
        let t = TestApp(
            common::Harness::start(|store, clock| Clearance::new(store, common::refdata(), clock))
                .await,
        );
        t
    }

    fn user(&self, login: &str, role: Role, office: Option<&str>, uscc: Option<&str>) {
        self.svc
            .users()
            .bootstrap_user(NewUserRequest {
                login: login.into(),
                password: PASSWORD.into(),
                role,
                duties: if role == Role::Officer {
                    vec![Duty::Reviewer]
                } else {
                    Vec::new()
                },
                office: office.map(|o| OfficeCode::parse(o).unwrap()),
                uscc: uscc.map(|u| Uscc::parse(u).unwrap()),
                agency: None,
            })
            .unwrap();
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
        if !status.is_success() {
            let e = &v["error"];
            assert!(
                e["code"].is_string()
                    && e["message_zh"].is_string()
                    && e["message_en"].is_string()
                    && e["problems"].is_array(),
                "{v}"
            );
        }
        (status, v)
    }

    async fn login(&self, login: &str) -> String {
        let r = self
            .send(
                self.client
                    .post(format!("{}/api/session", self.base))
                    .json(&json!({"login": login, "password": PASSWORD})),
            )
            .await;
        assert_eq!(r.0, StatusCode::CREATED, "{login}: {}", r.1);
        r.1["token"].as_str().unwrap().to_owned()
    }

    async fn parse_xml(
        &self,
        token: Option<&str>,
        query: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .post(format!("{}/api/declarations/parse-xml{query}", self.base))
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        self.send(req).await
    }

    fn audit_records(&self) -> u64 {
        self.store.verify_audit().unwrap().records_checked
    }
}

fn problem_codes(v: &Value) -> Vec<String> {
    v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parse_xml_over_http() {
    let t = TestApp::start().await;
    t.user("ent-a", Role::Enterprise, None, Some(A));
    t.user("officer", Role::Officer, Some("2200"), None);
    let ent = t.login("ent-a").await;
    let officer = t.login("officer").await;
    let audit_before = t.audit_records();
    let sample = fixture("decmessage_SYNTHETIC_import.xml");

    // The UTF-8 sample: the JSON form.
    let (s, form) = t
        .parse_xml(Some(&ent), "", Some("application/xml"), sample.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{form}");
    assert_eq!(form["direction"], "import");
    assert_eq!(form["declaration_office"], "2200");
    assert_eq!(form["trader"]["name"], "示例进口有限公司");
    assert_eq!(form["gross_weight_kg"], "1200.5");
    assert_eq!(form["ie_date"], "2024-04-17");
    assert_eq!(form["remarks"], "备注 & notes");
    assert_eq!(form["items"][0]["name"], "电动剃须刀零件");
    assert_eq!(form["items"][0]["commodity_code"], "8510900000");
    assert_eq!(form["documents"][0]["number"], "EXAMPLE-CERT-001");

    // The same file in GB2312, as text/xml with a charset parameter: the same form.
    let (s, gb) = t
        .parse_xml(
            Some(&ent),
            "",
            Some("text/xml; charset=GB2312"),
            fixture("decmessage_SYNTHETIC_import_gb2312.xml"),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{gb}");
    assert_eq!(gb, form);

    // The form is what the rest of the API takes: checking it reports no problem of shape.
    let (s, checked) = t
        .send(
            t.client
                .post(format!("{}/api/declarations/check", t.base))
                .bearer_auth(&ent)
                .json(&form),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{checked}");
    for p in checked["problems"].as_array().unwrap() {
        let code = p["code"].as_str().unwrap();
        assert!(
            !["unknown_field", "not_json", "json_type"].contains(&code),
            "{p}"
        );
    }

    // No I/E flag: the hint decides; a bad hint is refused.
    let no_flag = String::from_utf8(sample.clone())
        .unwrap()
        .replace("<IEFlag>I</IEFlag>", "<IEFlag/>")
        .into_bytes();
    let (s, v) = t
        .parse_xml(
            Some(&ent),
            "?direction=export",
            Some("application/xml"),
            no_flag.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["direction"], "export");
    let (s, v) = t
        .parse_xml(Some(&ent), "", Some("application/xml"), no_flag.clone())
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["direction"].is_null());
    let (s, _) = t
        .parse_xml(
            Some(&ent),
            "?direction=sideways",
            Some("application/xml"),
            no_flag,
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // Files that cannot be read: 422 with the problems.
    for (body, code) in [
        (b"<DecMessage><DecHead>".to_vec(), "not_xml"),
        (b"not xml at all".to_vec(), "not_xml"),
        (fixture("dec_data_legacy_gb2312.xml"), "root"),
        (
            b"<?xml version=\"1.0\" encoding=\"EBCDIC-42\"?><DecMessage/>".to_vec(),
            "encoding",
        ),
        (b"".to_vec(), "empty"),
    ] {
        let (s, v) = t
            .parse_xml(Some(&ent), "", Some("application/xml"), body)
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
        assert_eq!(problem_codes(&v), [code], "{v}");
    }
    let dup = String::from_utf8(sample.clone()).unwrap().replace(
        "<NetWt>1100</NetWt>",
        "<NetWt>1100</NetWt><GrossWet>1</GrossWet>",
    );
    let (s, v) = t
        .parse_xml(Some(&ent), "", Some("application/xml"), dup.into_bytes())
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(v["error"]["problems"][0]["field"], "DecHead.GrossWet");

    // Not XML by its content type: 415.
    for ct in [Some("application/json"), Some("text/plain"), None] {
        let (s, v) = t.parse_xml(Some(&ent), "", ct, sample.clone()).await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct:?}: {v}");
    }

    // Beyond the body limit: 413.
    let mut huge = sample.clone();
    huge.resize(server::BODY_BYTES_MAX + 1, b' ');
    let (s, _) = t
        .parse_xml(Some(&ent), "", Some("application/xml"), huge)
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);

    // Enterprises only.
    let (s, _) = t
        .parse_xml(Some(&officer), "", Some("application/xml"), sample.clone())
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = t
        .parse_xml(None, "", Some("application/xml"), sample.clone())
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Nothing was recorded.
    assert_eq!(t.audit_records(), audit_before);

    // Documented.
    let (s, doc) = t
        .send(t.client.get(format!("{}/api/openapi.json", t.base)))
        .await;
    assert_eq!(s, StatusCode::OK);
    let op = &doc["paths"]["/api/declarations/parse-xml"]["post"];
    assert!(op.is_object(), "{}", doc["paths"]);
    assert!(op["requestBody"]["content"]["application/xml"].is_object());
    assert!(op["responses"]["422"].is_object());
}
