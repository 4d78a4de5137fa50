//! Customs receipts in the single-window `DEC_RESULT` form (docs/FORMATS.md "Receipts"): one
//! receipt per status change of a declaration, derived from its recorded events (nothing is
//! stored twice), printed as XML or serialized as JSON.
//!
//! - [`receipts`]: the events of one declaration → its receipts, in order. The status after
//!   each event is [`clearance::apply`]'s, so a receipt says exactly what the ledger says.
//! - [`channel`]: the `CHANNEL` code of a status (the one mapping; `7` and `K` are attested by
//!   real receipts, the others are Jinguan's assignment, documented).
//! - [`print`] / [`parse`]: a receipt as `<DEC_RESULT>` XML and back.
//!
//! Pure: the events come from the caller; times are the events' own.

use chrono::{DateTime, NaiveDateTime, Utc};
use clearance::{DeclarationState, Event, EventKind, ReviewProblem, Status};
use domain::Problem;
use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;
use serde::Serialize;

use crate::decmessage::escape;

/// The `CHANNEL` code of a status change and what it says (zh, en). `released_by_guarantee`
/// tells a release against a guarantee (`K`) from a release after payment (`P`).
pub fn channel(
    status: Status,
    released_by_guarantee: bool,
) -> (&'static str, &'static str, &'static str) {
    match status {
        // Attested by the shared receipts (dec_result_new_7_declared.xml: "直接申报成功").
        Status::Submitted => ("7", "直接申报成功", "declared"),
        Status::Accepted => ("L", "海关入库成功", "accepted and numbered by customs"),
        Status::Rejected => ("E", "电子审单退单", "rejected by automatic review"),
        Status::Withdrawn => ("Z", "申报已撤回", "withdrawn by the filer"),
        Status::DocumentReview => ("H", "人工审单", "documents under review"),
        Status::Inspection => ("C", "查验通知", "inspection ordered"),
        Status::AwaitingAssessment => ("J", "审结", "review concluded; taxes to assess"),
        Status::Assessed => ("S", "税费单已生成", "payment notices issued"),
        Status::Paid => ("F", "税费已缴纳", "duties and taxes paid"),
        // Attested (dec_result_new_K_guarantee_release.xml: "报关单担保放行").
        Status::Released if released_by_guarantee => {
            ("K", "报关单担保放行", "released against a guarantee")
        }
        Status::Released => ("P", "海关放行", "released"),
        Status::Closed => ("R", "结关", "closed"),
        Status::Cancelled => ("D", "报关单已删除", "cancelled"),
        Status::Suspended => ("Q", "缉私挂起", "suspended by anti-smuggling"),
        Status::New => ("0", "未申报", "not filed"),
    }
}

/// One receipt: a status change of a declaration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Receipt {
    /// The position of the event that made the change in the declaration's history.
    pub event_seq: u64,
    /// `CUS_CIQ_NO`: the pre-entry number.
    pub pre_entry_no: String,
    /// `ENTRY_ID`: the declaration number, once accepted.
    pub declaration_no: Option<String>,
    /// `NOTICE_DATE`, China time (`YYYY-MM-DDTHH:MM:SS`).
    pub notice_date: String,
    pub channel: String,
    pub status: String,
    /// `NOTE`: what happened (in Chinese, as the single window writes it).
    pub note: String,
    pub note_en: String,
    /// `CUSTOM_MASTER`: the declaration office.
    pub declaration_office: String,
    /// `I_E_DATE` (`yyyyMMdd`), when the declaration gives it.
    pub ie_date: Option<String>,
    /// `D_DATE` (`YYYY-MM-DDT00:00:00`), when the declaration gives it.
    pub declaration_date: Option<String>,
    /// The problems of a rejection (the JSON receipt carries them; the XML `NOTE` counts them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<ReviewProblem>,
}

/// China time of an instant, as receipts write it.
fn china_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&domain::time::CHINA)
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// The receipts of a declaration: one per event that changed its status, in order.
/// `ie_date` and `declaration_date` (`YYYY-MM-DD`) are the declaration's, when it has them.
pub fn receipts(
    events: &[(u64, Event)],
    ie_date: Option<&str>,
    declaration_date: Option<&str>,
) -> Vec<Receipt> {
    let mut state = DeclarationState::default();
    let mut out = Vec::new();
    for (seq, e) in events {
        let before = state.status;
        state = clearance::apply(state, e);
        if state.status == before {
            continue;
        }
        let Some(header) = state.header.as_ref() else {
            continue;
        };
        let guarantee = matches!(e.kind, EventKind::ReleasedAgainstGuarantee { .. });
        let (code, zh, en) = channel(state.status, guarantee);
        let pre = header.pre_entry_no.to_string();
        let problems = match &e.kind {
            EventKind::Rejected { problems } => problems.clone(),
            _ => Vec::new(),
        };
        let (note, note_en) = if problems.is_empty() {
            (format!("{pre}{zh}"), en.to_owned())
        } else {
            (
                format!("{pre}{zh}：{} 个问题", problems.len()),
                format!("{en}: {} problem(s)", problems.len()),
            )
        };
        out.push(Receipt {
            event_seq: *seq,
            pre_entry_no: pre,
            declaration_no: state.declaration_no.map(|n| n.to_string()),
            notice_date: china_time(e.at),
            channel: code.to_owned(),
            status: state.status.as_str().to_owned(),
            note,
            note_en,
            declaration_office: header.declaration_office.to_string(),
            ie_date: ie_date.map(|d| d.replace('-', "")),
            declaration_date: declaration_date.map(|d| format!("{d}T00:00:00")),
            problems,
        });
    }
    out
}

/// A receipt as `<DEC_RESULT>` (without the XML prolog, so that several can be wrapped).
pub fn print_element(r: &Receipt) -> String {
    let mut out = String::with_capacity(512);
    out.push_str("<DEC_RESULT>");
    let mut el = |name: &str, v: Option<&str>| {
        out.push('<');
        out.push_str(name);
        out.push('>');
        if let Some(v) = v {
            out.push_str(&escape(v));
        }
        out.push_str("</");
        out.push_str(name);
        out.push('>');
    };
    el("CUS_CIQ_NO", Some(&r.pre_entry_no));
    el("ENTRY_ID", r.declaration_no.as_deref());
    el("NOTICE_DATE", Some(&r.notice_date));
    el("CHANNEL", Some(&r.channel));
    el("NOTE", Some(&r.note));
    el("CUSTOM_MASTER", Some(&r.declaration_office));
    el("I_E_DATE", r.ie_date.as_deref());
    el("D_DATE", r.declaration_date.as_deref());
    out.push_str("</DEC_RESULT>");
    out
}

/// A receipt as a whole `DEC_RESULT` document (UTF-8).
pub fn print(r: &Receipt) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n{}\n",
        print_element(r)
    )
}

/// Receipts of one declaration as `<DEC_RESULTS>` around their `DEC_RESULT`s, oldest first.
pub fn print_all(rs: &[Receipt]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<DEC_RESULTS>\n",
    );
    for r in rs {
        out.push_str(&print_element(r));
        out.push('\n');
    }
    out.push_str("</DEC_RESULTS>\n");
    out
}

/// The fields of a `DEC_RESULT` as read back: (element, text), for tests and clients that
/// check what they were sent. Only what the XML carries: no status name, no problems.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReceiptXml {
    pub cus_ciq_no: String,
    pub entry_id: Option<String>,
    pub notice_date: Option<NaiveDateTime>,
    pub channel: String,
    pub note: String,
    pub custom_master: Option<String>,
    pub i_e_date: Option<String>,
    pub d_date: Option<String>,
}

/// Read every `DEC_RESULT` of a document (a lone receipt, `DEC_RESULTS`, or the legacy
/// `DEC_DATA` wrapper). UTF-8 only; problems, never a panic.
pub fn parse(bytes: &[u8]) -> Result<Vec<ReceiptXml>, Vec<Problem>> {
    let bad = |en: String| {
        vec![Problem::new(
            "",
            "not_xml",
            format!("不是合法的回执 XML：{en}"),
            format!("not a readable receipt: {en}"),
        )]
    };
    if bytes.len() > crate::decmessage::BYTES_MAX {
        return Err(bad("too large".into()));
    }
    let mut reader = Reader::from_reader(bytes);
    reader.config_mut().check_end_names = true;
    let mut out = Vec::new();
    let mut current: Option<ReceiptXml> = None;
    let mut leaf: Option<String> = None;
    let mut text = String::new();
    let mut depth = 0usize;
    loop {
        let ev = reader.read_event().map_err(|e| bad(e.to_string()))?;
        match ev {
            XmlEvent::Start(s) => {
                depth += 1;
                if depth > 8 {
                    return Err(bad("nested too deep".into()));
                }
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                if name == "DEC_RESULT" {
                    current = Some(ReceiptXml::default());
                } else if current.is_some() {
                    leaf = Some(name);
                    text.clear();
                }
            }
            XmlEvent::Empty(s) => {
                let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
                if name == "DEC_RESULT" {
                    out.push(ReceiptXml::default());
                }
            }
            XmlEvent::Text(t) => {
                let s = t.decode().map_err(|e| bad(e.to_string()))?;
                text.push_str(&s);
            }
            XmlEvent::GeneralRef(r) => {
                let s = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(String::from)
                } else {
                    r.decode()
                        .ok()
                        .and_then(|n| quick_xml::escape::resolve_predefined_entity(&n))
                        .map(str::to_owned)
                };
                text.push_str(&s.ok_or_else(|| bad("unknown entity".into()))?);
            }
            XmlEvent::CData(c) => text.push_str(&c.decode().map_err(|e| bad(e.to_string()))?),
            XmlEvent::End(e) => {
                depth = depth.saturating_sub(1);
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                if name == "DEC_RESULT" {
                    if let Some(r) = current.take() {
                        out.push(r);
                    }
                } else if let (Some(r), Some(l)) = (current.as_mut(), leaf.take()) {
                    let v = text.trim().to_owned();
                    let opt = (!v.is_empty()).then(|| v.clone());
                    match l.as_str() {
                        "CUS_CIQ_NO" | "SEQ_NO" => r.cus_ciq_no = v,
                        "ENTRY_ID" => r.entry_id = opt,
                        "NOTICE_DATE" => {
                            r.notice_date = ["%Y-%m-%dT%H:%M:%S", "%Y%m%dT%H%M%S%f"]
                                .iter()
                                .find_map(|f| NaiveDateTime::parse_from_str(&v, f).ok())
                        }
                        "CHANNEL" => r.channel = v,
                        "NOTE" => r.note = v,
                        "CUSTOM_MASTER" | "DECL_PORT" => r.custom_master = opt,
                        "I_E_DATE" => r.i_e_date = opt,
                        "D_DATE" => r.d_date = opt,
                        _ => {}
                    }
                    text.clear();
                }
            }
            XmlEvent::DocType(_) => return Err(bad("DOCTYPE not accepted".into())),
            XmlEvent::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}
