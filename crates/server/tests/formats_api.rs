//! Machine-to-machine filings (docs/FORMATS.md): a DecMessage and a CUSDEC filed to
//! `POST /api/declarations` as the JSON form is, with the same idempotency and validation,
//! problems in the document's own terms, answers in the format `Accept` asks, and receipts per
//! status change at `GET /api/declarations/{id}/receipts`. A real server on port 0.

mod common;

use app::{Clearance, Role};
use reqwest::StatusCode;
use serde_json::Value;

const A: &str = "91310115MA1K4Q7B4Y";

#[allow(clippy::disallowed_methods)]
fn example_form() -> domain::declaration::DeclarationForm {
    let mut v: Value = serde_json::from_str(app::demo::IMPORT_TEMPLATE).unwrap();
    v["trader"]["uscc"] = A.into();
    v["owner"]["uscc"] = A.into();
    serde_json::from_value(v).unwrap()
}

async fn start() -> (common::Harness, String) {
    let t = common::Harness::start(|store, clock| {
        Clearance::new(store, common::refdata(), clock)
            .with_lane_policy(Box::new(clearance::DefaultLanePolicy))
    })
    .await;
    t.bootstrap(app::NewUserRequest {
        login: "ent".into(),
        password: common::PASSWORD.into(),
        role: Role::Enterprise,
        duties: vec![],
        office: None,
        uscc: Some(domain::codes::Uscc::parse(A).unwrap()),
        agency: None,
    });
    let token = t.login("ent").await;
    (t, token)
}

async fn post(
    t: &common::Harness,
    token: &str,
    content_type: &str,
    accept: Option<&str>,
    seq: Option<&str>,
    body: String,
) -> (StatusCode, String, String) {
    let mut req = t
        .client
        .post(format!("{}/api/declarations", t.base))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body);
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    if let Some(s) = seq {
        req = req.header("client-seq-no", s);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ct, resp.text().await.unwrap())
}

fn env() -> formats::cusdec::Envelope {
    formats::cusdec::Envelope {
        sender: "BROKER01".into(),
        recipient: "JINGUAN".into(),
        date: "250310".into(),
        time: "1000".into(),
        control_reference: "IC9".into(),
        message_reference: "M9".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decmessage_files_like_json() {
    let (t, ent) = start().await;
    let form = example_form();
    let xml = formats::decmessage::print(&form, Some("XML-1"));

    // Filed with the number the message carries; JSON answer by default.
    let (s, ct, body) = post(&t, &ent, "application/xml", None, None, xml.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert!(ct.starts_with("application/json"));
    let filed: Value = serde_json::from_str(&body).unwrap();
    // Green lane: accepted, then assessed in the same write.
    assert_eq!(filed["status"], "assessed", "{filed}");
    let id = filed["id"].as_i64().unwrap();

    // A retry: the first result, as DEC_RESULT receipts when XML is asked.
    let (s, ct, body) = post(
        &t,
        &ent,
        "text/xml",
        Some("application/xml"),
        None,
        xml.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(ct.starts_with("application/xml"));
    let receipts = formats::receipt::parse(body.as_bytes()).unwrap();
    let channels: Vec<&str> = receipts.iter().map(|r| r.channel.as_str()).collect();
    assert_eq!(channels, ["7", "L", "J", "S"], "{body}");
    assert_eq!(
        receipts[0].cus_ciq_no,
        filed["pre_entry_no"].as_str().unwrap()
    );
    assert_eq!(
        receipts[1].entry_id.as_deref(),
        filed["declaration_no"].as_str()
    );

    // The same number as JSON of the same declaration: the same filing (one canonical form).
    let (s, _, body) = post(
        &t,
        &ent,
        "application/json",
        None,
        Some("XML-1"),
        serde_json::to_string(&form).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["id"].as_i64(), Some(id));

    // Receipts retrievable per declaration, JSON and XML.
    let (s, v) = t
        .get(&ent, &format!("/api/declarations/{id}/receipts"))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["receipts"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(v["receipts"][3]["status"], "assessed");
    let x = t
        .client
        .get(format!("{}/api/declarations/{id}/receipts", t.base))
        .bearer_auth(&ent)
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(formats::receipt::parse(x.as_bytes()).unwrap().len(), 4);

    // Invalid: every problem, in the message's terms, and nothing written for a bad file.
    let mut bad = form.clone();
    bad.trader.as_mut().unwrap().uscc = Some("12345".into());
    bad.items[0].commodity_code = Some("99".into());
    let (s, _, body) = post(
        &t,
        &ent,
        "application/xml",
        None,
        Some("XML-2"),
        formats::decmessage::print(&bad, None),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let fields: Vec<&str> = v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"DecHead.TradeCoScc"), "{v}");
    assert!(fields.contains(&"DecLists.DecList[0].CodeTS"), "{v}");
    // The same as an XML error document.
    let (s, ct, body) = post(
        &t,
        &ent,
        "application/xml",
        Some("application/xml"),
        Some("XML-3"),
        formats::decmessage::print(&bad, None),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(ct.starts_with("application/xml"));
    assert!(body.contains("<FIELD>DecHead.TradeCoScc</FIELD>"), "{body}");

    // Unreadable XML: 422 invalid_xml; no number anywhere: 422 naming DecSign.ClientSeqNo.
    let (s, _, body) = post(
        &t,
        &ent,
        "application/xml",
        None,
        Some("X"),
        "<DecMessage>".into(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("invalid_xml"), "{body}");
    let (s, _, body) = post(
        &t,
        &ent,
        "application/xml",
        None,
        None,
        formats::decmessage::print(&form, None),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("DecSign.ClientSeqNo"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cusdec_files_and_cusres_answers() {
    let (t, ent) = start().await;
    let form = example_form();
    let edi = formats::cusdec::print(&form, Some("EDI-1"), &env());

    let (s, ct, body) = post(
        &t,
        &ent,
        "application/EDIFACT",
        Some("application/EDIFACT"),
        None,
        edi.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert!(ct.eq_ignore_ascii_case("application/edifact"), "{ct}");
    let r = formats::cusdec::parse_response(body.as_bytes()).unwrap();
    assert!(r.accepted, "{body}");
    assert_eq!(r.client_seq_no.as_deref(), Some("EDI-1"));
    assert_eq!(r.declaration_no.as_ref().map(String::len), Some(18));
    assert_eq!(r.channel.as_deref(), Some("S"));
    // The answer goes back to the sender, with its references.
    let i = formats::edifact::parse(body.as_bytes()).unwrap();
    assert_eq!(
        (i.sender.as_str(), i.recipient.as_str()),
        ("JINGUAN", "BROKER01")
    );
    assert_eq!(i.control_reference, "IC9");

    // Rejected with every error, in CUSDEC's terms.
    let mut bad = form.clone();
    bad.trader.as_mut().unwrap().uscc = Some("12345".into());
    bad.declaration_office = None;
    let (s, _, body) = post(
        &t,
        &ent,
        "application/EDIFACT",
        Some("application/EDIFACT"),
        None,
        formats::cusdec::print(&bad, Some("EDI-2"), &env()),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let r = formats::cusdec::parse_response(body.as_bytes()).unwrap();
    assert!(!r.accepted);
    let places: Vec<&str> = r.errors.iter().map(|e| e.0.as_str()).collect();
    assert!(places.contains(&"SG6 NAD[IM].C082.3039"), "{body}");
    assert!(places.contains(&"LOC[22].C517.3225"), "{body}");

    // Interchange-level errors answered: counts and control references.
    let broken = edi.replace("UNZ+1+IC9'", "UNZ+3+IC8'");
    let (s, _, body) = post(&t, &ent, "application/EDIFACT", None, None, broken).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "invalid_edifact");
    let codes: Vec<&str> = v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"message_count") && codes.contains(&"control_reference"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wco_declaration_files_and_wco_response_answers() {
    let (t, ent) = start().await;
    let form = example_form();
    let wco = formats::wcodm::print(&form, Some("WCO-1"));
    let media = formats::wcodm::MEDIA_TYPE;

    // Filed under its media type with FunctionalReferenceID as the key; a WCO Response.
    let (s, ct, body) = post(&t, &ent, media, Some(media), None, wco.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert!(ct.starts_with(media), "{ct}");
    let r = formats::wcodm::parse_response(body.as_bytes()).unwrap();
    assert!(r.accepted, "{body}");
    assert_eq!(r.client_seq_no.as_deref(), Some("WCO-1"));
    assert_eq!(r.declaration_no.as_ref().map(String::len), Some(18));
    assert_eq!(r.channel.as_deref(), Some("S"), "assessed");

    // The same document as plain application/xml is recognised by its namespace: a retry of
    // the same filing (200), and the same as the JSON form under that key.
    let (s, ct, body) = post(&t, &ent, "application/xml", None, None, wco.clone()).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(ct.starts_with("application/json"));
    let first: Value = serde_json::from_str(&body).unwrap();
    let (s, _, body) = post(
        &t,
        &ent,
        "application/json",
        None,
        Some("WCO-1"),
        serde_json::to_string(&form).unwrap(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let again: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["id"], first["id"]);

    // Invalid: every problem in the WCO document's terms, JSON and as a WCO Response.
    let mut bad = form.clone();
    bad.trader.as_mut().unwrap().uscc = Some("12345".into());
    bad.items[0].commodity_code = Some("99".into());
    bad.dispatch_country = Some("ZZZZ".into());
    let doc = formats::wcodm::print(&bad, Some("WCO-2"));
    let (s, _, body) = post(&t, &ent, media, None, None, doc.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let fields: Vec<&str> = v["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    for want in [
        "Declaration.AdditionalInformation[TRADER-USCC].StatementDescription",
        "Declaration.GoodsShipment.GovernmentAgencyGoodsItem[0].Commodity.Classification.ID",
        "Declaration.GoodsShipment.ExportCountry.ID",
    ] {
        assert!(fields.contains(&want), "{want} not in {v}");
    }
    let (s, ct, body) = post(&t, &ent, media, Some(media), Some("WCO-3"), doc).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(ct.starts_with(media));
    let r = formats::wcodm::parse_response(body.as_bytes()).unwrap();
    assert!(!r.accepted);
    assert_eq!(r.client_seq_no.as_deref(), Some("WCO-3"));
    assert!(
        r.errors
            .iter()
            .any(|e| e.0 == "Declaration.GoodsShipment.ExportCountry.ID" && !e.3.is_empty()),
        "{body}"
    );

    // Unreadable: 422 invalid_xml with the place; no key anywhere: the WCO element named.
    let (s, _, body) = post(
        &t,
        &ent,
        media,
        None,
        Some("W"),
        "<Declaration xmlns=\"urn:other\"/>".into(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        body.contains("invalid_xml") && body.contains("namespace"),
        "{body}"
    );
    let (s, _, body) = post(
        &t,
        &ent,
        media,
        None,
        None,
        formats::wcodm::print(&form, None),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Declaration.FunctionalReferenceID"), "{body}");
}
