//! The declarations list for the web interface (issue 20) over HTTP: free text, sorting,
//! pages by number with the total, every bad parameter listed, and the CSV / .xlsx export of
//! the same query, each confined to what the caller may see.

mod common;

use app::{Clearance, Duty, NewUserRequest, Role};
use domain::codes::{OfficeCode, Uscc};
use reqwest::StatusCode;
use serde_json::Value;

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

    async fn file(&self, token: &str, uscc: &str, seq: &str, contract: &str) -> Value {
        let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
        v["trader"]["uscc"] = uscc.into();
        v["owner"]["uscc"] = uscc.into();
        v["declaration_office"] = "2233".into();
        v["entry_exit_office"] = "2233".into();
        v["contract_no"] = contract.into();
        let resp = self
            .client
            .post(format!("{}/api/declarations", self.base))
            .bearer_auth(token)
            .header("client-seq-no", seq)
            .json(&v)
            .send()
            .await
            .unwrap();
        let s = resp.status();
        let r: Value = resp.json().await.unwrap();
        assert_eq!(s, StatusCode::CREATED, "{r}");
        r
    }

    async fn raw(&self, token: &str, path: &str) -> (StatusCode, String, Vec<u8>) {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let s = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (s, ct, resp.bytes().await.unwrap().to_vec())
    }
}

fn pre_entry_nos(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["pre_entry_no"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_sort_pages_and_totals_within_the_callers_scope() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let pd = t.login("pd").await;
    let mut mine = Vec::new();
    for i in 0..5 {
        let r = t
            .file(&a, A, &format!("a-{i}"), &format!("ALPHA-{i}"))
            .await;
        mine.push(r["pre_entry_no"].as_str().unwrap().to_owned());
    }
    let theirs = t.file(&b, B, "b-0", "ALPHA-9").await;

    // Free text: the contract, case ignored; only the caller's own.
    let (s, page) = t.get(&a, "/api/declarations?q=alpha-3").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(pre_entry_nos(&page), vec![mine[3].clone()]);
    let (_, page) = t.get(&a, "/api/declarations?q=ALPHA").await;
    assert_eq!(page["total"], 5, "B's filing is not A's to find: {page}");
    let (_, page) = t.get(&b, "/api/declarations?q=ALPHA").await;
    assert_eq!(
        pre_entry_nos(&page),
        vec![theirs["pre_entry_no"].as_str().unwrap()]
    );
    // The officer of the office finds both enterprises' filings, by the declarant's USCC too.
    let (_, page) = t.get(&pd, "/api/declarations?q=alpha").await;
    assert_eq!(page["total"], 6);
    let (_, page) = t
        .get(&pd, &format!("/api/declarations?q={}", &B[2..12]))
        .await;
    assert_eq!(page["total"], 1);
    // A pre-entry number.
    let (_, page) = t.get(&a, &format!("/api/declarations?q={}", mine[1])).await;
    assert_eq!(pre_entry_nos(&page), vec![mine[1].clone()]);

    // Sorted by pre-entry number, pages by number, the total on each.
    let mut asc = mine.clone();
    asc.sort();
    let (_, p1) = t
        .get(&a, "/api/declarations?sort=pre_entry_no&page=1&limit=2")
        .await;
    let (_, p3) = t
        .get(&a, "/api/declarations?sort=pre_entry_no&page=3&limit=2")
        .await;
    assert_eq!(
        (
            p1["total"].as_u64(),
            p1["pages"].as_u64(),
            p1["page"].as_u64()
        ),
        (Some(5), Some(3), Some(1))
    );
    assert_eq!(pre_entry_nos(&p1), asc[..2].to_vec());
    assert_eq!(pre_entry_nos(&p3), asc[4..].to_vec());
    let (_, desc) = t
        .get(&a, "/api/declarations?sort=-pre_entry_no&limit=10")
        .await;
    let mut want = asc.clone();
    want.reverse();
    assert_eq!(pre_entry_nos(&desc), want);
    // Past the last page: no rows, the total still there.
    let (s, p9) = t.get(&a, "/api/declarations?page=9&limit=2").await;
    assert_eq!(
        (
            s,
            p9["items"].as_array().unwrap().len(),
            p9["total"].as_u64()
        ),
        (StatusCode::OK, 0, Some(5))
    );

    // The cursor listing is unchanged.
    let (_, c) = t.get(&a, "/api/declarations?limit=3").await;
    assert!(
        c["next_cursor"].is_string() && c.get("total").is_none(),
        "{c}"
    );

    // The OpenAPI document describes the list's parameters, the export and the documents.
    let doc: Value = t
        .client
        .get(format!("{}/api/openapi.json", t.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let params: Vec<&str> = doc["paths"]["/api/declarations"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for p in ["q", "sort", "page", "limit", "from", "to", "status"] {
        assert!(params.contains(&p), "{p} in {params:?}");
    }
    for path in [
        "/api/declarations/export",
        "/api/declarations/{id}/attachments",
        "/api/declarations/{id}/attachments/{attachment}",
        "/api/declarations/{id}/form",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }

    // An enterprise asking for another's declarations is refused, not given an empty page.
    let (s, _) = t
        .get(&a, &format!("/api/declarations?q=x&declarant={B}"))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_parameter_is_listed_in_both_languages() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let (s, r) = t
        .get(
            &a,
            "/api/declarations?sort=body&page=0&lane=purple&colour=red&from=yesterday&limit=501&q=a%20b%20c%20d%20e%20f",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let problems = r["error"]["problems"].as_array().unwrap();
    let fields: Vec<&str> = problems
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    for f in ["sort", "page", "lane", "colour", "from", "limit", "q"] {
        assert!(fields.contains(&f), "{f} not listed: {r}");
    }
    for p in problems {
        assert!(
            p["message_zh"].as_str().is_some_and(|m| !m.is_empty())
                && p["message_en"].as_str().is_some_and(|m| !m.is_empty()),
            "{p}"
        );
    }
    // A cursor with page numbers; a range that ends before it starts; too deep a page.
    let (s, r) = t
        .get(
            &a,
            "/api/declarations?cursor=d5&page=2&from=2026-12-07T00:00:00%2B08:00&to=2026-12-06T00:00:00%2B08:00",
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = r["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["to", "cursor"], "{r}");
    let (s, _) = t.get(&a, "/api/declarations?page=5000&limit=500").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Blank values (a form's empty inputs) are no filter.
    let (s, _) = t.get(&a, "/api/declarations?status=&q=&page=1").await;
    assert_eq!(s, StatusCode::OK);
    // Export-only parameters are not list parameters.
    let (s, _) = t.get(&a, "/api/declarations?format=csv").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Signed out: 401.
    let resp = t
        .client
        .get(format!("{}/api/declarations/export", t.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_gives_what_the_list_shows_as_csv_and_xlsx() {
    let t = T::start().await;
    let a = t.login("ent-a").await;
    let b = t.login("ent-b").await;
    let mut mine = Vec::new();
    for i in 0..3 {
        let r = t.file(&a, A, &format!("a-{i}"), &format!("EXP-{i}")).await;
        mine.push(r["pre_entry_no"].as_str().unwrap().to_owned());
    }
    t.file(&a, A, "a-x", "OTHER-1").await;
    let theirs = t.file(&b, B, "b-0", "EXP-7").await;
    let theirs = theirs["pre_entry_no"].as_str().unwrap();

    // CSV, Chinese headings by default, the list's order (all pages), only A's own.
    let (s, ct, body) = t
        .raw(
            &a,
            "/api/declarations/export?q=EXP&sort=pre_entry_no&limit=1",
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(ct.starts_with("text/csv"), "{ct}");
    let text = String::from_utf8(body).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a byte-order mark");
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(
        lines[0].starts_with("预录入编号,报关单号,进出口"),
        "{}",
        lines[0]
    );
    let mut want = mine.clone();
    want.sort();
    let got: Vec<&str> = lines[1..]
        .iter()
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(got, want, "every page of the query, in its order");
    assert!(
        !text.contains(theirs),
        "another enterprise's filing exported"
    );
    assert!(
        lines[1].contains(",进口,2233,") && lines[1].contains(A),
        "{}",
        lines[1]
    );
    // English headings; the same rows as the list with the same filters.
    let (_, _, body) = t.raw(&a, "/api/declarations/export?q=EXP&lang=en").await;
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.contains("Pre-entry No.,Declaration No.,Direction"),
        "{text}"
    );
    assert_eq!(
        text.matches("\r\n").count(),
        4,
        "heading and 3 rows: {text}"
    );

    // .xlsx: a zip with the workbook's parts, the rows in its shared strings.
    let (s, ct, body) = t
        .raw(&a, "/api/declarations/export?format=xlsx&q=EXP")
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        ct,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(&body[..2], b"PK");
    assert!(body.len() > 2000, "{}", body.len());

    // The officer's export holds both enterprises'; a bad format is listed.
    let pd = t.login("pd").await;
    let (_, _, body) = t.raw(&pd, "/api/declarations/export?q=EXP").await;
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains(theirs) && mine.iter().all(|m| text.contains(m.as_str())));
    let (s, _, body) = t
        .raw(&a, "/api/declarations/export?format=pdf&lang=fr")
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let r: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(r["error"]["problems"].as_array().unwrap().len(), 2, "{r}");
}
