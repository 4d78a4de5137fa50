//! The reference interpreter: rules evaluated straight from their syntax tree against the
//! declaration, every rule every time, with no index. Slow on purpose and written apart from
//! [`crate::compile`], so that the differential test can hold the compiled engine to it.

use chrono::NaiveDate;
use domain::codes::{Direction, OfficeCode};
use domain::declaration::{Declaration, Item};
use rust_decimal::Decimal;

use crate::compile::compare;
use crate::expr::{Expr, Literal, Op, Test};
use crate::facts::{
    entry_type_code, overseas_party, rate, route, weight_per_unit_kg, CnyRates, OfficeHierarchy,
};
use crate::field::{Field, Level};
use crate::rule::{Rule, RuleSet};

enum V {
    Absent,
    S(String),
    N(Decimal),
    /// The document codes (never empty: no documents is `Absent`).
    Set(Vec<String>),
}

fn opt_text(s: Option<&str>) -> V {
    match s {
        Some(s) if !s.trim().is_empty() => V::S(s.trim().to_ascii_uppercase()),
        Some(_) | None => V::Absent,
    }
}

fn value(d: &Declaration, item: Option<&Item>, field: Field, rates: &dyn CnyRates) -> V {
    let s = |x: &str| V::S(x.to_owned());
    if field.level() == Level::Item {
        let Some(it) = item else { return V::Absent };
        let cny = rate(rates, it.currency);
        return match field {
            Field::Commodity => s(it.commodity_code.as_str()),
            Field::Origin => s(it.origin_country.as_str()),
            Field::DestinationCountry => s(it.destination_country.as_str()),
            Field::Currency => s(it.currency.as_str()),
            Field::DeclaredUnit => s(it.declared_unit.as_str()),
            Field::FirstUnit => s(it.first_unit.as_str()),
            Field::SecondUnit => it.second_unit.map_or(V::Absent, |u| s(u.as_str())),
            Field::DutyTreatment => s(it.duty_treatment.as_str()),
            Field::District => it.district.map_or(V::Absent, |x| s(x.as_str())),
            Field::Producer => opt_text(it.producer.as_deref()),
            Field::GoodsName => opt_text(Some(&it.name)),
            Field::Specification => opt_text(Some(&it.specification)),
            Field::UnitPrice => V::N(it.unit_price),
            Field::TotalPrice => V::N(it.total_price),
            Field::UnitPriceCny => cny
                .and_then(|r| it.unit_price.checked_mul(r))
                .map_or(V::Absent, V::N),
            Field::TotalPriceCny => cny
                .and_then(|r| it.total_price.checked_mul(r))
                .map_or(V::Absent, V::N),
            Field::Quantity => V::N(it.declared_quantity),
            Field::FirstQuantity => V::N(it.first_quantity),
            Field::SecondQuantity => it.second_quantity.map_or(V::Absent, V::N),
            Field::WeightPerUnitKg => weight_per_unit_kg(d, it).map_or(V::Absent, V::N),
            _ => V::Absent,
        };
    }
    match field {
        Field::Direction => s(match d.direction {
            Direction::Import => "import",
            Direction::Export => "export",
        }),
        Field::DeclarationOffice => s(d.declaration_office.as_str()),
        Field::EntryExitOffice => s(d.entry_exit_office.as_str()),
        Field::TradeMode => s(d.trade_mode.as_str()),
        Field::TransportMode => s(d.transport_mode.as_str()),
        Field::LevyNature => s(d.levy_nature.as_str()),
        Field::TransactionTerms => V::S(d.transaction_terms.code().to_string()),
        Field::PackageType => s(d.package_type.as_str()),
        Field::EntryType => s(entry_type_code(d.entry_type)),
        Field::DomesticPort => d.domestic_port.map_or(V::Absent, |p| s(p.as_str())),
        Field::TradingCountry => s(d.trading_country.as_str()),
        Field::DispatchCountry => s(d.dispatch_country.as_str()),
        Field::Trader => s(d.trader.uscc.as_str()),
        Field::TraderCustomsCode => d.trader.customs_code.map_or(V::Absent, |c| s(c.as_str())),
        Field::OwnerUnit => d.owner.as_ref().map_or(V::Absent, |p| s(p.uscc.as_str())),
        Field::Agent => d.agent.as_ref().map_or(V::Absent, |p| s(p.uscc.as_str())),
        Field::OverseasParty => opt_text(overseas_party(d)),
        Field::OverseasPartyName => opt_text(Some(&d.overseas_party.name)),
        Field::Vessel => opt_text(d.vessel.as_deref()),
        Field::VoyageNo => opt_text(d.voyage_no.as_deref()),
        Field::BillNo => opt_text(d.bill_no.as_deref()),
        Field::LicenceNo => opt_text(d.licence_no.as_deref()),
        Field::RecordNo => opt_text(d.record_no.as_deref()),
        Field::ContractNo => opt_text(d.contract_no.as_deref()),
        Field::LoadingPort => opt_text(d.loading_port.as_deref()),
        Field::DestinationPort => opt_text(d.destination_port.as_deref()),
        Field::Route => route(d).map_or(V::Absent, |r| V::S(r.to_ascii_uppercase())),
        Field::GrossWeightKg => V::N(d.gross_weight_kg),
        Field::NetWeightKg => V::N(d.net_weight_kg),
        Field::Packages => V::N(Decimal::from(d.packages)),
        Field::ItemCount => V::N(Decimal::from(d.items.len())),
        Field::DocumentCode => {
            let codes: Vec<String> = d
                .documents
                .iter()
                .map(|doc| doc.code.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            if codes.is_empty() {
                V::Absent
            } else {
                V::Set(codes)
            }
        }
        Field::TotalValueCny => {
            let mut sum = Some(Decimal::ZERO);
            for it in &d.items {
                let t = rate(rates, it.currency).and_then(|r| it.total_price.checked_mul(r));
                sum = sum.zip(t).and_then(|(a, b)| a.checked_add(b));
            }
            sum.map_or(V::Absent, V::N)
        }
        _ => V::Absent,
    }
}

fn test(t: &Test, v: &V) -> bool {
    match (v, &t.value) {
        (V::Absent, _) => false,
        // A set: some member passes the positive form of the test; `!=` and `not in` hold when
        // no member passes it.
        (V::Set(codes), _) => {
            let positive = Test {
                op: match t.op {
                    Op::Ne => Op::Eq,
                    Op::NotIn => Op::In,
                    op => op,
                },
                ..t.clone()
            };
            let any = codes.iter().any(|c| test(&positive, &V::S(c.clone())));
            match t.op {
                Op::Ne | Op::NotIn => !any,
                _ => any,
            }
        }
        (V::N(n), Literal::Num(x)) => compare(t.op, n, x),
        (V::S(s), Literal::Str(x)) => match t.op {
            Op::Eq | Op::In => s == x,
            Op::Ne | Op::NotIn => s != x,
            Op::Prefix => s.starts_with(x.as_str()),
            Op::Contains => s.contains(x.as_str()),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => false,
        },
        (V::S(s), Literal::List(l)) => {
            let member = l.iter().any(|x| x == s);
            match t.op {
                Op::NotIn | Op::Ne => !member,
                _ => member,
            }
        }
        (V::N(_), Literal::Str(_) | Literal::List(_)) | (V::S(_), Literal::Num(_)) => false,
    }
}

fn eval(e: &Expr, d: &Declaration, item: Option<&Item>, rates: &dyn CnyRates) -> bool {
    match e {
        Expr::And(v) => v.iter().all(|e| eval(e, d, item, rates)),
        Expr::Or(v) => v.iter().any(|e| eval(e, d, item, rates)),
        Expr::Not(e) => !eval(e, d, item, rates),
        Expr::Test(t) => test(t, &value(d, item, t.field, rates)),
    }
}

fn within(offices: &dyn OfficeHierarchy, office: OfficeCode, scope: OfficeCode) -> bool {
    let mut cur = Some(office);
    for _ in 0..8 {
        match cur {
            Some(c) if c == scope => return true,
            Some(c) => cur = offices.parent(c),
            None => return false,
        }
    }
    false
}

/// The version of a rule in force on `day`: the highest version whose validity covers it.
fn in_force<'r>(set: &'r RuleSet, r: &'r Rule, day: NaiveDate) -> bool {
    r.valid_on(day)
        && !set
            .rules()
            .iter()
            .any(|o| o.id == r.id && o.version > r.version && o.valid_on(day))
}

/// The rules that fire, as `(id, version, item number of the first item it fired on)`, in
/// (id, version) order.
pub fn fired(
    set: &RuleSet,
    d: &Declaration,
    today: NaiveDate,
    offices: &dyn OfficeHierarchy,
    rates: &dyn CnyRates,
) -> Vec<(String, u32, Option<u16>)> {
    let mut out = Vec::new();
    for r in set.rules() {
        if !in_force(set, r, today) || !within(offices, d.declaration_office, r.office) {
            continue;
        }
        let items = r.when.fields().iter().any(|f| f.level() == Level::Item);
        if items {
            if let Some(it) = d.items.iter().find(|it| eval(&r.when, d, Some(it), rates)) {
                out.push((r.id.clone(), r.version, Some(it.item_no)));
            }
        } else if eval(&r.when, d, None, rates) {
            out.push((r.id.clone(), r.version, None));
        }
    }
    out
}
