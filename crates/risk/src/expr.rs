//! The condition language of rules: the syntax tree ([`Expr`], [`Test`]), its parser with
//! positions for errors, and its canonical printing (`parse(print(e)) == e`).
//!
//! ```text
//! expr  := and ("or" and)*
//! and   := unary ("and" unary)*
//! unary := "not" unary | "(" expr ")" | test
//! test  := FIELD op value
//! op    := "=" | "!=" | "^=" | "<" | "<=" | ">" | ">=" | "contains" | "in" | "not" "in"
//! value := "string" | number | "[" "string" ("," "string")* "]"
//! ```

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::field::{Field, Kind};

/// Limits on one condition (house style: a limit on everything).
pub const TESTS_MAX: usize = 256;
pub const DEPTH_MAX: usize = 32;
pub const LIST_MAX: usize = 5_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Ne,
    /// Starts with (`^=`).
    Prefix,
    /// Contains (text fields).
    Contains,
    In,
    NotIn,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Prefix => "^=",
            Op::Contains => "contains",
            Op::In => "in",
            Op::NotIn => "not in",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        }
    }

    fn allowed(self, kind: Kind) -> bool {
        match (self, kind) {
            (Op::Eq | Op::Ne, _) => true,
            (Op::Prefix | Op::In | Op::NotIn, Kind::Code | Kind::Text) => true,
            (Op::Contains, Kind::Text) => true,
            (Op::Lt | Op::Le | Op::Gt | Op::Ge, Kind::Number) => true,
            (Op::Prefix | Op::In | Op::NotIn | Op::Contains, Kind::Number)
            | (Op::Contains, Kind::Code)
            | (Op::Lt | Op::Le | Op::Gt | Op::Ge, Kind::Code | Kind::Text) => false,
        }
    }
}

/// The value a test compares with, already checked against its field and normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Literal {
    Str(String),
    List(Vec<String>),
    Num(Decimal),
}

/// One comparison: `origin in ["USA", "JPN"]`. A test on a field the declaration does not have
/// (no vessel, no exchange rate for the price in CNY) is false, whatever the operator.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Test {
    pub field: Field,
    pub op: Op,
    pub value: Literal,
}

/// In JSON a condition is its canonical text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expr {
    /// At least two operands, none itself an `And` (the parser flattens).
    And(Vec<Expr>),
    /// At least two operands, none itself an `Or`.
    Or(Vec<Expr>),
    Not(Box<Expr>),
    Test(Test),
}

impl Expr {
    /// The same condition with nested `and`s and `or`s flattened, the form the parser builds.
    pub fn normalized(self) -> Expr {
        match self {
            Expr::And(v) => Expr::join(v, true),
            Expr::Or(v) => Expr::join(v, false),
            Expr::Not(e) => Expr::Not(Box::new(e.normalized())),
            Expr::Test(t) => Expr::Test(t),
        }
    }

    fn join(v: Vec<Expr>, and: bool) -> Expr {
        let mut out = Vec::with_capacity(v.len());
        for e in v {
            match (e.normalized(), and) {
                (Expr::And(inner), true) | (Expr::Or(inner), false) => out.extend(inner),
                (e, _) => out.push(e),
            }
        }
        if out.len() == 1 {
            return out.pop().expect("one operand");
        }
        if and {
            Expr::And(out)
        } else {
            Expr::Or(out)
        }
    }

    /// Every field the condition reads, in first-use order, without repeats.
    pub fn fields(&self) -> Vec<Field> {
        fn walk(e: &Expr, out: &mut Vec<Field>) {
            match e {
                Expr::And(v) | Expr::Or(v) => v.iter().for_each(|e| walk(e, out)),
                Expr::Not(e) => walk(e, out),
                Expr::Test(t) => {
                    if !out.contains(&t.field) {
                        out.push(t.field);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }

    fn tests(&self) -> usize {
        match self {
            Expr::And(v) | Expr::Or(v) => v.iter().map(Expr::tests).sum(),
            Expr::Not(e) => e.tests(),
            Expr::Test(_) => 1,
        }
    }
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => f.write_str(&quote(s)),
            Literal::Num(n) => write!(f, "{n}"),
            Literal::List(v) => {
                f.write_str("[")?;
                for (i, s) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(&quote(s))?;
                }
                f.write_str("]")
            }
        }
    }
}

impl fmt::Display for Test {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.field, self.op.symbol(), self.value)
    }
}

impl fmt::Display for Expr {
    /// Canonical text: `and` binds tighter than `or`, `not` tighter than both; parentheses only
    /// where needed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Test(t) => t.fmt(f),
            Expr::Not(e) => match **e {
                Expr::Test(_) | Expr::Not(_) => write!(f, "not {e}"),
                Expr::And(_) | Expr::Or(_) => write!(f, "not ({e})"),
            },
            Expr::And(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" and ")?;
                    }
                    match e {
                        Expr::Or(_) => write!(f, "({e})")?,
                        Expr::And(_) | Expr::Not(_) | Expr::Test(_) => e.fmt(f)?,
                    }
                }
                Ok(())
            }
            Expr::Or(v) => {
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    match e {
                        Expr::Or(_) => write!(f, "({e})")?,
                        Expr::And(_) | Expr::Not(_) | Expr::Test(_) => e.fmt(f)?,
                    }
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// A position in the rule file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
}

/// A parse error in a condition, at a position, with the field it concerns if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExprError {
    pub pos: Pos,
    pub field: Option<String>,
    pub message_zh: String,
    pub message_en: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(String),
    Sym(&'static str),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Str(s) => write!(f, "{}", quote(s)),
            Tok::Num(n) => write!(f, "`{n}`"),
            Tok::Sym(s) => write!(f, "`{s}`"),
        }
    }
}

/// A piece of source text: where it starts in the file, and the text.
pub struct Piece<'a> {
    pub pos: Pos,
    pub text: &'a str,
}

fn err(pos: Pos, field: Option<&str>, zh: String, en: String) -> ExprError {
    ExprError {
        pos,
        field: field.map(str::to_owned),
        message_zh: zh,
        message_en: en,
    }
}

fn lex(pieces: &[Piece<'_>]) -> Result<Vec<(Tok, Pos)>, ExprError> {
    const SYMS: [&str; 11] = ["!=", "^=", "<=", ">=", "=", "<", ">", "(", ")", "[", "]"];
    let mut out = Vec::new();
    for piece in pieces {
        let chars: Vec<char> = piece.text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let pos = Pos {
                line: piece.pos.line,
                column: piece.pos.column + i as u32,
            };
            let c = chars[i];
            if c == '#' {
                break;
            }
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            if c == ',' {
                out.push((Tok::Sym(","), pos));
                i += 1;
                continue;
            }
            if c == '"' {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(err(
                                pos,
                                None,
                                "字符串缺少结尾的引号".into(),
                                "string without its closing quote".into(),
                            ))
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                            s.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                out.push((Tok::Str(s), pos));
                continue;
            }
            if c.is_ascii_digit() || c == '-' || c == '.' {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                out.push((Tok::Num(chars[start..i].iter().collect()), pos));
                continue;
            }
            if c.is_ascii_alphabetic() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push((Tok::Word(chars[start..i].iter().collect()), pos));
                continue;
            }
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            match SYMS.iter().find(|s| rest.starts_with(**s)) {
                Some(s) => {
                    out.push((Tok::Sym(s), pos));
                    i += s.len();
                }
                None => {
                    return Err(err(
                        pos,
                        None,
                        format!("无法识别的字符 `{c}`"),
                        format!("unexpected character `{c}`"),
                    ))
                }
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    at: usize,
    end: Pos,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at).map(|(t, _)| t)
    }
    fn pos(&self) -> Pos {
        self.toks.get(self.at).map_or(self.end, |(_, p)| *p)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }
    fn is_sym(&self, s: &str) -> bool {
        matches!(self.peek(), Some(Tok::Sym(x)) if *x == s)
    }
    fn found(&self) -> String {
        self.peek()
            .map_or_else(|| "the end".to_owned(), |t| t.to_string())
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        self.depth += 1;
        if self.depth > DEPTH_MAX {
            return Err(err(
                self.pos(),
                None,
                format!("条件嵌套超过 {DEPTH_MAX} 层"),
                format!("condition nested deeper than {DEPTH_MAX}"),
            ));
        }
        let mut v = vec![self.and()?];
        while self.is_word("or") {
            self.at += 1;
            v.push(self.and()?);
        }
        self.depth -= 1;
        Ok(Expr::join(v, false))
    }

    fn and(&mut self) -> Result<Expr, ExprError> {
        let mut v = vec![self.unary()?];
        while self.is_word("and") {
            self.at += 1;
            v.push(self.unary()?);
        }
        Ok(Expr::join(v, true))
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.is_word("not") {
            self.at += 1;
            self.depth += 1;
            if self.depth > DEPTH_MAX {
                return Err(err(
                    self.pos(),
                    None,
                    format!("条件嵌套超过 {DEPTH_MAX} 层"),
                    format!("condition nested deeper than {DEPTH_MAX}"),
                ));
            }
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e)));
        }
        if self.is_sym("(") {
            let open = self.pos();
            self.at += 1;
            let e = self.expr()?;
            if !self.is_sym(")") {
                return Err(err(
                    self.pos(),
                    None,
                    format!(
                        "缺少 `)`（与第{}行第{}列的 `(` 对应），遇到 {}",
                        open.line,
                        open.column,
                        self.found()
                    ),
                    format!(
                        "expected `)` to close the `(` at line {} column {}, found {}",
                        open.line,
                        open.column,
                        self.found()
                    ),
                ));
            }
            self.at += 1;
            return Ok(e);
        }
        self.test().map(Expr::Test)
    }

    fn test(&mut self) -> Result<Test, ExprError> {
        let pos = self.pos();
        let name = match self.peek() {
            Some(Tok::Word(w)) => w.clone(),
            _ => {
                return Err(err(
                    pos,
                    None,
                    format!("此处应为字段名，遇到 {}", self.found()),
                    format!("expected a field name, found {}", self.found()),
                ))
            }
        };
        let field = Field::parse(&name).ok_or_else(|| {
            let hint_en = Field::suggest(&name)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            let hint_zh = Field::suggest(&name)
                .map(|s| format!("（是否应为 `{s}`？）"))
                .unwrap_or_default();
            err(
                pos,
                Some(&name),
                format!("未知字段 `{name}`{hint_zh}"),
                format!("unknown field `{name}`{hint_en}"),
            )
        })?;
        self.at += 1;
        let fname = Some(field.name());
        let op_pos = self.pos();
        let op = match self.peek() {
            Some(Tok::Sym("=")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("^=")) => Op::Prefix,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            Some(Tok::Word(w)) if w == "in" => Op::In,
            Some(Tok::Word(w)) if w == "contains" => Op::Contains,
            Some(Tok::Word(w))
                if w == "not"
                    && matches!(self.toks.get(self.at + 1), Some((Tok::Word(x), _)) if x == "in") =>
            {
                self.at += 1;
                Op::NotIn
            }
            _ => {
                return Err(err(
                    op_pos,
                    fname,
                    format!("`{}` 后应为比较运算符（= != ^= < <= > >= in contains），遇到 {}", field, self.found()),
                    format!(
                        "expected an operator (= != ^= < <= > >= in contains) after `{field}`, found {}",
                        self.found()
                    ),
                ))
            }
        };
        self.at += 1;
        if !op.allowed(field.kind()) {
            let kind = match field.kind() {
                Kind::Code => ("代码", "a code"),
                Kind::Text => ("文本", "text"),
                Kind::Number => ("数值", "a number"),
            };
            return Err(err(
                op_pos,
                fname,
                format!("`{field}` 是{}字段，不能使用 `{}`", kind.0, op.symbol()),
                format!("`{field}` is {}: `{}` does not apply", kind.1, op.symbol()),
            ));
        }
        let value = self.value(field, op)?;
        Ok(Test { field, op, value })
    }

    fn value(&mut self, field: Field, op: Op) -> Result<Literal, ExprError> {
        let pos = self.pos();
        let fname = Some(field.name());
        let check = |s: &str, pos: Pos| {
            field
                .check_literal(s, op == Op::Prefix || op == Op::Contains)
                .map_err(|(zh, en)| err(pos, fname, zh, en))
        };
        match (self.peek().cloned(), op) {
            (Some(Tok::Sym("[")), Op::In | Op::NotIn) => {
                self.at += 1;
                let mut list = Vec::new();
                loop {
                    let p = self.pos();
                    match self.peek().cloned() {
                        Some(Tok::Str(s)) => {
                            list.push(check(&s, p)?);
                            self.at += 1;
                        }
                        _ => {
                            return Err(err(
                                p,
                                fname,
                                format!("列表中应为带引号的值，遇到 {}", self.found()),
                                format!(
                                    "expected a quoted value in the list, found {}",
                                    self.found()
                                ),
                            ))
                        }
                    }
                    if list.len() > LIST_MAX {
                        return Err(err(
                            p,
                            fname,
                            format!("列表超过 {LIST_MAX} 个值"),
                            format!("list longer than {LIST_MAX} values"),
                        ));
                    }
                    if self.is_sym(",") {
                        self.at += 1;
                        continue;
                    }
                    if self.is_sym("]") {
                        self.at += 1;
                        break;
                    }
                    return Err(err(
                        self.pos(),
                        fname,
                        format!("列表中应为 `,` 或 `]`，遇到 {}", self.found()),
                        format!("expected `,` or `]` in the list, found {}", self.found()),
                    ));
                }
                list.sort();
                list.dedup();
                Ok(Literal::List(list))
            }
            (_, Op::In | Op::NotIn) => Err(err(
                pos,
                fname,
                format!(
                    "`{}` 后应为列表 [\"…\", \"…\"]，遇到 {}",
                    op.symbol(),
                    self.found()
                ),
                format!(
                    "expected a list [\"…\", \"…\"] after `{}`, found {}",
                    op.symbol(),
                    self.found()
                ),
            )),
            (Some(Tok::Str(s)), _) => {
                let v = check(&s, pos)?;
                self.at += 1;
                Ok(Literal::Str(v))
            }
            (Some(Tok::Num(n)), _) if field.kind() == Kind::Number => {
                let d = Decimal::from_str(&n).map_err(|_| {
                    err(
                        pos,
                        fname,
                        format!("无效数值 `{n}`"),
                        format!("not a number: `{n}`"),
                    )
                })?;
                self.at += 1;
                Ok(Literal::Num(d))
            }
            (Some(Tok::Num(n)), _) => Err(err(
                pos,
                fname,
                format!("`{field}` 的值是代码，应加引号：\"{n}\""),
                format!("`{field}` takes a code: quote it, \"{n}\""),
            )),
            _ => Err(err(
                pos,
                fname,
                format!("`{}` 后应为一个值，遇到 {}", op.symbol(), self.found()),
                format!(
                    "expected a value after `{}`, found {}",
                    op.symbol(),
                    self.found()
                ),
            )),
        }
    }
}

/// Parses a condition written over one or more pieces of text (the `when` line and its
/// continuation lines).
pub fn parse_pieces(pieces: &[Piece<'_>]) -> Result<Expr, ExprError> {
    let toks = lex(pieces)?;
    let end = pieces.last().map_or(Pos::default(), |p| Pos {
        line: p.pos.line,
        column: p.pos.column + p.text.chars().count() as u32,
    });
    if toks.is_empty() {
        return Err(err(
            end,
            None,
            "条件为空".into(),
            "the condition is empty".into(),
        ));
    }
    let mut p = Parser {
        toks,
        at: 0,
        end,
        depth: 0,
    };
    let e = p.expr()?;
    if p.at < p.toks.len() {
        return Err(err(
            p.pos(),
            None,
            format!("条件在此处应结束（或缺少 and/or），遇到 {}", p.found()),
            format!(
                "expected `and`, `or` or the end of the condition, found {}",
                p.found()
            ),
        ));
    }
    if e.tests() > TESTS_MAX {
        return Err(err(
            Pos {
                line: pieces[0].pos.line,
                column: pieces[0].pos.column,
            },
            None,
            format!("条件超过 {TESTS_MAX} 个比较"),
            format!("condition has more than {TESTS_MAX} tests"),
        ));
    }
    Ok(e)
}

impl Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(|e: ExprError| {
            serde::de::Error::custom(format!("column {}: {}", e.pos.column, e.message_en))
        })
    }
}

impl FromStr for Expr {
    type Err = ExprError;
    /// Parses a condition on one line (positions count from line 1, column 1).
    fn from_str(s: &str) -> Result<Expr, ExprError> {
        parse_pieces(&[Piece {
            pos: Pos { line: 1, column: 1 },
            text: s,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_and_printing() {
        let e: Expr = "commodity ^= \"8471\" and origin in [\"USA\",\"JPN\"] or not (trade_mode = \"0110\" or quantity > 5)"
            .parse()
            .unwrap();
        assert!(matches!(&e, Expr::Or(v) if v.len() == 2));
        let text = e.to_string();
        assert_eq!(
            text,
            "commodity ^= \"8471\" and origin in [\"JPN\", \"USA\"] or not (trade_mode = \"0110\" or quantity > 5)"
        );
        assert_eq!(text.parse::<Expr>().unwrap(), e);
    }

    #[test]
    fn errors_have_positions() {
        let e = "commodity ^= \"8471\" and orign = \"USA\""
            .parse::<Expr>()
            .unwrap_err();
        assert_eq!(
            e.pos,
            Pos {
                line: 1,
                column: 25
            }
        );
        assert!(e.message_en.contains("did you mean `origin`"), "{e:?}");
        let e = "trade_mode = 0110".parse::<Expr>().unwrap_err();
        assert!(e.message_en.contains("quote it"), "{e:?}");
        let e = "unit_price_cny ^= \"1\"".parse::<Expr>().unwrap_err();
        assert!(e.message_en.contains("does not apply"), "{e:?}");
        let e = "(origin = \"USA\"".parse::<Expr>().unwrap_err();
        assert!(e.message_en.contains("expected `)`"), "{e:?}");
    }
}
