//! The single-window goods declaration XML, `<DecMessage>` (docs/DOMAIN.md §2 and §8), read into
//! the JSON form. `docs/declaration-xml.md` lists every element and the field it fills.
//!
//! - Encoding: from the XML prolog (`encoding="GB2312"`, `GBK`, `GB18030`, `UTF-8`, …, any
//!   ASCII-compatible encoding the WHATWG Encoding Standard names), else UTF-8. An unknown label,
//!   UTF-16 and bytes that are not valid in the declared encoding are problems, not guesses.
//! - Structure: the root must be `DecMessage` (with or without the
//!   `http://www.chinaport.gov.cn/dec` namespace); `DecHead`, `DecLists/DecList` and
//!   `DecLicenseDocus/LicenseDocu` are read; `DecFreeTxt` gives only `VoyNo` (when the head has
//!   no `VoyageNo`); `DecContainers`, `DecSign`, `EdocRealation` and elements Jinguan has no
//!   field for are skipped.
//! - Values: the text of an element, CDATA and entities resolved, trimmed; an empty element means
//!   absent. Values are copied, not judged: validation of the form reports bad codes, numbers
//!   and dates with their JSON paths. Dates `yyyyMMdd` (with or without a time) become
//!   `YYYY-MM-DD`.
//! - Limits: at most [`BYTES_MAX`] bytes, [`DEPTH_MAX`] levels of nesting, `ITEMS_MAX` (50)
//!   goods lines and [`DOCUMENTS_MAX`] attached documents; no DOCTYPE (so no entity expansion);
//!   reading stops at [`PROBLEMS_MAX`] problems. Every failure is a [`Problem`] whose field is the XML path
//!   (`DecHead.GrossWet`, `DecLists.DecList[0].GName`) or empty for the document as a whole;
//!   nothing panics on any input.

use std::borrow::Cow;
use std::collections::BTreeMap;

use domain::codes::Direction;
use domain::declaration::{
    ChargeForm, DeclarationForm, DocumentForm, ItemForm, NumberText, OverseasPartyForm, PartyForm,
    ITEMS_MAX,
};
use domain::Problem;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Largest document accepted (1 MiB, as for the JSON form).
pub const BYTES_MAX: usize = 1024 * 1024;
/// Deepest nesting accepted; a `DecMessage` needs 3 (`DecMessage/DecLists/DecList/GNo`).
pub const DEPTH_MAX: usize = 32;
/// The root element.
pub const ROOT: &str = "DecMessage";
/// Most attached documents (`LicenseDocu`) read; goods lines are at most
/// [`domain::declaration::ITEMS_MAX`].
pub const DOCUMENTS_MAX: usize = 100;
/// Reading stops after this many problems.
pub const PROBLEMS_MAX: usize = 100;

/// Read a `DecMessage`; the direction comes from `DecHead/IEFlag` (or the 9th digit of
/// `PreEntryId`/`EntryId`), else stays absent.
pub fn parse(bytes: &[u8]) -> Result<DeclarationForm, Vec<Problem>> {
    parse_with_direction(bytes, None)
}

/// As [`parse`], with a direction for documents that carry none (`IEFlag` empty or missing).
/// A flag in the document wins over the hint.
pub fn parse_with_direction(
    bytes: &[u8],
    direction_hint: Option<Direction>,
) -> Result<DeclarationForm, Vec<Problem>> {
    let doc = read(bytes)?;
    map(&doc, direction_hint)
}

/// A `DecMessage` sent as a filing: the form and the client sequence number the message
/// carries in `DecSign/ClientSeqNo` (the idempotency key when the request gives none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filing {
    pub form: DeclarationForm,
    pub client_seq_no: Option<String>,
}

/// Read a `DecMessage` filed to `POST /api/declarations`: as [`parse`], with `DecSign`'s
/// client sequence number.
pub fn parse_filing(bytes: &[u8]) -> Result<Filing, Vec<Problem>> {
    let doc = read(bytes)?;
    let client_seq_no = doc.sign.get("ClientSeqNo");
    let form = map(&doc, None)?;
    Ok(Filing {
        form,
        client_seq_no,
    })
}

// ---------------------------------------------------------------------------------------------
// Reading: the elements Jinguan uses, as (name, text) pairs per record

/// One record (`DecHead`, one `DecList`, one `LicenseDocu`): leaf elements in document order.
#[derive(Default)]
struct Record {
    /// XML path of the record, for problems: `DecHead`, `DecLists.DecList[2]`.
    path: String,
    fields: BTreeMap<String, String>,
}

impl Record {
    fn new(path: String) -> Record {
        Record {
            path,
            fields: BTreeMap::new(),
        }
    }

    /// The trimmed text of a field; empty means absent.
    fn get(&self, name: &str) -> Option<String> {
        self.fields
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    }

    fn insert(&mut self, name: String, value: String, problems: &mut Vec<Problem>) {
        if self.fields.contains_key(&name) {
            problems.push(Problem::new(
                format!("{}.{name}", self.path),
                "duplicate",
                format!("元素 {name} 重复出现"),
                format!("element {name} appears more than once"),
            ));
            return;
        }
        self.fields.insert(name, value);
    }
}

#[derive(Default)]
struct Document {
    head: Option<Record>,
    items: Vec<Record>,
    documents: Vec<Record>,
    free_text: Record,
    sign: Record,
}

fn whole(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Vec<Problem> {
    vec![Problem::new("", code, zh, en)]
}

fn not_xml(at: u64, zh_why: &str, en_why: &str) -> Vec<Problem> {
    whole(
        "not_xml",
        format!("不是合法的 XML（约第 {at} 字节）：{zh_why}"),
        format!("not well-formed XML (near byte {at}): {en_why}"),
    )
}

/// UTF-16 (by its byte order mark or its first `<`) cannot be read by the streaming reader, and
/// single-window files never use it.
fn looks_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xFF, 0xFE])
        || bytes.starts_with(&[0xFE, 0xFF])
        || bytes.starts_with(&[0x00, b'<'])
        || bytes.starts_with(&[b'<', 0x00])
}

/// Where a leaf element's text goes, by the path of its parents.
enum Slot {
    Head,
    Item,
    Document,
    FreeText,
    Sign,
    Skip,
}

fn slot(stack: &[Vec<u8>]) -> Slot {
    let names: Vec<&[u8]> = stack.iter().map(Vec::as_slice).collect();
    match names.as_slice() {
        [_, b"DecHead", _] => Slot::Head,
        [_, b"DecLists", b"DecList", _] => Slot::Item,
        [_, b"DecLicenseDocus", b"LicenseDocu", _] => Slot::Document,
        [_, b"DecFreeTxt", _] => Slot::FreeText,
        [_, b"DecSign", _] => Slot::Sign,
        _ => Slot::Skip,
    }
}

/// The XML path of the element on top of the stack, for problems.
fn stack_path(stack: &[Vec<u8>], doc: &Document) -> String {
    let name = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let leaf = stack.last().map(|b| name(b)).unwrap_or_default();
    match slot(stack) {
        Slot::Head => format!("DecHead.{leaf}"),
        Slot::Item => format!(
            "DecLists.DecList[{}].{leaf}",
            doc.items.len().saturating_sub(1)
        ),
        Slot::Document => format!(
            "DecLicenseDocus.LicenseDocu[{}].{leaf}",
            doc.documents.len().saturating_sub(1)
        ),
        Slot::FreeText => format!("DecFreeTxt.{leaf}"),
        Slot::Sign => format!("DecSign.{leaf}"),
        Slot::Skip => stack
            .iter()
            .skip(1)
            .map(|b| name(b))
            .collect::<Vec<_>>()
            .join("."),
    }
}

fn encoding_problem(field: String, encoding: &str) -> Problem {
    Problem::new(
        field,
        "encoding",
        format!("内容不是有效的 {encoding} 编码（请检查 XML 声明中的 encoding）"),
        format!("the text is not valid {encoding} (check the encoding in the XML declaration)"),
    )
}

fn read(bytes: &[u8]) -> Result<Document, Vec<Problem>> {
    if bytes.len() > BYTES_MAX {
        return Err(whole(
            "too_large",
            format!("文件超过 {BYTES_MAX} 字节"),
            format!("the document is larger than {BYTES_MAX} bytes"),
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(whole("empty", "文件为空", "the document is empty"));
    }
    if looks_utf16(bytes) {
        return Err(whole(
            "encoding",
            "不支持 UTF-16 编码，请使用 UTF-8 或 GB2312/GBK",
            "UTF-16 is not supported; use UTF-8 or GB2312/GBK",
        ));
    }

    let mut reader = Reader::from_reader(bytes);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = false;

    let mut doc = Document {
        free_text: Record::new("DecFreeTxt".to_owned()),
        sign: Record::new("DecSign".to_owned()),
        ..Document::default()
    };
    let mut problems = Vec::new();
    // Local names of the open elements, and whether each has child elements.
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut has_children: Vec<bool> = Vec::new();
    let mut text = String::new();
    let mut root_seen = false;

    loop {
        if problems.len() >= PROBLEMS_MAX {
            return Err(problems);
        }
        let event = match reader.read_event() {
            Ok(e) => e,
            Err(e) => {
                let why = e.to_string();
                return Err(not_xml(reader.error_position(), &why, &why));
            }
        };
        let encoding = reader.decoder().encoding().name();
        match event {
            Event::Decl(decl) => {
                if let Some(label) = decl.encoding() {
                    let label = match label {
                        Ok(l) => String::from_utf8_lossy(&l).into_owned(),
                        Err(e) => {
                            let why = e.to_string();
                            return Err(not_xml(reader.buffer_position(), &why, &why));
                        }
                    };
                    match decl.encoder() {
                        None => {
                            return Err(whole(
                                "encoding",
                                format!("未知的字符编码 “{label}”，请使用 UTF-8 或 GB2312/GBK"),
                                format!("unknown encoding \"{label}\"; use UTF-8 or GB2312/GBK"),
                            ))
                        }
                        Some(enc) if !enc.is_ascii_compatible() => {
                            return Err(whole(
                                "encoding",
                                format!("不支持字符编码 “{label}”，请使用 UTF-8 或 GB2312/GBK"),
                                format!(
                                "encoding \"{label}\" is not supported; use UTF-8 or GB2312/GBK"
                            ),
                            ))
                        }
                        Some(_) => {}
                    }
                }
            }
            Event::DocType(_) => {
                return Err(whole(
                    "doctype",
                    "不接受 DOCTYPE 声明",
                    "a DOCTYPE declaration is not accepted",
                ))
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = start.local_name().as_ref().to_vec();
                if stack.is_empty() {
                    if root_seen {
                        return Err(not_xml(
                            reader.buffer_position(),
                            "根元素之后还有元素",
                            "content after the root element",
                        ));
                    }
                    root_seen = true;
                    if name != ROOT.as_bytes() {
                        let found = String::from_utf8_lossy(&name).into_owned();
                        return Err(whole(
                            "root",
                            format!("根元素须为 {ROOT}（报关单报文），而不是 {found}"),
                            format!("the root element must be {ROOT} (a declaration), not {found}"),
                        ));
                    }
                }
                if stack.len() >= DEPTH_MAX {
                    return Err(whole(
                        "too_deep",
                        format!("元素嵌套超过 {DEPTH_MAX} 层"),
                        format!("elements nested deeper than {DEPTH_MAX} levels"),
                    ));
                }
                if let Some(parent) = has_children.last_mut() {
                    *parent = true;
                }
                stack.push(name);
                has_children.push(false);
                text.clear();
                open(&stack, &mut doc, &mut problems)?;
                if is_empty {
                    close(&stack, false, "", &mut doc, &mut problems);
                    stack.pop();
                    has_children.pop();
                }
            }
            Event::End(_) => {
                let children = has_children.pop().unwrap_or(false);
                close(&stack, children, &text, &mut doc, &mut problems);
                stack.pop();
                text.clear();
            }
            Event::Text(t) if stack.is_empty() => {
                if !t.iter().all(u8::is_ascii_whitespace) {
                    return Err(not_xml(
                        reader.buffer_position(),
                        "根元素之外有文本",
                        "text outside the root element",
                    ));
                }
            }
            Event::Text(t) => match t.decode() {
                Ok(s) => text.push_str(&s),
                Err(_) => return Err(vec![encoding_problem(stack_path(&stack, &doc), encoding)]),
            },
            Event::CData(c) => match c.decode() {
                Ok(s) if !stack.is_empty() => text.push_str(&s),
                Ok(_) => {
                    return Err(not_xml(
                        reader.buffer_position(),
                        "根元素之外有 CDATA",
                        "CDATA outside the root element",
                    ))
                }
                Err(_) => return Err(vec![encoding_problem(stack_path(&stack, &doc), encoding)]),
            },
            Event::GeneralRef(r) => {
                let resolved: Option<Cow<'_, str>> = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(|c| Cow::Owned(c.to_string()))
                } else {
                    r.decode()
                        .ok()
                        .and_then(|n| quick_xml::escape::resolve_predefined_entity(&n))
                        .map(Cow::Borrowed)
                };
                match resolved {
                    Some(s) if !stack.is_empty() => text.push_str(&s),
                    _ => {
                        let name = String::from_utf8_lossy(&r).into_owned();
                        return Err(not_xml(
                            reader.buffer_position(),
                            &format!("未知或无效的实体引用 &{name};"),
                            &format!("unknown or invalid entity reference &{name};"),
                        ));
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => {
                if !stack.is_empty() || !root_seen {
                    return Err(not_xml(
                        reader.buffer_position(),
                        "文件不完整（元素未闭合或没有根元素）",
                        "the document ends early (an element is not closed, or there is no root)",
                    ));
                }
                break;
            }
        }
    }

    if doc.head.is_none() {
        problems.push(Problem::new(
            "DecHead",
            "required",
            "缺少表头 DecHead",
            "the header DecHead is missing",
        ));
    }
    if problems.is_empty() {
        Ok(doc)
    } else {
        Err(problems)
    }
}

/// An element opened: start a record where one begins. Too many records end the reading.
fn open(
    stack: &[Vec<u8>],
    doc: &mut Document,
    problems: &mut Vec<Problem>,
) -> Result<(), Vec<Problem>> {
    let names: Vec<&[u8]> = stack.iter().map(Vec::as_slice).collect();
    match names.as_slice() {
        [_, b"DecHead"] => {
            if doc.head.is_some() {
                problems.push(Problem::new(
                    "DecHead",
                    "duplicate",
                    "表头 DecHead 重复出现",
                    "the header DecHead appears more than once",
                ));
            }
            // A second head is read into a record of its own and dropped.
            doc.head = Some(Record::new("DecHead".to_owned()));
        }
        [_, b"DecLists", b"DecList"] => {
            if doc.items.len() >= ITEMS_MAX {
                return Err(vec![Problem::new(
                    "DecLists",
                    "items_count",
                    format!("商品项超过 {ITEMS_MAX} 项"),
                    format!("more than {ITEMS_MAX} goods lines"),
                )]);
            }
            let path = format!("DecLists.DecList[{}]", doc.items.len());
            doc.items.push(Record::new(path));
        }
        [_, b"DecLicenseDocus", b"LicenseDocu"] => {
            if doc.documents.len() >= DOCUMENTS_MAX {
                return Err(vec![Problem::new(
                    "DecLicenseDocus",
                    "too_many",
                    format!("随附单证超过 {DOCUMENTS_MAX} 项"),
                    format!("more than {DOCUMENTS_MAX} attached documents"),
                )]);
            }
            let path = format!("DecLicenseDocus.LicenseDocu[{}]", doc.documents.len());
            doc.documents.push(Record::new(path));
        }
        _ => {}
    }
    Ok(())
}

/// An element closed: a leaf of a record gives a field.
fn close(
    stack: &[Vec<u8>],
    has_children: bool,
    text: &str,
    doc: &mut Document,
    problems: &mut Vec<Problem>,
) {
    if has_children {
        return;
    }
    let Some(name) = stack.last() else { return };
    let name = String::from_utf8_lossy(name).into_owned();
    let record = match slot(stack) {
        Slot::Head => doc.head.as_mut(),
        Slot::Item => doc.items.last_mut(),
        Slot::Document => doc.documents.last_mut(),
        Slot::FreeText => Some(&mut doc.free_text),
        Slot::Sign => Some(&mut doc.sign),
        Slot::Skip => None,
    };
    if let Some(r) = record {
        r.insert(name, text.to_owned(), problems);
    }
}

// ---------------------------------------------------------------------------------------------
// Mapping: records to the JSON form

/// `yyyyMMdd`, optionally followed by a time (`yyyyMMddHHmmss`, `T…`, ` …`), or an ISO date with
/// a time: the date as `YYYY-MM-DD`. Anything else is copied for validation to judge.
fn date(v: String) -> String {
    let b = v.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if digits(0..8) && (b.len() == 8 || digits(8..b.len()) || matches!(b[8], b'T' | b' ')) {
        return format!("{}-{}-{}", &v[0..4], &v[4..6], &v[6..8]);
    }
    if b.len() > 10
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b' ')
    {
        return v[..10].to_owned();
    }
    v
}

fn direction_of(head: &Record) -> Result<Option<Direction>, Problem> {
    if let Some(flag) = head.get("IEFlag") {
        return match flag.as_str() {
            "I" | "i" => Ok(Some(Direction::Import)),
            "E" | "e" => Ok(Some(Direction::Export)),
            _ => Err(Problem::new(
                "DecHead.IEFlag",
                "direction",
                format!("进出口标志须为 I 或 E，而不是 {flag}"),
                format!("the import/export flag is I or E, not {flag}"),
            )),
        };
    }
    // The 9th character of an 18-digit number is the flag: 1 import, 0 export.
    for name in ["PreEntryId", "EntryId"] {
        if let Some(no) = head.get(name) {
            if no.len() == 18 && no.bytes().all(|b| b.is_ascii_digit()) {
                match no.as_bytes()[8] {
                    b'1' => return Ok(Some(Direction::Import)),
                    b'0' => return Ok(Some(Direction::Export)),
                    _ => {}
                }
            }
        }
    }
    Ok(None)
}

fn party(r: &Record, name: &str, uscc: &str, code: &str) -> Option<PartyForm> {
    let p = PartyForm {
        name: r.get(name),
        uscc: r.get(uscc),
        customs_code: r.get(code),
    };
    (p != PartyForm::default()).then_some(p)
}

fn overseas(r: &Record, prefix: &str) -> Option<OverseasPartyForm> {
    let p = OverseasPartyForm {
        code: r.get(&format!("{prefix}Code")),
        name: r
            .get(&format!("{prefix}Ename"))
            .or_else(|| r.get(&format!("{prefix}Cname"))),
        address: r.get(&format!("{prefix}Addr")),
    };
    (p != OverseasPartyForm::default()).then_some(p)
}

fn charge(r: &Record, prefix: &str) -> Option<ChargeForm> {
    let c = ChargeForm {
        mark: r.get(&format!("{prefix}Mark")),
        value: r.get(&format!("{prefix}Rate")).map(NumberText::new),
        currency: r.get(&format!("{prefix}Curr")),
    };
    (c != ChargeForm::default()).then_some(c)
}

fn item(r: &Record) -> ItemForm {
    let n = |name: &str| r.get(name).map(NumberText::new);
    ItemForm {
        item_no: n("GNo"),
        record_item: r.get("ContrItem"),
        commodity_code: r.get("CodeTS"),
        name: r.get("GName"),
        specification: r.get("GModel"),
        declared_quantity: n("GQty"),
        declared_unit: r.get("GUnit"),
        first_quantity: n("FirstQty"),
        first_unit: r.get("FirstUnit"),
        second_quantity: n("SecondQty"),
        second_unit: r.get("SecondUnit"),
        unit_price: n("DeclPrice"),
        total_price: n("DeclTotal"),
        currency: r.get("TradeCurr"),
        origin_country: r.get("OriginCountry"),
        destination_country: r.get("DestinationCountry"),
        district: r.get("DistrictCode").or_else(|| r.get("DestCode")),
        duty_treatment: r.get("DutyMode"),
        producer: None,
        origin_proof: None,
        quota_certificate_no: None,
    }
}

fn map(doc: &Document, hint: Option<Direction>) -> Result<DeclarationForm, Vec<Problem>> {
    let Some(h) = doc.head.as_ref() else {
        return Err(whole(
            "required",
            "缺少表头 DecHead",
            "the header DecHead is missing",
        ));
    };
    let direction = direction_of(h).map_err(|p| vec![p])?.or(hint);
    let n = |name: &str| h.get(name).map(NumberText::new);
    let (own, other) = match direction {
        Some(Direction::Export) => ("OverseasConsignee", "OverseasConsignor"),
        _ => ("OverseasConsignor", "OverseasConsignee"),
    };
    Ok(DeclarationForm {
        direction: direction.map(|d| d.to_string()),
        declaration_office: h.get("CustomMaster"),
        entry_exit_office: h.get("IEPort"),
        record_no: h.get("ManualNo"),
        contract_no: h.get("ContrNo"),
        ie_date: h.get("IEDate").map(date),
        declaration_date: h.get("DDate").map(date),
        trader: party(h, "TradeName", "TradeCoScc", "TradeCode"),
        overseas_party: overseas(h, own).or_else(|| overseas(h, other)),
        owner: party(h, "OwnerName", "OwnerCodeScc", "OwnerCode"),
        agent: party(h, "AgentName", "AgentCodeScc", "AgentCode"),
        transport_mode: h.get("TrafMode"),
        vessel: h.get("TrafName"),
        voyage_no: h.get("VoyageNo").or_else(|| doc.free_text.get("VoyNo")),
        bill_no: h.get("BillNo"),
        goods_place: h.get("GoodsPlace"),
        trade_mode: h.get("TradeMode"),
        levy_nature: h.get("CutMode"),
        licence_no: h.get("LicenseNo"),
        loading_port: h.get("DespPortCode"),
        destination_port: h.get("DistinatePort"),
        trading_country: h.get("TradeAreaCode"),
        dispatch_country: h.get("TradeCountry"),
        domestic_port: h.get("EntyPortCode"),
        package_type: h.get("WrapType"),
        packages: n("PackNo"),
        gross_weight_kg: n("GrossWet"),
        net_weight_kg: n("NetWt"),
        transaction_terms: h.get("TransMode"),
        freight: charge(h, "Fee"),
        insurance: charge(h, "Insur"),
        other_charges: charge(h, "Other"),
        documents: doc
            .documents
            .iter()
            .map(|r| DocumentForm {
                code: r.get("DocuCode"),
                number: r.get("CertCode"),
            })
            .filter(|d| *d != DocumentForm::default())
            .collect(),
        marks: h.get("MarkNo"),
        remarks: h.get("NoteS"),
        entry_type: h.get("EntryType"),
        // The head of DecMessage has no buyer: e-commerce retail imports carry their buyer in
        // the list (清单) message, which this reader does not take; such a declaration filed as
        // XML is refused with `buyer` required.
        buyer: None,
        items: doc.items.iter().map(item).collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// Printing: the JSON form as a DecMessage, and JSON paths as XML paths. One table per record
// drives both, so that what is printed is what `parse` reads back (`tests/roundtrip.rs`).

/// Head elements that hold one field of the form: (element, JSON field). Dates are printed
/// `yyyyMMdd`.
const HEAD: &[(&str, &str)] = &[
    ("CustomMaster", "declaration_office"),
    ("IEPort", "entry_exit_office"),
    ("ManualNo", "record_no"),
    ("ContrNo", "contract_no"),
    ("IEDate", "ie_date"),
    ("DDate", "declaration_date"),
    ("TrafMode", "transport_mode"),
    ("TrafName", "vessel"),
    ("VoyageNo", "voyage_no"),
    ("BillNo", "bill_no"),
    ("GoodsPlace", "goods_place"),
    ("TradeMode", "trade_mode"),
    ("CutMode", "levy_nature"),
    ("LicenseNo", "licence_no"),
    ("DespPortCode", "loading_port"),
    ("DistinatePort", "destination_port"),
    ("TradeAreaCode", "trading_country"),
    ("TradeCountry", "dispatch_country"),
    ("EntyPortCode", "domestic_port"),
    ("WrapType", "package_type"),
    ("PackNo", "packages"),
    ("GrossWet", "gross_weight_kg"),
    ("NetWt", "net_weight_kg"),
    ("TransMode", "transaction_terms"),
    ("MarkNo", "marks"),
    ("NoteS", "remarks"),
    ("EntryType", "entry_type"),
];

/// Domestic parties: (JSON object, name element, USCC element, customs code element).
const PARTIES: &[(&str, &str, &str, &str)] = &[
    ("trader", "TradeName", "TradeCoScc", "TradeCode"),
    ("owner", "OwnerName", "OwnerCodeScc", "OwnerCode"),
    ("agent", "AgentName", "AgentCodeScc", "AgentCode"),
];

/// Charges: (JSON object, element prefix); `mark`, `value`, `currency` are `…Mark`, `…Rate`,
/// `…Curr`.
const CHARGES: &[(&str, &str)] = &[
    ("freight", "Fee"),
    ("insurance", "Insur"),
    ("other_charges", "Other"),
];

/// `DecList` elements: (element, JSON field of the item).
const ITEM: &[(&str, &str)] = &[
    ("GNo", "item_no"),
    ("ContrItem", "record_item"),
    ("CodeTS", "commodity_code"),
    ("GName", "name"),
    ("GModel", "specification"),
    ("GQty", "declared_quantity"),
    ("GUnit", "declared_unit"),
    ("FirstQty", "first_quantity"),
    ("FirstUnit", "first_unit"),
    ("SecondQty", "second_quantity"),
    ("SecondUnit", "second_unit"),
    ("DeclPrice", "unit_price"),
    ("DeclTotal", "total_price"),
    ("TradeCurr", "currency"),
    ("OriginCountry", "origin_country"),
    ("DestinationCountry", "destination_country"),
    ("DistrictCode", "district"),
    ("DutyMode", "duty_treatment"),
];

/// `LicenseDocu` elements.
const DOCUMENT: &[(&str, &str)] = &[("DocuCode", "code"), ("CertCode", "number")];

/// The overseas party's element prefix for a direction (an unknown direction prints as an
/// import, as it reads).
fn overseas_prefix(direction: Option<&str>) -> &'static str {
    match direction {
        Some("export") => "OverseasConsignee",
        _ => "OverseasConsignor",
    }
}

/// `YYYY-MM-DD` → `yyyyMMdd`; anything else as it is.
fn compact_date(v: &str) -> String {
    let b = v.as_bytes();
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let digits: String = v.chars().filter(|c| *c != '-').collect();
        if digits.len() == 8 && digits.bytes().all(|c| c.is_ascii_digit()) {
            return digits;
        }
    }
    v.to_owned()
}

/// Text and attribute escaping for what the printers write (and the server's XML answers).
pub fn escape(v: &str) -> Cow<'_, str> {
    quick_xml::escape::escape(v)
}

fn element(out: &mut String, indent: &str, name: &str, value: Option<&str>) {
    out.push_str(indent);
    match value {
        Some(v) => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            out.push_str(&escape(v));
            out.push_str("</");
            out.push_str(name);
            out.push_str(">\n");
        }
        // Single-window files send empty elements rather than omitting them.
        None => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>\n");
        }
    }
}

/// The text of a field of a JSON object (a string or a number), absent when null.
fn text_of(v: &serde_json::Value, key: &str) -> Option<String> {
    match v.get(key)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The form as a `DecMessage` (UTF-8), with `DecSign/ClientSeqNo` when given. Every element
/// of the tables is written, empty when the field is absent. Fields the message has no
/// element for (`buyer`, an item's `producer`, `origin_proof`, `quota_certificate_no`) are not
/// written: [`unprintable`] lists them.
pub fn print(form: &DeclarationForm, client_seq_no: Option<&str>) -> String {
    // The form's own serialization is the one way its fields are named; reading it back by
    // name keeps the tables above the only mapping.
    let v = serde_json::to_value(form).unwrap_or(serde_json::Value::Null);
    let mut out = String::with_capacity(4096);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<DecMessage xmlns=\"http://www.chinaport.gov.cn/dec\" version=\"3.1\">\n");
    out.push_str("  <DecHead>\n");
    let flag = match form.direction.as_deref() {
        Some("import") => Some("I"),
        Some("export") => Some("E"),
        _ => None,
    };
    element(&mut out, "    ", "IEFlag", flag);
    for (xml, json) in HEAD {
        let value = text_of(&v, json);
        let value = if xml.ends_with("Date") {
            value.map(|d| compact_date(&d))
        } else {
            value
        };
        element(&mut out, "    ", xml, value.as_deref());
    }
    for (json, name, uscc, code) in PARTIES {
        let p = v.get(*json).unwrap_or(&serde_json::Value::Null);
        element(&mut out, "    ", name, text_of(p, "name").as_deref());
        element(&mut out, "    ", uscc, text_of(p, "uscc").as_deref());
        element(
            &mut out,
            "    ",
            code,
            text_of(p, "customs_code").as_deref(),
        );
    }
    let prefix = overseas_prefix(form.direction.as_deref());
    let o = v.get("overseas_party").unwrap_or(&serde_json::Value::Null);
    for (suffix, key) in [("Code", "code"), ("Ename", "name"), ("Addr", "address")] {
        element(
            &mut out,
            "    ",
            &format!("{prefix}{suffix}"),
            text_of(o, key).as_deref(),
        );
    }
    for (json, prefix) in CHARGES {
        let c = v.get(*json).unwrap_or(&serde_json::Value::Null);
        for (suffix, key) in [("Mark", "mark"), ("Rate", "value"), ("Curr", "currency")] {
            element(
                &mut out,
                "    ",
                &format!("{prefix}{suffix}"),
                text_of(c, key).as_deref(),
            );
        }
    }
    out.push_str("  </DecHead>\n  <DecLists>\n");
    for item in v
        .get("items")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
    {
        out.push_str("    <DecList>\n");
        for (xml, json) in ITEM {
            element(&mut out, "      ", xml, text_of(item, json).as_deref());
        }
        out.push_str("    </DecList>\n");
    }
    out.push_str("  </DecLists>\n  <DecLicenseDocus>\n");
    for doc in v
        .get("documents")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
    {
        out.push_str("    <LicenseDocu>\n");
        for (xml, json) in DOCUMENT {
            element(&mut out, "      ", xml, text_of(doc, json).as_deref());
        }
        out.push_str("    </LicenseDocu>\n");
    }
    out.push_str("  </DecLicenseDocus>\n");
    if let Some(seq) = client_seq_no {
        out.push_str("  <DecSign>\n");
        element(&mut out, "    ", "OperType", Some("C"));
        element(&mut out, "    ", "ClientSeqNo", Some(seq));
        out.push_str("  </DecSign>\n");
    }
    out.push_str("</DecMessage>\n");
    out
}

/// The JSON paths of what a form holds that a `DecMessage` has no element for (so
/// [`print`] cannot carry it): `buyer`, `items[i].producer`, `items[i].origin_proof`,
/// `items[i].quota_certificate_no`.
pub fn unprintable(form: &DeclarationForm) -> Vec<String> {
    let mut out = Vec::new();
    if form.buyer.is_some() {
        out.push("buyer".to_owned());
    }
    for (i, item) in form.items.iter().enumerate() {
        if item.producer.is_some() {
            out.push(format!("items[{i}].producer"));
        }
        if item.origin_proof.is_some() {
            out.push(format!("items[{i}].origin_proof"));
        }
        if item.quota_certificate_no.is_some() {
            out.push(format!("items[{i}].quota_certificate_no"));
        }
    }
    out
}

/// The XML path of a field of the JSON form (as validation names it: `trader.uscc`,
/// `items[2].commodity_code`, `documents[0]`), for answering a filing in the message's own
/// terms: `DecHead.TradeCoScc`, `DecLists.DecList[2].CodeTS`. `None` when the message has no
/// element for it (the caller keeps the JSON path). `direction` chooses the overseas party's
/// elements.
pub fn xml_path(json_path: &str, direction: Option<&str>) -> Option<String> {
    if json_path == "direction" {
        return Some("DecHead.IEFlag".to_owned());
    }
    if json_path == "items" {
        return Some("DecLists".to_owned());
    }
    if json_path == "documents" {
        return Some("DecLicenseDocus".to_owned());
    }
    // A list element: items[i] and documents[i], with an optional field.
    for (list, xml_list, table) in [
        ("items", "DecLists.DecList", ITEM),
        ("documents", "DecLicenseDocus.LicenseDocu", DOCUMENT),
    ] {
        if let Some(rest) = json_path
            .strip_prefix(list)
            .and_then(|r| r.strip_prefix('['))
        {
            let (index, field) = rest.split_once(']')?;
            let index: usize = index.parse().ok()?;
            let field = field.strip_prefix('.').unwrap_or(field);
            if field.is_empty() {
                return Some(format!("{xml_list}[{index}]"));
            }
            let (xml, _) = table.iter().find(|(_, json)| *json == field)?;
            return Some(format!("{xml_list}[{index}].{xml}"));
        }
    }
    if let Some((xml, _)) = HEAD.iter().find(|(_, json)| *json == json_path) {
        return Some(format!("DecHead.{xml}"));
    }
    let (object, field) = match json_path.split_once('.') {
        Some((o, f)) => (o, Some(f)),
        None => (json_path, None),
    };
    if let Some((_, name, uscc, code)) = PARTIES.iter().find(|p| p.0 == object) {
        let xml = match field {
            None | Some("name") => name,
            Some("uscc") => uscc,
            Some("customs_code") => code,
            Some(_) => return None,
        };
        return Some(format!("DecHead.{xml}"));
    }
    if object == "overseas_party" {
        let prefix = overseas_prefix(direction);
        let suffix = match field {
            None | Some("name") => "Ename",
            Some("code") => "Code",
            Some("address") => "Addr",
            Some(_) => return None,
        };
        return Some(format!("DecHead.{prefix}{suffix}"));
    }
    if let Some((_, prefix)) = CHARGES.iter().find(|c| c.0 == object) {
        let suffix = match field {
            None | Some("mark") => "Mark",
            Some("value") => "Rate",
            Some("currency") => "Curr",
            Some(_) => return None,
        };
        return Some(format!("DecHead.{prefix}{suffix}"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(date("20240417".into()), "2024-04-17");
        assert_eq!(date("20240417100000".into()), "2024-04-17");
        assert_eq!(date("20240417T15032200".into()), "2024-04-17");
        assert_eq!(date("2024-04-17T00:00:00".into()), "2024-04-17");
        assert_eq!(date("2024-04-17".into()), "2024-04-17");
        assert_eq!(date("2024041".into()), "2024041");
        assert_eq!(date("2024041x".into()), "2024041x");
    }
}
