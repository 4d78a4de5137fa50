//! Documents attached to a declaration over HTTP (issue 20): uploaded with their checksum,
//! listed and downloaded only by those who may see the declaration, audited; every bad upload
//! refused with its problems listed, nothing stored.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::Value;
use store::Store;

const A: &str = "91310115MA1K4Q7B4Y";
const B: &str = "91440300MA5FT3XKX8";
const PDF: &[u8] = b"%PDF-1.4\n% jinguan test document\n";
/// `printf '%%PDF-1.4\n%% jinguan test document\n' | sha256sum`
const PDF_SHA256: &str = "45d0df82dcba47661688c42ef9afeab1d16b87d66c35e7e1b9b43c85b2eb3c07";

struct T(common::Harness);

impl std::ops::Deref for T {
    type Target = common::Harness;
    fn deref(&self) -> &common::Harness {
        &self.0
    }
}

impl T {
    async fn start() -> T {
        let t = T(common::Harness::start(|store, clock| {
            Clearance::new(store, common::refdata(), clock)
                .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
        })
        .await);
        for (login, role, office, uscc, duties) in [
            ("ent-a", Role::Enterprise, None, Some(A), vec![]),
            ("ent-b", Role::Enterprise, None, Some(B), vec![]),
            (
                "pd",
                Role::Officer,
                Some("2233"),
                None,
                vec![Duty::Inspector],
            ),
            (
                "gz",
                Role::Officer,
                Some("5100"),
                None,
                vec![Duty::Reviewer],
            ),
        ] {
            t.bootstrap(NewUserRequest {
                login: login.into(),
                password: common::PASSWORD.into(),
                role,
                duties,
                office: office.map(|o: &str| OfficeCode::parse(o).unwrap()),
                uscc: uscc.map(|u: &str| Uscc::parse(u).unwrap()),
                agency: None,
            });
        }
        t
    }

    async fn file(&self, token: &str) -> i64 {
        let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
        v["trader"]["uscc"] = A.into();
        v["owner"]["uscc"] = A.into();
        v["declaration_office"] = "2233".into();
        v["entry_exit_office"] = "2233".into();
        let resp = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(token)
            .header("client-seq-no", "att-1")
            .json(&v)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    async fn upload(
        &self,
        token: &str,
        id: i64,
        name: &str,
        ct: &str,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let resp = self
            .client
            .post(
                reqwest::Url::parse_with_params(
                    &format!("{}/api/declarations/{id}/attachments", self.base),
                    &[("name", name)],
                )
                .unwrap(),
            )
            .bearer_auth(token)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        let s = resp.status();
        let text = resp.text().await.unwrap();
        (s, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Upload 7 MiB (over the limit) on a raw socket and return the answer's head as read,
    /// whether or not the server closed the connection before the body was all written.
    async fn upload_huge(&self, token: &str, id: i64) -> String {
        use std::io::{Read, Write};
        let addr = self.base.trim_start_matches("http://").to_string();
        let head = format!(
            "POST /api/declarations/{id}/attachments?name=huge.pdf HTTP/1.1\r\nHost: {addr}\r\n\
             Authorization: Bearer {token}\r\nContent-Type: application/pdf\r\n\
             Content-Length: {}\r\n\r\n",
            7 * 1024 * 1024
        );
        tokio::task::spawn_blocking(move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
                .unwrap();
            let mut w = s.try_clone().unwrap();
            let writer = std::thread::spawn(move || {
                let _ = w.write_all(head.as_bytes());
                let _ = w.write_all(&vec![b'x'; 7 * 1024 * 1024]);
            });
            let mut answer = Vec::new();
            let mut buf = [0u8; 4096];
            // Read until the head is complete or the server closes.
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                }
            }
            let _ = s.shutdown(std::net::Shutdown::Both);
            let _ = writer.join();
            String::from_utf8_lossy(&answer).into_owned()
        })
        .await
        .unwrap()
    }

    async fn fetch(&self, token: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    fn audited(&self, action: &str) -> Vec<String> {
        let c = rusqlite::Connection::open(self.store.path()).unwrap();
        let mut stmt = c
            .prepare("SELECT subject || ' ' || detail FROM audit_log WHERE action = ?1 ORDER BY id")
            .unwrap();
        stmt.query_map([action], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_stored_with_their_checksum_and_seen_only_by_who_sees_the_declaration() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let pd = t.login("pd").await;
    let gz = t.login("gz").await;
    let id = t.file(&a).await;

    let (s, stored) = t
        .upload(
            &a,
            id,
            "发票 invoice-2026.pdf",
            "application/pdf",
            PDF.to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{stored}");
    assert_eq!(stored["sha256"], PDF_SHA256);
    assert_eq!(stored["size"], PDF.len());
    assert_eq!(stored["name"], "发票 invoice-2026.pdf");
    let aid = stored["id"].as_i64().unwrap();
    // The officer of the office attaches an inspection photograph.
    let png = b"\x89PNG\r\n\x1a\nnot really an image".to_vec();
    let (s, photo) = t
        .upload(&pd, id, "photo.png", "image/png", png.clone())
        .await;
    assert_eq!(s, StatusCode::CREATED, "{photo}");

    // Listed, oldest first, for the declarant and the office.
    for who in [&a, &pd] {
        let r = t
            .fetch(who, &format!("/api/declarations/{id}/attachments"))
            .await;
        assert_eq!(r.status(), StatusCode::OK);
        let list: Value = r.json().await.unwrap();
        let names: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["发票 invoice-2026.pdf", "photo.png"]);
    }
    // Downloaded as uploaded, with its checksum.
    let r = t
        .fetch(&pd, &format!("/api/declarations/{id}/attachments/{aid}"))
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(r.headers()["x-checksum-sha256"], PDF_SHA256);
    let cd = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cd.starts_with("attachment;") && cd.contains("UTF-8''%E5%8F%91%E7%A5%A8"),
        "{cd}"
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), PDF);

    // Another enterprise, and an officer of another customs, see nothing: not found, as the
    // declaration itself; nor may they attach to it.
    for who in [&b, &gz] {
        let r = t
            .fetch(who, &format!("/api/declarations/{id}/attachments"))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = t
            .fetch(who, &format!("/api/declarations/{id}/attachments/{aid}"))
            .await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let (s, _) = t
            .upload(who, id, "x.pdf", "application/pdf", PDF.to_vec())
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }
    // A document of another declaration is not reached through this one.
    let r = t
        .fetch(
            &a,
            &format!("/api/declarations/{}/attachments/{aid}", id + 1000),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Audited: each upload, with its checksum, in the chain, which stays intact.
    let audited = t.audited("attachment.add");
    assert_eq!(audited.len(), 2, "{audited:?}");
    assert!(
        audited[0].starts_with(&format!("declaration:{id} ")) && audited[0].contains(PDF_SHA256),
        "{audited:?}"
    );
    assert!(t.store.verify_audit().unwrap().is_intact());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_uploads_list_their_problems_and_store_nothing() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let id = t.file(&a).await;

    // No name, a type not accepted and no bytes: all three listed, in both languages.
    let (s, r) = t.upload(&a, id, "", "application/zip", vec![]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let problems = r["error"]["problems"].as_array().unwrap();
    let fields: Vec<&str> = problems
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["name", "content_type", "file"], "{r}");
    assert!(problems
        .iter()
        .all(|p| p["message_zh"].is_string() && p["message_en"].is_string()));
    // A name with a slash.
    let (s, _) = t
        .upload(&a, id, "../etc/passwd", "application/pdf", PDF.to_vec())
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Too large: 413 in the one error shape.
    let (s, r) = t
        .upload(
            &a,
            id,
            "big.pdf",
            "application/pdf",
            vec![b'x'; 5 * 1024 * 1024 + 1],
        )
        .await;
    assert!(
        s == StatusCode::UNPROCESSABLE_ENTITY || s == StatusCode::PAYLOAD_TOO_LARGE,
        "{s} {r}"
    );
    assert!(r["error"]["message_en"].is_string(), "{r}");
    // A body over the limit is answered 413 without being read. The server may answer and close
    // while the client is still writing, so a client library reports a broken pipe instead of
    // the answer at random: this upload goes over a raw socket that writes the body on its own
    // thread (ignoring the write's failure) and reads the answer.
    for _ in 0..2 {
        let head = t.upload_huge(&a, id).await;
        let status = head.lines().next().unwrap_or_default().to_string();
        assert!(status.starts_with("HTTP/1.1 413"), "{head}");
        // The rest of that body was never read, so the answer closes the connection: a client
        // that sent its next request on it would get a reset instead of an answer.
        assert!(
            head.to_ascii_lowercase()
                .contains("\r\nconnection: close\r\n"),
            "{head}"
        );
    }
    // A declaration that does not exist.
    let (s, _) = t
        .upload(&a, 999_999, "x.pdf", "application/pdf", PDF.to_vec())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Nothing stored, nothing audited.
    let r = t
        .fetch(&a, &format!("/api/declarations/{id}/attachments"))
        .await;
    assert_eq!(r.json::<Value>().await.unwrap(), Value::Array(vec![]));
    assert!(t.audited("attachment.add").is_empty());

    // At most 20 on a declaration.
    for i in 0..20 {
        let (s, _) = t
            .upload(
                &a,
                id,
                &format!("d{i}.pdf"),
                "application/pdf",
                PDF.to_vec(),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED);
    }
    let (s, r) = t
        .upload(&a, id, "d21.pdf", "application/pdf", PDF.to_vec())
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r["error"]["problems"][0]["code"], "too_many", "{r}");
}

/// Copy from a previous declaration: its form for a new filing, amounts kept, for those who
/// see it only; filed again under a new sequence number it is a new declaration.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declaration_copies_into_a_new_filing() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let id = t.file(&a).await;
    let r = t.fetch(&a, &format!("/api/declarations/{id}/form")).await;
    assert_eq!(r.status(), StatusCode::OK);
    let form: Value = r.json().await.unwrap();
    let template: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    assert_eq!(form["trader"]["uscc"], A);
    assert_eq!(
        form["items"][0]["commodity_code"],
        template["items"][0]["commodity_code"]
    );
    let amount = |v: &Value| -> f64 { v.to_string().trim_matches('"').parse().unwrap() };
    assert_eq!(
        amount(&form["items"][0]["total_price"]),
        amount(&template["items"][0]["total_price"]),
        "amounts kept: {form}"
    );
    let r = t.fetch(&b, &format!("/api/declarations/{id}/form")).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Filed as a new declaration (a new client sequence number).
    let resp = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(&a)
        .header("client-seq-no", "att-copy")
        .json(&form)
        .send()
        .await
        .unwrap();
    let s = resp.status();
    let filed: Value = resp.json().await.unwrap();
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    assert_ne!(filed["id"].as_i64().unwrap(), id);
}
