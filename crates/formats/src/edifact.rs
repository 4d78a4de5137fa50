//! UN/EDIFACT syntax (ISO 9735, versions 3 and 4 as D.96B messages use them): an interchange
//! read into segments and printed back. The messages' meaning is elsewhere ([`crate::cusdec`]).
//!
//! - **Service string advice** (`UNA`): the six characters (component and element separators,
//!   decimal mark, release character, reserved, segment terminator) are read when present and
//!   checked (distinct, not letters or digits); without `UNA` the defaults `:+.? '` apply.
//! - **Release character**: a released separator is data; a release at the end of the input,
//!   or before a character that is not a separator or the release itself, is a problem.
//! - **Envelope**: `UNB` first (syntax identifier `UNOA`, `UNOB`, `UNOC` (Latin-1), `UNOW` or
//!   `UNOY` (UTF-8)), `UNZ` last with the number of messages and the interchange control
//!   reference of `UNB`; each message between `UNH` and `UNT`, whose segment count (`UNH` and
//!   `UNT` included) and message reference are checked. Every interchange-level problem is
//!   reported, each with its place (`UNZ.0036`, `message[0].UNT.0074`, `segment[7]`).
//! - Carriage returns and line feeds after a segment terminator are ignored (files are often
//!   wrapped one segment a line).
//! - Limits: [`BYTES_MAX`], [`SEGMENTS_MAX`] segments, [`MESSAGES_MAX`] messages; reading stops
//!   at [`PROBLEMS_MAX`] problems. Nothing panics on any input (`tests/edifact.rs`).
//!
//! Printing always writes `UNA:+.? '`, releases what needs it, and computes the counts.

use domain::Problem;

/// Largest interchange accepted (1 MiB, as for the other formats).
pub const BYTES_MAX: usize = 1024 * 1024;
/// Most segments in an interchange.
pub const SEGMENTS_MAX: usize = 100_000;
/// Most messages in an interchange.
pub const MESSAGES_MAX: usize = 1000;
/// Reading stops after this many problems.
pub const PROBLEMS_MAX: usize = 100;

/// The service characters of an interchange (`UNA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Separators {
    pub component: char,
    pub element: char,
    pub decimal: char,
    pub release: char,
    pub reserved: char,
    pub segment: char,
}

impl Default for Separators {
    fn default() -> Self {
        Separators {
            component: ':',
            element: '+',
            decimal: '.',
            release: '?',
            reserved: ' ',
            segment: '\'',
        }
    }
}

/// One segment: its tag and its data elements, each a list of components (a simple element
/// is one component). Trailing empty elements and components are dropped when read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub tag: String,
    pub elements: Vec<Vec<String>>,
}

impl Segment {
    /// A segment from its tag and elements given as component lists.
    pub fn new(tag: &str, elements: Vec<Vec<String>>) -> Segment {
        Segment {
            tag: tag.to_owned(),
            elements,
        }
    }

    /// Component `c` of element `e` (both 0-based; element 0 is the first after the tag),
    /// absent when missing or empty.
    pub fn get(&self, e: usize, c: usize) -> Option<&str> {
        self.elements
            .get(e)
            .and_then(|el| el.get(c))
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }
}

/// One message between `UNH` and `UNT` (exclusive).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// `UNH` 0062, the message reference number.
    pub reference: String,
    /// `UNH` S009: type (`CUSDEC`), version (`D`), release (`96B`), agency (`UN`).
    pub message_type: String,
    pub version: String,
    pub release: String,
    pub agency: String,
    pub segments: Vec<Segment>,
}

/// An interchange: its envelope and messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interchange {
    pub separators: Separators,
    /// Whether the input began with `UNA` (printing always writes it).
    pub una: bool,
    /// `UNB` S001: syntax identifier and version (`UNOW`, `4`).
    pub syntax: String,
    pub syntax_version: String,
    /// `UNB` S002 and S003 first components.
    pub sender: String,
    pub recipient: String,
    /// `UNB` S004: `YYMMDD` or `CCYYMMDD`, and `HHMM`.
    pub date: String,
    pub time: String,
    /// `UNB` 0020, repeated in `UNZ`.
    pub control_reference: String,
    pub messages: Vec<Message>,
}

fn problem(field: impl Into<String>, code: &'static str, zh: String, en: String) -> Problem {
    Problem::new(field, code, zh, en)
}

/// A segment as read, with its 1-based position in the interchange.
struct Raw {
    position: usize,
    segment: Segment,
}

/// The characters of the input, decoded by the syntax identifier of `UNB` (found by a first
/// look at the bytes: `UNB+UNOC` and friends are ASCII in every encoding).
fn decode(bytes: &[u8]) -> Result<String, Problem> {
    let syntax = bytes
        .windows(8)
        .position(|w| &w[..3] == b"UNB")
        .and_then(|at| bytes.get(at + 4..at + 8))
        .map(|s| String::from_utf8_lossy(s).into_owned());
    match syntax.as_deref() {
        Some("UNOC") => Ok(bytes.iter().map(|b| char::from(*b)).collect()),
        Some("UNOA") | Some("UNOB") => {
            if bytes.is_ascii() {
                Ok(String::from_utf8_lossy(bytes).into_owned())
            } else {
                Err(problem(
                    "UNB.S001",
                    "encoding",
                    "字符集 UNOA/UNOB 只允许 ASCII 字符；中文请使用 UNOW（UTF-8）".into(),
                    "syntax UNOA/UNOB allows ASCII only; use UNOW (UTF-8) for Chinese text".into(),
                ))
            }
        }
        Some("UNOW") | Some("UNOY") | None => String::from_utf8(bytes.to_vec()).map_err(|e| {
            problem(
                "UNB.S001",
                "encoding",
                format!(
                    "内容不是有效的 UTF-8（约第 {} 字节）",
                    e.utf8_error().valid_up_to()
                ),
                format!(
                    "the text is not valid UTF-8 (near byte {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        }),
        Some(other) => Err(problem(
            "UNB.S001",
            "syntax_identifier",
            format!("不支持的字符集 {other}：请使用 UNOA、UNOB、UNOC、UNOW 或 UNOY"),
            format!(
                "syntax identifier {other} is not supported: use UNOA, UNOB, UNOC, UNOW or UNOY"
            ),
        )),
    }
}

/// Split the text into segments, honouring the release character.
fn segments(text: &str, sep: &Separators, problems: &mut Vec<Problem>) -> Vec<Raw> {
    let mut out = Vec::new();
    let mut elements: Vec<Vec<String>> = vec![vec![String::new()]];
    let mut chars = text.chars().peekable();
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if at_start && (c == '\r' || c == '\n') {
            continue;
        }
        at_start = false;
        let last_el = elements.len() - 1;
        if c == sep.release {
            match chars.next() {
                Some(n)
                    if n == sep.component
                        || n == sep.element
                        || n == sep.release
                        || n == sep.segment
                        || (n == sep.reserved && sep.reserved != ' ') =>
                {
                    if let Some(comp) = elements[last_el].last_mut() {
                        comp.push(n);
                    }
                }
                Some(n) => {
                    problems.push(problem(
                        format!("segment[{}]", out.len() + 1),
                        "release",
                        format!("释放字符 {} 之后须为分隔符，而不是 {n}", sep.release),
                        format!(
                            "the release character {} must precede a separator, not {n}",
                            sep.release
                        ),
                    ));
                    if let Some(comp) = elements[last_el].last_mut() {
                        comp.push(n);
                    }
                }
                None => problems.push(problem(
                    format!("segment[{}]", out.len() + 1),
                    "release",
                    "释放字符出现在末尾".into(),
                    "the input ends with a release character".into(),
                )),
            }
        } else if c == sep.component {
            elements[last_el].push(String::new());
        } else if c == sep.element {
            elements.push(vec![String::new()]);
        } else if c == sep.segment {
            let mut els = std::mem::replace(&mut elements, vec![vec![String::new()]]);
            let tag = els.remove(0).into_iter().next().unwrap_or_default();
            // Trailing empty components and elements carry nothing.
            for el in els.iter_mut() {
                while el.len() > 1 && el.last().is_some_and(String::is_empty) {
                    el.pop();
                }
            }
            while els.last().is_some_and(|e| e.iter().all(String::is_empty)) {
                els.pop();
            }
            out.push(Raw {
                position: out.len() + 1,
                segment: Segment { tag, elements: els },
            });
            at_start = true;
            if out.len() > SEGMENTS_MAX {
                problems.push(problem(
                    "",
                    "too_many",
                    format!("片段超过 {SEGMENTS_MAX} 个"),
                    format!("more than {SEGMENTS_MAX} segments"),
                ));
                return out;
            }
        } else if let Some(comp) = elements[last_el].last_mut() {
            comp.push(c);
        }
    }
    let rest_empty =
        elements.len() == 1 && elements[0].len() == 1 && elements[0][0].trim().is_empty();
    if !rest_empty {
        problems.push(problem(
            format!("segment[{}]", out.len() + 1),
            "unterminated",
            format!("最后一个片段没有以 {} 结束（报文被截断？）", sep.segment),
            format!(
                "the last segment does not end with {} (a truncated interchange?)",
                sep.segment
            ),
        ));
    }
    out
}

fn tag_ok(tag: &str) -> bool {
    tag.len() == 3
        && tag
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Read an interchange. Every envelope problem is reported at once.
pub fn parse(bytes: &[u8]) -> Result<Interchange, Vec<Problem>> {
    if bytes.len() > BYTES_MAX {
        return Err(vec![problem(
            "",
            "too_large",
            format!("交换超过 {BYTES_MAX} 字节"),
            format!("the interchange is larger than {BYTES_MAX} bytes"),
        )]);
    }
    let text = decode(bytes).map_err(|p| vec![p])?;
    let text = text.trim_start_matches('\u{feff}');
    if text.trim().is_empty() {
        return Err(vec![problem(
            "",
            "empty",
            "交换为空".into(),
            "the interchange is empty".into(),
        )]);
    }
    let mut problems = Vec::new();
    let (sep, una, body) = match text.strip_prefix("UNA") {
        Some(rest) => {
            let c: Vec<char> = rest.chars().take(6).collect();
            if c.len() < 6 {
                return Err(vec![problem(
                    "UNA",
                    "una",
                    "UNA 须有 6 个服务字符".into(),
                    "UNA must give 6 service characters".into(),
                )]);
            }
            let sep = Separators {
                component: c[0],
                element: c[1],
                decimal: c[2],
                release: c[3],
                reserved: c[4],
                segment: c[5],
            };
            let active = [sep.component, sep.element, sep.release, sep.segment];
            let distinct = active
                .iter()
                .enumerate()
                .all(|(i, a)| active.iter().skip(i + 1).all(|b| a != b));
            if !distinct
                || active
                    .iter()
                    .any(|c| c.is_alphanumeric() || (c.is_whitespace() && *c != '\n'))
            {
                return Err(vec![problem(
                    "UNA",
                    "una",
                    "UNA 的分隔符、释放字符和片段终止符须各不相同，且不能是字母或数字".into(),
                    "the separators, release character and segment terminator of UNA must differ and must not be letters or digits".into(),
                )]);
            }
            if sep.decimal != '.' && sep.decimal != ',' {
                problems.push(problem(
                    "UNA",
                    "decimal_mark",
                    format!("小数点须为 . 或 ,，而不是 {}", sep.decimal),
                    format!("the decimal mark is . or , not {}", sep.decimal),
                ));
            }
            let skip: usize = c.iter().map(|ch| ch.len_utf8()).sum();
            (sep, true, &rest[skip..])
        }
        None => (Separators::default(), false, text),
    };
    let raw = segments(body, &sep, &mut problems);
    for r in &raw {
        if !tag_ok(&r.segment.tag) && problems.len() < PROBLEMS_MAX {
            problems.push(problem(
                format!("segment[{}]", r.position),
                "tag",
                format!(
                    "片段标签须为 3 个大写字母或数字，而不是 “{}”",
                    r.segment.tag
                ),
                format!(
                    "a segment tag is 3 capitals or digits, not \"{}\"",
                    r.segment.tag
                ),
            ));
        }
    }
    let mut it = raw.into_iter().peekable();
    let unb = match it.next() {
        Some(r) if r.segment.tag == "UNB" => r.segment,
        _ => {
            problems.push(problem(
                "UNB",
                "envelope",
                "交换须以 UNB 开始".into(),
                "an interchange begins with UNB".into(),
            ));
            return Err(problems);
        }
    };
    let syntax = unb.get(0, 0).unwrap_or_default().to_owned();
    let syntax_version = unb.get(0, 1).unwrap_or_default().to_owned();
    if !matches!(syntax_version.as_str(), "1" | "2" | "3" | "4") {
        problems.push(problem(
            "UNB.S001.0002",
            "syntax_version",
            format!("语法版本须为 1 至 4，而不是 “{syntax_version}”"),
            format!("the syntax version is 1 to 4, not \"{syntax_version}\""),
        ));
    }
    let sender = unb.get(1, 0).unwrap_or_default().to_owned();
    let recipient = unb.get(2, 0).unwrap_or_default().to_owned();
    for (name, v) in [("UNB.S002", &sender), ("UNB.S003", &recipient)] {
        if v.is_empty() {
            problems.push(problem(
                name,
                "required",
                format!("{name} 为必填项"),
                format!("{name} is required"),
            ));
        }
    }
    let date = unb.get(3, 0).unwrap_or_default().to_owned();
    let time = unb.get(3, 1).unwrap_or_default().to_owned();
    let control_reference = unb.get(4, 0).unwrap_or_default().to_owned();
    if control_reference.is_empty() {
        problems.push(problem(
            "UNB.0020",
            "required",
            "UNB.0020（交换控制参考号）为必填项".into(),
            "UNB.0020 (interchange control reference) is required".into(),
        ));
    }

    let mut messages = Vec::new();
    let mut unz: Option<Segment> = None;
    while let Some(r) = it.next() {
        match r.segment.tag.as_str() {
            "UNH" => {
                let index = messages.len();
                let h = r.segment;
                let reference = h.get(0, 0).unwrap_or_default().to_owned();
                let mut segs = Vec::new();
                let mut unt = None;
                for s in it.by_ref() {
                    match s.segment.tag.as_str() {
                        "UNT" => {
                            unt = Some(s.segment);
                            break;
                        }
                        "UNH" | "UNZ" | "UNB" => {
                            problems.push(problem(
                                format!("message[{index}]"),
                                "envelope",
                                format!("报文 {reference} 在 UNT 之前遇到 {}", s.segment.tag),
                                format!("message {reference}: {} before its UNT", s.segment.tag),
                            ));
                            return Err(problems);
                        }
                        _ => segs.push(s.segment),
                    }
                }
                match unt {
                    None => problems.push(problem(
                        format!("message[{index}].UNT"),
                        "envelope",
                        format!("报文 {reference} 没有 UNT"),
                        format!("message {reference} has no UNT"),
                    )),
                    Some(t) => {
                        let count = segs.len() + 2;
                        if t.get(0, 0) != Some(count.to_string().as_str()) {
                            problems.push(problem(
                                format!("message[{index}].UNT.0074"),
                                "segment_count",
                                format!(
                                    "UNT 的片段数为 {}，实际为 {count}（含 UNH 和 UNT）",
                                    t.get(0, 0).unwrap_or("")
                                ),
                                format!(
                                    "UNT gives {} segments, the message has {count} (UNH and UNT included)",
                                    t.get(0, 0).unwrap_or("")
                                ),
                            ));
                        }
                        if t.get(1, 0).unwrap_or_default() != reference {
                            problems.push(problem(
                                format!("message[{index}].UNT.0062"),
                                "control_reference",
                                format!(
                                    "UNT 的报文参考号 {} 与 UNH 的 {reference} 不同",
                                    t.get(1, 0).unwrap_or("")
                                ),
                                format!(
                                    "the message reference of UNT, {}, differs from UNH's {reference}",
                                    t.get(1, 0).unwrap_or("")
                                ),
                            ));
                        }
                    }
                }
                if reference.is_empty() {
                    problems.push(problem(
                        format!("message[{index}].UNH.0062"),
                        "required",
                        "UNH.0062（报文参考号）为必填项".into(),
                        "UNH.0062 (message reference number) is required".into(),
                    ));
                }
                messages.push(Message {
                    reference,
                    message_type: h.get(1, 0).unwrap_or_default().to_owned(),
                    version: h.get(1, 1).unwrap_or_default().to_owned(),
                    release: h.get(1, 2).unwrap_or_default().to_owned(),
                    agency: h.get(1, 3).unwrap_or_default().to_owned(),
                    segments: segs,
                });
                if messages.len() > MESSAGES_MAX {
                    problems.push(problem(
                        "",
                        "too_many",
                        format!("报文超过 {MESSAGES_MAX} 个"),
                        format!("more than {MESSAGES_MAX} messages"),
                    ));
                    return Err(problems);
                }
            }
            "UNZ" => {
                unz = Some(r.segment);
                if let Some(extra) = it.next() {
                    problems.push(problem(
                        format!("segment[{}]", extra.position),
                        "envelope",
                        "UNZ 之后还有片段".into(),
                        "segments after UNZ".into(),
                    ));
                }
                break;
            }
            other => {
                problems.push(problem(
                    format!("segment[{}]", r.position),
                    "envelope",
                    format!("片段 {other} 不在任何报文（UNH…UNT）之内"),
                    format!("segment {other} is outside any message (UNH…UNT)"),
                ));
            }
        }
        if problems.len() >= PROBLEMS_MAX {
            return Err(problems);
        }
    }
    match unz {
        None => problems.push(problem(
            "UNZ",
            "envelope",
            "交换须以 UNZ 结束".into(),
            "an interchange ends with UNZ".into(),
        )),
        Some(z) => {
            if z.get(0, 0) != Some(messages.len().to_string().as_str()) {
                problems.push(problem(
                    "UNZ.0036",
                    "message_count",
                    format!(
                        "UNZ 的报文数为 {}，实际为 {}",
                        z.get(0, 0).unwrap_or(""),
                        messages.len()
                    ),
                    format!(
                        "UNZ gives {} messages, the interchange has {}",
                        z.get(0, 0).unwrap_or(""),
                        messages.len()
                    ),
                ));
            }
            if z.get(1, 0).unwrap_or_default() != control_reference {
                problems.push(problem(
                    "UNZ.0020",
                    "control_reference",
                    format!(
                        "UNZ 的交换控制参考号 {} 与 UNB 的 {control_reference} 不同",
                        z.get(1, 0).unwrap_or("")
                    ),
                    format!(
                        "the interchange control reference of UNZ, {}, differs from UNB's {control_reference}",
                        z.get(1, 0).unwrap_or("")
                    ),
                ));
            }
        }
    }
    problems.truncate(PROBLEMS_MAX);
    if problems.is_empty() {
        Ok(Interchange {
            separators: sep,
            una,
            syntax,
            syntax_version,
            sender,
            recipient,
            date,
            time,
            control_reference,
            messages,
        })
    } else {
        Err(problems)
    }
}

/// A value with the service characters released.
fn released(v: &str, sep: &Separators, out: &mut String) {
    for c in v.chars() {
        if c == sep.component || c == sep.element || c == sep.release || c == sep.segment {
            out.push(sep.release);
        }
        out.push(c);
    }
}

fn print_segment(s: &Segment, sep: &Separators, out: &mut String) {
    out.push_str(&s.tag);
    // Trailing empty elements are not written.
    let last = s
        .elements
        .iter()
        .rposition(|e| e.iter().any(|c| !c.is_empty()))
        .map_or(0, |i| i + 1);
    for el in &s.elements[..last] {
        out.push(sep.element);
        let last_c = el.iter().rposition(|c| !c.is_empty()).map_or(0, |i| i + 1);
        for (i, c) in el[..last_c].iter().enumerate() {
            if i > 0 {
                out.push(sep.component);
            }
            released(c, sep, out);
        }
    }
    out.push(sep.segment);
    out.push('\n');
}

/// The interchange as text: `UNA:+.? '`, `UNB`, each message with `UNH`/`UNT` and its
/// segment count, `UNZ` with the message count; one segment a line.
pub fn print(i: &Interchange) -> String {
    let sep = Separators::default();
    let mut out = String::with_capacity(4096);
    out.push_str("UNA:+.? '\n");
    let v = |s: &str| vec![s.to_owned()];
    print_segment(
        &Segment::new(
            "UNB",
            vec![
                vec![i.syntax.clone(), i.syntax_version.clone()],
                v(&i.sender),
                v(&i.recipient),
                vec![i.date.clone(), i.time.clone()],
                v(&i.control_reference),
            ],
        ),
        &sep,
        &mut out,
    );
    for m in &i.messages {
        print_segment(
            &Segment::new(
                "UNH",
                vec![
                    v(&m.reference),
                    vec![
                        m.message_type.clone(),
                        m.version.clone(),
                        m.release.clone(),
                        m.agency.clone(),
                    ],
                ],
            ),
            &sep,
            &mut out,
        );
        for s in &m.segments {
            print_segment(s, &sep, &mut out);
        }
        print_segment(
            &Segment::new(
                "UNT",
                vec![v(&(m.segments.len() + 2).to_string()), v(&m.reference)],
            ),
            &sep,
            &mut out,
        );
    }
    print_segment(
        &Segment::new(
            "UNZ",
            vec![v(&i.messages.len().to_string()), v(&i.control_reference)],
        ),
        &sep,
        &mut out,
    );
    out
}
