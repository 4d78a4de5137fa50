//! What the engine reads of a declaration: [`View`], every field a rule may test, computed once
//! per decision (prices in CNY, kilograms per unit, the route). Also the two things the caller
//! supplies: exchange rates ([`CnyRates`]) and the office tree ([`OfficeHierarchy`]).

use std::borrow::Cow;
use std::collections::HashMap;

use domain::codes::{CurrencyCode, OfficeCode};
use domain::declaration::{Declaration, EntryType, Item};
use domain::reference::Reference;
use rust_decimal::Decimal;

use crate::field::{Field, Level, HEADER_FIELDS, ITEM_FIELDS};

/// CNY per one unit of a currency, for the month of the declaration (the caller picks the rate
/// by the tax rule of docs/DOMAIN.md §4, e.g. from `tax::rates::RateTable`). CNY itself is 1
/// without asking.
pub trait CnyRates {
    fn cny_per_unit(&self, currency: CurrencyCode) -> Option<Decimal>;
}

impl CnyRates for HashMap<CurrencyCode, Decimal> {
    fn cny_per_unit(&self, currency: CurrencyCode) -> Option<Decimal> {
        self.get(&currency).copied()
    }
}

impl<F: Fn(CurrencyCode) -> Option<Decimal>> CnyRates for F {
    fn cny_per_unit(&self, currency: CurrencyCode) -> Option<Decimal> {
        self(currency)
    }
}

/// No rates known: prices in CNY exist only for declarations in CNY.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoRates;

impl CnyRates for NoRates {
    fn cny_per_unit(&self, _currency: CurrencyCode) -> Option<Decimal> {
        None
    }
}

pub(crate) fn rate(rates: &dyn CnyRates, currency: CurrencyCode) -> Option<Decimal> {
    if currency == CurrencyCode::CNY {
        Some(Decimal::ONE)
    } else {
        rates.cny_per_unit(currency)
    }
}

/// The office tree, for rule scopes: an office's parent (`None` for HQ).
pub trait OfficeHierarchy {
    fn parent(&self, office: OfficeCode) -> Option<OfficeCode>;
}

/// The tree the digits suggest (`xxyy` → `xx00` → `0000`), for tests and as a fallback.
#[derive(Clone, Copy, Debug, Default)]
pub struct DigitOffices;

impl OfficeHierarchy for DigitOffices {
    fn parent(&self, office: OfficeCode) -> Option<OfficeCode> {
        office.digit_parent()
    }
}

/// The office table of the reference data (`refdata::RefData` implements `Reference`), falling
/// back on the digits for an office it does not list, as `RefData::office_within` does.
pub struct ReferenceOffices<'a>(pub &'a dyn Reference);

impl OfficeHierarchy for ReferenceOffices<'_> {
    fn parent(&self, office: OfficeCode) -> Option<OfficeCode> {
        match self.0.office(office) {
            Some(o) => o.parent,
            None => office.digit_parent(),
        }
    }
}

impl<F: Fn(OfficeCode) -> Option<OfficeCode>> OfficeHierarchy for F {
    fn parent(&self, office: OfficeCode) -> Option<OfficeCode> {
        self(office)
    }
}

/// The office and its ancestors up to HQ (at most 8: a bound against a cycle in a hand-edited
/// table).
pub(crate) fn ancestors(offices: &dyn OfficeHierarchy, office: OfficeCode) -> Vec<OfficeCode> {
    let mut out = vec![office];
    let mut cur = office;
    while out.len() < 8 {
        match offices.parent(cur) {
            Some(p) if !out.contains(&p) => {
                out.push(p);
                cur = p;
            }
            Some(_) | None => break,
        }
    }
    out
}

/// A field's value: text (already upper-cased for free-text fields) or a number.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Value<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    Num(Decimal),
}

impl Value<'_> {
    /// For explanations: numbers rounded to 4 decimal places, without trailing zeros.
    pub fn render(&self) -> String {
        match self {
            Value::Absent => "(none)".to_owned(),
            Value::Str(s) => s.to_string(),
            Value::Num(n) => n.round_dp(4).normalize().to_string(),
        }
    }
}

fn upper(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) {
        Cow::Owned(s.to_ascii_uppercase())
    } else {
        Cow::Borrowed(s)
    }
}

fn code(s: &str) -> Value<'_> {
    Value::Str(Cow::Borrowed(s))
}

fn text(s: Option<&str>) -> Value<'_> {
    match s {
        Some(s) if !s.trim().is_empty() => Value::Str(upper(s.trim())),
        Some(_) | None => Value::Absent,
    }
}

fn num(n: Option<Decimal>) -> Value<'static> {
    n.map_or(Value::Absent, Value::Num)
}

const KG: &str = "035";

/// Kilograms per declared unit: the item's quantity in kilograms (its first or second legal
/// unit when that is `035` kilogram; for a one-item declaration, the net weight) divided by the
/// declared quantity.
pub fn weight_per_unit_kg(declaration: &Declaration, item: &Item) -> Option<Decimal> {
    let kg = if item.first_unit.as_str() == KG {
        Some(item.first_quantity)
    } else if item.second_unit.is_some_and(|u| u.as_str() == KG) {
        item.second_quantity
    } else if declaration.items.len() == 1 {
        Some(declaration.net_weight_kg)
    } else {
        None
    }?;
    if item.declared_quantity.is_zero() {
        return None;
    }
    kg.checked_div(item.declared_quantity)
}

/// The overseas party as rules see it: its AEO code when it has one, else its name.
pub fn overseas_party(declaration: &Declaration) -> Option<&str> {
    let p = &declaration.overseas_party;
    match &p.code {
        Some(c) if !c.trim().is_empty() => Some(c.as_str()),
        Some(_) | None => Some(p.name.as_str()),
    }
}

/// The codes of the attached documents as rules see them: trimmed, blanks left out, in
/// declared order (a code may repeat, one per document).
pub fn document_codes(declaration: &Declaration) -> Vec<&str> {
    declaration
        .documents
        .iter()
        .map(|doc| doc.code.trim())
        .filter(|c| !c.is_empty())
        .collect()
}

/// `foreign port-domestic port`, when both are known.
pub fn route(declaration: &Declaration) -> Option<String> {
    let foreign = match declaration.direction {
        domain::codes::Direction::Import => declaration.loading_port.as_deref(),
        domain::codes::Direction::Export => declaration.destination_port.as_deref(),
    }?;
    let domestic = declaration.domestic_port.as_ref()?;
    Some(format!("{}-{}", foreign.trim(), domestic))
}

pub(crate) fn entry_type_code(e: EntryType) -> &'static str {
    match e {
        EntryType::Paper => "0",
        EntryType::PaperWithList => "L",
        EntryType::PaperlessWithList => "D",
        EntryType::Paperless => "M",
    }
}

/// Every field of one declaration, read once.
pub struct View<'a> {
    pub(crate) header: [Value<'a>; HEADER_FIELDS],
    pub(crate) items: Vec<[Value<'a>; ITEM_FIELDS]>,
    /// Item numbers, parallel to `items`.
    pub(crate) item_nos: Vec<u16>,
    /// The attached documents' codes (trimmed, in declared order): the set
    /// [`Field::DocumentCode`] tests. Its header slot holds them joined by `,`, for the
    /// explanation.
    pub(crate) documents: Vec<&'a str>,
}

impl<'a> View<'a> {
    pub fn new(d: &'a Declaration, rates: &dyn CnyRates) -> View<'a> {
        let mut header: [Value<'a>; HEADER_FIELDS] = std::array::from_fn(|_| Value::Absent);
        let mut set = |f: Field, v: Value<'a>| header[f.slot()] = v;
        set(
            Field::Direction,
            code(match d.direction {
                domain::codes::Direction::Import => "import",
                domain::codes::Direction::Export => "export",
            }),
        );
        set(
            Field::DeclarationOffice,
            code(d.declaration_office.as_str()),
        );
        set(Field::EntryExitOffice, code(d.entry_exit_office.as_str()));
        set(Field::TradeMode, code(d.trade_mode.as_str()));
        set(Field::TransportMode, code(d.transport_mode.as_str()));
        set(Field::LevyNature, code(d.levy_nature.as_str()));
        set(
            Field::TransactionTerms,
            Value::Str(Cow::Owned(d.transaction_terms.code().to_string())),
        );
        set(Field::PackageType, code(d.package_type.as_str()));
        set(Field::EntryType, code(entry_type_code(d.entry_type)));
        if let Some(p) = &d.domestic_port {
            set(Field::DomesticPort, code(p.as_str()));
        }
        set(Field::TradingCountry, code(d.trading_country.as_str()));
        set(Field::DispatchCountry, code(d.dispatch_country.as_str()));
        set(Field::Trader, code(d.trader.uscc.as_str()));
        if let Some(c) = &d.trader.customs_code {
            set(Field::TraderCustomsCode, code(c.as_str()));
        }
        if let Some(o) = &d.owner {
            set(Field::OwnerUnit, code(o.uscc.as_str()));
        }
        if let Some(a) = &d.agent {
            set(Field::Agent, code(a.uscc.as_str()));
        }
        set(Field::OverseasParty, text(overseas_party(d)));
        set(Field::OverseasPartyName, text(Some(&d.overseas_party.name)));
        set(Field::Vessel, text(d.vessel.as_deref()));
        set(Field::VoyageNo, text(d.voyage_no.as_deref()));
        set(Field::BillNo, text(d.bill_no.as_deref()));
        set(Field::LicenceNo, text(d.licence_no.as_deref()));
        set(Field::RecordNo, text(d.record_no.as_deref()));
        set(Field::ContractNo, text(d.contract_no.as_deref()));
        set(Field::LoadingPort, text(d.loading_port.as_deref()));
        set(Field::DestinationPort, text(d.destination_port.as_deref()));
        if let Some(r) = route(d) {
            set(Field::Route, Value::Str(Cow::Owned(r.to_ascii_uppercase())));
        }
        set(Field::GrossWeightKg, Value::Num(d.gross_weight_kg));
        set(Field::NetWeightKg, Value::Num(d.net_weight_kg));
        set(Field::Packages, Value::Num(Decimal::from(d.packages)));
        set(Field::ItemCount, Value::Num(Decimal::from(d.items.len())));
        let documents = document_codes(d);
        if !documents.is_empty() {
            set(
                Field::DocumentCode,
                Value::Str(Cow::Owned(documents.join(","))),
            );
        }

        let mut total_cny = Some(Decimal::ZERO);
        let mut items = Vec::with_capacity(d.items.len());
        for it in &d.items {
            let mut v: [Value<'a>; ITEM_FIELDS] = std::array::from_fn(|_| Value::Absent);
            let mut put = |f: Field, x: Value<'a>| {
                debug_assert_eq!(f.level(), Level::Item);
                v[f.slot()] = x;
            };
            let r = rate(rates, it.currency);
            let total_price_cny = r.and_then(|r| it.total_price.checked_mul(r));
            total_cny = total_cny
                .zip(total_price_cny)
                .and_then(|(a, b)| a.checked_add(b));
            put(Field::Commodity, code(it.commodity_code.as_str()));
            put(Field::Origin, code(it.origin_country.as_str()));
            put(
                Field::DestinationCountry,
                code(it.destination_country.as_str()),
            );
            put(Field::Currency, code(it.currency.as_str()));
            put(Field::DeclaredUnit, code(it.declared_unit.as_str()));
            put(Field::FirstUnit, code(it.first_unit.as_str()));
            if let Some(u) = &it.second_unit {
                put(Field::SecondUnit, code(u.as_str()));
            }
            put(Field::DutyTreatment, code(it.duty_treatment.as_str()));
            if let Some(x) = &it.district {
                put(Field::District, code(x.as_str()));
            }
            put(Field::Producer, text(it.producer.as_deref()));
            put(Field::GoodsName, text(Some(&it.name)));
            put(Field::Specification, text(Some(&it.specification)));
            put(Field::UnitPrice, Value::Num(it.unit_price));
            put(Field::TotalPrice, Value::Num(it.total_price));
            put(
                Field::UnitPriceCny,
                num(r.and_then(|r| it.unit_price.checked_mul(r))),
            );
            put(Field::TotalPriceCny, num(total_price_cny));
            put(Field::Quantity, Value::Num(it.declared_quantity));
            put(Field::FirstQuantity, Value::Num(it.first_quantity));
            put(Field::SecondQuantity, num(it.second_quantity));
            put(Field::WeightPerUnitKg, num(weight_per_unit_kg(d, it)));
            items.push(v);
        }
        set(Field::TotalValueCny, num(total_cny));
        View {
            header,
            item_nos: d.items.iter().map(|i| i.item_no).collect(),
            items,
            documents,
        }
    }

    /// The value of a field, for item `item` (ignored for header fields). An item field with no
    /// item (a declaration without items) is absent.
    pub fn get(&self, field: Field, item: usize) -> &Value<'a> {
        const ABSENT: &Value<'static> = &Value::Absent;
        match field.level() {
            Level::Header => &self.header[field.slot()],
            Level::Item => self.items.get(item).map_or(ABSENT, |v| &v[field.slot()]),
        }
    }

    pub fn item_count(&self) -> usize {
        self.items.len()
    }
}
