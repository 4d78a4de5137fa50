//! The OpenAPI document as a generator reads it (issue 18 item 7; docs/FORMATS.md "The API
//! document"): every parameter where the path template says, every operation with a summary,
//! a unique operationId, a tag and its security, every error answer the one error shape, no
//! request body left untyped; the answers of filing, listing, reading and signing in have the
//! keys their schemas name; and the `form` of `GET /api/declarations/{id}` files again as it
//! is. The document is also checked by an OpenAPI validator and a client generated from it
//! compiled (tests/openapi_interop.rs).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use app::{Clearance, NewUserRequest, Role};
use domain::codes::Uscc;
use reqwest::StatusCode;
use serde_json::{json, Value};

const A: &str = "91310115MA1K4Q7B4Y";

/// The operations anyone may call (no token), as `(method, path)`: the document must say so,
/// and every other operation must ask for the bearer token or the session cookie.
const PUBLIC: &[(&str, &str)] = &[
    ("get", "/api/health"),
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/api/openapi.json"),
    ("post", "/api/session"),
    ("post", "/api/password"),
    ("post", "/api/registrations/sign-up"),
    ("get", "/api/codes/{table}"),
];

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

async fn document(t: &common::Harness) -> Value {
    let (s, doc) = t
        .call(reqwest::Method::GET, None, "/api/openapi.json", None)
        .await;
    assert_eq!(s, StatusCode::OK);
    doc
}

/// Every operation: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    assert!(out.len() > 100, "{} operations", out.len());
    out
}

/// The names between braces of a path template.
fn template_names(path: &str) -> BTreeSet<String> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_owned()))
        .collect()
}

/// The schema `s` stands for, through `$ref` and the non-null arm of a `oneOf`.
fn resolve<'a>(doc: &'a Value, s: &'a Value) -> &'a Value {
    if let Some(r) = s["$ref"].as_str() {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        let target = &doc["components"]["schemas"][name];
        assert!(target.is_object(), "{r} resolves");
        return resolve(doc, target);
    }
    if let Some(arms) = s["oneOf"].as_array() {
        let not_null: Vec<&Value> = arms.iter().filter(|a| a["type"] != "null").collect();
        if not_null.len() == 1 {
            return resolve(doc, not_null[0]);
        }
    }
    s
}

fn properties(doc: &Value, name: &str) -> BTreeSet<String> {
    let s = resolve(doc, &doc["components"]["schemas"][name]);
    s["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{name} has properties: {s}"))
        .keys()
        .cloned()
        .collect()
}

fn required(doc: &Value, name: &str) -> BTreeSet<String> {
    let s = resolve(doc, &doc["components"]["schemas"][name]);
    s["required"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

/// `value` has every required key of schema `name` and no key it does not name.
fn conforms(doc: &Value, name: &str, value: &Value) {
    let got = keys(value);
    let props = properties(doc, name);
    assert!(
        got.is_subset(&props),
        "{name}: keys not in the schema: {:?}",
        got.difference(&props).collect::<Vec<_>>()
    );
    let req = required(doc, name);
    assert!(
        req.is_subset(&got),
        "{name}: required keys missing: {:?}",
        req.difference(&got).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_parameter_is_in_the_path_unless_the_path_names_it() {
    let (t, _) = start().await;
    let doc = document(&t).await;
    let mut wrong = Vec::new();
    for (method, path, op) in operations(&doc) {
        let names = template_names(&path);
        let mut in_path = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            let (name, place) = (p["name"].as_str().unwrap(), p["in"].as_str().unwrap());
            assert!(
                seen.insert((name.to_owned(), place.to_owned())),
                "{method} {path}: {name} in {place} twice"
            );
            if place == "path" {
                if !names.contains(name) {
                    wrong.push(format!("{method} {path}: {name} declared in: path"));
                }
                assert_eq!(p["required"], true, "{method} {path}: {name} required");
                in_path.insert(name.to_owned());
            }
        }
        assert_eq!(
            in_path, names,
            "{method} {path}: every name of the template is a path parameter"
        );
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The case the issue names: the list's filters are in the query, optional.
    let list = &doc["paths"]["/api/declarations"]["get"]["parameters"];
    for p in list.as_array().unwrap() {
        assert_eq!(
            (&p["in"], &p["required"]),
            (&json!("query"), &json!(false)),
            "{p}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_has_a_summary_a_unique_operation_id_a_tag_and_its_security() {
    let (t, _) = start().await;
    let doc = document(&t).await;
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(
        (&schemes["bearer"]["type"], &schemes["bearer"]["scheme"]),
        (&json!("http"), &json!("bearer"))
    );
    assert_eq!(
        (
            &schemes["session_cookie"]["type"],
            &schemes["session_cookie"]["in"],
            &schemes["session_cookie"]["name"]
        ),
        (
            &json!("apiKey"),
            &json!("cookie"),
            &json!(server::SESSION_COOKIE)
        )
    );
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut public_seen = BTreeSet::new();
    for (method, path, op) in operations(&doc) {
        let at = format!("{method} {path}");
        let summary = op["summary"].as_str().unwrap_or_default();
        assert!(!summary.trim().is_empty(), "{at}: no summary");
        assert!(
            !summary.contains('\n') && summary.chars().count() <= 100,
            "{at}: a summary is one short line (the doc comment's first paragraph): {summary:?}"
        );
        let id = op["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: no operationId"));
        if let Some(other) = ids.insert(id.to_owned(), at.clone()) {
            panic!("operationId {id} twice: {other} and {at}");
        }
        let op_tags = op["tags"].as_array().unwrap();
        assert_eq!(op_tags.len(), 1, "{at}: one tag");
        assert!(
            tags.contains(op_tags[0].as_str().unwrap()),
            "{at}: tag declared"
        );
        let security = op["security"].as_array();
        if PUBLIC.contains(&(method.as_str(), path.as_str())) {
            public_seen.insert((method.clone(), path.clone()));
            assert!(security.is_none(), "{at} is public: {op}");
        } else {
            let names: BTreeSet<String> = security
                .unwrap_or_else(|| panic!("{at}: no security"))
                .iter()
                .flat_map(keys)
                .collect();
            assert_eq!(
                names,
                BTreeSet::from(["bearer".to_owned(), "session_cookie".to_owned()]),
                "{at}"
            );
            if (method.as_str(), path.as_str()) != ("get", "/api/session") {
                assert!(op["responses"]["401"].is_object(), "{at}: may answer 401");
            }
        }
    }
    assert_eq!(
        public_seen.len(),
        PUBLIC.len(),
        "every public operation listed"
    );
    // Signing in names its answer, whose token the bearer scheme carries.
    assert!(PUBLIC.contains(&("post", "/api/session")));
    // Who is signed in: either scheme, or none.
    let whoami = doc["paths"]["/api/session"]["get"]["security"]
        .as_array()
        .unwrap();
    assert!(whoami.contains(&json!({})), "{whoami:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_answer_is_the_one_error_shape_and_no_body_is_untyped() {
    let (t, _) = start().await;
    let doc = document(&t).await;
    assert_eq!(
        properties(&doc, "Error"),
        BTreeSet::from(["error".to_owned()])
    );
    let detail = resolve(
        &doc,
        &doc["components"]["schemas"]["Error"]["properties"]["error"],
    );
    for k in ["code", "message_zh", "message_en", "problems"] {
        assert!(detail["properties"][k].is_object(), "{k}: {detail}");
    }
    for (method, path, op) in operations(&doc) {
        let at = format!("{method} {path}");
        for (status, response) in op["responses"].as_object().unwrap() {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            if (method.as_str(), path.as_str(), status.as_str()) == ("get", "/ready", "503") {
                continue; // `{status: unavailable, …}`, for probes
            }
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error",
                "{at} {status}"
            );
        }
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        if schema.is_object() {
            let s = resolve(&doc, schema);
            // Typed: properties, a union, or the empty object of a step that carries nothing.
            let empty = s["type"] == "object" && s["additionalProperties"] == false;
            assert!(
                s["properties"].is_object() || s["oneOf"].is_array() || empty,
                "{at}: the request body has no schema a generator can use: {s}"
            );
        }
    }
    // The bodies the issue names: typed, down to their parts.
    let body = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"].clone()
    };
    assert_eq!(
        body("/api/declarations")["$ref"],
        "#/components/schemas/DeclarationForm"
    );
    assert_eq!(
        body("/api/transits")["$ref"],
        "#/components/schemas/TransitDeclaration"
    );
    assert_eq!(
        body("/api/postal/parcel-lists")["$ref"],
        "#/components/schemas/ParcelList"
    );
    assert_eq!(
        body("/api/postal/baggage")["$ref"],
        "#/components/schemas/BaggageDeclaration"
    );
    let manifest = resolve(&doc, &doc["components"]["schemas"]["ManifestBody"]);
    assert_eq!(
        manifest["properties"]["voyage"]["$ref"],
        "#/components/schemas/Voyage"
    );
    assert_eq!(
        manifest["properties"]["bills"]["items"]["$ref"],
        "#/components/schemas/Bill"
    );
    for part in [
        "ItemForm",
        "ChargeForm",
        "PartyForm",
        "GoodsLine",
        "MeansOfTransport",
    ] {
        assert!(doc["components"]["schemas"][part].is_object(), "{part}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declaration_read_files_again_and_the_answers_have_their_schemas_keys() {
    let (t, ent) = start().await;
    let doc = document(&t).await;
    let mut body: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    body["trader"]["uscc"] = A.into();
    body["owner"]["uscc"] = A.into();
    let file = |seq: &'static str, body: Value| {
        let req = t
            .client
            .post(format!("{}/api/declarations", t.base))
            .bearer_auth(&ent)
            .header("client-seq-no", seq)
            .json(&body);
        async move {
            let resp = req.send().await.unwrap();
            (resp.status(), resp.json::<Value>().await.unwrap())
        }
    };
    let (s, filed) = file("seq-1", body).await;
    assert_eq!(s, StatusCode::CREATED, "{filed}");
    conforms(&doc, "Filing", &filed);
    let id = filed["id"].as_i64().unwrap();

    let (s, detail) = t.get(&ent, &format!("/api/declarations/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{detail}");
    assert_eq!(keys(&detail), properties(&doc, "DeclarationDetail"));
    conforms(&doc, "DeclarationForm", &detail["form"]);
    // The same form as the copy endpoint's.
    let (_, copy) = t.get(&ent, &format!("/api/declarations/{id}/form")).await;
    assert_eq!(detail["form"], copy);

    // The round trip: the form as read, filed under a new client sequence number.
    let (s, again) = file("seq-2", detail["form"].clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{again}");
    assert_ne!(again["id"], filed["id"]);
    assert_ne!(again["pre_entry_no"], filed["pre_entry_no"]);
    // Why `form` is there: the typed `declaration` is not the filing form (its charges are
    // `{kind, …}`), and filing it is refused with every field it gets wrong.
    let (s, refused) = file("seq-3", detail["declaration"].clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    conforms(&doc, "Error", &refused);
    conforms(&doc, "ErrorDetail", &refused["error"]);
    let fields: Vec<&str> = refused["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    // (The path of an unknown field inside an optional object reads `freight.?.kind`: serde_ignored's
    // step through the `Option`.)
    assert!(
        fields
            .iter()
            .any(|f| f.starts_with("freight.") && f.ends_with(".kind")),
        "{fields:?}"
    );

    // Listing: both kinds of page.
    let (s, page) = t.get(&ent, "/api/declarations?limit=1").await;
    assert_eq!(s, StatusCode::OK, "{page}");
    conforms(&doc, "DeclarationPage", &page);
    assert_eq!(
        keys(&page["items"][0]),
        properties(&doc, "DeclarationSummary")
    );
    let (_, numbered) = t.get(&ent, "/api/declarations?page=1&limit=1").await;
    conforms(&doc, "DeclarationPage", &numbered);
    assert_eq!(numbered["total"], 2);

    // Signing in.
    let (s, session) = t
        .call(
            reqwest::Method::POST,
            None,
            "/api/session",
            Some(json!({"login": "ent-a", "password": common::PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(keys(&session), properties(&doc, "SessionToken"));
}
