//! Fixture-driven cases: every `tests/cases/*.json` file is one case run through [`check`].
//! A case names its tariff lines, rates, policy changes and a short declaration, and what the
//! assessment must show (or the error it must fail with). See tests/cases/README.md.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use common::{d, dec, DeclarationFixture, QuotaFixture, TariffFixture, TestReference};
use domain::money::Fen;
use tax::{
    assess, Assessment, DayKind, EcommerceBuyer, EcommerceHistory, Purchase, RateTable, Regime,
    TaxContext, TaxKind, TaxPolicy, TradeRemedyTable, TradingCalendar,
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    description: String,
    tariff: Vec<TariffFixture>,
    /// Tariff-quota rates (关税配额).
    #[serde(default)]
    quotas: Vec<QuotaFixture>,
    /// Rates as CSV (`currency,date,rate[,units]`); the sample table when absent.
    #[serde(default)]
    rates_csv: Option<String>,
    #[serde(default)]
    extra_holidays: Vec<String>,
    #[serde(default)]
    remedies_csv: Option<String>,
    #[serde(default)]
    policy: PolicyPatch,
    #[serde(default)]
    ecommerce: Option<EcommerceFixture>,
    #[serde(default)]
    tax_date: Option<String>,
    declaration: DeclarationFixture,
    expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PolicyPatch {
    #[serde(default)]
    general_rate_origins: Option<Vec<String>>,
    #[serde(default)]
    per_unit_freight_basis: Option<tax::policy::PerUnitFreightBasis>,
    #[serde(default)]
    levy_natures: Option<BTreeMap<String, tax::Relief>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EcommerceFixture {
    person_id: String,
    #[serde(default)]
    history: Vec<Purchase>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    /// Substring of the error message; when present nothing else is checked.
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    customs_value: Option<String>,
    /// Payable amount of every notice (all notices must be listed).
    #[serde(default)]
    notices: Option<BTreeMap<String, String>>,
    /// Kinds whose notice is waived by the de minimis rule.
    #[serde(default)]
    waived: Vec<String>,
    #[serde(default)]
    total: Option<String>,
    #[serde(default)]
    items: Vec<ItemExpect>,
    #[serde(default)]
    within_limits: Option<bool>,
    /// Rule codes that must appear among the steps.
    #[serde(default)]
    rules: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemExpect {
    item_no: u16,
    #[serde(default)]
    customs_value: Option<String>,
    #[serde(default)]
    duty_measure: Option<String>,
    /// Payable per kind for this item.
    #[serde(default)]
    taxes: BTreeMap<String, String>,
}

fn kind_name(k: TaxKind) -> String {
    serde_json::to_value(k)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn fen(s: &str) -> Fen {
    Fen::round_yuan(dec(s)).unwrap()
}

fn run(case: &Case) -> Result<Assessment, tax::TaxError> {
    let reference = TestReference {
        lines: case.tariff.iter().map(TariffFixture::line).collect(),
        quotas: case.quotas.iter().map(QuotaFixture::quota).collect(),
    };
    let rates = match &case.rates_csv {
        Some(csv) => RateTable::parse_csv(csv).expect("fixture rates parse"),
        None => RateTable::sample(),
    };
    let mut calendar = TradingCalendar::china();
    for h in &case.extra_holidays {
        calendar.insert(d(h), DayKind::Statutory);
    }
    let remedies = match &case.remedies_csv {
        Some(csv) => TradeRemedyTable::parse_csv(csv).expect("fixture remedies parse"),
        None => TradeRemedyTable::default(),
    };
    let mut policy = TaxPolicy::default();
    if let Some(o) = &case.policy.general_rate_origins {
        policy.general_rate_origins = o.clone();
    }
    if let Some(b) = case.policy.per_unit_freight_basis {
        policy.per_unit_freight_basis = b;
    }
    if let Some(l) = &case.policy.levy_natures {
        policy.levy_natures.extend(l.clone());
    }
    let history;
    let buyer = match &case.ecommerce {
        Some(e) => {
            history = EcommerceHistory {
                purchases: e.history.clone(),
            };
            Some(EcommerceBuyer {
                person_id: &e.person_id,
                history: &history,
            })
        }
        None => None,
    };
    let ctx = TaxContext {
        reference: &reference,
        rates: &rates,
        calendar: &calendar,
        remedies: &remedies,
        policy: &policy,
        tax_date: case.tax_date.as_deref().map(d),
        ecommerce_buyer: buyer,
    };
    assess(&case.declaration.declaration(), &ctx)
}

/// Run one case; return every mismatch.
fn check(case: &Case) -> Vec<String> {
    let mut bad = Vec::new();
    let e = &case.expect;
    let result = run(case);
    let a = match (result, &e.error) {
        (Err(err), Some(want)) => {
            if !err.to_string().contains(want.as_str()) {
                bad.push(format!("error {err:?} does not contain {want:?}"));
            }
            return bad;
        }
        (Err(err), None) => return vec![format!("unexpected error: {err}")],
        (Ok(_), Some(want)) => return vec![format!("expected an error containing {want:?}")],
        (Ok(a), None) => a,
    };
    if let Some(v) = &e.customs_value {
        if a.customs_value_total_fen != fen(v) {
            bad.push(format!(
                "customs value {} != {v}",
                a.customs_value_total_fen
            ));
        }
    }
    if let Some(want) = &e.notices {
        let got: BTreeMap<String, String> = a
            .notices
            .iter()
            .map(|n| (kind_name(n.kind), n.payable_fen.to_string()))
            .collect();
        let want: BTreeMap<String, String> = want
            .iter()
            .map(|(k, v)| (k.clone(), fen(v).to_string()))
            .collect();
        if got != want {
            bad.push(format!("notices {got:?} != {want:?}"));
        }
    }
    let waived: Vec<String> = a
        .notices
        .iter()
        .filter(|n| n.waived.is_some())
        .map(|n| kind_name(n.kind))
        .collect();
    if waived != e.waived {
        bad.push(format!("waived {waived:?} != {:?}", e.waived));
    }
    if let Some(t) = &e.total {
        if a.total_payable_fen != fen(t) {
            bad.push(format!("total {} != {t}", a.total_payable_fen));
        }
    }
    for want in &e.items {
        let Some(item) = a.items.iter().find(|i| i.item_no == want.item_no) else {
            bad.push(format!("no item {}", want.item_no));
            continue;
        };
        if let Some(v) = &want.customs_value {
            if item.customs_value_fen != fen(v) {
                bad.push(format!(
                    "item {} customs value {} != {v}",
                    item.item_no, item.customs_value_fen
                ));
            }
        }
        if let Some(m) = &want.duty_measure {
            let got = item
                .measures
                .iter()
                .find(|x| x.kind == TaxKind::Duty)
                .map(|x| x.measure.clone());
            if got.as_deref() != Some(m.as_str()) {
                bad.push(format!("item {} duty measure {got:?} != {m}", item.item_no));
            }
        }
        for (kind, v) in &want.taxes {
            let got = item
                .taxes
                .iter()
                .find(|t| &kind_name(t.kind) == kind)
                .map(|t| t.payable_fen);
            if got != Some(fen(v)) {
                bad.push(format!("item {} {kind} {got:?} != {v}", item.item_no));
            }
        }
    }
    if let Some(w) = e.within_limits {
        match &a.regime {
            Regime::CrossBorderEcommerce { within_limits, .. } if *within_limits == w => {}
            other => bad.push(format!(
                "regime {other:?}, expected e-commerce within_limits = {w}"
            )),
        }
    }
    let rules: Vec<&str> = a
        .header_steps
        .iter()
        .chain(a.items.iter().flat_map(|i| i.steps.iter()))
        .map(|s| s.rule)
        .collect();
    for r in &e.rules {
        if !rules.contains(&r.as_str()) {
            bad.push(format!("no step with rule {r}"));
        }
    }
    // Every assessment also renders and serializes.
    assert!(a.render_text().contains("Total payable"));
    assert!(a.to_json().contains("\"notices\""));
    bad
}

#[test]
// The cases are fixture files; the library itself never touches files (clippy.toml).
#[allow(clippy::disallowed_methods)]
fn fixture_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 40,
        "expected the full set of cases, found {}",
        paths.len()
    );
    let mut failures = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path).unwrap();
        let case: Case = match serde_json::from_str(&text) {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{}: bad fixture: {e}", path.display()));
                continue;
            }
        };
        assert!(!case.description.is_empty());
        for problem in check(&case) {
            failures.push(format!(
                "{}: {problem}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} problems:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
