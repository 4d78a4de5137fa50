//! Identifiers and code values (docs/DOMAIN.md §1).
//!
//! Every type here has one constructor, `parse`, which checks the format (and check characters
//! where there are any); `Display` writes the canonical form back, so `parse(display(x)) == x`.
//! Whether a well-formed code is also *in* a code table is a question for [`crate::reference`].
//!
//! # Normalisation policy (one rule for every code type)
//!
//! A code is accepted only in its canonical form: half-width ASCII, capital letters, no
//! surrounding or inner spaces and no dashes. Anything else is *refused*, never silently
//! rewritten, with [`CodeError::NotCanonical`], whose message names the problem (lowercase,
//! full-width character, separator, surrounding space) and, when the normalised text is a valid
//! code, gives it, so the filer can copy it. A declaration is a legal statement of the filer:
//! changing what was filed without their seeing it is not the system's call, and a dash or a
//! space inside a code is as likely a typo as a formatting habit. [`normalise`] is the one
//! function that computes the suggestion (idempotent: `normalise(normalise(s)) ==
//! normalise(s)`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

/// Why a code failed to parse. Messages are English; [`crate::problem`] adds the Chinese.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CodeError {
    #[error("must be {expected} characters, found {found}")]
    Length { expected: usize, found: usize },
    #[error("character {position} ({found:?}) is not allowed: {allowed}")]
    Character {
        position: usize,
        found: char,
        allowed: &'static str,
    },
    #[error("check character should be {expected:?}, found {found:?}")]
    CheckCharacter { expected: char, found: char },
    #[error("{0}")]
    Invalid(&'static str),
    #[error("{problem}{}", canonical.as_ref().map(|c| format!("; write it as {c}")).unwrap_or_default())]
    NotCanonical {
        problem: FormProblem,
        /// The normalised text, when it is a valid code.
        canonical: Option<String>,
    },
    #[error("position 1 ({found:?}) is not a registration authority of GB 32100-2015 table 1 (1-9, A, N, Y)")]
    RegistrationAuthority { found: char },
    #[error("position 2 ({found:?}) is not an entity category of registration authority {authority:?} (GB 32100-2015 table 1 allows {allowed})")]
    EntityCategory {
        authority: char,
        found: char,
        allowed: &'static str,
    },
    #[error("positions 9-17 are not a GB 11714 organisation code: its check character (position 17) should be {expected:?}, found {found:?}")]
    OrganisationCheckCharacter { expected: char, found: char },
    #[error("positions 7-14 ({found}) are not a possible birth date: {reason}")]
    BirthDate { found: String, reason: &'static str },
    #[error("positions 1-6 ({found}) are not an administrative division code of GB/T 2260")]
    Division { found: String },
}

/// What keeps a text from being a code's canonical form (see the module's policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormProblem {
    /// Spaces (or other white space) before or after the code.
    SurroundingSpace,
    /// A lowercase letter at this position (1-based, in characters).
    Lowercase { position: usize },
    /// A full-width character (全角) at this position.
    FullWidth { position: usize },
    /// A space or dash inside the code at this position.
    Separator { position: usize },
}

impl fmt::Display for FormProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormProblem::SurroundingSpace => write!(f, "spaces around the code"),
            FormProblem::Lowercase { position } => write!(
                f,
                "character {position} is a lowercase letter; codes are written in capitals"
            ),
            FormProblem::FullWidth { position } => write!(
                f,
                "character {position} is full-width (全角); codes are written in half-width characters"
            ),
            FormProblem::Separator { position } => write!(
                f,
                "character {position} is a space or dash; codes are written without separators"
            ),
        }
    }
}

impl FormProblem {
    /// The same in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            FormProblem::SurroundingSpace => "代码前后有空格".into(),
            FormProblem::Lowercase { position } => {
                format!("第{position}位是小写字母，代码应使用大写字母")
            }
            FormProblem::FullWidth { position } => {
                format!("第{position}位是全角字符，代码应使用半角字符")
            }
            FormProblem::Separator { position } => {
                format!("第{position}位是空格或连字符，代码中不应有分隔符")
            }
        }
    }
}

/// Full-width forms (U+FF01..U+FF5E) and the ideographic space to their ASCII counterparts.
fn half_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || c == '-'
}

/// The canonical form of a typed code: full-width characters to half-width, letters to
/// capitals, spaces and dashes removed (inner and surrounding). Idempotent.
pub fn normalise(s: &str) -> String {
    s.chars()
        .map(half_width)
        .filter(|&c| !is_separator(c))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// The first thing that keeps `s` from being canonical, if any.
pub fn form_problem(s: &str) -> Option<FormProblem> {
    if s.trim() != s {
        return Some(FormProblem::SurroundingSpace);
    }
    for (i, c) in s.chars().enumerate() {
        let position = i + 1;
        if half_width(c) != c {
            return Some(FormProblem::FullWidth { position });
        }
        if is_separator(c) {
            return Some(FormProblem::Separator { position });
        }
        if c.is_ascii_lowercase() {
            return Some(FormProblem::Lowercase { position });
        }
    }
    None
}

/// Applies the normalisation policy around a parser of canonical text.
fn canonical<T>(s: &str, parse: impl Fn(&str) -> Result<T, CodeError>) -> Result<T, CodeError> {
    match form_problem(s) {
        Some(problem) => {
            let normalised = normalise(s);
            let canonical = parse(&normalised).is_ok().then_some(normalised);
            Err(CodeError::NotCanonical { problem, canonical })
        }
        None => parse(s),
    }
}

impl CodeError {
    /// A stable short code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            CodeError::Length { .. } => "length",
            CodeError::Character { .. } => "character",
            CodeError::CheckCharacter { .. } => "check_character",
            CodeError::Invalid(_) => "invalid",
            CodeError::NotCanonical { .. } => "not_canonical",
            CodeError::RegistrationAuthority { .. } => "registration_authority",
            CodeError::EntityCategory { .. } => "entity_category",
            CodeError::OrganisationCheckCharacter { .. } => "organisation_check_character",
            CodeError::BirthDate { .. } => "birth_date",
            CodeError::Division { .. } => "division",
        }
    }

    /// The same message in Chinese.
    pub fn message_zh(&self) -> String {
        match self {
            CodeError::Length { expected, found } => {
                format!("长度应为{expected}位，实际为{found}位")
            }
            CodeError::Character {
                position,
                found,
                allowed,
            } => {
                format!("第{position}位字符{found:?}不合法（允许：{allowed}）")
            }
            CodeError::CheckCharacter { expected, found } => {
                format!("校验位应为{expected:?}，实际为{found:?}")
            }
            CodeError::Invalid(what) => format!("格式不正确：{what}"),
            CodeError::NotCanonical { problem, canonical } => match canonical {
                Some(c) => format!("{}；应写作 {c}", problem.message_zh()),
                None => problem.message_zh(),
            },
            CodeError::RegistrationAuthority { found } => format!(
                "第1位{found:?}不是 GB 32100-2015 表1中的登记管理部门代码（1-9、A、N、Y）"
            ),
            CodeError::EntityCategory {
                authority,
                found,
                allowed,
            } => format!(
                "第2位{found:?}不是登记管理部门{authority:?}的机构类别代码（GB 32100-2015 表1：{allowed}）"
            ),
            CodeError::OrganisationCheckCharacter { expected, found } => format!(
                "第9-17位不是有效的组织机构代码（GB 11714）：第17位校验码应为{expected:?}，实际为{found:?}"
            ),
            CodeError::BirthDate { found, reason } => {
                format!("第7-14位（{found}）不是可能的出生日期：{reason}")
            }
            CodeError::Division { found } => {
                format!("第1-6位（{found}）不是 GB/T 2260 行政区划代码")
            }
        }
    }
}

fn check_len(s: &str, expected: usize) -> Result<(), CodeError> {
    let found = s.chars().count();
    if found != expected {
        return Err(CodeError::Length { expected, found });
    }
    Ok(())
}

/// After `check_len`, so that byte slicing below is safe.
fn check_ascii(s: &str, allowed: &'static str) -> Result<(), CodeError> {
    match s.chars().enumerate().find(|(_, c)| !c.is_ascii()) {
        Some((i, found)) => Err(CodeError::Character {
            position: i + 1,
            found,
            allowed,
        }),
        None => Ok(()),
    }
}

fn check_chars(s: &str, allowed: &'static str, ok: impl Fn(u8) -> bool) -> Result<(), CodeError> {
    for (i, c) in s.chars().enumerate() {
        if !c.is_ascii() || !ok(c as u8) {
            return Err(CodeError::Character {
                position: i + 1,
                found: c,
                allowed,
            });
        }
    }
    Ok(())
}

fn copy_bytes<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(s.as_bytes());
    out
}

/// Serde through `Display`/`FromStr`, so JSON carries the canonical text form.
macro_rules! serde_via_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                <$t>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
        impl FromStr for $t {
            type Err = CodeError;
            fn from_str(s: &str) -> Result<Self, CodeError> {
                <$t>::parse(s)
            }
        }
    };
}

/// A fixed-length code of ASCII characters from a given set, stored inline.
macro_rules! fixed_code {
    ($(#[$m:meta])* $name:ident, $len:expr, $allowed:expr, $pred:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; $len]);

        impl $name {
            pub const LEN: usize = $len;

            pub fn parse(s: &str) -> Result<Self, CodeError> {
                canonical(s, |s| {
                    check_len(s, $len)?;
                    check_chars(s, $allowed, $pred)?;
                    Ok($name(copy_bytes(s)))
                })
            }

            pub fn as_str(&self) -> &str {
                // Only ASCII bytes are ever stored.
                std::str::from_utf8(&self.0).expect("code bytes are ASCII")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.as_str())
            }
        }

        serde_via_str!($name);
    };
}

const DIGITS: &str = "数字 digits 0-9";
const UPPER: &str = "大写字母 letters A-Z";
const DIGITS_UPPER: &str = "数字和大写字母 digits 0-9 and letters A-Z";

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}
fn is_upper(b: u8) -> bool {
    b.is_ascii_uppercase()
}
fn is_digit_upper(b: u8) -> bool {
    b.is_ascii_digit() || b.is_ascii_uppercase()
}

fixed_code!(
    /// Customs office code 关区代码: 4 digits. `0000` is HQ; the office table, not the digits,
    /// says which office is under which.
    OfficeCode, 4, DIGITS, is_digit
);

impl OfficeCode {
    pub const HQ: OfficeCode = OfficeCode(*b"0000");

    /// The parent that the digits suggest (`xxyy` → `xx00`, `xx00` → `0000`). The office table
    /// is the authority; this is only its fallback for codes it does not list.
    pub fn digit_parent(&self) -> Option<OfficeCode> {
        if *self == Self::HQ {
            None
        } else if &self.0[2..] == b"00" {
            Some(Self::HQ)
        } else {
            Some(OfficeCode([self.0[0], self.0[1], b'0', b'0']))
        }
    }
}

fixed_code!(
    /// Commodity code 商品编号: 10 digits (6 HS + 2 national tariff + 2 supplementary).
    HsCode, 10, DIGITS, is_digit
);

impl HsCode {
    pub fn chapter(&self) -> &str {
        &self.as_str()[..2]
    }
    pub fn heading(&self) -> &str {
        &self.as_str()[..4]
    }
    pub fn hs6(&self) -> &str {
        &self.as_str()[..6]
    }
    /// The 8-digit tariff and statistics line.
    pub fn tariff8(&self) -> &str {
        &self.as_str()[..8]
    }
}

fixed_code!(
    /// Country or region in ISO 3166 alpha-3 (`CHN`). Legacy 3-digit codes are translated by
    /// the reference data at the gate; this type holds only the alpha form.
    CountryCode, 3, UPPER, is_upper
);

fixed_code!(
    /// Currency in ISO 4217 alpha (`USD`). Legacy 3-digit codes are translated at the gate.
    CurrencyCode, 3, UPPER, is_upper
);

impl CurrencyCode {
    pub const CNY: CurrencyCode = CurrencyCode(*b"CNY");
}

fixed_code!(
    /// Unit of measure 计量单位: 3 digits (`035` kilogram).
    UnitCode, 3, DIGITS, is_digit
);

fixed_code!(
    /// Trade mode 监管方式: 4 digits (`0110` general trade).
    TradeMode, 4, DIGITS, is_digit
);

impl TradeMode {
    pub const GENERAL_TRADE: TradeMode = TradeMode(*b"0110");
    /// Cross-border e-commerce retail: taxed under the e-commerce regime.
    pub fn is_cross_border_ecommerce_retail(&self) -> bool {
        matches!(&self.0, b"9610" | b"1210")
    }
}

fixed_code!(
    /// Levy nature 征免性质: 3 digits (`101` general levy).
    LevyNature, 3, DIGITS, is_digit
);

fixed_code!(
    /// Duty treatment 征免方式: 1 digit (`1` as the tariff says, `3` fully exempt).
    DutyTreatment, 1, DIGITS, is_digit
);

impl DutyTreatment {
    pub const AS_TARIFF: DutyTreatment = DutyTreatment(*b"1");
    pub const HALF: DutyTreatment = DutyTreatment(*b"2");
    pub const EXEMPT: DutyTreatment = DutyTreatment(*b"3");
}

fixed_code!(
    /// Transport mode 运输方式: one digit or letter (`2` waterway, `5` air, `L` passengers).
    TransportMode, 1, DIGITS_UPPER, is_digit_upper
);

fixed_code!(
    /// Package type 包装种类: 2 digits.
    PackageType, 2, DIGITS, is_digit
);

fixed_code!(
    /// Domestic port of entry or exit 境内口岸: 6 digits.
    DomesticPort, 6, DIGITS, is_digit
);

fixed_code!(
    /// Domestic destination or source district 境内目的地/货源地: 5 digits.
    DistrictCode, 5, DIGITS, is_digit
);

/// Import or export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Import,
    Export,
}

impl Direction {
    /// The flag digit in numbers: `1` import, `0` export.
    pub fn flag(self) -> char {
        match self {
            Direction::Import => '1',
            Direction::Export => '0',
        }
    }
    pub fn name_zh(self) -> &'static str {
        match self {
            Direction::Import => "进口",
            Direction::Export => "出口",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Import => "import",
            Direction::Export => "export",
        })
    }
}

/// Transaction terms 成交方式.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TransactionTerms {
    Cif,
    Cfr,
    Fob,
    Ci,
    MarketPrice,
    /// 垫仓: a rare mode kept for old filings.
    Dianchang,
    Exw,
}

impl TransactionTerms {
    pub const ALL: [TransactionTerms; 7] = [
        TransactionTerms::Cif,
        TransactionTerms::Cfr,
        TransactionTerms::Fob,
        TransactionTerms::Ci,
        TransactionTerms::MarketPrice,
        TransactionTerms::Dianchang,
        TransactionTerms::Exw,
    ];

    /// Parses the canonical form; see the module's normalisation policy.
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        canonical(s, Self::parse_canonical)
    }

    fn parse_canonical(s: &str) -> Result<Self, CodeError> {
        check_len(s, 1)?;
        Ok(match s {
            "1" => TransactionTerms::Cif,
            "2" => TransactionTerms::Cfr,
            "3" => TransactionTerms::Fob,
            "4" => TransactionTerms::Ci,
            "5" => TransactionTerms::MarketPrice,
            "6" => TransactionTerms::Dianchang,
            "7" => TransactionTerms::Exw,
            _ => return Err(CodeError::Invalid(
                "transaction terms are 1 CIF, 2 C&F, 3 FOB, 4 C&I, 5 market price, 6 垫仓, 7 EXW",
            )),
        })
    }

    pub fn code(self) -> char {
        match self {
            TransactionTerms::Cif => '1',
            TransactionTerms::Cfr => '2',
            TransactionTerms::Fob => '3',
            TransactionTerms::Ci => '4',
            TransactionTerms::MarketPrice => '5',
            TransactionTerms::Dianchang => '6',
            TransactionTerms::Exw => '7',
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            TransactionTerms::Cif => "CIF",
            TransactionTerms::Cfr => "C&F",
            TransactionTerms::Fob => "FOB",
            TransactionTerms::Ci => "C&I",
            TransactionTerms::MarketPrice => "market price",
            TransactionTerms::Dianchang => "垫仓",
            TransactionTerms::Exw => "EXW",
        }
    }
}

impl fmt::Display for TransactionTerms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}
serde_via_str!(TransactionTerms);

// ---------------------------------------------------------------------------------------------
// Unified social credit code (GB 32100-2015)

/// The 31 symbols of GB 32100: digits and capitals without I, O, S, V, Z.
pub const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];
const USCC_ALLOWED: &str =
    "数字和除I、O、S、V、Z外的大写字母 digits and capitals except I, O, S, V, Z";

fn uscc_index(b: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&c| c == b).map(|i| i as u32)
}

/// Unified social credit code 统一社会信用代码: 18 characters with a GB 32100 check character.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uscc([u8; 18]);

impl Uscc {
    /// The check character for a 17-character body (all from [`USCC_ALPHABET`]).
    pub fn check_character(body: &str) -> Result<char, CodeError> {
        check_len(body, 17)?;
        let mut sum = 0u32;
        for (i, c) in body.chars().enumerate() {
            let idx = (c.is_ascii())
                .then(|| uscc_index(c as u8))
                .flatten()
                .ok_or(CodeError::Character {
                    position: i + 1,
                    found: c,
                    allowed: USCC_ALLOWED,
                })?;
            sum += idx * USCC_WEIGHTS[i];
        }
        let check = (31 - sum % 31) % 31;
        Ok(USCC_ALPHABET[check as usize] as char)
    }

    /// Parses the canonical form; see the module's normalisation policy.
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        canonical(s, Self::parse_canonical)
    }

    fn parse_canonical(s: &str) -> Result<Self, CodeError> {
        check_len(s, 18)?;
        check_ascii(s, USCC_ALLOWED)?;
        // Every position from the 31-symbol set first, so that the errors below can name
        // positions and the check characters can be computed.
        for (i, c) in s.chars().enumerate() {
            if uscc_index(c as u8).is_none() {
                return Err(CodeError::Character {
                    position: i + 1,
                    found: c,
                    allowed: USCC_ALLOWED,
                });
            }
        }
        let b = s.as_bytes();
        // Position 1: a registration authority of table 1; position 2: a category of it.
        let authority = b[0] as char;
        let allowed = uscc_categories(authority)
            .ok_or(CodeError::RegistrationAuthority { found: authority })?;
        if !allowed.contains(b[1] as char) {
            return Err(CodeError::EntityCategory {
                authority,
                found: b[1] as char,
                allowed,
            });
        }
        // Positions 3-8: the administrative division code, digits (GB/T 2260).
        check_chars(&s[2..8], DIGITS, is_digit).map_err(|e| match e {
            CodeError::Character {
                position,
                found,
                allowed,
            } => CodeError::Character {
                position: position + 2,
                found,
                allowed,
            },
            other => other,
        })?;
        // Positions 9-17: a GB 11714 organisation code, with its own check character.
        let expected = organisation_check_digit(&s[8..16])?;
        let found = b[16] as char;
        if found != expected {
            return Err(CodeError::OrganisationCheckCharacter { expected, found });
        }
        // Position 18: the GB 32100 check character over positions 1-17.
        let expected = Self::check_character(&s[..17])?;
        let found = b[17] as char;
        if found != expected {
            return Err(CodeError::CheckCharacter { expected, found });
        }
        Ok(Uscc(copy_bytes(s)))
    }

    /// A valid code from its parts: registration authority and category (positions 1-2), the
    /// six-digit division (3-8) and the eight-character organisation code body (9-16); both
    /// check characters (17 and 18) are computed. For generators and tests.
    pub fn from_parts(
        authority: char,
        category: char,
        division: &str,
        organisation_body: &str,
    ) -> Result<Self, CodeError> {
        let org_check = organisation_check_digit(organisation_body)?;
        let body = format!("{authority}{category}{division}{organisation_body}{org_check}");
        let check = Self::check_character(&body)?;
        Self::parse(&format!("{body}{check}"))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("USCC bytes are ASCII")
    }

    /// Position 1: the registration authority (`9` market regulation).
    pub fn registration_authority(&self) -> char {
        self.0[0] as char
    }
    /// Position 2: the entity type within that authority.
    pub fn entity_type(&self) -> char {
        self.0[1] as char
    }
    /// Positions 3–8: the administrative division code.
    pub fn division(&self) -> &str {
        &self.as_str()[2..8]
    }
    /// Positions 9–17: the organisation code body.
    pub fn organisation_code(&self) -> &str {
        &self.as_str()[8..17]
    }

    /// Positions 9-17 as a GB 11714 organisation code. `parse` already requires its check
    /// character (GB 32100-2015, 4.3), so this always holds for a parsed code; kept for callers
    /// that ask explicitly.
    pub fn check_organisation_code(&self) -> Result<(), CodeError> {
        let org = self.organisation_code();
        let expected = organisation_check_digit(&org[..8])?;
        let found = org[8..].chars().next().expect("nine characters");
        if found != expected {
            return Err(CodeError::OrganisationCheckCharacter { expected, found });
        }
        Ok(())
    }
}

/// The entity categories (position 2) allowed for a registration authority (position 1), from
/// GB 32100-2015 table 1 "登记管理部门代码和机构类别代码" as amended (A and N were added by
/// the standard's amendments): `None` when the character is no registration authority.
pub fn uscc_categories(authority: char) -> Option<&'static str> {
    Some(match authority {
        '1' => "1239",   // 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
        '2' => "19",     // 外交: 外国常驻新闻机构, 其他
        '3' => "123459", // 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
        '4' => "19",     // 文化: 外国在华文化中心, 其他
        '5' => "1239",   // 民政: 社会团体, 民办非企业单位, 基金会, 其他
        '6' => "129", // 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地（大陆）代表机构, 其他
        '7' => "129", // 宗教: 宗教活动场所, 宗教院校, 其他
        '8' => "19",  // 工会: 基层工会, 其他
        '9' => "123", // 工商: 企业, 个体工商户, 农民专业合作社
        'A' => "19",  // 中央军委改革和编制办公室: 军队事业单位, 其他
        'N' => "1239", // 农业: 组级, 村级, 乡镇级集体经济组织, 其他
        'Y' => "1",   // 其他: not divided further, always 1
        _ => return None,
    })
}

/// The GB 11714 check digit for an 8-character organisation code body.
pub fn organisation_check_digit(body: &str) -> Result<char, CodeError> {
    const WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];
    check_len(body, 8)?;
    let mut sum = 0;
    for (i, c) in body.chars().enumerate() {
        let v = match c {
            '0'..='9' => c as u32 - '0' as u32,
            'A'..='Z' => c as u32 - 'A' as u32 + 10,
            _ => {
                return Err(CodeError::Character {
                    position: i + 1,
                    found: c,
                    allowed: DIGITS_UPPER,
                })
            }
        };
        sum += v * WEIGHTS[i];
    }
    Ok(match 11 - sum % 11 {
        11 => '0',
        10 => 'X',
        r => char::from_digit(r, 10).expect("below 10"),
    })
}

impl fmt::Display for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Debug for Uscc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uscc({})", self.as_str())
    }
}
serde_via_str!(Uscc);

// ---------------------------------------------------------------------------------------------
// Customs enterprise code

/// Customs enterprise code 海关注册编码: 10 characters. 1–4 locality (digits), 5 economic zone
/// (digit), 6 enterprise type (digit), 7–10 sequence (digits or capitals).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomsCode([u8; 10]);

impl CustomsCode {
    /// Parses the canonical form; see the module's normalisation policy.
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        canonical(s, Self::parse_canonical)
    }

    fn parse_canonical(s: &str) -> Result<Self, CodeError> {
        check_len(s, 10)?;
        check_ascii(s, DIGITS_UPPER)?;
        check_chars(&s[..6], DIGITS, is_digit)?;
        for (i, c) in s[6..].chars().enumerate() {
            if !c.is_ascii() || !is_digit_upper(c as u8) {
                return Err(CodeError::Character {
                    position: i + 7,
                    found: c,
                    allowed: DIGITS_UPPER,
                });
            }
        }
        Ok(CustomsCode(copy_bytes(s)))
    }
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII")
    }
    pub fn locality(&self) -> &str {
        &self.as_str()[..4]
    }
    pub fn zone(&self) -> char {
        self.0[4] as char
    }
    pub fn zone_name(&self) -> &'static str {
        match self.0[4] {
            b'1' => "special economic zone 经济特区",
            b'2' => "economic and technological development zone 经济技术开发区",
            b'3' => "high-tech industrial zone 高新技术产业开发区",
            b'4' => "bonded zone 保税区",
            b'5' => "export processing zone 出口加工区",
            b'9' => "other 其他",
            _ => "unlisted zone digit 未列明",
        }
    }
    pub fn enterprise_type(&self) -> char {
        self.0[5] as char
    }
    pub fn enterprise_type_name(&self) -> &'static str {
        match self.0[5] {
            b'1' => "state-owned 国有企业",
            b'2' => "Sino-foreign contractual joint venture 中外合作企业",
            b'3' => "Sino-foreign equity joint venture 中外合资企业",
            b'4' => "wholly foreign-owned 外商独资企业",
            b'5' => "collective 集体企业",
            b'6' => "private 私营企业",
            b'7' => "individual business 个体工商户",
            b'8' => "customs broker 报关企业",
            b'9' => "other 其他",
            _ => "unlisted type digit 未列明",
        }
    }
    pub fn sequence(&self) -> &str {
        &self.as_str()[6..]
    }
}

impl fmt::Display for CustomsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Debug for CustomsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CustomsCode({})", self.as_str())
    }
}
serde_via_str!(CustomsCode);

// ---------------------------------------------------------------------------------------------
// Declaration and pre-entry numbers

/// The flag at position 9 of an entry number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EntryFlag {
    /// `1` (or `I` on a consolidated list).
    Import { list: bool },
    /// `0` (or `E` on a consolidated list).
    Export { list: bool },
}

impl EntryFlag {
    pub fn direction(self) -> Direction {
        match self {
            EntryFlag::Import { .. } => Direction::Import,
            EntryFlag::Export { .. } => Direction::Export,
        }
    }
    fn char(self) -> char {
        match self {
            EntryFlag::Import { list: false } => '1',
            EntryFlag::Import { list: true } => 'I',
            EntryFlag::Export { list: false } => '0',
            EntryFlag::Export { list: true } => 'E',
        }
    }
}

/// The common shape of the 18-character declaration number and pre-entry number:
/// office (4) + year (4) + flag (1) + serial (9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryNumber {
    office: OfficeCode,
    year: u16,
    flag: EntryFlag,
    serial: u32,
}

impl EntryNumber {
    pub const SERIAL_MAX: u32 = 999_999_999;

    pub fn new(office: OfficeCode, year: u16, direction: Direction, serial: u32) -> Option<Self> {
        if serial > Self::SERIAL_MAX || year > 9999 {
            return None;
        }
        let flag = match direction {
            Direction::Import => EntryFlag::Import { list: false },
            Direction::Export => EntryFlag::Export { list: false },
        };
        Some(EntryNumber {
            office,
            year,
            flag,
            serial,
        })
    }

    /// Parses the canonical form; see the module's normalisation policy.
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        canonical(s, Self::parse_canonical)
    }

    fn parse_canonical(s: &str) -> Result<Self, CodeError> {
        check_len(s, 18)?;
        check_ascii(s, DIGITS)?;
        check_chars(&s[..8], DIGITS, is_digit)?;
        let flag = match s.as_bytes()[8] {
            b'1' => EntryFlag::Import { list: false },
            b'I' => EntryFlag::Import { list: true },
            b'0' => EntryFlag::Export { list: false },
            b'E' => EntryFlag::Export { list: true },
            _ => {
                let found = s[8..].chars().next().expect("length checked");
                return Err(CodeError::Character {
                    position: 9,
                    found,
                    allowed: "1或I（进口）、0或E（出口） 1 or I (import), 0 or E (export)",
                });
            }
        };
        for (i, c) in s[9..].chars().enumerate() {
            if !c.is_ascii_digit() {
                return Err(CodeError::Character {
                    position: i + 10,
                    found: c,
                    allowed: DIGITS,
                });
            }
        }
        Ok(EntryNumber {
            office: OfficeCode::parse(&s[..4])?,
            year: s[4..8].parse().expect("four digits"),
            flag,
            serial: s[9..].parse().expect("nine digits"),
        })
    }

    pub fn direction(&self) -> Direction {
        self.flag.direction()
    }

    /// The office that numbered it (positions 1-4).
    pub fn office(&self) -> OfficeCode {
        self.office
    }

    /// The year (positions 5-8).
    pub fn year(&self) -> u16 {
        self.year
    }

    /// The flag at position 9 (direction, and whether it is a consolidated list).
    pub fn flag(&self) -> EntryFlag {
        self.flag
    }

    /// The serial (positions 10-18).
    pub fn serial(&self) -> u32 {
        self.serial
    }
}

impl fmt::Display for EntryNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{:04}{}{:09}",
            self.office,
            self.year,
            self.flag.char(),
            self.serial
        )
    }
}

macro_rules! entry_number_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(EntryNumber);

        impl $name {
            /// The number as its common 18-character shape.
            pub fn entry_number(&self) -> EntryNumber { self.0 }
            pub fn parse(s: &str) -> Result<Self, CodeError> {
                EntryNumber::parse(s).map($name)
            }
            pub fn new(office: OfficeCode, year: u16, direction: Direction, serial: u32) -> Option<Self> {
                EntryNumber::new(office, year, direction, serial).map($name)
            }
            pub fn office(&self) -> OfficeCode { self.0.office() }
            pub fn year(&self) -> u16 { self.0.year() }
            pub fn direction(&self) -> Direction { self.0.direction() }
            pub fn serial(&self) -> u32 { self.0.serial() }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
        serde_via_str!($name);
    };
}

entry_number_type!(
    /// Customs declaration number 海关编号, given at acceptance.
    DeclarationNo
);
entry_number_type!(
    /// Pre-entry number 预录入编号, given at submission.
    PreEntryNo
);

// ---------------------------------------------------------------------------------------------
// Resident identity number

/// Resident identity number 公民身份号码 (GB 11643-1999): positions 1-6 the address code
/// (GB/T 2260 administrative division of the permanent residence when issued), 7-14 the birth
/// date YYYYMMDD (GB/T 7408), 15-17 the sequence (odd for men, even for women), 18 the check
/// character of ISO 7064 MOD 11-2 (`0`-`9` or `X`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResidentId([u8; 18]);

const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const DIGITS_OR_X: &str = "数字或X digits 0-9 or X";

/// The earliest birth year accepted: the oldest person ever verified lived to 122, so nobody
/// alive when the first numbers were issued (1984) was born before 1850.
pub const RESIDENT_ID_FIRST_BIRTH_YEAR: i32 = 1850;

impl ResidentId {
    /// The GB 11643 check character of 17 digits (weights 2^(17-i) mod 11; 10 is `X`).
    pub fn check_character(body: &str) -> Result<char, CodeError> {
        check_len(body, 17)?;
        check_chars(body, DIGITS, is_digit)?;
        let sum: u32 = body
            .bytes()
            .zip(RESIDENT_ID_WEIGHTS)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        Ok(b"10X98765432"[(sum % 11) as usize] as char)
    }

    /// Parses the canonical form: division known, birth date a real day from 1850, check
    /// character right. Whether the birth date is in the future needs today's date: see
    /// [`ResidentId::parse_on`].
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        canonical(s, Self::parse_canonical)
    }

    /// [`ResidentId::parse`], and the birth date not after `today` (the China date).
    pub fn parse_on(s: &str, today: chrono::NaiveDate) -> Result<Self, CodeError> {
        let id = Self::parse(s)?;
        if id.birth_date() > today {
            return Err(CodeError::BirthDate {
                found: s[6..14].to_owned(),
                reason: "after today 晚于今天",
            });
        }
        Ok(id)
    }

    fn parse_canonical(s: &str) -> Result<Self, CodeError> {
        check_len(s, 18)?;
        check_ascii(s, DIGITS_OR_X)?;
        check_chars(&s[..17], DIGITS, is_digit)?;
        let last = s[17..].chars().next().expect("length checked");
        if !(last.is_ascii_digit() || last == 'X') {
            return Err(CodeError::Character {
                position: 18,
                found: last,
                allowed: DIGITS_OR_X,
            });
        }
        let expected = Self::check_character(&s[..17])?;
        if last != expected {
            return Err(CodeError::CheckCharacter {
                expected,
                found: last,
            });
        }
        let division: u32 = s[..6].parse().expect("six digits");
        if crate::divisions::DIVISIONS
            .binary_search(&division)
            .is_err()
        {
            return Err(CodeError::Division {
                found: s[..6].to_owned(),
            });
        }
        let date = &s[6..14];
        let (y, m, d) = (
            date[..4].parse::<i32>().expect("digits"),
            date[4..6].parse::<u32>().expect("digits"),
            date[6..].parse::<u32>().expect("digits"),
        );
        if y < RESIDENT_ID_FIRST_BIRTH_YEAR {
            return Err(CodeError::BirthDate {
                found: date.to_owned(),
                reason: "before 1850 早于1850年",
            });
        }
        if chrono::NaiveDate::from_ymd_opt(y, m, d).is_none() {
            return Err(CodeError::BirthDate {
                found: date.to_owned(),
                reason: "no such day in the calendar 日历中无此日",
            });
        }
        Ok(ResidentId(copy_bytes(s)))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("resident id bytes are ASCII")
    }

    /// Positions 1-6: the address code.
    pub fn division(&self) -> &str {
        &self.as_str()[..6]
    }

    /// Positions 7-14: the birth date.
    pub fn birth_date(&self) -> chrono::NaiveDate {
        let s = self.as_str();
        chrono::NaiveDate::parse_from_str(&s[6..14], "%Y%m%d").expect("checked by parse")
    }

    /// Positions 15-17: the sequence code.
    pub fn sequence(&self) -> &str {
        &self.as_str()[14..17]
    }

    /// GB 11643-1999, 4.3: an odd sequence code is given to men, an even one to women.
    pub fn is_male(&self) -> bool {
        (self.0[16] - b'0') % 2 == 1
    }
}

impl fmt::Display for ResidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl fmt::Debug for ResidentId {
    // Personal data: the debug form hides the birth date and sequence.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ResidentId({}********{})",
            self.division(),
            &self.as_str()[14..]
        )
    }
}
serde_via_str!(ResidentId);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn published_uscc_validates() {
        let u = Uscc::parse("91110000600037341L").unwrap();
        assert_eq!(u.registration_authority(), '9');
        assert_eq!(u.entity_type(), '1');
        assert_eq!(u.division(), "110000");
        assert_eq!(u.organisation_code(), "600037341");
    }

    #[test]
    fn uscc_with_wrong_check_is_refused() {
        assert_eq!(
            Uscc::parse("91110000600037341M"),
            Err(CodeError::CheckCharacter {
                expected: 'L',
                found: 'M'
            })
        );
        assert!(matches!(
            Uscc::parse("91110000600037341"),
            Err(CodeError::Length { .. })
        ));
        // I, O, S, V, Z are not in the alphabet.
        assert!(matches!(
            Uscc::parse("9111000060003734IL"),
            Err(CodeError::Character {
                position: 17,
                found: 'I',
                ..
            })
        ));
        // Lowercase is refused with the canonical form (the module's normalisation policy).
        assert_eq!(
            Uscc::parse("91110000600037341l"),
            Err(CodeError::NotCanonical {
                problem: FormProblem::Lowercase { position: 18 },
                canonical: Some("91110000600037341L".into()),
            })
        );
    }

    #[test]
    fn more_usccs_against_the_published_algorithm() {
        // Expected check characters computed independently (Python, GB 32100-2015 weights
        // 3^(i-1) mod 31 over the 31-symbol alphabet), not by this code.
        for (code, check) in [
            ("91310000132149237G", 'G'),
            ("914403001922038216", '6'),
            ("91440300MA5FT3XKX8", '8'),
            ("91310115MA1K4Q7B4Y", 'Y'),
            ("91350100M000100Y43", '3'),
        ] {
            assert_eq!(Uscc::check_character(&code[..17]), Ok(check), "{code}");
            assert!(Uscc::parse(code).is_ok(), "{code}");
        }
        // Wrong check characters: the algorithm gives D and H. Their positions 9-17 are no
        // GB 11714 organisation code either (the check digits of 14293302 and 72298427 are 5,
        // computed by hand: 3·1+7·4+9·2+10·9+5·3+8·3+4·0+2·2 = 182, 11 − 182 mod 11 = 5), which
        // GB 32100-2015 4.3 requires, so that is the first error reported.
        assert_eq!(Uscc::check_character("91330000142933021"), Ok('D'));
        assert_eq!(Uscc::check_character("91110108722984277"), Ok('H'));
        assert_eq!(
            Uscc::parse("91330000142933021T"),
            Err(CodeError::OrganisationCheckCharacter {
                expected: '5',
                found: '1'
            })
        );
        assert_eq!(
            Uscc::parse("911101087229842770"),
            Err(CodeError::OrganisationCheckCharacter {
                expected: '5',
                found: '7'
            })
        );
    }

    /// GB 32100-2015, 4.1 and table 1: position 1 is a registration authority code, position
    /// 2 a category code of that authority; 4.2: positions 3-8 the administrative division
    /// code of GB/T 2260 (digits); 4.3: positions 9-17 the organisation code of GB 11714 with
    /// its check character; 4.4: position 18 the check character of clause 5.
    #[test]
    fn gb_32100_structure() {
        // Expected codes computed independently (Python, /tmp script of the branch's author).
        for code in [
            "Y1110000MA00000A92",
            "A1110000MA00000A9N",
            "N2110000MA00000A97",
        ] {
            assert!(Uscc::parse(code).is_ok(), "{code}");
        }
        let make = |a: char, c: char, div: &str| {
            let org = format!("MA00000A{}", organisation_check_digit("MA00000A").unwrap());
            let body = format!("{a}{c}{div}{org}");
            let check = Uscc::check_character(&body).unwrap();
            format!("{body}{check}")
        };
        // B is in the alphabet but no registration authority of table 1.
        assert_eq!(
            Uscc::parse(&make('B', '1', "110000")),
            Err(CodeError::RegistrationAuthority { found: 'B' })
        );
        // Market regulation (9) has categories 1 企业, 2 个体工商户, 3 农民专业合作社: no 9.
        assert_eq!(
            Uscc::parse(&make('9', '9', "110000")),
            Err(CodeError::EntityCategory {
                authority: '9',
                found: '9',
                allowed: "123"
            })
        );
        // Y (other) is not divided further: its category is always 1.
        assert!(matches!(
            Uscc::parse(&make('Y', '2', "110000")),
            Err(CodeError::EntityCategory { .. })
        ));
        // A letter in the division code.
        assert_eq!(
            Uscc::parse(&make('9', '1', "11A000")),
            Err(CodeError::Character {
                position: 5,
                found: 'A',
                allowed: DIGITS
            })
        );
        // Every authority of the table with every category it allows parses.
        for a in "123456789ANY".chars() {
            for c in uscc_categories(a).unwrap().chars() {
                assert!(Uscc::parse(&make(a, c, "310000")).is_ok(), "{a}{c}");
            }
        }
    }

    /// The normalisation policy, for every code type: refused, the problem named, the
    /// canonical form given when it is valid.
    #[test]
    fn non_canonical_forms_are_refused_with_the_problem_named() {
        let not = |r: Result<(), CodeError>| match r {
            Err(CodeError::NotCanonical { problem, canonical }) => (problem, canonical),
            other => panic!("{other:?}"),
        };
        let (p, c) = not(Uscc::parse("9111 0000 6000 3734 1L").map(drop));
        assert_eq!(p, FormProblem::Separator { position: 5 });
        assert_eq!(c.as_deref(), Some("91110000600037341L"));
        let (p, c) = not(Uscc::parse("９１１１００００６０００３７３４１Ｌ").map(drop));
        assert_eq!(p, FormProblem::FullWidth { position: 1 });
        assert_eq!(c.as_deref(), Some("91110000600037341L"));
        let (p, _) = not(DeclarationNo::parse(" 020220080525641690").map(drop));
        assert_eq!(p, FormProblem::SurroundingSpace);
        let (p, c) = not(DeclarationNo::parse("0202-2008-0-525641690").map(drop));
        assert_eq!(p, FormProblem::Separator { position: 5 });
        assert_eq!(c.as_deref(), Some("020220080525641690"));
        let (p, c) = not(PreEntryNo::parse("22002024i000000001").map(drop));
        assert_eq!(p, FormProblem::Lowercase { position: 9 });
        assert_eq!(c.as_deref(), Some("22002024I000000001"));
        let (_, c) = not(HsCode::parse("8471.30-00.90").map(drop));
        assert_eq!(
            c, None,
            "a dot is no separator: still not a code after normalising"
        );
        let (_, c) = not(HsCode::parse("8471 3000 90").map(drop));
        assert_eq!(c.as_deref(), Some("8471300090"));
        let (_, c) = not(CountryCode::parse("usa").map(drop));
        assert_eq!(c.as_deref(), Some("USA"));
        let (_, c) = not(CustomsCode::parse("1105９10159").map(drop));
        assert_eq!(c.as_deref(), Some("1105910159"));
        let (_, c) = not(OfficeCode::parse("02 02").map(drop));
        assert_eq!(c.as_deref(), Some("0202"));
        let (_, c) = not(TransactionTerms::parse("１").map(drop));
        assert_eq!(c.as_deref(), Some("1"));
        let (p, c) = not(ResidentId::parse("11010519491231002x").map(drop));
        assert_eq!(p, FormProblem::Lowercase { position: 18 });
        assert_eq!(c.as_deref(), Some("11010519491231002X"));
        // Both languages name the problem.
        let e = Uscc::parse("91110000600037341l").unwrap_err();
        assert!(e.to_string().contains("lowercase"), "{e}");
        assert!(e.message_zh().contains("小写"), "{}", e.message_zh());
        assert!(e.message_zh().contains("91110000600037341L"));
    }

    /// GB 11643-1999: 4.2 address code (GB/T 2260), 4.3 birth date (GB/T 7408, a real day),
    /// 4.4 sequence (odd men, even women), 4.5 / 5 the ISO 7064 MOD 11-2 check character. The
    /// standard's sample number is 11010519491231002X.
    #[test]
    fn gb_11643_resident_ids() {
        let id = ResidentId::parse("11010519491231002X").unwrap();
        assert_eq!(id.division(), "110105");
        assert_eq!(
            id.birth_date(),
            chrono::NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
        );
        assert_eq!(id.sequence(), "002");
        assert!(!id.is_male());
        assert_eq!(format!("{id:?}"), "ResidentId(110105********002X)");
        let with_check =
            |body: &str| format!("{body}{}", ResidentId::check_character(body).unwrap());
        // Each of these has a fitting check character, and each is refused.
        for (body, why) in [
            ("11010519491331002", "month 13"),
            ("11010519491232002", "day 32"),
            ("11010520230230002", "30 February"),
            ("11010520230431002", "31 April"),
            ("11010519000229002", "1900 was no leap year"),
            ("11010500000101002", "year 0000"),
        ] {
            assert!(
                matches!(
                    ResidentId::parse(&with_check(body)),
                    Err(CodeError::BirthDate { .. })
                ),
                "{why}"
            );
        }
        // 2000 was a leap year (divisible by 400).
        assert!(ResidentId::parse(&with_check("11010520000229002")).is_ok());
        for division in ["990000", "123456"] {
            assert_eq!(
                ResidentId::parse(&with_check(&format!("{division}19800101002"))),
                Err(CodeError::Division {
                    found: division.into()
                })
            );
        }
        // A retired code stays valid in numbers issued while it was in use (崇文区, to 2010).
        assert!(ResidentId::parse(&with_check("11010319800101002")).is_ok());
        // Residence permits of Taiwan residents (国办发〔2018〕81号).
        assert!(ResidentId::parse(&with_check("83000019800101002")).is_ok());
        // Not born after today.
        let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        assert!(ResidentId::parse_on(&with_check("11010520261207002"), today).is_ok());
        assert!(matches!(
            ResidentId::parse_on(&with_check("11010520261208002"), today),
            Err(CodeError::BirthDate { .. })
        ));
        assert_eq!(
            ResidentId::parse("110105194912310021"),
            Err(CodeError::CheckCharacter {
                expected: 'X',
                found: '1'
            })
        );
    }

    #[test]
    fn organisation_code_check() {
        // 60003734-1: 6*3+0*7+0*9+0*10+3*5+7*8+3*4+4*2 = 109; 109 % 11 = 10; 11-10 = 1.
        assert_eq!(organisation_check_digit("60003734").unwrap(), '1');
        Uscc::parse("91110000600037341L")
            .unwrap()
            .check_organisation_code()
            .unwrap();
        // GB 32100-2015 4.3: positions 9-17 are a GB 11714 code, so a wrong organisation
        // check digit is refused even when the GB 32100 check character fits.
        let body = "91110000600037342";
        let check = Uscc::check_character(body).unwrap();
        assert_eq!(
            Uscc::parse(&format!("{body}{check}")),
            Err(CodeError::OrganisationCheckCharacter {
                expected: '1',
                found: '2'
            })
        );
    }

    #[test]
    fn declaration_number_example() {
        let n = DeclarationNo::parse("020220080525641690").unwrap();
        assert_eq!(n.office().as_str(), "0202");
        assert_eq!(n.year(), 2008);
        assert_eq!(n.direction(), Direction::Export);
        assert_eq!(n.serial(), 525641690);
        assert_eq!(n.to_string(), "020220080525641690");
    }

    #[test]
    fn entry_number_errors() {
        assert!(matches!(
            DeclarationNo::parse("02022008X525641690"),
            Err(CodeError::Character { position: 9, .. })
        ));
        assert!(matches!(
            DeclarationNo::parse("0202"),
            Err(CodeError::Length { .. })
        ));
        let list = PreEntryNo::parse("22002024I000000001").unwrap();
        assert_eq!(list.direction(), Direction::Import);
        assert_eq!(list.to_string(), "22002024I000000001");
    }

    #[test]
    fn office_parent_by_digits() {
        let o = OfficeCode::parse("0101").unwrap();
        assert_eq!(o.digit_parent().unwrap().as_str(), "0100");
        assert_eq!(
            o.digit_parent().unwrap().digit_parent(),
            Some(OfficeCode::HQ)
        );
        assert_eq!(OfficeCode::HQ.digit_parent(), None);
    }

    #[test]
    fn customs_code_parts() {
        let c = CustomsCode::parse("1105910159").unwrap();
        assert_eq!(c.locality(), "1105");
        assert_eq!(c.zone(), '9');
        assert_eq!(c.enterprise_type(), '1');
        assert_eq!(c.sequence(), "0159");
        assert!(CustomsCode::parse("11059101").is_err());
        assert!(CustomsCode::parse("11A5910159").is_err());
    }

    #[test]
    fn multibyte_input_is_an_error_not_a_panic() {
        assert!(Uscc::parse("９１１１００００６０００３７３４１Ｌ").is_err());
        assert!(DeclarationNo::parse("02022008０525641690").is_err());
        assert!(CustomsCode::parse("１１０５９１０１５９").is_err());
        assert!(HsCode::parse("８４７１３０００９").is_err());
        assert!(Uscc::parse("91110000600037341é").is_err());
    }

    /// 17 characters that may open a valid USCC: authority and category of table 1, six
    /// digits, an organisation code body and its GB 11714 check character.
    fn uscc_body() -> impl Strategy<Value = String> {
        let authorities: Vec<char> = "123456789ANY".chars().collect();
        (
            proptest::sample::select(authorities),
            0usize..6,
            "[0-9]{6}",
            proptest::collection::vec(0usize..31, 8),
        )
            .prop_map(|(a, c, division, org)| {
                let cats: Vec<char> = uscc_categories(a).unwrap().chars().collect();
                let org: String = org.into_iter().map(|i| USCC_ALPHABET[i] as char).collect();
                let org_check = organisation_check_digit(&org).unwrap();
                format!("{a}{}{division}{org}{org_check}", cats[c % cats.len()])
            })
    }

    fn valid_uscc() -> impl Strategy<Value = String> {
        uscc_body().prop_map(|b| {
            let c = Uscc::check_character(&b).unwrap();
            format!("{b}{c}")
        })
    }

    fn valid_resident_id() -> impl Strategy<Value = String> {
        (
            proptest::sample::select(crate::divisions::DIVISIONS),
            0i64..60_000,
            "[0-9]{3}",
        )
            .prop_map(|(division, days, seq)| {
                let born = chrono::NaiveDate::from_ymd_opt(1860, 1, 1).unwrap()
                    + chrono::Duration::days(days);
                let body = format!("{division}{}{seq}", born.format("%Y%m%d"));
                let check = ResidentId::check_character(&body).unwrap();
                format!("{body}{check}")
            })
    }

    /// The characters a position of a code may hold, for corruptions.
    const ANY_CODE_CHAR: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /// Every other character at every position (within the code's character set or not).
    fn corruptions(code: &str) -> impl Iterator<Item = String> + '_ {
        (0..code.len()).flat_map(move |i| {
            ANY_CODE_CHAR
                .chars()
                .filter(move |&c| c as u8 != code.as_bytes()[i])
                .map(move |c| {
                    let mut s = code.to_owned();
                    s.replace_range(i..=i, &c.to_string());
                    s
                })
        })
    }

    proptest! {
        #[test]
        fn computed_check_characters_validate(body in uscc_body()) {
            let check = Uscc::check_character(&body).unwrap();
            let code = format!("{body}{check}");
            let u = Uscc::parse(&code).unwrap();
            prop_assert_eq!(u.to_string(), code);
        }

        #[test]
        fn any_other_check_character_is_refused(body in uscc_body(), other in 0usize..31) {
            let check = Uscc::check_character(&body).unwrap();
            let other = USCC_ALPHABET[other] as char;
            prop_assume!(other != check);
            let is_check_error = matches!(Uscc::parse(&format!("{body}{other}")), Err(CodeError::CheckCharacter { .. }));
            prop_assert!(is_check_error);
        }

        /// GB 32100-2015 clause 5 and GB 11714: a generated valid code parses, and every
        /// single-character change of it is refused (31 is prime, so the check character of
        /// clause 5 catches any one change in positions 1-17).
        #[test]
        fn uscc_valid_accepted_and_every_corruption_refused(code in valid_uscc()) {
            prop_assert_eq!(Uscc::parse(&code).unwrap().to_string(), code.clone());
            for bad in corruptions(&code) {
                prop_assert!(Uscc::parse(&bad).is_err(), "{} accepted", bad);
            }
        }

        /// GB 11643-1999: a generated valid number parses, every single-character change is
        /// refused (ISO 7064 MOD 11-2 detects all single substitutions).
        #[test]
        fn resident_id_valid_accepted_and_every_corruption_refused(id in valid_resident_id()) {
            let parsed = ResidentId::parse(&id).unwrap();
            prop_assert_eq!(parsed.to_string(), id.clone());
            let json = serde_json::to_string(&parsed).unwrap();
            prop_assert_eq!(serde_json::from_str::<ResidentId>(&json).unwrap(), parsed);
            for bad in corruptions(&id) {
                prop_assert!(ResidentId::parse(&bad).is_err(), "{} accepted", bad);
            }
        }

        /// Normalisation is idempotent, canonical text has no form problem, and a valid code
        /// disguised (lowercase, full-width, spaces and dashes) is refused and normalises back.
        #[test]
        fn normalisation_is_idempotent(s in "\\PC{0,24}", code in valid_uscc(), id in valid_resident_id(),
                                       cut in 1usize..17, sep in "[ -]", full in 0usize..18) {
            let once = normalise(&s);
            prop_assert_eq!(normalise(&once), once.clone());
            let disguise = |c: &str| {
                let mut d: String = c.chars().enumerate().map(|(i, ch)| {
                    if i == full { char::from_u32(ch as u32 + 0xFEE0).unwrap() } else { ch.to_ascii_lowercase() }
                }).collect();
                let at = d.char_indices().nth(cut).unwrap().0;
                d.insert_str(at, &sep);
                d
            };
            for (code, disguised) in [(code.clone(), disguise(&code)), (id.clone(), disguise(&id))] {
                prop_assert_eq!(normalise(&disguised), code.clone());
                prop_assert_eq!(form_problem(&code), None);
                prop_assert!(form_problem(&disguised).is_some());
            }
            let canonical_uscc = Some(code.clone());
            let is_refused = matches!(Uscc::parse(&disguise(&code)), Err(CodeError::NotCanonical { canonical, .. }) if canonical == canonical_uscc);
            prop_assert!(is_refused);
            let canonical_id = Some(id.clone());
            let is_refused = matches!(ResidentId::parse(&disguise(&id)), Err(CodeError::NotCanonical { canonical, .. }) if canonical == canonical_id);
            prop_assert!(is_refused);
        }

        /// Every code type follows the one normalisation policy: a valid code with one character
        /// full-width, its letters lowercase, or a space or dash inside is refused as not
        /// canonical, with the original as the canonical form; and a character outside the
        /// type's set at any position is refused (codes without a check character cannot refuse
        /// a change to another allowed character, so that is the property they can have).
        #[test]
        fn every_code_type_follows_the_policy(
            digits in "[0-9]{18}",
            letters in "[A-Z]{3}",
            at in 0usize..18,
            sep in "[ -]",
            bad in "[a-z!#%&*+/=?@^_~]",
        ) {
            macro_rules! policy {
                ($t:ty, $code:expr) => {{
                    let code: String = $code;
                    prop_assert!(<$t>::parse(&code).is_ok(), "{}", code);
                    let n = code.chars().count();
                    let i = at % n;
                    let full: String = code.chars().enumerate()
                        .map(|(k, c)| if k == i { char::from_u32(c as u32 + 0xFEE0).unwrap() } else { c })
                        .collect();
                    let lower = code.to_ascii_lowercase();
                    let mut spaced = code.clone();
                    spaced.insert_str(1 + i % (n - 1), &sep);
                    for disguised in [full, spaced].into_iter().chain((lower != code).then_some(lower)) {
                        let refused = matches!(<$t>::parse(&disguised),
                            Err(CodeError::NotCanonical { canonical: Some(ref c), .. }) if *c == code);
                        prop_assert!(refused, "{} -> {:?}", disguised, <$t>::parse(&disguised));
                    }
                    let mut corrupted = code.clone();
                    corrupted.replace_range(i..=i, &bad);
                    prop_assert!(<$t>::parse(&corrupted).is_err(), "{}", corrupted);
                }};
            }
            policy!(OfficeCode, digits[..4].to_string());
            policy!(HsCode, digits[..10].to_string());
            policy!(CustomsCode, digits[..10].to_string());
            let flag = if digits.as_bytes()[4] % 2 == 0 { '0' } else { '1' };
            policy!(DeclarationNo, format!("{}2024{flag}{}", &digits[..4], &digits[9..18]));
            policy!(PreEntryNo, format!("{}2024I{}", &digits[..4], &digits[9..18]));
            policy!(CountryCode, letters.clone());
            policy!(CurrencyCode, letters.clone());
            policy!(UnitCode, digits[..3].to_string());
            policy!(TradeMode, digits[..4].to_string());
        }

        #[test]
        fn entry_numbers_round_trip(office in 0u16..10000, year in 0u16..10000, import: bool, list: bool, serial in 0u32..=999_999_999) {
            let office = OfficeCode::parse(&format!("{office:04}")).unwrap();
            let flag = if import { EntryFlag::Import { list } } else { EntryFlag::Export { list } };
            let n = EntryNumber { office, year, flag, serial };
            prop_assert_eq!(EntryNumber::parse(&n.to_string()).unwrap(), n);
        }

        #[test]
        fn fixed_codes_round_trip(s in "[0-9]{10}") {
            let h = HsCode::parse(&s).unwrap();
            prop_assert_eq!(HsCode::parse(&h.to_string()).unwrap(), h);
            let c = CustomsCode::parse(&s).unwrap();
            prop_assert_eq!(CustomsCode::parse(&c.to_string()).unwrap(), c);
            let o = OfficeCode::parse(&s[..4]).unwrap();
            prop_assert_eq!(OfficeCode::parse(&o.to_string()).unwrap(), o);
        }

        #[test]
        fn alpha_codes_round_trip(s in "[A-Z]{3}") {
            let c = CountryCode::parse(&s).unwrap();
            prop_assert_eq!(CountryCode::parse(&c.to_string()).unwrap(), c);
            let c = CurrencyCode::parse(&s).unwrap();
            prop_assert_eq!(CurrencyCode::parse(&c.to_string()).unwrap(), c);
        }

        #[test]
        fn every_other_code_type_round_trips(
            digits in "[0-9]{6}",
            mode in "[0-9A-Z]",
            sequence in "[0-9A-Z]{4}",
            terms in 1u8..=7,
        ) {
            macro_rules! round_trip {
                ($t:ty, $s:expr) => {{
                    let text: String = $s.to_string();
                    let x = <$t>::parse(&text).unwrap();
                    prop_assert_eq!(<$t>::parse(&x.to_string()).unwrap(), x);
                    prop_assert_eq!(x.to_string(), text);
                    // The JSON form is the text form.
                    let json = serde_json::to_string(&x).unwrap();
                    prop_assert_eq!(serde_json::from_str::<$t>(&json).unwrap(), x);
                }};
            }
            round_trip!(UnitCode, &digits[..3]);
            round_trip!(TradeMode, &digits[..4]);
            round_trip!(LevyNature, &digits[..3]);
            round_trip!(DutyTreatment, &digits[..1]);
            round_trip!(PackageType, &digits[..2]);
            round_trip!(DomesticPort, &digits[..6]);
            round_trip!(DistrictCode, &digits[..5]);
            round_trip!(TransportMode, mode);
            round_trip!(TransactionTerms, terms);
            round_trip!(CustomsCode, format!("{}{sequence}", &digits[..6]));
            let n = format!("{}2024{}{}", &digits[..4], if terms % 2 == 0 { "1" } else { "E" }, "000012345");
            round_trip!(DeclarationNo, n);
            round_trip!(PreEntryNo, n);
        }

        #[test]
        fn usccs_round_trip_through_json(body in uscc_body()) {
            let check = Uscc::check_character(&body).unwrap();
            let u = Uscc::parse(&format!("{body}{check}")).unwrap();
            let json = serde_json::to_string(&u).unwrap();
            prop_assert_eq!(serde_json::from_str::<Uscc>(&json).unwrap(), u);
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let _ = Uscc::parse(&s);
            let _ = CustomsCode::parse(&s);
            let _ = DeclarationNo::parse(&s);
            let _ = HsCode::parse(&s);
            let _ = TransactionTerms::parse(&s);
            let _ = ResidentId::parse(&s);
        }
    }
}
