//! The fields a rule may test ([`Field`]): their names in the rule language, whether they belong
//! to the declaration header or to each item, their kind (code, free text, number), and the check
//! of a literal written against them, so that a typo in a rule file is an error, not a rule that
//! never fires.

use std::fmt;

use domain::codes::{CustomsCode, Uscc};

/// Header fields read the same for every item; item fields are read from one item at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Header,
    Item,
}

/// What a field holds, which decides the operators allowed on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A code compared exactly (`=`, `!=`, `in`, `not in`, `^=`).
    Code,
    /// Free text compared ignoring ASCII case; also `contains`.
    Text,
    /// An exact decimal (`=`, `!=`, `<`, `<=`, `>`, `>=`).
    Number,
}

macro_rules! fields {
    ($( $(#[$m:meta])* $variant:ident = $name:literal, $level:ident, $kind:ident, $format:expr; )*) => {
        /// A field of a declaration or of one of its items that a rule can test. Header fields come
        /// first in declaration order, then item fields; [`Field::slot`] relies on it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Field {
            $( $(#[$m])* $variant, )*
        }

        impl Field {
            pub const ALL: &'static [Field] = &[ $( Field::$variant, )* ];

            /// The name in the rule language.
            pub fn name(self) -> &'static str {
                match self { $( Field::$variant => $name, )* }
            }

            pub fn level(self) -> Level {
                match self { $( Field::$variant => Level::$level, )* }
            }

            pub fn kind(self) -> Kind {
                match self { $( Field::$variant => Kind::$kind, )* }
            }

            fn format(self) -> Format {
                match self { $( Field::$variant => $format, )* }
            }
        }
    };
}

/// The shape a literal must have to be able to match the field.
#[derive(Clone, Copy, Debug)]
enum Format {
    Digits(usize),
    Letters(usize),
    /// One character from the list.
    OneOf(&'static str),
    Words(&'static [&'static str]),
    Uscc,
    CustomsCode,
    /// 1 to n ASCII letters and digits, compared exactly (case kept: `a` and `A` differ).
    ShortCode(usize),
    Text,
    Number,
}

fields! {
    /// `import` or `export`.
    Direction = "direction", Header, Code, Format::Words(&["import", "export"]);
    DeclarationOffice = "declaration_office", Header, Code, Format::Digits(4);
    EntryExitOffice = "entry_exit_office", Header, Code, Format::Digits(4);
    TradeMode = "trade_mode", Header, Code, Format::Digits(4);
    TransportMode = "transport_mode", Header, Code, Format::OneOf("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    LevyNature = "levy_nature", Header, Code, Format::Digits(3);
    TransactionTerms = "transaction_terms", Header, Code, Format::OneOf("1234567");
    PackageType = "package_type", Header, Code, Format::Digits(2);
    EntryType = "entry_type", Header, Code, Format::OneOf("0LDM");
    DomesticPort = "domestic_port", Header, Code, Format::Digits(6);
    TradingCountry = "trading_country", Header, Code, Format::Letters(3);
    DispatchCountry = "dispatch_country", Header, Code, Format::Letters(3);
    /// The domestic consignee or consignor (the enterprise), by USCC.
    Trader = "trader", Header, Code, Format::Uscc;
    TraderCustomsCode = "trader_customs_code", Header, Code, Format::CustomsCode;
    /// The consuming/using or producing/selling unit, by USCC.
    OwnerUnit = "owner_unit", Header, Code, Format::Uscc;
    Agent = "agent", Header, Code, Format::Uscc;
    /// The overseas consignor/consignee: its AEO code when it has one, else its name.
    OverseasParty = "overseas_party", Header, Text, Format::Text;
    OverseasPartyName = "overseas_party_name", Header, Text, Format::Text;
    Vessel = "vessel", Header, Text, Format::Text;
    VoyageNo = "voyage_no", Header, Text, Format::Text;
    BillNo = "bill_no", Header, Text, Format::Text;
    LicenceNo = "licence_no", Header, Text, Format::Text;
    RecordNo = "record_no", Header, Text, Format::Text;
    ContractNo = "contract_no", Header, Text, Format::Text;
    LoadingPort = "loading_port", Header, Text, Format::Text;
    DestinationPort = "destination_port", Header, Text, Format::Text;
    /// The port abroad (loading port of an import, destination port of an export), `-`, the
    /// domestic port: `USSFO-310301`.
    Route = "route", Header, Text, Format::Text;
    GrossWeightKg = "gross_weight_kg", Header, Number, Format::Number;
    NetWeightKg = "net_weight_kg", Header, Number, Format::Number;
    Packages = "packages", Header, Number, Format::Number;
    ItemCount = "item_count", Header, Number, Format::Number;
    /// Sum of the items' total prices in CNY.
    TotalValueCny = "total_value_cny", Header, Number, Format::Number;
    /// The codes of the attached documents (随附单证代码), a set: a test holds when some
    /// document's code satisfies it (`!=` and `not in`: documents, none of them with the code).
    DocumentCode = "document_code", Header, Code, Format::ShortCode(8);

    /// The 10-digit commodity code.
    Commodity = "commodity", Item, Code, Format::Digits(10);
    Origin = "origin", Item, Code, Format::Letters(3);
    DestinationCountry = "destination_country", Item, Code, Format::Letters(3);
    Currency = "currency", Item, Code, Format::Letters(3);
    DeclaredUnit = "declared_unit", Item, Code, Format::Digits(3);
    FirstUnit = "first_unit", Item, Code, Format::Digits(3);
    SecondUnit = "second_unit", Item, Code, Format::Digits(3);
    DutyTreatment = "duty_treatment", Item, Code, Format::Digits(1);
    District = "district", Item, Code, Format::Digits(5);
    Producer = "producer", Item, Text, Format::Text;
    GoodsName = "goods_name", Item, Text, Format::Text;
    Specification = "specification", Item, Text, Format::Text;
    /// In the declared currency.
    UnitPrice = "unit_price", Item, Number, Format::Number;
    TotalPrice = "total_price", Item, Number, Format::Number;
    UnitPriceCny = "unit_price_cny", Item, Number, Format::Number;
    TotalPriceCny = "total_price_cny", Item, Number, Format::Number;
    /// Declared quantity.
    Quantity = "quantity", Item, Number, Format::Number;
    FirstQuantity = "first_quantity", Item, Number, Format::Number;
    SecondQuantity = "second_quantity", Item, Number, Format::Number;
    /// Kilograms per declared unit (see docs/RISK.md for where the kilograms come from).
    WeightPerUnitKg = "weight_per_unit_kg", Item, Number, Format::Number;
}

/// Names accepted for convenience, mapped to the canonical field (the canonical name is what
/// rules print as).
const ALIASES: &[(&str, Field)] = &[
    ("enterprise", Field::Trader),
    ("consignor", Field::OverseasParty),
    ("consignee", Field::OverseasParty),
    ("commodity_code", Field::Commodity),
    ("origin_country", Field::Origin),
    ("declared_quantity", Field::Quantity),
    ("name", Field::GoodsName),
    ("document", Field::DocumentCode),
];

/// Number of header fields: they come first in [`Field::ALL`].
pub(crate) const HEADER_FIELDS: usize = Field::Commodity as usize;
pub(crate) const ITEM_FIELDS: usize = Field::ALL.len() - HEADER_FIELDS;

impl Field {
    /// The field of a name (or alias) in the rule language.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .or_else(|| ALIASES.iter().find(|(a, _)| *a == name).map(|(_, f)| *f))
    }

    /// Index within its level: header fields `0..HEADER_FIELDS`, item fields `0..ITEM_FIELDS`.
    pub(crate) fn slot(self) -> usize {
        match self.level() {
            Level::Header => self as usize,
            Level::Item => self as usize - HEADER_FIELDS,
        }
    }

    /// The closest known name, for "did you mean" in errors.
    pub fn suggest(name: &str) -> Option<&'static str> {
        Field::ALL
            .iter()
            .map(|f| f.name())
            .chain(ALIASES.iter().map(|(a, _)| *a))
            .map(|n| (edit_distance(name, n), n))
            .filter(|(d, _)| *d <= 3)
            .min()
            .map(|(_, n)| n)
    }

    /// Checks and normalises a string literal written against this field. `prefix`: the literal
    /// is a prefix (`^=`) and may be shorter than the full code. Returns the normalised literal
    /// (codes of letters and free text are upper-cased) or the reason in Chinese and English.
    pub fn check_literal(self, literal: &str, prefix: bool) -> Result<String, (String, String)> {
        let name = self.name();
        if literal.is_empty() {
            return Err(("值不能为空".into(), format!("{name}: the value is empty")));
        }
        let fixed = |len: usize, ok: fn(u8) -> bool, what_zh: &str, what_en: &str| {
            let bytes = literal.as_bytes();
            if !bytes.iter().all(|b| ok(*b)) {
                return Err((
                    format!("{name} 只能包含{what_zh}：\"{literal}\""),
                    format!("{name} takes {what_en}: \"{literal}\""),
                ));
            }
            if prefix && bytes.len() > len || !prefix && bytes.len() != len {
                let hint_en = if !prefix && bytes.len() < len {
                    " (use ^= for a prefix)"
                } else {
                    ""
                };
                let hint_zh = if hint_en.is_empty() {
                    ""
                } else {
                    "（前缀请用 ^=）"
                };
                return Err((
                    format!("{name} 应为{len}位{what_zh}：\"{literal}\"{hint_zh}"),
                    format!("{name} has {len} {what_en}: \"{literal}\"{hint_en}"),
                ));
            }
            Ok(literal.to_owned())
        };
        match self.format() {
            Format::Digits(len) => fixed(len, |b| b.is_ascii_digit(), "数字", "digits"),
            Format::Letters(len) => {
                let upper = literal.to_ascii_uppercase();
                Field::check_fixed(self, &upper, len, prefix)
            }
            Format::OneOf(set) => {
                let upper = literal.to_ascii_uppercase();
                if upper.len() == 1 && set.contains(upper.as_str()) {
                    Ok(upper)
                } else {
                    Err((
                        format!("{name} 应为以下字符之一：{set}（\"{literal}\"）"),
                        format!("{name} is one character of {set}: \"{literal}\""),
                    ))
                }
            }
            Format::Words(words) => {
                if words.contains(&literal) && !prefix {
                    Ok(literal.to_owned())
                } else {
                    Err((
                        format!("{name} 应为 {}：\"{literal}\"", words.join("、")),
                        format!("{name} is one of {}: \"{literal}\"", words.join(", ")),
                    ))
                }
            }
            Format::Uscc if prefix => {
                const USCC_CHARS: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
                let upper = literal.to_ascii_uppercase();
                if upper.len() <= 18 && upper.chars().all(|c| USCC_CHARS.contains(c)) {
                    Ok(upper)
                } else {
                    Err((
                        format!("{name} 前缀不是统一社会信用代码的前缀：\"{literal}\""),
                        format!(
                            "{name}: not the start of a unified social credit code: \"{literal}\""
                        ),
                    ))
                }
            }
            Format::Uscc => Uscc::parse(&literal.to_ascii_uppercase())
                .map(|u| u.as_str().to_owned())
                .map_err(|e| {
                    (
                        format!(
                            "{name} 统一社会信用代码无效：\"{literal}\"：{}",
                            e.message_zh()
                        ),
                        format!("{name}: invalid unified social credit code \"{literal}\": {e}"),
                    )
                }),
            Format::CustomsCode if prefix => fixed(
                10,
                |b| b.is_ascii_digit() || b.is_ascii_uppercase(),
                "数字和大写字母",
                "digits and capital letters",
            ),
            Format::CustomsCode => CustomsCode::parse(literal)
                .map(|c| c.as_str().to_owned())
                .map_err(|e| {
                    (
                        format!("{name} 海关注册编码无效：\"{literal}\"：{}", e.message_zh()),
                        format!("{name}: invalid customs enterprise code \"{literal}\": {e}"),
                    )
                }),
            Format::ShortCode(max) => {
                if literal.len() <= max && literal.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    Ok(literal.to_owned())
                } else {
                    Err((
                        format!("{name} 应为1至{max}位字母或数字：\"{literal}\""),
                        format!("{name} has 1 to {max} letters or digits: \"{literal}\""),
                    ))
                }
            }
            Format::Text => Ok(literal.to_ascii_uppercase()),
            Format::Number => Err((
                format!("{name} 是数值字段，值不应加引号：\"{literal}\""),
                format!("{name} is a number: write it without quotes, not \"{literal}\""),
            )),
        }
    }

    fn check_fixed(
        self,
        upper: &str,
        len: usize,
        prefix: bool,
    ) -> Result<String, (String, String)> {
        let name = self.name();
        let ok_chars = upper.bytes().all(|b| b.is_ascii_uppercase());
        let ok_len = if prefix {
            upper.len() <= len
        } else {
            upper.len() == len
        };
        if ok_chars && ok_len {
            Ok(upper.to_owned())
        } else {
            Err((
                format!("{name} 应为{len}个字母：\"{upper}\""),
                format!("{name} has {len} letters: \"{upper}\""),
            ))
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Levenshtein distance over bytes; names are short ASCII.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_come_first() {
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(*f as usize, i);
            assert_eq!(f.level() == Level::Header, i < HEADER_FIELDS, "{f}");
            assert_eq!(Field::parse(f.name()), Some(*f));
        }
        assert_eq!(Field::parse("enterprise"), Some(Field::Trader));
        assert_eq!(Field::suggest("orign"), Some("origin"));
    }

    #[test]
    fn literals_are_checked() {
        assert!(Field::Commodity.check_literal("8471", true).is_ok());
        let (_, en) = Field::Commodity.check_literal("8471", false).unwrap_err();
        assert!(en.contains("use ^= for a prefix"), "{en}");
        assert_eq!(Field::Origin.check_literal("usa", false).unwrap(), "USA");
        assert!(Field::Origin.check_literal("US", false).is_err());
        assert!(Field::Trader
            .check_literal("91110000600037341L", false)
            .is_ok());
        assert!(Field::Trader
            .check_literal("91110000600037341X", false)
            .is_err());
        assert!(Field::Direction.check_literal("import", false).is_ok());
        assert!(Field::UnitPrice.check_literal("100", false).is_err());
    }
}
