//! Identifiers and code values (docs/DOMAIN.md §1).
//!
//! Every type here has one constructor, `parse`, which checks the format (and check characters
//! where there are any); `Display` writes the canonical form back, so `parse(display(x)) == x`.
//! Whether a well-formed code is also *in* a code table is a question for [`crate::reference`].

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
}

impl CodeError {
    /// A stable short code for machines.
    pub fn code(&self) -> &'static str {
        match self {
            CodeError::Length { .. } => "length",
            CodeError::Character { .. } => "character",
            CodeError::CheckCharacter { .. } => "check_character",
            CodeError::Invalid(_) => "invalid",
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
                check_len(s, $len)?;
                check_chars(s, $allowed, $pred)?;
                Ok($name(copy_bytes(s)))
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

    pub fn parse(s: &str) -> Result<Self, CodeError> {
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

    pub fn parse(s: &str) -> Result<Self, CodeError> {
        check_len(s, 18)?;
        check_ascii(s, USCC_ALLOWED)?;
        let body = &s[..17];
        let expected = Self::check_character(body)?;
        let found = s[17..].chars().next().expect("length checked");
        if found != expected {
            if !found.is_ascii() || uscc_index(found as u8).is_none() {
                return Err(CodeError::Character {
                    position: 18,
                    found,
                    allowed: USCC_ALLOWED,
                });
            }
            return Err(CodeError::CheckCharacter { expected, found });
        }
        Ok(Uscc(copy_bytes(s)))
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

    /// The stricter, optional check: positions 9–17 must be a GB 11714 organisation code with a
    /// valid check digit. Many real codes pass; some legitimately issued ones do not, which is why
    /// this is separate from `parse`.
    pub fn check_organisation_code(&self) -> Result<(), CodeError> {
        let org = self.organisation_code();
        let expected = organisation_check_digit(&org[..8])?;
        let found = org[8..].chars().next().expect("nine characters");
        if found != expected {
            return Err(CodeError::CheckCharacter { expected, found });
        }
        Ok(())
    }
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
    pub fn parse(s: &str) -> Result<Self, CodeError> {
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

    pub fn parse(s: &str) -> Result<Self, CodeError> {
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
        assert!(matches!(
            Uscc::parse("91110000600037341l"),
            Err(CodeError::Character { .. })
        ));
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
        // Wrong check characters: the algorithm gives D and H.
        assert_eq!(
            Uscc::parse("91330000142933021T"),
            Err(CodeError::CheckCharacter {
                expected: 'D',
                found: 'T'
            })
        );
        assert_eq!(
            Uscc::parse("911101087229842770"),
            Err(CodeError::CheckCharacter {
                expected: 'H',
                found: '0'
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
        let body = "91110000600037342";
        let check = Uscc::check_character(body).unwrap();
        let bad = Uscc::parse(&format!("{body}{check}")).unwrap();
        assert_eq!(
            bad.check_organisation_code(),
            Err(CodeError::CheckCharacter {
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

    fn uscc_body() -> impl Strategy<Value = String> {
        proptest::collection::vec(0usize..31, 17)
            .prop_map(|v| v.into_iter().map(|i| USCC_ALPHABET[i] as char).collect())
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
        }
    }
}
