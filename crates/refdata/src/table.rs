//! The names of the tables, their files and their columns.

use std::fmt;

/// One reference table. `name()` is what `jinguan refdata import <table>` and
/// `jinguan codes <table>` take, and the stem of `<data_dir>/refdata/<name>.csv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Units,
    Countries,
    Currencies,
    LevyNatures,
    StatsTradeModes,
    DutyTreatments,
    TransportModes,
    TransactionTerms,
    PackageTypes,
    Provinces,
    Offices,
    TradeModes,
    Tariff,
    GeneralRateOrigins,
    TariffQuotas,
}

/// A column of a table file and whether it must be present in the header.
pub(crate) struct Column {
    pub name: &'static str,
    pub required: bool,
}

const fn req(name: &'static str) -> Column {
    Column {
        name,
        required: true,
    }
}
const fn opt(name: &'static str) -> Column {
    Column {
        name,
        required: false,
    }
}

const CODE_NAMES: &[Column] = &[req("code"), req("name_zh"), req("name_en")];
const UNITS: &[Column] = &[
    req("code"),
    req("name_zh"),
    req("name_en"),
    opt("base_unit"),
    opt("base_ratio"),
];
const COUNTRIES: &[Column] = &[
    req("legacy_code"),
    req("alpha3"),
    req("name_zh"),
    req("name_en"),
];
const CURRENCIES: &[Column] = &[
    req("legacy_code"),
    req("alpha"),
    req("name_zh"),
    req("name_en"),
];
const OFFICES: &[Column] = &[
    req("code"),
    req("name_zh"),
    req("name_en"),
    req("level"),
    req("parent"),
];
const TRADE_MODES: &[Column] = &[
    req("code"),
    req("name_zh"),
    req("name_en"),
    req("stats_code"),
    req("levy_natures"),
];
const TARIFF: &[Column] = &[
    req("commodity_code"),
    req("description_zh"),
    req("description_en"),
    req("first_unit"),
    req("second_unit"),
    req("mfn"),
    req("general"),
    req("agreements"),
    req("provisional"),
    req("vat_rate"),
    req("consumption_tax"),
    req("export_duty"),
    req("licence"),
    req("valid_from"),
    req("valid_to"),
];

const TARIFF_QUOTAS: &[Column] = &[
    req("commodity_code"),
    req("commodity"),
    req("in_quota_rate"),
    req("out_of_quota_rate"),
    req("valid_from"),
    req("valid_to"),
    req("source"),
    req("verified"),
];

const GENERAL_RATE_ORIGINS: &[Column] = &[
    req("origin"),
    req("valid_from"),
    req("valid_to"),
    req("source"),
];

impl Table {
    /// In dependency order: a table refers only to tables before it, which is the order of loading.
    pub const ALL: [Table; 15] = [
        Table::Units,
        Table::Countries,
        Table::Currencies,
        Table::LevyNatures,
        Table::StatsTradeModes,
        Table::DutyTreatments,
        Table::TransportModes,
        Table::TransactionTerms,
        Table::PackageTypes,
        Table::Provinces,
        Table::Offices,
        Table::TradeModes,
        Table::Tariff,
        Table::GeneralRateOrigins,
        Table::TariffQuotas,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Units => "units",
            Table::Countries => "countries",
            Table::Currencies => "currencies",
            Table::LevyNatures => "levy_natures",
            Table::StatsTradeModes => "stats_trade_modes",
            Table::DutyTreatments => "duty_treatments",
            Table::TransportModes => "transport_modes",
            Table::TransactionTerms => "transaction_terms",
            Table::PackageTypes => "package_types",
            Table::Provinces => "provinces",
            Table::Offices => "offices",
            Table::TradeModes => "trade_modes",
            Table::Tariff => "tariff",
            Table::GeneralRateOrigins => "general_rate_origins",
            Table::TariffQuotas => "tariff_quotas",
        }
    }

    /// The table named `name` (as [`Table::name`]; case-insensitive, `-` accepted for `_`).
    pub fn from_name(name: &str) -> Option<Table> {
        let wanted = name.trim().to_ascii_lowercase().replace('-', "_");
        Table::ALL.into_iter().find(|t| t.name() == wanted)
    }

    pub fn description(self) -> &'static str {
        match self {
            Table::Units => "计量单位 units of measure",
            Table::Countries => "国别（地区） countries and regions",
            Table::Currencies => "币制 currencies",
            Table::LevyNatures => "征免性质 levy natures",
            Table::StatsTradeModes => "统计贸易方式 statistical trade modes",
            Table::DutyTreatments => "征免方式 duty treatments",
            Table::TransportModes => "运输方式 transport modes",
            Table::TransactionTerms => "成交方式 transaction terms",
            Table::PackageTypes => "包装种类 package types",
            Table::Provinces => "境内地区（省） provinces",
            Table::Offices => "关区代码 customs offices",
            Table::TradeModes => "监管方式 trade modes",
            Table::Tariff => "税则 tariff schedule",
            Table::GeneralRateOrigins => "适用普通税率的原产地 origins under the general rate",
            Table::TariffQuotas => "关税配额税率 tariff-quota rates",
        }
    }

    /// The shipped file under `data/`.
    pub fn embedded_file(self) -> &'static str {
        match self {
            Table::Tariff => "tariff_sample.csv",
            Table::GeneralRateOrigins => "general_rate_origins.csv",
            Table::TariffQuotas => "tariff_quotas_sample.csv",
            Table::Units => "units.csv",
            Table::Countries => "countries.csv",
            Table::Currencies => "currencies.csv",
            Table::LevyNatures => "levy_natures.csv",
            Table::StatsTradeModes => "stats_trade_modes.csv",
            Table::DutyTreatments => "duty_treatments.csv",
            Table::TransportModes => "transport_modes.csv",
            Table::TransactionTerms => "transaction_terms.csv",
            Table::PackageTypes => "package_types.csv",
            Table::Provinces => "provinces.csv",
            Table::Offices => "offices.csv",
            Table::TradeModes => "trade_modes.csv",
        }
    }

    /// The shipped content, compiled into the binary so that the product never reads the source tree.
    pub(crate) fn embedded_text(self) -> &'static str {
        match self {
            Table::Units => include_str!("../../../data/units.csv"),
            Table::Countries => include_str!("../../../data/countries.csv"),
            Table::Currencies => include_str!("../../../data/currencies.csv"),
            Table::LevyNatures => include_str!("../../../data/levy_natures.csv"),
            Table::StatsTradeModes => include_str!("../../../data/stats_trade_modes.csv"),
            Table::DutyTreatments => include_str!("../../../data/duty_treatments.csv"),
            Table::TransportModes => include_str!("../../../data/transport_modes.csv"),
            Table::TransactionTerms => include_str!("../../../data/transaction_terms.csv"),
            Table::PackageTypes => include_str!("../../../data/package_types.csv"),
            Table::Provinces => include_str!("../../../data/provinces.csv"),
            Table::Offices => include_str!("../../../data/offices.csv"),
            Table::TradeModes => include_str!("../../../data/trade_modes.csv"),
            Table::Tariff => include_str!("../../../data/tariff_sample.csv"),
            Table::GeneralRateOrigins => include_str!("../../../data/general_rate_origins.csv"),
            Table::TariffQuotas => include_str!("../../../data/tariff_quotas_sample.csv"),
        }
    }

    /// Whether a file with a header and no rows is a valid table: only a list that may
    /// rightly be empty (no origin is under the general rate today; a tariff without quota
    /// goods); a code table never.
    pub fn may_be_empty(self) -> bool {
        matches!(self, Table::GeneralRateOrigins | Table::TariffQuotas)
    }

    /// The file name of an imported table under `<data_dir>/refdata/`.
    pub fn import_file(self) -> String {
        format!("{}.csv", self.name())
    }

    pub(crate) fn columns(self) -> &'static [Column] {
        match self {
            Table::Units => UNITS,
            Table::Countries => COUNTRIES,
            Table::Currencies => CURRENCIES,
            Table::Offices => OFFICES,
            Table::TradeModes => TRADE_MODES,
            Table::Tariff => TARIFF,
            Table::GeneralRateOrigins => GENERAL_RATE_ORIGINS,
            Table::TariffQuotas => TARIFF_QUOTAS,
            Table::LevyNatures
            | Table::StatsTradeModes
            | Table::DutyTreatments
            | Table::TransportModes
            | Table::TransactionTerms
            | Table::PackageTypes
            | Table::Provinces => CODE_NAMES,
        }
    }

    /// The column names, in the order the shipped files use.
    pub fn column_names(self) -> Vec<&'static str> {
        self.columns().iter().map(|c| c.name).collect()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
