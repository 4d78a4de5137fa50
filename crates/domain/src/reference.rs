//! What the domain needs to know of code tables and the tariff, as a trait the `refdata` crate
//! implements. Keeping the trait here keeps validation and taxation pure: they ask, they never
//! load.

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::codes::{
    CountryCode, CurrencyCode, HsCode, LevyNature, OfficeCode, TradeMode, UnitCode,
};

/// The simple code tables: a code is either in them or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CodeTable {
    Unit,
    LevyNature,
    DutyTreatment,
    TransportMode,
    PackageType,
}

/// Tier of the three-tier organisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficeLevel {
    /// 海关总署, `0000`.
    Hq,
    /// 直属海关.
    Direct,
    /// 隶属海关.
    Subordinate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Office {
    pub code: OfficeCode,
    pub name_zh: String,
    pub name_en: String,
    pub level: OfficeLevel,
    /// `None` only for HQ.
    pub parent: Option<OfficeCode>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeModeEntry {
    pub code: TradeMode,
    pub name_zh: String,
    pub name_en: String,
    /// The 2-digit statistical trade mode, or `None` for modes outside trade statistics.
    pub stats_code: Option<String>,
    /// Levy natures allowed with this trade mode; empty means the table sets no constraint.
    pub levy_natures: Vec<LevyNature>,
}

/// What validation and taxation ask of the reference data.
pub trait Reference {
    fn office(&self, code: OfficeCode) -> Option<&Office>;
    /// A country from its alpha-3 or legacy 3-digit code, if the table has it.
    fn country(&self, text: &str) -> Option<CountryCode>;
    /// A currency from its ISO alpha or legacy 3-digit code, if the table has it.
    fn currency(&self, text: &str) -> Option<CurrencyCode>;
    fn contains(&self, table: CodeTable, code: &str) -> bool;
    fn trade_mode(&self, code: TradeMode) -> Option<&TradeModeEntry>;
    /// The tariff line in force on `on` for this commodity code.
    fn tariff_line(&self, code: HsCode, on: NaiveDate) -> Option<&TariffLine>;
    /// Whether goods from `origin` take the general rate on `on` (no MFN, agreement or special
    /// preferential treatment: Customs Tariff Law art. 12). The dated, importable table of
    /// refdata answers it; a reference without that table lists no origin.
    fn general_rate_origin(&self, origin: CountryCode, on: NaiveDate) -> bool {
        let _ = (origin, on);
        false
    }
    /// The tariff-quota line in force on `on` for this commodity code, if the goods are under
    /// a tariff quota (关税配额). The dated, importable table of refdata answers it; a reference
    /// without that table has no quota goods.
    fn tariff_quota(&self, code: HsCode, on: NaiveDate) -> Option<&TariffQuota> {
        let _ = (code, on);
        None
    }
}

/// The commodities under China's tariff quotas (关税配额), each with its competent agency.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaCommodity {
    Wheat,
    Maize,
    Rice,
    Sugar,
    Wool,
    WoolTops,
    Cotton,
}

impl QuotaCommodity {
    pub const ALL: [QuotaCommodity; 7] = [
        QuotaCommodity::Wheat,
        QuotaCommodity::Maize,
        QuotaCommodity::Rice,
        QuotaCommodity::Sugar,
        QuotaCommodity::Wool,
        QuotaCommodity::WoolTops,
        QuotaCommodity::Cotton,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QuotaCommodity::Wheat => "wheat",
            QuotaCommodity::Maize => "maize",
            QuotaCommodity::Rice => "rice",
            QuotaCommodity::Sugar => "sugar",
            QuotaCommodity::Wool => "wool",
            QuotaCommodity::WoolTops => "wool_tops",
            QuotaCommodity::Cotton => "cotton",
        }
    }

    pub fn parse(s: &str) -> Option<QuotaCommodity> {
        QuotaCommodity::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn name_zh(self) -> &'static str {
        match self {
            QuotaCommodity::Wheat => "小麦",
            QuotaCommodity::Maize => "玉米",
            QuotaCommodity::Rice => "大米",
            QuotaCommodity::Sugar => "食糖",
            QuotaCommodity::Wool => "羊毛",
            QuotaCommodity::WoolTops => "毛条",
            QuotaCommodity::Cotton => "棉花",
        }
    }

    /// The agency that allocates the quota and issues its certificates, as the agencies sign
    /// in (`NDRC`: the National Development and Reform Commission for the grains and cotton;
    /// `COMMERCE`: the Ministry of Commerce for sugar, wool and wool tops). See data/README.md
    /// for the source of this split.
    pub fn agency(self) -> &'static str {
        match self {
            QuotaCommodity::Wheat
            | QuotaCommodity::Maize
            | QuotaCommodity::Rice
            | QuotaCommodity::Cotton => "NDRC",
            QuotaCommodity::Sugar | QuotaCommodity::Wool | QuotaCommodity::WoolTops => "COMMERCE",
        }
    }
}

/// A tariff line under a tariff quota (关税配额税率表): the in-quota rate applies to goods
/// declared under a tariff-quota certificate; otherwise the out-of-quota rate, which is the
/// tariff line's MFN rate (refdata checks that they agree).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffQuota {
    pub commodity_code: HsCode,
    pub commodity: QuotaCommodity,
    #[serde(with = "text")]
    pub in_quota: DutyRate,
    #[serde(with = "text")]
    pub out_of_quota: DutyRate,
    pub valid_from: NaiveDate,
    /// Last day in force, inclusive; `None` while in force.
    pub valid_to: Option<NaiveDate>,
}

impl TariffQuota {
    pub fn in_force(&self, on: NaiveDate) -> bool {
        self.valid_from <= on && self.valid_to.is_none_or(|to| on <= to)
    }
}

/// An amount of yuan per legal unit, as in specific duties and consumption taxes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PerUnit {
    /// Yuan per one `unit` (exact).
    pub yuan: Decimal,
    pub unit: UnitCode,
}

/// A duty rate as the tariff writes it. Ad valorem rates are fractions (`0.13` for 13 %).
///
/// Text form (used in tariff files): `10%`, `3.5/095` (3.5 yuan per litre), `10%+3.5/095`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DutyRate {
    AdValorem(Decimal),
    Specific(PerUnit),
    Compound {
        ad_valorem: Decimal,
        specific: PerUnit,
    },
}

impl DutyRate {
    pub const FREE: DutyRate = DutyRate::AdValorem(Decimal::ZERO);

    /// The ad valorem part (zero for a purely specific rate).
    pub fn ad_valorem(&self) -> Decimal {
        match self {
            DutyRate::AdValorem(r) | DutyRate::Compound { ad_valorem: r, .. } => *r,
            DutyRate::Specific(_) => Decimal::ZERO,
        }
    }

    pub fn specific(&self) -> Option<PerUnit> {
        match self {
            DutyRate::Specific(s) | DutyRate::Compound { specific: s, .. } => Some(*s),
            DutyRate::AdValorem(_) => None,
        }
    }
}

/// Why a rate's text form did not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RateError(pub String);

fn parse_percent(s: &str) -> Result<Decimal, RateError> {
    let body = s
        .strip_suffix('%')
        .ok_or_else(|| RateError(format!("{s:?}: an ad valorem rate ends with %")))?;
    let pct = Decimal::from_str(body.trim())
        .map_err(|_| RateError(format!("{s:?}: not a number before %")))?;
    if pct.is_sign_negative() || pct > Decimal::from(1000) {
        return Err(RateError(format!(
            "{s:?}: a rate must be between 0% and 1000%"
        )));
    }
    Ok(pct / Decimal::ONE_HUNDRED)
}

fn parse_per_unit(s: &str) -> Result<PerUnit, RateError> {
    let (amount, unit) = s.split_once('/').ok_or_else(|| {
        RateError(format!(
            "{s:?}: a specific rate is AMOUNT/UNIT, e.g. 3.5/095"
        ))
    })?;
    let yuan = Decimal::from_str(amount.trim())
        .map_err(|_| RateError(format!("{s:?}: amount is not a number")))?;
    if yuan.is_sign_negative() {
        return Err(RateError(format!("{s:?}: amount must not be negative")));
    }
    let unit =
        UnitCode::parse(unit.trim()).map_err(|e| RateError(format!("{s:?}: unit code {e}")))?;
    Ok(PerUnit { yuan, unit })
}

fn percent_text(r: Decimal) -> String {
    format!("{}%", (r * Decimal::ONE_HUNDRED).normalize())
}

impl FromStr for DutyRate {
    type Err = RateError;
    fn from_str(s: &str) -> Result<Self, RateError> {
        let s = s.trim();
        match s.split_once('+') {
            Some((a, b)) => Ok(DutyRate::Compound {
                ad_valorem: parse_percent(a.trim())?,
                specific: parse_per_unit(b.trim())?,
            }),
            None if s.ends_with('%') => Ok(DutyRate::AdValorem(parse_percent(s)?)),
            None => Ok(DutyRate::Specific(parse_per_unit(s)?)),
        }
    }
}

impl fmt::Display for DutyRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DutyRate::AdValorem(r) => f.write_str(&percent_text(*r)),
            DutyRate::Specific(p) => write!(f, "{}/{}", p.yuan.normalize(), p.unit),
            DutyRate::Compound {
                ad_valorem,
                specific,
            } => {
                write!(
                    f,
                    "{}+{}/{}",
                    percent_text(*ad_valorem),
                    specific.yuan.normalize(),
                    specific.unit
                )
            }
        }
    }
}

/// Consumption tax of a tariff line. The rate forms are those of [`DutyRate`]; tiered lines
/// (cigarettes) choose one of two rates by the unit price in yuan per legal first unit.
///
/// Text form: `15%`, `0.003/007`, `56%+0.003/007`, or a tier
/// `T>=350:56%+0.6/007|36%+0.6/007` (the first rate when the unit price is at least 350 yuan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConsumptionTaxRate {
    Flat(DutyRate),
    Tiered {
        threshold_yuan: Decimal,
        at_or_above: DutyRate,
        below: DutyRate,
    },
}

impl FromStr for ConsumptionTaxRate {
    type Err = RateError;
    fn from_str(s: &str) -> Result<Self, RateError> {
        let s = s.trim();
        let Some(rest) = s.strip_prefix("T>=") else {
            return Ok(ConsumptionTaxRate::Flat(s.parse()?));
        };
        let (threshold, rates) = rest
            .split_once(':')
            .ok_or_else(|| RateError(format!("{s:?}: a tier is T>=PRICE:HIGH|LOW")))?;
        let (high, low) = rates
            .split_once('|')
            .ok_or_else(|| RateError(format!("{s:?}: a tier is T>=PRICE:HIGH|LOW")))?;
        Ok(ConsumptionTaxRate::Tiered {
            threshold_yuan: Decimal::from_str(threshold.trim())
                .map_err(|_| RateError(format!("{s:?}: tier price is not a number")))?,
            at_or_above: high.parse()?,
            below: low.parse()?,
        })
    }
}

impl fmt::Display for ConsumptionTaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsumptionTaxRate::Flat(r) => r.fmt(f),
            ConsumptionTaxRate::Tiered {
                threshold_yuan,
                at_or_above,
                below,
            } => {
                write!(
                    f,
                    "T>={}:{}|{}",
                    threshold_yuan.normalize(),
                    at_or_above,
                    below
                )
            }
        }
    }
}

/// A conventional (free-trade agreement) or preferential rate for some origins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementRate {
    /// Short name of the agreement (`RCEP`, `ASEAN`, `CN-AU`, `LDC` ...).
    pub agreement: String,
    pub origins: Vec<CountryCode>,
    #[serde(with = "text")]
    pub rate: DutyRate,
}

/// One line of the tariff schedule (税则), valid over a date range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TariffLine {
    pub commodity_code: HsCode,
    pub description_zh: String,
    pub description_en: String,
    pub first_unit: UnitCode,
    pub second_unit: Option<UnitCode>,
    /// Most-favoured-nation rate.
    #[serde(with = "text")]
    pub mfn: DutyRate,
    /// General rate, for origins with no agreement and no MFN treatment.
    #[serde(with = "text")]
    pub general: DutyRate,
    /// Conventional and preferential rates, by agreement.
    pub agreements: Vec<AgreementRate>,
    /// Provisional rate (Duties Regulations art. 11): replaces MFN even when higher; against an
    /// agreement rate the lower of the two applies; never with the general rate.
    #[serde(with = "opt_text")]
    pub provisional: Option<DutyRate>,
    /// Import VAT rate as a fraction (0.13).
    pub vat_rate: Decimal,
    #[serde(with = "opt_text")]
    pub consumption_tax: Option<ConsumptionTaxRate>,
    /// Export duty as an ad valorem fraction.
    pub export_duty: Option<Decimal>,
    /// Document code of the licence the line needs (`1` import licence, `4` export licence ...),
    /// or `None`.
    pub licence: Option<String>,
    pub valid_from: NaiveDate,
    /// Last day in force, inclusive; `None` while in force.
    pub valid_to: Option<NaiveDate>,
}

impl TariffLine {
    pub fn in_force(&self, on: NaiveDate) -> bool {
        self.valid_from <= on && self.valid_to.is_none_or(|to| on <= to)
    }
}

mod text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }
    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

mod opt_text {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::fmt::Display;
    use std::str::FromStr;

    pub fn serialize<T: Display, S: Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.collect_str(v),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, T, D>(d: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        match Option::<String>::deserialize(d)? {
            Some(s) => s.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn rate_text_round_trips() {
        for text in ["10%", "0%", "3.5/095", "10%+3.5/095", "17.5%", "0.003/007"] {
            let r: DutyRate = text.parse().unwrap();
            assert_eq!(r.to_string(), text);
        }
        assert_eq!(
            "13%".parse::<DutyRate>().unwrap(),
            DutyRate::AdValorem(dec!(0.13))
        );
        for text in ["56%+0.6/007", "T>=350:56%+0.6/007|36%+0.6/007", "15%"] {
            let r: ConsumptionTaxRate = text.parse().unwrap();
            assert_eq!(r.to_string(), text);
        }
    }

    #[test]
    fn bad_rate_text_is_refused() {
        for text in [
            "",
            "10",
            "-5%",
            "abc%",
            "3.5/95",
            "3.5",
            "T>=x:1%|2%",
            "10%+",
        ] {
            assert!(
                text.parse::<DutyRate>().is_err() || text.starts_with('T'),
                "{text}"
            );
            assert!(text.parse::<ConsumptionTaxRate>().is_err(), "{text}");
        }
    }
}
