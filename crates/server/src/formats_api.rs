//! Machine-to-machine filings and answers (docs/FORMATS.md): `POST /api/declarations` with a
//! single-window `DecMessage` (`application/xml`, `text/xml`) or a UN/EDIFACT D.96B `CUSDEC`
//! (`application/EDIFACT`) files the declaration exactly as the JSON form does: the document is
//! read into the form by `formats`, then the same filing runs (`app::filing`), with the same
//! idempotency (`Client-Seq-No`, else the document's own number: `DecSign/ClientSeqNo`, `BGM`
//! 1004), validation and answers. Problems name the document's own places
//! (`DecHead.TradeCoScc`, `SG6 NAD[IM].C082.3039`) where it has one.
//!
//! Answers in the format `Accept` asks: JSON by default; `application/xml` (or `text/xml`):
//! the filing's `DEC_RESULT` receipts, or an `ERROR_RESULT`; `application/EDIFACT`: a `CUSRES`
//! (accepted with the declaration number, or rejected with every error).
//!
//! `GET /api/declarations/{id}/receipts`: the declaration's receipts, one per status change,
//! as JSON or `DEC_RESULTS` XML.

use app::{FieldProblem, Principal};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::codes::Direction;
use domain::declaration::DeclarationForm;
use store::{DeclarationId, DeclarationKey};
use utoipa::OpenApi;

use crate::{blocking, invalid, json_ok, parse_id, principal, ApiError, Svc, CLIENT_SEQ_NO_HEADER};

/// The document formats a filing may come in besides JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Document {
    DecMessage,
    Cusdec,
    /// A WCO Data Model 3.6 declaration (`formats::wcodm`).
    Wco,
}

fn mime(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// The document format of a request body by its `Content-Type`, if not JSON: the WCO media
/// type (`application/vnd.wco.dm+xml`), or XML whose first 4 KiB name the WCO declaration's
/// namespace, is a WCO declaration; other XML a `DecMessage`.
pub(crate) fn document_kind(headers: &HeaderMap, body: &[u8]) -> Option<Document> {
    let m = mime(headers.get(header::CONTENT_TYPE)?.to_str().ok()?);
    if m == formats::wcodm::MEDIA_TYPE {
        Some(Document::Wco)
    } else if m == "application/xml" || m == "text/xml" || m.ends_with("+xml") {
        let head = &body[..body.len().min(4096)];
        let ns = formats::wcodm::NS_DEC.as_bytes();
        if head.windows(ns.len()).any(|w| w == ns) {
            Some(Document::Wco)
        } else {
            Some(Document::DecMessage)
        }
    } else if m == "application/edifact" {
        Some(Document::Cusdec)
    } else {
        None
    }
}

/// The format of the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reply {
    Json,
    Xml,
    Edifact,
    /// A WCO `Response` (`formats::wcodm::print_response`).
    Wco,
}

/// By `Accept`: the first of its types Jinguan writes, in the order given (quality values are
/// not weighed); JSON when none is named or `Accept` is absent.
fn reply_kind(headers: &HeaderMap) -> Reply {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Reply::Json;
    };
    for part in accept.split(',') {
        match mime(part).as_str() {
            "application/json" => return Reply::Json,
            "application/xml" | "text/xml" => return Reply::Xml,
            "application/edifact" => return Reply::Edifact,
            m if m == formats::wcodm::MEDIA_TYPE => return Reply::Wco,
            _ => {}
        }
    }
    Reply::Json
}

struct Read {
    form: DeclarationForm,
    seq: Option<String>,
    /// The CUSDEC's envelope, to answer in kind.
    envelope: Option<(String, String, String, String)>,
}

fn read(kind: Document, bytes: &[u8]) -> Result<Read, Vec<domain::Problem>> {
    match kind {
        Document::DecMessage => formats::decmessage::parse_filing(bytes).map(|f| Read {
            form: f.form,
            seq: f.client_seq_no,
            envelope: None,
        }),
        Document::Wco => formats::wcodm::parse_filing(bytes).map(|f| Read {
            form: f.form,
            seq: f.client_seq_no,
            envelope: None,
        }),
        Document::Cusdec => formats::cusdec::parse(bytes).map(|f| Read {
            form: f.form,
            seq: f.client_seq_no,
            envelope: Some((
                f.sender,
                f.recipient,
                f.control_reference,
                f.message_reference,
            )),
        }),
    }
}

/// A problem of the JSON form in the document's terms: its field, and the path where the
/// message starts with it.
fn translate(p: &mut FieldProblem, kind: Document, direction: Option<Direction>) {
    let path = match kind {
        Document::DecMessage => formats::decmessage::xml_path(
            &p.field,
            direction.map(|d| match d {
                Direction::Import => "import",
                Direction::Export => "export",
            }),
        ),
        Document::Cusdec => formats::cusdec::edifact_path(&p.field, direction),
        Document::Wco => formats::wcodm::wco_path(&p.field, direction),
    };
    if let Some(path) = path {
        for m in [&mut p.message_zh, &mut p.message_en] {
            if let Some(rest) = m.strip_prefix(p.field.as_str()) {
                *m = format!("{path}{rest}");
            }
        }
        p.field = path;
    }
}

/// File a document: read, file as the JSON form, answer as asked.
pub(crate) async fn submit_document(
    svc: Svc,
    headers: HeaderMap,
    p: Principal,
    bytes: Bytes,
    kind: Document,
) -> Result<Response, ApiError> {
    let reply = reply_kind(&headers);
    let read = blocking(move || Ok(read(kind, &bytes))).await?;
    let read = match read {
        Ok(r) => r,
        Err(problems) => {
            let (code, zh, en) = match kind {
                Document::DecMessage => (
                    "invalid_xml",
                    "无法读取该 XML 报关单文件，问题如下",
                    "the XML declaration file could not be read; see the problems",
                ),
                Document::Cusdec => (
                    "invalid_edifact",
                    "无法读取该 EDIFACT 交换，问题如下",
                    "the EDIFACT interchange could not be read; see the problems",
                ),
                Document::Wco => (
                    "invalid_xml",
                    "无法读取该 WCO 数据模型报关单，问题如下",
                    "the WCO Data Model declaration could not be read; see the problems",
                ),
            };
            let e = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, zh, en)
                .with_problems(problems.iter().map(FieldProblem::from).collect());
            return Ok(error_reply(e, reply, &svc, None, None));
        }
    };
    let header_seq = headers
        .get(CLIENT_SEQ_NO_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let seq_field = match kind {
        Document::DecMessage => "DecSign.ClientSeqNo",
        Document::Cusdec => "BGM.C106.1004",
        Document::Wco => "Declaration.FunctionalReferenceID",
    };
    let Some(seq) = header_seq.or(read.seq.clone()) else {
        let e = invalid(
            seq_field,
            "missing",
            format!("缺少客户端序号：请给出 Client-Seq-No 请求头或 {seq_field}"),
            format!("no client sequence number: give the Client-Seq-No header or {seq_field}"),
        );
        return Ok(error_reply(e, reply, &svc, read.envelope.as_ref(), None));
    };
    let direction = match read.form.direction.as_deref() {
        Some("import") => Some(Direction::Import),
        Some("export") => Some(Direction::Export),
        _ => None,
    };
    let json = serde_json::to_vec(&read.form).map_err(|_| ApiError::internal())?;
    let s = svc.clone();
    let who = p.clone();
    let s_seq = seq.clone();
    let filed = blocking(move || s.filing().submit(&who, &s_seq, &json)).await;
    match filed {
        Err(mut e) => {
            for problem in e.problems.iter_mut() {
                translate(problem, kind, direction);
            }
            Ok(error_reply(
                e,
                reply,
                &svc,
                read.envelope.as_ref(),
                Some(&seq),
            ))
        }
        Ok(filing) => {
            let status = if filing.replayed {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            match reply {
                Reply::Json => Ok(json_ok(status, &filing)),
                Reply::Xml => {
                    let receipts = receipts_of(&svc, &p, filing.id).await?;
                    Ok(typed(
                        status,
                        "application/xml",
                        formats::receipt::print_all(&receipts),
                    ))
                }
                Reply::Wco => {
                    let (code, _, _) = formats::receipt::channel(filing.status, false);
                    let r = formats::wcodm::Response {
                        accepted: true,
                        client_seq_no: Some(seq),
                        pre_entry_no: Some(filing.pre_entry_no.to_string()),
                        declaration_no: filing.declaration_no.map(|n| n.to_string()),
                        channel: Some(code.to_owned()),
                        at: utc_stamp(&svc),
                        errors: Vec::new(),
                    };
                    Ok(typed(
                        status,
                        formats::wcodm::MEDIA_TYPE,
                        formats::wcodm::print_response(&r),
                    ))
                }
                Reply::Edifact => {
                    let (code, _, _) = formats::receipt::channel(filing.status, false);
                    let r = formats::cusdec::Response {
                        accepted: true,
                        client_seq_no: Some(seq),
                        pre_entry_no: Some(filing.pre_entry_no.to_string()),
                        declaration_no: filing.declaration_no.map(|n| n.to_string()),
                        channel: Some(code.to_owned()),
                        at: stamp(&svc),
                        errors: Vec::new(),
                    };
                    Ok(typed(
                        status,
                        "application/EDIFACT",
                        formats::cusdec::print_response(
                            &r,
                            &envelope(&svc, read.envelope.as_ref()),
                        ),
                    ))
                }
            }
        }
    }
}

/// Whether a request body is EDIFACT (`Content-Type: application/EDIFACT`).
pub(crate) fn is_edifact(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| mime(v) == "application/edifact")
}

/// Whether `Accept` asks for EDIFACT (a CUSRES) before any other type Jinguan writes.
pub(crate) fn wants_edifact(headers: &HeaderMap) -> bool {
    reply_kind(headers) == Reply::Edifact
}

/// An interchange's envelope as read: sender, recipient, control and message references.
pub(crate) type Envelope = (String, String, String, String);

/// A CUSRES accepting a filing made in EDIFACT (a CUSCAR manifest): the filer's reference
/// echoed, the envelope turned back.
pub(crate) fn cusres_accepted(
    svc: &Svc,
    status: StatusCode,
    reference: Option<String>,
    filed: Option<&Envelope>,
) -> Response {
    let r = formats::cusdec::Response {
        accepted: true,
        client_seq_no: reference,
        pre_entry_no: None,
        declaration_no: None,
        channel: None,
        at: stamp(svc),
        errors: Vec::new(),
    };
    typed(
        status,
        "application/EDIFACT",
        formats::cusdec::print_response(&r, &envelope(svc, filed)),
    )
}

/// An error as a CUSRES rejection with every problem.
pub(crate) fn cusres_error(
    e: ApiError,
    svc: &Svc,
    filed: Option<&Envelope>,
    reference: Option<&str>,
) -> Response {
    error_reply(e, Reply::Edifact, svc, filed, reference)
}

fn typed(status: StatusCode, content_type: &'static str, body: String) -> Response {
    let mut resp = (status, body).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// `CCYYMMDDHHMM`, China time, from the service's clock.
fn stamp(svc: &Svc) -> String {
    svc.now()
        .with_timezone(&domain::time::CHINA)
        .format("%Y%m%d%H%M")
        .to_string()
}

/// `CCYYMMDDhhmmss`, UTC, from the service's clock (WCO format code 304 with `Z`).
fn utc_stamp(svc: &Svc) -> String {
    svc.now().format("%Y%m%d%H%M%S").to_string()
}

/// The answer's envelope: the filing's sender and recipient swapped, its references echoed.
fn envelope(
    svc: &Svc,
    filed: Option<&(String, String, String, String)>,
) -> formats::cusdec::Envelope {
    let now = svc.now().with_timezone(&domain::time::CHINA);
    let (sender, recipient, control, message) = match filed {
        Some((s, r, c, m)) => (r.clone(), s.clone(), c.clone(), m.clone()),
        None => ("JINGUAN".into(), "UNKNOWN".into(), "1".into(), "1".into()),
    };
    formats::cusdec::Envelope {
        sender: if sender.is_empty() {
            "JINGUAN".into()
        } else {
            sender
        },
        recipient: if recipient.is_empty() {
            "UNKNOWN".into()
        } else {
            recipient
        },
        date: now.format("%y%m%d").to_string(),
        time: now.format("%H%M").to_string(),
        control_reference: control,
        message_reference: message,
    }
}

/// An error in the format asked: JSON (the one error shape), an `ERROR_RESULT` document, or a
/// CUSRES rejection with every error.
fn error_reply(
    e: ApiError,
    reply: Reply,
    svc: &Svc,
    filed: Option<&(String, String, String, String)>,
    seq: Option<&str>,
) -> Response {
    match reply {
        Reply::Json => e.into_response(),
        Reply::Xml => {
            use formats::decmessage::escape;
            let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ERROR_RESULT>");
            let mut el = |name: &str, v: &str| {
                x.push_str(&format!("<{name}>{}</{name}>", escape(v)));
            };
            el("CODE", e.code);
            el("MESSAGE_ZH", &e.message_zh);
            el("MESSAGE_EN", &e.message_en);
            if let Some(pre) = &e.pre_entry_no {
                el("CUS_CIQ_NO", pre);
                el(
                    "CHANNEL",
                    formats::receipt::channel(clearance::Status::Rejected, false).0,
                );
            }
            x.push_str("<PROBLEMS>");
            for p in &e.problems {
                x.push_str(&format!(
                    "<PROBLEM><FIELD>{}</FIELD><CODE>{}</CODE><MESSAGE_ZH>{}</MESSAGE_ZH><MESSAGE_EN>{}</MESSAGE_EN></PROBLEM>",
                    escape(&p.field),
                    escape(&p.code),
                    escape(&p.message_zh),
                    escape(&p.message_en)
                ));
            }
            x.push_str("</PROBLEMS></ERROR_RESULT>\n");
            with_error_headers(&e, typed(e.status, "application/xml", x))
        }
        Reply::Wco => {
            let r = formats::wcodm::Response {
                accepted: false,
                client_seq_no: seq.map(str::to_owned),
                pre_entry_no: e.pre_entry_no.clone(),
                declaration_no: None,
                channel: None,
                at: utc_stamp(svc),
                errors: problem_list(&e),
            };
            with_error_headers(
                &e,
                typed(
                    e.status,
                    formats::wcodm::MEDIA_TYPE,
                    formats::wcodm::print_response(&r),
                ),
            )
        }
        Reply::Edifact => {
            let errors = problem_list(&e);
            let r = formats::cusdec::Response {
                accepted: false,
                client_seq_no: seq.map(str::to_owned),
                pre_entry_no: e.pre_entry_no.clone(),
                declaration_no: None,
                channel: None,
                at: stamp(svc),
                errors,
            };
            let body = formats::cusdec::print_response(&r, &envelope(svc, filed));
            with_error_headers(&e, typed(e.status, "application/EDIFACT", body))
        }
    }
}

/// Every problem of an error as (place, code, English, Chinese); the error itself when it has
/// none.
fn problem_list(e: &ApiError) -> Vec<(String, String, String, String)> {
    let mut errors: Vec<(String, String, String, String)> = e
        .problems
        .iter()
        .map(|p| {
            (
                p.field.clone(),
                p.code.clone(),
                p.message_en.clone(),
                p.message_zh.clone(),
            )
        })
        .collect();
    if errors.is_empty() {
        errors.push((
            String::new(),
            e.code.to_owned(),
            e.message_en.clone(),
            e.message_zh.clone(),
        ));
    }
    errors
}

fn with_error_headers(e: &ApiError, mut resp: Response) -> Response {
    if let Some(seconds) = e.retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds.get()));
    }
    if e.status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

/// The receipts of a declaration the principal may see.
async fn receipts_of(
    svc: &Svc,
    p: &Principal,
    id: DeclarationId,
) -> Result<Vec<formats::receipt::Receipt>, ApiError> {
    let s = svc.clone();
    let who = p.clone();
    // The events and two dates only: the whole detail (taxes assessed again, notices, the
    // form) made a DecMessage filing answered in DEC_RESULT half as fast as JSON.
    let src = blocking(move || s.steps().receipt_sources(&who, DeclarationKey::Id(id))).await?;
    let events: Vec<(u64, clearance::Event)> =
        src.events.into_iter().map(|e| (e.seq, e.event)).collect();
    Ok(formats::receipt::receipts(
        &events,
        src.ie_date.as_deref(),
        src.declaration_date.as_deref(),
    ))
}

/// A declaration's receipts, one per status change.
#[utoipa::path(get, path = "/api/declarations/{id}/receipts",
    params(("id" = i64, Path, description = "declaration id")),
    responses((status = 200, description = "the declaration's receipts, one per status change, oldest first: JSON `{receipts: [...]}`, or with `Accept: application/xml` the single-window `<DEC_RESULTS>` of `<DEC_RESULT>` (docs/FORMATS.md \"Receipts\")"),
        (status = 404, description = "no such declaration, or not visible to you")))]
pub(crate) async fn receipts(
    State(svc): State<Svc>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (p, _) = principal(&svc, &headers).await?;
    let DeclarationKey::Id(id) = parse_id(&id)? else {
        return Err(ApiError::not_found());
    };
    let rs = receipts_of(&svc, &p, id).await?;
    Ok(match reply_kind(&headers) {
        Reply::Xml => typed(
            StatusCode::OK,
            "application/xml",
            formats::receipt::print_all(&rs),
        ),
        _ => json_ok(StatusCode::OK, &serde_json::json!({ "receipts": rs })),
    })
}

#[derive(OpenApi)]
#[openapi(paths(receipts))]
pub(crate) struct FormatsApiDoc;
