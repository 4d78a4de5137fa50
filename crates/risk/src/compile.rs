//! Rules compiled once for evaluation ([`CompiledRules`]): each condition becomes a tree of typed
//! tests on field slots, and each rule is indexed by one test it cannot fire without (its
//! *anchor*: `commodity ^= "8471"`, `trader = "…"`, `origin in [...]`), so that a declaration
//! looks at the few rules whose anchor its values meet, not at every rule.
//!
//! Anchors: a test `=`, `in` or `^=` on a code or text field is an anchor; an `and` takes the
//! most selective anchor of its operands; an `or` has one only when all its operands are
//! anchored on the same field (the union of their keys); `not` has none. Rules without an anchor
//! are checked for every declaration.

use std::collections::HashMap;

use chrono::NaiveDate;
use domain::codes::OfficeCode;
use rust_decimal::Decimal;

use crate::expr::{Expr, Literal, Op, Test};
use crate::facts::{Value, View};
use crate::field::{Field, Kind, Level};
use crate::rule::{Rule, RuleSet};

#[derive(Clone, Debug)]
enum StrMatch {
    Eq(Box<str>),
    /// Sorted, for binary search.
    In(Box<[Box<str>]>),
    Prefix(Box<str>),
    Contains(Box<str>),
}

#[derive(Clone, Debug)]
enum CExpr {
    And(Box<[CExpr]>),
    Or(Box<[CExpr]>),
    Not(Box<CExpr>),
    Str {
        level: Level,
        slot: usize,
        m: StrMatch,
        /// `!=` and `not in`: still false on an absent value.
        negate: bool,
    },
    Num {
        level: Level,
        slot: usize,
        op: Op,
        value: Decimal,
    },
    /// A test on the set of document codes: some code matches (`negate`: there are documents
    /// and none matches).
    Set {
        m: StrMatch,
        negate: bool,
    },
}

fn compile_expr(e: &Expr) -> CExpr {
    match e {
        Expr::And(v) => CExpr::And(v.iter().map(compile_expr).collect()),
        Expr::Or(v) => CExpr::Or(v.iter().map(compile_expr).collect()),
        Expr::Not(e) => CExpr::Not(Box::new(compile_expr(e))),
        Expr::Test(t) => compile_test(t),
    }
}

fn compile_test(t: &Test) -> CExpr {
    let e = compile_value_test(t);
    match e {
        CExpr::Str { m, negate, .. } if t.field == Field::DocumentCode => CExpr::Set { m, negate },
        e => e,
    }
}

fn compile_value_test(t: &Test) -> CExpr {
    let (level, slot) = (t.field.level(), t.field.slot());
    match (&t.value, t.op) {
        (Literal::Num(n), op) => CExpr::Num {
            level,
            slot,
            op,
            value: *n,
        },
        (Literal::Str(s), op) => {
            let (m, negate) = match op {
                Op::Eq => (StrMatch::Eq(s.as_str().into()), false),
                Op::Ne => (StrMatch::Eq(s.as_str().into()), true),
                Op::Prefix => (StrMatch::Prefix(s.as_str().into()), false),
                Op::Contains => (StrMatch::Contains(s.as_str().into()), false),
                // The parser gives `in` a list; a single string behaves as a list of one.
                Op::In => (StrMatch::In(Box::new([s.as_str().into()])), false),
                Op::NotIn => (StrMatch::In(Box::new([s.as_str().into()])), true),
                Op::Lt | Op::Le | Op::Gt | Op::Ge => (StrMatch::Eq(s.as_str().into()), false),
            };
            CExpr::Str {
                level,
                slot,
                m,
                negate,
            }
        }
        (Literal::List(list), op) => {
            let mut sorted: Vec<Box<str>> = list.iter().map(|s| s.as_str().into()).collect();
            sorted.sort();
            CExpr::Str {
                level,
                slot,
                m: StrMatch::In(sorted.into_boxed_slice()),
                negate: matches!(op, Op::NotIn | Op::Ne),
            }
        }
    }
}

impl StrMatch {
    fn hit(&self, s: &str) -> bool {
        match self {
            StrMatch::Eq(x) => s == &**x,
            StrMatch::In(list) => list.binary_search_by(|x| (**x).cmp(s)).is_ok(),
            StrMatch::Prefix(p) => s.starts_with(&**p),
            StrMatch::Contains(p) => s.contains(&**p),
        }
    }
}

impl CExpr {
    fn eval(&self, view: &View<'_>, item: usize) -> bool {
        match self {
            CExpr::And(v) => v.iter().all(|e| e.eval(view, item)),
            CExpr::Or(v) => v.iter().any(|e| e.eval(view, item)),
            CExpr::Not(e) => !e.eval(view, item),
            CExpr::Str {
                level,
                slot,
                m,
                negate,
            } => match slot_value(view, *level, *slot, item) {
                Value::Str(s) => m.hit(s) != *negate,
                Value::Absent | Value::Num(_) => false,
            },
            CExpr::Set { m, negate } => {
                if *negate {
                    !view.documents.is_empty() && !view.documents.iter().any(|s| m.hit(s))
                } else {
                    view.documents.iter().any(|s| m.hit(s))
                }
            }
            CExpr::Num {
                level,
                slot,
                op,
                value,
            } => match slot_value(view, *level, *slot, item) {
                Value::Num(n) => compare(*op, n, value),
                Value::Absent | Value::Str(_) => false,
            },
        }
    }
}

/// Numeric comparison shared with the reference interpreter.
pub(crate) fn compare(op: Op, n: &Decimal, value: &Decimal) -> bool {
    match op {
        Op::Eq => n == value,
        Op::Ne => n != value,
        Op::Lt => n < value,
        Op::Le => n <= value,
        Op::Gt => n > value,
        Op::Ge => n >= value,
        Op::Prefix | Op::Contains | Op::In | Op::NotIn => false,
    }
}

fn slot_value<'v, 'a>(view: &'v View<'a>, level: Level, slot: usize, item: usize) -> &'v Value<'a> {
    const ABSENT: &Value<'static> = &Value::Absent;
    match level {
        Level::Header => &view.header[slot],
        Level::Item => view.items.get(item).map_or(ABSENT, |v| &v[slot]),
    }
}

// ---------------------------------------------------------------------------------------------
// Anchors and the index

#[derive(Clone, Debug, PartialEq, Eq)]
enum Key {
    Exact(String),
    Prefix(String),
}

#[derive(Clone, Debug)]
struct Anchor {
    field: Field,
    keys: Vec<Key>,
}

/// Lower is more selective: how many declarations a key of this field typically matches.
fn field_rank(field: Field, key: &Key) -> u32 {
    match field {
        Field::Trader
        | Field::TraderCustomsCode
        | Field::OwnerUnit
        | Field::Agent
        | Field::OverseasParty
        | Field::OverseasPartyName
        | Field::Vessel
        | Field::VoyageNo
        | Field::BillNo
        | Field::LicenceNo
        | Field::RecordNo
        | Field::ContractNo
        | Field::Producer
        | Field::GoodsName
        | Field::Specification
        | Field::Route => 1,
        // About 100 chapters, 1,200 headings, 5,600 subheadings: a chapter is rarer than an origin.
        Field::Commodity => match key {
            Key::Exact(_) => 1,
            Key::Prefix(p) if p.len() >= 6 => 1,
            Key::Prefix(p) if p.len() >= 4 => 2,
            Key::Prefix(p) if p.len() >= 2 => 3,
            Key::Prefix(_) => 5,
        },
        Field::Origin
        | Field::DestinationCountry
        | Field::LoadingPort
        | Field::DestinationPort
        | Field::DomesticPort
        | Field::District
        | Field::TradingCountry
        | Field::DispatchCountry => 4,
        Field::TradeMode | Field::DeclarationOffice | Field::EntryExitOffice => 5,
        // A few dozen document kinds; licences are on a minority of declarations.
        Field::DocumentCode => 5,
        Field::Direction
        | Field::TransportMode
        | Field::LevyNature
        | Field::TransactionTerms
        | Field::PackageType
        | Field::EntryType
        | Field::Currency
        | Field::DeclaredUnit
        | Field::FirstUnit
        | Field::SecondUnit
        | Field::DutyTreatment => 6,
        Field::GrossWeightKg
        | Field::NetWeightKg
        | Field::Packages
        | Field::ItemCount
        | Field::TotalValueCny
        | Field::UnitPrice
        | Field::TotalPrice
        | Field::UnitPriceCny
        | Field::TotalPriceCny
        | Field::Quantity
        | Field::FirstQuantity
        | Field::SecondQuantity
        | Field::WeightPerUnitKg => 9,
    }
}

impl Anchor {
    fn cost(&self) -> u32 {
        let rank = self
            .keys
            .iter()
            .map(|k| field_rank(self.field, k))
            .max()
            .unwrap_or(9);
        // Each extra key widens the net about as much as a step in rank.
        rank * 100 + 20 * self.keys.len().min(99) as u32
    }
}

fn anchor(e: &Expr) -> Option<Anchor> {
    match e {
        Expr::Test(t) => {
            if t.field.kind() == Kind::Number {
                return None;
            }
            let keys = match (t.op, &t.value) {
                (Op::Eq | Op::In, Literal::Str(s)) => vec![Key::Exact(s.clone())],
                (Op::In, Literal::List(l)) => l.iter().cloned().map(Key::Exact).collect(),
                (Op::Prefix, Literal::Str(s)) if !s.is_empty() => vec![Key::Prefix(s.clone())],
                _ => return None,
            };
            Some(Anchor {
                field: t.field,
                keys,
            })
        }
        Expr::And(v) => v.iter().filter_map(anchor).min_by_key(Anchor::cost),
        Expr::Or(v) => {
            let mut out: Option<Anchor> = None;
            for e in v {
                let a = anchor(e)?;
                match &mut out {
                    None => out = Some(a),
                    Some(o) if o.field == a.field => o.keys.extend(a.keys),
                    Some(_) => return None,
                }
            }
            out
        }
        Expr::Not(_) => None,
    }
}

#[derive(Default, Debug)]
struct FieldIndex {
    exact: HashMap<Box<str>, Vec<u32>>,
    prefix: HashMap<Box<str>, Vec<u32>>,
    /// Distinct prefix lengths present, ascending.
    prefix_lens: Vec<usize>,
}

impl FieldIndex {
    fn lookup(&self, value: &str, out: &mut Vec<u32>) {
        if let Some(v) = self.exact.get(value) {
            out.extend_from_slice(v);
        }
        for &len in &self.prefix_lens {
            match value.get(..len) {
                Some(p) => {
                    if let Some(v) = self.prefix.get(p) {
                        out.extend_from_slice(v);
                    }
                }
                None if len > value.len() => break,
                None => {}
            }
        }
    }
}

/// One compiled rule version.
#[derive(Debug)]
pub(crate) struct CRule {
    pub(crate) rule: Rule,
    cond: CExpr,
    item_level: bool,
    /// Validity periods of higher versions of the same rule: on a day one of them covers, this
    /// version is superseded.
    superseded_by: Vec<(NaiveDate, Option<NaiveDate>)>,
    /// Fields the condition reads, for the explanation.
    pub(crate) fields: Vec<Field>,
}

impl CRule {
    fn active_on(&self, day: NaiveDate) -> bool {
        self.rule.valid_on(day)
            && !self
                .superseded_by
                .iter()
                .any(|(from, to)| *from <= day && to.is_none_or(|to| day <= to))
    }
}

/// A rule that fired: its index in the compiled set, and the first item (index into the
/// declaration's items) it fired on, `None` for a rule on header fields only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    pub rule: u32,
    pub item: Option<usize>,
}

/// Rules ready for evaluation; immutable, shared behind an `Arc` and replaced whole when rules
/// change.
#[derive(Debug)]
pub struct CompiledRules {
    pub(crate) rules: Vec<CRule>,
    index: Vec<Option<FieldIndex>>,
    indexed_fields: Vec<Field>,
    unanchored: Vec<u32>,
    fingerprint: String,
    as_of: NaiveDate,
}

/// Counts from one evaluation, for the explanation and for tuning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EvalStats {
    /// Rule versions whose anchor matched (or that have none).
    pub candidates: u32,
    /// Candidates active on the day and in scope, whose condition was evaluated.
    pub evaluated: u32,
}

impl CompiledRules {
    /// Compiles `set` for decisions on `as_of` and later: versions that expired before `as_of`
    /// are left out.
    pub fn compile(set: &RuleSet, as_of: NaiveDate) -> CompiledRules {
        let kept: Vec<&Rule> = set
            .rules()
            .iter()
            .filter(|r| r.valid_to.is_none_or(|to| to >= as_of))
            .collect();
        let mut rules = Vec::with_capacity(kept.len());
        for r in &kept {
            let superseded_by = kept
                .iter()
                .filter(|o| o.id == r.id && o.version > r.version)
                .map(|o| (o.valid_from, o.valid_to))
                .collect();
            let fields = r.when.fields();
            rules.push(CRule {
                rule: (*r).clone(),
                cond: compile_expr(&r.when),
                item_level: fields.iter().any(|f| f.level() == Level::Item),
                superseded_by,
                fields,
            });
        }
        let mut index: Vec<Option<FieldIndex>> = Field::ALL.iter().map(|_| None).collect();
        let mut unanchored = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            let i = i as u32;
            match anchor(&r.rule.when) {
                None => unanchored.push(i),
                Some(a) => {
                    let fi = index[a.field as usize].get_or_insert_with(FieldIndex::default);
                    let mut keys = a.keys;
                    keys.dedup();
                    for k in keys {
                        match k {
                            Key::Exact(s) => fi.exact.entry(s.into()).or_default().push(i),
                            Key::Prefix(s) => {
                                if !fi.prefix_lens.contains(&s.len()) {
                                    fi.prefix_lens.push(s.len());
                                }
                                fi.prefix.entry(s.into()).or_default().push(i);
                            }
                        }
                    }
                }
            }
        }
        for fi in index.iter_mut().flatten() {
            fi.prefix_lens.sort_unstable();
        }
        let indexed_fields = Field::ALL
            .iter()
            .copied()
            .filter(|f| index[*f as usize].is_some())
            .collect();
        CompiledRules {
            rules,
            index,
            indexed_fields,
            unanchored,
            fingerprint: set.fingerprint(),
            as_of,
        }
    }

    /// An empty set (no rules).
    pub fn empty() -> CompiledRules {
        CompiledRules::compile(&RuleSet::default(), NaiveDate::MIN)
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The fingerprint of the rule set compiled ([`RuleSet::fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    pub fn as_of(&self) -> NaiveDate {
        self.as_of
    }

    /// Rule versions without an anchor, checked on every declaration.
    pub fn unanchored(&self) -> usize {
        self.unanchored.len()
    }

    pub(crate) fn rule(&self, i: u32) -> &CRule {
        &self.rules[i as usize]
    }

    /// The rules that fire on a declaration: active on `today`, in scope (`scope` holds the
    /// declaration office and its ancestors), condition true for the header or for some item.
    /// Ordered by rule index (id, then version).
    pub fn evaluate(
        &self,
        view: &View<'_>,
        scope: &[OfficeCode],
        today: NaiveDate,
    ) -> (Vec<Hit>, EvalStats) {
        let mut cand: Vec<u32> = Vec::with_capacity(16 + self.unanchored.len());
        cand.extend_from_slice(&self.unanchored);
        for &f in &self.indexed_fields {
            let fi = self.index[f as usize].as_ref().expect("indexed");
            match f.level() {
                Level::Header if f == Field::DocumentCode => {
                    for s in &view.documents {
                        fi.lookup(s, &mut cand);
                    }
                }
                Level::Header => {
                    if let Value::Str(s) = &view.header[f.slot()] {
                        fi.lookup(s, &mut cand);
                    }
                }
                Level::Item => {
                    for it in &view.items {
                        if let Value::Str(s) = &it[f.slot()] {
                            fi.lookup(s, &mut cand);
                        }
                    }
                }
            }
        }
        cand.sort_unstable();
        cand.dedup();
        let mut stats = EvalStats {
            candidates: cand.len() as u32,
            evaluated: 0,
        };
        let mut hits = Vec::new();
        for i in cand {
            let r = &self.rules[i as usize];
            if !r.active_on(today) || !scope.contains(&r.rule.office) {
                continue;
            }
            stats.evaluated += 1;
            if r.item_level {
                if let Some(item) = (0..view.items.len()).find(|&it| r.cond.eval(view, it)) {
                    hits.push(Hit {
                        rule: i,
                        item: Some(item),
                    });
                }
            } else if r.cond.eval(view, 0) {
                hits.push(Hit {
                    rule: i,
                    item: None,
                });
            }
        }
        (hits, stats)
    }
}
