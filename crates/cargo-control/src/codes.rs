//! The codes of transport and cargo, each a newtype whose only constructor parses:
//! [`ImoNumber`] (vessel, with its check digit), [`ContainerNo`] (ISO 6346, with its check
//! digit), [`BillNo`] (bill of lading or waybill), [`ManifestId`], [`TransitNo`], [`SealNo`],
//! [`FlightNo`], [`TruckPlate`], [`TrainNo`], [`VoyageNo`].
//!
//! Errors reuse [`domain::codes::CodeError`], so a check-digit failure reads the same as a USCC's
//! (`CheckCharacter { expected, found }`).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use domain::codes::CodeError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($t), self.as_str())
            }
        }
    };
}

fn check_len_range(s: &str, min: usize, max: usize) -> Result<(), CodeError> {
    let found = s.chars().count();
    if found < min || found > max {
        // `expected` names the bound that was broken.
        let expected = if found < min { min } else { max };
        return Err(CodeError::Length { expected, found });
    }
    Ok(())
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

/// A short code of ASCII characters stored inline (no allocation), compared and hashed on its
/// used bytes only. `N` is the maximum length.
macro_rules! inline_code {
    ($(#[$m:meta])* $name:ident, $min:expr, $max:expr, $allowed:expr, $pred:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
        pub struct $name {
            len: u8,
            bytes: [u8; $max],
        }

        impl $name {
            pub const MIN_LEN: usize = $min;
            pub const MAX_LEN: usize = $max;

            pub fn parse(s: &str) -> Result<Self, CodeError> {
                check_len_range(s, $min, $max)?;
                check_chars(s, $allowed, $pred)?;
                let mut bytes = [0u8; $max];
                bytes[..s.len()].copy_from_slice(s.as_bytes());
                Ok($name { len: s.len() as u8, bytes })
            }

            pub fn as_str(&self) -> &str {
                // Only ASCII bytes are ever stored (checked in `parse`).
                std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
            }
        }

        impl Hash for $name {
            fn hash<H: Hasher>(&self, state: &mut H) {
                self.bytes[..self.len as usize].hash(state);
            }
        }

        serde_via_str!($name);
    };
}

const UPPER_DIGITS_DASH: &str = "大写字母、数字和- letters A-Z, digits 0-9 and -";
const UPPER_DIGITS: &str = "大写字母和数字 letters A-Z and digits 0-9";

fn is_upper_digit_dash(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-'
}
fn is_upper_digit(b: u8) -> bool {
    b.is_ascii_uppercase() || b.is_ascii_digit()
}

inline_code!(
    /// Bill of lading or waybill number 提运单号: 1–35 characters `A-Z 0-9 -` (the EDIFACT
    /// an..35 document number). Stored inline: it is the key of the matching index.
    BillNo, 1, 35, UPPER_DIGITS_DASH, is_upper_digit_dash
);
inline_code!(
    /// The id of one manifest in the ledger, given by the caller (the store): 1–24 characters
    /// `A-Z 0-9 -`. This crate never invents ids.
    ManifestId, 1, 24, UPPER_DIGITS_DASH, is_upper_digit_dash
);
inline_code!(
    /// Transit declaration number 转关单号, given by the caller: 1–24 characters `A-Z 0-9 -`.
    TransitNo, 1, 24, UPPER_DIGITS_DASH, is_upper_digit_dash
);
inline_code!(
    /// Customs seal number 关锁号: 1–20 characters `A-Z 0-9 -`.
    SealNo, 1, 20, UPPER_DIGITS_DASH, is_upper_digit_dash
);
inline_code!(
    /// Voyage, flight date-less trip or train run number 航次号: 1–20 characters `A-Z 0-9 -`.
    VoyageNo, 1, 20, UPPER_DIGITS_DASH, is_upper_digit_dash
);
inline_code!(
    /// Train number 车次: 1–12 letters and digits.
    TrainNo, 1, 12, UPPER_DIGITS, is_upper_digit
);

/// IMO ship identification number: `IMO` + 7 digits (the prefix is optional on input and not
/// stored). The 7th digit checks the first six: Σ dᵢ × (7, 6, 5, 4, 3, 2) mod 10.
/// Example: `IMO 9074729`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImoNumber([u8; 7]);

impl ImoNumber {
    /// The check digit of six digits.
    pub fn check_digit(six: &[u8; 6]) -> u8 {
        let sum: u32 = six
            .iter()
            .zip([7u32, 6, 5, 4, 3, 2])
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum();
        b'0' + (sum % 10) as u8
    }

    /// Accepts `9074729`, `IMO9074729` and `IMO 9074729`.
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        let digits = s
            .strip_prefix("IMO")
            .map(|rest| rest.strip_prefix(' ').unwrap_or(rest))
            .unwrap_or(s);
        check_len_range(digits, 7, 7)?;
        check_chars(digits, "数字 digits 0-9", |b| b.is_ascii_digit())?;
        let mut out = [0u8; 7];
        out.copy_from_slice(digits.as_bytes());
        let mut six = [0u8; 6];
        six.copy_from_slice(&out[..6]);
        let expected = Self::check_digit(&six);
        if expected != out[6] {
            return Err(CodeError::CheckCharacter {
                expected: expected as char,
                found: out[6] as char,
            });
        }
        Ok(ImoNumber(out))
    }

    /// The 7 digits, without the `IMO` prefix.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

serde_via_str!(ImoNumber);

/// Container number (ISO 6346): owner code (3 letters), category (`U` freight, `J` detachable
/// equipment, `Z` trailer or chassis), 6-digit serial, check digit. Letters count A=10 … Z=38
/// skipping multiples of 11; Σ valueᵢ × 2ⁱ over the first 10 characters, mod 11, mod 10.
/// Example: `CSQU3054383`. Spaces and `-` are not accepted: the canonical form is stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContainerNo([u8; 11]);

impl ContainerNo {
    fn letter_value(b: u8) -> u32 {
        // A=10, then +1 per letter, skipping the multiples of 11 (11, 22, 33).
        const VALUES: [u8; 26] = [
            10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 34,
            35, 36, 37, 38,
        ];
        u32::from(VALUES[usize::from(b - b'A')])
    }

    /// The check digit of the first 10 characters (already checked for shape).
    pub fn check_digit(ten: &[u8; 10]) -> u8 {
        let sum: u32 = ten
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                let v = if b.is_ascii_uppercase() {
                    Self::letter_value(b)
                } else {
                    u32::from(b - b'0')
                };
                v << i
            })
            .sum();
        b'0' + ((sum % 11) % 10) as u8
    }

    pub fn parse(s: &str) -> Result<Self, CodeError> {
        check_len_range(s, 11, 11)?;
        for (i, c) in s.chars().enumerate() {
            let ok = match i {
                0..=2 => c.is_ascii_uppercase(),
                3 => matches!(c, 'U' | 'J' | 'Z'),
                _ => c.is_ascii_digit(),
            };
            if !ok {
                return Err(CodeError::Character {
                    position: i + 1,
                    found: c,
                    allowed: match i {
                        0..=2 => "大写字母 letters A-Z (owner code)",
                        3 => "U、J或Z U, J or Z (equipment category)",
                        _ => "数字 digits 0-9",
                    },
                });
            }
        }
        let mut out = [0u8; 11];
        out.copy_from_slice(s.as_bytes());
        let mut ten = [0u8; 10];
        ten.copy_from_slice(&out[..10]);
        let expected = Self::check_digit(&ten);
        if expected != out[10] {
            return Err(CodeError::CheckCharacter {
                expected: expected as char,
                found: out[10] as char,
            });
        }
        Ok(ContainerNo(out))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    pub fn owner_code(&self) -> &str {
        &self.as_str()[..3]
    }
}

serde_via_str!(ContainerNo);

/// Flight number: a 2-character airline designator (letters and digits, not two digits) and
/// 1–4 digits, with an optional operational suffix letter (`CA981`, `MU5101`, `3U8881A`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlightNo {
    len: u8,
    bytes: [u8; 7],
}

impl FlightNo {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        check_len_range(s, 3, 7)?;
        check_chars(s, UPPER_DIGITS, is_upper_digit)?;
        let b = s.as_bytes();
        if b[0].is_ascii_digit() && b[1].is_ascii_digit() {
            return Err(CodeError::Invalid(
                "airline designator must contain a letter / 航空公司代码须含字母",
            ));
        }
        let rest = &b[2..];
        let digits = match rest.last() {
            Some(l) if l.is_ascii_uppercase() => &rest[..rest.len() - 1],
            _ => rest,
        };
        if digits.is_empty() || digits.len() > 4 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(CodeError::Invalid(
                "flight number must be 1-4 digits after the airline / 航班号须为1-4位数字",
            ));
        }
        let mut bytes = [0u8; 7];
        bytes[..b.len()].copy_from_slice(b);
        Ok(FlightNo {
            len: b.len() as u8,
            bytes,
        })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len as usize]).unwrap_or_default()
    }
}

serde_via_str!(FlightNo);

/// Truck registration plate. Chinese plates start with a province character (`粤B12345`,
/// `粤Z1234港` for cross-border trucks); foreign plates vary. Documented choice: 2–12
/// characters, letters (any script), digits and `-`, no spaces; no per-country format.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TruckPlate(Box<str>);

impl TruckPlate {
    pub fn parse(s: &str) -> Result<Self, CodeError> {
        check_len_range(s, 2, 12)?;
        for (i, c) in s.chars().enumerate() {
            let ok = c.is_alphanumeric() && !c.is_ascii_lowercase() || c == '-';
            if !ok {
                return Err(CodeError::Character {
                    position: i + 1,
                    found: c,
                    allowed: "字母（含汉字）、数字和- letters, digits and -",
                });
            }
        }
        Ok(TruckPlate(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

serde_via_str!(TruckPlate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letter_values_skip_multiples_of_eleven() {
        let v: Vec<u32> = (b'A'..=b'Z').map(ContainerNo::letter_value).collect();
        let expected: Vec<u32> = (10..=38).filter(|n| n % 11 != 0).collect();
        assert_eq!(v, expected);
    }

    #[test]
    fn bill_no_hash_and_eq_ignore_padding() {
        let a = BillNo::parse("ABC").unwrap();
        let b: BillNo = "ABC".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "ABC");
        assert_ne!(a, BillNo::parse("ABCD").unwrap());
    }
}
