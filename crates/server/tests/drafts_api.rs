//! Drafts kept by the server and the notifications read marker over HTTP (issue 20 item 1):
//! a draft is its user's (and enterprise's) alone, 404 for anyone else; versions refuse a
//! stale save; the bounds answer 422 in both languages; the read marker is per user, the same
//! for every session, and never goes back.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const A: &str = "91310115MA1K4Q7B4Y";
const B: &str = "91440300MA5FT3XKX8";

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
                .with_registry(Box::new(common::general_class(A)))
                .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
        })
        .await);
        for (login, role, office, uscc, duties) in [
            ("ent-a", Role::Enterprise, None, Some(A), vec![]),
            ("ent-a2", Role::Enterprise, None, Some(A), vec![]),
            ("ent-b", Role::Enterprise, None, Some(B), vec![]),
            (
                "pd",
                Role::Officer,
                Some("2233"),
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

    async fn put(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, Some(token), path, Some(body)).await
    }

    async fn delete(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, Some(token), path, None).await
    }
}

fn form(contract: &str) -> Value {
    json!({
        "seq": "0b7c5c1e-0000-4000-8000-000000000001",
        "form": {"values": {"contract_no": contract, "items[0].name": "钢材"}, "items": 1},
    })
}

/// A 4xx body lists its problem with field and code, in two different languages.
fn problem(v: &Value, field: &str, code: &str) {
    let p = &v["error"]["problems"][0];
    assert_eq!(p["field"], field, "{v}");
    assert_eq!(p["code"], code, "{v}");
    let (zh, en) = (
        p["message_zh"].as_str().unwrap(),
        p["message_en"].as_str().unwrap(),
    );
    assert!(!zh.is_empty() && !en.is_empty() && zh != en, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draft_is_its_owners_alone() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let a_other_session = t.login("ent-a").await;
    let a2 = t.login("ent-a2").await;
    let b = t.login("ent-b").await;
    let pd = t.login("pd").await;

    let (s, created) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "title": "CT-1 · 钢材", "body": form("CT-1")}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["version"], 1);
    assert_eq!(created["title"], "CT-1 · 钢材");
    assert!(created["updated_at"].is_string(), "{created}");
    assert!(created.get("body").is_none(), "{created}");

    // Listed and read back from another session of the same user (another browser).
    let (s, list) = t.get(&a_other_session, "/api/drafts").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["id"], id);
    let (s, got) = t.get(&a_other_session, &format!("/api/drafts/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["body"], form("CT-1"));

    // Saved again with the version read: the next version.
    let (s, saved) = t
        .put(
            &a,
            &format!("/api/drafts/{id}"),
            json!({"kind": "declaration", "title": "CT-2", "body": form("CT-2"), "version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{saved}");
    assert_eq!(saved["version"], 2);
    // A save from the stale version (the other browser): 409, in both languages.
    let (s, v) = t
        .put(
            &a_other_session,
            &format!("/api/drafts/{id}"),
            json!({"kind": "declaration", "title": "old", "body": form("old"), "version": 1}),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_eq!(v["error"]["code"], "draft_conflict");
    assert_ne!(v["error"]["message_zh"], v["error"]["message_en"]);
    let (_, got) = t.get(&a, &format!("/api/drafts/{id}")).await;
    assert_eq!(got["body"], form("CT-2"), "the stale save changed nothing");

    // A colleague of the same enterprise, another enterprise, an officer: 404 on every route,
    // and an empty list; nothing changed.
    for other in [&a2, &b, &pd] {
        let (s, v) = t.get(other, &format!("/api/drafts/{id}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        assert!(!v.to_string().contains("CT-2"), "{v}");
        let (s, v) = t
            .put(
                other,
                &format!("/api/drafts/{id}"),
                json!({"kind": "declaration", "title": "x", "body": {}}),
            )
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        let (s, v) = t.delete(other, &format!("/api/drafts/{id}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
        let (s, list) = t.get(other, "/api/drafts").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(list, json!([]), "{list}");
    }
    let (_, got) = t.get(&a, &format!("/api/drafts/{id}")).await;
    assert_eq!(got["body"], form("CT-2"));
    assert_eq!(got["version"], 2);

    // An officer keeps drafts of their own, apart.
    let (s, v) = t
        .post(
            &pd,
            "/api/drafts",
            json!({"kind": "declaration", "body": {"note": 1}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["title"], "");
    let (_, list) = t.get(&a, "/api/drafts").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    // Deleted by its owner: 204, then 404.
    let (s, _) = t.delete(&a, &format!("/api/drafts/{id}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = t.get(&a, &format!("/api/drafts/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = t.delete(&a, &format!("/api/drafts/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Ids that are not ids name no draft; without a session, 401.
    for bad in ["abc", "0", "-3", "99999999999999999999"] {
        let (s, _) = t.get(&a, &format!("/api/drafts/{bad}")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{bad}");
    }
    let (s, _) = t.call(Method::GET, None, "/api/drafts", None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_bounds_answer_422_in_both_languages() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    // Larger than 256 KiB.
    let big = "x".repeat(256 * 1024);
    let (s, v) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "title": "big", "body": {"text": big}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    problem(&v, "body", "too_large");
    // Just under: kept.
    let fits = "x".repeat(256 * 1024 - 64);
    let (s, v) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "title": "fits", "body": {"text": fits}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "body": [1, 2]}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    problem(&v, "body", "not_an_object");
    let (s, v) = t
        .post(&a, "/api/drafts", json!({"kind": "manifest", "body": {}}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    problem(&v, "kind", "unknown_kind");
    let (s, v) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "title": "t".repeat(201), "body": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    problem(&v, "title", "bad_title");
    let (s, v) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "body": {}, "colour": "red"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(
        !v["error"]["problems"].as_array().unwrap().is_empty(),
        "{v}"
    );
    // 200 drafts per user: the 201st is refused, a deletion makes room.
    let mut last = 0;
    for i in 1..200 {
        let (s, v) = t
            .post(
                &a,
                "/api/drafts",
                json!({"kind": "declaration", "title": format!("d{i}"), "body": {}}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{i}: {v}");
        last = v["id"].as_i64().unwrap();
    }
    let (s, v) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "title": "one too many", "body": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    problem(&v, "draft", "too_many_drafts");
    let (s, _) = t.delete(&a, &format!("/api/drafts/{last}")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = t
        .post(
            &a,
            "/api/drafts",
            json!({"kind": "declaration", "title": "fits again", "body": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // Another user is not counted with A.
    let a2 = t.login("ent-a2").await;
    let (s, v) = t
        .post(
            &a2,
            "/api/drafts",
            json!({"kind": "declaration", "body": {}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_marker_is_the_users_on_every_session_and_never_goes_back() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    // Something to read.
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = A.into();
    v["owner"]["uscc"] = A.into();
    v["declaration_office"] = "2233".into();
    v["entry_exit_office"] = "2233".into();
    let resp = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(&a)
        .header("client-seq-no", "read-1")
        .json(&v)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);

    let (s, page) = t.get(&a, "/api/notifications").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page["read_up_to"].is_null(), "{page}");
    let items = page["items"].as_array().unwrap();
    assert!(items.len() >= 2, "{page}");
    let first = items[0]["cursor"].as_str().unwrap().to_owned();
    let head = page["cursor"].as_str().unwrap().to_owned();

    let (s, r) = t
        .put(&a, "/api/notifications/read", json!({"up_to": first}))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["read_up_to"], first.as_str());
    // Another session of the same user (another browser) reads the same marker.
    let a_again = t.login("ent-a").await;
    let (_, r) = t.get(&a_again, "/api/notifications/read").await;
    assert_eq!(r["read_up_to"], first.as_str());
    let (_, page) = t.get(&a_again, "/api/notifications").await;
    assert_eq!(page["read_up_to"], first.as_str());
    // Read up to the head; an older cursor afterwards leaves it there.
    let (_, r) = t
        .put(&a_again, "/api/notifications/read", json!({"up_to": head}))
        .await;
    assert_eq!(r["read_up_to"], head.as_str());
    let (s, r) = t
        .put(&a, "/api/notifications/read", json!({"up_to": first}))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(r["read_up_to"], head.as_str(), "never back");
    // Nothing unread after the marker.
    let (_, rest) = t.get(&a, &format!("/api/notifications?after={head}")).await;
    assert_eq!(rest["items"], json!([]));
    // Another user's marker is untouched.
    let (_, r) = t.get(&b, "/api/notifications/read").await;
    assert!(r["read_up_to"].is_null(), "{r}");
    // Cursors no answer gave: refused in both languages.
    let beyond = (head.parse::<i64>().unwrap() + 1_000).to_string();
    for bad in ["abc", "-1", "1.5", beyond.as_str()] {
        let (s, v) = t
            .put(&b, "/api/notifications/read", json!({"up_to": bad}))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {v}");
        problem(&v, "up_to", "bad_cursor");
    }
    let (s, v) = t
        .put(&b, "/api/notifications/read", json!({"upto": "1"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (_, r) = t.get(&b, "/api/notifications/read").await;
    assert!(r["read_up_to"].is_null(), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_the_drafts_and_the_read_marker() {
    let t = T::start().await;
    let (s, doc) = t.call(Method::GET, None, "/api/openapi.json", None).await;
    assert_eq!(s, StatusCode::OK);
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/api/drafts", &["get", "post"][..]),
        ("/api/drafts/{id}", &["get", "put", "delete"][..]),
        ("/api/notifications/read", &["get", "put"][..]),
    ] {
        for m in methods {
            assert!(paths[path][m].is_object(), "{path} {m} missing");
        }
    }
    assert!(doc["components"]["schemas"]["DraftBody"].is_object());
}
