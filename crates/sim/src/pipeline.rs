//! The in-memory pipeline, as the service runs it on every filing but without storage: parse
//! (`domain::validate::parse_form`), validate against the reference data, decide the lane with
//! the risk engine (rules, watch lists, price references, sampling), assess the taxes.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::NaiveDate;
use clearance::{CreditClass, EnterpriseFacts, Lane};
use domain::codes::{CurrencyCode, DeclarationNo, Uscc};
use domain::money::Fen;
use refdata::RefData;
use risk::{CompiledRules, DecisionInput, ReferenceOffices, RiskPolicy, RiskState, Source};
use rust_decimal::Decimal;
use tax::{
    EcommerceBuyer, EcommerceHistory, RateTable, TaxContext, TaxPolicy, TradeRemedyTable,
    TradingCalendar,
};

use crate::gen::Rates;
use crate::rules;
use crate::world::World;

/// What one declaration came to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub valid: bool,
    pub lane: Option<Lane>,
    pub suspend: bool,
    /// Ids of the rules that fired.
    pub rules: Vec<String>,
    pub price_flag: bool,
    pub watch_hit: bool,
    pub sampled: bool,
    pub revenue_fen: i64,
    pub tax_error: bool,
    /// Refused when filed (over HTTP: a 422, by validation, the licence ledger or cargo
    /// control); `lane` is then `None`.
    pub refused_at_filing: bool,
}

pub struct Pipeline {
    pub refdata: Arc<RefData>,
    pub risk: Arc<RiskState>,
    pub cny: HashMap<CurrencyCode, Decimal>,
    pub tax_rates: RateTable,
    pub calendar: TradingCalendar,
    pub remedies: TradeRemedyTable,
    pub tax_policy: TaxPolicy,
    pub facts: HashMap<Uscc, EnterpriseFacts>,
    pub day: NaiveDate,
    history: EcommerceHistory,
    /// Sizes, for the report.
    pub rules_count: usize,
    pub price_keys: usize,
    pub watch_entries: usize,
}

impl Pipeline {
    /// The analysts' knowledge for `world`: `rules` rules, watch lists, and price references
    /// from `warmup` earlier declarations.
    pub fn new(
        world: &World,
        rates: &Rates,
        refdata: Arc<RefData>,
        rules_count: usize,
        warmup: u64,
    ) -> Pipeline {
        let set = rules::rule_set(world, rules_count);
        let compiled = CompiledRules::compile(&set, world.day);
        let watch = rules::watch_lists(world);
        let prices = rules::price_references(world, rates, &refdata, warmup);
        let (price_keys, watch_entries) = (prices.len(), watch.entries().len());
        let risk = RiskState {
            rules: Arc::new(compiled),
            watch: Arc::new(watch),
            prices: Arc::new(prices),
            policy: Arc::new(RiskPolicy::default()),
        };
        let facts = world
            .enterprises
            .iter()
            .map(|e| {
                (
                    e.uscc,
                    EnterpriseFacts {
                        credit_class: e.credit,
                        discrepancies_last_year: u32::from(e.credit == CreditClass::Discredited)
                            * 3,
                    },
                )
            })
            .collect();
        Pipeline {
            refdata,
            risk: Arc::new(risk),
            cny: world.rates.clone(),
            tax_rates: RateTable::sample(),
            calendar: TradingCalendar::china(),
            remedies: TradeRemedyTable::sample(),
            tax_policy: TaxPolicy::default(),
            facts,
            day: world.day,
            history: EcommerceHistory::default(),
            rules_count: set.len(),
            price_keys,
            watch_entries,
        }
    }

    pub fn facts(&self, uscc: &Uscc) -> EnterpriseFacts {
        self.facts.get(uscc).cloned().unwrap_or(EnterpriseFacts {
            credit_class: CreditClass::General,
            discrepancies_last_year: 0,
        })
    }

    /// Parse, validate, decide, assess one declaration. `serial` numbers it (1-based), which
    /// is what the sampling draw hashes.
    pub fn process(&self, json: &[u8], serial: u32) -> Outcome {
        let Ok(decl) = domain::validate::validate_json(json, &*self.refdata) else {
            return Outcome::default();
        };
        let no = DeclarationNo::new(decl.declaration_office, 2025, decl.direction, serial)
            .expect("serials of a day fit");
        let facts = self.facts(&decl.trader.uscc);
        let d = self.risk.decide(&DecisionInput {
            declaration: &decl,
            declaration_no: &no,
            enterprise: &facts,
            today: self.day,
            offices: &ReferenceOffices(&*self.refdata),
            rates: &self.cny,
        });
        let person = decl
            .buyer
            .as_ref()
            .map_or_else(|| decl.trader.uscc.as_str().to_owned(), |b| b.person_id());
        let ctx = TaxContext {
            reference: &*self.refdata,
            rates: &self.tax_rates,
            calendar: &self.calendar,
            remedies: &self.remedies,
            policy: &self.tax_policy,
            tax_date: None,
            ecommerce_buyer: Some(EcommerceBuyer {
                person_id: &person,
                history: &self.history,
            }),
        };
        let (revenue_fen, tax_error) = match tax::assess(&decl, &ctx) {
            Ok(a) => (a.total_payable_fen.0, false),
            Err(_) => (Fen::ZERO.0, true),
        };
        Outcome {
            valid: true,
            lane: Some(d.lane),
            suspend: d.suspend,
            rules: d
                .explanation
                .rules_fired
                .iter()
                .map(|r| r.id.clone())
                .collect(),
            price_flag: d.reasons.iter().any(|r| r.source == Source::PriceCheck)
                || !d.explanation.price_findings.is_empty(),
            watch_hit: !d.explanation.watch_hits.is_empty(),
            sampled: d.sampled(),
            revenue_fen,
            tax_error,
            refused_at_filing: false,
        }
    }

    /// Parsing alone (the reference of the pipeline benchmark).
    pub fn parse_only(json: &[u8]) -> bool {
        domain::validate::parse_form(json).is_ok()
    }
}
