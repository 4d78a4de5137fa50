//! UN/EDIFACT D.96B `CUSCAR` (customs cargo report) read into the manifest filing that
//! `POST /api/manifests` takes as JSON (docs/CARGO.md), and printed from it: Jinguan's profile,
//! every element in docs/FORMATS.md "CUSCAR".
//!
//! The interchange is read by [`crate::edifact`] (service string advice, release character,
//! counts and control references checked there). One `CUSCAR` message is one manifest filing.
//! Values are copied as text into a [`Manifest`]; [`Manifest::to_json`] writes the JSON body
//! of the cargo API, whose reader judges identifiers, numbers and codes. Problems name the
//! message's places (`BGM.1004`, `SG7[0] CNI.C503.1004`, `SG7[0] SG14[1] GID.C213.7224`).

use domain::Problem;
use serde_json::{json, Value};

use crate::cusdec::{interchange, seg, Envelope};
use crate::edifact::{self, Segment, Separators};

/// `UNH` S009 of a CUSCAR.
pub const CUSCAR: (&str, &str, &str, &str) = ("CUSCAR", "D", "96B", "UN");
/// Most bills read from one message.
pub const BILLS_MAX: usize = 10_000;

/// A manifest filing as the message carries it, every value as text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    /// `BGM` 1004.
    pub manifest_id: Option<String>,
    /// `BGM` C002 1000: `pre_load`, `original`, `arrival_report`, `tally_report`
    /// (absent: `original`).
    pub kind: Option<String>,
    pub voyage: Voyage,
    pub bills: Vec<Bill>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Voyage {
    /// `TDT` C220 8067: `1` vessel, `2` train, `3` truck, `4` flight.
    pub mode: Option<String>,
    /// `TDT` C222 8213: the IMO number, flight, plate or train number.
    pub means_id: Option<String>,
    /// `TDT` C222 8212: the vessel's name.
    pub means_name: Option<String>,
    /// `TDT` 8028.
    pub voyage_no: Option<String>,
    /// `import` (`LOC+41`, office of entry) or `export` (`LOC+42`, office of exit).
    pub direction: Option<String>,
    pub office: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bill {
    /// `CNI` C503 1004.
    pub bill_no: Option<String>,
    /// `RFF+MB` (a house bill under this master); `RFF+BM` marks a master bill.
    pub master: Option<String>,
    pub lines: Vec<Line>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Line {
    /// `GID` C213 7224 and 7065.
    pub packages: Option<String>,
    pub package_type: Option<String>,
    /// `MEA+AAE+G+KGM:v`.
    pub gross_weight_kg: Option<String>,
    /// `FTX+AAA+++text`.
    pub description: Option<String>,
    /// `SGP` C237 8260, one a container.
    pub containers: Vec<String>,
}

/// A CUSCAR as a filing: the manifest and the interchange's envelope (to answer in kind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filing {
    pub manifest: Manifest,
    pub sender: String,
    pub recipient: String,
    pub control_reference: String,
    pub message_reference: String,
}

const MODES: &[(&str, &str)] = &[
    ("1", "vessel"),
    ("2", "train"),
    ("3", "truck"),
    ("4", "flight"),
];

fn p(field: impl Into<String>, code: &'static str, zh: String, en: String) -> Problem {
    Problem::new(field, code, zh, en)
}

fn once(slot: &mut Option<String>, v: Option<&str>, path: &str, problems: &mut Vec<Problem>) {
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

/// Read an interchange holding one CUSCAR message.
pub fn parse(bytes: &[u8]) -> Result<Filing, Vec<Problem>> {
    let i = edifact::parse(bytes)?;
    if i.messages.len() != 1 {
        return Err(vec![p(
            "UNZ.0036",
            "message_count",
            format!(
                "一份舱单须为一个 CUSCAR 报文，而不是 {} 个",
                i.messages.len()
            ),
            format!("a manifest is one CUSCAR message, not {}", i.messages.len()),
        )]);
    }
    let m = &i.messages[0];
    if (
        m.message_type.as_str(),
        m.version.as_str(),
        m.release.as_str(),
    ) != (CUSCAR.0, CUSCAR.1, CUSCAR.2)
    {
        return Err(vec![p(
            "message[0].UNH.S009",
            "message_type",
            format!(
                "报文须为 CUSCAR:D:96B，而不是 {}:{}:{}",
                m.message_type, m.version, m.release
            ),
            format!(
                "the message must be CUSCAR:D:96B, not {}:{}:{}",
                m.message_type, m.version, m.release
            ),
        )]);
    }
    let manifest = read(&m.segments, &i.separators)?;
    Ok(Filing {
        manifest,
        sender: i.sender.clone(),
        recipient: i.recipient.clone(),
        control_reference: i.control_reference.clone(),
        message_reference: m.reference.clone(),
    })
}

fn read(segments: &[Segment], sep: &Separators) -> Result<Manifest, Vec<Problem>> {
    let mut m = Manifest::default();
    let mut problems = Vec::new();
    let mut bgm = false;
    let mut tdt = false;
    let number = |v: Option<&str>| {
        v.map(|s| {
            if sep.decimal == ',' {
                s.replace(',', ".")
            } else {
                s.to_owned()
            }
        })
    };
    for s in segments {
        let bill_at = m.bills.len().checked_sub(1);
        let line_at = bill_at.and_then(|b| m.bills[b].lines.len().checked_sub(1));
        let place = match (bill_at, line_at) {
            (Some(b), Some(l)) => format!("SG7[{b}] SG14[{l}] "),
            (Some(b), None) => format!("SG7[{b}] "),
            _ => String::new(),
        };
        match s.tag.as_str() {
            "BGM" => {
                bgm = true;
                once(&mut m.kind, s.get(0, 3), "BGM.C002.1000", &mut problems);
                once(&mut m.manifest_id, s.get(1, 0), "BGM.1004", &mut problems);
            }
            "TDT" if bill_at.is_none() => {
                tdt = true;
                let v = &mut m.voyage;
                once(&mut v.voyage_no, s.get(1, 0), "SG4 TDT.8028", &mut problems);
                once(&mut v.mode, s.get(2, 0), "SG4 TDT.C220.8067", &mut problems);
                once(
                    &mut v.means_id,
                    s.get(7, 0),
                    "SG4 TDT.C222.8213",
                    &mut problems,
                );
                once(
                    &mut v.means_name,
                    s.get(7, 3),
                    "SG4 TDT.C222.8212",
                    &mut problems,
                );
            }
            "LOC" if bill_at.is_none() => {
                let dir = match s.get(0, 0) {
                    Some("41") => "import",
                    Some("42") => "export",
                    _ => continue,
                };
                let path = format!("SG4 LOC[{}].C517.3225", s.get(0, 0).unwrap_or(""));
                let before = m.voyage.office.is_some();
                once(&mut m.voyage.office, s.get(1, 0), &path, &mut problems);
                if !before && m.voyage.office.is_some() {
                    m.voyage.direction = Some(dir.to_owned());
                }
            }
            "CNI" => {
                if m.bills.len() >= BILLS_MAX {
                    return Err(vec![p(
                        "SG7",
                        "too_many",
                        format!("提运单超过 {BILLS_MAX} 个"),
                        format!("more than {BILLS_MAX} bills"),
                    )]);
                }
                m.bills.push(Bill {
                    bill_no: s.get(1, 0).map(str::to_owned),
                    ..Bill::default()
                });
            }
            "RFF" => {
                let Some(b) = bill_at else { continue };
                match s.get(0, 0) {
                    Some("MB") => once(
                        &mut m.bills[b].master,
                        s.get(0, 1),
                        &format!("SG7[{b}] SG8 RFF[MB].C506.1154"),
                        &mut problems,
                    ),
                    Some("BM") => {}
                    _ => {}
                }
            }
            "GID" => {
                let Some(b) = bill_at else { continue };
                m.bills[b].lines.push(Line {
                    packages: s.get(1, 0).map(str::to_owned),
                    package_type: s.get(1, 1).map(str::to_owned),
                    ..Line::default()
                });
            }
            "FTX" if s.get(0, 0) == Some("AAA") => {
                let Some((b, l)) = bill_at.zip(line_at) else {
                    continue;
                };
                let text: String = s.elements.get(3).map(|c| c.concat()).unwrap_or_default();
                let text = (!text.is_empty()).then_some(text);
                once(
                    &mut m.bills[b].lines[l].description,
                    text.as_deref(),
                    &format!("{place}FTX[AAA].C108.4440"),
                    &mut problems,
                );
            }
            "MEA" if s.get(0, 0) == Some("AAE") && s.get(1, 0) == Some("G") => {
                let Some((b, l)) = bill_at.zip(line_at) else {
                    continue;
                };
                let path = format!("{place}MEA[G].C174.6314");
                if let Some(unit) = s.get(2, 0).filter(|u| *u != "KGM") {
                    problems.push(p(
                        format!("{place}MEA[G].C174.6411"),
                        "unit",
                        format!("毛重单位须为 KGM，而不是 {unit}"),
                        format!("the gross weight's unit must be KGM, not {unit}"),
                    ));
                }
                let v = number(s.get(2, 1));
                once(
                    &mut m.bills[b].lines[l].gross_weight_kg,
                    v.as_deref(),
                    &path,
                    &mut problems,
                );
            }
            "SGP" => {
                let Some((b, l)) = bill_at.zip(line_at) else {
                    continue;
                };
                if let Some(c) = s.get(0, 0) {
                    m.bills[b].lines[l].containers.push(c.to_owned());
                }
            }
            _ => {}
        }
    }
    if !bgm || m.manifest_id.is_none() {
        problems.push(p(
            "BGM.1004",
            "required",
            "缺少舱单编号（BGM 1004）".into(),
            "no manifest number (BGM 1004)".into(),
        ));
    }
    if !tdt {
        problems.push(p(
            "SG4 TDT",
            "required",
            "缺少运输工具（TDT）".into(),
            "no means of transport (TDT)".into(),
        ));
    }
    if m.voyage.office.is_none() {
        problems.push(p(
            "SG4 LOC[41].C517.3225",
            "required",
            "缺少进出境关别（LOC+41 进境 或 LOC+42 出境）".into(),
            "no office of entry or exit (LOC+41 import or LOC+42 export)".into(),
        ));
    }
    if let Some(mode) = &m.voyage.mode {
        if !MODES.iter().any(|(c, _)| *c == mode.as_str()) {
            problems.push(p(
                "SG4 TDT.C220.8067",
                "unknown_code",
                format!("运输方式 {mode} 应为 1（船舶）、2（火车）、3（汽车）或 4（航空器）"),
                format!("mode of transport {mode} must be 1 (vessel), 2 (train), 3 (truck) or 4 (flight)"),
            ));
        }
    }
    for (b, bill) in m.bills.iter().enumerate() {
        if bill.bill_no.is_none() {
            problems.push(p(
                format!("SG7[{b}] CNI.C503.1004"),
                "required",
                "缺少提运单号".into(),
                "no bill number".into(),
            ));
        }
        for (l, line) in bill.lines.iter().enumerate() {
            if let Some(n) = &line.packages {
                if n.parse::<u32>().is_err() {
                    problems.push(p(
                        format!("SG7[{b}] SG14[{l}] GID.C213.7224"),
                        "number",
                        format!("件数 {n} 须为非负整数"),
                        format!("the number of packages {n} must be a whole number"),
                    ));
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(m)
    } else {
        Err(problems)
    }
}

impl Manifest {
    /// The JSON body of `POST /api/manifests` (`manifest_id`, `kind`, `voyage` with `means`,
    /// `bills` with `lines`): what is absent is left out, so the API's reader names it.
    pub fn to_json(&self) -> Value {
        let mut voyage = serde_json::Map::new();
        let mode = self
            .voyage
            .mode
            .as_deref()
            .and_then(|m| MODES.iter().find(|(c, _)| *c == m))
            .map(|(_, name)| *name);
        let id = self.voyage.means_id.clone();
        let means = match mode {
            Some("vessel") => json!({"mode": "vessel", "imo": id, "name": self.voyage.means_name}),
            Some("train") => json!({"mode": "train", "train_no": id}),
            Some("truck") => json!({"mode": "truck", "plate": id}),
            Some(_) => json!({"mode": "flight", "flight_no": id}),
            None => Value::Null,
        };
        if !means.is_null() {
            voyage.insert("means".into(), means);
        }
        for (k, v) in [
            ("voyage_no", &self.voyage.voyage_no),
            ("direction", &self.voyage.direction),
            ("office", &self.voyage.office),
        ] {
            if let Some(v) = v {
                voyage.insert(k.into(), Value::String(v.clone()));
            }
        }
        let bills: Vec<Value> = self
            .bills
            .iter()
            .map(|b| {
                let kind = match &b.master {
                    Some(m) => json!({"kind": "house", "master": m}),
                    None => json!({"kind": "master"}),
                };
                let lines: Vec<Value> = b
                    .lines
                    .iter()
                    .map(|l| {
                        let mut o = serde_json::Map::new();
                        if let Some(n) = &l.packages {
                            o.insert(
                                "packages".into(),
                                n.parse::<u64>()
                                    .map_or_else(|_| Value::String(n.clone()), Value::from),
                            );
                        }
                        for (k, v) in [
                            ("package_type", &l.package_type),
                            ("gross_weight_kg", &l.gross_weight_kg),
                            ("description", &l.description),
                        ] {
                            if let Some(v) = v {
                                o.insert(k.into(), Value::String(v.clone()));
                            }
                        }
                        o.insert("containers".into(), json!(l.containers));
                        Value::Object(o)
                    })
                    .collect();
                json!({"bill_no": b.bill_no, "kind": kind, "lines": lines})
            })
            .collect();
        json!({
            "manifest_id": self.manifest_id,
            "kind": self.kind.as_deref().unwrap_or("original"),
            "voyage": Value::Object(voyage),
            "bills": bills,
        })
    }
}

/// The place in a CUSCAR of a field of the manifest's JSON body (as the cargo API names it:
/// `bills[0].lines[1].packages`), `None` where the message has none.
pub fn edifact_path(json_path: &str) -> Option<String> {
    Some(match json_path {
        "manifest_id" => "BGM.1004".into(),
        "kind" => "BGM.C002.1000".into(),
        "voyage" | "voyage.means" => "SG4 TDT".into(),
        "voyage.voyage_no" => "SG4 TDT.8028".into(),
        "voyage.means.mode" => "SG4 TDT.C220.8067".into(),
        "voyage.means.imo"
        | "voyage.means.flight_no"
        | "voyage.means.plate"
        | "voyage.means.train_no" => "SG4 TDT.C222.8213".into(),
        "voyage.means.name" => "SG4 TDT.C222.8212".into(),
        "voyage.direction" | "voyage.office" => "SG4 LOC.C517.3225".into(),
        _ => {
            let rest = json_path.strip_prefix("bills[")?;
            let (b, rest) = rest.split_once(']')?;
            let b: usize = b.parse().ok()?;
            let rest = rest.strip_prefix('.').unwrap_or(rest);
            match rest {
                "" => format!("SG7[{b}]"),
                "bill_no" => format!("SG7[{b}] CNI.C503.1004"),
                "kind" | "kind.master" => format!("SG7[{b}] SG8 RFF.C506.1154"),
                _ => {
                    let rest = rest.strip_prefix("lines[")?;
                    let (l, rest) = rest.split_once(']')?;
                    let l: usize = l.parse().ok()?;
                    let at = format!("SG7[{b}] SG14[{l}]");
                    match rest.strip_prefix('.').unwrap_or(rest) {
                        "" => at,
                        "packages" => format!("{at} GID.C213.7224"),
                        "package_type" => format!("{at} GID.C213.7065"),
                        "gross_weight_kg" => format!("{at} MEA[G].C174.6314"),
                        "description" => format!("{at} FTX[AAA].C108.4440"),
                        c if c.starts_with("containers") => format!("{at} SGP.C237.8260"),
                        _ => return None,
                    }
                }
            }
        }
    })
}

/// A manifest as a whole CUSCAR interchange (UNOW, UTF-8).
pub fn print(m: &Manifest, env: &Envelope) -> String {
    let o = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut s = Vec::new();
    s.push(seg(
        "BGM",
        &[&["785", "", "", &o(&m.kind)], &[&o(&m.manifest_id)], &["9"]],
    ));
    let v = &m.voyage;
    s.push(seg(
        "TDT",
        &[
            &["20"],
            &[&o(&v.voyage_no)],
            &[&o(&v.mode)],
            &[],
            &[],
            &[],
            &[],
            &[&o(&v.means_id), "", "", &o(&v.means_name)],
        ],
    ));
    if v.office.is_some() {
        let q = if v.direction.as_deref() == Some("export") {
            "42"
        } else {
            "41"
        };
        s.push(seg("LOC", &[&[q], &[&o(&v.office)]]));
    }
    for (i, b) in m.bills.iter().enumerate() {
        s.push(seg("CNI", &[&[&(i + 1).to_string()], &[&o(&b.bill_no)]]));
        match &b.master {
            Some(master) => s.push(seg("RFF", &[&["MB", master]])),
            None => s.push(seg("RFF", &[&["BM", &o(&b.bill_no)]])),
        }
        for (j, l) in b.lines.iter().enumerate() {
            s.push(seg(
                "GID",
                &[
                    &[&(j + 1).to_string()],
                    &[&o(&l.packages), &o(&l.package_type)],
                ],
            ));
            if let Some(d) = &l.description {
                s.push(ftx_aaa(d));
            }
            if let Some(w) = &l.gross_weight_kg {
                s.push(seg("MEA", &[&["AAE"], &["G"], &["KGM", w]]));
            }
            for c in &l.containers {
                s.push(seg("SGP", &[&[c]]));
            }
        }
    }
    edifact::print(&interchange(env, CUSCAR, s))
}

/// `FTX+AAA+++text`, the text split into components of at most 70 characters (C108 has five
/// of 512 in D.96B; 70 keeps lines short, and reading joins them).
fn ftx_aaa(text: &str) -> Segment {
    let chars: Vec<char> = text.chars().collect();
    let parts: Vec<String> = chars.chunks(70).map(|c| c.iter().collect()).collect();
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    seg("FTX", &[&["AAA"], &[], &[], &parts])
}
