//! Every rule docs/DOMAIN.md §4 leaves open, as a named field of [`TaxPolicy`] with a documented
//! default. docs/TAX.md explains each one and why the default was chosen.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use domain::money::Fen;

/// How much of each tax is payable under a relief (duty treatment or levy nature).
/// `1` pays in full, `0.5` pays half (折半征税), `0` is exempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relief {
    pub duty_factor: Decimal,
    pub consumption_tax_factor: Decimal,
    pub vat_factor: Decimal,
}

impl Relief {
    pub const NONE: Relief = Relief {
        duty_factor: Decimal::ONE,
        consumption_tax_factor: Decimal::ONE,
        vat_factor: Decimal::ONE,
    };
    pub const FULL_EXEMPTION: Relief = Relief {
        duty_factor: Decimal::ZERO,
        consumption_tax_factor: Decimal::ZERO,
        vat_factor: Decimal::ZERO,
    };
    /// Half of every tax (`0.5`).
    pub const HALF: Relief = Relief {
        duty_factor: Decimal::from_parts(5, 0, 0, false, 1),
        consumption_tax_factor: Decimal::from_parts(5, 0, 0, false, 1),
        vat_factor: Decimal::from_parts(5, 0, 0, false, 1),
    };

    pub fn is_none(&self) -> bool {
        *self == Relief::NONE
    }
}

/// What "per unit" freight (mark `2`) is per.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PerUnitFreightBasis {
    /// Per tonne of gross weight: the declaration filling rules (报关单填制规范) say mark 2 is
    /// "每吨货物的运费单价".
    GrossTonne,
    /// Per unit of declared quantity, summed over the items (the domain type's comment).
    DeclaredQuantity,
}

/// How a fee (滞报金, 滞纳金) is rounded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeRounding {
    /// To the fen, half up, like the taxes.
    FenHalfUp,
    /// Down to the whole yuan ("不足人民币1元的部分免予计收").
    YuanDown,
}

/// The price per legal unit that chooses a consumption tax tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierPrice {
    /// (value + duty + quantity × specific amount) ÷ (1 − lower ad valorem rate) ÷ first
    /// quantity: the rule for imported cigarettes (the composite base at the lower tier).
    CompositeBaseAtLowerRate,
    /// Customs value ÷ first quantity.
    CustomsValuePerUnit,
    /// (Customs value + duty) ÷ first quantity: the price of goods whose tiers are purely
    /// specific (beer), which have no composite base; the engine uses it for such tiers
    /// whatever the policy says.
    ValuePlusDutyPerUnit,
}

/// All policy settings of the engine, with defaults from docs/DOMAIN.md §4.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaxPolicy {
    /// A tax (per kind, per declaration) at or below this amount is not collected.
    /// Default ¥50.00: 50.00 is not collected, 50.01 is.
    pub de_minimis_fen: Fen,
    /// Whether the de minimis rule applies to cross-border e-commerce retail imports.
    /// Default `false`: the 2016 e-commerce reform removed the exemption for them.
    pub de_minimis_applies_to_ecommerce: bool,
    /// Insurance as a fraction of (goods + freight) when the terms need insurance and none is
    /// declared. Default 0.003 (3‰).
    pub unknown_insurance_rate: Decimal,
    /// What per-unit freight is per. Default per tonne of gross weight.
    pub per_unit_freight_basis: PerUnitFreightBasis,
    /// Relief by duty treatment code 征免方式 (item level). Default: `1` none, `2` half of
    /// every tax, `3` all exempt, `6` and `7` (deposit, guarantee letter: computed in full, paid
    /// by guarantee) none. Any other code is an error until configured, except `5`, which
    /// follows the levy nature.
    pub duty_treatments: BTreeMap<String, Relief>,
    /// Relief by levy nature 征免性质 (header level), consulted when duty treatment is `5`
    /// (随征免性质). Default: `101` (general levy) none; nothing else is guessed.
    pub levy_natures: BTreeMap<String, Relief>,
    /// The first declaration date of the central-parity / next-trading-day exchange-rate rule.
    /// Default 2024-12-01.
    pub rate_rule_switch: chrono::NaiveDate,
    /// Whether a weekend make-up working day (调休上班日) counts as a trading day for the
    /// exchange-rate rule. Default `false`: the interbank FX market does not open on weekends.
    pub weekend_workdays_trade: bool,
    /// Cross-border e-commerce: the limit per transaction (yuan). Default 5,000.
    pub ecommerce_transaction_limit_yuan: Decimal,
    /// Cross-border e-commerce: the limit per person per calendar year (yuan). Default 26,000.
    pub ecommerce_annual_limit_yuan: Decimal,
    /// Cross-border e-commerce: the share of VAT and consumption tax collected within the
    /// limits. Default 0.7.
    pub ecommerce_tax_factor: Decimal,
    /// Origins that get the general rate (no MFN treatment, no agreement). Default empty:
    /// China grants MFN treatment to nearly every origin, and the list is a decision of the
    /// Tariff Commission, so it is configured, never guessed.
    pub general_rate_origins: Vec<String>,
    /// What price chooses a tier of a tiered consumption tax (cigarettes).
    pub consumption_tax_tier_price: TierPrice,
    /// Personal postal articles and baggage: rate per category (1, 2, 3). Default 13 %, 20 %,
    /// 50 % (from 2019-04-09).
    pub postal_rates: BTreeMap<u8, Decimal>,
    /// Postal tax at or below this amount per parcel is not collected. Default ¥50.00.
    pub postal_de_minimis_fen: Fen,
    /// Late declaration fee and late payment surcharge: the rate per day. Default 0.0005 (0.5‰).
    pub fee_daily_rate: Decimal,
    /// A fee below this amount is not collected (50.00 is collected). Default ¥50.00.
    pub fee_floor_fen: Fen,
    /// Days after arrival within which to declare (the fee starts the day after). Default 14.
    pub declaration_days: i64,
    /// Days after the payment notice within which to pay. Default 15.
    pub payment_days: i64,
    /// How fees are rounded. Default to the fen, half up.
    pub fee_rounding: FeeRounding,
}

impl Default for TaxPolicy {
    fn default() -> Self {
        let treatments = [
            ("1", Relief::NONE),
            ("2", Relief::HALF),
            ("3", Relief::FULL_EXEMPTION),
            ("6", Relief::NONE),
            ("7", Relief::NONE),
        ];
        TaxPolicy {
            de_minimis_fen: Fen::yuan(50),
            de_minimis_applies_to_ecommerce: false,
            unknown_insurance_rate: Decimal::new(3, 3),
            per_unit_freight_basis: PerUnitFreightBasis::GrossTonne,
            duty_treatments: treatments
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            levy_natures: [("101".to_string(), Relief::NONE)].into_iter().collect(),
            rate_rule_switch: chrono::NaiveDate::from_ymd_opt(2024, 12, 1).expect("valid date"),
            weekend_workdays_trade: false,
            ecommerce_transaction_limit_yuan: Decimal::from(5_000),
            ecommerce_annual_limit_yuan: Decimal::from(26_000),
            ecommerce_tax_factor: Decimal::new(7, 1),
            general_rate_origins: Vec::new(),
            consumption_tax_tier_price: TierPrice::CompositeBaseAtLowerRate,
            postal_rates: [
                (1, Decimal::new(13, 2)),
                (2, Decimal::new(20, 2)),
                (3, Decimal::new(50, 2)),
            ]
            .into_iter()
            .collect(),
            postal_de_minimis_fen: Fen::yuan(50),
            fee_daily_rate: Decimal::new(5, 4),
            fee_floor_fen: Fen::yuan(50),
            declaration_days: 14,
            payment_days: 15,
            fee_rounding: FeeRounding::FenHalfUp,
        }
    }
}
