//! Test support: an in-test `Reference` with hand-made tariff lines, and compact fixture forms
//! of tariff lines and declarations (the typed domain forms are long to write by hand).
#![allow(dead_code)]

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::Deserialize;

use domain::codes::*;
use domain::declaration::{Charge, Declaration, EntryType, Item, OverseasParty, Party};
use domain::reference::{
    AgreementRate, CodeTable, Office, QuotaCommodity, Reference, TariffLine, TariffQuota,
    TradeModeEntry,
};

/// A reference that knows only tariff lines and tariff-quota rates.
#[derive(Default)]
pub struct TestReference {
    pub lines: Vec<TariffLine>,
    pub quotas: Vec<TariffQuota>,
}

impl Reference for TestReference {
    fn office(&self, _code: OfficeCode) -> Option<&Office> {
        None
    }
    fn country(&self, text: &str) -> Option<CountryCode> {
        CountryCode::parse(text).ok()
    }
    fn currency(&self, text: &str) -> Option<CurrencyCode> {
        CurrencyCode::parse(text).ok()
    }
    fn contains(&self, _table: CodeTable, _code: &str) -> bool {
        true
    }
    fn trade_mode(&self, _code: TradeMode) -> Option<&TradeModeEntry> {
        None
    }
    fn tariff_line(&self, code: HsCode, on: NaiveDate) -> Option<&TariffLine> {
        self.lines
            .iter()
            .find(|l| l.commodity_code == code && l.in_force(on))
    }
    fn tariff_quota(&self, code: HsCode, on: NaiveDate) -> Option<&TariffQuota> {
        self.quotas
            .iter()
            .find(|q| q.commodity_code == code && q.in_force(on))
    }
}

/// A tariff-quota rate in short form (in force from 2020-01-01).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaFixture {
    pub code: String,
    /// `wheat`, `maize`, `rice`, `sugar`, `wool`, `wool_tops`, `cotton`.
    pub commodity: String,
    pub in_quota: String,
    pub out_of_quota: String,
}

impl QuotaFixture {
    pub fn quota(&self) -> TariffQuota {
        TariffQuota {
            commodity_code: HsCode::parse(&self.code).unwrap(),
            commodity: QuotaCommodity::parse(&self.commodity).unwrap(),
            in_quota: self.in_quota.parse().unwrap(),
            out_of_quota: self.out_of_quota.parse().unwrap(),
            valid_from: d("2020-01-01"),
            valid_to: None,
        }
    }
}

pub fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementFixture {
    pub agreement: String,
    pub origins: Vec<String>,
    pub rate: String,
}

/// A tariff line in short form: rates in tariff text (`10%`, `3.5/095`, `10%+3.5/095`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffFixture {
    pub code: String,
    #[serde(default = "unit_001")]
    pub first_unit: String,
    #[serde(default)]
    pub second_unit: Option<String>,
    pub mfn: String,
    #[serde(default = "general_default")]
    pub general: String,
    #[serde(default)]
    pub provisional: Option<String>,
    #[serde(default)]
    pub agreements: Vec<AgreementFixture>,
    /// A fraction (`0.13`).
    #[serde(default = "vat_default")]
    pub vat: String,
    #[serde(default)]
    pub consumption_tax: Option<String>,
    #[serde(default)]
    pub export_duty: Option<String>,
    #[serde(default)]
    pub valid_from: Option<String>,
    #[serde(default)]
    pub valid_to: Option<String>,
}

fn unit_001() -> String {
    "001".into()
}
fn general_default() -> String {
    "30%".into()
}
fn vat_default() -> String {
    "0.13".into()
}

impl TariffFixture {
    pub fn line(&self) -> TariffLine {
        TariffLine {
            commodity_code: HsCode::parse(&self.code).unwrap(),
            description_zh: "测试".into(),
            description_en: "test".into(),
            first_unit: UnitCode::parse(&self.first_unit).unwrap(),
            second_unit: self
                .second_unit
                .as_deref()
                .map(|u| UnitCode::parse(u).unwrap()),
            mfn: self.mfn.parse().unwrap(),
            general: self.general.parse().unwrap(),
            agreements: self
                .agreements
                .iter()
                .map(|a| AgreementRate {
                    agreement: a.agreement.clone(),
                    origins: a
                        .origins
                        .iter()
                        .map(|o| CountryCode::parse(o).unwrap())
                        .collect(),
                    rate: a.rate.parse().unwrap(),
                })
                .collect(),
            provisional: self.provisional.as_deref().map(|p| p.parse().unwrap()),
            vat_rate: dec(&self.vat),
            consumption_tax: self.consumption_tax.as_deref().map(|c| c.parse().unwrap()),
            export_duty: self.export_duty.as_deref().map(dec),
            licence: None,
            valid_from: self.valid_from.as_deref().map_or(d("2000-01-01"), d),
            valid_to: self.valid_to.as_deref().map(d),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemFixture {
    pub code: String,
    pub qty: String,
    #[serde(default = "unit_001")]
    pub unit: String,
    #[serde(default)]
    pub second_qty: Option<String>,
    #[serde(default)]
    pub second_unit: Option<String>,
    pub total: String,
    #[serde(default = "usd")]
    pub currency: String,
    #[serde(default = "usa")]
    pub origin: String,
    #[serde(default = "treatment_1")]
    pub treatment: String,
    #[serde(default)]
    pub producer: Option<String>,
    /// The agreement a certificate of origin is held for, with direct transport; `"AGREEMENT
    /// no direct"` for one without direct transport.
    #[serde(default)]
    pub origin_proof: Option<String>,
    /// The tariff-quota certificate the item is declared under.
    #[serde(default)]
    pub quota_certificate_no: Option<String>,
}

fn usd() -> String {
    "USD".into()
}
fn usa() -> String {
    "USA".into()
}
fn treatment_1() -> String {
    "1".into()
}

/// A declaration in short form; everything not named gets a plain default.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclarationFixture {
    #[serde(default = "import")]
    pub direction: String,
    pub date: String,
    /// Transaction terms code `1`..`7`.
    pub terms: String,
    #[serde(default = "general_trade")]
    pub trade_mode: String,
    #[serde(default = "levy_101")]
    pub levy_nature: String,
    #[serde(default)]
    pub freight: Option<Charge>,
    #[serde(default)]
    pub insurance: Option<Charge>,
    #[serde(default)]
    pub other: Option<Charge>,
    #[serde(default = "weight_default")]
    pub gross_weight_kg: String,
    pub items: Vec<ItemFixture>,
}

fn import() -> String {
    "import".into()
}
fn general_trade() -> String {
    "0110".into()
}
fn levy_101() -> String {
    "101".into()
}
fn weight_default() -> String {
    "1000".into()
}

impl DeclarationFixture {
    pub fn declaration(&self) -> Declaration {
        let items = self
            .items
            .iter()
            .enumerate()
            .map(|(i, it)| item(i as u16 + 1, it))
            .collect();
        let mut decl = base_declaration(
            d(&self.date),
            TransactionTerms::parse(&self.terms).unwrap(),
            items,
        );
        decl.direction = if self.direction == "export" {
            Direction::Export
        } else {
            Direction::Import
        };
        decl.trade_mode = TradeMode::parse(&self.trade_mode).unwrap();
        decl.levy_nature = LevyNature::parse(&self.levy_nature).unwrap();
        decl.freight = self.freight;
        decl.insurance = self.insurance;
        decl.other_charges = self.other;
        decl.gross_weight_kg = dec(&self.gross_weight_kg);
        decl.net_weight_kg = decl.gross_weight_kg;
        decl
    }
}

pub fn item(item_no: u16, it: &ItemFixture) -> Item {
    let qty = dec(&it.qty);
    let total = dec(&it.total);
    Item {
        item_no,
        record_item: None,
        commodity_code: HsCode::parse(&it.code).unwrap(),
        name: format!("goods {item_no}"),
        specification: "0|0".into(),
        declared_quantity: qty,
        declared_unit: UnitCode::parse(&it.unit).unwrap(),
        first_quantity: qty,
        first_unit: UnitCode::parse(&it.unit).unwrap(),
        second_quantity: it.second_qty.as_deref().map(dec),
        second_unit: it
            .second_unit
            .as_deref()
            .map(|u| UnitCode::parse(u).unwrap()),
        unit_price: if qty.is_zero() {
            total
        } else {
            (total / qty).round_dp(4)
        },
        total_price: total,
        currency: CurrencyCode::parse(&it.currency).unwrap(),
        origin_country: CountryCode::parse(&it.origin).unwrap(),
        destination_country: CountryCode::parse("CHN").unwrap(),
        district: None,
        duty_treatment: DutyTreatment::parse(&it.treatment).unwrap(),
        producer: it.producer.clone(),
        origin_proof: it.origin_proof.as_deref().map(|p| {
            let (agreement, direct) = match p.strip_suffix(" no direct") {
                Some(a) => (a, false),
                None => (p, true),
            };
            domain::declaration::OriginProof {
                agreement: agreement.into(),
                kind: domain::declaration::OriginProofKind::Certificate,
                number: "TEST-0001".into(),
                direct_transport: direct,
            }
        }),
        quota_certificate_no: it.quota_certificate_no.clone(),
    }
}

pub fn base_declaration(date: NaiveDate, terms: TransactionTerms, items: Vec<Item>) -> Declaration {
    let party = Party {
        name: "测试进出口有限公司".into(),
        uscc: Uscc::parse("91110000600037341L").unwrap(),
        customs_code: None,
    };
    Declaration {
        direction: Direction::Import,
        declaration_office: OfficeCode::parse("2200").unwrap(),
        entry_exit_office: OfficeCode::parse("2201").unwrap(),
        record_no: None,
        contract_no: None,
        ie_date: Some(date),
        declaration_date: date,
        trader: party.clone(),
        overseas_party: OverseasParty {
            code: None,
            name: "NO".into(),
            address: None,
        },
        owner: Some(party),
        agent: None,
        transport_mode: TransportMode::parse("2").unwrap(),
        vessel: None,
        voyage_no: None,
        bill_no: None,
        goods_place: None,
        trade_mode: TradeMode::GENERAL_TRADE,
        levy_nature: LevyNature::parse("101").unwrap(),
        licence_no: None,
        loading_port: None,
        destination_port: None,
        trading_country: CountryCode::parse("USA").unwrap(),
        dispatch_country: CountryCode::parse("USA").unwrap(),
        domestic_port: None,
        package_type: PackageType::parse("22").unwrap(),
        packages: 1,
        gross_weight_kg: dec("1000"),
        net_weight_kg: dec("1000"),
        transaction_terms: terms,
        freight: None,
        insurance: None,
        other_charges: None,
        documents: Vec::new(),
        marks: None,
        remarks: None,
        entry_type: EntryType::Paperless,
        buyer: None,
        items,
    }
}
