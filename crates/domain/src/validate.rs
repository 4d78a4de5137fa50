//! The gate from the wire into the domain: [`parse_form`] reads JSON into a [`DeclarationForm`],
//! [`validate`] turns a form into a typed [`Declaration`] or returns **every** problem found, each
//! with its field path, a stable code and a message in Chinese and English.
//!
//! Rules checked (docs/DOMAIN.md §2): formats of every code; membership of the code tables; 1–50
//! items numbered 1..n; net weight ≤ gross weight; total = quantity × unit price within rounding;
//! legal quantities in the tariff line's units; direction-specific fields; charges that fit the
//! transaction terms; levy nature allowed with the trade mode; a licence named where the tariff
//! line requires one.

use std::fmt::{self, Display};
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;

use crate::codes::{
    CodeError, CountryCode, CurrencyCode, CustomsCode, Direction, DistrictCode, DomesticPort,
    DutyTreatment, HsCode, LevyNature, OfficeCode, PackageType, TradeMode, TransactionTerms,
    TransportMode, UnitCode, Uscc,
};
use crate::declaration::{
    resident_id_is_valid, Buyer, BuyerIdType, Charge, ChargeForm, Declaration, DeclarationForm,
    Document, EntryType, Item, ItemForm, NumberText, OverseasParty, Party, PartyForm, ITEMS_MAX,
};
use crate::problem::{Problem, Problems};
use crate::reference::{CodeTable, OfficeLevel, Reference};

/// A declaration document larger than this is refused before parsing. Fifty items of generous
/// size stay far below it.
pub const DOCUMENT_BYTES_MAX: usize = 1024 * 1024;

/// The longest free text accepted in any field, in characters.
const TEXT_CHARS_MAX: usize = 255;
/// At most this many characters in a tariff-quota certificate number (as a licence number).
pub const QUOTA_CERTIFICATE_NO_CHARS_MAX: usize = 32;
/// Amounts and quantities beyond this are refused: no real declaration comes near, and it keeps
/// every later computation far from overflow.
const MAGNITUDE_MAX: Decimal = Decimal::from_parts(0xA4C6_8000, 0x0003_8D7E, 0, false, 0); // 1e15

/// Read a JSON declaration. Structural problems (not JSON, wrong JSON type for a field, too
/// large, too deep) are returned as problems too, with the path where the parser stopped.
/// Fields the format does not know are reported, all of them, as `unknown_field`.
pub fn parse_form(bytes: &[u8]) -> Result<DeclarationForm, Problems> {
    // Fastest path, for the usual document: valid UTF-8 (checked once, so strings are not
    // checked one by one; with SIMD, since Chinese names and addresses make the standard
    // check take its slow path) with no unknown field (refused by the strict twins rather than
    // each key captured as a `String`). Anything else is read again below, which reports it
    // exactly.
    let text = (bytes.len() <= DOCUMENT_BYTES_MAX && first_byte(bytes) == Some(b'{'))
        .then(|| simdutf8::basic::from_utf8(bytes).ok())
        .flatten();
    if let Some(text) = text {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Ok(form) = <crate::strict::Declaration as serde::Deserialize>::deserialize(&mut de) {
            if de.end().is_ok() {
                return Ok(form.into());
            }
        }
    }
    parse_general(bytes)
}

/// The general path of [`parse_form`]: one pass that also notes unknown fields. Only when it
/// fails is the document read again with path tracking, which costs about a third more, to say
/// where it failed.
pub(crate) fn parse_general(bytes: &[u8]) -> Result<DeclarationForm, Problems> {
    let mut problems = Problems::default();
    if bytes.len() > DOCUMENT_BYTES_MAX {
        problems.push(Problem::new(
            "",
            "too_large",
            // Readers stop one byte past the limit, so the length seen is not the file's size.
            format!("文件过大：超过 {DOCUMENT_BYTES_MAX} 字节的上限"),
            format!("document too large: over the limit of {DOCUMENT_BYTES_MAX} bytes"),
        ));
        return Err(problems);
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        problems.push(Problem::new(
            "",
            "empty",
            "文件为空",
            "the document is empty",
        ));
        return Err(problems);
    }
    // serde reads a struct from a JSON array too (fields by position), which would accept an
    // array as a declaration and, when it fails, name a path like `[0]` for a field it never
    // had; a declaration is an object, so say so.
    match first_byte(bytes) {
        Some(b'[') => {
            problems.push(Problem::new(
                "",
                "not_object",
                "文件应为一个JSON对象 {…}，实际为数组 […]（每个文件一份报关单）",
                "the document must be one JSON object {…}, found an array […] (one declaration per file)",
            ));
            return Err(problems);
        }
        Some(0xEF) if bytes.starts_with(b"\xEF\xBB\xBF") => {
            problems.push(Problem::new(
                "",
                "not_json",
                "文件以字节顺序标记（BOM）开头：请保存为不带BOM的UTF-8",
                "the document starts with a byte order mark (BOM): save it as UTF-8 without BOM",
            ));
            return Err(problems);
        }
        _ => {}
    }
    let mut unknown: Vec<String> = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path<'_>| unknown.push(path.to_string());
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<DeclarationForm, _> =
        serde::Deserialize::deserialize(serde_ignored::Deserializer::new(&mut de, &mut on_unknown));
    let form = match result {
        Ok(form) => form,
        Err(first) => {
            let mut ignore = |_: serde_ignored::Path<'_>| {};
            let mut de = serde_json::Deserializer::from_slice(bytes);
            let again: Result<DeclarationForm, _> = serde_path_to_error::deserialize(
                serde_ignored::Deserializer::new(&mut de, &mut ignore),
            );
            let problem = match again {
                Err(e) => {
                    let path = json_path(&e.path().to_string());
                    json_problem(path, &e.into_inner())
                }
                // Both reads see the same bytes, so the second fails too; should it not, the
                // first error still stands.
                Ok(_) => json_problem(String::new(), &first),
            };
            problems.push(problem);
            return Err(problems);
        }
    };
    if let Err(e) = de.end() {
        problems.push(json_problem(String::new(), &e));
        return Err(problems);
    }
    for path in unknown {
        let path = json_path(&path);
        problems.push(Problem::new(
            path.clone(),
            "unknown_field",
            format!("未知字段 {path}"),
            format!("unknown field {path}"),
        ));
    }
    if problems.is_empty() {
        Ok(form)
    } else {
        Err(problems)
    }
}

/// The first byte that is not JSON whitespace.
fn first_byte(bytes: &[u8]) -> Option<u8> {
    bytes
        .iter()
        .copied()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
}

fn json_problem(path: String, e: &serde_json::Error) -> Problem {
    let text = e.to_string();
    if text.contains("recursion limit") {
        Problem::new(
            path,
            "too_deep",
            format!("JSON嵌套过深：{text}"),
            format!("JSON nested too deeply: {text}"),
        )
    } else if e.is_syntax() || e.is_eof() {
        Problem::new(
            path,
            "not_json",
            format!("不是合法的JSON：{text}"),
            format!("not valid JSON: {text}"),
        )
    } else {
        Problem::new(
            path,
            "json_type",
            format!("字段类型不正确：{text}"),
            format!("wrong JSON type: {text}"),
        )
    }
}

/// `items.3.name` (serde's form) → `items[3].name`.
fn json_path(serde_path: &str) -> String {
    if serde_path == "." {
        return String::new();
    }
    let mut out = String::new();
    // `?` is how serde_ignored and serde_path_to_error name the step into an `Option`'s value:
    // not part of the document's path (`freight.?.kind` is `freight.kind`).
    for seg in serde_path.split('.').filter(|s| *s != "?") {
        if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(seg);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// Parse and validate in one step.
pub fn validate_json(bytes: &[u8], reference: &dyn Reference) -> Result<Declaration, Problems> {
    validate(&parse_form(bytes)?, reference)
}

/// Check a form against the rules and the reference data. Returns the typed declaration, or
/// every problem found.
pub fn validate(
    form: &DeclarationForm,
    reference: &dyn Reference,
) -> Result<Declaration, Problems> {
    let mut c = Checker {
        problems: Problems::default(),
        reference,
    };
    let decl = c.declaration(form);
    match decl {
        Some(d) if c.problems.is_empty() => Ok(d),
        _ => {
            debug_assert!(
                !c.problems.is_empty(),
                "a declaration was not built but nothing was said"
            );
            Err(c.problems)
        }
    }
}

/// `trader.uscc`: a field of a part, formatted only when a problem is reported.
struct At<'a, P: ?Sized>(&'a P, &'static str);

impl<P: Display + ?Sized> Display for At<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.0, self.1)
    }
}

/// `items[3].name`: a field of a list element, formatted only when a problem is reported.
struct Field(&'static str, usize, &'static str);

impl Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}].{}", self.0, self.1, self.2)
    }
}

struct Checker<'a> {
    problems: Problems,
    reference: &'a dyn Reference,
}

impl Checker<'_> {
    fn push(&mut self, path: &(impl Display + ?Sized), code: &'static str, zh: String, en: String) {
        self.problems
            .push(Problem::new(path.to_string(), code, zh, en));
    }

    fn missing(&mut self, path: &(impl Display + ?Sized)) {
        self.push(
            path,
            "required",
            format!("{path} 为必填项"),
            format!("{path} is required"),
        );
    }

    /// Trimmed, non-empty text, or a `required` problem when `required`.
    fn text<'s>(
        &mut self,
        path: &(impl Display + ?Sized),
        v: &'s Option<String>,
        required: bool,
    ) -> Option<&'s str> {
        match v.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() => {
                // A char is at least one byte: count them only when the bytes could be too many.
                if s.len() > TEXT_CHARS_MAX && s.chars().count() > TEXT_CHARS_MAX {
                    self.push(
                        path,
                        "too_long",
                        format!("{path} 超过 {TEXT_CHARS_MAX} 个字符"),
                        format!("{path} is longer than {TEXT_CHARS_MAX} characters"),
                    );
                    return None;
                }
                Some(s)
            }
            _ => {
                if required {
                    self.missing(path);
                }
                None
            }
        }
    }

    fn owned_text(&mut self, path: &(impl Display + ?Sized), v: &Option<String>) -> Option<String> {
        self.text(path, v, false).map(str::to_owned)
    }

    fn format_error(&mut self, path: &(impl Display + ?Sized), value: &str, e: CodeError) {
        self.push(
            path,
            "format",
            format!("{path} 值 {value:?} {}", e.message_zh()),
            format!("{path} value {value:?}: {e}"),
        );
    }

    fn code<T>(
        &mut self,
        path: &(impl Display + ?Sized),
        v: &Option<String>,
        required: bool,
        parse: fn(&str) -> Result<T, CodeError>,
    ) -> Option<T> {
        let s = self.text(path, v, required)?;
        match parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.format_error(path, s, e);
                None
            }
        }
    }

    fn unknown_code(
        &mut self,
        path: &(impl Display + ?Sized),
        value: &str,
        table_zh: &str,
        table_en: &str,
    ) {
        self.push(
            path,
            "unknown_code",
            format!("{path} 值 {value:?} 不在{table_zh}代码表中"),
            format!("{path} value {value:?} is not in the {table_en} code table"),
        );
    }

    /// A code that must also be in one of the simple code tables.
    fn table_code<T>(
        &mut self,
        path: &(impl Display + ?Sized),
        v: &Option<String>,
        required: bool,
        parse: fn(&str) -> Result<T, CodeError>,
        table: CodeTable,
    ) -> Option<T> {
        let t = self.code(path, v, required, parse)?;
        // A parsed fixed-length code is exactly its trimmed input.
        let text = v.as_deref().map(str::trim).unwrap_or_default();
        if !self.reference.contains(table, text) {
            let (zh, en) = match table {
                CodeTable::Unit => ("计量单位", "unit"),
                CodeTable::LevyNature => ("征免性质", "levy nature"),
                CodeTable::DutyTreatment => ("征免方式", "duty treatment"),
                CodeTable::TransportMode => ("运输方式", "transport mode"),
                CodeTable::PackageType => ("包装种类", "package type"),
            };
            self.unknown_code(path, text, zh, en);
            return None;
        }
        Some(t)
    }

    fn office(&mut self, path: &(impl Display + ?Sized), v: &Option<String>) -> Option<OfficeCode> {
        let code = self.code(path, v, true, OfficeCode::parse)?;
        match self.reference.office(code) {
            None => {
                self.unknown_code(path, code.as_str(), "关区", "customs office");
                None
            }
            Some(o) if o.level == OfficeLevel::Hq => {
                self.push(
                    path,
                    "office_level",
                    format!("{path} 不能是海关总署 {code}"),
                    format!("{path} cannot be headquarters {code}: name the office that clears the goods"),
                );
                None
            }
            Some(_) => Some(code),
        }
    }

    fn country(
        &mut self,
        path: &(impl Display + ?Sized),
        v: &Option<String>,
    ) -> Option<CountryCode> {
        let s = self.text(path, v, true)?;
        let found = self.reference.country(s);
        if found.is_none() {
            self.unknown_code(path, s, "国别（地区）", "country");
        }
        found
    }

    fn currency(
        &mut self,
        path: &(impl Display + ?Sized),
        v: &Option<String>,
    ) -> Option<CurrencyCode> {
        let s = self.text(path, v, true)?;
        let found = self.reference.currency(s);
        if found.is_none() {
            self.unknown_code(path, s, "币制", "currency");
        }
        found
    }

    fn date(
        &mut self,
        path: &(impl Display + ?Sized),
        v: &Option<String>,
        required: bool,
    ) -> Option<NaiveDate> {
        let s = self.text(path, v, required)?;
        let parsed = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(s, "%Y%m%d"))
            .ok()
            .filter(|d| (1990..=2100).contains(&chrono::Datelike::year(d)));
        if parsed.is_none() {
            self.push(
                path,
                "date",
                format!("{path} 值 {s:?} 不是有效日期（YYYY-MM-DD，1990–2100年）"),
                format!("{path} value {s:?} is not a date YYYY-MM-DD between 1990 and 2100"),
            );
        }
        parsed
    }

    /// A decimal with at most `dp` decimal places, positive (or zero when `allow_zero`).
    fn number(
        &mut self,
        path: &(impl Display + ?Sized),
        v: &Option<NumberText>,
        required: bool,
        dp: u32,
        allow_zero: bool,
    ) -> Option<Decimal> {
        let Some(s) = v.as_ref().map(NumberText::as_str) else {
            if required {
                self.missing(path);
            }
            return None;
        };
        let s = s.trim();
        if s.is_empty() {
            if required {
                self.missing(path);
            }
            return None;
        }
        let Ok(d) = Decimal::from_str(s) else {
            self.push(
                path,
                "number",
                format!("{path} 值 {s:?} 不是数字"),
                format!("{path} value {s:?} is not a number"),
            );
            return None;
        };
        // Beyond 28 decimal places the parse rounds (0.000…01 reads as 0): that is too many
        // decimals, not "must be greater than zero".
        if d.is_zero() && s.bytes().any(|b| matches!(b, b'1'..=b'9')) {
            self.push(
                path,
                "decimals",
                format!("{path} 值 {s} 最多保留 {dp} 位小数"),
                format!("{path} value {s} has more than {dp} decimal places"),
            );
            return None;
        }
        if d.is_sign_negative() && !d.is_zero() || (d.is_zero() && !allow_zero) || d > MAGNITUDE_MAX
        {
            let (zh, en) = if allow_zero {
                ("不能为负数", "must not be negative")
            } else {
                ("必须大于零", "must be greater than zero")
            };
            let (zh, en) = if d > MAGNITUDE_MAX {
                ("数值过大", "is too large")
            } else {
                (zh, en)
            };
            self.push(
                path,
                "range",
                format!("{path} 值 {s} {zh}"),
                format!("{path} value {s} {en}"),
            );
            return None;
        }
        let d = d.normalize();
        if d.scale() > dp {
            self.push(
                path,
                "decimals",
                format!("{path} 值 {s} 最多保留 {dp} 位小数"),
                format!("{path} value {s} has more than {dp} decimal places"),
            );
            return None;
        }
        Some(d)
    }

    fn party(
        &mut self,
        path: &(impl Display + ?Sized),
        p: &Option<PartyForm>,
        required: bool,
    ) -> Option<Party> {
        let Some(p) = p else {
            if required {
                self.missing(path);
            }
            return None;
        };
        let name = self
            .text(&At(path, "name"), &p.name, true)
            .map(str::to_owned);
        let uscc = self.code(&At(path, "uscc"), &p.uscc, true, Uscc::parse);
        let customs_code = self.code(
            &At(path, "customs_code"),
            &p.customs_code,
            false,
            CustomsCode::parse,
        );
        Some(Party {
            name: name?,
            uscc: uscc?,
            customs_code,
        })
    }

    fn charge(
        &mut self,
        path: &(impl Display + ?Sized),
        c: &Option<ChargeForm>,
        per_unit_allowed: bool,
        negative_allowed: bool,
    ) -> Option<Option<Charge>> {
        let Some(c) = c else { return Some(None) };
        let mark = self.text(&At(path, "mark"), &c.mark, true);
        // Filling rules (报关单填制规范, 杂费): other charges to be included in the customs
        // value are filed as a positive amount or rate, those to be deducted from it (e.g.
        // post-importation costs included in the price) as a negative one. Only there.
        let (text, negative) = match c.value.as_ref().map(|v| v.as_str().trim()) {
            Some(t) if negative_allowed && t.starts_with('-') => {
                (Some(NumberText::new(&t[1..])), true)
            }
            _ => (c.value.clone(), false),
        };
        let value = self
            .number(&At(path, "value"), &text, true, 4, true)
            .map(|d| if negative { -d } else { d });
        let charge = match mark {
            Some("1") => {
                if c.currency.as_deref().is_some_and(|s| !s.trim().is_empty()) {
                    self.push(
                        &At(path, "currency"),
                        "charge_currency",
                        format!("{path} 为费率时不填币制"),
                        format!("{path} is a rate: give no currency"),
                    );
                }
                value.map(|percent| Charge::Rate { percent })
            }
            Some("2") if !per_unit_allowed => {
                self.push(
                    &At(path, "mark"),
                    "charge_mark",
                    format!("{path}.mark 单价（2）仅用于运费"),
                    format!("{path}.mark 2 (per unit) is for freight only"),
                );
                None
            }
            Some("2") | Some("3") => {
                let currency = self.currency(&At(path, "currency"), &c.currency);
                match (mark, value, currency) {
                    (Some("2"), Some(amount), Some(currency)) => {
                        Some(Charge::PerUnit { amount, currency })
                    }
                    (_, Some(amount), Some(currency)) => Some(Charge::Total { amount, currency }),
                    _ => None,
                }
            }
            Some(other) => {
                self.push(
                    &At(path, "mark"),
                    "charge_mark",
                    format!("{path}.mark 值 {other:?} 应为 1 费率、2 单价、3 总价"),
                    format!("{path}.mark {other:?} must be 1 rate, 2 per unit or 3 total"),
                );
                None
            }
            None => None,
        };
        charge.map(Some)
    }

    fn declaration(&mut self, f: &DeclarationForm) -> Option<Declaration> {
        let direction = match self.text("direction", &f.direction, true) {
            Some("import") | Some("I") => Some(Direction::Import),
            Some("export") | Some("E") => Some(Direction::Export),
            Some(other) => {
                self.push(
                    "direction",
                    "direction",
                    format!("direction 值 {other:?} 应为 import（进口）或 export（出口）"),
                    format!("direction {other:?} must be import or export"),
                );
                None
            }
            None => None,
        };
        let declaration_office = self.office("declaration_office", &f.declaration_office);
        let entry_exit_office = self.office("entry_exit_office", &f.entry_exit_office);
        let record_no = self.owned_text("record_no", &f.record_no);
        let contract_no = self.owned_text("contract_no", &f.contract_no);
        let ie_date = self.date("ie_date", &f.ie_date, false);
        let declaration_date = self.date("declaration_date", &f.declaration_date, true);
        let trader = self.party("trader", &f.trader, true);
        let overseas_party = match &f.overseas_party {
            None => {
                self.missing("overseas_party");
                None
            }
            Some(o) => {
                let name = self
                    .text("overseas_party.name", &o.name, true)
                    .map(str::to_owned);
                let code = self.owned_text("overseas_party.code", &o.code);
                if let Some(code) = &code {
                    let ok = code.len() <= 17
                        && code.len() >= 3
                        && code.bytes().take(2).all(|b| b.is_ascii_uppercase())
                        && code.bytes().skip(2).all(|b| b.is_ascii_alphanumeric());
                    if !ok {
                        self.push(
                            "overseas_party.code",
                            "format",
                            format!("overseas_party.code 值 {code:?} 应为两位国别字母加最多15位字母数字（AEO互认代码）"),
                            format!("overseas_party.code {code:?} must be two country letters and up to 15 letters or digits (AEO code)"),
                        );
                    }
                }
                let address = self.owned_text("overseas_party.address", &o.address);
                name.map(|name| OverseasParty {
                    code,
                    name,
                    address,
                })
            }
        };
        let owner = self.party("owner", &f.owner, false);
        let agent = self.party("agent", &f.agent, false);
        let transport_mode = self.table_code(
            "transport_mode",
            &f.transport_mode,
            true,
            TransportMode::parse,
            CodeTable::TransportMode,
        );
        let vessel = self.owned_text("vessel", &f.vessel);
        let voyage_no = self.owned_text("voyage_no", &f.voyage_no);
        let bill_no = self.owned_text("bill_no", &f.bill_no);
        let goods_place = self.owned_text("goods_place", &f.goods_place);

        let trade_mode = self.code("trade_mode", &f.trade_mode, true, TradeMode::parse);
        let reference = self.reference;
        let trade_mode_entry = trade_mode.and_then(|t| {
            let e = reference.trade_mode(t);
            if e.is_none() {
                self.unknown_code("trade_mode", t.as_str(), "监管方式", "trade mode");
            }
            e
        });
        let levy_nature = self.table_code(
            "levy_nature",
            &f.levy_nature,
            true,
            LevyNature::parse,
            CodeTable::LevyNature,
        );
        if let (Some(entry), Some(levy)) = (&trade_mode_entry, levy_nature) {
            if !entry.levy_natures.is_empty() && !entry.levy_natures.contains(&levy) {
                let allowed: Vec<String> =
                    entry.levy_natures.iter().map(|l| l.to_string()).collect();
                let allowed = allowed.join(", ");
                self.push(
                    "levy_nature",
                    "levy_nature_mismatch",
                    format!(
                        "征免性质 {levy} 与监管方式 {}（{}）不符，应为：{allowed}",
                        entry.code, entry.name_zh
                    ),
                    format!(
                        "levy nature {levy} does not fit trade mode {} ({}); allowed: {allowed}",
                        entry.code, entry.name_en
                    ),
                );
            }
        }
        let licence_no = self.owned_text("licence_no", &f.licence_no);
        let loading_port = self.owned_text("loading_port", &f.loading_port);
        let destination_port = self.owned_text("destination_port", &f.destination_port);
        for (path, v) in [
            ("loading_port", &loading_port),
            ("destination_port", &destination_port),
        ] {
            if let Some(p) = v {
                if p.len() > 8 || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    self.push(
                        path,
                        "format",
                        format!("{path} 值 {p:?} 应为最多8位字母数字的港口代码"),
                        format!("{path} {p:?} must be a port code of up to 8 letters or digits"),
                    );
                }
            }
        }
        let trading_country = self.country("trading_country", &f.trading_country);
        let dispatch_country = self.country("dispatch_country", &f.dispatch_country);
        let domestic_port = self.code(
            "domestic_port",
            &f.domestic_port,
            false,
            DomesticPort::parse,
        );
        let package_type = self.table_code(
            "package_type",
            &f.package_type,
            true,
            PackageType::parse,
            CodeTable::PackageType,
        );
        let packages = self
            .number("packages", &f.packages, true, 0, false)
            .and_then(|d| {
                let n = u32::try_from(d).ok();
                if n.is_none() {
                    self.push(
                        "packages",
                        "range",
                        "packages 件数过大".into(),
                        "packages is too large".into(),
                    );
                }
                n
            });
        let gross = self.number("gross_weight_kg", &f.gross_weight_kg, true, 5, false);
        let net = self.number("net_weight_kg", &f.net_weight_kg, true, 5, false);
        if let (Some(g), Some(n)) = (gross, net) {
            if n > g {
                self.push(
                    "net_weight_kg",
                    "net_exceeds_gross",
                    format!("净重 {n} 千克大于毛重 {g} 千克"),
                    format!("net weight {n} kg exceeds gross weight {g} kg"),
                );
            }
        }
        let transaction_terms = self.code(
            "transaction_terms",
            &f.transaction_terms,
            true,
            TransactionTerms::parse,
        );
        let freight = self.charge("freight", &f.freight, true, false);
        let insurance = self.charge("insurance", &f.insurance, false, false);
        let other_charges = self.charge("other_charges", &f.other_charges, false, true);

        let mut documents = Vec::new();
        for (i, d) in f.documents.iter().enumerate() {
            let code = self
                .text(&Field("documents", i, "code"), &d.code, true)
                .map(str::to_owned);
            let number = self
                .text(&Field("documents", i, "number"), &d.number, true)
                .map(str::to_owned);
            if let (Some(code), Some(number)) = (code, number) {
                if documents
                    .iter()
                    .any(|x: &Document| x.code == code && x.number == number)
                {
                    self.push(
                        &format!("documents[{i}]"),
                        "duplicate",
                        format!("随附单证 {code} {number} 重复"),
                        format!("document {code} {number} is listed twice"),
                    );
                }
                documents.push(Document { code, number });
            }
        }
        let marks = self.owned_text("marks", &f.marks);
        let remarks = self.owned_text("remarks", &f.remarks);
        let entry_type = match self.text("entry_type", &f.entry_type, false) {
            None => Some(EntryType::Paperless),
            Some("0") => Some(EntryType::Paper),
            Some("L") => Some(EntryType::PaperWithList),
            Some("D") => Some(EntryType::PaperlessWithList),
            Some("M") => Some(EntryType::Paperless),
            Some(other) => {
                self.push(
                    "entry_type",
                    "unknown_code",
                    format!("entry_type 值 {other:?} 应为 0、L、D 或 M"),
                    format!("entry_type {other:?} must be 0, L, D or M"),
                );
                None
            }
        };

        // Direction-specific fields and charges.
        if let Some(dir) = direction {
            let (wrong, wrong_dir_zh, wrong_dir_en) = match dir {
                Direction::Import => (&destination_port, "进口", "an import"),
                Direction::Export => (&loading_port, "出口", "an export"),
            };
            if wrong.is_some() {
                let path = match dir {
                    Direction::Import => "destination_port",
                    Direction::Export => "loading_port",
                };
                self.push(
                    path,
                    "direction_field",
                    format!("{wrong_dir_zh}报关单不填 {path}"),
                    format!("{path} does not belong on {wrong_dir_en} declaration"),
                );
            }
            if let Some(terms) = transaction_terms {
                self.charges_fit_terms(dir, terms, &f.freight, &f.insurance);
            }
        }

        // Items.
        if f.items.is_empty() || f.items.len() > ITEMS_MAX {
            self.push(
                "items",
                "items_count",
                format!("商品项数为 {}，应为 1 至 {ITEMS_MAX} 项", f.items.len()),
                format!(
                    "{} items given; a declaration has 1 to {ITEMS_MAX}",
                    f.items.len()
                ),
            );
        }
        let mut items = Vec::with_capacity(f.items.len().min(ITEMS_MAX));
        for (i, it) in f.items.iter().enumerate().take(ITEMS_MAX) {
            if let Some(item) = self.item(i, it, direction, declaration_date) {
                items.push(item);
            }
        }

        // A licence named where the tariff line requires one.
        if let Some(date) = declaration_date {
            for (i, it) in f.items.iter().enumerate().take(ITEMS_MAX) {
                let Some(code) = it
                    .commodity_code
                    .as_deref()
                    .and_then(|s| HsCode::parse(s.trim()).ok())
                else {
                    continue;
                };
                let Some(line) = self.reference.tariff_line(code, date) else {
                    continue;
                };
                let Some(doc) = line.licence.clone() else {
                    continue;
                };
                let named = licence_no.is_some() || documents.iter().any(|d| d.code == doc);
                if !named {
                    self.push(
                        &Field("items", i, "commodity_code"),
                        "licence_missing",
                        format!("商品 {code} 需要许可证（单证代码 {doc}），请填写许可证号或随附单证"),
                        format!("commodity {code} needs a licence (document code {doc}): give licence_no or attach the document"),
                    );
                }
            }
        }

        let buyer = self.buyer(f, direction, trade_mode_entry.as_ref().map(|e| e.code));

        Some(Declaration {
            direction: direction?,
            declaration_office: declaration_office?,
            entry_exit_office: entry_exit_office?,
            record_no,
            contract_no,
            ie_date,
            declaration_date: declaration_date?,
            trader: trader?,
            overseas_party: overseas_party?,
            owner,
            agent,
            transport_mode: transport_mode?,
            vessel,
            voyage_no,
            bill_no,
            goods_place,
            trade_mode: trade_mode_entry.map(|e| e.code)?,
            levy_nature: levy_nature?,
            licence_no,
            loading_port,
            destination_port,
            trading_country: trading_country?,
            dispatch_country: dispatch_country?,
            domestic_port,
            package_type: package_type?,
            packages: packages?,
            gross_weight_kg: gross?,
            net_weight_kg: net?,
            transaction_terms: transaction_terms?,
            freight: freight?,
            insurance: insurance?,
            other_charges: other_charges?,
            documents,
            marks,
            remarks,
            entry_type: entry_type?,
            buyer: buyer?,
            items: (items.len() == f.items.len()).then_some(items)?,
        })
    }

    /// The buyer: required for cross-border e-commerce retail imports (the person whose
    /// limits the tax engine applies), refused on any other declaration. `None` when a problem
    /// was found; `Some(None)` when there is rightly no buyer.
    fn buyer(
        &mut self,
        f: &DeclarationForm,
        direction: Option<Direction>,
        trade_mode: Option<TradeMode>,
    ) -> Option<Option<Buyer>> {
        let (Some(direction), Some(trade_mode)) = (direction, trade_mode) else {
            return Some(None);
        };
        let retail =
            direction == Direction::Import && trade_mode.is_cross_border_ecommerce_retail();
        let Some(b) = &f.buyer else {
            if retail {
                self.push(
                    "buyer",
                    "required",
                    format!("跨境电商零售进口（监管方式 {trade_mode}）须填写订购人 buyer"),
                    format!("a cross-border e-commerce retail import (trade mode {trade_mode}) names its buyer"),
                );
                return None;
            }
            return Some(None);
        };
        if !retail {
            self.push(
                "buyer",
                "not_applicable",
                "订购人 buyer 仅用于跨境电商零售进口（9610、1210）".to_owned(),
                "buyer is for cross-border e-commerce retail imports only (9610, 1210)".to_owned(),
            );
            return None;
        }
        let id_type = match self.text("buyer.id_type", &b.id_type, true) {
            Some("resident_id") => Some(BuyerIdType::ResidentId),
            Some("passport") => Some(BuyerIdType::Passport),
            Some(other) => {
                self.push(
                    "buyer.id_type",
                    "buyer_id_type",
                    format!("buyer.id_type 值 {other:?} 应为 resident_id（居民身份证）或 passport（护照）"),
                    format!("buyer.id_type {other:?} must be resident_id or passport"),
                );
                None
            }
            None => None,
        };
        let id_no = self
            .text("buyer.id_no", &b.id_no, true)
            .map(str::to_ascii_uppercase);
        let name = self.owned_text("buyer.name", &b.name);
        if name.is_none() && b.name.is_none() {
            self.missing("buyer.name");
        }
        let (Some(id_type), Some(id_no), Some(name)) = (id_type, id_no, name) else {
            return None;
        };
        let ok = match id_type {
            BuyerIdType::ResidentId => resident_id_is_valid(&id_no),
            BuyerIdType::Passport => {
                (5..=20).contains(&id_no.len()) && id_no.bytes().all(|c| c.is_ascii_alphanumeric())
            }
        };
        if !ok {
            let (zh, en) = match id_type {
                BuyerIdType::ResidentId => (
                    "应为18位居民身份证号码（末位校验码按 GB 11643 计算）",
                    "must be an 18-character resident identity number whose last character is its GB 11643 check character",
                ),
                BuyerIdType::Passport => ("应为5至20位字母数字的护照号码", "must be a passport number of 5 to 20 letters or digits"),
            };
            self.push(
                "buyer.id_no",
                "buyer_id_no",
                format!("buyer.id_no 值 {id_no:?} {zh}"),
                format!("buyer.id_no {id_no:?} {en}"),
            );
            return None;
        }
        Some(Some(Buyer {
            id_type,
            id_no,
            name,
        }))
    }

    /// Which charges the transaction terms allow or need. Import value is CIF, so what the price
    /// already includes must not be added again, and what it lacks must be given (insurance
    /// alone may stay unknown: the tax engine then applies 3‰). Export value is FOB, so what a
    /// CIF or C&F price includes must be given to be taken off.
    fn charges_fit_terms(
        &mut self,
        dir: Direction,
        terms: TransactionTerms,
        freight: &Option<ChargeForm>,
        insurance: &Option<ChargeForm>,
    ) {
        use TransactionTerms::*;
        let (freight_rule, insurance_rule) = match (dir, terms) {
            (Direction::Import, Cif) => (Some(false), Some(false)),
            (Direction::Import, Cfr) => (Some(false), None),
            (Direction::Import, Ci) => (Some(true), Some(false)),
            (Direction::Import, Fob | Exw) => (Some(true), None),
            (Direction::Export, Fob) => (Some(false), Some(false)),
            (Direction::Export, Cif | Cfr) => (Some(true), None),
            (_, MarketPrice | Dianchang) | (Direction::Export, Ci | Exw) => (None, None),
        };
        for (path, given, rule) in [
            ("freight", freight.is_some(), freight_rule),
            ("insurance", insurance.is_some(), insurance_rule),
        ] {
            match rule {
                Some(true) if !given => self.push(
                    path,
                    "charge_required",
                    format!("成交方式 {} 须填写 {path}", terms.name()),
                    format!("transaction terms {} need {path}", terms.name()),
                ),
                Some(false) if given => self.push(
                    path,
                    "charge_not_allowed",
                    format!("成交方式 {} 的价格已含 {path}，不应另填", terms.name()),
                    format!(
                        "a {} price already includes {path}: do not give it again",
                        terms.name()
                    ),
                ),
                _ => {}
            }
        }
    }

    fn item(
        &mut self,
        i: usize,
        it: &ItemForm,
        direction: Option<Direction>,
        date: Option<NaiveDate>,
    ) -> Option<Item> {
        let p = |f: &'static str| Field("items", i, f);
        let item_no = self
            .number(&p("item_no"), &it.item_no, true, 0, false)
            .and_then(|n| {
                if n != Decimal::from(i + 1) {
                    self.push(
                        &p("item_no"),
                        "item_no_sequence",
                        format!("项号应为 {}，实际为 {n}", i + 1),
                        format!("item number should be {}, found {n}", i + 1),
                    );
                    return None;
                }
                Some(i as u16 + 1)
            });
        let record_item = self.owned_text(&p("record_item"), &it.record_item);
        let commodity_code = self.code(
            &p("commodity_code"),
            &it.commodity_code,
            true,
            HsCode::parse,
        );
        let line = match (commodity_code, date) {
            (Some(code), Some(date)) => {
                let reference = self.reference;
                let line = reference.tariff_line(code, date);
                if line.is_none() {
                    self.push(
                        &p("commodity_code"),
                        "tariff_line_unknown",
                        format!("商品编号 {code} 在 {date} 的税则中不存在"),
                        format!("commodity code {code} is not in the tariff in force on {date}"),
                    );
                }
                line
            }
            _ => None,
        };
        let name = self.text(&p("name"), &it.name, true).map(str::to_owned);
        let specification = self
            .text(&p("specification"), &it.specification, true)
            .map(str::to_owned);
        let declared_quantity = self.number(
            &p("declared_quantity"),
            &it.declared_quantity,
            true,
            5,
            false,
        );
        let declared_unit = self.table_code(
            &p("declared_unit"),
            &it.declared_unit,
            true,
            UnitCode::parse,
            CodeTable::Unit,
        );
        let first_quantity = self.number(&p("first_quantity"), &it.first_quantity, true, 5, false);
        let first_unit = self.table_code(
            &p("first_unit"),
            &it.first_unit,
            true,
            UnitCode::parse,
            CodeTable::Unit,
        );
        let second_quantity =
            self.number(&p("second_quantity"), &it.second_quantity, false, 5, false);
        let second_unit = self.table_code(
            &p("second_unit"),
            &it.second_unit,
            false,
            UnitCode::parse,
            CodeTable::Unit,
        );
        let unit_price = self.number(&p("unit_price"), &it.unit_price, true, 4, false);
        let total_price = self.number(&p("total_price"), &it.total_price, true, 2, false);
        let currency = self.currency(&p("currency"), &it.currency);
        let origin_country = self.country(&p("origin_country"), &it.origin_country);
        let destination_country = self.country(&p("destination_country"), &it.destination_country);
        let district = self.code(&p("district"), &it.district, false, DistrictCode::parse);
        let duty_treatment = self.table_code(
            &p("duty_treatment"),
            &it.duty_treatment,
            true,
            DutyTreatment::parse,
            CodeTable::DutyTreatment,
        );
        let producer = self.owned_text(&p("producer"), &it.producer);

        if let (Some(q), Some(u), Some(t)) = (declared_quantity, unit_price, total_price) {
            // The unit price has 4 decimals and the total 2: allow half a unit of the last place
            // of each, plus one fen for the sender's own rounding.
            let tolerance = Decimal::new(1, 2) + q * Decimal::new(5, 5);
            // Each is at most 10^15, so the product can pass Decimal's range (7.9 × 10^28);
            // then it is far above any total.
            match q.checked_mul(u) {
                Some(expected) if (expected - t).abs() <= tolerance => {}
                Some(expected) => self.push(
                    &p("total_price"),
                    "total_mismatch",
                    format!(
                        "总价 {t} 与数量 {q} × 单价 {u} = {} 不符",
                        expected.round_dp(2)
                    ),
                    format!(
                        "total {t} differs from quantity {q} × unit price {u} = {}",
                        expected.round_dp(2)
                    ),
                ),
                None => self.push(
                    &p("total_price"),
                    "total_mismatch",
                    format!("总价 {t} 与数量 {q} × 单价 {u} 不符（乘积过大）"),
                    format!("total {t} differs from quantity {q} × unit price {u} (a product beyond range)"),
                ),
            }
        }
        if let Some(line) = line {
            if let Some(fu) = first_unit {
                if fu != line.first_unit {
                    self.push(
                        &p("first_unit"),
                        "legal_unit",
                        format!(
                            "法定第一计量单位应为 {}（税则 {}），实际为 {fu}",
                            line.first_unit, line.commodity_code
                        ),
                        format!(
                            "the legal first unit of {} is {}, not {fu}",
                            line.commodity_code, line.first_unit
                        ),
                    );
                }
            }
            match (line.second_unit, second_unit, second_quantity) {
                (Some(want), got, qty) => {
                    if got != Some(want) {
                        self.push(
                            &p("second_unit"),
                            "legal_unit",
                            format!(
                                "法定第二计量单位应为 {want}（税则 {}）",
                                line.commodity_code
                            ),
                            format!("the legal second unit of {} is {want}", line.commodity_code),
                        );
                    }
                    if qty.is_none() && it.second_quantity.is_none() {
                        self.push(
                            &p("second_quantity"),
                            "required",
                            format!("商品 {} 须申报法定第二数量", line.commodity_code),
                            format!(
                                "commodity {} needs a legal second quantity",
                                line.commodity_code
                            ),
                        );
                    }
                }
                (None, got, qty) => {
                    if got.is_some() || qty.is_some() {
                        self.push(
                            &p("second_unit"),
                            "legal_unit",
                            format!("商品 {} 无法定第二计量单位，不应填写", line.commodity_code),
                            format!(
                                "commodity {} has no legal second unit: leave it out",
                                line.commodity_code
                            ),
                        );
                    }
                }
            }
        }
        if let (Some(du), Some(fu), Some(dq), Some(fq)) =
            (declared_unit, first_unit, declared_quantity, first_quantity)
        {
            if du == fu && dq != fq {
                self.push(
                    &p("first_quantity"),
                    "quantity_mismatch",
                    format!("申报单位与法定单位相同（{du}），数量应一致：{dq} ≠ {fq}"),
                    format!("declared and legal first unit are both {du}, so the quantities must agree: {dq} ≠ {fq}"),
                );
            }
        }
        if let (Some(Direction::Import), Some(dest)) = (direction, destination_country) {
            if dest.as_str() != "CHN" {
                self.push(
                    &p("destination_country"),
                    "direction_field",
                    format!("进口货物最终目的国应为中国（CHN），实际为 {dest}"),
                    format!("the final destination of imported goods is China (CHN), not {dest}"),
                );
            }
        }

        let origin_proof = match &it.origin_proof {
            None => Some(None),
            Some(f) => self.origin_proof(&p("origin_proof"), f).map(Some),
        };
        let quota_certificate_no = self.quota_certificate_no(
            &p("quota_certificate_no"),
            it,
            direction,
            commodity_code,
            date,
        );

        Some(Item {
            item_no: item_no?,
            record_item,
            commodity_code: commodity_code?,
            name: name?,
            specification: specification?,
            declared_quantity: declared_quantity?,
            declared_unit: declared_unit?,
            first_quantity: first_quantity?,
            first_unit: first_unit?,
            second_quantity,
            second_unit,
            unit_price: unit_price?,
            total_price: total_price?,
            currency: currency?,
            origin_country: origin_country?,
            destination_country: destination_country?,
            district,
            duty_treatment: duty_treatment?,
            producer,
            origin_proof: origin_proof?,
            quota_certificate_no: quota_certificate_no?,
        })
    }

    /// The tariff-quota certificate number of an item (关税配额证明; Import and Export Duties
    /// Regulations art. 11: the in-quota rate for imports within the quota): a number like a
    /// licence's, on an import whose commodity is under a tariff quota on the declaration
    /// date. `Some(None)` when the item names none.
    fn quota_certificate_no(
        &mut self,
        path: &(impl Display + ?Sized),
        it: &ItemForm,
        direction: Option<Direction>,
        code: Option<HsCode>,
        date: Option<NaiveDate>,
    ) -> Option<Option<String>> {
        let Some(no) = self.text(path, &it.quota_certificate_no, false) else {
            return Some(None);
        };
        if no.chars().count() > QUOTA_CERTIFICATE_NO_CHARS_MAX
            || !no.chars().all(|c| c.is_ascii_graphic())
        {
            self.push(
                path,
                "quota_certificate_no",
                format!("{path} 值 {no:?} 应为不超过 {QUOTA_CERTIFICATE_NO_CHARS_MAX} 个半角字符、无空格的关税配额证明编号"),
                format!("{path} {no:?} must be a tariff-quota certificate number: at most {QUOTA_CERTIFICATE_NO_CHARS_MAX} half-width characters, no spaces"),
            );
            return None;
        }
        if direction == Some(Direction::Export) {
            self.push(
                path,
                "quota_certificate_export",
                format!("{path}：关税配额证明只用于进口货物"),
                format!("{path}: a tariff-quota certificate applies to imports only"),
            );
            return None;
        }
        if let (Some(code), Some(date)) = (code, date) {
            if self.reference.tariff_quota(code, date).is_none() {
                self.push(
                    path,
                    "quota_not_applicable",
                    format!("商品 {code} 在 {date} 不实行关税配额管理，不应填写关税配额证明"),
                    format!("commodity {code} is not under a tariff quota on {date}: leave the tariff-quota certificate out"),
                );
                return None;
            }
        }
        Some(Some(no.to_owned()))
    }

    /// The proof of origin of an item (优惠贸易协定项下原产地管理办法: a certificate of origin or
    /// an origin declaration, for one agreement, and direct transport).
    fn origin_proof(
        &mut self,
        path: &(impl Display + ?Sized),
        f: &crate::declaration::OriginProofForm,
    ) -> Option<crate::declaration::OriginProof> {
        use crate::declaration::{OriginProof, OriginProofKind};
        let agreement = self.text(&At(path, "agreement"), &f.agreement, true);
        let agreement = match agreement {
            Some(a)
                if (1..=16).contains(&a.len())
                    && a.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
            {
                Some(a.to_owned())
            }
            Some(a) => {
                self.push(
                    &At(path, "agreement"),
                    "agreement",
                    format!("{path}.agreement 值 {a:?} 应为协定代码（1–16 位大写字母或数字，如 RCEP）"),
                    format!("{path}.agreement {a:?} must be an agreement code (1–16 capitals or digits, e.g. RCEP)"),
                );
                None
            }
            None => None,
        };
        let kind = match self.text(&At(path, "kind"), &f.kind, true) {
            Some("certificate") => Some(OriginProofKind::Certificate),
            Some("declaration") => Some(OriginProofKind::Declaration),
            Some(other) => {
                self.push(
                    &At(path, "kind"),
                    "origin_proof_kind",
                    format!("{path}.kind 值 {other:?} 应为 certificate（原产地证书）或 declaration（原产地声明）"),
                    format!("{path}.kind {other:?} must be certificate or declaration"),
                );
                None
            }
            None => None,
        };
        let number = match self.text(&At(path, "number"), &f.number, true) {
            Some(n) if n.len() <= 50 && n.bytes().all(|b| b.is_ascii_graphic()) => {
                Some(n.to_owned())
            }
            Some(n) => {
                self.push(
                    &At(path, "number"),
                    "origin_proof_number",
                    format!("{path}.number 值 {n:?} 应为不超过50个半角字符、无空格的证书或声明编号"),
                    format!("{path}.number {n:?} must be the certificate or declaration number: at most 50 half-width characters, no spaces"),
                );
                None
            }
            None => None,
        };
        let direct_transport = match f.direct_transport {
            Some(d) => Some(d),
            None => {
                self.missing(&At(path, "direct_transport"));
                None
            }
        };
        Some(OriginProof {
            agreement: agreement?,
            kind: kind?,
            number: number?,
            direct_transport: direct_transport?,
        })
    }
}
