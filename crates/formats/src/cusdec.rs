//! UN/EDIFACT D.96B `CUSDEC` (customs declaration) read into the JSON form and printed from
//! it, and `CUSRES` (customs response) printed and read: Jinguan's profile of the messages,
//! every field's segment in docs/FORMATS.md "CUSDEC".
//!
//! - One `CUSDEC` message per interchange is one filing; its client sequence number is `BGM`
//!   1004 (the document number), its direction `BGM` 1001 (`929` importation, `830`
//!   exportation).
//! - Values are copied, not judged (validation reports bad codes and numbers with their
//!   paths, which [`edifact_path`] turns into the message's own terms); a decimal comma
//!   (`UNA:+,? '`) becomes a point in numbers.
//! - Segments the profile does not use are skipped; a field given twice is a problem
//!   (`duplicate`), as is a segment of an unknown qualifier where the profile needs one.

use domain::codes::Direction;
use domain::declaration::{
    ChargeForm, DeclarationForm, DocumentForm, ItemForm, NumberText, OverseasPartyForm, PartyForm,
    ITEMS_MAX,
};
use domain::Problem;

use crate::edifact::{self, Interchange, Message, Segment, Separators};

/// `UNH` S009 of a CUSDEC.
pub const CUSDEC: (&str, &str, &str, &str) = ("CUSDEC", "D", "96B", "UN");
/// `UNH` S009 of a CUSRES.
pub const CUSRES: (&str, &str, &str, &str) = ("CUSRES", "D", "96B", "UN");

/// A CUSDEC as a filing: the form and `BGM`'s document number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filing {
    pub form: DeclarationForm,
    pub client_seq_no: Option<String>,
    /// The interchange's envelope, to answer in kind (sender and recipient swapped).
    pub sender: String,
    pub recipient: String,
    pub control_reference: String,
    pub message_reference: String,
}

fn p(field: impl Into<String>, code: &'static str, zh: String, en: String) -> Problem {
    Problem::new(field, code, zh, en)
}

/// Read an interchange holding one CUSDEC message.
pub fn parse(bytes: &[u8]) -> Result<Filing, Vec<Problem>> {
    let i = edifact::parse(bytes)?;
    if i.messages.len() != 1 {
        return Err(vec![p(
            "UNZ.0036",
            "message_count",
            format!(
                "一份申报须为一个 CUSDEC 报文，而不是 {} 个",
                i.messages.len()
            ),
            format!("a filing is one CUSDEC message, not {}", i.messages.len()),
        )]);
    }
    let m = &i.messages[0];
    if (
        m.message_type.as_str(),
        m.version.as_str(),
        m.release.as_str(),
    ) != (CUSDEC.0, CUSDEC.1, CUSDEC.2)
    {
        return Err(vec![p(
            "message[0].UNH.S009",
            "message_type",
            format!(
                "报文须为 CUSDEC:D:96B，而不是 {}:{}:{}",
                m.message_type, m.version, m.release
            ),
            format!(
                "the message must be CUSDEC:D:96B, not {}:{}:{}",
                m.message_type, m.version, m.release
            ),
        )]);
    }
    let (form, seq) = read_message(m, &i.separators)?;
    Ok(Filing {
        form,
        client_seq_no: seq,
        sender: i.sender.clone(),
        recipient: i.recipient.clone(),
        control_reference: i.control_reference.clone(),
        message_reference: m.reference.clone(),
    })
}

/// Where the reader is: the header, a group of it, or an item.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Header,
    /// SG1, after `RFF+BM` (its `PAC` and `PCI` are the bill's).
    Bill,
    /// SG6, after a `NAD` of this qualifier.
    Party(Role),
    Detail,
    Item(usize),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Role {
    Trader,
    Owner,
    Agent,
    Overseas,
}

fn role_of(qualifier: &str) -> Option<Role> {
    match qualifier {
        "IM" | "EX" => Some(Role::Trader),
        "UC" | "SE" => Some(Role::Owner),
        "AE" => Some(Role::Agent),
        "CZ" | "CN" => Some(Role::Overseas),
        _ => None,
    }
}

fn role_qualifier(role: Role, export: bool) -> &'static str {
    match (role, export) {
        (Role::Trader, false) => "IM",
        (Role::Trader, true) => "EX",
        (Role::Owner, false) => "UC",
        (Role::Owner, true) => "SE",
        (Role::Agent, _) => "AE",
        (Role::Overseas, false) => "CZ",
        (Role::Overseas, true) => "CN",
    }
}

fn role_json(role: Role) -> &'static str {
    match role {
        Role::Trader => "trader",
        Role::Owner => "owner",
        Role::Agent => "agent",
        Role::Overseas => "overseas_party",
    }
}

/// Set a field once; a second value is a problem at `path`.
fn set(slot: &mut Option<String>, v: Option<&str>, path: &str, problems: &mut Vec<Problem>) {
    let Some(v) = v.map(str::trim).filter(|v| !v.is_empty()) else {
        return;
    };
    if slot.is_some() {
        problems.push(p(
            path,
            "duplicate",
            format!("{path} 重复出现"),
            format!("{path} is given more than once"),
        ));
        return;
    }
    *slot = Some(v.to_owned());
}

fn number(v: Option<String>, sep: &Separators) -> Option<NumberText> {
    v.map(|s| {
        if sep.decimal == ',' {
            NumberText::new(s.replace(',', "."))
        } else {
            NumberText::new(s)
        }
    })
}

/// `CCYYMMDD` → `YYYY-MM-DD` (validation judges anything else).
fn iso_date(v: String) -> String {
    if v.len() == 8 && v.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &v[0..4], &v[4..6], &v[6..8])
    } else {
        v
    }
}

#[derive(Default)]
struct Party {
    id: Option<String>,
    name: Option<String>,
    address: Option<String>,
    customs_code: Option<String>,
}

#[derive(Default)]
struct Charge {
    mark: Option<String>,
    value: Option<String>,
    currency: Option<String>,
}

#[derive(Default)]
struct Item {
    no: Option<String>,
    hs: Option<String>,
    name: Option<String>,
    spec: Option<String>,
    origin: Option<String>,
    destination: Option<String>,
    district: Option<String>,
    qty: [(Option<String>, Option<String>); 3],
    unit_price: Option<String>,
    total: Option<String>,
    currency: Option<String>,
    record_item: Option<String>,
    duty: Option<String>,
}

#[derive(Default)]
struct Head {
    direction: Option<String>,
    seq: Option<String>,
    declaration_date: Option<String>,
    ie_date: Option<String>,
    office: Option<String>,
    entry_exit: Option<String>,
    loading: Option<String>,
    destination: Option<String>,
    trading: Option<String>,
    dispatch: Option<String>,
    domestic: Option<String>,
    goods_place: Option<String>,
    trade_mode: Option<String>,
    levy: Option<String>,
    entry_type: Option<String>,
    gross: Option<String>,
    net: Option<String>,
    remarks: Option<String>,
    bill: Option<String>,
    packages: Option<String>,
    package_type: Option<String>,
    marks: Option<String>,
    contract: Option<String>,
    record: Option<String>,
    licence: Option<String>,
    voyage: Option<String>,
    transport: Option<String>,
    vessel: Option<String>,
    terms: Option<String>,
    parties: [Party; 4],
    charges: [Charge; 3],
    documents: Vec<(Option<String>, Option<String>)>,
    items: Vec<Item>,
}

fn role_index(r: Role) -> usize {
    match r {
        Role::Trader => 0,
        Role::Owner => 1,
        Role::Agent => 2,
        Role::Overseas => 3,
    }
}

fn read_message(
    m: &Message,
    sep: &Separators,
) -> Result<(DeclarationForm, Option<String>), Vec<Problem>> {
    let mut h = Head::default();
    let mut problems = Vec::new();
    let mut place = Place::Header;
    for s in &m.segments {
        if problems.len() >= edifact::PROBLEMS_MAX {
            break;
        }
        let q = s.get(0, 0).unwrap_or_default();
        let item_no = match place {
            Place::Item(i) => Some(i),
            _ => None,
        };
        match (s.tag.as_str(), item_no) {
            // `UNS+D` opens the detail section (the items); `UNS+S` the summary, which the
            // profile does not read.
            ("UNS", _) => {
                place = if q == "D" || q == "S" {
                    Place::Detail
                } else {
                    Place::Header
                };
            }
            ("BGM", None) => {
                let dir = match q {
                    "929" => Some("import"),
                    "830" => Some("export"),
                    _ => {
                        problems.push(p(
                            "BGM.C002.1001",
                            "direction",
                            format!("单证名称代码须为 929（进口报关单）或 830（出口报关单），而不是 {q}"),
                            format!("the document name code is 929 (import declaration) or 830 (export declaration), not {q}"),
                        ));
                        None
                    }
                };
                set(&mut h.direction, dir, "BGM.C002.1001", &mut problems);
                set(&mut h.seq, s.get(1, 0), "BGM.C106.1004", &mut problems);
            }
            ("DTM", None) => {
                let v = s.get(0, 1);
                match q {
                    "137" => set(
                        &mut h.declaration_date,
                        v,
                        "DTM[137].C507.2380",
                        &mut problems,
                    ),
                    "178" | "186" => set(
                        &mut h.ie_date,
                        v,
                        &format!("DTM[{q}].C507.2380"),
                        &mut problems,
                    ),
                    _ => {}
                }
            }
            ("LOC", None) => {
                let v = s.get(1, 0);
                let path = format!("LOC[{q}].C517.3225");
                let slot = match q {
                    "22" => Some(&mut h.office),
                    "41" | "42" => Some(&mut h.entry_exit),
                    "9" => Some(&mut h.loading),
                    "8" => Some(&mut h.destination),
                    "40" => Some(&mut h.trading),
                    "35" => Some(&mut h.dispatch),
                    "24" => Some(&mut h.domestic),
                    "14" => {
                        set(
                            &mut h.goods_place,
                            s.get(1, 3),
                            "LOC[14].C517.3224",
                            &mut problems,
                        );
                        None
                    }
                    _ => None,
                };
                if let Some(slot) = slot {
                    set(slot, v, &path, &mut problems);
                }
            }
            ("GIS", None) => {
                let list = s.get(0, 1).unwrap_or_default();
                let path = format!("GIS[{list}].C529.7365");
                match list {
                    "117" => set(&mut h.trade_mode, Some(q), &path, &mut problems),
                    "116" => set(&mut h.levy, Some(q), &path, &mut problems),
                    "105" => set(&mut h.entry_type, Some(q), &path, &mut problems),
                    _ => {}
                }
            }
            ("MEA", None) => match s.get(1, 0) {
                Some("G") => set(&mut h.gross, s.get(2, 1), "MEA[G].C174.6314", &mut problems),
                Some("AAL") => set(&mut h.net, s.get(2, 1), "MEA[AAL].C174.6314", &mut problems),
                _ => {}
            },
            ("FTX", None) if q == "AAI" => set(
                &mut h.remarks,
                joined(s, 3).as_deref(),
                "FTX[AAI].C108.4440",
                &mut problems,
            ),
            ("RFF", None) => {
                let v = s.get(0, 1);
                if let Place::Party(r) = place {
                    if q == "ZZZ" {
                        let path = format!(
                            "SG6 NAD[{}] RFF[ZZZ].C506.1154",
                            role_qualifier(r, h.direction.as_deref() == Some("export"))
                        );
                        set(
                            &mut h.parties[role_index(r)].customs_code,
                            v,
                            &path,
                            &mut problems,
                        );
                        continue;
                    }
                }
                place = Place::Header;
                match q {
                    "BM" => {
                        set(&mut h.bill, v, "SG1 RFF[BM].C506.1154", &mut problems);
                        place = Place::Bill;
                    }
                    "CT" => set(&mut h.contract, v, "SG1 RFF[CT].C506.1154", &mut problems),
                    "ACD" => set(&mut h.record, v, "SG1 RFF[ACD].C506.1154", &mut problems),
                    "IP" | "EX" => set(
                        &mut h.licence,
                        v,
                        &format!("SG1 RFF[{q}].C506.1154"),
                        &mut problems,
                    ),
                    _ => {}
                }
            }
            ("PAC", None) if place == Place::Bill => {
                set(&mut h.packages, s.get(0, 0), "SG1 PAC.7224", &mut problems);
                set(
                    &mut h.package_type,
                    s.get(2, 0),
                    "SG1 PAC.C202.7065",
                    &mut problems,
                );
            }
            ("PCI", None) if place == Place::Bill => set(
                &mut h.marks,
                joined(s, 1).as_deref(),
                "SG1 PCI.C210.7102",
                &mut problems,
            ),
            ("TDT", None) => {
                set(&mut h.voyage, s.get(1, 0), "SG4 TDT.8028", &mut problems);
                set(
                    &mut h.transport,
                    s.get(2, 0),
                    "SG4 TDT.C220.8067",
                    &mut problems,
                );
                set(
                    &mut h.vessel,
                    s.get(7, 3),
                    "SG4 TDT.C222.8212",
                    &mut problems,
                );
            }
            ("DOC", None) => {
                if h.documents.len() >= crate::decmessage::DOCUMENTS_MAX {
                    problems.push(p(
                        "SG5",
                        "too_many",
                        "随附单证过多".into(),
                        "too many documents".into(),
                    ));
                    continue;
                }
                let code = Some(q).filter(|c| !c.is_empty()).map(str::to_owned);
                h.documents.push((code, s.get(1, 0).map(str::to_owned)));
            }
            ("NAD", None) => match role_of(q) {
                Some(r) => {
                    let party = &mut h.parties[role_index(r)];
                    let path = format!("SG6 NAD[{q}]");
                    if party.id.is_some() || party.name.is_some() || party.address.is_some() {
                        problems.push(p(
                            &path,
                            "duplicate",
                            format!("{path} 重复出现"),
                            format!("{path} is given more than once"),
                        ));
                    }
                    party.id = s.get(1, 0).map(str::to_owned);
                    party.name = joined(s, 3);
                    party.address = joined(s, 4);
                    place = Place::Party(r);
                }
                None => place = Place::Header,
            },
            ("TOD", None) => set(
                &mut h.terms,
                s.get(2, 0),
                "SG7 TOD.C100.4053",
                &mut problems,
            ),
            ("MOA", None) => {
                let i = match q {
                    "64" => 0,
                    "67" => 1,
                    "105" => 2,
                    _ => continue,
                };
                let base = format!("SG8 MOA[{q}].C516");
                let c = &mut h.charges[i];
                set(
                    &mut c.value,
                    s.get(0, 1),
                    &format!("{base}.5004"),
                    &mut problems,
                );
                set(
                    &mut c.currency,
                    s.get(0, 2),
                    &format!("{base}.6345"),
                    &mut problems,
                );
                set(
                    &mut c.mark,
                    s.get(0, 4),
                    &format!("{base}.4405"),
                    &mut problems,
                );
            }
            ("CST", _)
                if place != Place::Header && !matches!(place, Place::Party(_) | Place::Bill) =>
            {
                if h.items.len() >= ITEMS_MAX {
                    return Err(vec![p(
                        "SG30",
                        "items_count",
                        format!("商品项超过 {ITEMS_MAX} 项"),
                        format!("more than {ITEMS_MAX} goods lines"),
                    )]);
                }
                h.items.push(Item {
                    no: s.get(0, 0).map(str::to_owned),
                    hs: s.get(1, 0).map(str::to_owned),
                    ..Item::default()
                });
                place = Place::Item(h.items.len() - 1);
            }
            (tag, Some(i)) => {
                let base = format!("SG30[{i}]");
                let it = &mut h.items[i];
                match (tag, q) {
                    ("FTX", "AAA") => set(
                        &mut it.name,
                        joined(s, 3).as_deref(),
                        &format!("{base} FTX[AAA].C108.4440"),
                        &mut problems,
                    ),
                    ("FTX", "ACB") => set(
                        &mut it.spec,
                        joined(s, 3).as_deref(),
                        &format!("{base} FTX[ACB].C108.4440"),
                        &mut problems,
                    ),
                    ("LOC", "27") => set(
                        &mut it.origin,
                        s.get(1, 0),
                        &format!("{base} LOC[27].C517.3225"),
                        &mut problems,
                    ),
                    ("LOC", "28") => set(
                        &mut it.destination,
                        s.get(1, 0),
                        &format!("{base} LOC[28].C517.3225"),
                        &mut problems,
                    ),
                    ("LOC", "46") | ("LOC", "47") => set(
                        &mut it.district,
                        s.get(1, 0),
                        &format!("{base} LOC[{q}].C517.3225"),
                        &mut problems,
                    ),
                    ("MEA", "AAF") | ("MEA", "AAR") | ("MEA", "AAS") => {
                        let k = match q {
                            "AAF" => 0,
                            "AAR" => 1,
                            _ => 2,
                        };
                        let (qty, unit) = &mut it.qty[k];
                        set(
                            qty,
                            s.get(2, 1),
                            &format!("{base} MEA[{q}].C174.6314"),
                            &mut problems,
                        );
                        set(
                            unit,
                            s.get(2, 0),
                            &format!("{base} MEA[{q}].C174.6411"),
                            &mut problems,
                        );
                    }
                    ("MOA", "146") | ("MOA", "38") => {
                        let path = format!("{base} SG33 MOA[{q}].C516");
                        if q == "146" {
                            set(
                                &mut it.unit_price,
                                s.get(0, 1),
                                &format!("{path}.5004"),
                                &mut problems,
                            );
                        } else {
                            set(
                                &mut it.total,
                                s.get(0, 1),
                                &format!("{path}.5004"),
                                &mut problems,
                            );
                        }
                        if let Some(c) = s.get(0, 2) {
                            match &it.currency {
                                Some(have) if have != c => problems.push(p(
                                    format!("{path}.6345"),
                                    "currency_mismatch",
                                    format!("单价与总价的币制不同：{have} 与 {c}"),
                                    format!("the unit price and the total are in different currencies: {have} and {c}"),
                                )),
                                Some(_) => {}
                                None => it.currency = Some(c.to_owned()),
                            }
                        }
                    }
                    ("RFF", "ACD") => set(
                        &mut it.record_item,
                        s.get(0, 1),
                        &format!("{base} SG35 RFF[ACD].C506.1154"),
                        &mut problems,
                    ),
                    ("GIS", _) => set(
                        &mut it.duty,
                        Some(q),
                        &format!("{base} SG40 GIS.C529.7365"),
                        &mut problems,
                    ),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if h.direction.is_none() && !problems.iter().any(|x| x.field == "BGM.C002.1001") {
        problems.push(p(
            "BGM",
            "required",
            "缺少 BGM（报关单类型 929 或 830）".into(),
            "BGM (declaration type 929 or 830) is missing".into(),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let party = |r: Role, h: &mut Head| {
        let x = std::mem::take(&mut h.parties[role_index(r)]);
        let f = PartyForm {
            name: x.name,
            uscc: x.id,
            customs_code: x.customs_code,
        };
        (f != PartyForm::default()).then_some(f)
    };
    let charge = |i: usize, h: &mut Head| {
        let c = std::mem::take(&mut h.charges[i]);
        let f = ChargeForm {
            mark: c.mark,
            value: number(c.value, sep),
            currency: c.currency,
        };
        (f != ChargeForm::default()).then_some(f)
    };
    let trader = party(Role::Trader, &mut h);
    let owner = party(Role::Owner, &mut h);
    let agent = party(Role::Agent, &mut h);
    let o = std::mem::take(&mut h.parties[3]);
    let overseas = OverseasPartyForm {
        code: o.id,
        name: o.name,
        address: o.address,
    };
    let freight = charge(0, &mut h);
    let insurance = charge(1, &mut h);
    let other_charges = charge(2, &mut h);
    let items = std::mem::take(&mut h.items)
        .into_iter()
        .map(|it| {
            let [(dq, du), (fq, fu), (sq, su)] = it.qty;
            ItemForm {
                item_no: number(it.no, sep),
                record_item: it.record_item,
                commodity_code: it.hs,
                name: it.name,
                specification: it.spec,
                declared_quantity: number(dq, sep),
                declared_unit: du,
                first_quantity: number(fq, sep),
                first_unit: fu,
                second_quantity: number(sq, sep),
                second_unit: su,
                unit_price: number(it.unit_price, sep),
                total_price: number(it.total, sep),
                currency: it.currency,
                origin_country: it.origin,
                destination_country: it.destination,
                district: it.district,
                duty_treatment: it.duty,
                producer: None,
                origin_proof: None,
                quota_certificate_no: None,
            }
        })
        .collect();
    let form = DeclarationForm {
        direction: h.direction,
        declaration_office: h.office,
        entry_exit_office: h.entry_exit,
        record_no: h.record,
        contract_no: h.contract,
        ie_date: h.ie_date.map(iso_date),
        declaration_date: h.declaration_date.map(iso_date),
        trader,
        overseas_party: (overseas != OverseasPartyForm::default()).then_some(overseas),
        owner,
        agent,
        transport_mode: h.transport,
        vessel: h.vessel,
        voyage_no: h.voyage,
        bill_no: h.bill,
        goods_place: h.goods_place,
        trade_mode: h.trade_mode,
        levy_nature: h.levy,
        licence_no: h.licence,
        loading_port: h.loading,
        destination_port: h.destination,
        trading_country: h.trading,
        dispatch_country: h.dispatch,
        domestic_port: h.domestic,
        package_type: h.package_type,
        packages: number(h.packages, sep),
        gross_weight_kg: number(h.gross, sep),
        net_weight_kg: number(h.net, sep),
        transaction_terms: h.terms,
        freight,
        insurance,
        other_charges,
        documents: h
            .documents
            .into_iter()
            .map(|(code, number)| DocumentForm { code, number })
            .collect(),
        marks: h.marks,
        remarks: h.remarks,
        entry_type: h.entry_type,
        buyer: None,
        items,
    };
    Ok((form, h.seq))
}

/// The components of element `e` joined (free text split over components, each at most 70
/// characters in the directory; Jinguan splits long text when printing).
fn joined(s: &Segment, e: usize) -> Option<String> {
    let v: String = s.elements.get(e)?.concat();
    let v = v.trim().to_owned();
    (!v.is_empty()).then_some(v)
}

/// Text cut into components of at most `n` characters.
fn split(v: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = v.chars().collect();
    if chars.is_empty() {
        return vec![String::new()];
    }
    chars.chunks(n).map(|c| c.iter().collect()).collect()
}

pub(crate) fn seg(tag: &str, elements: &[&[&str]]) -> Segment {
    Segment::new(
        tag,
        elements
            .iter()
            .map(|e| e.iter().map(|c| (*c).to_owned()).collect())
            .collect(),
    )
}

/// `YYYY-MM-DD` → `CCYYMMDD`; anything else as it is.
fn compact(v: &str) -> String {
    let d: String = v.chars().filter(|c| *c != '-').collect();
    if v.len() == 10 && d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
        d
    } else {
        v.to_owned()
    }
}

/// The segments of a CUSDEC message for a form (between `UNH` and `UNT`).
pub fn segments(form: &DeclarationForm, client_seq_no: Option<&str>) -> Vec<Segment> {
    let export = form.direction.as_deref() == Some("export");
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let n = |v: &Option<NumberText>| {
        v.as_ref()
            .map(|x| x.as_str().to_owned())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    let doc = match form.direction.as_deref() {
        Some("import") => "929",
        Some("export") => "830",
        Some(other) => other,
        None => "",
    };
    out.push(seg(
        "BGM",
        &[&[doc], &[client_seq_no.unwrap_or("")], &["9"]],
    ));
    if let Some(d) = &form.declaration_date {
        out.push(seg("DTM", &[&["137", &compact(d), "102"]]));
    }
    if let Some(d) = &form.ie_date {
        out.push(seg(
            "DTM",
            &[&[if export { "186" } else { "178" }, &compact(d), "102"]],
        ));
    }
    let entry_q = if export { "42" } else { "41" };
    for (q, v) in [
        ("22", &form.declaration_office),
        (entry_q, &form.entry_exit_office),
        ("9", &form.loading_port),
        ("8", &form.destination_port),
        ("40", &form.trading_country),
        ("35", &form.dispatch_country),
        ("24", &form.domestic_port),
    ] {
        if v.is_some() {
            out.push(seg("LOC", &[&[q], &[&o(v)]]));
        }
    }
    if let Some(g) = &form.goods_place {
        out.push(seg("LOC", &[&["14"], &["", "", "", g]]));
    }
    for (list, v) in [
        ("117", &form.trade_mode),
        ("116", &form.levy_nature),
        ("105", &form.entry_type),
    ] {
        if let Some(v) = v {
            out.push(seg("GIS", &[&[v, list]]));
        }
    }
    for (q, v) in [("G", &form.gross_weight_kg), ("AAL", &form.net_weight_kg)] {
        if v.is_some() {
            out.push(seg("MEA", &[&["AAE"], &[q], &["KGM", &n(v)]]));
        }
    }
    if let Some(r) = &form.remarks {
        let text = split(r, 70);
        let refs: Vec<&str> = text.iter().map(String::as_str).collect();
        out.push(seg("FTX", &[&["AAI"], &[], &[], &refs]));
    }
    // SG1: the bill with its packages and marks, then the other references.
    if form.bill_no.is_some()
        || form.packages.is_some()
        || form.package_type.is_some()
        || form.marks.is_some()
    {
        out.push(seg("RFF", &[&["BM", &o(&form.bill_no)]]));
        if form.packages.is_some() || form.package_type.is_some() || form.marks.is_some() {
            out.push(seg(
                "PAC",
                &[&[&n(&form.packages)], &[], &[&o(&form.package_type)]],
            ));
        }
        if let Some(m) = &form.marks {
            let text = split(m, 35);
            let refs: Vec<&str> = text.iter().map(String::as_str).collect();
            out.push(seg("PCI", &[&[], &refs]));
        }
    }
    for (q, v) in [
        ("CT", &form.contract_no),
        ("ACD", &form.record_no),
        (if export { "EX" } else { "IP" }, &form.licence_no),
    ] {
        if let Some(v) = v {
            out.push(seg("RFF", &[&[q, v]]));
        }
    }
    if form.transport_mode.is_some() || form.voyage_no.is_some() || form.vessel.is_some() {
        out.push(seg(
            "TDT",
            &[
                &["20"],
                &[&o(&form.voyage_no)],
                &[&o(&form.transport_mode)],
                &[],
                &[],
                &[],
                &[],
                &["", "", "", &o(&form.vessel)],
            ],
        ));
    }
    for d in &form.documents {
        out.push(seg("DOC", &[&[&o(&d.code), "", "ZZZ"], &[&o(&d.number)]]));
    }
    let parties: [(Role, Option<PartyForm>); 3] = [
        (Role::Trader, form.trader.clone()),
        (Role::Owner, form.owner.clone()),
        (Role::Agent, form.agent.clone()),
    ];
    for (role, party) in parties {
        if let Some(pf) = party {
            let name = split(&o(&pf.name), 35);
            let refs: Vec<&str> = name.iter().map(String::as_str).collect();
            out.push(seg(
                "NAD",
                &[&[role_qualifier(role, export)], &[&o(&pf.uscc)], &[], &refs],
            ));
            if let Some(c) = &pf.customs_code {
                out.push(seg("RFF", &[&["ZZZ", c]]));
            }
        }
    }
    if let Some(op) = &form.overseas_party {
        let name = split(&o(&op.name), 35);
        let address = split(&o(&op.address), 35);
        let nr: Vec<&str> = name.iter().map(String::as_str).collect();
        let ar: Vec<&str> = address.iter().map(String::as_str).collect();
        out.push(seg(
            "NAD",
            &[
                &[role_qualifier(Role::Overseas, export)],
                &[&o(&op.code)],
                &[],
                &nr,
                &ar,
            ],
        ));
    }
    if let Some(t) = &form.transaction_terms {
        out.push(seg("TOD", &[&["6"], &[], &[t]]));
    }
    for (q, c) in [
        ("64", &form.freight),
        ("67", &form.insurance),
        ("105", &form.other_charges),
    ] {
        if let Some(c) = c {
            out.push(seg(
                "MOA",
                &[&[q, &n(&c.value), &o(&c.currency), "", &o(&c.mark)]],
            ));
        }
    }
    out.push(seg("UNS", &[&["D"]]));
    for it in &form.items {
        out.push(seg(
            "CST",
            &[&[&n(&it.item_no)], &[&o(&it.commodity_code), "122"]],
        ));
        for (q, v) in [("AAA", &it.name), ("ACB", &it.specification)] {
            if let Some(v) = v {
                let text = split(v, 70);
                let refs: Vec<&str> = text.iter().map(String::as_str).collect();
                out.push(seg("FTX", &[&[q], &[], &[], &refs]));
            }
        }
        let district_q = if export { "46" } else { "47" };
        for (q, v) in [
            ("27", &it.origin_country),
            ("28", &it.destination_country),
            (district_q, &it.district),
        ] {
            if let Some(v) = v {
                out.push(seg("LOC", &[&[q], &[v]]));
            }
        }
        for (q, qty, unit) in [
            ("AAF", &it.declared_quantity, &it.declared_unit),
            ("AAR", &it.first_quantity, &it.first_unit),
            ("AAS", &it.second_quantity, &it.second_unit),
        ] {
            if qty.is_some() || unit.is_some() {
                out.push(seg("MEA", &[&[q], &[], &[&o(unit), &n(qty)]]));
            }
        }
        let currency = o(&it.currency);
        if it.unit_price.is_some() {
            out.push(seg("MOA", &[&["146", &n(&it.unit_price), &currency]]));
        }
        if it.total_price.is_some() || (it.unit_price.is_none() && it.currency.is_some()) {
            out.push(seg("MOA", &[&["38", &n(&it.total_price), &currency]]));
        }
        if let Some(r) = &it.record_item {
            out.push(seg("RFF", &[&["ACD", r]]));
        }
        if let Some(d) = &it.duty_treatment {
            out.push(seg("GIS", &[&[d, "116"]]));
        }
    }
    out.push(seg("UNS", &[&["S"]]));
    out
}

/// Envelope values of an interchange Jinguan prints.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub sender: String,
    pub recipient: String,
    /// `CCYYMMDD` and `HHMM` (the caller's clock).
    pub date: String,
    pub time: String,
    pub control_reference: String,
    pub message_reference: String,
}

pub(crate) fn interchange(
    env: &Envelope,
    kind: (&str, &str, &str, &str),
    segments: Vec<Segment>,
) -> Interchange {
    Interchange {
        separators: Separators::default(),
        una: true,
        syntax: "UNOW".into(),
        syntax_version: "4".into(),
        sender: env.sender.clone(),
        recipient: env.recipient.clone(),
        date: env.date.clone(),
        time: env.time.clone(),
        control_reference: env.control_reference.clone(),
        messages: vec![Message {
            reference: env.message_reference.clone(),
            message_type: kind.0.into(),
            version: kind.1.into(),
            release: kind.2.into(),
            agency: kind.3.into(),
            segments,
        }],
    }
}

/// A form as a whole CUSDEC interchange (UNOW, UTF-8). Fields CUSDEC has no place for are
/// those of [`crate::decmessage::unprintable`].
pub fn print(form: &DeclarationForm, client_seq_no: Option<&str>, env: &Envelope) -> String {
    edifact::print(&interchange(env, CUSDEC, segments(form, client_seq_no)))
}

/// A customs response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// `BGM` 1225: `29` accepted, `27` not accepted.
    pub accepted: bool,
    pub client_seq_no: Option<String>,
    pub pre_entry_no: Option<String>,
    pub declaration_no: Option<String>,
    /// The receipt's channel code (`GIS`), when accepted.
    pub channel: Option<String>,
    /// `CCYYMMDDHHMM`, China time.
    pub at: String,
    /// Every error: (place in the filer's terms, code, English, Chinese).
    pub errors: Vec<(String, String, String, String)>,
}

/// A response as a CUSRES interchange.
pub fn print_response(r: &Response, env: &Envelope) -> String {
    let mut s = Vec::new();
    s.push(seg(
        "BGM",
        &[
            &["962"],
            &[r.client_seq_no.as_deref().unwrap_or("")],
            &[if r.accepted { "29" } else { "27" }],
        ],
    ));
    s.push(seg("DTM", &[&["137", &r.at, "203"]]));
    for (q, v) in [
        ("ABE", &r.client_seq_no),
        ("ACD", &r.pre_entry_no),
        ("ABT", &r.declaration_no),
    ] {
        if let Some(v) = v {
            s.push(seg("RFF", &[&[q, v]]));
        }
    }
    if let Some(c) = &r.channel {
        s.push(seg("GIS", &[&[c, "", "ZZZ"]]));
    }
    for (i, (field, code, en, zh)) in r.errors.iter().enumerate() {
        s.push(seg("ERP", &[&[&(i + 1).to_string()]]));
        s.push(seg("ERC", &[&[code]]));
        s.push(seg("FTX", &[&["AAO"], &[], &[], &[field, en, zh]]));
    }
    edifact::print(&interchange(env, CUSRES, s))
}

/// Read a CUSRES interchange back (for filers' tests and `jinguan convert`).
pub fn parse_response(bytes: &[u8]) -> Result<Response, Vec<Problem>> {
    let i = edifact::parse(bytes)?;
    let Some(m) = i.messages.first().filter(|m| m.message_type == CUSRES.0) else {
        return Err(vec![p(
            "message[0].UNH.S009",
            "message_type",
            "须为一个 CUSRES 报文".into(),
            "expected one CUSRES message".into(),
        )]);
    };
    let mut r = Response {
        accepted: false,
        client_seq_no: None,
        pre_entry_no: None,
        declaration_no: None,
        channel: None,
        at: String::new(),
        errors: Vec::new(),
    };
    let mut code = String::new();
    for s in &m.segments {
        let q = s.get(0, 0).unwrap_or_default();
        match s.tag.as_str() {
            "BGM" => r.accepted = s.get(2, 0) == Some("29"),
            "DTM" if q == "137" => r.at = s.get(0, 1).unwrap_or_default().to_owned(),
            "RFF" => {
                let v = s.get(0, 1).map(str::to_owned);
                match q {
                    "ABE" => r.client_seq_no = v,
                    "ACD" => r.pre_entry_no = v,
                    "ABT" => r.declaration_no = v,
                    _ => {}
                }
            }
            "GIS" => r.channel = Some(q.to_owned()),
            "ERC" => code = q.to_owned(),
            "FTX" if q == "AAO" => r.errors.push((
                s.get(3, 0).unwrap_or_default().to_owned(),
                std::mem::take(&mut code),
                s.get(3, 1).unwrap_or_default().to_owned(),
                s.get(3, 2).unwrap_or_default().to_owned(),
            )),
            _ => {}
        }
    }
    Ok(r)
}

/// The place of a field of the JSON form (as validation names it) in a CUSDEC, in the
/// message's own terms (`SG6 NAD[IM].C082.3039`, `SG30[2] CST.C246.7361`). `None` when the
/// profile has no place for it (the caller keeps the JSON path).
pub fn edifact_path(json_path: &str, direction: Option<Direction>) -> Option<String> {
    let export = direction == Some(Direction::Export);
    if let Some(rest) = json_path.strip_prefix("items[") {
        let (i, field) = rest.split_once(']')?;
        let i: usize = i.parse().ok()?;
        let field = field.strip_prefix('.').unwrap_or(field);
        let district = if export { "46" } else { "47" };
        let tail = match field {
            "" => String::new(),
            "item_no" => " CST.1496".into(),
            "commodity_code" => " CST.C246.7361".into(),
            "name" => " FTX[AAA].C108.4440".into(),
            "specification" => " FTX[ACB].C108.4440".into(),
            "origin_country" => " LOC[27].C517.3225".into(),
            "destination_country" => " LOC[28].C517.3225".into(),
            "district" => format!(" LOC[{district}].C517.3225"),
            "declared_quantity" => " MEA[AAF].C174.6314".into(),
            "declared_unit" => " MEA[AAF].C174.6411".into(),
            "first_quantity" => " MEA[AAR].C174.6314".into(),
            "first_unit" => " MEA[AAR].C174.6411".into(),
            "second_quantity" => " MEA[AAS].C174.6314".into(),
            "second_unit" => " MEA[AAS].C174.6411".into(),
            "unit_price" => " SG33 MOA[146].C516.5004".into(),
            "total_price" => " SG33 MOA[38].C516.5004".into(),
            "currency" => " SG33 MOA[38].C516.6345".into(),
            "record_item" => " SG35 RFF[ACD].C506.1154".into(),
            "duty_treatment" => " SG40 GIS.C529.7365".into(),
            _ => return None,
        };
        return Some(format!("SG30[{i}]{tail}"));
    }
    if let Some(rest) = json_path.strip_prefix("documents[") {
        let (i, field) = rest.split_once(']')?;
        let i: usize = i.parse().ok()?;
        let tail = match field.strip_prefix('.').unwrap_or(field) {
            "" => "",
            "code" => " DOC.C002.1001",
            "number" => " DOC.C503.1004",
            _ => return None,
        };
        return Some(format!("SG5[{i}]{tail}"));
    }
    let (object, field) = match json_path.split_once('.') {
        Some((o, f)) => (o, Some(f)),
        None => (json_path, None),
    };
    for role in [Role::Trader, Role::Owner, Role::Agent, Role::Overseas] {
        if role_json(role) == object {
            let nad = format!("SG6 NAD[{}]", role_qualifier(role, export));
            let tail = match field {
                None => "",
                Some("name") => ".C080.3036",
                Some("uscc") | Some("code") => ".C082.3039",
                Some("address") => ".C059.3042",
                Some("customs_code") => " RFF[ZZZ].C506.1154",
                Some(_) => return None,
            };
            return Some(format!("{nad}{tail}"));
        }
    }
    for (obj, q) in [
        ("freight", "64"),
        ("insurance", "67"),
        ("other_charges", "105"),
    ] {
        if obj == object {
            let tail = match field {
                None => "",
                Some("value") => ".C516.5004",
                Some("currency") => ".C516.6345",
                Some("mark") => ".C516.4405",
                Some(_) => return None,
            };
            return Some(format!("SG8 MOA[{q}]{tail}"));
        }
    }
    let entry = if export { "42" } else { "41" };
    let ie = if export { "186" } else { "178" };
    let licence = if export { "EX" } else { "IP" };
    Some(match json_path {
        "direction" => "BGM.C002.1001".into(),
        "declaration_date" => "DTM[137].C507.2380".into(),
        "ie_date" => format!("DTM[{ie}].C507.2380"),
        "declaration_office" => "LOC[22].C517.3225".into(),
        "entry_exit_office" => format!("LOC[{entry}].C517.3225"),
        "loading_port" => "LOC[9].C517.3225".into(),
        "destination_port" => "LOC[8].C517.3225".into(),
        "trading_country" => "LOC[40].C517.3225".into(),
        "dispatch_country" => "LOC[35].C517.3225".into(),
        "domestic_port" => "LOC[24].C517.3225".into(),
        "goods_place" => "LOC[14].C517.3224".into(),
        "trade_mode" => "GIS[117].C529.7365".into(),
        "levy_nature" => "GIS[116].C529.7365".into(),
        "entry_type" => "GIS[105].C529.7365".into(),
        "gross_weight_kg" => "MEA[G].C174.6314".into(),
        "net_weight_kg" => "MEA[AAL].C174.6314".into(),
        "remarks" => "FTX[AAI].C108.4440".into(),
        "bill_no" => "SG1 RFF[BM].C506.1154".into(),
        "packages" => "SG1 PAC.7224".into(),
        "package_type" => "SG1 PAC.C202.7065".into(),
        "marks" => "SG1 PCI.C210.7102".into(),
        "contract_no" => "SG1 RFF[CT].C506.1154".into(),
        "record_no" => "SG1 RFF[ACD].C506.1154".into(),
        "licence_no" => format!("SG1 RFF[{licence}].C506.1154"),
        "voyage_no" => "SG4 TDT.8028".into(),
        "transport_mode" => "SG4 TDT.C220.8067".into(),
        "vessel" => "SG4 TDT.C222.8212".into(),
        "transaction_terms" => "SG7 TOD.C100.4053".into(),
        "items" => "SG30".into(),
        "documents" => "SG5".into(),
        _ => return None,
    })
}
