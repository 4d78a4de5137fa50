//! Rules (布控指令) as risk analysts write them: [`Rule`], [`RuleSet`], the readable text format
//! and its JSON twin (both in docs/RISK.md), and [`RuleError`] with the line, rule and field of
//! every problem, all reported at once.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

use chrono::NaiveDate;
use clearance::Lane;
use domain::codes::OfficeCode;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::expr::{self, Expr, Piece, Pos};

/// Limits (house style: a limit on everything).
pub const RULES_MAX: usize = 100_000;
pub const PRIORITY_MAX: u32 = 999;
pub const ID_LEN_MAX: usize = 64;
pub const TEXT_LEN_MAX: usize = 500;

/// What an intervention consists of. Defaults by lane: yellow → document review, red →
/// physical inspection, blue → post-clearance audit, green → none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InspectionKind {
    /// 单证审核
    Document,
    /// 人工查验: opening and examining the goods.
    Physical,
    /// 机检: scanning (H986 and similar) without opening.
    Machine,
    /// 取样化验: samples taken for a laboratory.
    Sampling,
    /// 稽核: audit after release (blue lane).
    PostClearanceAudit,
}

impl InspectionKind {
    pub const ALL: [InspectionKind; 5] = [
        InspectionKind::Document,
        InspectionKind::Physical,
        InspectionKind::Machine,
        InspectionKind::Sampling,
        InspectionKind::PostClearanceAudit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InspectionKind::Document => "document",
            InspectionKind::Physical => "physical",
            InspectionKind::Machine => "machine",
            InspectionKind::Sampling => "sampling",
            InspectionKind::PostClearanceAudit => "post_clearance_audit",
        }
    }

    pub fn parse(s: &str) -> Option<InspectionKind> {
        InspectionKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The kind a lane implies when a rule names none.
    pub fn for_lane(lane: Lane) -> Option<InspectionKind> {
        match lane {
            Lane::Green => None,
            Lane::Yellow => Some(InspectionKind::Document),
            Lane::Red => Some(InspectionKind::Physical),
            Lane::Blue => Some(InspectionKind::PostClearanceAudit),
        }
    }
}

/// Lanes ordered by how much they intervene: green < blue < yellow < red.
pub fn severity(lane: Lane) -> u8 {
    match lane {
        Lane::Green => 0,
        Lane::Blue => 1,
        Lane::Yellow => 2,
        Lane::Red => 3,
    }
}

/// A reason code with its message in Chinese and English.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub zh: String,
    pub en: String,
}

/// What a rule does when it fires.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Action {
    pub lane: Lane,
    /// `None`: the lane's default ([`InspectionKind::for_lane`]).
    pub inspection: Option<InspectionKind>,
    pub reason: Reason,
    /// Hold the declaration for anti-smuggling (挂起).
    pub suspend: bool,
}

/// One version of one rule. In JSON, the form of docs/RISK.md (`parse_json`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RuleJson", into = "RuleJson")]
pub struct Rule {
    pub id: String,
    pub version: u32,
    /// The owner office: the rule applies to declarations of this office and those below it.
    pub office: OfficeCode,
    pub valid_from: NaiveDate,
    /// Inclusive; `None`: open-ended.
    pub valid_to: Option<NaiveDate>,
    /// 0..=999, higher wins (see docs/RISK.md, "Which lane wins").
    pub priority: u32,
    pub when: Expr,
    pub action: Action,
    /// Line of `rule` in the source text, for messages; not part of the rule.
    pub line: u32,
}

impl Rule {
    pub fn valid_on(&self, day: NaiveDate) -> bool {
        self.valid_from <= day && self.valid_to.is_none_or(|to| day <= to)
    }

    /// `id@version`, as reasons and reports name a rule version.
    pub fn label(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

/// Every problem found in a rule file: where (line, column when known), which rule, which
/// field or key, and why, in Chinese and English.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleError {
    pub line: u32,
    pub column: Option<u32>,
    /// The rule id, when the problem is inside a rule.
    pub rule: Option<String>,
    /// The key (`lane`, `valid`, ...) or condition field (`origin`) concerned.
    pub field: String,
    pub message_zh: String,
    pub message_en: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(c) = self.column {
            write!(f, ":{c}")?;
        }
        if let Some(r) = &self.rule {
            write!(f, " rule {r}")?;
        }
        if !self.field.is_empty() {
            write!(f, " [{}]", self.field)?;
        }
        write!(f, ": {} / {}", self.message_en, self.message_zh)
    }
}

/// A validated set of rules: ids well formed, each (id, version) once, dates in order,
/// conditions parsed and type-checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

const KEYS: &[&str] = &[
    "version",
    "office",
    "valid",
    "priority",
    "when",
    "lane",
    "inspection",
    "reason",
    "suspend",
    "end",
];

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= ID_LEN_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Splits `"a b" "c"`-style quoted strings; `None` when the text is not only quoted strings.
fn quoted_strings(text: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut chars = text.trim().chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Some(out),
            Some('"') => {}
            Some(_) => return None,
        }
        let mut s = String::new();
        loop {
            match chars.next()? {
                '"' => break,
                '\\' => s.push(chars.next()?),
                c => s.push(c),
            }
        }
        out.push(s);
    }
}

/// Strips a `#` comment that is not inside a string.
fn strip_comment(line: &str) -> &str {
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' if in_str && !escaped => {
                escaped = true;
                continue;
            }
            '"' if !escaped => in_str = !in_str,
            '#' if !in_str => return &line[..i],
            _ => {}
        }
        escaped = false;
    }
    line
}

/// A rule while its block is read: each key once.
#[derive(Default)]
struct Draft<'a> {
    id: String,
    line: u32,
    version: Option<u32>,
    office: Option<OfficeCode>,
    valid: Option<(NaiveDate, Option<NaiveDate>)>,
    priority: Option<u32>,
    when: Vec<Piece<'a>>,
    when_line: u32,
    lane: Option<Lane>,
    inspection: Option<InspectionKind>,
    reason: Option<Reason>,
    suspend: bool,
    seen: Vec<&'static str>,
    broken: bool,
}

struct Errors {
    list: Vec<RuleError>,
}

impl Errors {
    fn push(
        &mut self,
        line: u32,
        column: Option<u32>,
        rule: Option<&str>,
        field: &str,
        zh: String,
        en: String,
    ) {
        self.list.push(RuleError {
            line,
            column,
            rule: rule.map(str::to_owned),
            field: field.to_owned(),
            message_zh: zh,
            message_en: en,
        });
    }
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn check_reason(code: &str, zh: &str, en: &str) -> Result<(), (String, String)> {
    if !valid_id(code) {
        return Err((
            format!("原因代码只能包含字母、数字、- _ .，至多{ID_LEN_MAX}个字符：\"{code}\""),
            format!("a reason code is letters, digits, - _ . (at most {ID_LEN_MAX}): \"{code}\""),
        ));
    }
    if zh.trim().is_empty() || en.trim().is_empty() {
        return Err((
            "原因需要中文和英文说明".into(),
            "a reason needs a Chinese and an English message".into(),
        ));
    }
    if zh.len() > TEXT_LEN_MAX || en.len() > TEXT_LEN_MAX {
        return Err((
            format!("原因说明超过{TEXT_LEN_MAX}字节"),
            format!("reason message longer than {TEXT_LEN_MAX} bytes"),
        ));
    }
    Ok(())
}

impl RuleSet {
    /// Parses a rule file: the text format, or JSON when the first non-blank character is `[`
    /// or `{`. Returns every problem found, in line order.
    pub fn parse(text: &str) -> Result<RuleSet, Vec<RuleError>> {
        match text.trim_start().chars().next() {
            Some('[' | '{') => RuleSet::parse_json(text),
            _ => RuleSet::parse_text(text),
        }
    }

    /// Builds a set from rules already in memory (from storage), with the same checks as a
    /// file except positions (errors name the rule's index as its line).
    pub fn from_rules(rules: Vec<Rule>) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = Errors { list: Vec::new() };
        for (i, r) in rules.iter().enumerate() {
            let line = if r.line > 0 { r.line } else { i as u32 + 1 };
            let id = Some(r.id.as_str());
            if !valid_id(&r.id) {
                errors.push(
                    line,
                    None,
                    id,
                    "id",
                    format!("规则编号无效：\"{}\"", r.id),
                    format!("invalid rule id \"{}\"", r.id),
                );
            }
            if r.version == 0 {
                errors.push(
                    line,
                    None,
                    id,
                    "version",
                    "版本号从1开始".into(),
                    "versions start at 1".into(),
                );
            }
            if r.priority > PRIORITY_MAX {
                errors.push(
                    line,
                    None,
                    id,
                    "priority",
                    format!("优先级应在0到{PRIORITY_MAX}之间"),
                    format!("priority is 0 to {PRIORITY_MAX}"),
                );
            }
            if r.valid_to.is_some_and(|to| to < r.valid_from) {
                errors.push(
                    line,
                    None,
                    id,
                    "valid",
                    "有效期结束日期早于开始日期".into(),
                    "validity ends before it starts".into(),
                );
            }
            if let Err((zh, en)) = check_reason(
                &r.action.reason.code,
                &r.action.reason.zh,
                &r.action.reason.en,
            ) {
                errors.push(line, None, id, "reason", zh, en);
            }
            // Conditions built in code are re-parsed from their text so the same checks apply.
            if let Err(e) = r.when.to_string().parse::<Expr>() {
                errors.push(line, None, id, "when", e.message_zh, e.message_en);
            }
        }
        let mut set = RuleSet { rules };
        set.check_set(&mut errors);
        if errors.list.is_empty() {
            set.rules
                .sort_by(|a, b| (&a.id, a.version).cmp(&(&b.id, b.version)));
            Ok(set)
        } else {
            errors.list.sort_by_key(|e| (e.line, e.column));
            Err(errors.list)
        }
    }

    fn check_set(&self, errors: &mut Errors) {
        if self.rules.len() > RULES_MAX {
            errors.push(
                1,
                None,
                None,
                "",
                format!("规则超过 {RULES_MAX} 条"),
                format!("more than {RULES_MAX} rules"),
            );
        }
        let mut seen: BTreeMap<(&str, u32), u32> = BTreeMap::new();
        for r in &self.rules {
            if let Some(first) = seen.insert((&r.id, r.version), r.line) {
                errors.push(
                    r.line,
                    None,
                    Some(&r.id),
                    "version",
                    format!("规则 {} 版本 {} 重复（第{first}行已定义）", r.id, r.version),
                    format!(
                        "rule {} version {} is defined twice (first at line {first})",
                        r.id, r.version
                    ),
                );
            }
        }
    }

    /// The text format (docs/RISK.md).
    pub fn parse_text(text: &str) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = Errors { list: Vec::new() };
        let mut rules = Vec::new();
        let mut draft: Option<Draft<'_>> = None;
        let mut last_key_when = false;
        for (n, raw) in text.lines().enumerate() {
            let line_no = n as u32 + 1;
            let line = strip_comment(raw);
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            let column = raw[..indent].chars().count() as u32 + 1;
            let (word, rest) = match trimmed.split_once(char::is_whitespace) {
                Some((w, r)) => (w, r.trim()),
                None => (trimmed, ""),
            };
            let rest_col = if rest.is_empty() {
                column
            } else {
                column_of(raw, rest)
            };
            let Some(d) = draft.as_mut() else {
                if word == "rule" {
                    let id = rest.split_whitespace().next().unwrap_or("");
                    if !valid_id(id) || rest.split_whitespace().count() != 1 {
                        errors.push(line_no, Some(rest_col), None, "id",
                            format!("`rule` 后应为规则编号（字母、数字、- _ .，至多{ID_LEN_MAX}个字符）：\"{rest}\""),
                            format!("`rule` takes one rule id (letters, digits, - _ ., at most {ID_LEN_MAX}): \"{rest}\""));
                    }
                    draft = Some(Draft {
                        id: id.to_owned(),
                        line: line_no,
                        broken: !valid_id(id),
                        ..Draft::default()
                    });
                    last_key_when = false;
                } else {
                    errors.push(
                        line_no,
                        Some(column),
                        None,
                        "",
                        format!("此处应为 `rule 编号`，遇到 `{word}`"),
                        format!("expected `rule ID` to start a rule, found `{word}`"),
                    );
                }
                continue;
            };
            let rid = Some(d.id.clone());
            let rid = rid.as_deref();
            if !KEYS.contains(&word) {
                if last_key_when {
                    d.when.push(Piece {
                        pos: Pos {
                            line: line_no,
                            column,
                        },
                        text: trimmed,
                    });
                } else if word == "rule" {
                    errors.push(
                        line_no,
                        Some(column),
                        rid,
                        "end",
                        format!("规则 {} 缺少 `end`", d.id),
                        format!("rule {} has no `end` before the next `rule`", d.id),
                    );
                    // Read this line as the start of a new rule.
                    let id = rest.split_whitespace().next().unwrap_or("");
                    draft = Some(Draft {
                        id: id.to_owned(),
                        line: line_no,
                        broken: !valid_id(id),
                        ..Draft::default()
                    });
                } else {
                    errors.push(
                        line_no,
                        Some(column),
                        rid,
                        word,
                        format!("未知的键 `{word}`（可用：{}）", KEYS.join(" ")),
                        format!("unknown key `{word}` (keys: {})", KEYS.join(" ")),
                    );
                    d.broken = true;
                }
                continue;
            }
            last_key_when = word == "when";
            let key: &'static str = KEYS.iter().find(|k| **k == word).expect("listed");
            if key != "end" {
                if d.seen.contains(&key) {
                    errors.push(
                        line_no,
                        Some(column),
                        rid,
                        key,
                        format!("`{key}` 重复"),
                        format!("`{key}` given twice"),
                    );
                    d.broken = true;
                    continue;
                }
                d.seen.push(key);
            }
            let mut bad = |zh: String, en: String| {
                errors.push(line_no, Some(rest_col), rid, key, zh, en);
            };
            match key {
                "version" => match rest.parse::<u32>() {
                    Ok(v) if v >= 1 => d.version = Some(v),
                    _ => {
                        bad(
                            format!("版本号应为正整数：\"{rest}\""),
                            format!("version is a whole number from 1: \"{rest}\""),
                        );
                        d.broken = true;
                    }
                },
                "office" => match OfficeCode::parse(rest) {
                    Ok(o) => d.office = Some(o),
                    Err(_) => {
                        bad(
                            format!("关区代码应为4位数字：\"{rest}\""),
                            format!("office is a 4-digit customs office code: \"{rest}\""),
                        );
                        d.broken = true;
                    }
                },
                "valid" => {
                    // `valid FROM to TO` or `valid from FROM`
                    let words: Vec<&str> = rest.split_whitespace().collect();
                    let parsed = match words.as_slice() {
                        [from, "to", to] => parse_date(from).zip(parse_date(to).map(Some)),
                        ["from", from] | [from] => parse_date(from).map(|f| (f, None)),
                        _ => None,
                    };
                    match parsed {
                        Some((from, Some(to))) if to < from => {
                            bad(
                                format!("有效期结束日期 {to} 早于开始日期 {from}"),
                                format!("validity ends ({to}) before it starts ({from})"),
                            );
                            d.broken = true;
                        }
                        Some(v) => d.valid = Some(v),
                        None => {
                            bad(format!("有效期格式应为 `valid 2025-01-01 to 2025-12-31` 或 `valid from 2025-01-01`：\"{rest}\""), format!("write `valid 2025-01-01 to 2025-12-31` or `valid from 2025-01-01`: \"{rest}\""));
                            d.broken = true;
                        }
                    }
                }
                "priority" => match rest.parse::<u32>() {
                    Ok(p) if p <= PRIORITY_MAX => d.priority = Some(p),
                    _ => {
                        bad(
                            format!("优先级应为0到{PRIORITY_MAX}的整数：\"{rest}\""),
                            format!("priority is a whole number 0 to {PRIORITY_MAX}: \"{rest}\""),
                        );
                        d.broken = true;
                    }
                },
                "when" => {
                    d.when_line = line_no;
                    if !rest.is_empty() {
                        d.when.push(Piece {
                            pos: Pos {
                                line: line_no,
                                column: rest_col,
                            },
                            text: rest,
                        });
                    }
                }
                "lane" => match Lane::parse(rest) {
                    Some(l) => d.lane = Some(l),
                    None => {
                        bad(
                            format!("通道应为 green、yellow、red 或 blue：\"{rest}\""),
                            format!("lane is green, yellow, red or blue: \"{rest}\""),
                        );
                        d.broken = true;
                    }
                },
                "inspection" => match InspectionKind::parse(rest) {
                    Some(k) => d.inspection = Some(k),
                    None => {
                        let kinds: Vec<&str> =
                            InspectionKind::ALL.iter().map(|k| k.as_str()).collect();
                        bad(
                            format!("查验方式应为 {}：\"{rest}\"", kinds.join("、")),
                            format!("inspection is one of {}: \"{rest}\"", kinds.join(", ")),
                        );
                        d.broken = true;
                    }
                },
                "reason" => {
                    let (code, msgs) = match rest.split_once(char::is_whitespace) {
                        Some((c, m)) => (c, m),
                        None => (rest, ""),
                    };
                    match quoted_strings(msgs).as_deref() {
                        Some([zh, en]) => match check_reason(code, zh, en) {
                            Ok(()) => {
                                d.reason = Some(Reason {
                                    code: code.to_owned(),
                                    zh: zh.clone(),
                                    en: en.clone(),
                                })
                            }
                            Err((zh, en)) => {
                                bad(zh, en);
                                d.broken = true;
                            }
                        },
                        _ => {
                            bad(
                                "原因格式应为 `reason 代码 \"中文说明\" \"English message\"`"
                                    .into(),
                                "write `reason CODE \"中文说明\" \"English message\"`".into(),
                            );
                            d.broken = true;
                        }
                    }
                }
                "suspend" => {
                    if rest.is_empty() || rest == "true" {
                        d.suspend = true;
                    } else if rest == "false" {
                        d.suspend = false;
                    } else {
                        bad(
                            format!("`suspend` 后不应有其他内容：\"{rest}\""),
                            format!("`suspend` stands alone: \"{rest}\""),
                        );
                        d.broken = true;
                    }
                }
                "end" => {
                    let d = draft.take().expect("inside a rule");
                    if let Some(rule) = finish(d, line_no, &mut errors) {
                        rules.push(rule);
                    }
                    last_key_when = false;
                }
                _ => unreachable!("every key is matched"),
            }
        }
        if let Some(d) = draft {
            errors.push(
                d.line,
                None,
                Some(&d.id),
                "end",
                format!("规则 {} 缺少 `end`", d.id),
                format!("rule {} has no `end`", d.id),
            );
        }
        let set = RuleSet { rules };
        set.check_set(&mut errors);
        if errors.list.is_empty() {
            let mut set = set;
            set.rules
                .sort_by(|a, b| (&a.id, a.version).cmp(&(&b.id, b.version)));
            Ok(set)
        } else {
            errors.list.sort_by_key(|e| (e.line, e.column));
            Err(errors.list)
        }
    }

    /// The JSON form: an array of rules, or `{"rules": [...]}` (docs/RISK.md). In errors about
    /// one rule, `line` is the rule's 1-based place in the array.
    pub fn parse_json(text: &str) -> Result<RuleSet, Vec<RuleError>> {
        let bad_doc = |line: u32, column: Option<u32>, zh: String, en: String| {
            vec![RuleError {
                line,
                column,
                rule: None,
                field: String::new(),
                message_zh: zh,
                message_en: en,
            }]
        };
        let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            bad_doc(
                e.line() as u32,
                Some(e.column() as u32),
                format!("JSON 格式错误：{e}"),
                format!("not valid JSON: {e}"),
            )
        })?;
        let items = match doc {
            serde_json::Value::Array(v) => v,
            serde_json::Value::Object(mut o) => match o.remove("rules") {
                Some(serde_json::Value::Array(v)) if o.is_empty() => v,
                _ => {
                    return Err(bad_doc(
                        1,
                        None,
                        "JSON 规则文件应为数组或 {\"rules\": [...]}".into(),
                        "a JSON rule file is an array or {\"rules\": [...]}".into(),
                    ))
                }
            },
            _ => {
                return Err(bad_doc(
                    1,
                    None,
                    "JSON 规则文件应为数组或 {\"rules\": [...]}".into(),
                    "a JSON rule file is an array or {\"rules\": [...]}".into(),
                ))
            }
        };
        if items.len() > RULES_MAX {
            return Err(bad_doc(
                1,
                None,
                format!("规则超过 {RULES_MAX} 条"),
                format!("more than {RULES_MAX} rules"),
            ));
        }
        let mut list = Vec::with_capacity(items.len());
        let mut shape_errors = Vec::new();
        for (i, v) in items.into_iter().enumerate() {
            let id = v.get("id").and_then(|x| x.as_str()).map(str::to_owned);
            match serde_json::from_value::<RuleJson>(v) {
                Ok(j) => list.push(j),
                Err(e) => shape_errors.push(RuleError {
                    line: i as u32 + 1,
                    column: None,
                    rule: id,
                    field: String::new(),
                    message_zh: format!("第{}条规则格式错误：{e}", i + 1),
                    message_en: format!("rule {} of the list: {e}", i + 1),
                }),
            }
        }
        if !shape_errors.is_empty() {
            return Err(shape_errors);
        }
        let mut errors = Errors { list: Vec::new() };
        let mut rules = Vec::new();
        for (i, j) in list.into_iter().enumerate() {
            let n = i as u32 + 1;
            match j.into_rule(n) {
                Ok(r) => rules.push(r),
                Err(mut e) => errors.list.append(&mut e),
            }
        }
        if !errors.list.is_empty() {
            return Err(errors.list);
        }
        RuleSet::from_rules(rules)
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The canonical text form: `parse_text(to_text())` gives the same set.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.rules {
            let _ = writeln!(out, "rule {}", r.id);
            let _ = writeln!(out, "  version {}", r.version);
            let _ = writeln!(out, "  office {}", r.office);
            match r.valid_to {
                Some(to) => {
                    let _ = writeln!(out, "  valid {} to {to}", r.valid_from);
                }
                None => {
                    let _ = writeln!(out, "  valid from {}", r.valid_from);
                }
            }
            let _ = writeln!(out, "  priority {}", r.priority);
            let _ = writeln!(out, "  when {}", r.when);
            let _ = writeln!(out, "  lane {}", r.action.lane);
            if let Some(k) = r.action.inspection {
                let _ = writeln!(out, "  inspection {}", k.as_str());
            }
            let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
            let _ = writeln!(
                out,
                "  reason {} \"{}\" \"{}\"",
                r.action.reason.code,
                q(&r.action.reason.zh),
                q(&r.action.reason.en)
            );
            if r.action.suspend {
                let _ = writeln!(out, "  suspend");
            }
            let _ = writeln!(out, "end\n");
        }
        out
    }

    /// The JSON form, as `parse_json` reads it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.rules
                .iter()
                .map(|r| serde_json::to_value(RuleJson::from(r)).expect("serialises"))
                .collect(),
        )
    }

    /// SHA-256 of the canonical text, first 16 hex digits: names the exact rule set a decision
    /// was made with.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(self.to_text().as_bytes());
        digest[..8].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The 1-based column (in characters) where `part`, a slice of `line`, starts.
fn column_of(line: &str, part: &str) -> u32 {
    let byte = (part.as_ptr() as usize)
        .saturating_sub(line.as_ptr() as usize)
        .min(line.len());
    line[..byte].chars().count() as u32 + 1
}

fn finish(d: Draft<'_>, end_line: u32, errors: &mut Errors) -> Option<Rule> {
    let rid = Some(d.id.as_str());
    let mut missing = |key: &str, zh: &str| {
        errors.push(
            end_line,
            None,
            rid,
            key,
            format!("规则 {} 缺少 `{key}`（{zh}）", d.id),
            format!("rule {} has no `{key}`", d.id),
        );
    };
    let mut ok = !d.broken;
    if d.office.is_none() && !d.seen.contains(&"office") {
        missing("office", "所属关区");
        ok = false;
    }
    if d.valid.is_none() && !d.seen.contains(&"valid") {
        missing("valid", "有效期");
        ok = false;
    }
    if d.lane.is_none() && !d.seen.contains(&"lane") {
        missing("lane", "通道");
        ok = false;
    }
    if d.reason.is_none() && !d.seen.contains(&"reason") {
        missing("reason", "原因");
        ok = false;
    }
    if !d.seen.contains(&"when") {
        missing("when", "条件");
        ok = false;
    }
    let when = if d.seen.contains(&"when") {
        let pieces = if d.when.is_empty() {
            vec![Piece {
                pos: Pos {
                    line: d.when_line,
                    column: 1,
                },
                text: "",
            }]
        } else {
            d.when
        };
        match expr::parse_pieces(&pieces) {
            Ok(e) => Some(e),
            Err(e) => {
                errors.push(
                    e.pos.line,
                    Some(e.pos.column),
                    rid,
                    e.field.as_deref().unwrap_or("when"),
                    e.message_zh,
                    e.message_en,
                );
                None
            }
        }
    } else {
        None
    };
    if !ok {
        return None;
    }
    let (valid_from, valid_to) = d.valid?;
    Some(Rule {
        id: d.id,
        version: d.version.unwrap_or(1),
        office: d.office?,
        valid_from,
        valid_to,
        priority: d.priority.unwrap_or(0),
        when: when?,
        action: Action {
            lane: d.lane?,
            inspection: d.inspection,
            reason: d.reason?,
            suspend: d.suspend,
        },
        line: d.line,
    })
}

/// One rule in JSON: the condition as its text.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleJson {
    id: String,
    #[serde(default = "one")]
    version: u32,
    office: String,
    valid_from: String,
    #[serde(default)]
    valid_to: Option<String>,
    #[serde(default)]
    priority: u32,
    when: String,
    lane: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    inspection: Option<String>,
    reason: Reason,
    #[serde(default)]
    suspend: bool,
}

fn one() -> u32 {
    1
}

impl From<Rule> for RuleJson {
    fn from(r: Rule) -> Self {
        RuleJson::from(&r)
    }
}

impl TryFrom<RuleJson> for Rule {
    type Error = String;
    fn try_from(j: RuleJson) -> Result<Rule, String> {
        j.into_rule(0).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message_en))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

impl From<&Rule> for RuleJson {
    fn from(r: &Rule) -> Self {
        RuleJson {
            id: r.id.clone(),
            version: r.version,
            office: r.office.to_string(),
            valid_from: r.valid_from.to_string(),
            valid_to: r.valid_to.map(|d| d.to_string()),
            priority: r.priority,
            when: r.when.to_string(),
            lane: r.action.lane.to_string(),
            inspection: r.action.inspection.map(|k| k.as_str().to_owned()),
            reason: r.action.reason.clone(),
            suspend: r.action.suspend,
        }
    }
}

impl RuleJson {
    /// `n`: the rule's 1-based place in the list, reported as its line.
    fn into_rule(self, n: u32) -> Result<Rule, Vec<RuleError>> {
        let mut errors = Errors { list: Vec::new() };
        let rid = Some(self.id.as_str());
        let office = OfficeCode::parse(&self.office).map_err(|_| {
            errors.push(
                n,
                None,
                rid,
                "office",
                format!("关区代码应为4位数字：\"{}\"", self.office),
                format!(
                    "office is a 4-digit customs office code: \"{}\"",
                    self.office
                ),
            );
        });
        let from = parse_date(&self.valid_from).ok_or_else(|| {
            errors.push(
                n,
                None,
                rid,
                "valid_from",
                format!("日期格式应为 YYYY-MM-DD：\"{}\"", self.valid_from),
                format!("dates are YYYY-MM-DD: \"{}\"", self.valid_from),
            );
        });
        let to = match &self.valid_to {
            None => Ok(None),
            Some(t) => parse_date(t).map(Some).ok_or_else(|| {
                errors.push(
                    n,
                    None,
                    rid,
                    "valid_to",
                    format!("日期格式应为 YYYY-MM-DD：\"{t}\""),
                    format!("dates are YYYY-MM-DD: \"{t}\""),
                );
            }),
        };
        let when = Expr::from_str(&self.when).map_err(|e| {
            errors.push(
                n,
                Some(e.pos.column),
                rid,
                e.field.as_deref().unwrap_or("when"),
                e.message_zh,
                e.message_en,
            );
        });
        let lane = Lane::parse(&self.lane).ok_or_else(|| {
            errors.push(
                n,
                None,
                rid,
                "lane",
                format!("通道应为 green、yellow、red 或 blue：\"{}\"", self.lane),
                format!("lane is green, yellow, red or blue: \"{}\"", self.lane),
            );
        });
        let inspection = match &self.inspection {
            None => Ok(None),
            Some(k) => InspectionKind::parse(k).map(Some).ok_or_else(|| {
                errors.push(
                    n,
                    None,
                    rid,
                    "inspection",
                    format!("未知查验方式：\"{k}\""),
                    format!("unknown inspection kind \"{k}\""),
                );
            }),
        };
        match (office, from, to, when, lane, inspection) {
            (Ok(office), Ok(valid_from), Ok(valid_to), Ok(when), Ok(lane), Ok(inspection)) => {
                Ok(Rule {
                    id: self.id,
                    version: self.version,
                    office,
                    valid_from,
                    valid_to,
                    priority: self.priority,
                    when,
                    action: Action {
                        lane,
                        inspection,
                        reason: self.reason,
                        suspend: self.suspend,
                    },
                    line: n,
                })
            }
            _ => Err(errors.list),
        }
    }
}
