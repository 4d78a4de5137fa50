//! The notifications inbox over HTTP (issue 20 item 6, issue 18 item 4): what happened to the
//! declarations a user may see, read with a cursor, and pushed as server-sent events; another
//! enterprise's declarations are never named; a bad cursor is refused in both languages.

mod common;

use std::time::Duration;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
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

/// One server-sent event as read off the wire.
#[derive(Debug, Default, Clone)]
struct Sse {
    event: String,
    id: Option<String>,
    data: String,
}

/// A stream being read: the response and what came so far.
struct Stream {
    resp: reqwest::Response,
    buf: String,
}

impl Stream {
    /// The next event (comments skipped), or `None` when `wait` passes first.
    async fn next(&mut self, wait: Duration) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut e = Sse::default();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        e.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        e.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        e.data.push_str(v.trim_start());
                    }
                }
                if e.event.is_empty() && e.data.is_empty() {
                    continue; // a keep-alive comment, or the retry hint alone
                }
                return Some(e);
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Notifications until `wait` passes with none.
    async fn notifications(&mut self, wait: Duration) -> Vec<(Option<String>, Value)> {
        let mut out = Vec::new();
        while let Some(e) = self.next(wait).await {
            if e.event == "notification" {
                out.push((e.id, serde_json::from_str(&e.data).unwrap()));
            }
        }
        out
    }
}

impl T {
    async fn start() -> T {
        let t = T(common::Harness::start(|store, clock| {
            Clearance::new(store, common::refdata(), clock)
                // A's filings go to the yellow lane (document review by an officer).
                .with_registry(Box::new(common::general_class(A)))
                .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
        })
        .await);
        for (login, role, office, uscc, duties) in [
            ("ent-a", Role::Enterprise, None, Some(A), vec![]),
            ("ent-b", Role::Enterprise, None, Some(B), vec![]),
            // Officers hear of what their duties cover: a yellow lane is the reviewer's, a green
            // one (B's filings) the tax officer's assessment.
            (
                "pd",
                Role::Officer,
                Some("2233"),
                None,
                vec![Duty::Reviewer, Duty::TaxOfficer],
            ),
            (
                "gz",
                Role::Officer,
                Some("5100"),
                None,
                vec![Duty::Reviewer, Duty::TaxOfficer],
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

    async fn file(&self, token: &str, uscc: &str, seq: &str) -> i64 {
        let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
        v["trader"]["uscc"] = uscc.into();
        v["owner"]["uscc"] = uscc.into();
        v["declaration_office"] = "2233".into();
        v["entry_exit_office"] = "2233".into();
        let resp = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(token)
            .header("client-seq-no", seq)
            .json(&v)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_i64().unwrap()
    }

    /// Every notification of `token` after `after`, page by page of `limit`.
    async fn all_after(&self, token: &str, mut after: String, limit: u32) -> (Vec<Value>, String) {
        let mut items = Vec::new();
        for _ in 0..100 {
            let (s, page) = self
                .get(
                    token,
                    &format!("/api/notifications?after={after}&limit={limit}"),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{page}");
            let got = page["items"].as_array().unwrap().clone();
            assert!(got.len() <= limit as usize, "{page}");
            let next = page["cursor"].as_str().unwrap().to_owned();
            assert!(
                next.parse::<i64>().unwrap() >= after.parse::<i64>().unwrap(),
                "the cursor never goes back"
            );
            let more = page["more"].as_bool().unwrap();
            items.extend(got);
            after = next;
            if !more {
                break;
            }
        }
        (items, after)
    }

    async fn open(&self, token: &str, last_event_id: Option<&str>) -> reqwest::Response {
        let mut req = self
            .client
            .get(format!("{}/api/notifications/stream", self.base))
            .bearer_auth(token)
            .header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("last-event-id", id);
        }
        req.send().await.unwrap()
    }

    async fn stream(&self, token: &str, last_event_id: Option<&str>) -> Stream {
        let resp = self.open(token, last_event_id).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        Stream {
            resp,
            buf: String::new(),
        }
    }
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_enterprise_sees_its_own_events_read_with_a_cursor() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let pd = t.login("pd").await;
    let gz = t.login("gz").await;
    let x = t.file(&a, A, "n-1").await;
    let y = t.file(&b, B, "n-2").await;

    // A's inbox: its declaration's filing, acceptance and lane, in both languages; never B's.
    let (s, page) = t.get(&a, "/api/notifications").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    let items = page["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.iter().all(|i| i["declaration_id"] == x), "{page}");
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for k in ["submitted", "accepted", "lane_chosen"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let lane = items.iter().find(|i| i["kind"] == "lane_chosen").unwrap();
    assert!(
        lane["message_en"]
            .as_str()
            .unwrap()
            .ends_with("lane chosen: yellow"),
        "{lane}"
    );
    assert!(
        lane["message_zh"].as_str().unwrap().contains("黄色通道"),
        "{lane}"
    );
    let number = lane["number"].as_str().unwrap();
    assert_eq!(
        number.len(),
        18,
        "the declaration number once accepted: {lane}"
    );
    assert!(lane["message_en"]
        .as_str()
        .unwrap()
        .starts_with(&format!("Declaration {number}: ")));
    assert_eq!(lane["status"], "document_review");
    let ids = ids_of(items);
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "ids are unique: {ids:?}");

    // B's inbox names only B's declaration.
    let (_, page_b) = t.get(&b, "/api/notifications").await;
    let items_b = page_b["items"].as_array().unwrap();
    assert!(!items_b.is_empty());
    assert!(items_b.iter().all(|i| i["declaration_id"] == y), "{page_b}");
    assert!(!page_b.to_string().contains(&number.to_string()));

    // The officer of the office sees both; an officer of another customs neither.
    let (_, page_pd) = t.get(&pd, "/api/notifications").await;
    let seen: std::collections::HashSet<i64> = page_pd["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["declaration_id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, [x, y].into_iter().collect());
    let (_, page_gz) = t.get(&gz, "/api/notifications").await;
    assert_eq!(page_gz["items"], json!([]), "{page_gz}");

    // Cursor pages of 2 give the same items, in the same order, each once; the last cursor
    // is the newest page's.
    let (paged, last) = t.all_after(&a, "0".into(), 2).await;
    assert_eq!(ids_of(&paged), ids, "pages agree with the newest page");
    assert_eq!(last, page["cursor"].as_str().unwrap());
    // Nothing after the newest cursor.
    let (rest, _) = t.all_after(&a, last.clone(), 50).await;
    assert!(rest.is_empty(), "{rest:?}");
    // An older page by `before`: the oldest item alone.
    let first_cursor = paged[0]["cursor"].as_str().unwrap();
    let (s, older) = t
        .get(
            &a,
            &format!(
                "/api/notifications?before={}&limit=50",
                first_cursor.parse::<i64>().unwrap() + 1
            ),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{older}");
    let oldest: Vec<Value> = paged
        .iter()
        .filter(|i| i["cursor"] == first_cursor)
        .cloned()
        .collect();
    assert_eq!(ids_of(older["items"].as_array().unwrap()), ids_of(&oldest));
    assert!(older["older"].is_null(), "the start was reached: {older}");
    // Unauthenticated: 401.
    let (s, _) = t
        .call(reqwest::Method::GET, None, "/api/notifications", None)
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_cursors_and_limits_are_refused_in_both_languages() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    for (query, field) in [
        ("after=abc", "after"),
        ("after=-1", "after"),
        ("before=1.5", "before"),
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("after=1&before=9", "before"),
        ("after=1&after=2", "after"),
        ("colour=red", "colour"),
    ] {
        let (s, v) = t.get(&a, &format!("/api/notifications?{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {v}");
        let p = &v["error"]["problems"][0];
        assert_eq!(p["field"], field, "{query}: {v}");
        assert!(!p["message_zh"].as_str().unwrap().is_empty(), "{v}");
        assert!(!p["message_en"].as_str().unwrap().is_empty(), "{v}");
        assert_ne!(p["message_zh"], p["message_en"], "{v}");
    }
    // The stream: a bad Last-Event-ID or cursor, the same.
    let r = t.open(&a, Some("zzz")).await;
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["problems"][0]["field"], "Last-Event-ID", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_pushes_a_step_taken_after_subscribing_and_resumes_from_last_event_id() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let pd = t.login("pd").await;
    let x = t.file(&a, A, "s-1").await;
    let (_, before) = t.get(&a, "/api/notifications").await;
    let cursor_before = before["cursor"].as_str().unwrap().to_owned();

    let mut sa = t.stream(&a, None).await;
    let mut sb = t.stream(&b, None).await;
    // The stream says where it starts: the head.
    let start = sa.next(Duration::from_secs(5)).await.expect("first event");
    assert_eq!(start.event, "cursor");
    assert_eq!(start.id.as_deref(), Some(cursor_before.as_str()));

    // An officer's step, after subscribing, reaches A's stream.
    let (s, v) = t
        .post(
            &pd,
            &format!("/api/declarations/{x}/review"),
            json!({"result": "conform"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline && got.is_empty() {
        if let Some(e) = sa.next(Duration::from_secs(3)).await {
            if e.event == "notification" {
                got.push((e.id, serde_json::from_str::<Value>(&e.data).unwrap()));
            }
        }
    }
    let (id, item) = got.first().expect("a notification within 10 s").clone();
    assert_eq!(item["declaration_id"], x);
    assert_eq!(item["kind"], "document_review_recorded", "{item}");
    assert!(item["message_zh"].as_str().unwrap().contains("单证审核"));
    let pushed = item["id"].as_str().unwrap().to_owned();
    // The same item the list gives after the old cursor.
    let (listed, _) = t.all_after(&a, cursor_before.clone(), 50).await;
    assert!(ids_of(&listed).contains(&pushed), "{listed:?}");
    // The officer who took the step is not told of it; the declaration's other news, yes.
    let (of_pd, _) = t.all_after(&pd, cursor_before.clone(), 50).await;
    assert!(
        of_pd
            .iter()
            .all(|i| i["kind"] != "document_review_recorded"),
        "{of_pd:?}"
    );
    // B's stream names nothing of A's.
    let other = sb.notifications(Duration::from_secs(3)).await;
    assert!(
        other.iter().all(|(_, i)| i["declaration_id"] != x),
        "{other:?}"
    );
    let rest = sa.notifications(Duration::from_millis(1500)).await;
    let record_id = id.or_else(|| rest.iter().find_map(|(i, _)| i.clone()));
    assert!(
        record_id.is_some(),
        "the record's last item carries its cursor"
    );

    // Resumed from the cursor before the step (Last-Event-ID, as an EventSource reconnects):
    // the step comes again at once.
    let mut again = t.stream(&a, Some(&cursor_before)).await;
    let replayed = again.notifications(Duration::from_secs(3)).await;
    assert!(
        replayed.iter().any(|(_, i)| i["id"] == pushed.as_str()),
        "{replayed:?}"
    );
    // Resumed from the record's own cursor: nothing again.
    let mut after = t.stream(&a, record_id.as_deref()).await;
    let none = after.notifications(Duration::from_millis(2500)).await;
    assert!(none.is_empty(), "{none:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_per_user_are_bounded() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(t.stream(&a, None).await);
    }
    let r = t.open(&a, None).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "too_many_streams", "{v}");
    // Another user is not counted with A.
    let b = t.login("ent-b").await;
    let _sb = t.stream(&b, None).await;
    // A stream closed by its client frees its slot (noticed at the next keep-alive).
    drop(open.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let r = t.open(&a, None).await;
        if r.status() == StatusCode::OK {
            break;
        }
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed stream's slot was never freed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    drop(open);
}

/// The kinds of notification `token` has of declaration `id`, after cursor `after`.
async fn kinds_of(t: &T, token: &str, after: &str, id: i64) -> Vec<String> {
    let (items, _) = t.all_after(token, after.to_owned(), 200).await;
    items
        .iter()
        .filter(|i| i["declaration_id"] == id)
        .map(|i| i["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_officer_is_told_what_their_duties_cover() {
    let t = T::start().await;
    for (login, duty) in [
        ("insp", Duty::Inspector),
        ("tax", Duty::TaxOfficer),
        ("stat", Duty::Statistician),
    ] {
        t.bootstrap(NewUserRequest {
            login: login.into(),
            password: common::PASSWORD.into(),
            role: Role::Officer,
            duties: vec![duty],
            office: Some(OfficeCode::parse("2233").unwrap()),
            uscc: None,
            agency: None,
        });
    }
    let a = t.login("ent-a").await;
    let pd = t.login("pd").await;
    let insp = t.login("insp").await;
    let tax = t.login("tax").await;
    let stat = t.login("stat").await;
    // A's filing goes to the yellow lane: documents to review.
    let x = t.file(&a, A, "d-1").await;
    assert_eq!(kinds_of(&t, &pd, "0", x).await, ["lane_chosen"]);
    for other in [&insp, &tax, &stat] {
        assert!(kinds_of(&t, other, "0", x).await.is_empty());
    }
    // The enterprise is told of everything.
    let all = kinds_of(&t, &a, "0", x).await;
    for k in ["submitted", "accepted", "lane_chosen"] {
        assert!(all.iter().any(|i| i == k), "{k} missing from {all:?}");
    }

    // A document attached: for the reviewer and the inspector, not the tax officer.
    let (_, page) = t.get(&a, "/api/notifications").await;
    let mark = page["cursor"].as_str().unwrap().to_owned();
    let resp = t
        .client
        .post(format!(
            "{}/api/declarations/{x}/attachments?name=invoice.pdf",
            t.base
        ))
        .bearer_auth(&a)
        .header("content-type", "application/pdf")
        .body(b"%PDF-1.4 invoice".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(kinds_of(&t, &pd, &mark, x).await, ["attachment_added"]);
    assert_eq!(kinds_of(&t, &insp, &mark, x).await, ["attachment_added"]);
    assert!(kinds_of(&t, &tax, &mark, x).await.is_empty());

    // The review recorded: the tax officer is told (the assessment is theirs now); the
    // reviewer who recorded it and the inspector are not.
    let (_, page) = t.get(&a, "/api/notifications").await;
    let mark = page["cursor"].as_str().unwrap().to_owned();
    let (s, v) = t
        .post(
            &pd,
            &format!("/api/declarations/{x}/review"),
            json!({"result": "conform"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        kinds_of(&t, &tax, &mark, x).await,
        ["document_review_recorded"]
    );
    assert!(kinds_of(&t, &pd, &mark, x).await.is_empty());
    assert!(kinds_of(&t, &insp, &mark, x).await.is_empty());
    assert!(kinds_of(&t, &stat, &mark, x).await.is_empty());
    assert_eq!(
        kinds_of(&t, &a, &mark, x).await,
        ["document_review_recorded"]
    );
}
