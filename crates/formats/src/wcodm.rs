//! The WCO Data Model 3.6 goods declaration (`Declaration`, namespace
//! [`NS_DEC`]) read into the JSON form and printed from it, in the profile of the schemas
//! copied in `data/standards/wcodm/` (HMRC's CDS `WCO_DEC_2_DMS.xsd`, the only published WCO
//! DM 3.6 declaration schemas Jinguan has); every field's element in docs/FORMATS.md "WCO Data
//! Model". Answers to a filing are a WCO `Response` ([`print_response`]).
//!
//! - Documents: `md:MetaData` (namespace [`NS_METADATA`]) holding one `Declaration`, as the
//!   HMRC samples are sent, or a bare `Declaration`; UTF-8 only. The `Declaration` element must be
//!   in [`NS_DEC`].
//! - Direction: `TypeCode` `IM…` import, `EX…` export; the third character is the form's
//!   `entry_type` (`IMM`: an import, paperless).
//! - Country codes: the profile takes ISO alpha-2 where the form has the customs table's
//!   alpha-3 ([`crate::iso3166`]); codes without an alpha-2 (the table's regions, `XAS`…) are
//!   printed as they are (such a document is not schema-valid).
//! - What the profile has no element for travels as a statement,
//!   `AdditionalInformation/StatementCode` one of [`STATEMENTS`] with the value in
//!   `StatementDescription` (Jinguan's codes, documented in docs/FORMATS.md).
//! - Header fields the profile holds only on goods items (`trade_mode`, `levy_nature`,
//!   `package_type`, `marks`) are printed on the first goods item and read from it.
//! - Values are copied, not judged: validation reports bad codes and numbers, and
//!   [`wco_path`] names their places in the document (`Declaration.GoodsShipment.Importer.ID`).
//! - Limits as for `DecMessage`: [`BYTES_MAX`], [`DEPTH_MAX`], [`ELEMENTS_MAX`]; no DOCTYPE;
//!   nothing panics on any input.

use domain::codes::Direction;
use domain::declaration::{
    ChargeForm, DeclarationForm, DocumentForm, ItemForm, NumberText, OverseasPartyForm, PartyForm,
    ITEMS_MAX,
};
use domain::Problem;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use crate::decmessage::escape;
use crate::iso3166;

/// The namespace of the declaration (`WCO_DEC_2_DMS.xsd`).
pub const NS_DEC: &str = "urn:wco:datamodel:WCO:DEC-DMS:2";
/// The namespace of the declaration's data types, where `DateTimeString` is
/// (`WCO_DS/WCO_DEC_DS_2_DMS.xsd`).
pub const NS_DS: &str = "urn:wco:datamodel:WCO:Declaration_DS:DMS:2";
/// The namespace of the metadata envelope (`DocumentMetaData_2_DMS.xsd`).
pub const NS_METADATA: &str = "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2";
/// The media type Jinguan reads and writes WCO documents under (docs/FORMATS.md).
pub const MEDIA_TYPE: &str = "application/vnd.wco.dm+xml";
/// Largest document accepted (1 MiB, as for the JSON form).
pub const BYTES_MAX: usize = 1024 * 1024;
/// Deepest nesting accepted (a declaration needs 8).
pub const DEPTH_MAX: usize = 32;
/// Most elements read.
pub const ELEMENTS_MAX: usize = 100_000;
/// Most attached documents read.
pub const DOCUMENTS_MAX: usize = 100;

/// Jinguan's statement codes (`AdditionalInformation/StatementCode`) for the fields the
/// profile has no element for: (code, JSON field; `items[].` for an item's).
pub const STATEMENTS: &[(&str, &str)] = &[
    ("TRADER-USCC", "trader.uscc"),
    ("OWNER-USCC", "owner.uscc"),
    ("AGENT-USCC", "agent.uscc"),
    ("IE-DATE", "ie_date"),
    ("VOYAGE-NO", "voyage_no"),
    ("DEST-PORT", "destination_port"),
    ("DOMESTIC-PORT", "domestic_port"),
    ("NET-WEIGHT", "net_weight_kg"),
    ("REMARKS", "remarks"),
    ("SPECIFICATION", "items[].specification"),
    ("DECLARED-QTY", "items[].declared_quantity"),
    ("DECLARED-UNIT", "items[].declared_unit"),
    ("SECOND-QTY", "items[].second_quantity"),
    ("SECOND-UNIT", "items[].second_unit"),
    ("UNIT-PRICE", "items[].unit_price"),
];

/// `AdditionalDocument/CategoryCode` of the header references (the form's attached documents
/// have none).
const CONTRACT: &str = "CT";
const LICENCE: &str = "LIC";
const RECORD: &str = "REC";
/// `PreviousDocument/TypeCode` of the bill of lading (category `Z`, as CDS uses it).
const BILL: &str = "705";
/// `Classification/IdentificationTypeCode` of the Chinese tariff code.
const HS: &str = "HS";
/// `ChargeDeduction/ChargesTypeCode` prefixes of the charges; the form's mark (1 rate,
/// 2 per unit, 3 total) follows: `FR3`.
const CHARGES: &[(&str, &str)] = &[
    ("FR", "freight"),
    ("IN", "insurance"),
    ("OC", "other_charges"),
];
/// The Chinese transaction terms codes that are Incoterms (`TradeTerms/ConditionCode`); the
/// others go to `TradeTerms/Description` as they are.
const INCOTERMS: &[(&str, &str)] = &[("1", "CIF"), ("2", "CFR"), ("3", "FOB"), ("7", "EXW")];

/// A WCO declaration as a filing: the form and `FunctionalReferenceID` (the trader's reference,
/// the idempotency key when the request gives none).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filing {
    pub form: DeclarationForm,
    pub client_seq_no: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Reading: the document as a tree

#[derive(Default, Debug)]
struct El {
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<El>,
}

impl El {
    fn child(&self, name: &str) -> Option<&El> {
        self.children.iter().find(|c| c.name == name)
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a El> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
    /// The trimmed text of the element at a path of child names; empty means absent.
    fn text(&self, path: &[&str]) -> Option<String> {
        let mut el = self;
        for name in path {
            el = el.child(name)?;
        }
        let t = el.text.trim();
        (!t.is_empty()).then(|| t.to_owned())
    }
    fn attr(&self, path: &[&str], attr: &str) -> Option<String> {
        let mut el = self;
        for name in path {
            el = el.child(name)?;
        }
        el.attrs
            .iter()
            .find(|(k, _)| k == attr)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }
}

fn whole(code: &'static str, zh: impl Into<String>, en: impl Into<String>) -> Vec<Problem> {
    vec![Problem::new("", code, zh, en)]
}

fn not_xml(at: u64, why: &str) -> Vec<Problem> {
    whole(
        "not_xml",
        format!("不是合法的 XML（约第 {at} 字节）：{why}"),
        format!("not well-formed XML (near byte {at}): {why}"),
    )
}

/// Read the document into a tree; the root's namespace with it.
fn tree(bytes: &[u8]) -> Result<(El, Option<String>), Vec<Problem>> {
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
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if std::str::from_utf8(bytes).is_err() {
        return Err(whole(
            "encoding",
            "WCO 报关单须为 UTF-8 编码",
            "a WCO declaration must be UTF-8",
        ));
    }
    let mut reader = NsReader::from_reader(bytes);
    let config = reader.config_mut();
    config.check_end_names = true;
    config.check_comments = true;
    config.expand_empty_elements = true;

    let mut stack: Vec<El> = Vec::new();
    let mut root: Option<(El, Option<String>)> = None;
    let mut root_ns: Option<String> = None;
    let mut count = 0usize;
    loop {
        let (ns, event) = match reader.read_resolved_event() {
            Ok((ns, event)) => {
                // Owned at once: the resolved namespace borrows the reader.
                let ns = match (&event, ns) {
                    (Event::Start(_), ResolveResult::Bound(n)) => {
                        Some(String::from_utf8_lossy(n.as_ref()).into_owned())
                    }
                    _ => None,
                };
                (ns, event)
            }
            Err(e) => return Err(not_xml(reader.error_position(), &e.to_string())),
        };
        match event {
            Event::Decl(decl) => {
                if let Some(Ok(label)) = decl.encoding() {
                    let label = String::from_utf8_lossy(&label).to_ascii_lowercase();
                    if label != "utf-8" && label != "utf8" {
                        return Err(whole(
                            "encoding",
                            format!("WCO 报关单须为 UTF-8 编码，而不是 {label}"),
                            format!("a WCO declaration must be UTF-8, not {label}"),
                        ));
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
            Event::Start(start) => {
                if root.is_some() {
                    return Err(not_xml(reader.buffer_position(), "content after the root"));
                }
                count += 1;
                if stack.len() >= DEPTH_MAX || count > ELEMENTS_MAX {
                    return Err(whole(
                        "too_deep",
                        format!("元素嵌套超过 {DEPTH_MAX} 层或多于 {ELEMENTS_MAX} 个"),
                        format!(
                            "elements nested deeper than {DEPTH_MAX} levels or more than {ELEMENTS_MAX}"
                        ),
                    ));
                }
                if stack.is_empty() {
                    root_ns.clone_from(&ns);
                }
                // Only the namespace of `Declaration` matters: remember it as an attribute.
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let mut el = El {
                    name,
                    ..El::default()
                };
                if el.name == "Declaration" {
                    if let Some(n) = ns {
                        el.attrs.push((" ns".into(), n));
                    }
                }
                for a in start.attributes() {
                    let a = match a {
                        Ok(a) => a,
                        Err(e) => return Err(not_xml(reader.buffer_position(), &e.to_string())),
                    };
                    let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
                    let value = match a.decode_and_unescape_value(reader.decoder()) {
                        Ok(v) => v.into_owned(),
                        Err(e) => return Err(not_xml(reader.buffer_position(), &e.to_string())),
                    };
                    el.attrs.push((key, value));
                }
                stack.push(el);
            }
            Event::End(_) => {
                let Some(el) = stack.pop() else {
                    return Err(not_xml(reader.buffer_position(), "unexpected end tag"));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(el),
                    None => root = Some((el, root_ns.take())),
                }
            }
            Event::Empty(_) => {} // expanded into Start and End
            Event::Text(t) => match stack.last_mut() {
                Some(el) => match t.decode() {
                    Ok(s) => el.text.push_str(&s),
                    Err(e) => return Err(not_xml(reader.buffer_position(), &e.to_string())),
                },
                None if t.iter().all(u8::is_ascii_whitespace) => {}
                None => return Err(not_xml(reader.buffer_position(), "text outside the root")),
            },
            Event::CData(c) => match (stack.last_mut(), c.decode()) {
                (Some(el), Ok(s)) => el.text.push_str(&s),
                _ => return Err(not_xml(reader.buffer_position(), "CDATA outside the root")),
            },
            Event::GeneralRef(r) => {
                let resolved: Option<String> = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten().map(|c| c.to_string())
                } else {
                    r.decode()
                        .ok()
                        .and_then(|n| quick_xml::escape::resolve_predefined_entity(&n))
                        .map(str::to_owned)
                };
                match (resolved, stack.last_mut()) {
                    (Some(s), Some(el)) => el.text.push_str(&s),
                    _ => {
                        let name = String::from_utf8_lossy(&r).into_owned();
                        return Err(not_xml(
                            reader.buffer_position(),
                            &format!("unknown or invalid entity reference &{name};"),
                        ));
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    match root {
        Some(r) if stack.is_empty() => Ok(r),
        _ => Err(not_xml(
            reader.buffer_position(),
            "the document ends early (an element is not closed, or there is no root)",
        )),
    }
}

/// The `Declaration` element of a document.
fn declaration<'a>(root: &'a El, root_ns: Option<&str>) -> Result<&'a El, Vec<Problem>> {
    let decl = if root.name == "MetaData" {
        if root_ns.is_some_and(|n| n != NS_METADATA) {
            return Err(whole(
                "namespace",
                format!("MetaData 须在命名空间 {NS_METADATA} 中"),
                format!("MetaData must be in the namespace {NS_METADATA}"),
            ));
        }
        let mut decls = root.all("Declaration");
        let Some(d) = decls.next() else {
            return Err(vec![Problem::new(
                "MetaData.Declaration",
                "required",
                "MetaData 中缺少 Declaration",
                "MetaData holds no Declaration",
            )]);
        };
        if decls.next().is_some() {
            return Err(vec![Problem::new(
                "MetaData.Declaration",
                "duplicate",
                "一份申报须为一个 Declaration",
                "a filing is one Declaration",
            )]);
        }
        d
    } else if root.name == "Declaration" {
        root
    } else {
        return Err(whole(
            "root",
            format!(
                "根元素须为 MetaData 或 Declaration（WCO 数据模型报关单），而不是 {}",
                root.name
            ),
            format!(
                "the root element must be MetaData or Declaration (a WCO Data Model declaration), not {}",
                root.name
            ),
        ));
    };
    let ns = decl
        .attrs
        .iter()
        .find(|(k, _)| k == " ns")
        .map(|(_, v)| v.as_str());
    if ns != Some(NS_DEC) {
        return Err(vec![Problem::new(
            "Declaration",
            "namespace",
            format!("Declaration 须在命名空间 {NS_DEC} 中"),
            format!("Declaration must be in the namespace {NS_DEC}"),
        )]);
    }
    Ok(decl)
}

/// Read a WCO declaration.
pub fn parse(bytes: &[u8]) -> Result<DeclarationForm, Vec<Problem>> {
    parse_filing(bytes).map(|f| f.form)
}

/// Read a WCO declaration filed to `POST /api/declarations`: the form and
/// `FunctionalReferenceID`.
pub fn parse_filing(bytes: &[u8]) -> Result<Filing, Vec<Problem>> {
    let (root, ns) = tree(bytes)?;
    let d = declaration(&root, ns.as_deref())?;
    let form = map(d)?;
    Ok(Filing {
        form,
        client_seq_no: d.text(&["FunctionalReferenceID"]),
    })
}

/// `CCYYMMDD` (with or without a time) → `YYYY-MM-DD`; anything else as it is.
fn iso_date(v: String) -> String {
    let b = v.as_bytes();
    if b.len() >= 8 && b[..8].iter().all(u8::is_ascii_digit) {
        return format!("{}-{}-{}", &v[0..4], &v[4..6], &v[6..8]);
    }
    v
}

/// `YYYY-MM-DD` → `CCYYMMDD`; anything else as it is.
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

/// A country code as printed: alpha-2 where the alpha-3 has one.
fn country_out(v: &str) -> String {
    iso3166::alpha2(v).map_or_else(|| v.to_owned(), str::to_owned)
}

/// A country code as read: alpha-3 where an alpha-2 is known.
fn country_in(v: Option<String>) -> Option<String> {
    v.map(|v| iso3166::alpha3(&v).map_or(v, str::to_owned))
}

fn statements(el: &El) -> Vec<(String, Option<String>)> {
    el.all("AdditionalInformation")
        .filter_map(|s| {
            Some((
                s.text(&["StatementCode"])?,
                s.text(&["StatementDescription"]),
            ))
        })
        .collect()
}

fn statement(list: &[(String, Option<String>)], code: &str) -> Option<String> {
    list.iter()
        .find(|(c, _)| c == code)
        .and_then(|(_, v)| v.clone())
}

fn party(el: Option<&El>) -> Option<PartyForm> {
    let el = el?;
    let p = PartyForm {
        name: el.text(&["Name"]),
        uscc: None,
        customs_code: el.text(&["ID"]),
    };
    (p != PartyForm::default()).then_some(p)
}

fn with_uscc(p: Option<PartyForm>, uscc: Option<String>) -> Option<PartyForm> {
    match (p, uscc) {
        (p, None) => p,
        (p, Some(u)) => Some(PartyForm {
            uscc: Some(u),
            ..p.unwrap_or_default()
        }),
    }
}

fn number(v: Option<String>) -> Option<NumberText> {
    v.map(NumberText::new)
}

fn map(d: &El) -> Result<DeclarationForm, Vec<Problem>> {
    let type_code = d.text(&["TypeCode"]);
    let (direction, entry_type) = match type_code.as_deref() {
        Some(t) if t.starts_with("IM") => (Some(Direction::Import), &t[2..]),
        Some(t) if t.starts_with("EX") => (Some(Direction::Export), &t[2..]),
        Some(t) => (None, t),
        None => (None, ""),
    };
    let export = direction == Some(Direction::Export);
    let entry_type = (!entry_type.is_empty()).then(|| entry_type.to_owned());
    let s = statements(d);
    let empty = El::default();
    let g = d.child("GoodsShipment").unwrap_or(&empty);

    let mut documents = Vec::new();
    let (mut contract_no, mut licence_no, mut record_no) = (None, None, None);
    for doc in d.all("AdditionalDocument") {
        match doc.text(&["CategoryCode"]).as_deref() {
            None => {
                if documents.len() >= DOCUMENTS_MAX {
                    return Err(vec![Problem::new(
                        "Declaration.AdditionalDocument",
                        "too_many",
                        format!("随附单证超过 {DOCUMENTS_MAX} 个"),
                        format!("more than {DOCUMENTS_MAX} documents"),
                    )]);
                }
                documents.push(DocumentForm {
                    code: doc.text(&["TypeCode"]),
                    number: doc.text(&["ID"]),
                });
            }
            Some(CONTRACT) => contract_no = contract_no.or(doc.text(&["ID"])),
            Some(LICENCE) => licence_no = licence_no.or(doc.text(&["ID"])),
            Some(RECORD) => record_no = record_no.or(doc.text(&["ID"])),
            Some(_) => {}
        }
    }

    // The overseas party and the trader, by direction.
    let (overseas_el, trader_el, owner_el) = if export {
        (
            g.child("Consignee"),
            d.child("Exporter"),
            g.child("Consignor"),
        )
    } else {
        (
            d.child("Exporter"),
            g.child("Importer"),
            g.child("Consignee"),
        )
    };
    let trading_country = overseas_el.and_then(|o| o.text(&["Address", "CountryCode"]));
    let overseas_party = overseas_el.and_then(|o| {
        let p = OverseasPartyForm {
            code: o.text(&["ID"]),
            name: o.text(&["Name"]),
            address: o.text(&["Address", "Line"]),
        };
        (p != OverseasPartyForm::default()).then_some(p)
    });
    let dispatch_country = if export {
        g.text(&["Destination", "CountryCode"])
    } else {
        g.text(&["ExportCountry", "ID"])
    };

    let charge = |prefix: &str| -> Option<ChargeForm> {
        let cv = g.child("CustomsValuation")?;
        let c = cv.all("ChargeDeduction").find(|c| {
            c.text(&["ChargesTypeCode"])
                .is_some_and(|t| t.starts_with(prefix))
        })?;
        let mark = c
            .text(&["ChargesTypeCode"])
            .map(|t| t[prefix.len()..].to_owned())
            .filter(|m| !m.is_empty());
        Some(ChargeForm {
            mark,
            value: number(c.text(&["OtherChargeDeductionAmount"])),
            currency: c.attr(&["OtherChargeDeductionAmount"], "currencyID"),
        })
    };

    let transaction_terms = g
        .child("TradeTerms")
        .and_then(|t| match t.text(&["ConditionCode"]) {
            Some(c) => Some(
                INCOTERMS
                    .iter()
                    .find(|(_, i)| *i == c)
                    .map_or(c, |(code, _)| (*code).to_owned()),
            ),
            None => t.text(&["Description"]),
        });

    let bill_no = g
        .all("PreviousDocument")
        .find(|p| p.text(&["TypeCode"]).as_deref() == Some(BILL))
        .and_then(|p| p.text(&["ID"]));

    let item_els: Vec<&El> = g.all("GovernmentAgencyGoodsItem").collect();
    if item_els.len() > ITEMS_MAX {
        return Err(vec![Problem::new(
            "Declaration.GoodsShipment.GovernmentAgencyGoodsItem",
            "too_many",
            format!("商品项超过 {ITEMS_MAX} 项"),
            format!("more than {ITEMS_MAX} goods items"),
        )]);
    }
    let first = item_els.first().copied();
    let procedures: Vec<&El> = first
        .map(|f| f.all("GovernmentProcedure").collect())
        .unwrap_or_default();
    let packaging = first.and_then(|f| f.child("Packaging"));
    let items = item_els.iter().map(|el| item(el, export)).collect();

    Ok(DeclarationForm {
        direction: direction.map(|d| {
            match d {
                Direction::Import => "import",
                Direction::Export => "export",
            }
            .to_owned()
        }),
        declaration_office: d.text(&["DeclarationOfficeID"]),
        entry_exit_office: if export {
            d.text(&["ExitOffice", "ID"])
        } else {
            d.text(&["PresentationOffice", "ID"])
        },
        record_no,
        contract_no,
        ie_date: g
            .text(&["ExitDateTime", "DateTimeString"])
            .or_else(|| statement(&s, "IE-DATE"))
            .map(iso_date),
        declaration_date: d.text(&["IssueDateTime", "DateTimeString"]).map(iso_date),
        trader: with_uscc(party(trader_el), statement(&s, "TRADER-USCC")),
        overseas_party,
        owner: with_uscc(party(owner_el), statement(&s, "OWNER-USCC")),
        agent: with_uscc(party(d.child("Agent")), statement(&s, "AGENT-USCC")),
        transport_mode: d.text(&["BorderTransportMeans", "ModeCode"]),
        vessel: d.text(&["BorderTransportMeans", "Name"]),
        voyage_no: statement(&s, "VOYAGE-NO"),
        bill_no,
        goods_place: g.text(&["Consignment", "GoodsLocation", "Name"]),
        trade_mode: procedures.first().and_then(|p| p.text(&["CurrentCode"])),
        levy_nature: procedures.get(1).and_then(|p| p.text(&["CurrentCode"])),
        licence_no,
        loading_port: g.text(&["Consignment", "LoadingLocation", "ID"]),
        destination_port: statement(&s, "DEST-PORT"),
        trading_country: country_in(trading_country),
        dispatch_country: country_in(dispatch_country),
        domestic_port: statement(&s, "DOMESTIC-PORT"),
        package_type: packaging.and_then(|p| p.text(&["TypeCode"])),
        packages: number(d.text(&["TotalPackageQuantity"])),
        gross_weight_kg: number(d.text(&["TotalGrossMassMeasure"])),
        net_weight_kg: number(statement(&s, "NET-WEIGHT")),
        transaction_terms,
        freight: charge(CHARGES[0].0),
        insurance: charge(CHARGES[1].0),
        other_charges: charge(CHARGES[2].0),
        documents,
        marks: packaging.and_then(|p| p.text(&["MarksNumbersID"])),
        remarks: statement(&s, "REMARKS"),
        entry_type,
        buyer: None,
        items,
    })
}

fn item(el: &El, export: bool) -> ItemForm {
    let s = statements(el);
    let commodity = el.child("Commodity");
    let text = |path: &[&str]| commodity.and_then(|c| c.text(path));
    let hs = commodity.and_then(|c| {
        c.all("Classification")
            .find(|k| {
                matches!(
                    k.text(&["IdentificationTypeCode"]).as_deref(),
                    Some(HS) | None
                )
            })
            .and_then(|k| k.text(&["ID"]))
    });
    let origin = el.child("Origin");
    let destination = el.child("Destination");
    ItemForm {
        item_no: number(el.text(&["SequenceNumeric"])),
        record_item: el
            .all("AdditionalDocument")
            .find(|a| a.text(&["CategoryCode"]).as_deref() == Some(RECORD))
            .and_then(|a| a.text(&["ID"])),
        commodity_code: hs,
        name: text(&["Description"]),
        specification: statement(&s, "SPECIFICATION"),
        declared_quantity: number(statement(&s, "DECLARED-QTY")),
        declared_unit: statement(&s, "DECLARED-UNIT"),
        first_quantity: number(text(&["GoodsMeasure", "TariffQuantity"])),
        first_unit: commodity.and_then(|c| c.attr(&["GoodsMeasure", "TariffQuantity"], "unitCode")),
        second_quantity: number(statement(&s, "SECOND-QTY")),
        second_unit: statement(&s, "SECOND-UNIT"),
        unit_price: number(statement(&s, "UNIT-PRICE")),
        total_price: number(text(&["InvoiceLine", "ItemChargeAmount"])),
        currency: commodity
            .and_then(|c| c.attr(&["InvoiceLine", "ItemChargeAmount"], "currencyID")),
        origin_country: country_in(origin.and_then(|o| o.text(&["CountryCode"]))),
        destination_country: country_in(destination.and_then(|o| o.text(&["CountryCode"]))),
        district: if export {
            origin.and_then(|o| o.text(&["RegionID"]))
        } else {
            destination.and_then(|o| o.text(&["RegionID"]))
        },
        duty_treatment: text(&["DutyTaxFee", "DutyRegimeCode"]),
        producer: None,
        origin_proof: None,
        quota_certificate_no: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Printing

struct Out {
    s: String,
    depth: usize,
}

impl Out {
    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.s.push_str("  ");
        }
    }
    fn open(&mut self, name: &str) {
        self.indent();
        self.s.push('<');
        self.s.push_str(name);
        self.s.push_str(">\n");
        self.depth += 1;
    }
    fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.s.push_str("</");
        self.s.push_str(name);
        self.s.push_str(">\n");
    }
    /// A leaf when it has a value.
    fn leaf<S: AsRef<str>>(&mut self, name: &str, value: Option<S>) {
        if let Some(v) = value {
            self.leaf_attr(name, None, Some(v));
        }
    }
    /// A leaf with an optional attribute; written when either has a value (an empty element
    /// when only the attribute has).
    fn leaf_attr<S: AsRef<str>>(
        &mut self,
        name: &str,
        attr: Option<(&str, &str)>,
        value: Option<S>,
    ) {
        if attr.is_none() && value.is_none() {
            return;
        }
        let value = value.as_ref().map_or("", AsRef::as_ref);
        self.indent();
        self.s.push('<');
        self.s.push_str(name);
        if let Some((k, v)) = attr {
            self.s.push(' ');
            self.s.push_str(k);
            self.s.push_str("=\"");
            self.s.push_str(&escape(v));
            self.s.push('"');
        }
        self.s.push('>');
        self.s.push_str(&escape(value));
        self.s.push_str("</");
        self.s.push_str(name);
        self.s.push_str(">\n");
    }
    fn statement(&mut self, code: &str, value: Option<&str>) {
        if value.is_some() {
            self.open("AdditionalInformation");
            self.leaf("StatementCode", Some(code));
            self.leaf("StatementDescription", value);
            self.close("AdditionalInformation");
        }
    }
    fn document(&mut self, category: &str, id: Option<&str>) {
        if id.is_some() {
            self.open("AdditionalDocument");
            self.leaf("CategoryCode", Some(category));
            self.leaf("ID", id);
            self.close("AdditionalDocument");
        }
    }
    /// A party of the profile: `Name`, `ID`, and an address (`CountryCode`, `Line`).
    fn party(
        &mut self,
        element: &str,
        name: Option<&str>,
        id: Option<&str>,
        country: Option<&str>,
        line: Option<&str>,
    ) {
        if name.is_none() && id.is_none() && country.is_none() && line.is_none() {
            return;
        }
        self.open(element);
        self.leaf("Name", name);
        self.leaf("ID", id);
        if country.is_some() || line.is_some() {
            self.open("Address");
            self.leaf("CountryCode", country.map(country_out).as_deref());
            self.leaf("Line", line);
            self.close("Address");
        }
        self.close(element);
    }
    fn domestic(&mut self, element: &str, p: Option<&PartyForm>) {
        if let Some(p) = p {
            self.party(
                element,
                p.name.as_deref(),
                p.customs_code.as_deref(),
                None,
                None,
            );
        }
    }
}

fn num(n: &Option<NumberText>) -> Option<&str> {
    n.as_ref().map(NumberText::as_str)
}

/// The form as a WCO DM 3.6 declaration in `md:MetaData` (UTF-8), with
/// `FunctionalReferenceID` when a client sequence number is given. Elements are written only
/// for what the form holds (an item's `SequenceNumeric`, required by the schema, is written
/// empty when the item has no number). What the profile has no element for goes as
/// statements ([`STATEMENTS`]); [`crate::decmessage::unprintable`] lists what is not written
/// at all (`buyer`, an item's `producer`, `origin_proof`, `quota_certificate_no`).
pub fn print(form: &DeclarationForm, client_seq_no: Option<&str>) -> String {
    let export = form.direction.as_deref() == Some("export");
    let mut o = Out {
        s: String::with_capacity(8192),
        depth: 0,
    };
    o.s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.s.push_str(&format!(
        "<md:MetaData xmlns:md=\"{NS_METADATA}\" xmlns=\"{NS_DEC}\" xmlns:ds=\"{NS_DS}\">\n"
    ));
    o.depth = 1;
    o.leaf("md:WCODataModelVersionCode", Some("3.6"));
    o.leaf("md:WCOTypeName", Some("DEC"));
    o.leaf("md:ResponsibleCountryCode", Some("CN"));
    o.leaf("md:ResponsibleAgencyName", Some("GACC"));
    o.open("Declaration");
    o.leaf("FunctionCode", Some("9"));
    o.leaf("FunctionalReferenceID", client_seq_no);
    if let Some(d) = &form.declaration_date {
        o.open("IssueDateTime");
        o.leaf_attr(
            "ds:DateTimeString",
            Some(("formatCode", "102")),
            Some(&compact_date(d)),
        );
        o.close("IssueDateTime");
    }
    let prefix = match form.direction.as_deref() {
        Some("import") => "IM",
        Some("export") => "EX",
        _ => "",
    };
    let type_code = format!("{prefix}{}", form.entry_type.as_deref().unwrap_or(""));
    o.leaf("TypeCode", (!type_code.is_empty()).then_some(&type_code));
    let count = form.items.len().to_string();
    o.leaf(
        "GoodsItemQuantity",
        (!form.items.is_empty()).then_some(&count),
    );
    o.leaf("DeclarationOfficeID", form.declaration_office.as_deref());
    o.leaf("TotalGrossMassMeasure", num(&form.gross_weight_kg));
    o.leaf("TotalPackageQuantity", num(&form.packages));
    for doc in &form.documents {
        o.open("AdditionalDocument");
        o.leaf("ID", doc.number.as_deref());
        o.leaf("TypeCode", doc.code.as_deref());
        o.close("AdditionalDocument");
    }
    o.document(CONTRACT, form.contract_no.as_deref());
    o.document(LICENCE, form.licence_no.as_deref());
    o.document(RECORD, form.record_no.as_deref());
    fn uscc(p: &Option<PartyForm>) -> Option<&str> {
        p.as_ref().and_then(|p| p.uscc.as_deref())
    }
    o.statement("TRADER-USCC", uscc(&form.trader));
    o.statement("OWNER-USCC", uscc(&form.owner));
    o.statement("AGENT-USCC", uscc(&form.agent));
    if !export {
        o.statement(
            "IE-DATE",
            form.ie_date.as_deref().map(compact_date).as_deref(),
        );
    }
    o.statement("VOYAGE-NO", form.voyage_no.as_deref());
    o.statement("DEST-PORT", form.destination_port.as_deref());
    o.statement("DOMESTIC-PORT", form.domestic_port.as_deref());
    o.statement("NET-WEIGHT", num(&form.net_weight_kg));
    o.statement("REMARKS", form.remarks.as_deref());
    o.domestic("Agent", form.agent.as_ref());
    if form.vessel.is_some() || form.transport_mode.is_some() {
        o.open("BorderTransportMeans");
        o.leaf("Name", form.vessel.as_deref());
        o.leaf("ModeCode", form.transport_mode.as_deref());
        o.close("BorderTransportMeans");
    }
    let overseas = |o: &mut Out, element: &str| {
        let p = form.overseas_party.clone().unwrap_or_default();
        o.party(
            element,
            p.name.as_deref(),
            p.code.as_deref(),
            form.trading_country.as_deref(),
            p.address.as_deref(),
        );
    };
    if export {
        if let Some(office) = &form.entry_exit_office {
            o.open("ExitOffice");
            o.leaf("ID", Some(office));
            o.close("ExitOffice");
        }
        o.domestic("Exporter", form.trader.as_ref());
    } else {
        overseas(&mut o, "Exporter");
    }

    o.open("GoodsShipment");
    if export {
        if let Some(d) = &form.ie_date {
            o.open("ExitDateTime");
            o.leaf_attr(
                "ds:DateTimeString",
                Some(("formatCode", "102")),
                Some(&compact_date(d)),
            );
            o.close("ExitDateTime");
        }
        overseas(&mut o, "Consignee");
    } else {
        o.domestic("Consignee", form.owner.as_ref());
    }
    if form.goods_place.is_some() || form.loading_port.is_some() {
        o.open("Consignment");
        if form.goods_place.is_some() {
            o.open("GoodsLocation");
            o.leaf("Name", form.goods_place.as_deref());
            o.close("GoodsLocation");
        }
        if form.loading_port.is_some() {
            o.open("LoadingLocation");
            o.leaf("ID", form.loading_port.as_deref());
            o.close("LoadingLocation");
        }
        o.close("Consignment");
    }
    if export {
        o.domestic("Consignor", form.owner.as_ref());
    }
    let charges = [&form.freight, &form.insurance, &form.other_charges];
    if charges.iter().any(|c| c.is_some()) {
        o.open("CustomsValuation");
        for ((prefix, _), c) in CHARGES.iter().zip(charges) {
            let Some(c) = c else { continue };
            o.open("ChargeDeduction");
            o.leaf(
                "ChargesTypeCode",
                Some(&format!("{prefix}{}", c.mark.as_deref().unwrap_or(""))),
            );
            o.leaf_attr(
                "OtherChargeDeductionAmount",
                c.currency.as_deref().map(|v| ("currencyID", v)),
                num(&c.value),
            );
            o.close("ChargeDeduction");
        }
        o.close("CustomsValuation");
    }
    let dispatch = form.dispatch_country.as_deref().map(country_out);
    if export && dispatch.is_some() {
        o.open("Destination");
        o.leaf("CountryCode", dispatch.as_deref());
        o.close("Destination");
    }
    if !export && dispatch.is_some() {
        o.open("ExportCountry");
        o.leaf("ID", dispatch.as_deref());
        o.close("ExportCountry");
    }
    for (i, item) in form.items.iter().enumerate() {
        print_item(&mut o, form, item, i == 0, export);
    }
    if !export {
        o.domestic("Importer", form.trader.as_ref());
    }
    if form.bill_no.is_some() {
        o.open("PreviousDocument");
        o.leaf("CategoryCode", Some("Z"));
        o.leaf("ID", form.bill_no.as_deref());
        o.leaf("TypeCode", Some(BILL));
        o.close("PreviousDocument");
    }
    if let Some(t) = &form.transaction_terms {
        o.open("TradeTerms");
        match INCOTERMS.iter().find(|(code, _)| code == t) {
            Some((_, incoterm)) => o.leaf("ConditionCode", Some(incoterm)),
            None => o.leaf("Description", Some(t)),
        }
        o.close("TradeTerms");
    }
    o.close("GoodsShipment");
    if !export {
        if let Some(office) = &form.entry_exit_office {
            o.open("PresentationOffice");
            o.leaf("ID", Some(office));
            o.close("PresentationOffice");
        }
    }
    o.close("Declaration");
    o.s.push_str("</md:MetaData>\n");
    o.s
}

fn print_item(o: &mut Out, form: &DeclarationForm, item: &ItemForm, first: bool, export: bool) {
    o.open("GovernmentAgencyGoodsItem");
    o.leaf_attr(
        "SequenceNumeric",
        None,
        Some(num(&item.item_no).unwrap_or("")),
    );
    o.document(RECORD, item.record_item.as_deref());
    o.statement("SPECIFICATION", item.specification.as_deref());
    o.statement("DECLARED-QTY", num(&item.declared_quantity));
    o.statement("DECLARED-UNIT", item.declared_unit.as_deref());
    o.statement("SECOND-QTY", num(&item.second_quantity));
    o.statement("SECOND-UNIT", item.second_unit.as_deref());
    o.statement("UNIT-PRICE", num(&item.unit_price));
    o.open("Commodity");
    o.leaf("Description", item.name.as_deref());
    if item.commodity_code.is_some() {
        o.open("Classification");
        o.leaf("ID", item.commodity_code.as_deref());
        o.leaf("IdentificationTypeCode", Some(HS));
        o.close("Classification");
    }
    if item.duty_treatment.is_some() {
        o.open("DutyTaxFee");
        o.leaf("DutyRegimeCode", item.duty_treatment.as_deref());
        o.close("DutyTaxFee");
    }
    if item.first_quantity.is_some() || item.first_unit.is_some() {
        o.open("GoodsMeasure");
        o.leaf_attr(
            "TariffQuantity",
            item.first_unit.as_deref().map(|u| ("unitCode", u)),
            num(&item.first_quantity),
        );
        o.close("GoodsMeasure");
    }
    if item.total_price.is_some() || item.currency.is_some() {
        o.open("InvoiceLine");
        o.leaf_attr(
            "ItemChargeAmount",
            item.currency.as_deref().map(|c| ("currencyID", c)),
            num(&item.total_price),
        );
        o.close("InvoiceLine");
    }
    o.close("Commodity");
    let district = item.district.as_deref();
    let dest = item.destination_country.as_deref().map(country_out);
    let dest_region = if export { None } else { district };
    if dest.is_some() || dest_region.is_some() {
        o.open("Destination");
        o.leaf("CountryCode", dest.as_deref());
        o.leaf("RegionID", dest_region);
        o.close("Destination");
    }
    if first && (form.trade_mode.is_some() || form.levy_nature.is_some()) {
        o.open("GovernmentProcedure");
        o.leaf("CurrentCode", form.trade_mode.as_deref());
        o.close("GovernmentProcedure");
        if form.levy_nature.is_some() {
            o.open("GovernmentProcedure");
            o.leaf("CurrentCode", form.levy_nature.as_deref());
            o.close("GovernmentProcedure");
        }
    }
    let origin = item.origin_country.as_deref().map(country_out);
    let origin_region = if export { district } else { None };
    if origin.is_some() || origin_region.is_some() {
        o.open("Origin");
        o.leaf("CountryCode", origin.as_deref());
        o.leaf("RegionID", origin_region);
        o.close("Origin");
    }
    if first && (form.marks.is_some() || form.package_type.is_some()) {
        o.open("Packaging");
        o.leaf("SequenceNumeric", Some("1"));
        o.leaf("MarksNumbersID", form.marks.as_deref());
        o.leaf("TypeCode", form.package_type.as_deref());
        o.close("Packaging");
    }
    o.close("GovernmentAgencyGoodsItem");
}

// ---------------------------------------------------------------------------------------------
// Places in answers

const D: &str = "Declaration";
const G: &str = "Declaration.GoodsShipment";
const ITEM: &str = "Declaration.GoodsShipment.GovernmentAgencyGoodsItem";

fn stmt(code: &str) -> String {
    format!("{D}.AdditionalInformation[{code}].StatementDescription")
}

/// The place in a WCO declaration of a field of the JSON form (as validation names it:
/// `trader.uscc`, `items[2].commodity_code`, `documents[0].code`), for answering a filing in
/// the document's own terms: `Declaration.GoodsShipment.Importer.ID`,
/// `Declaration.GoodsShipment.GovernmentAgencyGoodsItem[2].Commodity.Classification.ID`; a
/// statement is named by its code, `Declaration.AdditionalInformation[TRADER-USCC].StatementDescription`.
/// `None` when the document has no place for it (the caller keeps the JSON path).
pub fn wco_path(json_path: &str, direction: Option<Direction>) -> Option<String> {
    let export = direction == Some(Direction::Export);
    let (object, field) = match json_path.split_once('.') {
        Some((o, f)) => (o, Some(f)),
        None => (json_path, None),
    };
    // Lists.
    if let Some(rest) = object.strip_prefix("items[") {
        let (index, _) = rest.split_once(']')?;
        let i: usize = index.parse().ok()?;
        let at = format!("{ITEM}[{i}]");
        let item_stmt =
            |code: &str| format!("{at}.AdditionalInformation[{code}].StatementDescription");
        return Some(match field {
            None => at,
            Some("item_no") => format!("{at}.SequenceNumeric"),
            Some("record_item") => format!("{at}.AdditionalDocument[{RECORD}].ID"),
            Some("commodity_code") => format!("{at}.Commodity.Classification.ID"),
            Some("name") => format!("{at}.Commodity.Description"),
            Some("specification") => item_stmt("SPECIFICATION"),
            Some("declared_quantity") => item_stmt("DECLARED-QTY"),
            Some("declared_unit") => item_stmt("DECLARED-UNIT"),
            Some("first_quantity") => format!("{at}.Commodity.GoodsMeasure.TariffQuantity"),
            Some("first_unit") => format!("{at}.Commodity.GoodsMeasure.TariffQuantity@unitCode"),
            Some("second_quantity") => item_stmt("SECOND-QTY"),
            Some("second_unit") => item_stmt("SECOND-UNIT"),
            Some("unit_price") => item_stmt("UNIT-PRICE"),
            Some("total_price") => format!("{at}.Commodity.InvoiceLine.ItemChargeAmount"),
            Some("currency") => format!("{at}.Commodity.InvoiceLine.ItemChargeAmount@currencyID"),
            Some("origin_country") => format!("{at}.Origin.CountryCode"),
            Some("destination_country") => format!("{at}.Destination.CountryCode"),
            Some("district") if export => format!("{at}.Origin.RegionID"),
            Some("district") => format!("{at}.Destination.RegionID"),
            Some("duty_treatment") => format!("{at}.Commodity.DutyTaxFee.DutyRegimeCode"),
            Some(_) => return None,
        });
    }
    if let Some(rest) = object.strip_prefix("documents[") {
        let (index, _) = rest.split_once(']')?;
        let i: usize = index.parse().ok()?;
        let at = format!("{D}.AdditionalDocument[{i}]");
        return Some(match field {
            None => at,
            Some("code") => format!("{at}.TypeCode"),
            Some("number") => format!("{at}.ID"),
            Some(_) => return None,
        });
    }
    let first = format!("{ITEM}[0]");
    let party_el = |role: &str| -> &'static str {
        match (role, export) {
            ("trader", false) => "Declaration.GoodsShipment.Importer",
            ("trader", true) => "Declaration.Exporter",
            ("owner", false) => "Declaration.GoodsShipment.Consignee",
            ("owner", true) => "Declaration.GoodsShipment.Consignor",
            ("overseas_party", false) => "Declaration.Exporter",
            ("overseas_party", true) => "Declaration.GoodsShipment.Consignee",
            _ => "Declaration.Agent",
        }
    };
    if matches!(object, "trader" | "owner" | "agent") {
        let el = party_el(object);
        return Some(match field {
            None | Some("name") => format!("{el}.Name"),
            Some("customs_code") => format!("{el}.ID"),
            Some("uscc") => stmt(&format!("{}-USCC", object.to_ascii_uppercase())),
            Some(_) => return None,
        });
    }
    if object == "overseas_party" {
        let el = party_el(object);
        return Some(match field {
            None | Some("name") => format!("{el}.Name"),
            Some("code") => format!("{el}.ID"),
            Some("address") => format!("{el}.Address.Line"),
            Some(_) => return None,
        });
    }
    if let Some((prefix, _)) = CHARGES.iter().find(|(_, json)| *json == object) {
        let at = format!("{G}.CustomsValuation.ChargeDeduction[{prefix}]");
        return Some(match field {
            None | Some("mark") => format!("{at}.ChargesTypeCode"),
            Some("value") => format!("{at}.OtherChargeDeductionAmount"),
            Some("currency") => format!("{at}.OtherChargeDeductionAmount@currencyID"),
            Some(_) => return None,
        });
    }
    if field.is_some() {
        return None;
    }
    Some(match object {
        "direction" | "entry_type" => format!("{D}.TypeCode"),
        "declaration_office" => format!("{D}.DeclarationOfficeID"),
        "entry_exit_office" if export => format!("{D}.ExitOffice.ID"),
        "entry_exit_office" => format!("{D}.PresentationOffice.ID"),
        "record_no" => format!("{D}.AdditionalDocument[{RECORD}].ID"),
        "contract_no" => format!("{D}.AdditionalDocument[{CONTRACT}].ID"),
        "licence_no" => format!("{D}.AdditionalDocument[{LICENCE}].ID"),
        "ie_date" if export => format!("{G}.ExitDateTime.DateTimeString"),
        "ie_date" => stmt("IE-DATE"),
        "declaration_date" => format!("{D}.IssueDateTime.DateTimeString"),
        "transport_mode" => format!("{D}.BorderTransportMeans.ModeCode"),
        "vessel" => format!("{D}.BorderTransportMeans.Name"),
        "voyage_no" => stmt("VOYAGE-NO"),
        "bill_no" => format!("{G}.PreviousDocument[{BILL}].ID"),
        "goods_place" => format!("{G}.Consignment.GoodsLocation.Name"),
        "trade_mode" => format!("{first}.GovernmentProcedure[0].CurrentCode"),
        "levy_nature" => format!("{first}.GovernmentProcedure[1].CurrentCode"),
        "loading_port" => format!("{G}.Consignment.LoadingLocation.ID"),
        "destination_port" => stmt("DEST-PORT"),
        "trading_country" => format!("{}.Address.CountryCode", party_el("overseas_party")),
        "dispatch_country" if export => format!("{G}.Destination.CountryCode"),
        "dispatch_country" => format!("{G}.ExportCountry.ID"),
        "domestic_port" => stmt("DOMESTIC-PORT"),
        "package_type" => format!("{first}.Packaging[0].TypeCode"),
        "packages" => format!("{D}.TotalPackageQuantity"),
        "gross_weight_kg" => format!("{D}.TotalGrossMassMeasure"),
        "net_weight_kg" => stmt("NET-WEIGHT"),
        "transaction_terms" => format!("{G}.TradeTerms.ConditionCode"),
        "marks" => format!("{first}.Packaging[0].MarksNumbersID"),
        "remarks" => stmt("REMARKS"),
        "items" => ITEM.to_owned(),
        "documents" => format!("{D}.AdditionalDocument"),
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Answers

/// An answer to a WCO filing, printed as a WCO `Response` ([`print_response`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub accepted: bool,
    /// The filing's `FunctionalReferenceID` (or `Client-Seq-No`).
    pub client_seq_no: Option<String>,
    pub pre_entry_no: Option<String>,
    pub declaration_no: Option<String>,
    /// The receipt channel of the status reached (`formats::receipt::channel`).
    pub channel: Option<String>,
    /// `CCYYMMDDhhmmss` UTC, written with format code 304 and `Z`.
    pub at: String,
    /// (place, code, English, Chinese) per problem.
    pub errors: Vec<(String, String, String, String)>,
}

/// A WCO DM 3.6 `Response` (`WCOTypeName` `RES`), shaped as HMRC's CDS notifications in
/// `data/standards/wcodm/` (Jinguan has no published schema for it): `FunctionCode` `01`
/// accepted or `03` rejected, `IssueDateTime` (304), one `Error` per problem (`ValidationCode`
/// the problem's code, `Description` in English then Chinese, `Pointer/Location` its place),
/// `Status/NameCode` the receipt channel, and `Declaration` with the trader's reference
/// (`FunctionalReferenceID`), the declaration number (`ID`) or the pre-entry number
/// (`AdditionalInformation` `PRE-ENTRY-NO`).
pub fn print_response(r: &Response) -> String {
    let mut o = Out {
        s: String::with_capacity(2048),
        depth: 0,
    };
    o.s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    o.open("MetaData");
    o.leaf("WCODataModelVersionCode", Some("3.6"));
    o.leaf("WCOTypeName", Some("RES"));
    o.leaf("ResponsibleCountryCode", Some("CN"));
    o.leaf("ResponsibleAgencyName", Some("GACC"));
    o.open("Response");
    o.leaf("FunctionCode", Some(if r.accepted { "01" } else { "03" }));
    o.leaf("FunctionalReferenceID", r.pre_entry_no.as_deref());
    o.open("IssueDateTime");
    o.leaf_attr(
        "DateTimeString",
        Some(("formatCode", "304")),
        Some(&format!("{}Z", r.at)),
    );
    o.close("IssueDateTime");
    for (place, code, en, zh) in &r.errors {
        o.open("Error");
        o.leaf("Description", Some(en));
        o.leaf_attr("Description", Some(("languageID", "zh")), Some(zh));
        o.leaf("ValidationCode", Some(code));
        if !place.is_empty() {
            o.open("Pointer");
            o.leaf("Location", Some(place));
            o.close("Pointer");
        }
        o.close("Error");
    }
    if let Some(c) = &r.channel {
        o.open("Status");
        o.leaf("NameCode", Some(c));
        o.close("Status");
    }
    o.open("Declaration");
    o.leaf("FunctionalReferenceID", r.client_seq_no.as_deref());
    o.leaf("ID", r.declaration_no.as_deref());
    o.statement("PRE-ENTRY-NO", r.pre_entry_no.as_deref());
    o.close("Declaration");
    o.close("Response");
    o.close("MetaData");
    o.s
}

/// Read a [`print_response`] document back (for tests and clients).
pub fn parse_response(bytes: &[u8]) -> Result<Response, Vec<Problem>> {
    let (root, _) = tree(bytes)?;
    let r = root.child("Response").ok_or_else(|| {
        vec![Problem::new(
            "MetaData.Response",
            "required",
            "缺少 Response",
            "no Response",
        )]
    })?;
    let decl = r.child("Declaration");
    let errors = r
        .all("Error")
        .map(|e| {
            let mut en = String::new();
            let mut zh = String::new();
            for d in e.all("Description") {
                if d.attrs.iter().any(|(k, v)| k == "languageID" && v == "zh") {
                    zh = d.text.trim().to_owned();
                } else {
                    en = d.text.trim().to_owned();
                }
            }
            (
                e.text(&["Pointer", "Location"]).unwrap_or_default(),
                e.text(&["ValidationCode"]).unwrap_or_default(),
                en,
                zh,
            )
        })
        .collect();
    Ok(Response {
        accepted: r.text(&["FunctionCode"]).as_deref() == Some("01"),
        client_seq_no: decl.and_then(|d| d.text(&["FunctionalReferenceID"])),
        pre_entry_no: decl
            .map(statements)
            .and_then(|s| statement(&s, "PRE-ENTRY-NO")),
        declaration_no: decl.and_then(|d| d.text(&["ID"])),
        channel: r.text(&["Status", "NameCode"]),
        at: r
            .text(&["IssueDateTime", "DateTimeString"])
            .map(|t| t.trim_end_matches('Z').to_owned())
            .unwrap_or_default(),
        errors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_countries() {
        assert_eq!(compact_date("2025-03-10"), "20250310");
        assert_eq!(iso_date("20250310".into()), "2025-03-10");
        assert_eq!(iso_date("2025031".into()), "2025031");
        assert_eq!(country_out("USA"), "US");
        assert_eq!(country_out("XAS"), "XAS");
        assert_eq!(country_in(Some("US".into())).as_deref(), Some("USA"));
    }
}
