//! Field paths of the declaration's JSON form (`items[0].unit_price`, `trader.uscc`): the schema
//! of paths **derived from [`DeclarationForm`] itself** (its serialization with every nested part
//! present, so a field added to the form is a path at once), reading and writing one field of a
//! form by path, and the structured difference between two forms.
//!
//! Here, beside the form, because the paths are the form's: validation reports problems with
//! these same paths, and an amendment (the `clearance` crate's versions) names them.

use std::fmt;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::declaration::{
    BuyerForm, ChargeForm, DeclarationForm, DocumentForm, ItemForm, OverseasPartyForm, PartyForm,
};
use crate::problem::{Problem, Problems};
use crate::validate::parse_form;

/// One segment of a path.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A parsed path to one leaf of the form.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(Vec<Segment>);

impl FieldPath {
    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// The path with every index replaced by `*` (`items[*].unit_price`), for rules that hold
    /// for every item.
    pub fn pattern(&self) -> String {
        let mut out = String::new();
        for s in &self.0 {
            match s {
                Segment::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Segment::Index(_) => out.push_str("[*]"),
            }
        }
        out
    }

    /// The item index, for paths under `items[n]`.
    pub fn item_index(&self) -> Option<usize> {
        match self.0.as_slice() {
            [Segment::Key(k), Segment::Index(i), ..] if k == "items" => Some(*i),
            _ => None,
        }
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for s in &self.0 {
            match s {
                Segment::Key(k) => {
                    if !first {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
            first = false;
        }
        Ok(())
    }
}

/// The form with every nested part present once: its JSON is the tree of every path.
fn skeleton() -> &'static Value {
    static SKELETON: OnceLock<Value> = OnceLock::new();
    SKELETON.get_or_init(|| {
        let form = DeclarationForm {
            trader: Some(PartyForm::default()),
            overseas_party: Some(OverseasPartyForm::default()),
            owner: Some(PartyForm::default()),
            agent: Some(PartyForm::default()),
            freight: Some(ChargeForm::default()),
            insurance: Some(ChargeForm::default()),
            other_charges: Some(ChargeForm::default()),
            documents: vec![DocumentForm::default()],
            buyer: Some(BuyerForm::default()),
            items: vec![ItemForm::default()],
            ..DeclarationForm::default()
        };
        serde_json::to_value(form).expect("the form serializes")
    })
}

/// Every leaf path of the form as a pattern (`items[*].unit_price`), sorted.
pub fn leaf_patterns() -> Vec<String> {
    fn walk(v: &Value, prefix: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(v, &p, out);
                }
            }
            Value::Array(a) => {
                if let Some(first) = a.first() {
                    walk(first, &format!("{prefix}[*]"), out);
                }
            }
            _ => out.push(prefix.to_owned()),
        }
    }
    let mut out = Vec::new();
    walk(skeleton(), "", &mut out);
    out.sort();
    out
}

fn problem(path: &str, code: &'static str, zh: String, en: String) -> Problem {
    Problem::new(path, code, zh, en)
}

fn syntax(text: &str) -> Option<Vec<Segment>> {
    let mut segs = Vec::new();
    for part in text.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return None;
        }
        segs.push(Segment::Key(key.to_owned()));
        while !rest.is_empty() {
            let close = rest.find(']')?;
            let digits = rest.get(1..close)?;
            if !rest.starts_with('[')
                || digits.is_empty()
                || digits.len() > 3
                || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            segs.push(Segment::Index(digits.parse().ok()?));
            rest = &rest[close + 1..];
        }
    }
    Some(segs)
}

/// Parse `text` as a path to a leaf field of `form`: every key a field of the form, every index
/// within the form's list. Refusals (`unknown_field_path`) in Chinese and English.
pub fn parse_path(text: &str, form: &DeclarationForm) -> Result<FieldPath, Problem> {
    let unknown = || {
        problem(
            text,
            "unknown_field_path",
            format!("报关单中没有字段“{text}”"),
            format!("the declaration has no field `{text}`"),
        )
    };
    let segs = syntax(text).ok_or_else(unknown)?;
    let mut schema = skeleton();
    let mut lengths: Vec<(usize, usize)> = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        match (s, schema) {
            (Segment::Key(k), Value::Object(m)) => schema = m.get(k).ok_or_else(unknown)?,
            (Segment::Index(n), Value::Array(a)) => {
                lengths.push((i, *n));
                schema = a.first().ok_or_else(unknown)?;
            }
            _ => return Err(unknown()),
        }
    }
    if schema.is_object() || schema.is_array() {
        return Err(problem(
            text,
            "not_a_leaf_field",
            format!("“{text}”不是单个字段，请逐项指明要修改的字段"),
            format!("`{text}` is not a single field; name each field to change"),
        ));
    }
    // Indices must exist in this form (an amendment changes lines; it does not add them).
    let json = serde_json::to_value(form).expect("the form serializes");
    for (i, n) in lengths {
        let list = get_segments(&json, &segs[..i]);
        let len = list.and_then(Value::as_array).map_or(0, Vec::len);
        if n >= len {
            return Err(problem(
                text,
                "no_such_line",
                format!("“{text}”：报关单只有 {len} 行"),
                format!("`{text}`: the declaration has {len} such lines"),
            ));
        }
    }
    Ok(FieldPath(segs))
}

fn get_segments<'a>(v: &'a Value, segs: &[Segment]) -> Option<&'a Value> {
    let mut cur = v;
    for s in segs {
        cur = match (s, cur) {
            (Segment::Key(k), Value::Object(m)) => m.get(k)?,
            (Segment::Index(i), Value::Array(a)) => a.get(*i)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// The value of a field (JSON `null` when absent).
pub fn get(form: &DeclarationForm, path: &FieldPath) -> Value {
    let json = serde_json::to_value(form).expect("the form serializes");
    get_segments(&json, &path.0).cloned().unwrap_or(Value::Null)
}

fn set_segments(v: &mut Value, segs: &[Segment], value: Value) {
    let Some((first, rest)) = segs.split_first() else {
        *v = value;
        return;
    };
    match first {
        Segment::Key(k) => {
            if !v.is_object() {
                *v = Value::Object(Map::new());
            }
            let m = v.as_object_mut().expect("made an object");
            let child = m.entry(k.clone()).or_insert(Value::Null);
            set_segments(child, rest, value);
        }
        Segment::Index(i) => {
            if let Some(child) = v.as_array_mut().and_then(|a| a.get_mut(*i)) {
                set_segments(child, rest, value);
            }
        }
    }
}

/// Write `changes` (path text, new value: a string, a number or `null` to clear) into a copy of
/// `form`. Every problem at once: unknown paths, non-leaf paths, a value that is not a scalar,
/// the same path twice, and what the form's reader says of the result (a text field given a
/// number, …). Full validation of the result is the caller's next step.
pub fn apply(
    form: &DeclarationForm,
    changes: &[(String, Value)],
) -> Result<DeclarationForm, Problems> {
    let mut problems = Problems::default();
    let mut json = serde_json::to_value(form).expect("the form serializes");
    let mut seen = std::collections::BTreeSet::new();
    for (text, value) in changes {
        let path = match parse_path(text, form) {
            Ok(p) => p,
            Err(p) => {
                problems.push(p);
                continue;
            }
        };
        if !seen.insert(path.clone()) {
            problems.push(problem(
                text,
                "duplicate_field_path",
                format!("字段“{text}”被修改了两次"),
                format!("the field `{text}` is changed twice"),
            ));
            continue;
        }
        if value.is_object() || value.is_array() || value.is_boolean() {
            problems.push(problem(
                text,
                "not_a_field_value",
                format!("字段“{text}”的新值必须是文本、数字或 null"),
                format!("the new value of `{text}` must be a string, a number or null"),
            ));
            continue;
        }
        set_segments(&mut json, &path.0, value.clone());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let bytes = serde_json::to_vec(&json).expect("a JSON value serializes");
    parse_form(&bytes)
}

/// One changed field.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldDifference {
    pub path: String,
    pub before: Value,
    pub after: Value,
}

/// Every leaf that differs between two forms, in path order (a line present on one side only
/// shows each of its fields against `null`).
pub fn diff(before: &DeclarationForm, after: &DeclarationForm) -> Vec<FieldDifference> {
    fn walk(a: &Value, b: &Value, path: &str, out: &mut Vec<FieldDifference>) {
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    walk(
                        x.get(k).unwrap_or(&Value::Null),
                        y.get(k).unwrap_or(&Value::Null),
                        &p,
                        out,
                    );
                }
            }
            (Value::Array(x), Value::Array(y)) => {
                for i in 0..x.len().max(y.len()) {
                    walk(
                        x.get(i).unwrap_or(&Value::Null),
                        y.get(i).unwrap_or(&Value::Null),
                        &format!("{path}[{i}]"),
                        out,
                    );
                }
            }
            (Value::Object(x), Value::Null) => walk(a, &Value::Object(empty_like(x)), path, out),
            (Value::Null, Value::Object(y)) => walk(&Value::Object(empty_like(y)), b, path, out),
            _ if a != b => out.push(FieldDifference {
                path: path.to_owned(),
                before: a.clone(),
                after: b.clone(),
            }),
            _ => {}
        }
    }
    fn empty_like(m: &Map<String, Value>) -> Map<String, Value> {
        m.keys().map(|k| (k.clone(), Value::Null)).collect()
    }
    let a = serde_json::to_value(before).expect("the form serializes");
    let b = serde_json::to_value(after).expect("the form serializes");
    let mut out = Vec::new();
    walk(&a, &b, "", &mut out);
    out
}
