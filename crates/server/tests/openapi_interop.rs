//! The served OpenAPI document against tools that are not ours (issue 18 item 7; docs/FORMATS.md
//! "The API document"):
//!
//! - python's `openapi-spec-validator` validates the document (OpenAPI 3.1), and `jsonschema`
//!   (Draft 2020-12) validates real bodies and answers against its schemas: a filing, its answer,
//!   both kinds of list page, a declaration read, an error, a session, cargo bodies
//!   (tests/openapi_interop.py);
//! - `openapi-typescript` generates TypeScript types from it and `tsc --noEmit --strict`
//!   compiles a small client that files, lists and files again what it read, with the mistakes a
//!   typed client must refuse (`@ts-expect-error`).
//!
//! Needs python3 (scripts/test: `*_interop.rs`; openapi-spec-validator is pip-installed when
//! missing) and npm (the two npm packages are installed, at pinned versions, into a folder kept
//! under the system's temporary folder). Without python3 or npm the check is skipped outside CI
//! and fails in CI; with them, a tool that cannot be installed fails the test.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use app::{Clearance, NewUserRequest, Role};
use domain::codes::Uscc;
use reqwest::StatusCode;
use serde_json::{json, Value};

const A: &str = "91310115MA1K4Q7B4Y";
/// The generator and the compiler, pinned: a new version is a change to review.
const OPENAPI_TYPESCRIPT: &str = "openapi-typescript@7.13.0";
const TYPESCRIPT: &str = "typescript@5.9.3";

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"))
}

fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `None` without python3 (skipped outside CI); panics when python3 is there but
/// openapi-spec-validator cannot be had, since then the check would silently not happen.
fn python() -> Option<&'static str> {
    let import = || {
        succeeds(Command::new("python3").args(["-c", "import openapi_spec_validator, jsonschema"]))
    };
    if !succeeds(Command::new("python3").arg("--version")) {
        assert!(
            !in_ci(),
            "python3 must be installed in CI (the OpenAPI document not validated)"
        );
        eprintln!("skipped: python3 not found, the OpenAPI document not validated");
        return None;
    }
    if !import() {
        let installed = succeeds(Command::new("python3").args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "openapi-spec-validator",
        ]));
        assert!(
            installed && import(),
            "python3 is here but openapi-spec-validator could not be imported or installed"
        );
    }
    Some("python3")
}

/// The folder holding the generator and the compiler (installed there on first use); `None`
/// without npm (skipped outside CI).
fn node_tools() -> Option<PathBuf> {
    if !succeeds(Command::new("npm").arg("--version")) {
        assert!(
            !in_ci(),
            "npm must be installed in CI (no client generated from the OpenAPI document)"
        );
        eprintln!("skipped: npm not found, no client generated from the OpenAPI document");
        return None;
    }
    let dir = std::env::temp_dir().join(format!(
        "jinguan-openapi-tools-{}-{}",
        OPENAPI_TYPESCRIPT.replace('@', "-"),
        TYPESCRIPT.replace('@', "-")
    ));
    let ready = |d: &Path| {
        d.join("node_modules/.bin/openapi-typescript").exists()
            && d.join("node_modules/.bin/tsc").exists()
    };
    if !ready(&dir) {
        // Installed beside, then renamed: a run stopped half-way leaves no half-installed
        // folder that looks ready.
        let part = dir.with_extension(format!("part-{}", std::process::id()));
        std::fs::create_dir_all(&part).unwrap();
        std::fs::write(part.join("package.json"), "{\"private\": true}").unwrap();
        let out = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                OPENAPI_TYPESCRIPT,
                TYPESCRIPT,
            ])
            .current_dir(&part)
            .output()
            .unwrap();
        assert!(
            out.status.success() && ready(&part),
            "npm is here but {OPENAPI_TYPESCRIPT} and {TYPESCRIPT} could not be installed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if std::fs::rename(&part, &dir).is_err() {
            // Another run got there first.
            let _ = std::fs::remove_dir_all(&part);
        }
        assert!(ready(&dir), "{} ready", dir.display());
    }
    Some(dir)
}

/// A server with one enterprise user; its token.
async fn start() -> (common::Harness, String) {
    let t = common::Harness::start(|store, clock| {
        Clearance::new(store, common::refdata(), clock)
            .with_registry(Box::new(common::general_class(A)))
            .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
    })
    .await;
    t.bootstrap(NewUserRequest {
        login: "ent-a".into(),
        password: common::PASSWORD.into(),
        role: Role::Enterprise,
        duties: vec![],
        office: None,
        uscc: Some(Uscc::parse(A).unwrap()),
        agency: None,
    });
    let token = t.login("ent-a").await;
    (t, token)
}

fn import_laptops() -> Value {
    let mut body: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    body["trader"]["uscc"] = A.into();
    body["owner"]["uscc"] = A.into();
    body
}

async fn file(t: &common::Harness, token: &str, seq: &str, body: &Value) -> (StatusCode, Value) {
    let resp = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(token)
        .header("client-seq-no", seq)
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status(), resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openapi_validator_accepts_the_document_and_the_bodies_fit_its_schemas() {
    let Some(py) = python() else { return };
    let (t, ent) = start().await;
    let (_, doc) = t
        .call(reqwest::Method::GET, None, "/api/openapi.json", None)
        .await;
    assert_eq!(doc["openapi"], "3.1.0");

    let body = import_laptops();
    let (s, filed) = file(&t, &ent, "seq-1", &body).await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    let id = filed["id"].as_i64().unwrap();
    let (_, detail) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    let (s, again) = file(&t, &ent, "seq-2", &detail["form"]).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    let (s, refused) = file(&t, &ent, "seq-3", &json!({"colour": "red"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, unauthenticated) = t.get("not-a-token", "/api/declarations").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, by_cursor) = t.get(&ent, "/api/declarations?limit=1").await;
    let (_, by_number) = t.get(&ent, "/api/declarations?page=1&limit=1").await;
    let (_, session) = t
        .call(
            reqwest::Method::POST,
            None,
            "/api/session",
            Some(json!({"login": "ent-a", "password": common::PASSWORD})),
        )
        .await;
    let means = json!({"mode": "flight", "flight_no": "CA986"});
    let article = json!({"description": "shoes", "category": 2, "dutiable_value_yuan": "300", "quantity": "1"});
    let instances = json!([
        ["DeclarationForm", body],
        ["DeclarationForm", detail["form"]],
        ["Filing", filed],
        ["Filing", again],
        ["DeclarationDetail", detail],
        ["Error", refused],
        ["Error", unauthenticated],
        ["DeclarationPage", by_cursor],
        ["DeclarationPage", by_number],
        ["SessionToken", session],
        ["ManifestBody", {"manifest_id": "MF-1", "kind": "original",
            "voyage": {"means": means, "voyage_no": "20250308", "direction": "import", "office": "2233"},
            "bills": [{"bill_no": "HB-1", "kind": {"kind": "house", "master": "MB-1"},
                "lines": [{"packages": 3, "package_type": "CT", "gross_weight_kg": "120.5", "description": "laptops"}]}]}],
        ["TransitDeclaration", {"transit_no": "T1", "declarant": A, "entry_office": "2233",
            "destination_office": "2300", "vehicle": {"mode": "truck", "plate": "沪A12345"}, "seals": ["S1"],
            "route": ["Pudong"], "time_limit_hours": 24, "guarantee": null, "bills": ["HB-1"]}],
        ["ParcelList", {"list_no": "L1", "operator": A, "office": "2233",
            "parcels": [{"parcel_no": "P1", "dispatch_country": "USA", "addressee_id": "h1", "articles": [article]}]}],
        ["BaggageDeclaration", {"declaration_ref": "B1", "passenger_id": "h2", "arrived_by": "CA986",
            "office": "2233", "articles": [article]}],
    ]);
    // And what the schemas must refuse, so that the check above can fail.
    let refusals = json!([
        ["DeclarationForm", {"colour": "red"}],
        ["Filing", {"id": "one"}],
        ["TransitDeclaration", {"transit_no": "T1", "vehicle": {"mode": "rocket"}}],
    ]);

    let run = |job: &Value| -> Vec<String> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi_interop.py");
        let mut child = Command::new(py)
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&serde_json::to_vec(job).unwrap())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e.as_str().unwrap().to_owned())
            .collect()
    };
    let errors = run(&json!({"document": doc, "instances": instances}));
    assert!(errors.is_empty(), "{errors:#?}");
    for refusal in refusals.as_array().unwrap() {
        let errors = run(&json!({"document": doc, "instances": [refusal]}));
        assert!(!errors.is_empty(), "{refusal} must not fit its schema");
    }
    // The document as it was (the list's filters `in: path, required: true`) is refused by
    // the validator: it would have caught the issue's mistake.
    let mut broken = doc.clone();
    let filter = &mut broken["paths"]["/api/declarations"]["get"]["parameters"][0];
    filter["in"] = json!("path");
    filter["required"] = json!(true);
    let errors = run(&json!({"document": broken, "instances": []}));
    assert!(
        errors.iter().any(|e| e.contains("was not resolved")),
        "the validator finds the issue's mistake: {errors:?}"
    );
}

/// A client a TypeScript programmer would write on the generated types: filing, listing, and
/// filing again what was read; each `@ts-expect-error` line is a mistake the types must catch
/// (tsc fails on one that compiles).
const CLIENT: &str = r#"
import type { components, paths } from "./api";

type FilingBody = NonNullable<paths["/api/declarations"]["post"]["requestBody"]>["content"]["application/json"];
type Filed = paths["/api/declarations"]["post"]["responses"][201]["content"]["application/json"];
type ListQuery = NonNullable<paths["/api/declarations"]["get"]["parameters"]["query"]>;
type Page = paths["/api/declarations"]["get"]["responses"][200]["content"]["application/json"];
type Detail = paths["/api/declarations/{id}"]["get"]["responses"][200]["content"]["application/json"];
type ApiError = components["schemas"]["Error"];

function headers(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
}

async function fail(r: Response): Promise<never> {
  const e = (await r.json()) as ApiError;
  const fields = e.error.problems.map((p) => `${p.field}: ${p.message_en}`);
  throw new Error(`${e.error.code}: ${e.error.message_en} ${fields.join("; ")}`);
}

export async function file(base: string, token: string, seq: string, form: FilingBody): Promise<Filed> {
  const r = await fetch(`${base}/api/declarations`, {
    method: "POST",
    headers: { ...headers(token), "Client-Seq-No": seq },
    body: JSON.stringify(form),
  });
  if (r.status !== 201 && r.status !== 200) return fail(r);
  const filed = (await r.json()) as Filed;
  const pre: string = filed.pre_entry_no;
  const replayed: boolean = filed.replayed;
  console.log(pre, replayed, filed.id + 1);
  return filed;
}

export async function list(base: string, token: string, query: ListQuery): Promise<Page> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
  const r = await fetch(`${base}/api/declarations?${q}`, { headers: headers(token) });
  if (!r.ok) return fail(r);
  const page = (await r.json()) as Page;
  for (const d of page.items) console.log(d.pre_entry_no, d.status, d.submitted_at);
  return page;
}

export async function fileAgain(base: string, token: string, id: number, seq: string): Promise<Filed> {
  const r = await fetch(`${base}/api/declarations/${id}`, { headers: headers(token) });
  if (!r.ok) return fail(r);
  const detail = (await r.json()) as Detail;
  return file(base, token, seq, detail.form);
}

export const laptops: FilingBody = {
  direction: "import",
  declaration_office: "2233",
  freight: { mark: "3", value: "1200.00", currency: "USD" },
  packages: 10,
  items: [{ item_no: 1, commodity_code: "8471300000", unit_price: "350.0000", declared_quantity: 100 }],
};

export const pending: ListQuery = { status: "document_review", limit: "10", q: "laptops" };

// The list's filters are query parameters: the operation has no path parameters.
export const noPath: paths["/api/declarations"]["get"]["parameters"]["path"] = undefined;

// @ts-expect-error: the filing form has no such field.
export const unknownField: FilingBody = { colour: "red" };

// @ts-expect-error: a charge is {mark, value, currency}, not the typed form's {kind, amount}.
export const typedCharge: FilingBody = { freight: { kind: "total", amount: "1200.00" } };

// @ts-expect-error: a filing's answer has no such field.
export const noSuchKey = (f: Filed) => f.colour;

// @ts-expect-error: a list page's items are declarations, whose pre-entry number is a string.
export const wrongType = (p: Page): number => p.items[0].pre_entry_no;
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typescript_client_generated_from_the_document_compiles() {
    let Some(tools) = node_tools() else { return };
    let (t, _) = start().await;
    let (_, doc) = t
        .call(reqwest::Method::GET, None, "/api/openapi.json", None)
        .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("openapi.json"),
        serde_json::to_vec_pretty(&doc).unwrap(),
    )
    .unwrap();
    let bin = |name: &str| tools.join("node_modules/.bin").join(name);
    let out = Command::new(bin("openapi-typescript"))
        .args(["openapi.json", "--output", "api.ts"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openapi-typescript: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let api = std::fs::read_to_string(dir.path().join("api.ts")).unwrap();
    assert!(
        api.contains("DeclarationForm"),
        "the form's schema generated"
    );
    std::fs::write(dir.path().join("client.ts"), CLIENT).unwrap();
    let tsc = |file: &str| {
        Command::new(bin("tsc"))
            .args([
                "--noEmit",
                "--strict",
                "--target",
                "es2022",
                "--module",
                "esnext",
                "--moduleResolution",
                "bundler",
                "--lib",
                "es2022,dom",
                file,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let out = tsc("client.ts");
    assert!(
        out.status.success(),
        "tsc: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The compiler does catch mistakes here: the same client without one `@ts-expect-error`
    // does not compile.
    std::fs::write(
        dir.path().join("wrong.ts"),
        CLIENT.replacen(
            "// @ts-expect-error: the filing form has no such field.",
            "",
            1,
        ),
    )
    .unwrap();
    assert!(
        !tsc("wrong.ts").status.success(),
        "tsc refuses an unknown field"
    );
}
